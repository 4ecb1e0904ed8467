/* addr.c - 16-byte addresses: parsing, CIDR ranges, RFC 5952 printing. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Longest text that can be a valid address; anything longer is rejected
 * before copying ("0000:...:255.255.255.255" is 45 characters). */
#define ADDR_MAXTEXT 63

int pdx_addr_is_v4(const uint8_t a[16])
{
    return memcmp(a, mapped_prefix, sizeof(mapped_prefix)) == 0;
}

/* Parses 1 to 4 dot-separated decimal parts (0..255, no sign, no leading
 * zeros) from s[0..n).  Returns the number of parts, or 0 when s is not of
 * that shape.  Missing trailing parts are zero. */
static int parse_v4_parts(const char *s, size_t n, uint8_t v4[4])
{
    uint8_t tmp[4] = {0, 0, 0, 0};
    int parts = 0;
    size_t i = 0;
    for (;;) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t digits = i - start;
        if (digits == 0 || v > 255 || (digits > 1 && s[start] == '0'))
            return 0;
        if (parts == 4)
            return 0;
        tmp[parts++] = (uint8_t)v;
        if (i == n)
            break;
        if (s[i] != '.')
            return 0;
        i++;
        if (i == n)
            return 0; /* trailing dot */
    }
    memcpy(v4, tmp, 4);
    return parts;
}

static void make_mapped(const uint8_t v4[4], uint8_t out[16])
{
    memcpy(out, mapped_prefix, sizeof(mapped_prefix));
    memcpy(out + 12, v4, 4);
}

int pdx_addr_parse(const char *s, uint8_t out[16])
{
    if (s == NULL)
        return PDX_EUSAGE;
    size_t n = strnlen(s, ADDR_MAXTEXT + 1);
    if (n == 0 || n > ADDR_MAXTEXT)
        return PDX_EUSAGE;
    uint8_t v4[4];
    if (parse_v4_parts(s, n, v4) == 4) {
        make_mapped(v4, out);
        return PDX_OK;
    }
    /* inet_pton would also take the dotted quad, but only the colon form is
     * left to it so that IPv4 rules do not depend on the C library. */
    if (memchr(s, ':', n) == NULL)
        return PDX_EUSAGE;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, s, &a6) != 1)
        return PDX_EUSAGE;
    memcpy(out, &a6, 16);
    return PDX_OK;
}

int pdx_addr_parse_cidr(const char *s, uint8_t lo[16], uint8_t hi[16])
{
    if (s == NULL)
        return PDX_EUSAGE;
    size_t n = strnlen(s, ADDR_MAXTEXT + 5);
    if (n == 0 || n > ADDR_MAXTEXT + 4)
        return PDX_EUSAGE;

    const char *slash = memchr(s, '/', n);
    size_t alen = slash != NULL ? (size_t)(slash - s) : n;
    int plen = -1;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t pn = n - alen - 1;
        if (pn == 0 || pn > 3)
            return PDX_EUSAGE;
        plen = 0;
        for (size_t i = 0; i < pn; i++) {
            if (p[i] < '0' || p[i] > '9')
                return PDX_EUSAGE;
            plen = plen * 10 + (p[i] - '0');
        }
        if (pn > 1 && p[0] == '0')
            return PDX_EUSAGE;
    }
    if (alen == 0 || alen > ADDR_MAXTEXT)
        return PDX_EUSAGE;

    uint8_t a[16];
    int bits; /* prefix length over the 128-bit address */
    uint8_t v4[4];
    int parts = parse_v4_parts(s, alen, v4);
    if (parts > 0) {
        if (plen < 0)
            plen = 8 * parts;
        if (plen > 32)
            return PDX_EUSAGE;
        make_mapped(v4, a);
        bits = 96 + plen;
    } else {
        char tmp[ADDR_MAXTEXT + 1];
        memcpy(tmp, s, alen);
        tmp[alen] = '\0';
        if (memchr(tmp, ':', alen) == NULL)
            return PDX_EUSAGE;
        struct in6_addr a6;
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return PDX_EUSAGE;
        memcpy(a, &a6, 16);
        if (plen < 0)
            plen = 128;
        if (plen > 128)
            return PDX_EUSAGE;
        bits = plen;
    }

    for (int i = 0; i < 16; i++) {
        int keep = bits - 8 * i; /* bits of this byte inside the prefix */
        uint8_t mask;
        if (keep >= 8)
            mask = 0xff;
        else if (keep <= 0)
            mask = 0;
        else
            mask = (uint8_t)(0xff << (8 - keep));
        lo[i] = (uint8_t)(a[i] & mask);
        hi[i] = (uint8_t)(a[i] | (uint8_t)~mask);
    }
    return PDX_OK;
}

char *pdx_addr_format(const uint8_t a[16], char *buf, size_t len)
{
    char tmp[PDX_ADDR_STRLEN];
    if (pdx_addr_is_v4(a)) {
        char *p = tmp;
        for (int i = 12; i < 16; i++) {
            unsigned v = a[i];
            if (v >= 100)
                *p++ = (char)('0' + v / 100);
            if (v >= 10)
                *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
            *p++ = i < 15 ? '.' : '\0';
        }
    } else {
        unsigned w[8];
        for (int i = 0; i < 8; i++)
            w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        /* RFC 5952 4.2: the longest run of two or more zero groups, the
         * first one when runs tie. */
        int best = -1, bestlen = 0;
        for (int i = 0; i < 8;) {
            if (w[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && w[j] == 0)
                j++;
            if (j - i > bestlen) {
                best = i;
                bestlen = j - i;
            }
            i = j;
        }
        if (bestlen < 2) {
            best = -1;
            bestlen = 0;
        }
        size_t o = 0;
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                tmp[o++] = ':';
                tmp[o++] = ':';
                i += bestlen - 1;
                continue;
            }
            if (i > 0 && i != best + bestlen)
                tmp[o++] = ':';
            o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%x", w[i]);
        }
        tmp[o] = '\0';
    }
    size_t n = strlen(tmp);
    if (buf == NULL || len <= n)
        return NULL;
    memcpy(buf, tmp, n + 1);
    return buf;
}
