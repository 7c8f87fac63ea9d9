/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Benchmark, not a test: how many VM lifecycles per second the vm action
 * gets through, per end mode, next to `stress-ng --kvm 1` and a bare ioctl
 * loop (create a VM, one 2 MiB memslot, one vCPU, one KVM_RUN to HLT,
 * close) that is the practical limit of this machine.
 *
 * Every mode is driven through the action itself (worker_local_step), with
 * at least the work of one stress-ng bogo-op per lifecycle: a VM, a memslot,
 * a vCPU and guest code executed — checked from the step's metrics, not
 * assumed. The measurements are interleaved in rounds (every mode, the bare
 * loop and stress-ng take turns), so a neighbour's load on a shared machine
 * weighs on all of them alike and the ratios stay meaningful.
 *
 *   vm-churn [SECONDS_PER_MODE] [STRESS_NG_SECONDS] [ROUNDS]
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "action-vm.h"
#include "kvm-util.h"
#include "profile.h"
#include "worker.h"

#define BARE_SLOT (2ULL << 20)

typedef struct Row {
        const char *mode;
        const char *keys;
        bool error_path; /* setup fails part-way by design: not a full lifecycle */
        Profile *profile;
        Worker *worker;
        double rate;
        uint64_t vms, steps, other, ns, vcpus, slots, loops;
        uint64_t *spreads; /* race_spread_ns of each step that had one */
        size_t n_spreads, cap_spreads;
        char note[200];
} Row;

/* The practical limit: nothing but the ioctls a lifecycle needs, memory reused, /dev/kvm kept open. */
static void bare_loop(double seconds, uint64_t *n_total, uint64_t *ns_total)
{
        uint8_t *mem = mmap(NULL, BARE_SLOT, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), run_size;
        uint64_t n = 0, t0, deadline;

        if (mem == MAP_FAILED || kvm < 0) {
                perror("bare loop setup");
                exit(EXIT_FAILURE);
        }
        run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        /* The reset vector (0xfffffff0) inside a slot ending at 4 GiB: HLT there, no register set up at all. */
        mem[BARE_SLOT - 16] = 0xf4;
        t0 = now_ns(CLOCK_MONOTONIC);
        deadline = t0 + (uint64_t)(seconds * NSEC_PER_SEC);
        while (now_ns(CLOCK_MONOTONIC) < deadline) {
                struct kvm_userspace_memory_region region = {
                        .slot = 0,
                        .guest_phys_addr = (1ULL << 32) - BARE_SLOT,
                        .memory_size = BARE_SLOT,
                        .userspace_addr = (uintptr_t)mem,
                };
                struct kvm_run *run;
                int vm, vcpu;

                vm = ioctl(kvm, KVM_CREATE_VM, 0);
                if (vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
                        goto fail;
                vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
                if (vcpu < 0)
                        goto fail;
                run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
                if (run == MAP_FAILED || ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_HLT)
                        goto fail;
                munmap(run, (size_t)run_size);
                close(vcpu);
                close(vm);
                n++;
        }
        close(kvm);
        munmap(mem, BARE_SLOT);
        *n_total += n;
        *ns_total += now_ns(CLOCK_MONOTONIC) - t0;
        return;
fail:
        perror("bare loop");
        exit(EXIT_FAILURE);
}

/* stress-ng --kvm 1 -t N --metrics-brief: bogo ops and real time of its kvm line, added up. */
static bool stress_ng(unsigned seconds, double *ops_total, double *real_total)
{
        char cmd[128], line[512];
        bool found = false;
        FILE *f;

        snprintf(cmd, sizeof cmd, "stress-ng --kvm 1 -t %u --metrics-brief 2>&1", seconds);
        f = popen(cmd, "r");
        if (!f)
                return false;
        while (fgets(line, sizeof line, f)) {
                char *p = strstr(line, "] kvm ");
                double ops, real, usr, sys, per_real;
                if (p && sscanf(p + 6, "%lf %lf %lf %lf %lf", &ops, &real, &usr, &sys, &per_real) == 5) {
                        *ops_total += ops;
                        *real_total += real;
                        found = true;
                }
        }
        pclose(f);
        return found;
}

/* The 1-minute load average: on a shared machine the figures only mean something next to it. */
static double loadavg(void)
{
        double l = -1;
        FILE *f = fopen("/proc/loadavg", "re");
        if (f) {
                if (fscanf(f, "%lf", &l) != 1)
                        l = -1;
                fclose(f);
        }
        return l;
}

static void mode_setup(Row *row)
{
        char text[512];
        ConfErrors errs = {};
        StepResult r;

        snprintf(text, sizeof text, "[Profile]\nDuration=1min\n[Actor bench]\nAction=vm\n%s\n", row->keys);
        if (profile_parse_text("bench.ini", text, strlen(text), &row->profile, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                exit(EXIT_FAILURE);
        }
        if (worker_new_local(&row->profile->actors[0], 1, 0, &row->worker) < 0)
                exit(EXIT_FAILURE);
        /* One warm-up step: worker_init, the stats schema, the first fault of the memory pool. */
        if (worker_local_step(row->worker, &r) < 0)
                exit(EXIT_FAILURE);
}

static void mode_run(Row *row, double seconds)
{
        uint64_t t0 = now_ns(CLOCK_MONOTONIC), deadline = t0 + (uint64_t)(seconds * NSEC_PER_SEC);
        StepResult r;

        while (now_ns(CLOCK_MONOTONIC) < deadline) {
                if (worker_local_step(row->worker, &r) < 0) {
                        fprintf(stderr, "%s: step failed\n", row->mode);
                        exit(EXIT_FAILURE);
                }
                row->steps++;
                if (action_vm.outcomes[r.outcome].class == OUTCOME_FAILURE ||
                    action_vm.outcomes[r.outcome].class == OUTCOME_ENV_ERROR) {
                        row->other++;
                        snprintf(row->note, sizeof row->note, "%s: %s", action_vm.outcomes[r.outcome].name, r.detail);
                        continue;
                }
                if (r.race_spread_ns) {
                        if (row->n_spreads == row->cap_spreads) {
                                row->cap_spreads = MAX(1024U, row->cap_spreads * 2);
                                row->spreads = realloc(row->spreads, row->cap_spreads * sizeof *row->spreads);
                                if (!row->spreads)
                                        exit(EXIT_FAILURE);
                        }
                        row->spreads[row->n_spreads++] = r.race_spread_ns;
                }
                row->vms += r.metrics[VM_M_VMS];
                row->vcpus += r.metrics[VM_M_VCPUS];
                row->slots += r.metrics[VM_M_MEMSLOTS];
                row->loops += r.metrics[VM_M_GUEST_LOOPS];
        }
        row->ns += now_ns(CLOCK_MONOTONIC) - t0;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static void mode_finish(Row *row)
{
        row->rate = (double)(row->error_path ? row->steps : row->vms) * NSEC_PER_SEC / (double)row->ns;
        /* The work per lifecycle, checked: at least a memslot, a vCPU and a turn of the guest's loop per VM. */
        if (!row->error_path &&
            (row->vms == 0 || row->vcpus < row->vms || row->slots < row->vms || row->loops < row->vms))
                snprintf(row->note, sizeof row->note,
                         "LESS WORK THAN A LIFECYCLE: %" PRIu64 " VMs, %" PRIu64 " vCPUs, %" PRIu64 " memslots, %" PRIu64
                         " guest loops", row->vms, row->vcpus, row->slots, row->loops);
        else if (row->other && !row->note[0])
                snprintf(row->note, sizeof row->note, "%" PRIu64 " steps without a lifecycle", row->other);
        else if (row->n_spreads) {
                qsort(row->spreads, row->n_spreads, sizeof *row->spreads, cmp_u64);
                snprintf(row->note, sizeof row->note, "race spread p50 %.2fus p99 %.2fus max %.1fus (%zu races)",
                         row->spreads[row->n_spreads / 2] / 1e3, row->spreads[row->n_spreads * 99 / 100] / 1e3,
                         row->spreads[row->n_spreads - 1] / 1e3, row->n_spreads);
        }
        free(row->spreads);
        row->worker = worker_free_local(row->worker);
        row->profile = profile_free(row->profile);
}

int main(int argc, char **argv)
{
        double seconds = argc > 1 ? atof(argv[1]) : 5.0;
        unsigned sng_seconds = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
        unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 5;
        Row rows[] = {
                { "close", "End=close" },
                { "close (Stats=no)", "End=close\nStats=no" },
                { "close-with-memslots-vcpus-first", "End=close-with-memslots-vcpus-first" },
                { "close-with-memslots-vm-first", "End=close-with-memslots-vm-first" },
                { "sigkill", "End=sigkill" },
                { "shared-fd", "End=shared-fd" },
                { "shared-fd (SharedFdPairs=4)", "End=shared-fd\nSharedFdPairs=4" },
                { "recreate (8 VMs/step)", "End=recreate\nRecreateCount=8" },
                { "stats-after-end", "End=stats-after-end" },
                { "fail-vcpu-emfile", "End=fail-vcpu-emfile", true },
                { "fail-memcg", "End=fail-memcg", true },
                { "fail-inject", "End=fail-inject", true },
        };
        const char *common = "VCPUs=1\nMemorySlots=1\nSlotSize=2M\nRun=0\n";
        double bare, sng = -1, sng_ops = 0, sng_real = 0, close_rate = 0, min_rate = 1e18;
        uint64_t bare_n = 0, bare_ns = 0;
        const char *min_mode = "";
        bool ok, sng_ok = true;
        double load_before = loadavg();

        if (access("/dev/kvm", R_OK | W_OK) < 0) {
                fprintf(stderr, "vm-churn: /dev/kvm not usable: %m\n");
                return 77;
        }
        if (rounds == 0)
                rounds = 1;
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                char *k;
                if (asprintf(&k, "%s%s", common, rows[i].keys) < 0)
                        return EXIT_FAILURE;
                rows[i].keys = k;
                mode_setup(&rows[i]);
        }
        for (unsigned round = 0; round < rounds; round++) {
                fprintf(stderr, "round %u/%u\n", round + 1, rounds);
                for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                        mode_run(&rows[i], seconds / rounds);
                bare_loop(seconds / rounds, &bare_n, &bare_ns);
                if (sng_seconds && sng_ok)
                        sng_ok = stress_ng(MAX(1U, sng_seconds / rounds), &sng_ops, &sng_real);
        }
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                mode_finish(&rows[i]);
        bare = (double)bare_n * NSEC_PER_SEC / (double)bare_ns;
        if (sng_ok && sng_real > 0)
                sng = sng_ops / sng_real;

        printf("\nVM lifecycles per second on this machine (%ld CPUs, load average %.1f before, %.1f after),\n"
               "1 vCPU, 1 memslot of 2M, Run=0; %u interleaved rounds, %.1fs per mode, stress-ng %us in all\n\n",
               sysconf(_SC_NPROCESSORS_ONLN), load_before, loadavg(), rounds, seconds, sng_seconds);
        printf("%-40s %10s %10s %10s\n", "", "per s", "/ bare", "/ stress");
        printf("%-40s %10.1f %10.2f %10.1f\n", "bare ioctl loop (practical limit)", bare, 1.0, sng > 0 ? bare / sng : 0);
        printf("%-40s %10.1f %10.2f %10.1f   %s\n", "stress-ng --kvm 1 (bogo-ops)", sng, sng / bare, 1.0,
               sng > 0 ? "" : "(stress-ng did not run)");
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                Row *r = &rows[i];
                char name[64];
                snprintf(name, sizeof name, "vm End=%s%s", r->mode, r->error_path ? " *" : "");
                printf("%-40s %10.1f %10.2f %10.1f   %.70s\n", name, r->rate, r->rate / bare,
                       sng > 0 ? r->rate / sng : 0, r->note);
                if (streq(r->mode, "close"))
                        close_rate = r->rate;
                if (!r->error_path && r->rate < min_rate) {
                        min_rate = r->rate;
                        min_mode = r->mode;
                }
        }
        printf("\n* error-path modes: setup fails part-way by design, so a step is not a full lifecycle;\n"
               "  steps/s shown, outside the targets\n");
        ok = close_rate >= bare / 2 && sng > 0 && min_rate >= 5 * sng;
        printf("\ntargets: close >= 0.5 x bare: %.2f x, %s; every mode >= 5 x stress-ng: slowest (%s) %.1f x, %s\n",
               close_rate / bare, close_rate >= bare / 2 ? "MET" : "MISSED", min_mode, sng > 0 ? min_rate / sng : 0,
               sng > 0 && min_rate >= 5 * sng ? "MET" : "MISSED");
        return ok ? 0 : 1;
}
