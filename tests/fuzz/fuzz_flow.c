/*
 * fuzz_flow.c - libFuzzer target: flow assembly (pdx_flowtab) over a
 * sequence of decoded frames, checked against itself four ways.
 *
 * Input: one byte of configuration, then records of a 5-byte header and a
 * frame:
 *   config   bits 0-2: offset segment size, 32 << n bytes;
 *            bits 3-4: idle timeout, (1 + n) * 8 s (closing linger 2 s)
 *            bit 5: time steps are signed (h[1] as int8_t): records may go
 *            back in time, as in captures whose timestamps are out of order
 *   h[0]     bits 0-3: link type (fuzz_links); bit 4: a new capture starts
 *            here; bit 5: a new indexing run starts here (and a capture);
 *            bits 6-7: unit of the time step (1 us, 1 ms, 100 ms, 1 s)
 *   h[1]     time step since the previous record, in that unit
 *   h[2..3]  frame length, little-endian (cut to what is left)
 *   h[4]     bytes the wire had past the captured ones
 * Record i sits at offset 24 + 64 i.  Without config bit 5, times never go
 * backwards; with it, a flow's first packet may come after others of it, so
 * its first_ns moves earlier after its row was stored (the full rewrite of
 * a stored row, not just its counters).
 *
 * The same records are assigned to flows
 *   A  as one capture, through pdx_flowtab_packet (the key from pdx_flow_key);
 *   K  as one capture, with no key handed in (the table builds its own);
 *   B  cut into the input's captures, in one table;
 *   C  cut into captures and runs: at a run's end the table is dropped and
 *      a new one takes up the flows still live, from rows that hold what
 *      the index stores of them (lib/index.c writes and pdx_index_load_live
 *      reads), in the order it reads them, with IDs from the largest stored.
 * Each must file every record under exactly one flow, once, in segments
 * numbered 0, 1, ... per flow and capture, with offsets that increase; the
 * last row written of each flow must count exactly its records (packets,
 * wire bytes, first and last time).  K and B must give each record the same
 * flow ID as A: a flow that crosses captures is one flow with the same
 * packets (docs/schema.md).  So must C, unless a fragment is among the
 * records: which flow a later fragment joins is not carried from run to run;
 * or unless time goes backwards: the idle lists are in order of use, which
 * a later run, taking flows up in order of their last packet's time, cannot
 * rebuild when the two differ (docs/schema.md).
 */
#include "flow.h"
#include "fuzz_common.h"
#include "varint.h"

#define MAX_RECS 2048
#define REC_STRIDE 64u
#define REC_BASE 24u

static const uint32_t fuzz_links[16] = {
    1, 101, 228, 229, 113, 276, 0, 12, 14, 108, 9, 50, 104, 105, 239, 147,
};

typedef struct rec {
    const uint8_t *frame;
    uint32_t len, wirelen, linktype;
    int64_t ts;
    uint8_t new_capture, new_run;
} rec;

/* A row as the index holds it: what pdx_index_load_live gives back. */
typedef struct row {
    pdx_flow f;
    int used;
} row;

typedef struct run_state {
    const rec *recs;
    size_t n;
    int64_t flow_of[MAX_RECS];  /* flow ID per record, -1 while unfiled */
    row *rows;                  /* by flow ID */
    size_t nrows;
    /* segments seen, for the numbering check: (flow, capture) -> next seg */
    struct segkey { int64_t flow, capture; uint32_t next; uint64_t last_off; } *segs;
    size_t nsegs, capsegs;
} run_state;

static struct segkey *seg_slot(run_state *s, int64_t flow, int64_t capture)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].flow == flow && s->segs[i].capture == capture)
            return &s->segs[i];
    if (s->nsegs == s->capsegs) {
        s->capsegs = s->capsegs ? s->capsegs * 2 : 64;
        s->segs = realloc(s->segs, s->capsegs * sizeof(*s->segs));
        FUZZ_CHECK(s->segs != NULL);
    }
    struct segkey *k = &s->segs[s->nsegs++];
    k->flow = flow;
    k->capture = capture;
    k->next = 0;
    k->last_off = 0;
    return k;
}

static int put_segment(void *ctx, const pdx_flow *f)
{
    run_state *s = ctx;
    uint64_t offs[4096];
    FUZZ_CHECK(f->ocount > 0 && f->ocount <= PDX_ARRAY_LEN(offs));
    FUZZ_CHECK(pdx_offsets_decode(PDX_OFFS_VARINT, f->obuf, f->olen, f->ocount, offs) == 0);
    FUZZ_CHECK_EQ(offs[0], f->ofirst);
    FUZZ_CHECK_EQ(offs[f->ocount - 1], f->olast);
    struct segkey *k = seg_slot(s, f->id, f->cur_capture);
    FUZZ_CHECK_EQ(f->seg, k->next);
    k->next++;
    for (uint64_t i = 0; i < f->ocount; i++) {
        FUZZ_CHECK(offs[i] > k->last_off);
        k->last_off = offs[i];
        FUZZ_CHECK(offs[i] >= REC_BASE && (offs[i] - REC_BASE) % REC_STRIDE == 0);
        uint64_t r = (offs[i] - REC_BASE) / REC_STRIDE;
        FUZZ_CHECK(r < s->n);
        if (s->flow_of[r] != -1) {
            fprintf(stderr, "record %llu filed twice: flows %lld and %lld\n",
                    (unsigned long long)r, (long long)s->flow_of[r], (long long)f->id);
            FUZZ_CHECK(s->flow_of[r] == -1);
        }
        s->flow_of[r] = f->id;
    }
    return 0;
}

static int is_ported(int proto)
{
    return proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
}

/* The columns lib/index.c's update_counts writes. */
static void copy_counts(pdx_flow *d, const pdx_flow *f)
{
    d->last_ns = f->last_ns;
    memcpy(d->pk, f->pk, sizeof(d->pk));
    memcpy(d->by, f->by, sizeof(d->by));
    d->tcp_flags = f->tcp_flags;
    d->end_reason = f->end_reason;
    d->state = f->state;
    d->last_capture = f->last_capture;
}

/* What a later run reads back of f: the columns lib/index.c writes, turned
 * back into a pdx_flow the way pdx_index_load_live does.  A row stored
 * before whose first_ns did not move gets only its counters updated. */
static int put_flow(void *ctx, const pdx_flow *f)
{
    run_state *s = ctx;
    FUZZ_CHECK(f->id >= 1);
    if ((size_t)f->id >= s->nrows) {
        size_t n = (size_t)f->id * 2 + 16;
        s->rows = realloc(s->rows, n * sizeof(*s->rows));
        FUZZ_CHECK(s->rows != NULL);
        memset(s->rows + s->nrows, 0, (n - s->nrows) * sizeof(*s->rows));
        s->nrows = n;
    }
    row *r = &s->rows[f->id];
    pdx_flow *d = &r->f;
    if (f->stored)
        FUZZ_CHECK(r->used);
    if (f->stored && !f->first_moved) {
        copy_counts(d, f);
        return 0;
    }
    int ip = f->kind != PDX_KIND_L2;
    memset(d, 0, sizeof(*d));
    r->used = 1;
    d->id = f->id;
    d->proto = ip ? f->proto : 0;
    d->kind = f->kind;
    d->ethertype = ip ? 0 : f->ethertype;
    d->linktype = f->linktype;
    if (ip) {
        memcpy(d->src, f->src, 16);
        memcpy(d->dst, f->dst, 16);
    }
    if (ip && is_ported(f->proto)) {
        d->sport = f->sport;
        d->dport = f->dport;
    }
    if (ip && (f->proto == 1 || f->proto == 58))
        d->icmp_id = f->icmp_id;
    if (f->has_mac) {
        memcpy(d->src_mac, f->src_mac, 6);
        memcpy(d->dst_mac, f->dst_mac, 6);
        d->has_mac = 1;
    }
    d->vlan = f->vlan >= 0 ? f->vlan : -1;
    d->vlan_inner = f->vlan_inner >= 0 ? f->vlan_inner : -1;
    if (f->tunnel) {
        d->tunnel = f->tunnel;
        memcpy(d->tun_src, f->tun_src, 16);
        memcpy(d->tun_dst, f->tun_dst, 16);
        d->vni = f->vni;
    }
    d->first_ns = f->first_ns;
    d->first_capture = f->first_capture;
    copy_counts(d, f);
    return 0;
}

static int cmp_live(const void *a, const void *b)
{
    const pdx_flow *x = *(const pdx_flow *const *)a, *y = *(const pdx_flow *const *)b;
    if (x->last_ns != y->last_ns)
        return x->last_ns < y->last_ns ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* A new run: a fresh table that takes up the live rows, as the indexer does. */
static pdx_flowtab *new_run(run_state *s, const pdx_flow_cfg *cfg, const pdx_flow_ops *ops)
{
    int64_t max_id = 0;
    size_t nlive = 0;
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].used) {
            max_id = (int64_t)i;
            nlive += (s->rows[i].f.state & PDX_FS_LIVE) != 0;
        }
    pdx_flowtab *t = pdx_flowtab_create(cfg, ops, max_id + 1);
    FUZZ_CHECK(t != NULL);
    const pdx_flow **live = malloc((nlive ? nlive : 1) * sizeof(*live));
    FUZZ_CHECK(live != NULL);
    size_t k = 0;
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].used && (s->rows[i].f.state & PDX_FS_LIVE))
            live[k++] = &s->rows[i].f;
    qsort(live, nlive, sizeof(*live), cmp_live);
    for (size_t i = 0; i < nlive; i++)
        FUZZ_CHECK(pdx_flowtab_adopt(t, live[i]) == 0);
    free(live);
    FUZZ_CHECK_EQ(pdx_flowtab_live(t), nlive);
    return t;
}

enum { MODE_A, MODE_K, MODE_B, MODE_C };

static void run(run_state *s, int mode, const pdx_flow_cfg *cfg)
{
    pdx_flow_ops ops = {s, put_segment, put_flow};
    pdx_flowtab *t = pdx_flowtab_create(cfg, &ops, 1);
    int64_t capture = 1;
    FUZZ_CHECK(t != NULL);
    for (size_t i = 0; i < s->n; i++)
        s->flow_of[i] = -1;
    for (size_t i = 0; i < s->n; i++) {
        const rec *r = &s->recs[i];
        if (i > 0 && (mode == MODE_B || mode == MODE_C) && (r->new_capture || r->new_run)) {
            FUZZ_CHECK(pdx_flowtab_end_capture(t, capture) == 0);
            capture++;
            if (mode == MODE_C && r->new_run) {
                pdx_flowtab_free(t);
                t = new_run(s, cfg, &ops);
            }
        }
        uint8_t *copy = malloc(r->len ? r->len : 1);
        pdx_pkt pkt;
        FUZZ_CHECK(copy != NULL);
        if (r->len)
            memcpy(copy, r->frame, r->len);
        pdx_decode(r->len ? copy : NULL, r->len, r->linktype, &pkt);
        free(copy);
        uint64_t off = REC_BASE + REC_STRIDE * (uint64_t)i;
        int rc = mode == MODE_K
                     ? pdx_flowtab_packet_keyed(t, &pkt, NULL, 0, r->linktype, capture, off, r->ts,
                                                r->wirelen)
                     : pdx_flowtab_packet(t, &pkt, r->linktype, capture, off, r->ts, r->wirelen);
        FUZZ_CHECK_EQ(rc, 0);
    }
    FUZZ_CHECK(pdx_flowtab_end_capture(t, capture) == 0);
    pdx_flowtab_free(t);

    /* Every record filed once; every flow's last row counts its records. */
    for (size_t i = 0; i < s->n; i++) {
        if (s->flow_of[i] == -1)
            fprintf(stderr, "mode %d: record %zu in no flow\n", mode, i);
        FUZZ_CHECK(s->flow_of[i] >= 1 && (size_t)s->flow_of[i] < s->nrows);
        FUZZ_CHECK(s->rows[s->flow_of[i]].used);
    }
    for (size_t id = 1; id < s->nrows; id++) {
        if (!s->rows[id].used)
            continue;
        const pdx_flow *f = &s->rows[id].f;
        uint64_t pk = 0, by = 0;
        int64_t first = INT64_MAX, last = INT64_MIN;
        for (size_t i = 0; i < s->n; i++)
            if (s->flow_of[i] == (int64_t)id) {
                pk++;
                by += s->recs[i].wirelen;
                if (s->recs[i].ts < first)
                    first = s->recs[i].ts;
                if (s->recs[i].ts > last)
                    last = s->recs[i].ts;
            }
        if (pk != f->pk[0] + f->pk[1])
            fprintf(stderr, "mode %d: flow %zu holds %llu records, its row says %llu\n", mode, id,
                    (unsigned long long)pk, (unsigned long long)(f->pk[0] + f->pk[1]));
        FUZZ_CHECK_EQ(pk, f->pk[0] + f->pk[1]);
        FUZZ_CHECK_EQ(by, f->by[0] + f->by[1]);
        FUZZ_CHECK_EQ(first, f->first_ns);
        FUZZ_CHECK_EQ(last, f->last_ns);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rec recs[MAX_RECS];
    static int64_t flows_a[MAX_RECS];
    static const int64_t unit[4] = {1000, 1000000, 100000000, 1000000000};
    pdx_flow_cfg cfg;
    size_t n = 0, pos = 1;
    int64_t ts = 1700000000000000000;
    int fragments = 0, runs = 0, backwards = 0;

    if (size < 1)
        return 0;
    pdx_flow_cfg_default(&cfg);
    cfg.segment_bytes = 32u << (data[0] & 7);
    cfg.idle_timeout_ns = (int64_t)(1 + ((data[0] >> 3) & 3)) * 8 * 1000000000;
    cfg.closing_timeout_ns = 2000000000;
    while (pos + 5 <= size && n < MAX_RECS) {
        const uint8_t *h = data + pos;
        rec *r = &recs[n++];
        size_t len = (size_t)h[2] | (size_t)h[3] << 8;
        pos += 5;
        if (len > size - pos)
            len = size - pos;
        r->frame = data + pos;
        r->len = (uint32_t)len;
        r->wirelen = (uint32_t)len + h[4];
        r->linktype = fuzz_links[h[0] & 15];
        r->new_capture = (h[0] >> 4) & 1;
        r->new_run = (h[0] >> 5) & 1;
        runs += r->new_run && n > 1;
        ts += (data[0] & 0x20 ? (int64_t)(int8_t)h[1] : (int64_t)h[1]) * unit[h[0] >> 6];
        backwards |= n > 1 && ts < recs[n - 2].ts;
        r->ts = ts;
        pos += len;
        pdx_pkt pkt;
        uint8_t *copy = malloc(len ? len : 1);
        FUZZ_CHECK(copy != NULL);
        if (len)
            memcpy(copy, r->frame, len);
        if (pdx_decode(len ? copy : NULL, len, r->linktype, &pkt) != PDX_KIND_L2 &&
            (pkt.flags & PDX_PKT_FRAGMENT))
            fragments = 1;
        free(copy);
    }
    if (n == 0)
        return 0;

    run_state *s = calloc(1, sizeof(*s));
    FUZZ_CHECK(s != NULL);
    s->recs = recs;
    s->n = n;
    static const int modes[4] = {MODE_A, MODE_K, MODE_B, MODE_C};
    for (int m = 0; m < 4; m++) {
        if (modes[m] == MODE_C && runs == 0)
            break;
        if (s->rows)
            memset(s->rows, 0, s->nrows * sizeof(*s->rows));
        s->nsegs = 0;
        run(s, modes[m], &cfg);
        if (modes[m] == MODE_A) {
            memcpy(flows_a, s->flow_of, n * sizeof(*flows_a));
            continue;
        }
        if (modes[m] == MODE_C && (fragments || backwards))
            continue;
        for (size_t i = 0; i < n; i++) {
            if (s->flow_of[i] != flows_a[i])
                fprintf(stderr, "mode %d: record %zu in flow %lld, in one capture flow %lld\n",
                        modes[m], i, (long long)s->flow_of[i], (long long)flows_a[i]);
            FUZZ_CHECK_EQ(s->flow_of[i], flows_a[i]);
        }
    }
    free(s->rows);
    free(s->segs);
    free(s);
    return 0;
}
