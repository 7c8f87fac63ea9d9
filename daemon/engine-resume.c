/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs that outlive a boot. A run keeps its counters, boots and evidence
 * in state.json (atomic: temp, fsync, rename), written at start, every ten
 * seconds, right before a reboot-class trigger fires (with the reboot it is
 * about to cause), and at the end. After a reboot — planned or not — or the
 * death of the process that ran it, engine_resume() picks the run up from
 * there: it records how the previous boot ended (an unplanned reboot is
 * itself evidence), collects pstore, and goes on.
 */
#include <fcntl.h>
#include <sys/reboot.h>
#include <sys/utsname.h>

#include "action-reboot.h"

#include "config.h"
#include "engine-internal.h"
#include "log.h"
#include "report.h"

/* ---- saving ---- */

static json_object *actor_state_json(ActorRun *ar)
{
        const ActionType *t = ar->actor->action;
        json_object *o = actor_counters_json(ar), *m = json_object_new_object(), *f = json_object_new_array();

        for (unsigned i = 0; t->metrics && t->metrics[i] && i < ACTION_METRICS_MAX; i++)
                json_object_object_add(m, t->metrics[i], ju64(ar->metrics[i]));
        json_object_object_add(o, "metrics", m);
        json_object_object_add(o, "workers_started", ju64(ar->workers_started));
        json_object_object_add(o, "workers_crashed", ju64(ar->workers_crashed));
        json_object_object_add(o, "fired", ju64(ar->fired));
        json_object_object_add(o, "skipped_busy", ju64(ar->skipped_busy));
        for (unsigned i = 0; i < FAILURE_DETAILS_MAX; i++) {
                json_object *it;
                if (!ar->failures[i].count)
                        continue;
                it = json_object_new_object();
                json_object_object_add(it, "detail", jstr(ar->failures[i].detail));
                json_object_object_add(it, "count", ju64(ar->failures[i].count));
                json_object_array_add(f, it);
        }
        json_object_object_add(o, "failures", f);
        return o;
}

int engine_save_state(Engine *e, const ActorRun *pending)
{
        json_object *o = json_object_new_object(), *actors = json_object_new_object(), *boots = NULL;
        const char *text;
        int r;

        if (e->run_fd < 0)
                return -EBADF;
        json_object_object_add(o, "run_id", jstr(e->run_id));
        json_object_object_add(o, "seed", ju64(e->seed));
        json_object_object_add(o, "duration_ns", ju64(e->duration_ns));
        json_object_object_add(o, "owner", jstr(e->daemon_owned ? "daemon" : "cli"));
        json_object_object_add(o, "boot_index", ju64(e->boot_index));
        json_object_object_add(o, "elapsed_ns", ju64(engine_elapsed_ns(e)));
        json_object_object_add(o, "steps", ju64(e->total_steps));
        json_object_object_add(o, "planned_reboots", ju64(e->planned_reboots));
        /* The current boot's run time goes into its entry, for the report's per-boot table. */
        if (json_object_deep_copy(e->boots, &boots, NULL) >= 0 && json_object_array_length(boots) > 0) {
                json_object *cur = json_object_array_get_idx(boots, json_object_array_length(boots) - 1);
                json_object_object_add(cur, "run_s", json_object_new_double(
                                                             (double)(engine_elapsed_ns(e) - e->elapsed_before_ns) / 1e9));
        }
        json_object_object_add(o, "boots", boots ? boots : json_object_new_array());
        for (size_t i = 0; i < e->n_actors; i++)
                json_object_object_add(actors, e->actors[i].actor->name, actor_state_json(&e->actors[i]));
        json_object_object_add(o, "actors", actors);
        json_object_object_add(o, "evidence", json_object_get(e->evidence));
        json_object_object_add(o, "evidence_counted", ju64(e->evidence_counted));
        json_object_object_add(o, "evidence_overflow", ju64(e->evidence_overflow));
        if (!pending)
                pending = e->reboot_pending;
        if (pending) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "trigger", jstr(pending->actor->name));
                json_object_object_add(p, "action", jstr(pending->actor->action->name));
                json_object_object_add(p, "boot_id", jstr(e->boot_id));
                json_object_object_add(p, "steps", ju64(e->total_steps));
                if (e->crash_return)
                        json_object_object_add(p, "crash_return", json_object_new_boolean(true));
                json_object_object_add(o, "pending_reboot", p);
        }
        if (e->monitor) {
                json_object *k = json_object_new_object();
                uint64_t seq = evidence_monitor_last_seq(e->monitor);
                json_object_object_add(k, "boot_id", jstr(e->boot_id));
                if (seq != UINT64_MAX)
                        json_object_object_add(k, "seq", ju64(seq));
                json_object_object_add(o, "kmsg", k);
        }
        json_object_object_add(o, "finished", json_object_new_boolean(e->state == RUN_FINISHED && !e->suspended));

        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = write_file_atomic_at(e->run_fd, "state.json", text, strlen(text));
        json_object_put(o);
        if (r < 0)
                log_warning_errno(r, "Cannot write %s/state.json, ignoring (the journal has the run): %m", e->run_dir);
        return r;
}

static json_object *boot_entry(const Engine *e, const char *how, const char *trigger)
{
        json_object *b = json_object_new_object();
        struct utsname u;
        char ts[64];

        uname(&u);
        json_object_object_add(b, "boot_id", jstr(e->boot_id));
        json_object_object_add(b, "kernel", jstr(u.release));
        json_object_object_add(b, "how", jstr(how));
        if (trigger)
                json_object_object_add(b, "trigger", jstr(trigger));
        json_object_object_add(b, "started", jstr(format_timestamp_iso(ts, sizeof ts, now_ns(CLOCK_REALTIME))));
        return b;
}

void engine_record_first_boot(Engine *e)
{
        json_object_array_add(e->boots, boot_entry(e, "start", NULL));
        (void)engine_save_state(e, NULL);
}

BootEnd engine_classify_boot_end(const char *last_boot_id, const char *pending_reboot_boot_id,
                                 const char *current_boot_id)
{
        if (streq_ptr(last_boot_id, current_boot_id))
                return BOOT_END_SAME;
        /* Planned only if the run said, in the boot that ended, that it was about to take it down. */
        if (pending_reboot_boot_id && streq_ptr(pending_reboot_boot_id, last_boot_id))
                return BOOT_END_PLANNED;
        return BOOT_END_UNPLANNED;
}

/* ---- restoring ---- */

static uint64_t jget_u64(json_object *o, const char *key)
{
        int64_t v = json_get_int(o, key, 0);
        return v < 0 ? 0 : (uint64_t)v;
}

static void restore_actor(ActorRun *ar, json_object *st)
{
        const ActionType *t = ar->actor->action;
        json_object *oc = NULL, *m = NULL, *f = NULL;

        ar->steps = jget_u64(st, "steps");
        ar->workers_started = jget_u64(st, "workers_started");
        ar->workers_crashed = jget_u64(st, "workers_crashed");
        ar->fired = jget_u64(st, "fired");
        /* AfterIterations= fires once per run, not once per boot. */
        ar->after_iterations_fired = ar->fired > 0 && ar->actor->after_iterations;
        ar->skipped_busy = jget_u64(st, "skipped_busy");
        json_object_object_get_ex(st, "outcomes", &oc);
        for (unsigned k = 0; oc && k < t->n_outcomes; k++)
                ar->outcomes[k] = jget_u64(oc, t->outcomes[k].name);
        json_object_object_get_ex(st, "metrics", &m);
        for (unsigned i = 0; m && t->metrics && t->metrics[i] && i < ACTION_METRICS_MAX; i++)
                ar->metrics[i] = jget_u64(m, t->metrics[i]);
        json_object_object_get_ex(st, "failures", &f);
        for (size_t i = 0; f && i < json_object_array_length(f) && i < FAILURE_DETAILS_MAX; i++) {
                json_object *it = json_object_array_get_idx(f, i);
                snprintf(ar->failures[i].detail, sizeof ar->failures[i].detail, "%s", json_get_str(it, "detail", ""));
                ar->failures[i].count = jget_u64(it, "count");
        }
}

static int restore_state(Engine *e, json_object *st)
{
        json_object *actors = NULL, *ev = NULL, *boots = NULL;

        e->elapsed_before_ns = jget_u64(st, "elapsed_ns");
        e->total_steps = jget_u64(st, "steps");
        e->planned_reboots = jget_u64(st, "planned_reboots");
        e->boot_index = (unsigned)jget_u64(st, "boot_index");
        e->evidence_counted = jget_u64(st, "evidence_counted");
        e->evidence_overflow = jget_u64(st, "evidence_overflow");
        if (json_object_object_get_ex(st, "boots", &boots) && json_object_is_type(boots, json_type_array)) {
                json_object_put(e->boots);
                e->boots = NULL; /* deep_copy wants an empty destination */
                if (json_object_deep_copy(boots, &e->boots, NULL) < 0)
                        return -ENOMEM;
        }
        if (json_object_object_get_ex(st, "evidence", &ev) && json_object_is_type(ev, json_type_array)) {
                json_object_put(e->evidence);
                e->evidence = NULL;
                if (json_object_deep_copy(ev, &e->evidence, NULL) < 0)
                        return -ENOMEM;
        }
        json_object_object_get_ex(st, "actors", &actors);
        for (size_t i = 0; actors && i < e->n_actors; i++) {
                json_object *a = NULL;
                if (json_object_object_get_ex(actors, e->actors[i].actor->name, &a))
                        restore_actor(&e->actors[i], a);
        }
        return 0;
}

static bool profile_plans_reboots(const Profile *p)
{
        for (size_t i = 0; i < p->n_actors; i++)
                if (p->actors[i].action->flags & ACTION_REBOOTS)
                        return true;
        return false;
}

static bool pid_alive(pid_t pid)
{
        char path[64];

        if (pid <= 0 || pid == getpid())
                return false;
        snprintf(path, sizeof path, "/proc/%d", (int)pid);
        return access(path, F_OK) == 0;
}

static void current_boot_id(const EngineOptions *opts, char buf[static 37])
{
        if (opts->boot_id)
                snprintf(buf, 37, "%s", opts->boot_id);
        else
                (void)read_boot_id(buf);
}

/* The crashed kernel's core when this is a crash kernel, else NULL. */
static const char *crash_kernel_vmcore(const EngineOptions *opts)
{
        const char *path = opts->vmcore_path ? opts->vmcore_path : "/proc/vmcore";
        return path[0] && access(path, R_OK) == 0 ? path : NULL;
}

/*
 * A crash kernel (kdump) booted while the run was active. The soak never
 * runs here: the crashed kernel's log goes into the run's evidence, and if
 * the crash was the run's own [Trigger] (Action=crash) the crash kernel
 * reboots back into the normal kernel at once, the way back recorded as
 * the pending reboot so that the next boot resumes the run. A crash that
 * was not ours is left to whatever loaded that crash kernel (kdump-tools
 * saves its dump and reboots); the run stays marked and resumes after it.
 */
static int crash_kernel_boot(Engine *e, json_object *pending, BootEnd end, const char *vmcore)
{
        const char *trigger = json_get_str(pending, "trigger", "");
        bool ours = end == BOOT_END_PLANNED && streq(json_get_str(pending, "action", ""), "crash");
        size_t nb = json_object_array_length(e->boots);
        json_object *rec;
        int r;

        if (nb > 0)
                json_object_object_add(json_object_array_get_idx(e->boots, nb - 1), "how", jstr("crash-kernel"));
        r = engine_collect_vmcore(e, vmcore);
        rec = record_new("crash-kernel");
        json_object_object_add(rec, "vmcore", jstr(vmcore));
        json_object_object_add(rec, "reports", json_object_new_int(r));
        json_object_object_add(rec, "returning", json_object_new_boolean(ours));
        engine_journal_write(e, rec, JOURNAL_SYNC);

        if (!ours) {
                (void)engine_save_state(e, NULL);
                log_notice("Run %s: this is a crash kernel after a crash the run did not plan; its log is saved, "
                           "the run resumes after the next boot", e->run_id);
                return -ESTALE;
        }
        for (size_t i = 0; i < e->n_actors; i++)
                if (streq(e->actors[i].actor->name, trigger))
                        e->reboot_pending = &e->actors[i];
        e->crash_return = true;
        (void)engine_save_state(e, NULL);
        log_notice("Run %s: crash kernel after [Trigger %s]; log saved, rebooting into the normal kernel", e->run_id,
                   trigger);
        reboot_ops->sync();
        r = reboot_ops->reboot(RB_AUTOBOOT);
        log_error_errno(r, "Cannot reboot out of the crash kernel: %m; reboot it by hand, the run resumes in the "
                           "next boot");
        return -ESTALE; /* still marked: whoever reboots this crash kernel, the next boot resumes the run */
}

int engine_resume(sd_event *event, const char *run_id, const EngineOptions *opts, const EngineCallbacks *cb,
                  Engine **ret)
{
        _cleanup_(engine_freep) Engine *e = NULL;
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_free_ char *profile_text = NULL, *state_text = NULL, *profile_name = NULL;
        _cleanup_close_ int run_fd = -1;
        EngineOptions o = *opts;
        ConfErrors errs = {};
        Profile *profile = NULL;
        json_object *st = NULL, *pending = NULL, *boots, *rec;
        const char *last_boot = NULL, *pending_boot = NULL, *how;
        char boot_id[37] = "unknown", why[128];
        size_t profile_len;
        char owner[16] = "cli";
        pid_t owner_pid = 0;
        bool close_only;
        bool crash_return = false;
        const char *vmcore;
        BootEnd end;
        int r;

        r = store_open(opts->state_dir                               ? opts->state_dir
                       : opts->host && opts->host->state_dir ? opts->host->state_dir
                                                             : HVT_STATE_DIR,
                       &store);
        if (r < 0)
                return r;
        r = store_open_run(store, run_id, &run_fd);
        if (r < 0)
                return r;
        (void)store_read_active(store, run_id, owner, &owner_pid);
        r = read_file_at(run_fd, "profile.ini", 1 << 20, &profile_text, &profile_len);
        if (r < 0)
                return r;
        r = read_file_at(run_fd, "state.json", 256 << 20, &state_text, NULL);
        if (r < 0)
                return r;
        st = json_tokener_parse(state_text);
        if (!st)
                return -EBADMSG;
        if (asprintf(&profile_name, "%s/runs/%s/profile.ini", store_path(store), run_id) < 0) {
                json_object_put(st);
                return -ENOMEM;
        }
        r = profile_parse_text(profile_name, profile_text, profile_len, &profile, &errs);
        conf_errors_clear(&errs);
        if (r < 0) {
                json_object_put(st);
                return r;
        }

        /* Same boot and its process still alive: not ours to take. */
        {
                char now_boot[37] = "";
                json_object *bs = NULL;
                const char *lb = NULL;
                current_boot_id(opts, now_boot);
                if (json_object_object_get_ex(st, "boots", &bs) && json_object_array_length(bs) > 0)
                        lb = json_get_str(json_object_array_get_idx(bs, json_object_array_length(bs) - 1), "boot_id", NULL);
                if (streq_ptr(lb, now_boot) && pid_alive(owner_pid)) {
                        profile_free(profile);
                        json_object_put(st);
                        return -EBUSY;
                }
        }

        /* The run goes on as it began: same seed, same length. The daemon adopts it if it goes on at all. */
        close_only = !streq(json_get_str(st, "owner", "cli"), "daemon") && !profile_plans_reboots(profile);
        o.seed = jget_u64(st, "seed");
        o.seed_set = true;
        o.duration_ns = jget_u64(st, "duration_ns");
        if (o.duration_ns >= (uint64_t)INT64_MAX)
                o.duration_ns = UINT64_MAX; /* Duration=infinity, saved by ju64() clamped to INT64_MAX */
        o.daemon_owned = !close_only || streq(json_get_str(st, "owner", "cli"), "daemon");
        o.pstore_counted = true; /* a crash record found now happened during this run */
        r = engine_new(event, profile, &o, cb, &e);
        if (r < 0) {
                profile_free(profile);
                json_object_put(st);
                return r;
        }
        r = restore_state(e, st);
        if (r < 0) {
                json_object_put(st);
                return r;
        }
        snprintf(e->run_id, sizeof e->run_id, "%s", run_id);
        e->run_fd = TAKE_FD(run_fd);
        e->store = TAKE_PTR(store);
        e->resumed = true;
        if (asprintf(&e->run_dir, "%s/runs/%s", store_path(e->store), run_id) < 0) {
                json_object_put(st);
                return -ENOMEM;
        }
        r = journal_open(e->run_fd, "journal.jsonl", &e->journal);
        if (r < 0) {
                json_object_put(st);
                return r;
        }

        /* How did the last boot of this run end? */
        current_boot_id(opts, boot_id);
        snprintf(e->boot_id, sizeof e->boot_id, "%s", boot_id);
        boots = e->boots;
        if (json_object_array_length(boots) > 0)
                last_boot = json_get_str(json_object_array_get_idx(boots, json_object_array_length(boots) - 1),
                                         "boot_id", NULL);
        if (json_object_object_get_ex(st, "pending_reboot", &pending))
                pending_boot = json_get_str(pending, "boot_id", NULL);
        end = engine_classify_boot_end(last_boot, pending_boot, boot_id);

        /* kmsg: go on after the last record read in this boot, or read the new boot from its start. */
        {
                json_object *k = NULL;
                e->kmsg_start = KMSG_START_OLDEST;
                e->kmsg_after_seq = UINT64_MAX;
                if (end == BOOT_END_SAME && json_object_object_get_ex(st, "kmsg", &k) &&
                    streq(json_get_str(k, "boot_id", ""), boot_id) && json_object_object_get_ex(k, "seq", NULL))
                        e->kmsg_after_seq = jget_u64(k, "seq");
        }

        rec = record_new("resume");
        json_object_object_add(rec, "boot_id", jstr(boot_id));
        json_object_object_add(rec, "previous_boot_id", jstr(last_boot));
        switch (end) {
        case BOOT_END_SAME:
                how = "process-restart";
                snprintf(why, sizeof why, "the process running the run died; same boot");
                break;
        case BOOT_END_PLANNED:
                how = "planned";
                /* Back from the crash kernel: the same planned crash, not another reboot. */
                crash_return = json_object_get_boolean(json_object_object_get(pending, "crash_return"));
                if (!crash_return)
                        e->planned_reboots++;
                e->boot_index++;
                json_object_array_add(boots, boot_entry(e, crash_return ? "crash-return" : how,
                                                        json_get_str(pending, "trigger", NULL)));
                snprintf(why, sizeof why, "%s by [Trigger %s] (Action=%s)",
                         crash_return ? "back from the crash kernel after the crash" : "planned reboot",
                         json_get_str(pending, "trigger", "?"), json_get_str(pending, "action", "?"));
                if (streq(json_get_str(pending, "action", ""), "panic") ||
                    streq(json_get_str(pending, "action", ""), "crash"))
                        e->expected_panic_trigger = strdup(json_get_str(pending, "trigger", "?"));
                break;
        default:
                how = "unplanned";
                e->boot_index++;
                json_object_array_add(boots, boot_entry(e, how, NULL));
                snprintf(why, sizeof why, "a reboot the run did not plan");
                break;
        }
        json_object_object_add(rec, "how", jstr(how));
        json_object_object_add(rec, "why", jstr(why));
        json_object_object_add(rec, "boot_index", ju64(e->boot_index));
        json_object_object_add(rec, "steps_before", ju64(e->total_steps));
        json_object_object_add(rec, "continues", json_object_new_boolean(!close_only));
        engine_journal_write(e, rec, JOURNAL_SYNC);
        if ((vmcore = crash_kernel_vmcore(opts))) {
                r = crash_kernel_boot(e, pending, end, vmcore);
                json_object_put(st);
                return r;
        }
        json_object_put(st);
        log_info("%s run %s: %s", close_only ? "Closing" : "Resuming", run_id, why);
        if (!close_only)
                (void)store_mark_active(e->store, run_id, "daemon");

        e->start_mono = now_ns(CLOCK_MONOTONIC);
        e->start_real = now_ns(CLOCK_REALTIME);

        if (end == BOOT_END_UNPLANNED) {
                json_object *item = json_object_new_object();
                json_object_object_add(item, "title", jstr("unplanned reboot"));
                json_object_object_add(item, "previous_boot_id", jstr(last_boot));
                json_object_object_add(item, "boot_index", ju64(e->boot_index));
                r = engine_add_evidence(e, EVIDENCE_REBOOT, item, true);
                json_object_put(item);
                if (r < 0)
                        return r;
        }

        if (close_only || (e->profile->reboots && e->planned_reboots >= e->profile->reboots)) {
                /* Collect what the boot left (pstore), then end without running anything. */
                e->state = RUN_RUNNING;
                e->verdict = VERDICT_PASS;
                free(e->kmsg_path);
                e->kmsg_path = strdup(""); /* nothing will run: no live kmsg */
                engine_start_evidence(e);
                if (close_only)
                        engine_stop(e, end == BOOT_END_SAME ? "closed: the process running the run died"
                                                            : "closed after the host rebooted");
                else
                        engine_stop(e, "reboots reached");
                *ret = TAKE_PTR(e);
                return 0;
        }
        (void)engine_save_state(e, NULL);
        r = engine_launch(e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}
