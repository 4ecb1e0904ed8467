/*
 * reasm.c - per-direction payload reassembly of one flow (see reasm.h).
 *
 * TCP positions are 64-bit stream offsets: 0 is the byte at ISN+1.  A
 * sequence number is placed by its signed 32-bit distance from the next byte
 * expected, which unwraps 2^32 and needs no state but `next`.  Per direction:
 *
 *   [0, next)     decided: each byte is in the stream file or in a gap;
 *   held segments out-of-order data past next, sorted, never overlapping
 *                 (a later copy is trimmed against them: first seen wins);
 *   seen_hi       end of the data known to exist (declared lengths, so a
 *                 segment cut by snaplen still marks where it ended);
 *   end           FIN (or RST) position: nothing at or past it is written.
 *
 * Bytes already written are compared against the stream file itself (pread,
 * or the unflushed write buffer), so conflicts are found however old the
 * copy is, with no window of delivered bytes kept in memory.
 */
#include "reasm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cursor.h"
#include "pdx.h"

#define WBUF_SIZE (64u * 1024u)
#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u

typedef struct rseg {
    uint64_t off;
    size_t len;
    uint8_t *data;
} rseg;

/* A part of an incoming segment that is new: not written, held or gapped. */
typedef struct piece {
    uint64_t off;
    size_t len;
    const uint8_t *p;
} piece;

typedef struct rdir {
    int fd;
    char *path;
    uint8_t *wbuf;
    size_t wlen;
    uint64_t written; /* file bytes, including wbuf */
    pdx_reasm_stats st;
    pdx_reasm_gap *gaps;
    size_t gap_cap;
    /* TCP */
    uint32_t base;    /* sequence number of stream offset 0 (ISN+1) */
    uint64_t next;    /* stream offset of the next byte to write */
    uint64_t seen_hi; /* end of data known to exist */
    uint64_t end;     /* FIN/RST position, when has_end */
    int has_end;
    uint64_t fin_off;
    rseg *segs;       /* held: segs[head..n) */
    size_t head, n, seg_cap;
    piece *pieces;
    size_t piece_cap;
    /* other protocols: stream offset, counting gaps */
    uint64_t pos;
} rdir;

struct pdx_reasm {
    int64_t flow_id;
    int proto;
    char *json_path;
    uint64_t limit;
    int finished;
    int status; /* first error, sticky */
    rdir d[2];
};

/* ------------------------------------------------------------ stream files */

static int write_all(rdir *d, const uint8_t *p, size_t n, char *errbuf)
{
    while (n > 0) {
        ssize_t w = write(d->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return pdx_errf(errbuf, PDX_EIO, "%s: %s", d->path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_wbuf(rdir *d, char *errbuf)
{
    int rc = write_all(d, d->wbuf, d->wlen, errbuf);
    d->wlen = 0;
    return rc;
}

static int emit(rdir *d, const uint8_t *p, size_t n, char *errbuf)
{
    d->written += n;
    d->st.bytes += n;
    if (d->wlen + n > WBUF_SIZE) {
        int rc = flush_wbuf(d, errbuf);
        if (rc < 0)
            return rc;
        if (n >= WBUF_SIZE)
            return write_all(d, p, n, errbuf);
    }
    memcpy(d->wbuf + d->wlen, p, n);
    d->wlen += n;
    return 0;
}

/* Counts the bytes of p that differ from the stream file at file offset fo. */
static int diff_file(rdir *d, uint64_t fo, const uint8_t *p, size_t n, uint64_t *ndiff,
                     char *errbuf)
{
    uint64_t flushed = d->written - d->wlen;
    uint8_t buf[4096];
    while (n > 0) {
        size_t k;
        const uint8_t *q;
        if (fo >= flushed) {
            k = n;
            q = d->wbuf + (fo - flushed);
        } else {
            ssize_t got;
            k = (size_t)PDX_MIN((uint64_t)PDX_MIN(n, sizeof(buf)), flushed - fo);
            do
                got = pread(d->fd, buf, k, (off_t)fo);
            while (got < 0 && errno == EINTR);
            if (got < 0)
                return pdx_errf(errbuf, PDX_EIO, "%s: %s", d->path, strerror(errno));
            if ((size_t)got != k)
                return pdx_errf(errbuf, PDX_EIO, "%s: shorter than written", d->path);
            q = buf;
        }
        for (size_t i = 0; i < k; i++)
            *ndiff += q[i] != p[i];
        fo += k;
        p += k;
        n -= k;
    }
    return 0;
}

/* ------------------------------------------------------------------- gaps */

static int add_gap(rdir *d, uint64_t off, uint64_t len)
{
    pdx_reasm_gap *g;
    if (len == 0)
        return 0;
    d->st.gap_bytes += len;
    if (d->st.ngaps > 0) {
        g = &d->gaps[d->st.ngaps - 1];
        if (g->offset + g->length == off && g->file_offset == d->written) {
            g->length += len;
            return 0;
        }
    }
    if (d->st.ngaps == d->gap_cap) {
        size_t cap = d->gap_cap ? 2 * d->gap_cap : 8;
        g = realloc(d->gaps, cap * sizeof(*g));
        if (g == NULL)
            return PDX_ENOMEM;
        d->gaps = g;
        d->gap_cap = cap;
    }
    g = &d->gaps[d->st.ngaps++];
    g->offset = off;
    g->length = len;
    g->file_offset = d->written;
    d->st.gaps = d->gaps;
    return 0;
}

/* Index of the first gap that ends after x. */
static size_t gap_after(const rdir *d, uint64_t x)
{
    size_t lo = 0, hi = d->st.ngaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->gaps[mid].offset + d->gaps[mid].length <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Compares the copy p of decided bytes [a, b) (b <= next) with what was
 * written; bytes that fall in gaps are dropped.  Adds the compared bytes to
 * *dup.
 */
static int check_decided(rdir *d, uint64_t a, uint64_t b, const uint8_t *p, uint64_t *dup,
                         char *errbuf)
{
    while (a < b) {
        size_t i = gap_after(d, a);
        uint64_t lim = b, fo = a;
        if (i < d->st.ngaps && d->gaps[i].offset <= a) {
            uint64_t n = PDX_MIN(b, d->gaps[i].offset + d->gaps[i].length) - a;
            d->st.dropped_bytes += n;
            p += n;
            a += n;
            continue;
        }
        if (i < d->st.ngaps)
            lim = PDX_MIN(b, d->gaps[i].offset);
        if (i > 0) {
            const pdx_reasm_gap *g = &d->gaps[i - 1];
            fo = g->file_offset + (a - g->offset - g->length);
        }
        int rc = diff_file(d, fo, p, (size_t)(lim - a), &d->st.overlap_conflict_bytes, errbuf);
        if (rc < 0)
            return rc;
        *dup += lim - a;
        p += lim - a;
        a = lim;
    }
    return 0;
}

/* ----------------------------------------------------------- held segments */

static uint64_t seg_cost(size_t len)
{
    return (uint64_t)len + PDX_REASM_SEG_COST;
}

/* Index of the first held segment that ends after x. */
static size_t seg_after(const rdir *d, uint64_t x)
{
    size_t lo = d->head, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->segs[mid].off + d->segs[mid].len <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void drop_front(rdir *d)
{
    rseg *s = &d->segs[d->head];
    d->st.buffered -= seg_cost(s->len);
    free(s->data);
    d->head++;
    if (d->head == d->n)
        d->head = d->n = 0;
}

/* Writes the held segments that now start at next. */
static int drain(rdir *d, char *errbuf)
{
    while (d->head < d->n && d->segs[d->head].off == d->next) {
        rseg *s = &d->segs[d->head];
        int rc = emit(d, s->data, s->len, errbuf);
        if (rc < 0)
            return rc;
        d->next += s->len;
        drop_front(d);
    }
    return 0;
}

/* Declares [next, to) a gap and writes whatever held data then follows. */
static int skip_to(rdir *d, uint64_t to, char *errbuf)
{
    if (to > d->next) {
        if (add_gap(d, d->next, to - d->next) < 0)
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        d->next = to;
    }
    return drain(d, errbuf);
}

static int hold(rdir *d, const piece *pc, char *errbuf)
{
    size_t at = seg_after(d, pc->off);
    uint8_t *copy;
    if (d->n == d->seg_cap) {
        if (d->head > 0) {
            memmove(d->segs, d->segs + d->head, (d->n - d->head) * sizeof(*d->segs));
            d->n -= d->head;
            at -= d->head;
            d->head = 0;
        } else {
            size_t cap = d->seg_cap ? 2 * d->seg_cap : 16;
            rseg *s = realloc(d->segs, cap * sizeof(*s));
            if (s == NULL)
                return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
            d->segs = s;
            d->seg_cap = cap;
        }
    }
    copy = malloc(pc->len);
    if (copy == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    memcpy(copy, pc->p, pc->len);
    memmove(d->segs + at + 1, d->segs + at, (d->n - at) * sizeof(*d->segs));
    d->segs[at].off = pc->off;
    d->segs[at].len = pc->len;
    d->segs[at].data = copy;
    d->n++;
    d->st.buffered += seg_cost(pc->len);
    return 0;
}

/* Places one new piece: written now, held, or (over the cap) written after a gap. */
static int place(rdir *d, uint64_t limit, const piece *pc, char *errbuf)
{
    int rc;
    if (pc->off < d->next) /* cannot happen: pieces are holes past next */
        return 0;
    while (pc->off > d->next && d->st.buffered + seg_cost(pc->len) > limit) {
        if (d->head == d->n || pc->off < d->segs[d->head].off)
            break;
        rc = skip_to(d, d->segs[d->head].off, errbuf);
        if (rc < 0)
            return rc;
    }
    if (pc->off > d->next && d->st.buffered + seg_cost(pc->len) <= limit)
        return hold(d, pc, errbuf);
    if ((rc = skip_to(d, pc->off, errbuf)) < 0)
        return rc;
    if ((rc = emit(d, pc->p, pc->len, errbuf)) < 0)
        return rc;
    d->next += pc->len;
    return drain(d, errbuf);
}

/* Drops held data at or past end (after a FIN/RST placed it). */
static void trim_held(rdir *d)
{
    while (d->n > d->head) {
        rseg *s = &d->segs[d->n - 1];
        if (s->off + s->len <= d->end)
            break;
        if (s->off >= d->end) {
            d->st.after_close_bytes += s->len;
            d->st.buffered -= seg_cost(s->len);
            free(s->data);
            d->n--;
        } else {
            size_t keep = (size_t)(d->end - s->off);
            d->st.after_close_bytes += s->len - keep;
            d->st.buffered -= s->len - keep;
            s->len = keep;
        }
    }
    if (d->head == d->n)
        d->head = d->n = 0;
}

static void set_end(rdir *d, uint64_t at)
{
    at = PDX_MAX(at, d->next);
    if (!d->has_end || at < d->end) {
        d->end = at;
        d->has_end = 1;
        trim_held(d);
    }
}

/* ------------------------------------------------------------------ input */

/*
 * The payload length the headers declare, when snaplen cut the frame: the
 * end of the innermost IP packet (or UDP datagram) minus where the payload
 * starts.  *start gets that start, which for TCP is after the full header
 * even when the header itself was cut.  Returns at least have.
 */
static uint64_t declared_len(const pdx_pkt *pkt, const uint8_t *frame, size_t caplen,
                             uint64_t have, uint64_t *start)
{
    pdx_cur c;
    uint64_t ip_end, end;

    *start = pkt->payload_off;
    if (pkt->payload_len > have)
        return pkt->payload_len;
    if (!(pkt->flags & PDX_PKT_TRUNCATED) || pkt->l3_off >= caplen)
        return have;
    c = pdx_cur_make(frame + pkt->l3_off, caplen - pkt->l3_off);
    if (pkt->kind == PDX_KIND_IP4) {
        uint16_t tot;
        pdx_cur_skip(&c, 2);
        tot = pdx_cur_be16(&c);
        if (c.err || tot == 0)
            return have;
        ip_end = (uint64_t)pkt->l3_off + tot;
    } else if (pkt->kind == PDX_KIND_IP6) {
        uint16_t plen;
        pdx_cur_skip(&c, 4);
        plen = pdx_cur_be16(&c);
        if (c.err || plen == 0)
            return have;
        ip_end = (uint64_t)pkt->l3_off + 40 + plen;
    } else {
        return have;
    }
    end = ip_end;
    if ((pkt->flags & PDX_PKT_HAS_L4) && !(pkt->flags & PDX_PKT_FRAGMENT) &&
        pkt->l4_off < caplen) {
        c = pdx_cur_make(frame + pkt->l4_off, caplen - pkt->l4_off);
        if (pkt->proto == 6) {
            unsigned hl;
            pdx_cur_skip(&c, 12);
            hl = (unsigned)(pdx_cur_u8(&c) >> 4) * 4;
            if (c.err || hl < 20)
                return have;
            *start = (uint64_t)pkt->l4_off + hl;
        } else if (pkt->proto == 17) {
            uint16_t ulen;
            pdx_cur_skip(&c, 4);
            ulen = pdx_cur_be16(&c);
            if (!c.err && ulen >= 8)
                end = PDX_MIN(end, (uint64_t)pkt->l4_off + ulen);
        }
    }
    if (end <= *start + have)
        return have;
    return end - *start;
}

/* The payload bytes captured: what payload_off/payload_len say, within caplen. */
static size_t captured(const pdx_pkt *pkt, size_t caplen)
{
    if (pkt->payload_off >= caplen)
        return 0;
    return PDX_MIN((size_t)pkt->payload_len, caplen - pkt->payload_off);
}

static int other_packet(rdir *d, const pdx_pkt *pkt, const uint8_t *frame, size_t caplen,
                        char *errbuf)
{
    size_t have = captured(pkt, caplen);
    uint64_t start, decl = declared_len(pkt, frame, caplen, have, &start);
    int rc;
    if (have > 0 && (rc = emit(d, frame + pkt->payload_off, have, errbuf)) < 0)
        return rc;
    d->pos += have;
    if (decl > have) {
        if (add_gap(d, d->pos, decl - have) < 0)
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        d->pos += decl - have;
    }
    return 0;
}

static int want_pieces(rdir *d, size_t n, char *errbuf)
{
    piece *p;
    size_t cap;
    if (n <= d->piece_cap)
        return 0;
    cap = PDX_MAX(n, 2 * d->piece_cap);
    p = realloc(d->pieces, cap * sizeof(*p));
    if (p == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    d->pieces = p;
    d->piece_cap = cap;
    return 0;
}

/* Data p of stream range [s, s + len), s possibly negative (before ISN+1). */
static int tcp_data(rdir *d, uint64_t limit, int64_t s, const uint8_t *p, size_t len,
                    char *errbuf)
{
    uint64_t a, b, dup = 0;
    size_t np = 0;
    int rc;

    if (s < 0) {
        uint64_t before = PDX_MIN((uint64_t)-s, (uint64_t)len);
        d->st.dropped_bytes += before;
        p += before;
        len -= (size_t)before;
        s = 0;
    }
    a = (uint64_t)s;
    b = a + len;
    if (d->has_end && b > d->end) {
        uint64_t past = b - PDX_MAX(a, d->end);
        d->st.after_close_bytes += past;
        b -= past;
    }
    if (b <= a)
        return 0;

    /* Decided bytes: compare with the file. */
    if (a < d->next) {
        uint64_t m = PDX_MIN(b, d->next);
        if ((rc = check_decided(d, a, m, p, &dup, errbuf)) < 0)
            return rc;
        p += m - a;
        a = m;
    }
    /* Past next: holes become pieces, held bytes are compared. */
    if (a < b) {
        size_t i = seg_after(d, a);
        if ((rc = want_pieces(d, d->n - i + 1, errbuf)) < 0)
            return rc;
        for (uint64_t x = a; x < b;) {
            const rseg *h = i < d->n ? &d->segs[i] : NULL;
            if (h == NULL || h->off >= b) {
                d->pieces[np++] = (piece){x, (size_t)(b - x), p + (x - a)};
                break;
            }
            if (x < h->off) {
                d->pieces[np++] = (piece){x, (size_t)(h->off - x), p + (x - a)};
                x = h->off;
            }
            uint64_t e = PDX_MIN(b, h->off + h->len);
            const uint8_t *q = h->data + (x - h->off), *r = p + (x - a);
            for (uint64_t k = 0; k < e - x; k++)
                d->st.overlap_conflict_bytes += q[k] != r[k];
            dup += e - x;
            x = e;
            i++;
        }
    }
    if (np == 0) {
        d->st.retransmitted_bytes += dup;
        return 0;
    }
    d->st.overlap_bytes += dup;
    if (d->pieces[0].off < d->seen_hi)
        d->st.out_of_order_packets++;
    for (size_t k = 0; k < np; k++)
        if ((rc = place(d, limit, &d->pieces[k], errbuf)) < 0)
            return rc;
    return 0;
}

static int tcp_packet(pdx_reasm *r, rdir *d, const pdx_pkt *pkt, const uint8_t *frame,
                      size_t caplen, char *errbuf)
{
    uint8_t fl = pkt->tcp_flags;
    size_t have;
    uint64_t start, decl;
    int64_t s;
    int rc;

    if (pkt->proto != 6 || !(pkt->flags & PDX_PKT_HAS_L4) ||
        (uint64_t)pkt->l4_off + 20 > caplen) {
        d->st.undecoded_packets++;
        return 0;
    }
    if (!d->st.have_isn) {
        if (fl & TCP_RST) { /* its sequence number may be anything */
            d->st.rst = 1;
            return 0;
        }
        d->st.have_isn = 1;
        d->st.syn = (fl & TCP_SYN) != 0;
        d->st.isn = d->st.syn ? pkt->tcp_seq : pkt->tcp_seq - 1;
        d->base = d->st.isn + 1;
    }
    s = (int64_t)d->next + (int32_t)(pkt->tcp_seq - (d->base + (uint32_t)d->next));
    if (fl & TCP_SYN)
        s++;
    have = captured(pkt, caplen);
    decl = declared_len(pkt, frame, caplen, have, &start);
    if (start != pkt->payload_off) /* the TCP header itself was cut */
        have = 0;

    if (fl & TCP_FIN) {
        if (!d->st.fin) {
            d->fin_off = (uint64_t)PDX_MAX(s + (int64_t)decl, 0);
            set_end(d, d->fin_off);
        }
        d->st.fin = 1;
    }
    /* A keep-alive probe repeats the byte before next with junk: not data. */
    if (have == 1 && s == (int64_t)d->next - 1 && !(fl & (TCP_SYN | TCP_FIN | TCP_RST)))
        have = 0;
    if (have > 0 && (rc = tcp_data(d, r->limit, s, frame + pkt->payload_off, have, errbuf)) < 0)
        return rc;
    if (decl > 0 && s + (int64_t)decl > 0) {
        uint64_t e = (uint64_t)(s + (int64_t)decl);
        if (d->has_end)
            e = PDX_MIN(e, d->end);
        d->seen_hi = PDX_MAX(d->seen_hi, e);
    }
    if (fl & TCP_RST) {
        d->st.rst = 1;
        set_end(d, (uint64_t)PDX_MAX(s + (int64_t)decl, 0));
    }
    return 0;
}

int pdx_reasm_packet(pdx_reasm *r, int dir, const pdx_pkt *pkt, const uint8_t *frame,
                     size_t caplen, int64_t ts_ns, char *errbuf)
{
    rdir *d;
    int rc;
    if (r == NULL || pkt == NULL || (frame == NULL && caplen > 0) || (dir != 0 && dir != 1))
        return pdx_errf(errbuf, PDX_EUSAGE, "reasm: bad argument");
    if (r->finished)
        return pdx_errf(errbuf, PDX_EUSAGE, "reasm: packet after finish");
    if (r->status < 0)
        return pdx_errf(errbuf, r->status, "reasm: packet after an error");
    d = &r->d[dir];
    if (d->st.packets == 0 || ts_ns < d->st.first_ns)
        d->st.first_ns = ts_ns;
    if (d->st.packets == 0 || ts_ns > d->st.last_ns)
        d->st.last_ns = ts_ns;
    d->st.packets++;
    if (r->proto == 6)
        rc = tcp_packet(r, d, pkt, frame, caplen, errbuf);
    else
        rc = other_packet(d, pkt, frame, caplen, errbuf);
    if (rc < 0)
        r->status = rc;
    return rc;
}

/* ------------------------------------------------------------ open, close */

static char *path_of(const char *dir, int64_t id, const char *ext)
{
    size_t n = strlen(dir) + 32;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%" PRId64 ".%s", dir, id, ext);
    return p;
}

static void free_dir(rdir *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    for (size_t i = d->head; i < d->n; i++)
        free(d->segs[i].data);
    free(d->segs);
    free(d->pieces);
    free(d->gaps);
    free(d->wbuf);
    free(d->path);
}

int pdx_reasm_open(pdx_reasm **out, const char *dir, int64_t flow_id, int proto, char *errbuf)
{
    static const char *const ext[2] = {"c2s", "s2c"};
    pdx_reasm *r;
    int rc = 0;

    if (out == NULL || dir == NULL)
        return pdx_errf(errbuf, PDX_EUSAGE, "reasm: bad argument");
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    r->flow_id = flow_id;
    r->proto = proto;
    r->limit = PDX_REASM_DEFAULT_LIMIT;
    r->d[0].fd = r->d[1].fd = -1;
    r->json_path = path_of(dir, flow_id, "json");
    if (r->json_path == NULL)
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    for (int k = 0; k < 2 && rc == 0; k++) {
        rdir *d = &r->d[k];
        d->path = path_of(dir, flow_id, ext[k]);
        d->wbuf = malloc(WBUF_SIZE);
        if (d->path == NULL || d->wbuf == NULL) {
            rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
            break;
        }
        d->fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (d->fd < 0)
            rc = pdx_errf(errbuf, PDX_EIO, "%s: %s", d->path, strerror(errno));
    }
    if (rc < 0) {
        free_dir(&r->d[0]);
        free_dir(&r->d[1]);
        free(r->json_path);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void pdx_reasm_set_limit(pdx_reasm *r, uint64_t limit)
{
    if (r != NULL)
        r->limit = limit;
}

const pdx_reasm_stats *pdx_reasm_get_stats(const pdx_reasm *r, int dir)
{
    if (r == NULL || (dir != 0 && dir != 1))
        return NULL;
    return &r->d[dir].st;
}

/* TCP: every hole left becomes a gap, held data is written after it. */
static int tcp_finish(rdir *d, char *errbuf)
{
    uint64_t hi = d->seen_hi;
    int rc;
    while (d->head < d->n)
        if ((rc = skip_to(d, d->segs[d->head].off, errbuf)) < 0)
            return rc;
    if (d->st.fin)
        hi = PDX_MAX(hi, d->fin_off);
    if (d->has_end)
        hi = PDX_MIN(hi, d->end);
    return skip_to(d, hi, errbuf);
}

static const char *proto_name(int proto)
{
    switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 47: return "gre";
    case 50: return "esp";
    case 58: return "icmpv6";
    case 132: return "sctp";
    case 136: return "udplite";
    default: return NULL;
    }
}

static void json_dir(FILE *f, const char *name, const pdx_reasm_stats *s, int tcp)
{
    fprintf(f, "\"%s\":{\"bytes\":%" PRIu64 ",\"packets\":%" PRIu64, name, s->bytes, s->packets);
    if (s->packets > 0)
        fprintf(f, ",\"first_ns\":%" PRId64 ",\"last_ns\":%" PRId64, s->first_ns, s->last_ns);
    else
        fputs(",\"first_ns\":null,\"last_ns\":null", f);
    fputs(",\"gaps\":[", f);
    for (size_t i = 0; i < s->ngaps; i++)
        fprintf(f, "%s{\"offset\":%" PRIu64 ",\"length\":%" PRIu64 ",\"file_offset\":%" PRIu64 "}",
                i ? "," : "", s->gaps[i].offset, s->gaps[i].length, s->gaps[i].file_offset);
    fprintf(f, "],\"gap_bytes\":%" PRIu64, s->gap_bytes);
    if (tcp) {
        if (s->have_isn)
            fprintf(f, ",\"isn\":%" PRIu32, s->isn);
        else
            fputs(",\"isn\":null", f);
        fprintf(f,
                ",\"syn\":%s,\"fin\":%s,\"rst\":%s,\"retransmitted_bytes\":%" PRIu64
                ",\"overlap_bytes\":%" PRIu64 ",\"overlap_conflict_bytes\":%" PRIu64
                ",\"out_of_order_packets\":%" PRIu64 ",\"after_close_bytes\":%" PRIu64
                ",\"dropped_bytes\":%" PRIu64 ",\"undecoded_packets\":%" PRIu64,
                s->syn ? "true" : "false", s->fin ? "true" : "false", s->rst ? "true" : "false",
                s->retransmitted_bytes, s->overlap_bytes, s->overlap_conflict_bytes,
                s->out_of_order_packets, s->after_close_bytes, s->dropped_bytes,
                s->undecoded_packets);
    }
    fputc('}', f);
}

static int write_json(pdx_reasm *r, char *errbuf)
{
    const char *name = proto_name(r->proto);
    FILE *f = fopen(r->json_path, "w");
    int bad;
    if (f == NULL)
        return pdx_errf(errbuf, PDX_EIO, "%s: %s", r->json_path, strerror(errno));
    fprintf(f, "{\"flow\":%" PRId64 ",", r->flow_id);
    if (name != NULL)
        fprintf(f, "\"proto\":\"%s\"", name);
    else
        fprintf(f, "\"proto\":\"%d\"", r->proto);
    fprintf(f, ",\"ipproto\":%d,\n", r->proto);
    json_dir(f, "c2s", &r->d[0].st, r->proto == 6);
    fputs(",\n", f);
    json_dir(f, "s2c", &r->d[1].st, r->proto == 6);
    fputs("}\n", f);
    bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return pdx_errf(errbuf, PDX_EIO, "%s: write failed", r->json_path);
    return 0;
}

int pdx_reasm_finish(pdx_reasm *r, char *errbuf)
{
    int rc = 0;
    if (r == NULL)
        return pdx_errf(errbuf, PDX_EUSAGE, "reasm: bad argument");
    if (r->finished)
        return r->status;
    r->finished = 1;
    if (r->status < 0) {
        rc = pdx_errf(errbuf, r->status, "reasm: finish after an error");
    }
    for (int k = 0; k < 2; k++) {
        rdir *d = &r->d[k];
        if (rc == 0 && r->proto == 6)
            rc = tcp_finish(d, errbuf);
        if (rc == 0)
            rc = flush_wbuf(d, errbuf);
        if (d->fd >= 0 && close(d->fd) != 0 && rc == 0)
            rc = pdx_errf(errbuf, PDX_EIO, "%s: %s", d->path, strerror(errno));
        d->fd = -1;
    }
    if (rc == 0)
        rc = write_json(r, errbuf);
    r->status = rc;
    return rc;
}

static void reasm_free(pdx_reasm *r)
{
    free_dir(&r->d[0]);
    free_dir(&r->d[1]);
    free(r->json_path);
    free(r);
}

void pdx_reasm_discard(pdx_reasm *r)
{
    if (r == NULL)
        return;
    for (int k = 0; k < 2; k++)
        if (r->d[k].path != NULL)
            unlink(r->d[k].path);
    if (r->json_path != NULL)
        unlink(r->json_path); /* an earlier run's, which would describe streams now gone */
    reasm_free(r);
}

int pdx_reasm_close(pdx_reasm *r, char *errbuf)
{
    int rc = 0;
    if (r == NULL)
        return 0;
    if (!r->finished)
        rc = pdx_reasm_finish(r, errbuf);
    reasm_free(r);
    return rc;
}
