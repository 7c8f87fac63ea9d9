/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=module: kernel modules loaded and unloaded in a loop, through
 * libkmod (kmod-util.h), while other actors use what they provide — kvm
 * and its vendor module cycling under VMs that keep coming.
 *
 * One step is one operation on the whole set: when none of Modules= is
 * loaded, the step loads them (dependencies first, each with the options
 * drawn for this load from Options=); when any is loaded, it unloads them
 * in the reverse order. So every load and every unload is an event of its
 * own in the journal, with its outcome and its duration, and an aligned
 * trigger meets exactly the operation it names. HoldTime= is the pause
 * after a load (the modules in use), Interval= the pause before a load.
 *
 * Safety, in this order: every module must be in the host config's
 * AllowModules= (checked before the run starts, and again in the worker);
 * Unload=force needs the host config's AllowDestructive=yes; and kvm and
 * its vendor modules are never unloaded while VMs of processes that are
 * not the run's own exist (unless AllowForeignVMs=yes): that step reports
 * foreign-vms and changes nothing. At the end the worker leaves the
 * modules as it found them: loaded again (with the parameter values they
 * had) if they were loaded at the start, unloaded if they were not.
 */
#include <stddef.h>

#include "action.h"
#include "config.h"
#include "host-check.h"
#include "host-config.h"
#include "kmod-util.h"
#include "kvm-scan.h"
#include "log.h"

#define MODULES_MAX 8
#define OPTIONS_MAX 32
#define VALUES_MAX 16
#define VALUE_LEN_MAX 64
#define PARAM_NAME_MAX 64
/* How long the end-of-run restore may wait for a module still in use (the engine's stop grace is 3 s). */
#define RESTORE_WAIT_NS (2 * NSEC_PER_SEC)

typedef enum UnloadMode {
        UNLOAD_WAIT,
        UNLOAD_SKIP_IF_BUSY,
        UNLOAD_FORCE,
        _UNLOAD_MAX,
} UnloadMode;

static const char *const unload_names[_UNLOAD_MAX + 1] = {
        [UNLOAD_WAIT] = "wait",
        [UNLOAD_SKIP_IF_BUSY] = "skip-if-busy",
        [UNLOAD_FORCE] = "force",
        NULL,
};

typedef struct ModuleParams {
        char **modules;
        char **options;
        unsigned unload;
        uint64_t wait_timeout;
        Range hold;
} ModuleParams;

enum {
        MOD_OUT_LOADED,
        MOD_OUT_UNLOADED,
        MOD_OUT_IN_USE,
        MOD_OUT_ALREADY_LOADED,
        MOD_OUT_NOT_LOADED,
        MOD_OUT_FOREIGN_VMS,
        MOD_OUT_MISSING,
        MOD_OUT_REFUSED,
        MOD_OUT_UNSUPPORTED,
        MOD_OUT_ENV_ERROR,
        MOD_OUT_FAILED,
        _MOD_OUT_MAX,
};

static const Outcome module_outcomes[_MOD_OUT_MAX] = {
        [MOD_OUT_LOADED] = { "loaded", OUTCOME_OK, "every module of the set loaded, with this load's options" },
        [MOD_OUT_UNLOADED] = { "unloaded", OUTCOME_OK, "every module of the set unloaded, in dependency order" },
        [MOD_OUT_IN_USE] = { "in-use", OUTCOME_EXPECTED,
                             "an unload met a module in use (EAGAIN/EBUSY: VMs or /dev/kvm open) and gave up" },
        [MOD_OUT_ALREADY_LOADED] = { "already-loaded", OUTCOME_EXPECTED,
                                     "a load met the module loaded by someone else meanwhile (EEXIST)" },
        [MOD_OUT_NOT_LOADED] = { "not-loaded", OUTCOME_EXPECTED,
                                 "an unload met the module unloaded by someone else meanwhile (ENOENT)" },
        [MOD_OUT_FOREIGN_VMS] = { "foreign-vms", OUTCOME_ENV_ERROR,
                                  "VMs of processes that are not the run's exist: kvm was left loaded" },
        [MOD_OUT_MISSING] = { "missing", OUTCOME_ENV_ERROR,
                              "the kernel found no such module or a symbol it needs (ENOENT, ENOEXEC)" },
        [MOD_OUT_REFUSED] = { "refused", OUTCOME_ENV_ERROR,
                              "the kernel refused: no permission, lockdown, a rejected signature, a blacklist" },
        [MOD_OUT_UNSUPPORTED] = { "unsupported", OUTCOME_ENV_ERROR,
                                  "the module declined this machine (ENODEV, EOPNOTSUPP: e.g. no VMX/SVM)" },
        [MOD_OUT_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR,
                                "the host could not give what the load needed (ENOMEM, EBUSY)" },
        [MOD_OUT_FAILED] = { "failed", OUTCOME_FAILURE, "a load or unload failed in a way the kernel should not fail" },
};

enum {
        MOD_M_LOADS,
        MOD_M_UNLOADS,
        MOD_M_LOAD_US,
        MOD_M_UNLOAD_US,
        MOD_M_WAIT_US,
        MOD_M_BUSY_TRIES,
        MOD_M_SCAN_US,
        MOD_M_OWN_VMS,
        _MOD_M_MAX,
};

static const char *const module_metrics[_MOD_M_MAX + 1] = {
        [MOD_M_LOADS] = "modules_loaded",
        [MOD_M_UNLOADS] = "modules_unloaded",
        [MOD_M_LOAD_US] = "load_us",
        [MOD_M_UNLOAD_US] = "unload_us",
        [MOD_M_WAIT_US] = "in_use_wait_us",
        [MOD_M_BUSY_TRIES] = "in_use_tries",
        [MOD_M_SCAN_US] = "vm_scan_us",
        [MOD_M_OWN_VMS] = "own_vms_at_unload",
        NULL,
};

_Static_assert(_MOD_M_MAX <= ACTION_METRICS_MAX, "too many metrics");

/* worker_set_phase() right before the syscalls: an aligned trigger fires with the load or the unload. */
static const char *const module_phases[] = {
        "module:load",   /* init_module of the first module of the set is next */
        "module:check",  /* /proc being scanned for VMs that are not ours */
        "module:unload", /* delete_module of a module of the set is next */
        "module:wait",   /* a module in use: waiting to try its unload again */
        NULL,
};

static const KeySpec module_keys[] = {
        { "Modules", KEY_WORDS, offsetof(ModuleParams, modules), NULL, 0, 0, NULL,
          "modules to load and unload, by name; 'vendor' is kvm_intel or kvm_amd, whichever this CPU has" },
        { "Options", KEY_WORDS, offsetof(ModuleParams, options), NULL, 0, 0, NULL,
          "parameters to load with, MODULE:PARAM=VALUE|VALUE…, one value drawn per load "
          "(e.g. kvm_amd:nested=0|1 kvm:tdp_mmu=Y|N)" },
        { "Unload", KEY_CHOICE, offsetof(ModuleParams, unload), "wait", 0, 0, unload_names,
          "a module in use: wait (retry until WaitTimeout=), skip-if-busy, or force (the host config's "
          "AllowDestructive=yes, and a kernel with MODULE_FORCE_UNLOAD)" },
        { "WaitTimeout", KEY_DURATION, offsetof(ModuleParams, wait_timeout), "5s", 0, 10 * 60 * NSEC_PER_SEC, NULL,
          "Unload=wait: how long to keep trying the unload of a module in use" },
        { "HoldTime", KEY_RANGE, offsetof(ModuleParams, hold), "10ms..100ms", 0, 3600 * NSEC_PER_SEC, NULL,
          "how long loaded modules stay loaded before the step that unloads them (Interval= is the pause "
          "before a load)" },
        {}
};

/* ---- the plan: Modules= and Options= resolved for this host ---- */

typedef struct ModOption {
        char module[MODULE_NAME_MAX + 1];
        char param[PARAM_NAME_MAX + 1];
        char values[VALUES_MAX][VALUE_LEN_MAX + 1];
        unsigned n_values;
        const char *word; /* as written in Options=, for messages */
} ModOption;

typedef struct ModEntry {
        char name[MODULE_NAME_MAX + 1];
        bool from_vendor; /* written as 'vendor' */
        struct kmod_module *mod;
        /* What the worker found at its start, to leave things so. */
        bool loaded_at_start;
        char *start_options; /* "param=value …" of the varied parameters as they were */
} ModEntry;

typedef struct ModPlan {
        ModEntry mods[MODULES_MAX]; /* in load order once ordered: dependencies first */
        size_t n;
        ModOption opts[OPTIONS_MAX];
        size_t n_opts;
        bool touches_kvm;
} ModPlan;

static bool is_kvm_module(const char *name)
{
        return streq(name, "kvm") || streq(name, "kvm_intel") || streq(name, "kvm_amd");
}

static void plan_clear(ModPlan *p)
{
        for (size_t i = 0; i < p->n; i++) {
                kmod_module_unref(p->mods[i].mod);
                free(p->mods[i].start_options);
        }
        *p = (ModPlan){};
}

/* MODULE:PARAM=V|V…, split into o (names normalized); -EINVAL with why set when it is not that. */
static int option_parse(const char *word, ModOption *o, const char **why)
{
        const char *colon = strchr(word, ':'), *eq, *v;
        size_t l;

        *o = (ModOption){ .word = word };
        if (!colon || colon == word) {
                *why = "write MODULE:PARAM=VALUE|VALUE…, e.g. kvm_amd:nested=0|1";
                return -EINVAL;
        }
        l = (size_t)(colon - word);
        if (l > MODULE_NAME_MAX) {
                *why = "the module name is too long";
                return -EINVAL;
        }
        memcpy(o->module, word, l);
        if (!streq(o->module, "vendor") && !module_name_valid(o->module)) {
                *why = "not a module name (letters, digits, '_' and '-')";
                return -EINVAL;
        }
        module_name_normalize(o->module);
        eq = strchr(colon + 1, '=');
        if (!eq || eq == colon + 1) {
                *why = "no PARAM=VALUE after the module name";
                return -EINVAL;
        }
        l = (size_t)(eq - colon - 1);
        if (l > PARAM_NAME_MAX) {
                *why = "the parameter name is too long";
                return -EINVAL;
        }
        memcpy(o->param, colon + 1, l);
        for (const char *c = o->param; *c; c++)
                if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))) {
                        *why = "not a parameter name (letters, digits and '_')";
                        return -EINVAL;
                }
        for (v = eq + 1;;) {
                size_t vl = strcspn(v, "|");
                if (vl == 0) {
                        *why = "an empty value; every alternative between '|' needs one";
                        return -EINVAL;
                }
                if (vl > VALUE_LEN_MAX) {
                        *why = "a value longer than 64 characters";
                        return -EINVAL;
                }
                if (o->n_values >= VALUES_MAX) {
                        *why = "more than 16 alternatives";
                        return -EINVAL;
                }
                memcpy(o->values[o->n_values++], v, vl);
                if (!v[vl])
                        break;
                v += vl + 1;
        }
        return 0;
}

/*
 * Modules= and Options= for this host, without libkmod: 'vendor' resolved
 * from cpuinfo, names normalized and deduplicated, every option aimed at a
 * module of the set. Options for the vendor module this CPU does not have
 * (kvm_intel:… on an AMD host) are dropped, so one profile serves both.
 */
static int plan_resolve(const ModuleParams *p, const char *cpuinfo, ModPlan *ret, char **reason)
{
        const char *vendor = NULL;
        bool has_vendor_word = false;
        int r;

        *ret = (ModPlan){};
        for (char **m = p->modules; m && *m; m++) {
                char name[MODULE_NAME_MAX + 1];
                bool dup = false;

                if (streq(*m, "vendor")) {
                        has_vendor_word = true;
                        if (!vendor) {
                                r = cpu_kvm_vendor_module(cpuinfo, &vendor);
                                if (r < 0)
                                        return action_reason(reason, -EINVAL, "Modules=vendor: %s", r == -ENODEV
                                                    ? "this CPU has neither vmx nor svm in its flags (no hardware "
                                                      "virtualization, or the firmware or the hypervisor hides it)"
                                                    : "cannot read the CPU flags");
                        }
                        snprintf(name, sizeof name, "%s", vendor);
                } else {
                        snprintf(name, sizeof name, "%s", *m);
                        module_name_normalize(name);
                }
                for (size_t i = 0; i < ret->n; i++)
                        dup = dup || streq(ret->mods[i].name, name);
                if (dup)
                        continue;
                if (ret->n >= MODULES_MAX)
                        return action_reason(reason, -EINVAL, "Modules=: more than %d modules", MODULES_MAX);
                snprintf(ret->mods[ret->n].name, sizeof ret->mods[ret->n].name, "%s", name);
                ret->mods[ret->n].from_vendor = streq(*m, "vendor");
                ret->touches_kvm = ret->touches_kvm || is_kvm_module(name);
                ret->n++;
        }
        for (char **w = p->options; w && *w; w++) {
                ModOption *o = &ret->opts[ret->n_opts];
                const char *why = NULL;
                bool found = false;

                if (ret->n_opts >= OPTIONS_MAX)
                        return action_reason(reason, -EINVAL, "Options=: more than %d options", OPTIONS_MAX);
                if (option_parse(*w, o, &why) < 0)
                        return action_reason(reason, -EINVAL, "Options=%s: %s", *w, why);
                if (streq(o->module, "vendor")) {
                        if (!vendor && (r = cpu_kvm_vendor_module(cpuinfo, &vendor)) < 0)
                                return action_reason(reason, -EINVAL, "Options=%s: 'vendor' names no module on this CPU (no vmx or svm)", *w);
                        snprintf(o->module, sizeof o->module, "%s", vendor);
                }
                for (size_t i = 0; i < ret->n; i++)
                        found = found || streq(ret->mods[i].name, o->module);
                if (!found) {
                        if (has_vendor_word && (streq(o->module, "kvm_intel") || streq(o->module, "kvm_amd")))
                                continue; /* the other vendor's options: not for this CPU */
                        return action_reason(reason, -EINVAL, "Options=%s: %s is not one of the modules this action cycles (Modules=)",
                                    *w, o->module);
                }
                for (size_t i = 0; i < ret->n_opts; i++)
                        if (streq(ret->opts[i].module, o->module) && streq(ret->opts[i].param, o->param))
                                return action_reason(reason, -EINVAL, "Options=%s: %s:%s is given twice", *w, o->module, o->param);
                ret->n_opts++;
        }
        return 0;
}

static bool allowed(const HostConfig *c, const char *name)
{
        for (char **a = c->allow_modules; a && *a; a++) {
                char n[MODULE_NAME_MAX + 1];
                snprintf(n, sizeof n, "%s", *a);
                module_name_normalize(n);
                if (streq(n, name))
                        return true;
        }
        return false;
}

static int plan_check_allowed(const ModuleParams *p, const ModPlan *plan, const ActionHost *host, char **reason)
{
        const char *path;

        if (!host || !host->config)
                return action_reason(reason, -EINVAL, "no host config was read: module actions load and unload only what its "
                                    "AllowModules= names");
        path = host->config->path ? host->config->path : HVT_HOST_CONFIG;
        for (size_t i = 0; i < plan->n; i++) {
                _cleanup_free_ char *list = NULL;
                size_t len = 0;
                FILE *f;

                if (allowed(host->config, plan->mods[i].name))
                        continue;
                f = open_memstream(&list, &len);
                if (f) {
                        for (char **a = host->config->allow_modules; a && *a; a++)
                                fprintf(f, "%s%s", a == host->config->allow_modules ? "" : " ", *a);
                        fclose(f);
                }
                (void)action_reason(reason, -EINVAL, "Modules=%s%s%s: %s is not in AllowModules= of %s (it allows: %s); add it there to let "
                           "profiles load and unload it", plan->mods[i].from_vendor ? "vendor (" : "",
                           plan->mods[i].name, plan->mods[i].from_vendor ? ")" : "", plan->mods[i].name, path,
                           list && list[0] ? list : "nothing");
                return -EPERM;
        }
        if (p->unload == UNLOAD_FORCE && !host->config->allow_destructive) {
                (void)action_reason(reason, -EINVAL, "Unload=force removes modules still in use and can crash the host: it needs "
                                   "AllowDestructive=yes in [Host] of %s itself (--allow-destructive is not enough)",
                           path);
                return -EPERM;
        }
        return 0;
}

/* Dependencies first: a module comes after every module of the set it needs (modules.dep). */
static int plan_order(ModPlan *plan)
{
        char **deps[MODULES_MAX] = {};
        ModEntry ordered[MODULES_MAX];
        bool placed[MODULES_MAX] = {};
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < plan->n; i++) {
                r = module_dependencies(plan->mods[i].mod, &deps[i]);
                if (r < 0)
                        goto finish;
        }
        while (n < plan->n) {
                bool progress = false;
                for (size_t i = 0; i < plan->n; i++) {
                        bool ready = true;
                        if (placed[i])
                                continue;
                        for (size_t j = 0; j < plan->n; j++)
                                for (char **d = deps[i]; !placed[j] && j != i && d && *d; d++)
                                        if (streq(*d, plan->mods[j].name))
                                                ready = false;
                        if (!ready)
                                continue;
                        ordered[n++] = plan->mods[i];
                        placed[i] = progress = true;
                }
                if (!progress) {
                        r = -ELOOP; /* modules.dep with a cycle: depmod never writes one */
                        goto finish;
                }
        }
        memcpy(plan->mods, ordered, n * sizeof *ordered);
finish:
        for (size_t i = 0; i < plan->n; i++)
                strv_free(deps[i]);
        return r;
}

/* libkmod's view: every module exists for this kernel and is not built in; every option is one it has. */
static int plan_lookup(ModPlan *plan, ModCtx *ctx, char **reason)
{
        int r;

        for (size_t i = 0; i < plan->n; i++) {
                ModEntry *m = &plan->mods[i];
                r = modctx_lookup(ctx, m->name, &m->mod);
                if (r == -ENOENT)
                        return action_reason(reason, -EINVAL, "Modules=: there is no module %s for this kernel (in %s/modules.dep)",
                                    m->name, modctx_dirname(ctx));
                if (r == -EOPNOTSUPP)
                        return action_reason(reason, -EINVAL, "Modules=: %s is built into this kernel: it can be neither loaded nor "
                                            "unloaded", m->name);
                if (r < 0)
                        return action_reason(reason, -EINVAL, "Modules=: cannot look up %s in %s: %s", m->name, modctx_dirname(ctx),
                                    strerror(-r));
        }
        for (size_t i = 0; i < plan->n_opts; i++) {
                ModOption *o = &plan->opts[i];
                _cleanup_strv_free_ char **types = NULL;
                struct kmod_module *mod = NULL;
                const char *type;

                for (size_t j = 0; j < plan->n; j++)
                        if (streq(plan->mods[j].name, o->module))
                                mod = plan->mods[j].mod;
                r = module_param_types(mod, &types);
                if (r < 0)
                        return action_reason(reason, -EINVAL, "Options=%s: cannot read the modinfo of %s: %s", o->word, o->module,
                                    strerror(-r));
                type = module_param_type_find(types, o->param);
                if (!type) {
                        _cleanup_free_ char *list = NULL;
                        size_t len = 0;
                        FILE *f = open_memstream(&list, &len);
                        if (f) {
                                for (char **t = types; t && *t; t++)
                                        fprintf(f, "%s%.*s", t == types ? "" : " ", (int)strcspn(*t, ":"), *t);
                                fclose(f);
                        }
                        return action_reason(reason, -EINVAL, "Options=%s: %s has no parameter '%s' (its parameters: %s)", o->word,
                                    o->module, o->param, list && list[0] ? list : "none");
                }
                for (unsigned v = 0; v < o->n_values; v++)
                        if (module_param_value_check(type, o->values[v]) < 0)
                                return action_reason(reason, -EINVAL, "Options=%s: '%s' is not a valid %s for %s:%s", o->word,
                                            o->values[v], type, o->module, o->param);
        }
        r = plan_order(plan);
        if (r < 0)
                return action_reason(reason, -EINVAL, "Modules=: cannot order the modules by their dependencies: %s", strerror(-r));
        return 0;
}

/* ---- the action's hooks ---- */

static const char *cpuinfo_path = "/proc/cpuinfo";

static int module_validate(void *params, const char *file, const char *section, unsigned line, ConfErrors *errs)
{
        ModuleParams *p = params;
        size_t n = strv_length(p->modules);
        int r = 0;

        if (n == 0)
                return conf_error(errs, file, line, section, "Modules", NULL,
                                  "no modules to cycle: name them, e.g. Modules=vendor kvm");
        if (n > MODULES_MAX)
                r = conf_error(errs, file, line, section, "Modules", NULL, "more than %d modules", MODULES_MAX);
        for (char **m = p->modules; m && *m; m++)
                if (!streq(*m, "vendor") && !module_name_valid(*m))
                        r = conf_error(errs, file, line, section, "Modules", *m,
                                       "not a module name: letters, digits, '_' and '-', at most %d characters, "
                                       "or 'vendor'", MODULE_NAME_MAX);
        if (strv_length(p->options) > OPTIONS_MAX)
                r = conf_error(errs, file, line, section, "Options", NULL, "more than %d options", OPTIONS_MAX);
        for (char **w = p->options; w && *w; w++) {
                ModOption o;
                const char *why = NULL;
                bool listed = false;

                if (option_parse(*w, &o, &why) < 0) {
                        r = conf_error(errs, file, line, section, "Options", *w, "%s", why);
                        continue;
                }
                for (char **m = p->modules; m && *m; m++) {
                        char name[MODULE_NAME_MAX + 1];
                        snprintf(name, sizeof name, "%s", *m);
                        module_name_normalize(name);
                        listed = listed || streq(name, o.module) ||
                                 (streq(*m, "vendor") && (streq(o.module, "vendor") || streq(o.module, "kvm_intel") ||
                                                          streq(o.module, "kvm_amd")));
                }
                if (!listed)
                        r = conf_error(errs, file, line, section, "Options", *w,
                                       "%s is not one of Modules=; options are for the modules this action cycles",
                                       o.module);
        }
        return r;
}

static void module_describe(const void *params, FILE *f)
{
        const ModuleParams *p = params;
        char a[32], b[32], c[32];

        fputs("loads", f);
        for (char **m = p->modules; m && *m; m++)
                fprintf(f, " %s", *m);
        for (char **o = p->options; o && *o; o++)
                fprintf(f, "%s%s", o == p->options ? " with " : " ", *o);
        fprintf(f, ", holds them %s..%s, unloads them (Unload=%s", format_duration(a, sizeof a, p->hold.lo),
                format_duration(b, sizeof b, p->hold.hi), unload_names[p->unload]);
        if (p->unload == UNLOAD_WAIT)
                fprintf(f, ", up to %s while in use", format_duration(c, sizeof c, p->wait_timeout));
        fputs(")", f);
}

static bool module_provides_kvm(const void *params)
{
        const ModuleParams *p = params;

        for (char **m = p->modules; m && *m; m++) {
                char name[MODULE_NAME_MAX + 1];
                snprintf(name, sizeof name, "%s", *m);
                module_name_normalize(name);
                if (streq(*m, "vendor") || is_kvm_module(name))
                        return true;
        }
        return false;
}

static int module_check_allowed(const void *params, const ActionHost *host, char **reason)
{
        _cleanup_(plan_clear) ModPlan plan = {};
        int r;

        r = plan_resolve(params, cpuinfo_path, &plan, reason);
        if (r < 0)
                return r;
        return plan_check_allowed(params, &plan, host, reason);
}

static int module_check_host(const void *params, char **reason)
{
        _cleanup_(modctx_freep) ModCtx *ctx = NULL;
        _cleanup_(plan_clear) ModPlan plan = {};
        char why[256];
        int r;

        r = probe_module_loading(why, sizeof why);
        if (r < 0) {
                (void)action_reason(reason, -EINVAL, "%s", why);
                return r;
        }
        r = plan_resolve(params, cpuinfo_path, &plan, reason);
        if (r < 0)
                return r;
        r = modctx_new(&ctx);
        if (r < 0)
                return action_reason(reason, -EINVAL, "cannot read the module indexes of this kernel (libkmod): %s", strerror(-r));
        return plan_lookup(&plan, ctx, reason);
}

/* ---- in the worker ---- */

typedef struct Cycler {
        ModCtx *ctx;
        ModPlan plan;
} Cycler;

static void cycler_free(Cycler *c)
{
        plan_clear(&c->plan);
        modctx_free(c->ctx);
        free(c);
}

_printf_(4, 5) static int result(StepResult *ret, unsigned outcome, int error, const char *format, ...)
{
        va_list ap;

        ret->outcome = outcome;
        ret->error = error;
        va_start(ap, format);
        vsnprintf(ret->detail, sizeof ret->detail, format, ap);
        va_end(ap);
        return 0;
}

static bool state_loaded(ModuleState st)
{
        return st == MODULE_LIVE || st == MODULE_COMING || st == MODULE_GOING;
}

static bool error_in_use(int r)
{
        /* delete_module says EWOULDBLOCK (= EAGAIN) for a module in use or held, EBUSY for one already going. */
        return r == -EAGAIN || r == -EBUSY;
}

static const char *load_error_outcome(int r, unsigned *ret_outcome)
{
        switch (r) {
        case -EEXIST:
                *ret_outcome = MOD_OUT_ALREADY_LOADED;
                return "loaded by someone else meanwhile (or the other vendor module is loaded)";
        case -ENOENT:
                *ret_outcome = MOD_OUT_MISSING;
                return "no such module, or a symbol it needs is missing";
        case -ENOEXEC:
                *ret_outcome = MOD_OUT_MISSING;
                return "not a module for this kernel (version magic or format)";
        case -EPERM:
        case -EACCES:
                *ret_outcome = MOD_OUT_REFUSED;
                return "not permitted: no CAP_SYS_MODULE, kernel.modules_disabled=1, or lockdown";
        case -EKEYREJECTED:
        case -ENOKEY:
        case -EKEYEXPIRED:
        case -EKEYREVOKED:
        case -EBADMSG:
                *ret_outcome = MOD_OUT_REFUSED;
                return "signature rejected: the kernel enforces module signatures (module.sig_enforce or lockdown)";
        case -ENODEV:
        case -ENXIO:
        case -EOPNOTSUPP:
                *ret_outcome = MOD_OUT_UNSUPPORTED;
                return "the module declined this machine (no usable VMX/SVM: disabled in the firmware, or hidden)";
        case -ENOMEM:
        case -ENOSPC:
                *ret_outcome = MOD_OUT_ENV_ERROR;
                return "out of memory";
        case -EBUSY:
                *ret_outcome = MOD_OUT_ENV_ERROR;
                return "busy: another hypervisor holds the CPU's virtualization, or a device of the last load lingers";
        default:
                *ret_outcome = MOD_OUT_FAILED;
                return NULL;
        }
}

/* The options of module i for this load: "param=value …", one value drawn for each of its options. */
static void draw_options(Cycler *c, Prng *prng, char options[MODULES_MAX][512])
{
        for (size_t i = 0; i < c->plan.n; i++)
                options[i][0] = '\0';
        /* Every option draws, in Options= order: a run replays its choices from the seed. */
        for (size_t k = 0; k < c->plan.n_opts; k++) {
                const ModOption *o = &c->plan.opts[k];
                unsigned v = (unsigned)prng_range(prng, 0, o->n_values - 1);
                for (size_t i = 0; i < c->plan.n; i++)
                        if (streq(c->plan.mods[i].name, o->module)) {
                                size_t at = strlen(options[i]);
                                snprintf(options[i] + at, sizeof options[i] - at, "%s%s=%s", at ? " " : "", o->param,
                                         o->values[v]);
                        }
        }
}

static void append(char *buf, size_t len, const char *format, ...) _printf_(3, 4);
static void append(char *buf, size_t len, const char *format, ...)
{
        size_t at = strlen(buf);
        va_list ap;

        if (at >= len - 1)
                return;
        va_start(ap, format);
        vsnprintf(buf + at, len - at, format, ap);
        va_end(ap);
}

static int step_load(Worker *w, const ModuleParams *p, Cycler *c, StepResult *ret)
{
        char options[MODULES_MAX][512], done[STEP_DETAIL_MAX] = "";
        uint64_t t0, total = 0;

        draw_options(c, worker_prng(w), options);
        worker_set_phase(w, "module:load");
        for (size_t i = 0; i < c->plan.n; i++) {
                const char *name = c->plan.mods[i].name, *what;
                unsigned outcome;
                int r;

                t0 = now_ns(CLOCK_MONOTONIC);
                r = module_insert(c->plan.mods[i].mod, options[i][0] ? options[i] : NULL);
                total += now_ns(CLOCK_MONOTONIC) - t0;
                ret->metrics[MOD_M_LOAD_US] = total / NSEC_PER_USEC;
                if (r == MODULE_INSERT_BLACKLISTED)
                        return result(ret, MOD_OUT_REFUSED, -EPERM,
                                      "%s is blacklisted in modprobe.d: not loaded (loaded so far:%s)", name,
                                      done[0] ? done : " none");
                if (r < 0) {
                        what = load_error_outcome(r, &outcome);
                        return result(ret, outcome, r, "load %s%s%s%s: %s%s%s", name, options[i][0] ? "(" : "",
                                      options[i], options[i][0] ? ")" : "", strerror(-r), what ? ": " : "",
                                      strempty(what));
                }
                ret->metrics[MOD_M_LOADS]++;
                append(done, sizeof done, " %s%s%s%s", name, options[i][0] ? "(" : "", options[i],
                       options[i][0] ? ")" : "");
        }
        worker_set_next_pause(w, prng_range(worker_prng(w), p->hold.lo, p->hold.hi));
        return result(ret, MOD_OUT_LOADED, 0, "loaded%s in %.1fms", done, (double)total / NSEC_PER_MSEC);
}

static int in_use_result(const ModuleParams *p, const ModEntry *m, unsigned tries, const KvmScan *scan,
                         StepResult *ret)
{
        _cleanup_strv_free_ char **holders = NULL;
        char why[STEP_DETAIL_MAX] = "", w[32];
        int refcnt = module_refcnt(m->mod);

        if (module_holders(m->mod, &holders) >= 0 && holders && holders[0])
                append(why, sizeof why, ", held by %s%s", holders[0], holders[1] ? " and more" : "");
        if (scan && scan->foreign_dev && scan->n_named)
                append(why, sizeof why, ", /dev/kvm open in pid %d (%s)", (int)scan->named[0].pid, scan->named[0].comm);
        switch (p->unload) {
        case UNLOAD_WAIT:
                return result(ret, MOD_OUT_IN_USE, -EAGAIN, "unload %s: in use (refcnt %d%s) after WaitTimeout=%s, %u tries",
                              m->name, refcnt, why, format_duration(w, sizeof w, p->wait_timeout), tries);
        case UNLOAD_FORCE:
                return result(ret, MOD_OUT_IN_USE, -EAGAIN,
                              "unload %s: in use (refcnt %d%s) even forced: no MODULE_FORCE_UNLOAD in this kernel?",
                              m->name, refcnt, why);
        default:
                return result(ret, MOD_OUT_IN_USE, -EAGAIN, "unload %s: in use (refcnt %d%s)", m->name, refcnt, why);
        }
}

static int step_unload(Worker *w, const ModuleParams *p, Cycler *c, const ModuleState *states, StepResult *ret)
{
        const ActionHost *host = worker_host(w);
        bool allow_foreign = host && host->config && host->config->allow_foreign_vms;
        char done[STEP_DETAIL_MAX] = "";
        KvmScan scan = {};
        bool scanned = false;
        uint64_t total = 0, t0;
        unsigned busy_tries = 0;
        int r;

        if (c->plan.touches_kvm) {
                worker_set_phase(w, "module:check");
                t0 = now_ns(CLOCK_MONOTONIC);
                r = kvm_scan_path("/proc", host ? host->engine_pid : getpid(), &scan);
                ret->metrics[MOD_M_SCAN_US] = (now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_USEC;
                if (r < 0 && !allow_foreign)
                        return result(ret, MOD_OUT_FOREIGN_VMS, r,
                                      "cannot tell whether other processes have VMs (/proc: %s): left loaded",
                                      strerror(-r));
                scanned = r >= 0;
                ret->metrics[MOD_M_OWN_VMS] = scan.own_vms;
                if (scanned && scan.foreign_vms && !allow_foreign) {
                        char d[STEP_DETAIL_MAX];
                        return result(ret, MOD_OUT_FOREIGN_VMS, 0, "%s; left loaded (AllowForeignVMs=no)",
                                      kvm_scan_describe_foreign(&scan, d, sizeof d));
                }
        }

        for (size_t k = c->plan.n; k-- > 0;) {
                const ModEntry *m = &c->plan.mods[k];
                uint64_t deadline = now_ns(CLOCK_MONOTONIC) + p->wait_timeout,
                         backoff = NSEC_PER_MSEC;
                unsigned tries = 0;

                if (!state_loaded(states[k]))
                        continue;
                worker_set_phase(w, "module:unload");
                for (;;) {
                        uint64_t now;

                        t0 = now_ns(CLOCK_MONOTONIC);
                        r = module_remove(m->mod, p->unload == UNLOAD_FORCE);
                        now = now_ns(CLOCK_MONOTONIC);
                        total += now - t0;
                        ret->metrics[MOD_M_UNLOAD_US] = total / NSEC_PER_USEC;
                        if (r == 0)
                                break;
                        if (!error_in_use(r))
                                break;
                        tries++;
                        ret->metrics[MOD_M_BUSY_TRIES]++;
                        if (p->unload != UNLOAD_WAIT || now >= deadline || worker_should_stop(w))
                                return in_use_result(p, m, tries, scanned ? &scan : NULL, ret);
                        worker_set_phase(w, "module:wait");
                        sleep_ns(MIN(backoff, deadline - now));
                        ret->metrics[MOD_M_WAIT_US] += MIN(backoff, deadline - now) / NSEC_PER_USEC;
                        backoff = MIN(backoff * 2, 50 * NSEC_PER_MSEC);
                }
                if (r == -ENOENT)
                        return result(ret, MOD_OUT_NOT_LOADED, r,
                                      "unload %s: not loaded any more: someone else unloaded it (unloaded so far:%s)",
                                      m->name, done[0] ? done : " none");
                if (r == -EPERM)
                        return result(ret, MOD_OUT_REFUSED, r,
                                      "unload %s: not permitted (no CAP_SYS_MODULE, or kernel.modules_disabled=1)",
                                      m->name);
                if (r < 0)
                        return result(ret, MOD_OUT_FAILED, r, "unload %s: delete_module: %s", m->name, strerror(-r));
                busy_tries += tries;
                ret->metrics[MOD_M_UNLOADS]++;
                append(done, sizeof done, " %s", m->name);
        }
        if (!done[0])
                return result(ret, MOD_OUT_NOT_LOADED, -ENOENT, "nothing to unload: unloaded by someone else meanwhile");
        if (busy_tries)
                return result(ret, MOD_OUT_UNLOADED, 0, "unloaded%s in %.1fms, after %u tries while in use", done,
                              (double)total / NSEC_PER_MSEC, busy_tries);
        return result(ret, MOD_OUT_UNLOADED, 0, "unloaded%s in %.1fms", done, (double)total / NSEC_PER_MSEC);
}

/* Where each module of the set is; false (with ret filled in) if that cannot be told. */
static bool read_states(Cycler *c, ModuleState *states, bool *ret_any_loaded, StepResult *ret)
{
        bool any = false;

        for (size_t i = 0; i < c->plan.n; i++) {
                int r = module_state(c->plan.mods[i].mod, &states[i]);
                if (r < 0) {
                        result(ret, MOD_OUT_ENV_ERROR, r, "cannot read the state of %s in /sys/module: %s",
                               c->plan.mods[i].name, strerror(-r));
                        return false;
                }
                any = any || state_loaded(states[i]);
        }
        *ret_any_loaded = any;
        return true;
}

static int module_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const ModuleParams *p = params;
        Cycler *c = state;
        ModuleState states[MODULES_MAX];
        bool any_loaded;

        if (!read_states(c, states, &any_loaded, ret))
                return 0;
        /* Any of the set loaded: this step unloads. None: it loads. */
        return any_loaded ? step_unload(w, p, c, states, ret) : step_load(w, p, c, ret);
}

/* "nested=1 npt=Y" of the parameters Options= varies for module i, as the kernel shows them now. */
static char *current_options(const Cycler *c, size_t i)
{
        char buf[512] = "";

        for (size_t k = 0; k < c->plan.n_opts; k++) {
                _cleanup_free_ char *v = NULL;
                const ModOption *o = &c->plan.opts[k];
                if (!streq(o->module, c->plan.mods[i].name) || module_param_read(o->module, o->param, &v) < 0)
                        continue;
                append(buf, sizeof buf, "%s%s=%s", buf[0] ? " " : "", o->param, v);
        }
        return strdup(buf);
}

static int module_worker_init(Worker *w, const void *params, void **ret)
{
        const ModuleParams *p = params;
        _cleanup_free_ char *reason = NULL, *found = NULL;
        size_t found_len = 0;
        FILE *f;
        Cycler *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;

        /* The run checked all this before it started; a worker that is handed a module anyway refuses it. */
        r = plan_resolve(p, cpuinfo_path, &c->plan, &reason);
        if (r >= 0)
                r = plan_check_allowed(p, &c->plan, worker_host(w), &reason);
        if (r >= 0) {
                r = modctx_new(&c->ctx);
                if (r < 0 && asprintf(&reason, "cannot read the module indexes (libkmod): %s", strerror(-r)) < 0)
                        reason = NULL;
        }
        if (r >= 0)
                r = plan_lookup(&c->plan, c->ctx, &reason);
        if (r < 0) {
                log_error_errno(r, "%s", reason ? reason : "cannot set up the module action: %m");
                if (reason)
                        worker_note(w, "%s", reason);
                cycler_free(c);
                return r;
        }

        /* What we found, to leave it so at the end. */
        f = open_memstream(&found, &found_len);
        if (!f) {
                cycler_free(c);
                return -ENOMEM;
        }
        for (size_t i = 0; i < c->plan.n; i++) {
                ModEntry *m = &c->plan.mods[i];
                ModuleState st;
                r = module_state(m->mod, &st);
                m->loaded_at_start = r >= 0 && state_loaded(st);
                if (m->loaded_at_start && !(m->start_options = current_options(c, i))) {
                        fclose(f);
                        cycler_free(c);
                        return -ENOMEM;
                }
                fprintf(f, "%s%s %s%s%s%s", i ? ", " : "", m->name, m->loaded_at_start ? "loaded" : "not loaded",
                        m->start_options && m->start_options[0] ? " (" : "", strempty(m->start_options),
                        m->start_options && m->start_options[0] ? ")" : "");
        }
        fclose(f);
        worker_note(w, "found %s; they are left so at the end", found);
        *ret = c;
        return 0;
}

/* The end of the run: the modules back the way worker_init found them, within the engine's stop grace. */
static void restore(Worker *w, const ModuleParams *p, Cycler *c)
{
        const ActionHost *host = worker_host(w);
        char done[STEP_DETAIL_MAX] = "";
        bool reload[MODULES_MAX] = {};
        int r;

        /* Unload what was not loaded at the start, and what now runs with other parameter values. */
        for (size_t k = c->plan.n; k-- > 0;) {
                ModEntry *m = &c->plan.mods[k];
                _cleanup_free_ char *now = NULL;
                uint64_t deadline = now_ns(CLOCK_MONOTONIC) + RESTORE_WAIT_NS;
                ModuleState st;

                if (module_state(m->mod, &st) < 0 || !state_loaded(st))
                        continue;
                if (m->loaded_at_start) {
                        now = current_options(c, k);
                        if (!now || streq(now, strempty(m->start_options)))
                                continue;
                }
                if (c->plan.touches_kvm && !(host && host->config && host->config->allow_foreign_vms)) {
                        KvmScan scan;
                        if (kvm_scan_path("/proc", host ? host->engine_pid : getpid(), &scan) < 0 ||
                            scan.foreign_vms) {
                                log_warning("%s was left loaded as the run's last step had it (%s): VMs of other "
                                            "processes exist", m->name, strempty(now));
                                return;
                        }
                }
                while ((r = module_remove(m->mod, false)) < 0 && error_in_use(r) &&
                       now_ns(CLOCK_MONOTONIC) < deadline)
                        sleep_ns(10 * NSEC_PER_MSEC);
                if (r < 0 && r != -ENOENT) {
                        log_warning_errno(r, "Cannot unload %s to leave it as found: %m; it stays loaded%s%s", m->name,
                                          now ? " with " : "", strempty(now));
                        worker_note(w, "could not leave %s as found: unload: %s", m->name, strerror(-r));
                        return;
                }
                reload[k] = m->loaded_at_start;
                append(done, sizeof done, " unloaded %s", m->name);
        }
        /* Load what was loaded at the start, with the values its parameters had. */
        for (size_t i = 0; i < c->plan.n; i++) {
                ModEntry *m = &c->plan.mods[i];
                ModuleState st;

                if (!m->loaded_at_start || (!reload[i] && module_state(m->mod, &st) >= 0 && state_loaded(st)))
                        continue;
                r = module_insert(m->mod, m->start_options && m->start_options[0] ? m->start_options : NULL);
                if (r < 0 && r != -EEXIST) {
                        log_warning_errno(r, "Cannot load %s again as it was found: %m", m->name);
                        worker_note(w, "could not leave %s as found: load: %s", m->name, strerror(-r));
                        return;
                }
                append(done, sizeof done, " loaded %s%s%s%s", m->name, m->start_options && m->start_options[0] ? "(" : "",
                       strempty(m->start_options), m->start_options && m->start_options[0] ? ")" : "");
        }
        if (done[0])
                worker_note(w, "left the modules as found:%s", done);
}

static void module_worker_done(Worker *w, const void *params, void *state)
{
        Cycler *c = state;

        if (!c)
                return;
        restore(w, params, c);
        cycler_free(c);
}

const ActionType action_module = {
        .name = "module",
        .summary = "load and unload kernel modules (kvm and its vendor module) through libkmod, in a loop",
        .flags = ACTION_ACTOR | ACTION_DESTRUCTIVE | ACTION_JOURNAL_STEPS,
        .keys = module_keys,
        .params_size = sizeof(ModuleParams),
        .outcomes = module_outcomes,
        .n_outcomes = _MOD_OUT_MAX,
        .metrics = module_metrics,
        .phases = module_phases,
        .validate = module_validate,
        .describe = module_describe,
        .check_host = module_check_host,
        .check_allowed = module_check_allowed,
        .provides_kvm = module_provides_kvm,
        .worker_init = module_worker_init,
        .step = module_step,
        .worker_done = module_worker_done,
};
