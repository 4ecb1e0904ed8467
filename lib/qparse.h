/*
 * qparse.h - the flow filter language (tcpdump/nfdump style, docs/query.md)
 * parsed into a tree and compiled into a parameterized SQL WHERE fragment
 * over table `flows`.  User text never reaches the SQL: every value is a
 * bound parameter.  The same tree can be evaluated in C against one row
 * (pdx_query_match), which the tests use to check the SQL.
 */
#ifndef PDX_QPARSE_H
#define PDX_QPARSE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "pdx.h"

typedef struct pdx_query pdx_query;

/* Limits on an expression.  NEST bounds parentheses plus negations as
 * written (the parser's recursion).  DEPTH bounds the compiled tree (after
 * flattening a and (b and c) and dropping not not), because SQLite's parser
 * (3.40: a fixed 100-entry stack) rejects SQL nested much deeper.  TERMS
 * keeps the SQL expression tree, whose height grows with the length of an
 * and/or chain, under SQLite's limit of 1000 even when the fragment sits in
 * a subquery (which about doubles the height SQLite counts).  The tests
 * prepare the worst cases inside a heavier statement than the tools use. */
#define PDX_QUERY_MAX_NEST 256
#define PDX_QUERY_MAX_DEPTH 20
#define PDX_QUERY_MAX_TERMS 256

/* Kinds of bound parameter. */
enum { PDX_QPARAM_INT = 1, PDX_QPARAM_BLOB = 2, PDX_QPARAM_TEXT = 3 };

typedef struct pdx_qparam {
    int type;          /* PDX_QPARAM_* */
    int64_t i;         /* INT */
    uint8_t blob[16];  /* BLOB: an address, always 16 bytes */
    size_t blob_len;
    const char *text;  /* TEXT: NUL-terminated, owned by the query */
} pdx_qparam;

/* One flows row as pdx_query_match sees it.  NULL columns: proto, ports and
 * VLANs -1; addresses absent when has_ip is 0; community_id NULL. */
typedef struct pdx_flowrow {
    int64_t id;
    int proto;
    int ethertype;
    int has_ip;
    uint8_t src_ip[16];
    uint8_t dst_ip[16];
    int32_t src_port, dst_port;
    int32_t vlan, vlan_inner;
    int64_t first_ns, last_ns;
    int64_t src_packets, src_bytes, dst_packets, dst_bytes;
    const char *community_id;
} pdx_flowrow;

/* Parses and compiles expr (NULL or blank = match everything).
 * Returns PDX_OK and a query in *out that the caller frees with
 * pdx_query_free; or PDX_EUSAGE with a message in errbuf (may be NULL) and
 * in *err_pos (may be NULL) the 0-based byte offset of the offending token
 * (strlen(expr) when the expression ended too early); or PDX_ENOMEM.
 * *out is written only on success; *err_pos only on failure. */
int pdx_qparse(const char *expr, pdx_query **out, char *errbuf, size_t *err_pos);

/* The WHERE fragment, always parenthesized or "1"; valid until the query is
 * freed.  Its '?' placeholders are the parameters, in order. */
const char *pdx_query_sql(const pdx_query *q);

size_t pdx_query_nparams(const pdx_query *q);

/* Parameter i (0-based), or NULL when i is out of range. */
const pdx_qparam *pdx_query_param(const pdx_query *q, size_t i);

/* Binds every parameter to st, the first at index first_index (1-based as
 * in sqlite3_bind_*).  Returns the next free index, or PDX_EDB when SQLite
 * refused (e.g. too few placeholders) or PDX_EUSAGE for bad arguments. */
int pdx_query_bind(const pdx_query *q, sqlite3_stmt *st, int first_index);

/* Evaluates the query against one row in C, with the semantics the SQL
 * has.  Returns 1 for a match, else 0. */
int pdx_query_match(const pdx_query *q, const pdx_flowrow *row);

/*
 * When the expression is `host A` (either direction, one address) or
 * `port N` (either direction, one port), or an `and` with such a term among
 * its operands (a host before a port), makes two queries whose union is q:
 * *src with that term as `src host A` (`src port N`), *dst with it as
 * `dst host A` (`dst port N`).  Each of them can walk one address (port)
 * index in first_ns order, which lets a sorted, limited list stop early.  Returns 1 when split, 0 when q has no
 * such term (nothing written), PDX_ENOMEM.  Free both before q.
 */
int pdx_query_split(const pdx_query *q, pdx_query **src, pdx_query **dst);

/* Frees q; NULL is a no-op. */
/* 1 when q has no expression (it matches every flow). */
int pdx_query_is_all(const pdx_query *q);

void pdx_query_free(pdx_query *q);

/* Fuzzing entry: parses a NUL-terminated copy of data[0..len), checks the
 * compiled query's invariants (placeholders = parameters, no quote, ';' or
 * comment in the SQL), evaluates it once, frees it.  Returns 0, or
 * PDX_ECORRUPT when an invariant broke (a fuzz target should abort then). */
int pdx_qparse_fuzz_one(const uint8_t *data, size_t len);

#endif
