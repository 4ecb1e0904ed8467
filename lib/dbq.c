/* dbq.c - the index writer thread: a bounded queue of flow rows and offset
 * segments, filled in batches by the flow table and drained into SQLite. */
#include "dbq.h"

#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define BATCH 512          /* items handed over at once */
#define MAX_BATCHES 64     /* queued batches before the producer waits */

enum { ITEM_FLOW, ITEM_SEGMENT, ITEM_CALL };

typedef struct item {
    int kind;
    pdx_flow f; /* f.obuf points at f.inline_offs or a malloc'd copy */
    pdx_dbq_fn fn;
    void *arg;
} item;

typedef struct batch {
    item items[BATCH];
    size_t n;
    struct batch *next;
} batch;

struct pdx_dbq {
    pdx_index *ix;
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t more;   /* a batch was queued, or stop */
    uv_cond_t done;   /* the thread finished a batch */
    batch *head, *tail;
    size_t queued;    /* batches in the list */
    int busy;         /* the thread holds a batch */
    int stop;
    int err;          /* first error, sticky */
    char errmsg[PDX_ERRBUF_SIZE];
    char callerr[PDX_ERRBUF_SIZE]; /* the thread's buffer for ITEM_CALL errors */
    batch *cur;       /* the producer's batch being filled */
    batch *spare;     /* a free batch to reuse */
};

static void free_item(item *it)
{
    if (it->kind == ITEM_CALL) {
        it->fn(NULL, it->arg, NULL);
        return;
    }
    if (it->f.obuf != it->f.inline_offs)
        free(it->f.obuf);
}

static int run_item(pdx_dbq *q, item *it)
{
    switch (it->kind) {
    case ITEM_SEGMENT: return pdx_index_put_segment(q->ix, &it->f);
    case ITEM_FLOW: return pdx_index_put_flow(q->ix, &it->f);
    default: return it->fn(q->ix, it->arg, q->callerr);
    }
}

static void worker(void *arg)
{
    pdx_dbq *q = arg;
    uv_mutex_lock(&q->lock);
    for (;;) {
        while (q->head == NULL && !q->stop)
            uv_cond_wait(&q->more, &q->lock);
        batch *b = q->head;
        if (b == NULL)
            break;
        q->head = b->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->queued--;
        q->busy = 1;
        int failed = q->err != 0;
        uv_mutex_unlock(&q->lock);

        int rc = 0;
        const char *msg = NULL;
        for (size_t i = 0; i < b->n; i++) {
            item *it = &b->items[i];
            if (!failed && rc == 0) {
                rc = run_item(q, it);
                msg = it->kind == ITEM_CALL ? q->callerr : pdx_index_errmsg(q->ix);
                if (it->kind == ITEM_CALL)
                    continue; /* the call freed its argument */
            }
            free_item(it);
        }
        b->n = 0;

        uv_mutex_lock(&q->lock);
        if (rc < 0 && q->err == 0) {
            q->err = rc;
            memcpy(q->errmsg, msg, PDX_ERRBUF_SIZE);
        }
        if (q->spare == NULL) {
            q->spare = b;
        } else {
            free(b);
        }
        q->busy = 0;
        uv_cond_broadcast(&q->done);
    }
    uv_mutex_unlock(&q->lock);
}

/* Hands the producer's batch to the thread, waiting while the queue is full. */
static int flush_cur(pdx_dbq *q)
{
    if (q->cur == NULL || q->cur->n == 0)
        return q->err;
    uv_mutex_lock(&q->lock);
    while (q->queued >= MAX_BATCHES && q->err == 0)
        uv_cond_wait(&q->done, &q->lock);
    batch *b = q->cur;
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->queued++;
    q->cur = q->spare;
    q->spare = NULL;
    int err = q->err;
    uv_cond_signal(&q->more);
    uv_mutex_unlock(&q->lock);
    return err;
}

static int enqueue(pdx_dbq *q, const pdx_flow *f, int is_segment)
{
    if (q->cur == NULL && (q->cur = calloc(1, sizeof(batch))) == NULL)
        return PDX_ENOMEM;
    item *it = &q->cur->items[q->cur->n];
    it->kind = is_segment ? ITEM_SEGMENT : ITEM_FLOW;
    it->f = *f;
    it->f.prev = it->f.next = NULL;
    if (is_segment && f->olen > 0) {
        if (f->olen <= PDX_FLOW_INLINE_OFFS) {
            memcpy(it->f.inline_offs, f->obuf, f->olen);
            it->f.obuf = it->f.inline_offs;
        } else {
            it->f.obuf = malloc(f->olen);
            if (it->f.obuf == NULL)
                return PDX_ENOMEM;
            memcpy(it->f.obuf, f->obuf, f->olen);
        }
    } else {
        it->f.obuf = it->f.inline_offs;
    }
    if (++q->cur->n == BATCH)
        return flush_cur(q);
    return q->err;
}

int pdx_dbq_call(pdx_dbq *q, pdx_dbq_fn fn, void *arg)
{
    if (q->cur == NULL && (q->cur = calloc(1, sizeof(batch))) == NULL) {
        fn(NULL, arg, NULL);
        return PDX_ENOMEM;
    }
    item *it = &q->cur->items[q->cur->n];
    it->kind = ITEM_CALL;
    it->fn = fn;
    it->arg = arg;
    /* Hand it over now: a call ends a unit of work (a capture). */
    q->cur->n++;
    return flush_cur(q);
}

static int op_flow(void *ctx, const pdx_flow *f)
{
    return enqueue(ctx, f, 0);
}

static int op_segment(void *ctx, const pdx_flow *f)
{
    return enqueue(ctx, f, 1);
}

pdx_flow_ops pdx_dbq_ops(pdx_dbq *q)
{
    pdx_flow_ops ops = {q, op_segment, op_flow};
    return ops;
}

int pdx_dbq_start(pdx_dbq **out, pdx_index *ix, char *errbuf)
{
    pdx_dbq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    q->ix = ix;
    if (uv_mutex_init(&q->lock) != 0) {
        free(q);
        return pdx_errf(errbuf, PDX_ENOMEM, "cannot create a mutex");
    }
    if (uv_cond_init(&q->more) != 0 || uv_cond_init(&q->done) != 0 ||
        uv_thread_create(&q->thread, worker, q) != 0) {
        uv_mutex_destroy(&q->lock);
        free(q);
        return pdx_errf(errbuf, PDX_ENOMEM, "cannot start the index writer thread");
    }
    *out = q;
    return PDX_OK;
}

int pdx_dbq_sync(pdx_dbq *q, char *errbuf)
{
    flush_cur(q);
    uv_mutex_lock(&q->lock);
    while ((q->head != NULL || q->busy) && q->err == 0)
        uv_cond_wait(&q->done, &q->lock);
    /* After an error, let the thread drop what is left. */
    while (q->head != NULL || q->busy)
        uv_cond_wait(&q->done, &q->lock);
    int err = q->err;
    if (err)
        pdx_errf(errbuf, err, "%s", q->errmsg);
    uv_mutex_unlock(&q->lock);
    return err;
}

void pdx_dbq_stop(pdx_dbq *q)
{
    if (q == NULL)
        return;
    flush_cur(q);
    uv_mutex_lock(&q->lock);
    q->stop = 1;
    uv_cond_signal(&q->more);
    uv_mutex_unlock(&q->lock);
    uv_thread_join(&q->thread);
    if (q->cur) {
        for (size_t i = 0; i < q->cur->n; i++)
            free_item(&q->cur->items[i]);
        free(q->cur);
    }
    free(q->spare);
    uv_cond_destroy(&q->more);
    uv_cond_destroy(&q->done);
    uv_mutex_destroy(&q->lock);
    free(q);
}
