/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vm action on the real /dev/kvm, every end mode, each checked for
 * having really happened — from outside the action where that is
 * possible: the killed VMM's vCPU threads are seen inside KVM_RUN in
 * /proc and its guest counter is seen moving; the shared-fd peer's fd
 * table is read here, not only by the action; the EMFILE error path leaves
 * RLIMIT_NOFILE as it was; the memcg mode leaves no cgroup behind; stats
 * after an abrupt end come back within a bound. Every test ends with no
 * process or fd of ours holding KVM.
 */
#include <dirent.h>
#include <glob.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "action-vm.h"
#include "kvm-test.h"
#include "kvm-vm.h"
#include "profile.h"
#include "worker.h"

typedef struct Actor {
        Profile *profile;
        Worker *worker;
        uint64_t counts[_VM_OUT_MAX];
        uint64_t metrics[_VM_M_MAX];
        uint64_t spreads[4096];
        unsigned n_spreads;
        StepResult last;
} Actor;

/* An [Actor] running Action=vm with the given keys, stepped in this process. */
static void actor_new(Actor *a, const char *keys, uint64_t seed)
{
        char text[1024];
        ConfErrors errs = {};

        memset(a, 0, sizeof *a);
        snprintf(text, sizeof text, "[Profile]\nDuration=1min\n[Actor vm]\nAction=vm\n%s\n", keys);
        if (profile_parse_text("test.ini", text, strlen(text), &a->profile, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse: %s", keys);
        }
        ASSERT_OK(worker_new_local(&a->profile->actors[0], seed, 0, &a->worker));
}

static void actor_free(Actor *a)
{
        worker_free_local(a->worker);
        profile_free(a->profile);
}

/* Open fds of this process, but fail-nth, which fail-inject keeps open across steps where the kernel has it. */
static unsigned count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        unsigned n = 0;

        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                char path[300], link[256];
                ssize_t k;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
                k = readlink(path, link, sizeof link - 1);
                link[k < 0 ? 0 : k] = '\0';
                if (!strstr(link, "fail-nth"))
                        n++;
        }
        closedir(d);
        return n;
}

/* One step; a step never leaves an fd or a child behind. */
static const StepResult *actor_step(Actor *a)
{
        StepResult *r = &a->last;
        unsigned fds = count_fds();
        int status;

        ASSERT_OK(worker_local_step(a->worker, r));
        if (count_fds() != fds)
                TEST_FAIL("step (%s: %s) left %d fds behind", action_vm.outcomes[r->outcome].name, r->detail,
                          (int)count_fds() - (int)fds);
        ASSERT_TRUE(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
        ASSERT_TRUE(r->outcome < _VM_OUT_MAX);
        a->counts[r->outcome]++;
        for (unsigned i = 0; i < _VM_M_MAX; i++)
                a->metrics[i] += r->metrics[i];
        if (r->race_spread_ns && a->n_spreads < ELEMENTSOF(a->spreads))
                a->spreads[a->n_spreads++] = r->race_spread_ns;
        return r;
}

static uint64_t total(const Actor *a)
{
        uint64_t n = 0;
        for (unsigned i = 0; i < _VM_OUT_MAX; i++)
                n += a->counts[i];
        return n;
}

static void expect_only(const Actor *a, VmOutcome o, uint64_t n)
{
        if (a->counts[o] != n)
                TEST_FAIL("expected %" PRIu64 " × %s, got %" PRIu64 " (last: %s: %s)", n, action_vm.outcomes[o].name,
                          a->counts[o], action_vm.outcomes[a->last.outcome].name, a->last.detail);
        ASSERT_EQ(total(a), n);
}

/* ---- observers: independent looks at the other processes ---- */

typedef struct Seen {
        unsigned calls;
        unsigned vm_links; /* peer fds seen in /proc as anon_inode:kvm-vm */
        unsigned in_kvm_run; /* threads of the VMM running or inside ioctl(KVM_RUN) */
        uint32_t counter_delta;
        pid_t pid;
        int fd;
        char link[64];
} Seen;

/* Threads whose /proc/PID/task/TID/syscall says "running" or "16 <fd> 0xae80": in KVM_RUN. */
static unsigned threads_in_kvm_run(pid_t pid)
{
        char path[64];
        DIR *d;
        struct dirent *de;
        unsigned n = 0;

        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        d = opendir(path);
        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                char p[300], line[256];
                FILE *f;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "/proc/%d/task/%s/syscall", (int)pid, de->d_name);
                f = fopen(p, "re");
                if (!f)
                        continue;
                if (fgets(line, sizeof line, f)) {
                        unsigned long nr, fd, req;
                        if (strncmp(line, "running", 7) == 0)
                                n++;
                        else if (sscanf(line, "%lu 0x%lx 0x%lx", &nr, &fd, &req) == 3 && nr == 16 && req == KVM_RUN)
                                n++;
                }
                fclose(f);
        }
        closedir(d);
        return n;
}

static void on_vmm_in_guest(pid_t pid, const volatile uint32_t *counter0, void *userdata)
{
        Seen *s = userdata;
        uint32_t c0 = *counter0, c1;
        uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 10 * NSEC_PER_SEC;

        s->calls++;
        s->pid = pid;
        ASSERT_TRUE(pid != getpid());
        do
                c1 = *counter0;
        while (c1 == c0 && now_ns(CLOCK_MONOTONIC) < deadline);
        s->counter_delta = c1 - c0;
        s->in_kvm_run = threads_in_kvm_run(pid);
}

static void on_peer_holds_fd(pid_t peer, int fd, void *userdata)
{
        Seen *s = userdata;
        char path[64];
        ssize_t k;

        s->calls++;
        s->pid = peer;
        s->fd = fd;
        ASSERT_TRUE(peer != getpid());
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)peer, fd);
        k = readlink(path, s->link, sizeof s->link - 1);
        ASSERT_TRUE(k > 0);
        s->link[k] = '\0';
        if (streq(s->link, "anon_inode:kvm-vm"))
                s->vm_links++;
}

/* ---- the end modes ---- */

static void test_close(void)
{
        Actor a;

        actor_new(&a, "VCPUs=3\nMemorySlots=4\nSlotSize=64K\nRun=1ms\nEnd=close", 1);
        for (int i = 0; i < 10; i++)
                actor_step(&a);
        expect_only(&a, VM_OUT_CLOSE, 10);
        ASSERT_EQ(a.metrics[VM_M_VMS], 10);
        ASSERT_EQ(a.metrics[VM_M_VCPUS], 30);
        ASSERT_EQ(a.metrics[VM_M_MEMSLOTS], 40);
        ASSERT_TRUE(a.metrics[VM_M_GUEST_LOOPS] >= 30);
        ASSERT_TRUE(a.metrics[VM_M_EXITS] >= 30);
        /* KVM counted at least the exits we saw. */
        ASSERT_TRUE(a.metrics[VM_M_KVM_EXITS] >= a.metrics[VM_M_EXITS]);
        /* Stats of the VM and of each of its 3 vCPUs, per VM. */
        ASSERT_EQ(a.metrics[VM_M_STATS_READS], 10 * 4);
        actor_free(&a);
}

static void test_close_with_memslots(void)
{
        Actor a;

        actor_new(&a, "VCPUs=2\nMemorySlots=3\nEnd=close-with-memslots", 2);
        for (int i = 0; i < 40; i++)
                actor_step(&a);
        /* Both variants happen, drawn from the worker's PRNG. */
        ASSERT_TRUE(a.counts[VM_OUT_CLOSE_MEMSLOTS_VCPUS_FIRST] > 0);
        ASSERT_TRUE(a.counts[VM_OUT_CLOSE_MEMSLOTS_VM_FIRST] > 0);
        ASSERT_EQ(a.counts[VM_OUT_CLOSE_MEMSLOTS_VCPUS_FIRST] + a.counts[VM_OUT_CLOSE_MEMSLOTS_VM_FIRST], 40);
        ASSERT_EQ(total(&a), 40);
        actor_free(&a);

        actor_new(&a, "End=close-with-memslots-vm-first", 3);
        for (int i = 0; i < 5; i++)
                actor_step(&a);
        expect_only(&a, VM_OUT_CLOSE_MEMSLOTS_VM_FIRST, 5);
        actor_free(&a);

        actor_new(&a, "End=close-with-memslots-vcpus-first", 3);
        for (int i = 0; i < 5; i++)
                actor_step(&a);
        expect_only(&a, VM_OUT_CLOSE_MEMSLOTS_VCPUS_FIRST, 5);
        actor_free(&a);
}

static void test_sigkill(void)
{
        Seen seen = {};
        VmObserver o = { .vmm_in_guest = on_vmm_in_guest, .userdata = &seen };
        Actor a;

        action_vm_set_observer(&o);
        actor_new(&a, "VCPUs=2\nMemorySlots=2\nRun=0..3ms\nEnd=sigkill", 4);
        for (int i = 0; i < 10; i++) {
                const StepResult *r;

                seen = (Seen){};
                r = actor_step(&a);
                if (r->outcome != VM_OUT_SIGKILL)
                        TEST_FAIL("step %d: %s: %s", i, action_vm.outcomes[r->outcome].name, r->detail);
                ASSERT_EQ(seen.calls, 1);
                /* Seen from here: the guest counter moved, and a vCPU thread of the VMM was in KVM_RUN. */
                ASSERT_TRUE(seen.counter_delta > 0);
                ASSERT_TRUE(seen.in_kvm_run >= 1);
                /* The action's own proof, and the VMM is gone and reaped. */
                ASSERT_CONTAINS(r->detail, "before SIGKILL with no exit from KVM_RUN; VMM died by SIGKILL");
                ASSERT_TRUE(kill(seen.pid, 0) < 0 && errno == ESRCH);
                ASSERT_EQ(r->metrics[VM_M_VMS], 1);
                ASSERT_EQ(r->metrics[VM_M_VCPUS], 2);
                ASSERT_TRUE(r->metrics[VM_M_GUEST_LOOPS] > 0);
        }
        expect_only(&a, VM_OUT_SIGKILL, 10);
        actor_free(&a);
        action_vm_set_observer(NULL);
}

static int cmp_u64(const void *x, const void *y)
{
        uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
        return a < b ? -1 : a > b;
}

static void test_shared_fd(void)
{
        Seen seen = {};
        VmObserver o = { .peer_holds_fd = on_peer_holds_fd, .userdata = &seen };
        Actor a;

        action_vm_set_observer(&o);
        actor_new(&a, "VCPUs=2\nMemorySlots=2\nRun=0..1ms\nEnd=shared-fd\nSharedFdPairs=3", 5);
        for (int i = 0; i < 10; i++) {
                const StepResult *r;

                seen = (Seen){};
                r = actor_step(&a);
                if (r->outcome != VM_OUT_SHARED_FD)
                        TEST_FAIL("step %d: %s: %s", i, action_vm.outcomes[r->outcome].name, r->detail);
                /* Each of the 3 peers held its VM: read from its fd table here, not taken from the action. */
                ASSERT_EQ(seen.calls, 3);
                ASSERT_EQ(seen.vm_links, 3);
                /* Both ends fired and the spread was recorded; every process is gone and reaped. */
                ASSERT_TRUE(r->race_spread_ns > 0);
                ASSERT_CONTAINS(r->detail, "3 races: each peer held its VM fd (anon_inode:kvm-vm)");
                ASSERT_TRUE(kill(seen.pid, 0) < 0 && errno == ESRCH);
                ASSERT_EQ(r->metrics[VM_M_VMS], 3);
                ASSERT_EQ(r->metrics[VM_M_VCPUS], 6);
                ASSERT_TRUE(r->metrics[VM_M_EXITS] >= 6);
        }
        expect_only(&a, VM_OUT_SHARED_FD, 10);
        ASSERT_EQ(a.n_spreads, 10);
        qsort(a.spreads, a.n_spreads, sizeof a.spreads[0], cmp_u64);
        printf("shared-fd spread, the worst of 3 races per step, over 10 steps: p50 %" PRIu64 " ns, max %" PRIu64 " ns\n",
               a.spreads[5], a.spreads[9]);
        actor_free(&a);
        action_vm_set_observer(NULL);
}

static void test_recreate(void)
{
        Actor a;

        actor_new(&a, "VCPUs=2\nMemorySlots=2\nRun=0\nEnd=recreate\nRecreateCount=6", 6);
        for (int i = 0; i < 3; i++) {
                const StepResult *r = actor_step(&a);
                /* Six VMs in this one process per step: each ran its guest on both vCPUs. */
                ASSERT_EQ(r->metrics[VM_M_VMS], 6);
                ASSERT_EQ(r->metrics[VM_M_VCPUS], 12);
                ASSERT_TRUE(r->metrics[VM_M_GUEST_LOOPS] >= 12);
        }
        expect_only(&a, VM_OUT_RECREATE, 3);
        actor_free(&a);
}

/* Runs fn in a child with a hard time bound: a hang fails the test instead of stalling it. */
static void bounded(void (*fn)(void), unsigned seconds)
{
        pid_t pid = fork();
        int status;

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                alarm(seconds);
                fn();
                fflush(stdout);
                _exit(0);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
                TEST_FAIL("did not finish within %us", seconds);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void stats_after_end_steps(void)
{
        Seen seen = {};
        VmObserver o = { .vmm_in_guest = on_vmm_in_guest, .userdata = &seen };
        Actor a;

        action_vm_set_observer(&o);
        actor_new(&a, "VCPUs=2\nRun=0..1ms\nEnd=stats-after-end", 7);
        for (int i = 0; i < 5; i++) {
                const StepResult *r = actor_step(&a);
                if (r->outcome != VM_OUT_STATS_AFTER_END)
                        TEST_FAIL("%s: %s", action_vm.outcomes[r->outcome].name, r->detail);
                ASSERT_TRUE(seen.counter_delta > 0);
                ASSERT_CONTAINS(r->detail, "VM stats: ");
                ASSERT_CONTAINS(r->detail, "vCPU 0 stats: ");
                /* Data or a clean error: on this kernel the dead VM's stats are still readable. */
                if (r->metrics[VM_M_STATS_READS] != 2)
                        ASSERT_CONTAINS(r->detail, "clean error");
        }
        expect_only(&a, VM_OUT_STATS_AFTER_END, 5);
        printf("stats after end: %s\n", a.last.detail);
        actor_free(&a);
        action_vm_set_observer(NULL);
        kvm_test_assert_clean();
}

static void test_stats_after_end(void)
{
        bounded(stats_after_end_steps, 30);
}

static void test_fail_vcpu_emfile(void)
{
        struct rlimit before, after;
        Actor a;

        ASSERT_OK(getrlimit(RLIMIT_NOFILE, &before));
        actor_new(&a, "VCPUs=4\nMemorySlots=2\nEnd=fail-vcpu-emfile", 8);
        for (int i = 0; i < 8; i++) {
                const StepResult *r = actor_step(&a);
                if (r->outcome != VM_OUT_EFAIL_VCPU_EMFILE)
                        TEST_FAIL("%s: %s", action_vm.outcomes[r->outcome].name, r->detail);
                ASSERT_EQ(r->error, -EMFILE);
                ASSERT_CONTAINS(r->detail, "KVM_CREATE_VCPU: Too many open files (vCPU ");
                ASSERT_CONTAINS(r->detail, "after KVM_CREATE_VM + 2 memslots");
                /* After the failure the VM was completed and ran. */
                ASSERT_EQ(r->metrics[VM_M_VCPUS], 4);
        }
        expect_only(&a, VM_OUT_EFAIL_VCPU_EMFILE, 8);
        ASSERT_OK(getrlimit(RLIMIT_NOFILE, &after));
        ASSERT_EQ(after.rlim_cur, before.rlim_cur);
        ASSERT_EQ(after.rlim_max, before.rlim_max);
        actor_free(&a);
}

static unsigned leftover_cgroups(void)
{
        unsigned n = 0;

        /* Ours only: the group names carry the worker's pid, which for a local worker is ours. */
        for (int v = 0; v < 2; v++) {
                char pattern[128];
                glob_t g = {};
                snprintf(pattern, sizeof pattern, "/sys/fs/cgroup/%shvtorture-vm-%d-*", v ? "" : "memory/",
                         (int)getpid());
                if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0)
                        n += (unsigned)g.gl_pathc;
                globfree(&g);
        }
        return n;
}

static void test_fail_memcg(void)
{
        uint64_t efail = 0;
        Actor a;

        actor_new(&a, "VCPUs=2\nMemorySlots=2\nEnd=fail-memcg\nMemcgHeadroom=1M", 9);
        for (int i = 0; i < 24; i++) {
                const StepResult *r = actor_step(&a);
                if (r->outcome == VM_OUT_UNAVAILABLE) {
                        printf("fail-memcg unavailable here: %s\n", r->detail);
                        actor_free(&a);
                        return;
                }
                switch (r->outcome) {
                case VM_OUT_EFAIL_MEMCG_VM:
                case VM_OUT_EFAIL_MEMCG_MEMSLOT:
                case VM_OUT_EFAIL_MEMCG_VCPU:
                        ASSERT_EQ(r->error, -ENOMEM);
                        efail++;
                        break;
                case VM_OUT_EFAIL_MEMCG_RUN:
                        /* ENOMEM, or KVM_RUN's own ways of giving up (EFAULT, an internal error exit). */
                        ASSERT_TRUE(r->error == -ENOMEM || r->error == -EFAULT || r->error == -EPROTO);
                        if (r->error != -ENOMEM)
                                printf("fail-memcg run: %s\n", r->detail);
                        efail++;
                        break;
                case VM_OUT_MEMCG_OOM_KILL:
                case VM_OUT_MEMCG_NO_FAIL:
                        break;
                default:
                        TEST_FAIL("%s: %s", action_vm.outcomes[r->outcome].name, r->detail);
                }
        }
        for (unsigned o = VM_OUT_EFAIL_MEMCG_VM; o <= VM_OUT_MEMCG_NO_FAIL; o++)
                printf("fail-memcg %s: %" PRIu64 "\n", action_vm.outcomes[o].name, a.counts[o]);
        /* With limits from 0 to 1M above usage, some setups must fail part-way. */
        ASSERT_TRUE(efail > 0);
        ASSERT_EQ(total(&a), 24);
        ASSERT_EQ(leftover_cgroups(), 0);
        actor_free(&a);
}

static void test_fail_inject(void)
{
        bool available = access("/proc/self/fail-nth", F_OK) == 0;
        Actor a;

        actor_new(&a, "End=fail-inject", 10);
        for (int i = 0; i < 6; i++) {
                const StepResult *r = actor_step(&a);
                if (!available) {
                        /* Reported, never faked. */
                        ASSERT_EQ(r->outcome, VM_OUT_UNAVAILABLE);
                        ASSERT_CONTAINS(r->detail, "fault injection not available");
                } else if (r->outcome != VM_OUT_EFAIL_INJECT && r->outcome != VM_OUT_INJECT_ABSORBED &&
                           r->outcome != VM_OUT_INJECT_SWEPT)
                        TEST_FAIL("%s: %s", action_vm.outcomes[r->outcome].name, r->detail);
        }
        printf("fail-inject: %s: %s\n", action_vm.outcomes[a.last.outcome].name, a.last.detail);
        actor_free(&a);
}

/* /dev/kvm gone (as after a module unload): an expected outcome, not a failure. */
static void kvm_gone_step(void)
{
        Actor a;

        /* A private mount namespace with an empty /dev: /dev/kvm does not exist there. */
        ASSERT_OK(unshare(CLONE_NEWNS));
        ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
        ASSERT_OK(mount("tmpfs", "/dev", "tmpfs", 0, NULL));
        actor_new(&a, "End=close sigkill shared-fd recreate", 11);
        for (int i = 0; i < 8; i++) {
                const StepResult *r = actor_step(&a);
                if (r->outcome != VM_OUT_KVM_GONE)
                        TEST_FAIL("%s: %s", action_vm.outcomes[r->outcome].name, r->detail);
                ASSERT_CONTAINS(r->detail, "open /dev/kvm: No such file or directory");
        }
        actor_free(&a);
}

static void test_kvm_gone(void)
{
        bounded(kvm_gone_step, 30);
}

/* Limits: over KVM_CAP_MAX_VCPUS is an environment error saying so, from a step and from check_host. */
static void test_limits(void)
{
        KvmCaps caps;
        KvmFail f = {};
        char keys[128];
        char *reason = NULL;
        Actor a;

        ASSERT_OK(kvm_caps_probe(&caps, &f));
        if (caps.max_vcpus >= 4096) {
                printf("KVM_CAP_MAX_VCPUS=%d: the limit test needs a host below 4096\n", caps.max_vcpus);
                return;
        }
        snprintf(keys, sizeof keys, "VCPUs=%d\nEnd=close", caps.max_vcpus + 1);
        actor_new(&a, keys, 12);
        actor_step(&a);
        expect_only(&a, VM_OUT_ENV_ERROR, 1);
        ASSERT_CONTAINS(a.last.detail, "exceeds this host's KVM_CAP_MAX_VCPUS");
        ASSERT_TRUE(action_vm.check_host(a.profile->actors[0].params, &reason) < 0);
        ASSERT_CONTAINS(reason, "KVM_CAP_MAX_VCPUS");
        free(reason);
        actor_free(&a);

        actor_new(&a, "VCPUs=2\nEnd=close", 12);
        reason = NULL;
        ASSERT_OK(action_vm.check_host(a.profile->actors[0].params, &reason));
        ASSERT_TRUE(!reason);
        actor_free(&a);
}

/* Scale: KVM_CAP_MAX_VCPUS vCPUs (RLIMIT_NOFILE raised as needed), then KVM_CAP_NR_MEMSLOTS memslots. */
static void test_scale(void)
{
        KvmCaps caps;
        KvmFail f = {};
        char keys[160];
        Actor a;
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        unsigned vcpus;

        ASSERT_OK(kvm_caps_probe(&caps, &f));
        vcpus = (unsigned)MIN(caps.max_vcpus, GUEST_VCPUS_MAX);
        snprintf(keys, sizeof keys, "VCPUs=%u\nMemorySlots=16\nSlotSize=32K\nRun=0\nEnd=close", vcpus);
        actor_new(&a, keys, 13);
        actor_step(&a);
        if (a.last.outcome != VM_OUT_CLOSE)
                TEST_FAIL("%s: %s", action_vm.outcomes[a.last.outcome].name, a.last.detail);
        ASSERT_EQ(a.metrics[VM_M_VCPUS], vcpus);
        ASSERT_TRUE(a.metrics[VM_M_GUEST_LOOPS] >= vcpus);
        printf("scale: %u vCPUs in %" PRIu64 " ms\n", vcpus, (uint64_t)((now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC));
        actor_free(&a);

        t0 = now_ns(CLOCK_MONOTONIC);
        snprintf(keys, sizeof keys, "VCPUs=1\nMemorySlots=%d\nSlotSize=32K\nRun=0\nEnd=close-with-memslots-vm-first",
                 caps.nr_memslots);
        actor_new(&a, keys, 13);
        actor_step(&a);
        if (a.last.outcome != VM_OUT_CLOSE_MEMSLOTS_VM_FIRST)
                TEST_FAIL("%s: %s", action_vm.outcomes[a.last.outcome].name, a.last.detail);
        ASSERT_EQ(a.metrics[VM_M_MEMSLOTS], (uint64_t)caps.nr_memslots);
        printf("scale: %d memslots in %" PRIu64 " ms\n", caps.nr_memslots,
               (uint64_t)((now_ns(CLOCK_MONOTONIC) - t0) / NSEC_PER_MSEC));
        actor_free(&a);

        /* One more than KVM offers: an environment error that says so. */
        if (caps.nr_memslots < 32767) {
                snprintf(keys, sizeof keys, "MemorySlots=%d\nSlotSize=32K\nEnd=close", caps.nr_memslots + 1);
                actor_new(&a, keys, 13);
                actor_step(&a);
                expect_only(&a, VM_OUT_ENV_ERROR, 1);
                ASSERT_CONTAINS(a.last.detail, "exceeds this host's KVM_CAP_NR_MEMSLOTS");
                actor_free(&a);
        }
}

/* All modes mixed: each step has exactly one outcome and they add up. */
static void test_mixed(void)
{
        Actor a;
        uint64_t expected_ok = 0;

        actor_new(&a,
                  "VCPUs=2\nMemorySlots=2\nRun=0..1ms\nRecreateCount=3\n"
                  "End=close sigkill close-with-memslots shared-fd:3 recreate stats-after-end fail-vcpu-emfile",
                  14);
        for (int i = 0; i < 60; i++)
                actor_step(&a);
        ASSERT_EQ(total(&a), 60);
        ASSERT_EQ(a.counts[VM_OUT_FAILURE], 0);
        ASSERT_EQ(a.counts[VM_OUT_ENV_ERROR], 0);
        for (unsigned o = 0; o < _VM_OUT_MAX; o++) {
                if (a.counts[o])
                        printf("mixed: %-28s %" PRIu64 "\n", action_vm.outcomes[o].name, a.counts[o]);
                expected_ok += a.counts[o];
        }
        ASSERT_EQ(expected_ok, 60);
        /* shared-fd is weighted up: the most frequent end of the mix. */
        for (unsigned o = 0; o < _VM_OUT_MAX; o++)
                ASSERT_TRUE(a.counts[o] <= a.counts[VM_OUT_SHARED_FD]);
        actor_free(&a);
}

/* The dry-run line. */
static void test_describe(void)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        Actor a;

        actor_new(&a, "VCPUs=2\nMemorySlots=3\nSlotSize=1M\nRun=1ms..5ms\nEnd=close:2 shared-fd:5 recreate", 15);
        action_vm.describe(a.profile->actors[0].params, f);
        fclose(f);
        ASSERT_STREQ(buf, "VM with 2 vCPUs and 3 memslots of 1M, guest runs 1ms..5ms, ends by close:2 shared-fd:5 "
                          "recreate:1(8 VMs)");
        free(buf);
        actor_free(&a);
}

/* Each test with its wall time, so a slow mode shows up in the log. */
#define RUN(fn)                                                                                                   \
        do {                                                                                                      \
                uint64_t _t = now_ns(CLOCK_MONOTONIC);                                                            \
                fn();                                                                                             \
                printf("%-28s %6" PRIu64 " ms\n", #fn, (uint64_t)((now_ns(CLOCK_MONOTONIC) - _t) / NSEC_PER_MSEC)); \
                fflush(stdout);                                                                                   \
        } while (0)

int main(void)
{
        kvm_test_require();
        RUN(test_describe);
        RUN(test_close);
        RUN(test_close_with_memslots);
        RUN(test_sigkill);
        RUN(test_shared_fd);
        RUN(test_recreate);
        RUN(test_stats_after_end);
        RUN(test_fail_vcpu_emfile);
        RUN(test_fail_memcg);
        RUN(test_fail_inject);
        RUN(test_kvm_gone);
        RUN(test_limits);
        RUN(test_scale);
        RUN(test_mixed);
        kvm_test_assert_clean();
        return 0;
}
