/*
 * varint.h - the offset encoding of the packets table: LEB128 varints of the
 * difference between consecutive record offsets (the first from 0),
 * optionally zstd-compressed.  docs/offsets.md describes the format.
 */
#ifndef PDX_VARINT_H
#define PDX_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define PDX_VARINT_MAX 10 /* bytes one uint64 can take */

/* No segment's varint string is longer than this (the writer splits long
 * flows into segments of 4 KiB); readers reject anything larger, which
 * bounds what a damaged index can make them allocate. */
#define PDX_SEGMENT_MAX_RAW (1024u * 1024u)

/* Encoding byte stored with a segment. */
enum { PDX_OFFS_VARINT = 0, PDX_OFFS_ZSTD = 1 };

/* Writes v at p (which has PDX_VARINT_MAX bytes) and returns the length. */
static inline size_t pdx_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads one varint from [*p, end).  Returns 0 and advances *p, or -1 when
 * the bytes end early or the value overflows 64 bits. */
static inline int pdx_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    unsigned shift = 0;
    const uint8_t *q = *p;
    while (q < end) {
        uint8_t b = *q++;
        if (shift == 63 && b > 1)
            return -1;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *v = r;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return -1;
    }
    return -1;
}

/*
 * Decodes a stored segment (encoding, blob) into exactly count offsets,
 * written to out (count entries).  Offsets must strictly increase.  Returns
 * 0, or -1 when the blob is corrupt, decompresses to the wrong size, is
 * larger than PDX_SEGMENT_MAX_RAW, or does not hold exactly count offsets.
 */
int pdx_offsets_decode(int encoding, const void *blob, size_t len, uint64_t count, uint64_t *out);

/* The most offsets a stored segment can hold (its raw varint length), or 0
 * when the blob cannot be a segment.  Lets a reader check a row's count
 * before allocating for it. */
uint64_t pdx_offsets_capacity(int encoding, const void *blob, size_t len);

/*
 * Encodes a raw varint byte string for storage: small strings stay as they
 * are (PDX_OFFS_VARINT); larger ones are zstd-compressed when that saves
 * space.  zctx is a ZSTD_CCtx the caller keeps for reuse (NULL: one is made
 * per call).  *out points either at raw or at *scratch (grown with realloc,
 * owned by the caller).  Returns the encoding, or -1 when out of memory.
 */
int pdx_offsets_encode(void *zctx, const uint8_t *raw, size_t len, uint8_t **scratch,
                       size_t *scratch_cap, const uint8_t **out, size_t *out_len);

#endif
