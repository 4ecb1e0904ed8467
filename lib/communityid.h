/*
 * communityid.h - Community ID v1 flow hashes, the identifier that Zeek,
 * Suricata, Arkime and Wireshark share: "1:" + base64(SHA-1(seed, addresses,
 * protocol, padding, ports)), with the lower endpoint first.
 */
#ifndef PDX_COMMUNITYID_H
#define PDX_COMMUNITYID_H

#include <stddef.h>
#include <stdint.h>

#define PDX_COMMUNITYID_LEN 32 /* "1:" + 28 base64 characters + NUL, rounded up */

/*
 * Computes the Community ID of a flow.  Addresses are 16 bytes with IPv4
 * mapped (::ffff:a.b.c.d); both must be of one family.  For TCP, UDP and
 * SCTP sport/dport are ports; for ICMP and ICMPv6 they are type and code;
 * other protocols hash no ports.  Writes a NUL-terminated string to out
 * (PDX_COMMUNITYID_LEN bytes).  Returns 0, or -1 if SHA-1 is unavailable.
 */
int pdx_community_id(uint16_t seed, const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
                     uint16_t sport, uint16_t dport, char *out);

#endif
