/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory cgroups of our own, v1 or v2. See memcg.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
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

static inline void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
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

/* State letter and start time of a process, from /proc/PID/stat. */
static int proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start)
{
        char path[64], buf[1024], state;
        unsigned long long start;
        const char *p;
        int r;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        r = read_file(path, buf, sizeof buf);
        if (r < 0)
                return r;
        /* The comm may hold spaces and parentheses: the fields start after the last ')'. Field 3 is the
         * state, 4..21 are skipped, 22 is the start time. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %c" " %*s %*s %*s %*s %*s %*s %*s %*s %*s" " %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
                         &state, &start) != 2)
                return -EBADMSG;
        if (ret_state)
                *ret_state = state;
        *ret_start = start;
        return 0;
}

int proc_starttime(pid_t pid, uint64_t *ret)
{
        return proc_stat(pid, NULL, ret);
}

int pidns_self(uint64_t *ret)
{
        struct stat st;

        if (stat("/proc/self/ns/pid", &st) < 0)
                return negative_errno();
        *ret = (uint64_t)st.st_ino;
        return 0;
}

int memcg_name(char *buf, size_t len, const char *tag)
{
        uint64_t start, ns;
        int r, k;

        if (!tag[0] || strchr(tag, '/'))
                return -EINVAL;
        r = proc_starttime(getpid(), &start);
        if (r >= 0)
                r = pidns_self(&ns);
        if (r < 0)
                return r;
        k = snprintf(buf, len, MEMCG_PREFIX "%d-%" PRIu64 "-%" PRIu64 "-%s", (int)getpid(), start, ns, tag);
        return k < 0 || (size_t)k >= len ? -ENAMETOOLONG : 0;
}

/* Digits up to the next '-', as a number; advances *p past the '-'. */
static int parse_field(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        if (*s != '-')
                return -EINVAL;
        *p = s + 1;
        *ret = v;
        return 0;
}

int memcg_name_owner(const char *name, MemcgOwner *ret)
{
        const char *p = startswith(name, MEMCG_PREFIX);
        uint64_t pid, start, ns;

        if (!p || parse_field(&p, &pid) < 0 || parse_field(&p, &start) < 0 || parse_field(&p, &ns) < 0 || !*p ||
            strchr(p, '/'))
                return -EINVAL;
        if (pid == 0 || pid > INT32_MAX)
                return -EINVAL;
        *ret = (MemcgOwner){ .pid = (pid_t)pid, .starttime = start, .pidns = ns };
        return 0;
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

int memcg_disable_swap(Memcg *m)
{
        char path[PATH_MAX], buf[64];
        int r;

        if (m->version == MEMCG_V2)
                return write_file(m->path, "memory.swap.max", "0");
        /* memsw is memory + swap: at the memory limit, no page can go to swap. */
        snprintf(path, sizeof path, "%s/memory.limit_in_bytes", m->path);
        r = read_file(path, buf, sizeof buf);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = '\0';
        return write_file(m->path, "memory.memsw.limit_in_bytes", buf);
}

int memcg_peak(Memcg *m, uint64_t *ret)
{
        char path[PATH_MAX], buf[64];
        int r;

        snprintf(path, sizeof path, "%s/%s", m->path, m->version == MEMCG_V2 ? "memory.peak" : "memory.max_usage_in_bytes");
        r = read_file(path, buf, sizeof buf);
        if (r < 0)
                return r;
        *ret = strtoull(buf, NULL, 10);
        return 0;
}

int memcg_oom_watch(Memcg *m, int *ret_fd)
{
        char path[PATH_MAX], buf[64];
        int fd, ofd, r;

        if (m->version == MEMCG_V2) {
                fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                snprintf(path, sizeof path, "%s/memory.events", m->path);
                if (inotify_add_watch(fd, path, IN_MODIFY) < 0) {
                        r = negative_errno();
                        close(fd);
                        return r;
                }
                *ret_fd = fd;
                return 0;
        }

        /* v1: "<eventfd> <fd of memory.oom_control>" into cgroup.event_control (Documentation/admin-guide/cgroup-v1/memory.rst). */
        fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        snprintf(path, sizeof path, "%s/memory.oom_control", m->path);
        ofd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (ofd < 0) {
                r = negative_errno();
                close(fd);
                return r;
        }
        snprintf(buf, sizeof buf, "%d %d", fd, ofd);
        r = write_file(m->path, "cgroup.event_control", buf);
        /* The kernel keeps the eventfd, not the control file. */
        close(ofd);
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

unsigned memcg_watch_drain(int fd)
{
        char buf[4096] __attribute__((aligned(8)));
        unsigned n = 0;
        ssize_t k;

        /* An eventfd reads as its 8-byte counter; inotify as whole events of at least 16 bytes. */
        while ((k = read(fd, buf, sizeof buf)) > 0) {
                if (k == sizeof(uint64_t)) {
                        uint64_t v;
                        memcpy(&v, buf, sizeof v);
                        n += (unsigned)MIN(v, (uint64_t)UINT32_MAX);
                        continue;
                }
                for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= k;) {
                        const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
                        off += (ssize_t)(sizeof *ev + ev->len);
                        n++;
                }
        }
        return n;
}

int memcg_pids(Memcg *m, pid_t *pids, size_t max, size_t *ret_n)
{
        char path[PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;
        size_t n = 0;
        int pid;

        snprintf(path, sizeof path, "%s/cgroup.procs", m->path);
        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        while (n < max && fscanf(f, "%d", &pid) == 1)
                pids[n++] = (pid_t)pid;
        *ret_n = n;
        return 0;
}

int memcg_kill_all(Memcg *m, int sig)
{
        pid_t pids[1024];
        size_t n = 0;
        int r;

        r = memcg_pids(m, pids, ELEMENTSOF(pids), &n);
        if (r < 0)
                return r;
        /* cgroup.kill (v2, 5.14+) also catches a process forked while we read the list. */
        if (sig == SIGKILL && m->version == MEMCG_V2 && write_file(m->path, "cgroup.kill", "1") == 0)
                return (int)n;
        for (size_t i = 0; i < n; i++)
                (void)kill(pids[i], sig);
        return (int)n;
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

/* Our leftover processes, by name: workers and VMMs are hvt-…, a Load's stressors stress-ng…. */
static bool comm_is_ours(pid_t pid)
{
        char path[64], comm[32];

        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        if (read_file(path, comm, sizeof comm) < 0)
                return true; /* gone already */
        return startswith(comm, "hvt-") || startswith(comm, "stress-ng");
}

static bool owner_alive(pid_t pid, uint64_t starttime)
{
        uint64_t now;
        char state = '?';
        int r = proc_stat(pid, &state, &now);

        /* Unreadable for a reason other than "no such process": assume it lives, touch nothing. */
        if (r == -ENOENT || r == -ESRCH)
                return false;
        if (r < 0)
                return true;
        /* A zombie is gone, even if nobody reaped it (a PID 1 that does not reap keeps it forever). */
        return now == starttime && state != 'Z' && state != 'X';
}

int memcg_sweep(MemcgSweep *ret)
{
        _cleanup_(closedirp) DIR *d = NULL;
        MemcgSweep s = {};
        struct dirent *de;
        const char *root;
        uint64_t ns;
        int v, r;

        v = memcg_detect(NULL);
        if (v < 0) {
                *ret = s;
                return 0;
        }
        r = pidns_self(&ns);
        if (r < 0)
                return r;
        root = v == MEMCG_V2 ? CGROUP_ROOT : CGROUP_V1_MEMORY;
        d = opendir(root);
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                Memcg m = { .version = (MemcgVersion)v };
                char path[PATH_MAX];
                MemcgOwner owner;
                pid_t pids[256];
                size_t n = 0;
                bool foreign = false;

                if (de->d_type != DT_DIR || memcg_name_owner(de->d_name, &owner) < 0)
                        continue;
                if (owner.pidns != ns) {
                        s.elsewhere++;
                        continue;
                }
                if (owner_alive(owner.pid, owner.starttime)) {
                        s.live++;
                        continue;
                }
                snprintf(path, sizeof path, "%s/%s", root, de->d_name);
                m.path = path;
                if (memcg_pids(&m, pids, ELEMENTSOF(pids), &n) < 0)
                        n = 0;
                for (size_t i = 0; i < n; i++)
                        if (!comm_is_ours(pids[i]))
                                foreign = true;
                if (!foreign)
                        for (size_t i = 0; i < n; i++)
                                if (kill(pids[i], SIGKILL) == 0)
                                        s.killed++;
                if (foreign || memcg_remove(&m) < 0) {
                        if (s.busy++ == 0)
                                snprintf(s.first_busy, sizeof s.first_busy, "%s", de->d_name);
                        continue;
                }
                s.removed++;
        }
        *ret = s;
        return 0;
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
