/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reboot-class triggers on a kernel that does not go down: a RebootOps
 * table that records what it was asked and, at the moment of the reboot,
 * checks that the run's intent is already on disk. The real kernel's side
 * (a forced kexec mid-run, the resume in the next boot) is the lab's
 * soak-kexec and crash scenarios.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/reboot.h>
#include <stdarg.h>
#include <sys/reboot.h>
#include <sys/wait.h>

#include "action-reboot.h"
#include "engine-internal.h"
#include "journal.h"
#include "report.h"
#include "store.h"
#include "test-util.h"
#include "vmcore-synth.h"

static char state_dir[] = "/tmp/hvt-test-reboot-XXXXXX";
static char calls_path[PATH_MAX];
static char fake_root[128];
static const char *const no_pstore[] = { NULL };

/* ---- the fake kernel: every call is a line in calls_path (workers are other processes) ---- */

static void record(const char *fmt, ...)
{
        va_list ap;
        FILE *f = fopen(calls_path, "ae");
        if (!f)
                abort();
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fclose(f);
}

static int fake_kexec_file_load(int kernel_fd, int initrd_fd, const char *cmdline, unsigned long flags)
{
        record("kexec_file_load kernel=%s initrd=%s flags=%lu cmdline=%s", kernel_fd >= 0 ? "fd" : "none",
               initrd_fd >= 0 ? "fd" : "none", flags, cmdline ? cmdline : "");
        return 0;
}

/* What the next boot will look for must be on disk before the host goes down. */
static void check_intent_on_disk(const char *what)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        json_object *st, *p;

        if (store_open(state_dir, &s) < 0 || store_list_active(s, &ids) < 0 || !ids || !ids[0] ||
            store_open_run(s, ids[0], &fd) < 0 || read_file_at(fd, "state.json", 1 << 20, &text, NULL) < 0) {
                record("%s intent=missing", what);
                return;
        }
        st = json_tokener_parse(text);
        record("%s intent=%s", what,
               st && json_object_object_get_ex(st, "pending_reboot", &p) ? json_get_str(p, "trigger", "?") : "none");
        json_object_put(st);
}

static int fake_reboot(int cmd)
{
        check_intent_on_disk(cmd == (int)LINUX_REBOOT_CMD_KEXEC ? "reboot-kexec" : "reboot-autoboot");
        return 0; /* the host stays up: the step reports "fired" */
}

static int fake_sysrq(char c)
{
        check_intent_on_disk("sysrq");
        record("sysrq %c", c);
        return 0;
}

static int fake_start_unit(const char *target)
{
        record("start_unit %s", target);
        return 0;
}

static void fake_sync(void)
{
        record("sync");
}

static const RebootOps fake_ops = {
        .kexec_file_load = fake_kexec_file_load,
        .reboot = fake_reboot,
        .sysrq = fake_sysrq,
        .start_unit = fake_start_unit,
        .sync = fake_sync,
        .root = fake_root,
};

/* The files the host checks read, as a kexec-capable host with a crash reservation and pstore has them. */
static void make_fake_root(void)
{
        static const char *const files[][2] = {
                { "/sys/kernel/kexec_loaded", "0\n" },
                { "/sys/kernel/kexec_crash_loaded", "0\n" },
                { "/sys/kernel/kexec_crash_size", "268435456\n" },
                { "/proc/sys/kernel/kexec_load_disabled", "0\n" },
                { "/proc/sys/kernel/panic", "10\n" },
                { "/sys/module/pstore/parameters/backend", "ramoops\n" },
                { "/run/systemd/system/.keep", "" },
        };
        char cmd[1024];
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s%s')\" && printf '%s' >'%s%s'", fake_root,
                         files[i][0], files[i][1], fake_root, files[i][0]);
                ASSERT_EQ(system(cmd), 0);
        }
}

static char *calls(void)
{
        char *text = NULL;
        if (read_file_at(AT_FDCWD, calls_path, 1 << 20, &text, NULL) < 0)
                return strdup("");
        return text;
}

/* ---- runs ---- */

typedef struct Ctx {
        sd_event *event;
        bool finished;
} Ctx;

static void on_finished(Engine *e, void *userdata)
{
        Ctx *c = userdata;
        c->finished = true;
        sd_event_exit(c->event, 0);
}

static Engine *run(const char *text, bool allow, char **ret_error, Ctx *c)
{
        ConfErrors errs = {};
        Profile *p = NULL;
        EngineOptions opts = { .state_dir = state_dir, .duration_ns = 1500 * NSEC_PER_MSEC, .seed = 7, .seed_set = true,
                               .progress_interval_ns = 100 * NSEC_PER_MSEC, .kmsg_path = "", .pstore_dirs = no_pstore,
                               .allow_destructive = allow };
        EngineCallbacks cb = { .finished = on_finished, .userdata = c };
        Engine *e = NULL;

        if (profile_parse_text("reboot.ini", text, strlen(text), &p, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse");
        }
        ASSERT_OK(sd_event_new(&c->event));
        ASSERT_OK(engine_new(c->event, p, &opts, &cb, &e));
        if (engine_start(e) < 0) {
                *ret_error = strdup(engine_error(e) ? engine_error(e) : "?");
                engine_free(e);
                sd_event_unref(c->event);
                return NULL;
        }
        ASSERT_OK(sd_event_loop(c->event));
        ASSERT_TRUE(c->finished);
        return e;
}

static void test_cmdline(void)
{
        char *const marker[] = { (char *)"hvt.marker=1", NULL };
        _cleanup_free_ char *plain = reboot_build_cmdline("BOOT_IMAGE=/vmlinuz root=/dev/vda crashkernel=256M quiet",
                                                           marker, false);
        _cleanup_free_ char *crash = reboot_build_cmdline("root=/dev/vda crashkernel=256M  nr_cpus=4 quiet", marker,
                                                           true);
        _cleanup_free_ char *running = reboot_build_cmdline(NULL, NULL, false);

        ASSERT_STREQ(plain, "BOOT_IMAGE=/vmlinuz root=/dev/vda crashkernel=256M quiet hvt.marker=1");
        /* A crash kernel reserves nothing and boots on one CPU, as kdump's do. */
        ASSERT_STREQ(crash, "root=/dev/vda quiet irqpoll nr_cpus=1 reset_devices hvt.marker=1");
        ASSERT_TRUE(running != NULL); /* this kernel's own /proc/cmdline */
}

static void test_destructive_needs_opt_in(void)
{
        Ctx c = {};
        char *error = NULL;
        ASSERT_TRUE(run("[Profile]\nDuration=1500ms\nDestructive=yes\n[Actor a]\nAction=idle\nInterval=1ms\n[Trigger boom]\nAction=reboot\nAt=100ms\n", false,
                        &error, &c) == NULL);
        ASSERT_CONTAINS(error, "destructive");
        free(error);
        /* Refused before anything ran: the kernel was asked nothing. */
        _cleanup_free_ char *cl = calls();
        ASSERT_STREQ(cl, "");
}

static json_object *read_state(Engine *e)
{
        _cleanup_free_ char *text = NULL;
        ASSERT_OK(read_file_at(e->run_fd, "state.json", 1 << 20, &text, NULL));
        return json_tokener_parse(text);
}

typedef struct Seen {
        unsigned trigger, suspend, stop, steps_fired;
        int64_t trigger_line, first_fire_line, line;
} Seen;

static int seen_record(json_object *rec, void *userdata)
{
        Seen *s = userdata;
        const char *type = json_get_str(rec, "type", "");
        s->line++;
        if (streq(type, "trigger") && !s->trigger++)
                s->trigger_line = s->line;
        s->suspend += streq(type, "suspend");
        s->stop += streq(type, "stop");
        if (streq(type, "step") && streq(json_get_str(rec, "outcome", ""), "fired") && !s->steps_fired++)
                s->first_fire_line = s->line;
        return 0;
}

static void test_kexec_fires_after_its_intent(void)
{
        char kernel[] = "/tmp/hvt-test-vmlinuz-XXXXXX", text[1024], boot[37];
        _cleanup_close_ int kfd = mkstemp(kernel);
        _cleanup_free_ char *cl = NULL;
        json_object *st, *p;
        Seen seen = {};
        Ctx c = {};
        char *error = NULL;
        Engine *e;

        ASSERT_TRUE(kfd >= 0);
        snprintf(text, sizeof text,
                 "[Profile]\nDuration=1500ms\nDestructive=yes\n"
                 "[Actor a]\nAction=idle\nInterval=1ms\n"
                 "[Trigger kx]\nAction=kexec\nKernel=%s\nInitrd=none\nCommandLine=root=/dev/vda\nAppend=hvt.mark=1\n"
                 "AfterIterations=20\n",
                 kernel);
        e = run(text, true, &error, &c);
        if (!e)
                TEST_FAIL("run refused: %s", error);

        cl = calls();
        /* Loaded before the step, with our command line and no initramfs; synced; then the kexec, whose intent
         * was already in state.json. */
        ASSERT_CONTAINS(cl, "kexec_file_load kernel=fd initrd=none flags=4 cmdline=root=/dev/vda hvt.mark=1\nsync\n"
                            "reboot-kexec intent=kx\n");
        /* The host "stayed up" only in this test: the run suspended for the next boot instead of ending. */
        ASSERT_EQ(engine_state(e), RUN_FINISHED);
        ASSERT_EQ(engine_verdict(e), VERDICT_INCOMPLETE);
        st = read_state(e);
        ASSERT_TRUE(st && json_object_object_get_ex(st, "pending_reboot", &p));
        ASSERT_STREQ(json_get_str(p, "trigger", ""), "kx");
        ASSERT_STREQ(json_get_str(p, "action", ""), "kexec");
        ASSERT_TRUE(!json_object_get_boolean(json_object_object_get(st, "finished")));
        ASSERT_OK(read_boot_id(boot));
        ASSERT_STREQ(json_get_str(p, "boot_id", ""), boot);
        /* The next boot sees a reboot the run planned. */
        ASSERT_EQ(engine_classify_boot_end(boot, json_get_str(p, "boot_id", ""), "00000000-0000-0000-0000-000000000000"),
                  BOOT_END_PLANNED);
        json_object_put(st);
        {
                _cleanup_(store_freep) Store *s = NULL;
                _cleanup_strv_free_ char **ids = NULL;
                ASSERT_OK(store_open(state_dir, &s));
                ASSERT_OK(store_list_active(s, &ids));
                ASSERT_TRUE(ids && ids[0] && streq(ids[0], engine_run_id(e)) && !ids[1]);
                ASSERT_OK(store_clear_active(s, ids[0]));
        }
        ASSERT_OK(journal_read(e->run_fd, "journal.jsonl", seen_record, &seen, NULL));
        ASSERT_EQ(seen.trigger, 1);
        ASSERT_EQ(seen.stop, 1);
        ASSERT_EQ(seen.suspend, 1);
        ASSERT_TRUE(seen.trigger_line < seen.first_fire_line);
        engine_free(e);
        sd_event_unref(c.event);
        unlink(kernel);
        unlink(calls_path);
}

static void test_kexec_without_kernel_is_env_error(void)
{
        Ctx c = {};
        char *error = NULL;
        json_object *st, *report, *a, *oc;
        Engine *e = run("[Profile]\nDuration=1500ms\nDestructive=yes\n[Actor a]\nAction=idle\nInterval=1ms\n"
                        "[Trigger kx]\nAction=kexec\nKernel=/nonexistent/vmlinuz\nAt=200ms\n",
                        true, &error, &c);
        if (!e)
                TEST_FAIL("run refused: %s", error);
        _cleanup_free_ char *cl = calls();
        ASSERT_TRUE(!strstr(cl, "reboot-kexec")); /* nothing to kexec into: never asked */
        ASSERT_EQ(engine_verdict(e), VERDICT_PASS);  /* the host's limit, not a kernel bug */
        report = engine_report_json(e);
        json_object_object_get_ex(report, "actors", &a);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *act = json_object_array_get_idx(a, i);
                if (!streq(json_get_str(act, "name", ""), "kx"))
                        continue;
                json_object_object_get_ex(act, "outcomes", &oc);
                ASSERT_EQ(json_get_int(oc, "env-error", 0), 1);
                ASSERT_EQ(json_get_int(oc, "fired", 0), 0);
        }
        json_object_put(report);
        /* It came back: no reboot is pending, and the run ended as usual. */
        st = read_state(e);
        ASSERT_TRUE(!json_object_object_get_ex(st, "pending_reboot", NULL));
        ASSERT_TRUE(json_object_get_boolean(json_object_object_get(st, "finished")));
        json_object_put(st);
        engine_free(e);
        sd_event_unref(c.event);
        unlink(calls_path);
}

static void test_crash_and_panic(void)
{
        char kernel[] = "/tmp/hvt-test-vmlinuz-XXXXXX", text[1024];
        _cleanup_close_ int kfd = mkstemp(kernel);
        _cleanup_free_ char *cl = NULL;
        char *error = NULL;
        Ctx c = {};
        Engine *e;

        ASSERT_TRUE(kfd >= 0);
        /* The crash kernel is loaded on-crash (flag 2) with kdump's words; then sysrq c. */
        snprintf(text, sizeof text,
                 "[Profile]\nDuration=1500ms\nDestructive=yes\n[Actor a]\nAction=idle\nInterval=1ms\n"
                 "[Trigger cr]\nAction=crash\nKernel=%s\nInitrd=%s\nCommandLine=root=/dev/vda crashkernel=256M\n"
                 "AfterIterations=5\n",
                 kernel, kernel);
        e = run(text, true, &error, &c);
        if (!e)
                TEST_FAIL("run refused: %s", error);
        cl = calls();
        ASSERT_CONTAINS(cl, "kexec_file_load kernel=fd initrd=fd flags=2 cmdline=root=/dev/vda irqpoll nr_cpus=1 "
                            "reset_devices\nsync\nsysrq intent=cr\nsysrq c\n");
        engine_free(e);
        sd_event_unref(c.event);
        unlink(kernel);
        unlink(calls_path);
}

static void test_graceful_asks_systemd(void)
{
        Ctx c = {};
        char *error = NULL;
        Engine *e = run("[Profile]\nDuration=1500ms\nDestructive=yes\n[Actor a]\nAction=idle\nInterval=1ms\n"
                        "[Trigger g]\nAction=graceful\nMode=reboot\nAt=100ms\n",
                        true, &error, &c);
        if (!e)
                TEST_FAIL("run refused: %s", error);
        _cleanup_free_ char *cl = calls();
        ASSERT_CONTAINS(cl, "start_unit reboot.target\n");
        ASSERT_EQ(engine_verdict(e), VERDICT_INCOMPLETE); /* suspended: systemd will stop us on the way down */
        engine_free(e);
        sd_event_unref(c.event);
        unlink(calls_path);
}


typedef struct EvSeen {
        bool panic, dump;
        int64_t panic_counted;
} EvSeen;

static void look_at_evidence(json_object *st, EvSeen *ev)
{
        json_object *arr;
        ASSERT_TRUE(json_object_object_get_ex(st, "evidence", &arr));
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                json_object *it = json_object_array_get_idx(arr, i);
                if (!streq(json_get_str(it, "source", ""), "vmcore"))
                        continue;
                if (streq(json_get_str(it, "title", ""), "kernel panic: sysrq triggered crash")) {
                        ev->panic = true;
                        ev->panic_counted = json_object_get_boolean(json_object_object_get(it, "counted"));
                }
                if (streq(json_get_str(it, "title", ""), "vmcore: crash dump log"))
                        ev->dump = true;
        }
}

/*
 * The crash trigger's whole round trip on a fake kernel: the run crashes
 * (the worker's sysrq c), a "crash kernel" boot finds a vmcore and saves
 * its log as evidence, then reboots back, and the normal boot after it
 * resumes the run to its end. Boot ids and the vmcore are the test's.
 */
static void test_crash_kernel_round_trip(void)
{
        char kernel[] = "/tmp/hvt-test-vmlinuz-XXXXXX", core[] = "/tmp/hvt-test-vmcore-XXXXXX", text[1024];
        _cleanup_close_ int kfd = mkstemp(kernel), cfd = mkstemp(core);
        _cleanup_free_ char *run_id = NULL, *cl = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        json_object *st, *boots;
        SynthCore sc;
        size_t size;
        EvSeen ev = {};
        Seen seen = {};
        int status;
        pid_t pid;

        ASSERT_TRUE(kfd >= 0 && cfd >= 0);
        {
                /* Earlier tests' suspended runs are not this one. */
                _cleanup_(store_freep) Store *s = NULL;
                _cleanup_strv_free_ char **ids = NULL;
                ASSERT_OK(store_open(state_dir, &s));
                ASSERT_OK(store_list_active(s, &ids));
                for (char **id = ids; id && *id; id++)
                        ASSERT_OK(store_clear_active(s, *id));
        }
        synth_prb_standard(&sc); /* its log ends in "Kernel panic - not syncing: sysrq triggered crash" */
        buf = synth_core_build(&sc, &size);
        ASSERT_EQ(write(cfd, buf, size), (ssize_t)size);
        snprintf(text, sizeof text,
                 "[Profile]\nDuration=1500ms\nDestructive=yes\n[Actor a]\nAction=idle\nInterval=1ms\n"
                 "[Trigger cr]\nAction=crash\nKernel=%s\nInitrd=none\nAfterIterations=5\n",
                 kernel);

        /* Boot 0, in a child: the run that owns it is gone afterwards, as after a real crash. */
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                Ctx c = {};
                char *error = NULL;
                Engine *e = run(text, true, &error, &c);
                if (!e)
                        TEST_FAIL("run refused: %s", error);
                ASSERT_EQ(engine_verdict(e), VERDICT_INCOMPLETE); /* suspended: the crash is pending */
                printf("%s\n", engine_run_id(e));
                fflush(stdout);
                _exit(0);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        {
                _cleanup_(store_freep) Store *s = NULL;
                _cleanup_strv_free_ char **ids = NULL;
                ASSERT_OK(store_open(state_dir, &s));
                ASSERT_OK(store_list_active(s, &ids));
                ASSERT_TRUE(ids && ids[0] && !ids[1]);
                run_id = strdup(ids[0]);
        }

        /* Boot 1: the crash kernel. It saves the log, and goes back at once; nothing runs here. */
        {
                sd_event *event = NULL;
                Engine *e = NULL;
                EngineOptions o = { .state_dir = state_dir, .kmsg_path = "", .pstore_dirs = no_pstore,
                                    .boot_id = "11111111-1111-1111-1111-111111111111", .vmcore_path = core };
                ASSERT_OK(sd_event_new(&event));
                ASSERT_EQ(engine_resume(event, run_id, &o, &(EngineCallbacks){}, &e), -ESTALE);
                sd_event_unref(event);
        }
        cl = calls();
        ASSERT_CONTAINS(cl, "sysrq intent=cr\nsysrq c\n");
        /* The way back is recorded before the reboot that takes it. */
        ASSERT_CONTAINS(cl, "sysrq c\nsync\nreboot-autoboot intent=cr\n");

        /* Boot 2: the normal kernel again; the run resumes and ends. */
        {
                Ctx c = {};
                Engine *e = NULL;
                EngineCallbacks cb = { .finished = on_finished, .userdata = &c };
                EngineOptions o = { .state_dir = state_dir, .kmsg_path = "", .pstore_dirs = no_pstore,
                                    .boot_id = "22222222-2222-2222-2222-222222222222", .vmcore_path = "",
                                    .allow_destructive = true };
                ASSERT_OK(sd_event_new(&c.event));
                ASSERT_OK(engine_resume(c.event, run_id, &o, &cb, &e));
                ASSERT_OK(sd_event_loop(c.event));
                ASSERT_TRUE(c.finished);
                ASSERT_EQ(engine_verdict(e), VERDICT_PASS); /* the planned crash is not a finding */
                st = read_state(e);
                ASSERT_TRUE(json_object_get_boolean(json_object_object_get(st, "finished")));
                ASSERT_EQ(json_get_int(st, "planned_reboots", -1), 1); /* one crash, not two reboots */
                ASSERT_TRUE(json_object_object_get_ex(st, "boots", &boots));
                ASSERT_EQ(json_object_array_length(boots), 3);
                ASSERT_STREQ(json_get_str(json_object_array_get_idx(boots, 1), "how", ""), "crash-kernel");
                ASSERT_STREQ(json_get_str(json_object_array_get_idx(boots, 1), "trigger", ""), "cr");
                ASSERT_STREQ(json_get_str(json_object_array_get_idx(boots, 2), "how", ""), "crash-return");
                look_at_evidence(st, &ev);
                ASSERT_TRUE(ev.dump);
                ASSERT_TRUE(ev.panic);
                ASSERT_EQ(ev.panic_counted, 0);
                json_object_put(st);
                ASSERT_OK(journal_read(e->run_fd, "journal.jsonl", seen_record, &seen, NULL));
                ASSERT_EQ(seen.trigger, 1); /* AfterIterations= fired once per run, not once per boot */
                ASSERT_OK(faccessat(e->run_fd, "evidence/vmcore-dmesg-boot-1.txt", R_OK, 0));
                engine_free(e);
                sd_event_unref(c.event);
        }
        unlink(kernel);
        unlink(core);
        unlink(calls_path);
}

/* A run that ends while its kexec trigger still waits to align: an ordinary end, and the kernel it loaded is
 * unloaded again (the tool leaves nothing of its own behind). */
static void test_stop_before_fire_ends_run(void)
{
        char kernel[] = "/tmp/hvt-test-vmlinuz-XXXXXX", text[1024];
        _cleanup_close_ int kfd = mkstemp(kernel);
        _cleanup_free_ char *cl = NULL;
        json_object *st;
        char *error = NULL;
        Ctx c = {};
        Engine *e;

        ASSERT_TRUE(kfd >= 0);
        snprintf(text, sizeof text,
                 "[Profile]\nDuration=1500ms\nDestructive=yes\n[Actor a]\nAction=idle\nIterations=1\nInterval=5s\n"
                 "[Trigger kx]\nAction=kexec\nKernel=%s\nInitrd=none\nAt=300ms\nAlignWith=a:idle:busy\n",
                 kernel);
        e = run(text, true, &error, &c);
        if (!e)
                TEST_FAIL("run refused: %s", error);
        cl = calls();
        ASSERT_CONTAINS(cl, "kexec_file_load kernel=fd initrd=none flags=4 ");
        ASSERT_CONTAINS(cl, "kexec_file_load kernel=none initrd=none flags=1 cmdline=\n");
        ASSERT_TRUE(!strstr(cl, "reboot-kexec"));
        {
                Seen seen = {};
                ASSERT_OK(journal_read(e->run_fd, "journal.jsonl", seen_record, &seen, NULL));
                ASSERT_EQ(seen.stop, 1);
                ASSERT_EQ(seen.suspend, 0);
        }
        st = read_state(e);
        ASSERT_TRUE(json_object_get_boolean(json_object_object_get(st, "finished")));
        ASSERT_TRUE(!json_object_object_get_ex(st, "pending_reboot", NULL));
        json_object_put(st);
        engine_free(e);
        sd_event_unref(c.event);
        unlink(kernel);
        unlink(calls_path);
}

int main(void)
{
        ASSERT_TRUE(mkdtemp(state_dir) != NULL);
        snprintf(calls_path, sizeof calls_path, "%s/calls", state_dir);
        snprintf(fake_root, sizeof fake_root, "%s/root", state_dir);
        make_fake_root();
        reboot_ops = &fake_ops;
        {
                sigset_t mask; /* sd-event watches the workers: SIGCHLD must be blocked */
                sigemptyset(&mask);
                sigaddset(&mask, SIGCHLD);
                sigprocmask(SIG_BLOCK, &mask, NULL);
        }

        test_cmdline();
        test_destructive_needs_opt_in();
        test_kexec_fires_after_its_intent();
        test_kexec_without_kernel_is_env_error();
        test_crash_and_panic();
        test_stop_before_fire_ends_run();
        test_graceful_asks_systemd();
        test_crash_kernel_round_trip();

        {
                char cmd[PATH_MAX + 16];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
                ASSERT_EQ(system(cmd), 0);
        }
        return 0;
}
