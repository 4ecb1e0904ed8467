/*
 * index.h - the SQLite index: opening and migrating it, and reading and
 * writing captures, flows and packet offsets.  docs/schema.md describes the
 * tables; this module is the only code that writes them.
 *
 * Every function returns PDX_OK or a negative code with errbuf filled (the
 * index keeps its own errbuf for the writers called from flow ops; read it
 * with pdx_index_errmsg()).
 */
#ifndef PDX_INDEX_H
#define PDX_INDEX_H

#include <stdint.h>

#include <sqlite3.h>

#include "capture.h"
#include "flow.h"
#include "pdx.h"

typedef struct pdx_migration {
    int version;
    const char *name;
    const char *sql;
} pdx_migration;

/* Generated from schema/NNN_*.sql, ending with {0, NULL, NULL}. */
extern const pdx_migration pdx_migrations[];

enum { PDX_INDEX_READ = 0, PDX_INDEX_WRITE = 1 };

typedef struct pdx_index pdx_index;

/* Call once at start, before any thread or connection: turns off SQLite's
 * memory statistics, which nothing here reads and which take a global mutex
 * on every allocation (about 5% of indexing tiny flows). */
void pdx_index_setup(void);

/* SQLite's page cache for a writer, unless set with pdx_index_set_cache():
 * a quarter of the index's size when it is opened and when each transaction
 * begins, at least PDX_INDEX_CACHE_DEFAULT and at most PDX_INDEX_CACHE_AUTO_MAX.
 * A fresh index (a capture indexed alone) gets the minimum.  Many short
 * flows put their rows at random places in the per-host, per-port and
 * Community ID B-trees, which are about a quarter of such an index; once
 * those outgrow the cache, each new flow reads and writes back a page of
 * each.  The benchmark's 5 million DNS flows indexed in 10 runs: 221 s with
 * 16 MiB, 173 s with a quarter (docs/bench.md). */
#define PDX_INDEX_CACHE_DEFAULT (16u << 20)
#define PDX_INDEX_CACHE_AUTO_MAX (256u << 20)

/* The page size of a new index.  SQLite's default is 4 KiB; 8 KiB pages
 * halve the pages, and the WAL frames that a commit writes (each with its
 * own header and system calls), for the same rows.  Indexing 4.29 GB on one
 * core: 2.25-2.31 s against 2.52-3.19 s with 4 KiB, the same as with 16 KiB
 * pages, which made each query about 0.5-1 ms slower (larger reads of the
 * pages a lookup walks) where 8 KiB measured the same as 4 KiB.  An index
 * made with another page size keeps it. */
#define PDX_INDEX_PAGE_SIZE 8192u

/*
 * Opens the index at path.  PDX_INDEX_WRITE creates it when missing and
 * applies pending migrations; PDX_INDEX_READ requires an existing pcapdex
 * index of a schema version this build reads.  Either way the database is in
 * WAL mode, so readers and one writer work at once.  *out is freed with
 * pdx_index_close().
 */
int pdx_index_open(pdx_index **out, const char *path, int mode, char *errbuf);
void pdx_index_close(pdx_index *ix);

/* Sets the page cache of ix to about bytes, from then on.  0 or PDX_EDB. */
int pdx_index_set_cache(pdx_index *ix, uint64_t bytes, char *errbuf);
sqlite3 *pdx_index_db(pdx_index *ix);
const char *pdx_index_errmsg(const pdx_index *ix);
int pdx_index_schema_version(pdx_index *ix);

int pdx_index_begin(pdx_index *ix, char *errbuf);
int pdx_index_commit(pdx_index *ix, char *errbuf);
void pdx_index_rollback(pdx_index *ix);

/* One captures row, as the indexer fills it. */
typedef struct pdx_caprow {
    int64_t id;
    const char *path;      /* absolute */
    uint64_t size;
    int64_t mtime_ns;
    char fingerprint[80];
    const pdx_capinfo *info;
    int64_t first_ns, last_ns; /* INT64_MIN when the capture has no packet */
    uint64_t packets, bytes, cap_bytes, truncated, invalid;
    int compression;       /* PDX_COMP_* (zsource.h) */
    uint64_t raw_size;     /* uncompressed bytes read */
    const char *status;    /* "complete" or "damaged" */
    const char *warnings;  /* newline-separated, "" when none */
    int64_t replaces;      /* > 0: the capture at this path that was overwritten
                              (index --ring); its row is marked replaced */
    int64_t revives;       /* > 0, pdx_index_capture_relink: a replaced capture
                              whose content this file holds */
    int64_t resumes;       /* > 0: the capture at this path, grown since it was
                              indexed, whose new records are taken up */
} pdx_caprow;

/* What the index knows of a capture path. */
typedef struct pdx_capknown {
    int64_t id;
    uint64_t size;
    int64_t mtime_ns;
    char fingerprint[80];
    int replaced;     /* overwritten since it was indexed (index --ring) */
    uint64_t packets; /* records it held */
    uint64_t bytes;   /* their bytes on the wire */
    char path[4096];
} pdx_capknown;

/* 1 and *out filled when path is indexed (and not replaced since), 0 when
 * not, < 0 on error. */
int pdx_index_capture_by_path(pdx_index *ix, const char *path, pdx_capknown *out, char *errbuf);
/* The same by fingerprint and size (a capture indexed under another path),
 * or by the fingerprint and size of an indexed capture's uncompressed bytes
 * (the original of a capture `compress` rewrote); a current capture before
 * a replaced one. */
int pdx_index_capture_by_fingerprint(pdx_index *ix, const char *fp, uint64_t size, pdx_capknown *out,
                                     char *errbuf);

/* Inserts the row (with the counts it has so far), as row->id when that is
 * positive; sets row->id. */
int pdx_index_capture_insert(pdx_index *ix, pdx_caprow *row, char *errbuf);
/* In an open transaction, for a file not indexed itself: marks capture
 * row->replaces (when > 0) replaced, then points capture row->revives (when
 * > 0; a replaced one whose content the file holds) at row's path, size
 * and mtime and makes it current again. */
int pdx_index_capture_relink(pdx_index *ix, const pdx_caprow *row, char *errbuf);
/* In an open transaction, capture row->resumes (the last one indexed, its
 * file grown since) is taken up again: its size, mtime and fingerprint become
 * row's, and its sections and interfaces go (finish writes them anew). */
int pdx_index_capture_resume(pdx_index *ix, const pdx_caprow *row, char *errbuf);
/* Of capture_id, indexed before: the next segment of a flow, the next
 * rollup run of a kind. */
int64_t pdx_index_next_seg(pdx_index *ix, int64_t flow_id, int64_t capture_id);
int pdx_index_next_run(pdx_index *ix, int64_t capture_id, const char *kind, uint32_t *out,
                       char *errbuf);
/* Writes final counts, status, warnings, sections and interfaces. */
int pdx_index_capture_finish(pdx_index *ix, const pdx_caprow *row, char *errbuf);

/* Flow ops for pdx_flowtab (ctx = the pdx_index).  Flow rows are held back
 * (up to PEND_FLOWS, index.c) and stored sorted by ID when the buffer fills,
 * before the flows are read (max_flow_id, load_live) and by the commit, so a
 * row that cannot be stored may fail a later call; a rollback drops them. */
int pdx_index_put_flow(void *ix, const pdx_flow *f);

int pdx_index_put_segment(void *ix, const pdx_flow *f);

/* Stores one run of capture_id's rollups (summary.h), in the open
 * transaction.  0, or PDX_EDB (pdx_index_errmsg says why). */
struct pdx_rollup_run;
int pdx_index_put_rollup(pdx_index *ix, int64_t capture_id, const struct pdx_rollup_run *run);

/* Largest flow ID stored, 0 when none; PDX_EDB when it is beyond any ID
 * pcapdex hands out (INT64_MAX / 2), which only a damaged index holds. */
int pdx_index_max_flow_id(pdx_index *ix, int64_t *out, char *errbuf);
int pdx_index_max_capture_id(pdx_index *ix, int64_t *out, char *errbuf);

/* Calls cb for every flow stored live (state & PDX_FS_LIVE), oldest last
 * packet first: the order the flow table's idle lists keep.  Each row is
 * checked first: a column of the wrong type or length, out of range, NULL
 * where the flow needs a value, or at odds with the others (an ID above
 * PDX_FLOW_ID_MAX, first_ns after last_ns) returns PDX_EDB with errbuf
 * naming the flow and the column ("flow 12: vlan is 5000, not an integer
 * from 0 to 4095"), and cb is not called for that row. */
int pdx_index_load_live(pdx_index *ix, int (*cb)(void *ctx, const pdx_flow *f), void *ctx,
                        char *errbuf);

/* Fingerprint of a capture file: "h1:" + hex SHA-256 over its size (8 bytes
 * little-endian), first MiB and last MiB.  fd is read with pread. */
int pdx_fingerprint_fd(int fd, uint64_t size, char out[80], char *errbuf);


/*
 * Checking what a row of the index holds, where it is used.  row names the
 * row for the message ("flow 12"); on failure errbuf says what the column
 * holds instead ("flow 12: src_ip is a 7-byte blob, not 16") and the return
 * is PDX_EDB.  OUT parameters are written only on success.
 *
 * pdx_index_col_int: an integer in [lo, hi]; with null_ok, NULL too, which
 * returns 1 with *out = 0.
 * pdx_index_col_blob: a blob of exactly len bytes (*out points into the
 * statement's row); with null_ok, NULL too, which returns 1 with *out = NULL.
 * pdx_index_col_text: text without NUL bytes, shorter than max bytes.
 */
int pdx_index_col_int(sqlite3_stmt *st, int col, int64_t lo, int64_t hi, int null_ok, int64_t *out,
                      const char *row, char *errbuf);
int pdx_index_col_blob(sqlite3_stmt *st, int col, int len, int null_ok, const uint8_t **out,
                       const char *row, char *errbuf);
int pdx_index_col_text(sqlite3_stmt *st, int col, size_t max, const char **out, const char *row,
                       char *errbuf);

/* One stored segment of a flow's offsets, decoded. */
typedef struct pdx_segment {
    int64_t flow_id;
    int64_t capture_id;
    int64_t seg;
    uint64_t count;
    const uint64_t *offsets; /* count entries, valid during the callback */
} pdx_segment;

/*
 * Calls cb for each offset segment of flow_id (or of every flow when
 * flow_id is 0), ordered by flow, capture and segment.  Returns 0, a
 * negative code from cb, or PDX_EDB (also when a segment is corrupt).
 */
int pdx_index_segments(pdx_index *ix, int64_t flow_id, int (*cb)(void *ctx, const pdx_segment *s),
                       void *ctx, char *errbuf);

#endif
