/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine end to end with the idle action (no kernel features needed):
 * counts add up, the journal and report are written, every stop path reaps
 * every worker and closes every fd, crashed workers are restarted, verdicts
 * follow outcomes and evidence.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "engine-internal.h"
#include "journal.h"
#include "report.h"
#include "store.h"
#include "test-util.h"

typedef struct Ctx {
        sd_event *event;
        Engine *engine;
        unsigned progress;
        bool finished;
        pid_t kill_one; /* a worker pid to SIGKILL at the first progress tick */
        bool add_evidence;
} Ctx;

static char state_dir[] = "/tmp/hvt-test-engine-XXXXXX";
/* Hermetic: the host's kmsg and pstore are not this test's business (the CLI suite reads kmsg for real). */
static const char *const no_pstore[] = { NULL };

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;
        struct dirent *de;

        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the DIR's own fd */
}

/* Our children, zombies included: none may be left after a run. */
static int count_children(void)
{
        char path[300], buf[512];
        int n = 0;
        DIR *d = opendir("/proc");
        struct dirent *de;

        while ((de = readdir(d))) {
                FILE *f;
                int ppid = 0;
                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(buf, sizeof buf, f)) {
                        char *p = strrchr(buf, ')');
                        if (p)
                                sscanf(p + 2, "%*c %d", &ppid);
                }
                fclose(f);
                if (ppid == getpid())
                        n++;
        }
        closedir(d);
        return n;
}

static void on_progress(Engine *e, void *userdata)
{
        Ctx *c = userdata;
        c->progress++;
        if (c->add_evidence && c->progress == 1) {
                json_object *item = json_object_new_object();
                json_object_object_add(item, "title", json_object_new_string("WARNING in test_function"));
                ASSERT_OK(engine_add_evidence(e, EVIDENCE_WARNING, item, true));
                ASSERT_OK(engine_add_evidence(e, EVIDENCE_WARNING, item, true));
                json_object_put(item);
        }
        if (c->kill_one == 0 && c->progress == 1) {
                json_object *fl = engine_actions_in_flight(e);
                ASSERT_TRUE(json_object_array_length(fl) > 0);
                c->kill_one = (pid_t)json_get_int(json_object_array_get_idx(fl, 0), "pid", 0);
                ASSERT_TRUE(c->kill_one > 0);
                json_object_put(fl);
        }
}

static void on_finished(Engine *e, void *userdata)
{
        Ctx *c = userdata;
        c->finished = true;
        sd_event_exit(c->event, 0);
}

static int on_kill_worker(sd_event_source *s, uint64_t usec, void *userdata)
{
        Ctx *c = userdata;
        if (c->kill_one > 0)
                ASSERT_OK(kill(c->kill_one, SIGKILL));
        return 0;
}

/* Runs profile text to completion; returns the report (caller owns). */
static json_object *run_profile(const char *text, uint64_t duration_ns, bool kill_a_worker, bool evidence,
                                Verdict *ret_verdict)
{
        ConfErrors errs = {};
        Profile *p = NULL;
        Ctx c = { .add_evidence = evidence, .kill_one = kill_a_worker ? 0 : -1 };
        EngineOptions opts = { .state_dir = state_dir, .duration_ns = duration_ns, .seed = 99, .seed_set = true,
                               .progress_interval_ns = 100 * NSEC_PER_MSEC, .kmsg_path = "", .pstore_dirs = no_pstore };
        EngineCallbacks cb = { .progress = on_progress, .finished = on_finished, .userdata = &c };
        json_object *report;

        if (profile_parse_text("test.ini", text, strlen(text), &p, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse");
        }
        ASSERT_OK(sd_event_new(&c.event));
        ASSERT_OK(engine_new(c.event, p, &opts, &cb, &c.engine));
        ASSERT_OK(engine_start(c.engine));
        ASSERT_EQ(engine_state(c.engine), RUN_RUNNING);
        if (kill_a_worker)
                ASSERT_OK(sd_event_add_time_relative(c.event, NULL, CLOCK_MONOTONIC, 300000, 0, on_kill_worker, &c));
        ASSERT_OK(sd_event_loop(c.event));
        ASSERT_TRUE(c.finished);
        ASSERT_EQ(engine_state(c.engine), RUN_FINISHED);
        report = engine_report_json(c.engine);
        *ret_verdict = engine_verdict(c.engine);
        engine_free(c.engine);
        sd_event_unref(c.event);
        return report;
}

static json_object *actor(json_object *report, const char *name)
{
        json_object *a;
        json_object_object_get_ex(report, "actors", &a);
        for (size_t i = 0; i < json_object_array_length(a); i++)
                if (streq(json_get_str(json_object_array_get_idx(a, i), "name", ""), name))
                        return json_object_array_get_idx(a, i);
        TEST_FAIL("no actor %s in report", name);
}

typedef struct JournalCounts {
        unsigned run_start, run_end, worker_start, worker_exit, progress, stop, evidence;
} JournalCounts;

static int count_record(json_object *rec, void *userdata)
{
        JournalCounts *c = userdata;
        const char *t = json_get_str(rec, "type", "");
        c->run_start += streq(t, "run-start");
        c->run_end += streq(t, "run-end");
        c->worker_start += streq(t, "worker-start");
        c->worker_exit += streq(t, "worker-exit");
        c->progress += streq(t, "progress");
        c->stop += streq(t, "stop");
        c->evidence += streq(t, "evidence");
        ASSERT_TRUE(json_get_int(rec, "ts", 0) > 0);
        return 0;
}

static void check_run_files(json_object *report, JournalCounts *jc)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        json_object *disk;
        unsigned bad = 99;

        ASSERT_OK(store_open(state_dir, &s));
        ASSERT_OK(store_open_run(s, json_get_str(report, "run_id", ""), &fd));
        ASSERT_OK(read_file_at(fd, "report.json", 0, &text, NULL));
        disk = json_tokener_parse(text);
        ASSERT_TRUE(disk);
        ASSERT_STREQ(json_get_str(disk, "verdict", ""), json_get_str(report, "verdict", "?"));
        ASSERT_EQ(json_get_int(disk, "steps", -1), json_get_int(report, "steps", -2));
        json_object_put(disk);
        free(text);
        text = NULL;
        ASSERT_OK(read_file_at(fd, "profile.ini", 0, &text, NULL));
        ASSERT_CONTAINS(text, "[Profile]");
        *jc = (JournalCounts){};
        ASSERT_OK(journal_read(fd, "journal.jsonl", count_record, jc, &bad));
        ASSERT_EQ(bad, 0);
        ASSERT_EQ(jc->run_start, 1);
        ASSERT_EQ(jc->run_end, 1);
        ASSERT_EQ(jc->stop, 1);
        ASSERT_EQ(jc->worker_start, jc->worker_exit);
}

static void test_counts_and_cleanup(void)
{
        static const char text[] = "[Profile]\nDuration=1s\n"
                                   "[Actor a]\nAction=idle\nInstances=3\nInterval=0..2ms\nOutcomes=ok:5 env-error:1\n"
                                   "[Actor b]\nAction=idle\nIterations=25\n";
        int fds = count_fds();
        JournalCounts jc;
        Verdict v;
        json_object *r = run_profile(text, 0, false, false, &v), *a, *oc;
        int64_t ok, env;

        ASSERT_EQ(v, VERDICT_PASS);
        a = actor(r, "a");
        json_object_object_get_ex(a, "outcomes", &oc);
        ok = json_get_int(oc, "ok", 0);
        env = json_get_int(oc, "env-error", 0);
        ASSERT_TRUE(ok > 100);
        ASSERT_TRUE(env > 0);
        ASSERT_EQ(ok + env, json_get_int(a, "steps", -1));
        ASSERT_EQ(json_get_int(actor(r, "b"), "steps", 0), 25);
        /* A worker that finished its iterations exited cleanly: not a crash, not restarted. */
        ASSERT_EQ(json_get_int(actor(r, "b"), "workers_crashed", -1), 0);
        ASSERT_EQ(json_get_int(actor(r, "b"), "workers_started", -1), 1);
        ASSERT_EQ(json_get_int(a, "workers_crashed", -1), 0);
        ASSERT_EQ(json_get_int(r, "steps", 0), json_get_int(a, "steps", 0) + 25);
        ASSERT_STREQ(json_get_str(r, "stop_reason", ""), "duration reached");
        check_run_files(r, &jc);
        ASSERT_EQ(jc.worker_start, 4);
        ASSERT_TRUE(jc.progress >= 5);
        /* Nothing left behind: no child, no fd. */
        ASSERT_EQ(count_children(), 0);
        ASSERT_EQ(count_fds(), fds);
        json_object_put(r);
}

static void test_iterations_stop(void)
{
        static const char text[] = "[Profile]\nIterations=200\n[Actor a]\nAction=idle\nInstances=2\n";
        Verdict v;
        json_object *r = run_profile(text, 0, false, false, &v);

        ASSERT_EQ(v, VERDICT_PASS);
        ASSERT_STREQ(json_get_str(r, "stop_reason", ""), "iterations reached");
        /* Workers run on until told to stop; they may overshoot a little, never fall short. */
        ASSERT_TRUE(json_get_int(r, "steps", 0) >= 200);
        ASSERT_EQ(count_children(), 0);
        json_object_put(r);
}

static void test_ends_run(void)
{
        /* b runs forever on its own; a's 30 steps end the run. */
        static const char text[] = "[Profile]\nDuration=1min\n[Actor a]\nAction=idle\nIterations=30\nEndsRun=yes\n"
                                   "Interval=1ms\n[Actor b]\nAction=idle\nInterval=1ms\n";
        Verdict v;
        json_object *r = run_profile(text, 0, false, false, &v);

        ASSERT_EQ(v, VERDICT_PASS);
        ASSERT_STREQ(json_get_str(r, "stop_reason", ""), "[Actor a] finished its iterations");
        ASSERT_EQ(json_get_int(actor(r, "a"), "steps", 0), 30);
        ASSERT_TRUE(json_get_double(r, "elapsed_s", 99) < 30);
        ASSERT_EQ(count_children(), 0);
        json_object_put(r);
}

static void test_worker_crash_restarted(void)
{
        static const char text[] = "[Profile]\nDuration=1s\n[Actor a]\nAction=idle\nInterval=1ms\n";
        JournalCounts jc;
        Verdict v;
        json_object *r = run_profile(text, 0, true, false, &v), *a = actor(r, "a");

        ASSERT_EQ(json_get_int(a, "workers_crashed", 0), 1);
        ASSERT_EQ(json_get_int(a, "workers_started", 0), 2);
        ASSERT_TRUE(json_get_int(a, "steps", 0) > 10);
        check_run_files(r, &jc);
        ASSERT_EQ(jc.worker_start, 2);
        ASSERT_EQ(count_children(), 0);
        json_object_put(r);
}

static void test_verdicts(void)
{
        Verdict v;
        json_object *r;

        /* A failure outcome counts against the run. */
        r = run_profile("[Profile]\nIterations=20\n[Actor a]\nAction=idle\nOutcomes=ok failure\n", 0, false, false, &v);
        ASSERT_EQ(v, VERDICT_EVIDENCE);
        json_object_put(r);
        /* An actor that only ever hit environment errors tested nothing. */
        r = run_profile("[Profile]\nIterations=20\n[Actor a]\nAction=idle\nOutcomes=env-error\n", 0, false, false, &v);
        ASSERT_EQ(v, VERDICT_INCOMPLETE);
        json_object_put(r);
}

static void test_evidence_collapses_and_stops(void)
{
        static const char text[] = "[Profile]\nDuration=30s\n[Actor a]\nAction=idle\nInterval=1ms\n"
                                   "[Evidence]\nStopOn=warning\n";
        JournalCounts jc;
        Verdict v;
        json_object *r = run_profile(text, 0, false, true, &v), *ev, *item;

        ASSERT_EQ(v, VERDICT_EVIDENCE);
        ASSERT_STREQ(json_get_str(r, "stop_reason", ""), "evidence: warning");
        ASSERT_TRUE(json_get_double(r, "elapsed_s", 99) < 5);
        json_object_object_get_ex(r, "evidence", &ev);
        ASSERT_EQ(json_object_array_length(ev), 1);
        item = json_object_array_get_idx(ev, 0);
        ASSERT_EQ(json_get_int(item, "count", 0), 2);
        ASSERT_STREQ(json_get_str(item, "kind", ""), "warning");
        ASSERT_TRUE(json_object_object_get(item, "in_flight"));
        ASSERT_TRUE(json_object_array_length(json_object_object_get(item, "in_flight")) == 1);
        check_run_files(r, &jc);
        ASSERT_EQ(jc.evidence, 2);
        json_object_put(r);
}

static void test_aligned_trigger(void)
{
        /* The trigger meets actor a each time a enters idle:busy, re-armed every 20ms. */
        static const char text[] = "[Profile]\nDuration=1s\n[Actor a]\nAction=idle\nInterval=1ms\nBusy=1ms\n"
                                   "[Trigger t]\nAction=idle\nAlignWith=a:idle:busy\nEvery=20ms\n";
        JournalCounts jc;
        Verdict v;
        json_object *r = run_profile(text, 0, false, false, &v), *t = actor(r, "t"), *sp;

        ASSERT_EQ(v, VERDICT_PASS);
        ASSERT_TRUE(json_get_int(t, "fired", 0) >= 5);
        ASSERT_TRUE(json_get_int(t, "steps", 0) >= 5);
        ASSERT_TRUE(json_object_object_get_ex(t, "race_spread_ns", &sp));
        /* Every trigger step was a race: each one measured its spread. */
        ASSERT_EQ(json_get_int(sp, "count", 0), json_get_int(t, "steps", -1));
        ASSERT_TRUE(json_get_int(sp, "p50", 0) > 0);
        printf("aligned spread: p50 %" PRId64 " ns, p99 %" PRId64 " ns over %" PRId64 " races\n",
               json_get_int(sp, "p50", 0), json_get_int(sp, "p99", 0), json_get_int(sp, "count", 0));
        check_run_files(r, &jc);
        ASSERT_EQ(count_children(), 0);
        json_object_put(r);
}

/* A crash record left in pstore before the run: collected into the run (copied, then removed), classified, listed. */
static void test_pstore_at_start(void)
{
        static const char text[] = "[Profile]\nIterations=5\n[Actor a]\nAction=idle\n";
        static const char record[] = "Panic#1 Part1\n"
                                     "<6>[   77.101010] sysrq: Trigger a crash\n"
                                     "<0>[   77.101050] Kernel panic - not syncing: sysrq triggered crash\n"
                                     "<4>[   77.101300] CPU: 1 PID: 411 Comm: sh Not tainted 6.1.0-56-amd64 #1\n"
                                     "<4>[   77.101400] Call Trace:\n"
                                     "<4>[   77.101410]  <TASK>\n"
                                     "<4>[   77.101420]  dump_stack_lvl+0x44/0x5c\n"
                                     "<4>[   77.101430]  panic+0x118/0x2f0\n"
                                     "<4>[   77.101440]  sysrq_handle_crash+0x16/0x20\n"
                                     "<4>[   77.101450]  __handle_sysrq.cold+0x43/0x11b\n"
                                     "<4>[   77.101460]  write_sysrq_trigger+0x24/0x40\n"
                                     "<4>[   77.101470]  </TASK>\n"
                                     "<0>[   77.101500] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n";
        char pdir[] = "/tmp/hvt-test-pstore-XXXXXX", path[300];
        const char *dirs[] = { pdir, NULL };
        ConfErrors errs = {};
        Profile *p = NULL;
        Ctx c = { .kill_one = -1 };
        EngineOptions opts = { .state_dir = state_dir, .kmsg_path = "", .pstore_dirs = dirs };
        EngineCallbacks cb = { .finished = on_finished, .userdata = &c };
        json_object *r, *ev, *item;
        FILE *f;
        bool found_panic = false;

        ASSERT_TRUE(mkdtemp(pdir));
        snprintf(path, sizeof path, "%s/dmesg-ramoops-0", pdir);
        f = fopen(path, "we");
        fputs(record, f);
        fclose(f);

        ASSERT_OK(profile_parse_text("t.ini", text, strlen(text), &p, &errs));
        ASSERT_OK(sd_event_new(&c.event));
        ASSERT_OK(engine_new(c.event, p, &opts, &cb, &c.engine));
        ASSERT_OK(engine_start(c.engine));
        ASSERT_OK(sd_event_loop(c.event));
        r = engine_report_json(c.engine);
        /* Older than the run: listed, not counted. */
        ASSERT_EQ(engine_verdict(c.engine), VERDICT_PASS);
        json_object_object_get_ex(r, "evidence", &ev);
        for (size_t i = 0; i < json_object_array_length(ev); i++) {
                item = json_object_array_get_idx(ev, i);
                ASSERT_TRUE(!json_object_get_boolean(json_object_object_get(item, "counted")));
                if (streq(json_get_str(item, "title", ""), "kernel panic: sysrq triggered crash"))
                        found_panic = true;
        }
        ASSERT_TRUE(found_panic);
        /* Copied into the run, then removed from the source. */
        snprintf(path, sizeof path, "%s/evidence/pstore-0/dmesg-ramoops-0", json_get_str(r, "run_dir", ""));
        ASSERT_EQ(access(path, F_OK), 0);
        snprintf(path, sizeof path, "%s/dmesg-ramoops-0", pdir);
        ASSERT_EQ(access(path, F_OK), -1);
        json_object_put(r);
        engine_free(c.engine);
        sd_event_unref(c.event);
        ASSERT_OK(rmdir(pdir));
}

static void test_engine_kill_mid_step(void)
{
        /* Steps that sleep long: stop has to wait, kill must not. */
        static const char text[] = "[Profile]\nDuration=1s\n[Actor a]\nAction=idle\nInstances=2\nBusy=30s\n";
        ConfErrors errs = {};
        Profile *p = NULL;
        Ctx c = { .kill_one = -1 };
        EngineOptions opts = { .state_dir = state_dir, .kmsg_path = "", .pstore_dirs = no_pstore };
        EngineCallbacks cb = { .finished = on_finished, .userdata = &c };
        uint64_t t0;

        ASSERT_OK(profile_parse_text("t.ini", text, strlen(text), &p, &errs));
        ASSERT_OK(sd_event_new(&c.event));
        ASSERT_OK(engine_new(c.event, p, &opts, &cb, &c.engine));
        ASSERT_OK(engine_start(c.engine));
        t0 = now_ns(CLOCK_MONOTONIC);
        ASSERT_OK(sd_event_loop(c.event));
        /* Duration 1s, then the grace period (3s), then SIGKILL: well before the 30s step ends. */
        ASSERT_TRUE(now_ns(CLOCK_MONOTONIC) - t0 < 10 * NSEC_PER_SEC);
        ASSERT_EQ(engine_verdict(c.engine), VERDICT_INCOMPLETE); /* no step completed */
        engine_free(c.engine);
        sd_event_unref(c.event);
        ASSERT_EQ(count_children(), 0);
}

static void test_boot_end(void)
{
        static const char a[] = "11111111-1111-1111-1111-111111111111", b[] = "22222222-2222-2222-2222-222222222222";

        /* Same boot id: the process died, the host did not reboot. */
        ASSERT_EQ(engine_classify_boot_end(a, NULL, a), BOOT_END_SAME);
        ASSERT_EQ(engine_classify_boot_end(a, a, a), BOOT_END_SAME);
        /* A new boot after the run said, in the old boot, that it was about to reboot: planned. */
        ASSERT_EQ(engine_classify_boot_end(a, a, b), BOOT_END_PLANNED);
        /* A new boot without that intent, or with an intent from an older boot: unplanned. */
        ASSERT_EQ(engine_classify_boot_end(a, NULL, b), BOOT_END_UNPLANNED);
        ASSERT_EQ(engine_classify_boot_end(a, b, b), BOOT_END_UNPLANNED);
}

int main(void)
{
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        ASSERT_TRUE(mkdtemp(state_dir));

        test_boot_end();
        test_counts_and_cleanup();
        test_iterations_stop();
        test_ends_run();
        test_worker_crash_restarted();
        test_verdicts();
        test_evidence_collapses_and_stops();
        test_aligned_trigger();
        test_pstore_at_start();
        test_engine_kill_mid_step();

        {
                char cmd[128];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
                ASSERT_EQ(system(cmd), 0);
        }
        return 0;
}
