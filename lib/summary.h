/*
 * summary.h - summaries of the selected flows computed from the index alone:
 * top-N by endpoint, port, pair or protocol, and a time series.  Both read
 * the selected rows once and aggregate them in memory (a hash table), which
 * is much faster in SQLite than GROUP BY over millions of rows, since that
 * sorts the rows into a temporary b-tree first.
 */
#ifndef PDX_SUMMARY_H
#define PDX_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "flow.h"
#include "select.h"

/* What a top-N list is keyed on. */
enum {
    PDX_TOP_SRC = 0, /* initiator address; IP flows only */
    PDX_TOP_DST,     /* responder address; IP flows only */
    PDX_TOP_HOST,    /* either address: a flow counts for both endpoints, once when they are equal */
    PDX_TOP_PORT,    /* responder port of TCP, UDP and SCTP flows */
    PDX_TOP_PAIR,    /* (initiator, responder); IP flows only */
    PDX_TOP_PROTO    /* IP protocol, or the ethertype of a non-IP flow */
};

/* What a top-N list is ranked by. */
enum { PDX_BY_FLOWS = 0, PDX_BY_PACKETS, PDX_BY_BYTES };

/* One entry of a top-N list.  Which key fields are meaningful depends on
 * the kind: a (src, dst, host), a and b (pair), port (port), proto and
 * ethertype (proto: proto is -1 for a non-IP flow, and ethertype is then
 * the flow's; 0 otherwise); the others are 0.  Counters: flows, and the
 * flows' packets and wire bytes in both directions. */
typedef struct pdx_topent {
    uint8_t a[16], b[16];
    int32_t port;
    int32_t proto;
    int32_t ethertype;
    uint64_t flows, packets, bytes;
} pdx_topent;

/* One time-series bin: flows whose first packet falls in
 * [start_ns, start_ns + interval), and their packets and bytes. */
typedef struct pdx_tsbin {
    int64_t start_ns;
    uint64_t flows, packets, bytes;
} pdx_tsbin;

#define PDX_TOP_NKINDS 6

/* The SELECT that pdx_summary_top runs (for --explain): the rollups' when
 * from_rollups (what pdx_summary_top_rollups says; no parameters), else
 * the flows', whose parameters are the selection's, bound from index 1
 * (pdx_select_bind).  Returns a string the caller frees, or NULL when out
 * of memory or kind is unknown. */
char *pdx_summary_top_sql(const pdx_select *s, int kind, int from_rollups);

/* 1 when pdx_summary_top answers kind for s from the rollups table (s has
 * no filter and no window, and every capture has rollups), 0 when it reads
 * the selected flows. */
int pdx_summary_top_rollups(sqlite3 *db, const pdx_select *s, int kind);

/* The top `limit` entries (0 = all) of kind, ranked by `by` descending,
 * ties broken by the key ascending.  Returns PDX_OK with a malloc'ed array
 * in *out (caller frees) of *n entries (*out may be NULL when *n is 0), or
 * PDX_EDB / PDX_ENOMEM / PDX_EUSAGE with errbuf filled; *out and *n are
 * written only on success. */
int pdx_summary_top(sqlite3 *db, const pdx_select *s, int kind, int by, size_t limit,
                    pdx_topent **out, size_t *n, char *errbuf);

/*
 * Rollups: while indexing a capture, the indexer adds what every flow row
 * it writes changes (a new flow counts once; packets and bytes since the
 * row was last written) to per-kind sums in memory, and stores them as
 * runs sorted by key in the rollups table (docs/schema.md has the format)
 * in the capture's transaction.  A kind holding PDX_ROLLUP_FLUSH_AT keys
 * is written out as a run of its own, which bounds the memory.
 */
#define PDX_ROLLUP_FLUSH_AT 16384

typedef struct pdx_rollup pdx_rollup;

/* A run of one kind, ready for the rollups table. */
typedef struct pdx_rollup_run {
    int kind;            /* PDX_TOP_* */
    uint32_t seq;        /* 0, 1, ... per kind within the capture */
    uint64_t keys;       /* entries */
    int encoding;        /* PDX_OFFS_VARINT (raw) or PDX_OFFS_ZSTD */
    const uint8_t *data; /* valid during the put call */
    size_t len;
} pdx_rollup_run;

/* NULL when out of memory. */
pdx_rollup *pdx_rollup_new(void);
void pdx_rollup_free(pdx_rollup *r);

/* Forgets the sums and run numbers (a new capture, or a rollback). */
void pdx_rollup_reset(pdx_rollup *r);
/* The next run of kind gets seq (a capture taken up again has runs). */
void pdx_rollup_set_seq(pdx_rollup *r, int kind, uint32_t seq);

/* Adds a written flow row's change to every kind it has a key for.
 * Returns 0, 1 when a kind is full (call pdx_rollup_flush), or PDX_ENOMEM. */
int pdx_rollup_add(pdx_rollup *r, const pdx_flow *f, uint64_t flows, uint64_t packets, uint64_t bytes);

/* Hands put a run of every full kind; with final (the capture's end), of
 * every kind with sums or without a run yet (so each capture has at least
 * run 0 of each kind, maybe empty), and resets r.  put returns 0 or a
 * negative code, which is returned. */
int pdx_rollup_flush(pdx_rollup *r, int final, int (*put)(void *ctx, const pdx_rollup_run *run),
                     void *ctx);

/* Decodes a stored run of kind (the keys, encoding and data columns of a
 * rollups row) and calls cb for each entry in order: the key (klen bytes,
 * see docs/schema.md) and flows, packets, bytes.  Returns 0 when the run
 * is sound, PDX_EDB when it is not (keys not strictly increasing, a count
 * that disagrees, bytes left over, a bad frame), PDX_ENOMEM, or cb's
 * negative code.  cb may be NULL. */
int pdx_rollup_decode(int kind, int64_t keys, int encoding, const void *data, size_t len,
                      int (*cb)(void *ctx, const uint8_t *key, size_t klen, const uint64_t c[3]),
                      void *ctx);

/* Checks that the rollups hold the flows' sums: 0 when some capture has
 * none (--top reads the flows), 1 when they agree, 2 when they do not
 * (*bad_kind says the first kind that differs), or a negative code with
 * errbuf filled.  Reads every flow and every run once. */
int pdx_rollup_check(sqlite3 *db, int *bad_kind, char *errbuf);

/* "src", "dst", "host", "port", "pair", "proto"; NULL for another number. */
const char *pdx_rollup_kind_name(int kind);

/* The SELECT that pdx_summary_timeseries runs (for --explain); as above. */
char *pdx_summary_timeseries_sql(const pdx_select *s);

/* Bins of interval_ns (> 0) aligned to multiples of it since the epoch; a
 * flow counts, with all its packets and bytes, in the bin of its first
 * packet.  Only bins with flows are returned, in time order.  Returns
 * PDX_OK with a malloc'ed array in *out (caller frees) of *n bins, or a
 * negative code with errbuf filled; *out and *n are written only on
 * success. */
int pdx_summary_timeseries(sqlite3 *db, const pdx_select *s, int64_t interval_ns,
                           pdx_tsbin **out, size_t *n, char *errbuf);

/* Start of the bin holding t: the largest multiple of interval_ns (> 0)
 * that is <= t (floor, also before 1970); INT64_MIN when that multiple is
 * below INT64_MIN. */
int64_t pdx_summary_bin(int64_t t, int64_t interval_ns);

#endif
