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
#include <fcntl.h>
#include <stdarg.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "config.h"
#include "engine-internal.h"
#include "kvm-util.h"
#include "log.h"

static const char *const default_pstore_dirs[] = { "/sys/fs/pstore", "/var/lib/systemd/pstore", NULL };

static void engine_maybe_finish(Engine *e);
static int worker_start(EngineWorker *w, uint64_t iterations, bool ignore_interval);

/* ---- small helpers ---- */

void engine_set_error(Engine *e, const char *fmt, ...)
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

void engine_journal_write(Engine *e, json_object *rec, JournalSync sync)
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
        e->action_host = (ActionHost){
                .config = opts->host,
                .allow_destructive = opts->allow_destructive || (opts->host && opts->host->allow_destructive),
                .engine_pid = getpid(),
        };
        e->progress_interval_ns = opts->progress_interval_ns ? opts->progress_interval_ns : NSEC_PER_SEC;
        e->state_dir = strdup(opts->state_dir ? opts->state_dir
                                              : (opts->host && opts->host->state_dir ? opts->host->state_dir
                                                                                     : "/var/lib/hvtorture"));
        if (!e->state_dir)
                return -ENOMEM;
        if (cb)
                e->cb = *cb;
        if (opts->kmsg_path && !(e->kmsg_path = strdup(opts->kmsg_path)))
                return -ENOMEM;
        e->pstore_dirs = opts->pstore_dirs ? opts->pstore_dirs : default_pstore_dirs;
        e->pstore_counted = opts->pstore_counted;
        e->daemon_owned = opts->daemon_owned;
        e->boots = json_object_new_array();
        e->kmsg_start = KMSG_START_END;
        e->kmsg_after_seq = UINT64_MAX;
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
                ar->reports = calloc(ar->n_workers, sizeof *ar->reports);
                if (!ar->reports)
                        return -ENOMEM;
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
                for (unsigned k = 0; e->actors[i].reports && k < e->actors[i].n_workers; k++)
                        json_object_put(e->actors[i].reports[k]);
                free(e->actors[i].reports);
                sd_event_source_disable_unref(e->actors[i].timer);
        }
        free(e->actors);
        free(e->workers);
        if (e->shared)
                munmap(e->shared, e->shared_size);
        sd_event_source_disable_unref(e->duration_timer);
        sd_event_source_disable_unref(e->progress_timer);
        sd_event_source_disable_unref(e->kill_timer);
        evidence_monitor_free(e->monitor);
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
        free(e->kmsg_path);
        free(e->kmsg_problem);
        free(e->expected_panic_trigger);
        json_object_put(e->boots);
        free(e);
        return NULL;
}

/* ---- accessors ---- */

RunState engine_state(const Engine *e)
{
        return e->state;
}
bool engine_suspended(const Engine *e)
{
        return e->suspended;
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
uint64_t engine_elapsed_ns(const Engine *e)
{
        if (!e->start_mono)
                return e->elapsed_before_ns;
        return e->elapsed_before_ns + (e->end_mono ? e->end_mono : now_ns(CLOCK_MONOTONIC)) - e->start_mono;
}

unsigned engine_boot_count(const Engine *e)
{
        return e->boot_index + 1;
}

uint64_t engine_boot_seed(const Engine *e)
{
        /* Each boot draws fresh choices, still reproducible from the run seed and the boot number. */
        return e->boot_index == 0 ? e->seed : e->seed ^ (0x9e3779b97f4a7c15ULL * e->boot_index);
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
        if (ar->actor->role == ROLE_TRIGGER || (t->flags & ACTION_JOURNAL_STEPS) ||
            ((o->class == OUTCOME_FAILURE || o->class == OUTCOME_ENV_ERROR || m->result.race_spread_ns) &&
             journal_step_allowed(ar))) {
                json_object *rec = record_new("step");
                json_object_object_add(rec, "actor", jstr(ar->actor->name));
                json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
                json_object_object_add(rec, "iteration", ju64(m->iteration));
                json_object_object_add(rec, "outcome", jstr(o->name));
                json_object_object_add(rec, "duration_ns", ju64(m->duration_ns));
                /* When the step ended, as the worker measured it: not when its message got here. */
                json_object_object_add(rec, "mono", ju64((m->start_ns + m->duration_ns) / NSEC_PER_USEC));
                if (m->result.error)
                        json_object_object_add(rec, "error", jstr(strerror(abs(m->result.error))));
                if (m->result.detail[0])
                        json_object_object_add(rec, "detail", jstr(m->result.detail));
                if (m->result.race_spread_ns)
                        json_object_object_add(rec, "race_spread_ns", ju64(m->result.race_spread_ns));
                engine_journal_write(e, rec, ar->actor->role == ROLE_TRIGGER ? JOURNAL_SYNC : JOURNAL_NOSYNC);
        }

        /* A reboot trigger that came back with an error did not take the host down: the next boot is not its
         * doing. One that says "fired" has handed the reboot to the kernel or systemd. */
        if (e->reboot_pending == ar) {
                if (o->class == OUTCOME_OK)
                        e->reboot_under_way = true;
                else {
                        e->reboot_pending = NULL;
                        (void)engine_save_state(e, NULL);
                }
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
                engine_journal_write(e, rec, JOURNAL_SYNC);
                break;
        case WORKER_MSG_FATAL:
                w->fatal = true;
                rec = record_new("worker-fatal");
                json_object_object_add(rec, "actor", jstr(w->ar->actor->name));
                json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
                json_object_object_add(rec, "detail", jstr(m->result.detail));
                engine_journal_write(e, rec, JOURNAL_SYNC);
                if (!e->error)
                        engine_set_error(e, "[%s %s] instance %u: %s", profile_role_to_string(w->ar->actor->role),
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

/* A worker's report section (worker_report()): kept per instance, the last one wins, and journaled. */
static void handle_report(EngineWorker *w, const char *text)
{
        ActorRun *ar = w->ar;
        json_object *o = json_tokener_parse(text), *rec;

        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return; /* not an object: ignored rather than misread */
        }
        json_object_object_add(o, "instance", json_object_new_int((int)w->instance));
        json_object_put(ar->reports[w->instance]);
        ar->reports[w->instance] = o;
        rec = record_new("report");
        json_object_object_add(rec, "actor", jstr(ar->actor->name));
        json_object_object_add(rec, "instance", json_object_new_int((int)w->instance));
        json_object_object_add(rec, "report", json_object_get(o));
        engine_journal_write(w->engine, rec, JOURNAL_SYNC);
}

static void drain(EngineWorker *w)
{
        /* Big enough for a report section; the engine is single-threaded. */
        static union {
                WorkerMsg m;
                char buf[sizeof(WorkerMsg) + WORKER_REPORT_MAX + 2];
        } in;

        while (w->fd >= 0) {
                ssize_t n = recv(w->fd, &in, sizeof in - 1, MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if ((size_t)n > sizeof in.m && in.m.type == WORKER_MSG_REPORT) {
                        in.buf[n] = '\0';
                        handle_report(w, in.buf + sizeof in.m);
                        continue;
                }
                if ((size_t)n != sizeof in.m)
                        continue; /* not one of ours: ignore rather than misread */
                handle_msg(w, &in.m);
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
        engine_journal_write(e, rec, JOURNAL_NOSYNC);

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
                else if (ar->actor->role == ROLE_ACTOR && ar->actor->ends_run && ar->live == 0) {
                        char why[96];
                        snprintf(why, sizeof why, "[Actor %s] finished its iterations", ar->actor->name);
                        engine_stop(e, why);
                        e->stopped_early = false; /* EndsRun=: the profile's own end */
                }
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
                .run_seed = engine_boot_seed(e),
                .run_id = e->run_id,
                .iterations = iterations,
                .ignore_interval = ignore_interval,
                .slot = slot,
                .shared = e->shared,
                .actor_index = (unsigned)(w->ar - e->actors),
                .align = w->ar->actor->role == ROLE_TRIGGER ? w->ar->align : NULL,
                .host = &e->action_host,
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
        engine_journal_write(e, rec, JOURNAL_NOSYNC);
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
        if ((ar->actor->action->flags & ACTION_REBOOTS) && e->profile->reboots &&
            e->planned_reboots >= e->profile->reboots)
                return; /* Reboots= reached: the run ends in this boot */
        /* The intent goes to disk before anything happens: a trigger may take the host down. */
        rec = record_new("trigger");
        json_object_object_add(rec, "trigger", jstr(ar->actor->name));
        json_object_object_add(rec, "action", jstr(ar->actor->action->name));
        json_object_object_add(rec, "why", jstr(why));
        json_object_object_add(rec, "steps_so_far", ju64(e->total_steps));
        json_object_object_add(rec, "boot_id", jstr(e->boot_id));
        engine_journal_write(e, rec, JOURNAL_SYNC);
        ar->fired++;
        /* Counters and the reboot to come, synced: the next boot resumes from exactly here. */
        if (ar->actor->action->flags & ACTION_REBOOTS) {
                e->reboot_pending = ar;
                (void)engine_save_state(e, ar);
        }
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
        engine_journal_write(e, rec, JOURNAL_NOSYNC);
        /* Every ten ticks the counters go to state.json too: an unplanned crash loses at most that much. */
        if (++e->state_ticks % 10 == 0)
                (void)engine_save_state(e, NULL);

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
        const ProfileActor *kvm_loader = NULL;
        bool kvm_present = true;
        const char *why = NULL;

        if (profile_is_destructive(p, &why) && !e->allow_destructive &&
            !(e->host && e->host->allow_destructive)) {
                engine_set_error(e,
                          "%s: %s is destructive, and this host has not opted in: set AllowDestructive=yes in "
                          "[Host] of %s, or pass --allow-destructive to a one-shot run",
                          p->path, why, e->host && e->host->path ? e->host->path : "/etc/hvtorture/hvtorture.conf");
                return -EPERM;
        }
        /* What the host config allows comes first: a refused module must change nothing, whatever else is missing. */
        for (size_t i = 0; i < p->n_actors; i++) {
                const ProfileActor *a = &p->actors[i];
                _cleanup_free_ char *reason = NULL;
                int r;

                if (!a->action->check_allowed)
                        continue;
                r = a->action->check_allowed(a->params, &e->action_host, &reason);
                if (r < 0) {
                        engine_set_error(e, "%s: [%s %s] (Action=%s) is not allowed on this host: %s", p->path,
                                  profile_role_to_string(a->role), a->name, a->action->name,
                                  reason ? reason : strerror(-r));
                        return r;
                }
        }
        for (size_t i = 0; i < p->n_actors; i++)
                if (p->actors[i].action->provides_kvm && p->actors[i].action->provides_kvm(p->actors[i].params))
                        kvm_loader = &p->actors[i];
        if (kvm_loader) {
                _cleanup_close_ int fd = -1;
                int r = kvm_open(&fd);
                kvm_present = r >= 0 || !kvm_error_is_gone(r);
        }
        for (size_t i = 0; i < p->n_actors; i++) {
                const ProfileActor *a = &p->actors[i];
                _cleanup_free_ char *reason = NULL;
                int r;

                if (!a->action->check_host)
                        continue;
                /*
                 * A section that needs /dev/kvm may start without it when another one loads kvm: its
                 * steps meet a missing /dev/kvm as an expected outcome until the module comes.
                 */
                if ((a->action->flags & ACTION_NEEDS_KVM) && kvm_loader && !kvm_present) {
                        log_info("[%s %s] starts without /dev/kvm: [%s %s] loads kvm", profile_role_to_string(a->role),
                                 a->name, profile_role_to_string(kvm_loader->role), kvm_loader->name);
                        continue;
                }
                r = a->action->check_host(a->params, &reason);
                if (r < 0) {
                        engine_set_error(e, "[%s %s] (Action=%s) cannot run on this host: %s",
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
        engine_journal_write(e, rec, JOURNAL_SYNC);
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
                engine_set_error(e, "Cannot use the state directory %s: %s", e->state_dir, strerror(-r));
                return r;
        }
        r = store_new_run_id(e->run_id);
        if (r >= 0)
                r = store_create_run(e->store, e->run_id, &e->run_fd);
        if (r < 0) {
                engine_set_error(e, "Cannot create a run directory in %s/runs: %s", e->state_dir, strerror(-r));
                return r;
        }
        if (asprintf(&e->run_dir, "%s/runs/%s", e->state_dir, e->run_id) < 0)
                return -ENOMEM;

        r = write_file_atomic_at(e->run_fd, "profile.ini", e->profile->text, e->profile->text_len);
        if (r >= 0)
                r = journal_open(e->run_fd, "journal.jsonl", &e->journal);
        if (r < 0) {
                engine_set_error(e, "Cannot write the run's files in %s: %s", e->run_dir, strerror(-r));
                return r;
        }

        e->start_mono = now_ns(CLOCK_MONOTONIC);
        e->start_real = now_ns(CLOCK_REALTIME);
        r = write_run_start(e);
        if (r < 0) {
                engine_set_error(e, "Cannot write the journal in %s: %s", e->run_dir, strerror(-r));
                return r;
        }
        /* From here on the run is findable after a reboot or if this process dies. */
        r = store_mark_active(e->store, e->run_id, e->daemon_owned ? "daemon" : "cli");
        if (r < 0)
                log_warning_errno(r, "Cannot mark run %s active, ignoring (it will not resume after a reboot): %m",
                                  e->run_id);
        engine_record_first_boot(e);
        return engine_launch(e);
}

int engine_launch(Engine *e)
{
        uint64_t remaining = e->duration_ns;
        int r;

        e->state = RUN_RUNNING;
        e->verdict = VERDICT_PASS;
        engine_start_evidence(e);

        for (size_t i = 0; i < e->n_actors; i++) {
                ActorRun *ar = &e->actors[i];
                const ProfileActor *a = ar->actor;

                if (a->role == ROLE_TRIGGER) {
                        uint64_t first = a->at_ns ? a->at_ns : a->every_ns, el = e->elapsed_before_ns;
                        /* Timed triggers keep the run's clock, which goes on across boots: a one-off that
                         * fired in an earlier boot is done, a repeating one fires at its next due time. */
                        if (first && el) {
                                if (!a->every_ns && ar->fired)
                                        continue;
                                if (a->every_ns && first <= el)
                                        first += ((el - first) / a->every_ns + 1) * a->every_ns;
                                first = first > el ? first - el : NSEC_PER_MSEC;
                        }
                        if (!first) {
                                /* AlignWith= alone: armed from the start, fires at the actor's first chance
                                 * (once per run: not again after a resume). */
                                if (ar->align && !(el && ar->fired))
                                        trigger_fire(e, ar, "aligned");
                                continue;
                        }
                        r = sd_event_add_time_relative(e->event, &ar->timer, CLOCK_MONOTONIC,
                                                       first / NSEC_PER_USEC, 0, on_trigger_timer, ar);
                        if (r < 0) {
                                engine_set_error(e, "Cannot arm [Trigger %s]: %s", a->name, strerror(-r));
                                engine_stop(e, "setup failed");
                                return r;
                        }
                        continue;
                }
                for (unsigned k = 0; k < ar->n_workers; k++) {
                        r = worker_start(&e->workers[ar->first_worker + k],
                                         a->role == ROLE_ACTOR ? a->iterations : 0, false);
                        if (r < 0) {
                                engine_set_error(e, "Cannot start [%s %s]: %s", profile_role_to_string(a->role),
                                          a->name, strerror(-r));
                                engine_stop(e, "setup failed");
                                return r;
                        }
                }
        }

        r = sd_event_add_time_relative(e->event, &e->progress_timer, CLOCK_MONOTONIC,
                                       e->progress_interval_ns / NSEC_PER_USEC, 0, on_progress, e);
        /* A resumed run has spent part of its Duration= in earlier boots. */
        if (e->duration_ns && e->duration_ns != UINT64_MAX)
                remaining = e->duration_ns > e->elapsed_before_ns ? e->duration_ns - e->elapsed_before_ns : 1;
        if (r >= 0 && e->duration_ns && e->duration_ns != UINT64_MAX)
                r = sd_event_add_time_relative(e->event, &e->duration_timer, CLOCK_MONOTONIC,
                                               remaining / NSEC_PER_USEC, 0, on_duration, e);
        if (r < 0) {
                engine_set_error(e, "Cannot arm the run's timers: %s", strerror(-r));
                engine_stop(e, "setup failed");
                return r;
        }
        return 0;
}

/* ---- stop and finish ---- */

/* What a worker is doing now, from its shared slot (a seqlock read: the worker writes it without a lock). */
void engine_worker_phase(Engine *e, size_t index, char phase[static WORKER_PHASE_MAX], uint64_t *ret_since,
                         uint64_t *ret_iteration)
{
        WorkerSlot *s = &e->shared->slots[index];
        uint64_t since, iteration;
        uint32_t seq;
        int tries = 0;

        do {
                seq = atomic_load_explicit(&s->seq, memory_order_acquire);
                memcpy(phase, s->phase, WORKER_PHASE_MAX);
                since = s->phase_since_ns;
                iteration = s->iteration;
                atomic_thread_fence(memory_order_acquire);
        } while ((seq & 1 || seq != atomic_load_explicit(&s->seq, memory_order_acquire)) && ++tries < 100);
        phase[WORKER_PHASE_MAX - 1] = '\0';
        if (ret_since)
                *ret_since = since;
        if (ret_iteration)
                *ret_iteration = iteration;
}

/* Is the worker of this trigger asking for its reboot right now? */
static bool reboot_firing(Engine *e, const ActorRun *ar)
{
        char phase[WORKER_PHASE_MAX];

        if (e->workers[ar->first_worker].state != WS_RUNNING)
                return false;
        engine_worker_phase(e, ar->first_worker, phase, NULL, NULL);
        return streq(phase, "reboot:fire");
}

void engine_stop(Engine *e, const char *reason)
{
        json_object *rec;

        if (e->state != RUN_RUNNING)
                return;
        e->state = RUN_STOPPING;
        /* The host may be going down under a trigger of ours (systemd stopping us on the way): engine_finish
         * decides, once every worker has reported. */
        if (e->reboot_pending && !e->reboot_under_way && reboot_firing(e, e->reboot_pending))
                e->reboot_under_way = true; /* it is asking right now; its "fired" may not have reached us yet */
        e->end_mono = now_ns(CLOCK_MONOTONIC);
        e->end_real = now_ns(CLOCK_REALTIME);
        free(e->stop_reason);
        e->stop_reason = strdup(reason);
        e->stopped_early = !(streq(reason, "duration reached") || streq(reason, "iterations reached") ||
                             streq(reason, "all actors finished their iterations") || streq(reason, "reboots reached"));

        rec = record_new("stop");
        json_object_object_add(rec, "reason", jstr(reason));
        json_object_object_add(rec, "steps", ju64(e->total_steps));
        engine_journal_write(e, rec, JOURNAL_SYNC);

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
        /* The last splats: whatever the kernel printed while the workers were being reaped. */
        if (e->monitor)
                (void)evidence_monitor_finish(e->monitor);
        e->verdict = compute_verdict(e);
        e->state = RUN_FINISHED;
        /* A reboot of ours under way (its step said "fired", or was firing when we stopped): the run goes on
         * after it. A stop while the trigger still waited to fire is an ordinary end. */
        e->suspended = e->reboot_pending && e->reboot_under_way;
        if (e->suspended) {
                rec = record_new("suspend");
                json_object_object_add(rec, "reason", jstr(e->stop_reason));
                json_object_object_add(rec, "reboot_by", jstr(e->reboot_pending->actor->name));
                engine_journal_write(e, rec, JOURNAL_SYNC);
                /* Not an end: counters and the pending reboot are saved, the run stays marked active. */
                e->verdict = VERDICT_INCOMPLETE;
                (void)engine_save_state(e, NULL);
                log_info("Run %s suspended for the reboot [Trigger %s] asked for; it resumes in the next boot",
                         e->run_id, e->reboot_pending->actor->name);
                if (e->cb.finished)
                        e->cb.finished(e, e->cb.userdata);
                return;
        }
        e->reboot_pending = NULL; /* ended before its trigger fired: no reboot is coming */

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
        engine_journal_write(e, rec, JOURNAL_SYNC);
        (void)engine_save_state(e, NULL);
        /* The report and run-end are on disk: nothing is left to resume. */
        if (e->store)
                (void)store_clear_active(e->store, e->run_id);

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

