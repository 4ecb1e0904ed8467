/*
 * fuzz_rollup.c - libFuzzer target: pdx_rollup_decode, the reader of the
 * rollups table's runs (what an unfiltered `query --top` merges).
 *
 * Input: 1 byte kind (mod 7: 6 is not a kind), 1 byte encoding (0 plain,
 * 1 zstd, 0xff is -1, anything else as it is), 8 bytes little-endian key
 * count (as a signed number), then the stored blob.
 *
 * A run the decoder accepts must have a known kind and encoding, exactly
 * the claimed number of entries, keys that strictly increase (memcmp over
 * the kind's key length), and every entry in bounds (ASan).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "summary.h"
#include "varint.h"

typedef struct seen {
    uint64_t n;
    size_t klen;
    uint8_t prev[32];
} seen;

static int entry(void *ctx, const uint8_t *key, size_t klen, const uint64_t c[3])
{
    seen *s = ctx;
    FUZZ_CHECK(klen > 0 && klen <= sizeof(s->prev));
    FUZZ_CHECK(s->klen == 0 || s->klen == klen);
    if (s->n > 0)
        FUZZ_CHECK(memcmp(s->prev, key, klen) < 0);
    memcpy(s->prev, key, klen);
    s->klen = klen;
    s->n++;
    (void)c;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 10)
        return 0;
    int kind = data[0] % 7;
    int enc = data[1] == 0xff ? -1 : data[1];
    uint64_t k = 0;
    for (int i = 9; i >= 2; i--)
        k = k << 8 | data[i];
    int64_t keys = (int64_t)k;
    seen s;
    memset(&s, 0, sizeof(s));
    int rc = pdx_rollup_decode(kind, keys, enc, data + 10, size - 10, entry, &s);
    FUZZ_CHECK(rc == 0 || rc == PDX_EDB || rc == PDX_ENOMEM || (rc == PDX_EUSAGE && kind == 6));
    if (rc == 0) {
        FUZZ_CHECK(kind < PDX_TOP_NKINDS);
        FUZZ_CHECK(enc == PDX_OFFS_VARINT || enc == PDX_OFFS_ZSTD);
        FUZZ_CHECK_EQ(s.n, k);
    }
    return 0;
}
