/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Actions: the typed operations a profile strings together. Each action is
 * one ActionType: its profile keys (a KeySpec table over its own params
 * struct), the outcomes one step can have, and the code that runs a step
 * inside a worker process. The engine never knows what an action does; it
 * forks workers, paces them, counts outcomes and journals them.
 *
 * Adding an action: write daemon/action-NAME.c defining an ActionType, add
 * it to action_types[] in daemon/action.c and its file to daemon/meson.build.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "prng.h"
#include "result.h"

typedef struct Worker Worker;
typedef struct HostConfig HostConfig;

/*
 * What a run may do on this host, for actions that touch more than their
 * own objects (module actions unload what everybody shares). The engine
 * fills it before the run starts and hands it to check_allowed() and, through
 * worker_host(), to every worker.
 */
typedef struct ActionHost {
        const HostConfig *config; /* the host config (its defaults when there is no file); NULL: none was loaded */
        bool allow_destructive;   /* the host's AllowDestructive=yes or the one-shot CLI's --allow-destructive */
        pid_t engine_pid;         /* the process running the engine: the run's own processes descend from it */
} ActionHost;

/* How an outcome counts. */
typedef enum OutcomeClass {
        OUTCOME_OK,        /* the step did what it was meant to */
        OUTCOME_EXPECTED,  /* a failure the scenario provokes on purpose (e.g. /dev/kvm gone mid-unload) */
        OUTCOME_ENV_ERROR, /* the host could not give what was asked (EMFILE, ENOMEM, EBUSY): not a kernel bug */
        OUTCOME_FAILURE,   /* something that should not happen: reported, counts against the run */
} OutcomeClass;

typedef struct Outcome {
        const char *name; /* journal and report key, e.g. "close", "sigkill", "env-error" */
        OutcomeClass class;
        const char *help;
} Outcome;

#define STEP_DETAIL_MAX 160
#define ACTION_METRICS_MAX 16

/* What one step reports. The engine sums metrics per actor. */
typedef struct StepResult {
        unsigned outcome; /* index into the action's outcomes */
        int error;        /* negative errno behind the outcome, or 0 */
        uint64_t metrics[ACTION_METRICS_MAX];
        char detail[STEP_DETAIL_MAX]; /* one line for the journal, e.g. "KVM_CREATE_VCPU: Too many open files" */
        /* Optional aligned-race measurement: spread between the two racing events, ns; 0 if none. */
        uint64_t race_spread_ns;
} StepResult;

typedef enum ActionFlags {
        ACTION_ACTOR = 1 << 0,       /* may be looped in an [Actor] */
        ACTION_TRIGGER = 1 << 1,     /* may be a one-off [Trigger] */
        ACTION_LOAD = 1 << 2,        /* may be background pressure in a [Load] */
        ACTION_DESTRUCTIVE = 1 << 3, /* always needs the host's opt-in or --allow-destructive */
        ACTION_NEEDS_KVM = 1 << 4,   /* needs /dev/kvm at start (module actions make it come and go) */
        ACTION_REBOOTS = 1 << 5,     /* takes the host down (kexec, reboot, panic): the run resumes in the next boot */
        ACTION_JOURNAL_STEPS = 1 << 6, /* every step gets a journal line (slow, consequential steps: module loads) */
        /*
         * Has the OOM killer take processes of its own on purpose, named ACTION_OOM_VICTIM_COMM: in a
         * run with such an action their kills in kmsg are recorded as expected evidence, not counted.
         */
        ACTION_OOM_VICTIMS = 1 << 7,
} ActionFlags;

/* The comm of every process an ACTION_OOM_VICTIMS action offers to the OOM killer. */
#define ACTION_OOM_VICTIM_COMM "hvt-oom-vmm"

typedef struct ActionType {
        const char *name;
        const char *summary;
        unsigned flags;
        const KeySpec *keys; /* action-specific keys, NULL-name terminated */
        size_t params_size;
        const Outcome *outcomes;
        unsigned n_outcomes;
        const char *const *metrics; /* NULL-terminated names of StepResult.metrics slots */
        /* NULL-terminated phases the step publishes with worker_set_phase(): AlignWith= is checked against them. */
        const char *const *phases;

        /* Cross-key checks after parsing; append to errs naming the section. Optional. */
        int (*validate)(void *params, const char *file, const char *section, unsigned line, ConfErrors *errs);
        /* True when these params make the action destructive (beyond ACTION_DESTRUCTIVE). Optional. */
        bool (*is_destructive)(const void *params);
        /* One line of plan for --dry-run: what a step does with these params. Optional. */
        void (*describe)(const void *params, FILE *f);
        /* Host check before a run starts: 0, or negative errno with *reason set (allocated). Optional. */
        int (*check_host)(const void *params, char **reason);
        /*
         * What the host config allows (allow-lists, opt-ins beyond Destructive=), checked before
         * check_host: 0, or negative errno with *reason set (allocated). Optional.
         */
        int (*check_allowed)(const void *params, const ActionHost *host, char **reason);
        /*
         * True when steps with these params load kvm (a module action cycling it): sections whose
         * action has ACTION_NEEDS_KVM may then start while /dev/kvm is absent. Optional.
         */
        bool (*provides_kvm)(const void *params);

        /* In the worker process. init and done are optional; step is required. */
        int (*worker_init)(Worker *w, const void *params, void **ret_state);
        int (*step)(Worker *w, const void *params, void *state, StepResult *ret);
        void (*worker_done)(Worker *w, const void *params, void *state);
} ActionType;

/* Every action the build knows, and lookup by name. */
extern const ActionType *const action_types[];
const ActionType *action_type_find(const char *name);
/* Sets *reason (allocated) for check_host/check_allowed and returns error (-ENOMEM if it cannot). */
int action_reason(char **reason, int error, const char *format, ...) _printf_(3, 4);
/* Index of an outcome by name, or -1. */
int action_outcome_index(const ActionType *t, const char *name);

/* ---- what an action may ask of the worker it runs in ---- */

Prng *worker_prng(Worker *w);
const char *worker_actor_name(const Worker *w);
unsigned worker_instance(const Worker *w);
uint64_t worker_iteration(const Worker *w);
/* The run this worker belongs to (to tag what it creates), or NULL outside an engine (tests). */
const char *worker_run_id(const Worker *w);
/* True once the engine asked this worker to stop: long steps should check it. */
bool worker_should_stop(Worker *w);
/*
 * Publishes what the worker is doing right now ("vm:create", "vm:run",
 * "vm:sigkill"), visible to the engine without a message, so evidence can
 * name the actions in flight when a splat appeared. phase must be a string
 * literal or otherwise outlive the step; it is copied into shared memory.
 */
void worker_set_phase(Worker *w, const char *phase);
/* Seconds-resolution free-form note that goes to the journal at once (rare events only). */
void worker_note(Worker *w, const char *format, ...) _printf_(2, 3);
/* What the run may do on this host (see ActionHost); NULL for a local worker nobody gave one. */
const ActionHost *worker_host(const Worker *w);
/*
 * The pause before this worker's next step, instead of one drawn from Interval=: an action's own
 * pacing (how long a loaded module is held before the step that unloads it). Applies once.
 */
void worker_set_next_pause(Worker *w, uint64_t ns);

#define WORKER_REPORT_MAX (32 * 1024)
/*
 * Hands the engine a section for this instance in the run report: a JSON
 * object as text (at most WORKER_REPORT_MAX bytes), which replaces the one
 * this instance handed before and is journaled. It lands in report.json as
 * actors[].reports[] with "instance" added; a "lines" array of strings in
 * it is what the text report prints. For results that are not counters
 * (a load's per-stressor figures). -E2BIG if too long, -EINVAL if not an
 * object is caught by the engine, which then ignores it.
 */
int worker_report(Worker *w, const char *json);
