#!/bin/sh
# replay.sh - replays each fuzz target's corpus without libFuzzer:
#   sh tests/fuzz/replay.sh BUILD [TARGET...]
# runs BUILD/fuzz-replay/fuzz_<t> over tests/fuzz/corpus/<t> and ends with
# "fuzz-replay: N passed, N failed" over all targets.  A target that aborts
# (a finding) counts its input as failed, and the rest of its corpus is not
# run; the other targets still are.
BUILD=${1:-build}
[ $# -gt 0 ] && shift
[ $# -eq 0 ] && set -- pcap pcapng decode query offsets rollup zstd flow
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
OUT=$(mktemp) || exit 2
trap 'rm -f "$OUT"' EXIT
P=0 F=0

for t in "$@"; do
    "$BUILD/fuzz-replay/fuzz_$t" "tests/fuzz/corpus/$t" >"$OUT" 2>&1
    rc=$?
    grep '^ok ' "$OUT"
    line=$(grep -E '^fuzz-replay: [0-9]+ passed, [0-9]+ failed' "$OUT" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^fuzz-replay: \([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    if [ -z "$line" ]; then
        # Aborted: what it printed says which input and why.
        grep -v '^ok ' "$OUT" | tail -n 40
        echo "not ok fuzz_$t: exit $rc"
        p=$(grep -c '^ok ' "$OUT")
        f=1
    elif [ "$rc" -ne 0 ]; then
        grep -v '^ok ' "$OUT" | grep -v '^fuzz-replay:' | tail -n 20
        [ "$f" -eq 0 ] && f=1
    fi
    echo "fuzz_$t: $p passed, $f failed"
    P=$((P + p))
    F=$((F + f))
done
echo "fuzz-replay: $P passed, $F failed"
[ "$F" -eq 0 ]
