/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The oom action on the real /dev/kvm and this host's memory cgroups (v1
 * here, v2 in the lab): N steps give N OOM kills of N different VMMs, each
 * step's group counting exactly one, and — read apart from the action —
 * the kernel's own log naming each of those VMMs as killed. Touching from
 * the guest and from the host both end that way, and no group of ours is
 * left afterwards. Plus what a profile may and may not say (a limit the VM
 * cannot exceed, Mode=global without the destructive confirmation).
 */
#include <dirent.h>
#include <fcntl.h>

#include "action-oom.h"
#include "kvm-test.h"
#include "memcg.h"
#include "profile.h"
#include "worker.h"

#define N_KILLS 5

static Profile *profile_of(const char *head, const char *keys, ConfErrors *errs)
{
        char text[1024];
        Profile *p = NULL;

        snprintf(text, sizeof text, "[Profile]\nDuration=1min\n%s\n[Actor oom]\nAction=oom\n%s\n", head, keys);
        if (profile_parse_text("test.ini", text, strlen(text), &p, errs) < 0)
                return NULL;
        return p;
}

static void test_profile_checks(void)
{
        ConfErrors errs = {};
        _cleanup_free_ char *msg = NULL;
        Profile *p;

        /* The VM must be able to exceed its limit, or the VMM never meets it. */
        ASSERT_TRUE(!profile_of("", "MemorySlots=2\nSlotSize=8M\nLimit=16M", &errs));
        ASSERT_EQ(errs.n, 1);
        msg = conf_error_format(&errs.items[0]);
        printf("%s\n", msg);
        ASSERT_CONTAINS(msg, "test.ini:");
        ASSERT_CONTAINS(msg, "Limit=16M");
        ASSERT_CONTAINS(msg, "must exceed");
        conf_errors_clear(&errs);

        /* Unconfined OOM presses on the whole host: the profile must say Destructive=yes. */
        ASSERT_TRUE(!profile_of("", "Mode=global", &errs));
        ASSERT_TRUE(errs.n >= 1);
        free(msg);
        msg = conf_error_format(&errs.items[0]);
        printf("%s\n", msg);
        ASSERT_CONTAINS(msg, "Destructive");
        conf_errors_clear(&errs);
        p = profile_of("Destructive=yes", "Mode=global", &errs);
        ASSERT_TRUE(p);
        ASSERT_TRUE(profile_is_destructive(p, NULL));
        profile_free(p);
        p = profile_of("", "Mode=cgroup", &errs);
        ASSERT_TRUE(p);
        ASSERT_TRUE(!profile_is_destructive(p, NULL));
        profile_free(p);

        ASSERT_TRUE(!profile_of("", "SlotSize=1025K", &errs));
        conf_errors_clear(&errs);
        ASSERT_TRUE(!profile_of("", "MemorySlots=200\nSlotSize=16M\nLimit=32M", &errs));
        conf_errors_clear(&errs);
}

/* /dev/kmsg from its end: the kernel's own account of the kills, apart from the action's. */
static int kmsg_open_at_end(void)
{
        int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
                (void)lseek(fd, 0, SEEK_END);
        return fd;
}

/* Counts "Killed process PID (hvt-oom-vmm)" for each pid since the fd's position. */
static void kmsg_count_kills(int fd, const pid_t *pids, unsigned *counts, unsigned n, unsigned *ret_other)
{
        char rec[8192];
        ssize_t k;

        *ret_other = 0;
        for (;;) {
                const char *p;
                int pid;

                k = read(fd, rec, sizeof rec - 1);
                if (k < 0 && errno == EPIPE)
                        continue; /* overrun: some records lost; count what is left */
                if (k <= 0)
                        break;
                rec[k] = '\0';
                p = strstr(rec, "Killed process ");
                if (!p || sscanf(p, "Killed process %d", &pid) != 1)
                        continue;
                if (!strstr(p, "(" ACTION_OOM_VICTIM_COMM ")")) {
                        (*ret_other)++;
                        continue;
                }
                for (unsigned i = 0; i < n; i++)
                        if (pids[i] == pid)
                                counts[i]++;
        }
}

/* Groups named for this process as owner (the local worker runs here). */
static unsigned our_groups(void)
{
        const char *root = memcg_detect(NULL) == MEMCG_V2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
        DIR *d = opendir(root);
        struct dirent *de;
        unsigned n = 0;

        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                MemcgOwner owner;
                if (memcg_name_owner(de->d_name, &owner) == 0 && owner.pid == getpid()) {
                        fprintf(stderr, "left behind: %s/%s\n", root, de->d_name);
                        n++;
                }
        }
        closedir(d);
        return n;
}

static void run_kills(const char *keys, const char *what)
{
        ConfErrors errs = {};
        Profile *p = profile_of("", keys, &errs);
        Worker *w = NULL;
        pid_t pids[N_KILLS];
        unsigned seen[N_KILLS] = {}, other = 0;
        uint64_t touched = 0, ms = 0;
        int kfd = kmsg_open_at_end();
        StepResult r;

        if (!p) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse: %s", keys);
        }
        ASSERT_OK(worker_new_local(&p->actors[0], 8, 0, &w));
        for (unsigned i = 0; i < N_KILLS; i++) {
                int pid = 0;

                ASSERT_OK(worker_local_step(w, &r));
                printf("%s %u: %s: %s\n", what, i, action_oom.outcomes[r.outcome].name, r.detail);
                if (r.outcome != OOM_OUT_KILLED)
                        TEST_FAIL("step %u: %s: %s", i, action_oom.outcomes[r.outcome].name, r.detail);
                /* Each kill matched by its own group's counter: exactly one, and the notification came. */
                ASSERT_EQ(r.metrics[OOM_M_KILLS], 1);
                ASSERT_TRUE(r.metrics[OOM_M_EVENTS] >= 1);
                /* The VM was live and had touched most of its limit (32M) when it died. */
                ASSERT_EQ(r.metrics[OOM_M_VCPUS], 2);
                ASSERT_EQ(r.metrics[OOM_M_MEMSLOTS], 4);
                ASSERT_TRUE(r.metrics[OOM_M_TOUCHED_MIB] >= 16 && r.metrics[OOM_M_TOUCHED_MIB] < 64);
                ASSERT_TRUE(r.metrics[OOM_M_PEAK_MIB] >= 31 && r.metrics[OOM_M_PEAK_MIB] <= 32);
                ASSERT_TRUE(sscanf(r.detail, "VMM %d OOM-killed", &pid) == 1 && pid > 0);
                pids[i] = pid;
                for (unsigned k = 0; k < i; k++)
                        ASSERT_TRUE(pids[k] != pid);
                touched += r.metrics[OOM_M_TOUCHED_MIB];
                ms += r.metrics[OOM_M_TIME_MS];
        }
        printf("%s: %d kills, mean %.1f MiB touched, mean %" PRIu64 " ms from first touch to death\n", what, N_KILLS,
               (double)touched / N_KILLS, ms / N_KILLS);

        /* The kernel's log says the same: each of those VMMs killed once, by pid. */
        if (kfd < 0)
                printf("/dev/kmsg not readable (%s): kernel log cross-check skipped\n", strerror(errno));
        else {
                /* printk may trail the wait status a little. */
                for (int tries = 0; tries < 50; tries++) {
                        unsigned all = 0, o = 0;
                        kmsg_count_kills(kfd, pids, seen, N_KILLS, &o);
                        other += o;
                        for (unsigned i = 0; i < N_KILLS; i++)
                                all += seen[i] > 0;
                        if (all == N_KILLS)
                                break;
                        usleep(20000);
                }
                for (unsigned i = 0; i < N_KILLS; i++)
                        if (seen[i] != 1)
                                TEST_FAIL("kmsg names VMM %d as killed %u times, not once", (int)pids[i], seen[i]);
                if (other)
                        printf("note: %u OOM kill(s) of other processes on this machine meanwhile\n", other);
                close(kfd);
        }

        worker_free_local(w);
        profile_free(p);
        ASSERT_EQ(our_groups(), 0);
}

int main(void)
{
        const char *why = NULL;

        test_profile_checks();
        kvm_test_require();
        if (geteuid() != 0)
                TEST_SKIP("needs root to make memory cgroups");
        if (memcg_detect(&why) < 0)
                TEST_SKIP("%s", why);

        run_kills("Touch=guest\nLimit=32M\nVCPUs=2\nMemorySlots=4\nSlotSize=16M", "guest touches");
        run_kills("Touch=host\nLimit=32M\nVCPUs=2\nMemorySlots=4\nSlotSize=16M", "host touches");
        kvm_test_assert_clean();
        return 0;
}
