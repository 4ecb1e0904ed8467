/* pdx.c - status codes and error formatting shared by the library. */
#include "pdx.h"

#include <stdarg.h>
#include <stdio.h>

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
