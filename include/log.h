/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging at the boundary, systemd style: helpers return negative errno and
 * do not log; the caller that decides logs once, with log_error_errno(r, …),
 * which returns r so it can end a function. Messages go to stderr; when
 * stderr is the journal (JOURNAL_STREAM) they carry <N> priority prefixes.
 */
#pragma once

#include <syslog.h>

#include "util.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Prefix every message with this tag (e.g. "worker vms/2"); NULL for none. */
void log_set_tag(const char *tag);
/* Re-check whether stderr is the journal (after fork or dup2). */
void log_open(void);

/* Returns -abs(error), or 0 when error is 0. %m in format prints strerror(error). */
int log_internal(int level, int error, const char *file, int line, const char *format, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal(level, error, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")
