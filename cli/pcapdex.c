/*
 * pcapdex.c - the pcapdex binary: dispatches to the subcommand front ends
 * in indexer/, query/ and carver/.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "index.h"

#define PCAPDEX_VERSION "0.1.0"

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand commands[] = {
    {"index", pdx_cmd_index, "index captures (files, directories, globs) into the database"},
    {"query", pdx_cmd_query, "find flows with a tcpdump-like expression"},
    {"carve", pdx_cmd_carve, "write the packets of flows to pcap or pcapng"},
    {"packets", pdx_cmd_packets, "list the capture and offset of every packet of flows"},
    {"verify", pdx_cmd_verify, "check that indexed captures are present and unchanged"},
    {"compress", pdx_cmd_compress, "rewrite captures as seekable zstd and repoint the index"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: pcapdex COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'pcapdex COMMAND --help' describes a command; docs/cli.md has the details.\n");
}

int main(int argc, char **argv)
{
    static char prog[64];
    pdx_index_setup();
    if (argc < 2) {
        usage(stderr);
        return PDX_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return pdx_cli_close_stdout();
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("pcapdex %s\n", PCAPDEX_VERSION);
        return pdx_cli_close_stdout();
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            snprintf(prog, sizeof(prog), "pcapdex %s", commands[i].name);
            pdx_cli_prog = prog;
            opterr = 0; /* the commands say what is wrong (pdx_cli_bad_option) */
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    pdx_cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return PDX_EXIT_USAGE;
}
