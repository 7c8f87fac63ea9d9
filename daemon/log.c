/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one logger. It preserves errno, formats %m from the error passed in
 * (not from errno, which the caller may have clobbered), and speaks the
 * journal's <N> prefix protocol when stderr is connected to journald.
 */
#include <stdarg.h>
#include <sys/stat.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool to_journal;
static const char *tag;

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

void log_set_tag(const char *t)
{
        tag = t;
}

void log_open(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long long dev, ino;

        to_journal = false;
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        to_journal = st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

int log_internal(int level, int error, const char *file, int line, const char *format, ...)
{
        int saved_errno = errno;
        char buf[2048];
        va_list ap;
        int abs_error = error < 0 ? -error : error;

        if (level > max_level) {
                errno = saved_errno;
                return -abs_error;
        }

        /* glibc's %m reads errno: make it the error we were given. */
        errno = abs_error;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        if (to_journal)
                fprintf(stderr, "<%d>%s%s%s\n", level, tag ? tag : "", tag ? ": " : "", buf);
        else if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s%s%s (%s:%d)\n", tag ? tag : "", tag ? ": " : "", buf, file, line);
        else
                fprintf(stderr, "%s%s%s\n", tag ? tag : "", tag ? ": " : "", buf);

        errno = saved_errno;
        return -abs_error;
}
