#!/bin/sh
# check_malformed.sh - every defect pcapgen knows how to make, indexed one by
# one: a damaged capture is indexed up to the damage (exit 5, a warning that
# names the file and offset, status damaged), a file that is no capture at all
# is refused (exit 4), tricky but good files index fully (exit 0); the packet
# count is what the generator's MANIFEST says a correct reader returns.
# Usage: tests/check_malformed.sh BUILD_DIR.  Ends with "malformed: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"
"$TOP/$BUILD/pcapgen" malformed -o "$T/m" >/dev/null 2>&1
while IFS="$(printf '\t')" read -r file records err desc; do
    case "$file" in "#"* | "") continue ;; esac
    db="$T/$file.db"
    "$PDX" index -q --db "$db" "$T/m/$file" 2>"$T/err"
    rc=$?
    got=$(sqlite3 "$db" "SELECT coalesce(sum(packets), 0) FROM captures" 2>/dev/null || echo 0)
    flows=$(sqlite3 "$db" "SELECT coalesce(sum(src_packets + dst_packets), 0) FROM flows" 2>/dev/null || echo 0)
    why=""
    # The MANIFEST says what the capture reader returns; the indexer differs
    # on purpose in two places: it decompresses gzip (the 5-record pcap
    # inside), and it warns (exit 5) about packets naming a missing interface.
    case "$file" in
    *.gz) err=0 records=5 ;;
    *missing-interface*)
        [ "$rc" -eq 5 ] && grep -q "name an interface" "$T/err" &&
            sqlite3 "$db" "SELECT warnings FROM captures" | grep -q "name an interface" && rc=0 ;;
    esac
    if [ "$err" = 1 ] && [ "$records" -gt 0 ]; then
        [ "$rc" -eq 5 ] || why="exit $rc, wanted 5"
        grep -q "$file: offset [0-9]" "$T/err" || why="$why; the warning names no offset: $(head -c 200 "$T/err")"
        [ "$(sqlite3 "$db" "SELECT status FROM captures")" = damaged ] || why="$why; status not damaged"
        sqlite3 "$db" "SELECT warnings FROM captures" | grep -q "^offset [0-9]" ||
            why="$why; the warnings column names no offset"
    elif [ "$err" = 1 ]; then
        [ "$rc" -eq 4 ] || [ "$rc" -eq 5 ] || why="exit $rc, wanted 4"
        grep -q "$file" "$T/err" || why="$why; the error does not name the file"
    else
        [ "$rc" -eq 0 ] || why="exit $rc, wanted 0: $(head -c 200 "$T/err")"
    fi
    [ "$got" -eq "$records" ] || why="$why; $got packets indexed, wanted $records"
    [ "$flows" -eq "$got" ] || why="$why; flows hold $flows of $got packets"
    if [ -z "$why" ]; then
        PASS=$((PASS + 1))
        echo "ok   $file"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $file: $why ($desc)"
    fi
done <"$T/m/MANIFEST.tsv"
finish malformed
