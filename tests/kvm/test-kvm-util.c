/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The KVM layer on the real /dev/kvm: the wrappers say which ioctl failed,
 * the tiny guest runs in 32-bit protected mode in every mode it has (EXIT,
 * HALT, SPIN, TOUCH above 1 MiB with MMIO exits for a missing slot), and
 * the binary stats parse into named values that move when the guest runs.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kvm-test.h"
#include "kvm-vm.h"

#define SLOT (2ULL << 20)

static void *map_memory(size_t len)
{
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        ASSERT_TRUE(p != MAP_FAILED);
        return p;
}

static void test_error_describe(void)
{
        char buf[128];
        KvmFail f = { .op = KVM_OP_CREATE_VCPU, .error = -EMFILE, .index = 3 };

        ASSERT_STREQ(kvm_error_describe(KVM_OP_CREATE_VCPU, -EMFILE, buf, sizeof buf),
                     "KVM_CREATE_VCPU: Too many open files");
        ASSERT_STREQ(kvm_fail_describe(&f, buf, sizeof buf), "KVM_CREATE_VCPU: Too many open files (vCPU 3)");
        f = (KvmFail){ .op = KVM_OP_RUN, .error = -EPROTO, .index = 1, .exit_reason = KVM_EXIT_SHUTDOWN };
        ASSERT_STREQ(kvm_fail_describe(&f, buf, sizeof buf), "vCPU 1: unexpected KVM_EXIT_SHUTDOWN");
        ASSERT_STREQ(kvm_exit_reason_to_string(KVM_EXIT_IO), "KVM_EXIT_IO");
        ASSERT_STREQ(kvm_exit_reason_to_string(1000), "KVM_EXIT_1000");
}

static void test_caps(void)
{
        KvmCaps c;
        KvmFail f = {};

        ASSERT_OK(kvm_caps_probe(&c, &f));
        ASSERT_EQ(c.api_version, 12);
        ASSERT_TRUE(c.max_vcpus >= 1);
        ASSERT_TRUE(c.nr_memslots >= 32);
        ASSERT_TRUE(c.run_size >= (int)sizeof(struct kvm_run));
        printf("caps: max_vcpus=%d max_vcpu_id=%d nr_memslots=%d run_size=%d\n", c.max_vcpus, c.max_vcpu_id,
               c.nr_memslots, c.run_size);
}

/* Each mode: EXIT gives KVM_EXIT_IO on our port, HALT gives KVM_EXIT_HLT, counters move. */
static void test_guest_modes(void)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        uint8_t *mem = map_memory(SLOT);
        struct kvm_run *run;

        guest_load(mem, 2);
        ASSERT_OK(kvm_vm_new(&vm));
        ASSERT_OK(kvm_vm_set_memslot(vm, 0, 0, 0, SLOT, mem));
        ASSERT_OK(kvm_vm_add_vcpu(vm));
        ASSERT_OK(kvm_vm_add_vcpu(vm));
        run = vm->vcpus[0].run;

        ASSERT_OK(kvm_run(vm->vcpus[0].fd));
        ASSERT_EQ(run->exit_reason, KVM_EXIT_IO);
        ASSERT_EQ(run->io.port, GUEST_PORT);
        ASSERT_EQ(run->io.direction, KVM_EXIT_IO_OUT);
        ASSERT_EQ(*guest_counter(mem, 0), 1);
        ASSERT_OK(kvm_run(vm->vcpus[0].fd));
        ASSERT_EQ(*guest_counter(mem, 0), 2);

        /* vCPU 1 bumps its own counter, not vCPU 0's: EBX was set per vCPU. */
        ASSERT_OK(kvm_run(vm->vcpus[1].fd));
        ASSERT_EQ(vm->vcpus[1].run->exit_reason, KVM_EXIT_IO);
        ASSERT_EQ(*guest_counter(mem, 1), 1);
        ASSERT_EQ(*guest_counter(mem, 0), 2);

        guest_set_mode(mem, GUEST_MODE_HALT);
        ASSERT_OK(kvm_run(vm->vcpus[0].fd));
        ASSERT_EQ(run->exit_reason, KVM_EXIT_HLT);
        ASSERT_EQ(*guest_counter(mem, 0), 3);

        /* The run loop over both vCPUs for 5 ms: exits counted, loops summed. */
        guest_set_mode(mem, GUEST_MODE_EXIT);
        ASSERT_OK(kvm_vm_run_for(vm, 5 * NSEC_PER_MSEC));
        ASSERT_TRUE(vm->vcpus[0].exits > 1);
        ASSERT_TRUE(vm->vcpus[1].exits >= 1);
        ASSERT_EQ(kvm_vm_guest_loops(vm), *guest_counter(mem, 0) + *guest_counter(mem, 1));
        ASSERT_EQ(vm->vcpus[0].io_exits, vm->vcpus[0].exits);

        vm = kvm_vm_free(vm);
        munmap(mem, SLOT);
}

/* SPIN: a vCPU thread stays inside KVM_RUN (no exits) while its counter moves; stop flips it out. */
static void test_guest_spin(void)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        uint8_t *mem = map_memory(SLOT);
        uint32_t c1, c2;
        uint64_t deadline;

        guest_load(mem, 1);
        ASSERT_OK(kvm_vm_new(&vm));
        ASSERT_OK(kvm_vm_set_memslot(vm, 0, 0, 0, SLOT, mem));
        ASSERT_OK(kvm_vm_add_vcpu(vm));
        guest_set_mode(mem, GUEST_MODE_SPIN);
        ASSERT_OK(kvm_vm_start_threads(vm, 0));

        deadline = now_ns(CLOCK_MONOTONIC) + 5 * NSEC_PER_SEC;
        while (*guest_counter(mem, 0) == 0)
                ASSERT_TRUE(now_ns(CLOCK_MONOTONIC) < deadline);
        c1 = *guest_counter(mem, 0);
        /* On a loaded machine the vCPU thread may wait for a CPU a while: wait for movement, boundedly. */
        deadline = now_ns(CLOCK_MONOTONIC) + 10 * NSEC_PER_SEC;
        do {
                sleep_ns(100 * NSEC_PER_USEC);
                c2 = *guest_counter(mem, 0);
        } while (c2 == c1 && now_ns(CLOCK_MONOTONIC) < deadline);
        ASSERT_TRUE(c2 > c1);
        /* Read without a lock while the thread is in KVM_RUN: it has not returned once. */
        ASSERT_EQ(__atomic_load_n(&vm->vcpus[0].exits, __ATOMIC_RELAXED), 0);

        ASSERT_OK(kvm_vm_stop_threads(vm));
        ASSERT_TRUE(vm->vcpus[0].exits >= 1);
        vm = kvm_vm_free(vm);
        munmap(mem, SLOT);
}

/* TOUCH above 1 MiB (protected mode reaches it), then a missing slot's GPAs become MMIO exits. */
static void test_guest_touch(void)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        uint8_t *mem = map_memory(3 * SLOT);
        GuestCtrl *ctrl = guest_ctrl(mem);

        guest_load(mem, 1);
        ASSERT_OK(kvm_vm_new(&vm));
        ASSERT_OK(kvm_vm_set_memslot(vm, 0, 0, 0, SLOT, mem));
        ASSERT_OK(kvm_vm_set_memslot(vm, 1, KVM_MEM_LOG_DIRTY_PAGES, SLOT, SLOT, mem + SLOT));
        ASSERT_OK(kvm_vm_add_vcpu(vm));

        ctrl->stride = 64 * 1024;
        ctrl->ranges[0] = (GuestRange){ .base = (uint32_t)SLOT, .len = (uint32_t)SLOT };
        ctrl->n_ranges = 1;
        guest_set_mode(mem, GUEST_MODE_TOUCH);
        ASSERT_OK(kvm_run(vm->vcpus[0].fd));
        ASSERT_EQ(vm->vcpus[0].run->exit_reason, KVM_EXIT_IO);
        /* The guest wrote its counter (0 before the bump) at every 64 KiB of slot 1: pages became non-zero? */
        *guest_counter(mem, 0) = 0x1234;
        ASSERT_OK(kvm_run(vm->vcpus[0].fd));
        ASSERT_EQ(*(uint32_t *)(mem + SLOT), 0x1234);
        ASSERT_EQ(*(uint32_t *)(mem + SLOT + 64 * 1024), 0x1234);
        ASSERT_EQ(*(uint32_t *)(mem + 2 * SLOT - 64 * 1024), 0x1234);

        /* Dirty log: the 32 touched pages of slot 1 are dirty. */
        {
                uint64_t bitmap[SLOT / 4096 / 64] = {};
                unsigned dirty = 0;
                ASSERT_OK(kvm_get_dirty_log(vm->vm_fd, 1, bitmap));
                for (size_t i = 0; i < ELEMENTSOF(bitmap); i++)
                        dirty += (unsigned)__builtin_popcountll(bitmap[i]);
                ASSERT_EQ(dirty, SLOT / (64 * 1024));
        }

        /* Slot 1 gone: each touch is an MMIO exit now, handled by the run loop. */
        ASSERT_OK(kvm_vm_delete_memslot(vm, 1));
        ASSERT_OK(kvm_vm_run_for(vm, 0));
        ASSERT_EQ(vm->vcpus[0].mmio_exits, 1);
        ASSERT_EQ(vm->vcpus[0].run->exit_reason, KVM_EXIT_MMIO);
        ASSERT_EQ(vm->vcpus[0].run->mmio.phys_addr, SLOT);
        /* Until a whole loop ended with its OUT (bounded: a loaded machine may take a while). */
        for (uint64_t until = now_ns(CLOCK_MONOTONIC) + 10 * NSEC_PER_SEC;
             vm->vcpus[0].io_exits == 0 && now_ns(CLOCK_MONOTONIC) < until;)
                ASSERT_OK(kvm_vm_run_for(vm, 2 * NSEC_PER_MSEC));
        ASSERT_TRUE(vm->vcpus[0].io_exits >= 1);
        ASSERT_TRUE(vm->vcpus[0].mmio_exits >= SLOT / (64 * 1024));

        vm = kvm_vm_free(vm);
        munmap(mem, 3 * SLOT);
}

static void test_stats(void)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        uint8_t *mem = map_memory(SLOT);
        KvmStatsSchema *vs = NULL, *cs = NULL;
        _cleanup_close_ int vm_stats = -1, vcpu_stats = -1;
        _cleanup_free_ uint64_t *data = NULL;
        int exits;
        uint64_t before, after;

        guest_load(mem, 1);
        ASSERT_OK(kvm_vm_new(&vm));
        ASSERT_OK(kvm_vm_set_memslot(vm, 0, 0, 0, SLOT, mem));
        ASSERT_OK(kvm_vm_add_vcpu(vm));

        ASSERT_OK(kvm_get_stats_fd(vm->vm_fd, &vm_stats));
        ASSERT_OK(kvm_stats_schema_read(vm_stats, &vs));
        ASSERT_TRUE(vs->n_descs > 0);
        ASSERT_TRUE(kvm_stats_find(vs, "remote_tlb_flush") >= 0);
        ASSERT_EQ(kvm_stats_find(vs, "no_such_stat"), -ENOENT);
        ASSERT_EQ(kvm_stats_schema_matches(vs, vm_stats), 1);

        ASSERT_OK(kvm_get_stats_fd(vm->vcpus[0].fd, &vcpu_stats));
        ASSERT_OK(kvm_stats_schema_read(vcpu_stats, &cs));
        exits = kvm_stats_find(cs, "exits");
        ASSERT_TRUE(exits >= 0);
        data = calloc(1, cs->data_size);
        ASSERT_TRUE(data);
        ASSERT_OK(kvm_stats_read_data(cs, vcpu_stats, data));
        before = kvm_stats_value(cs, data, (unsigned)exits);
        for (int i = 0; i < 10; i++)
                ASSERT_OK(kvm_run(vm->vcpus[0].fd));
        ASSERT_OK(kvm_stats_read_data(cs, vcpu_stats, data));
        after = kvm_stats_value(cs, data, (unsigned)exits);
        /* Every return to userspace is an exit; hardware may add its own (interrupts), never fewer. */
        ASSERT_TRUE(after - before >= 10);

        kvm_stats_schema_free(vs);
        kvm_stats_schema_free(cs);
        vm = kvm_vm_free(vm);
        munmap(mem, SLOT);
}

/* Failures name the call: a second slot 0 overlapping nothing but with a bad address is EINVAL. */
static void test_failures_named(void)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        char buf[128];

        ASSERT_OK(kvm_vm_new(&vm));
        /* Unaligned host address: KVM refuses it. */
        ASSERT_EQ(kvm_vm_set_memslot(vm, 0, 0, 0, 4096, (void *)0x1001), -EINVAL);
        ASSERT_STREQ(kvm_fail_describe(&vm->fail, buf, sizeof buf),
                     "KVM_SET_USER_MEMORY_REGION: Invalid argument (slot 0)");
        vm = kvm_vm_free(vm);
}

/*
 * The kernel behaviour fail-vcpu-emfile relies on, seen without the action:
 * with RLIMIT_NOFILE at the lowest free fd, KVM_CREATE_VCPU fails with
 * EMFILE after KVM made the vCPU, and the same id works once the limit is back.
 */
static void test_create_vcpu_emfile(void)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        uint8_t *mem = map_memory(SLOT);
        struct rlimit saved, low;
        char buf[128];
        int lowest, fd = -1, r;

        guest_load(mem, 2);
        ASSERT_OK(kvm_vm_new(&vm));
        ASSERT_OK(kvm_vm_set_memslot(vm, 0, 0, 0, SLOT, mem));
        ASSERT_OK(kvm_vm_add_vcpu(vm));

        lowest = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
        ASSERT_TRUE(lowest > 2);
        close(lowest);
        ASSERT_OK(getrlimit(RLIMIT_NOFILE, &saved));
        low = saved;
        low.rlim_cur = (rlim_t)lowest;
        ASSERT_OK(setrlimit(RLIMIT_NOFILE, &low));
        r = kvm_vm_create_vcpu_raw(vm, &fd);
        ASSERT_OK(setrlimit(RLIMIT_NOFILE, &saved));
        ASSERT_EQ(r, -EMFILE);
        ASSERT_EQ(fd, -1);
        ASSERT_STREQ(kvm_fail_describe(&vm->fail, buf, sizeof buf), "KVM_CREATE_VCPU: Too many open files (vCPU 1)");

        vm->fail = (KvmFail){};
        ASSERT_OK(kvm_vm_add_vcpu(vm));
        ASSERT_EQ(vm->n_vcpus, 2);
        ASSERT_OK(kvm_vm_run_for(vm, 0));
        /* The new vCPU ran guest code (it loops until vCPU 0 stops it: at least once). */
        ASSERT_TRUE(*guest_counter(mem, 1) >= 1);
        vm = kvm_vm_free(vm);
        munmap(mem, SLOT);
}

int main(void)
{
        kvm_test_require();
        test_error_describe();
        test_caps();
        test_guest_modes();
        test_guest_spin();
        test_guest_touch();
        test_stats();
        test_failures_named();
        test_create_vcpu_emfile();
        kvm_test_assert_clean();
        return 0;
}
