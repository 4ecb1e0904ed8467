/* cli.c - messages, exit codes and small parsers shared by the front ends. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pdx.h"

const char *pdx_cli_prog = "pcapdex";

void pdx_cli_escape(pdx_strbuf *sb, const char *text, int tab)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char esc[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};
        if (*p == '\\')
            pdx_sb_putn(sb, "\\\\", 2);
        else if (*p == '\n' || *p == '\r' || (*p == '\t' && tab))
            pdx_sb_putn(sb, *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : "\\t", 2);
        else if ((*p >= 0x20 && *p != 0x7f) || *p == '\t')
            pdx_sb_putn(sb, (const char *)p, 1);
        else
            pdx_sb_putn(sb, esc, 4);
    }
}

void pdx_cli_print_line(const char *text)
{
    pdx_strbuf line = {NULL, 0, 0, 0};
    pdx_cli_escape(&line, text, 0);
    pdx_sb_putn(&line, "\n", 1);
    if (line.oom)
        printf("%s\n", text);
    else
        fwrite(line.p, 1, line.len, stdout);
    free(line.p);
}

/* A message is one line, whatever it quotes: a path or a value read from
 * the index can hold any byte (pdx_cli_escape).  The line goes out in one
 * write. */
static void vmsg(const char *kind, const char *fmt, va_list ap)
{
    char small[1024], *text = small;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n >= (int)sizeof(small) && (text = malloc((size_t)n + 1)) != NULL)
        vsnprintf(text, (size_t)n + 1, fmt, aq);
    va_end(aq);
    if (text == NULL)
        text = small; /* out of memory: the message cut to its first 1023 bytes */
    if (n < 0)
        snprintf(small, sizeof(small), "%s", fmt);

    pdx_strbuf line = {NULL, 0, 0, 0};
    pdx_sb_putn(&line, pdx_cli_prog, strlen(pdx_cli_prog));
    pdx_sb_putn(&line, ": ", 2);
    pdx_sb_putn(&line, kind, strlen(kind));
    pdx_cli_escape(&line, text, 0);
    pdx_sb_putn(&line, "\n", 1);
    if (line.oom)
        fprintf(stderr, "%s: %s%s\n", pdx_cli_prog, kind, text);
    else
        fwrite(line.p, 1, line.len, stderr);
    free(line.p);
    if (text != small)
        free(text);
}

void pdx_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("error: ", fmt, ap);
    va_end(ap);
}

void pdx_cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

void pdx_cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

static int call_optind = 1; /* optind when pdx_cli_getopt last called getopt_long */

int pdx_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    call_optind = optind;
    return getopt_long(argc, argv, shortopts, longopts, NULL);
}

void pdx_cli_bad_option(char **argv, const char *shortopts, const struct option *longopts)
{
    /* optind stays on a cluster of short options ("-qZ") until its last
     * one: an error inside it is about a short option, whatever came before. */
    const char *arg = optind > 0 && optind != call_optind ? argv[optind - 1] : NULL;
    /* A long option, or its unique abbreviation (getopt_long takes those):
     * optopt is 0 when getopt_long found no such option, else its val. */
    if (arg != NULL && strncmp(arg, "--", 2) == 0 && arg[2] != '\0' && arg[2] != '=') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct option *hit = NULL;
        int matches = 0;
        for (const struct option *o = longopts; o && o->name; o++) {
            if (strncmp(o->name, name, len) != 0 || (optopt != 0 && optopt != o->val))
                continue;
            hit = o;
            matches++;
            if (o->name[len] == '\0') {
                matches = 1;
                break;
            }
        }
        if (matches == 1 && optopt != 0) {
            if (eq != NULL && hit->has_arg == no_argument)
                pdx_cli_error("option '--%s' takes no argument", hit->name);
            else
                pdx_cli_error("option '--%s' needs an argument", hit->name);
            return;
        }
        if (optopt == 0 || matches > 0) {
            pdx_cli_error("%s option '%.*s'", matches > 1 ? "ambiguous" : "unknown",
                          (int)(len + 2), arg);
            return;
        }
    }
    /* A short option: optopt is its character. */
    const char *at = optopt > 0 && optopt < 256 && optopt != ':' ? strchr(shortopts, optopt) : NULL;
    if (at != NULL && at[1] == ':')
        pdx_cli_error("option '-%c' needs an argument", optopt);
    else if (optopt > 0 && optopt < 256)
        pdx_cli_error("unknown option '-%c'", optopt);
    else
        pdx_cli_error("unknown option '%s'", arg ? arg : "?");
}

const char *pdx_cli_db_path(const char *opt)
{
    const char *env;
    if (opt != NULL && *opt != '\0')
        return opt;
    env = getenv("PCAPDEX_DB");
    if (env != NULL && *env != '\0')
        return env;
    return PDX_DEFAULT_DB;
}

/* A non-negative integer with an optional K/M/G suffix, which multiplies
 * it by unit, unit^2 or unit^3.  0 or -1. */
static int parse_suffixed(const char *s, uint64_t unit, uint64_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    uint64_t mul = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mul = unit; end++; break;
    case 'm': case 'M': mul = unit * unit; end++; break;
    case 'g': case 'G': mul = unit * unit * unit; end++; break;
    default: return -1;
    }
    if (*end != '\0' || v > UINT64_MAX / mul)
        return -1;
    *out = (uint64_t)v * mul;
    return 0;
}

int pdx_cli_parse_u64(const char *s, uint64_t *out)
{
    return parse_suffixed(s, 1000, out);
}

int pdx_cli_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t b;
    if (parse_suffixed(s, 1024, &b) < 0 || b < lo || b > hi)
        return -1;
    *out = b;
    return 0;
}

int pdx_cli_parse_seconds(const char *s, int64_t *out_ns)
{
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= 0) || v > 9e9)
        return -1;
    *out_ns = (int64_t)(v * 1e9 + 0.5);
    return 0;
}

static int stdout_errno; /* of the first failed write to stdout */

int pdx_cli_stdout_failed(void)
{
    if (!ferror(stdout))
        return 0;
    if (stdout_errno == 0)
        stdout_errno = errno ? errno : EIO;
    return 1;
}

int pdx_cli_close_stdout(void)
{
    /* The errno of the write that failed (ENOSPC, EPIPE), not what a later
     * call left: kept when the failure was first seen, or set by the flush. */
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = stdout_errno ? stdout_errno : errno;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        if (e != EPIPE)
            pdx_cli_error("writing output: %s", strerror(e ? e : EIO));
        return PDX_EXIT_OUTPUT;
    }
    return PDX_EXIT_OK;
}
