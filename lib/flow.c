/*
 * flow.c - the live flow table: an open-addressing hash of canonical keys,
 * two LRU lists (open flows, and closed flows lingering for trailing
 * packets), and a small cache that lends later IP fragments the ports of
 * their first fragment.
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

#include "pdx.h"
#include "varint.h"

enum { LIST_NONE = 0, LIST_OPEN = 1, LIST_CLOSING = 2 };

#define FRAG_SLOTS 65536u
#define FRAG_TTL_NS (60LL * 1000000000LL)

typedef struct lru {
    pdx_flow *head, *tail;
} lru;

typedef struct frag_entry {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint8_t proto;
    uint8_t used;
    uint16_t sport, dport, icmp_id;
    int64_t ts_ns;
} frag_entry;

/* A slot keeps the hash beside the pointer, so that probing past other
 * flows does not touch their memory. */
typedef struct slot {
    uint64_t hash;
    pdx_flow *f;
} slot;

struct pdx_flowtab {
    pdx_flow_cfg cfg;
    pdx_flow_ops ops;
    int64_t next_id;
    uint64_t created;
    slot *slots;      /* open addressing, linear probing */
    size_t cap;       /* power of two */
    size_t count;
    lru lists[3];
    int64_t now;      /* latest timestamp seen */
    frag_entry *frags;
};

void pdx_flow_cfg_default(pdx_flow_cfg *cfg)
{
    cfg->idle_timeout_ns = 120LL * 1000000000LL;
    cfg->closing_timeout_ns = 10LL * 1000000000LL;
    cfg->segment_bytes = 4096u;
}

const char *pdx_end_name(int end_reason)
{
    switch (end_reason) {
    case PDX_END_FIN: return "fin";
    case PDX_END_RST: return "rst";
    case PDX_END_IDLE: return "idle";
    default: return "open";
    }
}

int pdx_end_parse(const char *s)
{
    if (strcmp(s, "fin") == 0)
        return PDX_END_FIN;
    if (strcmp(s, "rst") == 0)
        return PDX_END_RST;
    if (strcmp(s, "idle") == 0)
        return PDX_END_IDLE;
    return PDX_END_OPEN;
}

/* ---- hashing ---------------------------------------------------------- */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)(a ^ 0x9e3779b97f4a7c15ULL) * (b ^ 0xd6e8feb86659fd93ULL);
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t key_hash(const pdx_flowkey *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = mix(load64(p), load64(p + 8));
    h = mix(h ^ load64(p + 16), load64(p + 24));
    h = mix(h ^ load64(p + 32), (uint64_t)k->linktype | ((uint64_t)k->ethertype << 32));
    return h ? h : 1;
}

/* ---- keys --------------------------------------------------------------- */

static int has_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 132;
}

static int is_icmp(uint8_t proto)
{
    return proto == 1 || proto == 58;
}

/* ICMP types that pair with a reply share a flow; returns the lower type of
 * the pair, or -1 for one-way types. */
static int icmp_pair(uint8_t proto, uint16_t type)
{
    if (proto == 1) {
        switch (type) {
        case 0: case 8: return 0;
        case 13: case 14: return 13;
        case 15: case 16: return 15;
        case 9: case 10: return 9;
        case 17: case 18: return 17;
        default: return -1;
        }
    }
    switch (type) {
    case 128: case 129: return 128;
    case 130: case 131: return 130;
    case 133: case 134: return 133;
    case 135: case 136: return 135;
    case 139: case 140: return 139;
    case 144: case 145: return 144;
    default: return -1;
    }
}

/* Fills k from initiator-oriented fields. */
static void build_key(pdx_flowkey *k, uint8_t kind, uint8_t proto, const uint8_t *src,
                      const uint8_t *dst, uint16_t sport, uint16_t dport, uint16_t icmp_id,
                      uint16_t ethertype, uint32_t linktype, int has_mac)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    if (kind == PDX_KIND_L2) {
        k->ethertype = ethertype;
        k->linktype = linktype;
        if (has_mac) {
            int c = memcmp(src, dst, 6);
            memcpy(k->a, c <= 0 ? src : dst, 6);
            memcpy(k->b, c <= 0 ? dst : src, 6);
        }
        return;
    }
    k->proto = proto;
    int c = memcmp(src, dst, 16);
    if (has_ports(proto)) {
        if (c > 0 || (c == 0 && sport > dport)) {
            memcpy(k->a, dst, 16);
            memcpy(k->b, src, 16);
            k->pa = dport;
            k->pb = sport;
        } else {
            memcpy(k->a, src, 16);
            memcpy(k->b, dst, 16);
            k->pa = sport;
            k->pb = dport;
        }
        return;
    }
    memcpy(k->a, c <= 0 ? src : dst, 16);
    memcpy(k->b, c <= 0 ? dst : src, 16);
    if (is_icmp(proto)) {
        int pair = icmp_pair(proto, sport);
        if (pair >= 0) {
            k->pa = (uint16_t)(0x100 | pair);
            k->pb = icmp_id;
        } else {
            k->pa = sport;
            k->pb = dport;
        }
    }
}

void pdx_flow_make_key(pdx_flow *f)
{
    build_key(&f->key, f->kind, f->proto, f->kind == PDX_KIND_L2 ? f->src_mac : f->src,
              f->kind == PDX_KIND_L2 ? f->dst_mac : f->dst, f->sport, f->dport, f->icmp_id,
              f->ethertype, f->linktype, f->has_mac);
    f->hash = key_hash(&f->key);
}

/* ---- fragments ------------------------------------------------------------ */

/* p's slot in the fragment cache, made on first use; NULL when out of memory. */
static frag_entry *frag_slot(pdx_flowtab *t, const pdx_pkt *p)
{
    if (t->frags == NULL && (t->frags = calloc(FRAG_SLOTS, sizeof(frag_entry))) == NULL)
        return NULL;
    uint64_t h = mix(load64(p->src + 8) ^ p->frag_id, load64(p->dst + 8) ^ p->proto);
    h = mix(h ^ load64(p->src), load64(p->dst));
    return &t->frags[h & (FRAG_SLOTS - 1)];
}

/* Lends p's ports to the later fragments of its datagram. */
static void note_first_fragment(frag_entry *e, const pdx_pkt *p, int64_t ts_ns)
{
    memcpy(e->src, p->src, 16);
    memcpy(e->dst, p->dst, 16);
    e->id = p->frag_id;
    e->proto = p->proto;
    e->used = 1;
    e->sport = p->sport;
    e->dport = p->dport;
    e->icmp_id = p->icmp_id;
    e->ts_ns = ts_ns;
}

int pdx_flowtab_skip_packet(pdx_flowtab *t, const pdx_pkt *p, int64_t ts_ns)
{
    if (p->kind == PDX_KIND_L2 || !(p->flags & PDX_PKT_FRAGMENT) || p->frag_offset != 0 ||
        !(p->flags & PDX_PKT_HAS_L4))
        return PDX_OK;
    frag_entry *e = frag_slot(t, p);
    if (e == NULL)
        return PDX_ENOMEM;
    note_first_fragment(e, p, ts_ns);
    return PDX_OK;
}

static int frag_match(const frag_entry *e, const pdx_pkt *p)
{
    return e->used && e->id == p->frag_id && e->proto == p->proto &&
           memcmp(e->src, p->src, 16) == 0 && memcmp(e->dst, p->dst, 16) == 0;
}

/* ---- hash table ------------------------------------------------------------- */

static slot *find_slot(pdx_flowtab *t, const pdx_flowkey *k, uint64_t h)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)(h >> 7) & mask;
    for (;;) {
        slot *s = &t->slots[i];
        if (s->f == NULL || (s->hash == h && memcmp(&s->f->key, k, sizeof(*k)) == 0))
            return s;
        i = (i + 1) & mask;
    }
}

static int grow(pdx_flowtab *t)
{
    size_t ncap = t->cap * 2;
    slot *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return PDX_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].f == NULL)
            continue;
        size_t j = (size_t)(t->slots[i].hash >> 7) & (ncap - 1);
        while (ns[j].f != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return PDX_OK;
}

/* Removes f from the hash (backward-shift deletion keeps probing exact). */
static void unhash(pdx_flowtab *t, pdx_flow *f)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)(f->hash >> 7) & mask;
    while (t->slots[i].f != f)
        i = (i + 1) & mask;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (t->slots[j].f == NULL)
            break;
        size_t home = (size_t)(t->slots[j].hash >> 7) & mask;
        /* The entry may move to i when its home is not in the cyclic range (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].f = NULL;
    t->slots[i].hash = 0;
    t->count--;
}

/* ---- LRU lists ------------------------------------------------------------- */

static void lru_unlink(pdx_flowtab *t, pdx_flow *f)
{
    lru *l = &t->lists[f->list];
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
    f->list = LIST_NONE;
}

static void lru_append(pdx_flowtab *t, pdx_flow *f, int list)
{
    lru *l = &t->lists[list];
    f->list = (uint8_t)list;
    f->next = NULL;
    f->prev = l->tail;
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
}

/* ---- flow life ---------------------------------------------------------------- */

static void flow_free(pdx_flow *f)
{
    if (f->obuf != f->inline_offs)
        free(f->obuf);
    free(f);
}

static int flush_segment(pdx_flowtab *t, pdx_flow *f)
{
    if (f->ocount == 0)
        return PDX_OK;
    int rc = t->ops.put_segment ? t->ops.put_segment(t->ops.ctx, f) : PDX_OK;
    if (rc < 0)
        return rc;
    f->seg++;
    f->olen = 0;
    f->ocount = 0;
    return PDX_OK;
}

/* Writes f out for good and frees it. */
static int retire(pdx_flowtab *t, pdx_flow *f, int end_reason)
{
    int rc = flush_segment(t, f);
    if (rc < 0)
        return rc;
    if (f->end_reason == PDX_END_OPEN)
        f->end_reason = (uint8_t)end_reason;
    f->state &= (uint8_t)~PDX_FS_LIVE;
    if (t->ops.put_flow && (rc = t->ops.put_flow(t->ops.ctx, f)) < 0)
        return rc;
    lru_unlink(t, f);
    unhash(t, f);
    flow_free(f);
    return PDX_OK;
}

/* now - last > timeout, without overflow for any int64 times (damaged
 * captures carry timestamps at the ends of the range). */
static int expired(int64_t last, int64_t timeout, int64_t now)
{
    return now > last && (uint64_t)now - (uint64_t)last > (uint64_t)timeout;
}

static int sweep(pdx_flowtab *t)
{
    int rc;
    pdx_flow *f;
    while ((f = t->lists[LIST_OPEN].head) != NULL &&
           expired(f->last_ns, t->cfg.idle_timeout_ns, t->now))
        if ((rc = retire(t, f, PDX_END_IDLE)) < 0)
            return rc;
    while ((f = t->lists[LIST_CLOSING].head) != NULL &&
           expired(f->last_ns, t->cfg.closing_timeout_ns, t->now))
        if ((rc = retire(t, f, PDX_END_IDLE)) < 0)
            return rc;
    return PDX_OK;
}

static int append_offset(pdx_flowtab *t, pdx_flow *f, uint64_t offset)
{
    uint64_t delta = f->ocount ? offset - f->olast : offset;
    if (f->olen + PDX_VARINT_MAX > f->ocap) {
        uint32_t ncap = f->ocap * 2;
        while (ncap < f->olen + PDX_VARINT_MAX)
            ncap *= 2;
        uint8_t *nb;
        if (f->obuf == f->inline_offs) {
            nb = malloc(ncap);
            if (nb)
                memcpy(nb, f->obuf, f->olen);
        } else {
            nb = realloc(f->obuf, ncap);
        }
        if (nb == NULL)
            return PDX_ENOMEM;
        f->obuf = nb;
        f->ocap = ncap;
    }
    f->olen += (uint32_t)pdx_varint_put(f->obuf + f->olen, delta);
    if (f->ocount == 0)
        f->ofirst = offset;
    f->olast = offset;
    f->ocount++;
    if (f->olen >= t->cfg.segment_bytes)
        return flush_segment(t, f);
    return PDX_OK;
}

static pdx_flow *flow_new(pdx_flowtab *t)
{
    pdx_flow *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->obuf = f->inline_offs;
    f->ocap = PDX_FLOW_INLINE_OFFS;
    f->vlan = f->vlan_inner = -1;
    f->cur_capture = -1;
    return f;
}

static int insert(pdx_flowtab *t, pdx_flow *f)
{
    if ((t->count + 1) * 2 > t->cap && grow(t) < 0)
        return PDX_ENOMEM;
    slot *s = find_slot(t, &f->key, f->hash);
    s->hash = f->hash;
    s->f = f;
    t->count++;
    lru_append(t, f, (f->state & PDX_FS_CLOSED) ? LIST_CLOSING : LIST_OPEN);
    return PDX_OK;
}

pdx_flowtab *pdx_flowtab_create(const pdx_flow_cfg *cfg, const pdx_flow_ops *ops, int64_t next_id)
{
    pdx_flowtab *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    if (cfg)
        t->cfg = *cfg;
    else
        pdx_flow_cfg_default(&t->cfg);
    if (t->cfg.segment_bytes < 64)
        t->cfg.segment_bytes = 64;
    if (ops)
        t->ops = *ops;
    t->next_id = next_id;
    t->cap = 1024;
    t->slots = calloc(t->cap, sizeof(*t->slots));
    t->now = INT64_MIN;
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void pdx_flowtab_free(pdx_flowtab *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].f)
            flow_free(t->slots[i].f);
    free(t->slots);
    free(t->frags);
    free(t);
}

int pdx_flowtab_adopt(pdx_flowtab *t, const pdx_flow *src)
{
    pdx_flow *f = flow_new(t);
    if (f == NULL)
        return PDX_ENOMEM;
    uint8_t *ob = f->obuf;
    *f = *src;
    f->obuf = ob;
    f->ocap = PDX_FLOW_INLINE_OFFS;
    f->olen = 0;
    f->ocount = 0;
    f->cur_capture = -1;
    f->prev = f->next = NULL;
    f->obuf = f->inline_offs;
    f->stored = 1;
    f->wpk = f->pk[0] + f->pk[1];
    f->wby = f->by[0] + f->by[1];
    pdx_flow_make_key(f);
    /* The table holds one flow per key: a second live flow with the same
     * key would replace the first in the hash while the first stays in its
     * idle list (unhash() then searches for it forever), and an ID near
     * INT64_MAX leaves no room for the flows after it (f->id + 1 is the
     * next ID, and handing that out adds 1 again).  Only a damaged index
     * holds either. */
    if (f->id > PDX_FLOW_ID_MAX || find_slot(t, &f->key, f->hash)->f != NULL) {
        flow_free(f);
        return PDX_ECORRUPT;
    }
    if (f->last_ns > t->now)
        t->now = f->last_ns;
    if (f->id >= t->next_id)
        t->next_id = f->id + 1;
    int rc = insert(t, f);
    if (rc < 0)
        flow_free(f);
    return rc;
}

/* Starts a flow at packet p. */
static pdx_flow *start_flow(pdx_flowtab *t, const pdx_pkt *p, const pdx_flowkey *k, uint64_t h,
                            uint16_t sport, uint16_t dport)
{
    pdx_flow *f = flow_new(t);
    if (f == NULL)
        return NULL;
    f->key = *k;
    f->hash = h;
    f->id = t->next_id++;
    t->created++;
    f->kind = p->kind;
    f->proto = p->proto;
    f->ethertype = p->ethertype;
    f->has_mac = (p->flags & PDX_PKT_HAS_MAC) != 0;
    /* The initiator is the first packet's sender, except that a SYN-ACK
     * seen first was sent by the responder. */
    int flip = p->kind != PDX_KIND_L2 && p->proto == 6 && (p->flags & PDX_PKT_HAS_L4) &&
               (p->tcp_flags & 0x12) == 0x12;
    if (!flip) {
        memcpy(f->src, p->src, 16);
        memcpy(f->dst, p->dst, 16);
        memcpy(f->src_mac, p->src_mac, 6);
        memcpy(f->dst_mac, p->dst_mac, 6);
        f->sport = sport;
        f->dport = dport;
    } else {
        memcpy(f->src, p->dst, 16);
        memcpy(f->dst, p->src, 16);
        memcpy(f->src_mac, p->dst_mac, 6);
        memcpy(f->dst_mac, p->src_mac, 6);
        f->sport = dport;
        f->dport = sport;
    }
    f->icmp_id = p->icmp_id;
    if (p->nvlan > 0)
        f->vlan = p->vlan[0];
    if (p->nvlan > 1)
        f->vlan_inner = p->vlan[1];
    f->tunnel = p->tunnel;
    if (p->tunnel) {
        memcpy(f->tun_src, p->tun_src, 16);
        memcpy(f->tun_dst, p->tun_dst, 16);
        f->vni = p->vni;
    }
    if (insert(t, f) < 0) {
        flow_free(f);
        return NULL;
    }
    return f;
}

uint64_t pdx_flow_key(const pdx_pkt *p, uint32_t linktype, pdx_flowkey *k)
{
    if (p->kind == PDX_KIND_L2) {
        build_key(k, PDX_KIND_L2, 0, p->src_mac, p->dst_mac, 0, 0, 0, p->ethertype, linktype,
                  (p->flags & PDX_PKT_HAS_MAC) != 0);
        return key_hash(k);
    }
    if (p->flags & PDX_PKT_FRAGMENT)
        return 0;
    if (p->flags & PDX_PKT_HAS_L4)
        build_key(k, p->kind, p->proto, p->src, p->dst, p->sport, p->dport, p->icmp_id, 0, 0, 0);
    else
        build_key(k, p->kind, p->proto, p->src, p->dst, 0, 0, 0, 0, 0, 0);
    return key_hash(k);
}

void pdx_flowtab_prefetch(const pdx_flowtab *t, uint64_t h, enum pdx_prefetch stage)
{
    if (h == 0)
        return;
    const slot *s = &t->slots[(size_t)(h >> 7) & (t->cap - 1)];
    if (stage == PDX_PREFETCH_SLOT) {
        __builtin_prefetch(s);
        return;
    }
    const pdx_flow *f = s->f;
    if (f == NULL || s->hash != h)
        return;
    if (stage == PDX_PREFETCH_FLOW) {
        const char *m = (const char *)f;
        __builtin_prefetch(m, 1);
        __builtin_prefetch(m + 64, 1);
        __builtin_prefetch(m + 128, 1);
        __builtin_prefetch(m + 192, 1);
    } else {
        /* Moving the flow to its list's tail writes its neighbours; the
         * packet's offset goes at the end of the flow's list. */
        if (f->prev)
            __builtin_prefetch(f->prev, 1);
        if (f->next)
            __builtin_prefetch(f->next, 1);
        __builtin_prefetch(f->obuf + f->olen, 1);
    }
}

int pdx_flowtab_packet(pdx_flowtab *t, const pdx_pkt *p, uint32_t linktype, int64_t capture_id,
                       uint64_t offset, int64_t ts_ns, uint32_t wirelen)
{
    pdx_flowkey k;
    uint64_t h = pdx_flow_key(p, linktype, &k);
    return pdx_flowtab_packet_keyed(t, p, &k, h, linktype, capture_id, offset, ts_ns, wirelen);
}

int pdx_flowtab_packet_keyed(pdx_flowtab *t, const pdx_pkt *p, const pdx_flowkey *key, uint64_t h,
                             uint32_t linktype, int64_t capture_id, uint64_t offset, int64_t ts_ns,
                             uint32_t wirelen)
{
    pdx_flowkey built;
    const pdx_flowkey *k = key;
    uint16_t sport = 0, dport = 0, icmp_id = 0;
    int rc;

    /* Expire first, so that a packet after a long silence starts a new flow. */
    if (ts_ns > t->now) {
        t->now = ts_ns;
        if ((rc = sweep(t)) < 0)
            return rc;
    }

    if (p->kind != PDX_KIND_L2 && (p->flags & PDX_PKT_HAS_L4)) {
        sport = p->sport;
        dport = p->dport;
        icmp_id = p->icmp_id;
    }
    if (h == 0 && p->kind != PDX_KIND_L2) {
        if (p->flags & PDX_PKT_FRAGMENT) {
            frag_entry *e = frag_slot(t, p);
            if (e == NULL)
                return PDX_ENOMEM;
            if (p->frag_offset == 0 && (p->flags & PDX_PKT_HAS_L4)) {
                note_first_fragment(e, p, ts_ns);
            } else if (p->frag_offset != 0 && frag_match(e, p) &&
                       !expired(e->ts_ns, FRAG_TTL_NS, ts_ns)) {
                sport = e->sport;
                dport = e->dport;
                icmp_id = e->icmp_id;
            }
        }
        build_key(&built, p->kind, p->proto, p->src, p->dst, sport, dport, icmp_id, 0, 0, 0);
        h = key_hash(&built);
        k = &built;
    } else if (h == 0) {
        h = pdx_flow_key(p, linktype, &built);
        k = &built;
    }
    pdx_flow *f = find_slot(t, k, h)->f;
    int tcp = p->proto == 6 && p->kind != PDX_KIND_L2 && (p->flags & PDX_PKT_HAS_L4);

    /* A new SYN on a closed tuple starts a new flow. */
    if (f != NULL && tcp && (f->state & PDX_FS_CLOSED) && (p->tcp_flags & 0x12) == 0x02) {
        if ((rc = retire(t, f, PDX_END_FIN)) < 0)
            return rc;
        f = NULL;
    }
    if (f == NULL) {
        f = start_flow(t, p, k, h, sport, dport);
        if (f == NULL)
            return PDX_ENOMEM;
        f->linktype = linktype;
        f->first_ns = f->last_ns = ts_ns;
        f->first_capture = capture_id;
    } else {
        lru_unlink(t, f);
        lru_append(t, f, (f->state & PDX_FS_CLOSED) ? LIST_CLOSING : LIST_OPEN);
    }

    /* Direction: 0 when the packet comes from the initiator. */
    int dir;
    if (f->kind == PDX_KIND_L2)
        dir = f->has_mac && memcmp(p->src_mac, f->src_mac, 6) != 0;
    else if (memcmp(p->src, f->src, 16) != 0)
        dir = 1;
    else if (memcmp(p->src, p->dst, 16) == 0 && has_ports(f->proto))
        dir = sport != f->sport;
    else
        dir = 0;

    f->pk[dir]++;
    f->by[dir] += wirelen;
    if (ts_ns < f->first_ns) {
        f->first_ns = ts_ns;
        f->first_moved = f->stored;
    }
    if (ts_ns > f->last_ns)
        f->last_ns = ts_ns;
    f->last_capture = capture_id;

    if (tcp) {
        uint8_t fl = p->tcp_flags;
        f->tcp_flags |= fl;
        if (fl & 0x01)
            f->state |= dir ? PDX_FS_FIN_DST : PDX_FS_FIN_SRC;
        if (fl & 0x04)
            f->state |= PDX_FS_RST;
        if (!(f->state & PDX_FS_CLOSED) &&
            ((f->state & (PDX_FS_FIN_SRC | PDX_FS_FIN_DST)) == (PDX_FS_FIN_SRC | PDX_FS_FIN_DST) ||
             (f->state & PDX_FS_RST))) {
            f->state |= PDX_FS_CLOSED;
            f->end_reason = (f->state & PDX_FS_RST) ? PDX_END_RST : PDX_END_FIN;
            lru_unlink(t, f);
            lru_append(t, f, LIST_CLOSING);
        }
    }

    if (f->cur_capture != capture_id) {
        if ((rc = flush_segment(t, f)) < 0)
            return rc;
        f->cur_capture = capture_id;
        f->seg = 0;
    }
    return append_offset(t, f, offset);
}

static int cmp_flow_id(const void *a, const void *b)
{
    int64_t x = (*(pdx_flow *const *)a)->id, y = (*(pdx_flow *const *)b)->id;
    return (x > y) - (x < y);
}

int pdx_flowtab_resume(pdx_flowtab *t, int64_t capture_id,
                       int64_t (*next_seg)(void *ctx, int64_t flow_id, int64_t capture_id),
                       void *ctx)
{
    for (size_t i = 0; i < t->cap; i++) {
        pdx_flow *f = t->slots[i].f;
        if (f == NULL || f->last_capture != capture_id)
            continue;
        int64_t seg = next_seg(ctx, f->id, capture_id);
        if (seg < 0)
            return (int)seg;
        if (seg > UINT32_MAX)
            return PDX_ECORRUPT;
        f->cur_capture = capture_id;
        f->seg = (uint32_t)seg;
    }
    return PDX_OK;
}

int pdx_flowtab_end_capture(pdx_flowtab *t, int64_t capture_id)
{
    /* No sweep here: the last packet's already ended every flow that the
     * clock's last move made idle, as far as the lists (in order of use)
     * reach.  One here could only reach further where timestamps go
     * backwards, and end a flow that the same packets in one capture keep:
     * where captures are cut must not change the flows. */
    int rc = PDX_OK;
    /* Written in ID order: the rows (and their first_ns index entries) then
     * go in at the end of their B-trees instead of all over them. */
    pdx_flow **live = malloc((t->count ? t->count : 1) * sizeof(*live));
    if (live == NULL)
        return PDX_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        pdx_flow *f = t->slots[i].f;
        if (f != NULL && f->cur_capture == capture_id)
            live[n++] = f;
    }
    qsort(live, n, sizeof(*live), cmp_flow_id);
    for (size_t i = 0; i < n; i++) {
        pdx_flow *f = live[i];
        if ((rc = flush_segment(t, f)) < 0)
            break;
        f->state |= PDX_FS_LIVE;
        if (t->ops.put_flow && (rc = t->ops.put_flow(t->ops.ctx, f)) < 0)
            break;
        f->stored = 1;
        f->first_moved = 0;
        f->wpk = f->pk[0] + f->pk[1];
        f->wby = f->by[0] + f->by[1];
        /* The next capture starts a new segment list for this flow. */
        f->cur_capture = -1;
    }
    free(live);
    return rc < 0 ? rc : PDX_OK;
}

int64_t pdx_flowtab_next_id(const pdx_flowtab *t)
{
    return t->next_id;
}

size_t pdx_flowtab_live(const pdx_flowtab *t)
{
    return t->count;
}

uint64_t pdx_flowtab_created(const pdx_flowtab *t)
{
    return t->created;
}
