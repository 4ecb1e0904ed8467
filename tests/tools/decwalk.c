/*
 * decwalk.c - prints what pdx_decode makes of every packet of a capture, one
 * tab-separated line per packet, for tests/check_decode.py to compare with
 * tshark.  libpcap reads the file, so pcapng files must have one link type.
 *
 * Columns: frame (1-based) kind proto src dst sport dport flags tunnel vlans
 * ethertype, then tun_src tun_dst vni linktype l3_off.  "-" marks an empty field;
 * ports are "-" without PDX_PKT_HAS_L4 (ICMP: type and code).
 *
 * Exit status: 0 after the whole file, 1 when libpcap stopped early (the
 * lines printed so far are valid), 2 when the file could not be opened.
 *
 * `decwalk --at FILE` decodes records that libpcap will not read (pcapng
 * interfaces of different link types or snap lengths): it reads lines
 * "frame linktype data_offset caplen" on stdin, decodes caplen bytes at
 * data_offset of FILE as that link type and prints the same columns.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pdx.h"

static const char *kind_name(int kind)
{
    switch (kind) {
    case PDX_KIND_IP4: return "ip4";
    case PDX_KIND_IP6: return "ip6";
    default: return "l2";
    }
}

static const char *tunnel_name(int t)
{
    static const char *const names[] = {"-", "ipip", "gre", "vxlan", "geneve", "gtpu"};
    return t >= 0 && (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* An address as text: dotted quad when IPv4-mapped and v4 is set. */
static void addr_text(const uint8_t a[16], int v4, char *buf, size_t n)
{
    if (v4)
        inet_ntop(AF_INET, a + 12, buf, (socklen_t)n);
    else
        inet_ntop(AF_INET6, a, buf, (socklen_t)n);
}

static void flags_text(unsigned f, char *buf, size_t n)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{PDX_PKT_TRUNCATED, "trunc"}, {PDX_PKT_INVALID, "invalid"},
                 {PDX_PKT_FRAGMENT, "frag"},   {PDX_PKT_HAS_L4, "l4"},
                 {PDX_PKT_HAS_MAC, "mac"},     {PDX_PKT_UNKNOWN_LINK, "unknownlink"}};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (f & names[i].bit) {
            int w = snprintf(buf + used, n - used, "%s%s", used ? "," : "", names[i].name);
            if (w < 0 || (size_t)w >= n - used)
                break;
            used += (size_t)w;
        }
    }
    if (used == 0)
        snprintf(buf, n, "-");
}

/* One output line for one packet. */
static void print_packet(unsigned long frame, const uint8_t *data, size_t caplen, uint32_t linktype)
{
    pdx_pkt k;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], tsrc[INET6_ADDRSTRLEN],
        tdst[INET6_ADDRSTRLEN], sp[8], dp[8], fl[64], vl[32];
    int v4;

    pdx_decode(data, caplen, linktype, &k);
    v4 = k.kind == PDX_KIND_IP4;
    if (k.kind == PDX_KIND_L2) {
        strcpy(src, "-");
        strcpy(dst, "-");
    } else {
        addr_text(k.src, v4, src, sizeof(src));
        addr_text(k.dst, v4, dst, sizeof(dst));
    }
    if (k.flags & PDX_PKT_HAS_L4) {
        snprintf(sp, sizeof(sp), "%u", (unsigned)k.sport);
        snprintf(dp, sizeof(dp), "%u", (unsigned)k.dport);
    } else {
        strcpy(sp, "-");
        strcpy(dp, "-");
    }
    flags_text(k.flags, fl, sizeof(fl));
    if (k.nvlan == 0)
        strcpy(vl, "-");
    else if (k.nvlan == 1)
        snprintf(vl, sizeof(vl), "%u", (unsigned)k.vlan[0]);
    else
        snprintf(vl, sizeof(vl), "%u,%u", (unsigned)k.vlan[0], (unsigned)k.vlan[1]);
    if (k.tunnel == PDX_TUN_NONE) {
        strcpy(tsrc, "-");
        strcpy(tdst, "-");
    } else {
        int t4 = memcmp(k.tun_src, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0;
        addr_text(k.tun_src, t4, tsrc, sizeof(tsrc));
        addr_text(k.tun_dst, t4, tdst, sizeof(tdst));
    }
    printf("%lu\t%s\t%u\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t0x%04x\t%s\t%s\t%lu\t%u\t%lu\n", frame,
           kind_name(k.kind), (unsigned)k.proto, src, dst, sp, dp, fl,
           tunnel_name(k.tunnel), vl, (unsigned)k.ethertype, tsrc, tdst,
           (unsigned long)k.vni, (unsigned)linktype, (unsigned long)k.l3_off);
}

/* --at mode: records named on stdin, read straight from the file. */
static int walk_at(const char *path)
{
    static uint8_t buf[PDX_MAX_CAPLEN];
    unsigned long frame, off, caplen, linktype;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    while (scanf("%lu %lu %lu %lu", &frame, &linktype, &off, &caplen) == 4) {
        if (caplen > sizeof(buf) || fseeko(f, (off_t)off, SEEK_SET) != 0 ||
            fread(buf, 1, caplen, f) != caplen) {
            fprintf(stderr, "decwalk: %s: cannot read frame %lu\n", path, frame);
            fclose(f);
            return 1;
        }
        print_packet(frame, buf, caplen, (uint32_t)linktype);
    }
    fclose(f);
    if (fclose(stdout) != 0) {
        perror("decwalk: stdout");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;
    pcap_t *pc;
    unsigned long frame = 0;
    int linktype, rc, status = 0;

    if (argc == 3 && strcmp(argv[1], "--at") == 0)
        return walk_at(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: decwalk FILE | decwalk --at FILE < records\n");
        return 2;
    }
    errbuf[0] = '\0';
    pc = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (pc == NULL) {
        fprintf(stderr, "decwalk: %s: %s\n", argv[1], errbuf);
        return 2;
    }
    linktype = pcap_datalink(pc); /* a DLT_ value: LINKTYPE_RAW reads as 12 */
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        frame++;
        print_packet(frame, data, h->caplen, (uint32_t)linktype);
    }
    if (rc == -1) {
        fprintf(stderr, "decwalk: %s: after %lu packets: %s\n", argv[1], frame, pcap_geterr(pc));
        status = 1;
    }
    pcap_close(pc);
    if (fclose(stdout) != 0) {
        perror("decwalk: stdout");
        return 2;
    }
    return status;
}
