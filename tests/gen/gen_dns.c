/*
 * gen_dns.c - `pcapgen dns`: many tiny two-packet flows (a DNS query and its
 * response), the worst case for per-flow overhead in an indexer.
 *
 * Queries start about 200 us apart (~5000 flows per second); each response
 * follows 0.2-30 ms later, so responses interleave with later queries.  A
 * min-heap of pending responses keeps the file in time order.  With
 * --timeout-spread one flow in five waits 64 ms to ~9 minutes instead (log-
 * uniform), so that some query/response pairs straddle flow idle timeouts.
 * Every flow has its own client address (and port); 10% are IPv6.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

typedef struct pending {
    int64_t ts;       /* when the response goes out */
    int64_t first_ns; /* the query's timestamp, for the truth */
    uint64_t flow;
    uint16_t txid;
    uint16_t qlen;    /* query frame length */
    uint8_t qtype_aaaa;
    uint8_t nx;
    uint8_t server;
} pending;

typedef struct heap {
    pending *v;
    size_t n, cap;
} heap;

static int before(const pending *a, const pending *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->flow < b->flow);
}

static void heap_push(heap *h, const pending *p)
{
    size_t i;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->v = pdx_gen_xrealloc(h->v, h->cap * sizeof *h->v);
    }
    i = h->n++;
    while (i > 0 && before(p, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = *p;
}

static pending heap_pop(heap *h)
{
    pending top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

static const char *const domains[4] = {"example.com", "example.net", "example.org", "test.example"};

/* Writes "\x01h<base36>\x07example\x03com\x00" style QNAME; returns length. */
static size_t put_qname(uint8_t *p, uint64_t flow)
{
    char host[24];
    size_t n = 0, k = 0;
    const char *d = domains[flow % 4];
    uint64_t x = flow;
    host[k++] = 'h';
    do {
        host[k++] = "0123456789abcdefghijklmnopqrstuvwxyz"[x % 36];
        x /= 36;
    } while (x > 0);
    p[n++] = (uint8_t)k;
    memcpy(p + n, host, k);
    n += k;
    while (*d) {
        const char *dot = strchr(d, '.');
        size_t l = dot ? (size_t)(dot - d) : strlen(d);
        p[n++] = (uint8_t)l;
        memcpy(p + n, d, l);
        n += l;
        d += l + (dot != NULL);
    }
    p[n++] = 0;
    return n;
}

static size_t dns_msg(uint8_t *p, const pending *q, int response)
{
    size_t n = 12, qn;
    uint16_t qtype = q->qtype_aaaa ? 28 : 1;
    pdx_gen_be16(p, q->txid);
    pdx_gen_be16(p + 2, response ? (q->nx ? 0x8183 : 0x8180) : 0x0100);
    pdx_gen_be16(p + 4, 1);
    pdx_gen_be16(p + 6, (uint16_t)(response && !q->nx));
    pdx_gen_be16(p + 8, 0);
    pdx_gen_be16(p + 10, 0);
    qn = put_qname(p + n, q->flow);
    n += qn;
    pdx_gen_be16(p + n, qtype);
    pdx_gen_be16(p + n + 2, 1);
    n += 4;
    if (response && !q->nx) {
        pdx_gen_be16(p + n, 0xc00c);
        pdx_gen_be16(p + n + 2, qtype);
        pdx_gen_be16(p + n + 4, 1);
        pdx_gen_be32(p + n + 6, 300);
        n += 10;
        if (qtype == 1) {
            pdx_gen_be16(p + n, 4);
            pdx_gen_be32(p + n + 2, 0xcb007100u | (uint32_t)(q->flow % 250 + 1));
            n += 6;
        } else {
            pdx_gen_be16(p + n, 16);
            memset(p + n + 2, 0, 16);
            pdx_gen_be32(p + n + 2, 0x20010db8u);
            pdx_gen_be32(p + n + 14, (uint32_t)q->flow);
            n += 18;
        }
    }
    return n;
}

static void flow_addrs(const pending *q, pdx_gen_addr *cli, uint16_t *cport, pdx_gen_addr *srv)
{
    int v6 = q->server >= 4;
    pdx_gen_client(q->flow, v6, cli, cport);
    if (v6)
        pdx_gen_addr6(srv, 0x20010db800000053ULL, 0x53u + q->server);
    else
        pdx_gen_addr4(srv, 0xc0000235u + q->server); /* 192.0.2.53.. */
}

/* Builds the query (response != 0: the response) frame into frame. */
static size_t dns_frame(uint8_t *frame, const pending *q, int response)
{
    uint8_t msg[128];
    pdx_gen_addr cli, srv;
    pdx_gen_pkt s;
    uint16_t cport;
    flow_addrs(q, &cli, &cport, &srv);
    memset(&s, 0, sizeof s);
    s.proto = 17;
    s.src = response ? &srv : &cli;
    s.dst = response ? &cli : &srv;
    s.sport = response ? 53 : cport;
    s.dport = response ? cport : 53;
    s.ttl = response ? 57 : 64;
    s.ip_id = (uint16_t)(q->flow * 7 + (unsigned)response);
    s.payload = msg;
    s.paylen = dns_msg(msg, q, response);
    return pdx_gen_frame(frame, PDX_GEN_ETH, response, 0, &s);
}

static void emit_response(pdx_gen_out *o, const pending *q, FILE *truth)
{
    uint8_t *frame = pdx_gen_out_frame(o, 256);
    size_t len = dns_frame(frame, q, 1);
    int64_t ts = pdx_gen_out_quant(o, 0, q->ts);
    pdx_gen_out_commit(o, 0, ts, len, len);
    if (truth != NULL) {
        pdx_gen_truth t;
        memset(&t, 0, sizeof t);
        flow_addrs(q, &t.src, &t.sport, &t.dst);
        t.dport = 53;
        t.proto = 17;
        t.packets = 2;
        t.bytes = (uint64_t)q->qlen + len;
        t.first_ns = q->first_ns;
        t.last_ns = ts;
        pdx_gen_truth_print(truth, &t);
    }
}

int pdx_gen_cmd_dns(int argc, char **argv)
{
    const char *out_path = NULL, *truth_path = NULL;
    uint64_t nflows = 0, seed = 1;
    int spread = 0, format = PDX_GEN_FMT_PCAP, nsec = 0;
    int64_t ts = 1700000000LL * 1000000000LL;
    pdx_gen_rng rng;
    pdx_gen_out o;
    heap h;
    FILE *truth = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (strcmp(a, "-o") == 0)
            out_path = pdx_gen_optarg(argc, argv, &i);
        else if (strcmp(a, "--truth") == 0)
            truth_path = pdx_gen_optarg(argc, argv, &i);
        else if (strcmp(a, "--flows") == 0)
            bad = pdx_gen_parse_size(pdx_gen_optarg(argc, argv, &i), &nflows) || nflows == 0;
        else if (strcmp(a, "--seed") == 0)
            bad = pdx_gen_parse_u64(pdx_gen_optarg(argc, argv, &i), &seed);
        else if (strcmp(a, "--timeout-spread") == 0)
            spread = 1;
        else if (strcmp(a, "--nsec") == 0)
            nsec = 1;
        else if (strcmp(a, "--format") == 0) {
            a = pdx_gen_optarg(argc, argv, &i);
            format = strcmp(a, "pcap") == 0 ? PDX_GEN_FMT_PCAP : strcmp(a, "pcapng") == 0 ? PDX_GEN_FMT_PCAPNG : -1;
            bad = format < 0;
        } else
            bad = 1;
        if (bad) {
            fprintf(stderr, "pcapgen dns: bad argument '%s'\n", argv[i]);
            pdx_gen_usage();
        }
    }
    if (out_path == NULL || nflows == 0)
        pdx_gen_usage();

    pdx_gen_rng_seed(&rng, seed);
    memset(&h, 0, sizeof h);
    if (truth_path != NULL) {
        truth = pdx_gen_fopen(truth_path);
        setvbuf(truth, NULL, _IOFBF, 1 << 20);
    }
    pdx_gen_out_open(&o, out_path, format, nsec, 1);
    for (uint64_t flow = 0; flow < nflows; flow++) {
        pending q;
        uint8_t *frame;
        size_t len;
        int64_t delay_ns;

        ts += 1000 * (int64_t)pdx_gen_rng_range(&rng, 1, 399);
        while (h.n > 0 && h.v[0].ts <= ts) {
            pending p = heap_pop(&h);
            emit_response(&o, &p, truth);
        }
        memset(&q, 0, sizeof q);
        q.flow = flow;
        q.txid = (uint16_t)pdx_gen_rng_next(&rng);
        q.server = (uint8_t)(pdx_gen_rng_below(&rng, 10) == 0 ? 4 + pdx_gen_rng_below(&rng, 2)
                                                              : pdx_gen_rng_below(&rng, 4));
        q.qtype_aaaa = (uint8_t)pdx_gen_rng_chance(&rng, 300);
        q.nx = (uint8_t)pdx_gen_rng_chance(&rng, 50);
        if (spread && pdx_gen_rng_chance(&rng, 200)) {
            uint32_t e = pdx_gen_rng_range(&rng, 6, 18); /* 64 ms .. 2^19 ms */
            delay_ns = ((int64_t)1 << e) * 1000000 + (int64_t)pdx_gen_rng_below(&rng, 1u << e) * 1000000 +
                       (int64_t)pdx_gen_rng_below(&rng, 1000000);
        } else {
            delay_ns = 200000 + (int64_t)pdx_gen_rng_below(&rng, 30000000);
        }
        frame = pdx_gen_out_frame(&o, 256);
        len = dns_frame(frame, &q, 0);
        q.first_ns = pdx_gen_out_quant(&o, 0, ts);
        q.qlen = (uint16_t)len;
        pdx_gen_out_commit(&o, 0, q.first_ns, len, len);
        /* the response never shares the query's stored timestamp */
        q.ts = q.first_ns + PDX_MAX(delay_ns, nsec ? 1 : 1000);
        heap_push(&h, &q);
    }
    while (h.n > 0) {
        pending p = heap_pop(&h);
        emit_response(&o, &p, truth);
    }
    pdx_gen_out_close(&o);
    if (truth != NULL)
        pdx_gen_fclose(truth, truth_path);
    free(h.v);
    return 0;
}
