/*
 * test_qparse.c - the filter language and its pieces: addresses and CIDR
 * ranges, times and durations, the parser's SQL and errors, hostile input,
 * and an end-to-end check that the SQL selects from a real flows table
 * exactly the rows a C evaluation of the same tree selects.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "qparse.h"
#include "timeparse.h"
#include "unit.h"

#define NS INT64_C(1000000000)

/* ---- helpers ------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void mapped(uint8_t out[16], unsigned a, unsigned b, unsigned c, unsigned d)
{
    memset(out, 0, 16);
    out[10] = out[11] = 0xff;
    out[12] = (uint8_t)a, out[13] = (uint8_t)b, out[14] = (uint8_t)c, out[15] = (uint8_t)d;
}

static void hexaddr(uint8_t out[16], const char *hex32)
{
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex32 + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static pdx_query *parse_ok(const char *e)
{
    pdx_query *q = NULL;
    char err[PDX_ERRBUF_SIZE] = "";
    size_t pos = 0;
    int rc = pdx_qparse(e, &q, err, &pos);
    if (rc != PDX_OK)
        PDX_FAIL_("'%s' did not parse: rc %d at %zu: %s", e, rc, pos, err);
    return q;
}

static void expect_sql(const char *e, const char *sql, size_t nparams)
{
    pdx_query *q = parse_ok(e);
    if (strcmp(pdx_query_sql(q), sql) != 0)
        PDX_FAIL_("'%s': SQL\n    got  %s\n    want %s", e, pdx_query_sql(q), sql);
    if (pdx_query_nparams(q) != nparams)
        PDX_FAIL_("'%s': %zu params, want %zu", e, pdx_query_nparams(q), nparams);
    pdx_query_free(q);
}

static void expect_err(const char *e, size_t want_pos, const char *msg_part)
{
    pdx_query *q = (pdx_query *)&rng; /* must stay untouched */
    pdx_query *const sentinel = q;
    char err[PDX_ERRBUF_SIZE] = "";
    size_t pos = 12345;
    int rc = pdx_qparse(e, &q, err, &pos);
    if (rc != PDX_EUSAGE)
        PDX_FAIL_("'%s': rc %d, want PDX_EUSAGE", e, rc);
    if (q != sentinel)
        PDX_FAIL_("'%s': *out written on failure", e);
    if (pos != want_pos)
        PDX_FAIL_("'%s': error at %zu, want %zu (%s)", e, pos, want_pos, err);
    if (err[0] == '\0' || (msg_part != NULL && strstr(err, msg_part) == NULL))
        PDX_FAIL_("'%s': message \"%s\" lacks \"%s\"", e, err, msg_part ? msg_part : "");
}

static int64_t param_int(const pdx_query *q, size_t i)
{
    const pdx_qparam *p = pdx_query_param(q, i);
    CHECK(p != NULL);
    CHECK_EQ(p->type, PDX_QPARAM_INT);
    return p->i;
}

/* ---- addresses ----------------------------------------------------- */

static void test_addr_parse_v4(void)
{
    uint8_t a[16], want[16];
    CHECK_EQ(pdx_addr_parse("1.2.3.4", a), PDX_OK);
    mapped(want, 1, 2, 3, 4);
    CHECK_MEM(a, want, 16);
    CHECK(pdx_addr_is_v4(a));
    CHECK_EQ(pdx_addr_parse("0.0.0.0", a), PDX_OK);
    mapped(want, 0, 0, 0, 0);
    CHECK_MEM(a, want, 16);
    CHECK_EQ(pdx_addr_parse("255.255.255.255", a), PDX_OK);
    mapped(want, 255, 255, 255, 255);
    CHECK_MEM(a, want, 16);

    static const char *const bad[] = {
        "",          "256.1.1.1",  "1.2.3",     "1.2.3.4.5", "01.2.3.4", "1.2.3.4 ",
        " 1.2.3.4",  "a.b.c.d",    "1..2.3",    "1.2.3.",    "-1.2.3.4", "1.2.3.4/32",
        "1.2.3.1000", "0x1.2.3.4", "1.2.3.4\n", "localhost", "1",        "4294967295",
    };
    memset(a, 0xaa, 16);
    for (size_t i = 0; i < PDX_ARRAY_LEN(bad); i++) {
        if (pdx_addr_parse(bad[i], a) != PDX_EUSAGE)
            PDX_FAIL_("'%s' parsed", bad[i]);
    }
    for (int i = 0; i < 16; i++)
        CHECK_EQ(a[i], 0xaa); /* untouched on failure */
    CHECK_EQ(pdx_addr_parse(NULL, a), PDX_EUSAGE);
    char lng[300];
    memset(lng, '1', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    CHECK_EQ(pdx_addr_parse(lng, a), PDX_EUSAGE);
}

static void test_addr_parse_v6(void)
{
    uint8_t a[16], want[16];
    CHECK_EQ(pdx_addr_parse("::", a), PDX_OK);
    memset(want, 0, 16);
    CHECK_MEM(a, want, 16);
    CHECK(!pdx_addr_is_v4(a));
    CHECK_EQ(pdx_addr_parse("::1", a), PDX_OK);
    want[15] = 1;
    CHECK_MEM(a, want, 16);
    CHECK_EQ(pdx_addr_parse("2001:DB8::A", a), PDX_OK);
    hexaddr(want, "20010db800000000000000000000000a");
    CHECK_MEM(a, want, 16);
    CHECK_EQ(pdx_addr_parse("2001:0db8:0000:0000:0000:0000:0000:000a", a), PDX_OK);
    CHECK_MEM(a, want, 16);
    /* The mapped form written as IPv6 is the same address as the quad. */
    CHECK_EQ(pdx_addr_parse("::ffff:10.1.2.3", a), PDX_OK);
    mapped(want, 10, 1, 2, 3);
    CHECK_MEM(a, want, 16);
    CHECK(pdx_addr_is_v4(a));
    CHECK_EQ(pdx_addr_parse("::ffff:a01:203", a), PDX_OK);
    CHECK_MEM(a, want, 16);

    static const char *const bad[] = {
        "2001:db8::1::2", ":::",     "fe80::1%eth0", "12345::", "[::1]", "1:2:3:4:5:6:7:8:9",
        "::g",            "2001:db8", ":",           "::1 ",    "1:2:3:4:5:6:7:8::", "::/0",
    };
    for (size_t i = 0; i < PDX_ARRAY_LEN(bad); i++) {
        if (pdx_addr_parse(bad[i], a) != PDX_EUSAGE)
            PDX_FAIL_("'%s' parsed", bad[i]);
    }
}

static void check_format(const char *hex, const char *want)
{
    uint8_t a[16], back[16];
    char buf[PDX_ADDR_STRLEN];
    hexaddr(a, hex);
    CHECK(pdx_addr_format(a, buf, sizeof(buf)) == buf);
    CHECK_STR(buf, want);
    CHECK_EQ(pdx_addr_parse(buf, back), PDX_OK);
    CHECK_MEM(a, back, 16);
}

static void test_addr_format(void)
{
    check_format("00000000000000000000ffff0a000001", "10.0.0.1");
    check_format("00000000000000000000ffff00000000", "0.0.0.0");
    check_format("20010db8000000000000000000000001", "2001:db8::1");
    check_format("00000000000000000000000000000000", "::");
    check_format("00000000000000000000000000000001", "::1");
    check_format("00010000000000000000000000000000", "1::");
    check_format("fe800000000000000000000000000000", "fe80::");
    /* RFC 5952 4.2.2: one zero group is not shortened. */
    check_format("20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1");
    /* 4.2.3: the longest run; on a tie the first. */
    check_format("20010000000000010000000000000001", "2001:0:0:1::1");
    check_format("20010db8000000000001000000000001", "2001:db8::1:0:0:1");
    /* 4.3: lower case; leading zeros dropped. */
    check_format("20010DB800AB000C000000000000FFFF", "2001:db8:ab:c::ffff");
    /* IPv4-compatible (deprecated) and NAT64 stay hex, only mapped is a quad. */
    check_format("00000000000000000000000001020304", "::102:304");
    check_format("0064ff9b000000000000000001020304", "64:ff9b::102:304");
    check_format("ffffffffffffffffffffffffffffffff",
                 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

    uint8_t a[16];
    char small[8] = "zz";
    hexaddr(a, "20010db8000000000000000000000001");
    CHECK(pdx_addr_format(a, small, sizeof(small)) == NULL);
    CHECK_STR(small, "zz");
    char exact[12];
    CHECK(pdx_addr_format(a, exact, sizeof(exact)) == exact); /* 11 chars + NUL */
    CHECK(pdx_addr_format(a, exact, 11) == NULL);
}

static void test_addr_roundtrip_random(void)
{
    char buf[PDX_ADDR_STRLEN];
    for (int i = 0; i < 20000; i++) {
        uint8_t a[16], back[16];
        for (int k = 0; k < 16; k++) {
            /* Many zero bytes, so that "::" runs of every shape occur. */
            uint64_t r = rnd();
            a[k] = (r & 3) == 0 ? (uint8_t)(r >> 8) : 0;
        }
        if (i % 4 == 0)
            mapped(a, (unsigned)rnd() & 255, (unsigned)rnd() & 255, (unsigned)rnd() & 255,
                   (unsigned)rnd() & 255);
        CHECK(pdx_addr_format(a, buf, sizeof(buf)) != NULL);
        CHECK(strlen(buf) < PDX_ADDR_STRLEN);
        CHECK(strstr(buf, ":::") == NULL);
        if (pdx_addr_parse(buf, back) != PDX_OK)
            PDX_FAIL_("formatted '%s' does not parse", buf);
        CHECK_MEM(a, back, 16);
        CHECK_EQ(pdx_addr_is_v4(a), strchr(buf, ':') == NULL);
    }
}

static void check_cidr(const char *s, const char *lo_hex, const char *hi_hex)
{
    uint8_t lo[16], hi[16], wlo[16], whi[16];
    if (pdx_addr_parse_cidr(s, lo, hi) != PDX_OK)
        PDX_FAIL_("'%s' did not parse as a prefix", s);
    hexaddr(wlo, lo_hex);
    hexaddr(whi, hi_hex);
    if (memcmp(lo, wlo, 16) != 0 || memcmp(hi, whi, 16) != 0) {
        char a[PDX_ADDR_STRLEN], b[PDX_ADDR_STRLEN];
        pdx_addr_format(lo, a, sizeof(a));
        pdx_addr_format(hi, b, sizeof(b));
        PDX_FAIL_("'%s' gave %s .. %s", s, a, b);
    }
}

static void test_addr_cidr(void)
{
    check_cidr("10.0.0.0/8", "00000000000000000000ffff0a000000", "00000000000000000000ffff0affffff");
    check_cidr("10/8", "00000000000000000000ffff0a000000", "00000000000000000000ffff0affffff");
    check_cidr("10", "00000000000000000000ffff0a000000", "00000000000000000000ffff0affffff");
    check_cidr("10.1/16", "00000000000000000000ffff0a010000", "00000000000000000000ffff0a01ffff");
    check_cidr("10.1", "00000000000000000000ffff0a010000", "00000000000000000000ffff0a01ffff");
    check_cidr("10.1.2", "00000000000000000000ffff0a010200", "00000000000000000000ffff0a0102ff");
    check_cidr("192.168.1.77/24", "00000000000000000000ffffc0a80100",
               "00000000000000000000ffffc0a801ff");
    check_cidr("1.2.3.4", "00000000000000000000ffff01020304", "00000000000000000000ffff01020304");
    check_cidr("1.2.3.4/32", "00000000000000000000ffff01020304",
               "00000000000000000000ffff01020304");
    check_cidr("1.2.3.5/31", "00000000000000000000ffff01020304",
               "00000000000000000000ffff01020305");
    check_cidr("172.20.0.0/13", "00000000000000000000ffffac100000",
               "00000000000000000000ffffac17ffff");
    /* IPv4 /0 is every IPv4 address and nothing else. */
    check_cidr("0.0.0.0/0", "00000000000000000000ffff00000000", "00000000000000000000ffffffffffff");
    check_cidr("::/0", "00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff");
    check_cidr("2001:db8::/32", "20010db8000000000000000000000000",
               "20010db8ffffffffffffffffffffffff");
    check_cidr("2001:db8::1/128", "20010db8000000000000000000000001",
               "20010db8000000000000000000000001");
    check_cidr("2001:db8::1/127", "20010db8000000000000000000000000",
               "20010db8000000000000000000000001");
    check_cidr("::1", "00000000000000000000000000000001", "00000000000000000000000000000001");
    check_cidr("fe80::/10", "fe800000000000000000000000000000", "febfffffffffffffffffffffffffffff");
    check_cidr("::ffff:10.0.0.0/104", "00000000000000000000ffff0a000000",
               "00000000000000000000ffff0affffff");

    static const char *const bad[] = {
        "10.0.0.0/33", "::/129",      "10.0.0.0/",  "10.0.0.0/-1",     "10.0.0.0/08",
        "/8",          "10.0.0.0/8/8", "10.0.0.0/ 8", "2001:db8::/3x", "1.2.3.4.5/8",
        "",            "10./8",       "256/8",      "2001:db8::/1000", "a/8",
        "1.2.3.4/4294967328",
    };
    uint8_t lo[16], hi[16];
    memset(lo, 0x55, 16);
    for (size_t i = 0; i < PDX_ARRAY_LEN(bad); i++) {
        if (pdx_addr_parse_cidr(bad[i], lo, hi) != PDX_EUSAGE)
            PDX_FAIL_("'%s' parsed as a prefix", bad[i]);
    }
    CHECK_EQ(lo[0], 0x55);
    CHECK_EQ(pdx_addr_parse_cidr(NULL, lo, hi), PDX_EUSAGE);
}

/* ---- times ---------------------------------------------------------- */

static int64_t tparse(const char *s, int64_t now)
{
    int64_t v = 0;
    char err[PDX_ERRBUF_SIZE] = "";
    int rc = pdx_time_parse(s, now, &v, err);
    if (rc != PDX_OK)
        PDX_FAIL_("time '%s' did not parse: %s", s, err);
    return v;
}

static void tbad(const char *s)
{
    int64_t v = 777;
    char err[PDX_ERRBUF_SIZE] = "";
    int rc = pdx_time_parse(s, 1000 * NS, &v, err);
    if (rc != PDX_EUSAGE)
        PDX_FAIL_("time '%s' parsed as %lld", s, (long long)v);
    if (v != 777 || err[0] == '\0')
        PDX_FAIL_("time '%s': out written or no message", s);
}

static void test_time_rfc3339(void)
{
    const int64_t t0 = INT64_C(1714572000) * NS; /* 2024-05-01T14:00:00Z */
    CHECK_EQ(tparse("2024-05-01T14:00:00Z", 0), t0);
    CHECK_EQ(tparse("2024-05-01t14:00:00z", 0), t0);
    CHECK_EQ(tparse("2024-05-01 14:00:00", 0), t0);
    CHECK_EQ(tparse("2024-05-01 14:00", 0), t0);
    CHECK_EQ(tparse("2024-05-01T14:00Z", 0), t0);
    CHECK_EQ(tparse("  2024-05-01T14:00:00Z\n", 0), t0);
    CHECK_EQ(tparse("2024-05-01", 0), t0 - 14 * 3600 * NS);
    CHECK_EQ(tparse("2024-05-01T14:00:00.123456789+02:00", 0), t0 - 7200 * NS + 123456789);
    CHECK_EQ(tparse("2024-05-01T16:00:00+02:00", 0), t0);
    CHECK_EQ(tparse("2024-05-01T16:00:00+0200", 0), t0);
    CHECK_EQ(tparse("2024-05-01T16:00:00+02", 0), t0);
    CHECK_EQ(tparse("2024-05-01T08:30:00-05:30", 0), t0);
    CHECK_EQ(tparse("2024-05-01T14:00:00-00:00", 0), t0);
    CHECK_EQ(tparse("2024-05-01T14:00:00.5Z", 0), t0 + 500000000);
    CHECK_EQ(tparse("2024-05-01T14:00:00.000001Z", 0), t0 + 1000);
    CHECK_EQ(tparse("2024-05-01T14:00:00.1234567891234Z", 0), t0 + 123456789); /* truncated */
    CHECK_EQ(tparse("2024-05-01T14:00:00,25Z", 0), t0 + 250000000);
    /* Across a date line and a month end. */
    CHECK_EQ(tparse("2024-05-02T01:00:00+11:00", 0), t0);
    CHECK_EQ(tparse("2024-04-30T23:00:00-15:00", 0), t0);
    /* The epoch, before it, long before it. */
    CHECK_EQ(tparse("1970-01-01T00:00:00Z", 0), 0);
    CHECK_EQ(tparse("1969-12-31T23:59:59.999999999Z", 0), -1);
    CHECK_EQ(tparse("1970-01-01T01:00:00+01:00", 0), 0);
    CHECK_EQ(tparse("1900-01-01", 0), INT64_C(-2208988800) * NS);
    CHECK_EQ(tparse("2000-01-01", 0), INT64_C(946684800) * NS);
    /* A leap second is the next minute's 00. */
    CHECK_EQ(tparse("2016-12-31T23:59:60Z", 0), tparse("2017-01-01T00:00:00Z", 0));
    /* The int64 range exactly. */
    CHECK_EQ(tparse("2262-04-11T23:47:16.854775807Z", 0), INT64_MAX);
    CHECK_EQ(tparse("1677-09-21T00:12:43.145224192Z", 0), INT64_MIN);
    tbad("2262-04-11T23:47:16.854775808Z");
    tbad("1677-09-21T00:12:43.145224191Z");
    tbad("9999-12-31");
    tbad("0000-01-01");

    tbad("2024-13-01");
    tbad("2024-00-10");
    tbad("2024-04-31");
    tbad("2024-04-00");
    tbad("2024-05-01T24:00");
    tbad("2024-05-01T14:60");
    tbad("2024-05-01T14:00:61");
    tbad("2024-05-01T14:00:00+24:00");
    tbad("2024-05-01T14:00:00+02:60");
    tbad("2024-05-01T14:00:00+02:");
    tbad("2024-05-01T14:00:00+2");
    tbad("2024-05-01T14");
    tbad("2024-05-01T14:0");
    tbad("2024-5-1");
    tbad("2024-05-01T14:00:00.Z");
    tbad("2024-05-01X14:00");
    tbad("2024-05-01T14:00:00Zjunk");
    tbad("2024-05-01  14:00");
    tbad("2024-05-01Z");
    tbad("2024/05/01");
}

static void test_time_leap_years(void)
{
    CHECK_EQ(tparse("2024-02-29", 0) + 86400 * NS, tparse("2024-03-01", 0));
    CHECK_EQ(tparse("2000-02-29", 0) + 86400 * NS, tparse("2000-03-01", 0));
    CHECK_EQ(tparse("1904-02-29", 0) + 86400 * NS, tparse("1904-03-01", 0));
    CHECK_EQ(tparse("2023-02-28", 0) + 86400 * NS, tparse("2023-03-01", 0));
    tbad("2023-02-29");
    tbad("1900-02-29");
    tbad("2100-02-29");
    tbad("2024-02-30");
    /* Whole years: 366 days in 2024 and 2000, 365 in 1900 and 2100. */
    CHECK_EQ(tparse("2025-01-01", 0) - tparse("2024-01-01", 0), 366 * 86400 * NS);
    CHECK_EQ(tparse("2001-01-01", 0) - tparse("2000-01-01", 0), 366 * 86400 * NS);
    CHECK_EQ(tparse("1901-01-01", 0) - tparse("1900-01-01", 0), 365 * 86400 * NS);
    CHECK_EQ(tparse("2101-01-01", 0) - tparse("2100-01-01", 0), 365 * 86400 * NS);
    /* Every day from 1677 to 2262 follows the previous one by 86400 s, and
     * formats back to the same date. */
    int64_t prev = tparse("1678-01-01", 0);
    char buf[PDX_TIME_STRLEN], want[64];
    for (int y = 1678; y <= 2261; y++) {
        for (int m = 1; m <= 12; m++) {
            static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            int days = dim[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= days; d++) {
                if (y == 1678 && m == 1 && d == 1)
                    continue;
                snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, d);
                int64_t t = tparse(want, 0);
                if (t - prev != 86400 * NS)
                    PDX_FAIL_("%s is not one day after the previous date", want);
                prev = t;
                CHECK(pdx_time_format(t, buf, sizeof(buf)) == buf);
                if (strncmp(buf, want, 10) != 0 || strcmp(buf + 10, "T00:00:00.000000000Z") != 0)
                    PDX_FAIL_("%s formats as %s", want, buf);
            }
        }
    }
}

static void test_time_epoch_relative(void)
{
    const int64_t now = INT64_C(1714572000) * NS + 123;
    CHECK_EQ(tparse("1714572000", 0), INT64_C(1714572000) * NS);
    CHECK_EQ(tparse("1714572000.5", 0), INT64_C(1714572000) * NS + 500000000);
    CHECK_EQ(tparse("@1714572000", 0), INT64_C(1714572000) * NS);
    CHECK_EQ(tparse("0", 0), 0);
    CHECK_EQ(tparse("0.000000001", 0), 1);
    CHECK_EQ(tparse("-1.5", 0), -1500000000);
    CHECK_EQ(tparse("-0.25", 0), -250000000);
    CHECK_EQ(tparse("9223372036.854775807", 0), INT64_MAX);
    CHECK_EQ(tparse("-9223372036.854775808", 0), INT64_MIN);
    tbad("9223372036.854775808");
    tbad("-9223372036.854775809");
    tbad("99999999999999999999999");
    tbad("1e9");
    tbad("1714572000.");
    tbad(".5");
    tbad("--5");
    tbad("12:00");

    CHECK_EQ(tparse("now", now), now);
    CHECK_EQ(tparse(" NOW ", now), now);
    CHECK_EQ(tparse("2h ago", now), now - 7200 * NS);
    CHECK_EQ(tparse("30m ago", now), now - 1800 * NS);
    CHECK_EQ(tparse("90s ago", now), now - 90 * NS);
    CHECK_EQ(tparse("1d ago", now), now - 86400 * NS);
    CHECK_EQ(tparse("1w ago", now), now - 7 * 86400 * NS);
    CHECK_EQ(tparse("1.5h ago", now), now - 5400 * NS);
    CHECK_EQ(tparse("2 hours ago", now), now - 7200 * NS);
    CHECK_EQ(tparse("1h30m ago", now), now - 5400 * NS);
    CHECK_EQ(tparse("10 ago", now), now - 10 * NS);
    CHECK_EQ(tparse("2H AGO", now), now - 7200 * NS);
    tbad("ago");
    tbad(" ago");
    tbad("2h");
    tbad("2hago");
    tbad("2x ago");
    tbad("-2h ago");
    tbad("yesterday");
    tbad("");
    tbad("   ");
    tbad("now now");
    /* Relative times that leave the int64 range. */
    int64_t v = 5;
    CHECK_EQ(pdx_time_parse("1w ago", INT64_MIN + 5, &v, NULL), PDX_EUSAGE);
    CHECK_EQ(v, 5);
    CHECK_EQ(pdx_time_parse(NULL, 0, &v, NULL), PDX_EUSAGE);
    char lng[1000];
    memset(lng, '1', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    tbad(lng);
    /* A message never carries raw control bytes. */
    char err[PDX_ERRBUF_SIZE];
    CHECK_EQ(pdx_time_parse("\x1b[31mred", 0, &v, err), PDX_EUSAGE);
    CHECK(strchr(err, '\x1b') == NULL);
}

static int64_t dparse(const char *s)
{
    int64_t v = -1;
    if (pdx_duration_parse(s, &v) != PDX_OK)
        PDX_FAIL_("duration '%s' did not parse", s);
    return v;
}

static void test_duration(void)
{
    CHECK_EQ(dparse("10s"), 10 * NS);
    CHECK_EQ(dparse("1.5m"), 90 * NS);
    CHECK_EQ(dparse("2h"), 7200 * NS);
    CHECK_EQ(dparse("500ms"), 500000000);
    CHECK_EQ(dparse("1d"), 86400 * NS);
    CHECK_EQ(dparse("1w"), 7 * 86400 * NS);
    CHECK_EQ(dparse("250us"), 250000);
    CHECK_EQ(dparse("250\xc2\xb5s"), 250000);
    CHECK_EQ(dparse("10ns"), 10);
    CHECK_EQ(dparse("5"), 5 * NS);
    CHECK_EQ(dparse("0.5"), 500000000);
    CHECK_EQ(dparse("0"), 0);
    CHECK_EQ(dparse("1h30m"), 5400 * NS);
    CHECK_EQ(dparse("1h 30m 15s"), 5415 * NS);
    CHECK_EQ(dparse("2 hours"), 7200 * NS);
    CHECK_EQ(dparse("3 Minutes"), 180 * NS);
    CHECK_EQ(dparse(" 10s "), 10 * NS);
    CHECK_EQ(dparse("0.000000001s"), 1);
    CHECK_EQ(dparse("1.000000001s"), 1000000001);
    CHECK_EQ(dparse("0.1ns"), 0);
    CHECK_EQ(dparse("1.5w"), 907200 * NS);
    CHECK_EQ(dparse("0.333333333333m"), 19999999980); /* 9 fraction digits */
    CHECK_EQ(dparse("9223372036854775807ns"), INT64_MAX);
    CHECK_EQ(dparse("106751d"), INT64_C(106751) * 86400 * NS);

    static const char *const bad[] = {
        "",    "s",   "10x",  "-5s",  "1.s",  "5 5",  "10s 5", "1e3",  "9999999999999999999s",
        "106752d", "1..5s", "1.5.m", "m5", "5mm", "+5s", "9223372036854775808ns",
        "106751d 106751d", ".5s", "10 s ago",
    };
    for (size_t i = 0; i < PDX_ARRAY_LEN(bad); i++) {
        int64_t v = 42;
        if (pdx_duration_parse(bad[i], &v) != PDX_EUSAGE || v != 42)
            PDX_FAIL_("duration '%s' parsed", bad[i]);
    }
    int64_t v;
    CHECK_EQ(pdx_duration_parse(NULL, &v), PDX_EUSAGE);
}

static void test_time_format(void)
{
    char buf[PDX_TIME_STRLEN];
    CHECK_STR(pdx_time_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000000000Z");
    CHECK_STR(pdx_time_format(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999999999Z");
    CHECK_STR(pdx_time_format(-NS, buf, sizeof(buf)), "1969-12-31T23:59:59.000000000Z");
    CHECK_STR(pdx_time_format(-86400 * NS, buf, sizeof(buf)), "1969-12-31T00:00:00.000000000Z");
    CHECK_STR(pdx_time_format(INT64_C(1714572000123456789), buf, sizeof(buf)),
              "2024-05-01T14:00:00.123456789Z");
    CHECK_STR(pdx_time_format(INT64_MAX, buf, sizeof(buf)), "2262-04-11T23:47:16.854775807Z");
    CHECK_STR(pdx_time_format(INT64_MIN, buf, sizeof(buf)), "1677-09-21T00:12:43.145224192Z");
    CHECK_STR(pdx_time_format(INT64_C(951782400) * NS, buf, sizeof(buf)),
              "2000-02-29T00:00:00.000000000Z");
    char small[30] = "zz";
    CHECK(pdx_time_format(0, small, sizeof(small)) == NULL);
    CHECK_STR(small, "zz");
    char exact[31];
    CHECK(pdx_time_format(0, exact, sizeof(exact)) == exact);

    /* format then parse is the identity over the whole range. */
    for (int i = 0; i < 100000; i++) {
        int64_t t = (int64_t)rnd();
        if (i % 3 == 0)
            t %= INT64_C(4000000000) * NS; /* near 1970, both signs */
        if (i < 4)
            t = i == 0 ? INT64_MIN : i == 1 ? INT64_MAX : i == 2 ? -1 : 1;
        CHECK(pdx_time_format(t, buf, sizeof(buf)) != NULL);
        CHECK_EQ(strlen(buf), 30);
        if (tparse(buf, 0) != t)
            PDX_FAIL_("%lld -> %s -> %lld", (long long)t, buf, (long long)tparse(buf, 0));
    }
}

/* ---- parser: SQL per term ------------------------------------------- */

static void test_terms_sql(void)
{
    expect_sql("", "1", 0);
    expect_sql("  \t\n ", "1", 0);
    expect_sql("host 10.0.0.1", "(src_ip = ? OR dst_ip = ?)", 2);
    expect_sql("src host 10.0.0.1", "(src_ip = ?)", 1);
    expect_sql("dst host 10.0.0.1", "(dst_ip = ?)", 1);
    expect_sql("src 10.0.0.1", "(src_ip = ?)", 1);
    expect_sql("dst 2001:db8::1", "(dst_ip = ?)", 1);
    expect_sql("10.0.0.1", "(src_ip = ? OR dst_ip = ?)", 2);
    expect_sql("src or dst host ::1", "(src_ip = ? OR dst_ip = ?)", 2);
    expect_sql("src and dst host ::1", "(src_ip = ? AND dst_ip = ?)", 2);
    expect_sql("dst or src 1.2.3.4", "(src_ip = ? OR dst_ip = ?)", 2);
    expect_sql("net 10/8", "(src_ip BETWEEN ? AND ? OR dst_ip BETWEEN ? AND ?)", 4);
    expect_sql("src net 10.0.0.0/8", "(src_ip BETWEEN ? AND ?)", 2);
    expect_sql("dst net 2001:db8::/32", "(dst_ip BETWEEN ? AND ?)", 2);
    expect_sql("src 10.0.0.0/8", "(src_ip BETWEEN ? AND ?)", 2);
    expect_sql("2001:db8::/32", "(src_ip BETWEEN ? AND ? OR dst_ip BETWEEN ? AND ?)", 4);
    expect_sql("net 1.2.3.4/32", "(src_ip = ? OR dst_ip = ?)", 2);
    expect_sql("port 53", "(proto IN (6,17,132) AND (src_port = ? OR dst_port = ?))", 2);
    expect_sql("src port 53", "(proto IN (6,17,132) AND src_port = ?)", 1);
    expect_sql("dst port 53", "(proto IN (6,17,132) AND dst_port = ?)", 1);
    expect_sql("src and dst port 53", "(proto IN (6,17,132) AND src_port = ? AND dst_port = ?)",
               2);
    expect_sql("portrange 1-1024",
               "(proto IN (6,17,132) AND (src_port BETWEEN ? AND ? OR dst_port BETWEEN ? AND ?))",
               4);
    expect_sql("dst portrange 0-65535", "(proto IN (6,17,132) AND dst_port BETWEEN ? AND ?)", 2);
    expect_sql("proto tcp", "(proto = ?)", 1);
    expect_sql("proto 47", "(proto = ?)", 1);
    expect_sql("proto \\udp", "(proto = ?)", 1);
    expect_sql("tcp", "(proto = ?)", 1);
    expect_sql("ip", "(ethertype = ?)", 1);
    expect_sql("ip6", "(ethertype = ?)", 1);
    expect_sql("arp", "(ethertype = ?)", 1);
    expect_sql("ether proto 0x86dd", "(ethertype = ?)", 1);
    expect_sql("ether proto \\rarp or ether proto 2048", "((ethertype = ?) OR (ethertype = ?))", 2);
    expect_sql("vlan 100", "(vlan = ? OR vlan_inner = ?)", 2);
    expect_sql("vlan", "(vlan IS NOT NULL)", 0);
    expect_sql("packets > 10", "(src_packets + dst_packets > ?)", 1);
    expect_sql("packets 10", "(src_packets + dst_packets = ?)", 1);
    expect_sql("bytes>=1K", "(src_bytes + dst_bytes >= ?)", 1);
    expect_sql("bytes <= 5", "(src_bytes + dst_bytes <= ?)", 1);
    expect_sql("bytes < 5", "(src_bytes + dst_bytes < ?)", 1);
    expect_sql("bytes != 5", "(src_bytes + dst_bytes != ?)", 1);
    expect_sql("bytes <> 5", "(src_bytes + dst_bytes != ?)", 1);
    expect_sql("bytes == 5", "(src_bytes + dst_bytes = ?)", 1);
    expect_sql("duration > 1.5m", "(last_ns - first_ns > ?)", 1);
    expect_sql("community-id 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "(community_id = ?)", 1);
    expect_sql("id 7", "(id = ?)", 1);
    expect_sql("id 7-9", "(id BETWEEN ? AND ?)", 2);
    expect_sql("HOST 10.0.0.1 AND PORT 80",
               "((src_ip = ? OR dst_ip = ?) AND (proto IN (6,17,132) AND (src_port = ? OR "
               "dst_port = ?)))",
               4);
}

static void test_term_params(void)
{
    pdx_query *q = parse_ok("src net 10.1/16");
    const pdx_qparam *p0 = pdx_query_param(q, 0), *p1 = pdx_query_param(q, 1);
    CHECK(p0 != NULL && p1 != NULL && pdx_query_param(q, 2) == NULL);
    CHECK_EQ(p0->type, PDX_QPARAM_BLOB);
    CHECK_EQ(p0->blob_len, 16);
    uint8_t want[16];
    mapped(want, 10, 1, 0, 0);
    CHECK_MEM(p0->blob, want, 16);
    mapped(want, 10, 1, 255, 255);
    CHECK_MEM(p1->blob, want, 16);
    pdx_query_free(q);

    static const struct {
        const char *e;
        int64_t v;
    } ints[] = {
        {"proto tcp", 6},         {"proto udp", 17},        {"proto icmp", 1},
        {"proto icmp6", 58},      {"proto sctp", 132},      {"proto gre", 47},
        {"proto 255", 255},       {"tcp", 6},               {"udp", 17},
        {"icmp", 1},              {"icmp6", 58},            {"sctp", 132},
        {"PROTO TCP", 6},         {"src port 65535", 65535}, {"dst port 0", 0},
        {"packets > 10k", 10000}, {"bytes > 1.5M", 1500000}, {"bytes > 2G", 2000000000},
        {"bytes > 2g", 2000000000}, {"packets > 7", 7},     {"duration > 10s", 10 * NS},
        {"duration > 500ms", 500000000}, {"duration > 1.5m", 90 * NS},
        {"duration > 2h", 7200 * NS}, {"duration >= 1d", 86400 * NS},
        {"duration < 250us", 250000}, {"duration < 10ns", 10}, {"duration > 3", 3 * NS},
        {"duration > 1h30m", 5400 * NS}, {"id 9223372036854775807", INT64_MAX},
        {"vlan 4095", 4095},      {"vlan 0", 0},
    };
    for (size_t i = 0; i < PDX_ARRAY_LEN(ints); i++) {
        q = parse_ok(ints[i].e);
        if (param_int(q, 0) != ints[i].v)
            PDX_FAIL_("'%s': parameter %lld, want %lld", ints[i].e, (long long)param_int(q, 0),
                      (long long)ints[i].v);
        pdx_query_free(q);
    }
    q = parse_ok("portrange 100-200");
    CHECK_EQ(param_int(q, 0), 100);
    CHECK_EQ(param_int(q, 1), 200);
    CHECK_EQ(param_int(q, 2), 100);
    CHECK_EQ(param_int(q, 3), 200);
    pdx_query_free(q);
    q = parse_ok("community-id 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=");
    CHECK_EQ(pdx_query_param(q, 0)->type, PDX_QPARAM_TEXT);
    CHECK_STR(pdx_query_param(q, 0)->text, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=");
    pdx_query_free(q);
    /* A community ID ending the group it is in, or followed by an operator. */
    q = parse_ok("(community-id 1:AAAA==)");
    CHECK_STR(pdx_query_param(q, 0)->text, "1:AAAA==");
    pdx_query_free(q);
    q = parse_ok("community-id 1:AAAA==||community-id 1:B/+b&&!tcp");
    CHECK_STR(pdx_query_param(q, 0)->text, "1:AAAA==");
    CHECK_STR(pdx_query_param(q, 1)->text, "1:B/+b");
    CHECK_EQ(pdx_query_nparams(q), 3);
    pdx_query_free(q);
}

/* ---- parser: operators ---------------------------------------------- */

static void test_precedence(void)
{
    /* and binds tighter than or; not tighter than and. */
    expect_sql("tcp or udp and icmp", "((proto = ?) OR ((proto = ?) AND (proto = ?)))", 3);
    expect_sql("tcp and udp or icmp", "(((proto = ?) AND (proto = ?)) OR (proto = ?))", 3);
    expect_sql("(tcp or udp) and icmp", "(((proto = ?) OR (proto = ?)) AND (proto = ?))", 3);
    expect_sql("not tcp and udp", "(((proto = ?) IS NOT TRUE) AND (proto = ?))", 2);
    expect_sql("not (tcp and udp)", "(((proto = ?) AND (proto = ?)) IS NOT TRUE)", 2);
    expect_sql("! tcp || udp && icmp",
               "(((proto = ?) IS NOT TRUE) OR ((proto = ?) AND (proto = ?)))", 3);
    expect_sql("!tcp", "((proto = ?) IS NOT TRUE)", 1);
    /* Juxtaposition is and, at and's precedence. */
    expect_sql("tcp port 80",
               "((proto = ?) AND (proto IN (6,17,132) AND (src_port = ? OR dst_port = ?)))", 3);
    expect_sql("tcp udp or icmp", "(((proto = ?) AND (proto = ?)) OR (proto = ?))", 3);
    expect_sql("icmp or tcp not udp",
               "((proto = ?) OR ((proto = ?) AND ((proto = ?) IS NOT TRUE)))", 3);
    /* Chains stay flat, redundant parentheses vanish, not not cancels. */
    expect_sql("tcp and udp and icmp and sctp",
               "((proto = ?) AND (proto = ?) AND (proto = ?) AND (proto = ?))", 4);
    expect_sql("tcp and (udp and (icmp and sctp))",
               "((proto = ?) AND (proto = ?) AND (proto = ?) AND (proto = ?))", 4);
    expect_sql("(tcp or udp) or (icmp or sctp)",
               "((proto = ?) OR (proto = ?) OR (proto = ?) OR (proto = ?))", 4);
    expect_sql("((((tcp))))", "(proto = ?)", 1);
    expect_sql("not not tcp", "(proto = ?)", 1);
    expect_sql("not not not tcp", "((proto = ?) IS NOT TRUE)", 1);
    expect_sql("tcp&&udp||icmp", "(((proto = ?) AND (proto = ?)) OR (proto = ?))", 3);
    expect_sql("(tcp)(udp)", "((proto = ?) AND (proto = ?))", 2);
    /* "src or dst" and "src and dst" are qualifiers, not operators. */
    expect_sql("src or dst port 53 or icmp",
               "((proto IN (6,17,132) AND (src_port = ? OR dst_port = ?)) OR (proto = ?))", 3);
    expect_sql("src 1.2.3.4 or dst 5.6.7.8", "((src_ip = ?) OR (dst_ip = ?))", 2);
    expect_sql("src 1.2.3.4 and dst port 5",
               "((src_ip = ?) AND (proto IN (6,17,132) AND dst_port = ?))", 2);
}

/* ---- parser: errors ------------------------------------------------- */

static void test_error_positions(void)
{
    expect_err("host", 4, "expected an address after 'host'");
    expect_err("host 1.2.3.4 and", 16, "ends early");
    expect_err("host 1.2.3.4 or", 15, "ends early");
    expect_err("(host 1.2.3.4", 13, "expected ')' to close the '(' at 0");
    expect_err("tcp and (udp or (icmp)", 22, "'(' at 8");
    expect_err("host 1.2.3.4)", 12, "unbalanced ')'");
    expect_err("host 1.2.3", 5, "bad address '1.2.3'");
    expect_err("host 1.2.3.256", 5, "bad address");
    expect_err("host ::1/64", 5, "use net '::1/64'");
    expect_err("host example.com", 5, "bad address");
    expect_err("net 10.0.0.0/33", 4, "bad prefix");
    expect_err("net", 3, "expected an address after 'net'");
    expect_err("port 99999", 5, "bad port '99999'");
    expect_err("port http", 5, "bad port 'http'");
    expect_err("port 1-5", 5, "bad port");
    expect_err("portrange 10-5", 10, "above the second");
    expect_err("portrange 10", 10, "bad port range");
    expect_err("portrange 1-70000", 10, "bad port range");
    expect_err("tcp and foo", 8, "unknown term 'foo'");
    expect_err("  nonsense", 2, "unknown term");
    expect_err("host 1.2.3.4 & port 5", 13, "'&' is not an operator: use '&&' or 'and'");
    expect_err("tcp | udp", 4, "'|' is not an operator: use '||' or 'or'");
    expect_err("src and host 1.2.3.4", 4, "after 'src', found 'and'");
    expect_err("src", 3, "after 'src', found the end");
    expect_err("dst foo", 4, "after 'dst', found 'foo'");
    expect_err("src or dst", 10, "after 'src or dst'");
    expect_err("bytes > 10x", 8, "bad number '10x'");
    expect_err("bytes > -5", 8, "bad number");
    expect_err("packets > 1.5", 10, "bad number");
    expect_err("packets = ", 10, "expected a number after 'packets'");
    expect_err("packets > > 5", 10, "expected a number");
    expect_err("bytes > 99999999999G", 8, "bad number");
    expect_err("duration >= 5 parsecs", 14, "unknown term 'parsecs'");
    expect_err("duration > 5x", 11, "bad duration '5x'");
    expect_err("duration > -1s", 11, "bad duration");
    expect_err("not", 3, "ends early");
    expect_err("not not", 7, "ends early");
    expect_err("()", 1, "expected a term, found ')'");
    expect_err("(", 1, "ends early");
    expect_err(")", 0, "expected a term");
    expect_err("vlan 5000", 5, "bad VLAN ID");
    expect_err("vlan 10x", 5, "bad VLAN ID");
    expect_err("proto foo", 6, "bad protocol 'foo'");
    expect_err("proto 256", 6, "bad protocol");
    expect_err("proto", 5, "expected a protocol");
    expect_err("community-id nope", 13, "bad community ID");
    expect_err("community-id", 12, "expected a community ID");
    expect_err("community-id 1:abc');DROP", 18, "unknown term");
    expect_err("community-id 1:abc=x", 13, "bad community ID");
    expect_err("community-id 1:abc===", 13, "bad community ID");
    expect_err("community-id :abc", 13, "bad community ID");
    expect_err("community-id 1:", 13, "bad community ID");
    expect_err("community-id 'x'", 13, "expected a community ID");
    expect_err("community-id )", 13, "found ')'");
    expect_err("id 9-1", 3, "above the second");
    expect_err("id x", 3, "bad flow id");
    expect_err("id 9223372036854775808", 3, "bad flow id");
    expect_err("tcp or or udp", 7, "expected a term, found 'or'");
    expect_err("tcp and and udp", 8, "expected a term, found 'and'");
    expect_err("port 53 =", 8, "unexpected '='");
    expect_err("> 5", 0, "expected a term, found '>'");
    expect_err("tcp\x01", 0, "unknown term 'tcp?'");
    expect_err("tcp \xff\xfe", 4, "unknown term '?\?'");
    expect_err("10", 0, "unknown term '10'");
    expect_err("1.2.3", 0, "bad address");

    /* NULL errbuf and err_pos are fine; NULL out is refused. */
    pdx_query *q = NULL;
    CHECK_EQ(pdx_qparse("foo", &q, NULL, NULL), PDX_EUSAGE);
    CHECK(q == NULL);
    CHECK_EQ(pdx_qparse("tcp", NULL, NULL, NULL), PDX_EUSAGE);
    CHECK_EQ(pdx_qparse(NULL, &q, NULL, NULL), PDX_OK);
    CHECK_STR(pdx_query_sql(q), "1");
    pdx_query_free(q);
    pdx_query_free(NULL);
}

/* ---- parser: hostile input ------------------------------------------ */

/* The SQL is made of our own words only: no quote, no statement break, no
 * comment, and only characters from a small set. */
static void check_sql_clean(const pdx_query *q, const char *e)
{
    const char *sql = pdx_query_sql(q);
    size_t marks = 0;
    for (const char *c = sql; *c; c++) {
        if (*c == '?')
            marks++;
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789 ()?=<>!,+-",
                   *c) == NULL)
            PDX_FAIL_("'%.60s': SQL has '%c': %s", e, *c, sql);
    }
    if (strstr(sql, "--") != NULL)
        PDX_FAIL_("'%.60s': SQL has a comment: %s", e, sql);
    if (marks != pdx_query_nparams(q))
        PDX_FAIL_("'%.60s': %zu placeholders, %zu params", e, marks, pdx_query_nparams(q));
}

static void test_hostile(void)
{
    static const char *const inj[] = {
        "host 1.2.3.4'; DROP TABLE flows; --",
        "host '1.2.3.4'",
        "host \"1.2.3.4\"",
        "1 OR 1=1",
        "tcp) OR (1=1",
        "port 53 OR 1=1 --",
        "id 1; DELETE FROM flows",
        "community-id 1:x'||'",
        "community-id 1:abc/*",
        "proto tcp/**/",
        "bytes > 1;",
        "src_ip = x'00'",
        "duration > 1s--",
        "vlan 1 union select 1",
    };
    for (size_t i = 0; i < PDX_ARRAY_LEN(inj); i++) {
        pdx_query *q = NULL;
        char err[PDX_ERRBUF_SIZE];
        size_t pos = 0;
        int rc = pdx_qparse(inj[i], &q, err, &pos);
        if (rc == PDX_OK) {
            check_sql_clean(q, inj[i]);
            pdx_query_free(q);
        } else {
            CHECK_EQ(rc, PDX_EUSAGE);
            CHECK(pos <= strlen(inj[i]));
        }
    }
    /* A community ID is the only raw value; it is a parameter, whatever
     * it holds. */
    pdx_query *q = parse_ok("community-id 1:DROP/TABLE+flows==");
    check_sql_clean(q, "cid");
    CHECK(strstr(pdx_query_sql(q), "DROP") == NULL);
    pdx_query_free(q);
}

static void test_hostile_sizes(void)
{
    size_t n = 1 << 20;
    char *s = malloc(n + 64);
    CHECK(s != NULL);
    char err[PDX_ERRBUF_SIZE];
    size_t pos;
    pdx_query *q = NULL;

    /* A megabyte-long word: error at 0, message cut short. */
    memset(s, 'a', n);
    s[n] = '\0';
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    CHECK_EQ(pos, 0);
    CHECK(strlen(err) < 300);
    /* A megabyte-long address-shaped word. */
    memset(s, ':', n);
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    /* A megabyte of blanks is the empty filter. */
    memset(s, ' ', n);
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_OK);
    CHECK_STR(pdx_query_sql(q), "1");
    pdx_query_free(q);
    /* A long host value. */
    memcpy(s, "host ", 5);
    memset(s + 5, '1', n - 5);
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    CHECK_EQ(pos, 5);

    /* Deep nesting: parentheses, then negations, past the parser's cap. */
    size_t o = 0;
    for (int i = 0; i < 100000; i++)
        s[o++] = '(';
    s[o] = '\0';
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    CHECK_EQ(pos, PDX_QUERY_MAX_NEST);
    CHECK(strstr(err, "nests deeper") != NULL);
    o = 0;
    for (int i = 0; i < 100000; i++)
        s[o++] = '!';
    memcpy(s + o, "tcp", 4);
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    CHECK_EQ(pos, PDX_QUERY_MAX_NEST);
    o = 0;
    for (int i = 0; i < 10000; i++)
        o += (size_t)sprintf(s + o, "not ");
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    CHECK_EQ(pos, 4 * PDX_QUERY_MAX_NEST);

    /* Within the nesting cap, redundant parentheses and not pairs cost
     * nothing. */
    o = 0;
    for (int i = 0; i < PDX_QUERY_MAX_NEST; i++)
        s[o++] = '(';
    o += (size_t)sprintf(s + o, "tcp");
    for (int i = 0; i < PDX_QUERY_MAX_NEST; i++)
        s[o++] = ')';
    s[o] = '\0';
    q = parse_ok(s);
    CHECK_STR(pdx_query_sql(q), "(proto = ?)");
    pdx_query_free(q);
    o = 0;
    for (int i = 0; i < PDX_QUERY_MAX_NEST; i++)
        s[o++] = '!';
    sprintf(s + o, "tcp");
    q = parse_ok(s);
    CHECK_STR(pdx_query_sql(q), "(proto = ?)");
    pdx_query_free(q);

    /* Alternating and/or nesting past what SQLite can take is refused. */
    o = 0;
    for (int i = 0; i < PDX_QUERY_MAX_DEPTH + 5; i++)
        o += (size_t)sprintf(s + o, "tcp %s (", i % 2 ? "or" : "and");
    o += (size_t)sprintf(s + o, "udp");
    for (int i = 0; i < PDX_QUERY_MAX_DEPTH + 5; i++)
        s[o++] = ')';
    s[o] = '\0';
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    CHECK(strstr(err, "levels deep") != NULL);
    CHECK(pos > 0 && pos < o);
    CHECK_EQ(s[pos - 1], '(');

    /* Too many terms. */
    o = 0;
    for (int i = 0; i < PDX_QUERY_MAX_TERMS; i++)
        o += (size_t)sprintf(s + o, "port %d or ", i);
    size_t last = o;
    o += (size_t)sprintf(s + o, "tcp");
    CHECK_EQ(pdx_qparse(s, &q, err, &pos), PDX_EUSAGE);
    CHECK_EQ(pos, last);
    CHECK(strstr(err, "terms") != NULL);
    s[last - 4] = '\0'; /* exactly the limit */
    q = parse_ok(s);
    CHECK_EQ(pdx_query_nparams(q), 2 * PDX_QUERY_MAX_TERMS);
    check_sql_clean(q, "many terms");
    pdx_query_free(q);
    free(s);
}

static void test_garbage(void)
{
    static const char *const words[] = {
        "host", "src", "dst", "net", "port", "portrange", "proto", "tcp", "udp", "icmp",
        "ip", "ip6", "arp", "ether", "vlan", "packets", "bytes", "duration", "community-id", "id", "and",
        "or", "not", "(", ")", "!", "&&", "||", "&", "|", ">", ">=", "<", "=", "!=", "1.2.3.4",
        "::1", "10/8", "53", "1-5", "1:AAAA=", "10k", "1.5m", "'", "\"", ";", "--", "\\",
        "\x01", "\xff", "\t", "SELECT", "%s", "%n",
    };
    char s[512];
    for (int i = 0; i < 30000; i++) {
        size_t o = 0;
        if (i % 2 == 0) {
            int n = (int)(rnd() % 12);
            for (int k = 0; k < n; k++) {
                const char *w = words[rnd() % PDX_ARRAY_LEN(words)];
                size_t wl = strlen(w);
                if (o + wl + 2 >= sizeof(s))
                    break;
                memcpy(s + o, w, wl);
                o += wl;
                if (rnd() % 4 != 0)
                    s[o++] = ' ';
            }
        } else {
            size_t n = rnd() % 64;
            for (size_t k = 0; k < n; k++) {
                char c = (char)(rnd() % 255 + 1); /* NUL-free */
                s[o++] = c;
            }
        }
        s[o] = '\0';
        pdx_query *q = NULL;
        char err[PDX_ERRBUF_SIZE];
        size_t pos = 99999;
        int rc = pdx_qparse(s, &q, err, &pos);
        if (rc == PDX_OK) {
            check_sql_clean(q, s);
            pdx_query_free(q);
        } else {
            CHECK_EQ(rc, PDX_EUSAGE);
            CHECK(pos <= o);
            for (const char *c = err; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                    PDX_FAIL_("message for '%s' has byte %02x", s, (unsigned char)*c);
        }
        CHECK_EQ(pdx_qparse_fuzz_one((const uint8_t *)s, o), 0);
    }
    /* Embedded NUL: the fuzz entry stops there. */
    CHECK_EQ(pdx_qparse_fuzz_one((const uint8_t *)"tcp\0garbage", 11), 0);
    CHECK_EQ(pdx_qparse_fuzz_one(NULL, 0), 0);
}

/* ---- binding ---------------------------------------------------------- */

static void test_bind(void)
{
    sqlite3 *db = NULL;
    CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db,
                          "CREATE TABLE flows (src_ip, dst_ip, proto, src_port, dst_port,"
                          " community_id)",
                          NULL, NULL, NULL),
             SQLITE_OK);
    pdx_query *q = parse_ok("src net 10/8 and port 53 and community-id 1:AAAA=");
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT ? FROM flows WHERE %s", pdx_query_sql(q));
    sqlite3_stmt *st = NULL;
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_bind_parameter_count(st), 1 + (int)pdx_query_nparams(q));
    CHECK_EQ(pdx_query_bind(q, st, 2), 2 + (int)pdx_query_nparams(q));
    CHECK_EQ(pdx_query_bind(q, st, 0), PDX_EUSAGE);
    CHECK_EQ(pdx_query_bind(q, NULL, 1), PDX_EUSAGE);
    CHECK_EQ(pdx_query_bind(NULL, st, 1), PDX_EUSAGE);
    CHECK_EQ(pdx_query_bind(q, st, 3), PDX_EDB); /* runs past the last placeholder */
    sqlite3_finalize(st);

    /* Values survive the query: SQLite copies them. */
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT typeof(?1), length(?1), ?3", -1, &st, NULL),
             SQLITE_OK);
    pdx_query *q2 = parse_ok("src host ::1 or id 1-2");
    CHECK_EQ(pdx_query_bind(q2, st, 1), 4);
    pdx_query_free(q2);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "blob");
    CHECK_EQ(sqlite3_column_int(st, 1), 16);
    CHECK_EQ(sqlite3_column_int(st, 2), 2);
    sqlite3_finalize(st);

    pdx_query *e = parse_ok("");
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT 1 WHERE 1", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ(pdx_query_bind(e, st, 1), 1);
    sqlite3_finalize(st);
    pdx_query_free(e);
    pdx_query_free(q);
    sqlite3_close(db);
}

/* ---- end to end ------------------------------------------------------- */

#define NROWS 240

static const char *const cids[] = {
    "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
    "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
    "1:3V71V58M3Ka7IHtzT8cJsVp3Tmg=",
    "1:9IvtJE1BoY/C0PK5/x+5YqSKOJs=",
};

static const char *const v4pool[] = {
    "10.0.0.1",     "10.0.0.2",       "10.1.2.3",   "10.255.255.255", "192.168.1.10",
    "192.168.1.200", "8.8.8.8",       "172.16.5.4", "0.0.0.0",        "255.255.255.255",
    "9.255.255.255", "11.0.0.0",
};

static const char *const v6pool[] = {
    "::1",      "2001:db8::1",  "2001:db8::2", "2001:db8:1::5", "fe80::1",
    "ff02::fb", "2001:db9::1", "::",          "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
    "::ffff:10.0.0.1", /* a mapped address inside an IPv6 packet */
};

static void random_row(pdx_flowrow *r, int64_t id)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    int kind = (int)(rnd() % 10);
    r->vlan = r->vlan_inner = -1;
    r->src_port = r->dst_port = -1;
    if (kind == 0) {
        r->proto = -1;
        r->ethertype = 0x0806;
    } else {
        int v6 = kind >= 7;
        r->ethertype = v6 ? 0x86dd : 0x0800;
        r->has_ip = 1;
        const char *const *pool = v6 ? v6pool : v4pool;
        size_t np = v6 ? PDX_ARRAY_LEN(v6pool) : PDX_ARRAY_LEN(v4pool);
        CHECK_EQ(pdx_addr_parse(pool[rnd() % np], r->src_ip), PDX_OK);
        CHECK_EQ(pdx_addr_parse(pool[rnd() % np], r->dst_ip), PDX_OK);
        static const int protos[] = {6, 6, 6, 17, 17, 1, 58, 132, 47};
        r->proto = protos[rnd() % PDX_ARRAY_LEN(protos)];
        if (v6 && r->proto == 1)
            r->proto = 58;
        if (!v6 && r->proto == 58)
            r->proto = 1;
        static const int ports[] = {53, 80, 443, 22, 1024, 5353, 65535, 0, 1023, 8080};
        if (r->proto == 6 || r->proto == 17 || r->proto == 132) {
            r->src_port = rnd() % 3 == 0 ? (int32_t)(1024 + rnd() % 64512)
                                         : ports[rnd() % PDX_ARRAY_LEN(ports)];
            r->dst_port = ports[rnd() % PDX_ARRAY_LEN(ports)];
        } else if (r->proto == 1 || r->proto == 58) {
            static const int types[] = {0, 8, 3, 53, 80, 128, 129};
            r->src_port = types[rnd() % PDX_ARRAY_LEN(types)]; /* ICMP type */
            r->dst_port = (int32_t)(rnd() % 4);                 /* code */
        }
        r->community_id = cids[rnd() % PDX_ARRAY_LEN(cids)];
    }
    if (rnd() % 10 < 3) {
        static const int vlans[] = {10, 20, 100, 4095, 0};
        r->vlan = vlans[rnd() % PDX_ARRAY_LEN(vlans)];
        if (rnd() % 3 == 0)
            r->vlan_inner = rnd() % 2 ? 10 : 30;
    }
    r->first_ns = INT64_C(1714572000) * NS + (int64_t)(rnd() % (1000 * (uint64_t)NS));
    static const int64_t durs[] = {0, 1, 500000000, 1000000000, 10000000000, 90000000000,
                                   3600000000000};
    r->last_ns = r->first_ns + (rnd() % 2 ? durs[rnd() % PDX_ARRAY_LEN(durs)]
                                          : (int64_t)(rnd() % (200 * (uint64_t)NS)));
    r->src_packets = 1 + (int64_t)(rnd() % 3000);
    r->dst_packets = (int64_t)(rnd() % 3000);
    r->src_bytes = r->src_packets * (60 + (int64_t)(rnd() % 1400));
    r->dst_bytes = r->dst_packets * (60 + (int64_t)(rnd() % 1400));
    if (rnd() % 8 == 0) {
        r->src_packets = 5;
        r->dst_packets = 5; /* exactly 10, for = and != */
        r->src_bytes = 500;
        r->dst_bytes = 500;
    }
}

/* The real schema from the source tree when the test runs there; else a
 * copy of the flows table and its indexes. */
static char *load_schema(void)
{
    static const char *const paths[] = {"schema/001_init.sql", "../schema/001_init.sql",
                                        "../../schema/001_init.sql"};
    for (size_t i = 0; i < PDX_ARRAY_LEN(paths); i++) {
        FILE *f = fopen(paths[i], "rb");
        if (f == NULL)
            continue;
        char *buf = malloc(1 << 20);
        CHECK(buf != NULL);
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return buf;
    }
    static const char inline_schema[] =
        "CREATE TABLE flows (id INTEGER PRIMARY KEY, proto INTEGER, ethertype INTEGER NOT NULL,"
        " linktype INTEGER NOT NULL, src_ip BLOB, dst_ip BLOB, src_port INTEGER, dst_port INTEGER,"
        " icmp_id INTEGER, src_mac BLOB, dst_mac BLOB, vlan INTEGER, vlan_inner INTEGER,"
        " tunnel TEXT, tunnel_src BLOB, tunnel_dst BLOB, vni INTEGER,"
        " first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL, src_packets INTEGER NOT NULL,"
        " src_bytes INTEGER NOT NULL, dst_packets INTEGER NOT NULL, dst_bytes INTEGER NOT NULL,"
        " tcp_flags INTEGER NOT NULL, end_reason TEXT NOT NULL, community_id TEXT,"
        " first_capture INTEGER NOT NULL, last_capture INTEGER NOT NULL);"
        "CREATE INDEX flows_first ON flows(first_ns);"
        "CREATE INDEX flows_last ON flows(last_ns);"
        "CREATE INDEX flows_src ON flows(src_ip, first_ns);"
        "CREATE INDEX flows_dst ON flows(dst_ip, first_ns);"
        "CREATE INDEX flows_sport ON flows(src_port, first_ns);"
        "CREATE INDEX flows_dport ON flows(dst_port, first_ns);"
        "CREATE INDEX flows_cid ON flows(community_id);";
    char *buf = malloc(sizeof(inline_schema));
    CHECK(buf != NULL);
    memcpy(buf, inline_schema, sizeof(inline_schema));
    return buf;
}

static sqlite3 *make_db(pdx_flowrow *rows, size_t n)
{
    sqlite3 *db = NULL;
    CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    char *schema = load_schema();
    char *err = NULL;
    if (sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK)
        PDX_FAIL_("schema: %s", err);
    free(schema);
    /* Columns this test does not know about (the schema grows) get 0 when
     * they are NOT NULL without a default. */
    static const char *const known[] = {
        "id",         "proto",       "ethertype", "src_ip",    "dst_ip",    "src_port",
        "dst_port",   "vlan",        "vlan_inner", "first_ns", "last_ns",   "src_packets",
        "src_bytes",  "dst_packets", "dst_bytes", "community_id",
    };
    char extra_cols[1024] = "", extra_vals[512] = "";
    sqlite3_stmt *st = NULL;
    CHECK_EQ(sqlite3_prepare_v2(db, "PRAGMA table_info(flows)", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        int is_known = 0;
        for (size_t k = 0; k < PDX_ARRAY_LEN(known); k++)
            is_known |= strcmp(name, known[k]) == 0;
        if (is_known)
            continue;
        if (sqlite3_column_int(st, 3) == 0 || sqlite3_column_type(st, 4) != SQLITE_NULL)
            continue;
        CHECK(strlen(extra_cols) + strlen(name) + 3 < sizeof(extra_cols));
        CHECK(strlen(extra_vals) + 4 < sizeof(extra_vals));
        strcat(extra_cols, ", ");
        strcat(extra_cols, name);
        strcat(extra_vals, ", 0");
    }
    sqlite3_finalize(st);
    char ins[2048];
    snprintf(ins, sizeof(ins),
             "INSERT INTO flows (id, proto, ethertype, src_ip, dst_ip, src_port, dst_port, vlan,"
             " vlan_inner, first_ns, last_ns, src_packets, src_bytes, dst_packets, dst_bytes,"
             " community_id%s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?%s)",
             extra_cols, extra_vals);
    if (sqlite3_prepare_v2(db, ins, -1, &st, NULL) != SQLITE_OK)
        PDX_FAIL_("%s: %s", ins, sqlite3_errmsg(db));
    for (size_t i = 0; i < n; i++) {
        const pdx_flowrow *r = &rows[i];
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        sqlite3_bind_int64(st, 1, r->id);
        if (r->proto >= 0)
            sqlite3_bind_int(st, 2, r->proto);
        sqlite3_bind_int(st, 3, r->ethertype);
        if (r->has_ip) {
            sqlite3_bind_blob(st, 4, r->src_ip, 16, SQLITE_STATIC);
            sqlite3_bind_blob(st, 5, r->dst_ip, 16, SQLITE_STATIC);
        }
        if (r->src_port >= 0)
            sqlite3_bind_int(st, 6, r->src_port);
        if (r->dst_port >= 0)
            sqlite3_bind_int(st, 7, r->dst_port);
        if (r->vlan >= 0)
            sqlite3_bind_int(st, 8, r->vlan);
        if (r->vlan_inner >= 0)
            sqlite3_bind_int(st, 9, r->vlan_inner);
        sqlite3_bind_int64(st, 10, r->first_ns);
        sqlite3_bind_int64(st, 11, r->last_ns);
        sqlite3_bind_int64(st, 12, r->src_packets);
        sqlite3_bind_int64(st, 13, r->src_bytes);
        sqlite3_bind_int64(st, 14, r->dst_packets);
        sqlite3_bind_int64(st, 15, r->dst_bytes);
        if (r->community_id != NULL)
            sqlite3_bind_text(st, 16, r->community_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            PDX_FAIL_("insert: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return db;
}

/* Runs e through SQL and through pdx_query_match; fails on any difference.
 * Returns how many rows matched. */
static size_t compare(sqlite3 *db, const pdx_flowrow *rows, size_t n, const char *e)
{
    pdx_query *q = parse_ok(e);
    check_sql_clean(q, e);
    char *sql = malloc(strlen(pdx_query_sql(q)) + 200);
    CHECK(sql != NULL);
    /* The fragment inside a WHERE of the kind the query tool writes. */
    sprintf(sql,
            "SELECT id FROM flows WHERE first_ns <= ? AND last_ns >= ? AND %s "
            "ORDER BY id",
            pdx_query_sql(q));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        PDX_FAIL_("'%s': prepare: %s\n  %s", e, sqlite3_errmsg(db), sql);
    sqlite3_bind_int64(st, 1, INT64_MAX);
    sqlite3_bind_int64(st, 2, INT64_MIN);
    CHECK_EQ(pdx_query_bind(q, st, 3), 3 + (int)pdx_query_nparams(q));
    char *hit = calloc(n + 1, 1);
    CHECK(hit != NULL);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        CHECK(id >= 1 && (size_t)id <= n);
        hit[id] = 1;
    }
    CHECK_EQ(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    size_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        int want = pdx_query_match(q, &rows[i]);
        if (want != hit[rows[i].id]) {
            char a[PDX_ADDR_STRLEN] = "-", b[PDX_ADDR_STRLEN] = "-";
            if (rows[i].has_ip) {
                pdx_addr_format(rows[i].src_ip, a, sizeof(a));
                pdx_addr_format(rows[i].dst_ip, b, sizeof(b));
            }
            PDX_FAIL_("'%s': row %lld (proto %d %s:%d > %s:%d vlan %d/%d) SQL %d, C %d\n  %s", e,
                      (long long)rows[i].id, rows[i].proto, a, rows[i].src_port, b,
                      rows[i].dst_port, rows[i].vlan, rows[i].vlan_inner, hit[rows[i].id], want,
                      sql);
        }
        matched += (size_t)want;
    }
    free(hit);
    free(sql);
    pdx_query_free(q);
    return matched;
}

static const char *const e2e_exprs[] = {
    "",
    "host 10.0.0.1",
    "src host 10.0.0.1",
    "dst host 10.0.0.1",
    "src and dst host 10.0.0.1",
    "host ::ffff:10.0.0.1",
    "host ::1",
    "host 2001:db8::1",
    "src 192.168.1.10",
    "dst 2001:db8::2",
    "net 10/8",
    "net 10.0.0.0/8",
    "src net 10.0.0.0/8",
    "dst net 192.168.1.0/24",
    "net 0.0.0.0/0",
    "net ::/0",
    "net 2001:db8::/32",
    "src net 2001:db8::/48",
    "net 2001:db8::/127",
    "net 255.255.255.255/32",
    "net 0.0.0.0/32",
    "net 128.0.0.0/1",
    "10.0.0.0/8",
    "not net 10/8",
    "not host 8.8.8.8",
    "port 53",
    "src port 53",
    "dst port 53",
    "src and dst port 53",
    "not port 53",
    "port 0",
    "port 65535",
    "portrange 1-1023",
    "src portrange 1024-65535",
    "dst portrange 0-0",
    "proto tcp",
    "proto 47",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "proto gre",
    "ip",
    "ip6",
    "not ip and not ip6",
    "arp",
    "not arp",
    "ether proto 0x0806 or ether proto ip6",
    "vlan",
    "vlan 10",
    "vlan 30",
    "vlan 0",
    "not vlan",
    "not vlan 10",
    "packets > 2000",
    "packets >= 10",
    "packets = 10",
    "packets != 10",
    "packets < 100",
    "packets <= 1k",
    "bytes > 1M",
    "bytes >= 1.5M",
    "bytes < 10K",
    "bytes = 1000",
    "duration > 10s",
    "duration >= 10s",
    "duration = 0",
    "duration < 1ms",
    "duration <= 1.5m",
    "duration > 1h",
    "duration != 1s",
    "community-id 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
    "not community-id 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=",
    "id 7",
    "id 10-50",
    "not id 1-100",
    "tcp port 80",
    "udp port 53 or icmp",
    "tcp and not port 22",
    "host 10.0.0.1 and (port 53 or port 80)",
    "(host 10.0.0.1 or host 10.0.0.2) and not tcp",
    "src net 10/8 and dst net 192.168/16",
    "src or dst net 192.168.1.0/24",
    "ip and not net 10/8 and packets > 100",
    "ip6 or vlan 100",
    "not (tcp or udp)",
    "not tcp or not udp",
    "!(vlan 10 && port 443) || ip6",
    "host 10.0.0.1 or host ::1 and port 53 or not vlan",
    "(tcp or udp) (port 53 or port 443) not vlan",
    "not not (ip and tcp)",
    "not (not ip or not tcp)",
    "portrange 1-1024 and not src port 53 and bytes > 100k",
    "duration > 0 and duration < 100s and packets > 10",
};

static void test_e2e(void)
{
    pdx_flowrow *rows = calloc(NROWS, sizeof(*rows));
    CHECK(rows != NULL);
    for (size_t i = 0; i < NROWS; i++)
        random_row(&rows[i], (int64_t)i + 1);
    /* A row that tells ports from ICMP types: ICMP type 53. */
    rows[0].proto = 1;
    rows[0].ethertype = 0x0800;
    rows[0].has_ip = 1;
    CHECK_EQ(pdx_addr_parse("10.9.9.9", rows[0].src_ip), PDX_OK);
    CHECK_EQ(pdx_addr_parse("10.9.9.8", rows[0].dst_ip), PDX_OK);
    rows[0].src_port = 53;
    rows[0].dst_port = 53;
    sqlite3 *db = make_db(rows, NROWS);

    size_t interesting = 0;
    for (size_t i = 0; i < PDX_ARRAY_LEN(e2e_exprs); i++) {
        size_t m = compare(db, rows, NROWS, e2e_exprs[i]);
        interesting += m > 0 && m < NROWS;
    }
    /* Nearly every expression selects some rows but not all. */
    CHECK(interesting + 12 >= PDX_ARRAY_LEN(e2e_exprs));

    /* Specific rows, so that the brute force is not the only judge. */
    CHECK_EQ(compare(db, rows, NROWS, "host 10.9.9.9"), 1);
    CHECK_EQ(compare(db, rows, NROWS, "host 10.9.9.9 and port 53"), 0);
    CHECK_EQ(compare(db, rows, NROWS, "host 10.9.9.9 and icmp"), 1);
    CHECK_EQ(compare(db, rows, NROWS, "id 1"), 1);
    CHECK_EQ(compare(db, rows, NROWS, "id 1-240"), NROWS);
    CHECK_EQ(compare(db, rows, NROWS, "tcp or not tcp"), NROWS);
    CHECK_EQ(compare(db, rows, NROWS, "host ::1 and not host ::1"), 0);
    /* not is two-valued: non-IP flows are "not host X". */
    size_t nonip = 0;
    for (size_t i = 0; i < NROWS; i++)
        nonip += !rows[i].has_ip;
    CHECK(nonip > 0);
    CHECK_EQ(compare(db, rows, NROWS, "not net ::/0"), nonip);
    CHECK_EQ(compare(db, rows, NROWS, "not net ::/0 and not portrange 0-65535 or ip"),
             compare(db, rows, NROWS, "not net ::/0 or ip"));
    CHECK_EQ(compare(db, rows, NROWS, "host 10.0.0.1") + compare(db, rows, NROWS, "not host 10.0.0.1"),
             NROWS);
    CHECK_EQ(compare(db, rows, NROWS, "ip") + compare(db, rows, NROWS, "ip6") + nonip, NROWS);

    /* Random expressions from the grammar. */
    static const char *const terms[] = {
        "host 10.0.0.1", "src host 8.8.8.8", "dst host ::1", "net 10/8", "src net 2001:db8::/32",
        "dst net 192.168.1.0/24", "port 53", "src port 443", "dst port 80", "portrange 1-1024",
        "tcp", "udp", "icmp", "icmp6", "ip", "ip6", "arp", "vlan", "vlan 10", "packets > 1000",
        "bytes < 100k", "duration > 10s", "id 10-120", "community-id 1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        "src or dst port 22", "src and dst net 10/8", "proto 47", "10.1.2.3", "sctp",
    };
    static const char *const ands[] = {" and ", " && ", " ", "&&"};
    static const char *const ors[] = {" or ", " || ", "||"};
    for (int i = 0; i < 1500; i++) {
        char e[2048];
        size_t o = 0;
        int open = 0, nterms = 1 + (int)(rnd() % 7);
        for (int k = 0; k < nterms; k++) {
            if (k > 0) {
                const char *op = rnd() % 2 ? ands[rnd() % PDX_ARRAY_LEN(ands)]
                                           : ors[rnd() % PDX_ARRAY_LEN(ors)];
                o += (size_t)sprintf(e + o, "%s", op);
                if (open > 0 && rnd() % 3 == 0) {
                    /* close before the operator instead */
                }
            }
            while (rnd() % 4 == 0 && open < 4) {
                o += (size_t)sprintf(e + o, rnd() % 2 ? "(" : "not (");
                open++;
            }
            if (rnd() % 5 == 0)
                o += (size_t)sprintf(e + o, rnd() % 2 ? "not " : "!");
            o += (size_t)sprintf(e + o, "%s", terms[rnd() % PDX_ARRAY_LEN(terms)]);
            while (open > 0 && rnd() % 3 == 0) {
                e[o++] = ')';
                open--;
            }
        }
        while (open-- > 0)
            e[o++] = ')';
        e[o] = '\0';
        compare(db, rows, NROWS, e);
    }
    sqlite3_close(db);
    free(rows);
}

/* The planner uses the address, port and community-id indexes. */
static void test_e2e_indexes(void)
{
    pdx_flowrow rows[4];
    for (int i = 0; i < 4; i++)
        random_row(&rows[i], i + 1);
    sqlite3 *db = make_db(rows, 4);
    sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL);
    static const struct {
        const char *e;
        const char *idx1, *idx2;
    } cases[] = {
        {"src host 10.0.0.1", "flows_src", NULL},
        {"dst host 10.0.0.1", "flows_dst", NULL},
        {"host 10.0.0.1", "flows_src", "flows_dst"},
        {"src net 10/8", "flows_src", NULL},
        {"net 2001:db8::/32", "flows_src", "flows_dst"},
        {"dst port 443", "flows_dport", NULL},
        {"port 443", "flows_sport", "flows_dport"},
        {"community-id 1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "flows_cid", NULL},
        {"src host ::1 and tcp", "flows_src", NULL},
    };
    for (size_t i = 0; i < PDX_ARRAY_LEN(cases); i++) {
        pdx_query *q = parse_ok(cases[i].e);
        char sql[1024];
        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN SELECT id FROM flows WHERE %s",
                 pdx_query_sql(q));
        sqlite3_stmt *st = NULL;
        CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        CHECK(pdx_query_bind(q, st, 1) > 0);
        char plan[2048] = "";
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(st, 3);
            strncat(plan, d ? d : "", sizeof(plan) - strlen(plan) - 2);
            strcat(plan, ";");
        }
        sqlite3_finalize(st);
        if (strstr(plan, cases[i].idx1) == NULL ||
            (cases[i].idx2 != NULL && strstr(plan, cases[i].idx2) == NULL))
            PDX_FAIL_("'%s': plan does not use %s%s%s: %s", cases[i].e, cases[i].idx1,
                      cases[i].idx2 ? " and " : "", cases[i].idx2 ? cases[i].idx2 : "", plan);
        pdx_query_free(q);
    }
    sqlite3_close(db);
}

/* Prepares the fragment inside a heavier statement than the query tool's,
 * to show the limits leave room. */
static void prepare_wrapped(sqlite3 *db, const pdx_query *q)
{
    const char *frag = pdx_query_sql(q);
    char *sql = malloc(strlen(frag) + 512);
    CHECK(sql != NULL);
    sprintf(sql,
            "SELECT id FROM flows WHERE id IN (SELECT id FROM flows WHERE (first_ns <= ? AND "
            "(last_ns >= ? OR last_ns IS NULL)) AND (%s) AND id > ?) AND coalesce(vlan, 0) >= 0 "
            "ORDER BY first_ns, id LIMIT ? OFFSET ?",
            frag);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        PDX_FAIL_("prepare: %s (%zu bytes of SQL)", sqlite3_errmsg(db), strlen(sql));
    CHECK_EQ(pdx_query_bind(q, st, 3), 3 + (int)pdx_query_nparams(q));
    sqlite3_finalize(st);
    free(sql);
}

/* The deepest tree the parser accepts still prepares inside a WHERE. */
static void test_e2e_max_depth(void)
{
    pdx_flowrow row;
    random_row(&row, 1);
    sqlite3 *db = make_db(&row, 1);
    static const char *const shapes[][2] = {
        {"port 1 ", " ("}, {"not (port 1 ", " "}, {"port 1 ", " not ("}};
    for (size_t sh = 0; sh < PDX_ARRAY_LEN(shapes); sh++) {
        int accepted = 0;
        for (int d = 1; d < 3 * PDX_QUERY_MAX_DEPTH; d++) {
            char e[8192];
            size_t o = 0;
            for (int i = 0; i < d; i++)
                o += (size_t)sprintf(e + o, "%s%s%s", shapes[sh][0], i % 2 ? "or" : "and",
                                     shapes[sh][1]);
            o += (size_t)sprintf(e + o, "src and dst portrange 1-2");
            for (int i = 0; i < d; i++)
                e[o++] = ')';
            e[o] = '\0';
            pdx_query *q = NULL;
            char err[PDX_ERRBUF_SIZE];
            size_t pos;
            if (pdx_qparse(e, &q, err, &pos) != PDX_OK) {
                CHECK(strstr(err, "levels deep") != NULL);
                break;
            }
            accepted = d;
            compare(db, &row, 1, e);
            prepare_wrapped(db, q);
            pdx_query_free(q);
        }
        CHECK(accepted >= PDX_QUERY_MAX_DEPTH / 2 - 1);
    }

    /* The most terms, on a path as deep as allowed, the deepest kid first
     * in each chain: the tallest SQL expression tree the parser lets out. */
    size_t cap = 1 << 16, o = 0;
    char *e = malloc(cap);
    CHECK(e != NULL);
    int levels = PDX_QUERY_MAX_DEPTH - 1;
    int per = PDX_QUERY_MAX_TERMS / levels;
    for (int l = 0; l < levels; l++)
        e[o++] = '(';
    for (int l = 0; l < levels; l++) {
        int n = l == levels - 1 ? PDX_QUERY_MAX_TERMS - per * (levels - 1) : per;
        for (int k = 0; k < n; k++) {
            if (k > 0 || l > 0)
                o += (size_t)sprintf(e + o, " %s ", l % 2 ? "or" : "and");
            o += (size_t)sprintf(e + o, "src and dst portrange 1-2");
        }
        e[o++] = ')';
        CHECK(o + 1000 < cap);
    }
    e[o] = '\0';
    pdx_query *q = parse_ok(e);
    prepare_wrapped(db, q);
    pdx_query_free(q);
    compare(db, &row, 1, e);
    free(e);
    sqlite3_close(db);
}

const pdx_test pdx_suite_qparse[] = {
    {"addr_parse_v4", test_addr_parse_v4},
    {"addr_parse_v6", test_addr_parse_v6},
    {"addr_format", test_addr_format},
    {"addr_roundtrip_random", test_addr_roundtrip_random},
    {"addr_cidr", test_addr_cidr},
    {"time_rfc3339", test_time_rfc3339},
    {"time_leap_years", test_time_leap_years},
    {"time_epoch_relative", test_time_epoch_relative},
    {"duration", test_duration},
    {"time_format", test_time_format},
    {"terms_sql", test_terms_sql},
    {"term_params", test_term_params},
    {"precedence", test_precedence},
    {"error_positions", test_error_positions},
    {"hostile", test_hostile},
    {"hostile_sizes", test_hostile_sizes},
    {"garbage", test_garbage},
    {"bind", test_bind},
    {"e2e", test_e2e},
    {"e2e_indexes", test_e2e_indexes},
    {"e2e_max_depth", test_e2e_max_depth},
    PDX_TEST_END,
};
