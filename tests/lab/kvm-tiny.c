/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kvm-tiny: the smallest proof that a /dev/kvm works, for the lab guest.
 *
 * Creates a VM with one 4 KiB memslot and one vCPU in real mode, runs
 * "mov $'K',%al; mov $0x3f8,%dx; out %al,(%dx); hlt" and expects exactly
 * KVM_EXIT_IO (port 0x3f8, byte 'K') and then KVM_EXIT_HLT. Repeats that
 * for N VMs (argument, default 1). It is test infrastructure, not the
 * project's vm action: it exists so the lab can tell "nested KVM works in
 * the guest" apart from "the project's code works".
 *
 * Prints one key=value line per VM and a summary; exits 0 only when every
 * VM behaved, otherwise 1 with the ioctl, errno and values that were wrong.
 * Built static so the guest needs no libraries for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000
#define GUEST_SIZE 0x1000
#define SERIAL_PORT 0x3f8

static const uint8_t guest_code[] = {
        0xb0, 'K',        /* mov $'K', %al */
        0xba, 0xf8, 0x03, /* mov $0x3f8, %dx */
        0xee,             /* out %al, (%dx) */
        0xf4,             /* hlt */
};

static int fail(int vm, const char *what, int err)
{
        fprintf(stderr, "kvm-tiny: vm %d: %s failed: %s (errno %d)\n", vm, what, strerror(err), err);
        return -1;
}

static int run_one(int kvm, int n, size_t run_size)
{
        struct kvm_userspace_memory_region region = {};
        struct kvm_sregs sregs;
        struct kvm_regs regs = {};
        struct kvm_run *run = MAP_FAILED;
        int vm = -1, vcpu = -1, r = -1;
        void *mem = MAP_FAILED;
        int saw_io = 0;

        vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
        if (vm < 0)
                return fail(n, "KVM_CREATE_VM", errno);

        mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
                fail(n, "mmap guest memory", errno);
                goto out;
        }
        memcpy(mem, guest_code, sizeof(guest_code));
        region.slot = 0;
        region.guest_phys_addr = GUEST_ADDR;
        region.memory_size = GUEST_SIZE;
        region.userspace_addr = (uintptr_t)mem;
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
                fail(n, "KVM_SET_USER_MEMORY_REGION", errno);
                goto out;
        }

        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
        if (vcpu < 0) {
                fail(n, "KVM_CREATE_VCPU", errno);
                goto out;
        }
        run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (run == MAP_FAILED) {
                fail(n, "mmap kvm_run", errno);
                goto out;
        }

        if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
                fail(n, "KVM_GET_SREGS", errno);
                goto out;
        }
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
                fail(n, "KVM_SET_SREGS", errno);
                goto out;
        }
        regs.rip = GUEST_ADDR;
        regs.rflags = 0x2; /* bit 1 is reserved and must be set */
        if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
                fail(n, "KVM_SET_REGS", errno);
                goto out;
        }

        /* Two exits are expected; a third KVM_RUN means something is wrong. */
        for (int i = 0; i < 3; i++) {
                if (ioctl(vcpu, KVM_RUN, 0UL) < 0) {
                        fail(n, "KVM_RUN", errno);
                        goto out;
                }
                if (run->exit_reason == KVM_EXIT_IO) {
                        uint8_t byte = *((uint8_t *)run + run->io.data_offset);

                        if (saw_io || run->io.direction != KVM_EXIT_IO_OUT || run->io.port != SERIAL_PORT ||
                            run->io.size != 1 || byte != 'K') {
                                fprintf(stderr,
                                        "kvm-tiny: vm %d: unexpected KVM_EXIT_IO: port=0x%x size=%u "
                                        "direction=%u byte=0x%02x (expected one out of 'K' to 0x%x)\n",
                                        n, run->io.port, run->io.size, run->io.direction, byte, SERIAL_PORT);
                                goto out;
                        }
                        saw_io = 1;
                        continue;
                }
                if (run->exit_reason == KVM_EXIT_HLT) {
                        if (!saw_io) {
                                fprintf(stderr,
                                        "kvm-tiny: vm %d: KVM_EXIT_HLT before the expected KVM_EXIT_IO\n",
                                        n);
                                goto out;
                        }
                        printf("vm=%d exit_io=0x%x byte=K exit_hlt=1\n", n, SERIAL_PORT);
                        r = 0;
                        goto out;
                }
                fprintf(stderr,
                        "kvm-tiny: vm %d: unexpected exit_reason=%u (expected KVM_EXIT_IO=%u, then "
                        "KVM_EXIT_HLT=%u)\n",
                        n, run->exit_reason, KVM_EXIT_IO, KVM_EXIT_HLT);
                goto out;
        }
        fprintf(stderr, "kvm-tiny: vm %d: no KVM_EXIT_HLT after 3 KVM_RUN calls\n", n);
out:
        if (run != MAP_FAILED)
                munmap(run, run_size);
        if (vcpu >= 0)
                close(vcpu);
        if (mem != MAP_FAILED)
                munmap(mem, GUEST_SIZE);
        close(vm);
        return r;
}

int main(int argc, char **argv)
{
        long count = 1, ok = 0;
        int kvm, api, run_size;
        char *end;

        if (argc > 2 || (argc == 2 && (argv[1][0] == '-'))) {
                fprintf(stderr, "usage: kvm-tiny [COUNT]   (run COUNT tiny real-mode VMs, default 1)\n");
                return 2;
        }
        if (argc == 2) {
                errno = 0;
                count = strtol(argv[1], &end, 10);
                if (errno || *end || count < 1 || count > 1000000) {
                        fprintf(stderr, "kvm-tiny: COUNT '%s' is not a number from 1 to 1000000\n", argv[1]);
                        return 2;
                }
        }

        kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0) {
                fprintf(stderr, "kvm-tiny: open /dev/kvm: %s\n", strerror(errno));
                return 1;
        }
        api = ioctl(kvm, KVM_GET_API_VERSION, 0UL);
        if (api != KVM_API_VERSION) {
                fprintf(stderr, "kvm-tiny: KVM_GET_API_VERSION returned %d, expected %d\n", api,
                        KVM_API_VERSION);
                return 1;
        }
        run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0UL);
        if (run_size < (int)sizeof(struct kvm_run)) {
                fprintf(stderr, "kvm-tiny: KVM_GET_VCPU_MMAP_SIZE returned %d\n", run_size);
                return 1;
        }
        printf("api=%d\n", api);
        for (long i = 0; i < count; i++)
                if (run_one(kvm, (int)i, (size_t)run_size) == 0)
                        ok++;
        close(kvm);
        printf("vms_ok=%ld vms_total=%ld\n", ok, count);
        return ok == count ? 0 : 1;
}
