/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Run states, verdicts and the exit codes they map to: shared by the engine,
 * the daemon's bus API and the CLI, so every front end says the same thing.
 */
#pragma once

#include "util.h"

typedef enum RunState {
        RUN_PREPARING,
        RUN_RUNNING,
        RUN_STOPPING,
        RUN_FINISHED,
        _RUN_STATE_MAX,
} RunState;

typedef enum Verdict {
        VERDICT_PASS,       /* completed, no evidence */
        VERDICT_EVIDENCE,   /* the kernel left evidence (splat, taint, unplanned reboot, …) */
        VERDICT_ERROR,      /* could not run: bad profile, host lacks what it needs, setup failed */
        VERDICT_INCOMPLETE, /* stopped before its end, or every step of an actor hit an environment error */
        _VERDICT_MAX,
} Verdict;

/* Exit codes of `hvtorture run` (and `show`): documented in the README. */
enum {
        EXIT_PASS = 0,
        EXIT_EVIDENCE = 1,
        EXIT_USAGE = 2, /* usage, profile or setup error */
        EXIT_INCOMPLETE = 3,
};

const char *run_state_to_string(RunState s);
const char *verdict_to_string(Verdict v);
int verdict_from_string(const char *s); /* Verdict, or -EINVAL */
int verdict_exit_code(Verdict v);
