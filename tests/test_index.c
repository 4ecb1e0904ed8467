/* test_index.c - the SQLite index: migrations, captures, flows, offset
 * segments, taking up live flows, and refusing databases that are not ours. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "index.h"
#include "unit.h"

static char dbpath[64];

static void tmpdb(void)
{
    snprintf(dbpath, sizeof(dbpath), "/tmp/pdx-unit-%d.db", (int)getpid());
    unlink(dbpath);
}

static void cleanup(void)
{
    char p[96];
    unlink(dbpath);
    snprintf(p, sizeof(p), "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", dbpath);
    unlink(p);
}

static pdx_capinfo one_iface_info(pdx_iface *ifc, pdx_section *sec)
{
    pdx_capinfo info;
    memset(&info, 0, sizeof(info));
    memset(ifc, 0, sizeof(*ifc));
    memset(sec, 0, sizeof(*sec));
    info.format = PDX_FMT_PCAP;
    info.version_major = 2;
    info.version_minor = 4;
    info.pcap_hdrlen = 16;
    info.snaplen = 65535;
    ifc->linktype = 1;
    ifc->snaplen = 65535;
    ifc->tsresol = 6;
    info.n_ifaces = 1;
    info.ifaces = ifc;
    info.n_sections = 1;
    info.sections = sec;
    return info;
}

/* A fresh index at dbpath, open for writing, and a row for capture
 * /x/a.pcap with one Ethernet interface (info, ifc and sec back it). */
static pdx_index *new_index_row(pdx_caprow *row, pdx_capinfo *info, pdx_iface *ifc,
                                pdx_section *sec, const char *fingerprint)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_index *ix = NULL;
    tmpdb();
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_WRITE, err), 0);
    *info = one_iface_info(ifc, sec);
    memset(row, 0, sizeof(*row));
    row->path = "/x/a.pcap";
    row->info = info;
    row->first_ns = row->last_ns = INT64_MIN;
    strcpy(row->fingerprint, fingerprint);
    return ix;
}

static int count_rows(pdx_index *ix, const char *sql)
{
    sqlite3_stmt *st;
    int n = -1;
    CHECK(sqlite3_prepare_v2(pdx_index_db(ix), sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int live_cb(void *ctx, const pdx_flow *f)
{
    pdx_flow *out = ctx;
    *out = *f;
    return 0;
}

typedef struct segs {
    int n;
    uint64_t total;
    uint64_t first;
} segs;

static int seg_cb(void *ctx, const pdx_segment *s)
{
    segs *g = ctx;
    if (g->n == 0)
        g->first = s->offsets[0];
    g->n++;
    g->total += s->count;
    return 0;
}

static void create_write_read(void)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_iface ifc;
    pdx_section sec;
    pdx_capinfo info;
    pdx_caprow row;
    pdx_index *ix = new_index_row(&row, &info, &ifc, &sec, "h1:abc");
    CHECK(pdx_index_schema_version(ix) >= 1);
    row.size = 1000;
    row.mtime_ns = 5;
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    CHECK_EQ(pdx_index_capture_insert(ix, &row, err), 0);
    CHECK_EQ(row.id, 1);

    pdx_flow f;
    memset(&f, 0, sizeof(f));
    f.id = 7;
    f.kind = PDX_KIND_IP4;
    f.proto = 17;
    f.src[10] = f.src[11] = f.dst[10] = f.dst[11] = 0xff;
    f.src[15] = 1;
    f.dst[15] = 2;
    f.sport = 5353;
    f.dport = 53;
    f.vlan = f.vlan_inner = -1;
    f.first_ns = 10;
    f.last_ns = 2000000010;
    f.pk[0] = 2;
    f.by[0] = 120;
    f.state = PDX_FS_LIVE;
    f.first_capture = f.last_capture = 1;
    f.cur_capture = 1;
    uint8_t offs[] = {24, 100};
    f.obuf = offs;
    f.olen = 2;
    f.ocount = 2;
    f.ofirst = 24;
    f.olast = 124;
    CHECK_EQ(pdx_index_put_segment(ix, &f), 0);
    CHECK_EQ(pdx_index_put_flow(ix, &f), 0);
    row.packets = 2;
    row.status = "complete";
    row.warnings = "";
    CHECK_EQ(pdx_index_capture_finish(ix, &row, err), 0);
    CHECK_EQ(pdx_index_commit(ix, err), 0);

    pdx_capknown k;
    CHECK_EQ(pdx_index_capture_by_path(ix, "/x/a.pcap", &k, err), 1);
    CHECK_EQ(k.id, 1);
    CHECK_EQ_U64(k.size, 1000);
    CHECK_EQ(pdx_index_capture_by_path(ix, "/x/b.pcap", &k, err), 0);
    CHECK_EQ(pdx_index_capture_by_fingerprint(ix, "h1:abc", 1000, &k, err), 1);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM interfaces"), 1);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM flows WHERE community_id LIKE '1:%'"), 1);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM flows_view WHERE src = '0.0.0.1'"), 1);
    int64_t max = 0;
    CHECK_EQ(pdx_index_max_flow_id(ix, &max, err), 0);
    CHECK_EQ(max, 7);
    pdx_flow back;
    memset(&back, 0, sizeof(back));
    CHECK_EQ(pdx_index_load_live(ix, live_cb, &back, err), 0);
    CHECK_EQ(back.id, 7);
    CHECK_EQ(back.sport, 5353);
    CHECK_EQ(back.kind, PDX_KIND_IP4);
    CHECK_EQ(back.pk[0], 2);
    CHECK_MEM(back.src, f.src, 16);
    segs g = {0, 0, 0};
    CHECK_EQ(pdx_index_segments(ix, 7, seg_cb, &g, err), 0);
    CHECK_EQ(g.n, 1);
    CHECK_EQ_U64(g.total, 2);
    CHECK_EQ_U64(g.first, 24);
    CHECK_EQ(count_rows(ix, "SELECT value FROM meta WHERE key='max_duration_ns'"), 2000000000);
    pdx_index_close(ix);

    /* Reopened read-only it is still an index. */
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_READ, err), 0);
    pdx_index_close(ix);
    cleanup();
}

static void rollback_leaves_nothing(void)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_iface ifc;
    pdx_section sec;
    pdx_capinfo info;
    pdx_caprow row;
    pdx_index *ix = new_index_row(&row, &info, &ifc, &sec, "h1:x");
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    CHECK_EQ(pdx_index_capture_insert(ix, &row, err), 0);
    pdx_index_rollback(ix);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM captures"), 0);
    pdx_index_close(ix);
    cleanup();
}

static void udp_flow(pdx_flow *f, int64_t id)
{
    memset(f, 0, sizeof(*f));
    f->id = id;
    f->kind = PDX_KIND_IP4;
    f->proto = 17;
    f->src[10] = f->src[11] = f->dst[10] = f->dst[11] = 0xff;
    f->src[14] = (uint8_t)(id >> 8);
    f->src[15] = (uint8_t)id;
    f->dst[15] = 53;
    f->sport = (uint16_t)(1024 + id);
    f->dport = 53;
    f->vlan = f->vlan_inner = -1;
    f->first_ns = id * 1000;
    f->last_ns = id * 1000 + 10;
    f->pk[0] = f->pk[1] = 1;
    f->by[0] = f->by[1] = 80;
    f->end_reason = PDX_END_IDLE;
    f->first_capture = f->last_capture = 1;
}

/* Flow rows are held back and stored sorted by ID: more than one batch of
 * them, given in reverse, all arrive; a flow given twice keeps its second
 * row; a rollback drops what was held back; a clash fails the commit. */
static void flow_rows_held_back(void)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_iface ifc;
    pdx_section sec;
    pdx_capinfo info;
    pdx_caprow row;
    pdx_flow f;
    pdx_index *ix = new_index_row(&row, &info, &ifc, &sec, "h1:a");
    row.status = "complete";
    row.warnings = "";
    int64_t max = -1;
    CHECK_EQ(pdx_index_max_flow_id(ix, &max, err), 0); /* nothing held back yet */
    CHECK_EQ(max, 0);
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    CHECK_EQ(pdx_index_capture_insert(ix, &row, err), 0);
    const int n = 40000;
    for (int id = n; id >= 1; id--) {
        udp_flow(&f, id);
        CHECK_EQ(pdx_index_put_flow(ix, &f), 0);
        if (id == 5) { /* flow 5 goes on: its row again, as an update */
            f.stored = 1;
            f.pk[0] = 9;
            f.last_ns += 5;
            CHECK_EQ(pdx_index_put_flow(ix, &f), 0);
        }
    }
    CHECK_EQ(pdx_index_max_flow_id(ix, &max, err), 0);
    CHECK_EQ(max, n);
    CHECK_EQ(pdx_index_capture_finish(ix, &row, err), 0);
    CHECK_EQ(pdx_index_commit(ix, err), 0);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM flows"), n);
    CHECK_EQ(count_rows(ix, "SELECT count(DISTINCT src_port) FROM flows"), n);
    CHECK_EQ(count_rows(ix, "SELECT src_packets FROM flows WHERE id = 5"), 9);
    CHECK_EQ(count_rows(ix, "SELECT last_ns - first_ns FROM flows WHERE id = 5"), 15);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM flows f JOIN flows g ON g.id = f.id + 1"
                            " WHERE g.first_ns <= f.first_ns"), 0);

    /* Rolled back, the rows held back are gone too. */
    row.path = "/x/b.pcap";
    row.id = 0;
    strcpy(row.fingerprint, "h1:b");
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    CHECK_EQ(pdx_index_capture_insert(ix, &row, err), 0);
    udp_flow(&f, n + 1);
    CHECK_EQ(pdx_index_put_flow(ix, &f), 0);
    pdx_index_rollback(ix);
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    CHECK_EQ(pdx_index_commit(ix, err), 0);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM flows"), n);

    /* A row that cannot be stored fails the commit, with SQLite's word. */
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    udp_flow(&f, 7); /* a new row with a taken ID */
    CHECK_EQ(pdx_index_put_flow(ix, &f), 0);
    err[0] = 0;
    CHECK(pdx_index_commit(ix, err) < 0);
    CHECK(strstr(err, "store flow") != NULL);
    pdx_index_rollback(ix);
    CHECK_EQ(count_rows(ix, "SELECT count(*) FROM flows"), n);
    pdx_index_close(ix);
    cleanup();
}

static void foreign_databases_refused(void)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_index *ix = NULL;
    sqlite3 *db;
    tmpdb();
    CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_WRITE, err), PDX_EDB);
    CHECK(strstr(err, "not a pcapdex index") != NULL);
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_READ, err), PDX_EDB);
    cleanup();

    /* Garbage bytes: an error that names the file, no crash. */
    int fd = open(dbpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 31 + 7);
    CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    close(fd);
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_READ, err), PDX_EDB);
    CHECK(strstr(err, dbpath) != NULL);
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_WRITE, err), PDX_EDB);
    cleanup();

    /* A missing index is an error for readers. */
    CHECK_EQ(pdx_index_open(&ix, "/nonexistent/dir/x.db", PDX_INDEX_READ, err), PDX_EDB);
    CHECK(strstr(err, "/nonexistent/dir/x.db") != NULL);
}

const pdx_test pdx_suite_index[] = {
    {"create_write_read", create_write_read},
    {"rollback_leaves_nothing", rollback_leaves_nothing},
    {"flow_rows_held_back", flow_rows_held_back},
    {"foreign_databases_refused", foreign_databases_refused},
    PDX_TEST_END,
};
