/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Child processes, futexes, a spin barrier and fd passing for the
 * multi-process KVM scenarios. See kvm-proc.h.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kvm-proc.h"
#include "util.h"

pid_t proc_fork_child(void)
{
        pid_t parent = getpid(), pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                /* Dies with the worker; stays in its process group so the engine's group kill reaches it. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        proc_exit(127);
        }
        return pid;
}

void proc_exit(int code)
{
        for (;;)
                (void)syscall(SYS_exit_group, code);
}

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

int proc_wait(pid_t pid, uint64_t timeout_ns, int *ret_status)
{
        uint64_t deadline = now_ns(CLOCK_MONOTONIC) + timeout_ns;
        int status = 0, pfd;
        pid_t k;

        pfd = pidfd_open_(pid);
        for (;;) {
                uint64_t now;

                k = waitpid(pid, &status, WNOHANG);
                if (k == pid)
                        break;
                if (k < 0 && errno != EINTR) {
                        safe_close(pfd);
                        return negative_errno();
                }
                now = now_ns(CLOCK_MONOTONIC);
                if (now >= deadline) {
                        safe_close(pfd);
                        (void)kill(pid, SIGKILL);
                        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        if (ret_status)
                                *ret_status = status;
                        return -ETIMEDOUT;
                }
                if (pfd >= 0) {
                        struct pollfd p = { .fd = pfd, .events = POLLIN };
                        uint64_t left_ms = (deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
                        (void)poll(&p, 1, (int)MIN(left_ms, 1000ULL));
                } else
                        sleep_ns(MIN(deadline - now, 100 * NSEC_PER_USEC));
        }
        safe_close(pfd);
        if (ret_status)
                *ret_status = status;
        return 0;
}

bool proc_alive(pid_t pid)
{
        siginfo_t si = {};

        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return false; /* not our child any more: already reaped */
        return si.si_pid == 0;
}

bool proc_on_cpu(pid_t pid)
{
        char path[64], buf[256], *p;
        ssize_t k;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
                return false;
        buf[k] = '\0';
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] == 'R';
}

pid_t proc_kill_reap(pid_t pid)
{
        if (pid > 0) {
                (void)kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        return -1;
}

char *proc_status_describe(int status, char *buf, size_t len)
{
        if (WIFEXITED(status))
                snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, len, "killed by SIG%s%s", sigabbrev_np(WTERMSIG(status)) ?: "?",
                         WCOREDUMP(status) ? " (core dumped)" : "");
        else
                snprintf(buf, len, "wait status 0x%x", (unsigned)status);
        return buf;
}

int futex_wait_change(_Atomic uint32_t *word, uint32_t old, uint64_t timeout_ns)
{
        struct timespec ts = { .tv_sec = (time_t)(timeout_ns / NSEC_PER_SEC),
                               .tv_nsec = (long)(timeout_ns % NSEC_PER_SEC) };

        if (atomic_load(word) != old)
                return 0;
        /* Shared, not FUTEX_PRIVATE: the word lives in memory shared between processes. */
        if (syscall(SYS_futex, word, FUTEX_WAIT, old, &ts, NULL, 0) < 0) {
                if (errno == ETIMEDOUT)
                        return -ETIMEDOUT;
                if (errno != EAGAIN && errno != EINTR)
                        return negative_errno();
        }
        return 0;
}

void futex_wake_all(_Atomic uint32_t *word)
{
        (void)syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void futex_set(_Atomic uint32_t *word, uint32_t value)
{
        atomic_store(word, value);
        futex_wake_all(word);
}

int proc_wait_word(_Atomic uint32_t *word, uint32_t old, pid_t child, uint64_t timeout_ns)
{
        uint64_t deadline = now_ns(CLOCK_MONOTONIC) + timeout_ns;

        for (;;) {
                uint64_t now;
                int r;

                if (atomic_load(word) != old)
                        return 0;
                if (child > 0 && !proc_alive(child))
                        return atomic_load(word) != old ? 0 : -ECHILD;
                now = now_ns(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = futex_wait_change(word, old, MIN(deadline - now, 5 * NSEC_PER_MSEC));
                if (r < 0 && r != -ETIMEDOUT)
                        return r;
        }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
}

#define BARRIER_SLEEPER (1U << 16)

int proc_barrier(_Atomic uint32_t *arrived, unsigned parties, uint64_t spin_ns, uint64_t timeout_ns)
{
        uint64_t start = now_ns(CLOCK_MONOTONIC);
        unsigned spins = 0;
        uint32_t v;

        v = atomic_fetch_add(arrived, 1) + 1;
        if ((v & 0xffff) >= parties) {
                /* Last one in: leave at once; a syscall only if someone sleeps. */
                if (v & BARRIER_SLEEPER)
                        futex_wake_all(arrived);
                return 0;
        }
        while (((v = atomic_load_explicit(arrived, memory_order_acquire)) & 0xffff) < parties) {
                cpu_relax();
                if (++spins % 1024 == 0 && now_ns(CLOCK_MONOTONIC) - start >= spin_ns)
                        break;
        }
        /* Too long for a spin: sleep until the count is complete (a wake, or the value moved). */
        while (((v = atomic_load(arrived)) & 0xffff) < parties) {
                uint64_t now = now_ns(CLOCK_MONOTONIC);
                if (now - start >= timeout_ns)
                        return -ETIMEDOUT;
                if (!(v & BARRIER_SLEEPER)) {
                        (void)atomic_compare_exchange_strong(arrived, &v, v | BARRIER_SLEEPER);
                        continue;
                }
                (void)futex_wait_change(arrived, v, MIN(timeout_ns - (now - start), 10 * NSEC_PER_MSEC));
        }
        return 0;
}

int proc_send_fds(int sock, const int *fds, unsigned n)
{
        char byte = 'F';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control = {};
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n),
        };
        struct cmsghdr *c;

        if (n == 0 || n > 8)
                return -EINVAL;
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return 0;
}

int proc_recv_fds(int sock, int *fds, unsigned n)
{
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control = {};
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof control.buf,
        };
        struct cmsghdr *c;
        ssize_t k;

        if (n == 0 || n > 8)
                return -EINVAL;
        do
                k = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        if (k == 0)
                return -EPIPE; /* the sender died before sending */
        c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(sizeof(int) * n)) {
                /* Close whatever did arrive rather than leak it. */
                if (c && c->cmsg_type == SCM_RIGHTS)
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                                safe_close(((int *)CMSG_DATA(c))[i]);
                return -EBADMSG;
        }
        memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
        return 0;
}
