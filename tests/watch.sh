#!/bin/sh
# watch.sh - "pcapdex index --watch DIR": picks up captures written while it
# runs (a rotated set copied in one file at a time), continues flows across
# them, ends cleanly on SIGTERM, and a restart resumes without indexing
# anything twice; a capture that grows after it was indexed has its new
# packets indexed into it, one written over with others is reported.
# Usage: tests/watch.sh BUILD_DIR.  Ends with "watch: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT
flows() { q "$1" "SELECT id, proto, hex(src_ip), src_port, hex(dst_ip), dst_port, first_ns, last_ns,
                  src_packets, src_bytes, dst_packets, dst_bytes, end_reason, state FROM flows ORDER BY id"; }

"$GEN" traffic -o "$T/all.pcap" --packets 40000 --concurrent 300 --seed 9 >/dev/null 2>&1
mkdir -p "$T/src" "$T/spool"
"$GEN" split "$T/all.pcap" -o "$T/src/cap-" --count 8000 >/dev/null 2>&1
"$PDX" index -q --db "$T/ref.db" "$T"/src/cap-*.pcap

"$PDX" index --db "$T/w.db" --watch "$T/spool" --settle 1 2>"$T/log" &
pid=$!
sleep 0.5
for f in "$T"/src/cap-*.pcap; do
    # Written under another name and renamed, as capture tools finish a file.
    cp "$f" "$T/spool/.tmp"
    mv "$T/spool/.tmp" "$T/spool/$(basename "$f")"
    sleep 0.4
done
N=$(ls "$T"/src/cap-*.pcap | wc -l)
i=0
while [ $i -lt 50 ]; do
    [ "$(q "$T/w.db" "SELECT count(*) FROM captures" 2>/dev/null)" = "$N" ] && break
    sleep 0.2
    i=$((i + 1))
done
same=$(q "$T/w.db" "SELECT count(*) FROM captures" 2>/dev/null)
[ "$same" = "$N" ] && ok watch_indexed_all || bad watch_indexed_all "$same of $N captures"
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] && ok watch_sigterm_clean || bad watch_sigterm_clean "exit $rc"
grep -q "indexed .*cap-000.pcap" "$T/log" && ok watch_status_lines || bad watch_status_lines "$(head -c 300 "$T/log")"
[ "$(flows "$T/w.db")" = "$(flows "$T/ref.db")" ] && ok watch_same_flows_as_one_run || bad watch_same_flows_as_one_run "differ"
[ "$(q "$T/w.db" "PRAGMA integrity_check")" = ok ] && ok watch_integrity || bad watch_integrity "not ok"
# A restart resumes: nothing indexed twice, the same flows.
"$PDX" index --db "$T/w.db" --watch "$T/spool" --settle 1 2>"$T/log2" &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] && ok watch_restart_clean || bad watch_restart_clean "exit $rc"
[ "$(q "$T/w.db" "SELECT count(*) FROM captures")" = "$N" ] && ok watch_restart_no_duplicates || bad watch_restart_no_duplicates "captures changed"
[ "$(flows "$T/w.db")" = "$(flows "$T/ref.db")" ] && ok watch_restart_same_flows || bad watch_restart_same_flows "differ"
# A capture that grows after this run indexed it has its new packets indexed
# into it; one then written over with other packets is reported, not indexed
# again.
"$GEN" traffic -o "$T/late.pcap" --packets 100 --seed 2 --start 1800000000 >/dev/null 2>&1
"$GEN" traffic -o "$T/more.pcap" --packets 100 --seed 3 --start 1800001000 >/dev/null 2>&1
"$PDX" index --db "$T/w.db" --watch "$T/spool" --settle 1 2>"$T/log3" &
pid=$!
sleep 0.5
cp "$T/late.pcap" "$T/spool/late.pcap"
i=0
while [ $i -lt 25 ] && ! grep -q "indexed .*late.pcap" "$T/log3"; do
    sleep 0.2
    i=$((i + 1))
done
tail -c +25 "$T/more.pcap" >>"$T/spool/late.pcap"
i=0
while [ $i -lt 25 ] && ! grep -q "late.pcap: grew since it was indexed" "$T/log3"; do
    sleep 0.2
    i=$((i + 1))
done
# Written over with other packets (not a ring: no --ring): reported.
"$GEN" traffic -o "$T/spool/.other" --packets 50 --seed 4 --start 1800002000 >/dev/null 2>&1
mv "$T/spool/.other" "$T/spool/late.pcap"
i=0
while [ $i -lt 25 ] && ! grep -q "changed since it was indexed" "$T/log3"; do
    sleep 0.2
    i=$((i + 1))
done
kill -TERM "$pid"
wait "$pid"
pid=""
has watch_grown_resumed "$T/log3" "late.pcap: grew since it was indexed: its 100 new packets are indexed into capture $((N + 1))"
same watch_grown_packets "$(q "$T/w.db" "SELECT packets FROM captures WHERE id = $((N + 1))")" 200
has watch_changed_reported "$T/log3" "late.pcap: changed since it was indexed"
[ "$(q "$T/w.db" "SELECT count(*) FROM captures")" = "$((N + 1))" ] && ok watch_changed_not_reindexed || bad watch_changed_not_reindexed "$(q "$T/w.db" "SELECT count(*) FROM captures") captures"
finish watch
