/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's status and report JSON: live counters for status, and the
 * full report written to report.json and rendered by report.c.
 */
#include <sys/utsname.h>

#include "conf.h"
#include "engine-internal.h"
#include "report.h"

json_object *actor_counters_json(ActorRun *ar)
{
        const ActionType *t = ar->actor->action;
        json_object *o = json_object_new_object(), *oc = json_object_new_object();

        json_object_object_add(o, "steps", ju64(ar->steps));
        for (unsigned k = 0; k < t->n_outcomes; k++)
                if (ar->outcomes[k])
                        json_object_object_add(oc, t->outcomes[k].name, ju64(ar->outcomes[k]));
        json_object_object_add(o, "outcomes", oc);
        return o;
}

static json_object *histogram_json(const Histogram *h)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "count", ju64(h->count));
        if (h->count) {
                json_object_object_add(o, "min", ju64(h->min));
                json_object_object_add(o, "p50", ju64(histogram_quantile(h, 0.5)));
                json_object_object_add(o, "p99", ju64(histogram_quantile(h, 0.99)));
                json_object_object_add(o, "max", ju64(h->max));
                json_object_object_add(o, "mean", ju64(h->sum / h->count));
        }
        return o;
}

static const char *const class_names[] = {
        [OUTCOME_OK] = "ok",
        [OUTCOME_EXPECTED] = "expected",
        [OUTCOME_ENV_ERROR] = "env-error",
        [OUTCOME_FAILURE] = "failure",
};

static json_object *actor_report_json(Engine *e, ActorRun *ar)
{
        const ProfileActor *a = ar->actor;
        const ActionType *t = a->action;
        json_object *o = actor_counters_json(ar), *classes = json_object_new_object(), *metrics, *fails;
        uint64_t by_class[4] = {};
        uint64_t el = engine_elapsed_ns(e);

        json_object_object_add(o, "name", jstr(a->name));
        json_object_object_add(o, "role", jstr(profile_role_to_string(a->role)));
        json_object_object_add(o, "action", jstr(t->name));
        json_object_object_add(o, "instances", ju64(ar->n_workers));
        json_object_object_add(o, "rate_per_s",
                               json_object_new_double(el ? (double)ar->steps * 1e9 / (double)el : 0.0));
        for (unsigned k = 0; k < t->n_outcomes; k++)
                by_class[t->outcomes[k].class] += ar->outcomes[k];
        for (unsigned c = 0; c < ELEMENTSOF(class_names); c++)
                json_object_object_add(classes, class_names[c], ju64(by_class[c]));
        json_object_object_add(o, "classes", classes);

        metrics = json_object_new_object();
        for (unsigned i = 0; t->metrics && t->metrics[i] && i < ACTION_METRICS_MAX; i++)
                json_object_object_add(metrics, t->metrics[i], ju64(ar->metrics[i]));
        json_object_object_add(o, "metrics", metrics);
        json_object_object_add(o, "step_ns", histogram_json(&ar->step_ns));
        if (ar->spread_ns.count)
                json_object_object_add(o, "race_spread_ns", histogram_json(&ar->spread_ns));

        fails = json_object_new_array();
        for (unsigned i = 0; i < FAILURE_DETAILS_MAX; i++) {
                json_object *f;
                if (!ar->failures[i].count)
                        continue;
                f = json_object_new_object();
                json_object_object_add(f, "detail", jstr(ar->failures[i].detail));
                json_object_object_add(f, "count", ju64(ar->failures[i].count));
                json_object_array_add(fails, f);
        }
        json_object_object_add(o, "problems", fails);
        for (unsigned k = 0; ar->reports && k < ar->n_workers; k++) {
                json_object *reps;
                if (!ar->reports[k])
                        continue;
                if (!json_object_object_get_ex(o, "reports", &reps)) {
                        reps = json_object_new_array();
                        json_object_object_add(o, "reports", reps);
                }
                json_object_array_add(reps, json_object_get(ar->reports[k]));
        }
        json_object_object_add(o, "workers_started", ju64(ar->workers_started));
        json_object_object_add(o, "workers_crashed", ju64(ar->workers_crashed));
        if (ar->journal_suppressed)
                json_object_object_add(o, "journal_lines_suppressed", ju64(ar->journal_suppressed));
        if (a->role == ROLE_TRIGGER) {
                json_object_object_add(o, "fired", ju64(ar->fired));
                json_object_object_add(o, "skipped_busy", ju64(ar->skipped_busy));
                if (ar->align) {
                        json_object_object_add(o, "aligned_with", jstr(a->align_actor));
                        json_object_object_add(o, "aligned_phase", jstr(a->align_phase));
                        json_object_object_add(o, "align_missed", ju64(ar->align->missed));
                }
        }
        return o;
}

static void add_common(Engine *e, json_object *o)
{
        json_object_object_add(o, "run_id", jstr(e->run_id));
        json_object_object_add(o, "state", jstr(run_state_to_string(e->state)));
        json_object_object_add(o, "profile", jstr(e->profile->path));
        if (e->profile->description)
                json_object_object_add(o, "description", jstr(e->profile->description));
        json_object_object_add(o, "seed", ju64(e->seed));
        json_object_object_add(o, "duration_s", json_object_new_double(
                                                        e->duration_ns == UINT64_MAX ? -1.0 : (double)e->duration_ns / 1e9));
        json_object_object_add(o, "elapsed_s", json_object_new_double((double)engine_elapsed_ns(e) / 1e9));
        json_object_object_add(o, "steps", ju64(e->total_steps));
        json_object_object_add(o, "run_dir", jstr(e->run_dir));
        json_object_object_add(o, "boot_count", ju64(engine_boot_count(e)));
        json_object_object_add(o, "planned_reboots", ju64(e->planned_reboots));
}

json_object *engine_status_json(Engine *e)
{
        json_object *o = json_object_new_object(), *actors = json_object_new_object();

        add_common(e, o);
        for (size_t i = 0; i < e->n_actors; i++)
                json_object_object_add(actors, e->actors[i].actor->name, actor_counters_json(&e->actors[i]));
        json_object_object_add(o, "actors", actors);
        json_object_object_add(o, "evidence_count", ju64(json_object_array_length(e->evidence)));
        if (e->state == RUN_FINISHED)
                json_object_object_add(o, "verdict", jstr(verdict_to_string(e->verdict)));
        return o;
}

/* Each boot of the run with the evidence first seen in it. */
static json_object *boots_report_json(Engine *e)
{
        json_object *boots = NULL;
        size_t nb;

        if (json_object_deep_copy(e->boots, &boots, NULL) < 0)
                return json_object_new_array();
        nb = json_object_array_length(boots);
        for (size_t b = 0; b < nb; b++) {
                json_object *boot = json_object_array_get_idx(boots, b), *titles = json_object_new_array();
                const char *id = json_get_str(boot, "boot_id", "");
                for (size_t i = 0; i < json_object_array_length(e->evidence); i++) {
                        json_object *it = json_object_array_get_idx(e->evidence, i);
                        if (streq(json_get_str(it, "boot_id", ""), id))
                                json_object_array_add(titles, jstr(json_get_str(it, "title", "")));
                }
                json_object_object_add(boot, "evidence", titles);
        }
        if (nb > 0)
                json_object_object_add(json_object_array_get_idx(boots, nb - 1), "run_s",
                                       json_object_new_double((double)(engine_elapsed_ns(e) - e->elapsed_before_ns) / 1e9));
        return boots;
}

json_object *engine_report_json(Engine *e)
{
        json_object *o = json_object_new_object(), *actors = json_object_new_array(), *host;
        struct utsname u;
        char ts[64];

        add_common(e, o);
        json_object_object_add(o, "verdict", jstr(verdict_to_string(e->verdict)));
        json_object_object_add(o, "exit_code", json_object_new_int(verdict_exit_code(e->verdict)));
        if (e->stop_reason)
                json_object_object_add(o, "stop_reason", jstr(e->stop_reason));
        if (e->error)
                json_object_object_add(o, "error", jstr(e->error));
        format_timestamp_iso(ts, sizeof ts, e->start_real);
        json_object_object_add(o, "started", jstr(ts));
        if (e->end_real) {
                format_timestamp_iso(ts, sizeof ts, e->end_real);
                json_object_object_add(o, "ended", jstr(ts));
        }
        host = json_object_new_object();
        uname(&u);
        json_object_object_add(host, "kernel", jstr(u.release));
        json_object_object_add(host, "machine", jstr(u.machine));
        json_object_object_add(host, "boot_id", jstr(e->boot_id));
        json_object_object_add(o, "host", host);
        for (size_t i = 0; i < e->n_actors; i++)
                json_object_array_add(actors, actor_report_json(e, &e->actors[i]));
        json_object_object_add(o, "actors", actors);
        json_object_object_add(o, "boots", boots_report_json(e));
        json_object_object_add(o, "evidence", json_object_get(e->evidence));
        json_object_object_add(o, "evidence_counted", ju64(e->evidence_counted));
        if (e->evidence_overflow)
                json_object_object_add(o, "evidence_overflow", ju64(e->evidence_overflow));
        if (e->monitor)
                json_object_object_add(o, "kmsg", evidence_monitor_stats_json(e->monitor));
        if (e->kmsg_problem)
                json_object_object_add(o, "kmsg_problem", jstr(e->kmsg_problem));
        return o;
}

int engine_status_line(Engine *e, char *buf, size_t len)
{
        char el[32], du[32];
        size_t used;
        uint64_t elapsed = engine_elapsed_ns(e);

        format_duration(el, sizeof el, elapsed / NSEC_PER_SEC * NSEC_PER_SEC);
        if (e->duration_ns && e->duration_ns != UINT64_MAX)
                format_duration(du, sizeof du, e->duration_ns);
        else
                snprintf(du, sizeof du, "∞");
        used = (size_t)snprintf(buf, len, "%s/%s %" PRIu64 " steps", el, du, e->total_steps);
        for (size_t i = 0; i < e->n_actors && used < len; i++) {
                ActorRun *ar = &e->actors[i];
                used += (size_t)snprintf(buf + used, len - used, " · %s %" PRIu64 " (%.0f/s)", ar->actor->name,
                                         ar->steps, elapsed ? (double)ar->steps * 1e9 / (double)elapsed : 0.0);
        }
        if (used < len)
                used += (size_t)snprintf(buf + used, len - used, " · evidence %zu",
                                         json_object_array_length(e->evidence));
        return 0;
}
