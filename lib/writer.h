/*
 * writer.h - writes records out as pcap or pcapng, for the carver.
 *
 * pcap output has one link type and one precision, given when it is opened,
 * in little-endian byte order.  pcapng output (one little-endian section)
 * describes each source interface with its own IDB, emitted before the first
 * packet that uses it, and keeps its link type, snaplen, name and timestamp
 * resolution (powers of ten down to nanoseconds; finer or binary resolutions
 * are written in nanoseconds).
 */
#ifndef PDX_WRITER_H
#define PDX_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "capture.h"

enum { PDX_OUT_PCAP = 1, PDX_OUT_PCAPNG = 2 };

typedef struct pdx_writer pdx_writer;

/* Opens a writer over fp (not closed by the writer) and writes the file
 * header.  For pcap, linktype, nsec and snaplen describe the file. */
int pdx_writer_open(pdx_writer **out, FILE *fp, int format, uint32_t linktype, int nsec,
                    uint32_t snaplen, char *errbuf);

/*
 * Writes one record.  iface describes the interface it came from and
 * iface_key identifies that interface among all sources (pcapng gives each
 * key one IDB).  Returns 0, or PDX_EIO when writing failed.
 */
int pdx_writer_put(pdx_writer *w, const pdx_record *rec, const pdx_iface *iface, uint64_t iface_key,
                   char *errbuf);

/* Records written so far. */
uint64_t pdx_writer_count(const pdx_writer *w);

/* Flushes and frees the writer (fp stays open).  0 or PDX_EIO. NULL ok. */
int pdx_writer_close(pdx_writer *w, char *errbuf);

#endif
