/* zsource.c - streaming and random-access decompression of captures. */
#include "zsource.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "cursor.h"

/* Compressed input is read IN_CHUNK bytes at a time; the zstd stream that
 * feeds the indexer reads IN_FRAMES, room for a whole frame of `pcapdex
 * compress`'s default 1 MiB, incompressible data included, so that
 * zs_frame() can decode it in one call.  (Only that stream: the carver holds
 * one stream per capture it reads.) */
#define IN_CHUNK (256u * 1024u)
#define IN_FRAMES ((1u << 20) + (64u << 10))
/* The capture reader's buffer over a zstd stream: a 1 MiB frame fits behind
 * the unread tail of the longest record. */
#define ZSRC_BUFSIZE ((1u << 20) + 2 * PDX_MAX_CAPLEN)
/* The longest zstd frame header (magic, descriptor, window, dictionary ID,
 * content size), from the format's specification (RFC 8878, 3.1.1). */
#define FRAME_HEADER_MAX 18u
#define SEEK_MAGIC 0x8F92EAB1u
#define SKIPPABLE_SEEK 0x184D2A5Eu
#define MAX_FRAMES (1u << 27)
/* A seekable frame larger than this is refused rather than allocated. */
#define MAX_FRAME_RAW (256u * 1024u * 1024u)

const char *pdx_comp_name(int kind)
{
    switch (kind) {
    case PDX_COMP_ZSTD: return "zstd";
    case PDX_COMP_GZIP: return "gzip";
    default: return "none";
    }
}

int pdx_comp_parse(const char *name)
{
    if (name && strcmp(name, "zstd") == 0)
        return PDX_COMP_ZSTD;
    if (name && strcmp(name, "gzip") == 0)
        return PDX_COMP_GZIP;
    return PDX_COMP_NONE;
}

int pdx_comp_detect(int fd)
{
    uint8_t m[4];
    if (pread(fd, m, 4, 0) != 4)
        return PDX_COMP_NONE;
    uint32_t v = pdx_load_le32(m);
    if (v == 0xFD2FB528u || (v & 0xFFFFFFF0u) == 0x184D2A50u)
        return PDX_COMP_ZSTD;
    if (m[0] == 0x1f && m[1] == 0x8b)
        return PDX_COMP_GZIP;
    return PDX_COMP_NONE;
}

/* ---- streaming ---------------------------------------------------------------- */

/* The decompressor state shared by streaming and non-seekable random reads. */
typedef struct zstream {
    int fd;
    int kind;
    int own_fd;
    ZSTD_DCtx *dctx;
    z_stream zs;
    int zs_init;
    uint8_t *in;
    size_t in_len, in_pos;
    uint64_t consumed;  /* compressed bytes handed to the decoder */
    uint64_t produced;  /* uncompressed bytes handed out */
    uint64_t read_off;  /* next compressed byte to read from fd */
    int in_eof;
    int done;           /* decoder reached the end of the data */
    int failed;         /* an error left the decoder unusable: zs_rewind first */
    int truncated;      /* that error: the compressed data ended early */
    size_t frame_hint;  /* zstd: bytes the current frame still wants (0 at a frame end) */
    size_t in_cap;      /* size of in */
    char err[PDX_ERRBUF_SIZE];
} zstream;

static int zs_init(zstream *s, int fd, int kind, size_t in_cap)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->kind = kind;
    s->in_cap = in_cap;
    s->in = malloc(in_cap);
    if (s->in == NULL)
        return -1;
    if (kind == PDX_COMP_ZSTD) {
        s->dctx = ZSTD_createDCtx();
        if (s->dctx == NULL)
            return -1;
    } else {
        if (inflateInit2(&s->zs, 15 + 32) != Z_OK) /* gzip or zlib header, auto */
            return -1;
        s->zs_init = 1;
    }
    return 0;
}

static void zs_free(zstream *s)
{
    ZSTD_freeDCtx(s->dctx);
    if (s->zs_init)
        inflateEnd(&s->zs);
    free(s->in);
    s->dctx = NULL;
    s->zs_init = 0;
    s->in = NULL;
}

static int zs_rewind(zstream *s)
{
    s->in_len = s->in_pos = 0;
    s->consumed = s->produced = s->read_off = 0;
    s->in_eof = s->done = s->truncated = 0;
    s->frame_hint = 0;
    if (s->kind == PDX_COMP_ZSTD)
        s->failed = ZSTD_isError(ZSTD_DCtx_reset(s->dctx, ZSTD_reset_session_only));
    else
        s->failed = inflateReset(&s->zs) != Z_OK;
    return s->failed ? -1 : 0;
}

/* Reads more input behind what is still unread, which moves to the front. */
static int top_up(zstream *s)
{
    size_t left = s->in_len - s->in_pos;
    if (s->in_eof || left == s->in_cap)
        return 0;
    if (s->in_pos > 0)
        memmove(s->in, s->in + s->in_pos, left);
    s->in_pos = 0;
    s->in_len = left;
    ssize_t r;
    do
        r = pread(s->fd, s->in + left, s->in_cap - left, (off_t)s->read_off);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        snprintf(s->err, sizeof(s->err), "read: %s", strerror(errno));
        return -1;
    }
    s->read_off += (uint64_t)r;
    s->in_len += (size_t)r;
    if (r == 0)
        s->in_eof = 1;
    return 0;
}

/* Reads input when all of it has been used. */
static int refill(zstream *s)
{
    if (s->in_pos < s->in_len || s->in_eof)
        return 0;
    return top_up(s);
}

/* At a frame boundary: decodes the next zstd frame in one call, straight into
 * dst + *out, when its header gives its size, that size fits in dst, and the
 * whole compressed frame fits in the input buffer.  That spares the streaming
 * decoder's copy of every byte through its window buffer; the checksum is
 * checked the same way.  (libzstd's streaming decoder takes the same one-call
 * path when its output and input allow, also without a window, so a declared
 * window over its limit is refused only where it has to stream.)
 * Returns 1 when it decoded the frame; 2 when dst already holds bytes
 * (*out > 0), so that the caller returns those first and each call hands out
 * at most one frame decoded this way; 0 when the frame is for the streaming
 * decoder (skippable, of unknown size, too large, or with a broken block
 * structure, which the streaming decoder then reports); -1 on an error, with
 * s->err set: damage found while decoding is reported at the frame's start,
 * and none of the frame's bytes are handed out. */
static int zs_frame(zstream *s, uint8_t *dst, size_t n, size_t *out)
{
    unsigned long long size;
    size_t csize, got;
    if (s->in_len - s->in_pos < FRAME_HEADER_MAX && top_up(s) < 0)
        return -1;
    if (s->in_len - s->in_pos < 4 || pdx_load_le32(s->in + s->in_pos) != ZSTD_MAGICNUMBER)
        return 0;
    /* Both ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are above any n. */
    size = ZSTD_getFrameContentSize(s->in + s->in_pos, s->in_len - s->in_pos);
    if (size > n)
        return 0;
    if (*out > 0)
        return 2;
    while (ZSTD_isError(csize = ZSTD_findFrameCompressedSize(s->in + s->in_pos,
                                                              s->in_len - s->in_pos))) {
        if (s->in_eof || s->in_len - s->in_pos == s->in_cap)
            return 0;
        if (top_up(s) < 0)
            return -1;
    }
    got = ZSTD_decompressDCtx(s->dctx, dst, (size_t)size, s->in + s->in_pos, csize);
    if (ZSTD_isError(got) || got != size) {
        snprintf(s->err, sizeof(s->err), "corrupt zstd data near compressed offset %llu: %s",
                 (unsigned long long)s->consumed,
                 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "frame shorter than its header says");
        errno = EBADMSG;
        return -1;
    }
    /* The streaming decoder starts its next frame afresh. */
    if (ZSTD_isError(ZSTD_DCtx_reset(s->dctx, ZSTD_reset_session_only))) {
        snprintf(s->err, sizeof(s->err), "zstd: cannot reset the decoder");
        errno = EBADMSG;
        return -1;
    }
    s->consumed += csize;
    s->in_pos += csize;
    s->frame_hint = 0;
    *out = got;
    return 1;
}

/* Decompresses up to n bytes into dst.  Returns bytes, 0 at the end, -1 on
 * error (s->err says what, errno is EBADMSG).  An error is sticky until
 * zs_rewind: the bytes decoded before it in the same call are lost, and a
 * decoder that failed must not be fed again (it would go on from a state
 * that no longer matches s->produced). */
static ssize_t zs_read(zstream *s, uint8_t *dst, size_t n)
{
    size_t out = 0;
    if (s->failed) {
        errno = EBADMSG;
        return -1;
    }
    while (out < n && !s->done) {
        if (refill(s) < 0)
            goto fail;
        if (s->in_pos == s->in_len && s->in_eof) {
            if ((s->kind == PDX_COMP_ZSTD && s->frame_hint != 0) || s->kind == PDX_COMP_GZIP) {
                snprintf(s->err, sizeof(s->err),
                         "compressed data ends early (truncated %s stream at compressed offset %llu)",
                         pdx_comp_name(s->kind), (unsigned long long)s->consumed);
                errno = EBADMSG;
                s->truncated = 1;
                if (out == 0)
                    goto fail;
                /* What decoded before the end is handed out (as bytes
                 * streamed before it were); the next read fails. */
                s->failed = 1;
                break;
            }
            s->done = 1;
            break;
        }
        if (s->kind == PDX_COMP_ZSTD) {
            if (s->frame_hint == 0) {
                int w = zs_frame(s, dst, n, &out);
                if (w < 0)
                    goto fail;
                if (w == 2)
                    break;
                if (w == 1)
                    continue;
            }
            ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
            ZSTD_outBuffer o = {dst, n, out};
            size_t rc = ZSTD_decompressStream(s->dctx, &o, &in);
            if (ZSTD_isError(rc)) {
                unsigned long long at = s->consumed + (in.pos - s->in_pos);
                if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge)
                    /* Not damage: zstd --long=28 and up, beyond libzstd's default limit. */
                    snprintf(s->err, sizeof(s->err),
                             "the zstd frame at compressed offset %llu needs a window over 128 MiB "
                             "(written with zstd --long?); decompress it with 'zstd -d --long=31'",
                             at);
                else
                    snprintf(s->err, sizeof(s->err),
                             "corrupt zstd data near compressed offset %llu: %s", at,
                             ZSTD_getErrorName(rc));
                errno = EBADMSG;
                goto fail;
            }
            s->consumed += in.pos - s->in_pos;
            s->in_pos = in.pos;
            out = o.pos;
            s->frame_hint = rc;
        } else {
            s->zs.next_in = s->in + s->in_pos;
            s->zs.avail_in = (uInt)(s->in_len - s->in_pos);
            s->zs.next_out = dst + out;
            s->zs.avail_out = (uInt)PDX_MIN(n - out, (size_t)1 << 30);
            int rc = inflate(&s->zs, Z_NO_FLUSH);
            size_t used = (size_t)(s->zs.next_in - (s->in + s->in_pos));
            s->consumed += used;
            s->in_pos += used;
            out = (size_t)(s->zs.next_out - dst);
            if (rc == Z_STREAM_END) {
                /* Concatenated gzip members continue. */
                if (refill(s) < 0)
                    goto fail;
                if (s->in_pos == s->in_len && s->in_eof) {
                    s->done = 1;
                    break;
                }
                inflateReset(&s->zs);
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                snprintf(s->err, sizeof(s->err), "corrupt gzip data near compressed offset %llu: %s",
                         (unsigned long long)s->consumed, s->zs.msg ? s->zs.msg : "inflate error");
                errno = EBADMSG;
                goto fail;
            }
        }
    }
    s->produced += out;
    return (ssize_t)out;
fail:
    s->failed = 1;
    return -1;
}

struct pdx_zsrc {
    zstream s;
};

static ssize_t zsrc_read_cb(void *ctx, void *buf, size_t n)
{
    return zs_read(&((pdx_zsrc *)ctx)->s, buf, n);
}

uint64_t pdx_zsrc_consumed(const pdx_zsrc *z)
{
    return z ? z->s.consumed : 0;
}

const char *pdx_zsrc_error(const pdx_zsrc *z)
{
    return z ? z->s.err : "";
}

void pdx_zsrc_close(pdx_zsrc *z)
{
    if (z == NULL)
        return;
    zs_free(&z->s);
    if (z->s.fd >= 0)
        close(z->s.fd);
    free(z);
}

int pdx_capture_open_any(const char *path, pdx_capture **cap, pdx_zsrc **zout, int *kind,
                         char *errbuf)
{
    struct stat st;
    int fd = pdx_open_regular(path, &st);
    if (fd < 0)
        return pdx_errf(errbuf, PDX_EIO, "%s", pdx_open_strerror(fd));
    int k = pdx_comp_detect(fd);
    if (k == PDX_COMP_NONE) {
        close(fd);
        int rc = pdx_capture_open(cap, path, errbuf);
        if (rc == PDX_OK) {
            *zout = NULL;
            *kind = PDX_COMP_NONE;
        }
        return rc;
    }
    pdx_zsrc *z = calloc(1, sizeof(*z));
    if (z == NULL || zs_init(&z->s, fd, k, k == PDX_COMP_ZSTD ? IN_FRAMES : IN_CHUNK) < 0) {
        if (z)
            zs_free(&z->s);
        free(z);
        close(fd);
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    }
    pdx_source src = {z, zsrc_read_cb, NULL, k == PDX_COMP_ZSTD ? ZSRC_BUFSIZE : 0};
    int rc = pdx_capture_open_source(cap, &src, errbuf);
    if (rc < 0) {
        /* Damaged compressed data, unless what decompressed before the
         * damage already showed it holds no capture. */
        if (z->s.err[0] && rc != PDX_EFORMAT)
            rc = pdx_errf(errbuf, PDX_ECORRUPT, "%s", z->s.err);
        else if (rc == PDX_EFORMAT) {
            char inner[PDX_ERRBUF_SIZE];
            snprintf(inner, sizeof(inner), "%s", errbuf ? errbuf : "");
            pdx_errf(errbuf, rc, "%s-compressed, but inside: %s", pdx_comp_name(k), inner);
        }
        pdx_zsrc_close(z);
        return rc;
    }
    *zout = z;
    *kind = k;
    return PDX_OK;
}

/* ---- random access -------------------------------------------------------------- */

/*
 * Read-ahead for seekable files.  A caller that knows which offsets it will
 * read (the carver does) lists them first with pdx_zreader_plan(); the
 * frames that hold them then decompress on worker threads, in plan order and
 * a few frames ahead of the reads, while the caller works on the frames
 * before.  Each worker has its own decompression context and buffers and
 * touches nothing of the reader but what never changes after open (path,
 * fd, the seek table); a slot's buffer belongs to the worker while the slot
 * is busy and to the reader once it is done.  Every frame is still
 * decompressed whole and size-checked (and checksummed, when it has one),
 * exactly as a read without a plan does it.
 */
#define PF_MAX_THREADS 4
#define PF_MAX_SLOTS (PF_MAX_THREADS + 2)
/* Readers with a read-ahead at once, process-wide.  A carve opens every
 * capture it needs at the start and reads one record of each; read-ahead
 * begins at a reader's second frame, so it runs only in the captures being
 * read through, and this bounds them when many overlap in time. */
#define PF_MAX_READERS 4
/* Frames larger than these (a damaged seek table can claim 256 MiB) are
 * not read ahead: the slots' memory stays small. */
#define PF_MAX_RAW (8u * 1024u * 1024u)
#define PF_MAX_COMP (16u * 1024u * 1024u)

enum { PF_FREE = 0, PF_BUSY, PF_DONE };

typedef struct pf_slot {
    int state;
    uint32_t frame;
    int rc;             /* decode_frame()'s result */
    char err[PDX_ERRBUF_SIZE];
    uint8_t *buf;
    size_t cap;
} pf_slot;

typedef struct prefetch {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a slot was freed, or stop */
    pthread_cond_t done; /* a slot is done */
    pthread_t th[PF_MAX_THREADS];
    int nthreads;
    int stop;
    size_t next;         /* the next plan position to hand to a worker */
    size_t nslots;
    pf_slot slots[PF_MAX_SLOTS];
} prefetch;

struct pdx_zreader {
    const char *path;
    int fd;
    int kind;
    int seekable;
    /* seekable: frame i holds raw [raw_off[i], raw_off[i + 1]) at comp_off[i] */
    uint32_t nframes;
    uint64_t *raw_off, *comp_off;
    ZSTD_DCtx *dctx;
    uint8_t *frame;     /* the cached decompressed frame */
    size_t frame_cap;
    int64_t cached;     /* its index, -1 when none */
    uint8_t *cbuf;
    size_t cbuf_cap;
    /* seekable: the frames pdx_zreader_plan() listed, in order, and the
     * read-ahead that works through them once reads begin */
    uint32_t *plan;
    size_t nplan, plan_cap;
    uint32_t loads;     /* frames decoded or taken so far, counted to 2: once
                           there is one, the plan is fixed */
    prefetch *pf;
    /* not seekable: a stream positioned at stream.produced */
    zstream stream;
    int has_stream;
    uint8_t *skipbuf;
};

static int read_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Parses the seek table; 1 when there is a valid one, 0 when not, < 0 corrupt. */
static int load_seek_table(pdx_zreader *z, uint64_t size, char *errbuf)
{
    uint8_t foot[9];
    if (size < 17 || read_full(z->fd, foot, 9, size - 9) < 0)
        return 0;
    if (pdx_load_le32(foot + 5) != SEEK_MAGIC)
        return 0;
    uint32_t n = pdx_load_le32(foot);
    uint8_t desc = foot[4];
    if (desc & 0x7c)
        return pdx_errf(errbuf, PDX_ECORRUPT, "%s: seek table uses reserved bits", z->path);
    size_t es = (desc & 0x80) ? 12 : 8;
    if (n > MAX_FRAMES || (uint64_t)n * es + 17 > size)
        return pdx_errf(errbuf, PDX_ECORRUPT, "%s: seek table claims %u frames", z->path, n);
    uint64_t tsize = (uint64_t)n * es + 9;
    uint64_t tstart = size - tsize - 8;
    uint8_t hdr[8];
    if (read_full(z->fd, hdr, 8, tstart) < 0 || pdx_load_le32(hdr) != SKIPPABLE_SEEK ||
        pdx_load_le32(hdr + 4) != tsize)
        return pdx_errf(errbuf, PDX_ECORRUPT, "%s: truncated or damaged seek table", z->path);
    uint8_t *t = malloc(n ? (size_t)n * es : 1);
    z->raw_off = calloc((size_t)n + 1, sizeof(uint64_t));
    z->comp_off = calloc((size_t)n + 1, sizeof(uint64_t));
    if (t == NULL || z->raw_off == NULL || z->comp_off == NULL) {
        free(t);
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    }
    if (read_full(z->fd, t, (size_t)n * es, tstart + 8) < 0) {
        free(t);
        return pdx_errf(errbuf, PDX_EIO, "%s: cannot read the seek table", z->path);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = pdx_load_le32(t + (size_t)i * es), r = pdx_load_le32(t + (size_t)i * es + 4);
        if (r > MAX_FRAME_RAW) {
            free(t);
            return pdx_errf(errbuf, PDX_ECORRUPT, "%s: seek table frame %u claims %u bytes",
                            z->path, i, r);
        }
        z->comp_off[i + 1] = z->comp_off[i] + c;
        z->raw_off[i + 1] = z->raw_off[i] + r;
    }
    free(t);
    if (z->comp_off[n] != tstart)
        return pdx_errf(errbuf, PDX_ECORRUPT,
                        "%s: seek table does not match the file (frames end at %llu, table at %llu)",
                        z->path, (unsigned long long)z->comp_off[n], (unsigned long long)tstart);
    z->nframes = n;
    return 1;
}

int pdx_zreader_open(pdx_zreader **out, const char *path, int fd, uint64_t size, int kind,
                     char *errbuf)
{
    pdx_zreader *z = calloc(1, sizeof(*z));
    if (z == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    z->path = path;
    z->fd = fd;
    z->kind = kind;
    z->cached = -1;
    int rc = kind == PDX_COMP_ZSTD ? load_seek_table(z, size, errbuf) : 0;
    if (rc < 0) {
        pdx_zreader_close(z);
        return rc;
    }
    z->seekable = rc == 1;
    if (z->seekable) {
        z->dctx = ZSTD_createDCtx();
        if (z->dctx == NULL) {
            pdx_zreader_close(z);
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        }
    } else {
        if (zs_init(&z->stream, fd, kind, IN_CHUNK) < 0 || (z->skipbuf = malloc(IN_CHUNK)) == NULL) {
            zs_free(&z->stream);
            pdx_zreader_close(z);
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        }
        z->has_stream = 1;
    }
    *out = z;
    return PDX_OK;
}

int pdx_zreader_seekable(const pdx_zreader *z)
{
    return z->seekable;
}

uint64_t pdx_zreader_table_size(const pdx_zreader *z)
{
    return z->seekable ? z->raw_off[z->nframes] : 0;
}

/* Grows *buf to at least n bytes; 0 or -1. */
static int reserve(uint8_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    uint8_t *nb = realloc(*buf, n);
    if (nb == NULL)
        return -1;
    *buf = nb;
    *cap = n;
    return 0;
}

/* Reads frame i and decompresses it whole into *out (grown as needed), with
 * dctx and *cbuf as scratch.  Reads only what stays fixed after open, so
 * workers call it too.  0, or PDX_ECORRUPT / PDX_EIO / PDX_ENOMEM naming
 * the file and frame. */
static int decode_frame(const pdx_zreader *z, ZSTD_DCtx *dctx, uint32_t i, uint8_t **cbuf,
                        size_t *ccap, uint8_t **out, size_t *ocap, char *errbuf)
{
    size_t clen = (size_t)(z->comp_off[i + 1] - z->comp_off[i]);
    size_t rlen = (size_t)(z->raw_off[i + 1] - z->raw_off[i]);
    if (reserve(cbuf, ccap, clen) < 0 || reserve(out, ocap, rlen) < 0)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (read_full(z->fd, *cbuf, clen, z->comp_off[i]) < 0)
        return pdx_errf(errbuf, PDX_EIO, "%s: cannot read zstd frame %u at offset %llu", z->path, i,
                        (unsigned long long)z->comp_off[i]);
    size_t got = ZSTD_decompressDCtx(dctx, *out, rlen, *cbuf, clen);
    if (ZSTD_isError(got) || got != rlen)
        return pdx_errf(errbuf, PDX_ECORRUPT, "%s: zstd frame %u at offset %llu is corrupt: %s",
                        z->path, i, (unsigned long long)z->comp_off[i],
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong decompressed size");
    return PDX_OK;
}

/* The seekable frame that holds uncompressed byte pos (< the table's end). */
static uint32_t frame_of(const pdx_zreader *z, uint64_t pos)
{
    uint32_t lo = 0, hi = z->nframes;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->raw_off[mid] <= pos)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* ---- read-ahead ---------------------------------------------------------------- */

void pdx_zreader_plan(pdx_zreader *z, uint64_t off, uint64_t len)
{
    if (!z->seekable || z->loads > 0 || z->plan_cap == SIZE_MAX || len == 0 ||
        off >= z->raw_off[z->nframes])
        return;
    for (uint32_t i = frame_of(z, off); i < z->nframes && z->raw_off[i] < off + len; i++) {
        if (z->nplan > 0 && z->plan[z->nplan - 1] >= i)
            continue; /* listed already, or the offsets are not in order */
        if (z->raw_off[i + 1] - z->raw_off[i] > PF_MAX_RAW ||
            z->comp_off[i + 1] - z->comp_off[i] > PF_MAX_COMP)
            continue;
        if (z->nplan == z->plan_cap) {
            size_t ncap = z->plan_cap ? z->plan_cap * 2 : 64;
            uint32_t *np = ncap < SIZE_MAX / sizeof(*np) ? realloc(z->plan, ncap * sizeof(*np))
                                                          : NULL;
            if (np == NULL) {
                /* Read-ahead is only a speed-up: without memory, none. */
                free(z->plan);
                z->plan = NULL;
                z->nplan = 0;
                z->plan_cap = SIZE_MAX;
                return;
            }
            z->plan = np;
            z->plan_cap = ncap;
        }
        z->plan[z->nplan++] = i;
    }
}

static pthread_mutex_t pf_global = PTHREAD_MUTEX_INITIALIZER;
static int pf_readers;

/* With p->mu held: a free slot given the plan's next frame, now busy, or
 * NULL when there is no free slot or the whole plan is handed out. */
static pf_slot *pf_claim(pdx_zreader *z)
{
    prefetch *p = z->pf;
    for (size_t k = 0; k < p->nslots && p->next < z->nplan; k++) {
        pf_slot *s = &p->slots[k];
        if (s->state == PF_FREE) {
            s->state = PF_BUSY;
            s->frame = z->plan[p->next++];
            return s;
        }
    }
    return NULL;
}

static void *pf_worker(void *arg)
{
    pdx_zreader *z = arg;
    prefetch *p = z->pf;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    uint8_t *cbuf = NULL;
    size_t ccap = 0;
    pthread_mutex_lock(&p->mu);
    while (dctx != NULL) {
        pf_slot *s = NULL;
        while (!p->stop && p->next < z->nplan && (s = pf_claim(z)) == NULL)
            pthread_cond_wait(&p->work, &p->mu);
        if (s == NULL)
            break; /* stopped, or the whole plan is handed out */
        pthread_mutex_unlock(&p->mu);
        s->rc = decode_frame(z, dctx, s->frame, &cbuf, &ccap, &s->buf, &s->cap, s->err);
        pthread_mutex_lock(&p->mu);
        s->state = PF_DONE;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    ZSTD_freeDCtx(dctx);
    free(cbuf);
    return NULL;
}

static void pf_stop(pdx_zreader *z)
{
    prefetch *p = z->pf;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->nthreads; t++)
        pthread_join(p->th[t], NULL);
    for (size_t k = 0; k < p->nslots; k++)
        free(p->slots[k].buf);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
    z->pf = NULL;
    pthread_mutex_lock(&pf_global);
    pf_readers--;
    pthread_mutex_unlock(&pf_global);
}

/* Starts the workers when the plan has frames enough and the machine has
 * cores to spare; otherwise reads stay synchronous. */
static void pf_start(pdx_zreader *z)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (z->nplan < 2 || cpus < 2)
        return;
    pthread_mutex_lock(&pf_global);
    int room = pf_readers < PF_MAX_READERS;
    pf_readers += room;
    pthread_mutex_unlock(&pf_global);
    if (!room)
        return;
    prefetch *p = calloc(1, sizeof(*p));
    int ok = p != NULL && pthread_mutex_init(&p->mu, NULL) == 0;
    if (ok && pthread_cond_init(&p->work, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        ok = 0;
    }
    if (ok && pthread_cond_init(&p->done, NULL) != 0) {
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->mu);
        ok = 0;
    }
    if (!ok) {
        free(p);
        pthread_mutex_lock(&pf_global);
        pf_readers--;
        pthread_mutex_unlock(&pf_global);
        return;
    }
    /* The reading thread decodes too while it waits (pf_take). */
    int want = (int)PDX_MIN((size_t)PDX_MIN(cpus - 1, (long)PF_MAX_THREADS), z->nplan);
    p->nslots = (size_t)want + 2;
    z->pf = p;
    pthread_mutex_lock(&p->mu);
    for (int t = 0; t < want; t++) {
        if (pthread_create(&p->th[t], NULL, pf_worker, z) != 0)
            break;
        p->nthreads++;
    }
    pthread_mutex_unlock(&p->mu);
    if (p->nthreads == 0)
        pf_stop(z);
}

/* Takes frame i from the read-ahead when a worker has it or is on it: 1
 * taken (z->frame holds it), 0 not there (decode it here), or the error the
 * worker met.  Frames the reads went past are dropped, and a frame decoded
 * here is not handed to a worker as well.  *over is set when the whole plan
 * has been handed out and taken or dropped. */
static int pf_take(pdx_zreader *z, uint32_t i, int *over, char *errbuf)
{
    prefetch *p = z->pf;
    pf_slot *hit = NULL;
    pthread_mutex_lock(&p->mu);
    for (size_t k = 0; k < p->nslots && hit == NULL; k++)
        if (p->slots[k].state != PF_FREE && p->slots[k].frame == i)
            hit = &p->slots[k];
    while (hit != NULL && hit->state == PF_BUSY) {
        /* Rather than sleep until the worker is done, decode the next frame
         * of the plan here (with the reader's own context and buffers): one
         * handover fewer, and the core this thread runs on is not idle. */
        pf_slot *s = pf_claim(z);
        if (s == NULL) {
            pthread_cond_wait(&p->done, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        s->rc = decode_frame(z, z->dctx, s->frame, &z->cbuf, &z->cbuf_cap, &s->buf, &s->cap, s->err);
        pthread_mutex_lock(&p->mu);
        s->state = PF_DONE;
    }
    int freed = 0;
    for (size_t k = 0; k < p->nslots; k++) {
        pf_slot *s = &p->slots[k];
        if (s->state == PF_DONE && s != hit && s->frame < i) {
            s->state = PF_FREE;
            freed = 1;
        }
    }
    int rc = 0;
    if (hit == NULL) {
        while (p->next < z->nplan && z->plan[p->next] <= i)
            p->next++;
    } else {
        if (hit->rc < 0) {
            rc = pdx_errf(errbuf, hit->rc, "%s", hit->err);
        } else {
            uint8_t *b = z->frame;
            size_t c = z->frame_cap;
            z->frame = hit->buf;
            z->frame_cap = hit->cap;
            hit->buf = b;
            hit->cap = c;
            rc = 1;
        }
        hit->state = PF_FREE;
        freed = 1;
    }
    if (freed)
        pthread_cond_broadcast(&p->work);
    *over = p->next >= z->nplan;
    for (size_t k = 0; k < p->nslots; k++)
        if (p->slots[k].state != PF_FREE)
            *over = 0;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int load_frame(pdx_zreader *z, uint32_t i, char *errbuf)
{
    if (z->cached == (int64_t)i)
        return PDX_OK;
    if (z->loads < 2 && ++z->loads == 2)
        pf_start(z); /* once, at the second frame */
    z->cached = -1;
    int rc = 0, over = 0;
    if (z->pf != NULL) {
        rc = pf_take(z, i, &over, errbuf);
        if (over)
            pf_stop(z); /* its threads and buffers are of no more use */
    }
    if (rc == 0)
        rc = decode_frame(z, z->dctx, i, &z->cbuf, &z->cbuf_cap, &z->frame, &z->frame_cap, errbuf);
    if (rc < 0)
        return rc;
    z->cached = i;
    return PDX_OK;
}

int pdx_zreader_pread(pdx_zreader *z, uint8_t *buf, size_t n, uint64_t off, size_t *got,
                      char *errbuf)
{
    size_t done = 0;
    int rc;
    if (z->seekable) {
        while (done < n && off + done < z->raw_off[z->nframes]) {
            uint64_t pos = off + done;
            uint32_t lo = frame_of(z, pos);
            if ((rc = load_frame(z, lo, errbuf)) < 0)
                return rc;
            size_t at = (size_t)(pos - z->raw_off[lo]);
            size_t take = PDX_MIN(n - done, (size_t)(z->raw_off[lo + 1] - pos));
            memcpy(buf + done, z->frame + at, take);
            done += take;
        }
        *got = done;
        return PDX_OK;
    }
    /* Streams only go forward, and not past an error: start again for an
     * earlier offset, or after a failed read. */
    if ((off < z->stream.produced || z->stream.failed) && zs_rewind(&z->stream) < 0)
        return pdx_errf(errbuf, PDX_EIO, "%s: cannot restart decompression", z->path);
    while (z->stream.produced < off) {
        size_t want = (size_t)PDX_MIN((uint64_t)IN_CHUNK, off - z->stream.produced);
        ssize_t r = zs_read(&z->stream, z->skipbuf, want);
        if (r < 0)
            return pdx_errf(errbuf, PDX_ECORRUPT, "%s: %s", z->path, z->stream.err);
        if (r == 0) {
            *got = 0;
            return PDX_OK;
        }
    }
    while (done < n) {
        ssize_t r = zs_read(&z->stream, buf + done, n - done);
        if (r < 0 && done > 0 && z->stream.truncated)
            break; /* what came before the end is good: a short read */
        if (r < 0)
            return pdx_errf(errbuf, PDX_ECORRUPT, "%s: %s", z->path, z->stream.err);
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return PDX_OK;
}

void pdx_zreader_close(pdx_zreader *z)
{
    if (z == NULL)
        return;
    pf_stop(z);
    free(z->plan);
    if (z->has_stream)
        zs_free(&z->stream);
    ZSTD_freeDCtx(z->dctx);
    free(z->raw_off);
    free(z->comp_off);
    free(z->frame);
    free(z->cbuf);
    free(z->skipbuf);
    free(z);
}

/* ---- writing seekable zstd ---------------------------------------------------- */

int pdx_zstd_write_seekable(const pdx_source *src, FILE *out, int level, size_t frame_size,
                            pdx_zwriter_stats *st, char *errbuf)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    uint8_t *raw = malloc(frame_size);
    size_t bound = ZSTD_compressBound(frame_size);
    uint8_t *comp = malloc(bound);
    uint8_t *table = NULL;
    size_t tlen = 0, tcap = 0;
    int rc = PDX_OK;
    memset(st, 0, sizeof(*st));
    if (cctx == NULL || raw == NULL || comp == NULL) {
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        goto out;
    }
    size_t zr;
    if (ZSTD_isError(zr = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(zr = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1))) {
        rc = pdx_errf(errbuf, PDX_EUSAGE, "zstd: %s", ZSTD_getErrorName(zr));
        goto out;
    }
    for (;;) {
        size_t have = 0;
        while (have < frame_size) {
            ssize_t r = src->read(src->ctx, raw + have, frame_size - have);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = pdx_errf(errbuf, PDX_EIO, "read: %s", strerror(errno));
                goto out;
            }
            if (r == 0)
                break;
            have += (size_t)r;
        }
        if (have == 0)
            break;
        size_t c = ZSTD_compress2(cctx, comp, bound, raw, have);
        if (ZSTD_isError(c)) {
            rc = pdx_errf(errbuf, PDX_EIO, "zstd: %s", ZSTD_getErrorName(c));
            goto out;
        }
        if (fwrite(comp, 1, c, out) != c) {
            rc = pdx_errf(errbuf, PDX_EIO, "write: %s", strerror(errno));
            goto out;
        }
        if (tlen + 8 > tcap) {
            size_t nc = tcap ? tcap * 2 : 4096;
            uint8_t *nt = realloc(table, nc);
            if (nt == NULL) {
                rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
                goto out;
            }
            table = nt;
            tcap = nc;
        }
        pdx_store_le32(table + tlen, (uint32_t)c);
        pdx_store_le32(table + tlen + 4, (uint32_t)have);
        tlen += 8;
        st->frames++;
        st->raw_bytes += have;
        st->comp_bytes += c;
        if (have < frame_size)
            break;
    }
    uint8_t h[8], foot[9];
    pdx_store_le32(h, SKIPPABLE_SEEK);
    pdx_store_le32(h + 4, (uint32_t)(tlen + 9));
    pdx_store_le32(foot, (uint32_t)st->frames);
    foot[4] = 0;
    pdx_store_le32(foot + 5, SEEK_MAGIC);
    if (fwrite(h, 1, 8, out) != 8 || (tlen && fwrite(table, 1, tlen, out) != tlen) ||
        fwrite(foot, 1, 9, out) != 9) {
        rc = pdx_errf(errbuf, PDX_EIO, "write: %s", strerror(errno));
        goto out;
    }
    st->comp_bytes += 8 + tlen + 9;
out:
    ZSTD_freeCCtx(cctx);
    free(raw);
    free(comp);
    free(table);
    return rc;
}
