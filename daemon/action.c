/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry of actions this build knows. Order is the order `validate
 * --keys` and error messages list them in.
 */
#include <stdarg.h>
#include <stdio.h>

#include "action.h"

extern const ActionType action_vm;
extern const ActionType action_memslot;
extern const ActionType action_idle;
extern const ActionType action_module;
extern const ActionType action_oom;
extern const ActionType action_stress;
extern const ActionType action_net;
extern const ActionType action_kexec;
extern const ActionType action_reboot;
extern const ActionType action_panic;
extern const ActionType action_crash;
extern const ActionType action_graceful;

const ActionType *const action_types[] = {
        &action_vm,
        &action_idle,
        &action_memslot,
        &action_module,
        &action_oom,
        &action_stress,
        &action_net,
        &action_kexec,
        &action_reboot,
        &action_panic,
        &action_crash,
        &action_graceful,
        NULL,
};

const ActionType *action_type_find(const char *name)
{
        for (size_t i = 0; action_types[i]; i++)
                if (streq(action_types[i]->name, name))
                        return action_types[i];
        return NULL;
}

int action_outcome_index(const ActionType *t, const char *name)
{
        for (unsigned i = 0; i < t->n_outcomes; i++)
                if (streq(t->outcomes[i].name, name))
                        return (int)i;
        return -1;
}

int action_reason(char **reason, int error, const char *format, ...)
{
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(reason, format, ap);
        va_end(ap);
        if (r < 0) {
                *reason = NULL;
                return -ENOMEM;
        }
        return error;
}
