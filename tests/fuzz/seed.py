#!/usr/bin/env python3
"""seed.py - (re)builds the seed corpora under tests/fuzz/corpus/ from the
shared capture corpus (../shared/corpus, see its README and catalog.tsv) and
from the filter examples in docs/query.md and tests/test_qparse.c.

    python3 tests/fuzz/seed.py [--corpus ../shared/corpus] [--out tests/fuzz/corpus]

Deterministic.  Replaces every seed-* file in the target directories and
leaves crash-* files (reproducers of findings) alone.  Picks, for the
capture targets: every crafted or fuzzed file up to 4 KiB, every file
tshark cannot read fully up to 16 KiB, the smallest file of every link
type, byte order and timestamp precision, note and content tag (cut at a
record boundary to at most 16 KiB), both snoop files, and truncated copies
(inside the file header, inside a record header, inside packet data).  For
decode: the smallest frame of every (link type, first 7 protocols) pair
tshark reports, prefixed with the link type (4 bytes, little endian).  For
offsets: hand-made segments, varint and zstd, valid and not.  For rollup:
hand-made runs of every kind, plain and zstd, valid and not.  For zstd: a
small clean pcap and pcapng compressed as plain zstd (with and without a
content size, several frames, damaged), as zstd's seekable format built
here from the spec (several small frames, with and without checksums,
with a truncated or damaged seek table, a corrupt frame, sizes that do not
match the frames), and as gzip (one and two members, damaged), plus the
smallest gzip-compressed captures of the shared corpus.  Every zstd seed
fits the fuzzer's default 4 KiB -max_len.  For flow: the first packets of
the smallest capture of every (link type, content tags) the target's link
type table has, whole and cut into captures and runs.

    python3 tests/fuzz/seed.py [TARGET...]   # only these targets' seeds
"""
import argparse
import csv
import gzip
import hashlib
import os
import re
import struct
import subprocess
import sys
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CUT_MAX = 16384       # a seed capture cut at a record boundary
CRAFTED_MAX = 4096    # crafted/fuzzed files taken whole up to this size
BROKEN_MAX = 16384    # files tshark reads partially or not at all
FRAME_MAX = 4096      # decode seeds


def short_name(path):
    """repo-ish prefix + file name, safe for a file system."""
    parts = path.split('/')
    repo = parts[1].split('_', 1)[-1] if len(parts) > 2 else ''
    base = '-'.join(p for p in parts[2:] if p not in ('pcaps', 'tests', 'Tests', 'test'))
    name = re.sub(r'[^A-Za-z0-9._+-]+', '_', repo[:10] + '-' + base)
    if len(name) > 70:
        name = name[:54] + '-' + hashlib.sha1(path.encode()).hexdigest()[:8]
    return name


def linktypes(spec):
    out = []
    for part in spec.split(','):
        m = re.match(r'(\d+)\(.*?\)(?:x(\d+))?$', part.strip())
        if m:
            out += [int(m.group(1))] * int(m.group(2) or 1)
    return out


def read_offsets(corpus, row):
    p = row['oracle_offsets']
    if not p or not os.path.isfile(os.path.join(corpus, p)):
        return []
    recs = []
    with open(os.path.join(corpus, p)) as f:
        next(f)
        for line in f:
            c = line.rstrip('\n').split('\t')
            recs.append({'frame': c[0], 'offset': int(c[1]), 'caplen': int(c[2]),
                         'data_offset': int(c[5]) if c[5] else None,
                         'if_global': int(c[9]) if c[9] else 0})
    return recs


def cut(corpus, row, data, limit):
    """data cut at the last record boundary within limit (the whole file if it fits)."""
    if len(data) <= limit:
        return data
    recs = read_offsets(corpus, row)
    best = None
    for r in recs:
        if r['offset'] <= limit:
            best = r['offset']
    if best is None or best == 0:
        return None
    return data[:best]


class Out:
    def __init__(self, d):
        self.dir = d
        self.seen = set()
        self.names = set()
        self.total = 0
        os.makedirs(d, exist_ok=True)
        for n in os.listdir(d):
            if n.startswith('seed-'):
                os.remove(os.path.join(d, n))
            elif n.startswith('crash-'):
                with open(os.path.join(d, n), 'rb') as f:
                    self.seen.add(hashlib.sha1(f.read()).digest())

    def add(self, name, data):
        h = hashlib.sha1(data).digest()
        if h in self.seen:
            return False
        self.seen.add(h)
        name = 'seed-' + name
        base, k = name, 2
        while name in self.names:
            name = '%s-%d' % (base, k)
            k += 1
        self.names.add(name)
        with open(os.path.join(self.dir, name), 'wb') as f:
            f.write(data)
        self.total += len(data)
        return True


def captures(corpus, rows, out, formats):
    sel = [r for r in rows if r['format'] in formats]
    sel.sort(key=lambda r: (int(r['bytes']), r['path']))

    def data_of(r):
        with open(os.path.join(corpus, r['path']), 'rb') as f:
            return f.read()

    def take(r, tag='', limit=CUT_MAX):
        d = cut(corpus, r, data_of(r), limit)
        if d is None:
            return False
        return out.add(short_name(r['path']) + tag, d)

    # Crafted, fuzzed, damaged.
    for r in sel:
        if 'crafted' in r['notes'] and int(r['bytes']) <= CRAFTED_MAX:
            take(r)
        elif r['tshark_read'] != 'ok' and int(r['bytes']) <= BROKEN_MAX:
            take(r)
    # The smallest of every kind.
    groups = {}
    for r in sel:
        keys = [('lt', r['linktypes']), ('order', r['endianness'], r['ts_precision']),
                ('snaplen', r['snaplen'])]
        for n in r['notes'].split(';'):
            n = re.sub(r'[0-9.]+', 'N', n.strip())
            if n and 'duplicate' not in n:
                keys.append(('note', n))
        for t in r['content_tags'].split(','):
            if t:
                keys.append(('tag', t))
        if 'hadrielk' in r['path']:
            keys.append(('path', r['path']))  # every pcapng variant
        for k in keys:
            groups.setdefault(k, []).append(r)
    for k in sorted(groups):
        for r in groups[k]:  # smallest first; the next one if it cannot be cut
            if take(r) or cut(corpus, r, data_of(r), CUT_MAX) is not None:
                break
    # Truncated copies of a few clean files: inside the file header, inside a
    # record header, inside a record's data.
    clean = [r for r in sel if r['tshark_read'] == 'ok' and 'crafted' not in r['notes']]
    seen_lt = set()
    for r in clean:
        if r['linktypes'] in seen_lt or int(r['bytes']) > 65536:
            continue
        recs = read_offsets(corpus, r)
        if len(recs) < 2:
            continue
        seen_lt.add(r['linktypes'])
        d = data_of(r)
        second = recs[1]['offset']
        hdr = (recs[1]['data_offset'] or second + 16) - second
        name = short_name(r['path'])
        out.add(name + '.trunc-filehdr', d[:min(recs[0]['offset'], 60) // 2 + 1])
        out.add(name + '.trunc-rechdr', d[:second + hdr // 2])
        out.add(name + '.trunc-data', d[:second + hdr + max(1, recs[1]['caplen'] // 2)])
        if len(seen_lt) >= 8:
            break


def frames(corpus, rows, out):
    best = {}
    for r in rows:
        if 'gzip' in r['format'] or not r['oracle_fields']:
            continue
        fpath = os.path.join(corpus, r['oracle_fields'])
        if not os.path.isfile(fpath):
            continue
        lts = linktypes(r['linktypes'])
        protos = {}
        with open(fpath, errors='replace') as f:
            next(f)
            for line in f:
                c = line.rstrip('\n').split('\t')
                protos[c[0]] = c[-1]
        for rec in read_offsets(corpus, r):
            if rec['data_offset'] is None or rec['caplen'] > FRAME_MAX:
                continue
            ig = rec['if_global']
            if ig >= len(lts):
                continue
            key = (lts[ig], ':'.join(protos.get(rec['frame'], '').split(':')[:7]))
            cand = (rec['caplen'], r['path'], rec['data_offset'])
            if key not in best or cand < best[key]:
                best[key] = cand
    for (lt, proto) in sorted(best):
        caplen, path, off = best[(lt, proto)]
        with open(os.path.join(corpus, path), 'rb') as f:
            f.seek(off)
            frame = f.read(caplen)
        name = 'lt%d-%s' % (lt, re.sub(r'[^A-Za-z0-9]+', '.', proto)[:60])
        out.add(name, struct.pack('<I', lt) + frame)
    # Every link type the decoder knows, with nothing and with one byte.
    for lt in (0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 192, 228, 229, 239, 242, 276):
        out.add('lt%d-empty' % lt, struct.pack('<I', lt))
        out.add('lt%d-1byte' % lt, struct.pack('<I', lt) + b'\x45')


# fuzz_flow's link type table (its 4-bit index) and input layout.
FLOW_LINKS = [1, 101, 228, 229, 113, 276, 0, 12, 14, 108, 9, 50, 104, 105, 239, 147]
FLOW_MAX = 4096
FLOW_UNITS = (1, 1000, 100000, 1000000)   # microseconds per unit of the time step


def flow_unit_step(step_us, signed):
    """The unit (index into FLOW_UNITS) and the step in it that come closest
    to step_us; with signed (config bit 5) a step is an int8."""
    top = 127 if signed else 255
    unit = 0
    while unit < 3 and abs(step_us) > top * FLOW_UNITS[unit]:
        unit += 1
    return unit, max(-128 if signed else 0, min(top, int(step_us / FLOW_UNITS[unit])))


def flow_step(step_us, signed):
    """The step in microseconds that a record asking for step_us gets."""
    unit, step = flow_unit_step(step_us, signed)
    return step * FLOW_UNITS[unit]


def flow_record(data, lt_index, step_us, flags=0, extra=0, signed=False):
    unit, step = flow_unit_step(step_us, signed)
    h0 = lt_index | flags | unit << 6
    return struct.pack('<BBHB', h0, step & 0xff, len(data), min(255, extra)) + data


def flows(corpus, rows, out):
    """Packet sequences from the start of real captures, for fuzz_flow: the
    smallest capture of every (link type, content tags), its first records
    (frames cut to 1500 bytes) up to 4 KiB, once as one capture and once
    cut into three captures, the third one of a new indexing run; and, for
    the smallest capture of each link type whose timestamps go backwards,
    the same with signed time steps (config bit 5), as the capture has them."""
    best, ooo = {}, {}
    for r in rows:
        if r['tshark_read'] != 'ok' or r['format'] not in ('pcap', 'pcapng'):
            continue
        lts = set(linktypes(r['linktypes']))
        if len(lts) != 1 or next(iter(lts)) not in FLOW_LINKS:
            continue
        key = (next(iter(lts)), r['content_tags'])
        cand = (int(r['bytes']), r['path'], r)
        if key not in best or cand[:2] < best[key][:2]:
            best[key] = cand
        if int(r['ts_out_of_order'] or 0) > 0:
            okey = (key[0], 'ooo')
            if okey not in ooo or cand[:2] < ooo[okey][:2]:
                ooo[okey] = cand
    best.update(ooo)
    for key in sorted(best):
        _, path, r = best[key]
        signed = key[1] == 'ooo'
        lt = FLOW_LINKS.index(key[0])
        p = os.path.join(corpus, r['oracle_offsets'])
        recs = []
        with open(p) as f:
            next(f)
            for line in f:
                c = line.rstrip('\n').split('\t')
                if c[5] and c[4]:
                    recs.append((int(c[5]), int(c[2]), int(c[3]), float(c[4])))
        if len(recs) < 2:
            continue
        with open(os.path.join(corpus, path), 'rb') as f:
            data = f.read()
        frames, size = [], 1
        for off, caplen, origlen, ts in recs:
            frame = data[off:off + min(caplen, 1500)]
            if size + 5 + len(frame) > FLOW_MAX:
                break
            size += 5 + len(frame)
            frames.append((frame, origlen - len(frame), ts))
        n = len(frames)
        for name, cuts in (('', {}), ('.cut', {n // 3: 0x10, 2 * n // 3: 0x20})):
            # 128-byte segments, 24 s idle timeout; signed steps
            body = bytearray([0x3a if signed else 0x1a])
            prev = frames[0][2]
            at = 0   # signed: where the records' times are, in us from the first
            for i, (frame, extra, ts) in enumerate(frames):
                if signed:
                    step = int(round((ts - frames[0][2]) * 1e6)) - at
                    at += flow_step(step, True)
                else:
                    step = max(0, int(round((ts - prev) * 1e6)))
                    prev = max(prev, ts)
                body += flow_record(frame, lt, step, cuts.get(i, 0) if i else 0, extra, signed)
            out.add('lt%d-%s%s%s' % (key[0], 'ooo-' if signed else '', short_name(path), name),
                    bytes(body))


def c_strings(text):
    """The C string literals of text, unescaped."""
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', text):
        s = m.group(1)
        try:
            yield s.encode('latin-1').decode('unicode_escape').encode('latin-1')
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue


def queries(out):
    exprs = []
    with open(os.path.join(TOP, 'docs/query.md')) as f:
        doc = f.read()
    for block in re.findall(r'```\n(.*?)```', doc, re.S):
        exprs += [l.strip().encode() for l in block.splitlines() if l.strip()]
    exprs += [s.encode() for s in re.findall(r'`([^`\n]+)`', doc)]
    with open(os.path.join(TOP, 'tests/test_qparse.c'), encoding='latin-1') as f:
        for line in f:
            m = re.search(r'(expect_sql|expect_err|parse_ok|parse_err|pdx_qparse)\(\s*(".*)', line)
            if m:
                s = next(c_strings(m.group(2)), None)
                if s is not None:
                    exprs.append(s)
            elif re.match(r'\s*\{\s*"', line):
                s = next(c_strings(line), None)
                if s is not None:
                    exprs.append(s)
    # Limits: nesting and chains at and past PDX_QUERY_MAX_*.
    exprs += [b'(' * 256 + b'tcp' + b')' * 256, b'(' * 257 + b'tcp' + b')' * 257,
              b'not ' * 300 + b'udp', b' or '.join([b'port %d' % i for i in range(256)]),
              b' and '.join([b'port %d' % i for i in range(257)]),
              b'(' * 21 + b' or '.join([b'(tcp and port 1)'] * 3) + b')' * 21,
              b'host 10.0.0.1\x00garbage', b'\xff\xfe host', b'']
    n = 0
    for e in exprs:
        if len(e) <= 4096 and out.add('q%04d' % n, e):
            n += 1


def varints(offs):
    raw, prev = bytearray(), 0
    for o in offs:
        d = o - prev
        prev = o
        while d >= 0x80:
            raw.append((d & 0x7f) | 0x80)
            d >>= 7
        raw.append(d)
    return bytes(raw)


def zstd(raw, stream=False):
    args = ['zstd', '-q', '-c', '-3']
    if stream:  # from a pipe: no content size in the frame header
        return subprocess.run(args, input=raw, stdout=subprocess.PIPE, check=True).stdout
    tmp = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'pdx-seed-%d.bin' % os.getpid())
    with open(tmp, 'wb') as f:
        f.write(raw)
    try:
        return subprocess.run(args + [tmp], stdout=subprocess.PIPE, check=True).stdout
    finally:
        os.remove(tmp)


def offsets(out):
    def seg(name, enc, count, blob):
        out.add(name, struct.pack('<BQ', enc, count) + blob)

    pcap = [24]
    for i in range(1, 400):
        pcap.append(pcap[-1] + 16 + (60 + (i * 37) % 1400))
    big = [24 + i * (1 << 33) for i in range(40)]  # > 4 GiB gaps
    seg('empty', 0, 0, b'')
    seg('one', 0, 1, varints([24]))
    seg('first-zero', 0, 2, varints([0, 1]))
    seg('pcap-varint', 0, 50, varints(pcap[:50]))
    seg('big-gaps', 0, len(big), varints(big))
    seg('u64-max', 0, 2, varints([1, (1 << 64) - 1]))
    seg('overflow-11bytes', 0, 1, b'\xff' * 10 + b'\x01')
    seg('overflow-sum', 0, 2, varints([(1 << 64) - 1]) + b'\x01')
    seg('zero-delta', 0, 3, varints([24, 40]) + b'\x00')
    seg('trailing', 0, 1, varints([24]) + b'\x05')
    seg('short-count', 0, 3, varints([24, 40]))
    seg('unterminated', 0, 1, b'\x80\x80')
    seg('bad-encoding', 2, 1, varints([24]))
    seg('negative-encoding', 0xff, 1, varints([24]))
    seg('huge-count', 0, 1 << 63, varints(pcap[:10]))
    seg('count-wraps', 1, 0x1999999999999999 + 2, zstd(varints(pcap)))
    seg('pcap-zstd', 1, len(pcap), zstd(varints(pcap)))
    seg('pcap-zstd-stream', 1, len(pcap), zstd(varints(pcap), stream=True))
    seg('zstd-wrong-count', 1, len(pcap) - 1, zstd(varints(pcap)))
    seg('zstd-truncated', 1, len(pcap), zstd(varints(pcap))[:-7])
    seg('zstd-as-varint', 0, len(pcap), zstd(varints(pcap)))
    seg('varint-as-zstd', 1, 50, varints(pcap[:50]))


KLEN = (16, 16, 16, 2, 32, 3)  # src dst host port pair proto


def run_bytes(kind, entries, shared=None):
    """A rollups run: per entry the length shared with the previous key, the
    rest of the key, and flows, packets, bytes as varints (docs/schema.md)."""
    raw, prev = bytearray(), bytes(KLEN[kind])
    for key, counts in entries:
        sh = 0
        while sh < len(key) and key[sh] == prev[sh]:
            sh += 1
        if shared is not None:
            sh = shared
        raw.append(sh)
        raw += key[sh:]
        for c in counts:
            raw += varints([c])
        prev = key
    return bytes(raw)


def rollup(out):
    def run(name, kind, enc, keys, blob):
        out.add(name, struct.pack('<BBq', kind, enc, keys) + blob)

    v4 = [bytes(10) + b'\xff\xff' + bytes([10, 0, i // 256, i % 256]) for i in range(300)]
    hosts = [(a, (1 + i % 3, 2 + i, 100 + 37 * i)) for i, a in enumerate(v4)]
    pairs = [(v4[i] + v4[j], (1, 2, 120)) for i in range(0, 40, 7) for j in range(0, 40, 5)]
    ports = [(bytes([p >> 8, p & 255]), (5, 9, 999)) for p in (22, 53, 80, 443, 8080)]
    protos = [(bytes([0, 6, 0]), (3, 30, 3000)), (bytes([0, 17, 0]), (2, 4, 400)),
              (bytes([1, 0x08, 0x06]), (1, 1, 60))]
    for kind, ents in ((0, hosts[:20]), (1, hosts[:3]), (2, hosts), (3, ports), (4, pairs),
                       (5, protos)):
        raw = run_bytes(kind, ents)
        run('k%d-plain' % kind, kind, 0, len(ents), raw)
        run('k%d-zstd' % kind, kind, 1, len(ents), zstd(raw))
    raw = run_bytes(2, hosts)
    run('empty', 2, 0, 0, b'')
    run('count-short', 2, 0, len(hosts) + 1, raw)
    run('count-long', 2, 0, len(hosts) - 1, raw)
    run('negative-count', 2, 0, -1, raw)
    run('huge-count', 2, 0, 1 << 62, raw)
    run('not-sorted', 2, 0, 2, run_bytes(2, [hosts[5], hosts[4]]))
    run('duplicate', 2, 0, 2, run_bytes(2, [hosts[4], hosts[4]]))
    run('shared-too-long', 3, 0, 1, run_bytes(3, ports[:1], shared=3))
    run('varint-unterminated', 5, 0, 1, bytes([0, 0, 6, 0, 0x80, 0x80]))
    run('bad-encoding', 2, 2, len(hosts), raw)
    run('bad-kind', 6, 0, len(hosts), raw)
    run('zstd-truncated', 2, 1, len(hosts), zstd(raw)[:-5])
    run('zstd-stream', 2, 1, len(hosts), zstd(raw, stream=True))
    run('zstd-as-plain', 2, 0, len(hosts), zstd(raw))


SEEK_MAGIC = 0x8F92EAB1
SKIPPABLE_SEEK = 0x184D2A5E
ZSTD_MAX = 4096  # fuzz.sh's -max_len for the target


def skippable(payload, magic=0x184D2A50):
    return struct.pack('<II', magic, len(payload)) + payload


def seek_table(entries, checksums=None, count=None, desc=None):
    """zstd's seekable format: a skippable frame of (compressed, raw[,
    checksum]) entries and a footer (count, descriptor, magic)."""
    body = b''
    for i, (c, r) in enumerate(entries):
        body += struct.pack('<II', c, r)
        if checksums is not None:
            body += checksums[i]
    if desc is None:
        desc = 0x80 if checksums is not None else 0
    body += struct.pack('<IBI', len(entries) if count is None else count, desc, SEEK_MAGIC)
    return skippable(body, SKIPPABLE_SEEK)


def seekable(raw, frame, checksums=False):
    """raw cut into frames of frame bytes, each compressed on its own (with
    its content checksum, whose 4 bytes are also the entry's checksum), and
    the seek table.  Returns the file, the frames and the chunks."""
    chunks = [raw[i:i + frame] for i in range(0, len(raw), frame)]
    frames = [zstd(c) for c in chunks]
    table = seek_table([(len(f), len(c)) for f, c in zip(frames, chunks)],
                       [f[-4:] for f in frames] if checksums else None)
    return b''.join(frames) + table, frames, chunks


def flip(data, at):
    return data[:at] + bytes([data[at] ^ 0x5a]) + data[at + 1:]


def compressed(corpus, rows, out):
    def small_clean(fmt):
        cand = [r for r in rows if r['format'] == fmt and r['tshark_read'] == 'ok'
                and not r['notes'] and 'Fuzzers' not in r['path']
                and 1500 <= int(r['bytes']) <= 4000 and int(r['packets']) >= 8]
        cand.sort(key=lambda r: (int(r['bytes']), r['path']))
        with open(os.path.join(corpus, cand[0]['path']), 'rb') as f:
            return f.read()

    def add(name, data):
        assert len(data) <= ZSTD_MAX, (name, len(data))
        out.add(name, data)

    pcap, pcapng = small_clean('pcap'), small_clean('pcapng')

    # Plain zstd streams.
    z = zstd(pcap)
    add('zstd-pcap', z)
    add('zstd-pcap-no-size', zstd(pcap, stream=True))
    add('zstd-pcapng', zstd(pcapng))
    add('zstd-pcap-truncated', z[:-7])
    add('zstd-pcap-cut-in-header', z[:6])
    add('zstd-pcap-corrupt-block', flip(z, len(z) // 2))
    add('zstd-pcap-bad-checksum', flip(z, len(z) - 2))
    add('zstd-pcap-trailing-garbage', z + b'\x00\x01\x02')
    half = len(pcap) // 2
    add('zstd-pcap-two-frames-skippable',
        skippable(b'pcapdex') + zstd(pcap[:half]) + skippable(b'\x00' * 5, 0x184D2A5F) +
        zstd(pcap[half:]))
    add('zstd-skippable-only', skippable(b'x' * 8))
    # Hand-made frames of raw blocks whose header claims a content size the
    # blocks do not have.  Ended by an empty last block, libzstd (1.5.4)
    # refuses it in one pass and takes it in steps.
    def raw_frame(content_size, blocks):
        f = b'\x28\xb5\x2f\xfd\x40\x00' + struct.pack('<H', content_size - 256)
        for i, blk in enumerate(blocks):
            v = len(blk) << 3 | (i == len(blocks) - 1)
            f += bytes([v & 255, v >> 8 & 255, v >> 16]) + blk
        return f
    add('zstd-content-size-wrong', raw_frame(len(pcap) + 7, [pcap[:700], pcap[700:]]))
    add('zstd-content-size-wrong-empty-last-block',
        raw_frame(len(pcap) + 7, [pcap[:700], pcap[700:], b'']))
    # A window over the streaming decoder's limit (libzstd decodes it in one
    # pass when the output has room for it all).
    add('zstd-pcap-window-2g',
        subprocess.run(['zstd', '-q', '-c', '-3', '--long=31'], input=pcap,
                       stdout=subprocess.PIPE, check=True).stdout)

    # Seekable: several small frames.
    s, frames, chunks = seekable(pcap, 256)
    add('seekable-pcap-256', s)
    add('seekable-pcap-700-checksums', seekable(pcap, 700, checksums=True)[0])
    add('seekable-pcapng-512', seekable(pcapng, 512)[0])
    # What "pcapdex compress --frame-size 4K" writes (byte for byte) for a
    # pcap of a little over 8 KiB: the records again and again.
    add('seekable-pcap-4k', seekable(pcap[:24] + pcap[24:] * 6, 4096)[0])
    body = b''.join(frames)
    ents = [(len(f), len(c)) for f, c in zip(frames, chunks)]
    add('seekable-table-truncated', s[:-5])
    add('seekable-table-cut', s[:len(body) + 8 + 8 * (len(frames) // 2)])
    add('seekable-table-entry-missing',
        body + seek_table(ents[:2] + ents[3:], count=len(ents)))
    add('seekable-table-reserved-bits', body + seek_table(ents, desc=0x04))
    add('seekable-table-huge-count', body + seek_table(ents, count=0xFFFFFFFF))
    add('seekable-frame-corrupt', flip(s, len(frames[0]) + len(frames[1]) // 2))
    add('seekable-frame-bad-checksum', flip(s, len(frames[0]) + len(frames[1]) - 1))
    wrong = list(ents)
    wrong[1] = (ents[1][0], ents[1][1] + 1)
    add('seekable-wrong-raw-size', body + seek_table(wrong))
    wrong = list(ents)
    wrong[0], wrong[1] = (ents[0][0] + 3, ents[0][1]), (ents[1][0] - 3, ents[1][1])
    add('seekable-wrong-comp-sizes', body + seek_table(wrong))
    # Two frames per entry: still a valid table.
    pairs = [(ents[i][0] + (ents[i + 1][0] if i + 1 < len(ents) else 0),
              ents[i][1] + (ents[i + 1][1] if i + 1 < len(ents) else 0))
             for i in range(0, len(ents), 2)]
    add('seekable-two-frames-per-entry', body + seek_table(pairs))
    empty = zstd(b'')
    add('seekable-empty-frame',
        frames[0] + empty + frames[1] + seek_table([ents[0], (len(empty), 0), ents[1]]))
    add('seekable-no-frames', seek_table([]))
    add('seekable-garbage-in-empty-entry',
        frames[0] + b'\x01\x02\x03' + seek_table([ents[0], (3, 0)]))

    # gzip.
    g = gzip.compress(pcap, mtime=0)
    add('gzip-pcap', g)
    add('gzip-pcapng', gzip.compress(pcapng, mtime=0))
    add('gzip-pcap-two-members',
        gzip.compress(pcap[:half], mtime=0) + gzip.compress(pcap[half:], mtime=0))
    add('gzip-pcap-truncated', g[:-9])
    add('gzip-pcap-bad-crc', flip(g, len(g) - 6))
    add('gzip-pcap-corrupt-deflate', flip(g, len(g) // 2))
    add('gzip-pcap-trailing-zeros', g + bytes(16))
    add('gzip-then-zlib', gzip.compress(pcap[:half], mtime=0) + zlib.compress(pcap[half:]))
    # The smallest real gzip-compressed pcap and pcapng.
    gz = [r for r in rows if 'gzip' in r['format'] and int(r['bytes']) <= ZSTD_MAX]
    gz.sort(key=lambda r: (int(r['bytes']), r['path']))
    for ext in ('.pcap.gz', '.pcapng.gz'):
        for r in gz:
            if r['path'].endswith(ext):
                with open(os.path.join(corpus, r['path']), 'rb') as f:
                    add('gzip-' + short_name(r['path']), f.read())
                break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--corpus', default=os.path.join(os.path.dirname(TOP), 'shared', 'corpus'))
    ap.add_argument('--out', default=os.path.join(TOP, 'tests', 'fuzz', 'corpus'))
    ap.add_argument('targets', nargs='*', help='only these targets (default: all)')
    a = ap.parse_args()
    with open(os.path.join(a.corpus, 'catalog.tsv'), newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t', quoting=csv.QUOTE_NONE))
    for name, fn in (('pcap', lambda o: captures(a.corpus, rows, o, ('pcap', 'snoop'))),
                     ('pcapng', lambda o: captures(a.corpus, rows, o, ('pcapng',))),
                     ('decode', lambda o: frames(a.corpus, rows, o)),
                     ('query', queries),
                     ('offsets', offsets),
                     ('rollup', rollup),
                     ('zstd', lambda o: compressed(a.corpus, rows, o)),
                     ('flow', lambda o: flows(a.corpus, rows, o))):
        if a.targets and name not in a.targets:
            continue
        o = Out(os.path.join(a.out, name))
        fn(o)
        print('%-8s %5d files %8d bytes' % (name, len(o.names), o.total))
    return 0


if __name__ == '__main__':
    sys.exit(main())
