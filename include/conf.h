/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit-file style configuration: an INI file read with libinih into
 * sections of (key, value, line), then checked against typed key tables.
 * Profiles and the host config both go through here, so every error names
 * file, line, section, key and value and says what is allowed, the same way.
 */
#pragma once

#include <stdint.h>

#include "util.h"

/* ---- the raw file ---- */

typedef struct IniEntry {
        char *key;
        char *value;
        unsigned line;
        bool used; /* consumed by a key table; unused entries are reported */
} IniEntry;

typedef struct IniSection {
        char *name; /* full header text, e.g. "Actor vms" */
        unsigned line;
        IniEntry *entries;
        size_t n_entries;
} IniSection;

typedef struct IniFile {
        char *path;
        char *text; /* the file's bytes as read, for the run's profile copy */
        size_t text_len;
        IniSection *sections;
        size_t n_sections;
} IniFile;

/* ---- errors: collected, not fatal on the first, like a compiler ---- */

typedef struct ConfError {
        char *file;
        unsigned line;
        char *section; /* NULL for file-level errors */
        char *key;
        char *value;
        char *message;
} ConfError;

typedef struct ConfErrors {
        ConfError *items;
        size_t n;
} ConfErrors;

void conf_errors_clear(ConfErrors *e);
/* Appends an error; key/value may be NULL. Returns -EINVAL so callers can `return conf_error(…)`. */
int conf_error(ConfErrors *e, const char *file, unsigned line, const char *section, const char *key,
               const char *value, const char *format, ...) _printf_(7, 8);
/* "FILE:LINE: [SECTION] KEY=VALUE: MESSAGE" */
char *conf_error_format(const ConfError *e);
void conf_errors_print(const ConfErrors *e, FILE *f);

/* Parses PATH (or "-" for stdin). Syntax errors land in errs; returns -EINVAL then, or -errno on I/O errors. */
int ini_file_load(const char *path, IniFile **ret, ConfErrors *errs);
/* Same, from text in memory; path is only used in messages. */
int ini_file_parse_text(const char *path, const char *text, size_t len, IniFile **ret, ConfErrors *errs);
IniFile *ini_file_free(IniFile *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(IniFile *, ini_file_free);

/* ---- typed keys ---- */

typedef enum KeyType {
        KEY_BOOL,     /* bool: yes/no, true/false, on/off, 1/0 */
        KEY_UINT,     /* uint64_t, within [min, max] */
        KEY_SIZE,     /* uint64_t bytes: 4096, 64K, 2M, 1G (binary units) */
        KEY_DURATION, /* uint64_t ns: 500us, 20ms, 30s, 10min, 2h, "infinity" = UINT64_MAX */
        KEY_RANGE,    /* Range of ns: "20ms..200ms" or a single duration */
        KEY_STRING,   /* char * */
        KEY_WORDS,    /* char ** (NULL-terminated), whitespace separated; choices restrict the vocabulary */
        KEY_CHOICE,   /* unsigned index into choices */
        KEY_WEIGHTED, /* Weighted: words from choices, each optionally ":WEIGHT" */
        KEY_UINT_RANGE, /* Range of plain numbers: "2..8" or "4" */
} KeyType;

#define WEIGHTED_MAX 32

typedef struct Range {
        uint64_t lo, hi;
} Range;

typedef struct Weighted {
        unsigned n;
        unsigned choice[WEIGHTED_MAX]; /* index into the key's choices */
        uint32_t weight[WEIGHTED_MAX];
} Weighted;

typedef struct KeySpec {
        const char *name;
        KeyType type;
        size_t offset;              /* where the value lives in the caller's struct */
        const char *def;            /* default, written as a user would; NULL: zero/empty */
        uint64_t min, max;          /* bounds for numeric kinds; max 0 means unbounded */
        const char *const *choices; /* NULL-terminated vocabulary for CHOICE/WEIGHTED/WORDS */
        const char *help;           /* what is allowed, shown in errors and in `validate --keys` */
} KeySpec;

/*
 * Applies defaults, then every entry of sec that keys names, into the struct
 * at base. Entries are marked used. Errors are appended; returns -EINVAL if any.
 */
int conf_apply_defaults(const KeySpec *keys, void *base);
int conf_parse_entry(const IniFile *f, const IniSection *sec, IniEntry *en, const KeySpec *keys, void *base,
                     ConfErrors *errs);
/* Reports every entry of sec not marked used, suggesting the nearest of the given key tables. */
int conf_check_unused(const IniFile *f, const IniSection *sec, const KeySpec *const *tables, size_t n_tables,
                      ConfErrors *errs);
/* Frees strings and word lists a key table allocated in base. */
void conf_free_values(const KeySpec *keys, void *base);
/* The entry for key in sec, or NULL. */
IniEntry *ini_section_find(const IniSection *sec, const char *key);

/* ---- value parsers, usable on their own (CLI flags go through these too) ---- */

int parse_bool(const char *s, bool *ret);
int parse_uint64(const char *s, uint64_t *ret);
int parse_size(const char *s, uint64_t *ret);
int parse_duration(const char *s, uint64_t *ret_ns);
int parse_range(const char *s, Range *ret);
int parse_uint_range(const char *s, Range *ret);
/* Formats ns as the shortest exact unit: "20ms", "1min 30s", "infinity". */
char *format_duration(char *buf, size_t len, uint64_t ns);
char *format_size(char *buf, size_t len, uint64_t bytes);
/* Levenshtein distance, for "did you mean" suggestions. */
unsigned string_distance(const char *a, const char *b);
