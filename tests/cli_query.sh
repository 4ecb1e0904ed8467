#!/bin/sh
# cli_query.sh - end-to-end tests of "pcapdex query": every filter operator
# against an independent brute-force evaluation in Python over all rows of
# the flows table, time windows and their edges, sorting, limits, --count,
# --top, --timeseries, the three formats, --explain, and exit codes.
# Usage: tests/cli_query.sh BUILD_DIR.  Ends with "query: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"

# ---- fixtures -----------------------------------------------------------------
# One capture cut in three (so that many flows span several captures), a
# VLAN capture and a QinQ capture at later times: IPv4, IPv6, TCP, UDP, ICMP,
# ICMPv6, ARP, VLAN and inner VLAN flows.
"$GEN" traffic -o "$T/a.pcap" --packets 40000 --concurrent 300 --seed 11 >/dev/null 2>&1 &&
    "$GEN" split "$T/a.pcap" -o "$T/rot" --count 15000 >/dev/null 2>&1 &&
    "$GEN" traffic -o "$T/v.pcap" --packets 3000 --concurrent 50 --seed 3 --link vlan --start 1700100000 >/dev/null 2>&1 &&
    "$GEN" traffic -o "$T/qq.pcap" --packets 500 --concurrent 20 --seed 5 --link qinq --start 1700200000 >/dev/null 2>&1 ||
    bad fixtures "pcapgen failed"
DB="$T/q.db"
expect index_fixtures 0 "$PDX" index -q --db "$DB" "$T"/rot*.pcap "$T/v.pcap" "$T/qq.pcap"

# ---- usage ----------------------------------------------------------------------
expect help 0 "$PDX" query --help
has help_text "$T/out" "usage: pcapdex query"
expect bad_option 2 "$PDX" query --db "$DB" --bogus
expect bad_format 2 "$PDX" query --db "$DB" --format xml
expect bad_sort 2 "$PDX" query --db "$DB" --sort colour
expect bad_limit 2 "$PDX" query --db "$DB" --limit ten
expect bad_since 2 "$PDX" query --db "$DB" --since yesterdayish
has bad_since_msg "$T/err" "since"
expect since_after_until 2 "$PDX" query --db "$DB" --since 2024-01-02 --until 2024-01-01
expect bad_top 2 "$PDX" query --db "$DB" --top everything
expect bad_by 2 "$PDX" query --db "$DB" --top src --by weight
expect by_without_top 2 "$PDX" query --db "$DB" --by bytes
expect count_and_top 2 "$PDX" query --db "$DB" --count --top src
expect sort_with_top 2 "$PDX" query --db "$DB" --top src --sort bytes
expect bad_interval 2 "$PDX" query --db "$DB" --timeseries 0s
expect bad_interval_word 2 "$PDX" query --db "$DB" --timeseries often

# ---- expression errors: message, the filter, a caret under the position -------------
expect ether_host_not_a_term 2 "$PDX" query --db "$DB" "ether host 00:11:22:33:44:55"
has ether_host_says_where_macs_are "$T/err" "expected 'proto' after 'ether', found 'host' .*flows.src_mac"
expect ether_proto_too_big 2 "$PDX" query --db "$DB" "ether proto 0x10000"
has ether_proto_too_big_msg "$T/err" "bad ethertype '0x10000'"
expect syntax_error 2 "$PDX" query --db "$DB" "host 10.0.0.1 and prot 53"
has syntax_error_msg "$T/err" "error: .*prot"
has syntax_error_echo "$T/err" "^  host 10.0.0.1 and prot 53$"
has syntax_error_caret "$T/err" "^                    \^$"
expect syntax_error_words 2 "$PDX" query --db "$DB" host 10.0.0.1 and prot 53
has syntax_error_words_caret "$T/err" "^                    \^$"
expect syntax_error_end 2 "$PDX" query --db "$DB" "tcp and"
has syntax_error_end_caret "$T/err" "^         \^$"
expect syntax_error_first_word 2 "$PDX" query --db "$DB" "bogus"
has syntax_error_first_caret "$T/err" "^  \^$"
expect syntax_error_before_db 2 "$PDX" query --db "$T/none.db" "tcp and and"

# ---- databases -------------------------------------------------------------------------
expect missing_db 3 "$PDX" query --db "$T/none.db" tcp
has missing_db_msg "$T/err" "none.db"
[ ! -e "$T/none.db" ] && ok missing_db_not_created || bad missing_db_not_created "none.db exists"
sqlite3 "$T/foreign.db" "CREATE TABLE t(x)" 2>/dev/null || python3 -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('CREATE TABLE t(x)')" "$T/foreign.db"
expect foreign_db 3 "$PDX" query --db "$T/foreign.db"
expect env_db 0 env PCAPDEX_DB="$DB" "$PDX" query --count

# ---- exit codes and outputs ------------------------------------------------------------------
expect no_match 1 "$PDX" query --db "$DB" "id 99999999"
same no_match_silent "$(cat "$T/out")" ""
expect no_match_count 1 "$PDX" query --db "$DB" --count "id 99999999"
same no_match_count_zero "$(cat "$T/out")" "0"
expect no_match_csv 1 "$PDX" query --db "$DB" --format csv "id 99999999"
has no_match_csv_header "$T/out" "^id,proto,src,"
expect no_match_top 1 "$PDX" query --db "$DB" --top host "id 99999999"
expect no_match_series 1 "$PDX" query --db "$DB" --timeseries 1s "id 99999999"
if [ -w /dev/full ]; then
    "$PDX" query --db "$DB" --format json --limit 0 >/dev/full 2>"$T/err"
    same output_error "$?" 7
    has output_error_msg "$T/err" "error: writing output: No space left on device"
else
    ok output_error_skipped
fi

# table: header with UTC, default limit 1000 with a note, aligned columns
expect table_default 0 "$PDX" query --db "$DB"
has table_header "$T/out" "^ *id +proto +src +sport +dst +dport +first \(UTC\) +duration +packets +bytes +end$"
same table_default_limit "$(wc -l <"$T/out" | tr -d ' ')" "1001"
has table_limit_note "$T/err" "first 1000 flows"
expect table_limit_explicit 0 "$PDX" query --db "$DB" --limit 5
same table_limit_explicit_rows "$(wc -l <"$T/out" | tr -d ' ')" "6"
hasnt table_limit_explicit_quiet "$T/err" "."
python3 - "$T/out" <<'EOF' && ok table_aligned || bad table_aligned "columns do not line up"
import sys
lines = open(sys.argv[1]).read().splitlines()
# right-aligned numeric columns end at the same offset on every line
hdr = lines[0]
for col in ("sport", "dport", "packets", "bytes"):
    end = hdr.index(col) + len(col)
    for l in lines[1:]:
        assert l[end - 1] != " " and (len(l) == end or l[end] == " "), (col, l)
EOF
expect table_limit_all 0 "$PDX" query --db "$DB" --limit 0
same table_limit_all_rows "$(wc -l <"$T/out" | tr -d ' ')" "$(($(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from flows').fetchone()[0])" "$DB") + 1))"

# --explain: the SQL, the plan, an index, no results
expect explain_host 0 "$PDX" query --db "$DB" --explain host 192.0.2.1
has explain_sql "$T/out" "^SQL: +SELECT .* FROM flows WHERE"
has explain_plan "$T/out" "^QUERY PLAN"
has explain_src_index "$T/out" "USING INDEX flows_src"
has explain_dst_index "$T/out" "USING INDEX flows_dst"
expect explain_port 0 "$PDX" query --db "$DB" --explain dst port 443
has explain_dport_index "$T/out" "USING INDEX flows_dport"
expect explain_window 0 "$PDX" query --db "$DB" --explain --since 1700000001 --until 1700000002
has explain_window_index "$T/out" "USING INDEX flows_(first|last)"
expect explain_json 0 "$PDX" query --db "$DB" --explain --format json tcp
has explain_captures "$T/out" "SEARCH packets USING (PRIMARY KEY|COVERING INDEX packets_flow) \(flow_id=\?\)"
expect explain_count 0 "$PDX" query --db "$DB" --explain --count tcp
has explain_count_sql "$T/out" "count\(\*\)"
expect explain_top 0 "$PDX" query --db "$DB" --explain --top host
expect explain_series 0 "$PDX" query --db "$DB" --explain --timeseries 1m

# a capture path with a quote, a comma, a line break and a byte that is not UTF-8
ODD="$T/$(printf 'we"ird,\377 na\nme').pcap"
cp "$T/qq.pcap" "$ODD"
expect odd_path_index 0 "$PDX" index -q --db "$T/odd.db" "$ODD"
expect odd_path_json 0 "$PDX" query --db "$T/odd.db" --format json --limit 1
python3 - "$T/out" "$T" <<'PYEOF' && ok odd_path_json_valid || bad odd_path_json_valid "$(head -c 300 "$T/out")"
import json, sys
o = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
assert o["captures"] == [sys.argv[2] + '/we"ird,\ufffd na\nme.pcap'], o["captures"]
PYEOF
expect odd_path_csv 0 "$PDX" query --db "$T/odd.db" --format csv --limit 1
python3 - "$T/out" "$T" <<'PYEOF' && ok odd_path_csv_quoted || bad odd_path_csv_quoted "$(head -c 300 "$T/out")"
import csv, io, sys
rows = list(csv.reader(io.StringIO(open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape"), newline="")))
want = (sys.argv[2] + '/we"ird,\udcff na\nme.pcap')
assert len(rows) == 2 and rows[1][-1] == want, rows
PYEOF

# ---- everything else against a brute-force evaluation in Python -----------------------------
cat >"$T/oracle.py" <<'EOF'
"""Brute force over every row of the flows table, in Python, compared with
pcapdex query.  Prints "ok NAME" or "FAIL NAME: why" per check."""
import csv
import datetime
import functools
import io
import ipaddress
import json
import sqlite3
import subprocess
import sys

DB, PDX = sys.argv[1], sys.argv[2]
FIELDS = ["id", "proto", "src", "sport", "dst", "dport", "vlan", "first", "last", "first_ns",
          "last_ns", "packets", "bytes", "src_packets", "src_bytes", "dst_packets", "dst_bytes",
          "tcp_flags", "end", "community_id", "captures"]
con = sqlite3.connect(DB)
con.row_factory = sqlite3.Row
# In the default order of a list: by first packet time, then id.
rows = [dict(r) for r in con.execute("SELECT * FROM flows ORDER BY first_ns, id")]
caps = {}
for fid, path in con.execute(
        "SELECT DISTINCT p.flow_id, c.path FROM packets p JOIN captures c ON c.id = p.capture_id "
        "ORDER BY p.flow_id, c.id"):
    caps.setdefault(fid, []).append(path)
for r in rows:
    r["packets"] = r["src_packets"] + r["dst_packets"]
    r["bytes"] = r["src_bytes"] + r["dst_bytes"]
    r["src_i"] = int.from_bytes(r["src_ip"], "big") if r["src_ip"] is not None else None
    r["dst_i"] = int.from_bytes(r["dst_ip"], "big") if r["dst_ip"] is not None else None

fails = 0


def ok(name):
    print("ok " + name)


def fail(name, why):
    global fails
    fails += 1
    print("FAIL %s: %s" % (name, str(why)[:400]))


def run(args):
    p = subprocess.run([PDX, "query", "--db", DB] + args, capture_output=True)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


# ---- independent semantics --------------------------------------------------------------
MAPPED = 0xFFFF << 32


def a16(text):
    a = ipaddress.ip_address(text)
    return MAPPED | int(a) if a.version == 4 else int(a)


def cidr(text):
    n = ipaddress.ip_network(text, strict=False)
    lo, hi = int(n.network_address), int(n.broadcast_address)
    if n.version == 4:
        lo, hi = MAPPED | lo, MAPPED | hi
    return lo, hi


@functools.lru_cache(maxsize=None)
def fmt_addr(b):
    if b is None:
        return None
    a = ipaddress.IPv6Address(b)
    return str(a.ipv4_mapped) if a.ipv4_mapped is not None else str(a)


EPOCH = datetime.datetime(1970, 1, 1)


@functools.lru_cache(maxsize=None)
def fmt_day(days):
    d = EPOCH + datetime.timedelta(days=days)
    return "%04d-%02d-%02d" % (d.year, d.month, d.day)


def fmt_time(ns):
    # (a million calls: the date is worked out once per day)
    s, f = divmod(ns, 10**9)
    days, s = divmod(s, 86400)
    return "%sT%02d:%02d:%02d.%09dZ" % (fmt_day(days), s // 3600, s // 60 % 60, s % 60, f)


PROTO = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah", 58: "icmp6",
         132: "sctp"}


def proto_name(r):
    if r["proto"] is None:
        return "eth:0x%04x" % r["ethertype"]
    return PROTO.get(r["proto"], str(r["proto"]))


def is_l4(r):
    return r["proto"] in (6, 17, 132)


def host(a, side="any"):
    v = a16(a)
    return lambda r: {"src": r["src_i"] == v, "dst": r["dst_i"] == v,
                      "any": v in (r["src_i"], r["dst_i"]),
                      "both": r["src_i"] == v and r["dst_i"] == v}[side]


def net(c, side="any"):
    lo, hi = cidr(c)
    def inr(x):
        return x is not None and lo <= x <= hi
    return lambda r: {"src": inr(r["src_i"]), "dst": inr(r["dst_i"]),
                      "any": inr(r["src_i"]) or inr(r["dst_i"]),
                      "both": inr(r["src_i"]) and inr(r["dst_i"])}[side]


def port(lo, hi=None, side="any"):
    hi = lo if hi is None else hi
    def inr(x):
        return x is not None and lo <= x <= hi
    return lambda r: is_l4(r) and {"src": inr(r["src_port"]), "dst": inr(r["dst_port"]),
                                   "any": inr(r["src_port"]) or inr(r["dst_port"]),
                                   "both": inr(r["src_port"]) and inr(r["dst_port"])}[side]


def proto(n):
    return lambda r: r["proto"] == n


def vlan(n=None):
    if n is None:
        return lambda r: r["vlan"] is not None
    return lambda r: r["vlan"] == n or r["vlan_inner"] == n


def AND(*ps):
    return lambda r: all(p(r) for p in ps)


def OR(*ps):
    return lambda r: any(p(r) for p in ps)


def NOT(p):
    return lambda r: not p(r)


ip4 = lambda r: r["ethertype"] == 2048
ip6 = lambda r: r["ethertype"] == 34525


def common(col, family):
    counts = {}
    for r in rows:
        if r[col] is not None and (ip4(r) if family == 4 else ip6(r)):
            counts[r[col]] = counts.get(r[col], 0) + 1
    best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    return fmt_addr(best)


S4 = common("dst_ip", 4)      # a busy IPv4 server
S6 = common("dst_ip", 6)      # a busy IPv6 server
C4 = fmt_addr(next(r["src_ip"] for r in rows if ip4(r) and r["proto"] == 6))
C6 = fmt_addr(next(r["src_ip"] for r in rows if ip6(r)))
CID = next(r["community_id"] for r in rows if r["community_id"])
MID = rows[len(rows) // 2]

CASES = [
    ("", lambda r: True),
    ("   ", lambda r: True),
    ("host " + S4, host(S4)),
    (S4, host(S4)),
    ("src host " + S4, host(S4, "src")),
    ("dst host " + S4, host(S4, "dst")),
    ("dst " + S4, host(S4, "dst")),
    ("src or dst host " + S4, host(S4)),
    ("src and dst host " + S4, host(S4, "both")),
    ("src " + C4, host(C4, "src")),
    ("host " + C4 + " or host " + S4, OR(host(C4), host(S4))),
    ("host " + S6, host(S6)),
    ("dst host " + S6, host(S6, "dst")),
    ("src " + C6, host(C6, "src")),
    ("net 192.0.2.0/24", net("192.0.2.0/24")),
    ("dst net 198.51.100", net("198.51.100.0/24", "dst")),
    ("src net 10/8", net("10.0.0.0/8", "src")),
    ("net 10.128.0.0/9", net("10.128.0.0/9")),
    ("src net 10.1.2.3/8", net("10.0.0.0/8", "src")),
    ("not src net 10/8", NOT(net("10.0.0.0/8", "src"))),
    ("src and dst net 10/8", net("10.0.0.0/8", "both")),
    ("net 0.0.0.0/0", net("0.0.0.0/0")),
    ("net ::/0", net("::/0")),
    ("net 2001:db8::/32", net("2001:db8::/32")),
    ("ip6 net 2001:db8:5::/48", AND(ip6, net("2001:db8:5::/48"))),
    ("dst net 2001:db8:5::/48", net("2001:db8:5::/48", "dst")),
    ("net ::ffff:192.0.2.0/120", net("192.0.2.0/24")),
    ("port 443", port(443)),
    ("src port 443", port(443, side="src")),
    ("dst port 22", port(22, side="dst")),
    ("src or dst port 3478", port(3478)),
    ("src and dst port 443", port(443, side="both")),
    ("portrange 1-1023", port(1, 1023)),
    ("dst portrange 3000-6000", port(3000, 6000, side="dst")),
    ("src portrange 40000-50000", port(40000, 50000, side="src")),
    ("tcp", proto(6)),
    ("udp", proto(17)),
    ("icmp", proto(1)),
    ("icmp6", proto(58)),
    ("proto 17", proto(17)),
    ("proto tcp", proto(6)),
    ("proto \\udp", proto(17)),
    ("proto 47", proto(47)),
    ("ip", ip4),
    ("ip6", ip6),
    ("ip tcp", AND(ip4, proto(6))),
    ("ip6 and udp", AND(ip6, proto(17))),
    ("arp", lambda r: r["ethertype"] == 0x0806),
    ("not arp and not ip and not ip6", lambda r: r["ethertype"] not in (0x0806, 2048, 34525)),
    ("ether proto \\arp", lambda r: r["ethertype"] == 0x0806),
    ("ether proto 0x86DD or ether proto 2048", lambda r: r["ethertype"] in (2048, 34525)),
    ("ether proto rarp", lambda r: r["ethertype"] == 0x8035),
    ("vlan", vlan()),
    ("vlan 101", vlan(101)),
    ("vlan 102", vlan(102)),
    ("vlan 200", vlan(200)),
    ("not vlan", NOT(vlan())),
    ("vlan 4095", vlan(4095)),
    ("packets > 100", lambda r: r["packets"] > 100),
    ("packets <= 2", lambda r: r["packets"] <= 2),
    ("packets 3", lambda r: r["packets"] == 3),
    ("packets != 1", lambda r: r["packets"] != 1),
    ("bytes >= 10k", lambda r: r["bytes"] >= 10000),
    ("bytes>100k", lambda r: r["bytes"] > 100000),
    ("bytes < 1.5k", lambda r: r["bytes"] < 1500),
    ("duration > 500ms", lambda r: r["last_ns"] - r["first_ns"] > 500000000),
    ("duration < 1ms", lambda r: r["last_ns"] - r["first_ns"] < 1000000),
    ("duration = 0", lambda r: r["last_ns"] == r["first_ns"]),
    ("id 5", lambda r: r["id"] == 5),
    ("id 100-200", lambda r: 100 <= r["id"] <= 200),
    ("community-id " + CID, lambda r: r["community_id"] == CID),
    ("tcp and not port 443", AND(proto(6), NOT(port(443)))),
    ("udp or icmp", OR(proto(17), proto(1))),
    ("(tcp or udp) and dst port 443", AND(OR(proto(6), proto(17)), port(443, side="dst"))),
    ("! tcp && ! udp", AND(NOT(proto(6)), NOT(proto(17)))),
    ("not (tcp or udp or icmp or icmp6)", NOT(OR(proto(6), proto(17), proto(1), proto(58)))),
    ("host %s or host %s and port 443" % (C4, S4), OR(host(C4), AND(host(S4), port(443)))),
    ("tcp dst port 443", AND(proto(6), port(443, side="dst"))),
    ("TCP AND PORT 443", AND(proto(6), port(443))),
    ("not not tcp", proto(6)),
    ("((udp)) || (icmp6 and not ip)", OR(proto(17), AND(proto(58), NOT(ip4)))),
    ("not host %s" % S4, NOT(host(S4))),
]

by_id = {r["id"]: r for r in rows}
seen_empty = seen_some = 0
for expr, pred in CASES:
    want = [r["id"] for r in rows if pred(r)]
    code, out, err = run(["--format", "json", "--limit", "0", expr])
    name = "filter[%s]" % expr
    try:
        got = [json.loads(l)["id"] for l in out.splitlines()]
    except ValueError as e:
        fail(name, "bad JSON: %s" % e)
        continue
    if code != (0 if want else 1):
        fail(name, "exit %d with %d flows wanted: %s" % (code, len(want), err))
    elif got != want:
        fail(name, "got %d flows, wanted %d; first differences %s" %
             (len(got), len(want), sorted(set(got) ^ set(want))[:5]))
    else:
        ok(name)
    seen_some += bool(want)
    seen_empty += not want
    if not want:
        print("# no flow matches " + expr)
# the fixture must exercise both outcomes, and most cases must select something
if seen_some >= len(CASES) - 12 and seen_empty >= 2:
    ok("filter_coverage")
else:
    fail("filter_coverage", "%d cases matched something, %d nothing" % (seen_some, seen_empty))

# the same expression as one argument or as several words
code1, out1, _ = run(["--format", "json", "--limit", "0", "tcp and dst port 443"])
code2, out2, _ = run(["--format", "json", "--limit", "0", "tcp", "and", "dst", "port", "443"])
(ok if code1 == code2 == 0 and out1 == out2 else lambda n: fail(n, "differ"))("words_joined")

# ---- every field of every flow, JSON and CSV ------------------------------------------------
code, out, err = run(["--format", "json"])
objs = []
try:
    objs = [json.loads(l) for l in out.splitlines()]
    ok("json_parses")
except ValueError as e:
    fail("json_parses", e)
bad = []
for o in objs:
    r = by_id.get(o["id"])
    if list(o.keys()) != FIELDS:
        bad.append(("keys", list(o.keys())))
        break
    want = {
        "id": r["id"], "proto": proto_name(r), "src": fmt_addr(r["src_ip"]), "sport": r["src_port"],
        "dst": fmt_addr(r["dst_ip"]), "dport": r["dst_port"], "vlan": r["vlan"],
        "first": fmt_time(r["first_ns"]), "last": fmt_time(r["last_ns"]),
        "first_ns": r["first_ns"], "last_ns": r["last_ns"], "packets": r["packets"],
        "bytes": r["bytes"], "src_packets": r["src_packets"], "src_bytes": r["src_bytes"],
        "dst_packets": r["dst_packets"], "dst_bytes": r["dst_bytes"], "tcp_flags": r["tcp_flags"],
        "end": r["end_reason"], "community_id": r["community_id"], "captures": caps.get(r["id"], []),
    }
    if o != want:
        bad.append({k: (o[k], want[k]) for k in FIELDS if o[k] != want[k]})
        if len(bad) > 3:
            break
if len(objs) == len(rows) and not bad:
    ok("json_fields")
else:
    fail("json_fields", "%d of %d flows; %s" % (len(objs), len(rows), bad[:3]))
multi = sum(1 for o in objs if len(o["captures"]) > 1)
(ok if multi > 0 else lambda n: fail(n, "no flow spans captures"))("json_captures_multi")
nonip = [o for o in objs if o["src"] is None]
(ok if nonip and all(o["proto"] == "eth:0x0806" and o["sport"] is None for o in nonip)
 else lambda n: fail(n, nonip[:2]))("json_non_ip")

code, out, err = run(["--format", "csv"])
rd = list(csv.reader(io.StringIO(out)))
if rd and rd[0] == FIELDS:
    ok("csv_header")
else:
    fail("csv_header", rd[:1])
def csvval(v):
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(v)
    return str(v)
cbad = [row for row, o in zip(rd[1:], objs) if row != [csvval(o[k]) for k in FIELDS]]
if len(rd) - 1 == len(objs) and not cbad:
    ok("csv_matches_json")
else:
    fail("csv_matches_json", "%d rows; %s" % (len(rd) - 1, cbad[:2]))

# ---- sorting and limits ----------------------------------------------------------------------
SORTS = {
    "id": lambda r: r["id"], "first": lambda r: r["first_ns"], "last": lambda r: r["last_ns"],
    "packets": lambda r: r["packets"], "bytes": lambda r: r["bytes"],
    "duration": lambda r: r["last_ns"] - r["first_ns"],
    "src": lambda r: (r["src_ip"] is not None, r["src_ip"] or b""),
    "dst": lambda r: (r["dst_ip"] is not None, r["dst_ip"] or b""),
    "sport": lambda r: (r["src_port"] is not None, r["src_port"] or 0),
    "dport": lambda r: (r["dst_port"] is not None, r["dst_port"] or 0),
}
for field, key in SORTS.items():
    for desc in (False, True):
        want = [r["id"] for r in sorted(rows, key=lambda r: (key(r), r["id"]), reverse=desc)]
        arg = ("-" if desc else "") + field
        code, out, err = run(["--format", "csv", "--sort", arg])
        got = [int(l.split(",")[0]) for l in out.splitlines()[1:]]
        name = "sort[%s]" % arg
        ok(name) if got == want else fail(name, "first ids %s, wanted %s" % (got[:5], want[:5]))
code, out, err = run(["--format", "json", "--sort", "-bytes", "--limit", "7", "udp"])
want = [r["id"] for r in sorted((r for r in rows if r["proto"] == 17),
                                key=lambda r: (r["bytes"], r["id"]), reverse=True)][:7]
got = [json.loads(l)["id"] for l in out.splitlines()]
ok("limit_after_sort") if got == want else fail("limit_after_sort", (got, want))
# The default order, and limits on `host A` lists (a UNION of the src and
# dst halves, merged in first_ns order): the first N of the full order.
code, out, err = run(["--format", "csv", "--limit", "50"])
got = [int(l.split(",")[0]) for l in out.splitlines()[1:]]
want = [r["id"] for r in rows][:50]
ok("default_order_first") if got == want else fail("default_order_first", (got[:5], want[:5]))
import collections, ipaddress
def addr_text(b):
    return str(ipaddress.IPv4Address(b[12:]) if b[:12] == b"\0" * 10 + b"\xff\xff" else ipaddress.IPv6Address(b))
BUSY = addr_text(collections.Counter(r["dst_ip"] for r in rows if r["dst_ip"]).most_common(1)[0][0])


def first_n(kind, n, cases):
    """Each expression with --limit n, ascending and descending: the first n
    of the full order, from a selection of more than n flows."""
    for expr, pred in cases:
        for desc in (False, True):
            match = [r["id"] for r in rows if pred(r)]
            want = (match[::-1] if desc else match)[:n]
            code, out, err = run(["--format", "json", "--limit", str(n)] +
                                 (["--sort", "-first"] if desc else []) + [expr])
            got = [json.loads(l)["id"] for l in out.splitlines()]
            name = "%s_limit[%s%s]" % (kind, expr, " desc" if desc else "")
            ok(name) if got == want and len(match) > n else fail(name, (got, want, len(match)))


first_n("host", 2, (("host " + BUSY, host(BUSY)), ("host %s and tcp" % BUSY, AND(host(BUSY), proto(6))),
                    ("udp and not port 53 and host " + BUSY, AND(proto(17), NOT(port(53)), host(BUSY)))))
code, out, err = run(["--explain", "host " + BUSY])
name = "host_list_merges"
ok(name) if "MERGE (UNION)" in out and "TEMP B-TREE" not in out.split("captures of")[0] else fail(name, out[-400:])
# `port N` lists are split the same way (src_port and dst_port halves).
PORT = collections.Counter(p for r in rows if r["proto"] in (6, 17, 132)
                           for p in (r["src_port"], r["dst_port"])).most_common(1)[0][0]
first_n("port", 3, (("port %d" % PORT, port(PORT)), ("tcp and port %d" % PORT, AND(proto(6), port(PORT))),
                    ("port %d and not host %s" % (PORT, BUSY), AND(port(PORT), NOT(host(BUSY))))))
code, out, err = run(["--explain", "port %d" % PORT])
name = "port_list_merges"
ok(name) if ("MERGE (UNION)" in out and "flows_sport" in out and "flows_dport" in out
             and "TEMP B-TREE" not in out.split("captures of")[0]) else fail(name, out[-400:])
# A dense net (most flows) is walked in time order to the limit; a sparse
# one is sorted: either way the first N of the full order.
DENSE = collections.Counter(addr_text(r["src_ip"]).split(".")[0] for r in rows if r["src_ip"]
                            and r["src_ip"][:12] == b"\0" * 10 + b"\xff\xff").most_common(1)[0][0] + ".0.0.0/8"
SPARSE = "%s/32" % BUSY
first_n("net", 3, (("net " + DENSE, net(DENSE)), ("net %s and tcp" % DENSE, AND(net(DENSE), proto(6))),
                   ("src net " + DENSE, net(DENSE, "src")), ("net " + SPARSE, net(SPARSE))))
code, out, err = run(["--explain", "--limit", "3", "net " + DENSE])
name = "dense_net_walks_in_time"
ok(name) if "dense: walked in time order" in out and "flows_first" in out and "TEMP B-TREE" not in out \
    else fail(name, out[-400:])
code, out, err = run(["--explain", "--limit", "3", "--sort", "-first", "net " + DENSE])
name = "dense_net_walks_in_time_desc"
ok(name) if "dense: walked in time order" in out and "flows_first" in out else fail(name, out[-400:])
code, out, err = run(["--explain", "--limit", "10001", "net " + DENSE])
name = "dense_net_over_probe_limit_sorted"
ok(name) if "dense" not in out and "TEMP B-TREE" in out else fail(name, out[-400:])
code, out, err = run(["--explain", "--limit", "3", "net " + SPARSE])
name = "sparse_net_sorted"
ok(name) if "dense" not in out and "flows_src" in out else fail(name, out[-400:])
code, out, err = run(["--sort=-packets", "--limit", "3", "--format", "json"])
ok("sort_equals_form") if code == 0 and len(out.splitlines()) == 3 else fail("sort_equals_form", err)

# ---- time windows: a flow matches when it was active in [since, until] -------------------------
def ts(ns):
    s, f = divmod(ns, 10**9)
    return "%d.%09d" % (s, f)


def window(since, until, extra=()):
    code, out, err = run(["--format", "json", "--limit", "0"] +
                         (["--since", since] if since is not None else []) +
                         (["--until", until] if until is not None else []) + list(extra))
    return code, [json.loads(l)["id"] for l in out.splitlines()], err


def active(lo, hi):
    return [r["id"] for r in rows
            if (lo is None or r["last_ns"] >= lo) and (hi is None or r["first_ns"] <= hi)]


F = MID
checks = [
    ("since_touches_last", F["last_ns"], None, True),
    ("since_after_last", F["last_ns"] + 1, None, False),
    ("until_touches_first", None, F["first_ns"], True),
    ("until_before_first", None, F["first_ns"] - 1, False),
    ("window_inside", F["first_ns"] + 1, F["first_ns"] + 1, F["last_ns"] > F["first_ns"]),
    ("window_point_first", F["first_ns"], F["first_ns"], True),
]
for name, lo, hi, inside in checks:
    code, got, err = window(None if lo is None else ts(lo), None if hi is None else ts(hi))
    want = active(lo, hi)
    if got != want:
        fail(name, "got %d flows, wanted %d: %s" % (len(got), len(want), err))
    elif (F["id"] in got) != inside:
        fail(name, "flow %d %s" % (F["id"], "missing" if inside else "present"))
    else:
        ok(name)
# the same instants in other notations
t0 = rows[0]["first_ns"]
base = t0 - t0 % 10**9 + 10**9  # a whole second inside the first capture
iso = datetime.datetime.utcfromtimestamp(base // 10**9).strftime("%Y-%m-%dT%H:%M:%S")
for name, since in (("since_rfc3339_z", iso + "Z"), ("since_rfc3339_nozone", iso),
                    ("since_rfc3339_offset",
                     datetime.datetime.utcfromtimestamp(base // 10**9 + 7200)
                     .strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"),
                    ("since_epoch", str(base // 10**9)), ("since_epoch_at", "@" + str(base // 10**9))):
    code, got, err = window(since, None)
    want = active(base, None)
    ok(name) if got == want and want else fail(name, "got %d wanted %d %s" % (len(got), len(want), err))
code, got, err = window(ts(base), ts(base + 250 * 10**6), ["tcp"])
want = [i for i in active(base, base + 250 * 10**6) if by_id[i]["proto"] == 6]
ok("window_and_filter") if got == want and want else fail("window_and_filter", (len(got), len(want)))
code, got, err = window("1h ago", None)
ok("since_relative_none") if code == 1 and got == [] else fail("since_relative_none", (code, err))
code, out, err = run(["--count", "--since", ts(base), "--until", ts(base + 10**8)])
want = len(active(base, base + 10**8))
ok("count_window") if out.strip() == str(want) and code == 0 else fail("count_window", (out, want))

# ---- --count --------------------------------------------------------------------------------
for expr, pred in CASES[:40:4]:
    want = sum(1 for r in rows if pred(r))
    code, out, err = run(["--count", expr])
    name = "count[%s]" % expr
    ok(name) if out == "%d\n" % want and code == (0 if want else 1) else fail(name, (out, want, err))

# ---- --top ----------------------------------------------------------------------------------
def top_keys(r, kind):
    if kind in ("src", "dst", "host", "pair") and r["src_ip"] is None:
        return []
    if kind == "src":
        return [(fmt_addr(r["src_ip"]), (r["src_ip"],))]
    if kind == "dst":
        return [(fmt_addr(r["dst_ip"]), (r["dst_ip"],))]
    if kind == "host":
        ks = [(fmt_addr(r["src_ip"]), (r["src_ip"],))]
        if r["dst_ip"] != r["src_ip"]:
            ks.append((fmt_addr(r["dst_ip"]), (r["dst_ip"],)))
        return ks
    if kind == "pair":
        return [((fmt_addr(r["src_ip"]), fmt_addr(r["dst_ip"])), (r["src_ip"], r["dst_ip"]))]
    if kind == "port":
        return [(r["dst_port"], (r["dst_port"],))] if is_l4(r) and r["dst_port"] is not None else []
    if kind == "proto":
        p = -1 if r["proto"] is None else r["proto"]
        return [(proto_name(r), (p, r["ethertype"] if p < 0 else 0))]


def top(kind, by, sel):
    agg = {}
    for r in rows:
        if not sel(r):
            continue
        keys = r.get("top_" + kind)
        if keys is None:
            keys = r["top_" + kind] = top_keys(r, kind)
        for shown, order in keys:
            e = agg.setdefault(order, [shown, 0, 0, 0])
            e[1] += 1
            e[2] += r["packets"]
            e[3] += r["bytes"]
    m = {"flows": 1, "packets": 2, "bytes": 3}[by]
    out = []
    for order, e in sorted(agg.items(), key=lambda kv: (-kv[1][m], kv[0])):
        keys = {"src": e[0][0], "dst": e[0][1]} if kind == "pair" else {kind: e[0]}
        keys.update(flows=e[1], packets=e[2], bytes=e[3])
        out.append(keys)
    return out


for kind in ("src", "dst", "host", "port", "pair", "proto"):
    for by in ("flows", "packets", "bytes"):
        for expr, sel, limit in (("", lambda r: True, "0"), ("tcp", proto(6), "5")):
            want = top(kind, by, sel)
            if limit != "0":
                want = want[:int(limit)]
            code, out, err = run(["--top", kind, "--by", by, "--limit", limit, "--format", "json", expr])
            name = "top[%s by %s, %s limit %s]" % (kind, by, expr or "all", limit)
            try:
                got = [json.loads(l) for l in out.splitlines()]
            except ValueError as e:
                fail(name, e)
                continue
            ok(name) if got == want and code == 0 else fail(name, "got %s, wanted %s %s" % (got[:3], want[:3], err))
code, out, err = run(["--top", "host"])
lines = out.splitlines()
ok("top_default_table") if code == 0 and len(lines) == 11 and lines[0].split() == ["host", "flows", "packets", "bytes"] \
    else fail("top_default_table", out[:300])
code, out, err = run(["--top", "pair", "--by", "bytes", "--format", "csv", "--limit", "3"])
rd = list(csv.reader(io.StringIO(out)))
want = top("pair", "bytes", lambda r: True)[:3]
ok("top_csv") if rd[0] == ["src", "dst", "flows", "packets", "bytes"] and \
    [[w["src"], w["dst"], str(w["flows"]), str(w["packets"]), str(w["bytes"])] for w in want] == rd[1:] \
    else fail("top_csv", rd[:3])

# ---- --top from the rollups ---------------------------------------------------------------------
# Without a filter or window --top merges the per-capture rollups; with one
# it reads the flows.  The loop above checked both against the oracle; here
# which path ran, the fallback, the runs stored, and damage.
import shutil
code, out, err = run(["--explain", "--top", "host"])
ok("top_explain_rollups") if code == 0 and "FROM rollups WHERE kind = 'host'" in out and "rollups_kind" in out \
    else fail("top_explain_rollups", out[:300])
code, out, err = run(["--explain", "--top", "host", "tcp"])
ok("top_explain_filter_reads_flows") if code == 0 and "FROM flows WHERE" in out and "rollups" not in out \
    else fail("top_explain_filter_reads_flows", out[:300])
code, out, err = run(["--explain", "--top", "port", "--since", "1700000000"])
ok("top_explain_window_reads_flows") if code == 0 and "FROM flows WHERE" in out \
    else fail("top_explain_window_reads_flows", out[:300])
ncap = con.execute("SELECT count(*) FROM captures").fetchone()[0]
runs = con.execute("SELECT kind, count(*), count(DISTINCT capture_id), max(seq) FROM rollups GROUP BY kind").fetchall()
ok("rollups_per_capture") if sorted(r[0] for r in runs) == ["dst", "host", "pair", "port", "proto", "src"] and \
    all(r[1] == ncap and r[2] == ncap and r[3] == 0 for r in runs) else fail("rollups_per_capture", (ncap, runs))


def run_on(db, args):
    p = subprocess.run([PDX, "query", "--db", db] + args, capture_output=True)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


# a capture without rollups (an index edited by hand, or written before
# they existed): --top reads the flows, with the same answer
part = DB + ".part"
shutil.copy(DB, part)
cp = sqlite3.connect(part)
cp.execute("DELETE FROM rollups WHERE capture_id = (SELECT max(id) FROM captures)")
cp.commit()
cp.close()
code, out, err = run_on(part, ["--explain", "--top", "host"])
ok("top_fallback_explain") if code == 0 and "FROM flows" in out else fail("top_fallback_explain", out[:300])
code, out, err = run_on(part, ["--top", "host", "--by", "bytes", "--limit", "0", "--format", "json"])
got = [json.loads(l) for l in out.splitlines()] if code == 0 else None
ok("top_fallback_same") if got == top("host", "bytes", lambda r: True) else fail("top_fallback_same", (code, err))

# a damaged run: a database error that names the kind, not a wrong answer
bad_db = DB + ".badrun"
shutil.copy(DB, bad_db)
cb = sqlite3.connect(bad_db)
cb.execute("UPDATE rollups SET data = substr(data, 1, length(data) - 3) WHERE kind = 'pair' AND capture_id = "
           "(SELECT min(id) FROM captures)")
cb.commit()
cb.close()
code, out, err = run_on(bad_db, ["--top", "pair"])
ok("top_damaged_run") if code == 3 and out == "" and "pair rollup run is corrupt" in err and bad_db in err \
    else fail("top_damaged_run", (code, out[:100], err))
code, out, err = run_on(bad_db, ["--top", "host"])
ok("top_other_kind_unharmed") if code == 0 else fail("top_other_kind_unharmed", (code, err))

# an address that is not 16 bytes: a database error naming the flow, as carve
# gives, not a row that shows it as null
bad_db = DB + ".badaddr"
shutil.copy(DB, bad_db)
cb = sqlite3.connect(bad_db)
bad_id = cb.execute("SELECT min(id) FROM flows WHERE src_ip IS NOT NULL").fetchone()[0]
cb.execute("UPDATE flows SET src_ip = x'0102030405' WHERE id = ?", (bad_id,))
cb.commit()
cb.close()
for fmt in ("json", "table"):
    code, out, err = run_on(bad_db, ["id %d" % bad_id, "--format", fmt])
    ok("bad_address_" + fmt) if code == 3 and "flow %d: src_ip is not a 16-byte address" % bad_id in err \
        and "null" not in out else fail("bad_address_" + fmt, (code, out[:100], err))

# ---- --timeseries ------------------------------------------------------------------------------
def series(interval, sel):
    bins = {}
    for r in rows:
        if sel(r):
            b = r["first_ns"] // interval * interval
            e = bins.setdefault(b, [0, 0, 0])
            e[0] += 1
            e[1] += r["packets"]
            e[2] += r["bytes"]
    if not bins:
        return []
    out = []
    b, hi = min(bins), max(bins)
    while b <= hi:
        e = bins.get(b, [0, 0, 0])
        out.append({"start": fmt_time(b), "start_ns": b, "flows": e[0], "packets": e[1], "bytes": e[2]})
        b += interval
    return out


# The fixture's captures are a day apart: bins of a second or less over all
# of it would be hundreds of thousands of empty ones, so those intervals
# look at the rotated captures' flows (IDs up to MAIN) and the VLAN capture.
MAIN = max(r["id"] for r in rows if r["first_ns"] < rows[0]["first_ns"] + 3600 * 10**9)
main = lambda r: r["id"] <= MAIN
for iv, ns in (("250ms", 250 * 10**6), ("1s", 10**9), ("7s", 7 * 10**9), ("1h", 3600 * 10**9),
               ("1d", 86400 * 10**9)):
    wide = ns >= 7 * 10**9
    for expr, sel in ((("", lambda r: True) if wide else ("id 1-%d" % MAIN, main)),
                      (("udp", proto(17)) if wide else ("udp and id 1-%d" % MAIN, AND(proto(17), main))),
                      ("vlan", vlan())):
        want = series(ns, sel)
        code, out, err = run(["--timeseries", iv, "--format", "json", expr])
        got = [json.loads(l) for l in out.splitlines()]
        name = "timeseries[%s %s]" % (iv, expr or "all")
        ok(name) if got == want and code == 0 else fail(name, "got %d bins %s, wanted %d %s" % (len(got), got[:2], len(want), want[:2]))
want = series(7 * 10**9, lambda r: True)
code, out, err = run(["--timeseries", "7s", "--format", "csv"])
rd = list(csv.reader(io.StringIO(out)))
ok("timeseries_csv") if rd[0] == ["start", "start_ns", "flows", "packets", "bytes"] and len(rd) == len(want) + 1 \
    else fail("timeseries_csv", rd[:2])
zero = [w for w in want if w["flows"] == 0]
ok("timeseries_has_empty_bins") if zero else fail("timeseries_has_empty_bins", "fixture has no gap")
code, out, err = run(["--timeseries", "1ns"])
ok("timeseries_too_many_bins") if code == 2 and "interval" in err else fail("timeseries_too_many_bins", (code, err))

# ---- many distinct keys: the aggregation spills to partitions past 131072 keys ----------------
import random
random.seed(5)
big = DB + ".big"
dst = sqlite3.connect(big)
con.backup(dst)
N = 200000
servers = [bytes(10) + b"\xff\xff" + bytes([192, 0, 2 + i // 250, i % 250]) for i in range(1000)]
base = 1700300000 * 10**9
gb = random.getrandbits
def synth():
    for i in range(N):
        if i % 7:
            src = bytes(10) + b"\xff\xff" + bytes([10, gb(4), gb(8), gb(8)])
            eth = 2048
        else:
            src = bytes.fromhex("20010db8") + gb(20).to_bytes(12, "big")
            eth = 34525
        first = base + gb(40) % (600 * 10**9)
        yield (17 if i % 3 else 6, eth, 1, src, servers[gb(16) % 1000], 1024 + gb(16) % 64512,
               (53, 443, 8080)[gb(8) % 3], first, first + gb(30) % 10**9,
               1 + gb(6) % 49, 40 + gb(17) % 89960, gb(6) % 50,
               gb(17) % 90000, 0, "idle", 0, 1, 1)
# Flows written by hand have no rollups: without them --top reads the flows,
# whose aggregation (the spill to partitions) is what this checks.  What
# runs here scans the flows or reads them by ID, so the scratch copy drops
# the other indexes rather than fill them.
dst.execute("DELETE FROM rollups")
for (name,) in dst.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows' "
                           "AND sql IS NOT NULL").fetchall():
    dst.execute("DROP INDEX " + name)
dst.executemany("INSERT INTO flows (proto, ethertype, linktype, src_ip, dst_ip, src_port, dst_port, "
                "first_ns, last_ns, src_packets, src_bytes, dst_packets, dst_bytes, tcp_flags, "
                "end_reason, state, first_capture, last_capture) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", synth())
dst.commit()
dst.close()
DB = big
c2 = sqlite3.connect(DB)
c2.row_factory = sqlite3.Row
rows = [dict(r) for r in c2.execute("SELECT * FROM flows ORDER BY id")]
for r in rows:
    r["packets"] = r["src_packets"] + r["dst_packets"]
    r["bytes"] = r["src_bytes"] + r["dst_bytes"]
for kind, by, limit in (("host", "bytes", "0"), ("src", "flows", "25"), ("pair", "packets", "0"),
                        ("dst", "bytes", "0")):
    want = top(kind, by, lambda r: True)
    if limit != "0":
        want = want[:int(limit)]
    code, out, err = run(["--top", kind, "--by", by, "--limit", limit, "--format", "json"])
    got = [json.loads(l) for l in out.splitlines()]
    name = "top_many_keys[%s by %s limit %s]" % (kind, by, limit)
    ok(name) if got == want and code == 0 else fail(name, "got %d entries %s, wanted %d %s %s" % (len(got), got[:2], len(want), want[:2], err))
# only the synthetic flows: with the fixture's, 1 ms bins would span days
lo_id = rows[-N]["id"]
# (600,000 bins: compared as CSV, the start's text in every 997th bin)
want = series(10**6, lambda r: r["id"] >= lo_id)
code, out, err = run(["--timeseries", "1ms", "--format", "csv", "id %d-%d" % (lo_id, rows[-1]["id"])])
got = list(csv.reader(io.StringIO(out)))[1:]
same = code == 0 and len(got) == len(want) and all(
    g[1:] == [str(w["start_ns"]), str(w["flows"]), str(w["packets"]), str(w["bytes"])] and
    (i % 997 or g[0] == w["start"]) for i, (g, w) in enumerate(zip(got, want)))
ok("timeseries_many_bins") if same else fail("timeseries_many_bins", "got %d bins, wanted %d %s" % (len(got), len(want), err))

sys.exit(0)
EOF
python3 "$T/oracle.py" "$DB" "$PDX" >"$T/oracle.out" 2>&1
orc=$?
while IFS= read -r line; do
    case $line in
    "ok "*) ok "${line#ok }" ;;
    "FAIL "*) FAIL=$((FAIL + 1)); echo "$line" ;;
    *) echo "$line" ;;
    esac
done <"$T/oracle.out"
[ "$orc" -eq 0 ] || bad oracle "python exited $orc"

# ---- rollups written over several runs, and a capture with more keys than one run holds ------
# The same captures indexed one `pcapdex index` run each (flows continue
# from run to run), and 40000 DNS flows with a client address each, past
# PDX_ROLLUP_FLUSH_AT (16384) keys twice: --top from the rollups equals --top
# over the flows ("packets > 0" matches every flow and makes it read them).
DB2="$T/runs.db"
for f in "$T"/rot*.pcap "$T/v.pcap" "$T/qq.pcap"; do
    "$PDX" index -q --db "$DB2" "$f" >/dev/null 2>&1 || bad runs_index "$f"
done
"$GEN" dns -o "$T/dns.pcap" --flows 40000 --seed 3 >/dev/null 2>&1 || bad dns_fixture "pcapgen failed"
DB3="$T/dns.db"
expect dns_index 0 "$PDX" index -q --db "$DB3" "$T/dns.pcap"
same dns_runs_cut "$(q "$DB3" "SELECT max(seq) >= 2 FROM rollups WHERE kind = 'host'")" 1
for db in "$DB2" "$DB3"; do
    n=$(basename "$db" .db)
    for kind in src dst host port pair proto; do
        for by in flows packets bytes; do
            "$PDX" query --db "$db" --top $kind --by $by --limit 0 --format csv >"$T/r.csv" 2>"$T/err"
            a=$?
            "$PDX" query --db "$db" --top $kind --by $by --limit 0 --format csv 'packets > 0' >"$T/f.csv" 2>>"$T/err"
            b=$?
            if [ $a -eq 0 ] && [ $b -eq 0 ] && [ -s "$T/r.csv" ] && cmp -s "$T/r.csv" "$T/f.csv"; then
                ok "rollups_equal_flows[$n $kind by $by]"
            else
                bad "rollups_equal_flows[$n $kind by $by]" "exit $a/$b, $(wc -l <"$T/r.csv") vs $(wc -l <"$T/f.csv") lines $(head -c 200 "$T/err")"
            fi
        done
    done
done
# verify checks the rollups against the flows; a flow edited by hand is caught
expect verify_rollups 0 "$PDX" verify --db "$DB2"
has verify_rollups_agree "$T/err" "rollups agree with the flows"
cp "$DB2" "$T/edited.db"
q "$T/edited.db" "UPDATE flows SET dst_bytes = dst_bytes + 1 WHERE id = (SELECT max(id) FROM flows WHERE proto = 17)"
expect verify_edited_flow 3 "$PDX" verify --db "$T/edited.db"
has verify_edited_names_kind "$T/err" "the src rollups disagree with the flows"
q "$T/edited.db" "DELETE FROM rollups"
expect verify_no_rollups 0 "$PDX" verify --db "$T/edited.db"
has verify_no_rollups_note "$T/err" "no rollups: an unfiltered --top reads the flows"
same runs_top_matches_one_run "$("$PDX" query --db "$DB2" --top host --by bytes --limit 0 --format csv | md5sum)" \
    "$("$PDX" query --db "$DB" --top host --by bytes --limit 0 --format csv | md5sum)"

# ---- --timeseries: too many bins --------------------------------------------------------------
# On a sound index an interval too fine for the traffic is a usage error; when
# a selected flow holds times no capture gives (not an integer, first after
# last), the bins are absurd because the index is damaged: exit 3, one line
# naming the database and the flow.  A time before 1970 is no damage (a
# pcapng interface's negative if_tsoffset gives one).
expect series_too_fine 2 "$PDX" query --db "$DB" --timeseries 1ns
has series_too_fine_msg "$T/err" "error: --timeseries: [0-9]+ bins .*choose a larger interval"
same series_too_fine_one_line "$(wc -l <"$T/err" | tr -d ' ')" 1
MINID=$(q "$DB" "SELECT min(id) FROM flows")
cp "$DB" "$T/ts.db"
q "$T/ts.db" "UPDATE flows SET first_ns = -3600000000000 WHERE id = $MINID"
expect series_before_1970_too_fine 2 "$PDX" query --db "$T/ts.db" --timeseries 1s
has series_before_1970_too_fine_msg "$T/err" "choose a larger interval"
expect series_before_1970 0 "$PDX" query --db "$T/ts.db" --timeseries 10000d --format csv
has series_before_1970_first_bin "$T/out" "^1942-08-16T00:00:00\.000000000Z,-864000000000000000,1,"
has series_before_1970_epoch_bin "$T/out" "^1970-01-01T00:00:00\.000000000Z,0,0,0,0$"
for v in "first_ns = 1e30" "first_ns = 'soon'" "first_ns = 9223372036854775807"; do
    cp "$DB" "$T/ts.db"
    q "$T/ts.db" "UPDATE flows SET $v WHERE id = $MINID"
    expect "series_damaged[$v]" 3 "$PDX" query --db "$T/ts.db" --timeseries 1s
    has "series_damaged_names_db[$v]" "$T/err" "^pcapdex query: error: $T/ts\.db: flow $MINID: first_ns "
    same "series_damaged_one_line[$v]" "$(wc -l <"$T/err" | tr -d ' ')" 1
    same "series_damaged_no_output[$v]" "$(wc -c <"$T/out" | tr -d ' ')" 0
done
# the damaged flow outside the selection: the interval is what is wrong
expect series_damage_not_selected 2 "$PDX" query --db "$T/ts.db" --timeseries 1ns "id $((MINID + 1))-99999999"
has series_damage_not_selected_msg "$T/err" "choose a larger interval"
# with a window and a filter (their parameters bound in the check too)
expect series_damaged_window 3 "$PDX" query --db "$T/ts.db" --timeseries 1s --since 2000-01-01 "id $MINID-99999999"
has series_damaged_window_msg "$T/err" "$T/ts\.db: flow $MINID: first_ns 9223372036854775807 is after last_ns [0-9]+$"

finish query
