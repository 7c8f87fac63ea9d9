/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkmod the way systemd's module-util uses it, for the module action: one
 * context per process with its indexes loaded once and libkmod's messages
 * routed into our logger; lookups that tell "no such module" from "built
 * in"; probe-insert with options and dependencies; removal that returns the
 * kernel's errno unchanged (EAGAIN while the module is in use, ENOENT when
 * it is not loaded); what a module's modinfo declares about its parameters.
 * Plus the sysfs and procfs reads the action needs beside libkmod: a loaded
 * module's current parameter values and the vendor module this CPU wants.
 *
 * Nothing here logs (libkmod's own messages excepted) or decides what an
 * errno means for a run: the action does.
 */
#pragma once

#include <libkmod.h>

#include "util.h"

/* The kernel's MODULE_NAME_LEN is 64 including the NUL. */
#define MODULE_NAME_MAX 63

typedef struct ModCtx ModCtx;

/* A libkmod context for the running kernel, resources loaded. */
int modctx_new(ModCtx **ret);
ModCtx *modctx_free(ModCtx *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ModCtx *, modctx_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_module *, kmod_module_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_list *, kmod_module_unref_list);
/* The modules directory libkmod reads (/lib/modules/RELEASE), for messages. */
const char *modctx_dirname(const ModCtx *c);

/*
 * The module called name (already normalized). -ENOENT if the running
 * kernel has no such module, -EOPNOTSUPP if it is built in (it can be
 * neither loaded nor unloaded).
 */
int modctx_lookup(ModCtx *c, const char *name, struct kmod_module **ret);

typedef enum ModuleState {
        MODULE_ABSENT,  /* not in the kernel */
        MODULE_COMING,  /* being loaded */
        MODULE_LIVE,
        MODULE_GOING,   /* being unloaded */
        MODULE_BUILTIN,
} ModuleState;

/* Where the module is now, from /sys/module; negative errno if that cannot be told. */
int module_state(struct kmod_module *m, ModuleState *ret);
const char *module_state_to_string(ModuleState s);

/* Positive: libkmod declined to load a module the host's modprobe.d blacklists. */
#define MODULE_INSERT_BLACKLISTED 1

/*
 * Loads m and what it depends on (modules.dep, softdeps), m with options
 * after those of modprobe.d. Install commands of modprobe.d are not run.
 * Returns 0, MODULE_INSERT_BLACKLISTED, -EEXIST if m itself was loaded
 * already (a dependency that is loaded is fine), or the kernel's errno.
 */
int module_insert(struct kmod_module *m, const char *options);
/* delete_module(2), never blocking; force sets O_TRUNC. The kernel's errno unchanged, 0 on success. */
int module_remove(struct kmod_module *m, bool force);
/* /sys/module/NAME/refcnt; negative errno if not loaded. */
int module_refcnt(struct kmod_module *m);
/* Names of the loaded modules that hold m (/sys/module/NAME/holders), NULL-terminated. */
int module_holders(struct kmod_module *m, char ***ret);
/* Names of what m depends on, from modules.dep (transitive, as depmod writes it), NULL-terminated. */
int module_dependencies(struct kmod_module *m, char ***ret);

/*
 * m's parameters as its modinfo declares them: a NULL-terminated list of
 * "NAME:TYPE" (parmtype=), e.g. "nested:int", "tdp_mmu:bool".
 */
int module_param_types(struct kmod_module *m, char ***ret);
/* The TYPE of param in a list from module_param_types(), or NULL if m has no such parameter. */
const char *module_param_type_find(char *const *types, const char *param);
/* 0 if value is acceptable to the kernel for a parameter of that modinfo type, else -EINVAL. */
int module_param_value_check(const char *type, const char *value);
/* A loaded module's current value of param (/sys/module/NAME/parameters/PARAM), newline stripped. */
int module_param_read(const char *module, const char *param, char **ret);

/* Dashes become underscores, as the kernel and libkmod name modules. */
void module_name_normalize(char *name);
/* [A-Za-z0-9_-], 1..MODULE_NAME_MAX characters. */
bool module_name_valid(const char *name);

/*
 * The KVM vendor module this CPU wants, from the flags in cpuinfo (a
 * /proc/cpuinfo path): "kvm_intel" for vmx, "kvm_amd" for svm (vendor_id
 * decides should both be there). -ENODEV if there is neither.
 */
int cpu_kvm_vendor_module(const char *cpuinfo, const char **ret);
