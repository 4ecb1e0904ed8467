#!/usr/bin/env python3
"""check_hostile_db.py - pcapdex's read side against a hostile or damaged index.

A small, realistic index is built once: a rotated set (pcapgen traffic, cut
in three by pcapgen split; two parts indexed, the third kept for the write
side), a pcapng capture rewritten as seekable zstd by `pcapdex compress`, and
a capture with a long flow whose offsets are stored zstd-compressed.  Three
target flows are picked from it: a live TCP flow that spans two captures,
a flow of the zstd capture, and the flow with compressed offsets.

Every variant is a copy of that index with one thing wrong, and every run of
a command against a variant must: end within 20 s, not by a signal; print no
sanitizer report (AddressSanitizer, LeakSanitizer, UBSan "runtime error");
exit with a code docs/cli.md documents for that command; and when it fails,
print its error as one line, "pcapdex CMD: error: ...", that names the
database (exit 6, a capture missing or changed, may name the capture).  Every
stderr line must start with "pcapdex ".  A carve that succeeds must write a
valid pcap/pcapng (parsed here; each distinct output also read by capinfos)
holding exactly the records the same carve writes from the undamaged index.
A failed carve leaves no output file.  JSON output must parse, line by line;
packets must print flow, path and offset on each line.

Variants:
  - one row: every table and column (read from sqlite_schema and
    PRAGMA table_info, so new columns and tables are covered), each of the
    hostile values (NULL, 0, -1, 1, 2^31, 2^63-1, -2^63, 1e300, '', 'text',
    a text with a newline, x'', x'00', a 20-byte and a 100 KiB blob), and
    values derived from the row's real one (integers +-1; blobs truncated,
    halved, extended, bit-flipped; text truncated, extended, as a blob, the
    other values of an enumerated column).  The row is the target flow's
    row in that table (its flow, first offset segment, first capture, that
    capture's section 0, interface 0 and "host" rollup run; meta rotates
    between its two keys); the target rotates over the three flows.
    NOT NULL constraints are taken out of the table's schema text first when
    a value needs it (another tool may have written such a database).
  - all rows: NULL and two of -1, 2^63-1, x'00', 'text' (in turn) in every
    row of every column.
  - schema: user_version older, newer, negative; meta rows missing; each
    table dropped, emptied, or replaced by a view that never ends; each
    index dropped; a column renamed; the view dropped; flows a view;
    packets a virtual table; a trigger that aborts inserts; not WAL; extra
    and duplicate rows.
  - live flows: one column of a flow stored live (which the next index
    run takes up) damaged in a way the flow table must not take: a wrong
    type, NULL in a NOT NULL column, an out-of-range value, a blob of the
    wrong length, columns that contradict each other.  index must refuse
    it: exit 3, one error line naming the database, the flow and the
    column, and the index's content unchanged.
  - whole file: truncated at 13 sizes; bytes overwritten in random pages;
    pages zeroed; an empty file, a text file, a pcap, a directory, a missing
    file, SQLite databases of other programs (one with a pcapdex meta table
    and nothing else); WAL files beside it (uncheckpointed, garbage,
    another database's, cut), a garbage -shm.

Commands: query (table; 'host A and port P' for the target's address and
port; --count; --top host --by bytes, unfiltered (rollups) and with a filter
(flows); --timeseries 1m; --format json; --format csv --sort bytes; a
--since/--until window), packets --all, packets ID, carve ID -o F, carve
--format pcapng, carve --payload DIR ID, carve --filter, verify, and index of
the third rotated part into a copy of the variant (the write side: it must
fail cleanly or succeed).

Which runs: the full product (some 1,950 variants times 17 commands, 33,000
runs, 7 to 14 minutes under ASan here) is far more than the minute this suite may take
under ASan on two cores, so each variant runs one command: a one-row or
all-rows variant one of the commands that read its table (READERS: flows
by query, carve, verify and index; packets by packets, carve and query's
capture lists; captures by carve, verify, packets and query; sections and
interfaces by carve; rollups by query --top and verify; meta by everything),
taken in turn, so that every column meets each of its readers with some
values and each value meets several readers; a schema or whole-file
variant, whose damage shows when the index is opened and first read, the
same for every command, two commands taken in turn from ones that open it
differently (OPENERS) plus the ones its damage is about.  That is about
2,100 runs, 30 to 45 s under ASan on a two-core machine.  --full runs every command on
every variant (and every all-rows value); --cmds N gives one-row and
all-rows variants N commands.  LeakSanitizer's scan at exit costs three
times the rest of a run, so it is on for every 8th run only (--leaks N:
every Nth, 0 never).

usage: check_hostile_db.py BUILD_DIR [-v] [-j N] [--full] [--cmds N] [--leaks N] [--only SUBSTR] [--keep]
Ends with "hostile-db: N passed, N failed, N skipped"; exit 1 when anything failed.
"""
import argparse
import hashlib
import ipaddress
import json
import os
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

TIMEOUT = 20
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error|"
                       r"ThreadSanitizer|MemorySanitizer")

# Exit codes docs/cli.md documents for each command (query's 2 only for a
# time series too long to print: "choose a larger interval").
EXITS = {
    "query": {0, 1, 3},
    "packets": {0, 1, 3, 6},
    "carve": {0, 1, 3, 6},
    "verify": {0, 3, 6},
    "index": {0, 3, 5},
}

HOSTILE = [
    ("NULL", None), ("0", 0), ("-1", -1), ("1", 1), ("2^31", 2 ** 31), ("2^63-1", 2 ** 63 - 1),
    ("-2^63", -2 ** 63), ("1e300", 1e300), ("''", ""), ("'text'", "text"), ("'a<LF>b'", "a\nb"),
    ("x''", b""), ("x'00'", b"\x00"), ("blob20", bytes(range(1, 21))),
    ("blob100K", bytes((i * 131 + 7) & 0xFF for i in range(100 * 1024))),
]
ALL_ROWS = [("NULL", None), ("-1", -1), ("2^63-1", 2 ** 63 - 1), ("x'00'", b"\x00"), ("'text'", "text")]

# The other values of enumerated text columns (docs/schema.md).
ENUMS = {
    "format": ["pcap", "pcapng", "snoop"],
    "byte_order": ["le", "be"],
    "ts_resolution": ["us", "ns", "10^-9", "2^-30"],
    "status": ["complete", "damaged", "indexing"],
    "compression": ["none", "zstd", "gzip", "lz4"],
    "end_reason": ["fin", "rst", "idle", "open"],
    "tunnel": ["gre", "vxlan"],
    "kind": ["src", "port", "proto"],
    "version": ["2.4", "1.0", "99.99"],
    "linktypes": ["1", "1,113", "276", ""],
}

ALL_CMDS = ["query", "query-filter", "query-count", "query-top", "query-top-tcp", "query-series",
            "query-json", "query-csv", "query-window", "packets-all", "packets", "carve",
            "carve-pcapng", "carve-payload", "carve-filter", "verify", "index"]
# The commands that read each table, in the order a table's variants take
# them in turn (the main readers more than once).  A table this script does
# not know gets every command in turn.
READERS = {
    "flows": ["query-json", "carve", "query", "carve-pcapng", "verify", "query-csv", "carve",
              "query-top-tcp", "query-series", "carve-payload", "query-window", "index",
              "query-filter", "carve-filter", "query-count", "carve"],
    "packets": ["packets", "carve", "packets-all", "carve-pcapng", "query-json", "carve-payload",
                "verify", "carve", "index", "query-csv", "carve-filter"],
    "captures": ["carve", "verify", "query-json", "carve-pcapng", "packets", "carve-payload",
                 "query-csv", "carve", "index", "packets-all", "verify"],
    "sections": ["carve-pcapng", "carve", "carve-payload", "verify"],
    "interfaces": ["carve", "carve-pcapng", "carve-payload", "carve", "verify"],
    "rollups": ["query-top", "verify", "query-top", "index", "query-top-tcp"],
    "meta": ["query-window", "carve", "query", "index", "carve-filter", "verify", "query-count",
             "packets"],
}
# Schema and whole-file damage is met when the index is opened and its
# tables first read, the same for every command: these take it in turn.
OPENERS = ["query-json", "carve", "verify", "packets-all", "query-top", "carve-pcapng", "index",
           "query", "packets", "query-series"]


def fatal(msg):
    print("hostile-db: setup failed: %s" % msg)
    print("hostile-db: 0 passed, 1 failed, 0 skipped")
    sys.exit(1)


def run(argv, env=None, timeout=300, cwd=None):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          timeout=timeout, cwd=cwd)


def qident(name):
    return '"' + name.replace('"', '""') + '"'


# ---- captures as written by carve --------------------------------------------------

def parse_pcap(data):
    """Records (origlen, bytes) of a pcap file; ValueError when it is not one."""
    if len(data) < 24:
        raise ValueError("%d bytes: shorter than a pcap header" % len(data))
    m = data[:4]
    if m in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif m in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("bad pcap magic %s" % m.hex())
    off, recs = 24, []
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError("record header cut at %d" % off)
        _, _, caplen, origlen = struct.unpack(e + "IIII", data[off:off + 16])
        if caplen > 262144 or off + 16 + caplen > len(data):
            raise ValueError("record at %d: caplen %d does not fit" % (off, caplen))
        recs.append((origlen, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return recs


def parse_pcapng(data):
    off, recs, e, nif = 0, [], None, 0
    while off < len(data):
        if off + 12 > len(data):
            raise ValueError("block cut at %d" % off)
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else None
            if e is None:
                raise ValueError("SHB at %d: bad byte-order magic" % off)
            nif = 0
        elif e is None:
            raise ValueError("no section header first")
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        if blen < 12 or blen % 4 or off + blen > len(data):
            raise ValueError("block at %d: length %d" % (off, blen))
        if struct.unpack(e + "I", data[off + blen - 4:off + blen])[0] != blen:
            raise ValueError("block at %d: trailing length differs" % off)
        if btype == 1:
            nif += 1
        elif btype == 6:
            iface, _, _, caplen, origlen = struct.unpack(e + "IIIII", data[off + 8:off + 28])
            if iface >= nif:
                raise ValueError("EPB at %d: interface %d of %d" % (off, iface, nif))
            if 28 + caplen + 4 > blen:
                raise ValueError("EPB at %d: caplen %d does not fit" % (off, caplen))
            recs.append((origlen, data[off + 28:off + 28 + caplen]))
        elif btype == 3:
            raise ValueError("SPB in carve output")
        off += blen
    if e is None:
        raise ValueError("empty file")
    return recs


def parse_capture(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return parse_pcapng(data)
    return parse_pcap(data)


# ---- the base index -----------------------------------------------------------------

class Target:
    pass


class Base:
    def __init__(self, build, tmp):
        self.build = build
        self.pdx = os.path.join(build, "pcapdex")
        self.gen = os.path.join(build, "pcapgen")
        self.tmp = tmp
        self.db = os.path.join(tmp, "base.db")
        self.caps = os.path.join(tmp, "caps")
        self.env = dict(os.environ)
        self.env.pop("PCAPDEX_DB", None)

    def gen_run(self, *args):
        p = run([self.gen] + list(args), env=self.env)
        if p.returncode != 0:
            fatal("pcapgen %s: %s" % (" ".join(args), p.stderr.decode(errors="replace").strip()))

    def pdx_run(self, *args):
        p = run([self.pdx] + list(args), env=self.env)
        if p.returncode != 0:
            fatal("pcapdex %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                p.stderr.decode(errors="replace").strip()))
        return p

    def make(self):
        c = self.caps
        os.makedirs(os.path.join(c, "rot"))
        x = os.path.join(c, "x.pcap")
        y = os.path.join(c, "y.pcapng")
        lng = os.path.join(c, "long.pcap")
        # Earlier than the rotated set, so that the flows still open at the end
        # of its second part are live when the third is indexed.
        self.gen_run("traffic", "-o", x, "--packets", "3000", "--concurrent", "50", "--seed", "1")
        self.gen_run("split", x, "-o", os.path.join(c, "rot", "part"), "--count", "1000")
        os.unlink(x)
        self.gen_run("traffic", "-o", y, "--format", "pcapng", "--packets", "500", "--concurrent",
                     "20", "--seed", "2", "--start", "1699990000")
        self.gen_run("traffic", "-o", lng, "--packets", "4000", "--concurrent", "2", "--seed", "3",
                     "--start", "1699995000")
        parts = sorted(os.listdir(os.path.join(c, "rot")))
        if len(parts) < 3:
            fatal("pcapgen split made %d parts" % len(parts))
        self.parts = [os.path.join(c, "rot", p) for p in parts]
        self.extra = self.parts[2]
        self.pdx_run("index", "-q", "--db", self.db, y, lng, self.parts[0], self.parts[1])
        self.pdx_run("compress", "--db", self.db, "--frame-size", "64K", "--remove", y)
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.pick_targets(con)
        con.close()
        for ext in ("-wal", "-shm"):
            if os.path.exists(self.db + ext):
                os.unlink(self.db + ext)
        self.base_carves()

    def pick_targets(self, con):
        def one(sql, *args):
            r = con.execute(sql, args).fetchone()
            return r[0] if r else None

        zcap = one("SELECT id FROM captures WHERE compression != 'none'")
        if zcap is None:
            fatal("no compressed capture in the base index")
        ids = []
        ids.append(one("SELECT id FROM flows WHERE state & 1 AND proto = 6 AND first_capture < last_capture"
                       " ORDER BY src_packets + dst_packets DESC LIMIT 1")
                   or one("SELECT id FROM flows WHERE first_capture < last_capture ORDER BY id LIMIT 1"))
        ids.append(one("SELECT id FROM flows WHERE first_capture = ?1 AND last_capture = ?1 AND proto = 6"
                       " ORDER BY src_packets + dst_packets DESC LIMIT 1", zcap))
        ids.append(one("SELECT flow_id FROM packets WHERE encoding = 1 ORDER BY count DESC LIMIT 1")
                   or one("SELECT flow_id FROM packets ORDER BY count DESC LIMIT 1"))
        if None in ids or len(set(ids)) != 3:
            fatal("cannot pick three target flows (got %r)" % ids)
        # A live IPv4 TCP flow, for the live-flow variants: target 0 when it
        # is one.
        self.live = one("SELECT id FROM flows WHERE id = ?1 AND state & 1 AND proto = 6"
                        " AND ethertype = 2048 AND tunnel IS NULL", ids[0]) \
            or one("SELECT id FROM flows WHERE state & 1 AND proto = 6 AND ethertype = 2048"
                   " AND tunnel IS NULL ORDER BY id LIMIT 1")
        if self.live is None:
            fatal("no live IPv4 TCP flow in the base index")
        self.live_row = dict(zip([d[1] for d in con.execute("PRAGMA table_info(flows)")],
                                 con.execute("SELECT * FROM flows WHERE id = ?", (self.live,)).fetchone()))
        self.max_version = one("PRAGMA user_version")
        self.targets = []
        for fid in ids:
            t = Target()
            t.id = fid
            src, dport, first, last, fcap = con.execute(
                "SELECT src_ip, dst_port, first_ns, last_ns, first_capture FROM flows WHERE id = ?",
                (fid,)).fetchone()
            a = ipaddress.IPv6Address(bytes(src))
            t.addr = str(a.ipv4_mapped) if a.ipv4_mapped else a.compressed
            t.port = dport
            t.filter = "host %s and port %d" % (t.addr, dport)
            t.since = str(last // 10 ** 9)
            t.until = str(last // 10 ** 9 + 60)
            t.capture = fcap
            t.rows = {
                "flows": ("id = ?", (fid,)),
                "packets": ("rowid = ?", (one("SELECT rowid FROM packets WHERE flow_id = ?"
                                             " ORDER BY encoding DESC, capture_id, seg LIMIT 1", fid),)),
                "captures": ("id = ?", (fcap,)),
                "sections": ("capture_id = ? AND section = 0", (fcap,)),
                "interfaces": ("capture_id = ? AND iface = 0", (fcap,)),
                "rollups": ("rowid = ?", (one("SELECT rowid FROM rollups WHERE kind = 'host' AND"
                                             " capture_id = ? AND seq = 0", fcap),)),
            }
            self.targets.append(t)
        self.paths = [r[0] for r in con.execute("SELECT path FROM captures")]
        # The tables and columns, as the schema says.
        self.tables = []
        for (name,) in con.execute("SELECT name FROM sqlite_schema WHERE type = 'table'"
                                   " AND name NOT LIKE 'sqlite_%' ORDER BY rowid"):
            cols = [(r[1], r[2].upper(), r[5]) for r in con.execute("PRAGMA table_info(%s)" % qident(name))]
            self.tables.append((name, cols))
        self.indexes = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")]
        self.views = [r[0] for r in con.execute("SELECT name FROM sqlite_schema WHERE type = 'view'")]

    def base_carves(self):
        """What each carve writes from the undamaged index: the records every
        successful carve of a damaged copy must write too."""
        d = os.path.join(self.tmp, "basecarve")
        os.makedirs(d)
        self.expect = {}
        for t in self.targets:
            for cmd in ("carve", "carve-pcapng", "carve-filter"):
                argv, out = command(self, cmd, self.db, t, d)
                p = run(argv, env=self.env)
                if p.returncode != 0:
                    fatal("%s from the base index: exit %d: %s" % (
                        cmd, p.returncode, p.stderr.decode(errors="replace").strip()))
                try:
                    self.expect[(t.id, cmd)] = Counter(parse_capture(out))
                except ValueError as e:
                    fatal("%s from the base index: %s" % (cmd, e))
                os.unlink(out)


def command(base, cmd, db, t, wd):
    """argv of cmd against db for target t, working in wd; and its output file."""
    p = [base.pdx]
    out = None
    if cmd.startswith("query"):
        p += ["query", "--db", db]
        p += {
            "query": [],
            "query-filter": [t.filter],
            "query-count": ["--count"],
            "query-top": ["--top", "host", "--by", "bytes"],
            "query-top-tcp": ["tcp", "--top", "host", "--by", "bytes"],
            "query-series": ["--timeseries", "1m"],
            "query-json": ["--format", "json"],
            "query-csv": ["--format", "csv", "--sort", "bytes"],
            "query-window": ["--since", t.since, "--until", t.until, "--format", "csv"],
        }[cmd]
    elif cmd == "packets-all":
        p += ["packets", "--db", db, "--all"]
    elif cmd == "packets":
        p += ["packets", "--db", db, str(t.id)]
    elif cmd == "carve":
        out = os.path.join(wd, "out.pcap")
        p += ["carve", "--db", db, str(t.id), "-o", out]
    elif cmd == "carve-pcapng":
        out = os.path.join(wd, "out.pcapng")
        p += ["carve", "--db", db, "--format", "pcapng", str(t.id), "-o", out]
    elif cmd == "carve-filter":
        out = os.path.join(wd, "filter.pcap")
        p += ["carve", "--db", db, "-q", "--filter", t.filter, "-o", out]
    elif cmd == "carve-payload":
        p += ["carve", "--db", db, "--payload", os.path.join(wd, "payload"), str(t.id)]
    elif cmd == "verify":
        p += ["verify", "--db", db]
    elif cmd == "index":
        p += ["index", "-q", "--db", db, base.extra]
    else:
        raise KeyError(cmd)
    return p, out


# ---- writing hostile values -----------------------------------------------------------

class Skip(Exception):
    pass


def relax_not_null(db, table):
    """Takes NOT NULL out of table's schema text, so that NULL can be stored
    (the file format does not care; another tool may have made such a table)."""
    con = sqlite3.connect(db)
    sql = con.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
                      (table,)).fetchone()[0]
    new = re.sub(r"\s+NOT\s+NULL", "", sql, flags=re.I)
    ver = con.execute("PRAGMA schema_version").fetchone()[0]
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?", (new, table))
    con.execute("PRAGMA schema_version = %d" % (ver + 1))
    con.commit()
    con.execute("PRAGMA writable_schema = OFF")
    con.close()


def write_value(db, table, col, value, where, args):
    sql = "UPDATE %s SET %s = ?%s" % (qident(table), qident(col), " WHERE " + where if where else "")
    for attempt in range(2):
        con = sqlite3.connect(db)
        con.execute("PRAGMA synchronous = OFF")
        try:
            cur = con.execute(sql, (value,) + tuple(args))
            if cur.rowcount == 0:
                raise Skip("no row to write")
            con.commit()
            return
        except sqlite3.IntegrityError as e:
            if "NOT NULL" in str(e) and attempt == 0:
                con.close()
                relax_not_null(db, table)
                continue
            raise Skip("SQLite refuses it: %s" % e)
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as e:
            raise Skip("SQLite refuses it: %s" % e)
        finally:
            con.close()


def sql_script(*stmts):
    def apply(db):
        con = sqlite3.connect(db)
        try:
            for s in stmts:
                con.execute(s)
            con.commit()
        except sqlite3.Error as e:
            raise Skip("SQLite refuses it: %s" % e)
        finally:
            con.close()
    return apply


def derived_values(col, real):
    """Values made from a row's real value."""
    out = []
    if isinstance(real, int):
        out += [("real+1", real + 1), ("real-1", real - 1)]
    elif isinstance(real, bytes) and real:
        n = len(real)
        out += [("truncated", real[:-1]), ("halved", real[:n // 2]), ("extended", real + b"\x00"),
                ("extended16", real + b"\xff" * 16)]
        for name, i in (("flip@0", 0), ("flip@mid", n // 2), ("flip@end", n - 1)):
            b = bytearray(real)
            b[i] ^= 0x01 if i == n - 1 else 0x40
            out.append((name, bytes(b)))
    elif isinstance(real, str):
        if real:
            out += [("truncated", real[:-1]), ("extended", real + "x"), ("as-blob", real.encode())]
        for alt in ENUMS.get(col, []):
            if alt != real:
                out.append(("'%s'" % alt, alt))
    return out


# ---- variants ---------------------------------------------------------------------------

class Variant:
    def __init__(self, name, apply, cmds, target):
        self.name = name
        self.apply = apply      # apply(db_path), may raise Skip
        self.cmds = cmds
        self.target = target
        self.refuse = None      # a live flow's column: index must refuse the index, naming it


def rotate(lst, k, n=1):
    return [lst[(k + i) % len(lst)] for i in range(n)] if lst else []


def one_row_variants(base, args):
    out = []
    con = sqlite3.connect(base.db)
    for ti, (table, cols) in enumerate(base.tables):
        readers = READERS.get(table, ALL_CMDS)
        k = 0
        for ci, (col, _, _) in enumerate(cols):
            nvalues = len(HOSTILE) + 16
            for vi in range(nvalues):
                t = base.targets[(vi + ci + ti) % len(base.targets)]
                where, wargs = row_of(base, con, table, cols, t, vi)
                if where is None:
                    continue
                real = con.execute("SELECT %s FROM %s WHERE %s" % (qident(col), qident(table), where),
                                   wargs).fetchone()
                values = HOSTILE + (derived_values(col, real[0]) if real else [])
                if vi >= len(values):
                    continue
                vname, value = values[vi]
                cmds = ALL_CMDS if args.full else rotate(readers, ci * 5 + k, args.cmds)
                k += 1
                out.append(Variant("%s.%s=%s@flow%d" % (table, col, vname, t.id),
                                   lambda db, tb=table, c=col, v=value, w=where, a=wargs:
                                   write_value(db, tb, c, v, w, a), cmds, t))
    con.close()
    return out


def row_of(base, con, table, cols, t, vi):
    """The target row of table for flow t: a WHERE clause and its arguments."""
    if table == "meta":
        return "key = ?", (("application", "max_duration_ns")[vi % 2],)
    if table in t.rows:
        return t.rows[table]
    # A table this script does not know: its first row, by primary key or rowid.
    pks = [c for c, _, pk in sorted(cols, key=lambda x: x[2]) if pk]
    try:
        if pks:
            r = con.execute("SELECT %s FROM %s LIMIT 1" % (", ".join(map(qident, pks)), qident(table))).fetchone()
            if r is None:
                return None, None
            return " AND ".join("%s IS ?" % qident(c) for c in pks), tuple(r)
        r = con.execute("SELECT rowid FROM %s LIMIT 1" % qident(table)).fetchone()
        return ("rowid = ?", (r[0],)) if r else (None, None)
    except sqlite3.Error:
        return None, None


def all_rows_variants(base, args):
    out = []
    n = 0
    for table, cols in base.tables:
        readers = READERS.get(table, ALL_CMDS)
        for ci, (col, _, _) in enumerate(cols):
            # Every column gets NULL and two of the others in turn (--full: all).
            values = ALL_ROWS if args.full else \
                [ALL_ROWS[0]] + rotate(ALL_ROWS[1:], ci, 2)
            for vname, value in values:
                t = base.targets[n % len(base.targets)]
                cmds = ALL_CMDS if args.full else rotate(readers, n, args.cmds)
                n += 1
                out.append(Variant("all %s.%s=%s" % (table, col, vname),
                                   lambda db, tb=table, c=col, v=value: write_value(db, tb, c, v, None, ()),
                                   cmds, t))
    return out


def openers(args, k, extra):
    """Commands for schema and whole-file damage: openers in turn, and the
    variant's own."""
    if args.full:
        return ALL_CMDS
    cmds = rotate(OPENERS, k * 2, max(args.cmds, 1) + 1)
    return cmds + [c for c in extra if c not in cmds]


def schema_variants(base, args):
    out = []
    t0, t1, t2 = base.targets
    k = [0]

    def add(name, apply, extra=(), t=None):
        out.append(Variant(name, apply, openers(args, k[0], extra), t or base.targets[k[0] % 3]))
        k[0] += 1

    v = base.max_version
    for uv in sorted({0, 1, v - 1, v + 1, 99, -1, 2 ** 31 - 1}):
        add("user_version=%d" % uv, sql_script("PRAGMA user_version = %d" % uv), ["index"])
    add("meta without application", sql_script("DELETE FROM meta WHERE key = 'application'"))
    add("meta without max_duration_ns", sql_script("DELETE FROM meta WHERE key = 'max_duration_ns'"),
        ["query-window", "carve-filter"])
    add("meta application twice", sql_script("INSERT INTO meta VALUES (' application', 'pcapdex')"))
    for table, _ in base.tables:
        add("table %s dropped" % table, sql_script("DROP TABLE %s" % qident(table)), ["query-top", "query-count"])
        add("table %s empty" % table, sql_script("DELETE FROM %s" % qident(table)),
            ["query-top", "query-csv", "carve-filter"])
    for i, idx in enumerate(base.indexes):
        add("index %s dropped" % idx, sql_script("DROP INDEX %s" % qident(idx)),
            rotate(["query-filter", "query-window", "packets", "query-top", "carve-filter"], i, 2))
    for view in base.views:
        add("view %s dropped" % view, sql_script("DROP VIEW %s" % qident(view)))
    for table, cols in base.tables:
        if len(cols) > 1:
            add("%s.%s renamed" % (table, cols[1][0]),
                sql_script("ALTER TABLE %s RENAME COLUMN %s TO hostile_x" % (qident(table), qident(cols[1][0]))),
                ["query-top", "query-filter"])
        add("%s with an extra column" % table,
            sql_script("ALTER TABLE %s ADD COLUMN hostile_x BLOB DEFAULT x'00'" % qident(table)))
    add("flows is a view", sql_script("ALTER TABLE flows RENAME TO flows_real",
                                      "CREATE VIEW flows AS SELECT * FROM flows_real"))
    for table, _ in base.tables:
        # A view that never ends: every read of it would hang.
        add("%s is an endless view" % table, sql_script(
            "ALTER TABLE %s RENAME TO hostile_real" % qident(table),
            "CREATE VIEW %s AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)"
            " SELECT r.* FROM c, hostile_real r" % qident(table)))
    # The same with a version that claims the table is not made yet.
    for uv, table in ((-1, "flows"), (0, "flows"), (2, "rollups")):
        add("%s is an endless view, user_version=%d" % (table, uv), sql_script(
            "ALTER TABLE %s RENAME TO hostile_real" % qident(table),
            "CREATE VIEW %s AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)"
            " SELECT r.* FROM c, hostile_real r" % qident(table),
            "PRAGMA user_version = %d" % uv), ["query-top", "query-count", "verify"])
    add("packets is a virtual table", sql_script(
        "ALTER TABLE packets RENAME TO packets_real",
        "CREATE VIRTUAL TABLE packets USING fts5(flow_id, capture_id, seg, count, first_offset,"
        " last_offset, encoding, offsets)",
        "INSERT INTO packets SELECT * FROM packets_real"), ["packets"])
    add("trigger aborts inserts", sql_script(
        "CREATE TRIGGER hostile BEFORE INSERT ON captures BEGIN SELECT RAISE(ABORT, 'hostile'); END"))
    add("trigger aborts flow updates", sql_script(
        "CREATE TRIGGER hostile BEFORE UPDATE ON flows BEGIN SELECT RAISE(ABORT, 'hostile'); END"))
    add("journal_mode delete", sql_script("PRAGMA journal_mode = DELETE"))
    # Rows that contradict the others.
    add("packets: a segment twice", sql_script(
        "INSERT INTO packets(flow_id, capture_id, seg, count, first_offset, last_offset, encoding, offsets)"
        " SELECT flow_id, capture_id, seg + 1000, count, first_offset, last_offset, encoding, offsets"
        " FROM packets WHERE flow_id = %d" % t0.id), ["packets", "carve-pcapng", "carve-payload"], t0)
    add("packets: a segment of a missing capture", sql_script(
        "UPDATE packets SET capture_id = 4242 WHERE flow_id = %d" % t1.id),
        ["packets", "query-csv"], t1)
    add("packets: a segment of a missing flow", sql_script(
        "INSERT INTO packets SELECT 424242, capture_id, seg, count, first_offset, last_offset, encoding,"
        " offsets FROM packets WHERE flow_id = %d" % t2.id), ["packets", "query-csv"], t2)
    add("packets: a segment deleted", sql_script(
        "DELETE FROM packets WHERE rowid = (SELECT max(rowid) FROM packets WHERE flow_id = %d)" % t2.id),
        ["packets", "carve-pcapng", "carve-payload"], t2)
    add("packets: another flow's offsets", sql_script(
        "UPDATE packets SET offsets = (SELECT offsets FROM packets WHERE flow_id != %d AND"
        " capture_id = (SELECT capture_id FROM packets WHERE flow_id = %d LIMIT 1) LIMIT 1),"
        " count = (SELECT count FROM packets WHERE flow_id != %d AND capture_id ="
        " (SELECT capture_id FROM packets WHERE flow_id = %d LIMIT 1) LIMIT 1) WHERE flow_id = %d"
        % (t0.id, t0.id, t0.id, t0.id, t0.id)), ["packets", "carve-pcapng", "carve-payload"], t0)
    add("interfaces: an extra one", sql_script(
        "INSERT INTO interfaces SELECT capture_id, 1, section, 1, 113, snaplen, 9, 0, 'x'"
        " FROM interfaces WHERE capture_id = %d AND iface = 0" % t1.capture),
        ["carve-pcapng", "carve-payload"], t1)
    add("interfaces: numbered from 1", sql_script(
        "UPDATE interfaces SET iface = 1 WHERE capture_id = %d" % t0.capture), ["carve-pcapng"], t0)
    add("interfaces: none", sql_script("DELETE FROM interfaces WHERE capture_id = %d" % t1.capture),
        ["carve-pcapng"], t1)
    add("sections: an extra one", sql_script(
        "INSERT INTO sections VALUES (%d, 1, 64, 1, 0)" % t1.capture), ["carve-pcapng"], t1)
    add("sections: none", sql_script("DELETE FROM sections WHERE capture_id = %d" % t1.capture),
        ["carve-pcapng"], t1)
    add("sections: one at 2^63-1, then one at 5", sql_script(
        "INSERT INTO sections VALUES (%d, 1, %d, 0, 0)" % (t1.capture, 2 ** 63 - 1),
        "INSERT INTO sections VALUES (%d, 2, 5, 0, 0)" % t1.capture), ["carve", "carve-pcapng"], t1)
    add("captures: two rows for one file", sql_script(
        "UPDATE captures SET path = path || '/.' WHERE id = %d" % t0.capture), ["packets"], t0)
    add("captures: a capture's rows swapped", sql_script(
        "UPDATE captures SET id = -id WHERE id = %d" % t0.capture,
        "UPDATE captures SET id = %d WHERE id = %d" % (t0.capture, t2.capture),
        "UPDATE captures SET id = %d WHERE id = -%d" % (t2.capture, t0.capture)),
        ["packets", "carve-pcapng"], t0)
    add("flows: a flow's counters doubled", sql_script(
        "UPDATE flows SET src_packets = 2 * src_packets WHERE id = %d" % t2.id), ["carve-pcapng"], t2)
    add("flows: every flow live", sql_script("UPDATE flows SET state = state | 1, end_reason = 'open'"),
        ["index"], t0)
    add("flows: ids far apart", sql_script("UPDATE flows SET id = id + 4611686018427387904 WHERE id = %d"
                                           % t1.id), ["query-csv", "index"], t1)
    add("rollups: a run twice", sql_script(
        "INSERT INTO rollups SELECT capture_id, kind, seq + 1, keys, encoding, data FROM rollups"
        " WHERE kind = 'host'"), ["query-top"], t0)
    add("rollups: a run of a missing capture", sql_script(
        "INSERT INTO rollups SELECT 4242, kind, seq, keys, encoding, data FROM rollups"
        " WHERE kind = 'host' LIMIT 1"), ["query-top"], t0)
    add("rollups: key counts off by one", sql_script(
        "UPDATE rollups SET keys = keys + 1 WHERE kind = 'host'"), ["query-top"], t0)
    return out


# ---- whole-file damage ----------------------------------------------------------------------

# Damage to a live IPv4 TCP flow's row that the next index run must refuse
# rather than take up with the column zeroed: (column, value name, value).
# Values SQLite's INTEGER affinity would turn back into the integer ('80',
# 6.0) are not damage and are not here.
LIVE_DAMAGE = [
    ("id", "-1", -1), ("id", "0", 0), ("id", "2^62", 2 ** 62), ("id", "2^63-2", 2 ** 63 - 2),
    ("proto", "NULL", None), ("proto", "256", 256), ("proto", "'text'", "text"), ("proto", "6.5", 6.5),
    ("ethertype", "NULL", None), ("ethertype", "1234", 1234), ("ethertype", "x'0800'", b"\x08\x00"),
    ("linktype", "-1", -1), ("linktype", "2^32", 2 ** 32), ("linktype", "NULL", None),
    ("src_ip", "NULL", None), ("src_ip", "x'00'", b"\x00"), ("dst_ip", "blob20", bytes(range(1, 21))),
    ("dst_ip", "'text'", "text"),
    ("src_port", "NULL", None), ("src_port", "65536", 65536), ("dst_port", "-1", -1),
    ("dst_port", "'text'", "text"),
    ("src_mac", "x'00'", b"\x00"), ("dst_mac", "'text'", "text"),
    ("vlan", "4096", 4096), ("vlan", "-1", -1), ("vlan_inner", "'text'", "text"),
    ("tunnel", "'mpls'", "mpls"), ("tunnel", "x'677265'", b"gre"),
    ("first_ns", "NULL", None), ("first_ns", "'text'", "text"), ("first_ns", "2^63-1", 2 ** 63 - 1),
    ("last_ns", "-2^63", -2 ** 63), ("last_ns", "1e300", 1e300),
    ("src_packets", "-1", -1), ("src_bytes", "NULL", None), ("dst_packets", "1.5", 1.5),
    ("dst_bytes", "'text'", "text"),
    ("tcp_flags", "256", 256), ("tcp_flags", "NULL", None),
    ("end_reason", "'done'", "done"), ("end_reason", "NULL", None), ("end_reason", "x'6f70656e'", b"open"),
    ("state", "33", 33), ("state", "1.5", 1.5), ("state", "2^63-1", 2 ** 63 - 1),
    ("first_capture", "NULL", None), ("first_capture", "0", 0), ("last_capture", "'text'", "text"),
    ("last_capture", "-1", -1),
]


def live_flow_variants(base, args):
    out = []
    row = base.live_row
    damage = list(LIVE_DAMAGE)
    # Damage that depends on what the row holds: one MAC without the other,
    # a tunnel without its endpoints.
    if row["src_mac"] is not None:
        damage.append(("dst_mac", "NULL", None))
    if row["tunnel_src"] is None:
        damage.append(("tunnel", "'gre'", "gre"))
    t = next((t for t in base.targets if t.id == base.live), base.targets[0])
    for col, vname, value in damage:
        v = Variant("live flow%d.%s=%s" % (base.live, col, vname),
                    lambda db, c=col, x=value: write_value(db, "flows", c, x, "id = ?", (base.live,)),
                    ["index"], t)
        v.refuse = col
        out.append(v)
    return out


def content_digest(db):
    """What the database holds (not how the file lays it out)."""
    con = sqlite3.connect(db)
    try:
        h = hashlib.sha256()
        for line in con.iterdump():
            h.update(line.encode("utf-8", errors="surrogateescape") + b"\n")
        return h.hexdigest()
    finally:
        con.close()


def whole_file_variants(base, args):
    out = []
    size = os.path.getsize(base.db)
    k = [0]

    def add(name, apply=None, extra=()):
        out.append(Variant(name, apply or (lambda db: None), openers(args, k[0] + 1, extra),
                           base.targets[k[0] % 3]))
        k[0] += 1

    def truncate(n):
        def f(db):
            with open(db, "r+b") as fh:
                fh.truncate(n)
        return f

    for n in sorted({0, 1, 50, 99, 100, 512, 1024, 4095, 4096, 4097, size // 2, size - 4096, size - 1}):
        if 0 <= n < size:
            add("truncated to %d bytes" % n, truncate(n), extra=["query-count"] if k[0] % 2 else ["packets"])

    def scribble(seed, pages, zero=False):
        def f(db):
            rnd = random.Random(seed)
            with open(db, "r+b") as fh:
                for _ in range(pages):
                    page = rnd.randrange(size // 4096)
                    if zero:
                        fh.seek(page * 4096)
                        fh.write(b"\0" * 4096)
                        continue
                    for _ in range(rnd.randrange(1, 40)):
                        fh.seek(page * 4096 + rnd.randrange(4096))
                        fh.write(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 9))))
        return f

    for seed in range(12):
        add("random bytes in %d pages (seed %d)" % (1 + seed % 3, seed), scribble(seed, 1 + seed % 3),
            extra=rotate(["query-top", "packets", "carve-pcapng", "query-filter", "query-series"], seed))
    for seed in range(3):
        add("a page zeroed (seed %d)" % seed, scribble(100 + seed, 1, zero=True), extra=["query-top"])

    def header_byte(off, val):
        def f(db):
            with open(db, "r+b") as fh:
                fh.seek(off)
                fh.write(bytes([val]))
        return f

    add("page size byte wrong", header_byte(16, 0x02))
    add("database size in header huge", header_byte(28, 0x7F))
    add("freelist trunk page wrong", header_byte(32, 0x7F))
    add("schema format 9", header_byte(47, 9))

    def replace(content):
        def f(db):
            with open(db, "wb") as fh:
                fh.write(content)
        return f

    add("empty file", replace(b""))
    add("a text file", replace(b"this is not a database\n" * 100))
    with open(base.extra, "rb") as fh:
        add("a pcap", replace(fh.read()))
    add("an SQLite header and nothing else", replace(b"SQLite format 3\0" + b"\0" * 84))

    def other_db(*stmts):
        def f(db):
            os.unlink(db)
            con = sqlite3.connect(db)
            for s in stmts:
                con.execute(s)
            con.commit()
            con.close()
        return f

    add("an empty SQLite database", other_db("PRAGMA user_version = 0"))
    add("another program's database", other_db("CREATE TABLE t(x)", "INSERT INTO t VALUES (1)",
                                                "PRAGMA user_version = 3"))
    add("a meta table and nothing else", other_db(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID",
        "INSERT INTO meta VALUES ('application', 'pcapdex')", "PRAGMA user_version = %d" % base.max_version),
        extra=["query-top", "query-count", "query-window"])
    add("pcapdex tables of the wrong shape", other_db(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID",
        "INSERT INTO meta VALUES ('application', 'pcapdex')",
        "CREATE TABLE captures(id INTEGER PRIMARY KEY, x)", "CREATE TABLE flows(id INTEGER PRIMARY KEY, y)",
        "INSERT INTO flows VALUES (%d, 1)" % base.targets[0].id,
        "CREATE TABLE packets(z)", "CREATE TABLE rollups(w)",
        "PRAGMA user_version = %d" % base.max_version),
        extra=["query-top", "packets", "query-csv"])

    def to_dir(db):
        os.unlink(db)
        os.mkdir(db)

    add("a directory", to_dir)
    add("missing", lambda db: os.unlink(db))

    # WAL files beside the database.
    def uncheckpointed(db):
        """A writer died with commits still in the WAL."""
        src = sqlite3.connect(db)
        src.execute("PRAGMA wal_autocheckpoint = 0")
        src.execute("DELETE FROM flows WHERE id = %d" % base.targets[1].id)
        src.execute("UPDATE flows SET src_ip = x'0102' WHERE id = %d" % base.targets[0].id)
        src.commit()
        shutil.copy(db + "-wal", db + ".wal-copy")
        shutil.copy(db, db + ".copy")
        src.close()
        os.replace(db + ".copy", db)
        os.replace(db + ".wal-copy", db + "-wal")
        if os.path.exists(db + "-shm"):
            os.unlink(db + "-shm")

    add("an uncheckpointed WAL", uncheckpointed, extra=["packets"])

    def wal_of(content_fn):
        def f(db):
            with open(db + "-wal", "wb") as fh:
                fh.write(content_fn(db))
        return f

    rnd = random.Random(7)
    garbage = bytes(rnd.randrange(256) for _ in range(20000))
    add("a garbage WAL", wal_of(lambda db: garbage))

    def foreign_wal(db):
        other = db + ".other"
        con = sqlite3.connect(other)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA wal_autocheckpoint = 0")
        con.execute("CREATE TABLE t(x)")
        con.execute("INSERT INTO t VALUES (zeroblob(5000))")
        con.commit()
        with open(other + "-wal", "rb") as fh:
            data = fh.read()
        con.close()
        for p in (other, other + "-wal", other + "-shm"):
            if os.path.exists(p):
                os.unlink(p)
        return data

    add("another database's WAL", wal_of(foreign_wal))

    def cut_wal(db):
        uncheckpointed(db)
        n = os.path.getsize(db + "-wal")
        with open(db + "-wal", "r+b") as fh:
            fh.truncate(max(32, n - 1000))

    add("a WAL cut short", cut_wal, extra=["packets"])

    def garbage_shm(db):
        uncheckpointed(db)
        with open(db + "-shm", "wb") as fh:
            fh.write(bytes(rnd.randrange(256) for _ in range(32768)))

    add("a garbage -shm", garbage_shm)
    return out


# ---- running ----------------------------------------------------------------------------------

class Runner:
    def __init__(self, base, args):
        self.base = base
        self.args = args
        self.lock = threading.Lock()
        self.nrun = 0
        self.capinfos = shutil.which("capinfos")
        self.checked = {}   # output digest -> capinfos verdict

    def env_for_run(self):
        with self.lock:
            self.nrun += 1
            n = self.nrun
        env = dict(self.base.env)
        leaks = self.args.leaks > 0 and n % self.args.leaks == 0
        opts = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "detect_leaks=%d" % leaks
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        return env

    def run_variant(self, v):
        """Returns a list of (name, verdict, why): verdict 'ok', 'fail' or 'skip'."""
        wd = tempfile.mkdtemp(dir=self.base.tmp, prefix="v")
        db = os.path.join(wd, "index.db")
        results = []
        try:
            shutil.copy(self.base.db, db)
            try:
                v.apply(db)
            except Skip as e:
                return [(v.name, "skip", str(e))]
            for cmd in v.cmds:
                results.append(self.run_cmd(v, cmd, db, wd))
        except Exception as e:  # a bug here must not pass silently
            results.append((v.name, "fail", "test error: %r" % e))
        finally:
            if not self.args.keep:
                shutil.rmtree(wd, ignore_errors=True)
        return results

    def run_cmd(self, v, cmd, db, wd):
        name = "%s [%s]" % (v.name, cmd)
        t = v.target
        target_db = db
        if cmd == "index":
            # The write side gets its own copy (with whatever lies beside it).
            target_db = os.path.join(wd, "index-w.db")
            for ext in ("", "-wal", "-shm"):
                if os.path.isdir(db + ext):
                    os.mkdir(target_db + ext)
                elif os.path.exists(db + ext):
                    shutil.copy(db + ext, target_db + ext)
        argv, out = command(self.base, cmd, target_db, t, wd)
        if out is not None and os.path.exists(out):
            os.unlink(out)
        before = content_digest(target_db) if v.refuse else None
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=self.env_for_run(), timeout=TIMEOUT, cwd=wd)
        except subprocess.TimeoutExpired:
            return name, "fail", "no exit after %d s" % TIMEOUT
        err = p.stderr.decode(errors="replace")
        why = self.judge(cmd, p.returncode, err, p.stdout, target_db, out, wd, t)
        if not why and v.refuse:
            why = self.judge_refused(v.refuse, p.returncode, err, target_db, before)
        if why:
            return name, "fail", why
        return name, "ok", "exit %d" % p.returncode

    def judge_refused(self, col, rc, err, db, before):
        """index against a damaged live flow: exit 3, the error naming the
        flow and the column, nothing written."""
        short = err.strip().replace("\n", " | ")[:300]
        if rc != 3:
            return "exit %d, not 3: a damaged live flow (%s) was taken up: %s" % (rc, col, short)
        line = next(l for l in err.splitlines() if ": error: " in l)
        # The ID check of the largest ID stored comes first and says "flow ID".
        if "flow" not in line or col.lower() not in line.lower():
            return "the error names not the flow and its column %s: %s" % (col, line[:300])
        if content_digest(db) != before:
            return "exit 3, but the index changed"
        return None

    def judge(self, cmd, rc, err, stdout, db, out, wd, t):
        short = err.strip().replace("\n", " | ")[:300]
        if rc < 0:
            return "killed by signal %d: %s" % (-rc, short)
        m = SANITIZER.search(err)
        if m:
            lines = [l for l in err.splitlines() if SANITIZER.search(l) or "#0 " in l or "#1 " in l]
            return "sanitizer: %s" % " | ".join(lines[:4])[:400]
        prog = cmd.split("-")[0]
        allowed = set(EXITS[prog])
        if cmd == "query-series":
            allowed.add(2)
        if rc not in allowed:
            return "exit %d, not one of %s: %s" % (rc, sorted(allowed), short)
        lines = err.splitlines()
        for l in lines:
            if not l.startswith("pcapdex "):
                return "a stderr line that is not a pcapdex message (a message over several lines?): %r" % l[:200]
        if cmd == "verify" and rc == 6:
            # verify names each missing or changed capture on stdout.
            if not stdout.strip():
                return "verify exit 6 but it names no capture on stdout"
        elif cmd == "query-series" and rc == 2:
            # The bins from the first flow to the last are too many to print:
            # a usage error, whatever the flows' times.
            if not any("--timeseries" in l and ": error: " in l for l in lines):
                return "query --timeseries exit 2 without saying why: %s" % short
        elif rc not in (0, 1):
            errs = [l for l in lines if ": error: " in l]
            if not errs:
                return "exit %d with no error line: %s" % (rc, short)
            if rc == 6:
                names = [db] + self.base.paths
                for l in errs:
                    if not any(n in l for n in names) and not re.search(r": error: /", l):
                        return "exit 6: the error names neither the database nor a capture: %s" % l[:300]
            else:
                if len(errs) > 1:
                    return "exit %d with %d error lines: %s" % (rc, len(errs), short)
                if db not in errs[0]:
                    return "exit %d: the error does not name the database: %s" % (rc, errs[0][:300])
        if cmd.startswith("packets") and rc == 0:
            # Flow ID, capture path, offset: a line without a path is no use.
            for line in stdout.decode(errors="replace").splitlines():
                f = line.split("\t")
                if len(f) != 3 or not f[1] or not f[0].lstrip("-").isdigit() or not f[2].isdigit():
                    return "packets printed %r" % line[:200]
        if cmd == "query-json" and rc == 0:
            for i, line in enumerate(stdout.decode("utf-8", errors="strict").splitlines()):
                try:
                    json.loads(line)
                except ValueError as e:
                    return "query --format json line %d is not JSON (%s): %r" % (i + 1, e, line[:200])
        if out is not None:
            if rc != 0:
                if os.path.exists(out):
                    return "exit %d but %s was written" % (rc, os.path.basename(out))
                left = [f for f in os.listdir(wd) if ".part" in f]
                if left:
                    return "exit %d left %s behind" % (rc, left[0])
            else:
                return self.check_carve(cmd, out, t)
        return None

    def check_carve(self, cmd, out, t):
        try:
            recs = Counter(parse_capture(out))
        except (OSError, ValueError) as e:
            return "carve exit 0 but its output is not a valid capture: %s" % e
        want = self.base.expect[(t.id, cmd)]
        extra = recs - want
        # A damaged flow row may no longer match the filter: carve --filter
        # may carve fewer flows, but never other records.
        missing = want - recs if cmd != "carve-filter" else Counter()
        if extra or missing:
            return ("carve exit 0 but it wrote %d records that the undamaged index does not carve"
                    " and left out %d that it does" % (sum(extra.values()), sum(missing.values())))
        if self.capinfos:
            with open(out, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            with self.lock:
                verdict = self.checked.get(digest)
            if verdict is None:
                p = run([self.capinfos, "-c", out], timeout=60)
                verdict = "" if p.returncode == 0 else "capinfos cannot read the carve: %s" % (
                    p.stderr.decode(errors="replace").strip()[:200])
                with self.lock:
                    self.checked[digest] = verdict
            if verdict:
                return verdict
        return None


def main():
    ap = argparse.ArgumentParser(description="pcapdex against hostile and damaged index databases")
    ap.add_argument("build", help="build directory (holds pcapdex and pcapgen)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passes and skips too")
    ap.add_argument("-j", "--jobs", type=int, default=0, help="parallel runs (default: cores)")
    ap.add_argument("--full", action="store_true", help="every command on every variant (slow)")
    ap.add_argument("--cmds", type=int, default=1, help="commands per one-row variant (default 1)")
    ap.add_argument("--leaks", type=int, default=8, help="LeakSanitizer on every Nth run (0: never)")
    ap.add_argument("--only", default="", help="only variants whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    for prog in ("pcapdex", "pcapgen"):
        if not os.access(os.path.join(build, prog), os.X_OK):
            fatal("%s/%s is not built" % (build, prog))
    tmp = tempfile.mkdtemp(prefix="hostile-db.")
    try:
        base = Base(build, tmp)
        base.make()
        variants = (one_row_variants(base, args) + all_rows_variants(base, args) +
                    schema_variants(base, args) + live_flow_variants(base, args) +
                    whole_file_variants(base, args))
        if args.only:
            variants = [v for v in variants if args.only in v.name]
        runner = Runner(base, args)
        jobs = args.jobs or os.cpu_count() or 2
        passed = failed = skipped = 0
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            for results in ex.map(runner.run_variant, variants):
                for name, verdict, why in results:
                    if verdict == "ok":
                        passed += 1
                        if args.verbose:
                            print("ok   %s: %s" % (name, why))
                    elif verdict == "skip":
                        skipped += 1
                        if args.verbose:
                            print("skip %s: %s" % (name, why))
                    else:
                        failed += 1
                        print("FAIL %s: %s" % (name, why))
                sys.stdout.flush()
    finally:
        if args.keep:
            print("hostile-db: scratch directory %s kept" % tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("hostile-db: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
