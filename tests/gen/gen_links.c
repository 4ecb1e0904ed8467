/*
 * gen_links.c - `pcapgen links`: one small good capture per link type and
 * encapsulation, each with a few interleaved flows (a TCP session, a UDP
 * exchange, an ICMP echo pair, over IPv4 and, where the link can carry it,
 * IPv6) and NAME.truth in the --truth format.
 *
 * Tunnels (ipip, gre, vxlan, geneve, gtpu) carry the flows inside; the truth
 * names the innermost 5-tuple and counts whole frames.  The fragment files
 * send UDP datagrams in IPv4 or IPv6 fragments (one datagram's fragments out
 * of order); every fragment counts toward its datagram's flow.  eth.pcap
 * also holds two ARP frames, which belong to no flow.  pcapng-multi.pcapng
 * has an Ethernet interface (microseconds) and a RAW one (nanoseconds).
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

enum { E_LINK, E_IPIP, E_GRE, E_VXLAN, E_GENEVE, E_GTPU };
enum { F_TCP, F_UDP, F_ICMP };

#define MAX_FLOWS 16

typedef struct lflow {
    pdx_gen_truth t;
    int kind;
    int step;
    uint32_t nxt[2];
    uint16_t ipid[2];
    uint32_t iface;
} lflow;

typedef struct lctx {
    const char *dir;
    pdx_gen_rng rng;
    pdx_gen_out o;
    int links[2];     /* link type per interface */
    int encap;
    int64_t clock;
    uint16_t outer_id;
    lflow fl[MAX_FLOWS];
    size_t nfl;
    uint8_t pool[4096];
} lctx;

/* ---- one frame ---- */

static size_t outer_ip4(uint8_t *p, int dir, uint8_t proto, size_t payload_len, uint16_t id)
{
    pdx_gen_addr a, b;
    pdx_gen_addr4(&a, 0xc0000201u); /* 192.0.2.1: tunnel endpoint on the client side */
    pdx_gen_addr4(&b, 0xc0000202u);
    return pdx_gen_ip4_hdr(p, dir ? &b : &a, dir ? &a : &b, proto, payload_len, id, 64, 0x4000);
}

/* Outer UDP header at p for a payload of n bytes already in place after it. */
static size_t outer_udp(uint8_t *p, int dir, uint16_t sport, uint16_t dport, size_t n)
{
    pdx_gen_addr a, b;
    pdx_gen_addr4(&a, 0xc0000201u);
    pdx_gen_addr4(&b, 0xc0000202u);
    pdx_gen_be16(p, sport);
    pdx_gen_be16(p + 2, dport);
    pdx_gen_be16(p + 4, (uint16_t)(8 + n));
    pdx_gen_l4_csum(p, 8 + n, 17, dir ? &b : &a, dir ? &a : &b);
    return 8;
}

/* Wraps the IP packet (ethertype et) per the file's encapsulation and writes it. */
static void emit_ip(lctx *c, lflow *f, int dir, const uint8_t *ip, size_t iplen, uint16_t et)
{
    int link = c->links[f->iface];
    uint8_t *fr = pdx_gen_out_frame(&c->o, iplen + 128);
    uint16_t ep = (uint16_t)(49152u + (f->t.order * 2654435761u) % 16384u); /* outer UDP entropy port */
    int teb = c->encap == E_GRE && f->kind == F_ICMP; /* GRE transparent Ethernet bridging */
    size_t n = 0, h;
    int64_t ts;

    switch (c->encap) {
    case E_LINK:
        n = pdx_gen_link_hdr(fr, link, et, dir, (uint32_t)f->t.order, iplen);
        memcpy(fr + n, ip, iplen);
        n = pdx_gen_eth_pad(fr, link, n + iplen);
        break;
    case E_IPIP:
        n = pdx_gen_eth_hdr(fr, dir, 0x0800);
        n += outer_ip4(fr + n, dir, et == 0x86dd ? 41 : 4, iplen, c->outer_id++);
        memcpy(fr + n, ip, iplen);
        n += iplen;
        break;
    case E_GRE:
        n = pdx_gen_eth_hdr(fr, dir, 0x0800);
        h = n;
        n += 20;
        pdx_gen_be16(fr + n, 0x2000); /* key present, version 0 */
        pdx_gen_be16(fr + n + 2, teb ? 0x6558 : et);
        pdx_gen_be32(fr + n + 4, 42);
        n += 8;
        if (teb)
            n += pdx_gen_eth_hdr(fr + n, dir, et);
        memcpy(fr + n, ip, iplen);
        n += iplen;
        outer_ip4(fr + h, dir, 47, n - h - 20, c->outer_id++);
        break;
    case E_VXLAN:
    case E_GENEVE:
    case E_GTPU:
        n = pdx_gen_eth_hdr(fr, dir, 0x0800);
        h = n;
        n += 28;
        if (c->encap == E_VXLAN) {
            pdx_gen_be32(fr + n, 0x08000000u);
            pdx_gen_be32(fr + n + 4, 5001u << 8);
            n += 8;
            n += pdx_gen_eth_hdr(fr + n, dir, et);
        } else if (c->encap == E_GENEVE) {
            fr[n] = 0x02; /* version 0, 2 words of options */
            fr[n + 1] = 0;
            pdx_gen_be16(fr + n + 2, 0x6558);
            pdx_gen_be32(fr + n + 4, 7001u << 8);
            pdx_gen_be16(fr + n + 8, 0x0102); /* option class */
            fr[n + 10] = 0x80;                /* type */
            fr[n + 11] = 1;                   /* 1 word of data */
            pdx_gen_be32(fr + n + 12, 0xdeadbeefu);
            n += 16;
            n += pdx_gen_eth_hdr(fr + n, dir, et);
        } else {
            fr[n] = 0x30; /* GTPv1, PT=1 */
            fr[n + 1] = 0xff; /* T-PDU */
            pdx_gen_be16(fr + n + 2, (uint16_t)iplen);
            pdx_gen_be32(fr + n + 4, 0x10000000u + (uint32_t)dir);
            n += 8;
        }
        memcpy(fr + n, ip, iplen);
        n += iplen;
        outer_udp(fr + h + 20, dir, c->encap == E_GTPU ? 2152 : ep,
                  c->encap == E_VXLAN ? 4789 : c->encap == E_GENEVE ? 6081 : 2152, n - h - 28);
        outer_ip4(fr + h, dir, 17, n - h - 20, c->outer_id++);
        break;
    }
    c->clock += 1000 * (int64_t)pdx_gen_rng_range(&c->rng, 50, 5000);
    ts = pdx_gen_out_quant(&c->o, f->iface, c->clock);
    pdx_gen_out_commit(&c->o, f->iface, ts, n, n);
    pdx_gen_truth_count(&f->t, ts, n);
}

static void emit_pkt(lctx *c, lflow *f, int dir, pdx_gen_pkt *s)
{
    uint8_t ip[2048];
    size_t n;
    s->src = dir ? &f->t.dst : &f->t.src;
    s->dst = dir ? &f->t.src : &f->t.dst;
    s->ttl = dir ? 60 : 64;
    s->ip_id = f->ipid[dir]++;
    n = pdx_gen_ippkt(ip, s);
    emit_ip(c, f, dir, ip, n, f->t.src.v6 ? 0x86dd : 0x0800);
}

/* ---- flows ---- */

static lflow *add_flow(lctx *c, int kind, int v6, uint32_t iface)
{
    lflow *f = &c->fl[c->nfl];
    memset(f, 0, sizeof *f);
    f->t.order = c->nfl++;
    f->kind = kind;
    f->iface = iface;
    pdx_gen_client(f->t.order + 7, v6, &f->t.src, &f->t.sport);
    if (v6)
        pdx_gen_addr6(&f->t.dst, 0x20010db800050000ULL, 0x10u + f->t.order);
    else
        pdx_gen_addr4(&f->t.dst, 0xc633640au + (uint32_t)f->t.order); /* 198.51.100.10.. */
    f->t.proto = kind == F_TCP ? 6 : kind == F_UDP ? 17 : v6 ? 58 : 1;
    f->t.dport = kind == F_TCP ? 443 : kind == F_UDP ? 7 : 0;
    if (kind == F_ICMP)
        f->t.sport = (uint16_t)(0x4000 + f->t.order);
    f->nxt[0] = (uint32_t)pdx_gen_rng_next(&c->rng);
    f->nxt[1] = (uint32_t)pdx_gen_rng_next(&c->rng);
    f->ipid[0] = (uint16_t)pdx_gen_rng_next(&c->rng);
    f->ipid[1] = (uint16_t)pdx_gen_rng_next(&c->rng);
    return f;
}

static const struct {
    uint8_t dir, flags;
    uint16_t len;
} tcp_script[] = {
    {0, PDX_TCP_SYN, 0},
    {1, PDX_TCP_SYN | PDX_TCP_ACK, 0},
    {0, PDX_TCP_ACK, 0},
    {0, PDX_TCP_PSH | PDX_TCP_ACK, 220},
    {1, PDX_TCP_ACK, 0},
    {1, PDX_TCP_ACK, 1400},
    {1, PDX_TCP_PSH | PDX_TCP_ACK, 610},
    {0, PDX_TCP_ACK, 0},
    {0, PDX_TCP_FIN | PDX_TCP_ACK, 0},
    {1, PDX_TCP_FIN | PDX_TCP_ACK, 0},
    {0, PDX_TCP_ACK, 0},
};
static const uint16_t udp_script[4] = {64, 180, 72, 900};

/* Emits the flow's next packet; returns 1 when the flow is over. */
static int flow_step(lctx *c, lflow *f)
{
    pdx_gen_pkt s;
    int d, k = f->step++;
    memset(&s, 0, sizeof s);
    switch (f->kind) {
    case F_TCP:
        d = tcp_script[k].dir;
        s.proto = 6;
        s.sport = d ? f->t.dport : f->t.sport;
        s.dport = d ? f->t.sport : f->t.dport;
        s.tcp_flags = tcp_script[k].flags;
        s.syn_opts = (s.tcp_flags & PDX_TCP_SYN) != 0;
        s.seq = f->nxt[d];
        s.ack = (s.tcp_flags & PDX_TCP_ACK) ? f->nxt[!d] : 0;
        s.paylen = tcp_script[k].len;
        s.payload = c->pool + 100 * k;
        f->nxt[d] += (uint32_t)s.paylen + ((s.tcp_flags & (PDX_TCP_SYN | PDX_TCP_FIN)) != 0);
        emit_pkt(c, f, d, &s);
        return f->step == (int)PDX_ARRAY_LEN(tcp_script);
    case F_UDP:
        d = k % 2;
        s.proto = 17;
        s.sport = d ? f->t.dport : f->t.sport;
        s.dport = d ? f->t.sport : f->t.dport;
        s.paylen = udp_script[k];
        s.payload = c->pool + 300 * k;
        emit_pkt(c, f, d, &s);
        return f->step == 4;
    default:
        d = k % 2;
        s.proto = f->t.proto;
        s.icmp_type = f->t.proto == 58 ? (uint8_t)(d ? 129 : 128) : (uint8_t)(d ? 0 : 8);
        s.icmp_id = f->t.sport;
        s.icmp_seq = (uint16_t)(k / 2 + 1);
        s.paylen = 56;
        s.payload = c->pool + 56 * (k / 2);
        emit_pkt(c, f, d, &s);
        return f->step == 4;
    }
}

/* Advances randomly chosen unfinished flows until all are done. */
static void run_flows(lctx *c)
{
    uint8_t done[MAX_FLOWS] = {0};
    size_t left = c->nfl;
    while (left > 0) {
        size_t i = pdx_gen_rng_below(&c->rng, (uint32_t)c->nfl);
        if (done[i])
            continue;
        if (flow_step(c, &c->fl[i])) {
            done[i] = 1;
            left--;
        }
    }
}

static void std_flows(lctx *c, int v4, int v6)
{
    for (int fam = 0; fam < 2; fam++) {
        if (!(fam ? v6 : v4))
            continue;
        add_flow(c, F_TCP, fam, 0);
        add_flow(c, F_UDP, fam, 0);
        add_flow(c, F_ICMP, fam, 0);
    }
}

/* ---- files ---- */

static void begin(lctx *c, const char *name, int format, int link, int encap)
{
    char *path = pdx_gen_path(c->dir, name);
    memset(c->fl, 0, sizeof c->fl);
    c->nfl = 0;
    c->encap = encap;
    c->links[0] = c->links[1] = link;
    c->clock = 1700000000LL * 1000000000LL;
    pdx_gen_rng_seed(&c->rng, 0x11e5 + strlen(name) * 131 + (uint64_t)name[0] * 7 + (uint64_t)name[1]);
    pdx_gen_out_open(&c->o, path, format, 0, pdx_gen_link_dlt(link));
    free(path);
}

static void end(lctx *c, const char *name)
{
    pdx_gen_truthset ts = {0};
    char tname[96];
    char *path;
    const char *dot = strrchr(name, '.');
    pdx_gen_out_close(&c->o);
    snprintf(tname, sizeof tname, "%.*s.truth", (int)(dot - name), name);
    for (size_t i = 0; i < c->nfl; i++)
        pdx_gen_truthset_push(&ts, &c->fl[i].t);
    path = pdx_gen_path(c->dir, tname);
    pdx_gen_truthset_write(&ts, path);
    free(path);
}

static void link_file(lctx *c, int link)
{
    char name[64];
    snprintf(name, sizeof name, "%s.pcap", pdx_gen_link_name(link));
    begin(c, name, PDX_GEN_FMT_PCAP, link, E_LINK);
    if (link == PDX_GEN_ETH) {
        uint8_t *fr = pdx_gen_out_frame(&c->o, 64);
        size_t n = pdx_gen_arp(fr, link, 0, 0x0a000005u, 0x0a000001u, 0);
        pdx_gen_out_commit(&c->o, 0, c->clock, n, n);
        fr = pdx_gen_out_frame(&c->o, 64);
        n = pdx_gen_arp(fr, link, 1, 0x0a000001u, 0x0a000005u, 1);
        pdx_gen_out_commit(&c->o, 0, c->clock + 1000, n, n);
    }
    std_flows(c, pdx_gen_link_has(link, 0x0800), pdx_gen_link_has(link, 0x86dd));
    /* a second IPv6 flow per family on NULL, so all three BSD AF_INET6 values appear */
    if (link == PDX_GEN_NULL || link == PDX_GEN_NULL_BE)
        add_flow(c, F_UDP, 1, 0);
    run_flows(c);
    end(c, name);
}

static void tunnel_file(lctx *c, const char *name, int encap)
{
    begin(c, name, PDX_GEN_FMT_PCAP, PDX_GEN_ETH, encap);
    std_flows(c, 1, 1);
    run_flows(c);
    end(c, name);
}

/* Sends a UDP datagram of paylen bytes from flow f in fragments of at most
 * chunk bytes of IP payload, in the order given (fragment indexes). */
static void send_fragments(lctx *c, lflow *f, int dir, size_t paylen, size_t chunk, const int *order, int n_order)
{
    uint8_t l4[8192], ip[2048];
    pdx_gen_pkt s;
    const pdx_gen_addr *src = dir ? &f->t.dst : &f->t.src, *dst = dir ? &f->t.src : &f->t.dst;
    uint16_t sport = dir ? f->t.dport : f->t.sport, dport = dir ? f->t.sport : f->t.dport;
    size_t l4len;
    uint32_t id = 0x1000u + (uint32_t)f->t.order * 0x101u + (uint32_t)dir;
    memset(&s, 0, sizeof s);
    s.proto = 17;
    s.src = src;
    s.dst = dst;
    s.sport = sport;
    s.dport = dport;
    s.payload = c->pool;
    s.paylen = paylen;
    l4len = pdx_gen_l4(l4, &s);
    pdx_gen_l4_csum(l4, l4len, 17, src, dst);
    for (int k = 0; k < n_order; k++) {
        size_t off = (size_t)order[k] * chunk, len = PDX_MIN(chunk, l4len - off), n;
        int more = off + len < l4len;
        if (src->v6) {
            n = pdx_gen_ip6_hdr(ip, src, dst, 44, 8 + len, 64);
            ip[n] = 17;
            ip[n + 1] = 0;
            pdx_gen_be16(ip + n + 2, (uint16_t)(off | (unsigned)more));
            pdx_gen_be32(ip + n + 4, id);
            n += 8;
        } else {
            n = pdx_gen_ip4_hdr(ip, src, dst, 17, len, (uint16_t)id,
                                64, (uint16_t)((more ? 0x2000u : 0) | (off / 8)));
        }
        memcpy(ip + n, l4 + off, len);
        emit_ip(c, f, dir, ip, n + len, src->v6 ? 0x86dd : 0x0800);
    }
}

static void frag_file(lctx *c, const char *name, int v6)
{
    static const int in_order[3] = {0, 1, 2}, shuffled[3] = {2, 0, 1};
    size_t chunk = v6 ? 1448 : 1480;
    lflow *a, *b, *t;
    pdx_gen_pkt s;
    begin(c, name, PDX_GEN_FMT_PCAP, PDX_GEN_ETH, E_LINK);
    a = add_flow(c, F_UDP, v6, 0);
    b = add_flow(c, F_UDP, v6, 0);
    t = add_flow(c, F_TCP, v6, 0);
    /* a: small query, 3000-byte answer in three fragments */
    memset(&s, 0, sizeof s);
    s.proto = 17;
    s.sport = a->t.sport;
    s.dport = a->t.dport;
    s.payload = c->pool;
    s.paylen = 40;
    emit_pkt(c, a, 0, &s);
    flow_step(c, t);
    send_fragments(c, a, 1, 3000, chunk, in_order, 3);
    flow_step(c, t);
    /* b: 3500-byte datagram whose fragments arrive last first, then a reply */
    send_fragments(c, b, 0, 3500, chunk, shuffled, 3);
    memset(&s, 0, sizeof s);
    s.proto = 17;
    s.sport = b->t.dport;
    s.dport = b->t.sport;
    s.payload = c->pool;
    s.paylen = 20;
    emit_pkt(c, b, 1, &s);
    while (!flow_step(c, t))
        ;
    end(c, name);
}

/* IPv6 extension header chains: HBH for TCP, HBH+Routing+DstOpts for UDP,
 * DstOpts for ICMPv6. */
static void ext_file(lctx *c)
{
    static const uint8_t chain_tcp[1] = {0}, chain_udp[3] = {0, 43, 60}, chain_icmp[1] = {60};
    const char *name = "ipv6-ext-headers.pcap";
    uint8_t done[3] = {0};
    int left = 3;
    begin(c, name, PDX_GEN_FMT_PCAP, PDX_GEN_ETH, E_LINK);
    add_flow(c, F_TCP, 1, 0);
    add_flow(c, F_UDP, 1, 0);
    add_flow(c, F_ICMP, 1, 0);
    while (left > 0) {
        uint32_t i = pdx_gen_rng_below(&c->rng, 3);
        lflow *f = &c->fl[i];
        int k = f->step++, d, last;
        pdx_gen_pkt s;
        uint8_t l4[2048], ip[2200];
        size_t l4len, n, e = 0;
        uint8_t ext[64];
        const uint8_t *chain;
        int nc;
        if (done[i]) {
            f->step--;
            continue;
        }
        memset(&s, 0, sizeof s);
        s.proto = f->t.proto;
        if (f->kind == F_TCP) {
            d = tcp_script[k].dir;
            s.tcp_flags = tcp_script[k].flags;
            s.syn_opts = (s.tcp_flags & PDX_TCP_SYN) != 0;
            s.seq = f->nxt[d];
            s.ack = (s.tcp_flags & PDX_TCP_ACK) ? f->nxt[!d] : 0;
            s.paylen = tcp_script[k].len;
            f->nxt[d] += (uint32_t)s.paylen + ((s.tcp_flags & (PDX_TCP_SYN | PDX_TCP_FIN)) != 0);
            last = f->step == (int)PDX_ARRAY_LEN(tcp_script);
        } else {
            d = k % 2;
            s.paylen = f->kind == F_UDP ? udp_script[k] : 56;
            s.icmp_type = (uint8_t)(d ? 129 : 128);
            s.icmp_id = f->t.sport;
            s.icmp_seq = (uint16_t)(k / 2 + 1);
            last = f->step == 4;
        }
        s.sport = d ? f->t.dport : f->t.sport;
        s.dport = d ? f->t.sport : f->t.dport;
        s.payload = c->pool + 64 * k;
        s.src = d ? &f->t.dst : &f->t.src;
        s.dst = d ? &f->t.src : &f->t.dst;
        l4len = pdx_gen_l4(l4, &s);
        pdx_gen_l4_csum(l4, l4len, s.proto, s.src, s.dst);
        memset(ext, 0, sizeof ext);
        nc = f->kind == F_TCP ? 1 : f->kind == F_UDP ? 3 : 1;
        chain = f->kind == F_TCP ? chain_tcp : f->kind == F_UDP ? chain_udp : chain_icmp;
        for (int j = 0; j < nc; j++) {
            ext[e] = j + 1 < nc ? chain[j + 1] : s.proto;
            switch (chain[j]) {
            case 0: /* Hop-by-Hop: Router Alert + PadN */
                ext[e + 2] = 5;
                ext[e + 3] = 2;
                ext[e + 6] = 1;
                e += 8;
                break;
            case 43: /* Routing type 2 whose home address is the destination itself */
                ext[e + 1] = 2;
                ext[e + 2] = 2;
                ext[e + 3] = 1;
                memcpy(ext + e + 8, s.dst->a, 16);
                e += 24;
                break;
            default: /* Destination Options: PadN */
                ext[e + 2] = 1;
                ext[e + 3] = 4;
                e += 8;
                break;
            }
        }
        n = pdx_gen_ip6_hdr(ip, s.src, s.dst, chain[0], e + l4len, d ? 60 : 64);
        memcpy(ip + n, ext, e);
        memcpy(ip + n + e, l4, l4len);
        emit_ip(c, f, d, ip, n + e + l4len, 0x86dd);
        if (last) {
            done[i] = 1;
            left--;
        }
    }
    end(c, name);
}

static void multi_file(lctx *c)
{
    const char *name = "pcapng-multi.pcapng";
    begin(c, name, PDX_GEN_FMT_PCAPNG, PDX_GEN_ETH, E_LINK);
    c->links[1] = PDX_GEN_RAW;
    pdx_gen_out_add_iface(&c->o, pdx_gen_link_dlt(PDX_GEN_RAW), 1);
    std_flows(c, 1, 1);
    add_flow(c, F_TCP, 0, 1);
    add_flow(c, F_UDP, 1, 1);
    add_flow(c, F_ICMP, 0, 1);
    add_flow(c, F_TCP, 1, 1);
    run_flows(c);
    end(c, name);
}

int pdx_gen_cmd_links(int argc, char **argv)
{
    static const struct {
        const char *name;
        int encap;
    } tunnels[] = {
        {"ipip.pcap", E_IPIP}, {"gre.pcap", E_GRE}, {"vxlan.pcap", E_VXLAN},
        {"geneve.pcap", E_GENEVE}, {"gtpu.pcap", E_GTPU},
    };
    lctx *c;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0)
            dir = pdx_gen_optarg(argc, argv, &i);
        else {
            fprintf(stderr, "pcapgen links: bad argument '%s'\n", argv[i]);
            pdx_gen_usage();
        }
    }
    if (dir == NULL)
        pdx_gen_usage();
    pdx_gen_mkdir(dir);
    c = pdx_gen_xcalloc(1, sizeof *c);
    c->dir = dir;
    {
        pdx_gen_rng r;
        pdx_gen_rng_seed(&r, 99);
        for (size_t i = 0; i < sizeof c->pool; i++)
            c->pool[i] = (uint8_t)(pdx_gen_rng_next(&r) >> 56);
    }
    for (int l = 0; l < PDX_GEN_NLINKS; l++)
        link_file(c, l);
    for (size_t i = 0; i < PDX_ARRAY_LEN(tunnels); i++)
        tunnel_file(c, tunnels[i].name, tunnels[i].encap);
    frag_file(c, "ipv4-fragments.pcap", 0);
    frag_file(c, "ipv6-fragments.pcap", 1);
    ext_file(c);
    multi_file(c);
    free(c);
    return 0;
}
