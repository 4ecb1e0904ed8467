/*
 * gen_traffic.c - `pcapgen traffic`: mixed, realistic-looking traffic.
 *
 * A fixed number of flow slots is kept busy; each step picks a slot (long
 * flows weigh more, as bulk transfers send faster), builds that flow's next
 * packet straight into the output buffer and, when the flow ends, records its
 * truth and starts a new flow in the slot.  TCP flows handshake, exchange
 * bursts of data with ACKs and the odd retransmission, and close with FINs
 * or a RST (a few are refused at the SYN).  UDP flows send datagrams both
 * ways; ICMP flows ping.  A few ARP frames appear between flows.
 *
 * Client (address, port) pairs never repeat within a file, so each flow's
 * 5-tuple is unique and the truth is unambiguous.  Payload bytes come from a
 * seeded pool, indexed by TCP sequence number so that a retransmission
 * carries the same bytes.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

#define POOL_SIZE (1u << 20)
#define POOL_TAIL 2048u

enum { K_TCP, K_UDP, K_ICMP };
enum { T_SYN, T_SYNACK, T_ACK, T_DATA, T_FIN1, T_FIN2, T_FIN3 };

typedef struct flow {
    pdx_gen_truth t;
    uint8_t kind;
    uint8_t state;
    uint8_t dir;      /* TCP: direction of the current burst */
    uint8_t closer;
    uint8_t weight;   /* 1..8: how often the slot is picked */
    uint8_t end_rst;  /* TCP: close with RST instead of FINs */
    uint8_t refused;  /* TCP: RST answers the SYN */
    uint8_t have_last;
    uint8_t last_dir;
    uint32_t left;    /* TCP data segments, UDP datagrams or ICMP echo pairs to go */
    uint32_t burst;
    uint32_t unacked;
    uint32_t isn[2];
    uint32_t nxt[2];
    uint32_t pbase[2];
    uint32_t last_seq;
    uint32_t last_len;
    uint16_t ipid[2];
    uint16_t win;
    uint16_t icmp_id;
    uint16_t icmp_seq;
} flow;

typedef struct tgen {
    pdx_gen_rng rng;
    uint8_t *pool;
    int link;
    uint32_t v6pct;
    uint64_t next_id;
    pdx_gen_truthset truths;
    int want_truth;
} tgen;

static const uint16_t tcp_ports[] = {80, 443, 443, 443, 8080, 22, 25, 993, 3306, 5432, 8443, 6379};
static const uint16_t udp_ports[] = {443, 443, 3478, 5004, 514, 4500, 8125, 27015, 9987, 51820};

static void flow_init(tgen *g, flow *f)
{
    pdx_gen_rng *r = &g->rng;
    uint64_t n = g->next_id++;
    uint32_t k = pdx_gen_rng_below(r, 100);
    int v6 = pdx_gen_rng_below(r, 100) < g->v6pct;
    uint32_t srv = pdx_gen_rng_below(r, 762);

    memset(f, 0, sizeof *f);
    f->t.order = n;
    f->kind = k < 60 ? K_TCP : k < 90 ? K_UDP : K_ICMP;
    pdx_gen_client(n, v6, &f->t.src, &f->t.sport);
    if (v6) {
        pdx_gen_addr6(&f->t.dst, 0x20010db800050000ULL, 0x100u + srv);
    } else {
        /* 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 */
        static const uint32_t nets[3] = {0xc0000200u, 0xc6336400u, 0xcb007100u};
        pdx_gen_addr4(&f->t.dst, nets[srv / 254] | (1u + srv % 254));
    }
    f->ipid[0] = (uint16_t)pdx_gen_rng_next(r);
    f->ipid[1] = (uint16_t)pdx_gen_rng_next(r);
    f->weight = 1;
    switch (f->kind) {
    case K_TCP: {
        uint32_t q = pdx_gen_rng_below(r, 1000);
        f->t.proto = 6;
        f->t.dport = tcp_ports[pdx_gen_rng_below(r, PDX_ARRAY_LEN(tcp_ports))];
        f->left = q < 550   ? pdx_gen_rng_range(r, 1, 6)
                  : q < 850 ? pdx_gen_rng_range(r, 6, 40)
                  : q < 970 ? pdx_gen_rng_range(r, 40, 400)
                  : q < 995 ? pdx_gen_rng_range(r, 400, 2000)
                            : pdx_gen_rng_range(r, 2000, 8000);
        f->weight = f->left < 40 ? 1 : f->left < 400 ? 3 : 8;
        f->isn[0] = (uint32_t)pdx_gen_rng_next(r);
        f->isn[1] = (uint32_t)pdx_gen_rng_next(r);
        f->pbase[0] = pdx_gen_rng_below(r, POOL_SIZE);
        f->pbase[1] = pdx_gen_rng_below(r, POOL_SIZE);
        f->win = (uint16_t)pdx_gen_rng_range(r, 8192, 65535);
        f->end_rst = pdx_gen_rng_chance(r, 50);
        f->refused = pdx_gen_rng_chance(r, 20);
        f->dir = 1; /* the first burst flips it to the client */
        break;
    }
    case K_UDP: {
        uint32_t q = pdx_gen_rng_below(r, 1000);
        f->t.proto = 17;
        f->t.dport = udp_ports[pdx_gen_rng_below(r, PDX_ARRAY_LEN(udp_ports))];
        f->left = q < 500   ? 2
                  : q < 850 ? pdx_gen_rng_range(r, 3, 30)
                  : q < 990 ? pdx_gen_rng_range(r, 30, 500)
                            : pdx_gen_rng_range(r, 500, 5000);
        f->weight = f->left < 30 ? 1 : f->left < 500 ? 3 : 8;
        break;
    }
    default:
        f->t.proto = v6 ? 58 : 1;
        f->icmp_id = (uint16_t)pdx_gen_rng_next(r);
        f->icmp_seq = (uint16_t)pdx_gen_rng_range(r, 0, 3);
        f->t.sport = f->icmp_id;
        f->t.dport = 0;
        f->left = 2 * pdx_gen_rng_range(r, 1, 8);
        break;
    }
}

static size_t tcp_paylen(pdx_gen_rng *r, int v6)
{
    uint32_t mss = v6 ? 1440 : 1460;
    uint32_t q = pdx_gen_rng_below(r, 100);
    if (q < 35)
        return mss;
    if (q < 60)
        return pdx_gen_rng_range(r, 1, 100);
    if (q < 80)
        return pdx_gen_rng_range(r, 100, 600);
    return pdx_gen_rng_range(r, 600, mss);
}

/* Fills s for the flow's next TCP packet and returns its direction; sets
 * *done when it is the flow's last. */
static int tcp_next(tgen *g, flow *f, pdx_gen_pkt *s, int *done)
{
    pdx_gen_rng *r = &g->rng;
    int d = 0;
    s->proto = 6;
    s->win = f->win;
    switch (f->state) {
    case T_SYN:
        s->tcp_flags = PDX_TCP_SYN;
        s->seq = f->isn[0];
        s->syn_opts = 1;
        f->nxt[0] = f->isn[0] + 1;
        f->state = T_SYNACK;
        return 0;
    case T_SYNACK:
        d = 1;
        if (f->refused) {
            s->tcp_flags = PDX_TCP_RST | PDX_TCP_ACK;
            s->ack = f->nxt[0];
            s->win = 0;
            *done = 1;
            return d;
        }
        s->tcp_flags = PDX_TCP_SYN | PDX_TCP_ACK;
        s->seq = f->isn[1];
        s->ack = f->nxt[0];
        s->syn_opts = 1;
        f->nxt[1] = f->isn[1] + 1;
        f->state = T_ACK;
        return d;
    case T_ACK:
        s->tcp_flags = PDX_TCP_ACK;
        s->seq = f->nxt[0];
        s->ack = f->nxt[1];
        f->state = T_DATA;
        return 0;
    case T_DATA:
        if (f->have_last && pdx_gen_rng_chance(r, 8)) {
            /* retransmission: same sequence number, same bytes */
            d = f->last_dir;
            s->tcp_flags = PDX_TCP_ACK | PDX_TCP_PSH;
            s->seq = f->last_seq;
            s->ack = f->nxt[!d];
            s->paylen = f->last_len;
            break;
        }
        if (f->unacked >= 2 || (f->burst == 0 && f->unacked > 0)) {
            d = !f->dir;
            s->tcp_flags = PDX_TCP_ACK;
            s->seq = f->nxt[d];
            s->ack = f->nxt[!d];
            f->unacked = 0;
            return d;
        }
        if (f->left > 0) {
            if (f->burst == 0) {
                f->dir = !f->dir;
                f->burst = f->dir == 0 ? pdx_gen_rng_range(r, 1, 3) : pdx_gen_rng_range(r, 1, 16);
                if (f->burst > f->left)
                    f->burst = f->left;
            }
            d = f->dir;
            s->paylen = tcp_paylen(r, f->t.src.v6);
            s->seq = f->nxt[d];
            s->ack = f->nxt[!d];
            s->tcp_flags = PDX_TCP_ACK | (f->burst == 1 ? PDX_TCP_PSH : 0);
            f->last_seq = s->seq;
            f->last_len = (uint32_t)s->paylen;
            f->last_dir = (uint8_t)d;
            f->have_last = 1;
            f->nxt[d] += (uint32_t)s->paylen;
            f->burst--;
            f->left--;
            f->unacked++;
            break;
        }
        f->closer = (uint8_t)pdx_gen_rng_below(r, 2);
        d = f->closer;
        s->seq = f->nxt[d];
        s->ack = f->nxt[!d];
        if (f->end_rst) {
            s->tcp_flags = PDX_TCP_RST | PDX_TCP_ACK;
            *done = 1;
            return d;
        }
        s->tcp_flags = PDX_TCP_FIN | PDX_TCP_ACK;
        f->nxt[d]++;
        f->state = T_FIN2;
        return d;
    case T_FIN2:
        d = !f->closer;
        s->tcp_flags = PDX_TCP_FIN | PDX_TCP_ACK;
        s->seq = f->nxt[d];
        s->ack = f->nxt[!d];
        f->nxt[d]++;
        f->state = T_FIN3;
        return d;
    default:
        d = f->closer;
        s->tcp_flags = PDX_TCP_ACK;
        s->seq = f->nxt[d];
        s->ack = f->nxt[!d];
        *done = 1;
        return d;
    }
    s->payload = g->pool + ((f->pbase[d] + (s->seq - f->isn[d])) & (POOL_SIZE - 1));
    return d;
}

static int flow_next(tgen *g, flow *f, pdx_gen_pkt *s, int *done)
{
    pdx_gen_rng *r = &g->rng;
    int d;
    memset(s, 0, sizeof *s);
    *done = 0;
    switch (f->kind) {
    case K_TCP:
        d = tcp_next(g, f, s, done);
        s->sport = d ? f->t.dport : f->t.sport;
        s->dport = d ? f->t.sport : f->t.dport;
        break;
    case K_UDP: {
        uint32_t max = f->t.src.v6 ? 1452 : 1472;
        uint32_t q = pdx_gen_rng_below(r, 100);
        d = f->t.packets == 0 ? 0 : f->t.packets == 1 ? 1 : (int)pdx_gen_rng_below(r, 2);
        s->proto = 17;
        s->sport = d ? f->t.dport : f->t.sport;
        s->dport = d ? f->t.sport : f->t.dport;
        s->paylen = q < 45 ? pdx_gen_rng_range(r, 12, 200) : q < 75 ? pdx_gen_rng_range(r, 200, max)
                                                                     : pdx_gen_rng_range(r, 1000, max);
        s->payload = g->pool + pdx_gen_rng_below(r, POOL_SIZE);
        *done = --f->left == 0;
        break;
    }
    default:
        d = (int)(f->left & 1); /* left is even before a request */
        s->proto = f->t.proto;
        s->icmp_type = f->t.proto == 58 ? (uint8_t)(d ? 129 : 128) : (uint8_t)(d ? 0 : 8);
        s->icmp_id = f->icmp_id;
        s->icmp_seq = f->icmp_seq;
        if (d)
            f->icmp_seq++;
        s->paylen = 56;
        s->payload = g->pool + ((f->pbase[0] + f->icmp_seq * 56u) & (POOL_SIZE - 1));
        *done = --f->left == 0;
        break;
    }
    s->src = d ? &f->t.dst : &f->t.src;
    s->dst = d ? &f->t.src : &f->t.dst;
    s->ttl = d ? 53 : 64;
    s->ip_id = f->ipid[d]++;
    return d;
}

static int64_t clock_step(pdx_gen_rng *r, uint64_t base)
{
    if (base <= 1)
        return (int64_t)base;
    return (int64_t)(base / 2 + pdx_gen_rng_below(r, (uint32_t)PDX_MIN(base, 0xffffffffu)));
}

int pdx_gen_cmd_traffic(int argc, char **argv)
{
    const char *out_path = NULL, *truth_path = NULL;
    uint64_t max_bytes = 0, max_packets = 0, conc = 2000, seed = 1, pps = 10000, v6pct = 10;
    uint64_t gap = 0;
    int format = PDX_GEN_FMT_PCAP, nsec = 0, link = PDX_GEN_ETH;
    int64_t ts = 1700000000LL * 1000000000LL;
    tgen g;
    flow *slots;
    pdx_gen_out o;
    uint64_t base, npk = 0;
    int arp_ok;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (strcmp(a, "-o") == 0)
            out_path = pdx_gen_optarg(argc, argv, &i);
        else if (strcmp(a, "--truth") == 0)
            truth_path = pdx_gen_optarg(argc, argv, &i);
        else if (strcmp(a, "--bytes") == 0)
            bad = pdx_gen_parse_size(pdx_gen_optarg(argc, argv, &i), &max_bytes) || max_bytes == 0;
        else if (strcmp(a, "--packets") == 0)
            bad = pdx_gen_parse_size(pdx_gen_optarg(argc, argv, &i), &max_packets) || max_packets == 0;
        else if (strcmp(a, "--concurrent") == 0)
            bad = pdx_gen_parse_u64(pdx_gen_optarg(argc, argv, &i), &conc) || conc == 0 || conc > 10000000;
        else if (strcmp(a, "--seed") == 0)
            bad = pdx_gen_parse_u64(pdx_gen_optarg(argc, argv, &i), &seed);
        else if (strcmp(a, "--pps") == 0)
            bad = pdx_gen_parse_u64(pdx_gen_optarg(argc, argv, &i), &pps) || pps == 0;
        else if (strcmp(a, "--ipv6-share") == 0)
            bad = pdx_gen_parse_u64(pdx_gen_optarg(argc, argv, &i), &v6pct) || v6pct > 100;
        else if (strcmp(a, "--start") == 0)
            bad = pdx_gen_parse_epoch(pdx_gen_optarg(argc, argv, &i), &ts);
        else if (strcmp(a, "--sparse-gap") == 0)
            bad = pdx_gen_parse_size(pdx_gen_optarg(argc, argv, &i), &gap) || gap == 0;
        else if (strcmp(a, "--nsec") == 0)
            nsec = 1;
        else if (strcmp(a, "--format") == 0) {
            a = pdx_gen_optarg(argc, argv, &i);
            format = strcmp(a, "pcap") == 0 ? PDX_GEN_FMT_PCAP : strcmp(a, "pcapng") == 0 ? PDX_GEN_FMT_PCAPNG : -1;
            bad = format < 0;
        } else if (strcmp(a, "--link") == 0) {
            a = pdx_gen_optarg(argc, argv, &i);
            link = pdx_gen_link_by_name(a);
            bad = link < 0 || link == PDX_GEN_NULL_BE || link == PDX_GEN_LOOP || link == PDX_GEN_PPP ||
                  link == PDX_GEN_CHDLC;
        } else
            bad = 1;
        if (bad) {
            fprintf(stderr, "pcapgen traffic: bad argument '%s'\n", argv[i]);
            pdx_gen_usage();
        }
    }
    if (out_path == NULL)
        pdx_gen_usage();
    if (max_bytes == 0 && max_packets == 0)
        max_packets = 100000;
    if (gap && (format != PDX_GEN_FMT_PCAPNG || max_packets == 0)) {
        fprintf(stderr, "pcapgen traffic: --sparse-gap needs --format pcapng and --packets\n");
        pdx_gen_usage();
    }
    if (link == PDX_GEN_IPV4)
        v6pct = 0;
    if (link == PDX_GEN_IPV6)
        v6pct = 100;

    memset(&g, 0, sizeof g);
    pdx_gen_rng_seed(&g.rng, seed);
    g.link = link;
    g.v6pct = (uint32_t)v6pct;
    g.want_truth = truth_path != NULL;
    g.pool = pdx_gen_xmalloc(POOL_SIZE + POOL_TAIL);
    for (size_t i = 0; i < POOL_SIZE; i += 8) {
        uint64_t x = pdx_gen_rng_next(&g.rng);
        memcpy(g.pool + i, &x, 8);
    }
    memcpy(g.pool + POOL_SIZE, g.pool, POOL_TAIL);
    slots = pdx_gen_xcalloc((size_t)conc, sizeof *slots);
    for (uint64_t i = 0; i < conc; i++)
        flow_init(&g, &slots[i]);
    base = 1000000000u / pps;
    arp_ok = pdx_gen_link_has(link, 0x0806);

    pdx_gen_out_open(&o, out_path, format, nsec, pdx_gen_link_dlt(link));
    for (;;) {
        uint8_t *frame = pdx_gen_out_frame(&o, 1600);
        pdx_gen_pkt s;
        size_t len;
        int64_t qts;
        flow *f = NULL;
        int done = 0;

        ts += clock_step(&g.rng, base);
        qts = pdx_gen_out_quant(&o, 0, ts);
        if (arp_ok && pdx_gen_rng_chance(&g.rng, 1)) {
            uint32_t host = 0x0a000000u | pdx_gen_rng_below(&g.rng, 1u << 24);
            int reply = (int)pdx_gen_rng_below(&g.rng, 2);
            len = pdx_gen_arp(frame, link, reply, reply ? 0x0a000001u : host, reply ? host : 0x0a000001u, reply);
        } else {
            for (;;) {
                uint64_t x = pdx_gen_rng_next(&g.rng);
                f = &slots[((x >> 32) * conc) >> 32];
                if ((x & 7) < f->weight)
                    break;
            }
            flow_next(&g, f, &s, &done);
            len = pdx_gen_frame(frame, link, s.src == &f->t.dst, (uint32_t)f->t.order, &s);
        }
        if (max_bytes && o.total + pdx_gen_out_recsize(&o, len) > max_bytes)
            break;
        pdx_gen_out_commit(&o, 0, qts, len, len);
        if (f != NULL) {
            pdx_gen_truth_count(&f->t, qts, len);
            if (done) {
                if (g.want_truth)
                    pdx_gen_truthset_push(&g.truths, &f->t);
                flow_init(&g, f);
            }
        }
        if (max_packets && ++npk >= max_packets)
            break;
        if (gap && npk == max_packets / 2)
            pdx_gen_out_sparse_blocks(&o, gap);
    }
    pdx_gen_out_close(&o);
    if (g.want_truth) {
        for (uint64_t i = 0; i < conc; i++)
            if (slots[i].t.packets > 0)
                pdx_gen_truthset_push(&g.truths, &slots[i].t);
        pdx_gen_truthset_write(&g.truths, truth_path);
    }
    free(slots);
    free(g.pool);
    return 0;
}
