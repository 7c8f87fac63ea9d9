/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Process plumbing for scenarios that need more than one process: a VMM
 * child that is SIGKILLed inside KVM_RUN, a peer that holds a VM fd it got
 * over SCM_RIGHTS, a VMM inside a memory cgroup. Every child dies with its
 * parent (PR_SET_PDEATHSIG), stays in the worker's process group, and is
 * reaped before the step that forked it returns: waits here are bounded,
 * and a child that outstays its bound is SIGKILLed and reaped.
 *
 * Parent and children meet in a page of MAP_SHARED memory; futexes on it
 * let one side sleep until the other changes a word.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/*
 * fork() for a helper process. In the child: PDEATHSIG=SIGKILL and the
 * check that the parent did not die before that took effect. Returns 0 in
 * the child, the child's pid in the parent, or negative errno.
 */
pid_t proc_fork_child(void);

/*
 * How a helper process ends: exit_group() at once, nothing of libc's or a
 * sanitizer's exit work (atexit handlers, stdio flushes, a leak check that
 * allocates — which inside a memory cgroup at its limit would park us).
 */
_noreturn_ void proc_exit(int code);

/* Reaps pid, waiting at most timeout_ns; after that SIGKILLs it, reaps it and returns -ETIMEDOUT. */
int proc_wait(pid_t pid, uint64_t timeout_ns, int *ret_status);
/* True while pid (our child) has not exited; does not reap. */
bool proc_alive(pid_t pid);
/* True while pid is running or runnable (state R in /proc/PID/stat): it holds or wants a CPU. */
bool proc_on_cpu(pid_t pid);
/* SIGKILL and reap, for error paths; pid <= 0 is ignored. Returns -1 for `pid = proc_kill_reap(pid)`. */
pid_t proc_kill_reap(pid_t pid);
/* "exited with status 3", "killed by SIGKILL", … for details. */
char *proc_status_describe(int status, char *buf, size_t len);

/* Sleeps until *word != old, timeout_ns passes (-ETIMEDOUT) or a wake. Works across processes. */
int futex_wait_change(_Atomic uint32_t *word, uint32_t old, uint64_t timeout_ns);
void futex_wake_all(_Atomic uint32_t *word);
/* Stores value and wakes every waiter. */
void futex_set(_Atomic uint32_t *word, uint32_t value);

/*
 * Waits until *word != old, checking every few ms that the given child is
 * still alive. Returns 0 when it changed, -ECHILD when the child exited
 * first (not reaped), -ETIMEDOUT.
 */
int proc_wait_word(_Atomic uint32_t *word, uint32_t old, pid_t child, uint64_t timeout_ns);

/*
 * Processes meet: each calls this once on the same zeroed word; they return
 * as close together as their CPUs allow, spinning (no syscalls) for up to
 * spin_ns, then sleeping on a futex until the last one comes. Returns 0, or
 * -ETIMEDOUT if it did not come within timeout_ns. The word's upper half
 * marks a sleeper, so the last to arrive only makes a syscall to wake one.
 */
int proc_barrier(_Atomic uint32_t *arrived, unsigned parties, uint64_t spin_ns, uint64_t timeout_ns);

/* SCM_RIGHTS over a unix socket: n fds in one message. recv honours the socket's SO_RCVTIMEO. */
int proc_send_fds(int sock, const int *fds, unsigned n);
int proc_recv_fds(int sock, int *fds, unsigned n);
