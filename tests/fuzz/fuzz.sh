#!/bin/sh
# fuzz.sh - what "make fuzz" runs: each libFuzzer target named on the command
# line for FUZZ_SECONDS over its seed corpus, new inputs into a scratch
# directory, crashes into FUZZ_CRASHES; one line per target with time,
# executions, executions per second and findings.  Exit 1 if anything found.
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
FUZZ_WORK=${FUZZ_WORK:-$FUZZ_DIR/work}
FUZZ_CRASHES=${FUZZ_CRASHES:-$FUZZ_DIR/crashes}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
mkdir -p "$FUZZ_CRASHES" || exit 2
total=0

# Largest input per target: captures are kept small (the readers' paths do
# not depend on size past a few records; the seeds are cut to 16 KiB), a
# frame fits any header stack, a filter a few hundred terms.
max_len() {
    case $1 in
    pcap | pcapng) echo 16384 ;;
    decode) echo 4100 ;;
    query) echo 4096 ;;
    offsets) echo 8192 ;;
    rollup) echo 16384 ;;
    zstd | flow) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

printf '%-8s %6s %12s %9s %s\n' target seconds executions execs/s findings
for t in "$@"; do
    bin=$FUZZ_DIR/fuzz_$t
    log=$FUZZ_DIR/fuzz_$t.log
    mkdir -p "$FUZZ_WORK/$t"
    dict=
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    before=$(ls "$FUZZ_CRASHES" | grep -c "^$t-")
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$FUZZ_CRASHES/$t-" \
        $dict $FUZZ_FLAGS "$FUZZ_WORK/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    after=$(ls "$FUZZ_CRASHES" | grep -c "^$t-")
    found=$((after - before))
    [ "$rc" -ne 0 ] && [ "$found" -eq 0 ] && found=1 # died without an artifact
    printf '%-8s %6s %12s %9s %s\n' "$t" "$secs" "${execs:-?}" "${eps:-?}" "$found"
    if [ "$found" -ne 0 ]; then
        ls -t "$FUZZ_CRASHES" | grep "^$t-" | head -n "$found" | sed "s|^|    $FUZZ_CRASHES/|"
        grep -E 'ERROR|SUMMARY|check failed|runtime error|#[0-9]+ 0x' "$log" | head -n 12 |
            sed 's/^/    /'
        echo "    log: $log"
    fi
    total=$((total + found))
done
echo "fuzz: $total findings"
[ "$total" -eq 0 ]
