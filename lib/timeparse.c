/* timeparse.c - RFC 3339, epoch and relative times; durations; printing. */
#include "timeparse.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)

/* Longest time or duration text we look at; real ones are far shorter. */
#define TEXT_MAX 127

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Copies s into a bounded message-safe form: printable ASCII kept, the rest
 * as '?', cut to 40 characters. */
static const char *shown(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        if (i == 40) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
    return out;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned mp = m > 2 ? m - 3 : m + 9;
    unsigned doy = (153 * mp + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* sec * 1e9 + frac (0 <= frac < 1e9) without overflow; -1 when it does not
 * fit in int64. */
static int to_ns(int64_t sec, int64_t frac, int64_t *out)
{
    if (sec >= 0) {
        if (sec > (INT64_MAX - frac) / NS_PER_S)
            return -1;
        *out = sec * NS_PER_S + frac;
        return 0;
    }
    int64_t s1 = sec + 1;
    if (s1 < INT64_MIN / NS_PER_S)
        return -1;
    int64_t t = s1 * NS_PER_S;
    int64_t f = frac - NS_PER_S; /* in [-1e9, 0) */
    if (t < INT64_MIN - f)
        return -1;
    *out = t + f;
    return 0;
}

/* Reads digits[.digits] at *pp and returns value * unit in *out, exactly
 * (fraction digits past the ninth are read and ignored).  Returns 0, or -1
 * for no number or overflow; *pp advances past what was read. */
static int scaled_number(const char **pp, const char *end, int64_t unit, int64_t *out)
{
    const char *p = *pp;
    if (p >= end || !is_digit(*p))
        return -1;
    int64_t ip = 0;
    int over = 0;
    while (p < end && is_digit(*p)) {
        int dgt = *p++ - '0';
        if (ip > (INT64_MAX - dgt) / 10)
            over = 1;
        else
            ip = ip * 10 + dgt;
    }
    int64_t f = 0, pow10 = 1;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return -1;
        while (p < end && is_digit(*p)) {
            if (pow10 < NS_PER_S) {
                f = f * 10 + (*p - '0');
                pow10 *= 10;
            }
            p++;
        }
    }
    *pp = p;
    if (over || ip > INT64_MAX / unit)
        return -1;
    int64_t v = ip * unit;
    /* f / pow10 of a unit, split so that no product can overflow:
     * unit = q * pow10 + r with r < pow10 <= 1e9 and f < pow10. */
    int64_t q = unit / pow10, r = unit % pow10;
    int64_t add = q * f + (r * f) / pow10;
    if (v > INT64_MAX - add)
        return -1;
    *out = v + add;
    return 0;
}

static const struct {
    const char *name;
    int64_t ns;
} units[] = {
    {"ns", 1},
    {"nsec", 1},
    {"nsecs", 1},
    {"nanosecond", 1},
    {"nanoseconds", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* µs */
    {"usec", 1000},
    {"usecs", 1000},
    {"microsecond", 1000},
    {"microseconds", 1000},
    {"ms", 1000000},
    {"msec", 1000000},
    {"msecs", 1000000},
    {"millisecond", 1000000},
    {"milliseconds", 1000000},
    {"s", NS_PER_S},
    {"sec", NS_PER_S},
    {"secs", NS_PER_S},
    {"second", NS_PER_S},
    {"seconds", NS_PER_S},
    {"m", 60 * NS_PER_S},
    {"min", 60 * NS_PER_S},
    {"mins", 60 * NS_PER_S},
    {"minute", 60 * NS_PER_S},
    {"minutes", 60 * NS_PER_S},
    {"h", 3600 * NS_PER_S},
    {"hr", 3600 * NS_PER_S},
    {"hrs", 3600 * NS_PER_S},
    {"hour", 3600 * NS_PER_S},
    {"hours", 3600 * NS_PER_S},
    {"d", 86400 * NS_PER_S},
    {"day", 86400 * NS_PER_S},
    {"days", 86400 * NS_PER_S},
    {"w", 604800 * NS_PER_S},
    {"week", 604800 * NS_PER_S},
    {"weeks", 604800 * NS_PER_S},
};

static int64_t unit_ns(const char *u, size_t n)
{
    for (size_t i = 0; i < PDX_ARRAY_LEN(units); i++) {
        const char *name = units[i].name;
        if (strlen(name) != n)
            continue;
        size_t k = 0;
        while (k < n && lower(u[k]) == name[k])
            k++;
        if (k == n)
            return units[i].ns;
    }
    return 0;
}

static int is_unit_char(char c)
{
    unsigned char u = (unsigned char)c;
    return (lower(c) >= 'a' && lower(c) <= 'z') || u == 0xc2 || u == 0xb5;
}

/* End of digits[.digits] at p, or NULL when p does not start one. */
static const char *number_end(const char *p, const char *end)
{
    if (p >= end || !is_digit(*p))
        return NULL;
    while (p < end && is_digit(*p))
        p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p))
            p++;
    }
    return p;
}

/* Duration over [p, end), blanks already trimmed. */
static int duration_span(const char *p, const char *end, int64_t *out_ns)
{
    if (p >= end)
        return PDX_EUSAGE;
    int64_t total = 0;
    int parts = 0;
    while (p < end) {
        const char *numend = number_end(p, end);
        if (numend == NULL)
            return PDX_EUSAGE;
        const char *q = numend;
        while (q < end && is_blank(*q))
            q++;
        const char *u = q;
        while (q < end && is_unit_char(*q))
            q++;
        int64_t unit;
        if (q == u) {
            if (parts > 0 || q != end)
                return PDX_EUSAGE; /* a bare number only on its own */
            unit = NS_PER_S;
        } else {
            unit = unit_ns(u, (size_t)(q - u));
            if (unit == 0)
                return PDX_EUSAGE;
        }
        const char *r = p;
        int64_t v;
        if (scaled_number(&r, numend, unit, &v) != 0 || r != numend)
            return PDX_EUSAGE;
        if (total > INT64_MAX - v)
            return PDX_EUSAGE;
        total += v;
        parts++;
        while (q < end && is_blank(*q))
            q++;
        p = q;
    }
    *out_ns = total;
    return PDX_OK;
}

static void trim(const char **p, const char **end)
{
    while (*p < *end && is_blank(**p))
        (*p)++;
    while (*end > *p && is_blank((*end)[-1]))
        (*end)--;
}

int pdx_duration_parse(const char *s, int64_t *out_ns)
{
    if (s == NULL || out_ns == NULL)
        return PDX_EUSAGE;
    size_t n = strnlen(s, TEXT_MAX + 1);
    if (n > TEXT_MAX)
        return PDX_EUSAGE;
    const char *p = s, *end = s + n;
    trim(&p, &end);
    return duration_span(p, end, out_ns);
}

/* Exactly n digits at p into *v. */
static int fixed_digits(const char *p, const char *end, int n, unsigned *v)
{
    if (end - p < n)
        return -1;
    unsigned x = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *v = x;
    return 0;
}

static int rfc3339(const char *p, const char *end, int64_t *out, char *errbuf, const char *what)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac = 0;
    int64_t zone = 0; /* seconds east of UTC */

    if (fixed_digits(p, end, 4, &y) != 0 || p[4] != '-' ||
        fixed_digits(p + 5, end, 2, &mo) != 0 || p + 7 >= end || p[7] != '-' ||
        fixed_digits(p + 8, end, 2, &d) != 0)
        return pdx_errf(errbuf, PDX_EUSAGE, "bad date in '%s': expected YYYY-MM-DD", what);
    if (mo < 1 || mo > 12)
        return pdx_errf(errbuf, PDX_EUSAGE, "month out of range in '%s'", what);
    if (d < 1 || d > days_in_month(y, mo))
        return pdx_errf(errbuf, PDX_EUSAGE, "day out of range in '%s'", what);
    p += 10;
    if (p < end) {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return pdx_errf(errbuf, PDX_EUSAGE,
                            "bad time in '%s': expected 'T' or a blank after the date", what);
        p++;
        if (fixed_digits(p, end, 2, &h) != 0 || p + 2 >= end || p[2] != ':' ||
            fixed_digits(p + 3, end, 2, &mi) != 0)
            return pdx_errf(errbuf, PDX_EUSAGE, "bad time in '%s': expected HH:MM[:SS]", what);
        p += 5;
        if (p < end && *p == ':') {
            if (fixed_digits(p + 1, end, 2, &sec) != 0)
                return pdx_errf(errbuf, PDX_EUSAGE, "bad seconds in '%s'", what);
            p += 3;
            if (p < end && (*p == '.' || *p == ',')) {
                p++;
                if (p >= end || !is_digit(*p))
                    return pdx_errf(errbuf, PDX_EUSAGE, "bad fraction in '%s'", what);
                int64_t scale = NS_PER_S;
                while (p < end && is_digit(*p)) {
                    if (scale > 1) {
                        scale /= 10;
                        frac += (*p - '0') * scale;
                    }
                    p++;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return pdx_errf(errbuf, PDX_EUSAGE, "time of day out of range in '%s'", what);
        if (p < end) {
            if (*p == 'Z' || *p == 'z') {
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1;
                unsigned zh, zm = 0;
                p++;
                if (fixed_digits(p, end, 2, &zh) != 0)
                    return pdx_errf(errbuf, PDX_EUSAGE, "bad zone offset in '%s'", what);
                p += 2;
                int colon = p < end && *p == ':';
                p += colon;
                if (p < end || colon) {
                    if (fixed_digits(p, end, 2, &zm) != 0)
                        return pdx_errf(errbuf, PDX_EUSAGE, "bad zone offset in '%s'", what);
                    p += 2;
                }
                if (zh > 23 || zm > 59)
                    return pdx_errf(errbuf, PDX_EUSAGE, "zone offset out of range in '%s'",
                                    what);
                zone = sign * (int64_t)(zh * 3600 + zm * 60);
            }
            if (p != end)
                return pdx_errf(errbuf, PDX_EUSAGE, "unexpected text after the time in '%s'",
                                what);
        }
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
    if (to_ns(secs, frac, out) != 0)
        return pdx_errf(errbuf, PDX_EUSAGE,
                        "time '%s' is outside 1677-09-21 .. 2262-04-11, what the index can hold",
                        what);
    return PDX_OK;
}

static int epoch(const char *p, const char *end, int64_t *out, char *errbuf, const char *what)
{
    int neg = 0;
    if (p < end && *p == '@')
        p++;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (number_end(p, end) != end)
        goto bad;
    /* Seconds and fraction separately, so that the range check is exact. */
    const char *q = p;
    int64_t sec = 0;
    while (q < end && is_digit(*q)) {
        if (sec > (INT64_MAX - 9) / 10)
            goto range;
        sec = sec * 10 + (*q++ - '0');
    }
    int64_t frac = 0;
    if (q < end && *q == '.') {
        q++;
        int64_t scale = NS_PER_S;
        while (q < end && is_digit(*q)) {
            if (scale > 1) {
                scale /= 10;
                frac += (*q - '0') * scale;
            }
            q++;
        }
    }
    if (neg) {
        sec = -sec;
        if (frac > 0) {
            sec -= 1;
            frac = NS_PER_S - frac;
        }
    }
    if (to_ns(sec, frac, out) != 0)
        goto range;
    return PDX_OK;
bad:
    return pdx_errf(errbuf, PDX_EUSAGE,
                    "cannot read time '%s': expected RFC 3339 (2024-05-01T14:00:00Z), "
                    "epoch seconds, 'now' or a relative time like '2h ago'",
                    what);
range:
    return pdx_errf(errbuf, PDX_EUSAGE,
                    "time '%s' is outside 1677-09-21 .. 2262-04-11, what the index can hold",
                    what);
}

static int word_eq(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(end - p) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != w[i])
            return 0;
    return 1;
}

int pdx_time_parse(const char *s, int64_t now_ns, int64_t *out_ns, char *errbuf)
{
    char what[64];
    if (s == NULL || out_ns == NULL)
        return pdx_errf(errbuf, PDX_EUSAGE, "no time given");
    size_t n = strnlen(s, TEXT_MAX + 1);
    shown(s, n, what, sizeof(what));
    if (n > TEXT_MAX)
        return pdx_errf(errbuf, PDX_EUSAGE, "time '%s' is too long", what);
    const char *p = s, *end = s + n;
    trim(&p, &end);
    shown(p, (size_t)(end - p), what, sizeof(what));
    if (p == end)
        return pdx_errf(errbuf, PDX_EUSAGE, "empty time");

    int64_t v = 0;
    if (word_eq(p, end, "now")) {
        *out_ns = now_ns;
        return PDX_OK;
    }
    if (end - p > 4 && word_eq(end - 3, end, "ago") && is_blank(end[-4])) {
        const char *dend = end - 4;
        const char *dp = p;
        trim(&dp, &dend);
        int64_t d;
        if (duration_span(dp, dend, &d) != 0)
            return pdx_errf(errbuf, PDX_EUSAGE,
                            "bad relative time '%s': expected e.g. '90s ago', '2h ago', '1d ago'",
                            what);
        if (now_ns < INT64_MIN + d)
            return pdx_errf(errbuf, PDX_EUSAGE, "relative time '%s' is before 1677", what);
        *out_ns = now_ns - d;
        return PDX_OK;
    }
    if (end - p >= 10 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) && is_digit(p[3]) &&
        p[4] == '-') {
        int rc = rfc3339(p, end, &v, errbuf, what);
        if (rc != 0)
            return rc;
        *out_ns = v;
        return PDX_OK;
    }
    int rc = epoch(p, end, &v, errbuf, what);
    if (rc != 0)
        return rc;
    *out_ns = v;
    return PDX_OK;
}

/* v as exactly n decimal digits (v < 10^n); returns the end. */
static char *put_digits(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

char *pdx_time_format(int64_t ns, char *buf, size_t len)
{
    if (buf == NULL || len < 31)
        return NULL;
    int64_t sec = ns / NS_PER_S, frac = ns % NS_PER_S;
    if (frac < 0) {
        frac += NS_PER_S;
        sec -= 1;
    }
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(buf, len, "%04lld-%02u-%02uT%02u:%02u:%02u.%09lldZ", (long long)y, m, d,
                 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60),
                 (long long)frac);
        return buf;
    }
    /* By hand: a listing formats two times a flow, and snprintf is slow. */
    char *p = buf;
    p = put_digits(p, (uint64_t)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (uint64_t)(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(rem % 60), 2);
    *p++ = '.';
    p = put_digits(p, (uint64_t)frac, 9);
    *p++ = 'Z';
    *p = '\0';
    return buf;
}
