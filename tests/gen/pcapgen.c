/*
 * pcapgen.c - the test-capture generator's entry point: usage text and
 * dispatch to one module per subcommand (gen_traffic.c, gen_split.c,
 * gen_dns.c, gen_tcpstream.c, gen_malformed.c, gen_links.c).
 *
 * Exit codes: 0 done, 1 I/O or input trouble, 2 bad arguments.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: pcapgen COMMAND [OPTIONS]\n"
    "\n"
    "  pcapgen traffic -o FILE [--bytes N] [--packets N] [--concurrent N]\n"
    "          [--seed S] [--format pcap|pcapng] [--nsec]\n"
    "          [--link eth|vlan|qinq|sll|sll2|raw|null|ipv4|ipv6|mpls|pppoe]\n"
    "          [--ipv6-share PCT] [--start EPOCH] [--pps N] [--truth FILE]\n"
    "          [--sparse-gap N]\n"
    "      mixed TCP/UDP/ICMP/ARP traffic with N interleaved flows (default 2000);\n"
    "      stops before --bytes (K, M, G suffixes) or after --packets\n"
    "      (default 100000 packets); --pps sets the mean time step (default 10000);\n"
    "      --start defaults to 1700000000; --ipv6-share defaults to 10;\n"
    "      --sparse-gap (pcapng, with --packets): halfway, N bytes of blocks\n"
    "      readers skip, left as holes: a file past 4 GiB on almost no disk\n"
    "  pcapgen split IN -o PREFIX (--count N | --bytes N)\n"
    "      cut a pcap/pcapng file at record boundaries into PREFIX000.pcap, ...\n"
    "  pcapgen dns -o FILE --flows N [--seed S] [--timeout-spread] [--truth FILE]\n"
    "      N two-packet DNS query/response flows, ~5000 new flows per second;\n"
    "      --timeout-spread draws response delays up to 300 s\n"
    "  pcapgen tcpstream -o FILE --expect DIR [--seed S]\n"
    "      TCP sessions with retransmissions, reordering, overlaps and gaps;\n"
    "      DIR gets N.c2s, N.s2c, N.info and truth.tsv\n"
    "  pcapgen malformed -o DIR\n"
    "      one damaged (or tricky but good) file per defect, plus MANIFEST.tsv\n"
    "  pcapgen links -o DIR\n"
    "      one small capture per link type / encapsulation, plus NAME.truth\n"
    "\n"
    "Truth files are TSV: proto src sport dst dport packets bytes first_ns last_ns\n"
    "(initiator first; ICMP: sport = echo identifier, dport = 0).\n";

void pdx_gen_usage(void)
{
    fputs(usage_text, stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"traffic", pdx_gen_cmd_traffic},     {"split", pdx_gen_cmd_split},
        {"dns", pdx_gen_cmd_dns},             {"tcpstream", pdx_gen_cmd_tcpstream},
        {"malformed", pdx_gen_cmd_malformed}, {"links", pdx_gen_cmd_links},
    };
    if (argc < 2)
        pdx_gen_usage();
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, stdout);
        return fclose(stdout) == 0 ? 0 : 1;
    }
    for (size_t i = 0; i < PDX_ARRAY_LEN(cmds); i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pcapgen: unknown command '%s'\n", argv[1]);
    pdx_gen_usage();
}
