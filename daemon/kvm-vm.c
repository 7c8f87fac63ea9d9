/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The minimal VMM behind the vm and memslot actions. Kept deliberately
 * small: the scenarios differ in the order and the process in which these
 * steps happen, not in the steps themselves.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "kvm-vm.h"

/* vCPU threads do nothing but KVM_RUN and count exits: a small stack is plenty, even under ASan. */
#define VCPU_THREAD_STACK (256 * 1024)

void guest_load(void *slot0, unsigned n_vcpus)
{
        GuestCtrl *c = guest_ctrl(slot0);
        size_t code_len = (size_t)(hvt_guest_code_end - hvt_guest_code);

        c->mode = GUEST_MODE_EXIT;
        c->stride = 4096;
        c->n_ranges = 0;
        memcpy((uint8_t *)slot0 + GUEST_CODE, hvt_guest_code, code_len);
        memset((uint8_t *)slot0 + GUEST_COUNTERS, 0, 4 * (size_t)MAX(n_vcpus, 1U));
        __atomic_thread_fence(__ATOMIC_RELEASE);
}

char *kvm_fail_describe(const KvmFail *f, char *buf, size_t len)
{
        char e[96];

        if (f->error == -EPROTO && f->op == KVM_OP_RUN && f->exit_reason == KVM_EXIT_INTERNAL_ERROR)
                snprintf(buf, len, "vCPU %u: unexpected KVM_EXIT_INTERNAL_ERROR (suberror %u)", f->index,
                         f->suberror);
        else if (f->error == -EPROTO && f->op == KVM_OP_RUN)
                snprintf(buf, len, "vCPU %u: unexpected %s", f->index, kvm_exit_reason_to_string(f->exit_reason));
        else if (f->op == KVM_OP_CREATE_VCPU || f->op == KVM_OP_RUN || f->op == KVM_OP_MMAP_RUN ||
                 f->op == KVM_OP_GET_SREGS || f->op == KVM_OP_SET_SREGS || f->op == KVM_OP_SET_REGS ||
                 f->op == KVM_OP_THREAD)
                snprintf(buf, len, "%s (vCPU %u)", kvm_error_describe(f->op, f->error, e, sizeof e), f->index);
        else if (f->op == KVM_OP_SET_USER_MEMORY_REGION || f->op == KVM_OP_GET_DIRTY_LOG)
                snprintf(buf, len, "%s (slot %u)", kvm_error_describe(f->op, f->error, e, sizeof e), f->index);
        else
                kvm_error_describe(f->op, f->error, buf, len);
        return buf;
}

static int fail_set(KvmFail *f, KvmOp op, int error, unsigned index)
{
        if (f->op == KVM_OP_NONE)
                *f = (KvmFail){ .op = op, .error = error, .index = index };
        return error;
}

int kvm_caps_read(int kvm_fd, KvmCaps *ret, KvmFail *fail)
{
        KvmCaps c = {};
        int r;

        r = kvm_get_api_version(kvm_fd);
        if (r < 0)
                return fail_set(fail, KVM_OP_GET_API_VERSION, r, 0);
        if (r != KVM_API_VERSION)
                return fail_set(fail, KVM_OP_GET_API_VERSION, -EPROTONOSUPPORT, 0);
        c.api_version = r;

        r = kvm_check_extension(kvm_fd, KVM_CAP_MAX_VCPUS);
        if (r < 0)
                return fail_set(fail, KVM_OP_CHECK_EXTENSION, r, 0);
        /* Documented fallback: without the cap, KVM_CAP_NR_VCPUS is the limit; without that, 4. */
        if (r == 0)
                r = kvm_check_extension(kvm_fd, KVM_CAP_NR_VCPUS);
        c.max_vcpus = r > 0 ? r : 4;
        r = kvm_check_extension(kvm_fd, KVM_CAP_MAX_VCPU_ID);
        c.max_vcpu_id = r > 0 ? r : c.max_vcpus;
        r = kvm_check_extension(kvm_fd, KVM_CAP_NR_MEMSLOTS);
        if (r < 0)
                return fail_set(fail, KVM_OP_CHECK_EXTENSION, r, 0);
        c.nr_memslots = r > 0 ? r : 32;
        r = kvm_get_vcpu_mmap_size(kvm_fd);
        if (r < 0)
                return fail_set(fail, KVM_OP_GET_VCPU_MMAP_SIZE, r, 0);
        c.run_size = r;
        *ret = c;
        return 0;
}

int kvm_caps_probe(KvmCaps *ret, KvmFail *fail)
{
        _cleanup_close_ int fd = -1;
        int r;

        r = kvm_open(&fd);
        if (r < 0)
                return fail_set(fail, KVM_OP_OPEN, r, 0);
        return kvm_caps_read(fd, ret, fail);
}

int kvm_vm_new_full(int kvm_fd, void (*before_create)(void *userdata), void *userdata, KvmVm **ret)
{
        _cleanup_close_ int own_fd = -1;
        KvmVm *vm;
        int r;

        vm = calloc(1, sizeof *vm);
        if (!vm)
                return -ENOMEM;
        vm->vm_fd = -1;
        *ret = vm;

        if (kvm_fd < 0) {
                r = kvm_open(&own_fd);
                if (r < 0)
                        return fail_set(&vm->fail, KVM_OP_OPEN, r, 0);
                kvm_fd = own_fd;
        }
        r = kvm_caps_read(kvm_fd, &vm->caps, &vm->fail);
        if (r < 0)
                return r;
        if (before_create)
                before_create(userdata);
        r = kvm_create_vm(kvm_fd, &vm->vm_fd);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_CREATE_VM, r, 0);
        return 0;
}

int kvm_vm_new(KvmVm **ret)
{
        return kvm_vm_new_full(-1, NULL, NULL, ret);
}

static void vcpu_close(KvmVcpu *c, size_t run_size)
{
        if (c->run) {
                (void)munmap(c->run, run_size);
                c->run = NULL;
        }
        c->fd = safe_close(c->fd);
}

KvmVm *kvm_vm_free(KvmVm *vm)
{
        if (!vm)
                return NULL;
        (void)kvm_vm_stop_threads(vm);
        kvm_vm_close_vcpus(vm);
        kvm_vm_close_vm_fd(vm);
        free(vm->vcpus);
        free(vm->slots);
        free(vm);
        return NULL;
}

int kvm_vm_set_memslot(KvmVm *vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *hva)
{
        int r;

        r = kvm_set_user_memory_region(vm->vm_fd, slot, flags, gpa, size, hva);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_SET_USER_MEMORY_REGION, r, slot);
        if (gpa == 0 && size > 0)
                vm->slot0 = hva;
        for (unsigned i = 0; i < vm->n_slots; i++)
                if (vm->slots[i] == slot)
                        return 0;
        if (vm->n_slots == vm->cap_slots) {
                unsigned n = MAX(8U, vm->cap_slots * 2);
                uint32_t *p = realloc(vm->slots, n * sizeof *p);
                if (!p)
                        return -ENOMEM;
                vm->slots = p;
                vm->cap_slots = n;
        }
        vm->slots[vm->n_slots++] = slot;
        return 0;
}

int kvm_vm_delete_memslot(KvmVm *vm, uint32_t slot)
{
        int r;

        r = kvm_set_user_memory_region(vm->vm_fd, slot, 0, 0, 0, NULL);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_SET_USER_MEMORY_REGION, r, slot);
        for (unsigned i = 0; i < vm->n_slots; i++)
                if (vm->slots[i] == slot) {
                        vm->slots[i] = vm->slots[--vm->n_slots];
                        break;
                }
        return 0;
}

int kvm_vm_delete_memslots(KvmVm *vm)
{
        while (vm->n_slots > 0) {
                int r = kvm_vm_delete_memslot(vm, vm->slots[vm->n_slots - 1]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int kvm_vm_create_vcpu_raw(KvmVm *vm, int *ret_fd)
{
        int r = kvm_create_vcpu(vm->vm_fd, vm->n_vcpus, ret_fd);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_CREATE_VCPU, r, vm->n_vcpus);
        return 0;
}

/* 32-bit protected mode, flat 4 GiB segments, paging off: the guest addresses GPAs directly. */
static void sregs_flat32(struct kvm_sregs *s)
{
        struct kvm_segment code = {
                .base = 0,
                .limit = 0xffffffff,
                .selector = 0x08,
                .type = 0x0b, /* execute/read, accessed */
                .present = 1,
                .dpl = 0,
                .db = 1, /* 32-bit */
                .s = 1,
                .l = 0,
                .g = 1,
        };
        struct kvm_segment data = code;

        data.selector = 0x10;
        data.type = 0x03; /* read/write, accessed */
        s->cs = code;
        s->ds = s->es = s->fs = s->gs = s->ss = data;
        s->cr0 |= 1;                    /* PE */
        s->cr0 &= ~(1ULL << 31);        /* PG off */
        s->efer = 0;
}

int kvm_vm_adopt_vcpu(KvmVm *vm, int fd)
{
        struct kvm_sregs sregs;
        struct kvm_regs regs = {};
        KvmVcpu *c;
        unsigned id = vm->n_vcpus;
        int r;

        if (vm->n_vcpus == vm->cap_vcpus) {
                unsigned n = MAX(4U, vm->cap_vcpus * 2);
                KvmVcpu *p = realloc(vm->vcpus, n * sizeof *p);
                if (!p) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                vm->vcpus = p;
                vm->cap_vcpus = n;
        }
        /* Counted from here on: whatever fails below, free() closes the fd. */
        c = &vm->vcpus[vm->n_vcpus++];
        *c = (KvmVcpu){ .vm = vm, .id = id, .fd = fd };

        r = kvm_map_run(fd, (size_t)vm->caps.run_size, &c->run);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_MMAP_RUN, r, id);
        r = kvm_get_sregs(fd, &sregs);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_GET_SREGS, r, id);
        sregs_flat32(&sregs);
        r = kvm_set_sregs(fd, &sregs);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_SET_SREGS, r, id);
        regs.rip = GUEST_CODE;
        regs.rbx = GUEST_COUNTERS + 4ULL * id;
        regs.rdx = GUEST_PORT;
        regs.rflags = 0x2; /* bit 1 is reserved and must be set */
        r = kvm_set_regs(fd, &regs);
        if (r < 0)
                return fail_set(&vm->fail, KVM_OP_SET_REGS, r, id);
        return 0;
}

int kvm_vm_add_vcpu(KvmVm *vm)
{
        int fd, r;

        if (vm->n_vcpus >= GUEST_VCPUS_MAX)
                return fail_set(&vm->fail, KVM_OP_CREATE_VCPU, -E2BIG, vm->n_vcpus);
        r = kvm_vm_create_vcpu_raw(vm, &fd);
        if (r < 0)
                return r;
        return kvm_vm_adopt_vcpu(vm, fd);
}

/* One exit: count it; a guest that only does OUT, HLT and plain memory accesses never causes another kind. */
static int vcpu_handle_exit(KvmVcpu *c)
{
        struct kvm_run *run = c->run;

        c->exits++;
        if (c->vm->shared_exits)
                atomic_fetch_add_explicit(c->vm->shared_exits, 1, memory_order_relaxed);
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
                c->io_exits++;
                return 0;
        case KVM_EXIT_HLT:
                c->hlt_exits++;
                return 0;
        case KVM_EXIT_MMIO:
                /* A touch of a GPA whose memslot is gone: reads see zeros, writes vanish. */
                c->mmio_exits++;
                if (!run->mmio.is_write)
                        memset(run->mmio.data, 0, sizeof run->mmio.data);
                return 0;
        default:
                c->fail = (KvmFail){ .op = KVM_OP_RUN, .error = -EPROTO, .index = c->id,
                                     .exit_reason = run->exit_reason,
                                     .suberror = run->exit_reason == KVM_EXIT_INTERNAL_ERROR ? run->internal.suberror : 0 };
                return -EPROTO;
        }
}

int kvm_vm_run_vcpu(KvmVm *vm, unsigned idx, uint64_t deadline_ns)
{
        KvmVcpu *c = &vm->vcpus[idx];

        /* At least one entry into the guest, whatever the deadline: every VM runs guest code. */
        do {
                int r = kvm_run(c->fd);
                if (r == -EINTR)
                        continue;
                if (r < 0) {
                        if (c->fail.op == KVM_OP_NONE)
                                c->fail = (KvmFail){ .op = KVM_OP_RUN, .error = r, .index = c->id };
                        return r;
                }
                r = vcpu_handle_exit(c);
                if (r < 0)
                        return r;
        } while (!atomic_load_explicit(&vm->stop, memory_order_relaxed) &&
                 (deadline_ns == 0 || now_ns(CLOCK_MONOTONIC) < deadline_ns));
        return 0;
}

static void *vcpu_thread(void *p)
{
        KvmVcpu *c = p;
        (void)kvm_vm_run_vcpu(c->vm, c->id, 0);
        return NULL;
}

int kvm_vm_start_threads_on(KvmVm *vm, unsigned first, const cpu_set_t *cpus)
{
        pthread_attr_t attr;
        int r = 0;

        if (first >= vm->n_vcpus)
                return 0;
        if (pthread_attr_init(&attr) != 0)
                return fail_set(&vm->fail, KVM_OP_THREAD, -ENOMEM, first);
        (void)pthread_attr_setstacksize(&attr, VCPU_THREAD_STACK);
        if (cpus)
                (void)pthread_attr_setaffinity_np(&attr, sizeof *cpus, cpus);
        for (unsigned i = first; i < vm->n_vcpus; i++) {
                KvmVcpu *c = &vm->vcpus[i];
                int k;

                if (c->thread_started)
                        continue;
                k = pthread_create(&c->thread, &attr, vcpu_thread, c);
                if (k != 0) {
                        r = fail_set(&vm->fail, KVM_OP_THREAD, -k, i);
                        break;
                }
                c->thread_started = true;
        }
        pthread_attr_destroy(&attr);
        return r;
}

int kvm_vm_start_threads(KvmVm *vm, unsigned first)
{
        return kvm_vm_start_threads_on(vm, first, NULL);
}

int kvm_vm_stop_threads(KvmVm *vm)
{
        bool any = false;
        int r = 0;

        for (unsigned i = 0; i < vm->n_vcpus; i++)
                any = any || vm->vcpus[i].thread_started;
        if (!any)
                return 0;
        atomic_store(&vm->stop, true);
        /* A spinning guest never exits on its own: flip it to EXIT so each vCPU returns to us once more. */
        if (vm->slot0 && guest_ctrl(vm->slot0)->mode == GUEST_MODE_SPIN)
                guest_set_mode(vm->slot0, GUEST_MODE_EXIT);
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                KvmVcpu *c = &vm->vcpus[i];
                if (!c->thread_started)
                        continue;
                (void)pthread_join(c->thread, NULL);
                c->thread_started = false;
                if (c->fail.op != KVM_OP_NONE && r == 0) {
                        vm->fail = c->fail;
                        r = c->fail.error;
                }
        }
        return r;
}

int kvm_vm_run_for(KvmVm *vm, uint64_t run_ns)
{
        uint64_t deadline;
        int r, k;

        if (vm->n_vcpus == 0)
                return 0;
        atomic_store(&vm->stop, false);
        r = kvm_vm_start_threads(vm, 1);
        if (r < 0) {
                (void)kvm_vm_stop_threads(vm);
                return r;
        }
        deadline = now_ns(CLOCK_MONOTONIC) + run_ns;
        r = kvm_vm_run_vcpu(vm, 0, deadline);
        if (r < 0 && vm->fail.op == KVM_OP_NONE)
                vm->fail = vm->vcpus[0].fail;
        k = kvm_vm_stop_threads(vm);
        atomic_store(&vm->stop, false);
        return r < 0 ? r : k;
}

void kvm_vm_close_vcpus(KvmVm *vm)
{
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vcpu_close(&vm->vcpus[i], (size_t)vm->caps.run_size);
}

void kvm_vm_close_vm_fd(KvmVm *vm)
{
        vm->vm_fd = safe_close(vm->vm_fd);
}

uint64_t kvm_vm_exits(const KvmVm *vm)
{
        uint64_t n = 0;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                n += vm->vcpus[i].exits;
        return n;
}

uint64_t kvm_vm_mmio_exits(const KvmVm *vm)
{
        uint64_t n = 0;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                n += vm->vcpus[i].mmio_exits;
        return n;
}

uint64_t kvm_vm_guest_loops(const KvmVm *vm)
{
        uint64_t n = 0;
        if (!vm->slot0)
                return 0;
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                n += *guest_counter(vm->slot0, i);
        return n;
}
