/*
 * query_cmd.c - "pcapdex query": selects flows with a filter expression
 * (lib/qparse) and a time window (lib/select) and prints them as a table,
 * CSV or JSON lines; or prints their count, a top-N list or a time series
 * (lib/summary), all from the index alone.  docs/query.md describes it.
 *
 * Everything runs in one read transaction, so the output is one consistent
 * snapshot even while an ingest commits.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../cli/cli.h"
#include "addr.h"
#include "index.h"
#include "select.h"
#include "summary.h"
#include "timeparse.h"

enum { FMT_TABLE, FMT_CSV, FMT_JSON };
enum { MODE_LIST, MODE_COUNT, MODE_TOP, MODE_SERIES };

/* Default row limit of the table; CSV and JSON print everything. */
#define TABLE_DEFAULT_LIMIT 1000
/* Rows the table reads before it fixes its column widths. */
#define TABLE_BATCH 1000
#define TOP_DEFAULT_LIMIT 10
/* A time series prints its empty bins too; this bounds its length. */
#define SERIES_MAX_BINS 1000000

typedef struct options {
    const char *db_opt;
    char *expr;
    const char *since_arg, *until_arg;
    int64_t since_ns, until_ns;
    int format, format_set;
    const char *sort_arg;
    const char *sort_sql; /* ORDER BY terms, "first_ns" by default */
    int sort_desc;
    uint64_t limit;
    int limit_set;
    int mode;
    int explain;
    int top_kind, by, by_set;
    int64_t interval_ns;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pcapdex query [--db FILE] [EXPR] [OPTIONS]\n"
            "\n"
            "Finds flows matching a tcpdump-like filter (docs/query.md) that were active\n"
            "in the time window, from the index alone.  EXPR may span several words.\n"
            "\n"
            "  --db FILE           index database (default $PCAPDEX_DB or pcapdex.db)\n"
            "  --since T           flows active at or after T (RFC 3339, epoch seconds, '2h ago')\n"
            "  --until T           flows active at or before T; times without a zone are UTC\n"
            "  --format F          table (default), csv or json (one object per line)\n"
            "  --sort FIELD        first (default), id, last, packets, bytes, duration, src,\n"
            "                      dst, sport or dport; -FIELD sorts descending\n"
            "  --limit N           at most N rows (0 = all; default 1000 for the table,\n"
            "                      all for csv and json, 10 for --top)\n"
            "  --count             print only the number of matching flows\n"
            "  --top KEY           top talkers: src, dst, host, port, pair or proto\n"
            "  --by WHAT           rank --top by flows (default), packets or bytes\n"
            "  --timeseries D      flows, packets and bytes per interval D (e.g. 1m, 1h),\n"
            "                      each flow counted in the bin of its first packet\n"
            "  --explain           print the SQL and SQLite's query plan instead of results\n"
            "  -h, --help          this help\n"
            "\n"
            "Times are printed in UTC.  Exit: 0 found, 1 nothing matched, 2 usage or\n"
            "filter error, 3 database error, 7 output error.\n");
}

/* ---- small formatters -------------------------------------------------------- */

/* IP protocol names as the filter's `proto` accepts them, so output can be
 * pasted back into a filter; non-IP flows as "eth:0xHHHH" like flows_view. */
static const char *proto_name(int is_null, int proto, int ethertype, char *buf, size_t len)
{
    if (is_null) {
        snprintf(buf, len, "eth:0x%04x", (unsigned)ethertype & 0xffffu);
        return buf;
    }
    switch (proto) {
    case 1: return "icmp";
    case 2: return "igmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 58: return "icmp6";
    case 132: return "sctp";
    default: snprintf(buf, len, "%d", proto); return buf;
    }
}

/* Formats a 16-byte address column; returns NULL for NULL or a bad length. */
static const char *addr_text(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    const void *p = sqlite3_column_blob(st, col);
    if (p == NULL || sqlite3_column_bytes(st, col) != 16)
        return NULL;
    return pdx_addr_format(p, buf, len);
}

/* Length of the valid UTF-8 sequence at s (up to end), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* ---- output buffer ---------------------------------------------------------- */

/* Rows are built in a buffer and written with one fwrite: printf and putc
 * per field cost more than the query for a list of 1000 flows. */
typedef pdx_strbuf strbuf;

static void sb_put(strbuf *b, const char *s)
{
    pdx_sb_putn(b, s, strlen(s));
}

static void sb_putc(strbuf *b, char c)
{
    pdx_sb_putn(b, &c, 1);
}

static void sb_i64(strbuf *b, int64_t v)
{
    char t[24];
    size_t i = sizeof(t);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        t[--i] = '-';
    pdx_sb_putn(b, t + i, sizeof(t) - i);
}

/* Writes what b holds to f and empties it.  PDX_ENOMEM when b ran out. */
static int sb_flush(strbuf *b, FILE *f)
{
    if (b->oom)
        return PDX_ENOMEM;
    if (b->len > 0)
        fwrite(b->p, 1, b->len, f);
    b->len = 0;
    return PDX_OK;
}

/* A JSON string; bytes that are not UTF-8 (a path can hold any) become U+FFFD. */
static void json_str(strbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    sb_putc(b, '"');
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        pdx_sb_putn(b, (const char *)run, (size_t)(p - run));
        if (p == end)
            break;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            char u[8];
            snprintf(u, sizeof(u), "\\u%04x", c);
            sb_put(b, u);
            p++;
        } else {
            size_t n = utf8_len(p, end);
            if (n == 0) {
                sb_put(b, "\\ufffd");
                p++;
            } else {
                pdx_sb_putn(b, (const char *)p, n);
                p += n;
            }
        }
    }
    sb_putc(b, '"');
}

/* A CSV field, quoted as RFC 4180 says when it holds a comma, quote or line break. */
static void csv_str(strbuf *b, const char *s)
{
    if (s == NULL)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        sb_put(b, s);
        return;
    }
    sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            sb_putc(b, '"');
        sb_putc(b, *s);
    }
    sb_putc(b, '"');
}

/* One string to f, as JSON or as a CSV field. */
static void str_out(FILE *f, const char *s, int json)
{
    strbuf b = {NULL, 0, 0, 0};
    if (json)
        json_str(&b, s);
    else
        csv_str(&b, s);
    sb_flush(&b, f);
    free(b.p);
}

/* "1.234s": seconds with millisecond precision. */
static void fmt_duration(int64_t ns, char *buf, size_t len)
{
    if (ns < 0)
        ns = 0;
    snprintf(buf, len, "%" PRId64 ".%03" PRId64 "s", ns / 1000000000, ns % 1000000000 / 1000000);
}

/* RFC 3339 UTC cut to microseconds, for the table. */
static void fmt_time_us(int64_t ns, char *buf, size_t len)
{
    char t[PDX_TIME_STRLEN];
    if (pdx_time_format(ns, t, sizeof(t)) == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    /* "YYYY-MM-DDTHH:MM:SS.uuuuuunnnZ": keep 26 characters, then the Z. */
    snprintf(buf, len, "%.26sZ", t);
}

/* ---- expression errors -------------------------------------------------------- */

/* Prints the filter and a caret under byte err_pos.  The caret line copies
 * tabs and counts a UTF-8 sequence as one column. */
static void print_caret(const char *expr, size_t err_pos)
{
    size_t len = strlen(expr);
    if (err_pos > len)
        err_pos = len;
    fputs("  ", stderr);
    for (const char *p = expr; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, stderr);
    fputs("\n  ", stderr);
    for (size_t i = 0; i < err_pos; i++) {
        unsigned char c = (unsigned char)expr[i];
        if (c == '\t')
            fputc('\t', stderr);
        else if ((c & 0xc0) != 0x80)
            fputc(' ', stderr);
    }
    fputs("^\n", stderr);
}

/* ---- capture paths ------------------------------------------------------------ */

typedef struct capcache {
    int64_t *id;
    char **path;            /* NULL: replaced (index --ring), its packets are gone */
    size_t n;
    sqlite3_stmt *flow_caps; /* capture IDs of one flow */
} capcache;

static void capcache_free(capcache *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->path[i]);
    free(c->id);
    free(c->path);
    sqlite3_finalize(c->flow_caps);
    memset(c, 0, sizeof(c[0]));
}

#define FLOW_CAPS_SQL \
    "SELECT DISTINCT capture_id FROM packets WHERE flow_id = ?1 ORDER BY capture_id"

/* Loads every capture's path (there are few) and prepares the per-flow
 * lookup.  A capture overwritten in a ring (index --ring, schema 5) holds
 * none of its flows' packets any more: it is kept without a path. */
static int capcache_load(capcache *c, sqlite3 *db, char *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc;
    if (sqlite3_prepare_v2(db, "SELECT id, path, replaced_ns IS NOT NULL FROM captures ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT id, path, 0 FROM captures ORDER BY id", -1, &st, NULL) !=
            SQLITE_OK)
        return pdx_errf(err, PDX_EDB, "reading captures: %s", sqlite3_errmsg(db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 1);
        int gone = sqlite3_column_int(st, 2) != 0;
        if (c->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            int64_t *ni = realloc(c->id, nc * sizeof(*ni));
            if (ni != NULL)
                c->id = ni;
            char **np = realloc(c->path, nc * sizeof(*np));
            if (np != NULL)
                c->path = np;
            if (ni == NULL || np == NULL) {
                sqlite3_finalize(st);
                return pdx_errf(err, PDX_ENOMEM, "out of memory");
            }
            cap = nc;
        }
        c->id[c->n] = sqlite3_column_int64(st, 0);
        c->path[c->n] = gone ? NULL : strdup(p != NULL ? p : "");
        if (c->path[c->n] == NULL && !gone) {
            sqlite3_finalize(st);
            return pdx_errf(err, PDX_ENOMEM, "out of memory");
        }
        c->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return pdx_errf(err, PDX_EDB, "reading captures: %s", sqlite3_errmsg(db));
    if (sqlite3_prepare_v2(db, FLOW_CAPS_SQL, -1, &c->flow_caps, NULL) != SQLITE_OK)
        return pdx_errf(err, PDX_EDB, "preparing the capture lookup: %s", sqlite3_errmsg(db));
    return PDX_OK;
}

/* What capcache_path gives for a replaced capture. */
static const char replaced_capture[] = "";

/* The capture's path; replaced_capture for a replaced one; NULL when the
 * index has no such capture. */
static const char *capcache_path(const capcache *c, int64_t id)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->id[mid] == id)
            return c->path[mid] != NULL ? c->path[mid] : replaced_capture;
        if (c->id[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Calls emit(path) for each capture holding the flow's packets, in capture
 * ID order (not for replaced captures, whose paths hold other packets now).
 * A flow in one capture (first_capture = last_capture, the usual case)
 * needs no lookup at all. */
static int flow_captures(capcache *c, sqlite3 *db, int64_t flow, int64_t first_cap, int64_t last_cap,
                         void (*emit)(void *ctx, const char *path), void *ctx, char *err)
{
    if (first_cap == last_cap) {
        const char *p = capcache_path(c, first_cap);
        if (p == NULL)
            return pdx_errf(err, PDX_EDB, "flow %" PRId64 ": capture %" PRId64 " is not in the index",
                            flow, first_cap);
        if (p != replaced_capture)
            emit(ctx, p);
        return PDX_OK;
    }
    int rc;
    sqlite3_reset(c->flow_caps);
    if (sqlite3_bind_int64(c->flow_caps, 1, flow) != SQLITE_OK)
        return pdx_errf(err, PDX_EDB, "capture lookup: %s", sqlite3_errmsg(db));
    while ((rc = sqlite3_step(c->flow_caps)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(c->flow_caps, 0);
        const char *p = capcache_path(c, id);
        if (p == NULL) {
            sqlite3_reset(c->flow_caps);
            return pdx_errf(err, PDX_EDB, "flow %" PRId64 ": capture %" PRId64 " is not in the index",
                            flow, id);
        }
        if (p != replaced_capture)
            emit(ctx, p);
    }
    if (rc != SQLITE_DONE) {
        int r = pdx_errf(err, PDX_EDB, "capture lookup: %s", sqlite3_errmsg(db));
        sqlite3_reset(c->flow_caps);
        return r;
    }
    sqlite3_reset(c->flow_caps);
    return PDX_OK;
}

/* ---- flow list ------------------------------------------------------------------ */

enum {
    C_ID, C_PROTO, C_ETHERTYPE, C_SRC, C_SPORT, C_DST, C_DPORT, C_VLAN, C_FIRST, C_LAST,
    C_SPKTS, C_SBYTES, C_DPKTS, C_DBYTES, C_FLAGS, C_END, C_CID, C_FCAP, C_LCAP
};

#define LIST_COLS                                                                                  \
    "id, proto, ethertype, src_ip, src_port, dst_ip, dst_port, vlan, first_ns, last_ns, "          \
    "src_packets, src_bytes, dst_packets, dst_bytes, tcp_flags, end_reason, community_id, "        \
    "first_capture, last_capture"

/* The table's columns; numbers are right-aligned. */
#define TCOLS 11
static const char *const tcol_name[TCOLS] = {"id", "proto", "src", "sport", "dst", "dport",
                                             "first (UTC)", "duration", "packets", "bytes", "end"};
static const int tcol_right[TCOLS] = {1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0};
#define TCELL 48

typedef struct trow {
    char cell[TCOLS][TCELL];
} trow;

typedef struct lister {
    sqlite3 *db;
    capcache caps;
    strbuf out;   /* CSV and JSON rows not yet written */
    strbuf paths; /* CSV: the captures of one flow */
    /* table */
    trow *batch;
    size_t nbatch;
    int widths_fixed;
    size_t width[TCOLS];
} lister;

/* The fields of a listed flow, in the order of the CSV header and the JSON
 * keys; then "captures", a list (in CSV one field, the paths joined by ';'). */
enum { V_NULL, V_INT, V_STR };
typedef struct fval {
    int kind;
    int64_t i;
    const char *s;
} fval;
#define NFIELDS 20
static const char *const field_name[NFIELDS] = {
    "id", "proto", "src", "sport", "dst", "dport", "vlan", "first", "last", "first_ns", "last_ns",
    "packets", "bytes", "src_packets", "src_bytes", "dst_packets", "dst_bytes", "tcp_flags", "end",
    "community_id"};

/* Text values point into bufs, which must outlive v. */
typedef struct rowbufs {
    char proto[24], src[PDX_ADDR_STRLEN], dst[PDX_ADDR_STRLEN];
    char first[PDX_TIME_STRLEN], last[PDX_TIME_STRLEN];
} rowbufs;

static fval v_int(int64_t i)
{
    return (fval){V_INT, i, NULL};
}

static fval v_str(const char *s)
{
    return (fval){s ? V_STR : V_NULL, 0, s};
}

static fval v_col_int(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? (fval){V_NULL, 0, NULL}
                                                       : v_int(sqlite3_column_int64(st, col));
}

/* An address column is NULL (a flow that is not IP) or 16 bytes. */
static int check_addr(sqlite3_stmt *st, int col, const char *name, char *err)
{
    int type = sqlite3_column_type(st, col);
    if (type == SQLITE_NULL || (type == SQLITE_BLOB && sqlite3_column_bytes(st, col) == 16))
        return PDX_OK;
    return pdx_errf(err, PDX_EDB, "flow %lld: %s is not a 16-byte address (%s of %d bytes): the "
                    "index is corrupt", (long long)sqlite3_column_int64(st, C_ID), name,
                    type == SQLITE_BLOB ? "a blob" : "a value", sqlite3_column_bytes(st, col));
}

/* A flow's packets and bytes, both directions summed.  Whatever the
 * counters hold is printed, but a sum past int64 only a damaged index can
 * hold: PDX_EDB; so is an address that is not 16 bytes (carve refuses it
 * too). */
static int flow_totals(sqlite3_stmt *st, int64_t *packets, int64_t *bytes, char *err)
{
    if (__builtin_add_overflow(sqlite3_column_int64(st, C_SPKTS), sqlite3_column_int64(st, C_DPKTS),
                               packets) ||
        __builtin_add_overflow(sqlite3_column_int64(st, C_SBYTES), sqlite3_column_int64(st, C_DBYTES),
                               bytes))
        return pdx_errf(err, PDX_EDB, "flow %lld: its packet or byte counters add up to more than "
                        "an int64: the index is corrupt", (long long)sqlite3_column_int64(st, C_ID));
    if (check_addr(st, C_SRC, "src_ip", err) < 0 || check_addr(st, C_DST, "dst_ip", err) < 0)
        return PDX_EDB;
    return PDX_OK;
}

static int row_values(sqlite3_stmt *st, rowbufs *bf, fval v[NFIELDS], char *err)
{
    int64_t first = sqlite3_column_int64(st, C_FIRST), last = sqlite3_column_int64(st, C_LAST);
    int64_t sp = sqlite3_column_int64(st, C_SPKTS), sb = sqlite3_column_int64(st, C_SBYTES);
    int64_t dp = sqlite3_column_int64(st, C_DPKTS), db = sqlite3_column_int64(st, C_DBYTES);
    int64_t packets, bytes;
    if (flow_totals(st, &packets, &bytes, err) < 0)
        return PDX_EDB;
    const char *end = (const char *)sqlite3_column_text(st, C_END);
    v[0] = v_int(sqlite3_column_int64(st, C_ID));
    v[1] = v_str(proto_name(sqlite3_column_type(st, C_PROTO) == SQLITE_NULL,
                            sqlite3_column_int(st, C_PROTO), sqlite3_column_int(st, C_ETHERTYPE),
                            bf->proto, sizeof(bf->proto)));
    v[2] = v_str(addr_text(st, C_SRC, bf->src, sizeof(bf->src)));
    v[3] = v_col_int(st, C_SPORT);
    v[4] = v_str(addr_text(st, C_DST, bf->dst, sizeof(bf->dst)));
    v[5] = v_col_int(st, C_DPORT);
    v[6] = v_col_int(st, C_VLAN);
    v[7] = v_str(pdx_time_format(first, bf->first, sizeof(bf->first)));
    v[8] = v_str(pdx_time_format(last, bf->last, sizeof(bf->last)));
    v[9] = v_int(first);
    v[10] = v_int(last);
    v[11] = v_int(packets);
    v[12] = v_int(bytes);
    v[13] = v_int(sp);
    v[14] = v_int(sb);
    v[15] = v_int(dp);
    v[16] = v_int(db);
    v[17] = v_int(sqlite3_column_int(st, C_FLAGS));
    v[18] = v_str(end != NULL ? end : "");
    v[19] = v_str((const char *)sqlite3_column_text(st, C_CID));
    return PDX_OK;
}

static void emit_path_json(void *ctx, const char *path)
{
    strbuf *b = ctx;
    if (b->oom)
        return;
    if (b->len > 0 && b->p[b->len - 1] != '[')
        sb_putc(b, ',');
    json_str(b, path);
}

static void emit_path_csv(void *ctx, const char *path)
{
    strbuf *b = ctx;
    if (b->len > 0)
        sb_putc(b, ';');
    sb_put(b, path);
}

/* One flow as a JSON object or a CSV line, written to stdout. */
static int print_row(lister *l, sqlite3_stmt *st, int json, char *err)
{
    rowbufs bf;
    fval v[NFIELDS];
    strbuf *b = &l->out;
    if (row_values(st, &bf, v, err) < 0)
        return PDX_EDB;
    if (json)
        sb_putc(b, '{');
    for (int i = 0; i < NFIELDS; i++) {
        if (i > 0)
            sb_putc(b, ',');
        if (json) {
            sb_putc(b, '"');
            sb_put(b, field_name[i]);
            sb_put(b, "\":");
        }
        if (v[i].kind == V_INT)
            sb_i64(b, v[i].i);
        else if (v[i].kind == V_STR)
            json ? json_str(b, v[i].s) : csv_str(b, v[i].s);
        else if (json)
            sb_put(b, "null");
    }
    int rc;
    int64_t id = sqlite3_column_int64(st, C_ID), fcap = sqlite3_column_int64(st, C_FCAP),
            lcap = sqlite3_column_int64(st, C_LCAP);
    if (json) {
        sb_put(b, ",\"captures\":[");
        rc = flow_captures(&l->caps, l->db, id, fcap, lcap, emit_path_json, b, err);
        sb_put(b, "]}\n");
    } else {
        l->paths.len = 0;
        rc = flow_captures(&l->caps, l->db, id, fcap, lcap, emit_path_csv, &l->paths, err);
        sb_putc(b, ',');
        if (l->paths.len > 0 && !l->paths.oom)
            csv_str(b, l->paths.p);
        sb_putc(b, '\n');
        if (l->paths.oom)
            b->oom = 1;
    }
    if (b->oom)
        return pdx_errf(err, PDX_ENOMEM, "out of memory");
    if (b->len >= 65536)
        sb_flush(b, stdout);
    return rc;
}

static int table_cells(sqlite3_stmt *st, trow *r, char *err)
{
    char pbuf[24], a[PDX_ADDR_STRLEN];
    const char *s;
    int64_t first = sqlite3_column_int64(st, C_FIRST), last = sqlite3_column_int64(st, C_LAST);
    int64_t packets, bytes, duration;
    if (flow_totals(st, &packets, &bytes, err) < 0)
        return PDX_EDB;

    snprintf(r->cell[0], TCELL, "%" PRId64, (int64_t)sqlite3_column_int64(st, C_ID));
    snprintf(r->cell[1], TCELL, "%s",
             proto_name(sqlite3_column_type(st, C_PROTO) == SQLITE_NULL,
                        sqlite3_column_int(st, C_PROTO), sqlite3_column_int(st, C_ETHERTYPE), pbuf,
                        sizeof(pbuf)));
    s = addr_text(st, C_SRC, a, sizeof(a));
    snprintf(r->cell[2], TCELL, "%s", s != NULL ? s : "-");
    if (sqlite3_column_type(st, C_SPORT) == SQLITE_NULL)
        snprintf(r->cell[3], TCELL, "-");
    else
        snprintf(r->cell[3], TCELL, "%d", sqlite3_column_int(st, C_SPORT));
    s = addr_text(st, C_DST, a, sizeof(a));
    snprintf(r->cell[4], TCELL, "%s", s != NULL ? s : "-");
    if (sqlite3_column_type(st, C_DPORT) == SQLITE_NULL)
        snprintf(r->cell[5], TCELL, "-");
    else
        snprintf(r->cell[5], TCELL, "%d", sqlite3_column_int(st, C_DPORT));
    fmt_time_us(first, r->cell[6], TCELL);
    if (__builtin_sub_overflow(last, first, &duration))
        snprintf(r->cell[7], TCELL, "?"); /* times at the ends of the range */
    else
        fmt_duration(duration, r->cell[7], TCELL);
    snprintf(r->cell[8], TCELL, "%" PRId64, packets);
    snprintf(r->cell[9], TCELL, "%" PRId64, bytes);
    s = (const char *)sqlite3_column_text(st, C_END);
    snprintf(r->cell[10], TCELL, "%s", s != NULL ? s : "");
    return PDX_OK;
}

/* One table line of n cells; the last column is not padded. */
static void table_line(const char *const *cells, const size_t *width, const int *right, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int w = (int)width[i];
        if (i > 0)
            fputs("  ", stdout);
        if (right[i])
            printf("%*s", w, cells[i]);
        else if (i + 1 < n)
            printf("%-*s", w, cells[i]);
        else
            fputs(cells[i], stdout);
    }
    putc('\n', stdout);
}

static void table_row_out(lister *l, const trow *r)
{
    const char *cells[TCOLS];
    for (int i = 0; i < TCOLS; i++)
        cells[i] = r->cell[i];
    table_line(cells, l->width, tcol_right, TCOLS);
}

/* Fixes the widths from the rows read so far, prints the header and them. */
static void table_flush_batch(lister *l)
{
    for (int i = 0; i < TCOLS; i++)
        l->width[i] = strlen(tcol_name[i]);
    for (size_t r = 0; r < l->nbatch; r++)
        for (int i = 0; i < TCOLS; i++)
            l->width[i] = PDX_MAX(l->width[i], strlen(l->batch[r].cell[i]));
    table_line(tcol_name, l->width, tcol_right, TCOLS);
    for (size_t r = 0; r < l->nbatch; r++)
        table_row_out(l, &l->batch[r]);
    l->nbatch = 0;
    l->widths_fixed = 1;
}

static int print_table_row(lister *l, sqlite3_stmt *st, char *err)
{
    if (l->widths_fixed) {
        trow r;
        if (table_cells(st, &r, err) < 0)
            return PDX_EDB;
        table_row_out(l, &r);
        return PDX_OK;
    }
    if (l->batch == NULL) {
        l->batch = malloc(TABLE_BATCH * sizeof(*l->batch));
        if (l->batch == NULL)
            return PDX_ENOMEM;
    }
    if (table_cells(st, &l->batch[l->nbatch], err) < 0)
        return PDX_EDB;
    l->nbatch++;
    if (l->nbatch == TABLE_BATCH)
        table_flush_batch(l);
    return PDX_OK;
}

/* ---- SQL ------------------------------------------------------------------------- */

/* A list in first_ns order of a selection with `host A` (or `port N`) in it
 * is the UNION of its src and dst halves: each walks an address (port) index
 * in first_ns order, SQLite merges the two, and the LIMIT stops the walk.  As
 * one query with src_ip = A OR dst_ip = A, every match is sorted before the
 * first row (`port 53` on 5 million DNS flows: 2.8 s). */
static int list_split(const options *o, const pdx_select *s)
{
    return s->where_src != NULL && strcmp(o->sort_sql, "first_ns") == 0;
}

/* The list statement; walk: read flows_first in time order (see dense). */
static char *list_sql(const options *o, const pdx_select *s, int walk)
{
    const char *dir = o->sort_desc ? " DESC" : "";
    int by_id = strcmp(o->sort_sql, "id") == 0;
    int split = list_split(o, s);
    size_t len = sizeof("SELECT " LIST_COLS " FROM flows INDEXED BY flows_first  UNION SELECT " LIST_COLS
                        " FROM flows  ORDER BY  DESC, id DESC LIMIT ?") +
                 strlen(s->where) + strlen(o->sort_sql) +
                 (split ? strlen(s->where_src) + strlen(s->where_dst) : 0);
    char *sql = malloc(len);
    if (sql == NULL)
        return NULL;
    if (split)
        snprintf(sql, len,
                 "SELECT " LIST_COLS " FROM flows %s UNION SELECT " LIST_COLS
                 " FROM flows %s ORDER BY %s%s, id%s LIMIT ?",
                 s->where_src, s->where_dst, o->sort_sql, dir, dir);
    else
        snprintf(sql, len, "SELECT " LIST_COLS " FROM flows%s %s ORDER BY %s%s%s%s LIMIT ?",
                 walk ? " INDEXED BY flows_first" : "", s->where, o->sort_sql, dir,
                 by_id ? "" : ", id", by_id ? "" : dir);
    return sql;
}

static char *count_sql(const pdx_select *s)
{
    size_t len = sizeof("SELECT count(*) FROM flows ") + strlen(s->where);
    char *sql = malloc(len);
    if (sql != NULL)
        snprintf(sql, len, "SELECT count(*) FROM flows %s", s->where);
    return sql;
}

/* The LIMIT bound to the list statement: one row beyond the limit so that
 * the table can say it cut the list; -1 is no limit in SQLite. */
static int64_t sql_limit(const options *o)
{
    if (o->limit == 0 || o->limit >= (uint64_t)INT64_MAX)
        return -1;
    return (int64_t)o->limit + 1;
}

/* Prepares sql and binds the selection (and, for the list, the limit). */
static int prepare_bound(sqlite3 *db, const char *sql, const pdx_select *s, int split,
                         int with_limit, int64_t limit, sqlite3_stmt **out, char *err)
{
    sqlite3_stmt *st = NULL;
    if (sql == NULL)
        return pdx_errf(err, PDX_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return pdx_errf(err, PDX_EDB, "preparing the query: %s", sqlite3_errmsg(db));
    int i = s == NULL ? 1 : split ? pdx_select_bind_split(s, st, 1) : pdx_select_bind(s, st, 1);
    if (i < 0 || (with_limit && sqlite3_bind_int64(st, i, limit) != SQLITE_OK)) {
        int r = pdx_errf(err, PDX_EDB, "binding the query: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return r;
    }
    *out = st;
    return PDX_OK;
}

/* Flows in time order the density probe reads per row wanted, and the
 * largest --limit it is tried for: it reads at most 80,008 flows (about
 * 20 ms warm), which a sparse selection pays on top of its sort. */
#define DENSE_PROBE 8
#define DENSE_MAX_LIMIT 10000

/* "EXPLAIN QUERY PLAN sql", to free; NULL when out of memory. */
static char *plan_sql(const char *sql)
{
    size_t len = strlen(sql) + sizeof("EXPLAIN QUERY PLAN ");
    char *eqp = malloc(len);
    if (eqp != NULL)
        snprintf(eqp, len, "EXPLAIN QUERY PLAN %s", sql);
    return eqp;
}

/* 1 when SQLite's plan for sql sorts every match before the first row (it
 * answers the filter from an address or port index), else 0; < 0 on error. */
static int sorts_all(sqlite3 *db, const char *sql, char *err)
{
    char *eqp = plan_sql(sql);
    sqlite3_stmt *st = NULL;
    if (eqp == NULL)
        return pdx_errf(err, PDX_ENOMEM, "out of memory");
    int rc = sqlite3_prepare_v2(db, eqp, -1, &st, NULL);
    free(eqp);
    if (rc != SQLITE_OK)
        return pdx_errf(err, PDX_EDB, "preparing the query: %s", sqlite3_errmsg(db));
    int sorts = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        sorts |= d != NULL && strcmp(d, "USE TEMP B-TREE FOR ORDER BY") == 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return pdx_errf(err, PDX_EDB, "explaining the query: %s", sqlite3_errmsg(db));
    return sorts;
}

/*
 * A list in time order of a selection that SQLite answers from an index and
 * then sorts (`net 10.0.0.0/8`: a range of flows_src and of flows_dst) sorts
 * every match before the first row: 1.2 s for a net holding most of 5
 * million flows.  When the selection is dense, walking flows_first in time
 * order and filtering stops at the limit instead.  Dense means: the first
 * DENSE_PROBE x limit flows in time order hold `limit` matches, which also
 * bounds that walk.  (For a sparse selection the probe costs that many rows
 * and the sorted plan runs.)  Not tried with --since or --until, whose
 * window the probe would not follow.  *walk is 1 to walk.  0 or < 0.
 */
static int dense(sqlite3 *db, const options *o, const pdx_select *s, const char *sql, int *walk,
                 char *err)
{
    int64_t want = sql_limit(o);
    *walk = 0;
    if (list_split(o, s) || strcmp(o->sort_sql, "first_ns") != 0 || o->limit == 0 ||
        o->limit > DENSE_MAX_LIMIT || s->has_since || s->has_until)
        return PDX_OK;
    int rc = sorts_all(db, sql, err);
    if (rc <= 0)
        return rc;
    /* The first_ns of the flow DENSE_PROBE x limit places along the walk
     * (none: the index holds fewer flows; the probe then reads them all). */
    const char *dir = o->sort_desc ? " DESC" : "";
    char edge_sql[128];
    snprintf(edge_sql, sizeof(edge_sql),
             "SELECT first_ns FROM flows ORDER BY first_ns%s LIMIT 1 OFFSET %lld", dir,
             (long long)(want * DENSE_PROBE));
    sqlite3_stmt *st = NULL;
    int64_t edge = 0;
    int has_edge = 0;
    if (sqlite3_prepare_v2(db, edge_sql, -1, &st, NULL) != SQLITE_OK)
        return pdx_errf(err, PDX_EDB, "preparing the query: %s", sqlite3_errmsg(db));
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        edge = sqlite3_column_int64(st, 0);
        has_edge = 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return pdx_errf(err, PDX_EDB, "reading flows: %s", sqlite3_errmsg(db));
    /* How many of the flows up to there match, counting to the limit. */
    size_t len = strlen(s->where) + 192;
    char *probe = malloc(len);
    if (probe == NULL)
        return pdx_errf(err, PDX_ENOMEM, "out of memory");
    char bound[64] = "";
    if (has_edge)
        snprintf(bound, sizeof(bound), " AND first_ns %s %lld", o->sort_desc ? ">=" : "<=",
                 (long long)edge);
    snprintf(probe, len, "SELECT count(*) FROM (SELECT 1 FROM flows INDEXED BY flows_first %s%s LIMIT ?)",
             s->where, bound);
    st = NULL;
    rc = prepare_bound(db, probe, s, 0, 1, want, &st, err);
    free(probe);
    if (rc < 0)
        return rc;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *walk = sqlite3_column_int64(st, 0) >= want;
    else
        rc = pdx_errf(err, PDX_EDB, "reading flows: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc < 0 ? rc : PDX_OK;
}

/* ---- explain --------------------------------------------------------------------- */

typedef struct planrow {
    int id, parent;
    char *detail;
} planrow;

static int plan_depth(const planrow *r, size_t n, size_t i)
{
    int d = 0;
    int parent = r[i].parent;
    while (parent != 0 && d < 64) {
        size_t j;
        for (j = 0; j < n && r[j].id != parent; j++)
            ;
        if (j == n)
            break;
        d++;
        parent = r[j].parent;
    }
    return d;
}

/* Prints sql, the same with its parameters filled in, and the query plan. */
static int explain(sqlite3 *db, const char *title, const char *sql, const pdx_select *s, int split,
                   int with_limit, int64_t limit, char *err)
{
    sqlite3_stmt *st = NULL;
    planrow *rows = NULL;
    size_t n = 0, cap = 0;
    int rc = prepare_bound(db, sql, s, split, with_limit, limit, &st, err);
    if (rc < 0)
        return rc;
    char *expanded = sqlite3_expanded_sql(st);
    printf("-- %s\nSQL:   %s\n", title, sql);
    if (s != NULL && expanded != NULL && strcmp(expanded, sql) != 0)
        printf("bound: %s\n", expanded);
    sqlite3_free(expanded);
    sqlite3_finalize(st);
    st = NULL;

    char *eqp = plan_sql(sql);
    if (eqp == NULL)
        return pdx_errf(err, PDX_ENOMEM, "out of memory");
    rc = prepare_bound(db, eqp, s, split, with_limit, limit, &st, err);
    free(eqp);
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            planrow *nr = realloc(rows, nc * sizeof(*nr));
            if (nr == NULL) {
                rc = pdx_errf(err, PDX_ENOMEM, "out of memory");
                goto out;
            }
            rows = nr;
            cap = nc;
        }
        const char *d = (const char *)sqlite3_column_text(st, 3);
        rows[n].id = sqlite3_column_int(st, 0);
        rows[n].parent = sqlite3_column_int(st, 1);
        rows[n].detail = strdup(d != NULL ? d : "");
        if (rows[n].detail == NULL) {
            rc = pdx_errf(err, PDX_ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        rc = pdx_errf(err, PDX_EDB, "explaining the query: %s", sqlite3_errmsg(db));
        goto out;
    }
    printf("QUERY PLAN\n");
    for (size_t i = 0; i < n; i++)
        printf("%*s%s\n", 2 + 2 * plan_depth(rows, n, i), "", rows[i].detail);
    rc = PDX_OK;
out:
    for (size_t i = 0; i < n; i++)
        free(rows[i].detail);
    free(rows);
    sqlite3_finalize(st);
    return rc;
}

/* ---- modes ----------------------------------------------------------------------- */

/* Returns an exit code; prints its own errors. */
static int run_list(options *o, sqlite3 *db, const pdx_select *s, const char *db_path)
{
    char err[PDX_ERRBUF_SIZE];
    sqlite3_stmt *st = NULL;
    lister l;
    int status = PDX_EXIT_OK, rc;
    uint64_t rows = 0;
    int walk = 0;
    char *sql = list_sql(o, s, 0);

    memset(&l, 0, sizeof(l));
    l.db = db;
    if (sql == NULL) {
        pdx_cli_error("out of memory");
        return PDX_EXIT_DB;
    }
    if ((rc = dense(db, o, s, sql, &walk, err)) < 0) {
        free(sql);
        pdx_cli_error("%s: %s", db_path, err);
        return PDX_EXIT_DB;
    }
    if (walk) {
        free(sql);
        sql = list_sql(o, s, 1);
    }
    if (o->explain) {
        rc = explain(db, walk ? "flows (dense: walked in time order to the limit)" : "flows", sql, s,
                     list_split(o, s), 1, sql_limit(o), err);
        if (rc == PDX_OK && o->format != FMT_TABLE) {
            printf("\n");
            rc = explain(db, "captures of a flow stored in several captures", FLOW_CAPS_SQL, NULL,
                         0, 0, 0, err);
        }
        free(sql);
        if (rc < 0) {
            pdx_cli_error("%s: %s", db_path, err);
            return PDX_EXIT_DB;
        }
        return PDX_EXIT_OK;
    }
    if (o->format != FMT_TABLE && (rc = capcache_load(&l.caps, db, err)) < 0)
        goto dberr;
    if ((rc = prepare_bound(db, sql, s, list_split(o, s), 1, sql_limit(o), &st, err)) < 0)
        goto dberr;
    if (o->format == FMT_CSV) {
        for (int i = 0; i < NFIELDS; i++)
            printf("%s,", field_name[i]);
        printf("captures\n");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (o->limit != 0 && rows == o->limit) {
            if (!o->limit_set)
                pdx_cli_note("showing the first %" PRIu64 " flows; more match (--limit 0 shows all)",
                             o->limit);
            break;
        }
        rows++;
        int r;
        if (o->format == FMT_TABLE)
            r = print_table_row(&l, st, err);
        else
            r = print_row(&l, st, o->format == FMT_JSON, err);
        if (r == PDX_ENOMEM) {
            pdx_cli_error("out of memory");
            status = PDX_EXIT_DB;
            goto out;
        }
        if (r < 0) {
            rc = r;
            goto dberr;
        }
        if (pdx_cli_stdout_failed()) {
            status = PDX_EXIT_OUTPUT;
            goto out;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = pdx_errf(err, PDX_EDB, "reading flows: %s", sqlite3_errmsg(db));
        goto dberr;
    }
    if (o->format == FMT_TABLE && !l.widths_fixed && l.nbatch > 0)
        table_flush_batch(&l);
    sb_flush(&l.out, stdout);
    if (pdx_cli_stdout_failed()) {
        status = PDX_EXIT_OUTPUT;
        goto out;
    }
    status = rows > 0 ? PDX_EXIT_OK : PDX_EXIT_NOMATCH;
    goto out;
dberr:
    pdx_cli_error("%s: %s", db_path, err);
    status = PDX_EXIT_DB;
out:
    sb_flush(&l.out, stdout); /* the rows before an error */
    sqlite3_finalize(st);
    capcache_free(&l.caps);
    free(l.batch);
    free(l.out.p);
    free(l.paths.p);
    free(sql);
    return status;
}

static int run_count(options *o, sqlite3 *db, const pdx_select *s, const char *db_path)
{
    char err[PDX_ERRBUF_SIZE];
    sqlite3_stmt *st = NULL;
    char *sql = count_sql(s);
    int rc, status;
    if (o->explain) {
        rc = explain(db, "count", sql, s, 0, 0, 0, err);
        free(sql);
        if (rc < 0) {
            pdx_cli_error("%s: %s", db_path, err);
            return PDX_EXIT_DB;
        }
        return PDX_EXIT_OK;
    }
    rc = prepare_bound(db, sql, s, 0, 0, 0, &st, err);
    free(sql);
    if (rc < 0) {
        pdx_cli_error("%s: %s", db_path, err);
        return PDX_EXIT_DB;
    }
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        pdx_cli_error("%s: counting flows: %s", db_path, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return PDX_EXIT_DB;
    }
    int64_t n = sqlite3_column_int64(st, 0);
    printf("%" PRId64 "\n", n);
    status = n > 0 ? PDX_EXIT_OK : PDX_EXIT_NOMATCH;
    sqlite3_finalize(st);
    return status;
}

static const char *const top_names[] = {"src", "dst", "host", "port", "pair", "proto"};
static const char *const by_names[] = {"flows", "packets", "bytes"};

/* The key cells of one top entry: one, or two for a pair. */
static size_t top_key(int kind, const pdx_topent *e, char k[2][PDX_ADDR_STRLEN])
{
    char pbuf[24];
    switch (kind) {
    case PDX_TOP_PAIR:
        pdx_addr_format(e->a, k[0], PDX_ADDR_STRLEN);
        pdx_addr_format(e->b, k[1], PDX_ADDR_STRLEN);
        return 2;
    case PDX_TOP_PORT: snprintf(k[0], PDX_ADDR_STRLEN, "%d", (int)e->port); return 1;
    case PDX_TOP_PROTO:
        snprintf(k[0], PDX_ADDR_STRLEN, "%s",
                 proto_name(e->proto < 0, e->proto, e->ethertype, pbuf, sizeof(pbuf)));
        return 1;
    default: pdx_addr_format(e->a, k[0], PDX_ADDR_STRLEN); return 1;
    }
}

static void print_top(const options *o, const pdx_topent *e, size_t n)
{
    int kind = o->top_kind;
    const char *names[5];
    size_t nk = kind == PDX_TOP_PAIR ? 2 : 1;
    char k[2][PDX_ADDR_STRLEN];
    if (kind == PDX_TOP_PAIR) {
        names[0] = "src";
        names[1] = "dst";
    } else {
        names[0] = top_names[kind];
    }
    names[nk] = "flows";
    names[nk + 1] = "packets";
    names[nk + 2] = "bytes";
    size_t ncol = nk + 3;

    if (o->format == FMT_JSON) {
        for (size_t i = 0; i < n; i++) {
            top_key(kind, &e[i], k);
            putc('{', stdout);
            for (size_t j = 0; j < nk; j++) {
                printf("%s\"%s\":", j ? "," : "", names[j]);
                if (kind == PDX_TOP_PORT)
                    fputs(k[j], stdout);
                else
                    str_out(stdout, k[j], 1);
            }
            printf(",\"flows\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}\n",
                   e[i].flows, e[i].packets, e[i].bytes);
        }
        return;
    }
    if (o->format == FMT_CSV) {
        for (size_t j = 0; j < ncol; j++)
            printf("%s%s", j ? "," : "", names[j]);
        putc('\n', stdout);
        for (size_t i = 0; i < n; i++) {
            top_key(kind, &e[i], k);
            for (size_t j = 0; j < nk; j++) {
                if (j)
                    putc(',', stdout);
                str_out(stdout, k[j], 0);
            }
            printf(",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", e[i].flows, e[i].packets, e[i].bytes);
        }
        return;
    }
    size_t width[5];
    int right[5];
    for (size_t j = 0; j < ncol; j++) {
        width[j] = strlen(names[j]);
        right[j] = j >= nk || kind == PDX_TOP_PORT;
    }
    for (size_t i = 0; i < n; i++) {
        char num[3][24];
        size_t got = top_key(kind, &e[i], k);
        for (size_t j = 0; j < got; j++)
            width[j] = PDX_MAX(width[j], strlen(k[j]));
        width[nk] = PDX_MAX(width[nk], (size_t)snprintf(num[0], 24, "%" PRIu64, e[i].flows));
        width[nk + 1] = PDX_MAX(width[nk + 1], (size_t)snprintf(num[1], 24, "%" PRIu64, e[i].packets));
        width[nk + 2] = PDX_MAX(width[nk + 2], (size_t)snprintf(num[2], 24, "%" PRIu64, e[i].bytes));
    }
    table_line(names, width, right, ncol);
    for (size_t i = 0; i < n; i++) {
        char num[3][24];
        const char *cells[5];
        top_key(kind, &e[i], k);
        for (size_t j = 0; j < nk; j++)
            cells[j] = k[j];
        snprintf(num[0], 24, "%" PRIu64, e[i].flows);
        snprintf(num[1], 24, "%" PRIu64, e[i].packets);
        snprintf(num[2], 24, "%" PRIu64, e[i].bytes);
        cells[nk] = num[0];
        cells[nk + 1] = num[1];
        cells[nk + 2] = num[2];
        table_line(cells, width, right, ncol);
    }
}

static int run_top(options *o, sqlite3 *db, const pdx_select *s, const char *db_path)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_topent *e = NULL;
    size_t n = 0;
    int rc;
    if (o->explain) {
        int ru = pdx_summary_top_rollups(db, s, o->top_kind);
        char *sql = pdx_summary_top_sql(s, o->top_kind, ru);
        rc = sql == NULL ? pdx_errf(err, PDX_ENOMEM, "out of memory")
                         : explain(db, ru ? "top, from the per-capture rollups (no filter, no window)" : "top",
                                   sql, ru ? NULL : s, 0, 0, 0, err);
        free(sql);
    } else {
        rc = pdx_summary_top(db, s, o->top_kind, o->by, (size_t)PDX_MIN(o->limit, (uint64_t)SIZE_MAX),
                             &e, &n, err);
    }
    if (rc < 0) {
        pdx_cli_error("%s: %s", db_path, err);
        return PDX_EXIT_DB;
    }
    if (o->explain)
        return PDX_EXIT_OK;
    if (n > 0)
        print_top(o, e, n);
    free(e);
    return n > 0 ? PDX_EXIT_OK : PDX_EXIT_NOMATCH;
}

static void print_bin(const options *o, int64_t start, const pdx_tsbin *b, const size_t *width)
{
    char t[PDX_TIME_STRLEN], num[3][24];
    uint64_t flows = b ? b->flows : 0, packets = b ? b->packets : 0, bytes = b ? b->bytes : 0;
    pdx_time_format(start, t, sizeof(t));
    if (o->format == FMT_JSON) {
        printf("{\"start\":\"%s\",\"start_ns\":%" PRId64 ",\"flows\":%" PRIu64 ",\"packets\":%" PRIu64
               ",\"bytes\":%" PRIu64 "}\n",
               t, start, flows, packets, bytes);
    } else if (o->format == FMT_CSV) {
        printf("%s,%" PRId64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", t, start, flows, packets, bytes);
    } else {
        static const int right[4] = {0, 1, 1, 1};
        const char *cells[4] = {t, num[0], num[1], num[2]};
        snprintf(num[0], 24, "%" PRIu64, flows);
        snprintf(num[1], 24, "%" PRIu64, packets);
        snprintf(num[2], 24, "%" PRIu64, bytes);
        table_line(cells, width, right, 4);
    }
}

/* Too many bins for a time series: an interval too fine for the traffic
 * (a usage error), or a damaged flow whose times no real capture gives (not
 * an integer, or first after last; a hand edit or corruption is the usual
 * cause), which is an index error naming the database.  A time before 1970
 * is not damage: a pcapng interface's negative if_tsoffset gives one.  Returns
 * PDX_EXIT_USAGE when the selected flows' times are sound, else
 * PDX_EXIT_DB with the message printed. */
static int series_damage(sqlite3 *db, const pdx_select *s, const char *db_path)
{
    static const char fmt[] =
        "SELECT id, first_ns, last_ns FROM flows %s AND (typeof(first_ns) <> 'integer'"
        " OR typeof(last_ns) <> 'integer' OR last_ns < first_ns) LIMIT 1";
    char err[PDX_ERRBUF_SIZE], row[48];
    size_t len = sizeof(fmt) + strlen(s->where);
    char *sql = malloc(len);
    sqlite3_stmt *st = NULL;
    int64_t first, last;
    int status = PDX_EXIT_DB, rc;
    if (sql == NULL) {
        pdx_cli_error("out of memory");
        return PDX_EXIT_DB;
    }
    snprintf(sql, len, fmt, s->where);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || pdx_select_bind(s, st, 1) < 0) {
        pdx_cli_error("%s: %s", db_path, sqlite3_errmsg(db));
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        status = PDX_EXIT_USAGE;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        pdx_cli_error("%s: %s", db_path, sqlite3_errmsg(db));
        goto out;
    }
    snprintf(row, sizeof(row), "flow %lld", (long long)sqlite3_column_int64(st, 0));
    if (pdx_index_col_int(st, 1, INT64_MIN, INT64_MAX, 0, &first, row, err) < 0 ||
        pdx_index_col_int(st, 2, INT64_MIN, INT64_MAX, 0, &last, row, err) < 0)
        pdx_cli_error("%s: %s", db_path, err);
    else
        pdx_cli_error("%s: %s: first_ns %" PRId64 " is after last_ns %" PRId64, db_path, row, first,
                      last);
out:
    sqlite3_finalize(st);
    free(sql);
    return status;
}

static int run_series(options *o, sqlite3 *db, const pdx_select *s, const char *db_path)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_tsbin *b = NULL;
    size_t n = 0;
    int rc;
    if (o->explain) {
        char *sql = pdx_summary_timeseries_sql(s);
        rc = explain(db, "time series", sql, s, 0, 0, 0, err);
        free(sql);
        if (rc < 0) {
            pdx_cli_error("%s: %s", db_path, err);
            return PDX_EXIT_DB;
        }
        return PDX_EXIT_OK;
    }
    if ((rc = pdx_summary_timeseries(db, s, o->interval_ns, &b, &n, err)) < 0) {
        pdx_cli_error("%s: %s", db_path, err);
        return PDX_EXIT_DB;
    }
    if (n == 0)
        return PDX_EXIT_NOMATCH;
    /* Empty bins between the first and the last are printed as zeros. */
    uint64_t span = ((uint64_t)b[n - 1].start_ns - (uint64_t)b[0].start_ns) / (uint64_t)o->interval_ns;
    if (span >= SERIES_MAX_BINS) {
        free(b);
        if (series_damage(db, s, db_path) != PDX_EXIT_USAGE)
            return PDX_EXIT_DB;
        pdx_cli_error("--timeseries: %" PRIu64 " bins from the first flow to the last; "
                      "choose a larger interval (at most %d bins)",
                      span + 1, SERIES_MAX_BINS);
        return PDX_EXIT_USAGE;
    }
    size_t width[4] = {strlen("start (UTC)"), strlen("flows"), strlen("packets"), strlen("bytes")};
    if (o->format == FMT_TABLE) {
        width[0] = PDX_MAX(width[0], (size_t)30);
        for (size_t i = 0; i < n; i++) {
            char num[24];
            width[1] = PDX_MAX(width[1], (size_t)snprintf(num, 24, "%" PRIu64, b[i].flows));
            width[2] = PDX_MAX(width[2], (size_t)snprintf(num, 24, "%" PRIu64, b[i].packets));
            width[3] = PDX_MAX(width[3], (size_t)snprintf(num, 24, "%" PRIu64, b[i].bytes));
        }
        static const char *const names[4] = {"start (UTC)", "flows", "packets", "bytes"};
        static const int right[4] = {0, 1, 1, 1};
        table_line(names, width, right, 4);
    } else if (o->format == FMT_CSV) {
        printf("start,start_ns,flows,packets,bytes\n");
    }
    size_t i = 0;
    for (uint64_t k = 0; k <= span; k++) {
        int64_t start = b[0].start_ns + (int64_t)k * o->interval_ns;
        if (i < n && b[i].start_ns == start)
            print_bin(o, start, &b[i++], width);
        else
            print_bin(o, start, NULL, width);
        if (pdx_cli_stdout_failed())
            break;
    }
    free(b);
    return PDX_EXIT_OK;
}

/* ---- options ----------------------------------------------------------------------- */

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* --sort FIELD or -FIELD, to ORDER BY terms. */
static int parse_sort(options *o, const char *arg)
{
    static const struct {
        const char *name, *sql;
    } fields[] = {
        {"id", "id"},
        {"first", "first_ns"},
        {"last", "last_ns"},
        {"packets", "src_packets + dst_packets"},
        {"bytes", "src_bytes + dst_bytes"},
        {"duration", "last_ns - first_ns"},
        {"src", "src_ip"},
        {"dst", "dst_ip"},
        {"sport", "src_port"},
        {"dport", "dst_port"},
    };
    const char *name = arg;
    o->sort_desc = 0;
    if (*name == '-') {
        o->sort_desc = 1;
        name++;
    }
    for (size_t i = 0; i < PDX_ARRAY_LEN(fields); i++)
        if (strcmp(name, fields[i].name) == 0) {
            o->sort_sql = fields[i].sql;
            return 0;
        }
    return -1;
}

/* Joins the words of the expression with single blanks, as tcpdump does. */
static char *join_words(char **w, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(w[i]) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(w[i]);
        if (i > 0)
            s[o++] = ' ';
        memcpy(s + o, w[i], l);
        o += l;
    }
    s[o] = '\0';
    return s;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Returns -1 after printing the problem, else 0. */
static int parse_options(options *o, int argc, char **argv)
{
    enum { O_DB = 256, O_SINCE, O_UNTIL, O_FORMAT, O_SORT, O_LIMIT, O_COUNT, O_EXPLAIN, O_TOP, O_BY, O_SERIES };
    static const struct option opts[] = {
        {"db", required_argument, NULL, O_DB},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        {"format", required_argument, NULL, O_FORMAT},
        {"sort", required_argument, NULL, O_SORT},
        {"limit", required_argument, NULL, O_LIMIT},
        {"count", no_argument, NULL, O_COUNT},
        {"explain", no_argument, NULL, O_EXPLAIN},
        {"top", required_argument, NULL, O_TOP},
        {"by", required_argument, NULL, O_BY},
        {"timeseries", required_argument, NULL, O_SERIES},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const formats[] = {"table", "csv", "json"};
    char err[PDX_ERRBUF_SIZE];
    int c, modes = 0;

    o->sort_sql = "first_ns";
    o->top_kind = -1;
    o->mode = MODE_LIST;
    optind = 1;
    while ((c = pdx_cli_getopt(argc, argv, "h", opts)) != -1) {
        switch (c) {
        case O_DB: o->db_opt = optarg; break;
        case O_SINCE: o->since_arg = optarg; break;
        case O_UNTIL: o->until_arg = optarg; break;
        case O_FORMAT:
            if ((o->format = lookup(optarg, formats, 3)) < 0) {
                pdx_cli_error("--format: '%s' is not table, csv or json", optarg);
                return -1;
            }
            o->format_set = 1;
            break;
        case O_SORT:
            if (parse_sort(o, optarg) < 0) {
                pdx_cli_error("--sort: '%s' is not one of id, first, last, packets, bytes, duration, "
                              "src, dst, sport, dport (with '-' for descending)",
                              optarg);
                return -1;
            }
            o->sort_arg = optarg;
            break;
        case O_LIMIT:
            if (pdx_cli_parse_u64(optarg, &o->limit) < 0 || o->limit > (uint64_t)INT64_MAX) {
                pdx_cli_error("--limit: '%s' is not a number", optarg);
                return -1;
            }
            o->limit_set = 1;
            break;
        case O_COUNT:
            o->mode = MODE_COUNT;
            modes |= 1;
            break;
        case O_EXPLAIN: o->explain = 1; break;
        case O_TOP:
            if ((o->top_kind = lookup(optarg, top_names, 6)) < 0) {
                pdx_cli_error("--top: '%s' is not src, dst, host, port, pair or proto", optarg);
                return -1;
            }
            o->mode = MODE_TOP;
            modes |= 2;
            break;
        case O_BY:
            if ((o->by = lookup(optarg, by_names, 3)) < 0) {
                pdx_cli_error("--by: '%s' is not flows, packets or bytes", optarg);
                return -1;
            }
            o->by_set = 1;
            break;
        case O_SERIES:
            if (pdx_duration_parse(optarg, &o->interval_ns) < 0 || o->interval_ns <= 0) {
                pdx_cli_error("--timeseries: '%s' is not a positive duration (e.g. 30s, 5m, 1h)", optarg);
                return -1;
            }
            o->mode = MODE_SERIES;
            modes |= 4;
            break;
        case 'h': usage(stdout); return 1;
        default: pdx_cli_bad_option(argv, "h", opts); usage(stderr); return -1;
        }
    }
    if (modes & (modes - 1)) {
        pdx_cli_error("--count, --top and --timeseries exclude each other");
        return -1;
    }
    if (o->by_set && o->mode != MODE_TOP) {
        pdx_cli_error("--by goes with --top");
        return -1;
    }
    if (o->sort_arg != NULL && o->mode != MODE_LIST) {
        pdx_cli_error("--sort orders a list of flows; it does not go with --count, --top or --timeseries");
        return -1;
    }
    if (o->limit_set && (o->mode == MODE_COUNT || o->mode == MODE_SERIES)) {
        pdx_cli_error("--limit does not go with --count or --timeseries");
        return -1;
    }
    if (!o->limit_set)
        o->limit = o->mode == MODE_TOP ? TOP_DEFAULT_LIMIT
                   : o->format == FMT_TABLE ? TABLE_DEFAULT_LIMIT
                                            : 0;
    int64_t now = now_ns();
    if (o->since_arg != NULL && pdx_time_parse(o->since_arg, now, &o->since_ns, err) < 0) {
        pdx_cli_error("--since: %s", err);
        return -1;
    }
    if (o->until_arg != NULL && pdx_time_parse(o->until_arg, now, &o->until_ns, err) < 0) {
        pdx_cli_error("--until: %s", err);
        return -1;
    }
    if (o->since_arg != NULL && o->until_arg != NULL && o->since_ns > o->until_ns) {
        pdx_cli_error("--since is after --until");
        return -1;
    }
    o->expr = join_words(argv + optind, argc - optind);
    if (o->expr == NULL) {
        pdx_cli_error("out of memory");
        return -1;
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------------------- */

int pdx_cmd_query(int argc, char **argv)
{
    options o;
    char err[PDX_ERRBUF_SIZE];
    size_t err_pos = 0;
    pdx_index *ix = NULL;
    pdx_query *q = NULL;
    pdx_select sel;
    int status, in_txn = 0;

    memset(&o, 0, sizeof(o));
    memset(&sel, 0, sizeof(sel));
    int r = parse_options(&o, argc, argv);
    if (r != 0) {
        free(o.expr);
        return r > 0 ? pdx_cli_close_stdout() : PDX_EXIT_USAGE;
    }
    /* A bad filter is reported before the index is even opened. */
    int rc = pdx_qparse(o.expr, &q, err, &err_pos);
    if (rc < 0) {
        if (rc == PDX_ENOMEM) {
            pdx_cli_error("out of memory");
        } else {
            pdx_cli_error("%s", err);
            print_caret(o.expr, err_pos);
        }
        free(o.expr);
        return PDX_EXIT_USAGE;
    }
    pdx_query_free(q);

    const char *db_path = pdx_cli_db_path(o.db_opt);
    if (pdx_index_open(&ix, db_path, PDX_INDEX_READ, err) < 0) {
        pdx_cli_error("%s", err);
        status = PDX_EXIT_DB;
        goto out;
    }
    sqlite3 *db = pdx_index_db(ix);
    /* One snapshot for the window bound (meta), the flows and the paths. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        pdx_cli_error("%s: %s", db_path, sqlite3_errmsg(db));
        status = PDX_EXIT_DB;
        goto out;
    }
    in_txn = 1;
    rc = pdx_select_init(&sel, ix, o.expr, o.since_arg ? &o.since_ns : NULL,
                         o.until_arg ? &o.until_ns : NULL, err, &err_pos);
    if (rc < 0) {
        pdx_cli_error("%s", err);
        status = rc == PDX_EUSAGE ? PDX_EXIT_USAGE : PDX_EXIT_DB;
        goto out;
    }
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    switch (o.mode) {
    case MODE_COUNT: status = run_count(&o, db, &sel, db_path); break;
    case MODE_TOP: status = run_top(&o, db, &sel, db_path); break;
    case MODE_SERIES: status = run_series(&o, db, &sel, db_path); break;
    default: status = run_list(&o, db, &sel, db_path); break;
    }
out:
    if (in_txn && sqlite3_exec(pdx_index_db(ix), "COMMIT", NULL, NULL, NULL) != SQLITE_OK &&
        status == PDX_EXIT_OK) {
        pdx_cli_error("%s: %s", db_path, sqlite3_errmsg(pdx_index_db(ix)));
        status = PDX_EXIT_DB;
    }
    pdx_select_free(&sel);
    pdx_index_close(ix);
    free(o.expr);
    int w = pdx_cli_close_stdout();
    if (status == PDX_EXIT_OK || status == PDX_EXIT_NOMATCH)
        return w != PDX_EXIT_OK ? w : status;
    return status;
}
