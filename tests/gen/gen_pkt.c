/* gen_pkt.c - builders for link headers, IPv4/IPv6, TCP/UDP/ICMP and ARP.
 * Every length field and checksum is filled in, so tshark sees clean
 * packets; bytes are written with explicit shifts, never through structs. */
#include "gen.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t mac_client[6] = {0x00, 0x16, 0x3e, 0x5a, 0x01, 0x02};
static const uint8_t mac_router[6] = {0x00, 0x1b, 0x21, 0xc4, 0x7e, 0x9f};

void pdx_gen_addr4(pdx_gen_addr *x, uint32_t host_order)
{
    memset(x, 0, sizeof *x);
    pdx_gen_be32(x->a, host_order);
}

void pdx_gen_addr6(pdx_gen_addr *x, uint64_t hi, uint64_t lo)
{
    memset(x, 0, sizeof *x);
    x->v6 = 1;
    pdx_gen_be32(x->a, (uint32_t)(hi >> 32));
    pdx_gen_be32(x->a + 4, (uint32_t)hi);
    pdx_gen_be32(x->a + 8, (uint32_t)(lo >> 32));
    pdx_gen_be32(x->a + 12, (uint32_t)lo);
}

/* A bijection on 24 bits, so consecutive clients get scattered but distinct addresses. */
static uint32_t perm24(uint64_t n) { return (uint32_t)((n * 0x9e3779b1u + 0x5bd1e9u) & 0xffffffu); }

static uint64_t perm64(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    return x ^ (x >> 33);
}

void pdx_gen_client(uint64_t n, int v6, pdx_gen_addr *addr, uint16_t *port)
{
    uint32_t low = perm24(n);
    /* 7919 is prime to 28232, so clients that share an address (n apart by a
     * multiple of 2^24) get distinct ports. */
    *port = (uint16_t)(32768u + (low * 2654435761u % 28232u + (uint32_t)(n >> 24) * 7919u) % 28232u);
    if (v6)
        pdx_gen_addr6(addr, 0x20010db8c0000000ULL, perm64(n));
    else
        pdx_gen_addr4(addr, 0x0a000000u | low);
}

void pdx_gen_addr_str(const pdx_gen_addr *x, char *out)
{
    if (inet_ntop(x->v6 ? AF_INET6 : AF_INET, x->a, out, 64) == NULL)
        strcpy(out, "?");
}

static const struct {
    const char *name;
    uint32_t dlt;
} links[PDX_GEN_NLINKS] = {
    [PDX_GEN_ETH] = {"eth", 1},      [PDX_GEN_VLAN] = {"vlan", 1},   [PDX_GEN_QINQ] = {"qinq", 1},
    [PDX_GEN_MPLS] = {"mpls", 1},    [PDX_GEN_PPPOE] = {"pppoe", 1}, [PDX_GEN_SLL] = {"sll", 113},
    [PDX_GEN_SLL2] = {"sll2", 276},  [PDX_GEN_RAW] = {"raw", 101},   [PDX_GEN_IPV4] = {"ipv4", 228},
    [PDX_GEN_IPV6] = {"ipv6", 229},  [PDX_GEN_NULL] = {"null", 0},   [PDX_GEN_NULL_BE] = {"null-be", 0},
    [PDX_GEN_LOOP] = {"loop", 108},  [PDX_GEN_PPP] = {"ppp", 9},     [PDX_GEN_CHDLC] = {"chdlc", 104},
};

int pdx_gen_link_by_name(const char *name)
{
    for (int i = 0; i < PDX_GEN_NLINKS; i++)
        if (strcmp(links[i].name, name) == 0)
            return i;
    return -1;
}

const char *pdx_gen_link_name(int link) { return links[link].name; }
uint32_t pdx_gen_link_dlt(int link) { return links[link].dlt; }

static int eth_family(int link)
{
    return link == PDX_GEN_ETH || link == PDX_GEN_VLAN || link == PDX_GEN_QINQ || link == PDX_GEN_MPLS ||
           link == PDX_GEN_PPPOE;
}

int pdx_gen_link_has(int link, uint16_t ethertype)
{
    switch (ethertype) {
    case 0x0800: return link != PDX_GEN_IPV6;
    case 0x86dd: return link != PDX_GEN_IPV4;
    case 0x0806: return eth_family(link) || link == PDX_GEN_SLL || link == PDX_GEN_SLL2;
    default: return 0;
    }
}

size_t pdx_gen_eth_hdr(uint8_t *p, int dir, uint16_t ethertype)
{
    memcpy(p, dir ? mac_client : mac_router, 6);
    memcpy(p + 6, dir ? mac_router : mac_client, 6);
    pdx_gen_be16(p + 12, ethertype);
    return 14;
}

/* BSD AF_INET6 values differ per OS: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS). */
static uint32_t null_af(uint16_t ethertype, uint32_t variant)
{
    static const uint32_t af6[3] = {24, 28, 30};
    return ethertype == 0x86dd ? af6[variant % 3] : 2;
}

size_t pdx_gen_link_hdr(uint8_t *p, int link, uint16_t ethertype, int dir, uint32_t variant,
                        size_t payload_len)
{
    uint16_t ppp_proto = ethertype == 0x86dd ? 0x0057 : 0x0021;
    size_t n;
    if (ethertype == 0x0806 && (link == PDX_GEN_MPLS || link == PDX_GEN_PPPOE))
        link = PDX_GEN_ETH; /* ARP travels beside the MPLS/PPPoE traffic */
    switch (link) {
    case PDX_GEN_ETH:
        return pdx_gen_eth_hdr(p, dir, ethertype);
    case PDX_GEN_VLAN:
        pdx_gen_eth_hdr(p, dir, 0x8100);
        pdx_gen_be16(p + 14, (uint16_t)(100 + variant % 4));
        pdx_gen_be16(p + 16, ethertype);
        return 18;
    case PDX_GEN_QINQ:
        pdx_gen_eth_hdr(p, dir, 0x88a8);
        pdx_gen_be16(p + 14, (uint16_t)(0x2000 | (200 + variant % 2)));
        pdx_gen_be16(p + 16, 0x8100);
        pdx_gen_be16(p + 18, (uint16_t)(100 + variant % 4));
        pdx_gen_be16(p + 20, ethertype);
        return 22;
    case PDX_GEN_MPLS:
        pdx_gen_eth_hdr(p, dir, 0x8847);
        pdx_gen_be32(p + 14, ((16000u + variant % 8) << 12) | 64);            /* outer, S=0 */
        pdx_gen_be32(p + 18, ((300u + (uint32_t)dir) << 12) | (1u << 8) | 64); /* inner, S=1 */
        return 22;
    case PDX_GEN_PPPOE:
        pdx_gen_eth_hdr(p, dir, 0x8864);
        p[14] = 0x11;
        p[15] = 0x00;
        pdx_gen_be16(p + 16, (uint16_t)(0x1234 + variant % 4));
        pdx_gen_be16(p + 18, (uint16_t)(payload_len + 2));
        pdx_gen_be16(p + 20, ppp_proto);
        return 22;
    case PDX_GEN_SLL:
        pdx_gen_be16(p, dir ? 0 : 4); /* 0 to us, 4 outgoing */
        pdx_gen_be16(p + 2, 1);       /* ARPHRD_ETHER */
        pdx_gen_be16(p + 4, 6);
        memset(p + 6, 0, 8);
        memcpy(p + 6, dir ? mac_router : mac_client, 6);
        pdx_gen_be16(p + 14, ethertype);
        return 16;
    case PDX_GEN_SLL2:
        pdx_gen_be16(p, ethertype);
        pdx_gen_be16(p + 2, 0);
        pdx_gen_be32(p + 4, 2 + variant % 2); /* interface index */
        pdx_gen_be16(p + 8, 1);
        p[10] = dir ? 0 : 4;
        p[11] = 6;
        memset(p + 12, 0, 8);
        memcpy(p + 12, dir ? mac_router : mac_client, 6);
        return 20;
    case PDX_GEN_RAW:
    case PDX_GEN_IPV4:
    case PDX_GEN_IPV6:
        return 0;
    case PDX_GEN_NULL:
        pdx_gen_st32(p, null_af(ethertype, variant), 0);
        return 4;
    case PDX_GEN_NULL_BE:
        pdx_gen_st32(p, null_af(ethertype, variant), 1);
        return 4;
    case PDX_GEN_LOOP:
        pdx_gen_be32(p, ethertype == 0x86dd ? 24 : 2);
        return 4;
    case PDX_GEN_PPP:
        p[0] = 0xff;
        p[1] = 0x03;
        pdx_gen_be16(p + 2, ppp_proto);
        return 4;
    case PDX_GEN_CHDLC:
        p[0] = 0x0f;
        p[1] = 0x00;
        pdx_gen_be16(p + 2, ethertype);
        return 4;
    default:
        n = 0;
        break;
    }
    return n;
}

size_t pdx_gen_eth_pad(uint8_t *frame, int link, size_t len)
{
    if (!eth_family(link) || len >= 60)
        return len;
    memset(frame + len, 0, 60 - len);
    return 60;
}

uint64_t pdx_gen_csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    /* Native-order words: the one's complement sum is byte-order neutral
     * (RFC 1071), so storing the folded result natively gives wire order. */
    while (n >= 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + 4, 4);
        sum += (uint64_t)a + b;
        p += 8;
        n -= 8;
    }
    while (n >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        sum += w;
        p += 2;
        n -= 2;
    }
    if (n) {
        uint8_t t[2] = {p[0], 0};
        uint16_t w;
        memcpy(&w, t, 2);
        sum += w;
    }
    return sum;
}

void pdx_gen_csum_store(uint64_t sum, uint8_t *out)
{
    uint16_t w;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    w = (uint16_t)~sum;
    memcpy(out, &w, 2);
}

void pdx_gen_l4_csum(uint8_t *l4, size_t l4len, uint8_t proto, const pdx_gen_addr *src,
                     const pdx_gen_addr *dst)
{
    uint8_t ph[40];
    uint64_t sum = 0;
    size_t off = proto == 6 ? 16 : proto == 17 ? 6 : 2;
    if (l4len < off + 2)
        return;
    l4[off] = l4[off + 1] = 0;
    if (src->v6) {
        memcpy(ph, src->a, 16);
        memcpy(ph + 16, dst->a, 16);
        pdx_gen_be32(ph + 32, (uint32_t)l4len);
        ph[36] = ph[37] = ph[38] = 0;
        ph[39] = proto;
        sum = pdx_gen_csum_add(sum, ph, 40);
    } else if (proto != 1) {
        memcpy(ph, src->a, 4);
        memcpy(ph + 4, dst->a, 4);
        ph[8] = 0;
        ph[9] = proto;
        pdx_gen_be16(ph + 10, (uint16_t)l4len);
        sum = pdx_gen_csum_add(sum, ph, 12);
    }
    sum = pdx_gen_csum_add(sum, l4, l4len);
    pdx_gen_csum_store(sum, l4 + off);
    if (proto == 17 && l4[off] == 0 && l4[off + 1] == 0)
        l4[off] = l4[off + 1] = 0xff;
}

size_t pdx_gen_ip4_hdr(uint8_t *p, const pdx_gen_addr *src, const pdx_gen_addr *dst, uint8_t proto,
                       size_t payload_len, uint16_t id, uint8_t ttl, uint16_t frag)
{
    p[0] = 0x45;
    p[1] = 0;
    pdx_gen_be16(p + 2, (uint16_t)(20 + payload_len));
    pdx_gen_be16(p + 4, id);
    pdx_gen_be16(p + 6, frag);
    p[8] = ttl;
    p[9] = proto;
    p[10] = p[11] = 0;
    memcpy(p + 12, src->a, 4);
    memcpy(p + 16, dst->a, 4);
    pdx_gen_csum_store(pdx_gen_csum_add(0, p, 20), p + 10);
    return 20;
}

size_t pdx_gen_ip6_hdr(uint8_t *p, const pdx_gen_addr *src, const pdx_gen_addr *dst, uint8_t next,
                       size_t payload_len, uint8_t hop)
{
    pdx_gen_be32(p, 0x60000000u);
    pdx_gen_be16(p + 4, (uint16_t)payload_len);
    p[6] = next;
    p[7] = hop;
    memcpy(p + 8, src->a, 16);
    memcpy(p + 24, dst->a, 16);
    return 40;
}

static size_t l4_hdr_len(const pdx_gen_pkt *s)
{
    switch (s->proto) {
    case 6: return s->syn_opts ? 32 : 20;
    case 17: return 8;
    default: return 8; /* ICMP echo */
    }
}

size_t pdx_gen_ippkt_len(const pdx_gen_pkt *s)
{
    return (s->src->v6 ? 40u : 20u) + l4_hdr_len(s) + s->paylen;
}

size_t pdx_gen_l4(uint8_t *p, const pdx_gen_pkt *s)
{
    size_t h = l4_hdr_len(s);
    switch (s->proto) {
    case 6:
        pdx_gen_be16(p, s->sport);
        pdx_gen_be16(p + 2, s->dport);
        pdx_gen_be32(p + 4, s->seq);
        pdx_gen_be32(p + 8, s->ack);
        p[12] = (uint8_t)((h / 4) << 4);
        p[13] = s->tcp_flags;
        pdx_gen_be16(p + 14, s->win ? s->win : 65535);
        p[16] = p[17] = p[18] = p[19] = 0;
        if (s->syn_opts) {
            static const uint8_t opts[12] = {2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};
            memcpy(p + 20, opts, 12);
            if (s->src->v6)
                p[23] = 0xa0; /* MSS 1440 */
        }
        break;
    case 17:
        pdx_gen_be16(p, s->sport);
        pdx_gen_be16(p + 2, s->dport);
        pdx_gen_be16(p + 4, (uint16_t)(8 + s->paylen));
        p[6] = p[7] = 0;
        break;
    default:
        p[0] = s->icmp_type;
        p[1] = s->icmp_code;
        p[2] = p[3] = 0;
        pdx_gen_be16(p + 4, s->icmp_id);
        pdx_gen_be16(p + 6, s->icmp_seq);
        break;
    }
    if (s->paylen > 0)
        memcpy(p + h, s->payload, s->paylen);
    return h + s->paylen;
}

size_t pdx_gen_ippkt(uint8_t *p, const pdx_gen_pkt *s)
{
    size_t iph = s->src->v6 ? 40 : 20;
    size_t l4len = pdx_gen_l4(p + iph, s);
    if (s->src->v6)
        pdx_gen_ip6_hdr(p, s->src, s->dst, s->proto, l4len, s->ttl);
    else
        pdx_gen_ip4_hdr(p, s->src, s->dst, s->proto, l4len, s->ip_id, s->ttl, 0x4000);
    pdx_gen_l4_csum(p + iph, l4len, s->proto, s->src, s->dst);
    return iph + l4len;
}

size_t pdx_gen_frame(uint8_t *p, int link, int dir, uint32_t variant, const pdx_gen_pkt *s)
{
    uint16_t et = s->src->v6 ? 0x86dd : 0x0800;
    size_t iplen = pdx_gen_ippkt_len(s);
    size_t h = pdx_gen_link_hdr(p, link, et, dir, variant, iplen);
    size_t n = h + pdx_gen_ippkt(p + h, s);
    return pdx_gen_eth_pad(p, link, n);
}

size_t pdx_gen_arp(uint8_t *p, int link, int dir, uint32_t sip, uint32_t tip, int reply)
{
    size_t h = pdx_gen_link_hdr(p, link, 0x0806, dir, 0, 28);
    uint8_t *a = p + h;
    if (!reply && (link == PDX_GEN_ETH || link == PDX_GEN_VLAN || link == PDX_GEN_QINQ ||
                   link == PDX_GEN_MPLS || link == PDX_GEN_PPPOE))
        memset(p, 0xff, 6); /* requests are broadcast */
    pdx_gen_be16(a, 1);
    pdx_gen_be16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    pdx_gen_be16(a + 6, reply ? 2 : 1);
    memcpy(a + 8, dir ? mac_router : mac_client, 6);
    pdx_gen_be32(a + 14, sip);
    if (reply)
        memcpy(a + 18, dir ? mac_client : mac_router, 6);
    else
        memset(a + 18, 0, 6);
    pdx_gen_be32(a + 24, tip);
    return pdx_gen_eth_pad(p, link, h + 28);
}
