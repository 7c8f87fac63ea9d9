/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers every module uses: cleanup attributes in the style of
 * systemd and dbus-broker, ownership hand-off, time and number helpers.
 * Nothing here logs; nothing here allocates behind the caller's back.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership on: returns the value and leaves NULL (or -1) behind. */
#define TAKE_PTR(p)                                                                                               \
        ({                                                                                                        \
                __typeof__(p) _p_ = (p);                                                                          \
                (p) = NULL;                                                                                       \
                _p_;                                                                                              \
        })
#define TAKE_FD(fd)                                                                                               \
        ({                                                                                                        \
                int _fd_ = (fd);                                                                                  \
                (fd) = -1;                                                                                        \
                _fd_;                                                                                             \
        })

/* Generates `static inline void fooP(T **p)` calling `foo(*p)`. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                                   \
        static inline void func##p(type *p)                                                                       \
        {                                                                                                         \
                if (*p)                                                                                           \
                        func(*p);                                                                                 \
        }

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                (void)close(fd);
                errno = saved;
        }
        return -1;
}
static inline void closep(int *fd)
{
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void strv_free(char **l)
{
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline bool strcaseeq(const char *a, const char *b)
{
        return strcasecmp(a, b) == 0;
}
static inline const char *startswith(const char *s, const char *prefix)
{
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}
static inline const char *strempty(const char *s)
{
        return s ? s : "";
}
static inline const char *strna(const char *s)
{
        return s ? s : "n/a";
}
static inline const char *yes_no(bool b)
{
        return b ? "yes" : "no";
}

/* Number of live entries in a NULL-terminated string vector. */
static inline size_t strv_length(char *const *l)
{
        size_t n = 0;
        for (; l && l[n]; n++)
                ;
        return n;
}

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL
#define USEC_PER_SEC 1000000ULL

static inline uint64_t now_ns(clockid_t clock)
{
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Sleep for a relative time, resuming after signals that did not kill us. */
static inline void sleep_ns(uint64_t ns)
{
        struct timespec ts = { .tv_sec = (time_t)(ns / NSEC_PER_SEC), .tv_nsec = (long)(ns % NSEC_PER_SEC) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Returns negative errno of the last failed libc call, never 0. */
static inline int negative_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}
