#!/bin/sh
# demo.sh - what "make demo" runs after installing and building: generate a
# rotated sample capture set, index it, query it, and carve a session that
# spans files; then check the carved session against tcpdump's view of the
# unrotated capture.
set -e
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
PDX="$TOP/$BUILD/pcapdex"
GEN="$TOP/$BUILD/pcapgen"
D="$TOP/demo"
rm -rf "$D"
mkdir -p "$D"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say pcapgen traffic -o demo/sample.pcap --bytes 40M --concurrent 500
"$GEN" traffic -o "$D/sample.pcap" --bytes 40M --concurrent 500 --seed 1 >/dev/null
say pcapgen split demo/sample.pcap -o demo/rotated- --bytes 10M "  # like tcpdump -C 10"
"$GEN" split "$D/sample.pcap" -o "$D/rotated-" --bytes 10M >/dev/null
ls -l "$D"/rotated-*

say pcapdex index --db demo/archive.db demo/rotated-*.pcap
"$PDX" index --db "$D/archive.db" "$D"/rotated-*.pcap

say pcapdex query --db demo/archive.db "'tcp and bytes > 100k'" --sort -bytes --limit 5
"$PDX" query --db "$D/archive.db" 'tcp and bytes > 100k' --sort -bytes --limit 5

say pcapdex query --db demo/archive.db --top host --by bytes --limit 5
"$PDX" query --db "$D/archive.db" --top host --by bytes --limit 5

# The biggest TCP session that crosses a file boundary.
ID=$(sqlite3 "$D/archive.db" "SELECT id FROM flows WHERE proto = 6 AND first_capture <> last_capture
                              ORDER BY src_packets + dst_packets DESC LIMIT 1")
say sqlite3 demo/archive.db "'SELECT ... FROM flows_view WHERE id = $ID'"
sqlite3 -header -column "$D/archive.db" "SELECT id, proto, src, sport, dst, dport, packets, bytes, captures
                                         FROM flows_view WHERE id = $ID"

say pcapdex carve --db demo/archive.db "$ID" -o demo/session.pcap
"$PDX" carve --db "$D/archive.db" "$ID" -o "$D/session.pcap"

# The same session, the slow way: tcpdump over the whole unrotated capture.
FILTER=$(sqlite3 "$D/archive.db" "SELECT printf('tcp and host %s and host %s and port %d and port %d',
                                  src, dst, sport, dport) FROM flows_view WHERE id = $ID")
say tcpdump -r demo/sample.pcap -w demo/session-tcpdump.pcap "'$FILTER'"
tcpdump -r "$D/sample.pcap" -w "$D/session-tcpdump.pcap" "$FILTER" 2>/dev/null
N1=$(tcpdump -nn -r "$D/session.pcap" 2>/dev/null | wc -l)
N2=$(tcpdump -nn -r "$D/session-tcpdump.pcap" 2>/dev/null | wc -l)
if cmp -s "$D/session.pcap" "$D/session-tcpdump.pcap"; then
    echo "carved session: $N1 packets from $(sqlite3 "$D/archive.db" "SELECT count(DISTINCT capture_id) FROM packets WHERE flow_id = $ID") files, byte-identical to tcpdump's extraction ($N2 packets)"
else
    echo "carved session: $N1 packets; tcpdump extracted $N2; the files differ" >&2
    exit 1
fi
