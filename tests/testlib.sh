# testlib.sh - what the shell test scripts share: a scratch directory $T
# (removed on exit), pass/fail counting, and small assertions.  Source it
# after setting TOP and BUILD; it sets PDX and GEN.  A script ends with
# "NAME: $PASS passed, $FAIL failed" (see finish).
PDX="$TOP/$BUILD/pcapdex"
GEN="$TOP/$BUILD/pcapgen"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PASS=0 FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1: $2"; }

# expect NAME CODE CMD...: runs CMD, checks its exit code; output in $T/out, $T/err.
expect() {
    name=$1 code=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -eq "$code" ]; then ok "$name"; else bad "$name" "exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}

# has NAME FILE PATTERN: FILE contains PATTERN (grep -E).
has() {
    if grep -Eq -- "$3" "$2"; then ok "$1"; else bad "$1" "no /$3/ in: $(head -c 300 "$2")"; fi
}

# hasnt NAME FILE PATTERN: FILE does not contain PATTERN.
hasnt() {
    if grep -Eq -- "$3" "$2"; then bad "$1" "/$3/ found in: $(head -c 300 "$2")"; else ok "$1"; fi
}

# same NAME A B: the two strings are equal.
same() {
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "'$2' != '$3'"; fi
}

q() { sqlite3 "$1" "$2"; }

# finish NAME [SKIPPED]: the result line, and the exit status.
finish() {
    if [ -n "${2:-}" ]; then
        echo "$1: $PASS passed, $FAIL failed, $2 skipped"
    else
        echo "$1: $PASS passed, $FAIL failed"
    fi
    [ "$FAIL" -eq 0 ]
    exit
}
