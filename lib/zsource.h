/*
 * zsource.h - compressed captures: zstd (plain or in zstd's seekable format)
 * and gzip.
 *
 * Offsets in the index are always offsets in the uncompressed capture.
 * pdx_zsrc streams a compressed file to the capture reader for indexing;
 * pdx_zreader gives the carver random reads at uncompressed offsets: for a
 * seekable zstd file it decompresses only the frames that hold the bytes
 * asked for; for anything else it must decompress from the start (and says
 * so through pdx_zreader_seekable()).
 */
#ifndef PDX_ZSOURCE_H
#define PDX_ZSOURCE_H

#include <stdint.h>
#include <stdio.h>

#include "capture.h"

enum { PDX_COMP_NONE = 0, PDX_COMP_ZSTD = 1, PDX_COMP_GZIP = 2 };

/* "none", "zstd", "gzip". */
const char *pdx_comp_name(int kind);
int pdx_comp_parse(const char *name);

/* What the first bytes of a file say: PDX_COMP_*.  fd is read with pread. */
int pdx_comp_detect(int fd);

typedef struct pdx_zsrc pdx_zsrc;

/*
 * Opens path for reading as a capture, decompressing when it is zstd or
 * gzip.  On success *cap is the reader, *z the decompressor (NULL for a
 * plain file; close it after the reader) and *kind the compression.
 */
int pdx_capture_open_any(const char *path, pdx_capture **cap, pdx_zsrc **z, int *kind,
                         char *errbuf);

/* Compressed bytes consumed so far (for progress). */
uint64_t pdx_zsrc_consumed(const pdx_zsrc *z);
/* The decompressor's last error ("" when none): appended to reader errors. */
const char *pdx_zsrc_error(const pdx_zsrc *z);
void pdx_zsrc_close(pdx_zsrc *z);

typedef struct pdx_zreader pdx_zreader;

/* Random reads of the uncompressed bytes of an open compressed file.  fd
 * stays the caller's.  path is for messages. */
int pdx_zreader_open(pdx_zreader **out, const char *path, int fd, uint64_t size, int kind,
                     char *errbuf);
/* 1 when reads decompress only the frames they need. */
int pdx_zreader_seekable(const pdx_zreader *z);
/* A seekable file's uncompressed length, as its seek table gives it. */
uint64_t pdx_zreader_table_size(const pdx_zreader *z);
/* Lists bytes [off, off + len) as ones the next reads will want, in order
 * of offset.  Before the first read only; later calls, calls out of order,
 * and files without a seek table are ignored.  Once reads begin, the frames
 * listed decompress ahead of them on worker threads (one fewer than the
 * cores, at most 4; the reading thread helps while it waits), each whole
 * and checked as a read would; reads return the same bytes and errors with
 * or without a plan. */
void pdx_zreader_plan(pdx_zreader *z, uint64_t off, uint64_t len);
/* Reads up to n bytes at uncompressed offset off; *got is short only at the
 * end.  0, or PDX_ECORRUPT naming the file and frame, PDX_EIO. */
int pdx_zreader_pread(pdx_zreader *z, uint8_t *buf, size_t n, uint64_t off, size_t *got,
                      char *errbuf);
void pdx_zreader_close(pdx_zreader *z);

/* Writing zstd's seekable format. */
typedef struct pdx_zwriter_stats {
    uint64_t raw_bytes, comp_bytes, frames;
} pdx_zwriter_stats;

/*
 * Compresses what src yields to out as seekable zstd: independent frames of
 * frame_size uncompressed bytes at the given level, each with a content
 * checksum, then the seek table.  0, or a negative code.
 */
int pdx_zstd_write_seekable(const pdx_source *src, FILE *out, int level, size_t frame_size,
                            pdx_zwriter_stats *st, char *errbuf);

#endif
