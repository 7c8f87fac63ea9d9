/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rust v0 symbol demangling (RFC 2603), enough for stack frames of Rust
 * kernel code: "_RNvMs3_NtCs…_11rust_binder7processNtB5_7Process10update_ref"
 * becomes "<rust_binder::process::Process>::update_ref", the name syzbot puts
 * in titles. Crate hashes are dropped; anything outside the supported subset
 * (const generics, fn pointers, dyn types) leaves the symbol as it is.
 * Recursion depth and output size are bounded: this runs on untrusted logs.
 */
#include <ctype.h>

#include "classify-internal.h"

#define DEMANGLE_OUT_MAX 512
#define DEMANGLE_DEPTH_MAX 32
#define DEMANGLE_STEPS_MAX 4096

typedef struct Demangler {
        const char *s; /* after "_R" */
        size_t len, pos;
        char out[DEMANGLE_OUT_MAX];
        size_t n;
        unsigned depth, steps;
        bool error;
} Demangler;

static void put(Demangler *d, const char *s, size_t len)
{
        if (d->n + len >= DEMANGLE_OUT_MAX) {
                d->error = true;
                return;
        }
        memcpy(d->out + d->n, s, len);
        d->n += len;
}

static void puts_(Demangler *d, const char *s)
{
        put(d, s, strlen(s));
}

static bool peek(Demangler *d, char c)
{
        return d->pos < d->len && d->s[d->pos] == c;
}

static bool eat(Demangler *d, char c)
{
        if (!peek(d, c))
                return false;
        d->pos++;
        return true;
}

/* base-62-number: "_" is 0, "<digits>_" is value + 1. */
static uint64_t base62(Demangler *d)
{
        uint64_t v = 0;

        if (eat(d, '_'))
                return 0;
        while (d->pos < d->len && d->s[d->pos] != '_') {
                char c = d->s[d->pos++];
                unsigned digit;

                if (isdigit((unsigned char)c))
                        digit = (unsigned)(c - '0');
                else if (islower((unsigned char)c))
                        digit = 10 + (unsigned)(c - 'a');
                else if (isupper((unsigned char)c))
                        digit = 36 + (unsigned)(c - 'A');
                else {
                        d->error = true;
                        return 0;
                }
                if (v > (UINT64_MAX - digit) / 62) {
                        d->error = true;
                        return 0;
                }
                v = v * 62 + digit;
        }
        if (!eat(d, '_'))
                d->error = true;
        return v + 1;
}

static void disambiguator(Demangler *d)
{
        if (eat(d, 's'))
                (void)base62(d);
}

/* [disambiguator] ["u"] decimal ["_"] bytes */
static void identifier(Demangler *d, bool print)
{
        size_t len = 0;

        disambiguator(d);
        if (eat(d, 'u')) {
                d->error = true; /* punycode: not needed for kernel symbols */
                return;
        }
        if (!(d->pos < d->len && isdigit((unsigned char)d->s[d->pos]))) {
                d->error = true;
                return;
        }
        while (d->pos < d->len && isdigit((unsigned char)d->s[d->pos])) {
                len = len * 10 + (size_t)(d->s[d->pos++] - '0');
                if (len > DEMANGLE_OUT_MAX) {
                        d->error = true;
                        return;
                }
        }
        (void)eat(d, '_');
        if (d->pos + len > d->len) {
                d->error = true;
                return;
        }
        if (print)
                put(d, d->s + d->pos, len);
        d->pos += len;
}

static void path(Demangler *d);
static void type(Demangler *d);
static bool enter(Demangler *d);

static void backref(Demangler *d, void (*fn)(Demangler *))
{
        size_t saved = d->pos;
        uint64_t target = base62(d);

        if (d->error || target >= saved - 1) {
                d->error = true;
                return;
        }
        d->pos = (size_t)target;
        fn(d);
        d->pos = saved;
        (void)base62(d); /* skip it again */
}

static void generic_args(Demangler *d)
{
        bool first = true;

        puts_(d, "<");
        while (!d->error && !eat(d, 'E')) {
                if (d->pos >= d->len) {
                        d->error = true;
                        return;
                }
                if (!first)
                        puts_(d, ", ");
                first = false;
                if (eat(d, 'L')) {
                        (void)base62(d);
                        puts_(d, "'_");
                } else if (peek(d, 'K'))
                        d->error = true; /* const generics: unsupported */
                else
                        type(d);
        }
        puts_(d, ">");
}

static bool enter(Demangler *d)
{
        /* Backrefs can make a short symbol expand a lot: bound depth and total work. */
        if (++d->depth > DEMANGLE_DEPTH_MAX || ++d->steps > DEMANGLE_STEPS_MAX || d->pos >= d->len) {
                d->error = true;
                return false;
        }
        return true;
}

/* "::{closure#N}", "::{shim#N}": namespaces in upper case are the compiler's own. */
static void special_namespace(Demangler *d, char ns)
{
        char buf[64];
        uint64_t idx = 0;
        size_t save = d->n;

        if (peek(d, 's')) {
                d->pos++;
                idx = base62(d);
        }
        identifier(d, false);
        d->n = save;
        snprintf(buf, sizeof buf, "::{%s#%" PRIu64 "}", ns == 'C' ? "closure" : "shim", idx);
        puts_(d, buf);
}

static void path(Demangler *d)
{
        char c;

        if (!enter(d))
                return;
        c = d->s[d->pos++];
        switch (c) {
        case 'C': /* crate root (its hash is in the disambiguator, not printed) */
                identifier(d, true);
                break;
        case 'M': { /* inherent impl: "<Type>"; the module it is written in is not part of the name */
                size_t mark;

                disambiguator(d);
                mark = d->n;
                path(d);
                d->n = mark;
                puts_(d, "<");
                type(d);
                puts_(d, ">");
                break;
        }
        case 'X': /* "<Type as Trait>": trait impls are rare in kernel stacks, keep the symbol */
        case 'Y':
                d->error = true;
                break;
        case 'N': {
                char ns = d->pos < d->len ? d->s[d->pos++] : 0;

                if (!ns) {
                        d->error = true;
                        break;
                }
                path(d);
                if (isupper((unsigned char)ns))
                        special_namespace(d, ns);
                else {
                        puts_(d, "::");
                        identifier(d, true);
                }
                break;
        }
        case 'I':
                path(d);
                puts_(d, "::");
                generic_args(d);
                break;
        case 'B':
                backref(d, path);
                break;
        default:
                d->error = true;
        }
        d->depth--;
}

static const char *basic_type(char c)
{
        switch (c) {
        case 'a': return "i8";
        case 'b': return "bool";
        case 'c': return "char";
        case 'd': return "f64";
        case 'e': return "str";
        case 'f': return "f32";
        case 'h': return "u8";
        case 'i': return "isize";
        case 'j': return "usize";
        case 'l': return "i32";
        case 'm': return "u32";
        case 'n': return "i128";
        case 'o': return "u128";
        case 's': return "i16";
        case 't': return "u16";
        case 'u': return "()";
        case 'v': return "...";
        case 'x': return "i64";
        case 'y': return "u64";
        case 'z': return "!";
        case 'p': return "_";
        default: return NULL;
        }
}

static void type(Demangler *d)
{
        const char *b;
        char c;

        if (!enter(d))
                return;
        c = d->s[d->pos];
        b = basic_type(c);
        if (b) {
                d->pos++;
                puts_(d, b);
        } else if (strchr("CMXYNI", c)) {
                path(d);
        } else if (c == 'B') {
                d->pos++;
                backref(d, type);
        } else if (c == 'R' || c == 'Q') {
                d->pos++;
                puts_(d, c == 'R' ? "&" : "&mut ");
                if (eat(d, 'L'))
                        (void)base62(d);
                type(d);
        } else if (c == 'P' || c == 'O') {
                d->pos++;
                puts_(d, c == 'P' ? "*const " : "*mut ");
                type(d);
        } else if (c == 'S') {
                d->pos++;
                puts_(d, "[");
                type(d);
                puts_(d, "]");
        } else if (c == 'T') {
                bool first = true;
                d->pos++;
                puts_(d, "(");
                while (!d->error && !eat(d, 'E')) {
                        if (d->pos >= d->len) {
                                d->error = true;
                                break;
                        }
                        if (!first)
                                puts_(d, ", ");
                        first = false;
                        type(d);
                }
                puts_(d, ")");
        } else
                d->error = true; /* arrays with const lengths, fn pointers, dyn: unsupported */
        d->depth--;
}

char *rust_demangle(const char *sym)
{
        Demangler d = {};

        if (!startswith(sym, "_R"))
                return NULL;
        d.s = sym + 2;
        d.len = strlen(d.s);
        /* optional encoding version */
        while (d.pos < d.len && isdigit((unsigned char)d.s[d.pos]))
                d.pos++;
        path(&d);
        /* an instantiating crate may follow; anything else after the path is a vendor suffix */
        if (d.error || d.n == 0)
                return NULL;
        d.out[d.n] = 0;
        return strdup(d.out);
}
