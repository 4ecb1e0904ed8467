/*
 * fuzz_zstd.c - libFuzzer target: the compressed-capture readers of
 * zsource.c (plain zstd, zstd's seekable format, gzip).
 *
 * Input: a whole compressed file.  It is written to a memfd, since the
 * readers take a path (/proc/self/fd/N) or a descriptor.
 *
 * A reference decompression of the same bytes (libzstd's streaming
 * decoder, in small steps and in one; or zlib with the same rules for
 * concatenated members), capped at 1 MiB, says what the uncompressed
 * capture is: complete (REF_OK), damaged after its first len bytes
 * (REF_ERR), or not known past len (REF_UNSURE: over the cap, or a frame
 * libzstd takes or refuses depending on the output room it is given, see
 * ref_zstd).  Then:
 *
 *  - pdx_comp_detect names the magic the file starts with;
 *  - streaming (pdx_capture_open_any + pdx_capture_next; under libFuzzer
 *    one input in FUZZ_SOURCE_ONE_IN, see fuzz_common.h): every record lies
 *    after the previous one and its bytes are the reference's at the offset
 *    the reader gives; with a complete reference the reader returns the same
 *    records and the same ending as pdx_capture_open_mem over the reference;
 *    the end is sticky; a clean end means the whole input was consumed
 *    without a decompressor error, and never happens for a damaged input;
 *  - random access (pdx_zreader_*): the reader is seekable exactly when the
 *    file ends in a valid seek table (parsed here from the format's spec,
 *    with zsource.c's limits), and fails to open only when it ends in a
 *    damaged one.  pdx_zreader_pread is tried at offsets around frame
 *    boundaries, at the end, past it, backwards and at random, and after
 *    errors too; it never returns more than asked and leaves *got alone on
 *    error.  A stream (gzip, zstd without a table) returns the reference's
 *    bytes or an error, short only where the stream ends cleanly, and does
 *    not fail on a clean stream.  A seekable reader places frame
 *    i's output at the sum of the table's earlier raw sizes: it returns
 *    exactly those bytes, short only at the table's total, fails exactly
 *    when a frame read does not decode to its table size, and where every
 *    frame does, its bytes are the stream's.  (A table whose raw size is
 *    wrong for one frame shifts every later frame: nothing short of
 *    reading every frame header at open could see that.)
 *  - one input in FUZZ_SOURCE_ONE_IN with a complete reference of up to
 *    64 KiB is compressed again with pdx_zstd_write_seekable (small frames,
 *    fed in odd-sized pieces), which must give a seekable file that reads
 *    back the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "cursor.h"
#include "fuzz_common.h"
#include "zsource.h"

#define REF_CAP (1u << 20)
#define REF_STEP 64
/* zsource.c's limits on a seek table. */
#define SEEK_MAGIC 0x8F92EAB1u
#define SKIPPABLE_SEEK 0x184D2A5Eu
#define MAX_FRAMES (1u << 27)
#define MAX_FRAME_RAW (256u * 1024u * 1024u)
/* Frame boundaries tried by reads across them. */
#define MAX_BOUNDS 6

enum { REF_OK, REF_ERR, REF_UNSURE };

typedef struct ref {
    const uint8_t *buf;
    size_t len;
    int state;
} ref;

enum { TABLE_NONE, TABLE_BAD, TABLE_OK };
/* What one entry's compressed bytes decode to, the way zsource.c checks a
 * frame: exactly its raw size (GOOD), anything else (BAD), or not tried
 * (UNKNOWN: past the cap). */
enum { FRAME_GOOD, FRAME_BAD, FRAME_UNKNOWN };

typedef struct entry {
    uint64_t comp_off, clen, raw_off, rlen;
    int status;
} entry;

/* A seek table, and the uncompressed bytes as the table places them: frame
 * i's output at the sum of the raw sizes before it. */
typedef struct table {
    int state;
    uint64_t total;   /* uncompressed bytes the table claims */
    uint32_t n;
    entry *e;
    int consistent;   /* every frame GOOD: the table's offsets are the stream's */
    const uint8_t *buf; /* the table's bytes, up to REF_CAP */
} table;

static uint8_t ref_buf[REF_CAP], tab_buf[REF_CAP];
/* The one-pass reference: room for any frame that starts inside the cap. */
static uint8_t pass_buf[2 * REF_CAP];
/* For the reference and the table's frames: one context for the whole run,
 * since a fresh one per input costs more under ASan than the rest. */
static ZSTD_DCtx *ref_dctx;

static ZSTD_DCtx *dctx(void)
{
    if (ref_dctx == NULL)
        ref_dctx = ZSTD_createDCtx();
    FUZZ_CHECK(ref_dctx != NULL);
    return ref_dctx;
}

/*
 * libzstd's streaming decoder over the whole input, into buf (cap bytes);
 * *len is what it gave before it stopped, up to REF_CAP.  one_pass: all of
 * buf as output room each call; otherwise none at the start of each frame
 * (so that no frame is taken in one pass), then REF_STEP bytes a call.
 */
static int zstd_run(const uint8_t *data, size_t size, uint8_t *buf, size_t cap, int one_pass,
                    size_t *len)
{
    ZSTD_DCtx *d = dctx();
    ZSTD_inBuffer in = {data, size, 0};
    ZSTD_outBuffer out = {buf, 0, 0};
    size_t hint = 0;
    int state = REF_OK;

    FUZZ_CHECK(!ZSTD_isError(ZSTD_DCtx_reset(d, ZSTD_reset_session_only)));
    for (;;) {
        if (in.pos == in.size) {
            /* The input is used up, but the decoder may still hold output
             * of the blocks it took (it gets REF_STEP bytes of room a
             * call): hand all of that out first. */
            size_t before;
            while (hint != 0 && !ZSTD_isError(hint) && out.pos < REF_CAP) {
                before = out.pos;
                out.size = one_pass ? cap : PDX_MIN(out.pos + REF_STEP, cap);
                hint = ZSTD_decompressStream(d, &out, &in);
                if (out.pos == before)
                    break;
            }
            if (out.pos >= REF_CAP)
                state = REF_UNSURE;
            /* The end: clean when the last frame was complete and flushed. */
            else if (ZSTD_isError(hint) || hint != 0 || size == 0)
                state = REF_ERR;
            break;
        }
        if (out.pos >= REF_CAP) {
            state = REF_UNSURE;
            break;
        }
        out.size = one_pass ? cap : PDX_MIN(out.pos + (hint == 0 ? 0 : REF_STEP), cap);
        hint = ZSTD_decompressStream(d, &out, &in);
        if (ZSTD_isError(hint)) {
            state = REF_ERR;
            break;
        }
    }
    *len = PDX_MIN(out.pos, (size_t)REF_CAP);
    return state;
}

/*
 * libzstd decodes a frame in one pass when the output has room for all of
 * it (and the input holds all of it), and in blocks through its own
 * buffers otherwise, and the two do not always agree: only the block
 * decoder refuses a window over its limit, only the one-pass decoder checks
 * the frame's content size when the last block is empty.  zsource.c gets
 * either, depending on the room its caller gives.  So the reference runs
 * both, and is sure only of what they agree on.  The known prefix is the
 * block decoder's (the one that gets furthest into a damaged frame).
 */
static void ref_zstd(const uint8_t *data, size_t size, ref *r)
{
    size_t len2 = 0;
    int s1 = zstd_run(data, size, ref_buf, sizeof(ref_buf), 0, &r->len);
    int s2 = zstd_run(data, size, pass_buf, sizeof(pass_buf), 1, &len2);

    r->buf = ref_buf;
    if (s1 == REF_OK && s2 == REF_OK) {
        FUZZ_CHECK_EQ(r->len, len2);
        FUZZ_CHECK(memcmp(ref_buf, pass_buf, len2) == 0);
    }
    r->state = s1 == s2 ? s1 : REF_UNSURE;
}

/* zsource.c's rules: gzip or zlib members, one after the other, to the end. */
static void ref_gzip(const uint8_t *data, size_t size, ref *r)
{
    z_stream zs;

    memset(&zs, 0, sizeof(zs));
    FUZZ_CHECK_EQ(inflateInit2(&zs, 15 + 32), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)size;
    zs.next_out = ref_buf;
    zs.avail_out = REF_CAP;
    for (;;) {
        int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_OK)
            continue;
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0) {
                r->state = REF_OK;
                break;
            }
            FUZZ_CHECK_EQ(inflateReset(&zs), Z_OK);
            continue;
        }
        r->state = rc == Z_BUF_ERROR && zs.avail_out == 0 ? REF_UNSURE : REF_ERR;
        break;
    }
    r->buf = ref_buf;
    r->len = REF_CAP - zs.avail_out;
    inflateEnd(&zs);
}

/*
 * The seek table at the end of data, if any (zstd's seekable format), with
 * zsource.c's limits; then each frame decoded on its own into tab_buf at
 * the table's offset.  Free t->e with table_free().
 */
static void parse_table(const uint8_t *data, size_t size, table *t)
{
    memset(t, 0, sizeof(*t));
    t->state = TABLE_NONE;
    t->buf = tab_buf;
    if (size < 17 || pdx_load_le32(data + size - 4) != SEEK_MAGIC)
        return;
    t->state = TABLE_BAD;
    uint32_t n = pdx_load_le32(data + size - 9);
    uint8_t desc = data[size - 5];
    uint64_t es = (desc & 0x80) ? 12 : 8;
    if ((desc & 0x7c) || n > MAX_FRAMES || n * es + 17 > size)
        return;
    uint64_t tstart = size - 17 - n * es;
    if (pdx_load_le32(data + tstart) != SKIPPABLE_SEEK ||
        pdx_load_le32(data + tstart + 4) != n * es + 9)
        return;
    entry *e = calloc(n ? n : 1, sizeof(*e));
    FUZZ_CHECK(e != NULL);
    uint64_t comp = 0, raw = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = data + tstart + 8 + i * es;
        e[i].comp_off = comp;
        e[i].raw_off = raw;
        e[i].clen = pdx_load_le32(p);
        e[i].rlen = pdx_load_le32(p + 4);
        if (e[i].rlen > MAX_FRAME_RAW) {
            free(e);
            return;
        }
        comp += e[i].clen;
        raw += e[i].rlen;
    }
    if (comp != tstart) {
        free(e);
        return;
    }
    t->state = TABLE_OK;
    t->total = raw;
    t->n = n;
    t->e = e;
    t->consistent = 1;

    ZSTD_DCtx *d = dctx();
    for (uint32_t i = 0; i < n; i++) {
        if (e[i].raw_off + e[i].rlen > REF_CAP) {
            e[i].status = FRAME_UNKNOWN;
        } else {
            size_t got = ZSTD_decompressDCtx(d, tab_buf + e[i].raw_off, (size_t)e[i].rlen,
                                             data + e[i].comp_off, (size_t)e[i].clen);
            e[i].status = !ZSTD_isError(got) && got == e[i].rlen ? FRAME_GOOD : FRAME_BAD;
        }
        if (e[i].status != FRAME_GOOD)
            t->consistent = 0;
    }
}

static void table_free(table *t)
{
    free(t->e);
    t->e = NULL;
}

/* ---- streaming ------------------------------------------------------------ */

static void check_stream(const char *path, int kind, size_t size, const ref *r)
{
    char err[PDX_ERRBUF_SIZE], merr[PDX_ERRBUF_SIZE];
    pdx_capture *cap = NULL, *mem = NULL;
    pdx_zsrc *z = NULL;
    pdx_record rec, mrec;
    uint64_t prev, consumed = 0;
    int k = -1, rc, mrc = 0;

    err[0] = merr[0] = 0;
    rc = pdx_capture_open_any(path, &cap, &z, &k, err);
    if (r->state == REF_OK)
        mrc = pdx_capture_open_mem(&mem, r->buf, r->len, merr);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != 0);
        FUZZ_CHECK(cap == NULL && z == NULL);
        /* The same bytes in memory fail the same way. */
        if (r->state == REF_OK && rc != mrc) {
            fprintf(stderr, "compressed: %d %s\nreference: %d %s\n", rc, err, mrc, merr);
            FUZZ_CHECK_EQ((unsigned)rc, (unsigned)mrc);
        }
        pdx_capture_close(mem);
        return;
    }
    FUZZ_CHECK_EQ(k, kind);
    FUZZ_CHECK(z != NULL && cap != NULL);
    if (r->state == REF_OK) {
        if (mrc != 0)
            fprintf(stderr, "reference: %s\n", merr);
        FUZZ_CHECK_EQ(mrc, 0);
    }

    prev = pdx_capture_tell(cap);
    while ((rc = pdx_capture_next(cap, &rec, err)) == 1) {
        FUZZ_CHECK(rec.offset >= prev);
        FUZZ_CHECK(rec.next_offset > rec.offset);
        FUZZ_CHECK((uint64_t)rec.data_off + rec.caplen <= rec.next_offset - rec.offset);
        FUZZ_CHECK_EQ(pdx_capture_tell(cap), rec.next_offset);
        prev = rec.next_offset;
        /* The record is where the reader says it is. */
        if (rec.next_offset <= r->len)
            FUZZ_CHECK(memcmp(rec.data, r->buf + rec.offset + rec.data_off, rec.caplen) == 0);
        else
            FUZZ_CHECK(r->state != REF_OK);
        if (mem != NULL) {
            mrc = pdx_capture_next(mem, &mrec, merr);
            FUZZ_CHECK_EQ(mrc, 1);
            fuzz_same_record(&rec, &mrec);
            FUZZ_CHECK_EQ(rec.ts_ns, mrec.ts_ns);
        }
        FUZZ_CHECK(pdx_zsrc_consumed(z) >= consumed);
        consumed = pdx_zsrc_consumed(z);
        FUZZ_CHECK(consumed <= size);
        /* Past what the reference holds nothing more can be compared. */
        if (rec.next_offset >= REF_CAP)
            goto out;
    }
    FUZZ_CHECK(rc <= 0);
    if (rc == 0) {
        /* A clean end: all of the input was decompressed without error. */
        FUZZ_CHECK(r->state != REF_ERR);
        FUZZ_CHECK_EQ(pdx_zsrc_error(z)[0], 0);
        FUZZ_CHECK_EQ(pdx_zsrc_consumed(z), size);
        FUZZ_CHECK(r->state != REF_OK || prev <= r->len);
        FUZZ_CHECK_EQ(pdx_capture_next(cap, &rec, err), 0);
    } else {
        FUZZ_CHECK(err[0] != 0);
        FUZZ_CHECK_EQ((unsigned)pdx_capture_next(cap, &rec, err), (unsigned)rc);
    }
    FUZZ_CHECK(pdx_zsrc_consumed(z) <= size);
    if (mem != NULL) {
        mrc = pdx_capture_next(mem, &mrec, merr);
        /* The decompressor has no reason to fail on a clean input. */
        if (pdx_zsrc_error(z)[0] != 0)
            fprintf(stderr, "decompressor: %s\n", pdx_zsrc_error(z));
        FUZZ_CHECK_EQ(pdx_zsrc_error(z)[0], 0);
        if (rc != mrc)
            fprintf(stderr, "compressed: %d %s\nreference: %d %s\n", rc, err, mrc, merr);
        FUZZ_CHECK_EQ((unsigned)rc, (unsigned)mrc);
        FUZZ_CHECK(memcmp(pdx_capture_stats(cap), pdx_capture_stats(mem), sizeof(pdx_capstats)) ==
                   0);
    }
out:
    pdx_capture_close(cap);
    pdx_zsrc_close(z);
    pdx_capture_close(mem);
}

/* ---- random access -------------------------------------------------------- */

typedef struct reader {
    pdx_zreader *z;
    int seekable;
    const ref *r;
    const table *t;
} reader;

/* For a seekable reader: which frames [off, off + n) touches, as the table
 * places them.  *bad: one is BAD; *unknown: one is UNKNOWN. */
static void frames_touched(const table *t, uint64_t off, uint64_t n, int *bad, int *unknown)
{
    *bad = *unknown = 0;
    for (uint32_t i = 0; i < t->n && n > 0; i++) {
        const entry *e = &t->e[i];
        if (e->rlen == 0 || e->raw_off + e->rlen <= off || e->raw_off >= off + n)
            continue;
        *bad |= e->status == FRAME_BAD;
        *unknown |= e->status == FRAME_UNKNOWN;
    }
}

/* buf[0..got) read at off equals want[off..) as far as want has bytes. */
static void same_bytes(const uint8_t *buf, size_t got, uint64_t off, const uint8_t *want,
                       uint64_t want_len, const char *what)
{
    if (off >= want_len)
        return;
    size_t k = (size_t)PDX_MIN((uint64_t)got, want_len - off);
    for (size_t i = 0; i < k; i++) {
        if (buf[i] != want[off + i]) {
            fprintf(stderr, "pread at %llu: byte %llu differs from the %s\n",
                    (unsigned long long)off, (unsigned long long)(off + i), what);
            FUZZ_CHECK_EQ(buf[i], want[off + i]);
        }
    }
}

static void check_pread(reader *rd, uint64_t off, size_t n)
{
    char err[PDX_ERRBUF_SIZE];
    const ref *r = rd->r;
    const table *t = rd->t;
    uint8_t *buf = malloc(n ? n : 1);
    size_t got = (size_t)-1;
    int rc, bad = 0, unknown = 0;

    FUZZ_CHECK(buf != NULL);
    err[0] = 0;
    if (rd->seekable)
        frames_touched(t, off, off < t->total ? PDX_MIN((uint64_t)n, t->total - off) : 0, &bad,
                       &unknown);
    rc = pdx_zreader_pread(rd->z, buf, n, off, &got, err);
    if (rc < 0) {
        FUZZ_CHECK(rc == PDX_ECORRUPT || rc == PDX_EIO || rc == PDX_ENOMEM);
        FUZZ_CHECK(err[0] != 0);
        FUZZ_CHECK_EQ(got, (size_t)-1);
        if (rd->seekable && !bad && !unknown) {
            /* Only a frame that does not decode to its size fails. */
            fprintf(stderr, "pread(%llu, %zu): %s\n", (unsigned long long)off, n, err);
            FUZZ_CHECK(bad || unknown);
        }
        if (!rd->seekable && r->state == REF_OK) {
            /* A stream that decompresses cleanly does not fail. */
            fprintf(stderr, "pread(%llu, %zu): %s\n", (unsigned long long)off, n, err);
            FUZZ_CHECK(r->state != REF_OK);
        }
        free(buf);
        return;
    }
    FUZZ_CHECK_EQ(rc, 0);
    FUZZ_CHECK(got <= n);
    if (rd->seekable) {
        /* The table says where each frame's bytes go, and how many there are;
         * a frame that does not decode to its size is never read. */
        FUZZ_CHECK_EQ(got, off < t->total ? PDX_MIN((uint64_t)n, t->total - off) : 0);
        FUZZ_CHECK(!bad);
        same_bytes(buf, got, off, t->buf, PDX_MIN(t->total, (uint64_t)REF_CAP), "seek table's");
        /* Where the table agrees with the frames it agrees with the stream. */
        if (t->consistent && r->state == REF_OK) {
            FUZZ_CHECK_EQ(t->total, r->len);
            same_bytes(buf, got, off, r->buf, r->len, "stream's");
        }
    } else {
        same_bytes(buf, got, off, r->buf, r->len, "stream's");
        if (r->state == REF_OK)
            FUZZ_CHECK_EQ(got, off < r->len ? PDX_MIN((uint64_t)n, r->len - off) : 0);
        else if (got < n && r->state == REF_ERR)
            /* Cut short: only what decoded before the damage, which the
             * reference holds too (its bytes were compared above). */
            FUZZ_CHECK(off + got <= r->len);
    }
    free(buf);
}

static uint64_t mix(uint64_t *h)
{
    *h ^= *h >> 33;
    *h *= 0xff51afd7ed558ccdULL;
    *h ^= *h >> 33;
    return *h;
}

/* A reader told first which offsets it will read (pdx_zreader_plan), so
 * that a seekable one decompresses their frames ahead on worker threads:
 * reads in plan order, then one outside it and one backwards, give the same
 * bytes and fail on the same frames as a reader without a plan. */
static void check_planned(const char *path, int fd, size_t size, int kind, const ref *r,
                          const table *t, uint64_t h)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_zreader *z = NULL;
    uint64_t len = PDX_MIN(r->len, t->total), offs[16];
    int n = 0;

    if (pdx_zreader_open(&z, path, fd, size, kind, err) < 0)
        return; /* check_zreader has checked why */
    reader rd = {z, pdx_zreader_seekable(z), r, t};
    /* Ascending offsets, a few in the same frame, up to the end and past. */
    for (uint64_t off = mix(&h) % 64; n < 16 && off <= len + 8; n++) {
        offs[n] = off;
        off += 1 + mix(&h) % (len / 8 + 2);
    }
    for (int i = 0; i < n; i++)
        pdx_zreader_plan(z, offs[i], 1 + mix(&h) % 64);
    for (int i = 0; i < n; i++) {
        check_pread(&rd, offs[i], 1 + (size_t)(mix(&h) % 64));
        if (i == n / 2 && n > 2)
            check_pread(&rd, offs[n - 1], 3); /* ahead of the plan */
    }
    if (n > 0)
        check_pread(&rd, offs[0], 9); /* back to the start */
    pdx_zreader_close(z);
}

static void check_zreader(const char *path, int fd, size_t size, int kind, const ref *r,
                          const table *t, uint64_t h)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_zreader *z = NULL;
    reader rd;
    uint64_t len = r->len;
    int rc;

    err[0] = 0;
    rc = pdx_zreader_open(&z, path, fd, size, kind, err);
    if (rc < 0) {
        FUZZ_CHECK(z == NULL);
        FUZZ_CHECK(err[0] != 0);
        /* Only a damaged seek table keeps a file from opening. */
        if (t->state != TABLE_BAD)
            fprintf(stderr, "open: %s\n", err);
        FUZZ_CHECK(kind == PDX_COMP_ZSTD);
        FUZZ_CHECK_EQ(t->state, TABLE_BAD);
        FUZZ_CHECK_EQ(rc, PDX_ECORRUPT);
        return;
    }
    FUZZ_CHECK(z != NULL);
    rd.z = z;
    rd.seekable = pdx_zreader_seekable(z);
    rd.r = r;
    rd.t = t;
    if (kind == PDX_COMP_GZIP)
        FUZZ_CHECK_EQ(rd.seekable, 0);
    else
        FUZZ_CHECK_EQ(rd.seekable, t->state == TABLE_OK);

    check_pread(&rd, 0, 0);
    check_pread(&rd, 0, 1);
    check_pread(&rd, 0, 64);
    if (rd.seekable) {
        /* Across and at frame boundaries, at and past the table's end. */
        for (uint32_t i = 1; i < t->n && i <= MAX_BOUNDS; i++) {
            uint64_t b = t->e[i].raw_off;
            if (b >= 3)
                check_pread(&rd, b - 3, 7);
            check_pread(&rd, b, 1);
            if (b >= 1)
                check_pread(&rd, b - 1, 1);
        }
        if (t->total >= 2)
            check_pread(&rd, t->total - 2, 8);
        check_pread(&rd, t->total, 1);
        check_pread(&rd, t->total + 1, 4);
    }
    /* Half, then all the rest and more: a damaged stream stops in the
     * middle with output held back, fails further on, and is read on from
     * the middle; then the same from the start. */
    check_pread(&rd, 0, (size_t)(len / 2));
    check_pread(&rd, len / 2, (size_t)PDX_MIN(len + 4096, (uint64_t)256 * 1024));
    check_pread(&rd, len / 2 + len / 8, 16);
    check_pread(&rd, len / 2, 17);
    check_pread(&rd, 0, (size_t)PDX_MIN(len + 4096, (uint64_t)256 * 1024));
    check_pread(&rd, len / 3, 40);
    /* Around the end of what the reference has, past it, then backwards. */
    if (len >= 5)
        check_pread(&rd, len - 5, 10);
    if (len >= 1)
        check_pread(&rd, len - 1, 1);
    check_pread(&rd, len, 3);
    check_pread(&rd, len + 1000, 2);
    check_pread(&rd, 1, 5);
    /* At random, forwards and backwards, short and long. */
    for (int i = 0; i < 8; i++) {
        uint64_t off = mix(&h) % (len + 64);
        check_pread(&rd, off, 1 + (size_t)(mix(&h) % (i & 1 ? 300 : len + 300)));
    }
    check_pread(&rd, 0, (size_t)PDX_MIN(len + 8, (uint64_t)256 * 1024));
    /* A stored offset from a damaged index; a stream finds the end first. */
    if (rd.seekable || r->state == REF_OK)
        check_pread(&rd, UINT64_MAX - 3, 8);
    check_pread(&rd, len / 3, 40);
    pdx_zreader_close(z);
    check_planned(path, fd, size, kind, r, t, h);
}

/* ---- writing ------------------------------------------------------------------ */

/* The reference compressed again as seekable zstd, in small frames, and
 * read back at random. */
static void check_writer(const ref *r, uint64_t h)
{
    char err[PDX_ERRBUF_SIZE], path[64];
    size_t frame = 1 + (size_t)(mix(&h) % 2048);
    int level = 1 + (int)(mix(&h) % 3);
    fuzz_src src = {r->buf, r->len, 0, (unsigned)h};
    pdx_source s = {&src, fuzz_src_read, NULL, 0};
    pdx_zwriter_stats st;
    pdx_zreader *z = NULL;
    table t;
    int fd = memfd_create("fuzz_zstd_out", MFD_CLOEXEC);
    FILE *f;

    FUZZ_CHECK(fd >= 0);
    f = fdopen(fd, "w+b");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK_EQ(pdx_zstd_write_seekable(&s, f, level, frame, &st, err), 0);
    FUZZ_CHECK_EQ(fflush(f), 0);
    FUZZ_CHECK_EQ(st.raw_bytes, r->len);
    FUZZ_CHECK_EQ(st.frames, (r->len + frame - 1) / frame);
    off_t size = lseek(fd, 0, SEEK_END);
    FUZZ_CHECK_EQ(st.comp_bytes, (uint64_t)size);

    uint8_t *data = malloc((size_t)size);
    FUZZ_CHECK(data != NULL);
    FUZZ_CHECK_EQ(pread(fd, data, (size_t)size, 0), size);
    parse_table(data, (size_t)size, &t);
    free(data);
    FUZZ_CHECK_EQ(t.state, TABLE_OK);
    FUZZ_CHECK_EQ(t.total, r->len);

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FUZZ_CHECK_EQ(pdx_comp_detect(fd), PDX_COMP_ZSTD);
    FUZZ_CHECK_EQ(pdx_zreader_open(&z, path, fd, (uint64_t)size, PDX_COMP_ZSTD, err), 0);
    FUZZ_CHECK_EQ(pdx_zreader_seekable(z), 1);
    FUZZ_CHECK(t.consistent);
    reader rd = {z, 1, r, &t};
    check_pread(&rd, 0, (size_t)r->len + 1);
    for (int i = 0; i < 4; i++) {
        uint64_t off = mix(&h) % (r->len + 1);
        check_pread(&rd, off, 1 + (size_t)(mix(&h) % (2 * frame + 1)));
    }
    check_pread(&rd, r->len, 1);
    pdx_zreader_close(z);
    /* Many small frames: the read-ahead's workers run through most of them. */
    check_planned(path, fd, (size_t)size, PDX_COMP_ZSTD, r, &t, h);
    table_free(&t);
    FUZZ_CHECK_EQ(fclose(f), 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    uint64_t h = 0xcbf29ce484222325ULL;
    ref r;
    table t;
    int fd, kind, want = PDX_COMP_NONE;

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    fd = memfd_create("fuzz_zstd", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    for (size_t done = 0; done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    /* The magic decides, and nothing else. */
    kind = pdx_comp_detect(fd);
    if (size >= 4) {
        uint32_t m = pdx_load_le32(data);
        if (m == 0xFD2FB528u || (m & 0xFFFFFFF0u) == 0x184D2A50u)
            want = PDX_COMP_ZSTD;
        else if (data[0] == 0x1f && data[1] == 0x8b)
            want = PDX_COMP_GZIP;
    }
    FUZZ_CHECK_EQ(kind, want);
    FUZZ_CHECK_EQ(pdx_comp_parse(pdx_comp_name(kind)), kind);
    if (kind == PDX_COMP_NONE) {
        close(fd);
        return 0;
    }

    if (kind == PDX_COMP_ZSTD)
        ref_zstd(data, size, &r);
    else
        ref_gzip(data, size, &r);
    parse_table(data, size, &t);

    /* The capture reader's 1 MiB buffer and a second decompressor are
     * dear under ASan (fuzz_common.h): the libFuzzer build streams one
     * input in FUZZ_SOURCE_ONE_IN, and re-compresses another one in that
     * many; the replay does both for every input. */
    if (h % FUZZ_SOURCE_ONE_IN == 0)
        check_stream(path, kind, size, &r);
    check_zreader(path, fd, size, kind, &r, &t, h);
    table_free(&t);
    if (r.state == REF_OK && r.len <= 65536 && (h >> 32) % FUZZ_SOURCE_ONE_IN == 0)
        check_writer(&r, h);
    close(fd);
    return 0;
}
