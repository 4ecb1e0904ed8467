/*
 * test_decode.c - unit tests for lib/decode.c on hand-built frames: every
 * link type and protocol pdx_decode knows, every tunnel, and malformed and
 * truncated variants, plus every prefix of a few rich frames and a
 * byte-flipping loop (both meant to be run under ASan and UBSan).
 */
#include <stdint.h>
#include <string.h>

#include "decode.h"
#include "unit.h"

/* ------------------------------------------------------------ frame builder */

typedef struct fb {
    uint8_t b[2048];
    size_t n;
} fb;

static void put(fb *f, const void *p, size_t n)
{
    CHECK(f->n + n <= sizeof(f->b));
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void u8(fb *f, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(f, &b, 1);
}

static void be16(fb *f, unsigned v)
{
    u8(f, v >> 8);
    u8(f, v);
}

static void be32(fb *f, uint32_t v)
{
    be16(f, v >> 16);
    be16(f, v & 0xffffu);
}

static void le16(fb *f, unsigned v)
{
    u8(f, v);
    u8(f, v >> 8);
}

static void le32(fb *f, uint32_t v)
{
    le16(f, v & 0xffffu);
    le16(f, v >> 16);
}

static void zeros(fb *f, size_t n)
{
    while (n--)
        u8(f, 0);
}

static void set_be16(fb *f, size_t off, unsigned v)
{
    f->b[off] = (uint8_t)(v >> 8);
    f->b[off + 1] = (uint8_t)v;
}

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t MAC_C[6] = {0x02, 0, 0, 0, 0, 0x0c};
static const uint8_t MAC_D[6] = {0x02, 0, 0, 0, 0, 0x0d};

static const uint8_t V6_A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t V6_B[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};

#define IP_A 0x0a000001u /* 10.0.0.1 */
#define IP_B 0x0a000002u
#define IP_C 0xc0a80001u /* 192.168.0.1 */
#define IP_D 0xc0a80002u
#define IP_E 0xac100001u /* 172.16.0.1 */
#define IP_F 0xac100002u

static void eth(fb *f, const uint8_t *dst, const uint8_t *src, unsigned type)
{
    put(f, dst, 6);
    put(f, src, 6);
    be16(f, type);
}

/* An IPv4 header without options; ip4_end() fills in the total length. */
static size_t ip4_begin(fb *f, unsigned proto, uint32_t src, uint32_t dst)
{
    size_t off = f->n;
    u8(f, 0x45);
    u8(f, 0);
    be16(f, 0); /* total length, later */
    be16(f, 0x1234);
    be16(f, 0);
    u8(f, 64);
    u8(f, proto);
    be16(f, 0);
    be32(f, src);
    be32(f, dst);
    return off;
}

static void ip4_end(fb *f, size_t off)
{
    set_be16(f, off + 2, (unsigned)(f->n - off));
}

static size_t ip6_begin(fb *f, unsigned nxt, const uint8_t *src, const uint8_t *dst)
{
    size_t off = f->n;
    be32(f, 0x60000000u);
    be16(f, 0); /* payload length, later */
    u8(f, nxt);
    u8(f, 63);
    put(f, src, 16);
    put(f, dst, 16);
    return off;
}

static void ip6_end(fb *f, size_t off)
{
    set_be16(f, off + 4, (unsigned)(f->n - off - 40));
}

static size_t udp_begin(fb *f, unsigned sp, unsigned dp)
{
    size_t off = f->n;
    be16(f, sp);
    be16(f, dp);
    be16(f, 0); /* length, later */
    be16(f, 0);
    return off;
}

static void udp_end(fb *f, size_t off)
{
    set_be16(f, off + 4, (unsigned)(f->n - off));
}

static void tcp(fb *f, unsigned sp, unsigned dp, uint32_t seq, uint32_t ack, unsigned flags)
{
    be16(f, sp);
    be16(f, dp);
    be32(f, seq);
    be32(f, ack);
    u8(f, 0x50);
    u8(f, flags);
    be16(f, 65535);
    be16(f, 0);
    be16(f, 0);
}

static void payload(fb *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        u8(f, 'a' + (unsigned)(i % 26));
}

/* Ethernet + IPv4 + TCP 1234 -> 80 with 10 bytes of payload. */
static void ipv4_tcp(fb *f, uint32_t src, uint32_t dst)
{
    size_t ip = ip4_begin(f, 6, src, dst);
    tcp(f, 1234, 80, 1000, 2000, 0x18);
    payload(f, 10);
    ip4_end(f, ip);
}

/* ---------------------------------------------------------------- checking */

/* What must hold for any decode, whatever the bytes. */
static void check_sane(const pdx_pkt *k, size_t caplen)
{
    CHECK(k->kind == PDX_KIND_L2 || k->kind == PDX_KIND_IP4 || k->kind == PDX_KIND_IP6);
    CHECK(k->tunnel <= PDX_TUN_GTPU);
    if (k->kind == PDX_KIND_L2) {
        CHECK_EQ(k->proto, 0);
        CHECK(!(k->flags & PDX_PKT_HAS_L4));
        return;
    }
    CHECK(k->l3_off + (k->kind == PDX_KIND_IP4 ? 20u : 40u) <= caplen);
    CHECK(k->payload_off <= caplen);
    CHECK(k->payload_len <= caplen - k->payload_off);
    if (k->flags & PDX_PKT_HAS_L4) {
        CHECK(k->l4_off >= k->l3_off);
        CHECK(k->l4_off + 4 <= caplen);
    }
}

static pdx_pkt dec(const fb *f, uint32_t linktype)
{
    pdx_pkt k;
    int kind = pdx_decode(f->b, f->n, linktype, &k);
    CHECK_EQ(kind, k.kind);
    check_sane(&k, f->n);
    return k;
}

static pdx_pkt dec_n(const fb *f, size_t n, uint32_t linktype)
{
    pdx_pkt k;
    CHECK(n <= f->n);
    pdx_decode(f->b, n, linktype, &k);
    check_sane(&k, n);
    return k;
}

static void check_v4(const uint8_t a[16], uint32_t v)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t want[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    CHECK_MEM(a, prefix, 12);
    CHECK_MEM(a + 12, want, 4);
}

/* The flow fields of the standard inner packet built by ipv4_tcp(). */
static void check_ipv4_tcp(const pdx_pkt *k, uint32_t src, uint32_t dst)
{
    CHECK_EQ(k->kind, PDX_KIND_IP4);
    CHECK_EQ(k->proto, 6);
    check_v4(k->src, src);
    check_v4(k->dst, dst);
    CHECK_EQ(k->sport, 1234);
    CHECK_EQ(k->dport, 80);
    CHECK(k->flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k->payload_len, 10);
}

#define FLAGS_OF(k) ((k).flags & (PDX_PKT_TRUNCATED | PDX_PKT_INVALID | PDX_PKT_FRAGMENT))

/* ------------------------------------------------------------ basic IPv4 */

static void test_eth_ipv4_tcp(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.flags, PDX_PKT_HAS_L4 | PDX_PKT_HAS_MAC);
    CHECK_MEM(k.src_mac, MAC_A, 6);
    CHECK_MEM(k.dst_mac, MAC_B, 6);
    CHECK_EQ(k.ethertype, 0x0800);
    CHECK_EQ(k.tcp_flags, 0x18);
    CHECK_EQ(k.tcp_seq, 1000);
    CHECK_EQ(k.tcp_ack, 2000);
    CHECK_EQ(k.ttl, 64);
    CHECK_EQ(k.l3_off, 14);
    CHECK_EQ(k.l4_off, 34);
    CHECK_EQ(k.payload_off, 54);
    CHECK_EQ(k.frag_id, 0x1234);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(k.nvlan, 0);
    CHECK(pdx_decode_linktype_known(1));
}

static void test_eth_ipv4_udp_padding(void)
{
    fb f = {.n = 0};
    size_t ip, u;
    eth(&f, MAC_B, MAC_A, 0x0800);
    ip = ip4_begin(&f, 17, IP_A, IP_B);
    u = udp_begin(&f, 5353, 53);
    payload(&f, 4);
    udp_end(&f, u);
    ip4_end(&f, ip);
    zeros(&f, 60 - f.n); /* Ethernet minimum-size padding */
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.proto, 17);
    CHECK_EQ(k.sport, 5353);
    CHECK_EQ(k.dport, 53);
    CHECK_EQ(k.payload_off, 42);
    CHECK_EQ(k.payload_len, 4);
    CHECK_EQ(FLAGS_OF(k), 0);
}

static void test_ipv4_options(void)
{
    fb f = {.n = 0};
    size_t ip;
    eth(&f, MAC_B, MAC_A, 0x0800);
    ip = ip4_begin(&f, 6, IP_A, IP_B);
    f.b[ip] = 0x47; /* IHL 7: 8 bytes of options */
    be32(&f, 0x01010101u); /* NOPs */
    be32(&f, 0x94040000u); /* router alert */
    tcp(&f, 1234, 80, 1, 2, 0x02);
    payload(&f, 10);
    ip4_end(&f, ip);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l4_off, 14 + 28);
    CHECK_EQ(k.payload_off, 14 + 28 + 20);
    CHECK_EQ(FLAGS_OF(k), 0);

    /* options cut by the capture: addresses stay, transport is unknown */
    k = dec_n(&f, 14 + 24, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    check_v4(k.src, IP_A);
    CHECK_EQ(k.proto, 6);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);
    CHECK(!(k.flags & PDX_PKT_HAS_L4));
}

static void test_ipv4_fragments(void)
{
    fb f = {.n = 0};
    size_t ip;
    eth(&f, MAC_B, MAC_A, 0x0800);
    ip = ip4_begin(&f, 17, IP_A, IP_B);
    set_be16(&f, ip + 6, 0x2000); /* MF, offset 0 */
    be16(&f, 4000);
    be16(&f, 53);
    be16(&f, 3000); /* UDP length covers later fragments: fine */
    be16(&f, 0);
    payload(&f, 64);
    ip4_end(&f, ip);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_FRAGMENT);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.sport, 4000);
    CHECK_EQ(k.frag_more, 1);
    CHECK_EQ(k.frag_offset, 0);
    CHECK_EQ(k.frag_id, 0x1234);
    CHECK_EQ(k.payload_len, 64);

    /* a later fragment: no transport header */
    set_be16(&f, ip + 6, 0x2000 | 9); /* offset 72 bytes */
    k = dec(&f, 1);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_FRAGMENT);
    CHECK(!(k.flags & PDX_PKT_HAS_L4));
    CHECK_EQ(k.proto, 17);
    CHECK_EQ(k.frag_offset, 72);
    CHECK_EQ(k.frag_more, 1);
    CHECK_EQ(k.sport, 0);
    CHECK_EQ(k.payload_off, 34);
    CHECK_EQ(k.payload_len, 72);

    /* the last one */
    set_be16(&f, ip + 6, 20);
    k = dec(&f, 1);
    CHECK_EQ(k.frag_more, 0);
    CHECK_EQ(k.frag_offset, 160);
    CHECK(k.flags & PDX_PKT_FRAGMENT);

    /* DF alone is not a fragment */
    set_be16(&f, ip + 6, 0x4000);
    set_be16(&f, ip + 24, 72); /* and now a consistent UDP length */
    k = dec(&f, 1);
    CHECK_EQ(FLAGS_OF(k), 0);
}

static void test_ipv4_truncated(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);

    pdx_pkt k = dec_n(&f, 10, 1); /* inside Ethernet */
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED);

    k = dec_n(&f, 14 + 19, 1); /* inside the IP header */
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED | PDX_PKT_HAS_MAC);
    CHECK_EQ(k.ethertype, 0x0800);

    k = dec_n(&f, 14 + 20 + 6, 1); /* ports but not the whole TCP header */
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.sport, 1234);
    CHECK_EQ(k.payload_len, 0);

    k = dec_n(&f, 14 + 20 + 2, 1); /* not even the ports */
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);
    CHECK(!(k.flags & PDX_PKT_HAS_L4));
    CHECK_EQ(k.proto, 6);

    k = dec_n(&f, 14 + 40 + 3, 1); /* snaplen inside the payload */
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.payload_off, 54);
    CHECK_EQ(k.payload_len, 3);

    k = dec_n(&f, 0, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED);
}

static void test_ipv4_invalid(void)
{
    fb f = {.n = 0};
    size_t ip;
    eth(&f, MAC_B, MAC_A, 0x0800);
    ip = f.n;
    ipv4_tcp(&f, IP_A, IP_B);
    fb g = f;

    g.b[ip] = 0x44; /* IHL 4 */
    pdx_pkt k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);

    g = f;
    set_be16(&g, ip + 2, 19); /* total length below the header length */
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);

    g = f;
    g.b[ip] = 0x65; /* version 6 under ethertype IPv4 */
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);

    g = f;
    g.b[ip + 32] = 0x40; /* TCP data offset 4 */
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.payload_len, 0);

    g = f;
    g.b[ip + 32] = 0xf0; /* TCP header longer than the IP packet */
    k = dec(&g, 1);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);

    g = f;
    set_be16(&g, ip + 2, 30); /* IP packet ends inside the TCP header */
    k = dec(&g, 1);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
    CHECK(k.flags & PDX_PKT_HAS_L4);

    g = f;
    set_be16(&g, ip + 2, 0); /* 0: segmentation offload, use what is there */
    k = dec(&g, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(FLAGS_OF(k), 0);

    /* UDP lengths */
    fb u = {.n = 0};
    size_t uo;
    eth(&u, MAC_B, MAC_A, 0x0800);
    ip = ip4_begin(&u, 17, IP_A, IP_B);
    uo = udp_begin(&u, 1, 2);
    payload(&u, 8);
    udp_end(&u, uo);
    ip4_end(&u, ip);
    g = u;
    set_be16(&g, uo + 4, 5);
    k = dec(&g, 1);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    g = u;
    set_be16(&g, uo + 4, 17); /* longer than the IP payload */
    k = dec(&g, 1);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
    CHECK_EQ(k.payload_len, 8);
    g = u;
    set_be16(&g, uo + 4, 12); /* shorter: payload per UDP */
    k = dec(&g, 1);
    CHECK_EQ(FLAGS_OF(k), 0);
    CHECK_EQ(k.payload_len, 4);
}

/* ---------------------------------------------------------------- IPv6 */

static void test_ipv6_tcp(void)
{
    fb f = {.n = 0};
    size_t ip;
    eth(&f, MAC_B, MAC_A, 0x86dd);
    ip = ip6_begin(&f, 6, V6_A, V6_B);
    tcp(&f, 443, 50000, 7, 8, 0x11);
    payload(&f, 5);
    ip6_end(&f, ip);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.ethertype, 0x86dd);
    CHECK_MEM(k.src, V6_A, 16);
    CHECK_MEM(k.dst, V6_B, 16);
    CHECK_EQ(k.proto, 6);
    CHECK_EQ(k.sport, 443);
    CHECK_EQ(k.dport, 50000);
    CHECK_EQ(k.tcp_flags, 0x11);
    CHECK_EQ(k.ttl, 63);
    CHECK_EQ(k.l3_off, 14);
    CHECK_EQ(k.l4_off, 54);
    CHECK_EQ(k.payload_off, 74);
    CHECK_EQ(k.payload_len, 5);
    CHECK_EQ(FLAGS_OF(k), 0);

    set_be16(&f, ip + 4, 100); /* payload length beyond the capture */
    k = dec(&f, 1);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);
    CHECK_EQ(k.payload_len, 5);

    f.b[ip] = 0x45; /* version 4 under ethertype IPv6 */
    k = dec(&f, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
}

/* IPv6 with hop-by-hop, routing, destination options and AH before UDP. */
static void build_ipv6_ext(fb *f)
{
    size_t ip, u;
    eth(f, MAC_B, MAC_A, 0x86dd);
    ip = ip6_begin(f, 0, V6_A, V6_B);
    u8(f, 43); /* hop-by-hop: 8 bytes */
    u8(f, 0);
    zeros(f, 6);
    u8(f, 60); /* routing: 24 bytes */
    u8(f, 2);
    u8(f, 0);
    u8(f, 0);
    zeros(f, 20);
    u8(f, 51); /* destination options: 16 bytes */
    u8(f, 1);
    zeros(f, 14);
    u8(f, 17); /* AH: (4 + 2) * 4 = 24 bytes */
    u8(f, 4);
    zeros(f, 22);
    u = udp_begin(f, 546, 547);
    payload(f, 6);
    udp_end(f, u);
    ip6_end(f, ip);
}

static void test_ipv6_ext_headers(void)
{
    fb f = {.n = 0};
    build_ipv6_ext(&f);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.proto, 17);
    CHECK_EQ(k.sport, 546);
    CHECK_EQ(k.dport, 547);
    CHECK_EQ(k.l4_off, 14 + 40 + 8 + 24 + 16 + 24);
    CHECK_EQ(k.payload_len, 6);
    CHECK_EQ(FLAGS_OF(k), 0);

    /* the capture ends inside the routing header */
    k = dec_n(&f, 14 + 40 + 8 + 10, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.proto, 43);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);
    CHECK(!(k.flags & PDX_PKT_HAS_L4));

    /* the payload length ends inside it: invalid */
    set_be16(&f, 14 + 4, 8 + 10);
    k = dec(&f, 1);
    CHECK_EQ(k.proto, 43);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
}

static void test_ipv6_final_headers(void)
{
    static const unsigned finals[] = {59, 135, 50};
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
        fb f = {.n = 0};
        size_t ip;
        eth(&f, MAC_B, MAC_A, 0x86dd);
        ip = ip6_begin(&f, 0, V6_A, V6_B);
        u8(&f, finals[i]); /* hop-by-hop, then the final one */
        u8(&f, 0);
        zeros(&f, 6);
        payload(&f, 16);
        ip6_end(&f, ip);
        pdx_pkt k = dec(&f, 1);
        CHECK_EQ(k.proto, finals[i]);
        CHECK(!(k.flags & PDX_PKT_HAS_L4));
        CHECK_EQ(FLAGS_OF(k), 0);
        CHECK_EQ(k.payload_off, 14 + 48);
        CHECK_EQ(k.payload_len, 16);
    }
}

static void test_ipv6_fragments(void)
{
    fb f = {.n = 0};
    size_t ip, fh;
    eth(&f, MAC_B, MAC_A, 0x86dd);
    ip = ip6_begin(&f, 44, V6_A, V6_B);
    fh = f.n;
    u8(&f, 58);
    u8(&f, 0);
    be16(&f, 0x0001); /* offset 0, M */
    be32(&f, 0xdeadbeefu);
    u8(&f, 128); /* echo request */
    u8(&f, 0);
    be16(&f, 0);
    be16(&f, 0x4242);
    be16(&f, 1);
    payload(&f, 32);
    ip6_end(&f, ip);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.proto, 58);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_FRAGMENT);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.sport, 128);
    CHECK_EQ(k.icmp_id, 0x4242);
    CHECK_EQ(k.frag_id, 0xdeadbeefu);
    CHECK_EQ(k.frag_more, 1);
    CHECK_EQ(k.frag_offset, 0);

    set_be16(&f, fh + 2, (185 << 3)); /* offset 1480, last */
    k = dec(&f, 1);
    CHECK_EQ(k.proto, 58);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_FRAGMENT);
    CHECK(!(k.flags & PDX_PKT_HAS_L4));
    CHECK_EQ(k.frag_offset, 1480);
    CHECK_EQ(k.frag_more, 0);
    CHECK_EQ(k.payload_off, 14 + 48);
    CHECK_EQ(k.payload_len, 40);
}

/* ------------------------------------------------------- other transports */

static void test_icmp(void)
{
    fb f = {.n = 0};
    size_t ip;
    eth(&f, MAC_B, MAC_A, 0x0800);
    ip = ip4_begin(&f, 1, IP_A, IP_B);
    u8(&f, 8);
    u8(&f, 0);
    be16(&f, 0);
    be16(&f, 0x0777);
    be16(&f, 3);
    payload(&f, 8);
    ip4_end(&f, ip);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.proto, 1);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.sport, 8);
    CHECK_EQ(k.dport, 0);
    CHECK_EQ(k.icmp_id, 0x0777);
    CHECK_EQ(k.payload_len, 8);

    f.b[ip + 20] = 3; /* destination unreachable, port */
    f.b[ip + 21] = 3;
    k = dec(&f, 1);
    CHECK_EQ(k.sport, 3);
    CHECK_EQ(k.dport, 3);
    CHECK_EQ(k.icmp_id, 0);

    f.b[ip + 20] = 14; /* timestamp reply */
    f.b[ip + 21] = 0;
    k = dec(&f, 1);
    CHECK_EQ(k.icmp_id, 0x0777);
}

static void test_icmpv6(void)
{
    fb f = {.n = 0};
    size_t ip;
    eth(&f, MAC_B, MAC_A, 0x86dd);
    ip = ip6_begin(&f, 58, V6_A, V6_B);
    u8(&f, 129);
    u8(&f, 0);
    be16(&f, 0);
    be16(&f, 0xbeef);
    be16(&f, 1);
    ip6_end(&f, ip);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.proto, 58);
    CHECK_EQ(k.sport, 129);
    CHECK_EQ(k.icmp_id, 0xbeef);
    CHECK_EQ(k.payload_len, 0);

    f.b[ip + 40] = 135; /* neighbour solicitation: no identifier */
    k = dec(&f, 1);
    CHECK_EQ(k.sport, 135);
    CHECK_EQ(k.icmp_id, 0);
}

static void test_sctp_dccp_udplite(void)
{
    fb f = {.n = 0};
    size_t ip;
    eth(&f, MAC_B, MAC_A, 0x0800);
    ip = ip4_begin(&f, 132, IP_A, IP_B);
    be16(&f, 2905);
    be16(&f, 2906);
    be32(&f, 1);
    be32(&f, 0);
    payload(&f, 16);
    ip4_end(&f, ip);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.proto, 132);
    CHECK_EQ(k.sport, 2905);
    CHECK_EQ(k.dport, 2906);
    CHECK_EQ(k.payload_off, 14 + 20 + 12);
    CHECK_EQ(k.payload_len, 16);

    f.b[ip + 9] = 136; /* UDP-Lite: the length is a checksum coverage */
    k = dec(&f, 1);
    CHECK_EQ(k.proto, 136);
    CHECK_EQ(k.sport, 2905);
    CHECK_EQ(FLAGS_OF(k), 0);
    CHECK_EQ(k.payload_len, 20);

    f.b[ip + 9] = 33; /* DCCP: data offset 0 is invalid */
    k = dec(&f, 1);
    CHECK_EQ(k.proto, 33);
    CHECK_EQ(k.sport, 2905);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
    f.b[ip + 20 + 4] = 4; /* 16-byte header */
    k = dec(&f, 1);
    CHECK_EQ(FLAGS_OF(k), 0);
    CHECK_EQ(k.payload_len, 12);

    f.b[ip + 9] = 89; /* OSPF: no ports, payload is the IP payload */
    k = dec(&f, 1);
    CHECK_EQ(k.proto, 89);
    CHECK(!(k.flags & PDX_PKT_HAS_L4));
    CHECK_EQ(k.payload_off, 34);
    CHECK_EQ(k.payload_len, 28);
}

/* --------------------------------------------------------------- Ethernet */

static void test_vlan_qinq(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x8100);
    be16(&f, 0x2064); /* PCP 1, VID 100 */
    be16(&f, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.nvlan, 1);
    CHECK_EQ(k.vlan[0], 100);
    CHECK_EQ(k.l3_off, 18);

    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x88a8);
    be16(&g, 10);
    be16(&g, 0x8100);
    be16(&g, 20);
    be16(&g, 0x86dd);
    size_t ip = ip6_begin(&g, 59, V6_A, V6_B);
    ip6_end(&g, ip);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.nvlan, 2);
    CHECK_EQ(k.vlan[0], 10);
    CHECK_EQ(k.vlan[1], 20);

    fb h = {.n = 0}; /* old QinQ 0x9100 and three tags */
    eth(&h, MAC_B, MAC_A, 0x9100);
    be16(&h, 1);
    be16(&h, 0x8100);
    be16(&h, 2);
    be16(&h, 0x8100);
    be16(&h, 0xf003);
    be16(&h, 0x0800);
    ipv4_tcp(&h, IP_A, IP_B);
    k = dec(&h, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.nvlan, 3);
    CHECK_EQ(k.vlan[0], 1);
    CHECK_EQ(k.vlan[1], 2);
    CHECK_EQ(k.l3_off, 26);

    k = dec_n(&h, 16, 1); /* inside the first tag */
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED | PDX_PKT_HAS_MAC);
}

static void test_mpls(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x8847);
    be32(&f, (100u << 12) | 64);           /* label 100 */
    be32(&f, (200u << 12) | 0x100 | 64);   /* label 200, bottom of stack */
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 22);
    CHECK_EQ(k.ethertype, 0x0800);

    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x8847);
    be32(&g, (16u << 12) | 0x100 | 64);
    size_t ip = ip6_begin(&g, 59, V6_A, V6_B);
    ip6_end(&g, ip);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.ethertype, 0x86dd);

    /* Ethernet pseudowire with a control word */
    fb h = {.n = 0};
    eth(&h, MAC_B, MAC_A, 0x8847);
    be32(&h, (300u << 12) | 0x100 | 64);
    be32(&h, 0); /* control word */
    eth(&h, MAC_D, MAC_C, 0x0800);
    ipv4_tcp(&h, IP_C, IP_D);
    k = dec(&h, 1);
    check_ipv4_tcp(&k, IP_C, IP_D);
    CHECK_MEM(k.src_mac, MAC_C, 6);
    CHECK_MEM(k.dst_mac, MAC_D, 6);
    CHECK_EQ(k.l3_off, 14 + 4 + 4 + 14);

    /* Ethernet pseudowire without one: the MAC does not start with 4 or 6 */
    static const uint8_t mac_e[6] = {0xa0, 1, 2, 3, 4, 5};
    fb m = {.n = 0};
    eth(&m, MAC_B, MAC_A, 0x8847);
    be32(&m, (300u << 12) | 0x100 | 64);
    eth(&m, mac_e, MAC_C, 0x0800);
    ipv4_tcp(&m, IP_C, IP_D);
    k = dec(&m, 1);
    check_ipv4_tcp(&k, IP_C, IP_D);
    CHECK_MEM(k.dst_mac, mac_e, 6);

    k = dec_n(&f, 17, 1); /* inside the label stack */
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED | PDX_PKT_HAS_MAC);
}

static void test_pppoe(void)
{
    fb f = {.n = 0};
    size_t len;
    eth(&f, MAC_B, MAC_A, 0x8864);
    u8(&f, 0x11);
    u8(&f, 0);
    be16(&f, 0x0042);
    len = f.n;
    be16(&f, 0);
    be16(&f, 0x0021);
    ipv4_tcp(&f, IP_A, IP_B);
    set_be16(&f, len, (unsigned)(f.n - len - 2));
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 22);

    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x8864);
    be16(&g, 0x1100);
    be16(&g, 1);
    be16(&g, 42);
    be16(&g, 0x0057);
    size_t ip = ip6_begin(&g, 59, V6_A, V6_B);
    ip6_end(&g, ip);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);

    fb h = {.n = 0}; /* LCP */
    eth(&h, MAC_B, MAC_A, 0x8864);
    be16(&h, 0x1100);
    be16(&h, 1);
    be16(&h, 6);
    be16(&h, 0xc021);
    be32(&h, 0x01010004);
    k = dec(&h, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.ethertype, 0x8864);
    CHECK_EQ(FLAGS_OF(k), 0);
}

static void test_llc_snap_and_l2(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0); /* 802.3 length, later */
    be16(&f, 0xaaaa);
    u8(&f, 0x03);
    be16(&f, 0);
    u8(&f, 0);
    be16(&f, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);
    set_be16(&f, 12, (unsigned)(f.n - 14));
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 22);

    fb g = {.n = 0}; /* spanning tree: LLC 42 42 03 */
    eth(&g, MAC_B, MAC_A, 38);
    u8(&g, 0x42);
    u8(&g, 0x42);
    u8(&g, 0x03);
    zeros(&g, 35);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.proto, 0);
    CHECK_EQ(k.ethertype, 0);
    CHECK_EQ(k.flags, PDX_PKT_HAS_MAC);
    CHECK_MEM(k.src_mac, MAC_A, 6);

    fb h = {.n = 0}; /* ARP */
    eth(&h, MAC_B, MAC_A, 0x0806);
    zeros(&h, 28);
    k = dec(&h, 1);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.ethertype, 0x0806);
    CHECK_EQ(k.flags, PDX_PKT_HAS_MAC);

    fb c = {.n = 0}; /* Cisco MetaData */
    eth(&c, MAC_B, MAC_A, 0x8909);
    u8(&c, 1);
    u8(&c, 1);
    be16(&c, 1);
    be16(&c, 7);
    be16(&c, 0x0800);
    ipv4_tcp(&c, IP_A, IP_B);
    k = dec(&c, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
}

/* -------------------------------------------------------- other link types */

static void test_sll(void)
{
    fb f = {.n = 0};
    be16(&f, 0);     /* to us */
    be16(&f, 1);     /* ARPHRD_ETHER */
    be16(&f, 6);
    put(&f, MAC_A, 6);
    be16(&f, 0);
    be16(&f, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 113);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 16);
    CHECK(!(k.flags & PDX_PKT_HAS_MAC));

    fb g = {.n = 0};
    be16(&g, 0x86dd);
    be16(&g, 0);
    be32(&g, 3);   /* ifindex */
    be16(&g, 1);   /* ARPHRD_ETHER */
    u8(&g, 4);     /* outgoing */
    u8(&g, 6);
    put(&g, MAC_A, 6);
    be16(&g, 0);
    size_t ip = ip6_begin(&g, 59, V6_A, V6_B);
    ip6_end(&g, ip);
    k = dec(&g, 276);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.l3_off, 20);

    k = dec_n(&g, 19, 276);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED);

    fb h = {.n = 0}; /* SLL with 802.1Q left in */
    be16(&h, 0);
    be16(&h, 1);
    be16(&h, 6);
    put(&h, MAC_A, 6);
    be16(&h, 0);
    be16(&h, 0x8100);
    be16(&h, 7);
    be16(&h, 0x0800);
    ipv4_tcp(&h, IP_A, IP_B);
    k = dec(&h, 113);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.vlan[0], 7);
}

static void test_raw(void)
{
    static const uint32_t lts[] = {101, 12, 14, 228};
    for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
        fb f = {.n = 0};
        ipv4_tcp(&f, IP_A, IP_B);
        pdx_pkt k = dec(&f, lts[i]);
        check_ipv4_tcp(&k, IP_A, IP_B);
        CHECK_EQ(k.l3_off, 0);
        CHECK_EQ(k.ethertype, 0x0800);
        CHECK(!(k.flags & PDX_PKT_HAS_MAC));
    }
    fb g = {.n = 0};
    size_t ip = ip6_begin(&g, 59, V6_A, V6_B);
    ip6_end(&g, ip);
    pdx_pkt k = dec(&g, 101);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    k = dec(&g, 229);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    k = dec(&g, 228); /* LINKTYPE_IPV4 with an IPv6 packet */
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);

    g.b[0] = 0x20; /* neither version */
    k = dec(&g, 101);
    CHECK_EQ(k.kind, PDX_KIND_L2);
}

static void null_frame(fb *f, const uint8_t af[4])
{
    put(f, af, 4);
    ipv4_tcp(f, IP_A, IP_B);
}

static void test_null_loop(void)
{
    static const uint8_t le2[4] = {2, 0, 0, 0}, be2[4] = {0, 0, 0, 2};
    fb f = {.n = 0};
    null_frame(&f, le2);
    pdx_pkt k = dec(&f, 0);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 4);
    fb g = {.n = 0};
    null_frame(&g, be2);
    k = dec(&g, 0);
    check_ipv4_tcp(&k, IP_A, IP_B);
    k = dec(&g, 108); /* OpenBSD loop: network order */
    check_ipv4_tcp(&k, IP_A, IP_B);

    static const unsigned v6[] = {24, 28, 30};
    for (size_t i = 0; i < 3; i++) {
        fb h = {.n = 0};
        le32(&h, v6[i]);
        size_t ip = ip6_begin(&h, 59, V6_A, V6_B);
        ip6_end(&h, ip);
        k = dec(&h, 0);
        CHECK_EQ(k.kind, PDX_KIND_IP6);
        CHECK_MEM(k.src, V6_A, 16);
    }

    fb u = {.n = 0};
    le32(&u, 7); /* AF_ISO, say */
    zeros(&u, 20);
    k = dec(&u, 0);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, 0);
    k = dec_n(&u, 3, 0);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED);
}

static void test_ppp_chdlc(void)
{
    fb f = {.n = 0};
    be16(&f, 0xff03);
    be16(&f, 0x0021);
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 9);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 4);
    k = dec(&f, 50);
    check_ipv4_tcp(&k, IP_A, IP_B);

    fb g = {.n = 0}; /* no address/control, compressed protocol */
    u8(&g, 0x21);
    ipv4_tcp(&g, IP_A, IP_B);
    k = dec(&g, 9);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 1);

    fb h = {.n = 0};
    be16(&h, 0x0057);
    size_t ip = ip6_begin(&h, 59, V6_A, V6_B);
    ip6_end(&h, ip);
    k = dec(&h, 9);
    CHECK_EQ(k.kind, PDX_KIND_IP6);

    fb c = {.n = 0}; /* Cisco HDLC, also under PPP_HDLC */
    u8(&c, 0x0f);
    u8(&c, 0);
    be16(&c, 0x0800);
    ipv4_tcp(&c, IP_A, IP_B);
    k = dec(&c, 104);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 4);
    k = dec(&c, 50);
    check_ipv4_tcp(&k, IP_A, IP_B);

    fb l = {.n = 0}; /* LCP */
    be16(&l, 0xff03);
    be16(&l, 0xc021);
    zeros(&l, 8);
    k = dec(&l, 9);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, 0);
    k = dec_n(&l, 3, 9);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED);
}

/* An 802.11 data frame header; returns the offset of the QoS control field
 * (or of where the body starts when not QoS). */
static size_t wifi_hdr(fb *f, unsigned fc0, unsigned fc1)
{
    u8(f, fc0);
    u8(f, fc1);
    be16(f, 0); /* duration */
    put(f, MAC_A, 6);
    put(f, MAC_B, 6);
    put(f, MAC_C, 6);
    be16(f, 0); /* sequence control */
    if ((fc1 & 3) == 3)
        put(f, MAC_D, 6);
    return f->n;
}

static void snap(fb *f, unsigned type)
{
    be16(f, 0xaaaa);
    u8(f, 0x03);
    u8(f, 0);
    be16(f, 0);
    be16(f, type);
}

static void test_80211(void)
{
    /* ToDS: A1 BSSID, A2 SA, A3 DA */
    fb f = {.n = 0};
    wifi_hdr(&f, 0x08, 0x01);
    snap(&f, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 105);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 32);
    CHECK_MEM(k.src_mac, MAC_B, 6);
    CHECK_MEM(k.dst_mac, MAC_C, 6);
    CHECK(k.flags & PDX_PKT_HAS_MAC);

    /* FromDS: A1 DA, A2 BSSID, A3 SA */
    f.b[1] = 0x02;
    k = dec(&f, 105);
    CHECK_MEM(k.src_mac, MAC_C, 6);
    CHECK_MEM(k.dst_mac, MAC_A, 6);

    /* neither: A1 DA, A2 SA */
    f.b[1] = 0x00;
    k = dec(&f, 105);
    CHECK_MEM(k.src_mac, MAC_B, 6);
    CHECK_MEM(k.dst_mac, MAC_A, 6);

    /* WDS: four addresses, QoS, HT control (order bit) */
    fb g = {.n = 0};
    wifi_hdr(&g, 0x88, 0x83);
    be16(&g, 0x0000); /* QoS control */
    be32(&g, 0);      /* HT control */
    snap(&g, 0x86dd);
    size_t ip = ip6_begin(&g, 59, V6_A, V6_B);
    ip6_end(&g, ip);
    k = dec(&g, 105);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.l3_off, 30 + 2 + 4 + 8);
    CHECK_MEM(k.src_mac, MAC_D, 6);
    CHECK_MEM(k.dst_mac, MAC_C, 6);

    /* protected: not decoded, but the addresses are kept */
    g.b[1] |= 0x40;
    k = dec(&g, 105);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_HAS_MAC);

    /* A-MSDU: the first subframe */
    fb a = {.n = 0};
    wifi_hdr(&a, 0x88, 0x01);
    u8(&a, 0x80); /* QoS control is little-endian: A-MSDU present */
    u8(&a, 0);
    put(&a, MAC_D, 6);
    put(&a, MAC_C, 6);
    be16(&a, 8 + 40);
    snap(&a, 0x0800);
    ipv4_tcp(&a, IP_A, IP_B);
    k = dec(&a, 105);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_MEM(k.dst_mac, MAC_D, 6);

    /* management (beacon) and null data: not IP */
    fb b = {.n = 0};
    wifi_hdr(&b, 0x80, 0x00);
    zeros(&b, 12);
    k = dec(&b, 105);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, 0);
    b.b[0] = 0x48;
    k = dec(&b, 105);
    CHECK_EQ(k.kind, PDX_KIND_L2);

    k = dec_n(&f, 20, 105);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED);
}

/* Radiotap with TSFT and flags (data padding), then QoS data. */
static void build_radiotap(fb *f)
{
    u8(f, 0);
    u8(f, 0);
    le16(f, 20);
    le32(f, 0x00000003u); /* TSFT, flags */
    zeros(f, 8);           /* TSFT */
    u8(f, 0x20);           /* flags: data pad */
    zeros(f, 3);
    wifi_hdr(f, 0x88, 0x01);
    be16(f, 0x0000);
    zeros(f, 2); /* 26-byte header padded to 28 */
    snap(f, 0x0800);
    ipv4_tcp(f, IP_A, IP_B);
}

static void test_radiotap(void)
{
    fb f = {.n = 0};
    build_radiotap(&f);
    pdx_pkt k = dec(&f, 127);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 20 + 28 + 8);
    CHECK_MEM(k.src_mac, MAC_B, 6);

    fb g = {.n = 0}; /* no flags field: no padding */
    u8(&g, 0);
    u8(&g, 0);
    le16(&g, 12);
    le32(&g, 0x80000000u); /* an extended bitmap follows */
    le32(&g, 0);
    wifi_hdr(&g, 0x08, 0x02);
    snap(&g, 0x0800);
    ipv4_tcp(&g, IP_A, IP_B);
    k = dec(&g, 127);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 12 + 24 + 8);

    g.b[2] = 4; /* length below the fixed header */
    k = dec(&g, 127);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
}

static void test_nflog(void)
{
    for (int big = 0; big < 2; big++) {
        fb f = {.n = 0};
        u8(&f, 2); /* AF_INET */
        u8(&f, 0);
        be16(&f, 0);
        /* a prefix TLV of 7 bytes (padded to 8) */
        if (big) {
            be16(&f, 7);
            be16(&f, 10);
        } else {
            le16(&f, 7);
            le16(&f, 10);
        }
        put(&f, "abc\0", 4);
        size_t tlv = f.n;
        zeros(&f, 4);
        ipv4_tcp(&f, IP_A, IP_B);
        unsigned len = (unsigned)(f.n - tlv);
        if (big) {
            f.b[tlv] = (uint8_t)(len >> 8);
            f.b[tlv + 1] = (uint8_t)len;
            f.b[tlv + 3] = 9;
        } else {
            f.b[tlv] = (uint8_t)len;
            f.b[tlv + 1] = (uint8_t)(len >> 8);
            f.b[tlv + 2] = 9;
        }
        pdx_pkt k = dec(&f, 239);
        check_ipv4_tcp(&k, IP_A, IP_B);
        CHECK_EQ(k.l3_off, 16);
    }
}

static void test_ipoib_ppi(void)
{
    fb f = {.n = 0};
    zeros(&f, 40);
    be16(&f, 0x0800);
    be16(&f, 0);
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 242);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 44);

    fb p = {.n = 0};
    u8(&p, 0);
    u8(&p, 0);
    le16(&p, 8);
    le32(&p, 1);
    eth(&p, MAC_B, MAC_A, 0x0800);
    ipv4_tcp(&p, IP_A, IP_B);
    k = dec(&p, 192);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 22);
    p.b[4] = 192; /* PPI inside PPI */
    k = dec(&p, 192);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
}

static void test_unknown_link(void)
{
    fb f = {.n = 0};
    ipv4_tcp(&f, IP_A, IP_B);
    pdx_pkt k = dec(&f, 147);
    CHECK_EQ(k.kind, PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_UNKNOWN_LINK);
    CHECK(!pdx_decode_linktype_known(147));
    CHECK(pdx_decode_linktype_known(127));
    CHECK(pdx_decode_linktype_known(276));

    CHECK_EQ(pdx_decode(NULL, 0, 1, &k), PDX_KIND_L2);
    CHECK_EQ(k.flags, PDX_PKT_TRUNCATED);
}

/* ---------------------------------------------------------------- tunnels */

static void test_ipip(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(&f, 4, IP_E, IP_F);
    ipv4_tcp(&f, IP_A, IP_B);
    ip4_end(&f, outer);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_IPIP);
    check_v4(k.tun_src, IP_E);
    check_v4(k.tun_dst, IP_F);
    CHECK_EQ(k.l3_off, 34);
    CHECK_EQ(k.vni, 0);
    CHECK_EQ(FLAGS_OF(k), 0);

    fb g = {.n = 0}; /* IPv6 in IPv4 */
    eth(&g, MAC_B, MAC_A, 0x0800);
    outer = ip4_begin(&g, 41, IP_E, IP_F);
    size_t ip = ip6_begin(&g, 6, V6_A, V6_B);
    tcp(&g, 1, 2, 0, 0, 2);
    ip6_end(&g, ip);
    ip4_end(&g, outer);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.ethertype, 0x86dd);
    CHECK_MEM(k.src, V6_A, 16);
    CHECK_EQ(k.sport, 1);
    CHECK_EQ(k.tunnel, PDX_TUN_IPIP);
    check_v4(k.tun_src, IP_E);

    /* the inner header cut by the capture: the outer packet, flagged */
    k = dec_n(&g, 14 + 20 + 30, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(k.proto, 41);
    check_v4(k.src, IP_E);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);

    /* the inner header cut by the outer length: invalid */
    g.n = 14 + 20 + 30;
    ip4_end(&g, outer);
    k = dec(&g, 1);
    CHECK_EQ(k.proto, 41);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);

    /* tunnels inside fragments are not followed */
    set_be16(&f, outer + 6, 0x2000);
    k = dec(&f, 1);
    CHECK_EQ(k.proto, 4);
    check_v4(k.src, IP_E);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_FRAGMENT);
}

static void test_ipip_depth(void)
{
    fb f = {.n = 0};
    size_t o[6];
    eth(&f, MAC_B, MAC_A, 0x0800);
    for (int i = 0; i < 6; i++)
        o[i] = ip4_begin(&f, 4, IP_E + (uint32_t)i, IP_F);
    ipv4_tcp(&f, IP_A, IP_B);
    for (int i = 5; i >= 0; i--)
        ip4_end(&f, o[i]);
    pdx_pkt k = dec(&f, 1);
    /* four tunnels followed: the fifth header, whose payload is IP again */
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(k.proto, 4);
    check_v4(k.src, IP_E + PDX_MAX_TUNNEL_DEPTH);
    check_v4(k.tun_src, IP_E);
    CHECK_EQ(k.tunnel, PDX_TUN_IPIP);
    CHECK_EQ(FLAGS_OF(k), 0);
}

static void test_gre(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(&f, 47, IP_E, IP_F);
    be16(&f, 0xb000); /* C, K, S */
    be16(&f, 0x0800);
    be32(&f, 0);      /* checksum, reserved */
    be32(&f, 0x1234); /* key */
    be32(&f, 7);      /* sequence */
    ipv4_tcp(&f, IP_A, IP_B);
    ip4_end(&f, outer);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_GRE);
    CHECK_EQ(k.vni, 0x1234);
    check_v4(k.tun_dst, IP_F);
    CHECK_EQ(k.l3_off, 14 + 20 + 16);
    CHECK_MEM(k.src_mac, MAC_A, 6);

    /* transparent Ethernet bridging */
    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x86dd);
    size_t o6 = ip6_begin(&g, 47, V6_A, V6_B);
    be16(&g, 0x0000);
    be16(&g, 0x6558);
    eth(&g, MAC_D, MAC_C, 0x0800);
    ipv4_tcp(&g, IP_A, IP_B);
    ip6_end(&g, o6);
    k = dec(&g, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_GRE);
    CHECK_MEM(k.tun_src, V6_A, 16);
    CHECK_MEM(k.src_mac, MAC_C, 6);
    CHECK_EQ(k.vni, 0);

    /* a keepalive-like payload we do not know: the outer packet, unflagged */
    set_be16(&g, 14 + 40 + 2, 0x0000);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.proto, 47);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(FLAGS_OF(k), 0);
    CHECK_MEM(k.src_mac, MAC_A, 6);

    /* GRE header cut by the capture */
    k = dec_n(&f, 14 + 20 + 10, 1);
    CHECK_EQ(k.proto, 47);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);

    /* WCCP redirect header */
    fb w = {.n = 0};
    eth(&w, MAC_B, MAC_A, 0x0800);
    outer = ip4_begin(&w, 47, IP_E, IP_F);
    be16(&w, 0);
    be16(&w, 0x883e);
    be32(&w, 0x00010000);
    ipv4_tcp(&w, IP_A, IP_B);
    ip4_end(&w, outer);
    k = dec(&w, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
}

static void test_gre_pptp(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(&f, 47, IP_E, IP_F);
    be16(&f, 0x3081); /* K, S, A, version 1 */
    be16(&f, 0x880b);
    be16(&f, 44);     /* payload length */
    be16(&f, 0x0abc); /* call ID */
    be32(&f, 5);      /* sequence */
    be32(&f, 4);      /* acknowledgment */
    be16(&f, 0xff03);
    be16(&f, 0x0021);
    ipv4_tcp(&f, IP_A, IP_B);
    ip4_end(&f, outer);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_GRE);
    CHECK_EQ(k.vni, 0x0abc);
    CHECK_EQ(k.l3_off, 14 + 20 + 16 + 4);

    /* PPP with compressed protocol, no acknowledgment */
    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x0800);
    outer = ip4_begin(&g, 47, IP_E, IP_F);
    be16(&g, 0x3001);
    be16(&g, 0x880b);
    be16(&g, 41);
    be16(&g, 0x0abc);
    be32(&g, 5);
    u8(&g, 0x21);
    ipv4_tcp(&g, IP_A, IP_B);
    ip4_end(&g, outer);
    k = dec(&g, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 14 + 20 + 12 + 1);
}

static void test_erspan(void)
{
    /* type II: sequence number set, 8-byte header */
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(&f, 47, IP_E, IP_F);
    be16(&f, 0x1000);
    be16(&f, 0x88be);
    be32(&f, 1);
    be32(&f, 0x10000064); /* version 1, session 100 */
    be32(&f, 0);
    eth(&f, MAC_D, MAC_C, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);
    ip4_end(&f, outer);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_GRE);
    CHECK_MEM(k.src_mac, MAC_C, 6);
    CHECK_EQ(k.l3_off, 14 + 20 + 8 + 8 + 14);

    /* type I: no sequence number, no ERSPAN header */
    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x0800);
    outer = ip4_begin(&g, 47, IP_E, IP_F);
    be16(&g, 0x0000);
    be16(&g, 0x88be);
    eth(&g, MAC_D, MAC_C, 0x0800);
    ipv4_tcp(&g, IP_A, IP_B);
    ip4_end(&g, outer);
    k = dec(&g, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 14 + 20 + 4 + 14);

    /* type III with the optional platform subheader */
    fb h = {.n = 0};
    eth(&h, MAC_B, MAC_A, 0x0800);
    outer = ip4_begin(&h, 47, IP_E, IP_F);
    be16(&h, 0x1000);
    be16(&h, 0x22eb);
    be32(&h, 1);
    be32(&h, 0x20000064);
    be32(&h, 0);      /* timestamp */
    be16(&h, 0);      /* SGT */
    be16(&h, 0x0001); /* FT 0 (Ethernet), O set */
    zeros(&h, 8);
    eth(&h, MAC_D, MAC_C, 0x0800);
    ipv4_tcp(&h, IP_A, IP_B);
    ip4_end(&h, outer);
    k = dec(&h, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.l3_off, 14 + 20 + 8 + 12 + 8 + 14);
    CHECK_MEM(k.dst_mac, MAC_D, 6);
}

/* Ethernet + IPv4 + UDP to port dport + VXLAN + Ethernet + IPv4 + TCP. */
static void build_vxlan(fb *f, int inner_arp)
{
    eth(f, MAC_B, MAC_A, 0x8100);
    be16(f, 5);
    be16(f, 0x0800);
    size_t outer = ip4_begin(f, 17, IP_E, IP_F);
    size_t u = udp_begin(f, 49152, 4789);
    be32(f, 0x08000000u);
    be32(f, 0x00abcd00u);
    if (inner_arp) {
        eth(f, MAC_D, MAC_C, 0x0806);
        zeros(f, 28);
    } else {
        eth(f, MAC_D, MAC_C, 0x8100);
        be16(f, 6);
        be16(f, 0x0800);
        ipv4_tcp(f, IP_A, IP_B);
    }
    udp_end(f, u);
    ip4_end(f, outer);
}

static void test_vxlan(void)
{
    fb f = {.n = 0};
    build_vxlan(&f, 0);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_VXLAN);
    CHECK_EQ(k.vni, 0xabcd);
    check_v4(k.tun_src, IP_E);
    check_v4(k.tun_dst, IP_F);
    CHECK_MEM(k.src_mac, MAC_C, 6);
    CHECK_EQ(k.nvlan, 2);
    CHECK_EQ(k.vlan[0], 5);
    CHECK_EQ(k.vlan[1], 6);
    CHECK_EQ(k.l3_off, 18 + 20 + 8 + 8 + 18);
    CHECK_EQ(FLAGS_OF(k), 0);

    /* inner ARP: the outer UDP packet stands, unflagged */
    fb g = {.n = 0};
    build_vxlan(&g, 1);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(k.proto, 17);
    check_v4(k.src, IP_E);
    CHECK_EQ(k.sport, 49152);
    CHECK_EQ(k.dport, 4789);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(k.ethertype, 0x0800);
    CHECK_MEM(k.src_mac, MAC_A, 6);
    CHECK_EQ(k.nvlan, 1);
    CHECK_EQ(FLAGS_OF(k), 0);

    /* inner cut by the capture: the outer packet, flagged */
    k = dec_n(&f, 18 + 20 + 8 + 8 + 10, 1);
    CHECK_EQ(k.proto, 17);
    CHECK_EQ(k.dport, 4789);
    CHECK(k.flags & PDX_PKT_HAS_L4);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);

    /* another port: plain UDP */
    set_be16(&f, 18 + 20 + 2, 4790);
    k = dec(&f, 1);
    CHECK_EQ(k.proto, 17);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
}

static void test_geneve(void)
{
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(&f, 17, IP_E, IP_F);
    size_t u = udp_begin(&f, 50000, 6081);
    u8(&f, 0x02); /* version 0, 2 words of options */
    u8(&f, 0);
    be16(&f, 0x6558);
    be32(&f, 0x00000700u);
    zeros(&f, 8);
    eth(&f, MAC_D, MAC_C, 0x0800);
    ipv4_tcp(&f, IP_A, IP_B);
    udp_end(&f, u);
    ip4_end(&f, outer);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_GENEVE);
    CHECK_EQ(k.vni, 7);
    CHECK_EQ(k.l3_off, 14 + 20 + 8 + 16 + 14);

    /* IP directly */
    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x0800);
    outer = ip4_begin(&g, 17, IP_E, IP_F);
    u = udp_begin(&g, 50000, 6081);
    u8(&g, 0);
    u8(&g, 0);
    be16(&g, 0x86dd);
    be32(&g, 0x00000800u);
    size_t ip = ip6_begin(&g, 17, V6_A, V6_B);
    size_t u2 = udp_begin(&g, 53, 53);
    udp_end(&g, u2);
    ip6_end(&g, ip);
    udp_end(&g, u);
    ip4_end(&g, outer);
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.sport, 53);
    CHECK_EQ(k.vni, 8);
    CHECK_EQ(k.tunnel, PDX_TUN_GENEVE);

    /* options longer than the packet */
    g.b[14 + 20 + 8] = 0x3f;
    k = dec(&g, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
}

/* GTP-U G-PDU with sequence number and one extension header, inner IPv6. */
static void build_gtpu(fb *f)
{
    eth(f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(f, 17, IP_E, IP_F);
    size_t u = udp_begin(f, 2152, 2152);
    size_t g = f->n;
    u8(f, 0x36); /* version 1, PT, E, S */
    u8(f, 255);
    be16(f, 0);
    be32(f, 0x01020304u);
    be16(f, 9);  /* sequence */
    u8(f, 0);    /* N-PDU */
    u8(f, 0x85); /* next: PDU session container */
    u8(f, 1);    /* 4 bytes */
    u8(f, 0x10);
    u8(f, 0x09);
    u8(f, 0);    /* no more */
    size_t ip = ip6_begin(f, 17, V6_A, V6_B);
    size_t u2 = udp_begin(f, 1000, 2000);
    payload(f, 3);
    udp_end(f, u2);
    ip6_end(f, ip);
    set_be16(f, g + 2, (unsigned)(f->n - g - 8));
    udp_end(f, u);
    ip4_end(f, outer);
}

static void test_gtpu(void)
{
    fb f = {.n = 0};
    build_gtpu(&f);
    pdx_pkt k = dec(&f, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP6);
    CHECK_EQ(k.sport, 1000);
    CHECK_EQ(k.dport, 2000);
    CHECK_EQ(k.payload_len, 3);
    CHECK_EQ(k.tunnel, PDX_TUN_GTPU);
    CHECK_EQ(k.vni, 0x01020304u);
    CHECK_EQ(k.l3_off, 14 + 20 + 8 + 16);

    /* plain header, IPv4 inside */
    fb g = {.n = 0};
    eth(&g, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(&g, 17, IP_E, IP_F);
    size_t u = udp_begin(&g, 40000, 2152);
    u8(&g, 0x30);
    u8(&g, 255);
    be16(&g, 50);
    be32(&g, 77);
    ipv4_tcp(&g, IP_A, IP_B);
    udp_end(&g, u);
    ip4_end(&g, outer);
    k = dec(&g, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.vni, 77);

    /* echo request: signalling, not a tunnel */
    g.b[14 + 20 + 8 + 1] = 1;
    k = dec(&g, 1);
    CHECK_EQ(k.proto, 17);
    CHECK_EQ(k.dport, 2152);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(FLAGS_OF(k), 0);

    /* an extension header of length 0 */
    f.b[14 + 20 + 8 + 12] = 0;
    k = dec(&f, 1);
    CHECK_EQ(k.tunnel, PDX_TUN_NONE);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_INVALID);
}

static void test_nested_tunnels(void)
{
    /* GRE inside VXLAN: tunnel fields describe the VXLAN (outermost) */
    fb f = {.n = 0};
    eth(&f, MAC_B, MAC_A, 0x0800);
    size_t o1 = ip4_begin(&f, 17, IP_E, IP_F);
    size_t u = udp_begin(&f, 1111, 4789);
    be32(&f, 0x08000000u);
    be32(&f, 0x00000100u);
    eth(&f, MAC_D, MAC_C, 0x0800);
    size_t o2 = ip4_begin(&f, 47, IP_C, IP_D);
    be16(&f, 0x2000);
    be16(&f, 0x0800);
    be32(&f, 99);
    ipv4_tcp(&f, IP_A, IP_B);
    ip4_end(&f, o2);
    udp_end(&f, u);
    ip4_end(&f, o1);
    pdx_pkt k = dec(&f, 1);
    check_ipv4_tcp(&k, IP_A, IP_B);
    CHECK_EQ(k.tunnel, PDX_TUN_VXLAN);
    CHECK_EQ(k.vni, 1);
    check_v4(k.tun_src, IP_E);
    CHECK_MEM(k.src_mac, MAC_C, 6);

    /* the innermost header cut: the middle one stands, still tunnelled */
    k = dec_n(&f, f.n - 45, 1);
    CHECK_EQ(k.kind, PDX_KIND_IP4);
    CHECK_EQ(k.proto, 47);
    check_v4(k.src, IP_C);
    CHECK_EQ(k.tunnel, PDX_TUN_VXLAN);
    CHECK_EQ(FLAGS_OF(k), PDX_PKT_TRUNCATED);
}

/* -------------------------------------------------- prefixes and mutation */

typedef void (*builder)(fb *);

static void build_qinq_vxlan(fb *f)
{
    fb g = {.n = 0};
    build_vxlan(&g, 0);
    eth(f, MAC_B, MAC_A, 0x88a8);
    be16(f, 300);
    put(f, g.b + 12, g.n - 12); /* 0x8100 tag 5, then the rest */
}

static void build_ipv6_frag_tcp(fb *f)
{
    eth(f, MAC_B, MAC_A, 0x86dd);
    size_t ip = ip6_begin(f, 0, V6_A, V6_B);
    u8(f, 44);
    u8(f, 0);
    zeros(f, 6);
    u8(f, 6);
    u8(f, 0);
    be16(f, 0);
    be32(f, 1);
    tcp(f, 22, 40000, 1, 2, 0x10);
    payload(f, 4);
    ip6_end(f, ip);
}

static void build_pptp(fb *f)
{
    eth(f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(f, 47, IP_E, IP_F);
    be16(f, 0x3081);
    be16(f, 0x880b);
    be16(f, 44);
    be16(f, 0x0abc);
    be32(f, 5);
    be32(f, 4);
    be16(f, 0xff03);
    be16(f, 0x0021);
    ipv4_tcp(f, IP_A, IP_B);
    ip4_end(f, outer);
}

static void build_erspan3(fb *f)
{
    eth(f, MAC_B, MAC_A, 0x0800);
    size_t outer = ip4_begin(f, 47, IP_E, IP_F);
    be16(f, 0x1000);
    be16(f, 0x22eb);
    be32(f, 1);
    be32(f, 0x20000064);
    be32(f, 0);
    be16(f, 0);
    be16(f, 0x0001);
    zeros(f, 8);
    eth(f, MAC_D, MAC_C, 0x8847);
    be32(f, (300u << 12) | 0x100 | 64);
    ipv4_tcp(f, IP_A, IP_B);
    ip4_end(f, outer);
}

static const struct {
    builder build;
    uint32_t linktype;
} rich[] = {
    {build_qinq_vxlan, 1}, {build_radiotap, 127},   {build_gtpu, 1},   {build_ipv6_ext, 1},
    {build_ipv6_frag_tcp, 1}, {build_pptp, 1}, {build_erspan3, 1},
};

/* Every proper prefix of a well-formed frame is truncated, never invalid. */
static void test_every_prefix(void)
{
    for (size_t r = 0; r < sizeof(rich) / sizeof(rich[0]); r++) {
        fb f = {.n = 0};
        rich[r].build(&f);
        pdx_pkt full = dec(&f, rich[r].linktype);
        CHECK(!(full.flags & (PDX_PKT_TRUNCATED | PDX_PKT_INVALID)));
        CHECK(full.kind != PDX_KIND_L2);
        for (size_t n = 0; n < f.n; n++) {
            /* a copy exactly n bytes long, so ASan sees any overread */
            uint8_t *copy = malloc(n ? n : 1);
            pdx_pkt k;
            CHECK(copy != NULL);
            memcpy(copy, f.b, n);
            pdx_decode(copy, n, rich[r].linktype, &k);
            free(copy);
            check_sane(&k, n);
            if (!(k.flags & PDX_PKT_TRUNCATED) || (k.flags & PDX_PKT_INVALID))
                PDX_FAIL_("frame %zu prefix %zu: flags 0x%x", r, n, (unsigned)k.flags);
        }
    }
}

static uint32_t rnd_state = 0x12345678u;

static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

/* Random byte changes and cuts: no crash, and the sanity invariants hold. */
static void test_mutations(void)
{
    static const uint32_t lts[] = {0, 1, 9, 12, 50, 101, 104, 105, 108, 113, 127,
                                   192, 228, 229, 239, 242, 276};
    for (size_t r = 0; r < sizeof(rich) / sizeof(rich[0]); r++) {
        fb f = {.n = 0};
        rich[r].build(&f);
        for (int i = 0; i < 20000; i++) {
            uint8_t buf[sizeof(f.b)];
            size_t n = f.n - rnd() % (f.n / 4 + 1);
            int flips = 1 + (int)(rnd() % 4);
            uint32_t lt = (i & 7) ? rich[r].linktype : lts[rnd() % (sizeof(lts) / sizeof(lts[0]))];
            memcpy(buf, f.b, f.n);
            while (flips--)
                buf[rnd() % f.n] = (uint8_t)rnd();
            uint8_t *copy = malloc(n ? n : 1);
            pdx_pkt k;
            CHECK(copy != NULL);
            memcpy(copy, buf, n);
            pdx_decode(copy, n, lt, &k);
            free(copy);
            check_sane(&k, n);
        }
    }
}

const pdx_test pdx_suite_decode[] = {
    {"eth_ipv4_tcp", test_eth_ipv4_tcp},
    {"eth_ipv4_udp_padding", test_eth_ipv4_udp_padding},
    {"ipv4_options", test_ipv4_options},
    {"ipv4_fragments", test_ipv4_fragments},
    {"ipv4_truncated", test_ipv4_truncated},
    {"ipv4_invalid", test_ipv4_invalid},
    {"ipv6_tcp", test_ipv6_tcp},
    {"ipv6_ext_headers", test_ipv6_ext_headers},
    {"ipv6_final_headers", test_ipv6_final_headers},
    {"ipv6_fragments", test_ipv6_fragments},
    {"icmp", test_icmp},
    {"icmpv6", test_icmpv6},
    {"sctp_dccp_udplite", test_sctp_dccp_udplite},
    {"vlan_qinq", test_vlan_qinq},
    {"mpls", test_mpls},
    {"pppoe", test_pppoe},
    {"llc_snap_and_l2", test_llc_snap_and_l2},
    {"sll", test_sll},
    {"raw", test_raw},
    {"null_loop", test_null_loop},
    {"ppp_chdlc", test_ppp_chdlc},
    {"80211", test_80211},
    {"radiotap", test_radiotap},
    {"nflog", test_nflog},
    {"ipoib_ppi", test_ipoib_ppi},
    {"unknown_link", test_unknown_link},
    {"ipip", test_ipip},
    {"ipip_depth", test_ipip_depth},
    {"gre", test_gre},
    {"gre_pptp", test_gre_pptp},
    {"erspan", test_erspan},
    {"vxlan", test_vxlan},
    {"geneve", test_geneve},
    {"gtpu", test_gtpu},
    {"nested_tunnels", test_nested_tunnels},
    {"every_prefix", test_every_prefix},
    {"mutations", test_mutations},
    PDX_TEST_END,
};
