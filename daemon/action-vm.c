/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=vm — placeholder key table; the VM lifecycle lands with the KVM layer.
 */
#include <stddef.h>

#include "action.h"

typedef struct VmParams {
        uint64_t vcpus;
        uint64_t memslots;
        uint64_t slot_size;
        Range run;
        Weighted end;
} VmParams;

static const char *const vm_end_names[] = { "close", "sigkill", NULL };

static const Outcome vm_outcomes[] = {
        { "close", OUTCOME_OK, "VM ran, then its fds were closed in order" },
        { "sigkill", OUTCOME_OK, "the VMM was SIGKILLed while a vCPU was inside KVM_RUN" },
        { "env-error", OUTCOME_ENV_ERROR, "the host refused a resource (EMFILE, ENOMEM, EBUSY)" },
        { "failure", OUTCOME_FAILURE, "an ioctl failed in a way KVM should not fail" },
};

static const KeySpec vm_keys[] = {
        { "VCPUs", KEY_UINT, offsetof(VmParams, vcpus), "1", 1, 1024, NULL, "vCPUs per VM" },
        { "MemorySlots", KEY_UINT, offsetof(VmParams, memslots), "1", 1, 32764, NULL, "memslots per VM" },
        { "SlotSize", KEY_SIZE, offsetof(VmParams, slot_size), "2M", 4096, 1ULL << 30, NULL, "size of each memslot" },
        { "Run", KEY_RANGE, offsetof(VmParams, run), "0..2ms", 0, 10 * NSEC_PER_SEC, NULL,
          "how long the guest runs before the VM ends" },
        { "End", KEY_WEIGHTED, offsetof(VmParams, end), "close", 1, 0, vm_end_names,
          "how the VM's life ends, WORD[:WEIGHT]" },
        {}
};

static int vm_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        return -EOPNOTSUPP;
}

const ActionType action_vm = {
        .name = "vm",
        .summary = "create a VM with memslots and vCPUs on /dev/kvm, run a tiny guest, end it abruptly",
        .flags = ACTION_ACTOR | ACTION_NEEDS_KVM,
        .keys = vm_keys,
        .params_size = sizeof(VmParams),
        .outcomes = vm_outcomes,
        .n_outcomes = ELEMENTSOF(vm_outcomes),
        .step = vm_step,
};
