/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netlink-util against the real kernel, in a network namespace of the
 * test's own (root only; skipped elsewhere): bridges, veth pairs with the
 * peer in another process's namespace, enslaving, aliases, deletion, and
 * how failures read — the kernel's errno, libnl's code and message, the
 * extended ack — checked on failures the kernel really produces. Links
 * are looked at with iproute2 as well, not only through the module under
 * test. netem is tried and either checked or reported absent, with the
 * kernel's reason.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/wait.h>

#include <netlink/errno.h>

#include "kvm-proc.h"
#include "netlink-util.h"
#include "test-util.h"

/* Runs a shell command, returns its first output line (static buffer) or "". */
static const char *sh(const char *format, ...)
{
        static char out[4096];
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

static void test_errors_offline(void)
{
        NetlinkFail f = {
                .op = NETLINK_OP_NEWQDISC,
                .error = -ENOENT,
                .nle = NLE_OBJ_NOTFOUND,
                .kernel_error = -ENOENT,
                .object = "netem on ifindex 7",
                .ext_ack = "Specified qdisc kind is unknown",
        };
        char buf[256];

        ASSERT_EQ(netlink_errno_from_nle(-NLE_EXIST), -EEXIST);
        ASSERT_EQ(netlink_errno_from_nle(NLE_EXIST), -EEXIST);
        ASSERT_EQ(netlink_errno_from_nle(-NLE_OBJ_NOTFOUND), -ENOENT);
        ASSERT_EQ(netlink_errno_from_nle(-NLE_NODEV), -ENODEV);
        ASSERT_EQ(netlink_errno_from_nle(-NLE_PERM), -EPERM);
        ASSERT_EQ(netlink_errno_from_nle(-NLE_FAILURE), -EIO);
        ASSERT_EQ(netlink_errno_from_nle(-1000), -EIO);
        ASSERT_EQ(netlink_errno_from_nle(0), 0);
        ASSERT_STREQ(netlink_nle_name(-NLE_NOMEM), "NLE_NOMEM");
        ASSERT_TRUE(netlink_nle_name(1000) == NULL);
        /* Every errno libnl turns into an NLE code comes back as itself (where the code is not shared). */
        static const int roundtrip[] = { EEXIST, ENOENT, EINTR, EAGAIN, EACCES, EINVAL, ENOMEM, EOPNOTSUPP,
                                         EPERM, EBUSY, ERANGE, ENODEV, EAFNOSUPPORT, EADDRNOTAVAIL };
        for (size_t i = 0; i < ELEMENTSOF(roundtrip); i++)
                ASSERT_EQ(netlink_errno_from_nle(nl_syserr2nlerr(roundtrip[i])), -roundtrip[i]);

        netlink_fail_describe(&f, buf, sizeof buf);
        ASSERT_STREQ(buf, "RTM_NEWQDISC netem on ifindex 7: No such file or directory (libnl NLE_OBJ_NOTFOUND: "
                          "Object not found; kernel ENOENT: Specified qdisc kind is unknown)");
        f = (NetlinkFail){ .op = NETLINK_OP_SOCKET, .error = -ENOMEM };
        netlink_fail_describe(&f, buf, sizeof buf);
        ASSERT_STREQ(buf, "netlink socket: Cannot allocate memory");
}

/* A process parked in a network namespace of its own, for veth peers; killed by the caller. */
static pid_t netns_holder(void)
{
        int p[2];
        char c;
        pid_t pid;

        ASSERT_TRUE(pipe2(p, O_CLOEXEC) == 0);
        pid = proc_fork_child();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        proc_exit(1);
                (void)write(p[1], "x", 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        ASSERT_EQ(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

static void test_links(Netlink *nl)
{
        NetlinkLink l, *links = NULL;
        size_t n = 0;
        int br, br2, veth, r;
        char buf[512];
        pid_t holder;

        /* A bridge, up, tagged. */
        ASSERT_OK(netlink_bridge_add(nl, "hvt-t-br", "hvtorture test", &br));
        ASSERT_OK(netlink_link_get(nl, br, NULL, &l));
        ASSERT_STREQ(l.name, "hvt-t-br");
        ASSERT_STREQ(l.kind, "bridge");
        ASSERT_STREQ(l.alias, "hvtorture test");
        ASSERT_TRUE(l.flags & IFF_UP);
        ASSERT_CONTAINS(sh("ip -o link show hvt-t-br"), "state");
        ASSERT_CONTAINS(sh("ip -d link show hvt-t-br"), "alias hvtorture test");

        /* The same name again: the kernel's EEXIST, libnl's NLE_EXIST and its message. */
        r = netlink_bridge_add(nl, "hvt-t-br", NULL, &br2);
        ASSERT_EQ(r, -EEXIST);
        ASSERT_EQ(nl->fail.nle, NLE_EXIST);
        ASSERT_EQ(nl->fail.kernel_error, -EEXIST);
        netlink_fail_describe(&nl->fail, buf, sizeof buf);
        printf("duplicate bridge: %s\n", buf);
        ASSERT_CONTAINS(buf, "RTM_NEWLINK bridge hvt-t-br: File exists (libnl NLE_EXIST: Object exists; kernel EEXIST");

        /* A veth whose peer lives in another process's namespace; enslaved to the bridge. */
        holder = netns_holder();
        ASSERT_OK(netlink_veth_add(nl, "hvt-t-v0", "hvtorture veth", "eth0", holder, &veth));
        ASSERT_OK(netlink_link_get(nl, veth, NULL, &l));
        ASSERT_STREQ(l.kind, "veth");
        ASSERT_STREQ(l.alias, "hvtorture veth");
        ASSERT_EQ(netlink_link_get(nl, 0, "eth0", &l), -ENODEV); /* the peer is not here */
        ASSERT_OK(netlink_link_set(nl, veth, br, true, NULL));
        ASSERT_OK(netlink_link_get(nl, veth, NULL, &l));
        ASSERT_EQ(l.master, br);
        ASSERT_TRUE(l.flags & IFF_UP);
        ASSERT_CONTAINS(sh("ip -o link show master hvt-t-br"), "hvt-t-v0");
        {
                char cmd[64];
                snprintf(cmd, sizeof cmd, "nsenter -t %d -n ip -o link show eth0", (int)holder);
                ASSERT_CONTAINS(sh("%s", cmd), "eth0@");
        }

        ASSERT_OK(netlink_link_list(nl, &links, &n));
        {
                unsigned seen = 0;
                for (size_t i = 0; i < n; i++)
                        if (streq(links[i].name, "hvt-t-br") || streq(links[i].name, "hvt-t-v0") ||
                            streq(links[i].name, "lo"))
                                seen++;
                ASSERT_EQ(seen, 3);
                ASSERT_EQ(n, 3);
        }
        free(links);

        /* The holder's namespace dies with it, and takes the whole veth pair along. */
        proc_kill_reap(holder);
        for (unsigned i = 0; i < 1000 && netlink_link_get(nl, veth, NULL, NULL) == 0; i++)
                sleep_ns(10 * NSEC_PER_MSEC);
        ASSERT_EQ(netlink_link_get(nl, veth, NULL, NULL), -ENODEV);
        ASSERT_EQ(nl->fail.nle, NLE_NODEV);
        ASSERT_EQ(sh("ip -o link show master hvt-t-br")[0], '\0');

        /* Deleting what is not there: the kernel's ENODEV. */
        r = netlink_link_delete(nl, veth);
        ASSERT_EQ(r, -ENODEV);
        ASSERT_EQ(nl->fail.kernel_error, -ENODEV);
        netlink_fail_describe(&nl->fail, buf, sizeof buf);
        printf("delete a gone link: %s\n", buf);

        /* A bridge enslaved to a bridge: the kernel refuses and says why in its extended ack. */
        ASSERT_OK(netlink_bridge_add(nl, "hvt-t-br2", NULL, &br2));
        r = netlink_link_set(nl, br2, br, true, NULL);
        netlink_fail_describe(&nl->fail, buf, sizeof buf);
        printf("bridge in a bridge: %s\n", buf);
        ASSERT_EQ(r, -ELOOP);
        ASSERT_EQ(nl->fail.kernel_error, -ELOOP);
        ASSERT_EQ(nl->fail.nle, NLE_FAILURE); /* libnl has no code for ELOOP: only the kernel's errno says it */
        ASSERT_STREQ(nl->fail.ext_ack, "Can not enslave a bridge to a bridge");
        ASSERT_OK(netlink_link_delete(nl, br2));

        ASSERT_OK(netlink_link_delete(nl, br));
        ASSERT_EQ(netlink_link_get(nl, 0, "hvt-t-br", NULL), -ENODEV);
}

static void test_netem(Netlink *nl)
{
        NetlinkLink lo;
        char kind[32], buf[512];
        int br, r;

        ASSERT_OK(netlink_bridge_add(nl, "hvt-t-br", NULL, &br));
        r = netlink_netem_add(nl, br, 2000, 500, 10000);
        if (r < 0) {
                netlink_fail_describe(&nl->fail, buf, sizeof buf);
                /* This kernel has no sch_netem: the failure must say so, in the kernel's words and libnl's. */
                ASSERT_EQ(r, -ENOENT);
                ASSERT_EQ(nl->fail.nle, NLE_OBJ_NOTFOUND);
                ASSERT_EQ(nl->fail.kernel_error, -ENOENT);
                ASSERT_CONTAINS(buf, "Object not found");
                printf("netem: not on this kernel, checked in the lab: %s\n", buf);
        } else {
                ASSERT_OK(netlink_root_qdisc_kind(nl, br, kind, sizeof kind));
                ASSERT_STREQ(kind, "netem");
                ASSERT_CONTAINS(sh("tc qdisc show dev hvt-t-br"), "netem");
                ASSERT_CONTAINS(sh("tc qdisc show dev hvt-t-br"), "delay 2ms");
                ASSERT_CONTAINS(sh("tc qdisc show dev hvt-t-br"), "loss 1%");
                printf("netem: %s", sh("tc qdisc show dev hvt-t-br"));
        }
        ASSERT_OK(netlink_link_get(nl, 0, "lo", &lo));
        ASSERT_OK(netlink_link_delete(nl, br));
}

int main(void)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        NetlinkFail f = {};

        test_errors_offline();
        if (geteuid() != 0)
                TEST_SKIP("needs root for a network namespace of its own (the offline checks passed)");
        if (unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("unshare(CLONE_NEWNET): %s", strerror(errno));
        ASSERT_OK(netlink_new(&nl, &f));
        test_links(nl);
        test_netem(nl);
        /* Reaped: the holder of test_links. */
        ASSERT_TRUE(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
        printf("ok\n");
        return 0;
}
