/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Evidence kinds: what the kernel (or the host) can leave behind that makes
 * a run fail. The profile's [Evidence] StopOn= names these.
 */
#pragma once

typedef enum EvidenceKind {
        EVIDENCE_WARNING,
        EVIDENCE_BUG,
        EVIDENCE_OOPS,
        EVIDENCE_GPF,
        EVIDENCE_PAGING,
        EVIDENCE_KASAN,
        EVIDENCE_KFENCE,
        EVIDENCE_UBSAN,
        EVIDENCE_LOCKDEP,
        EVIDENCE_RCU_STALL,
        EVIDENCE_LOCKUP,
        EVIDENCE_HUNG_TASK,
        EVIDENCE_PANIC,
        EVIDENCE_OOM,
        EVIDENCE_LEAK,
        EVIDENCE_TAINT,
        EVIDENCE_PSTORE,
        EVIDENCE_REBOOT, /* a reboot the run did not plan */
        EVIDENCE_GAP,    /* kmsg records lost (overrun): the record is incomplete */
        EVIDENCE_KMSAN,  /* KMSAN: uninit-value, kernel-infoleak */
        EVIDENCE_KCSAN,  /* KCSAN: data-race */
        _EVIDENCE_KIND_MAX,
} EvidenceKind;

const char *evidence_kind_to_string(EvidenceKind k);
int evidence_kind_from_string(const char *s); /* EvidenceKind or -EINVAL */
/* NULL-terminated list of every kind's name, for key tables. */
extern const char *const evidence_kind_names[];
