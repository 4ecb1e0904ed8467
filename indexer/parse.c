/*
 * parse.c - reading, decoding and filtering one capture into chunks; see
 * parse.h.
 *
 * On the pool, the job owns PARSE_QUEUE chunks: the work item fills free
 * ones and queues them, the caller takes them in order and gives them back.
 * With none free the work item waits, so memory stays bounded however large
 * the capture, and a closed job makes it stop at the next chunk.  On the
 * caller's thread, the first chunk is refilled each time.
 */
#include "parse.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "dynlib.h"
#include "zsource.h"

#define PARSE_QUEUE 4

typedef struct bpf_entry {
    uint32_t linktype;
    int ok;
    struct bpf_program prog;
} bpf_entry;

struct parse_job {
    parse_opts opts;
    pdx_capture *cap;
    pdx_zsrc *zs;
    pdx_capinfo header;
    bpf_entry *bpf;
    size_t n_bpf;
    uint8_t *bpf_buf; /* a loopback packet with its family rewritten (loopback_for_bpf) */
    parse_result res;
    int ended;       /* the reader is done (end of file or damage) */
    parse_chunk *chunks[PARSE_QUEUE]; /* [0] from the open, the rest from the start */
    size_t n_chunks;
    /* Pool mode.  Everything below is guarded by mu once started. */
    int started;
    uv_work_t work;
    uv_mutex_t mu;
    uv_cond_t cv;
    parse_chunk *free_[PARSE_QUEUE];
    size_t n_free;
    parse_chunk *ready[PARSE_QUEUE]; /* a ring, oldest at ready_head */
    size_t ready_head, n_ready;
    int cancel;      /* the caller closed the job */
    int finished;    /* the work item returned */
    int closed;      /* parse_job_close() was called */
    int reported;    /* the loop reported the work item done */
};

static void job_free(parse_job *j)
{
    for (size_t i = 0; i < j->n_bpf; i++)
        if (j->bpf[i].ok)
            pdx_pcap_fns_get(NULL)->freecode(&j->bpf[i].prog);
    free(j->bpf);
    free(j->bpf_buf);
    for (size_t i = 0; i < j->n_chunks; i++)
        free(j->chunks[i]);
    pdx_capture_close(j->cap);
    pdx_zsrc_close(j->zs);
    if (j->started) {
        uv_cond_destroy(&j->cv);
        uv_mutex_destroy(&j->mu);
    }
    free(j);
}

parse_job *parse_job_open(const char *path, const parse_opts *opts, int *compression, int *code,
                          char *errbuf)
{
    *code = PDX_OK;
    parse_job *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->chunks[0] = malloc(sizeof(parse_chunk))) == NULL) {
        free(j);
        *code = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        return NULL;
    }
    j->n_chunks = 1;
    j->opts = *opts;
    if ((*code = pdx_capture_open_any(path, &j->cap, &j->zs, compression, errbuf)) < 0) {
        job_free(j);
        return NULL;
    }
    j->header = *pdx_capture_info(j->cap);
    j->header.n_ifaces = 0;
    j->header.ifaces = NULL;
    j->header.n_sections = 0;
    j->header.sections = NULL;
    j->res.first_ns = j->res.last_ns = INT64_MIN;
    return j;
}

const pdx_capinfo *parse_job_header(const parse_job *j)
{
    return &j->header;
}

/* ---- filters ---------------------------------------------------------------- */

static void filter_warning(parse_job *j, uint32_t linktype, const char *why)
{
    if (j->res.n_warn < PARSE_MAX_WARN)
        snprintf(j->res.warn[j->res.n_warn++], PDX_ERRBUF_SIZE,
                 "filter '%s' does not compile for link type %u: %s; such packets are dropped",
                 j->opts.filter, linktype, why);
}

static int linktype_to_dlt(uint32_t lt)
{
    return lt == 101 ? DLT_RAW : (int)lt;
}

/* AF_INET6 as BSD loopback headers carry it: NetBSD/OpenBSD, FreeBSD, macOS,
 * and Linux's. */
static int loopback_inet6(uint32_t af)
{
    return af == 24 || af == 28 || af == 30 || af == 10;
}

/*
 * A DLT_NULL packet starts with its address family in the byte order of the
 * machine that captured it, and with that system's AF_INET6; DLT_LOOP's is in
 * network order.  A filter compiled without a file (pcap_open_dead) tests
 * this machine's order and AF_INET6, so IPv6 from a Mac, or anything from a
 * machine of the other byte order, would never match.  libpcap, reading a
 * file itself, tests the BSD values and swaps; here the packet goes to the
 * filter with its family rewritten for this machine instead.
 */
static const uint8_t *loopback_for_bpf(parse_job *j, const pdx_record *rec)
{
    if ((rec->linktype != 0 && rec->linktype != 108) || rec->caplen < 4)
        return rec->data;
    uint32_t le = pdx_load_le32(rec->data), be = pdx_load_be32(rec->data), af;
    if (le == 2 || be == 2)
        af = AF_INET;
    else if (loopback_inet6(le) || loopback_inet6(be))
        af = AF_INET6;
    else
        return rec->data;
    if (j->bpf_buf == NULL && (j->bpf_buf = malloc(PDX_MAX_CAPLEN)) == NULL)
        return rec->data;
    memcpy(j->bpf_buf, rec->data, rec->caplen);
    if (rec->linktype == 108) {
        j->bpf_buf[0] = (uint8_t)(af >> 24);
        j->bpf_buf[1] = (uint8_t)(af >> 16);
        j->bpf_buf[2] = (uint8_t)(af >> 8);
        j->bpf_buf[3] = (uint8_t)af;
    } else {
        memcpy(j->bpf_buf, &af, 4);
    }
    return j->bpf_buf;
}

/* 1 keep, 0 drop. */
static int bpf_keep(parse_job *j, const pdx_record *rec)
{
    /* The front end loaded libpcap when it checked the filter. */
    const pdx_pcap_fns *pc = pdx_pcap_fns_get(NULL);
    bpf_entry *e = NULL;
    for (size_t i = 0; i < j->n_bpf; i++)
        if (j->bpf[i].linktype == rec->linktype)
            e = &j->bpf[i];
    if (e == NULL) {
        bpf_entry *n = realloc(j->bpf, (j->n_bpf + 1) * sizeof(*n));
        if (n == NULL)
            return 1;
        j->bpf = n;
        e = &j->bpf[j->n_bpf++];
        memset(e, 0, sizeof(*e));
        e->linktype = rec->linktype;
        pcap_t *p = pc != NULL ? pc->open_dead(linktype_to_dlt(rec->linktype), PDX_MAX_CAPLEN) : NULL;
        if (p != NULL) {
            e->ok = pc->compile(p, &e->prog, j->opts.filter, 1, PCAP_NETMASK_UNKNOWN) == 0;
            if (!e->ok)
                filter_warning(j, rec->linktype, pc->geterr(p));
            pc->close(p);
        }
    }
    if (!e->ok)
        return 0;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof(h));
    h.caplen = rec->caplen;
    h.len = rec->origlen;
    return pc->offline_filter(&e->prog, &h, loopback_for_bpf(j, rec)) != 0;
}

static int in_range(const uint8_t *a, const uint8_t *lo, const uint8_t *hi)
{
    return memcmp(a, lo, 16) >= 0 && memcmp(a, hi, 16) <= 0;
}

static int excluded(const parse_opts *o, const pdx_pkt *p)
{
    if (p->kind == PDX_KIND_L2)
        return 0;
    for (size_t i = 0; i < o->n_ex; i++)
        if (in_range(p->src, o->ex_lo[i], o->ex_hi[i]) || in_range(p->dst, o->ex_lo[i], o->ex_hi[i]))
            return 1;
    return 0;
}

/* ---- reading ------------------------------------------------------------------ */

/* Fills c with the next packets; sets c->last at the end of the capture. */
static void fill(parse_job *j, parse_chunk *c)
{
    parse_result *r = &j->res;
    pdx_record rec;
    c->n = 0;
    c->last = 0;
    while (c->n < PARSE_CHUNK_ITEMS && !j->ended) {
        int rc = pdx_capture_next(j->cap, &rec, r->err);
        if (rc <= 0) {
            j->ended = 1;
            if (rc < 0) {
                r->damaged = 1;
                if (j->zs != NULL && pdx_zsrc_error(j->zs)[0]) {
                    size_t l = strlen(r->err);
                    snprintf(r->err + l, sizeof(r->err) - l, " (%s)", pdx_zsrc_error(j->zs));
                }
            }
            break;
        }
        r->packets++;
        r->bytes += rec.origlen;
        r->cap_bytes += rec.caplen;
        if (r->first_ns == INT64_MIN || rec.ts_ns < r->first_ns)
            r->first_ns = rec.ts_ns;
        if (r->last_ns == INT64_MIN || rec.ts_ns > r->last_ns)
            r->last_ns = rec.ts_ns;
        parse_item *it = &c->item[c->n];
        pdx_decode(rec.data, rec.caplen, rec.linktype, &it->pkt);
        if (it->pkt.flags & PDX_PKT_TRUNCATED)
            r->truncated++;
        if (it->pkt.flags & PDX_PKT_INVALID)
            r->invalid++;
        if ((j->opts.n_ex && excluded(&j->opts, &it->pkt)) ||
            (j->opts.filter && !bpf_keep(j, &rec))) {
            r->filtered += r->packets > j->opts.count_from;
            continue;
        }
        it->hash = pdx_flow_key(&it->pkt, rec.linktype, &it->key);
        it->offset = rec.offset;
        it->ts_ns = rec.ts_ns;
        it->linktype = rec.linktype;
        it->wirelen = rec.origlen;
        it->counted = r->packets <= j->opts.count_from;
        c->n++;
    }
    c->pos = j->zs ? pdx_zsrc_consumed(j->zs) : pdx_capture_tell(j->cap);
    if (j->ended) {
        c->last = 1;
        r->raw_size = pdx_capture_tell(j->cap);
    }
}

/* ---- pool mode ------------------------------------------------------------------- */

static void work_cb(uv_work_t *w)
{
    parse_job *j = w->data;
    for (;;) {
        uv_mutex_lock(&j->mu);
        while (!j->cancel && j->n_free == 0)
            uv_cond_wait(&j->cv, &j->mu);
        if (j->cancel) {
            uv_mutex_unlock(&j->mu);
            break;
        }
        parse_chunk *c = j->free_[--j->n_free];
        uv_mutex_unlock(&j->mu);
        fill(j, c);
        uv_mutex_lock(&j->mu);
        j->ready[(j->ready_head + j->n_ready) % PARSE_QUEUE] = c;
        j->n_ready++;
        uv_cond_broadcast(&j->cv);
        uv_mutex_unlock(&j->mu);
        if (c->last)
            break;
    }
    uv_mutex_lock(&j->mu);
    j->finished = 1;
    uv_cond_broadcast(&j->cv);
    uv_mutex_unlock(&j->mu);
}

static void after_work_cb(uv_work_t *w, int status)
{
    parse_job *j = w->data;
    (void)status;
    j->reported = 1;
    if (j->closed)
        job_free(j);
}

int parse_job_start(parse_job *j, uv_loop_t *loop)
{
    while (j->n_chunks < PARSE_QUEUE) {
        parse_chunk *c = malloc(sizeof(*c));
        if (c == NULL)
            return -1;
        j->chunks[j->n_chunks++] = c;
    }
    for (size_t i = 0; i < PARSE_QUEUE; i++)
        j->free_[i] = j->chunks[i];
    j->n_free = PARSE_QUEUE;
    if (uv_mutex_init(&j->mu) != 0)
        return -1;
    if (uv_cond_init(&j->cv) != 0) {
        uv_mutex_destroy(&j->mu);
        return -1;
    }
    j->started = 1;
    j->work.data = j;
    if (uv_queue_work(loop, &j->work, work_cb, after_work_cb) != 0) {
        uv_cond_destroy(&j->cv);
        uv_mutex_destroy(&j->mu);
        j->started = 0;
        return -1;
    }
    return 0;
}

const parse_chunk *parse_job_next(parse_job *j)
{
    if (!j->started) {
        fill(j, j->chunks[0]);
        return j->chunks[0];
    }
    /* The work item ends only after queueing the last chunk (or when the
     * job is closed, after which nobody asks): there is always one to wait
     * for. */
    uv_mutex_lock(&j->mu);
    while (j->n_ready == 0)
        uv_cond_wait(&j->cv, &j->mu);
    parse_chunk *c = j->ready[j->ready_head];
    j->ready_head = (j->ready_head + 1) % PARSE_QUEUE;
    j->n_ready--;
    uv_mutex_unlock(&j->mu);
    return c;
}

void parse_job_release(parse_job *j, const parse_chunk *c)
{
    if (!j->started)
        return;
    uv_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n_chunks; i++)
        if (j->chunks[i] == c)
            j->free_[j->n_free++] = j->chunks[i];
    uv_cond_broadcast(&j->cv);
    uv_mutex_unlock(&j->mu);
}

const parse_result *parse_job_result(const parse_job *j)
{
    return &j->res;
}

const pdx_capinfo *parse_job_info(const parse_job *j)
{
    return pdx_capture_info(j->cap);
}

const pdx_capstats *parse_job_stats(const parse_job *j)
{
    return pdx_capture_stats(j->cap);
}

void parse_job_close(parse_job *j)
{
    if (j == NULL)
        return;
    if (!j->started) {
        job_free(j);
        return;
    }
    uv_mutex_lock(&j->mu);
    j->cancel = 1;
    uv_cond_broadcast(&j->cv);
    while (!j->finished)
        uv_cond_wait(&j->cv, &j->mu);
    uv_mutex_unlock(&j->mu);
    j->closed = 1;
    if (j->reported)
        job_free(j);
}
