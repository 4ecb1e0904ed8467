/* capfile.c - rereading records of an indexed capture at stored offsets. */
#include "capfile.h"

#include "zsource.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A read covers the wanted record and the next ones up to this far. */
#define READ_SPAN (64u * 1024u)
#define READ_MIN (4u * 1024u)

struct pdx_capfile {
    int64_t id;
    int fd;
    char *path;
    int64_t first_ns;
    pdx_capinfo info;
    int compression;
    pdx_zreader *z;   /* compressed captures */
    uint8_t *buf;
    size_t cap;
    uint64_t buf_off; /* file offset of buf[0] */
    size_t buf_len;
};

typedef struct caprow {
    char path[4096];
    uint64_t size;
    int64_t mtime_ns;
    char fingerprint[80];
    char format[16];
    char byte_order[8];
    char version[32];
    char res[64];
    uint32_t snaplen, hdrlen;
    int swapped;
    int64_t first_ns;
    int compression;
    uint64_t raw_size; /* uncompressed bytes the indexer read; 0 when unknown */
    int complete;      /* read to its end (status 'complete') */
    int replaced;      /* overwritten in place and indexed again (index --ring) */
} caprow;

/* Copies text column col into buf (len bytes); NULL is "". */
static void text_col(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(buf, len, "%s", t ? (const char *)t : "");
}

int pdx_capfile_col_path(sqlite3_stmt *st, int col, size_t max, const char **out, const char *row,
                         char *errbuf)
{
    const char *path = NULL;
    int rc = pdx_index_col_text(st, col, max, &path, row, errbuf);
    if (rc < 0)
        return rc;
    if (path[0] != '/')
        return pdx_errf(errbuf, PDX_EDB, "%s: path '%s' is not absolute", row, path);
    *out = path;
    return PDX_OK;
}

/* The columns the carver relies on, checked: the path must be one this
 * file system could hold (absolute; a relative one would be looked up in
 * the current directory, a longer one cut), the format fields ones the
 * record parser knows.  Anything else means a damaged index: PDX_EDB. */
static int check_row(sqlite3_stmt *st, int64_t id, caprow *r, char *errbuf)
{
    char row[48];
    const char *path = NULL;
    int64_t v;
    int rc;
    snprintf(row, sizeof(row), "capture %lld", (long long)id);
    if ((rc = pdx_capfile_col_path(st, 0, sizeof(r->path), &path, row, errbuf)) < 0)
        return rc;
    snprintf(r->path, sizeof(r->path), "%s", path);
    if ((rc = pdx_index_col_int(st, 1, 0, INT64_MAX, 0, &v, row, errbuf)) < 0)
        return rc;
    r->size = (uint64_t)v;
    if ((rc = pdx_index_col_int(st, 2, INT64_MIN, INT64_MAX, 0, &r->mtime_ns, row, errbuf)) < 0)
        return rc;
    text_col(st, 3, r->fingerprint, sizeof(r->fingerprint));
    text_col(st, 4, r->format, sizeof(r->format));
    text_col(st, 5, r->byte_order, sizeof(r->byte_order));
    text_col(st, 6, r->version, sizeof(r->version));
    text_col(st, 7, r->res, sizeof(r->res));
    if (strcmp(r->byte_order, "le") != 0 && strcmp(r->byte_order, "be") != 0)
        return pdx_errf(errbuf, PDX_EDB, "%s: byte_order is '%s', not le or be", row, r->byte_order);
    if ((rc = pdx_index_col_int(st, 8, 0, UINT32_MAX, 0, &v, row, errbuf)) < 0)
        return rc;
    r->snaplen = (uint32_t)v;
    if ((rc = pdx_index_col_int(st, 9, 0, UINT32_MAX, 0, &v, row, errbuf)) < 0)
        return rc;
    r->hdrlen = (uint32_t)v;
    if (strcmp(r->format, "pcap") == 0 && r->hdrlen != 16 && r->hdrlen != 24)
        return pdx_errf(errbuf, PDX_EDB, "%s: pcap_hdrlen is %u, not 16 or 24", row, r->hdrlen);
    if ((rc = pdx_index_col_int(st, 10, 0, 2, 0, &v, row, errbuf)) < 0)
        return rc;
    r->swapped = (int)v;
    r->first_ns = sqlite3_column_type(st, 11) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(st, 11);
    const char *comp = (const char *)sqlite3_column_text(st, 12);
    r->compression = pdx_comp_parse(comp);
    if (comp == NULL || strcmp(comp, pdx_comp_name(r->compression)) != 0)
        return pdx_errf(errbuf, PDX_EDB, "%s: compression is %s%s%s, not none, zstd or gzip", row,
                        comp ? "'" : "", comp ? comp : "NULL", comp ? "'" : "");
    if ((rc = pdx_index_col_int(st, 13, 0, INT64_MAX, 1, &v, row, errbuf)) < 0)
        return rc;
    r->raw_size = (uint64_t)v;
    r->complete = sqlite3_column_text(st, 14) != NULL &&
                  strcmp((const char *)sqlite3_column_text(st, 14), "complete") == 0;
    if ((rc = pdx_index_col_int(st, 15, INT64_MIN, INT64_MAX, 1, &v, row, errbuf)) < 0)
        return rc;
    r->replaced = sqlite3_column_type(st, 15) != SQLITE_NULL;
    return PDX_OK;
}

static int load_row(pdx_index *ix, int64_t id, caprow *r, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = pdx_index_db(ix);
    /* replaced_ns came with schema 5; an older index has no replaced capture. */
    const char *sql = pdx_index_schema_version(ix) >= 5
                          ? "SELECT path, size, mtime_ns, fingerprint, format, byte_order, version,"
                            " ts_resolution, snaplen, pcap_hdrlen, pcap_swapped, first_ns,"
                            " compression, raw_size, status, replaced_ns FROM captures WHERE id=?1"
                          : "SELECT path, size, mtime_ns, fingerprint, format, byte_order, version,"
                            " ts_resolution, snaplen, pcap_hdrlen, pcap_swapped, first_ns,"
                            " compression, raw_size, status, NULL FROM captures WHERE id=?1";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return pdx_errf(errbuf, PDX_EDB, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            return pdx_errf(errbuf, PDX_EDB, "the index has no capture %lld", (long long)id);
        return pdx_errf(errbuf, PDX_EDB, "read capture %lld: %s", (long long)id, sqlite3_errmsg(db));
    }
    rc = check_row(st, id, r, errbuf);
    sqlite3_finalize(st);
    return rc;
}

/* Present and unchanged?  Leaves the open descriptor in *fdp when asked. */
static int check_file(const caprow *r, int *fdp, char *errbuf)
{
    if (r->replaced)
        return pdx_errf(errbuf, PDX_ECHANGED,
                        "%s: overwritten since it was indexed (a capture ring: index --ring took "
                        "its new content); the packets indexed from it are gone",
                        r->path);
    struct stat st;
    int fd = pdx_open_regular(r->path, &st);
    if (fd == PDX_OPEN_NOTREG)
        return pdx_errf(errbuf, PDX_ECHANGED, "%s: no longer a regular file", r->path);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return pdx_errf(errbuf, PDX_EMISSING, "%s: missing (it was indexed; moved or deleted?)",
                            r->path);
        return pdx_errf(errbuf, PDX_EIO, "%s: %s", r->path, strerror(errno));
    }
    int rc = PDX_OK;
    if ((uint64_t)st.st_size != r->size) {
        rc = pdx_errf(errbuf, PDX_ECHANGED, "%s: changed since it was indexed (size %lld, was %llu)",
                      r->path, (long long)st.st_size, (unsigned long long)r->size);
    } else {
        int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        if (mt != r->mtime_ns) {
            char fp[80];
            rc = pdx_fingerprint_fd(fd, r->size, fp, errbuf);
            if (rc == PDX_OK && strcmp(fp, r->fingerprint) != 0)
                rc = pdx_errf(errbuf, PDX_ECHANGED, "%s: changed since it was indexed (content differs)",
                              r->path);
            else if (rc < 0)
                rc = pdx_errf(errbuf, PDX_EIO, "%s: cannot read: %s", r->path, strerror(errno));
        }
    }
    if (rc == PDX_OK && fdp != NULL)
        *fdp = fd;
    else
        close(fd);
    return rc;
}

int pdx_capfile_check(pdx_index *ix, int64_t capture_id, char *errbuf)
{
    caprow r;
    int rc = load_row(ix, capture_id, &r, errbuf);
    if (rc < 0)
        return rc;
    if (r.replaced)
        return 1;
    return check_file(&r, NULL, errbuf);
}

static int load_tables(pdx_index *ix, pdx_capfile *cf, const caprow *r, char *errbuf)
{
    sqlite3 *db = pdx_index_db(ix);
    sqlite3_stmt *st = NULL;
    pdx_capinfo *in = &cf->info;
    int rc;

    if (strcmp(r->format, "pcap") == 0)
        in->format = PDX_FMT_PCAP;
    else if (strcmp(r->format, "pcapng") == 0)
        in->format = PDX_FMT_PCAPNG;
    else if (strcmp(r->format, "snoop") == 0)
        in->format = PDX_FMT_SNOOP;
    else
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: unknown format '%s'", (long long)cf->id,
                        r->format);
    if (in->format != PDX_FMT_PCAPNG && strcmp(r->res, "us") != 0 && strcmp(r->res, "ns") != 0)
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: ts_resolution is '%s', not us or ns",
                        (long long)cf->id, r->res);
    in->big_endian = strcmp(r->byte_order, "be") == 0;
    unsigned maj = 0, min = 0;
    sscanf(r->version, "%u.%u", &maj, &min);
    in->version_major = (uint16_t)maj;
    in->version_minor = (uint16_t)min;
    in->pcap_nsec = strcmp(r->res, "ns") == 0;
    in->pcap_hdrlen = r->hdrlen;
    in->pcap_swapped_lens = r->swapped;
    in->snaplen = r->snaplen;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM interfaces WHERE capture_id=?1", -1, &st,
                           NULL) != SQLITE_OK)
        return pdx_errf(errbuf, PDX_EDB, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, cf->id);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (n <= 0 || n > (1 << 20))
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: no interfaces in the index", (long long)cf->id);
    in->ifaces = calloc((size_t)n, sizeof(*in->ifaces));
    if (in->ifaces == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(db,
                           "SELECT iface, section, if_local, linktype, snaplen, tsresol, tsoffset, name"
                           " FROM interfaces WHERE capture_id=?1 ORDER BY iface",
                           -1, &st, NULL) != SQLITE_OK)
        return pdx_errf(errbuf, PDX_EDB, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, cf->id);
    size_t i = 0;
    char row[64];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && i < (size_t)n) {
        pdx_iface *f = &in->ifaces[i];
        int64_t v[6];
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || sqlite3_column_int64(st, 0) != (int64_t)i) {
            sqlite3_finalize(st);
            return pdx_errf(errbuf, PDX_EDB, "capture %lld: interfaces are not numbered 0..%lld",
                            (long long)cf->id, (long long)n - 1);
        }
        snprintf(row, sizeof(row), "capture %lld, interface %zu", (long long)cf->id, i);
        for (int k = 0; k < 5; k++)
            if ((rc = pdx_index_col_int(st, 1 + k, 0, k == 4 ? UINT8_MAX : UINT32_MAX, 0, &v[k], row,
                                        errbuf)) < 0) {
                sqlite3_finalize(st);
                return rc;
            }
        if ((rc = pdx_index_col_int(st, 6, INT64_MIN, INT64_MAX, 0, &v[5], row, errbuf)) < 0) {
            sqlite3_finalize(st);
            return rc;
        }
        f->section = (uint32_t)v[0];
        f->if_local = (uint32_t)v[1];
        f->linktype = (uint32_t)v[2];
        f->snaplen = (uint32_t)v[3];
        f->tsresol = (uint8_t)v[4];
        f->tsoffset_s = v[5];
        const unsigned char *nm = sqlite3_column_text(st, 7);
        snprintf(f->name, sizeof(f->name), "%s", nm ? (const char *)nm : "");
        i++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: reading interfaces: %s", (long long)cf->id,
                        sqlite3_errmsg(db));
    in->n_ifaces = i;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sections WHERE capture_id=?1", -1, &st, NULL) !=
        SQLITE_OK)
        return pdx_errf(errbuf, PDX_EDB, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, cf->id);
    n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (n < 0 || n > (1 << 20))
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: bad sections", (long long)cf->id);
    in->sections = calloc((size_t)(n ? n : 1), sizeof(*in->sections));
    if (in->sections == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(db,
                           "SELECT offset, big_endian, first_iface FROM sections WHERE capture_id=?1"
                           " ORDER BY section",
                           -1, &st, NULL) != SQLITE_OK)
        return pdx_errf(errbuf, PDX_EDB, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, cf->id);
    /* Sections start in file order, the first at offset 0, and number
     * their interfaces in order: the record parser looks a section up by
     * offset and its interfaces by these bounds.  (A section starts below
     * INT64_MAX, which keeps the next one's lower bound from overflowing.) */
    i = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && i < (size_t)n) {
        int64_t v[3];
        snprintf(row, sizeof(row), "capture %lld, section %zu", (long long)cf->id, i);
        if ((rc = pdx_index_col_int(st, 0, i == 0 ? 0 : (int64_t)in->sections[i - 1].offset + 1,
                                    i == 0 ? 0 : INT64_MAX - 1, 0, &v[0], row, errbuf)) < 0 ||
            (rc = pdx_index_col_int(st, 1, 0, 1, 0, &v[1], row, errbuf)) < 0 ||
            (rc = pdx_index_col_int(st, 2, i == 0 ? 0 : in->sections[i - 1].first_iface,
                                    (int64_t)in->n_ifaces, 0, &v[2], row, errbuf)) < 0) {
            sqlite3_finalize(st);
            return rc;
        }
        in->sections[i].offset = (uint64_t)v[0];
        in->sections[i].big_endian = (uint32_t)v[1];
        in->sections[i].first_iface = (uint32_t)v[2];
        i++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: reading sections: %s", (long long)cf->id,
                        sqlite3_errmsg(db));
    in->n_sections = i;
    if (in->format == PDX_FMT_PCAPNG && i == 0)
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: no sections in the index", (long long)cf->id);
    return PDX_OK;
}

void pdx_capfile_close(pdx_capfile *cf)
{
    if (cf == NULL)
        return;
    pdx_zreader_close(cf->z);
    if (cf->fd >= 0)
        close(cf->fd);
    free(cf->path);
    free(cf->info.ifaces);
    free(cf->info.sections);
    free(cf->buf);
    free(cf);
}

/* A seek table must place the bytes the indexer read where it read them:
 * one entry with a wrong uncompressed size moves every later frame, and
 * those frames still decompress, so only the total can tell. */
static int check_table(const pdx_capfile *cf, const caprow *r, char *errbuf)
{
    uint64_t total = pdx_zreader_table_size(cf->z);
    /* A damaged capture was read up to its damage, so its table may hold more. */
    if (r->raw_size == 0 || total == r->raw_size || (!r->complete && total > r->raw_size))
        return PDX_OK;
    return pdx_errf(errbuf, PDX_ECORRUPT,
                    "%s: its seek table describes %llu uncompressed bytes, but %llu were indexed: "
                    "the table is damaged", cf->path, (unsigned long long)total,
                    (unsigned long long)r->raw_size);
}

int pdx_capfile_open(pdx_index *ix, int64_t capture_id, pdx_capfile **out, char *errbuf)
{
    caprow r;
    int rc;
    pdx_capfile *cf = calloc(1, sizeof(*cf));
    if (cf == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    cf->fd = -1;
    cf->id = capture_id;
    if ((rc = load_row(ix, capture_id, &r, errbuf)) < 0 || (rc = load_tables(ix, cf, &r, errbuf)) < 0 ||
        (rc = check_file(&r, &cf->fd, errbuf)) < 0) {
        pdx_capfile_close(cf);
        return rc;
    }
    cf->path = strdup(r.path);
    cf->first_ns = r.first_ns;
    cf->compression = r.compression;
    if (cf->path == NULL) {
        pdx_capfile_close(cf);
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    }
    if (r.compression != PDX_COMP_NONE &&
        (rc = pdx_zreader_open(&cf->z, cf->path, cf->fd, r.size, r.compression, errbuf)) < 0) {
        pdx_capfile_close(cf);
        return rc;
    }
    if (cf->z != NULL && pdx_zreader_seekable(cf->z) && (rc = check_table(cf, &r, errbuf)) < 0) {
        pdx_capfile_close(cf);
        return rc;
    }
    *out = cf;
    return PDX_OK;
}

const char *pdx_capfile_path(const pdx_capfile *cf) { return cf->path; }
const pdx_capinfo *pdx_capfile_info(const pdx_capfile *cf) { return &cf->info; }
int64_t pdx_capfile_id(const pdx_capfile *cf) { return cf->id; }
int64_t pdx_capfile_first_ns(const pdx_capfile *cf) { return cf->first_ns; }

int pdx_capfile_streams(const pdx_capfile *cf)
{
    return cf->z != NULL && !pdx_zreader_seekable(cf->z);
}

void pdx_capfile_plan(pdx_capfile *cf, uint64_t offset)
{
    /* A read takes READ_MIN bytes at least, or runs on to the next record
     * (which is planned itself). */
    if (cf->z != NULL)
        pdx_zreader_plan(cf->z, offset, READ_MIN);
}

/* Makes [off, off + want) readable in cf->buf (fewer bytes at end of file). */
static int load(pdx_capfile *cf, uint64_t off, size_t want, char *errbuf)
{
    if (want > cf->cap) {
        uint8_t *nb = realloc(cf->buf, want);
        if (nb == NULL)
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        cf->buf = nb;
        cf->cap = want;
    }
    size_t got = 0;
    if (cf->z != NULL) {
        int rc = pdx_zreader_pread(cf->z, cf->buf, want, off, &got, errbuf);
        if (rc < 0)
            return rc;
        cf->buf_off = off;
        cf->buf_len = got;
        return PDX_OK;
    }
    while (got < want) {
        ssize_t n = pread(cf->fd, cf->buf + got, want - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return pdx_errf(errbuf, PDX_EIO, "%s: read at offset %llu: %s", cf->path,
                            (unsigned long long)off, strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    cf->buf_off = off;
    cf->buf_len = got;
    return PDX_OK;
}

int pdx_capfile_read(pdx_capfile *cf, uint64_t offset, uint64_t hint, pdx_record *rec,
                     char *errbuf)
{
    char perr[PDX_ERRBUF_SIZE];
    size_t need = 0;
    int rc;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (offset >= cf->buf_off && offset < cf->buf_off + cf->buf_len) {
            size_t at = (size_t)(offset - cf->buf_off);
            rc = pdx_record_parse_at(&cf->info, offset, cf->buf + at, cf->buf_len - at, rec, &need,
                                     perr);
            if (rc == 0)
                return PDX_OK;
            if (rc != PDX_ETRUNC)
                return pdx_errf(errbuf, PDX_ECHANGED,
                                "%s: offset %llu: not the record that was indexed (%s)", cf->path,
                                (unsigned long long)offset, perr);
            if (at + need <= cf->buf_len || need > PDX_MAX_CAPLEN + 65536u)
                return pdx_errf(errbuf, PDX_ECHANGED, "%s: offset %llu: record runs past the end",
                                cf->path, (unsigned long long)offset);
        }
        size_t want = READ_MIN;
        if (hint > offset && hint - offset < READ_SPAN)
            want = (size_t)(hint - offset) + READ_MIN;
        if (need > want)
            want = need;
        if ((rc = load(cf, offset, want, errbuf)) < 0)
            return rc == PDX_ECORRUPT ? PDX_ECHANGED : rc;
        if (cf->buf_len == 0)
            return pdx_errf(errbuf, PDX_ECHANGED, "%s: offset %llu: past the end of the file",
                            cf->path, (unsigned long long)offset);
    }
    return pdx_errf(errbuf, PDX_ECHANGED, "%s: offset %llu: record runs past the end", cf->path,
                    (unsigned long long)offset);
}
