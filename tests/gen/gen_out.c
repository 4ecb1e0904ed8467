/* gen_out.c - the buffered pcap/pcapng writer and the flow truth TSV.
 *
 * Records are assembled in place in a 16 MiB buffer (the caller builds the
 * frame where pdx_gen_out_frame() points, then commits it) and leave in large
 * write(2) calls, so no packet costs a system call. */
#include "gen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_BUFSZ (16u * 1024u * 1024u)
#define SNAPLEN 262144u

static void out_need(pdx_gen_out *o, size_t n)
{
    if (o->cap - o->len >= n)
        return;
    pdx_gen_out_flush(o);
    if (o->cap < n) {
        o->buf = pdx_gen_xrealloc(o->buf, n);
        o->cap = n;
    }
}

void pdx_gen_out_raw(pdx_gen_out *o, const void *p, size_t n)
{
    out_need(o, n);
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->total += n;
}

void pdx_gen_out_sparse_blocks(pdx_gen_out *o, uint64_t n)
{
    while (n > 0) {
        /* A block's length is 32 bits: at most 2 GiB each. */
        uint32_t len = n > (UINT64_C(1) << 31) ? UINT32_C(1) << 31 : (uint32_t)n;
        uint8_t b[8];
        len = len < 12 ? 12 : len & ~UINT32_C(3);
        pdx_gen_le32(b, PDX_GEN_SPARSE_BLOCK);
        pdx_gen_le32(b + 4, len);
        pdx_gen_out_raw(o, b, 8);
        pdx_gen_out_flush(o);
        if (lseek(o->fd, (off_t)len - 12, SEEK_CUR) < 0)
            pdx_gen_die("%s: lseek: %s", o->path, strerror(errno));
        o->total += len - 12;
        pdx_gen_out_raw(o, b + 4, 4);
        n = n > len ? n - len : 0;
    }
}

static void put_idb(pdx_gen_out *o, uint32_t dlt, int nsec)
{
    uint8_t b[32];
    size_t n = nsec ? 32 : 20;
    pdx_gen_le32(b, 1);
    pdx_gen_le32(b + 4, (uint32_t)n);
    pdx_gen_le16(b + 8, (uint16_t)dlt);
    pdx_gen_le16(b + 10, 0);
    pdx_gen_le32(b + 12, SNAPLEN);
    if (nsec) {
        pdx_gen_le16(b + 16, 9); /* if_tsresol */
        pdx_gen_le16(b + 18, 1);
        b[20] = 9;
        b[21] = b[22] = b[23] = 0;
        pdx_gen_le32(b + 24, 0); /* opt_endofopt */
    }
    pdx_gen_le32(b + n - 4, (uint32_t)n);
    pdx_gen_out_raw(o, b, n);
}

void pdx_gen_out_open_raw(pdx_gen_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (o->fd < 0)
        pdx_gen_die("%s: %s", path, strerror(errno));
    o->path = pdx_gen_xmalloc(strlen(path) + 1);
    strcpy(o->path, path);
    o->cap = OUT_BUFSZ;
    o->buf = pdx_gen_xmalloc(o->cap);
}

void pdx_gen_out_open(pdx_gen_out *o, const char *path, int format, int nsec, uint32_t dlt)
{
    pdx_gen_out_open_raw(o, path);
    o->format = format;
    if (format == PDX_GEN_FMT_PCAP) {
        uint8_t h[24];
        pdx_gen_le32(h, nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
        pdx_gen_le16(h + 4, 2);
        pdx_gen_le16(h + 6, 4);
        pdx_gen_le32(h + 8, 0);
        pdx_gen_le32(h + 12, 0);
        pdx_gen_le32(h + 16, SNAPLEN);
        pdx_gen_le32(h + 20, dlt);
        pdx_gen_out_raw(o, h, sizeof h);
        o->n_if = 1;
        o->if_nsec[0] = (uint8_t)(nsec != 0);
    } else {
        static const char appl[8] = "pcapgen";
        uint8_t h[44];
        pdx_gen_le32(h, 0x0a0d0d0au);
        pdx_gen_le32(h + 4, sizeof h);
        pdx_gen_le32(h + 8, 0x1a2b3c4du);
        pdx_gen_le16(h + 12, 1);
        pdx_gen_le16(h + 14, 0);
        memset(h + 16, 0xff, 8); /* section length unknown */
        pdx_gen_le16(h + 24, 4); /* shb_userappl */
        pdx_gen_le16(h + 26, 7);
        memcpy(h + 28, appl, 8);
        pdx_gen_le32(h + 36, 0);
        pdx_gen_le32(h + 40, sizeof h);
        pdx_gen_out_raw(o, h, sizeof h);
        pdx_gen_out_add_iface(o, dlt, nsec);
    }
}

uint32_t pdx_gen_out_add_iface(pdx_gen_out *o, uint32_t dlt, int nsec)
{
    if (o->format != PDX_GEN_FMT_PCAPNG || o->n_if >= PDX_GEN_MAX_IFACES)
        pdx_gen_die("internal: cannot add an interface to %s", o->path);
    put_idb(o, dlt, nsec);
    o->if_nsec[o->n_if] = (uint8_t)(nsec != 0);
    return o->n_if++;
}

static size_t hdrlen(const pdx_gen_out *o) { return o->format == PDX_GEN_FMT_PCAP ? 16 : 28; }

size_t pdx_gen_out_recsize(const pdx_gen_out *o, size_t caplen)
{
    if (o->format == PDX_GEN_FMT_PCAP)
        return 16 + caplen;
    return 32 + ((caplen + 3) & ~(size_t)3);
}

uint8_t *pdx_gen_out_frame(pdx_gen_out *o, size_t maxlen)
{
    out_need(o, 32 + maxlen + 3);
    return o->buf + o->len + hdrlen(o);
}

int64_t pdx_gen_out_quant(const pdx_gen_out *o, uint32_t iface, int64_t ts_ns)
{
    if (iface < o->n_if && o->if_nsec[iface])
        return ts_ns;
    return ts_ns - ts_ns % 1000;
}

void pdx_gen_out_commit(pdx_gen_out *o, uint32_t iface, int64_t ts_ns, size_t caplen, size_t origlen)
{
    uint8_t *r = o->buf + o->len;
    size_t n = pdx_gen_out_recsize(o, caplen);
    int nsec = iface < o->n_if && o->if_nsec[iface];
    uint64_t ts = (uint64_t)ts_ns;
    if (o->format == PDX_GEN_FMT_PCAP) {
        pdx_gen_le32(r, (uint32_t)(ts / 1000000000u));
        pdx_gen_le32(r + 4, (uint32_t)(nsec ? ts % 1000000000u : ts % 1000000000u / 1000u));
        pdx_gen_le32(r + 8, (uint32_t)caplen);
        pdx_gen_le32(r + 12, (uint32_t)origlen);
    } else {
        uint64_t ticks = nsec ? ts : ts / 1000u;
        size_t pad = ((caplen + 3) & ~(size_t)3) - caplen;
        pdx_gen_le32(r, 6);
        pdx_gen_le32(r + 4, (uint32_t)n);
        pdx_gen_le32(r + 8, iface);
        pdx_gen_le32(r + 12, (uint32_t)(ticks >> 32));
        pdx_gen_le32(r + 16, (uint32_t)ticks);
        pdx_gen_le32(r + 20, (uint32_t)caplen);
        pdx_gen_le32(r + 24, (uint32_t)origlen);
        memset(r + 28 + caplen, 0, pad);
        pdx_gen_le32(r + n - 4, (uint32_t)n);
    }
    o->len += n;
    o->total += n;
    o->records++;
}

void pdx_gen_out_put(pdx_gen_out *o, uint32_t iface, int64_t ts_ns, const uint8_t *frame,
                     size_t caplen, size_t origlen)
{
    memcpy(pdx_gen_out_frame(o, caplen), frame, caplen);
    pdx_gen_out_commit(o, iface, ts_ns, caplen, origlen);
}

void pdx_gen_out_flush(pdx_gen_out *o)
{
    const uint8_t *p = o->buf;
    size_t n = o->len;
    while (n > 0) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            pdx_gen_die("%s: write: %s", o->path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    o->len = 0;
}

void pdx_gen_out_close(pdx_gen_out *o)
{
    pdx_gen_out_flush(o);
    if (close(o->fd) != 0)
        pdx_gen_die("%s: close: %s", o->path, strerror(errno));
    free(o->buf);
    free(o->path);
    o->buf = NULL;
    o->path = NULL;
    o->fd = -1;
}

void pdx_gen_truthset_push(pdx_gen_truthset *s, const pdx_gen_truth *t)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = pdx_gen_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = *t;
}

static int truth_cmp(const void *a, const void *b)
{
    const pdx_gen_truth *x = a, *y = b;
    if (x->first_ns != y->first_ns)
        return x->first_ns < y->first_ns ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return 0;
}

/* Decimal digits of v at p; returns the end.  (fprintf cost 1.4 us a line,
 * which dominated `dns --truth` with millions of flows.) */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static char *put_addr(char *p, const pdx_gen_addr *a)
{
    if (a->v6) {
        pdx_gen_addr_str(a, p);
        return p + strlen(p);
    }
    for (int i = 0; i < 4; i++) {
        if (i > 0)
            *p++ = '.';
        p = put_u64(p, a->a[i]);
    }
    return p;
}

void pdx_gen_truth_print(FILE *f, const pdx_gen_truth *t)
{
    char line[256], *p = line;
    p = put_u64(p, t->proto);
    *p++ = '\t';
    p = put_addr(p, &t->src);
    *p++ = '\t';
    p = put_u64(p, t->sport);
    *p++ = '\t';
    p = put_addr(p, &t->dst);
    *p++ = '\t';
    p = put_u64(p, t->dport);
    *p++ = '\t';
    p = put_u64(p, t->packets);
    *p++ = '\t';
    p = put_u64(p, t->bytes);
    *p++ = '\t';
    p = put_i64(p, t->first_ns);
    *p++ = '\t';
    p = put_i64(p, t->last_ns);
    *p++ = '\n';
    fwrite(line, 1, (size_t)(p - line), f);
}

void pdx_gen_truthset_write(pdx_gen_truthset *s, const char *path)
{
    FILE *f = pdx_gen_fopen(path);
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, truth_cmp);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].packets > 0)
            pdx_gen_truth_print(f, &s->v[i]);
    pdx_gen_fclose(f, path);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}
