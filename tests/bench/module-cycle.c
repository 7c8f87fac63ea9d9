/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Benchmark, not a test: load+unload cycles per second of kvm_amd (or
 * kvm_intel) and kvm through the module action, next to the shell loop a
 * person would write, `modprobe kvm_amd; modprobe -r kvm_amd`, on the same
 * kernel. Run as root on a machine whose kernel loads modules and whose
 * AllowModules= story does not matter (the lab guest: tests/bench/module-
 * cycle boots one and runs this in it).
 *
 * Every action cycle is checked from its steps (a "loaded" with both
 * modules, then an "unloaded" with both), every shell cycle from modprobe's
 * exit status; the loop never starts with the modules loaded. Rows take
 * turns within each round, so a neighbour's load weighs on all alike.
 *
 * `modprobe -r kvm_amd` also removes what kvm_amd pulled in (kvm, ccp,
 * irqbypass), four modules where the action unloads two; the row
 * "modprobe kvm_amd; rmmod kvm_amd kvm" does exactly the action's kernel
 * work, for the fair comparison.
 *
 *   module-cycle-bench [SECONDS_PER_ROW] [ROUNDS]      MODPROBE=/path/to/modprobe
 */
#include <sys/utsname.h>
#include <sys/wait.h>

#include "host-config.h"
#include "kmod-util.h"
#include "profile.h"
#include "worker.h"

extern const ActionType action_module;

enum { SHELL_NONE, SHELL_MODPROBE_R, SHELL_RMMOD };

typedef struct Row {
        const char *name;
        const char *keys;  /* action rows */
        int shell;         /* shell rows: SHELL_* */
        double seconds;
        uint64_t cycles;
        uint64_t load_us, unload_us, scan_us;
        Profile *profile;
        Worker *worker;
} Row;

static char *allow[] = { (char *)"kvm", (char *)"kvm_amd", (char *)"kvm_intel", NULL };
static HostConfig host_config = { .allow_destructive = true, .allow_modules = allow };
static ActionHost host;
static const char *vendor;
static const char *modprobe = "modprobe";

static uint64_t metric(const StepResult *r, const char *name)
{
        for (unsigned i = 0; action_module.metrics[i]; i++)
                if (streq(action_module.metrics[i], name))
                        return r->metrics[i];
        return 0;
}

static int sh(const char *cmd)
{
        int status = system(cmd);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Neither module loaded: every row starts from the same place. */
static void unload_all(void)
{
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rmmod %s kvm 2>/dev/null; true", vendor);
        sh(cmd);
        if (access("/sys/module/kvm/initstate", F_OK) == 0) {
                fprintf(stderr, "module-cycle: kvm is still loaded and cannot be unloaded: is something using it?\n");
                exit(EXIT_FAILURE);
        }
}

static void row_action(Row *row, double seconds)
{
        uint64_t t0 = now_ns(CLOCK_MONOTONIC), deadline = t0 + (uint64_t)(seconds * NSEC_PER_SEC), cycles = 0;
        StepResult r;

        unload_all();
        while (now_ns(CLOCK_MONOTONIC) < deadline) {
                for (int k = 0; k < 2; k++) {
                        const char *want = k == 0 ? "loaded" : "unloaded";
                        if (worker_local_step(row->worker, &r) < 0 ||
                            !streq(action_module.outcomes[r.outcome].name, want) ||
                            metric(&r, k == 0 ? "modules_loaded" : "modules_unloaded") != 2) {
                                fprintf(stderr, "module-cycle: %s: expected %s of both modules, got %s: %s\n", row->name,
                                        want, action_module.outcomes[r.outcome].name, r.detail);
                                exit(EXIT_FAILURE);
                        }
                        row->load_us += metric(&r, "load_us");
                        row->unload_us += metric(&r, "unload_us");
                        row->scan_us += metric(&r, "vm_scan_us");
                }
                cycles++;
        }
        row->seconds += (double)(now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_SEC;
        row->cycles += cycles;
}

static void row_shell(Row *row, double seconds, double rate_guess)
{
        char one[256], cmd[1024];
        uint64_t n = (uint64_t)(rate_guess * seconds), t0;
        int rc;

        if (n < 3)
                n = 3;
        if (row->shell == SHELL_MODPROBE_R)
                snprintf(one, sizeof one, "%s %s && %s -r %s", modprobe, vendor, modprobe, vendor);
        else
                snprintf(one, sizeof one, "%s %s && rmmod %s kvm", modprobe, vendor, vendor);
        snprintf(cmd, sizeof cmd, "i=0; while [ $i -lt %" PRIu64 " ]; do %s || exit 1; i=$((i+1)); done", n, one);
        unload_all();
        t0 = now_ns(CLOCK_MONOTONIC);
        rc = sh(cmd);
        if (rc != 0) {
                fprintf(stderr, "module-cycle: %s: the shell loop failed (exit %d): %s\n", row->name, rc, cmd);
                exit(EXIT_FAILURE);
        }
        row->seconds += (double)(now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_SEC;
        row->cycles += n;
}

static double rate(const Row *r)
{
        return r->seconds > 0 ? (double)r->cycles / r->seconds : 0;
}

int main(int argc, char **argv)
{
        double seconds = argc > 1 ? atof(argv[1]) : 5;
        unsigned rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 3;
        Row rows[] = {
                { "action: Modules=vendor kvm", "Modules=vendor kvm\nHoldTime=0", SHELL_NONE },
                { "action: + Options= (nested, tdp_mmu drawn)",
                  "Modules=vendor kvm\nOptions=vendor:nested=0|1 kvm:tdp_mmu=Y|N\nHoldTime=0", SHELL_NONE },
                { "shell: modprobe V; modprobe -r V", NULL, SHELL_MODPROBE_R },
                { "shell: modprobe V; rmmod V kvm (the action's work)", NULL, SHELL_RMMOD },
        };
        struct utsname u;
        const Row *peer = &rows[2];

        if (getenv("MODPROBE"))
                modprobe = getenv("MODPROBE");
        if (geteuid() != 0 || seconds <= 0 || rounds == 0) {
                fprintf(stderr, "usage: module-cycle-bench [SECONDS_PER_ROW] [ROUNDS], as root\n");
                return EXIT_FAILURE;
        }
        if (cpu_kvm_vendor_module("/proc/cpuinfo", &vendor) < 0) {
                fprintf(stderr, "module-cycle: this CPU has neither vmx nor svm\n");
                return EXIT_FAILURE;
        }
        host = (ActionHost){ .config = &host_config, .allow_destructive = true, .engine_pid = getpid() };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char text[1024];
                ConfErrors errs = {};
                if (!rows[i].keys)
                        continue;
                snprintf(text, sizeof text, "[Profile]\nDuration=1h\nDestructive=yes\n[Actor cycle]\nAction=module\n%s\n",
                         rows[i].keys);
                if (profile_parse_text("bench.ini", text, strlen(text), &rows[i].profile, &errs) < 0) {
                        conf_errors_print(&errs, stderr);
                        return EXIT_FAILURE;
                }
                if (worker_new_local(&rows[i].profile->actors[0], 1, 0, &rows[i].worker) < 0)
                        return EXIT_FAILURE;
                worker_set_local_host(rows[i].worker, &host);
        }

        for (unsigned round = 0; round < rounds; round++)
                for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                        if (rows[i].keys)
                                row_action(&rows[i], seconds);
                        else
                                row_shell(&rows[i], seconds, rows[i].cycles ? rate(&rows[i]) : 1.0);
                        fprintf(stderr, "round %u/%u: %-50s %6.2f cycles/s\n", round + 1, rounds, rows[i].name,
                                rate(&rows[i]));
                }
        unload_all();

        uname(&u);
        printf("module-cycle: %s + kvm load+unload cycles/s, kernel %s, %u rounds of %.0f s per row (V = %s)\n", vendor,
               u.release, rounds, seconds, vendor);
        printf("%-52s %10s %9s %10s %9s %12s\n", "MODE", "CYCLES/s", "LOAD ms", "UNLOAD ms", "SCAN ms", "vs modprobe");
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const Row *r = &rows[i];
                if (r->keys)
                        printf("%-52s %10.2f %9.2f %10.2f %9.2f %11.2fx\n", r->name, rate(r),
                               (double)r->load_us / 1000 / (double)r->cycles, (double)r->unload_us / 1000 / (double)r->cycles,
                               (double)r->scan_us / 1000 / (double)r->cycles, rate(r) / rate(peer));
                else
                        printf("%-52s %10.2f %9s %10s %9s %11.2fx\n", r->name, rate(r), "-", "-", "-", rate(r) / rate(peer));
        }
        printf("LOAD/UNLOAD ms: the syscalls of one cycle (both modules); SCAN ms: the /proc scan for other processes' VMs "
               "before each unload.\n");
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                worker_free_local(rows[i].worker);
                profile_free(rows[i].profile);
        }
        return 0;
}
