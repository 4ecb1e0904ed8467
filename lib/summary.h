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

/* The SELECT that pdx_summary_top runs (for --explain).  Returns a string
 * the caller frees, or NULL when out of memory or kind is unknown.  Its
 * parameters are the selection's, bound from index 1 (pdx_select_bind). */
char *pdx_summary_top_sql(const pdx_select *s, int kind);

/* The top `limit` entries (0 = all) of kind, ranked by `by` descending,
 * ties broken by the key ascending.  Returns PDX_OK with a malloc'ed array
 * in *out (caller frees) of *n entries (*out may be NULL when *n is 0), or
 * PDX_EDB / PDX_ENOMEM / PDX_EUSAGE with errbuf filled; *out and *n are
 * written only on success. */
int pdx_summary_top(sqlite3 *db, const pdx_select *s, int kind, int by, size_t limit,
                    pdx_topent **out, size_t *n, char *errbuf);

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
