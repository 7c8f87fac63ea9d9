/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vm action's names for tests and the benchmark: its outcomes and
 * metrics by index, and an observer seam. The observer lets a test look
 * at the other processes of a scenario at the moment that matters (the
 * VMM whose vCPUs are inside KVM_RUN just before the SIGKILL, the peer
 * holding the VM fd just before the barrier opens) from outside the
 * action's own checks. Production code never sets it.
 */
#pragma once

#include <sys/types.h>

#include "action.h"

extern const ActionType action_vm;

typedef enum VmOutcome {
        VM_OUT_CLOSE,
        VM_OUT_SIGKILL,
        VM_OUT_CLOSE_MEMSLOTS_VCPUS_FIRST,
        VM_OUT_CLOSE_MEMSLOTS_VM_FIRST,
        VM_OUT_SHARED_FD,
        VM_OUT_RECREATE,
        VM_OUT_STATS_AFTER_END,
        VM_OUT_EFAIL_VCPU_EMFILE,
        VM_OUT_EFAIL_MEMCG_VM,
        VM_OUT_EFAIL_MEMCG_MEMSLOT,
        VM_OUT_EFAIL_MEMCG_VCPU,
        VM_OUT_EFAIL_MEMCG_RUN,
        VM_OUT_MEMCG_OOM_KILL,
        VM_OUT_MEMCG_NO_FAIL,
        VM_OUT_EFAIL_INJECT,
        VM_OUT_INJECT_ABSORBED,
        VM_OUT_INJECT_SWEPT,
        VM_OUT_KVM_GONE,
        VM_OUT_UNAVAILABLE,
        VM_OUT_ENV_ERROR,
        VM_OUT_FAILURE,
        _VM_OUT_MAX,
} VmOutcome;

typedef enum VmMetric {
        VM_M_VMS,          /* VMs created */
        VM_M_VCPUS,        /* vCPUs created */
        VM_M_MEMSLOTS,     /* memslots set */
        VM_M_EXITS,        /* exits to userspace (IO, HLT, MMIO) */
        VM_M_GUEST_LOOPS,  /* turns of the guest's loop, summed over vCPUs */
        VM_M_KVM_EXITS,    /* KVM's own count of exits (binary stats, vCPU "exits") */
        VM_M_TLB_FLUSHES,  /* KVM binary stats, VM "remote_tlb_flush" */
        VM_M_STATS_READS,  /* stats fds read successfully (live and after an abrupt end) */
        _VM_M_MAX,
} VmMetric;

typedef struct VmObserver {
        /*
         * sigkill, stats-after-end: the VMM child's vCPUs are in the guest; it is killed right
         * after. counter0 is vCPU 0's guest loop counter, in memory shared with the VMM.
         */
        void (*vmm_in_guest)(pid_t vmm, const volatile uint32_t *counter0, void *userdata);
        /* shared-fd: the peer holds the VM fd as fd; the barrier opens right after. */
        void (*peer_holds_fd)(pid_t peer, int fd, void *userdata);
        void *userdata;
} VmObserver;

/* Tests only: NULL to unset. Not thread safe; set before stepping. */
void action_vm_set_observer(const VmObserver *o);
