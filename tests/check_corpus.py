#!/usr/bin/env python3
"""check_corpus.py - pcapdex's flows against tshark's view of the real corpus.

For every capture in ../shared/corpus that tshark reads fully, the capture is
indexed into a fresh (empty) index and compared with the two oracles:
  - every packet record's offset (offsets oracle) is stored in exactly one
    flow, and no other offset is stored;
  - each flow's packet and byte counters equal the records filed under it;
  - each frame is filed under the IP 5-tuple tshark gives it (see
    oracle.frame_key for which layer counts in tunnels, ICMP errors and
    fragments); frames tshark has no IP for go to non-IP flows.
Deliberate differences, counted by category and not failed:
  - link types pcapdex does not decode at layer 3 (tshark does), whose
    frames go to link-layer flows;
Captures tshark cannot read fully must index without a crash (exit 0, 4 or
5).  Built with AddressSanitizer, every capture's runs are checked for
memory errors and every fourth capture's for leaks too; with SANITIZED set
(make check-asan), every second capture is carved.  Ends with
"corpus: N passed, N failed, N skipped".

--packets LISTER: the pcapdex that lists the stored offsets (`packets --all`)
for the comparison; by default PCAPDEX itself.  `make check-asan` passes the
plain build's: the listing only reads what the index run wrote, and the
sanitized carve run that follows reads and decodes the same offsets through
the same function (pdx_index_segments), so a sanitized listing would be a
third instrumented process per capture that checks nothing new.

usage: check_corpus.py PCAPDEX [CORPUS_DIR] [--packets LISTER] [--only SUBSTR] [-j N] [-v]
"""
import ipaddress
import os
import struct
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from multiprocessing import Pool

import check_decode
import oracle

PACKET_BLOCKS = {"", "EPB", "SPB", "PB", "6", "3", "2", "epb", "spb", "pb"}
# Link types and ethertypes pcapdex decodes: an IP frame filed under a
# link-layer flow with these is a failure; with others, a deliberate
# difference (MACsec, NSH, E-tag, vendor headers...).
DECODED_LINKTYPES = {0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 228, 229, 239, 276}
DECODED_ETHERTYPES = {0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x8847, 0x8848, 0x8864}


def addr_text(blob, fam):
    if blob is None:
        return None
    a = ipaddress.IPv6Address(bytes(blob))
    if a.ipv4_mapped is not None:
        # tshark prints an IPv4-mapped IPv6 address with a dotted quad.
        return str(a.ipv4_mapped) if fam == "ip" else "::ffff:" + str(a.ipv4_mapped)
    return a.compressed


def run_index(pcapdex, db, path):
    p = subprocess.run([pcapdex, "index", "--db", db, "-q", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stderr.decode(errors="replace")


ASAN_BASE = os.environ.get("ASAN_OPTIONS", "")


def empty_index(pcapdex, tmp):
    """An index with the schema and no capture, made once: each capture is
    indexed into a copy of it, which is what a fresh index is, without
    running the migrations again for every capture (a fifth of a short
    index run under the sanitizers)."""
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    db = os.path.join(tmp, "empty.db")
    p = subprocess.run([pcapdex, "index", "--db", db, "-q", empty],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0 or any(os.path.exists(db + s) for s in ("-wal", "-shm")):
        raise SystemExit("corpus: cannot make an empty index (exit %d): %s"
                         % (p.returncode, p.stderr.decode(errors="replace").strip()[:300]))
    return db


def check_one(args):
    pcapdex, lister, cdir, row, tmp, idx = args
    # Under AddressSanitizer, LeakSanitizer's scan at exit is a quarter of
    # each short run: it looks at every fourth capture's runs.  (Builds
    # without ASan ignore the variable.)
    os.environ["ASAN_OPTIONS"] = (ASAN_BASE + ":" if ASAN_BASE else "") + \
        "detect_leaks=%d" % (idx % 4 == 0)
    db = os.path.join(tmp, "%d.db" % os.getpid())
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    shutil.copyfile(os.path.join(tmp, "empty.db"), db)
    # Under the sanitizers (make check-asan sets SANITIZED) every second
    # capture is carved: the plain build's run carves and compares them all,
    # and the fuzzers drive the same reader; this keeps CI under 15 minutes.
    carve = not os.environ.get("SANITIZED") or idx % 2 == 0
    return _check(pcapdex, lister, cdir, row, db,
                  os.path.join(tmp, "carved", "%d.out" % idx) if carve else None)


def _check(pcapdex, lister, cdir, row, db, carved):
    path = os.path.join(cdir, row["path"])
    name = row["path"]
    result = {"name": name, "status": "pass", "why": [], "diffs": Counter()}
    try:
        rc, err = run_index(pcapdex, db, path)
    except subprocess.TimeoutExpired:
        result.update(status="fail", why=["index timed out"])
        return result
    if rc < 0 or rc not in (0, 4, 5):
        result.update(status="fail", why=["index exit %d: %s" % (rc, err.strip()[:300])])
        return result
    if row["tshark_read"] != "ok":
        return result  # survived: that is the test for damaged captures
    # Deliberate difference: times past 2262-04-11 (or before 1677-09-21),
    # which tshark shows, do not fit the index's int64 nanoseconds; pcapdex
    # stores the nearest it can and says so with a warning (exit 5).  The
    # packets, bytes and offsets are still compared.
    warns = [l for l in err.splitlines() if ": warning: " in l]
    if rc == 5 and warns and all("have times before 1677-09-21 or after 2262-04-11" in l for l in warns):
        rc = 0
    if rc != 0:
        result.update(status="fail", why=["index exit %d on a capture tshark reads: %s"
                                          % (rc, err.strip()[:300])])
        return result
    offs_rows = oracle.read_tsv(os.path.join(cdir, row["oracle_offsets"]))
    fields = {r["frame.number"]: r for r in oracle.read_tsv(os.path.join(cdir, row["oracle_fields"]))}
    frames = {}
    for r in offs_rows:
        if r.get("block_type", "") not in PACKET_BLOCKS:
            continue
        frames[int(r["offset"])] = r
    p = subprocess.run([lister, "packets", "--db", db, "--all"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        result.update(status="fail", why=["packets exit %d" % p.returncode])
        return result
    seen = defaultdict(list)
    per_flow = defaultdict(list)
    for line in p.stdout.decode().splitlines():
        fid, _, off = line.split("\t")
        seen[int(off)].append(int(fid))
        per_flow[int(fid)].append(int(off))
    why = []
    missing = [o for o in frames if o not in seen]
    extra = [o for o in seen if o not in frames]
    dup = [o for o, f in seen.items() if len(f) > 1]
    if missing:
        why.append("%d records in no flow (first at offset %d)" % (len(missing), min(missing)))
    if extra:
        why.append("%d stored offsets are no record (first %d)" % (len(extra), min(extra)))
    if dup:
        why.append("%d records in several flows" % len(dup))
    con = sqlite3.connect(db)
    flows = {}
    for r in con.execute("SELECT id, proto, ethertype, linktype, src_ip, dst_ip, src_port, dst_port,"
                         " src_packets + dst_packets, src_bytes + dst_bytes, tunnel_src, tunnel_dst"
                         " FROM flows"):
        flows[r[0]] = r
    con.close()
    for fid, offs in per_flow.items():
        f = flows.get(fid)
        if f is None:
            why.append("offsets of flow %d, which has no row" % fid)
            continue
        if f[8] != len(offs):
            why.append("flow %d counts %d packets, holds %d" % (fid, f[8], len(offs)))
        b = sum(int(frames[o]["origlen"]) for o in offs if o in frames)
        if f[9] != b:
            why.append("flow %d counts %d bytes, records sum to %d" % (fid, f[9], b))
    if len(flows) != len(per_flow):
        why.append("%d flows, %d with packets" % (len(flows), len(per_flow)))
    # Per-frame 5-tuples.
    differing = []
    for off, orow in frames.items():
        if off not in seen:
            continue
        f = flows.get(seen[off][0])
        trow = fields.get(orow["frame"])
        if f is None or trow is None:
            continue
        tkey = oracle.frame_key(trow)
        if f[1] is None:  # link-layer flow
            if tkey is not None:
                if f[3] in DECODED_LINKTYPES and f[2] in DECODED_ETHERTYPES:
                    differing.append((orow, trow, f, "frame %s: tshark has IP, pcapdex flow %d is "
                                      "link-layer" % (orow["frame"], f[0])))
                elif f[3] in DECODED_LINKTYPES:
                    result["diffs"]["ethertype 0x%04x not decoded" % f[2]] += 1
                else:
                    result["diffs"]["link type %d not decoded" % f[3]] += 1
            continue
        fam = "ip" if f[2] == 0x0800 else "ipv6"
        if tkey is None:
            differing.append((orow, trow, f, "frame %s: tshark has no IP, pcapdex flow %d is IP"
                              % (orow["frame"], f[0])))
            continue
        tfam, tproto, tends, frag = tkey
        # Ports count where tshark has them: not for fragments, nor where
        # it found the transport header malformed.
        ports = f[1] in (6, 17) and not frag and all(p is not None for _, p in tends)
        if not ports:
            tends = frozenset((a, None) for a, _ in tends)
        mine = frozenset([(addr_text(f[4], fam), f[6] if ports else None),
                          (addr_text(f[5], fam), f[7] if ports else None)])
        if (tfam, tends) != (fam, mine) or (tproto is not None and tproto != f[1]):
            if f[10] is not None and {a for a, _ in tends} == {addr_text(f[10], tfam),
                                                             addr_text(f[11], tfam)}:
                result["diffs"]["tunnel tshark did not open"] += 1
                continue
            differing.append((orow, trow, f, "frame %s: tshark %s %s %s, pcapdex flow %d %s %s %s"
                              % (orow["frame"], tfam, tproto, sorted(tends, key=str), f[0], fam,
                                 f[1], sorted(mine, key=str))))
    why += explain(pcapdex, cdir, row, differing, result["diffs"])
    if carved is not None:
        why += check_carve(pcapdex, db, cdir, row, frames, carved)
    if why:
        result.update(status="fail", why=why)
    return result


def explain(pcapdex, cdir, row, differing, diffs):
    """Frames whose flow is not tshark's 5-tuple: a difference is deliberate
    when check_decode.py classifies pcapdex's decode of the frame as one (it
    lists and justifies them) and the frame's flow is keyed on that decode."""
    if not differing:
        return []
    path = os.path.join(cdir, row["path"])
    lts = check_decode.interface_linktypes(path) or [0]
    decwalk = os.path.join(os.path.dirname(pcapdex), "tools", "decwalk")
    lines = "".join("%s %d %s %s\n" % (o["frame"], lts[int(o["if_global"] or 0)]
                                      if int(o["if_global"] or 0) < len(lts) else lts[0],
                                      o["data_offset"], o["caplen"]) for o, _, _, _ in differing)
    p = subprocess.run([decwalk, "--at", path], input=lines, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, errors="replace")
    decoded = {int(l.split("\t")[0]): l.split("\t") for l in p.stdout.splitlines()}
    why = []
    data = open(path, "rb").read()
    for o, trow, f, msg in differing:
        w = decoded.get(int(o["frame"]))
        cats = Counter()
        check_decode.WHERE[0] = (row["path"], o["frame"])
        do, cl = int(o["data_offset"]), int(o["caplen"])
        reason = "no decode" if w is None else check_decode.compare_frame(trow, w, cats, data[do:do + cl])
        if reason is None and w is not None:
            fam = "ip" if f[2] == 0x0800 else "ipv6"
            if (f[1] is None and w[1] not in ("ip4", "ip6")) or \
                    (f[1] is not None and {w[3], w[4]} == {addr_text(f[4], fam), addr_text(f[5], fam)}):
                for k in cats or ["deliberate"]:
                    diffs["decode differs deliberately: " + k] += 1
                continue
            reason = "the flow is not keyed on pcapdex's own decode (%s %s)" % (w[3], w[4])
        if len(why) < 3:
            why.append("%s (%s)" % (msg, reason))
    return why


def read_carved(path):
    """Records of a pcap or pcapng file as pcapdex writes them (little-endian)."""
    data = open(path, "rb").read()
    recs = []
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        nsec = data[:4] == b"\x4d\x3c\xb2\xa1"
        off = 24
        while off + 16 <= len(data):
            sec, frac, caplen, origlen = struct.unpack_from("<IIII", data, off)
            recs.append((sec * 10**9 + (frac if nsec else frac * 1000), origlen,
                         data[off + 16:off + 16 + caplen]))
            off += 16 + caplen
        return recs, off == len(data)
    if data[:4] != b"\x0a\x0d\x0d\x0a":
        return [], False
    off, res = 0, []
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12 or off + blen > len(data):
            return recs, False
        if btype == 1:
            r = 6
            o = off + 16
            while o + 4 <= off + blen - 4:
                code, olen = struct.unpack_from("<HH", data, o)
                if code == 0:
                    break
                if code == 9:
                    r = data[o + 4]
                o += 4 + ((olen + 3) & ~3)
            res.append(r)
        elif btype == 6:
            ifc, hi, lo, caplen, origlen = struct.unpack_from("<IIIII", data, off + 8)
            ticks = (hi << 32) | lo
            ns = ticks * 10 ** (9 - res[ifc])
            recs.append((ns, origlen, data[off + 28:off + 28 + caplen]))
        off += blen
    return recs, off == len(data)


def check_carve(pcapdex, db, cdir, row, frames, out):
    """Carve every flow of the capture: the records must come back as they were."""
    p = subprocess.run([pcapdex, "carve", "--db", db, "-q", "--filter", "", "-o", out],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if p.returncode == 1 and not frames:
        return []
    if p.returncode != 0:
        return ["carve exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()[:300])]
    recs, clean = read_carved(out)
    why = [] if clean else ["carved file does not parse"]
    orig = open(os.path.join(cdir, row["path"]), "rb").read()
    want = []
    for off in sorted(frames):
        r = frames[off]
        do, cl = int(r["data_offset"]), int(r["caplen"])
        want.append((int(r["origlen"]), orig[do:do + cl], r["ts_epoch"]))
    # Within one capture the carver keeps file order unless times go backwards.
    if sorted(w[:2] for w in want) != sorted(r[1:] for r in recs):
        why.append("carved records differ from the originals (%d carved, %d in the capture)"
                   % (len(recs), len(want)))
    elif [w[:2] for w in want] != [r[1:] for r in recs] and \
            all(float(want[i][2] or 0) <= float(want[i + 1][2] or 0) for i in range(len(want) - 1)):
        why.append("carved records are out of file order")
    return why


def wiretap_reads(paths):
    """Files that Wireshark's reader (mergecap) rejects."""
    bad = []
    for i in range(0, len(paths), 200):
        batch = paths[i:i + 200]
        if subprocess.run(["mergecap", "-F", "pcapng", "-w", "/dev/null"] + batch,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            continue
        for p in batch:
            r = subprocess.run(["mergecap", "-F", "pcapng", "-w", "/dev/null", p],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                bad.append((p, r.stderr.decode(errors="replace").strip()[:200]))
    return bad


def main():
    args = [a for a in sys.argv[1:]]
    verbose = "-v" in args
    only = None
    lister = None
    jobs = os.cpu_count() or 2
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--only":
            only = args[i + 1]
            i += 2
            continue
        if args[i] == "--packets":
            lister = os.path.abspath(args[i + 1])
            i += 2
            continue
        if args[i] == "-j":
            jobs = int(args[i + 1])
            i += 2
            continue
        if args[i] != "-v":
            rest.append(args[i])
        i += 1
    if not rest:
        print(__doc__)
        return 2
    pcapdex = os.path.abspath(rest[0])
    cdir = oracle.corpus_dir(rest[1] if len(rest) > 1 else None)
    if not os.path.isfile(os.path.join(cdir, "catalog.tsv")):
        print("corpus: %s not found; every corpus test skipped" % cdir)
        print("corpus: 0 passed, 0 failed, 1 skipped")
        return 0
    rows = oracle.catalog(cdir)
    tmp = tempfile.mkdtemp(prefix="pdx-corpus-")
    os.makedirs(os.path.join(tmp, "carved"))
    empty_index(pcapdex, tmp)
    work, skipped = [], 0
    for row in rows:
        if only and only not in row["path"]:
            continue
        if row["format"] not in ("pcap", "pcapng", "snoop") or not row.get("oracle_offsets"):
            skipped += 1
            continue
        work.append((pcapdex, lister or pcapdex, cdir, row, tmp, len(work)))
    passed = failed = 0
    diffs = Counter()
    try:
        with Pool(jobs) as pool:
            for r in pool.imap_unordered(check_one, work, chunksize=8):
                diffs.update(r["diffs"])
                if r["status"] == "pass":
                    passed += 1
                else:
                    failed += 1
                    print("FAIL %s: %s" % (r["name"], "; ".join(r["why"])))
        # Wireshark's reader must take every carved file.
        names = {os.path.join(tmp, "carved", "%d.out" % i): w[3]["path"] for i, w in enumerate(work)}
        carved = sorted(p for p in names if os.path.exists(p))
        for p, err in wiretap_reads(carved):
            failed += 1
            passed -= 1
            print("FAIL %s: mergecap cannot read the carved file: %s" % (names[p], err))
        print("carved files read by mergecap: %d" % len(carved))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for k, v in sorted(diffs.items()):
        print("deliberate difference: %s: %d frames" % (k, v))
    print("corpus: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
