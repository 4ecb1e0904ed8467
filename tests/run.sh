#!/bin/sh
# run.sh - what "make check" runs: the unit tests, the CLI tests, and the
# corpus tests against tshark's oracle; then one line with the totals.
# Each suite ends with a line "NAME: N passed, N failed[, N skipped]".
#
# Suites that use one core and do not depend on timing run two at a time
# (the machine has two cores; the corpus suites use both on their own); the
# ones that race an ingest against a signal, a reader or a clock (jobs,
# watch, kill, concurrent, resources) run alone.  The report keeps this
# file's order either way.
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
P=0 F=0 S=0

# run NAME CMD...: runs a suite into $OUT/NAME.log, its exit status and
# seconds into $OUT/NAME.rc and $OUT/NAME.time.
run() {
    _name=$1
    shift
    _t0=$(date +%s)
    "$@" >"$OUT/$_name.log" 2>&1
    echo $? >"$OUT/$_name.rc"
    echo $(($(date +%s) - _t0)) >"$OUT/$_name.time"
}

# report NAME: prints a suite's result and adds it to the totals.
report() {
    name=$1
    rc=$(cat "$OUT/$name.rc")
    echo "== $name"
    echo "   ($(cat "$OUT/$name.time") s)"
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

# suite NAME CMD...: one suite, alone.
suite() {
    run "$@"
    report "$1"
}

# Two lanes of single-core suites, side by side.
# Many of these suites run pcapdex with its default --jobs, so a lane can
# keep more than one core busy: moving suites from the first lane to the
# second made both lanes slower (about 170 s each under the sanitizers,
# against 141 s for the first lane as it is).
lane1() {
    run unit "$BUILD/unit"
    run cli sh tests/cli.sh "$BUILD"
    run malformed sh tests/check_malformed.sh "$BUILD"
    run errors sh tests/cli_errors.sh "$BUILD"
    run payload sh tests/check_payload.sh "$BUILD"
    run compressed sh tests/check_compressed.sh "$BUILD"
    run fuzz sh tests/fuzz/replay.sh "$BUILD"
    run hostile-db python3 tests/check_hostile_db.py "$BUILD"
}
lane2() {
    run query sh tests/cli_query.sh "$BUILD"
    run ring sh tests/ring.sh "$BUILD"
    run grow sh tests/grow.sh "$BUILD"
}
lane1 &
l1=$!
lane2
wait "$l1"
for name in unit cli query ring grow malformed hostile-db errors payload compressed fuzz; do
    report "$name"
done

# The reader's offsets and the decoder's fields are compared with the oracle
# in the plain build.  Under the sanitizers these two suites would start an
# instrumented process per capture (about 3 minutes of CI) only to run the
# same reader and decoder again: the corpus suite's index runs already read
# and decode every record of every capture, damaged ones included, under
# ASan and UBSan.
if [ -n "${SANITIZED:-}" ]; then
    echo "== offsets, decode: run in the plain build (the corpus suite reads and decodes every capture here)"
else
    suite offsets python3 tests/check_offsets.py --capwalk "$BUILD/tools/capwalk"
    suite decode python3 tests/check_decode.py --decwalk "$BUILD/tools/decwalk"
fi
# PLAIN_PDX (from make check-asan): the plain build, which lists the stored
# offsets that the sanitized index run wrote (see check_corpus.py).
suite corpus python3 tests/check_corpus.py ${PLAIN_PDX:+--packets "$PLAIN_PDX"} "$BUILD/pcapdex"
suite jobs sh tests/jobs.sh "$BUILD"
suite watch sh tests/watch.sh "$BUILD"
# Under the sanitizers every run is several times slower: fewer kills there.
suite kill sh tests/kill.sh "$BUILD" "${KILLS:-20}"
suite concurrent sh tests/concurrent.sh "$BUILD"
suite resources sh tests/resources.sh "$BUILD"

echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
