/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Minimal test helpers: each test-*.c is one executable; a failed check
 * prints file:line, the expression and the values, then exits 1.
 * Exit 77 means skipped (meson shows the reason printed before it).
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_TEST_SKIP 77

#define TEST_FAIL(...)                                                                                            \
        do {                                                                                                      \
                fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                                             \
                fprintf(stderr, __VA_ARGS__);                                                                     \
                fputc('\n', stderr);                                                                              \
                exit(EXIT_FAILURE);                                                                               \
        } while (0)

#define ASSERT_TRUE(expr)                                                                                         \
        do {                                                                                                      \
                if (!(expr))                                                                                      \
                        TEST_FAIL("%s", #expr);                                                                   \
        } while (0)

#define ASSERT_EQ(a, b)                                                                                           \
        do {                                                                                                      \
                long long _a = (long long)(a), _b = (long long)(b);                                               \
                if (_a != _b)                                                                                     \
                        TEST_FAIL("%s == %s (%lld != %lld)", #a, #b, _a, _b);                                     \
        } while (0)

#define ASSERT_OK(expr)                                                                                           \
        do {                                                                                                      \
                long long _r = (long long)(expr);                                                                 \
                if (_r < 0)                                                                                       \
                        TEST_FAIL("%s returned %lld (%s)", #expr, _r, strerror((int)-_r));                        \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                                        \
        do {                                                                                                      \
                const char *_a = (a), *_b = (b);                                                                  \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                                            \
                        TEST_FAIL("%s == %s (\"%s\" != \"%s\")", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
        } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                                              \
        do {                                                                                                      \
                const char *_h = (hay), *_n = (needle);                                                           \
                if (!_h || !strstr(_h, _n))                                                                       \
                        TEST_FAIL("\"%s\" does not contain \"%s\"", _h ? _h : "(null)", _n);                      \
        } while (0)

#define TEST_SKIP(...)                                                                                            \
        do {                                                                                                      \
                printf("SKIP: ");                                                                                 \
                printf(__VA_ARGS__);                                                                              \
                putchar('\n');                                                                                    \
                exit(EXIT_TEST_SKIP);                                                                             \
        } while (0)
