/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's client: start, stop, status, runs, show. -H [USER@]HOST
 * reaches a remote host's daemon over sd-bus's SSH transport. runs and show
 * fall back to reading the state directory when no daemon answers, so
 * reports of one-shot runs are readable the same way.
 */
#include <getopt.h>
#include <stdarg.h>
#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "config.h"
#include "host-config.h"
#include "profile.h"
#include "log.h"
#include "report.h"
#include "result.h"
#include "store.h"
#include "verbs.h"

typedef struct BusArgs {
        const char *host;
        const char *state_dir;
        const char *config;
        bool json;
        bool wait;
        const char *junit;
        uint64_t duration_ns;
        uint64_t seed;
        bool seed_set;
} BusArgs;

static void bus_help(const char *verb)
{
        if (streq(verb, "start"))
                printf("Usage: hvtorture start [OPTIONS] PROFILE\n\n"
                       "Starts PROFILE in the daemon (the file is read here and sent over the bus).\n"
                       "  -d, --duration=TIME  override Duration=\n"
                       "  -s, --seed=N         use this seed\n"
                       "  -w, --wait           follow the run and print its report; exit code = verdict\n");
        else if (streq(verb, "stop"))
                printf("Usage: hvtorture stop [OPTIONS]\n\nStops the daemon's run; its report is still written.\n"
                       "  -w, --wait           wait for the report and print it\n");
        else if (streq(verb, "status"))
                printf("Usage: hvtorture status [OPTIONS]\n\nThe daemon's state and the live counters of its run.\n");
        else if (streq(verb, "runs"))
                printf("Usage: hvtorture runs [OPTIONS]\n\nRecorded runs, oldest first, with their verdicts.\n");
        else if (streq(verb, "evidence"))
                printf("Usage: hvtorture evidence [OPTIONS] [RUN-ID]\n\n"
                       "Lists a run's evidence (default: the active or last run): title, kind, count and\n"
                       "whether it counts against the verdict. Exit: 0 none counted, 1 some.\n");
        else
                printf("Usage: hvtorture show [OPTIONS] [RUN-ID]\n\n"
                       "Prints a run's report (default: the active or last run). Exit code = its verdict.\n");
        printf("\nCommon options:\n"
               "  -H, --host=[USER@]HOST  talk to the daemon on HOST over SSH\n"
               "      --state-dir=DIR     read runs from DIR when no daemon answers (runs, show)\n"
               "      --json              machine-readable output\n"
               "      --junit=FILE        also write the report as JUnit XML (start --wait, stop --wait, show)\n"
               "  -h, --help              this text\n");
}

static int parse_bus_args(int argc, char *argv[], BusArgs *a, bool *ret_help)
{
        enum { ARG_JSON = 0x100, ARG_STATE_DIR, ARG_CONFIG, ARG_JUNIT };
        static const struct option options[] = {
                { "host", required_argument, NULL, 'H' },
                { "json", no_argument, NULL, ARG_JSON },
                { "junit", required_argument, NULL, ARG_JUNIT },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "wait", no_argument, NULL, 'w' },
                { "duration", required_argument, NULL, 'd' },
                { "seed", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        *ret_help = false;
        optind = 0;
        while ((c = getopt_long(argc, argv, "H:wd:s:h", options, NULL)) >= 0) {
                switch (c) {
                case 'H':
                        a->host = optarg;
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                case ARG_JUNIT:
                        a->junit = optarg;
                        break;
                case ARG_STATE_DIR:
                        a->state_dir = optarg;
                        break;
                case ARG_CONFIG:
                        a->config = optarg;
                        break;
                case 'w':
                        a->wait = true;
                        break;
                case 'd':
                        if (parse_duration(optarg, &a->duration_ns) < 0 || a->duration_ns == 0) {
                                fprintf(stderr, "hvtorture %s: --duration=%s: not a duration\n", argv[0], optarg);
                                return -EINVAL;
                        }
                        break;
                case 's':
                        if (parse_uint64(optarg, &a->seed) < 0) {
                                fprintf(stderr, "hvtorture %s: --seed=%s: not a number\n", argv[0], optarg);
                                return -EINVAL;
                        }
                        a->seed_set = true;
                        break;
                case 'h':
                        bus_help(argv[0]);
                        *ret_help = true;
                        return 0;
                default:
                        fprintf(stderr, "See 'hvtorture %s --help'.\n", argv[0]);
                        return -EINVAL;
                }
        }
        return 0;
}

static int bus_connect(const BusArgs *a, sd_bus **ret)
{
        int r;

        if (a->host)
                r = sd_bus_open_system_remote(ret, a->host);
        else
                r = sd_bus_open_system(ret);
        return r;
}

/* Calls a Manager method returning one string (JSON); ret is allocated. */
static int call_string(sd_bus *bus, const char *method, char **ret, sd_bus_error *error, const char *types, ...)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *s;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, HVT_BUS_NAME, HVT_BUS_PATH, HVT_BUS_INTERFACE, method);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        r = sd_bus_call(bus, m, 0, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &s);
        if (r < 0)
                return r;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int bus_fail(const char *verb, int r, const sd_bus_error *error)
{
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED))
                fprintf(stderr, "hvtorture %s: access denied: only root may start or stop runs (%s)\n", verb,
                        error->message ? error->message : error->name);
        else if (sd_bus_error_is_set(error))
                fprintf(stderr, "hvtorture %s: %s\n", verb, error->message ? error->message : error->name);
        else
                fprintf(stderr, "hvtorture %s: %s\n", verb, strerror(-r));
        return EXIT_USAGE;
}

static bool daemon_absent(int r, const sd_bus_error *error)
{
        return r == -ENOENT || r == -ECONNREFUSED ||
               sd_bus_error_has_name(error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               sd_bus_error_has_name(error, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

static const char *local_state_dir(const BusArgs *a, HostConfig **keep)
{
        ConfErrors errs = {};

        if (a->state_dir)
                return a->state_dir;
        if (host_config_load(a->config ? a->config : HVT_HOST_CONFIG, keep, &errs) >= 0 && (*keep)->state_dir) {
                conf_errors_clear(&errs);
                return (*keep)->state_dir;
        }
        conf_errors_clear(&errs);
        return HVT_STATE_DIR;
}

static int print_report_text(const char *text, const BusArgs *a)
{
        json_object *o = json_tokener_parse(text);
        int code;

        if (!o) {
                fprintf(stderr, "hvtorture: the report is not valid JSON\n");
                return EXIT_USAGE;
        }
        if (a->junit && streq(a->junit, "-"))
                ;
        else if (a->json)
                print_json(o);
        else
                report_print_text(o, stdout);
        code = (int)json_get_int(o, "exit_code", EXIT_USAGE);
        if (streq(json_get_str(o, "state", ""), "running"))
                code = 0;
        if (a->junit && write_junit(o, a->junit) != 0)
                code = EXIT_USAGE;
        json_object_put(o);
        return code;
}

/* Polls the daemon until the run is over, showing progress; then prints its report. */
static int wait_for_run(sd_bus *bus, const char *run_id, const BusArgs *a)
{
        bool tty = isatty(STDERR_FILENO);

        for (;;) {
                _cleanup_free_ char *status = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                json_object *o;
                const char *state, *rid;
                int r;

                r = call_string(bus, "GetStatus", &status, &error, NULL);
                if (r < 0) {
                        r = bus_fail("start", r, &error);
                        sd_bus_error_free(&error);
                        return r;
                }
                o = json_tokener_parse(status);
                state = json_get_str(o, "state", "?");
                rid = json_get_str(o, "run_id", json_get_str(o, "last_run_id", ""));
                if (!streq(rid, run_id) || streq(state, "finished") || streq(state, "idle")) {
                        _cleanup_free_ char *report = NULL;
                        json_object_put(o);
                        if (tty)
                                fputs("\r\033[K", stderr);
                        r = call_string(bus, "GetReport", &report, &error, "s", run_id);
                        if (r < 0) {
                                r = bus_fail("start", r, &error);
                                sd_bus_error_free(&error);
                                return r;
                        }
                        return print_report_text(report, a);
                }
                if (tty)
                        fprintf(stderr, "\r\033[K%s: %s, %" PRId64 " steps, %.0fs", run_id, state,
                                json_get_int(o, "steps", 0), json_get_double(o, "elapsed_s", 0));
                json_object_put(o);
                sleep_ns(NSEC_PER_SEC);
        }
}

int verb_start(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        ConfErrors errs = {};
        Profile *p = NULL;
        BusArgs a = {};
        const char *run_id;
        bool help;
        int r;

        if (parse_bus_args(argc, argv, &a, &help) < 0)
                return EXIT_USAGE;
        if (help)
                return 0;
        if (optind != argc - 1) {
                fprintf(stderr, "hvtorture start: expected one PROFILE; see --help\n");
                return EXIT_USAGE;
        }
        if (resolve_profile(argv[optind], &path) < 0)
                return EXIT_USAGE;
        /* Validate here first: errors point at the user's file, with every line at once. */
        r = profile_load(path, &p, &errs);
        conf_errors_print(&errs, stderr);
        conf_errors_clear(&errs);
        if (r < 0) {
                if (r != -EINVAL)
                        fprintf(stderr, "hvtorture start: cannot read %s: %s\n", path, strerror(-r));
                return EXIT_USAGE;
        }

        r = bus_connect(&a, &bus);
        if (r < 0) {
                fprintf(stderr, "hvtorture start: cannot reach the bus%s%s: %s\n", a.host ? " on " : "",
                        strempty(a.host), strerror(-r));
                profile_free(p);
                return EXIT_USAGE;
        }
        r = sd_bus_message_new_method_call(bus, &m, HVT_BUS_NAME, HVT_BUS_PATH, HVT_BUS_INTERFACE,
                                           "StartRunWithProfile");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", p->path, p->text);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && a.duration_ns) {
                char d[64];
                snprintf(d, sizeof d, "%" PRIu64 "us", (uint64_t)(a.duration_ns / NSEC_PER_USEC));
                r = sd_bus_message_append(m, "{sv}", "Duration", "s", a.duration_ns == UINT64_MAX ? "infinity" : d);
        }
        if (r >= 0 && a.seed_set)
                r = sd_bus_message_append(m, "{sv}", "Seed", "t", a.seed);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        profile_free(p);
        if (r < 0)
                return bus_fail("start", r, &error);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                if (daemon_absent(r, &error))
                        fprintf(stderr, "hvtorture start: the daemon is not running (systemctl start hvtorture), "
                                        "or use 'hvtorture run' for a one-shot run\n");
                else
                        bus_fail("start", r, &error);
                sd_bus_error_free(&error);
                return EXIT_USAGE;
        }
        r = sd_bus_message_read(reply, "s", &run_id);
        if (r < 0)
                return bus_fail("start", r, &error);
        if (a.wait)
                return wait_for_run(bus, run_id, &a);
        if (a.json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "run_id", json_object_new_string(run_id));
                print_json(o);
                json_object_put(o);
        } else
                printf("Started run %s\n", run_id);
        return 0;
}

int verb_stop(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *run_id = NULL;
        BusArgs a = {};
        bool help;
        int r;

        if (parse_bus_args(argc, argv, &a, &help) < 0)
                return EXIT_USAGE;
        if (help)
                return 0;
        r = bus_connect(&a, &bus);
        if (r >= 0)
                r = call_string(bus, "StopRun", &run_id, &error, NULL);
        if (r < 0) {
                r = bus_fail("stop", r, &error);
                sd_bus_error_free(&error);
                return r;
        }
        if (a.wait)
                return wait_for_run(bus, run_id, &a);
        if (a.json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "run_id", json_object_new_string(run_id));
                json_object_object_add(o, "stopping", json_object_new_boolean(true));
                print_json(o);
                json_object_put(o);
        } else
                printf("Stopping run %s; its report follows in a few seconds ('hvtorture show %s').\n", run_id, run_id);
        return 0;
}

int verb_status(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL;
        json_object *o, *actors;
        BusArgs a = {};
        bool help;
        int r;

        if (parse_bus_args(argc, argv, &a, &help) < 0)
                return EXIT_USAGE;
        if (help)
                return 0;
        r = bus_connect(&a, &bus);
        if (r >= 0)
                r = call_string(bus, "GetStatus", &text, &error, NULL);
        if (r < 0) {
                if (daemon_absent(r, &error))
                        fprintf(stderr, "hvtorture status: the daemon is not running (systemctl start hvtorture)\n");
                else
                        bus_fail("status", r, &error);
                sd_bus_error_free(&error);
                return EXIT_USAGE;
        }
        o = json_tokener_parse(text);
        if (!o)
                return EXIT_USAGE;
        if (a.json) {
                print_json(o);
                json_object_put(o);
                return 0;
        }
        if (streq(json_get_str(o, "state", ""), "idle")) {
                printf("State: idle (daemon pid %" PRId64 ", runs in %s)\n", json_get_int(o, "daemon_pid", 0),
                       json_get_str(o, "state_dir", "?"));
                if (json_get_str(o, "last_run_id", NULL))
                        printf("Last run: %s ('hvtorture show %s')\n", json_get_str(o, "last_run_id", ""),
                               json_get_str(o, "last_run_id", ""));
                json_object_put(o);
                return 0;
        }
        {
                char of[32] = "∞";
                if (json_get_double(o, "duration_s", 0) >= 0)
                        snprintf(of, sizeof of, "%.0fs", json_get_double(o, "duration_s", 0));
                printf("State:    %s\nRun:      %s\nProfile:  %s\nSeed:     %" PRId64 "\nElapsed:  %.0fs of %s\n"
                       "Boots:    %" PRId64 " (%" PRId64 " planned reboots)\nSteps:    %" PRId64 "\nEvidence: %" PRId64 "\n",
                       json_get_str(o, "state", "?"), json_get_str(o, "run_id", "?"), json_get_str(o, "profile", "?"),
                       json_get_int(o, "seed", 0), json_get_double(o, "elapsed_s", 0), of,
                       json_get_int(o, "boot_count", 1), json_get_int(o, "planned_reboots", 0),
                       json_get_int(o, "steps", 0), json_get_int(o, "evidence_count", 0));
        }
        if (json_object_object_get_ex(o, "actors", &actors)) {
                json_object_object_foreach(actors, name, ac)
                {
                        json_object *oc = NULL;
                        bool first = true;
                        printf("  %-16s %8" PRId64 " steps:", name, json_get_int(ac, "steps", 0));
                        json_object_object_get_ex(ac, "outcomes", &oc);
                        if (oc) {
                                json_object_object_foreach(oc, k, v)
                                {
                                        printf("%s %s %" PRId64, first ? "" : ",", k, json_object_get_int64(v));
                                        first = false;
                                }
                        }
                        putchar('\n');
                }
        }
        json_object_put(o);
        return 0;
}

int verb_runs(int argc, char *argv[])
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        json_object *out = json_object_new_array();
        BusArgs a = {};
        bool help;
        int r;

        if (parse_bus_args(argc, argv, &a, &help) < 0 || help) {
                json_object_put(out);
                return help ? 0 : EXIT_USAGE;
        }
        r = a.state_dir ? -ENOENT : bus_connect(&a, &bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, HVT_BUS_NAME, HVT_BUS_PATH, HVT_BUS_INTERFACE, "ListRuns", &error, &reply, "");
        if (r >= 0) {
                const char *id, *verdict, *profile, *started;
                r = sd_bus_message_enter_container(reply, 'a', "(ssss)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(ssss)", &id, &verdict, &profile, &started)) > 0) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "run_id", json_object_new_string(id));
                        json_object_object_add(o, "verdict", json_object_new_string(verdict));
                        json_object_object_add(o, "profile", json_object_new_string(profile));
                        json_object_object_add(o, "started", json_object_new_string(started));
                        json_object_array_add(out, o);
                }
        } else if (!a.host && (a.state_dir || daemon_absent(r, &error) || r == -ENOENT)) {
                /* No daemon: read the store directly. */
                _cleanup_(host_config_freep) HostConfig *hc = NULL;
                _cleanup_(store_freep) Store *s = NULL;
                _cleanup_strv_free_ char **ids = NULL;
                const char *dir = local_state_dir(&a, &hc);

                r = store_open(dir, &s);
                if (r >= 0)
                        r = store_list_runs(s, &ids);
                for (size_t i = 0; r >= 0 && ids && ids[i]; i++) {
                        _cleanup_free_ char *text = NULL;
                        _cleanup_close_ int fd = -1;
                        json_object *rep = NULL, *o = json_object_new_object();
                        if (store_open_run(s, ids[i], &fd) >= 0 && read_file_at(fd, "report.json", 64 << 20, &text, NULL) >= 0)
                                rep = json_tokener_parse(text);
                        json_object_object_add(o, "run_id", json_object_new_string(ids[i]));
                        json_object_object_add(o, "verdict", json_object_new_string(rep ? json_get_str(rep, "verdict", "?") : "unfinished"));
                        json_object_object_add(o, "profile", json_object_new_string(rep ? json_get_str(rep, "profile", "") : ""));
                        json_object_object_add(o, "started", json_object_new_string(rep ? json_get_str(rep, "started", "") : ""));
                        json_object_array_add(out, o);
                        json_object_put(rep);
                }
                if (r < 0) {
                        fprintf(stderr, "hvtorture runs: cannot read %s: %s\n", dir, strerror(-r));
                        json_object_put(out);
                        return EXIT_USAGE;
                }
        } else {
                r = bus_fail("runs", r, &error);
                sd_bus_error_free(&error);
                json_object_put(out);
                return r;
        }
        sd_bus_error_free(&error);
        if (a.json)
                print_json(out);
        else {
                printf("%-24s %-11s %-25s %s\n", "RUN", "VERDICT", "STARTED", "PROFILE");
                for (size_t i = 0; i < json_object_array_length(out); i++) {
                        json_object *o = json_object_array_get_idx(out, i);
                        printf("%-24s %-11s %-25s %s\n", json_get_str(o, "run_id", ""), json_get_str(o, "verdict", ""),
                               json_get_str(o, "started", ""), json_get_str(o, "profile", ""));
                }
        }
        json_object_put(out);
        return 0;
}

/* The report of run id (or the active/last one) from the daemon, or the state directory without one. */
static int fetch_report(const char *verb, BusArgs *a, const char *id, char **ret_text)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (id[0] && !store_run_id_valid(id)) {
                fprintf(stderr, "hvtorture %s: '%s' is not a run id (see 'hvtorture runs')\n", verb, id);
                return -EINVAL;
        }
        r = a->state_dir ? -ENOENT : bus_connect(a, &bus);
        if (r >= 0)
                r = call_string(bus, "GetReport", ret_text, &error, "s", id);
        if (r < 0 && !a->host && (a->state_dir || r == -ENOENT || daemon_absent(r, &error))) {
                _cleanup_(host_config_freep) HostConfig *hc = NULL;
                _cleanup_(store_freep) Store *s = NULL;
                _cleanup_strv_free_ char **ids = NULL;
                _cleanup_close_ int fd = -1;
                const char *dir = local_state_dir(a, &hc);

                sd_bus_error_free(&error);
                r = store_open(dir, &s);
                if (r >= 0 && !id[0]) {
                        r = store_list_runs(s, &ids);
                        if (r >= 0 && (!ids || !ids[0]))
                                r = -ENOENT;
                        if (r >= 0)
                                id = ids[strv_length(ids) - 1];
                }
                if (r >= 0)
                        r = store_open_run(s, id, &fd);
                if (r < 0) {
                        fprintf(stderr, "hvtorture %s: no run%s%s in %s/runs\n", verb, id[0] ? " " : "s", id, dir);
                        return r;
                }
                r = read_file_at(fd, "report.json", 64 << 20, ret_text, NULL);
                if (r < 0)
                        fprintf(stderr, "hvtorture %s: run %s has no report (it did not finish); its journal is "
                                        "%s/runs/%s/journal.jsonl\n", verb, id, dir, id);
                return r;
        }
        if (r < 0) {
                bus_fail(verb, r, &error);
                sd_bus_error_free(&error);
        }
        return r;
}

int verb_show(int argc, char *argv[])
{
        _cleanup_free_ char *text = NULL;
        BusArgs a = {};
        bool help;

        if (parse_bus_args(argc, argv, &a, &help) < 0)
                return EXIT_USAGE;
        if (help)
                return 0;
        if (fetch_report("show", &a, optind < argc ? argv[optind] : "", &text) < 0)
                return EXIT_USAGE;
        return print_report_text(text, &a);
}

int verb_evidence(int argc, char *argv[])
{
        _cleanup_free_ char *text = NULL;
        json_object *o, *ev = NULL, *out;
        BusArgs a = {};
        bool help;
        size_t n;

        if (parse_bus_args(argc, argv, &a, &help) < 0)
                return EXIT_USAGE;
        if (help)
                return 0;
        if (fetch_report("evidence", &a, optind < argc ? argv[optind] : "", &text) < 0)
                return EXIT_USAGE;
        o = json_tokener_parse(text);
        if (!o)
                return EXIT_USAGE;
        json_object_object_get_ex(o, "evidence", &ev);
        n = ev ? json_object_array_length(ev) : 0;
        if (a.json) {
                out = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(out, json_object_get(json_object_array_get_idx(ev, i)));
                print_json(out);
                json_object_put(out);
        } else if (n == 0)
                printf("Run %s: no evidence\n", json_get_str(o, "run_id", "?"));
        else {
                printf("%6s  %-10s %-7s %s\n", "COUNT", "KIND", "COUNTED", "TITLE");
                for (size_t i = 0; i < n; i++) {
                        json_object *it = json_object_array_get_idx(ev, i);
                        printf("%6" PRId64 "  %-10s %-7s %s\n", json_get_int(it, "count", 1), json_get_str(it, "kind", "?"),
                               json_object_get_boolean(json_object_object_get(it, "counted")) ? "yes" : "no",
                               json_get_str(it, "title", "(untitled)"));
                }
        }
        n = (size_t)json_get_int(o, "evidence_counted", 0);
        json_object_put(o);
        return n > 0 ? EXIT_EVIDENCE : 0;
}
