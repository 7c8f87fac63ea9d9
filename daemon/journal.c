/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JSON Lines journal writer and tolerant reader.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "journal.h"
#include "store.h"

struct Journal {
        int fd;
        off_t size; /* where the next line starts: a failed write is cut back to here */
        uint64_t lines;
};

/*
 * After a forced reboot or power loss the file can end in blocks the file
 * system allocated but never wrote (zeros: records written after the last
 * fsync) or in half a line. Records appended now must start on a line of
 * their own: the zeros go (they were never data), a torn line is closed
 * with a newline and stays, for the reader to count as bad.
 */
static void journal_mend_tail(Journal *j)
{
        char buf[4096];
        off_t end = j->size;

        while (end > 0) {
                size_t n = (size_t)(end < (off_t)sizeof buf ? end : (off_t)sizeof buf);
                ssize_t k = pread(j->fd, buf, n, end - (off_t)n);
                size_t i = n;
                if (k != (ssize_t)n)
                        return;
                while (i > 0 && buf[i - 1] == '\0')
                        i--;
                end -= (off_t)(n - i);
                if (i > 0)
                        break;
        }
        if (end != j->size) {
                if (ftruncate(j->fd, end) < 0)
                        return;
                j->size = end;
        }
        if (j->size > 0) {
                char last;
                if (pread(j->fd, &last, 1, j->size - 1) == 1 && last != '\n' && write(j->fd, "\n", 1) == 1)
                        j->size++;
        }
}

int journal_open(int dirfd, const char *name, Journal **ret)
{
        Journal *j;
        struct stat st;

        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (j->fd < 0 || fstat(j->fd, &st) < 0) {
                int r = negative_errno();
                journal_free(j);
                return r;
        }
        j->size = st.st_size;
        journal_mend_tail(j);
        *ret = j;
        return 0;
}

Journal *journal_free(Journal *j)
{
        if (!j)
                return NULL;
        safe_close(j->fd);
        free(j);
        return NULL;
}

int journal_append(Journal *j, json_object *record, JournalSync sync)
{
        const char *text;
        _cleanup_free_ char *line = NULL;
        size_t len;
        ssize_t n;

        if (!json_object_object_get_ex(record, "ts", NULL))
                json_object_object_add(record, "ts",
                                       json_object_new_int64((int64_t)(now_ns(CLOCK_REALTIME) / NSEC_PER_USEC)));
        if (!json_object_object_get_ex(record, "mono", NULL))
                json_object_object_add(record, "mono",
                                       json_object_new_int64((int64_t)(now_ns(CLOCK_MONOTONIC) / NSEC_PER_USEC)));

        text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        len = strlen(text);
        line = malloc(len + 1);
        if (!line)
                return -ENOMEM;
        memcpy(line, text, len);
        line[len++] = '\n';

        do
                n = write(j->fd, line, len);
        while (n < 0 && errno == EINTR);
        if (n < 0 || (size_t)n != len) {
                int r = n < 0 ? negative_errno() : -ENOSPC;
                /* Cut a torn line back off, so the next record starts on a line of its own. */
                if (n > 0)
                        (void)ftruncate(j->fd, j->size);
                return r;
        }
        j->size += (off_t)len;
        j->lines++;
        if (sync == JOURNAL_SYNC)
                return journal_sync(j);
        return 0;
}

int journal_sync(Journal *j)
{
        return fdatasync(j->fd) < 0 ? negative_errno() : 0;
}

uint64_t journal_lines(const Journal *j)
{
        return j->lines;
}

int journal_read(int dirfd, const char *name, int (*cb)(json_object *record, void *userdata), void *userdata,
                 unsigned *ret_bad)
{
        _cleanup_free_ char *buf = NULL;
        unsigned bad = 0;
        size_t len;
        char *p, *nl;
        int r;

        /* Journals of long soaks are large; 1 GiB is far past any sane one. */
        r = read_file_at(dirfd, name, 1ULL << 30, &buf, &len);
        if (r < 0)
                return r;
        for (p = buf; p < buf + len; p = nl + 1) {
                json_object *o;
                nl = memchr(p, '\n', (size_t)(buf + len - p));
                if (!nl) { /* a torn last line: the writer died mid-write or the power went */
                        bad++;
                        break;
                }
                *nl = '\0';
                if (nl == p)
                        continue;
                o = json_tokener_parse(p);
                if (!o || !json_object_is_type(o, json_type_object)) {
                        json_object_put(o);
                        bad++;
                        continue;
                }
                r = cb(o, userdata);
                json_object_put(o);
                if (r < 0)
                        return r;
        }
        if (ret_bad)
                *ret_bad = bad;
        return 0;
}
