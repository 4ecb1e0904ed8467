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

/* A fresh index with capture 1 and the given flows stored live. */
static pdx_index *index_with_live(const pdx_flow *flows, int n)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_iface ifc;
    pdx_section sec;
    pdx_capinfo info;
    pdx_caprow row;
    pdx_index *ix = new_index_row(&row, &info, &ifc, &sec, "h1:live");
    row.status = "complete";
    row.warnings = "";
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    CHECK_EQ(pdx_index_capture_insert(ix, &row, err), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(pdx_index_put_flow(ix, &flows[i]), 0);
    CHECK_EQ(pdx_index_capture_finish(ix, &row, err), 0);
    CHECK_EQ(pdx_index_commit(ix, err), 0);
    return ix;
}

typedef struct live_seen {
    pdx_flow f[4];
    int n;
} live_seen;

static int collect_cb(void *ctx, const pdx_flow *f)
{
    live_seen *s = ctx;
    CHECK(s->n < 4);
    s->f[s->n++] = *f;
    return 0;
}

/* What load_live gives back is what was stored, for each kind of flow. */
static void live_flows_read_back(void)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_flow in[4];
    udp_flow(&in[0], 3); /* IPv4 UDP, no MACs, no VLAN */
    in[0].state = PDX_FS_LIVE;
    in[0].end_reason = PDX_END_OPEN;
    udp_flow(&in[1], 4); /* IPv6 TCP in a tunnel, MACs, two VLANs, closing */
    in[1].kind = PDX_KIND_IP6;
    in[1].proto = 6;
    in[1].src[0] = 0x20;
    in[1].has_mac = 1;
    memcpy(in[1].src_mac, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(in[1].dst_mac, "\x02\x00\x00\x00\x00\x02", 6);
    in[1].vlan = 4095;
    in[1].vlan_inner = 7;
    in[1].tunnel = PDX_TUN_VXLAN;
    in[1].tun_src[15] = 1;
    in[1].tun_dst[15] = 2;
    in[1].vni = UINT32_MAX;
    in[1].tcp_flags = 0x15;
    in[1].state = PDX_FS_LIVE | PDX_FS_FIN_SRC | PDX_FS_RST | PDX_FS_CLOSED;
    in[1].end_reason = PDX_END_RST;
    udp_flow(&in[2], 5); /* ICMP echo */
    in[2].proto = 1;
    in[2].sport = 8;
    in[2].dport = 0;
    in[2].icmp_id = 65535;
    in[2].state = PDX_FS_LIVE;
    memset(&in[3], 0, sizeof(in[3])); /* ARP between two MACs */
    in[3].id = 6;
    in[3].kind = PDX_KIND_L2;
    in[3].ethertype = 0x0806;
    in[3].linktype = 1;
    in[3].has_mac = 1;
    memcpy(in[3].src_mac, "\x02\x00\x00\x00\x00\x03", 6);
    memset(in[3].dst_mac, 0xff, 6);
    in[3].vlan = in[3].vlan_inner = -1;
    in[3].first_ns = 6000;
    in[3].last_ns = 6010;
    in[3].pk[0] = 1;
    in[3].by[0] = 60;
    in[3].state = PDX_FS_LIVE;
    in[3].first_capture = in[3].last_capture = 1;
    pdx_index *ix = index_with_live(in, 4);
    live_seen s;
    memset(&s, 0, sizeof(s));
    CHECK_EQ(pdx_index_load_live(ix, collect_cb, &s, err), 0);
    CHECK_EQ(s.n, 4);
    for (int i = 0; i < 4; i++) {
        const pdx_flow *a = &in[i], *b = &s.f[i]; /* last_ns order is ID order here */
        CHECK_EQ(b->id, a->id);
        CHECK_EQ(b->kind, a->kind);
        CHECK_EQ(b->proto, a->proto);
        CHECK_EQ(b->ethertype, a->ethertype);
        CHECK_EQ(b->linktype, a->linktype);
        CHECK_MEM(b->src, a->src, 16);
        CHECK_MEM(b->dst, a->dst, 16);
        CHECK_EQ(b->sport, a->sport);
        CHECK_EQ(b->dport, a->dport);
        CHECK_EQ(b->icmp_id, a->icmp_id);
        CHECK_EQ(b->has_mac, a->has_mac);
        CHECK_MEM(b->src_mac, a->src_mac, 6);
        CHECK_MEM(b->dst_mac, a->dst_mac, 6);
        CHECK_EQ(b->vlan, a->vlan);
        CHECK_EQ(b->vlan_inner, a->vlan_inner);
        CHECK_EQ(b->tunnel, a->tunnel);
        CHECK_MEM(b->tun_src, a->tun_src, 16);
        CHECK_MEM(b->tun_dst, a->tun_dst, 16);
        CHECK_EQ_U64(b->vni, a->vni);
        CHECK_EQ(b->first_ns, a->first_ns);
        CHECK_EQ(b->last_ns, a->last_ns);
        CHECK_EQ_U64(b->pk[0], a->pk[0]);
        CHECK_EQ_U64(b->pk[1], a->pk[1]);
        CHECK_EQ_U64(b->by[0], a->by[0]);
        CHECK_EQ_U64(b->by[1], a->by[1]);
        CHECK_EQ(b->tcp_flags, a->tcp_flags);
        CHECK_EQ(b->end_reason, a->end_reason);
        CHECK_EQ(b->state, a->state);
        CHECK_EQ(b->first_capture, a->first_capture);
        CHECK_EQ(b->last_capture, a->last_capture);
    }
    pdx_index_close(ix);
    cleanup();
}

static int never_cb(void *ctx, const pdx_flow *f)
{
    (void)ctx;
    (void)f;
    CHECK(!"a damaged live flow was taken up");
    return 0;
}

/* A live flow whose row is damaged is not taken up with its fields zeroed:
 * load_live fails with PDX_EDB naming the flow and the column, and hands
 * over nothing.  Each damage is made in a transaction rolled back after. */
static void damaged_live_flow_refused(void)
{
    static const struct {
        const char *set;  /* UPDATE flows SET ... WHERE id = 3 */
        const char *says; /* what the message must hold */
    } cases[] = {
        {"id = -3", "flow -3: id is -3, not an integer from 1 to"},
        {"id = 9223372036854775806", "flow 9223372036854775806: id is 9223372036854775806"},
        {"proto = 300", "flow 3: proto is 300,"},
        {"proto = 'udp'", "flow 3: proto is 'udp',"},
        {"proto = NULL", "flow 3: src_ip is a 16-byte blob, not NULL"},
        {"ethertype = 1234", "flow 3: ethertype is 1234,"},
        {"ethertype = 2048.5", "flow 3: ethertype is the real 2048.5,"},
        {"linktype = -1", "flow 3: linktype is -1,"},
        {"src_ip = x'0102'", "flow 3: src_ip is a 2-byte blob, not 16 bytes"},
        {"dst_ip = NULL", "flow 3: dst_ip is NULL, not 16 bytes"},
        {"src_port = 65536", "flow 3: src_port is 65536,"},
        {"dst_port = NULL", "flow 3: dst_port is NULL,"},
        {"src_mac = x'020000000001'", "flow 3: dst_mac is NULL, but src_mac is not"},
        {"src_mac = x'0102', dst_mac = x'0102'", "flow 3: src_mac is a 2-byte blob, not 6 bytes"},
        {"vlan = 4096", "flow 3: vlan is 4096,"},
        {"vlan_inner = 'x'", "flow 3: vlan_inner is 'x',"},
        {"tunnel = 'mpls'", "flow 3: tunnel is 'mpls', not ipip"},
        {"tunnel = x'677265'", "flow 3: tunnel is a 3-byte blob, not text"},
        {"tunnel = 'gre'", "flow 3: tunnel_src is NULL, not 16 bytes"},
        {"first_ns = 'soon'", "flow 3: first_ns is 'soon',"},
        {"first_ns = last_ns + 1", "flow 3: first_ns 3011 is after last_ns 3010"},
        {"src_packets = -1", "flow 3: src_packets is -1,"},
        {"dst_bytes = 1.5", "flow 3: dst_bytes is the real 1.5,"},
        {"tcp_flags = 256", "flow 3: tcp_flags is 256,"},
        {"end_reason = 'done'", "flow 3: end_reason is 'done', not fin"},
        {"end_reason = x'6f70656e'", "flow 3: end_reason is a 4-byte blob, not text"},
        {"state = 33", "flow 3: state is 33,"},
        {"state = 1.5", "flow 3: state is the real 1.5,"},
        {"first_capture = 0", "flow 3: first_capture is 0,"},
        {"last_capture = 'one'", "flow 3: last_capture is 'one',"},
    };
    char err[PDX_ERRBUF_SIZE], sql[256];
    pdx_flow f;
    udp_flow(&f, 3);
    f.state = PDX_FS_LIVE;
    pdx_index *ix = index_with_live(&f, 1);
    sqlite3 *db = pdx_index_db(ix);
    for (size_t i = 0; i < PDX_ARRAY_LEN(cases); i++) {
        snprintf(sql, sizeof(sql), "BEGIN; UPDATE flows SET %s WHERE id = 3", cases[i].set);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
        err[0] = 0;
        int rc = pdx_index_load_live(ix, never_cb, NULL, err);
        if (rc != PDX_EDB || strstr(err, cases[i].says) == NULL)
            PDX_FAIL_("SET %s: load_live %d \"%s\", wanted %d \"%s...\"", cases[i].set, rc, err,
                      PDX_EDB, cases[i].says);
        CHECK(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    }
    /* Undamaged, it is taken up. */
    live_seen s;
    memset(&s, 0, sizeof(s));
    CHECK_EQ(pdx_index_load_live(ix, collect_cb, &s, err), 0);
    CHECK_EQ(s.n, 1);
    CHECK_EQ(s.f[0].id, 3);

    /* The largest ID stored leaves room for the next; one beyond it is a
     * damaged index, for the next ID and for the flow taken up. */
    int64_t max = 0;
    CHECK(sqlite3_exec(db, "UPDATE flows SET id = 4611686018427387903", NULL, NULL, NULL) ==
          SQLITE_OK);
    CHECK_EQ(pdx_index_max_flow_id(ix, &max, err), 0);
    CHECK_EQ(max, PDX_FLOW_ID_MAX);
    CHECK_EQ(pdx_index_load_live(ix, collect_cb, &s, err), 0);
    CHECK_EQ(s.f[1].id, PDX_FLOW_ID_MAX);
    CHECK(sqlite3_exec(db, "UPDATE flows SET id = id + 1", NULL, NULL, NULL) == SQLITE_OK);
    max = 0;
    CHECK_EQ(pdx_index_max_flow_id(ix, &max, err), PDX_EDB);
    CHECK_EQ(max, 0);
    CHECK(strstr(err, "largest flow ID is 4611686018427387904") != NULL);
    CHECK_EQ(pdx_index_load_live(ix, never_cb, NULL, err), PDX_EDB);
    CHECK(strstr(err, "flow 4611686018427387904: id is") != NULL);
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

static int64_t cache_kib(pdx_index *ix)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(pdx_index_db(ix), "PRAGMA cache_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v < 0 ? -v : v * 8; /* positive: pages of 8 KiB */
}

/* A writer's cache is a quarter of the index, from 16 MiB up to 256 MiB,
 * looked at again when a transaction begins; a size set stays. */
static void cache_follows_index_size(void)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_index *ix = NULL;
    tmpdb();
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_WRITE, err), 0);
    CHECK_EQ(cache_kib(ix), 16 * 1024);
    /* 96 MiB of pages: a 24 MiB cache at the next transaction. */
    CHECK(sqlite3_exec(pdx_index_db(ix),
                       "CREATE TABLE pad(b); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                       "SELECT i + 1 FROM n WHERE i < 12288) INSERT INTO pad SELECT zeroblob(8000) "
                       "FROM n",
                       NULL, NULL, NULL) == SQLITE_OK);
    CHECK_EQ(cache_kib(ix), 16 * 1024);
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    int64_t kib = cache_kib(ix);
    CHECK(kib >= 24 * 1024 && kib <= 25 * 1024);
    pdx_index_rollback(ix);
    pdx_index_close(ix);
    /* Opened again: sized from the start. */
    CHECK_EQ(pdx_index_open(&ix, dbpath, PDX_INDEX_WRITE, err), 0);
    CHECK_EQ(cache_kib(ix), kib);
    CHECK_EQ(pdx_index_set_cache(ix, 1u << 20, err), 0);
    CHECK_EQ(pdx_index_begin(ix, err), 0);
    CHECK_EQ(cache_kib(ix), 1024);
    pdx_index_rollback(ix);
    pdx_index_close(ix);
    cleanup();
}

const pdx_test pdx_suite_index[] = {
    {"create_write_read", create_write_read},
    {"rollback_leaves_nothing", rollback_leaves_nothing},
    {"flow_rows_held_back", flow_rows_held_back},
    {"live_flows_read_back", live_flows_read_back},
    {"damaged_live_flow_refused", damaged_live_flow_refused},
    {"foreign_databases_refused", foreign_databases_refused},
    {"cache_follows_index_size", cache_follows_index_size},
    PDX_TEST_END,
};
