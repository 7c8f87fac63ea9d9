/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=oom: a VMM OOM-killed with its VM live — memslots set, vCPUs in
 * KVM_RUN — so the VM is torn down from the OOM kill's exit path (exit_mm,
 * the MMU notifier release, the OOM reaper unmapping the memory the
 * memslots point at) rather than from an orderly close.
 *
 * Each step forks a VMM (comm ACTION_OOM_VICTIM_COMM, oom_score_adj +1000)
 * into a memory cgroup made for it (memcg.h: v2 memory.max, v1
 * memory.limit_in_bytes; swap kept out so the limit is met by the OOM
 * killer). The VMM maps its guest memory privately, builds the VM inside
 * the group (so KVM's own allocations are charged there too), then touches
 * memory chunk by chunk until the kernel kills it. Touch= picks who:
 *
 *   guest  the guest writes one word per page of the current chunk (every
 *          vCPU at once), so the faults that meet the limit are KVM's:
 *          get_user_pages from inside KVM_RUN, EPT/shadow page tables
 *   host   the VMM's own thread writes the memslots' memory while every
 *          vCPU spins in the guest: the kill lands with all vCPUs in KVM_RUN
 *
 * The kill is observed three ways: the group's OOM notification (an
 * eventfd on v1's memory.oom_control, inotify on v2's memory.events), the
 * wait status (SIGKILL) and the group's oom_kill counter, which must have
 * moved. kmsg's "Killed process … (hvt-oom-vmm)" line reaches the run's
 * evidence as an expected item (ACTION_OOM_VICTIMS). Recorded per step:
 * the victim's pid, how far it got (MiB touched, guest passes, peak
 * charge), its VM (vCPUs, memslots) and the time from the first touch to
 * its death.
 *
 * Mode=global sets no limit: the VMM touches its memslots and then keeps
 * allocating until the host's own OOM killer takes it. That presses on the
 * whole host, so it is destructive (Destructive=yes and the host's opt-in).
 *
 * Every group is removed when its step ends; one left by a crashed worker
 * is swept at the next start (its name carries its owner, see memcg.h).
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "action-oom.h"
#include "kvm-proc.h"
#include "kvm-vm.h"
#include "memcg.h"
#include "self-protect.h"

typedef enum OomMode {
        OOM_MODE_CGROUP,
        OOM_MODE_GLOBAL,
} OomMode;

static const char *const oom_mode_names[] = { "cgroup", "global", NULL };

typedef enum OomTouch {
        TOUCH_GUEST,
        TOUCH_HOST,
} OomTouch;

static const char *const oom_touch_names[] = { "guest", "host", NULL };

typedef struct OomParams {
        unsigned mode;
        Weighted touch;
        uint64_t limit;
        uint64_t vcpus;
        uint64_t memslots;
        uint64_t slot_size;
        uint64_t chunk;
        uint64_t timeout_ns;
} OomParams;

static const Outcome oom_outcomes[_OOM_OUT_MAX] = {
        [OOM_OUT_KILLED] = { "oom-killed", OUTCOME_OK,
                             "the VMM was OOM-killed while touching memory with its VM live; its group counted the kill" },
        [OOM_OUT_KILLED_SETUP] = { "oom-killed-setup", OUTCOME_OK,
                                   "the VMM was OOM-killed while building its VM; its group counted the kill" },
        [OOM_OUT_EFAIL] = { "efail-at-limit", OUTCOME_EXPECTED,
                            "a KVM call failed at the limit (ENOMEM, EFAULT) instead of the VMM being killed" },
        [OOM_OUT_STOPPED] = { "stopped", OUTCOME_OK, "the run ended before the OOM killer acted" },
        [OOM_OUT_NOT_KILLED] = { "not-killed", OUTCOME_FAILURE,
                                 "the VMM touched more memory than its group's limit and lived" },
        [OOM_OUT_KILLED_UNCOUNTED] = { "killed-uncounted", OUTCOME_FAILURE,
                                       "the VMM died by SIGKILL but its group counted no OOM kill" },
        [OOM_OUT_TIMEOUT] = { "timeout", OUTCOME_FAILURE,
                              "the VMM was neither OOM-killed nor done within Timeout=" },
        [OOM_OUT_VMM_FAILED] = { "vmm-failed", OUTCOME_FAILURE,
                                 "the VMM died another way, or KVM refused what it must not" },
        [OOM_OUT_KVM_GONE] = { "kvm-gone", OUTCOME_EXPECTED, "/dev/kvm is gone (module unloaded)" },
        [OOM_OUT_UNAVAILABLE] = { "unavailable", OUTCOME_ENV_ERROR,
                                  "no memory cgroup controller, or the VMM's group could not be set up" },
        [OOM_OUT_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR,
                                "the host refused a resource (fork, EMFILE, a KVM limit)" },
};

static const char *const oom_metrics[_OOM_M_MAX + 1] = {
        [OOM_M_KILLS] = "oom_kills",
        [OOM_M_EVENTS] = "oom_events",
        [OOM_M_TIME_MS] = "time_to_oom_ms",
        [OOM_M_TOUCHED_MIB] = "touched_mib",
        [OOM_M_PEAK_MIB] = "peak_mib",
        [OOM_M_VCPUS] = "vcpus",
        [OOM_M_MEMSLOTS] = "memslots",
        [OOM_M_PASSES] = "guest_passes",
        NULL,
};

_Static_assert(_OOM_M_MAX <= ACTION_METRICS_MAX, "too many metrics");

static const char *const oom_phases[] = {
        "oom:setup", /* the VMM builds its VM inside its memory cgroup */
        "oom:touch", /* the VM is live and memory is being touched until the kill */
        "oom:reap",  /* the VMM is dead (or being killed): reaped, its group read and removed */
        NULL,
};

/* The guest reaches GPAs below 4 GiB (32-bit, flat, no paging); keep clear of the top. */
#define OOM_GUEST_MEMORY_MAX (3ULL << 30)
/* Where touching starts in slot 0: above the guest's control block, code and counters. */
#define TOUCH_START 0x10000ULL
/* Mode=global: what the VMM maps at a time once its memslots are all touched. */
#define BALLAST_CHUNK (64ULL << 20)
/* How long the VMM may take to reach its next state before setup counts as stuck. */
#define VMM_SETUP_TIMEOUT_NS (30 * NSEC_PER_SEC)
/* fds a VMM needs besides one per vCPU. */
#define VMM_FD_SLACK 64

static const KeySpec oom_keys[] = {
        { "Mode", KEY_CHOICE, offsetof(OomParams, mode), "cgroup", 0, 0, oom_mode_names,
          "cgroup: a memory cgroup of its own at Limit=; global: no limit, the host's OOM killer (destructive)" },
        { "Touch", KEY_WEIGHTED, offsetof(OomParams, touch), "guest", 1, 0, oom_touch_names,
          "who touches the memory, WORD[:WEIGHT]: guest (faults taken inside KVM_RUN) or host (the VMM's "
          "thread, vCPUs spinning)" },
        { "Limit", KEY_SIZE, offsetof(OomParams, limit), "32M", 4ULL << 20, 1ULL << 40, NULL,
          "Mode=cgroup: the group's memory limit; the VM's memory (MemorySlots × SlotSize) must exceed it" },
        { "VCPUs", KEY_UINT, offsetof(OomParams, vcpus), "2", 1, 64, NULL, "vCPUs of the VMM's VM" },
        { "MemorySlots", KEY_UINT, offsetof(OomParams, memslots), "4", 1, 512, NULL,
          "memslots of the VMM's VM, up to the host's KVM_CAP_NR_MEMSLOTS" },
        { "SlotSize", KEY_SIZE, offsetof(OomParams, slot_size), "16M", 1ULL << 20, 1ULL << 31, NULL,
          "size of each memslot, a multiple of 4K; all of them together at most 3G (the guest's reach)" },
        { "Chunk", KEY_SIZE, offsetof(OomParams, chunk), "1M", 4096, 1ULL << 30, NULL,
          "memory touched per round (one guest pass): the unit of how far the VMM got" },
        { "Timeout", KEY_DURATION, offsetof(OomParams, timeout_ns), "60s", NSEC_PER_SEC, 3600 * NSEC_PER_SEC, NULL,
          "how long a VMM may live from its start before the step calls it a failure" },
        {}
};

/* What the VMM child publishes, in a page shared with the worker. */
enum { VMM_STARTING, VMM_ATTACH, VMM_SETUP, VMM_TOUCHING, VMM_BALLAST, VMM_DONE, VMM_FAILED };

static const char *const vmm_state_names[] = {
        [VMM_STARTING] = "starting",
        [VMM_ATTACH] = "waiting to join its group",
        [VMM_SETUP] = "building its VM",
        [VMM_TOUCHING] = "touching memory",
        [VMM_BALLAST] = "touching memory beyond its memslots",
        [VMM_DONE] = "done",
        [VMM_FAILED] = "failed",
};

typedef struct OomShared {
        _Atomic uint32_t state;   /* VMM_*, set by the VMM */
        _Atomic uint32_t go;      /* set by the worker once the VMM is in its group */
        _Atomic uint32_t op;      /* KvmOp the VMM is in during setup */
        _Atomic uint32_t vcpus, slots;
        _Atomic uint64_t touched; /* bytes touched so far */
        _Atomic uint64_t passes;  /* chunks vCPU 0's guest completed */
        _Atomic uint64_t t_touch; /* CLOCK_MONOTONIC at the first touch; 0 before */
        uint32_t failed_in;       /* the state the VMM failed in */
        KvmFail fail;
        char why[STEP_DETAIL_MAX];
} OomShared;

typedef struct OomState {
        OomShared *shared;
} OomState;

_printf_(4, 5) static int result(StepResult *ret, unsigned outcome, int error, const char *format, ...)
{
        va_list ap;

        ret->outcome = outcome;
        ret->error = error;
        va_start(ap, format);
        vsnprintf(ret->detail, sizeof ret->detail, format, ap);
        va_end(ap);
        return 0;
}

static uint64_t guest_memory(const OomParams *p)
{
        return p->memslots * p->slot_size;
}

/* ---- the VMM ---- */

_noreturn_ static void vmm_fail(OomShared *sh, const KvmFail *f, int error, const char *why)
{
        sh->failed_in = atomic_load(&sh->state);
        sh->fail = f ? *f : (KvmFail){ .error = error };
        if (why)
                snprintf(sh->why, sizeof sh->why, "%s", why);
        futex_set(&sh->state, VMM_FAILED);
        proc_exit(1);
}

/* The guest touches [base, base + len) once per pass; every vCPU follows the current chunk. */
static void touch_guest(OomShared *sh, KvmVm *vm, uint8_t *mem, uint64_t mem_len, uint64_t chunk)
{
        GuestCtrl *ctrl = guest_ctrl(mem);
        int r;

        ctrl->stride = 4096;
        ctrl->ranges[0].base = (uint32_t)TOUCH_START;
        ctrl->ranges[0].len = (uint32_t)MIN(chunk, mem_len - TOUCH_START);
        ctrl->n_ranges = 1;
        guest_set_mode(mem, GUEST_MODE_TOUCH);
        /* vCPUs 1.. touch on threads of their own, racing vCPU 0's faults on the same pages. */
        r = kvm_vm_start_threads(vm, 1);
        if (r < 0)
                vmm_fail(sh, &vm->fail, 0, NULL);

        for (uint64_t base = TOUCH_START; base < mem_len; base += chunk) {
                uint64_t len = MIN(chunk, mem_len - base);
                uint32_t before = *guest_counter(mem, 0);

                /* A torn read of (base, len) by a running vCPU still lands inside guest memory or in an
                 * empty GPA (an MMIO exit): chunks only move forward. */
                ctrl->ranges[0].len = (uint32_t)len;
                __atomic_store_n(&ctrl->ranges[0].base, (uint32_t)base, __ATOMIC_RELEASE);
                /* One pass of vCPU 0 over the chunk: its counter moves once the last page is written. */
                while (*guest_counter(mem, 0) == before) {
                        r = kvm_vm_run_vcpu(vm, 0, 1);
                        if (r < 0)
                                vmm_fail(sh, &vm->vcpus[0].fail, 0, NULL);
                }
                atomic_store(&sh->touched, base + len - TOUCH_START);
                atomic_fetch_add(&sh->passes, 1);
        }
}

/* The VMM's own thread writes the memslots' memory while every vCPU spins inside KVM_RUN. */
static void touch_host(OomShared *sh, KvmVm *vm, uint8_t *mem, uint64_t mem_len, uint64_t chunk)
{
        uint64_t deadline;
        int r;

        guest_set_mode(mem, GUEST_MODE_SPIN);
        r = kvm_vm_start_threads(vm, 0);
        if (r < 0)
                vmm_fail(sh, &vm->fail, 0, NULL);
        /* Each vCPU in its guest before the first touch: its counter moved. */
        deadline = now_ns(CLOCK_MONOTONIC) + VMM_SETUP_TIMEOUT_NS;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                while (*guest_counter(mem, i) == 0) {
                        if (now_ns(CLOCK_MONOTONIC) > deadline)
                                vmm_fail(sh, NULL, -ETIMEDOUT, "a vCPU never ran its guest");
                        sleep_ns(100 * NSEC_PER_USEC);
                }
        for (uint64_t base = TOUCH_START; base < mem_len; base += chunk) {
                uint64_t end = MIN(base + chunk, mem_len);
                for (uint64_t off = base; off < end; off += 4096)
                        ((volatile uint8_t *)mem)[off] = 1;
                atomic_store(&sh->touched, end - TOUCH_START);
        }
}

/* Mode=global: past the memslots, ordinary anonymous memory until the host's OOM killer comes. */
_noreturn_ static void touch_ballast(OomShared *sh)
{
        futex_set(&sh->state, VMM_BALLAST);
        for (;;) {
                volatile uint8_t *b = mmap(NULL, BALLAST_CHUNK, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                if (b == MAP_FAILED) {
                        /* Strict overcommit (vm.overcommit_memory=2) refuses before the OOM killer would come. */
                        KvmFail f = { .op = KVM_OP_MMAP_MEMORY, .error = negative_errno() };
                        vmm_fail(sh, &f, 0, "mmap refused past the memslots: strict overcommit "
                                            "(vm.overcommit_memory=2) keeps the host's OOM killer away");
                }
                for (uint64_t off = 0; off < BALLAST_CHUNK; off += 4096)
                        b[off] = 1;
                atomic_fetch_add(&sh->touched, BALLAST_CHUNK);
        }
}

_noreturn_ static void vmm_main(const OomParams *p, OomTouch touch, OomShared *sh)
{
        uint64_t mem_len = guest_memory(p);
        KvmVm *vm = NULL;
        uint8_t *mem;
        int r;

        /* Named and scored so that the OOM killer, and whoever reads its kmsg line, knows it is ours. */
        (void)prctl(PR_SET_NAME, ACTION_OOM_VICTIM_COMM);
        (void)oom_score_adj_set(0, OOM_SCORE_ADJ_MAX);
        futex_set(&sh->state, VMM_ATTACH);
        if (proc_wait_word(&sh->go, 0, 0, VMM_SETUP_TIMEOUT_NS) < 0 || atomic_load(&sh->go) != 1)
                proc_exit(3);

        /* From here on every page and every KVM allocation is charged to the group. */
        atomic_store(&sh->state, VMM_SETUP);
        atomic_store(&sh->op, KVM_OP_MMAP_MEMORY);
        /* Private: the kill must free it. A MAP_SHARED mapping the worker also held would outlive us. */
        mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) {
                KvmFail f = { .op = KVM_OP_MMAP_MEMORY, .error = negative_errno() };
                vmm_fail(sh, &f, 0, NULL);
        }
        guest_load(mem, (unsigned)p->vcpus);

        atomic_store(&sh->op, KVM_OP_CREATE_VM);
        r = kvm_vm_new(&vm);
        if (r < 0)
                vmm_fail(sh, vm ? &vm->fail : NULL, r, vm ? NULL : "out of memory");
        if (p->memslots > (uint64_t)vm->caps.nr_memslots || p->vcpus > (uint64_t)vm->caps.max_vcpus) {
                char why[STEP_DETAIL_MAX];
                snprintf(why, sizeof why, "MemorySlots=%" PRIu64 "/VCPUs=%" PRIu64
                         " exceed this host's KVM_CAP_NR_MEMSLOTS=%d/KVM_CAP_MAX_VCPUS=%d",
                         p->memslots, p->vcpus, vm->caps.nr_memslots, vm->caps.max_vcpus);
                vmm_fail(sh, NULL, -E2BIG, why);
        }
        atomic_store(&sh->op, KVM_OP_SET_USER_MEMORY_REGION);
        for (uint64_t i = 0; i < p->memslots; i++) {
                r = kvm_vm_set_memslot(vm, (uint32_t)i, 0, i * p->slot_size, p->slot_size, mem + i * p->slot_size);
                if (r < 0)
                        vmm_fail(sh, &vm->fail, 0, NULL);
                atomic_store(&sh->slots, vm->n_slots);
        }
        atomic_store(&sh->op, KVM_OP_CREATE_VCPU);
        while (vm->n_vcpus < p->vcpus) {
                r = kvm_vm_add_vcpu(vm);
                if (r < 0)
                        vmm_fail(sh, &vm->fail, 0, NULL);
                atomic_store(&sh->vcpus, vm->n_vcpus);
        }

        atomic_store(&sh->op, KVM_OP_RUN);
        atomic_store(&sh->t_touch, now_ns(CLOCK_MONOTONIC));
        futex_set(&sh->state, VMM_TOUCHING);
        if (touch == TOUCH_GUEST)
                touch_guest(sh, vm, mem, mem_len, p->chunk);
        else
                touch_host(sh, vm, mem, mem_len, p->chunk);

        /* Everything touched and alive: the VM stays live while the worker decides what that means. */
        if (p->mode == OOM_MODE_GLOBAL)
                touch_ballast(sh);
        futex_set(&sh->state, VMM_DONE);
        proc_exit(0);
}

/* ---- the worker's side ---- */

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Where the VMM's main thread waits in the kernel (it runs vCPU 0, or touches memory itself): for a stuck one. */
static void vmm_wchan(pid_t pid, char *buf, size_t len)
{
        char path[96];
        int fd;
        ssize_t k;

        snprintf(buf, len, "?");
        snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        k = read(fd, buf, len - 1);
        close(fd);
        buf[k > 0 ? k : 0] = '\0';
}

typedef struct OomWatch {
        uint64_t t_go, t_dead;
        unsigned events;
        bool stopped, timed_out;
        int under_oom; /* v1 memory.oom_control under_oom at the timeout; -1 where there is none (v2) */
        char wchan[48];
        int status;
} OomWatch;

/* Waits for the VMM to die (or finish), counting the group's OOM notifications on the way. */
static int watch_vmm(Worker *w, const OomParams *p, Memcg *m, int watch_fd, pid_t pid, OomWatch *ow)
{
        _cleanup_close_ int pidfd = pidfd_open_(pid);

        for (;;) {
                struct pollfd pfd[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = watch_fd, .events = POLLIN } };
                uint64_t now;
                int k;

                k = poll(pfd, 2, 100);
                if (k < 0 && errno != EINTR)
                        return negative_errno();
                now = now_ns(CLOCK_MONOTONIC);
                if (k > 0 && (pfd[1].revents & POLLIN))
                        ow->events += memcg_watch_drain(watch_fd);
                if (pidfd < 0 ? !proc_alive(pid) : k > 0 && (pfd[0].revents & POLLIN))
                        break;
                if (worker_should_stop(w)) {
                        ow->stopped = true;
                        break;
                }
                if (now - ow->t_go > p->timeout_ns) {
                        bool under = false;
                        ow->timed_out = true;
                        ow->under_oom = memcg_under_oom(m, &under) < 0 ? -1 : under;
                        vmm_wchan(pid, ow->wchan, sizeof ow->wchan);
                        break;
                }
        }
        /* Stopped or timed out: it goes now. Dead: this only reaps. */
        if (ow->stopped || ow->timed_out)
                (void)kill(pid, SIGKILL);
        (void)proc_wait(pid, VMM_SETUP_TIMEOUT_NS, &ow->status);
        ow->t_dead = now_ns(CLOCK_MONOTONIC);
        /* A notification that raced the death. */
        ow->events += memcg_watch_drain(watch_fd);
        return 0;
}

static unsigned fail_outcome(const OomShared *sh)
{
        const KvmFail *f = &sh->fail;

        if (f->op == KVM_OP_OPEN && kvm_error_is_gone(f->error))
                return OOM_OUT_KVM_GONE;
        /* At the limit, KVM may refuse a guest access or an allocation instead of the VMM being killed. */
        if ((sh->failed_in == VMM_TOUCHING || sh->failed_in == VMM_SETUP) &&
            (f->error == -ENOMEM || (f->op == KVM_OP_RUN && (f->error == -EFAULT || f->error == -EPROTO))))
                return OOM_OUT_EFAIL;
        if (f->error == -E2BIG || (f->op == KVM_OP_OPEN && (f->error == -EACCES || f->error == -EPERM)) ||
            kvm_error_is_env(f->error))
                return OOM_OUT_ENV_ERROR;
        return OOM_OUT_VMM_FAILED;
}

static double mib(uint64_t bytes)
{
        return (double)bytes / (1024.0 * 1024.0);
}

static int oom_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const OomParams *p = params;
        OomState *s = state;
        OomShared *sh = s->shared;
        OomTouch touch = (OomTouch)p->touch.choice[prng_weighted(worker_prng(w), p->touch.weight, p->touch.n)];
        _cleanup_(memcg_freep) Memcg *m = NULL;
        _cleanup_close_ int watch_fd = -1;
        OomWatch ow = {};
        const char *reason = NULL, *where;
        char name[MEMCG_NAME_MAX], tag[48], st[48], lim[32];
        uint64_t kills = 0, peak = 0, t_touch, touched;
        unsigned died_in;
        pid_t pid;
        int r;

        r = memcg_detect(&reason);
        if (r < 0)
                return result(ret, OOM_OUT_UNAVAILABLE, r, "no memory cgroup for the VMM: %s", reason);
        r = kvm_ensure_nofile(p->vcpus + VMM_FD_SLACK);
        if (r < 0)
                return result(ret, OOM_OUT_ENV_ERROR, r, "RLIMIT_NOFILE cannot be raised to %" PRIu64 ": %s",
                              p->vcpus + VMM_FD_SLACK, strerror(-r));

        snprintf(tag, sizeof tag, "oom-%u-%" PRIu64, worker_instance(w), worker_iteration(w));
        r = memcg_name(name, sizeof name, tag);
        if (r >= 0)
                r = memcg_create(name, &m);
        if (r < 0)
                return result(ret, OOM_OUT_UNAVAILABLE, r, "cannot create memory cgroup %s: %s", name, strerror(-r));
        if (p->mode == OOM_MODE_CGROUP) {
                r = memcg_set_limit(m, p->limit);
                if (r >= 0) {
                        /* Without swap accounting (and without swap, as on most hosts) there is nothing to keep out. */
                        int k = memcg_disable_swap(m);
                        if (k < 0 && k != -ENOENT)
                                r = k;
                }
                if (r < 0)
                        return result(ret, OOM_OUT_UNAVAILABLE, r, "cannot limit %s: %s", m->path, strerror(-r));
        }
        r = memcg_oom_watch(m, &watch_fd);
        if (r < 0)
                return result(ret, OOM_OUT_UNAVAILABLE, r, "cannot watch %s for OOM events: %s", m->path,
                              strerror(-r));

        memset(sh, 0, sizeof *sh);
        worker_set_phase(w, "oom:setup");
        pid = proc_fork_child();
        if (pid == 0)
                vmm_main(p, touch, sh);
        if (pid < 0)
                return result(ret, kvm_error_is_env(pid) ? OOM_OUT_ENV_ERROR : OOM_OUT_VMM_FAILED, pid,
                              "fork VMM process: %s", strerror(-pid));

        /* Only the VMM joins the group; this worker stays outside, where the kill cannot reach it. */
        r = proc_wait_word(&sh->state, VMM_STARTING, pid, VMM_SETUP_TIMEOUT_NS);
        if (r >= 0)
                r = memcg_attach(m, pid);
        if (r < 0) {
                proc_kill_reap(pid);
                return result(ret, OOM_OUT_UNAVAILABLE, r, "moving the VMM into %s: %s", m->path, strerror(-r));
        }
        /* The whole host is about to run out of memory: say so in the journal (synced) first. */
        if (p->mode == OOM_MODE_GLOBAL)
                worker_note(w, "Mode=global: VMM %d (%s) about to exhaust the host's memory", (int)pid, m->path);
        ow.t_go = now_ns(CLOCK_MONOTONIC);
        futex_set(&sh->go, 1);
        /* Published for AlignWith=: the next state change is the VM going live. */
        (void)proc_wait_word(&sh->state, VMM_ATTACH, pid, VMM_SETUP_TIMEOUT_NS);
        if (atomic_load(&sh->state) == VMM_SETUP)
                (void)proc_wait_word(&sh->state, VMM_SETUP, pid, VMM_SETUP_TIMEOUT_NS);
        if (atomic_load(&sh->state) == VMM_TOUCHING)
                worker_set_phase(w, "oom:touch");

        r = watch_vmm(w, p, m, watch_fd, pid, &ow);
        worker_set_phase(w, "oom:reap");
        if (r < 0) {
                proc_kill_reap(pid);
                return result(ret, OOM_OUT_VMM_FAILED, r, "waiting for the VMM: %s", strerror(-r));
        }

        (void)memcg_oom_kills(m, &kills);
        (void)memcg_peak(m, &peak);
        watch_fd = safe_close(watch_fd);
        r = memcg_remove(m);
        if (r < 0)
                worker_note(w, "could not remove memory cgroup %s: %s", m->path, strerror(-r));

        died_in = atomic_load(&sh->state) == VMM_FAILED ? sh->failed_in : atomic_load(&sh->state);
        t_touch = atomic_load(&sh->t_touch);
        touched = atomic_load(&sh->touched);
        ret->metrics[OOM_M_KILLS] = kills;
        ret->metrics[OOM_M_EVENTS] = ow.events;
        ret->metrics[OOM_M_TIME_MS] = (ow.t_dead - (t_touch ? t_touch : ow.t_go)) / NSEC_PER_MSEC;
        ret->metrics[OOM_M_TOUCHED_MIB] = touched >> 20;
        ret->metrics[OOM_M_PEAK_MIB] = peak >> 20;
        ret->metrics[OOM_M_VCPUS] = atomic_load(&sh->vcpus);
        ret->metrics[OOM_M_MEMSLOTS] = atomic_load(&sh->slots);
        ret->metrics[OOM_M_PASSES] = atomic_load(&sh->passes);
        if (p->mode == OOM_MODE_CGROUP)
                format_size(lim, sizeof lim, p->limit);
        else
                snprintf(lim, sizeof lim, "none");
        where = died_in < ELEMENTSOF(vmm_state_names) ? vmm_state_names[died_in] : "?";

        if (ow.stopped)
                return result(ret, OOM_OUT_STOPPED, 0, "run ended; VMM %d SIGKILLed while %s (%.1f MiB touched)",
                              (int)pid, where, mib(touched));
        if (ow.timed_out)
                return result(ret, OOM_OUT_TIMEOUT, -ETIMEDOUT,
                              "VMM %d not OOM-killed within %" PRIu64 "s while %s: %.1f MiB touched, peak %.1f MiB, "
                              "limit %s, %u OOM events%s, waiting in %s", (int)pid,
                              (uint64_t)(p->timeout_ns / NSEC_PER_SEC), where, mib(touched), mib(peak), lim, ow.events,
                              ow.under_oom > 0 ? ", under_oom" : "", ow.wchan);
        if (WIFSIGNALED(ow.status) && WTERMSIG(ow.status) == SIGKILL) {
                if (kills == 0)
                        return result(ret, OOM_OUT_KILLED_UNCOUNTED, -EPROTO,
                                      "VMM %d died by SIGKILL while %s, but %s counted no OOM kill (%u OOM events)",
                                      (int)pid, where, m->path, ow.events);
                return result(ret, died_in == VMM_SETUP || died_in == VMM_ATTACH ? OOM_OUT_KILLED_SETUP : OOM_OUT_KILLED,
                              0, "VMM %d OOM-killed after %" PRIu64 "ms %s from the %s: %.1f/%.1f MiB, peak %.1f MiB, "
                              "limit %s, oom_kill %" PRIu64 ", %u vCPUs, %u slots",
                              (int)pid, ret->metrics[OOM_M_TIME_MS],
                              died_in == VMM_SETUP ? "building its VM" : "touching",
                              touch == TOUCH_GUEST ? "guest" : "host", mib(touched), mib(guest_memory(p) - TOUCH_START),
                              mib(peak), lim, kills, atomic_load(&sh->vcpus), atomic_load(&sh->slots));
        }
        if (atomic_load(&sh->state) == VMM_DONE)
                return result(ret, OOM_OUT_NOT_KILLED, -EPROTO,
                              "VMM %d touched %.1f MiB from the %s and lived: limit %s, peak %.1f MiB, %" PRIu64
                              " OOM kills, %u events", (int)pid, mib(touched), touch == TOUCH_GUEST ? "guest" : "host",
                              lim, mib(peak), kills, ow.events);
        if (atomic_load(&sh->state) == VMM_FAILED) {
                char d[STEP_DETAIL_MAX];
                if (sh->why[0])
                        snprintf(d, sizeof d, "%s", sh->why);
                else
                        kvm_fail_describe(&sh->fail, d, sizeof d);
                return result(ret, fail_outcome(sh), sh->fail.error, "VMM %d while %s: %s (%.1f MiB touched, peak "
                              "%.1f MiB, limit %s)", (int)pid, where, d, mib(touched), mib(peak), lim);
        }
        return result(ret, OOM_OUT_VMM_FAILED, -EPROTO, "VMM %d %s while %s (%.1f MiB touched, oom_kill %" PRIu64 ")",
                      (int)pid, proc_status_describe(ow.status, st, sizeof st), where, mib(touched), kills);
}

static int oom_worker_init(Worker *w, const void *params, void **ret)
{
        OomState *s;
        MemcgSweep sw;

        /* A group a crashed predecessor of this worker left behind goes first. */
        if (memcg_sweep(&sw) >= 0 && sw.removed)
                worker_note(w, "removed %u memory cgroup%s left by a worker that is gone", sw.removed,
                            sw.removed == 1 ? "" : "s");
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->shared = mmap(NULL, sizeof(OomShared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s->shared == MAP_FAILED) {
                int r = negative_errno();
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static void oom_worker_done(Worker *w, const void *params, void *state)
{
        OomState *s = state;

        if (!s)
                return;
        munmap(s->shared, sizeof(OomShared));
        free(s);
}

static int oom_validate(void *params, const char *file, const char *section, unsigned line, ConfErrors *errs)
{
        OomParams *p = params;
        char a[32], b[32];
        int r = 0;

        if (p->slot_size % 4096 != 0)
                r = conf_error(errs, file, line, section, "SlotSize", format_size(a, sizeof a, p->slot_size),
                               "must be a multiple of 4K (the page size)");
        if (p->chunk % 4096 != 0)
                r = conf_error(errs, file, line, section, "Chunk", format_size(a, sizeof a, p->chunk),
                               "must be a multiple of 4K (the page size)");
        if (guest_memory(p) > OOM_GUEST_MEMORY_MAX)
                r = conf_error(errs, file, line, section, "MemorySlots", NULL,
                               "MemorySlots × SlotSize is %s; the guest reaches at most 3G",
                               format_size(a, sizeof a, guest_memory(p)));
        if (p->mode == OOM_MODE_CGROUP && guest_memory(p) <= p->limit)
                r = conf_error(errs, file, line, section, "Limit", format_size(a, sizeof a, p->limit),
                               "the VM's memory (MemorySlots × SlotSize = %s) must exceed Limit=, or the VMM "
                               "never meets it", format_size(b, sizeof b, guest_memory(p)));
        return r;
}

static bool oom_is_destructive(const void *params)
{
        const OomParams *p = params;
        return p->mode == OOM_MODE_GLOBAL;
}

static void oom_describe(const void *params, FILE *f)
{
        const OomParams *p = params;
        char a[32], b[32], c[32];

        fprintf(f, "a VMM with %" PRIu64 " vCPU%s and %" PRIu64 " memslot%s of %s (%s) ", p->vcpus,
                p->vcpus == 1 ? "" : "s", p->memslots, p->memslots == 1 ? "" : "s",
                format_size(a, sizeof a, p->slot_size), format_size(b, sizeof b, guest_memory(p)));
        if (p->mode == OOM_MODE_CGROUP)
                fprintf(f, "in a memory cgroup limited to %s", format_size(c, sizeof c, p->limit));
        else
                fputs("with no limit: the HOST's OOM killer (destructive)", f);
        fputs(", touching memory from the", f);
        for (unsigned i = 0; i < p->touch.n; i++)
                fprintf(f, "%s %s:%u", i ? "," : "", oom_touch_names[p->touch.choice[i]], p->touch.weight[i]);
        fprintf(f, " until OOM-killed (timeout %s)", format_duration(a, sizeof a, p->timeout_ns));
}

/* /proc/sys/vm/panic_on_oom: 0, 1 (panic on a host-wide OOM), 2 (on a memory cgroup OOM too); 0 if unreadable. */
static int read_panic_on_oom(void)
{
        char buf[16] = "";
        int fd = open("/proc/sys/vm/panic_on_oom", O_RDONLY | O_CLOEXEC);
        ssize_t k = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

        safe_close(fd);
        return k > 0 ? atoi(buf) : 0;
}

static int oom_check_host(const void *params, char **reason)
{
        const OomParams *p = params;
        const char *why = NULL;
        KvmCaps caps;
        KvmFail f = {};
        char buf[STEP_DETAIL_MAX];
        int r;

        r = memcg_detect(&why);
        if (r < 0)
                return asprintf(reason, "the oom action needs a memory cgroup controller: %s", why) < 0 ? -ENOMEM : r;
        /* With panic_on_oom the kernel panics where it would have killed the VMM: the host goes down. */
        r = read_panic_on_oom();
        if (r == 2 || (r == 1 && p->mode == OOM_MODE_GLOBAL))
                return asprintf(reason, "vm.panic_on_oom=%d: the %s OOM this action provokes would panic the host "
                                "instead of killing the VMM (sysctl vm.panic_on_oom=0)", r,
                                p->mode == OOM_MODE_GLOBAL ? "host-wide" : "memory cgroup") < 0 ? -ENOMEM : -EPERM;
        r = kvm_caps_probe(&caps, &f);
        if (r < 0)
                return asprintf(reason, "%s", kvm_fail_describe(&f, buf, sizeof buf)) < 0 ? -ENOMEM : r;
        if (p->vcpus > (uint64_t)caps.max_vcpus)
                return asprintf(reason, "VCPUs=%" PRIu64 " exceeds this host's KVM_CAP_MAX_VCPUS=%d", p->vcpus,
                                caps.max_vcpus) < 0 ? -ENOMEM : -E2BIG;
        if (p->memslots > (uint64_t)caps.nr_memslots)
                return asprintf(reason, "MemorySlots=%" PRIu64 " exceeds this host's KVM_CAP_NR_MEMSLOTS=%d",
                                p->memslots, caps.nr_memslots) < 0 ? -ENOMEM : -E2BIG;
        return 0;
}

const ActionType action_oom = {
        .name = "oom",
        .summary = "a VMM with a live VM touches memory in a memory cgroup of its own until the OOM killer takes it",
        .flags = ACTION_ACTOR | ACTION_TRIGGER | ACTION_NEEDS_KVM | ACTION_JOURNAL_STEPS | ACTION_OOM_VICTIMS,
        .keys = oom_keys,
        .params_size = sizeof(OomParams),
        .outcomes = oom_outcomes,
        .n_outcomes = _OOM_OUT_MAX,
        .metrics = oom_metrics,
        .phases = oom_phases,
        .validate = oom_validate,
        .is_destructive = oom_is_destructive,
        .describe = oom_describe,
        .check_host = oom_check_host,
        .worker_init = oom_worker_init,
        .step = oom_step,
        .worker_done = oom_worker_done,
};
