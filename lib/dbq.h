/*
 * dbq.h - a writer thread for the index, so that decoding and flow assembly
 * (the caller's thread) overlap with SQLite (this thread) and one capture
 * uses two cores.
 *
 * pdx_dbq_ops() gives flow-table ops that copy each flow row or offset
 * segment into a bounded queue; the thread (libuv's uv_thread) stores them
 * with pdx_index_put_flow/put_segment in queue order, so the database ends
 * up exactly as with direct calls.  The caller must not use the index while
 * the queue holds work: pdx_dbq_sync() waits until it is empty and returns
 * the first error the thread met.
 */
#ifndef PDX_DBQ_H
#define PDX_DBQ_H

#include "flow.h"
#include "index.h"

typedef struct pdx_dbq pdx_dbq;

/* Starts the thread.  0, or PDX_ENOMEM with errbuf set. */
int pdx_dbq_start(pdx_dbq **out, pdx_index *ix, char *errbuf);

/* Ops that queue work for the thread (ctx = the queue). */
pdx_flow_ops pdx_dbq_ops(pdx_dbq *q);

/* Waits until everything queued is stored.  0, or the first error (its
 * message in errbuf); after an error every later op fails too. */
int pdx_dbq_sync(pdx_dbq *q, char *errbuf);

/* Stores what is queued, stops the thread and frees the queue. NULL ok. */
void pdx_dbq_stop(pdx_dbq *q);

#endif
