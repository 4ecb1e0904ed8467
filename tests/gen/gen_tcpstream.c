/*
 * gen_tcpstream.c - `pcapgen tcpstream`: a few TCP sessions whose payload
 * bytes are known exactly, for testing stream reassembly in the carver.
 *
 * Each session handshakes, exchanges request/response messages (both
 * directions carry data), and closes with FINs.  Within a message segments
 * are perturbed: retransmitted (same bytes, same boundaries), swapped with
 * their successor (out of order), re-sent as one segment spanning parts of
 * two earlier ones (overlap: different boundaries, same bytes), or - in one
 * session - never captured (a gap; the receiver still acknowledges it, as a
 * capture drop would look).  Session 3 starts its sequence numbers just
 * below 2^32 so that both directions wrap.
 *
 * DIR gets, per session n: n.c2s and n.s2c (every byte the application
 * sent), n.info (5-tuple, ISNs, perturbation counts, gaps as "gap DIR OFFSET
 * LEN" with OFFSET counted from the first payload byte), and truth.tsv.
 */
#include "gen.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MSG 64

typedef struct sdef {
    int v6;
    uint16_t port;
    int nmsg;
    uint32_t c_min, c_max, s_min, s_max; /* message sizes per direction */
    uint32_t seg_min, seg_max;           /* segment sizes below the MSS */
    int n_rt, n_ooo, n_ov;               /* perturbations per direction */
    int gaps;                            /* 1: one gap in each direction */
    int wrap;                            /* ISNs just below 2^32 */
} sdef;

static const sdef sessions[] = {
    {0, 80, 3, 1500, 4000, 2000, 40000, 200, 1460, 1, 1, 0, 0, 0},
    {1, 443, 4, 100, 20000, 100, 50000, 100, 1440, 2, 0, 2, 0, 0},
    {0, 8080, 3, 3000, 9000, 5000, 30000, 300, 1460, 0, 1, 0, 1, 0},
    {0, 21, 2, 4000, 8000, 60000, 120000, 500, 1460, 2, 1, 2, 0, 1},
    {1, 22, 30, 2, 120, 2, 200, 1, 30, 3, 3, 3, 0, 0},
    {0, 9000, 1, 200, 200, 1000000, 1000000, 536, 1460, 6, 6, 6, 0, 0},
};
#define NSESS (sizeof sessions / sizeof sessions[0])

typedef struct seg {
    uint32_t start, end; /* stream offsets */
    uint16_t msg;
    uint8_t gap, rt, ov, ooo;
} seg;

typedef struct side {
    uint8_t *data;
    size_t len;
    uint32_t isn;
    uint32_t msg_off[MAX_MSG + 1];
    seg *segs;
    size_t nseg;
    uint32_t msg_seg[MAX_MSG + 1]; /* first segment of each message */
    uint8_t *deliv;                /* bytes the receiver has (captured or not) */
    uint32_t rcv_next;             /* receiver has every byte below this */
    uint32_t snd_max;              /* highest offset sent so far */
    uint32_t fin;                  /* 1 once the FIN went out */
    int n_rt, n_ooo, n_ov;
} side;

typedef struct pkt {
    int64_t ts;
    uint32_t sess;
    uint32_t idx;
    size_t len;
    uint8_t *frame;
} pkt;

typedef struct tsgen {
    pdx_gen_rng rng;
    pkt *v;
    size_t n, cap;
    /* the session being built */
    uint32_t sess;
    int64_t clock;
    uint32_t mss;
    pdx_gen_addr cli, srv;
    uint16_t cport, sport;
    uint16_t ipid[2];
    side sd[2];
} tsgen;

typedef struct ev {
    uint32_t start, end;
    uint8_t captured;
    uint8_t extra; /* retransmission or overlap: not new data */
} ev;

static uint32_t seq_at(const side *sd, uint32_t off) { return sd->isn + 1 + off; }

/* The acknowledgment number dir sends: what it has of the other stream. */
static uint32_t ack_of(const tsgen *g, int dir)
{
    const side *o = &g->sd[!dir];
    return o->isn + 1 + o->rcv_next + o->fin;
}

/* Sequence number of a segment without new data from dir. */
static uint32_t seq_now(const tsgen *g, int dir)
{
    const side *sd = &g->sd[dir];
    return sd->isn + 1 + sd->snd_max + sd->fin;
}

/* Builds one packet (and keeps it unless it is lost to the capture). */
static void emit(tsgen *g, int dir, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t off, uint32_t len,
                 int captured)
{
    pdx_gen_pkt s;
    uint8_t frame[1600];
    pkt *p;
    memset(&s, 0, sizeof s);
    s.src = dir ? &g->srv : &g->cli;
    s.dst = dir ? &g->cli : &g->srv;
    s.proto = 6;
    s.sport = dir ? g->sport : g->cport;
    s.dport = dir ? g->cport : g->sport;
    s.ttl = dir ? 58 : 64;
    s.ip_id = g->ipid[dir]++;
    s.tcp_flags = flags;
    s.win = 64240;
    s.syn_opts = (flags & PDX_TCP_SYN) != 0;
    s.seq = seq;
    s.ack = ack;
    s.payload = g->sd[dir].data + off;
    s.paylen = len;
    g->clock += 1000 * (int64_t)pdx_gen_rng_range(&g->rng, 20, 300);
    if (!captured)
        return;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 1024;
        g->v = pdx_gen_xrealloc(g->v, g->cap * sizeof *g->v);
    }
    p = &g->v[g->n++];
    p->len = pdx_gen_frame(frame, PDX_GEN_ETH, dir, 0, &s);
    p->frame = pdx_gen_xmalloc(p->len);
    memcpy(p->frame, frame, p->len);
    p->ts = g->clock;
    p->sess = g->sess;
    p->idx = (uint32_t)g->n;
}

/* The receiver of dir gets bytes [start, end). */
static void deliver(side *sd, uint32_t start, uint32_t end)
{
    memset(sd->deliv + start, 1, end - start);
    while (sd->rcv_next < sd->len && sd->deliv[sd->rcv_next])
        sd->rcv_next++;
}

static void cut_segments(tsgen *g, side *sd, const sdef *d, uint32_t mss)
{
    pdx_gen_rng *r = &g->rng;
    size_t cap = 16;
    sd->segs = pdx_gen_xmalloc(cap * sizeof *sd->segs);
    sd->nseg = 0;
    for (int m = 0; m < d->nmsg; m++) {
        uint32_t off = sd->msg_off[m], end = sd->msg_off[m + 1];
        sd->msg_seg[m] = (uint32_t)sd->nseg;
        while (off < end) {
            uint32_t n = pdx_gen_rng_chance(r, 500) ? mss : pdx_gen_rng_range(r, d->seg_min, PDX_MIN(d->seg_max, mss));
            seg *s;
            n = PDX_MIN(n, end - off);
            if (sd->nseg == cap) {
                cap *= 2;
                sd->segs = pdx_gen_xrealloc(sd->segs, cap * sizeof *sd->segs);
            }
            s = &sd->segs[sd->nseg++];
            memset(s, 0, sizeof *s);
            s->start = off;
            s->end = off + n;
            s->msg = (uint16_t)m;
            off += n;
        }
    }
    sd->msg_seg[d->nmsg] = (uint32_t)sd->nseg;
}

/* i and i+1 are segments of the same message and free of other marks. */
static int pair_ok(const side *sd, size_t i)
{
    const seg *a = &sd->segs[i], *b = &sd->segs[i + 1];
    if (i + 1 >= sd->nseg || a->msg != b->msg)
        return 0;
    if (a->gap || b->gap || a->rt || a->ov || a->ooo || b->ooo || b->ov || b->rt)
        return 0;
    if (i > 0 && (sd->segs[i - 1].gap || sd->segs[i - 1].ooo || sd->segs[i - 1].ov))
        return 0;
    return a->end - a->start >= 2 && b->end - b->start >= 2;
}

/* Marks up to n random eligible pairs with mark (0 rt, 1 ooo, 2 ov, 3 gap). */
static int place(tsgen *g, side *sd, int n, int mark)
{
    int placed = 0;
    for (int tries = 0; placed < n && tries < 10000; tries++) {
        size_t i;
        seg *s;
        if (sd->nseg < 3)
            break;
        i = pdx_gen_rng_below(&g->rng, (uint32_t)sd->nseg - 1);
        /* gaps stay clear of message ends so that later bytes follow them */
        if (!pair_ok(sd, i) || (mark == 3 && (i + 2 >= sd->nseg || !pair_ok(sd, i + 1))))
            continue;
        s = &sd->segs[mark == 3 ? i + 1 : i];
        switch (mark) {
        case 0: s->rt = 1; break;
        case 1: s->ooo = 1; break;
        case 2: s->ov = 1; break;
        default: s->gap = 1; break;
        }
        placed++;
    }
    return placed;
}

/* Sends message m of direction dir, with its perturbations, and ACKs. */
static void send_msg(tsgen *g, int dir, int m)
{
    side *sd = &g->sd[dir];
    uint32_t first = sd->msg_seg[m], last = sd->msg_seg[m + 1];
    size_t n = last - first, ne = 0, cap = 3 * n + 4;
    ev *e = pdx_gen_xmalloc(cap * sizeof *e);
    int since_ack = 0;

    for (uint32_t i = first; i < last; i++) {
        seg *s = &sd->segs[i];
        if (s->ooo && i + 1 < last) {
            seg *t = &sd->segs[i + 1];
            e[ne++] = (ev){t->start, t->end, (uint8_t)!t->gap, 0};
            e[ne++] = (ev){s->start, s->end, (uint8_t)!s->gap, 0};
            sd->n_ooo++;
            i++;
        } else {
            e[ne++] = (ev){s->start, s->end, (uint8_t)!s->gap, 0};
        }
    }
    /* retransmissions two events later; overlaps after both halves went out */
    for (uint32_t i = first; i < last; i++) {
        seg *s = &sd->segs[i];
        ev x;
        size_t at = 0;
        if (s->rt) {
            x = (ev){s->start, s->end, 1, 1};
            for (size_t k = 0; k < ne; k++)
                if (e[k].start == s->start && !e[k].extra)
                    at = k + 3;
            sd->n_rt++;
        } else if (s->ov && i + 1 < last) {
            seg *t = &sd->segs[i + 1];
            uint32_t sl = s->end - s->start, tl = t->end - t->start;
            uint32_t a = pdx_gen_rng_range(&g->rng, 1, sl - 1);
            uint32_t b = pdx_gen_rng_range(&g->rng, 1, tl - 1);
            if (sl - a + tl - b > g->mss) { /* keep it within one MSS */
                uint32_t excess = sl - a + tl - b - g->mss, da = PDX_MIN(excess, sl - 1 - a);
                a += da;
                b += excess - da;
            }
            x = (ev){s->start + a, t->end - b, 1, 1};
            for (size_t k = 0; k < ne; k++)
                if ((e[k].start == s->start || e[k].start == t->start) && !e[k].extra)
                    at = k + 1;
            sd->n_ov++;
        } else {
            continue;
        }
        at = PDX_MIN(at, ne);
        memmove(e + at + 1, e + at, (ne - at) * sizeof *e);
        e[at] = x;
        ne++;
    }
    for (size_t k = 0; k < ne; k++) {
        int last_one = k + 1 == ne;
        emit(g, dir, (uint8_t)(PDX_TCP_ACK | (last_one ? PDX_TCP_PSH : 0)), seq_at(sd, e[k].start), ack_of(g, dir),
             e[k].start, e[k].end - e[k].start, e[k].captured);
        deliver(sd, e[k].start, e[k].end);
        sd->snd_max = PDX_MAX(sd->snd_max, e[k].end);
        if (++since_ack >= 2 || last_one) {
            emit(g, !dir, PDX_TCP_ACK, seq_now(g, !dir), ack_of(g, !dir), 0, 0, 1);
            since_ack = 0;
        }
    }
    free(e);
}

static int pkt_cmp(const void *a, const void *b)
{
    const pkt *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->sess != y->sess)
        return x->sess < y->sess ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void write_info(tsgen *g, const char *dir, const sdef *d, const pdx_gen_truth *t)
{
    char name[64], a[64], b[64];
    char *path;
    FILE *f;
    int ngaps = 0;
    snprintf(name, sizeof name, "%u.info", g->sess);
    path = pdx_gen_path(dir, name);
    f = pdx_gen_fopen(path);
    pdx_gen_addr_str(&g->cli, a);
    pdx_gen_addr_str(&g->srv, b);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < g->sd[k].nseg; i++)
            ngaps += g->sd[k].segs[i].gap;
    fprintf(f, "session\t%u\nproto\t6\nfamily\t%d\nclient\t%s\nclient_port\t%u\nserver\t%s\nserver_port\t%u\n",
            g->sess, d->v6 ? 6 : 4, a, g->cport, b, g->sport);
    fprintf(f, "c2s_isn\t%" PRIu32 "\ns2c_isn\t%" PRIu32 "\nc2s_bytes\t%zu\ns2c_bytes\t%zu\n", g->sd[0].isn,
            g->sd[1].isn, g->sd[0].len, g->sd[1].len);
    fprintf(f, "packets\t%" PRIu64 "\nbytes\t%" PRIu64 "\nfirst_ns\t%" PRId64 "\nlast_ns\t%" PRId64 "\n", t->packets,
            t->bytes, t->first_ns, t->last_ns);
    fprintf(f, "c2s_retransmissions\t%d\ns2c_retransmissions\t%d\n", g->sd[0].n_rt, g->sd[1].n_rt);
    fprintf(f, "c2s_out_of_order\t%d\ns2c_out_of_order\t%d\n", g->sd[0].n_ooo, g->sd[1].n_ooo);
    fprintf(f, "c2s_overlaps\t%d\ns2c_overlaps\t%d\n", g->sd[0].n_ov, g->sd[1].n_ov);
    fprintf(f, "seq_wraps\t%d\ngaps\t%d\n", d->wrap, ngaps);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < g->sd[k].nseg; i++)
            if (g->sd[k].segs[i].gap)
                fprintf(f, "gap\t%s\t%" PRIu32 "\t%" PRIu32 "\n", k ? "s2c" : "c2s", g->sd[k].segs[i].start,
                        g->sd[k].segs[i].end - g->sd[k].segs[i].start);
    pdx_gen_fclose(f, path);
    free(path);
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%u.%s", g->sess, k ? "s2c" : "c2s");
        path = pdx_gen_path(dir, name);
        pdx_gen_write_file(path, g->sd[k].data, g->sd[k].len);
        free(path);
    }
}

/* Builds session g->sess into g->v; its truth is computed after sorting. */
static void build_session(tsgen *g, const sdef *d)
{
    pdx_gen_rng *r = &g->rng;
    uint32_t mss = d->v6 ? 1440 : 1460;
    side *c = &g->sd[0], *s = &g->sd[1];

    g->mss = mss;
    memset(g->sd, 0, sizeof g->sd);
    pdx_gen_client(1000 + g->sess, d->v6, &g->cli, &g->cport);
    if (d->v6)
        pdx_gen_addr6(&g->srv, 0x20010db800050000ULL, 0x80u + g->sess);
    else
        pdx_gen_addr4(&g->srv, 0xc6336450u + g->sess); /* 198.51.100.80.. */
    g->sport = d->port;
    g->ipid[0] = (uint16_t)pdx_gen_rng_next(r);
    g->ipid[1] = (uint16_t)pdx_gen_rng_next(r);
    for (int k = 0; k < 2; k++) {
        side *sd = &g->sd[k];
        uint32_t lo = k ? d->s_min : d->c_min, hi = k ? d->s_max : d->c_max;
        sd->msg_off[0] = 0;
        for (int m = 0; m < d->nmsg; m++)
            sd->msg_off[m + 1] = sd->msg_off[m] + pdx_gen_rng_range(r, lo, hi);
        sd->len = sd->msg_off[d->nmsg];
        sd->data = pdx_gen_xmalloc(sd->len);
        for (size_t i = 0; i < sd->len; i++)
            sd->data[i] = (uint8_t)(pdx_gen_rng_next(r) >> 56);
        sd->deliv = pdx_gen_xcalloc(sd->len + 1, 1);
        sd->isn = d->wrap ? (k ? 0xffff0000u : 0xfffffff0u) : (uint32_t)pdx_gen_rng_next(r);
        cut_segments(g, sd, d, mss);
        if (d->gaps)
            place(g, sd, 1, 3);
        place(g, sd, d->n_rt, 0);
        place(g, sd, d->n_ooo, 1);
        place(g, sd, d->n_ov, 2);
    }

    emit(g, 0, PDX_TCP_SYN, c->isn, 0, 0, 0, 1);
    emit(g, 1, PDX_TCP_SYN | PDX_TCP_ACK, s->isn, c->isn + 1, 0, 0, 1);
    emit(g, 0, PDX_TCP_ACK, c->isn + 1, s->isn + 1, 0, 0, 1);
    for (int m = 0; m < d->nmsg; m++) {
        g->clock += 1000000 * (int64_t)pdx_gen_rng_range(r, 1, 5);
        send_msg(g, 0, m);
        g->clock += 1000 * (int64_t)pdx_gen_rng_range(r, 100, 2000);
        send_msg(g, 1, m);
    }
    emit(g, 0, PDX_TCP_FIN | PDX_TCP_ACK, seq_now(g, 0), ack_of(g, 0), 0, 0, 1);
    c->fin = 1;
    emit(g, 1, PDX_TCP_FIN | PDX_TCP_ACK, seq_now(g, 1), ack_of(g, 1), 0, 0, 1);
    s->fin = 1;
    emit(g, 0, PDX_TCP_ACK, seq_now(g, 0), ack_of(g, 0), 0, 0, 1);
}

int pdx_gen_cmd_tcpstream(int argc, char **argv)
{
    const char *out_path = NULL, *dir = NULL;
    uint64_t seed = 1;
    tsgen g;
    pdx_gen_out o;
    pdx_gen_truth truth[NSESS];
    pdx_gen_truthset ts;
    side saved[NSESS][2];
    pdx_gen_addr cli[NSESS], srv[NSESS];
    uint16_t cport[NSESS];
    char *path;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (strcmp(a, "-o") == 0)
            out_path = pdx_gen_optarg(argc, argv, &i);
        else if (strcmp(a, "--expect") == 0)
            dir = pdx_gen_optarg(argc, argv, &i);
        else if (strcmp(a, "--seed") == 0)
            bad = pdx_gen_parse_u64(pdx_gen_optarg(argc, argv, &i), &seed);
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "pcapgen tcpstream: bad argument '%s'\n", argv[i]);
            pdx_gen_usage();
        }
    }
    if (out_path == NULL || dir == NULL)
        pdx_gen_usage();
    pdx_gen_mkdir(dir);

    memset(&g, 0, sizeof g);
    memset(&ts, 0, sizeof ts);
    pdx_gen_rng_seed(&g.rng, seed);
    for (uint32_t k = 0; k < NSESS; k++) {
        g.sess = k;
        g.clock = 1700000000LL * 1000000000LL + (int64_t)k * 2500000;
        build_session(&g, &sessions[k]);
        memcpy(saved[k], g.sd, sizeof g.sd);
        cli[k] = g.cli;
        srv[k] = g.srv;
        cport[k] = g.cport;
    }
    qsort(g.v, g.n, sizeof *g.v, pkt_cmp);

    memset(truth, 0, sizeof truth);
    pdx_gen_out_open(&o, out_path, PDX_GEN_FMT_PCAP, 0, 1);
    for (size_t i = 0; i < g.n; i++) {
        pkt *p = &g.v[i];
        int64_t t = pdx_gen_out_quant(&o, 0, p->ts);
        pdx_gen_out_put(&o, 0, t, p->frame, p->len, p->len);
        pdx_gen_truth_count(&truth[p->sess], t, p->len);
        free(p->frame);
    }
    pdx_gen_out_close(&o);
    free(g.v);

    for (uint32_t k = 0; k < NSESS; k++) {
        truth[k].src = cli[k];
        truth[k].dst = srv[k];
        truth[k].sport = cport[k];
        truth[k].dport = sessions[k].port;
        truth[k].proto = 6;
        truth[k].order = k;
        pdx_gen_truthset_push(&ts, &truth[k]);
        g.sess = k;
        memcpy(g.sd, saved[k], sizeof g.sd);
        g.cli = cli[k];
        g.srv = srv[k];
        g.cport = cport[k];
        g.sport = sessions[k].port;
        write_info(&g, dir, &sessions[k], &truth[k]);
        for (int d = 0; d < 2; d++) {
            free(g.sd[d].data);
            free(g.sd[d].segs);
            free(g.sd[d].deliv);
        }
    }
    path = pdx_gen_path(dir, "truth.tsv");
    pdx_gen_truthset_write(&ts, path);
    free(path);
    return 0;
}
