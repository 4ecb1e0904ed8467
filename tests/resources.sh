#!/bin/sh
# resources.sh - what the machine can do to an ingest: a disk that fills up,
# a read-only index, a device or a directory given as a capture.  Each gets
# a one-line error, a documented exit code, and an index that still holds
# everything committed before.  The disk and read-only cases need to mount a
# small tmpfs (root); without that they are skipped.
# Usage: tests/resources.sh BUILD_DIR.  Ends with "resources: N passed, N failed, N skipped".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"
SKIP=0
"$GEN" traffic -o "$T/a.pcap" --packets 50000 --seed 3 >/dev/null 2>&1
"$GEN" traffic -o "$T/b.pcap" --packets 50000 --seed 4 --start 1700001000 >/dev/null 2>&1

expect device_as_capture 4 "$PDX" index --db "$T/d.db" /dev/null
has device_named "$T/err" "/dev/null: not a regular file"
mkdir -p "$T/emptydir"
expect empty_directory 0 "$PDX" index --db "$T/e.db" "$T/emptydir"

# A capture that grows while it is read: not indexed (exit 5, a warning);
# indexed whole by the next run.  The append waits until the indexer has read
# 8 MiB of it (its file position, from /proc), so that its size was taken
# before.  When the indexer was faster still (it read the whole file before
# the shell's polling saw it), the attempt proves nothing and is made again,
# up to three times; only then is the case skipped.
"$GEN" traffic -o "$T/grow0.pcap" --bytes 300M --seed 5 >/dev/null 2>&1
"$GEN" traffic -o "$T/more.pcap" --packets 1000 --seed 6 --start 1800000000 >/dev/null 2>&1
# read_pos PID FILE: the largest file position of PID's descriptors on FILE.
read_pos() {
    _max=0
    for _fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$_fd" 2>/dev/null)" = "$2" ] || continue
        _pos=$(awk '/^pos:/ { print $2 }' /proc/"$1"/fdinfo/"${_fd##*/}" 2>/dev/null)
        [ "${_pos:-0}" -gt "$_max" ] && _max=$_pos
    done
    echo "$_max"
}
attempt=0
rc=0
while [ "$attempt" -lt 3 ] && [ "$rc" -eq 0 ]; do
    attempt=$((attempt + 1))
    [ "$attempt" -gt 1 ] && echo "growing-file case, attempt $attempt: the last one read the capture before it grew"
    rm -f "$T/g.db" "$T/g.db-wal" "$T/g.db-shm"
    cp "$T/grow0.pcap" "$T/grow.pcap"
    "$PDX" index --db "$T/g.db" "$T/grow.pcap" 2>"$T/err" &
    p=$!
    i=0
    while [ $i -lt 500 ] && [ "$(read_pos "$p" "$T/grow.pcap")" -lt 8388608 ] && kill -0 "$p" 2>/dev/null; do
        sleep 0.01
        i=$((i + 1))
    done
    kill -STOP "$p" 2>/dev/null
    tail -c +25 "$T/more.pcap" >>"$T/grow.pcap"
    kill -CONT "$p" 2>/dev/null
    wait "$p"
    rc=$?
done
if [ "$rc" -eq 5 ]; then
    ok growing_capture_refused
    has growing_capture_said "$T/err" "grow.pcap: changed while it was read"
    same growing_capture_nothing_written "$(q "$T/g.db" "SELECT count(*) FROM captures")" 0
    "$PDX" index -q --db "$T/g.db" "$T/grow.pcap"
    same growing_capture_indexed_next_run "$(q "$T/g.db" "SELECT packets FROM captures")" \
        "$(tcpdump -nn -r "$T/grow.pcap" 2>/dev/null | wc -l)"
elif [ "$rc" -eq 0 ]; then
    # Indexed whole before the append, three times over.
    echo "the capture was read before it grew, in 3 attempts: growing-file case inconclusive"
    SKIP=$((SKIP + 2))
else
    bad growing_capture_refused "exit $rc: $(head -c 200 "$T/err")"
fi
rm -f "$T/grow0.pcap"

mkdir -p "$T/tiny"
if mount -t tmpfs -o size=400k tmpfs "$T/tiny" 2>/dev/null; then
    # The first capture fits, the second does not.
    "$PDX" index -q --db "$T/tiny/x.db" "$T/a.pcap" 2>/dev/null
    first=$(q "$T/tiny/x.db" "SELECT count(*) FROM captures" 2>/dev/null)
    expect disk_full 3 "$PDX" index --db "$T/tiny/x.db" "$T/a.pcap" "$T/b.pcap"
    has disk_full_said "$T/err" "disk is full"
    same disk_full_kept_committed "$(q "$T/tiny/x.db" "SELECT count(*) FROM captures")" "$first"
    same disk_full_integrity "$(q "$T/tiny/x.db" "PRAGMA integrity_check")" "ok"
    umount "$T/tiny"
    mount -t tmpfs -o size=20m tmpfs "$T/tiny"
    "$PDX" index -q --db "$T/tiny/r.db" "$T/a.pcap"
    sqlite3 "$T/tiny/r.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    mount -o remount,ro "$T/tiny"
    expect readonly_index 3 "$PDX" index --db "$T/tiny/r.db" "$T/b.pcap"
    has readonly_said "$T/err" "r\.db: cannot read it \\(unable to open database file\\)"
    umount "$T/tiny"
else
    echo "cannot mount a tmpfs here: disk-full and read-only cases skipped"
    SKIP=$((SKIP + 2))
fi
finish resources "$SKIP"
