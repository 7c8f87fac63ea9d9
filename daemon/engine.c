/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine: one run of one profile on an sd-event loop.
 *
 * Workers are child processes (see worker.c) supervised with child event
 * sources, so a worker that is SIGKILLed, OOM-killed or crashes never takes
 * the engine with it. Each worker reports steps over its own SOCK_SEQPACKET
 * socket; the engine counts them per actor, journals what matters, and on
 * stop kills and reaps every worker's process group so nothing is left
 * behind: no zombie, no stray fd, no VM.
 */
#include <signal.h>
#include <stdarg.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "config.h"
#include "engine.h"
#include "histogram.h"
#include "journal.h"
#include "log.h"
#include "report.h"
#include "store.h"
#include "worker.h"

#define STOP_GRACE_NS (3 * NSEC_PER_SEC)
#define RESPAWN_MAX 10
#define FAILURE_DETAILS_MAX 8
#define JOURNAL_STEPS_PER_SEC 20 /* per actor: individual non-OK step lines beyond this are only counted */

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
};

static void engine_maybe_finish(Engine *e);
static int worker_start(EngineWorker *w, uint64_t iterations, bool ignore_interval);

/* ---- small helpers ---- */

static void set_error(Engine *e, const char *fmt, ...) _printf_(2, 3);
static void set_error(Engine *e, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(e->error);
        e->error = s;
}

static json_object *jstr(const char *s)
{
        return json_object_new_string(s ? s : "");
}

static json_object *ju64(uint64_t v)
{
        /* json-c has no unsigned 64-bit type on Debian 12's 0.16 writer path; counters stay far below 2^63. */
        return json_object_new_int64((int64_t)(v > INT64_MAX ? INT64_MAX : v));
}

static void journal_write(Engine *e, json_object *rec, JournalSync sync)
{
        int r;

        if (!e->journal || e->journal_error) {
                json_object_put(rec);
                return;
        }
        r = journal_append(e->journal, rec, sync);
        json_object_put(rec);
        if (r < 0) {
                e->journal_error = r;
                log_error_errno(r, "Cannot write the run journal in %s: %m; stopping the run, "
                                   "everything written so far is kept", strna(e->run_dir));
                engine_stop(e, "journal write failed");
        }
}

static json_object *record_new(const char *type)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", jstr(type));
        return o;
}

static const char *describe_wait_status(const siginfo_t *si, char *buf, size_t len)
{
        if (si->si_code == CLD_EXITED)
                snprintf(buf, len, "exited with status %d", si->si_status);
        else
                snprintf(buf, len, "killed by SIG%s%s", sigabbrev_np(si->si_status) ?: "?",
                         si->si_code == CLD_DUMPED ? " (core dumped)" : "");
        return buf;
}

/* ---- construction ---- */

int engine_new(sd_event *event, Profile *profile, const EngineOptions *opts, const EngineCallbacks *cb,
               Engine **ret)
{
        _cleanup_(engine_freep) Engine *e = NULL;
        size_t n_workers = 0;

        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->run_fd = -1;
        e->event = sd_event_ref(event);
        e->profile = profile;
        e->host = opts->host;
        e->allow_destructive = opts->allow_destructive;
        e->progress_interval_ns = opts->progress_interval_ns ? opts->progress_interval_ns : NSEC_PER_SEC;
        e->state_dir = strdup(opts->state_dir ? opts->state_dir
                                              : (opts->host && opts->host->state_dir ? opts->host->state_dir
                                                                                     : "/var/lib/hvtorture"));
        if (!e->state_dir)
                return -ENOMEM;
        if (cb)
                e->cb = *cb;
        e->state = RUN_PREPARING;
        e->verdict = VERDICT_ERROR;
        e->evidence = json_object_new_array();

        if (opts->seed_set)
                e->seed = opts->seed;
        else if (profile->seed_set)
                e->seed = profile->seed;
        else
                e->seed = prng_random_seed();
        e->duration_ns = opts->duration_ns ? opts->duration_ns : profile->duration_ns;

        e->n_actors = profile->n_actors;
        e->actors = calloc(e->n_actors, sizeof *e->actors);
        if (!e->actors)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_actors; i++) {
                ActorRun *ar = &e->actors[i];
                const ProfileActor *a = &profile->actors[i];
                ar->engine = e;
                ar->actor = a;
                ar->outcomes = calloc(a->action->n_outcomes ? a->action->n_outcomes : 1, sizeof *ar->outcomes);
                if (!ar->outcomes)
                        return -ENOMEM;
                ar->first_worker = (unsigned)n_workers;
                ar->n_workers = a->role == ROLE_ACTOR ? (unsigned)a->instances : 1;
                n_workers += ar->n_workers;
        }

        e->n_workers = n_workers;
        e->workers = calloc(n_workers, sizeof *e->workers);
        if (!e->workers)
                return -ENOMEM;
        /* Shared with the workers: they publish their phase here, we set their stop flag. */
        e->shared_size = (sizeof(SharedArea) + n_workers * sizeof(WorkerSlot) + 4095) & ~(size_t)4095;
        e->shared = mmap(NULL, e->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (e->shared == MAP_FAILED) {
                e->shared = NULL;
                return negative_errno();
        }
        for (size_t i = 0; i < e->n_actors; i++) {
                ActorRun *ar = &e->actors[i];
                const ProfileActor *t;
                if (ar->actor->role != ROLE_TRIGGER || !ar->actor->align_actor)
                        continue;
                if (e->n_aligns >= ALIGN_MAX)
                        return -E2BIG;
                t = profile_find_actor(profile, ar->actor->align_actor);
                ar->align = &e->shared->aligns[e->n_aligns++];
                ar->align->actor = (uint32_t)(t - profile->actors);
                snprintf(ar->align->phase, sizeof ar->align->phase, "%s", ar->actor->align_phase);
        }
        for (size_t i = 0; i < e->n_actors; i++) {
                ActorRun *ar = &e->actors[i];
                for (unsigned k = 0; k < ar->n_workers; k++) {
                        EngineWorker *w = &e->workers[ar->first_worker + k];
                        *w = (EngineWorker){ .engine = e, .ar = ar, .index = ar->first_worker + k,
                                             .instance = k, .fd = -1, .state = WS_IDLE };
                }
        }
        *ret = TAKE_PTR(e);
        return 0;
}

static void worker_release(EngineWorker *w)
{
        w->io = sd_event_source_disable_unref(w->io);
        w->child = sd_event_source_disable_unref(w->child);
        w->fd = safe_close(w->fd);
}

Engine *engine_free(Engine *e)
{
        if (!e)
                return NULL;
        /* Never leave a worker behind, whatever state we are freed in. */
        for (size_t i = 0; i < e->n_workers; i++) {
                EngineWorker *w = &e->workers[i];
                if (w->state == WS_RUNNING && w->pid > 0) {
                        siginfo_t si;
                        (void)kill(-w->pid, SIGKILL);
                        (void)kill(w->pid, SIGKILL);
                        w->child = sd_event_source_disable_unref(w->child);
                        (void)waitid(P_PID, (id_t)w->pid, &si, WEXITED);
                }
                worker_release(w);
        }
        for (size_t i = 0; i < e->n_actors; i++) {
                free(e->actors[i].outcomes);
                sd_event_source_disable_unref(e->actors[i].timer);
        }
        free(e->actors);
        free(e->workers);
        if (e->shared)
                munmap(e->shared, e->shared_size);
        sd_event_source_disable_unref(e->duration_timer);
        sd_event_source_disable_unref(e->progress_timer);
        sd_event_source_disable_unref(e->kill_timer);
        journal_free(e->journal);
        safe_close(e->run_fd);
        store_free(e->store);
        json_object_put(e->evidence);
        profile_free(e->profile);
        sd_event_unref(e->event);
        free(e->state_dir);
        free(e->run_dir);
        free(e->error);
        free(e->stop_reason);
        free(e);
        return NULL;
}

/* ---- accessors ---- */

RunState engine_state(const Engine *e)
{
        return e->state;
}
Verdict engine_verdict(const Engine *e)
{
        return e->verdict;
}
const char *engine_run_id(const Engine *e)
{
        return e->run_id[0] ? e->run_id : NULL;
}
const char *engine_run_dir(const Engine *e)
{
        return e->run_dir;
}
const char *engine_error(const Engine *e)
{
        return e->error;
}
uint64_t engine_seed(const Engine *e)
{
        return e->seed;
}
uint64_t engine_total_steps(const Engine *e)
{
        return e->total_steps;
}
static uint64_t elapsed_ns(const Engine *e);
uint64_t engine_elapsed_ns(const Engine *e)
{
        return elapsed_ns(e);
}
const Profile *engine_profile(const Engine *e)
{
        return e->profile;
}

/* ---- worker messages ---- */

static void tally_failure(ActorRun *ar, const char *detail)
{
        FailureTally *free_slot = NULL, *least = &ar->failures[0];

        if (!detail[0])
                return;
        for (unsigned i = 0; i < FAILURE_DETAILS_MAX; i++) {
                FailureTally *t = &ar->failures[i];
                if (t->count && streq(t->detail, detail)) {
                        t->count++;
                        return;
                }
                if (!t->count && !free_slot)
                        free_slot = t;
                if (t->count < least->count)
                        least = t;
        }
        /* Bounded: a new detail replaces the rarest one once the table is full. */
        if (!free_slot) {
                free_slot = least;
                free_slot->count = 0;
        }
        snprintf(free_slot->detail, sizeof free_slot->detail, "%s", detail);
        free_slot->count = 1;
}

static bool journal_step_allowed(ActorRun *ar)
{
        uint64_t sec = now_ns(CLOCK_MONOTONIC) / NSEC_PER_SEC;

        if (sec != ar->journal_window_start) {
                ar->journal_window_start = sec;
                ar->journal_in_window = 0;
        }
        if (ar->journal_in_window >= JOURNAL_STEPS_PER_SEC) {
                ar->journal_suppressed++;
                return false;
        }
        ar->journal_in_window++;
        return true;
}

static void check_after_iterations(Engine *e);

static void handle_step(EngineWorker *w, const WorkerMsg *m)
{
        Engine *e = w->engine;
        ActorRun *ar = w->ar;
        const ActionType *t = ar->actor->action;
        const Outcome *o;

        if (m->result.outcome >= t->n_outcomes)
                return; /* the worker checks this too; never index out of bounds on a bad message */
        o = &t->outcomes[m->result.outcome];

        w->steps++;
        ar->steps++;
        e->total_steps++;
        ar->outcomes[m->result.outcome]++;
        for (unsigned i = 0; i < ACTION_METRICS_MAX; i++)
                ar->metrics[i] += m->result.metrics[i];
        histogram_add(&ar->step_ns, m->duration_ns);
        if (m->result.race_spread_ns)
                histogram_add(&ar->spread_ns, m->result.race_spread_ns);
        if (o->class == OUTCOME_FAILURE || o->class == OUTCOME_ENV_ERROR)
                tally_failure(ar, m->result.detail);

        /* Every step of a trigger, and unusual steps of actors (rate-limited), get a journal line. */
        if (ar->actor->role == ROLE_TRIGGER ||
            ((o->class == OUTCOME_FAILURE || o->class == OUTCOME_ENV_ERROR || m->result.race_spread_ns) &&
             journal_step_allowed(ar))) {
                json_object *rec = record_new("step");
                json_object_object_add(rec, "actor", jstr(ar->actor->name));
                json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
                json_object_object_add(rec, "iteration", ju64(m->iteration));
                json_object_object_add(rec, "outcome", jstr(o->name));
                json_object_object_add(rec, "duration_ns", ju64(m->duration_ns));
                if (m->result.error)
                        json_object_object_add(rec, "error", jstr(strerror(abs(m->result.error))));
                if (m->result.detail[0])
                        json_object_object_add(rec, "detail", jstr(m->result.detail));
                if (m->result.race_spread_ns)
                        json_object_object_add(rec, "race_spread_ns", ju64(m->result.race_spread_ns));
                journal_write(e, rec, ar->actor->role == ROLE_TRIGGER ? JOURNAL_SYNC : JOURNAL_NOSYNC);
        }

        if (e->state == RUN_RUNNING && e->profile->iterations && e->total_steps >= e->profile->iterations)
                engine_stop(e, "iterations reached");
        else
                check_after_iterations(e);
}

static void handle_msg(EngineWorker *w, const WorkerMsg *m)
{
        Engine *e = w->engine;
        json_object *rec;

        switch (m->type) {
        case WORKER_MSG_READY:
                break;
        case WORKER_MSG_STEP:
                handle_step(w, m);
                break;
        case WORKER_MSG_NOTE:
                rec = record_new("note");
                json_object_object_add(rec, "actor", jstr(w->ar->actor->name));
                json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
                json_object_object_add(rec, "note", jstr(m->result.detail));
                journal_write(e, rec, JOURNAL_SYNC);
                break;
        case WORKER_MSG_FATAL:
                w->fatal = true;
                rec = record_new("worker-fatal");
                json_object_object_add(rec, "actor", jstr(w->ar->actor->name));
                json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
                json_object_object_add(rec, "detail", jstr(m->result.detail));
                journal_write(e, rec, JOURNAL_SYNC);
                if (!e->error)
                        set_error(e, "[%s %s] instance %u: %s", profile_role_to_string(w->ar->actor->role),
                                  w->ar->actor->name, w->instance, m->result.detail);
                engine_stop(e, "worker failed");
                break;
        case WORKER_MSG_DONE:
                w->done = true;
                break;
        default:
                break;
        }
}

static void drain(EngineWorker *w)
{
        WorkerMsg m;

        while (w->fd >= 0) {
                ssize_t n = recv(w->fd, &m, sizeof m, MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if ((size_t)n != sizeof m)
                        continue; /* not one of ours: ignore rather than misread */
                handle_msg(w, &m);
        }
}

static int on_worker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        EngineWorker *w = userdata;

        drain(w);
        if (revents & (EPOLLHUP | EPOLLERR))
                w->io = sd_event_source_disable_unref(w->io); /* the child handler finishes the job */
        return 0;
}

static void kill_group(pid_t pgid)
{
        /* The worker led its own group; whatever it forked and left (a VMM, a fd-holding peer) goes too. */
        if (pgid > 0)
                (void)kill(-pgid, SIGKILL);
}

static int on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        EngineWorker *w = userdata;
        Engine *e = w->engine;
        ActorRun *ar = w->ar;
        json_object *rec;
        char status[64];
        bool clean;

        drain(w); /* messages sent just before the exit: DONE among them */
        clean = si->si_code == CLD_EXITED && si->si_status == 0 && w->done;
        kill_group(w->pid);
        worker_release(w);
        w->state = WS_EXITED;
        ar->live--;

        describe_wait_status(si, status, sizeof status);
        rec = record_new("worker-exit");
        json_object_object_add(rec, "actor", jstr(ar->actor->name));
        json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
        json_object_object_add(rec, "pid", json_object_new_int(w->pid));
        json_object_object_add(rec, "status", jstr(status));
        json_object_object_add(rec, "steps", ju64(w->steps));
        journal_write(e, rec, JOURNAL_NOSYNC);

        if (!clean && !w->fatal && e->state == RUN_RUNNING) {
                ar->workers_crashed++;
                log_warning("[%s %s] instance %u %s unexpectedly%s", profile_role_to_string(ar->actor->role),
                            ar->actor->name, w->instance, status,
                            w->respawns < RESPAWN_MAX ? "; starting it again" : "; giving up on it");
                if (ar->actor->role != ROLE_TRIGGER && w->respawns < RESPAWN_MAX) {
                        uint64_t left = ar->actor->iterations ? ar->actor->iterations - MIN(ar->actor->iterations, w->steps) : 0;
                        w->respawns++;
                        if (!ar->actor->iterations || left > 0)
                                (void)worker_start(w, left, false);
                }
        }
        if (ar->actor->role == ROLE_TRIGGER && w->state == WS_EXITED)
                w->state = WS_IDLE;

        /* All bounded actors done → the run is done. */
        if (e->state == RUN_RUNNING) {
                bool any_actor = false, all_done = true;
                for (size_t i = 0; i < e->n_actors; i++) {
                        if (e->actors[i].actor->role != ROLE_ACTOR)
                                continue;
                        any_actor = true;
                        if (e->actors[i].live > 0)
                                all_done = false;
                }
                if (any_actor && all_done)
                        engine_stop(e, "all actors finished their iterations");
        }
        engine_maybe_finish(e);
        return 0;
}

static int worker_start(EngineWorker *w, uint64_t iterations, bool ignore_interval)
{
        Engine *e = w->engine;
        WorkerSlot *slot = &e->shared->slots[w->index];
        int pair[2];
        WorkerSpec spec;
        pid_t pid;
        json_object *rec;
        int r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return log_error_errno(errno, "Cannot create a worker socket: %m");
        memset(slot, 0, sizeof *slot);
        w->done = w->fatal = false;
        w->steps = 0;

        spec = (WorkerSpec){
                .actor = w->ar->actor,
                .index = w->index,
                .instance = w->instance,
                .run_seed = e->seed,
                .iterations = iterations,
                .ignore_interval = ignore_interval,
                .slot = slot,
                .shared = e->shared,
                .actor_index = (unsigned)(w->ar - e->actors),
                .align = w->ar->actor->role == ROLE_TRIGGER ? w->ar->align : NULL,
                .sock = pair[1],
        };
        r = worker_spawn(&spec, &pid);
        safe_close(pair[1]);
        if (r < 0) {
                safe_close(pair[0]);
                return log_error_errno(r, "Cannot fork a worker for %s: %m", w->ar->actor->name);
        }
        w->pid = pid;
        w->fd = pair[0];
        w->state = WS_RUNNING;
        w->ar->live++;
        w->ar->workers_started++;

        r = sd_event_add_io(e->event, &w->io, w->fd, EPOLLIN, on_worker_io, w);
        if (r >= 0)
                r = sd_event_add_child(e->event, &w->child, pid, WEXITED, on_worker_exit, w);
        if (r < 0) {
                /* Without a child source nobody would reap it: kill and reap it here. */
                siginfo_t si;
                kill_group(pid);
                (void)waitid(P_PID, (id_t)pid, &si, WEXITED);
                worker_release(w);
                w->state = WS_EXITED;
                w->ar->live--;
                return log_error_errno(r, "Cannot watch worker %d: %m", (int)pid);
        }

        rec = record_new("worker-start");
        json_object_object_add(rec, "actor", jstr(w->ar->actor->name));
        json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
        json_object_object_add(rec, "pid", json_object_new_int(pid));
        journal_write(e, rec, JOURNAL_NOSYNC);
        return 0;
}

/* ---- triggers ---- */

static void trigger_fire(Engine *e, ActorRun *ar, const char *why)
{
        EngineWorker *w = &e->workers[ar->first_worker];
        json_object *rec;

        if (e->state != RUN_RUNNING)
                return;
        if (w->state == WS_RUNNING) {
                ar->skipped_busy++;
                return;
        }
        /* The intent goes to disk before anything happens: a trigger may take the host down. */
        rec = record_new("trigger");
        json_object_object_add(rec, "trigger", jstr(ar->actor->name));
        json_object_object_add(rec, "action", jstr(ar->actor->action->name));
        json_object_object_add(rec, "why", jstr(why));
        json_object_object_add(rec, "steps_so_far", ju64(e->total_steps));
        json_object_object_add(rec, "boot_id", jstr(e->boot_id));
        journal_write(e, rec, JOURNAL_SYNC);
        ar->fired++;
        if (ar->align)
                atomic_store_explicit(&ar->align->state, ALIGN_ARMED, memory_order_release);
        (void)worker_start(w, 1, true);
}

static int on_trigger_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        ActorRun *ar = userdata;
        Engine *e = ar->engine;

        trigger_fire(e, ar, "timer");
        if (ar->actor->every_ns && e->state == RUN_RUNNING) {
                sd_event_source_set_time_relative(s, ar->actor->every_ns / NSEC_PER_USEC);
                sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        return 0;
}

static void check_after_iterations(Engine *e)
{
        for (size_t i = 0; i < e->n_actors; i++) {
                ActorRun *ar = &e->actors[i];
                if (ar->actor->role != ROLE_TRIGGER || !ar->actor->after_iterations || ar->after_iterations_fired)
                        continue;
                if (e->total_steps >= ar->actor->after_iterations) {
                        ar->after_iterations_fired = true;
                        trigger_fire(e, ar, "after iterations");
                }
        }
}

/* ---- timers ---- */

static int on_duration(sd_event_source *s, uint64_t usec, void *userdata)
{
        engine_stop(userdata, "duration reached");
        return 0;
}

static json_object *actor_counters_json(ActorRun *ar);

static int on_progress(sd_event_source *s, uint64_t usec, void *userdata)
{
        Engine *e = userdata;
        json_object *rec, *actors;

        if (e->state != RUN_RUNNING && e->state != RUN_STOPPING)
                return 0;

        rec = record_new("progress");
        json_object_object_add(rec, "steps", ju64(e->total_steps));
        actors = json_object_new_object();
        for (size_t i = 0; i < e->n_actors; i++)
                json_object_object_add(actors, e->actors[i].actor->name, actor_counters_json(&e->actors[i]));
        json_object_object_add(rec, "actors", actors);
        journal_write(e, rec, JOURNAL_NOSYNC);

        /* Triggers with At=/Every= are checked at progress granularity plus their own timers. */
        if (e->cb.progress)
                e->cb.progress(e, e->cb.userdata);
        sd_event_source_set_time_relative(s, e->progress_interval_ns / NSEC_PER_USEC);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        engine_kill(userdata);
        return 0;
}

/* ---- start ---- */

static int check_host(Engine *e)
{
        const Profile *p = e->profile;
        const char *why = NULL;

        if (profile_is_destructive(p, &why) && !e->allow_destructive &&
            !(e->host && e->host->allow_destructive)) {
                set_error(e,
                          "%s: %s is destructive, and this host has not opted in: set AllowDestructive=yes in "
                          "[Host] of %s, or pass --allow-destructive to a one-shot run",
                          p->path, why, e->host && e->host->path ? e->host->path : "/etc/hvtorture/hvtorture.conf");
                return -EPERM;
        }
        for (size_t i = 0; i < p->n_actors; i++) {
                const ProfileActor *a = &p->actors[i];
                _cleanup_free_ char *reason = NULL;
                int r;

                if (!a->action->check_host)
                        continue;
                r = a->action->check_host(a->params, &reason);
                if (r < 0) {
                        set_error(e, "[%s %s] (Action=%s) cannot run on this host: %s",
                                  profile_role_to_string(a->role), a->name, a->action->name,
                                  reason ? reason : strerror(-r));
                        return r;
                }
        }
        return 0;
}

static int write_run_start(Engine *e)
{
        json_object *rec = record_new("run-start");
        struct utsname u;
        char hostname[256] = "";

        uname(&u);
        gethostname(hostname, sizeof hostname - 1);
        json_object_object_add(rec, "run_id", jstr(e->run_id));
        json_object_object_add(rec, "profile", jstr(e->profile->path));
        json_object_object_add(rec, "seed", ju64(e->seed));
        json_object_object_add(rec, "duration_ns", ju64(e->duration_ns));
        json_object_object_add(rec, "boot_id", jstr(e->boot_id));
        json_object_object_add(rec, "kernel", jstr(u.release));
        json_object_object_add(rec, "hostname", jstr(hostname));
        json_object_object_add(rec, "pid", json_object_new_int(getpid()));
        json_object_object_add(rec, "version", jstr(PACKAGE_VERSION));
        journal_write(e, rec, JOURNAL_SYNC);
        return e->journal_error;
}

int engine_start(Engine *e)
{
        int r;

        if (e->state != RUN_PREPARING)
                return -EBUSY;

        r = check_host(e);
        if (r < 0)
                return r;

        if (read_boot_id(e->boot_id) < 0)
                snprintf(e->boot_id, sizeof e->boot_id, "unknown");

        r = store_open(e->state_dir, &e->store);
        if (r < 0) {
                set_error(e, "Cannot use the state directory %s: %s", e->state_dir, strerror(-r));
                return r;
        }
        r = store_new_run_id(e->run_id);
        if (r >= 0)
                r = store_create_run(e->store, e->run_id, &e->run_fd);
        if (r < 0) {
                set_error(e, "Cannot create a run directory in %s/runs: %s", e->state_dir, strerror(-r));
                return r;
        }
        if (asprintf(&e->run_dir, "%s/runs/%s", e->state_dir, e->run_id) < 0)
                return -ENOMEM;

        r = write_file_atomic_at(e->run_fd, "profile.ini", e->profile->text, e->profile->text_len);
        if (r >= 0)
                r = journal_open(e->run_fd, "journal.jsonl", &e->journal);
        if (r < 0) {
                set_error(e, "Cannot write the run's files in %s: %s", e->run_dir, strerror(-r));
                return r;
        }

        e->start_mono = now_ns(CLOCK_MONOTONIC);
        e->start_real = now_ns(CLOCK_REALTIME);
        r = write_run_start(e);
        if (r < 0) {
                set_error(e, "Cannot write the journal in %s: %s", e->run_dir, strerror(-r));
                return r;
        }
        e->state = RUN_RUNNING;
        e->verdict = VERDICT_PASS;

        for (size_t i = 0; i < e->n_actors; i++) {
                ActorRun *ar = &e->actors[i];
                const ProfileActor *a = ar->actor;

                if (a->role == ROLE_TRIGGER) {
                        uint64_t first = a->at_ns ? a->at_ns : a->every_ns;
                        if (!first) {
                                /* AlignWith= alone: armed from the start, fires at the actor's first chance. */
                                if (ar->align)
                                        trigger_fire(e, ar, "aligned");
                                continue;
                        }
                        r = sd_event_add_time_relative(e->event, &ar->timer, CLOCK_MONOTONIC,
                                                       first / NSEC_PER_USEC, 0, on_trigger_timer, ar);
                        if (r < 0) {
                                set_error(e, "Cannot arm [Trigger %s]: %s", a->name, strerror(-r));
                                engine_stop(e, "setup failed");
                                return r;
                        }
                        continue;
                }
                for (unsigned k = 0; k < ar->n_workers; k++) {
                        r = worker_start(&e->workers[ar->first_worker + k],
                                         a->role == ROLE_ACTOR ? a->iterations : 0, false);
                        if (r < 0) {
                                set_error(e, "Cannot start [%s %s]: %s", profile_role_to_string(a->role),
                                          a->name, strerror(-r));
                                engine_stop(e, "setup failed");
                                return r;
                        }
                }
        }

        r = sd_event_add_time_relative(e->event, &e->progress_timer, CLOCK_MONOTONIC,
                                       e->progress_interval_ns / NSEC_PER_USEC, 0, on_progress, e);
        if (r >= 0 && e->duration_ns && e->duration_ns != UINT64_MAX)
                r = sd_event_add_time_relative(e->event, &e->duration_timer, CLOCK_MONOTONIC,
                                               e->duration_ns / NSEC_PER_USEC, 0, on_duration, e);
        if (r < 0) {
                set_error(e, "Cannot arm the run's timers: %s", strerror(-r));
                engine_stop(e, "setup failed");
                return r;
        }
        return 0;
}

/* ---- stop and finish ---- */

void engine_stop(Engine *e, const char *reason)
{
        json_object *rec;

        if (e->state != RUN_RUNNING)
                return;
        e->state = RUN_STOPPING;
        e->end_mono = now_ns(CLOCK_MONOTONIC);
        e->end_real = now_ns(CLOCK_REALTIME);
        free(e->stop_reason);
        e->stop_reason = strdup(reason);
        e->stopped_early = !(streq(reason, "duration reached") || streq(reason, "iterations reached") ||
                             streq(reason, "all actors finished their iterations"));

        rec = record_new("stop");
        json_object_object_add(rec, "reason", jstr(reason));
        json_object_object_add(rec, "steps", ju64(e->total_steps));
        journal_write(e, rec, JOURNAL_SYNC);

        e->duration_timer = sd_event_source_disable_unref(e->duration_timer);
        for (size_t i = 0; i < e->n_actors; i++)
                e->actors[i].timer = sd_event_source_disable_unref(e->actors[i].timer);
        for (unsigned i = 0; i < e->n_aligns; i++) {
                atomic_store_explicit(&e->shared->aligns[i].state, ALIGN_CANCELLED, memory_order_release);
                (void)syscall(SYS_futex, &e->shared->aligns[i].state, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
        }

        for (size_t i = 0; i < e->n_workers; i++) {
                EngineWorker *w = &e->workers[i];
                WorkerMsg m = { .type = WORKER_MSG_STOP };
                if (w->state != WS_RUNNING)
                        continue;
                atomic_store_explicit(&e->shared->slots[i].stop, 1, memory_order_release);
                if (w->fd >= 0)
                        (void)send(w->fd, &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        (void)sd_event_add_time_relative(e->event, &e->kill_timer, CLOCK_MONOTONIC, STOP_GRACE_NS / NSEC_PER_USEC,
                                         0, on_kill_timer, e);
        engine_maybe_finish(e);
}

void engine_kill(Engine *e)
{
        if (e->state == RUN_RUNNING)
                engine_stop(e, "killed");
        e->killed = true;
        for (size_t i = 0; i < e->n_workers; i++) {
                EngineWorker *w = &e->workers[i];
                if (w->state == WS_RUNNING && w->pid > 0) {
                        kill_group(w->pid);
                        (void)kill(w->pid, SIGKILL);
                }
        }
}

static Verdict compute_verdict(Engine *e)
{
        bool incomplete = e->stopped_early;

        if (e->error)
                return VERDICT_ERROR;
        if (e->evidence_counted > 0)
                return VERDICT_EVIDENCE;
        for (size_t i = 0; i < e->n_actors; i++) {
                ActorRun *ar = &e->actors[i];
                const ActionType *t = ar->actor->action;
                uint64_t useful = 0;

                for (unsigned k = 0; k < t->n_outcomes; k++) {
                        if (t->outcomes[k].class == OUTCOME_FAILURE && ar->outcomes[k])
                                return VERDICT_EVIDENCE;
                        if (t->outcomes[k].class == OUTCOME_OK || t->outcomes[k].class == OUTCOME_EXPECTED)
                                useful += ar->outcomes[k];
                }
                /* An actor that never managed a single real step did not test anything. */
                if (ar->actor->role == ROLE_ACTOR && useful == 0)
                        incomplete = true;
        }
        return incomplete ? VERDICT_INCOMPLETE : VERDICT_PASS;
}

static void engine_finish(Engine *e)
{
        json_object *report, *rec;
        const char *text;
        int r;

        e->kill_timer = sd_event_source_disable_unref(e->kill_timer);
        e->progress_timer = sd_event_source_disable_unref(e->progress_timer);
        e->verdict = compute_verdict(e);
        e->state = RUN_FINISHED;

        report = engine_report_json(e);
        text = json_object_to_json_string_ext(report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = write_file_atomic_at(e->run_fd, "report.json", text, strlen(text));
        if (r < 0)
                log_error_errno(r, "Cannot write %s/report.json: %m; the journal has the run's record", e->run_dir);
        json_object_put(report);

        rec = record_new("run-end");
        json_object_object_add(rec, "verdict", jstr(verdict_to_string(e->verdict)));
        json_object_object_add(rec, "steps", ju64(e->total_steps));
        json_object_object_add(rec, "reason", jstr(e->stop_reason));
        journal_write(e, rec, JOURNAL_SYNC);

        if (e->cb.finished)
                e->cb.finished(e, e->cb.userdata);
}

static void engine_maybe_finish(Engine *e)
{
        if (e->state != RUN_STOPPING)
                return;
        for (size_t i = 0; i < e->n_workers; i++)
                if (e->workers[i].state == WS_RUNNING)
                        return;
        engine_finish(e);
}

/* ---- status and report ---- */

static json_object *actor_counters_json(ActorRun *ar)
{
        const ActionType *t = ar->actor->action;
        json_object *o = json_object_new_object(), *oc = json_object_new_object();

        json_object_object_add(o, "steps", ju64(ar->steps));
        for (unsigned k = 0; k < t->n_outcomes; k++)
                if (ar->outcomes[k])
                        json_object_object_add(oc, t->outcomes[k].name, ju64(ar->outcomes[k]));
        json_object_object_add(o, "outcomes", oc);
        return o;
}

static json_object *histogram_json(const Histogram *h)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "count", ju64(h->count));
        if (h->count) {
                json_object_object_add(o, "min", ju64(h->min));
                json_object_object_add(o, "p50", ju64(histogram_quantile(h, 0.5)));
                json_object_object_add(o, "p99", ju64(histogram_quantile(h, 0.99)));
                json_object_object_add(o, "max", ju64(h->max));
                json_object_object_add(o, "mean", ju64(h->sum / h->count));
        }
        return o;
}

static const char *const class_names[] = {
        [OUTCOME_OK] = "ok",
        [OUTCOME_EXPECTED] = "expected",
        [OUTCOME_ENV_ERROR] = "env-error",
        [OUTCOME_FAILURE] = "failure",
};

static uint64_t elapsed_ns(const Engine *e)
{
        if (!e->start_mono)
                return 0;
        return (e->end_mono ? e->end_mono : now_ns(CLOCK_MONOTONIC)) - e->start_mono;
}

static json_object *actor_report_json(Engine *e, ActorRun *ar)
{
        const ProfileActor *a = ar->actor;
        const ActionType *t = a->action;
        json_object *o = actor_counters_json(ar), *classes = json_object_new_object(), *metrics, *fails;
        uint64_t by_class[4] = {};
        uint64_t el = elapsed_ns(e);

        json_object_object_add(o, "name", jstr(a->name));
        json_object_object_add(o, "role", jstr(profile_role_to_string(a->role)));
        json_object_object_add(o, "action", jstr(t->name));
        json_object_object_add(o, "instances", ju64(ar->n_workers));
        json_object_object_add(o, "rate_per_s",
                               json_object_new_double(el ? (double)ar->steps * 1e9 / (double)el : 0.0));
        for (unsigned k = 0; k < t->n_outcomes; k++)
                by_class[t->outcomes[k].class] += ar->outcomes[k];
        for (unsigned c = 0; c < ELEMENTSOF(class_names); c++)
                json_object_object_add(classes, class_names[c], ju64(by_class[c]));
        json_object_object_add(o, "classes", classes);

        metrics = json_object_new_object();
        for (unsigned i = 0; t->metrics && t->metrics[i] && i < ACTION_METRICS_MAX; i++)
                json_object_object_add(metrics, t->metrics[i], ju64(ar->metrics[i]));
        json_object_object_add(o, "metrics", metrics);
        json_object_object_add(o, "step_ns", histogram_json(&ar->step_ns));
        if (ar->spread_ns.count)
                json_object_object_add(o, "race_spread_ns", histogram_json(&ar->spread_ns));

        fails = json_object_new_array();
        for (unsigned i = 0; i < FAILURE_DETAILS_MAX; i++) {
                json_object *f;
                if (!ar->failures[i].count)
                        continue;
                f = json_object_new_object();
                json_object_object_add(f, "detail", jstr(ar->failures[i].detail));
                json_object_object_add(f, "count", ju64(ar->failures[i].count));
                json_object_array_add(fails, f);
        }
        json_object_object_add(o, "problems", fails);
        json_object_object_add(o, "workers_started", ju64(ar->workers_started));
        json_object_object_add(o, "workers_crashed", ju64(ar->workers_crashed));
        if (ar->journal_suppressed)
                json_object_object_add(o, "journal_lines_suppressed", ju64(ar->journal_suppressed));
        if (a->role == ROLE_TRIGGER) {
                json_object_object_add(o, "fired", ju64(ar->fired));
                json_object_object_add(o, "skipped_busy", ju64(ar->skipped_busy));
                if (ar->align) {
                        json_object_object_add(o, "aligned_with", jstr(a->align_actor));
                        json_object_object_add(o, "aligned_phase", jstr(a->align_phase));
                        json_object_object_add(o, "align_missed", ju64(ar->align->missed));
                }
        }
        return o;
}

static void add_common(Engine *e, json_object *o)
{
        json_object_object_add(o, "run_id", jstr(e->run_id));
        json_object_object_add(o, "state", jstr(run_state_to_string(e->state)));
        json_object_object_add(o, "profile", jstr(e->profile->path));
        if (e->profile->description)
                json_object_object_add(o, "description", jstr(e->profile->description));
        json_object_object_add(o, "seed", ju64(e->seed));
        json_object_object_add(o, "duration_s", json_object_new_double(
                                                        e->duration_ns == UINT64_MAX ? -1.0 : (double)e->duration_ns / 1e9));
        json_object_object_add(o, "elapsed_s", json_object_new_double((double)elapsed_ns(e) / 1e9));
        json_object_object_add(o, "steps", ju64(e->total_steps));
        json_object_object_add(o, "run_dir", jstr(e->run_dir));
}

json_object *engine_status_json(Engine *e)
{
        json_object *o = json_object_new_object(), *actors = json_object_new_object();

        add_common(e, o);
        for (size_t i = 0; i < e->n_actors; i++)
                json_object_object_add(actors, e->actors[i].actor->name, actor_counters_json(&e->actors[i]));
        json_object_object_add(o, "actors", actors);
        json_object_object_add(o, "evidence_count", ju64(json_object_array_length(e->evidence)));
        if (e->state == RUN_FINISHED)
                json_object_object_add(o, "verdict", jstr(verdict_to_string(e->verdict)));
        return o;
}

json_object *engine_report_json(Engine *e)
{
        json_object *o = json_object_new_object(), *actors = json_object_new_array(), *host;
        struct utsname u;
        char ts[64];

        add_common(e, o);
        json_object_object_add(o, "verdict", jstr(verdict_to_string(e->verdict)));
        json_object_object_add(o, "exit_code", json_object_new_int(verdict_exit_code(e->verdict)));
        if (e->stop_reason)
                json_object_object_add(o, "stop_reason", jstr(e->stop_reason));
        if (e->error)
                json_object_object_add(o, "error", jstr(e->error));
        format_timestamp_iso(ts, sizeof ts, e->start_real);
        json_object_object_add(o, "started", jstr(ts));
        if (e->end_real) {
                format_timestamp_iso(ts, sizeof ts, e->end_real);
                json_object_object_add(o, "ended", jstr(ts));
        }
        host = json_object_new_object();
        uname(&u);
        json_object_object_add(host, "kernel", jstr(u.release));
        json_object_object_add(host, "machine", jstr(u.machine));
        json_object_object_add(host, "boot_id", jstr(e->boot_id));
        json_object_object_add(o, "host", host);
        for (size_t i = 0; i < e->n_actors; i++)
                json_object_array_add(actors, actor_report_json(e, &e->actors[i]));
        json_object_object_add(o, "actors", actors);
        json_object_object_add(o, "evidence", json_object_get(e->evidence));
        json_object_object_add(o, "evidence_counted", ju64(e->evidence_counted));
        return o;
}

int engine_status_line(Engine *e, char *buf, size_t len)
{
        char el[32], du[32];
        size_t used;
        uint64_t elapsed = elapsed_ns(e);

        format_duration(el, sizeof el, elapsed / NSEC_PER_SEC * NSEC_PER_SEC);
        if (e->duration_ns && e->duration_ns != UINT64_MAX)
                format_duration(du, sizeof du, e->duration_ns);
        else
                snprintf(du, sizeof du, "∞");
        used = (size_t)snprintf(buf, len, "%s/%s %" PRIu64 " steps", el, du, e->total_steps);
        for (size_t i = 0; i < e->n_actors && used < len; i++) {
                ActorRun *ar = &e->actors[i];
                used += (size_t)snprintf(buf + used, len - used, " · %s %" PRIu64 " (%.0f/s)", ar->actor->name,
                                         ar->steps, elapsed ? (double)ar->steps * 1e9 / (double)elapsed : 0.0);
        }
        if (used < len)
                used += (size_t)snprintf(buf + used, len - used, " · evidence %zu",
                                         json_object_array_length(e->evidence));
        return 0;
}

/* ---- evidence ---- */

json_object *engine_actions_in_flight(Engine *e)
{
        json_object *a = json_object_new_array();
        uint64_t now = now_ns(CLOCK_MONOTONIC);

        for (size_t i = 0; i < e->n_workers; i++) {
                EngineWorker *w = &e->workers[i];
                WorkerSlot *s = &e->shared->slots[i];
                char phase[WORKER_PHASE_MAX];
                uint64_t since, iteration;
                uint32_t seq;
                json_object *o;
                int tries = 0;

                if (w->state != WS_RUNNING)
                        continue;
                do { /* seqlock read */
                        seq = atomic_load_explicit(&s->seq, memory_order_acquire);
                        memcpy(phase, s->phase, sizeof phase);
                        since = s->phase_since_ns;
                        iteration = s->iteration;
                        atomic_thread_fence(memory_order_acquire);
                } while ((seq & 1 || seq != atomic_load_explicit(&s->seq, memory_order_acquire)) && ++tries < 100);
                phase[sizeof phase - 1] = '\0';

                o = json_object_new_object();
                json_object_object_add(o, "actor", jstr(w->ar->actor->name));
                json_object_object_add(o, "instance", json_object_new_int((int)w->instance));
                json_object_object_add(o, "pid", json_object_new_int(w->pid));
                json_object_object_add(o, "phase", jstr(phase));
                json_object_object_add(o, "iteration", ju64(iteration));
                json_object_object_add(o, "since_ms", json_object_new_double(
                                                              since && now > since ? (double)(now - since) / 1e6 : 0.0));
                json_object_array_add(a, o);
        }
        return a;
}

int engine_add_evidence(Engine *e, int kind, json_object *item)
{
        const char *title = NULL;
        json_object *v, *copy = NULL;
        bool ignored = kind >= 0 && kind < 64 && (e->profile->evidence.ignore & (1ULL << kind));
        bool counted = !ignored;
        size_t n = json_object_array_length(e->evidence);

        if (json_object_object_get_ex(item, "title", &v))
                title = json_object_get_string(v);

        /* Identical titles collapse onto one item with a count, first and last seen. */
        for (size_t i = 0; title && i < n; i++) {
                json_object *it = json_object_array_get_idx(e->evidence, i), *t, *c;
                if (!json_object_object_get_ex(it, "title", &t) || !streq(json_object_get_string(t), title))
                        continue;
                json_object_object_get_ex(it, "count", &c);
                json_object_object_add(it, "count", ju64((uint64_t)json_object_get_int64(c) + 1));
                json_object_object_add(it, "last_seen", ju64(now_ns(CLOCK_REALTIME) / NSEC_PER_USEC));
                copy = it;
                break;
        }
        if (!copy) {
                if (json_object_deep_copy(item, &copy, NULL) < 0 || !copy)
                        return -ENOMEM;
                json_object_object_add(copy, "kind", jstr(evidence_kind_to_string(kind)));
                json_object_object_add(copy, "count", ju64(1));
                json_object_object_add(copy, "first_seen", ju64(now_ns(CLOCK_REALTIME) / NSEC_PER_USEC));
                json_object_object_add(copy, "last_seen", ju64(now_ns(CLOCK_REALTIME) / NSEC_PER_USEC));
                json_object_object_add(copy, "boot_id", jstr(e->boot_id));
                json_object_object_add(copy, "counted", json_object_new_boolean(counted));
                if (e->state == RUN_RUNNING || e->state == RUN_STOPPING)
                        json_object_object_add(copy, "in_flight", engine_actions_in_flight(e));
                json_object_array_add(e->evidence, copy);
        }
        if (counted)
                e->evidence_counted++;

        {
                json_object *rec = record_new("evidence");
                json_object_object_add(rec, "kind", jstr(evidence_kind_to_string(kind)));
                json_object_object_add(rec, "counted", json_object_new_boolean(counted));
                json_object_object_add(rec, "item", json_object_get(copy));
                journal_write(e, rec, JOURNAL_SYNC);
        }
        if (e->cb.evidence)
                e->cb.evidence(e, copy, e->cb.userdata);
        if (kind >= 0 && kind < 64 && (e->profile->evidence.stop_on & (1ULL << kind)) && e->state == RUN_RUNNING) {
                char why[96];
                snprintf(why, sizeof why, "evidence: %s", evidence_kind_to_string(kind));
                engine_stop(e, why);
                e->stopped_early = false; /* stopping on evidence is the profile's plan, not an interruption */
        }
        return 0;
}
