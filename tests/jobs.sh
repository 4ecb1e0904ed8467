#!/bin/sh
# jobs.sh - parallel ingest gives the database that one thread gives.
#
# With --jobs N > 1, captures are read and decoded on libuv's thread pool and
# a writer thread stores flows and commits captures; with --jobs 1 all of it
# runs on one thread.  Every table must come out the same (capture rows but
# for the time they were indexed): on a generated rotated set with a damaged
# file, a gzip file and a duplicate in it, with filters, in two runs, and on
# the whole corpus when ../shared/corpus is there.
# Usage: tests/jobs.sh BUILD_DIR.  Ends with "jobs: N passed, N failed[, N skipped]".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"
SKIP=0

# Everything in the index except when each capture was indexed.
dump() {
    sqlite3 "$1" .dump | grep -v "^INSERT INTO captures"
    q "$1" "SELECT id, path, size, mtime_ns, fingerprint, format, byte_order, version, ts_resolution,
            snaplen, linktypes, first_ns, last_ns, packets, bytes, cap_bytes, truncated, invalid,
            status, warnings, compression, raw_size FROM captures ORDER BY id"
}

# same_db NAME DB_A DB_B
same_db() {
    dump "$2" >"$T/dump.a"
    dump "$3" >"$T/dump.b"
    if cmp -s "$T/dump.a" "$T/dump.b"; then ok "$1"; else
        bad "$1" "$(diff "$T/dump.a" "$T/dump.b" | head -c 400)"; fi
}

# ---- a generated rotated set -------------------------------------------------------
mkdir -p "$T/set"
# Half the size under the sanitizers (make check-asan): the same files and
# the same cases, at a quarter of a run's cost there.
if [ -n "${SANITIZED:-}" ]; then TOTAL=12M PART=2M CUT=1500000; else TOTAL=24M PART=4M CUT=3000000; fi
"$GEN" traffic --bytes "$TOTAL" --concurrent 400 --seed 11 -o "$T/all.pcap" >/dev/null
"$GEN" split "$T/all.pcap" -o "$T/set/part" --bytes "$PART" >/dev/null
# A file cut short in the middle of the set, a gzip member, and a copy of a
# member under another name (its content is indexed once).
head -c "$CUT" "$T/set/part002.pcap" >"$T/set/part002.cut" && mv "$T/set/part002.cut" "$T/set/part002.pcap"
gzip -c "$T/set/part003.pcap" >"$T/set/part003.pcap.gz" && rm "$T/set/part003.pcap"
cp "$T/set/part001.pcap" "$T/set/zz-copy.pcap"
NSET=$(ls "$T/set" | wc -l)
[ "$NSET" -ge 6 ] && ok set_made || bad set_made "$NSET files"

for j in 1 2 4; do
    "$PDX" index --jobs $j --db "$T/g$j.db" "$T/set" >"$T/out$j" 2>"$T/err$j"
    echo $? >"$T/rc$j"
done
same "jobs1_exit_warn" "$(cat "$T/rc1")" 5
same "jobs2_exit_same" "$(cat "$T/rc2")" "$(cat "$T/rc1")"
same "jobs4_exit_same" "$(cat "$T/rc4")" "$(cat "$T/rc1")"
same_db jobs2_same_database "$T/g1.db" "$T/g2.db"
same_db jobs4_same_database "$T/g1.db" "$T/g4.db"
has jobs2_damage_warned "$T/err2" "part002.pcap: offset [0-9]+: .*indexed up to the damage"
has jobs2_copy_skipped "$T/err2" "zz-copy.pcap: same content as indexed capture .*part001.pcap"
N=$(q "$T/g2.db" "SELECT count(*) FROM captures")
same jobs2_captures "$N" $((NSET - 1))
SPAN=$(q "$T/g2.db" "SELECT count(*) FROM flows WHERE first_capture <> last_capture")
[ "$SPAN" -gt 0 ] && ok jobs2_flows_span_files || bad jobs2_flows_span_files "none"

# Filters are applied on the pool threads.
"$PDX" index -q --jobs 1 --filter "tcp and not port 80" --exclude 10.1.0.0/16 --db "$T/f1.db" "$T/set" 2>/dev/null
"$PDX" index -q --jobs 2 --filter "tcp and not port 80" --exclude 10.1.0.0/16 --db "$T/f2.db" "$T/set" 2>/dev/null
same_db jobs2_same_filtered "$T/f1.db" "$T/f2.db"
NF=$(q "$T/f2.db" "SELECT count(*) FROM flows")
NA=$(q "$T/g2.db" "SELECT count(*) FROM flows")
[ "$NF" -gt 0 ] && [ "$NF" -lt "$NA" ] && ok jobs2_filter_applied || bad jobs2_filter_applied "$NF of $NA flows"

# Two runs (the second continues open flows), and a re-run that skips all.
FIRST=$(ls "$T/set"/part00[01]*)
# shellcheck disable=SC2086
"$PDX" index -q --jobs 1 --db "$T/i1.db" $FIRST 2>/dev/null
"$PDX" index -q --jobs 1 --db "$T/i1.db" "$T/set" 2>/dev/null
# shellcheck disable=SC2086
"$PDX" index -q --jobs 2 --db "$T/i2.db" $FIRST 2>/dev/null
"$PDX" index -q --jobs 2 --db "$T/i2.db" "$T/set" 2>/dev/null
same_db jobs2_same_in_two_runs "$T/i1.db" "$T/i2.db"
"$PDX" index --jobs 2 --json --db "$T/g2.db" "$T/set" >"$T/rerun.json" 2>/dev/null
has jobs2_rerun_skips "$T/rerun.json" '"captures_indexed":0,'

# ---- the corpus --------------------------------------------------------------------
CORPUS=${PDX_CORPUS:-$TOP/../shared/corpus}
if [ -d "$CORPUS/files" ]; then
    "$PDX" index -q --jobs 1 --db "$T/c1.db" "$CORPUS/files" >/dev/null 2>&1
    r1=$?
    "$PDX" index -q --jobs 2 --db "$T/c2.db" "$CORPUS/files" >/dev/null 2>&1
    r2=$?
    same corpus_jobs2_exit_same "$r2" "$r1"
    NC=$(q "$T/c2.db" "SELECT count(*) FROM captures")
    [ "$NC" -gt 1000 ] && ok corpus_indexed || bad corpus_indexed "$NC captures"
    same_db corpus_jobs2_same_database "$T/c1.db" "$T/c2.db"
else
    echo "skip corpus: $CORPUS/files not found"
    SKIP=3
fi

finish jobs "$SKIP"
