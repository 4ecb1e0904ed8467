/* dynlib.c - libpcap and libcrypto, opened on first use (see dynlib.h). */
#include "dynlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pdx.h"

#ifndef PDX_PCAP_SONAME
#define PDX_PCAP_SONAME "libpcap.so.0.8"
#endif
#ifndef PDX_CRYPTO_SONAME
#define PDX_CRYPTO_SONAME "libcrypto.so.3"
#endif

typedef struct lib {
    const char *names[4]; /* tried in order */
    const char *const *syms;
    size_t nsyms;
    void *fns;            /* a table of nsyms function pointers */
    pthread_once_t once;
    int ok;
    char why[PDX_ERRBUF_SIZE];
} lib;

static const char *const pcap_syms[] = {"pcap_open_dead", "pcap_compile",  "pcap_freecode",
                                        "pcap_geterr",    "pcap_close",    "pcap_offline_filter"};
static const char *const crypto_syms[] = {"EVP_MD_CTX_new",   "EVP_MD_CTX_free", "EVP_DigestInit_ex",
                                          "EVP_DigestUpdate", "EVP_DigestFinal_ex", "EVP_Digest",
                                          "EVP_sha1",         "EVP_sha256",      "EVP_EncodeBlock",
                                          "EVP_MD_fetch"};

static pdx_pcap_fns pcap_fns;
static pdx_crypto_fns crypto_fns;

/* Every member of the tables is a function pointer, in the order of the
 * names above. */
_Static_assert(sizeof(pcap_fns) == sizeof(pcap_syms) / sizeof(pcap_syms[0]) * sizeof(void (*)(void)),
               "pcap table and names differ");
_Static_assert(sizeof(crypto_fns) ==
                   sizeof(crypto_syms) / sizeof(crypto_syms[0]) * sizeof(void (*)(void)),
               "crypto table and names differ");

static lib pcap_lib = {{PDX_PCAP_SONAME, "libpcap.so.1", "libpcap.so.0.8", "libpcap.so"},
                       pcap_syms, sizeof(pcap_syms) / sizeof(pcap_syms[0]), &pcap_fns,
                       PTHREAD_ONCE_INIT, 0, ""};
static lib crypto_lib = {{PDX_CRYPTO_SONAME, "libcrypto.so.3", "libcrypto.so", NULL},
                         crypto_syms, sizeof(crypto_syms) / sizeof(crypto_syms[0]), &crypto_fns,
                         PTHREAD_ONCE_INIT, 0, ""};

static void load(lib *l)
{
    void *h = NULL;
    const char *err = "not found";
    for (size_t i = 0; i < 4 && h == NULL; i++) {
        if (l->names[i] == NULL)
            continue;
        /* RTLD_NODELETE: the library stays for the life of the process. */
        if ((h = dlopen(l->names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) == NULL && i == 0)
            err = dlerror();
    }
    if (h == NULL) {
        snprintf(l->why, sizeof(l->why), "cannot load %s: %s", l->names[0], err ? err : "?");
        return;
    }
    for (size_t i = 0; i < l->nsyms; i++) {
        void *p = dlsym(h, l->syms[i]);
        if (p == NULL) {
            snprintf(l->why, sizeof(l->why), "%s has no %s", l->names[0], l->syms[i]);
            return;
        }
        /* POSIX guarantees that a function pointer and void * convert. */
        memcpy((char *)l->fns + i * sizeof(void (*)(void)), &p, sizeof(p));
    }
    l->ok = 1;
}

static void load_pcap(void)
{
    load(&pcap_lib);
}

static const EVP_MD *sha1_md;

static void load_crypto(void)
{
    load(&crypto_lib);
    if (crypto_lib.ok && (sha1_md = crypto_fns.md_fetch(NULL, "SHA1", NULL)) == NULL)
        sha1_md = crypto_fns.sha1();
}

/* The table of l, loaded once by init; NULL with errbuf when it failed. */
static const void *table(lib *l, void (*init)(void), char *errbuf)
{
    pthread_once(&l->once, init);
    if (!l->ok) {
        pdx_errf(errbuf, PDX_EIO, "%s", l->why);
        return NULL;
    }
    return l->fns;
}

const pdx_pcap_fns *pdx_pcap_fns_get(char *errbuf)
{
    return table(&pcap_lib, load_pcap, errbuf);
}

const pdx_crypto_fns *pdx_crypto_fns_get(char *errbuf)
{
    return table(&crypto_lib, load_crypto, errbuf);
}

const EVP_MD *pdx_crypto_sha1(void)
{
    return sha1_md;
}
