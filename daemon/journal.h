/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The run journal: append-only, one JSON object a line (JSON Lines), each
 * line one write() so a killed writer leaves whole lines. Lines that matter
 * across a crash or reboot (run start, trigger intent, evidence, run end)
 * are fdatasync'd before the caller goes on. A short write (disk full) is
 * rolled back so a later line never glues onto a torn one; readers skip a
 * torn last line after power loss.
 */
#pragma once

#include <json-c/json.h>

#include "util.h"

typedef struct Journal Journal;

typedef enum JournalSync {
        JOURNAL_NOSYNC, /* counters, steps: the page cache is enough against a killed process */
        JOURNAL_SYNC,   /* state changes that must survive a crash or reboot */
} JournalSync;

/* Opens or creates NAME in dirfd for appending. */
int journal_open(int dirfd, const char *name, Journal **ret);
Journal *journal_free(Journal *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Journal *, journal_free);

/*
 * Appends record (adding "ts", wall-clock µs, and "mono", CLOCK_MONOTONIC
 * µs, if absent). The record is not consumed.
 */
int journal_append(Journal *j, json_object *record, JournalSync sync);
int journal_sync(Journal *j);
uint64_t journal_lines(const Journal *j);

/*
 * Reads every complete line of NAME in dirfd, calling cb for each parsed
 * object. A torn or unparsable line is counted in *ret_bad (if given) and
 * skipped. cb returning < 0 stops and returns that.
 */
int journal_read(int dirfd, const char *name, int (*cb)(json_object *record, void *userdata), void *userdata,
                 unsigned *ret_bad);
