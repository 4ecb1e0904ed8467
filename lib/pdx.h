/*
 * pdx.h - what every part of libpdx shares: status codes, the error buffer
 * convention and a few small helpers.
 *
 * Library functions never print and never exit.  They return PDX_OK (0) or a
 * negative PDX_E* code and, on failure, write a one-line message into a
 * caller-owned buffer of PDX_ERRBUF_SIZE bytes (libpcap's errbuf convention).
 * OUT parameters are written only on success.
 */
#ifndef PDX_H
#define PDX_H

#include <stddef.h>
#include <stdint.h>

#define PDX_ERRBUF_SIZE 512

/* Status codes.  0 is success; everything else is negative. */
enum {
    PDX_OK = 0,
    PDX_EIO = -1,        /* read/write/seek failed (errno-level trouble) */
    PDX_EFORMAT = -2,    /* not a capture we understand (bad magic, bad header) */
    PDX_ETRUNC = -3,     /* the file ends in the middle of a record */
    PDX_ECORRUPT = -4,   /* a record or block contradicts itself; framing lost */
    PDX_ENOMEM = -5,     /* allocation failed */
    PDX_EDB = -6,        /* SQLite said no, or the index is not ours */
    PDX_EUSAGE = -7,     /* the caller passed something meaningless */
    PDX_ECHANGED = -8,   /* a capture differs from what was indexed */
    PDX_EMISSING = -9,   /* a capture is gone */
    PDX_ETOOBIG = -10,   /* a size read from input exceeds our limits */
    PDX_EINTR = -11      /* interrupted on request (signal) */
};

/* Largest record (captured length) that any reader accepts: 256 KiB, the
 * largest snaplen libpcap hands out.  Checked before any allocation. */
#define PDX_MAX_CAPLEN (256u * 1024u)

/* Formats an error message into errbuf (which may be NULL).  Returns code so
 * that callers can write `return pdx_errf(errbuf, PDX_EIO, "...", ...)`. */
int pdx_errf(char *errbuf, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Makes room for at least need elements of elem bytes in the array *pp
 * (realloc'd, doubling), whose capacity is *cap.  pp is the address of the
 * array pointer.  0, or PDX_ENOMEM with *pp and *cap unchanged.
 */
int pdx_grow(void *pp, size_t *cap, size_t need, size_t elem);

/* A growing string, always NUL-terminated once something is in it.  When
 * memory runs out, oom is set and later appends do nothing. */
typedef struct pdx_strbuf {
    char *p;
    size_t len, cap;
    int oom;
} pdx_strbuf;
void pdx_sb_putn(pdx_strbuf *b, const char *s, size_t n);

/*
 * Opens path read-only and fstat()s it into *st.  Returns the descriptor;
 * -1 with errno set when it cannot be opened or stat'ed; PDX_OPEN_NOTREG
 * when it is not a regular file (nothing left open).
 */
#define PDX_OPEN_NOTREG (-2)
struct stat;
int pdx_open_regular(const char *path, struct stat *st);
/* Why pdx_open_regular() returned rc < 0 ("not a regular file", or errno's text). */
const char *pdx_open_strerror(int rc);

/* A short name for a status code ("io", "format", ...). Never NULL. */
const char *pdx_strerror(int code);

#define PDX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PDX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PDX_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define PDX_LIKELY(x) __builtin_expect(!!(x), 1)
#define PDX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PDX_LIKELY(x) (x)
#define PDX_UNLIKELY(x) (x)
#endif

#endif
