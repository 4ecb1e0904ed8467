/*
 * gen_split.c - `pcapgen split`: cut one capture into a rotated set at
 * record boundaries, like tcpdump -C or editcap -c.
 *
 * pcap: every output starts with the input's 24-byte header; records are
 * copied byte for byte.  pcapng: every output starts with the current SHB
 * (its section length set to -1, as the section is now shorter) and every
 * IDB seen so far in that section; all other blocks are copied byte for byte
 * into the file being written.  Outputs are PREFIX000.pcap, PREFIX001.pcap...
 * whatever the format (readers go by the magic).  --count N puts N packet
 * records in each file; --bytes N starts a new file before a record that
 * would take the current one past N bytes.
 */
#include "gen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RD_BUFSZ (16u * 1024u * 1024u)
#define MAX_BLOCK (256u * 1024u * 1024u)

typedef struct reader {
    int fd;
    const char *path;
    uint8_t *buf;
    size_t cap, pos, len;
    uint64_t off; /* file offset of buf[pos] */
} reader;

/* Makes n bytes available at r->buf + r->pos; returns how many are (fewer
 * only at the end of the file). */
static size_t rd_fill(reader *r, size_t n)
{
    if (r->len - r->pos >= n)
        return n;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap < n) {
        r->buf = pdx_gen_xrealloc(r->buf, n);
        r->cap = n;
    }
    while (r->len < n) {
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            pdx_gen_die("%s: read: %s", r->path, strerror(errno));
        }
        if (got == 0)
            break;
        r->len += (size_t)got;
    }
    return PDX_MIN(n, r->len);
}

static void rd_take(reader *r, size_t n)
{
    r->pos += n;
    r->off += n;
}

typedef struct splitter {
    const char *prefix;
    const char *ext;
    uint64_t count, bytes;
    unsigned nfile;
    int open;
    uint64_t nrec;  /* packet records in the current file */
    pdx_gen_out o;
    pdx_gen_buf hdr; /* what every file starts with */
} splitter;

static void sp_close(splitter *s)
{
    if (s->open)
        pdx_gen_out_close(&s->o);
    s->open = 0;
}

static void sp_open(splitter *s)
{
    char *name;
    size_t n = strlen(s->prefix) + 32;
    sp_close(s);
    name = pdx_gen_xmalloc(n);
    snprintf(name, n, "%s%03u%s", s->prefix, s->nfile++, s->ext);
    pdx_gen_out_open_raw(&s->o, name);
    free(name);
    pdx_gen_out_raw(&s->o, s->hdr.p, s->hdr.len);
    s->open = 1;
    s->nrec = 0;
}

/* Before a packet record of n bytes: rotate when the current file is full. */
static void sp_packet(splitter *s, const uint8_t *p, size_t n)
{
    if (s->open && s->nrec > 0 &&
        ((s->count && s->nrec >= s->count) || (s->bytes && s->o.total + n > s->bytes)))
        sp_close(s);
    if (!s->open)
        sp_open(s);
    pdx_gen_out_raw(&s->o, p, n);
    s->nrec++;
}

static void split_pcap(reader *r, splitter *s)
{
    uint32_t magic = pdx_gen_ld_le32(r->buf);
    int be = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u || magic == 0x34cdb2a1u;
    size_t rh = (magic == 0xa1b2cd34u || magic == 0x34cdb2a1u) ? 24 : 16;
    pdx_gen_buf_put(&s->hdr, r->buf, 24);
    rd_take(r, 24);
    sp_open(s);
    for (;;) {
        size_t got = rd_fill(r, rh);
        uint32_t caplen;
        if (got == 0)
            break;
        if (got < rh)
            pdx_gen_die("%s: truncated record header at offset %llu", r->path, (unsigned long long)r->off);
        caplen = be ? pdx_gen_ld_be32(r->buf + r->pos + 8) : pdx_gen_ld_le32(r->buf + r->pos + 8);
        if (caplen > MAX_BLOCK)
            pdx_gen_die("%s: record at offset %llu claims %u bytes", r->path, (unsigned long long)r->off,
                        caplen);
        if (rd_fill(r, rh + caplen) < rh + caplen)
            pdx_gen_die("%s: truncated record at offset %llu", r->path, (unsigned long long)r->off);
        sp_packet(s, r->buf + r->pos, rh + caplen);
        rd_take(r, rh + caplen);
    }
}

static void split_pcapng(reader *r, splitter *s)
{
    int be = 0;
    for (;;) {
        size_t got = rd_fill(r, 12);
        const uint8_t *b;
        uint32_t type, len;
        if (got == 0)
            break;
        if (got < 12)
            pdx_gen_die("%s: truncated block header at offset %llu", r->path, (unsigned long long)r->off);
        b = r->buf + r->pos;
        type = pdx_gen_ld_le32(b);
        if (type == 0x0a0d0d0au) {
            uint32_t bom = pdx_gen_ld_le32(b + 8);
            if (bom == 0x1a2b3c4du)
                be = 0;
            else if (bom == 0x4d3c2b1au)
                be = 1;
            else
                pdx_gen_die("%s: bad byte-order magic at offset %llu", r->path, (unsigned long long)r->off);
        } else if (be) {
            type = pdx_gen_ld_be32(b);
        }
        len = be ? pdx_gen_ld_be32(b + 4) : pdx_gen_ld_le32(b + 4);
        if (len < 12 || len % 4 != 0 || len > MAX_BLOCK)
            pdx_gen_die("%s: bad block length %u at offset %llu", r->path, len, (unsigned long long)r->off);
        if (rd_fill(r, len) < len)
            pdx_gen_die("%s: truncated block at offset %llu", r->path, (unsigned long long)r->off);
        b = r->buf + r->pos;
        switch (type) {
        case 0x0a0d0d0au: {
            uint8_t *h;
            if (s->open)
                pdx_gen_out_raw(&s->o, b, len);
            s->hdr.len = 0;
            h = pdx_gen_buf_grow(&s->hdr, len);
            memcpy(h, b, len);
            if (len >= 24)
                memset(h + 16, 0xff, 8); /* section length: unknown */
            break;
        }
        case 1: /* IDB */
            if (s->open)
                pdx_gen_out_raw(&s->o, b, len);
            pdx_gen_buf_put(&s->hdr, b, len);
            break;
        case 2: /* PB */
        case 3: /* SPB */
        case 6: /* EPB */
            sp_packet(s, b, len);
            break;
        default:
            if (!s->open)
                sp_open(s);
            pdx_gen_out_raw(&s->o, b, len);
            break;
        }
        rd_take(r, len);
    }
    if (s->nfile == 0)
        sp_open(s);
}

int pdx_gen_cmd_split(int argc, char **argv)
{
    const char *in = NULL;
    splitter s;
    reader r;
    uint32_t magic;

    memset(&s, 0, sizeof s);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (strcmp(a, "-o") == 0)
            s.prefix = pdx_gen_optarg(argc, argv, &i);
        else if (strcmp(a, "--count") == 0)
            bad = pdx_gen_parse_size(pdx_gen_optarg(argc, argv, &i), &s.count) || s.count == 0;
        else if (strcmp(a, "--bytes") == 0)
            bad = pdx_gen_parse_size(pdx_gen_optarg(argc, argv, &i), &s.bytes) || s.bytes == 0;
        else if (a[0] != '-' && in == NULL)
            in = a;
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "pcapgen split: bad argument '%s'\n", argv[i]);
            pdx_gen_usage();
        }
    }
    if (in == NULL || s.prefix == NULL || (s.count == 0) == (s.bytes == 0))
        pdx_gen_usage();
    s.ext = ".pcap";

    memset(&r, 0, sizeof r);
    r.path = in;
    r.fd = open(in, O_RDONLY);
    if (r.fd < 0)
        pdx_gen_die("%s: %s", in, strerror(errno));
    r.cap = RD_BUFSZ;
    r.buf = pdx_gen_xmalloc(r.cap);
    if (rd_fill(&r, 24) < 24)
        pdx_gen_die("%s: too short for a capture", in);
    magic = pdx_gen_ld_le32(r.buf);
    switch (magic) {
    case 0xa1b2c3d4u: case 0xd4c3b2a1u: case 0xa1b23c4du: case 0x4d3cb2a1u:
    case 0xa1b2cd34u: case 0x34cdb2a1u:
        split_pcap(&r, &s);
        break;
    case 0x0a0d0d0au:
        split_pcapng(&r, &s);
        break;
    default:
        pdx_gen_die("%s: not a pcap or pcapng file (magic 0x%08x)", in, magic);
    }
    sp_close(&s);
    close(r.fd);
    free(r.buf);
    pdx_gen_buf_free(&s.hdr);
    return 0;
}
