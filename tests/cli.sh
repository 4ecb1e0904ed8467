#!/bin/sh
# cli.sh - end-to-end tests of the pcapdex command line: exit codes, messages,
# idempotent re-runs, damaged and changed captures, filters, and rotated
# capture sets indexed in one run, in several runs, or as one file.
# Usage: tests/cli.sh BUILD_DIR.  Ends with "cli: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"

# ---- fixtures ---------------------------------------------------------------
"$GEN" traffic -o "$T/one.pcap" --packets 20000 --concurrent 200 --seed 7 >/dev/null 2>&1 ||
    bad gen_traffic "pcapgen traffic failed"
"$GEN" split "$T/one.pcap" -o "$T/rot" --count 4000 >/dev/null 2>&1 ||
    bad gen_split "pcapgen split failed"
ROT=$(ls "$T"/rot*.pcap 2>/dev/null)

# ---- usage ------------------------------------------------------------------
expect no_args 2 "$PDX"
expect unknown_command 2 "$PDX" frobnicate
expect help 0 "$PDX" --help
expect index_no_capture 2 "$PDX" index --db "$T/u.db"
# bad_option NAME MESSAGE CMD ARGS...: exit 2 and that one line, in CMD's voice.
bad_option() {
    _n=$1 _m=$2
    shift 2
    expect "$_n" 2 "$PDX" "$@"
    has "${_n}_msg" "$T/err" "^pcapdex $1: error: $_m\$"
}
bad_option index_bad_option "unknown option '--bogus'" index --bogus "$T/one.pcap"
# Every command names what is wrong with an option.
for c in index query carve packets verify compress; do
    bad_option "bad_short_option[$c]" "unknown option '-Z'" $c -Z
done
bad_option carve_option_needs_argument "option '-o' needs an argument" carve 1 -o
bad_option query_long_needs_argument "option '--db' needs an argument" query --db
bad_option verify_long_no_argument "option '--quiet' takes no argument" verify --quiet=yes
# Abbreviations getopt_long takes: the option is named in full (query's long
# options have values past 255: no short option is made of them).
bad_option query_abbrev_needs_argument "option '--db' needs an argument" query --d
bad_option query_abbrev_long_value "option '--timeseries' needs an argument" query --tim
bad_option verify_abbrev_no_argument "option '--quiet' takes no argument" verify --qui=yes
bad_option query_ambiguous "ambiguous option '--s'" query --s
bad_option index_unknown_long_value "unknown option '--bogus'" index --bogus=1 "$T/one.pcap"
# A bad short option inside a cluster is that option, not the argument before.
bad_option carve_cluster_after_long "unknown option '-p'" carve --partial -pq 1
expect index_bad_exclude 2 "$PDX" index --db "$T/u.db" --exclude 10.0.0.0/33 "$T/one.pcap"
has index_bad_exclude_msg "$T/err" "exclude.*10.0.0.0/33"
expect index_bad_filter 2 "$PDX" index --db "$T/u.db" --filter "tcp and and" "$T/one.pcap"
has index_bad_filter_msg "$T/err" "filter"
expect index_bad_timeout 2 "$PDX" index --db "$T/u.db" --idle-timeout abc "$T/one.pcap"
expect index_zero_idle_timeout 2 "$PDX" index --db "$T/u.db" --idle-timeout 0 "$T/one.pcap"
has index_zero_idle_timeout_msg "$T/err" "idle-timeout: '0': every packet would start a flow of its own"
for v in 512K 0 12Q -1M 2048G M; do
    expect "index_bad_cache[$v]" 2 "$PDX" index --db "$T/u.db" --cache "$v" "$T/one.pcap"
done
has index_bad_cache_msg "$T/err" "--cache: 'M' is not a size from 1M to 1024G"
[ ! -e "$T/u.db" ] && ok usage_errors_write_nothing || bad usage_errors_write_nothing "u.db exists"

# --cache sizes SQLite's page cache only: a 1 MiB cache gives the same index
for v in 1M 64m 1g; do
    expect "index_cache[$v]" 0 "$PDX" index -q --db "$T/c$v.db" --cache "$v" "$T/one.pcap"
done
same index_cache_same_flows "$(q "$T/c1M.db" "SELECT * FROM flows ORDER BY id" | md5sum)" \
    "$(q "$T/c1g.db" "SELECT * FROM flows ORDER BY id" | md5sum)"
same index_cache_same_offsets "$(q "$T/c1M.db" "SELECT flow_id, capture_id, seg, hex(offsets) FROM packets ORDER BY 1, 2, 3" | md5sum)" \
    "$(q "$T/c64m.db" "SELECT flow_id, capture_id, seg, hex(offsets) FROM packets ORDER BY 1, 2, 3" | md5sum)"

# ---- inputs -----------------------------------------------------------------
expect missing_capture 4 "$PDX" index --db "$T/m.db" "$T/nope.pcap"
has missing_capture_names_file "$T/err" "nope.pcap"
printf 'not a capture at all\n' >"$T/readme.txt"
expect not_a_capture 4 "$PDX" index --db "$T/m.db" "$T/readme.txt"
has not_a_capture_names_file "$T/err" "readme.txt"
printf '\037\213\010\000junk' >"$T/x.pcap.gz"
expect gzip_named 4 "$PDX" index --db "$T/m.db" "$T/x.pcap.gz"
has gzip_said "$T/err" "gzip"
mkdir -p "$T/dir/sub"
cp "$T/one.pcap" "$T/dir/sub/a.pcap"
cp "$T/readme.txt" "$T/dir/notes.txt"
expect directory_recursive 0 "$PDX" index --db "$T/d.db" --json "$T/dir"
has directory_json_counts "$T/out" '"captures_indexed":1,.*"not_captures":1'
python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$T/out" && ok json_parses || bad json_parses "invalid JSON"

# ---- databases ----------------------------------------------------------------
sqlite3 "$T/foreign.db" "CREATE TABLE t(x)"
expect foreign_db 3 "$PDX" index --db "$T/foreign.db" "$T/one.pcap"
has foreign_db_msg "$T/err" "not a pcapdex index"
head -c 5000 /dev/urandom >"$T/garbage.db"
expect garbage_db 3 "$PDX" index --db "$T/garbage.db" "$T/one.pcap"
expect packets_missing_db 3 "$PDX" packets --db "$T/none.db" --all
has packets_missing_db_msg "$T/err" "none.db"
# Damage is named as damage, not as someone else's database: the b-tree
# header of page 1 (the schema), then the first page of the meta table.
"$PDX" index -q --db "$T/hurt.db" "$T/one.pcap"
q "$T/hurt.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
PS=$(q "$T/hurt.db" "PRAGMA page_size")
MP=$(q "$T/hurt.db" "SELECT rootpage FROM sqlite_master WHERE name = 'meta'")
cp "$T/hurt.db" "$T/hurt1.db"
printf '\377\377\377\377\377\377\377\377' | dd of="$T/hurt1.db" bs=1 seek=100 conv=notrunc 2>/dev/null
expect damaged_schema_page 3 "$PDX" query --db "$T/hurt1.db"
has damaged_schema_page_msg "$T/err" "hurt1\.db: damaged SQLite database \\(database disk image is malformed\\)"
cp "$T/hurt.db" "$T/hurt2.db"
printf '\016\377\377\377\377\377\377\377' |
    dd of="$T/hurt2.db" bs=1 seek=$(((MP - 1) * PS)) conv=notrunc 2>/dev/null
expect damaged_meta_page 3 "$PDX" index --db "$T/hurt2.db" "$T/one.pcap"
has damaged_meta_page_msg "$T/err" "hurt2\.db: damaged index \\(database disk image is malformed\\)"
expect garbage_db_msg 3 "$PDX" query --db "$T/garbage.db"
has garbage_db_named "$T/err" "garbage\.db: not a SQLite database"

# ---- one capture, twice -----------------------------------------------------------
expect index_one 0 "$PDX" index --db "$T/a.db" "$T/one.pcap"
F1=$(q "$T/a.db" "SELECT count(*) || ' ' || sum(src_packets + dst_packets) FROM flows")
P1=$(q "$T/a.db" "SELECT packets FROM captures")
same every_packet_in_a_flow "$(echo "$F1" | cut -d' ' -f2)" "$P1"
expect index_again 0 "$PDX" index --db "$T/a.db" --json "$T/one.pcap"
has index_again_skips "$T/out" '"captures_indexed":0,"captures_skipped":1'
same index_again_same_flows "$(q "$T/a.db" "SELECT count(*) || ' ' || sum(src_packets + dst_packets) FROM flows")" "$F1"
N=$("$PDX" packets --db "$T/a.db" --all | wc -l)
expect packets_no_such_flow 1 "$PDX" packets --db "$T/a.db" 1 99999999
has packets_no_such_flow_named "$T/err" "no flow 99999999 in .*a\.db"
same packets_no_such_flow_prints_nothing "$(wc -c <"$T/out" | tr -d ' ')" 0
if [ -w /dev/full ]; then
    "$PDX" packets --db "$T/a.db" --all >/dev/full 2>"$T/err"
    same packets_output_full "$?" 7
    has packets_output_full_says_why "$T/err" "^pcapdex packets: error: writing output: No space left on device$"
else
    ok packets_output_full_skipped
fi
expect packets_one_flow 0 "$PDX" packets --db "$T/a.db" 1
[ -s "$T/out" ] && ok packets_one_flow_printed || bad packets_one_flow_printed "no output"
same packets_lists_every_packet "$N" "$P1"
same integrity "$(q "$T/a.db" "PRAGMA integrity_check")" "ok"
same community_ids "$(q "$T/a.db" "SELECT count(*) FROM flows WHERE proto IS NOT NULL AND community_id NOT LIKE '1:%'")" "0"

# A capture that changed since it was indexed is reported, not indexed again.
cp "$T/one.pcap" "$T/chg.pcap"
"$PDX" index -q --db "$T/c.db" "$T/chg.pcap"
printf 'XXXXXXXXXXXXXXXX' | dd of="$T/chg.pcap" bs=1 seek=40 conv=notrunc 2>/dev/null
touch -d '2001-01-01' "$T/chg.pcap"
expect changed_capture 5 "$PDX" index --db "$T/c.db" "$T/chg.pcap"
has changed_capture_msg "$T/err" "chg.pcap: changed since it was indexed"

# ---- damage -------------------------------------------------------------------------
SIZE=$(stat -c %s "$T/one.pcap")
head -c $((SIZE / 2)) "$T/one.pcap" >"$T/cut.pcap"
expect damaged_capture 5 "$PDX" index --db "$T/dmg.db" "$T/cut.pcap"
has damaged_names_file_and_offset "$T/err" "cut.pcap: offset [0-9]+"
same damaged_status "$(q "$T/dmg.db" "SELECT status FROM captures")" "damaged"
DP=$(q "$T/dmg.db" "SELECT packets FROM captures")
[ "$DP" -gt 1000 ] && ok damaged_indexed_up_to_damage || bad damaged_indexed_up_to_damage "$DP packets"
same damaged_flows_hold_them "$(q "$T/dmg.db" "SELECT sum(src_packets + dst_packets) FROM flows")" "$DP"
# A pcapng time past 2262-04-11 (all-ones microsecond ticks) does not fit the
# index's int64 nanoseconds: stored as the latest it holds, with a warning.
python3 - "$T/far.pcapng" <<'PYEOF'
import struct, sys
def block(t, body):
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", t, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
frame = (b"\xff" * 6 + b"\x02\0\0\0\0\x01" + b"\x08\x00" +
         bytes.fromhex("450000210001000040110000c0000201c000020204d2162e000d0000") + b"abcde")
def epb(ticks):
    return block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xffffffff, len(frame), len(frame)) + frame)
out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)) + block(1, struct.pack("<HHI", 1, 0, 65535))
out += epb(1700000000 * 10**6) + epb(2**64 - 1) + epb(1700000001 * 10**6)
open(sys.argv[1], "wb").write(out)
PYEOF
expect far_time_warns 5 "$PDX" index --db "$T/far.db" "$T/far.pcapng"
has far_time_says_why "$T/err" "far.pcapng: 1 packets have times before 1677-09-21 or after 2262-04-11"
same far_time_stored "$(q "$T/far.db" "SELECT packets, last_ns FROM captures")" "3|9223372036854775807"
same far_time_capture_warning "$(q "$T/far.db" "SELECT warnings LIKE '%after 2262-04-11%' FROM captures")" 1

# ---- filters ---------------------------------------------------------------------------
expect filter_tcp 0 "$PDX" index --db "$T/f.db" --filter tcp "$T/one.pcap"
# the index ends with its WAL copied into the database and removed, so that
# copying the database file alone copies the index
[ -e "$T/f.db-wal" ] && bad index_wal_checkpointed "$(ls -l "$T/f.db-wal")" || ok index_wal_checkpointed
same filter_only_tcp "$(q "$T/f.db" "SELECT count(*) FROM flows WHERE proto IS NOT 6")" "0"
[ "$(q "$T/f.db" "SELECT count(*) FROM flows")" -gt 0 ] && ok filter_kept_tcp || bad filter_kept_tcp "no flows"
# BSD loopback (DLT_NULL): the address family is in the capturing machine's
# byte order and uses its AF_INET6 (24/28/30 on BSDs and macOS); the filter
# keeps what tcpdump keeps, for a little- and a big-endian capture.
"$GEN" traffic -o "$T/lo-le.pcap" --packets 3000 --link null --seed 2 >/dev/null 2>&1
python3 - "$T/lo-le.pcap" "$T/lo-be.pcap" <<'PYEOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
out = bytearray(struct.pack(">IHHiIII", *struct.unpack_from("<IHHiIII", d, 0)))
off = 24
while off + 16 <= len(d):
    ts, us, cap, ln = struct.unpack_from("<IIII", d, off)
    pkt = bytearray(d[off + 16:off + 16 + cap])
    struct.pack_into(">I", pkt, 0, struct.unpack_from("<I", pkt, 0)[0])
    out += struct.pack(">IIII", ts, us, cap, ln) + pkt
    off += 16 + cap
open(sys.argv[2], "wb").write(out)
PYEOF
for e in le be; do
    for f in ip6 "ip and udp"; do
        rm -f "$T/lo.db"
        "$PDX" index -q --db "$T/lo.db" --filter "$f" "$T/lo-$e.pcap"
        want=$(tcpdump -nr "$T/lo-$e.pcap" "$f" 2>/dev/null | wc -l | tr -d ' ')
        [ "$want" -gt 0 ] || bad "filter_loopback_$e[$f]_fixture" "tcpdump keeps no packet"
        same "filter_loopback_$e[$f]" "$(q "$T/lo.db" "SELECT coalesce(sum(src_packets + dst_packets), 0) FROM flows")" "$want"
    done
done
# a filter that does not compile for a capture's link type (147, USER0):
# warned, exit 5, and kept in the capture's warnings column
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[20:24] = (147).to_bytes(4, "little"); open(sys.argv[2], "wb").write(d)' "$T/one.pcap" "$T/user0.pcap"
expect filter_not_for_linktype 5 "$PDX" index --db "$T/u0.db" --filter tcp "$T/user0.pcap"
has filter_not_for_linktype_warned "$T/err" "user0.pcap: filter 'tcp' does not compile for link type 147"
same filter_not_for_linktype_stored "$(q "$T/u0.db" "SELECT warnings LIKE 'filter ''tcp'' does not compile for link type 147%' FROM captures")" 1
# several warnings and the damage: all of them in the column, the damage too
python3 - "$T/warns.pcapng" <<'PYEOF'
import struct, sys
def blk(t, body):
    body += bytes(-len(body) % 4)
    return struct.pack("<II", t, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
ip = bytes.fromhex("450000200001000040110000c0000201c0000202") + bytes.fromhex("04d2003500080000") + bytes(4)
out = blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
for lt in (101, 228, 229):
    out += blk(1, struct.pack("<HHI", lt, 0, 65535))
for i in range(3):
    out += blk(6, struct.pack("<IIIII", i, 0, 1000 * i, len(ip), len(ip)) + ip)
out += blk(6, struct.pack("<IIIII", 0, 0, 5000, len(ip), len(ip)) + ip)[:-9]
open(sys.argv[1], "wb").write(out)
PYEOF
expect several_warnings 5 "$PDX" index --db "$T/w.db" --filter "ether host 00:11:22:33:44:55" "$T/warns.pcapng"
same several_warnings_stored "$(q "$T/w.db" "SELECT warnings FROM captures" | grep -c .)" 4
same several_warnings_damage_kept "$(q "$T/w.db" "SELECT warnings FROM captures" | grep -c '^offset [0-9]*: .*indexed up to the damage$')" 1
expect exclude_net 0 "$PDX" index --db "$T/x.db" --exclude 10.0.0.0/8 --exclude 2001:db8::/32 "$T/one.pcap"
same exclude_dropped "$(q "$T/x.db" "SELECT count(*) FROM flows_view WHERE src LIKE '10.%' OR dst LIKE '10.%' OR src LIKE '2001:db8:%' OR dst LIKE '2001:db8:%'")" "0"

# ---- rotated sets ---------------------------------------------------------------------
NROT=$(echo "$ROT" | wc -w)
[ "$NROT" -ge 4 ] && ok rotated_set_made || bad rotated_set_made "$NROT files"
# shellcheck disable=SC2086
expect index_rotated 0 "$PDX" index --db "$T/r.db" $ROT
flows_of() {
    q "$1" "SELECT f.id, f.proto, hex(f.src_ip), f.src_port, hex(f.dst_ip), f.dst_port, f.first_ns,
            f.last_ns, f.src_packets, f.src_bytes, f.dst_packets, f.dst_bytes, f.end_reason
            FROM flows f ORDER BY f.id"
}
flows_of "$T/a.db" >"$T/flows.single"
flows_of "$T/r.db" >"$T/flows.rot"
if cmp -s "$T/flows.single" "$T/flows.rot"; then ok rotated_same_flows_as_single; else
    bad rotated_same_flows_as_single "$(diff "$T/flows.single" "$T/flows.rot" | head -5)"; fi
SPAN=$(q "$T/r.db" "SELECT count(*) FROM flows WHERE first_capture <> last_capture")
[ "$SPAN" -gt 0 ] && ok flows_cross_files || bad flows_cross_files "no flow spans files"
# Same packets per flow: compare (flow, record number) lists.
"$PDX" packets --db "$T/a.db" --all | awk -F'\t' '{print $1}' | sort -n | uniq -c >"$T/pk.single"
"$PDX" packets --db "$T/r.db" --all | awk -F'\t' '{print $1}' | sort -n | uniq -c >"$T/pk.rot"
cmp -s "$T/pk.single" "$T/pk.rot" && ok rotated_same_packets_per_flow || bad rotated_same_packets_per_flow "differ"
# Given in reverse order, the set is still indexed in time order.
# shellcheck disable=SC2086
expect index_rotated_reversed 0 "$PDX" index --db "$T/rr.db" $(echo $ROT | tr ' ' '\n' | sort -r)
flows_of "$T/rr.db" >"$T/flows.rr"
cmp -s "$T/flows.single" "$T/flows.rr" && ok rotated_order_by_time || bad rotated_order_by_time "differ"
# Indexed in two runs: the second continues the flows left open.
FIRST=$(echo "$ROT" | head -n 2)
# shellcheck disable=SC2086
"$PDX" index -q --db "$T/inc.db" $FIRST
OPEN=$(q "$T/inc.db" "SELECT count(*) FROM flows WHERE end_reason = 'open' AND state & 1")
[ "$OPEN" -gt 0 ] && ok open_flows_recorded || bad open_flows_recorded "none"
# shellcheck disable=SC2086
expect index_incremental 0 "$PDX" index --db "$T/inc.db" $ROT
flows_of "$T/inc.db" >"$T/flows.inc"
cmp -s "$T/flows.single" "$T/flows.inc" && ok incremental_same_flows || bad incremental_same_flows "$(diff "$T/flows.single" "$T/flows.inc" | head -5)"
# All but the last in one run: flows lingering after FIN must still expire in the next.
# shellcheck disable=SC2086
"$PDX" index -q --db "$T/inc2.db" $(echo "$ROT" | head -n $((NROT - 1)))
# shellcheck disable=SC2086
"$PDX" index -q --db "$T/inc2.db" $ROT
q "$T/inc2.db" "SELECT id, end_reason, state FROM flows ORDER BY id" >"$T/st.inc2"
q "$T/a.db" "SELECT id, end_reason, state FROM flows ORDER BY id" >"$T/st.single"
cmp -s "$T/st.single" "$T/st.inc2" && ok incremental_same_state || bad incremental_same_state "$(diff "$T/st.single" "$T/st.inc2" | head -3)"

# --jobs 1 (one thread) and --jobs 2 (a writer thread) give the same database.
# shellcheck disable=SC2086
"$PDX" index -q --jobs 1 --db "$T/j1.db" $ROT
# shellcheck disable=SC2086
"$PDX" index -q --jobs 2 --db "$T/j2.db" $ROT
dump() { sqlite3 "$1" .dump | grep -v "INSERT INTO captures"; q "$1" "SELECT path, packets, status FROM captures"; }
[ "$(dump "$T/j1.db" | md5sum)" = "$(dump "$T/j2.db" | md5sum)" ] && ok jobs_same_database || bad jobs_same_database "differ"

# ---- carve ------------------------------------------------------------------------------
BIG=$(q "$T/r.db" "SELECT id FROM flows WHERE proto = 6 AND first_capture <> last_capture ORDER BY src_packets + dst_packets DESC LIMIT 1")
[ -n "$BIG" ] && ok spanning_flow_found || bad spanning_flow_found "none"
SPANS=$(q "$T/r.db" "SELECT count(DISTINCT capture_id) FROM packets WHERE flow_id = $BIG")
[ "$SPANS" -ge 2 ] && ok spanning_flow_spans_files || bad spanning_flow_spans_files "$SPANS"
expect carve_rotated 0 "$PDX" carve --db "$T/r.db" "$BIG" -o "$T/big-rot.pcap"
expect carve_single 0 "$PDX" carve --db "$T/a.db" "$BIG" -o "$T/big-one.pcap"
cmp -s "$T/big-rot.pcap" "$T/big-one.pcap" && ok carve_rotated_same_bytes_as_single || bad carve_rotated_same_bytes_as_single "differ"
FILT=$(q "$T/r.db" "SELECT printf('tcp and host %s and host %s and port %d and port %d', src, dst, sport, dport) FROM flows_view WHERE id = $BIG")
tcpdump -r "$T/one.pcap" -w "$T/big-tcpdump.pcap" "$FILT" 2>/dev/null
cmp -s "$T/big-rot.pcap" "$T/big-tcpdump.pcap" && ok carve_equals_tcpdump_extraction || bad carve_equals_tcpdump_extraction "differ from tcpdump -w"
tshark -n -r "$T/big-rot.pcap" >/dev/null 2>&1 && ok carve_tshark_reads || bad carve_tshark_reads "tshark failed"
expect carve_pcapng 0 "$PDX" carve --db "$T/r.db" "$BIG" --format pcapng -o "$T/big.pcapng"
same carve_pcapng_same_packets "$(tshark -n -r "$T/big.pcapng" 2>/dev/null | wc -l)" "$(tshark -n -r "$T/big-rot.pcap" 2>/dev/null | wc -l)"
same carve_pcapng_same_bytes "$(tshark -n -r "$T/big.pcapng" -T fields -e frame.time_epoch -e frame.len -e data.data 2>/dev/null | md5sum)" "$(tshark -n -r "$T/big-rot.pcap" -T fields -e frame.time_epoch -e frame.len -e data.data 2>/dev/null | md5sum)"
"$PDX" carve --db "$T/r.db" "$BIG" -o - | cmp -s - "$T/big-rot.pcap" && ok carve_to_stdout || bad carve_to_stdout "stdout differs"
if [ -w /dev/full ]; then
    "$PDX" carve --db "$T/r.db" "$BIG" -o - >/dev/full 2>"$T/err"
    same carve_output_full "$?" 7
    same carve_output_full_one_line "$(wc -l <"$T/err" | tr -d ' ')" 1
    has carve_output_full_msg "$T/err" "No space left on device"
else
    ok carve_output_full_skipped
fi
# -o that is not a regular file is written in place, never replaced: a device,
# a FIFO, a symlink (its target gets the carve); a directory or '' is refused.
mkdir -p "$T/outs"
if mknod "$T/outs/null" c 1 3 2>/dev/null; then
    expect carve_to_device 0 "$PDX" carve --db "$T/r.db" "$BIG" -o "$T/outs/null"
    [ -c "$T/outs/null" ] && ok carve_device_kept || bad carve_device_kept "$(ls -l "$T/outs/null")"
else
    ok carve_to_device_skipped
fi
: >"$T/outs/target.pcap"
ln -s target.pcap "$T/outs/link.pcap"
expect carve_through_symlink 0 "$PDX" carve --db "$T/r.db" "$BIG" -o "$T/outs/link.pcap"
[ -L "$T/outs/link.pcap" ] && cmp -s "$T/outs/target.pcap" "$T/big-rot.pcap" && ok carve_symlink_target_written ||
    bad carve_symlink_target_written "$(ls -l "$T/outs")"
ln -s dangling.pcap "$T/outs/dang.pcap"
expect carve_dangling_symlink 0 "$PDX" carve --db "$T/r.db" "$BIG" -o "$T/outs/dang.pcap"
cmp -s "$T/outs/dangling.pcap" "$T/big-rot.pcap" && ok carve_dangling_target_created || bad carve_dangling_target_created "$(ls -l "$T/outs")"
mkfifo "$T/outs/fifo"
timeout 60 cat "$T/outs/fifo" >"$T/outs/from-fifo" &
expect carve_to_fifo 0 "$PDX" carve --db "$T/r.db" "$BIG" -o "$T/outs/fifo"
wait
[ -p "$T/outs/fifo" ] && cmp -s "$T/outs/from-fifo" "$T/big-rot.pcap" && ok carve_fifo_reader_gets_it ||
    bad carve_fifo_reader_gets_it "$(ls -l "$T/outs")"
expect carve_to_directory 7 "$PDX" carve --db "$T/r.db" "$BIG" -o "$T/outs"
has carve_to_directory_msg "$T/err" "outs: Is a directory"
expect carve_empty_output 2 "$PDX" carve --db "$T/r.db" "$BIG" -o ''
[ -z "$(ls "$T/outs" | grep part)" ] && ok carve_no_part_files_left || bad carve_no_part_files_left "$(ls "$T/outs")"
expect carve_no_such_flow 1 "$PDX" carve --db "$T/r.db" 99999999 -o "$T/none.pcap"
[ ! -e "$T/none.pcap" ] && ok carve_no_output_on_error || bad carve_no_output_on_error "file written"
expect carve_bad_id 2 "$PDX" carve --db "$T/r.db" abc -o "$T/none.pcap"
expect carve_bad_format 2 "$PDX" carve --db "$T/r.db" "$BIG" --format xml -o "$T/none.pcap"
expect carve_split 0 "$PDX" carve --db "$T/r.db" --filter "udp" --split "$T/split"
same carve_split_one_file_per_flow "$(ls "$T/split" | wc -l)" "$(q "$T/r.db" "SELECT count(*) FROM flows WHERE proto = 17")"
# A flow over a microsecond and a nanosecond capture is carved to pcapng, and
# --split names the file for what it holds.
mkdir -p "$T/mix"
set -- $ROT
cp "$1" "$T/mix/a.pcap"
python3 - "$2" "$T/mix/b.pcap" <<'PYEOF' || bad mix_fixture "cannot write the nanosecond copy"
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
assert struct.unpack_from("<I", d, 0)[0] == 0xa1b2c3d4
struct.pack_into("<I", d, 0, 0xa1b23c4d)
off = 24
while off + 16 <= len(d):
    sec, usec, cap, _ = struct.unpack_from("<IIII", d, off)
    struct.pack_into("<I", d, off + 4, usec * 1000)
    off += 16 + cap
open(sys.argv[2], "wb").write(d)
PYEOF
"$PDX" index -q --db "$T/mix.db" "$T/mix/a.pcap" "$T/mix/b.pcap"
MIX=$(q "$T/mix.db" "SELECT id FROM flows WHERE first_capture <> last_capture ORDER BY id LIMIT 1")
expect carve_split_mixed 0 "$PDX" carve --db "$T/mix.db" "$MIX" --split "$T/mixsplit"
has carve_split_mixed_note "$T/err" "writing pcapng"
[ -f "$T/mixsplit/$MIX.pcapng" ] && [ ! -e "$T/mixsplit/$MIX.pcap" ] &&
    [ "$(head -c 4 "$T/mixsplit/$MIX.pcapng" | od -An -tx1 | tr -d ' ')" = 0a0d0d0a ] &&
    ok carve_split_mixed_named_pcapng || bad carve_split_mixed_named_pcapng "$(ls "$T/mixsplit")"
tshark -n -r "$T/mixsplit/$MIX.pcapng" >/dev/null 2>&1 && ok carve_split_mixed_readable || bad carve_split_mixed_readable "tshark failed"
# One pcapng, two interfaces (Ethernet and BSD loopback) carrying the same
# flows: a flow's packets come in on both, though its first packet names only
# one, so the carve is pcapng with both interfaces, and --format pcap refuses.
"$GEN" traffic -o "$T/mix/eth.pcap" --packets 400 --concurrent 5 --seed 11 >/dev/null 2>&1
"$GEN" traffic -o "$T/mix/lo.pcap" --packets 400 --concurrent 5 --seed 11 --link null >/dev/null 2>&1
mergecap -F pcapng -w "$T/mix/two.pcapng" "$T/mix/eth.pcap" "$T/mix/lo.pcap" 2>/dev/null
"$PDX" index -q --db "$T/two.db" "$T/mix/two.pcapng"
TWO=$(q "$T/two.db" "SELECT id FROM flows WHERE proto = 6 ORDER BY src_packets + dst_packets DESC LIMIT 1")
expect carve_two_links 0 "$PDX" carve --db "$T/two.db" "$TWO" -o "$T/two.out"
has carve_two_links_note "$T/err" "writing pcapng"
LINKS=$(tshark -n -r "$T/two.out" -T fields -e frame.encap_type 2>/dev/null | sort -u | tr '\n' ' ')
same carve_two_links_both_kept "$LINKS" "1 15 "
same carve_two_links_all_packets "$(tshark -n -r "$T/two.out" 2>/dev/null | wc -l | tr -d ' ')" "$(q "$T/two.db" "SELECT src_packets + dst_packets FROM flows WHERE id = $TWO")"
expect carve_two_links_no_pcap 2 "$PDX" carve --db "$T/two.db" "$TWO" --format pcap -o "$T/two.pcap"
expect carve_filter_window 0 "$PDX" carve --db "$T/r.db" --filter "tcp" --since "$(q "$T/r.db" "SELECT min(first_ns) / 1e9 + 1 FROM flows")" --until "$(q "$T/r.db" "SELECT min(first_ns) / 1e9 + 2 FROM flows")" -o "$T/win.pcap"
tshark -n -r "$T/win.pcap" >/dev/null 2>&1 && ok carve_window_readable || bad carve_window_readable "tshark failed"
# A window inside the longest silence of a flow: the flow is active there but
# has no packet in it, so nothing is written and the exit is 1 (no match).
"$GEN" traffic -o "$T/slow.pcap" --packets 3000 --concurrent 20 --seed 3 --pps 10 >/dev/null 2>&1
"$PDX" index -q --db "$T/slow.db" "$T/slow.pcap"
SLOW=$(q "$T/slow.db" "SELECT id FROM flows ORDER BY last_ns - first_ns DESC LIMIT 1")
"$PDX" carve -q --db "$T/slow.db" "$SLOW" -o "$T/slow-flow.pcap"
set -- $(tshark -n -r "$T/slow-flow.pcap" -T fields -e frame.time_epoch 2>/dev/null |
    awk 'NR > 1 && $1 - p > m { m = $1 - p; a = p; b = $1 } { p = $1 } END { printf "%.6f %.6f\n", a + 0.5, b - 0.5 }')
expect carve_window_in_silence 1 "$PDX" carve --db "$T/slow.db" --filter "id $SLOW" --since "$1" --until "$2" -o "$T/silence.pcap"
has carve_window_in_silence_note "$T/err" "1 flows match, but none has a packet between --since and --until"
[ ! -e "$T/silence.pcap" ] && ok carve_window_in_silence_no_file || bad carve_window_in_silence_no_file "written"
expect carve_window_in_silence_split 1 "$PDX" carve --db "$T/slow.db" --filter "id $SLOW" --since "$1" --until "$2" --split "$T/silence"
same carve_window_in_silence_split_no_file "$(ls "$T/silence" | wc -l | tr -d ' ')" 0
"$PDX" carve -q --db "$T/slow.db" --filter "id $SLOW" --since "$1" --until "$2" -o - >"$T/silence.out" 2>/dev/null
same carve_window_in_silence_stdout "$?:$(wc -c <"$T/silence.out" | tr -d ' ')" "1:0"
ln -s "$T/silence-target.pcap" "$T/silence-link.pcap"
expect carve_window_in_silence_dangling 1 "$PDX" carve --db "$T/slow.db" --filter "id $SLOW" --since "$1" --until "$2" -o "$T/silence-link.pcap"
[ ! -e "$T/silence-target.pcap" ] && ok carve_window_in_silence_dangling_no_file || bad carve_window_in_silence_dangling_no_file "created"
expect carve_window_in_silence_payload 1 "$PDX" carve --db "$T/slow.db" --filter "id $SLOW" --since "$1" --until "$2" --payload "$T/silence-pl"
same carve_window_in_silence_payload_no_files "$(ls "$T/silence-pl" | wc -l | tr -d ' ')" 0
# ... nor an earlier run's files for that flow, which would describe streams now gone
"$PDX" carve -q --db "$T/slow.db" "$SLOW" --payload "$T/silence-pl2" -o /dev/null
"$PDX" carve -q --db "$T/slow.db" --filter "id $SLOW" --since "$1" --until "$2" --payload "$T/silence-pl2" 2>/dev/null
same carve_window_in_silence_payload_no_stale "$(ls "$T/silence-pl2" | wc -l | tr -d ' ')" 0
# A FIFO's reader gets the end (no bytes) instead of waiting for ever.
mkfifo "$T/silence-fifo"
timeout 60 cat "$T/silence-fifo" >"$T/silence-fifo.out" &
expect carve_window_in_silence_fifo 1 "$PDX" carve --db "$T/slow.db" --filter "id $SLOW" --since "$1" --until "$2" -o "$T/silence-fifo"
wait $!
same carve_window_in_silence_fifo_reader_ends "$?:$(wc -c <"$T/silence-fifo.out" | tr -d ' ')" "0:0"
# No window: a flow ID that is no flow is exit 1 without the window's note.
expect carve_unknown_id_no_window_note 1 "$PDX" carve --db "$T/slow.db" "$SLOW" 99999999 -o "$T/none2.pcap"
hasnt carve_unknown_id_no_window_note_msg "$T/err" "between --since and --until"
A1=$(awk -v t="$1" 'BEGIN { printf "%.6f", t - 1 }') B1=$(awk -v t="$2" 'BEGIN { printf "%.6f", t + 1 }')
expect carve_window_around_silence 0 "$PDX" carve --db "$T/slow.db" --filter "id $SLOW" --since "$A1" --until "$B1" -o "$T/around.pcap"
same carve_window_around_silence_packets "$(tshark -n -r "$T/around.pcap" 2>/dev/null | wc -l | tr -d ' ')" \
    "$(tshark -n -r "$T/slow-flow.pcap" -T fields -e frame.time_epoch 2>/dev/null | awk -v a="$A1" -v b="$B1" '$1 >= a && $1 <= b' | wc -l | tr -d ' ')"
# Captures that went away or changed.
mkdir -p "$T/arch"
for f in $ROT; do cp "$f" "$T/arch/"; done
"$PDX" index -q --db "$T/arch.db" "$T/arch"
expect verify_clean 0 "$PDX" verify --db "$T/arch.db"
has verify_clean_pages "$T/err" "pages and B-trees are sound"
# A damaged page of the index (the interfaces table's root): exit 3, one line.
cp "$T/arch.db" "$T/pagebad.db"
python3 - "$T/pagebad.db" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'interfaces'").fetchone()[0]
size = c.execute("PRAGMA page_size").fetchone()[0]
c.close()
with open(sys.argv[1], "r+b") as f:
    f.seek((root - 1) * size)
    f.write(b"\x0d\xff\xff\xff" * 8)
PYEOF
expect verify_damaged_page 3 "$PDX" verify --db "$T/pagebad.db"
has verify_damaged_page_msg "$T/err" "^pcapdex verify: error: .*pagebad.db: the index is damaged: Page [0-9]+"
same verify_damaged_page_one_line "$(wc -l <"$T/err" | tr -d ' ')" 1
VICTIM=$(q "$T/arch.db" "SELECT c.path FROM packets p JOIN captures c ON c.id = p.capture_id WHERE p.flow_id = $BIG ORDER BY c.id DESC LIMIT 1")
mv "$VICTIM" "$VICTIM.moved"
expect carve_missing_capture 6 "$PDX" carve --db "$T/arch.db" "$BIG" -o "$T/miss.pcap"
has carve_missing_names_it "$T/err" "$(basename "$VICTIM"): missing"
[ ! -e "$T/miss.pcap" ] && ok carve_missing_writes_nothing || bad carve_missing_writes_nothing "file written"
expect carve_partial 6 "$PDX" carve --db "$T/arch.db" "$BIG" --partial -o "$T/part.pcap"
PN=$(tcpdump -nn -r "$T/part.pcap" 2>/dev/null | wc -l)
AN=$(tcpdump -nn -r "$T/big-rot.pcap" 2>/dev/null | wc -l)
[ "$PN" -gt 0 ] && [ "$PN" -lt "$AN" ] && ok carve_partial_carves_the_rest || bad carve_partial_carves_the_rest "$PN of $AN"
# --split too: every flow is written from what is there, and the exit still says 6.
expect carve_partial_split 6 "$PDX" carve --db "$T/arch.db" --filter "id $BIG" --partial --split "$T/partsplit"
[ -s "$T/partsplit/$BIG.pcap" ] && ok carve_partial_split_written || bad carve_partial_split_written "$(ls "$T/partsplit")"
expect verify_missing 6 "$PDX" verify --db "$T/arch.db"
has verify_names_missing "$T/out" "$(basename "$VICTIM"): missing"
# a path with a newline in it is still one line, escaped as messages are
mkdir -p "$T/nl/a
b"
cp "$T/one.pcap" "$T/nl/a
b/x.pcap"
"$PDX" index -q --db "$T/nl.db" "$T/nl/a
b/x.pcap"
rm -f "$T/nl/a
b/x.pcap"
expect verify_newline_path 6 "$PDX" verify --db "$T/nl.db"
same verify_newline_path_one_line "$(wc -l <"$T/out" | tr -d ' ')" 1
has verify_newline_path_escaped "$T/out" 'nl/a\\nb/x\.pcap: missing'
# a tab and a backslash in a path: packets escapes them (\t, \\), so that each
# line keeps its three fields; a message writes the backslash as \\ too
TB=$(printf '%s/tb/a\tb\\c' "$T")
mkdir -p "$TB"
cp "$(echo "$ROT" | head -n 1)" "$TB/x.pcap"
"$PDX" index -q --db "$T/tb.db" "$TB/x.pcap"
expect packets_tab_backslash_path 0 "$PDX" packets --db "$T/tb.db" --all
same packets_tab_backslash_three_fields "$(awk -F'\t' 'NF != 3' "$T/out" | wc -l | tr -d ' ')" 0
same packets_tab_backslash_every_packet "$(wc -l <"$T/out" | tr -d ' ')" "$(q "$T/tb.db" "SELECT packets FROM captures")"
same packets_tab_backslash_escaped "$(cut -f2 "$T/out" | sort -u)" "$(printf '%s/tb/a\\tb\\\\c/x.pcap' "$T")"
expect message_backslash_path 4 "$PDX" index --db "$T/tb.db" "$TB/nope.pcap"
has message_backslash_escaped "$T/err" "$(printf '/tb/a\tb')"'\\\\c/nope\.pcap: '
mv "$VICTIM.moved" "$VICTIM"
dd if=/dev/zero of="$VICTIM" bs=1 seek=100 count=64 conv=notrunc 2>/dev/null
expect carve_changed_capture 6 "$PDX" carve --db "$T/arch.db" "$BIG" -o "$T/chg.pcap"
has carve_changed_names_it "$T/err" "$(basename "$VICTIM"): changed since it was indexed"

# ---- a capture past 4 GiB ----------------------------------------------------------------
# The same traffic as a pcapng file, and with 4.5 GiB of skipped blocks in the
# middle that are holes in the file (no disk): the same flows, offsets past
# 2^32 that are exact, and byte-identical carves.
HUGE_SKIP=0
"$GEN" traffic -o "$T/h0.pcapng" --format pcapng --packets 4000 --concurrent 20 --seed 7 >/dev/null 2>&1 &&
    "$GEN" traffic -o "$T/h1.pcapng" --format pcapng --packets 4000 --concurrent 20 --seed 7 \
        --sparse-gap 4500M >/dev/null 2>&1 || bad huge_fixture "pcapgen failed"
if [ "$(du -k "$T/h1.pcapng" | cut -f1)" -gt 102400 ]; then
    echo "skip huge: the file system here stores no holes"
    rm -f "$T/h1.pcapng"
    HUGE_SKIP=6
else
    same huge_is_past_4gib "$(($(wc -c <"$T/h1.pcapng") > 4294967296))" 1
    expect huge_index 0 "$PDX" index -q --db "$T/h1.db" "$T/h1.pcapng"
    "$PDX" index -q --db "$T/h0.db" "$T/h0.pcapng"
    same huge_same_flows "$(flows_of "$T/h1.db" | md5sum)" "$(flows_of "$T/h0.db" | md5sum)"
    HB=$(q "$T/h0.db" "SELECT id FROM flows ORDER BY src_packets + dst_packets DESC, id LIMIT 1")
    "$PDX" packets --db "$T/h1.db" "$HB" >"$T/h1.pk"
    [ "$(awk -F'\t' '$3 > 4294967296' "$T/h1.pk" | wc -l)" -gt 0 ] && ok huge_offsets_past_4gib ||
        bad huge_offsets_past_4gib "flow $HB has no packet past 4 GiB"
    python3 - "$T/h1.pcapng" "$T/h1.pk" <<'PYEOF' && ok huge_offsets_exact || bad huge_offsets_exact "an offset is not an EPB"
import struct, sys
with open(sys.argv[1], "rb") as f:
    for line in open(sys.argv[2]):
        f.seek(int(line.split("\t")[2]))
        assert struct.unpack("<I", f.read(4))[0] == 6
PYEOF
    expect huge_carve 0 "$PDX" carve --db "$T/h1.db" "$HB" -o "$T/h1.pcap"
    "$PDX" carve --db "$T/h0.db" "$HB" -o "$T/h0.pcap" 2>/dev/null
    cmp -s "$T/h1.pcap" "$T/h0.pcap" && ok huge_carve_same_bytes || bad huge_carve_same_bytes "the carves differ"
    rm -f "$T/h1.pcapng"
fi

# ---- libpcap and libcrypto are opened by the commands that need them ---------------------
# Not at start (lib/dynlib.h): a query loads neither, an index both (libpcap
# only with --filter), a carve libcrypto for the fingerprints.
needed=$(objdump -p "$PDX" 2>/dev/null | sed -n 's/^ *NEEDED *//p' | tr '\n' ' ')
case $needed in
*libsqlite3*) case $needed in *libpcap* | *libcrypto*) bad lazy_libs_not_needed "$needed" ;; *) ok lazy_libs_not_needed ;; esac ;;
*) bad lazy_libs_not_needed "objdump -p gave: $needed" ;;
esac
loaded() { LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -o 'file=lib\(pcap\|crypto\)\.so' | sort -u | sed 's/^file=//; s/\.so$//' | tr '\n' ' '; }
same lazy_query_loads_none "$(loaded "$PDX" query --db "$T/r.db" --count tcp)" ""
same lazy_index_filter_loads_both "$(loaded "$PDX" index -q --db "$T/lazy.db" --filter tcp "$T/one.pcap")" \
    "libcrypto libpcap "
same lazy_index_loads_crypto "$(loaded "$PDX" index -q --db "$T/lazy2.db" "$T/one.pcap")" "libcrypto "

# ---- timestamps that go backwards: where the files are cut changes no flow ----------
# H2's packet comes in older than H's, so H2 is idle behind H in the order of
# use; the clock then moves and H is used again.  One file and the same
# packets cut in two (one run) must give the same flows: a sweep at the cut
# used to end H2 there, and its last packet started a second flow.
python3 - "$T/ooo" <<'PYEOF' || bad ooo_fixture "cannot write the captures"
import os, struct, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
def pkt(ts, sport):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0,
                     bytes([10, 0, 0, sport // 1000]), bytes([10, 0, 0, 9]))
    frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + struct.pack("!HHHH", sport, 53, 8, 0)
    return struct.pack("<IIII", 1700000000 + ts, 0, len(frame), len(frame)) + frame
hdr = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
recs = [pkt(10, 1000), pkt(5, 2000), pkt(14, 3000), pkt(14, 1000), pkt(14, 2000)]
open(os.path.join(d, "one.pcap"), "wb").write(hdr + b"".join(recs))
open(os.path.join(d, "a.pcap"), "wb").write(hdr + b"".join(recs[:4]))
open(os.path.join(d, "b.pcap"), "wb").write(hdr + recs[4])
PYEOF
"$PDX" index -q --idle-timeout 8 --db "$T/ooo1.db" "$T/ooo/one.pcap"
"$PDX" index -q --idle-timeout 8 --db "$T/ooo2.db" "$T/ooo/a.pcap" "$T/ooo/b.pcap"
FLOWS_OOO="SELECT src_port || ':' || (src_packets + dst_packets) FROM flows ORDER BY 1"
same ooo_one_file "$(q "$T/ooo1.db" "$FLOWS_OOO" | tr '\n' ' ')" "1000:2 2000:2 3000:1 "
same ooo_cut_same_flows "$(q "$T/ooo2.db" "$FLOWS_OOO" | tr '\n' ' ')" "1000:2 2000:2 3000:1 "

# ---- the progress line on a terminal ----------------------------------------------------
# (script(1) gives pcapdex a terminal.)  Reading shows a percentage; then the
# rows of the flows the capture leaves open, which for many short flows take
# most of the time, are counted.
SKIPPED=0
if command -v script >/dev/null 2>&1; then
    "$GEN" dns -o "$T/prog.pcap" --flows 80000 --seed 9 >/dev/null 2>&1 || bad progress_fixture "pcapgen failed"
    script -qfec "'$PDX' index --db '$T/prog.db' '$T/prog.pcap'" /dev/null 2>&1 | tr '\r' '\n' >"$T/prog.out"
    has progress_counts_rows "$T/prog.out" "prog.pcap read  160000 packets  writing flows: [0-9]+ of 80000"
    has progress_summary "$T/prog.out" "1 captures indexed.*80000 flows"
    same progress_indexed "$(q "$T/prog.db" "SELECT count(*) FROM flows")" 80000
else
    echo "skip progress: no script(1)"
    SKIPPED=3
fi

finish cli "$((SKIPPED + HUGE_SKIP))"
