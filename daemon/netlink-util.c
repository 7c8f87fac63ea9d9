/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libnl-route wrappers (see netlink-util.h). The one place where libnl's
 * NLE_* codes become errnos: every request clears the answer slot, the
 * NLMSG_ERROR callback fills it with the kernel's errno and extended ack
 * before libnl folds the errno into an NLE code, and fail() records both.
 */
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/tc.h>
#include <netlink/socket.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "netlink-util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static const char *const op_names[_NETLINK_OP_MAX] = {
        [NETLINK_OP_NONE] = "netlink",
        [NETLINK_OP_SOCKET] = "netlink socket",
        [NETLINK_OP_NEWLINK] = "RTM_NEWLINK",
        [NETLINK_OP_SETLINK] = "RTM_NEWLINK (change)",
        [NETLINK_OP_DELLINK] = "RTM_DELLINK",
        [NETLINK_OP_GETLINK] = "RTM_GETLINK",
        [NETLINK_OP_DUMPLINK] = "RTM_GETLINK dump",
        [NETLINK_OP_NEWQDISC] = "RTM_NEWQDISC",
        [NETLINK_OP_DUMPQDISC] = "RTM_GETQDISC dump",
};

const char *netlink_op_to_string(NetlinkOp op)
{
        return op < _NETLINK_OP_MAX && op_names[op] ? op_names[op] : "netlink";
}

/* Each NLE code, its name, and the errno it stands for (the inverse of libnl's nl_syserr2nlerr()). */
static const struct {
        const char *name;
        int error;
} nle_table[] = {
        [NLE_SUCCESS] = { "NLE_SUCCESS", 0 },
        [NLE_FAILURE] = { "NLE_FAILURE", EIO },
        [NLE_INTR] = { "NLE_INTR", EINTR },
        [NLE_BAD_SOCK] = { "NLE_BAD_SOCK", EBADF },
        [NLE_AGAIN] = { "NLE_AGAIN", EAGAIN },
        [NLE_NOMEM] = { "NLE_NOMEM", ENOMEM },
        [NLE_EXIST] = { "NLE_EXIST", EEXIST },
        [NLE_INVAL] = { "NLE_INVAL", EINVAL },
        [NLE_RANGE] = { "NLE_RANGE", ERANGE },
        [NLE_MSGSIZE] = { "NLE_MSGSIZE", EMSGSIZE },
        [NLE_OPNOTSUPP] = { "NLE_OPNOTSUPP", EOPNOTSUPP },
        [NLE_AF_NOSUPPORT] = { "NLE_AF_NOSUPPORT", EAFNOSUPPORT },
        [NLE_OBJ_NOTFOUND] = { "NLE_OBJ_NOTFOUND", ENOENT },
        [NLE_NOATTR] = { "NLE_NOATTR", ENODATA },
        [NLE_MISSING_ATTR] = { "NLE_MISSING_ATTR", EINVAL },
        [NLE_AF_MISMATCH] = { "NLE_AF_MISMATCH", EINVAL },
        [NLE_SEQ_MISMATCH] = { "NLE_SEQ_MISMATCH", EPROTO },
        [NLE_MSG_OVERFLOW] = { "NLE_MSG_OVERFLOW", EOVERFLOW },
        [NLE_MSG_TRUNC] = { "NLE_MSG_TRUNC", EMSGSIZE },
        [NLE_NOADDR] = { "NLE_NOADDR", EADDRNOTAVAIL },
        [NLE_SRCRT_NOSUPPORT] = { "NLE_SRCRT_NOSUPPORT", EOPNOTSUPP },
        [NLE_MSG_TOOSHORT] = { "NLE_MSG_TOOSHORT", EBADMSG },
        [NLE_MSGTYPE_NOSUPPORT] = { "NLE_MSGTYPE_NOSUPPORT", EOPNOTSUPP },
        [NLE_OBJ_MISMATCH] = { "NLE_OBJ_MISMATCH", EINVAL },
        [NLE_NOCACHE] = { "NLE_NOCACHE", ENOENT },
        [NLE_BUSY] = { "NLE_BUSY", EBUSY },
        [NLE_PROTO_MISMATCH] = { "NLE_PROTO_MISMATCH", EPROTONOSUPPORT },
        [NLE_NOACCESS] = { "NLE_NOACCESS", EACCES },
        [NLE_PERM] = { "NLE_PERM", EPERM },
        [NLE_PKTLOC_FILE] = { "NLE_PKTLOC_FILE", ENOENT },
        [NLE_PARSE_ERR] = { "NLE_PARSE_ERR", EBADMSG },
        [NLE_NODEV] = { "NLE_NODEV", ENODEV },
        [NLE_IMMUTABLE] = { "NLE_IMMUTABLE", EPERM },
        [NLE_DUMP_INTR] = { "NLE_DUMP_INTR", EINTR },
        [NLE_ATTRSIZE] = { "NLE_ATTRSIZE", ERANGE },
};

const char *netlink_nle_name(int nle)
{
        nle = abs(nle);
        return nle < (int)ELEMENTSOF(nle_table) ? nle_table[nle].name : NULL;
}

int netlink_errno_from_nle(int nle)
{
        nle = abs(nle);
        if (nle == 0)
                return 0;
        if (nle < (int)ELEMENTSOF(nle_table) && nle_table[nle].error)
                return -nle_table[nle].error;
        return -EIO;
}

char *netlink_fail_describe(const NetlinkFail *f, char *buf, size_t len)
{
        char lib[96] = "", kern[NETLINK_EXT_ACK_MAX + 48] = "";
        const char *n;

        if (f->nle) {
                n = netlink_nle_name(f->nle);
                snprintf(lib, sizeof lib, "libnl %s: %s", n ? n : "NLE_?", nl_geterror(f->nle));
        }
        if (f->kernel_error)
                snprintf(kern, sizeof kern, "%skernel %s%s%s", lib[0] ? "; " : "",
                         strerrorname_np(-f->kernel_error) ?: "errno", f->ext_ack[0] ? ": " : "", f->ext_ack);
        else if (f->ext_ack[0])
                snprintf(kern, sizeof kern, "%skernel: %s", lib[0] ? "; " : "", f->ext_ack);
        snprintf(buf, len, "%s%s%s: %s%s%s%s%s", netlink_op_to_string(f->op), f->object[0] ? " " : "", f->object,
                 strerror(-f->error), lib[0] || kern[0] ? " (" : "", lib, kern, lib[0] || kern[0] ? ")" : "");
        return buf;
}

/* ---- the answer to the request in flight ---- */

/* The NLMSGERR_ATTR_MSG of an error that carries extended ack TLVs (see netlink_ack() in the kernel). */
static void ext_ack_copy(const struct nlmsgerr *e, char *buf, size_t len)
{
        const struct nlmsghdr *h = (const struct nlmsghdr *)((const uint8_t *)e - NLMSG_HDRLEN);
        size_t payload = sizeof(*e), off, end = h->nlmsg_len;

        buf[0] = '\0';
        if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
                return;
        if (!(h->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
                payload += e->msg.nlmsg_len - NLMSG_HDRLEN;
        for (off = NLMSG_HDRLEN + NLMSG_ALIGN(payload); off + sizeof(struct nlattr) <= end;) {
                const struct nlattr *a = (const struct nlattr *)((const uint8_t *)h + off);
                if (a->nla_len < sizeof(*a) || off + a->nla_len > end)
                        return;
                if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
                        size_t l = a->nla_len - sizeof(*a);
                        snprintf(buf, len, "%.*s", (int)strnlen((const char *)(a + 1), l), (const char *)(a + 1));
                        /* The kernel's messages end without a period; some carry a trailing newline. */
                        buf[strcspn(buf, "\n")] = '\0';
                        return;
                }
                off += NLA_ALIGN(a->nla_len);
        }
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *userdata)
{
        Netlink *nl = userdata;

        nl->answer_error = e->error < 0 ? e->error : -e->error;
        ext_ack_copy(e, nl->answer_msg, sizeof nl->answer_msg);
        /* libnl goes on as without us: the request fails with nl_syserr2nlerr(e->error). */
        return NL_STOP;
}

static void begin(Netlink *nl)
{
        nl->answer_error = 0;
        nl->answer_msg[0] = '\0';
}

/* Records a failed request; nle is libnl's code (either sign). Returns the negative errno. */
_printf_(4, 5) static int fail(Netlink *nl, NetlinkOp op, int nle, const char *format, ...)
{
        NetlinkFail *f = &nl->fail;
        va_list ap;

        *f = (NetlinkFail){
                .op = op,
                .nle = abs(nle),
                .kernel_error = nl->answer_error,
                .error = nl->answer_error ? nl->answer_error : netlink_errno_from_nle(nle),
        };
        if (f->error == 0)
                f->error = -EIO;
        snprintf(f->ext_ack, sizeof f->ext_ack, "%s", nl->answer_msg);
        va_start(ap, format);
        vsnprintf(f->object, sizeof f->object, format, ap);
        va_end(ap);
        return f->error;
}

/* ---- the socket ---- */

int netlink_new(Netlink **ret, NetlinkFail *ret_fail)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        int one = 1, r;

        nl = calloc(1, sizeof *nl);
        if (!nl) {
                if (ret_fail)
                        *ret_fail = (NetlinkFail){ .op = NETLINK_OP_SOCKET, .error = -ENOMEM };
                return -ENOMEM;
        }
        nl->sk = nl_socket_alloc();
        if (!nl->sk)
                r = fail(nl, NETLINK_OP_SOCKET, -NLE_NOMEM, "route");
        else {
                r = nl_connect(nl->sk, NETLINK_ROUTE);
                if (r < 0)
                        r = fail(nl, NETLINK_OP_SOCKET, r, "route");
        }
        if (r < 0) {
                if (ret_fail)
                        *ret_fail = nl->fail;
                return r;
        }
        /* Extended acks say why ("Specified qdisc kind is unknown"); capped acks keep errors small. */
        (void)setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
        (void)setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
        r = nl_socket_modify_err_cb(nl->sk, NL_CB_CUSTOM, on_error, nl);
        if (r < 0) {
                r = fail(nl, NETLINK_OP_SOCKET, r, "error callback");
                if (ret_fail)
                        *ret_fail = nl->fail;
                return r;
        }
        *ret = TAKE_PTR(nl);
        return 0;
}

Netlink *netlink_free(Netlink *nl)
{
        if (!nl)
                return NULL;
        if (nl->sk)
                nl_socket_free(nl->sk);
        free(nl);
        return NULL;
}

static void rtnl_link_putp(struct rtnl_link **l)
{
        if (*l)
                rtnl_link_put(*l);
}

static void rtnl_qdisc_putp(struct rtnl_qdisc **q)
{
        if (*q)
                rtnl_qdisc_put(*q);
}

static void nl_cache_freep(struct nl_cache **c)
{
        if (*c)
                nl_cache_free(*c);
}

static void link_fill(struct rtnl_link *l, NetlinkLink *ret)
{
        const char *s;

        *ret = (NetlinkLink){
                .ifindex = rtnl_link_get_ifindex(l),
                .master = rtnl_link_get_master(l),
                .flags = rtnl_link_get_flags(l),
                .rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS),
                .tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS),
        };
        if ((s = rtnl_link_get_name(l)))
                snprintf(ret->name, sizeof ret->name, "%s", s);
        if ((s = rtnl_link_get_type(l)))
                snprintf(ret->kind, sizeof ret->kind, "%s", s);
        if ((s = rtnl_link_get_ifalias(l)))
                snprintf(ret->alias, sizeof ret->alias, "%s", s);
}

/* ---- links ---- */

int netlink_link_get(Netlink *nl, int ifindex, const char *name, NetlinkLink *ret)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;

        begin(nl);
        r = rtnl_link_get_kernel(nl->sk, name ? 0 : ifindex, name, &l);
        if (r < 0)
                return name ? fail(nl, NETLINK_OP_GETLINK, r, "%s", name)
                            : fail(nl, NETLINK_OP_GETLINK, r, "ifindex %d", ifindex);
        if (ret)
                link_fill(l, ret);
        return 0;
}

int netlink_link_list(Netlink *nl, NetlinkLink **ret, size_t *ret_n)
{
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_free_ NetlinkLink *links = NULL;
        size_t n = 0, max;
        int r;

        begin(nl);
        r = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache);
        if (r < 0)
                return fail(nl, NETLINK_OP_DUMPLINK, r, "every link");
        max = (size_t)nl_cache_nitems(cache);
        if (max > NETLINK_LINKS_MAX) {
                nl->fail = (NetlinkFail){ .op = NETLINK_OP_DUMPLINK, .error = -E2BIG };
                snprintf(nl->fail.object, sizeof nl->fail.object, "%zu links (at most %d)", max, NETLINK_LINKS_MAX);
                return -E2BIG;
        }
        links = calloc(MAX(max, 1U), sizeof *links);
        if (!links)
                return -ENOMEM;
        for (struct nl_object *o = nl_cache_get_first(cache); o && n < max; o = nl_cache_get_next(o))
                link_fill((struct rtnl_link *)o, &links[n++]);
        *ret = TAKE_PTR(links);
        *ret_n = n;
        return 0;
}

int netlink_link_set(Netlink *nl, int ifindex, int master, bool up, const char *alias)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *orig = NULL, *ch = NULL;
        int r;
        begin(nl);

        orig = rtnl_link_alloc();
        ch = rtnl_link_alloc();
        if (!orig || !ch)
                return fail(nl, NETLINK_OP_SETLINK, -NLE_NOMEM, "ifindex %d", ifindex);
        rtnl_link_set_ifindex(orig, ifindex);
        if (master > 0)
                rtnl_link_set_master(ch, master);
        if (up)
                rtnl_link_set_flags(ch, IFF_UP);
        if (alias)
                rtnl_link_set_ifalias(ch, alias);
        r = rtnl_link_change(nl->sk, orig, ch, 0);
        if (r < 0)
                return fail(nl, NETLINK_OP_SETLINK, r, "ifindex %d", ifindex);
        return 0;
}

int netlink_link_delete(Netlink *nl, int ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int r;
        begin(nl);

        l = rtnl_link_alloc();
        if (!l)
                return fail(nl, NETLINK_OP_DELLINK, -NLE_NOMEM, "ifindex %d", ifindex);
        rtnl_link_set_ifindex(l, ifindex);
        r = rtnl_link_delete(nl->sk, l);
        if (r < 0)
                return fail(nl, NETLINK_OP_DELLINK, r, "ifindex %d", ifindex);
        return 0;
}

/* The ifindex of a link just created by name; the failure keeps the creating request's op. */
static int created_ifindex(Netlink *nl, NetlinkOp op, const char *what, const char *name, int *ret_ifindex)
{
        NetlinkLink l;
        int r;

        r = netlink_link_get(nl, 0, name, &l);
        if (r < 0) {
                nl->fail.op = op;
                snprintf(nl->fail.object, sizeof nl->fail.object, "%s %s (looking it up after creating it)", what,
                         name);
                return r;
        }
        *ret_ifindex = l.ifindex;
        return 0;
}

int netlink_bridge_add(Netlink *nl, const char *name, const char *alias, int *ret_ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
        int ifindex, r;
        begin(nl);

        l = rtnl_link_alloc();
        if (!l)
                return fail(nl, NETLINK_OP_NEWLINK, -NLE_NOMEM, "bridge %s", name);
        r = rtnl_link_set_type(l, "bridge");
        if (r < 0)
                return fail(nl, NETLINK_OP_NEWLINK, r, "bridge %s", name);
        rtnl_link_set_name(l, name);
        /* A new bridge has STP off: a port forwards as soon as it and the bridge are up. */
        r = rtnl_link_add(nl->sk, l, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0)
                return fail(nl, NETLINK_OP_NEWLINK, r, "bridge %s", name);
        r = created_ifindex(nl, NETLINK_OP_NEWLINK, "bridge", name, &ifindex);
        if (r < 0)
                return r;
        /* RTM_NEWLINK does not apply IFLA_IFALIAS when it creates a link: tag it right after. */
        r = netlink_link_set(nl, ifindex, 0, true, alias);
        if (r < 0) {
                snprintf(nl->fail.object, sizeof nl->fail.object, "bridge %s", name);
                return r;
        }
        if (ret_ifindex)
                *ret_ifindex = ifindex;
        return 0;
}

int netlink_veth_add(Netlink *nl, const char *name, const char *alias, const char *peer_name, pid_t peer_pid,
                     int *ret_ifindex)
{
        _cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL, *peer = NULL;
        int ifindex, r;
        begin(nl);

        l = rtnl_link_veth_alloc();
        if (!l)
                return fail(nl, NETLINK_OP_NEWLINK, -NLE_NOMEM, "veth %s", name);
        rtnl_link_set_name(l, name);
        peer = rtnl_link_veth_get_peer(l);
        if (!peer)
                return fail(nl, NETLINK_OP_NEWLINK, -NLE_INVAL, "veth %s", name);
        if (peer_name)
                rtnl_link_set_name(peer, peer_name);
        if (peer_pid > 0)
                rtnl_link_set_ns_pid(peer, peer_pid);
        r = rtnl_link_add(nl->sk, l, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0)
                return fail(nl, NETLINK_OP_NEWLINK, r, "veth %s", name);
        r = created_ifindex(nl, NETLINK_OP_NEWLINK, "veth", name, &ifindex);
        if (r < 0)
                return r;
        if (alias) {
                r = netlink_link_set(nl, ifindex, 0, false, alias);
                if (r < 0) {
                        snprintf(nl->fail.object, sizeof nl->fail.object, "veth %s", name);
                        return r;
                }
        }
        if (ret_ifindex)
                *ret_ifindex = ifindex;
        return 0;
}

/* ---- qdiscs ---- */

int netlink_netem_add(Netlink *nl, int ifindex, uint32_t delay_us, uint32_t jitter_us, uint32_t loss_ppm)
{
        _cleanup_(rtnl_qdisc_putp) struct rtnl_qdisc *q = NULL;
        uint32_t loss;
        int r;
        begin(nl);

        q = rtnl_qdisc_alloc();
        if (!q)
                return fail(nl, NETLINK_OP_NEWQDISC, -NLE_NOMEM, "netem on ifindex %d", ifindex);
        rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
        rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
        rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(0x1, 0));
        r = rtnl_tc_set_kind(TC_CAST(q), "netem");
        if (r < 0)
                return fail(nl, NETLINK_OP_NEWQDISC, r, "netem on ifindex %d", ifindex);
        if (delay_us)
                rtnl_netem_set_delay(q, (int)MIN(delay_us, (uint32_t)INT32_MAX));
        if (delay_us && jitter_us)
                rtnl_netem_set_jitter(q, (int)MIN(jitter_us, (uint32_t)INT32_MAX));
        /* netem's loss is a fraction of 2^32 - 1. */
        loss = loss_ppm >= 1000000 ? UINT32_MAX : (uint32_t)((uint64_t)loss_ppm * UINT32_MAX / 1000000);
        if (loss)
                rtnl_netem_set_loss(q, (int)loss);
        r = rtnl_qdisc_add(nl->sk, q, NLM_F_CREATE | NLM_F_REPLACE);
        if (r < 0)
                return fail(nl, NETLINK_OP_NEWQDISC, r, "netem on ifindex %d", ifindex);
        return 0;
}

int netlink_root_qdisc_kind(Netlink *nl, int ifindex, char *buf, size_t len)
{
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        struct rtnl_qdisc *q;
        const char *kind;
        int r;

        begin(nl);
        r = rtnl_qdisc_alloc_cache(nl->sk, &cache);
        if (r < 0)
                return fail(nl, NETLINK_OP_DUMPQDISC, r, "ifindex %d", ifindex);
        q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
        if (!q)
                return -ENOENT;
        kind = rtnl_tc_get_kind(TC_CAST(q));
        snprintf(buf, len, "%s", kind ? kind : "");
        rtnl_qdisc_put(q);
        return 0;
}
