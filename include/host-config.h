/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's opt-ins, from /etc/hvtorture/hvtorture.conf ([Host] section).
 * A lab host says here that it may be rebooted, that modules may be
 * unloaded, which ones; without it the daemon runs nothing destructive and
 * the one-shot CLI needs --allow-destructive.
 */
#pragma once

#include "conf.h"

typedef struct HostConfig {
        char *path;            /* the file read, or NULL when it does not exist */
        bool allow_destructive; /* AllowDestructive= */
        char **allow_modules;   /* AllowModules=: module names actions may load/unload */
        bool allow_foreign_vms; /* AllowForeignVMs=: unload kvm even while VMs not ours exist */
        bool keep_pstore;       /* KeepPstore=: copy pstore records but leave them in place */
        char *state_dir;        /* StateDirectory= */
} HostConfig;

/* Loads path; a missing file gives the defaults. Errors name the line, like profiles. */
int host_config_load(const char *path, HostConfig **ret, ConfErrors *errs);
HostConfig *host_config_free(HostConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HostConfig *, host_config_free);
bool host_config_module_allowed(const HostConfig *c, const char *name);
