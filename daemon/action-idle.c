/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=idle: a step that only spends time and reports an outcome drawn
 * from Outcomes=. It touches nothing in the kernel; it exists to try a
 * profile's pacing and the engine itself (counting, stopping, verdicts)
 * on any machine, and is what the engine's own tests run.
 */
#include <stddef.h>

#include "action.h"

typedef struct IdleParams {
        Range busy;
        Weighted outcomes;
} IdleParams;

enum { IDLE_OK, IDLE_ENV_ERROR, IDLE_FAILURE };

static const char *const idle_outcome_names[] = { "ok", "env-error", "failure", NULL };

static const Outcome idle_outcomes[] = {
        [IDLE_OK] = { "ok", OUTCOME_OK, "the step waited and ended" },
        [IDLE_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR, "a simulated environment error" },
        [IDLE_FAILURE] = { "failure", OUTCOME_FAILURE, "a simulated failure" },
};

static const char *const idle_metrics[] = { "busy_us", NULL };
static const char *const idle_phases[] = { "idle:busy", NULL };

static const KeySpec idle_keys[] = {
        { "Busy", KEY_RANGE, offsetof(IdleParams, busy), "0", 0, 60 * NSEC_PER_SEC, NULL,
          "time one step spends waiting, LOW..HIGH" },
        { "Outcomes", KEY_WEIGHTED, offsetof(IdleParams, outcomes), "ok", 1, 0, idle_outcome_names,
          "outcomes to report, WORD[:WEIGHT]" },
        {}
};

static void idle_describe(const void *params, FILE *f)
{
        const IdleParams *p = params;
        char a[32], b[32];
        fprintf(f, "waits %s..%s per step, reports", format_duration(a, sizeof a, p->busy.lo),
                format_duration(b, sizeof b, p->busy.hi));
        for (unsigned i = 0; i < p->outcomes.n; i++)
                fprintf(f, " %s:%u", idle_outcome_names[p->outcomes.choice[i]], p->outcomes.weight[i]);
}

static int idle_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const IdleParams *p = params;
        uint64_t busy = prng_range(worker_prng(w), p->busy.lo, p->busy.hi);
        unsigned pick = prng_weighted(worker_prng(w), p->outcomes.weight, p->outcomes.n);

        worker_set_phase(w, "idle:busy");
        if (busy)
                sleep_ns(busy);
        ret->outcome = p->outcomes.choice[pick];
        ret->metrics[0] = busy / NSEC_PER_USEC;
        if (ret->outcome != IDLE_OK)
                snprintf(ret->detail, sizeof ret->detail, "simulated %s", idle_outcome_names[ret->outcome]);
        return 0;
}

const ActionType action_idle = {
        .name = "idle",
        .summary = "spend time and report a chosen outcome; touches nothing (for trying profiles and the engine)",
        .flags = ACTION_ACTOR | ACTION_TRIGGER | ACTION_LOAD,
        .keys = idle_keys,
        .params_size = sizeof(IdleParams),
        .outcomes = idle_outcomes,
        .n_outcomes = ELEMENTSOF(idle_outcomes),
        .metrics = idle_metrics,
        .phases = idle_phases,
        .describe = idle_describe,
        .step = idle_step,
};
