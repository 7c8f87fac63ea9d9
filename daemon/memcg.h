/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A memory cgroup of our own, on cgroup v2 (memory.max) or v1
 * (memory.limit_in_bytes) — production hosts are mostly v2, these lab
 * machines are v1. Only cgroups this module created are ever written to
 * or removed; the name says whose it is (hvtorture-…).
 *
 * On v2 the group is made under the root, and only if the root delegates
 * the memory controller (cgroup.subtree_control lists "memory").
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
/* Removes the (empty) group, retrying briefly while the kernel lets go of it. */
int memcg_remove(Memcg *m);
/* memcg_remove() if not done yet, then frees m. Takes NULL. */
Memcg *memcg_free(Memcg *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Memcg *, memcg_free);
