#!/bin/sh
# cli_errors.sh - a carve to stdout that fails twice: a write to stdout that
# fails (here /dev/full) is reported with its errno even when the carve
# failed for another reason first (a capture changed, the index disagrees);
# each failure gets its one line and the exit code is the first one's.
# Usage: tests/cli_errors.sh BUILD_DIR.  Ends with "errors: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"

if [ ! -w /dev/full ]; then
    ok dev_full_skipped
    finish errors 1
fi

# ---- fixtures -----------------------------------------------------------------
# A capture cut in five, so that flows span captures; a flow small enough that
# its carve fits stdout's buffer (1 MiB), so that the write fails when stdout
# is flushed, after the carve has checked every record.
mkdir -p "$T/arch"
"$GEN" traffic -o "$T/one.pcap" --packets 20000 --concurrent 200 --seed 7 >/dev/null 2>&1 &&
    "$GEN" split "$T/one.pcap" -o "$T/arch/rot" --count 4000 >/dev/null 2>&1 ||
    bad fixtures "pcapgen failed"
DB="$T/a.db"
expect index_fixtures 0 "$PDX" index -q --db "$DB" "$T/arch"
FLOW=$(q "$DB" "SELECT id FROM flows WHERE proto = 6 AND first_capture <> last_capture AND src_bytes + dst_bytes < 500000 ORDER BY src_packets + dst_packets DESC LIMIT 1")
[ -n "$FLOW" ] && ok flow_found || bad flow_found "no TCP flow over two captures"
"$PDX" packets --db "$DB" "$FLOW" >"$T/packets"
LASTCAP=$(tail -n 1 "$T/packets" | cut -f 2)
LASTOFF=$(tail -n 1 "$T/packets" | cut -f 3)
[ "$(cut -f 2 "$T/packets" | grep -cxF "$LASTCAP")" -ge 2 ] && ok flow_two_packets_in_last_capture ||
    bad flow_two_packets_in_last_capture "$(cut -f 2 "$T/packets" | uniq -c)"

# lines FILE: its number of lines
lines() { wc -l <"$1" | tr -d ' '; }

# ---- the write fails alone -------------------------------------------------------
"$PDX" carve --db "$DB" "$FLOW" -o - >/dev/full 2>"$T/err"
same full_alone "$?" 7
same full_alone_one_line "$(lines "$T/err")" 1
has full_alone_msg "$T/err" "^pcapdex carve: error: writing output: No space left on device$"

# ---- the index disagrees with the captures (exit 6), then the write fails -----------
cp "$DB" "$T/count.db"
q "$T/count.db" "UPDATE flows SET src_packets = src_packets + 1 WHERE id = $FLOW"
"$PDX" carve --db "$T/count.db" "$FLOW" -o - >/dev/full 2>"$T/err"
same count_then_full "$?" 6
same count_then_full_two_lines "$(lines "$T/err")" 2
has count_then_full_first "$T/err" "^pcapdex carve: error: flow $FLOW: the captures hold "
has count_then_full_write "$T/err" "^pcapdex carve: error: writing output: No space left on device$"
same count_then_full_order "$(sed -n 2p "$T/err")" "pcapdex carve: error: writing output: No space left on device"
"$PDX" carve --db "$T/count.db" "$FLOW" -o - 2>"$T/err" | cat >/dev/null
same count_to_pipe_no_write_error "$(lines "$T/err")" 1

# ---- a capture changed in place (same size and mtime): a record mid-carve does
# not match (exit 6), then the write fails ------------------------------------------
cp -p "$LASTCAP" "$T/keep.pcap"
printf '\000\000\000\000' | dd of="$LASTCAP" bs=1 seek="$LASTOFF" conv=notrunc 2>/dev/null
touch -r "$T/keep.pcap" "$LASTCAP"
"$PDX" carve --db "$DB" "$FLOW" -o - >/dev/full 2>"$T/err"
same changed_then_full "$?" 6
same changed_then_full_two_lines "$(lines "$T/err")" 2
has changed_then_full_first "$T/err" "^pcapdex carve: error: .*: offset $LASTOFF: the record there does not match flow $FLOW"
same changed_then_full_order "$(sed -n 2p "$T/err")" "pcapdex carve: error: writing output: No space left on device"
cp -p "$T/keep.pcap" "$LASTCAP"

# ---- a capture missing: nothing is written, so no write fails --------------------
mv "$LASTCAP" "$T/moved.pcap"
"$PDX" carve --db "$DB" "$FLOW" -o - >/dev/full 2>"$T/err"
same missing_full "$?" 6
same missing_full_one_line "$(lines "$T/err")" 1
has missing_full_msg "$T/err" "missing"
# --partial carves the rest; the write then fails first and stops it: exit 7
"$PDX" carve --db "$DB" "$FLOW" --partial -o - >/dev/full 2>"$T/err"
same partial_full "$?" 7
same partial_full_two_lines "$(lines "$T/err")" 2
has partial_full_warning "$T/err" "^pcapdex carve: warning: .*missing.*left out"
has partial_full_write "$T/err" "^pcapdex carve: error: writing output: No space left on device$"
mv "$T/moved.pcap" "$LASTCAP"

# ---- a damaged index (exit 3) before anything is written --------------------------
cp "$DB" "$T/seg.db"
q "$T/seg.db" "UPDATE packets SET offsets = x'ff' WHERE flow_id = $FLOW"
"$PDX" carve --db "$T/seg.db" "$FLOW" -o - >/dev/full 2>"$T/err"
same db_error_full "$?" 3
same db_error_full_one_line "$(lines "$T/err")" 1
has db_error_full_names_db "$T/err" "seg\.db"

finish errors
