/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=vm: the life of a VM, ended the ways kernel developers keep
 * finding races in. Each step creates a VM with MemorySlots= memslots of
 * SlotSize= and VCPUs= vCPUs, runs the tiny guest (kvm-guest.h) for a
 * slice drawn from Run=, then ends it by one of End= (weighted, drawn from
 * the worker's PRNG so a run replays from its seed):
 *
 *   close                memslots deleted, vCPU fds closed, VM fd closed: the orderly end
 *   close-with-memslots  VM fd closed with its memslots still set; vCPU fds closed before
 *                        or after it (the variant drawn at random, or named:
 *                        close-with-memslots-vcpus-first / -vm-first)
 *   sigkill              the VMM (a child process) is SIGKILLed while its vCPUs are inside
 *                        KVM_RUN: its guest counter moved after it started spinning, it
 *                        never came back from KVM_RUN before it died, and its wait status
 *                        says SIGKILL
 *   shared-fd            the VMM passes its VM fd over SCM_RIGHTS to a peer process; the
 *                        VMM closes its fds and exits (exit_mm → MMU notifier release)
 *                        while the peer closes the last VM reference (VM destroy), both
 *                        released from one spin barrier on CPUs of their own at RT
 *                        priority; the spread goes to race_spread_ns
 *   recreate             RecreateCount= VMs one after another in this process, each created
 *                        while the previous one is still being torn down
 *   stats-after-end      the VMM hands its VM and vCPU stats fds to us, is SIGKILLed in the
 *                        guest, and we read the stats of the dead VM: data or a clean error
 *   fail-vcpu-emfile     RLIMIT_NOFILE lowered right before KVM_CREATE_VCPU: the vCPU exists
 *                        in KVM before its fd install fails (EMFILE); the same id must then
 *                        work again
 *   fail-memcg           the VMM builds its VM in a memory cgroup of ours at a limit drawn
 *                        just above its usage; the outcome names the call that failed
 *   fail-inject          /proc/thread-self/fail-nth fails the nth allocation of one KVM
 *                        ioctl, sweeping n; reports "not available" where the kernel has none
 *
 * Every process a step forks dies with the worker, stays in its process
 * group and is reaped before the step returns; no fd outlives the step.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "action-vm.h"
#include "kvm-proc.h"
#include "kvm-vm.h"
#include "memcg.h"

typedef enum VmEnd {
        END_CLOSE,
        END_SIGKILL,
        END_CLOSE_WITH_MEMSLOTS,
        END_CLOSE_WITH_MEMSLOTS_VM_FIRST,
        END_CLOSE_WITH_MEMSLOTS_VCPUS_FIRST,
        END_SHARED_FD,
        END_RECREATE,
        END_STATS_AFTER_END,
        END_FAIL_VCPU_EMFILE,
        END_FAIL_MEMCG,
        END_FAIL_INJECT,
        _END_MAX,
} VmEnd;

static const char *const vm_end_names[_END_MAX + 1] = {
        [END_CLOSE] = "close",
        [END_SIGKILL] = "sigkill",
        [END_CLOSE_WITH_MEMSLOTS] = "close-with-memslots",
        [END_CLOSE_WITH_MEMSLOTS_VM_FIRST] = "close-with-memslots-vm-first",
        [END_CLOSE_WITH_MEMSLOTS_VCPUS_FIRST] = "close-with-memslots-vcpus-first",
        [END_SHARED_FD] = "shared-fd",
        [END_RECREATE] = "recreate",
        [END_STATS_AFTER_END] = "stats-after-end",
        [END_FAIL_VCPU_EMFILE] = "fail-vcpu-emfile",
        [END_FAIL_MEMCG] = "fail-memcg",
        [END_FAIL_INJECT] = "fail-inject",
        NULL,
};

/* End=shared-fd: races per step, at most. */
#define SHARED_FD_PAIRS_MAX 16

typedef struct VmParams {
        uint64_t vcpus;
        uint64_t memslots;
        uint64_t slot_size;
        Range run;
        Weighted end;
        uint64_t recreate;
        uint64_t shared_fd_pairs;
        bool stats;
        uint64_t memcg_headroom;
} VmParams;

static const Outcome vm_outcomes[_VM_OUT_MAX] = {
        [VM_OUT_CLOSE] = { "close", OUTCOME_OK, "VM ran, then memslots were deleted and its fds closed in order" },
        [VM_OUT_SIGKILL] = { "sigkill", OUTCOME_OK,
                             "the VMM was SIGKILLed while its guest was running inside KVM_RUN" },
        [VM_OUT_CLOSE_MEMSLOTS_VCPUS_FIRST] = { "close-memslots-vcpus-first", OUTCOME_OK,
                                                "vCPU fds, then the VM fd closed with memslots still set" },
        [VM_OUT_CLOSE_MEMSLOTS_VM_FIRST] = { "close-memslots-vm-first", OUTCOME_OK,
                                             "the VM fd, then the vCPU fds closed with memslots still set" },
        [VM_OUT_SHARED_FD] = { "shared-fd", OUTCOME_OK,
                               "the VMM exited while a peer holding its VM fd closed it, aligned" },
        [VM_OUT_RECREATE] = { "recreate", OUTCOME_OK, "VMs destroyed and recreated at once in one process" },
        [VM_OUT_STATS_AFTER_END] = { "stats-after-end", OUTCOME_OK,
                                     "stats fds of a SIGKILLed VMM's VM read: data or a clean error" },
        [VM_OUT_EFAIL_VCPU_EMFILE] = { "efail-vcpu-emfile", OUTCOME_EXPECTED,
                                       "KVM_CREATE_VCPU failed with EMFILE after the vCPU existed in KVM" },
        [VM_OUT_EFAIL_MEMCG_VM] = { "efail-memcg-vm", OUTCOME_EXPECTED, "KVM_CREATE_VM failed at the memcg limit" },
        [VM_OUT_EFAIL_MEMCG_MEMSLOT] = { "efail-memcg-memslot", OUTCOME_EXPECTED,
                                         "KVM_SET_USER_MEMORY_REGION failed at the memcg limit" },
        [VM_OUT_EFAIL_MEMCG_VCPU] = { "efail-memcg-vcpu", OUTCOME_EXPECTED,
                                      "vCPU creation or setup failed at the memcg limit" },
        [VM_OUT_EFAIL_MEMCG_RUN] = { "efail-memcg-run", OUTCOME_EXPECTED, "KVM_RUN failed at the memcg limit" },
        [VM_OUT_MEMCG_OOM_KILL] = { "memcg-oom-kill", OUTCOME_EXPECTED,
                                    "the VMM was OOM-killed in its memory cgroup during setup" },
        [VM_OUT_MEMCG_NO_FAIL] = { "memcg-no-fail", OUTCOME_OK, "the whole VM fit under the memcg limit" },
        [VM_OUT_EFAIL_INJECT] = { "efail-inject", OUTCOME_EXPECTED,
                                  "a KVM ioctl failed at the allocation fail-nth made fail" },
        [VM_OUT_INJECT_ABSORBED] = { "inject-absorbed", OUTCOME_OK,
                                     "an injected allocation failure did not fail the ioctl" },
        [VM_OUT_INJECT_SWEPT] = { "inject-swept", OUTCOME_OK,
                                  "every allocation of one ioctl was failed once; the sweep moves on" },
        [VM_OUT_KVM_GONE] = { "kvm-gone", OUTCOME_EXPECTED, "/dev/kvm is gone (module unloaded)" },
        [VM_OUT_UNAVAILABLE] = { "unavailable", OUTCOME_ENV_ERROR,
                                 "the host lacks what the mode needs (memory cgroup, fault injection)" },
        [VM_OUT_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR,
                               "the host refused a resource (EMFILE, ENOMEM, EBUSY, ENOSPC, a KVM limit)" },
        [VM_OUT_FAILURE] = { "failure", OUTCOME_FAILURE, "KVM or the guest did what it should not" },
};

static const char *const vm_metrics[_VM_M_MAX + 1] = {
        [VM_M_VMS] = "vms",
        [VM_M_VCPUS] = "vcpus",
        [VM_M_MEMSLOTS] = "memslots",
        [VM_M_EXITS] = "exits",
        [VM_M_GUEST_LOOPS] = "guest_loops",
        [VM_M_KVM_EXITS] = "kvm_exits",
        [VM_M_TLB_FLUSHES] = "kvm_remote_tlb_flushes",
        [VM_M_STATS_READS] = "stats_reads",
        NULL,
};

_Static_assert(_VM_M_MAX <= ACTION_METRICS_MAX, "too many metrics");

/* What a step publishes with worker_set_phase(): a [Trigger] can AlignWith= any of these. */
static const char *const vm_phases[] = {
        "vm:create",   /* building the VM (in this process or the VMM child) */
        "vm:run",      /* the guest runs */
        "vm:stats",    /* binary stats of the live VM read */
        "vm:close",    /* fds being closed, in the order End= asked */
        "vm:recreate", /* the previous VM's fd closed, the next VM being created */
        "vm:sigkill",  /* the VMM is about to be SIGKILLed inside KVM_RUN */
        "vm:shared-fd", /* creator and peer released to exit and close together */
        "vm:stats-after-end", /* the dead VM's stats being read */
        "vm:efail",    /* RLIMIT_NOFILE lowered, KVM_CREATE_VCPU about to fail */
        "vm:memcg",    /* the VMM being moved into its memory cgroup */
        "vm:inject",   /* fault injection armed */
        NULL,
};

static const KeySpec vm_keys[] = {
        { "VCPUs", KEY_UINT, offsetof(VmParams, vcpus), "1", 1, GUEST_VCPUS_MAX, NULL,
          "vCPUs per VM (each runs on its own thread), up to the host's KVM_CAP_MAX_VCPUS" },
        { "MemorySlots", KEY_UINT, offsetof(VmParams, memslots), "1", 1, 32767, NULL,
          "memslots per VM, up to the host's KVM_CAP_NR_MEMSLOTS" },
        { "SlotSize", KEY_SIZE, offsetof(VmParams, slot_size), "2M", GUEST_SLOT0_MIN, 1ULL << 32, NULL,
          "size of each memslot, a multiple of 4K" },
        { "Run", KEY_RANGE, offsetof(VmParams, run), "0..2ms", 0, 10 * NSEC_PER_SEC, NULL,
          "how long the guest runs before the VM ends (0: until its first exit)" },
        { "End", KEY_WEIGHTED, offsetof(VmParams, end), "close", 1, 0, vm_end_names,
          "how the VM's life ends, WORD[:WEIGHT]" },
        { "RecreateCount", KEY_UINT, offsetof(VmParams, recreate), "8", 1, 100000, NULL,
          "End=recreate: VMs per step, each created as the previous one is torn down" },
        { "SharedFdPairs", KEY_UINT, offsetof(VmParams, shared_fd_pairs), "1", 1, SHARED_FD_PAIRS_MAX, NULL,
          "End=shared-fd: races per step, one after the other while the earlier ones' exits and VM destroys "
          "(which wait for SRCU grace periods) go on: more races per second on a host busy with other KVM "
          "users, a looser alignment" },
        { "Stats", KEY_BOOL, offsetof(VmParams, stats), "yes", 0, 0, NULL,
          "sample KVM's binary stats (KVM_GET_STATS_FD) of the VM and every vCPU while the VM lives" },
        { "MemcgHeadroom", KEY_SIZE, offsetof(VmParams, memcg_headroom), "1M", 0, 1ULL << 30, NULL,
          "End=fail-memcg: the cgroup limit is set up to this far above the VMM's usage, drawn at random" },
        {}
};

/* How long a helper process may take to reach its next state before we call it stuck. */
#define VMM_TIMEOUT_NS (30 * NSEC_PER_SEC)
#define PAIRS_SIZE (SHARED_FD_PAIRS_MAX * sizeof(RacePair))

/* How long a spinning guest's counter may stand still before we call the VMM hung. */
#define GUEST_STILL_NS (10 * NSEC_PER_SEC)
/* fds a VMM needs besides one per vCPU: VM, stats, sockets, stdio, the worker's own. */
#define VMM_FD_SLACK 64

enum { VMM_SETUP, VMM_RUNNING, VMM_READY, VMM_DONE, VMM_FAILED };
enum { PEER_WAIT, PEER_HOLDING, PEER_FAILED };

/* The page the worker and its helper processes share. Reset at the start of every step that forks. */
typedef struct VmShared {
        _Atomic uint32_t vmm;     /* VMM_*: set by the VMM child */
        _Atomic uint32_t peer;    /* memcg VMM: ready to be moved into its group */
        _Atomic uint32_t go;      /* set by the worker: the child may go on */
        _Atomic uint64_t exits;   /* the VMM child's exits to userspace */
        _Atomic uint32_t op;      /* KvmOp the VMM child is in (for an OOM kill's report) */
        _Atomic uint32_t progress; /* bumped by the memcg VMM after every KVM call */
        KvmFail fail;             /* the VMM child's failure */
        char why[STEP_DETAIL_MAX]; /* the VMM child's failure, when it is a limit and not a KvmFail */
        uint32_t vcpus, slots;    /* how far the VMM child got */
        uint64_t exits_at_running, loops_at_running, t_running; /* the spinning VMM, as it started to spin */
} VmShared;

/* One shared-fd race: a creator, a peer, and what the worker needs to see of them. */
typedef struct RacePair {
        _Atomic uint32_t vmm;     /* the creator: VMM_SETUP → VMM_READY or VMM_FAILED */
        _Atomic uint32_t peer;    /* PEER_* */
        _Atomic uint32_t ready;   /* racers in place; the second one wakes the worker */
        _Atomic uint32_t go;      /* set by the worker */
        _Atomic uint32_t arrived; /* the barrier */
        _Atomic uint64_t exits;   /* the creator's VM's exits to userspace */
        KvmFail fail;
        char why[STEP_DETAIL_MAX];
        uint32_t vcpus, slots;
        uint64_t loops; /* the creator's guest loops */
        int32_t peer_fd, peer_error;
        uint64_t t_creator, t_peer; /* CLOCK_MONOTONIC right before the exit / the close */
} RacePair;

typedef struct VmState {
        uint8_t *mem; /* memslot i's host memory at mem + i * slot_size; MAP_SHARED so children share it */
        size_t mem_len;
        VmShared *shared;
        RacePair *pairs; /* [SHARED_FD_PAIRS_MAX], shared with the racers */
        KvmStatsSchema *vm_schema, *vcpu_schema;
        uint64_t *vm_stats, *vcpu_stats; /* data buffers sized for the schemas */
        bool stats_unsupported;
        int inject_fd; /* /proc/thread-self/fail-nth, or -1 */
        unsigned inject_target, inject_nth;
} VmState;

static const VmObserver *observer;

void action_vm_set_observer(const VmObserver *o)
{
        observer = o;
}

/* ---- results ---- */

static unsigned fail_outcome(const KvmFail *f)
{
        if (f->op == KVM_OP_OPEN && kvm_error_is_gone(f->error))
                return VM_OUT_KVM_GONE;
        if (f->op == KVM_OP_OPEN && (f->error == -EACCES || f->error == -EPERM))
                return VM_OUT_ENV_ERROR;
        if (kvm_error_is_env(f->error))
                return VM_OUT_ENV_ERROR;
        return VM_OUT_FAILURE;
}

_printf_(4, 5) static int result(StepResult *ret, unsigned outcome, int error, const char *format, ...)
{
        va_list ap;

        ret->outcome = outcome;
        ret->error = error;
        if (format) {
                va_start(ap, format);
                vsnprintf(ret->detail, sizeof ret->detail, format, ap);
                va_end(ap);
        }
        return 0;
}

/*
 * A step that failed on a KVM call: the outcome follows the errno, the
 * detail names the call. With why set, the detail is why and f only
 * carries the errno (E2BIG: a KVM limit the profile exceeds).
 */
static int result_fail(StepResult *ret, const KvmFail *f, const char *why, const char *context)
{
        char buf[STEP_DETAIL_MAX];

        if (why && why[0])
                return result(ret, f->error == -E2BIG || kvm_error_is_env(f->error) ? VM_OUT_ENV_ERROR : VM_OUT_FAILURE,
                              f->error, "%s%s%s", strempty(context), context ? ": " : "", why);
        kvm_fail_describe(f, buf, sizeof buf);
        return result(ret, fail_outcome(f), f->error, "%s%s%s", strempty(context), context ? ": " : "", buf);
}

/* ---- building ---- */

/* A KVM limit the profile exceeds is the host's to report, not a kernel bug: say which and by how much. */
static int check_limits(const VmParams *p, const KvmCaps *c, char *why, size_t len)
{
        if (p->vcpus > (uint64_t)c->max_vcpus) {
                snprintf(why, len, "VCPUs=%" PRIu64 " exceeds this host's KVM_CAP_MAX_VCPUS=%d", p->vcpus,
                         c->max_vcpus);
                return -E2BIG;
        }
        if (p->vcpus > (uint64_t)c->max_vcpu_id) {
                snprintf(why, len, "VCPUs=%" PRIu64 " exceeds this host's KVM_CAP_MAX_VCPU_ID=%d", p->vcpus,
                         c->max_vcpu_id);
                return -E2BIG;
        }
        if (p->memslots > (uint64_t)c->nr_memslots) {
                snprintf(why, len, "MemorySlots=%" PRIu64 " exceeds this host's KVM_CAP_NR_MEMSLOTS=%d", p->memslots,
                         c->nr_memslots);
                return -E2BIG;
        }
        return 0;
}

/* Memslot i over mem + i * SlotSize, at GPA i * SlotSize. */
static int build_memslots(const VmParams *p, uint8_t *mem, KvmVm *vm)
{
        for (uint64_t i = 0; i < p->memslots; i++) {
                int r = kvm_vm_set_memslot(vm, (uint32_t)i, 0, i * p->slot_size, p->slot_size, mem + i * p->slot_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build_vcpus(uint64_t n_vcpus, KvmVm *vm)
{
        while (vm->n_vcpus < n_vcpus) {
                int r = kvm_vm_add_vcpu(vm);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * The VM the profile asks for. The guest must already be in slot 0's
 * memory (guest_load). On failure vm->fail or why says what went wrong;
 * *ret is set whenever a VM object exists, for the caller to free.
 */
static int build_vm_n(const VmParams *p, uint8_t *mem, uint64_t n_vcpus, KvmVm **ret, char *why, size_t why_len)
{
        KvmVm *vm = NULL;
        int r;

        why[0] = '\0';
        r = kvm_vm_new(&vm);
        *ret = vm;
        if (r < 0)
                return r;
        r = check_limits(p, &vm->caps, why, why_len);
        if (r < 0) {
                vm->fail.error = r;
                return r;
        }
        r = build_memslots(p, mem, vm);
        if (r < 0)
                return r;
        return build_vcpus(n_vcpus, vm);
}

static int build_vm(const VmParams *p, uint8_t *mem, KvmVm **ret, char *why, size_t why_len)
{
        return build_vm_n(p, mem, p->vcpus, ret, why, why_len);
}

/* Counts what a VM did into the metrics; a vCPU that ran but whose guest never moved is a failure. */
static int account(KvmVm *vm, StepResult *ret)
{
        ret->metrics[VM_M_VMS]++;
        ret->metrics[VM_M_VCPUS] += vm->n_vcpus;
        ret->metrics[VM_M_MEMSLOTS] += vm->n_slots;
        ret->metrics[VM_M_EXITS] += kvm_vm_exits(vm);
        ret->metrics[VM_M_GUEST_LOOPS] += kvm_vm_guest_loops(vm);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                if (vm->vcpus[i].exits > 0 && *guest_counter(vm->slot0, i) == 0) {
                        result(ret, VM_OUT_FAILURE, -EPROTO,
                               "vCPU %u returned from KVM_RUN %" PRIu64 " times but its guest counter never moved",
                               i, vm->vcpus[i].exits);
                        return -EPROTO;
                }
        return 0;
}

/* ---- binary stats ---- */

/* Reads one stats fd, (re)reading the schema when it is new or the layout changed (a reloaded module). */
static int stats_read(KvmStatsSchema **schema, uint64_t **buf, int fd)
{
        int r;

        if (*schema) {
                r = kvm_stats_schema_matches(*schema, fd);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *schema = kvm_stats_schema_free(*schema);
                        free(*buf);
                        *buf = NULL;
                }
        }
        if (!*schema) {
                r = kvm_stats_schema_read(fd, schema);
                if (r < 0)
                        return r;
                *buf = calloc(1, (*schema)->data_size);
                if (!*buf)
                        return -ENOMEM;
        }
        return kvm_stats_read_data(*schema, fd, *buf);
}

static uint64_t stats_value(const KvmStatsSchema *schema, const uint64_t *buf, const char *name)
{
        int i = kvm_stats_find(schema, name);
        return i < 0 ? 0 : kvm_stats_value(schema, buf, (unsigned)i);
}

/* Reads the stats of a VM (is_vm) or vCPU fd into the metrics. */
static int stats_sample_one(VmState *s, int fd, bool is_vm, StepResult *ret, KvmFail *fail)
{
        _cleanup_close_ int sfd = -1;
        int r;

        r = kvm_get_stats_fd(fd, &sfd);
        if (r < 0) {
                *fail = (KvmFail){ .op = KVM_OP_GET_STATS_FD, .error = r };
                return r;
        }
        r = stats_read(is_vm ? &s->vm_schema : &s->vcpu_schema, is_vm ? &s->vm_stats : &s->vcpu_stats, sfd);
        if (r < 0) {
                *fail = (KvmFail){ .op = KVM_OP_READ_STATS, .error = r };
                return r;
        }
        if (is_vm)
                ret->metrics[VM_M_TLB_FLUSHES] += stats_value(s->vm_schema, s->vm_stats, "remote_tlb_flush");
        else
                ret->metrics[VM_M_KVM_EXITS] += stats_value(s->vcpu_schema, s->vcpu_stats, "exits");
        ret->metrics[VM_M_STATS_READS]++;
        return 0;
}

static int stats_sample(Worker *w, const VmParams *p, VmState *s, KvmVm *vm, StepResult *ret)
{
        KvmFail f = {};
        int r;

        if (!p->stats || s->stats_unsupported)
                return 0;
        worker_set_phase(w, "vm:stats");
        r = stats_sample_one(s, vm->vm_fd, true, ret, &f);
        if (r == -ENOTTY || r == -EINVAL) {
                /* A kernel before 5.14: say so once, then run without stats. */
                s->stats_unsupported = true;
                worker_note(w, "KVM_GET_STATS_FD not supported by this kernel (%s); sampling off", strerror(-r));
                return 0;
        }
        for (unsigned i = 0; r >= 0 && i < vm->n_vcpus; i++) {
                r = stats_sample_one(s, vm->vcpus[i].fd, false, ret, &f);
                f.index = i;
        }
        if (r < 0)
                return result_fail(ret, &f, NULL, "stats of a live VM"), r;
        return 0;
}

/* ---- in-process ends: close, close-with-memslots ---- */

static int end_close(Worker *w, const VmParams *p, VmState *s, VmEnd end, uint64_t run_ns, StepResult *ret)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        char why[STEP_DETAIL_MAX];
        int r;

        worker_set_phase(w, "vm:create");
        guest_load(s->mem, (unsigned)p->vcpus);
        r = build_vm(p, s->mem, &vm, why, sizeof why);
        if (r < 0)
                return vm ? result_fail(ret, &vm->fail, why, NULL) : result(ret, VM_OUT_ENV_ERROR, r, "out of memory");
        worker_set_phase(w, "vm:run");
        r = kvm_vm_run_for(vm, run_ns);
        if (r < 0)
                return result_fail(ret, &vm->fail, NULL, NULL);
        if (account(vm, ret) < 0 || stats_sample(w, p, s, vm, ret) < 0)
                return 0;

        worker_set_phase(w, "vm:close");
        switch (end) {
        case END_CLOSE:
                r = kvm_vm_delete_memslots(vm);
                if (r < 0)
                        return result_fail(ret, &vm->fail, NULL, "deleting memslots");
                kvm_vm_close_vcpus(vm);
                kvm_vm_close_vm_fd(vm);
                return result(ret, VM_OUT_CLOSE, 0, NULL);
        case END_CLOSE_WITH_MEMSLOTS_VCPUS_FIRST:
                kvm_vm_close_vcpus(vm);
                kvm_vm_close_vm_fd(vm);
                return result(ret, VM_OUT_CLOSE_MEMSLOTS_VCPUS_FIRST, 0, NULL);
        case END_CLOSE_WITH_MEMSLOTS_VM_FIRST:
                /* The VM outlives its fd through the vCPUs' references; it dies with the last vCPU fd. */
                kvm_vm_close_vm_fd(vm);
                kvm_vm_close_vcpus(vm);
                return result(ret, VM_OUT_CLOSE_MEMSLOTS_VM_FIRST, 0, NULL);
        default:
                return -EINVAL;
        }
}

/* ---- recreate ---- */

static int end_recreate(Worker *w, const VmParams *p, VmState *s, StepResult *ret)
{
        _cleanup_(kvm_vm_freep) KvmVm *prev = NULL;
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        char why[STEP_DETAIL_MAX], ctx[48];
        uint64_t i;
        int r;

        for (i = 0; i < p->recreate; i++) {
                uint64_t run_ns = prng_range(worker_prng(w), p->run.lo, p->run.hi);

                if (i > 0 && worker_should_stop(w))
                        break;
                snprintf(ctx, sizeof ctx, "VM %" PRIu64 " of %" PRIu64, i + 1, p->recreate);
                worker_set_phase(w, "vm:recreate");
                /*
                 * The previous VM's fd goes first and the new VM is created while the old one's
                 * vCPUs still hold it; closing those then destroys the old VM next to the new one,
                 * both registered on this mm.
                 */
                if (prev)
                        kvm_vm_close_vm_fd(prev);
                r = kvm_vm_new(&vm);
                prev = kvm_vm_free(prev);
                if (r < 0)
                        return vm ? result_fail(ret, &vm->fail, NULL, ctx) : result(ret, VM_OUT_ENV_ERROR, r, "out of memory");
                why[0] = '\0';
                r = check_limits(p, &vm->caps, why, sizeof why);
                if (r < 0) {
                        vm->fail.error = r;
                        return result_fail(ret, &vm->fail, why, ctx);
                }
                guest_load(s->mem, (unsigned)p->vcpus);
                r = build_memslots(p, s->mem, vm);
                if (r >= 0)
                        r = build_vcpus(p->vcpus, vm);
                if (r >= 0)
                        r = kvm_vm_run_for(vm, run_ns);
                if (r < 0)
                        return result_fail(ret, &vm->fail, NULL, ctx);
                if (account(vm, ret) < 0 || stats_sample(w, p, s, vm, ret) < 0)
                        return 0;
                prev = TAKE_PTR(vm);
        }
        worker_set_phase(w, "vm:close");
        prev = kvm_vm_free(prev);
        return result(ret, VM_OUT_RECREATE, 0, "%" PRIu64 " VMs, each created as the previous one was torn down", i);
}

/* ---- helper processes ---- */

static void shared_reset(VmState *s)
{
        memset(s->shared, 0, sizeof *s->shared);
}

/*
 * A helper process reports why it gives up and exits: a failed KVM call
 * (f), or a reason in words (why) whose errno (error) decides how it counts.
 */
_noreturn_ static void child_failed(VmShared *sh, const KvmFail *f, int error, const char *why, int code)
{
        if (f)
                sh->fail = *f;
        else
                sh->fail = (KvmFail){ .error = error };
        if (why)
                snprintf(sh->why, sizeof sh->why, "%s", why);
        futex_set(&sh->vmm, VMM_FAILED);
        proc_exit(code);
}

/*
 * The VMM child of sigkill and stats-after-end: builds the VM in its own
 * mm, optionally hands its stats fds to the worker, then spins its guest
 * without exits until it is killed.
 */
/*
 * Pins the calling thread to the CPU it is on and returns in cpus every
 * other CPU it may use; false (no pinning) where it may use only one.
 */
static bool vcpu_cpus_away_from_here(cpu_set_t *cpus)
{
        cpu_set_t here;
        int cpu = sched_getcpu();

        if (cpu < 0 || sched_getaffinity(0, sizeof *cpus, cpus) < 0 || CPU_COUNT(cpus) < 2 || !CPU_ISSET(cpu, cpus))
                return false;
        CPU_ZERO(&here);
        CPU_SET(cpu, &here);
        if (sched_setaffinity(0, sizeof here, &here) < 0)
                return false;
        CPU_CLR(cpu, cpus);
        return true;
}

_noreturn_ static void vmm_spin_main(const VmParams *p, VmState *s, int stats_sock)
{
        VmShared *sh = s->shared;
        cpu_set_t cpus;
        KvmVm *vm = NULL;
        char why[STEP_DETAIL_MAX];
        int r;

        r = build_vm(p, s->mem, &vm, why, sizeof why);
        if (r < 0)
                child_failed(sh, vm ? &vm->fail : NULL, -ENOMEM, why[0] ? why : vm ? NULL : "out of memory", 1);
        vm->shared_exits = &sh->exits;
        sh->vcpus = vm->n_vcpus;
        sh->slots = vm->n_slots;

        if (stats_sock >= 0) {
                int fds[2] = { -1, -1 };
                KvmFail f = { .op = KVM_OP_GET_STATS_FD };

                f.error = kvm_get_stats_fd(vm->vm_fd, &fds[0]);
                if (f.error >= 0)
                        f.error = kvm_get_stats_fd(vm->vcpus[0].fd, &fds[1]);
                if (f.error < 0)
                        child_failed(sh, &f, 0, NULL, 1);
                r = proc_send_fds(stats_sock, fds, 2);
                if (r < 0)
                        child_failed(sh, NULL, r, "sending the stats fds failed", 1);
                /* Our copies stay open: the SIGKILL ends them with everything else. */
        }

        /*
         * Every vCPU enters the guest once in EXIT mode first (its counter reaches 1), so RUNNING
         * means each of them ran guest code; then the guest spins and never exits again.
         */
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                r = kvm_vm_run_vcpu(vm, i, 1);
                if (r < 0)
                        child_failed(sh, &vm->vcpus[i].fail, 0, NULL, 1);
        }
        guest_set_mode(vm->slot0, GUEST_MODE_SPIN);
        /*
         * Every vCPU on a thread of its own, off this thread's CPU; this thread only reports and
         * then sleeps. The worker it wakes is put on the waker's CPU: were a vCPU spinning inside
         * KVM_RUN there (not preemptible on many kernels), the worker would wait for a tick.
         */
        r = kvm_vm_start_threads_on(vm, 0, vcpu_cpus_away_from_here(&cpus) ? &cpus : NULL);
        if (r < 0)
                child_failed(sh, &vm->fail, 0, NULL, 1);
        /* The baseline of the proof: from here on the guest only spins, and no vCPU ever comes back. */
        sh->exits_at_running = atomic_load(&sh->exits);
        sh->loops_at_running = kvm_vm_guest_loops(vm);
        sh->t_running = now_ns(CLOCK_MONOTONIC);
        futex_set(&sh->vmm, VMM_RUNNING);
        /* vCPU 0's thread only ends if KVM_RUN fails or exits for a reason it must not. */
        (void)pthread_join(vm->vcpus[0].thread, NULL);
        child_failed(sh, &vm->vcpus[0].fail, 0, NULL, 2);
}

/* Sum of the guest's loop counters of the VMM child, read from the shared slot 0. */
static uint64_t guest_loops(const VmParams *p, VmState *s)
{
        uint64_t n = 0;
        for (unsigned i = 0; i < p->vcpus; i++)
                n += *guest_counter(s->mem, i);
        return n;
}

/*
 * Waits until the VMM child runs its guest; on failure fills ret, reaps the
 * child and returns negative. A child that failed to build its VM is
 * reported the same way an in-process failure would be.
 */
static int wait_vmm_running(const VmParams *p, VmState *s, pid_t pid, StepResult *ret)
{
        VmShared *sh = s->shared;
        char buf[64];
        int status = 0, r;

        /* Asleep until the child reports: a parent spinning here would take a CPU from the guest. */
        r = proc_wait_word(&sh->vmm, VMM_SETUP, pid, VMM_TIMEOUT_NS);
        if (r >= 0 && atomic_load(&sh->vmm) == VMM_RUNNING) {
                for (unsigned i = 0; i < p->vcpus; i++)
                        if (*guest_counter(s->mem, i) == 0) {
                                proc_kill_reap(pid);
                                return result(ret, VM_OUT_FAILURE, -EPROTO,
                                              "VMM reported its guest running but vCPU %u's counter is 0", i), -1;
                        }
                return 0;
        }
        if (r == -ETIMEDOUT) {
                proc_kill_reap(pid);
                return result(ret, VM_OUT_FAILURE, r, "VMM child did not reach its guest within %llus",
                              VMM_TIMEOUT_NS / NSEC_PER_SEC), -1;
        }
        (void)proc_wait(pid, VMM_TIMEOUT_NS, &status);
        if (atomic_load(&sh->vmm) == VMM_FAILED)
                return result_fail(ret, &sh->fail, sh->why, "VMM child"), -1;
        return result(ret, VM_OUT_FAILURE, -ECHILD, "VMM child %s during setup",
                      proc_status_describe(status, buf, sizeof buf)), -1;
}

/*
 * Kills the VMM child while its guest runs, with the evidence that it did:
 * the guest's loop counter moved after the VMM said its vCPUs entered the
 * spinning guest, the VMM never came back from KVM_RUN between that moment
 * and its death (its exit count, read after the reap, did not change), and
 * its wait status says SIGKILL. Reaps the child either way.
 */
static int kill_in_guest(Worker *w, const VmParams *p, VmState *s, pid_t pid, uint64_t run_ns, char *proof,
                         size_t proof_len, StepResult *ret)
{
        VmShared *sh = s->shared;
        uint64_t c0 = sh->loops_at_running, e0 = sh->exits_at_running, c1, e1, t1, deadline;
        int status = 0, r;
        char buf[64];

        worker_set_phase(w, "vm:run");
        if (run_ns)
                sleep_ns(run_ns);
        worker_set_phase(w, "vm:sigkill");
        if (observer && observer->vmm_in_guest)
                observer->vmm_in_guest(pid, guest_counter(s->mem, 0), observer->userdata);

        /*
         * Usually the guest has moved on by now. If not (its thread waits for a CPU on a loaded
         * host), watch until it does; standing still for GUEST_STILL_NS is a hang.
         */
        deadline = now_ns(CLOCK_MONOTONIC) + GUEST_STILL_NS;
        do {
                c1 = guest_loops(p, s);
                t1 = now_ns(CLOCK_MONOTONIC);
        } while (c1 == c0 && t1 < deadline);
        (void)kill(pid, SIGKILL);

        r = proc_wait(pid, VMM_TIMEOUT_NS, &status);
        if (r < 0 && r != -ETIMEDOUT)
                return result(ret, VM_OUT_FAILURE, r, "waiting for the killed VMM: %s", strerror(-r)), -1;
        if (atomic_load(&sh->vmm) == VMM_FAILED)
                return result_fail(ret, &sh->fail, sh->why, "VMM child before the kill"), -1;
        if (c1 == c0)
                return result(ret, VM_OUT_FAILURE, -EPROTO, "guest counter stood still for %llus before the kill",
                              GUEST_STILL_NS / NSEC_PER_SEC), -1;
        /* Read after the reap: an exit to userspace at any time before the death would show here. */
        e1 = atomic_load(&sh->exits);
        if (e1 != e0)
                return result(ret, VM_OUT_FAILURE, -EPROTO,
                              "spinning guest exited to userspace %" PRIu64 " times (it never should)", e1 - e0), -1;
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                return result(ret, VM_OUT_FAILURE, -EPROTO, "VMM %s, not by our SIGKILL",
                              proc_status_describe(status, buf, sizeof buf)), -1;

        ret->metrics[VM_M_VMS]++;
        ret->metrics[VM_M_VCPUS] += sh->vcpus;
        ret->metrics[VM_M_MEMSLOTS] += sh->slots;
        ret->metrics[VM_M_EXITS] += e1;
        ret->metrics[VM_M_GUEST_LOOPS] += guest_loops(p, s);
        snprintf(proof, proof_len,
                 "guest counter +%" PRIu64 " in the %" PRIu64 "us before SIGKILL with no exit from KVM_RUN", c1 - c0,
                 (uint64_t)((t1 - sh->t_running) / NSEC_PER_USEC));
        return 0;
}

/* ---- sigkill ---- */

static int end_sigkill(Worker *w, const VmParams *p, VmState *s, uint64_t run_ns, StepResult *ret)
{
        char proof[STEP_DETAIL_MAX];
        pid_t pid;

        shared_reset(s);
        guest_load(s->mem, (unsigned)p->vcpus);
        worker_set_phase(w, "vm:create");
        pid = proc_fork_child();
        if (pid < 0)
                return result(ret, kvm_error_is_env(pid) ? VM_OUT_ENV_ERROR : VM_OUT_FAILURE, pid,
                              "fork VMM process: %s", strerror(-pid));
        if (pid == 0)
                vmm_spin_main(p, s, -1);
        if (wait_vmm_running(p, s, pid, ret) < 0)
                return 0;
        if (kill_in_guest(w, p, s, pid, run_ns, proof, sizeof proof, ret) < 0)
                return 0;
        return result(ret, VM_OUT_SIGKILL, 0, "%s; VMM died by SIGKILL", proof);
}

/* ---- stats-after-end ---- */

static void describe_stats_read(char *buf, size_t len, int r, const KvmStatsSchema *schema, const uint64_t *data,
                                const char *key)
{
        if (r < 0)
                snprintf(buf, len, "clean error %s", strerrorname_np(-r) ?: strerror(-r));
        else
                snprintf(buf, len, "%zu stats, %s=%" PRIu64, schema->n_descs, key, stats_value(schema, data, key));
}

static int end_stats_after_end(Worker *w, const VmParams *p, VmState *s, uint64_t run_ns, StepResult *ret)
{
        _cleanup_close_ int sock = -1, vm_stats = -1, vcpu_stats = -1;
        char proof[STEP_DETAIL_MAX], a[64], b[64];
        struct timeval tv = { .tv_sec = VMM_TIMEOUT_NS / NSEC_PER_SEC };
        int sv[2], fds[2], r, rv, rc;
        pid_t pid;

        shared_reset(s);
        guest_load(s->mem, (unsigned)p->vcpus);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return result(ret, VM_OUT_ENV_ERROR, negative_errno(), "socketpair: %m");
        worker_set_phase(w, "vm:create");
        pid = proc_fork_child();
        if (pid == 0) {
                close(sv[0]);
                vmm_spin_main(p, s, sv[1]);
        }
        close(sv[1]);
        sock = sv[0];
        if (pid < 0)
                return result(ret, kvm_error_is_env(pid) ? VM_OUT_ENV_ERROR : VM_OUT_FAILURE, pid,
                              "fork VMM process: %s", strerror(-pid));

        /* The child sends before it starts its guest; a child that failed first closes the socket (EPIPE). */
        (void)setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        r = proc_recv_fds(sock, fds, 2);
        if (r < 0) {
                if (wait_vmm_running(p, s, pid, ret) >= 0) {
                        proc_kill_reap(pid);
                        return result(ret, VM_OUT_FAILURE, r, "receiving the VMM's stats fds: %s", strerror(-r));
                }
                return 0;
        }
        vm_stats = fds[0];
        vcpu_stats = fds[1];
        if (wait_vmm_running(p, s, pid, ret) < 0)
                return 0;
        if (kill_in_guest(w, p, s, pid, run_ns, proof, sizeof proof, ret) < 0)
                return 0;

        /* The VMM is gone; its VM lives on only through these two fds. Reading them must not hang. */
        worker_set_phase(w, "vm:stats-after-end");
        rv = stats_read(&s->vm_schema, &s->vm_stats, vm_stats);
        rc = stats_read(&s->vcpu_schema, &s->vcpu_stats, vcpu_stats);
        if (rv >= 0) {
                ret->metrics[VM_M_STATS_READS]++;
                ret->metrics[VM_M_TLB_FLUSHES] += stats_value(s->vm_schema, s->vm_stats, "remote_tlb_flush");
        }
        if (rc >= 0) {
                ret->metrics[VM_M_STATS_READS]++;
                ret->metrics[VM_M_KVM_EXITS] += stats_value(s->vcpu_schema, s->vcpu_stats, "exits");
        }
        describe_stats_read(a, sizeof a, rv, s->vm_schema, s->vm_stats, "remote_tlb_flush");
        describe_stats_read(b, sizeof b, rc, s->vcpu_schema, s->vcpu_stats, "exits");
        /* Closing them drops the last references: the VM is destroyed here, outside the mm it was made in. */
        vm_stats = safe_close(vm_stats);
        vcpu_stats = safe_close(vcpu_stats);
        return result(ret, VM_OUT_STATS_AFTER_END, rv < 0 ? rv : rc, "%s; then VM stats: %s; vCPU 0 stats: %s",
                      proof, a, b);
}

/* ---- shared-fd ---- */

/*
 * The two racers spin on CPUs of their own when the worker may use two:
 * a racer that is not on a CPU when the other arrives turns a sub-µs spread
 * into a scheduler tick. Returns the nth allowed CPU, or -1.
 */
static int nth_allowed_cpu(unsigned n)
{
        cpu_set_t set;

        if (sched_getaffinity(0, sizeof set, &set) < 0)
                return -1;
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
                if (CPU_ISSET(cpu, &set) && n-- == 0)
                        return cpu;
        return -1;
}

/*
 * Each racer on a CPU of its own, so neither waits for the other to be
 * scheduled at the barrier. The creator also runs at RT priority: it is
 * usually first at the barrier and must still be on its CPU when the peer
 * arrives (on a loaded host a preempted spinner turns a sub-µs spread into
 * a timeslice), and its exit_mm then runs without being preempted. The
 * peer stays a normal task: at RT priority its VM destroy, which waits for
 * grace periods that need kworkers on its CPU, took ten times longer. Where
 * either is refused (no CAP_SYS_NICE, one CPU) the race still runs, less
 * tightly aligned; the spread says so.
 */
static void racer_prepare(int cpu, bool rt)
{
        struct sched_param sp = { .sched_priority = 1 };
        cpu_set_t set;

        if (cpu >= 0) {
                CPU_ZERO(&set);
                CPU_SET(cpu, &set);
                (void)sched_setaffinity(0, sizeof set, &set);
        }
        if (rt)
                (void)sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
}

/* A racer is in place; the second one wakes the worker. */
static void racer_ready(RacePair *rp)
{
        if (atomic_fetch_add(&rp->ready, 1) + 1 == 2)
                futex_wake_all(&rp->ready);
}

/* Until both racers are ready, one of them died, or VMM_TIMEOUT_NS. */
static int wait_both_ready(RacePair *rp, pid_t creator, pid_t peer)
{
        uint64_t deadline = now_ns(CLOCK_MONOTONIC) + VMM_TIMEOUT_NS;

        for (;;) {
                uint32_t v = atomic_load(&rp->ready);
                if (v >= 2)
                        return 0;
                if (!proc_alive(creator) || !proc_alive(peer))
                        return -ECHILD;
                if (now_ns(CLOCK_MONOTONIC) >= deadline)
                        return -ETIMEDOUT;
                (void)futex_wait_change(&rp->ready, v, 5 * NSEC_PER_MSEC);
        }
}

/*
 * Both racers sleep until the worker's go, then meet at a barrier: a spin
 * of at most 20 ms (even at RT priority), then a sleep until the other one
 * comes — late, on a host too loaded to align them, and the spread shows it.
 */
static int racer_go(RacePair *rp)
{
        (void)proc_wait_word(&rp->go, 0, 0, VMM_TIMEOUT_NS);
        return proc_barrier(&rp->arrived, 2, 20 * NSEC_PER_MSEC, VMM_TIMEOUT_NS);
}

_noreturn_ static void pair_failed(RacePair *rp, const KvmFail *f, int error, const char *why, int code)
{
        rp->fail = f ? *f : (KvmFail){ .error = error };
        if (why)
                snprintf(rp->why, sizeof rp->why, "%s", why);
        futex_set(&rp->vmm, VMM_FAILED);
        proc_exit(code);
}

_noreturn_ static void peer_main(RacePair *rp, int sock, int cpu)
{
        int fd, r;
        uint64_t t;

        r = proc_recv_fds(sock, &fd, 1);
        close(sock);
        if (r < 0) {
                rp->peer_error = r;
                futex_set(&rp->peer, PEER_FAILED);
                proc_exit(3);
        }
        rp->peer_fd = fd;
        racer_prepare(cpu, false);
        atomic_store(&rp->peer, PEER_HOLDING);
        racer_ready(rp);
        /* The worker looks at our fd table before it lets us race. */
        r = racer_go(rp);
        t = now_ns(CLOCK_MONOTONIC);
        rp->t_peer = t;
        if (close(fd) < 0)
                rp->peer_error = negative_errno();
        if (r < 0)
                rp->peer_error = r;
        proc_exit(r < 0 ? 4 : 0);
}

_noreturn_ static void creator_main(const VmParams *p, RacePair *rp, int sock, uint64_t run_ns, int cpu)
{
        KvmVm *vm = NULL;
        char why[STEP_DETAIL_MAX];
        uint8_t *mem;
        int r;

        /*
         * Guest memory of the creator's own, private: its exit_mm really takes the memory the
         * VM's memslots still point into (and each racing VM counts its own guest loops).
         */
        mem = mmap(NULL, (size_t)(p->memslots * p->slot_size), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED)
                pair_failed(rp, &(KvmFail){ .op = KVM_OP_MMAP_MEMORY, .error = negative_errno() }, 0, NULL, 1);
        guest_load(mem, (unsigned)p->vcpus);
        r = build_vm(p, mem, &vm, why, sizeof why);
        if (r < 0)
                pair_failed(rp, vm ? &vm->fail : NULL, -ENOMEM, why[0] ? why : vm ? NULL : "out of memory", 1);
        vm->shared_exits = &rp->exits;
        rp->vcpus = vm->n_vcpus;
        rp->slots = vm->n_slots;
        r = kvm_vm_run_for(vm, run_ns);
        if (r < 0)
                pair_failed(rp, &vm->fail, 0, NULL, 1);
        rp->loops = kvm_vm_guest_loops(vm);
        r = proc_send_fds(sock, &vm->vm_fd, 1);
        if (r < 0)
                pair_failed(rp, NULL, r, "sending the VM fd to the peer failed", 1);
        close(sock);
        /* Every reference of ours but the mm goes now; memslots stay set. The peer's fd is the last one. */
        kvm_vm_close_vcpus(vm);
        kvm_vm_close_vm_fd(vm);
        racer_prepare(cpu, true);
        atomic_store(&rp->vmm, VMM_READY);
        racer_ready(rp);
        r = racer_go(rp);
        rp->t_creator = now_ns(CLOCK_MONOTONIC);
        /* exit_mm → MMU notifier release, while the peer's close destroys the VM. */
        proc_exit(r < 0 ? 2 : 0);
}

static void kill_reap_all(pid_t *pids, unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                pids[i] = proc_kill_reap(pids[i]);
}

/* Why pair i could not race: fills ret. */
static int pair_setup_failed(RacePair *rp, int r, int sc, int sp, StepResult *ret)
{
        char b1[64], b2[64];

        if (atomic_load(&rp->vmm) == VMM_FAILED)
                return result_fail(ret, &rp->fail, rp->why, "VM creator");
        return result(ret, VM_OUT_FAILURE, r < 0 ? r : rp->peer_error ?: -EPROTO,
                      "the race never started (creator %s, peer %s)", proc_status_describe(sc, b1, sizeof b1),
                      proc_status_describe(sp, b2, sizeof b2));
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int end_shared_fd(Worker *w, const VmParams *p, VmState *s, uint64_t run_ns, StepResult *ret)
{
        unsigned n = (unsigned)p->shared_fd_pairs;
        pid_t creators[SHARED_FD_PAIRS_MAX], peers[SHARED_FD_PAIRS_MAX];
        int sc[SHARED_FD_PAIRS_MAX] = {}, sp[SHARED_FD_PAIRS_MAX] = {};
        uint64_t spreads[SHARED_FD_PAIRS_MAX];
        struct timeval tv = { .tv_sec = VMM_TIMEOUT_NS / NSEC_PER_SEC };
        int r, cpu_peer = nth_allowed_cpu(0), cpu_creator = nth_allowed_cpu(1);
        char link[64] = "", path[64], b1[64], b2[64];

        memset(s->pairs, 0, n * sizeof *s->pairs);
        for (unsigned i = 0; i < n; i++) {
                creators[i] = peers[i] = -1;
                s->pairs[i].peer_fd = -1;
        }

        /* Every pair at once: their VMs are built side by side while the races run one by one. */
        worker_set_phase(w, "vm:create");
        for (unsigned i = 0; i < n; i++) {
                RacePair *rp = &s->pairs[i];
                int sv[2];

                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                        r = negative_errno();
                        kill_reap_all(creators, i);
                        kill_reap_all(peers, i);
                        return result(ret, VM_OUT_ENV_ERROR, r, "socketpair: %s", strerror(-r));
                }
                (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                peers[i] = proc_fork_child();
                if (peers[i] == 0) {
                        close(sv[0]);
                        peer_main(rp, sv[1], cpu_creator >= 0 ? cpu_peer : -1);
                }
                if (peers[i] > 0)
                        creators[i] = proc_fork_child();
                if (creators[i] == 0) {
                        close(sv[1]);
                        creator_main(p, rp, sv[0], run_ns, cpu_creator);
                }
                close(sv[0]);
                close(sv[1]);
                if (peers[i] < 0 || creators[i] < 0) {
                        r = peers[i] < 0 ? peers[i] : creators[i];
                        kill_reap_all(creators, i + 1);
                        kill_reap_all(peers, i + 1);
                        return result(ret, kvm_error_is_env(r) ? VM_OUT_ENV_ERROR : VM_OUT_FAILURE, r, "fork: %s",
                                      strerror(-r));
                }
        }

        /* The races one after the other; all racers are reaped at the end. */
        for (unsigned i = 0; i < n; i++) {
                RacePair *rp = &s->pairs[i];
                ssize_t k;

                worker_set_phase(w, "vm:run");
                r = wait_both_ready(rp, creators[i], peers[i]);
                if (atomic_load(&rp->peer) != PEER_HOLDING || atomic_load(&rp->vmm) != VMM_READY) {
                        (void)proc_wait(creators[i], VMM_TIMEOUT_NS, &sc[i]);
                        (void)proc_wait(peers[i], VMM_TIMEOUT_NS, &sp[i]);
                        creators[i] = peers[i] = -1;
                        pair_setup_failed(rp, r, sc[i], sp[i], ret);
                        kill_reap_all(creators, n);
                        kill_reap_all(peers, n);
                        return 0;
                }

                /* The evidence that the peer holds the VM: its fd table, as anyone can see it. */
                snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)peers[i], (int)rp->peer_fd);
                k = readlink(path, link, sizeof link - 1);
                link[k < 0 ? 0 : k] = '\0';
                if (observer && observer->peer_holds_fd)
                        observer->peer_holds_fd(peers[i], rp->peer_fd, observer->userdata);
                if (!streq(link, "anon_inode:kvm-vm")) {
                        kill_reap_all(creators, n);
                        kill_reap_all(peers, n);
                        return result(ret, VM_OUT_FAILURE, -EPROTO, "peer's fd %d is '%s', not the VM",
                                      (int)rp->peer_fd, link);
                }

                worker_set_phase(w, "vm:shared-fd");
                futex_set(&rp->go, 1);
                /*
                 * Next race once both left the barrier. Not sooner: two pairs at the barrier at once
                 * would compete for the CPUs. Not later: the exit and the close each wait for an SRCU
                 * grace period the race makes slow, and those waits are better overlapped. Polled,
                 * so neither racer makes a syscall between the barrier and its fire to wake us.
                 */
                for (uint64_t until = now_ns(CLOCK_MONOTONIC) + VMM_TIMEOUT_NS;
                     (atomic_load(&rp->arrived) & 0xffff) < 2 && now_ns(CLOCK_MONOTONIC) < until &&
                     (proc_alive(creators[i]) || proc_alive(peers[i]));)
                        sleep_ns(20 * NSEC_PER_USEC);
                /*
                 * And once both have left their CPUs (asleep in a grace period, or gone): the next
                 * creator, at the same RT priority on the same CPU, would otherwise wait behind this
                 * one's exit while its peer spins alone at the barrier.
                 */
                for (uint64_t until = now_ns(CLOCK_MONOTONIC) + 5 * NSEC_PER_MSEC;
                     i + 1 < n && (proc_on_cpu(creators[i]) || proc_on_cpu(peers[i])) &&
                     now_ns(CLOCK_MONOTONIC) < until;)
                        sleep_ns(20 * NSEC_PER_USEC);
        }
        for (unsigned i = 0; i < n; i++) {
                (void)proc_wait(creators[i], VMM_TIMEOUT_NS, &sc[i]);
                (void)proc_wait(peers[i], VMM_TIMEOUT_NS, &sp[i]);
                creators[i] = peers[i] = -1;
        }

        for (unsigned i = 0; i < n; i++) {
                RacePair *rp = &s->pairs[i];

                if (atomic_load(&rp->vmm) == VMM_FAILED)
                        return result_fail(ret, &rp->fail, rp->why, "VM creator");
                if (!WIFEXITED(sc[i]) || WEXITSTATUS(sc[i]) != 0 || !WIFEXITED(sp[i]) || WEXITSTATUS(sp[i]) != 0 ||
                    rp->peer_error < 0)
                        return result(ret, VM_OUT_FAILURE, rp->peer_error ?: -EPROTO, "race %u: creator %s, peer %s%s%s",
                                      i + 1, proc_status_describe(sc[i], b1, sizeof b1),
                                      proc_status_describe(sp[i], b2, sizeof b2), rp->peer_error < 0 ? ", peer error " : "",
                                      rp->peer_error < 0 ? strerror(-rp->peer_error) : "");
                /* Every vCPU of this VM came back from its guest at least once: guest code ran in it. */
                if (atomic_load(&rp->exits) < rp->vcpus || rp->loops < rp->vcpus)
                        return result(ret, VM_OUT_FAILURE, -EPROTO, "race %u: %" PRIu64 " exits from %u vCPUs", i + 1,
                                      (uint64_t)atomic_load(&rp->exits), rp->vcpus);
                spreads[i] = rp->t_creator > rp->t_peer ? rp->t_creator - rp->t_peer : rp->t_peer - rp->t_creator;
                ret->metrics[VM_M_VMS]++;
                ret->metrics[VM_M_VCPUS] += rp->vcpus;
                ret->metrics[VM_M_MEMSLOTS] += rp->slots;
                ret->metrics[VM_M_EXITS] += atomic_load(&rp->exits);
                ret->metrics[VM_M_GUEST_LOOPS] += rp->loops;
        }
        qsort(spreads, n, sizeof spreads[0], cmp_u64);
        /* The worst pair of the step is its spread; 0 means "no measurement" to the engine, so a real 0 reads 1. */
        ret->race_spread_ns = spreads[n - 1] ?: 1;
        return result(ret, VM_OUT_SHARED_FD, 0,
                      "%u races: each peer held its VM fd (%s) and closed it as the creator exited; spread max %" PRIu64
                      "ns, median %" PRIu64 "ns",
                      n, link, spreads[n - 1], spreads[n / 2]);
}

/* ---- fail-vcpu-emfile ---- */

/* The lowest fd number not in use: with RLIMIT_NOFILE at that number, the next fd install fails. */
static int lowest_free_fd(void)
{
        int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        close(fd);
        return fd;
}

static int end_fail_vcpu_emfile(Worker *w, const VmParams *p, VmState *s, uint64_t run_ns, StepResult *ret)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        char why[STEP_DETAIL_MAX];
        struct rlimit saved, low;
        unsigned before = (unsigned)prng_range(worker_prng(w), 0, p->vcpus - 1);
        int fd = -1, lowest, r;

        worker_set_phase(w, "vm:create");
        guest_load(s->mem, (unsigned)p->vcpus);
        /* Partial setup: the VM, its memslots and `before` vCPUs exist when the next one fails. */
        r = build_vm_n(p, s->mem, before, &vm, why, sizeof why);
        if (r < 0)
                return vm ? result_fail(ret, &vm->fail, why, NULL) : result(ret, VM_OUT_ENV_ERROR, r, "out of memory");

        worker_set_phase(w, "vm:efail");
        lowest = lowest_free_fd();
        if (lowest < 0)
                return result(ret, VM_OUT_ENV_ERROR, lowest, "finding a free fd: %s", strerror(-lowest));
        if (getrlimit(RLIMIT_NOFILE, &saved) < 0)
                return result(ret, VM_OUT_ENV_ERROR, negative_errno(), "getrlimit RLIMIT_NOFILE: %m");
        low = saved;
        low.rlim_cur = (rlim_t)lowest;
        if (setrlimit(RLIMIT_NOFILE, &low) < 0)
                return result(ret, VM_OUT_ENV_ERROR, negative_errno(), "setrlimit RLIMIT_NOFILE=%d: %m", lowest);
        /* KVM allocates and registers the vCPU, then fails to install its fd: the unwinding is under test. */
        r = kvm_vm_create_vcpu_raw(vm, &fd);
        if (setrlimit(RLIMIT_NOFILE, &saved) < 0) {
                int k = negative_errno();
                safe_close(fd);
                return result(ret, VM_OUT_ENV_ERROR, k, "restoring RLIMIT_NOFILE: %s", strerror(-k));
        }
        if (r >= 0) {
                safe_close(fd);
                return result(ret, VM_OUT_FAILURE, -EPROTO,
                              "KVM_CREATE_VCPU returned fd %d although RLIMIT_NOFILE was %d", fd, lowest);
        }
        if (r != -EMFILE)
                return result_fail(ret, &vm->fail, NULL, "KVM_CREATE_VCPU under a lowered RLIMIT_NOFILE");

        /* The error path ran. Everything it set up must be gone: the same vCPU id works again. */
        vm->fail = (KvmFail){};
        r = kvm_vm_add_vcpu(vm);
        if (r == -EEXIST)
                return result(ret, VM_OUT_FAILURE, r,
                              "vCPU id %u still taken after its KVM_CREATE_VCPU failed with EMFILE", before);
        if (r >= 0)
                r = build_vcpus(p->vcpus, vm);
        if (r >= 0)
                r = kvm_vm_run_for(vm, run_ns);
        if (r < 0)
                return result_fail(ret, &vm->fail, NULL, "after the EMFILE");
        if (account(vm, ret) < 0 || stats_sample(w, p, s, vm, ret) < 0)
                return 0;
        worker_set_phase(w, "vm:close");
        vm = kvm_vm_free(vm);
        return result(ret, VM_OUT_EFAIL_VCPU_EMFILE, -EMFILE,
                      "KVM_CREATE_VCPU: Too many open files (vCPU %u, after KVM_CREATE_VM + %" PRIu64
                      " memslots + %u vCPUs, RLIMIT_NOFILE=%d); the id worked again after",
                      before, p->memslots, before, lowest);
}

/* ---- fail-memcg ---- */

/* Setup under the limit takes milliseconds; a VMM that made no progress for this long is parked in a fault. */
#define MEMCG_STALL_NS (2 * NSEC_PER_SEC)

/* Which error path a call that failed at the memcg limit belongs to. */
static unsigned memcg_outcome(KvmOp op)
{
        switch (op) {
        case KVM_OP_OPEN:
        case KVM_OP_GET_API_VERSION:
        case KVM_OP_CHECK_EXTENSION:
        case KVM_OP_GET_VCPU_MMAP_SIZE:
        case KVM_OP_CREATE_VM:
                return VM_OUT_EFAIL_MEMCG_VM;
        case KVM_OP_SET_USER_MEMORY_REGION:
                return VM_OUT_EFAIL_MEMCG_MEMSLOT;
        case KVM_OP_RUN:
                return VM_OUT_EFAIL_MEMCG_RUN;
        default:
                return VM_OUT_EFAIL_MEMCG_VCPU;
        }
}

/*
 * Grows the stack by 256K and touches it, from a frame of its own so the
 * callers that follow reuse those pages: after the move into the memory
 * cgroup, a stack that had to grow (new pages, a bigger VMA) would meet
 * the limit in our own page faults instead of in KVM's allocations.
 */
__attribute__((noinline)) static void prefault_stack(void)
{
        volatile uint8_t stack[256 * 1024];
        for (size_t i = 0; i < sizeof stack; i += 4096)
                stack[i] = 1;
}

/* The same for the heap: allocations KVM setup makes (VM object, vCPU array) come from touched pages. */
static void prefault_heap(void)
{
        void *p[4 * 13];
        size_t n = 0;

        for (size_t size = 16; size <= 64 * 1024; size *= 2)
                for (int i = 0; i < 4; i++) {
                        p[n] = malloc(size);
                        if (p[n])
                                memset(p[n], 1, size);
                        n++;
                }
        for (size_t i = 0; i < n; i++)
                free(p[i]);
}

_noreturn_ static void memcg_vmm_main(const VmParams *p, VmState *s)
{
        VmShared *sh = s->shared;
        KvmVm *vm = NULL;
        int r;

        prefault_stack();
        prefault_heap();
        futex_set(&sh->peer, 1); /* ready to be moved into the group */
        (void)proc_wait_word(&sh->go, 0, 0, VMM_TIMEOUT_NS);

        /* Each call bumps sh->progress, so the worker tells a slow setup from a parked one. */
        atomic_store(&sh->op, KVM_OP_CREATE_VM);
        r = kvm_vm_new(&vm);
        atomic_fetch_add(&sh->progress, 1);
        if (r < 0)
                child_failed(sh, vm ? &vm->fail : NULL, -ENOMEM, vm ? NULL : "out of memory", 1);
        atomic_store(&sh->op, KVM_OP_SET_USER_MEMORY_REGION);
        for (uint64_t i = 0; i < p->memslots; i++) {
                r = kvm_vm_set_memslot(vm, (uint32_t)i, 0, i * p->slot_size, p->slot_size, s->mem + i * p->slot_size);
                atomic_fetch_add(&sh->progress, 1);
                sh->slots = vm->n_slots;
                if (r < 0)
                        child_failed(sh, &vm->fail, 0, NULL, 1);
        }
        atomic_store(&sh->op, KVM_OP_CREATE_VCPU);
        while (vm->n_vcpus < p->vcpus) {
                r = kvm_vm_add_vcpu(vm);
                atomic_fetch_add(&sh->progress, 1);
                sh->vcpus = vm->n_vcpus;
                if (r < 0)
                        child_failed(sh, &vm->fail, 0, NULL, 1);
        }
        /* Each vCPU enters the guest once, one after another on this thread: a new thread's stack would be
         * ours to fault in under the limit. */
        atomic_store(&sh->op, KVM_OP_RUN);
        vm->shared_exits = &sh->exits;
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                r = kvm_vm_run_vcpu(vm, i, 1);
                atomic_fetch_add(&sh->progress, 1);
                if (r < 0)
                        child_failed(sh, &vm->vcpus[i].fail, 0, NULL, 1);
        }
        futex_set(&sh->vmm, VMM_DONE);
        proc_exit(0);
}

static int end_fail_memcg(Worker *w, const VmParams *p, VmState *s, StepResult *ret)
{
        _cleanup_(memcg_freep) Memcg *m = NULL;
        VmShared *sh = s->shared;
        const char *reason = NULL, *stall = "";
        uint64_t headroom = prng_range(worker_prng(w), 0, p->memcg_headroom) & ~4095ULL, usage = 0, kills = 0;
        char name[MEMCG_NAME_MAX], tag[48], buf[64];
        int status = 0, r;
        pid_t pid;

        r = memcg_detect(&reason);
        if (r < 0)
                return result(ret, VM_OUT_UNAVAILABLE, r, "fail-memcg: %s", reason);
        snprintf(tag, sizeof tag, "vm-%u-%" PRIu64, worker_instance(w), worker_iteration(w));
        /* Named for this worker, so a group it leaves behind by crashing is swept at the next start. */
        r = memcg_name(name, sizeof name, tag);
        if (r >= 0)
                r = memcg_create(name, &m);
        if (r < 0)
                return result(ret, VM_OUT_UNAVAILABLE, r, "fail-memcg: cannot create memory cgroup %s: %s", name,
                              strerror(-r));

        shared_reset(s);
        guest_load(s->mem, (unsigned)p->vcpus);
        worker_set_phase(w, "vm:memcg");
        pid = proc_fork_child();
        if (pid == 0)
                memcg_vmm_main(p, s);
        if (pid < 0)
                return result(ret, kvm_error_is_env(pid) ? VM_OUT_ENV_ERROR : VM_OUT_FAILURE, pid,
                              "fork VMM process: %s", strerror(-pid));
        /* Only once it touched what it will use: from the move on, its charges land in the group. */
        r = proc_wait_word(&sh->peer, 0, pid, VMM_TIMEOUT_NS);
        if (r >= 0)
                r = memcg_attach(m, pid);
        /* v1: with the OOM killer off, KVM's allocations fail with ENOMEM instead of killing the VMM. */
        if (r >= 0 && m->version == MEMCG_V1)
                r = memcg_set_oom_killer(m, false);
        if (r >= 0)
                r = memcg_usage(m, &usage);
        if (r >= 0)
                r = memcg_set_limit(m, usage + headroom);
        if (r < 0) {
                proc_kill_reap(pid);
                return result(ret, VM_OUT_UNAVAILABLE, r, "fail-memcg: setting up %s: %s", m->path, strerror(-r));
        }

        worker_set_phase(w, "vm:create");
        futex_set(&sh->go, 1);
        /*
         * The VMM's own page faults can meet the limit too (a malloc, a stack page): with the OOM
         * killer off they park in the kernel until the group has room. That is not the error path
         * we are after, so a parked VMM gets its limit lifted: at once when the group says it is
         * under OOM (v1), or after MEMCG_STALL_NS without progress.
         */
        {
                uint32_t seen = atomic_load(&sh->progress);
                uint64_t since = now_ns(CLOCK_MONOTONIC), start = since;
                bool lifted = false;

                /* Until it exited, not only until it reported: its way out can fault too. */
                while (proc_alive(pid) && now_ns(CLOCK_MONOTONIC) - start < VMM_TIMEOUT_NS) {
                        bool under_oom = false;

                        if (!lifted) {
                                if (atomic_load(&sh->progress) != seen) {
                                        seen = atomic_load(&sh->progress);
                                        since = now_ns(CLOCK_MONOTONIC);
                                }
                                (void)memcg_under_oom(m, &under_oom);
                                if (under_oom || now_ns(CLOCK_MONOTONIC) - since > MEMCG_STALL_NS) {
                                        (void)memcg_set_limit(m, UINT64_MAX);
                                        lifted = true;
                                        stall = "; the VMM's own page fault met the limit, which was then lifted";
                                }
                        }
                        (void)proc_wait_word(&sh->vmm, atomic_load(&sh->vmm), pid, 2 * NSEC_PER_MSEC);
                }
        }
        r = proc_wait(pid, VMM_TIMEOUT_NS, &status);
        (void)memcg_oom_kills(m, &kills);
        {
                int k = memcg_remove(m);
                if (k < 0)
                        worker_note(w, "could not remove memory cgroup %s: %s", m->path, strerror(-k));
        }

        switch (atomic_load(&sh->vmm)) {
        case VMM_DONE:
                return result(ret, VM_OUT_MEMCG_NO_FAIL, 0,
                              "VM + %u memslots + %u vCPUs + KVM_RUN fit in %" PRIu64 "K above usage%s", sh->slots,
                              sh->vcpus, headroom / 1024, stall);
        case VMM_FAILED:
                /*
                 * ENOMEM is the error path we are after. KVM_RUN may also give up on a guest access
                 * it could not map (EFAULT) or an emulation that could not allocate (an internal
                 * error exit): expected here, and the detail keeps which it was.
                 */
                if (sh->fail.error == -ENOMEM ||
                    (sh->fail.op == KVM_OP_RUN && (sh->fail.error == -EFAULT || sh->fail.error == -EPROTO))) {
                        char d[96];
                        return result(ret, memcg_outcome(sh->fail.op), sh->fail.error,
                                      "%s at a limit %" PRIu64 "K above usage (%u memslots, %u vCPUs made)%s",
                                      kvm_fail_describe(&sh->fail, d, sizeof d), headroom / 1024, sh->slots,
                                      sh->vcpus, stall);
                }
                return result_fail(ret, &sh->fail, sh->why, "VMM in a memory cgroup at its limit");
        default:
                break;
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && kills > 0)
                return result(ret, VM_OUT_MEMCG_OOM_KILL, -ENOMEM,
                              "VMM OOM-killed in its cgroup during %s, limit %" PRIu64 "K above usage",
                              kvm_op_to_string((KvmOp)atomic_load(&sh->op)), headroom / 1024);
        return result(ret, VM_OUT_FAILURE, r < 0 ? r : -EPROTO, "VMM in a memory cgroup %s during %s%s",
                      proc_status_describe(status, buf, sizeof buf),
                      kvm_op_to_string((KvmOp)atomic_load(&sh->op)), stall);
}

/* ---- fail-inject ---- */

#define FAIL_NTH_PATH "/proc/thread-self/fail-nth"

static const KvmOp inject_targets[] = { KVM_OP_CREATE_VM, KVM_OP_SET_USER_MEMORY_REGION, KVM_OP_CREATE_VCPU };

typedef struct Inject {
        VmState *s;
        int error;
} Inject;

/* Makes the nth fault point (slab or page allocation, …) this thread passes from now on fail. */
static void inject_arm(void *userdata)
{
        Inject *in = userdata;
        char b[16];
        int l = snprintf(b, sizeof b, "%u", in->s->inject_nth);

        if (pwrite(in->s->inject_fd, b, (size_t)l, 0) != l)
                in->error = negative_errno();
}

/* 1 if the armed fault fired (fail-nth reads 0), 0 if not; disarms either way. */
static int inject_fired(VmState *s)
{
        char b[16];
        ssize_t k = pread(s->inject_fd, b, sizeof b - 1, 0);
        int r;

        if (k < 0)
                return negative_errno();
        b[k] = '\0';
        r = atoi(b) == 0;
        (void)pwrite(s->inject_fd, "0", 1, 0);
        return r;
}

static int end_fail_inject(Worker *w, const VmParams *p, VmState *s, StepResult *ret)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        KvmOp target = inject_targets[s->inject_target % ELEMENTSOF(inject_targets)];
        Inject in = { .s = s };
        char why[STEP_DETAIL_MAX], e[96];
        int fired, r, fd = -1;

        if (s->inject_fd < 0) {
                s->inject_fd = open(FAIL_NTH_PATH, O_RDWR | O_CLOEXEC);
                if (s->inject_fd < 0 && errno == ENOENT)
                        return result(ret, VM_OUT_UNAVAILABLE, -ENOENT,
                                      "fault injection not available: no " FAIL_NTH_PATH
                                      " (a kernel without CONFIG_FAULT_INJECTION)");
                if (s->inject_fd < 0)
                        return result(ret, VM_OUT_UNAVAILABLE, negative_errno(), "open " FAIL_NTH_PATH ": %m");
        }
        if (s->inject_nth == 0)
                s->inject_nth = 1;

        worker_set_phase(w, "vm:inject");
        guest_load(s->mem, (unsigned)p->vcpus);
        if (target == KVM_OP_CREATE_VM) {
                r = kvm_vm_new_full(-1, inject_arm, &in, &vm);
                fired = in.error < 0 ? in.error : inject_fired(s);
                if (r < 0 && vm->fail.op != KVM_OP_CREATE_VM)
                        return result_fail(ret, &vm->fail, NULL, "before the injected KVM_CREATE_VM");
        } else {
                uint32_t last = (uint32_t)p->memslots - 1;
                uint64_t gpa = last * p->slot_size;

                r = build_vm_n(p, s->mem, 0, &vm, why, sizeof why);
                if (r < 0)
                        return vm ? result_fail(ret, &vm->fail, why, NULL) : result(ret, VM_OUT_ENV_ERROR, r, "out of memory");
                if (target == KVM_OP_SET_USER_MEMORY_REGION) {
                        /* The last slot is set again from scratch, under injection: KVM allocates its memslot anew. */
                        r = kvm_vm_delete_memslot(vm, last);
                        if (r < 0)
                                return result_fail(ret, &vm->fail, NULL, NULL);
                        inject_arm(&in);
                        r = kvm_set_user_memory_region(vm->vm_fd, last, 0, gpa, p->slot_size, s->mem + gpa);
                        fired = in.error < 0 ? in.error : inject_fired(s);
                        /* Register it with the VM object (setting identical values again changes nothing). */
                        if (r >= 0)
                                r = kvm_vm_set_memslot(vm, last, 0, gpa, p->slot_size, s->mem + gpa);
                } else {
                        inject_arm(&in);
                        r = kvm_vm_create_vcpu_raw(vm, &fd);
                        fired = in.error < 0 ? in.error : inject_fired(s);
                        if (r >= 0)
                                r = kvm_vm_adopt_vcpu(vm, fd);
                }
        }
        if (fired < 0)
                return result(ret, VM_OUT_UNAVAILABLE, fired, "fault injection through " FAIL_NTH_PATH " failed: %s",
                              strerror(-fired));

        if (!fired) {
                unsigned swept = s->inject_nth - 1;
                s->inject_target++;
                s->inject_nth = 1;
                if (r < 0)
                        return result_fail(ret, &vm->fail, NULL, "with an unfired fault armed");
                return result(ret, VM_OUT_INJECT_SWEPT, 0, "%s: %u fault points failed one by one%s",
                              kvm_op_to_string(target), swept,
                              swept == 0 ? "; none fired: failslab/fail_page_alloc ignore GFP_KERNEL unless their "
                                           "ignore-gfp-wait is N" : "");
        }
        s->inject_nth++;
        if (r < 0) {
                kvm_error_describe(target, r, e, sizeof e);
                return result(ret, VM_OUT_EFAIL_INJECT, r, "%s at injected fault #%u", e, s->inject_nth - 1);
        }
        /* The ioctl shrugged the failure off: the VM must still work. */
        r = build_vcpus(p->vcpus, vm);
        if (r >= 0)
                r = kvm_vm_run_for(vm, 0);
        if (r < 0)
                return result_fail(ret, &vm->fail, NULL, "after an absorbed injected fault");
        if (account(vm, ret) < 0)
                return 0;
        return result(ret, VM_OUT_INJECT_ABSORBED, 0, "%s succeeded despite injected fault #%u",
                      kvm_op_to_string(target), s->inject_nth - 1);
}

/* ---- the action ---- */

static int vm_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const VmParams *p = params;
        VmState *s = state;
        Prng *prng = worker_prng(w);
        VmEnd end = (VmEnd)p->end.choice[prng_weighted(prng, p->end.weight, p->end.n)];
        uint64_t run_ns = prng_range(prng, p->run.lo, p->run.hi);
        int r;

        if (end == END_CLOSE_WITH_MEMSLOTS)
                end = prng_range(prng, 0, 1) ? END_CLOSE_WITH_MEMSLOTS_VM_FIRST : END_CLOSE_WITH_MEMSLOTS_VCPUS_FIRST;

        r = kvm_ensure_nofile(p->vcpus + VMM_FD_SLACK);
        if (r < 0)
                return result(ret, VM_OUT_ENV_ERROR, r,
                              "VCPUs=%" PRIu64 " needs RLIMIT_NOFILE >= %" PRIu64 ", which could not be raised: %s",
                              p->vcpus, p->vcpus + VMM_FD_SLACK, strerror(-r));

        switch (end) {
        case END_CLOSE:
        case END_CLOSE_WITH_MEMSLOTS_VM_FIRST:
        case END_CLOSE_WITH_MEMSLOTS_VCPUS_FIRST:
                return end_close(w, p, s, end, run_ns, ret);
        case END_SIGKILL:
                return end_sigkill(w, p, s, run_ns, ret);
        case END_SHARED_FD:
                return end_shared_fd(w, p, s, run_ns, ret);
        case END_RECREATE:
                return end_recreate(w, p, s, ret);
        case END_STATS_AFTER_END:
                return end_stats_after_end(w, p, s, run_ns, ret);
        case END_FAIL_VCPU_EMFILE:
                return end_fail_vcpu_emfile(w, p, s, run_ns, ret);
        case END_FAIL_MEMCG:
                return end_fail_memcg(w, p, s, ret);
        case END_FAIL_INJECT:
                return end_fail_inject(w, p, s, ret);
        default:
                return -EINVAL;
        }
}

static int vm_worker_init(Worker *w, const void *params, void **ret)
{
        const VmParams *p = params;
        VmState *s;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->inject_fd = -1;
        /*
         * Host memory for every memslot, allocated once and reused by every VM of this worker:
         * MAP_SHARED so a VMM child's guest writes (its loop counters) are visible here, and
         * NORESERVE because only what the guest touches is ever backed.
         */
        s->mem_len = (size_t)(p->memslots * p->slot_size);
        s->mem = mmap(NULL, s->mem_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        s->shared = mmap(NULL, sizeof(VmShared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        s->pairs = mmap(NULL, PAIRS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s->mem == MAP_FAILED || s->shared == MAP_FAILED || s->pairs == MAP_FAILED) {
                int r = negative_errno();
                if (s->mem != MAP_FAILED)
                        munmap(s->mem, s->mem_len);
                if (s->shared != MAP_FAILED)
                        munmap(s->shared, sizeof(VmShared));
                if (s->pairs != MAP_FAILED)
                        munmap(s->pairs, PAIRS_SIZE);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static void vm_worker_done(Worker *w, const void *params, void *state)
{
        VmState *s = state;

        if (!s)
                return;
        munmap(s->mem, s->mem_len);
        munmap(s->shared, sizeof(VmShared));
        munmap(s->pairs, PAIRS_SIZE);
        kvm_stats_schema_free(s->vm_schema);
        kvm_stats_schema_free(s->vcpu_schema);
        free(s->vm_stats);
        free(s->vcpu_stats);
        safe_close(s->inject_fd);
        free(s);
}

static int vm_validate(void *params, const char *file, const char *section, unsigned line, ConfErrors *errs)
{
        VmParams *p = params;
        char b[32];

        if (p->slot_size % 4096 != 0)
                return conf_error(errs, file, line, section, "SlotSize", format_size(b, sizeof b, p->slot_size),
                                  "must be a multiple of 4K (the page size)");
        /* Slots sit back to back from GPA 0: keep the top below any x86-64 host's physical address width. */
        if (p->memslots * p->slot_size > (1ULL << 40))
                return conf_error(errs, file, line, section, "MemorySlots", NULL,
                                  "MemorySlots × SlotSize is %" PRIu64 " GiB; at most 1024 GiB of guest memory",
                                  p->memslots * p->slot_size >> 30);
        return 0;
}

static void vm_describe(const void *params, FILE *f)
{
        const VmParams *p = params;
        char a[32], b[32], c[32];

        fprintf(f, "VM with %" PRIu64 " vCPU%s and %" PRIu64 " memslot%s of %s, guest runs %s..%s, ends by", p->vcpus,
                p->vcpus == 1 ? "" : "s", p->memslots, p->memslots == 1 ? "" : "s",
                format_size(c, sizeof c, p->slot_size), format_duration(a, sizeof a, p->run.lo),
                format_duration(b, sizeof b, p->run.hi));
        for (unsigned i = 0; i < p->end.n; i++) {
                fprintf(f, " %s:%u", vm_end_names[p->end.choice[i]], p->end.weight[i]);
                if (p->end.choice[i] == END_RECREATE)
                        fprintf(f, "(%" PRIu64 " VMs)", p->recreate);
                if (p->end.choice[i] == END_SHARED_FD && p->shared_fd_pairs > 1)
                        fprintf(f, "(%" PRIu64 " races)", p->shared_fd_pairs);
        }
        if (!p->stats)
                fputs(", no stats sampling", f);
}

static int vm_check_host(const void *params, char **reason)
{
        const VmParams *p = params;
        KvmCaps caps;
        KvmFail f = {};
        char why[STEP_DETAIL_MAX];
        int r;

        r = kvm_caps_probe(&caps, &f);
        if (r < 0) {
                if (f.op == KVM_OP_OPEN && r == -ENOENT)
                        r = asprintf(reason, "%s does not exist: KVM is not loaded (modprobe kvm_intel or kvm_amd) "
                                     "or virtualization is off in the firmware", KVM_DEVICE_PATH) < 0 ? -ENOMEM : r;
                else if (f.op == KVM_OP_OPEN && (r == -EACCES || r == -EPERM))
                        r = asprintf(reason, "%s: permission denied: run as root or as a member of the kvm group",
                                     KVM_DEVICE_PATH) < 0 ? -ENOMEM : r;
                else if (f.op == KVM_OP_OPEN && kvm_error_is_gone(r))
                        r = asprintf(reason, "%s exists but no KVM driver answers (%s): the module is not loaded",
                                     KVM_DEVICE_PATH, strerror(-r)) < 0 ? -ENOMEM : r;
                else
                        r = asprintf(reason, "%s", kvm_fail_describe(&f, why, sizeof why)) < 0 ? -ENOMEM : r;
                return r;
        }
        r = check_limits(p, &caps, why, sizeof why);
        if (r < 0)
                return asprintf(reason, "%s", why) < 0 ? -ENOMEM : r;
        return 0;
}

const ActionType action_vm = {
        .name = "vm",
        .summary = "create a VM with memslots and vCPUs on /dev/kvm, run a tiny guest, end it (abruptly)",
        .flags = ACTION_ACTOR | ACTION_NEEDS_KVM,
        .keys = vm_keys,
        .params_size = sizeof(VmParams),
        .outcomes = vm_outcomes,
        .n_outcomes = _VM_OUT_MAX,
        .metrics = vm_metrics,
        .phases = vm_phases,
        .validate = vm_validate,
        .describe = vm_describe,
        .check_host = vm_check_host,
        .worker_init = vm_worker_init,
        .step = vm_step,
        .worker_done = vm_worker_done,
};
