/* pdx.c - status codes and error formatting shared by the library. */
#include "pdx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pdx_errf(char *errbuf, int code, const char *fmt, ...)
{
    if (errbuf != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, PDX_ERRBUF_SIZE, fmt, ap);
        va_end(ap);
    }
    return code;
}

int pdx_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return PDX_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return PDX_ENOMEM;
        nc *= 2;
    }
    if (elem != 0 && nc > SIZE_MAX / elem)
        return PDX_ENOMEM;
    void *p;
    memcpy(&p, pp, sizeof(p));
    void *n = realloc(p, nc * elem);
    if (n == NULL)
        return PDX_ENOMEM;
    memcpy(pp, &n, sizeof(n));
    *cap = nc;
    return PDX_OK;
}

const char *pdx_strerror(int code)
{
    switch (code) {
    case PDX_OK: return "ok";
    case PDX_EIO: return "i/o error";
    case PDX_EFORMAT: return "unknown format";
    case PDX_ETRUNC: return "truncated";
    case PDX_ECORRUPT: return "corrupt";
    case PDX_ENOMEM: return "out of memory";
    case PDX_EDB: return "database error";
    case PDX_EUSAGE: return "usage";
    case PDX_ECHANGED: return "capture changed";
    case PDX_EMISSING: return "capture missing";
    case PDX_ETOOBIG: return "too big";
    case PDX_EINTR: return "interrupted";
    default: return "unknown error";
    }
}

int pdx_open_regular(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return PDX_OPEN_NOTREG;
    }
    return fd;
}

const char *pdx_open_strerror(int rc)
{
    return rc == PDX_OPEN_NOTREG ? "not a regular file" : strerror(errno);
}

void pdx_sb_putn(pdx_strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
