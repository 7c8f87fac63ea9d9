/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The VMM's side of a virtual NIC, the way QEMU builds one: a tap from
 * /dev/net/tun (IFF_TAP | IFF_NO_PI) that lives exactly as long as the
 * fd the VMM holds; a doorbell the guest rings (KVM_IOEVENTFD on an I/O
 * port, signalling an eventfd without leaving KVM_RUN); and, where
 * /dev/vhost-net exists, the vhost-net backend: VHOST_SET_OWNER, a memory
 * table over the VM's guest memory, split virtqueues (RX 0, TX 1) in that
 * memory, the doorbell as the TX kick, and the tap as the backend, so
 * frames go guest memory → vhost worker → tap → bridge with no userspace
 * in between.
 *
 * The virtqueue code (Virtq) is the driver half of virtio's split ring
 * (virtio 1.x, 2.7): it hands descriptors to the device through the
 * available ring and takes them back from the used ring, checking that
 * the device only returns what it was given.
 *
 * Nothing here logs; failures name the call (VnetFail), as in kvm-util.h.
 */
#pragma once

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define TUN_DEVICE_PATH "/dev/net/tun"
#define VHOST_NET_DEVICE_PATH "/dev/vhost-net"

typedef enum VnetOp {
        VNET_OP_NONE,
        VNET_OP_OPEN_TUN,
        VNET_OP_TUNSETIFF,
        VNET_OP_IFINDEX,
        VNET_OP_EVENTFD,
        VNET_OP_IOEVENTFD,
        VNET_OP_OPEN_VHOST,
        VNET_OP_SET_OWNER,
        VNET_OP_GET_FEATURES,
        VNET_OP_SET_FEATURES,
        VNET_OP_SET_MEM_TABLE,
        VNET_OP_SET_VRING_NUM,
        VNET_OP_SET_VRING_BASE,
        VNET_OP_SET_VRING_ADDR,
        VNET_OP_SET_VRING_KICK,
        VNET_OP_SET_VRING_CALL,
        VNET_OP_SET_BACKEND,
        VNET_OP_VRING, /* the virtqueue layout does not fit */
        _VNET_OP_MAX,
} VnetOp;

typedef struct VnetFail {
        VnetOp op;
        int error;      /* negative errno */
        unsigned queue; /* the virtqueue, for the per-queue calls */
} VnetFail;

const char *vnet_op_to_string(VnetOp op);
/* "VHOST_SET_VRING_ADDR: Invalid argument (queue 1)" */
char *vnet_fail_describe(const VnetFail *f, char *buf, size_t len);

/* ---- tap ---- */

/*
 * Creates (attaches to) tap name in the caller's network namespace:
 * IFF_TAP | IFF_NO_PI, plus IFF_VNET_HDR when a vhost-net backend will
 * pass virtio-net headers through it. The fd is O_NONBLOCK and
 * O_CLOEXEC; the tap is not persistent: it is destroyed when the last fd
 * on it is closed, e.g. when the process holding it is killed.
 */
int tap_open(const char *name, bool vnet_hdr, int *ret_fd, int *ret_ifindex, VnetFail *fail);

/* A broadcast Ethernet frame of ours (EtherType 0x88b5, local experimental), 60 bytes. */
#define VNET_FRAME_LEN 60
#define VNET_ETHERTYPE 0x88b5
/* Writes the frame (after a zeroed virtio_net_hdr if vnet_hdr) into buf; returns its length, 0 if too small. */
size_t vnet_frame_build(uint8_t *buf, size_t len, uint16_t sender, uint64_t seq, bool vnet_hdr);
/* True if buf holds a frame vnet_frame_build() made (after a virtio_net_hdr if vnet_hdr). */
bool vnet_frame_is_ours(const uint8_t *buf, size_t len, bool vnet_hdr);

/* ---- the doorbell ---- */

/*
 * KVM_IOEVENTFD: a one-byte OUT to port in the guest signals event_fd
 * inside KVM, without an exit to userspace. assign false removes it.
 */
int vnet_doorbell(int vm_fd, uint16_t port, int event_fd, bool assign, VnetFail *fail);

/* ---- split virtqueues in guest memory ---- */

#define VIRTQ_NUM_MAX 256

typedef struct Virtq {
        unsigned num;       /* a power of two, at most VIRTQ_NUM_MAX */
        bool device_writes; /* RX: the device fills the buffers (VRING_DESC_F_WRITE) */
        struct vring_desc *desc;
        struct vring_avail *avail;
        struct vring_used *used;
        uint8_t *bufs;     /* buffer i at bufs + i * buf_size, one per descriptor */
        uint64_t bufs_gpa; /* the same in guest-physical addresses */
        uint32_t buf_size;
        uint16_t avail_idx; /* the next avail->idx we publish */
        uint16_t used_idx;  /* used entries already taken back */
        uint16_t free[VIRTQ_NUM_MAX]; /* descriptors not in the device's hands */
        unsigned n_free;
        bool given[VIRTQ_NUM_MAX]; /* in the device's hands */
        uint64_t completed;        /* used entries taken back, ever */
        uint64_t bad;              /* used entries naming a descriptor the device did not have */
} Virtq;

/* Bytes a ring of num entries with buf_size-byte buffers needs (rings, then buffers). */
size_t virtq_area_size(unsigned num, uint32_t buf_size);
/*
 * Lays a ring out in [host, host + len), which the guest sees at gpa,
 * and zeroes it. -EINVAL if num is not a power of two up to
 * VIRTQ_NUM_MAX, -ENOSPC if len is too small.
 */
int virtq_init(Virtq *vr, void *host, uint64_t gpa, size_t len, unsigned num, uint32_t buf_size,
               bool device_writes);
/*
 * Hands every free descriptor to the device. For a TX ring fill(buf,
 * size, userdata) writes a frame into the descriptor's buffer and returns
 * its length (0: stop); an RX ring offers whole buffers. Returns how many
 * were added; avail->idx is published once, after the descriptors.
 */
unsigned virtq_refill(Virtq *vr, size_t (*fill)(uint8_t *buf, uint32_t size, void *userdata), void *userdata);
/*
 * Takes back what the device used. Calls seen(buf, len, userdata) for
 * each (if set; len is what the device wrote into an RX buffer). Returns
 * the count. An entry naming a descriptor the device did not hold is
 * counted in vr->bad and not taken back.
 */
unsigned virtq_reap(Virtq *vr, void (*seen)(const uint8_t *buf, uint32_t len, void *userdata), void *userdata);

/* ---- vhost-net ---- */

enum { VHOST_NET_RX = 0, VHOST_NET_TX = 1, VHOST_NET_QUEUES = 2 };

typedef struct VhostNet {
        int fd;
        int kick[VHOST_NET_QUEUES]; /* eventfds: we (or the guest's doorbell) → vhost */
        int call[VHOST_NET_QUEUES]; /* eventfds: vhost → us */
        uint64_t features;          /* what the device offered */
} VhostNet;

/*
 * Opens /dev/vhost-net, makes this process its owner (its mm is the one
 * the vhost worker copies from), acks no optional features (so the tap
 * must carry virtio-net headers: IFF_VNET_HDR), and makes the eventfds.
 * On failure v is left closed.
 */
int vhost_net_open(VhostNet *v, VnetFail *fail);
/* One memory region: guest-physical [gpa, gpa + size) is this process's [hva, hva + size). */
int vhost_net_set_memory(VhostNet *v, uint64_t gpa, uint64_t size, void *hva, VnetFail *fail);
/* VHOST_SET_VRING_NUM/BASE/ADDR/KICK/CALL for queue q from vr (whose avail_idx is the base). */
int vhost_net_set_queue(VhostNet *v, unsigned q, const Virtq *vr, VnetFail *fail);
/* VHOST_NET_SET_BACKEND: queue q moves frames through tap_fd; -1 detaches it. */
int vhost_net_set_backend(VhostNet *v, unsigned q, int tap_fd, VnetFail *fail);
/* Kicks queue q as a guest would (write to its kick eventfd). */
int vhost_net_kick(VhostNet *v, unsigned q);
/* Closes the device and the eventfds; safe on a closed or zeroed-and-(-1) VhostNet. */
void vhost_net_close(VhostNet *v);
