/*
 * qparse.c - the flow filter language: a lexer, a recursive-descent parser
 * producing a tree, a compiler from the tree to a parameterized WHERE
 * fragment, and an evaluator of the tree over one row.  docs/query.md is
 * the user's description; the grammar is
 *
 *   expr    := or
 *   or      := and (('or' | '||') and)*
 *   and     := not (('and' | '&&')? not)*      juxtaposition means and
 *   not     := ('not' | '!') not | primary
 *   primary := '(' expr ')' | term
 *
 * SQL shape: every node compiles to a parenthesized atom; negation is
 * "(X IS NOT TRUE)" (SQLite 3.23+) so that a term that is NULL for a row (a non-IP flow
 * has no addresses) counts as false under `not` too, and the language stays
 * two-valued: `not host A` matches ARP flows, as in tcpdump.
 */
#include "qparse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "timeparse.h"

enum { N_AND, N_OR, N_NOT, N_TERM };

enum {
    T_HOST,      /* lo */
    T_NET,       /* lo..hi */
    T_PORT,      /* a (= b) */
    T_PORTRANGE, /* a..b */
    T_PROTO,     /* a */
    T_ETHERTYPE, /* a: ip, ip6, arp, ether proto N */
    T_VLAN,      /* a */
    T_VLAN_ANY,  /* tagged at all */
    T_PACKETS,   /* op a */
    T_BYTES,     /* op a */
    T_DURATION,  /* op a, ns */
    T_CID,       /* text */
    T_ID,        /* a..b */
};

/* Direction qualifier: src = the flow's initiator, dst = its responder. */
enum { DIR_ANY, DIR_SRC, DIR_DST, DIR_BOTH };

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
static const char *const op_sql[] = {"=", "!=", "<", "<=", ">", ">="};

typedef struct qnode {
    int kind;
    size_t pos; /* where it starts in the expression, for errors */
    struct qnode **kids;
    size_t nkids, capkids;
    int term, dir, op;
    uint8_t lo[16], hi[16];
    int64_t a, b;
    char *text;
} qnode;

struct pdx_query {
    qnode *root; /* NULL: the empty expression, matches everything */
    qnode **all; /* every node, for freeing without recursion */
    size_t nall, capall;
    char *sql;
    pdx_qparam *params;
    size_t nparams, capparams;
    /* A split query (pdx_query_split) shares the tree of the query it came
     * from (all is empty) and emits split_node with direction split_dir. */
    const qnode *split_node;
    int split_dir;
};

/* ---- lexer ---------------------------------------------------------- */

enum { TK_EOF, TK_LP, TK_RP, TK_NOT, TK_AND, TK_OR, TK_OP, TK_WORD, TK_BAD };

typedef struct tok {
    int type;
    int op; /* TK_OP */
    size_t pos, len;
} tok;

typedef struct parser {
    const char *s;
    size_t len;
    size_t pos; /* next unread byte */
    int nest;
    size_t nterms;
    pdx_query *q;
    int err;
    size_t errpos;
    char *errbuf;
} parser;

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Characters that end a word: blanks and the operator characters. */
static int is_special(unsigned char c)
{
    return c == '(' || c == ')' || c == '!' || c == '<' || c == '>' || c == '=' || c == '&' ||
           c == '|';
}

static int ieq(const char *a, size_t n, const char *kw)
{
    size_t k = strlen(kw);
    if (n != k)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != kw[i])
            return 0;
    }
    return 1;
}

static tok lex_at(const parser *p, size_t at)
{
    const char *s = p->s;
    tok t = {TK_EOF, 0, 0, 0};
    while (at < p->len && is_ws((unsigned char)s[at]))
        at++;
    t.pos = at;
    if (at >= p->len)
        return t;
    char c = s[at], n = at + 1 < p->len ? s[at + 1] : '\0';
    t.len = 1;
    switch (c) {
    case '(': t.type = TK_LP; return t;
    case ')': t.type = TK_RP; return t;
    case '!':
        if (n == '=') {
            t.type = TK_OP, t.op = OP_NE, t.len = 2;
        } else {
            t.type = TK_NOT;
        }
        return t;
    case '&':
        t.type = n == '&' ? TK_AND : TK_BAD;
        t.len = n == '&' ? 2 : 1;
        return t;
    case '|':
        t.type = n == '|' ? TK_OR : TK_BAD;
        t.len = n == '|' ? 2 : 1;
        return t;
    case '<':
        t.type = TK_OP;
        if (n == '=')
            t.op = OP_LE, t.len = 2;
        else if (n == '>')
            t.op = OP_NE, t.len = 2;
        else
            t.op = OP_LT;
        return t;
    case '>':
        t.type = TK_OP;
        if (n == '=')
            t.op = OP_GE, t.len = 2;
        else
            t.op = OP_GT;
        return t;
    case '=':
        t.type = TK_OP, t.op = OP_EQ;
        t.len = n == '=' ? 2 : 1;
        return t;
    default: break;
    }
    size_t e = at;
    while (e < p->len && !is_ws((unsigned char)s[e]) && !is_special((unsigned char)s[e]))
        e++;
    t.len = e - at;
    t.type = TK_WORD;
    if (ieq(s + at, t.len, "and"))
        t.type = TK_AND;
    else if (ieq(s + at, t.len, "or"))
        t.type = TK_OR;
    else if (ieq(s + at, t.len, "not"))
        t.type = TK_NOT;
    return t;
}

static tok peek(const parser *p)
{
    return lex_at(p, p->pos);
}

static void take(parser *p, const tok *t)
{
    p->pos = t->pos + t->len;
}

static int is_kw(const parser *p, const tok *t, const char *kw)
{
    return t->type == TK_WORD && ieq(p->s + t->pos, t->len, kw);
}

/* ---- errors --------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void *fail(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->err != 0)
        return NULL;
    p->err = PDX_EUSAGE;
    p->errpos = pos;
    if (p->errbuf != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->errbuf, PDX_ERRBUF_SIZE, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static void *oom(parser *p)
{
    if (p->err == 0) {
        p->err = PDX_ENOMEM;
        p->errpos = p->pos;
        pdx_errf(p->errbuf, PDX_ENOMEM, "out of memory parsing the filter");
    }
    return NULL;
}

/* A token's text made safe to print, quoted: printable ASCII, cut to 40
 * bytes; or "the end of the filter". */
typedef struct shown {
    char s[64];
} shown;

static shown show(const parser *p, const tok *t)
{
    shown out;
    size_t o = 0;
    if (t->type == TK_EOF) {
        memcpy(out.s, "the end of the filter", sizeof("the end of the filter"));
        return out;
    }
    out.s[o++] = '\'';
    for (size_t i = 0; i < t->len && i < 40; i++) {
        unsigned char c = (unsigned char)p->s[t->pos + i];
        out.s[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (t->len > 40) {
        memcpy(out.s + o, "...", 3);
        o += 3;
    }
    out.s[o++] = '\'';
    out.s[o] = '\0';
    return out;
}

/* ---- tree ----------------------------------------------------------- */

static qnode *new_node(parser *p, int kind, size_t pos)
{
    pdx_query *q = p->q;
    if (q->nall == q->capall) {
        size_t cap = q->capall ? q->capall * 2 : 16;
        qnode **all = realloc(q->all, cap * sizeof(*all));
        if (all == NULL)
            return oom(p);
        q->all = all;
        q->capall = cap;
    }
    qnode *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return oom(p);
    n->kind = kind;
    n->pos = pos;
    q->all[q->nall++] = n;
    return n;
}

static qnode *new_term(parser *p, int term, int dir, size_t pos)
{
    if (++p->nterms > PDX_QUERY_MAX_TERMS)
        return fail(p, pos, "the filter has more than %d terms", PDX_QUERY_MAX_TERMS);
    qnode *n = new_node(p, N_TERM, pos);
    if (n != NULL) {
        n->term = term;
        n->dir = dir;
    }
    return n;
}

static int add_kid(parser *p, qnode *parent, qnode *kid)
{
    if (parent->nkids == parent->capkids) {
        size_t cap = parent->capkids ? parent->capkids * 2 : 4;
        qnode **k = realloc(parent->kids, cap * sizeof(*k));
        if (k == NULL) {
            oom(p);
            return -1;
        }
        parent->kids = k;
        parent->capkids = cap;
    }
    parent->kids[parent->nkids++] = kid;
    return 0;
}

/* Adds kid to an AND/OR node, splicing in its children when it is the
 * same operator (from parentheses), so that chains stay flat. */
static int add_flat(parser *p, qnode *parent, qnode *kid)
{
    if (kid->kind != parent->kind)
        return add_kid(p, parent, kid);
    for (size_t i = 0; i < kid->nkids; i++)
        if (add_kid(p, parent, kid->kids[i]) != 0)
            return -1;
    return 0;
}

/* ---- values --------------------------------------------------------- */

/* The ethertypes that are terms of their own (tcpdump's names): -1 if none. */
static int ethertype_by_name(const char *s, size_t n)
{
    static const struct {
        const char *name;
        int type;
    } names[] = {{"ip", 0x0800}, {"ip6", 0x86dd}, {"arp", 0x0806}, {"rarp", 0x8035}};
    for (size_t i = 0; i < PDX_ARRAY_LEN(names); i++)
        if (ieq(s, n, names[i].name))
            return names[i].type;
    return -1;
}

/* Digits of base 10 or 16 (either case) only, value <= max: 0, or -1. */
static int parse_digits(const char *s, size_t n, unsigned base, uint64_t max, uint64_t *out)
{
    if (n == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = s[i] >= '0' && s[i] <= '9'   ? (unsigned)(s[i] - '0')
                     : s[i] >= 'a' && s[i] <= 'f' ? (unsigned)(s[i] - 'a' + 10)
                     : s[i] >= 'A' && s[i] <= 'F' ? (unsigned)(s[i] - 'A' + 10)
                                                  : 16;
        if (d >= base || v > (max - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

/* Decimal digits only, value <= max. */
static int parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    return parse_digits(s, n, 10, max, out);
}

/* "N" or "N-M" with N <= M <= max.  Returns 0, -1 malformed, -2 N > M. */
static int parse_range(const char *s, size_t n, uint64_t max, int allow_single, uint64_t *lo,
                       uint64_t *hi)
{
    const char *dash = memchr(s, '-', n);
    if (dash == NULL) {
        if (!allow_single || parse_uint(s, n, max, lo) != 0)
            return -1;
        *hi = *lo;
        return 0;
    }
    size_t k = (size_t)(dash - s);
    if (parse_uint(s, k, max, lo) != 0 || parse_uint(dash + 1, n - k - 1, max, hi) != 0)
        return -1;
    return *lo <= *hi ? 0 : -2;
}

/* A count: digits, or digits[.digits] followed by k/K (1e3), m/M (1e6) or
 * g/G (1e9), truncated to an integer. */
static int parse_count(const char *s, size_t n, int64_t *out)
{
    int64_t mult = 1;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'k': case 'K': mult = 1000; break;
        case 'm': case 'M': mult = 1000000; break;
        case 'g': case 'G': mult = 1000000000; break;
        default: break;
        }
    }
    if (mult > 1)
        n--;
    const char *dot = memchr(s, '.', n);
    size_t ilen = dot != NULL ? (size_t)(dot - s) : n;
    uint64_t ip;
    if (parse_uint(s, ilen, (uint64_t)(INT64_MAX / mult), &ip) != 0)
        return -1;
    int64_t v = (int64_t)ip * mult;
    if (dot != NULL) {
        if (mult == 1)
            return -1; /* 1.5 packets means nothing */
        const char *f = dot + 1;
        size_t flen = n - ilen - 1;
        if (flen == 0)
            return -1;
        int64_t frac = 0, scale = 1;
        for (size_t i = 0; i < flen; i++) {
            if (f[i] < '0' || f[i] > '9')
                return -1;
            if (scale < 1000000000) {
                frac = frac * 10 + (f[i] - '0');
                scale *= 10;
            }
        }
        int64_t add = frac * mult / scale; /* frac < 1e9, mult <= 1e9 */
        if (v > INT64_MAX - add)
            return -1;
        v += add;
    }
    *out = v;
    return 0;
}

static int is_cid_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Community ID: version digits, ':', base64 (padding '=' only at the end). */
static int valid_cid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == 0 || i > 3 || i >= n || s[i] != ':')
        return 0;
    i++;
    size_t start = i;
    while (i < n && is_cid_char(s[i]))
        i++;
    if (i == start)
        return 0;
    size_t pad = 0;
    while (i < n && s[i] == '=' && pad < 2)
        i++, pad++;
    return i == n;
}

static const struct {
    const char *name;
    int num;
} proto_names[] = {
    {"icmp", 1},   {"igmp", 2},     {"tcp", 6},    {"udp", 17},
    {"gre", 47},   {"esp", 50},     {"ah", 51},    {"icmp6", 58},
    {"icmpv6", 58}, {"ipv6-icmp", 58}, {"sctp", 132},
};

static int proto_by_name(const char *s, size_t n)
{
    for (size_t i = 0; i < PDX_ARRAY_LEN(proto_names); i++)
        if (ieq(s, n, proto_names[i].name))
            return proto_names[i].num;
    return -1;
}

/* Copies a word into a NUL-terminated buffer; -1 when it does not fit. */
static int word_copy(const parser *p, const tok *t, char *buf, size_t cap)
{
    if (t->len >= cap)
        return -1;
    memcpy(buf, p->s + t->pos, t->len);
    buf[t->len] = '\0';
    return 0;
}

/* 1 when the word has the shape of an address or prefix (so that a typo
 * gets "bad address" rather than "unknown term"). */
static int addr_shaped(const parser *p, const tok *t)
{
    if (t->type != TK_WORD)
        return 0;
    const char *s = p->s + t->pos;
    if (memchr(s, ':', t->len) != NULL || memchr(s, '/', t->len) != NULL)
        return 1;
    return memchr(s, '.', t->len) != NULL && s[0] >= '0' && s[0] <= '9';
}

/* ---- terms ---------------------------------------------------------- */

/* host/net value: t is the address token (already peeked, not taken).
 * type T_HOST takes one address, T_NET a prefix; -1 decides by '/'. */
static qnode *addr_value(parser *p, int type, int dir, size_t pos, const char *after)
{
    tok t = peek(p);
    if (t.type != TK_WORD) {
        shown sh = show(p, &t);
        return fail(p, t.pos, "expected an address after '%s', found %s", after, sh.s);
    }
    take(p, &t);
    char buf[80];
    shown sh = show(p, &t);
    if (word_copy(p, &t, buf, sizeof(buf)) != 0)
        return fail(p, t.pos, "bad address %s", sh.s);
    if (type < 0)
        type = memchr(buf, '/', t.len) != NULL ? T_NET : T_HOST;
    qnode *n = new_term(p, type, dir, pos);
    if (n == NULL)
        return NULL;
    if (type == T_HOST) {
        if (pdx_addr_parse(buf, n->lo) != 0) {
            if (memchr(buf, '/', t.len) != NULL)
                return fail(p, t.pos, "'host' takes one address; use net %s for a prefix",
                            sh.s);
            return fail(p, t.pos, "bad address %s: expected IPv4 a.b.c.d or IPv6", sh.s);
        }
        memcpy(n->hi, n->lo, 16);
    } else if (pdx_addr_parse_cidr(buf, n->lo, n->hi) != 0) {
        return fail(p, t.pos, "bad prefix %s: expected a.b.c.d/0-32 or IPv6/0-128", sh.s);
    }
    return n;
}

static qnode *port_value(parser *p, int range, int dir, size_t pos, const char *after)
{
    tok t = peek(p);
    shown sh = show(p, &t);
    if (t.type != TK_WORD)
        return fail(p, t.pos, "expected a port after '%s', found %s", after, sh.s);
    take(p, &t);
    uint64_t lo, hi;
    int rc = range ? parse_range(p->s + t.pos, t.len, 65535, 0, &lo, &hi)
                   : parse_uint(p->s + t.pos, t.len, 65535, &lo);
    if (!range)
        hi = lo;
    if (range && rc == -2)
        return fail(p, t.pos, "bad port range %s: the first port is above the second", sh.s);
    if (rc != 0)
        return fail(p, t.pos, range ? "bad port range %s: expected N-M, ports 0..65535"
                                    : "bad port %s: expected 0..65535",
                    sh.s);
    qnode *n = new_term(p, range ? T_PORTRANGE : T_PORT, dir, pos);
    if (n != NULL) {
        n->a = (int64_t)lo;
        n->b = (int64_t)hi;
    }
    return n;
}

/* After src/dst: optional "or dst"/"and dst", then host/net/port/portrange
 * or a bare address. */
static qnode *dir_term(parser *p, const tok *kw)
{
    int src = is_kw(p, kw, "src");
    int dir = src ? DIR_SRC : DIR_DST;
    const char *name = src ? "src" : "dst";
    tok t = peek(p);
    if (t.type == TK_OR || t.type == TK_AND) {
        tok u = lex_at(p, t.pos + t.len);
        if (is_kw(p, &u, src ? "dst" : "src")) {
            take(p, &u);
            dir = t.type == TK_OR ? DIR_ANY : DIR_BOTH;
            name = t.type == TK_OR ? "src or dst" : "src and dst";
            t = peek(p);
        }
    }
    if (is_kw(p, &t, "host") || is_kw(p, &t, "net")) {
        take(p, &t);
        int host = is_kw(p, &t, "host");
        return addr_value(p, host ? T_HOST : T_NET, dir, kw->pos, host ? "host" : "net");
    }
    if (is_kw(p, &t, "port") || is_kw(p, &t, "portrange")) {
        take(p, &t);
        int range = is_kw(p, &t, "portrange");
        return port_value(p, range, dir, kw->pos, range ? "portrange" : "port");
    }
    if (addr_shaped(p, &t))
        return addr_value(p, -1, dir, kw->pos, name);
    shown sh = show(p, &t);
    return fail(p, t.pos, "expected host, net, port, portrange or an address after '%s', found %s",
                name, sh.s);
}

static qnode *cmp_term(parser *p, int term, const tok *kw)
{
    static const char *const names[] = {[T_PACKETS] = "packets", [T_BYTES] = "bytes",
                                        [T_DURATION] = "duration"};
    int op = OP_EQ;
    tok t = peek(p);
    if (t.type == TK_OP) {
        op = t.op;
        take(p, &t);
        t = peek(p);
    }
    shown sh = show(p, &t);
    if (t.type != TK_WORD)
        return fail(p, t.pos, "expected a %s after '%s', found %s",
                    term == T_DURATION ? "duration" : "number", names[term], sh.s);
    take(p, &t);
    int64_t v;
    if (term == T_DURATION) {
        char buf[64];
        if (word_copy(p, &t, buf, sizeof(buf)) != 0 || pdx_duration_parse(buf, &v) != 0)
            return fail(p, t.pos, "bad duration %s: expected e.g. 10s, 1.5m, 2h, 500ms", sh.s);
    } else if (parse_count(p->s + t.pos, t.len, &v) != 0) {
        return fail(p, t.pos, "bad number %s: expected e.g. 100, 10k, 1.5M, 2G", sh.s);
    }
    qnode *n = new_term(p, term, DIR_ANY, kw->pos);
    if (n != NULL) {
        n->op = op;
        n->a = v;
    }
    return n;
}

static qnode *cid_term(parser *p, const tok *kw)
{
    /* Read raw: base64 has '=', which ends ordinary words.  The ID is the
     * run of characters an ID can hold, so "1:...=||tcp" still splits. */
    size_t at = p->pos;
    while (at < p->len && is_ws((unsigned char)p->s[at]))
        at++;
    size_t e = at;
    while (e < p->len && (is_cid_char(p->s[e]) || p->s[e] == ':' || p->s[e] == '='))
        e++;
    tok t = {TK_WORD, 0, at, e - at};
    if (t.len == 0) {
        t = peek(p);
        shown sh = show(p, &t);
        return fail(p, t.pos, "expected a community ID after 'community-id', found %s", sh.s);
    }
    shown sh = show(p, &t);
    if (t.len > 128 || !valid_cid(p->s + at, t.len))
        return fail(p, t.pos, "bad community ID %s: expected e.g. 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
                    sh.s);
    take(p, &t);
    qnode *n = new_term(p, T_CID, DIR_ANY, kw->pos);
    if (n == NULL)
        return NULL;
    n->text = malloc(t.len + 1);
    if (n->text == NULL)
        return oom(p);
    memcpy(n->text, p->s + at, t.len);
    n->text[t.len] = '\0';
    return n;
}

/* The word after a keyword (after), taken, without tcpdump's escaping
 * backslash ("proto \tcp", "ether proto \arp"): *w and *wn, and the token's
 * position and text as shown in messages.  -1 (the parser failed) when no
 * word follows. */
static int escaped_word(parser *p, const char *what, const char *after, const char **w,
                        size_t *wn, size_t *at, shown *sh)
{
    tok t = peek(p);
    *sh = show(p, &t);
    *at = t.pos;
    if (t.type != TK_WORD) {
        fail(p, t.pos, "expected %s after '%s', found %s", what, after, sh->s);
        return -1;
    }
    take(p, &t);
    *w = p->s + t.pos;
    *wn = t.len;
    if (*wn > 1 && (*w)[0] == '\\')
        (*w)++, (*wn)--;
    return 0;
}

static qnode *parse_term(parser *p)
{
    tok kw = peek(p);
    take(p, &kw);
    size_t pos = kw.pos;

    if (is_kw(p, &kw, "host"))
        return addr_value(p, T_HOST, DIR_ANY, pos, "host");
    if (is_kw(p, &kw, "net"))
        return addr_value(p, T_NET, DIR_ANY, pos, "net");
    if (is_kw(p, &kw, "port"))
        return port_value(p, 0, DIR_ANY, pos, "port");
    if (is_kw(p, &kw, "portrange"))
        return port_value(p, 1, DIR_ANY, pos, "portrange");
    if (is_kw(p, &kw, "src") || is_kw(p, &kw, "dst"))
        return dir_term(p, &kw);

    if (is_kw(p, &kw, "proto")) {
        const char *w;
        size_t wn, at;
        shown sh;
        if (escaped_word(p, "a protocol", "proto", &w, &wn, &at, &sh) < 0)
            return NULL;
        uint64_t num;
        int v = proto_by_name(w, wn);
        if (v < 0 && parse_uint(w, wn, 255, &num) == 0)
            v = (int)num;
        if (v < 0)
            return fail(p, at, "bad protocol %s: expected a name (tcp, udp, icmp, ...) or 0..255",
                        sh.s);
        qnode *n = new_term(p, T_PROTO, DIR_ANY, pos);
        if (n != NULL)
            n->a = v;
        return n;
    }
    static const char *const bare_protos[] = {"tcp", "udp", "icmp", "icmp6", "sctp"};
    for (size_t i = 0; i < PDX_ARRAY_LEN(bare_protos); i++) {
        if (is_kw(p, &kw, bare_protos[i])) {
            qnode *n = new_term(p, T_PROTO, DIR_ANY, pos);
            if (n != NULL)
                n->a = proto_by_name(bare_protos[i], strlen(bare_protos[i]));
            return n;
        }
    }
    int et = ethertype_by_name(p->s + kw.pos, kw.type == TK_WORD ? kw.len : 0);
    if (et >= 0) {
        qnode *n = new_term(p, T_ETHERTYPE, DIR_ANY, pos);
        if (n != NULL)
            n->a = et;
        return n;
    }
    if (is_kw(p, &kw, "ether")) {
        /* tcpdump's "ether proto X": the flow's ethertype.  (Its MAC
         * addresses are in flows.src_mac and dst_mac, for sqlite3.) */
        tok t = peek(p);
        if (!is_kw(p, &t, "proto")) {
            shown sh = show(p, &t);
            return fail(p, t.pos, "expected 'proto' after 'ether', found %s (ether host and "
                        "ether src/dst are not terms: MAC addresses are in flows.src_mac and dst_mac)",
                        sh.s);
        }
        take(p, &t);
        const char *w;
        size_t wn, at;
        shown sh;
        if (escaped_word(p, "an ethertype", "ether proto", &w, &wn, &at, &sh) < 0)
            return NULL;
        uint64_t v = 0;
        int named = ethertype_by_name(w, wn);
        if (named >= 0)
            v = (uint64_t)named;
        else if (!(wn > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') &&
                   wn - 2 <= 16 && parse_digits(w + 2, wn - 2, 16, 0xffff, &v) == 0) &&
                 parse_uint(w, wn, 0xffff, &v) != 0)
            return fail(p, at, "bad ethertype %s: expected ip, ip6, arp, rarp, or 0..65535 "
                        "(0x0806 in hex)", sh.s);
        qnode *n = new_term(p, T_ETHERTYPE, DIR_ANY, pos);
        if (n != NULL)
            n->a = (int64_t)v;
        return n;
    }
    if (is_kw(p, &kw, "vlan")) {
        tok t = peek(p);
        uint64_t v;
        if (t.type == TK_WORD && p->s[t.pos] >= '0' && p->s[t.pos] <= '9') {
            take(p, &t);
            if (parse_uint(p->s + t.pos, t.len, 4095, &v) != 0) {
                shown sh = show(p, &t);
                return fail(p, t.pos, "bad VLAN ID %s: expected 0..4095", sh.s);
            }
            qnode *n = new_term(p, T_VLAN, DIR_ANY, pos);
            if (n != NULL)
                n->a = (int64_t)v;
            return n;
        }
        return new_term(p, T_VLAN_ANY, DIR_ANY, pos);
    }
    if (is_kw(p, &kw, "packets"))
        return cmp_term(p, T_PACKETS, &kw);
    if (is_kw(p, &kw, "bytes"))
        return cmp_term(p, T_BYTES, &kw);
    if (is_kw(p, &kw, "duration"))
        return cmp_term(p, T_DURATION, &kw);
    if (is_kw(p, &kw, "community-id"))
        return cid_term(p, &kw);
    if (is_kw(p, &kw, "id")) {
        tok t = peek(p);
        shown sh = show(p, &t);
        if (t.type != TK_WORD)
            return fail(p, t.pos, "expected a flow id or range after 'id', found %s", sh.s);
        take(p, &t);
        uint64_t lo, hi;
        int rc = parse_range(p->s + t.pos, t.len, INT64_MAX, 1, &lo, &hi);
        if (rc == -2)
            return fail(p, t.pos, "bad id range %s: the first id is above the second", sh.s);
        if (rc != 0)
            return fail(p, t.pos, "bad flow id %s: expected N or N-M", sh.s);
        qnode *n = new_term(p, T_ID, DIR_ANY, pos);
        if (n != NULL) {
            n->a = (int64_t)lo;
            n->b = (int64_t)hi;
        }
        return n;
    }
    if (addr_shaped(p, &kw)) {
        p->pos = kw.pos; /* the word is the value */
        return addr_value(p, -1, DIR_ANY, pos, "");
    }
    shown sh = show(p, &kw);
    return fail(p, kw.pos,
                "unknown term %s: expected host, net, port, portrange, proto, tcp, udp, icmp, "
                "ip, ip6, arp, ether proto, vlan, packets, bytes, duration, community-id, id or an "
                "address",
                sh.s);
}

/* ---- expressions ---------------------------------------------------- */

static qnode *parse_or(parser *p);

static qnode *parse_primary(parser *p)
{
    tok t = peek(p);
    if (t.type == TK_LP) {
        if (++p->nest > PDX_QUERY_MAX_NEST)
            return fail(p, t.pos, "the filter nests deeper than %d levels", PDX_QUERY_MAX_NEST);
        take(p, &t);
        qnode *e = parse_or(p);
        if (e == NULL)
            return NULL;
        tok c = peek(p);
        if (c.type != TK_RP) {
            shown sh = show(p, &c);
            return fail(p, c.pos, "expected ')' to close the '(' at %zu, found %s", t.pos, sh.s);
        }
        take(p, &c);
        p->nest--;
        return e;
    }
    if (t.type == TK_WORD)
        return parse_term(p);
    shown sh = show(p, &t);
    if (t.type == TK_EOF)
        return fail(p, t.pos, "the filter ends early: expected a term");
    if (t.type == TK_BAD)
        return fail(p, t.pos, "'%c' is not an operator: use '%c%c' or '%s'", p->s[t.pos],
                    p->s[t.pos], p->s[t.pos], p->s[t.pos] == '&' ? "and" : "or");
    return fail(p, t.pos, "expected a term, found %s", sh.s);
}

static qnode *parse_not(parser *p)
{
    tok t = peek(p);
    if (t.type != TK_NOT)
        return parse_primary(p);
    if (++p->nest > PDX_QUERY_MAX_NEST)
        return fail(p, t.pos, "the filter nests deeper than %d levels", PDX_QUERY_MAX_NEST);
    take(p, &t);
    qnode *kid = parse_not(p);
    if (kid == NULL)
        return NULL;
    p->nest--;
    if (kid->kind == N_NOT)
        return kid->kids[0]; /* not not x = x; the language is two-valued */
    qnode *n = new_node(p, N_NOT, t.pos);
    if (n == NULL || add_kid(p, n, kid) != 0)
        return NULL;
    return n;
}

static int starts_primary(const tok *t)
{
    return t->type == TK_LP || t->type == TK_NOT || t->type == TK_WORD;
}

static qnode *parse_and(parser *p)
{
    qnode *first = parse_not(p);
    if (first == NULL)
        return NULL;
    qnode *n = NULL;
    for (;;) {
        tok t = peek(p);
        if (t.type == TK_AND)
            take(p, &t);
        else if (!starts_primary(&t))
            break;
        qnode *next = parse_not(p);
        if (next == NULL)
            return NULL;
        if (n == NULL) {
            n = new_node(p, N_AND, first->pos);
            if (n == NULL || add_flat(p, n, first) != 0)
                return NULL;
        }
        if (add_flat(p, n, next) != 0)
            return NULL;
    }
    return n != NULL ? n : first;
}

static qnode *parse_or(parser *p)
{
    qnode *first = parse_and(p);
    if (first == NULL)
        return NULL;
    qnode *n = NULL;
    for (;;) {
        tok t = peek(p);
        if (t.type != TK_OR)
            break;
        take(p, &t);
        qnode *next = parse_and(p);
        if (next == NULL)
            return NULL;
        if (n == NULL) {
            n = new_node(p, N_OR, first->pos);
            if (n == NULL || add_flat(p, n, first) != 0)
                return NULL;
        }
        if (add_flat(p, n, next) != 0)
            return NULL;
    }
    return n != NULL ? n : first;
}

/* Rejects trees deeper than SQLite can parse; reports the first node past
 * the limit.  Recursion is bounded by PDX_QUERY_MAX_NEST. */
static int check_depth(parser *p, const qnode *n, int level)
{
    if (level > PDX_QUERY_MAX_DEPTH) {
        fail(p, n->pos,
             "the filter nests more than %d and/or/not levels deep; flatten it",
             PDX_QUERY_MAX_DEPTH);
        return -1;
    }
    for (size_t i = 0; i < n->nkids; i++)
        if (check_depth(p, n->kids[i], level + 1) != 0)
            return -1;
    return 0;
}

/* ---- SQL ------------------------------------------------------------ */

typedef pdx_strbuf sbuf;

static void sb_add(sbuf *b, const char *s)
{
    pdx_sb_putn(b, s, strlen(s));
}

static pdx_qparam *new_param(pdx_query *q, sbuf *b, int type)
{
    if (b->oom)
        return NULL;
    if (q->nparams == q->capparams) {
        size_t cap = q->capparams ? q->capparams * 2 : 8;
        pdx_qparam *np = realloc(q->params, cap * sizeof(*np));
        if (np == NULL) {
            b->oom = 1;
            return NULL;
        }
        q->params = np;
        q->capparams = cap;
    }
    pdx_qparam *pr = &q->params[q->nparams++];
    memset(pr, 0, sizeof(*pr));
    pr->type = type;
    return pr;
}

static void p_int(pdx_query *q, sbuf *b, int64_t v)
{
    pdx_qparam *pr = new_param(q, b, PDX_QPARAM_INT);
    if (pr != NULL)
        pr->i = v;
}

static void p_blob(pdx_query *q, sbuf *b, const uint8_t a[16])
{
    pdx_qparam *pr = new_param(q, b, PDX_QPARAM_BLOB);
    if (pr != NULL) {
        memcpy(pr->blob, a, 16);
        pr->blob_len = 16;
    }
}

/* One side of an address term: "col = ?" or "col BETWEEN ? AND ?". */
static void emit_addr_side(pdx_query *q, sbuf *b, const qnode *n, const char *col)
{
    sb_add(b, col);
    if (memcmp(n->lo, n->hi, 16) == 0) {
        sb_add(b, " = ?");
        p_blob(q, b, n->lo);
    } else {
        sb_add(b, " BETWEEN ? AND ?");
        p_blob(q, b, n->lo);
        p_blob(q, b, n->hi);
    }
}

static void emit_port_side(pdx_query *q, sbuf *b, const qnode *n, const char *col)
{
    sb_add(b, col);
    if (n->term == T_PORT) {
        sb_add(b, " = ?");
        p_int(q, b, n->a);
    } else {
        sb_add(b, " BETWEEN ? AND ?");
        p_int(q, b, n->a);
        p_int(q, b, n->b);
    }
}

/* src/dst/either/both over a pair of columns. */
static void emit_dir(pdx_query *q, sbuf *b, const qnode *n, const char *scol, const char *dcol,
                     void (*side)(pdx_query *, sbuf *, const qnode *, const char *))
{
    switch (n == q->split_node ? q->split_dir : n->dir) {
    case DIR_SRC: side(q, b, n, scol); break;
    case DIR_DST: side(q, b, n, dcol); break;
    case DIR_BOTH:
        side(q, b, n, scol);
        sb_add(b, " AND ");
        side(q, b, n, dcol);
        break;
    default:
        side(q, b, n, scol);
        sb_add(b, " OR ");
        side(q, b, n, dcol);
        break;
    }
}

static void emit(pdx_query *q, sbuf *b, const qnode *n)
{
    switch (n->kind) {
    case N_AND:
    case N_OR:
        sb_add(b, "(");
        for (size_t i = 0; i < n->nkids; i++) {
            if (i > 0)
                sb_add(b, n->kind == N_AND ? " AND " : " OR ");
            emit(q, b, n->kids[i]);
        }
        sb_add(b, ")");
        return;
    case N_NOT:
        sb_add(b, "(");
        emit(q, b, n->kids[0]);
        sb_add(b, " IS NOT TRUE)");
        return;
    default: break;
    }
    sb_add(b, "(");
    switch (n->term) {
    case T_HOST:
    case T_NET: emit_dir(q, b, n, "src_ip", "dst_ip", emit_addr_side); break;
    case T_PORT:
    case T_PORTRANGE:
        /* Ports only mean ports for these; ICMP keeps its type there. */
        sb_add(b, "proto IN (6,17,132) AND ");
        if (n->dir == DIR_ANY)
            sb_add(b, "(");
        emit_dir(q, b, n, "src_port", "dst_port", emit_port_side);
        if (n->dir == DIR_ANY)
            sb_add(b, ")");
        break;
    case T_PROTO:
        sb_add(b, "proto = ?");
        p_int(q, b, n->a);
        break;
    case T_ETHERTYPE:
        sb_add(b, "ethertype = ?");
        p_int(q, b, n->a);
        break;
    case T_VLAN:
        sb_add(b, "vlan = ? OR vlan_inner = ?");
        p_int(q, b, n->a);
        p_int(q, b, n->a);
        break;
    case T_VLAN_ANY: sb_add(b, "vlan IS NOT NULL"); break;
    case T_PACKETS:
    case T_BYTES:
    case T_DURATION:
        sb_add(b, n->term == T_PACKETS ? "src_packets + dst_packets "
                  : n->term == T_BYTES ? "src_bytes + dst_bytes "
                                       : "last_ns - first_ns ");
        sb_add(b, op_sql[n->op]);
        sb_add(b, " ?");
        p_int(q, b, n->a);
        break;
    case T_CID: {
        sb_add(b, "community_id = ?");
        pdx_qparam *pr = new_param(q, b, PDX_QPARAM_TEXT);
        if (pr != NULL)
            pr->text = n->text;
        break;
    }
    case T_ID:
        if (n->a == n->b) {
            sb_add(b, "id = ?");
            p_int(q, b, n->a);
        } else {
            sb_add(b, "id BETWEEN ? AND ?");
            p_int(q, b, n->a);
            p_int(q, b, n->b);
        }
        break;
    default: break;
    }
    sb_add(b, ")");
}

/* ---- API ------------------------------------------------------------ */

int pdx_query_is_all(const pdx_query *q)
{
    return q == NULL || q->root == NULL;
}

void pdx_query_free(pdx_query *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->nall; i++) {
        free(q->all[i]->kids);
        free(q->all[i]->text);
        free(q->all[i]);
    }
    free(q->all);
    free(q->sql);
    free(q->params);
    free(q);
}

/* A term that pdx_query_split can split: one address (term T_HOST) or one
 * port (T_PORT), either direction. */
static int splittable(const qnode *n, int term)
{
    return n->kind == N_TERM && n->term == term && n->dir == DIR_ANY &&
           (term != T_HOST || memcmp(n->lo, n->hi, 16) == 0);
}

static pdx_query *split_one(const pdx_query *q, const qnode *node, int dir)
{
    pdx_query *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->root = q->root;
    h->split_node = node;
    h->split_dir = dir;
    sbuf b = {NULL, 0, 0, 0};
    emit(h, &b, h->root);
    if (b.oom) {
        free(b.p);
        pdx_query_free(h);
        return NULL;
    }
    h->sql = b.p;
    return h;
}

int pdx_query_split(const pdx_query *q, pdx_query **src, pdx_query **dst)
{
    const qnode *node = NULL;
    if (q == NULL || q->root == NULL || q->split_node != NULL)
        return 0;
    /* An address picks fewer flows than a port, as a rule: it goes first. */
    static const int terms[] = {T_HOST, T_PORT};
    for (size_t t = 0; t < sizeof(terms) / sizeof(terms[0]) && node == NULL; t++) {
        if (splittable(q->root, terms[t])) {
            node = q->root;
        } else if (q->root->kind == N_AND) {
            for (size_t i = 0; i < q->root->nkids && node == NULL; i++)
                if (splittable(q->root->kids[i], terms[t]))
                    node = q->root->kids[i];
        }
    }
    if (node == NULL)
        return 0;
    pdx_query *a = split_one(q, node, DIR_SRC);
    pdx_query *b = a != NULL ? split_one(q, node, DIR_DST) : NULL;
    if (b == NULL) {
        pdx_query_free(a);
        return PDX_ENOMEM;
    }
    *src = a;
    *dst = b;
    return 1;
}

int pdx_qparse(const char *expr, pdx_query **out, char *errbuf, size_t *err_pos)
{
    if (out == NULL) {
        if (err_pos != NULL)
            *err_pos = 0;
        return pdx_errf(errbuf, PDX_EUSAGE, "pdx_qparse: no place for the result");
    }
    pdx_query *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        if (err_pos != NULL)
            *err_pos = 0;
        return pdx_errf(errbuf, PDX_ENOMEM, "out of memory parsing the filter");
    }
    parser p;
    memset(&p, 0, sizeof(p));
    p.s = expr != NULL ? expr : "";
    p.len = strlen(p.s);
    p.q = q;
    p.errbuf = errbuf;

    tok t = peek(&p);
    if (t.type != TK_EOF) {
        q->root = parse_or(&p);
        if (q->root != NULL) {
            t = peek(&p);
            if (t.type == TK_RP) {
                fail(&p, t.pos, "unbalanced ')'");
            } else if (t.type != TK_EOF) {
                shown sh = show(&p, &t);
                if (t.type == TK_BAD)
                    fail(&p, t.pos, "'%c' is not an operator: use '%c%c' or '%s'", p.s[t.pos],
                         p.s[t.pos], p.s[t.pos], p.s[t.pos] == '&' ? "and" : "or");
                else
                    fail(&p, t.pos, "unexpected %s", sh.s);
            }
        }
        if (p.err == 0 && q->root != NULL)
            check_depth(&p, q->root, 1);
    }
    if (p.err == 0) {
        sbuf b = {NULL, 0, 0, 0};
        if (q->root == NULL)
            sb_add(&b, "1");
        else
            emit(q, &b, q->root);
        if (b.oom) {
            free(b.p);
            oom(&p);
        } else {
            q->sql = b.p;
        }
    }
    if (p.err != 0) {
        if (err_pos != NULL)
            *err_pos = p.errpos;
        pdx_query_free(q);
        return p.err;
    }
    *out = q;
    return PDX_OK;
}

const char *pdx_query_sql(const pdx_query *q)
{
    return q != NULL ? q->sql : "1";
}

size_t pdx_query_nparams(const pdx_query *q)
{
    return q != NULL ? q->nparams : 0;
}

const pdx_qparam *pdx_query_param(const pdx_query *q, size_t i)
{
    return q != NULL && i < q->nparams ? &q->params[i] : NULL;
}

int pdx_query_bind(const pdx_query *q, sqlite3_stmt *st, int first_index)
{
    if (q == NULL || st == NULL || first_index < 1)
        return PDX_EUSAGE;
    if (q->nparams > (size_t)(INT32_MAX - first_index))
        return PDX_EUSAGE;
    int idx = first_index;
    for (size_t i = 0; i < q->nparams; i++, idx++) {
        const pdx_qparam *pr = &q->params[i];
        int rc;
        switch (pr->type) {
        case PDX_QPARAM_INT: rc = sqlite3_bind_int64(st, idx, pr->i); break;
        case PDX_QPARAM_BLOB:
            rc = sqlite3_bind_blob(st, idx, pr->blob, (int)pr->blob_len, SQLITE_TRANSIENT);
            break;
        case PDX_QPARAM_TEXT: rc = sqlite3_bind_text(st, idx, pr->text, -1, SQLITE_TRANSIENT); break;
        default: return PDX_EUSAGE;
        }
        if (rc != SQLITE_OK)
            return PDX_EDB;
    }
    return idx;
}

/* ---- evaluation ----------------------------------------------------- */

static int in_range(const uint8_t a[16], const qnode *n)
{
    return memcmp(a, n->lo, 16) >= 0 && memcmp(a, n->hi, 16) <= 0;
}

static int port_in(int32_t port, const qnode *n)
{
    return port >= 0 && port >= n->a && port <= n->b;
}

static int by_dir(int dir, int s, int d)
{
    switch (dir) {
    case DIR_SRC: return s;
    case DIR_DST: return d;
    case DIR_BOTH: return s && d;
    default: return s || d;
    }
}

/* Compares x + y (or x - y) with v as SQLite does: in integers, or in
 * floating point once the integer result overflows. */
static int cmp_sum(int64_t x, int64_t y, int sub, int op, int64_t v)
{
    int c;
    int64_t r;
    int over = sub ? ((y < 0 && x > INT64_MAX + y) || (y > 0 && x < INT64_MIN + y))
                   : ((y > 0 && x > INT64_MAX - y) || (y < 0 && x < INT64_MIN - y));
    if (!over) {
        r = sub ? x - y : x + y;
        c = r < v ? -1 : r > v;
    } else {
        long double f = sub ? (long double)x - (long double)y : (long double)x + (long double)y;
        c = f < (long double)v ? -1 : f > (long double)v;
    }
    switch (op) {
    case OP_EQ: return c == 0;
    case OP_NE: return c != 0;
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

static int eval(const qnode *n, const pdx_flowrow *r)
{
    switch (n->kind) {
    case N_AND:
        for (size_t i = 0; i < n->nkids; i++)
            if (!eval(n->kids[i], r))
                return 0;
        return 1;
    case N_OR:
        for (size_t i = 0; i < n->nkids; i++)
            if (eval(n->kids[i], r))
                return 1;
        return 0;
    case N_NOT: return !eval(n->kids[0], r);
    default: break;
    }
    switch (n->term) {
    case T_HOST:
    case T_NET:
        return r->has_ip && by_dir(n->dir, in_range(r->src_ip, n), in_range(r->dst_ip, n));
    case T_PORT:
    case T_PORTRANGE:
        if (r->proto != 6 && r->proto != 17 && r->proto != 132)
            return 0;
        return by_dir(n->dir, port_in(r->src_port, n), port_in(r->dst_port, n));
    case T_PROTO: return r->proto >= 0 && r->proto == n->a;
    case T_ETHERTYPE: return r->ethertype == n->a;
    case T_VLAN: return (r->vlan >= 0 && r->vlan == n->a) || (r->vlan_inner >= 0 && r->vlan_inner == n->a);
    case T_VLAN_ANY: return r->vlan >= 0;
    case T_PACKETS: return cmp_sum(r->src_packets, r->dst_packets, 0, n->op, n->a);
    case T_BYTES: return cmp_sum(r->src_bytes, r->dst_bytes, 0, n->op, n->a);
    case T_DURATION: return cmp_sum(r->last_ns, r->first_ns, 1, n->op, n->a);
    case T_CID: return r->community_id != NULL && strcmp(r->community_id, n->text) == 0;
    case T_ID: return r->id >= n->a && r->id <= n->b;
    default: return 0;
    }
}

int pdx_query_match(const pdx_query *q, const pdx_flowrow *row)
{
    if (q == NULL || row == NULL || q->root == NULL)
        return q != NULL && row != NULL;
    return eval(q->root, row);
}

/* ---- fuzzing -------------------------------------------------------- */

/* The compiled SQL has one placeholder per parameter and nothing that
 * could end a string or a statement. */
static int sql_safe(const pdx_query *q)
{
    size_t marks = 0;
    for (const char *c = pdx_query_sql(q); *c != '\0'; c++) {
        if (*c == '?')
            marks++;
        if (*c == '\'' || *c == '"' || *c == ';' || (c[0] == '-' && c[1] == '-') ||
            (c[0] == '/' && c[1] == '*'))
            return 0;
    }
    return marks == pdx_query_nparams(q);
}

int pdx_qparse_fuzz_one(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (s == NULL)
        return 0;
    if (len > 0)
        memcpy(s, data, len);
    s[len] = '\0';
    char errbuf[PDX_ERRBUF_SIZE];
    size_t pos = 0;
    pdx_query *q = NULL;
    int rc = pdx_qparse(s, &q, errbuf, &pos);
    int bad = 0;
    if (rc == PDX_OK) {
        pdx_query *half[2] = {NULL, NULL};
        bad = !sql_safe(q);
        if (pdx_query_split(q, &half[0], &half[1]) == 1) {
            /* The halves have the whole query's parameters but for one
             * address: the other side's. */
            for (int i = 0; i < 2; i++)
                if (!sql_safe(half[i]) || pdx_query_nparams(half[i]) + 1 != pdx_query_nparams(q))
                    bad = 1;
            pdx_query_free(half[0]);
            pdx_query_free(half[1]);
        }
        pdx_flowrow row;
        memset(&row, 0, sizeof(row));
        row.proto = 6;
        row.ethertype = 0x0800;
        row.has_ip = 1;
        row.community_id = "1:x";
        (void)pdx_query_match(q, &row);
        pdx_query_free(q);
    } else if (pos > strlen(s) || (rc != PDX_EUSAGE && rc != PDX_ENOMEM)) {
        bad = 1;
    }
    free(s);
    return bad ? PDX_ECORRUPT : 0;
}
