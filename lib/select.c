/* select.c - filter expression plus time window as one WHERE clause. */
#include "select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "WHERE expr AND window" for one query. */
static char *where_of(const pdx_select *s, const pdx_query *q)
{
    const char *qs = pdx_query_sql(q);
    size_t len = strlen(qs) + 128;
    char *w = malloc(len);
    if (w != NULL)
        snprintf(w, len, "WHERE %s%s%s", qs, s->has_until ? " AND first_ns <= ?" : "",
                 s->has_since ? " AND last_ns >= ? AND first_ns >= ?" : "");
    return w;
}

int pdx_select_init(pdx_select *s, pdx_index *ix, const char *expr, const int64_t *since,
                    const int64_t *until, char *errbuf, size_t *err_pos)
{
    memset(s, 0, sizeof(*s));
    int rc = pdx_qparse(expr, &s->q, errbuf, err_pos);
    if (rc < 0)
        return rc;
    if (since) {
        s->has_since = 1;
        s->since_ns = *since;
    }
    if (until) {
        s->has_until = 1;
        s->until_ns = *until;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(pdx_index_db(ix), "SELECT value FROM meta WHERE key='max_duration_ns'", -1,
                           &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            s->max_dur = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if ((s->where = where_of(s, s->q)) == NULL)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    rc = pdx_query_split(s->q, &s->split_src, &s->split_dst);
    if (rc < 0)
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    if (rc == 1 && ((s->where_src = where_of(s, s->split_src)) == NULL ||
                    (s->where_dst = where_of(s, s->split_dst)) == NULL))
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory");
    return PDX_OK;
}

static int bind_one(const pdx_select *s, const pdx_query *q, sqlite3_stmt *st, int first_index)
{
    int i = pdx_query_bind(q, st, first_index);
    if (i < 0)
        return i;
    if (s->has_until)
        sqlite3_bind_int64(st, i++, s->until_ns);
    if (s->has_since) {
        sqlite3_bind_int64(st, i++, s->since_ns);
        int64_t lo;
        if (__builtin_sub_overflow(s->since_ns, s->max_dur, &lo))
            lo = INT64_MIN;
        sqlite3_bind_int64(st, i++, lo);
    }
    return i;
}

int pdx_select_bind(const pdx_select *s, sqlite3_stmt *st, int first_index)
{
    return bind_one(s, s->q, st, first_index);
}

int pdx_select_bind_split(const pdx_select *s, sqlite3_stmt *st, int first_index)
{
    int i = bind_one(s, s->split_src, st, first_index);
    return i < 0 ? i : bind_one(s, s->split_dst, st, i);
}

int pdx_select_is_all(const pdx_select *s)
{
    return !s->has_since && !s->has_until && pdx_query_is_all(s->q);
}

void pdx_select_free(pdx_select *s)
{
    pdx_query_free(s->split_src);
    pdx_query_free(s->split_dst);
    pdx_query_free(s->q);
    free(s->where);
    free(s->where_src);
    free(s->where_dst);
    memset(s, 0, sizeof(*s));
}
