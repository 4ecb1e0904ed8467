/*
 * addr.h - IP addresses as the index stores them: 16 bytes, IPv4 as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d), so that one byte range covers a prefix
 * of either family.  Parsing, CIDR ranges and printing.
 */
#ifndef PDX_ADDR_H
#define PDX_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "pdx.h"

/* Enough for any string pdx_addr_format writes, NUL included. */
#define PDX_ADDR_STRLEN 48

/* Parses an IPv4 dotted quad (stored mapped) or an IPv6 address in any form
 * inet_pton accepts (including ::ffff:1.2.3.4).  No host names, no zone IDs,
 * no surrounding blanks, no leading zeros in IPv4 parts.
 * Returns PDX_OK or PDX_EUSAGE; out is written only on success. */
int pdx_addr_parse(const char *s, uint8_t out[16]);

/* Parses a prefix into the inclusive range [lo, hi] of 16-byte addresses:
 *   a.b.c.d/n (0..32, applied inside ::ffff:0:0/96), v6/n (0..128),
 *   a bare address (= /32 or /128),
 *   tcpdump's short IPv4 forms: 10/8, 10.1/16, and without a length
 *   10 = 10/8, 10.1 = 10.1/16, 10.1.2 = 10.1.2/24.
 * Host bits below the prefix are ignored (10.1.2.3/8 = 10.0.0.0/8).
 * Returns PDX_OK or PDX_EUSAGE (bad address, bad or out-of-range length);
 * lo and hi are written only on success. */
int pdx_addr_parse_cidr(const char *s, uint8_t lo[16], uint8_t hi[16]);

/* Formats a: IPv4-mapped as a dotted quad, anything else as RFC 5952 text
 * (lower case, longest run of two or more zero groups as "::", the first
 * on a tie).  Does not depend on the C library's inet_ntop.
 * Returns buf, or NULL (buf untouched) when len is too small; at most
 * PDX_ADDR_STRLEN bytes are ever needed. */
char *pdx_addr_format(const uint8_t a[16], char *buf, size_t len);

/* 1 when a is IPv4-mapped (::ffff:0:0/96), else 0. */
int pdx_addr_is_v4(const uint8_t a[16]);

#endif
