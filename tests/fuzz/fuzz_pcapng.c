/*
 * fuzz_pcapng.c - libFuzzer target: pcapng block streams.
 *
 * An input that starts with a Section Header Block is read as it is.  Any
 * other input is taken as the blocks after one: a little-endian SHB (1.0)
 * and an Ethernet IDB are put in front, so that mutations which break the
 * file's first block still reach the block parser.  Then the same walk as
 * the pcap target (fuzz_common.h).
 */
#include "fuzz_common.h"

static const uint8_t ng_prefix[] = {
    /* SHB: type, length 28, byte-order magic, version 1.0, section length -1 */
    0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
    /* IDB: type 1, length 20, link type 1, reserved, snaplen 65535 */
    1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0, 0, 20, 0, 0, 0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf;

    if (size >= 4 && data[0] == 0x0a && data[1] == 0x0d && data[2] == 0x0d && data[3] == 0x0a) {
        fuzz_walk_capture(data, size);
        return 0;
    }
    buf = malloc(sizeof(ng_prefix) + size);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, ng_prefix, sizeof(ng_prefix));
    if (size > 0)
        memcpy(buf + sizeof(ng_prefix), data, size);
    fuzz_walk_capture(buf, sizeof(ng_prefix) + size);
    free(buf);
    return 0;
}
