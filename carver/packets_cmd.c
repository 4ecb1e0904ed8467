/*
 * packets_cmd.c - "pcapdex packets": where every packet of some flows is,
 * as capture path and record offset, from the index alone.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../cli/cli.h"
#include "capfile.h"
#include "index.h"

/* The longest path the carver takes (capfile.c), with its NUL. */
#define PATH_BYTES 4096

typedef struct lister {
    sqlite3 *db;
    int version;       /* the index's schema version */
    int cached;        /* path holds capture cached_id's path */
    int cached_replaced; /* that capture was overwritten (index --ring) */
    int64_t cached_id;
    uint64_t not_listed; /* packets of overwritten captures, left out */
    pdx_strbuf path;   /* escaped for its TSV field (pdx_cli_escape) */
    char err[PDX_ERRBUF_SIZE]; /* why print_segment failed */
} lister;

/* Prints a segment's packets with its capture's path, looked up and
 * escaped once per capture, so that a tab, newline or backslash in it keeps
 * the line three fields.  The packets of a capture overwritten since (index
 * --ring) are counted, not printed: the file at that path holds other
 * records now.  A segment of a capture the index does not hold, or
 * whose path is not absolute text, means a damaged index: PDX_EDB, with
 * l->err saying which. */
static int print_segment(void *ctx, const pdx_segment *s)
{
    lister *l = ctx;
    if (!l->cached || s->capture_id != l->cached_id) {
        sqlite3_stmt *st = NULL;
        const char *path = NULL;
        char row[48];
        const char *sql = l->version >= 5 ? "SELECT path, replaced_ns FROM captures WHERE id=?1"
                                          : "SELECT path, NULL FROM captures WHERE id=?1";
        if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
            return pdx_errf(l->err, PDX_EDB, "%s", sqlite3_errmsg(l->db));
        sqlite3_bind_int64(st, 1, s->capture_id);
        snprintf(row, sizeof(row), "capture %" PRId64, s->capture_id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int64_t when;
            rc = pdx_capfile_col_path(st, 0, PATH_BYTES, &path, row, l->err);
            if (rc == PDX_OK) {
                /* 1: NULL, not replaced */
                int r = pdx_index_col_int(st, 1, INT64_MIN, INT64_MAX, 1, &when, row, l->err);
                l->cached_replaced = r == PDX_OK;
                if (r < 0)
                    rc = r;
            }
        } else if (rc == SQLITE_DONE) {
            rc = pdx_errf(l->err, PDX_EDB, "flow %" PRId64 ": capture %" PRId64 " is not in the index",
                          s->flow_id, s->capture_id);
        } else {
            rc = pdx_errf(l->err, PDX_EDB, "reading %s: %s", row, sqlite3_errmsg(l->db));
        }
        if (rc == PDX_OK) {
            l->path.len = 0;
            pdx_cli_escape(&l->path, path, 1);
            if (l->path.oom)
                rc = pdx_errf(l->err, PDX_ENOMEM, "out of memory");
        }
        sqlite3_finalize(st);
        if (rc < 0)
            return rc;
        l->cached = 1;
        l->cached_id = s->capture_id;
    }
    if (l->cached_replaced) {
        l->not_listed += s->count;
        return PDX_OK;
    }
    for (uint64_t i = 0; i < s->count; i++)
        if (printf("%" PRId64 "\t%s\t%" PRIu64 "\n", s->flow_id, l->path.p, s->offsets[i]) < 0 &&
            pdx_cli_stdout_failed())
            return PDX_EIO; /* pdx_cli_close_stdout() says why */
    return PDX_OK;
}

/* Prints the packets of flow id (0: of every flow); returns an exit code. */
static int list_flow(pdx_index *ix, int64_t id, lister *l, const char *db, char *err)
{
    int rc = pdx_index_segments(ix, id, print_segment, l, err);
    if (rc == PDX_EIO)
        return PDX_EXIT_OUTPUT;
    if (rc < 0) {
        pdx_cli_error("%s: %s", db, l->err[0] != '\0' ? l->err : err);
        return PDX_EXIT_DB;
    }
    return PDX_EXIT_OK;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: pcapdex packets [--db FILE] (--all | ID...)\n"
                 "\n"
                 "Prints one line per packet: flow ID, capture path and the byte offset of the\n"
                 "packet's record in that capture, tab-separated, in flow, capture and file order.\n"
                 "A tab, newline or backslash in a path is written \\t, \\n or \\\\.\n"
                 "\n"
                 "The packets of captures overwritten in a capture ring (index --ring) are left\n"
                 "out: their files hold other packets now.\n"
                 "\n"
                 "Exit: 0 printed, 1 an ID is no flow (nothing printed), 2 usage, 3 database error,\n"
                 "6 packets of overwritten captures left out, 7 writing the output failed.\n");
}

int pdx_cmd_packets(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    int all = 0, c, status = PDX_EXIT_OK;
    char err[PDX_ERRBUF_SIZE];
    pdx_index *ix = NULL;

    optind = 1;
    while ((c = pdx_cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'd': db_opt = optarg; break;
        case 'a': all = 1; break;
        case 'h': usage(stdout); return pdx_cli_close_stdout();
        default: pdx_cli_bad_option(argv, "h", opts); usage(stderr); return PDX_EXIT_USAGE;
        }
    }
    if (!all && optind >= argc) {
        usage(stderr);
        return PDX_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        uint64_t id;
        if (pdx_cli_parse_u64(argv[i], &id) < 0 || id == 0 || id > INT64_MAX) {
            pdx_cli_error("'%s' is not a flow ID", argv[i]);
            return PDX_EXIT_USAGE;
        }
    }
    const char *db = pdx_cli_db_path(db_opt);
    if (pdx_index_open(&ix, db, PDX_INDEX_READ, err) < 0) {
        pdx_cli_error("%s", err);
        return PDX_EXIT_DB;
    }
    lister l = {pdx_index_db(ix), pdx_index_schema_version(ix), 0, 0, 0, 0, {NULL, 0, 0, 0}, ""};
    /* Like carve: every ID named must be a flow, or nothing is printed. */
    sqlite3_stmt *st = NULL;
    if (optind < argc &&
        sqlite3_prepare_v2(l.db, "SELECT 1 FROM flows WHERE id=?1", -1, &st, NULL) != SQLITE_OK) {
        pdx_cli_error("%s: %s", db, sqlite3_errmsg(l.db));
        status = PDX_EXIT_DB;
    }
    for (int i = optind; i < argc && status == PDX_EXIT_OK; i++) {
        uint64_t id = 0;
        pdx_cli_parse_u64(argv[i], &id);
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            pdx_cli_error("no flow %s in %s", argv[i], db);
            status = PDX_EXIT_NOMATCH;
        } else if (rc != SQLITE_ROW) {
            pdx_cli_error("%s: %s", db, sqlite3_errmsg(l.db));
            status = PDX_EXIT_DB;
        }
    }
    sqlite3_finalize(st);
    if (all && status == PDX_EXIT_OK)
        status = list_flow(ix, 0, &l, db, err);
    for (int i = optind; i < argc && status == PDX_EXIT_OK; i++) {
        uint64_t id = 0;
        pdx_cli_parse_u64(argv[i], &id);
        status = list_flow(ix, (int64_t)id, &l, db, err);
    }
    if (status == PDX_EXIT_OK && l.not_listed > 0) {
        pdx_cli_error("%s: %llu packets of captures overwritten since they were indexed (index "
                      "--ring) are left out: their files hold other packets now",
                      db, (unsigned long long)l.not_listed);
        status = PDX_EXIT_CHANGED;
    }
    pdx_index_close(ix);
    free(l.path.p);
    int r = pdx_cli_close_stdout();
    return status != PDX_EXIT_OK ? status : r;
}
