/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker side of an actor: fork, isolate, loop pause → step → report.
 * Nothing here knows what a step does; it paces, times and reports steps.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "log.h"
#include "self-protect.h"
#include "worker.h"

struct Worker {
        const ProfileActor *actor;
        unsigned index, instance;
        Prng prng;
        uint64_t iteration;
        int sock;
        WorkerSlot *slot;
        WorkerSlot local_slot; /* for workers without an engine */
        SharedArea *shared;
        unsigned actor_index;
        void *state;
        const char *run_id;
        bool initialized;
        const ActionHost *host;
        uint64_t next_pause; /* UINT64_MAX: draw from Interval= */
        char tag[64];
};

Prng *worker_prng(Worker *w)
{
        return &w->prng;
}

const char *worker_actor_name(const Worker *w)
{
        return w->actor->name;
}

unsigned worker_instance(const Worker *w)
{
        return w->instance;
}

uint64_t worker_iteration(const Worker *w)
{
        return w->iteration;
}

const char *worker_run_id(const Worker *w)
{
        return w->run_id;
}

const ActionHost *worker_host(const Worker *w)
{
        return w->host;
}

void worker_set_next_pause(Worker *w, uint64_t ns)
{
        w->next_pause = ns;
}

bool worker_should_stop(Worker *w)
{
        return atomic_load_explicit(&w->slot->stop, memory_order_acquire) != 0;
}

static void futex_wake_all(_Atomic uint32_t *addr)
{
        (void)syscall(SYS_futex, addr, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t timeout_ns)
{
        struct timespec ts = { .tv_sec = (time_t)(timeout_ns / NSEC_PER_SEC), .tv_nsec = (long)(timeout_ns % NSEC_PER_SEC) };
        (void)syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
}

/* The actor's side of an aligned race: claim the slot, wait for the trigger, leave together. */
static void align_actor(AlignSlot *al)
{
        uint32_t expected = ALIGN_ARMED;
        uint64_t deadline;

        if (!atomic_compare_exchange_strong(&al->state, &expected, ALIGN_ACTOR_ARRIVED))
                return;
        futex_wake_all(&al->state);
        deadline = now_ns(CLOCK_MONOTONIC) + ALIGN_ACTOR_WAIT_NS;
        while (atomic_load_explicit(&al->state, memory_order_acquire) != ALIGN_TRIGGER_READY) {
                if (now_ns(CLOCK_MONOTONIC) > deadline) {
                        expected = ALIGN_ACTOR_ARRIVED;
                        /* The trigger did not come: give the slot back for the next time. */
                        if (atomic_compare_exchange_strong(&al->state, &expected, ALIGN_ARMED)) {
                                al->missed++;
                                return;
                        }
                        if (expected != ALIGN_TRIGGER_READY)
                                return; /* cancelled */
                        break; /* it came just now */
                }
                cpu_relax();
        }
        al->t_actor = now_ns(CLOCK_MONOTONIC);
        atomic_store_explicit(&al->state, ALIGN_GO, memory_order_release);
}

/* The trigger's side: sleep until the actor arrives, then meet it. Returns the spread, or 0 if stopped. */
static uint64_t align_trigger(Worker *w, AlignSlot *al)
{
        uint64_t t;

        for (;;) {
                uint32_t st = atomic_load_explicit(&al->state, memory_order_acquire);
                if (st == ALIGN_CANCELLED || worker_should_stop(w))
                        return 0;
                if (st == ALIGN_ACTOR_ARRIVED) {
                        uint32_t expected = ALIGN_ACTOR_ARRIVED;
                        if (atomic_compare_exchange_strong(&al->state, &expected, ALIGN_TRIGGER_READY))
                                break;
                        continue; /* the actor gave up a moment ago */
                }
                futex_wait(&al->state, st, 200 * NSEC_PER_MSEC);
        }
        while (atomic_load_explicit(&al->state, memory_order_acquire) != ALIGN_GO)
                cpu_relax();
        t = now_ns(CLOCK_MONOTONIC);
        atomic_store_explicit(&al->state, ALIGN_IDLE, memory_order_release);
        /* Never 0: 0 means "no race happened". */
        return MAX(t > al->t_actor ? t - al->t_actor : al->t_actor - t, 1);
}

void worker_set_phase(Worker *w, const char *phase)
{
        WorkerSlot *s = w->slot;

        /* A seqlock: the engine retries a read that saw an odd or changed seq. */
        atomic_fetch_add_explicit(&s->seq, 1, memory_order_acq_rel);
        atomic_thread_fence(memory_order_release);
        strncpy(s->phase, phase, sizeof s->phase - 1);
        s->phase[sizeof s->phase - 1] = '\0';
        s->phase_since_ns = now_ns(CLOCK_MONOTONIC);
        s->iteration = w->iteration;
        atomic_thread_fence(memory_order_release);
        atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);

        /* Is a trigger waiting for this actor to reach this phase? */
        if (w->shared)
                for (unsigned i = 0; i < ALIGN_MAX; i++) {
                        AlignSlot *al = &w->shared->aligns[i];
                        if (atomic_load_explicit(&al->state, memory_order_relaxed) == ALIGN_ARMED &&
                            al->actor == w->actor_index && streq(al->phase, phase))
                                align_actor(al);
                }
}

static int send_msg(Worker *w, WorkerMsgType type, uint64_t start, uint64_t duration, const StepResult *res)
{
        WorkerMsg m = {
                .type = type,
                .worker = w->index,
                .iteration = w->iteration,
                .start_ns = start,
                .duration_ns = duration,
        };

        if (w->sock < 0)
                return 0;
        if (res)
                m.result = *res;
        for (;;) {
                if (send(w->sock, &m, sizeof m, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return negative_errno();
        }
}

void worker_note(Worker *w, const char *format, ...)
{
        StepResult res = {};
        va_list ap;

        va_start(ap, format);
        vsnprintf(res.detail, sizeof res.detail, format, ap);
        va_end(ap);
        send_msg(w, WORKER_MSG_NOTE, now_ns(CLOCK_MONOTONIC), 0, &res);
}

int worker_report(Worker *w, const char *json)
{
        size_t len = strlen(json);
        _cleanup_free_ char *buf = NULL;
        WorkerMsg m = { .type = WORKER_MSG_REPORT, .worker = w->index, .iteration = w->iteration };

        if (len > WORKER_REPORT_MAX)
                return -E2BIG;
        if (w->sock < 0)
                return 0;
        /* One SOCK_SEQPACKET message: the engine tells it from a plain WorkerMsg by its length. */
        buf = malloc(sizeof m + len + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, &m, sizeof m);
        memcpy(buf + sizeof m, json, len + 1);
        while (send(w->sock, buf, sizeof m + len + 1, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return 0;
}

/* Waits up to ns for the engine; returns true if the engine asked us to stop (or went away). */
static bool wait_or_stop(Worker *w, uint64_t ns)
{
        struct pollfd pfd = { .fd = w->sock, .events = POLLIN };
        uint64_t deadline = now_ns(CLOCK_MONOTONIC) + ns;

        for (;;) {
                uint64_t now = now_ns(CLOCK_MONOTONIC);
                struct timespec ts;
                int k;

                if (worker_should_stop(w))
                        return true;
                if (now >= deadline)
                        return false;
                ts = (struct timespec){ .tv_sec = (time_t)((deadline - now) / NSEC_PER_SEC),
                                        .tv_nsec = (long)((deadline - now) % NSEC_PER_SEC) };
                k = ppoll(&pfd, 1, &ts, NULL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return true;
                if (k > 0) {
                        WorkerMsg m;
                        ssize_t n = recv(w->sock, &m, sizeof m, MSG_DONTWAIT);
                        if (n <= 0 || m.type == WORKER_MSG_STOP)
                                return true;
                }
        }
}

static int worker_init_once(Worker *w)
{
        const ActionType *t = w->actor->action;
        int r = 0;

        if (w->initialized)
                return 0;
        worker_set_phase(w, "init");
        if (t->worker_init)
                r = t->worker_init(w, w->actor->params, &w->state);
        if (r >= 0)
                w->initialized = true;
        return r;
}

static void worker_done(Worker *w)
{
        const ActionType *t = w->actor->action;

        if (w->initialized && t->worker_done)
                t->worker_done(w, w->actor->params, w->state);
        w->initialized = false;
        w->state = NULL;
}

_noreturn_ static void fatal(Worker *w, int error, const char *what)
{
        StepResult res = { .error = error };

        snprintf(res.detail, sizeof res.detail, "%s: %s", what, strerror(error < 0 ? -error : error));
        log_error_errno(error, "%s: %m", what);
        send_msg(w, WORKER_MSG_FATAL, now_ns(CLOCK_MONOTONIC), 0, &res);
        _exit(EXIT_FAILURE);
}

_noreturn_ void worker_main(const WorkerSpec *spec)
{
        Worker w = {
                .actor = spec->actor,
                .index = spec->index,
                .instance = spec->instance,
                .sock = spec->sock,
                .slot = spec->slot,
                .shared = spec->shared,
                .actor_index = spec->actor_index,
                .run_id = spec->run_id,
                .host = spec->host,
                .next_pause = UINT64_MAX,
        };
        const ProfileActor *a = spec->actor;
        int r;

        snprintf(w.tag, sizeof w.tag, "%s/%u", a->name, spec->instance);
        log_set_tag(w.tag);
        prng_split(&w.prng, spec->run_seed, a->name, spec->instance);
        w.slot->pid = (int32_t)getpid();

        r = worker_init_once(&w);
        if (r < 0)
                fatal(&w, r, "action setup failed");
        if (send_msg(&w, WORKER_MSG_READY, now_ns(CLOCK_MONOTONIC), 0, NULL) < 0)
                _exit(EXIT_FAILURE);

        while (spec->iterations == 0 || w.iteration < spec->iterations) {
                StepResult res = {};
                uint64_t pause = spec->ignore_interval ? 0 : prng_range(&w.prng, a->interval.lo, a->interval.hi);
                uint64_t start, end, spread = 0;

                if (w.next_pause != UINT64_MAX && !spec->ignore_interval)
                        pause = w.next_pause;
                w.next_pause = UINT64_MAX;

                worker_set_phase(&w, "pause");
                if (wait_or_stop(&w, pause))
                        break;
                if (spec->align) {
                        worker_set_phase(&w, "aligning");
                        spread = align_trigger(&w, spec->align);
                        if (spread == 0)
                                break; /* stopped while waiting */
                }

                start = now_ns(CLOCK_MONOTONIC);
                r = a->action->step(&w, a->params, w.state, &res);
                end = now_ns(CLOCK_MONOTONIC);
                if (r < 0)
                        fatal(&w, r, res.detail[0] ? res.detail : "step failed");
                if (res.outcome >= a->action->n_outcomes)
                        fatal(&w, -EINVAL, "step reported an outcome the action does not define");
                if (spread)
                        res.race_spread_ns = spread;
                w.iteration++;
                if (send_msg(&w, WORKER_MSG_STEP, start, end - start, &res) < 0)
                        break; /* the engine is gone: nothing left to report to */
        }

        worker_set_phase(&w, "done");
        worker_done(&w);
        send_msg(&w, WORKER_MSG_DONE, now_ns(CLOCK_MONOTONIC), 0, NULL);
        _exit(EXIT_SUCCESS);
}

int worker_spawn(const WorkerSpec *spec, pid_t *ret_pid)
{
        pid_t parent = getpid(), pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid > 0) {
                /* Set it from both sides so the engine can kill the group before the child ran. */
                (void)setpgid(pid, pid);
                *ret_pid = pid;
                return 0;
        }

        /* Child. */
        WorkerSpec s = *spec;
        sigset_t all;
        struct sigaction dfl = { .sa_handler = SIG_DFL };

        (void)setpgid(0, 0);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);
        for (int sig = 1; sig < _NSIG; sig++)
                (void)sigaction(sig, &dfl, NULL);
        /* The engine is -1000 to the OOM killer; a worker (and what it forks) must stay a fair victim. */
        (void)oom_score_adj_unprotect();
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);

        /* Keep stdio and our socket; nothing of the engine's (bus, journal, kmsg) leaks into a worker. */
        if (s.sock != 3) {
                if (dup3(s.sock, 3, O_CLOEXEC) < 0)
                        _exit(EXIT_FAILURE);
                s.sock = 3;
        }
        if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
                for (int fd = 4; fd < 1024; fd++)
                        (void)close(fd);

        {
                char name[16];
                snprintf(name, sizeof name, "hvt-%s", spec->actor->name);
                (void)prctl(PR_SET_NAME, name);
        }
        log_open();
        worker_main(&s);
}

int worker_new_local(const ProfileActor *actor, uint64_t seed, unsigned instance, Worker **ret)
{
        Worker *w = calloc(1, sizeof *w);

        if (!w)
                return -ENOMEM;
        w->actor = actor;
        w->instance = instance;
        w->sock = -1;
        w->slot = &w->local_slot;
        w->next_pause = UINT64_MAX;
        prng_split(&w->prng, seed, actor->name, instance);
        *ret = w;
        return 0;
}

Worker *worker_free_local(Worker *w)
{
        if (!w)
                return NULL;
        worker_done(w);
        free(w);
        return NULL;
}

int worker_local_step(Worker *w, StepResult *ret)
{
        int r;

        *ret = (StepResult){};
        r = worker_init_once(w);
        if (r < 0)
                return r;
        r = w->actor->action->step(w, w->actor->params, w->state, ret);
        if (r >= 0)
                w->iteration++;
        return r;
}

const char *worker_local_phase(Worker *w)
{
        return w->slot->phase;
}

void worker_set_local_host(Worker *w, const ActionHost *host)
{
        w->host = host;
}

uint64_t worker_local_next_pause(Worker *w)
{
        uint64_t p = w->next_pause;
        w->next_pause = UINT64_MAX;
        return p;
}
