/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names of run states and verdicts, as they appear in JSON, on the bus and in reports. */
#include "evidence.h"
#include "result.h"

static const char *const run_state_names[_RUN_STATE_MAX] = {
        [RUN_PREPARING] = "preparing",
        [RUN_RUNNING] = "running",
        [RUN_STOPPING] = "stopping",
        [RUN_FINISHED] = "finished",
};

static const char *const verdict_names[_VERDICT_MAX] = {
        [VERDICT_PASS] = "pass",
        [VERDICT_EVIDENCE] = "evidence",
        [VERDICT_ERROR] = "error",
        [VERDICT_INCOMPLETE] = "incomplete",
};

const char *run_state_to_string(RunState s)
{
        return s < _RUN_STATE_MAX ? run_state_names[s] : NULL;
}

const char *verdict_to_string(Verdict v)
{
        return v < _VERDICT_MAX ? verdict_names[v] : NULL;
}

int verdict_from_string(const char *s)
{
        for (int v = 0; v < _VERDICT_MAX; v++)
                if (streq(verdict_names[v], s))
                        return v;
        return -EINVAL;
}

int verdict_exit_code(Verdict v)
{
        switch (v) {
        case VERDICT_PASS:
                return EXIT_PASS;
        case VERDICT_EVIDENCE:
                return EXIT_EVIDENCE;
        case VERDICT_INCOMPLETE:
                return EXIT_INCOMPLETE;
        default:
                return EXIT_USAGE;
        }
}

const char *const evidence_kind_names[_EVIDENCE_KIND_MAX + 1] = {
        [EVIDENCE_WARNING] = "warning",
        [EVIDENCE_BUG] = "bug",
        [EVIDENCE_OOPS] = "oops",
        [EVIDENCE_GPF] = "gpf",
        [EVIDENCE_PAGING] = "paging",
        [EVIDENCE_KASAN] = "kasan",
        [EVIDENCE_KFENCE] = "kfence",
        [EVIDENCE_UBSAN] = "ubsan",
        [EVIDENCE_LOCKDEP] = "lockdep",
        [EVIDENCE_RCU_STALL] = "rcu-stall",
        [EVIDENCE_LOCKUP] = "lockup",
        [EVIDENCE_HUNG_TASK] = "hung-task",
        [EVIDENCE_PANIC] = "panic",
        [EVIDENCE_OOM] = "oom",
        [EVIDENCE_LEAK] = "leak",
        [EVIDENCE_TAINT] = "taint",
        [EVIDENCE_PSTORE] = "pstore",
        [EVIDENCE_REBOOT] = "reboot",
        [EVIDENCE_GAP] = "gap",
        [EVIDENCE_KMSAN] = "kmsan",
        [EVIDENCE_KCSAN] = "kcsan",
        [_EVIDENCE_KIND_MAX] = NULL,
};

const char *evidence_kind_to_string(EvidenceKind k)
{
        return k < _EVIDENCE_KIND_MAX ? evidence_kind_names[k] : NULL;
}

int evidence_kind_from_string(const char *s)
{
        for (int k = 0; k < _EVIDENCE_KIND_MAX; k++)
                if (streq(evidence_kind_names[k], s))
                        return k;
        return -EINVAL;
}
