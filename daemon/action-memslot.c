/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=memslot: memslot updates against running vCPUs. Each step makes a
 * VM whose VCPUs= vCPUs run the guest in TOUCH mode — it writes across a
 * window of guest-physical memory above 1 MiB, slot after slot — while
 * this thread creates, moves and deletes MemorySlots= memslots inside that
 * window, toggles dirty logging on them and reads their dirty logs, for
 * Run= long. A touch of a GPA whose slot is gone or moved away is a
 * KVM_EXIT_MMIO the vCPU threads answer; every exit is counted.
 *
 * The window has twice as many slot-sized positions as there are slots, so
 * a move always has somewhere to go. At the end the vCPUs stop and vCPU 0
 * runs one more full touch loop with a marker value: every touch must land
 * in the host memory of the slot now at that GPA, and every touch of an
 * empty position must be an MMIO exit. A mismatch is KVM mapping a GPA to
 * the wrong memory after the churn — a failure.
 */
#include <stddef.h>
#include <sys/mman.h>

#include "action.h"
#include "kvm-vm.h"

typedef enum MemslotOp {
        OP_CREATE,
        OP_MOVE,
        OP_DELETE,
        OP_DIRTY_ON,
        OP_DIRTY_OFF,
        OP_GET_DIRTY_LOG,
        _OP_MAX,
} MemslotOp;

static const char *const op_names[_OP_MAX + 1] = {
        [OP_CREATE] = "create",
        [OP_MOVE] = "move",
        [OP_DELETE] = "delete",
        [OP_DIRTY_ON] = "dirty-log-on",
        [OP_DIRTY_OFF] = "dirty-log-off",
        [OP_GET_DIRTY_LOG] = "get-dirty-log",
        NULL,
};

typedef struct MemslotParams {
        uint64_t vcpus;
        uint64_t memslots;
        uint64_t slot_size;
        uint64_t stride;
        Range run;
        Range op_interval;
        Weighted ops;
} MemslotParams;

enum { MS_OUT_CHURNED, MS_OUT_KVM_GONE, MS_OUT_ENV_ERROR, MS_OUT_FAILURE, _MS_OUT_MAX };

static const Outcome memslot_outcomes[_MS_OUT_MAX] = {
        [MS_OUT_CHURNED] = { "churned", OUTCOME_OK,
                             "memslots changed under running vCPUs; every guest write landed where it should" },
        [MS_OUT_KVM_GONE] = { "kvm-gone", OUTCOME_EXPECTED, "/dev/kvm is gone (module unloaded)" },
        [MS_OUT_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR,
                               "the host refused a resource (ENOMEM, EMFILE, ENOSPC, a KVM limit)" },
        [MS_OUT_FAILURE] = { "failure", OUTCOME_FAILURE,
                             "a memslot ioctl failed where it should not, or a guest write went astray" },
};

enum { M_OPS, M_CREATES, M_MOVES, M_DELETES, M_DIRTY_TOGGLES, M_DIRTY_PAGES, M_EXITS, M_MMIO_EXITS, _M_MAX };

static const char *const memslot_metrics[_M_MAX + 1] = {
        [M_OPS] = "ops",
        [M_CREATES] = "creates",
        [M_MOVES] = "moves",
        [M_DELETES] = "deletes",
        [M_DIRTY_TOGGLES] = "dirty_log_toggles",
        [M_DIRTY_PAGES] = "dirty_pages",
        [M_EXITS] = "exits",
        [M_MMIO_EXITS] = "mmio_exits",
        NULL,
};

_Static_assert(_M_MAX <= ACTION_METRICS_MAX, "too many metrics");

static const char *const memslot_phases[] = { "memslot:create", "memslot:churn", "memslot:verify", "memslot:close",
                                              NULL };

/* Slot 0: the guest's control block, code and counters. */
#define SLOT0_SIZE (64 * 1024)
#define WINDOW_MIN_GPA (1ULL << 20)
#define MARKER 0x5a5a0000U

static const KeySpec memslot_keys[] = {
        { "VCPUs", KEY_UINT, offsetof(MemslotParams, vcpus), "2", 1, 64, NULL,
          "vCPUs touching guest memory while the slots change" },
        { "MemorySlots", KEY_UINT, offsetof(MemslotParams, memslots), "8", 1, GUEST_RANGES_MAX * 1024, NULL,
          "slots being churned (besides the guest's own slot 0)" },
        { "SlotSize", KEY_SIZE, offsetof(MemslotParams, slot_size), "256K", 4096, 256ULL << 20, NULL,
          "size of each churned slot, a multiple of 4K" },
        { "TouchStride", KEY_SIZE, offsetof(MemslotParams, stride), "16K", 4096, 256ULL << 20, NULL,
          "the guest writes once every this many bytes of the window, a multiple of 4K" },
        { "Run", KEY_RANGE, offsetof(MemslotParams, run), "20ms..100ms", 0, 60 * NSEC_PER_SEC, NULL,
          "how long a step churns slots under the running vCPUs" },
        { "OpInterval", KEY_RANGE, offsetof(MemslotParams, op_interval), "0..200us", 0, NSEC_PER_SEC, NULL,
          "pause between two memslot operations" },
        { "Ops", KEY_WEIGHTED, offsetof(MemslotParams, ops), "create move delete dirty-log-on dirty-log-off get-dirty-log",
          1, 0, op_names, "memslot operations to draw from, WORD[:WEIGHT]" },
        {}
};

typedef struct Slot {
        bool present;
        bool dirty_log;
        unsigned pos; /* position in the window while present */
} Slot;

typedef struct MemslotState {
        uint8_t *mem; /* slot 0, then the host memory of each churned slot */
        size_t mem_len;
        Slot *slots;      /* [memslots], slot id = index + 1 */
        int *owner;       /* [positions]: index of the slot there, or -1 */
        uint64_t *bitmap; /* a dirty log buffer for one slot */
} MemslotState;

static uint64_t window_base(const MemslotParams *p)
{
        uint64_t base = MAX(WINDOW_MIN_GPA, p->slot_size);
        return (base + p->slot_size - 1) / p->slot_size * p->slot_size;
}

static unsigned positions(const MemslotParams *p)
{
        return (unsigned)(2 * p->memslots);
}

static uint8_t *slot_hva(const MemslotParams *p, MemslotState *s, unsigned i)
{
        return s->mem + SLOT0_SIZE + (size_t)i * p->slot_size;
}

static uint64_t pos_gpa(const MemslotParams *p, unsigned pos)
{
        return window_base(p) + (uint64_t)pos * p->slot_size;
}

static int result(StepResult *ret, unsigned outcome, int error, const char *detail)
{
        ret->outcome = outcome;
        ret->error = error;
        if (detail)
                snprintf(ret->detail, sizeof ret->detail, "%s", detail);
        return 0;
}

static int result_fail(StepResult *ret, const KvmFail *f, const char *context)
{
        char buf[96], d[STEP_DETAIL_MAX];
        unsigned o = MS_OUT_FAILURE;

        if (f->op == KVM_OP_OPEN && kvm_error_is_gone(f->error))
                o = MS_OUT_KVM_GONE;
        else if (kvm_error_is_env(f->error))
                o = MS_OUT_ENV_ERROR;
        kvm_fail_describe(f, buf, sizeof buf);
        snprintf(d, sizeof d, "%s%s%s", strempty(context), context ? ": " : "", buf);
        return result(ret, o, f->error, d);
}

/* Whether op can be done now; the draw is over the ops that can. */
static bool op_possible(const MemslotParams *p, const MemslotState *s, MemslotOp op)
{
        unsigned present = 0, logging = 0;

        for (uint64_t i = 0; i < p->memslots; i++) {
                present += s->slots[i].present;
                logging += s->slots[i].present && s->slots[i].dirty_log;
        }
        switch (op) {
        case OP_CREATE:
                return present < p->memslots;
        case OP_MOVE:
        case OP_DELETE:
                return present > 0;
        case OP_DIRTY_ON:
                return present > logging;
        case OP_DIRTY_OFF:
        case OP_GET_DIRTY_LOG:
                return logging > 0;
        default:
                return false;
        }
}

/* A random slot (index) matching want_present and, if want_log >= 0, the logging state. */
static int pick_slot(Prng *prng, const MemslotParams *p, const MemslotState *s, bool want_present, int want_log)
{
        unsigned n = 0, k;

        for (uint64_t i = 0; i < p->memslots; i++)
                if (s->slots[i].present == want_present && (want_log < 0 || s->slots[i].dirty_log == (bool)want_log))
                        n++;
        if (n == 0)
                return -1;
        k = (unsigned)prng_range(prng, 0, n - 1);
        for (uint64_t i = 0; i < p->memslots; i++)
                if (s->slots[i].present == want_present && (want_log < 0 || s->slots[i].dirty_log == (bool)want_log) &&
                    k-- == 0)
                        return (int)i;
        return -1;
}

static unsigned pick_free_pos(Prng *prng, const MemslotParams *p, const MemslotState *s)
{
        unsigned n = 0, k;

        for (unsigned i = 0; i < positions(p); i++)
                n += s->owner[i] < 0;
        /* There are twice as many positions as slots: never none. */
        k = (unsigned)prng_range(prng, 0, n - 1);
        for (unsigned i = 0; i < positions(p); i++)
                if (s->owner[i] < 0 && k-- == 0)
                        return i;
        return 0;
}

static int set_slot(KvmVm *vm, const MemslotParams *p, MemslotState *s, unsigned i, unsigned pos, bool log)
{
        return kvm_vm_set_memslot(vm, i + 1, log ? KVM_MEM_LOG_DIRTY_PAGES : 0, pos_gpa(p, pos), p->slot_size,
                                  slot_hva(p, s, i));
}

/* One drawn operation. Returns negative with vm->fail set when KVM refused it. */
static int do_op(Worker *w, const MemslotParams *p, MemslotState *s, KvmVm *vm, StepResult *ret)
{
        Prng *prng = worker_prng(w);
        uint32_t weights[WEIGHTED_MAX] = {};
        unsigned any = 0, k;
        MemslotOp op;
        int i, r;

        for (unsigned j = 0; j < p->ops.n; j++)
                if (op_possible(p, s, (MemslotOp)p->ops.choice[j])) {
                        weights[j] = p->ops.weight[j];
                        any++;
                }
        if (!any) /* e.g. only get-dirty-log asked for and no slot logs yet: make one */
                op = op_possible(p, s, OP_DIRTY_ON) ? OP_DIRTY_ON : OP_CREATE;
        else
                op = (MemslotOp)p->ops.choice[prng_weighted(prng, weights, p->ops.n)];

        switch (op) {
        case OP_CREATE: {
                unsigned pos = pick_free_pos(prng, p, s);
                i = pick_slot(prng, p, s, false, -1);
                r = set_slot(vm, p, s, (unsigned)i, pos, false);
                if (r < 0)
                        return r;
                s->slots[i] = (Slot){ .present = true, .pos = pos };
                s->owner[pos] = i;
                ret->metrics[M_CREATES]++;
                break;
        }
        case OP_MOVE: {
                unsigned pos = pick_free_pos(prng, p, s);
                i = pick_slot(prng, p, s, true, -1);
                /* Same slot id, size and memory, another GPA: KVM_MR_MOVE. */
                r = set_slot(vm, p, s, (unsigned)i, pos, s->slots[i].dirty_log);
                if (r < 0)
                        return r;
                s->owner[s->slots[i].pos] = -1;
                s->slots[i].pos = pos;
                s->owner[pos] = i;
                ret->metrics[M_MOVES]++;
                break;
        }
        case OP_DELETE:
                i = pick_slot(prng, p, s, true, -1);
                r = kvm_vm_delete_memslot(vm, (uint32_t)i + 1);
                if (r < 0)
                        return r;
                s->owner[s->slots[i].pos] = -1;
                s->slots[i] = (Slot){};
                ret->metrics[M_DELETES]++;
                break;
        case OP_DIRTY_ON:
        case OP_DIRTY_OFF:
                i = pick_slot(prng, p, s, true, op == OP_DIRTY_OFF);
                r = set_slot(vm, p, s, (unsigned)i, s->slots[i].pos, op == OP_DIRTY_ON);
                if (r < 0)
                        return r;
                s->slots[i].dirty_log = op == OP_DIRTY_ON;
                ret->metrics[M_DIRTY_TOGGLES]++;
                break;
        case OP_GET_DIRTY_LOG: {
                uint64_t pages = p->slot_size / 4096, n = 0;
                i = pick_slot(prng, p, s, true, true);
                memset(s->bitmap, 0, (pages + 63) / 64 * 8);
                r = kvm_get_dirty_log(vm->vm_fd, (uint32_t)i + 1, s->bitmap);
                if (r < 0) {
                        vm->fail = (KvmFail){ .op = KVM_OP_GET_DIRTY_LOG, .error = r, .index = (unsigned)i + 1 };
                        return r;
                }
                for (k = 0; k < (pages + 63) / 64; k++)
                        n += (uint64_t)__builtin_popcountll(s->bitmap[k]);
                if (n > pages) {
                        vm->fail = (KvmFail){ .op = KVM_OP_GET_DIRTY_LOG, .error = -EPROTO, .index = (unsigned)i + 1 };
                        return -EPROTO;
                }
                ret->metrics[M_DIRTY_PAGES] += n;
                break;
        }
        default:
                return -EINVAL;
        }
        ret->metrics[M_OPS]++;
        return 0;
}

/* Runs vCPU 0 until its next IO exit (the end of a touch loop), counting MMIO exits on the way. */
static int run_to_loop_end(KvmVm *vm, uint64_t *ret_mmio)
{
        KvmVcpu *c = &vm->vcpus[0];
        uint64_t mmio = c->mmio_exits;

        for (unsigned n = 0; n < 1000000; n++) {
                int r = kvm_vm_run_vcpu(vm, 0, 1);
                if (r < 0)
                        return r;
                if (c->run->exit_reason == KVM_EXIT_IO) {
                        *ret_mmio = c->mmio_exits - mmio;
                        return 0;
                }
        }
        return -ETIMEDOUT;
}

/*
 * One full touch loop with a marker: each touch of a present slot must land
 * in that slot's memory, each touch of an empty position must exit as MMIO.
 */
static int verify(const MemslotParams *p, MemslotState *s, KvmVm *vm, StepResult *ret)
{
        uint64_t base = window_base(p), end = pos_gpa(p, positions(p)), mmio = 0, expect_mmio = 0;
        int r;

        atomic_store(&vm->stop, true);
        r = run_to_loop_end(vm, &mmio); /* finish the loop the stop interrupted */
        if (r >= 0) {
                *guest_counter(s->mem, 0) = MARKER;
                r = run_to_loop_end(vm, &mmio);
        }
        if (r < 0)
                return result_fail(ret, vm->fail.op != KVM_OP_NONE ? &vm->fail : &vm->vcpus[0].fail, "verifying after the churn"), -1;

        for (uint64_t gpa = base; gpa < end; gpa += p->stride) {
                unsigned pos = (unsigned)((gpa - base) / p->slot_size);
                int i = s->owner[pos];
                uint32_t v;

                if (i < 0) {
                        expect_mmio++;
                        continue;
                }
                memcpy(&v, slot_hva(p, s, (unsigned)i) + (gpa - pos_gpa(p, pos)), sizeof v);
                if (v != MARKER) {
                        char d[STEP_DETAIL_MAX];
                        snprintf(d, sizeof d,
                                 "after the churn, the guest's write to GPA 0x%" PRIx64 " (slot %d) did not reach its "
                                 "memory (found 0x%x)", gpa, i + 1, v);
                        return result(ret, MS_OUT_FAILURE, -EPROTO, d), -1;
                }
        }
        if (mmio != expect_mmio) {
                char d[STEP_DETAIL_MAX];
                snprintf(d, sizeof d, "after the churn, %" PRIu64 " MMIO exits for %" PRIu64 " touches of empty GPAs",
                         mmio, expect_mmio);
                return result(ret, MS_OUT_FAILURE, -EPROTO, d), -1;
        }
        return 0;
}

static int memslot_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const MemslotParams *p = params;
        MemslotState *s = state;
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        uint64_t run_ns = prng_range(worker_prng(w), p->run.lo, p->run.hi), deadline;
        GuestCtrl *ctrl = guest_ctrl(s->mem);
        char d[STEP_DETAIL_MAX];
        int r;

        for (uint64_t i = 0; i < p->memslots; i++)
                s->slots[i] = (Slot){};
        for (unsigned i = 0; i < positions(p); i++)
                s->owner[i] = -1;

        worker_set_phase(w, "memslot:create");
        guest_load(s->mem, (unsigned)p->vcpus);
        ctrl->stride = (uint32_t)p->stride;
        ctrl->ranges[0] = (GuestRange){ .base = (uint32_t)window_base(p),
                                        .len = (uint32_t)(pos_gpa(p, positions(p)) - window_base(p)) };
        ctrl->n_ranges = 1;
        guest_set_mode(s->mem, GUEST_MODE_TOUCH);

        r = kvm_vm_new(&vm);
        if (r < 0)
                return vm ? result_fail(ret, &vm->fail, NULL) : result(ret, MS_OUT_ENV_ERROR, r, "out of memory");
        if (p->memslots + 1 > (uint64_t)vm->caps.nr_memslots) {
                snprintf(d, sizeof d, "MemorySlots=%" PRIu64 " (+ the guest's slot 0) exceeds this host's KVM_CAP_NR_MEMSLOTS=%d",
                         p->memslots, vm->caps.nr_memslots);
                return result(ret, MS_OUT_ENV_ERROR, -E2BIG, d);
        }
        r = kvm_vm_set_memslot(vm, 0, 0, 0, SLOT0_SIZE, s->mem);
        /* Half the slots present at the start, each at a random free position. */
        for (uint64_t i = 0; r >= 0 && i < (p->memslots + 1) / 2; i++) {
                unsigned pos = pick_free_pos(worker_prng(w), p, s);
                r = set_slot(vm, p, s, (unsigned)i, pos, false);
                if (r >= 0) {
                        s->slots[i] = (Slot){ .present = true, .pos = pos };
                        s->owner[pos] = (int)i;
                }
        }
        while (r >= 0 && vm->n_vcpus < p->vcpus)
                r = kvm_vm_add_vcpu(vm);
        if (r >= 0)
                r = kvm_vm_start_threads(vm, 0);
        if (r < 0)
                return result_fail(ret, &vm->fail, "setting up");

        worker_set_phase(w, "memslot:churn");
        deadline = now_ns(CLOCK_MONOTONIC) + run_ns;
        do {
                r = do_op(w, p, s, vm, ret);
                if (r < 0) {
                        (void)kvm_vm_stop_threads(vm);
                        return result_fail(ret, &vm->fail, "churn");
                }
                if (p->op_interval.hi)
                        sleep_ns(prng_range(worker_prng(w), p->op_interval.lo, p->op_interval.hi));
        } while (now_ns(CLOCK_MONOTONIC) < deadline && !worker_should_stop(w));

        r = kvm_vm_stop_threads(vm);
        if (r < 0) {
                ret->metrics[M_EXITS] += kvm_vm_exits(vm);
                ret->metrics[M_MMIO_EXITS] += kvm_vm_mmio_exits(vm);
                return result_fail(ret, &vm->fail, "a vCPU during the churn");
        }

        worker_set_phase(w, "memslot:verify");
        r = verify(p, s, vm, ret);
        /* The verification loops count too: at least one touch of an empty GPA and one OUT each. */
        ret->metrics[M_EXITS] += kvm_vm_exits(vm);
        ret->metrics[M_MMIO_EXITS] += kvm_vm_mmio_exits(vm);
        if (r < 0)
                return 0;
        worker_set_phase(w, "memslot:close");
        vm = kvm_vm_free(vm);
        return result(ret, MS_OUT_CHURNED, 0, NULL);
}

static int memslot_worker_init(Worker *w, const void *params, void **ret)
{
        const MemslotParams *p = params;
        MemslotState *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        s->mem_len = SLOT0_SIZE + (size_t)(p->memslots * p->slot_size);
        s->mem = mmap(NULL, s->mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        s->slots = calloc(p->memslots, sizeof *s->slots);
        s->owner = calloc(positions(p), sizeof *s->owner);
        s->bitmap = calloc((p->slot_size / 4096 + 63) / 64, sizeof(uint64_t));
        if (s->mem == MAP_FAILED || !s->slots || !s->owner || !s->bitmap) {
                if (s->mem != MAP_FAILED)
                        munmap(s->mem, s->mem_len);
                free(s->slots);
                free(s->owner);
                free(s->bitmap);
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static void memslot_worker_done(Worker *w, const void *params, void *state)
{
        MemslotState *s = state;

        if (!s)
                return;
        munmap(s->mem, s->mem_len);
        free(s->slots);
        free(s->owner);
        free(s->bitmap);
        free(s);
}

static int memslot_validate(void *params, const char *file, const char *section, unsigned line, ConfErrors *errs)
{
        MemslotParams *p = params;
        char b[32];

        if (p->slot_size % 4096)
                return conf_error(errs, file, line, section, "SlotSize", format_size(b, sizeof b, p->slot_size),
                                  "must be a multiple of 4K (the page size)");
        if (p->stride % 4096)
                return conf_error(errs, file, line, section, "TouchStride", format_size(b, sizeof b, p->stride),
                                  "must be a multiple of 4K");
        /* The 32-bit guest reaches GPAs below 4 GiB; the window has 2 × MemorySlots positions. */
        if (window_base(p) + 2 * p->memslots * p->slot_size > (3ULL << 30))
                return conf_error(errs, file, line, section, "MemorySlots", NULL,
                                  "2 × MemorySlots × SlotSize must stay below 3 GiB (the guest is 32-bit)");
        return 0;
}

static void memslot_describe(const void *params, FILE *f)
{
        const MemslotParams *p = params;
        char a[32], b[32], c[32], d[32];

        fprintf(f, "%" PRIu64 " vCPU%s touch a %s window while %" PRIu64 " memslots of %s churn for %s..%s:",
                p->vcpus, p->vcpus == 1 ? "" : "s",
                format_size(d, sizeof d, 2 * p->memslots * p->slot_size), p->memslots,
                format_size(a, sizeof a, p->slot_size), format_duration(b, sizeof b, p->run.lo),
                format_duration(c, sizeof c, p->run.hi));
        for (unsigned i = 0; i < p->ops.n; i++)
                fprintf(f, " %s:%u", op_names[p->ops.choice[i]], p->ops.weight[i]);
}

static int memslot_check_host(const void *params, char **reason)
{
        const MemslotParams *p = params;
        KvmCaps caps;
        KvmFail f = {};
        char buf[STEP_DETAIL_MAX];
        int r;

        r = kvm_caps_probe(&caps, &f);
        if (r < 0)
                return asprintf(reason, "%s", kvm_fail_describe(&f, buf, sizeof buf)) < 0 ? -ENOMEM : r;
        if (p->memslots + 1 > (uint64_t)caps.nr_memslots)
                return asprintf(reason, "MemorySlots=%" PRIu64 " (+ slot 0) exceeds this host's KVM_CAP_NR_MEMSLOTS=%d",
                                p->memslots, caps.nr_memslots) < 0 ? -ENOMEM : -E2BIG;
        if (p->vcpus > (uint64_t)caps.max_vcpus)
                return asprintf(reason, "VCPUs=%" PRIu64 " exceeds this host's KVM_CAP_MAX_VCPUS=%d", p->vcpus,
                                caps.max_vcpus) < 0 ? -ENOMEM : -E2BIG;
        return 0;
}

const ActionType action_memslot = {
        .name = "memslot",
        .summary = "create, move, delete memslots and toggle dirty logging while vCPUs touch guest memory",
        .flags = ACTION_ACTOR | ACTION_NEEDS_KVM,
        .keys = memslot_keys,
        .params_size = sizeof(MemslotParams),
        .outcomes = memslot_outcomes,
        .n_outcomes = _MS_OUT_MAX,
        .metrics = memslot_metrics,
        .phases = memslot_phases,
        .validate = memslot_validate,
        .describe = memslot_describe,
        .check_host = memslot_check_host,
        .worker_init = memslot_worker_init,
        .step = memslot_step,
        .worker_done = memslot_worker_done,
};
