/*
 * unit.h - the unit-test harness: a registry of {name, fn} per suite, each
 * test run in its own process by tests/unit_main.c.  A failed check prints
 * file:line and both values, then ends that test's process.
 */
#ifndef PDX_UNIT_H
#define PDX_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pdx_test {
    const char *name;
    void (*fn)(void);
} pdx_test;

/* Each suite file defines `const pdx_test pdx_suite_NAME[]` ending in {0}. */
#define PDX_TEST_END {NULL, NULL}

#define PDX_FAIL_(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            PDX_FAIL_("check failed: %s", #cond);                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            PDX_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                   \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        if (a_ != b_)                                                                              \
            PDX_FAIL_("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_);                        \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            PDX_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                  \
                      b_ ? b_ : "(null)");                                                         \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            PDX_FAIL_("%s and %s differ in their first %zu bytes", #a, #b, (size_t)(n));           \
    } while (0)

#endif
