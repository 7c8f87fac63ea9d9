/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory cgroups of our own, v1 or v2. See memcg.h.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "memcg.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_V1_MEMORY CGROUP_ROOT "/memory"

static int write_file(const char *dir, const char *file, const char *value)
{
        char path[PATH_MAX];
        size_t len = strlen(value);
        ssize_t k;
        int fd;

        snprintf(path, sizeof path, "%s/%s", dir, file);
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        k = write(fd, value, len);
        if (k < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        close(fd);
        return (size_t)k == len ? 0 : -EIO;
}

static int read_file(const char *path, char *buf, size_t len)
{
        ssize_t k;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        k = read(fd, buf, len - 1);
        if (k < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        close(fd);
        buf[k] = '\0';
        return 0;
}

static bool is_fs(const char *path, long magic)
{
        struct statfs s;
        return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

int memcg_detect(const char **ret_reason)
{
        const char *reason = NULL;
        char buf[512];

        if (is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC)) {
                if (read_file(CGROUP_ROOT "/cgroup.subtree_control", buf, sizeof buf) < 0)
                        reason = "cannot read " CGROUP_ROOT "/cgroup.subtree_control";
                else {
                        for (char *w = strtok(buf, " \n"); w; w = strtok(NULL, " \n"))
                                if (streq(w, "memory"))
                                        return MEMCG_V2;
                        reason = "cgroup v2 without the memory controller enabled at the root "
                                 "(cgroup.subtree_control lacks \"memory\")";
                }
        } else if (is_fs(CGROUP_V1_MEMORY, CGROUP_SUPER_MAGIC)) {
                if (access(CGROUP_V1_MEMORY "/memory.limit_in_bytes", F_OK) == 0)
                        return MEMCG_V1;
                reason = CGROUP_V1_MEMORY " has no memory.limit_in_bytes";
        } else
                reason = "no memory cgroup controller: " CGROUP_ROOT " is neither cgroup v2 nor has a v1 "
                         "memory hierarchy";
        if (ret_reason)
                *ret_reason = reason;
        return -EOPNOTSUPP;
}

int memcg_create(const char *name, Memcg **ret)
{
        Memcg *m;
        int v;

        if (!startswith(name, "hvtorture-") || strchr(name, '/'))
                return -EINVAL;
        v = memcg_detect(NULL);
        if (v < 0)
                return v;
        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->version = (MemcgVersion)v;
        if (asprintf(&m->path, "%s/%s", v == MEMCG_V2 ? CGROUP_ROOT : CGROUP_V1_MEMORY, name) < 0) {
                free(m);
                return -ENOMEM;
        }
        if (mkdir(m->path, 0755) < 0) {
                int r = negative_errno();
                free(m->path);
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

int memcg_attach(Memcg *m, pid_t pid)
{
        char buf[32];
        snprintf(buf, sizeof buf, "%d", (int)pid);
        return write_file(m->path, "cgroup.procs", buf);
}

int memcg_usage(Memcg *m, uint64_t *ret)
{
        char path[PATH_MAX], buf[64];
        int r;

        snprintf(path, sizeof path, "%s/%s", m->path, m->version == MEMCG_V2 ? "memory.current" : "memory.usage_in_bytes");
        r = read_file(path, buf, sizeof buf);
        if (r < 0)
                return r;
        *ret = strtoull(buf, NULL, 10);
        return 0;
}

int memcg_set_limit(Memcg *m, uint64_t bytes)
{
        char buf[32];

        if (bytes == UINT64_MAX)
                snprintf(buf, sizeof buf, "%s", m->version == MEMCG_V2 ? "max" : "-1");
        else
                snprintf(buf, sizeof buf, "%" PRIu64, bytes);
        return write_file(m->path, m->version == MEMCG_V2 ? "memory.max" : "memory.limit_in_bytes", buf);
}

int memcg_set_oom_killer(Memcg *m, bool enabled)
{
        if (m->version != MEMCG_V1)
                return -EOPNOTSUPP;
        return write_file(m->path, "memory.oom_control", enabled ? "0" : "1");
}

int memcg_under_oom(Memcg *m, bool *ret)
{
        char path[PATH_MAX], buf[1024];
        const char *p;
        int r;

        if (m->version != MEMCG_V1)
                return -EOPNOTSUPP;
        snprintf(path, sizeof path, "%s/memory.oom_control", m->path);
        r = read_file(path, buf, sizeof buf);
        if (r < 0)
                return r;
        p = strstr(buf, "under_oom ");
        *ret = p && strtoul(p + strlen("under_oom "), NULL, 10) > 0;
        return 0;
}

int memcg_oom_kills(Memcg *m, uint64_t *ret)
{
        char path[PATH_MAX], buf[1024];
        const char *p;
        int r;

        snprintf(path, sizeof path, "%s/%s", m->path, m->version == MEMCG_V2 ? "memory.events" : "memory.oom_control");
        r = read_file(path, buf, sizeof buf);
        if (r < 0)
                return r;
        p = strstr(buf, "oom_kill ");
        *ret = p ? strtoull(p + strlen("oom_kill "), NULL, 10) : 0;
        return 0;
}

int memcg_remove(Memcg *m)
{
        if (m->removed)
                return 0;
        /* The last task just left; the kernel may need a moment before the group is empty. */
        for (int i = 0; i < 100; i++) {
                if (rmdir(m->path) == 0 || errno == ENOENT) {
                        m->removed = true;
                        return 0;
                }
                if (errno != EBUSY)
                        return negative_errno();
                sleep_ns(10 * NSEC_PER_MSEC);
        }
        return -EBUSY;
}

Memcg *memcg_free(Memcg *m)
{
        if (!m)
                return NULL;
        (void)memcg_remove(m);
        free(m->path);
        free(m);
        return NULL;
}
