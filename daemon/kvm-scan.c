/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The /proc scan for KVM holders. See kvm-scan.h.
 */
#include <dirent.h>
#include <fcntl.h>

#include "kvm-scan.h"

/* A parent chain longer than this is not one we made (the engine forks two levels deep at most). */
#define ANCESTRY_MAX 256

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* What one link in /proc/PID/fd or one line of /proc/PID/maps says about KVM. */
static void classify_name(const char *name, KvmHolder *h)
{
        const char *kvm = strstr(name, "anon_inode:kvm-");

        if (kvm) {
                if (streq(kvm, "anon_inode:kvm-vm"))
                        h->vm_fds++;
                else
                        h->kvm_objs++; /* vCPUs, stats, devices: each keeps its VM alive */
        } else if (streq(name, "/dev/kvm"))
                h->dev_fds++;
}

static int scan_fds(int proc_fd, pid_t pid, KvmHolder *h)
{
        char path[64];
        DIR *d;
        struct dirent *de;
        int fd;

        snprintf(path, sizeof path, "%d/fd", (int)pid);
        fd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                char link[256];
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
                if (n < 0)
                        continue; /* closed since readdir */
                link[n] = '\0';
                classify_name(link, h);
        }
        closedir(d);
        return 0;
}

/* A vCPU's run page mapped after its fd was closed still keeps the VM alive. */
static int scan_maps(int proc_fd, pid_t pid, KvmHolder *h)
{
        char path[64], line[512];
        FILE *f;
        int fd;

        snprintf(path, sizeof path, "%d/maps", (int)pid);
        fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        f = fdopen(fd, "re");
        if (!f) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        while (fgets(line, sizeof line, f)) {
                char *kvm = strstr(line, "anon_inode:kvm-");
                if (kvm) {
                        kvm[strcspn(kvm, "\n")] = '\0';
                        classify_name(kvm, h);
                }
        }
        fclose(f);
        return 0;
}

static int read_stat_ppid(int proc_fd, pid_t pid, pid_t *ret)
{
        char path[64], buf[1024];
        const char *p;
        ssize_t n;
        int fd;
        long ppid;

        snprintf(path, sizeof path, "%d/stat", (int)pid);
        fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof buf - 1);
        safe_close(fd);
        if (n <= 0)
                return n < 0 ? negative_errno() : -EBADMSG;
        buf[n] = '\0';
        /* "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses, so look for the last ')'. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1)
                return -EBADMSG;
        *ret = (pid_t)ppid;
        return 0;
}

static bool is_ours(int proc_fd, pid_t pid, pid_t root)
{
        for (unsigned depth = 0; depth < ANCESTRY_MAX; depth++) {
                pid_t ppid;
                if (pid == root)
                        return true;
                if (pid <= 1 || read_stat_ppid(proc_fd, pid, &ppid) < 0)
                        return false; /* an orphan, or gone mid-walk: not provably ours */
                pid = ppid;
        }
        return false;
}

static void read_comm(int proc_fd, pid_t pid, char comm[static 16])
{
        char path[64];
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "%d/comm", (int)pid);
        comm[0] = '\0';
        fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, comm, 15);
        safe_close(fd);
        comm[n > 0 ? n : 0] = '\0';
        comm[strcspn(comm, "\n")] = '\0';
}

static void name_holder(KvmScan *s, const KvmHolder *h)
{
        if (s->n_named < KVM_SCAN_NAMED) {
                s->named[s->n_named++] = *h;
                return;
        }
        /* Full: a VM holder replaces one that only has /dev/kvm open. */
        if (h->vm_fds || h->kvm_objs)
                for (size_t i = 0; i < s->n_named; i++)
                        if (!s->named[i].vm_fds && !s->named[i].kvm_objs) {
                                s->named[i] = *h;
                                return;
                        }
}

static int holder_cmp(const void *a, const void *b)
{
        const KvmHolder *x = a, *y = b;
        return (x->pid > y->pid) - (x->pid < y->pid);
}

int kvm_scan(int proc_fd, pid_t root, KvmScan *ret)
{
        KvmScan s = {};
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                KvmHolder h = {};
                unsigned vms;
                int r;

                if (!all_digits(de->d_name) || strlen(de->d_name) > 9)
                        continue;
                h.pid = (pid_t)atoi(de->d_name);
                s.procs++;
                r = scan_fds(proc_fd, h.pid, &h);
                if (r == -ENOENT || r == -ESRCH)
                        continue; /* exited */
                if (r < 0) {
                        /* Not knowing what a process holds is not the same as knowing it holds nothing. */
                        closedir(d);
                        return r;
                }
                if (!h.vm_fds && !h.kvm_objs)
                        (void)scan_maps(proc_fd, h.pid, &h);
                if (!h.vm_fds && !h.kvm_objs && !h.dev_fds)
                        continue;
                vms = h.vm_fds ? h.vm_fds : h.kvm_objs ? 1 : 0;
                if (is_ours(proc_fd, h.pid, root)) {
                        s.own_vms += vms;
                        continue;
                }
                read_comm(proc_fd, h.pid, h.comm);
                if (vms) {
                        s.foreign_procs++;
                        s.foreign_vms += vms;
                } else
                        s.foreign_dev++;
                name_holder(&s, &h);
        }
        closedir(d);
        /* In pid order, whatever order the directory listed them in. */
        qsort(s.named, s.n_named, sizeof s.named[0], holder_cmp);
        *ret = s;
        return 0;
}

int kvm_scan_path(const char *proc, pid_t root, KvmScan *ret)
{
        _cleanup_close_ int fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        return kvm_scan(fd, root, ret);
}

char *kvm_scan_describe_foreign(const KvmScan *s, char *buf, size_t len)
{
        unsigned shown = 0;
        size_t at;

        snprintf(buf, len, "%u VM%s of other processes:", s->foreign_vms, s->foreign_vms == 1 ? "" : "s");
        for (size_t i = 0; i < s->n_named; i++) {
                const KvmHolder *h = &s->named[i];
                unsigned vms = h->vm_fds ? h->vm_fds : h->kvm_objs ? 1 : 0;
                if (!vms)
                        continue;
                at = strlen(buf);
                snprintf(buf + at, len - at, "%s pid %d (%s) %u VM%s", shown ? "," : "", (int)h->pid,
                         h->comm[0] ? h->comm : "?", vms, vms == 1 ? "" : "s");
                shown++;
        }
        if (s->foreign_procs > shown) {
                at = strlen(buf);
                snprintf(buf + at, len - at, ", and %u more process%s", s->foreign_procs - shown,
                         s->foreign_procs - shown == 1 ? "" : "es");
        }
        return buf;
}
