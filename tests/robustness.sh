#!/bin/sh
# robustness.sh - "make robustness": the whole corpus, damaged and fuzzed
# files included, indexed and carved under ASan and UBSan; every defect the
# generator makes; SIGKILL at random moments; and a fuzzing run of every
# target.  Prints a report: captures tried, kills survived, fuzzing time and
# executions per target, findings.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
ASAN=build/asan
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
KILLS=${KILLS:-40}
SAN="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
make -s -j2 BUILD=$ASAN CFLAGS="$SAN" all "$ASAN/unit" >/dev/null || exit 2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
python3 tests/check_corpus.py "$ASAN/pcapdex" >"$OUT/corpus" 2>&1
sh tests/check_malformed.sh "$ASAN" >"$OUT/malformed" 2>&1
sh tests/kill.sh "$ASAN" "$KILLS" >"$OUT/kill" 2>&1
make -s fuzz FUZZ_SECONDS="$FUZZ_SECONDS" >"$OUT/fuzz" 2>&1
fuzz_rc=$?
echo "robustness report"
echo "  corpus under ASan+UBSan:  $(tail -n 1 "$OUT/corpus")"
grep '^FAIL' "$OUT/corpus" | head -n 10 | sed 's/^/    /'
echo "  generated defects:        $(tail -n 1 "$OUT/malformed")"
echo "  SIGKILL mid-ingest:       $(grep '^kill: survived' "$OUT/kill")"
echo "                            $(tail -n 1 "$OUT/kill")"
echo "  fuzzing (${FUZZ_SECONDS} s per target):"
echo "    target   seconds   executions   per second   findings"
grep -E '^ *(pcap|pcapng|decode|query|offsets)[: ]' "$OUT/fuzz" | sed 's/^/    /'
[ "$fuzz_rc" -eq 0 ] && echo "    findings: none" || { echo "    findings:"; tail -n 20 "$OUT/fuzz" | sed 's/^/    /'; }
grep -q ' 0 failed' "$OUT/corpus" && grep -q ' 0 failed' "$OUT/malformed" &&
    grep -q ' 0 failed' "$OUT/kill" && [ "$fuzz_rc" -eq 0 ]
