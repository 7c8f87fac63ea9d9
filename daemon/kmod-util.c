/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkmod for the module action, as systemd's module-util calls it. See
 * kmod-util.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>

#include "kmod-util.h"
#include "log.h"
#include "store.h"

struct ModCtx {
        struct kmod_ctx *kmod;
};

/* libkmod's messages, into ours: the few it prints at its default level (errors) are worth seeing. */
static void kmod_log(void *data, int priority, const char *file, int line, const char *fn, const char *format,
                     va_list args)
{
        char buf[512];

        vsnprintf(buf, sizeof buf, format, args);
        buf[strcspn(buf, "\n")] = '\0';
        log_full_errno(priority, 0, "libkmod: %s", buf);
}

int modctx_new(ModCtx **ret)
{
        _cleanup_(modctx_freep) ModCtx *c = NULL;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->kmod = kmod_new(NULL, NULL);
        if (!c->kmod)
                return -ENOMEM;
        kmod_set_log_fn(c->kmod, kmod_log, NULL);
        /* Errors only: a failed insert is reported by the action, with the module and its options. */
        kmod_set_log_priority(c->kmod, LOG_ERR);
        r = kmod_load_resources(c->kmod);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

ModCtx *modctx_free(ModCtx *c)
{
        if (!c)
                return NULL;
        kmod_unref(c->kmod);
        free(c);
        return NULL;
}

const char *modctx_dirname(const ModCtx *c)
{
        return kmod_get_dirname(c->kmod);
}

int modctx_lookup(ModCtx *c, const char *name, struct kmod_module **ret)
{
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        struct kmod_list *i;
        int r;

        r = kmod_module_new_from_lookup(c->kmod, name, &list);
        if (r < 0)
                return r;
        /* Names only, no aliases: an allow-list of names must mean exactly those modules. */
        kmod_list_foreach(i, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *m = kmod_module_get_module(i);
                ModuleState st;

                if (!streq(kmod_module_get_name(m), name))
                        continue;
                r = module_state(m, &st);
                if (r >= 0 && st == MODULE_BUILTIN)
                        return -EOPNOTSUPP;
                if (!kmod_module_get_path(m))
                        return -ENOENT;
                *ret = TAKE_PTR(m);
                return 0;
        }
        return -ENOENT;
}

int module_state(struct kmod_module *m, ModuleState *ret)
{
        int r = kmod_module_get_initstate(m);

        if (r == -ENOENT) {
                *ret = MODULE_ABSENT;
                return 0;
        }
        if (r < 0)
                return r;
        switch (r) {
        case KMOD_MODULE_BUILTIN:
                *ret = MODULE_BUILTIN;
                return 0;
        case KMOD_MODULE_LIVE:
                *ret = MODULE_LIVE;
                return 0;
        case KMOD_MODULE_COMING:
                *ret = MODULE_COMING;
                return 0;
        case KMOD_MODULE_GOING:
                *ret = MODULE_GOING;
                return 0;
        default:
                return -EBADMSG;
        }
}

const char *module_state_to_string(ModuleState s)
{
        switch (s) {
        case MODULE_ABSENT:
                return "not loaded";
        case MODULE_COMING:
                return "loading";
        case MODULE_LIVE:
                return "loaded";
        case MODULE_GOING:
                return "unloading";
        case MODULE_BUILTIN:
                return "built in";
        }
        return "unknown";
}

int module_insert(struct kmod_module *m, const char *options)
{
        int r;

        r = kmod_module_probe_insert_module(m,
                                            KMOD_PROBE_FAIL_ON_LOADED | KMOD_PROBE_IGNORE_COMMAND |
                                                    KMOD_PROBE_APPLY_BLACKLIST,
                                            options, NULL, NULL, NULL);
        /* libkmod's positive answer: the module is blacklisted and was left alone. */
        if (r > 0)
                return MODULE_INSERT_BLACKLISTED;
        return r;
}

int module_remove(struct kmod_module *m, bool force)
{
        /* We report every failure ourselves, with what it means for the run. */
        return kmod_module_remove_module(m, KMOD_REMOVE_NOLOG | (force ? KMOD_REMOVE_FORCE : 0));
}

int module_refcnt(struct kmod_module *m)
{
        return kmod_module_get_refcnt(m);
}

static int list_names(struct kmod_list *list, char ***ret)
{
        _cleanup_strv_free_ char **names = NULL;
        struct kmod_list *i;
        size_t n = 0;

        kmod_list_foreach(i, list)
                n++;
        names = calloc(n + 1, sizeof *names);
        if (!names)
                return -ENOMEM;
        n = 0;
        kmod_list_foreach(i, list) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *m = kmod_module_get_module(i);
                names[n] = strdup(kmod_module_get_name(m));
                if (!names[n])
                        return -ENOMEM;
                n++;
        }
        *ret = TAKE_PTR(names);
        return 0;
}

int module_holders(struct kmod_module *m, char ***ret)
{
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = kmod_module_get_holders(m);
        return list_names(list, ret);
}

int module_dependencies(struct kmod_module *m, char ***ret)
{
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = kmod_module_get_dependencies(m);
        return list_names(list, ret);
}

static void info_free_list(struct kmod_list **l)
{
        kmod_module_info_free_list(*l);
}

int module_param_types(struct kmod_module *m, char ***ret)
{
        _cleanup_(info_free_list) struct kmod_list *info = NULL;
        _cleanup_strv_free_ char **types = NULL;
        struct kmod_list *i;
        size_t n = 0;
        int r;

        r = kmod_module_get_info(m, &info);
        if (r < 0)
                return r;
        types = calloc((size_t)r + 1, sizeof *types);
        if (!types)
                return -ENOMEM;
        kmod_list_foreach(i, info) {
                const char *value = kmod_module_info_get_value(i);
                if (!streq(kmod_module_info_get_key(i), "parmtype") || !value || !strchr(value, ':'))
                        continue;
                if (n >= (size_t)r)
                        break;
                types[n] = strdup(value);
                if (!types[n])
                        return -ENOMEM;
                n++;
        }
        *ret = TAKE_PTR(types);
        return 0;
}

const char *module_param_type_find(char *const *types, const char *param)
{
        size_t l = strlen(param);

        for (char *const *t = types; t && *t; t++)
                if (strncmp(*t, param, l) == 0 && (*t)[l] == ':')
                        return *t + l + 1;
        return NULL;
}

static int check_integer(const char *value, bool is_signed, long long min, unsigned long long max)
{
        char *end = NULL;

        errno = 0;
        if (is_signed) {
                long long v = strtoll(value, &end, 0);
                if (errno || end == value || *end || v < min || (v > 0 && (unsigned long long)v > max))
                        return -EINVAL;
        } else {
                unsigned long long v;
                if (value[0] == '-')
                        return -EINVAL;
                v = strtoull(value, &end, 0);
                if (errno || end == value || *end || v > max)
                        return -EINVAL;
        }
        return 0;
}

int module_param_value_check(const char *type, const char *value)
{
        static const char *const bools[] = { "y", "Y", "1", "n", "N", "0", "on", "off", "ON", "OFF", "On", "Off", NULL };

        if (!value[0])
                return -EINVAL;
        if (streq(type, "bool") || streq(type, "invbool") || streq(type, "bint")) {
                for (const char *const *b = bools; *b; b++)
                        if (streq(value, *b))
                                return 0;
                return -EINVAL;
        }
        if (streq(type, "int") || streq(type, "hexint"))
                return check_integer(value, true, INT_MIN, INT_MAX);
        if (streq(type, "uint"))
                return check_integer(value, false, 0, UINT_MAX);
        if (streq(type, "long"))
                return check_integer(value, true, LONG_MIN, LONG_MAX);
        if (streq(type, "ulong"))
                return check_integer(value, false, 0, ULONG_MAX);
        if (streq(type, "short"))
                return check_integer(value, true, SHRT_MIN, SHRT_MAX);
        if (streq(type, "ushort"))
                return check_integer(value, false, 0, USHRT_MAX);
        if (streq(type, "byte"))
                return check_integer(value, false, 0, UCHAR_MAX);
        /* charp, string, arrays, types this build does not know: the kernel decides. */
        return 0;
}

int module_param_read(const char *module, const char *param, char **ret)
{
        char path[PATH_MAX];
        char *s = NULL;
        int r;

        snprintf(path, sizeof path, "/sys/module/%s/parameters/%s", module, param);
        r = read_file_at(AT_FDCWD, path, 4096, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = '\0';
        *ret = s;
        return 0;
}

void module_name_normalize(char *name)
{
        for (char *p = name; *p; p++)
                if (*p == '-')
                        *p = '_';
}

bool module_name_valid(const char *name)
{
        size_t l = strlen(name);

        if (l == 0 || l > MODULE_NAME_MAX)
                return false;
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
                        return false;
        return true;
}

static bool has_word(const char *line, const char *word)
{
        size_t l = strlen(word);

        for (const char *p = strstr(line, word); p; p = strstr(p + 1, word))
                if ((p == line || isspace((unsigned char)p[-1])) && (p[l] == '\0' || isspace((unsigned char)p[l])))
                        return true;
        return false;
}

int cpu_kvm_vendor_module(const char *cpuinfo, const char **ret)
{
        _cleanup_fclose_ FILE *f = NULL;
        char line[8192];
        bool vmx = false, svm = false, flags_seen = false;
        const char *vendor = NULL;

        f = fopen(cpuinfo, "re");
        if (!f)
                return negative_errno();
        /* The first CPU's vendor and flags are enough: KVM needs the same on every CPU. */
        while (fgets(line, sizeof line, f)) {
                const char *v;
                if ((v = startswith(line, "vendor_id")) && !vendor) {
                        if (strstr(v, "GenuineIntel"))
                                vendor = "kvm_intel";
                        else if (strstr(v, "AuthenticAMD") || strstr(v, "HygonGenuine"))
                                vendor = "kvm_amd";
                } else if ((v = startswith(line, "flags")) && !flags_seen) {
                        const char *colon = strchr(v, ':');
                        flags_seen = true;
                        if (colon) {
                                vmx = has_word(colon + 1, "vmx");
                                svm = has_word(colon + 1, "svm");
                        }
                }
                if (vendor && flags_seen)
                        break;
        }
        if (vmx && svm) {
                if (!vendor)
                        return -ENODEV;
                *ret = vendor;
                return 0;
        }
        if (!vmx && !svm)
                return -ENODEV;
        *ret = vmx ? "kvm_intel" : "kvm_amd";
        return 0;
}
