#!/bin/sh
# concurrent.sh - readers while an ingest writes: queries, carves and raw
# sqlite3 reads run against the index while "pcapdex index" commits capture
# after capture.  Every read must see whole captures only (WAL snapshots),
# counts that add up, and carves of committed flows must succeed.
# Usage: tests/concurrent.sh BUILD_DIR.  Ends with "concurrent: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"

"$GEN" traffic -o "$T/all.pcap" --packets 240000 --concurrent 800 --seed 21 >/dev/null 2>&1
"$GEN" split "$T/all.pcap" -o "$T/rot" --count 30000 >/dev/null 2>&1
rm -f "$T/all.pcap"
"$PDX" index -q --db "$T/ref.db" "$T"/rot*.pcap
REFQ=$("$PDX" query --db "$T/ref.db" --count)

"$PDX" index -q --db "$T/w.db" "$T"/rot*.pcap &
pid=$!
reads=0 badsnap=0 badq=0 badc=0 carves=0
while kill -0 "$pid" 2>/dev/null; do
    [ -f "$T/w.db" ] || continue
    # One snapshot: no capture half-indexed, and its packets all stored.
    s=$(sqlite3 "$T/w.db" "SELECT (SELECT count(*) FROM captures WHERE status NOT IN ('complete', 'damaged'))
                           || ' ' || (SELECT coalesce(sum(packets), 0) FROM captures)
                           || ' ' || (SELECT coalesce(sum(count), 0) FROM packets)" 2>/dev/null) || continue
    set -- $s
    [ "$#" -eq 3 ] || continue
    reads=$((reads + 1))
    if [ "$1" != 0 ] || [ "$2" != "$3" ]; then badsnap=$((badsnap + 1)); fi
    "$PDX" query --db "$T/w.db" --count >/dev/null 2>"$T/qerr"
    rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || badq=$((badq + 1))
    # A flow whose every capture is committed carves.
    id=$(sqlite3 "$T/w.db" "SELECT id FROM flows WHERE end_reason <> 'open' ORDER BY id DESC LIMIT 1" 2>/dev/null)
    if [ -n "$id" ]; then
        "$PDX" carve -q --db "$T/w.db" "$id" -o "$T/c.pcap" 2>>"$T/cerr" || badc=$((badc + 1))
        carves=$((carves + 1))
    fi
done
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] && ok ingest_finished || bad ingest_finished "exit $rc"
[ "$reads" -ge 3 ] && ok reads_during_ingest || bad reads_during_ingest "only $reads reads while it ran"
[ "$badsnap" -eq 0 ] && ok snapshots_whole || bad snapshots_whole "$badsnap of $reads reads saw a half-indexed capture"
[ "$badq" -eq 0 ] && ok queries_during_ingest || bad queries_during_ingest "$badq failed: $(head -c 200 "$T/qerr")"
[ "$badc" -eq 0 ] && ok carves_during_ingest || bad carves_during_ingest "$badc of $carves failed: $(head -c 300 "$T/cerr")"
same final_count "$("$PDX" query --db "$T/w.db" --count)" "$REFQ"
echo "concurrent: $reads reads and $carves carves during the ingest"
finish concurrent
