/* summary.c - top-N lists and time series over the selected flows, from the index alone. */
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "varint.h"

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
/* Rollups (below) sum deltas whose flow count may be 0; their entries carry
 * this bit in the flow count so that a slot in use never reads as empty. */
#define IN_USE (1ull << 63)
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
    /* malloc and memset, not calloc: a large calloc returns fresh pages
     * that the kernel maps to its shared zero page, so table_put's first
     * read and then write of each page costs a copy-on-write fault, and
     * with threads running a TLB flush on every core. */
    if (ns != t->nslot) {
        uint64_t *e = malloc(ns * (size_t)stride * sizeof(uint64_t));
        if (e == NULL)
            return PDX_ENOMEM;
        free(t->e);
        t->e = e;
        t->nslot = ns;
    }
    memset(t->e, 0, ns * (size_t)stride * sizeof(uint64_t));
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
            e[w] += g[w] & ~IN_USE;
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

/* Counts flows (1 for a flow of the index; IN_USE | n for a rollup delta)
 * under key (a->words words). */
static int aggtab_put_hashed(aggtab *a, const uint64_t *key, uint64_t h, uint64_t flows,
                             uint64_t packets, uint64_t bytes)
{
    uint64_t g[KEY_WORDS + 3];
    size_t w = (size_t)a->words;
    copy_words(g, key, w);
    g[w] = flows;
    g[w + 1] = packets;
    g[w + 2] = bytes;
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

static int aggtab_put(aggtab *a, const uint64_t *key, uint64_t flows, uint64_t packets, uint64_t bytes)
{
    return aggtab_put_hashed(a, key, key_hash(key, a->words), flows, packets, bytes);
}

static int aggtab_add(aggtab *a, const uint64_t *key, uint64_t packets, uint64_t bytes)
{
    return aggtab_put(a, key, 1, packets, bytes);
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

static int rollups_usable(sqlite3 *db, const pdx_select *s, int kind);
static char *rollup_sql(int kind);

char *pdx_summary_top_sql(const pdx_select *s, int kind, int from_rollups)
{
    if (from_rollups && kind >= 0 && kind < PDX_TOP_NKINDS)
        return rollup_sql(kind);
    switch (kind) {
    case PDX_TOP_SRC:
    case PDX_TOP_DST:
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

/* Prepares sql (which it frees), binds the selection (none when s is
 * NULL), and feeds every row to cb. */
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
    if (s != NULL && pdx_select_bind(s, st, 1) < 0) {
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

/* ---- keys ---------------------------------------------------------------------- */

/*
 * What a top-N list counts a flow under, for both ways of answering it
 * (reading the flows, and the rollups the indexer wrote).  A key is a byte
 * string compared with memcmp: an address (16 bytes), a pair (32), a port
 * (2, big-endian), a protocol (3: 0, proto, 0 for IP; 1 and the big-endian
 * ethertype for a non-IP flow).  In the aggregation tables it sits in the
 * first bytes of its zeroed key words.
 */
static const int key_len[PDX_TOP_NKINDS] = {16, 16, 16, 2, 32, 3};
static const char *const kind_names[PDX_TOP_NKINDS] = {"src", "dst", "host", "port", "pair", "proto"};

static int key_words(int kind)
{
    return (key_len[kind] + 7) / 8;
}

/* The keys one flow counts under: at most 7 over all kinds (host twice). */
typedef struct flow_keys {
    int n;
    int kind[7];
    uint64_t w[7][KEY_WORDS]; /* the key bytes, zero-padded */
    uint64_t h[7];
} flow_keys;

static void key_push(flow_keys *k, int kind, const void *bytes)
{
    memset(k->w[k->n], 0, sizeof(k->w[k->n]));
    memcpy(k->w[k->n], bytes, (size_t)key_len[kind]);
    k->kind[k->n++] = kind;
}

/* Fills k with the keys of kind (or of every kind, -1) for a flow: IP or
 * not, its addresses (initiator first; unused for a non-IP flow), protocol,
 * responder port (-1 when it has none) and ethertype. */
static void keys_of(flow_keys *k, int kind, int ip, const uint8_t *src, const uint8_t *dst, int proto,
                    int dport, int ethertype)
{
    uint8_t b[32];
    k->n = 0;
#define WANT(x) (kind < 0 || kind == (x))
    if (ip) {
        if (WANT(PDX_TOP_SRC))
            key_push(k, PDX_TOP_SRC, src);
        if (WANT(PDX_TOP_DST))
            key_push(k, PDX_TOP_DST, dst);
        if (WANT(PDX_TOP_HOST)) {
            key_push(k, PDX_TOP_HOST, src);
            if (memcmp(src, dst, 16) != 0)
                key_push(k, PDX_TOP_HOST, dst);
        }
        if (WANT(PDX_TOP_PAIR)) {
            memcpy(b, src, 16);
            memcpy(b + 16, dst, 16);
            key_push(k, PDX_TOP_PAIR, b);
        }
        /* Ports mean ports for TCP, UDP and SCTP only, as in the filter. */
        if (WANT(PDX_TOP_PORT) && dport >= 0 && (proto == 6 || proto == 17 || proto == 132)) {
            b[0] = (uint8_t)(dport >> 8);
            b[1] = (uint8_t)dport;
            key_push(k, PDX_TOP_PORT, b);
        }
        b[0] = 0;
        b[1] = (uint8_t)proto;
        b[2] = 0;
    } else {
        b[0] = 1;
        b[1] = (uint8_t)(ethertype >> 8);
        b[2] = (uint8_t)ethertype;
    }
    if (WANT(PDX_TOP_PROTO))
        key_push(k, PDX_TOP_PROTO, b);
#undef WANT
}

/* An aggregated entry (key words, then flows, packets, bytes) as a
 * pdx_topent. */
static void to_topent(const uint64_t *g, int words, int kind, pdx_topent *e)
{
    const uint8_t *key = (const uint8_t *)g;
    memset(e, 0, sizeof(*e));
    switch (kind) {
    case PDX_TOP_PAIR: memcpy(e->b, key + 16, 16); /* fall through */
    case PDX_TOP_SRC:
    case PDX_TOP_DST:
    case PDX_TOP_HOST: memcpy(e->a, key, 16); break;
    case PDX_TOP_PORT: e->port = key[0] << 8 | key[1]; break;
    default:
        if (key[0] == 0) {
            e->proto = key[1];
        } else {
            e->proto = -1;
            e->ethertype = key[1] << 8 | key[2];
        }
        break;
    }
    e->flows = g[words] & ~IN_USE;
    e->packets = g[words + 1];
    e->bytes = g[words + 2];
}

/* ---- top-N ------------------------------------------------------------------- */

typedef struct topctx {
    aggtab t;
    int kind;
} topctx;

/* Counts the row (its columns as pdx_summary_top_sql selects them) under
 * each of its keys of the context's kind. */
static int top_row(void *vctx, sqlite3_stmt *st, char *errbuf)
{
    topctx *c = vctx;
    uint64_t packets = 0, bytes = 0, a[2][2];
    int rc = row_counts(st, &packets, &bytes, errbuf);
    if (rc < 0)
        return rc;
    flow_keys k;
    switch (c->kind) {
    case PDX_TOP_SRC:
    case PDX_TOP_DST:
    case PDX_TOP_HOST:
    case PDX_TOP_PAIR:
        if ((rc = addr_col(st, 0, a[0], errbuf)) <= 0 || (rc = addr_col(st, 1, a[1], errbuf)) <= 0)
            return rc; /* a non-IP flow (0) or a corrupt row */
        keys_of(&k, c->kind, 1, (const uint8_t *)a[0], (const uint8_t *)a[1], 0, -1, 0);
        break;
    case PDX_TOP_PORT:
        keys_of(&k, c->kind, 1, NULL, NULL, sqlite3_column_int(st, 1),
                sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 0) & 0xffff, 0);
        break;
    case PDX_TOP_PROTO:
        keys_of(&k, c->kind, sqlite3_column_type(st, 0) != SQLITE_NULL, NULL, NULL,
                sqlite3_column_int(st, 0), -1, sqlite3_column_int(st, 1));
        break;
    default: return pdx_errf(errbuf, PDX_EUSAGE, "unknown summary kind");
    }
    for (int i = 0; i < k.n; i++)
        if ((rc = aggtab_add(&c->t, k.w[i], packets, bytes)) < 0)
            return pdx_errf(errbuf, rc, "out of memory");
    return PDX_OK;
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

static int topsel_add(topsel *t, const pdx_topent *ep)
{
    pdx_topent e = *ep;
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

static int topsel_push(void *ctx, const uint64_t *g)
{
    topsel *t = ctx;
    pdx_topent e;
    to_topent(g, t->words, t->kind, &e);
    return topsel_add(t, &e);
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

/* ---- rollups ----------------------------------------------------------------- */

/*
 * The indexer sums, per capture, what every flow row it writes adds to each
 * top-N key (pdx_rollup_add) and stores the sums as runs sorted by key in
 * the rollups table.  An unfiltered --top then merges the runs instead of
 * reading every flow: the sums over all runs equal the sums over all flows.
 * The keys are the ones keys_of() gives the flow scan.
 */

#define ROLLUP_MAXKEY 32
/* One entry's most bytes: shared length, key, three varints. */
#define ROLLUP_ENTRY_MAX (1 + ROLLUP_MAXKEY + 3 * PDX_VARINT_MAX)
/* No run is decoded to more than this (a bound for corrupt rows). */
#define ROLLUP_RAW_MAX (256u << 20)

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

const char *pdx_rollup_kind_name(int kind)
{
    return kind >= 0 && kind < PDX_TOP_NKINDS ? kind_names[kind] : NULL;
}

/* A sort item: the key as big-endian words, which compare as its bytes. */
typedef struct sortent {
    uint64_t k[KEY_WORDS];
    const uint64_t *e;
} sortent;

/*
 * Sorts n items by their first nw key words (LSD radix sort, a byte per
 * pass, through tmp).  One counting pass gives every byte's histogram, and
 * a byte that is the same in every item (most bytes of IPv4-mapped
 * addresses) costs no pass; a run of IPv4 keys takes four.  Returns the
 * array (a or tmp) that holds the result.
 */
static sortent *radix_sort(sortent *a, sortent *tmp, size_t n, int nw)
{
    static const size_t nb = 8 * KEY_WORDS;
    size_t (*count)[256] = calloc(nb, sizeof(*count));
    if (count == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        for (int w = 0; w < nw; w++)
            for (int b = 0; b < 8; b++)
                count[w * 8 + b][(a[i].k[w] >> (8 * b)) & 255]++;
    for (int w = nw - 1; w >= 0; w--) {
        for (int b = 0; b < 8; b++) {
            size_t *c = count[w * 8 + b];
            unsigned v = (unsigned)((n ? a[0].k[w] >> (8 * b) : 0) & 255);
            if (c[v] == n)
                continue;
            size_t pos = 0;
            for (int j = 0; j < 256; j++) {
                size_t t = c[j];
                c[j] = pos;
                pos += t;
            }
            for (size_t i = 0; i < n; i++)
                tmp[c[(a[i].k[w] >> (8 * b)) & 255]++] = a[i];
            sortent *x = a;
            a = tmp;
            tmp = x;
        }
    }
    free(count);
    return a;
}

struct pdx_rollup {
    aggtab t[PDX_TOP_NKINDS];
    uint32_t seq[PDX_TOP_NKINDS]; /* runs handed out so far, per kind */
    sortent *ent, *ent2;          /* sort scratch */
    size_t entcap, ent2cap;
    uint8_t *raw, *z;
    size_t rawcap, zcap;
    ZSTD_CCtx *zctx;
};

pdx_rollup *pdx_rollup_new(void)
{
    pdx_rollup *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    for (int k = 0; k < PDX_TOP_NKINDS; k++)
        aggtab_init(&r->t[k], key_words(k));
    return r;
}

/* Empties kind's table, keeping its slots for the next keys. */
static void rollup_clear(pdx_rollup *r, int kind)
{
    table *t = &r->t[kind].t;
    if (t->e != NULL)
        memset(t->e, 0, t->nslot * (size_t)r->t[kind].stride * sizeof(uint64_t));
    t->n = 0;
}

/* Between captures the tables go: one capture's many keys must not make
 * every later capture clear and scan a table sized for them. */
void pdx_rollup_reset(pdx_rollup *r)
{
    for (int k = 0; k < PDX_TOP_NKINDS; k++) {
        aggtab_free(&r->t[k]);
        r->seq[k] = 0;
    }
}

void pdx_rollup_set_seq(pdx_rollup *r, int kind, uint32_t seq)
{
    if (kind >= 0 && kind < PDX_TOP_NKINDS)
        r->seq[kind] = seq;
}

void pdx_rollup_free(pdx_rollup *r)
{
    if (r == NULL)
        return;
    for (int k = 0; k < PDX_TOP_NKINDS; k++)
        aggtab_free(&r->t[k]);
    free(r->ent);
    free(r->ent2);
    free(r->raw);
    free(r->z);
    ZSTD_freeCCtx(r->zctx);
    free(r);
}

int pdx_rollup_add(pdx_rollup *r, const pdx_flow *f, uint64_t flows, uint64_t packets, uint64_t bytes)
{
    flow_keys k;
    keys_of(&k, -1, f->kind != PDX_KIND_L2, f->src, f->dst, f->proto,
            f->proto == 6 || f->proto == 17 || f->proto == 132 ? f->dport : -1, f->ethertype);
    /* The tables outgrow the caches: ask for every slot first, so that the
     * misses overlap instead of coming one after another. */
    for (int i = 0; i < k.n; i++) {
        const aggtab *a = &r->t[k.kind[i]];
        k.h[i] = key_hash(k.w[i], a->words);
        if (a->t.nslot != 0)
            __builtin_prefetch(a->t.e + (k.h[i] & (a->t.nslot - 1)) * (size_t)a->stride, 1);
    }
    int full = 0;
    for (int i = 0; i < k.n; i++) {
        aggtab *a = &r->t[k.kind[i]];
        if (aggtab_put_hashed(a, k.w[i], k.h[i], IN_USE | flows, packets, bytes) < 0)
            return PDX_ENOMEM;
        full |= a->t.n >= PDX_ROLLUP_FLUSH_AT;
    }
    return full;
}

/* Sorts kind's entries by key, encodes them as a run and hands it to put;
 * empties the kind's table. */
static int rollup_emit(pdx_rollup *r, int kind, int (*put)(void *ctx, const pdx_rollup_run *run),
                       void *ctx)
{
    aggtab *a = &r->t[kind];
    size_t n = a->t.n, w = (size_t)a->words, klen = (size_t)key_len[kind];
    if (pdx_grow(&r->ent, &r->entcap, n ? n : 1, sizeof(*r->ent)) < 0 ||
        pdx_grow(&r->ent2, &r->ent2cap, n ? n : 1, sizeof(*r->ent2)) < 0)
        return PDX_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < a->t.nslot; i++) {
        const uint64_t *e = a->t.e + i * (size_t)a->stride;
        if (e[w] != 0) {
            const uint8_t *kb = (const uint8_t *)e;
            for (size_t j = 0; j < w; j++)
                r->ent[m].k[j] = load_be64(kb + 8 * j);
            r->ent[m++].e = e;
        }
    }
    const sortent *sorted = radix_sort(r->ent, r->ent2, m, (int)w);
    if (sorted == NULL)
        return PDX_ENOMEM;
    uint8_t prev[ROLLUP_MAXKEY] = {0};
    size_t len = 0;
    for (size_t i = 0; i < m; i++) {
        if (pdx_grow(&r->raw, &r->rawcap, len + ROLLUP_ENTRY_MAX, 1) < 0)
            return PDX_ENOMEM;
        uint8_t *p = r->raw + len;
        const uint64_t *e = sorted[i].e;
        const uint8_t *key = (const uint8_t *)e;
        size_t sh = 0;
        while (sh < klen && key[sh] == prev[sh])
            sh++;
        *p++ = (uint8_t)sh;
        memcpy(p, key + sh, klen - sh);
        p += klen - sh;
        p += pdx_varint_put(p, e[w] & ~IN_USE);
        p += pdx_varint_put(p, e[w + 1]);
        p += pdx_varint_put(p, e[w + 2]);
        memcpy(prev, key, klen);
        len = (size_t)(p - r->raw);
    }
    if (r->zctx == NULL && (r->zctx = ZSTD_createCCtx()) == NULL)
        return PDX_ENOMEM;
    pdx_rollup_run run = {kind, r->seq[kind], m, 0, NULL, 0};
    run.encoding = pdx_offsets_encode(r->zctx, r->raw, len, &r->z, &r->zcap, &run.data, &run.len);
    if (run.encoding < 0)
        return PDX_ENOMEM;
    int rc = put(ctx, &run);
    if (rc < 0)
        return rc;
    r->seq[kind]++;
    return PDX_OK;
}

int pdx_rollup_flush(pdx_rollup *r, int final, int (*put)(void *ctx, const pdx_rollup_run *run),
                     void *ctx)
{
    for (int k = 0; k < PDX_TOP_NKINDS; k++) {
        size_t n = r->t[k].t.n;
        if (n >= PDX_ROLLUP_FLUSH_AT || (final && (n > 0 || r->seq[k] == 0))) {
            int rc = rollup_emit(r, k, put, ctx);
            if (rc < 0)
                return rc;
            if (!final) /* the same capture goes on: keep the slots */
                rollup_clear(r, k);
        }
    }
    if (final)
        pdx_rollup_reset(r);
    return PDX_OK;
}

/* ---- reading the rollups ----------------------------------------------------- */

/* One run being merged: its decoded bytes and the entry under the cursor. */
typedef struct rcur {
    uint8_t *mem;
    const uint8_t *p, *end;
    uint64_t left, keys; /* entries not yet read, and in all */
    uint8_t key[ROLLUP_MAXKEY];
    uint64_t kw[ROLLUP_MAXKEY / 8]; /* key as big-endian words: compares as the bytes */
    uint64_t c[3];
} rcur;

/* Negative, 0 or positive as x's key sorts before, with or after y's. */
static int kw_cmp(const uint64_t *x, const uint64_t *y, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* Reads the next entry; 1 when read, 0 at the end, PDX_EDB when corrupt. */
static int rcur_next(rcur *c, size_t klen)
{
    if (c->left == 0)
        return c->p == c->end ? 0 : PDX_EDB;
    if (c->p >= c->end)
        return PDX_EDB;
    size_t sh = *c->p++;
    if (sh > klen || (size_t)(c->end - c->p) < klen - sh)
        return PDX_EDB;
    uint64_t prev[ROLLUP_MAXKEY / 8];
    size_t nw = (klen + 7) / 8;
    memcpy(prev, c->kw, sizeof(prev));
    memcpy(c->key + sh, c->p, klen - sh);
    c->p += klen - sh;
    for (size_t i = sh / 8; i < nw; i++)
        c->kw[i] = load_be64(c->key + 8 * i);
    /* Keys strictly increase. */
    if (c->left != c->keys && kw_cmp(c->kw, prev, nw) <= 0)
        return PDX_EDB;
    for (int i = 0; i < 3; i++)
        if (pdx_varint_get(&c->p, c->end, &c->c[i]) < 0)
            return PDX_EDB;
    c->left--;
    return 1;
}

static int rcur_less(const rcur *x, const rcur *y, size_t klen)
{
    return kw_cmp(x->kw, y->kw, (klen + 7) / 8) < 0;
}

static void rheap_down(rcur **h, size_t n, size_t i, size_t klen)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && rcur_less(h[l], h[m], klen))
            m = l;
        if (r < n && rcur_less(h[r], h[m], klen))
            m = r;
        if (m == i)
            return;
        rcur *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

#define ROLLUP_SQL "SELECT keys, encoding, data FROM rollups WHERE kind = '%s'"
#define ROLLUP_COVER_SQL                                                                 \
    "SELECT NOT EXISTS (SELECT 1 FROM captures c WHERE NOT EXISTS"                       \
    " (SELECT 1 FROM rollups r WHERE r.kind = ?1 AND r.capture_id = c.id))"

static char *rollup_sql(int kind)
{
    char *sql = malloc(sizeof(ROLLUP_SQL) + 8);
    if (sql != NULL)
        snprintf(sql, sizeof(ROLLUP_SQL) + 8, ROLLUP_SQL, kind_names[kind]);
    return sql;
}

int pdx_summary_top_rollups(sqlite3 *db, const pdx_select *s, int kind)
{
    return kind >= 0 && kind < PDX_TOP_NKINDS && rollups_usable(db, s, kind);
}

/* 1 when every capture has runs of kind (an index written before rollups
 * existed has none), else 0.  The rollups answer kind for s when they
 * cover it and s has no filter and no window; otherwise the flows are read. */
static int rollups_cover(sqlite3 *db, int kind)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;
    if (sqlite3_prepare_v2(db, ROLLUP_COVER_SQL, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, kind_names[kind], -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    }
    sqlite3_finalize(st);
    return ok;
}

static int rollups_usable(sqlite3 *db, const pdx_select *s, int kind)
{
    return db != NULL && pdx_select_is_all(s) && rollups_cover(db, kind);
}

/* Opens a stored run (keys entries, encoding enc, blob of len bytes) in c,
 * decoded into memory c owns.  0, PDX_EDB when it cannot be a run, or
 * PDX_ENOMEM. */
static int rcur_open(rcur *c, int64_t keys, int enc, const void *blob, size_t len)
{
    uint64_t raw = len;
    memset(c, 0, sizeof(*c));
    if (keys < 0 || (uint64_t)keys > ROLLUP_RAW_MAX / 4 || (len > 0 && blob == NULL))
        return PDX_EDB;
    if (enc == PDX_OFFS_ZSTD) {
        unsigned long long n = ZSTD_getFrameContentSize(blob, len);
        if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
            return PDX_EDB;
        raw = n;
    } else if (enc != PDX_OFFS_VARINT) {
        return PDX_EDB;
    }
    /* Each entry takes 4 to ROLLUP_ENTRY_MAX bytes. */
    if (raw > ROLLUP_RAW_MAX || raw < (uint64_t)keys * 4 || raw > (uint64_t)keys * ROLLUP_ENTRY_MAX)
        return PDX_EDB;
    if ((c->mem = malloc(raw ? (size_t)raw : 1)) == NULL)
        return PDX_ENOMEM;
    if (enc == PDX_OFFS_ZSTD) {
        size_t got = ZSTD_decompress(c->mem, (size_t)raw, blob, len);
        if (ZSTD_isError(got) || got != raw) {
            free(c->mem);
            c->mem = NULL;
            return PDX_EDB;
        }
    } else if (raw > 0) {
        memcpy(c->mem, blob, (size_t)raw);
    }
    c->p = c->mem;
    c->end = c->mem + raw;
    c->left = c->keys = (uint64_t)keys;
    return PDX_OK;
}

int pdx_rollup_decode(int kind, int64_t keys, int encoding, const void *data, size_t len,
                      int (*cb)(void *ctx, const uint8_t *key, size_t klen, const uint64_t c[3]),
                      void *ctx)
{
    if (kind < 0 || kind >= PDX_TOP_NKINDS)
        return PDX_EUSAGE;
    size_t klen = (size_t)key_len[kind];
    rcur c;
    int rc = rcur_open(&c, keys, encoding, data, len);
    while (rc == PDX_OK && (rc = rcur_next(&c, klen)) == 1)
        rc = cb != NULL ? cb(ctx, c.key, klen, c.c) : PDX_OK;
    free(c.mem);
    return rc;
}

/* Calls cb with every stored run of kind, opened in a cursor that cb then
 * owns (it frees c->mem).  0, cb's negative code, or PDX_EDB / PDX_ENOMEM
 * with errbuf. */
static int each_run(sqlite3 *db, int kind, int (*cb)(void *ctx, rcur *c, char *errbuf), void *ctx,
                    char *errbuf)
{
    char *sql = rollup_sql(kind);
    sqlite3_stmt *st = NULL;
    int rc;
    if (sql == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = pdx_errf(errbuf, PDX_EDB, "reading the rollups: %s", sqlite3_errmsg(db));
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rcur c;
        rc = rcur_open(&c, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                       sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
        if (rc == PDX_ENOMEM)
            rc = pdx_errf(errbuf, rc, "out of memory");
        else if (rc < 0)
            rc = pdx_errf(errbuf, PDX_EDB, "a %s rollup run is corrupt", kind_names[kind]);
        else
            rc = cb(ctx, &c, errbuf);
        if (rc < 0)
            goto out;
    }
    rc = rc == SQLITE_DONE ? PDX_OK : pdx_errf(errbuf, PDX_EDB, "reading the rollups: %s", sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    free(sql);
    return rc;
}

/* Runs being merged. */
typedef struct rcurs {
    rcur *cur;
    size_t n, cap;
} rcurs;

static int keep_run(void *ctx, rcur *c, char *errbuf)
{
    rcurs *rs = ctx;
    if (pdx_grow(&rs->cur, &rs->cap, rs->n + 1, sizeof(*rs->cur)) < 0) {
        free(c->mem);
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    }
    rs->cur[rs->n++] = *c;
    return PDX_OK;
}

/* The top list of kind from the rollups: every run merged by key. */
static int top_from_rollups(sqlite3 *db, int kind, topsel *sel, char *errbuf)
{
    size_t klen = (size_t)key_len[kind];
    rcurs rs = {NULL, 0, 0};
    int rc = each_run(db, kind, keep_run, &rs, errbuf);
    rcur *cur = rs.cur, **heap = NULL;
    size_t n = rs.n, hn = 0;
    if (rc < 0)
        goto out;
    if ((heap = malloc((n ? n : 1) * sizeof(*heap))) == NULL) {
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = rcur_next(&cur[i], klen)) < 0)
            goto corrupt;
        if (rc == 1)
            heap[hn++] = &cur[i];
    }
    for (size_t j = hn / 2; j-- > 0;)
        rheap_down(heap, hn, j, klen);
    while (hn > 0) {
        uint8_t key[ROLLUP_MAXKEY];
        uint64_t kw[ROLLUP_MAXKEY / 8], sum[3] = {0, 0, 0};
        memcpy(key, heap[0]->key, klen);
        memcpy(kw, heap[0]->kw, sizeof(kw));
        while (hn > 0 && kw_cmp(heap[0]->kw, kw, (klen + 7) / 8) == 0) {
            rcur *c = heap[0];
            for (int i = 0; i < 3; i++)
                if (__builtin_add_overflow(sum[i], c->c[i], &sum[i]))
                    goto corrupt;
            if ((rc = rcur_next(c, klen)) < 0)
                goto corrupt;
            if (rc == 0)
                heap[0] = heap[--hn];
            rheap_down(heap, hn, 0, klen);
        }
        if (sum[0] == 0 && sum[1] == 0)
            continue;
        uint64_t g[KEY_WORDS + 3] = {0, 0, 0, 0, 0, 0, 0};
        memcpy(g, key, klen);
        memcpy(g + key_words(kind), sum, sizeof(sum));
        pdx_topent e;
        to_topent(g, key_words(kind), kind, &e);
        if (topsel_add(sel, &e) < 0) {
            rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = PDX_OK;
    goto out;
corrupt:
    rc = pdx_errf(errbuf, PDX_EDB, "a %s rollup run is corrupt", kind_names[kind]);
out:
    for (size_t i = 0; i < n; i++)
        free(cur[i].mem);
    free(cur);
    free(heap);
    return rc;
}

/* ---- checking the rollups against the flows ------------------------------------ */

/*
 * For each kind, sum hash(key) * flows, hash(key) * packets and
 * hash(key) * bytes (mod 2^64) over every entry of every run, and the same
 * over every key of every flow.  The sums are linear in the counts, so a key
 * cut into several runs adds up as one, and no aggregation is needed: the
 * two sides agree exactly when the rollups are the flows' sums (up to a
 * 64-bit collision).
 */
typedef struct checksum {
    uint64_t s[PDX_TOP_NKINDS][3];
} checksum;

static void checksum_add(checksum *c, int kind, const uint64_t *w, uint64_t flows, uint64_t packets,
                         uint64_t bytes)
{
    uint64_t h = key_hash(w, key_words(kind)) | 1;
    c->s[kind][0] += h * flows;
    c->s[kind][1] += h * packets;
    c->s[kind][2] += h * bytes;
}

static int check_flow(void *ctx, sqlite3_stmt *st, char *errbuf)
{
    checksum *c = ctx;
    uint64_t packets = 0, bytes = 0, a[2][2] = {{0, 0}, {0, 0}};
    int rc = row_counts(st, &packets, &bytes, errbuf);
    if (rc < 0)
        return rc;
    int ip = sqlite3_column_type(st, 4) != SQLITE_NULL;
    if (ip && ((rc = addr_col(st, 0, a[0], errbuf)) <= 0 || (rc = addr_col(st, 1, a[1], errbuf)) <= 0))
        return rc < 0 ? rc : pdx_errf(errbuf, PDX_EDB, "an IP flow has no addresses: the index is corrupt");
    int proto = sqlite3_column_int(st, 4);
    flow_keys k;
    keys_of(&k, -1, ip, (const uint8_t *)a[0], (const uint8_t *)a[1], proto,
            sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5) & 0xffff,
            sqlite3_column_int(st, 6));
    for (int i = 0; i < k.n; i++)
        checksum_add(c, k.kind[i], k.w[i], 1, packets, bytes);
    return PDX_OK;
}

/* Adds a run's entries to the checksum, and frees it. */
typedef struct run_sum {
    checksum *c;
    int kind;
} run_sum;

static int sum_run(void *ctx, rcur *c, char *errbuf)
{
    run_sum *r = ctx;
    size_t klen = (size_t)key_len[r->kind];
    int rc;
    while ((rc = rcur_next(c, klen)) == 1) {
        uint64_t w[KEY_WORDS] = {0, 0, 0, 0};
        memcpy(w, c->key, klen);
        checksum_add(r->c, r->kind, w, c->c[0], c->c[1], c->c[2]);
    }
    free(c->mem);
    return rc < 0 ? pdx_errf(errbuf, PDX_EDB, "a %s rollup run is corrupt", kind_names[r->kind]) : PDX_OK;
}

int pdx_rollup_check(sqlite3 *db, int *bad_kind, char *errbuf)
{
    checksum fl, ru;
    memset(&fl, 0, sizeof(fl));
    memset(&ru, 0, sizeof(ru));
    *bad_kind = -1;
    for (int kind = 0; kind < PDX_TOP_NKINDS; kind++)
        if (!rollups_cover(db, kind))
            return 0;
    int rc = scan(db, NULL,
                  strdup("SELECT src_ip, dst_ip, src_packets + dst_packets, src_bytes + dst_bytes,"
                         " proto, dst_port, ethertype FROM flows"),
                  check_flow, &fl, errbuf);
    if (rc < 0)
        return rc;
    for (int kind = 0; kind < PDX_TOP_NKINDS; kind++) {
        run_sum rsum = {&ru, kind};
        if ((rc = each_run(db, kind, sum_run, &rsum, errbuf)) < 0)
            return rc;
        if (memcmp(fl.s[kind], ru.s[kind], sizeof(fl.s[kind])) != 0) {
            *bad_kind = kind;
            return 2;
        }
    }
    return 1;
}

int pdx_summary_top(sqlite3 *db, const pdx_select *s, int kind, int by, size_t limit,
                    pdx_topent **out, size_t *n, char *errbuf)
{
    if (kind < PDX_TOP_SRC || kind > PDX_TOP_PROTO || by < PDX_BY_FLOWS || by > PDX_BY_BYTES)
        return pdx_errf(errbuf, PDX_EUSAGE, "unknown summary kind");
    topctx c;
    memset(&c, 0, sizeof(c));
    c.kind = kind;
    aggtab_init(&c.t, key_words(kind));
    topsel sel = {kind, c.t.words, by, limit, NULL, 0, 0, 0};
    int rc;
    if (rollups_usable(db, s, kind)) {
        rc = top_from_rollups(db, kind, &sel, errbuf);
    } else {
        rc = scan(db, s, pdx_summary_top_sql(s, kind, 0), top_row, &c, errbuf);
        if (rc == PDX_OK && aggtab_each(&c.t, topsel_push, &sel) < 0)
            rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    }
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
