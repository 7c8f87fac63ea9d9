/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `hvtorture check`: what this host can do, one line each, like virt-host-validate. */
#include <getopt.h>

#include "config.h"
#include "host-check.h"
#include "result.h"
#include "verbs.h"

int verb_check(int argc, char *argv[])
{
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "config", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *config_path = HVT_HOST_CONFIG;
        HostConfig *host = NULL;
        ConfErrors errs = {};
        HostCheck checks[32];
        bool json = false;
        size_t n;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'c':
                        config_path = optarg;
                        break;
                case 'h':
                        printf("Usage: hvtorture check [--json] [--config=FILE]\n\n"
                               "Probes what this host offers the tool (changing nothing): /dev/kvm, module\n"
                               "loading, kexec, pstore, crash kernel, cgroups, sysrq, kmsg, fault injection,\n"
                               "tun/vhost-net, stress-ng, and the host config's opt-in.\n"
                               "Exit: 0 when KVM is usable, 1 when it is not.\n");
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        }
        if (host_config_load(config_path, &host, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                conf_errors_clear(&errs);
                return EXIT_USAGE;
        }
        n = host_check_all(host, checks, ELEMENTSOF(checks));
        if (json) {
                json_object *a = host_checks_to_json(checks, n);
                print_json(a);
                json_object_put(a);
        } else {
                for (size_t i = 0; i < n; i++)
                        printf("%-16s %-8s %s\n", checks[i].name,
                               checks[i].status == CHECK_OK     ? "ok"
                               : checks[i].status == CHECK_WARN ? "WARN"
                                                                : "MISSING",
                               checks[i].detail);
        }
        host_config_free(host);
        for (size_t i = 0; i < n; i++)
                if (streq(checks[i].name, "kvm"))
                        return checks[i].status == CHECK_OK ? 0 : 1;
        return 1;
}
