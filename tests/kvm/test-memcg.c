/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory cgroups of our own on this host's real hierarchy (v1 here, v2 in
 * the lab): owner-stamped names, a hog OOM-killed at the limit and seen
 * three ways (the OOM notification fd, the group's counter, SIGKILL), the
 * sweep that removes only groups of owners that are gone (and only kills
 * leftover processes of ours), and oom_score_adj for the engine and its
 * workers. Needs root and a memory controller (exit 77 otherwise).
 */
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "memcg.h"
#include "self-protect.h"
#include "test-util.h"

static const char *root_dir(void)
{
        return memcg_detect(NULL) == MEMCG_V2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
}

/* Groups this test made, removed at exit even when a check failed halfway (the sweep cannot know
 * "hvtorture-test-other-…" is ours: that is the point of it). */
static char made[10][MEMCG_NAME_MAX];

static void remember(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(made); i++)
                if (!made[i][0]) {
                        snprintf(made[i], sizeof made[i], "%s", name);
                        return;
                }
}

static void remove_made(void)
{
        for (size_t i = 0; i < ELEMENTSOF(made); i++)
                if (made[i][0]) {
                        char path[PATH_MAX];
                        Memcg m = { .path = path, .version = (MemcgVersion)memcg_detect(NULL) };
                        snprintf(path, sizeof path, "%s/%s", root_dir(), made[i]);
                        /* Only this test's children can be in them. */
                        (void)memcg_kill_all(&m, SIGKILL);
                        (void)memcg_remove(&m);
                }
}

static bool group_exists(const char *name)
{
        char path[512];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", root_dir(), name);
        return stat(path, &st) == 0;
}

static void test_names(void)
{
        char name[MEMCG_NAME_MAX];
        MemcgOwner o;
        uint64_t mine, ns;

        ASSERT_OK(memcg_name(name, sizeof name, "test-1"));
        ASSERT_OK(proc_starttime(getpid(), &mine));
        ASSERT_OK(pidns_self(&ns));
        ASSERT_OK(memcg_name_owner(name, &o));
        ASSERT_EQ(o.pid, getpid());
        ASSERT_EQ(o.starttime, mine);
        ASSERT_EQ(o.pidns, ns);
        ASSERT_CONTAINS(name, "-test-1");

        /* Anything not of that form is not ours to sweep. */
        ASSERT_EQ(memcg_name_owner("hvtorture-vm-12-0-3", &o), -EINVAL);
        ASSERT_EQ(memcg_name_owner("hvtorture-12-34-56-", &o), -EINVAL);
        ASSERT_EQ(memcg_name_owner("hvtorture-12-34-56", &o), -EINVAL);
        ASSERT_EQ(memcg_name_owner("hvtorture-12-34-x", &o), -EINVAL); /* the old form, without the namespace */
        ASSERT_EQ(memcg_name_owner("hvtorture-0-34-56-x", &o), -EINVAL);
        ASSERT_EQ(memcg_name_owner("hvtorture--34-56-x", &o), -EINVAL);
        ASSERT_EQ(memcg_name_owner("process_api", &o), -EINVAL);
        ASSERT_EQ(memcg_name_owner("hvtorture-99999999999999999999999-1-2-x", &o), -EINVAL);
        ASSERT_EQ(memcg_name(name, sizeof name, "a/b"), -EINVAL);
        ASSERT_EQ(memcg_name(name, 16, "long-enough-to-overflow"), -ENAMETOOLONG);
}

/* A child that joins m once told, then allocates until something stops it. */
static pid_t fork_hog(_Atomic uint32_t *go)
{
        pid_t pid = fork();

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                while (!*go)
                        usleep(1000);
                for (;;) {
                        uint8_t *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED)
                                _exit(3);
                        for (size_t i = 0; i < (1 << 20); i += 4096)
                                p[i] = 1;
                }
        }
        return pid;
}

static void test_oom_kill_observed(void)
{
        _Atomic uint32_t *go = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        char name[MEMCG_NAME_MAX];
        Memcg *m = NULL;
        uint64_t kills = 1, peak = 0;
        unsigned events;
        int fd = -1, status = 0, r;
        pid_t pid;

        ASSERT_TRUE(go != MAP_FAILED);
        ASSERT_OK(memcg_name(name, sizeof name, "test-hog"));
        ASSERT_OK(memcg_create(name, &m));
        remember(name);
        ASSERT_EQ(memcg_create(name, &(Memcg *){ NULL }), -EEXIST);
        ASSERT_OK(memcg_set_limit(m, 16 << 20));
        r = memcg_disable_swap(m);
        ASSERT_TRUE(r == 0 || r == -ENOENT);
        ASSERT_OK(memcg_oom_kills(m, &kills));
        ASSERT_EQ(kills, 0);
        ASSERT_OK(memcg_oom_watch(m, &fd));
        ASSERT_EQ(memcg_watch_drain(fd), 0);

        pid = fork_hog(go);
        ASSERT_OK(memcg_attach(m, pid));
        *go = 1;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        events = memcg_watch_drain(fd);
        ASSERT_OK(memcg_oom_kills(m, &kills));
        ASSERT_OK(memcg_peak(m, &peak));
        printf("hog in %s: SIGKILL, oom_kill %" PRIu64 ", %u OOM notification(s), peak %" PRIu64 " KiB\n", m->path,
               kills, events, peak >> 10);
        ASSERT_EQ(kills, 1);
        ASSERT_TRUE(events >= 1);
        ASSERT_TRUE(peak > (15 << 20) && peak <= (16 << 20));
        close(fd);

        ASSERT_OK(memcg_remove(m));
        ASSERT_TRUE(!group_exists(name));
        memcg_free(m);
        munmap((void *)go, 4096);
}

/* A name owned by a process that is gone: a child names it and exits. */
static void dead_owner_name(char *name, size_t len, const char *tag)
{
        char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        pid_t pid;

        ASSERT_TRUE(shared != MAP_FAILED);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0)
                _exit(memcg_name(shared, 4096, tag) < 0);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
        ASSERT_TRUE(shared[0]);
        snprintf(name, len, "%s", shared);
        munmap(shared, 4096);
}

/* A child with that comm, sleeping in m until killed. */
static pid_t fork_sleeper(Memcg *m, const char *comm)
{
        pid_t pid = fork();

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void)prctl(PR_SET_NAME, comm);
                for (;;)
                        pause();
        }
        ASSERT_OK(memcg_attach(m, pid));
        /* The name is set by the child: wait until /proc shows it, or the sweep might see the old one. */
        for (int i = 0; i < 1000; i++) {
                char path[64], buf[32] = "";
                FILE *f;
                snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
                f = fopen(path, "re");
                if (f && fgets(buf, sizeof buf, f) && strncmp(buf, comm, strlen(comm)) == 0) {
                        fclose(f);
                        return pid;
                }
                if (f)
                        fclose(f);
                usleep(1000);
        }
        TEST_FAIL("child never took the name %s", comm);
}

static void test_sweep(void)
{
        char empty[MEMCG_NAME_MAX], leftover[MEMCG_NAME_MAX], foreign_proc[MEMCG_NAME_MAX], live[MEMCG_NAME_MAX];
        char other[64], other_ns[MEMCG_NAME_MAX];
        Memcg *m_empty = NULL, *m_left = NULL, *m_foreign = NULL, *m_live = NULL, *m_other = NULL, *m_ns = NULL;
        MemcgSweep s = {};
        pid_t ours, theirs;
        int status = 0;

        dead_owner_name(empty, sizeof empty, "test-sweep-empty");
        dead_owner_name(leftover, sizeof leftover, "test-sweep-leftover");
        dead_owner_name(foreign_proc, sizeof foreign_proc, "test-sweep-foreign");
        ASSERT_OK(memcg_name(live, sizeof live, "test-sweep-live"));
        /* Our prefix, not our form: somebody else's, never touched. */
        snprintf(other, sizeof other, "hvtorture-test-other-%d", (int)getpid());
        /* Our form, a dead owner, but another pid namespace (a container): its PID means nothing here. */
        {
                MemcgOwner o;
                ASSERT_OK(memcg_name_owner(empty, &o));
                snprintf(other_ns, sizeof other_ns, "hvtorture-%d-%" PRIu64 "-%" PRIu64 "-test-sweep-other-ns",
                         (int)o.pid, o.starttime, o.pidns + 1);
        }

        ASSERT_OK(memcg_create(empty, &m_empty));
        ASSERT_OK(memcg_create(leftover, &m_left));
        ASSERT_OK(memcg_create(foreign_proc, &m_foreign));
        ASSERT_OK(memcg_create(live, &m_live));
        ASSERT_OK(memcg_create(other, &m_other));
        ASSERT_OK(memcg_create(other_ns, &m_ns));
        remember(other_ns);
        remember(empty);
        remember(leftover);
        remember(foreign_proc);
        remember(live);
        remember(other);
        ours = fork_sleeper(m_left, "hvt-oom-vmm");
        theirs = fork_sleeper(m_foreign, "not-hvtorture");

        ASSERT_OK(memcg_sweep(&s));
        printf("sweep: removed %u, busy %u (first %s), live %u, elsewhere %u, killed %u\n", s.removed, s.busy,
               s.first_busy, s.live, s.elsewhere, s.killed);
        /* Other runs on this machine may have groups of their own: count only what this test made. */
        ASSERT_TRUE(!group_exists(empty));
        ASSERT_TRUE(!group_exists(leftover));
        ASSERT_EQ(waitpid(ours, &status, 0), ours);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ASSERT_TRUE(group_exists(foreign_proc));
        ASSERT_EQ(kill(theirs, 0), 0);
        ASSERT_TRUE(group_exists(live));
        ASSERT_TRUE(group_exists(other));
        ASSERT_TRUE(group_exists(other_ns));
        ASSERT_TRUE(s.removed >= 2 && s.busy >= 1 && s.live >= 1 && s.elsewhere >= 1 && s.killed >= 1);

        /* Clean up by hand what the sweep rightly left. */
        kill(theirs, SIGKILL);
        ASSERT_EQ(waitpid(theirs, NULL, 0), theirs);
        m_empty->removed = m_left->removed = true;
        ASSERT_OK(memcg_remove(m_foreign));
        ASSERT_OK(memcg_remove(m_live));
        ASSERT_OK(memcg_remove(m_other));
        ASSERT_OK(memcg_remove(m_ns));
        memcg_free(m_ns);
        memcg_free(m_empty);
        memcg_free(m_left);
        memcg_free(m_foreign);
        memcg_free(m_live);
        memcg_free(m_other);
}

static void test_oom_score_adj(void)
{
        pid_t pid = fork();
        int status = 0;

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int v = 0, r;

                /* Raising needs no privilege; a positive value someone chose is kept. */
                ASSERT_OK(oom_score_adj_set(0, 500));
                ASSERT_OK(oom_score_adj_unprotect());
                ASSERT_OK(oom_score_adj_get(0, &v));
                ASSERT_EQ(v, 500);
                ASSERT_EQ(oom_score_adj_set(0, -1001), -ERANGE);

                /* Lowering needs CAP_SYS_RESOURCE, which some containers withhold even from root. */
                r = oom_score_adj_set(0, OOM_SCORE_ADJ_MIN);
                if (r == -EACCES || r == -EPERM) {
                        printf("oom_score_adj: no CAP_SYS_RESOURCE here, -1000 → 0 not tested\n");
                        _exit(0);
                }
                ASSERT_OK(r);
                ASSERT_OK(oom_score_adj_get(0, &v));
                ASSERT_EQ(v, OOM_SCORE_ADJ_MIN);
                ASSERT_OK(oom_score_adj_unprotect());
                ASSERT_OK(oom_score_adj_get(0, &v));
                ASSERT_EQ(v, 0);
                _exit(0);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
        const char *why = NULL;

        test_names();
        if (geteuid() != 0)
                TEST_SKIP("needs root to make memory cgroups");
        if (memcg_detect(&why) < 0)
                TEST_SKIP("%s", why);
        atexit(remove_made);
        test_oom_kill_observed();
        test_sweep();
        test_oom_score_adj();
        return 0;
}
