/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The module action on the fake module kernel (tests/fake-kmod: the real
 * libkmod over a depmod'ed fake tree, the syscalls answered by the shim):
 * load and unload order, options drawn per load and replayed by the seed,
 * every errno mapped to its outcome and class, Unload=wait/skip-if-busy/
 * force, VMs of other processes refusing the unload (a fake /proc), the
 * allow-list and the force opt-in refusing before anything changes, the
 * modules left as they were found, and — in the engine — a run whose vm
 * actor starts without /dev/kvm because a module actor loads kvm.
 */
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "engine-internal.h"
#include "fake-kmod-test.h"
#include "host-config.h"
#include "journal.h"
#include "kmod-util.h"
#include "report.h"
#include "profile.h"
#include "store.h"
#include "worker.h"

extern const ActionType action_module;

static char *allow_default[] = { (char *)"kvm", (char *)"kvm_intel", (char *)"kvm_amd", NULL };
static HostConfig host_config = { .path = (char *)"/etc/hvt-test.conf", .allow_modules = allow_default };
static ActionHost host;

typedef struct Actor {
        Profile *profile;
        Worker *worker;
        StepResult last;
} Actor;

static void actor_new(Actor *a, const char *keys, uint64_t seed)
{
        char text[2048];
        ConfErrors errs = {};

        memset(a, 0, sizeof *a);
        snprintf(text, sizeof text, "[Profile]\nDuration=1min\nDestructive=yes\n[Actor cycle]\nAction=module\n%s\n", keys);
        if (profile_parse_text("test.ini", text, strlen(text), &a->profile, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse: %s", keys);
        }
        ASSERT_OK(worker_new_local(&a->profile->actors[0], seed, 0, &a->worker));
        worker_set_local_host(a->worker, &host);
}

static void actor_free(Actor *a)
{
        worker_free_local(a->worker); /* worker_done: the modules go back as found */
        profile_free(a->profile);
}

static const char *outcome_name(const StepResult *r)
{
        return action_module.outcomes[r->outcome].name;
}

/* One step; returns its outcome's name. */
static const char *actor_step(Actor *a)
{
        ASSERT_OK(worker_local_step(a->worker, &a->last));
        ASSERT_TRUE(a->last.outcome < action_module.n_outcomes);
        return outcome_name(&a->last);
}

static void expect_step(Actor *a, const char *outcome, const char *detail)
{
        const char *got = actor_step(a);
        if (!streq(got, outcome))
                TEST_FAIL("expected %s, got %s: %s", outcome, got, a->last.detail);
        if (detail)
                ASSERT_CONTAINS(a->last.detail, detail);
}

static OutcomeClass class_of(const char *outcome)
{
        int i = action_outcome_index(&action_module, outcome);
        ASSERT_TRUE(i >= 0);
        return action_module.outcomes[i].class;
}

static uint64_t metric(const StepResult *r, const char *name)
{
        for (unsigned i = 0; action_module.metrics[i]; i++)
                if (streq(action_module.metrics[i], name))
                        return r->metrics[i];
        TEST_FAIL("no metric %s", name);
}

static void reset(const char *cpu)
{
        fake_reset(cpu);
        host_config.allow_modules = allow_default;
        host_config.allow_destructive = false;
        host_config.allow_foreign_vms = false;
        host = (ActionHost){ .config = &host_config, .allow_destructive = true, .engine_pid = getpid() };
}

/* ---- the profile ---- */

static void expect_profile_error(const char *keys, const char *message)
{
        char text[1024];
        ConfErrors errs = {};
        Profile *p = NULL;
        bool found = false;

        snprintf(text, sizeof text, "[Profile]\nDuration=1min\nDestructive=yes\n[Actor cycle]\nAction=module\n%s\n", keys);
        ASSERT_EQ(profile_parse_text("t.ini", text, strlen(text), &p, &errs), -EINVAL);
        for (size_t i = 0; i < errs.n; i++) {
                _cleanup_free_ char *s = conf_error_format(&errs.items[i]);
                found = found || strstr(s, message);
                ASSERT_CONTAINS(s, "t.ini:");
        }
        if (!found) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("no error saying '%s' for: %s", message, keys);
        }
        conf_errors_clear(&errs);
}

static void test_profile(void)
{
        ConfErrors errs = {};
        Profile *p = NULL;
        const char *text = "[Profile]\nDuration=1min\n[Actor cycle]\nAction=module\nModules=kvm\n";
        char *plan = NULL;
        size_t len = 0;
        FILE *f;

        expect_profile_error("", "no modules to cycle");
        expect_profile_error("Modules=kvm ../kvm", "[Actor cycle] Modules=../kvm: not a module name");
        expect_profile_error("Modules=kvm\nOptions=kvm:tdp_mmu", "no PARAM=VALUE");
        expect_profile_error("Modules=kvm\nOptions=kvm:tdp_mmu=Y||N", "an empty value");
        expect_profile_error("Modules=kvm\nOptions=kvm_amd:nested=1", "kvm_amd is not one of Modules=");
        expect_profile_error("Modules=kvm\nOptions=kvm:tdp-mmu=Y", "not a parameter name");
        expect_profile_error("Modules=kvm\nUnload=maybe", "Unload=maybe");
        expect_profile_error("Modules=kvm\nHoldTime=2h", "HoldTime=2h");

        /* Module unload is destructive: the profile must say it means it. */
        ASSERT_EQ(profile_parse_text("t.ini", text, strlen(text), &p, &errs), -EINVAL);
        ASSERT_TRUE(errs.n == 1);
        {
                _cleanup_free_ char *s = conf_error_format(&errs.items[0]);
                ASSERT_CONTAINS(s, "[Actor cycle] (Action=module) is destructive; say Destructive=yes");
        }
        conf_errors_clear(&errs);

        /* vendor options for either vendor are fine in a profile that cycles 'vendor'. */
        text = "[Profile]\nDuration=1min\nDestructive=yes\n[Actor cycle]\nAction=module\nModules=vendor kvm\n"
               "Options=kvm_amd:nested=0|1 kvm_intel:nested=N|Y kvm:tdp_mmu=Y|N\nUnload=skip-if-busy\n";
        ASSERT_OK(profile_parse_text("t.ini", text, strlen(text), &p, &errs));
        f = open_memstream(&plan, &len);
        profile_print_plan(p, 1, 0, f);
        fclose(f);
        ASSERT_CONTAINS(plan, "loads vendor kvm with kvm_amd:nested=0|1 kvm_intel:nested=N|Y kvm:tdp_mmu=Y|N");
        ASSERT_CONTAINS(plan, "Unload=skip-if-busy");
        ASSERT_CONTAINS(plan, "Destructive: yes");
        ASSERT_TRUE(action_module.provides_kvm(p->actors[0].params));
        free(plan);
        profile_free(p);

        text = "[Profile]\nDuration=1min\nDestructive=yes\n[Actor cycle]\nAction=module\nModules=ramoops\n";
        ASSERT_OK(profile_parse_text("t.ini", text, strlen(text), &p, &errs));
        ASSERT_TRUE(!action_module.provides_kvm(p->actors[0].params));
        profile_free(p);
}

/* ---- what the host allows, before anything happens ---- */

static int check_allowed(const char *keys, char **reason)
{
        Actor a;
        int r;

        actor_new(&a, keys, 1);
        r = action_module.check_allowed(a.profile->actors[0].params, &host, reason);
        worker_free_local(a.worker);
        profile_free(a.profile);
        return r;
}

static void test_allowed(void)
{
        static char *allow_dashes[] = { (char *)"kvm", (char *)"kvm-amd", NULL };
        static char *allow_amd_only[] = { (char *)"kvm", (char *)"kvm_amd", NULL };
        _cleanup_free_ char *log = NULL;
        char *reason = NULL;
        Actor a;

        reset("amd");
        ASSERT_OK(check_allowed("Modules=vendor kvm", &reason));
        ASSERT_TRUE(!reason);

        ASSERT_EQ(check_allowed("Modules=kvm ramoops", &reason), -EPERM);
        ASSERT_CONTAINS(reason, "Modules=ramoops: ramoops is not in AllowModules= of /etc/hvt-test.conf "
                                "(it allows: kvm kvm_intel kvm_amd)");
        free(reason);

        /* The worker refuses it too (if the run's check were ever skipped), and the kernel saw nothing. */
        actor_new(&a, "Modules=kvm ramoops", 1);
        ASSERT_TRUE(worker_local_step(a.worker, &a.last) < 0);
        actor_free(&a);
        log = fake_log();
        ASSERT_STREQ(log, "");
        ASSERT_TRUE(!fake_loaded("kvm") && !fake_loaded("ramoops"));

        /* No host config at all: nothing is allowed. */
        host.config = NULL;
        ASSERT_EQ(check_allowed("Modules=kvm", &reason), -EINVAL);
        ASSERT_CONTAINS(reason, "no host config was read");
        free(reason);
        actor_new(&a, "Modules=kvm", 1);
        worker_set_local_host(a.worker, NULL);
        ASSERT_TRUE(worker_local_step(a.worker, &a.last) < 0);
        actor_free(&a);
        ASSERT_TRUE(!fake_loaded("kvm"));
        host.config = &host_config;

        /* Names are compared as the kernel does: kvm-amd is kvm_amd. */
        host_config.allow_modules = allow_dashes;
        ASSERT_OK(check_allowed("Modules=vendor kvm", &reason));

        /* 'vendor' on an Intel CPU is kvm_intel, which this host does not allow. */
        reset("intel");
        host_config.allow_modules = allow_amd_only;
        ASSERT_EQ(check_allowed("Modules=vendor kvm", &reason), -EPERM);
        ASSERT_CONTAINS(reason, "Modules=vendor (kvm_intel): kvm_intel is not in AllowModules=");
        free(reason);

        reset("none");
        ASSERT_EQ(check_allowed("Modules=vendor kvm", &reason), -EINVAL);
        ASSERT_CONTAINS(reason, "this CPU has neither vmx nor svm");
        free(reason);

        /* Forcing needs the host config's own opt-in; --allow-destructive (host.allow_destructive) is not enough. */
        reset("amd");
        ASSERT_EQ(check_allowed("Modules=kvm\nUnload=force", &reason), -EPERM);
        ASSERT_CONTAINS(reason, "Unload=force");
        ASSERT_CONTAINS(reason, "AllowDestructive=yes in [Host] of /etc/hvt-test.conf");
        free(reason);
        host_config.allow_destructive = true;
        ASSERT_OK(check_allowed("Modules=kvm\nUnload=force", &reason));
}

static void test_check_host(void)
{
        static const struct {
                const char *keys;
                const char *reason;
        } bad[] = {
                { "Modules=vendor\nOptions=vendor:nestd=0|1", "Options=vendor:nestd=0|1: kvm_amd has no parameter 'nestd' "
                                                               "(its parameters: nested npt avic pause_filter_count)" },
                { "Modules=vendor kvm\nOptions=vendor:nested=yes", "'yes' is not a valid int for kvm_amd:nested" },
                { "Modules=kvm\nOptions=kvm:tdp_mmu=Y|2", "'2' is not a valid bool for kvm:tdp_mmu" },
                { "Modules=kvm_arm", "there is no module kvm_arm for this kernel (in /lib/modules/6.1.0-hvt-fake/" },
                { "Modules=kvm\nOptions=kvm:tdp_mmu=Y kvm:tdp_mmu=N", "kvm:tdp_mmu is given twice" },
        };

        reset("amd");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *reason = NULL;
                Actor a;
                actor_new(&a, bad[i].keys, 1);
                ASSERT_TRUE(action_module.check_host(a.profile->actors[0].params, &reason) < 0);
                ASSERT_CONTAINS(reason, bad[i].reason);
                actor_free(&a);
        }
        {
                /* The other vendor's options are dropped, not an error: one profile serves both. */
                _cleanup_free_ char *reason = NULL;
                Actor a;
                actor_new(&a, "Modules=vendor kvm\nOptions=kvm_intel:nested=N|Y kvm_amd:nested=0|1", 1);
                ASSERT_OK(action_module.check_host(a.profile->actors[0].params, &reason));
                actor_free(&a);
        }
        {
                _cleanup_free_ char *log = fake_log();
                ASSERT_STREQ(log, ""); /* checks load nothing */
        }
}

/* ---- cycles ---- */

static void test_cycle(void)
{
        _cleanup_free_ char *log = NULL, *tdp = NULL, *nested = NULL;
        char want[128];
        uint64_t pause;
        Actor a;

        reset("amd");
        actor_new(&a, "Modules=vendor kvm\nOptions=vendor:nested=0|1 kvm:tdp_mmu=Y|N\nHoldTime=5ms..7ms", 7);

        /* Nothing loaded: the step loads, dependencies first, each with its options. */
        expect_step(&a, "loaded", "loaded kvm(tdp_mmu=");
        ASSERT_STREQ(worker_local_phase(a.worker), "module:load");
        ASSERT_EQ(metric(&a.last, "modules_loaded"), 2);
        pause = worker_local_next_pause(a.worker);
        ASSERT_TRUE(pause >= 5 * NSEC_PER_MSEC && pause <= 7 * NSEC_PER_MSEC);
        log = fake_log();
        ASSERT_TRUE(strstr(log, "init irqbypass") < strstr(log, "init kvm \"tdp_mmu="));
        ASSERT_TRUE(strstr(log, "init kvm \"tdp_mmu=") < strstr(log, "init ccp"));
        ASSERT_TRUE(strstr(log, "init ccp") < strstr(log, "init kvm_amd \"nested="));
        /* What the step says it loaded is what the kernel got. */
        tdp = fake_param("kvm", "tdp_mmu");
        nested = fake_param("kvm_amd", "nested");
        snprintf(want, sizeof want, "loaded kvm(tdp_mmu=%s) kvm_amd(nested=%s) in ", tdp, nested);
        ASSERT_TRUE(streq(tdp, "Y") || streq(tdp, "N"));
        ASSERT_CONTAINS(a.last.detail, want);

        /* Loaded: the step unloads, in the reverse order; what libkmod loaded as dependencies stays. */
        fake_log_clear();
        expect_step(&a, "unloaded", "unloaded kvm_amd kvm in ");
        ASSERT_STREQ(worker_local_phase(a.worker), "module:unload");
        ASSERT_EQ(metric(&a.last, "modules_unloaded"), 2);
        ASSERT_EQ(worker_local_next_pause(a.worker), UINT64_MAX); /* after an unload: Interval= */
        free(log);
        log = fake_log();
        ASSERT_TRUE(strstr(log, "delete kvm_amd flags=0x800 = 0") < strstr(log, "delete kvm flags=0x800 = 0"));
        ASSERT_TRUE(!fake_loaded("kvm") && !fake_loaded("kvm_amd"));
        ASSERT_TRUE(fake_loaded("irqbypass") && fake_loaded("ccp"));

        expect_step(&a, "loaded", NULL);
        ASSERT_TRUE(fake_loaded("kvm_amd"));
        /* The worker found nothing loaded: it leaves nothing loaded. */
        fake_log_clear();
        actor_free(&a);
        ASSERT_TRUE(!fake_loaded("kvm") && !fake_loaded("kvm_amd"));
        ASSERT_EQ(fake_log_count("delete kvm_amd"), 1);
        ASSERT_EQ(fake_log_count("delete kvm "), 1);
}

/* The options each load drew, as the fake kernel received them. */
static void draws(uint64_t seed, unsigned loads, char *out, size_t len)
{
        _cleanup_free_ char *log = NULL;
        char *save = NULL;
        Actor a;

        reset("amd");
        actor_new(&a, "Modules=vendor kvm\nOptions=vendor:nested=0|1 kvm:tdp_mmu=Y|N\nHoldTime=0", seed);
        for (unsigned i = 0; i < loads; i++) {
                expect_step(&a, "loaded", NULL);
                expect_step(&a, "unloaded", NULL);
        }
        actor_free(&a);
        log = fake_log();
        out[0] = '\0';
        for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (startswith(l, "init kvm \"") || startswith(l, "init kvm_amd \""))
                        snprintf(out + strlen(out), len - strlen(out), "%s;", strchr(l, '"'));
}

static void test_options_by_seed(void)
{
        char a[4096], b[4096], c[4096];

        draws(11, 16, a, sizeof a);
        draws(11, 16, b, sizeof b);
        draws(12, 16, c, sizeof c);
        ASSERT_STREQ(a, b);             /* a run replays its choices from its seed */
        ASSERT_TRUE(!streq(a, c));      /* another seed draws otherwise */
        ASSERT_CONTAINS(a, "\"nested=0\" = 0;");
        ASSERT_CONTAINS(a, "\"nested=1\" = 0;");
        ASSERT_CONTAINS(a, "\"tdp_mmu=Y\" = 0;");
        ASSERT_CONTAINS(a, "\"tdp_mmu=N\" = 0;");
}

static void test_load_errors(void)
{
        static const struct {
                const char *rule;
                int error;
                const char *outcome;
                OutcomeClass class;
                const char *detail;
        } cases[] = {
                { "init kvm_amd EKEYREJECTED\n", EKEYREJECTED, "refused", OUTCOME_ENV_ERROR, "signature rejected" },
                { "init kvm_amd EPERM\n", EPERM, "refused", OUTCOME_ENV_ERROR, "not permitted" },
                { "init kvm_amd ENOENT\n", ENOENT, "missing", OUTCOME_ENV_ERROR, "no such module, or a symbol" },
                { "init kvm_amd EEXIST\n", EEXIST, "already-loaded", OUTCOME_EXPECTED, "loaded by someone else" },
                { "init kvm_amd ENODEV\n", ENODEV, "unsupported", OUTCOME_ENV_ERROR, "no usable VMX/SVM" },
                { "init kvm_amd ENOMEM\n", ENOMEM, "env-error", OUTCOME_ENV_ERROR, "out of memory" },
                { "init kvm_amd EINVAL\n", EINVAL, "failed", OUTCOME_FAILURE, "load kvm_amd(nested=1): Invalid argument" },
                { "init kvm EIO\n", EIO, "failed", OUTCOME_FAILURE, "load kvm: Input/output error" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Actor a;
                reset("amd");
                fake_rules(cases[i].rule);
                actor_new(&a, "Modules=vendor kvm\nOptions=vendor:nested=1", 3);
                expect_step(&a, cases[i].outcome, cases[i].detail);
                ASSERT_EQ(class_of(cases[i].outcome), cases[i].class);
                ASSERT_EQ(a.last.error, -cases[i].error);
                ASSERT_TRUE(!fake_loaded("kvm_amd"));
                /* Half loaded (kvm is): the next step unloads what is there. */
                if (fake_loaded("kvm"))
                        expect_step(&a, "unloaded", "unloaded kvm in");
                actor_free(&a);
        }

        /* modprobe.d's blacklist is respected: refused, nothing loaded. */
        {
                Actor a;
                reset("amd");
                fake_write("/etc/modprobe.d/no-kvm.conf", "blacklist kvm_amd\n");
                actor_new(&a, "Modules=vendor", 3);
                expect_step(&a, "refused", "kvm_amd is blacklisted in modprobe.d");
                ASSERT_TRUE(!fake_loaded("kvm_amd"));
                actor_free(&a);
        }
}

static void test_unload_modes(void)
{
        Actor a;
        uint64_t t0, took;

        /* skip-if-busy: one try, in-use (expected), nothing removed. */
        reset("amd");
        actor_new(&a, "Modules=vendor kvm\nUnload=skip-if-busy", 1);
        expect_step(&a, "loaded", NULL);
        fake_set_refcnt("kvm_amd", 1); /* e.g. /dev/kvm open */
        expect_step(&a, "in-use", "unload kvm_amd: in use (refcnt 1)");
        ASSERT_EQ(class_of("in-use"), OUTCOME_EXPECTED);
        ASSERT_EQ(metric(&a.last, "in_use_tries"), 1);
        ASSERT_TRUE(fake_loaded("kvm_amd") && fake_loaded("kvm"));
        fake_set_refcnt("kvm_amd", 0);
        expect_step(&a, "unloaded", NULL);
        actor_free(&a);

        /* wait: tries until WaitTimeout=, then in-use. */
        reset("amd");
        actor_new(&a, "Modules=vendor kvm\nUnload=wait\nWaitTimeout=150ms", 1);
        expect_step(&a, "loaded", NULL);
        fake_set_refcnt("kvm_amd", 2);
        t0 = now_ns(CLOCK_MONOTONIC);
        expect_step(&a, "in-use", "after WaitTimeout=150ms");
        took = now_ns(CLOCK_MONOTONIC) - t0;
        ASSERT_TRUE(took >= 150 * NSEC_PER_MSEC);
        ASSERT_TRUE(metric(&a.last, "in_use_tries") > 2);
        ASSERT_TRUE(metric(&a.last, "in_use_wait_us") >= 100000);
        ASSERT_TRUE(fake_loaded("kvm_amd"));
        fake_set_refcnt("kvm_amd", 0);
        actor_free(&a);

        /* wait: the module comes free during the wait (three EAGAINs, then it goes). */
        reset("amd");
        actor_new(&a, "Modules=vendor kvm\nUnload=wait\nWaitTimeout=5s", 1);
        expect_step(&a, "loaded", NULL);
        fake_rules("delete kvm_amd EAGAIN 3\n");
        expect_step(&a, "unloaded", "after 3 tries while in use");
        ASSERT_EQ(fake_log_count("delete kvm_amd flags=0x800 = -EAGAIN (rule)"), 3);
        actor_free(&a);

        /* A module of the set held by one outside it: in use, the holder named. */
        reset("amd");
        {
                _cleanup_(modctx_freep) ModCtx *ctx = NULL;
                _cleanup_(kmod_module_unrefp) struct kmod_module *intel = NULL;
                ASSERT_OK(modctx_new(&ctx));
                ASSERT_OK(modctx_lookup(ctx, "kvm_intel", &intel));
                ASSERT_OK(module_insert(intel, NULL));
                actor_new(&a, "Modules=kvm\nUnload=skip-if-busy", 1);
                expect_step(&a, "in-use", "held by kvm_intel");
                actor_free(&a);
                ASSERT_OK(module_remove(intel, false));
        }

        /* force: removed although in use (O_TRUNC), with the host config's opt-in. */
        reset("amd");
        host_config.allow_destructive = true;
        actor_new(&a, "Modules=vendor kvm\nUnload=force", 1);
        expect_step(&a, "loaded", NULL);
        fake_set_refcnt("kvm_amd", 1);
        expect_step(&a, "unloaded", NULL);
        ASSERT_EQ(fake_log_count("delete kvm_amd flags=0xa00 = 0 (forced)"), 1);
        actor_free(&a);

        /* The kernel's other answers. */
        reset("amd");
        actor_new(&a, "Modules=vendor kvm", 1);
        expect_step(&a, "loaded", NULL);
        fake_rules("delete kvm_amd ENOENT 1\n");
        expect_step(&a, "not-loaded", "someone else unloaded it");
        ASSERT_EQ(class_of("not-loaded"), OUTCOME_EXPECTED);
        fake_rules("delete kvm_amd EPERM 1\n");
        expect_step(&a, "refused", "not permitted");
        fake_rules("delete kvm_amd EIO 1\n");
        expect_step(&a, "failed", "unload kvm_amd: delete_module: Input/output error");
        ASSERT_EQ(class_of("failed"), OUTCOME_FAILURE);
        fake_rules("");
        expect_step(&a, "unloaded", NULL);
        actor_free(&a);
}

/* ---- VMs of other processes ---- */

/* A process in the fake /proc: comm, parent, and one fd pointing at what. */
static void fake_process(int pid, const char *comm, int ppid, const char *fd_target)
{
        char rel[128], text[256];

        snprintf(rel, sizeof rel, "/proc/%d", pid);
        ASSERT_OK(mkdir(fake_path(rel), 0755));
        snprintf(rel, sizeof rel, "/proc/%d/fd", pid);
        ASSERT_OK(mkdir(fake_path(rel), 0755));
        snprintf(rel, sizeof rel, "/proc/%d/fd/7", pid);
        ASSERT_OK(symlink(fd_target, fake_path(rel)));
        snprintf(rel, sizeof rel, "/proc/%d/stat", pid);
        snprintf(text, sizeof text, "%d (%s) S %d %d %d 0 -1\n", pid, comm, ppid, pid, pid);
        fake_write(rel, text);
        snprintf(rel, sizeof rel, "/proc/%d/comm", pid);
        snprintf(text, sizeof text, "%s\n", comm);
        fake_write(rel, text);
        snprintf(rel, sizeof rel, "/proc/%d/maps", pid);
        fake_write(rel, "");
}

static void test_foreign_vms(void)
{
        Actor a;

        /* A VM of a process that is not the run's: kvm stays, the kernel sees no delete_module. */
        reset("amd");
        fake_process(4000001, "qemu-system-x86", 1, "anon_inode:kvm-vm");
        actor_new(&a, "Modules=vendor kvm", 1);
        expect_step(&a, "loaded", NULL);
        fake_log_clear();
        expect_step(&a, "foreign-vms", "1 VM of other processes: pid 4000001 (qemu-system-x86) 1 VM; left loaded "
                                       "(AllowForeignVMs=no)");
        ASSERT_EQ(class_of("foreign-vms"), OUTCOME_ENV_ERROR);
        ASSERT_STREQ(worker_local_phase(a.worker), "module:check");
        ASSERT_EQ(fake_log_count("delete"), 0);
        ASSERT_TRUE(fake_loaded("kvm_amd"));
        /* The host allows it: the unload goes ahead. */
        host_config.allow_foreign_vms = true;
        expect_step(&a, "unloaded", NULL);
        host_config.allow_foreign_vms = false;
        actor_free(&a);

        /* The run's own VM (its process descends from the engine) does not stop it. */
        reset("amd");
        fake_process(4000002, "hvt-vms", getpid(), "anon_inode:kvm-vm");
        fake_process(4000003, "vmm", 4000002, "anon_inode:kvm-vcpu:0");
        actor_new(&a, "Modules=vendor kvm", 1);
        expect_step(&a, "loaded", NULL);
        expect_step(&a, "unloaded", NULL);
        ASSERT_EQ(metric(&a.last, "own_vms_at_unload"), 2);
        actor_free(&a);

        /* Only /dev/kvm open elsewhere, no VM: no refusal (the module may be in use; the kernel says so). */
        reset("amd");
        fake_process(4000004, "libvirtd", 1, "/dev/kvm");
        actor_new(&a, "Modules=vendor kvm", 1);
        expect_step(&a, "loaded", NULL);
        expect_step(&a, "unloaded", NULL);
        actor_free(&a);

        /* Not a KVM module: no scan, whatever VMs exist. */
        {
                static char *allow_ramoops[] = { (char *)"ramoops", NULL };
                reset("amd");
                host_config.allow_modules = allow_ramoops;
                fake_process(4000005, "qemu-system-x86", 1, "anon_inode:kvm-vm");
                actor_new(&a, "Modules=ramoops", 1);
                expect_step(&a, "loaded", "loaded ramoops in");
                expect_step(&a, "unloaded", NULL);
                ASSERT_EQ(metric(&a.last, "vm_scan_us"), 0);
                actor_free(&a);
        }
}

/* ---- the host as found ---- */

static void test_restore(void)
{
        _cleanup_(modctx_freep) ModCtx *ctx = NULL;
        _cleanup_(kmod_module_unrefp) struct kmod_module *amd = NULL;
        _cleanup_free_ char *v = NULL;
        Actor a;

        /* kvm_amd loaded with nested=1 before the run; the run loads it with nested=0. */
        reset("amd");
        ASSERT_OK(modctx_new(&ctx));
        ASSERT_OK(modctx_lookup(ctx, "kvm_amd", &amd));
        ASSERT_OK(module_insert(amd, "nested=1"));
        actor_new(&a, "Modules=vendor kvm\nOptions=vendor:nested=0", 1);
        expect_step(&a, "unloaded", "unloaded kvm_amd kvm");
        expect_step(&a, "loaded", "kvm_amd(nested=0)");
        fake_log_clear();
        actor_free(&a);
        /* Unloaded and loaded again with the value it had: the host is as the run found it. */
        ASSERT_EQ(fake_log_count("delete kvm_amd"), 1);
        ASSERT_EQ(fake_log_count("init kvm_amd \"nested=1\" = 0"), 1);
        v = fake_param("kvm_amd", "nested");
        ASSERT_STREQ(v, "1");
        ASSERT_TRUE(fake_loaded("kvm"));

        /* Found loaded, left unloaded by the last step: loaded again. */
        actor_new(&a, "Modules=vendor kvm\nOptions=vendor:nested=0|1", 5);
        expect_step(&a, "unloaded", NULL);
        actor_free(&a);
        ASSERT_TRUE(fake_loaded("kvm_amd") && fake_loaded("kvm"));
        free(v);
        v = fake_param("kvm_amd", "nested");
        ASSERT_STREQ(v, "1");
}

/* ---- in the engine: /dev/kvm absent at the start ---- */

static char state_dir[] = "/tmp/hvt-test-module-XXXXXX";

static void remove_state_dir(void)
{
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
        (void)!system(cmd);
}

typedef struct RunCtx {
        sd_event *event;
        bool finished;
} RunCtx;

static void on_finished(Engine *e, void *userdata)
{
        RunCtx *c = userdata;
        c->finished = true;
        sd_event_exit(c->event, 0);
}

typedef struct StepLines {
        unsigned module, loaded, unloaded, notes;
        int64_t last_end_us; /* of the last module step, when it was a load */
        int64_t min_gap_after_load_us;
} StepLines;

static int count_steps(json_object *rec, void *userdata)
{
        StepLines *s = userdata;
        const char *type = json_get_str(rec, "type", "");
        if (streq(type, "note") && streq(json_get_str(rec, "actor", ""), "cycle"))
                s->notes++;
        if (!streq(type, "step") || !streq(json_get_str(rec, "actor", ""), "cycle"))
                return 0;
        s->module++;
        s->loaded += streq(json_get_str(rec, "outcome", ""), "loaded");
        s->unloaded += streq(json_get_str(rec, "outcome", ""), "unloaded");
        ASSERT_TRUE(json_get_int(rec, "duration_ns", 0) > 0);
        /* The pause after a load is HoldTime=, not Interval=: at least that long between the two steps. */
        if (s->last_end_us) {
                int64_t gap = json_get_int(rec, "mono", 0) - json_get_int(rec, "duration_ns", 0) / 1000 - s->last_end_us;
                if (!s->min_gap_after_load_us || gap < s->min_gap_after_load_us)
                        s->min_gap_after_load_us = gap;
        }
        s->last_end_us = streq(json_get_str(rec, "outcome", ""), "loaded") ? json_get_int(rec, "mono", 0) : 0;
        return 0;
}

/* In a mount namespace of its own, /dev is an empty tmpfs: no /dev/kvm. Runs in a child. */
static int run_without_dev_kvm(const char *profile, char **ret_error, json_object **ret_report)
{
        static const char *const no_pstore[] = { NULL };
        EngineOptions opts = { .state_dir = state_dir, .seed = 5, .seed_set = true, .host = &host_config,
                               .allow_destructive = true, .progress_interval_ns = 100 * NSEC_PER_MSEC,
                               .kmsg_path = "", .pstore_dirs = no_pstore };
        RunCtx c = {};
        EngineCallbacks cb = { .finished = on_finished, .userdata = &c };
        ConfErrors errs = {};
        Profile *p = NULL;
        Engine *e = NULL;
        int r;

        if (profile_parse_text("t.ini", profile, strlen(profile), &p, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse");
        }
        ASSERT_OK(sd_event_new(&c.event));
        ASSERT_OK(engine_new(c.event, p, &opts, &cb, &e));
        r = engine_start(e);
        if (r < 0) {
                *ret_error = strdup(engine_error(e));
                engine_free(e);
                sd_event_unref(c.event);
                return r;
        }
        ASSERT_OK(sd_event_loop(c.event));
        ASSERT_TRUE(c.finished);
        *ret_report = engine_report_json(e);
        engine_free(e);
        sd_event_unref(c.event);
        return 0;
}

static void test_engine_without_dev_kvm(void)
{
        const char *vm_only = "[Profile]\nDuration=1min\n[Actor vms]\nAction=vm\nIterations=3\n";
        const char *with_module = "[Profile]\nDuration=2s\nDestructive=yes\n"
                                  "[Actor vms]\nAction=vm\nInterval=5ms\n"
                                  "[Actor cycle]\nAction=module\nModules=vendor kvm\nOptions=vendor:nested=0|1\n"
                                  "HoldTime=100ms\nInterval=1ms\n";
        pid_t pid;
        int status;

        if (geteuid() != 0) {
                printf("not root: the engine case (a mount namespace without /dev/kvm) is skipped\n");
                return;
        }
        reset("amd");
        ASSERT_TRUE(mkdtemp(state_dir));
        atexit(remove_state_dir); /* also when an assertion below ends the test */
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                _cleanup_free_ char *error = NULL;
                json_object *report = NULL, *actors;
                StepLines lines = {};
                unsigned bad = 0;

                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") < 0) {
                        printf("cannot hide /dev/kvm in a mount namespace (%m): the engine case is skipped\n");
                        _exit(0);
                }
                ASSERT_TRUE(access("/dev/kvm", F_OK) < 0);
                {
                        /* sd-event watches the workers through SIGCHLD, which must be blocked. */
                        sigset_t mask;
                        sigemptyset(&mask);
                        sigaddset(&mask, SIGCHLD);
                        sigprocmask(SIG_BLOCK, &mask, NULL);
                }

                /* Nobody loads kvm: the vm actor cannot run, and says why. */
                ASSERT_TRUE(run_without_dev_kvm(vm_only, &error, &report) < 0);
                ASSERT_CONTAINS(error, "[Actor vms] (Action=vm) cannot run on this host: /dev/kvm does not exist");

                /* A module actor loads kvm: the run starts, the vm steps meet kvm-gone (expected), and
                 * every module step is in the journal. */
                free(error);
                error = NULL;
                if (run_without_dev_kvm(with_module, &error, &report) < 0)
                        TEST_FAIL("the run did not start: %s", error);
                ASSERT_STREQ(json_get_str(report, "verdict", ""), "pass");
                json_object_object_get_ex(report, "actors", &actors);
                for (size_t i = 0; i < json_object_array_length(actors); i++) {
                        json_object *act = json_object_array_get_idx(actors, i), *out;
                        json_object_object_get_ex(act, "outcomes", &out);
                        if (streq(json_get_str(act, "name", ""), "vms")) {
                                ASSERT_TRUE(json_get_int(out, "kvm-gone", 0) > 0);
                                ASSERT_EQ(json_get_int(out, "failure", 0), 0);
                        } else {
                                _cleanup_(store_freep) Store *s = NULL;
                                _cleanup_close_ int fd = -1;
                                ASSERT_OK(store_open(state_dir, &s));
                                ASSERT_OK(store_open_run(s, json_get_str(report, "run_id", ""), &fd));
                                ASSERT_OK(journal_read(fd, "journal.jsonl", count_steps, &lines, &bad));
                                ASSERT_TRUE(json_get_int(out, "loaded", 0) > 0);
                                ASSERT_TRUE(json_get_int(out, "unloaded", 0) > 0);
                                ASSERT_EQ(lines.loaded, json_get_int(out, "loaded", -1));
                                ASSERT_EQ(lines.unloaded, json_get_int(out, "unloaded", -1));
                                ASSERT_EQ(lines.module, json_get_int(act, "steps", -1));
                                ASSERT_TRUE(lines.notes >= 1); /* what it found, and how it left it */
                                /* 100 ms held after every load (step records carry the worker's own end time). */
                                ASSERT_TRUE(lines.min_gap_after_load_us >= 90000);
                        }
                }
                json_object_put(report);
                _exit(0);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* The run left the modules as it found them: not loaded. */
        ASSERT_TRUE(!fake_loaded("kvm") && !fake_loaded("kvm_amd"));
}

int main(int argc, char **argv)
{
        fake_kmod_setup(argc, argv);
        reset("amd");
        test_profile();
        test_allowed();
        test_check_host();
        test_cycle();
        test_options_by_seed();
        test_load_errors();
        test_unload_modes();
        test_foreign_vms();
        test_restore();
        test_engine_without_dev_kvm();
        return 0;
}
