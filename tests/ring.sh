#!/bin/sh
# ring.sh - "pcapdex index --ring": a capture ring (tcpdump -W) writes its
# next round over its oldest file.  With --ring the new content is indexed
# and the old capture's row is marked replaced: the index is the one that
# indexing every round's files in order gives, its old flows stay, and carve,
# packets and verify say that the old packets are gone rather than read other
# bytes in their place.  Without --ring the change is only reported, and so
# is a file that was appended to.  Also:
# an index of schema 4 is migrated with its captures and ids kept, and
# --watch --ring follows a ring that wraps, tcpdump's own ring included;
# and --settle without --watch leaves a file still being written for later.
# Usage: tests/ring.sh BUILD_DIR.  Ends with "ring: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT
flows() { q "$1" "SELECT * FROM flows ORDER BY id"; }
segs() { q "$1" "SELECT flow_id, capture_id, seg, count, hex(offsets) FROM packets ORDER BY 1, 2, 3"; }

"$GEN" traffic -o "$T/all.pcap" --packets 6000 --concurrent 60 --seed 5 >/dev/null 2>&1
"$GEN" split "$T/all.pcap" -o "$T/part" --count 1000 >/dev/null 2>&1
# The reference: every round's file, in order, under its own name.
mkdir -p "$T/ref" "$T/ring"
cp "$T"/part00[0-4].pcap "$T/ref/"
"$PDX" index -q --db "$T/ref.db" "$T"/ref/part000.pcap "$T"/ref/part001.pcap \
    "$T"/ref/part002.pcap "$T"/ref/part003.pcap "$T"/ref/part004.pcap

# A ring of three files: rounds 0-2, then 3 over ring0 and 4 over ring1.
for i in 0 1 2; do cp "$T/part00$i.pcap" "$T/ring/ring$i"; done
expect ring_first_round 0 "$PDX" index -q --db "$T/r.db" "$T/ring"
cp "$T/part003.pcap" "$T/ring/ring0"
expect ring_without_flag_reports 5 "$PDX" index --db "$T/r.db" "$T/ring"
has ring_without_flag_warning "$T/err" "ring0: changed since it was indexed"
same ring_without_flag_not_indexed "$(q "$T/r.db" "SELECT count(*) FROM captures")" 3
expect ring_indexes_new_round 0 "$PDX" index --ring --db "$T/r.db" "$T/ring"
has ring_note "$T/err" "ring0: overwritten since it was indexed: indexed its new content; capture 1 keeps its flows"
cp "$T/part004.pcap" "$T/ring/ring1"
expect ring_json 0 "$PDX" index --ring --json --db "$T/r.db" "$T/ring"
has ring_json_counts "$T/out" '"captures_indexed":1,.*"captures_changed":0,.*"captures_replaced":1,'
same ring_rows "$(q "$T/r.db" "SELECT group_concat(id || ':' || replace(path, '$T/', '') || ':' || (replaced_ns IS NOT NULL), ' ') FROM (SELECT * FROM captures ORDER BY id)")" \
    "1:ring/ring0:1 2:ring/ring1:1 3:ring/ring2:0 4:ring/ring0:0 5:ring/ring1:0"
same ring_same_flows_as_all_rounds "$(flows "$T/r.db" | md5sum)" "$(flows "$T/ref.db" | md5sum)"
same ring_same_offsets_as_all_rounds "$(segs "$T/r.db" | md5sum)" "$(segs "$T/ref.db" | md5sum)"
expect ring_rerun_idempotent 0 "$PDX" index --ring --json --db "$T/r.db" "$T/ring"
has ring_rerun_skips "$T/out" '"captures_indexed":0,"captures_skipped":3,'
# A file that grew and still starts with the bytes that were indexed was
# appended to, not written over; when other captures were indexed after it,
# its flows cannot go on: it is reported, and its first packets are not
# indexed twice.
cp "$T/ring/ring2" "$T/ring2.keep"
tail -c +25 "$T/part005.pcap" >>"$T/ring/ring2"
expect ring_appended_reported 5 "$PDX" index --ring --db "$T/r.db" "$T/ring"
has ring_appended_warning "$T/err" "ring2: changed since it was indexed: it grew, but other captures were indexed after it"
same ring_appended_not_indexed "$(q "$T/r.db" "SELECT count(*), sum(replaced_ns IS NOT NULL) FROM captures")" "5|2"
cp "$T/ring2.keep" "$T/ring/ring2"

# verify: the ring's earlier rounds are no damage.
expect ring_verify 0 "$PDX" verify --db "$T/r.db"
has ring_verify_note "$T/err" "3 captures present and unchanged, 0 not"
has ring_verify_replaced "$T/err" "2 captures overwritten in a capture ring"
# A flow of round 0 that went on into round 1: carve refuses (or with
# --partial leaves those packets out) and names the capture; packets lists
# only the packets still on disk.
F=$(q "$T/r.db" "SELECT id FROM flows WHERE first_capture = 1 AND last_capture >= 3 ORDER BY id LIMIT 1")
[ -n "$F" ] && ok ring_spanning_flow || bad ring_spanning_flow "none"
expect ring_carve_gone 6 "$PDX" carve --db "$T/r.db" -o "$T/c.pcap" "$F"
has ring_carve_message "$T/err" "ring/ring0: overwritten since it was indexed .*the packets indexed from it are gone"
expect ring_carve_partial 6 "$PDX" carve --partial --db "$T/r.db" -o "$T/c.pcap" "$F"
left=$(q "$T/r.db" "SELECT sum(count) FROM packets WHERE flow_id = $F AND capture_id NOT IN (1, 2)")
same ring_carve_partial_rest "$(tcpdump -r "$T/c.pcap" 2>/dev/null | wc -l | tr -d ' ')" "$left"
gone=$(q "$T/r.db" "SELECT sum(count) FROM packets WHERE flow_id = $F AND capture_id IN (1, 2)")
expect ring_packets 6 "$PDX" packets --db "$T/r.db" "$F"
same ring_packets_rest "$(wc -l <"$T/out" | tr -d ' ')" "$left"
has ring_packets_error "$T/err" "error: .*r.db: $gone packets of captures overwritten"
# ring0's lines are those of its current content (capture 4) only.
same ring_packets_current_content "$(grep -c "ring/ring0" "$T/out")" \
    "$(q "$T/r.db" "SELECT coalesce(sum(count), 0) FROM packets WHERE flow_id = $F AND capture_id = 4")"
F2=$(q "$T/r.db" "SELECT id FROM flows WHERE first_capture = 4 ORDER BY id LIMIT 1")
expect ring_carve_new_round 0 "$PDX" carve --db "$T/r.db" -o "$T/n.pcap" "$F2"
expect ring_carve_new_round_ref 0 "$PDX" carve --db "$T/ref.db" -o "$T/n_ref.pcap" "$F2"
cmp -s "$T/n.pcap" "$T/n_ref.pcap" && ok ring_carve_new_round_bytes || bad ring_carve_new_round_bytes "differ"
# query's capture lists and flows_view leave the overwritten captures out.
F1=$(q "$T/r.db" "SELECT id FROM flows WHERE first_capture = 1 AND last_capture = 1 ORDER BY id LIMIT 1")
"$PDX" query --db "$T/r.db" --format json >"$T/q.json"
has ring_query_json_no_gone_path "$T/q.json" "^\{\"id\":$F1,.*\"captures\":\[\]\}$"
has ring_query_json_current_path "$T/q.json" "^\{\"id\":$F2,.*\"captures\":\[\"[^\"]*/ring/ring0\""
same ring_view_no_gone_path "$(q "$T/r.db" "SELECT coalesce(captures, 'none') FROM flows_view WHERE id = $F1")" none
# compress refuses a file that is not what the index holds for its path.
cp "$T/part005.pcap" "$T/ring/ring2"
expect ring_compress_changed 4 "$PDX" compress --db "$T/r.db" "$T/ring/ring2"
has ring_compress_message "$T/err" "ring2: changed since it was indexed: not compressed"
[ ! -e "$T/ring/ring2.zst" ] && ok ring_compress_no_output || bad ring_compress_no_output "ring2.zst written"
cp "$T/ring2.keep" "$T/ring/ring2"

# A copy of a round saved before the ring overwrote it: the replaced capture
# is read from the copy from then on, and its flows carve again; a second
# copy in the same run is then a copy of a current capture.
mkdir -p "$T/sring" "$T/arch"
cp "$T/part000.pcap" "$T/sring/ring0"
cp "$T/part001.pcap" "$T/sring/ring1"
"$PDX" index -q --ring --db "$T/s.db" "$T/sring"
cp "$T/sring/ring0" "$T/arch/saved.pcap"
cp "$T/sring/ring0" "$T/arch/saved2.pcap"
cp "$T/part002.pcap" "$T/sring/ring0"
"$PDX" index -q --ring --db "$T/s.db" "$T/sring"
FS=$(q "$T/s.db" "SELECT id FROM flows WHERE first_capture = 1 AND last_capture = 1 ORDER BY id LIMIT 1")
expect ring_saved_gone 6 "$PDX" carve --db "$T/s.db" -o "$T/s1.pcap" "$FS"
expect ring_saved_copy 0 "$PDX" index --ring --db "$T/s.db" "$T/arch"
has ring_saved_note "$T/err" "saved.pcap: same content as capture 1, indexed from .*/sring/ring0 and overwritten there since"
has ring_saved_second_copy "$T/err" "saved2.pcap: same content as indexed capture .*/arch/saved.pcap; skipped"
same ring_saved_row "$(q "$T/s.db" "SELECT replace(path, '$T/', '') || ':' || (replaced_ns IS NULL) FROM captures WHERE id = 1")" "arch/saved.pcap:1"
expect ring_saved_carves 0 "$PDX" carve --db "$T/s.db" -o "$T/s1.pcap" "$FS"
"$PDX" carve --db "$T/ref.db" -o "$T/s1_ref.pcap" "$FS" 2>/dev/null
cmp -s "$T/s1.pcap" "$T/s1_ref.pcap" && ok ring_saved_carve_bytes || bad ring_saved_carve_bytes "differ"
expect ring_saved_verify 0 "$PDX" verify --db "$T/s.db"
has ring_saved_verify_note "$T/err" "3 captures present and unchanged, 0 not"
# A new round with the same content as another capture (two header-only
# files) is not indexed again, but the round it overwrote is gone all the same.
head -c 24 "$T/part000.pcap" >"$T/sring/ring1.new"
cp "$T/sring/ring1.new" "$T/arch/empty.pcap"
rm "$T/sring/ring1.new"
"$PDX" index -q --ring --db "$T/s.db" "$T/arch/empty.pcap"
head -c 24 "$T/part000.pcap" >"$T/sring/ring1"
expect ring_same_content_round 0 "$PDX" index --ring --db "$T/s.db" "$T/sring"
has ring_same_content_note "$T/err" "ring1: same content as indexed capture .*empty.pcap; skipped"
same ring_same_content_marked "$(q "$T/s.db" "SELECT replaced_ns IS NOT NULL FROM captures WHERE id = 2")" 1
expect ring_same_content_verify 0 "$PDX" verify --db "$T/s.db"
# A ring file taken while it held only its header (tcpdump -C -W opens it
# before any packet) has no packets to lose: its next rounds are indexed.
mkdir -p "$T/hring"
# (When it is the last capture indexed, its new content is simply taken up
# into it: grow.sh.)
head -c 24 "$T/part000.pcap" >"$T/hring/ring0"
"$PDX" index -q --ring --db "$T/h.db" "$T/hring"
cp "$T/part001.pcap" "$T/hring/ring1"
"$PDX" index -q --ring --db "$T/h.db" "$T/hring"
cp "$T/part002.pcap" "$T/hring/ring0"
expect ring_header_only_round 0 "$PDX" index --ring --db "$T/h.db" "$T/hring"
same ring_header_only_rows "$(q "$T/h.db" "SELECT group_concat(packets || ':' || (replaced_ns IS NOT NULL), ' ') FROM (SELECT * FROM captures ORDER BY id)")" \
    "0:1 1000:0 1000:0"
# In one run (with the writer thread), a round written over a file and then
# (in time order) a copy of what it overwrote: the copy brings the old
# capture back, as one thread at a time would have it.  (A copy that comes
# first is taken for a copy of the file not yet seen to be overwritten, and
# skipped; the next run brings the capture back.)
mkdir -p "$T/qring" "$T/qsaved"
cp "$T/part001.pcap" "$T/qring/P"
"$PDX" index -q --db "$T/qa.db" "$T/qring/P"
cp "$T/part001.pcap" "$T/qsaved/Q"
cp "$T/part000.pcap" "$T/qring/P"
cp "$T/qa.db" "$T/qb.db"
expect ring_queued_copy_j2 0 "$PDX" index --ring --jobs 2 --db "$T/qa.db" "$T/qring/P" "$T/qsaved/Q"
expect ring_queued_copy_j1 0 "$PDX" index --ring --jobs 1 --db "$T/qb.db" "$T/qring/P" "$T/qsaved/Q"
QROWS="SELECT group_concat(id || ':' || replace(path, '$T/', '') || ':' || (replaced_ns IS NOT NULL), ' ') FROM (SELECT * FROM captures ORDER BY id)"
same ring_queued_copy_rows "$(q "$T/qa.db" "$QROWS")" "1:qsaved/Q:0 2:qring/P:0"
same ring_queued_copy_same "$(q "$T/qa.db" "$QROWS")" "$(q "$T/qb.db" "$QROWS")"

# Out-of-order times: a file whose first record is not its earliest, then
# appended to, is still seen as appended to (its indexed bytes unchanged),
# and as the last capture indexed it is taken up again: the same flows and
# offsets as indexing the whole file at once.
mkdir -p "$T/oring"
python3 - "$T/part000.pcap" "$T/oring/ring0" <<'PYEOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
sec, usec = struct.unpack_from("<II", d, 24)
struct.pack_into("<II", d, 24, sec + 1, usec)   # the first record one second late
open(sys.argv[2], "wb").write(d[:len(d) // 2])
open(sys.argv[2] + ".rest", "wb").write(d[len(d) // 2:])
PYEOF
"$PDX" index -q --ring --db "$T/o.db" "$T/oring/ring0" 2>/dev/null
cat "$T/oring/ring0.rest" >>"$T/oring/ring0"
rm "$T/oring/ring0.rest"
expect ring_ooo_appended 0 "$PDX" index --ring --db "$T/o.db" "$T/oring/ring0"
has ring_ooo_appended_note "$T/err" "ring0: grew since it was indexed: its [0-9]+ new packets are indexed into capture 1"
same ring_ooo_not_replaced "$(q "$T/o.db" "SELECT count(*), count(replaced_ns) FROM captures")" "1|0"
cp "$T/oring/ring0" "$T/oring/whole"
"$PDX" index -q --db "$T/o_whole.db" "$T/oring/whole"
same ring_ooo_same_flows "$(flows "$T/o.db" | md5sum)" "$(flows "$T/o_whole.db" | md5sum)"
"$PDX" packets --db "$T/o.db" --all | cut -f 1,3 >"$T/o.pk"
"$PDX" packets --db "$T/o_whole.db" --all | cut -f 1,3 >"$T/o_whole.pk"
cmp -s "$T/o.pk" "$T/o_whole.pk" && ok ring_ooo_same_offsets || bad ring_ooo_same_offsets "differ"

# --settle without --watch (a run from cron while the capture tool writes):
# a file modified less than SECS ago is left for a later run.
mkdir -p "$T/cron"
cp "$T/part000.pcap" "$T/cron/old.pcap"
touch -d '-2 minutes' "$T/cron/old.pcap"
cp "$T/part001.pcap" "$T/cron/new.pcap"
expect settle_once_leaves_new 0 "$PDX" index --settle 60 --db "$T/cron.db" "$T/cron"
has settle_once_note "$T/err" "new.pcap: modified [0-9]+ s ago \(still being written\?\); left for a later run"
has settle_once_summary "$T/err" "1 captures modified less than 60 s ago left for a later run"
same settle_once_indexed "$(q "$T/cron.db" "SELECT replace(path, '$T/', '') FROM captures")" "cron/old.pcap"
expect settle_once_json 0 "$PDX" index --settle 60 --json --db "$T/cron.db" "$T/cron"
has settle_once_json_pending "$T/out" '"captures_indexed":0,"captures_skipped":1,.*"captures_pending":1,'
touch -d '-2 minutes' "$T/cron/new.pcap"
expect settle_once_later_run 0 "$PDX" index --settle 60 --json --db "$T/cron.db" "$T/cron"
has settle_once_later_indexed "$T/out" '"captures_indexed":1,"captures_skipped":1,.*"captures_pending":0,'

# An index of schema 4 (path UNIQUE, no replaced_ns) is rebuilt by the
# migration: same ids and rows, and flows_view still works.
cp "$T/ref.db" "$T/v4.db"
sqlite3 "$T/v4.db" "
CREATE TABLE c4 AS SELECT * FROM captures;
DROP TABLE captures;
CREATE TABLE captures (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL, fingerprint TEXT NOT NULL, format TEXT NOT NULL, byte_order TEXT NOT NULL,
  version TEXT NOT NULL, ts_resolution TEXT NOT NULL, snaplen INTEGER NOT NULL, linktypes TEXT NOT NULL,
  pcap_hdrlen INTEGER NOT NULL, pcap_swapped INTEGER NOT NULL, first_ns INTEGER, last_ns INTEGER,
  packets INTEGER NOT NULL, bytes INTEGER NOT NULL, cap_bytes INTEGER NOT NULL, truncated INTEGER NOT NULL,
  invalid INTEGER NOT NULL, status TEXT NOT NULL, warnings TEXT NOT NULL, indexed_ns INTEGER NOT NULL,
  compression TEXT NOT NULL DEFAULT 'none', raw_size INTEGER, raw_fingerprint TEXT);
INSERT INTO captures SELECT id, path, size, mtime_ns, fingerprint, format, byte_order, version,
  ts_resolution, snaplen, linktypes, pcap_hdrlen, pcap_swapped, first_ns, last_ns, packets, bytes,
  cap_bytes, truncated, invalid, status, warnings, indexed_ns, compression, raw_size, raw_fingerprint FROM c4;
DROP TABLE c4;
PRAGMA user_version = 4;" 2>"$T/err"
before=$(q "$T/v4.db" "SELECT id, path, fingerprint, packets FROM captures ORDER BY id")
expect ring_v4_read 0 "$PDX" verify --db "$T/v4.db"
expect ring_v4_migrates 0 "$PDX" index -q --db "$T/v4.db" "$T/ref"
same ring_v4_version "$(q "$T/v4.db" "PRAGMA user_version")" 5
same ring_v4_rows_kept "$(q "$T/v4.db" "SELECT id, path, fingerprint, packets FROM captures ORDER BY id")" "$before"
same ring_v4_view "$(q "$T/v4.db" "SELECT count(*) FROM flows_view")" "$(q "$T/v4.db" "SELECT count(*) FROM flows")"
same ring_v4_integrity "$(q "$T/v4.db" "PRAGMA integrity_check")" ok
same ring_v4_path_unique "$(q "$T/v4.db" "SELECT sql FROM sqlite_master WHERE name = 'captures_path'")" \
    "CREATE UNIQUE INDEX captures_path ON captures(path) WHERE replaced_ns IS NULL"

# --watch --ring: the ring wraps while pcapdex watches it.
mkdir -p "$T/wring"
"$PDX" index --ring --db "$T/w.db" --watch "$T/wring" --settle 1 2>"$T/wlog" &
pid=$!
sleep 0.5
for i in 0 1 2 3 4; do
    cp "$T/part00$i.pcap" "$T/wring/.tmp"
    mv "$T/wring/.tmp" "$T/wring/ring$((i % 3))"
    # Each round must be taken before the ring comes round to its file.
    j=0
    while [ $j -lt 50 ] && [ "$(q "$T/w.db" "SELECT count(*) FROM captures" 2>/dev/null)" != "$((i + 1))" ]; do
        sleep 0.2
        j=$((j + 1))
    done
done
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
same ring_watch_exit "$rc" 0
same ring_watch_captures "$(q "$T/w.db" "SELECT count(*), sum(replaced_ns IS NOT NULL) FROM captures")" "5|2"
same ring_watch_same_flows "$(flows "$T/w.db" | md5sum)" "$(flows "$T/ref.db" | md5sum)"
hasnt ring_watch_no_warning "$T/wlog" "warning:"

# A real ring: tcpdump -C 1 -W 2 writes 1 MB files over two names, fed by a
# source that never pauses for long (64 KiB every 0.08 s), as a live capture
# writes.  Every round must be indexed while the next one is being written
# (the writer's stream of change events must not put the watcher's look off
# for ever), and the index must be that of tcpdump -C 1's numbered files.
if command -v tcpdump >/dev/null 2>&1; then
    "$GEN" traffic -o "$T/live.pcap" --bytes 4500K --concurrent 40 --seed 11 >/dev/null 2>&1
    mkdir -p "$T/tref" "$T/tring"
    tcpdump -Z "$(id -un)" -r "$T/live.pcap" -w "$T/tref/r" -C 1 2>/dev/null
    nref=$(ls "$T/tref" | wc -l)
    "$PDX" index -q --db "$T/tref.db" "$T/tref"
    "$PDX" index --ring --db "$T/t.db" --watch "$T/tring" --settle 1 2>"$T/tlog" &
    pid=$!
    sleep 0.5
    n=$(( ($(wc -c <"$T/live.pcap") + 65535) / 65536 ))
    i=0
    while [ $i -lt $n ]; do
        dd if="$T/live.pcap" bs=65536 skip=$i count=1 2>/dev/null
        sleep 0.08
        i=$((i + 1))
    done | tcpdump -Z "$(id -un)" -r - -w "$T/tring/r" -C 1 -W 2 2>/dev/null
    j=0
    while [ $j -lt 50 ] && [ "$(q "$T/t.db" "SELECT count(*) FROM captures" 2>/dev/null)" != "$nref" ]; do
        sleep 0.2
        j=$((j + 1))
    done
    kill -TERM "$pid"
    wait "$pid"
    pid=""
    same ring_tcpdump_rounds "$(q "$T/t.db" "SELECT count(*), sum(replaced_ns IS NOT NULL) FROM captures")" \
        "$nref|$((nref - 2))"
    same ring_tcpdump_same_flows "$(flows "$T/t.db" | md5sum)" "$(flows "$T/tref.db" | md5sum)"
    same ring_tcpdump_packets "$(q "$T/t.db" "SELECT sum(packets) FROM captures")" \
        "$(q "$T/tref.db" "SELECT sum(packets) FROM captures")"
    finish ring
else
    finish ring 1
fi
