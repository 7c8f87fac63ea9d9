/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How hvtorture keeps itself out of the way of what it provokes. The
 * process that runs the engine (hvtortured, or `hvtorture run`) makes
 * itself invisible to the OOM killer (oom_score_adj -1000, as the unit's
 * OOMScoreAdjust= does for the daemon): it writes the journal and the
 * report, so an OOM kill meant for a VMM must never take it. Workers must
 * not inherit that: each sets its own back to at least 0 at fork, so the
 * kernel may pick a worker, and its VMM (which asks for +1000) first.
 *
 * At start, memory cgroups a crashed run or worker left behind are swept
 * (memcg_sweep(): only groups named for an owner that is gone).
 */
#pragma once

#include <sys/types.h>

#define OOM_SCORE_ADJ_MIN (-1000)
#define OOM_SCORE_ADJ_MAX 1000

/* /proc/PID/oom_score_adj (pid 0: this process). */
int oom_score_adj_get(pid_t pid, int *ret);
int oom_score_adj_set(pid_t pid, int value);
/* A freshly forked worker: a negative oom_score_adj inherited from the engine goes back to 0. */
int oom_score_adj_unprotect(void);

/*
 * The boundary a daemon or one-shot run calls once at start: -1000 for
 * this process, then the sweep; logs what it did and what it could not
 * (not fatal: a non-root run goes on without either). who names the
 * program in the messages.
 */
void self_protect(const char *who);
