#!/bin/sh
# kill.sh - pcapdex index killed with SIGKILL at random moments over a rotated
# capture set: every time the index must pass integrity_check, hold no
# half-indexed capture, and a re-run must end with exactly the flows, IDs and
# offsets of an uninterrupted run.  SIGTERM must roll back cleanly (exit 130).
# Usage: tests/kill.sh BUILD_DIR [KILLS].  Ends with "kill: N passed, N failed".
BUILD=${1:-build}
KILLS=${2:-20}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"
SURVIVED=0

"$GEN" traffic -o "$T/all.pcap" --packets 300000 --concurrent 1000 --seed 11 >/dev/null 2>&1
"$GEN" split "$T/all.pcap" -o "$T/rot" --count 50000 >/dev/null 2>&1
rm -f "$T/all.pcap"
set -- "$T"/rot*.pcap
[ $# -ge 5 ] && ok rotated_set || bad rotated_set "$# files"

state() {
    q "$1" "SELECT id, proto, hex(src_ip), src_port, hex(dst_ip), dst_port, first_ns, last_ns,
            src_packets, src_bytes, dst_packets, dst_bytes, end_reason, state FROM flows ORDER BY id"
    "$PDX" packets --db "$1" --all | md5sum
}

"$PDX" index -q --db "$T/ref.db" "$@"
state "$T/ref.db" >"$T/ref.state"
START=$(date +%s%N)
"$PDX" index -q --db "$T/time.db" "$@"
MS=$((($(date +%s%N) - START) / 1000000))
rm -f "$T/time.db"*

i=0
seed=12345
while [ $i -lt "$KILLS" ]; do
    i=$((i + 1))
    seed=$(((seed * 1103515245 + 12345) % 2147483648))
    delay=$((seed % (MS + 20)))
    db="$T/k$i.db"
    # Kill once or twice before the run that is allowed to finish.
    "$PDX" index -q --db "$db" "$@" &
    pid=$!
    sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # Killed before the schema was committed, the file holds no table yet.
    if [ -f "$db" ] && [ "$(q "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'captures'")" = 1 ]; then
        ic=$(q "$db" "PRAGMA integrity_check" 2>&1)
        half=$(q "$db" "SELECT count(*) FROM captures c WHERE status NOT IN ('complete', 'damaged')
               OR packets <> (SELECT coalesce(sum(count), 0) FROM packets p WHERE p.capture_id = c.id)" 2>&1)
        if [ "$ic" != "ok" ] || [ "$half" != "0" ]; then
            bad "kill_$i" "after kill at ${delay} ms: integrity '$ic', half-indexed '$half'"
            continue
        fi
    fi
    "$PDX" index -q --db "$db" "$@"
    rc=$?
    state "$db" >"$T/k.state"
    if [ "$rc" -eq 0 ] && cmp -s "$T/ref.state" "$T/k.state"; then
        SURVIVED=$((SURVIVED + 1))
        ok "kill_$i"
    else
        bad "kill_$i" "killed at ${delay} ms, re-run exit $rc, state differs from an uninterrupted run"
    fi
    rm -f "$db" "$db-wal" "$db-shm"
done
echo "kill: survived $SURVIVED of $KILLS kills (run takes ${MS} ms)"

# SIGTERM: roll back the capture being read, exit 130, resume cleanly.
"$PDX" index -q --db "$T/term.db" "$@" &
pid=$!
sleep "$(awk -v d="$MS" 'BEGIN { printf "%.3f", d / 2000 }')"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || [ "$rc" -eq 0 ] && ok sigterm_exit || bad sigterm_exit "exit $rc"
"$PDX" index -q --db "$T/term.db" "$@"
state "$T/term.db" >"$T/t.state"
cmp -s "$T/ref.state" "$T/t.state" && ok sigterm_resume || bad sigterm_resume "state differs"

finish kill
