/*
 * capwalk.c - walks a capture with the pcapdex reader and prints one line per
 * record, for tests/check_offsets.py and for looking at files by hand:
 *
 *   offset caplen origlen ts_ns iface linktype data_off block_type
 *
 * Options: -q counts only (prints "records N bytes B seconds S GB/s R" at the
 * end, for measuring the reader), -s prints the damage counters to stderr.
 * Exit status: 0 clean end of file, 2 the file could not be opened, 3 the
 * file is damaged ("error: ..." on stderr after the good records).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capture.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: capwalk [-q] [-s] FILE\n");
}

int main(int argc, char **argv)
{
    char errbuf[PDX_ERRBUF_SIZE];
    static char outbuf[1 << 16];
    pdx_capture *c = NULL;
    pdx_record rec;
    const char *path = NULL;
    int quiet = 0, stats = 0, rc, status = 0;
    uint64_t n = 0, bytes = 0;
    double t0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0)
            quiet = 1;
        else if (strcmp(argv[i], "-s") == 0)
            stats = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage();
            return 2;
        } else if (path == NULL)
            path = argv[i];
        else {
            usage();
            return 2;
        }
    }
    if (path == NULL) {
        usage();
        return 2;
    }
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

    t0 = now();
    rc = pdx_capture_open(&c, path, errbuf);
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", errbuf);
        return 2;
    }
    while ((rc = pdx_capture_next(c, &rec, errbuf)) == 1) {
        n++;
        bytes += rec.caplen;
        if (!quiet)
            printf("%llu %u %u %lld %u %u %u %u\n", (unsigned long long)rec.offset, rec.caplen,
                   rec.origlen, (long long)rec.ts_ns, rec.iface, rec.linktype, rec.data_off,
                   rec.block_type);
    }
    if (quiet) {
        double dt = now() - t0;
        uint64_t fbytes = pdx_capture_tell(c);
        printf("records %llu bytes %llu seconds %.3f GB/s %.2f\n", (unsigned long long)n,
               (unsigned long long)fbytes, dt, dt > 0 ? (double)fbytes / dt / 1e9 : 0.0);
    }
    if (stats) {
        const pdx_capstats *st = pdx_capture_stats(c);
        const pdx_capinfo *in = pdx_capture_info(c);
        fprintf(stderr,
                "format %s sections %zu ifaces %zu records %llu over_snaplen %llu "
                "caplen_gt_len %llu skipped_blocks %llu unknown_blocks %llu bad_iface %llu "
                "spb_no_iface %llu bad_options %llu\n",
                pdx_format_name(in->format), in->n_sections, in->n_ifaces,
                (unsigned long long)st->records, (unsigned long long)st->over_snaplen,
                (unsigned long long)st->caplen_gt_len, (unsigned long long)st->skipped_blocks,
                (unsigned long long)st->unknown_blocks, (unsigned long long)st->bad_iface,
                (unsigned long long)st->spb_no_iface, (unsigned long long)st->bad_options);
    }
    if (rc < 0) {
        fflush(stdout);
        fprintf(stderr, "error: %s\n", errbuf);
        status = 3;
    }
    pdx_capture_close(c);
    if (fclose(stdout) != 0) {
        perror("capwalk: stdout");
        return 2;
    }
    return status;
}
