/*
 * fuzz_pcap.c - libFuzzer target: a whole capture file in memory (pcap,
 * snoop, or anything else the reader's format detection sees first).
 *
 * Every record is read, re-read with pdx_record_parse_at at its offset, and
 * decoded with its link type; the same bytes are read again through the
 * buffered reader (fuzz_common.h).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_walk_capture(data, size);
    return 0;
}
