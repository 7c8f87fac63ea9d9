/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine: runs one profile on an sd-event loop. It forks a worker per
 * actor instance, paces triggers, starts loads, counts every step's outcome,
 * writes the run's journal and report, and decides the verdict. The CLI's
 * one-shot `run` and the daemon drive the very same object.
 */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "host-config.h"
#include "profile.h"
#include "result.h"

typedef struct Engine Engine;

typedef struct EngineOptions {
        const char *state_dir;
        uint64_t seed; /* used when seed_set; else the profile's Seed= or a fresh one */
        bool seed_set;
        uint64_t duration_ns; /* overrides the profile's Duration= when non-zero */
        bool allow_destructive; /* the one-shot CLI's --allow-destructive */
        const HostConfig *host; /* borrowed for the engine's lifetime */
        uint64_t progress_interval_ns; /* 0: one second */
        /* Evidence sources. NULL: /dev/kmsg; "" turns kmsg reading off (engine tests). */
        const char *kmsg_path;
        /* Where pstore records are looked for; NULL: /sys/fs/pstore and /var/lib/systemd/pstore. */
        const char *const *pstore_dirs;
        /* This boot's id; NULL: the kernel's (tests resume "after a reboot" with another). */
        const char *boot_id;
        /* The crashed kernel's core in a crash kernel; NULL: /proc/vmcore; "": never a crash kernel (tests). */
        const char *vmcore_path;
        /* Records found at start belong to this run (a resumed run after a crash), not to an earlier one. */
        bool pstore_counted;
        /* The daemon runs this: after a reboot or a daemon restart it resumes; a CLI run is closed instead. */
        bool daemon_owned;
} EngineOptions;

typedef struct EngineCallbacks {
        /* Once a progress interval while running. */
        void (*progress)(Engine *e, void *userdata);
        /* Once, when the run has finished and its report is written (or setup failed). */
        void (*finished)(Engine *e, void *userdata);
        /* Each new (or re-counted) evidence item. */
        void (*evidence)(Engine *e, json_object *item, void *userdata);
        void *userdata;
} EngineCallbacks;

/* Takes ownership of profile. */
int engine_new(sd_event *event, Profile *profile, const EngineOptions *opts, const EngineCallbacks *cb,
               Engine **ret);
Engine *engine_free(Engine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(Engine *, engine_free);

/*
 * Checks the host, creates the run directory and journal, and forks the
 * workers. On failure returns negative errno and engine_error() says why in
 * words a person can act on.
 */
int engine_start(Engine *e);
/*
 * Picks up run_id from its directory after the host rebooted (planned or
 * not) or the process that ran it died: restores its counters, boots and
 * evidence, records how the previous boot ended, collects pstore, and then
 * goes on until the profile's end — if the daemon ran it, or if its profile
 * plans reboots (the daemon adopts a one-shot run that rebooted on
 * purpose). Any other one-shot run is closed: its report is written, with
 * the reboot as evidence if it was one, and nothing more runs. The profile
 * comes from the run's own copy. Returns -EBUSY if a live process still
 * runs it (same boot, its pid alive).
 */
int engine_resume(sd_event *event, const char *run_id, const EngineOptions *opts, const EngineCallbacks *cb,
                  Engine **ret);

/* Asks every worker to stop; the finished callback follows once all are reaped. */
void engine_stop(Engine *e, const char *reason);
/* Stops without grace: SIGKILL to every worker group now (second Ctrl-C). */
void engine_kill(Engine *e);

RunState engine_state(const Engine *e);
Verdict engine_verdict(const Engine *e);
/* True when the run stopped because a reboot of its own is under way: it goes on in the next boot. */
bool engine_suspended(const Engine *e);
const char *engine_run_id(const Engine *e);
const char *engine_run_dir(const Engine *e);
const char *engine_error(const Engine *e);
uint64_t engine_seed(const Engine *e);
uint64_t engine_total_steps(const Engine *e);
uint64_t engine_elapsed_ns(const Engine *e); /* run time over every boot of the run */
unsigned engine_boot_count(const Engine *e);
const Profile *engine_profile(const Engine *e);

/* Live status (counters so far); the caller owns the returned object. */
json_object *engine_status_json(Engine *e);
/* The report (as written to report.json once finished); the caller owns it. */
json_object *engine_report_json(Engine *e);
/* One line for a terminal's progress display or sd_notify STATUS=. */
int engine_status_line(Engine *e, char *buf, size_t len);

/*
 * Evidence from a source (kmsg, pstore, taint, reboot): recorded in the
 * run's evidence/ and journal (synced). kind is an EvidenceKind; items
 * with equal "title" collapse into one with a count. Uncounted items (e.g.
 * pstore records older than the run) are listed but do not change the
 * verdict. The engine adds the actions in flight. The item is not consumed.
 */
int engine_add_evidence(Engine *e, int kind, json_object *item, bool counted);
/* Which workers are doing what right now: [{actor, instance, pid, phase, since_ms, iteration}]. */
json_object *engine_actions_in_flight(Engine *e);
