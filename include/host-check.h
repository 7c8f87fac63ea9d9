/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What this host can do, in the manner of virt-host-validate: one line per
 * capability with a verdict, and the same as JSON. Actions use the same
 * probes to refuse early with a message that says what is missing.
 */
#pragma once

#include <json-c/json.h>

#include "host-config.h"

typedef enum CheckStatus {
        CHECK_OK,
        CHECK_WARN,    /* works, with a limitation worth knowing */
        CHECK_MISSING, /* not available here: the features that need it will refuse to run */
} CheckStatus;

typedef struct HostCheck {
        const char *name;
        CheckStatus status;
        char detail[256];
} HostCheck;

/* Runs every probe; returns the number of results written to ret (at most max). */
size_t host_check_all(const HostConfig *config, HostCheck *ret, size_t max);
const char *check_status_to_string(CheckStatus s);
json_object *host_checks_to_json(const HostCheck *c, size_t n);

/* The single probes, for actions: 0 if available, else negative errno and a reason in buf. */
int probe_kvm(char *buf, size_t len, int *ret_api, int *ret_max_vcpus, int *ret_memslots);
int probe_module_loading(char *buf, size_t len);
/*
 * kvm and this CPU's vendor module as the module action sees them: both
 * exist for the running kernel and are not built in (else negative errno);
 * 1 when config's AllowModules= does not list both (module actions refuse them).
 */
int probe_kvm_modules(const HostConfig *config, char *buf, size_t len);
int probe_kexec(char *buf, size_t len);
int probe_pstore(char *buf, size_t len);
/* 2 for cgroup v2 (unified), 1 for v1 with the memory controller, negative errno if neither. */
int probe_cgroup(char *buf, size_t len);
/* 0 if the kernel has sch_netem (loaded, built in, or a module it can load), else -ENOENT. Reads files only. */
int probe_netem(char *buf, size_t len);
