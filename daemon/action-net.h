/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The net action's names for tests: outcomes and metrics by index, the
 * ownership tag its links carry and the sweep that removes the links of
 * a dead owner, and an observer seam. The observer is called with the
 * plumbing live, right before the end, so a test can look at it from
 * outside the action (iproute2, /proc). Production code never sets it.
 */
#pragma once

#include <sys/types.h>

#include "action.h"
#include "netlink-util.h"

extern const ActionType action_net;

typedef enum NetOutcome {
        NET_OUT_SIGKILL,
        NET_OUT_CLOSE,
        NET_OUT_BRIDGE_FIRST,
        NET_OUT_KVM_GONE,
        NET_OUT_ENV_ERROR,
        NET_OUT_LINK_SURVIVED,
        NET_OUT_FAILURE,
        _NET_OUT_MAX,
} NetOutcome;

typedef enum NetMetric {
        NET_M_VMS,             /* VMMs that ran their guest with a live NIC */
        NET_M_LINKS_CREATED,   /* bridges, taps and veths created */
        NET_M_LINKS_DESTROYED, /* of those, seen gone through netlink */
        NET_M_FRAMES_TX,       /* frames the VMMs' NICs sent into their taps */
        NET_M_FRAMES_RX,       /* frames of ours the NICs received from the bridge */
        NET_M_NETEM,           /* netem qdiscs set */
        NET_M_VHOST,           /* VMMs whose NIC ran on vhost-net */
        NET_M_TEARDOWN_US,     /* from the end (kill, close, bridge delete) until the last link was gone */
        _NET_M_MAX,
} NetMetric;

#define NET_VMS_MAX 64

/* The plumbing of one step, live. Arrays have n_vms entries; a veth ifindex is 0 without Veth=. */
typedef struct NetLive {
        const char *bridge;
        int bridge_ifindex;
        unsigned n_vms;
        const pid_t *vmm;
        const char (*tap)[IFNAMSIZ];
        const int *tap_ifindex;
        const char (*veth)[IFNAMSIZ];
        const int *veth_ifindex;
        bool netem, vhost;
        const char *end; /* what comes next: "sigkill", "close", "bridge-first" */
} NetLive;

typedef struct NetObserver {
        void (*live)(const NetLive *l, void *userdata);
        void *userdata;
} NetObserver;

/* Tests only: NULL to unset. */
void action_net_set_observer(const NetObserver *o);

/* ---- ownership ---- */

/* Our links' names start with this; only those with an ownership tag in their alias are ours. */
#define NET_LINK_PREFIX "hvt-"

/* "hvtorture owner=PID:STARTTIME run=RUN actor=NAME/INSTANCE": the tag a worker's links carry. */
int net_owner_tag(char *buf, size_t len, pid_t owner, const char *run_id, const char *actor, unsigned instance);
/* The owner in a tag; -EINVAL if alias is not one of ours. */
int net_owner_parse(const char *alias, pid_t *ret_pid, uint64_t *ret_start);
/* True if the process that wrote the tag still runs (same pid, same start time). */
bool net_owner_alive(pid_t pid, uint64_t start);

typedef struct NetSweep {
        unsigned swept;   /* links of a dead owner, deleted */
        unsigned live;    /* links of a live owner (another worker or run), left alone */
        unsigned foreign; /* NET_LINK_PREFIX links without our tag: not ours, left alone */
        char first_swept[IFNAMSIZ];
        char first_foreign[IFNAMSIZ];
} NetSweep;

/*
 * Deletes every link of the namespace whose alias is our tag and whose
 * owner is dead (a crashed run's bridge); touches nothing else. Returns
 * 0 or the first failure's negative errno (nl->fail says which).
 */
int net_sweep(Netlink *nl, NetSweep *ret);
