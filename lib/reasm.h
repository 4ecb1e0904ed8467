/*
 * reasm.h - rebuilds what one flow carried, per direction, for
 * `pcapdex carve --payload DIR`.
 *
 * TCP: each direction's byte stream in sequence order, the way Wireshark's
 * Follow TCP Stream and tcpflow show it.  Sequence numbers are taken
 * relative to the ISN (from the SYN; without a SYN, the first sequence number
 * seen counts as ISN+1) and unwrapped to 64 bits, so 2^32 wraparound and
 * streams over 4 GiB are fine.  Out-of-order segments are held until the hole
 * before them fills; retransmitted and overlapping bytes are written once
 * (first seen wins: where a later copy differs, it is counted as a conflict
 * and dropped); the stream ends at the FIN (or RST).
 *
 * Anything else (UDP, ICMP, ...): the payloads in packet order, concatenated
 * per direction.
 *
 * Only captured bytes are ever written.  A gap - sequence space never
 * captured, or the tail of a segment that snaplen cut - is not filled with
 * zeros: the stream file is the concatenation of what was seen, and the
 * summary lists each gap with its stream offset (bytes from ISN+1, counting
 * the gaps before it), its length and its file offset (where in the stream
 * file the missing bytes would have been).
 *
 * Files, with c2s the direction from the flow's initiator:
 *   DIR/<id>.c2s, DIR/<id>.s2c  created (truncated) by pdx_reasm_open, so a
 *                               direction that carried nothing is empty;
 *   DIR/<id>.json               written by pdx_reasm_finish / _close:
 *   {"flow":ID,"proto":"tcp","ipproto":6,
 *    "c2s":{"bytes":N,"packets":N,"first_ns":T|null,"last_ns":T|null,
 *           "gaps":[{"offset":O,"length":L,"file_offset":F},...],"gap_bytes":N,
 *           TCP only:
 *           "isn":N|null,"syn":B,"fin":B,"rst":B,"retransmitted_bytes":N,
 *           "overlap_bytes":N,"overlap_conflict_bytes":N,"out_of_order_packets":N,
 *           "after_close_bytes":N,"dropped_bytes":N,"undecoded_packets":N},
 *    "s2c":{...}}
 * DIR must exist.  See pdx_reasm_stats for what each counter means.
 */
#ifndef PDX_REASM_H
#define PDX_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

typedef struct pdx_reasm pdx_reasm;

enum { PDX_REASM_C2S = 0, PDX_REASM_S2C = 1 };

/* Default cap on the out-of-order data a TCP direction may hold. */
#define PDX_REASM_DEFAULT_LIMIT (64u * 1024u * 1024u)
/* What one held segment costs against the cap, on top of its bytes. */
#define PDX_REASM_SEG_COST 64u

typedef struct pdx_reasm_gap {
    uint64_t offset;      /* stream offset: bytes from ISN+1 (TCP), or from the first payload */
    uint64_t length;
    uint64_t file_offset; /* where the stream file would hold it: offset minus earlier gaps */
} pdx_reasm_gap;

typedef struct pdx_reasm_stats {
    uint64_t bytes;       /* written to the stream file */
    uint64_t packets;     /* packets handed in for this direction */
    int64_t first_ns, last_ns; /* of those packets; valid when packets > 0 */
    uint64_t gap_bytes;   /* sum of the gaps' lengths */
    const pdx_reasm_gap *gaps; /* ngaps, in stream order; valid until the next call */
    size_t ngaps;
    /* TCP only. */
    uint32_t isn;         /* valid when have_isn */
    uint8_t have_isn;
    uint8_t syn;          /* the ISN came from a SYN */
    uint8_t fin, rst;     /* a FIN / RST was seen */
    uint64_t retransmitted_bytes; /* bytes of segments that carried nothing new */
    uint64_t overlap_bytes;       /* already-seen bytes of segments that also carried new bytes */
    uint64_t overlap_conflict_bytes; /* of both, those that differed from the first copy */
    uint64_t out_of_order_packets;   /* segments that filled a hole below data already seen */
    uint64_t after_close_bytes;   /* at or past the FIN/RST: counted, never written */
    uint64_t dropped_bytes;       /* new bytes with no place: before ISN+1, or inside a gap
                                   * already declared because the buffer cap was reached */
    uint64_t undecoded_packets;   /* no usable TCP header (cut, or a later IP fragment) */
    uint64_t buffered;            /* out-of-order cost held now (bytes + SEG_COST each) */
} pdx_reasm_stats;

/*
 * Starts reassembling flow flow_id of IP protocol proto (6 = TCP, anything
 * else is concatenated) into DIR: creates DIR/<id>.c2s and DIR/<id>.s2c.
 * Returns 0 and *out; PDX_EIO (errbuf names the file) or PDX_ENOMEM, with
 * *out untouched and nothing left open.  Free with pdx_reasm_close().
 */
int pdx_reasm_open(pdx_reasm **out, const char *dir, int64_t flow_id, int proto, char *errbuf);

/*
 * Caps the out-of-order data held per TCP direction (default
 * PDX_REASM_DEFAULT_LIMIT), counted as bytes plus PDX_REASM_SEG_COST per
 * segment.  When a segment would exceed it, the oldest hole is declared a gap
 * and the stream moves on past it.  Call before the first packet.
 */
void pdx_reasm_set_limit(pdx_reasm *r, uint64_t limit);

/*
 * Feeds one packet: dir is PDX_REASM_C2S (from the initiator) or
 * PDX_REASM_S2C; pkt is pdx_decode's view of frame (caplen bytes), whose
 * payload_off/payload_len are trusted only as far as caplen (a cut payload's
 * declared length is read from the IP/UDP header, through a cursor); ts_ns
 * goes into first_ns/last_ns.  Packets go in capture order.  A packet that
 * cannot be placed is counted, never an error.  Returns 0; PDX_EIO when a
 * stream file cannot be written or read back, PDX_ENOMEM, PDX_EUSAGE for a
 * bad dir or after pdx_reasm_finish.  After an error the object may only be
 * closed.
 */
int pdx_reasm_packet(pdx_reasm *r, int dir, const pdx_pkt *pkt, const uint8_t *frame,
                     size_t caplen, int64_t ts_ns, char *errbuf);

/*
 * Ends the streams: every hole still open before held data, and missing data
 * before a FIN or after a cut segment, becomes a gap; held data is written
 * after it; the stream files are closed and DIR/<id>.json written.  Counters
 * stay readable with pdx_reasm_get_stats.  Returns 0, PDX_EIO or PDX_ENOMEM;
 * a second call returns the first call's result.
 */
int pdx_reasm_finish(pdx_reasm *r, char *errbuf);

/* Counters of direction dir (0 or 1), as of now; NULL for a bad dir.  Owned
 * by r, valid until the next call on r. */
const pdx_reasm_stats *pdx_reasm_get_stats(const pdx_reasm *r, int dir);

/*
 * Finishes (when pdx_reasm_finish has not run) and frees r.  Returns what
 * that finish returned, else 0.  NULL ok.
 */
int pdx_reasm_close(pdx_reasm *r, char *errbuf);

/* Frees r without finishing it and removes its files, the stream files it
 * created and any DIR/<id>.json of an earlier run (a flow that turned out to
 * have nothing to reassemble).  NULL ok. */
void pdx_reasm_discard(pdx_reasm *r);

#endif
