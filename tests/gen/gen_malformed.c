/*
 * gen_malformed.c - `pcapgen malformed`: one small file per defect, named
 * for it, plus MANIFEST.tsv saying what a correct reader returns:
 *
 *   file  expected_records  expect_error(0/1)  description
 *
 * expected_records counts packet records a reader must return before it
 * stops with an error (expect_error 1), or in all when the file is good but
 * tricky (expect_error 0).  Damaged files start with good records so that a
 * reader has to index up to the damage.  Problems that keep framing intact
 * (caplen over the snaplen, caplen over origlen, a packet block naming a
 * missing interface) are not errors: the reader returns the record, counts
 * the problem and goes on, as lib/capture.h specifies.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

#define T0 1700000000u

typedef struct mctx {
    const char *dir;
    FILE *manifest;
    char *mpath;
} mctx;

static void put(mctx *m, const char *name, const pdx_gen_buf *b, int expected, int err, const char *desc)
{
    char *path = pdx_gen_path(m->dir, name);
    pdx_gen_write_file(path, b->p, b->len);
    free(path);
    fprintf(m->manifest, "%s\t%d\t%d\t%s\n", name, expected, err, desc);
}

/* The i-th good frame: Ethernet/IPv4/UDP with 18 + i % 40 payload bytes. */
static size_t good_frame(uint8_t *out, unsigned i)
{
    static uint8_t payload[64];
    pdx_gen_addr a, b;
    pdx_gen_pkt s;
    for (unsigned k = 0; k < sizeof payload; k++)
        payload[k] = (uint8_t)(k * 7 + i);
    pdx_gen_addr4(&a, 0x0a000001u);
    pdx_gen_addr4(&b, 0x0a000002u);
    memset(&s, 0, sizeof s);
    s.src = i % 2 ? &b : &a;
    s.dst = i % 2 ? &a : &b;
    s.proto = 17;
    s.sport = i % 2 ? 9 : 40000;
    s.dport = i % 2 ? 40000 : 9;
    s.ttl = 64;
    s.ip_id = (uint16_t)i;
    s.payload = payload;
    s.paylen = 18 + i % 40;
    return pdx_gen_frame(out, PDX_GEN_ETH, i % 2, 0, &s);
}

/* ---- pcap ---- */

static void pcap_hdr(pdx_gen_buf *b, int be, uint32_t magic, uint16_t vmin, uint32_t snaplen, uint32_t dlt)
{
    pdx_gen_buf_u32(b, magic, be);
    pdx_gen_buf_u16(b, 2, be);
    pdx_gen_buf_u16(b, vmin, be);
    pdx_gen_buf_u32(b, 0, be);
    pdx_gen_buf_u32(b, 0, be);
    pdx_gen_buf_u32(b, snaplen, be);
    pdx_gen_buf_u32(b, dlt, be);
}

static void pcap_rec(pdx_gen_buf *b, int be, unsigned i, uint32_t capf, uint32_t lenf, const uint8_t *data,
                     size_t n)
{
    pdx_gen_buf_u32(b, T0 + i / 1000, be);
    pdx_gen_buf_u32(b, (i % 1000) * 1000, be);
    pdx_gen_buf_u32(b, capf, be);
    pdx_gen_buf_u32(b, lenf, be);
    pdx_gen_buf_put(b, data, n);
}

/* Good records first .. first+n-1. */
static void pcap_good(pdx_gen_buf *b, int be, unsigned first, unsigned n)
{
    uint8_t f[256];
    for (unsigned i = first; i < first + n; i++) {
        size_t len = good_frame(f, i);
        pcap_rec(b, be, i, (uint32_t)len, (uint32_t)len, f, len);
    }
}

static void pcap_start(pdx_gen_buf *b) { b->len = 0; pcap_hdr(b, 0, 0xa1b2c3d4u, 4, 262144, 1); }

/* A gzip member holding data in stored (uncompressed) deflate blocks. */
static void gzip_stored(pdx_gen_buf *out, const uint8_t *data, size_t n)
{
    static const uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
    size_t off = 0;
    pdx_gen_buf_put(out, hdr, sizeof hdr);
    do {
        size_t k = PDX_MIN(n - off, 65535u);
        pdx_gen_buf_u8(out, off + k == n ? 1 : 0);
        pdx_gen_buf_u16(out, (uint16_t)k, 0);
        pdx_gen_buf_u16(out, (uint16_t)~k, 0);
        pdx_gen_buf_put(out, data + off, k);
        off += k;
    } while (off < n);
    pdx_gen_buf_u32(out, pdx_gen_crc32(0, data, n), 0);
    pdx_gen_buf_u32(out, (uint32_t)n, 0);
}

static void pcap_files(mctx *m)
{
    pdx_gen_buf b = {0}, g = {0};
    uint8_t f[512];
    size_t len;

    pcap_start(&b);
    b.len = 14;
    put(m, "pcap-truncated-file-header.pcap", &b, 0, 1, "pcap file header cut after 14 of 24 bytes");

    pcap_start(&b);
    pcap_good(&b, 0, 0, 5);
    pdx_gen_buf_u32(&b, T0 + 1, 0);
    pdx_gen_buf_u32(&b, 0, 0);
    pdx_gen_buf_u8(&b, 60);
    put(m, "pcap-truncated-record-header.pcap", &b, 5, 1, "5 good records, then 9 of 16 record header bytes");

    pcap_start(&b);
    pcap_good(&b, 0, 0, 5);
    len = good_frame(f, 5);
    pcap_rec(&b, 0, 5, (uint32_t)len, (uint32_t)len, f, len / 2);
    put(m, "pcap-truncated-record-data.pcap", &b, 5, 1, "5 good records, then a record whose data stops halfway");

    pcap_start(&b);
    pcap_good(&b, 0, 0, 5);
    pcap_rec(&b, 0, 5, 0xffffffffu, 0xffffffffu, f, 64);
    pcap_good(&b, 0, 6, 2);
    put(m, "pcap-caplen-huge.pcap", &b, 5, 1,
        "5 good records, then caplen 0xFFFFFFFF: refuse before allocating (framing is lost)");

    b.len = 0;
    pcap_hdr(&b, 0, 0xa1b2c3d4u, 4, 128, 1);
    pcap_good(&b, 0, 0, 5);
    memset(f, 0, sizeof f);
    len = good_frame(f, 5);
    pcap_rec(&b, 0, 5, 300, 300, f, 300);
    pcap_good(&b, 0, 6, 3);
    put(m, "pcap-caplen-over-snaplen-but-small.pcap", &b, 9, 0,
        "snaplen 128; record 6 has caplen 300 (< 256 KiB): read and count it, keep going "
        "(libpcap cuts it to the snaplen)");

    pcap_start(&b);
    pcap_good(&b, 0, 0, 5);
    len = good_frame(f, 5);
    pcap_rec(&b, 0, 5, 100, 60, f, 100);
    pcap_good(&b, 0, 6, 3);
    put(m, "pcap-caplen-gt-origlen.pcap", &b, 9, 0,
        "record 6 has caplen 100 > origlen 60: framing holds, count it and keep going");

    pcap_start(&b);
    pcap_good(&b, 0, 0, 3);
    pcap_rec(&b, 0, 3, 0, 0, f, 0);
    pcap_rec(&b, 0, 4, 0, 0, f, 0);
    pcap_rec(&b, 0, 5, 0, 60, f, 0);
    pcap_good(&b, 0, 6, 3);
    put(m, "pcap-zero-length-records.pcap", &b, 9, 0,
        "records 4-6 have caplen 0 (two with origlen 0, one with origlen 60): all are records");

    b.len = 0;
    pcap_hdr(&b, 0, 0xdeadbeefu, 4, 262144, 1);
    pcap_good(&b, 0, 0, 5);
    put(m, "pcap-bad-magic.pcap", &b, 0, 1, "magic 0xdeadbeef, otherwise a good file: not a capture");

    pcap_start(&g);
    pcap_good(&g, 0, 0, 5);
    b.len = 0;
    gzip_stored(&b, g.p, g.len);
    put(m, "pcap-gzip-magic.pcap.gz", &b, 0, 1,
        "a gzip member (stored blocks) holding a good 5-record pcap: report it as gzip-compressed "
        "(tshark reads it through zlib)");

    b.len = 0;
    put(m, "pcap-zero-byte.pcap", &b, 0, 1, "an empty file: no header, not a capture");

    b.len = 0;
    pcap_hdr(&b, 0, 0xa1b2c3d4u, 3, 96, 1);
    for (unsigned i = 0; i < 7; i++) {
        memset(f, 0, sizeof f);
        len = good_frame(f, i);
        if (i % 2 == 0) { /* snaplen cut it: 2.3 writers swapped caplen and len */
            len += 200;
            pcap_rec(&b, 0, i, (uint32_t)len, 96, f, 96);
        } else {
            pcap_rec(&b, 0, i, (uint32_t)len, (uint32_t)len, f, len);
        }
    }
    put(m, "pcap-version-2.3-swapped-lens.pcap", &b, 7, 0,
        "version 2.3, snaplen 96; records 1,3,5,7 store caplen in the len field and vice versa "
        "(caplen field > len field): swap them back, caplen 96");

    b.len = 0;
    pcap_hdr(&b, 1, 0xa1b2c3d4u, 4, 262144, 1);
    pcap_good(&b, 1, 0, 5);
    put(m, "pcap-big-endian.pcap", &b, 5, 0, "good: big-endian header and records");

    b.len = 0;
    pcap_hdr(&b, 0, 0xa1b23c4du, 4, 262144, 1);
    for (unsigned i = 0; i < 5; i++) {
        len = good_frame(f, i);
        pdx_gen_buf_u32(&b, T0, 0);
        pdx_gen_buf_u32(&b, 123456789u + i, 0);
        pdx_gen_buf_u32(&b, (uint32_t)len, 0);
        pdx_gen_buf_u32(&b, (uint32_t)len, 0);
        pdx_gen_buf_put(&b, f, len);
    }
    put(m, "pcap-nsec.pcap", &b, 5, 0,
        "good: nanosecond magic; record i at 1700000000.123456789 + i ns");

    b.len = 0;
    pcap_hdr(&b, 0, 0xa1b2c3d4u, 4, 64, 1);
    for (unsigned i = 0; i < 5; i++) {
        memset(f, 0, sizeof f);
        len = good_frame(f, i);
        pcap_rec(&b, 0, i, 64, (uint32_t)len + 100, f, 64);
    }
    put(m, "pcap-snaplen-truncated.pcap", &b, 5, 0,
        "good: snaplen 64, every record cut to 64 bytes (origlen larger): truncated, not invalid");

    pdx_gen_buf_free(&b);
    pdx_gen_buf_free(&g);
}

/* ---- pcapng ---- */

static void ng_block(pdx_gen_buf *b, int be, uint32_t type, const uint8_t *body, size_t n)
{
    size_t pad = (4 - n % 4) % 4;
    uint32_t total = (uint32_t)(12 + n + pad);
    pdx_gen_buf_u32(b, type, be);
    pdx_gen_buf_u32(b, total, be);
    pdx_gen_buf_put(b, body, n);
    pdx_gen_buf_zeros(b, pad);
    pdx_gen_buf_u32(b, total, be);
}

static void ng_shb(pdx_gen_buf *b, int be)
{
    uint8_t body[16];
    pdx_gen_st32(body, 0x1a2b3c4du, be);
    pdx_gen_st16(body + 4, 1, be);
    pdx_gen_st16(body + 6, 0, be);
    memset(body + 8, 0xff, 8);
    ng_block(b, be, 0x0a0d0d0au, body, sizeof body);
}

/* tsresol 0: no if_tsresol option (microseconds). */
static void ng_idb(pdx_gen_buf *b, int be, uint16_t dlt, uint32_t snaplen, uint8_t tsresol)
{
    uint8_t body[24];
    size_t n = 8;
    pdx_gen_st16(body, dlt, be);
    pdx_gen_st16(body + 2, 0, be);
    pdx_gen_st32(body + 4, snaplen, be);
    if (tsresol) {
        pdx_gen_st16(body + 8, 9, be);
        pdx_gen_st16(body + 10, 1, be);
        body[12] = tsresol;
        body[13] = body[14] = body[15] = 0;
        pdx_gen_st32(body + 16, 0, be);
        n = 20;
    }
    ng_block(b, be, 1, body, n);
}

static void ng_epb(pdx_gen_buf *b, int be, uint32_t iface, uint64_t ticks, const uint8_t *data, uint32_t caplen,
                   uint32_t origlen)
{
    uint8_t body[20 + 512];
    pdx_gen_st32(body, iface, be);
    pdx_gen_st32(body + 4, (uint32_t)(ticks >> 32), be);
    pdx_gen_st32(body + 8, (uint32_t)ticks, be);
    pdx_gen_st32(body + 12, caplen, be);
    pdx_gen_st32(body + 16, origlen, be);
    memcpy(body + 20, data, caplen);
    ng_block(b, be, 6, body, 20 + caplen);
}

static void ng_good(pdx_gen_buf *b, int be, unsigned first, unsigned n)
{
    uint8_t f[256];
    for (unsigned i = first; i < first + n; i++) {
        size_t len = good_frame(f, i);
        ng_epb(b, be, 0, (uint64_t)T0 * 1000000u + i * 1000u, f, (uint32_t)len, (uint32_t)len);
    }
}

static void ng_start(pdx_gen_buf *b)
{
    b->len = 0;
    ng_shb(b, 0);
    ng_idb(b, 0, 1, 262144, 0);
    ng_good(b, 0, 0, 5);
}

/* An EPB for frame i with its total length fields overridden. */
static void ng_bad_epb(pdx_gen_buf *b, unsigned i, uint32_t lead, uint32_t trail, uint32_t caplen)
{
    uint8_t f[256];
    size_t len = good_frame(f, i), at = b->len;
    ng_epb(b, 0, 0, (uint64_t)T0 * 1000000u + i * 1000u, f, (uint32_t)len, (uint32_t)len);
    if (lead)
        pdx_gen_st32(b->p + at + 4, lead, 0);
    if (trail)
        pdx_gen_st32(b->p + b->len - 4, trail, 0);
    if (caplen)
        pdx_gen_st32(b->p + at + 20, caplen, 0);
}

static void pcapng_files(mctx *m)
{
    pdx_gen_buf b = {0};
    uint8_t f[256], body[64];
    size_t len;

    /* not a multiple of 4 */
    ng_start(&b);
    {
        size_t at = b.len;
        ng_bad_epb(&b, 5, 0, 0, 0);
        pdx_gen_st32(b.p + at + 4, pdx_gen_ld_le32(b.p + at + 4) - 2, 0);
    }
    ng_good(&b, 0, 6, 2);
    put(m, "pcapng-bad-block-length-not-mult4.pcapng", &b, 5, 1,
        "5 good EPBs, then an EPB whose total length is 2 short of a multiple of 4");

    ng_start(&b);
    ng_bad_epb(&b, 5, 8, 0, 0);
    ng_good(&b, 0, 6, 2);
    put(m, "pcapng-bad-block-length-too-small.pcapng", &b, 5, 1,
        "5 good EPBs, then a block claiming total length 8 (< 12)");

    ng_start(&b);
    {
        size_t at = b.len;
        ng_bad_epb(&b, 5, 0, 0, 0);
        pdx_gen_st32(b.p + b.len - 4, pdx_gen_ld_le32(b.p + at + 4) + 4, 0);
    }
    ng_good(&b, 0, 6, 2);
    put(m, "pcapng-bad-block-length-trailer-mismatch.pcapng", &b, 5, 1,
        "5 good EPBs, then an EPB whose trailing total length differs from the leading one");

    ng_start(&b);
    ng_bad_epb(&b, 5, 2000, 0, 0);
    put(m, "pcapng-block-past-eof.pcapng", &b, 5, 1,
        "5 good EPBs, then an EPB claiming 2000 bytes where the file ends ~100 bytes later");

    ng_start(&b);
    ng_bad_epb(&b, 5, 0, 0, 1000);
    ng_good(&b, 0, 6, 2);
    put(m, "pcapng-epb-caplen-past-block.pcapng", &b, 5, 1,
        "5 good EPBs, then an EPB whose caplen (1000) runs past its block");

    ng_start(&b);
    memset(body, 0x5a, sizeof body);
    pdx_gen_st32(body, 32473, 0); /* PEN for custom blocks: "example" */
    ng_block(&b, 0, 0x00000bad, body, 20);   /* custom, copyable */
    ng_good(&b, 0, 5, 1);
    ng_block(&b, 0, 0x40000bad, body, 13);   /* custom, not copyable */
    ng_block(&b, 0, 0x0000abcd, body, 8);    /* unknown */
    ng_block(&b, 0, 0x80001234, body, 0);    /* local use, empty body */
    ng_good(&b, 0, 6, 1);
    {
        uint8_t nrb[24] = {0};
        pdx_gen_st16(nrb, 1, 0);  /* nrb_record_ipv4 */
        pdx_gen_st16(nrb + 2, 9, 0);
        nrb[4] = 10; nrb[5] = 0; nrb[6] = 0; nrb[7] = 2;
        memcpy(nrb + 8, "dst\0\0\0\0", 8);
        /* nrb_record_end at 16 (zeros) */
        ng_block(&b, 0, 4, nrb, 20);
    }
    {
        uint8_t isb[12] = {0};
        pdx_gen_st32(isb + 4, 0, 0);
        pdx_gen_st32(isb + 8, (uint32_t)T0 * 1000000u, 0);
        ng_block(&b, 0, 5, isb, 12);
    }
    ng_good(&b, 0, 7, 1);
    put(m, "pcapng-unknown-block-types.pcapng", &b, 8, 0,
        "good: custom (0xBAD, 0x40000BAD), unknown (0xABCD), local-use (0x80001234), NRB and ISB "
        "blocks between 8 EPBs: skip them, keep every EPB");

    ng_start(&b);
    len = good_frame(f, 5);
    ng_epb(&b, 0, 3, (uint64_t)T0 * 1000000u + 5000u, f, (uint32_t)len, (uint32_t)len);
    ng_good(&b, 0, 6, 3);
    put(m, "pcapng-epb-missing-interface.pcapng", &b, 9, 0,
        "EPB 6 names interface 3 of 1: framing holds, so return it (link type unknown), count it as "
        "bad_iface and go on to the last 3 (libpcap and tshark stop here with an error)");

    ng_start(&b);
    {
        size_t at = b.len;
        ng_shb(&b, 0);
        pdx_gen_st32(b.p + at + 8, 0x12345678u, 0);
    }
    ng_idb(&b, 0, 1, 262144, 0);
    ng_good(&b, 0, 5, 3);
    put(m, "pcapng-shb-bad-byte-order-magic.pcapng", &b, 5, 1,
        "section 1 has 5 good EPBs; the second SHB's byte-order magic is 0x12345678");

    ng_start(&b);
    ng_shb(&b, 1);
    ng_idb(&b, 1, 101, 65535, 0);
    for (unsigned i = 5; i < 10; i++) {
        size_t l = good_frame(f, i);
        ng_epb(&b, 1, 0, (uint64_t)T0 * 1000000u + i * 1000u, f + 14, (uint32_t)l - 14, (uint32_t)l - 14);
    }
    put(m, "pcapng-second-section-different-endianness.pcapng", &b, 10, 0,
        "good: a little-endian section (Ethernet, 5 EPBs) then a big-endian one (RAW, 5 EPBs)");

    b.len = 0;
    ng_shb(&b, 0);
    ng_idb(&b, 0, 1, 262144, 0x80 | 20);
    for (unsigned i = 0; i < 5; i++) {
        size_t l = good_frame(f, i);
        uint64_t ticks = ((uint64_t)T0 << 20) + (1u << 19) + (uint64_t)i * (1u << 14);
        ng_epb(&b, 0, 0, ticks, f, (uint32_t)l, (uint32_t)l);
    }
    put(m, "pcapng-idb-tsresol-2pow-20.pcapng", &b, 5, 0,
        "good: if_tsresol 0x94 (2^-20 s); record i is at 1700000000.5 s + i/64 s, "
        "i.e. 1700000000500000000 + i*15625000 ns");

    b.len = 0;
    ng_shb(&b, 0);
    ng_idb(&b, 0, 1, 62, 0);
    for (unsigned i = 0; i < 5; i++) {
        uint8_t spb[4 + 64];
        size_t l = good_frame(f, i), c = PDX_MIN(l, 62);
        pdx_gen_st32(spb, (uint32_t)l, 0);
        memcpy(spb + 4, f, c);
        ng_block(&b, 0, 3, spb, 4 + c);
    }
    put(m, "pcapng-simple-packet-blocks.pcapng", &b, 5, 0,
        "good: 5 SPBs (no timestamps), frames of 60-64 bytes, interface snaplen 62: "
        "caplen = min(origlen, 62)");

    b.len = 0;
    ng_shb(&b, 1);
    ng_idb(&b, 1, 1, 262144, 9);
    for (unsigned i = 0; i < 5; i++) {
        size_t l = good_frame(f, i);
        ng_epb(&b, 1, 0, (uint64_t)T0 * 1000000000u + i, f, (uint32_t)l, (uint32_t)l);
    }
    put(m, "pcapng-big-endian-nsec.pcapng", &b, 5, 0,
        "good: big-endian section, if_tsresol 9; record i at 1700000000 s + i ns");

    pdx_gen_buf_free(&b);
}

int pdx_gen_cmd_malformed(int argc, char **argv)
{
    mctx m;
    memset(&m, 0, sizeof m);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0)
            m.dir = pdx_gen_optarg(argc, argv, &i);
        else {
            fprintf(stderr, "pcapgen malformed: bad argument '%s'\n", argv[i]);
            pdx_gen_usage();
        }
    }
    if (m.dir == NULL)
        pdx_gen_usage();
    pdx_gen_mkdir(m.dir);
    m.mpath = pdx_gen_path(m.dir, "MANIFEST.tsv");
    m.manifest = pdx_gen_fopen(m.mpath);
    fprintf(m.manifest, "# file\texpected_records\texpect_error\tdescription\n");
    pcap_files(&m);
    pcapng_files(&m);
    pdx_gen_fclose(m.manifest, m.mpath);
    free(m.mpath);
    return 0;
}
