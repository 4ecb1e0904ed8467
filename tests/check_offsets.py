#!/usr/bin/env python3
"""check_offsets.py - compares the capture reader's record offsets with the
corpus oracle.

For every pcap/pcapng/snoop capture in catalog.tsv (gzip-compressed rows are
skipped: the oracle has no offsets for them) it runs capwalk and compares each
packet record with oracle/<path>.offsets.tsv: offset, caplen, origlen,
data_offset, and the timestamp to the precision the oracle prints.  Rows the
oracle numbers for pcapng custom or journal blocks are not packets and are
left out.

* Files tshark reads (tshark_read ok): capwalk must end cleanly (exit 0) with
  exactly the oracle's packet records.
* Files the oracle marks damaged (partial/unreadable): capwalk must not crash,
  its records must match the oracle's as far as both go, and it must stop at
  or after the oracle's last record (the offset in its error, or end of file).
* EXPECTED: files where we follow libpcap and the oracle walker does not.

Usage: check_offsets.py [CORPUS_DIR] [--capwalk PATH] [-j N] [-v]
Captures are checked N at a time (default: the number of cores); the report
keeps the catalog's order.  Ends with "offsets: N passed, N failed, N skipped"; exits 1 if any failed.
"""
import csv
import os
import re
import subprocess
import sys
from multiprocessing import Pool

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

PACKET_BLOCKS = {"", "EPB", "SPB", "PB"}
BLOCK_TYPE = {"": 0, "EPB": 6, "SPB": 3, "PB": 2}
INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63

# path -> (required capwalk exit status, substring of its error, why).
EXPECTED = {
    # libpcap's pcap_ng_check_header accepts only SHB version 1.0 and 1.2 in
    # the first section; the oracle walker reads on regardless.
    "files/the-tcpdump-group_libpcap/tests/pcapng-invalid-vers-1.pcapng":
        (2, "unsupported pcapng version 0.1", "libpcap refuses SHB version 0.1"),
    "files/the-tcpdump-group_libpcap/tests/pcapng-invalid-vers-2.pcapng":
        (2, "unsupported pcapng version 1.1", "libpcap refuses SHB version 1.1"),
    # Every block's trailing length is 0x30303030; libpcap's read_block stops
    # at the first one it checks ("block total length in header and trailer
    # don't match"), and so do we, at the SHB.  The oracle walker ignores
    # trailers and reports a record.
    "files/the-tcpdump-group_libpcap/tests/shb-option-too-long.pcapng":
        (2, "trailing length 808464432", "trailer mismatch, as libpcap"),
}


def ts_matches(ts_ns, ts_epoch):
    """ts_epoch is 'S.F' (or 'S'); compare at its precision."""
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?", ts_epoch)
    if not m:
        return False
    neg, s, f = m.group(1), int(m.group(2)), m.group(3) or ""
    d = len(f)
    scaled = s * 10 ** d + (int(f) if f else 0)
    if neg:
        scaled = -scaled
    # The reader keeps nanoseconds in an int64 and saturates beyond it
    # (about the years 1678 and 2262); the oracle prints any 64-bit value.
    ns = scaled * 10 ** (9 - d) if d <= 9 else scaled // 10 ** (d - 9)
    if ns > INT64_MAX:
        return ts_ns == INT64_MAX
    if ns < INT64_MIN:
        return ts_ns == INT64_MIN
    if d <= 9:
        return ts_ns // 10 ** (9 - d) == scaled
    return ts_ns == scaled // 10 ** (d - 9)


def load_oracle(path):
    rows = []
    with open(path, newline="") as fh:
        rd = csv.reader(fh, delimiter="\t")
        header = next(rd, None)
        if header is None:
            return rows
        idx = {name: i for i, name in enumerate(header)}
        for r in rd:
            if not r:
                continue
            bt = r[idx["block_type"]] if idx["block_type"] < len(r) else ""
            if bt not in PACKET_BLOCKS:
                continue
            rows.append({
                "offset": int(r[idx["offset"]]),
                "caplen": int(r[idx["caplen"]]),
                "origlen": int(r[idx["origlen"]]),
                "ts": r[idx["ts_epoch"]],
                "data_offset": int(r[idx["data_offset"]]),
                "block_type": BLOCK_TYPE[bt],
            })
    return rows


def run_capwalk(capwalk, path):
    try:
        p = subprocess.run([capwalk, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
    except subprocess.TimeoutExpired:
        return None, [], "timeout"
    recs = []
    for line in p.stdout.decode("ascii", "replace").splitlines():
        f = line.split()
        if len(f) != 8:
            return p.returncode, recs, "bad output line: %r" % line
        recs.append({
            "offset": int(f[0]), "caplen": int(f[1]), "origlen": int(f[2]), "ts_ns": int(f[3]),
            "iface": int(f[4]), "linktype": int(f[5]), "data_off": int(f[6]),
            "block_type": int(f[7]),
        })
    return p.returncode, recs, p.stderr.decode("utf-8", "replace").strip()


def compare(recs, oracle, n):
    for i in range(n):
        a, o = recs[i], oracle[i]
        for ours, theirs in (("offset", "offset"), ("caplen", "caplen"), ("origlen", "origlen"),
                             ("block_type", "block_type")):
            if a[ours] != o[theirs]:
                return "record %d at %d: %s %d, oracle %d" % (i + 1, o["offset"], ours,
                                                              a[ours], o[theirs])
        if a["offset"] + a["data_off"] != o["data_offset"]:
            return "record %d at %d: data at %d, oracle %d" % (
                i + 1, o["offset"], a["offset"] + a["data_off"], o["data_offset"])
        if o["ts"] and not ts_matches(a["ts_ns"], o["ts"]):
            return "record %d at %d: ts_ns %d, oracle %s" % (i + 1, o["offset"], a["ts_ns"],
                                                             o["ts"])
    return None


def check_file(capwalk, corpus, row):
    path = row["path"]
    fpath = os.path.join(corpus, path)
    oracle = load_oracle(os.path.join(corpus, row["oracle_offsets"]))
    rc, recs, err = run_capwalk(capwalk, fpath)
    if rc is None:
        return "capwalk timed out"
    if rc < 0 or rc not in (0, 2, 3):
        return "capwalk died (status %s): %s" % (rc, err[-200:])
    if len(recs) and rc == 2:
        return "exit 2 after printing records"

    if path in EXPECTED:
        want_rc, want_err, _why = EXPECTED[path]
        if rc != want_rc or want_err not in err:
            return "expected exit %d with %r, got %d: %s" % (want_rc, want_err, rc, err)
        return compare(recs, oracle, min(len(recs), len(oracle)))

    damaged = row["tshark_read"] in ("partial", "unreadable")
    if not damaged:
        if rc != 0:
            return "exit %d: %s" % (rc, err)
        if len(recs) != len(oracle):
            why = compare(recs, oracle, min(len(recs), len(oracle)))
            return "%d records, oracle %d%s" % (len(recs), len(oracle),
                                                "; " + why if why else "")
        return compare(recs, oracle, len(recs))

    why = compare(recs, oracle, min(len(recs), len(oracle)))
    if why:
        return why
    if rc == 0:
        stop = os.path.getsize(fpath)
    else:
        m = re.search(r"offset (\d+)", err)
        stop = int(m.group(1)) if m else 0
    last = oracle[-1]["offset"] if oracle else 0
    if len(recs) < len(oracle) and stop < last:
        return "stopped at %d (%s), before the oracle's last record at %d" % (stop, err, last)
    return None


def check_file_job(args):
    return check_file(*args)


def main(argv):
    corpus = os.path.join(os.path.dirname(REPO), "shared", "corpus")
    capwalk = os.environ.get("CAPWALK") or os.path.join(
        REPO, os.environ.get("BUILD", "build"), "tools", "capwalk")
    verbose = False
    jobs = os.cpu_count() or 2
    args = list(argv[1:])
    while args:
        a = args.pop(0)
        if a == "--capwalk" and args:
            capwalk = args.pop(0)
        elif a == "-j" and args:
            jobs = max(1, int(args.pop(0)))
        elif a == "-v":
            verbose = True
        else:
            corpus = a
    catalog = os.path.join(corpus, "catalog.tsv")
    if not os.path.isfile(catalog):
        print("offsets: no corpus at %s; everything skipped" % corpus)
        print("offsets: 0 passed, 0 failed, 0 skipped")
        return 0
    if not os.access(capwalk, os.X_OK):
        print("offsets: capwalk not found at %s" % capwalk)
        print("offsets: 0 passed, 1 failed, 0 skipped")
        return 1

    passed = failed = skipped = 0
    with open(catalog, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    work = []
    for row in rows:
        if row["format"] not in ("pcap", "pcapng", "snoop") or not row.get("oracle_offsets"):
            skipped += 1
            continue
        if not os.path.isfile(os.path.join(corpus, row["path"])) or not os.path.isfile(
                os.path.join(corpus, row["oracle_offsets"])):
            skipped += 1
            continue
        work.append((capwalk, corpus, row))
    with Pool(jobs) as pool:
        for (_, _, row), why in zip(work, pool.imap(check_file_job, work, chunksize=4)):
            if why:
                failed += 1
                print("FAIL %s: %s" % (row["path"], why))
            else:
                passed += 1
                if verbose:
                    print("ok   %s" % row["path"])
    print("offsets: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
