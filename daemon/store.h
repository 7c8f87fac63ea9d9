/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The run store: STATE_DIR/runs/RUN-ID/ holds a run's profile copy, its
 * append-only journal, evidence/ and report.json. Whole files are written
 * atomically (temp file, fsync, rename, fsync the directory), so a crash or
 * reboot at any instant leaves either the old or the new file, never half.
 */
#pragma once

#include "util.h"

#define RUN_ID_MAX 64

typedef struct Store Store;

/* Opens (creating as needed) STATE_DIR and STATE_DIR/runs. */
int store_open(const char *state_dir, Store **ret);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);
const char *store_path(const Store *s);

/* A new run id: "YYYYMMDD-HHMMSS-XXXX", sortable by start time. */
int store_new_run_id(char ret[static RUN_ID_MAX]);
/* True if id looks like a run id (no path tricks). */
bool store_run_id_valid(const char *id);
/* Creates runs/ID and runs/ID/evidence; returns an O_DIRECTORY fd of runs/ID. */
int store_create_run(Store *s, const char *id, int *ret_dirfd);
int store_open_run(Store *s, const char *id, int *ret_dirfd);
/* Every run id, oldest first; NULL-terminated. */
int store_list_runs(Store *s, char ***ret_ids);
/*
 * Active runs: STATE_DIR/active/RUN-ID exists while a run is under way, so
 * that after a reboot, or a daemon or CLI that died, the daemon finds the
 * runs that did not end and resumes or closes them. The marker holds
 * "owner=daemon|cli" and "pid=N" lines.
 */
int store_mark_active(Store *s, const char *id, const char *owner);
int store_clear_active(Store *s, const char *id);
/* Every active run id, oldest first; NULL-terminated. */
int store_list_active(Store *s, char ***ret_ids);
/* The marker's owner ("daemon" or "cli") and pid. */
int store_read_active(Store *s, const char *id, char ret_owner[static 16], pid_t *ret_pid);

/* temp + fsync + rename + fsync(dir). */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len);
/* Reads a whole (small) file; NUL-terminated. */
int read_file_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len);
/* The kernel's boot id, without dashes removed: "0f1e…". */
int read_boot_id(char ret[static 37]);
