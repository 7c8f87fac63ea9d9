/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Between the classifier's line grouping (classify.c) and its title engine
 * (classify-title.c): which lines start a report, which end one, and how a
 * grouped report becomes a title.
 */
#pragma once

#include "classify.h"

/*
 * memmem() for the short lines and needles here: glibc's memmem prepares a
 * shift table on every call, which costs more than the search itself.
 */
static inline const char *find_str(const char *s, size_t n, const char *needle, size_t nl)
{
        const char *p = s, *end = s + n;

        if (nl == 0)
                return s;
        while (p + nl <= end && (p = memchr(p, needle[0], (size_t)(end - p - nl + 1)))) {
                if (memcmp(p + 1, needle + 1, nl - 1) == 0)
                        return p;
                p++;
        }
        return NULL;
}

typedef struct OopsGroup OopsGroup;

/* Compiles the format tables once per process. 0, -ENOMEM or -EINVAL (a bad built-in pattern). */
int classify_tables_init(void);

/* Per caller (a Classifier): scratch space for matching header lines. */
typedef struct pcre2_real_match_data_8 pcre2_match_data_8;
pcre2_match_data_8 *oops_match_data_new(void);
void oops_match_data_free(pcre2_match_data_8 *md);
/* The report kind whose header this line carries (after its ignore list), or NULL. */
const OopsGroup *oops_header_match(const char *line, size_t len, pcre2_match_data_8 *md);
/* A header that does not start a second report while one is open ("Kernel panic - not syncing", …). */
bool oops_start_ignored(const char *line, size_t len);
/* Informational messages with a stack ("FAULT_INJECTION: forcing a failure"): they end a report. */
bool oops_info_with_stack(const char *line, size_t len);
/* The line completes a report of this group (the OOM killer's "Killed process"). */
bool oops_group_ends_at(const OopsGroup *g, const char *line, size_t len);
/* The header line alone is the report (an OOM kill). */
bool oops_group_standalone(const OopsGroup *g);
/* KMSAN reports are shorter before their panic line (see classify.c). */
bool oops_group_is_kmsan_line(const char *line, size_t len);

typedef struct TitleResult {
        char *title;
        char **alt_titles; /* NULL-terminated */
        char *guilty;      /* NULL when none */
        bool corrupted;
        EvidenceKind kind;
} TitleResult;

void title_result_clear(TitleResult *t);

/*
 * Computes the title of a report of group g from its analysis text (lines
 * without timestamps and caller ids, '\n' separated, the header line first).
 */
int oops_title(const OopsGroup *g, const char *text, size_t len, TitleResult *ret);

/* Applies syzbot's normalisation (ADDR, NUM, LINE, …) and the 120-char cut. Returns a new string. */
char *title_sanitize(const char *title);

/* Rust v0 symbol demangling (a subset: paths, impls, generics skipped); NULL when not a Rust symbol. */
char *rust_demangle(const char *sym);
