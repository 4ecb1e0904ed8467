/*
 * fuzz_common.h - what the fuzz targets share: a check that aborts with
 * file:line and both values, the invariants of a decoded packet, and the
 * walk over a capture held in memory that the pcap and pcapng targets run.
 *
 * Everything here is static: each target is one translation unit, built
 * either with libFuzzer (make fuzz) or with replay.c (make check).
 */
#ifndef PDX_FUZZ_COMMON_H
#define PDX_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "capture.h"
#include "decode.h"
#include "pdx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: say where and what, then abort so that
 * libFuzzer writes the input out and the replay run fails. */
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#define FUZZ_CHECK_EQ(a, b)                                                               \
    do {                                                                                  \
        unsigned long long fz_a_ = (unsigned long long)(a), fz_b_ = (unsigned long long)(b); \
        if (fz_a_ != fz_b_) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s == %s (%llu != %llu)\n", __FILE__,   \
                    __LINE__, #a, #b, fz_a_, fz_b_);                                      \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Decodes len bytes of a frame from an exactly sized heap copy, so that
 * AddressSanitizer sees any read past the captured length, and checks what
 * decode.h promises about the result. */
static inline void fuzz_decode_frame(const uint8_t *frame, size_t len, uint32_t linktype)
{
    uint8_t *copy = malloc(len ? len : 1);
    pdx_pkt pkt;
    int kind;

    FUZZ_CHECK(copy != NULL);
    if (len > 0)
        memcpy(copy, frame, len);
    kind = pdx_decode(len ? copy : NULL, len, linktype, &pkt);
    FUZZ_CHECK_EQ(kind, pkt.kind);
    FUZZ_CHECK(kind == PDX_KIND_L2 || kind == PDX_KIND_IP4 || kind == PDX_KIND_IP6);
    FUZZ_CHECK(pkt.tunnel <= PDX_TUN_GTPU);
    FUZZ_CHECK(pkt.l3_off <= len);
    FUZZ_CHECK(pkt.l4_off <= len);
    FUZZ_CHECK(pkt.payload_off <= len);
    FUZZ_CHECK(pkt.payload_len <= len - pkt.payload_off);
    if (!pdx_decode_linktype_known(linktype)) {
        FUZZ_CHECK_EQ(kind, PDX_KIND_L2);
        FUZZ_CHECK(pkt.flags & PDX_PKT_UNKNOWN_LINK);
    }
    if (kind == PDX_KIND_L2) {
        FUZZ_CHECK_EQ(pkt.proto, 0);
        FUZZ_CHECK(!(pkt.flags & PDX_PKT_HAS_L4));
    } else {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        FUZZ_CHECK(pkt.l3_off < len);
        FUZZ_CHECK_EQ(pkt.ethertype, kind == PDX_KIND_IP4 ? 0x0800 : 0x86dd);
        if (kind == PDX_KIND_IP4) {
            FUZZ_CHECK(memcmp(pkt.src, mapped, 12) == 0);
            FUZZ_CHECK(memcmp(pkt.dst, mapped, 12) == 0);
        }
        if (pkt.flags & PDX_PKT_HAS_L4)
            FUZZ_CHECK(pkt.l4_off >= pkt.l3_off);
    }
    if (pkt.tunnel == PDX_TUN_NONE)
        FUZZ_CHECK_EQ(pkt.vni, 0);
    free(copy);
}

/* ---- capture walking ---------------------------------------------------- */

/* A byte source over memory that hands out at most a few bytes per read, in
 * a pattern taken from the input, so that the buffered reader's refills land
 * in every part of headers and blocks. */
typedef struct fuzz_src {
    const uint8_t *p;
    size_t len, pos;
    unsigned step;
} fuzz_src;

static inline ssize_t fuzz_src_read(void *ctx, void *buf, size_t n)
{
    static const size_t chunks[] = {1, 7, 3, 4096, 13, 2, 24, 65536, 5, 16, 11, 8};
    fuzz_src *s = ctx;
    size_t k = chunks[s->step++ % PDX_ARRAY_LEN(chunks)];
    if (k > n)
        k = n;
    if (k > s->len - s->pos)
        k = s->len - s->pos;
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

/* Like lseek on a regular file: skipping past the end is not an error, the
 * next read says 0. */
static inline int fuzz_src_skip(void *ctx, uint64_t n)
{
    fuzz_src *s = ctx;
    s->pos += (size_t)PDX_MIN(n, (uint64_t)(s->len - s->pos));
    return 0;
}

/* The buffered reader allocates a 1 MiB buffer, which under ASan costs
 * more than the rest of a small input (mmap, shadow poisoning): the
 * libFuzzer builds set 4, so that one input in four takes that path and the
 * rest run at full speed; the replay takes it for every input. */
#ifndef FUZZ_SOURCE_ONE_IN
#define FUZZ_SOURCE_ONE_IN 1
#endif

/* Compares what parse_at gave for a record with what the sequential read gave. */
static inline void fuzz_same_record(const pdx_record *a, const pdx_record *b)
{
    FUZZ_CHECK_EQ(a->offset, b->offset);
    FUZZ_CHECK_EQ(a->next_offset, b->next_offset);
    FUZZ_CHECK_EQ(a->caplen, b->caplen);
    FUZZ_CHECK_EQ(a->origlen, b->origlen);
    FUZZ_CHECK_EQ(a->linktype, b->linktype);
    FUZZ_CHECK_EQ(a->iface, b->iface);
    FUZZ_CHECK_EQ(a->block_type, b->block_type);
    FUZZ_CHECK_EQ(a->data_off, b->data_off);
    /* An SPB has no timestamp of its own: the reader gives it the previous
     * record's, parse_at cannot know that one. */
    if (a->block_type != 3)
        FUZZ_CHECK_EQ(a->ts_ns, b->ts_ns);
}

/*
 * Reads the capture in data[0..size) with the in-memory reader to the end,
 * and for every record: checks its framing against the buffer, re-reads it
 * with pdx_record_parse_at (whole, then one byte short), decodes its bytes
 * with its link type.  When the last byte is a multiple of
 * FUZZ_SOURCE_ONE_IN, also reads the same bytes through a byte source that
 * returns odd-sized pieces and requires the same records and the same
 * ending.
 */
static inline void fuzz_walk_capture(const uint8_t *data, size_t size)
{
    char errbuf[PDX_ERRBUF_SIZE], errbuf2[PDX_ERRBUF_SIZE];
    pdx_capture *c = NULL, *c2 = NULL;
    pdx_record rec, rec2, at;
    uint64_t n = 0, prev_next = 0;
    int rc, rc2;
    fuzz_src src;
    pdx_source s = {0};
    unsigned last = size > 0 ? data[size - 1] : 0;
    int use_src = last % FUZZ_SOURCE_ONE_IN == 0;

    rc = pdx_capture_open_mem(&c, data, size, errbuf);
    if (use_src) {
        src.p = data;
        src.len = size;
        src.pos = 0;
        src.step = last / FUZZ_SOURCE_ONE_IN;
        s.ctx = &src;
        s.read = fuzz_src_read;
        s.skip = (src.step & 1) ? fuzz_src_skip : NULL;
        rc2 = pdx_capture_open_source(&c2, &s, errbuf2);
        FUZZ_CHECK_EQ((unsigned)rc, (unsigned)rc2);
    }
    if (rc != 0) {
        FUZZ_CHECK(rc < 0);
        return;
    }
    prev_next = pdx_capture_tell(c);
    FUZZ_CHECK(prev_next <= size);

    while ((rc = pdx_capture_next(c, &rec, errbuf)) == 1) {
        const pdx_capinfo *info = pdx_capture_info(c);
        size_t need = 0, reclen;

        n++;
        /* Framing: records follow each other and lie inside the buffer. */
        FUZZ_CHECK(rec.offset >= prev_next);
        FUZZ_CHECK(rec.next_offset > rec.offset);
        FUZZ_CHECK(rec.next_offset <= size);
        FUZZ_CHECK((uint64_t)rec.data_off + rec.caplen <= rec.next_offset - rec.offset);
        FUZZ_CHECK(rec.data == data + rec.offset + rec.data_off);
        FUZZ_CHECK(rec.caplen <= PDX_MAX_CAPLEN);
        FUZZ_CHECK_EQ(pdx_capture_tell(c), rec.next_offset);
        FUZZ_CHECK(info->format == PDX_FMT_PCAP || info->format == PDX_FMT_PCAPNG ||
                   info->format == PDX_FMT_SNOOP);
        if (rec.iface != 0xFFFFFFFFu) {
            FUZZ_CHECK(rec.iface < info->n_ifaces);
            FUZZ_CHECK_EQ(rec.linktype, info->ifaces[rec.iface].linktype);
        }
        prev_next = rec.next_offset;

        /* The carver's path: the same record from its offset. */
        reclen = (size_t)(rec.next_offset - rec.offset);
        rc2 = pdx_record_parse_at(info, rec.offset, data + rec.offset, size - rec.offset, &at,
                                  &need, errbuf2);
        if (rc2 != 0)
            fprintf(stderr, "parse_at(%llu): %s\n", (unsigned long long)rec.offset, errbuf2);
        FUZZ_CHECK_EQ(rc2, 0);
        fuzz_same_record(&rec, &at);
        FUZZ_CHECK(at.data == rec.data);
        /* Exactly the record's bytes are enough; one fewer is truncation. */
        rc2 = pdx_record_parse_at(info, rec.offset, data + rec.offset, reclen, &at, &need,
                                  errbuf2);
        FUZZ_CHECK_EQ(rc2, 0);
        rc2 = pdx_record_parse_at(info, rec.offset, data + rec.offset, reclen - 1, &at, &need,
                                  errbuf2);
        FUZZ_CHECK_EQ((unsigned)rc2, (unsigned)PDX_ETRUNC);
        FUZZ_CHECK(need > reclen - 1 && need <= reclen);

        fuzz_decode_frame(rec.data, rec.caplen, rec.linktype);

        /* The buffered reader must see the same record. */
        if (use_src) {
            rc2 = pdx_capture_next(c2, &rec2, errbuf2);
            FUZZ_CHECK_EQ(rc2, 1);
            fuzz_same_record(&rec, &rec2);
            FUZZ_CHECK_EQ(rec.ts_ns, rec2.ts_ns);
            FUZZ_CHECK(memcmp(rec.data, rec2.data, rec.caplen) == 0);
        }
    }
    FUZZ_CHECK(rc <= 0);
    FUZZ_CHECK_EQ(pdx_capture_stats(c)->records, n);
    /* Damage is sticky: the same code again. */
    if (rc < 0)
        FUZZ_CHECK_EQ((unsigned)pdx_capture_next(c, &rec, errbuf), (unsigned)rc);
    else
        FUZZ_CHECK_EQ(pdx_capture_next(c, &rec, errbuf), 0);
    if (use_src) {
        rc2 = pdx_capture_next(c2, &rec2, errbuf2);
        if (rc != rc2)
            fprintf(stderr, "memory reader: %d %s\nsource reader: %d %s\n", rc,
                    rc < 0 ? errbuf : "", rc2, rc2 < 0 ? errbuf2 : "");
        FUZZ_CHECK_EQ((unsigned)rc, (unsigned)rc2);
        FUZZ_CHECK(memcmp(pdx_capture_stats(c), pdx_capture_stats(c2), sizeof(pdx_capstats)) ==
                   0);
    }
    pdx_capture_close(c);
    pdx_capture_close(c2);
}

#endif
