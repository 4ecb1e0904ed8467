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

/*
 * Queues a call of fn(ix, arg, errbuf) on the thread, in order with the
 * flow rows and segments queued before and after it (a capture's BEGIN,
 * its row, its COMMIT).  fn returns 0 or a negative code with errbuf set,
 * and owns arg: when the queue has failed (or is stopped) before the call
 * runs, fn(NULL, arg, NULL) is called instead, only to free arg.  Returns
 * the queue's first error so far (0 when none).
 */
typedef int (*pdx_dbq_fn)(pdx_index *ix, void *arg, char *errbuf);
int pdx_dbq_call(pdx_dbq *q, pdx_dbq_fn fn, void *arg);

/* Waits until everything queued is stored.  0, or the first error (its
 * message in errbuf); after an error every later op fails too. */
int pdx_dbq_sync(pdx_dbq *q, char *errbuf);

/* Stores what is queued, stops the thread and frees the queue. NULL ok. */
void pdx_dbq_stop(pdx_dbq *q);

#endif
