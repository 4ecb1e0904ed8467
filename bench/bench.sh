#!/bin/sh
# bench.sh - what "make bench" runs: generate captures (fixed seeds), warm the
# page cache, and measure pcapdex against tcpdump and nfdump on the same
# machine in the same run.  Prints a report on stdout (progress goes to
# stderr) and marks each target MET or MISSED.  It is a measurement, not a
# test: it exits 0 whatever the figures are (2 only when it cannot run at all).
#
#   sh bench/bench.sh [BUILD_DIR]          BUILD_DIR holds pcapdex and pcapgen (default build)
#
# Knobs (environment; docs/bench.md has the details):
#   BENCH_SCALE=N        divide every default size by N (quick run: BENCH_SCALE=8)
#   BENCH_BYTES=4G       the big traffic capture        BENCH_CONCURRENT=5000  its concurrent flows
#   BENCH_SPLIT=1G       rotation size for the carve    BENCH_DNS_FLOWS=5000000 DNS flows
#   BENCH_DNS_CHUNKS=10  files the DNS capture is cut into (indexed one after another)
#   BENCH_DNS_BUDGET=300 seconds of DNS indexing after which no further file is started
#   BENCH_RUNS=3         runs of each long measurement (median)
#   BENCH_CARVE_RUNS=11  BENCH_QUERY_RUNS=21  BENCH_NF_RUNS=5
#   BENCH_ONLY=index,dns,carve,query,parallel   sections to run
#   BENCH_CPU=0          the core one-core measurements are pinned to (taskset)
#   BENCH_CPUS=0,1       the cores of the parallel-ingest section; BENCH_PAR_FILES=8 its rotated files
#   BENCH_DIR=/tmp       where the work directory is made; BENCH_KEEP=1 keeps it
#   BENCH_SEED=1         BENCH_INSTALL=0 never apt-get install missing tools
set -u
LC_ALL=C
TZ=UTC
export LC_ALL TZ

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
PDX=$BUILD/pcapdex
GEN=$BUILD/pcapgen
for b in "$PDX" "$GEN"; do
    if [ ! -x "$b" ]; then
        echo "bench: $b is missing: build it first (make BUILD=... all)" >&2
        exit 2
    fi
done

# ---------------------------------------------------------------- knobs
bytes_of() { # 4G, 500M, 1.5G, 123 -> bytes (binary suffixes, like pcapgen)
    awk -v s="$1" 'BEGIN { n = s + 0; u = toupper(substr(s, length(s)))
        if (u == "B") { s = substr(s, 1, length(s) - 1); u = toupper(substr(s, length(s))) }
        if (u == "K") n *= 1024; else if (u == "M") n *= 1048576; else if (u == "G") n *= 1073741824
        printf "%.0f\n", n }'
}
SCALE=${BENCH_SCALE:-1}
scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { printf "%.0f\n", n / s }'; }
BIG=$(bytes_of "${BENCH_BYTES:-$(scaled 4294967296)}")
SPLIT=$(bytes_of "${BENCH_SPLIT:-$(scaled 1073741824)}")
CONC=${BENCH_CONCURRENT:-5000}
DNSF=${BENCH_DNS_FLOWS:-$(scaled 5000000)}
CHUNKS=${BENCH_DNS_CHUNKS:-10}
BUDGET=${BENCH_DNS_BUDGET:-300}
RUNS=${BENCH_RUNS:-3}
CARVE_RUNS=${BENCH_CARVE_RUNS:-11}
QUERY_RUNS=${BENCH_QUERY_RUNS:-21}
NF_RUNS=${BENCH_NF_RUNS:-5}
ONLY=${BENCH_ONLY:-index,dns,carve,query,parallel}
CPUS=${BENCH_CPUS:-0,1}
NPAR=${BENCH_PAR_FILES:-8}
CPU=${BENCH_CPU:-0}
SEED=${BENCH_SEED:-1}
INSTALL=${BENCH_INSTALL:-1}
KEEP=${BENCH_KEEP:-0}
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

# ---------------------------------------------------------------- helpers
T0=$(date +%s)
log() { printf 'bench [%4ds] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
out() { printf '%s\n' "$*"; }
calc() { awk "BEGIN { v = ($1); printf \"${2:-%.3f}\", v }" 2>/dev/null || printf NA; }
isnum() { case ${1:-NA} in '' | NA | *[!0-9.e+-]*) return 1 ;; esac; return 0; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
maxof() { sort -g | tail -n 1; }
now_ns() { date +%s%N; }
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }
gb() { calc "$1 / 1e9" '%.2f'; }
mib() { calc "$1 / 1048576" '%.1f'; }
jnum() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; } # a number field of pcapdex --json
pin() { taskset -c "$CPU" "$@"; }

# measure CMD...: runs CMD pinned to $CPU under GNU time; sets M_WALL (s, from
# date, ns resolution), M_CPU (user+sys s), M_RSS (KiB), M_RC.
measure() {
    _t0=$(now_ns)
    /usr/bin/time -f '%e %U %S %M' -o "$W/time.out" taskset -c "$CPU" "$@"
    M_RC=$?
    _t1=$(now_ns)
    M_WALL=$(calc "($_t1 - $_t0) / 1e9" '%.4f')
    set -- $(tail -n 1 "$W/time.out")
    M_CPU=$(calc "$2 + $3" '%.2f')
    M_RSS=$4
}
# wall_ns CMD...: wall time of CMD in seconds (no GNU time: for short commands)
wall() {
    _t0=$(now_ns)
    "$@"
    M_RC=$?
    _t1=$(now_ns)
    M_WALL=$(calc "($_t1 - $_t0) / 1e9" '%.6f')
}
ms() { isnum "$1" && calc "$1 * 1000" '%.1f' || printf NA; }

# target NAME MEASURED OP LIMIT SHOWN_MEASURED SHOWN_LIMIT: MEASURED and LIMIT are
# awk expressions; appends a line to the summary and prints MET, MISSED or N/A.
target() {
    case "$2 $4" in
    *NA* | *nan* | *inf*) v="N/A" ;;
    *) if awk "BEGIN { exit !(($2) $3 ($4)) }" 2>/dev/null; then v=MET; else v=MISSED; fi ;;
    esac
    printf '%-40s %-16s %-22s %s\n' "$1" "$5" "$6" "$v" >>"$W/summary"
    printf '%s' "$v"
}

# ---------------------------------------------------------------- tools
APT_DONE=
need() { # need COMMAND-OR-PATH DEBIAN-PACKAGE
    if command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; then return 0; fi
    if [ "$INSTALL" != 1 ] || ! command -v apt-get >/dev/null 2>&1; then return 1; fi
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    log "installing $2 (for $1)"
    if [ -z "$APT_DONE" ]; then $SUDO apt-get update -qq >/dev/null 2>&1; APT_DONE=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1
    command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]
}
need /usr/bin/time time || { echo "bench: /usr/bin/time (Debian package time) is needed" >&2; exit 2; }
need taskset util-linux || { echo "bench: taskset is needed" >&2; exit 2; }
need sqlite3 sqlite3 || { echo "bench: sqlite3 is needed" >&2; exit 2; }
need zstd zstd || { echo "bench: zstd is needed" >&2; exit 2; }
HAVE_TCPDUMP=0; need tcpdump tcpdump && HAVE_TCPDUMP=1
HAVE_MERGECAP=0; need mergecap wireshark-common && HAVE_MERGECAP=1
HAVE_NFDUMP=0
if want query || want dns; then
    if command -v nfdump >/dev/null 2>&1 && command -v nfpcapd >/dev/null 2>&1; then
        HAVE_NFDUMP=1
    elif need nfpcapd nfdump && command -v nfdump >/dev/null 2>&1; then
        HAVE_NFDUMP=1
        # The package enables a collector service; the benchmark wants the tools only.
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now nfdump.service >/dev/null 2>&1 || true
        fi
    fi
fi

# ---------------------------------------------------------------- work dir
BASE=${BENCH_DIR:-${TMPDIR:-/tmp}}
mkdir -p "$BASE" && W=$(mktemp -d "$BASE/pcapdex-bench.XXXXXX") || { echo "bench: cannot make a work dir in $BASE" >&2; exit 2; }
cleanup() {
    if [ "$KEEP" = 1 ]; then log "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$W/summary"

# ---------------------------------------------------------------- header
GITREV=$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)
CPUNAME=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
NCPU=$(nproc)
# What one timed invocation costs with nothing to do (fork, exec, taskset, date).
i=0; : >"$W/t"
while [ $i -lt 11 ]; do wall pin true; echo "$M_WALL" >>"$W/t"; i=$((i + 1)); done
OVERHEAD=$(median <"$W/t")

out "pcapdex benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  rev $GITREV"
out "machine: $NCPU cores ($CPUNAME), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average at start $LOAD0"
out "one-core runs pinned with taskset -c $CPU; page cache warmed (cat FILE >/dev/null) right before every measurement"
if grep -qs '^on' /sys/kernel/mm/damon/admin/kdamonds/*/state; then
    out "NOTE: DAMON is on (kdamond): the kernel pages out idle memory, so an index being built may be read back from disk; compare wall and CPU"
fi
out "sizes: traffic $(gb "$BIG") GB (--concurrent $CONC), rotated at $(gb "$SPLIT") GB, $DNSF DNS flows; BENCH_SCALE=$SCALE; runs $RUNS (carve $CARVE_RUNS, query $QUERY_RUNS, nfdump $NF_RUNS); seed $SEED"
out "timer: wall clock from date +%s%N around the command; an empty pinned command takes $(ms "$OVERHEAD") ms"
out "GB = 10^9 bytes; MiB = 2^20 bytes; figures are medians unless marked"
[ "$SCALE" = 1 ] || out "NOTE: reduced scale; the targets are defined for the full sizes"
warn_load() {
    l=$(cut -d' ' -f1 /proc/loadavg)
    if awk "BEGIN { exit !($l > $NCPU) }"; then
        out "NOTE: the machine is busy (load $l on $NCPU cores): wall times include waiting for the CPU; the CPU-time figures are steadier"
    fi
}
warn_load
out ""

# ---------------------------------------------------------------- inputs
if want index || want carve || want parallel; then
    log "generating $(gb "$BIG") GB of traffic, $CONC concurrent flows"
    measure "$GEN" traffic -o "$W/big.pcap" --bytes "$BIG" --concurrent "$CONC" --seed "$SEED" >/dev/null
    [ "$M_RC" = 0 ] || { echo "bench: pcapgen traffic failed" >&2; exit 2; }
    BIG_SIZE=$(fsize "$W/big.pcap")
    mkdir -p "$W/rot"
    log "splitting it every $(gb "$SPLIT") GB"
    "$GEN" split "$W/big.pcap" -o "$W/rot/big_" --bytes "$SPLIT" >/dev/null || { echo "bench: pcapgen split failed" >&2; exit 2; }
    NROT=$(ls "$W/rot" | wc -l)
fi
if want dns || want query; then
    log "generating $DNSF DNS flows"
    "$GEN" dns -o "$W/dns.pcap" --flows "$DNSF" --seed "$SEED" >/dev/null || { echo "bench: pcapgen dns failed" >&2; exit 2; }
    DNS_SIZE=$(fsize "$W/dns.pcap")
    mkdir -p "$W/dnsrot"
    "$GEN" split "$W/dns.pcap" -o "$W/dnsrot/dns_" --bytes "$(( DNS_SIZE / CHUNKS + 65536 ))" >/dev/null || { echo "bench: pcapgen split failed" >&2; exit 2; }
fi

# ================================================================ 1. indexer
if want index; then
    log "1. indexer: warming the page cache"
    cat "$W/big.pcap" >/dev/null
    out "== 1. Indexer: $(gb "$BIG_SIZE") GB pcap, $CONC concurrent flows, one core =="
    if [ "$HAVE_TCPDUMP" = 1 ]; then
        : >"$W/tw"; : >"$W/tc"
        i=0
        while [ $i -lt "$RUNS" ]; do
            log "1. tcpdump -r big.pcap -w /dev/null, run $((i + 1))/$RUNS"
            cat "$W/big.pcap" >/dev/null
            measure tcpdump -r "$W/big.pcap" -w /dev/null 2>/dev/null
            echo "$M_WALL" >>"$W/tw"; echo "$M_CPU" >>"$W/tc"
            i=$((i + 1))
        done
        TD_WALL=$(median <"$W/tw"); TD_CPU=$(median <"$W/tc")
    else
        TD_WALL=NA; TD_CPU=NA
    fi
    : >"$W/iw"; : >"$W/ic"; : >"$W/ir"
    i=0
    while [ $i -lt "$RUNS" ]; do
        log "1. pcapdex index big.pcap, run $((i + 1))/$RUNS"
        rm -f "$W/big.db" "$W/big.db-wal" "$W/big.db-shm"
        cat "$W/big.pcap" >/dev/null
        measure "$PDX" index --json --db "$W/big.db" "$W/big.pcap" >"$W/big.json" 2>"$W/big.err"
        [ "$M_RC" = 0 ] || log "pcapdex index exited $M_RC: $(head -c 300 "$W/big.err")"
        echo "$M_WALL" >>"$W/iw"; echo "$M_CPU" >>"$W/ic"; echo "$M_RSS" >>"$W/ir"
        i=$((i + 1))
    done
    IX_WALL=$(median <"$W/iw"); IX_CPU=$(median <"$W/ic"); RSS_BIG=$(maxof <"$W/ir")
    IX_PACKETS=$(jnum packets "$W/big.json"); IX_FLOWS=$(jnum flows_created "$W/big.json")

    # The same traffic, 1 GB of it: the first rotated file is its first GB.
    first_rot=$(ls "$W/rot"/* | head -n 1)
    log "1. pcapdex index $(basename "$first_rot") (RSS at a quarter of the size)"
    cat "$first_rot" >/dev/null
    rm -f "$W/small.db"*
    measure "$PDX" index -q --db "$W/small.db" "$first_rot" 2>/dev/null
    RSS_SMALL=$M_RSS
    SMALL_SIZE=$(fsize "$first_rot")
    rm -f "$W/small.db"*

    sqlite3 "$W/big.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    DB_SIZE=$(( $(fsize "$W/big.db") + $(fsize "$W/big.db-wal") ))
    OFF_BYTES=$(sqlite3 "$W/big.db" 'SELECT coalesce(sum(length(offsets)), 0) FROM packets')
    ALL_PACKETS=$(sqlite3 "$W/big.db" 'SELECT coalesce(sum(packets), 0) FROM captures')

    out "  tcpdump -r CAP -w /dev/null   wall $(calc "$TD_WALL" '%.2f') s  cpu $(calc "$TD_CPU" '%.2f') s  $(calc "$BIG_SIZE / $TD_WALL / 1e9" '%.2f') GB/s"
    out "  pcapdex index                 wall $(calc "$IX_WALL" '%.2f') s  cpu $(calc "$IX_CPU" '%.2f') s  $(calc "$BIG_SIZE / $IX_WALL / 1e9" '%.2f') GB/s  ($IX_PACKETS packets, $IX_FLOWS flows, $(calc "$IX_PACKETS / $IX_WALL / 1e6" '%.2f') Mpkt/s)"
    out "  index / tcpdump wall ratio    $(calc "$IX_WALL / $TD_WALL" '%.2f')   (cpu-time ratio $(calc "$IX_CPU / $TD_CPU" '%.2f'); target <= 0.60, aim 0.40)"
    out "  runs (wall s): tcpdump $(tr '\n' ' ' <"$W/tw")/ index $(tr '\n' ' ' <"$W/iw")"
    out "  peak RSS: $(mib "$RSS_BIG * 1024") MiB at $(gb "$BIG_SIZE") GB, $(mib "$RSS_SMALL * 1024") MiB at $(gb "$SMALL_SIZE") GB (same traffic, same concurrency): x$(calc "$RSS_BIG / $RSS_SMALL" '%.2f') for x$(calc "$BIG_SIZE / $SMALL_SIZE" '%.1f') the bytes"
    out "  index size after checkpoint: $(mib "$DB_SIZE") MiB = $(calc "100 * $DB_SIZE / $BIG_SIZE" '%.3f')% of the capture ($(calc "$DB_SIZE / $ALL_PACKETS" '%.1f') bytes/packet overall)"
    out "  packets table offsets: $(calc "$OFF_BYTES / $ALL_PACKETS" '%.2f') bytes/packet ($(mib "$OFF_BYTES") MiB for $ALL_PACKETS packets)"
    if sqlite3 "$W/big.db" 'SELECT 1 FROM dbstat LIMIT 1' >/dev/null 2>&1; then
        out "  where the index bytes are (SQLite dbstat):"
        out "    table or index            MiB  payload MiB  unused  overflow pages"
        sqlite3 -separator ' ' "$W/big.db" "SELECT name, sum(pgsize) / 1048576.0, sum(payload) / 1048576.0,
                100.0 * sum(unused) / sum(pgsize), sum(pagetype = 'overflow')
                FROM dbstat GROUP BY name HAVING sum(pgsize) > 65536 ORDER BY sum(pgsize) DESC" |
            awk '{ printf "    %-22s %7.1f %12.1f %6.0f%% %15d\n", $1, $2, $3, $4, $5 }'
        set -- $(sqlite3 -separator ' ' "$W/big.db" "SELECT sum(CASE WHEN name LIKE 'flows%' THEN pgsize END),
                sum(CASE WHEN name LIKE 'packets%' THEN pgsize END) FROM dbstat")
        out "  flows and their indexes: $(calc "${1:-0} / $IX_FLOWS" '%.0f') bytes/flow; packets table and its index: $(calc "${2:-0} / $ALL_PACKETS" '%.2f') bytes/packet"
    fi
    rm -f "$W/big.db"*

    target "index wall / tcpdump wall (1 core)" "$IX_WALL / $TD_WALL" '<=' 0.6 "$(calc "$IX_WALL / $TD_WALL" '%.2f')" "<= 0.60 (aim 0.40)" >/dev/null
    target "index peak RSS at $(gb "$BIG_SIZE") GB" "$RSS_BIG" '<=' 262144 "$(mib "$RSS_BIG * 1024") MiB" "<= 256 MiB" >/dev/null
    target "RSS flat in capture size (x$(calc "$BIG_SIZE / $SMALL_SIZE" '%.0f') bytes)" "$RSS_BIG" '<=' "$RSS_SMALL * 1.25 + 8192" "x$(calc "$RSS_BIG / $RSS_SMALL" '%.2f')" "<= x1.25 (+8 MiB)" >/dev/null
    target "index size / capture bytes" "100 * $DB_SIZE / $BIG_SIZE" '<=' 0.5 "$(calc "100 * $DB_SIZE / $BIG_SIZE" '%.3f')%" "<= 0.5%" >/dev/null
    out ""
    warn_load
fi

# ================================================================ 2. tiny flows
if want dns || want query; then
    rm -f "$W/dns.db"*
    : >"$W/dnsrates"; : >"$W/dnscpu"; : >"$W/dnsrss"
    DNS_DONE=0; DNS_WALL=0; DNS_CPU=0; DNS_FILES=0
    NCH=$(ls "$W/dnsrot" | wc -l)
    last=0
    for f in "$W/dnsrot"/*; do
        if [ "$BUDGET" != 0 ] && awk "BEGIN { exit !($DNS_WALL + $last > $BUDGET) }"; then
            log "2. budget of $BUDGET s reached: stopping after $DNS_FILES of $NCH files"
            break
        fi
        log "2. pcapdex index $(basename "$f") ($DNS_DONE flows so far, $(calc "$DNS_WALL" '%.0f') s)"
        cat "$f" >/dev/null
        measure "$PDX" index --json --db "$W/dns.db" "$f" >"$W/dns.json" 2>"$W/dns.err"
        [ "$M_RC" = 0 ] || log "pcapdex index exited $M_RC: $(head -c 300 "$W/dns.err")"
        n=$(jnum flows_created "$W/dns.json"); n=${n:-0}
        DNS_DONE=$((DNS_DONE + n)); DNS_FILES=$((DNS_FILES + 1))
        DNS_WALL=$(calc "$DNS_WALL + $M_WALL" '%.3f'); DNS_CPU=$(calc "$DNS_CPU + $M_CPU" '%.2f')
        last=$M_WALL
        calc "$n / $M_WALL" '%.0f' >>"$W/dnsrates"; echo >>"$W/dnsrates"
        calc "$n / $M_CPU" '%.0f' >>"$W/dnscpu"; echo >>"$W/dnscpu"
        echo "$M_RSS" >>"$W/dnsrss"
    done
    DNS_RATE=$(calc "$DNS_DONE / $DNS_WALL" '%.0f')
    sqlite3 "$W/dns.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null 2>&1
    DNS_FLOWS_DB=$(sqlite3 "$W/dns.db" 'SELECT count(*) FROM flows' 2>/dev/null || echo 0)
    out "== 2. Tiny flows: $DNSF two-packet DNS flows, $(gb "$DNS_SIZE") GB, cut into $NCH files, one core =="
    out "  pcapdex index: $DNS_DONE flows from $DNS_FILES of $NCH files in $(calc "$DNS_WALL" '%.1f') s wall (cpu $DNS_CPU s): $DNS_RATE flows/s"
    out "  flows/s per file, in order: $(grep . "$W/dnsrates" | tr '\n' ' ')"
    out "  the same per CPU second:    $(grep . "$W/dnscpu" | tr '\n' ' ')"
    out "  peak RSS $(mib "$(maxof <"$W/dnsrss") * 1024") MiB; index $(mib "$(( $(fsize "$W/dns.db") + $(fsize "$W/dns.db-wal") ))") MiB for $DNS_FLOWS_DB flows"
    if [ "$DNS_FILES" -lt "$NCH" ]; then
        out "  NOTE: BENCH_DNS_BUDGET=$BUDGET s stopped the run after $DNS_FILES of $NCH files; at the rate so far all $DNSF flows would take at least ~$(calc "$DNSF / $DNS_RATE" '%.0f') s"
    fi
    target "tiny flows indexed per second" "$DNS_RATE" '>=' 1000000 "$DNS_RATE/s" ">= 1000000/s" >/dev/null
    if [ "$HAVE_NFDUMP" = 1 ]; then
        mkdir -p "$W/nf"
        log "2. nfpcapd -r dns.pcap (the nfdump baseline)"
        cat "$W/dns.pcap" >/dev/null
        measure nfpcapd -r "$W/dns.pcap" -w "$W/nf" >"$W/nfpcapd.out" 2>&1
        if [ "$M_RC" = 0 ] && [ -n "$(ls "$W/nf")" ]; then
            NF_OK=1
            out "  baseline nfpcapd -r (pcap to nfcapd files): $(calc "$M_WALL" '%.1f') s wall (cpu $M_CPU s): $(calc "$DNSF / $M_WALL" '%.0f') DNS exchanges/s ($(ls "$W/nf" | wc -l) files, $(du -sk "$W/nf" | awk '{ printf "%.1f", $1 / 1024 }') MiB; nfdump stores one record per direction)"
        else
            NF_OK=0
            out "  baseline nfpcapd: failed (exit $M_RC): $(tail -n 2 "$W/nfpcapd.out" | tr '\n' ' ')"
        fi
    else
        NF_OK=0
        out "  baseline nfpcapd: not available (Debian package nfdump not installed)"
    fi
    out ""
    warn_load
    rm -f "$W/dns.pcap"
fi

# carve_median ID OUT: median wall time (s) of $CARVE_RUNS carves of flow ID
# from $W/rot.db to OUT.
carve_median() {
    : >"$W/kw"
    _i=0
    while [ $_i -lt "$CARVE_RUNS" ]; do
        wall pin "$PDX" carve -q --db "$W/rot.db" "$1" -o "$2"
        echo "$M_WALL" >>"$W/kw"
        echo "$M_RC" >"$W/krc"
        _i=$((_i + 1))
    done
    median <"$W/kw"
}

# ================================================================ 3. carver
if want carve; then
    log "3. carver: indexing the rotated set"
    cat "$W/rot"/* >/dev/null
    rm -f "$W/rot.db"*
    measure "$PDX" index -q --db "$W/rot.db" "$W/rot" 2>"$W/rot.err"
    ROT_WALL=$M_WALL
    out "== 3. Carver: $NROT rotated files of <= $(gb "$SPLIT") GB (the traffic of section 1) =="
    out "  pcapdex index of the rotated set: $(calc "$ROT_WALL" '%.1f') s wall (cpu $M_CPU s)"
    # Biggest TCP/UDP flow with >= 2000 packets in >= 3 files; failing that, the one in most files.
    PICK="SELECT f.id, f.src_packets + f.dst_packets, count(DISTINCT p.capture_id) AS nc
          FROM flows f JOIN packets p ON p.flow_id = f.id WHERE f.proto IN (6, 17)
          GROUP BY f.id"
    set -- $(sqlite3 -separator ' ' "$W/rot.db" "$PICK HAVING nc >= 3 AND f.src_packets + f.dst_packets >= 2000 ORDER BY 2 DESC, 1 LIMIT 1")
    if [ $# -lt 3 ]; then
        set -- $(sqlite3 -separator ' ' "$W/rot.db" "$PICK ORDER BY 3 DESC, 2 DESC, 1 LIMIT 1")
        out "  NOTE: no flow has >= 2000 packets in >= 3 files at this scale; using the best one"
    fi
    CID=${1:-}; CPK=${2:-0}; CNF=${3:-0}
    if [ -z "$CID" ]; then
        out "  no flow to carve"
    else
        set -- $(sqlite3 -separator ' ' "$W/rot.db" "SELECT proto, src, sport, dst, dport FROM flows_view WHERE id = $CID")
        BPF="$1 and host $2 and host $4 and port $3 and port $5"
        out "  flow $CID: $1 $2:$3 <-> $4:$5, $CPK packets in $CNF files"
        if [ "$HAVE_TCPDUMP" = 1 ]; then
            : >"$W/cw"
            i=0
            while [ $i -lt "$RUNS" ]; do
                log "3. tcpdump -r each file '$BPF', run $((i + 1))/$RUNS"
                rm -rf "$W/td"; mkdir -p "$W/td"
                cat "$W/rot"/* >/dev/null
                sum=0; k=0
                for f in "$W/rot"/*; do
                    measure tcpdump -r "$f" -w "$W/td/$(printf %03d $k).pcap" "$BPF" 2>/dev/null
                    sum=$(calc "$sum + $M_WALL" '%.4f'); k=$((k + 1))
                done
                echo "$sum" >>"$W/cw"
                i=$((i + 1))
            done
            TDC=$(median <"$W/cw")
        else
            TDC=NA
        fi
        log "3. pcapdex carve $CID x $CARVE_RUNS"
        cat "$W/rot"/* "$W/rot.db" >/dev/null
        KV=$(carve_median "$CID" "$W/carved.pcap")
        out "  tcpdump -r FILE -w OUT 'FILTER', summed over the $NROT files: $(calc "$TDC" '%.3f') s   (filter: $BPF)"
        out "  pcapdex carve --db DB $CID -o OUT:                         $(ms "$KV") ms (exit $(cat "$W/krc"); runs: min $(ms "$(sort -g "$W/kw" | head -n 1)"), max $(ms "$(sort -g "$W/kw" | tail -n 1)") ms)"
        out "  carve / tcpdump = 1/$(calc "$TDC / $KV" '%.0f')   (target <= 1/50, aim 1/100)"
        if [ "$HAVE_TCPDUMP" = 1 ] && [ "$HAVE_MERGECAP" = 1 ]; then
            mergecap -a -F pcap -w "$W/merged.pcap" "$W/td"/*.pcap 2>/dev/null
            tcpdump -nn -tt -xx -r "$W/merged.pcap" 2>/dev/null >"$W/a.txt"
            tcpdump -nn -tt -xx -r "$W/carved.pcap" 2>/dev/null >"$W/b.txt"
            na=$(grep -c '^[0-9]' "$W/a.txt"); nb=$(grep -c '^[0-9]' "$W/b.txt")
            if [ "$na" -gt 0 ] && cmp -s "$W/a.txt" "$W/b.txt"; then
                SAME="identical: $nb packets, same times and bytes (tcpdump -nn -tt -xx, md5 $(md5sum <"$W/b.txt" | cut -c1-12))"
            else
                SAME="DIFFERENT: carve $nb packets, tcpdump $na packets"
            fi
            out "  check against tcpdump (files merged with mergecap -a): $SAME"
        fi
        target "carve ($CPK packets, $CNF files) / tcpdump" "$KV * 50" '<=' "$TDC" "1/$(calc "$TDC / $KV" '%.0f')" "<= 1/50 (aim 1/100)" >/dev/null
        # A small flow: 10 packets.
        S=$(sqlite3 "$W/rot.db" "SELECT id FROM flows WHERE src_packets + dst_packets = 10 AND proto IN (6, 17) ORDER BY id LIMIT 1")
        if [ -n "$S" ]; then
            KS=$(carve_median "$S" "$W/small.pcap")
            ns=$(tcpdump -nn -r "$W/small.pcap" 2>/dev/null | wc -l)
            out "  10-packet flow $S: carve $(ms "$KS") ms ($ns packets written; tcpdump would still read all $NROT files: 1/$(calc "$TDC / $KS" '%.0f'))"
        fi
    fi
    # ---- compressed archives: the same rotated set as seekable zstd
    if [ -n "$CID" ]; then
        log "3. pcapdex compress (seekable zstd) of the rotated set"
        RAW=0; for f in "$W/rot"/*; do RAW=$((RAW + $(fsize "$f"))); done
        cat "$W/rot"/* >/dev/null
        measure "$PDX" compress -q --db "$W/rot.db" "$W/rot"/*.pcap
        ZW=$M_WALL; ZSIZE=0; for f in "$W/rot"/*.zst; do ZSIZE=$((ZSIZE + $(fsize "$f"))); done
        log "3. zstd -3 of the same files"
        Z3=0; _t0=$(now_ns)
        for f in "$W/rot"/*.pcap; do Z3=$((Z3 + $(zstd -q -3 -c "$f" | wc -c))); done
        Z3W=$(calc "($(now_ns) - $_t0) / 1e9" '%.1f')
        rm -f "$W/rot"/*.pcap
        log "3. pcapdex carve $CID from the compressed set x $CARVE_RUNS"
        cat "$W/rot"/* "$W/rot.db" >/dev/null
        KZ=$(carve_median "$CID" "$W/carved-z.pcap")
        cmp -s "$W/carved.pcap" "$W/carved-z.pcap" && ZSAME="identical to the uncompressed carve" || ZSAME="DIFFERENT from the uncompressed carve"
        : >"$W/zw"
        i=0
        while [ $i -lt "$RUNS" ]; do
            log "3. pcapdex index of the compressed set, run $((i + 1))/$RUNS"
            rm -f "$W/zidx.db"*
            cat "$W/rot"/* >/dev/null
            measure "$PDX" index -q --jobs 1 --db "$W/zidx.db" "$W/rot"
            echo "$M_WALL" >>"$W/zw"
            i=$((i + 1))
        done
        ZI=$(median <"$W/zw")
        out "  -- the same files compressed with pcapdex compress (seekable zstd, 1 MiB frames, level 3) --"
        out "  compress: $(gb "$RAW") GB -> $(gb "$ZSIZE") GB ($(calc "100 * (1 - $ZSIZE / $RAW)" '%.1f')% saved) in $(calc "$ZW" '%.1f') s; zstd -3 (one stream per file): $(gb "$Z3") GB ($(calc "100 * (1 - $Z3 / $RAW)" '%.1f')% saved) in $Z3W s"
        out "  carve flow $CID from the compressed set: $(ms "$KZ") ms = $(calc "$KZ / $KV" '%.2f') x the uncompressed carve; $ZSAME"
        out "  index the compressed set (one core): $(calc "$ZI" '%.2f') s = $(calc "$RAW / $ZI / 1e9" '%.2f') GB/s of uncompressed capture (runs, wall s: $(tr '\n' ' ' <"$W/zw"))"
        target "carve from seekable zstd / plain" "$KZ" '<=' "3 * $KV" "$(calc "$KZ / $KV" '%.2f')x" "<= 3x" >/dev/null
        target "index seekable zstd (uncompressed GB/s)" "$RAW / $ZI / 1e9" '>=' 1 "$(calc "$RAW / $ZI / 1e9" '%.2f') GB/s" ">= 1 GB/s" >/dev/null
    fi
    rm -rf "$W/td" "$W/rot" "$W"/a.txt "$W"/b.txt
    for f in "$W"/*.pcap; do [ "$f" = "$W/big.pcap" ] || rm -f "$f"; done # big.pcap: section 5
    out ""
    warn_load
fi

# ================================================================ 4. query
if want query; then
    out "== 4. Query: the index of section 2 ($DNS_FLOWS_DB flows), <= 1000 rows as CSV to /dev/null =="
    if ! "$PDX" query --help >/dev/null 2>&1; then
        out "  pcapdex query is not available in this build: skipped"
    elif [ "${DNS_FLOWS_DB:-0}" = 0 ]; then
        out "  the index is empty: skipped"
    else
        D=$W/dns.db
        set -- $(sqlite3 -separator ' ' "$D" "SELECT src, sport, dst, dport FROM flows_view WHERE id = (SELECT id FROM flows WHERE id >= (SELECT max(id) / 2 FROM flows) AND ethertype = 2048 AND proto = 17 ORDER BY id LIMIT 1)")
        HA=${1:-}; PA=${2:-}; HB=${3:-}; PB=${4:-}
        # A one-hour window around the middle of the traffic.
        SINCE=$(sqlite3 "$D" 'SELECT (min(first_ns) + max(last_ns)) / 2000000000 - 1800 FROM flows')
        UNTIL=$((SINCE + 3600))
        log "4. queries: host $HA, 5-tuple, window $SINCE..$UNTIL, top hosts"
        sqlite3 "$D" 'SELECT 1 FROM flows LIMIT 1' >/dev/null # the db is in the page cache from section 2; touch it anyway
        cat "$D" >/dev/null
        # q NAME LIMIT_MS ARGS...: runs pcapdex query ARGS $QUERY_RUNS times
        # (LIMIT_MS -: measured for comparison, not a target)
        q() {
            name=$1; lim=$2; shift 2
            pin "$PDX" query --db "$D" "$@" >"$W/q.out" 2>"$W/q.err"
            rc=$?
            rows=$(($(wc -l <"$W/q.out") - 1))
            : >"$W/qw"; i=0
            while [ $i -lt "$QUERY_RUNS" ]; do
                wall pin "$PDX" query --db "$D" "$@" >/dev/null 2>&1
                echo "$M_WALL" >>"$W/qw"; i=$((i + 1))
            done
            Q=$(median <"$W/qw")
            if [ "$rc" -gt 1 ]; then
                printf '  %-34s %10s  %9s   failed (exit %s): %s\n' "$name" "-" "-" "$rc" "$(head -c 200 "$W/q.err")"
                Q=NA
            elif [ "$lim" = - ]; then
                printf '  %-34s %10s  %9s   (no target)\n' "$name" "$(ms "$Q")" "$rows"
            else
                printf '  %-34s %10s  %9s   %s\n' "$name" "$(ms "$Q")" "$rows" "$(target "query: $name" "$Q * 1000" '<=' "$lim" "$(ms "$Q") ms" "<= $lim ms")"
            fi
        }
        # nf NAME ARGS...: nfdump ARGS over the nfpcapd files, $NF_RUNS times
        nf() {
            name=$1; shift
            nfdump -R "$W/nf" -q "$@" >"$W/nf.out" 2>"$W/nf.err"
            rc=$?
            rows=$(grep -c . "$W/nf.out")
            : >"$W/qw"; i=0
            while [ $i -lt "$NF_RUNS" ]; do
                wall pin nfdump -R "$W/nf" -q "$@" >/dev/null 2>&1
                echo "$M_WALL" >>"$W/qw"; i=$((i + 1))
            done
            if [ "$rc" != 0 ]; then
                printf '  %-34s %10s  %9s   cannot: exit %s: %s\n' "$name" "-" "-" "$rc" "$(head -c 160 "$W/nf.err" | tr '\n' ' ')"
            else
                printf '  %-34s %10s  %9s\n' "$name" "$(ms "$(median <"$W/qw")")" "$rows"
            fi
        }
        cat "$D" >/dev/null
        out "  pcapdex query ($QUERY_RUNS runs)                 ms (median)    rows   target"
        q "host A (a client)" 10 "host $HA" --limit 1000 --format csv
        q "host B (a busy server)" 10 "host $HB" --limit 1000 --format csv
        q "5-tuple" 10 "proto udp and host $HA and port $PA and host $HB and port $PB" --limit 1000 --format csv
        q "1 h window" 10 --since "$SINCE" --until "$UNTIL" --limit 1000 --format csv
        q "--top host --by bytes" 1000 --top host --by bytes
        q "port B (a busy port)" - "port $PB" --limit 1000 --format csv
        q "net of A (a /8, most flows)" - "net ${HA%%.*}.0.0.0/8" --limit 1000 --format csv
        out "  (A = $HA, B = $HB; 5-tuple: proto udp and host $HA and port $PA and host $HB and port $PB;"
        out "   window: --since $SINCE --until $UNTIL, i.e. $(date -u -d "@$SINCE" +%FT%TZ) + 1 h; port $PB; net ${HA%%.*}.0.0.0/8)"
        if [ "${NF_OK:-0}" = 1 ]; then
            T1=$(date -u -d "@$SINCE" +%Y/%m/%d.%H:%M:%S); T2=$(date -u -d "@$UNTIL" +%Y/%m/%d.%H:%M:%S)
            cat "$W/nf"/* >/dev/null 2>&1
            out "  nfdump -R DIR -q ... ($NF_RUNS runs; one record per direction)"
            nf "host A (a client)" -o csv -c 1000 "host $HA"
            nf "host B (a busy server)" -o csv -c 1000 "host $HB"
            nf "5-tuple" -o csv -c 1000 "proto udp and host $HA and port $PA and host $HB and port $PB"
            nf "1 h window (-t)" -o csv -c 1000 -t "$T1-$T2"
            nf "top hosts by bytes (-s ip/bytes)" -s ip/bytes -n 10
            nf "port B" -o csv -c 1000 "port $PB"
            nf "net of A (/8)" -o csv -c 1000 "net ${HA%%.*}.0.0.0/8"
            out "  nfdump has no index: every query reads all its files; -c 1000 stops after 1000 records."
            out "  nfdump records are unidirectional: one DNS exchange is two records, and it cannot return"
            out "  the exchange as one flow (the 5-tuple query answers both directions as two rows)."
        else
            out "  nfdump: not available (no nfcapd files from section 2), so no baseline here"
        fi
    fi
    out ""
    warn_load
fi

# ================================================================ 5. parallel ingest
# dump_db DB: every table but when each capture was indexed, for comparing.
dump_db() {
    sqlite3 "$1" .dump | grep -v '^INSERT INTO captures'
    sqlite3 "$1" 'SELECT id, path, size, fingerprint, packets, bytes, status, warnings FROM captures ORDER BY id'
}
# par_measure NAME DB INPUT...: pcapdex index --jobs 1, then --jobs 2, on the
# cores $CPUS, BENCH_RUNS times each; sets P_J1, P_J2 (median wall), P_C1,
# P_C2 (median cpu), P_SAME (yes when the two indexes are identical).
par_measure() {
    _name=$1 _db=$2
    shift 2
    _cpu=$CPU
    CPU=$CPUS
    for _j in 1 2; do
        : >"$W/pw"; : >"$W/pc"
        _i=0
        while [ $_i -lt "$RUNS" ]; do
            log "5. $_name: pcapdex index --jobs $_j, run $((_i + 1))/$RUNS"
            rm -f "$_db.$_j" "$_db.$_j-wal" "$_db.$_j-shm"
            cat "$@" >/dev/null
            measure "$PDX" index -q --jobs $_j --db "$_db.$_j" "$@" 2>"$W/par.err"
            [ "$M_RC" = 0 ] || log "pcapdex index exited $M_RC: $(head -c 300 "$W/par.err")"
            echo "$M_WALL" >>"$W/pw"; echo "$M_CPU" >>"$W/pc"
            _i=$((_i + 1))
        done
        eval "P_J$_j=\$(median <\"\$W/pw\")"
        eval "P_C$_j=\$(median <\"\$W/pc\")"
    done
    CPU=$_cpu
    if [ "$(dump_db "$_db.1" | md5sum)" = "$(dump_db "$_db.2" | md5sum)" ]; then P_SAME=yes; else P_SAME=NO; fi
    rm -f "$_db".*
}
if want parallel; then
    log "5. parallel ingest: cutting the traffic into $NPAR files"
    rm -rf "$W/par"
    mkdir -p "$W/par"
    if ! "$GEN" split "$W/big.pcap" -o "$W/par/par_" --bytes "$(( BIG_SIZE / NPAR + 65536 ))" >/dev/null; then
        out "== 5. Parallel ingest: not measured (pcapgen split failed) =="
        target "--jobs 2 / --jobs 1, rotated files" NA '>=' 1.7 NA ">= x1.7" >/dev/null
        target "two cores / one, one file" NA '>=' 1.3 NA ">= x1.3" >/dev/null
        ONLY=$(echo ",$ONLY," | sed 's/,parallel,/,/')
    fi
fi
if want parallel; then
    NP=$(ls "$W/par" | wc -l)
    PAR_MIN=$(for f in "$W/par"/*; do fsize "$f"; done | sort -n | head -n 1)
    out "== 5. Parallel ingest: cores $CPUS; $NP rotated files of >= $(gb "$PAR_MIN") GB, and the same $(gb "$BIG_SIZE") GB as one file =="
    par_measure "$NP rotated files" "$W/par.db" "$W/par"/*
    R1=$P_J1 R2=$P_J2 RC1=$P_C1 RC2=$P_C2 RSAME=$P_SAME
    out "  $NP files   --jobs 1: wall $(calc "$R1" '%.2f') s (cpu $RC1 s)   --jobs 2: wall $(calc "$R2" '%.2f') s (cpu $RC2 s)   speed-up x$(calc "$R1 / $R2" '%.2f')   identical index: $RSAME"
    rm -rf "$W/par"
    par_measure "one file" "$W/one.db" "$W/big.pcap"
    out "  one file  --jobs 1: wall $(calc "$P_J1" '%.2f') s (cpu $P_C1 s)   --jobs 2: wall $(calc "$P_J2" '%.2f') s (cpu $P_C2 s)   speed-up x$(calc "$P_J1 / $P_J2" '%.2f')   identical index: $P_SAME"
    out "  (--jobs 2: reading and decoding on a libuv pool thread, flow assembly on the main thread, SQLite on a writer thread)"
    target "--jobs 2 / --jobs 1, $NP rotated files" "$R1 / $R2" '>=' 1.7 "x$(calc "$R1 / $R2" '%.2f')" ">= x1.7" >/dev/null
    target "two cores / one, one $(gb "$BIG_SIZE") GB file" "$P_J1 / $P_J2" '>=' 1.3 "x$(calc "$P_J1 / $P_J2" '%.2f')" ">= x1.3" >/dev/null
    out ""
    warn_load
fi
rm -f "$W/big.pcap"

# ---------------------------------------------------------------- summary
out "== Targets =="
printf '%-40s %-16s %-22s %s\n' "target" "measured" "limit" "verdict"
cat "$W/summary"
out ""
out "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); total bench time $(($(date +%s) - T0)) s"
exit 0
