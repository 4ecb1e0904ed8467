/*
 * capfile.h - random access to one indexed capture, for the carver.
 *
 * pdx_capfile_open() finds a capture's row in the index, rebuilds its
 * pdx_capinfo (format, byte order, sections, interfaces) from the index, and
 * checks that the file on disk is the one that was indexed: present, a
 * regular file, same size, and the same fingerprint when the mtime moved.
 * pdx_capfile_read() rereads the record at a stored offset with pread and
 * validates it as the sequential reader would, so a changed file never
 * yields wrong bytes.
 */
#ifndef PDX_CAPFILE_H
#define PDX_CAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "capture.h"
#include "index.h"

typedef struct pdx_capfile pdx_capfile;

/*
 * Opens capture capture_id.  Returns 0 and *out; PDX_EMISSING when the file
 * is gone, PDX_ECHANGED when it is not the file that was indexed, PDX_EDB
 * when the index has no such capture or its rows are inconsistent, PDX_EIO.
 * errbuf names the path.  Close with pdx_capfile_close().
 */
int pdx_capfile_open(pdx_index *ix, int64_t capture_id, pdx_capfile **out, char *errbuf);
void pdx_capfile_close(pdx_capfile *cf);

const char *pdx_capfile_path(const pdx_capfile *cf);
const pdx_capinfo *pdx_capfile_info(const pdx_capfile *cf);
int64_t pdx_capfile_id(const pdx_capfile *cf);
int64_t pdx_capfile_first_ns(const pdx_capfile *cf);

/* 1 when the capture is compressed in a way that makes every read
 * decompress from the start (gzip, zstd without a seek table). */
int pdx_capfile_streams(const pdx_capfile *cf);

/*
 * Says that a record at offset will be read: call it for every record, in
 * order of offset, before the first pdx_capfile_read().  A seekable zstd
 * capture then decompresses the frames that hold them ahead of the reads,
 * on other cores (pdx_zreader_plan); for other captures it does nothing.
 */
void pdx_capfile_plan(pdx_capfile *cf, uint64_t offset);

/*
 * Reads the record at offset.  hint is the offset of a record expected
 * after it (0 when none): reads are sized to cover it, so that a flow's
 * neighbouring records cost one pread.  rec->data stays valid until the
 * next call.  0, or PDX_ECHANGED (the bytes there are not a record of this
 * file: it changed), PDX_EIO.
 */
int pdx_capfile_read(pdx_capfile *cf, uint64_t offset, uint64_t hint, pdx_record *rec,
                     char *errbuf);

/*
 * Checks a capture without opening it for reads: 0 when present and
 * unchanged, 1 when it was overwritten and indexed again (index --ring: its
 * file is another capture's now), else PDX_EMISSING or PDX_ECHANGED with
 * errbuf saying why.
 */
int pdx_capfile_check(pdx_index *ix, int64_t capture_id, char *errbuf);

/*
 * Reads a capture's stored path from text column col of st, checked as the
 * carver and packets need it: text without NUL bytes, shorter than max
 * bytes, and absolute (a relative one would be looked up in the current
 * directory).
 * row names the row for the message ("capture 12").  Returns 0 with *out
 * pointing into the statement's row (valid until it steps or is finalized);
 * PDX_EDB with errbuf saying what the column holds instead, *out untouched.
 */
int pdx_capfile_col_path(sqlite3_stmt *st, int col, size_t max, const char **out, const char *row,
                         char *errbuf);

#endif
