/*
 * unit_main.c - runs every registered unit test in its own process and ends
 * with "N passed, N failed".  Arguments, if any, select tests whose
 * "suite.name" contains one of them.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

/* PDX_TEST_LIST lets a partial build name its own list of suites. */
#ifndef PDX_TEST_LIST
#define PDX_TEST_LIST "test_list.h"
#endif

#define PDX_SUITE(name) extern const pdx_test pdx_suite_##name[];
#include PDX_TEST_LIST
#undef PDX_SUITE

typedef struct suite {
    const char *name;
    const pdx_test *tests;
} suite;

static const suite suites[] = {
#define PDX_SUITE(name) {#name, pdx_suite_##name},
#include PDX_TEST_LIST
#undef PDX_SUITE
};

static int selected(const char *full, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(full, argv[i]) != NULL)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned passed = 0, failed = 0;
    for (size_t s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
        for (const pdx_test *t = suites[s].tests; t->name != NULL; t++) {
            char full[256];
            snprintf(full, sizeof(full), "%s.%s", suites[s].name, t->name);
            if (!selected(full, argc, argv))
                continue;
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 2;
            }
            if (pid == 0) {
                t->fn();
                fflush(stdout);
                _exit(0);
            }
            int st = 0;
            while (waitpid(pid, &st, 0) < 0) {
            }
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                passed++;
                printf("ok   %s\n", full);
            } else {
                failed++;
                if (WIFSIGNALED(st))
                    printf("FAIL %s (signal %d)\n", full, WTERMSIG(st));
                else
                    printf("FAIL %s (exit %d)\n", full, WEXITSTATUS(st));
            }
        }
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
