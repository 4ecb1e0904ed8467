/*
 * cursor.h - bounds-checked reading of untrusted bytes.
 *
 * A cursor is {p, end, err}.  Every accessor checks the bytes left; when too
 * few remain it sets the sticky err flag, returns 0 and consumes nothing, so a
 * decoder reads a whole header and checks cur.err once.  No struct is ever
 * laid over packet bytes.
 */
#ifndef PDX_CURSOR_H
#define PDX_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct pdx_cur {
    const uint8_t *p;
    const uint8_t *end;
    int err; /* sticky: set once an access ran past end */
} pdx_cur;

static inline pdx_cur pdx_cur_make(const uint8_t *p, size_t n)
{
    pdx_cur c;
    c.p = p;
    c.end = p + n;
    c.err = 0;
    return c;
}

static inline size_t pdx_cur_left(const pdx_cur *c)
{
    return (size_t)(c->end - c->p);
}

/* 1 when n bytes remain; otherwise sets err and returns 0. */
static inline int pdx_cur_need(pdx_cur *c, size_t n)
{
    if (c->err || (size_t)(c->end - c->p) < n) {
        c->err = 1;
        return 0;
    }
    return 1;
}

static inline const uint8_t *pdx_cur_take(pdx_cur *c, size_t n)
{
    const uint8_t *q;
    if (!pdx_cur_need(c, n))
        return NULL;
    q = c->p;
    c->p += n;
    return q;
}

static inline void pdx_cur_skip(pdx_cur *c, size_t n)
{
    if (pdx_cur_need(c, n))
        c->p += n;
}

static inline void pdx_cur_copy(pdx_cur *c, void *dst, size_t n)
{
    const uint8_t *q = pdx_cur_take(c, n);
    if (q != NULL)
        memcpy(dst, q, n);
    else
        memset(dst, 0, n);
}

static inline uint8_t pdx_cur_u8(pdx_cur *c)
{
    return pdx_cur_need(c, 1) ? *c->p++ : 0;
}

static inline uint16_t pdx_cur_be16(pdx_cur *c)
{
    uint16_t v;
    if (!pdx_cur_need(c, 2))
        return 0;
    v = (uint16_t)((c->p[0] << 8) | c->p[1]);
    c->p += 2;
    return v;
}

static inline uint16_t pdx_cur_le16(pdx_cur *c)
{
    uint16_t v;
    if (!pdx_cur_need(c, 2))
        return 0;
    v = (uint16_t)((c->p[1] << 8) | c->p[0]);
    c->p += 2;
    return v;
}

static inline uint32_t pdx_cur_be32(pdx_cur *c)
{
    uint32_t v;
    if (!pdx_cur_need(c, 4))
        return 0;
    v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) | ((uint32_t)c->p[2] << 8) | c->p[3];
    c->p += 4;
    return v;
}

static inline uint32_t pdx_cur_le32(pdx_cur *c)
{
    uint32_t v;
    if (!pdx_cur_need(c, 4))
        return 0;
    v = ((uint32_t)c->p[3] << 24) | ((uint32_t)c->p[2] << 16) | ((uint32_t)c->p[1] << 8) | c->p[0];
    c->p += 4;
    return v;
}

/* Unchecked loads for callers that already proved the length. */
static inline uint16_t pdx_load_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t pdx_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t pdx_load_le16(const uint8_t *p) { return (uint16_t)((p[1] << 8) | p[0]); }
static inline uint32_t pdx_load_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline void pdx_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void pdx_store_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}

#endif
