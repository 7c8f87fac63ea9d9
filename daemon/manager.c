/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hvtortured's bus API (org.hvtorture1.Manager) and the run it drives.
 *
 * Mutating methods (StartRun, StartRunWithProfile, StopRun) are for root
 * only: the D-Bus policy says so, and we check the caller's euid ourselves
 * too, so a bus without our policy (a test bus, a peer connection) is no
 * way around it. Reads are open to everyone the policy lets in.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "bus-names.h"
#include "evidence-monitor.h"
#include "config.h"
#include "host-check.h"
#include "log.h"
#include "manager.h"
#include "report.h"
#include "store.h"

#define LIST_RUNS_MAX 1000

struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_bus_slot *vtable_slot;
        char *config_path;
        char *state_dir_override;
        char *bus_address;
        HostConfig *host;
        HostConfig *run_host; /* the config the current run started with */
        Engine *engine;
        sd_event_source *reap_later;
        char last_run_id[RUN_ID_MAX];
        bool exiting;
        json_object *boot_evidence; /* crash records found at daemon start, outside any run */
};

static void collect_boot_pstore(Manager *m);

static const char *state_dir(const Manager *m)
{
        if (m->state_dir_override)
                return m->state_dir_override;
        return m->host && m->host->state_dir ? m->host->state_dir : HVT_STATE_DIR;
}

static int load_config(Manager *m, HostConfig **ret)
{
        ConfErrors errs = {};
        int r = host_config_load(m->config_path, ret, &errs);

        for (size_t i = 0; i < errs.n; i++) {
                _cleanup_free_ char *s = conf_error_format(&errs.items[i]);
                log_error("%s", strna(s));
        }
        conf_errors_clear(&errs);
        return r;
}

int manager_new(sd_event *event, const ManagerOptions *opts, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(event);
        m->config_path = strdup(opts->config_path ? opts->config_path : HVT_HOST_CONFIG);
        if (!m->config_path)
                return -ENOMEM;
        if (opts->state_dir && !(m->state_dir_override = strdup(opts->state_dir)))
                return -ENOMEM;
        if (opts->bus_address && !(m->bus_address = strdup(opts->bus_address)))
                return -ENOMEM;
        r = load_config(m, &m->host);
        if (r < 0)
                return log_error_errno(r, "Cannot load host config %s: %m", m->config_path);
        /* Filled by collect_boot_pstore(), after manager_resume_runs() let the runs take theirs. */
        m->boot_evidence = json_object_new_array();
        if (!m->boot_evidence)
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        engine_free(m->engine);
        sd_event_source_disable_unref(m->reap_later);
        sd_bus_slot_unref(m->vtable_slot);
        sd_bus_flush_close_unref(m->bus);
        host_config_free(m->host);
        host_config_free(m->run_host);
        json_object_put(m->boot_evidence);
        sd_event_unref(m->event);
        free(m->config_path);
        free(m->state_dir_override);
        free(m->bus_address);
        free(m);
        return NULL;
}

static int boot_evidence_sink(int kind, json_object *item, bool counted, void *userdata)
{
        Manager *m = userdata;
        json_object *copy = NULL;

        log_warning("Crash record from before this daemon started: %s: %s", evidence_kind_to_string(kind),
                    json_get_str(item, "title", "?"));
        if (json_object_array_length(m->boot_evidence) < 100 && json_object_deep_copy(item, &copy, NULL) >= 0) {
                json_object_object_add(copy, "kind", json_object_new_string(evidence_kind_to_string(kind)));
                json_object_object_del(copy, "text");
                json_object_array_add(m->boot_evidence, copy);
        }
        return 0;
}

/*
 * pstore at daemon start: a crash since the last boot left records that
 * the next crash could overwrite. Take them into STATE/pstore/TIME now —
 * but only what is left once the unfinished runs were resumed or closed:
 * a crash during a run is that run's evidence, collected by the run.
 */
static void collect_boot_pstore(Manager *m)
{
        static const char *const dirs[] = { "/sys/fs/pstore", "/var/lib/systemd/pstore", NULL };
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_close_ int base = -1, dst = -1;
        char name[64];
        time_t t = time(NULL);
        struct tm tm;
        int r;

        r = store_open(state_dir(m), &s);
        if (r < 0)
                return (void)log_warning_errno(r, "Cannot open %s for pstore records, ignoring: %m", state_dir(m));
        base = open(store_path(s), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (base < 0 || (mkdirat(base, "pstore", 0755) < 0 && errno != EEXIST))
                return (void)log_warning_errno(errno, "Cannot create %s/pstore, ignoring: %m", state_dir(m));
        gmtime_r(&t, &tm);
        strftime(name, sizeof name, "pstore/%Y%m%d-%H%M%S", &tm);
        if (mkdirat(base, name, 0755) < 0 && errno != EEXIST)
                return (void)log_warning_errno(errno, "Cannot create %s/%s, ignoring: %m", state_dir(m), name);
        dst = openat(base, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dst < 0)
                return;
        r = evidence_collect_pstore(dirs, dst, m->host->keep_pstore, false, boot_evidence_sink, m);
        if (r <= 0)
                (void)unlinkat(base, name, AT_REMOVEDIR);
        else
                log_info("Kept %d pstore record(s) in %s/%s", r, state_dir(m), name);
}

int manager_reload(Manager *m)
{
        HostConfig *c = NULL;
        int r = load_config(m, &c);

        if (r < 0)
                return log_warning_errno(r, "Keeping the previous host config: %s is not valid", m->config_path);
        host_config_free(m->host);
        m->host = c;
        log_info("Host config reloaded from %s", m->config_path);
        return 0;
}

/* ---- engine callbacks ---- */

static void notify_status(Manager *m)
{
        char line[400];

        if (!m->engine) {
                sd_notify(false, "STATUS=Idle, waiting for a run");
                return;
        }
        engine_status_line(m->engine, line, sizeof line);
        sd_notifyf(false, "STATUS=Run %s: %s", engine_run_id(m->engine), line);
}

static void on_progress(Engine *e, void *userdata)
{
        Manager *m = userdata;

        notify_status(m);
        if (m->bus)
                (void)sd_bus_emit_signal(m->bus, HVT_BUS_PATH, HVT_BUS_INTERFACE, "Progress", "std",
                                         engine_run_id(e), engine_total_steps(e),
                                         (double)engine_elapsed_ns(e) / 1e9);
}

static void on_evidence(Engine *e, json_object *item, void *userdata)
{
        Manager *m = userdata;

        log_warning("Evidence in run %s: %s: %s", engine_run_id(e), json_get_str(item, "kind", "?"),
                    json_get_str(item, "title", "?"));
        if (m->bus)
                (void)sd_bus_emit_signal(m->bus, HVT_BUS_PATH, HVT_BUS_INTERFACE, "EvidenceFound", "sss",
                                         engine_run_id(e), json_get_str(item, "kind", ""),
                                         json_get_str(item, "title", ""));
}

static int reap_engine(sd_event_source *s, void *userdata)
{
        Manager *m = userdata;

        m->reap_later = sd_event_source_disable_unref(m->reap_later);
        m->engine = engine_free(m->engine);
        m->run_host = host_config_free(m->run_host);
        notify_status(m);
        if (m->bus)
                (void)sd_bus_emit_properties_changed(m->bus, HVT_BUS_PATH, HVT_BUS_INTERFACE, "State", "ActiveRun",
                                                     NULL);
        if (m->exiting)
                sd_event_exit(m->event, 0);
        return 0;
}

static void on_finished(Engine *e, void *userdata)
{
        Manager *m = userdata;
        const char *v = engine_suspended(e) ? "suspended" : verdict_to_string(engine_verdict(e));

        snprintf(m->last_run_id, sizeof m->last_run_id, "%s", strempty(engine_run_id(e)));
        if (engine_suspended(e))
                log_info("Run %s suspended: the host is rebooting at its trigger's request; it resumes at the next "
                         "start", engine_run_id(e));
        else
                log_info("Run %s finished: %s (%s)", engine_run_id(e), v, strna(engine_error(e)));
        if (m->bus)
                (void)sd_bus_emit_signal(m->bus, HVT_BUS_PATH, HVT_BUS_INTERFACE, "RunFinished", "ss",
                                         engine_run_id(e), v);
        /* We are inside the engine's own callback: free it from a deferred source. */
        (void)sd_event_add_defer(m->event, &m->reap_later, reap_engine, m);
}

/* ---- starting and stopping ---- */

static int require_root(sd_bus_message *msg, sd_bus_error *error)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot determine the caller's identity: %m");
        if (uid != 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Only root may start or stop runs on this host.");
        return 0;
}

static int parse_options(sd_bus_message *msg, EngineOptions *opts, sd_bus_error *error)
{
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key;

                r = sd_bus_message_enter_container(msg, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "Duration")) {
                        const char *s;
                        r = sd_bus_message_read(msg, "v", "s", &s);
                        if (r < 0)
                                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                        "Option Duration must be a string such as \"30s\".");
                        if (parse_duration(s, &opts->duration_ns) < 0 || opts->duration_ns == 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option Duration=%s is not a duration (e.g. 30s, 10min, 2h).", s);
                } else if (streq(key, "Seed")) {
                        r = sd_bus_message_read(msg, "v", "t", &opts->seed);
                        if (r < 0)
                                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                        "Option Seed must be an unsigned 64-bit integer (t).");
                        opts->seed_set = true;
                } else
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown option '%s'; allowed: Duration (s), Seed (t).", key);
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(msg);
}

static int start_run(Manager *m, sd_bus_message *msg, const char *path, const char *text, size_t len,
                     sd_bus_error *error)
{
        EngineOptions opts = {};
        EngineCallbacks cb = { .progress = on_progress, .finished = on_finished, .evidence = on_evidence,
                               .userdata = m };
        ConfErrors errs = {};
        Profile *p = NULL;
        Engine *e = NULL;
        HostConfig *host = NULL;
        int r;

        r = require_root(msg, error);
        if (r < 0)
                return r;
        r = parse_options(msg, &opts, error);
        if (r < 0)
                return r;
        if (m->engine || m->exiting)
                return sd_bus_error_setf(error, HVT_BUS_ERROR_BUSY, "Run %s is in progress; stop it first.",
                                         m->engine ? engine_run_id(m->engine) : "(shutting down)");

        if (text)
                r = profile_parse_text(path, text, len, &p, &errs);
        else if (path[0] != '/')
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Profile path '%s' is not absolute; the daemon does not share your working "
                                         "directory (hvtorture start sends the file's contents instead).", path);
        else
                r = profile_load(path, &p, &errs);
        if (r < 0) {
                _cleanup_free_ char *first = errs.n ? conf_error_format(&errs.items[0]) : NULL;
                if (errs.n)
                        r = sd_bus_error_setf(error, HVT_BUS_ERROR_BAD_PROFILE, "%s%s", strna(first),
                                              errs.n > 1 ? " (and more errors: run 'hvtorture validate')" : "");
                else
                        r = sd_bus_error_setf(error, HVT_BUS_ERROR_BAD_PROFILE, "Cannot read profile %s: %s", path,
                                              strerror(-r));
                conf_errors_clear(&errs);
                return r;
        }

        /* Each run takes the host config as it is on disk now; edits apply to the next run. */
        r = load_config(m, &host);
        if (r < 0) {
                profile_free(p);
                return sd_bus_error_setf(error, HVT_BUS_ERROR_SETUP, "Host config %s is not valid: see the journal.",
                                         m->config_path);
        }
        opts.host = host;
        opts.state_dir = m->state_dir_override;
        opts.daemon_owned = true;

        r = engine_new(m->event, p, &opts, &cb, &e);
        if (r < 0) {
                profile_free(p);
                host_config_free(host);
                return sd_bus_error_set_errnof(error, r, "Cannot set up the run: %m");
        }
        r = engine_start(e);
        if (r < 0 && engine_state(e) == RUN_PREPARING) {
                r = sd_bus_error_setf(error, HVT_BUS_ERROR_SETUP, "%s", engine_error(e) ? engine_error(e) : strerror(-r));
                engine_free(e);
                host_config_free(host);
                return r;
        }
        m->engine = e;
        host_config_free(m->run_host);
        m->run_host = host;
        log_info("Run %s started from %s, seed %" PRIu64, engine_run_id(e), p->path, engine_seed(e));
        notify_status(m);
        (void)sd_bus_emit_properties_changed(m->bus, HVT_BUS_PATH, HVT_BUS_INTERFACE, "State", "ActiveRun", NULL);
        return sd_bus_reply_method_return(msg, "s", engine_run_id(e));
}

static int method_start_run(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        const char *path;
        int r;

        r = sd_bus_message_read(msg, "s", &path);
        if (r < 0)
                return r;
        return start_run(userdata, msg, path, NULL, 0, error);
}

static int method_start_run_with_profile(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        const char *name, *text;
        int r;

        r = sd_bus_message_read(msg, "ss", &name, &text);
        if (r < 0)
                return r;
        return start_run(userdata, msg, name, text, strlen(text), error);
}

static int method_stop_run(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = require_root(msg, error);
        if (r < 0)
                return r;
        if (!m->engine || engine_state(m->engine) != RUN_RUNNING)
                return sd_bus_error_set(error, HVT_BUS_ERROR_NOT_RUNNING, "No run is in progress.");
        log_info("Stopping run %s on request", engine_run_id(m->engine));
        engine_stop(m->engine, "stopped over the bus");
        return sd_bus_reply_method_return(msg, "s", engine_run_id(m->engine));
}

/* ---- reads ---- */

static int reply_json(sd_bus_message *msg, json_object *o)
{
        int r = sd_bus_reply_method_return(
                msg, "s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return r;
}

static int method_get_status(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        json_object *o;

        if (m->engine)
                o = engine_status_json(m->engine);
        else {
                o = json_object_new_object();
                json_object_object_add(o, "state", json_object_new_string("idle"));
                if (m->last_run_id[0])
                        json_object_object_add(o, "last_run_id", json_object_new_string(m->last_run_id));
        }
        json_object_object_add(o, "daemon_pid", json_object_new_int(getpid()));
        if (json_object_array_length(m->boot_evidence) > 0)
                json_object_object_add(o, "boot_evidence", json_object_get(m->boot_evidence));
        json_object_object_add(o, "state_dir", json_object_new_string(state_dir(m)));
        return reply_json(msg, o);
}

static int read_report(Manager *m, const char *id, json_object **ret, sd_bus_error *error)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        json_object *o;
        int r;

        r = store_open(state_dir(m), &s);
        if (r >= 0)
                r = store_open_run(s, id, &fd);
        if (r < 0)
                return sd_bus_error_setf(error, HVT_BUS_ERROR_NO_SUCH_RUN, "No run '%s' in %s/runs.", id, state_dir(m));
        r = read_file_at(fd, "report.json", 64 << 20, &text, NULL);
        if (r < 0)
                return sd_bus_error_setf(error, HVT_BUS_ERROR_NO_SUCH_RUN,
                                         "Run '%s' has no report (it did not finish); its journal is %s/runs/%s/journal.jsonl.",
                                         id, state_dir(m), id);
        o = json_tokener_parse(text);
        if (!o)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Run '%s' has an unreadable report.json.", id);
        *ret = o;
        return 0;
}

static int method_get_report(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        const char *id;
        json_object *o = NULL;
        int r;

        r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        if (!id[0] && m->engine)
                id = engine_run_id(m->engine);
        else if (!id[0])
                id = m->last_run_id;
        if (!store_run_id_valid(id))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "'%s' is not a run id.", id);
        if (m->engine && streq_ptr(engine_run_id(m->engine), id))
                return reply_json(msg, engine_report_json(m->engine));
        r = read_report(m, id, &o, error);
        if (r < 0)
                return r;
        return reply_json(msg, o);
}

static int method_list_runs(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        size_t n, first;
        int r;

        r = store_open(state_dir(m), &s);
        if (r >= 0)
                r = store_list_runs(s, &ids);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot list %s/runs: %m", state_dir(m));
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        if (r < 0)
                return r;
        n = strv_length(ids);
        first = n > LIST_RUNS_MAX ? n - LIST_RUNS_MAX : 0;
        for (size_t i = first; i < n; i++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_close_ int fd = -1;
                json_object *o = NULL;
                const char *verdict = "unfinished", *profile = "", *started = "";

                if (m->engine && streq_ptr(engine_run_id(m->engine), ids[i]))
                        verdict = "running";
                else if (store_open_run(s, ids[i], &fd) >= 0 && read_file_at(fd, "report.json", 64 << 20, &text, NULL) >= 0)
                        o = json_tokener_parse(text);
                if (o) {
                        verdict = json_get_str(o, "verdict", "?");
                        profile = json_get_str(o, "profile", "");
                        started = json_get_str(o, "started", "");
                }
                r = sd_bus_message_append(reply, "(ssss)", ids[i], verdict, profile, started);
                json_object_put(o);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_check(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        HostCheck checks[32];
        size_t n = host_check_all(m->host, checks, ELEMENTSOF(checks));

        return reply_json(msg, host_checks_to_json(checks, n));
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->engine ? run_state_to_string(engine_state(m->engine)) : "idle");
}

static int property_get_active_run(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->engine ? strempty(engine_run_id(m->engine)) : "");
}

static int property_get_steps(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        return sd_bus_message_append(reply, "t", m->engine ? engine_total_steps(m->engine) : (uint64_t)0);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ActiveRun", "s", property_get_active_run, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Steps", "t", property_get_steps, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("StartRun", SD_BUS_ARGS("s", profile_path, "a{sv}", options),
                                SD_BUS_RESULT("s", run_id), method_start_run, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartRunWithProfile",
                                SD_BUS_ARGS("s", profile_name, "s", profile_text, "a{sv}", options),
                                SD_BUS_RESULT("s", run_id), method_start_run_with_profile, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopRun", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", run_id), method_stop_run,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", status_json), method_get_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetReport", SD_BUS_ARGS("s", run_id), SD_BUS_RESULT("s", report_json),
                                method_get_report, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListRuns", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssss)", runs), method_list_runs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Check", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", checks_json), method_check,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("s", run_id, "t", steps, "d", elapsed_s), 0),
        SD_BUS_SIGNAL_WITH_ARGS("EvidenceFound", SD_BUS_ARGS("s", run_id, "s", kind, "s", title), 0),
        SD_BUS_SIGNAL_WITH_ARGS("RunFinished", SD_BUS_ARGS("s", run_id, "s", verdict), 0),
        SD_BUS_VTABLE_END,
};

int manager_connect_bus(Manager *m)
{
        int r;

        if (m->bus_address) {
                r = sd_bus_new(&m->bus);
                if (r >= 0)
                        r = sd_bus_set_address(m->bus, m->bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(m->bus, true);
                if (r >= 0)
                        r = sd_bus_start(m->bus);
        } else
                r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %m");

        r = sd_bus_add_object_vtable(m->bus, &m->vtable_slot, HVT_BUS_PATH, HVT_BUS_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Cannot publish %s: %m", HVT_BUS_PATH);
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m");
        /* The name last: once clients can find us, everything behind it must be ready. */
        r = sd_bus_request_name(m->bus, HVT_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot own %s (another hvtortured, or the D-Bus policy denies it): %m",
                                       HVT_BUS_NAME);
        return 0;
}

int manager_resume_runs(Manager *m)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        EngineCallbacks cb = { .progress = on_progress, .finished = on_finished, .evidence = on_evidence,
                               .userdata = m };
        int r;

        r = store_open(state_dir(m), &s);
        if (r >= 0)
                r = store_list_active(s, &ids);
        if (r < 0) {
                log_warning_errno(r, "Cannot look for unfinished runs in %s, ignoring: %m", state_dir(m));
                collect_boot_pstore(m);
                return r;
        }

        for (size_t i = 0; ids && ids[i]; i++) {
                EngineOptions opts = { .host = m->host, .state_dir = m->state_dir_override };
                HostConfig *host = NULL;
                Engine *e = NULL;

                if (m->engine) {
                        log_warning("Run %s did not end either; it stays marked and is looked at next time", ids[i]);
                        continue;
                }
                if (load_config(m, &host) < 0)
                        return -EINVAL;
                opts.host = host;
                r = engine_resume(m->event, ids[i], &opts, &cb, &e);
                if (r == -ESTALE) {
                        /* A crash kernel after a crash we did not plan: the log is saved, the next boot resumes. */
                        host_config_free(host);
                        continue;
                }
                if (r == -EBUSY) {
                        log_info("Run %s is still being run by a live process; leaving it alone", ids[i]);
                        host_config_free(host);
                        continue;
                }
                if (r < 0) {
                        log_error_errno(r, "Cannot resume run %s: %m; its files stay in %s/runs/%s", ids[i],
                                        state_dir(m), ids[i]);
                        (void)store_clear_active(s, ids[i]);
                        host_config_free(host);
                        continue;
                }
                if (engine_state(e) == RUN_FINISHED) {
                        /* Closed: its report is written; on_finished has queued the reap, do it now instead. */
                        m->reap_later = sd_event_source_disable_unref(m->reap_later);
                        engine_free(e);
                        host_config_free(host);
                        continue;
                }
                m->engine = e;
                m->run_host = host;
        }
        /* The runs took the records of crashes during them; what is left predates them all. */
        collect_boot_pstore(m);
        notify_status(m);
        return 0;
}

void manager_shutdown(Manager *m)
{
        m->exiting = true;
        if (m->engine && engine_state(m->engine) == RUN_RUNNING) {
                log_info("Stopping run %s for shutdown", engine_run_id(m->engine));
                engine_stop(m->engine, "daemon shutting down");
        } else if (m->engine && engine_state(m->engine) == RUN_STOPPING)
                ; /* the finished callback exits the loop */
        else
                sd_event_exit(m->event, 0);
}
