/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers for the kvm suite: skip (77) without a usable /dev/kvm, and the
 * check every test ends with — no process of ours (this one and anything
 * it forked, kept findable by being their subreaper) still holds /dev/kvm
 * or a KVM anon inode, and no child is left unreaped.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "test-util.h"

/* Exits 77 with the reason when this machine cannot run KVM tests. */
static inline void kvm_test_require(void)
{
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                TEST_SKIP("/dev/kvm not usable here: %s", strerror(errno));
        close(fd);
        /* Orphans of ours get reparented to us, so the leak scan can see them. */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static inline pid_t kvm_test_ppid_of(pid_t pid)
{
        char path[64], buf[512], *p;
        FILE *f;
        int ppid = -1;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')))
                (void)sscanf(p + 2, "%*c %d", &ppid);
        fclose(f);
        return ppid;
}

/* True if pid is us or one of our descendants. */
static inline int kvm_test_is_ours(pid_t pid)
{
        for (int depth = 0; pid > 1 && depth < 64; depth++) {
                if (pid == getpid())
                        return 1;
                pid = kvm_test_ppid_of(pid);
        }
        return 0;
}

/* Counts fds and mappings of ours that point at KVM; prints each. */
static inline unsigned kvm_test_count_kvm_fds(void)
{
        DIR *proc = opendir("/proc");
        struct dirent *de;
        unsigned n = 0;

        ASSERT_TRUE(proc);
        while ((de = readdir(proc))) {
                char path[300], link[256];
                pid_t pid = (pid_t)atoi(de->d_name);
                DIR *fds;
                struct dirent *fe;

                if (pid <= 0 || !kvm_test_is_ours(pid))
                        continue;
                snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
                fds = opendir(path);
                if (!fds)
                        continue;
                while ((fe = readdir(fds))) {
                        ssize_t k;
                        if (fe->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pid, fe->d_name);
                        k = readlink(path, link, sizeof link - 1);
                        if (k < 0)
                                continue;
                        link[k] = '\0';
                        if (strcmp(link, "/dev/kvm") == 0 || strncmp(link, "anon_inode:kvm-", 15) == 0) {
                                fprintf(stderr, "leak: pid %d fd %s -> %s\n", (int)pid, fe->d_name, link);
                                n++;
                        }
                }
                closedir(fds);

                /* A mapped kvm_run keeps its vCPU (and so the VM) alive just like an fd. */
                snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
                FILE *maps = fopen(path, "re");
                char line[512];
                while (maps && fgets(line, sizeof line, maps))
                        if (strstr(line, "anon_inode:kvm-")) {
                                fprintf(stderr, "leak: pid %d maps %s", (int)pid, line);
                                n++;
                        }
                if (maps)
                        fclose(maps);
        }
        closedir(proc);
        return n;
}

/* The end of every kvm test: nothing of ours holds KVM, no child is left. */
static inline void kvm_test_assert_clean(void)
{
        int status;

        ASSERT_EQ(kvm_test_count_kvm_fds(), 0);
        ASSERT_TRUE(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
}
