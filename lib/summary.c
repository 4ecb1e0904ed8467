/* summary.c - top-N lists and time series over the selected flows, from the index alone. */
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- aggregation table ----------------------------------------------------- */

/* Open addressing with linear probing, entries stored inline: each slot is
 * `words` key words (an address is 2, a pair 4, a port, protocol or bin 1)
 * then flows, packets and bytes; flows = 0 marks an empty slot.  With
 * millions of distinct keys (a capture with a new client per flow) the time
 * goes into cache misses, so an add touches one slot, and adds are queued a
 * few rows behind the scan so that the slot can be prefetched meanwhile. */
#define KEY_WORDS 4
#define PIPE 16 /* adds in flight */

typedef struct pending {
    uint64_t key[KEY_WORDS];
    uint64_t hash, packets, bytes;
} pending;

typedef struct aggtab {
    int words, stride;  /* key words; words + 3 */
    uint64_t *tab;
    size_t nslot, n;    /* nslot is a power of two */
    pending pipe[PIPE];
    unsigned head, queued;
} aggtab;

static uint64_t key_hash(const uint64_t *k, int words)
{
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < words; i++) {
        h ^= k[i];
        h *= 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 32;
    return h;
}

static void aggtab_init(aggtab *t, int words)
{
    memset(t, 0, sizeof(*t));
    t->words = words;
    t->stride = words + 3;
}

static void aggtab_free(aggtab *t)
{
    free(t->tab);
    t->tab = NULL;
    t->nslot = t->n = 0;
}

/* The entry at slot i, or NULL when it is empty. */
static const uint64_t *aggtab_at(const aggtab *t, size_t i)
{
    const uint64_t *e = t->tab + i * (size_t)t->stride;
    return e[t->words] != 0 ? e : NULL;
}

static int aggtab_grow(aggtab *t)
{
    size_t ns = t->nslot ? t->nslot * 2 : 1024;
    if (ns > SIZE_MAX / sizeof(uint64_t) / (size_t)t->stride)
        return PDX_ENOMEM;
    uint64_t *nt = calloc(ns, (size_t)t->stride * sizeof(uint64_t));
    if (nt == NULL)
        return PDX_ENOMEM;
    for (size_t i = 0; i < t->nslot; i++) {
        const uint64_t *e = aggtab_at(t, i);
        if (e == NULL)
            continue;
        size_t j = key_hash(e, t->words) & (ns - 1);
        while (nt[j * (size_t)t->stride + (size_t)t->words] != 0)
            j = (j + 1) & (ns - 1);
        memcpy(nt + j * (size_t)t->stride, e, (size_t)t->stride * sizeof(uint64_t));
    }
    free(t->tab);
    t->tab = nt;
    t->nslot = ns;
    return PDX_OK;
}

static int aggtab_insert(aggtab *t, const pending *p)
{
    if ((t->n + 1) * 4 > t->nslot * 3 && aggtab_grow(t) < 0)
        return PDX_ENOMEM;
    size_t w = (size_t)t->words, mask = t->nslot - 1;
    for (size_t j = p->hash & mask;; j = (j + 1) & mask) {
        uint64_t *e = t->tab + j * (size_t)t->stride;
        if (e[w] == 0) {
            memcpy(e, p->key, w * sizeof(uint64_t));
            e[w] = 1;
            e[w + 1] = p->packets;
            e[w + 2] = p->bytes;
            t->n++;
            return PDX_OK;
        }
        size_t k = 0;
        while (k < w && e[k] == p->key[k])
            k++;
        if (k == w) {
            e[w]++;
            e[w + 1] += p->packets;
            e[w + 2] += p->bytes;
            return PDX_OK;
        }
    }
}

/* Counts one flow under key (t->words words). */
static int aggtab_add(aggtab *t, const uint64_t *key, uint64_t packets, uint64_t bytes)
{
    if (t->queued == PIPE) {
        int rc = aggtab_insert(t, &t->pipe[t->head]);
        if (rc < 0)
            return rc;
        t->head = (t->head + 1) % PIPE;
        t->queued--;
    }
    pending *p = &t->pipe[(t->head + t->queued) % PIPE];
    memcpy(p->key, key, (size_t)t->words * sizeof(uint64_t));
    p->hash = key_hash(key, t->words);
    p->packets = packets;
    p->bytes = bytes;
    t->queued++;
#if defined(__GNUC__)
    if (t->tab != NULL)
        __builtin_prefetch(t->tab + (p->hash & (t->nslot - 1)) * (size_t)t->stride, 1);
#endif
    return PDX_OK;
}

/* Inserts the adds still in flight. */
static int aggtab_flush(aggtab *t)
{
    while (t->queued > 0) {
        int rc = aggtab_insert(t, &t->pipe[t->head]);
        if (rc < 0)
            return rc;
        t->head = (t->head + 1) % PIPE;
        t->queued--;
    }
    return PDX_OK;
}

/* ---- SQL --------------------------------------------------------------------- */

/* Every summary reads two key columns, packets and bytes.  Rows without
 * a key (non-IP flows for an address) are skipped in C rather than in SQL:
 * "src_ip IS NOT NULL" would tempt SQLite into walking an address index
 * and looking up every row in the table, which is far slower than one
 * pass over the table. */
static char *build_sql(const pdx_select *s, const char *cols)
{
#define SUMMARY_SQL "SELECT %s, src_packets + dst_packets, src_bytes + dst_bytes FROM flows %s"
    size_t len = sizeof(SUMMARY_SQL) + strlen(cols) + strlen(s->where);
    char *sql = malloc(len);
    if (sql != NULL)
        snprintf(sql, len, SUMMARY_SQL, cols, s->where);
    return sql;
}

char *pdx_summary_top_sql(const pdx_select *s, int kind)
{
    switch (kind) {
    case PDX_TOP_SRC: return build_sql(s, "src_ip, NULL");
    case PDX_TOP_DST: return build_sql(s, "dst_ip, NULL");
    case PDX_TOP_HOST:
    case PDX_TOP_PAIR: return build_sql(s, "src_ip, dst_ip");
    case PDX_TOP_PORT: return build_sql(s, "dst_port, proto");
    case PDX_TOP_PROTO: return build_sql(s, "proto, ethertype");
    default: return NULL;
    }
}

char *pdx_summary_timeseries_sql(const pdx_select *s)
{
    return build_sql(s, "first_ns, NULL");
}

/* Prepares sql, binds the selection, and feeds every row to cb. */
static int scan(sqlite3 *db, const pdx_select *s, char *sql,
                int (*cb)(void *ctx, sqlite3_stmt *st, char *errbuf), void *ctx, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if (sql == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = pdx_errf(errbuf, PDX_EDB, "preparing the summary: %s", sqlite3_errmsg(db));
        goto out;
    }
    if (pdx_select_bind(s, st, 1) < 0) {
        rc = pdx_errf(errbuf, PDX_EDB, "binding the filter: %s", sqlite3_errmsg(db));
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = cb(ctx, st, errbuf);
        if (r < 0) {
            rc = r;
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = pdx_errf(errbuf, PDX_EDB, "reading flows: %s", sqlite3_errmsg(db));
        goto out;
    }
    rc = PDX_OK;
out:
    sqlite3_finalize(st);
    free(sql);
    return rc;
}

/* Packets and bytes of the row, which are never negative in a sound index. */
static int row_counts(sqlite3_stmt *st, uint64_t *packets, uint64_t *bytes, char *errbuf)
{
    sqlite3_int64 p = sqlite3_column_int64(st, 2), b = sqlite3_column_int64(st, 3);
    if (p < 0 || b < 0)
        return pdx_errf(errbuf, PDX_EDB, "a flow has negative counters: the index is corrupt");
    *packets = (uint64_t)p;
    *bytes = (uint64_t)b;
    return PDX_OK;
}

/* Reads an address column into two key words: 0 when NULL (skip the row),
 * 1 when read, or PDX_EDB for a blob that is not 16 bytes. */
static int addr_col(sqlite3_stmt *st, int col, uint64_t *key, char *errbuf)
{
    const void *p = sqlite3_column_blob(st, col);
    if (p == NULL)
        return 0;
    if (sqlite3_column_bytes(st, col) != 16)
        return pdx_errf(errbuf, PDX_EDB, "a flow has an address that is not 16 bytes: the index is corrupt");
    memcpy(key, p, 16);
    return 1;
}

/* ---- top-N ------------------------------------------------------------------- */

typedef struct topctx {
    aggtab t;
    int kind;
} topctx;

/* Key words: an address in 0-1 (the second of a pair in 2-3); a port in
 * word 0; a protocol in word 0 and, for non-IP flows (proto -1), the
 * ethertype in word 1. */
static int top_row(void *vctx, sqlite3_stmt *st, char *errbuf)
{
    topctx *c = vctx;
    uint64_t key[KEY_WORDS] = {0, 0, 0, 0}, key2[KEY_WORDS] = {0, 0, 0, 0};
    uint64_t packets = 0, bytes = 0;
    int rc = row_counts(st, &packets, &bytes, errbuf);
    if (rc < 0)
        return rc;
    switch (c->kind) {
    case PDX_TOP_SRC:
    case PDX_TOP_DST:
        if ((rc = addr_col(st, 0, key, errbuf)) <= 0)
            return rc;
        break;
    case PDX_TOP_PAIR:
        if ((rc = addr_col(st, 0, key, errbuf)) <= 0 || (rc = addr_col(st, 1, key + 2, errbuf)) <= 0)
            return rc;
        break;
    case PDX_TOP_HOST:
        if ((rc = addr_col(st, 0, key, errbuf)) <= 0 || (rc = addr_col(st, 1, key2, errbuf)) <= 0)
            return rc;
        if ((key[0] != key2[0] || key[1] != key2[1]) && (rc = aggtab_add(&c->t, key2, packets, bytes)) < 0)
            return pdx_errf(errbuf, rc, "out of memory");
        break;
    case PDX_TOP_PORT: {
        /* Ports mean ports for TCP, UDP and SCTP only, as in the filter. */
        int proto = sqlite3_column_int(st, 1);
        if (sqlite3_column_type(st, 0) == SQLITE_NULL || (proto != 6 && proto != 17 && proto != 132))
            return PDX_OK;
        key[0] = (uint64_t)sqlite3_column_int64(st, 0);
        break;
    }
    case PDX_TOP_PROTO:
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            key[0] = (uint64_t)-1;
            key[1] = (uint64_t)sqlite3_column_int64(st, 1);
        } else {
            key[0] = (uint64_t)sqlite3_column_int64(st, 0);
        }
        break;
    default: return pdx_errf(errbuf, PDX_EUSAGE, "unknown summary kind");
    }
    if ((rc = aggtab_add(&c->t, key, packets, bytes)) < 0)
        return pdx_errf(errbuf, rc, "out of memory");
    return PDX_OK;
}

/* An aggregated entry (key words, flows, packets, bytes) as a pdx_topent. */
static void to_topent(const uint64_t *g, int words, int kind, pdx_topent *e)
{
    memset(e, 0, sizeof(*e));
    switch (kind) {
    case PDX_TOP_PAIR: memcpy(e->b, g + 2, 16); /* fall through */
    case PDX_TOP_SRC:
    case PDX_TOP_DST:
    case PDX_TOP_HOST: memcpy(e->a, g, 16); break;
    case PDX_TOP_PORT: e->port = (int32_t)g[0]; break;
    default:
        e->proto = (int32_t)(int64_t)g[0];
        e->ethertype = e->proto < 0 ? (int32_t)g[1] : 0;
        break;
    }
    e->flows = g[words];
    e->packets = g[words + 1];
    e->bytes = g[words + 2];
}

static uint64_t metric(const pdx_topent *e, int by)
{
    return by == PDX_BY_BYTES ? e->bytes : by == PDX_BY_PACKETS ? e->packets : e->flows;
}

static int cmp_i32(int32_t x, int32_t y)
{
    return x < y ? -1 : x > y;
}

/* Negative when x ranks before y: larger metric first, then smaller key. */
static int rank_cmp(const pdx_topent *x, const pdx_topent *y, int by)
{
    uint64_t mx = metric(x, by), my = metric(y, by);
    if (mx != my)
        return mx > my ? -1 : 1;
    int c = memcmp(x->a, y->a, 16);
    if (c == 0)
        c = memcmp(x->b, y->b, 16);
    if (c == 0)
        c = cmp_i32(x->port, y->port);
    if (c == 0)
        c = cmp_i32(x->proto, y->proto);
    if (c == 0)
        c = cmp_i32(x->ethertype, y->ethertype);
    return c;
}

/* Sifts h[i] down a heap whose root is the entry ranking last. */
static void heap_down(pdx_topent *h, size_t n, size_t i, int by)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && rank_cmp(&h[l], &h[w], by) > 0)
            w = l;
        if (r < n && rank_cmp(&h[r], &h[w], by) > 0)
            w = r;
        if (w == i)
            return;
        pdx_topent tmp = h[i];
        h[i] = h[w];
        h[w] = tmp;
        i = w;
    }
}

int pdx_summary_top(sqlite3 *db, const pdx_select *s, int kind, int by, size_t limit,
                    pdx_topent **out, size_t *n, char *errbuf)
{
    if (kind < PDX_TOP_SRC || kind > PDX_TOP_PROTO || by < PDX_BY_FLOWS || by > PDX_BY_BYTES)
        return pdx_errf(errbuf, PDX_EUSAGE, "unknown summary kind");
    topctx c;
    memset(&c, 0, sizeof(c));
    c.kind = kind;
    aggtab_init(&c.t, kind == PDX_TOP_PAIR ? 4 : kind == PDX_TOP_PORT ? 1 : 2);
    int rc = scan(db, s, pdx_summary_top_sql(s, kind), top_row, &c, errbuf);
    if (rc == PDX_OK && aggtab_flush(&c.t) < 0)
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (rc < 0) {
        aggtab_free(&c.t);
        return rc;
    }
    size_t keep = (limit == 0 || limit > c.t.n) ? c.t.n : limit;
    pdx_topent *res = NULL;
    if (keep > 0) {
        res = malloc(keep * sizeof(*res));
        if (res == NULL) {
            aggtab_free(&c.t);
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        }
    }
    /* Selection with a heap of the best `keep` so far (the worst at the
     * root), O(n log keep); then heapsort, which leaves the best first. */
    size_t i = 0;
    for (size_t sl = 0; sl < c.t.nslot && keep > 0; sl++) {
        const uint64_t *g = aggtab_at(&c.t, sl);
        if (g == NULL)
            continue;
        pdx_topent e;
        to_topent(g, c.t.words, kind, &e);
        if (i < keep) {
            res[i] = e;
            if (++i == keep)
                for (size_t j = keep / 2; j-- > 0;)
                    heap_down(res, keep, j, by);
        } else if (rank_cmp(&e, &res[0], by) < 0) {
            res[0] = e;
            heap_down(res, keep, 0, by);
        }
    }
    for (size_t m = keep; m > 1; m--) {
        pdx_topent tmp = res[0];
        res[0] = res[m - 1];
        res[m - 1] = tmp;
        heap_down(res, m - 1, 0, by);
    }
    aggtab_free(&c.t);
    *out = res;
    *n = keep;
    return PDX_OK;
}

/* ---- time series --------------------------------------------------------------- */

typedef struct tsctx {
    aggtab t;
    int64_t interval;
} tsctx;

int64_t pdx_summary_bin(int64_t t, int64_t interval_ns)
{
    int64_t r = t % interval_ns;
    if (r < 0)
        r += interval_ns;
    return t - r;
}

static int ts_row(void *vctx, sqlite3_stmt *st, char *errbuf)
{
    tsctx *c = vctx;
    uint64_t key[KEY_WORDS] = {0, 0, 0, 0};
    uint64_t packets = 0, bytes = 0;
    int rc = row_counts(st, &packets, &bytes, errbuf);
    if (rc < 0)
        return rc;
    key[0] = (uint64_t)pdx_summary_bin(sqlite3_column_int64(st, 0), c->interval);
    if ((rc = aggtab_add(&c->t, key, packets, bytes)) < 0)
        return pdx_errf(errbuf, rc, "out of memory");
    return PDX_OK;
}

static int bin_cmp(const void *a, const void *b)
{
    const pdx_tsbin *x = a, *y = b;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

int pdx_summary_timeseries(sqlite3 *db, const pdx_select *s, int64_t interval_ns,
                           pdx_tsbin **out, size_t *n, char *errbuf)
{
    if (interval_ns <= 0)
        return pdx_errf(errbuf, PDX_EUSAGE, "the interval must be positive");
    tsctx c;
    memset(&c, 0, sizeof(c));
    c.interval = interval_ns;
    aggtab_init(&c.t, 1);
    int rc = scan(db, s, pdx_summary_timeseries_sql(s), ts_row, &c, errbuf);
    if (rc == PDX_OK && aggtab_flush(&c.t) < 0)
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (rc < 0) {
        aggtab_free(&c.t);
        return rc;
    }
    pdx_tsbin *res = NULL;
    if (c.t.n > 0) {
        res = malloc(c.t.n * sizeof(*res));
        if (res == NULL) {
            aggtab_free(&c.t);
            return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        }
        size_t i = 0;
        for (size_t sl = 0; sl < c.t.nslot; sl++) {
            const uint64_t *g = aggtab_at(&c.t, sl);
            if (g == NULL)
                continue;
            res[i].start_ns = (int64_t)g[0];
            res[i].flows = g[1];
            res[i].packets = g[2];
            res[i].bytes = g[3];
            i++;
        }
        qsort(res, c.t.n, sizeof(*res), bin_cmp);
    }
    *out = res;
    *n = c.t.n;
    aggtab_free(&c.t);
    return PDX_OK;
}
