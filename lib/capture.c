/*
 * capture.c - the capture reader: classic pcap (both byte orders, usec/nsec,
 * the 24-byte Kuznetzov record header, pre-2.4 swapped lengths), pcapng
 * (every section, per-section byte order, EPB/SPB/PB) and snoop version 2.
 *
 * The reader keeps its own large buffer and refills it with read(2) (or the
 * caller's source callback); a record that straddles the end of the buffer is
 * moved to the front with its tail before the refill, so a record is always
 * contiguous and no record costs a system call or an allocation.  Over a
 * caller's memory it reads in place.
 *
 * Record parsing is shared with pdx_record_parse_at(): one function per
 * format parses a record from (bytes, length) at a known offset, says how many
 * bytes it needs when they are short, and validates the same way for the
 * sequential read and for the carver.
 *
 * Where libpcap (sf-pcap.c, sf-pcapng.c) and this reader differ, it is on
 * purpose and said where it happens: we are an indexer, so a problem that
 * keeps the framing is counted and the file goes on, where libpcap stops.
 */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"

/* The read buffer.  Every pcap/snoop record (at most 24 + PDX_MAX_CAPLEN
 * bytes) fits four times over; a larger pcapng block grows it once.  Small
 * enough to stay in the L2 cache between the kernel's copy and our parse:
 * over a 2 GB file in the page cache, 1 MiB took 25% less CPU than 8 MiB
 * (0.36 s against 0.44 s), 16 MiB more still. */
#ifndef CAP_BUFSIZE
#define CAP_BUFSIZE (1024u * 1024u)
#endif

/* Largest pcapng block we buffer to parse (SHB, IDB and packet blocks):
 * libpcap's INITIAL_MAX_BLOCKSIZE.  Other blocks may be of any size; they are
 * skipped without being buffered. */
#define NG_MAX_BLOCK (16u * 1024u * 1024u)

/* libpcap refuses a Section Header Block longer than this (BT_SHB_INSANE_MAX). */
#define NG_MAX_SHB (1024u * 1024u)

/* Bounds on what a hostile file can make us allocate for its tables. */
#define MAX_IFACES (1u << 20)
#define MAX_SECTIONS (1u << 20)

#define PCAP_FILEHDR 24u
#define SNOOP_FILEHDR 16u
#define SNOOP_RECHDR 24u

#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 1u
#define NG_PB 2u
#define NG_SPB 3u
#define NG_NRB 4u
#define NG_ISB 5u
#define NG_EPB 6u
#define NG_BOM 0x1A2B3C4Du

#define LT_UNKNOWN 0xFFFFFFFFu
#define IFACE_NONE 0xFFFFFFFFu

struct pdx_capture {
    /* Byte source: exactly one of fd >= 0, has_src, or mem. */
    int fd;
    int has_src;
    int mem;
    pdx_source src;

    uint8_t *buf;        /* our buffer (NULL over caller memory) */
    const uint8_t *data; /* buf, or the caller's memory */
    size_t cap;          /* size of buf */
    size_t pos;          /* next unread byte: data[pos] */
    size_t end;          /* data[pos..end) is valid */
    uint64_t base;       /* file offset of data[0] */
    int eof;             /* the source has nothing more */

    int err;                           /* sticky status; 0 while healthy */
    char errmsg[PDX_ERRBUF_SIZE];      /* what errbuf said when err was set */

    pdx_capinfo info;
    pdx_capstats stats;
    size_t ifaces_cap;
    size_t sections_cap;

    /* pcap */
    uint32_t snap_check; /* caplen over this counts as over_snaplen (0: none) */

    /* pcapng: the current section */
    int ng_be;
    uint32_t sec_first;  /* global index of its first interface */
    uint32_t sec_count;  /* interfaces seen in it so far */
    int64_t last_ts;     /* for SPBs, which carry no timestamp */
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static inline uint32_t ld32(const uint8_t *p, int be)
{
    return be ? pdx_load_be32(p) : pdx_load_le32(p);
}

static inline uint16_t ld16(const uint8_t *p, int be)
{
    return be ? pdx_load_be16(p) : pdx_load_le16(p);
}

static inline uint64_t ld64(const uint8_t *p, int be)
{
    uint64_t a = ld32(p, be), b = ld32(p + 4, be);
    return be ? (a << 32) | b : (b << 32) | a;
}

static inline int64_t pcap_ts(uint32_t sec, uint32_t frac, int nsec)
{
    /* A sub-second field of 1 s or more is carried into the seconds, as the
     * corpus oracle's ts_epoch does; the sum cannot overflow (< 2^63). */
    return (int64_t)sec * 1000000000 + (int64_t)frac * (nsec ? 1 : 1000);
}

const char *pdx_format_name(int format)
{
    switch (format) {
    case PDX_FMT_PCAP: return "pcap";
    case PDX_FMT_PCAPNG: return "pcapng";
    case PDX_FMT_SNOOP: return "snoop";
    default: return "unknown";
    }
}

/* floor(x * 1e9 / 2^n) for any 64-bit x, without 128-bit arithmetic. */
static uint64_t mul1e9_shr(uint64_t x, unsigned n)
{
    uint64_t a = (x >> 32) * 1000000000u;        /* < 2^62 */
    uint64_t b = (x & 0xFFFFFFFFu) * 1000000000u; /* < 2^62 */
    uint64_t mid = a + (b >> 32);                 /* x*1e9 = mid*2^32 + (b & 0xffffffff) */
    if (n >= 32)
        return n - 32 >= 64 ? 0 : mid >> (n - 32);
    /* n < 32: only called with x < 2^n here, so x*1e9 < 2^62 */
    return (x * 1000000000u) >> n;
}

static uint64_t pow10u(unsigned n) /* n <= 19 */
{
    uint64_t v = 1;
    while (n-- > 0)
        v *= 10;
    return v;
}

int64_t pdx_ts_to_ns(uint64_t ticks, uint8_t tsresol, int64_t tsoffset_s)
{
    unsigned n = tsresol & 0x7Fu;
    uint64_t sec, frac_ns;
    int64_t s;

    if (tsresol & 0x80u) {
        /* 2^-n seconds per tick */
        if (n >= 64) {
            sec = 0;
            frac_ns = mul1e9_shr(ticks, n);
        } else {
            sec = n == 0 ? ticks : ticks >> n;
            frac_ns = n == 0 ? 0 : mul1e9_shr(ticks & ((UINT64_C(1) << n) - 1), n);
        }
    } else if (n <= 19) {
        /* 10^-n seconds per tick */
        uint64_t r = pow10u(n);
        uint64_t frac = ticks % r;
        sec = ticks / r;
        frac_ns = n <= 9 ? frac * pow10u(9 - n) : frac / pow10u(n - 9);
    } else {
        /* 10^n > 2^64 > ticks: under a second */
        sec = 0;
        frac_ns = n - 9 <= 19 ? ticks / pow10u(n - 9) : 0;
    }

    /* Seconds and offset first, so a negative offset can pull a large tick
     * count back; saturate rather than wrap on garbage. */
    s = sec > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)sec;
    if (tsoffset_s > 0 && s > INT64_MAX - tsoffset_s)
        return INT64_MAX;
    if (tsoffset_s < 0 && s < INT64_MIN - tsoffset_s)
        return INT64_MIN;
    s += tsoffset_s;
    if (s > INT64_MAX / 1000000000 ||
        (s == INT64_MAX / 1000000000 && (int64_t)frac_ns > INT64_MAX % 1000000000))
        return INT64_MAX;
    if (s < INT64_MIN / 1000000000)
        return INT64_MIN;
    return s * 1000000000 + (int64_t)frac_ns;
}

/* ------------------------------------------------------------------------ */
/* Record parsers shared by the sequential reader and parse_at.  Each parses
 * the record at file offset off from n bytes at p.  Returns 0 with *rec
 * filled, PDX_ETRUNC with *need set, or another negative code with errbuf
 * set.  Statistics are the caller's business (it gets the flags back).     */

enum { F_OVER_SNAP = 1, F_CAP_GT_LEN = 2, F_BAD_IFACE = 4, F_SPB_NO_IFACE = 8, F_TS_RANGE = 16 };

static int pcap_record(const pdx_capinfo *info, uint32_t snap_check, uint64_t off,
                       const uint8_t *p, size_t n, pdx_record *rec, size_t *need, unsigned *flags,
                       char *errbuf)
{
    uint32_t hdrlen = info->pcap_hdrlen, sec, frac, caplen, len;
    int be = info->big_endian;

    if (n < hdrlen) {
        *need = hdrlen;
        return PDX_ETRUNC;
    }
    sec = ld32(p, be);
    frac = ld32(p + 4, be);
    caplen = ld32(p + 8, be);
    len = ld32(p + 12, be);
    /* Pre-2.3 files store len before caplen; 2.3 files may or may not
     * (sf-pcap.c: SWAPPED / MAYBE_SWAPPED). */
    if (PDX_UNLIKELY(info->pcap_swapped_lens) &&
        (info->pcap_swapped_lens == 1 || caplen > len)) {
        uint32_t t = caplen;
        caplen = len;
        len = t;
    }
    if (PDX_UNLIKELY(caplen > PDX_MAX_CAPLEN))
        return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: record caplen %u exceeds %u",
                        (unsigned long long)off, caplen, PDX_MAX_CAPLEN);
    if (n - hdrlen < caplen) {
        *need = (size_t)hdrlen + caplen;
        return PDX_ETRUNC;
    }
    /* Over the snaplen: libpcap reads the record whole and reports it cut to
     * the snaplen; we keep the stored caplen (the bytes are in the file, and
     * the offsets oracle and the carver need the stored length) and count it. */
    *flags = (snap_check != 0 && caplen > snap_check ? F_OVER_SNAP : 0) |
             (caplen > len ? F_CAP_GT_LEN : 0);
    rec->offset = off;
    rec->next_offset = off + hdrlen + caplen;
    rec->ts_ns = pcap_ts(sec, frac, info->pcap_nsec);
    rec->caplen = caplen;
    rec->origlen = len;
    rec->linktype = info->n_ifaces > 0 ? info->ifaces[0].linktype : LT_UNKNOWN;
    rec->iface = 0;
    rec->block_type = 0;
    rec->data_off = hdrlen;
    rec->data = p + hdrlen;
    return 0;
}

static int snoop_record(const pdx_capinfo *info, uint64_t off, const uint8_t *p, size_t n,
                        pdx_record *rec, size_t *need, unsigned *flags, char *errbuf)
{
    uint32_t origlen, caplen, reclen, sec, usec;

    if (n < SNOOP_RECHDR) {
        *need = SNOOP_RECHDR;
        return PDX_ETRUNC;
    }
    origlen = pdx_load_be32(p);
    caplen = pdx_load_be32(p + 4);
    reclen = pdx_load_be32(p + 8);
    /* p + 12: cumulative drops */
    sec = pdx_load_be32(p + 16);
    usec = pdx_load_be32(p + 20);
    if (PDX_UNLIKELY(caplen > PDX_MAX_CAPLEN))
        return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: record caplen %u exceeds %u",
                        (unsigned long long)off, caplen, PDX_MAX_CAPLEN);
    /* The record length covers header, data and padding (wiretap's snoop.c
     * rejects a record shorter than its header plus its data). */
    if (PDX_UNLIKELY(reclen < SNOOP_RECHDR + caplen || reclen > SNOOP_RECHDR + caplen + 1024))
        return pdx_errf(errbuf, PDX_ECORRUPT,
                        "offset %llu: snoop record length %u does not fit caplen %u",
                        (unsigned long long)off, reclen, caplen);
    if (n < reclen) {
        *need = reclen;
        return PDX_ETRUNC;
    }
    *flags = caplen > origlen ? F_CAP_GT_LEN : 0;
    rec->offset = off;
    rec->next_offset = off + reclen;
    rec->ts_ns = pcap_ts(sec, usec, 0);
    rec->caplen = caplen;
    rec->origlen = origlen;
    rec->linktype = info->n_ifaces > 0 ? info->ifaces[0].linktype : LT_UNKNOWN;
    rec->iface = 0;
    rec->block_type = 0;
    rec->data_off = SNOOP_RECHDR;
    rec->data = p + SNOOP_RECHDR;
    return 0;
}

/* What a pcapng packet block needs to know of its section. */
typedef struct ng_ctx {
    int be;
    const pdx_iface *ifaces; /* global table */
    uint32_t first;          /* global index of the section's first interface */
    uint32_t count;          /* interfaces of the section */
    int64_t last_ts;         /* timestamp given to SPBs */
} ng_ctx;

/* Checks the common block framing of n >= 8 bytes at p: 0 with *len set,
 * PDX_ETRUNC with *need when the block is not all there, PDX_ECORRUPT. */
static int ng_frame(uint64_t off, const uint8_t *p, size_t n, int be, uint32_t *len, size_t *need,
                    char *errbuf)
{
    uint32_t l = ld32(p + 4, be), t;
    if (PDX_UNLIKELY(l < 12))
        return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: block length %u is less than 12",
                        (unsigned long long)off, l);
    if (PDX_UNLIKELY(l % 4 != 0))
        return pdx_errf(errbuf, PDX_ECORRUPT,
                        "offset %llu: block length %u is not a multiple of 4",
                        (unsigned long long)off, l);
    if (n < l) {
        *need = l;
        return PDX_ETRUNC;
    }
    t = ld32(p + l - 4, be);
    if (PDX_UNLIKELY(t != l))
        return pdx_errf(errbuf, PDX_ECORRUPT,
                        "offset %llu: block length %u but trailing length %u",
                        (unsigned long long)off, l, t);
    *len = l;
    return 0;
}

/* Parses a whole, framed EPB/SPB/PB of len bytes at p. */
static int ng_packet(const ng_ctx *x, uint64_t off, const uint8_t *p, uint32_t len, uint32_t type,
                     pdx_record *rec, unsigned *flags, char *errbuf)
{
    int be = x->be;
    uint32_t local, caplen, origlen, hdr, room;
    uint64_t ticks = 0;
    const pdx_iface *ifc = NULL;
    unsigned fl = 0;

    if (type == NG_SPB) {
        hdr = 12;
        if (PDX_UNLIKELY(len < hdr + 4))
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: SPB of %u bytes is too short",
                            (unsigned long long)off, len);
        origlen = ld32(p + 8, be);
        room = len - hdr - 4;
        local = 0;
        caplen = origlen;
        /* SPBs come from the section's first interface; the captured length
         * is the packet length cut to its snaplen (sf-pcapng.c), and never
         * more than the block holds. */
        if (x->count > 0) {
            ifc = &x->ifaces[x->first];
            if (ifc->snaplen != 0 && caplen > ifc->snaplen)
                caplen = ifc->snaplen;
        } else {
            fl |= F_SPB_NO_IFACE;
        }
        if (caplen > room)
            caplen = room;
        if (PDX_UNLIKELY(caplen > PDX_MAX_CAPLEN))
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: SPB caplen %u exceeds %u",
                            (unsigned long long)off, caplen, PDX_MAX_CAPLEN);
    } else {
        hdr = 28;
        if (PDX_UNLIKELY(len < hdr + 4))
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: %s of %u bytes is too short",
                            (unsigned long long)off, type == NG_EPB ? "EPB" : "PB", len);
        if (type == NG_EPB)
            local = ld32(p + 8, be);
        else
            local = ld16(p + 8, be); /* then a 16-bit drops count */
        ticks = ((uint64_t)ld32(p + 12, be) << 32) | ld32(p + 16, be);
        caplen = ld32(p + 20, be);
        origlen = ld32(p + 24, be);
        if (PDX_UNLIKELY(caplen > PDX_MAX_CAPLEN))
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: %s caplen %u exceeds %u",
                            (unsigned long long)off, type == NG_EPB ? "EPB" : "PB", caplen,
                            PDX_MAX_CAPLEN);
        if (PDX_UNLIKELY(caplen > len - hdr - 4))
            return pdx_errf(errbuf, PDX_ECORRUPT,
                            "offset %llu: %s caplen %u does not fit in a block of %u bytes",
                            (unsigned long long)off, type == NG_EPB ? "EPB" : "PB", caplen, len);
        if (local < x->count)
            ifc = &x->ifaces[x->first + local];
        else
            fl |= F_BAD_IFACE;
        if (caplen > origlen)
            fl |= F_CAP_GT_LEN;
    }
    /* libpcap's pcap_ng_next_packet() refuses a caplen over the snaplen and
     * a packet on an unknown interface; both keep the framing, so we count
     * them and go on. */
    if (ifc != NULL && ifc->snaplen != 0 && caplen > ifc->snaplen)
        fl |= F_OVER_SNAP;

    rec->offset = off;
    rec->next_offset = off + len;
    if (type == NG_SPB)
        rec->ts_ns = x->last_ts;
    else if (ifc != NULL)
        rec->ts_ns = pdx_ts_to_ns(ticks, ifc->tsresol, ifc->tsoffset_s);
    else
        rec->ts_ns = pdx_ts_to_ns(ticks, 6, 0); /* the pcapng default: microseconds */
    if (type != NG_SPB && (rec->ts_ns == INT64_MAX || rec->ts_ns == INT64_MIN))
        fl |= F_TS_RANGE;
    rec->caplen = caplen;
    rec->origlen = origlen;
    /* A packet naming an interface that does not exist keeps its framing, so
     * it is still returned (indexed, carvable), with no interface. */
    rec->linktype = ifc != NULL ? ifc->linktype : LT_UNKNOWN;
    rec->iface = ifc != NULL ? x->first + local : IFACE_NONE;
    rec->block_type = type;
    rec->data_off = hdr;
    rec->data = p + hdr;
    *flags = fl;
    return 0;
}

static void count_flags(pdx_capstats *st, unsigned fl)
{
    if (fl & F_OVER_SNAP)
        st->over_snaplen++;
    if (fl & F_CAP_GT_LEN)
        st->caplen_gt_len++;
    if (fl & F_BAD_IFACE)
        st->bad_iface++;
    if (fl & F_SPB_NO_IFACE)
        st->spb_no_iface++;
    if (fl & F_TS_RANGE)
        st->ts_out_of_range++;
}

/* ------------------------------------------------------------------------ */
/* Buffer management                                                        */

/* Makes code sticky.  errbuf (never NULL here) already holds the message. */
static int fail(pdx_capture *c, char *errbuf, int code)
{
    c->err = code;
    memcpy(c->errmsg, errbuf, PDX_ERRBUF_SIZE);
    return code;
}

#define FAILF(c, errbuf, code, ...) fail((c), (errbuf), pdx_errf((errbuf), (code), __VA_ARGS__))

static ssize_t src_read(pdx_capture *c, uint8_t *dst, size_t n)
{
    for (;;) {
        ssize_t r = c->has_src ? c->src.read(c->src.ctx, dst, n) : read(c->fd, dst, n);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

/* Makes n bytes available at data + pos unless the file ends first.  Returns
 * the bytes available (fewer than n only at the end of the file) in *have;
 * 0, or PDX_EIO/PDX_ENOMEM with errbuf set. */
static int fill(pdx_capture *c, size_t n, size_t *have, char *errbuf)
{
    size_t h = c->end - c->pos;
    if (h >= n || c->eof) {
        *have = h;
        return 0;
    }
    if (n > c->cap) {
        size_t ncap = (n + (1u << 20) - 1) & ~(size_t)((1u << 20) - 1);
        uint8_t *nb = malloc(ncap);
        if (nb == NULL)
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory for a %zu-byte buffer", ncap);
        memcpy(nb, c->buf + c->pos, h);
        free(c->buf);
        c->buf = nb;
        c->data = nb;
        c->cap = ncap;
        c->base += c->pos;
        c->pos = 0;
        c->end = h;
    } else if (c->pos > 0) {
        /* Keep the unread tail and refill behind it. */
        memmove(c->buf, c->buf + c->pos, h);
        c->base += c->pos;
        c->pos = 0;
        c->end = h;
    }
    while (c->end < n) {
        ssize_t r = src_read(c, c->buf + c->end, c->cap - c->end);
        if (r < 0)
            return pdx_errf(errbuf, PDX_EIO, "offset %llu: read error: %s",
                            (unsigned long long)(c->base + c->end), strerror(errno));
        if (r == 0) {
            c->eof = 1;
            break;
        }
        c->end += (size_t)r;
    }
    *have = c->end - c->pos;
    return 0;
}

/* Consumes n bytes without keeping them (big pcapng blocks). */
static int skip(pdx_capture *c, uint64_t n, char *errbuf)
{
    size_t h = c->end - c->pos;
    if (n <= h) {
        c->pos += (size_t)n;
        return 0;
    }
    n -= h;
    c->base += c->end;
    c->pos = c->end = 0;
    if (c->eof)
        return 0; /* the caller finds the end when it reads what follows */
    if (c->fd >= 0) {
        /* A regular file: seeking past its end is fine, the next read says 0. */
        if (n > (uint64_t)INT64_MAX || lseek(c->fd, (off_t)n, SEEK_CUR) < 0)
            return pdx_errf(errbuf, PDX_EIO, "offset %llu: seek error: %s",
                            (unsigned long long)c->base, strerror(errno));
        c->base += n;
        return 0;
    }
    if (c->has_src && c->src.skip != NULL) {
        if (c->src.skip(c->src.ctx, n) != 0)
            return pdx_errf(errbuf, PDX_EIO, "offset %llu: skip error: %s",
                            (unsigned long long)c->base, strerror(errno));
        c->base += n;
        return 0;
    }
    while (n > 0) {
        ssize_t r = src_read(c, c->buf, (size_t)PDX_MIN((uint64_t)c->cap, n));
        if (r < 0)
            return pdx_errf(errbuf, PDX_EIO, "offset %llu: read error: %s",
                            (unsigned long long)c->base, strerror(errno));
        if (r == 0) {
            c->eof = 1;
            return 0;
        }
        c->base += (uint64_t)r;
        n -= (uint64_t)r;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                   */

static pdx_iface *add_iface(pdx_capture *c)
{
    pdx_iface *f;
    if (c->info.n_ifaces == c->ifaces_cap) {
        size_t ncap = c->ifaces_cap ? c->ifaces_cap * 2 : 4;
        pdx_iface *t = realloc(c->info.ifaces, ncap * sizeof(*t));
        if (t == NULL)
            return NULL;
        c->info.ifaces = t;
        c->ifaces_cap = ncap;
    }
    f = &c->info.ifaces[c->info.n_ifaces++];
    memset(f, 0, sizeof(*f));
    f->tsresol = 6;
    return f;
}

static int add_section(pdx_capture *c, uint64_t off, int be)
{
    pdx_section *s;
    if (c->info.n_sections == c->sections_cap) {
        size_t ncap = c->sections_cap ? c->sections_cap * 2 : 4;
        pdx_section *t = realloc(c->info.sections, ncap * sizeof(*t));
        if (t == NULL)
            return -1;
        c->info.sections = t;
        c->sections_cap = ncap;
    }
    s = &c->info.sections[c->info.n_sections++];
    s->offset = off;
    s->big_endian = (uint32_t)be;
    s->first_iface = (uint32_t)c->info.n_ifaces;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* pcapng blocks                                                            */

/* A whole, framed SHB of len bytes at p.  first: the file's first block. */
static int ng_shb(pdx_capture *c, uint64_t off, const uint8_t *p, uint32_t len, int be, int first,
                  char *errbuf)
{
    uint16_t major, minor;
    if (len < 28)
        return pdx_errf(errbuf, PDX_ECORRUPT,
                        "offset %llu: section header block of %u bytes is too short",
                        (unsigned long long)off, len);
    major = ld16(p + 12, be);
    minor = ld16(p + 14, be);
    /* As libpcap: the first section must be 1.0 or 1.2; later sections need
     * only major version 1. */
    if (major != 1 || (first && minor != 0 && minor != 2))
        return pdx_errf(errbuf, PDX_EFORMAT, "offset %llu: unsupported pcapng version %u.%u",
                        (unsigned long long)off, major, minor);
    if (c->info.n_sections >= MAX_SECTIONS)
        return pdx_errf(errbuf, PDX_ETOOBIG, "offset %llu: more than %u sections",
                        (unsigned long long)off, MAX_SECTIONS);
    if (add_section(c, off, be) != 0)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory for the section table");
    if (first) {
        c->info.big_endian = be;
        c->info.version_major = major;
        c->info.version_minor = minor;
    }
    c->ng_be = be;
    c->sec_first = (uint32_t)c->info.n_ifaces;
    c->sec_count = 0;
    return 0;
}

/* A whole, framed IDB.  Malformed options are ignored (libpcap rejects the
 * file; the framing is intact, so we keep the defaults and go on). */
static int ng_idb(pdx_capture *c, uint64_t off, const uint8_t *p, uint32_t len, char *errbuf)
{
    int be = c->ng_be, saw_res = 0, saw_off = 0;
    pdx_iface *f;
    pdx_cur cur;

    if (len < 20)
        return pdx_errf(errbuf, PDX_ECORRUPT,
                        "offset %llu: interface description block of %u bytes is too short",
                        (unsigned long long)off, len);
    if (c->info.n_ifaces >= MAX_IFACES)
        return pdx_errf(errbuf, PDX_ETOOBIG, "offset %llu: more than %u interfaces",
                        (unsigned long long)off, MAX_IFACES);
    f = add_iface(c);
    if (f == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory for the interface table");
    f->linktype = ld16(p + 8, be);
    f->snaplen = ld32(p + 12, be);
    f->section = (uint32_t)(c->info.n_sections - 1);
    f->if_local = c->sec_count++;
    if (c->info.n_ifaces == 1)
        c->info.snaplen = f->snaplen;

    cur = pdx_cur_make(p + 16, len - 20);
    while (pdx_cur_left(&cur) >= 4) {
        uint16_t code = be ? pdx_cur_be16(&cur) : pdx_cur_le16(&cur);
        uint16_t olen = be ? pdx_cur_be16(&cur) : pdx_cur_le16(&cur);
        const uint8_t *v;
        if (code == 0)
            break;
        v = pdx_cur_take(&cur, ((size_t)olen + 3) & ~(size_t)3);
        if (v == NULL) {
            c->stats.bad_options++;
            break;
        }
        switch (code) {
        case 2: { /* if_name */
            size_t k = PDX_MIN((size_t)olen, sizeof(f->name) - 1);
            memcpy(f->name, v, k);
            f->name[k] = '\0';
            break;
        }
        case 9: /* if_tsresol */
            if (olen != 1 || saw_res) {
                c->stats.bad_options++;
                break;
            }
            saw_res = 1;
            f->tsresol = v[0];
            break;
        case 13: /* if_fcslen */
            if (olen == 1)
                f->fcslen = v[0];
            break;
        case 14: /* if_tsoffset */
            if (olen != 8 || saw_off) {
                c->stats.bad_options++;
                break;
            }
            saw_off = 1;
            f->tsoffset_s = (int64_t)ld64(v, be);
            break;
        default:
            break;
        }
    }
    return 0;
}

static int ng_known_block(uint32_t type)
{
    switch (type) {
    case NG_NRB:
    case NG_ISB:
    case 7:           /* IRIG timestamp (obsolete) */
    case 8:           /* ARINC 429 */
    case 9:           /* systemd journal export */
    case 10:          /* decryption secrets */
    case 0x00000BADu: /* custom, may be copied */
    case 0x40000BADu: /* custom, do not copy */
        return 1;
    default:
        return 0;
    }
}

static int ng_next(pdx_capture *c, pdx_record *rec, char *errbuf)
{
    for (;;) {
        uint64_t off = c->base + c->pos;
        size_t have, need = 0;
        uint32_t type, len;
        const uint8_t *p;
        int be = c->ng_be, rc;

        if ((rc = fill(c, 12, &have, errbuf)) != 0)
            return fail(c, errbuf, rc);
        if (have == 0)
            return 0;
        if (have < 8)
            return FAILF(c, errbuf, PDX_ETRUNC,
                         "offset %llu: truncated block header (%zu of 8 bytes)",
                         (unsigned long long)off, have);
        p = c->data + c->pos;
        type = ld32(p, be);
        if (type == NG_SHB) {
            /* A new section says its own byte order. */
            uint32_t bom;
            if (have < 12)
                return FAILF(c, errbuf, PDX_ETRUNC,
                             "offset %llu: truncated section header block (%zu bytes)",
                             (unsigned long long)off, have);
            bom = pdx_load_be32(p + 8);
            if (bom == NG_BOM)
                be = 1;
            else if (bom == 0x4D3C2B1Au)
                be = 0;
            else
                return FAILF(c, errbuf, PDX_ECORRUPT,
                             "offset %llu: section header block with bad byte-order magic 0x%08x",
                             (unsigned long long)off, bom);
        }
        len = ld32(p + 4, be);

        if (type == NG_SHB || type == NG_IDB || type == NG_EPB || type == NG_SPB ||
            type == NG_PB) {
            uint32_t lim = type == NG_SHB ? NG_MAX_SHB : NG_MAX_BLOCK;
            if (len > lim)
                return FAILF(c, errbuf, PDX_ECORRUPT,
                             "offset %llu: block type 0x%08x length %u exceeds %u",
                             (unsigned long long)off, type, len, lim);
            if ((rc = fill(c, len < 12 ? 12 : len, &have, errbuf)) != 0)
                return fail(c, errbuf, rc);
            p = c->data + c->pos;
            rc = ng_frame(off, p, have, be, &len, &need, errbuf);
            if (rc == PDX_ETRUNC)
                return FAILF(c, errbuf, PDX_ETRUNC,
                             "offset %llu: block of %zu bytes runs past end of file",
                             (unsigned long long)off, need);
            if (rc != 0)
                return fail(c, errbuf, rc);
            if (type == NG_SHB) {
                rc = ng_shb(c, off, p, len, be, 0, errbuf);
            } else if (type == NG_IDB) {
                rc = ng_idb(c, off, p, len, errbuf);
            } else {
                ng_ctx x;
                unsigned fl = 0;
                x.be = be;
                x.ifaces = c->info.ifaces;
                x.first = c->sec_first;
                x.count = c->sec_count;
                x.last_ts = c->last_ts;
                rc = ng_packet(&x, off, p, len, type, rec, &fl, errbuf);
                if (rc == 0) {
                    count_flags(&c->stats, fl);
                    c->stats.records++;
                    c->last_ts = rec->ts_ns;
                    c->pos += len;
                    return 1;
                }
            }
            if (rc != 0)
                return fail(c, errbuf, rc);
            c->pos += len;
            continue;
        }

        /* Anything else is skipped: buffered when small, streamed past when
         * not, the trailing length checked either way. */
        if (len < 12 || len % 4 != 0) {
            rc = ng_frame(off, p, have, be, &len, &need, errbuf);
            return fail(c, errbuf, rc);
        }
        c->stats.skipped_blocks++;
        if (!ng_known_block(type))
            c->stats.unknown_blocks++;
        if (c->mem || len <= c->cap) {
            if ((rc = fill(c, len, &have, errbuf)) != 0)
                return fail(c, errbuf, rc);
            rc = ng_frame(off, c->data + c->pos, have, be, &len, &need, errbuf);
            if (rc == PDX_ETRUNC)
                return FAILF(c, errbuf, PDX_ETRUNC,
                             "offset %llu: block of %zu bytes runs past end of file",
                             (unsigned long long)off, need);
            if (rc != 0)
                return fail(c, errbuf, rc);
            c->pos += len;
        } else {
            uint32_t t;
            if ((rc = skip(c, (uint64_t)len - 4, errbuf)) != 0)
                return fail(c, errbuf, rc);
            if ((rc = fill(c, 4, &have, errbuf)) != 0)
                return fail(c, errbuf, rc);
            if (have < 4)
                return FAILF(c, errbuf, PDX_ETRUNC,
                             "offset %llu: block of %u bytes runs past end of file",
                             (unsigned long long)off, len);
            t = ld32(c->data + c->pos, be);
            if (t != len)
                return FAILF(c, errbuf, PDX_ECORRUPT,
                             "offset %llu: block length %u but trailing length %u",
                             (unsigned long long)off, len, t);
            c->pos += 4;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */

static int snoop_linktype(uint32_t dl, uint32_t *lt)
{
    /* Solaris DLPI datalink codes as libpcap's dlpisubs.c maps them. */
    switch (dl) {
    case 0x00: /* DL_CSMACD */
    case 0x04: /* DL_ETHER */
        *lt = 1;
        return 0;
    case 0x02: /* DL_TPR */
        *lt = 6;
        return 0;
    case 0x08: /* DL_FDDI */
        *lt = 10;
        return 0;
    case 0x12: /* DL_IPATM */
        *lt = 123; /* SunATM */
        return 0;
    case 0x1a: /* DL_IB */
        *lt = 242; /* IP over InfiniBand */
        return 0;
    default:
        return -1;
    }
}

static int open_pcap(pdx_capture *c, const uint8_t *h, size_t have, char *errbuf)
{
    uint32_t magic = pdx_load_le32(h), field, snaplen;
    int be;
    pdx_iface *f;

    if (have < PCAP_FILEHDR)
        return pdx_errf(errbuf, PDX_EFORMAT, "short pcap file header (%zu of %u bytes)", have,
                        PCAP_FILEHDR);
    /* A little-endian file starts d4 c3 b2 a1, read here as 0xa1b2c3d4. */
    be = !(magic == 0xa1b2c3d4u || magic == 0xa1b23c4du || magic == 0xa1b2cd34u);
    magic = ld32(h, be);
    c->info.format = PDX_FMT_PCAP;
    c->info.big_endian = be;
    c->info.version_major = ld16(h + 4, be);
    c->info.version_minor = ld16(h + 6, be);
    c->info.pcap_nsec = magic == 0xa1b23c4du;
    c->info.pcap_hdrlen = magic == 0xa1b2cd34u ? 24 : 16;
    /* Lengths were interchanged at 2.3 (sf-pcap.c).  libpcap calls versions
     * before 2 archaic and refuses them; the files that exist store the
     * pre-2.3 order, so we read them that way.  DG/UX writes 543.0. */
    if (c->info.version_major < 2 ||
        (c->info.version_major == 2 && c->info.version_minor < 3) ||
        (c->info.version_major == 543 && c->info.version_minor == 0))
        c->info.pcap_swapped_lens = 1;
    else if (c->info.version_major == 2 && c->info.version_minor == 3)
        c->info.pcap_swapped_lens = 2;
    snaplen = ld32(h + 16, be);
    field = ld32(h + 20, be);
    c->info.snaplen = snaplen;

    f = add_iface(c);
    if (f == NULL || add_section(c, 0, be) != 0)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    /* Low 26 bits: link type; bit 26 says the upper 4 bits hold the FCS
     * length in 16-bit words. */
    f->linktype = field & 0x03FFFFFFu;
    if (field & 0x04000000u)
        f->fcslen = (uint8_t)(((field >> 28) & 0xFu) * 2);
    f->snaplen = snaplen;
    f->tsresol = c->info.pcap_nsec ? 9 : 6;
    c->snap_check = snaplen;
    /* libpcap adds 14 to the snaplen of Kuznetzov Ethernet captures, which
     * may have been made in cooked mode with a faked Ethernet header. */
    if (snaplen != 0 && c->info.pcap_hdrlen == 24 && f->linktype == 1 && snaplen <= UINT32_MAX - 14)
        c->snap_check = snaplen + 14;
    c->pos += PCAP_FILEHDR;
    return 0;
}

static int open_snoop(pdx_capture *c, const uint8_t *h, size_t have, char *errbuf)
{
    uint32_t version, dl, lt;
    pdx_iface *f;

    if (have < SNOOP_FILEHDR)
        return pdx_errf(errbuf, PDX_EFORMAT, "short snoop file header (%zu of %u bytes)", have,
                        SNOOP_FILEHDR);
    version = pdx_load_be32(h + 8);
    dl = pdx_load_be32(h + 12);
    if (version != 2)
        return pdx_errf(errbuf, PDX_EFORMAT, "unsupported snoop version %u", version);
    if (snoop_linktype(dl, &lt) != 0)
        return pdx_errf(errbuf, PDX_EFORMAT, "unsupported snoop datalink type %u", dl);
    c->info.format = PDX_FMT_SNOOP;
    c->info.big_endian = 1;
    c->info.version_major = (uint16_t)version;
    f = add_iface(c);
    if (f == NULL || add_section(c, 0, 1) != 0)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    f->linktype = lt;
    c->pos += SNOOP_FILEHDR;
    return 0;
}

static int open_pcapng(pdx_capture *c, char *errbuf)
{
    size_t have, need = 0;
    uint32_t bom, len;
    const uint8_t *p;
    int be, rc;

    if ((rc = fill(c, 12, &have, errbuf)) != 0)
        return rc;
    if (have < 12)
        return pdx_errf(errbuf, PDX_EFORMAT, "short pcapng section header (%zu bytes)", have);
    p = c->data + c->pos;
    bom = pdx_load_be32(p + 8);
    if (bom == NG_BOM)
        be = 1;
    else if (bom == 0x4D3C2B1Au)
        be = 0;
    else
        return pdx_errf(errbuf, PDX_EFORMAT,
                        "not a capture: pcapng block type without byte-order magic (0x%08x)", bom);
    len = ld32(p + 4, be);
    if (len < 28 || len > NG_MAX_SHB)
        return pdx_errf(errbuf, PDX_EFORMAT,
                        "offset 0: section header block length %u out of range", len);
    if ((rc = fill(c, len, &have, errbuf)) != 0)
        return rc;
    p = c->data + c->pos;
    rc = ng_frame(0, p, have, be, &len, &need, errbuf);
    if (rc == PDX_ETRUNC)
        return pdx_errf(errbuf, PDX_EFORMAT,
                        "short pcapng section header (%zu of %zu bytes)", have, need);
    if (rc != 0)
        return PDX_EFORMAT; /* errbuf says why, with the offset */
    c->info.format = PDX_FMT_PCAPNG;
    if ((rc = ng_shb(c, 0, p, len, be, 1, errbuf)) != 0)
        return rc == PDX_ENOMEM ? rc : PDX_EFORMAT;
    c->pos += len;
    return 0;
}

/* Reads and checks the file header; on success the reader stands at the
 * first record. */
static int open_common(pdx_capture *c, char *errbuf)
{
    size_t have;
    const uint8_t *h;
    uint32_t le;
    int rc;

    if ((rc = fill(c, PCAP_FILEHDR, &have, errbuf)) != 0)
        return rc;
    h = c->data + c->pos;
    if (have == 0)
        return pdx_errf(errbuf, PDX_EFORMAT, "empty file");
    if (have >= 2 && h[0] == 0x1f && h[1] == 0x8b)
        return pdx_errf(errbuf, PDX_EFORMAT, "gzip-compressed file; decompress it first");
    if (have >= 4 && pdx_load_be32(h) == 0x28b52ffdu)
        return pdx_errf(errbuf, PDX_EFORMAT, "zstd-compressed file; decompress it first");
    if (have >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h')
        return pdx_errf(errbuf, PDX_EFORMAT, "bzip2-compressed file; decompress it first");
    if (have >= 6 && memcmp(h, "\xfd" "7zXZ\0", 6) == 0)
        return pdx_errf(errbuf, PDX_EFORMAT, "xz-compressed file; decompress it first");
    if (have < 4)
        return pdx_errf(errbuf, PDX_EFORMAT, "short file (%zu bytes): not a capture", have);
    le = pdx_load_le32(h);
    switch (le) {
    case 0xa1b2c3d4u: case 0xd4c3b2a1u: /* usec */
    case 0xa1b23c4du: case 0x4d3cb2a1u: /* nsec */
    case 0xa1b2cd34u: case 0x34cdb2a1u: /* Kuznetzov: 24-byte record headers */
        return open_pcap(c, h, have, errbuf);
    case NG_SHB:
        return open_pcapng(c, errbuf);
    default:
        break;
    }
    if (have >= 8 && memcmp(h, "snoop\0\0\0", 8) == 0) {
        if ((rc = fill(c, SNOOP_FILEHDR, &have, errbuf)) != 0)
            return rc;
        return open_snoop(c, c->data + c->pos, have, errbuf);
    }
    return pdx_errf(errbuf, PDX_EFORMAT, "unknown file format (first bytes %02x %02x %02x %02x)",
                    h[0], h[1], h[2], h[3]);
}

/* A reader with a buffer of bufsize bytes (none when 0). */
static pdx_capture *new_reader(size_t bufsize, char *errbuf)
{
    pdx_capture *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        return NULL;
    }
    c->fd = -1;
    if (bufsize > 0) {
        c->buf = malloc(bufsize);
        if (c->buf == NULL) {
            free(c);
            pdx_errf(errbuf, PDX_ENOMEM, "out of memory for the read buffer");
            return NULL;
        }
        c->cap = bufsize;
        c->data = c->buf;
    }
    return c;
}

static int finish_open(pdx_capture *c, pdx_capture **out, char *errbuf)
{
    int rc = open_common(c, errbuf);
    if (rc != 0) {
        pdx_capture_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int pdx_capture_open(pdx_capture **out, const char *path, char *errbuf)
{
    struct stat st;
    pdx_capture *c;
    int fd = pdx_open_regular(path, &st);

    if (fd < 0)
        return pdx_errf(errbuf, PDX_EIO, "%s: %s", path, pdx_open_strerror(fd));
#if defined(POSIX_FADV_SEQUENTIAL)
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    c = new_reader(CAP_BUFSIZE, errbuf);
    if (c == NULL) {
        close(fd);
        return PDX_ENOMEM;
    }
    c->fd = fd;
    return finish_open(c, out, errbuf);
}

int pdx_capture_open_mem(pdx_capture **out, const uint8_t *buf, size_t len, char *errbuf)
{
    static const uint8_t none[1];
    pdx_capture *c = new_reader(0, errbuf);
    if (c == NULL)
        return PDX_ENOMEM;
    c->mem = 1;
    c->data = buf != NULL ? buf : none;
    c->end = buf != NULL ? len : 0;
    c->eof = 1;
    return finish_open(c, out, errbuf);
}

int pdx_capture_open_source(pdx_capture **out, const pdx_source *src, char *errbuf)
{
    pdx_capture *c;
    if (src == NULL || src->read == NULL)
        return pdx_errf(errbuf, PDX_EUSAGE, "capture source without a read function");
    c = new_reader(PDX_MAX(src->bufsize, (size_t)CAP_BUFSIZE), errbuf);
    if (c == NULL)
        return PDX_ENOMEM;
    c->has_src = 1;
    c->src = *src;
    return finish_open(c, out, errbuf);
}

void pdx_capture_close(pdx_capture *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c->info.ifaces);
    free(c->info.sections);
    free(c);
}

int pdx_capinfo_dup(const pdx_capinfo *in, pdx_capinfo *out)
{
    *out = *in;
    out->ifaces = NULL;
    out->sections = NULL;
    if (in->n_ifaces > 0 && (out->ifaces = malloc(in->n_ifaces * sizeof(*in->ifaces))) == NULL)
        return PDX_ENOMEM;
    if (in->n_sections > 0 &&
        (out->sections = malloc(in->n_sections * sizeof(*in->sections))) == NULL) {
        pdx_capinfo_free(out);
        return PDX_ENOMEM;
    }
    if (in->n_ifaces > 0)
        memcpy(out->ifaces, in->ifaces, in->n_ifaces * sizeof(*in->ifaces));
    if (in->n_sections > 0)
        memcpy(out->sections, in->sections, in->n_sections * sizeof(*in->sections));
    return PDX_OK;
}

void pdx_capinfo_free(pdx_capinfo *info)
{
    free(info->ifaces);
    free(info->sections);
    info->ifaces = NULL;
    info->sections = NULL;
    info->n_ifaces = info->n_sections = 0;
}

const pdx_capinfo *pdx_capture_info(const pdx_capture *c) { return &c->info; }
const pdx_capstats *pdx_capture_stats(const pdx_capture *c) { return &c->stats; }
uint64_t pdx_capture_tell(const pdx_capture *c) { return c->base + c->pos; }

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

/* pcap and snoop: a fixed header, then the data. */
static int flat_next(pdx_capture *c, pdx_record *rec, char *errbuf)
{
    uint64_t off = c->base + c->pos;
    size_t have = c->end - c->pos, need = 0;
    unsigned fl = 0;
    int rc, tries;

    for (tries = 0; tries < 3; tries++) {
        if (c->info.format == PDX_FMT_PCAP)
            rc = pcap_record(&c->info, c->snap_check, off, c->data + c->pos, have, rec, &need, &fl,
                             errbuf);
        else
            rc = snoop_record(&c->info, off, c->data + c->pos, have, rec, &need, &fl, errbuf);
        if (PDX_LIKELY(rc == 0)) {
            count_flags(&c->stats, fl);
            c->stats.records++;
            c->pos += (size_t)(rec->next_offset - off);
            return 1;
        }
        if (rc != PDX_ETRUNC)
            return fail(c, errbuf, rc);
        if ((rc = fill(c, need, &have, errbuf)) != 0)
            return fail(c, errbuf, rc);
        if (have == 0)
            return 0;
        if (have < need) {
            uint32_t hdrlen = c->info.format == PDX_FMT_PCAP ? c->info.pcap_hdrlen : SNOOP_RECHDR;
            if (have < hdrlen)
                return FAILF(c, errbuf, PDX_ETRUNC,
                             "offset %llu: truncated record header (%zu of %u bytes)",
                             (unsigned long long)off, have, hdrlen);
            return FAILF(c, errbuf, PDX_ETRUNC,
                         "offset %llu: record data runs past end of file (%zu of %zu bytes)",
                         (unsigned long long)off, have, need);
        }
    }
    /* Cannot happen: the header fixes the size, and the second fill got it. */
    return FAILF(c, errbuf, PDX_ECORRUPT, "offset %llu: record size changed while reading",
                 (unsigned long long)off);
}

int pdx_capture_next(pdx_capture *c, pdx_record *rec, char *errbuf)
{
    char local[PDX_ERRBUF_SIZE];
    if (PDX_UNLIKELY(c->err != 0)) {
        if (errbuf != NULL)
            memcpy(errbuf, c->errmsg, PDX_ERRBUF_SIZE);
        return c->err;
    }
    /* The message is kept for later calls even when the caller passes none. */
    if (errbuf == NULL)
        errbuf = local;
    if (c->info.format == PDX_FMT_PCAPNG)
        return ng_next(c, rec, errbuf);
    return flat_next(c, rec, errbuf);
}

/* ------------------------------------------------------------------------ */
/* Re-reading one record                                                    */

int pdx_record_parse_at(const pdx_capinfo *info, uint64_t offset, const uint8_t *buf, size_t len,
                        pdx_record *rec, size_t *need, char *errbuf)
{
    pdx_record r;
    size_t nd = 0;
    unsigned fl = 0;
    int rc;

    if (info == NULL || rec == NULL || need == NULL || (buf == NULL && len > 0))
        return pdx_errf(errbuf, PDX_EUSAGE, "pdx_record_parse_at: missing argument");
    if (buf == NULL)
        buf = (const uint8_t *)"";

    switch (info->format) {
    case PDX_FMT_PCAP:
        if (info->pcap_hdrlen != 16 && info->pcap_hdrlen != 24)
            return pdx_errf(errbuf, PDX_EUSAGE, "pcap record header length %u",
                            info->pcap_hdrlen);
        if (offset < PCAP_FILEHDR)
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: inside the pcap file header",
                            (unsigned long long)offset);
        rc = pcap_record(info, 0, offset, buf, len, &r, &nd, &fl, errbuf);
        break;
    case PDX_FMT_SNOOP:
        if (offset < SNOOP_FILEHDR)
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: inside the snoop file header",
                            (unsigned long long)offset);
        rc = snoop_record(info, offset, buf, len, &r, &nd, &fl, errbuf);
        break;
    case PDX_FMT_PCAPNG: {
        size_t lo = 0, hi = info->n_sections;
        const pdx_section *s;
        uint32_t type, blen;
        ng_ctx x;

        /* The last section that starts before the offset. */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (info->sections[mid].offset < offset)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: before the first section",
                            (unsigned long long)offset);
        s = &info->sections[lo - 1];
        x.be = s->big_endian != 0;
        x.ifaces = info->ifaces;
        x.first = s->first_iface;
        x.count = (uint32_t)((lo < info->n_sections ? info->sections[lo].first_iface
                                                    : info->n_ifaces) -
                             s->first_iface);
        if (x.first > info->n_ifaces || x.count > info->n_ifaces - x.first)
            return pdx_errf(errbuf, PDX_EUSAGE, "capinfo sections and interfaces disagree");
        x.last_ts = 0; /* an SPB has no timestamp of its own */
        if (len < 8) {
            nd = 8;
            rc = PDX_ETRUNC;
            break;
        }
        type = ld32(buf, x.be);
        if (type != NG_EPB && type != NG_SPB && type != NG_PB)
            return pdx_errf(errbuf, PDX_ECORRUPT,
                            "offset %llu: block type 0x%08x is not a packet block",
                            (unsigned long long)offset, type);
        if (ld32(buf + 4, x.be) > NG_MAX_BLOCK)
            return pdx_errf(errbuf, PDX_ECORRUPT, "offset %llu: block length %u exceeds %u",
                            (unsigned long long)offset, ld32(buf + 4, x.be), NG_MAX_BLOCK);
        rc = ng_frame(offset, buf, len, x.be, &blen, &nd, errbuf);
        if (rc == 0)
            rc = ng_packet(&x, offset, buf, blen, type, &r, &fl, errbuf);
        break;
    }
    default:
        return pdx_errf(errbuf, PDX_EUSAGE, "unknown capture format %d", info->format);
    }
    if (rc == PDX_ETRUNC) {
        *need = nd;
        return pdx_errf(errbuf, PDX_ETRUNC, "offset %llu: record needs %zu bytes, %zu given",
                        (unsigned long long)offset, nd, len);
    }
    if (rc != 0)
        return rc;
    *rec = r;
    return 0;
}
