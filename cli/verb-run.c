/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `hvtorture run PROFILE`: the engine in this process, on its own sd-event
 * loop, with a live progress line on a terminal (plain lines otherwise), a
 * report at the end and the verdict as exit code. And `validate`.
 */
#include <getopt.h>
#include <signal.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "report.h"
#include "self-protect.h"
#include "store.h"
#include "verbs.h"

typedef struct RunCtx {
        Engine *engine;
        sd_event *event;
        bool tty;
        bool quiet;
        unsigned progress_ticks;
        unsigned signals;
} RunCtx;

static void run_help(void)
{
        printf("Usage: hvtorture run [OPTIONS] PROFILE\n\n"
               "Runs PROFILE (a path, or the name of a shipped profile such as 'smoke') in this process\n"
               "and prints its report. No daemon is needed.\n\n"
               "  -d, --duration=TIME      run this long instead of the profile's Duration= (30s, 10min, 2h)\n"
               "  -s, --seed=N             use this seed (replays a run with its profile)\n"
               "      --state-dir=DIR      store the run under DIR/runs (default: StateDirectory= of the host\n"
               "                           config, else " HVT_STATE_DIR ")\n"
               "      --config=FILE        host config (default " HVT_HOST_CONFIG ")\n"
               "      --allow-destructive  allow module unloads, reboots, kexec, panics and unconfined OOM\n"
               "                           for this run even though the host config does not\n"
               "  -n, --dry-run            print the plan and exit; touches nothing\n"
               "      --json               print the report as JSON (progress still goes to stderr)\n"
               "      --junit=FILE         also write the report as JUnit XML to FILE ('-' for stdout)\n"
               "  -q, --quiet              no progress output\n"
               "  -v, --verbose            debug logging\n"
               "  -h, --help               this text\n\n"
               "Exit: 0 pass, 1 evidence, 2 usage/profile/setup error, 3 incomplete (interrupted or an actor\n"
               "never completed a real step). Ctrl-C stops the run and still writes its report; a second\n"
               "Ctrl-C kills the workers at once.\n");
}

static void on_progress(Engine *e, void *userdata)
{
        RunCtx *c = userdata;
        char line[512];

        if (c->quiet)
                return;
        engine_status_line(e, line, sizeof line);
        if (c->tty) {
                fprintf(stderr, "\r\033[K%s", line);
                fflush(stderr);
        } else if (++c->progress_ticks % 5 == 0) {
                fprintf(stderr, "progress: %s\n", line);
        }
}

static void on_finished(Engine *e, void *userdata)
{
        RunCtx *c = userdata;

        if (c->tty && !c->quiet)
                fputs("\r\033[K", stderr);
        sd_event_exit(c->event, 0);
}

static void on_evidence(Engine *e, json_object *item, void *userdata)
{
        RunCtx *c = userdata;

        if (c->tty && !c->quiet)
                fputs("\r\033[K", stderr);
        fprintf(stderr, "evidence: %s: %s\n", json_get_str(item, "kind", "?"), json_get_str(item, "title", "?"));
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        RunCtx *c = userdata;
        char reason[64];

        if (++c->signals == 1) {
                snprintf(reason, sizeof reason, "interrupted by SIG%s", sigabbrev_np((int)si->ssi_signo));
                if (c->tty)
                        fputs("\r\033[K", stderr);
                fprintf(stderr, "Stopping (%s); again to kill the workers at once.\n", reason);
                engine_stop(c->engine, reason);
        } else
                engine_kill(c->engine);
        return 0;
}

static int load_host_config(const char *path, HostConfig **ret)
{
        ConfErrors errs = {};
        int r = host_config_load(path, ret, &errs);

        conf_errors_print(&errs, stderr);
        conf_errors_clear(&errs);
        if (r < 0 && r != -EINVAL)
                log_error_errno(r, "Cannot read host config %s: %m", path);
        return r;
}

static int load_profile(const char *arg, Profile **ret)
{
        _cleanup_free_ char *path = NULL;
        ConfErrors errs = {};
        int r;

        r = resolve_profile(arg, &path);
        if (r < 0)
                return log_oom();
        r = profile_load(path, ret, &errs);
        conf_errors_print(&errs, stderr);
        conf_errors_clear(&errs);
        if (r < 0 && r != -EINVAL)
                return log_error_errno(r, "Cannot read profile %s: %m", path);
        return r;
}

/* Signals and child exits come to us through the event loop, not as async handlers. */
static void block_run_signals(void)
{
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
}

/* The report on stdout (text, JSON, or JUnit with --junit=-), JUnit to a file; returns the exit code. */
static int print_report(Engine *engine, bool json, const char *junit)
{
        json_object *report = engine_report_json(engine);
        int r;

        if (junit && streq(junit, "-"))
                ; /* stdout carries the XML */
        else if (json)
                print_json(report);
        else
                report_print_text(report, stdout);
        r = verdict_exit_code(engine_verdict(engine));
        if (junit && write_junit(report, junit) != 0)
                r = EXIT_USAGE;
        json_object_put(report);
        return r;
}

int verb_run(int argc, char *argv[])
{
        enum { ARG_STATE_DIR = 0x100, ARG_CONFIG, ARG_ALLOW_DESTRUCTIVE, ARG_JSON, ARG_JUNIT };
        static const struct option options[] = {
                { "duration", required_argument, NULL, 'd' },
                { "seed", required_argument, NULL, 's' },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "allow-destructive", no_argument, NULL, ARG_ALLOW_DESTRUCTIVE },
                { "dry-run", no_argument, NULL, 'n' },
                { "json", no_argument, NULL, ARG_JSON },
                { "junit", required_argument, NULL, ARG_JUNIT },
                { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        EngineOptions opts = {};
        EngineCallbacks cb = {};
        RunCtx ctx = {};
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_(engine_freep) Engine *engine = NULL;
        Profile *profile = NULL;
        const char *config_path = HVT_HOST_CONFIG, *junit = NULL;
        bool dry_run = false, json = false;
        sd_event *event = NULL;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "d:s:nqvh", options, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        if (parse_duration(optarg, &opts.duration_ns) < 0 || opts.duration_ns == 0) {
                                fprintf(stderr, "hvtorture run: --duration=%s: not a duration; write e.g. 30s, "
                                                "10min, 2h or infinity\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 's':
                        if (parse_uint64(optarg, &opts.seed) < 0) {
                                fprintf(stderr, "hvtorture run: --seed=%s: not a number\n", optarg);
                                return EXIT_USAGE;
                        }
                        opts.seed_set = true;
                        break;
                case ARG_STATE_DIR:
                        opts.state_dir = optarg;
                        break;
                case ARG_CONFIG:
                        config_path = optarg;
                        break;
                case ARG_ALLOW_DESTRUCTIVE:
                        opts.allow_destructive = true;
                        break;
                case 'n':
                        dry_run = true;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_JUNIT:
                        junit = optarg;
                        break;
                case 'q':
                        ctx.quiet = true;
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        run_help();
                        return 0;
                default:
                        fprintf(stderr, "See 'hvtorture run --help'.\n");
                        return EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "hvtorture run: expected one PROFILE; see 'hvtorture run --help'\n");
                return EXIT_USAGE;
        }

        if (load_host_config(config_path, &host) < 0)
                return EXIT_USAGE;
        if (load_profile(argv[optind], &profile) < 0)
                return EXIT_USAGE;

        if (dry_run) {
                uint64_t seed = opts.seed_set ? opts.seed : profile->seed_set ? profile->seed : prng_random_seed();
                const char *why = NULL;
                if (json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "profile", json_object_new_string(profile->path));
                        json_object_object_add(o, "seed", json_object_new_int64((int64_t)seed));
                        json_object_object_add(o, "destructive", json_object_new_boolean(profile_is_destructive(profile, NULL)));
                        {
                                char *plan = NULL;
                                size_t len = 0;
                                FILE *f = open_memstream(&plan, &len);
                                if (f) {
                                        profile_print_plan(profile, seed, opts.duration_ns ? opts.duration_ns : profile->duration_ns, f);
                                        fclose(f);
                                        json_object_object_add(o, "plan", json_object_new_string(plan ? plan : ""));
                                        free(plan);
                                }
                        }
                        print_json(o);
                        json_object_put(o);
                } else {
                        profile_print_plan(profile, seed, opts.duration_ns ? opts.duration_ns : profile->duration_ns,
                                           stdout);
                        if (profile_is_destructive(profile, &why) && !opts.allow_destructive && !host->allow_destructive)
                                printf("\nNote: %s is destructive; a real run needs --allow-destructive or the "
                                       "host's AllowDestructive=yes.\n", why);
                }
                profile_free(profile);
                return 0;
        }

        /* This process writes the journal and the report: never the OOM killer's victim. */
        self_protect("hvtorture run");

        block_run_signals();

        r = sd_event_default(&event);
        if (r < 0) {
                profile_free(profile);
                log_error_errno(r, "Cannot create the event loop: %m");
                return EXIT_USAGE;
        }
        ctx.event = event;
        ctx.tty = isatty(STDERR_FILENO);
        opts.host = host;
        cb = (EngineCallbacks){ .progress = on_progress, .finished = on_finished, .evidence = on_evidence,
                                .userdata = &ctx };
        r = engine_new(event, profile, &opts, &cb, &engine);
        if (r < 0) {
                profile_free(profile);
                sd_event_unref(event);
                log_error_errno(r, "Cannot set up the run: %m");
                return EXIT_USAGE;
        }
        ctx.engine = engine;
        sd_event_add_signal(event, NULL, SIGINT, on_signal, &ctx);
        sd_event_add_signal(event, NULL, SIGTERM, on_signal, &ctx);
        sd_event_add_signal(event, NULL, SIGHUP, on_signal, &ctx);

        r = engine_start(engine);
        if (r < 0) {
                fprintf(stderr, "hvtorture run: %s\n", engine_error(engine) ? engine_error(engine) : strerror(-r));
                if (engine_state(engine) == RUN_PREPARING) {
                        engine = engine_free(engine);
                        sd_event_unref(event);
                        return EXIT_USAGE;
                }
                /* Workers had started: let the loop stop and reap them, then report. */
        } else if (!ctx.quiet)
                fprintf(stderr, "Run %s: %s, seed %" PRIu64 "\n", engine_run_id(engine), engine_profile(engine)->path,
                        engine_seed(engine));

        r = sd_event_loop(event);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");

        r = print_report(engine, json, junit);
        engine = engine_free(engine);
        sd_event_unref(event);
        return r;
}

int verb_validate(int argc, char *argv[])
{
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "keys", no_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        bool json = false, keys = false;
        int c, ret = 0;
        json_object *out = NULL;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'k':
                        keys = true;
                        break;
                case 'h':
                        printf("Usage: hvtorture validate [--json] PROFILE...\n"
                               "       hvtorture validate --keys\n\n"
                               "Checks each PROFILE and prints every error with its file, line, section and key.\n"
                               "--keys lists every section, key and action with what it allows.\n"
                               "Exit: 0 all valid, 2 any error.\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        }
        if (keys) {
                profile_print_keys(stdout);
                return 0;
        }
        if (optind >= argc) {
                fprintf(stderr, "hvtorture validate: expected PROFILE...; see --help\n");
                return EXIT_USAGE;
        }
        if (json)
                out = json_object_new_array();
        for (int i = optind; i < argc; i++) {
                _cleanup_free_ char *path = NULL;
                ConfErrors errs = {};
                Profile *p = NULL;
                int r;

                if (resolve_profile(argv[i], &path) < 0)
                        return EXIT_USAGE;
                r = profile_load(path, &p, &errs);
                if (r < 0 && errs.n == 0)
                        conf_error(&errs, path, 0, NULL, NULL, NULL, "cannot read: %s", strerror(-r));
                if (json) {
                        json_object *o = json_object_new_object(), *ea = json_object_new_array();
                        json_object_object_add(o, "profile", json_object_new_string(path));
                        json_object_object_add(o, "valid", json_object_new_boolean(r >= 0));
                        for (size_t k = 0; k < errs.n; k++) {
                                json_object *e = json_object_new_object();
                                _cleanup_free_ char *msg = conf_error_format(&errs.items[k]);
                                json_object_object_add(e, "file", json_object_new_string(strempty(errs.items[k].file)));
                                json_object_object_add(e, "line", json_object_new_int((int)errs.items[k].line));
                                if (errs.items[k].section)
                                        json_object_object_add(e, "section", json_object_new_string(errs.items[k].section));
                                if (errs.items[k].key)
                                        json_object_object_add(e, "key", json_object_new_string(errs.items[k].key));
                                if (errs.items[k].value)
                                        json_object_object_add(e, "value", json_object_new_string(errs.items[k].value));
                                json_object_object_add(e, "message", json_object_new_string(strempty(errs.items[k].message)));
                                json_object_object_add(e, "text", json_object_new_string(strempty(msg)));
                                json_object_array_add(ea, e);
                        }
                        json_object_object_add(o, "errors", ea);
                        json_object_array_add(out, o);
                } else if (r >= 0)
                        printf("%s: ok (%zu section%s)\n", path, p->n_actors, p->n_actors == 1 ? "" : "s");
                else
                        conf_errors_print(&errs, stderr);
                if (r < 0)
                        ret = EXIT_USAGE;
                conf_errors_clear(&errs);
                profile_free(p);
        }
        if (json) {
                print_json(out);
                json_object_put(out);
        }
        return ret;
}

static void resume_help(void)
{
        printf("Usage: hvtorture resume [OPTIONS]\n\n"
               "Resumes, in this process, the runs marked active in the state directory, as hvtortured\n"
               "does when it starts: for hosts without the daemon, initrds and crash kernels. After a\n"
               "reboot the run records how the last boot ended (planned by one of its triggers or not,\n"
               "an unplanned one being evidence), collects pstore, and goes on to its end; in a crash\n"
               "kernel it saves the crashed kernel's log from /proc/vmcore and, if the crash was the\n"
               "run's own, reboots back. A run whose process is still alive is left alone.\n\n"
               "      --state-dir=DIR      where the runs are (default: StateDirectory= of the config)\n"
               "      --config=FILE        host config (default " HVT_HOST_CONFIG ")\n"
               "      --allow-destructive  as for 'run': the run's destructive actions may go on\n"
               "      --json               print each resumed run's report as JSON\n"
               "      --junit=FILE         also write the report as JUnit XML to FILE\n"
               "  -q, --quiet              no progress output\n"
               "  -h, --help               this text\n\n"
               "Exit: as 'run' for the last run resumed; 0 when there was nothing to resume.\n");
}

int verb_resume(int argc, char *argv[])
{
        enum { ARG_STATE_DIR = 0x100, ARG_CONFIG, ARG_ALLOW_DESTRUCTIVE, ARG_JSON, ARG_JUNIT };
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "allow-destructive", no_argument, NULL, ARG_ALLOW_DESTRUCTIVE },
                { "json", no_argument, NULL, ARG_JSON },
                { "junit", required_argument, NULL, ARG_JUNIT },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        const char *config_path = HVT_HOST_CONFIG, *junit = NULL, *state_dir = NULL;
        bool json = false, allow = false, quiet = false;
        int c, r, ret = 0;

        optind = 0;
        while ((c = getopt_long(argc, argv, "qh", options, NULL)) >= 0) {
                switch (c) {
                case ARG_STATE_DIR:
                        state_dir = optarg;
                        break;
                case ARG_CONFIG:
                        config_path = optarg;
                        break;
                case ARG_ALLOW_DESTRUCTIVE:
                        allow = true;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_JUNIT:
                        junit = optarg;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        resume_help();
                        return 0;
                default:
                        fprintf(stderr, "See 'hvtorture resume --help'.\n");
                        return EXIT_USAGE;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "hvtorture resume: no arguments expected; see 'hvtorture resume --help'\n");
                return EXIT_USAGE;
        }
        if (load_host_config(config_path, &host) < 0)
                return EXIT_USAGE;
        if (!state_dir)
                state_dir = host->state_dir ? host->state_dir : HVT_STATE_DIR;
        r = store_open(state_dir, &store);
        if (r >= 0)
                r = store_list_active(store, &ids);
        if (r < 0) {
                log_error_errno(r, "Cannot look for active runs in %s: %m", state_dir);
                return EXIT_USAGE;
        }
        if (!ids || !ids[0]) {
                if (!quiet)
                        fprintf(stderr, "No active run in %s: nothing to resume.\n", state_dir);
                return 0;
        }

        self_protect("hvtorture resume");
        block_run_signals();

        for (size_t i = 0; ids[i]; i++) {
                EngineOptions opts = { .state_dir = state_dir, .host = host, .allow_destructive = allow };
                RunCtx ctx = { .quiet = quiet, .tty = isatty(STDERR_FILENO) };
                EngineCallbacks cb = { .progress = on_progress, .finished = on_finished, .evidence = on_evidence,
                                       .userdata = &ctx };
                Engine *engine = NULL;

                r = sd_event_new(&ctx.event);
                if (r < 0)
                        return log_error_errno(r, "Cannot create the event loop: %m"), EXIT_USAGE;
                r = engine_resume(ctx.event, ids[i], &opts, &cb, &engine);
                if (r == -EBUSY || r == -ESTALE) {
                        if (!quiet)
                                fprintf(stderr, "Run %s: %s\n", ids[i],
                                        r == -EBUSY ? "its process is still running it; left alone"
                                                    : "stays active; it resumes after the next boot");
                        sd_event_unref(ctx.event);
                        continue;
                }
                if (r < 0) {
                        log_error_errno(r, "Cannot resume run %s: %m", ids[i]);
                        sd_event_unref(ctx.event);
                        ret = EXIT_USAGE;
                        continue;
                }
                ctx.engine = engine;
                if (!quiet)
                        fprintf(stderr, "Run %s %s\n", ids[i],
                                engine_state(engine) == RUN_FINISHED ? "closed" : "resumed");
                if (engine_state(engine) != RUN_FINISHED) {
                        sd_event_add_signal(ctx.event, NULL, SIGINT, on_signal, &ctx);
                        sd_event_add_signal(ctx.event, NULL, SIGTERM, on_signal, &ctx);
                        sd_event_add_signal(ctx.event, NULL, SIGHUP, on_signal, &ctx);
                        r = sd_event_loop(ctx.event);
                        if (r < 0)
                                log_error_errno(r, "Event loop failed: %m");
                }
                ret = print_report(engine, json, junit);
                engine_free(engine);
                sd_event_unref(ctx.event);
        }
        return ret;
}
