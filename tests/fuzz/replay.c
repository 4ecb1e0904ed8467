/*
 * replay.c - runs a fuzz target without libFuzzer: every file named on the
 * command line, or found in a directory named there (sorted, not
 * recursive, dot files and README* skipped), is read into a buffer of
 * exactly its size and passed to LLVMFuzzerTestOneInput once.
 *
 *   replay DIR|FILE...
 *
 * Prints "ok NAME" per input and ends with "fuzz-replay: N passed, N failed".
 * An input that cannot be read fails; a target that finds a bug aborts (or
 * a sanitizer stops the process), and the file being run is named on stderr
 * first, so the caller sees a non-zero exit and which input it was.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static const char *current; /* the input being run, for the crash message */
static unsigned passed, failed;

static void say_current(void)
{
    static const char pre[] = "fuzz-replay: crashed on ";
    if (current == NULL)
        return;
    /* Only async-signal-safe calls: this runs from a signal handler too. */
    (void)!write(2, pre, sizeof(pre) - 1);
    (void)!write(2, current, strlen(current));
    (void)!write(2, "\n", 1);
}

static void on_signal(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL)
        return -1;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *t = realloc(buf, ncap);
            if (t == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = t;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

static void run_one(const char *path)
{
    uint8_t *data = NULL, *exact;
    size_t len = 0;

    if (read_file(path, &data, &len) != 0) {
        fprintf(stderr, "not ok %s: %s\n", path, strerror(errno));
        failed++;
        return;
    }
    /* A copy of exactly len bytes, so that ASan sees a read one byte past
     * the input as the fuzzer would. */
    exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(data);
        fprintf(stderr, "not ok %s: out of memory\n", path);
        failed++;
        return;
    }
    if (len > 0)
        memcpy(exact, data, len);
    free(data);
    current = path;
    LLVMFuzzerTestOneInput(len ? exact : NULL, len);
    current = NULL;
    free(exact);
    printf("ok %s\n", path);
    fflush(stdout);
    passed++;
}

static int skip_name(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

static void run_dir(const char *dir)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);

    if (n < 0) {
        fprintf(stderr, "not ok %s: %s\n", dir, strerror(errno));
        failed++;
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        size_t plen = strlen(dir) + strlen(name) + 2;
        char *path = malloc(plen);
        struct stat st;

        if (path != NULL && !skip_name(name)) {
            snprintf(path, plen, "%s/%s", dir, name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                run_one(path);
        }
        free(path);
        free(list[i]);
    }
    free(list);
}

int main(int argc, char **argv)
{
    struct stat st;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    /* A sanitizer has its own handlers for faults (and would lose its
     * report to ours): name the input from its death callback instead. */
    signal(SIGABRT, on_signal);
    if (__sanitizer_set_death_callback != NULL) {
        __sanitizer_set_death_callback(say_current);
    } else {
        signal(SIGSEGV, on_signal);
        signal(SIGBUS, on_signal);
        signal(SIGFPE, on_signal);
        signal(SIGILL, on_signal);
    }

    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            run_dir(argv[i]);
        else
            run_one(argv[i]);
    }
    printf("fuzz-replay: %u passed, %u failed\n", passed, failed);
    if (fclose(stdout) != 0) {
        perror("fuzz-replay: stdout");
        return 2;
    }
    return failed ? 1 : 0;
}
