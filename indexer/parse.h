/*
 * parse.h - the reading half of "pcapdex index": one capture read, decoded
 * and filtered into chunks of packets that the flow table takes in order.
 *
 * A parse job runs either on the caller's thread (each parse_job_next()
 * reads the next chunk) or, after parse_job_start(), as a work item on
 * libuv's thread pool that keeps a few chunks ahead of the caller.  Either
 * way the caller sees the same chunks in the same order, so the flow table,
 * the flow IDs and the database come out identical; only the decoding moves
 * to another core.  The job never touches the index.
 */
#ifndef PDX_PARSE_H
#define PDX_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "capture.h"
#include "decode.h"
#include "flow.h"
#include "pdx.h"

/* One packet for the flow table. */
typedef struct parse_item {
    pdx_pkt pkt;
    pdx_flowkey key; /* from pdx_flow_key(), on the reading thread */
    uint64_t hash;   /* 0: none (a fragment) */
    uint64_t offset;
    int64_t ts_ns;
    uint32_t linktype;
    uint32_t wirelen;
    uint8_t counted; /* among the first parse_opts.count_from records */
} parse_item;

#define PARSE_CHUNK_ITEMS 2048

typedef struct parse_chunk {
    size_t n;
    uint64_t pos;  /* file bytes consumed after this chunk (progress) */
    int last;      /* the capture ends with this chunk (it may be empty) */
    parse_item item[PARSE_CHUNK_ITEMS];
} parse_chunk;

/* What the job drops before the flow table; shared read-only by all jobs. */
typedef struct parse_opts {
    const uint8_t (*ex_lo)[16]; /* --exclude ranges */
    const uint8_t (*ex_hi)[16];
    size_t n_ex;
    const char *filter;         /* --filter, or NULL */
    uint64_t count_from;        /* records before this one were read by an
                                 * earlier run (a capture that grew): their
                                 * items are marked counted, and the result's
                                 * filtered counts only the records after */
} parse_opts;

#define PARSE_MAX_WARN 4

/* The capture's totals; complete once the last chunk has been taken. */
typedef struct parse_result {
    uint64_t packets, bytes, cap_bytes, truncated, invalid, filtered;
    int64_t first_ns, last_ns; /* INT64_MIN when no packet */
    uint64_t raw_size;         /* bytes of (uncompressed) capture read */
    int damaged;               /* the reader stopped at damage: err says where */
    char err[PDX_ERRBUF_SIZE];
    size_t n_warn;             /* other warnings (a filter that does not compile) */
    char warn[PARSE_MAX_WARN][PDX_ERRBUF_SIZE];
} parse_result;

typedef struct parse_job parse_job;

/* Opens path (pcap, pcapng, snoop; zstd or gzip compressed) and reads its
 * header.  *compression gets enum pdx_comp.  NULL with errbuf set and *code
 * < 0 when it is not a capture we read (PDX_EFORMAT), its compressed data is
 * damaged before the capture's header (PDX_ECORRUPT), or it cannot be opened. */
parse_job *parse_job_open(const char *path, const parse_opts *opts, int *compression, int *code,
                          char *errbuf);

/* The file header's fields (format, byte order, version, ...), without the
 * interfaces and sections, which later blocks may add: safe to use while
 * the job runs on another thread. */
const pdx_capinfo *parse_job_header(const parse_job *j);

/* Moves reading to libuv's thread pool (loop: where its completion is
 * reported).  0, or -1 when the work cannot be queued (the job then goes
 * on running on the caller's thread). */
int parse_job_start(parse_job *j, uv_loop_t *loop);

/* The next chunk, in file order; blocks until the pool thread has one.
 * Give it back with parse_job_release() before asking for another. */
const parse_chunk *parse_job_next(parse_job *j);
void parse_job_release(parse_job *j, const parse_chunk *c);

/* After the last chunk: totals, and the reader's interfaces and sections. */
const parse_result *parse_job_result(const parse_job *j);
const pdx_capinfo *parse_job_info(const parse_job *j);
const pdx_capstats *parse_job_stats(const parse_job *j);

/* Stops reading (if it has not ended) and frees the job; a job on the pool
 * is freed once its work item has been reported done on the loop.  NULL ok. */
void parse_job_close(parse_job *j);

#endif
