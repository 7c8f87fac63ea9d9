/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Evidence sources wired to an event loop: /dev/kmsg read live through the
 * classifier, taint checked after every splat, and pstore records collected
 * into a run. Each finding goes to a sink (the engine) as a JSON item with
 * a title, so repeats collapse there.
 */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "kmsg.h"

typedef struct EvidenceMonitor EvidenceMonitor;

/* kind is an EvidenceKind; the item is not consumed. */
typedef int (*EvidenceSinkFn)(int kind, json_object *item, bool counted, void *userdata);

typedef struct EvidenceMonitorOptions {
        KmsgStart start;      /* where reading starts; KMSG_START_END for a new run */
        uint64_t after_seq;   /* skip records up to this one (resume); UINT64_MAX: no baseline yet */
        bool user_facility;   /* count lines userspace wrote to /dev/kmsg (tests only) */
        const char *kmsg_path; /* default /dev/kmsg */
} EvidenceMonitorOptions;

int evidence_monitor_new(sd_event *event, const EvidenceMonitorOptions *opts, EvidenceSinkFn sink, void *userdata,
                         EvidenceMonitor **ret);
EvidenceMonitor *evidence_monitor_free(EvidenceMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(EvidenceMonitor *, evidence_monitor_free);

/* Reads everything pending now and closes open reports (at the end of a run). */
int evidence_monitor_finish(EvidenceMonitor *m);
/* The last kmsg sequence number read (UINT64_MAX: none yet): a resumed run goes on after it. */
uint64_t evidence_monitor_last_seq(const EvidenceMonitor *m);
/* The taint value when the monitor started, and now. */
uint64_t evidence_monitor_taint_start(const EvidenceMonitor *m);
/* {"last_seq", "records", "gaps", "lost", "malformed", "taint_start", "taint_now"} */
json_object *evidence_monitor_stats_json(const EvidenceMonitor *m);

/*
 * Collects the pstore records in each of dirs into dest_dirfd (copy, fsync,
 * verify, then unlink unless keep), classifies their text and hands every
 * dump and report to the sink. Directories that do not exist are skipped.
 * Returns the number of records collected.
 */
int evidence_collect_pstore(const char *const *dirs, int dest_dirfd, bool keep, bool counted, EvidenceSinkFn sink,
                            void *userdata);

/*
 * In a crash kernel: reads the crashed kernel's log from the vmcore at
 * path (/proc/vmcore), saves it as NAME in dest_dirfd (synced), and hands
 * the sink the dump and every report classified in it (source "vmcore").
 * Returns the number of reports, or a negative errno (said in the log and
 * as an item).
 */
int evidence_collect_vmcore(const char *path, int dest_dirfd, const char *name, bool counted, EvidenceSinkFn sink,
                            void *userdata);
