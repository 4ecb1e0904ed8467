/*
 * cli.h - what the pcapdex front ends share: exit codes, messages on
 * stderr, number parsing and the --db default.  Only front ends print or
 * choose an exit code; the library never does.
 */
#ifndef PDX_CLI_H
#define PDX_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "pdx.h"

/* Exit codes, documented in docs/cli.md. */
enum {
    PDX_EXIT_OK = 0,          /* success */
    PDX_EXIT_NOMATCH = 1,     /* query/carve: nothing matched */
    PDX_EXIT_USAGE = 2,       /* bad arguments or expression */
    PDX_EXIT_DB = 3,          /* the index cannot be opened, read or written */
    PDX_EXIT_INPUT = 4,       /* a named capture could not be read at all */
    PDX_EXIT_WARN = 5,        /* finished, with warnings (damaged or changed captures) */
    PDX_EXIT_CHANGED = 6,     /* a capture is missing or changed since it was indexed */
    PDX_EXIT_OUTPUT = 7,      /* writing the output failed (disk full, closed pipe) */
    PDX_EXIT_INTERRUPTED = 130 /* stopped by SIGINT/SIGTERM after a clean rollback */
};

#define PDX_DEFAULT_DB "pcapdex.db"

/* "pcapdex index" etc., set by main for messages. */
extern const char *pdx_cli_prog;

void pdx_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* After getopt_long() returned '?' (opterr is 0): the error line naming the
 * option that is unknown, lacks its argument or has one it does not take. */
struct option;
void pdx_cli_bad_option(char **argv, const char *shortopts, const struct option *longopts);
/* getopt_long, noting where it started for pdx_cli_bad_option. */
int pdx_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
void pdx_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pdx_cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The index path: --db if given, else $PCAPDEX_DB, else pcapdex.db. */
const char *pdx_cli_db_path(const char *opt);

/* Parses a non-negative integer with an optional K/M/G suffix (powers of
 * 1000).  0 or -1. */
int pdx_cli_parse_u64(const char *s, uint64_t *out);

/* Parses a size in bytes with an optional K/M/G suffix (powers of 1024);
 * 0, or -1 when it is not one or not within [lo, hi]. */
int pdx_cli_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Parses seconds with an optional fraction; 0 or -1. */
int pdx_cli_parse_seconds(const char *s, int64_t *out_ns);

/*
 * Appends text to sb escaped so that it is one line and can be read back
 * unambiguously: a backslash as \\, newline as \n, CR as \r, other control
 * characters and DEL as \xHH; a tab as \t when tab is set (a field of a
 * tab-separated line), else as itself (messages).  Memory running out sets
 * sb->oom, as pdx_sb_putn does.
 */
void pdx_cli_escape(pdx_strbuf *sb, const char *text, int tab);

/* Prints text and a newline on stdout, escaped as in error messages
 * (pdx_cli_escape without tab), so that it is one line. */
void pdx_cli_print_line(const char *text);

/* 1 when a write to stdout has failed; the first time, keeps errno (ENOSPC,
 * EPIPE...) for pdx_cli_close_stdout() to report.  Call it right after
 * writing, before anything else can change errno. */
int pdx_cli_stdout_failed(void);

/* Closes stdout and reports a failure (disk full, EPIPE); returns an exit
 * code: PDX_EXIT_OK or PDX_EXIT_OUTPUT. */
int pdx_cli_close_stdout(void);

/* Subcommands. */
int pdx_cmd_index(int argc, char **argv);
int pdx_cmd_packets(int argc, char **argv);
int pdx_cmd_query(int argc, char **argv);
int pdx_cmd_carve(int argc, char **argv);
int pdx_cmd_verify(int argc, char **argv);
int pdx_cmd_compress(int argc, char **argv);

#endif
