/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rtnetlink requests hvtorture makes, through libnl-route: bridges,
 * veth pairs (the peer put straight into another process's namespace),
 * links enslaved, brought up and tagged, netem qdiscs, link lookups and
 * dumps. One wrapper per request, in the manner of kvm-util.h.
 *
 * libnl reports failure as a negative NLE_* code, not an errno, and folds
 * several kernel errnos into one code (ENOENT and ESRCH both become
 * NLE_OBJ_NOTFOUND; anything it does not know becomes NLE_FAILURE). This
 * module is the one place that is converted: every function returns 0 or
 * a negative errno — the kernel's own when the kernel answered (caught
 * from its NLMSG_ERROR before libnl folds it), else mapped from the NLE
 * code — and records in nl->fail which request failed, for what, libnl's
 * code with its message (nl_geterror()) and the kernel's extended ack
 * text. netlink_fail_describe() makes one line of it:
 *
 *   RTM_NEWQDISC netem on ifindex 7: Object not found (libnl NLE_OBJ_NOTFOUND; kernel ENOENT: Specified qdisc kind is unknown)
 *
 * Nothing here logs. A Netlink talks to the network namespace the calling
 * thread was in when netlink_new() ran.
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct nl_sock;

typedef enum NetlinkOp {
        NETLINK_OP_NONE,
        NETLINK_OP_SOCKET,   /* nl_socket_alloc / nl_connect */
        NETLINK_OP_NEWLINK,  /* create a link */
        NETLINK_OP_SETLINK,  /* change a link: master, up, alias */
        NETLINK_OP_DELLINK,
        NETLINK_OP_GETLINK,  /* one link */
        NETLINK_OP_DUMPLINK, /* every link */
        NETLINK_OP_NEWQDISC,
        NETLINK_OP_DUMPQDISC,
        _NETLINK_OP_MAX,
} NetlinkOp;

#define NETLINK_OBJECT_MAX 48
#define NETLINK_EXT_ACK_MAX 128
/* IFLA_IFALIAS is at most IFALIASZ (256) bytes; ours are much shorter. */
#define NETLINK_ALIAS_MAX 256
/* A dump never returns more links than this: a namespace with more is not one we can reason about. */
#define NETLINK_LINKS_MAX 65536

typedef struct NetlinkFail {
        NetlinkOp op;
        int error;        /* negative errno */
        int nle;          /* libnl's code, positive NLE_*; 0 when the failure was not libnl's */
        int kernel_error; /* negative errno the kernel answered with; 0 when it did not answer */
        char object[NETLINK_OBJECT_MAX];  /* what the request was for: "bridge hvt-1a2b-br" */
        char ext_ack[NETLINK_EXT_ACK_MAX]; /* the kernel's extended ack message, if it sent one */
} NetlinkFail;

typedef struct Netlink {
        struct nl_sock *sk;
        NetlinkFail fail; /* the last failure */
        /* Filled by the NLMSG_ERROR callback for the request in flight. */
        int answer_error;
        char answer_msg[NETLINK_EXT_ACK_MAX];
} Netlink;

/* What a dump or lookup tells about one link. */
typedef struct NetlinkLink {
        int ifindex;
        int master;     /* ifindex of the bridge it is a port of, or 0 */
        unsigned flags; /* IFF_* */
        char name[IFNAMSIZ];
        char kind[16]; /* IFLA_INFO_KIND: "bridge", "veth", "tun", … or "" */
        char alias[NETLINK_ALIAS_MAX];
        uint64_t rx_packets, tx_packets;
} NetlinkLink;

/* A route netlink socket in the caller's current network namespace, with extended acks on. */
int netlink_new(Netlink **ret, NetlinkFail *ret_fail);
Netlink *netlink_free(Netlink *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(Netlink *, netlink_free);

/* Creates a bridge (STP off: ports forward at once), then tags it with alias (NULL: none). */
int netlink_bridge_add(Netlink *nl, const char *name, const char *alias, int *ret_ifindex);
/*
 * Creates a veth pair: name here, peer_name in the network namespace of
 * process peer_pid (0: here too), and tags name with alias.
 */
int netlink_veth_add(Netlink *nl, const char *name, const char *alias, const char *peer_name, pid_t peer_pid,
                     int *ret_ifindex);
/*
 * One RTM_NEWLINK on an existing link: master (> 0: enslave to that
 * bridge; 0: leave as is), up (true: bring it up; false: leave its
 * flags), alias (NULL: leave as is).
 */
int netlink_link_set(Netlink *nl, int ifindex, int master, bool up, const char *alias);
int netlink_link_delete(Netlink *nl, int ifindex);
/* One link by ifindex (name NULL) or by name (ifindex 0). -ENODEV when there is no such link. */
int netlink_link_get(Netlink *nl, int ifindex, const char *name, NetlinkLink *ret);
/* Every link of the namespace, in an array the caller frees. */
int netlink_link_list(Netlink *nl, NetlinkLink **ret, size_t *ret_n);

/*
 * A netem root qdisc on ifindex: delay_us with jitter_us, and loss in
 * parts per million. -ENOENT (with the kernel's "unknown qdisc" ack) where
 * the kernel has no sch_netem and cannot load it.
 */
int netlink_netem_add(Netlink *nl, int ifindex, uint32_t delay_us, uint32_t jitter_us, uint32_t loss_ppm);
/* The kind of ifindex's root qdisc ("netem", "noqueue", "pfifo_fast", …) into buf; -ENOENT if none. */
int netlink_root_qdisc_kind(Netlink *nl, int ifindex, char *buf, size_t len);

/* ---- errors ---- */

/* "RTM_NEWLINK", "RTM_NEWQDISC", … */
const char *netlink_op_to_string(NetlinkOp op);
/* "NLE_OBJ_NOTFOUND", or NULL for a code libnl does not define. Takes NLE codes of either sign. */
const char *netlink_nle_name(int nle);
/* The errno an NLE code stands for, negative; -EIO for NLE_FAILURE and unknown codes. */
int netlink_errno_from_nle(int nle);
/* One line for a journal: op, object, strerror, libnl's code and message, the kernel's errno and ack. */
char *netlink_fail_describe(const NetlinkFail *f, char *buf, size_t len);
