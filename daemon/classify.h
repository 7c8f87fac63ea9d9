/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel splat classifier: groups log lines into reports and gives each the
 * title syzbot would give it ("WARNING in kvm_arch_vcpu_ioctl_run",
 * "KASAN: use-after-free Read in f", "possible deadlock in f", …), so a title
 * found on a lab host can be looked up on syzbot and identical splats
 * collapse onto one evidence item.
 *
 * It is streaming: feed console text or /dev/kmsg records as they arrive,
 * reports come out through a callback as soon as they are complete (an end
 * marker, the next splat, a size limit, a long silence in the timestamps, or
 * classifier_flush()). Every buffer it keeps is bounded, whatever the input.
 *
 * Input forms: console logs with or without "[  12.345678]" timestamps and
 * "[ T123]"/"[ C1]" caller ids, syslog/journal "… kernel: " lines, and
 * /dev/kmsg records (KmsgRecord). Records of a facility other than kernel
 * (anything userspace writes into /dev/kmsg) never start or join a report
 * unless CLASSIFY_USER_FACILITY is set (tests opt in with it).
 */
#pragma once

#include <stdint.h>

#include "evidence.h"
#include "kmsg.h"
#include "util.h"

struct json_object;

/* Bounds: what one report may hold. */
#define CLASSIFY_LINE_MAX 4096U           /* longer input lines are cut */
#define CLASSIFY_REPORT_TEXT_MAX 262144U  /* raw text kept per report */
#define CLASSIFY_ANALYSIS_MAX 131072U     /* text the title is computed from */
#define CLASSIFY_REPORT_LINES_MAX 2000U   /* lines per report, then it is closed */
#define CLASSIFY_PENDING_MAX 16U          /* reports open at once (one per caller id) */
#define CLASSIFY_TITLE_MAX 120U           /* syzbot cuts titles here */
#define CLASSIFY_IDLE_USEC (10U * 1000000U) /* a silence this long in the timestamps closes a report */

typedef enum ClassifyFlags {
        /* Let facility != kernel records start and join reports (tests writing to /dev/kmsg). */
        CLASSIFY_USER_FACILITY = 1U << 0,
} ClassifyFlags;

typedef struct ClassifyReport {
        EvidenceKind kind;
        char *title;       /* syzbot style, at most CLASSIFY_TITLE_MAX chars */
        char **alt_titles; /* NULL-terminated, never NULL: alternative titles syzbot also matches on */
        char *guilty;      /* the guilty function, NULL when none was found (title "… in corrupted") */
        bool corrupted;    /* no usable frame, or a report format known to be truncated */
        bool panicked;     /* a "Kernel panic - not syncing" belonged to it */
        bool truncated;    /* text hit CLASSIFY_REPORT_TEXT_MAX or the line limit */
        unsigned first_line, last_line; /* 1-based input line (text) or record (kmsg) numbers */
        uint64_t first_seq, last_seq;   /* kmsg sequence numbers, UINT64_MAX for text input */
        uint64_t ts_usec;               /* kernel timestamp of the first line, UINT64_MAX if unknown */
        char *text;                     /* the report's lines as read (bounded), NUL-terminated */
        size_t text_len;
} ClassifyReport;

ClassifyReport *classify_report_free(ClassifyReport *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(ClassifyReport *, classify_report_free);
int classify_report_dup(const ClassifyReport *r, ClassifyReport **ret);
/* Title or any alternative title equal to s. */
bool classify_report_has_title(const ClassifyReport *r, const char *s);

/*
 * {"title","kind","guilty","first_line","last_line","corrupted","panicked",
 *  "alt_titles":[…], "first_seq"/"last_seq"/"ts_usec" when known, "text" if with_text}
 */
struct json_object *classify_report_to_json(const ClassifyReport *r, bool with_text);

/* The report is only valid during the call; copy what you keep (classify_report_dup). */
typedef int (*ClassifyReportFn)(const ClassifyReport *r, void *userdata);

typedef struct Classifier Classifier;

int classifier_new(unsigned flags, ClassifyReportFn fn, void *userdata, Classifier **ret);
Classifier *classifier_free(Classifier *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Classifier *, classifier_free);

/* Arbitrary chunks of log text; lines are split on '\n' ('\r' dropped). A negative callback return is passed up. */
int classifier_feed(Classifier *c, const char *buf, size_t len);
/* One line of log text, without its newline. */
int classifier_feed_line(Classifier *c, const char *line, size_t len);
/* One /dev/kmsg record (multi-line texts are split; the facility rule above applies). */
int classifier_feed_kmsg(Classifier *c, const KmsgRecord *rec);
/* Ends every open report (end of input, or the live stream has been quiet for a while). */
int classifier_flush(Classifier *c);
/*
 * Whether a report is open (waiting for more lines or for its end to be
 * confirmed). Live, arm a timer when this turns true and call
 * classifier_flush() once kmsg has been quiet for about a second.
 */
bool classifier_has_pending(const Classifier *c);
/* Input lines (or records) seen so far. */
unsigned classifier_lines(const Classifier *c);

/* Whole buffer at once: *ret is a newly allocated array of *ret_n reports (free with classify_reports_free). */
int classify_buffer(const char *buf, size_t len, unsigned flags, ClassifyReport ***ret, size_t *ret_n);
void classify_reports_free(ClassifyReport **reports, size_t n);

/*
 * The evidence kind a syzbot-style title belongs to ("WARNING in f" → warning,
 * "possible deadlock in f" → lockdep, "kernel panic: …" → panic, …).
 */
EvidenceKind classify_title_kind(const char *title);
/* "KASAN: use-after-free Read in f" → length of "KASAN: use-after-free Read": the part before " in ". */
size_t classify_title_kind_prefix(const char *title);

/* ---- Deduplication: identical titles collapse into one entry with a count ---- */

typedef struct TitleEntry {
        char *title;
        EvidenceKind kind;
        uint64_t count;
        uint64_t first_seen, last_seen; /* whatever clock the caller passes (e.g. CLOCK_REALTIME usec) */
} TitleEntry;

typedef struct TitleTable TitleTable;

/* max_entries bounds the table; titles beyond it are only counted (title_table_overflow). */
int title_table_new(size_t max_entries, TitleTable **ret);
TitleTable *title_table_free(TitleTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TitleTable *, title_table_free);
/*
 * Counts one occurrence. Returns 1 when the title is new, 0 when it was
 * already there, -ENOSPC when the table is full (the occurrence is counted
 * in title_table_overflow), -ENOMEM. *ret_entry (optional) points at the entry.
 */
int title_table_add(TitleTable *t, const char *title, EvidenceKind kind, uint64_t when, const TitleEntry **ret_entry);
size_t title_table_size(const TitleTable *t);
const TitleEntry *title_table_get(const TitleTable *t, size_t i); /* in order of first appearance */
const TitleEntry *title_table_find(const TitleTable *t, const char *title);
uint64_t title_table_overflow(const TitleTable *t);
/* [{"title","kind","count","first_seen","last_seen"}, …] */
struct json_object *title_table_to_json(const TitleTable *t);
