/*
 * index.c - the SQLite side of pcapdex: schema migrations, and the
 * statements that store captures, flows and offset segments.
 */
#include "index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "communityid.h"
#include "dynlib.h"
#include "summary.h"
#include "varint.h"
#include "zsource.h"

#define PDX_APP_NAME "pcapdex"

struct pdx_index {
    sqlite3 *db;
    int mode;
    int version;
    char err[PDX_ERRBUF_SIZE];
    sqlite3_stmt *put_flow;
    sqlite3_stmt *upd_flow;
    sqlite3_stmt *upd_counts;
    sqlite3_stmt *put_seg;
    uint8_t *zbuf;
    size_t zcap;
    ZSTD_CCtx *zctx;
    int64_t max_dur;      /* longest flow duration stored (meta max_duration_ns) */
    int64_t max_dur_saved;
    sqlite3_stmt *put_run;
    pdx_flow *pend;       /* flow rows not yet stored, in arrival order */
    const pdx_flow **order; /* the same, sorted for storing */
    size_t npend;
    int cache_set;          /* pdx_index_set_cache() was called: no auto size */
    uint64_t cache_bytes;   /* the cache size last given to SQLite */
};

/* Flow rows wait here and go to SQLite sorted by ID, PEND_FLOWS at a time.
 * Flows end in another order than they start; the table and the first_ns
 * and live indexes follow ID order (the per-host and per-port ones do within
 * each key), so sorted rows land next to each other instead of all over the
 * B-trees. */
#define PEND_FLOWS 16384

static int store_flow(pdx_index *ix, const pdx_flow *f);
static int auto_cache(pdx_index *ix, char *errbuf);
static int flush_flows(pdx_index *ix, char *errbuf);

static int latest_version(void)
{
    int v = 0;
    for (const pdx_migration *m = pdx_migrations; m->sql != NULL; m++)
        if (m->version > v)
            v = m->version;
    return v;
}

static int dberr(pdx_index *ix, char *errbuf, const char *what)
{
    return pdx_errf(errbuf, PDX_EDB, "%s: %s", what, ix->db ? sqlite3_errmsg(ix->db) : "no database");
}

static int exec(pdx_index *ix, const char *sql, char *errbuf)
{
    char *msg = NULL;
    if (sqlite3_exec(ix->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pdx_errf(errbuf, PDX_EDB, "%s", msg ? msg : sqlite3_errmsg(ix->db));
        sqlite3_free(msg);
        return PDX_EDB;
    }
    return PDX_OK;
}

/* Reads a single integer; *out untouched when there is no row. */
static int query_int(pdx_index *ix, const char *sql, int64_t *out, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            *out = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        return dberr(ix, errbuf, "query");
    }
    sqlite3_finalize(st);
    return PDX_OK;
}

static int table_exists(pdx_index *ix, const char *name, int *exists, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1,
                           &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dberr(ix, errbuf, "read schema");
    *exists = rc == SQLITE_ROW;
    return PDX_OK;
}

/* The tables pcapdex reads, and the schema version that made each. */
static const struct {
    const char *name;
    int since;
} known_tables[] = {
    {"meta", 1}, {"captures", 1}, {"sections", 1}, {"interfaces", 1},
    {"flows", 1}, {"packets", 1}, {"rollups", 3},
};

/* Each table of ix->version must exist, and each known table that exists
 * (whatever the version says) must be a table: a view of that name (or a
 * virtual table) could return anything, or never finish (a recursive one). */
static int check_tables(pdx_index *ix, const char *path, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    int rc = PDX_OK;
    if (sqlite3_prepare_v2(ix->db, "SELECT type, rootpage FROM sqlite_master WHERE name=?1", -1, &st,
                           NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    for (size_t i = 0; i < PDX_ARRAY_LEN(known_tables) && rc == PDX_OK; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, known_tables[i].name, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        const unsigned char *type = r == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            rc = pdx_errf(errbuf, PDX_EDB, "%s: read schema: %s", path, sqlite3_errmsg(ix->db));
        else if (r == SQLITE_DONE && known_tables[i].since > ix->version)
            continue; /* made by a later migration */
        else if (r == SQLITE_DONE)
            rc = pdx_errf(errbuf, PDX_EDB, "%s: not a pcapdex index: it has no table %s", path,
                          known_tables[i].name);
        else if (type == NULL || strcmp((const char *)type, "table") != 0 ||
                 sqlite3_column_int64(st, 1) <= 0)
            rc = pdx_errf(errbuf, PDX_EDB, "%s: not a pcapdex index: %s is a %s, not a table", path,
                          known_tables[i].name,
                          type != NULL && strcmp((const char *)type, "table") != 0 ? (const char *)type
                                                                                    : "virtual table");
    }
    sqlite3_finalize(st);
    return rc;
}

/* The error for a database that SQLite could not read when it was opened:
 * what it is by SQLite's result code (extended codes are on: the low byte
 * is the primary one), then SQLite's own words. */
static int unreadable(pdx_index *ix, const char *path, int code, const char *damaged, char *errbuf)
{
    const char *what = (code & 0xff) == SQLITE_NOTADB    ? "not a SQLite database"
                       : (code & 0xff) == SQLITE_CORRUPT ? damaged
                                                         : "cannot read it";
    return pdx_errf(errbuf, PDX_EDB, "%s: %s (%s)", path, what, sqlite3_errmsg(ix->db));
}

/* Checks that the database is empty or a pcapdex index; sets ix->version. */
static int check_ours(pdx_index *ix, const char *path, char *errbuf)
{
    int64_t ntables = 0, uv = 0;
    int rc, has_meta = 0;
    if ((rc = query_int(ix, "SELECT count(*) FROM sqlite_master", &ntables, errbuf)) < 0)
        return unreadable(ix, path, sqlite3_extended_errcode(ix->db), "damaged SQLite database",
                          errbuf);
    if ((rc = query_int(ix, "PRAGMA user_version", &uv, errbuf)) < 0)
        return rc;
    if (ntables == 0) {
        ix->version = 0;
        return PDX_OK;
    }
    if ((rc = table_exists(ix, "meta", &has_meta, errbuf)) < 0)
        return rc;
    sqlite3_stmt *st = NULL;
    int ours = 0;
    if (has_meta &&
        sqlite3_prepare_v2(ix->db, "SELECT value FROM meta WHERE key='application'", -1, &st, NULL) ==
            SQLITE_OK) {
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            const unsigned char *v = sqlite3_column_text(st, 0);
            ours = v != NULL && strcmp((const char *)v, PDX_APP_NAME) == 0;
        } else if (src != SQLITE_DONE) {
            /* A meta table that cannot be read is damage, not a stranger's
             * database: say what SQLite found. */
            rc = unreadable(ix, path, src, "damaged index", errbuf);
            sqlite3_finalize(st);
            return rc;
        }
        sqlite3_finalize(st);
    }
    if (!ours)
        return pdx_errf(errbuf, PDX_EDB, "%s: not a pcapdex index", path);
    if (uv < 1)
        return pdx_errf(errbuf, PDX_EDB, "%s: not a pcapdex index: schema version %lld", path,
                        (long long)uv);
    if (uv > latest_version())
        return pdx_errf(errbuf, PDX_EDB,
                        "%s: index schema version %lld is newer than this pcapdex (%d)", path,
                        (long long)uv, latest_version());
    ix->version = (int)uv;
    return check_tables(ix, path, errbuf);
}

static int migrate(pdx_index *ix, const char *path, char *errbuf)
{
    int rc;
    for (const pdx_migration *m = pdx_migrations; m->sql != NULL; m++) {
        if (m->version <= ix->version)
            continue;
        if ((rc = exec(ix, "BEGIN IMMEDIATE", errbuf)) < 0)
            return rc;
        char sql[160];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", m->version);
        if ((rc = exec(ix, m->sql, errbuf)) < 0 || (rc = exec(ix, sql, errbuf)) < 0 ||
            (rc = exec(ix,
                       "INSERT OR REPLACE INTO meta(key, value) VALUES ('application', '" PDX_APP_NAME
                       "')",
                       errbuf)) < 0) {
            char keep[PDX_ERRBUF_SIZE];
            snprintf(keep, sizeof(keep), "%s", errbuf ? errbuf : "");
            exec(ix, "ROLLBACK", NULL);
            return pdx_errf(errbuf, PDX_EDB, "%s: migration %s failed: %s", path, m->name, keep);
        }
        if ((rc = exec(ix, "COMMIT", errbuf)) < 0)
            return rc;
        ix->version = m->version;
    }
    return PDX_OK;
}

void pdx_index_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int pdx_index_open(pdx_index **out, const char *path, int mode, char *errbuf)
{
    pdx_index *ix = calloc(1, sizeof(*ix));
    int rc;
    if (ix == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    ix->mode = mode;
    int flags = mode == PDX_INDEX_WRITE ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                        : SQLITE_OPEN_READONLY;
    struct stat stt;
    if (mode == PDX_INDEX_READ && stat(path, &stt) != 0) {
        free(ix);
        return pdx_errf(errbuf, PDX_EDB, "%s: %s", path, strerror(errno));
    }
    if (stat(path, &stt) == 0 && !S_ISREG(stt.st_mode)) {
        free(ix);
        return pdx_errf(errbuf, PDX_EDB, "%s: not a regular file", path);
    }
    if (sqlite3_open_v2(path, &ix->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = pdx_errf(errbuf, PDX_EDB, "%s: %s", path,
                      ix->db ? sqlite3_errmsg(ix->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(ix->db, 30000);
    sqlite3_extended_result_codes(ix->db, 1);
    /* The file may come from anywhere: SQLite's settings for untrusted
     * databases (no writable schema or other corruption games, and no
     * functions with side effects run from the schema's views or triggers). */
    sqlite3_db_config(ix->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(ix->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    if ((rc = check_ours(ix, path, errbuf)) < 0)
        goto fail;
    if (mode == PDX_INDEX_WRITE) {
        int64_t page = 0;
        char psize[48], ckpt[48];
        /* A new index gets PDX_INDEX_PAGE_SIZE pages (SQLite ignores this
         * for a database that has tables): see index.h. */
        snprintf(psize, sizeof(psize), "PRAGMA page_size=%u", PDX_INDEX_PAGE_SIZE);
        if ((ix->version == 0 && (rc = exec(ix, psize, errbuf)) < 0) ||
            (rc = exec(ix, "PRAGMA journal_mode=WAL", errbuf)) < 0 ||
            (rc = query_int(ix, "PRAGMA page_size", &page, errbuf)) < 0) {
            pdx_errf(errbuf, PDX_EDB, "%s: %s", path, sqlite3_errmsg(ix->db));
            goto fail;
        }
        /* Checkpoint (copy the WAL into the database, with an fsync) every
         * 64 MiB of WAL rather than every 4 MiB, which was after nearly
         * every capture's commit; closing checkpoints the rest. */
        snprintf(ckpt, sizeof(ckpt), "PRAGMA wal_autocheckpoint=%lld",
                 (long long)((64 << 20) / PDX_MAX(page, 512)));
        if ((rc = exec(ix, "PRAGMA synchronous=NORMAL", errbuf)) < 0 ||
            (rc = exec(ix, ckpt, errbuf)) < 0 ||
            (rc = auto_cache(ix, errbuf)) < 0 ||
            (rc = exec(ix, "PRAGMA temp_store=MEMORY", errbuf)) < 0) {
            pdx_errf(errbuf, PDX_EDB, "%s: %s", path, sqlite3_errmsg(ix->db));
            goto fail;
        }
        if ((rc = migrate(ix, path, errbuf)) < 0)
            goto fail;
    } else if (ix->version == 0) {
        rc = pdx_errf(errbuf, PDX_EDB, "%s: empty database, not a pcapdex index", path);
        goto fail;
    }
    int64_t md = 0;
    if ((rc = query_int(ix, "SELECT value FROM meta WHERE key='max_duration_ns'", &md, errbuf)) < 0)
        goto fail;
    ix->max_dur = ix->max_dur_saved = md;
    *out = ix;
    return PDX_OK;
fail:
    sqlite3_close(ix->db);
    free(ix);
    return rc;
}

void pdx_index_close(pdx_index *ix)
{
    if (ix == NULL)
        return;
    sqlite3_finalize(ix->put_flow);
    sqlite3_finalize(ix->upd_flow);
    sqlite3_finalize(ix->upd_counts);
    sqlite3_finalize(ix->put_seg);
    sqlite3_finalize(ix->put_run);
    sqlite3_close(ix->db);
    free(ix->pend);
    free(ix->order);
    ZSTD_freeCCtx(ix->zctx);
    free(ix->zbuf);
    free(ix);
}

static int cache_size(pdx_index *ix, uint64_t bytes, char *errbuf)
{
    char sql[64];
    if (bytes == ix->cache_bytes)
        return PDX_OK;
    /* A negative cache_size is in KiB. */
    snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%llu", (unsigned long long)(bytes >> 10));
    int rc = exec(ix, sql, errbuf);
    if (rc == PDX_OK)
        ix->cache_bytes = bytes;
    return rc;
}

int pdx_index_set_cache(pdx_index *ix, uint64_t bytes, char *errbuf)
{
    ix->cache_set = 1;
    return cache_size(ix, bytes, errbuf);
}

/* The writer's cache as the index stands (index.h). */
static int auto_cache(pdx_index *ix, char *errbuf)
{
    int64_t size = 0;
    int rc;
    if (ix->cache_set)
        return PDX_OK;
    if ((rc = query_int(ix, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                        &size, errbuf)) < 0)
        return rc;
    uint64_t want = size > 0 ? (uint64_t)size / 4 : 0;
    want = PDX_MAX(want, (uint64_t)PDX_INDEX_CACHE_DEFAULT);
    want = PDX_MIN(want, (uint64_t)PDX_INDEX_CACHE_AUTO_MAX);
    /* In whole MiB, so that a growing index changes it now and then. */
    return cache_size(ix, want >> 20 << 20, errbuf);
}

sqlite3 *pdx_index_db(pdx_index *ix)
{
    return ix->db;
}

const char *pdx_index_errmsg(const pdx_index *ix)
{
    return ix->err;
}

int pdx_index_schema_version(pdx_index *ix)
{
    return ix->version;
}

int pdx_index_begin(pdx_index *ix, char *errbuf)
{
    int rc = exec(ix, "BEGIN IMMEDIATE", errbuf);
    if (rc == PDX_OK && (rc = auto_cache(ix, errbuf)) < 0)
        pdx_index_rollback(ix);
    return rc;
}

int pdx_index_commit(pdx_index *ix, char *errbuf)
{
    int rc;
    if ((rc = flush_flows(ix, errbuf)) < 0)
        return rc;
    if (ix->max_dur > ix->max_dur_saved) {
        char sql[128];
        snprintf(sql, sizeof(sql),
                 "INSERT OR REPLACE INTO meta(key, value) VALUES ('max_duration_ns', %lld)",
                 (long long)ix->max_dur);
        if ((rc = exec(ix, sql, errbuf)) < 0)
            return rc;
    }
    if ((rc = exec(ix, "COMMIT", errbuf)) < 0)
        return rc;
    ix->max_dur_saved = ix->max_dur;
    return PDX_OK;
}

void pdx_index_rollback(pdx_index *ix)
{
    if (!sqlite3_get_autocommit(ix->db))
        exec(ix, "ROLLBACK", NULL);
    ix->npend = 0;
    ix->max_dur = ix->max_dur_saved;
}

/* ---- captures ------------------------------------------------------------ */

static int capknown_from(sqlite3_stmt *st, pdx_capknown *out)
{
    const unsigned char *fp = sqlite3_column_text(st, 3);
    const unsigned char *p = sqlite3_column_text(st, 4);
    out->id = sqlite3_column_int64(st, 0);
    out->size = (uint64_t)sqlite3_column_int64(st, 1);
    out->mtime_ns = sqlite3_column_int64(st, 2);
    snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", fp ? (const char *)fp : "");
    snprintf(out->path, sizeof(out->path), "%s", p ? (const char *)p : "");
    out->replaced = sqlite3_column_int(st, 5) != 0;
    out->packets = (uint64_t)sqlite3_column_int64(st, 6);
    out->bytes = (uint64_t)sqlite3_column_int64(st, 7);
    return 1;
}

int pdx_index_capture_by_path(pdx_index *ix, const char *path, pdx_capknown *out, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    /* Schema 5: a path's replaced captures (index --ring) keep their rows. */
#define CAPKNOWN_SQL "SELECT id, size, mtime_ns, fingerprint, path, "
    const char *sql =
        ix->version >= 5
            ? CAPKNOWN_SQL "0, packets, bytes FROM captures WHERE path=?1 AND replaced_ns IS NULL"
            : CAPKNOWN_SQL "0, packets, bytes FROM captures WHERE path=?1";
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW ? capknown_from(st, out) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dberr(ix, errbuf, "look up capture");
    return found;
}

int pdx_index_capture_by_fingerprint(pdx_index *ix, const char *fp, uint64_t size, pdx_capknown *out,
                                     char *errbuf)
{
    sqlite3_stmt *st = NULL;
    /* A capture still on disk before one whose file was overwritten. */
    const char *sql =
        ix->version >= 5
            ? CAPKNOWN_SQL "replaced_ns IS NOT NULL, packets, bytes FROM captures"
                           " WHERE (fingerprint=?1 AND size=?2) OR (raw_fingerprint=?1 AND raw_size=?2)"
                           " ORDER BY replaced_ns IS NOT NULL, id LIMIT 1"
            : CAPKNOWN_SQL "0, packets, bytes FROM captures WHERE (fingerprint=?1 AND size=?2)"
                           " OR (raw_fingerprint=?1 AND raw_size=?2) ORDER BY id LIMIT 1";
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW ? capknown_from(st, out) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dberr(ix, errbuf, "look up capture");
    return found;
}

static const char *resolution_name(const pdx_capinfo *info, char *buf, size_t len)
{
    buf[0] = '\0';
    if (info->format != PDX_FMT_PCAPNG)
        return info->pcap_nsec ? "ns" : "us";
    size_t used = 0;
    for (size_t i = 0; i < info->n_ifaces && used + 8 < len; i++) {
        uint8_t r = info->ifaces[i].tsresol;
        int n = snprintf(buf + used, len - used, "%s%s%u", i ? "," : "", (r & 0x80) ? "2^-" : "10^-",
                         (unsigned)(r & 0x7f));
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

static void linktypes_text(const pdx_capinfo *info, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < info->n_ifaces && used + 12 < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%u", i ? "," : "", info->ifaces[i].linktype);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void bind_opt_time(sqlite3_stmt *st, int i, int64_t v)
{
    if (v == INT64_MIN)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, v);
}

static int prepared(pdx_index *ix, sqlite3_stmt **slot, const char *sql);

/* The time now in nanoseconds since the epoch, in SQL (milliseconds apart). */
#define SQL_NOW_NS "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 1000000"

/* Runs sql, bound to id and, when row is given, to its path, size, mtime
 * and fingerprint (?2..?5); it must change exactly one row. */
static int update_capture(pdx_index *ix, const char *sql, int64_t id, const pdx_caprow *row,
                          const char *what, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    sqlite3_bind_int64(st, 1, id);
    if (row != NULL) {
        sqlite3_bind_text(st, 2, row->path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)row->size);
        sqlite3_bind_int64(st, 4, row->mtime_ns);
        sqlite3_bind_text(st, 5, row->fingerprint, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(ix, errbuf, what);
    if (sqlite3_changes(ix->db) != 1)
        return pdx_errf(errbuf, PDX_EDB, "%s: capture %lld changed meanwhile (another writer?)",
                        what, (long long)id);
    return PDX_OK;
}

/* Marks capture id (when > 0) overwritten since it was indexed. */
static int mark_replaced(pdx_index *ix, int64_t id, char *errbuf)
{
    if (id <= 0)
        return PDX_OK;
    return update_capture(ix,
                          "UPDATE captures SET replaced_ns = " SQL_NOW_NS
                          " WHERE id=?1 AND replaced_ns IS NULL",
                          id, NULL, "mark the overwritten capture", errbuf);
}

int pdx_index_capture_resume(pdx_index *ix, const pdx_caprow *row, char *errbuf)
{
    int rc = update_capture(ix,
                            "UPDATE captures SET status='indexing', path=?2, size=?3, mtime_ns=?4,"
                            " fingerprint=?5 WHERE id=?1 AND path=?2 AND replaced_ns IS NULL",
                            row->resumes, row, "take up the capture again", errbuf);
    if (rc < 0)
        return rc;
    char sql[96];
    static const char *const tables[] = {"sections", "interfaces"};
    for (int i = 0; i < 2; i++) {
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE capture_id=%lld", tables[i],
                 (long long)row->resumes);
        if ((rc = exec(ix, sql, errbuf)) < 0)
            return rc;
    }
    return PDX_OK;
}

/* The one integer that sql (bound to a, then b or text) returns. */
static int query_one(pdx_index *ix, const char *sql, int64_t a, int64_t b, const char *text,
                     int64_t *out, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2 && text != NULL)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_ROW)
        rc = SQLITE_MISMATCH;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return pdx_errf(errbuf, PDX_EDB, "reading capture %lld: %s", (long long)a,
                        rc == SQLITE_MISMATCH ? "not an integer" : sqlite3_errmsg(ix->db));
    return PDX_OK;
}

int64_t pdx_index_next_seg(pdx_index *ix, int64_t flow_id, int64_t capture_id)
{
    int64_t v = 0;
    int rc = query_one(ix, "SELECT coalesce(max(seg) + 1, 0) FROM packets WHERE flow_id=?1"
                           " AND capture_id=?2",
                       flow_id, capture_id, NULL, &v, ix->err);
    return rc < 0 ? rc : v < 0 ? PDX_ECORRUPT : v;
}

int pdx_index_next_run(pdx_index *ix, int64_t capture_id, const char *kind, uint32_t *out,
                       char *errbuf)
{
    int64_t v = 0;
    int rc = query_one(ix, "SELECT coalesce(max(seq) + 1, 0) FROM rollups WHERE capture_id=?1"
                           " AND kind=?2",
                       capture_id, 0, kind, &v, errbuf);
    if (rc == PDX_OK && (v < 0 || v > UINT32_MAX))
        return pdx_errf(errbuf, PDX_EDB, "capture %lld: a %s rollup run numbered %lld",
                        (long long)capture_id, kind, (long long)v);
    *out = (uint32_t)v;
    return rc;
}

int pdx_index_capture_relink(pdx_index *ix, const pdx_caprow *row, char *errbuf)
{
    int rc = mark_replaced(ix, row->replaces, errbuf);
    if (rc < 0 || row->revives <= 0)
        return rc;
    return update_capture(ix,
                          "UPDATE captures SET replaced_ns = NULL, path=?2, size=?3, mtime_ns=?4"
                          " WHERE id=?1 AND replaced_ns IS NOT NULL AND fingerprint=?5",
                          row->revives, row, "point the overwritten capture at its copy", errbuf);
}

int pdx_index_capture_insert(pdx_index *ix, pdx_caprow *row, char *errbuf)
{
    static const char sql[] =
        "INSERT INTO captures(path, size, mtime_ns, fingerprint, format, byte_order, version,"
        " ts_resolution, snaplen, linktypes, pcap_hdrlen, pcap_swapped, first_ns, last_ns, packets,"
        " bytes, cap_bytes, truncated, invalid, status, warnings, id, indexed_ns)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,"
        " " SQL_NOW_NS ")";
    sqlite3_stmt *st = NULL;
    const pdx_capinfo *info = row->info;
    char ver[32], res[256], lt[512];
    /* In the capture's transaction: the path is unique among the captures
     * not replaced (schema 5). */
    int rc = mark_replaced(ix, row->replaces, errbuf);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    snprintf(ver, sizeof(ver), "%u.%u", info->version_major, info->version_minor);
    linktypes_text(info, lt, sizeof(lt));
    sqlite3_bind_text(st, 1, row->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)row->size);
    sqlite3_bind_int64(st, 3, row->mtime_ns);
    sqlite3_bind_text(st, 4, row->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, pdx_format_name(info->format), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, info->big_endian ? "be" : "le", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, ver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, resolution_name(info, res, sizeof(res)), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, info->snaplen);
    sqlite3_bind_text(st, 10, lt, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 11, info->pcap_hdrlen);
    sqlite3_bind_int64(st, 12, info->pcap_swapped_lens);
    bind_opt_time(st, 13, row->first_ns);
    bind_opt_time(st, 14, row->last_ns);
    sqlite3_bind_int64(st, 15, (sqlite3_int64)row->packets);
    sqlite3_bind_int64(st, 16, (sqlite3_int64)row->bytes);
    sqlite3_bind_int64(st, 17, (sqlite3_int64)row->cap_bytes);
    sqlite3_bind_int64(st, 18, (sqlite3_int64)row->truncated);
    sqlite3_bind_int64(st, 19, (sqlite3_int64)row->invalid);
    sqlite3_bind_text(st, 20, row->status ? row->status : "indexing", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 21, row->warnings ? row->warnings : "", -1, SQLITE_STATIC);
    if (row->id > 0)
        sqlite3_bind_int64(st, 22, row->id);
    else
        sqlite3_bind_null(st, 22);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(ix, errbuf, "insert capture");
    row->id = sqlite3_last_insert_rowid(ix->db);
    return PDX_OK;
}

int pdx_index_put_rollup(pdx_index *ix, int64_t capture_id, const pdx_rollup_run *run)
{
    if (prepared(ix, &ix->put_run,
                  "INSERT INTO rollups(capture_id, kind, seq, keys, encoding, data)"
                  " VALUES (?1,?2,?3,?4,?5,?6)") < 0)
        return PDX_EDB;
    sqlite3_stmt *st = ix->put_run;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, capture_id);
    sqlite3_bind_text(st, 2, pdx_rollup_kind_name(run->kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, run->seq);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)run->keys);
    sqlite3_bind_int(st, 5, run->encoding);
    /* An empty run is an empty blob, not NULL. */
    sqlite3_bind_blob(st, 6, run->len ? (const void *)run->data : "", (int)run->len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return dberr(ix, ix->err, "store rollups");
    return PDX_OK;
}

int pdx_index_capture_finish(pdx_index *ix, const pdx_caprow *row, char *errbuf)
{
    static const char upd[] =
        "UPDATE captures SET first_ns=?2, last_ns=?3, packets=?4, bytes=?5, cap_bytes=?6,"
        " truncated=?7, invalid=?8, status=?9, warnings=?10, linktypes=?11, ts_resolution=?12,"
        " snaplen=?13, compression=?14, raw_size=?15,"
        " raw_fingerprint=CASE WHEN ?14 = 'none' THEN fingerprint ELSE raw_fingerprint END"
        " WHERE id=?1";
    sqlite3_stmt *st = NULL;
    const pdx_capinfo *info = row->info;
    char res[256], lt[512];
    int rc;
    if (sqlite3_prepare_v2(ix->db, upd, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    linktypes_text(info, lt, sizeof(lt));
    sqlite3_bind_int64(st, 1, row->id);
    bind_opt_time(st, 2, row->first_ns);
    bind_opt_time(st, 3, row->last_ns);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)row->packets);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)row->bytes);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)row->cap_bytes);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)row->truncated);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)row->invalid);
    sqlite3_bind_text(st, 9, row->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, row->warnings, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, lt, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 12, resolution_name(info, res, sizeof(res)), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 13, info->snaplen);
    sqlite3_bind_text(st, 14, pdx_comp_name(row->compression), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 15, (sqlite3_int64)(row->compression ? row->raw_size : row->size));
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(ix, errbuf, "update capture");

    if (sqlite3_prepare_v2(ix->db,
                           "INSERT INTO sections(capture_id, section, offset, big_endian, first_iface)"
                           " VALUES (?1,?2,?3,?4,?5)",
                           -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    for (size_t i = 0; i < info->n_sections; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, row->id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)info->sections[i].offset);
        sqlite3_bind_int64(st, 4, info->sections[i].big_endian);
        sqlite3_bind_int64(st, 5, info->sections[i].first_iface);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return dberr(ix, errbuf, "insert section");
        }
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(ix->db,
                           "INSERT INTO interfaces(capture_id, iface, section, if_local, linktype,"
                           " snaplen, tsresol, tsoffset, name) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                           -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    for (size_t i = 0; i < info->n_ifaces; i++) {
        const pdx_iface *f = &info->ifaces[i];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, row->id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_int64(st, 3, f->section);
        sqlite3_bind_int64(st, 4, f->if_local);
        sqlite3_bind_int64(st, 5, f->linktype);
        sqlite3_bind_int64(st, 6, f->snaplen);
        sqlite3_bind_int64(st, 7, f->tsresol);
        sqlite3_bind_int64(st, 8, f->tsoffset_s);
        sqlite3_bind_text(st, 9, f->name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return dberr(ix, errbuf, "insert interface");
        }
    }
    sqlite3_finalize(st);
    return PDX_OK;
}

/* ---- flows and segments ----------------------------------------------------- */

static const char *tunnel_name(int t)
{
    switch (t) {
    case PDX_TUN_IPIP: return "ipip";
    case PDX_TUN_GRE: return "gre";
    case PDX_TUN_VXLAN: return "vxlan";
    case PDX_TUN_GENEVE: return "geneve";
    case PDX_TUN_GTPU: return "gtpu";
    default: return NULL;
    }
}

static int tunnel_parse(const char *s)
{
    static const char *names[] = {"ipip", "gre", "vxlan", "geneve", "gtpu"};
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i + 1;
    return PDX_TUN_NONE;
}

static void bind_blob_or_null(sqlite3_stmt *st, int i, const void *p, int n, int present)
{
    if (present)
        sqlite3_bind_blob(st, i, p, n, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

#define FLOW_COLS                                                                                  \
    "id, proto, ethertype, linktype, src_ip, dst_ip, src_port, dst_port, icmp_id, src_mac, "      \
    "dst_mac, vlan, vlan_inner, tunnel, tunnel_src, tunnel_dst, vni, first_ns, last_ns, "          \
    "src_packets, src_bytes, dst_packets, dst_bytes, tcp_flags, end_reason, community_id, state, " \
    "first_capture, last_capture"

/* Runs a bound INSERT or UPDATE of f's row; keeps the longest duration
 * stored (meta max_duration_ns) up to date. */
static int step_flow(pdx_index *ix, sqlite3_stmt *st, const pdx_flow *f)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return dberr(ix, ix->err, "store flow");
    int64_t dur;
    if (__builtin_sub_overflow(f->last_ns, f->first_ns, &dur))
        dur = INT64_MAX;
    if (dur > ix->max_dur)
        ix->max_dur = dur;
    return PDX_OK;
}

/* Prepares sql into *slot once (kept for the connection's life). */
static int prepared(pdx_index *ix, sqlite3_stmt **slot, const char *sql)
{
    if (*slot == NULL &&
        sqlite3_prepare_v3(ix->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
        return dberr(ix, ix->err, "prepare");
    return PDX_OK;
}

/* Packets and bytes both ways, TCP flags and end reason, from parameter i. */
static void bind_counts(sqlite3_stmt *st, int i, const pdx_flow *f)
{
    sqlite3_bind_int64(st, i, (sqlite3_int64)f->pk[0]);
    sqlite3_bind_int64(st, i + 1, (sqlite3_int64)f->by[0]);
    sqlite3_bind_int64(st, i + 2, (sqlite3_int64)f->pk[1]);
    sqlite3_bind_int64(st, i + 3, (sqlite3_int64)f->by[1]);
    sqlite3_bind_int(st, i + 4, f->tcp_flags);
    sqlite3_bind_text(st, i + 5, pdx_end_name(f->end_reason), -1, SQLITE_STATIC);
}

/* A stored flow that went on in a later capture: only its counters, end
 * and state change (first_ns too when an earlier packet came late, which
 * takes the full UPDATE).  Leaving the indexed columns out of the SET list
 * spares SQLite rewriting five index entries. */
static int update_counts(pdx_index *ix, const pdx_flow *f)
{
    if (prepared(ix, &ix->upd_counts,
                  "UPDATE flows SET last_ns=?2, src_packets=?3, src_bytes=?4,"
                  " dst_packets=?5, dst_bytes=?6, tcp_flags=?7, end_reason=?8, state=?9,"
                  " last_capture=?10 WHERE id=?1") < 0)
        return PDX_EDB;
    sqlite3_stmt *st = ix->upd_counts;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, f->id);
    sqlite3_bind_int64(st, 2, f->last_ns);
    bind_counts(st, 3, f);
    sqlite3_bind_int(st, 9, f->state);
    sqlite3_bind_int64(st, 10, f->last_capture);
    return step_flow(ix, st, f);
}

/* A flow's first row is a plain INSERT; a flow that continues from an
 * earlier capture has a row already and is UPDATEd.  (INSERT OR REPLACE
 * would make SQLite keep a statement journal for every row.) */
int pdx_index_put_flow(void *ctx, const pdx_flow *f)
{
    pdx_index *ix = ctx;
    if (ix->pend == NULL) {
        ix->pend = malloc(PEND_FLOWS * sizeof(*ix->pend));
        ix->order = malloc(PEND_FLOWS * sizeof(*ix->order));
        if (ix->pend == NULL || ix->order == NULL) {
            free(ix->pend);
            free(ix->order);
            ix->pend = NULL;
            ix->order = NULL;
            return pdx_errf(ix->err, PDX_ENOMEM, "out of memory");
        }
    }
    pdx_flow *p = &ix->pend[ix->npend++];
    *p = *f;
    p->obuf = NULL; /* a row needs no offsets, and f's buffer is not ours */
    if (ix->npend == PEND_FLOWS)
        return flush_flows(ix, ix->err);
    return PDX_OK;
}

/* By ID; one flow stored twice (ended, then written again) keeps its
 * arrival order, which is its place in the pend array. */
static int cmp_pend(const void *a, const void *b)
{
    const pdx_flow *x = *(const pdx_flow *const *)a, *y = *(const pdx_flow *const *)b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int flush_flows(pdx_index *ix, char *errbuf)
{
    size_t n = ix->npend;
    if (n == 0)
        return PDX_OK; /* also when nothing was ever held back: no arrays */
    ix->npend = 0;
    for (size_t i = 0; i < n; i++)
        ix->order[i] = &ix->pend[i];
    qsort(ix->order, n, sizeof(*ix->order), cmp_pend);
    for (size_t i = 0; i < n; i++) {
        int rc = store_flow(ix, ix->order[i]);
        if (rc < 0) {
            if (errbuf != ix->err)
                memcpy(errbuf, ix->err, PDX_ERRBUF_SIZE);
            return rc;
        }
    }
    return PDX_OK;
}

/* IP protocols whose flow rows hold ports (ICMP: type and code); the row
 * writer and the live-flow reader agree on it. */
static int stores_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
}

static int store_flow(pdx_index *ix, const pdx_flow *f)
{
    sqlite3_stmt *st;
    if (prepared(ix, &ix->put_flow,
                  "INSERT INTO flows(" FLOW_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,"
                  "?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,"
                  "?26,?27,?28,?29)") < 0)
        return PDX_EDB;
    if (prepared(ix, &ix->upd_flow,
                  "UPDATE flows SET proto=?2, ethertype=?3, linktype=?4, src_ip=?5,"
                  " dst_ip=?6, src_port=?7, dst_port=?8, icmp_id=?9, src_mac=?10,"
                  " dst_mac=?11, vlan=?12, vlan_inner=?13, tunnel=?14, tunnel_src=?15,"
                  " tunnel_dst=?16, vni=?17, first_ns=?18, last_ns=?19, src_packets=?20,"
                  " src_bytes=?21, dst_packets=?22, dst_bytes=?23, tcp_flags=?24,"
                  " end_reason=?25, community_id=?26, state=?27, first_capture=?28,"
                  " last_capture=?29 WHERE id=?1") < 0)
        return PDX_EDB;
    if (f->stored && !f->first_moved)
        return update_counts(ix, f);
    st = f->stored ? ix->upd_flow : ix->put_flow;
    sqlite3_reset(st);
    int ip = f->kind != PDX_KIND_L2;
    int ports = ip && stores_ports(f->proto);
    sqlite3_bind_int64(st, 1, f->id);
    if (ip)
        sqlite3_bind_int(st, 2, f->proto);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int(st, 3, ip ? (f->kind == PDX_KIND_IP4 ? 0x0800 : 0x86dd) : f->ethertype);
    sqlite3_bind_int64(st, 4, f->linktype);
    bind_blob_or_null(st, 5, f->src, 16, ip);
    bind_blob_or_null(st, 6, f->dst, 16, ip);
    if (ports) {
        sqlite3_bind_int(st, 7, f->sport);
        sqlite3_bind_int(st, 8, f->dport);
    } else {
        sqlite3_bind_null(st, 7);
        sqlite3_bind_null(st, 8);
    }
    if (ip && (f->proto == 1 || f->proto == 58))
        sqlite3_bind_int(st, 9, f->icmp_id);
    else
        sqlite3_bind_null(st, 9);
    bind_blob_or_null(st, 10, f->src_mac, 6, f->has_mac);
    bind_blob_or_null(st, 11, f->dst_mac, 6, f->has_mac);
    if (f->vlan >= 0)
        sqlite3_bind_int(st, 12, f->vlan);
    else
        sqlite3_bind_null(st, 12);
    if (f->vlan_inner >= 0)
        sqlite3_bind_int(st, 13, f->vlan_inner);
    else
        sqlite3_bind_null(st, 13);
    const char *tn = tunnel_name(f->tunnel);
    if (tn)
        sqlite3_bind_text(st, 14, tn, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 14);
    bind_blob_or_null(st, 15, f->tun_src, 16, tn != NULL);
    bind_blob_or_null(st, 16, f->tun_dst, 16, tn != NULL);
    if (tn)
        sqlite3_bind_int64(st, 17, f->vni);
    else
        sqlite3_bind_null(st, 17);
    sqlite3_bind_int64(st, 18, f->first_ns);
    sqlite3_bind_int64(st, 19, f->last_ns);
    bind_counts(st, 20, f);
    char cid[PDX_COMMUNITYID_LEN];
    if (ip && pdx_community_id(0, f->src, f->dst, f->proto, f->sport, f->dport, cid) == 0)
        sqlite3_bind_text(st, 26, cid, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 26);
    sqlite3_bind_int(st, 27, f->state);
    sqlite3_bind_int64(st, 28, f->first_capture);
    sqlite3_bind_int64(st, 29, f->last_capture);
    return step_flow(ix, st, f);
}

int pdx_index_put_segment(void *ctx, const pdx_flow *f)
{
    pdx_index *ix = ctx;
    sqlite3_stmt *st;
    if (prepared(ix, &ix->put_seg,
                  "INSERT INTO packets(flow_id, capture_id, seg, count,"
                  " first_offset, last_offset, encoding, offsets)"
                  " VALUES (?1,?2,?3,?4,?5,?6,?7,?8)") < 0)
        return PDX_EDB;
    const uint8_t *blob;
    size_t blen;
    if (ix->zctx == NULL)
        ix->zctx = ZSTD_createCCtx();
    int enc = pdx_offsets_encode(ix->zctx, f->obuf, f->olen, &ix->zbuf, &ix->zcap, &blob, &blen);
    if (enc < 0)
        return pdx_errf(ix->err, PDX_ENOMEM, "out of memory");
    st = ix->put_seg;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, f->id);
    sqlite3_bind_int64(st, 2, f->cur_capture);
    sqlite3_bind_int64(st, 3, f->seg);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)f->ocount);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)f->ofirst);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)f->olast);
    sqlite3_bind_int(st, 7, enc);
    sqlite3_bind_blob(st, 8, blob, (int)blen, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return dberr(ix, ix->err, "store packet offsets");
    return PDX_OK;
}

/* IDs count up from 1; one past this bound, a run could overflow int64
 * handing out new ones, and only a damaged index gets there.  The flow
 * table refuses to take up a flow beyond it (flow.h); captures share it. */
#define MAX_ID_STORED PDX_FLOW_ID_MAX

static int max_id(pdx_index *ix, const char *sql, const char *what, int64_t *out, char *errbuf)
{
    int64_t v = 0;
    int rc = query_int(ix, sql, &v, errbuf);
    if (rc < 0)
        return rc;
    if (v > MAX_ID_STORED)
        return pdx_errf(errbuf, PDX_EDB, "the largest %s ID is %lld, more than pcapdex ever hands "
                        "out: the index is corrupt", what, (long long)v);
    *out = v;
    return PDX_OK;
}

int pdx_index_max_flow_id(pdx_index *ix, int64_t *out, char *errbuf)
{
    int rc = flush_flows(ix, errbuf);
    if (rc < 0)
        return rc;
    return max_id(ix, "SELECT max(id) FROM flows", "flow", out, errbuf);
}

int pdx_index_max_capture_id(pdx_index *ix, int64_t *out, char *errbuf)
{
    return max_id(ix, "SELECT max(id) FROM captures", "capture", out, errbuf);
}

static void describe(sqlite3_stmt *st, int col, char *buf, size_t len);

/* A live flow's row (FLOW_COLS) into *f, checked: the flow table keys and
 * continues the flow on what it reads, so a damaged column must stop the run
 * rather than be taken as 0.  Columns the flow's kind does not store (ports
 * of other protocols, a tunnel's endpoints without a tunnel) are not read.
 * 0 or PDX_EDB, naming the row and the column. */
static int live_flow(sqlite3_stmt *st, pdx_flow *f, char *errbuf)
{
    char row[48];
    const uint8_t *a, *b;
    const char *s;
    int64_t v;
    int rc;
    memset(f, 0, sizeof(*f));
    snprintf(row, sizeof(row), "flow %lld", (long long)sqlite3_column_int64(st, 0));
    if ((rc = pdx_index_col_int(st, 0, 1, MAX_ID_STORED, 0, &v, row, errbuf)) < 0)
        return rc;
    f->id = v;
    if ((rc = pdx_index_col_int(st, 1, 0, UINT8_MAX, 1, &v, row, errbuf)) < 0)
        return rc;
    int ip = rc == 0;
    f->proto = (uint8_t)v;
    if ((rc = pdx_index_col_int(st, 2, 0, UINT16_MAX, 0, &v, row, errbuf)) < 0)
        return rc;
    if (ip && v != 0x0800 && v != 0x86dd)
        return pdx_errf(errbuf, PDX_EDB,
                        "%s: ethertype is %lld, not 2048 or 34525 as for an IP flow", row,
                        (long long)v);
    f->kind = !ip ? PDX_KIND_L2 : (v == 0x86dd ? PDX_KIND_IP6 : PDX_KIND_IP4);
    f->ethertype = ip ? 0 : (uint16_t)v;
    if ((rc = pdx_index_col_int(st, 3, 0, UINT32_MAX, 0, &v, row, errbuf)) < 0)
        return rc;
    f->linktype = (uint32_t)v;
    /* Addresses: an IP flow's, or NULL (a non-IP flow has none; one that
     * has them is an IP flow whose proto was lost). */
    for (int k = 0; k < 2; k++) {
        if (!ip && sqlite3_column_type(st, 4 + k) != SQLITE_NULL) {
            char what[64];
            describe(st, 4 + k, what, sizeof(what));
            return pdx_errf(errbuf, PDX_EDB,
                            "%s: %s is %s, not NULL as for a non-IP flow (proto is NULL)", row,
                            sqlite3_column_name(st, 4 + k), what);
        }
        if (ip && (rc = pdx_index_col_blob(st, 4 + k, 16, 0, &a, row, errbuf)) < 0)
            return rc;
        if (ip)
            memcpy(k == 0 ? f->src : f->dst, a, 16);
    }
    int icmp = ip && (f->proto == 1 || f->proto == 58);
    if (ip && stores_ports(f->proto)) {
        if ((rc = pdx_index_col_int(st, 6, 0, UINT16_MAX, 0, &v, row, errbuf)) < 0)
            return rc;
        f->sport = (uint16_t)v;
        if ((rc = pdx_index_col_int(st, 7, 0, UINT16_MAX, 0, &v, row, errbuf)) < 0)
            return rc;
        f->dport = (uint16_t)v;
    }
    if (icmp) {
        if ((rc = pdx_index_col_int(st, 8, 0, UINT16_MAX, 0, &v, row, errbuf)) < 0)
            return rc;
        f->icmp_id = (uint16_t)v;
    }
    if ((rc = pdx_index_col_blob(st, 9, 6, 1, &a, row, errbuf)) < 0 ||
        (rc = pdx_index_col_blob(st, 10, 6, 1, &b, row, errbuf)) < 0)
        return rc;
    if ((a == NULL) != (b == NULL))
        return pdx_errf(errbuf, PDX_EDB, "%s: %s is NULL, but %s is not", row,
                        sqlite3_column_name(st, a == NULL ? 9 : 10),
                        sqlite3_column_name(st, a == NULL ? 10 : 9));
    if (a != NULL) {
        memcpy(f->src_mac, a, 6);
        memcpy(f->dst_mac, b, 6);
        f->has_mac = 1;
    }
    /* VLAN IDs are 12 bits; NULL when untagged. */
    if ((rc = pdx_index_col_int(st, 11, 0, 4095, 1, &v, row, errbuf)) < 0)
        return rc;
    f->vlan = rc == 1 ? -1 : (int32_t)v;
    if ((rc = pdx_index_col_int(st, 12, 0, 4095, 1, &v, row, errbuf)) < 0)
        return rc;
    f->vlan_inner = rc == 1 ? -1 : (int32_t)v;
    if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
        if ((rc = pdx_index_col_text(st, 13, 16, &s, row, errbuf)) < 0)
            return rc;
        f->tunnel = (uint8_t)tunnel_parse(s);
        if (f->tunnel == PDX_TUN_NONE)
            return pdx_errf(errbuf, PDX_EDB,
                            "%s: tunnel is '%s', not ipip, gre, vxlan, geneve, gtpu or NULL", row,
                            s);
        if ((rc = pdx_index_col_blob(st, 14, 16, 0, &a, row, errbuf)) < 0 ||
            (rc = pdx_index_col_blob(st, 15, 16, 0, &b, row, errbuf)) < 0)
            return rc;
        memcpy(f->tun_src, a, 16);
        memcpy(f->tun_dst, b, 16);
        if ((rc = pdx_index_col_int(st, 16, 0, UINT32_MAX, 0, &v, row, errbuf)) < 0)
            return rc;
        f->vni = (uint32_t)v;
    }
    if ((rc = pdx_index_col_int(st, 17, INT64_MIN, INT64_MAX, 0, &f->first_ns, row, errbuf)) < 0 ||
        (rc = pdx_index_col_int(st, 18, INT64_MIN, INT64_MAX, 0, &f->last_ns, row, errbuf)) < 0)
        return rc;
    if (f->first_ns > f->last_ns)
        return pdx_errf(errbuf, PDX_EDB, "%s: first_ns %lld is after last_ns %lld", row,
                        (long long)f->first_ns, (long long)f->last_ns);
    /* Packets and bytes of each side: counters the run goes on adding to. */
    uint64_t *count[4] = {&f->pk[0], &f->by[0], &f->pk[1], &f->by[1]};
    for (int k = 0; k < 4; k++) {
        if ((rc = pdx_index_col_int(st, 19 + k, 0, INT64_MAX, 0, &v, row, errbuf)) < 0)
            return rc;
        *count[k] = (uint64_t)v;
    }
    if ((rc = pdx_index_col_int(st, 23, 0, UINT8_MAX, 0, &v, row, errbuf)) < 0)
        return rc;
    f->tcp_flags = (uint8_t)v;
    if ((rc = pdx_index_col_text(st, 24, 8, &s, row, errbuf)) < 0)
        return rc;
    f->end_reason = (uint8_t)pdx_end_parse(s);
    if (strcmp(pdx_end_name(f->end_reason), s) != 0)
        return pdx_errf(errbuf, PDX_EDB, "%s: end_reason is '%s', not fin, rst, idle or open", row,
                        s);
    /* Bit 0 is set (the query asks for it); bits 1-4 are the others. */
    if ((rc = pdx_index_col_int(st, 26, 0, 0x1f, 0, &v, row, errbuf)) < 0)
        return rc;
    f->state = (uint8_t)v;
    if ((rc = pdx_index_col_int(st, 27, 1, MAX_ID_STORED, 0, &f->first_capture, row, errbuf)) < 0 ||
        (rc = pdx_index_col_int(st, 28, 1, MAX_ID_STORED, 0, &f->last_capture, row, errbuf)) < 0)
        return rc;
    return PDX_OK;
}

int pdx_index_load_live(pdx_index *ix, int (*cb)(void *ctx, const pdx_flow *f), void *ctx,
                        char *errbuf)
{
    sqlite3_stmt *st = NULL;
    int frc = flush_flows(ix, errbuf);
    if (frc < 0)
        return frc;
    /* In the order their last packets came (the order the flow table keeps
     * them in, and ends idle ones in): by capture, then by the offset of
     * that packet, which the flow's last segment there ends with.  Their
     * times would do only where times never go backwards. */
    if (sqlite3_prepare_v2(ix->db,
                           "SELECT " FLOW_COLS " FROM flows WHERE state & 1 ORDER BY last_capture,"
                           " (SELECT p.last_offset FROM packets p WHERE p.flow_id = flows.id"
                           " AND p.capture_id = flows.last_capture ORDER BY p.seg DESC LIMIT 1),"
                           " last_ns, id",
                           -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        pdx_flow f;
        if ((rc = live_flow(st, &f, errbuf)) < 0) {
            sqlite3_finalize(st);
            return rc;
        }
        if ((rc = cb(ctx, &f)) < 0) {
            sqlite3_finalize(st);
            if (rc == PDX_ECORRUPT)
                return pdx_errf(errbuf, PDX_EDB,
                                "cannot take up flow %lld: another live flow has its key (addresses, "
                                "ports, protocol), or its ID is too large: the index is corrupt",
                                (long long)f.id);
            return pdx_errf(errbuf, rc, "cannot take up flow %lld", (long long)f.id);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return dberr(ix, errbuf, "load live flows");
    return PDX_OK;
}

/* ---- fingerprints ------------------------------------------------------------ */

#define FP_SPAN (1024u * 1024u)

int pdx_fingerprint_fd(int fd, uint64_t size, char out[80], char *errbuf)
{
    const pdx_crypto_fns *c = pdx_crypto_fns_get(errbuf);
    if (c == NULL)
        return PDX_EIO;
    EVP_MD_CTX *md = c->md_ctx_new();
    uint8_t *buf = malloc(FP_SPAN);
    uint8_t sz[8];
    int rc = PDX_OK;
    if (md == NULL || buf == NULL) {
        rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < 8; i++)
        sz[i] = (uint8_t)(size >> (8 * i));
    c->digest_init(md, c->sha256(), NULL);
    c->digest_update(md, sz, 8);
    for (int part = 0; part < 2; part++) {
        uint64_t off = part == 0 ? 0 : (size > FP_SPAN ? size - FP_SPAN : 0);
        size_t want = (size_t)PDX_MIN((uint64_t)FP_SPAN, size);
        size_t got = 0;
        while (got < want) {
            ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = pdx_errf(errbuf, PDX_EIO, "read for fingerprint: %s",
                              n < 0 ? strerror(errno) : "file shrank");
                goto out;
            }
            got += (size_t)n;
        }
        c->digest_update(md, buf, want);
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    c->digest_final(md, d, &dl);
    memcpy(out, "h1:", 3);
    for (unsigned i = 0; i < dl && i < 32; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", d[i]);
out:
    c->md_ctx_free(md);
    free(buf);
    return rc;
}

/* ---- checking what is read ------------------------------------------------------ */

/* What a column holds, for a message: "NULL", "-1", "the real 1e+300",
 * "'text'", "700 bytes of text", "a 7-byte blob". */
static void describe(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    /* The type first: asking for bytes would turn a number into text. */
    const char *t;
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL: snprintf(buf, len, "NULL"); break;
    case SQLITE_INTEGER: snprintf(buf, len, "%lld", (long long)sqlite3_column_int64(st, col)); break;
    case SQLITE_FLOAT: snprintf(buf, len, "the real %g", sqlite3_column_double(st, col)); break;
    case SQLITE_TEXT:
        t = (const char *)sqlite3_column_text(st, col);
        if (t != NULL && sqlite3_column_bytes(st, col) <= 32 &&
            strlen(t) == (size_t)sqlite3_column_bytes(st, col))
            snprintf(buf, len, "'%s'", t);
        else
            snprintf(buf, len, "%d bytes of text", sqlite3_column_bytes(st, col));
        break;
    default: snprintf(buf, len, "a %d-byte blob", sqlite3_column_bytes(st, col)); break;
    }
}

int pdx_index_col_int(sqlite3_stmt *st, int col, int64_t lo, int64_t hi, int null_ok, int64_t *out,
                      const char *row, char *errbuf)
{
    int t = sqlite3_column_type(st, col);
    char what[64];
    if (t == SQLITE_NULL && null_ok) {
        *out = 0;
        return 1;
    }
    if (t == SQLITE_INTEGER) {
        int64_t v = sqlite3_column_int64(st, col);
        if (v >= lo && v <= hi) {
            *out = v;
            return PDX_OK;
        }
    }
    describe(st, col, what, sizeof(what));
    return pdx_errf(errbuf, PDX_EDB, "%s: %s is %s, not an integer from %lld to %lld", row,
                    sqlite3_column_name(st, col), what, (long long)lo, (long long)hi);
}

int pdx_index_col_blob(sqlite3_stmt *st, int col, int len, int null_ok, const uint8_t **out,
                       const char *row, char *errbuf)
{
    int t = sqlite3_column_type(st, col);
    char what[64];
    if (t == SQLITE_NULL && null_ok) {
        *out = NULL;
        return 1;
    }
    if (t == SQLITE_BLOB && sqlite3_column_bytes(st, col) == len) {
        *out = sqlite3_column_blob(st, col);
        return PDX_OK;
    }
    describe(st, col, what, sizeof(what));
    return pdx_errf(errbuf, PDX_EDB, "%s: %s is %s, not %d bytes", row,
                    sqlite3_column_name(st, col), what, len);
}

int pdx_index_col_text(sqlite3_stmt *st, int col, size_t max, const char **out, const char *row,
                       char *errbuf)
{
    char what[64];
    if (sqlite3_column_type(st, col) == SQLITE_TEXT) {
        const char *s = (const char *)sqlite3_column_text(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        if (s != NULL && n < max && strlen(s) == n) {
            *out = s;
            return PDX_OK;
        }
        if (s != NULL && n >= max)
            return pdx_errf(errbuf, PDX_EDB, "%s: %s is %zu bytes of text, more than %zu", row,
                            sqlite3_column_name(st, col), n, max - 1);
        if (s != NULL)
            return pdx_errf(errbuf, PDX_EDB, "%s: %s holds a NUL byte", row,
                            sqlite3_column_name(st, col));
    }
    describe(st, col, what, sizeof(what));
    return pdx_errf(errbuf, PDX_EDB, "%s: %s is %s, not text", row, sqlite3_column_name(st, col), what);
}

/* ---- reading offsets ------------------------------------------------------------ */

int pdx_index_segments(pdx_index *ix, int64_t flow_id, int (*cb)(void *ctx, const pdx_segment *s),
                       void *ctx, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    const char *sql = flow_id > 0
                          ? "SELECT flow_id, capture_id, seg, count, encoding, offsets FROM packets"
                            " WHERE flow_id=?1 ORDER BY flow_id, capture_id, seg"
                          : "SELECT flow_id, capture_id, seg, count, encoding, offsets FROM packets"
                            " ORDER BY flow_id, capture_id, seg";
    uint64_t *offs = NULL;
    size_t cap = 0;
    int rc;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dberr(ix, errbuf, "prepare");
    if (flow_id > 0)
        sqlite3_bind_int64(st, 1, flow_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        pdx_segment s;
        s.flow_id = sqlite3_column_int64(st, 0);
        s.capture_id = sqlite3_column_int64(st, 1);
        s.seg = sqlite3_column_int64(st, 2);
        sqlite3_int64 n = sqlite3_column_int64(st, 3);
        const void *blob = sqlite3_column_blob(st, 5);
        size_t blen = (size_t)sqlite3_column_bytes(st, 5);
        /* Each offset takes at least one varint byte: check the count
         * against the segment's raw size before allocating for it. */
        int enc = sqlite3_column_int(st, 4);
        if (n <= 0 || (uint64_t)n > pdx_offsets_capacity(enc, blob, blen)) {
            rc = pdx_errf(errbuf, PDX_EDB, "corrupt offsets of flow %lld in capture %lld",
                          (long long)s.flow_id, (long long)s.capture_id);
            goto out;
        }
        if ((size_t)n > cap) {
            uint64_t *nb = realloc(offs, (size_t)n * sizeof(*nb));
            if (nb == NULL) {
                rc = pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
                goto out;
            }
            offs = nb;
            cap = (size_t)n;
        }
        if (pdx_offsets_decode(enc, blob, blen, (uint64_t)n, offs) < 0) {
            rc = pdx_errf(errbuf, PDX_EDB, "corrupt offsets of flow %lld in capture %lld",
                          (long long)s.flow_id, (long long)s.capture_id);
            goto out;
        }
        s.count = (uint64_t)n;
        s.offsets = offs;
        if ((rc = cb(ctx, &s)) < 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        rc = dberr(ix, errbuf, "read packets");
        goto out;
    }
    rc = PDX_OK;
out:
    sqlite3_finalize(st);
    free(offs);
    return rc;
}
