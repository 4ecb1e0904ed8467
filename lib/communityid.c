/* communityid.c - Community ID v1, with SHA-1 and base64 from libcrypto. */
#include "communityid.h"

#include <string.h>

#include "dynlib.h"


static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The ICMP types that have a counterpart hash as two-way "port" pairs
 * (type, counterpart); every other type is one-way (type, code). */
static int icmp_counterpart(uint8_t proto, uint16_t type, uint16_t *peer)
{
    static const uint8_t v4[][2] = {{8, 0}, {0, 8}, {13, 14}, {14, 13}, {15, 16},
                                    {16, 15}, {10, 9}, {9, 10}, {17, 18}, {18, 17}};
    static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {130, 131}, {131, 130},
                                    {133, 134}, {134, 133}, {135, 136}, {136, 135},
                                    {139, 140}, {140, 139}, {144, 145}, {145, 144}};
    const uint8_t(*map)[2] = proto == 1 ? v4 : v6;
    size_t n = proto == 1 ? sizeof(v4) / sizeof(v4[0]) : sizeof(v6) / sizeof(v6[0]);
    for (size_t i = 0; i < n; i++) {
        if (map[i][0] == type) {
            *peer = map[i][1];
            return 1;
        }
    }
    return 0;
}

int pdx_community_id(uint16_t seed, const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
                     uint16_t sport, uint16_t dport, char *out)
{
    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t alen = memcmp(src, v4_prefix, 12) == 0 ? 4 : 16;
    const uint8_t *a = src + (16 - alen), *b = dst + (16 - alen);
    int ports = proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
    int one_way = 0;

    if (proto == 1 || proto == 58) {
        uint16_t peer;
        if (icmp_counterpart(proto, sport, &peer))
            dport = peer;
        else
            one_way = 1;
    }
    int c = memcmp(a, b, alen);
    if (!(one_way || c < 0 || (c == 0 && sport < dport))) {
        const uint8_t *t = a;
        a = b;
        b = t;
        uint16_t tp = sport;
        sport = dport;
        dport = tp;
    }
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, a, alen);
    n += alen;
    memcpy(buf + n, b, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (ports) {
        buf[n++] = (uint8_t)(sport >> 8);
        buf[n++] = (uint8_t)sport;
        buf[n++] = (uint8_t)(dport >> 8);
        buf[n++] = (uint8_t)dport;
    }
    const pdx_crypto_fns *cf = pdx_crypto_fns_get(NULL);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (cf == NULL || cf->digest(buf, n, md, &mdlen, pdx_crypto_sha1(), NULL) != 1 || mdlen != 20)
        return -1;
    out[0] = '1';
    out[1] = ':';
    cf->encode_block((unsigned char *)out + 2, md, 20); /* 28 chars + NUL */
    return 0;
}
