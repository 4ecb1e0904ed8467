/*
 * gen.h - what the modules of pcapgen, the test-capture generator, share:
 * a seeded PRNG, a byte builder, packet builders, a buffered pcap/pcapng
 * writer and the flow "truth" that tests compare an index against.
 *
 * pcapgen is a front end: it prints, and a failed write or allocation ends
 * the process (pdx_gen_die) instead of threading codes through generators
 * whose only caller would exit anyway.  It uses no lib/ code beyond the
 * inline helpers of lib/pdx.h, so it stays usable while lib/ changes.
 *
 * Everything is deterministic: the same arguments and seed give the same
 * bytes.  Nothing reads the clock, the environment or pointer values.
 */
#ifndef PDX_GEN_H
#define PDX_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pdx.h"

#if defined(__GNUC__)
#define PDX_GEN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PDX_GEN_PRINTF(a, b)
#endif

/* ---- process-level helpers (gen_util.c) ---------------------------------- */

/* Prints "pcapgen: MESSAGE" and exits 1. */
_Noreturn void pdx_gen_die(const char *fmt, ...) PDX_GEN_PRINTF(1, 2);
/* Prints the usage text to stderr and exits 2. */
_Noreturn void pdx_gen_usage(void);
void *pdx_gen_xmalloc(size_t n);
void *pdx_gen_xcalloc(size_t n, size_t size);
void *pdx_gen_xrealloc(void *p, size_t n);
/* dir + "/" + name, malloc'd; the caller frees. */
char *pdx_gen_path(const char *dir, const char *name);
/* Creates dir (and nothing above it) unless it exists. */
void pdx_gen_mkdir(const char *dir);
/* Writes n bytes to a new file at path (truncating). */
void pdx_gen_write_file(const char *path, const void *p, size_t n);
/* Opens path for text output; dies on failure.  pdx_gen_fclose checks. */
FILE *pdx_gen_fopen(const char *path);
void pdx_gen_fclose(FILE *f, const char *path);

/* Parsers for option values: return 0 and set *out, or -1. */
int pdx_gen_parse_u64(const char *s, uint64_t *out);
int pdx_gen_parse_size(const char *s, uint64_t *out); /* K M G suffixes, 1024-based */
int pdx_gen_parse_epoch(const char *s, int64_t *out_ns); /* "SECONDS[.FRACTION]" */

uint32_t pdx_gen_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* ---- PRNG: xoshiro256** seeded by splitmix64 ------------------------------ */

typedef struct pdx_gen_rng {
    uint64_t s[4];
} pdx_gen_rng;

void pdx_gen_rng_seed(pdx_gen_rng *r, uint64_t seed);

static inline uint64_t pdx_gen_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t pdx_gen_rng_next(pdx_gen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = pdx_gen_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = pdx_gen_rotl(s[3], 45);
    return res;
}

/* Uniform in [0, n) (n < 2^32; Lemire's multiply, bias negligible here). */
static inline uint32_t pdx_gen_rng_below(pdx_gen_rng *r, uint32_t n)
{
    return (uint32_t)(((pdx_gen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi], inclusive. */
static inline uint32_t pdx_gen_rng_range(pdx_gen_rng *r, uint32_t lo, uint32_t hi)
{
    return lo + pdx_gen_rng_below(r, hi - lo + 1);
}

/* 1 with probability per_mille / 1000. */
static inline int pdx_gen_rng_chance(pdx_gen_rng *r, uint32_t per_mille)
{
    return pdx_gen_rng_below(r, 1000) < per_mille;
}

/* ---- growable byte buffer ------------------------------------------------ */

typedef struct pdx_gen_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} pdx_gen_buf;

/* Appends n bytes of room and returns where they start (contents undefined). */
uint8_t *pdx_gen_buf_grow(pdx_gen_buf *b, size_t n);
void pdx_gen_buf_put(pdx_gen_buf *b, const void *p, size_t n);
void pdx_gen_buf_zeros(pdx_gen_buf *b, size_t n);
void pdx_gen_buf_u8(pdx_gen_buf *b, uint8_t v);
/* 16/32/64-bit values in the given byte order (be != 0: big endian). */
void pdx_gen_buf_u16(pdx_gen_buf *b, uint16_t v, int be);
void pdx_gen_buf_u32(pdx_gen_buf *b, uint32_t v, int be);
void pdx_gen_buf_u64(pdx_gen_buf *b, uint64_t v, int be);
void pdx_gen_buf_free(pdx_gen_buf *b);

void pdx_gen_st16(uint8_t *p, uint16_t v, int be);
void pdx_gen_st32(uint8_t *p, uint32_t v, int be);
static inline void pdx_gen_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void pdx_gen_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t pdx_gen_ld_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint32_t pdx_gen_ld_be32(const uint8_t *p)
{
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}
static inline void pdx_gen_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void pdx_gen_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* ---- addresses and packets (gen_pkt.c) ----------------------------------- */

typedef struct pdx_gen_addr {
    uint8_t v6;    /* 0: IPv4 in a[0..3]; 1: IPv6 */
    uint8_t a[16];
} pdx_gen_addr;

void pdx_gen_addr4(pdx_gen_addr *x, uint32_t host_order);
void pdx_gen_addr6(pdx_gen_addr *x, uint64_t hi, uint64_t lo);
/* The n-th client of a file: 10.0.0.0/8 or 2001:db8:c000::/64 and an
 * ephemeral port; (address, port) never repeats for n < 2^24 * 28232. */
void pdx_gen_client(uint64_t n, int v6, pdx_gen_addr *addr, uint16_t *port);
/* Text form (dotted quad, RFC 5952 for IPv6) into out[64]. */
void pdx_gen_addr_str(const pdx_gen_addr *x, char *out);

/* Link layers and encapsulations a frame can start with. */
enum pdx_gen_link {
    PDX_GEN_ETH = 0,  /* DLT_EN10MB */
    PDX_GEN_VLAN,     /* Ethernet + 802.1Q */
    PDX_GEN_QINQ,     /* Ethernet + 802.1ad + 802.1Q */
    PDX_GEN_MPLS,     /* Ethernet + two MPLS labels */
    PDX_GEN_PPPOE,    /* Ethernet + PPPoE session + PPP */
    PDX_GEN_SLL,      /* LINUX_SLL (113) */
    PDX_GEN_SLL2,     /* LINUX_SLL2 (276) */
    PDX_GEN_RAW,      /* RAW (101) */
    PDX_GEN_IPV4,     /* IPV4 (228) */
    PDX_GEN_IPV6,     /* IPV6 (229) */
    PDX_GEN_NULL,     /* NULL (0), AF in little-endian host order */
    PDX_GEN_NULL_BE,  /* NULL (0), AF in big-endian host order */
    PDX_GEN_LOOP,     /* LOOP (108), AF in network order */
    PDX_GEN_PPP,      /* PPP (9) with HDLC-like address/control */
    PDX_GEN_CHDLC,    /* C_HDLC (104) */
    PDX_GEN_NLINKS
};

/* "eth", "vlan", ...; -1 when unknown. */
int pdx_gen_link_by_name(const char *name);
const char *pdx_gen_link_name(int link);
uint32_t pdx_gen_link_dlt(int link);
/* 1 when the link can carry IPv4 / IPv6 / ARP. */
int pdx_gen_link_has(int link, uint16_t ethertype);
/* Writes the link header for a frame carrying ethertype (0x0800, 0x86dd,
 * 0x0806) and payload_len bytes after the header, in direction dir (0 client
 * to server, 1 back).  Returns its length.  variant picks among equivalent
 * encodings (e.g. the IPv6 AF of NULL, the VLAN ID). */
size_t pdx_gen_link_hdr(uint8_t *p, int link, uint16_t ethertype, int dir, uint32_t variant,
                        size_t payload_len);
/* Ethernet header from direction's MACs. */
size_t pdx_gen_eth_hdr(uint8_t *p, int dir, uint16_t ethertype);
/* Pads an Ethernet-family frame of len bytes to 60; returns the new length. */
size_t pdx_gen_eth_pad(uint8_t *frame, int link, size_t len);
/* Largest link header pdx_gen_link_hdr writes. */
#define PDX_GEN_LINKHDR_MAX 32

/* What one IP packet holds; the builders fill every length and checksum. */
typedef struct pdx_gen_pkt {
    const pdx_gen_addr *src;
    const pdx_gen_addr *dst;
    uint8_t proto;       /* 6, 17, 1 or 58 */
    uint8_t ttl;
    uint16_t ip_id;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint8_t syn_opts;    /* 1: add MSS/WS/SACK-permitted options (12 bytes) */
    uint16_t win;
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id, icmp_seq;
    const uint8_t *payload;
    size_t paylen;
} pdx_gen_pkt;

#define PDX_TCP_FIN 0x01
#define PDX_TCP_SYN 0x02
#define PDX_TCP_RST 0x04
#define PDX_TCP_PSH 0x08
#define PDX_TCP_ACK 0x10

/* Internet checksum over byte buffers: add chunks (all but the last of even
 * length), then store the folded complement at out (network order). */
uint64_t pdx_gen_csum_add(uint64_t sum, const uint8_t *p, size_t n);
void pdx_gen_csum_store(uint64_t sum, uint8_t *out);
/* Sets the TCP/UDP/ICMP(v6) checksum of the l4len bytes at l4. */
void pdx_gen_l4_csum(uint8_t *l4, size_t l4len, uint8_t proto, const pdx_gen_addr *src,
                     const pdx_gen_addr *dst);

size_t pdx_gen_ip4_hdr(uint8_t *p, const pdx_gen_addr *src, const pdx_gen_addr *dst, uint8_t proto,
                       size_t payload_len, uint16_t id, uint8_t ttl, uint16_t frag);
size_t pdx_gen_ip6_hdr(uint8_t *p, const pdx_gen_addr *src, const pdx_gen_addr *dst, uint8_t next,
                       size_t payload_len, uint8_t hop);
/* Transport header + payload, checksum not yet set.  Returns its length. */
size_t pdx_gen_l4(uint8_t *p, const pdx_gen_pkt *s);
/* Length pdx_gen_ippkt() will return. */
size_t pdx_gen_ippkt_len(const pdx_gen_pkt *s);
/* IP header + transport + payload with all checksums.  Returns its length. */
size_t pdx_gen_ippkt(uint8_t *p, const pdx_gen_pkt *s);
/* Link header + IP packet (+ Ethernet padding).  Returns the frame length. */
size_t pdx_gen_frame(uint8_t *p, int link, int dir, uint32_t variant, const pdx_gen_pkt *s);
/* An ARP request (reply != 0: reply) frame. */
size_t pdx_gen_arp(uint8_t *p, int link, int dir, uint32_t sip, uint32_t tip, int reply);

/* ---- capture writer (gen_out.c) ------------------------------------------ */

enum { PDX_GEN_FMT_PCAP = 0, PDX_GEN_FMT_PCAPNG = 1 };

#define PDX_GEN_MAX_IFACES 8

/* Buffered writer: records are built in place in a large buffer that goes
 * out in multi-megabyte write(2) calls.  Little-endian output. */
typedef struct pdx_gen_out {
    int fd;
    char *path;
    int format;
    uint32_t n_if;
    uint8_t if_nsec[PDX_GEN_MAX_IFACES];
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint64_t total;   /* bytes of the file so far (written + buffered) */
    uint64_t records;
} pdx_gen_out;

/* Creates path and writes the file header: the pcap header (nanosecond
 * magic when nsec), or an SHB and one IDB (if_tsresol 9 when nsec). */
void pdx_gen_out_open(pdx_gen_out *o, const char *path, int format, int nsec, uint32_t dlt);
/* Creates path and writes nothing: the caller writes headers with _raw(). */
void pdx_gen_out_open_raw(pdx_gen_out *o, const char *path);
/* pcapng only: another IDB; returns its interface id. */
uint32_t pdx_gen_out_add_iface(pdx_gen_out *o, uint32_t dlt, int nsec);
/* Room for a frame of up to maxlen bytes; returns where its data goes. */
uint8_t *pdx_gen_out_frame(pdx_gen_out *o, size_t maxlen);
/* Bytes a record of caplen bytes occupies in the file. */
size_t pdx_gen_out_recsize(const pdx_gen_out *o, size_t caplen);
/* Turns the caplen bytes at the last pdx_gen_out_frame() into a record. */
void pdx_gen_out_commit(pdx_gen_out *o, uint32_t iface, int64_t ts_ns, size_t caplen, size_t origlen);
/* Copies a finished frame in as a record. */
void pdx_gen_out_put(pdx_gen_out *o, uint32_t iface, int64_t ts_ns, const uint8_t *frame,
                     size_t caplen, size_t origlen);
/* pcapng only: blocks of a local-use type that readers skip, at least n
 * bytes in all, their bodies left as holes in the file: a capture past
 * 4 GiB that takes no disk. */
#define PDX_GEN_SPARSE_BLOCK UINT32_C(0x80000bad)
void pdx_gen_out_sparse_blocks(pdx_gen_out *o, uint64_t n);
/* Raw bytes (pcapng blocks the caller built). */
void pdx_gen_out_raw(pdx_gen_out *o, const void *p, size_t n);
/* The timestamp as the file will store it (microseconds unless nsec). */
int64_t pdx_gen_out_quant(const pdx_gen_out *o, uint32_t iface, int64_t ts_ns);
void pdx_gen_out_flush(pdx_gen_out *o);
void pdx_gen_out_close(pdx_gen_out *o);

/* ---- flow truth (gen_out.c) ----------------------------------------------- */

/* One flow as a correct indexer must report it: initiator first, packet and
 * wire-byte totals over both directions, first and last timestamps. */
typedef struct pdx_gen_truth {
    pdx_gen_addr src, dst;
    uint16_t sport, dport;
    uint8_t proto;
    uint64_t packets;
    uint64_t bytes;
    int64_t first_ns;
    int64_t last_ns;
    uint64_t order;   /* tie-break for sorting: creation order */
} pdx_gen_truth;

static inline void pdx_gen_truth_count(pdx_gen_truth *t, int64_t ts_ns, size_t wirelen)
{
    if (t->packets == 0)
        t->first_ns = ts_ns;
    t->last_ns = ts_ns;
    t->packets++;
    t->bytes += wirelen;
}

typedef struct pdx_gen_truthset {
    pdx_gen_truth *v;
    size_t n;
    size_t cap;
} pdx_gen_truthset;

void pdx_gen_truthset_push(pdx_gen_truthset *s, const pdx_gen_truth *t);
/* Sorts by first_ns (then creation order) and writes the TSV; frees s. */
void pdx_gen_truthset_write(pdx_gen_truthset *s, const char *path);
/* One TSV line: proto src sport dst dport packets bytes first_ns last_ns. */
void pdx_gen_truth_print(FILE *f, const pdx_gen_truth *t);

/* ---- subcommands ------------------------------------------------------- */

int pdx_gen_cmd_traffic(int argc, char **argv);
int pdx_gen_cmd_split(int argc, char **argv);
int pdx_gen_cmd_dns(int argc, char **argv);
int pdx_gen_cmd_tcpstream(int argc, char **argv);
int pdx_gen_cmd_malformed(int argc, char **argv);
int pdx_gen_cmd_links(int argc, char **argv);

/* Option scanning shared by the subcommands: returns the value of an option
 * that takes one (advancing *i), or calls pdx_gen_usage() when it is missing. */
const char *pdx_gen_optarg(int argc, char **argv, int *i);

#endif
