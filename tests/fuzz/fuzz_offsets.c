/*
 * fuzz_offsets.c - libFuzzer target: pdx_offsets_decode, the reader of the
 * packets table's offset segments, with any encoding and any count.
 *
 * Input: 1 byte encoding (0 varint, 1 zstd, 0xff is -1, anything else as
 * it is), 8 bytes little-endian count, then the stored blob.
 *
 * The output array holds min(count, capacity) entries: a correct decoder
 * cannot produce more offsets than the raw string has bytes, so writing
 * past that is a finding (ASan), and counts up to 2^64 need no memory.
 * A decoded segment must strictly increase, hold no more offsets than
 * pdx_offsets_capacity says, and survive encode + decode unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *blob;
    size_t len, nout, rawlen = 0, scratch_cap = 0, enc_len = 0;
    uint64_t count = 0, cap, *out, *back;
    uint8_t *raw, *scratch = NULL;
    const uint8_t *enc_blob = NULL;
    int enc, enc2;

    if (size < 9)
        return 0;
    enc = data[0] == 0xff ? -1 : data[0];
    for (int i = 8; i >= 1; i--)
        count = count << 8 | data[i];
    blob = data + 9;
    len = size - 9;

    cap = pdx_offsets_capacity(enc, blob, len);
    FUZZ_CHECK(cap <= PDX_SEGMENT_MAX_RAW);
    nout = (size_t)(count < cap ? count : cap);
    out = malloc((nout ? nout : 1) * sizeof(*out));
    FUZZ_CHECK(out != NULL);
    if (pdx_offsets_decode(enc, blob, len, count, out) != 0) {
        free(out);
        return 0;
    }
    FUZZ_CHECK(enc == PDX_OFFS_VARINT || enc == PDX_OFFS_ZSTD);
    FUZZ_CHECK(count <= cap);
    for (uint64_t i = 1; i < count; i++)
        FUZZ_CHECK(out[i] > out[i - 1]);

    /* Round trip through the writer's encoding. */
    raw = malloc((size_t)count * PDX_VARINT_MAX + 1);
    FUZZ_CHECK(raw != NULL);
    for (uint64_t i = 0; i < count; i++)
        rawlen += pdx_varint_put(raw + rawlen, out[i] - (i ? out[i - 1] : 0));
    FUZZ_CHECK(rawlen <= cap);
    enc2 = pdx_offsets_encode(NULL, raw, rawlen, &scratch, &scratch_cap, &enc_blob, &enc_len);
    FUZZ_CHECK(enc2 == PDX_OFFS_VARINT || enc2 == PDX_OFFS_ZSTD);
    back = malloc((nout ? nout : 1) * sizeof(*back));
    FUZZ_CHECK(back != NULL);
    FUZZ_CHECK_EQ(pdx_offsets_decode(enc2, enc_blob, enc_len, count, back), 0);
    FUZZ_CHECK(count == 0 || memcmp(out, back, (size_t)count * sizeof(*out)) == 0);
    free(back);
    free(scratch);
    free(raw);
    free(out);
    return 0;
}
