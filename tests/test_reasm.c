/* test_reasm.c - payload reassembly: TCP streams, gaps, limits, concatenation. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "pdx.h"
#include "reasm.h"
#include "unit.h"

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10

/* Ethernet + IPv4 + TCP (or UDP/ICMP) headers, then the payload. */
#define L3 14
#define L4 34
#define TCP_DATA (L4 + 20)
#define UDP_DATA (L4 + 8)
#define MAXDATA 70000

static char tdir[64];
static uint8_t frame[TCP_DATA + MAXDATA];

static void cleanup(void)
{
    DIR *d = opendir(tdir);
    struct dirent *e;
    char p[512];
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", tdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tdir);
}

static void mktmp(void)
{
    strcpy(tdir, "/tmp/pdx_reasm_XXXXXX");
    CHECK(mkdtemp(tdir) != NULL);
    atexit(cleanup);
}

static pdx_reasm *open_flow(int64_t id, int proto)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_reasm *r = NULL;
    if (tdir[0] == '\0')
        mktmp();
    err[0] = '\0';
    CHECK_EQ(pdx_reasm_open(&r, tdir, id, proto, err), 0);
    CHECK(r != NULL);
    return r;
}

/*
 * Feeds a segment of TCP: its IP header declares `declared` payload bytes
 * (0: len), of which len are in the frame; the frame is cut there.
 */
static void tcp_cut(pdx_reasm *r, int dir, uint8_t flags, uint32_t seq, const void *data, size_t len,
                    size_t declared)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_pkt k;
    size_t tot;
    CHECK(len <= MAXDATA);
    if (declared == 0)
        declared = len;
    tot = 40 + declared;
    memset(frame, 0, TCP_DATA);
    frame[12] = 0x08;
    frame[L3] = 0x45;
    frame[L3 + 2] = (uint8_t)(tot >> 8);
    frame[L3 + 3] = (uint8_t)tot;
    frame[L3 + 9] = 6;
    frame[L4 + 12] = 0x50;
    frame[L4 + 13] = flags;
    if (len > 0)
        memcpy(frame + TCP_DATA, data, len);
    memset(&k, 0, sizeof(k));
    k.kind = PDX_KIND_IP4;
    k.proto = 6;
    k.flags = PDX_PKT_HAS_L4 | (declared > len ? PDX_PKT_TRUNCATED : 0);
    k.tcp_flags = flags;
    k.tcp_seq = seq;
    k.l3_off = L3;
    k.l4_off = L4;
    k.payload_off = TCP_DATA;
    k.payload_len = (uint32_t)len; /* the decoder clips to caplen */
    CHECK_EQ(pdx_reasm_packet(r, dir, &k, frame, TCP_DATA + len, 1000, err), 0);
}

static void tcp(pdx_reasm *r, int dir, uint8_t flags, uint32_t seq, const void *data, size_t len)
{
    tcp_cut(r, dir, flags, seq, data, len, 0);
}

/* UDP or ICMP (8-byte header) with payload; declared as in tcp_cut. */
static void dgram(pdx_reasm *r, int proto, int dir, const void *data, size_t len, size_t declared)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_pkt k;
    size_t tot;
    if (declared == 0)
        declared = len;
    tot = 28 + declared;
    memset(frame, 0, UDP_DATA);
    frame[L3] = 0x45;
    frame[L3 + 2] = (uint8_t)(tot >> 8);
    frame[L3 + 3] = (uint8_t)tot;
    frame[L3 + 9] = (uint8_t)proto;
    if (proto == 17) {
        frame[L4 + 4] = (uint8_t)((declared + 8) >> 8);
        frame[L4 + 5] = (uint8_t)(declared + 8);
    }
    memcpy(frame + UDP_DATA, data, len);
    memset(&k, 0, sizeof(k));
    k.kind = PDX_KIND_IP4;
    k.proto = (uint8_t)proto;
    k.flags = PDX_PKT_HAS_L4 | (declared > len ? PDX_PKT_TRUNCATED : 0);
    k.l3_off = L3;
    k.l4_off = L4;
    k.payload_off = UDP_DATA;
    k.payload_len = (uint32_t)len;
    CHECK_EQ(pdx_reasm_packet(r, dir, &k, frame, UDP_DATA + len, 2000, err), 0);
}

static uint8_t *slurp(int64_t id, const char *ext, size_t *len)
{
    char p[512];
    FILE *f;
    uint8_t *b;
    long n;
    snprintf(p, sizeof(p), "%s/%lld.%s", tdir, (long long)id, ext);
    f = fopen(p, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    n = ftell(f);
    CHECK(n >= 0);
    rewind(f);
    b = malloc((size_t)n + 1);
    CHECK(b != NULL);
    CHECK_EQ(fread(b, 1, (size_t)n, f), n);
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* The stream file of id/ext holds exactly the string want. */
static void check_file(int64_t id, const char *ext, const char *want)
{
    size_t n;
    uint8_t *b = slurp(id, ext, &n);
    if (n != strlen(want) || memcmp(b, want, n) != 0)
        PDX_FAIL_("%lld.%s: \"%s\" != \"%s\"", (long long)id, ext, (char *)b, want);
    free(b);
}

static const pdx_reasm_stats *st(const pdx_reasm *r, int dir)
{
    const pdx_reasm_stats *s = pdx_reasm_get_stats(r, dir);
    CHECK(s != NULL);
    return s;
}

static void finish(pdx_reasm *r)
{
    char err[PDX_ERRBUF_SIZE];
    err[0] = '\0';
    if (pdx_reasm_finish(r, err) != 0)
        PDX_FAIL_("finish: %s", err);
}

static void closed(pdx_reasm *r)
{
    char err[PDX_ERRBUF_SIZE];
    CHECK_EQ(pdx_reasm_close(r, err), 0);
}

/* ------------------------------------------------------------------ tests */

static void tcp_in_order(void)
{
    pdx_reasm *r = open_flow(1, 6);
    tcp(r, 0, SYN, 1000, NULL, 0);
    tcp(r, 1, SYN | ACK, 5000, NULL, 0);
    tcp(r, 0, ACK, 1001, NULL, 0);
    tcp(r, 0, ACK, 1001, "hello ", 6);
    tcp(r, 0, ACK, 1007, "world", 5);
    tcp(r, 1, ACK, 5001, "ok", 2);
    tcp(r, 0, FIN | ACK, 1012, NULL, 0);
    tcp(r, 1, FIN | ACK, 5003, NULL, 0);
    tcp(r, 0, ACK, 1013, NULL, 0);
    finish(r);
    check_file(1, "c2s", "hello world");
    check_file(1, "s2c", "ok");
    CHECK_EQ(st(r, 0)->bytes, 11);
    CHECK_EQ(st(r, 0)->packets, 6);
    CHECK_EQ(st(r, 0)->ngaps, 0);
    CHECK_EQ(st(r, 0)->isn, 1000);
    CHECK_EQ(st(r, 1)->isn, 5000);
    CHECK(st(r, 0)->syn && st(r, 0)->fin && !st(r, 0)->rst);
    CHECK_EQ(st(r, 0)->retransmitted_bytes + st(r, 0)->overlap_bytes, 0);
    CHECK_EQ(st(r, 0)->out_of_order_packets, 0);
    CHECK_EQ(st(r, 1)->packets, 3);
    closed(r);

    size_t n;
    char *j = (char *)slurp(1, "json", &n);
    CHECK_STR(j, "{\"flow\":1,\"proto\":\"tcp\",\"ipproto\":6,\n"
                 "\"c2s\":{\"bytes\":11,\"packets\":6,\"first_ns\":1000,\"last_ns\":1000,\"gaps\":[],"
                 "\"gap_bytes\":0,\"isn\":1000,\"syn\":true,\"fin\":true,\"rst\":false,"
                 "\"retransmitted_bytes\":0,\"overlap_bytes\":0,\"overlap_conflict_bytes\":0,"
                 "\"out_of_order_packets\":0,\"after_close_bytes\":0,\"dropped_bytes\":0,"
                 "\"undecoded_packets\":0},\n"
                 "\"s2c\":{\"bytes\":2,\"packets\":3,\"first_ns\":1000,\"last_ns\":1000,\"gaps\":[],"
                 "\"gap_bytes\":0,\"isn\":5000,\"syn\":true,\"fin\":true,\"rst\":false,"
                 "\"retransmitted_bytes\":0,\"overlap_bytes\":0,\"overlap_conflict_bytes\":0,"
                 "\"out_of_order_packets\":0,\"after_close_bytes\":0,\"dropped_bytes\":0,"
                 "\"undecoded_packets\":0}}\n");
    free(j);
}

static void tcp_reordered(void)
{
    pdx_reasm *r = open_flow(2, 6);
    tcp(r, 0, SYN, 100, NULL, 0);
    tcp(r, 0, ACK, 111, "cccc", 4);  /* offset 10 */
    tcp(r, 0, ACK, 101, "aaaaa", 5); /* offset 0 */
    CHECK_EQ(st(r, 0)->bytes, 5);
    tcp(r, 0, ACK, 106, "bbbbb", 5); /* offset 5: fills, releases cccc */
    CHECK_EQ(st(r, 0)->bytes, 14);
    CHECK_EQ(st(r, 0)->buffered, 0);
    tcp(r, 0, FIN | ACK, 115, NULL, 0);
    finish(r);
    check_file(2, "c2s", "aaaaabbbbbcccc");
    CHECK_EQ(st(r, 0)->out_of_order_packets, 2);
    CHECK_EQ(st(r, 0)->ngaps, 0);
    CHECK_EQ(st(r, 0)->retransmitted_bytes + st(r, 0)->overlap_bytes, 0);
    closed(r);
}

static void tcp_retransmitted(void)
{
    pdx_reasm *r = open_flow(3, 6);
    tcp(r, 0, SYN, 0, NULL, 0);
    tcp(r, 0, ACK, 1, "0123456789", 10);
    tcp(r, 0, ACK, 1, "0123456789", 10);  /* written already */
    tcp(r, 0, ACK, 21, "klmnopqrst", 10); /* held */
    tcp(r, 0, ACK, 21, "klmnopqrst", 10); /* held already */
    tcp(r, 0, ACK, 11, "abcdefghij", 10);
    tcp(r, 0, ACK, 11, "abcdefghij", 10);
    finish(r);
    check_file(3, "c2s", "0123456789abcdefghijklmnopqrst");
    CHECK_EQ(st(r, 0)->retransmitted_bytes, 30);
    CHECK_EQ(st(r, 0)->overlap_bytes, 0);
    CHECK_EQ(st(r, 0)->overlap_conflict_bytes, 0);
    CHECK_EQ(st(r, 0)->out_of_order_packets, 1);
    CHECK_EQ(st(r, 0)->ngaps, 0);
    closed(r);
}

static void tcp_overlap_boundaries(void)
{
    const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123";
    pdx_reasm *r = open_flow(4, 6);
    tcp(r, 0, SYN, 9, NULL, 0);
    tcp(r, 0, ACK, 10, all, 10);           /* [0,10) */
    tcp(r, 0, ACK, 30, all + 20, 5);       /* [20,25) held */
    tcp(r, 0, ACK, 15, all + 5, 15);       /* [5,20): 5 old, 10 new */
    CHECK_EQ(st(r, 0)->bytes, 25);
    tcp(r, 0, ACK, 10 + 22, all + 22, 8);  /* [22,30): 3 old, 5 new */
    tcp(r, 0, ACK, 10 + 3, all + 3, 25);   /* [3,28): all old */
    finish(r);
    check_file(4, "c2s", all);
    CHECK_EQ(st(r, 0)->overlap_bytes, 5 + 3);
    CHECK_EQ(st(r, 0)->retransmitted_bytes, 25);
    CHECK_EQ(st(r, 0)->overlap_conflict_bytes, 0);

    /* A segment spanning several held ones fills the holes between them. */
    pdx_reasm *q = open_flow(5, 6);
    tcp(q, 1, SYN | ACK, 0, NULL, 0);
    tcp(q, 1, ACK, 1 + 4, all + 4, 2);
    tcp(q, 1, ACK, 1 + 10, all + 10, 3);
    tcp(q, 1, ACK, 1 + 20, all + 20, 1);
    tcp(q, 1, ACK, 1 + 2, all + 2, 22); /* [2,24): holes 2-4, 6-10, 13-20, 21-24 */
    CHECK_EQ(st(q, 1)->overlap_bytes, 6);
    CHECK_EQ(st(q, 1)->buffered, (2 + 3 + 1 + 22 - 6) + 7 * PDX_REASM_SEG_COST); /* 3 + 4 pieces */
    tcp(q, 1, ACK, 1, all, 2);
    CHECK_EQ(st(q, 1)->buffered, 0);
    tcp(q, 1, ACK, 1 + 24, all + 24, 6);
    finish(q);
    check_file(5, "s2c", all);
    CHECK_EQ(st(q, 1)->ngaps, 0);
    CHECK_EQ(st(q, 1)->out_of_order_packets, 2);
    closed(q);
    closed(r);
}

static void tcp_overlap_conflict(void)
{
    pdx_reasm *r = open_flow(6, 6);
    tcp(r, 0, SYN, 0, NULL, 0);
    tcp(r, 0, ACK, 1, "AAAAAAAAAA", 10);   /* [0,10) */
    tcp(r, 0, ACK, 21, "CCCCC", 5);        /* [20,25) held */
    tcp(r, 0, ACK, 6, "xxxxxBBBBBBBBBByy", 17); /* [5,22): 5+2 conflicting */
    tcp(r, 0, ACK, 1, "AAAAzAAAAA", 10);   /* 1 conflicting, retransmitted */
    finish(r);
    check_file(6, "c2s", "AAAAAAAAAABBBBBBBBBBCCCCC"); /* first seen wins */
    CHECK_EQ(st(r, 0)->overlap_bytes, 7);
    CHECK_EQ(st(r, 0)->retransmitted_bytes, 10);
    CHECK_EQ(st(r, 0)->overlap_conflict_bytes, 8);
    closed(r);
}

/* Conflicts are found against bytes long flushed to the file, too. */
static void tcp_conflict_on_disk(void)
{
    enum { N = 200000 };
    uint8_t *b = malloc(N), *x;
    size_t n;
    pdx_reasm *r = open_flow(7, 6);
    CHECK(b != NULL);
    for (size_t i = 0; i < N; i++)
        b[i] = (uint8_t)(i * 7 + i / 251);
    tcp(r, 0, SYN, 77, NULL, 0);
    for (size_t off = 0; off < N; off += 1000)
        tcp(r, 0, ACK, (uint32_t)(78 + off), b + off, 1000);
    b[10] ^= 1;
    b[150000] ^= 0xff;
    tcp(r, 0, ACK, 78, b, 1000);
    tcp(r, 0, ACK, 78 + 149500, b + 149500, 1000);
    tcp(r, 0, ACK, 78 + N - 500, b + N - 500, 500);
    CHECK_EQ(st(r, 0)->overlap_conflict_bytes, 2);
    CHECK_EQ(st(r, 0)->retransmitted_bytes, 2500);
    finish(r);
    b[10] ^= 1;
    b[150000] ^= 0xff;
    x = slurp(7, "c2s", &n);
    CHECK_EQ(n, N);
    CHECK_MEM(x, b, N);
    free(x);
    free(b);
    closed(r);
}

static void tcp_gap(void)
{
    pdx_reasm *r = open_flow(8, 6);
    tcp(r, 0, SYN, 500, NULL, 0);
    tcp(r, 0, ACK, 501, "0123456789", 10);
    tcp(r, 0, ACK, 521, "KLMNOPQRST", 10); /* [10,20) never comes */
    tcp(r, 0, ACK, 541, "uvwxy", 5);       /* [30,40) neither */
    tcp(r, 0, FIN | ACK, 546, NULL, 0);
    /* s2c: data, then a FIN 7 bytes further: the tail is missing */
    tcp(r, 1, SYN | ACK, 900, NULL, 0);
    tcp(r, 1, ACK, 901, "abc", 3);
    tcp(r, 1, FIN | ACK, 911, NULL, 0);
    finish(r);
    check_file(8, "c2s", "0123456789KLMNOPQRSTuvwxy");
    CHECK_EQ(st(r, 0)->ngaps, 2);
    CHECK_EQ_U64(st(r, 0)->gaps[0].offset, 10);
    CHECK_EQ_U64(st(r, 0)->gaps[0].length, 10);
    CHECK_EQ_U64(st(r, 0)->gaps[0].file_offset, 10);
    CHECK_EQ_U64(st(r, 0)->gaps[1].offset, 30);
    CHECK_EQ_U64(st(r, 0)->gaps[1].length, 10);
    CHECK_EQ_U64(st(r, 0)->gaps[1].file_offset, 20);
    CHECK_EQ(st(r, 0)->gap_bytes, 20);
    CHECK_EQ(st(r, 0)->out_of_order_packets, 0);
    check_file(8, "s2c", "abc");
    CHECK_EQ(st(r, 1)->ngaps, 1);
    CHECK_EQ_U64(st(r, 1)->gaps[0].offset, 3);
    CHECK_EQ_U64(st(r, 1)->gaps[0].length, 7);
    closed(r);

    size_t n;
    char *j = (char *)slurp(8, "json", &n);
    CHECK(strstr(j, "\"gaps\":[{\"offset\":10,\"length\":10,\"file_offset\":10},"
                    "{\"offset\":30,\"length\":10,\"file_offset\":20}],\"gap_bytes\":20") != NULL);
    CHECK(strstr(j, "\"gaps\":[{\"offset\":3,\"length\":7,\"file_offset\":3}]") != NULL);
    free(j);
}

static void tcp_wraparound(void)
{
    char data[64];
    pdx_reasm *r = open_flow(9, 6);
    for (int i = 0; i < 64; i++)
        data[i] = (char)('a' + i % 26);
    tcp(r, 0, SYN, 0xfffffff0u, NULL, 0);
    /* offset 0 is seq 0xfffffff1; offset 15 is seq 0 */
    tcp(r, 0, ACK, 0xfffffff1u + 20, data + 20, 20); /* past the wrap, held */
    tcp(r, 0, ACK, 0xfffffff1u, data, 10);
    tcp(r, 0, ACK, 0xfffffff1u + 10, data + 10, 10); /* straddles 2^32 */
    tcp(r, 0, ACK, 0xfffffff1u + 5, data + 5, 10);   /* retransmission across it */
    tcp(r, 0, ACK, 0xfffffff1u + 40, data + 40, 24);
    tcp(r, 0, FIN | ACK, 0xfffffff1u + 64, NULL, 0);
    finish(r);
    CHECK_EQ(st(r, 0)->bytes, 64);
    CHECK_EQ(st(r, 0)->ngaps, 0);
    CHECK_EQ(st(r, 0)->retransmitted_bytes, 10);
    CHECK_EQ(st(r, 0)->isn, 0xfffffff0u);
    size_t n;
    uint8_t *x = slurp(9, "c2s", &n);
    CHECK_EQ(n, 64);
    CHECK_MEM(x, data, 64);
    free(x);
    closed(r);

    /* A SYN at 0xffffffff: the first byte is at seq 0. */
    pdx_reasm *q = open_flow(10, 6);
    tcp(q, 1, SYN | ACK, 0xffffffffu, NULL, 0);
    tcp(q, 1, ACK, 3, "def", 3);
    tcp(q, 1, ACK, 0, "abc", 3);
    finish(q);
    check_file(10, "s2c", "abcdef");
    CHECK_EQ(st(q, 1)->ngaps, 0);
    closed(q);
}

static void tcp_syn_fin_rst(void)
{
    /* SYN data (TCP Fast Open) is at offset 0; SYN and FIN are not bytes. */
    pdx_reasm *r = open_flow(11, 6);
    tcp(r, 0, SYN, 1000, "GET", 3);
    tcp(r, 0, ACK, 1004, " /", 2);
    tcp(r, 0, FIN | ACK, 1006, "\n", 1);    /* FIN after this byte: at 6 */
    tcp(r, 0, FIN | ACK, 1006, "\n", 1);    /* retransmitted FIN */
    tcp(r, 0, ACK, 1007, "late", 4);        /* past the FIN */
    tcp(r, 0, ACK, 1005, "/xy", 3);         /* 2 old bytes (1 differs), 1 past the FIN */
    finish(r);
    check_file(11, "c2s", "GET /\n");
    CHECK_EQ(st(r, 0)->ngaps, 0);
    CHECK_EQ(st(r, 0)->after_close_bytes, 5);
    CHECK_EQ(st(r, 0)->retransmitted_bytes, 3);
    CHECK_EQ(st(r, 0)->overlap_conflict_bytes, 1);
    CHECK(st(r, 0)->fin && st(r, 0)->syn);
    closed(r);

    /* A FIN seen before the data that precedes it: that data still counts,
     * held data past it does not. */
    pdx_reasm *q = open_flow(12, 6);
    tcp(q, 0, SYN, 0, NULL, 0);
    tcp(q, 0, ACK, 9, "zz", 2);        /* held, past the FIN to come */
    tcp(q, 0, FIN | ACK, 5, NULL, 0);  /* FIN at 4 */
    tcp(q, 0, ACK, 1, "abcd", 4);
    finish(q);
    check_file(12, "c2s", "abcd");
    CHECK_EQ(st(q, 0)->after_close_bytes, 2);
    CHECK_EQ(st(q, 0)->buffered, 0);
    CHECK_EQ(st(q, 0)->ngaps, 0);
    closed(q);

    /* No SYN (capture started mid-stream): the first seq is offset 0;
     * earlier bytes turning up later have no place. */
    pdx_reasm *u = open_flow(13, 6);
    tcp(u, 1, ACK, 7000, "mid", 3);
    tcp(u, 1, ACK, 6998, "xxmi", 4);
    tcp(u, 1, ACK, 7003, "dle", 3);
    finish(u);
    check_file(13, "s2c", "middle");
    CHECK(!st(u, 1)->syn);
    CHECK_EQ(st(u, 1)->isn, 6999);
    CHECK_EQ(st(u, 1)->dropped_bytes, 2);
    CHECK_EQ(st(u, 1)->retransmitted_bytes, 2);
    closed(u);

    /* RST ends the stream: held data past it and later data are not written. */
    pdx_reasm *v = open_flow(14, 6);
    tcp(v, 0, SYN, 0, NULL, 0);
    tcp(v, 0, ACK, 1, "abc", 3);
    tcp(v, 0, ACK, 10, "held", 4);
    tcp(v, 0, RST | ACK, 4, NULL, 0);
    tcp(v, 0, ACK, 4, "after", 5);
    finish(v);
    check_file(14, "c2s", "abc");
    CHECK(st(v, 0)->rst);
    CHECK_EQ(st(v, 0)->after_close_bytes, 9);
    CHECK_EQ(st(v, 0)->ngaps, 0);
    closed(v);

    /* An RST as the very first packet sets no ISN. */
    pdx_reasm *w = open_flow(15, 6);
    tcp(w, 1, RST, 0, NULL, 0);
    tcp(w, 1, ACK, 300, "ok", 2);
    finish(w);
    check_file(15, "s2c", "ok");
    CHECK(st(w, 1)->rst);
    CHECK_EQ(st(w, 1)->isn, 299);
    closed(w);
}

static void tcp_truncated(void)
{
    char data[100];
    pdx_reasm *r = open_flow(16, 6);
    memset(data, 'x', sizeof(data));
    for (int i = 0; i < 100; i++)
        data[i] = (char)('0' + i % 10);
    tcp(r, 0, SYN, 0, NULL, 0);
    tcp_cut(r, 0, ACK, 1, data, 40, 100);    /* [0,100) declared, 40 captured */
    tcp(r, 0, ACK, 101, data, 10);           /* [100,110) */
    tcp_cut(r, 0, ACK, 111, data, 5, 20);    /* [110,130), 5 captured, nothing after */
    finish(r);
    CHECK_EQ(st(r, 0)->bytes, 55);
    CHECK_EQ(st(r, 0)->ngaps, 2);
    CHECK_EQ_U64(st(r, 0)->gaps[0].offset, 40);
    CHECK_EQ_U64(st(r, 0)->gaps[0].length, 60);
    CHECK_EQ_U64(st(r, 0)->gaps[1].offset, 115);
    CHECK_EQ_U64(st(r, 0)->gaps[1].length, 15);
    CHECK_EQ_U64(st(r, 0)->gaps[1].file_offset, 55);
    closed(r);

    /* A cut segment retransmitted whole fills its own tail. */
    pdx_reasm *q = open_flow(17, 6);
    tcp(q, 0, SYN, 0, NULL, 0);
    tcp_cut(q, 0, ACK, 1, "abcdef", 2, 6);
    tcp(q, 0, ACK, 1, "abcdef", 6);
    finish(q);
    check_file(17, "c2s", "abcdef");
    CHECK_EQ(st(q, 0)->ngaps, 0);
    CHECK_EQ(st(q, 0)->overlap_bytes, 2);
    closed(q);

    /* The brief form: payload_len says more than the frame holds. */
    char err[PDX_ERRBUF_SIZE];
    pdx_reasm *u = open_flow(18, 6);
    pdx_pkt k;
    tcp(u, 0, SYN, 0, NULL, 0);
    memset(&k, 0, sizeof(k));
    k.kind = PDX_KIND_IP4;
    k.proto = 6;
    k.flags = PDX_PKT_HAS_L4;
    k.tcp_flags = ACK;
    k.tcp_seq = 1;
    k.l3_off = L3;
    k.l4_off = L4;
    k.payload_off = TCP_DATA;
    k.payload_len = 50;
    memcpy(frame + TCP_DATA, "0123456789", 10);
    CHECK_EQ(pdx_reasm_packet(u, 0, &k, frame, TCP_DATA + 10, 0, err), 0);
    /* a frame too short for a TCP header is counted and skipped */
    CHECK_EQ(pdx_reasm_packet(u, 0, &k, frame, L4 + 10, 0, err), 0);
    k.flags = 0;
    CHECK_EQ(pdx_reasm_packet(u, 0, &k, frame, TCP_DATA + 10, 0, err), 0);
    finish(u);
    check_file(18, "c2s", "0123456789");
    CHECK_EQ(st(u, 0)->ngaps, 1);
    CHECK_EQ_U64(st(u, 0)->gaps[0].offset, 10);
    CHECK_EQ_U64(st(u, 0)->gaps[0].length, 40);
    CHECK_EQ(st(u, 0)->undecoded_packets, 2);
    closed(u);
}

static void udp_icmp_concatenated(void)
{
    pdx_reasm *r = open_flow(19, 17);
    dgram(r, 17, 0, "one,", 4, 0);
    dgram(r, 17, 1, "ONE,", 4, 0);
    dgram(r, 17, 0, "two,", 4, 0);
    dgram(r, 17, 0, "", 0, 0);
    dgram(r, 17, 0, "thr", 3, 10); /* cut: 7 bytes missing */
    dgram(r, 17, 0, "four", 4, 0);
    closed(r);
    check_file(19, "c2s", "one,two,thrfour");
    check_file(19, "s2c", "ONE,");
    size_t n;
    char *j = (char *)slurp(19, "json", &n);
    CHECK(strstr(j, "\"proto\":\"udp\",\"ipproto\":17") != NULL);
    CHECK(strstr(j, "\"c2s\":{\"bytes\":15,\"packets\":5,\"first_ns\":2000,\"last_ns\":2000,"
                    "\"gaps\":[{\"offset\":11,\"length\":7,\"file_offset\":11}],\"gap_bytes\":7}") != NULL);
    CHECK(strstr(j, "\"s2c\":{\"bytes\":4,\"packets\":1,") != NULL);
    CHECK(strstr(j, "isn") == NULL);
    free(j);

    /* ICMP echo: exfiltration in requests, echoed in replies. */
    pdx_reasm *q = open_flow(20, 1);
    dgram(q, 1, 0, "sec", 3, 0);
    dgram(q, 1, 1, "sec", 3, 0);
    dgram(q, 1, 0, "ret", 3, 0);
    dgram(q, 1, 0, "sec", 3, 0); /* same bytes again: still concatenated */
    finish(q);
    check_file(20, "c2s", "secretsec");
    check_file(20, "s2c", "sec");
    CHECK_EQ(st(q, 0)->packets, 3);
    closed(q);

    /* Nothing at all: empty files and a summary. */
    pdx_reasm *u = open_flow(21, 47);
    closed(u);
    check_file(21, "c2s", "");
    check_file(21, "s2c", "");
    j = (char *)slurp(21, "json", &n);
    CHECK(strstr(j, "\"first_ns\":null") != NULL);
    CHECK(strstr(j, "\"proto\":\"gre\"") != NULL);
    free(j);
}

static void memory_cap(void)
{
    char seg[100];
    const uint64_t limit = 3 * (100 + PDX_REASM_SEG_COST);
    pdx_reasm *r = open_flow(22, 6);
    pdx_reasm_set_limit(r, limit);
    tcp(r, 0, SYN, 0, NULL, 0);
    tcp(r, 0, ACK, 1, "head", 4);
    /* [4,100) is lost; 100-byte segments from 100 on */
    for (int i = 0; i < 6; i++) {
        memset(seg, 'a' + i, sizeof(seg));
        tcp(r, 0, ACK, (uint32_t)(1 + 100 + 100 * i + (i >= 3 ? 100 : 0)), seg, 100);
        CHECK(st(r, 0)->buffered <= limit);
    }
    /* held a b c at 100..400; d at 500 forced the gap [4,100): a b c written;
     * then e f held at 600 700 past the hole [400,500) */
    CHECK_EQ(st(r, 0)->bytes, 304);
    CHECK_EQ(st(r, 0)->ngaps, 1);
    CHECK_EQ_U64(st(r, 0)->gaps[0].offset, 4);
    CHECK_EQ_U64(st(r, 0)->gaps[0].length, 96);
    /* the lost bytes turn up after all: too late */
    memset(seg, '-', sizeof(seg));
    tcp(r, 0, ACK, 1 + 4, seg, 96);
    CHECK_EQ(st(r, 0)->dropped_bytes, 96);
    /* one segment larger than the whole cap goes straight out after a gap */
    char big[600];
    memset(big, 'Z', sizeof(big));
    tcp(r, 0, ACK, 1 + 900, big, sizeof(big));
    CHECK(st(r, 0)->buffered <= limit);
    finish(r);
    CHECK_EQ(st(r, 0)->bytes, 4 + 600 + 600);
    CHECK_EQ(st(r, 0)->ngaps, 3);
    CHECK_EQ_U64(st(r, 0)->gaps[1].offset, 400);
    CHECK_EQ_U64(st(r, 0)->gaps[1].length, 100);
    CHECK_EQ_U64(st(r, 0)->gaps[2].offset, 800);
    CHECK_EQ_U64(st(r, 0)->gaps[2].length, 100);
    CHECK_EQ_U64(st(r, 0)->gaps[2].file_offset, 604);
    closed(r);

    /* A cap of zero holds nothing: every hole is a gap at once. */
    pdx_reasm *q = open_flow(23, 6);
    pdx_reasm_set_limit(q, 0);
    tcp(q, 0, SYN, 0, NULL, 0);
    tcp(q, 0, ACK, 3, "cd", 2);
    tcp(q, 0, ACK, 1, "ab", 2);
    CHECK_EQ(st(q, 0)->buffered, 0);
    finish(q);
    check_file(23, "c2s", "cd");
    CHECK_EQ(st(q, 0)->dropped_bytes, 2);
    closed(q);
}

/* ---- randomized: shuffled, duplicated, overlapping, lost, with a cap ---- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

typedef struct rseg_t {
    uint32_t off, len;
} rseg_t;

/* The stream file plus the gap list must be the original with the gaps cut out. */
static void check_against(int64_t id, const char *ext, const pdx_reasm_stats *s, const uint8_t *want,
                          size_t want_len)
{
    size_t n, fo = 0;
    uint64_t so = 0;
    uint8_t *x = slurp(id, ext, &n);
    for (size_t g = 0; g <= s->ngaps; g++) {
        uint64_t upto = g < s->ngaps ? s->gaps[g].offset : want_len;
        CHECK(upto >= so && upto <= want_len);
        CHECK(fo + (upto - so) <= n);
        CHECK_MEM(x + fo, want + so, (size_t)(upto - so));
        if (g < s->ngaps)
            CHECK_EQ_U64(s->gaps[g].file_offset, fo + (upto - so));
        fo += (size_t)(upto - so);
        so = upto;
        if (g < s->ngaps)
            so += s->gaps[g].length;
    }
    CHECK_EQ(fo, n);
    CHECK_EQ_U64(so, want_len);
    free(x);
}

static void random_streams(void)
{
    enum { LEN = 300000, MAXSEG = 1500 };
    uint8_t *data = malloc(LEN);
    rseg_t *segs = malloc(sizeof(rseg_t) * LEN);
    CHECK(data && segs);
    for (int round = 0; round < 12; round++) {
        size_t ns = 0;
        uint64_t lost = 0;
        int lossy = round >= 6, capped = round % 3 == 2;
        uint32_t isn = round % 2 ? 0xffff0000u + (uint32_t)round * 4000 : (uint32_t)round * 77777;
        pdx_reasm *r = open_flow(100 + round, 6);
        rng_state = (uint64_t)round * 1000003u + 1;
        for (size_t i = 0; i < LEN; i++)
            data[i] = (uint8_t)rnd(256);
        if (capped)
            pdx_reasm_set_limit(r, 20000);
        for (uint32_t off = 0; off < LEN;) {
            uint32_t n = 1 + rnd(MAXSEG);
            if (n > LEN - off)
                n = LEN - off;
            segs[ns++] = (rseg_t){off, n};
            off += n;
        }
        /* local reordering, duplicates and overlaps */
        for (size_t i = 0; i + 1 < ns; i++)
            if (rnd(5) == 0) {
                rseg_t t = segs[i];
                size_t j = i + 1 + rnd(PDX_MIN(8, (uint32_t)(ns - i - 1)));
                segs[i] = segs[j];
                segs[j] = t;
            }
        tcp(r, 0, SYN, isn, NULL, 0);
        for (size_t i = 0; i < ns; i++) {
            rseg_t s = segs[i];
            if (i > 0 && i + 1 < ns && lossy && rnd(40) == 0) {
                lost++;
                continue;
            }
            tcp(r, 0, ACK, isn + 1 + s.off, data + s.off, s.len);
            if (rnd(10) == 0)
                tcp(r, 0, ACK, isn + 1 + s.off, data + s.off, s.len);
            if (rnd(10) == 0 && s.off > 100) {
                uint32_t a = s.off - rnd(100), b = s.off + s.len + rnd(100);
                if (b > LEN)
                    b = LEN;
                tcp(r, 0, ACK, isn + 1 + a, data + a, b - a);
            }
            if (capped)
                CHECK(st(r, 0)->buffered <= 20000);
        }
        tcp(r, 0, FIN | ACK, isn + 1 + LEN, NULL, 0);
        finish(r);
        check_against(100 + round, "c2s", st(r, 0), data, LEN);
        CHECK_EQ(st(r, 0)->overlap_conflict_bytes, 0);
        if (!lossy && !capped)
            CHECK_EQ(st(r, 0)->ngaps, 0);
        CHECK_EQ_U64(st(r, 0)->bytes + st(r, 0)->gap_bytes, LEN);
        closed(r);
    }
    free(data);
    free(segs);
}

static void api_errors(void)
{
    char err[PDX_ERRBUF_SIZE];
    pdx_reasm *r = (pdx_reasm *)&err; /* must stay untouched */
    pdx_pkt k;
    err[0] = '\0';
    CHECK_EQ(pdx_reasm_open(&r, "/nonexistent/dir", 1, 6, err), PDX_EIO);
    CHECK(r == (pdx_reasm *)&err);
    CHECK(strstr(err, "/nonexistent/dir/1.c2s") != NULL);
    CHECK_EQ(pdx_reasm_close(NULL, err), 0);

    r = open_flow(30, 6);
    memset(&k, 0, sizeof(k));
    CHECK_EQ(pdx_reasm_packet(r, 2, &k, frame, 0, 0, err), PDX_EUSAGE);
    CHECK(pdx_reasm_get_stats(r, 2) == NULL);
    finish(r);
    CHECK_EQ(pdx_reasm_finish(r, err), 0);
    CHECK_EQ(pdx_reasm_packet(r, 0, &k, frame, 0, 0, err), PDX_EUSAGE);
    closed(r);

    /* Keep-alive probes (one junk byte before next) are not data. */
    r = open_flow(31, 6);
    tcp(r, 0, SYN, 0, NULL, 0);
    tcp(r, 0, ACK, 1, "data", 4);
    tcp(r, 0, ACK, 4, "", 1);
    tcp(r, 0, ACK, 5, "!", 1);
    finish(r);
    check_file(31, "c2s", "data!");
    CHECK_EQ(st(r, 0)->overlap_conflict_bytes, 0);
    closed(r);
}

/* The runner ends a passing test with _exit, so atexit never runs: clean up here. */
#define CLEANED(name)                                                                              \
    static void name##_(void)                                                                      \
    {                                                                                              \
        name();                                                                                    \
        cleanup();                                                                                 \
    }
CLEANED(tcp_in_order)
CLEANED(tcp_reordered)
CLEANED(tcp_retransmitted)
CLEANED(tcp_overlap_boundaries)
CLEANED(tcp_overlap_conflict)
CLEANED(tcp_conflict_on_disk)
CLEANED(tcp_gap)
CLEANED(tcp_wraparound)
CLEANED(tcp_syn_fin_rst)
CLEANED(tcp_truncated)
CLEANED(udp_icmp_concatenated)
CLEANED(memory_cap)
CLEANED(random_streams)
CLEANED(api_errors)

const pdx_test pdx_suite_reasm[] = {
    {"tcp_in_order", tcp_in_order_},
    {"tcp_reordered", tcp_reordered_},
    {"tcp_retransmitted", tcp_retransmitted_},
    {"tcp_overlap_boundaries", tcp_overlap_boundaries_},
    {"tcp_overlap_conflict", tcp_overlap_conflict_},
    {"tcp_conflict_on_disk", tcp_conflict_on_disk_},
    {"tcp_gap", tcp_gap_},
    {"tcp_wraparound", tcp_wraparound_},
    {"tcp_syn_fin_rst", tcp_syn_fin_rst_},
    {"tcp_truncated", tcp_truncated_},
    {"udp_icmp_concatenated", udp_icmp_concatenated_},
    {"memory_cap", memory_cap_},
    {"random_streams", random_streams_},
    {"api_errors", api_errors_},
    PDX_TEST_END,
};
