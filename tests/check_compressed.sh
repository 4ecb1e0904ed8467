#!/bin/sh
# check_compressed.sh - compressed captures index to the same flows as the
# originals and carve to identical bytes: the corpus's gzip captures (beside
# their decompressed copies), generated rotated sets compressed with
# "pcapdex compress" into seekable zstd, a plain (non-seekable) zstd file,
# and corrupt frames and damaged seek tables that must be detected.
# Usage: tests/check_compressed.sh BUILD_DIR [CORPUS_DIR].
# Ends with "compressed: N passed, N failed, N skipped".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${2:-$TOP/../shared/corpus}
. "$TOP/tests/testlib.sh"
SKIP=0
flows() {
    q "$1" "SELECT id, proto, hex(src_ip), src_port, hex(dst_ip), dst_port, first_ns, last_ns,
            src_packets, src_bytes, dst_packets, dst_bytes, end_reason FROM flows ORDER BY id"
    "$PDX" packets --db "$1" --all | cut -f1,3
}

# ---- the corpus's gzip captures ------------------------------------------------------
if [ -f "$CORPUS/catalog.tsv" ]; then
    n=0
    for gz in $(awk -F'\t' 'NR > 1 && $3 ~ /gzip-compressed/ { print $1 }' "$CORPUS/catalog.tsv"); do
        n=$((n + 1))
        plain="$CORPUS/${gz%.gz}"
        [ -f "$plain" ] || { SKIP=$((SKIP + 1)); continue; }
        name=$(basename "$gz")
        "$PDX" index -q --db "$T/g$n.db" "$CORPUS/$gz" 2>/dev/null
        rg=$?
        "$PDX" index -q --db "$T/p$n.db" "$plain" 2>/dev/null
        rp=$?
        if [ "$rg" -ne "$rp" ]; then
            bad "gzip_$name" "exit $rg for the .gz, $rp for the plain copy"
            continue
        fi
        if [ "$(flows "$T/g$n.db")" = "$(flows "$T/p$n.db")" ]; then ok "gzip_$name"; else
            bad "gzip_$name" "flows or offsets differ from the decompressed copy"; fi
        "$PDX" carve -q --db "$T/g$n.db" --filter "" -o "$T/g$n.pcapng" --format pcapng 2>/dev/null
        "$PDX" carve -q --db "$T/p$n.db" --filter "" -o "$T/p$n.pcapng" --format pcapng 2>/dev/null
        cmp -s "$T/g$n.pcapng" "$T/p$n.pcapng" && ok "gzip_carve_$name" || bad "gzip_carve_$name" "carved files differ"
        rm -f "$T/g$n.db"* "$T/p$n.db"* "$T"/*.pcapng
    done
else
    echo "no corpus at $CORPUS: gzip captures skipped"
    SKIP=$((SKIP + 1))
fi

# ---- generated rotated sets, compressed --------------------------------------------------
mkdir -p "$T/plain" "$T/z"
"$GEN" traffic -o "$T/all.pcap" --packets 60000 --concurrent 300 --seed 5 >/dev/null 2>&1
"$GEN" split "$T/all.pcap" -o "$T/plain/r" --count 12000 >/dev/null 2>&1
for f in "$T"/plain/r*.pcap; do cp "$f" "$T/z/"; done
"$PDX" index -q --db "$T/plain.db" "$T"/plain/r*.pcap
"$PDX" index -q --db "$T/z.db" "$T"/z/r*.pcap
"$PDX" compress -q --db "$T/z.db" --remove --frame-size 256K "$T"/z/r*.pcap
# --frame-size: 64K frames over the whole capture, and sizes out of range
cp "$T/all.pcap" "$T/fs.pcap"
"$PDX" compress --db "$T/fs.db" --frame-size 64K "$T/fs.pcap" >"$T/fs.out" 2>&1
fr=$(sed -n 's/.*saved, \([0-9]*\) frames).*/\1/p' "$T/fs.out" | head -n 1)
want=$(( ($(wc -c <"$T/fs.pcap") + 65535) / 65536 ))
[ "${fr:-0}" -eq "$want" ] && ok frame_size_64k || bad frame_size_64k "${fr:-no} frames, wanted $want: $(head -c 200 "$T/fs.out")"
for v in 2K 65M 1x ""; do
    "$PDX" compress --db "$T/fs.db" --frame-size "$v" "$T/fs.pcap" >/dev/null 2>"$T/err"
    [ $? -eq 2 ] && grep -q "frame-size" "$T/err" && ok "frame_size_bad[$v]" || bad "frame_size_bad[$v]" "$(head -c 200 "$T/err")"
done
[ "$(ls "$T"/z/*.pcap.zst | wc -l)" -eq "$(ls "$T"/plain/*.pcap | wc -l)" ] && ok compress_wrote_all || bad compress_wrote_all "$(ls "$T/z")"
[ -z "$(ls "$T"/z/*.pcap 2>/dev/null)" ] && ok compress_removed_originals || bad compress_removed_originals "left"
same_q=$(q "$T/z.db" "SELECT count(*) FROM captures WHERE compression = 'zstd' AND path LIKE '%.zst'")
[ "$same_q" -eq "$(ls "$T"/plain/*.pcap | wc -l)" ] && ok compress_repointed_index || bad compress_repointed_index "$same_q rows"
"$PDX" verify -q --db "$T/z.db" && ok verify_after_compress || bad verify_after_compress "verify failed"
# Without --remove the original stays beside the compressed file: indexing the
# directory again knows it as the content the index already has, also in an
# index made before schema 4 (which migrates to it).
mkdir -p "$T/keep"
cp "$T/plain/r000.pcap" "$T/keep/a.pcap"
cp "$T/plain/r001.pcap" "$T/keep/b.pcap"
"$PDX" index -q --db "$T/keep.db" "$T/keep"
sqlite3 "$T/keep.db" "ALTER TABLE captures DROP COLUMN raw_fingerprint; PRAGMA user_version = 3"
"$PDX" compress -q --db "$T/keep.db" "$T/keep/a.pcap"
"$PDX" index -q --db "$T/keep.db" "$T/keep"
"$PDX" compress -q --db "$T/keep.db" "$T/keep/b.pcap"
"$PDX" index --db "$T/keep.db" "$T/keep" 2>"$T/err"
same compress_original_not_reindexed "$(q "$T/keep.db" "SELECT count(*) FROM captures")" 2
"$PDX" index -q --db "$T/keep-ref.db" "$T/plain/r000.pcap" "$T/plain/r001.pcap"
same compress_original_same_flows "$(q "$T/keep.db" "SELECT count(*), sum(src_packets + dst_packets) FROM flows")" \
    "$(q "$T/keep-ref.db" "SELECT count(*), sum(src_packets + dst_packets) FROM flows")"
grep -q "b.pcap: same content as indexed capture .*b.pcap.zst; skipped" "$T/err" &&
    grep -q "a.pcap: same content as indexed capture .*a.pcap.zst; skipped" "$T/err" &&
    ok compress_original_named || bad compress_original_named "$(head -c 300 "$T/err")"
same compress_raw_fingerprint_kept "$(q "$T/keep.db" "SELECT count(*) FROM captures WHERE raw_fingerprint IS NOT NULL AND raw_fingerprint <> fingerprint")" 2
BIG=$(q "$T/plain.db" "SELECT f.id FROM flows f WHERE (SELECT count(DISTINCT capture_id) FROM packets p WHERE p.flow_id = f.id) >= 2 ORDER BY src_packets + dst_packets DESC LIMIT 1")
"$PDX" carve --db "$T/plain.db" "$BIG" -o "$T/big-plain.pcap"
"$PDX" carve --db "$T/z.db" "$BIG" -o "$T/big-z.pcap" 2>"$T/err"
cmp -s "$T/big-plain.pcap" "$T/big-z.pcap" && ok carve_from_seekable_zstd || bad carve_from_seekable_zstd "differs"
grep -q "seek table" "$T/err" && bad seekable_no_warning "warned: $(cat "$T/err")" || ok seekable_no_warning
"$PDX" carve -q --db "$T/z.db" --filter "" -o "$T/all-z.pcap"
"$PDX" carve -q --db "$T/plain.db" --filter "" -o "$T/all-plain.pcap"
cmp -s "$T/all-z.pcap" "$T/all-plain.pcap" && ok carve_everything_from_zstd || bad carve_everything_from_zstd "differs"
# Indexing the compressed files directly gives the same flows.
"$PDX" index -q --db "$T/zi.db" "$T"/z/r*.pcap.zst
[ "$(flows "$T/zi.db")" = "$(flows "$T/plain.db")" ] && ok index_seekable_zstd_same_flows || bad index_seekable_zstd_same_flows "differ"
# A plain zstd file (no seek table): indexed the same, carved by streaming, with a warning.
zstd -q "$T/all.pcap" -o "$T/all.pcap.zst"
"$PDX" index -q --db "$T/one.db" "$T/all.pcap"
"$PDX" index -q --db "$T/onez.db" "$T/all.pcap.zst"
[ "$(flows "$T/one.db")" = "$(flows "$T/onez.db")" ] && ok index_plain_zstd_same_flows || bad index_plain_zstd_same_flows "differ"
# Frame sizes either side of the reader's buffer: 64K frames are decoded whole
# into it, several to a read; 4M frames do not fit and go through the
# streaming decoder.  Both index as the plain capture does.
"$PDX" index -q --db "$T/fs64.db" "$T/fs.pcap.zst"
[ "$(flows "$T/fs64.db")" = "$(flows "$T/one.db")" ] && ok index_64k_frames_same_flows || bad index_64k_frames_same_flows "differ"
cp "$T/all.pcap" "$T/f4.pcap"
"$PDX" compress -q --frame-size 4M "$T/f4.pcap"
"$PDX" index -q --db "$T/f4.db" "$T/f4.pcap.zst"
[ "$(flows "$T/f4.db")" = "$(flows "$T/one.db")" ] && ok index_4m_frames_same_flows || bad index_4m_frames_same_flows "differ"
"$PDX" carve --db "$T/one.db" "$BIG" -o "$T/o1.pcap" 2>/dev/null
"$PDX" carve --db "$T/onez.db" "$BIG" -o "$T/o2.pcap" 2>"$T/err"
cmp -s "$T/o1.pcap" "$T/o2.pcap" && ok carve_plain_zstd || bad carve_plain_zstd "differs"
grep -q "without a seek table" "$T/err" && ok carve_plain_zstd_warns || bad carve_plain_zstd_warns "no warning"
# zstd --long=31 from a pipe: a 2 GiB window that the reader does not allocate,
# named as such (exit 4), not called corrupt.
zstd -q --long=31 -c <"$T/plain/r000.pcap" >"$T/long.pcap.zst"
"$PDX" index -q --db "$T/long.db" "$T/long.pcap.zst" 2>"$T/err"
rc=$?
[ "$rc" -eq 4 ] && grep -q "needs a window over 128 MiB" "$T/err" && ! grep -q corrupt "$T/err" && ok long_window_named || bad long_window_named "exit $rc: $(cat "$T/err")"
# ---- damage -----------------------------------------------------------------------------
VICTIM=$(ls "$T"/z/*.pcap.zst | head -n 1)
cp "$VICTIM" "$T/victim.bak"
SIZE=$(stat -c %s "$VICTIM")
# A corrupt frame: flip bytes in the middle of the first frame, keep size and mtime.
MT=$(stat -c %y "$VICTIM")
printf 'CORRUPTCORRUPT' | dd of="$VICTIM" bs=1 seek=5000 conv=notrunc 2>/dev/null
touch -d "$MT" "$VICTIM"
V_ID=$(q "$T/z.db" "SELECT id FROM captures WHERE path = '$VICTIM'")
VF=$(q "$T/z.db" "SELECT flow_id FROM packets WHERE capture_id = $V_ID ORDER BY first_offset LIMIT 1")
"$PDX" carve --db "$T/z.db" "$VF" -o "$T/bad.pcap" 2>"$T/err"
rc=$?
[ "$rc" -eq 6 ] && grep -q "frame 0" "$T/err" && ok corrupt_frame_detected || bad corrupt_frame_detected "exit $rc: $(cat "$T/err")"
[ ! -e "$T/bad.pcap" ] && ok corrupt_frame_writes_nothing || bad corrupt_frame_writes_nothing "written"
# Indexing it: the first frame holds the file header, so the capture is unreadable.
"$PDX" index -q --db "$T/bad.db" "$VICTIM" 2>"$T/err"
rc=$?
[ "$rc" -eq 4 ] && grep -q "corrupt zstd" "$T/err" && ok corrupt_first_frame_unreadable || bad corrupt_first_frame_unreadable "exit $rc: $(cat "$T/err")"
# A corrupt later frame: indexed up to the damage, with a warning.
cp "$T/victim.bak" "$T/late.pcap.zst"
printf 'CORRUPTCORRUPT' | dd of="$T/late.pcap.zst" bs=1 seek=$((SIZE / 2)) conv=notrunc 2>/dev/null
"$PDX" index -q --db "$T/late.db" "$T/late.pcap.zst" 2>"$T/err"
rc=$?
[ "$rc" -eq 5 ] && grep -q "corrupt zstd" "$T/err" && ok corrupt_frame_index_warns || bad corrupt_frame_index_warns "exit $rc: $(cat "$T/err")"
[ "$(q "$T/late.db" "SELECT status FROM captures")" = damaged ] && [ "$(q "$T/late.db" "SELECT packets > 0 FROM captures")" = 1 ] && ok corrupt_frame_indexed_up_to_it || bad corrupt_frame_indexed_up_to_it "$(q "$T/late.db" "SELECT status, packets FROM captures")"
cp "$T/victim.bak" "$VICTIM"
touch -d "$MT" "$VICTIM"
# A damaged seek table: its frame count no longer matches the file.
printf '\377' | dd of="$VICTIM" bs=1 seek=$((SIZE - 9)) conv=notrunc 2>/dev/null
touch -d "$MT" "$VICTIM"
"$PDX" carve --db "$T/z.db" "$VF" -o "$T/bad.pcap" 2>"$T/err"
rc=$?
[ "$rc" -eq 6 ] && grep -q "seek table" "$T/err" && ok damaged_seek_table_detected || bad damaged_seek_table_detected "exit $rc: $(cat "$T/err")"
# A seek table whose first entry claims 4096 more uncompressed bytes: later
# frames still decompress, but every one of them would be placed 4 KiB off.
cp "$T/victim.bak" "$VICTIM"
python3 - "$VICTIM" <<'PY'
import struct, sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(-9, 2)
    n, desc, _ = struct.unpack('<IBI', f.read(9))
    es = 12 if desc & 0x80 else 8
    f.seek(-(9 + n * es) + 4, 2)
    raw, = struct.unpack('<I', f.read(4))
    f.seek(-4, 1)
    f.write(struct.pack('<I', raw + 4096))
PY
touch -d "$MT" "$VICTIM"
# a flow whose packets all lie past the first frame
VL=$(q "$T/z.db" "SELECT flow_id FROM packets WHERE capture_id = $V_ID GROUP BY flow_id
                  HAVING min(first_offset) > 2 * 1048576 ORDER BY flow_id LIMIT 1")
"$PDX" carve --db "$T/z.db" "$VL" -o "$T/bad.pcap" 2>"$T/err"
rc=$?
[ "$rc" -eq 6 ] && grep -q "seek table describes" "$T/err" && ok seek_table_raw_size_detected || bad seek_table_raw_size_detected "exit $rc: $(cat "$T/err")"
[ ! -e "$T/bad.pcap" ] && ok seek_table_raw_size_writes_nothing || bad seek_table_raw_size_writes_nothing "written"
# A truncated file: the identity check catches it before any read.
cp "$T/victim.bak" "$VICTIM"
truncate -s $((SIZE - 20)) "$VICTIM"
"$PDX" carve --db "$T/z.db" "$VF" -o "$T/bad.pcap" 2>"$T/err"
rc=$?
[ "$rc" -eq 6 ] && ok truncated_seek_table_detected || bad truncated_seek_table_detected "exit $rc: $(cat "$T/err")"

# A compressed capture cut short is indexed up to where its data ends, like a
# truncated plain capture: the same packets as the prefix that decompresses,
# a warning naming that offset, exit 5.  One cut before the capture's header
# is an error also when found in a directory (a .gz that is no capture is
# passed over there).
mkdir -p "$T/cut" "$T/cutdir"
gzip -c "$T/plain/r000.pcap" >"$T/cut/whole.gz"
zstd -q -c "$T/plain/r000.pcap" >"$T/cut/whole.zst"
for k in gz zst; do
    whole=$(wc -c <"$T/cut/whole.$k")
    head -c $((whole * 2 / 3)) "$T/cut/whole.$k" >"$T/cut/r.pcap.$k"
    case $k in gz) gzip -dc "$T/cut/r.pcap.$k" >"$T/cut/prefix-$k.pcap" 2>/dev/null ;;
    zst) zstd -dcq "$T/cut/r.pcap.$k" >"$T/cut/prefix-$k.pcap" 2>/dev/null ;; esac
    "$PDX" index --db "$T/cut-$k.db" "$T/cut/r.pcap.$k" 2>"$T/err"
    same "cut_$k""_exit" "$?" 5
    has "cut_$k""_warns" "$T/err" "r.pcap.$k: offset [0-9]+: .*compressed data ends early.*indexed up to the damage"
    "$PDX" index -q --db "$T/cut-$k-ref.db" "$T/cut/prefix-$k.pcap" 2>/dev/null
    got=$(q "$T/cut-$k.db" "SELECT packets FROM captures")
    ref=$(q "$T/cut-$k-ref.db" "SELECT packets FROM captures")
    [ "${got:-0}" -gt 0 ] && [ "$got" -eq "$ref" ] &&
        ok "cut_$k""_indexes_what_decompresses" || bad "cut_$k""_indexes_what_decompresses" "$got packets, the prefix has $ref"
    # The flows nearest the cut carve from it, the same bytes as from the prefix.
    nd=0
    for id in $(q "$T/cut-$k.db" "SELECT id FROM flows ORDER BY last_ns DESC LIMIT 5"); do
        "$PDX" carve -q --db "$T/cut-$k.db" "$id" -o "$T/cut/c.pcap" 2>>"$T/cut/err" &&
            "$PDX" carve -q --db "$T/cut-$k-ref.db" "$id" -o "$T/cut/p.pcap" 2>>"$T/cut/err" &&
            cmp -s "$T/cut/c.pcap" "$T/cut/p.pcap" || nd=$((nd + 1))
    done
    same "cut_$k""_carves_before_the_damage" "$nd" 0
    head -c 20 "$T/cut/whole.$k" >"$T/cutdir/tiny.pcap.$k"
done
echo "not a capture" | gzip >"$T/cutdir/notes.txt.gz"
seq 1 200000 | gzip | head -c 100000 >"$T/cutdir/log.txt.gz"
"$PDX" index --db "$T/cutdir.db" "$T/cutdir" 2>"$T/err"
same cut_early_in_directory_exit "$?" 4
has cut_early_in_directory_named_gz "$T/err" "tiny.pcap.gz: compressed data ends early"
has cut_early_in_directory_named_zst "$T/err" "tiny.pcap.zst: compressed data ends early"
hasnt cut_directory_not_capture_quiet "$T/err" "notes.txt.gz:"
hasnt cut_directory_cut_not_capture_quiet "$T/err" "log.txt.gz:"

finish compressed "$SKIP"
