/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Grouping log lines into reports, as they stream in. A report starts at a
 * header line (classify-title.c knows which) and collects the lines of its
 * context: with CONFIG_PRINTK_CALLER every task and CPU ("[ T123]", "[ C1]",
 * or a kmsg record's caller=) has its own report, so interleaved output of
 * two splats does not mix; without caller ids there is one report at a time
 * and the next header ends it, as syzkaller does. A report ends at its end
 * marker ("---[ end trace …]---", the "=====" line that closes a sanitizer
 * report) unless a panic follows and joins it, at the next header, after a
 * silence in the timestamps, at its size limit, or on classifier_flush().
 * Then the title engine names it and the callback gets it.
 */
#include <ctype.h>
#include <json-c/json.h>

#include "classify-internal.h"

#define CTX_MAX 24
#define RECENT_MAX 5 /* lines kept to show what came just before a report */
#define DELIM_MIN 20 /* a line of at least this many '=' delimits sanitizer reports */
#define MIN_TEXT_LINES 22
#define MIN_TEXT_LINES_KMSAN 16
#define BUFFER_REPORTS_MAX 4096

typedef struct Buf {
        char *p;
        size_t n, cap, max;
        bool full;
} Buf;

typedef enum PendingState {
        PENDING_OPEN,
        PENDING_ENDED,      /* end marker seen: only a panic that follows may still join */
        PENDING_PANIC_TAIL, /* that panic: until "---[ end Kernel panic" */
} PendingState;

typedef struct Pending {
        bool used;
        char ctx[CTX_MAX];
        bool task_ctx; /* a caller id: one report per caller */
        const OopsGroup *group;
        Buf raw, text;
        unsigned text_lines, min_lines;
        unsigned first_line, last_line;
        uint64_t first_seq, last_seq, ts_first, ts_last;
        bool skip_rest, panicked, cpu_traceback, delimited, has_trace, truncated;
        PendingState state;
} Pending;

typedef struct Line {
        const char *raw, *text;
        size_t raw_len, text_len;
        char ctx[CTX_MAX];
        bool task_ctx, cpu_ctx, questionable;
        bool live; /* from /dev/kmsg: its timestamps decide when a report is over */
        uint64_t seq, ts_usec;
} Line;

struct Classifier {
        unsigned flags;
        pcre2_match_data_8 *md;
        ClassifyReportFn fn;
        void *userdata;
        Pending pending[CLASSIFY_PENDING_MAX];
        unsigned lineno;
        /* classifier_feed(): the line not finished yet */
        char partial[CLASSIFY_LINE_MAX];
        size_t partial_len;
        bool partial_cut;
        /* the last few lines, for the report prefix */
        struct {
                char ctx[CTX_MAX];
                char *line;
        } recent[RECENT_MAX];
        size_t recent_next;
        bool prev_kmsg; /* the previous line was a /dev/kmsg record (dictionary lines may follow) */
        bool text_kmsg; /* feeding kmsg records parsed from text: a file, not live */
        /* was the previous line (in its context) a "=====" delimiter? */
        bool prev_delim;
        char prev_delim_ctx[CTX_MAX];
};

/* ---- small buffers ---- */

static void buf_free(Buf *b)
{
        free(b->p);
        *b = (Buf){};
}

/* Appends s and a newline; beyond b->max the text is dropped and b->full set. */
static int buf_line(Buf *b, const char *s, size_t n)
{
        if (b->full)
                return 0;
        if (b->n + n + 2 > b->max) {
                b->full = true;
                return 0;
        }
        if (b->n + n + 2 > b->cap) {
                size_t cap = MAX(b->cap * 2, MAX((size_t)4096, b->n + n + 2));
                char *p;

                cap = MIN(cap, b->max);
                p = realloc(b->p, cap);
                if (!p)
                        return -ENOMEM;
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n++] = '\n';
        b->p[b->n] = 0;
        return 0;
}

/* ---- reports ---- */

ClassifyReport *classify_report_free(ClassifyReport *r)
{
        if (!r)
                return NULL;
        free(r->title);
        strv_free(r->alt_titles);
        free(r->guilty);
        free(r->text);
        free(r);
        return NULL;
}

static char **strv_copy(char *const *l)
{
        size_t n = strv_length(l);
        char **c = calloc(n + 1, sizeof(char *));

        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(l[i]))) {
                        strv_free(c);
                        return NULL;
                }
        return c;
}

int classify_report_dup(const ClassifyReport *r, ClassifyReport **ret)
{
        _cleanup_(classify_report_freep) ClassifyReport *c = NULL;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = *r;
        c->title = c->guilty = c->text = NULL;
        c->alt_titles = NULL;
        c->title = strdup(r->title);
        c->alt_titles = strv_copy(r->alt_titles);
        c->guilty = r->guilty ? strdup(r->guilty) : NULL;
        c->text = malloc(r->text_len + 1);
        if (!c->title || !c->alt_titles || (r->guilty && !c->guilty) || !c->text)
                return -ENOMEM;
        memcpy(c->text, r->text, r->text_len);
        c->text[r->text_len] = 0;
        *ret = TAKE_PTR(c);
        return 0;
}

bool classify_report_has_title(const ClassifyReport *r, const char *s)
{
        if (streq(r->title, s))
                return true;
        for (char **a = r->alt_titles; a && *a; a++)
                if (streq(*a, s))
                        return true;
        return false;
}

static int json_add(struct json_object *o, const char *key, struct json_object *v)
{
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

struct json_object *classify_report_to_json(const ClassifyReport *r, bool with_text)
{
        struct json_object *o = json_object_new_object(), *alts;
        int k = 0;

        if (!o)
                return NULL;
        alts = json_object_new_array();
        if (!alts)
                goto fail;
        for (char **a = r->alt_titles; a && *a; a++) {
                struct json_object *s = json_object_new_string(*a);
                if (!s || json_object_array_add(alts, s) < 0) {
                        json_object_put(s);
                        json_object_put(alts);
                        goto fail;
                }
        }
        k |= json_add(o, "title", json_object_new_string(r->title));
        k |= json_add(o, "kind", json_object_new_string(strna(evidence_kind_to_string(r->kind))));
        if (r->guilty)
                k |= json_add(o, "guilty", json_object_new_string(r->guilty));
        else
                json_object_object_add(o, "guilty", NULL);
        k |= json_add(o, "first_line", json_object_new_int64(r->first_line));
        k |= json_add(o, "last_line", json_object_new_int64(r->last_line));
        k |= json_add(o, "corrupted", json_object_new_boolean(r->corrupted));
        k |= json_add(o, "panicked", json_object_new_boolean(r->panicked));
        k |= json_add(o, "truncated", json_object_new_boolean(r->truncated));
        k |= json_add(o, "alt_titles", alts);
        if (r->first_seq != UINT64_MAX) {
                k |= json_add(o, "first_seq", json_object_new_uint64(r->first_seq));
                k |= json_add(o, "last_seq", json_object_new_uint64(r->last_seq));
        }
        if (r->ts_usec != UINT64_MAX)
                k |= json_add(o, "ts_usec", json_object_new_uint64(r->ts_usec));
        if (with_text)
                k |= json_add(o, "text", json_object_new_string_len(r->text, (int)MIN(r->text_len, (size_t)INT32_MAX)));
        if (k)
                goto fail;
        return o;
fail:
        json_object_put(o);
        return NULL;
}

/* ---- classifier ---- */

int classifier_new(unsigned flags, ClassifyReportFn fn, void *userdata, Classifier **ret)
{
        Classifier *c;
        int r;

        r = classify_tables_init();
        if (r < 0)
                return r;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->md = oops_match_data_new();
        if (!c->md) {
                free(c);
                return -ENOMEM;
        }
        c->flags = flags;
        c->fn = fn;
        c->userdata = userdata;
        *ret = c;
        return 0;
}

static void pending_clear(Pending *p)
{
        buf_free(&p->raw);
        buf_free(&p->text);
        *p = (Pending){};
}

Classifier *classifier_free(Classifier *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < CLASSIFY_PENDING_MAX; i++)
                pending_clear(&c->pending[i]);
        for (size_t i = 0; i < RECENT_MAX; i++)
                free(c->recent[i].line);
        oops_match_data_free(c->md);
        free(c);
        return NULL;
}

bool classifier_has_pending(const Classifier *c)
{
        for (size_t i = 0; i < CLASSIFY_PENDING_MAX; i++)
                if (c->pending[i].used)
                        return true;
        return false;
}

unsigned classifier_lines(const Classifier *c)
{
        return c->lineno;
}

static int emit(Classifier *c, Pending *p)
{
        TitleResult t = {};
        ClassifyReport rep;
        int r;

        if (!p->used)
                return 0;
        r = oops_title(p->group, p->text.p ? p->text.p : "", p->text.n, &t);
        if (r < 0) {
                pending_clear(p);
                return r;
        }
        rep = (ClassifyReport){
                .kind = t.kind,
                .title = t.title,
                .alt_titles = t.alt_titles,
                .guilty = t.guilty,
                .corrupted = t.corrupted,
                .panicked = p->panicked,
                .truncated = p->truncated || p->raw.full,
                .first_line = p->first_line,
                .last_line = p->last_line,
                .first_seq = p->first_seq,
                .last_seq = p->last_seq,
                .ts_usec = p->ts_first,
                .text = p->raw.p ? p->raw.p : (char *)"",
                .text_len = p->raw.n,
        };
        r = c->fn ? c->fn(&rep, c->userdata) : 0;
        title_result_clear(&t);
        pending_clear(p);
        return r;
}

static int emit_line(Classifier *c, const Line *l, const OopsGroup *g)
{
        Pending one = {
                .used = true,
                .group = g,
                .raw.max = CLASSIFY_REPORT_TEXT_MAX,
                .text.max = CLASSIFY_ANALYSIS_MAX,
                .first_line = c->lineno,
                .last_line = c->lineno,
                .first_seq = l->seq,
                .last_seq = l->seq,
                .ts_first = l->ts_usec,
                .ts_last = l->ts_usec,
        };
        int r;

        r = buf_line(&one.text, l->text, l->text_len);
        if (r >= 0)
                r = buf_line(&one.raw, l->raw, l->raw_len);
        if (r < 0) {
                pending_clear(&one);
                return r;
        }
        return emit(c, &one);
}

/* Emits every open report, oldest first. */
int classifier_flush(Classifier *c)
{
        int r = 0;

        for (;;) {
                Pending *oldest = NULL;
                int k;

                for (size_t i = 0; i < CLASSIFY_PENDING_MAX; i++)
                        if (c->pending[i].used && (!oldest || c->pending[i].first_line < oldest->first_line))
                                oldest = &c->pending[i];
                if (!oldest)
                        break;
                k = emit(c, oldest);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

static bool is_delimiter(const char *s, size_t n)
{
        size_t eq = 0;

        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
                n--;
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '=')
                        return false;
                eq++;
        }
        return eq >= DELIM_MIN;
}

/* s[0..n) contains the string literal lit */
#define contains(s, n, lit) (find_str((s), (n), "" lit, sizeof(lit) - 1) != NULL)

static void remember(Classifier *c, const Line *l)
{
        size_t i = c->recent_next;
        char *copy = strndup(l->raw, MIN(l->raw_len, (size_t)CLASSIFY_LINE_MAX));

        if (!copy)
                return; /* only context for display: losing it is harmless */
        free(c->recent[i].line);
        c->recent[i].line = copy;
        strcpy(c->recent[i].ctx, l->ctx);
        c->recent_next = (i + 1) % RECENT_MAX;
}

static Pending *find_slot(Classifier *c, const Line *l)
{
        for (size_t i = 0; i < CLASSIFY_PENDING_MAX; i++) {
                Pending *p = &c->pending[i];
                if (!p->used)
                        continue;
                if (l->task_ctx ? (p->task_ctx && streq(p->ctx, l->ctx)) : !p->task_ctx)
                        return p;
        }
        return NULL;
}

static int open_report(Classifier *c, const Line *l, const OopsGroup *g, Pending **ret)
{
        Pending *p = NULL, *oldest = NULL;
        int r;

        for (size_t i = 0; i < CLASSIFY_PENDING_MAX && !p; i++) {
                if (!c->pending[i].used)
                        p = &c->pending[i];
                else if (!oldest || c->pending[i].first_line < oldest->first_line)
                        oldest = &c->pending[i];
        }
        if (!p) {
                /* Too many callers with open reports: the oldest is complete enough. */
                r = emit(c, oldest);
                if (r < 0)
                        return r;
                p = oldest;
        }
        *p = (Pending){
                .used = true,
                .task_ctx = l->task_ctx,
                .group = g,
                .raw.max = CLASSIFY_REPORT_TEXT_MAX,
                .text.max = CLASSIFY_ANALYSIS_MAX,
                .min_lines = oops_group_is_kmsan_line(l->text, l->text_len) ? MIN_TEXT_LINES_KMSAN : MIN_TEXT_LINES,
                .first_line = c->lineno,
                .first_seq = l->seq,
                .last_seq = l->seq,
                .ts_first = l->ts_usec,
                .ts_last = l->ts_usec,
                .delimited = c->prev_delim && streq(c->prev_delim_ctx, l->ctx),
        };
        strcpy(p->ctx, l->ctx);

        /* What came just before, in the same context ("------------[ cut here ]------------", …). */
        for (size_t k = 0; k < RECENT_MAX; k++) {
                size_t i = (c->recent_next + k) % RECENT_MAX;
                if (c->recent[i].line && streq(c->recent[i].ctx, l->ctx)) {
                        r = buf_line(&p->raw, c->recent[i].line, strlen(c->recent[i].line));
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < RECENT_MAX; i++) {
                free(c->recent[i].line);
                c->recent[i].line = NULL;
        }
        *ret = p;
        return 0;
}

/*
 * Adds a line to a report. Returns 1 when the report took it, 0 when the
 * report had ended and the line is not its (the report was emitted), < 0 on error.
 */
static int append(Classifier *c, Pending *p, const Line *l, bool header)
{
        bool panic_line = contains(l->text, l->text_len, "Kernel panic - not syncing");
        bool skip_line = false;
        int r;

        if (p->state == PENDING_ENDED) {
                /* only a panic right after the report is its consequence */
                if (!panic_line || (l->ts_usec != UINT64_MAX && p->ts_last != UINT64_MAX &&
                                    l->ts_usec > p->ts_last + CLASSIFY_IDLE_USEC)) {
                        r = emit(c, p);
                        return r < 0 ? r : 0;
                }
                p->state = PENDING_PANIC_TAIL;
        }

        if (!l->questionable || header)
                p->text_lines++;
        if (contains(l->text, l->text_len, "Disabling lock debugging due to kernel taint"))
                skip_line = true;
        else if (contains(l->text, l->text_len, "Sending NMI from CPU"))
                /* all CPUs' backtraces follow, each in its own context: they belong here */
                p->cpu_traceback = true;
        else if (p->text_lines > p->min_lines &&
                 (panic_line || contains(l->text, l->text_len, "WARNING: possible circular locking dependency detected")))
                /* a panic (panic_on_warn, …) or an induced lockdep report: the report proper is complete */
                p->skip_rest = true;
        if (panic_line)
                p->panicked = true;

        if ((header || (!l->questionable && !p->skip_rest && !skip_line)) && p->text_lines <= CLASSIFY_REPORT_LINES_MAX) {
                r = buf_line(&p->text, l->text, l->text_len);
                if (r < 0)
                        return r;
        }
        r = buf_line(&p->raw, l->raw, l->raw_len);
        if (r < 0)
                return r;
        p->last_line = c->lineno;
        if (l->seq != UINT64_MAX)
                p->last_seq = l->seq;
        if (l->ts_usec != UINT64_MAX)
                p->ts_last = l->ts_usec;
        if (contains(l->text, l->text_len, "Call Trace") || contains(l->text, l->text_len, "Call trace") ||
            contains(l->text, l->text_len, "backtrace:"))
                p->has_trace = true;

        if (contains(l->text, l->text_len, "---[ end Kernel panic")) {
                r = emit(c, p);
                return r < 0 ? r : 1;
        }
        if (p->state == PENDING_OPEN &&
            ((!header && (contains(l->text, l->text_len, "---[ end trace") ||
                          (p->delimited && is_delimiter(l->text, l->text_len)))) ||
             oops_group_ends_at(p->group, l->text, l->text_len))) {
                p->state = PENDING_ENDED;
                p->has_trace = true;
        }
        if (p->text_lines >= CLASSIFY_REPORT_LINES_MAX) {
                p->truncated = true;
                r = emit(c, p);
                return r < 0 ? r : 1;
        }
        return 1;
}

static int process_line(Classifier *c, const Line *l)
{
        const OopsGroup *g;
        Pending *p;
        int r;

        c->lineno++;

        g = oops_header_match(l->text, l->text_len, c->md);
        p = find_slot(c, l);

        /* Live from /dev/kmsg, a long silence in this context, or its clock going back (a new
         * boot), ends the report: nothing else would before the next splat. (A log file is
         * read whole, and logs pieced together keep their reports together, as syzkaller does.) */
        if (p && l->live && l->ts_usec != UINT64_MAX && p->ts_last != UINT64_MAX && streq(p->ctx, l->ctx) &&
            (l->ts_usec > p->ts_last + CLASSIFY_IDLE_USEC || l->ts_usec + 1000000 < p->ts_first)) {
                r = emit(c, p);
                if (r < 0)
                        return r;
                p = NULL;
        }

        if (g && oops_group_standalone(g)) {
                /* One line says it all (an OOM kill): its own report, now, and it neither ends
                 * nor joins the report it may be printed in the middle of. */
                r = emit_line(c, l, g);
                if (r < 0)
                        return r;
                g = NULL;
        }

        if (g && p && !oops_start_ignored(l->text, l->text_len) && !(p->task_ctx && !p->has_trace)) {
                /* The next report begins: this one is over. (A caller's report without its
                 * stack yet keeps a second header: "kernel BUG" after a Rust panic, …) */
                r = emit(c, p);
                if (r < 0)
                        return r;
                p = NULL;
        }

        /* Backtraces of other CPUs join the report that asked for them. */
        if (l->cpu_ctx)
                for (size_t i = 0; i < CLASSIFY_PENDING_MAX; i++) {
                        Pending *q = &c->pending[i];
                        if (q->used && q->cpu_traceback && q != p && !streq(q->ctx, l->ctx)) {
                                r = append(c, q, l, false);
                                if (r < 0)
                                        return r;
                        }
                }

        if (p && !p->task_ctx && !g && oops_info_with_stack(l->text, l->text_len)) {
                /* Another message with a stack trace ("vmalloc: allocation failure:", …) interleaved
                 * without caller ids: what follows would only mislead the frame search. */
                r = emit(c, p);
                if (r < 0)
                        return r;
                p = NULL;
        }
        if (p && (streq(p->ctx, l->ctx) || p->task_ctx)) {
                r = append(c, p, l, false);
                if (r < 0)
                        return r;
                if (r == 0)
                        p = NULL; /* it had ended: the line is not part of it */
                else
                        goto done;
        }

        if (g && !p) {
                r = open_report(c, l, g, &p);
                if (r < 0)
                        return r;
                r = append(c, p, l, true);
                if (r < 0)
                        return r;
                goto done;
        }
        remember(c, l);
done:
        c->prev_delim = is_delimiter(l->text, l->text_len);
        strcpy(c->prev_delim_ctx, l->ctx);
        return 0;
}

/* ---- console line prefixes ---- */

static size_t digits(const char *s, size_t n)
{
        size_t i = 0;
        while (i < n && isdigit((unsigned char)s[i]))
                i++;
        return i;
}

/* "<6>[   12.345678][ T123] " at s: the prefix length (0: none), the caller id and the time. */
static size_t match_timestamp(const char *s, size_t n, char ctx[static CTX_MAX], uint64_t *ts)
{
        size_t i = 0, d, sec_start, sec_len, frac_start, frac_len;
        uint64_t sec = 0, frac = 0;

        if (i < n && s[i] == '<') {
                d = digits(s + 1, n - 1);
                if (d && 1 + d < n && s[1 + d] == '>')
                        i = 2 + d;
        }
        if (i >= n || s[i] != '[')
                return 0;
        i++;
        while (i < n && s[i] == ' ')
                i++;
        sec_start = i;
        sec_len = digits(s + i, n - i);
        if (!sec_len)
                return 0;
        i += sec_len;
        if (i >= n || s[i] != '.')
                return 0;
        i++;
        frac_start = i;
        frac_len = digits(s + i, n - i);
        if (!frac_len)
                return 0;
        i += frac_len;
        if (i >= n || s[i] != ']')
                return 0;
        i++;
        strcpy(ctx, "console");
        if (i < n && s[i] == '[') {
                size_t j = i + 1;
                while (j < n && s[j] == ' ')
                        j++;
                if (j < n && (s[j] == 'T' || s[j] == 'C')) {
                        size_t k = digits(s + j + 1, n - j - 1);
                        if (k && k < CTX_MAX - 2 && j + 1 + k < n && s[j + 1 + k] == ']') {
                                memcpy(ctx, s + j, k + 1);
                                ctx[k + 1] = 0;
                                i = j + 2 + k;
                        }
                }
        }
        if (i >= n || s[i] != ' ')
                return 0;
        for (size_t k = 0; k < MIN(sec_len, (size_t)12); k++)
                sec = sec * 10 + (uint64_t)(s[sec_start + k] - '0');
        for (size_t k = 0; k < 6; k++)
                frac = frac * 10 + (k < frac_len ? (uint64_t)(s[frac_start + k] - '0') : 0);
        *ts = sec * 1000000 + frac;
        return i + 1;
}

/* syslog / journal: "Nov 22 02:19:00 host kernel: " or "2025-11-22T02:19:00+0000 host kernel: ". */
static size_t match_syslog_prefix(const char *s, size_t n)
{
        const char *k = find_str(s, MIN(n, (size_t)96), " kernel: ", 9);
        size_t i;

        if (!k)
                return 0;
        i = (size_t)(k - s);
        /* The part before " kernel: " must look like "DATE TIME HOST": no spaces in the host. */
        if (i < 10)
                return 0;
        if (!(isupper((unsigned char)s[0]) && islower((unsigned char)s[1]) && s[3] == ' ') &&
            !(digits(s, n) == 4 && s[4] == '-'))
                return 0;
        return i + 9;
}

static void parse_console_line(const char *s, size_t n, Line *l)
{
        size_t off = 0, k;
        const char *login = NULL;

        *l = (Line){ .raw = s, .raw_len = n, .text = s, .text_len = n, .seq = UINT64_MAX, .ts_usec = UINT64_MAX };

        /* "** 5 printk messages dropped ** " and "… login: " can stick in front of a line. */
        if (n > 3 && memcmp(s, "** ", 3) == 0) {
                size_t d = digits(s + 3, n - 3);
                if (d && n > 3 + d + 28 && memcmp(s + 3 + d, " printk messages dropped ** ", 28) == 0)
                        off = 3 + d + 28;
        }
        for (const char *p = s + off; (p = find_str(p, (size_t)(s + n - p), " login: ", 8)); p++)
                login = p + 8;
        if (login && (k = match_timestamp(login, (size_t)(s + n - login), l->ctx, &l->ts_usec)))
                off = (size_t)(login - s) + k;
        else if ((k = match_timestamp(s + off, n - off, l->ctx, &l->ts_usec)))
                off += k;
        else {
                l->ctx[0] = 0;
                l->ts_usec = UINT64_MAX;
                off = match_syslog_prefix(s, n);
                l->text = s + off;
                l->text_len = n - off;
                return;
        }
        /* "[  12.3] host kernel: …" (journalctl -o short-monotonic) */
        k = match_syslog_prefix(s + off, n - off);
        if (!k) {
                const char *kk = find_str(s + off, MIN(n - off, (size_t)72), " kernel: ", 9);
                if (kk && !memchr(s + off, ' ', (size_t)(kk - (s + off))))
                        k = (size_t)(kk - (s + off)) + 9;
        }
        off += k;
        l->text = s + off;
        l->text_len = n - off;
        l->task_ctx = l->ctx[0] == 'T' || l->ctx[0] == 'C';
        l->cpu_ctx = l->ctx[0] == 'C';
        /* " ? func+0x…" (x86) and "… (unreliable)" (powerpc) frames are the unwinder's
         * guesses: never the guilty frame */
        if ((find_str(l->text, l->text_len, " ? ", 3) ||
             (l->text_len >= 13 && memcmp(l->text + l->text_len - 13, " (unreliable)", 13) == 0)) &&
            !find_str(l->text, l->text_len, "<EOI>", 5))
                l->questionable = true;
}

/* "PRIO,SEQ,USEC,FLAGS[,…];": a line of `cat /dev/kmsg` */
static bool looks_like_kmsg(const char *s, size_t n)
{
        size_t i = 0;

        for (int field = 0; field < 3; field++) {
                size_t d = digits(s + i, n - i);
                if (!d || i + d >= n || s[i + d] != ',')
                        return false;
                i += d + 1;
        }
        if (i >= n || !strchr("-c+", s[i]))
                return false;
        return memchr(s + i, ';', n - i) != NULL;
}

int classifier_feed_line(Classifier *c, const char *line, size_t len)
{
        Line l;

        len = MIN(len, (size_t)CLASSIFY_LINE_MAX);
        while (len > 0 && line[len - 1] == '\r')
                len--;

        /* A /dev/kmsg dump: records (with their facility) and their " KEY=VALUE" dictionary lines. */
        if (looks_like_kmsg(line, len)) {
                KmsgRecord rec;
                int r = kmsg_record_parse(line, len, &rec);

                if (r == 0) {
                        c->prev_kmsg = true;
                        c->text_kmsg = true;
                        r = classifier_feed_kmsg(c, &rec);
                        c->text_kmsg = false;
                        kmsg_record_clear(&rec);
                        return r;
                }
                if (r == -ENOMEM)
                        return r;
        } else if (c->prev_kmsg && len > 1 && line[0] == ' ' && memchr(line, '=', len)) {
                c->lineno++;
                return 0;
        }
        c->prev_kmsg = false;
        parse_console_line(line, len, &l);
        return process_line(c, &l);
}

int classifier_feed(Classifier *c, const char *buf, size_t len)
{
        const char *p = buf, *end = buf + len;
        int r;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

                if (c->partial_len > 0 || !nl) {
                        /* Complete the buffered line; what does not fit in a line is cut off. */
                        size_t room = sizeof c->partial - c->partial_len;
                        size_t take = MIN(n, room);

                        memcpy(c->partial + c->partial_len, p, take);
                        c->partial_len += take;
                        if (take < n)
                                c->partial_cut = true;
                        if (nl) {
                                r = classifier_feed_line(c, c->partial, c->partial_len);
                                c->partial_len = 0;
                                c->partial_cut = false;
                                if (r < 0)
                                        return r;
                        }
                } else {
                        r = classifier_feed_line(c, p, n);
                        if (r < 0)
                                return r;
                }
                p = nl ? nl + 1 : end;
        }
        return 0;
}

int classifier_feed_kmsg(Classifier *c, const KmsgRecord *rec)
{
        const char *p = rec->text, *end = rec->text + rec->text_len;
        int r;

        if (rec->facility != KMSG_FACILITY_KERNEL && !(c->flags & CLASSIFY_USER_FACILITY)) {
                /* Userspace wrote this: it can claim anything, it is not the kernel speaking. */
                c->lineno++;
                return 0;
        }
        do {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = MIN(nl ? (size_t)(nl - p) : (size_t)(end - p), (size_t)CLASSIFY_LINE_MAX);
                Line l = {
                        .raw = p,
                        .raw_len = n,
                        .text = p,
                        .text_len = n,
                        .seq = rec->seq,
                        .ts_usec = rec->ts_usec,
                        .live = !c->text_kmsg,
                };

                if (rec->caller[0]) {
                        snprintf(l.ctx, sizeof l.ctx, "%s", rec->caller);
                        l.task_ctx = rec->caller[0] == 'T' || rec->caller[0] == 'C';
                        l.cpu_ctx = rec->caller[0] == 'C';
                } else
                        strcpy(l.ctx, "console");
                if (find_str(l.text, l.text_len, " ? ", 3) && !find_str(l.text, l.text_len, "<EOI>", 5))
                        l.questionable = true;
                r = process_line(c, &l);
                if (r < 0)
                        return r;
                p = nl ? nl + 1 : end;
        } while (p < end);
        return 0;
}

/* ---- whole buffers ---- */

typedef struct Collect {
        ClassifyReport **v;
        size_t n;
} Collect;

static int collect_report(const ClassifyReport *r, void *userdata)
{
        Collect *col = userdata;
        ClassifyReport *copy, **v;
        int k;

        if (col->n >= BUFFER_REPORTS_MAX)
                return 0;
        k = classify_report_dup(r, &copy);
        if (k < 0)
                return k;
        v = realloc(col->v, (col->n + 1) * sizeof *v);
        if (!v) {
                classify_report_free(copy);
                return -ENOMEM;
        }
        col->v = v;
        col->v[col->n++] = copy;
        return 0;
}

void classify_reports_free(ClassifyReport **reports, size_t n)
{
        for (size_t i = 0; i < n; i++)
                classify_report_free(reports[i]);
        free(reports);
}

int classify_buffer(const char *buf, size_t len, unsigned flags, ClassifyReport ***ret, size_t *ret_n)
{
        _cleanup_(classifier_freep) Classifier *c = NULL;
        Collect col = {};
        int r;

        r = classifier_new(flags, collect_report, &col, &c);
        if (r < 0)
                return r;
        r = classifier_feed(c, buf, len);
        if (r >= 0) {
                if (c->partial_len > 0) {
                        r = classifier_feed_line(c, c->partial, c->partial_len);
                        c->partial_len = 0;
                }
                if (r >= 0)
                        r = classifier_flush(c);
        }
        if (r < 0) {
                classify_reports_free(col.v, col.n);
                return r;
        }
        *ret = col.v;
        *ret_n = col.n;
        return 0;
}

/* ---- deduplication ---- */

struct TitleTable {
        TitleEntry *entries;
        size_t n, max;
        size_t *index; /* open addressing: entry number + 1, 0 empty */
        size_t index_size;
        uint64_t overflow;
};

static uint64_t hash_str(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        return h;
}

int title_table_new(size_t max_entries, TitleTable **ret)
{
        TitleTable *t;

        if (max_entries == 0 || max_entries > (1U << 20))
                return -EINVAL;
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->max = max_entries;
        t->index_size = 16;
        while (t->index_size < max_entries * 2)
                t->index_size *= 2;
        t->index = calloc(t->index_size, sizeof *t->index);
        t->entries = calloc(max_entries, sizeof *t->entries);
        if (!t->index || !t->entries) {
                title_table_free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

TitleTable *title_table_free(TitleTable *t)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                free(t->entries[i].title);
        free(t->entries);
        free(t->index);
        free(t);
        return NULL;
}

static size_t *title_slot(const TitleTable *t, const char *title)
{
        size_t mask = t->index_size - 1;

        for (size_t i = hash_str(title) & mask;; i = (i + 1) & mask) {
                if (t->index[i] == 0 || streq(t->entries[t->index[i] - 1].title, title))
                        return &t->index[i];
        }
}

const TitleEntry *title_table_find(const TitleTable *t, const char *title)
{
        size_t *slot = title_slot(t, title);
        return *slot ? &t->entries[*slot - 1] : NULL;
}

int title_table_add(TitleTable *t, const char *title, EvidenceKind kind, uint64_t when, const TitleEntry **ret_entry)
{
        size_t *slot = title_slot(t, title);
        TitleEntry *e;

        if (*slot) {
                e = &t->entries[*slot - 1];
                e->count++;
                e->first_seen = MIN(e->first_seen, when);
                e->last_seen = MAX(e->last_seen, when);
                if (ret_entry)
                        *ret_entry = e;
                return 0;
        }
        if (t->n >= t->max) {
                t->overflow++;
                return -ENOSPC;
        }
        e = &t->entries[t->n];
        e->title = strdup(title);
        if (!e->title)
                return -ENOMEM;
        e->kind = kind;
        e->count = 1;
        e->first_seen = e->last_seen = when;
        *slot = ++t->n;
        if (ret_entry)
                *ret_entry = e;
        return 1;
}

size_t title_table_size(const TitleTable *t)
{
        return t->n;
}

const TitleEntry *title_table_get(const TitleTable *t, size_t i)
{
        return i < t->n ? &t->entries[i] : NULL;
}

uint64_t title_table_overflow(const TitleTable *t)
{
        return t->overflow;
}

struct json_object *title_table_to_json(const TitleTable *t)
{
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < t->n; i++) {
                const TitleEntry *e = &t->entries[i];
                struct json_object *o = json_object_new_object();
                int k = 0;

                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
                k |= json_add(o, "title", json_object_new_string(e->title));
                k |= json_add(o, "kind", json_object_new_string(strna(evidence_kind_to_string(e->kind))));
                k |= json_add(o, "count", json_object_new_uint64(e->count));
                k |= json_add(o, "first_seen", json_object_new_uint64(e->first_seen));
                k |= json_add(o, "last_seen", json_object_new_uint64(e->last_seen));
                if (k) {
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}
