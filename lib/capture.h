/*
 * capture.h - streaming reader for pcap, pcapng and snoop files that reports
 * the exact 64-bit offset of every record.
 *
 * The reader works over large read(2) buffers (or a caller's memory, for
 * fuzzers and tests).  The offset of a record is where its pcap record header
 * or its pcapng block starts; it is taken before the record is read.
 *
 * pdx_capture_next() returns 1 with a record, 0 at a clean end of file, or a
 * negative PDX_E* code when the file is damaged: errbuf then says what and at
 * which byte offset, every record returned before is good, and every later
 * call returns the same code.  Problems that do not lose framing (caplen over
 * the snaplen, unknown pcapng blocks, ...) are counted in pdx_capstats and do
 * not stop the file.
 *
 * pdx_record_parse_at() re-reads one record at a stored offset, given the
 * pdx_capinfo that the sequential read recorded; the carver uses it.
 */
#ifndef PDX_CAPTURE_H
#define PDX_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pdx.h"

enum pdx_format {
    PDX_FMT_UNKNOWN = 0,
    PDX_FMT_PCAP = 1,
    PDX_FMT_PCAPNG = 2,
    PDX_FMT_SNOOP = 3
};

/* One interface.  pcap and snoop files have exactly one (global index 0). */
typedef struct pdx_iface {
    uint32_t linktype;   /* LINKTYPE_ value (pcap header's low 26 bits) */
    uint32_t snaplen;    /* 0 when the file says none */
    uint32_t section;    /* pcapng section (0-based) the IDB is in; 0 otherwise */
    uint32_t if_local;   /* index within its section, as EPBs refer to it */
    int64_t tsoffset_s;  /* pcapng if_tsoffset, seconds; 0 when absent */
    uint8_t tsresol;     /* pcapng if_tsresol byte: bit 7 clear = 10^-n, set = 2^-n.
                            6 (microseconds) by default; pcap: 6 or 9 */
    uint8_t fcslen;      /* FCS bytes at the end of each frame, when known (0 otherwise) */
    char name[64];       /* if_name, "" when absent */
} pdx_iface;

/* One pcapng section (pcap and snoop files have one, at offset 0). */
typedef struct pdx_section {
    uint64_t offset;      /* where the SHB starts */
    uint32_t big_endian;  /* byte order of this section */
    uint32_t first_iface; /* global index of the section's first interface */
} pdx_section;

/* What the reader knows of the file; it grows as sections and interfaces
 * appear.  Owned by the reader (or by whoever fills it for parse_at). */
typedef struct pdx_capinfo {
    int format;               /* enum pdx_format */
    int big_endian;           /* pcap/snoop: file byte order; pcapng: first section's */
    uint16_t version_major;
    uint16_t version_minor;
    int pcap_nsec;            /* pcap: nanosecond magic (0xa1b23c4d) */
    uint32_t pcap_hdrlen;     /* pcap: record header length, 16, or 24 for 0xa1b2cd34 */
    int pcap_swapped_lens;    /* pcap: 0 no, 1 always (< 2.3), 2 when caplen > len (2.3) */
    uint32_t snaplen;         /* pcap header snaplen; pcapng: first interface's */
    size_t n_ifaces;
    pdx_iface *ifaces;        /* global interface table, in order of appearance */
    size_t n_sections;
    pdx_section *sections;    /* in file order */
} pdx_capinfo;

typedef struct pdx_record {
    uint64_t offset;      /* where the record header / block starts */
    uint64_t next_offset; /* first byte after the record (block) */
    int64_t ts_ns;        /* nanoseconds since the epoch (SPB: previous record's) */
    uint32_t caplen;      /* bytes at data */
    uint32_t origlen;     /* length on the wire */
    uint32_t linktype;    /* UINT32_MAX when the interface does not exist */
    uint32_t iface;       /* global interface index; UINT32_MAX when the packet names
                             an interface its section does not have (counted in bad_iface) */
    uint32_t block_type;  /* pcapng: 6 EPB, 3 SPB, 2 PB; 0 for pcap and snoop */
    uint32_t data_off;    /* packet bytes start at offset + data_off */
    const uint8_t *data;  /* caplen bytes; valid until the next call on the reader */
} pdx_record;

/* Counters of problems that do not stop a file. */
typedef struct pdx_capstats {
    uint64_t records;          /* packet records returned */
    uint64_t over_snaplen;     /* caplen > the interface's snaplen */
    uint64_t caplen_gt_len;    /* caplen > origlen (after any swap) */
    uint64_t skipped_blocks;   /* pcapng blocks that hold no packet (NRB, ISB, custom, unknown) */
    uint64_t unknown_blocks;   /* of those, block types we do not know */
    uint64_t bad_iface;        /* packet blocks naming an interface that does not exist */
    uint64_t spb_no_iface;     /* SPBs in a section with no interface */
    uint64_t bad_options;      /* malformed pcapng IDB options (ignored; defaults kept) */
    uint64_t ts_out_of_range;  /* times int64 nanoseconds cannot hold (before 1677-09-21 or
                                  after 2262-04-11): stored as INT64_MIN or INT64_MAX */
} pdx_capstats;

/* Byte source for pdx_capture_open_source(): read() returns bytes read, 0 at
 * end, -1 on error (errno set).  skip may be NULL (reads and discards). */
typedef struct pdx_source {
    void *ctx;
    ssize_t (*read)(void *ctx, void *buf, size_t n);
    int (*skip)(void *ctx, uint64_t n); /* 0 ok, -1 error */
    size_t bufsize;                     /* the reader's buffer; 0: the default */
} pdx_source;

typedef struct pdx_capture pdx_capture;

/* Opens path and reads the file header.  On success *out is a new reader the
 * caller frees with pdx_capture_close().  PDX_EFORMAT when the file is not a
 * capture we read (errbuf names what it looks like, e.g. gzip or zstd),
 * PDX_EIO when it cannot be opened or is not a regular file.  A damaged
 * first pcapng section header is PDX_EFORMAT too (errbuf names offset 0). */
int pdx_capture_open(pdx_capture **out, const char *path, char *errbuf);

/* The same over len bytes at buf, which must outlive the reader (no copy). */
int pdx_capture_open_mem(pdx_capture **out, const uint8_t *buf, size_t len, char *errbuf);

/* The same over a caller's byte source (decompressors).  src is copied. */
int pdx_capture_open_source(pdx_capture **out, const pdx_source *src, char *errbuf);

/* Next packet record: 1 and *rec filled, 0 at the end, < 0 damage (sticky). */
int pdx_capture_next(pdx_capture *c, pdx_record *rec, char *errbuf);

const pdx_capinfo *pdx_capture_info(const pdx_capture *c);
/* A copy of *in with its own interface and section tables (for use after
 * the reader is closed, or on another thread); free it with
 * pdx_capinfo_free().  0 or PDX_ENOMEM. */
int pdx_capinfo_dup(const pdx_capinfo *in, pdx_capinfo *out);
void pdx_capinfo_free(pdx_capinfo *info);
const pdx_capstats *pdx_capture_stats(const pdx_capture *c);

/* Bytes consumed so far (the offset of the next record or block). */
uint64_t pdx_capture_tell(const pdx_capture *c);

/* Frees the reader and closes its file. NULL is a no-op. */
void pdx_capture_close(pdx_capture *c);

/* Format name: "pcap", "pcapng", "snoop". */
const char *pdx_format_name(int format);

/* Converts a timestamp in units of the interface resolution to ns, adding
 * the interface's tsoffset. */
int64_t pdx_ts_to_ns(uint64_t ticks, uint8_t tsresol, int64_t tsoffset_s);

/*
 * Parses the record whose first byte (record header or block) is at file
 * offset `offset`, from len bytes at buf that start there.  info describes
 * the file (format, byte order, interfaces, sections), as the sequential read
 * recorded it.  Returns 0 and fills *rec (rec->data points into buf);
 * PDX_ETRUNC with *need set to the bytes required when len is too short;
 * PDX_ECORRUPT when the bytes are not a packet record of this file.
 * An SPB has no timestamp of its own: rec->ts_ns is 0 (the index has the
 * one the sequential read gave it).
 */
int pdx_record_parse_at(const pdx_capinfo *info, uint64_t offset, const uint8_t *buf, size_t len,
                        pdx_record *rec, size_t *need, char *errbuf);

#endif
