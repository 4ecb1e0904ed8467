/*
 * timeparse.h - times and durations as people type them, turned into the
 * index's unit: nanoseconds since the Unix epoch, UTC.  All calendar
 * arithmetic is done here (proleptic Gregorian), never through the TZ
 * environment or the C library's time functions.
 */
#ifndef PDX_TIMEPARSE_H
#define PDX_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "pdx.h"

/* Room for pdx_time_format's output, NUL included. */
#define PDX_TIME_STRLEN 32

/* Parses a point in time; surrounding blanks are ignored.  Forms:
 *   2024-05-01T14:00:00Z  2024-05-01T14:00:00.123456789+02:00
 *   2024-05-01 14:00  2024-05-01t14:00:00z  2024-05-01T14:00+0200
 *   2024-05-01         (midnight)            - no zone means UTC
 *   1714572000  1714572000.5  -86400  @1714572000   - epoch seconds
 *   now  2h ago  30m ago  90s ago  1d ago  1w ago  1h30m ago  2 hours ago
 * Fractions keep up to 9 digits (more are accepted and truncated); second 60
 * is accepted and counts as the next minute's 00.  The result must fit in
 * int64 nanoseconds (1677-09-21 .. 2262-04-11).
 * Returns PDX_OK or PDX_EUSAGE with a message in errbuf (may be NULL);
 * out_ns is written only on success. */
int pdx_time_parse(const char *s, int64_t now_ns, int64_t *out_ns, char *errbuf);

/* Parses a non-negative duration: a number with a unit, ns us ms s m h d w
 * (also nsec usec msec sec min hour day week and their plurals, µs, any
 * case), with an optional fraction (1.5m) and optional blanks before the
 * unit; several may follow each other (1h30m); a plain number is seconds.
 * Integer arithmetic throughout; a fraction is read to 9 digits (more are
 * accepted and ignored) and the result truncates to whole nanoseconds.
 * Returns PDX_OK or PDX_EUSAGE (also on int64 overflow); out_ns is written
 * only on success. */
int pdx_duration_parse(const char *s, int64_t *out_ns);

/* Formats ns as RFC 3339 UTC with nine fraction digits,
 * "2024-05-01T14:00:00.123456789Z"; correct for times before 1970.
 * Returns buf, or NULL (buf untouched) when len is under 31 bytes (the 30
 * characters and the NUL); PDX_TIME_STRLEN is always enough. */
char *pdx_time_format(int64_t ns, char *buf, size_t len);

#endif
