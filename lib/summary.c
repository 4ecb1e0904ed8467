/* summary.c - top-N lists and time series over the selected flows, from the index alone. */
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- aggregation ------------------------------------------------------------- */

/*
 * Entries are `words` key words (an address is 2, a pair 4, a port,
 * protocol or bin 1) followed by flows, packets and bytes.  They are summed
 * in a hash table (open addressing, linear probing, entries inline, flows = 0
 * marks an empty slot) while it stays small enough for the caches.  Beyond
 * SPILL_AT keys (a capture set with a new client address per flow has
 * millions) each add would be a cache miss, so the table is spilled: its
 * entries, and every later add, are appended to one of NPART partitions by
 * the top bits of the key's hash; at the end each partition is summed on its
 * own in a table that fits the caches.  Same result, a fraction of the time.
 */
#define KEY_WORDS 4
#define SPILL_AT (1u << 17)
#define PART_BITS 8
#define NPART (1u << PART_BITS)

typedef struct table {
    uint64_t *e;
    size_t nslot, n; /* nslot is a power of two (or 0) */
} table;

typedef struct aggtab {
    int words, stride; /* key words; words + 3 */
    table t;
    table scratch;     /* for summing one partition */
    int spilled;
    uint64_t *part[NPART];
    size_t plen[NPART], pcap[NPART]; /* in entries */
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

/* Entries are 4 to 7 words: a loop the compiler inlines beats a memcpy call. */
static void copy_words(uint64_t *d, const uint64_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

static void aggtab_init(aggtab *a, int words)
{
    memset(a, 0, sizeof(*a));
    a->words = words;
    a->stride = words + 3;
}

static void aggtab_free(aggtab *a)
{
    free(a->t.e);
    free(a->scratch.e);
    for (unsigned i = 0; i < NPART; i++)
        free(a->part[i]);
    aggtab_init(a, a->words);
}

/* Sets up an empty table with room for n keys at most 3/4 full. */
static int table_reset(table *t, size_t n, int stride)
{
    size_t ns = 1024;
    while (ns / 4 * 3 < n + 1) {
        if (ns > SIZE_MAX / 2 / sizeof(uint64_t) / (size_t)stride)
            return PDX_ENOMEM;
        ns *= 2;
    }
    if (ns != t->nslot) {
        uint64_t *e = calloc(ns, (size_t)stride * sizeof(uint64_t));
        if (e == NULL)
            return PDX_ENOMEM;
        free(t->e);
        t->e = e;
        t->nslot = ns;
    } else {
        memset(t->e, 0, ns * (size_t)stride * sizeof(uint64_t));
    }
    t->n = 0;
    return PDX_OK;
}

/* Adds entry g (key, flows, packets, bytes) to t, which must have room. */
static void table_put(table *t, int words, int stride, const uint64_t *g, uint64_t hash)
{
    size_t w = (size_t)words, mask = t->nslot - 1;
    for (size_t j = hash & mask;; j = (j + 1) & mask) {
        uint64_t *e = t->e + j * (size_t)stride;
        if (e[w] == 0) {
            copy_words(e, g, (size_t)stride);
            t->n++;
            return;
        }
        size_t k = 0;
        while (k < w && e[k] == g[k])
            k++;
        if (k == w) {
            e[w] += g[w];
            e[w + 1] += g[w + 1];
            e[w + 2] += g[w + 2];
            return;
        }
    }
}

/* Sums the partition's duplicate keys in place, through the scratch table. */
static int part_compact(aggtab *a, unsigned p)
{
    uint64_t *buf = a->part[p];
    size_t st = (size_t)a->stride;
    if (table_reset(&a->scratch, a->plen[p], a->stride) < 0)
        return PDX_ENOMEM;
    for (size_t i = 0; i < a->plen[p]; i++)
        table_put(&a->scratch, a->words, a->stride, buf + i * st, key_hash(buf + i * st, a->words));
    size_t n = 0;
    for (size_t i = 0; i < a->scratch.nslot; i++) {
        const uint64_t *e = a->scratch.e + i * st;
        if (e[a->words] != 0)
            copy_words(buf + n++ * st, e, st);
    }
    a->plen[p] = n;
    return PDX_OK;
}

/* Appends entry g to its partition.  A full partition is first compacted,
 * and grows only when that did not free half of it: keys seen again and
 * again (servers) then cost no memory, and a partition never holds more
 * than twice its distinct keys. */
static int part_append(aggtab *a, const uint64_t *g, uint64_t hash)
{
    unsigned p = (unsigned)(hash >> (64 - PART_BITS));
    if (a->plen[p] == a->pcap[p]) {
        if (a->pcap[p] != 0 && part_compact(a, p) < 0)
            return PDX_ENOMEM;
        if (a->plen[p] > a->pcap[p] / 2 || a->pcap[p] == 0) {
            size_t nc = a->pcap[p] ? a->pcap[p] * 2 : 1024;
            if (nc > SIZE_MAX / sizeof(uint64_t) / (size_t)a->stride)
                return PDX_ENOMEM;
            uint64_t *np = realloc(a->part[p], nc * (size_t)a->stride * sizeof(uint64_t));
            if (np == NULL)
                return PDX_ENOMEM;
            a->part[p] = np;
            a->pcap[p] = nc;
        }
    }
    copy_words(a->part[p] + a->plen[p]++ * (size_t)a->stride, g, (size_t)a->stride);
    return PDX_OK;
}

/* Moves the table's entries into the partitions; later adds go there too. */
static int aggtab_spill(aggtab *a)
{
    for (size_t i = 0; i < a->t.nslot; i++) {
        const uint64_t *e = a->t.e + i * (size_t)a->stride;
        if (e[a->words] != 0 && part_append(a, e, key_hash(e, a->words)) < 0)
            return PDX_ENOMEM;
    }
    free(a->t.e);
    memset(&a->t, 0, sizeof(a->t));
    a->spilled = 1;
    return PDX_OK;
}

/* Counts one flow under key (a->words words). */
static int aggtab_add(aggtab *a, const uint64_t *key, uint64_t packets, uint64_t bytes)
{
    uint64_t g[KEY_WORDS + 3];
    size_t w = (size_t)a->words;
    copy_words(g, key, w);
    g[w] = 1;
    g[w + 1] = packets;
    g[w + 2] = bytes;
    uint64_t h = key_hash(key, a->words);
    if (a->spilled)
        return part_append(a, g, h);
    if ((a->t.n + 1) > a->t.nslot / 4 * 3) {
        if (a->t.n >= SPILL_AT)
            return aggtab_spill(a) < 0 ? PDX_ENOMEM : part_append(a, g, h);
        /* grow: rehash into a table twice the size */
        table nt = {NULL, 0, 0};
        if (table_reset(&nt, a->t.nslot ? a->t.nslot : 1, a->stride) < 0)
            return PDX_ENOMEM;
        for (size_t i = 0; i < a->t.nslot; i++) {
            const uint64_t *e = a->t.e + i * (size_t)a->stride;
            if (e[w] != 0)
                table_put(&nt, a->words, a->stride, e, key_hash(e, a->words));
        }
        free(a->t.e);
        a->t = nt;
    }
    table_put(&a->t, a->words, a->stride, g, h);
    return PDX_OK;
}

/* Calls cb once per distinct key with its summed entry, in no particular
 * order.  Consumes the partitions.  Returns 0, PDX_ENOMEM or cb's error. */
static int aggtab_each(aggtab *a, int (*cb)(void *ctx, const uint64_t *e), void *ctx)
{
    int rc;
    if (!a->spilled) {
        for (size_t i = 0; i < a->t.nslot; i++) {
            const uint64_t *e = a->t.e + i * (size_t)a->stride;
            if (e[a->words] != 0 && (rc = cb(ctx, e)) < 0)
                return rc;
        }
        return PDX_OK;
    }
    rc = PDX_OK;
    for (unsigned p = 0; p < NPART && rc == PDX_OK; p++) {
        if (a->plen[p] == 0)
            continue;
        if ((rc = part_compact(a, p)) < 0)
            break;
        for (size_t i = 0; i < a->plen[p] && rc == PDX_OK; i++)
            rc = cb(ctx, a->part[p] + i * (size_t)a->stride);
        free(a->part[p]);
        a->part[p] = NULL;
        a->plen[p] = a->pcap[p] = 0;
    }
    return rc;
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

/* The best `limit` entries seen (all when limit is 0).  Once full, a heap
 * with the worst at the root, so n keys cost O(n log limit). */
typedef struct topsel {
    int kind, words, by;
    size_t limit;
    pdx_topent *res;
    size_t n, cap;
    int heap;
} topsel;

static int topsel_push(void *ctx, const uint64_t *g)
{
    topsel *t = ctx;
    pdx_topent e;
    to_topent(g, t->words, t->kind, &e);
    if (t->heap) {
        if (rank_cmp(&e, &t->res[0], t->by) < 0) {
            t->res[0] = e;
            heap_down(t->res, t->n, 0, t->by);
        }
        return PDX_OK;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        if (t->limit != 0 && nc > t->limit)
            nc = t->limit;
        pdx_topent *nr = realloc(t->res, nc * sizeof(*nr));
        if (nr == NULL)
            return PDX_ENOMEM;
        t->res = nr;
        t->cap = nc;
    }
    t->res[t->n++] = e;
    if (t->limit != 0 && t->n == t->limit) {
        for (size_t j = t->n / 2; j-- > 0;)
            heap_down(t->res, t->n, j, t->by);
        t->heap = 1;
    }
    return PDX_OK;
}

/* Sorts the selection best first (heapsort). */
static void topsel_finish(topsel *t)
{
    if (!t->heap)
        for (size_t j = t->n / 2; j-- > 0;)
            heap_down(t->res, t->n, j, t->by);
    for (size_t m = t->n; m > 1; m--) {
        pdx_topent tmp = t->res[0];
        t->res[0] = t->res[m - 1];
        t->res[m - 1] = tmp;
        heap_down(t->res, m - 1, 0, t->by);
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
    topsel sel = {kind, c.t.words, by, limit, NULL, 0, 0, 0};
    int rc = scan(db, s, pdx_summary_top_sql(s, kind), top_row, &c, errbuf);
    if (rc == PDX_OK && aggtab_each(&c.t, topsel_push, &sel) < 0)
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    aggtab_free(&c.t);
    if (rc < 0) {
        free(sel.res);
        return rc;
    }
    topsel_finish(&sel);
    *out = sel.res;
    *n = sel.n;
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
    if (t < INT64_MIN + r) /* only for times no capture can hold; avoids overflow */
        return INT64_MIN;
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

typedef struct binlist {
    pdx_tsbin *b;
    size_t n, cap;
} binlist;

static int bin_push(void *ctx, const uint64_t *g)
{
    binlist *l = ctx;
    if (pdx_grow(&l->b, &l->cap, l->n + 1, sizeof(*l->b)) < 0)
        return PDX_ENOMEM;
    l->b[l->n].start_ns = (int64_t)g[0];
    l->b[l->n].flows = g[1];
    l->b[l->n].packets = g[2];
    l->b[l->n].bytes = g[3];
    l->n++;
    return PDX_OK;
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
    binlist l = {NULL, 0, 0};
    int rc = scan(db, s, pdx_summary_timeseries_sql(s), ts_row, &c, errbuf);
    if (rc == PDX_OK && aggtab_each(&c.t, bin_push, &l) < 0)
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    aggtab_free(&c.t);
    if (rc < 0) {
        free(l.b);
        return rc;
    }
    if (l.n > 1)
        qsort(l.b, l.n, sizeof(*l.b), bin_cmp);
    *out = l.b;
    *n = l.n;
    return PDX_OK;
}
