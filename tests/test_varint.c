/* test_varint.c - the offset encoding: varints, deltas, zstd segments. */
#include <stdlib.h>

#include "unit.h"
#include "varint.h"

static void roundtrip_values(void)
{
    const uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, 1ULL << 32, (1ULL << 63), UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t b[PDX_VARINT_MAX];
        size_t n = pdx_varint_put(b, vals[i]);
        const uint8_t *p = b;
        uint64_t v = 0;
        CHECK(n >= 1 && n <= PDX_VARINT_MAX);
        CHECK_EQ(pdx_varint_get(&p, b + n, &v), 0);
        CHECK_EQ_U64(v, vals[i]);
        CHECK(p == b + n);
        /* One byte short is an error, never a read past the end. */
        p = b;
        CHECK_EQ(pdx_varint_get(&p, b + n - 1, &v), -1);
    }
    CHECK_EQ(pdx_varint_put((uint8_t[10]){0}, 127), 1);
    CHECK_EQ(pdx_varint_put((uint8_t[10]){0}, 128), 2);
}

static void overflow_rejected(void)
{
    uint8_t b[11];
    memset(b, 0xff, sizeof(b));
    b[10] = 0x01;
    const uint8_t *p = b;
    uint64_t v;
    CHECK_EQ(pdx_varint_get(&p, b + 11, &v), -1);
    uint8_t c[10] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
    p = c;
    CHECK_EQ(pdx_varint_get(&p, c + 10, &v), -1);
}

/* Encodes offs as the flow table does and decodes it back. */
static void segment_roundtrip(size_t n, uint64_t step)
{
    uint8_t *raw = malloc(n * PDX_VARINT_MAX);
    uint64_t *offs = malloc(n * sizeof(*offs)), *back = malloc(n * sizeof(*back));
    size_t len = 0;
    uint64_t prev = 0;
    CHECK(raw && offs && back);
    for (size_t i = 0; i < n; i++) {
        offs[i] = 24 + i * step + (i * 7919) % 97 + (i ? 0 : 0);
        if (i && offs[i] <= offs[i - 1])
            offs[i] = offs[i - 1] + 1;
        len += pdx_varint_put(raw + len, offs[i] - prev);
        prev = offs[i];
    }
    uint8_t *scratch = NULL;
    size_t scap = 0, olen = 0;
    const uint8_t *out = NULL;
    int enc = pdx_offsets_encode(NULL, raw, len, &scratch, &scap, &out, &olen);
    CHECK(enc == PDX_OFFS_VARINT || enc == PDX_OFFS_ZSTD);
    CHECK_EQ(pdx_offsets_decode(enc, out, olen, n, back), 0);
    CHECK_MEM(back, offs, n * sizeof(*offs));
    /* The count must match exactly. */
    CHECK_EQ(pdx_offsets_decode(enc, out, olen, n + 1, back), -1);
    if (n > 1)
        CHECK_EQ(pdx_offsets_decode(enc, out, olen, n - 1, back), -1);
    free(raw);
    free(offs);
    free(back);
    free(scratch);
}

static void segments_small_and_large(void)
{
    segment_roundtrip(1, 100);
    segment_roundtrip(2, 1500);
    segment_roundtrip(5000, 70);      /* compressible: zstd */
    segment_roundtrip(20000, 900000); /* 3-byte deltas */
}

static void large_lists_compress(void)
{
    uint8_t raw[4096];
    size_t len = 0;
    for (int i = 0; i < 4000; i++)
        len += pdx_varint_put(raw + len, 100);
    uint8_t *scratch = NULL;
    size_t scap = 0, olen = 0;
    const uint8_t *out = NULL;
    CHECK_EQ(pdx_offsets_encode(NULL, raw, len, &scratch, &scap, &out, &olen), PDX_OFFS_ZSTD);
    CHECK(olen < len / 10);
    free(scratch);
}

static void corrupt_segments_rejected(void)
{
    uint64_t out[8];
    const uint8_t zero_delta[] = {24, 0};
    CHECK_EQ(pdx_offsets_decode(PDX_OFFS_VARINT, zero_delta, 2, 2, out), -1);
    const uint8_t trailing[] = {24, 5, 7};
    CHECK_EQ(pdx_offsets_decode(PDX_OFFS_VARINT, trailing, 3, 2, out), -1);
    const uint8_t junk[] = {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3};
    CHECK_EQ(pdx_offsets_decode(PDX_OFFS_ZSTD, junk, sizeof(junk), 2, out), -1);
    CHECK_EQ(pdx_offsets_decode(7, trailing, 3, 1, out), -1);
}

const pdx_test pdx_suite_varint[] = {
    {"roundtrip_values", roundtrip_values},
    {"overflow_rejected", overflow_rejected},
    {"segments_small_and_large", segments_small_and_large},
    {"large_lists_compress", large_lists_compress},
    {"corrupt_segments_rejected", corrupt_segments_rejected},
    PDX_TEST_END,
};
