/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hvtorture: the command line. One-shot runs execute the engine in this
 * process (no daemon needed); start/stop/status/runs/show talk to
 * hvtortured over D-Bus (or read the state directory when it is not there).
 */
#include <getopt.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "report.h"
#include "result.h"
#include "verbs.h"

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char *argv[]);
        const char *summary;
} Verb;

static const Verb verbs[] = {
        { "run", verb_run, "run a profile now, in this process, and print its report" },
        { "resume", verb_resume, "resume the active runs in this process (after a reboot, without the daemon)" },
        { "validate", verb_validate, "check profiles for errors (--keys lists every key)" },
        { "check", verb_check, "what this host can do: KVM, modules, kexec, pstore, cgroups, ..." },
        { "start", verb_start, "start a run in the daemon" },
        { "stop", verb_stop, "stop the daemon's run" },
        { "status", verb_status, "the daemon's state and its run's live counters" },
        { "runs", verb_runs, "list recorded runs" },
        { "show", verb_show, "print a run's report" },
        { "evidence", verb_evidence, "list a run's evidence: titles, kinds, counts" },
        { "classify", verb_classify, "find kernel splats in logs and print their syzbot-style titles" },
        { "vmcore-dmesg", verb_vmcore_dmesg, "print a crashed kernel's log from its crash dump (/proc/vmcore)" },
};

static void help(void)
{
        printf("Usage: hvtorture [--version] [--help] VERB [OPTIONS] [ARGS]\n\n"
               "Fault injection and soak testing for KVM hosts.\n\nVerbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-12s %s\n", verbs[i].name, verbs[i].summary);
        printf("\n'hvtorture VERB --help' describes a verb's options.\n"
               "Exit codes: 0 pass, 1 evidence found, 2 usage/profile/setup error, 3 incomplete run.\n");
}

void print_json(json_object *o)
{
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int write_junit(json_object *report, const char *path)
{
        FILE *f = streq(path, "-") ? stdout : fopen(path, "we");

        if (!f) {
                fprintf(stderr, "hvtorture: cannot write JUnit XML to %s: %m\n", path);
                return EXIT_USAGE;
        }
        report_print_junit(report, f);
        if (f != stdout && fclose(f) != 0) {
                fprintf(stderr, "hvtorture: cannot write JUnit XML to %s: %m\n", path);
                return EXIT_USAGE;
        }
        return 0;
}

int resolve_profile(const char *arg, char **ret)
{
        struct stat st;
        char *p;

        if (strchr(arg, '/') || stat(arg, &st) == 0 || strstr(arg, ".ini")) {
                p = strdup(arg);
        } else {
                /* A bare name: a shipped profile. */
                if (asprintf(&p, "%s/%s.ini", HVT_PROFILE_DIR, arg) < 0)
                        p = NULL;
                if (p && stat(p, &st) < 0) {
                        free(p);
                        if (asprintf(&p, "%s/profiles/%s.ini", HVT_SOURCE_ROOT, arg) < 0)
                                p = NULL;
                        if (p && stat(p, &st) < 0) {
                                free(p);
                                p = strdup(arg);
                        }
                }
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int main(int argc, char *argv[])
{
        log_open();
        if (argc < 2) {
                help();
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                help();
                return 0;
        }
        if (streq(argv[1], "--version")) {
                printf("hvtorture %s\n", PACKAGE_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[1], verbs[i].name))
                        return verbs[i].run(argc - 1, argv + 1);
        fprintf(stderr, "hvtorture: unknown verb '%s'; see 'hvtorture --help'\n", argv[1]);
        return EXIT_USAGE;
}
