/*
 * decode.h - layer 2 to 4 decoding of one captured frame.
 *
 * pdx_decode() reads a frame of a given link type through a bounds-checked
 * cursor and fills a pdx_pkt with what flow assembly needs: addresses, ports,
 * protocol, TCP flags, VLANs, fragment fields and tunnel endpoints.  It never
 * reads past caplen, never allocates and never fails: whatever it could not
 * decode is described by kind and flags.  It takes (bytes, length) so that a
 * fuzzer can call it directly.
 *
 * Tunnels (IP-in-IP, GRE incl. ERSPAN, VXLAN, Geneve, GTP-U) are followed:
 * the pkt describes the innermost IP packet, and tun_* the outermost one.
 */
#ifndef PDX_DECODE_H
#define PDX_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* pkt->kind */
enum pdx_kind {
    PDX_KIND_L2 = 0,  /* not IP (ARP, LLDP, ...), or link layer undecodable */
    PDX_KIND_IP4 = 4,
    PDX_KIND_IP6 = 6
};

/* pkt->flags */
#define PDX_PKT_TRUNCATED 0x01u  /* caplen cut a header we needed (snaplen) */
#define PDX_PKT_INVALID 0x02u    /* fields contradict each other (bad IHL, length...) */
#define PDX_PKT_FRAGMENT 0x04u   /* IP fragment (first or later) */
#define PDX_PKT_HAS_L4 0x08u     /* sport/dport (or ICMP type/code) are valid */
#define PDX_PKT_HAS_MAC 0x10u    /* src_mac/dst_mac are valid */
#define PDX_PKT_UNKNOWN_LINK 0x20u /* link type not decoded at all */

/* pkt->tunnel */
enum pdx_tunnel {
    PDX_TUN_NONE = 0,
    PDX_TUN_IPIP = 1,   /* IPv4/IPv6 in IPv4/IPv6 (protocols 4 and 41) */
    PDX_TUN_GRE = 2,    /* GRE, including ERSPAN and transparent Ethernet */
    PDX_TUN_VXLAN = 3,  /* UDP 4789 */
    PDX_TUN_GENEVE = 4, /* UDP 6081 */
    PDX_TUN_GTPU = 5    /* UDP 2152 */
};

#define PDX_MAX_TUNNEL_DEPTH 4
#define PDX_MAX_VLANS 2

typedef struct pdx_pkt {
    uint8_t kind;        /* enum pdx_kind */
    uint8_t flags;       /* PDX_PKT_* */
    uint8_t proto;       /* transport protocol after IPv6 extension headers; 0 for L2 */
    uint8_t tcp_flags;   /* TCP flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 ...) */
    uint8_t tunnel;      /* enum pdx_tunnel: outermost encapsulation, if any */
    uint8_t nvlan;       /* VLAN tags seen (at most PDX_MAX_VLANS kept) */
    uint16_t ethertype;  /* innermost ethertype (0x0800, 0x86dd, 0x0806, ...); 0 if none.
                          * IP reached without one (raw IP, PPP, MPLS, NFLOG, GTP)
                          * also gets 0x0800 or 0x86dd. */
    uint16_t vlan[PDX_MAX_VLANS]; /* VLAN IDs, outermost first */
    uint8_t src_mac[6];  /* innermost Ethernet (or 802.11 SA/DA) addresses */
    uint8_t dst_mac[6];
    uint8_t src[16];     /* IP addresses; IPv4 as ::ffff:a.b.c.d */
    uint8_t dst[16];
    uint16_t sport;      /* TCP/UDP/SCTP ports; ICMP and ICMPv6: type */
    uint16_t dport;      /*                     ICMP and ICMPv6: code */
    uint16_t icmp_id;    /* ICMP/ICMPv6 echo identifier (0 for other types) */
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    uint32_t frag_id;    /* IPv4 identification or IPv6 fragment header identification */
    uint32_t frag_offset;/* fragment offset in bytes */
    uint8_t frag_more;   /* more-fragments flag */
    uint8_t ttl;
    uint8_t tun_src[16]; /* outermost tunnel endpoints (IPv4 mapped like src/dst) */
    uint8_t tun_dst[16];
    uint32_t vni;        /* VXLAN/Geneve VNI, GRE key, GTP TEID; 0 when none */
    uint32_t l3_off;     /* offset of the innermost IP header in the frame */
    uint32_t l4_off;     /* offset of the transport header (when PDX_PKT_HAS_L4) */
    uint32_t payload_off;/* offset of the transport payload */
    uint32_t payload_len;/* payload bytes per the IP/UDP length fields, clipped to caplen */
} pdx_pkt;

/* Decodes caplen bytes of a frame of the given LINKTYPE_ value.  Always fills
 * *pkt (zeroing it first) and returns its kind.
 *
 * Details a caller may rely on:
 * - TRUNCATED and INVALID describe the frame as a whole: a flag raised on an
 *   outer header stays when an inner packet is described.  TRUNCATED is also
 *   raised when the capture ends inside an IP packet's payload.
 * - A tunnel whose inner packet cannot be decoded (cut, contradictory, or not
 *   IP: ARP in VXLAN, LCP in GRE) leaves pkt describing the outer packet as
 *   if no tunnel had been seen (tunnel, tun_*, vni unset), with TRUNCATED or
 *   INVALID when the inner headers were cut or bad.  Tunnels inside IP
 *   fragments are not followed: every fragment is keyed on the outer header.
 * - A non-first fragment has no transport header: proto is set, HAS_L4 is
 *   clear and payload_* cover the fragment's data.
 * - For protocols without ports (ESP, OSPF, ...) and after an IPv4 header
 *   whose options were cut, payload_* cover the IP payload that is there.
 * - LINKTYPE_RAW may arrive as its DLT value 12 (pcap_datalink); both work. */
int pdx_decode(const uint8_t *data, size_t caplen, uint32_t linktype, pdx_pkt *pkt);

/* 1 if pdx_decode understands this link type at all. */
int pdx_decode_linktype_known(uint32_t linktype);

#endif
