/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Typed values for unit-file style configuration: booleans as systemd
 * writes them, durations ("20ms", "10min", "2h"), ranges ("20ms..200ms"),
 * sizes ("2M"), word lists and weighted choices ("sigkill shared-fd:4").
 * Errors are collected with their file, line, section, key and value, and
 * say what is allowed.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>

#include "conf.h"

void conf_errors_clear(ConfErrors *e)
{
        for (size_t i = 0; i < e->n; i++) {
                free(e->items[i].file);
                free(e->items[i].section);
                free(e->items[i].key);
                free(e->items[i].value);
                free(e->items[i].message);
        }
        free(e->items);
        *e = (ConfErrors){};
}

static char *strdup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

int conf_error(ConfErrors *e, const char *file, unsigned line, const char *section, const char *key,
               const char *value, const char *format, ...)
{
        ConfError *n;
        va_list ap;
        char *msg = NULL;

        /* A file full of garbage should not make us allocate without bound. */
        if (e->n >= 100)
                return -EINVAL;
        n = realloc(e->items, (e->n + 1) * sizeof *n);
        if (!n)
                return -EINVAL;
        e->items = n;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        e->items[e->n++] = (ConfError){
                .file = strdup_or_null(file),
                .line = line,
                .section = strdup_or_null(section),
                .key = strdup_or_null(key),
                .value = strdup_or_null(value),
                .message = msg,
        };
        return -EINVAL;
}

char *conf_error_format(const ConfError *e)
{
        char *s = NULL;
        char sec[96] = "", kv[320] = "";

        if (e->section)
                snprintf(sec, sizeof sec, "[%s] ", e->section);
        if (e->key)
                snprintf(kv, sizeof kv, "%s=%s: ", e->key, strempty(e->value));
        if (asprintf(&s, "%s:%u: %s%s%s", strna(e->file), e->line, sec, kv, strna(e->message)) < 0)
                return NULL;
        return s;
}

void conf_errors_print(const ConfErrors *e, FILE *f)
{
        for (size_t i = 0; i < e->n; i++) {
                _cleanup_free_ char *s = conf_error_format(&e->items[i]);
                fprintf(f, "%s\n", s ? s : "(out of memory)");
        }
}

/* ---- scalar parsers ---- */

int parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcaseeq(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcaseeq(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

int parse_uint64(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Parses "<number><unit>" pieces; table gives unit suffixes and their multipliers. */
typedef struct Unit {
        const char *suffix;
        uint64_t mult;
} Unit;

static int parse_with_units(const char *s, const Unit *units, size_t n_units, uint64_t default_mult,
                            bool allow_sum, uint64_t *ret)
{
        uint64_t total = 0;
        const char *p = s;
        bool any = false;

        while (*p) {
                char *end;
                unsigned long long v;
                uint64_t mult = default_mult;
                size_t best = 0;

                while (isspace((unsigned char)*p))
                        p++;
                if (!*p)
                        break;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                if (any && !allow_sum)
                        return -EINVAL;
                errno = 0;
                v = strtoull(p, &end, 10);
                if (errno == ERANGE)
                        return -ERANGE;
                p = end;
                while (*p == ' ')
                        p++;
                /* The longest matching suffix wins ("ms" over "m", "min" over "m"). */
                for (size_t i = 0; i < n_units; i++) {
                        size_t l = strlen(units[i].suffix);
                        if (l > best && strncmp(p, units[i].suffix, l) == 0 &&
                            !isalpha((unsigned char)p[l])) {
                                best = l;
                                mult = units[i].mult;
                        }
                }
                if (best == 0 && isalpha((unsigned char)*p))
                        return -EINVAL;
                p += best;
                if (v != 0 && mult > UINT64_MAX / v)
                        return -ERANGE;
                if (total > UINT64_MAX - v * mult)
                        return -ERANGE;
                total += v * mult;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_ns)
{
        static const Unit units[] = {
                { "ns", 1ULL },
                { "us", NSEC_PER_USEC },
                { "usec", NSEC_PER_USEC },
                { "ms", NSEC_PER_MSEC },
                { "msec", NSEC_PER_MSEC },
                { "s", NSEC_PER_SEC },
                { "sec", NSEC_PER_SEC },
                { "m", 60 * NSEC_PER_SEC },
                { "min", 60 * NSEC_PER_SEC },
                { "h", 3600 * NSEC_PER_SEC },
                { "hr", 3600 * NSEC_PER_SEC },
                { "d", 86400 * NSEC_PER_SEC },
        };

        if (streq(s, "infinity")) {
                *ret_ns = UINT64_MAX;
                return 0;
        }
        /* A bare number is seconds, as in systemd. */
        return parse_with_units(s, units, ELEMENTSOF(units), NSEC_PER_SEC, true, ret_ns);
}

int parse_size(const char *s, uint64_t *ret)
{
        static const Unit units[] = {
                { "B", 1ULL },        { "K", 1ULL << 10 },  { "KiB", 1ULL << 10 }, { "M", 1ULL << 20 },
                { "MiB", 1ULL << 20 }, { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 }, { "T", 1ULL << 40 },
        };
        return parse_with_units(s, units, ELEMENTSOF(units), 1, false, ret);
}

static int split_range(const char *s, char **lo, char **hi)
{
        const char *dots = strstr(s, "..");

        if (!dots) {
                *lo = strdup(s);
                *hi = strdup(s);
        } else {
                *lo = strndup(s, (size_t)(dots - s));
                *hi = strdup(dots + 2);
        }
        if (!*lo || !*hi) {
                free(*lo);
                free(*hi);
                return -ENOMEM;
        }
        return 0;
}

static int parse_range_with(const char *s, int (*parse)(const char *, uint64_t *), Range *ret)
{
        _cleanup_free_ char *lo = NULL, *hi = NULL;
        Range r;
        int k;

        k = split_range(s, &lo, &hi);
        if (k < 0)
                return k;
        k = parse(lo, &r.lo);
        if (k < 0)
                return k;
        k = parse(hi, &r.hi);
        if (k < 0)
                return k;
        if (r.lo > r.hi)
                return -EDOM;
        *ret = r;
        return 0;
}

int parse_range(const char *s, Range *ret)
{
        return parse_range_with(s, parse_duration, ret);
}

int parse_uint_range(const char *s, Range *ret)
{
        return parse_range_with(s, parse_uint64, ret);
}

char *format_duration(char *buf, size_t len, uint64_t ns)
{
        static const struct {
                const char *suffix;
                uint64_t ns;
        } units[] = {
                { "d", 86400 * NSEC_PER_SEC }, { "h", 3600 * NSEC_PER_SEC }, { "min", 60 * NSEC_PER_SEC },
                { "s", NSEC_PER_SEC },         { "ms", NSEC_PER_MSEC },       { "us", NSEC_PER_USEC },
                { "ns", 1 },
        };
        size_t used = 0;

        if (ns == UINT64_MAX) {
                snprintf(buf, len, "infinity");
                return buf;
        }
        if (ns == 0) {
                snprintf(buf, len, "0");
                return buf;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(units) && ns > 0; i++) {
                uint64_t n = ns / units[i].ns;
                if (n == 0)
                        continue;
                /* Two components at most: "1h 30min", never "1h 30min 2s 5ms". */
                if (used > 0 && strchr(buf, ' '))
                        break;
                used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%" PRIu64 "%s",
                                         used ? " " : "", n, units[i].suffix);
                ns -= n * units[i].ns;
                if (used >= len)
                        break;
        }
        return buf;
}

char *format_size(char *buf, size_t len, uint64_t bytes)
{
        static const char *const suffix[] = { "B", "K", "M", "G", "T" };
        unsigned i = 0;
        uint64_t v = bytes;

        while (i + 1 < ELEMENTSOF(suffix) && v >= 1024 && v % 1024 == 0) {
                v /= 1024;
                i++;
        }
        snprintf(buf, len, "%" PRIu64 "%s", v, suffix[i]);
        return buf;
}

unsigned string_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        unsigned row[64 + 1];

        /* Keys are short; past 64 characters a suggestion is useless anyway. */
        if (la > 64 || lb > 64)
                return UINT32_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = (unsigned)j;
        for (size_t i = 1; i <= la; i++) {
                unsigned prev = row[0];
                row[0] = (unsigned)i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned cur = row[j];
                        unsigned cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), prev + cost);
                        prev = cur;
                }
        }
        return row[lb];
}

/* ---- key tables ---- */

static const char *const *choices_of(const KeySpec *k)
{
        return k->choices;
}

static int choice_index(const KeySpec *k, const char *word)
{
        const char *const *c = choices_of(k);
        for (int i = 0; c && c[i]; i++)
                if (streq(c[i], word))
                        return i;
        return -1;
}

static char *choices_joined(const KeySpec *k)
{
        size_t len = 1;
        char *s, *p;

        for (const char *const *c = k->choices; c && *c; c++)
                len += strlen(*c) + 2;
        s = malloc(len);
        if (!s)
                return NULL;
        p = s;
        *p = '\0';
        for (const char *const *c = k->choices; c && *c; c++)
                p += sprintf(p, "%s%s", p == s ? "" : ", ", *c);
        return s;
}

static const char *nearest_choice(const KeySpec *k, const char *word)
{
        const char *best = NULL;
        unsigned best_d = UINT32_MAX;

        for (const char *const *c = k->choices; c && *c; c++) {
                unsigned d = string_distance(word, *c);
                if (d < best_d) {
                        best_d = d;
                        best = *c;
                }
        }
        return best_d <= 2 ? best : NULL;
}

static int word_error(ConfErrors *errs, const IniFile *f, const IniSection *sec, const IniEntry *en,
                      const KeySpec *k, const char *word)
{
        _cleanup_free_ char *allowed = choices_joined(k);
        const char *near = nearest_choice(k, word);

        return conf_error(errs, f->path, en->line, sec->name, en->key, en->value,
                          "unknown value '%s'%s%s%s; allowed: %s", word, near ? " (did you mean '" : "",
                          near ? near : "", near ? "'?)" : "", strempty(allowed));
}

static char **split_words(const char *s)
{
        size_t n = 0, cap = 4;
        char **l = calloc(cap + 1, sizeof *l);
        const char *p = s;

        if (!l)
                return NULL;
        for (;;) {
                size_t len;
                while (*p && isspace((unsigned char)*p))
                        p++;
                if (!*p)
                        break;
                len = strcspn(p, " \t\r\n");
                if (n == cap) {
                        char **nl = realloc(l, (cap * 2 + 1) * sizeof *l);
                        if (!nl)
                                goto fail;
                        l = nl;
                        cap *= 2;
                }
                l[n] = strndup(p, len);
                if (!l[n])
                        goto fail;
                l[++n] = NULL;
                p += len;
        }
        return l;
fail:
        strv_free(l);
        return NULL;
}

static const char *bound_text(const KeySpec *k, char *buf, size_t len)
{
        char lo[32], hi[32];

        switch (k->type) {
        case KEY_DURATION:
        case KEY_RANGE:
                format_duration(lo, sizeof lo, k->min);
                format_duration(hi, sizeof hi, k->max ? k->max : UINT64_MAX);
                break;
        case KEY_SIZE:
                format_size(lo, sizeof lo, k->min);
                if (k->max)
                        format_size(hi, sizeof hi, k->max);
                else
                        snprintf(hi, sizeof hi, "any");
                break;
        default:
                snprintf(lo, sizeof lo, "%" PRIu64, k->min);
                if (k->max)
                        snprintf(hi, sizeof hi, "%" PRIu64, k->max);
                else
                        snprintf(hi, sizeof hi, "any");
        }
        snprintf(buf, len, "%s..%s", lo, hi);
        return buf;
}

static bool in_bounds(const KeySpec *k, uint64_t v)
{
        return v >= k->min && (k->max == 0 || v <= k->max);
}

/* Parses text for key k into base. On error appends to errs (with en for position). */
static int parse_value(const IniFile *f, const IniSection *sec, const IniEntry *en, const KeySpec *k,
                       const char *text, void *base, ConfErrors *errs)
{
        void *dst = (char *)base + k->offset;
        char b[96];
        const char *file = f ? f->path : "(default)";
        unsigned line = en ? en->line : 0;
        const char *secname = sec ? sec->name : NULL;
        int r;

#define FAIL(...) conf_error(errs, file, line, secname, k->name, text, __VA_ARGS__)

        switch (k->type) {
        case KEY_BOOL:
                if (parse_bool(text, dst) < 0)
                        return FAIL("not a boolean; allowed: yes/no, true/false, on/off, 1/0");
                return 0;

        case KEY_UINT: {
                uint64_t v;
                if (parse_uint64(text, &v) < 0)
                        return FAIL("not a number; %s", k->help ? k->help : "expected an integer");
                if (!in_bounds(k, v))
                        return FAIL("out of range; allowed: %s", bound_text(k, b, sizeof b));
                *(uint64_t *)dst = v;
                return 0;
        }
        case KEY_SIZE: {
                uint64_t v;
                if (parse_size(text, &v) < 0)
                        return FAIL("not a size; write bytes with an optional K, M, G or T suffix (e.g. 2M)");
                if (!in_bounds(k, v))
                        return FAIL("out of range; allowed: %s", bound_text(k, b, sizeof b));
                *(uint64_t *)dst = v;
                return 0;
        }
        case KEY_DURATION: {
                uint64_t v;
                if (parse_duration(text, &v) < 0)
                        return FAIL("not a duration; write e.g. 500us, 20ms, 30s, 10min, 2h or infinity");
                if (!in_bounds(k, v))
                        return FAIL("out of range; allowed: %s", bound_text(k, b, sizeof b));
                *(uint64_t *)dst = v;
                return 0;
        }
        case KEY_RANGE:
        case KEY_UINT_RANGE: {
                Range v;
                r = k->type == KEY_RANGE ? parse_range(text, &v) : parse_uint_range(text, &v);
                if (r == -EDOM)
                        return FAIL("the lower end is above the upper end");
                if (r < 0)
                        return FAIL(k->type == KEY_RANGE
                                            ? "not a duration range; write LOW..HIGH (e.g. 20ms..200ms) or one duration"
                                            : "not a number range; write LOW..HIGH (e.g. 2..8) or one number");
                if (!in_bounds(k, v.lo) || !in_bounds(k, v.hi))
                        return FAIL("out of range; allowed: %s", bound_text(k, b, sizeof b));
                *(Range *)dst = v;
                return 0;
        }
        case KEY_STRING: {
                char *s;
                if (k->min > 0 && strlen(text) < k->min)
                        return FAIL("must not be empty");
                s = strdup(text);
                if (!s)
                        return -ENOMEM;
                free(*(char **)dst);
                *(char **)dst = s;
                return 0;
        }
        case KEY_WORDS: {
                char **l = split_words(text), **old = *(char ***)dst, **merged;
                size_t n_old = strv_length(old), n_new;
                if (!l)
                        return -ENOMEM;
                for (char **w = l; *w; w++)
                        if (k->choices && choice_index(k, *w) < 0) {
                                r = word_error(errs, f, sec, en, k, *w);
                                strv_free(l);
                                return r;
                        }
                /* Repeated assignments append, an empty one resets: unit-file list semantics. */
                n_new = strv_length(l);
                if (n_new == 0) {
                        strv_free(old);
                        *(char ***)dst = l;
                        return 0;
                }
                merged = realloc(old, (n_old + n_new + 1) * sizeof *merged);
                if (!merged) {
                        strv_free(l);
                        return -ENOMEM;
                }
                memcpy(merged + n_old, l, (n_new + 1) * sizeof *l);
                free(l);
                *(char ***)dst = merged;
                if (k->max && n_old + n_new > k->max)
                        return FAIL("too many entries (%zu); at most %" PRIu64, n_old + n_new, k->max);
                return 0;
        }
        case KEY_CHOICE: {
                int i = choice_index(k, text);
                if (i < 0)
                        return word_error(errs, f, sec, en, k, text);
                *(unsigned *)dst = (unsigned)i;
                return 0;
        }
        case KEY_WEIGHTED: {
                _cleanup_strv_free_ char **l = split_words(text);
                Weighted w = {};
                if (!l)
                        return -ENOMEM;
                for (char **p = l; *p; p++) {
                        char *colon = strchr(*p, ':');
                        uint64_t weight = 1;
                        int i;
                        if (colon) {
                                *colon = '\0';
                                if (parse_uint64(colon + 1, &weight) < 0 || weight == 0 || weight > 1000000) {
                                        *colon = ':';
                                        return FAIL("bad weight in '%s'; write WORD or WORD:WEIGHT with WEIGHT 1..1000000", *p);
                                }
                        }
                        i = choice_index(k, *p);
                        if (i < 0)
                                return word_error(errs, f, sec, en, k, *p);
                        for (unsigned j = 0; j < w.n; j++)
                                if (w.choice[j] == (unsigned)i)
                                        return FAIL("'%s' is listed twice", *p);
                        if (w.n == WEIGHTED_MAX)
                                return FAIL("too many entries; at most %d", WEIGHTED_MAX);
                        w.choice[w.n] = (unsigned)i;
                        w.weight[w.n] = (uint32_t)weight;
                        w.n++;
                }
                if (w.n == 0 && k->min > 0)
                        return FAIL("needs at least one value");
                *(Weighted *)dst = w;
                return 0;
        }
        }
#undef FAIL
        return -EINVAL;
}

int conf_apply_defaults(const KeySpec *keys, void *base)
{
        ConfErrors errs = {};
        int r = 0;

        for (const KeySpec *k = keys; k && k->name; k++) {
                if (!k->def)
                        continue;
                if (parse_value(NULL, NULL, NULL, k, k->def, base, &errs) < 0)
                        r = -EINVAL; /* a programming error in a key table: tests catch it */
        }
        conf_errors_clear(&errs);
        return r;
}

int conf_parse_entry(const IniFile *f, const IniSection *sec, IniEntry *en, const KeySpec *keys, void *base,
                     ConfErrors *errs)
{
        for (const KeySpec *k = keys; k && k->name; k++) {
                if (!streq(k->name, en->key))
                        continue;
                en->used = true;
                return parse_value(f, sec, en, k, en->value, base, errs);
        }
        return 0;
}

int conf_check_unused(const IniFile *f, const IniSection *sec, const KeySpec *const *tables, size_t n_tables,
                      ConfErrors *errs)
{
        int r = 0;

        for (size_t i = 0; i < sec->n_entries; i++) {
                const IniEntry *en = &sec->entries[i];
                const char *best = NULL;
                unsigned best_d = UINT32_MAX;

                if (en->used)
                        continue;
                for (size_t t = 0; t < n_tables; t++)
                        for (const KeySpec *k = tables[t]; k && k->name; k++) {
                                unsigned d = string_distance(en->key, k->name);
                                if (d < best_d) {
                                        best_d = d;
                                        best = k->name;
                                }
                        }
                if (best && best_d <= 3)
                        r = conf_error(errs, f->path, en->line, sec->name, en->key, en->value,
                                       "unknown key '%s' (did you mean '%s'?)", en->key, best);
                else
                        r = conf_error(errs, f->path, en->line, sec->name, en->key, en->value,
                                       "unknown key '%s' in this section", en->key);
        }
        return r;
}

void conf_free_values(const KeySpec *keys, void *base)
{
        for (const KeySpec *k = keys; k && k->name; k++) {
                void *dst = (char *)base + k->offset;
                if (k->type == KEY_STRING) {
                        free(*(char **)dst);
                        *(char **)dst = NULL;
                } else if (k->type == KEY_WORDS) {
                        strv_free(*(char ***)dst);
                        *(char ***)dst = NULL;
                }
        }
}
