/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A memory cgroup of our own, on cgroup v2 (memory.max) or v1
 * (memory.limit_in_bytes) — production hosts are mostly v2, these lab
 * machines are v1. Only cgroups this module created are ever written to
 * or removed; the name says whose it is (hvtorture-…).
 *
 * On v2 the group is made under the root, and only if the root delegates
 * the memory controller (cgroup.subtree_control lists "memory").
 *
 * Names: memcg_name() stamps a group with its owner, the process that
 * creates it, as hvtorture-PID-STARTTIME-PIDNS-TAG (STARTTIME from
 * /proc/PID/stat, so a recycled pid is not mistaken for the owner; PIDNS
 * the inode of its pid namespace, because a PID means something only
 * there). memcg_sweep() removes groups of that form whose owner is gone (a
 * worker or a run that crashed), and nothing else: a group whose owner
 * lives belongs to a run in progress, one made in another pid namespace
 * (a container sharing the hierarchy) is not ours to judge, and any other
 * name is not ours.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

typedef enum MemcgVersion {
        MEMCG_V1 = 1,
        MEMCG_V2 = 2,
} MemcgVersion;

typedef struct Memcg {
        char *path;
        MemcgVersion version;
        bool removed;
} Memcg;

/*
 * Which memory controller this host offers: MEMCG_V1/V2, or -EOPNOTSUPP
 * with *ret_reason (static text) saying what is missing.
 */
int memcg_detect(const char **ret_reason);
#define MEMCG_PREFIX "hvtorture-"
#define MEMCG_NAME_MAX 128

typedef struct MemcgOwner {
        pid_t pid;
        uint64_t starttime; /* clock ticks after boot */
        uint64_t pidns;     /* inode of the owner's pid namespace */
} MemcgOwner;

/* "hvtorture-PID-STARTTIME-PIDNS-TAG" for this process as owner; -ENAMETOOLONG if it does not fit. */
int memcg_name(char *buf, size_t len, const char *tag);
/* Parses a name memcg_name() made. -EINVAL for any other name. */
int memcg_name_owner(const char *name, MemcgOwner *ret);
/* The inode of this process's pid namespace. */
int pidns_self(uint64_t *ret);
/* A process's start time (clock ticks after boot, /proc/PID/stat field 22). */
int proc_starttime(pid_t pid, uint64_t *ret);

/* Creates NAME under the memory hierarchy. -EEXIST if it exists (never reused: it may not be ours). */
int memcg_create(const char *name, Memcg **ret);
/* Moves a process in. */
int memcg_attach(Memcg *m, pid_t pid);
/* Bytes charged right now. */
int memcg_usage(Memcg *m, uint64_t *ret);
/* Hard limit; UINT64_MAX lifts it. */
int memcg_set_limit(Memcg *m, uint64_t bytes);
/*
 * v1 only: with the OOM killer off, a kernel allocation over the limit
 * fails with ENOMEM instead of killing the task — the error path we want
 * to run. -EOPNOTSUPP on v2 (there the OOM killer always acts).
 */
int memcg_set_oom_killer(Memcg *m, bool enabled);
/* v1: true while tasks of the group wait in the OOM state (a page fault parked with the killer off). */
int memcg_under_oom(Memcg *m, bool *ret);
/* OOM kills in this group so far. */
int memcg_oom_kills(Memcg *m, uint64_t *ret);
/*
 * Keeps the group's memory out of swap, so that the limit is met by the
 * OOM killer and not by swapping: v1 memory.memsw.limit_in_bytes set to the
 * memory limit (call after memcg_set_limit), v2 memory.swap.max = 0.
 * -ENOENT where the kernel does not account swap (no such file).
 */
int memcg_disable_swap(Memcg *m);
/* The most the group was charged: v1 memory.max_usage_in_bytes, v2 memory.peak (5.19+; -ENOENT before). */
int memcg_peak(Memcg *m, uint64_t *ret);
/*
 * An fd that becomes readable (poll POLLIN) when the group meets OOM: v1
 * an eventfd registered through cgroup.event_control on
 * memory.oom_control, v2 an inotify watch on memory.events (which the
 * kernel touches for every oom, oom_kill, max, … event). Non-blocking,
 * O_CLOEXEC. memcg_watch_drain() consumes what it signalled and returns
 * how many notifications that was (0 if none).
 */
int memcg_oom_watch(Memcg *m, int *ret_fd);
unsigned memcg_watch_drain(int fd);
/* The pids in the group (cgroup.procs), at most max; *ret_n says how many were stored. */
int memcg_pids(Memcg *m, pid_t *pids, size_t max, size_t *ret_n);
/* Sends sig to every process in the group (v2 SIGKILL: cgroup.kill where the kernel has it). Returns how many. */
int memcg_kill_all(Memcg *m, int sig);
/* Removes the (empty) group, retrying briefly while the kernel lets go of it. */
int memcg_remove(Memcg *m);
/*
 * What memcg_sweep() found: groups of dead owners removed, such groups it
 * had to leave (busy: a process in them that is not one of ours, or a
 * child group), and groups of live owners (runs in progress) left alone.
 */
typedef struct MemcgSweep {
        unsigned removed, busy, live;
        unsigned elsewhere; /* groups made in another pid namespace: left alone */
        unsigned killed; /* leftover processes of ours (by name) that were in removed groups */
        char first_busy[256]; /* the first busy group's name */
} MemcgSweep;

/*
 * Removes hvtorture-PID-STARTTIME-… groups whose owner is gone. A leftover
 * process in such a group is SIGKILLed only when its name says it is ours
 * (hvt-…, stress-ng…); anything else keeps its group, counted as busy.
 * Returns 0 (also when there is no memory controller: nothing to sweep)
 * or negative errno when the hierarchy cannot be read.
 */
int memcg_sweep(MemcgSweep *ret);

/* memcg_remove() if not done yet, then frees m. Takes NULL. */
Memcg *memcg_free(Memcg *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Memcg *, memcg_free);
