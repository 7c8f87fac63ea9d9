/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The stress action's names for tests: outcomes and metrics by index, and
 * the reader of stress-ng's --yaml output (metrics: per stressor).
 */
#pragma once

#include "action.h"

extern const ActionType action_stress;

typedef enum StressOutcome {
        STRESS_OUT_RAN,             /* stress-ng ran and its metrics were read */
        STRESS_OUT_STRESSOR_FAILED, /* stress-ng said a stressor failed (exit 2) */
        STRESS_OUT_NO_METRICS,      /* it ended without metrics (had to be SIGKILLed, or wrote none) */
        STRESS_OUT_KILLED,          /* it died by a signal we did not send */
        STRESS_OUT_ENV_ERROR,       /* it could not start or refused (missing, bad arguments, resources) */
        _STRESS_OUT_MAX,
} StressOutcome;

typedef enum StressMetric {
        STRESS_M_RUNS,      /* stress-ng runs */
        STRESS_M_STRESSORS, /* stressors that reported metrics */
        STRESS_M_INSTANCES, /* stressor instances asked for (0 in Stressors= counts as the CPUs online) */
        STRESS_M_BOGO_OPS,  /* bogo ops, all stressors */
        STRESS_M_WALL_MS,   /* stress-ng's run time */
        STRESS_M_USR_MS,    /* user CPU time of all stressors */
        STRESS_M_SYS_MS,    /* system CPU time of all stressors */
        STRESS_M_STOP_MS,   /* from our SIGTERM to stress-ng's exit */
        _STRESS_M_MAX,
} StressMetric;

#define STRESS_YAML_ENTRIES_MAX 64
#define STRESS_YAML_FIELDS_MAX 16
#define STRESS_YAML_WORD_MAX 64

typedef struct StressYamlField {
        char key[STRESS_YAML_WORD_MAX];
        char value[STRESS_YAML_WORD_MAX];
} StressYamlField;

/* One "- stressor: NAME" entry of the metrics: list, every key as written. */
typedef struct StressYamlEntry {
        char stressor[STRESS_YAML_WORD_MAX];
        StressYamlField fields[STRESS_YAML_FIELDS_MAX];
        unsigned n_fields;
} StressYamlEntry;

typedef struct StressYaml {
        char version[STRESS_YAML_WORD_MAX]; /* system-info: stress-ng-version */
        StressYamlEntry entries[STRESS_YAML_ENTRIES_MAX];
        unsigned n_entries;
        bool truncated; /* more entries or fields than kept */
} StressYaml;

/*
 * Reads the parts of stress-ng's YAML (0.15: system-info, metrics) we use.
 * Returns 0, or -ENODATA when there is no metrics list at all.
 */
int stress_yaml_parse(const char *text, StressYaml *ret);
/* A field's value as a number (0 if absent or not a number). */
double stress_yaml_number(const StressYamlEntry *e, const char *key);
