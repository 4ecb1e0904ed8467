/*
 * compress_cmd.c - "pcapdex compress": rewrites captures as seekable zstd,
 * checks the result byte for byte, and points the index at the compressed
 * file so that carving keeps working (and stays fast: only the frames that
 * hold a flow's packets are decompressed).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "index.h"
#include "zsource.h"

#define VERIFY_CHUNK (1024u * 1024u)

/* A forward reader over a capture's uncompressed bytes. */
typedef struct rawsrc {
    int fd;
    pdx_zreader *z; /* NULL for a plain file */
    uint64_t off;
    char err[PDX_ERRBUF_SIZE];
} rawsrc;

static ssize_t raw_read(void *ctx, void *buf, size_t n)
{
    rawsrc *r = ctx;
    size_t got = 0;
    if (r->z != NULL) {
        if (pdx_zreader_pread(r->z, buf, n, r->off, &got, r->err) < 0) {
            errno = EBADMSG;
            return -1;
        }
    } else {
        ssize_t k = pread(r->fd, buf, n, (off_t)r->off);
        if (k < 0)
            return -1;
        got = (size_t)k;
    }
    r->off += got;
    return (ssize_t)got;
}

static int raw_open(rawsrc *r, const char *path, char *errbuf)
{
    memset(r, 0, sizeof(*r));
    struct stat st;
    r->fd = pdx_open_regular(path, &st);
    if (r->fd < 0)
        return pdx_errf(errbuf, PDX_EIO, "%s: %s", path, pdx_open_strerror(r->fd));
    int kind = pdx_comp_detect(r->fd);
    if (kind != PDX_COMP_NONE) {
        int rc = pdx_zreader_open(&r->z, path, r->fd, (uint64_t)st.st_size, kind, errbuf);
        if (rc < 0) {
            close(r->fd);
            return rc;
        }
    }
    return PDX_OK;
}

static void raw_close(rawsrc *r)
{
    pdx_zreader_close(r->z);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->z = NULL;
}

/* Decompresses tmp completely and compares it with the source. */
static int verify(const char *src_path, const char *tmp, char *errbuf)
{
    rawsrc a, b;
    int rc = raw_open(&a, src_path, errbuf);
    if (rc < 0)
        return rc;
    if ((rc = raw_open(&b, tmp, errbuf)) < 0) {
        raw_close(&a);
        return rc;
    }
    uint8_t *x = malloc(VERIFY_CHUNK), *y = malloc(VERIFY_CHUNK);
    if (x == NULL || y == NULL) {
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t n = raw_read(&a, x, VERIFY_CHUNK), m = raw_read(&b, y, VERIFY_CHUNK);
        if (n < 0 || m < 0) {
            rc = pdx_errf(errbuf, PDX_EIO, "verify: %s", n < 0 ? a.err : b.err);
            break;
        }
        if (n != m || memcmp(x, y, (size_t)n) != 0) {
            rc = pdx_errf(errbuf, PDX_ECORRUPT, "verify: %s differs from %s near offset %llu", tmp,
                          src_path, (unsigned long long)a.off);
            break;
        }
        if (n == 0)
            break;
    }
out:
    free(x);
    free(y);
    raw_close(&a);
    raw_close(&b);
    return rc;
}

static void out_name(const char *path, char *out, size_t len)
{
    size_t n = strlen(path);
    if (n > 3 && strcmp(path + n - 3, ".gz") == 0)
        snprintf(out, len, "%.*s.zst", (int)(n - 3), path);
    else if (n > 4 && strcmp(path + n - 4, ".zst") == 0)
        snprintf(out, len, "%.*s.seekable.zst", (int)(n - 4), path);
    else
        snprintf(out, len, "%s.zst", path);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pcapdex compress [--db FILE] [--level N] [--frame-size SIZE] [--remove] CAPTURE...\n"
            "\n"
            "Rewrites each capture (plain, gzip or non-seekable zstd) as seekable zstd in\n"
            "CAPTURE.zst, checks it decompresses to the same bytes, and points the index at\n"
            "it, so that carving reads only the frames it needs.\n"
            "\n"
            "  --level N          zstd level (default 3)\n"
            "  --frame-size SIZE  uncompressed bytes per frame, K/M suffixes (default 1M)\n"
            "  --remove           delete the original once the index points at the new file\n"
            "  -q, --quiet        no notes and no summary\n"
            "\n"
            "Exit: 0 done, 2 usage, 3 database error, 4 a capture could not be read or written,\n"
            "or it changed since it was indexed.\n");
}

/* 1 when the index has no capture at path or the file (open as fd) is the
 * one it indexed; 0 when it changed since, so that the row would be pointed
 * at other packets; < 0 on a database error. */
static int same_as_indexed(pdx_index *ix, const char *path, int fd, const struct stat *st,
                           char *errbuf)
{
    pdx_capknown k;
    int rc = pdx_index_capture_by_path(ix, path, &k, errbuf);
    if (rc <= 0)
        return rc < 0 ? rc : 1;
    if ((uint64_t)st->st_size != k.size)
        return 0;
    if ((int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec == k.mtime_ns)
        return 1;
    char fp[80];
    return pdx_fingerprint_fd(fd, k.size, fp, errbuf) == PDX_OK && strcmp(fp, k.fingerprint) == 0;
}

/* Points the capture row at the compressed file; 1 when the index had it. */
static int repoint(pdx_index *ix, const char *old, const char *neu, uint64_t raw_size, char *errbuf)
{
    pdx_capknown k;
    int rc = pdx_index_capture_by_path(ix, old, &k, errbuf);
    if (rc <= 0)
        return rc;
    int fd = open(neu, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char fp[80];
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return pdx_errf(errbuf, PDX_EIO, "%s: %s", neu, strerror(errno));
    }
    rc = pdx_fingerprint_fd(fd, (uint64_t)st.st_size, fp, errbuf);
    close(fd);
    if (rc < 0)
        return rc;
    sqlite3 *db = pdx_index_db(ix);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db,
                           "UPDATE captures SET path=?2, size=?3, mtime_ns=?4, fingerprint=?5,"
                           " raw_fingerprint=CASE WHEN compression = 'none' THEN fingerprint"
                           " ELSE raw_fingerprint END, compression='zstd', raw_size=?6 WHERE id=?1",
                           -1, &q, NULL) != SQLITE_OK)
        return pdx_errf(errbuf, PDX_EDB, "%s", sqlite3_errmsg(db));
    sqlite3_bind_int64(q, 1, k.id);
    sqlite3_bind_text(q, 2, neu, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)st.st_size);
    sqlite3_bind_int64(q, 4, (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    sqlite3_bind_text(q, 5, fp, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)raw_size);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return pdx_errf(errbuf, PDX_EDB, "%s", sqlite3_errmsg(db));
    return 1;
}

int pdx_cmd_compress(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"level", required_argument, NULL, 'l'},
        {"frame-size", required_argument, NULL, 'F'},
        {"remove", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    int level = 3, remove_orig = 0, quiet = 0, c, status = PDX_EXIT_OK;
    size_t frame = 1u << 20;
    char err[PDX_ERRBUF_SIZE];
    optind = 1;
    while ((c = pdx_cli_getopt(argc, argv, "qh", opts)) != -1) {
        switch (c) {
        case 'd': db_opt = optarg; break;
        case 'l': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < -7 || v > 22) {
                pdx_cli_error("--level: '%s' is not a zstd level (-7 to 22)", optarg);
                return PDX_EXIT_USAGE;
            }
            level = (int)v;
            break;
        }
        case 'F': {
            uint64_t fs;
            if (pdx_cli_parse_size(optarg, 4096, 64u << 20, &fs) < 0) {
                pdx_cli_error("--frame-size: '%s' is not a size from 4K to 64M", optarg);
                return PDX_EXIT_USAGE;
            }
            frame = (size_t)fs;
            break;
        }
        case 'r': remove_orig = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return pdx_cli_close_stdout();
        default: pdx_cli_bad_option(argv, "qh", opts); usage(stderr); return PDX_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return PDX_EXIT_USAGE;
    }
    const char *db_path = pdx_cli_db_path(db_opt);
    pdx_index *ix = NULL;
    struct stat dbst;
    if (stat(db_path, &dbst) == 0 && pdx_index_open(&ix, db_path, PDX_INDEX_WRITE, err) < 0) {
        pdx_cli_error("%s", err);
        return PDX_EXIT_DB;
    }
    uint64_t tot_raw = 0, tot_comp = 0, tot_disk = 0;
    for (int i = optind; i < argc; i++) {
        char path[PATH_MAX], out[PATH_MAX + 32], tmp[PATH_MAX + 48];
        if (realpath(argv[i], path) == NULL) {
            pdx_cli_error("%s: %s", argv[i], strerror(errno));
            status = PDX_EXIT_INPUT;
            continue;
        }
        out_name(path, out, sizeof(out));
        snprintf(tmp, sizeof(tmp), "%s.part%d", out, (int)getpid());
        if (access(out, F_OK) == 0) {
            pdx_cli_error("%s: exists; not overwritten", out);
            status = PDX_EXIT_INPUT;
            continue;
        }
        rawsrc src;
        if (raw_open(&src, path, err) < 0) {
            pdx_cli_error("%s", err);
            status = PDX_EXIT_INPUT;
            continue;
        }
        if (src.z != NULL && pdx_zreader_seekable(src.z)) {
            if (!quiet)
                pdx_cli_note("%s: already seekable zstd", path);
            raw_close(&src);
            continue;
        }
        struct stat ist;
        fstat(src.fd, &ist);
        int same = ix != NULL ? same_as_indexed(ix, path, src.fd, &ist, err) : 1;
        if (same <= 0) {
            if (same < 0)
                pdx_cli_error("%s: %s", db_path, err);
            else
                pdx_cli_error("%s: changed since it was indexed: not compressed (index it first; "
                              "a capture ring's next round with index --ring)", path);
            raw_close(&src);
            status = same < 0 ? PDX_EXIT_DB : PDX_EXIT_INPUT;
            if (same < 0)
                break;
            continue;
        }
        FILE *fp = fopen(tmp, "wb");
        pdx_zwriter_stats zs;
        pdx_source s = {&src, raw_read, NULL, 0};
        int rc = fp ? pdx_zstd_write_seekable(&s, fp, level, frame, &zs, err)
                    : pdx_errf(err, PDX_EIO, "%s", strerror(errno));
        if (rc == 0 && fp != NULL && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
            rc = pdx_errf(err, PDX_EIO, "%s", strerror(errno));
        if (fp != NULL && fclose(fp) != 0 && rc == 0)
            rc = pdx_errf(err, PDX_EIO, "%s", strerror(errno));
        raw_close(&src);
        if (rc == 0)
            rc = verify(path, tmp, err);
        if (rc == 0 && rename(tmp, out) != 0)
            rc = pdx_errf(err, PDX_EIO, "%s", strerror(errno));
        if (rc < 0) {
            pdx_cli_error("%s: %s", path, err);
            unlink(tmp);
            status = PDX_EXIT_INPUT;
            continue;
        }
        int had = 0;
        if (ix != NULL) {
            had = repoint(ix, path, out, zs.raw_bytes, err);
            if (had < 0) {
                pdx_cli_error("%s: %s", db_path, err);
                unlink(out);
                status = PDX_EXIT_DB;
                break;
            }
        }
        if (remove_orig && unlink(path) != 0)
            pdx_cli_warn("%s: cannot remove: %s", path, strerror(errno));
        tot_raw += zs.raw_bytes;
        tot_comp += zs.comp_bytes;
        tot_disk += (uint64_t)ist.st_size;
        if (!quiet)
            printf("%s: %.1f MB -> %.1f MB (%.1f%% saved, %llu frames)%s\n", out,
                   (double)ist.st_size / 1e6, (double)zs.comp_bytes / 1e6,
                   ist.st_size ? 100.0 * (1.0 - (double)zs.comp_bytes / (double)ist.st_size) : 0.0,
                   (unsigned long long)zs.frames, had ? "; index updated" : "");
    }
    if (!quiet && tot_disk)
        printf("total: %.1f MB -> %.1f MB (%.1f%% saved; %.1f MB uncompressed)\n",
               (double)tot_disk / 1e6, (double)tot_comp / 1e6,
               100.0 * (1.0 - (double)tot_comp / (double)tot_disk), (double)tot_raw / 1e6);
    pdx_index_close(ix);
    int r = pdx_cli_close_stdout();
    return status != PDX_EXIT_OK ? status : r;
}
