/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reports for people: report.json rendered as the text the CLI prints at
 * the end of a run and for `show`. Works from the JSON alone, so a report
 * from another host or an older run renders the same way.
 */
#pragma once

#include <json-c/json.h>

#include "util.h"

/* "2026-11-22T02:10:36.123Z" from CLOCK_REALTIME ns. */
char *format_timestamp_iso(char *buf, size_t len, uint64_t realtime_ns);
void report_print_text(json_object *report, FILE *f);
/* Helpers for reading report JSON defensively (absent keys give defaults). */
const char *json_get_str(json_object *o, const char *key, const char *def);
int64_t json_get_int(json_object *o, const char *key, int64_t def);
double json_get_double(json_object *o, const char *key, double def);

/*
 * The report as JUnit XML, for CI systems that gate a rollout: one testsuite
 * per run, a testcase per actor and trigger (failed if a step failed), and
 * a failed testcase per evidence item with its title, kind and raw text.
 */
void report_print_junit(json_object *report, FILE *f);
