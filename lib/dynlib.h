/*
 * dynlib.h - libpcap and libcrypto, loaded when a command first needs them.
 *
 * pcapdex is one binary, and most runs need neither library: a query never
 * compiles BPF or hashes, a carve only hashes.  Loading them at start, with
 * everything they pull in (Debian's libpcap brings D-Bus, systemd and
 * gcrypt), cost every run about 1.6 ms, a third of a short query.  So they
 * are opened with dlopen(3) on first use, by the shared-object names found
 * when pcapdex was built (PDX_PCAP_SONAME, PDX_CRYPTO_SONAME), with the
 * usual names as a fallback.  The tables are filled once (thread-safe) and
 * then read-only; __typeof__ keeps each pointer's type the header's.
 */
#ifndef PDX_DYNLIB_H
#define PDX_DYNLIB_H

#include <openssl/evp.h>
#include <pcap/pcap.h>

typedef struct pdx_pcap_fns {
    __typeof__(&pcap_open_dead) open_dead;
    __typeof__(&pcap_compile) compile;
    __typeof__(&pcap_freecode) freecode;
    __typeof__(&pcap_geterr) geterr;
    __typeof__(&pcap_close) close;
    __typeof__(&pcap_offline_filter) offline_filter;
} pdx_pcap_fns;

typedef struct pdx_crypto_fns {
    __typeof__(&EVP_MD_CTX_new) md_ctx_new;
    __typeof__(&EVP_MD_CTX_free) md_ctx_free;
    __typeof__(&EVP_DigestInit_ex) digest_init;
    __typeof__(&EVP_DigestUpdate) digest_update;
    __typeof__(&EVP_DigestFinal_ex) digest_final;
    __typeof__(&EVP_Digest) digest;
    __typeof__(&EVP_sha1) sha1;
    __typeof__(&EVP_sha256) sha256;
    __typeof__(&EVP_EncodeBlock) encode_block;
    __typeof__(&EVP_MD_fetch) md_fetch;
} pdx_crypto_fns;

/* The library's functions, or NULL with errbuf (PDX_ERRBUF_SIZE) saying
 * which library could not be loaded and why.  Thread-safe. */
const pdx_pcap_fns *pdx_pcap_fns_get(char *errbuf);
const pdx_crypto_fns *pdx_crypto_fns_get(char *errbuf);

/* SHA-1, fetched from its provider once: EVP_sha1() would make every
 * EVP_Digest look the algorithm up again.  Needs a loaded libcrypto. */
const EVP_MD *pdx_crypto_sha1(void);

#endif
