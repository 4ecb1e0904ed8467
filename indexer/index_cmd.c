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
#include "flow.h"
#include "index.h"
#include "zsource.h"

#include <uv.h>

#define MAX_EXCLUDES 64
#define MAX_WARN_TEXT 4096

typedef struct input {
    char *path;        /* absolute */
    int explicit_arg;  /* named on the command line (not found in a directory) */
    int64_t first_ns;  /* first record's time, for ordering */
} input;

typedef struct bpf_entry {
    uint32_t linktype;
    int ok;
    struct bpf_program prog;
} bpf_entry;

typedef struct indexer {
    const char *db_path;
    pdx_index *ix;
    pdx_dbq *q;      /* the writer thread, with --jobs 2 or more */
    long jobs;
    pdx_flowtab *ft;
    pdx_flow_cfg cfg;
    /* inputs */
    input *in;
    size_t n_in, cap_in;
    /* options */
    uint8_t ex_lo[MAX_EXCLUDES][16], ex_hi[MAX_EXCLUDES][16];
    size_t n_ex;
    const char *filter;
    bpf_entry *bpf;
    size_t n_bpf;
    int json, quiet, progress;
    const char *watch_dir;  /* --watch */
    int64_t settle_ns;
    uv_loop_t *loop;
    /* totals */
    uint64_t captures_done, captures_skipped, captures_failed, captures_changed, captures_damaged;
    uint64_t packets, bytes, file_bytes, filtered, warnings, not_captures;
    char *warn_json;
    size_t warn_json_len, warn_json_cap;
    double t0, last_progress;
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
            "are skipped, so a run can be repeated.\n"
            "\n"
            "  --db FILE             index database (default $PCAPDEX_DB or pcapdex.db)\n"
            "  --exclude CIDR        drop packets to or from this network (repeatable)\n"
            "  --filter EXPR         index only packets matching this BPF expression\n"
            "  --idle-timeout SECS   end a flow idle this long (default 120)\n"
            "  --close-timeout SECS  keep a closed TCP flow this long for stray packets (default 10)\n"
            "  --watch DIR           keep indexing new captures in DIR until SIGINT/SIGTERM: a\n"
            "                        capture is taken once a newer file appears or it has not\n"
            "                        changed for --settle seconds (default 10)\n"
            "  --jobs N              threads (default: the number of cores); with 2 or more,\n"
            "                        database writing runs beside decoding\n"
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

/* ---- filters --------------------------------------------------------------- */

static int linktype_to_dlt(uint32_t lt)
{
    if (lt == 101)
        return DLT_RAW;
    return (int)lt;
}

/* 1 keep, 0 drop. */
static int bpf_keep(indexer *x, const pdx_record *rec)
{
    bpf_entry *e = NULL;
    for (size_t i = 0; i < x->n_bpf; i++)
        if (x->bpf[i].linktype == rec->linktype)
            e = &x->bpf[i];
    if (e == NULL) {
        bpf_entry *n = realloc(x->bpf, (x->n_bpf + 1) * sizeof(*n));
        if (n == NULL)
            return 1;
        x->bpf = n;
        e = &x->bpf[x->n_bpf++];
        memset(e, 0, sizeof(*e));
        e->linktype = rec->linktype;
        pcap_t *p = pcap_open_dead(linktype_to_dlt(rec->linktype), PDX_MAX_CAPLEN);
        if (p != NULL) {
            e->ok = pcap_compile(p, &e->prog, x->filter, 1, PCAP_NETMASK_UNKNOWN) == 0;
            if (!e->ok)
                warn(x, "filter '%s' does not compile for link type %u: %s; such packets are dropped",
                     x->filter, rec->linktype, pcap_geterr(p));
            pcap_close(p);
        }
    }
    if (!e->ok)
        return 0;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof(h));
    h.caplen = rec->caplen;
    h.len = rec->origlen;
    return pcap_offline_filter(&e->prog, &h, rec->data) != 0;
}

static int in_range(const uint8_t *a, const uint8_t *lo, const uint8_t *hi)
{
    return memcmp(a, lo, 16) >= 0 && memcmp(a, hi, 16) <= 0;
}

static int excluded(const indexer *x, const pdx_pkt *p)
{
    if (p->kind == PDX_KIND_L2)
        return 0;
    for (size_t i = 0; i < x->n_ex; i++)
        if (in_range(p->src, x->ex_lo[i], x->ex_hi[i]) || in_range(p->dst, x->ex_lo[i], x->ex_hi[i]))
            return 1;
    return 0;
}

/* ---- progress ---------------------------------------------------------------- */

static void show_progress(indexer *x, const char *path, uint64_t done, uint64_t size)
{
    double t = now_s();
    if (t - x->last_progress < 0.5)
        return;
    x->last_progress = t;
    double el = t - x->t0;
    double gbps = el > 0 ? (double)(x->file_bytes + done) / el / 1e9 : 0;
    const char *base = strrchr(path, '/');
    fprintf(stderr, "\r\033[K%s: %s %3.0f%%  %llu packets  %.2f GB/s", pdx_cli_prog,
            base ? base + 1 : path, size ? 100.0 * (double)done / (double)size : 100.0,
            (unsigned long long)(x->packets), gbps);
}

/* ---- one capture ------------------------------------------------------------- */

static int adopt_cb(void *ctx, const pdx_flow *f)
{
    return pdx_flowtab_adopt(ctx, f);
}

/* The message of a failed flow-table op (the writer thread's, if any). */
static const char *op_error(indexer *x, char *buf)
{
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return pdx_errf(errbuf, PDX_EIO, "%s", strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pdx_errf(errbuf, PDX_EIO, "not a regular file");
    }
    *size = (uint64_t)st.st_size;
    *mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    int rc = fp ? pdx_fingerprint_fd(fd, *size, fp, errbuf) : PDX_OK;
    close(fd);
    return rc;
}

enum { CAP_OK = 0, CAP_SKIP = 1, CAP_FAILED = 2, CAP_FATAL = 3, CAP_STOP = 4 };

/* Makes the flow table again from the index (after a rollback).  0 or < 0
 * with the error printed. */
static int reload_flows(indexer *x)
{
    char err[PDX_ERRBUF_SIZE];
    int64_t max_id = 0;
    pdx_flow_ops ops = x->q != NULL ? pdx_dbq_ops(x->q)
                                    : (pdx_flow_ops){x->ix, pdx_index_put_segment, pdx_index_put_flow};
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

static int index_one(indexer *x, input *in)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_caprow row;
    pdx_capknown known;
    pdx_capture *cap = NULL;
    int rc;

    memset(&row, 0, sizeof(row));
    row.path = in->path;
    if (file_identity(in->path, &row.size, &row.mtime_ns, NULL, err) < 0) {
        if (in->explicit_arg)
            pdx_cli_error("%s: %s", in->path, err);
        x->captures_failed += in->explicit_arg;
        return CAP_FAILED;
    }
    rc = pdx_index_capture_by_path(x->ix, in->path, &known, err);
    if (rc < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        return CAP_FATAL;
    }
    if (rc == 1 && known.size == row.size && known.mtime_ns == row.mtime_ns) {
        x->captures_skipped++;
        return CAP_SKIP;
    }
    if (file_identity(in->path, &row.size, &row.mtime_ns, row.fingerprint, err) < 0) {
        pdx_cli_error("%s: %s", in->path, err);
        x->captures_failed++;
        return CAP_FAILED;
    }
    if (rc == 1) {
        if (strcmp(known.fingerprint, row.fingerprint) == 0) {
            x->captures_skipped++;
            return CAP_SKIP;
        }
        warn(x, "%s: changed since it was indexed (size or content differ); not indexed again",
             in->path);
        x->captures_changed++;
        return CAP_SKIP;
    }
    rc = pdx_index_capture_by_fingerprint(x->ix, row.fingerprint, row.size, &known, err);
    if (rc < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        return CAP_FATAL;
    }
    if (rc == 1) {
        if (!x->quiet)
            pdx_cli_note("%s: same content as indexed capture %s; skipped", in->path, known.path);
        x->captures_skipped++;
        return CAP_SKIP;
    }

    pdx_zsrc *zs = NULL;
    rc = pdx_capture_open_any(in->path, &cap, &zs, &row.compression, err);
    if (rc < 0) {
        if (in->explicit_arg) {
            pdx_cli_error("%s: %s", in->path, err);
            x->captures_failed++;
        } else {
            x->not_captures++;
        }
        return CAP_FAILED;
    }

    if (pdx_index_begin(x->ix, err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        pdx_capture_close(cap);
        pdx_zsrc_close(zs);
        return CAP_FATAL;
    }
    row.info = pdx_capture_info(cap);
    row.first_ns = row.last_ns = INT64_MIN;
    row.status = "indexing";
    row.warnings = "";
    if (pdx_index_capture_insert(x->ix, &row, err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        goto fatal;
    }

    pdx_record rec;
    pdx_pkt pkt;
    int damaged = 0;
    char warntext[MAX_WARN_TEXT] = "";
    uint64_t since_check = 0;
    for (;;) {
        rc = pdx_capture_next(cap, &rec, err);
        if (rc == 0)
            break;
        if (rc < 0) {
            damaged = 1;
            if (zs != NULL && pdx_zsrc_error(zs)[0]) {
                size_t l = strlen(err);
                snprintf(err + l, sizeof(err) - l, " (%s)", pdx_zsrc_error(zs));
            }
            warn(x, "%s: %s; indexed up to the damage", in->path, err);
            snprintf(warntext, sizeof(warntext), "%s", err);
            break;
        }
        row.packets++;
        row.bytes += rec.origlen;
        row.cap_bytes += rec.caplen;
        if (row.first_ns == INT64_MIN || rec.ts_ns < row.first_ns)
            row.first_ns = rec.ts_ns;
        if (row.last_ns == INT64_MIN || rec.ts_ns > row.last_ns)
            row.last_ns = rec.ts_ns;
        pdx_decode(rec.data, rec.caplen, rec.linktype, &pkt);
        if (pkt.flags & PDX_PKT_TRUNCATED)
            row.truncated++;
        if (pkt.flags & PDX_PKT_INVALID)
            row.invalid++;
        if ((x->n_ex && excluded(x, &pkt)) || (x->filter && !bpf_keep(x, &rec))) {
            x->filtered++;
            continue;
        }
        rc = pdx_flowtab_packet(x->ft, &pkt, rec.linktype, row.id, rec.offset, rec.ts_ns, rec.origlen);
        if (rc < 0) {
            pdx_cli_error("%s: %s", x->db_path, op_error(x, err));
            goto fatal;
        }
        if (++since_check >= 65536) {
            since_check = 0;
            if (stop_requested)
                goto interrupted;
            if (x->progress)
                show_progress(x, in->path, zs ? pdx_zsrc_consumed(zs) : pdx_capture_tell(cap),
                              row.size);
        }
    }
    if (stop_requested)
        goto interrupted;
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
    const pdx_capstats *cs = pdx_capture_stats(cap);
    if (cs->bad_iface)
        warn(x, "%s: %llu packets name an interface the capture does not describe", in->path,
             (unsigned long long)cs->bad_iface);
    rc = pdx_flowtab_end_capture(x->ft, row.id);
    if (rc < 0 || settle(x, err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, rc < 0 ? op_error(x, err) : err);
        goto fatal;
    }
    row.raw_size = pdx_capture_tell(cap);
    row.status = damaged ? "damaged" : "complete";
    row.warnings = warntext;
    row.info = pdx_capture_info(cap);
    if (pdx_index_capture_finish(x->ix, &row, err) < 0 || pdx_index_commit(x->ix, err) < 0) {
        pdx_cli_error("%s: %s", x->db_path, err);
        goto fatal;
    }
    x->captures_done++;
    x->captures_damaged += damaged;
    x->packets += row.packets;
    x->bytes += row.bytes;
    x->file_bytes += row.size;
    if (zs != NULL && !x->quiet && !x->json)
        pdx_cli_note("%s: %s-compressed; carving from it %s", in->path,
                     pdx_comp_name(row.compression),
                     row.compression == PDX_COMP_GZIP
                         ? "must decompress from the start: 'pcapdex compress' makes it fast"
                         : "is fast only in zstd's seekable format ('pcapdex compress' writes it)");
    pdx_capture_close(cap);
    pdx_zsrc_close(zs);
    return CAP_OK;

changed:
    /* The flow table took in packets that the rollback drops: take it up
     * again from the index. */
    settle(x, err);
    pdx_index_rollback(x->ix);
    pdx_capture_close(cap);
    pdx_zsrc_close(zs);
    return reload_flows(x) < 0 ? CAP_FATAL : CAP_SKIP;

interrupted:
    settle(x, err);
    pdx_index_rollback(x->ix);
    pdx_capture_close(cap);
    pdx_zsrc_close(zs);
    return CAP_STOP;
fatal:
    settle(x, err);
    pdx_index_rollback(x->ix);
    pdx_capture_close(cap);
    pdx_zsrc_close(zs);
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

static void summary(indexer *x, double secs)
{
    uint64_t flows = pdx_flowtab_created(x->ft);
    double gbps = secs > 0 ? (double)x->file_bytes / secs / 1e9 : 0;
    if (x->json) {
        printf("{\"db\":\"%s\",\"captures_indexed\":%llu,\"captures_skipped\":%llu,"
               "\"captures_failed\":%llu,\"captures_changed\":%llu,\"captures_damaged\":%llu,"
               "\"not_captures\":%llu,\"packets\":%llu,\"packets_filtered\":%llu,"
               "\"flows_created\":%llu,\"bytes\":%llu,\"file_bytes\":%llu,\"seconds\":%.3f,"
               "\"gb_per_s\":%.3f,\"warnings\":[%s]}\n",
               x->db_path, (unsigned long long)x->captures_done,
               (unsigned long long)x->captures_skipped, (unsigned long long)x->captures_failed,
               (unsigned long long)x->captures_changed, (unsigned long long)x->captures_damaged,
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
    if (x->not_captures)
        pdx_cli_note("%llu files in the directories given are not captures; skipped",
                     (unsigned long long)x->not_captures);
}

/* ---- watch mode --------------------------------------------------------------- */

/* What the watcher knows of a file in the directory. */
typedef struct seen {
    char *path;
    uint64_t size;
    int64_t mtime_ns;
    double stable_since; /* when size and mtime last changed */
    int done;            /* indexed, skipped, or not a capture at this size */
} seen;

typedef struct watcher {
    indexer *x;
    seen *files;
    size_t n, cap;
    uv_timer_t timer;
    uv_fs_event_t event;
    uv_signal_t sigint, sigterm;
    int status;
} watcher;

static seen *seen_get(watcher *w, const char *path)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->files[i].path, path) == 0)
            return &w->files[i];
    if (pdx_grow(&w->files, &w->cap, w->n + 1, sizeof(*w->files)) < 0)
        return NULL;
    seen *s = &w->files[w->n];
    memset(s, 0, sizeof(*s));
    s->path = strdup(path);
    if (s->path == NULL)
        return NULL;
    w->n++;
    return s;
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
    walk_watcher = w;
    if (nftw(x->watch_dir, watch_walk_cb, 32, FTW_PHYS) != 0) {
        pdx_cli_error("%s: cannot read directory: %s", x->watch_dir, strerror(errno));
        w->status = PDX_EXIT_INPUT;
        uv_stop(x->loop);
        return;
    }
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
    /* Look again soon: a rename or close is often the writer moving on. */
    uv_timer_start(&w->timer, on_timer, 200, 500);
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
    uv_timer_init(&loop, &w.timer);
    w.timer.data = &w;
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
        {"watch", required_argument, NULL, 'w'},
        {"settle", required_argument, NULL, 'S'},
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
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
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
            break;
        case 'c':
            if (pdx_cli_parse_seconds(optarg, &x.cfg.closing_timeout_ns) < 0) {
                pdx_cli_error("--close-timeout: '%s' is not a number of seconds", optarg);
                return PDX_EXIT_USAGE;
            }
            break;
        case 'j': x.json = 1; break;
        case 'w': x.watch_dir = optarg; break;
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
        case 'q': x.quiet = 1; break;
        case 'h': usage(stdout); return pdx_cli_close_stdout();
        default: usage(stderr); return PDX_EXIT_USAGE;
        }
    }
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
    if (x.filter != NULL) {
        /* Catch syntax errors before touching anything. */
        pcap_t *p = pcap_open_dead(DLT_EN10MB, PDX_MAX_CAPLEN);
        struct bpf_program prog;
        if (p == NULL || pcap_compile(p, &prog, x.filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            pdx_cli_error("--filter: %s", p ? pcap_geterr(p) : "cannot compile");
            if (p)
                pcap_close(p);
            return PDX_EXIT_USAGE;
        }
        pcap_freecode(&prog);
        pcap_close(p);
    }
    x.db_path = pdx_cli_db_path(db_opt);
    for (int i = optind; i < argc; i++)
        if (expand_arg(&x, argv[i]) < 0)
            status = PDX_EXIT_INPUT;

    if (pdx_index_open(&x.ix, x.db_path, PDX_INDEX_WRITE, err) < 0) {
        pdx_cli_error("%s", err);
        status = PDX_EXIT_DB;
        goto out;
    }
    int64_t max_id = 0;
    if (pdx_index_max_flow_id(x.ix, &max_id, err) < 0) {
        pdx_cli_error("%s: %s", x.db_path, err);
        status = PDX_EXIT_DB;
        goto out;
    }
    if (x.jobs == 0)
        x.jobs = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    pdx_flow_ops ops = {x.ix, pdx_index_put_segment, pdx_index_put_flow};
    if (x.jobs > 1) {
        if (pdx_dbq_start(&x.q, x.ix, err) < 0) {
            pdx_cli_error("%s", err);
            status = PDX_EXIT_DB;
            goto out;
        }
        ops = pdx_dbq_ops(x.q);
    }
    x.ft = pdx_flowtab_create(&x.cfg, &ops, max_id + 1);
    if (x.ft == NULL) {
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
    for (size_t i = 0; i < x.n_in; i++) {
        int r = index_one(&x, &x.in[i]);
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
    if (x.progress)
        fputs("\r\033[K", stderr);
    /* Fresh statistics (sampled, so cheap) let SQLite pick the right index
     * for address, port and 5-tuple queries. */
    if (x.captures_done > 0 && status != PDX_EXIT_DB && settle(&x, err) == 0)
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
    pdx_index_close(x.ix);
    for (size_t i = 0; i < x.n_in; i++)
        free(x.in[i].path);
    free(x.in);
    for (size_t i = 0; i < x.n_bpf; i++)
        if (x.bpf[i].ok)
            pcap_freecode(&x.bpf[i].prog);
    free(x.bpf);
    free(x.warn_json);
    if (x.json) {
        int r = pdx_cli_close_stdout();
        if (status == PDX_EXIT_OK)
            status = r;
    }
    return status;
}
