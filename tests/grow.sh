#!/bin/sh
# grow.sh - a capture indexed while its writer was not done (a run from cron,
# or --watch after a pause), which then grows: when it is the last capture
# indexed and the bytes that were indexed are still its start, the next run
# indexes its new records into the same capture.  The index must then be the
# one that indexing the finished file at once gives: the same flows, IDs,
# offsets, capture row, sections and interfaces, and rollups that agree;
# also when the cut fell inside a record (indexed up to the damage first),
# for pcap and pcapng, in several steps, with --jobs 1 and 2, with the
# next rotated file indexed after it, and for crafted cuts: times that go
# backwards, a fragmented datagram cut in two, a file of only its header.
# Usage: tests/grow.sh BUILD_DIR.  Ends with "grow: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"
flows() { q "$1" "SELECT * FROM flows ORDER BY id"; }
caprow() { q "$1" "SELECT id, size, fingerprint, format, linktypes, first_ns, last_ns, packets, bytes,
                   cap_bytes, truncated, invalid, status, warnings, raw_size FROM captures ORDER BY id;
                   SELECT * FROM sections ORDER BY 1, 2; SELECT * FROM interfaces ORDER BY 1, 2"; }
offsets() { "$PDX" packets --db "$1" --all | cut -f 1,3; }

# compare NAME GROWN_DB WHOLE_DB: the two indexes hold the same.
compare() {
    same "${1}_flows" "$(flows "$2" | md5sum)" "$(flows "$3" | md5sum)"
    same "${1}_offsets" "$(offsets "$2" | md5sum)" "$(offsets "$3" | md5sum)"
    same "${1}_capture" "$(caprow "$2" | md5sum)" "$(caprow "$3" | md5sum)"
    expect "${1}_verify" 0 "$PDX" verify --db "$2"
    has "${1}_rollups" "$T/err" "rollups agree with the flows"
}

"$GEN" traffic -o "$T/full.pcap" --packets 12000 --concurrent 120 --seed 12 >/dev/null 2>&1
"$GEN" traffic -o "$T/full.pcapng" --format pcapng --packets 12000 --concurrent 120 --seed 13 \
    >/dev/null 2>&1
for ext in pcap pcapng; do
    size=$(wc -c <"$T/full.$ext")
    mkdir -p "$T/w_$ext"
    cp "$T/full.$ext" "$T/w_$ext/cap.$ext"
    "$PDX" index -q --db "$T/whole_$ext.db" "$T/w_$ext/cap.$ext"
    for jobs in 1 2; do
        # Three steps: cut at a third and at two thirds (inside records).
        d="$T/g_${ext}_$jobs"
        mkdir -p "$d"
        head -c $((size / 3)) "$T/full.$ext" >"$d/cap.$ext"
        expect "grow_${ext}_j${jobs}_first" 5 "$PDX" index --jobs "$jobs" --db "$d.db" "$d/cap.$ext"
        has "grow_${ext}_j${jobs}_first_damaged" "$T/err" "indexed up to the damage"
        tail -c +$((size / 3 + 1)) "$T/full.$ext" | head -c $((size / 3)) >>"$d/cap.$ext"
        expect "grow_${ext}_j${jobs}_second" 5 "$PDX" index --jobs "$jobs" --db "$d.db" "$d/cap.$ext"
        has "grow_${ext}_j${jobs}_second_note" "$T/err" "cap.$ext: grew since it was indexed: its [0-9]+ new packets are indexed into capture 1"
        tail -c +$((2 * (size / 3) + 1)) "$T/full.$ext" >>"$d/cap.$ext"
        expect "grow_${ext}_j${jobs}_third" 0 "$PDX" index --jobs "$jobs" --json --db "$d.db" "$d/cap.$ext"
        has "grow_${ext}_j${jobs}_json" "$T/out" '"captures_indexed":1,.*"captures_resumed":1,'
        # The whole file's index was made under another name: the paths differ.
        sqlite3 "$d.db" "UPDATE captures SET path = '$T/w_$ext/cap.$ext'"
        compare "grow_${ext}_j${jobs}" "$d.db" "$T/whole_$ext.db"
        expect "grow_${ext}_j${jobs}_rerun" 0 "$PDX" index --jobs "$jobs" --json --db "$d.db" "$T/w_$ext/cap.$ext"
        has "grow_${ext}_j${jobs}_rerun_skips" "$T/out" '"captures_indexed":0,"captures_skipped":1,'
    done
done

# A flow that crosses the cut carves to the same bytes as from the whole index.
F=$(q "$T/g_pcap_1.db" "SELECT id FROM flows WHERE src_packets + dst_packets > 50 ORDER BY id LIMIT 1")
expect grow_carve 0 "$PDX" carve --db "$T/g_pcap_1.db" -o "$T/c1.pcap" "$F"
expect grow_carve_whole 0 "$PDX" carve --db "$T/whole_pcap.db" -o "$T/c2.pcap" "$F"
cmp -s "$T/c1.pcap" "$T/c2.pcap" && ok grow_carve_bytes || bad grow_carve_bytes "differ"

# Grown, then the next rotated file: flows go on from the grown capture into
# the next one as from the finished file.
"$GEN" split "$T/full.pcap" -o "$T/rot" --count 6000 >/dev/null 2>&1
mkdir -p "$T/r1" "$T/r2"
cp "$T/rot000.pcap" "$T/r1/a.pcap"
cp "$T/rot001.pcap" "$T/r1/b.pcap"
"$PDX" index -q --db "$T/r1.db" "$T/r1/a.pcap" "$T/r1/b.pcap"
asize=$(wc -c <"$T/rot000.pcap")
head -c $((asize / 2)) "$T/rot000.pcap" >"$T/r2/a.pcap"
"$PDX" index -q --db "$T/r2.db" "$T/r2/a.pcap" 2>/dev/null
tail -c +$((asize / 2 + 1)) "$T/rot000.pcap" >>"$T/r2/a.pcap"
cp "$T/rot001.pcap" "$T/r2/b.pcap"
expect grow_then_next 0 "$PDX" index --db "$T/r2.db" "$T/r2/a.pcap" "$T/r2/b.pcap"
sqlite3 "$T/r2.db" "UPDATE captures SET path = replace(path, '/r2/', '/r1/')"
compare grow_then_next "$T/r2.db" "$T/r1.db"
# Crafted cases, each cut where the index must carry something over:
#  ooo:    times that go backwards (a flow's idle turn depends on the order
#          its packets came in, which a new run must rebuild);
#  frag:   a datagram's first fragment (with the ports) before the cut and
#          a later one after it;
#  header: a file that held only its header when it was first indexed.
python3 - "$T" <<'PYEOF'
import struct, sys
d = sys.argv[1]
def ip(a): return bytes(int(x) for x in a.split('.'))
def frame(src, dst, payload, ident=1, frag=0, mf=0, sport=None, dport=None):
    if sport is not None:
        payload = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    iph = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident,
                      (0x2000 if mf else 0) | (frag // 8), 64, 17, 0, ip(src), ip(dst))
    return b'\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00' + iph + payload
def write(name, recs):
    out = bytearray(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    cut = None
    for t, f, mark in recs:
        out += struct.pack('<IIII', 1700000000 + t, 0, len(f), len(f)) + f
        if mark:
            cut = len(out)
    open('%s/%s.pcap' % (d, name), 'wb').write(out)
    open('%s/%s.cut' % (d, name), 'w').write(str(cut if cut is not None else 24))
write('ooo', [(100, frame('10.0.0.1', '10.0.0.2', b'a', sport=1000, dport=53), 0),
              (50, frame('10.0.0.3', '10.0.0.4', b'b', sport=2000, dport=53), 1),
              (175, frame('10.0.0.5', '10.0.0.6', b'c', sport=3000, dport=53), 0),
              (180, frame('10.0.0.3', '10.0.0.4', b'd', sport=2000, dport=53), 0)])
l4 = struct.pack('!HHHH', 5000, 53, 48, 0) + b'x' * 40
write('frag', [(1, frame('10.0.0.1', '10.0.0.2', l4[:24], ident=77, mf=1), 0),
               (2, frame('10.0.0.9', '10.0.0.8', b'z', sport=1, dport=2), 1),
               (3, frame('10.0.0.1', '10.0.0.2', l4[24:], ident=77, frag=24), 0)])
write('header', [(1, frame('10.0.0.1', '10.0.0.2', b'q', sport=7, dport=8), 0),
                 (2, frame('10.0.0.1', '10.0.0.2', b'r', sport=7, dport=8), 0)])
PYEOF
for c in ooo frag header; do
    mkdir -p "$T/c_$c"
    cp "$T/$c.pcap" "$T/c_$c/cap.pcap"
    "$PDX" index -q --idle-timeout 100 --db "$T/c_${c}_whole.db" "$T/c_$c/cap.pcap"
    head -c "$(cat "$T/$c.cut")" "$T/$c.pcap" >"$T/c_$c/cap.pcap"
    "$PDX" index -q --idle-timeout 100 --db "$T/c_$c.db" "$T/c_$c/cap.pcap"
    cp "$T/$c.pcap" "$T/c_$c/cap.pcap"
    expect "grow_${c}_resumed" 0 "$PDX" index --json --idle-timeout 100 --db "$T/c_$c.db" "$T/c_$c/cap.pcap"
    has "grow_${c}_resumed_json" "$T/out" '"captures_indexed":1,.*"captures_replaced":0,.*"captures_resumed":1,'
    compare "grow_$c" "$T/c_$c.db" "$T/c_${c}_whole.db"
done
# The summary of a run that takes up a grown capture counts what that run
# read (records, filtered ones too, and their bytes), so that the two runs
# add up to indexing the finished file at once, also under --filter.
jsum() { python3 -c 'import json, sys
t = [0, 0, 0]
for f in sys.argv[1:]:
    d = json.load(open(f))
    t = [t[0] + d["packets"], t[1] + d["packets_filtered"], t[2] + d["bytes"]]
print(*t)' "$@"; }
mkdir -p "$T/flt"
head -c $(($(wc -c <"$T/full.pcap") / 2)) "$T/full.pcap" >"$T/flt/cap.pcap"
"$PDX" index --json --filter udp --db "$T/flt.db" "$T/flt/cap.pcap" >"$T/flt1.json" 2>/dev/null
cp "$T/full.pcap" "$T/flt/cap.pcap"
expect grow_filter_resumed 0 "$PDX" index --json --filter udp --db "$T/flt.db" "$T/flt/cap.pcap"
cp "$T/out" "$T/flt2.json"
has grow_filter_resumed_json "$T/out" '"captures_resumed":1,'
"$PDX" index --json --filter udp --db "$T/fltw.db" "$T/full.pcap" >"$T/fltw.json" 2>/dev/null
same grow_filter_counts_add_up "$(jsum "$T/flt1.json" "$T/flt2.json")" "$(jsum "$T/fltw.json")"
same grow_filter_some_filtered "$(jsum "$T/flt2.json" | awk '{ print ($2 > 0) }')" 1

finish grow
