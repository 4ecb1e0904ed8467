#!/usr/bin/env python3
"""check_decode.py - compares pdx_decode (through tests/tools/decwalk) with
tshark's per-frame view of every capture in the real corpus.

For every pcap/pcapng capture that tshark read completely ('ok' in
catalog.tsv), each frame's IP addresses, transport protocol, TCP/UDP ports
and 802.1Q VLAN IDs are compared with the IP header tshark reached through
the encapsulations pdx_decode follows (Ethernet, 802.1Q/802.1ad, MPLS incl.
Ethernet pseudowires, PPPoE, PPP, LLC/SNAP, Cisco MetaData, 802.11,
IP-in-IP, GRE incl. ERSPAN, WCCP and PPTP, VXLAN, Geneve, GTP-U): the
innermost such header, found by walking frame.protocols.  Records libpcap
refuses (pcapng interfaces of different link types or snap lengths) are
decoded with `decwalk --at` at the offsets the corpus' independent walker
found.  Frames of link types pdx_decode does not know are skipped.

Deliberate differences, counted per category and never as failures:
  beyond:<proto>   tshark found further IP headers past an encapsulation we
                   do not follow (PIM register, IPComp, Teredo, sFlow
                   samples, LISP, MPLS over UDP, SRv6 Ethernet, NSH, ...):
                   they ride on ports or protocols other traffic uses, are
                   compressed, or are copies of packets.  The flow is the
                   outer header; ours must equal the last header tshark
                   reached through what we do follow.  ICMP errors quote an
                   IP header too: both sides describe the outer one there.
  fragment: ...    tshark reassembles IP fragments: it shows the datagram's
                   ports (or a tunnel inside it) on the frame that completed
                   it and no ports on the first fragment.  We decode each
                   fragment as it is: ports on the first one only, and no
                   tunnels inside fragments (all fragments key on the outer
                   header).  Counted only when we flagged FRAGMENT and our
                   addresses are one of tshark's IP headers.
  ip-header-tshark-could-not-read   tshark lists an IP layer without
                   addresses (bogus version or length, cut short): we then
                   describe the header outside it, flagged TRUNCATED or
                   INVALID, or nothing (L2) when there is none.
  ipv4-header-with-version-6   Wireshark hands an IPv4 header whose version
                   is 6 (ethertype 0x0800, LINKTYPE_IPV4) to its IPv6
                   dissector; for us the fields contradict: INVALID.
  ipv4-source-route   tshark shows the final destination of a loose/strict
                   source route option as ip.dst; we key on the header's
                   destination, what is on the wire (checked in the bytes).
  udp-tunnel-tshark-left-undissected   BIG TCP/GSO captures with IPv4 and
                   UDP lengths of 0: tshark stops at the "bogus" UDP length,
                   we take the length from what was captured and follow the
                   VXLAN/Geneve tunnel (as tcpdump does).
Lines marked "(info)" count agreeing frames, for scale.

Usage: check_decode.py [--corpus DIR] [--decwalk PATH] [-j N] [-v] [SUBSTRING...]
-v lists every file and an example frame per category.  Captures are checked
N at a time (default: the number of cores), reported in the catalog's order.  Ends with
"decode: N passed, N failed, N skipped" (files); exit status 1 if any file
failed.
"""
import argparse
import collections
import csv
import os
import subprocess
import sys
from multiprocessing import Pool

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# tshark protocol names of link layers (and link-like shims) we pass through.
LINK = {
    'eth', 'ethertype', 'vlan', 'ieee8021ad', 'mpls', 'pwethcw', 'pwethheuristic', 'pppoes',
    'ppp', 'llc', 'sll', 'null', 'loop', 'raw', 'chdlc', 'radiotap', 'wlan_radio', 'wlan',
    'ipoib', 'nflog', 'ppi', 'vntag', 'fcs', 'eth.trailer', 'erspan', 'cmd',
}
TRANSPORT = {'tcp': 6, 'udp': 17, 'icmp': 1, 'icmpv6': 58, 'sctp': 132, 'udplite': 136,
             'dccp': 33, 'gre': 47, 'esp': 50, 'igmp': 2, 'ospf': 89, 'pim': 103}


def split(v):
    return v.split(',') if v else []


def load_oracle(path):
    with open(path, newline='') as f:
        r = csv.reader(f, delimiter='\t', quoting=csv.QUOTE_NONE)
        head = next(r)
        idx = {h: i for i, h in enumerate(head)}
        rows = []
        for row in r:
            row += [''] * (len(head) - len(row))
            rows.append({h: row[i] for h, i in idx.items()})
    return rows


def packet_records(offsets_path, nrows):
    """(tshark frame number, data offset, caplen, interface) of each record
    libpcap returns, in order."""
    if not os.path.exists(offsets_path):
        return [(i, None, None, 0) for i in range(1, nrows + 1)]
    out = []
    with open(offsets_path, newline='') as f:
        r = csv.reader(f, delimiter='\t', quoting=csv.QUOTE_NONE)
        head = next(r)
        fi, bi = head.index('frame'), head.index('block_type')
        di, ci, ii = head.index('data_offset'), head.index('caplen'), head.index('if_global')
        for row in r:
            if len(row) <= bi or row[bi] in ('', 'EPB', 'PB', 'SPB'):
                iface = int(row[ii]) if len(row) > ii and row[ii].isdigit() else 0
                out.append((int(row[fi]), int(row[di]), int(row[ci]), iface))
    return out


def interface_linktypes(path):
    """The link type of every interface of a capture, in the order of its
    global interface numbers (pcap: one), read from the file itself."""
    import struct
    with open(path, 'rb') as f:
        buf = f.read()
    if len(buf) >= 24 and buf[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        return [struct.unpack('<I', buf[20:24])[0] & 0x03ffffff]
    if len(buf) >= 24 and buf[:4] in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        return [struct.unpack('>I', buf[20:24])[0] & 0x03ffffff]
    out = []
    pos, end = 0, '<'
    while pos + 12 <= len(buf):
        if buf[pos:pos + 4] == b'\x0a\x0d\x0d\x0a':
            end = '<' if buf[pos + 8:pos + 12] == b'\x4d\x3c\x2b\x1a' else '>'
        btype, blen = struct.unpack(end + 'II', buf[pos:pos + 8])
        if blen < 12 or blen % 4:
            break
        if btype == 1 and pos + 10 <= len(buf):
            out.append(struct.unpack(end + 'H', buf[pos + 8:pos + 10])[0])
        pos += blen
    return out or None


def next_state(state, tok):
    """Where following tok leads from state, or None where we stop following."""
    if state in ('link', 'gre') and tok in LINK:
        return 'link'
    if state in ('link', 'ip', 'gre', 'gtp') and tok in ('ip', 'ipv6'):
        return 'ip'
    if state == 'ip':
        if tok.startswith('ipv6.') or tok == 'ah':
            return 'ip'
        if tok in ('gre', 'udp'):
            return tok
    if state == 'udp':
        if tok in ('vxlan', 'geneve'):
            return 'link'
        if tok == 'gtp':
            return 'gtp'
    return None


def expectation(o):
    """What tshark says about the IP layers of a frame.

    Returns (followed, beyond, transport): followed lists (family, index,
    position) of every IP header reached through encapsulations we follow,
    outermost first; beyond names the protocol after which tshark found
    further IP headers that we do not reach (None if none, and ICMP quoting
    does not count); transport is (token, occurrence) of the protocol right
    after the last followed IP header.
    """
    protos = o['frame.protocols'].split(':')
    counts = collections.Counter()
    followed = []
    state = 'link'
    stop = None
    stop_named = False
    beyond = None
    transport = None
    for pos, tok in enumerate(protos):
        if stop is None:
            nxt = next_state(state, tok)
            if tok in ('ip', 'ipv6') and nxt is not None:
                followed.append((tok, counts[tok], pos))
                transport = None
            elif followed and transport is None and state == 'ip' and \
                    not tok.startswith('ipv6.') and tok != 'ah':
                transport = (tok, counts[tok])
            if nxt is None:
                stop = tok
            state = nxt
        elif stop in ('tcp', 'udp', 'sctp') and stop_named is False:
            stop, stop_named = tok, True  # name what runs over the transport
        if tok in ('ip', 'ipv6') and stop is not None and stop not in ('icmp', 'icmpv6') and \
                beyond is None and (not followed or followed[-1][2] != pos):
            beyond = stop
        counts[tok] += 1
    return followed, beyond, transport


def addr_of(o, fam, i, side):
    key = ('ip.' if fam == 'ip' else 'ipv6.') + side
    v = split(o[key])
    return v[i] if i < len(v) else None


def source_route_final(data, l3):
    """The last address of an IPv4 loose/strict source route option, if any."""
    if data is None or len(data) < l3 + 20 or data[l3] >> 4 != 4:
        return None
    hl = (data[l3] & 15) * 4
    opts = data[l3 + 20:l3 + hl]
    i = 0
    while i < len(opts):
        t = opts[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        ln = opts[i + 1]
        if t in (131, 137) and ln >= 7 and i + ln <= len(opts):
            a = opts[i + ln - 4:i + ln]
            return '%d.%d.%d.%d' % tuple(a)
        i += ln
    return None


WHERE = [None]        # (capture, frame) being compared, for examples
EXAMPLES = {}         # category -> first (capture, frame) counted in it


def note(cats, cat):
    cats[cat] += 1
    EXAMPLES.setdefault(cat, WHERE[0])


def compare_frame(o, w, cats, data):
    """Returns None when the frame agrees (or differs deliberately), else a reason."""
    kind, proto, src, dst, sport, dport, flags = w[1], int(w[2]), w[3], w[4], w[5], w[6], w[7]
    tunnel, tun_src, tun_dst, l3 = w[8], w[11], w[12], int(w[15])
    flags = set(flags.split(','))
    if 'unknownlink' in flags:
        cats['skipped: link type %s not decoded' % w[14]] += 1
        return None
    followed, beyond, transport = expectation(o)
    protos = o['frame.protocols'].split(':')
    # A header tshark listed but could not read (bogus version or length, cut
    # short) has no addresses: then the one outside it is what we describe.
    inner_bad = False
    # Wireshark hands an IPv4 header with version 6 to its IPv6 dissector; we
    # call it invalid and describe what is outside it.
    for j, (fam, i, pos) in enumerate(followed):
        if fam == 'ip' and pos + 1 < len(protos) and protos[pos + 1] == 'ipv6' and \
                addr_of(o, fam, i, 'src') is None:
            note(cats, 'ipv4-header-with-version-6')
            if not flags & {'invalid', 'trunc'}:
                return 'IPv4 header with version 6 not flagged invalid'
            del followed[j:]
            transport = None
            break
    while followed and None in (addr_of(o, followed[-1][0], followed[-1][1], 'src'),
                                addr_of(o, followed[-1][0], followed[-1][1], 'dst')):
        fam, i, pos = followed.pop()
        inner_bad = True
        note(cats, 'ip-header-tshark-could-not-read')
        transport = None
    if not followed:
        if kind == 'l2':
            return None
        return 'tshark shows no IP, we say %s %s > %s' % (kind, src, dst)
    fam, i, pos = followed[-1]
    esrc, edst = addr_of(o, fam, i, 'src'), addr_of(o, fam, i, 'dst')
    if kind == 'l2':
        return 'tshark %s %s > %s, we found no IP (flags %s)' % (fam, esrc, edst,
                                                                  ','.join(sorted(flags)))
    if inner_bad and not flags & {'trunc', 'invalid'}:
        return 'tshark could not read the inner IP header, we did not flag it'
    if (src, dst) != (esrc, edst):
        if 'frag' in flags and any((addr_of(o, f, j, 'src'), addr_of(o, f, j, 'dst')) == (src, dst)
                                   for f, j, _ in followed):
            note(cats, 'fragment: tshark reassembled a tunnel')
            return None
        if fam == 'ip' and src == esrc and source_route_final(data, l3) == edst:
            note(cats, 'ipv4-source-route')
            return None
        if tunnel != '-' and (tun_src, tun_dst) == (esrc, edst) and \
                protos[pos + 1:] == ['udp']:
            note(cats, 'udp-tunnel-tshark-left-undissected')
            return None
        return 'addresses: tshark %s > %s, we %s > %s' % (esrc, edst, src, dst)
    want_fam = 'ip4' if fam == 'ip' else 'ip6'
    if kind != want_fam:
        return 'family: tshark %s, we %s' % (fam, kind)
    if beyond is not None:
        note(cats, 'beyond:' + beyond)
    # Transport protocol and ports.
    tok, n = transport if transport else (None, 0)
    if tok in TRANSPORT and TRANSPORT[tok] != proto and 'frag' not in flags:
        return 'protocol: tshark %s, we %d' % (tok, proto)
    if fam == 'ip' and 'frag' not in flags:
        p = split(o['ip.proto'])
        if i < len(p) and p[i] != '51' and int(p[i]) != proto:
            return 'ip.proto: tshark %s, we %d' % (p[i], proto)
    if tok in ('tcp', 'udp', 'udplite'):
        f = 'tcp' if tok == 'tcp' else 'udp'
        sp, dp = split(o[f + '.srcport']), split(o[f + '.dstport'])
        eports = (sp[n], dp[n]) if n < len(sp) and n < len(dp) else None
        if eports is None or (sport, dport) == eports:
            pass
        elif 'frag' in flags and sport == '-':
            note(cats, 'fragment: tshark shows reassembled ports')
        else:
            return 'ports: tshark %s %s > %s, we %s > %s' % (tok, eports[0], eports[1], sport, dport)
    elif sport != '-' and proto in (6, 17) and 'frag' in flags:
        note(cats, 'fragment: first, tshark shows no ports')
    if tunnel != '-':
        note(cats, 'agree (info): through tunnel ' + tunnel)
    # VLAN IDs, outermost first (we keep two).  tshark names 802.1ad tags
    # ieee8021ad, not vlan, so those frames are not compared.
    ev = split(o['vlan.id'])[:2]
    ov = [] if w[9] == '-' else w[9].split(',')
    if ev and ov and 'ieee8021ad' not in protos and ev != ov[:len(ev)]:
        return 'vlan: tshark %s, we %s' % (','.join(ev), ','.join(ov))
    return None


def check_file(job):
    """One capture: a dict with its status ('pass', 'fail' or 'skip'), the
    reason for a skip, the lines to print, the category counts, the first
    example of each category and the frames that agree and differ."""
    decwalk, corpus, row, verbose, show = job
    path = row['path']
    res = {'status': 'skip', 'skip': None, 'out': [], 'cats': collections.Counter(),
           'examples': {}, 'ok': 0, 'bad': 0}
    out, cats = res['out'], res['cats']
    EXAMPLES.clear()
    fmt = row['format']
    if row['tshark_read'] != 'ok':
        res['skip'] = 'tshark read ' + row['tshark_read']
        return res
    if fmt not in ('pcap', 'pcapng'):
        res['skip'] = fmt
        return res
    fields = os.path.join(corpus, row['oracle_fields'])
    if not row['oracle_fields'] or not os.path.exists(fields):
        res['skip'] = 'no oracle'
        return res
    p = subprocess.run([decwalk, os.path.join(corpus, path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       errors='replace')
    if p.returncode not in (0, 1, 2):
        out.append('FAIL %s: decwalk died (status %d): %s' % (path, p.returncode,
                                                           p.stderr.strip()[-300:]))
        res['status'] = 'fail'
        return res
    oracle = load_oracle(fields)
    offsets = os.path.join(corpus, row['oracle_offsets']) if row['oracle_offsets'] else ''
    records = packet_records(offsets, len(oracle))
    # (tshark frame, decwalk line) pairs
    lines = []
    for line in p.stdout.splitlines() if p.returncode in (0, 1) else []:
        w = line.split('\t')
        k = int(w[0])
        lines.append((records[k - 1][0] if k <= len(records) else None, w))
    if p.returncode != 0 and records[len(lines):]:
        # libpcap stopped or refused (pcapng interfaces of different link
        # types or snap lengths, odd versions): decode the rest straight
        # from the file, at the offsets the independent walker found.
        lts = interface_linktypes(os.path.join(corpus, path))
        rest = records[len(lines):]
        if lts is None or rest[0][1] is None or \
                any(r[3] >= len(lts) for r in rest):
            res['skip'] = 'libpcap cannot read, no records to fall back on'
            if verbose:
                out.append('skip %s: %s' % (path, p.stderr.strip()))
            return res
        cats['records read without libpcap'] += len(rest)
        q = subprocess.run([decwalk, '--at', os.path.join(corpus, path)],
                           input=''.join('%d %d %d %d\n' % (fr, lts[i], off, cl)
                                         for fr, off, cl, i in rest),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, errors='replace')
        if q.returncode != 0:
            out.append('FAIL %s: decwalk --at: %s' % (path, q.stderr.strip()))
            res['status'] = 'fail'
            return res
        for line in q.stdout.splitlines():
            w = line.split('\t')
            lines.append((int(w[0]), w))
    by_num = {int(o['frame.number']): o for o in oracle if o['frame.number'].isdigit()}
    data_at = {fr: (off, cl) for fr, off, cl, _ in records}
    bad = []
    n = 0
    with open(os.path.join(corpus, path), 'rb') as cf:
        for fr, w in lines:
            if fr is None or fr not in by_num:
                bad.append((w[0], 'no tshark frame for packet %s' % w[0]))
                continue
            n += 1
            data = None
            off, cl = data_at.get(fr, (None, None))
            if off is not None and w[1] == 'ip4':
                cf.seek(off)
                data = cf.read(cl)
            WHERE[0] = (path, fr)
            why = compare_frame(by_num[fr], w, cats, data)
            if why:
                bad.append((fr, why))
    res['bad'] = len(bad)
    res['ok'] = n - len(bad)
    res['examples'] = dict(EXAMPLES)
    if bad:
        res['status'] = 'fail'
        out.append('FAIL %s: %d of %d frames differ' % (path, len(bad), n))
        for fr, why in bad[:show]:
            out.append('    frame %s: %s' % (fr, why))
    else:
        res['status'] = 'pass'
        if verbose:
            out.append('ok   %s (%d frames)' % (path, n))
    return res


def main():
    ap = argparse.ArgumentParser(description='compare pdx_decode with tshark over the corpus')
    ap.add_argument('--corpus', default=os.path.join(REPO, '..', 'shared', 'corpus'))
    build = os.environ.get('BUILD', 'build')
    ap.add_argument('--decwalk', default=os.path.join(REPO, build, 'tools', 'decwalk'))
    ap.add_argument('-j', '--jobs', type=int, default=os.cpu_count() or 2,
                    help='captures checked at a time (default: the number of cores)')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('--show', type=int, default=3, help='differing frames shown per file')
    ap.add_argument('only', nargs='*', help='only captures whose path contains one of these')
    a = ap.parse_args()

    if not os.access(a.decwalk, os.X_OK):
        print('check_decode: no decwalk at %s (build it, or pass --decwalk)' % a.decwalk,
              file=sys.stderr)
        return 2
    catalog = os.path.join(a.corpus, 'catalog.tsv')
    with open(catalog, newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t', quoting=csv.QUOTE_NONE))

    passed = failed = skipped = 0
    frames_ok = frames_bad = 0
    cats = collections.Counter()
    skip_why = collections.Counter()
    work = [(a.decwalk, a.corpus, row, a.verbose, a.show) for row in rows
            if not a.only or any(s in row['path'] for s in a.only)]
    with Pool(max(1, a.jobs)) as pool:
        # imap keeps the catalog's order, so the report and each category's
        # example are the same whatever the number of jobs.
        for r in pool.imap(check_file, work, chunksize=4):
            for line in r['out']:
                print(line)
            cats.update(r['cats'])
            for c, where in r['examples'].items():
                EXAMPLES.setdefault(c, where)
            frames_ok += r['ok']
            frames_bad += r['bad']
            if r['status'] == 'pass':
                passed += 1
            elif r['status'] == 'fail':
                failed += 1
            else:
                skipped += 1
                skip_why[r['skip']] += 1

    print('frames: %d agree, %d differ' % (frames_ok, frames_bad))
    if cats:
        print('deliberate differences and skips (frames):')
        for c, v in sorted(cats.items(), key=lambda x: (-x[1], x[0])):
            print('    %-40s %d' % (c, v))
            if a.verbose and EXAMPLES.get(c):
                print('        e.g. %s frame %s' % EXAMPLES[c])
    if skip_why:
        print('files skipped: ' + ', '.join('%s %d' % kv for kv in sorted(skip_why.items())))
    print('decode: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
