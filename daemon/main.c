/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hvtortured: the soak daemon. parse_argv → run(): the event loop with
 * signals, watchdog and the bus, READY=1 once the name is ours.
 */
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "self-protect.h"

static const char *arg_config = HVT_HOST_CONFIG;
static const char *arg_state_dir;
static const char *arg_bus_address;

static void help(void)
{
        printf("Usage: hvtortured [OPTIONS]\n\n"
               "The hvtorture soak daemon: serves org.hvtorture1 on the system bus and runs one profile\n"
               "at a time (hvtorture start/stop/status talk to it). Normally started by systemd\n"
               "(hvtorture.service).\n\n"
               "      --config=FILE      host config (default " HVT_HOST_CONFIG ")\n"
               "      --state-dir=DIR    store runs under DIR (default: StateDirectory= of the config)\n"
               "      --bus-address=ADDR connect to this bus instead of the system bus (for tests)\n"
               "  -v, --verbose          debug logging\n"
               "  -h, --help             this text\n"
               "      --version          print the version\n");
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_CONFIG = 0x100, ARG_STATE_DIR, ARG_BUS_ADDRESS, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, ARG_CONFIG },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0) {
                switch (c) {
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                case ARG_BUS_ADDRESS:
                        arg_bus_address = optarg;
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("hvtortured %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                log_error("Unexpected argument '%s'; see --help", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;
        sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");
        manager_shutdown(m);
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        manager_reload(userdata);
        return 0;
}

static int run(void)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        sd_event *event = NULL;
        ManagerOptions opts = { .config_path = arg_config, .state_dir = arg_state_dir,
                                .bus_address = arg_bus_address };
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        /* OOMScoreAdjust=-1000 in the unit; again here for a daemon started any other way. */
        self_protect("hvtortured");

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        r = manager_new(event, &opts, &m);
        if (r < 0)
                goto finish;
        sd_event_add_signal(event, NULL, SIGTERM, on_term, m);
        sd_event_add_signal(event, NULL, SIGINT, on_term, m);
        sd_event_add_signal(event, NULL, SIGHUP, on_hup, m);
        /* WatchdogSec= in the unit: sd-event pings at half the interval while the loop turns. */
        r = sd_event_set_watchdog(event, true);
        if (r < 0)
                log_warning_errno(r, "Cannot enable the watchdog, ignoring: %m");

        r = manager_connect_bus(m);
        if (r < 0)
                goto finish;
        (void)manager_resume_runs(m);
        sd_notify(false, "READY=1");
        log_info("hvtortured %s ready on %s", PACKAGE_VERSION, arg_bus_address ? arg_bus_address : "the system bus");

        r = sd_event_loop(event);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
finish:
        m = manager_free(m);
        sd_event_unref(event);
        return r;
}

int main(int argc, char *argv[])
{
        int r;

        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        r = run();
        return r < 0 ? 1 : 0;
}
