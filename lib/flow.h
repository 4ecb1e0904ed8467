/*
 * flow.h - bidirectional flow assembly.
 *
 * A pdx_flowtab holds the flows that are still live: not yet ended by an
 * idle timeout, or ended by FIN/RST but still inside the closing linger that
 * absorbs trailing ACKs.  Each packet (a decoded pdx_pkt and the record it
 * came from) is assigned to exactly one flow, and its record offset appended
 * to that flow's offset list for the current capture.
 *
 * The table never touches the database.  It calls the caller's ops when a
 * flow's offset segment is full, and when a flow leaves the table.  At the
 * end of a capture, pdx_flowtab_end_capture() hands over every flow that the
 * capture touched and that stays live, so that one transaction per capture
 * holds everything the capture changed.
 */
#ifndef PDX_FLOW_H
#define PDX_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* Canonical, direction-free key; memcmp-comparable (no padding). */
typedef struct pdx_flowkey {
    uint8_t a[16];      /* lower endpoint address (IP, or MAC in the first 6 bytes) */
    uint8_t b[16];
    uint16_t pa;        /* ports of a and b; ICMP: type class and code or echo id */
    uint16_t pb;
    uint8_t proto;      /* IP protocol; 0 for L2 flows */
    uint8_t kind;       /* enum pdx_kind */
    uint16_t ethertype; /* L2 flows: the frame's ethertype; 0 for IP */
    uint32_t linktype;  /* L2 flows: link type; 0 for IP */
} pdx_flowkey;

/* pdx_flow.state bits.  PDX_FS_LIVE is stored so that a later run knows
 * which flows to take up again. */
#define PDX_FS_LIVE 0x01u    /* still in the flow table after the last capture */
#define PDX_FS_FIN_SRC 0x02u /* initiator sent FIN */
#define PDX_FS_FIN_DST 0x04u /* responder sent FIN */
#define PDX_FS_RST 0x08u     /* RST seen */
#define PDX_FS_CLOSED 0x10u  /* FIN both ways or RST: in the closing linger */

/* pdx_flow.end_reason */
enum pdx_end { PDX_END_OPEN = 0, PDX_END_FIN = 1, PDX_END_RST = 2, PDX_END_IDLE = 3 };

#define PDX_FLOW_INLINE_OFFS 32

typedef struct pdx_flow pdx_flow;
struct pdx_flow {
    /* What every packet reads or writes comes first, in the first four cache
     * lines, which the indexer prefetches (pdx_flowtab_prefetch). */
    pdx_flowkey key;
    uint8_t kind;
    uint8_t proto;
    uint8_t tcp_flags;
    uint8_t state;
    int64_t last_ns;
    /* Initiator orientation. */
    uint8_t src[16];
    uint16_t sport;
    uint8_t has_mac;
    uint8_t end_reason;
    uint8_t list;       /* which LRU list it is on */
    uint8_t stored;     /* its row exists in the index (written at a capture's end) */
    uint8_t first_moved;/* first_ns moved earlier since the row was stored */
    uint8_t src_mac[6];
    uint64_t pk[2], by[2];  /* [0] initiator to responder, [1] back */
    int64_t first_ns;
    int64_t last_capture;
    /* Offsets of this flow in capture cur_capture, segment seg. */
    int64_t cur_capture;
    uint32_t seg;
    uint32_t olen, ocap;
    uint64_t ocount;
    uint64_t ofirst, olast;
    uint8_t *obuf;          /* inline_offs or heap */
    pdx_flow *prev, *next;  /* LRU list, oldest first */
    uint8_t inline_offs[PDX_FLOW_INLINE_OFFS];
    /* The rest is read when the flow starts, ends or is written. */
    uint64_t hash;
    int64_t id;
    uint8_t dst[16];
    uint16_t dport, icmp_id;
    uint8_t dst_mac[6];
    uint8_t tunnel;
    uint16_t ethertype;
    int32_t vlan, vlan_inner; /* -1 when none */
    uint32_t linktype;
    uint32_t vni;
    uint8_t tun_src[16], tun_dst[16];
    uint64_t wpk, wby;      /* packets and bytes (both ways) when its row was last written */
    int64_t first_capture;
};

typedef struct pdx_flow_ops {
    void *ctx;
    /* Stores f's offset segment (f->obuf, f->olen bytes, f->ocount offsets)
     * as segment f->seg of capture f->cur_capture.  0 or a negative code. */
    int (*put_segment)(void *ctx, const pdx_flow *f);
    /* Stores f's row.  0 or a negative code. */
    int (*put_flow)(void *ctx, const pdx_flow *f);
} pdx_flow_ops;

typedef struct pdx_flow_cfg {
    int64_t idle_timeout_ns;    /* a flow idle this long ends (default 120 s) */
    int64_t closing_timeout_ns; /* after FIN both ways or RST, the linger (default 10 s) */
    uint32_t segment_bytes;     /* an offset list this long is written out (default 4 KiB) */
} pdx_flow_cfg;

typedef struct pdx_flowtab pdx_flowtab;

void pdx_flow_cfg_default(pdx_flow_cfg *cfg);

/* Creates a table; flow IDs are handed out from next_id.  NULL on ENOMEM. */
pdx_flowtab *pdx_flowtab_create(const pdx_flow_cfg *cfg, const pdx_flow_ops *ops, int64_t next_id);

/* Frees the table and every flow still in it, writing nothing. NULL ok. */
void pdx_flowtab_free(pdx_flowtab *t);

/* The largest flow ID a table takes up (and the index stores): IDs count up
 * from 1, and above this a run could overflow int64 handing out new ones.
 * Only a damaged index holds a larger one. */
#define PDX_FLOW_ID_MAX (INT64_MAX / 2)

/* Takes up a flow stored by an earlier run (state has PDX_FS_LIVE).  The
 * table copies *f.  Flows must be adopted in order of last_ns, so that the
 * idle lists stay sorted.  0, PDX_ENOMEM, or PDX_ECORRUPT when the table
 * already holds a flow with f's key or f's ID is above PDX_FLOW_ID_MAX
 * (nothing taken). */
int pdx_flowtab_adopt(pdx_flowtab *t, const pdx_flow *f);

/*
 * Assigns one packet to its flow.  linktype is the record's link type,
 * offset the record's offset in capture capture_id, ts_ns its time, wirelen
 * its length on the wire.  Returns 0 or the negative code an op returned.
 */
int pdx_flowtab_packet(pdx_flowtab *t, const pdx_pkt *pkt, uint32_t linktype, int64_t capture_id,
                       uint64_t offset, int64_t ts_ns, uint32_t wirelen);

/*
 * The flow key of pkt and its hash, for pdx_flowtab_packet_keyed(): a pure
 * function, so a reading thread can compute it ahead.  Returns 0 (no key)
 * for a fragment, whose ports only the table's fragment state knows.
 */
uint64_t pdx_flow_key(const pdx_pkt *pkt, uint32_t linktype, pdx_flowkey *k);

/* pdx_flowtab_packet() with the key and hash from pdx_flow_key(); h 0
 * makes the table build the key itself. */
int pdx_flowtab_packet_keyed(pdx_flowtab *t, const pdx_pkt *pkt, const pdx_flowkey *k, uint64_t h,
                             uint32_t linktype, int64_t capture_id, uint64_t offset, int64_t ts_ns,
                             uint32_t wirelen);

/* What pdx_flowtab_prefetch asks for; each stage reads what the one before
 * brought into the cache. */
enum pdx_prefetch {
    PDX_PREFETCH_SLOT,      /* the hash slot */
    PDX_PREFETCH_FLOW,      /* the flow the slot points to, its first four lines */
    PDX_PREFETCH_NEIGHBOURS /* its LRU neighbours and the end of its offset list */
};

/*
 * Asks the CPU for the memory a later pdx_flowtab_packet_keyed() with hash
 * h will read, at one stage.  A hint only; h 0 does nothing.  Processing
 * packet i while asking for the slot of i+8, the flow of i+4 and the
 * neighbours of i+2 overlaps their cache misses.
 */
void pdx_flowtab_prefetch(const pdx_flowtab *t, uint64_t h, enum pdx_prefetch stage);

/*
 * Ends a capture: expires what the capture's last timestamp made idle, then
 * writes the offset segment and the row (state PDX_FS_LIVE) of every flow
 * the capture touched that stays live.  Returns 0 or an op's code.
 */
int pdx_flowtab_end_capture(pdx_flowtab *t, int64_t capture_id);

/* A packet indexed before (a capture taken up again is read from its
 * start): only what later packets need of it, a first fragment's ports. */
int pdx_flowtab_skip_packet(pdx_flowtab *t, const pdx_pkt *p, int64_t ts_ns);

/* Before more records of capture_id, already indexed up to some record, are
 * taken (a capture that grew): each flow it held goes on with its next
 * segment there, next_seg(ctx, flow ID, capture_id) (>= 0, or < 0 to stop
 * with that error). */
int pdx_flowtab_resume(pdx_flowtab *t, int64_t capture_id,
                       int64_t (*next_seg)(void *ctx, int64_t flow_id, int64_t capture_id),
                       void *ctx);

/* Next flow ID that would be handed out. */
int64_t pdx_flowtab_next_id(const pdx_flowtab *t);

/* Flows in the table now. */
size_t pdx_flowtab_live(const pdx_flowtab *t);

/* Flows created since the table was made. */
uint64_t pdx_flowtab_created(const pdx_flowtab *t);

/* Builds the canonical key of a flow from its initiator-oriented fields
 * (used for flows taken up from the database). */
void pdx_flow_make_key(pdx_flow *f);

const char *pdx_end_name(int end_reason);
int pdx_end_parse(const char *s);

#endif
