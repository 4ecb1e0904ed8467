/* varint.c - packing and unpacking of the per-segment offset lists. */
#include "varint.h"

#include <stdlib.h>
#include <zstd.h>

/* Only long segments are worth a try: below this size zstd's frame overhead
 * eats what it saves, and a busy flow's deltas are too random to shrink. */
#define PDX_OFFS_ZSTD_MIN 2048
#define PDX_OFFS_ZSTD_LEVEL 3

int pdx_offsets_decode(int encoding, const void *blob, size_t len, uint64_t count, uint64_t *out)
{
    const uint8_t *p = blob, *end;
    uint8_t *tmp = NULL;
    int rc = -1;

    if (encoding == PDX_OFFS_ZSTD) {
        unsigned long long raw = ZSTD_getFrameContentSize(blob, len);
        /* Each offset takes 1 to 10 bytes: anything else is corrupt, and the
         * check bounds the allocation by the count the row claims. */
        if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw < count ||
            raw > count * PDX_VARINT_MAX || raw > PDX_SEGMENT_MAX_RAW)
            return -1;
        tmp = malloc(raw ? (size_t)raw : 1);
        if (tmp == NULL)
            return -1;
        size_t got = ZSTD_decompress(tmp, (size_t)raw, blob, len);
        if (ZSTD_isError(got) || got != raw)
            goto out;
        p = tmp;
        len = (size_t)raw;
    } else if (encoding != PDX_OFFS_VARINT || len > PDX_SEGMENT_MAX_RAW) {
        return -1;
    }
    end = p + len;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t d;
        if (pdx_varint_get(&p, end, &d) < 0)
            goto out;
        if ((i > 0 && d == 0) || prev + d < prev)
            goto out;
        prev += d;
        out[i] = prev;
    }
    if (p != end)
        goto out;
    rc = 0;
out:
    free(tmp);
    return rc;
}

uint64_t pdx_offsets_capacity(int encoding, const void *blob, size_t len)
{
    if (encoding == PDX_OFFS_VARINT)
        return len <= PDX_SEGMENT_MAX_RAW ? len : 0;
    if (encoding != PDX_OFFS_ZSTD)
        return 0;
    unsigned long long raw = ZSTD_getFrameContentSize(blob, len);
    if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > PDX_SEGMENT_MAX_RAW)
        return 0;
    return raw;
}

int pdx_offsets_encode(void *zctx, const uint8_t *raw, size_t len, uint8_t **scratch,
                       size_t *scratch_cap, const uint8_t **out, size_t *out_len)
{
    if (len >= PDX_OFFS_ZSTD_MIN) {
        size_t bound = ZSTD_compressBound(len);
        if (*scratch_cap < bound) {
            uint8_t *n = realloc(*scratch, bound);
            if (n == NULL)
                return -1;
            *scratch = n;
            *scratch_cap = bound;
        }
        size_t z = zctx != NULL ? ZSTD_compressCCtx(zctx, *scratch, *scratch_cap, raw, len,
                                                     PDX_OFFS_ZSTD_LEVEL)
                                : ZSTD_compress(*scratch, *scratch_cap, raw, len, PDX_OFFS_ZSTD_LEVEL);
        if (!ZSTD_isError(z) && z < len) {
            *out = *scratch;
            *out_len = z;
            return PDX_OFFS_ZSTD;
        }
    }
    *out = raw;
    *out_len = len;
    return PDX_OFFS_VARINT;
}
