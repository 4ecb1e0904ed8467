/* test_flow.c - flow assembly: direction, initiator, TCP close and reuse,
 * timeouts, ICMP, fragments, link-layer flows, offset segments, and
 * Community ID. */
#include <stdlib.h>

#include "communityid.h"
#include "flow.h"
#include "pdx.h"
#include "unit.h"
#include "varint.h"

#define SEC 1000000000LL
#define MAX_REC 64

/* What the ops saw. */
typedef struct rec_flow {
    int64_t id;
    int end_reason;
    int state;
    uint64_t pk0, pk1, by0, by1;
    uint8_t src[16];
    uint16_t sport, dport;
} rec_flow;

typedef struct recorder {
    rec_flow flows[MAX_REC];
    int nflows;
    int64_t seg_flow[MAX_REC], seg_cap[MAX_REC];
    uint64_t seg_count[MAX_REC];
    uint64_t seg_offs[MAX_REC][64];
    int nsegs;
} recorder;

static int put_flow(void *ctx, const pdx_flow *f)
{
    recorder *r = ctx;
    CHECK(r->nflows < MAX_REC);
    rec_flow *o = &r->flows[r->nflows++];
    o->id = f->id;
    o->end_reason = f->end_reason;
    o->state = f->state;
    o->pk0 = f->pk[0];
    o->pk1 = f->pk[1];
    o->by0 = f->by[0];
    o->by1 = f->by[1];
    memcpy(o->src, f->src, 16);
    o->sport = f->sport;
    o->dport = f->dport;
    return 0;
}

static int put_segment(void *ctx, const pdx_flow *f)
{
    recorder *r = ctx;
    CHECK(r->nsegs < MAX_REC && f->ocount <= 64);
    r->seg_flow[r->nsegs] = f->id;
    r->seg_cap[r->nsegs] = f->cur_capture;
    r->seg_count[r->nsegs] = f->ocount;
    CHECK_EQ(pdx_offsets_decode(PDX_OFFS_VARINT, f->obuf, f->olen, f->ocount, r->seg_offs[r->nsegs]),
             0);
    r->nsegs++;
    return 0;
}

static pdx_flowtab *table(recorder *r, uint32_t segbytes)
{
    pdx_flow_cfg cfg;
    pdx_flow_ops ops = {r, put_segment, put_flow};
    memset(r, 0, sizeof(*r));
    pdx_flow_cfg_default(&cfg);
    if (segbytes)
        cfg.segment_bytes = segbytes;
    pdx_flowtab *t = pdx_flowtab_create(&cfg, &ops, 1);
    CHECK(t != NULL);
    return t;
}

static void v4(uint8_t out[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    memset(out, 0, 16);
    out[10] = out[11] = 0xff;
    out[12] = a;
    out[13] = b;
    out[14] = c;
    out[15] = d;
}

static pdx_pkt tcp(int from_a, uint8_t flags)
{
    pdx_pkt p;
    memset(&p, 0, sizeof(p));
    p.kind = PDX_KIND_IP4;
    p.proto = 6;
    p.flags = PDX_PKT_HAS_L4;
    p.tcp_flags = flags;
    v4(from_a ? p.src : p.dst, 10, 0, 0, 1);
    v4(from_a ? p.dst : p.src, 10, 0, 0, 2);
    p.sport = from_a ? 40000 : 80;
    p.dport = from_a ? 80 : 40000;
    return p;
}

static const rec_flow *find(const recorder *r, int64_t id, int nth)
{
    const rec_flow *last = NULL;
    for (int i = 0; i < r->nflows; i++)
        if (r->flows[i].id == id && nth-- >= 0)
            last = &r->flows[i];
    return last;
}

static void tcp_session_one_flow(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt a = tcp(1, 0x02), b = tcp(0, 0x12), c = tcp(1, 0x10), d = tcp(0, 0x18);
    CHECK_EQ(pdx_flowtab_packet(t, &a, 1, 1, 24, 1 * SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &b, 1, 1, 100, 1 * SEC + 1, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &c, 1, 1, 200, 1 * SEC + 2, 54), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &d, 1, 1, 300, 1 * SEC + 3, 1000), 0);
    CHECK_EQ(pdx_flowtab_live(t), 1);
    CHECK_EQ(pdx_flowtab_end_capture(t, 1), 0);
    CHECK_EQ(r.nflows, 1);
    CHECK_EQ(r.flows[0].id, 1);
    CHECK_EQ(r.flows[0].pk0, 2);
    CHECK_EQ(r.flows[0].pk1, 2);
    CHECK_EQ(r.flows[0].by0, 114);
    CHECK_EQ(r.flows[0].by1, 1060);
    CHECK_EQ(r.flows[0].sport, 40000);
    CHECK_EQ(r.flows[0].state & PDX_FS_LIVE, PDX_FS_LIVE);
    CHECK_EQ(r.flows[0].end_reason, PDX_END_OPEN);
    CHECK_EQ(r.nsegs, 1);
    CHECK_EQ(r.seg_count[0], 4);
    CHECK_EQ_U64(r.seg_offs[0][0], 24);
    CHECK_EQ_U64(r.seg_offs[0][3], 300);
    pdx_flowtab_free(t);
}

static void synack_first_flips_initiator(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt b = tcp(0, 0x12), c = tcp(1, 0x10);
    CHECK_EQ(pdx_flowtab_packet(t, &b, 1, 1, 24, SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &c, 1, 1, 90, SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_end_capture(t, 1), 0);
    CHECK_EQ(r.nflows, 1);
    CHECK_EQ(r.flows[0].sport, 40000); /* the SYN-ACK's receiver initiated */
    CHECK_EQ(r.flows[0].dport, 80);
    CHECK_EQ(r.flows[0].pk0, 1);
    CHECK_EQ(r.flows[0].pk1, 1);
    pdx_flowtab_free(t);
}

static void fin_then_syn_starts_new_flow(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt syn = tcp(1, 0x02), fin1 = tcp(1, 0x11), fin2 = tcp(0, 0x11), ack = tcp(1, 0x10);
    CHECK_EQ(pdx_flowtab_packet(t, &syn, 1, 1, 24, SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &fin1, 1, 1, 100, SEC + 1, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &fin2, 1, 1, 200, SEC + 2, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &ack, 1, 1, 300, SEC + 3, 60), 0); /* trailing ACK joins */
    CHECK_EQ(r.nflows, 0);
    CHECK_EQ(pdx_flowtab_packet(t, &syn, 1, 1, 400, 2 * SEC, 60), 0); /* reuse */
    CHECK_EQ(r.nflows, 1);
    CHECK_EQ(r.flows[0].id, 1);
    CHECK_EQ(r.flows[0].end_reason, PDX_END_FIN);
    CHECK_EQ(r.flows[0].pk0 + r.flows[0].pk1, 4);
    CHECK_EQ(r.flows[0].state & PDX_FS_LIVE, 0);
    CHECK_EQ(pdx_flowtab_end_capture(t, 1), 0);
    CHECK_EQ(r.nflows, 2);
    CHECK_EQ(r.flows[1].id, 2);
    CHECK_EQ(r.flows[1].pk0, 1);
    pdx_flowtab_free(t);
}

static void rst_ends_and_idle_timeout(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt syn = tcp(1, 0x02), rst = tcp(0, 0x14), data = tcp(1, 0x18);
    CHECK_EQ(pdx_flowtab_packet(t, &syn, 1, 1, 24, SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &rst, 1, 1, 100, SEC, 60), 0);
    /* 11 s later the closing linger (10 s) is over: a new flow. */
    CHECK_EQ(pdx_flowtab_packet(t, &data, 1, 1, 200, 12 * SEC, 60), 0);
    CHECK_EQ(r.nflows, 1);
    CHECK_EQ(r.flows[0].end_reason, PDX_END_RST);
    /* 121 s of silence ends the second one by the idle timeout. */
    pdx_pkt u = tcp(1, 0x10);
    v4(u.src, 192, 168, 0, 1);
    CHECK_EQ(pdx_flowtab_packet(t, &u, 1, 1, 300, 134 * SEC, 60), 0);
    CHECK_EQ(r.nflows, 2);
    CHECK_EQ(r.flows[1].id, 2);
    CHECK_EQ(r.flows[1].end_reason, PDX_END_IDLE);
    pdx_flowtab_free(t);
}

static void icmp_echo_pairs(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt req;
    memset(&req, 0, sizeof(req));
    req.kind = PDX_KIND_IP4;
    req.proto = 1;
    req.flags = PDX_PKT_HAS_L4;
    v4(req.src, 10, 0, 0, 1);
    v4(req.dst, 10, 0, 0, 2);
    req.sport = 8;
    req.icmp_id = 77;
    pdx_pkt rep = req;
    memcpy(rep.src, req.dst, 16);
    memcpy(rep.dst, req.src, 16);
    rep.sport = 0;
    pdx_pkt other = req;
    other.icmp_id = 78;
    CHECK_EQ(pdx_flowtab_packet(t, &req, 1, 1, 24, SEC, 98), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &rep, 1, 1, 130, SEC, 98), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &other, 1, 1, 240, SEC, 98), 0);
    CHECK_EQ(pdx_flowtab_live(t), 2);
    CHECK_EQ(pdx_flowtab_end_capture(t, 1), 0);
    const rec_flow *f = find(&r, 1, 0);
    CHECK(f != NULL);
    CHECK_EQ(f->pk0, 1);
    CHECK_EQ(f->pk1, 1);
    pdx_flowtab_free(t);
}

static void fragments_follow_first(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt first = tcp(1, 0);
    first.proto = 17;
    first.flags |= PDX_PKT_FRAGMENT;
    first.frag_id = 4242;
    first.frag_more = 1;
    pdx_pkt later = first;
    later.flags = PDX_PKT_FRAGMENT;
    later.sport = later.dport = 0;
    later.frag_offset = 1480;
    later.frag_more = 0;
    CHECK_EQ(pdx_flowtab_packet(t, &first, 1, 1, 24, SEC, 1514), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &later, 1, 1, 1600, SEC, 600), 0);
    CHECK_EQ(pdx_flowtab_live(t), 1);
    /* A fragment of another datagram whose first part was never seen
     * goes to a port-less flow of the same hosts. */
    later.frag_id = 9999;
    CHECK_EQ(pdx_flowtab_packet(t, &later, 1, 1, 2300, SEC, 600), 0);
    CHECK_EQ(pdx_flowtab_live(t), 2);
    CHECK_EQ(pdx_flowtab_end_capture(t, 1), 0);
    CHECK_EQ(r.flows[0].pk0 + r.flows[1].pk0, 3);
    pdx_flowtab_free(t);
}

static void l2_flows_by_mac_pair(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt a;
    memset(&a, 0, sizeof(a));
    a.kind = PDX_KIND_L2;
    a.flags = PDX_PKT_HAS_MAC;
    a.ethertype = 0x0806;
    memcpy(a.src_mac, "\x00\x11\x22\x33\x44\x55", 6);
    memcpy(a.dst_mac, "\xff\xff\xff\xff\xff\xff", 6);
    pdx_pkt b = a;
    memcpy(b.src_mac, a.dst_mac, 6);
    memcpy(b.dst_mac, a.src_mac, 6);
    pdx_pkt lldp = a;
    lldp.ethertype = 0x88cc;
    CHECK_EQ(pdx_flowtab_packet(t, &a, 1, 1, 24, SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &b, 1, 1, 100, SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_packet(t, &lldp, 1, 1, 200, SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_live(t), 2);
    CHECK_EQ(pdx_flowtab_end_capture(t, 1), 0);
    const rec_flow *f = find(&r, 1, 0);
    CHECK(f && f->pk0 == 1 && f->pk1 == 1);
    pdx_flowtab_free(t);
}

static void segments_split_and_captures(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 64);
    pdx_pkt a = tcp(1, 0x10);
    uint64_t off = 24;
    /* 40 packets with 3-byte deltas: 64-byte segments split them. */
    for (int i = 0; i < 40; i++, off += 20000)
        CHECK_EQ(pdx_flowtab_packet(t, &a, 1, 1, off, SEC + i, 60), 0);
    CHECK_EQ(pdx_flowtab_end_capture(t, 1), 0);
    uint64_t total = 0;
    for (int i = 0; i < r.nsegs; i++) {
        CHECK_EQ(r.seg_cap[i], 1);
        total += r.seg_count[i];
    }
    CHECK(r.nsegs >= 2);
    CHECK_EQ_U64(total, 40);
    CHECK_EQ_U64(r.seg_offs[0][0], 24);
    CHECK_EQ_U64(r.seg_offs[1][0], 24 + 20000 * r.seg_count[0]);
    /* The flow continues in capture 2 with its own segment list. */
    int before = r.nsegs;
    CHECK_EQ(pdx_flowtab_packet(t, &a, 1, 2, 24, 2 * SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_end_capture(t, 2), 0);
    CHECK_EQ(r.nsegs, before + 1);
    CHECK_EQ(r.seg_cap[before], 2);
    CHECK_EQ_U64(r.seg_offs[before][0], 24);
    CHECK_EQ(r.flows[r.nflows - 1].id, 1);
    CHECK_EQ(r.flows[r.nflows - 1].pk0, 41);
    pdx_flowtab_free(t);
}

/* A stored live TCP flow (ID 41) of the tcp() packets, as an index
 * would give it back. */
static void live_tcp_flow(pdx_flow *f)
{
    pdx_pkt a = tcp(1, 0x10);
    memset(f, 0, sizeof(*f));
    f->id = 41;
    f->kind = PDX_KIND_IP4;
    f->proto = 6;
    memcpy(f->src, a.src, 16);
    memcpy(f->dst, a.dst, 16);
    f->sport = 40000;
    f->dport = 80;
    f->first_ns = f->last_ns = SEC;
    f->state = PDX_FS_LIVE;
    f->vlan = f->vlan_inner = -1;
}

static void adopted_flow_continues(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_pkt b = tcp(0, 0x10);
    pdx_flow f;
    live_tcp_flow(&f);
    f.pk[0] = 5;
    CHECK_EQ(pdx_flowtab_adopt(t, &f), 0);
    CHECK_EQ(pdx_flowtab_next_id(t), 42);
    CHECK_EQ(pdx_flowtab_packet(t, &b, 1, 7, 24, 2 * SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_live(t), 1);
    CHECK_EQ(pdx_flowtab_end_capture(t, 7), 0);
    CHECK_EQ(r.flows[0].id, 41);
    CHECK_EQ(r.flows[0].pk0, 5);
    CHECK_EQ(r.flows[0].pk1, 1);
    pdx_flowtab_free(t);
}

/* A damaged index can hold two live flows with one key: the second is
 * refused (the table would lose track of the first), and so is an ID that
 * leaves none for the next flow. */
static void adopt_refuses_a_clash(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_flow f;
    live_tcp_flow(&f);
    CHECK_EQ(pdx_flowtab_adopt(t, &f), 0);
    f.id = 42;
    CHECK_EQ(pdx_flowtab_adopt(t, &f), PDX_ECORRUPT);
    CHECK_EQ(pdx_flowtab_live(t), 1);
    f.sport = 40001;
    f.id = INT64_MAX;
    CHECK_EQ(pdx_flowtab_adopt(t, &f), PDX_ECORRUPT);
    CHECK_EQ(pdx_flowtab_next_id(t), 42);
    /* The first flow still ends and is freed normally. */
    CHECK_EQ(pdx_flowtab_end_capture(t, 7), 0);
    pdx_flowtab_free(t);
}

/* Adopting ID n makes n + 1 the next ID, and handing that out adds 1 again:
 * an ID near INT64_MAX (only a damaged index holds one) is refused, the
 * largest allowed one leaves room, and neither moves the next ID wrongly. */
static void adopt_refuses_ids_without_room(void)
{
    recorder r;
    pdx_flowtab *t = table(&r, 0);
    pdx_flow f;
    live_tcp_flow(&f);
    const int64_t bad[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX - 2, PDX_FLOW_ID_MAX + 1};
    for (size_t i = 0; i < PDX_ARRAY_LEN(bad); i++) {
        f.id = bad[i];
        CHECK_EQ(pdx_flowtab_adopt(t, &f), PDX_ECORRUPT);
        CHECK_EQ(pdx_flowtab_live(t), 0);
        CHECK_EQ(pdx_flowtab_next_id(t), 1);
    }
    f.id = PDX_FLOW_ID_MAX;
    CHECK_EQ(pdx_flowtab_adopt(t, &f), 0);
    CHECK_EQ(pdx_flowtab_next_id(t), PDX_FLOW_ID_MAX + 1);
    /* A new flow after it takes the next ID, with room to spare. */
    pdx_pkt p = tcp(1, 0x02);
    p.sport = 40001;
    CHECK_EQ(pdx_flowtab_packet(t, &p, 1, 7, 24, 2 * SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_next_id(t), PDX_FLOW_ID_MAX + 2);
    CHECK_EQ(pdx_flowtab_end_capture(t, 7), 0);
    CHECK_EQ(r.nflows, 1);
    CHECK_EQ(r.flows[0].id, PDX_FLOW_ID_MAX + 1);
    pdx_flowtab_free(t);
}

static void many_flows_grow_and_expire(void)
{
    pdx_flow_cfg cfg;
    pdx_flow_cfg_default(&cfg);
    pdx_flowtab *t = pdx_flowtab_create(&cfg, NULL, 1);
    pdx_pkt p = tcp(1, 0x10);
    for (uint32_t i = 0; i < 50000; i++) {
        p.sport = (uint16_t)(1024 + i % 60000);
        p.src[14] = (uint8_t)(i >> 8);
        p.src[15] = (uint8_t)i;
        CHECK_EQ(pdx_flowtab_packet(t, &p, 1, 1, 24 + i, SEC, 60), 0);
    }
    CHECK_EQ(pdx_flowtab_live(t), 50000);
    /* Every one of them is idle 200 s later. */
    CHECK_EQ(pdx_flowtab_packet(t, &p, 1, 1, 100000, 200 * SEC, 60), 0);
    CHECK_EQ(pdx_flowtab_live(t), 1);
    CHECK_EQ_U64(pdx_flowtab_created(t), 50001);
    pdx_flowtab_free(t);
}

static void community_id_vectors(void)
{
    uint8_t a[16], b[16];
    char out[PDX_COMMUNITYID_LEN];
    v4(a, 1, 2, 3, 4);
    v4(b, 43, 3, 132, 3);
    CHECK_EQ(pdx_community_id(0, a, b, 6, 4584, 3483, out), 0);
    CHECK_STR(out, "1:koNcqhFRD5kb254ZrLsdv630jCM=");
    CHECK_EQ(pdx_community_id(0, b, a, 6, 3483, 4584, out), 0);
    CHECK_STR(out, "1:koNcqhFRD5kb254ZrLsdv630jCM=");
    /* fe80::200:86ff:fe05:80da -> fe80::260:97ff:fe07:69ea, neighbor solicitation */
    const uint8_t s6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x86, 0xff, 0xfe, 0x05, 0x80, 0xda};
    const uint8_t d6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x07, 0x69, 0xea};
    CHECK_EQ(pdx_community_id(0, s6, d6, 58, 135, 0, out), 0);
    CHECK_STR(out, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=");
    CHECK_EQ(pdx_community_id(0, d6, s6, 58, 136, 0, out), 0);
    CHECK_STR(out, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=");
}

/* The indexer's path: keys computed ahead (pdx_flow_key), slots and flows
 * prefetched, packets assigned with pdx_flowtab_packet_keyed.  It must give
 * the flows pdx_flowtab_packet gives. */
static void keyed_path_equals_plain(void)
{
    pdx_pkt a = tcp(1, 0x02), b = tcp(0, 0x12);
    pdx_flowkey ka, kb;
    uint64_t ha = pdx_flow_key(&a, 1, &ka), hb = pdx_flow_key(&b, 1, &kb);
    /* Both directions of a connection have one key. */
    CHECK(ha != 0);
    CHECK_EQ_U64(ha, hb);
    CHECK(memcmp(&ka, &kb, sizeof(ka)) == 0);
    pdx_pkt frag = a;
    frag.flags |= PDX_PKT_FRAGMENT;
    CHECK_EQ_U64(pdx_flow_key(&frag, 1, &kb), 0);

    recorder r1, r2;
    pdx_flowtab *t1 = table(&r1, 0);
    pdx_flowtab *t2 = table(&r2, 0);
    pdx_pkt p[40];
    pdx_flowkey k[40];
    uint64_t h[40];
    for (int i = 0; i < 40; i++) {
        p[i] = tcp(i % 2, 0x10);
        p[i].src[15] = (uint8_t)(i % 7);
        if (i % 9 == 4) {
            p[i].flags |= PDX_PKT_FRAGMENT;
            p[i].frag_id = (uint16_t)i;
        }
        h[i] = pdx_flow_key(&p[i], 1, &k[i]);
    }
    for (int i = 0; i < 40; i++) {
        CHECK_EQ(pdx_flowtab_packet(t1, &p[i], 1, 1, 24 + 100 * (uint64_t)i, SEC + i, 60), 0);
        if (i + 8 < 40)
            pdx_flowtab_prefetch(t2, h[i + 8], PDX_PREFETCH_SLOT);
        if (i + 4 < 40)
            pdx_flowtab_prefetch(t2, h[i + 4], PDX_PREFETCH_FLOW);
        if (i + 2 < 40)
            pdx_flowtab_prefetch(t2, h[i + 2], PDX_PREFETCH_NEIGHBOURS);
        CHECK_EQ(pdx_flowtab_packet_keyed(t2, &p[i], &k[i], h[i], 1, 1, 24 + 100 * (uint64_t)i,
                                          SEC + i, 60), 0);
    }
    CHECK_EQ(pdx_flowtab_end_capture(t1, 1), 0);
    CHECK_EQ(pdx_flowtab_end_capture(t2, 1), 0);
    CHECK(r1.nflows > 7);
    CHECK_EQ(r1.nflows, r2.nflows);
    CHECK(memcmp(r1.flows, r2.flows, sizeof(r1.flows)) == 0);
    CHECK_EQ(r1.nsegs, r2.nsegs);
    CHECK(memcmp(r1.seg_offs, r2.seg_offs, sizeof(r1.seg_offs)) == 0);
    pdx_flowtab_free(t1);
    pdx_flowtab_free(t2);
}

const pdx_test pdx_suite_flow[] = {
    {"tcp_session_one_flow", tcp_session_one_flow},
    {"synack_first_flips_initiator", synack_first_flips_initiator},
    {"fin_then_syn_starts_new_flow", fin_then_syn_starts_new_flow},
    {"rst_ends_and_idle_timeout", rst_ends_and_idle_timeout},
    {"icmp_echo_pairs", icmp_echo_pairs},
    {"fragments_follow_first", fragments_follow_first},
    {"l2_flows_by_mac_pair", l2_flows_by_mac_pair},
    {"segments_split_and_captures", segments_split_and_captures},
    {"adopted_flow_continues", adopted_flow_continues},
    {"adopt_refuses_a_clash", adopt_refuses_a_clash},
    {"adopt_refuses_ids_without_room", adopt_refuses_ids_without_room},
    {"many_flows_grow_and_expire", many_flows_grow_and_expire},
    {"community_id_vectors", community_id_vectors},
    {"keyed_path_equals_plain", keyed_path_equals_plain},
    PDX_TEST_END,
};
