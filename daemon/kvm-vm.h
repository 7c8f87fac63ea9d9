/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A minimal VMM on kvm-util: a VM, its memslots over caller-owned host
 * memory, vCPUs set up to run the tiny guest (kvm-guest.h), and vCPU
 * threads. The vm and memslot actions build every scenario from these
 * steps, in whatever order the scenario needs — including tearing down in
 * orders no sane VMM would use (VM fd first, memslots left set).
 *
 * Nothing here logs. On failure a function returns negative errno and
 * records in vm->fail which call failed and for which slot or vCPU, so the
 * action can say "KVM_CREATE_VCPU: Too many open files (vCPU 3)".
 */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "kvm-guest.h"
#include "kvm-util.h"
#include "util.h"

typedef struct KvmVm KvmVm;

typedef struct KvmFail {
        KvmOp op;
        int error;      /* negative errno, or -EPROTO for an exit the guest should never cause */
        unsigned index; /* vCPU or slot the call was for */
        uint32_t exit_reason; /* for -EPROTO */
        uint32_t suberror;    /* for KVM_EXIT_INTERNAL_ERROR */
} KvmFail;

typedef struct KvmVcpu {
        KvmVm *vm;
        unsigned id;
        int fd;
        struct kvm_run *run;
        pthread_t thread;
        bool thread_started;
        /* Counted by whoever runs the vCPU; read after it stopped. */
        uint64_t exits, io_exits, mmio_exits, hlt_exits;
        KvmFail fail; /* first failure of this vCPU's run loop */
} KvmVcpu;

typedef struct KvmCaps {
        int api_version;
        int max_vcpus;   /* KVM_CAP_MAX_VCPUS */
        int max_vcpu_id; /* KVM_CAP_MAX_VCPU_ID */
        int nr_memslots; /* KVM_CAP_NR_MEMSLOTS */
        int run_size;    /* KVM_GET_VCPU_MMAP_SIZE */
} KvmCaps;

struct KvmVm {
        int vm_fd;
        KvmCaps caps;
        void *slot0; /* host memory of the slot at GPA 0: the guest's control block, code, counters */

        KvmVcpu *vcpus;
        unsigned n_vcpus, cap_vcpus;

        /* Slots this VM set (and did not delete), for kvm_vm_delete_memslots(). */
        uint32_t *slots;
        unsigned n_slots, cap_slots;

        atomic_bool stop;
        /* If set, every userspace exit is also counted here (memory shared with a parent process). */
        _Atomic uint64_t *shared_exits;

        KvmFail fail;
};

/* Reads what the host's KVM offers through an open /dev/kvm. Sets fail on error. */
int kvm_caps_read(int kvm_fd, KvmCaps *ret, KvmFail *fail);
/* Opens /dev/kvm, reads the caps, closes it again: for check_host and tests. */
int kvm_caps_probe(KvmCaps *ret, KvmFail *fail);

/*
 * Opens /dev/kvm, checks the API version, reads the caps and creates the
 * VM. /dev/kvm is closed again at once: a VM fd keeps the module pinned on
 * its own, and a held /dev/kvm fd would block a module unload racing us.
 * *ret is set even on failure (with vm->fail telling why) when allocation
 * succeeded, so the caller can report and free it.
 */
int kvm_vm_new(KvmVm **ret);
/*
 * The same on an open /dev/kvm fd (-1: open one here), calling
 * before_create (if set) right before KVM_CREATE_VM: error-path modes arm
 * fault injection there.
 */
int kvm_vm_new_full(int kvm_fd, void (*before_create)(void *userdata), void *userdata, KvmVm **ret);
/* Stops vCPU threads, unmaps kvm_run areas, closes every fd. Takes NULL. */
KvmVm *kvm_vm_free(KvmVm *vm);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvmVm *, kvm_vm_free);

/* Sets a memslot. The first slot at GPA 0 must be at least GUEST_SLOT0_MIN bytes: it holds the guest. */
int kvm_vm_set_memslot(KvmVm *vm, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *hva);
/* Deletes one slot (size 0). */
int kvm_vm_delete_memslot(KvmVm *vm, uint32_t slot);
/* Deletes every slot this VM still has set. */
int kvm_vm_delete_memslots(KvmVm *vm);

/* Creates the next vCPU (id = n_vcpus), maps kvm_run, points it at the guest in 32-bit flat mode. */
int kvm_vm_add_vcpu(KvmVm *vm);
/* Only KVM_CREATE_VCPU for the next id, nothing else: for error-path modes. The fd is kept on success. */
int kvm_vm_create_vcpu_raw(KvmVm *vm, int *ret_fd);
/* Finishes a vCPU made by kvm_vm_create_vcpu_raw(): maps kvm_run, sets registers, adopts the fd. */
int kvm_vm_adopt_vcpu(KvmVm *vm, int fd);

/*
 * Runs every vCPU: vCPUs 1.. on threads, vCPU 0 on the calling thread,
 * until run_ns passed (each vCPU enters the guest at least once), then
 * stops and joins them. The guest must be in a mode that exits (EXIT,
 * HALT, TOUCH).
 */
int kvm_vm_run_for(KvmVm *vm, uint64_t run_ns);
/* Starts vCPUs [first, n_vcpus) on threads that run until kvm_vm_stop_threads(). */
int kvm_vm_start_threads(KvmVm *vm, unsigned first);
/* The same, the threads confined to cpus (NULL: anywhere). */
int kvm_vm_start_threads_on(KvmVm *vm, unsigned first, const cpu_set_t *cpus);
/* Runs one vCPU on the calling thread until vm->stop is set or deadline (CLOCK_MONOTONIC ns; 0 = none;
 * any past value, e.g. 1, = exactly one entry into the guest). */
int kvm_vm_run_vcpu(KvmVm *vm, unsigned idx, uint64_t deadline_ns);
/* Sets stop, makes a spinning guest exit (mode EXIT), joins threads; returns the first vCPU failure. */
int kvm_vm_stop_threads(KvmVm *vm);

/* Unmaps kvm_run and closes the vCPU fds (the VM fd stays). */
void kvm_vm_close_vcpus(KvmVm *vm);
/* Closes the VM fd only (vCPUs and memslots, if any, keep the VM alive). */
void kvm_vm_close_vm_fd(KvmVm *vm);

/* Sums over vCPUs. */
uint64_t kvm_vm_exits(const KvmVm *vm);
uint64_t kvm_vm_mmio_exits(const KvmVm *vm);
/* Sum of the guest's loop counters for this VM's vCPUs. */
uint64_t kvm_vm_guest_loops(const KvmVm *vm);

/* "KVM_CREATE_VCPU: Too many open files (vCPU 3)" from vm->fail (or any KvmFail). */
char *kvm_fail_describe(const KvmFail *f, char *buf, size_t len);
