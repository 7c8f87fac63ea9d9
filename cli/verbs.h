/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CLI's verbs. Each parses its own options (argv[0] is the verb's name)
 * and returns the process exit code (see include/result.h).
 */
#pragma once

#include <json-c/json.h>

int verb_run(int argc, char *argv[]);
int verb_resume(int argc, char *argv[]);
int verb_validate(int argc, char *argv[]);
int verb_check(int argc, char *argv[]);
int verb_start(int argc, char *argv[]);
int verb_stop(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_runs(int argc, char *argv[]);
int verb_show(int argc, char *argv[]);
int verb_evidence(int argc, char *argv[]);
/* hvtorture classify [--json] [--user-facility] FILE…|-   and   hvtorture classify --corpus DIR [-v] */
int verb_classify(int argc, char *argv[]);
/* hvtorture vmcore-dmesg [--json] [PATH]: a crashed kernel's log from its crash dump (default /proc/vmcore) */
int verb_vmcore_dmesg(int argc, char *argv[]);

/* Shared by the verbs. */
void print_json(json_object *o);
/* Writes the report as JUnit XML to path ("-" for stdout). Returns 0 or an exit code. */
int write_junit(json_object *report, const char *path);
/* PROFILE may be a path or the name of a shipped profile ("smoke"); ret is allocated. */
int resolve_profile(const char *arg, char **ret);
