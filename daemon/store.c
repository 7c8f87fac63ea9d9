/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Run directories and atomic whole-file writes. Everything is relative to
 * directory fds (openat and friends), so a run directory renamed or a state
 * dir given as a relative path never sends a write somewhere else.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "store.h"

struct Store {
        char *path;
        int dirfd;
        int runs_fd;
};

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        char *s;

        if (!p)
                return -ENOMEM;
        for (s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

int store_open(const char *state_dir, Store **ret)
{
        Store *s;
        int r;

        r = mkdir_p(state_dir, 0755);
        if (r < 0)
                return r;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->runs_fd = -1;
        s->path = strdup(state_dir);
        s->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!s->path || s->dirfd < 0) {
                r = s->path ? negative_errno() : -ENOMEM;
                store_free(s);
                return r;
        }
        if (mkdirat(s->dirfd, "runs", 0755) < 0 && errno != EEXIST) {
                r = negative_errno();
                store_free(s);
                return r;
        }
        s->runs_fd = openat(s->dirfd, "runs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->runs_fd < 0) {
                r = negative_errno();
                store_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Store *store_free(Store *s)
{
        if (!s)
                return NULL;
        safe_close(s->dirfd);
        safe_close(s->runs_fd);
        free(s->path);
        free(s);
        return NULL;
}

const char *store_path(const Store *s)
{
        return s->path;
}

int store_new_run_id(char ret[static RUN_ID_MAX])
{
        time_t t = time(NULL);
        struct tm tm;
        uint16_t rnd = 0;

        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
                rnd = (uint16_t)(now_ns(CLOCK_MONOTONIC) ^ (uint64_t)getpid());
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        snprintf(ret, RUN_ID_MAX, "%04d%02d%02d-%02d%02d%02d-%04x", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, rnd);
        return 0;
}

bool store_run_id_valid(const char *id)
{
        size_t n = strlen(id);

        if (n == 0 || n >= RUN_ID_MAX || id[0] == '.')
                return false;
        for (const char *p = id; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      *p == '-' || *p == '_'))
                        return false;
        return true;
}

static int fsync_dirfd(int dirfd)
{
        return fsync(dirfd) < 0 ? negative_errno() : 0;
}

int store_create_run(Store *s, const char *id, int *ret_dirfd)
{
        int fd, r;

        if (!store_run_id_valid(id))
                return -EINVAL;
        if (mkdirat(s->runs_fd, id, 0755) < 0)
                return negative_errno();
        fd = openat(s->runs_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (mkdirat(fd, "evidence", 0755) < 0 && errno != EEXIST) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        /* The run directory itself must survive a crash right after creation. */
        (void)fsync_dirfd(fd);
        (void)fsync_dirfd(s->runs_fd);
        *ret_dirfd = fd;
        return 0;
}

int store_open_run(Store *s, const char *id, int *ret_dirfd)
{
        int fd;

        if (!store_run_id_valid(id))
                return -EINVAL;
        fd = openat(s->runs_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret_dirfd = fd;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list_runs(Store *s, char ***ret_ids)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        DIR *d;
        struct dirent *de;
        int fd;

        fd = openat(s->runs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        l = calloc(1, sizeof *l);
        if (!l) {
                closedir(d);
                return -ENOMEM;
        }
        while ((de = readdir(d))) {
                char **nl;
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                if (!store_run_id_valid(de->d_name))
                        continue;
                nl = realloc(l, (n + 2) * sizeof *l);
                if (!nl) {
                        closedir(d);
                        return -ENOMEM;
                }
                l = nl;
                l[n] = strdup(de->d_name);
                if (!l[n]) {
                        closedir(d);
                        return -ENOMEM;
                }
                l[++n] = NULL;
        }
        closedir(d);
        qsort(l, n, sizeof *l, cmp_str);
        *ret_ids = TAKE_PTR(l);
        return 0;
}

static int open_active_dir(Store *s)
{
        int fd;

        if (mkdirat(s->dirfd, "active", 0755) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(s->dirfd, "active", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int store_mark_active(Store *s, const char *id, const char *owner)
{
        _cleanup_close_ int fd = -1;
        char text[96];

        if (!store_run_id_valid(id))
                return -EINVAL;
        fd = open_active_dir(s);
        if (fd < 0)
                return fd;
        snprintf(text, sizeof text, "owner=%s\npid=%d\n", owner, (int)getpid());
        return write_file_atomic_at(fd, id, text, strlen(text));
}

int store_clear_active(Store *s, const char *id)
{
        _cleanup_close_ int fd = -1;

        if (!store_run_id_valid(id))
                return -EINVAL;
        fd = openat(s->dirfd, "active", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (unlinkat(fd, id, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return fsync_dirfd(fd);
}

int store_list_active(Store *s, char ***ret_ids)
{
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int fd;

        if (!l)
                return -ENOMEM;
        fd = openat(s->dirfd, "active", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret_ids = TAKE_PTR(l);
                return 0;
        }
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        while ((de = readdir(d))) {
                char **nl;
                if (!store_run_id_valid(de->d_name))
                        continue;
                nl = realloc(l, (n + 2) * sizeof *l);
                if (!nl || !(nl[n] = strdup(de->d_name))) {
                        if (nl)
                                l = nl;
                        closedir(d);
                        return -ENOMEM;
                }
                l = nl;
                l[++n] = NULL;
        }
        closedir(d);
        qsort(l, n, sizeof *l, cmp_str);
        *ret_ids = TAKE_PTR(l);
        return 0;
}

int store_read_active(Store *s, const char *id, char ret_owner[static 16], pid_t *ret_pid)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        int pid = 0, r;
        char *p;

        if (!store_run_id_valid(id))
                return -EINVAL;
        fd = openat(s->dirfd, "active", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        r = read_file_at(fd, id, 4096, &text, NULL);
        if (r < 0)
                return r;
        snprintf(ret_owner, 16, "unknown");
        if ((p = strstr(text, "owner=")))
                snprintf(ret_owner, 16, "%.*s", (int)strcspn(p + 6, "\n"), p + 6);
        if ((p = strstr(text, "pid=")))
                pid = atoi(p + 4);
        *ret_pid = pid;
        return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len)
{
        char tmp[256];
        int fd, r;

        if (strlen(name) > 200)
                return -ENAMETOOLONG;
        snprintf(tmp, sizeof tmp, ".%s.tmp.%d", name, (int)getpid());
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return negative_errno();
        r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (close(fd) < 0 && r >= 0)
                r = negative_errno();
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = negative_errno();
        if (r < 0) {
                (void)unlinkat(dirfd, tmp, 0);
                return r;
        }
        return fsync_dirfd(dirfd);
}

int read_file_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t n;
                if (cap - len < 2) {
                        char *nb;
                        cap = cap ? cap * 2 : 4096;
                        nb = realloc(buf, cap);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (max && len > max)
                        return -EFBIG;
        }
        if (!buf) {
                buf = strdup("");
                if (!buf)
                        return -ENOMEM;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_boot_id(char ret[static 37])
{
        _cleanup_free_ char *buf = NULL;
        int r;

        r = read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &buf, NULL);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = '\0';
        if (strlen(buf) != 36)
                return -EBADMSG;
        memcpy(ret, buf, 37);
        return 0;
}
