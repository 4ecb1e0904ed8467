/*
 * index_cmd.c - "pcapdex index": reads captures once, decodes layers 2-4,
 * assembles flows across the capture set, and commits each capture to the
 * index in one transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "addr.h"
#include "capture.h"
#include "dbq.h"
#include "decode.h"
#include "dynlib.h"
#include "flow.h"
#include "index.h"
#include "parse.h"
#include "summary.h"
#include "zsource.h"

#include <uv.h>

#define MAX_EXCLUDES 64

typedef struct input {
    char *path;        /* absolute */
    int explicit_arg;  /* named on the command line (not found in a directory) */
    int64_t first_ns;  /* first record's time, for ordering */
} input;

/* A capture this run has handed to the writer. */
typedef struct queued {
    char *path;
    uint64_t size;
    char fingerprint[80];
    int64_t replaces; /* the capture its commit marks replaced, or 0 */
} queued;

typedef struct indexer {
    const char *db_path;
    pdx_index *ix;
    pdx_index *rix;  /* a second connection: what is committed, for the checks */
    pdx_dbq *q;      /* the writer thread, with --jobs 2 or more */
    int64_t next_cap_id;
    queued *qd;      /* captures of this run, committed or still queued */
    size_t n_qd, cap_qd;
    int sync_each;   /* wait for each capture's commit (watch mode) */
    long jobs;
    pdx_flowtab *ft;
    pdx_flow_cfg cfg;
    /* The flow table's ops go through rollup_put_flow, which sums each flow
     * row into the capture's rollups here, on the flow thread, and then
     * hands the row to store (the writer thread's queue, or the index). */
    pdx_flow_ops store;
    pdx_rollup *ru;
    int64_t ru_capture;
    char op_err[PDX_ERRBUF_SIZE]; /* an op's own failure (out of memory), else "" */
    /* inputs */
    input *in;
    size_t n_in, cap_in;
    /* options */
    uint8_t ex_lo[MAX_EXCLUDES][16], ex_hi[MAX_EXCLUDES][16];
    size_t n_ex;
    const char *filter;
    parse_opts popts;
    int json, quiet, progress;
    uint64_t cache;         /* --cache, bytes; 0: the default */
    const char *watch_dir;  /* --watch */
    int64_t settle_ns;
    int64_t pending_ns;     /* --settle without --watch: leave files modified this recently */
    int ring;               /* --ring */
    uv_loop_t *loop;
    /* totals */
    uint64_t captures_done, captures_skipped, captures_failed, captures_changed, captures_damaged;
    uint64_t captures_replaced, captures_pending, captures_resumed;
    uint64_t packets, bytes, file_bytes, filtered, warnings, not_captures;
    char *warn_json;
    size_t warn_json_len, warn_json_cap;
    double t0;
    /* Progress: where the capture being read is, shown by a libuv timer. */
    uv_timer_t progress_timer;
    const char *cur_path;
    uint64_t cur_done, cur_size, cur_packets;
    /* After the capture's last packet: rows written of the flows it leaves. */
    int writing;
    uint64_t cur_written, cur_open;
} indexer;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pcapdex index [--db FILE] [OPTIONS] CAPTURE|DIR|GLOB...\n"
            "       pcapdex index [--db FILE] [OPTIONS] --watch DIR\n"
            "\n"
            "Indexes pcap, pcapng and snoop captures into the flow index.  Directories are\n"
            "searched recursively; the captures are ordered by their first packet's time,\n"
            "and flows continue from one capture into the next.  Captures already indexed\n"
            "are skipped, so a run can be repeated; the last one indexed, grown since, has\n"
            "its new packets indexed into it.\n"
            "\n"
            "  --db FILE             index database (default $PCAPDEX_DB or pcapdex.db)\n"
            "  --exclude CIDR        drop packets to or from this network (repeatable)\n"
            "  --filter EXPR         index only packets matching this BPF expression\n"
            "  --idle-timeout SECS   end a flow idle this long (default 120)\n"
            "  --close-timeout SECS  keep a closed TCP flow this long for stray packets (default 10)\n"
            "  --watch DIR           keep indexing new captures in DIR until SIGINT/SIGTERM: a\n"
            "                        capture is taken once a newer file appears or it has not\n"
            "                        changed for --settle seconds\n"
            "  --settle SECS         with --watch: how long a capture must stay unchanged\n"
            "                        before it is taken (default 10); without: a capture\n"
            "                        modified less than SECS ago is left for a later run\n"
            "  --ring                the files are a capture ring (tcpdump -W): a file\n"
            "                        overwritten since it was indexed has its new content\n"
            "                        indexed; the old capture's flows stay, its packets\n"
            "                        are gone (carve and verify say so)\n"
            "  --jobs N              default: the number of cores; with 2 or more, reading\n"
            "                        and decoding run on a pool thread and database\n"
            "                        writing on another, beside flow assembly; the\n"
            "                        index is the same as with --jobs 1\n"
            "  --cache SIZE          SQLite's page cache, K/M/G suffixes (default: a quarter\n"
            "                        of the index, 16M to 256M); more speeds up many short\n"
            "                        flows into a large index\n"
            "  --json                print the summary as one JSON object on stdout\n"
            "  -q, --quiet           no progress line and no summary\n"
            "  -h, --help            this help\n"
            "\n"
            "Exit: 0 indexed, 2 usage, 3 database error, 4 a named capture unreadable,\n"
            "5 finished with warnings (damaged or changed captures), 130 interrupted.\n");
}

/* ---- inputs -------------------------------------------------------------- */

static int add_input(indexer *x, const char *path, int explicit_arg)
{
    char real[PATH_MAX];
    if (realpath(path, real) == NULL)
        snprintf(real, sizeof(real), "%s", path);
    for (size_t i = 0; i < x->n_in; i++)
        if (strcmp(x->in[i].path, real) == 0)
            return 0;
    if (pdx_grow(&x->in, &x->cap_in, x->n_in + 1, sizeof(*x->in)) < 0)
        return -1;
    x->in[x->n_in].path = strdup(real);
    if (x->in[x->n_in].path == NULL)
        return -1;
    x->in[x->n_in].explicit_arg = explicit_arg;
    x->in[x->n_in].first_ns = INT64_MAX;
    x->n_in++;
    return 0;
}

static indexer *walk_target;

static int walk_cb(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
    if (type == FTW_F && S_ISREG(sb->st_mode))
        if (add_input(walk_target, fpath, 0) < 0)
            return -1;
    return 0;
}

static int has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Expands one argument; returns 0, or -1 (message printed) when nothing is there. */
static int expand_arg(indexer *x, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            walk_target = x;
            if (nftw(arg, walk_cb, 32, FTW_PHYS) != 0) {
                pdx_cli_error("%s: cannot read directory: %s", arg, strerror(errno));
                return -1;
            }
            return 0;
        }
        return add_input(x, arg, 1);
    }
    if (has_glob_chars(arg)) {
        glob_t g;
        int rc = glob(arg, 0, NULL, &g);
        if (rc == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++)
                if (expand_arg(x, g.gl_pathv[i]) < 0) {
                    globfree(&g);
                    return -1;
                }
            globfree(&g);
            return 0;
        }
        globfree(&g);
    }
    pdx_cli_error("%s: %s", arg, strerror(errno ? errno : ENOENT));
    return -1;
}

static int cmp_input(const void *a, const void *b)
{
    const input *x = a, *y = b;
    if (x->first_ns != y->first_ns)
        return x->first_ns < y->first_ns ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* ---- warnings ------------------------------------------------------------- */

static void json_escape_append(indexer *x, const char *s)
{
    size_t need = strlen(s) * 6 + 8;
    if (x->warn_json_len + need >= x->warn_json_cap) {
        size_t nc = (x->warn_json_cap + need) * 2;
        char *n = realloc(x->warn_json, nc);
        if (n == NULL)
            return;
        x->warn_json = n;
        x->warn_json_cap = nc;
    }
    char *o = x->warn_json + x->warn_json_len;
    if (x->warn_json_len > 0)
        *o++ = ',';
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = '\0';
    x->warn_json_len = (size_t)(o - x->warn_json);
}

static void warn(indexer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(indexer *x, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    x->warnings++;
    if (x->progress)
        fputs("\r\033[K", stderr);
    if (!x->json || !x->quiet)
        pdx_cli_warn("%s", msg);
    json_escape_append(x, msg);
}

/* A capture's warnings column: what index said of it, a line each, without
 * the path.  Room for every warning a capture can get (the parser's, the
 * interfaces', the damage). */
#define CAP_WARNINGS_MAX ((PARSE_MAX_WARN + 2) * PDX_ERRBUF_SIZE + 256)

typedef struct cap_warnings {
    char text[CAP_WARNINGS_MAX];
    size_t len;
} cap_warnings;

/* Warns "PATH: MESSAGE" and adds MESSAGE to w. */
static void capture_warning(indexer *x, cap_warnings *w, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void capture_warning(indexer *x, cap_warnings *w, const char *path, const char *fmt, ...)
{
    char msg[PDX_ERRBUF_SIZE + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    warn(x, "%s: %s", path, msg);
    size_t room = sizeof(w->text) - w->len;
    int n = snprintf(w->text + w->len, room, "%s%s", w->len ? "\n" : "", msg);
    w->len += n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
}

/* ---- progress ---------------------------------------------------------------- */

static void on_progress(uv_timer_t *t)
{
    indexer *x = t->data;
    if (x->cur_path == NULL)
        return;
    double el = now_s() - x->t0;
    double gbps = el > 0 ? (double)(x->file_bytes + x->cur_done) / el / 1e9 : 0;
    const char *base = strrchr(x->cur_path, '/');
    if (x->writing) {
        fprintf(stderr, "\r\033[K%s: %s read  %llu packets  writing flows: %llu of %llu", pdx_cli_prog,
                base ? base + 1 : x->cur_path, (unsigned long long)(x->packets + x->cur_packets),
                (unsigned long long)x->cur_written, (unsigned long long)x->cur_open);
        return;
    }
    fprintf(stderr, "\r\033[K%s: %s %3.0f%%  %llu packets  %.2f GB/s", pdx_cli_prog,
            base ? base + 1 : x->cur_path,
            x->cur_size ? 100.0 * (double)x->cur_done / (double)x->cur_size : 100.0,
            (unsigned long long)(x->packets + x->cur_packets), gbps);
}

/* After each chunk: what the progress timer shows, and a turn of the loop
 * (without waiting) so that the timer fires when it is due. */
static void note_progress(indexer *x, const char *path, uint64_t done, uint64_t size,
                          uint64_t packets)
{
    x->cur_path = path;
    x->cur_done = done;
    x->cur_size = size;
    x->cur_packets = packets;
    uv_run(x->loop, UV_RUN_NOWAIT);
}

/* ---- one capture ------------------------------------------------------------- */

static int adopt_cb(void *ctx, const pdx_flow *f)
{
    return pdx_flowtab_adopt(ctx, f);
}

/* The message of a failed flow-table op (the writer thread's, if any). */
static const char *op_error(indexer *x, char *buf)
{
    if (x->op_err[0] != '\0')
        return x->op_err;
    if (x->q != NULL && pdx_dbq_sync(x->q, buf) < 0)
        return buf;
    return pdx_index_errmsg(x->ix);
}

/* Waits for the writer thread before the caller uses the index. */
static int settle(indexer *x, char *err)
{
    return x->q != NULL ? pdx_dbq_sync(x->q, err) : PDX_OK;
}

/* Opens path to learn size, mtime and fingerprint. */
static int file_identity(const char *path, uint64_t *size, int64_t *mtime, char fp[80], char *errbuf)
{
    struct stat st;
    int fd = pdx_open_regular(path, &st);
    if (fd < 0)
        return pdx_errf(errbuf, PDX_EIO, "%s", pdx_open_strerror(fd));
    *size = (uint64_t)st.st_size;
    *mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    int rc = fp ? pdx_fingerprint_fd(fd, *size, fp, errbuf) : PDX_OK;
    close(fd);
    return rc;
}

enum { CAP_OK = 0, CAP_SKIP = 1, CAP_FAILED = 2, CAP_FATAL = 3, CAP_STOP = 4 };

/* A run of the rollups, copied for the writer thread. */
typedef struct run_call {
    int64_t capture_id;
    pdx_rollup_run run;
    uint8_t data[];
} run_call;

static int call_run(pdx_index *ix, void *arg, char *errbuf)
{
    run_call *c = arg;
    int rc = ix != NULL ? pdx_index_put_rollup(ix, c->capture_id, &c->run) : PDX_OK;
    if (rc < 0)
        pdx_errf(errbuf, rc, "%s", pdx_index_errmsg(ix));
    free(c);
    return rc;
}

/* Stores a run of the current capture's rollups, after the rows queued so
 * far. */
static int queue_run(void *ctx, const pdx_rollup_run *run)
{
    indexer *x = ctx;
    if (x->q == NULL)
        return pdx_index_put_rollup(x->ix, x->ru_capture, run);
    run_call *c = malloc(sizeof(*c) + run->len);
    if (c == NULL)
        return pdx_errf(x->op_err, PDX_ENOMEM, "out of memory");
    c->capture_id = x->ru_capture;
    c->run = *run;
    if (run->len > 0)
        memcpy(c->data, run->data, run->len);
    c->run.data = c->data;
    return pdx_dbq_call(x->q, call_run, c);
}

static int rollup_put_segment(void *ctx, const pdx_flow *f)
{
    indexer *x = ctx;
    return x->store.put_segment(x->store.ctx, f);
}

/* Sums what writing f's row changes (a new flow counts once; packets and
 * bytes since its row was last written) into the capture's rollups, then
 * stores the row. */
static int rollup_put_flow(void *ctx, const pdx_flow *f)
{
    indexer *x = ctx;
    uint64_t flows = !f->stored, packets = f->pk[0] + f->pk[1] - f->wpk,
             bytes = f->by[0] + f->by[1] - f->wby;
    if ((flows | packets | bytes) != 0) {
        int rc = pdx_rollup_add(x->ru, f, flows, packets, bytes);
        if (rc > 0)
            rc = pdx_rollup_flush(x->ru, 0, queue_run, x);
        if (rc == PDX_ENOMEM)
            pdx_errf(x->op_err, rc, "out of memory");
        if (rc < 0)
            return rc;
    }
    /* A capture of many short flows leaves most of its time for this
     * phase: the progress line counts the rows. */
    if (x->writing && (++x->cur_written & 1023) == 0)
        uv_run(x->loop, UV_RUN_NOWAIT);
    return x->store.put_flow(x->store.ctx, f);
}

/* The ops the flow table gets: the rollups, then store. */
static pdx_flow_ops flow_ops(indexer *x)
{
    x->store = x->q != NULL ? pdx_dbq_ops(x->q)
                            : (pdx_flow_ops){x->ix, pdx_index_put_segment, pdx_index_put_flow};
    return (pdx_flow_ops){x, rollup_put_segment, rollup_put_flow};
}

/* Makes the flow table again from the index (after a rollback).  0 or < 0
 * with the error printed. */
static int reload_flows(indexer *x)
{
    char err[PDX_ERRBUF_SIZE];
    int64_t max_id = 0;
    pdx_flow_ops ops = flow_ops(x);
    pdx_flowtab_free(x->ft);
    x->ft = NULL;
    if (pdx_index_max_flow_id(x->ix, &max_id, err) < 0 ||
        (x->ft = pdx_flowtab_create(&x->cfg, &ops, max_id + 1)) == NULL ||
        pdx_index_load_live(x->ix, adopt_cb, x->ft, err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, x->ft ? err : "out of memory");
        return -1;
    }
    return 0;
}

/* A capture's BEGIN and row, or its final row and COMMIT, as a call for
 * the writer thread (or made directly): it owns copies of what it needs. */
typedef struct cap_call {
    pdx_caprow row;
    pdx_capinfo info;
    char path[PATH_MAX];
    char warnings[CAP_WARNINGS_MAX];
} cap_call;

static cap_call *cap_call_new(const pdx_caprow *row, const pdx_capinfo *info)
{
    cap_call *c = malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    c->row = *row;
    snprintf(c->path, sizeof(c->path), "%s", row->path);
    snprintf(c->warnings, sizeof(c->warnings), "%s", row->warnings ? row->warnings : "");
    c->row.path = c->path;
    c->row.warnings = c->warnings;
    if (pdx_capinfo_dup(info, &c->info) < 0) {
        free(c);
        return NULL;
    }
    c->row.info = &c->info;
    return c;
}

static void cap_call_free(cap_call *c)
{
    pdx_capinfo_free(&c->info);
    free(c);
}

static int call_begin(pdx_index *ix, void *arg, char *errbuf)
{
    cap_call *c = arg;
    int rc = PDX_OK;
    if (ix != NULL && (rc = pdx_index_begin(ix, errbuf)) == PDX_OK)
        rc = c->row.resumes > 0 ? pdx_index_capture_resume(ix, &c->row, errbuf)
                                : pdx_index_capture_insert(ix, &c->row, errbuf);
    cap_call_free(c);
    return rc;
}

static int call_commit(pdx_index *ix, void *arg, char *errbuf)
{
    cap_call *c = arg;
    int rc = PDX_OK;
    if (ix != NULL && (rc = pdx_index_capture_finish(ix, &c->row, errbuf)) == PDX_OK)
        rc = pdx_index_commit(ix, errbuf);
    cap_call_free(c);
    return rc;
}

/* Runs fn on the writer thread (queued after what the flow table queued) or
 * here.  0, or < 0 with the message in err. */
static int db_call(indexer *x, pdx_dbq_fn fn, const pdx_caprow *row, const pdx_capinfo *info,
                   char *err)
{
    cap_call *c = cap_call_new(row, info);
    if (c == NULL)
        return pdx_errf(err, PDX_ENOMEM, "out of memory");
    if (x->q == NULL)
        return fn(x->ix, c, err);
    int rc = pdx_dbq_call(x->q, fn, c);
    if (rc < 0 || x->sync_each)
        rc = pdx_dbq_sync(x->q, err);
    return rc;
}

static const queued *queued_content(const indexer *x, const char *fp, uint64_t size)
{
    for (size_t i = 0; i < x->n_qd; i++)
        if (x->qd[i].size == size && strcmp(x->qd[i].fingerprint, fp) == 0)
            return &x->qd[i];
    return NULL;
}

static int queued_add(indexer *x, const pdx_caprow *row)
{
    if (pdx_grow(&x->qd, &x->cap_qd, x->n_qd + 1, sizeof(*x->qd)) < 0)
        return PDX_ENOMEM;
    queued *q = &x->qd[x->n_qd];
    if ((q->path = strdup(row->path)) == NULL)
        return PDX_ENOMEM;
    q->size = row->size;
    memcpy(q->fingerprint, row->fingerprint, sizeof(q->fingerprint));
    q->replaces = row->replaces;
    x->n_qd++;
    return PDX_OK;
}

/* A changed file that grew, its first known->size bytes still with the
 * fingerprint that was indexed, was appended to (a writer that was not done
 * when it was indexed): its new records are taken up, never indexed whole
 * again (its first packets twice) as a ring's next round. */
static int appended_to(const input *in, const pdx_capknown *known, const pdx_caprow *row)
{
    char fp[80], err[PDX_ERRBUF_SIZE];
    struct stat st;
    if (row->size <= known->size)
        return 0;
    int fd = pdx_open_regular(in->path, &st);
    if (fd < 0)
        return 0;
    int same = pdx_fingerprint_fd(fd, known->size, fp, err) == PDX_OK &&
               strcmp(fp, known->fingerprint) == 0;
    close(fd);
    return same;
}

static int call_relink(pdx_index *ix, void *arg, char *errbuf)
{
    cap_call *c = arg;
    int rc = PDX_OK;
    if (ix != NULL && (rc = pdx_index_begin(ix, errbuf)) == PDX_OK) {
        if ((rc = pdx_index_capture_relink(ix, &c->row, errbuf)) == PDX_OK)
            rc = pdx_index_commit(ix, errbuf);
        else
            pdx_index_rollback(ix);
    }
    cap_call_free(c);
    return rc;
}

/* A file with the same content as an indexed capture is not indexed; but a
 * ring's round it overwrote is gone all the same (row->replaces), and a
 * replaced capture whose content it holds is read from it from now on. */
static int same_content(indexer *x, const input *in, pdx_caprow *row, const char *other,
                        const pdx_capknown *known)
{
    char err[PDX_ERRBUF_SIZE];
    static const pdx_capinfo no_info;
    if (known != NULL && known->replaced && known->size == row->size &&
        strcmp(known->fingerprint, row->fingerprint) == 0)
        row->revives = known->id;
    /* Committed before the next check, which reads what is committed. */
    if ((row->replaces > 0 || row->revives > 0) &&
        (db_call(x, call_relink, row, &no_info, err) < 0 || settle(x, err) < 0)) {
        pdx_cli_error("%s: %s", x->db_path, err);
        return CAP_FATAL;
    }
    if (!x->quiet && row->revives > 0)
        pdx_cli_note("%s: same content as capture %lld, indexed from %s and overwritten there "
                     "since: its packets are read from here now",
                     in->path, (long long)row->revives, other);
    else if (!x->quiet)
        pdx_cli_note("%s: same content as indexed capture %s; skipped", in->path, other);
    if (row->replaces > 0) {
        x->captures_replaced++;
        if (!x->quiet)
            pdx_cli_note("%s: capture %lld, indexed from it before, was overwritten: its flows stay, "
                         "its packets are gone", in->path, (long long)row->replaces);
    }
    x->captures_skipped++;
    return CAP_SKIP;
}

/*
 * The checks before a capture is read: already indexed (same path, size and
 * mtime, or same content), changed since, or the same content as another.
 * They read what is committed through the second connection, so that they
 * never wait for the writer thread.  A path comes once in a run (inputs are
 * unique; --watch waits for each commit), but another path with the same
 * content may be queued and not committed yet: x->qd has those.  CAP_OK to
 * index it; when it resumes a capture that grew (row->resumes), *known is
 * that capture's row as the index holds it.
 */
static int check_capture(indexer *x, const input *in, pdx_caprow *row, pdx_capknown *known)
{
    char err[PDX_ERRBUF_SIZE];
    if (file_identity(in->path, &row->size, &row->mtime_ns, NULL, err) < 0) {
        if (in->explicit_arg)
            pdx_cli_error("%s: %s", in->path, err);
        x->captures_failed += in->explicit_arg;
        return CAP_FAILED;
    }
    int rc = pdx_index_capture_by_path(x->rix, in->path, known, err);
    if (rc < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        return CAP_FATAL;
    }
    if (rc == 1 && known->size == row->size && known->mtime_ns == row->mtime_ns) {
        x->captures_skipped++;
        return CAP_SKIP;
    }
    if (x->pending_ns > 0) {
        /* A run from cron while the capture tool still writes its newest
         * file: left for when it is done, rather than indexed in parts. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t age = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - row->mtime_ns;
        if (age < x->pending_ns) {
            if (!x->quiet && !x->json)
                pdx_cli_note("%s: modified %.0f s ago (still being written?); left for a later run "
                             "(--settle)", in->path, age > 0 ? (double)age / 1e9 : 0.0);
            x->captures_pending++;
            return CAP_SKIP;
        }
    }
    if (file_identity(in->path, &row->size, &row->mtime_ns, row->fingerprint, err) < 0) {
        pdx_cli_error("%s: %s", in->path, err);
        x->captures_failed++;
        return CAP_FAILED;
    }
    if (rc == 1) {
        if (strcmp(known->fingerprint, row->fingerprint) == 0) {
            x->captures_skipped++;
            return CAP_SKIP;
        }
        /* Its flows go on into the new records only from where the index
         * left them: at the end of the last capture indexed. */
        int grown = appended_to(in, known, row);
        if (grown && known->id == x->next_cap_id - 1) {
            row->resumes = known->id;
            return CAP_OK;
        }
        /* A capture of no packets (a file holding only its header when it
         * was taken) loses nothing when its new content is indexed anew:
         * the next round of a ring, or a writer that had not begun. */
        if (grown && known->packets > 0) {
            warn(x, "%s: changed since it was indexed: it grew, but other captures were indexed "
                    "after it, so its flows cannot go on; not indexed again", in->path);
            x->captures_changed++;
            return CAP_SKIP;
        }
        if (!x->ring && known->packets > 0) {
            warn(x, "%s: changed since it was indexed (size or content differ); not indexed again",
                 in->path);
            x->captures_changed++;
            return CAP_SKIP;
        }
        row->replaces = known->id; /* the new round of a ring: index it (below) */
    }
    const queued *same = queued_content(x, row->fingerprint, row->size);
    rc = same ? 1 : pdx_index_capture_by_fingerprint(x->rix, row->fingerprint, row->size, known, err);
    if (rc < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        return CAP_FATAL;
    }
    if (rc == 1 && !same) {
        /* A capture whose replacement is queued but not committed is, for
         * this check, replaced already (what --jobs 1 would see). */
        for (size_t i = 0; i < x->n_qd && !known->replaced; i++)
            known->replaced = x->qd[i].replaces == known->id;
    }
    if (rc == 1)
        return same_content(x, in, row, same ? same->path : known->path, same ? NULL : known);
    return CAP_OK;
}

static int64_t next_seg_cb(void *ctx, int64_t flow_id, int64_t capture_id)
{
    return pdx_index_next_seg(ctx, flow_id, capture_id);
}

/* Takes capture id up again, its file grown since it was indexed as the last
 * capture: each flow it holds goes on with its next segment there, each
 * rollup kind with its next run.  (The records it holds are the file's first
 * captures.packets, which the parse job marks counted.) */
static int resume_capture(indexer *x, int64_t id, char *err)
{
    int rc;
    if ((rc = settle(x, err)) < 0)
        return rc;
    if ((rc = pdx_flowtab_resume(x->ft, id, next_seg_cb, x->ix)) < 0)
        return pdx_errf(err, rc, "capture %lld: %s", (long long)id,
                        rc == PDX_ECORRUPT ? "a flow's segments are numbered past 2^32"
                                           : pdx_index_errmsg(x->ix));
    for (int k = 0; k < PDX_TOP_NKINDS; k++) {
        uint32_t seq = 0;
        if ((rc = pdx_index_next_run(x->ix, id, pdx_rollup_kind_name(k), &seq, err)) < 0)
            return rc;
        pdx_rollup_set_seq(x->ru, k, seq);
    }
    return PDX_OK;
}

static int index_one(indexer *x, input *in)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_caprow row;
    pdx_capknown known;
    int rc;

    memset(&row, 0, sizeof(row));
    row.path = in->path;
    if ((rc = check_capture(x, in, &row, &known)) != CAP_OK)
        return rc;

    int open_rc;
    parse_opts po = x->popts;
    po.count_from = row.resumes > 0 ? known.packets : 0;
    parse_job *job = parse_job_open(in->path, &po, &row.compression, &open_rc, err);
    if (job == NULL) {
        /* In a directory, a file that is no capture is passed over; one
         * whose compressed data is damaged is a capture that failed. */
        if (in->explicit_arg || open_rc == PDX_ECORRUPT) {
            pdx_cli_error("%s: %s", in->path, err);
            x->captures_failed++;
        } else {
            x->not_captures++;
        }
        return CAP_FAILED;
    }
    /* With more than one job, reading and decoding run on libuv's thread
     * pool while this thread assembles flows and the writer thread stores
     * them, a capture's BEGIN and COMMIT included: the same packets and
     * calls in the same order, so the same database. */
    if (x->jobs > 1)
        parse_job_start(job, x->loop);

    int resuming = row.resumes > 0;
    row.id = resuming ? row.resumes : x->next_cap_id;
    row.first_ns = row.last_ns = INT64_MIN;
    row.status = "indexing";
    row.warnings = "";
    pdx_rollup_reset(x->ru);
    if (resuming && resume_capture(x, row.id, err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        goto fatal;
    }
    if (db_call(x, call_begin, &row, parse_job_header(job), err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        goto fatal;
    }
    x->ru_capture = row.id;
    if (queued_add(x, &row) < 0) {
        pdx_cli_error("out of memory");
        goto fatal;
    }
    if (!resuming)
        x->next_cap_id++;

    uint64_t n_packets = 0, n_new = 0;
    for (int last = 0; !last;) {
        const parse_chunk *c = parse_job_next(job);
        for (size_t i = 0; i < c->n; i++) {
            const parse_item *it = &c->item[i];
            /* The flow table and the flows are mostly out of cache: ask for
             * the slots and flows of the packets ahead while this one is
             * assigned, so that their misses overlap. */
            if (i + 8 < c->n)
                pdx_flowtab_prefetch(x->ft, c->item[i + 8].hash, PDX_PREFETCH_SLOT);
            if (i + 4 < c->n)
                pdx_flowtab_prefetch(x->ft, c->item[i + 4].hash, PDX_PREFETCH_FLOW);
            if (i + 2 < c->n)
                pdx_flowtab_prefetch(x->ft, c->item[i + 2].hash, PDX_PREFETCH_NEIGHBOURS);
            if (resuming) {
                if (it->counted) {
                    /* indexed before the file grew */
                    if ((rc = pdx_flowtab_skip_packet(x->ft, &it->pkt, it->ts_ns)) < 0) {
                        pdx_cli_error("out of memory");
                        parse_job_release(job, c);
                        goto fatal;
                    }
                    continue;
                }
                n_new++;
            }
            rc = pdx_flowtab_packet_keyed(x->ft, &it->pkt, &it->key, it->hash, it->linktype,
                                          row.id, it->offset, it->ts_ns, it->wirelen);
            if (rc < 0) {
                pdx_cli_error("%s: %s", x->db_path, op_error(x, err));
                parse_job_release(job, c);
                goto fatal;
            }
        }
        last = c->last;
        n_packets += c->n;
        if (x->progress)
            note_progress(x, in->path, c->pos, row.size, n_packets);
        parse_job_release(job, c);
        if (stop_requested)
            goto interrupted;
    }
    const parse_result *pr = parse_job_result(job);
    cap_warnings cwbuf, *cw = &cwbuf;
    cw->len = 0;
    cw->text[0] = 0;
    for (size_t i = 0; i < pr->n_warn; i++)
        capture_warning(x, cw, in->path, "%s", pr->warn[i]);
    if (pr->damaged)
        capture_warning(x, cw, in->path, "%s; indexed up to the damage", pr->err);
    {
        /* A file that grew or changed while it was read is not indexed:
         * its fingerprint and size would not describe what was read. */
        uint64_t size2;
        int64_t mtime2;
        if (file_identity(in->path, &size2, &mtime2, NULL, err) < 0 || size2 != row.size ||
            mtime2 != row.mtime_ns) {
            warn(x, "%s: changed while it was read (still being written?); not indexed: run "
                    "again when it is complete", in->path);
            x->captures_changed++;
            goto changed;
        }
    }
    const pdx_capstats *cst = parse_job_stats(job);
    if (cst->bad_iface)
        capture_warning(x, cw, in->path, "%llu packets name an interface the capture does not describe",
                        (unsigned long long)cst->bad_iface);
    if (cst->ts_out_of_range)
        capture_warning(x, cw, in->path,
                        "%llu packets have times before 1677-09-21 or after 2262-04-11, which the "
                        "index cannot hold; stored as the nearest of those (a wrong if_tsresol or "
                        "if_tsoffset?)",
                        (unsigned long long)cst->ts_out_of_range);
    if (x->progress) {
        x->writing = 1;
        x->cur_written = 0;
        x->cur_open = pdx_flowtab_live(x->ft);
    }
    rc = pdx_flowtab_end_capture(x->ft, row.id);
    x->writing = 0;
    if (rc >= 0 && (rc = pdx_rollup_flush(x->ru, 1, queue_run, x)) == PDX_ENOMEM)
        pdx_errf(x->op_err, rc, "out of memory"); /* the rollups' last runs, in the transaction */
    if (rc < 0) {
        pdx_cli_error("%s: %s", x->db_path, op_error(x, err));
        goto fatal;
    }
    row.packets = pr->packets;
    row.bytes = pr->bytes;
    row.cap_bytes = pr->cap_bytes;
    row.truncated = pr->truncated;
    row.invalid = pr->invalid;
    row.first_ns = pr->first_ns;
    row.last_ns = pr->last_ns;
    row.raw_size = pr->raw_size;
    row.status = pr->damaged ? "damaged" : "complete";
    row.warnings = cw->text;
    if (db_call(x, call_commit, &row, parse_job_info(job), err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        goto fatal;
    }
    x->captures_done++;
    x->captures_damaged += pr->damaged;
    if (row.replaces > 0) {
        x->captures_replaced++;
        if (!x->quiet && !x->json)
            pdx_cli_note("%s: overwritten since it was indexed: indexed its new content; "
                         "capture %lld keeps its flows, its packets are gone",
                         in->path, (long long)row.replaces);
    }
    if (resuming) {
        x->captures_resumed++;
        if (!x->quiet && !x->json)
            pdx_cli_note("%s: grew since it was indexed: its %llu new packets are indexed into "
                         "capture %lld", in->path, (unsigned long long)n_new, (long long)row.id);
    }
    /* Records read, filtered ones too, as for a capture read whole. */
    x->packets += row.packets - (resuming ? PDX_MIN(known.packets, row.packets) : 0);
    x->bytes += row.bytes - (resuming ? PDX_MIN(known.bytes, row.bytes) : 0);
    x->file_bytes += row.size;
    x->filtered += pr->filtered;
    x->cur_path = NULL; /* its bytes and packets are in file_bytes and packets now */
    x->cur_done = x->cur_packets = 0;
    if (row.compression != PDX_COMP_NONE && !x->quiet && !x->json)
        pdx_cli_note("%s: %s-compressed; carving from it %s", in->path,
                     pdx_comp_name(row.compression),
                     row.compression == PDX_COMP_GZIP
                         ? "must decompress from the start: 'pcapdex compress' makes it fast"
                         : "is fast only in zstd's seekable format ('pcapdex compress' writes it)");
    parse_job_close(job);
    return CAP_OK;

changed:
    /* The flow table took in packets that the rollback drops: take it up
     * again from the index. */
    settle(x, err);
    pdx_index_rollback(x->ix);
    if (!resuming)
        x->next_cap_id--;
    free(x->qd[--x->n_qd].path);
    parse_job_close(job);
    return reload_flows(x) < 0 ? CAP_FATAL : CAP_SKIP;

interrupted:
    settle(x, err);
    pdx_index_rollback(x->ix);
    parse_job_close(job);
    return CAP_STOP;
fatal:
    settle(x, err);
    pdx_index_rollback(x->ix);
    parse_job_close(job);
    return CAP_FATAL;
}

/* Reads each input's first timestamp so the set can be ordered by time. */
static void peek_times(indexer *x)
{
    char err[PDX_ERRBUF_SIZE];
    for (size_t i = 0; i < x->n_in; i++) {
        pdx_capture *c = NULL;
        pdx_zsrc *z = NULL;
        pdx_record rec;
        int kind;
        if (pdx_capture_open_any(x->in[i].path, &c, &z, &kind, err) == 0) {
            if (pdx_capture_next(c, &rec, err) == 1)
                x->in[i].first_ns = rec.ts_ns;
            pdx_capture_close(c);
            pdx_zsrc_close(z);
        }
    }
    if (x->n_in > 1)
        qsort(x->in, x->n_in, sizeof(x->in[0]), cmp_input);
}

static void count_note(uint64_t n, const char *what)
{
    if (n > 0)
        pdx_cli_note("%llu %s", (unsigned long long)n, what);
}

static void summary(indexer *x, double secs)
{
    uint64_t flows = pdx_flowtab_created(x->ft);
    double gbps = secs > 0 ? (double)x->file_bytes / secs / 1e9 : 0;
    if (x->json) {
        printf("{\"db\":\"%s\",\"captures_indexed\":%llu,\"captures_skipped\":%llu,"
               "\"captures_failed\":%llu,\"captures_changed\":%llu,\"captures_damaged\":%llu,"
               "\"captures_replaced\":%llu,\"captures_pending\":%llu,\"captures_resumed\":%llu,"
               "\"not_captures\":%llu,\"packets\":%llu,\"packets_filtered\":%llu,"
               "\"flows_created\":%llu,\"bytes\":%llu,\"file_bytes\":%llu,\"seconds\":%.3f,"
               "\"gb_per_s\":%.3f,\"warnings\":[%s]}\n",
               x->db_path, (unsigned long long)x->captures_done,
               (unsigned long long)x->captures_skipped, (unsigned long long)x->captures_failed,
               (unsigned long long)x->captures_changed, (unsigned long long)x->captures_damaged,
               (unsigned long long)x->captures_replaced, (unsigned long long)x->captures_pending,
               (unsigned long long)x->captures_resumed,
               (unsigned long long)x->not_captures, (unsigned long long)x->packets,
               (unsigned long long)x->filtered, (unsigned long long)flows,
               (unsigned long long)x->bytes, (unsigned long long)x->file_bytes, secs, gbps,
               x->warn_json ? x->warn_json : "");
        return;
    }
    if (x->quiet)
        return;
    fprintf(stderr,
            "%s: %llu captures indexed, %llu already indexed, %llu packets, %llu flows, "
            "%.1f MB in %.2f s (%.2f GB/s), %llu warnings\n",
            pdx_cli_prog, (unsigned long long)x->captures_done,
            (unsigned long long)x->captures_skipped, (unsigned long long)x->packets,
            (unsigned long long)flows, (double)x->file_bytes / 1e6, secs, gbps,
            (unsigned long long)x->warnings);
    count_note(x->not_captures, "files in the directories given are not captures; skipped");
    count_note(x->captures_resumed, "captures taken up again: they had grown since they were indexed");
    count_note(x->captures_replaced, "captures overwritten since they were indexed (a ring's next "
                                     "round): their flows stay, their packets are gone");
    if (x->captures_pending)
        pdx_cli_note("%llu captures modified less than %.0f s ago left for a later run",
                     (unsigned long long)x->captures_pending, (double)x->pending_ns / 1e9);
}

/* ---- watch mode --------------------------------------------------------------- */

/* What the watcher knows of a file in the directory. */
typedef struct seen {
    char *path;
    uint64_t size;
    int64_t mtime_ns;
    double stable_since; /* when size and mtime last changed */
    int done;            /* indexed, skipped, or not a capture at this size */
    unsigned gen;        /* the walk that last found it */
} seen;

typedef struct watcher {
    indexer *x;
    seen *files;
    size_t n, cap;
    size_t *slot;        /* files by path hash: index + 1, 0 for none */
    size_t nslot;        /* a power of two, at least twice n */
    unsigned gen;        /* walks so far */
    uint64_t soon_ms;    /* from a change event to the look it brings */
    uint64_t repeat_ms;  /* between looks when nothing is heard */
    uv_timer_t timer;
    uv_fs_event_t event;
    uv_signal_t sigint, sigterm;
    int status;
} watcher;

static size_t path_hash(const char *p)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)h;
}

/* The hash's slot for path: where it is, or the empty one it would take. */
static size_t seen_slot(const watcher *w, const char *path)
{
    size_t mask = w->nslot - 1, h = path_hash(path) & mask;
    while (w->slot[h] != 0 && strcmp(w->files[w->slot[h] - 1].path, path) != 0)
        h = (h + 1) & mask;
    return h;
}

/* Rebuilds the hash for room for want files. */
static int seen_rehash(watcher *w, size_t want)
{
    size_t n = 64;
    while (n < 2 * want)
        n *= 2;
    size_t *slot = calloc(n, sizeof(*slot));
    if (slot == NULL)
        return PDX_ENOMEM;
    free(w->slot);
    w->slot = slot;
    w->nslot = n;
    for (size_t i = 0; i < w->n; i++)
        w->slot[seen_slot(w, w->files[i].path)] = i + 1;
    return PDX_OK;
}

/* The file's entry, made when it is new.  A directory of tens of thousands
 * of captures is walked every second: finding each must not cost a scan of
 * the others. */
static seen *seen_get(watcher *w, const char *path)
{
    if (w->nslot < 2 * (w->n + 1) && seen_rehash(w, w->n + 1) < 0)
        return NULL;
    size_t h = seen_slot(w, path);
    if (w->slot[h] != 0)
        return &w->files[w->slot[h] - 1];
    if (pdx_grow(&w->files, &w->cap, w->n + 1, sizeof(*w->files)) < 0)
        return NULL;
    seen *s = &w->files[w->n];
    memset(s, 0, sizeof(*s));
    s->path = strdup(path);
    if (s->path == NULL)
        return NULL;
    w->slot[h] = ++w->n;
    return s;
}

/* Forgets the files the last walk did not find (deleted: a ring that
 * removes its oldest file, an archive that expires), so that what is kept
 * stays the size of the directory. */
static int seen_sweep(watcher *w)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->files[i].gen == w->gen)
            w->files[k++] = w->files[i];
        else
            free(w->files[i].path);
    }
    if (k == w->n)
        return PDX_OK;
    w->n = k;
    return seen_rehash(w, k);
}

static int cmp_seen(const void *a, const void *b)
{
    const seen *const *x = a, *const *y = b;
    if ((*x)->mtime_ns != (*y)->mtime_ns)
        return (*x)->mtime_ns < (*y)->mtime_ns ? -1 : 1;
    return strcmp((*x)->path, (*y)->path);
}

static watcher *walk_watcher;

static int watch_walk_cb(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
    watcher *w = walk_watcher;
    const char *base = fpath + ftw->base;
    if (type != FTW_F || !S_ISREG(sb->st_mode) || base[0] == '.' || strstr(base, ".part") != NULL)
        return 0;
    char real[PATH_MAX];
    if (realpath(fpath, real) == NULL)
        return 0;
    seen *s = seen_get(w, real);
    if (s == NULL)
        return -1;
    s->gen = w->gen;
    int64_t mt = (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
    if (s->stable_since == 0 || s->size != (uint64_t)sb->st_size || s->mtime_ns != mt) {
        s->size = (uint64_t)sb->st_size;
        s->mtime_ns = mt;
        s->stable_since = now_s();
        s->done = 0;
    }
    return 0;
}

/* Indexes every complete capture: the writer has moved on to a newer file,
 * or its size and mtime have not changed for the settle time. */
static void watch_scan(watcher *w)
{
    indexer *x = w->x;
    double t0 = now_s();
    walk_watcher = w;
    w->gen++;
    if (nftw(x->watch_dir, watch_walk_cb, 32, FTW_PHYS) != 0 || seen_sweep(w) < 0) {
        pdx_cli_error("%s: cannot read directory: %s", x->watch_dir, strerror(errno));
        w->status = PDX_EXIT_INPUT;
        uv_stop(x->loop);
        return;
    }
    /* A walk of a large directory takes a while: look at most a tenth of
     * the time (a fifth while a writer sends change events). */
    uint64_t walk_ms = (uint64_t)((now_s() - t0) * 1000.0);
    w->soon_ms = PDX_MAX(200, 5 * walk_ms);
    w->repeat_ms = PDX_MAX(1000, 10 * walk_ms);
    uv_timer_set_repeat(&w->timer, w->repeat_ms);
    seen **order = malloc((w->n ? w->n : 1) * sizeof(*order));
    if (order == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++)
        if (!w->files[i].done)
            order[k++] = &w->files[i];
    if (k > 1)
        qsort(order, k, sizeof(*order), cmp_seen);
    double now = now_s();
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < w->n; i++)
        if (w->files[i].mtime_ns > newest)
            newest = w->files[i].mtime_ns;
    for (size_t i = 0; i < k && !stop_requested; i++) {
        seen *s = order[i];
        int moved_on = s->mtime_ns < newest && now - s->stable_since >= 0.2;
        int settled = (now - s->stable_since) * 1e9 >= (double)x->settle_ns;
        if (!moved_on && !settled)
            break; /* later files wait for this one: flows continue in time order */
        input in = {s->path, 0, INT64_MAX};
        uint64_t before_pk = x->packets, before_fl = pdx_flowtab_created(x->ft);
        uint64_t done_before = x->captures_done;
        int r = index_one(x, &in);
        s->done = 1;
        if (r == CAP_FATAL) {
            w->status = PDX_EXIT_DB;
            uv_stop(x->loop);
            break;
        }
        if (r == CAP_STOP) {
            w->status = PDX_EXIT_INTERRUPTED;
            uv_stop(x->loop);
            break;
        }
        if (x->captures_done > done_before && !x->quiet)
            pdx_cli_note("indexed %s: %llu packets, %llu new flows, %zu flows open", s->path,
                         (unsigned long long)(x->packets - before_pk),
                         (unsigned long long)(pdx_flowtab_created(x->ft) - before_fl),
                         pdx_flowtab_live(x->ft));
    }
    free(order);
}

static void on_timer(uv_timer_t *t)
{
    watch_scan(t->data);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    watcher *w = h->data;
    /* Look again soon: a rename or close is often the writer moving on.  A
     * writer that keeps writing sends events faster than that: a look
     * already due soon is not put off again, or it never comes. */
    if (uv_timer_get_due_in(&w->timer) > w->soon_ms)
        uv_timer_start(&w->timer, on_timer, w->soon_ms, w->repeat_ms);
}

static void on_signal_uv(uv_signal_t *h, int sig)
{
    watcher *w = h->data;
    stop_requested = sig;
    if (!w->x->quiet)
        pdx_cli_note("signal %d: stopping", sig);
    uv_stop(w->x->loop);
}

static void close_cb(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Runs until SIGINT or SIGTERM.  Returns an exit code. */
static int watch_run(indexer *x)
{
    watcher w;
    uv_loop_t loop;
    memset(&w, 0, sizeof(w));
    w.x = x;
    if (uv_loop_init(&loop) != 0) {
        pdx_cli_error("cannot start the event loop");
        return PDX_EXIT_INPUT;
    }
    x->loop = &loop;
    x->sync_each = 1; /* "indexed FILE" is said once it is committed */
    uv_timer_init(&loop, &w.timer);
    w.timer.data = &w;
    w.soon_ms = 200;
    w.repeat_ms = 1000;
    uv_fs_event_init(&loop, &w.event);
    w.event.data = &w;
    uv_signal_init(&loop, &w.sigint);
    uv_signal_init(&loop, &w.sigterm);
    w.sigint.data = w.sigterm.data = &w;
    if (uv_fs_event_start(&w.event, on_fs_event, x->watch_dir, UV_FS_EVENT_RECURSIVE) != 0 &&
        !x->quiet)
        pdx_cli_note("%s: no change notifications; looking every second", x->watch_dir);
    uv_signal_start(&w.sigint, on_signal_uv, SIGINT);
    uv_signal_start(&w.sigterm, on_signal_uv, SIGTERM);
    uv_timer_start(&w.timer, on_timer, 0, 1000);
    if (!x->quiet)
        pdx_cli_note("watching %s (a capture is indexed once a newer one appears or it has not "
                     "changed for %.0f s)", x->watch_dir, (double)x->settle_ns / 1e9);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_walk(&loop, close_cb, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    x->loop = NULL;
    for (size_t i = 0; i < w.n; i++)
        free(w.files[i].path);
    free(w.files);
    free(w.slot);
    return w.status;
}

int pdx_cmd_index(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"exclude", required_argument, NULL, 'x'},
        {"filter", required_argument, NULL, 'f'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"close-timeout", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"jobs", required_argument, NULL, 'J'},
        {"cache", required_argument, NULL, 'C'},
        {"watch", required_argument, NULL, 'w'},
        {"settle", required_argument, NULL, 'S'},
        {"ring", no_argument, NULL, 'R'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    indexer x;
    const char *db_opt = NULL;
    char err[PDX_ERRBUF_SIZE];
    int c, status = PDX_EXIT_OK;

    memset(&x, 0, sizeof(x));
    pdx_flow_cfg_default(&x.cfg);
    optind = 1;
    while ((c = pdx_cli_getopt(argc, argv, "qh", opts)) != -1) {
        switch (c) {
        case 'd': db_opt = optarg; break;
        case 'x':
            if (x.n_ex == MAX_EXCLUDES) {
                pdx_cli_error("at most %d --exclude networks", MAX_EXCLUDES);
                return PDX_EXIT_USAGE;
            }
            if (pdx_addr_parse_cidr(optarg, x.ex_lo[x.n_ex], x.ex_hi[x.n_ex]) != 0) {
                pdx_cli_error("--exclude: '%s' is not a network (CIDR)", optarg);
                return PDX_EXIT_USAGE;
            }
            x.n_ex++;
            break;
        case 'f': x.filter = optarg; break;
        case 'i':
            if (pdx_cli_parse_seconds(optarg, &x.cfg.idle_timeout_ns) < 0) {
                pdx_cli_error("--idle-timeout: '%s' is not a number of seconds", optarg);
                return PDX_EXIT_USAGE;
            }
            if (x.cfg.idle_timeout_ns == 0) {
                pdx_cli_error("--idle-timeout: '%s': every packet would start a flow of its own; "
                              "give more than 0 seconds", optarg);
                return PDX_EXIT_USAGE;
            }
            break;
        case 'c':
            if (pdx_cli_parse_seconds(optarg, &x.cfg.closing_timeout_ns) < 0) {
                pdx_cli_error("--close-timeout: '%s' is not a number of seconds", optarg);
                return PDX_EXIT_USAGE;
            }
            break;
        case 'j': x.json = 1; break;
        case 'w': x.watch_dir = optarg; break;
        case 'R': x.ring = 1; break;
        case 'S':
            if (pdx_cli_parse_seconds(optarg, &x.settle_ns) < 0) {
                pdx_cli_error("--settle: '%s' is not a number of seconds", optarg);
                return PDX_EXIT_USAGE;
            }
            break;
        case 'J': {
            char *end;
            x.jobs = strtol(optarg, &end, 10);
            if (*end != '\0' || x.jobs < 1 || x.jobs > 256) {
                pdx_cli_error("--jobs: '%s' is not a number from 1 to 256", optarg);
                return PDX_EXIT_USAGE;
            }
            break;
        }
        case 'C':
            if (pdx_cli_parse_size(optarg, 1u << 20, (uint64_t)1 << 40, &x.cache) < 0) {
                pdx_cli_error("--cache: '%s' is not a size from 1M to 1024G", optarg);
                return PDX_EXIT_USAGE;
            }
            break;
        case 'q': x.quiet = 1; break;
        case 'h': usage(stdout); return pdx_cli_close_stdout();
        default: pdx_cli_bad_option(argv, "qh", opts); usage(stderr); return PDX_EXIT_USAGE;
        }
    }
    if (x.watch_dir == NULL)
        x.pending_ns = x.settle_ns;
    if (x.settle_ns == 0)
        x.settle_ns = 10LL * 1000000000LL;
    if (x.watch_dir != NULL) {
        struct stat st;
        if (optind < argc) {
            pdx_cli_error("--watch takes a directory and no other capture");
            return PDX_EXIT_USAGE;
        }
        if (stat(x.watch_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            pdx_cli_error("--watch: %s is not a directory", x.watch_dir);
            return PDX_EXIT_USAGE;
        }
    } else if (optind >= argc) {
        pdx_cli_error("no capture given");
        usage(stderr);
        return PDX_EXIT_USAGE;
    }
    /* Community IDs need libcrypto, --filter libpcap: both are loaded on
     * first use (dynlib.h), so a missing one is said here, once. */
    const pdx_pcap_fns *pc = NULL;
    if (pdx_crypto_fns_get(err) == NULL || (x.filter != NULL && (pc = pdx_pcap_fns_get(err)) == NULL)) {
        pdx_cli_error("%s", err);
        return PDX_EXIT_USAGE;
    }
    if (x.filter != NULL) {
        /* Catch syntax errors before touching anything. */
        pcap_t *p = pc->open_dead(DLT_EN10MB, PDX_MAX_CAPLEN);
        struct bpf_program prog;
        if (p == NULL || pc->compile(p, &prog, x.filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            pdx_cli_error("--filter: %s", p ? pc->geterr(p) : "cannot compile");
            if (p)
                pc->close(p);
            return PDX_EXIT_USAGE;
        }
        pc->freecode(&prog);
        pc->close(p);
    }
    x.db_path = pdx_cli_db_path(db_opt);
    for (int i = optind; i < argc; i++)
        if (expand_arg(&x, argv[i]) < 0)
            status = PDX_EXIT_INPUT;

    if (pdx_index_open(&x.ix, x.db_path, PDX_INDEX_WRITE, err) < 0 ||
        (x.cache != 0 && pdx_index_set_cache(x.ix, x.cache, err) < 0)) {
        pdx_cli_error("%s", err);
        status = PDX_EXIT_DB;
        goto out;
    }
    int64_t max_id = 0;
    if (pdx_index_open(&x.rix, x.db_path, PDX_INDEX_READ, err) < 0) {
        pdx_cli_error("%s", err);
        status = PDX_EXIT_DB;
        goto out;
    }
    if (pdx_index_max_capture_id(x.ix, &x.next_cap_id, err) < 0 ||
        pdx_index_max_flow_id(x.ix, &max_id, err) < 0) {
        pdx_cli_error("%s: %s", x.db_path, err);
        status = PDX_EXIT_DB;
        goto out;
    }
    x.next_cap_id++; /* captures get IDs up front, so the writer thread can insert them */
    if (x.jobs == 0)
        x.jobs = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    if (x.jobs > 1 && pdx_dbq_start(&x.q, x.ix, err) < 0) {
        pdx_cli_error("%s", err);
        status = PDX_EXIT_DB;
        goto out;
    }
    pdx_flow_ops ops = flow_ops(&x);
    x.ft = pdx_flowtab_create(&x.cfg, &ops, max_id + 1);
    x.ru = pdx_rollup_new();
    if (x.ft == NULL || x.ru == NULL) {
        pdx_cli_error("out of memory");
        status = PDX_EXIT_DB;
        goto out;
    }
    if (pdx_index_load_live(x.ix, adopt_cb, x.ft, err) < 0) {
        pdx_cli_error("%s: %s", x.db_path, err);
        status = PDX_EXIT_DB;
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    x.popts.ex_lo = (const uint8_t(*)[16])x.ex_lo;
    x.popts.ex_hi = (const uint8_t(*)[16])x.ex_hi;
    x.popts.n_ex = x.n_ex;
    x.popts.filter = x.filter;
    x.progress = !x.quiet && isatty(STDERR_FILENO);
    x.t0 = now_s();
    if (x.watch_dir != NULL) {
        x.progress = 0;
        status = watch_run(&x);
        if (status == PDX_EXIT_INTERRUPTED || stop_requested)
            status = PDX_EXIT_OK; /* a stop on request ends watching cleanly */
        summary(&x, now_s() - x.t0);
        goto out;
    }
    peek_times(&x);
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        pdx_cli_error("cannot start the event loop");
        status = PDX_EXIT_DB;
        goto out;
    }
    x.loop = &loop;
    if (x.progress) {
        uv_timer_init(&loop, &x.progress_timer);
        x.progress_timer.data = &x;
        uv_timer_start(&x.progress_timer, on_progress, 500, 500);
    }
    for (size_t i = 0; i < x.n_in; i++) {
        int r = index_one(&x, &x.in[i]);
        uv_run(x.loop, UV_RUN_NOWAIT); /* frees finished parse jobs */
        if (r == CAP_FATAL) {
            status = PDX_EXIT_DB;
            break;
        }
        if (r == CAP_STOP || stop_requested) {
            if (x.progress)
                fputs("\r\033[K", stderr);
            if (r == CAP_STOP)
                pdx_cli_note("interrupted: %s was not indexed; captures before it are committed",
                             x.in[i].path);
            else
                pdx_cli_note("interrupted: captures up to %s are committed", x.in[i].path);
            status = PDX_EXIT_INTERRUPTED;
            break;
        }
    }
    x.cur_path = NULL;
    if (x.progress)
        uv_close((uv_handle_t *)&x.progress_timer, NULL);
    uv_run(x.loop, UV_RUN_DEFAULT);
    uv_loop_close(x.loop);
    x.loop = NULL;
    if (x.progress)
        fputs("\r\033[K", stderr);
    if (status != PDX_EXIT_DB && settle(&x, err) < 0) {
        /* A commit queued for the writer thread failed. */
        pdx_cli_error("%s: %s", x.db_path, err);
        status = PDX_EXIT_DB;
    }
    /* Fresh statistics (sampled, so cheap) let SQLite pick the right index
     * for address, port and 5-tuple queries. */
    if (x.captures_done > 0 && status != PDX_EXIT_DB)
        sqlite3_exec(pdx_index_db(x.ix), "PRAGMA analysis_limit=400; ANALYZE;", NULL, NULL, NULL);
    summary(&x, now_s() - x.t0);
    if (status == PDX_EXIT_OK) {
        if (x.captures_failed)
            status = PDX_EXIT_INPUT;
        else if (x.warnings)
            status = PDX_EXIT_WARN;
    }
out:
    pdx_dbq_stop(x.q);
    pdx_flowtab_free(x.ft);
    pdx_rollup_free(x.ru);
    /* The read-only connection first: the writer's close, the last, copies
     * the WAL into the database and removes it. */
    pdx_index_close(x.rix);
    pdx_index_close(x.ix);
    for (size_t i = 0; i < x.n_qd; i++)
        free(x.qd[i].path);
    free(x.qd);
    for (size_t i = 0; i < x.n_in; i++)
        free(x.in[i].path);
    free(x.in);
    free(x.warn_json);
    if (x.json) {
        int r = pdx_cli_close_stdout();
        if (status == PDX_EXIT_OK)
            status = r;
    }
    return status;
}
