/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The oom action's outcomes and metrics by index, for tests.
 */
#pragma once

#include "action.h"

extern const ActionType action_oom;

typedef enum OomOutcome {
        OOM_OUT_KILLED,           /* OOM-killed while touching memory, the group's counter moved */
        OOM_OUT_KILLED_SETUP,     /* OOM-killed while building its VM, the group's counter moved */
        OOM_OUT_EFAIL,            /* a KVM call failed at the limit (ENOMEM, EFAULT) instead of a kill */
        OOM_OUT_STOPPED,          /* the run ended first; the VMM was SIGKILLed by us */
        OOM_OUT_NOT_KILLED,       /* touched more than its limit and lived */
        OOM_OUT_KILLED_UNCOUNTED, /* died by SIGKILL, but no OOM kill counted in its group */
        OOM_OUT_TIMEOUT,          /* neither killed nor done within Timeout= */
        OOM_OUT_VMM_FAILED,       /* the VMM died otherwise, or KVM refused what it must not */
        OOM_OUT_KVM_GONE,
        OOM_OUT_UNAVAILABLE,      /* no memory cgroup controller, or the group could not be set up */
        OOM_OUT_ENV_ERROR,
        _OOM_OUT_MAX,
} OomOutcome;

typedef enum OomMetric {
        OOM_M_KILLS,       /* OOM kills counted by the VMMs' groups (memory.events / memory.oom_control) */
        OOM_M_EVENTS,      /* OOM notifications the groups sent (eventfd on v1, memory.events changes on v2) */
        OOM_M_TIME_MS,     /* from the first touch to the VMM's death, summed over steps */
        OOM_M_TOUCHED_MIB, /* memory the VMMs touched before they died */
        OOM_M_PEAK_MIB,    /* the groups' peak charge */
        OOM_M_VCPUS,       /* vCPUs the VMMs had when they died */
        OOM_M_MEMSLOTS,    /* memslots set when they died */
        OOM_M_PASSES,      /* guest passes (one per touched chunk, vCPU 0) */
        _OOM_M_MAX,
} OomMetric;
