/*
 * decode.c - layer 2 to 4 decoding of one captured frame (see decode.h).
 *
 * Shape: a link-layer front end per LINKTYPE turns the frame into "a protocol
 * number and where it starts"; dec_l2() then walks ethertype-like protocol
 * numbers (VLAN tags, MPLS, PPPoE, LLC/SNAP, PPP, Ethernet) in a loop until
 * it reaches IPv4 or IPv6; the IP decoders hand the transport to dec_l4(),
 * which recognises tunnels and re-enters dec_l2() for the inner packet.
 * Recursion happens only through tunnels and is capped at
 * PDX_MAX_TUNNEL_DEPTH, so a crafted frame cannot exhaust the stack.
 *
 * Every read is bounds-checked against an end pointer: either the end of the
 * captured bytes or the end an enclosing length field declares, whichever is
 * first.  When a header does not fit, the cause decides the flag: the
 * capture ended (snaplen) -> TRUNCATED; a length field of an enclosing header
 * says there is no more -> INVALID; inside a first fragment the rest is
 * simply in a later fragment -> no flag.
 */
#include "decode.h"

#include <string.h>

#include "cursor.h"
#include "pdx.h"

/* Ethertypes. */
#define ET_IP4 0x0800u
#define ET_IP6 0x86ddu
#define ET_VLAN 0x8100u
#define ET_QINQ 0x88a8u
#define ET_QINQ_OLD 0x9100u
#define ET_MPLS 0x8847u
#define ET_MPLS_MC 0x8848u
#define ET_PPPOE 0x8864u
#define ET_TEB 0x6558u  /* transparent Ethernet bridging (GRE, Geneve) */
#define ET_PBB 0x88e7u  /* 802.1ah I-tag, then a customer Ethernet header */
#define ET_VNTAG 0x8926u
#define ET_ERSPAN2 0x88beu
#define ET_ERSPAN3 0x22ebu
#define ET_PPP 0x880bu
#define ET_WCCP 0x883eu
#define ET_CMD 0x8909u  /* Cisco MetaData (security group tag) */

/* Pseudo protocol numbers for dec_l2, above any ethertype. */
#define T_ETHER 0x10000u /* an Ethernet header starts here */
#define T_IPVER 0x10001u /* IPv4 or IPv6, by the version nibble */
#define T_PPP 0x10002u   /* PPP: optional 0xff03, then a 1- or 2-byte protocol */
#define T_LLC 0x10003u   /* 802.2 LLC, possibly SNAP */

/* What decoding a network layer came to. */
enum {
    DEC_IP = 0,  /* an IP header was decoded; pkt describes it */
    DEC_NOTIP,   /* the frame carries something other than IP */
    DEC_TRUNC,   /* the capture ended inside a header we needed */
    DEC_INVALID  /* a header contradicts itself or its container */
};

typedef struct dec {
    const uint8_t *base; /* first byte of the frame: offsets are relative to it */
    pdx_pkt *pkt;
    int depth;   /* tunnels entered */
    int snapcut; /* the current end pointer is the end of the capture */
    int frag;    /* inside a first fragment: the rest is in later fragments */
} dec;

static int dec_l2(dec *d, uint32_t type, const uint8_t *p, const uint8_t *end);

/* The verdict for a header that does not fit before end. */
static int short_of(const dec *d)
{
    if (d->snapcut)
        return DEC_TRUNC;
    return d->frag ? DEC_NOTIP : DEC_INVALID;
}

/* Records, on a packet already decoded as IP, that a later header did not fit. */
static void mark_short(dec *d)
{
    if (d->snapcut)
        d->pkt->flags |= PDX_PKT_TRUNCATED;
    else if (!d->frag)
        d->pkt->flags |= PDX_PKT_INVALID;
}

static uint32_t off_of(const dec *d, const uint8_t *p)
{
    return (uint32_t)(p - d->base);
}

static void set_payload(dec *d, const uint8_t *from, const uint8_t *end, size_t declared)
{
    size_t have = (size_t)(end - from);
    d->pkt->payload_off = off_of(d, from);
    d->pkt->payload_len = (uint32_t)PDX_MIN(have, declared);
}

/* Where an IP payload that declares len bytes ends, given what is there. */
static const uint8_t *payload_end(dec *d, const uint8_t *start, const uint8_t *end, size_t len)
{
    if (len <= (size_t)(end - start)) {
        d->snapcut = 0;
        return start + len;
    }
    mark_short(d);
    return end;
}

/* ------------------------------------------------------------------ tunnels */

/*
 * Decodes the packet inside a tunnel.  On success pkt describes the inner
 * packet (and tun_* the outermost tunnel); otherwise pkt is put back as it
 * was, flagged TRUNCATED or INVALID when the inner headers were cut or bad.
 */
static void dec_tunnel(dec *d, uint8_t tun, uint32_t vni, uint32_t type, const uint8_t *p,
                       const uint8_t *end)
{
    pdx_pkt *k = d->pkt;
    pdx_pkt save;
    int r, snapcut = d->snapcut;

    if (d->depth >= PDX_MAX_TUNNEL_DEPTH)
        return;
    save = *k;
    if (k->tunnel == PDX_TUN_NONE) {
        k->tunnel = tun;
        memcpy(k->tun_src, k->src, 16);
        memcpy(k->tun_dst, k->dst, 16);
        k->vni = vni;
    }
    k->flags &= (uint8_t) ~(PDX_PKT_HAS_L4 | PDX_PKT_FRAGMENT);
    k->proto = 0;
    k->tcp_flags = 0;
    k->sport = k->dport = k->icmp_id = 0;
    k->tcp_seq = k->tcp_ack = 0;
    k->frag_id = k->frag_offset = 0;
    k->frag_more = 0;
    d->depth++;
    r = dec_l2(d, type, p, end);
    d->depth--;
    if (r == DEC_IP)
        return;
    *k = save;
    d->snapcut = snapcut;
    if (r == DEC_TRUNC)
        k->flags |= PDX_PKT_TRUNCATED;
    else if (r == DEC_INVALID)
        k->flags |= PDX_PKT_INVALID;
}

/* A tunnel header that does not fit: flagged only when the capture cut it. */
static void tunnel_short(dec *d)
{
    if (d->snapcut)
        d->pkt->flags |= PDX_PKT_TRUNCATED;
}

static void dec_gre(dec *d, const uint8_t *p, const uint8_t *end)
{
    pdx_cur c = pdx_cur_make(p, (size_t)(end - p));
    uint16_t fl = pdx_cur_be16(&c);
    uint32_t proto = pdx_cur_be16(&c), key = 0;
    unsigned ver = fl & 7u;

    if (ver > 1)
        return;
    if (fl & 0xc000u) /* checksum and offset, present when C or R is set */
        pdx_cur_skip(&c, 4);
    if (fl & 0x2000u)
        key = pdx_cur_be32(&c);
    if (fl & 0x1000u)
        pdx_cur_skip(&c, 4);
    if (ver == 1) {
        if (fl & 0x0080u) /* PPTP acknowledgment number */
            pdx_cur_skip(&c, 4);
        key &= 0xffffu; /* the call ID; the high half is the payload length */
    } else if (fl & 0x4000u) {
        /* RFC 1701 source routing: SREs until a null one. */
        for (;;) {
            uint16_t af = pdx_cur_be16(&c);
            uint8_t len;
            pdx_cur_skip(&c, 1);
            len = pdx_cur_u8(&c);
            if (c.err || (af == 0 && len == 0))
                break;
            pdx_cur_skip(&c, len);
        }
    }
    if (c.err) {
        tunnel_short(d);
        return;
    }
    if (proto == ET_ERSPAN2) {
        /* Type II has an 8-byte header; type I (no sequence number) none. */
        if (fl & 0x1000u)
            pdx_cur_skip(&c, 8);
        proto = T_ETHER;
    } else if (proto == ET_ERSPAN3) {
        const uint8_t *h = pdx_cur_take(&c, 12);
        if (h == NULL) {
            tunnel_short(d);
            return;
        }
        if (h[11] & 1u) /* O: platform specific subheader */
            pdx_cur_skip(&c, 8);
        switch ((h[10] >> 2) & 0x1fu) { /* frame type */
        case 0: proto = T_ETHER; break;
        case 2: proto = T_IPVER; break;
        default: return;
        }
    } else if (proto == ET_PPP) {
        proto = T_PPP;
    } else if (proto == ET_CMD) {
        /* In GRE the ethertype comes first, then version, length, option, SGT. */
        proto = pdx_cur_be16(&c);
        pdx_cur_skip(&c, 6);
    } else if (proto == ET_WCCP) {
        /* WCCP redirection: IPv4, after a 4-byte redirect header in v2 */
        if (c.p < end && (c.p[0] >> 4) != 4)
            pdx_cur_skip(&c, 4);
        proto = ET_IP4;
    }
    if (c.err) {
        tunnel_short(d);
        return;
    }
    dec_tunnel(d, PDX_TUN_GRE, key, proto, c.p, end);
}

static void dec_vxlan(dec *d, const uint8_t *p, const uint8_t *end)
{
    if (end - p < 8) {
        tunnel_short(d);
        return;
    }
    dec_tunnel(d, PDX_TUN_VXLAN, pdx_load_be32(p + 4) >> 8, T_ETHER, p + 8, end);
}

static void dec_geneve(dec *d, const uint8_t *p, const uint8_t *end)
{
    size_t hl;
    if (end - p < 8) {
        tunnel_short(d);
        return;
    }
    if (p[0] >> 6) /* version */
        return;
    hl = 8 + (size_t)(p[0] & 0x3fu) * 4;
    if ((size_t)(end - p) < hl) {
        tunnel_short(d);
        return;
    }
    dec_tunnel(d, PDX_TUN_GENEVE, pdx_load_be32(p + 4) >> 8, pdx_load_be16(p + 2), p + hl, end);
}

static void dec_gtpu(dec *d, const uint8_t *p, const uint8_t *end)
{
    size_t left = (size_t)(end - p), hl = 8;
    if (left < 8) {
        tunnel_short(d);
        return;
    }
    /* Version 1, protocol type GTP, message G-PDU; anything else is signalling. */
    if ((p[0] & 0xf0u) != 0x30u || p[1] != 255)
        return;
    if (p[0] & 7u) { /* E, S or PN: sequence, N-PDU and next extension type */
        unsigned next;
        if (left < 12) {
            tunnel_short(d);
            return;
        }
        next = p[11];
        hl = 12;
        while (next != 0) {
            size_t len;
            if (left < hl + 1) {
                tunnel_short(d);
                return;
            }
            len = (size_t)p[hl] * 4;
            if (len == 0) {
                d->pkt->flags |= PDX_PKT_INVALID;
                return;
            }
            if (left < hl + len) {
                tunnel_short(d);
                return;
            }
            next = p[hl + len - 1];
            hl += len;
        }
    }
    dec_tunnel(d, PDX_TUN_GTPU, pdx_load_be32(p + 4), T_IPVER, p + hl, end);
}

/* ---------------------------------------------------------------- transport */

static int is_icmp_echo(unsigned proto, unsigned type)
{
    if (proto == 58)
        return type == 128 || type == 129;
    /* echo 8/0, timestamp 13/14, information 15/16, address mask 17/18 */
    return type == 0 || type == 8 || (type >= 13 && type <= 18);
}

/*
 * Decodes the transport header at q.  pend is where the IP payload ends (as
 * far as captured), dlen how long the IP header says it is from q on.
 */
static void dec_l4(dec *d, unsigned proto, const uint8_t *q, const uint8_t *pend, size_t dlen)
{
    pdx_pkt *k = d->pkt;
    size_t left, hl;

    while (proto == 51) { /* AH, in IPv4 or IPv6: length in 4-byte units, minus 2 */
        if (pend - q < 2) {
            k->proto = 51;
            mark_short(d);
            set_payload(d, q, pend, dlen);
            return;
        }
        hl = ((size_t)q[1] + 2) * 4;
        if ((size_t)(pend - q) < hl) {
            k->proto = 51;
            mark_short(d);
            set_payload(d, q, pend, dlen);
            return;
        }
        proto = q[0];
        q += hl;
        dlen = dlen > hl ? dlen - hl : 0;
    }
    k->proto = (uint8_t)proto;
    k->l4_off = off_of(d, q);
    left = (size_t)(pend - q);
    set_payload(d, q, pend, dlen);

    switch (proto) {
    case 6: /* TCP */
        if (left < 4)
            break;
        k->sport = pdx_load_be16(q);
        k->dport = pdx_load_be16(q + 2);
        k->flags |= PDX_PKT_HAS_L4;
        if (left < 20)
            break;
        k->tcp_seq = pdx_load_be32(q + 4);
        k->tcp_ack = pdx_load_be32(q + 8);
        k->tcp_flags = q[13];
        hl = (size_t)(q[12] >> 4) * 4;
        if (hl < 20) {
            k->flags |= PDX_PKT_INVALID;
            set_payload(d, pend, pend, 0);
            return;
        }
        if (hl > left) {
            set_payload(d, pend, pend, 0);
            if (hl > dlen && !d->frag)
                k->flags |= PDX_PKT_INVALID;
            else
                mark_short(d);
            return;
        }
        set_payload(d, q + hl, pend, dlen - hl);
        return;

    case 17:  /* UDP */
    case 136: /* UDP-Lite: its length field is a checksum coverage */
    {
        size_t ulen;
        const uint8_t *uend;
        if (left < 4)
            break;
        k->sport = pdx_load_be16(q);
        k->dport = pdx_load_be16(q + 2);
        k->flags |= PDX_PKT_HAS_L4;
        if (left < 8)
            break;
        ulen = pdx_load_be16(q + 4);
        if (proto == 136 || ulen == 0) /* 0: IPv6 jumbogram (or offloaded) */
            ulen = dlen;
        if (ulen < 8) {
            k->flags |= PDX_PKT_INVALID;
            set_payload(d, q + 8, pend, 0);
            return;
        }
        if (ulen > dlen && !d->frag)
            k->flags |= PDX_PKT_INVALID;
        set_payload(d, q + 8, pend, ulen - 8);
        if (d->frag || d->depth >= PDX_MAX_TUNNEL_DEPTH || proto != 17)
            return;
        uend = pend;
        if (ulen <= left) {
            uend = q + ulen;
            d->snapcut = 0;
        }
        if (k->dport == 4789)
            dec_vxlan(d, q + 8, uend);
        else if (k->dport == 6081)
            dec_geneve(d, q + 8, uend);
        else if (k->dport == 2152 || k->sport == 2152)
            dec_gtpu(d, q + 8, uend);
        return;
    }

    case 132: /* SCTP */
        if (left < 4)
            break;
        k->sport = pdx_load_be16(q);
        k->dport = pdx_load_be16(q + 2);
        k->flags |= PDX_PKT_HAS_L4;
        if (left < 12)
            break;
        set_payload(d, q + 12, pend, dlen - 12);
        return;

    case 33: /* DCCP */
        if (left < 4)
            break;
        k->sport = pdx_load_be16(q);
        k->dport = pdx_load_be16(q + 2);
        k->flags |= PDX_PKT_HAS_L4;
        if (left < 12)
            break;
        hl = (size_t)q[4] * 4;
        if (hl < 12) {
            k->flags |= PDX_PKT_INVALID;
            set_payload(d, pend, pend, 0);
            return;
        }
        if (hl > left) {
            set_payload(d, pend, pend, 0);
            mark_short(d);
            return;
        }
        set_payload(d, q + hl, pend, dlen - hl);
        return;

    case 1:  /* ICMP */
    case 58: /* ICMPv6 */
        if (left < 4)
            break;
        k->sport = q[0];
        k->dport = q[1];
        k->flags |= PDX_PKT_HAS_L4;
        if (left < 8)
            break;
        if (is_icmp_echo(proto, q[0]))
            k->icmp_id = pdx_load_be16(q + 4);
        set_payload(d, q + 8, pend, dlen - 8);
        return;

    case 4: /* IPv4 in IP */
        if (!d->frag)
            dec_tunnel(d, PDX_TUN_IPIP, 0, ET_IP4, q, pend);
        return;
    case 41: /* IPv6 in IP */
        if (!d->frag)
            dec_tunnel(d, PDX_TUN_IPIP, 0, ET_IP6, q, pend);
        return;
    case 47:
        if (!d->frag)
            dec_gre(d, q, pend);
        return;
    default:
        return;
    }
    /* The transport header did not fit. */
    set_payload(d, pend, pend, 0);
    mark_short(d);
}

/* ----------------------------------------------------------------------- IP */

static void map_ip4(uint8_t *dst, const uint8_t *a)
{
    memset(dst, 0, 10);
    dst[10] = 0xff;
    dst[11] = 0xff;
    memcpy(dst + 12, a, 4);
}

static int dec_ip4(dec *d, const uint8_t *p, const uint8_t *end)
{
    pdx_pkt *k = d->pkt;
    size_t avail = (size_t)(end - p), hl, tot;
    const uint8_t *pend;
    uint16_t fo;

    if (avail < 20)
        return short_of(d);
    hl = (size_t)(p[0] & 15u) * 4;
    tot = pdx_load_be16(p + 2);
    if ((p[0] >> 4) != 4 || hl < 20)
        return DEC_INVALID;
    if (tot == 0) /* segmentation offload: the length is what was captured */
        tot = avail;
    if (tot < hl)
        return DEC_INVALID;

    k->kind = PDX_KIND_IP4;
    k->ttl = p[8];
    k->l3_off = off_of(d, p);
    map_ip4(k->src, p + 12);
    map_ip4(k->dst, p + 16);
    fo = pdx_load_be16(p + 6);
    k->frag_id = pdx_load_be16(p + 4);
    k->frag_offset = (uint32_t)(fo & 0x1fffu) * 8;
    k->frag_more = (uint8_t)((fo >> 13) & 1u);

    if (avail < hl) { /* options cut: the addresses are still good */
        k->proto = p[9];
        k->l4_off = off_of(d, end);
        set_payload(d, end, end, 0);
        mark_short(d);
        return DEC_IP;
    }
    pend = payload_end(d, p, end, tot);
    if (fo & 0x3fffu) {
        k->flags |= PDX_PKT_FRAGMENT;
        if (k->frag_offset != 0) { /* later fragment: no transport header */
            k->proto = p[9];
            k->l4_off = off_of(d, p + hl);
            set_payload(d, p + hl, pend, tot - hl);
            return DEC_IP;
        }
        d->frag = 1;
    }
    dec_l4(d, p[9], p + hl, pend, tot - hl);
    return DEC_IP;
}

static int dec_ip6(dec *d, const uint8_t *p, const uint8_t *end)
{
    pdx_pkt *k = d->pkt;
    size_t avail = (size_t)(end - p), plen, hl;
    const uint8_t *q, *pend;
    unsigned nxt;

    if (avail < 40)
        return short_of(d);
    if ((p[0] >> 4) != 6)
        return DEC_INVALID;
    plen = pdx_load_be16(p + 4);
    if (plen == 0) /* jumbogram or segmentation offload */
        plen = avail - 40;

    k->kind = PDX_KIND_IP6;
    k->ttl = p[7];
    k->l3_off = off_of(d, p);
    memcpy(k->src, p + 8, 16);
    memcpy(k->dst, p + 24, 16);

    q = p + 40;
    pend = payload_end(d, q, end, plen);
    nxt = p[6];
    for (;;) {
        switch (nxt) {
        case 0:  /* hop-by-hop options */
        case 43: /* routing */
        case 60: /* destination options */
            if (pend - q < 2)
                goto cut;
            hl = ((size_t)q[1] + 1) * 8;
            break;
        case 44: { /* fragment */
            uint16_t fo;
            if (pend - q < 8)
                goto cut;
            fo = pdx_load_be16(q + 2);
            k->flags |= PDX_PKT_FRAGMENT;
            k->frag_offset = fo & 0xfff8u;
            k->frag_more = (uint8_t)(fo & 1u);
            k->frag_id = pdx_load_be32(q + 4);
            nxt = q[0];
            q += 8;
            if (k->frag_offset != 0) {
                k->proto = (uint8_t)nxt;
                k->l4_off = off_of(d, q);
                set_payload(d, q, pend, plen - (size_t)(q - (p + 40)));
                return DEC_IP;
            }
            if (k->frag_more)
                d->frag = 1;
            continue;
        }
        default:
            dec_l4(d, nxt, q, pend, plen - (size_t)(q - (p + 40)));
            return DEC_IP;
        }
        if ((size_t)(pend - q) < hl)
            goto cut;
        nxt = q[0];
        q += hl;
    }
cut:
    /* An extension header did not fit: the transport is unknown. */
    k->proto = (uint8_t)nxt;
    k->l4_off = off_of(d, q);
    set_payload(d, pend, pend, 0);
    mark_short(d);
    return DEC_IP;
}

/* ---------------------------------------------------------------- layer 2 */

/* Maps a PPP protocol number to the ethertype we follow, or 0. */
static uint32_t ppp_to_ethertype(unsigned proto)
{
    switch (proto) {
    case 0x0021: return ET_IP4;
    case 0x0057: return ET_IP6;
    case 0x0281: return ET_MPLS;
    case 0x0283: return ET_MPLS_MC;
    default: return 0;
    }
}

/* An ethertype worth believing after a heuristic guess (MPLS pseudowires). */
static int plausible_ethertype(unsigned t)
{
    return t == ET_IP4 || t == ET_IP6 || t == ET_VLAN || t == ET_QINQ || t == 0x0806 ||
           t == ET_MPLS || t == ET_PPPOE;
}

/*
 * Walks protocol numbers from type at p until IP is reached (and decoded) or
 * something else is.  type is an ethertype or one of the T_* pseudo types.
 */
static int dec_l2(dec *d, uint32_t type, const uint8_t *p, const uint8_t *end)
{
    pdx_pkt *k = d->pkt;

    for (;;) {
        size_t left = (size_t)(end - p);
        if (type < 0x600u) /* an 802.3 length field */
            type = T_LLC;
        else if (type <= 0xffffu)
            k->ethertype = (uint16_t)type;
        switch (type) {
        case ET_IP4:
            return dec_ip4(d, p, end);
        case ET_IP6:
            return dec_ip6(d, p, end);
        case T_ETHER:
        case ET_TEB:
            if (left < 14)
                return short_of(d);
            memcpy(k->dst_mac, p, 6);
            memcpy(k->src_mac, p + 6, 6);
            k->flags |= PDX_PKT_HAS_MAC;
            type = pdx_load_be16(p + 12);
            p += 14;
            continue;
        case ET_VLAN:
        case ET_QINQ:
        case ET_QINQ_OLD:
            if (left < 4)
                return short_of(d);
            if (k->nvlan < PDX_MAX_VLANS)
                k->vlan[k->nvlan] = pdx_load_be16(p) & 0x0fffu;
            if (k->nvlan < UINT8_MAX)
                k->nvlan++;
            type = pdx_load_be16(p + 2);
            p += 4;
            continue;
        case ET_MPLS:
        case ET_MPLS_MC: {
            unsigned nib;
            for (;;) { /* labels up to the bottom of the stack */
                if (end - p < 4)
                    return short_of(d);
                p += 4;
                if (p[-2] & 1u)
                    break;
            }
            if (end - p < 1)
                return short_of(d);
            nib = p[0] >> 4;
            if (nib == 4) {
                type = ET_IP4;
            } else if (nib == 6) {
                type = ET_IP6;
            } else {
                /* An Ethernet pseudowire, with a control word (first nibble
                 * 0) or without one: believe the one whose ethertype looks
                 * like one. */
                size_t n = (size_t)(end - p);
                int cw = n >= 18 && plausible_ethertype(pdx_load_be16(p + 16));
                int nocw = n >= 14 && plausible_ethertype(pdx_load_be16(p + 12));
                if (nib == 0 && (cw || !nocw)) {
                    if (n < 4)
                        return short_of(d);
                    p += 4;
                } else if (!nocw) {
                    return DEC_NOTIP;
                }
                type = T_ETHER;
            }
            continue;
        }
        case ET_PPPOE: /* session: ver/type, code, session id, length */
            if (left < 6)
                return short_of(d);
            p += 6;
            type = T_PPP;
            continue;
        case ET_PPP:
        case T_PPP: {
            unsigned proto;
            if (left >= 2 && p[0] == 0xff && p[1] == 0x03) {
                p += 2;
                left -= 2;
            }
            if (left < 1)
                return short_of(d);
            if (p[0] & 1u) { /* protocol field compression */
                proto = p[0];
                p += 1;
            } else {
                if (left < 2)
                    return short_of(d);
                proto = pdx_load_be16(p);
                p += 2;
            }
            type = ppp_to_ethertype(proto);
            if (type == 0) /* LCP, IPCP, ...: the ethertype stays PPPoE's or GRE's */
                return DEC_NOTIP;
            continue;
        }
        case T_LLC:
            if (left < 3)
                return short_of(d);
            if (p[0] == 0xaa && p[1] == 0xaa && p[2] == 0x03) {
                if (left < 8)
                    return short_of(d);
                /* SNAP with an ethertype: OUI 00-00-00 or 00-00-f8 (bridge tunnel) */
                if (p[3] == 0 && p[4] == 0 && (p[5] == 0 || p[5] == 0xf8) &&
                    pdx_load_be16(p + 6) >= 0x600u) {
                    type = pdx_load_be16(p + 6);
                    p += 8;
                    continue;
                }
            }
            k->ethertype = 0;
            return DEC_NOTIP;
        case T_IPVER:
            if (left < 1)
                return short_of(d);
            if ((p[0] >> 4) == 4) {
                type = ET_IP4;
                continue;
            }
            if ((p[0] >> 4) == 6) {
                type = ET_IP6;
                continue;
            }
            k->ethertype = 0;
            return DEC_NOTIP;
        case ET_PBB: /* I-tag, then the customer's Ethernet header */
            if (left < 4)
                return short_of(d);
            p += 4;
            type = T_ETHER;
            continue;
        case ET_CMD: /* version, length, option, SGT, ethertype */
            if (left < 8)
                return short_of(d);
            type = pdx_load_be16(p + 6);
            p += 8;
            continue;
        case ET_VNTAG:
            if (left < 6)
                return short_of(d);
            type = pdx_load_be16(p + 4);
            p += 6;
            continue;
        default:
            return DEC_NOTIP;
        }
    }
}

/* ----------------------------------------------------------------- 802.11 */

static int dec_80211(dec *d, const uint8_t *p, const uint8_t *end, int datapad)
{
    pdx_pkt *k = d->pkt;
    size_t left = (size_t)(end - p), hl = 24;
    uint8_t fc0, fc1;
    const uint8_t *da, *sa;

    if (left < 2)
        return short_of(d);
    fc0 = p[0];
    fc1 = p[1];
    /* Version 0 data frames that carry data (not the null subtypes). */
    if ((fc0 & 0x0fu) != 0x08u || (fc0 & 0x40u))
        return DEC_NOTIP;
    if ((fc1 & 3u) == 3u)
        hl = 30;
    if (fc0 & 0x80u) { /* QoS control, and HT control when the order bit is set */
        hl += 2;
        if (fc1 & 0x80u)
            hl += 4;
    }
    if (left < hl)
        return short_of(d);
    switch (fc1 & 3u) { /* ToDS, FromDS */
    case 0: da = p + 4; sa = p + 10; break;
    case 1: da = p + 16; sa = p + 10; break;
    case 2: da = p + 4; sa = p + 16; break;
    default: da = p + 16; sa = p + 24; break;
    }
    memcpy(k->dst_mac, da, 6);
    memcpy(k->src_mac, sa, 6);
    k->flags |= PDX_PKT_HAS_MAC;
    if (fc1 & 0x40u) /* protected: we do not decrypt */
        return DEC_NOTIP;
    if ((fc0 & 0x80u) && (p[hl - ((fc1 & 0x80u) ? 6 : 2)] & 0x80u)) {
        /* A-MSDU: the first subframe's DA, SA and length, then LLC */
        if (datapad)
            hl = (hl + 3) & ~(size_t)3;
        if (left < hl + 14)
            return short_of(d);
        memcpy(k->dst_mac, p + hl, 6);
        memcpy(k->src_mac, p + hl + 6, 6);
        hl += 14;
    } else if (datapad) {
        hl = (hl + 3) & ~(size_t)3;
    }
    if (left < hl)
        return short_of(d);
    return dec_l2(d, T_LLC, p + hl, end);
}

/* Radiotap: a little-endian length, and the flags field for data padding. */
static int dec_radiotap(dec *d, const uint8_t *p, const uint8_t *end)
{
    size_t left = (size_t)(end - p), len, off;
    uint32_t present, w;
    int datapad = 0;

    if (left < 8)
        return short_of(d);
    len = pdx_load_le16(p + 2);
    if (p[0] != 0 || len < 8)
        return DEC_INVALID;
    if (left < len)
        return short_of(d);
    present = pdx_load_le32(p + 4);
    off = 8;
    for (w = present; w & 0x80000000u; off += 4) { /* extended bitmaps */
        if (off + 4 > len)
            return DEC_INVALID;
        w = pdx_load_le32(p + off);
    }
    if (present & 2u) {
        if (present & 1u) /* TSFT: 8 bytes, 8-aligned */
            off = ((off + 7) & ~(size_t)7) + 8;
        if (off < len && (p[off] & 0x20u))
            datapad = 1;
    }
    return dec_80211(d, p + len, end, datapad);
}

/* ------------------------------------------------------------- link types */

static int dec_null(dec *d, const uint8_t *p, const uint8_t *end, int network_order)
{
    uint32_t af;
    if (end - p < 4)
        return short_of(d);
    af = network_order ? pdx_load_be32(p) : pdx_load_le32(p);
    if (af > 0xffffu) /* written by a host of the other byte order */
        af = network_order ? pdx_load_le32(p) : pdx_load_be32(p);
    switch (af) {
    case 2: return dec_l2(d, ET_IP4, p + 4, end);
    case 24: case 28: case 30: return dec_l2(d, ET_IP6, p + 4, end);
    default:
        /* Not an AF value at all: some writers put an ethertype in the low
         * half (Wireshark reads it that way too). */
        if (af > 1500u)
            return dec_l2(d, af & 0xffffu, p + 4, end);
        return DEC_NOTIP;
    }
}

/* Linux cooked capture: the protocol field is an ethertype, with exceptions. */
static int dec_sll_proto(dec *d, unsigned arphrd, unsigned proto, const uint8_t *p,
                         const uint8_t *end)
{
    if (arphrd == 824) /* netlink */
        return DEC_NOTIP;
    if (proto == 0x0004) /* 802.2 LLC */
        return dec_l2(d, T_LLC, p, end);
    if (proto < 0x600u) { /* Novell 802.3, CAN, ... */
        d->pkt->ethertype = 0;
        return DEC_NOTIP;
    }
    return dec_l2(d, proto, p, end);
}

static int dec_nflog(dec *d, const uint8_t *p, const uint8_t *end)
{
    if (end - p < 4)
        return short_of(d);
    p += 4; /* family, version, resource id */
    while (end - p >= 4) {
        /* Type and length are in the writer's byte order; types are small. */
        unsigned type = pdx_load_le16(p + 2);
        size_t len = pdx_load_le16(p);
        if (type > 0xffu) {
            type = pdx_load_be16(p + 2);
            len = pdx_load_be16(p);
        }
        if (len < 4)
            return DEC_INVALID;
        if (type == 9) { /* NFULA_PAYLOAD */
            const uint8_t *tend = (size_t)(end - p) < len ? end : p + len;
            return dec_l2(d, T_IPVER, p + 4, tend);
        }
        len = (len + 3) & ~(size_t)3;
        if ((size_t)(end - p) < len)
            return short_of(d);
        p += len;
    }
    return end == p ? DEC_NOTIP : short_of(d);
}

static int dec_link(dec *d, uint32_t linktype, const uint8_t *p, const uint8_t *end, int nested)
{
    size_t left = (size_t)(end - p);

    switch (linktype) {
    case 1: /* Ethernet */
        return dec_l2(d, T_ETHER, p, end);
    case 0: /* BSD loopback */
        return dec_null(d, p, end, 0);
    case 108: /* OpenBSD loopback */
        return dec_null(d, p, end, 1);
    case 12:
    case 14:
    case 101: /* raw IP */
        return dec_l2(d, T_IPVER, p, end);
    case 228:
        return dec_l2(d, ET_IP4, p, end);
    case 229:
        return dec_l2(d, ET_IP6, p, end);
    case 113: /* Linux cooked v1 */
        if (left < 16)
            return short_of(d);
        return dec_sll_proto(d, pdx_load_be16(p + 2), pdx_load_be16(p + 14), p + 16, end);
    case 276: /* Linux cooked v2 */
        if (left < 20)
            return short_of(d);
        return dec_sll_proto(d, pdx_load_be16(p + 8), pdx_load_be16(p), p + 20, end);
    case 50: /* PPP in HDLC framing, or Cisco HDLC */
        if (left >= 1 && (p[0] == 0x0f || p[0] == 0x8f))
            goto chdlc;
        return dec_l2(d, T_PPP, p, end);
    case 9: /* PPP */
        return dec_l2(d, T_PPP, p, end);
    case 104: /* Cisco HDLC: address, control, ethertype */
    chdlc:
        if (left < 4)
            return short_of(d);
        if (pdx_load_be16(p + 2) < 0x600u) {
            d->pkt->ethertype = 0;
            return DEC_NOTIP;
        }
        return dec_l2(d, pdx_load_be16(p + 2), p + 4, end);
    case 105:
        return dec_80211(d, p, end, 0);
    case 127:
        return dec_radiotap(d, p, end);
    case 239:
        return dec_nflog(d, p, end);
    case 242: /* IPoIB: destination and source hardware addresses, type, reserved */
        if (left < 44)
            return short_of(d);
        return dec_l2(d, pdx_load_be16(p + 40), p + 44, end);
    case 192: { /* PPI: little-endian length and link type of what follows */
        size_t len;
        if (left < 8)
            return short_of(d);
        len = pdx_load_le16(p + 2);
        if (nested || len < 8)
            return DEC_INVALID;
        if (left < len)
            return short_of(d);
        return dec_link(d, pdx_load_le32(p + 4), p + len, end, 1);
    }
    default:
        d->pkt->flags |= PDX_PKT_UNKNOWN_LINK;
        return DEC_NOTIP;
    }
}

int pdx_decode_linktype_known(uint32_t linktype)
{
    switch (linktype) {
    case 0: case 1: case 9: case 12: case 14: case 50: case 101: case 104: case 105:
    case 108: case 113: case 127: case 192: case 228: case 229: case 239: case 242: case 276:
        return 1;
    default:
        return 0;
    }
}

int pdx_decode(const uint8_t *data, size_t caplen, uint32_t linktype, pdx_pkt *pkt)
{
    static const uint8_t none[1];
    static const pdx_pkt zero;
    dec d;
    int r;

    /* A copy of a zero struct compiles to a few vector stores; memset of
     * this size becomes `rep stos`, whose start-up cost was a third of the
     * time of a whole Ethernet/IPv4/TCP decode. */
    *pkt = zero;
    if (data == NULL) {
        data = none;
        caplen = 0;
    }
    d.base = data;
    d.pkt = pkt;
    d.depth = 0;
    d.snapcut = 1;
    d.frag = 0;
    r = dec_link(&d, linktype, data, data + caplen, 0);
    if (r != DEC_IP) {
        pkt->kind = PDX_KIND_L2;
        pkt->proto = 0;
        if (r == DEC_TRUNC)
            pkt->flags |= PDX_PKT_TRUNCATED;
        else if (r == DEC_INVALID)
            pkt->flags |= PDX_PKT_INVALID;
    }
    return pkt->kind;
}
