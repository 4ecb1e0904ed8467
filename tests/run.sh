#!/bin/sh
# run.sh - what "make check" runs: the unit tests, the CLI tests, and the
# corpus tests against tshark's oracle; then one line with the totals.
# Each suite ends with a line "NAME: N passed, N failed[, N skipped]".
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
P=0 F=0 S=0

suite() {
    name=$1
    shift
    echo "== $name"
    t0=$(date +%s)
    "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    echo "   ($(( $(date +%s) - t0 )) s)"
    grep -v '^ok ' "$OUT/$name.log" | tail -n 60
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$OUT/$name.log" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) failed.*/\1/p')
    s=$(echo "$line" | sed -n 's/.*\b\([0-9][0-9]*\) skipped.*/\1/p')
    if [ -z "$p" ]; then
        echo "$name: no result line (exit $rc)"
        p=0
        f=1
    elif [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        echo "$name: exit $rc with no failed test"
        f=1
    fi
    P=$((P + p))
    F=$((F + ${f:-0}))
    S=$((S + ${s:-0}))
}

suite unit "$BUILD/unit"
suite cli sh tests/cli.sh "$BUILD"
suite jobs sh tests/jobs.sh "$BUILD"
suite query sh tests/cli_query.sh "$BUILD"
[ -f tests/check_offsets.py ] && suite offsets python3 tests/check_offsets.py --capwalk "$BUILD/tools/capwalk"
[ -f tests/check_decode.py ] && suite decode python3 tests/check_decode.py --decwalk "$BUILD/tools/decwalk"
suite fuzz sh tests/fuzz/replay.sh "$BUILD"
suite corpus python3 tests/check_corpus.py "$BUILD/pcapdex"
suite malformed sh tests/check_malformed.sh "$BUILD"
suite hostile-db python3 tests/check_hostile_db.py "$BUILD"
suite payload sh tests/check_payload.sh "$BUILD"
suite watch sh tests/watch.sh "$BUILD"
suite compressed sh tests/check_compressed.sh "$BUILD"
# Under the sanitizers every run is several times slower: fewer kills there.
suite kill sh tests/kill.sh "$BUILD" "${KILLS:-20}"
suite concurrent sh tests/concurrent.sh "$BUILD"
suite resources sh tests/resources.sh "$BUILD"

echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
