/* writer.c - pcap and pcapng output for carved records. */
#include "writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

typedef struct iface_map {
    uint64_t key;
    uint32_t out;     /* interface number in the output */
    uint8_t tsresol;  /* resolution written: 10^-n, n <= 9 */
} iface_map;

struct pdx_writer {
    FILE *fp;
    int format;
    int nsec;
    uint64_t count;
    iface_map *ifs;
    size_t n_ifs, cap_ifs;
    int failed;
};

static int put(pdx_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->fp) != n) {
        w->failed = 1;
        return -1;
    }
    return 0;
}

int pdx_writer_open(pdx_writer **out, FILE *fp, int format, uint32_t linktype, int nsec,
                    uint32_t snaplen, char *errbuf)
{
    pdx_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    w->fp = fp;
    w->format = format;
    w->nsec = nsec;
    uint8_t h[28];
    int rc;
    if (format == PDX_OUT_PCAP) {
        pdx_store_le32(h, nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
        pdx_store_le16(h + 4, 2);
        pdx_store_le16(h + 6, 4);
        pdx_store_le32(h + 8, 0);
        pdx_store_le32(h + 12, 0);
        pdx_store_le32(h + 16, snaplen ? snaplen : PDX_MAX_CAPLEN);
        pdx_store_le32(h + 20, linktype);
        rc = put(w, h, 24);
    } else {
        pdx_store_le32(h, 0x0A0D0D0Au);
        pdx_store_le32(h + 4, 28);
        pdx_store_le32(h + 8, 0x1A2B3C4Du);
        pdx_store_le16(h + 12, 1);
        pdx_store_le16(h + 14, 0);
        memset(h + 16, 0xff, 8); /* section length unknown */
        pdx_store_le32(h + 24, 28);
        rc = put(w, h, 28);
    }
    if (rc < 0) {
        free(w);
        return pdx_errf(errbuf, PDX_EIO, "write: %s", strerror(errno));
    }
    *out = w;
    return PDX_OK;
}

/* The output interface for a source interface, writing its IDB first. */
static iface_map *ng_iface(pdx_writer *w, const pdx_iface *src, uint64_t key)
{
    for (size_t i = 0; i < w->n_ifs; i++)
        if (w->ifs[i].key == key)
            return &w->ifs[i];
    if (pdx_grow(&w->ifs, &w->cap_ifs, w->n_ifs + 1, sizeof(*w->ifs)) < 0)
        return NULL;
    iface_map *m = &w->ifs[w->n_ifs];
    m->key = key;
    m->out = (uint32_t)w->n_ifs;
    m->tsresol = (src->tsresol & 0x80) || src->tsresol > 9 ? 9 : src->tsresol;
    /* IDB: type, length, linktype, reserved, snaplen, options, length. */
    uint8_t b[16 + 8 + 4 + 68 + 4];
    size_t n = 16;
    size_t namelen = strnlen(src->name, sizeof(src->name));
    pdx_store_le32(b, 1);
    pdx_store_le16(b + 8, (uint16_t)src->linktype);
    pdx_store_le16(b + 10, 0);
    pdx_store_le32(b + 12, src->snaplen);
    if (namelen > 0 && namelen <= 64) {
        pdx_store_le16(b + n, 2); /* if_name */
        pdx_store_le16(b + n + 2, (uint16_t)namelen);
        memcpy(b + n + 4, src->name, namelen);
        size_t padded = (namelen + 3) & ~(size_t)3;
        memset(b + n + 4 + namelen, 0, padded - namelen);
        n += 4 + padded;
    }
    if (m->tsresol != 6) {
        pdx_store_le16(b + n, 9); /* if_tsresol */
        pdx_store_le16(b + n + 2, 1);
        b[n + 4] = m->tsresol;
        b[n + 5] = b[n + 6] = b[n + 7] = 0;
        n += 8;
    }
    pdx_store_le32(b + n, 0); /* opt_endofopt */
    n += 4;
    pdx_store_le32(b + n, (uint32_t)(n + 4));
    n += 4;
    pdx_store_le32(b + 4, (uint32_t)n);
    if (put(w, b, n) < 0)
        return NULL;
    w->n_ifs++;
    return m;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int pdx_writer_put(pdx_writer *w, const pdx_record *rec, const pdx_iface *iface, uint64_t iface_key,
                   char *errbuf)
{
    uint8_t h[28];
    static const uint8_t pad[4] = {0, 0, 0, 0};
    if (w->format == PDX_OUT_PCAP) {
        int64_t sec = floor_div(rec->ts_ns, 1000000000LL);
        int64_t frac = rec->ts_ns - sec * 1000000000LL;
        pdx_store_le32(h, (uint32_t)sec);
        pdx_store_le32(h + 4, (uint32_t)(w->nsec ? frac : frac / 1000));
        pdx_store_le32(h + 8, rec->caplen);
        pdx_store_le32(h + 12, rec->origlen);
        if (put(w, h, 16) < 0 || put(w, rec->data, rec->caplen) < 0)
            return pdx_errf(errbuf, PDX_EIO, "write: %s", strerror(errno));
    } else {
        iface_map *m = ng_iface(w, iface, iface_key);
        if (m == NULL)
            return pdx_errf(errbuf, PDX_EIO, "write: %s", strerror(errno ? errno : ENOMEM));
        uint64_t div = 1;
        for (int i = m->tsresol; i < 9; i++)
            div *= 10;
        /* Ticks since the epoch in the interface's resolution; times
         * before 1970 cannot be written in pcapng and become 0. */
        uint64_t ticks = rec->ts_ns > 0 ? (uint64_t)rec->ts_ns / div : 0;
        uint32_t padded = (rec->caplen + 3u) & ~3u;
        uint32_t total = 28 + padded + 4;
        pdx_store_le32(h, 6);
        pdx_store_le32(h + 4, total);
        pdx_store_le32(h + 8, m->out);
        pdx_store_le32(h + 12, (uint32_t)(ticks >> 32));
        pdx_store_le32(h + 16, (uint32_t)ticks);
        pdx_store_le32(h + 20, rec->caplen);
        pdx_store_le32(h + 24, rec->origlen);
        uint8_t tail[4];
        pdx_store_le32(tail, total);
        if (put(w, h, 28) < 0 || put(w, rec->data, rec->caplen) < 0 ||
            put(w, pad, padded - rec->caplen) < 0 || put(w, tail, 4) < 0)
            return pdx_errf(errbuf, PDX_EIO, "write: %s", strerror(errno));
    }
    w->count++;
    return PDX_OK;
}

uint64_t pdx_writer_count(const pdx_writer *w)
{
    return w->count;
}

int pdx_writer_close(pdx_writer *w, char *errbuf)
{
    if (w == NULL)
        return PDX_OK;
    int rc = PDX_OK;
    if (fflush(w->fp) != 0 || w->failed)
        rc = pdx_errf(errbuf, PDX_EIO, "write: %s", strerror(errno ? errno : EIO));
    free(w->ifs);
    free(w);
    return rc;
}
