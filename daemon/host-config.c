/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host config file: the same unit-file syntax and error messages as profiles. */
#include <stddef.h>

#include "config.h"
#include "host-config.h"

static const KeySpec host_keys[] = {
        { "AllowDestructive", KEY_BOOL, offsetof(HostConfig, allow_destructive), "no", 0, 0, NULL,
          "let profiles unload modules, reboot, kexec, panic or OOM outside their own cgroups" },
        { "AllowModules", KEY_WORDS, offsetof(HostConfig, allow_modules), "kvm kvm_intel kvm_amd", 0, 0, NULL,
          "kernel modules that module actions may load and unload" },
        { "AllowForeignVMs", KEY_BOOL, offsetof(HostConfig, allow_foreign_vms), "no", 0, 0, NULL,
          "unload kvm even while VMs this tool did not create exist" },
        { "KeepPstore", KEY_BOOL, offsetof(HostConfig, keep_pstore), "no", 0, 0, NULL,
          "leave pstore records in place after copying them into a run" },
        { "StateDirectory", KEY_STRING, offsetof(HostConfig, state_dir), HVT_STATE_DIR, 1, 0, NULL,
          "where runs are stored" },
        {}
};

HostConfig *host_config_free(HostConfig *c)
{
        if (!c)
                return NULL;
        conf_free_values(host_keys, c);
        free(c->path);
        free(c);
        return NULL;
}

int host_config_load(const char *path, HostConfig **ret, ConfErrors *errs)
{
        _cleanup_(host_config_freep) HostConfig *c = NULL;
        _cleanup_(ini_file_freep) IniFile *f = NULL;
        size_t before = errs->n;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        conf_apply_defaults(host_keys, c);

        r = ini_file_load(path, &f, errs);
        if (r == -ENOENT) {
                *ret = TAKE_PTR(c);
                return 0;
        }
        if (r < 0)
                return r;
        c->path = strdup(path);
        if (!c->path)
                return -ENOMEM;

        for (size_t i = 0; i < f->n_sections; i++) {
                IniSection *sec = &f->sections[i];
                const KeySpec *tables[] = { host_keys };

                if (!streq(sec->name, "Host")) {
                        conf_error(errs, f->path, sec->line, NULL, NULL, NULL,
                                   "unknown section [%s]; the host config has only [Host]", sec->name);
                        continue;
                }
                /* AllowModules= given in the file replaces the default list rather than adding to it. */
                if (ini_section_find(sec, "AllowModules")) {
                        strv_free(c->allow_modules);
                        c->allow_modules = NULL;
                }
                for (size_t j = 0; j < sec->n_entries; j++)
                        conf_parse_entry(f, sec, &sec->entries[j], host_keys, c, errs);
                conf_check_unused(f, sec, tables, 1, errs);
        }
        if (errs->n > before)
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

bool host_config_module_allowed(const HostConfig *c, const char *name)
{
        for (char **m = c->allow_modules; m && *m; m++)
                if (streq(*m, name))
                        return true;
        return false;
}
