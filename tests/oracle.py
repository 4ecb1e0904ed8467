"""oracle.py - reading the shared corpus and tshark's per-frame view of it.

Used by the corpus tests.  The key of a frame is what pcapdex should file it
under: the innermost IP layer that pcapdex decapsulates to (IP-in-IP, GRE,
ERSPAN, VXLAN, Geneve, GTP-U), never an IP header quoted inside an ICMP
error, with ports for TCP and UDP unless the frame is an IP fragment.
"""
import csv
import os
import sys

csv.field_size_limit(sys.maxsize)

TUNNEL_TOKENS = {"gre", "vxlan", "geneve", "gtp", "erspan"}
IP_TOKENS = {"ip", "ipv6"}
STOP_TOKENS = {"icmp", "icmpv6", "ipcomp", "esp"}
# Headers pcapdex reads through to the transport, as tshark lists them.
TRANSPARENT = {"ah"}


def _transparent(t):
    return t.startswith("ipv6.") or t in TRANSPARENT


def corpus_dir(argv_dir=None):
    if argv_dir:
        return argv_dir
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "shared", "corpus"))


def catalog(cdir):
    with open(os.path.join(cdir, "catalog.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_tsv(path):
    with open(path, newline="", errors="replace") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _split(v):
    return v.split(",") if v else []


def frame_key(row):
    """(family, proto, frozenset of endpoints, fragment) for an IP frame, or None."""
    toks = row.get("frame.protocols", "").split(":")
    sel = None          # (token, occurrence index within its family)
    counts = {"ip": 0, "ipv6": 0}
    since_sel = []      # tokens seen since the selected IP layer
    transport = None
    tcount = {"tcp": 0, "udp": 0, "sctp": 0}
    for t in toks:
        if t in STOP_TOKENS:
            if sel is not None and transport is None:
                transport = (t, 0)
            break
        if t in IP_TOKENS:
            idx = counts[t]
            counts[t] += 1
            if sel is None:
                sel = (t, idx)
                since_sel = []
                transport = None
                continue
            # A deeper IP layer counts only when reached through a tunnel we follow.
            between = [x for x in since_sel if not _transparent(x)]
            if not between or any(x in TUNNEL_TOKENS for x in between):
                sel = (t, idx)
                since_sel = []
                transport = None
                continue
            break
        if t in tcount:
            if sel is not None and transport is None and not [x for x in since_sel
                                                              if not _transparent(x)]:
                transport = (t, tcount[t])
            tcount[t] += 1
        if sel is not None:
            since_sel.append(t)
    if sel is None:
        return None
    fam, idx = sel
    srcs = _split(row.get("ip.src" if fam == "ip" else "ipv6.src", ""))
    dsts = _split(row.get("ip.dst" if fam == "ip" else "ipv6.dst", ""))
    if idx >= len(srcs) or idx >= len(dsts):
        return None
    src, dst = srcs[idx], dsts[idx]
    frag = False
    if fam == "ip":
        mf = _split(row.get("ip.flags.mf", ""))
        fo = _split(row.get("ip.frag_offset", ""))
        if (idx < len(mf) and mf[idx] in ("1", "True")) or (idx < len(fo) and fo[idx] not in ("", "0")):
            frag = True
    elif row.get("ipv6.fraghdr.offset", "") != "" or "ipv6.fraghdr" in toks:
        frag = True
    proto = None
    ports = (None, None)
    if fam == "ip":
        pl = _split(row.get("ip.proto", ""))
        if idx < len(pl) and pl[idx].isdigit():
            proto = int(pl[idx])
    if transport is not None:
        name, n = transport
        proto = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58, "esp": 50,
                 "ipcomp": 108}[name]
        if name in ("tcp", "udp") and not frag:
            sp = _split(row.get(name + ".srcport", ""))
            dp = _split(row.get(name + ".dstport", ""))
            if n < len(sp) and n < len(dp):
                ports = (int(sp[n]), int(dp[n]))
    if frag:
        ports = (None, None)
        if fam == "ipv6":
            proto = None
    if proto == 51 and "ah" not in toks:
        proto = None  # tshark did not parse the AH header; pcapdex reads through it
    return (fam, proto, frozenset([(src, ports[0]), (dst, ports[1])]), frag)
