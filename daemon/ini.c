/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reads an INI file into sections of (key, value, line) with libinih.
 *
 * Debian's libinih does not tell its handler the line number, so we feed it
 * through ini_parse_stream() with our own reader, which hands out one line
 * per call and so knows which line the handler is looking at. The reader
 * also records section headers itself: libinih never reports a section
 * that has no keys, and an empty [Evidence] is still a section we must see.
 */
#include <ini.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "conf.h"
#include "log.h"

#define INI_FILE_MAX (1024 * 1024) /* profiles are small; anything larger is a mistake */

typedef struct Reader {
        IniFile *file;
        ConfErrors *errs;
        const char *pos, *end;
        unsigned line;
        int error; /* first hard error (ENOMEM) */
} Reader;

static int add_section(Reader *r, const char *name, size_t len)
{
        IniFile *f = r->file;
        IniSection *n;

        n = realloc(f->sections, (f->n_sections + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        f->sections = n;
        n = &f->sections[f->n_sections];
        *n = (IniSection){ .line = r->line };
        n->name = strndup(name, len);
        if (!n->name)
                return -ENOMEM;
        f->n_sections++;
        return 0;
}

/* Called by libinih once per line, like fgets(). */
static char *reader_next(char *str, int num, void *userdata)
{
        Reader *r = userdata;
        const char *eol, *p, *q;
        size_t len;

        if (r->pos >= r->end || r->error)
                return NULL;

        eol = memchr(r->pos, '\n', (size_t)(r->end - r->pos));
        len = eol ? (size_t)(eol - r->pos) : (size_t)(r->end - r->pos);
        r->line++;

        if (memchr(r->pos, '\0', len)) {
                conf_error(r->errs, r->file->path, r->line, NULL, NULL, NULL,
                           "line contains a NUL byte; profiles are text");
                len = 0;
        } else if (len + 2 > (size_t)num) {
                conf_error(r->errs, r->file->path, r->line, NULL, NULL, NULL,
                           "line is %zu characters long; at most %d are allowed", len, num - 3);
                len = 0;
        }
        memcpy(str, r->pos, len);
        str[len] = '\n';
        str[len + 1] = '\0';
        r->pos = eol ? eol + 1 : r->end;

        /* Record "[Name]" headers ourselves, with their line. */
        for (p = str; *p == ' ' || *p == '\t'; p++)
                ;
        if (*p == '[') {
                q = strchr(p, ']');
                if (!q) {
                        conf_error(r->errs, r->file->path, r->line, NULL, NULL, NULL,
                                   "section header '%.*s' has no closing ']'", (int)strcspn(p, "\r\n"), p);
                } else {
                        const char *s = p + 1;
                        size_t n = (size_t)(q - s);
                        while (n > 0 && (*s == ' ' || *s == '\t'))
                                s++, n--;
                        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                                n--;
                        if (add_section(r, s, n) < 0)
                                r->error = -ENOMEM;
                }
        }
        return str;
}

static int handler(void *userdata, const char *section, const char *name, const char *value)
{
        Reader *r = userdata;
        IniFile *f = r->file;
        IniSection *sec;
        IniEntry *n;

        if (f->n_sections == 0 || !section || !*section) {
                conf_error(r->errs, f->path, r->line, NULL, name, value,
                           "assignment outside of any section; put it under [Profile], [Actor NAME], …");
                return 1;
        }
        sec = &f->sections[f->n_sections - 1];

        n = realloc(sec->entries, (sec->n_entries + 1) * sizeof *n);
        if (!n) {
                r->error = -ENOMEM;
                return 0;
        }
        sec->entries = n;
        n = &sec->entries[sec->n_entries];
        *n = (IniEntry){ .line = r->line };
        n->key = strdup(name);
        n->value = strdup(value ? value : "");
        if (!n->key || !n->value) {
                free(n->key);
                free(n->value);
                r->error = -ENOMEM;
                return 0;
        }
        sec->n_entries++;
        return 1;
}

int ini_file_parse_text(const char *path, const char *text, size_t len, IniFile **ret, ConfErrors *errs)
{
        _cleanup_(ini_file_freep) IniFile *f = NULL;
        size_t errors_before = errs->n;
        Reader r;
        int k;

        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->path = strdup(path);
        f->text = malloc(len + 1);
        if (!f->path || !f->text)
                return -ENOMEM;
        memcpy(f->text, text, len);
        f->text[len] = '\0';
        f->text_len = len;

        /* systemd unit-file semantics: no inline ';' comments, no indented continuation lines. */
        ini_allow_inline_comments = false;
        ini_allow_multiline = false;

        r = (Reader){ .file = f, .errs = errs, .pos = f->text, .end = f->text + len };
        k = ini_parse_stream(reader_next, &r, handler, &r);
        if (r.error < 0)
                return r.error;
        if (k > 0 && errs->n == errors_before) {
                /* libinih reports only the first line it could not parse; show that line. */
                const char *l = f->text;
                for (int i = 1; i < k && l; i++) {
                        l = strchr(l, '\n');
                        if (l)
                                l++;
                }
                conf_error(errs, f->path, (unsigned)k, NULL, NULL, NULL,
                           "cannot parse '%.*s': expected [Section], KEY=VALUE or a # comment",
                           l ? (int)strcspn(l, "\r\n") : 0, l ? l : "");
        } else if (k < 0)
                return -ENOMEM;

        if (errs->n > errors_before)
                return -EINVAL;
        *ret = TAKE_PTR(f);
        return 0;
}

int ini_file_load(const char *path, IniFile **ret, ConfErrors *errs)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        struct stat st;

        if (streq(path, "-"))
                fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        else
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;

        for (;;) {
                ssize_t n;
                if (len == cap) {
                        char *nb;
                        cap = cap ? cap * 2 : 4096;
                        if (cap > INI_FILE_MAX + 1)
                                return -EFBIG;
                        nb = realloc(buf, cap);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > INI_FILE_MAX)
                        return -EFBIG;
        }
        return ini_file_parse_text(path, buf ? buf : "", len, ret, errs);
}

IniFile *ini_file_free(IniFile *f)
{
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_sections; i++) {
                IniSection *s = &f->sections[i];
                for (size_t j = 0; j < s->n_entries; j++) {
                        free(s->entries[j].key);
                        free(s->entries[j].value);
                }
                free(s->entries);
                free(s->name);
        }
        free(f->sections);
        free(f->text);
        free(f->path);
        free(f);
        return NULL;
}

IniEntry *ini_section_find(const IniSection *sec, const char *key)
{
        /* The last assignment wins, as in unit files. */
        for (size_t i = sec->n_entries; i > 0; i--)
                if (streq(sec->entries[i - 1].key, key))
                        return &sec->entries[i - 1];
        return NULL;
}
