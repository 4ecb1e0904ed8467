#!/bin/sh
# grow.sh - a capture indexed while its writer was not done (a run from cron,
# or --watch after a pause), which then grows: when it is the last capture
# indexed and the bytes that were indexed are still its start, the next run
# indexes its new records into the same capture.  The index must then be the
# one that indexing the finished file at once gives: the same flows, IDs,
# offsets, capture row, sections and interfaces, and rollups that agree;
# also when the cut fell inside a record (indexed up to the damage first),
# for pcap and pcapng, in several steps, with --jobs 1 and 2, and with the
# next rotated file indexed after it.
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
finish grow
