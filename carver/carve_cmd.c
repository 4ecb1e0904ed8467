/*
 * carve_cmd.c - "pcapdex carve": writes the packets of chosen flows back out,
 * byte for byte, by seeking to their stored offsets in however many captures
 * they span, and "pcapdex verify": checks that indexed captures are present
 * and unchanged.
 *
 * Nothing is trusted: every capture is checked against the index (size,
 * mtime, fingerprint) before anything is written, and every record reread
 * at a stored offset must parse, fall inside its flow's time span and carry
 * its flow's addresses, or the carve stops with exit 6.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "capfile.h"
#include "decode.h"
#include "index.h"
#include "reasm.h"
#include "select.h"
#include "summary.h"
#include "timeparse.h"
#include "writer.h"

/* What a record is checked against. */
typedef struct cflow {
    int64_t id;
    int ip;
    int has_mac;
    int proto;
    uint16_t sport;
    uint8_t a[16], b[16];   /* initiator, responder */
    uint8_t ma[6], mb[6];
    int64_t first_ns, last_ns;
    uint64_t packets, bytes;
    uint64_t seen_packets, seen_bytes;
    uint32_t linktype;
    pdx_reasm *reasm;       /* --payload */
} cflow;

typedef struct centry {
    uint64_t offset;
    uint32_t flow; /* index into flows */
} centry;

/* One capture's share of the carve: its offsets in file order. */
typedef struct cstream {
    int64_t capture_id;
    int64_t first_ns;
    pdx_capfile *cf;
    centry *e;
    size_t n, cap, pos;
    /* the current record, copied out of the capfile's buffer */
    pdx_record rec;
    uint8_t *data;
    size_t data_cap;
    pdx_pkt pkt;   /* the current record, decoded */
    uint32_t flow; /* and its flow */
    int have;
} cstream;

typedef struct carver {
    pdx_index *ix;
    const char *db_path;
    cflow *flows;
    size_t n_flows, cap_flows;
    cstream *streams;
    size_t n_streams, cap_streams;
    int partial;
    int has_since, has_until;
    int64_t since_ns, until_ns;
    int format;     /* 0 = choose */
    int add_ext;    /* --split: the file's extension follows the format written */
    int missing;    /* captures left out (--partial) */
    const char *payload; /* --payload DIR */
    size_t from, to; /* the flows being carved now */
    int window_empty; /* the last write_out: --since/--until held none of the packets */
    size_t windows_empty; /* how many write_outs that was */
    int quiet;
} carver;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pcapdex carve [--db FILE] [-o FILE|-] [--format pcap|pcapng] [--partial] ID...\n"
            "       pcapdex carve [--db FILE] --filter EXPR [--since T] [--until T] [-o FILE|--split DIR]\n"
            "\n"
            "Writes the packets of the given flows, merged in time order (file order for equal\n"
            "times), reading only their records.  The records are the original ones: same\n"
            "timestamps, lengths and bytes.\n"
            "\n"
            "  -o FILE, --output FILE  write here; '-' for stdout (default when stdout is not a terminal)\n"
            "  --format pcap|pcapng    output format; default pcap, or pcapng (with a note) when the\n"
            "                          packets mix link types or timestamp precisions\n"
            "  --filter EXPR           carve every flow the query expression matches (docs/query.md)\n"
            "  --since T, --until T    with --filter: flows active in the window, and only their\n"
            "                          packets inside it\n"
            "  --split DIR             one file per flow, DIR/ID.pcap (or .pcapng when that is the format)\n"
            "  --partial               carve what is still there when captures are missing or changed\n"
            "  --payload DIR           also rebuild what each flow carried: DIR/ID.c2s and DIR/ID.s2c\n"
            "                          (TCP: the byte streams in sequence order; other protocols: the\n"
            "                          payloads in order) and DIR/ID.json (bytes, gaps, retransmissions)\n"
            "  -q, --quiet             no notes on stderr\n"
            "\n"
            "Exit: 0 carved, 1 no such flow, 2 usage, 3 database error, 6 a capture is missing or\n"
            "changed (with --partial: carved the rest), 7 output error.\n");
}

/* ---- gathering -------------------------------------------------------------- */

/* Takes the flow row st holds (FLOW_SELECT), checked: what the records
 * are compared with must be what the schema says, or a damaged index would
 * read as a changed capture.  0, PDX_ENOMEM, or PDX_EDB with errbuf set. */
static int add_flow(carver *c, sqlite3_stmt *st, char *errbuf)
{
    cflow f;
    char row[48];
    const uint8_t *a, *b;
    int64_t v[8];
    int rc;
    memset(&f, 0, sizeof(f));
    f.id = sqlite3_column_int64(st, 0);
    snprintf(row, sizeof(row), "flow %lld", (long long)f.id);
    if ((rc = pdx_index_col_int(st, 1, 0, 255, 1, &v[0], row, errbuf)) < 0)
        return rc;
    f.ip = rc == 0;
    f.proto = (int)v[0];
    if (f.ip) {
        if ((rc = pdx_index_col_blob(st, 2, 16, 0, &a, row, errbuf)) < 0 ||
            (rc = pdx_index_col_blob(st, 3, 16, 0, &b, row, errbuf)) < 0)
            return rc;
        memcpy(f.a, a, 16);
        memcpy(f.b, b, 16);
    }
    if ((rc = pdx_index_col_blob(st, 4, 6, 1, &a, row, errbuf)) < 0 ||
        (rc = pdx_index_col_blob(st, 5, 6, 1, &b, row, errbuf)) < 0)
        return rc;
    if (a != NULL && b != NULL) {
        memcpy(f.ma, a, 6);
        memcpy(f.mb, b, 6);
        f.has_mac = 1;
    }
    /* first_ns, last_ns, then packets and bytes of each side. */
    for (int k = 0; k < 6; k++)
        if ((rc = pdx_index_col_int(st, 6 + k, k < 2 ? INT64_MIN : 0, INT64_MAX, 0, &v[k], row,
                                    errbuf)) < 0)
            return rc;
    if (v[0] > v[1])
        return pdx_errf(errbuf, PDX_EDB, "%s: first_ns %lld is after last_ns %lld", row,
                        (long long)v[0], (long long)v[1]);
    f.first_ns = v[0];
    f.last_ns = v[1];
    f.packets = (uint64_t)v[2] + (uint64_t)v[4];
    f.bytes = (uint64_t)v[3] + (uint64_t)v[5];
    if ((rc = pdx_index_col_int(st, 12, 0, UINT32_MAX, 0, &v[6], row, errbuf)) < 0 ||
        (rc = pdx_index_col_int(st, 13, 0, UINT16_MAX, 1, &v[7], row, errbuf)) < 0)
        return rc;
    f.linktype = (uint32_t)v[6];
    f.sport = (uint16_t)v[7];
    if (pdx_grow(&c->flows, &c->cap_flows, c->n_flows + 1, sizeof(*c->flows)) < 0)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    c->flows[c->n_flows++] = f;
    return PDX_OK;
}

#define FLOW_SELECT                                                                                \
    "SELECT id, proto, src_ip, dst_ip, src_mac, dst_mac, first_ns, last_ns, src_packets,"         \
    " src_bytes, dst_packets, dst_bytes, linktype, src_port FROM flows "

static cstream *stream_for(carver *c, int64_t capture_id)
{
    for (size_t i = 0; i < c->n_streams; i++)
        if (c->streams[i].capture_id == capture_id)
            return &c->streams[i];
    if (pdx_grow(&c->streams, &c->cap_streams, c->n_streams + 1, sizeof(*c->streams)) < 0)
        return NULL;
    cstream *s = &c->streams[c->n_streams++];
    memset(s, 0, sizeof(*s));
    s->capture_id = capture_id;
    return s;
}

typedef struct seg_ctx {
    carver *c;
    uint32_t flow;
} seg_ctx;

static int take_segment(void *ctx, const pdx_segment *seg)
{
    seg_ctx *x = ctx;
    cstream *s = stream_for(x->c, seg->capture_id);
    if (s == NULL)
        return PDX_ENOMEM;
    if (pdx_grow(&s->e, &s->cap, s->n + seg->count, sizeof(*s->e)) < 0)
        return PDX_ENOMEM;
    for (uint64_t i = 0; i < seg->count; i++) {
        s->e[s->n].offset = seg->offsets[i];
        s->e[s->n].flow = x->flow;
        s->n++;
    }
    return PDX_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const centry *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_stream(const void *a, const void *b)
{
    const cstream *x = a, *y = b;
    if (x->first_ns != y->first_ns)
        return x->first_ns < y->first_ns ? -1 : 1;
    return x->capture_id < y->capture_id ? -1 : x->capture_id > y->capture_id;
}

static void free_streams(carver *c)
{
    for (size_t i = 0; i < c->n_streams; i++) {
        pdx_capfile_close(c->streams[i].cf);
        free(c->streams[i].e);
        free(c->streams[i].data);
    }
    free(c->streams);
    c->streams = NULL;
    c->n_streams = c->cap_streams = 0;
}

/* Loads the offsets of flows [from, to) and opens their captures. */
static int prepare(carver *c, size_t from, size_t to)
{
    char err[PDX_ERRBUF_SIZE];
    int rc;
    for (size_t i = from; i < to; i++) {
        seg_ctx x = {c, (uint32_t)i};
        if ((rc = pdx_index_segments(c->ix, c->flows[i].id, take_segment, &x, err)) < 0) {
            pdx_cli_error("%s: %s", c->db_path, err);
            return PDX_EXIT_DB;
        }
    }
    int status = PDX_EXIT_OK;
    for (size_t i = 0; i < c->n_streams; i++) {
        cstream *s = &c->streams[i];
        if (s->n > 1)
            qsort(s->e, s->n, sizeof(*s->e), cmp_entry);
        rc = pdx_capfile_open(c->ix, s->capture_id, &s->cf, err);
        if (rc == PDX_EMISSING || rc == PDX_ECHANGED || rc == PDX_EIO || rc == PDX_ECORRUPT) {
            if (c->partial) {
                pdx_cli_warn("%s; its %zu packets are left out", err, s->n);
                c->missing++;
                s->n = 0;
                continue;
            }
            pdx_cli_error("%s", err);
            status = PDX_EXIT_CHANGED;
        } else if (rc < 0) {
            pdx_cli_error("%s: %s", c->db_path, err);
            return PDX_EXIT_DB;
        } else {
            s->first_ns = pdx_capfile_first_ns(s->cf);
            for (size_t k = 0; k < s->n; k++)
                pdx_capfile_plan(s->cf, s->e[k].offset);
            if (pdx_capfile_streams(s->cf) && !c->quiet)
                pdx_cli_warn("%s is compressed without a seek table: carving decompresses it from "
                             "the start ('pcapdex compress' makes it seekable)",
                             pdx_capfile_path(s->cf));
        }
    }
    if (status != PDX_EXIT_OK)
        return status;
    if (c->n_streams > 1)
        qsort(c->streams, c->n_streams, sizeof(*c->streams), cmp_stream);
    return PDX_EXIT_OK;
}

/* ---- reading and checking -------------------------------------------------- */

static int addr_pair_eq(const uint8_t *x, const uint8_t *y, const uint8_t *a, const uint8_t *b,
                        size_t n)
{
    return (memcmp(x, a, n) == 0 && memcmp(y, b, n) == 0) ||
           (memcmp(x, b, n) == 0 && memcmp(y, a, n) == 0);
}

/* Does the record belong to flow f as far as can be told from its bytes? */
static const char *mismatch(const cflow *f, const pdx_record *rec, pdx_pkt *p)
{
    if (rec->block_type != 3 && (rec->ts_ns < f->first_ns || rec->ts_ns > f->last_ns))
        return "its time is outside the flow's";
    pdx_decode(rec->data, rec->caplen, rec->linktype, p);
    if (f->ip) {
        if (p->kind == PDX_KIND_L2)
            return "it is not an IP packet";
        if (!addr_pair_eq(p->src, p->dst, f->a, f->b, 16))
            return "its addresses are not the flow's";
    } else if (f->has_mac && (p->flags & PDX_PKT_HAS_MAC) &&
               !addr_pair_eq(p->src_mac, p->dst_mac, f->ma, f->mb, 6)) {
        return "its MAC addresses are not the flow's";
    }
    return NULL;
}

/* 0 when the packet comes from the flow's initiator. */
static int direction(const cflow *f, const pdx_pkt *p)
{
    if (!f->ip)
        return f->has_mac && memcmp(p->src_mac, f->ma, 6) != 0;
    if (memcmp(p->src, f->a, 16) != 0)
        return 1;
    if (memcmp(p->src, p->dst, 16) == 0 && (f->proto == 6 || f->proto == 17 || f->proto == 132))
        return p->sport != f->sport;
    return 0;
}

/* Advances s to its next record inside the window; 0, 1 at the end, or an exit code. */
static int stream_next(carver *c, cstream *s)
{
    char err[PDX_ERRBUF_SIZE];
    while (s->pos < s->n) {
        centry *e = &s->e[s->pos];
        uint64_t hint = s->pos + 1 < s->n ? s->e[s->pos + 1].offset : 0;
        int rc = pdx_capfile_read(s->cf, e->offset, hint, &s->rec, err);
        if (rc < 0) {
            pdx_cli_error("%s", err);
            return PDX_EXIT_CHANGED;
        }
        cflow *f = &c->flows[e->flow];
        pdx_pkt pkt;
        const char *why = mismatch(f, &s->rec, &pkt);
        if (why != NULL) {
            pdx_cli_error("%s: offset %" PRIu64 ": the record there does not match flow %" PRId64
                          " (%s); the capture changed since it was indexed",
                          pdx_capfile_path(s->cf), e->offset, f->id, why);
            return PDX_EXIT_CHANGED;
        }
        f->seen_packets++;
        f->seen_bytes += s->rec.origlen;
        s->pos++;
        if ((c->has_since && s->rec.ts_ns < c->since_ns) ||
            (c->has_until && s->rec.ts_ns > c->until_ns))
            continue;
        if (s->rec.caplen > s->data_cap) {
            uint8_t *nb = realloc(s->data, s->rec.caplen);
            if (nb == NULL) {
                pdx_cli_error("out of memory");
                return PDX_EXIT_DB;
            }
            s->data = nb;
            s->data_cap = s->rec.caplen;
        }
        if (s->rec.caplen > 0)
            memcpy(s->data, s->rec.data, s->rec.caplen);
        s->rec.data = s->data;
        s->pkt = pkt;
        s->flow = e->flow;
        s->have = 1;
        return 0;
    }
    s->have = 0;
    return 1;
}

/* Output format and pcap parameters for the streams' interfaces. */
/* An interface as the output sees it: link type and nanosecond precision. */
static int iface_ns(const pdx_capinfo *in, const pdx_iface *f)
{
    return in->format == PDX_FMT_PCAPNG ? f->tsresol != 6 : in->pcap_nsec;
}

/* Adds an interface's link type and precision to what the output must hold. */
static void add_kind(uint32_t lt, int ns, uint32_t snap, int *have, int *mixed, uint32_t *linktype,
                     int *nsec, uint32_t *snaplen)
{
    if (!*have) {
        *linktype = lt;
        *nsec = ns;
        *have = 1;
    } else if (lt != *linktype || ns != *nsec) {
        *mixed = 1;
    }
    if (snap > *snaplen)
        *snaplen = snap;
}

/*
 * The link type, precision and snaplen of the output; 1 when the packets mix
 * link types or precisions.  Where a capture's interfaces all agree, that is
 * their kind.  Where they differ (a pcapng with Ethernet and loopback, say),
 * the packets carved decide: one flow's packets may come in on several of
 * them, so each record's header is read ahead of the carve to learn its
 * interface (records that cannot be read are left to the carve to report).
 */
static int choose_format(carver *c, uint32_t *linktype, int *nsec, uint32_t *snaplen)
{
    int mixed = 0, have = 0;
    *linktype = 1;
    *nsec = 0;
    *snaplen = 0;
    for (size_t i = 0; i < c->n_streams; i++) {
        cstream *s = &c->streams[i];
        if (s->cf == NULL || s->n == 0)
            continue;
        const pdx_capinfo *in = pdx_capfile_info(s->cf);
        int differ = 0;
        for (size_t k = 1; k < in->n_ifaces && !differ; k++)
            differ = in->ifaces[k].linktype != in->ifaces[0].linktype ||
                     iface_ns(in, &in->ifaces[k]) != iface_ns(in, &in->ifaces[0]);
        if (!differ) {
            uint32_t snap = 0;
            for (size_t k = 0; k < in->n_ifaces; k++)
                snap = PDX_MAX(snap, in->ifaces[k].snaplen);
            if (in->n_ifaces > 0)
                add_kind(in->ifaces[0].linktype, iface_ns(in, &in->ifaces[0]), snap, &have, &mixed,
                         linktype, nsec, snaplen);
            continue;
        }
        char err[PDX_ERRBUF_SIZE];
        pdx_record rec;
        for (size_t j = 0; j < s->n; j++) {
            uint64_t hint = j + 1 < s->n ? s->e[j + 1].offset : 0;
            if (pdx_capfile_read(s->cf, s->e[j].offset, hint, &rec, err) < 0)
                break;
            if ((c->has_since && rec.ts_ns < c->since_ns) || (c->has_until && rec.ts_ns > c->until_ns))
                continue;
            if (rec.iface < in->n_ifaces) {
                const pdx_iface *f = &in->ifaces[rec.iface];
                add_kind(f->linktype, iface_ns(in, f), f->snaplen, &have, &mixed, linktype, nsec,
                         snaplen);
            } else {
                add_kind(rec.linktype, iface_ns(in, &in->ifaces[0]), in->ifaces[0].snaplen, &have,
                         &mixed, linktype, nsec, snaplen);
            }
        }
    }
    return mixed;
}

/* Hands a record to its flow's payload reassembly. */
static int feed_payload(carver *c, cstream *s)
{
    char err[PDX_ERRBUF_SIZE];
    cflow *f = &c->flows[s->flow];
    if (f->reasm == NULL)
        return PDX_EXIT_OK;
    if (pdx_reasm_packet(f->reasm, direction(f, &s->pkt), &s->pkt, s->rec.data, s->rec.caplen,
                         s->rec.ts_ns, err) < 0) {
        pdx_cli_error("--payload %s: %s", c->payload, err);
        return PDX_EXIT_OUTPUT;
    }
    return PDX_EXIT_OK;
}

/* 1 when st is the file behind descriptor fd. */
static int same_file(const struct stat *st, int fd)
{
    struct stat fst;
    return fstat(fd, &fst) == 0 && fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
}

/* Opens the output for its first packet: a path written in place only now
 * (nothing is created there before), then the file header. */
static int start_output(FILE **fp, pdx_writer **w, const char *path, int direct, int to_stdout,
                        int format, uint32_t linktype, int nsec, uint32_t snaplen)
{
    static char iobuf[1 << 20];
    char err[PDX_ERRBUF_SIZE];
    if (direct && (*fp = fopen(path, "wb")) == NULL) {
        pdx_cli_error("%s: %s", path, strerror(errno));
        return PDX_EXIT_OUTPUT;
    }
    setvbuf(*fp, iobuf, _IOFBF, sizeof(iobuf));
    if (pdx_writer_open(w, *fp, format, linktype, nsec, snaplen, err) < 0) {
        if (!(to_stdout && pdx_cli_stdout_failed()))
            pdx_cli_error("%s: %s", path, err);
        return PDX_EXIT_OUTPUT;
    }
    return PDX_EXIT_OK;
}

/* Writes the streams, merged by time, to path ("-" = stdout; NULL = only
 * --payload). */
static int write_out(carver *c, const char *path)
{
    char err[PDX_ERRBUF_SIZE];
    uint32_t linktype;
    int nsec;
    uint32_t snaplen;
    int mixed = choose_format(c, &linktype, &nsec, &snaplen);
    int format = c->format;
    if (format == 0) {
        format = mixed ? PDX_OUT_PCAPNG : PDX_OUT_PCAP;
        if (mixed && !c->quiet)
            pdx_cli_note("the packets mix link types or timestamp precisions; writing pcapng");
    } else if (format == PDX_OUT_PCAP && mixed) {
        pdx_cli_error("the packets mix link types or timestamp precisions, which one pcap file "
                      "cannot hold; use --format pcapng");
        return PDX_EXIT_USAGE;
    }

    FILE *fp = NULL;
    char named[4096 + 16], tmp[PATH_MAX + 32], *real = NULL;
    if (path != NULL && c->add_ext) {
        snprintf(named, sizeof(named), "%s.%s", path, format == PDX_OUT_PCAPNG ? "pcapng" : "pcap");
        path = named;
    }
    int to_stdout = path != NULL && strcmp(path, "-") == 0;
    int direct = 0; /* written in place: not a regular file, renaming over it would replace it */
    int fifo = 0;
    uint64_t written = 0;
    pdx_writer *w = NULL;
    int status = PDX_EXIT_OK;
    c->window_empty = 0;
    if (to_stdout) {
        fp = stdout;
    } else if (path != NULL) {
        /* A regular file is written beside itself and renamed into place,
         * so that a failed carve leaves the old one; through a symlink, the
         * file it points at.  Anything else (/dev/null, /dev/stdout, a FIFO,
         * a dangling symlink) is opened and written as it is, as tcpdump -w
         * does, once there is something to write. */
        const char *final = path;
        struct stat st, lst;
        int have = stat(path, &st) == 0;
        int link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
        fifo = have && S_ISFIFO(st.st_mode);
        if (have && S_ISDIR(st.st_mode)) {
            pdx_cli_error("%s: %s", path, strerror(EISDIR));
            return PDX_EXIT_OUTPUT;
        }
        if (!have || !S_ISREG(st.st_mode))
            direct = have || link;
        else if (link && (same_file(&st, STDOUT_FILENO) || same_file(&st, STDERR_FILENO) ||
                          (real = realpath(path, NULL)) == NULL))
            direct = 1; /* /dev/stdout, /dev/fd/1: the file our output already goes to */
        else if (link)
            final = real;
        if (!direct) {
            /* O_EXCL and O_NOFOLLOW: never through something planted there;
             * a leftover of an earlier run with this PID goes first. */
            snprintf(tmp, sizeof(tmp), "%s.part%d", final, (int)getpid());
            int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
            int fd = open(tmp, flags, 0666);
            if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
                fd = open(tmp, flags, 0666);
            if (fd < 0 || (fp = fdopen(fd, "wb")) == NULL) {
                pdx_cli_error("%s: %s", path, strerror(errno));
                if (fd >= 0) {
                    close(fd);
                    unlink(tmp);
                }
                free(real);
                return PDX_EXIT_OUTPUT;
            }
        }
    }
    for (size_t i = 0; i < c->n_streams; i++) {
        cstream *s = &c->streams[i];
        if (s->cf == NULL)
            continue;
        int rc = stream_next(c, s);
        if (rc > 1) {
            status = rc;
            goto done;
        }
    }
    for (;;) {
        cstream *best = NULL;
        for (size_t i = 0; i < c->n_streams; i++) {
            cstream *s = &c->streams[i];
            if (s->have && (best == NULL || s->rec.ts_ns < best->rec.ts_ns))
                best = s;
        }
        if (best == NULL)
            break;
        const pdx_capinfo *in = pdx_capfile_info(best->cf);
        const pdx_iface *ifc = best->rec.iface < in->n_ifaces ? &in->ifaces[best->rec.iface]
                                                              : &in->ifaces[0];
        pdx_iface fallback;
        if (best->rec.iface >= in->n_ifaces) {
            fallback = in->ifaces[0];
            fallback.linktype = best->rec.linktype;
            ifc = &fallback;
        }
        uint64_t key = ((uint64_t)best->capture_id << 24) | (best->rec.iface & 0xffffffu);
        if ((status = feed_payload(c, best)) != PDX_EXIT_OK)
            goto done;
        written++;
        if (path != NULL && w == NULL &&
            (status = start_output(&fp, &w, path, direct, to_stdout, format, linktype, nsec,
                                   snaplen)) != PDX_EXIT_OK)
            goto done;
        if (w != NULL && pdx_writer_put(w, &best->rec, ifc, key, err) < 0) {
            if (!(to_stdout && pdx_cli_stdout_failed()))
                pdx_cli_error("%s: %s", path, err);
            status = PDX_EXIT_OUTPUT;
            goto done;
        }
        int rc = stream_next(c, best);
        if (rc > 1) {
            status = rc;
            goto done;
        }
    }
    /* A window the flows span without a packet in it: nothing to write.
     * Otherwise an output with no packet still gets its file header. */
    if (written == 0 && (c->has_since || c->has_until) && !c->missing) {
        c->window_empty = 1;
        c->windows_empty++;
        status = PDX_EXIT_NOMATCH;
        /* A reader of a FIFO waits for a writer: open it, so that it sees
         * the end, with nothing in it. */
        if (direct && fifo && (fp = fopen(path, "wb")) == NULL)
            pdx_cli_error("%s: %s", path, strerror(errno));
    } else if (path != NULL && w == NULL &&
               (status = start_output(&fp, &w, path, direct, to_stdout, format, linktype, nsec,
                                      snaplen)) != PDX_EXIT_OK) {
        goto done;
    }
    /* Every flow carved whole must add up to what the index says. */
    for (size_t i = c->from; i < c->to && !c->missing; i++) {
        cflow *f = &c->flows[i];
        if (f->seen_packets != f->packets || f->seen_bytes != f->bytes) {
            pdx_cli_error("flow %" PRId64 ": the captures hold %" PRIu64 " packets and %" PRIu64
                          " bytes of it, the index %s says %" PRIu64 " and %" PRIu64,
                          f->id, f->seen_packets, f->seen_bytes, c->db_path, f->packets, f->bytes);
            status = PDX_EXIT_CHANGED;
        }
    }
done:
    /* A failed write to stdout is kept (pdx_cli_stdout_failed) and reported
     * when stdout is closed, whatever else failed before it: what went out
     * is incomplete either way.  The exit code stays the first failure's. */
    if (to_stdout && fflush(stdout) != 0)
        pdx_cli_stdout_failed();
    if (pdx_writer_close(w, err) < 0 && !(to_stdout && pdx_cli_stdout_failed()) &&
        status == PDX_EXIT_OK) {
        pdx_cli_error("%s: %s", path, err);
        status = PDX_EXIT_OUTPUT;
    }
    if (to_stdout && pdx_cli_stdout_failed() && status == PDX_EXIT_OK)
        status = PDX_EXIT_OUTPUT;
    if (fp != NULL && !to_stdout) {
        if (fclose(fp) != 0 && status == PDX_EXIT_OK) {
            pdx_cli_error("%s: %s", path, strerror(errno));
            status = PDX_EXIT_OUTPUT;
        }
        if (!direct && status == PDX_EXIT_OK && rename(tmp, real ? real : path) != 0) {
            pdx_cli_error("%s: %s", path, strerror(errno));
            status = PDX_EXIT_OUTPUT;
        }
        if (!direct && status != PDX_EXIT_OK)
            unlink(tmp);
    }
    free(real);
    return status;
}

/* Carves flows [from, to) to path. */
static int carve_range(carver *c, size_t from, size_t to, const char *path)
{
    char err[PDX_ERRBUF_SIZE];
    c->from = from;
    c->to = to;
    c->window_empty = 0;
    int status = prepare(c, from, to);
    for (size_t i = from; i < to && status == PDX_EXIT_OK && c->payload; i++)
        if (pdx_reasm_open(&c->flows[i].reasm, c->payload, c->flows[i].id, c->flows[i].proto,
                           err) < 0) {
            pdx_cli_error("--payload %s: %s", c->payload, err);
            status = PDX_EXIT_OUTPUT;
        }
    if (status == PDX_EXIT_OK)
        status = write_out(c, path);
    for (size_t i = from; i < to; i++) {
        if (c->window_empty)
            pdx_reasm_discard(c->flows[i].reasm); /* no stream files for an empty window */
        else if (c->flows[i].reasm != NULL && pdx_reasm_close(c->flows[i].reasm, err) < 0 &&
                 status == PDX_EXIT_OK) {
            pdx_cli_error("--payload %s: %s", c->payload, err);
            status = PDX_EXIT_OUTPUT;
        }
        c->flows[i].reasm = NULL;
    }
    free_streams(c);
    if (status == PDX_EXIT_OK && c->missing)
        status = PDX_EXIT_CHANGED;
    return status;
}

/* ---- selecting flows ---------------------------------------------------------- */

static int select_ids(carver *c, char **ids, int n)
{
    char err[PDX_ERRBUF_SIZE];
    sqlite3_stmt *st = NULL;
    sqlite3 *db = pdx_index_db(c->ix);
    if (sqlite3_prepare_v2(db, FLOW_SELECT "WHERE id=?1", -1, &st, NULL) != SQLITE_OK) {
        pdx_cli_error("%s: %s", c->db_path, sqlite3_errmsg(db));
        return PDX_EXIT_DB;
    }
    for (int i = 0; i < n; i++) {
        uint64_t id = 0;
        pdx_cli_parse_u64(ids[i], &id);
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
            pdx_cli_error("no flow %s in %s", ids[i], c->db_path);
            sqlite3_finalize(st);
            return PDX_EXIT_NOMATCH;
        }
        if (rc != SQLITE_ROW) {
            pdx_cli_error("%s: %s", c->db_path, sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return PDX_EXIT_DB;
        }
        if (add_flow(c, st, err) < 0) {
            pdx_cli_error("%s: %s", c->db_path, err);
            sqlite3_finalize(st);
            return PDX_EXIT_DB;
        }
    }
    sqlite3_finalize(st);
    return PDX_EXIT_OK;
}

static int select_filter(carver *c, const char *expr)
{
    char err[PDX_ERRBUF_SIZE];
    size_t pos = 0;
    pdx_select sel;
    int status = PDX_EXIT_OK;
    int rc = pdx_select_init(&sel, c->ix, expr, c->has_since ? &c->since_ns : NULL,
                             c->has_until ? &c->until_ns : NULL, err, &pos);
    if (rc < 0) {
        pdx_cli_error("--filter: %s", err);
        if (rc == PDX_EUSAGE && expr)
            fprintf(stderr, "  %s\n  %*s^\n", expr, (int)pos, "");
        pdx_select_free(&sel);
        return rc == PDX_EUSAGE ? PDX_EXIT_USAGE : PDX_EXIT_DB;
    }
    char *sql = NULL;
    size_t len = strlen(sel.where) + 256;
    sql = malloc(len);
    sqlite3_stmt *st = NULL;
    sqlite3 *db = pdx_index_db(c->ix);
    if (sql == NULL) {
        pdx_select_free(&sel);
        return PDX_EXIT_DB;
    }
    snprintf(sql, len, FLOW_SELECT "%s ORDER BY id", sel.where);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
        pdx_select_bind(&sel, st, 1) < 0) {
        pdx_cli_error("%s: %s", c->db_path, sqlite3_errmsg(db));
        status = PDX_EXIT_DB;
    } else {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if (add_flow(c, st, err) < 0)
                break;
        if (rc == SQLITE_ROW) {
            pdx_cli_error("%s: %s", c->db_path, err);
            status = PDX_EXIT_DB;
        } else if (rc != SQLITE_DONE) {
            pdx_cli_error("%s: %s", c->db_path, sqlite3_errmsg(db));
            status = PDX_EXIT_DB;
        }
    }
    sqlite3_finalize(st);
    free(sql);
    pdx_select_free(&sel);
    return status;
}

int pdx_cmd_carve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'F'},
        {"filter", required_argument, NULL, 'f'},
        {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},
        {"split", required_argument, NULL, 'S'},
        {"partial", no_argument, NULL, 'p'},
        {"payload", required_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    carver c;
    const char *db_opt = NULL, *out = NULL, *filter = NULL, *split = NULL;
    char err[PDX_ERRBUF_SIZE];
    int opt, status = PDX_EXIT_OK;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;

    memset(&c, 0, sizeof(c));
    optind = 1;
    while ((opt = pdx_cli_getopt(argc, argv, "o:qh", opts)) != -1) {
        switch (opt) {
        case 'd': db_opt = optarg; break;
        case 'o': out = optarg; break;
        case 'F':
            if (strcmp(optarg, "pcap") == 0)
                c.format = PDX_OUT_PCAP;
            else if (strcmp(optarg, "pcapng") == 0)
                c.format = PDX_OUT_PCAPNG;
            else {
                pdx_cli_error("--format: '%s' is not pcap or pcapng", optarg);
                return PDX_EXIT_USAGE;
            }
            break;
        case 'f': filter = optarg; break;
        case 's':
        case 'u': {
            int64_t t;
            if (pdx_time_parse(optarg, now_ns, &t, err) < 0) {
                pdx_cli_error("--%s: %s", opt == 's' ? "since" : "until", err);
                return PDX_EXIT_USAGE;
            }
            if (opt == 's') {
                c.has_since = 1;
                c.since_ns = t;
            } else {
                c.has_until = 1;
                c.until_ns = t;
            }
            break;
        }
        case 'S': split = optarg; break;
        case 'p': c.partial = 1; break;
        case 'P': c.payload = optarg; break;
        case 'q': c.quiet = 1; break;
        case 'h': usage(stdout); return pdx_cli_close_stdout();
        default: pdx_cli_bad_option(argv, "o:qh", opts); usage(stderr); return PDX_EXIT_USAGE;
        }
    }
    if (filter == NULL && optind >= argc) {
        pdx_cli_error("no flow ID and no --filter");
        usage(stderr);
        return PDX_EXIT_USAGE;
    }
    if (filter != NULL && optind < argc) {
        pdx_cli_error("give flow IDs or --filter, not both");
        return PDX_EXIT_USAGE;
    }
    if ((c.has_since || c.has_until) && filter == NULL) {
        pdx_cli_error("--since and --until go with --filter");
        return PDX_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        uint64_t id;
        if (pdx_cli_parse_u64(argv[i], &id) < 0 || id == 0 || id > INT64_MAX) {
            pdx_cli_error("'%s' is not a flow ID", argv[i]);
            return PDX_EXIT_USAGE;
        }
    }
    if ((out != NULL && *out == 0) || (split != NULL && *split == 0)) {
        pdx_cli_error("%s: an empty path", out != NULL && *out == 0 ? "-o" : "--split");
        return PDX_EXIT_USAGE;
    }
    if (split != NULL && out != NULL) {
        pdx_cli_error("-o and --split exclude each other");
        return PDX_EXIT_USAGE;
    }
    if (c.payload != NULL && mkdir(c.payload, 0777) != 0 && errno != EEXIST) {
        pdx_cli_error("--payload %s: %s", c.payload, strerror(errno));
        return PDX_EXIT_OUTPUT;
    }
    if (split == NULL && out == NULL && c.payload == NULL) {
        if (isatty(STDOUT_FILENO)) {
            pdx_cli_error("no output: give -o FILE, -o - or --split DIR");
            return PDX_EXIT_USAGE;
        }
        out = "-";
    }
    c.db_path = pdx_cli_db_path(db_opt);
    if (pdx_index_open(&c.ix, c.db_path, PDX_INDEX_READ, err) < 0) {
        pdx_cli_error("%s", err);
        return PDX_EXIT_DB;
    }
    /* Reads see one snapshot even while an ingest commits. */
    sqlite3_exec(pdx_index_db(c.ix), "BEGIN", NULL, NULL, NULL);
    status = filter ? select_filter(&c, filter) : select_ids(&c, argv + optind, argc - optind);
    if (status == PDX_EXIT_OK && c.n_flows == 0) {
        if (!c.quiet)
            pdx_cli_note("no flow matches");
        status = PDX_EXIT_NOMATCH;
    }
    size_t files = 0;
    int partial_missing = 0;
    if (status == PDX_EXIT_OK && split == NULL) {
        status = carve_range(&c, 0, c.n_flows, out);
    } else if (status == PDX_EXIT_OK) {
        if (mkdir(split, 0777) != 0 && errno != EEXIST) {
            pdx_cli_error("%s: %s", split, strerror(errno));
            status = PDX_EXIT_OUTPUT;
        }
        c.add_ext = 1;
        for (size_t i = 0; i < c.n_flows && status == PDX_EXIT_OK; i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%" PRId64, split, c.flows[i].id);
            int r = carve_range(&c, i, i + 1, path);
            if (r == PDX_EXIT_CHANGED && c.partial) {
                c.missing = 0;
                partial_missing = 1; /* the exit says so once every flow is written */
            }
            else if (r != PDX_EXIT_OK && r != PDX_EXIT_NOMATCH)
                status = r;
            files += r != PDX_EXIT_NOMATCH;
        }
        if (status == PDX_EXIT_OK && files == 0)
            status = PDX_EXIT_NOMATCH;
        if ((status == PDX_EXIT_OK || status == PDX_EXIT_NOMATCH) && partial_missing)
            status = PDX_EXIT_CHANGED;
    }
    if (status == PDX_EXIT_NOMATCH && c.windows_empty > 0 && !c.quiet)
        pdx_cli_note("%zu flows match, but none has a packet between --since and --until; nothing "
                     "written", c.n_flows);
    sqlite3_exec(pdx_index_db(c.ix), "COMMIT", NULL, NULL, NULL);
    pdx_index_close(c.ix);
    free(c.flows);
    if (out != NULL && strcmp(out, "-") == 0) {
        /* Reports a failed write to stdout (with the errno kept when it was
         * first seen) even after another failure, whose exit code stays. */
        int r = pdx_cli_close_stdout();
        if (status == PDX_EXIT_OK)
            status = r;
    }
    return status;
}

/* ---- verify ------------------------------------------------------------------------ */

int pdx_cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    int opt, quiet = 0;
    char err[PDX_ERRBUF_SIZE];
    optind = 1;
    while ((opt = pdx_cli_getopt(argc, argv, "qh", opts)) != -1) {
        switch (opt) {
        case 'd': db_opt = optarg; break;
        case 'q': quiet = 1; break;
        case 'h':
            printf("usage: pcapdex verify [--db FILE] [-q]\n\nChecks the index's pages and B-trees "
                   "(SQLite's quick_check), then that every\nindexed capture is still present and "
                   "unchanged (size, mtime, fingerprint);\nnames those that are not (captures a "
                   "ring overwrote, index --ring, are\ncounted apart).  Then checks "
                   "that the rollups hold the flows' sums.\nExit: 0 all present, 6 some missing or "
                   "changed, 3 a damaged index, a database\nerror or rollups that disagree with the "
                   "flows.\n");
            return pdx_cli_close_stdout();
        default: pdx_cli_bad_option(argv, "qh", opts); return PDX_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        pdx_cli_error("unexpected argument '%s'", argv[optind]);
        return PDX_EXIT_USAGE;
    }
    const char *db = pdx_cli_db_path(db_opt);
    pdx_index *ix = NULL;
    if (pdx_index_open(&ix, db, PDX_INDEX_READ, err) < 0) {
        pdx_cli_error("%s", err);
        return PDX_EXIT_DB;
    }
    sqlite3_stmt *st = NULL;
    int status = PDX_EXIT_OK;
    uint64_t ok = 0, bad = 0, replaced = 0;
    /* First the database itself: SQLite's check of every page and B-tree
     * (not of what the rows say; the commands check that as they read). */
    if (sqlite3_prepare_v2(pdx_index_db(ix), "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK) {
        pdx_cli_error("%s: %s", db, sqlite3_errmsg(pdx_index_db(ix)));
        pdx_index_close(ix);
        return PDX_EXIT_DB;
    }
    int qc = sqlite3_step(st);
    const char *what = qc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (qc != SQLITE_ROW || what == NULL || strcmp(what, "ok") != 0) {
        static const char pfx[] = "*** in database main ***\n";
        if (what != NULL && strncmp(what, pfx, sizeof(pfx) - 1) == 0)
            what += sizeof(pfx) - 1;
        pdx_cli_error("%s: the index is damaged: %s", db,
                      what != NULL ? what : sqlite3_errmsg(pdx_index_db(ix)));
        sqlite3_finalize(st);
        pdx_index_close(ix);
        return PDX_EXIT_DB;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!quiet)
        pdx_cli_note("the database's pages and B-trees are sound");
    if (sqlite3_prepare_v2(pdx_index_db(ix), "SELECT id FROM captures ORDER BY id", -1, &st, NULL) !=
        SQLITE_OK) {
        pdx_cli_error("%s: %s", db, sqlite3_errmsg(pdx_index_db(ix)));
        pdx_index_close(ix);
        return PDX_EXIT_DB;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = pdx_capfile_check(ix, sqlite3_column_int64(st, 0), err);
        if (r == PDX_OK) {
            ok++;
            continue;
        }
        if (r == 1) {
            replaced++; /* a ring's earlier round: gone by design, not damage */
            continue;
        }
        bad++;
        if (r == PDX_EMISSING || r == PDX_ECHANGED || r == PDX_EIO) {
            pdx_cli_print_line(err);
            status = PDX_EXIT_CHANGED;
        } else {
            pdx_cli_error("%s: %s", db, err);
            status = PDX_EXIT_DB;
            break;
        }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        pdx_cli_error("%s: %s", db, sqlite3_errmsg(pdx_index_db(ix)));
        status = PDX_EXIT_DB;
    }
    sqlite3_finalize(st);
    if (!quiet)
        pdx_cli_note("%llu captures present and unchanged, %llu not", (unsigned long long)ok,
                     (unsigned long long)bad);
    if (!quiet && replaced)
        pdx_cli_note("%llu captures overwritten in a capture ring (index --ring): their flows "
                     "stay, their packets are gone", (unsigned long long)replaced);
    if (status != PDX_EXIT_DB) {
        /* The rollups answer an unfiltered --top: they must be the flows' sums. */
        int kind = -1;
        rc = pdx_rollup_check(pdx_index_db(ix), &kind, err);
        if (rc < 0) {
            pdx_cli_error("%s: %s", db, err);
            status = PDX_EXIT_DB;
        } else if (rc == 2) {
            pdx_cli_error("%s: the %s rollups disagree with the flows (were flows written by another "
                          "tool?): delete them (DELETE FROM rollups) and --top reads the flows",
                          db, pdx_rollup_kind_name(kind));
            status = PDX_EXIT_DB;
        } else if (!quiet) {
            pdx_cli_note(rc == 1 ? "rollups agree with the flows"
                                 : "some captures have no rollups: an unfiltered --top reads the flows");
        }
    }
    pdx_index_close(ix);
    int r = pdx_cli_close_stdout();
    return status != PDX_EXIT_OK ? status : r;
}
