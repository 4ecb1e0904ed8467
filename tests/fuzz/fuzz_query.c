/*
 * fuzz_query.c - libFuzzer target: the flow filter language.
 *
 * Input: the expression text (cut at the first NUL, as the CLI would see
 * it).  pdx_qparse_fuzz_one checks the compiled query's own invariants.  A
 * query that parses is then run as SQL against an in-memory index (the real
 * schema) holding a few varied flows, and each row's SQL verdict must equal
 * pdx_query_match's: qparse.h promises the C evaluation has the semantics
 * the SQL has, and the SQL must prepare and bind.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "index.h"
#include "qparse.h"

/* IPv4 addresses are stored mapped, as the indexer does. */
#define V4(a, b, c, d) {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}

static const pdx_flowrow rows[] = {
    /* id proto ethertype has_ip src dst sport dport vlan inner first last
     * src_packets src_bytes dst_packets dst_bytes community_id */
    {1, 6, 0x0800, 1, V4(10, 0, 0, 1), V4(192, 0, 2, 80), 12345, 80, -1, -1,
     1700000000000000000, 1700000002500000000, 10, 1500, 8, 9000,
     "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
    {2, 17, 0x86dd, 1, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53}, 53000, 53, 100, -1,
     1700000001000000000, 1700000001000400000, 1, 80, 1, 200, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
    {3, 1, 0x0800, 1, V4(192, 168, 1, 2), V4(8, 8, 8, 8), 8, 0, -1, -1, 1600000000000000000,
     1600000005000000000, 5, 420, 5, 420, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
    {4, -1, 0x0806, 0, {0}, {0}, -1, -1, 5, 200, 1500000000000000000, 1500000000000000000, 1,
     60, 0, 0, NULL},
    {5, 132, 0x0800, 1, V4(10, 1, 2, 3), V4(10, 255, 255, 255), 0, 65535, 4095, 0,
     1700000000000000000, 1700000000000000000, 3000000, 4000000000000, 0, 0,
     "1:abc="},
    {6, 58, 0x86dd, 1, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 135, 0, -1, -1, 1, 2, 1, 72, 0, 0,
     NULL},
    {7, 6, 0x0800, 1, V4(172, 16, 5, 4), V4(93, 184, 216, 34), 443, 50000, 1, 2,
     1700000000000000000, 1700000600000000000, 100000, 150000000, 90000, 7000000,
     "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
    {8, 47, 0x0800, 1, V4(198, 51, 100, 1), V4(203, 0, 113, 9), -1, -1, -1, -1,
     1700000000000000000, 1700000000001000000, 2, 300, 2, 300, "1:gre="},
    {1000000, 0, 0x86dd, 1, V4(10, 0, 0, 1), {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9},
     -1, -1, -1, -1, 1700000000000000000, 1700000090000000000, 7, 700, 1, 100, NULL},
};

static sqlite3 *db;

static void bind_or_null(sqlite3_stmt *st, int i, int64_t v)
{
    if (v < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, v);
}

static void open_db(void)
{
    static const char insert[] =
        "INSERT INTO flows (id, proto, ethertype, linktype, src_ip, dst_ip, src_port,"
        " dst_port, vlan, vlan_inner, first_ns, last_ns, src_packets, src_bytes,"
        " dst_packets, dst_bytes, tcp_flags, end_reason, community_id, state,"
        " first_capture, last_capture)"
        " VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0,"
        " 'fin', ?16, 0, 1, 1)";
    sqlite3_stmt *st = NULL;

    FUZZ_CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (const pdx_migration *m = pdx_migrations; m->sql != NULL; m++)
        FUZZ_CHECK_EQ(sqlite3_exec(db, m->sql, NULL, NULL, NULL), SQLITE_OK);
    FUZZ_CHECK_EQ(sqlite3_prepare_v2(db, insert, -1, &st, NULL), SQLITE_OK);
    for (size_t i = 0; i < PDX_ARRAY_LEN(rows); i++) {
        const pdx_flowrow *r = &rows[i];
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, r->id);
        bind_or_null(st, 2, r->proto);
        sqlite3_bind_int(st, 3, r->ethertype);
        if (r->has_ip) {
            sqlite3_bind_blob(st, 4, r->src_ip, 16, SQLITE_STATIC);
            sqlite3_bind_blob(st, 5, r->dst_ip, 16, SQLITE_STATIC);
        }
        bind_or_null(st, 6, r->src_port);
        bind_or_null(st, 7, r->dst_port);
        bind_or_null(st, 8, r->vlan);
        bind_or_null(st, 9, r->vlan_inner);
        sqlite3_bind_int64(st, 10, r->first_ns);
        sqlite3_bind_int64(st, 11, r->last_ns);
        sqlite3_bind_int64(st, 12, r->src_packets);
        sqlite3_bind_int64(st, 13, r->src_bytes);
        sqlite3_bind_int64(st, 14, r->dst_packets);
        sqlite3_bind_int64(st, 15, r->dst_bytes);
        if (r->community_id != NULL)
            sqlite3_bind_text(st, 16, r->community_id, -1, SQLITE_STATIC);
        FUZZ_CHECK_EQ(sqlite3_step(st), SQLITE_DONE);
    }
    sqlite3_finalize(st);
}

/* Runs q as SQL and compares every row's verdict with pdx_query_match. */
static void compare(const pdx_query *q)
{
    const char *frag = pdx_query_sql(q);
    size_t n = strlen(frag) + 64;
    char *sql = malloc(n);
    sqlite3_stmt *st = NULL;
    int matched[PDX_ARRAY_LEN(rows)] = {0};
    int rc;

    FUZZ_CHECK(sql != NULL);
    snprintf(sql, n, "SELECT id FROM flows WHERE %s ORDER BY id", frag);
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "prepare: %s\nSQL: %s\n", sqlite3_errmsg(db), sql);
    FUZZ_CHECK_EQ(rc, SQLITE_OK);
    FUZZ_CHECK_EQ(pdx_query_bind(q, st, 1), 1 + pdx_query_nparams(q));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        size_t i = 0;
        while (i < PDX_ARRAY_LEN(rows) && rows[i].id != id)
            i++;
        FUZZ_CHECK(i < PDX_ARRAY_LEN(rows));
        matched[i] = 1;
    }
    if (rc != SQLITE_DONE)
        fprintf(stderr, "step: %s\nSQL: %s\n", sqlite3_errmsg(db), sql);
    FUZZ_CHECK_EQ(rc, SQLITE_DONE);
    for (size_t i = 0; i < PDX_ARRAY_LEN(rows); i++) {
        int c = pdx_query_match(q, &rows[i]);
        if (c != matched[i])
            fprintf(stderr, "flow id %lld: pdx_query_match %d, SQL %d\nSQL: %s\n",
                    (long long)rows[i].id, c, matched[i], sql);
        FUZZ_CHECK_EQ(c, matched[i]);
    }
    sqlite3_finalize(st);
    free(sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[PDX_ERRBUF_SIZE];
    pdx_query *q = NULL;
    char *s;

    FUZZ_CHECK_EQ(pdx_qparse_fuzz_one(data, size), 0);

    if (db == NULL)
        open_db();
    s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    if (pdx_qparse(s, &q, errbuf, NULL) == PDX_OK) {
        compare(q);
        pdx_query_free(q);
    }
    free(s);
    return 0;
}
