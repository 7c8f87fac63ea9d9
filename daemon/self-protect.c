/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * oom_score_adj for the engine and its workers, and the start-up sweep of
 * stale cgroups. See self-protect.h.
 */
#include <fcntl.h>

#include "log.h"
#include "memcg.h"
#include "self-protect.h"

static void oom_score_adj_path(char *buf, size_t len, pid_t pid)
{
        if (pid == 0)
                snprintf(buf, len, "/proc/self/oom_score_adj");
        else
                snprintf(buf, len, "/proc/%d/oom_score_adj", (int)pid);
}

int oom_score_adj_get(pid_t pid, int *ret)
{
        char path[64], buf[32];
        _cleanup_close_ int fd = -1;
        ssize_t k;

        oom_score_adj_path(path, sizeof path, pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        k = read(fd, buf, sizeof buf - 1);
        if (k <= 0)
                return k < 0 ? negative_errno() : -EIO;
        buf[k] = '\0';
        *ret = atoi(buf);
        return 0;
}

int oom_score_adj_set(pid_t pid, int value)
{
        char path[64], buf[16];
        _cleanup_close_ int fd = -1;
        int len;

        if (value < OOM_SCORE_ADJ_MIN || value > OOM_SCORE_ADJ_MAX)
                return -ERANGE;
        oom_score_adj_path(path, sizeof path, pid);
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        len = snprintf(buf, sizeof buf, "%d", value);
        if (write(fd, buf, (size_t)len) != len)
                return negative_errno();
        return 0;
}

int oom_score_adj_unprotect(void)
{
        int v, r;

        r = oom_score_adj_get(0, &v);
        if (r < 0)
                return r;
        /* Raising it needs no privilege; a positive value someone chose stays. */
        return v < 0 ? oom_score_adj_set(0, 0) : 0;
}

void self_protect(const char *who)
{
        MemcgSweep s = {};
        int r;

        r = oom_score_adj_set(0, OOM_SCORE_ADJ_MIN);
        if (r < 0)
                log_warning_errno(r, "%s: cannot set its oom_score_adj to %d, ignoring (the OOM killer may pick "
                                  "this process): %m", who, OOM_SCORE_ADJ_MIN);

        r = memcg_sweep(&s);
        if (r < 0)
                log_warning_errno(r, "%s: cannot look for memory cgroups left by a crashed run, ignoring: %m", who);
        if (s.removed)
                log_notice("%s: removed %u memory cgroup%s left by a run or worker that is gone%s", who, s.removed,
                           s.removed == 1 ? "" : "s", s.killed ? " (and SIGKILLed its leftover processes)" : "");
        if (s.busy)
                log_warning("%s: %u memory cgroup%s of a run that is gone could not be removed (first: %s): a "
                            "process that is not ours is in it, or it has a child group; left alone",
                            who, s.busy, s.busy == 1 ? "" : "s", s.first_busy);
}
