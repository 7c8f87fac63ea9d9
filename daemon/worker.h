/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Workers: one process per actor instance, forked by the engine. A worker
 * loops pause → step → report, sending one WorkerMsg per step over a
 * SOCK_SEQPACKET socketpair, and publishes what it is doing right now in a
 * WorkerSlot of memory shared with the engine (so evidence can name the
 * actions in flight without a message per phase change).
 *
 * Each worker leads its own process group: whatever it forks (a VMM that
 * is about to be SIGKILLed, a peer holding a VM fd) dies with the group
 * when the engine cleans up, and dies with the worker (PDEATHSIG).
 */
#pragma once

#include <stdatomic.h>
#include <sys/types.h>

#include "action.h"
#include "profile.h"

#define WORKER_PHASE_MAX 32

/* Shared between the engine and one worker; written by the worker only, except stop. */
typedef struct WorkerSlot {
        _Atomic uint32_t seq; /* odd while the worker writes phase fields */
        _Atomic uint32_t stop; /* set by the engine: finish the current step and exit */
        int32_t pid;
        uint64_t iteration;
        uint64_t phase_since_ns; /* CLOCK_MONOTONIC */
        char phase[WORKER_PHASE_MAX];
} WorkerSlot;

/*
 * An aligned race: [Trigger T] AlignWith=ACTOR:PHASE. The engine arms the
 * slot and forks T's worker, which sleeps on it (futex). The first worker of
 * ACTOR to enter PHASE claims it, wakes T, and the two meet at a spin
 * barrier and leave it within microseconds of each other; T measures the
 * spread. If T does not answer in time the actor goes on alone and the
 * slot stays armed for the next time.
 */
typedef enum AlignState {
        ALIGN_IDLE,
        ALIGN_ARMED,         /* the trigger waits for the actor */
        ALIGN_ACTOR_ARRIVED, /* the actor is at the barrier, waiting for the trigger */
        ALIGN_TRIGGER_READY, /* the trigger is at the barrier too */
        ALIGN_GO,            /* the actor has left: t_actor is valid */
        ALIGN_CANCELLED,     /* the run is stopping */
} AlignState;

#define ALIGN_MAX 16
#define ALIGN_ACTOR_WAIT_NS (50 * NSEC_PER_MSEC)

typedef struct AlignSlot {
        _Atomic uint32_t state;
        uint32_t actor; /* index of the actor in the profile */
        char phase[WORKER_PHASE_MAX];
        uint64_t t_actor; /* CLOCK_MONOTONIC when the actor left the barrier */
        uint64_t missed;  /* times the actor arrived and the trigger did not answer in time */
} AlignSlot;

/* Memory shared by the engine and all its workers. */
typedef struct SharedArea {
        AlignSlot aligns[ALIGN_MAX];
        WorkerSlot slots[]; /* one per worker */
} SharedArea;

typedef enum WorkerMsgType {
        WORKER_MSG_READY = 1, /* init done, stepping starts */
        WORKER_MSG_STEP,      /* one step ended: result */
        WORKER_MSG_NOTE,      /* a rare free-form note for the journal (result.detail) */
        WORKER_MSG_FATAL,     /* init or a step failed hard: result.error, result.detail; the worker exits */
        WORKER_MSG_DONE,      /* iterations done, exiting normally */
        WORKER_MSG_STOP,      /* engine → worker: stop now */
        WORKER_MSG_REPORT,    /* a report section: the JSON text follows the WorkerMsg in the same message */
} WorkerMsgType;

typedef struct WorkerMsg {
        uint32_t type;
        uint32_t worker; /* the engine's index of this worker */
        uint64_t iteration;
        uint64_t start_ns; /* CLOCK_MONOTONIC at step start */
        uint64_t duration_ns;
        StepResult result;
} WorkerMsg;

/* What the engine hands a worker at fork. */
typedef struct WorkerSpec {
        const ProfileActor *actor;
        unsigned index;    /* engine-wide worker index */
        unsigned instance; /* instance number within the actor */
        uint64_t run_seed;
        const char *run_id; /* the engine's, valid in the forked worker; NULL for local workers */
        uint64_t iterations;  /* steps to run; 0 = until stopped */
        bool ignore_interval; /* triggers fire at once */
        WorkerSlot *slot;
        SharedArea *shared;  /* the align table, to check on every phase change */
        unsigned actor_index; /* this worker's actor, as AlignSlot.actor names it */
        AlignSlot *align;     /* a trigger aligned with an actor's phase: wait here before stepping */
        const ActionHost *host; /* what the run may do on this host; lives in the engine (inherited at fork) */
        int sock;
} WorkerSpec;

/* Runs the worker loop in the current (freshly forked) process; never returns. */
_noreturn_ void worker_main(const WorkerSpec *spec);

/*
 * Forks a worker process for spec. Returns the pid in the parent; the child
 * runs worker_main(). keep_fd is the child's end of the socketpair.
 */
int worker_spawn(const WorkerSpec *spec, pid_t *ret_pid);

/* For tests and the benchmark: a worker context in this process, without fork or engine. */
int worker_new_local(const ProfileActor *actor, uint64_t seed, unsigned instance, Worker **ret);
Worker *worker_free_local(Worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free_local);
/* Runs one step of the local worker's action (calling worker_init first if needed). */
int worker_local_step(Worker *w, StepResult *ret);
/* The phase a local worker last published. */
const char *worker_local_phase(Worker *w);
/* Gives a local worker what the engine would (borrowed; must outlive the worker). */
void worker_set_local_host(Worker *w, const ActionHost *host);
/* The pause a local worker's action asked for before its next step (worker_set_next_pause), or UINT64_MAX. */
uint64_t worker_local_next_pause(Worker *w);
