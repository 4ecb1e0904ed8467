/*
 * test_capture.c - unit tests of the capture reader (lib/capture.c) over tiny
 * captures built in memory: pcap in both byte orders, nsec, 24-byte record
 * headers, pre-2.4 swapped lengths; pcapng with several sections, interfaces,
 * resolutions, SPB, PB and unknown blocks; snoop; every kind of damage; the
 * byte-source path with reads of 1-7 bytes; records that straddle the read
 * buffer; pdx_record_parse_at() round trips.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "unit.h"

/* ------------------------------------------------------------------------ */
/* Byte builder                                                             */

typedef struct bb {
    uint8_t *p;
    size_t n, cap;
    int be;
} bb;

static void bb_reserve(bb *b, size_t k)
{
    if (b->n + k > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + k)
            ncap *= 2;
        b->p = realloc(b->p, ncap);
        CHECK(b->p != NULL);
        b->cap = ncap;
    }
}

static void bb_u8(bb *b, uint8_t v)
{
    bb_reserve(b, 1);
    b->p[b->n++] = v;
}

static void bb_u16(bb *b, uint16_t v)
{
    if (b->be) {
        bb_u8(b, (uint8_t)(v >> 8));
        bb_u8(b, (uint8_t)v);
    } else {
        bb_u8(b, (uint8_t)v);
        bb_u8(b, (uint8_t)(v >> 8));
    }
}

static void bb_u32(bb *b, uint32_t v)
{
    if (b->be) {
        bb_u16(b, (uint16_t)(v >> 16));
        bb_u16(b, (uint16_t)v);
    } else {
        bb_u16(b, (uint16_t)v);
        bb_u16(b, (uint16_t)(v >> 16));
    }
}

static void bb_u64(bb *b, uint64_t v)
{
    if (b->be) {
        bb_u32(b, (uint32_t)(v >> 32));
        bb_u32(b, (uint32_t)v);
    } else {
        bb_u32(b, (uint32_t)v);
        bb_u32(b, (uint32_t)(v >> 32));
    }
}

static void bb_bytes(bb *b, const void *p, size_t k)
{
    if (k == 0)
        return;
    bb_reserve(b, k);
    memcpy(b->p + b->n, p, k);
    b->n += k;
}

/* k bytes of a pattern that depends on seed, so data can be checked */
static void bb_data(bb *b, size_t k, unsigned seed)
{
    bb_reserve(b, k);
    for (size_t i = 0; i < k; i++)
        b->p[b->n++] = (uint8_t)(i * 7 + seed);
}

static void bb_put32_at(bb *b, size_t at, uint32_t v)
{
    if (b->be) {
        b->p[at] = (uint8_t)(v >> 24);
        b->p[at + 1] = (uint8_t)(v >> 16);
        b->p[at + 2] = (uint8_t)(v >> 8);
        b->p[at + 3] = (uint8_t)v;
    } else {
        b->p[at] = (uint8_t)v;
        b->p[at + 1] = (uint8_t)(v >> 8);
        b->p[at + 2] = (uint8_t)(v >> 16);
        b->p[at + 3] = (uint8_t)(v >> 24);
    }
}

static int data_ok(const uint8_t *p, size_t k, unsigned seed)
{
    for (size_t i = 0; i < k; i++)
        if (p[i] != (uint8_t)(i * 7 + seed))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Capture builders                                                         */

static void pcap_hdr(bb *b, uint32_t magic, uint16_t major, uint16_t minor, uint32_t snaplen,
                     uint32_t linkfield)
{
    bb_u32(b, magic);
    bb_u16(b, major);
    bb_u16(b, minor);
    bb_u32(b, 0); /* thiszone */
    bb_u32(b, 0); /* sigfigs */
    bb_u32(b, snaplen);
    bb_u32(b, linkfield);
}

/* A record whose header says f_caplen, f_len (as stored) with k data bytes. */
static void pcap_rec(bb *b, uint32_t sec, uint32_t frac, uint32_t f_caplen, uint32_t f_len,
                     size_t k, unsigned seed, int hdr24)
{
    bb_u32(b, sec);
    bb_u32(b, frac);
    bb_u32(b, f_caplen);
    bb_u32(b, f_len);
    if (hdr24) {
        bb_u32(b, 3);  /* ifindex */
        bb_u16(b, 8);  /* protocol */
        bb_u8(b, 0);   /* pkt_type */
        bb_u8(b, 0);   /* pad */
    }
    bb_data(b, k, seed);
}

static size_t ng_begin(bb *b, uint32_t type)
{
    size_t at = b->n;
    bb_u32(b, type);
    bb_u32(b, 0);
    return at;
}

static void ng_end(bb *b, size_t at)
{
    uint32_t len;
    while ((b->n - at) % 4 != 0)
        bb_u8(b, 0);
    len = (uint32_t)(b->n - at + 4);
    bb_u32(b, len);
    bb_put32_at(b, at + 4, len);
}

static void ng_opt(bb *b, uint16_t code, const void *v, uint16_t len)
{
    bb_u16(b, code);
    bb_u16(b, len);
    bb_bytes(b, v, len);
    while (len % 4 != 0) {
        bb_u8(b, 0);
        len++;
    }
}

static void ng_shb(bb *b, uint16_t major, uint16_t minor)
{
    size_t at = ng_begin(b, 0x0A0D0D0Au);
    bb_u32(b, 0x1A2B3C4Du);
    bb_u16(b, major);
    bb_u16(b, minor);
    bb_u64(b, UINT64_MAX); /* section length unknown */
    ng_end(b, at);
}

/* tsresol < 0: no option; has_off: write if_tsoffset */
static void ng_idb(bb *b, uint16_t linktype, uint32_t snaplen, int tsresol, int has_off,
                   int64_t tsoffset, const char *name)
{
    size_t at = ng_begin(b, 1);
    bb_u16(b, linktype);
    bb_u16(b, 0);
    bb_u32(b, snaplen);
    if (name != NULL)
        ng_opt(b, 2, name, (uint16_t)strlen(name));
    if (tsresol >= 0) {
        uint8_t r = (uint8_t)tsresol;
        ng_opt(b, 9, &r, 1);
    }
    if (has_off) {
        bb tmp = {0};
        tmp.be = b->be;
        bb_u64(&tmp, (uint64_t)tsoffset);
        ng_opt(b, 14, tmp.p, 8);
        free(tmp.p);
    }
    if (name != NULL || tsresol >= 0 || has_off)
        ng_opt(b, 0, NULL, 0);
    ng_end(b, at);
}

static void ng_epb(bb *b, uint32_t ifid, uint64_t ticks, uint32_t caplen, uint32_t origlen,
                   unsigned seed)
{
    size_t at = ng_begin(b, 6);
    bb_u32(b, ifid);
    bb_u32(b, (uint32_t)(ticks >> 32));
    bb_u32(b, (uint32_t)ticks);
    bb_u32(b, caplen);
    bb_u32(b, origlen);
    bb_data(b, caplen, seed);
    ng_end(b, at);
}

static void ng_pb(bb *b, uint16_t ifid, uint64_t ticks, uint32_t caplen, uint32_t origlen,
                  unsigned seed)
{
    size_t at = ng_begin(b, 2);
    bb_u16(b, ifid);
    bb_u16(b, 0); /* drops */
    bb_u32(b, (uint32_t)(ticks >> 32));
    bb_u32(b, (uint32_t)ticks);
    bb_u32(b, caplen);
    bb_u32(b, origlen);
    bb_data(b, caplen, seed);
    ng_end(b, at);
}

static void ng_spb(bb *b, uint32_t origlen, uint32_t datalen, unsigned seed)
{
    size_t at = ng_begin(b, 3);
    bb_u32(b, origlen);
    bb_data(b, datalen, seed);
    ng_end(b, at);
}

static void ng_other(bb *b, uint32_t type, size_t bodylen)
{
    size_t at = ng_begin(b, type);
    bb_data(b, bodylen, 1);
    ng_end(b, at);
}

/* ------------------------------------------------------------------------ */
/* Walking                                                                  */

#define MAXREC 64

typedef struct walk {
    pdx_record r[MAXREC];
    uint32_t sum[MAXREC]; /* data checksums (data is only valid until next) */
    size_t n;
    int rc;                 /* last pdx_capture_next() status: 0 or < 0 */
    char err[PDX_ERRBUF_SIZE];
    pdx_capstats st;
    pdx_capinfo info;       /* shallow copy; tables valid while c is open */
    uint64_t tell;
} walk;

static uint32_t sum32(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void walk_all(pdx_capture *c, walk *w)
{
    pdx_record rec;
    int rc;
    memset(w, 0, sizeof(*w));
    while ((rc = pdx_capture_next(c, &rec, w->err)) == 1) {
        CHECK(w->n < MAXREC);
        w->r[w->n] = rec;
        w->sum[w->n] = sum32(rec.data, rec.caplen);
        w->n++;
    }
    w->rc = rc;
    w->st = *pdx_capture_stats(c);
    w->info = *pdx_capture_info(c);
    w->tell = pdx_capture_tell(c);
}

/* Opens b in memory and walks it; returns the reader (caller closes). */
static pdx_capture *walk_mem(const bb *b, walk *w)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_capture *c = NULL;
    int rc = pdx_capture_open_mem(&c, b->p, b->n, err);
    if (rc != 0)
        PDX_FAIL_("open_mem: %d %s", rc, err);
    walk_all(c, w);
    return c;
}

/* A byte source over memory that returns 1..maxchunk bytes per read. */
typedef struct chunky {
    const uint8_t *p;
    size_t n, pos;
    unsigned seed;
    size_t maxchunk;
    int skips;
} chunky;

static ssize_t chunky_read(void *ctx, void *buf, size_t n)
{
    chunky *k = ctx;
    size_t want;
    k->seed = k->seed * 1103515245u + 12345u;
    want = 1 + (k->seed >> 16) % k->maxchunk;
    if (want > n)
        want = n;
    if (want > k->n - k->pos)
        want = k->n - k->pos;
    memcpy(buf, k->p + k->pos, want);
    k->pos += want;
    return (ssize_t)want;
}

static int chunky_skip(void *ctx, uint64_t n)
{
    chunky *k = ctx;
    k->skips++;
    k->pos = n > k->n - k->pos ? k->n : k->pos + (size_t)n;
    return 0;
}

static pdx_capture *walk_source(const bb *b, size_t maxchunk, int with_skip, walk *w, chunky *k)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_capture *c = NULL;
    pdx_source src = {0};
    int rc;
    memset(k, 0, sizeof(*k));
    k->p = b->p;
    k->n = b->n;
    k->seed = 42;
    k->maxchunk = maxchunk;
    src.ctx = k;
    src.read = chunky_read;
    src.skip = with_skip ? chunky_skip : NULL;
    rc = pdx_capture_open_source(&c, &src, err);
    if (rc != 0)
        PDX_FAIL_("open_source: %d %s", rc, err);
    walk_all(c, w);
    return c;
}

static void same_records(const walk *a, const walk *b)
{
    CHECK_EQ(a->n, b->n);
    CHECK_EQ(a->rc, b->rc);
    if (a->rc < 0)
        CHECK_STR(a->err, b->err);
    for (size_t i = 0; i < a->n; i++) {
        CHECK_EQ_U64(a->r[i].offset, b->r[i].offset);
        CHECK_EQ_U64(a->r[i].next_offset, b->r[i].next_offset);
        CHECK_EQ(a->r[i].ts_ns, b->r[i].ts_ns);
        CHECK_EQ(a->r[i].caplen, b->r[i].caplen);
        CHECK_EQ(a->r[i].origlen, b->r[i].origlen);
        CHECK_EQ(a->r[i].linktype, b->r[i].linktype);
        CHECK_EQ(a->r[i].iface, b->r[i].iface);
        CHECK_EQ(a->r[i].block_type, b->r[i].block_type);
        CHECK_EQ(a->r[i].data_off, b->r[i].data_off);
        CHECK_EQ(a->sum[i], b->sum[i]);
    }
    CHECK_EQ_U64(a->st.records, b->st.records);
    CHECK_EQ_U64(a->st.skipped_blocks, b->st.skipped_blocks);
    CHECK_EQ_U64(a->st.over_snaplen, b->st.over_snaplen);
}

/* Every record re-parsed at its offset equals the sequential one; short
 * buffers say how much they need. */
static void parse_at_round_trip(const bb *b, const walk *w)
{
    char err[PDX_ERRBUF_SIZE];
    for (size_t i = 0; i < w->n; i++) {
        const pdx_record *s = &w->r[i];
        pdx_record r;
        size_t need = 0, full = (size_t)(s->next_offset - s->offset);
        int rc = pdx_record_parse_at(&w->info, s->offset, b->p + s->offset,
                                     b->n - (size_t)s->offset, &r, &need, err);
        if (rc != 0)
            PDX_FAIL_("parse_at %llu: %d %s", (unsigned long long)s->offset, rc, err);
        CHECK_EQ_U64(r.offset, s->offset);
        CHECK_EQ_U64(r.next_offset, s->next_offset);
        if (s->block_type != 3) /* an SPB's time comes from its predecessor */
            CHECK_EQ(r.ts_ns, s->ts_ns);
        CHECK_EQ(r.caplen, s->caplen);
        CHECK_EQ(r.origlen, s->origlen);
        CHECK_EQ(r.linktype, s->linktype);
        CHECK_EQ(r.iface, s->iface);
        CHECK_EQ(r.data_off, s->data_off);
        CHECK(r.data == b->p + s->offset + s->data_off);
        CHECK_EQ(sum32(r.data, r.caplen), w->sum[i]);
        /* exactly the record is enough; one byte less is not */
        CHECK_EQ(pdx_record_parse_at(&w->info, s->offset, b->p + s->offset, full, &r, &need, err), 0);
        need = 0;
        CHECK_EQ(pdx_record_parse_at(&w->info, s->offset, b->p + s->offset, full - 1, &r, &need,
                                     err),
                 PDX_ETRUNC);
        CHECK(need > full - 1 && need <= full);
        need = 0;
        CHECK_EQ(pdx_record_parse_at(&w->info, s->offset, b->p + s->offset, 3, &r, &need, err),
                 PDX_ETRUNC);
        CHECK(need > 3 && need <= full);
    }
}

/* Checks one record field by field. */
static void rec_is(const walk *w, size_t i, uint64_t off, uint32_t caplen, uint32_t origlen,
                   int64_t ts, uint32_t iface, uint32_t linktype, uint32_t data_off,
                   uint32_t block_type)
{
    CHECK(i < w->n);
    CHECK_EQ_U64(w->r[i].offset, off);
    CHECK_EQ(w->r[i].caplen, caplen);
    CHECK_EQ(w->r[i].origlen, origlen);
    CHECK_EQ(w->r[i].ts_ns, ts);
    CHECK_EQ(w->r[i].iface, iface);
    CHECK_EQ(w->r[i].linktype, linktype);
    CHECK_EQ(w->r[i].data_off, data_off);
    CHECK_EQ(w->r[i].block_type, block_type);
}

/* ------------------------------------------------------------------------ */
/* pcap                                                                     */

static void build_pcap3(bb *b, int be, uint32_t magic, int hdr24)
{
    b->be = be;
    pcap_hdr(b, magic, 2, 4, 65535, 1);
    pcap_rec(b, 1000, 500, 60, 60, 60, 1, hdr24);
    pcap_rec(b, 1001, 999999, 40, 100, 40, 2, hdr24);
    pcap_rec(b, 1002, 0, 0, 0, 0, 3, hdr24);
}

static void t_pcap_le_usec(void)
{
    bb b = {0};
    walk w;
    build_pcap3(&b, 0, 0xa1b2c3d4u, 0);
    CHECK_EQ(b.p[0], 0xd4);
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.n, 3);
    rec_is(&w, 0, 24, 60, 60, INT64_C(1000000500000), 0, 1, 16, 0);
    rec_is(&w, 1, 100, 40, 100, INT64_C(1001999999000), 0, 1, 16, 0);
    rec_is(&w, 2, 156, 0, 0, INT64_C(1002000000000), 0, 1, 16, 0);
    CHECK_EQ_U64(w.r[0].next_offset, 100);
    CHECK(data_ok(b.p + 40, 60, 1));
    CHECK_EQ(w.sum[0], sum32(b.p + 40, 60));
    CHECK_EQ(w.info.format, PDX_FMT_PCAP);
    CHECK_EQ(w.info.big_endian, 0);
    CHECK_EQ(w.info.version_major, 2);
    CHECK_EQ(w.info.version_minor, 4);
    CHECK_EQ(w.info.pcap_nsec, 0);
    CHECK_EQ(w.info.pcap_hdrlen, 16);
    CHECK_EQ(w.info.snaplen, 65535);
    CHECK_EQ(w.info.n_ifaces, 1);
    CHECK_EQ(w.info.ifaces[0].tsresol, 6);
    CHECK_EQ(w.info.n_sections, 1);
    CHECK_EQ_U64(w.info.sections[0].offset, 0);
    CHECK_EQ_U64(w.st.records, 3);
    CHECK_EQ_U64(w.st.caplen_gt_len, 0);
    CHECK_EQ_U64(w.tell, b.n);
    CHECK_STR(pdx_format_name(w.info.format), "pcap");
    parse_at_round_trip(&b, &w);
    /* at the end it stays at the end */
    pdx_record r;
    char err[PDX_ERRBUF_SIZE];
    CHECK_EQ(pdx_capture_next(c, &r, err), 0);
    pdx_capture_close(c);
    free(b.p);
}

static void t_pcap_be_nsec(void)
{
    bb b = {0};
    walk w;
    build_pcap3(&b, 1, 0xa1b23c4du, 0);
    CHECK_EQ(b.p[0], 0xa1);
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.n, 3);
    rec_is(&w, 0, 24, 60, 60, INT64_C(1000000000500), 0, 1, 16, 0);
    rec_is(&w, 1, 100, 40, 100, INT64_C(1001000999999), 0, 1, 16, 0);
    CHECK_EQ(w.info.big_endian, 1);
    CHECK_EQ(w.info.pcap_nsec, 1);
    CHECK_EQ(w.info.ifaces[0].tsresol, 9);
    parse_at_round_trip(&b, &w);
    pdx_capture_close(c);
    free(b.p);
}

static void t_pcap_kuznetzov(void)
{
    for (int be = 0; be < 2; be++) {
        bb b = {0};
        walk w;
        build_pcap3(&b, be, 0xa1b2cd34u, 1);
        pdx_capture *c = walk_mem(&b, &w);
        CHECK_EQ(w.rc, 0);
        CHECK_EQ(w.n, 3);
        CHECK_EQ(w.info.pcap_hdrlen, 24);
        rec_is(&w, 0, 24, 60, 60, INT64_C(1000000500000), 0, 1, 24, 0);
        rec_is(&w, 1, 108, 40, 100, INT64_C(1001999999000), 0, 1, 24, 0);
        rec_is(&w, 2, 172, 0, 0, INT64_C(1002000000000), 0, 1, 24, 0);
        CHECK(data_ok(b.p + 24 + 24, 60, 1));
        parse_at_round_trip(&b, &w);
        pdx_capture_close(c);
        free(b.p);
    }
}

static void t_pcap_swapped_lengths(void)
{
    /* 2.3: swapped only when the stored caplen exceeds len */
    bb b = {0};
    walk w;
    pcap_hdr(&b, 0xa1b2c3d4u, 2, 3, 0, 1);
    pcap_rec(&b, 1, 0, 100, 40, 40, 1, 0);  /* stored len-first: caplen 40, len 100 */
    pcap_rec(&b, 2, 0, 30, 50, 30, 2, 0);   /* plausible as is: caplen 30, len 50 */
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.info.pcap_swapped_lens, 2);
    rec_is(&w, 0, 24, 40, 100, INT64_C(1000000000), 0, 1, 16, 0);
    rec_is(&w, 1, 80, 30, 50, INT64_C(2000000000), 0, 1, 16, 0);
    parse_at_round_trip(&b, &w);
    pdx_capture_close(c);
    free(b.p);

    /* 2.2 and 1.x: always swapped, even when that makes caplen > len */
    for (int v = 0; v < 2; v++) {
        bb b2 = {0};
        pcap_hdr(&b2, 0xa1b2c3d4u, v == 0 ? 2 : 1, v == 0 ? 2 : 4, 0, 1);
        pcap_rec(&b2, 1, 0, 100, 40, 40, 1, 0);
        pcap_rec(&b2, 2, 0, 50, 30, 30, 2, 0);
        c = walk_mem(&b2, &w);
        CHECK_EQ(w.rc, 0);
        CHECK_EQ(w.info.pcap_swapped_lens, 1);
        rec_is(&w, 0, 24, 40, 100, INT64_C(1000000000), 0, 1, 16, 0);
        rec_is(&w, 1, 80, 30, 50, INT64_C(2000000000), 0, 1, 16, 0);
        parse_at_round_trip(&b2, &w);
        pdx_capture_close(c);
        free(b2.p);
    }
}

static void t_pcap_linktype_fcs(void)
{
    bb b = {0};
    walk w;
    /* FCS present, 2 16-bit words, link type 105 */
    pcap_hdr(&b, 0xa1b2c3d4u, 2, 4, 262144, 0x24000000u | 105u);
    pcap_rec(&b, 1, 0, 10, 10, 10, 1, 0);
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.info.ifaces[0].linktype, 105);
    CHECK_EQ(w.info.ifaces[0].fcslen, 4);
    CHECK_EQ(w.r[0].linktype, 105);
    pdx_capture_close(c);
    free(b.p);

    /* upper bits without the F bit: no FCS length */
    bb b2 = {0};
    pcap_hdr(&b2, 0xa1b2c3d4u, 2, 4, 262144, 0x30000001u);
    c = walk_mem(&b2, &w);
    CHECK_EQ(w.info.ifaces[0].linktype, 1);
    CHECK_EQ(w.info.ifaces[0].fcslen, 0);
    CHECK_EQ(w.n, 0);
    CHECK_EQ(w.rc, 0);
    pdx_capture_close(c);
    free(b2.p);
}

static void t_pcap_ts_carry_and_stats(void)
{
    bb b = {0};
    walk w;
    pcap_hdr(&b, 0xa1b2c3d4u, 2, 4, 50, 1);
    pcap_rec(&b, 10, 1500000, 20, 20, 20, 1, 0);        /* usec field >= 1 s */
    pcap_rec(&b, 4294967295u, 4294967295u, 60, 60, 60, 2, 0); /* largest values */
    pcap_rec(&b, 11, 0, 30, 20, 30, 3, 0);              /* caplen > len */
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.n, 3);
    CHECK_EQ(w.r[0].ts_ns, INT64_C(11500000000));
    CHECK_EQ(w.r[1].ts_ns, INT64_C(4294967295) * 1000000000 + INT64_C(4294967295000));
    CHECK_EQ_U64(w.st.over_snaplen, 1);
    CHECK_EQ_U64(w.st.caplen_gt_len, 1);
    CHECK_EQ(w.r[1].caplen, 60); /* kept whole, unlike libpcap, which cuts to snaplen */
    pdx_capture_close(c);
    free(b.p);

    /* nsec field >= 1 s */
    bb b2 = {0};
    pcap_hdr(&b2, 0xa1b23c4du, 2, 4, 0, 1);
    pcap_rec(&b2, 10, 2000000001u, 0, 0, 0, 1, 0);
    c = walk_mem(&b2, &w);
    CHECK_EQ(w.r[0].ts_ns, INT64_C(12000000001));
    pdx_capture_close(c);
    free(b2.p);
}

static void t_pcap_damage_caplen(void)
{
    for (int be = 0; be < 2; be++) {
        bb b = {0};
        walk w;
        b.be = be;
        pcap_hdr(&b, 0xa1b2c3d4u, 2, 4, 65535, 1);
        pcap_rec(&b, 1, 0, 10, 10, 10, 1, 0);
        pcap_rec(&b, 2, 0, 4294967295u, 10, 0, 2, 0); /* at 50 */
        pcap_rec(&b, 3, 0, 10, 10, 10, 3, 0);
        pdx_capture *c = walk_mem(&b, &w);
        CHECK_EQ(w.n, 1);
        CHECK_EQ(w.rc, PDX_ECORRUPT);
        CHECK_STR(w.err, "offset 50: record caplen 4294967295 exceeds 262144");
        /* sticky */
        pdx_record r;
        char err[PDX_ERRBUF_SIZE] = "";
        CHECK_EQ(pdx_capture_next(c, &r, err), PDX_ECORRUPT);
        CHECK_STR(err, "offset 50: record caplen 4294967295 exceeds 262144");
        CHECK_EQ(pdx_capture_next(c, &r, NULL), PDX_ECORRUPT);
        /* parse_at refuses it too */
        size_t need = 0;
        CHECK_EQ(pdx_record_parse_at(&w.info, 50, b.p + 50, b.n - 50, &r, &need, err),
                 PDX_ECORRUPT);
        CHECK(strstr(err, "offset 50:") != NULL);
        pdx_capture_close(c);
        free(b.p);
    }
    /* just over the limit, and the limit itself */
    bb b = {0};
    walk w;
    pcap_hdr(&b, 0xa1b2c3d4u, 2, 4, 0, 1);
    pcap_rec(&b, 1, 0, PDX_MAX_CAPLEN, PDX_MAX_CAPLEN, PDX_MAX_CAPLEN, 1, 0);
    pcap_rec(&b, 1, 0, PDX_MAX_CAPLEN + 1, PDX_MAX_CAPLEN + 1, 0, 1, 0);
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.n, 1);
    CHECK_EQ(w.r[0].caplen, PDX_MAX_CAPLEN);
    CHECK_EQ(w.rc, PDX_ECORRUPT);
    CHECK_STR(w.err, "offset 262184: record caplen 262145 exceeds 262144");
    pdx_capture_close(c);
    free(b.p);
}

static void t_pcap_damage_truncated(void)
{
    bb b = {0};
    walk w;
    pcap_hdr(&b, 0xa1b2c3d4u, 2, 4, 65535, 1);
    pcap_rec(&b, 1, 0, 10, 10, 10, 1, 0);
    pcap_rec(&b, 2, 0, 100, 100, 100, 2, 0); /* at 50 */
    size_t full = b.n;

    /* header cut: 5 bytes of the second header */
    b.n = 50 + 5;
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.n, 1);
    CHECK_EQ(w.rc, PDX_ETRUNC);
    CHECK_STR(w.err, "offset 50: truncated record header (5 of 16 bytes)");
    pdx_capture_close(c);

    /* data cut */
    b.n = full - 1;
    c = walk_mem(&b, &w);
    CHECK_EQ(w.n, 1);
    CHECK_EQ(w.rc, PDX_ETRUNC);
    CHECK_STR(w.err, "offset 50: record data runs past end of file (115 of 116 bytes)");
    pdx_capture_close(c);

    /* the same through a trickling source */
    chunky k;
    walk w2;
    c = walk_source(&b, 7, 0, &w2, &k);
    same_records(&w, &w2);
    pdx_capture_close(c);

    /* clean end exactly at a record boundary */
    b.n = 50;
    c = walk_mem(&b, &w);
    CHECK_EQ(w.n, 1);
    CHECK_EQ(w.rc, 0);
    pdx_capture_close(c);
    free(b.p);
}

static void t_open_rejects(void)
{
    static const struct {
        const char *bytes;
        size_t n;
        const char *msg;
    } cases[] = {
        {"", 0, "empty file"},
        {"\x1f\x8b\x08\x00\x00\x00\x00\x00", 8, "gzip"},
        {"\x28\xb5\x2f\xfd\x00\x00\x00\x00", 8, "zstd"},
        {"BZh91AY&SY", 10, "bzip2"},
        {"\xfd" "7zXZ\0\0\0", 8, "xz"},
        {"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00", 10, "short pcap file header (10 of 24 bytes)"},
        {"\xd4\xc3", 2, "short file"},
        {"GET / HTTP/1.1\r\n\r\n\r\n\r\n\r\n\r\n", 28, "unknown file format"},
        {"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x00\x00\x00\x00", 12, "byte-order magic"},
        {"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a", 12, "short pcapng section header"},
        {"snoop\0\0\0\0\0\0\x02", 12, "short snoop file header"},
        {"snoop\0\0\0\0\0\0\x03\0\0\0\x04", 16, "unsupported snoop version 3"},
        {"snoop\0\0\0\0\0\0\x02\0\0\0\x63", 16, "unsupported snoop datalink type 99"},
    };
    for (size_t i = 0; i < PDX_ARRAY_LEN(cases); i++) {
        char err[PDX_ERRBUF_SIZE] = "";
        pdx_capture *c = (pdx_capture *)&err; /* must stay untouched */
        int rc = pdx_capture_open_mem(&c, (const uint8_t *)cases[i].bytes, cases[i].n, err);
        if (rc != PDX_EFORMAT || strstr(err, cases[i].msg) == NULL)
            PDX_FAIL_("case %zu: rc %d err \"%s\", want \"%s\"", i, rc, err, cases[i].msg);
        CHECK(c == (pdx_capture *)&err);
    }
    pdx_capture_close(NULL);
}

static void t_open_path(void)
{
    char err[PDX_ERRBUF_SIZE] = "";
    char path[] = "/tmp/pdx_test_capture_XXXXXX";
    pdx_capture *c = NULL;
    walk w, wm;
    bb b = {0};
    int fd;

    CHECK_EQ(pdx_capture_open(&c, "/tmp", err), PDX_EIO);
    CHECK(strstr(err, "not a regular file") != NULL);
    CHECK_EQ(pdx_capture_open(&c, "/dev/null", err), PDX_EIO);
    CHECK(strstr(err, "not a regular file") != NULL);
    CHECK_EQ(pdx_capture_open(&c, "/nonexistent/pdx/file.pcap", err), PDX_EIO);
    CHECK(strstr(err, "No such file") != NULL);

    build_pcap3(&b, 0, 0xa1b2c3d4u, 0);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, b.p, b.n), (long long)b.n);
    close(fd);
    CHECK_EQ(pdx_capture_open(&c, path, err), 0);
    walk_all(c, &w);
    pdx_capture_close(c);
    pdx_capture *m = walk_mem(&b, &wm);
    same_records(&w, &wm);
    pdx_capture_close(m);

    /* an empty regular file */
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ(pdx_capture_open(&c, path, err), PDX_EFORMAT);
    CHECK(strstr(err, "empty file") != NULL);
    unlink(path);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* pcapng                                                                   */

/* Section 0 (little-endian): IDB0 Ethernet usec, IDB1 raw (101) ns with
 * if_name and if_tsoffset; NRB; EPB if0; EPB if1; unknown block; SPB; PB if1.
 * Section 1 (big-endian): IDB linktype 105, 2^-20 resolution; EPB if0; ISB;
 * EPB naming interface 5 (missing). */
static void build_ng(bb *b, size_t *off)
{
    size_t k = 0;
    b->be = 0;
    ng_shb(b, 1, 0);                                    /* 0 */
    ng_idb(b, 1, 1500, -1, 0, 0, NULL);                 /* 28 */
    ng_idb(b, 101, 0, 9, 1, -100, "eth1");              /* 48 */
    ng_other(b, 4, 10);                                 /* NRB */
    off[k++] = b->n;
    ng_epb(b, 0, UINT64_C(1700000000123456), 60, 60, 1);
    off[k++] = b->n;
    ng_epb(b, 1, UINT64_C(1700000000123456789), 33, 70, 2);
    ng_other(b, 0x12345678u, 5);                        /* unknown */
    off[k++] = b->n;
    ng_spb(b, 2000, 1500, 3);                           /* caplen = snaplen 1500 */
    off[k++] = b->n;
    ng_pb(b, 1, UINT64_C(5000000001), 8, 8, 4);
    b->be = 1;
    off[k++] = b->n;                                    /* section 1 */
    ng_shb(b, 1, 2);
    ng_idb(b, 105, 65535, 0x80 | 20, 0, 0, "wlan0");
    off[k++] = b->n;
    ng_epb(b, 0, (UINT64_C(3) << 20) | (UINT64_C(1) << 19), 12, 12, 5); /* 3.5 s */
    ng_other(b, 5, 16);                                 /* ISB */
    off[k++] = b->n;
    ng_epb(b, 5, 7, 4, 4, 6);
}

static void t_pcapng_sections(void)
{
    bb b = {0};
    size_t off[16];
    walk w;
    build_ng(&b, off);
    pdx_capture *c = walk_mem(&b, &w);
    if (w.rc != 0)
        PDX_FAIL_("rc %d %s", w.rc, w.err);
    CHECK_EQ(w.n, 6);
    CHECK_EQ(w.info.format, PDX_FMT_PCAPNG);
    CHECK_EQ(w.info.big_endian, 0);
    CHECK_EQ(w.info.version_major, 1);
    CHECK_EQ(w.info.snaplen, 1500);

    rec_is(&w, 0, off[0], 60, 60, INT64_C(1700000000123456000), 0, 1, 28, 6);
    rec_is(&w, 1, off[1], 33, 70, INT64_C(1700000000123456789) - INT64_C(100000000000), 1, 101,
           28, 6);
    /* SPB: interface 0, snaplen-capped caplen, previous record's time */
    rec_is(&w, 2, off[2], 1500, 2000, w.r[1].ts_ns, 0, 1, 12, 3);
    rec_is(&w, 3, off[3], 8, 8, INT64_C(5000000001) - INT64_C(100000000000), 1, 101, 28, 2);
    rec_is(&w, 4, off[5], 12, 12, INT64_C(3500000000), 2, 105, 28, 6);
    rec_is(&w, 5, off[6], 4, 4, INT64_C(7000), 0xFFFFFFFFu, 0xFFFFFFFFu, 28, 6);
    CHECK(data_ok(b.p + off[0] + 28, 60, 1));
    CHECK(data_ok(b.p + off[2] + 12, 1500, 3));
    CHECK(data_ok(b.p + off[5] + 28, 12, 5));

    CHECK_EQ(w.info.n_sections, 2);
    CHECK_EQ_U64(w.info.sections[0].offset, 0);
    CHECK_EQ(w.info.sections[0].big_endian, 0);
    CHECK_EQ(w.info.sections[0].first_iface, 0);
    CHECK_EQ_U64(w.info.sections[1].offset, off[4]);
    CHECK_EQ(w.info.sections[1].big_endian, 1);
    CHECK_EQ(w.info.sections[1].first_iface, 2);
    CHECK_EQ(w.info.n_ifaces, 3);
    CHECK_EQ(w.info.ifaces[0].tsresol, 6);
    CHECK_EQ(w.info.ifaces[1].tsresol, 9);
    CHECK_EQ(w.info.ifaces[1].tsoffset_s, -100);
    CHECK_STR(w.info.ifaces[1].name, "eth1");
    CHECK_EQ(w.info.ifaces[1].if_local, 1);
    CHECK_EQ(w.info.ifaces[2].if_local, 0);
    CHECK_EQ(w.info.ifaces[2].section, 1);
    CHECK_EQ(w.info.ifaces[2].tsresol, 0x80 | 20);
    CHECK_STR(w.info.ifaces[2].name, "wlan0");
    CHECK_EQ(w.info.ifaces[2].snaplen, 65535);

    CHECK_EQ_U64(w.st.records, 6);
    CHECK_EQ_U64(w.st.skipped_blocks, 3);
    CHECK_EQ_U64(w.st.unknown_blocks, 1);
    CHECK_EQ_U64(w.st.bad_iface, 1);
    CHECK_EQ_U64(w.st.caplen_gt_len, 0);
    CHECK_EQ_U64(w.tell, b.n);
    parse_at_round_trip(&b, &w);

    /* parse_at refuses what is not a packet block */
    pdx_record r;
    size_t need;
    char err[PDX_ERRBUF_SIZE];
    CHECK_EQ(pdx_record_parse_at(&w.info, 28, b.p + 28, b.n - 28, &r, &need, err), PDX_ECORRUPT);
    CHECK(strstr(err, "offset 28: block type 0x00000001 is not a packet block") != NULL);
    CHECK_EQ(pdx_record_parse_at(&w.info, off[0] + 4, b.p + off[0] + 4, 100, &r, &need, err),
             PDX_ECORRUPT);
    pdx_capture_close(c);
    free(b.p);
}

static void t_pcapng_source_trickle(void)
{
    bb b = {0};
    size_t off[16];
    walk wm, ws;
    chunky k;
    build_ng(&b, off);
    pdx_capture *m = walk_mem(&b, &wm);
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        pdx_capture *s = walk_source(&b, chunk, chunk % 2, &ws, &k);
        same_records(&wm, &ws);
        CHECK_EQ_U64(ws.tell, b.n);
        pdx_capture_close(s);
    }
    pdx_capture_close(m);
    free(b.p);

    bb p = {0};
    build_pcap3(&p, 1, 0xa1b2cd34u, 1);
    m = walk_mem(&p, &wm);
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        pdx_capture *s = walk_source(&p, chunk, 0, &ws, &k);
        same_records(&wm, &ws);
        pdx_capture_close(s);
    }
    pdx_capture_close(m);
    free(p.p);
}

static void t_pcapng_spb_rules(void)
{
    bb b = {0};
    walk w;
    ng_shb(&b, 1, 0);
    ng_spb(&b, 100, 100, 1);        /* no interface yet */
    ng_idb(&b, 1, 0, -1, 0, 0, NULL);
    ng_spb(&b, 100, 64, 2);         /* origlen > block room: caplen = room */
    ng_spb(&b, 10, 12, 3);          /* padding beyond origlen */
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.n, 3);
    CHECK_EQ(w.r[0].caplen, 100);
    CHECK_EQ(w.r[0].iface, 0xFFFFFFFFu);
    CHECK_EQ(w.r[0].ts_ns, 0);
    CHECK_EQ(w.r[1].caplen, 64);
    CHECK_EQ(w.r[1].origlen, 100);
    CHECK_EQ(w.r[1].iface, 0);
    CHECK_EQ(w.r[2].caplen, 10);
    CHECK_EQ_U64(w.st.spb_no_iface, 1);
    pdx_capture_close(c);
    free(b.p);
}

static void t_pcapng_damage(void)
{
    static const struct {
        int kind;
        int code;
        const char *msg;
    } cases[] = {
        {0, PDX_ECORRUPT, "offset 48: block length 30 is not a multiple of 4"},
        {1, PDX_ECORRUPT, "offset 48: block length 8 is less than 12"},
        {2, PDX_ECORRUPT, "offset 48: block length 92 but trailing length 96"},
        {3, PDX_ECORRUPT, "offset 48: EPB caplen 61 does not fit in a block of 92 bytes"},
        {4, PDX_ETRUNC, "offset 48: block of 92 bytes runs past end of file"},
        {5, PDX_ETRUNC, "offset 48: truncated block header (3 of 8 bytes)"},
        {6, PDX_ECORRUPT, "offset 48: block length 22 is not a multiple of 4"},
        {7, PDX_ECORRUPT, "offset 48: section header block with bad byte-order magic"},
        {8, PDX_EFORMAT, "offset 48: unsupported pcapng version 2.0"},
        {9, PDX_ECORRUPT, "offset 48: block type 0x00000006 length 4294967292 exceeds 16777216"},
        {10, PDX_ECORRUPT, "offset 48: EPB caplen 300000 exceeds 262144"},
    };
    for (size_t i = 0; i < PDX_ARRAY_LEN(cases); i++) {
        bb b = {0};
        walk w;
        ng_shb(&b, 1, 0);                   /* 0..28 */
        ng_idb(&b, 1, 0, -1, 0, 0, NULL);   /* 28..48 */
        size_t at = b.n;
        switch (cases[i].kind) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 9: case 10:
            ng_epb(&b, 0, 1, 60, 60, 1); /* 92 bytes */
            if (cases[i].kind == 0)
                bb_put32_at(&b, at + 4, 30);
            if (cases[i].kind == 1)
                bb_put32_at(&b, at + 4, 8);
            if (cases[i].kind == 2)
                bb_put32_at(&b, b.n - 4, 96);
            if (cases[i].kind == 3)
                bb_put32_at(&b, at + 20, 61);
            if (cases[i].kind == 4)
                b.n--;
            if (cases[i].kind == 5)
                b.n = at + 3;
            if (cases[i].kind == 9)
                bb_put32_at(&b, at + 4, 0xFFFFFFFCu);
            if (cases[i].kind == 10)
                bb_put32_at(&b, at + 20, 300000);
            break;
        case 6:
            ng_other(&b, 0x999, 8); /* unknown block, bad length */
            bb_put32_at(&b, at + 4, 22);
            break;
        case 7:
            ng_shb(&b, 1, 0);
            bb_put32_at(&b, at + 8, 0x11223344u);
            break;
        case 8:
            ng_shb(&b, 2, 0);
            break;
        }
        if (cases[i].kind != 4 && cases[i].kind != 5)
            ng_epb(&b, 0, 1, 4, 4, 1); /* never reached */
        pdx_capture *c = walk_mem(&b, &w);
        if (w.rc != cases[i].code || strstr(w.err, cases[i].msg) == NULL)
            PDX_FAIL_("case %zu: rc %d \"%s\", want %d \"%s\"", i, w.rc, w.err, cases[i].code,
                      cases[i].msg);
        CHECK_EQ(w.n, 0);
        /* the same through a trickling source */
        chunky k;
        walk ws;
        pdx_capture *s = walk_source(&b, 5, 0, &ws, &k);
        same_records(&w, &ws);
        pdx_capture_close(s);
        pdx_capture_close(c);
        free(b.p);
    }
}

static void t_pcapng_first_shb(void)
{
    static const struct {
        uint16_t major, minor;
        int ok;
    } v[] = {{1, 0, 1}, {1, 2, 1}, {1, 1, 0}, {0, 1, 0}, {2, 0, 0}};
    for (size_t i = 0; i < PDX_ARRAY_LEN(v); i++) {
        for (int be = 0; be < 2; be++) {
            bb b = {0};
            char err[PDX_ERRBUF_SIZE] = "";
            pdx_capture *c = NULL;
            b.be = be;
            ng_shb(&b, v[i].major, v[i].minor);
            int rc = pdx_capture_open_mem(&c, b.p, b.n, err);
            if (v[i].ok) {
                CHECK_EQ(rc, 0);
                CHECK_EQ(pdx_capture_info(c)->big_endian, be);
                CHECK_EQ(pdx_capture_info(c)->n_sections, 1);
                pdx_capture_close(c);
            } else {
                CHECK_EQ(rc, PDX_EFORMAT);
                CHECK(strstr(err, "unsupported pcapng version") != NULL);
            }
            free(b.p);
        }
    }
    /* a first SHB whose trailer disagrees */
    bb b = {0};
    char err[PDX_ERRBUF_SIZE] = "";
    pdx_capture *c = NULL;
    ng_shb(&b, 1, 0);
    bb_put32_at(&b, b.n - 4, 0x30303030u);
    CHECK_EQ(pdx_capture_open_mem(&c, b.p, b.n, err), PDX_EFORMAT);
    CHECK_STR(err, "offset 0: block length 28 but trailing length 808464432");
    free(b.p);
}

static void t_pcapng_big_blocks(void)
{
    /* An unknown block larger than the read buffer is streamed past; an EPB
     * with 9 MiB of options grows the buffer; records straddle the buffer
     * end after them. */
    bb b = {0};
    walk wm, ws;
    chunky k;
    size_t big = 10u * 1024 * 1024;
    ng_shb(&b, 1, 0);
    ng_idb(&b, 1, 0, -1, 0, 0, NULL);
    ng_epb(&b, 0, 1, 100, 100, 1);
    ng_other(&b, 0x40000BADu, big);
    ng_epb(&b, 0, 2, 100, 100, 2);
    {
        size_t at = ng_begin(&b, 6);
        bb_u32(&b, 0);
        bb_u32(&b, 0);
        bb_u32(&b, 3);
        bb_u32(&b, 50);
        bb_u32(&b, 50);
        bb_data(&b, 52, 3);
        ng_opt(&b, 1, NULL, 0);
        bb_data(&b, 9u * 1024 * 1024, 9); /* an "option" body, ignored */
        ng_end(&b, at);
    }
    for (int i = 0; i < 40; i++)
        ng_epb(&b, 0, (uint64_t)(10 + i), 200000, 200000, (unsigned)i);
    pdx_capture *m = walk_mem(&b, &wm);
    if (wm.rc != 0)
        PDX_FAIL_("rc %d %s", wm.rc, wm.err);
    CHECK_EQ(wm.n, 43);
    CHECK_EQ(wm.r[2].caplen, 50);
    CHECK_EQ_U64(wm.st.skipped_blocks, 1);
    for (int skipcb = 0; skipcb < 2; skipcb++) {
        pdx_capture *s = walk_source(&b, 1u << 20, skipcb, &ws, &k);
        same_records(&wm, &ws);
        CHECK_EQ(k.skips, skipcb);
        pdx_capture_close(s);
    }
    /* a file: the skip is a seek */
    char path[] = "/tmp/pdx_test_capture_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, b.p, b.n), (long long)b.n);
    close(fd);
    char err[PDX_ERRBUF_SIZE];
    pdx_capture *f = NULL;
    CHECK_EQ(pdx_capture_open(&f, path, err), 0);
    walk_all(f, &ws);
    same_records(&wm, &ws);
    pdx_capture_close(f);

    /* cut inside the huge unknown block: the skip runs past the end */
    CHECK_EQ(truncate(path, 5000), 0);
    CHECK_EQ(pdx_capture_open(&f, path, err), 0);
    walk_all(f, &ws);
    CHECK_EQ(ws.n, 1);
    CHECK_EQ(ws.rc, PDX_ETRUNC);
    CHECK(strstr(ws.err, "offset 180: block of") != NULL);
    pdx_capture_close(f);
    unlink(path);
    pdx_capture_close(m);
    free(b.p);
}

static void t_pcap_straddle(void)
{
    /* ~11 MB of 180000-byte records through a source returning uneven
     * chunks: records straddle the read buffer's end
     * many times. */
    bb b = {0};
    walk wm, ws;
    chunky k;
    pcap_hdr(&b, 0xa1b2c3d4u, 2, 4, 0, 1);
    for (int i = 0; i < MAXREC - 4; i++)
        pcap_rec(&b, (uint32_t)i, 0, 180000, 180000, 180000, (unsigned)i, 0);
    pdx_capture *m = walk_mem(&b, &wm);
    CHECK_EQ(wm.rc, 0);
    CHECK_EQ(wm.n, MAXREC - 4);
    pdx_capture *s = walk_source(&b, 999983, 0, &ws, &k);
    same_records(&wm, &ws);
    pdx_capture_close(s);
    parse_at_round_trip(&b, &wm);
    pdx_capture_close(m);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* snoop                                                                    */

static void snoop_rec(bb *b, uint32_t orig, uint32_t incl, uint32_t reclen, uint32_t sec,
                      uint32_t usec, unsigned seed)
{
    bb_u32(b, orig);
    bb_u32(b, incl);
    bb_u32(b, reclen);
    bb_u32(b, 0);
    bb_u32(b, sec);
    bb_u32(b, usec);
    bb_data(b, reclen - 24, seed);
}

static void t_snoop(void)
{
    bb b = {0};
    walk w;
    b.be = 1;
    bb_bytes(&b, "snoop\0\0\0", 8);
    bb_u32(&b, 2);
    bb_u32(&b, 4);
    snoop_rec(&b, 60, 60, 84, 900000000, 250, 1);   /* at 16 */
    snoop_rec(&b, 1514, 42, 68, 900000001, 0, 2);   /* at 100, padded */
    pdx_capture *c = walk_mem(&b, &w);
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.n, 2);
    CHECK_EQ(w.info.format, PDX_FMT_SNOOP);
    CHECK_STR(pdx_format_name(w.info.format), "snoop");
    rec_is(&w, 0, 16, 60, 60, INT64_C(900000000000250000), 0, 1, 24, 0);
    rec_is(&w, 1, 100, 42, 1514, INT64_C(900000001000000000), 0, 1, 24, 0);
    CHECK_EQ_U64(w.r[1].next_offset, 168);
    CHECK(data_ok(b.p + 40, 60, 1));
    parse_at_round_trip(&b, &w);
    pdx_capture_close(c);

    /* a record length that cannot hold its data */
    snoop_rec(&b, 60, 60, 84, 1, 0, 3);
    bb_put32_at(&b, 168 + 8, 40);
    c = walk_mem(&b, &w);
    CHECK_EQ(w.n, 2);
    CHECK_EQ(w.rc, PDX_ECORRUPT);
    CHECK(strstr(w.err, "offset 168: snoop record length 40") != NULL);
    pdx_capture_close(c);
    free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Timestamps                                                               */

static void t_ts_to_ns(void)
{
    CHECK_EQ(pdx_ts_to_ns(1500000, 6, 0), INT64_C(1500000000));
    CHECK_EQ(pdx_ts_to_ns(1500000, 9, 0), INT64_C(1500000));
    CHECK_EQ(pdx_ts_to_ns(15, 1, 0), INT64_C(1500000000));
    CHECK_EQ(pdx_ts_to_ns(7, 0, 0), INT64_C(7000000000));
    CHECK_EQ(pdx_ts_to_ns(1234567890123, 12, 0), INT64_C(1234567890)); /* ps, floored */
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 19, 0), INT64_C(1844674407));
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 28, 0), 1); /* 1.8e-9 s */
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 29, 0), 0);
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 127, 0), 0);
    CHECK_EQ(pdx_ts_to_ns(1, 6, 10), INT64_C(10000001000));
    CHECK_EQ(pdx_ts_to_ns(1, 6, -10), INT64_C(-9999999000));
    /* binary: 2^-20 */
    CHECK_EQ(pdx_ts_to_ns((UINT64_C(3) << 20) | (UINT64_C(1) << 19), 0x80 | 20, 0),
             INT64_C(3500000000));
    CHECK_EQ(pdx_ts_to_ns(1, 0x80 | 20, 0), INT64_C(953)); /* 953.67 ns, floored */
    CHECK_EQ(pdx_ts_to_ns(5, 0x80, 0), INT64_C(5000000000));
    /* 2^-32: 1.5 s */
    CHECK_EQ(pdx_ts_to_ns((UINT64_C(1) << 32) | (UINT64_C(1) << 31), 0x80 | 32, 0),
             INT64_C(1500000000));
    /* 2^-63 and 2^-64..: top bit is half a second */
    CHECK_EQ(pdx_ts_to_ns(UINT64_C(1) << 62, 0x80 | 63, 0), INT64_C(500000000));
    CHECK_EQ(pdx_ts_to_ns(UINT64_C(1) << 63, 0x80 | 64, 0), INT64_C(500000000));
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 0x80 | 64, 0), INT64_C(999999999));
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 0x80 | 127, 0), 0);
    /* out of int64 nanoseconds: saturate, and offsets can pull back */
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 6, 0), INT64_MAX);
    CHECK_EQ(pdx_ts_to_ns(UINT64_MAX, 0, 0), INT64_MAX);
    CHECK_EQ(pdx_ts_to_ns(0, 6, INT64_MIN), INT64_MIN);
    CHECK_EQ(pdx_ts_to_ns(UINT64_C(20000000000), 0, -INT64_C(19000000000)),
             INT64_C(1000000000000000000));
    /* the largest time that fits */
    CHECK_EQ(pdx_ts_to_ns(UINT64_C(9223372036854775807), 9, 0), INT64_MAX);
    CHECK_EQ(pdx_ts_to_ns(UINT64_C(9223372036854775806), 9, 0), INT64_MAX - 1);
    CHECK_EQ(pdx_ts_to_ns(UINT64_C(9223372036854775808), 9, 0), INT64_MAX);
    CHECK_EQ(pdx_ts_to_ns(0, 9, -INT64_C(9223372036)), INT64_C(-9223372036000000000));
    CHECK_EQ(pdx_ts_to_ns(UINT64_C(9223372036854775), 6, 0), INT64_C(9223372036854775000));
}

static void t_parse_at_bad_input(void)
{
    bb b = {0};
    walk w;
    build_pcap3(&b, 0, 0xa1b2c3d4u, 0);
    pdx_capture *c = walk_mem(&b, &w);
    pdx_record r;
    size_t need = 0;
    char err[PDX_ERRBUF_SIZE];
    /* inside the file header */
    CHECK_EQ(pdx_record_parse_at(&w.info, 0, b.p, b.n, &r, &need, err), PDX_ECORRUPT);
    /* empty buffer */
    CHECK_EQ(pdx_record_parse_at(&w.info, 24, NULL, 0, &r, &need, err), PDX_ETRUNC);
    CHECK_EQ(need, 16);
    /* unknown format */
    pdx_capinfo bad;
    memset(&bad, 0, sizeof(bad));
    CHECK_EQ(pdx_record_parse_at(&bad, 24, b.p + 24, b.n - 24, &r, &need, err), PDX_EUSAGE);
    pdx_capture_close(c);
    free(b.p);

    /* pcapng: before any section, and an offset in a later section */
    bb n = {0};
    size_t off[16];
    build_ng(&n, off);
    c = walk_mem(&n, &w);
    pdx_capinfo copy = w.info;
    CHECK_EQ(pdx_record_parse_at(&copy, 0, n.p, n.n, &r, &need, err), PDX_ECORRUPT);
    CHECK(strstr(err, "before the first section") != NULL);
    CHECK_EQ(pdx_record_parse_at(&copy, off[5], n.p + off[5], n.n - off[5], &r, &need, err), 0);
    CHECK_EQ(r.iface, 2);
    CHECK_EQ(r.linktype, 105);
    pdx_capture_close(c);
    free(n.p);
}

const pdx_test pdx_suite_capture[] = {
    {"pcap_le_usec", t_pcap_le_usec},
    {"pcap_be_nsec", t_pcap_be_nsec},
    {"pcap_kuznetzov", t_pcap_kuznetzov},
    {"pcap_swapped_lengths", t_pcap_swapped_lengths},
    {"pcap_linktype_fcs", t_pcap_linktype_fcs},
    {"pcap_ts_carry_and_stats", t_pcap_ts_carry_and_stats},
    {"pcap_damage_caplen", t_pcap_damage_caplen},
    {"pcap_damage_truncated", t_pcap_damage_truncated},
    {"open_rejects", t_open_rejects},
    {"open_path", t_open_path},
    {"pcapng_sections", t_pcapng_sections},
    {"pcapng_source_trickle", t_pcapng_source_trickle},
    {"pcapng_spb_rules", t_pcapng_spb_rules},
    {"pcapng_damage", t_pcapng_damage},
    {"pcapng_first_shb", t_pcapng_first_shb},
    {"pcapng_big_blocks", t_pcapng_big_blocks},
    {"pcap_straddle", t_pcap_straddle},
    {"snoop", t_snoop},
    {"ts_to_ns", t_ts_to_ns},
    {"parse_at_bad_input", t_parse_at_bad_input},
    PDX_TEST_END,
};
