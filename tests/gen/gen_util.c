/* gen_util.c - pcapgen's small helpers: dying, allocation, files, option
 * values, the PRNG, the byte builder and CRC-32 (for the gzip fixture). */
#include "gen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void pdx_gen_die(const char *fmt, ...)
{
    va_list ap;
    fputs("pcapgen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void *pdx_gen_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        pdx_gen_die("out of memory (%zu bytes)", n);
    return p;
}

void *pdx_gen_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        pdx_gen_die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *pdx_gen_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        pdx_gen_die("out of memory (%zu bytes)", n);
    return q;
}

char *pdx_gen_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = pdx_gen_xmalloc(a + b + 2);
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

void pdx_gen_mkdir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0)
        return;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return;
    pdx_gen_die("%s: cannot create directory: %s", dir, strerror(errno));
}

void pdx_gen_write_file(const char *path, const void *p, size_t n)
{
    const uint8_t *q = p;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        pdx_gen_die("%s: %s", path, strerror(errno));
    while (n > 0) {
        ssize_t w = write(fd, q, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            pdx_gen_die("%s: write: %s", path, strerror(errno));
        }
        q += w;
        n -= (size_t)w;
    }
    if (close(fd) != 0)
        pdx_gen_die("%s: close: %s", path, strerror(errno));
}

FILE *pdx_gen_fopen(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        pdx_gen_die("%s: %s", path, strerror(errno));
    return f;
}

void pdx_gen_fclose(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        pdx_gen_die("%s: write failed", path);
}

int pdx_gen_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int pdx_gen_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mul = 1024u; end++; break;
    case 'm': case 'M': mul = 1024u * 1024u; end++; break;
    case 'g': case 'G': mul = 1024u * 1024u * 1024u; end++; break;
    default: return -1;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0' || (v != 0 && mul > UINT64_MAX / v))
        return -1;
    *out = (uint64_t)v * mul;
    return 0;
}

int pdx_gen_parse_epoch(const char *s, int64_t *out_ns)
{
    int64_t sec = 0, frac = 0, scale = 100000000;
    const char *p = s;
    if (s == NULL || *p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9') {
        sec = sec * 10 + (*p - '0');
        if (sec > 9000000000LL) /* keeps ns within int64 */
            return -1;
        p++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    if (*p != '\0')
        return -1;
    *out_ns = sec * 1000000000LL + frac;
    return 0;
}

const char *pdx_gen_optarg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "pcapgen: %s needs a value\n", argv[*i]);
        pdx_gen_usage();
    }
    (*i)++;
    return argv[*i];
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void pdx_gen_rng_seed(pdx_gen_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint8_t *pdx_gen_buf_grow(pdx_gen_buf *b, size_t n)
{
    uint8_t *p;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        b->p = pdx_gen_xrealloc(b->p, cap);
        b->cap = cap;
    }
    p = b->p + b->len;
    b->len += n;
    return p;
}

void pdx_gen_buf_put(pdx_gen_buf *b, const void *p, size_t n)
{
    if (n > 0)
        memcpy(pdx_gen_buf_grow(b, n), p, n);
}

void pdx_gen_buf_zeros(pdx_gen_buf *b, size_t n)
{
    if (n > 0)
        memset(pdx_gen_buf_grow(b, n), 0, n);
}

void pdx_gen_buf_u8(pdx_gen_buf *b, uint8_t v) { *pdx_gen_buf_grow(b, 1) = v; }

void pdx_gen_st16(uint8_t *p, uint16_t v, int be)
{
    if (be) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    } else {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

void pdx_gen_st32(uint8_t *p, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++)
        p[be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
}

void pdx_gen_buf_u16(pdx_gen_buf *b, uint16_t v, int be) { pdx_gen_st16(pdx_gen_buf_grow(b, 2), v, be); }
void pdx_gen_buf_u32(pdx_gen_buf *b, uint32_t v, int be) { pdx_gen_st32(pdx_gen_buf_grow(b, 4), v, be); }

void pdx_gen_buf_u64(pdx_gen_buf *b, uint64_t v, int be)
{
    uint8_t *p = pdx_gen_buf_grow(b, 8);
    for (int i = 0; i < 8; i++)
        p[be ? 7 - i : i] = (uint8_t)(v >> (8 * i));
}

void pdx_gen_buf_free(pdx_gen_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

uint32_t pdx_gen_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
