/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's insides, shared by its parts: engine.c (workers, triggers,
 * start and stop), engine-report.c (status and reports), engine-evidence.c
 * (evidence items) and engine-resume.c (runs that go on after a reboot).
 */
#pragma once

#include <json-c/json.h>
#include <signal.h>

#include "engine.h"
#include "evidence-monitor.h"
#include "histogram.h"
#include "journal.h"
#include "store.h"
#include "worker.h"

#define STOP_GRACE_NS (3 * NSEC_PER_SEC)
#define RESPAWN_MAX 10
#define FAILURE_DETAILS_MAX 8
#define JOURNAL_STEPS_PER_SEC 20 /* per actor: individual non-OK step lines beyond this are only counted */
#define EVIDENCE_DISTINCT_MAX 1000 /* distinct titles kept per run; later ones are only counted */


typedef struct FailureTally {
        char detail[STEP_DETAIL_MAX];
        uint64_t count;
} FailureTally;

typedef struct ActorRun {
        Engine *engine;
        const ProfileActor *actor;
        uint64_t *outcomes; /* one counter per outcome of the action */
        uint64_t metrics[ACTION_METRICS_MAX];
        uint64_t steps;
        Histogram step_ns;
        Histogram spread_ns;
        uint64_t workers_started, workers_crashed;
        FailureTally failures[FAILURE_DETAILS_MAX];
        uint64_t journal_window_start; /* second of the current rate-limit window */
        unsigned journal_in_window;
        uint64_t journal_suppressed;
        unsigned first_worker, n_workers;
        unsigned live;
        json_object **reports; /* per instance: the last section worker_report() handed over, or NULL */
        /* Triggers */
        uint64_t fired, skipped_busy;
        AlignSlot *align; /* AlignWith=: the slot this trigger waits on */
        bool after_iterations_fired;
        sd_event_source *timer;
} ActorRun;

typedef enum WorkerState {
        WS_IDLE, /* a trigger's slot between firings */
        WS_RUNNING,
        WS_EXITED,
} WorkerState;

typedef struct EngineWorker {
        Engine *engine;
        ActorRun *ar;
        unsigned index, instance;
        WorkerState state;
        pid_t pid;
        int fd;
        sd_event_source *io, *child;
        bool done, fatal;
        unsigned respawns;
        uint64_t steps;
} EngineWorker;

struct Engine {
        sd_event *event;
        Profile *profile;
        const HostConfig *host;
        char *state_dir;
        bool allow_destructive;
        ActionHost action_host; /* what actions may do here: handed to check_allowed() and the workers */
        uint64_t progress_interval_ns;
        EngineCallbacks cb;

        RunState state;
        Verdict verdict;
        char run_id[RUN_ID_MAX];
        char *run_dir;
        char boot_id[37];
        char *error;
        char *stop_reason;
        bool stopped_early;
        bool killed;

        uint64_t seed;
        uint64_t duration_ns;
        uint64_t start_mono, start_real, end_mono, end_real;
        uint64_t total_steps;

        Store *store;
        int run_fd;
        Journal *journal;
        int journal_error; /* first journal write error: the run stops, nothing already written is lost */

        ActorRun *actors;
        size_t n_actors;
        EngineWorker *workers;
        size_t n_workers;
        SharedArea *shared; /* phase slots and the align table, shared with every worker */
        size_t shared_size;
        unsigned n_aligns;

        sd_event_source *duration_timer, *progress_timer, *kill_timer;

        json_object *evidence; /* array of items, deduplicated by title */
        uint64_t evidence_counted;
        uint64_t evidence_overflow;
        EvidenceMonitor *monitor;
        char *kmsg_path;
        const char *const *pstore_dirs;
        bool pstore_counted;
        char *kmsg_problem; /* why splats are not being read, if they are not */

        /* Runs that outlive a boot (engine-resume.c). */
        bool daemon_owned;
        bool resumed;
        unsigned boot_index;        /* 0 in the boot the run started in */
        json_object *boots;         /* [{boot_id, kernel, how, trigger, started, run_s, evidence}] */
        uint64_t elapsed_before_ns; /* run time spent in earlier boots */
        uint64_t planned_reboots;
        char *expected_panic_trigger; /* a planned panic/crash trigger: its own panic is not evidence */
        /*
         * A reboot-class trigger fired in this boot and has not failed: every state save carries it as
         * pending_reboot, and a stop now (systemd stopping us on the way down) suspends the run for the
         * next boot instead of ending it.
         */
        const ActorRun *reboot_pending;
        bool reboot_under_way; /* its step reported "fired": systemd or the kernel has it (a stop before that ends the run) */
        bool suspended;
        bool crash_return; /* the pending reboot is the crash kernel's, back to the normal kernel */
        /* Where kmsg reading starts: the end for a new run; after a resume, where the last process stopped
         * (same boot) or the oldest record (a new boot: what it printed while booting is this run's too). */
        KmsgStart kmsg_start;
        uint64_t kmsg_after_seq;
        unsigned state_ticks;
};

/* In a crash kernel: the crashed kernel's log from the vmcore into the run's evidence (engine-evidence.c). */
int engine_collect_vmcore(Engine *e, const char *path);

/* ---- helpers (engine.c) ---- */

/* What worker INDEX is doing now (its phase, since when, its iteration), read from its shared slot. */
void engine_worker_phase(Engine *e, size_t index, char phase[static WORKER_PHASE_MAX], uint64_t *ret_since,
                         uint64_t *ret_iteration);

void engine_set_error(Engine *e, const char *fmt, ...) _printf_(2, 3);
/* Appends a record to the run journal; on a write error the run stops (what is written stays). Consumes rec. */
void engine_journal_write(Engine *e, json_object *rec, JournalSync sync);

static inline json_object *jstr(const char *s)
{
        return json_object_new_string(s ? s : "");
}

static inline json_object *ju64(uint64_t v)
{
        /* Counters stay far below 2^63; clamp rather than wrap if one ever does not. */
        return json_object_new_int64((int64_t)(v > INT64_MAX ? INT64_MAX : v));
}

static inline json_object *record_new(const char *type)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", jstr(type));
        return o;
}

/* Spawns the workers, arms the timers and starts the evidence sources (new and resumed runs). */
int engine_launch(Engine *e);
/* The seed a worker stream uses in this boot: the run seed in the first boot, derived from it after. */
uint64_t engine_boot_seed(const Engine *e);

/* ---- engine-resume.c ---- */

/* state.json: counters, boots and evidence, written atomically; with pending, the reboot about to happen. */
int engine_save_state(Engine *e, const ActorRun *pending);
/* The first boot's entry in state.json and the journal (new runs). */
void engine_record_first_boot(Engine *e);
/* How the previous boot ended, from what the run recorded before it and what we see now. */
typedef enum BootEnd {
        BOOT_END_SAME,        /* same boot: the process running the run died (daemon restart, killed CLI) */
        BOOT_END_PLANNED,     /* the run's own reboot trigger */
        BOOT_END_UNPLANNED,   /* a reboot nobody planned: a crash, a watchdog, a power cut */
} BootEnd;
BootEnd engine_classify_boot_end(const char *last_boot_id, const char *pending_reboot_boot_id,
                                 const char *current_boot_id);

/* ---- engine-report.c ---- */

json_object *actor_counters_json(ActorRun *ar);

/* ---- engine-evidence.c ---- */

/* pstore (first), then the live kmsg monitor. */
void engine_start_evidence(Engine *e);
