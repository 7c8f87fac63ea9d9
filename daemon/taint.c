/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Taint bits, their letters and what they mean, as documented in the
 * kernel's Documentation/admin-guide/tainted-kernels.rst.
 */
#include <fcntl.h>
#include <json-c/json.h>

#include "taint.h"

static const struct {
        char letter;
        const char *description;
} taint_flags[TAINT_BITS_KNOWN] = {
        [0] = { 'P', "proprietary module was loaded" },
        [1] = { 'F', "module was force loaded" },
        [2] = { 'S', "kernel running on an out of specification system" },
        [3] = { 'R', "module was force unloaded" },
        [4] = { 'M', "processor reported a Machine Check Exception (MCE)" },
        [5] = { 'B', "bad page referenced or some unexpected page flags" },
        [6] = { 'U', "taint requested by userspace application" },
        [7] = { 'D', "kernel died recently, i.e. there was an OOPS or BUG" },
        [8] = { 'A', "an ACPI table was overridden by user" },
        [9] = { 'W', "kernel issued warning" },
        [10] = { 'C', "staging driver was loaded" },
        [11] = { 'I', "workaround for bug in platform firmware applied" },
        [12] = { 'O', "externally-built (\"out-of-tree\") module was loaded" },
        [13] = { 'E', "unsigned module was loaded" },
        [14] = { 'L', "soft lockup occurred" },
        [15] = { 'K', "kernel has been live patched" },
        [16] = { 'X', "auxiliary taint, defined for and used by distros" },
        [17] = { 'T', "kernel was built with the struct randomization plugin" },
        [18] = { 'N', "an in-kernel test has been run" },
        [19] = { 'J', "userspace used a mutating debug operation in fwctl" },
};

char taint_letter(unsigned bit)
{
        return bit < TAINT_BITS_KNOWN ? taint_flags[bit].letter : '?';
}

const char *taint_description(unsigned bit)
{
        return bit < TAINT_BITS_KNOWN ? taint_flags[bit].description : NULL;
}

int taint_parse(const char *s, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i = 0;

        if (!s[0] || s[0] == '\n')
                return -EINVAL;
        for (; s[i] && s[i] != '\n'; i++) {
                if (s[i] < '0' || s[i] > '9' || i >= 20)
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (s[i] == '\n' && s[i + 1])
                return -EINVAL;
        *ret = v;
        return 0;
}

int taint_read_from(const char *path, uint64_t *ret)
{
        _cleanup_close_ int fd = -1;
        char buf[32];
        ssize_t l;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        l = read(fd, buf, sizeof buf - 1);
        if (l < 0)
                return negative_errno();
        buf[l] = 0;
        return taint_parse(buf, ret);
}

int taint_read(uint64_t *ret)
{
        return taint_read_from("/proc/sys/kernel/tainted", ret);
}

void taint_to_letters(uint64_t mask, char buf[static TAINT_LETTERS_MAX])
{
        size_t n = 0;

        for (unsigned bit = 0; bit < 64; bit++)
                if (mask & (UINT64_C(1) << bit))
                        buf[n++] = taint_letter(bit);
        buf[n] = 0;
}

int taint_describe_new(uint64_t before, uint64_t after, char **ret)
{
        uint64_t added = after & ~before;
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        *ret = NULL;
        if (!added)
                return 0;
        f = open_memstream(&s, &size);
        if (!f)
                return -ENOMEM;
        for (unsigned bit = 0, n = 0; bit < 64; bit++) {
                const char *d;

                if (!(added & (UINT64_C(1) << bit)))
                        continue;
                d = taint_description(bit);
                if (d)
                        fprintf(f, "%s%c (%s)", n++ ? ", " : "", taint_letter(bit), d);
                else
                        fprintf(f, "%sbit %u (not known to this version of hvtorture)", n++ ? ", " : "", bit);
        }
        if (fclose(f) != 0 || !s) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static struct json_object *bits_to_json(uint64_t mask)
{
        struct json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (unsigned bit = 0; bit < 64; bit++) {
                struct json_object *o;
                char flag[2] = { taint_letter(bit), 0 };

                if (!(mask & (UINT64_C(1) << bit)))
                        continue;
                o = json_object_new_object();
                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
                json_object_object_add(o, "bit", json_object_new_int((int)bit));
                json_object_object_add(o, "flag", json_object_new_string(flag));
                json_object_object_add(o, "description", taint_description(bit)
                                                                   ? json_object_new_string(taint_description(bit))
                                                                   : NULL);
        }
        return a;
}

struct json_object *taint_change_to_json(uint64_t before, uint64_t after)
{
        struct json_object *o = json_object_new_object(), *added, *cleared;
        char lb[TAINT_LETTERS_MAX], la[TAINT_LETTERS_MAX], ln[TAINT_LETTERS_MAX], title[96];

        if (!o)
                return NULL;
        taint_to_letters(before, lb);
        taint_to_letters(after, la);
        taint_to_letters(after & ~before, ln);
        if (ln[0])
                snprintf(title, sizeof title, "kernel tainted: %s", ln);
        else
                snprintf(title, sizeof title, "kernel taint changed");
        added = bits_to_json(after & ~before);
        cleared = bits_to_json(before & ~after);
        if (!added || !cleared) {
                json_object_put(added);
                json_object_put(cleared);
                json_object_put(o);
                return NULL;
        }
        json_object_object_add(o, "title", json_object_new_string(title));
        json_object_object_add(o, "before", json_object_new_uint64(before));
        json_object_object_add(o, "after", json_object_new_uint64(after));
        json_object_object_add(o, "before_flags", json_object_new_string(lb));
        json_object_object_add(o, "after_flags", json_object_new_string(la));
        json_object_object_add(o, "new", added);
        json_object_object_add(o, "cleared", cleared);
        return o;
}
