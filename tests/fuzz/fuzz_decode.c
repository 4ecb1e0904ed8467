/*
 * fuzz_decode.c - libFuzzer target: pdx_decode over one frame.
 *
 * Input: a 4-byte little-endian link type, then the frame.  With bit 31
 * clear the value is the link type as it is (so a seed reads as "link type,
 * frame"); with bit 31 set the low bits pick an entry of fuzz_linktypes, so
 * that mutations land on link types the decoder knows as often as not.
 */
#include "fuzz_common.h"

/* The link types pdx_decode knows (pdx_decode_linktype_known), plus a few
 * neighbours it does not, so that the decode target can pick one by index. */
static const uint32_t fuzz_linktypes[] = {
    0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 192, 228, 229, 239, 242, 276,
    /* not decoded: the unknown-link path */
    8, 107, 123, 147, 227,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t lt;

    if (size < 4)
        return 0;
    lt = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
         (uint32_t)data[3] << 24;
    if (lt & 0x80000000u)
        lt = fuzz_linktypes[(lt & 0x7fffffffu) % PDX_ARRAY_LEN(fuzz_linktypes)];
    fuzz_decode_frame(data + 4, size - 4, lt);
    return 0;
}
