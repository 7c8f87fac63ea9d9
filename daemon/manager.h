/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's one object: owns the host config, the store and at most one
 * running Engine, and exposes them on the system bus as org.hvtorture1.
 * One host runs one soak at a time; a second StartRun is refused (Busy).
 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "engine.h"

typedef struct Manager Manager;

typedef struct ManagerOptions {
        const char *config_path; /* host config */
        const char *state_dir;   /* overrides the config's StateDirectory= */
        const char *bus_address; /* connect here instead of the system bus (tests) */
} ManagerOptions;

int manager_new(sd_event *event, const ManagerOptions *opts, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Connects to the bus, publishes the object, takes the name. */
int manager_connect_bus(Manager *m);
/*
 * At start: runs that did not end (the host rebooted, or the process that
 * ran them died) are resumed — one goes on in the daemon — or closed.
 * Each takes the pstore records a crash during it left; the records left
 * over are then kept as the daemon's own boot evidence (STATE/pstore/).
 */
int manager_resume_runs(Manager *m);
/* SIGTERM: stop the run (its report still gets written), then leave the loop. */
void manager_shutdown(Manager *m);
/* SIGHUP: re-read the host config (a run in progress keeps the one it started with). */
int manager_reload(Manager *m);
