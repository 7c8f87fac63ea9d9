/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The net action on the real kernel, in network namespaces of its own:
 * VMMs with live VMs and taps on a bridge (and veths into the VMMs' own
 * namespaces) are SIGKILLed, closed, or lose their bridge first, and
 * every link the action created must be gone afterwards.
 *
 * What the action claims is checked from outside it: at the moment before
 * the end (the observer) iproute2 lists every tap and veth as a port of
 * the bridge, /proc shows each VMM holding /dev/net/tun with a vCPU in
 * KVM_RUN and living in its own namespace with the veth's peer; after
 * each step `ip -o link` in the action's namespace lists nothing but lo,
 * and the ifindexes seen live are gone. The namespace the test started in
 * (standing in for the host) must be untouched. netem and vhost-net are
 * run where the kernel has them and otherwise reported skipped with the
 * kernel's reason (on the lab guest they run: tests/lab). The sweep of a
 * dead run's links is tested with links that look like ours but are not.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "action-net.h"
#include "kvm-proc.h"
#include "kvm-test.h"
#include "profile.h"
#include "vnet.h"
#include "worker.h"

#define RUN(fn)                                                                                                   \
        do {                                                                                                      \
                uint64_t _t = now_ns(CLOCK_MONOTONIC);                                                            \
                fn();                                                                                             \
                printf("%-28s %6" PRIu64 " ms\n", #fn, (uint64_t)((now_ns(CLOCK_MONOTONIC) - _t) / NSEC_PER_MSEC)); \
                fflush(stdout);                                                                                   \
        } while (0)

/* The namespace the test started in: the stand-in for the host's. */
static int host_ns = -1;
static uint64_t host_ns_inode;

/* Runs a shell command; returns its output (static buffer). */
_printf_(1, 2) static const char *sh(const char *format, ...)
{
        static char out[16384];
        char cmd[512];
        va_list ap;
        FILE *p;
        size_t n;

        va_start(ap, format);
        vsnprintf(cmd, sizeof cmd, format, ap);
        va_end(ap);
        p = popen(cmd, "re");
        ASSERT_TRUE(p);
        n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        pclose(p);
        return out;
}

static unsigned count_lines(const char *s)
{
        unsigned n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static uint64_t ns_inode(const char *path)
{
        struct stat st;
        ASSERT_TRUE(stat(path, &st) == 0);
        return (uint64_t)st.st_ino;
}

typedef struct Actor {
        Profile *profile;
        Worker *worker;
        uint64_t counts[_NET_OUT_MAX];
        uint64_t metrics[_NET_M_MAX];
        StepResult last;
} Actor;

static int actor_try(Actor *a, const char *keys, ConfErrors *errs)
{
        char text[1024];

        memset(a, 0, sizeof *a);
        snprintf(text, sizeof text, "[Profile]\nDuration=1min\n[Actor net]\nAction=net\n%s\n", keys);
        return profile_parse_text("test.ini", text, strlen(text), &a->profile, errs);
}

static void actor_new(Actor *a, const char *keys)
{
        ConfErrors errs = {};

        if (actor_try(a, keys, &errs) < 0) {
                conf_errors_print(&errs, stderr);
                TEST_FAIL("profile did not parse: %s", keys);
        }
        ASSERT_OK(worker_new_local(&a->profile->actors[0], 1, 0, &a->worker));
}

static void actor_free(Actor *a)
{
        worker_free_local(a->worker);
        profile_free(a->profile);
}

/* Only lo is left in the namespace we are in (the action's). */
static void expect_only_lo(const char *when)
{
        const char *l = sh("ip -o link show");
        if (count_lines(l) != 1 || !strstr(l, ": lo:"))
                TEST_FAIL("%s: links left behind:\n%s", when, l);
}

/* One step; it leaves no child, and every link it made is gone (the action's count and iproute2 agree). */
static const StepResult *actor_step(Actor *a)
{
        StepResult *r = &a->last;
        int status;

        ASSERT_OK(worker_local_step(a->worker, r));
        ASSERT_TRUE(r->outcome < _NET_OUT_MAX);
        ASSERT_TRUE(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
        a->counts[r->outcome]++;
        for (unsigned i = 0; i < _NET_M_MAX; i++)
                a->metrics[i] += r->metrics[i];
        if (r->metrics[NET_M_LINKS_CREATED] != r->metrics[NET_M_LINKS_DESTROYED])
                TEST_FAIL("step (%s: %s) created %" PRIu64 " links and saw %" PRIu64 " go",
                          action_net.outcomes[r->outcome].name, r->detail, r->metrics[NET_M_LINKS_CREATED],
                          r->metrics[NET_M_LINKS_DESTROYED]);
        expect_only_lo("after a step");
        return r;
}

static void expect_only(const Actor *a, NetOutcome o, uint64_t n)
{
        uint64_t total = 0;

        for (unsigned i = 0; i < _NET_OUT_MAX; i++)
                total += a->counts[i];
        if (a->counts[o] != n || total != n)
                TEST_FAIL("expected %" PRIu64 " × %s, got %" PRIu64 " of %" PRIu64 " (last: %s: %s)", n,
                          action_net.outcomes[o].name, a->counts[o], total, action_net.outcomes[a->last.outcome].name,
                          a->last.detail);
}

/* ---- what the observer sees, from outside the action ---- */

typedef struct Seen {
        unsigned calls;
        unsigned vms;
        bool veth, netem, vhost;
        int ifindex[2 * NET_VMS_MAX + 1]; /* every link seen live, to check they are gone */
        unsigned n_ifindex;
} Seen;

static bool fd_points_to(pid_t pid, const char *target)
{
        char path[300], link[256];
        struct dirent *de;
        bool found = false;
        DIR *d;

        snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
        d = opendir(path);
        ASSERT_TRUE(d);
        while (!found && (de = readdir(d))) {
                ssize_t k;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pid, de->d_name);
                k = readlink(path, link, sizeof link - 1);
                if (k > 0) {
                        link[k] = '\0';
                        found = streq(link, target);
                }
        }
        closedir(d);
        return found;
}

/* Threads of pid in ioctl(KVM_RUN) or on a CPU (the guest spins inside KVM_RUN). */
static unsigned threads_in_kvm_run(pid_t pid)
{
        char path[64];
        struct dirent *de;
        unsigned n = 0;
        DIR *d;

        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        d = opendir(path);
        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                char p[300], line[256];
                unsigned long nr, fd, req;
                FILE *f;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "/proc/%d/task/%s/syscall", (int)pid, de->d_name);
                f = fopen(p, "re");
                if (!f)
                        continue;
                if (fgets(line, sizeof line, f) &&
                    (strncmp(line, "running", 7) == 0 ||
                     (sscanf(line, "%lu 0x%lx 0x%lx", &nr, &fd, &req) == 3 && nr == 16 && req == KVM_RUN)))
                        n++;
                fclose(f);
        }
        closedir(d);
        return n;
}

static void on_live(const NetLive *l, void *userdata)
{
        Seen *s = userdata;
        _cleanup_free_ char *ports = strdup(sh("ip -o link show master %s", l->bridge));
        char ns[64];

        ASSERT_TRUE(ports);
        /* The plumbing lives in a namespace the worker made, never in the one we started in. */
        ASSERT_TRUE(ns_inode("/proc/self/ns/net") != host_ns_inode);
        s->calls++;
        s->vms = l->n_vms;
        s->netem = l->netem;
        s->vhost = l->vhost;
        s->n_ifindex = 0;
        s->ifindex[s->n_ifindex++] = l->bridge_ifindex;
        ASSERT_EQ(count_lines(ports), l->n_vms * (l->veth_ifindex[0] > 0 ? 2 : 1));
        for (unsigned i = 0; i < l->n_vms; i++) {
                pid_t pid = l->vmm[i];

                /* The tap is a port of the bridge, up, and the VMM holds /dev/net/tun with its guest in KVM_RUN. */
                ASSERT_CONTAINS(ports, l->tap[i]);
                ASSERT_CONTAINS(sh("ip -o link show %s", l->tap[i]), "UP");
                s->ifindex[s->n_ifindex++] = l->tap_ifindex[i];
                ASSERT_TRUE(pid > 0 && pid != getpid());
                ASSERT_TRUE(fd_points_to(pid, TUN_DEVICE_PATH));
                ASSERT_TRUE(threads_in_kvm_run(pid) >= 1);
                if (l->veth_ifindex[i] > 0) {
                        /* The veth's peer lives in the VMM's own namespace, not ours. */
                        s->veth = true;
                        ASSERT_CONTAINS(ports, l->veth[i]);
                        s->ifindex[s->n_ifindex++] = l->veth_ifindex[i];
                        snprintf(ns, sizeof ns, "/proc/%d/ns/net", (int)pid);
                        ASSERT_TRUE(ns_inode(ns) != ns_inode("/proc/self/ns/net"));
                        ASSERT_CONTAINS(sh("nsenter -t %d -n ip -o link show " "eth0", (int)pid), "state UP");
                }
                if (l->netem)
                        ASSERT_CONTAINS(sh("tc qdisc show dev %s", l->tap[i]), "netem");
                if (l->vhost)
                        ASSERT_TRUE(fd_points_to(pid, VHOST_NET_DEVICE_PATH));
        }
}

/* After a step: every link seen live is gone, by ifindex (iproute2, not the action). */
static void expect_seen_gone(const Seen *s)
{
        for (unsigned i = 0; i < s->n_ifindex; i++)
                if (sh("ip -o link show | grep '^%d:'", s->ifindex[i])[0])
                        TEST_FAIL("ifindex %d is still there", s->ifindex[i]);
}

/* ---- the ends ---- */

static void test_sigkill(void)
{
        Actor a;
        Seen seen = {};
        NetObserver o = { .live = on_live, .userdata = &seen };

        actor_new(&a, "VMs=3\nVCPUs=2\nVeth=yes\nRun=1ms..5ms\nEnd=sigkill");
        action_net_set_observer(&o);
        for (int i = 0; i < 4; i++) {
                actor_step(&a);
                ASSERT_EQ(seen.calls, (unsigned)i + 1);
                expect_seen_gone(&seen);
        }
        action_net_set_observer(NULL);
        expect_only(&a, NET_OUT_SIGKILL, 4);
        ASSERT_TRUE(seen.veth);
        /* Per step: a bridge, three taps and three veths made and gone. */
        ASSERT_EQ(a.metrics[NET_M_LINKS_CREATED], 4 * 7);
        ASSERT_EQ(a.metrics[NET_M_LINKS_DESTROYED], 4 * 7);
        ASSERT_EQ(a.metrics[NET_M_VMS], 4 * 3);
        ASSERT_TRUE(a.metrics[NET_M_FRAMES_TX] > 0);
        ASSERT_TRUE(a.metrics[NET_M_FRAMES_RX] > 0);
        printf("sigkill: %s\n", a.last.detail);
        actor_free(&a);
        expect_only_lo("after the worker");
}

static void test_close(void)
{
        Actor a;
        Seen seen = {};
        NetObserver o = { .live = on_live, .userdata = &seen };

        actor_new(&a, "VMs=2\nRun=1ms\nEnd=close");
        action_net_set_observer(&o);
        for (int i = 0; i < 4; i++) {
                actor_step(&a);
                expect_seen_gone(&seen);
        }
        action_net_set_observer(NULL);
        expect_only(&a, NET_OUT_CLOSE, 4);
        ASSERT_EQ(a.metrics[NET_M_LINKS_CREATED], 4 * 3);
        printf("close: %s\n", a.last.detail);
        actor_free(&a);
}

static void test_bridge_first(void)
{
        Actor a;
        Seen seen = {};
        NetObserver o = { .live = on_live, .userdata = &seen };

        actor_new(&a, "VMs=2\nVeth=yes\nRun=1ms\nEnd=bridge-first");
        action_net_set_observer(&o);
        for (int i = 0; i < 3; i++) {
                actor_step(&a);
                expect_seen_gone(&seen);
        }
        action_net_set_observer(NULL);
        expect_only(&a, NET_OUT_BRIDGE_FIRST, 3);
        ASSERT_EQ(a.metrics[NET_M_LINKS_DESTROYED], 3 * 5);
        printf("bridge-first: %s\n", a.last.detail);
        actor_free(&a);
}

/* A single VMM: nothing to receive from, but its frames still have to leave through the tap. */
static void test_one_vm_mixed(void)
{
        Actor a;

        actor_new(&a, "VMs=1\nRun=0\nEnd=sigkill close bridge-first");
        for (int i = 0; i < 12; i++)
                actor_step(&a);
        ASSERT_EQ(a.counts[NET_OUT_SIGKILL] + a.counts[NET_OUT_CLOSE] + a.counts[NET_OUT_BRIDGE_FIRST], 12);
        ASSERT_TRUE(a.counts[NET_OUT_SIGKILL] > 0 && a.counts[NET_OUT_CLOSE] > 0 && a.counts[NET_OUT_BRIDGE_FIRST] > 0);
        ASSERT_EQ(a.metrics[NET_M_FRAMES_RX], 0);
        actor_free(&a);
}

/* The host refuses a resource: the VMMs cannot open /dev/net/tun (no fd left). An env-error, named, links balanced. */
static void test_env_error(void)
{
        struct rlimit old, low;
        Actor a;
        int fd;

        actor_new(&a, "VMs=2\nEnd=sigkill");
        actor_step(&a); /* the worker's own fds (its netlink socket) are open from here on */
        ASSERT_TRUE(getrlimit(RLIMIT_NOFILE, &old) == 0);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        low = (struct rlimit){ .rlim_cur = (rlim_t)fd, .rlim_max = old.rlim_max };
        ASSERT_TRUE(setrlimit(RLIMIT_NOFILE, &low) == 0);
        ASSERT_OK(worker_local_step(a.worker, &a.last));
        ASSERT_TRUE(setrlimit(RLIMIT_NOFILE, &old) == 0);
        printf("env-error: %s\n", a.last.detail);
        ASSERT_EQ(a.last.outcome, NET_OUT_ENV_ERROR);
        ASSERT_EQ(a.last.error, -EMFILE);
        ASSERT_CONTAINS(a.last.detail, "open " TUN_DEVICE_PATH ": Too many open files");
        ASSERT_EQ(a.last.metrics[NET_M_LINKS_CREATED], a.last.metrics[NET_M_LINKS_DESTROYED]);
        ASSERT_TRUE(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
        expect_only_lo("after a VMM could not open its tap");
        /* And the next step works again. */
        actor_step(&a);
        ASSERT_EQ(a.last.outcome, NET_OUT_SIGKILL);
        actor_free(&a);
}

/* ---- netem and vhost-net: run where the kernel has them, else say why not ---- */

static void test_netem(void)
{
        Actor a;
        Seen seen = {};
        NetObserver o = { .live = on_live, .userdata = &seen };
        _cleanup_free_ char *reason = NULL;
        int r;

        actor_new(&a, "VMs=2\nVeth=yes\nNetem=yes\nNetemDelay=2ms\nNetemJitter=1ms\nNetemLoss=5\nEnd=sigkill");
        r = action_net.check_host(a.profile->actors[0].params, &reason);
        if (r < 0) {
                /* The refusal must say what is missing, in the kernel's words. */
                ASSERT_CONTAINS(reason, "netem");
                ASSERT_CONTAINS(reason, "Specified qdisc kind is unknown");
                printf("netem: SKIPPED here (tested in the lab): %s\n", reason);
                actor_free(&a);

                /* if-available runs without it. */
                actor_new(&a, "VMs=2\nNetem=if-available\nEnd=sigkill");
                actor_step(&a);
                expect_only(&a, NET_OUT_SIGKILL, 1);
                ASSERT_EQ(a.metrics[NET_M_NETEM], 0);
                actor_free(&a);
                return;
        }
        action_net_set_observer(&o);
        for (int i = 0; i < 3; i++)
                actor_step(&a);
        action_net_set_observer(NULL);
        expect_only(&a, NET_OUT_SIGKILL, 3);
        ASSERT_TRUE(seen.netem);
        ASSERT_EQ(a.metrics[NET_M_NETEM], 3 * 4);
        printf("netem: %s\n", a.last.detail);
        actor_free(&a);
}

static void test_vhost_net(void)
{
        Actor a;
        Seen seen = {};
        NetObserver o = { .live = on_live, .userdata = &seen };
        _cleanup_free_ char *reason = NULL;
        int r;

        actor_new(&a, "VMs=2\nVhostNet=yes\nEnd=sigkill:2 close bridge-first");
        r = action_net.check_host(a.profile->actors[0].params, &reason);
        if (r < 0) {
                ASSERT_CONTAINS(reason, VHOST_NET_DEVICE_PATH);
                printf("vhost-net: SKIPPED here (tested in the lab): %s\n", reason);
                actor_free(&a);
                return;
        }
        action_net_set_observer(&o);
        for (int i = 0; i < 6; i++)
                actor_step(&a);
        action_net_set_observer(NULL);
        ASSERT_TRUE(seen.vhost);
        ASSERT_EQ(a.metrics[NET_M_VHOST], 6 * 2);
        ASSERT_TRUE(a.metrics[NET_M_FRAMES_RX] > 0);
        printf("vhost-net: %s\n", a.last.detail);
        actor_free(&a);
}

/* ---- the profile side: validation, plan, destructiveness ---- */

static void test_profile(void)
{
        ConfErrors errs = {};
        Actor a;
        char *msg, *plan = NULL;
        size_t len = 0;
        FILE *f;

        ASSERT_TRUE(actor_try(&a, "NetemDelay=1ms\nNetemJitter=2ms", &errs) < 0);
        msg = conf_error_format(&errs.items[0]);
        ASSERT_CONTAINS(msg, "NetemJitter=2ms");
        ASSERT_CONTAINS(msg, "NetemDelay");
        free(msg);
        conf_errors_clear(&errs);
        ASSERT_TRUE(actor_try(&a, "VMs=65", &errs) < 0);
        conf_errors_clear(&errs);
        ASSERT_TRUE(actor_try(&a, "Netem=maybe", &errs) < 0);
        msg = conf_error_format(&errs.items[0]);
        ASSERT_CONTAINS(msg, "if-available");
        free(msg);
        conf_errors_clear(&errs);

        actor_new(&a, "VMs=3\nVeth=yes\nNetem=if-available\nEnd=sigkill:2 close");
        ASSERT_TRUE(!profile_is_destructive(a.profile, NULL));
        f = open_memstream(&plan, &len);
        action_net.describe(a.profile->actors[0].params, f);
        fclose(f);
        ASSERT_CONTAINS(plan, "3 VMMs");
        ASSERT_CONTAINS(plan, "a private network namespace");
        ASSERT_CONTAINS(plan, "sigkill:2 close:1");
        free(plan);
        actor_free(&a);
}

/* ---- ownership: the sweep and the host namespace ---- */

/* A tag whose owner is dead: a child's, taken while it lived. */
static void dead_tag(char *buf, size_t len)
{
        pid_t pid = proc_fork_child();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                pause();
                proc_exit(0);
        }
        ASSERT_OK(net_owner_tag(buf, len, pid, "20261122-000000-dead", "crashed", 0));
        proc_kill_reap(pid);
}

static void test_owner_tags(void)
{
        char tag[160];
        pid_t pid;
        uint64_t start;

        ASSERT_OK(net_owner_tag(tag, sizeof tag, getpid(), NULL, "net", 3));
        ASSERT_OK(net_owner_parse(tag, &pid, &start));
        ASSERT_EQ(pid, getpid());
        ASSERT_TRUE(net_owner_alive(pid, start));
        ASSERT_TRUE(!net_owner_alive(pid, start + 1)); /* a reused pid is not the owner */
        ASSERT_CONTAINS(tag, " run=- actor=net/3");
        ASSERT_EQ(net_owner_parse("hvtorture owner=12", &pid, &start), -EINVAL);
        ASSERT_EQ(net_owner_parse("hvtorture owner=12:34x", &pid, &start), -EINVAL);
        ASSERT_EQ(net_owner_parse("somebody else's bridge", &pid, &start), -EINVAL);
        ASSERT_EQ(net_owner_parse("", &pid, &start), -EINVAL);
        dead_tag(tag, sizeof tag);
        ASSERT_OK(net_owner_parse(tag, &pid, &start));
        ASSERT_TRUE(!net_owner_alive(pid, start));
}

/* A namespace with a crashed run's bridge, a live owner's, an untagged hvt-* one and somebody else's. */
static void leave_links(Netlink *nl)
{
        char dead[160], live[160];
        int i;

        dead_tag(dead, sizeof dead);
        ASSERT_OK(net_owner_tag(live, sizeof live, getpid(), NULL, "live", 0));
        ASSERT_OK(netlink_bridge_add(nl, "hvt-dead-br", dead, &i));
        ASSERT_OK(netlink_veth_add(nl, "hvt-dead-v0", dead, "dead-v0-peer", 0, &i));
        ASSERT_OK(netlink_bridge_add(nl, "hvt-live-br", live, &i));
        ASSERT_OK(netlink_bridge_add(nl, "hvt-foreign", "not ours", &i));
        ASSERT_OK(netlink_bridge_add(nl, "other-br", dead, &i));
}

static void expect_survivors(void)
{
        const char *l = sh("ip -o link show");

        if (strstr(l, "hvt-dead") || strstr(l, "dead-v0-peer"))
                TEST_FAIL("a dead run's links were not swept:\n%s", l);
        ASSERT_CONTAINS(l, "hvt-live-br");
        ASSERT_CONTAINS(l, "hvt-foreign");
        ASSERT_CONTAINS(l, "other-br");
}

static void test_sweep(void)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        NetSweep sw;

        ASSERT_TRUE(unshare(CLONE_NEWNET) == 0);
        ASSERT_OK(netlink_new(&nl, NULL));
        leave_links(nl);
        ASSERT_OK(net_sweep(nl, &sw));
        /* The dead bridge and the veth pair (one tagged end here, deleting it takes its peer along). */
        ASSERT_TRUE(sw.swept >= 2);
        ASSERT_EQ(sw.live, 1);
        ASSERT_EQ(sw.foreign, 1);
        ASSERT_STREQ(sw.first_foreign, "hvt-foreign");
        expect_survivors();
}

/* Namespace=host: the worker's own namespace (here a stand-in), swept at start, and it is destructive. */
static void test_host_namespace(void)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        ConfErrors errs = {};
        Actor a;
        char *msg;

        /* Without Destructive=yes the profile is refused, naming the section. */
        ASSERT_TRUE(actor_try(&a, "Namespace=host", &errs) < 0);
        msg = conf_error_format(&errs.items[0]);
        printf("host namespace without the opt-in: %s\n", msg);
        ASSERT_CONTAINS(msg, "Destructive");
        free(msg);
        conf_errors_clear(&errs);

        ASSERT_TRUE(unshare(CLONE_NEWNET) == 0);
        ASSERT_OK(netlink_new(&nl, NULL));
        leave_links(nl);
        {
                char text[256];
                Profile *p = NULL;
                snprintf(text, sizeof text,
                         "[Profile]\nDuration=1min\nDestructive=yes\n[Actor net]\nAction=net\nNamespace=host\nVMs=2\n");
                ASSERT_OK(profile_parse_text("test.ini", text, strlen(text), &p, &errs));
                ASSERT_TRUE(profile_is_destructive(p, NULL));
                memset(&a, 0, sizeof a);
                a.profile = p;
                ASSERT_OK(worker_new_local(&p->actors[0], 1, 0, &a.worker));
        }
        ASSERT_OK(worker_local_step(a.worker, &a.last));
        ASSERT_EQ(a.last.outcome, NET_OUT_SIGKILL);
        ASSERT_EQ(a.last.metrics[NET_M_LINKS_CREATED], a.last.metrics[NET_M_LINKS_DESTROYED]);
        /* The same namespace as ours: the worker did not make one. */
        expect_survivors();
        ASSERT_EQ(count_lines(sh("ip -o link show")), 4); /* lo + the three that are not a dead run's */
        actor_free(&a);
}

/* The observer of a worker about to crash: it dies with its plumbing live. */
static void on_live_crash(const NetLive *l, void *userdata)
{
        kill(getpid(), SIGKILL);
}

/*
 * A real crash in the host namespace: a worker SIGKILLed with its bridge,
 * taps and veths live. Its VMMs die with it (PDEATHSIG) and take their
 * taps and namespaces along; its bridge stays, tagged with a dead owner,
 * until the next worker in that namespace sweeps it.
 */
static void test_crash_sweep(void)
{
        NetObserver o = { .live = on_live_crash };
        const char *text = "[Profile]\nDuration=1min\nDestructive=yes\n[Actor net]\nAction=net\nNamespace=host\n"
                           "VMs=2\nVeth=yes\n";
        ConfErrors errs = {};
        Profile *p = NULL;
        Worker *w = NULL;
        StepResult r;
        int status;
        pid_t pid;

        ASSERT_TRUE(unshare(CLONE_NEWNET) == 0);
        ASSERT_OK(profile_parse_text("test.ini", text, strlen(text), &p, &errs));
        fflush(stdout);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                action_net_set_observer(&o);
                if (worker_new_local(&p->actors[0], 1, 0, &w) < 0 || worker_local_step(w, &r) < 0)
                        _exit(3);
                _exit(4); /* the observer did not fire */
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* Its VMMs were orphaned to us (the subreaper) and die of PDEATHSIG: reap them. */
        for (uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 30 * NSEC_PER_SEC;;) {
                pid_t k = waitpid(-1, &status, WNOHANG);
                if (k < 0 && errno == ECHILD)
                        break;
                ASSERT_TRUE(now_ns(CLOCK_MONOTONIC) < deadline);
                if (k == 0)
                        sleep_ns(NSEC_PER_MSEC);
        }
        /* The dead worker's bridge is left; its taps and veths went with the VMMs (bounded wait). */
        for (unsigned i = 0; i < 3000 && count_lines(sh("ip -o link show")) != 2; i++)
                sleep_ns(10 * NSEC_PER_MSEC);
        if (count_lines(sh("ip -o link show")) != 2 || !strstr(sh("ip -o link show"), "-br:"))
                TEST_FAIL("after the crash, expected lo and the dead worker's bridge:\n%s", sh("ip -o link show"));
        printf("crash left: %s", strstr(sh("ip -o link show"), "2: "));

        /* The next worker here sweeps it, then runs normally. */
        {
                Actor a = { .profile = p };
                ASSERT_OK(worker_new_local(&p->actors[0], 1, 0, &a.worker));
                ASSERT_OK(worker_local_step(a.worker, &a.last));
                ASSERT_EQ(a.last.outcome, NET_OUT_SIGKILL);
                expect_only_lo("after the sweep and a step");
                actor_free(&a);
        }
}

int main(void)
{
        if (geteuid() != 0)
                TEST_SKIP("needs root: network namespaces and taps");
        if (access(TUN_DEVICE_PATH, R_OK | W_OK) < 0)
                TEST_SKIP("no usable %s", TUN_DEVICE_PATH);
        kvm_test_require();
        /* A namespace of our own stands in for the host's; the action must never touch it. */
        if (unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("unshare(CLONE_NEWNET): %s", strerror(errno));
        host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(host_ns >= 0);
        host_ns_inode = ns_inode("/proc/self/ns/net");

        RUN(test_profile);
        RUN(test_owner_tags);
        RUN(test_sigkill);
        RUN(test_close);
        RUN(test_bridge_first);
        RUN(test_one_vm_mixed);
        RUN(test_env_error);
        RUN(test_netem);
        RUN(test_vhost_net);

        /* Every worker above made its own namespace: the one we started in saw nothing. */
        ASSERT_TRUE(setns(host_ns, CLONE_NEWNET) == 0);
        if (count_lines(sh("ip -o link show")) != 1)
                TEST_FAIL("the stand-in host namespace was touched:\n%s", sh("ip -o link show"));

        RUN(test_sweep);
        RUN(test_host_namespace);
        RUN(test_crash_sweep);
        close(host_ns);
        kvm_test_assert_clean();
        printf("ok\n");
        return 0;
}
