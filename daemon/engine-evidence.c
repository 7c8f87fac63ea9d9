/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Evidence in a run: items from kmsg, pstore, taint and reboots collapse by
 * title into one with a count, each written under evidence/ and journaled
 * (synced) with the actions that were in flight when it was seen.
 */
#include <fcntl.h>

#include "engine-internal.h"
#include "log.h"
#include "report.h"

static int evidence_sink(int kind, json_object *item, bool counted, void *userdata)
{
        return engine_add_evidence(userdata, kind, item, counted);
}

/* Evidence sources: pstore left by a crash (before anything else runs), then kmsg live. */
void engine_start_evidence(Engine *e)
{
        EvidenceMonitorOptions mo = {
                .start = e->kmsg_start,
                .after_seq = e->kmsg_after_seq,
                .user_facility = e->profile->evidence.kmsg_user,
                .kmsg_path = e->kmsg_path,
        };
        _cleanup_close_ int evfd = openat(e->run_fd, "evidence", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (evfd >= 0 && e->pstore_dirs[0])
                (void)evidence_collect_pstore(e->pstore_dirs, evfd, e->host && e->host->keep_pstore,
                                              e->pstore_counted, evidence_sink, e);

        if (e->kmsg_path && !e->kmsg_path[0]) {
                e->kmsg_problem = strdup("kmsg reading is off for this run");
                return;
        }
        r = evidence_monitor_new(e->event, &mo, evidence_sink, e, &e->monitor);
        if (r < 0) {
                json_object *rec = record_new("note");
                if (asprintf(&e->kmsg_problem, "cannot read %s: %s; kernel splats will not be seen",
                             e->kmsg_path ? e->kmsg_path : "/dev/kmsg", strerror(-r)) < 0)
                        e->kmsg_problem = NULL;
                log_warning("%s", strna(e->kmsg_problem));
                json_object_object_add(rec, "note", jstr(e->kmsg_problem));
                engine_journal_write(e, rec, JOURNAL_SYNC);
        }
}

int engine_collect_vmcore(Engine *e, const char *path)
{
        _cleanup_close_ int evfd = openat(e->run_fd, "evidence", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char name[64];

        if (evfd < 0)
                return negative_errno();
        snprintf(name, sizeof name, "vmcore-dmesg-boot-%u.txt", e->boot_index);
        return evidence_collect_vmcore(path, evfd, name, true, evidence_sink, e);
}

json_object *engine_actions_in_flight(Engine *e)
{
        json_object *a = json_object_new_array();
        uint64_t now = now_ns(CLOCK_MONOTONIC);

        for (size_t i = 0; i < e->n_workers; i++) {
                EngineWorker *w = &e->workers[i];
                char phase[WORKER_PHASE_MAX];
                uint64_t since, iteration;
                json_object *o;

                if (w->state != WS_RUNNING)
                        continue;
                engine_worker_phase(e, i, phase, &since, &iteration);

                o = json_object_new_object();
                json_object_object_add(o, "actor", jstr(w->ar->actor->name));
                json_object_object_add(o, "instance", json_object_new_int((int)w->instance));
                json_object_object_add(o, "pid", json_object_new_int(w->pid));
                json_object_object_add(o, "phase", jstr(phase));
                json_object_object_add(o, "iteration", ju64(iteration));
                json_object_object_add(o, "since_ms", json_object_new_double(
                                                              since && now > since ? (double)(now - since) / 1e6 : 0.0));
                json_object_array_add(a, o);
        }
        return a;
}

static void write_evidence_file(Engine *e, size_t index, json_object *item)
{
        _cleanup_close_ int fd = openat(e->run_fd, "evidence", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        const char *text;
        char name[64];
        int r;

        if (fd < 0)
                return;
        snprintf(name, sizeof name, "%04zu-%s.json", index, json_get_str(item, "kind", "unknown"));
        text = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = write_file_atomic_at(fd, name, text, strlen(text));
        if (r < 0)
                log_warning_errno(r, "Cannot write evidence/%s, ignoring (the journal has it): %m", name);
}

/*
 * An OOM kill the run provoked on purpose: the victim is a process an
 * ACTION_OOM_VICTIMS action of this profile named ACTION_OOM_VICTIM_COMM
 * ("Killed process N (hvt-oom-vmm)"). A kill of any other process is
 * still a finding.
 */
static const ProfileActor *expected_oom_kill(Engine *e, int kind, json_object *item)
{
        const char *text;

        if (kind != EVIDENCE_OOM)
                return NULL;
        text = json_get_str(item, "text", "");
        if (!strstr(text, "(" ACTION_OOM_VICTIM_COMM ")"))
                return NULL;
        for (size_t i = 0; i < e->profile->n_actors; i++) {
                const ProfileActor *a = &e->profile->actors[i];
                if (a->action->flags & ACTION_OOM_VICTIMS)
                        return a;
        }
        return NULL;
}

int engine_add_evidence(Engine *e, int kind, json_object *item, bool counted)
{
        const char *title = NULL;
        json_object *v, *copy = NULL, *rec;
        size_t n = json_object_array_length(e->evidence), index = n;
        bool ignored = kind >= 0 && kind < 64 && (e->profile->evidence.ignore & (1ULL << kind));
        uint64_t now = now_ns(CLOCK_REALTIME) / NSEC_PER_USEC;

        /* Our own VMMs' kills are the plan, even where [Evidence] Count=oom counts everyone else's. */
        const ProfileActor *provoked_by = expected_oom_kill(e, kind, item);

        counted = counted && !ignored && !provoked_by;
        if (kind >= 0 && kind < 64 && (EVIDENCE_DEFAULT_UNCOUNTED & (1ULL << kind)) &&
            !(e->profile->evidence.count & (1ULL << kind)))
                counted = false;
        /* The panic a planned panic/crash trigger caused is the plan, not a finding; anything else in its dump is. */
        if (kind == EVIDENCE_PANIC && e->expected_panic_trigger &&
            (streq(json_get_str(item, "source", ""), "pstore") || streq(json_get_str(item, "source", ""), "vmcore")))
                counted = false;
        if (json_object_object_get_ex(item, "title", &v))
                title = json_object_get_string(v);

        /* Identical titles collapse onto one item with a count, first and last seen. */
        for (size_t i = 0; title && i < n; i++) {
                json_object *it = json_object_array_get_idx(e->evidence, i), *t, *c;
                if (!json_object_object_get_ex(it, "title", &t) || !streq(json_object_get_string(t), title))
                        continue;
                json_object_object_get_ex(it, "count", &c);
                json_object_object_add(it, "count", ju64((uint64_t)json_object_get_int64(c) + 1));
                json_object_object_add(it, "last_seen", ju64(now));
                if (counted && !json_object_get_boolean(json_object_object_get(it, "counted")))
                        json_object_object_add(it, "counted", json_object_new_boolean(true));
                copy = it;
                index = i;
                break;
        }
        if (!copy && n >= EVIDENCE_DISTINCT_MAX) {
                e->evidence_overflow++;
                if (counted)
                        e->evidence_counted++;
                return 0;
        }
        if (!copy) {
                if (json_object_deep_copy(item, &copy, NULL) < 0 || !copy)
                        return -ENOMEM;
                json_object_object_add(copy, "kind", jstr(evidence_kind_to_string(kind)));
                json_object_object_add(copy, "count", ju64(1));
                json_object_object_add(copy, "first_seen", ju64(now));
                json_object_object_add(copy, "last_seen", ju64(now));
                json_object_object_add(copy, "boot_id", jstr(e->boot_id));
                json_object_object_add(copy, "counted", json_object_new_boolean(counted));
                if (provoked_by) {
                        char who[PROFILE_NAME_MAX + 16];
                        snprintf(who, sizeof who, "[%s %s]", profile_role_to_string(provoked_by->role),
                                 provoked_by->name);
                        json_object_object_add(copy, "expected", jstr(who));
                }
                if (e->state == RUN_RUNNING || e->state == RUN_STOPPING)
                        json_object_object_add(copy, "in_flight", engine_actions_in_flight(e));
                json_object_array_add(e->evidence, copy);
                if (e->run_fd >= 0)
                        write_evidence_file(e, index, copy);
        }
        if (counted)
                e->evidence_counted++;

        rec = record_new("evidence");
        json_object_object_add(rec, "kind", jstr(evidence_kind_to_string(kind)));
        json_object_object_add(rec, "title", jstr(title));
        json_object_object_add(rec, "counted", json_object_new_boolean(counted));
        json_object_object_add(rec, "index", ju64(index));
        if (index == n) /* the first time: the whole item, so the journal alone is enough */
                json_object_object_add(rec, "item", json_object_get(copy));
        engine_journal_write(e, rec, JOURNAL_SYNC);

        if (e->cb.evidence)
                e->cb.evidence(e, copy, e->cb.userdata);
        if (counted && kind >= 0 && kind < 64 && (e->profile->evidence.stop_on & (1ULL << kind)) &&
            e->state == RUN_RUNNING) {
                char why[96];
                snprintf(why, sizeof why, "evidence: %s", evidence_kind_to_string(kind));
                engine_stop(e, why);
                e->stopped_early = false; /* stopping on evidence is the profile's plan, not an interruption */
        }
        return 0;
}
