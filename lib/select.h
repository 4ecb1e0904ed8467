/*
 * select.h - the flow selection shared by query and carve: a filter
 * expression (qparse.h) and a time window, compiled to one WHERE clause over
 * `flows` with bound parameters.
 *
 * A flow matches the window when it was active in it: first_ns <= until and
 * last_ns >= since.  So that SQLite can use the first_ns index for the lower
 * bound too, the clause adds first_ns >= since - (longest flow duration),
 * which the index keeps in meta.max_duration_ns.
 */
#ifndef PDX_SELECT_H
#define PDX_SELECT_H

#include <stdint.h>

#include "index.h"
#include "qparse.h"

typedef struct pdx_select {
    pdx_query *q;
    int has_since, has_until;
    int64_t since_ns, until_ns;
    int64_t max_dur;
    char *where; /* "WHERE ..." (never empty) */
    /* When the expression has a `host A` or `port N` to split
     * (pdx_query_split): the two halves and their WHERE clauses; all NULL
     * otherwise.  A list sorted by first_ns can then be the UNION of the
     * halves, each walking an address (port) index in order, and stop at
     * its LIMIT. */
    pdx_query *split_src, *split_dst;
    char *where_src, *where_dst;
} pdx_select;

/* Compiles expr (NULL = everything) and the window (NULL = open).  On a
 * syntax error returns PDX_EUSAGE with errbuf and *err_pos set.  Free with
 * pdx_select_free (also after a failure). */
int pdx_select_init(pdx_select *s, pdx_index *ix, const char *expr, const int64_t *since,
                    const int64_t *until, char *errbuf, size_t *err_pos);

/* Binds the clause's parameters from first_index on; returns the next free
 * index or a negative code. */
int pdx_select_bind(const pdx_select *s, sqlite3_stmt *st, int first_index);

/* The same for "SELECT ... where_src UNION SELECT ... where_dst". */
int pdx_select_bind_split(const pdx_select *s, sqlite3_stmt *st, int first_index);

/* 1 when s selects every flow: no expression and no window. */
int pdx_select_is_all(const pdx_select *s);

void pdx_select_free(pdx_select *s);

#endif
