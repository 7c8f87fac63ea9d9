/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tap, doorbell, split virtqueues and vhost-net for the net action's VMMs
 * (see vnet.h). Every function is one or a few syscalls; the ring code
 * touches only memory the caller laid out.
 */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "vnet.h"

static const char *const op_names[_VNET_OP_MAX] = {
        [VNET_OP_NONE] = "vnet",
        [VNET_OP_OPEN_TUN] = "open " TUN_DEVICE_PATH,
        [VNET_OP_TUNSETIFF] = "TUNSETIFF",
        [VNET_OP_IFINDEX] = "SIOCGIFINDEX",
        [VNET_OP_EVENTFD] = "eventfd",
        [VNET_OP_IOEVENTFD] = "KVM_IOEVENTFD",
        [VNET_OP_OPEN_VHOST] = "open " VHOST_NET_DEVICE_PATH,
        [VNET_OP_SET_OWNER] = "VHOST_SET_OWNER",
        [VNET_OP_GET_FEATURES] = "VHOST_GET_FEATURES",
        [VNET_OP_SET_FEATURES] = "VHOST_SET_FEATURES",
        [VNET_OP_SET_MEM_TABLE] = "VHOST_SET_MEM_TABLE",
        [VNET_OP_SET_VRING_NUM] = "VHOST_SET_VRING_NUM",
        [VNET_OP_SET_VRING_BASE] = "VHOST_SET_VRING_BASE",
        [VNET_OP_SET_VRING_ADDR] = "VHOST_SET_VRING_ADDR",
        [VNET_OP_SET_VRING_KICK] = "VHOST_SET_VRING_KICK",
        [VNET_OP_SET_VRING_CALL] = "VHOST_SET_VRING_CALL",
        [VNET_OP_SET_BACKEND] = "VHOST_NET_SET_BACKEND",
        [VNET_OP_VRING] = "virtqueue layout",
};

const char *vnet_op_to_string(VnetOp op)
{
        return op < _VNET_OP_MAX && op_names[op] ? op_names[op] : "vnet";
}

char *vnet_fail_describe(const VnetFail *f, char *buf, size_t len)
{
        bool per_queue = f->op >= VNET_OP_SET_VRING_NUM && f->op <= VNET_OP_SET_BACKEND;

        if (per_queue)
                snprintf(buf, len, "%s: %s (queue %u)", vnet_op_to_string(f->op), strerror(-f->error), f->queue);
        else
                snprintf(buf, len, "%s: %s", vnet_op_to_string(f->op), strerror(-f->error));
        return buf;
}

static int fail_set(VnetFail *f, VnetOp op, int error, unsigned queue)
{
        if (f)
                *f = (VnetFail){ .op = op, .error = error, .queue = queue };
        return error;
}

/* ---- tap ---- */

int tap_open(const char *name, bool vnet_hdr, int *ret_fd, int *ret_ifindex, VnetFail *fail)
{
        _cleanup_close_ int fd = -1;
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0) };
        unsigned idx;

        if (strlen(name) >= IFNAMSIZ)
                return fail_set(fail, VNET_OP_TUNSETIFF, -ENAMETOOLONG, 0);
        fd = open(TUN_DEVICE_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return fail_set(fail, VNET_OP_OPEN_TUN, negative_errno(), 0);
        memcpy(ifr.ifr_name, name, strlen(name) + 1);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return fail_set(fail, VNET_OP_TUNSETIFF, negative_errno(), 0);
        idx = if_nametoindex(ifr.ifr_name);
        if (idx == 0)
                return fail_set(fail, VNET_OP_IFINDEX, negative_errno(), 0);
        if (ret_ifindex)
                *ret_ifindex = (int)idx;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static const uint8_t frame_magic[4] = { 'H', 'V', 'T', '!' };

size_t vnet_frame_build(uint8_t *buf, size_t len, uint16_t sender, uint64_t seq, bool vnet_hdr)
{
        size_t hdr = vnet_hdr ? sizeof(struct virtio_net_hdr) : 0;
        uint8_t *f = buf + hdr;

        if (len < hdr + VNET_FRAME_LEN)
                return 0;
        memset(buf, 0, hdr + VNET_FRAME_LEN);
        memset(f, 0xff, 6);                                  /* broadcast: the bridge floods it to every port */
        memcpy(f + 6, (const uint8_t[]){ 0x02, 'h', 'v', 't' }, 4); /* a locally administered source */
        f[10] = (uint8_t)(sender >> 8);
        f[11] = (uint8_t)sender;
        f[12] = VNET_ETHERTYPE >> 8;
        f[13] = VNET_ETHERTYPE & 0xff;
        memcpy(f + 14, frame_magic, sizeof frame_magic);
        memcpy(f + 18, &seq, sizeof seq);
        return hdr + VNET_FRAME_LEN;
}

bool vnet_frame_is_ours(const uint8_t *buf, size_t len, bool vnet_hdr)
{
        size_t hdr = vnet_hdr ? sizeof(struct virtio_net_hdr) : 0;
        const uint8_t *f = buf + hdr;

        return len >= hdr + 18 && f[12] == (VNET_ETHERTYPE >> 8) && f[13] == (VNET_ETHERTYPE & 0xff) &&
               memcmp(f + 14, frame_magic, sizeof frame_magic) == 0;
}

/* ---- doorbell ---- */

int vnet_doorbell(int vm_fd, uint16_t port, int event_fd, bool assign, VnetFail *fail)
{
        struct kvm_ioeventfd io = {
                .addr = port,
                .len = 1,
                .fd = event_fd,
                .flags = KVM_IOEVENTFD_FLAG_PIO | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
        };

        if (ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0)
                return fail_set(fail, VNET_OP_IOEVENTFD, negative_errno(), 0);
        return 0;
}

/* ---- split virtqueues ---- */

#define ALIGN_TO(x, a) (((x) + (a) - 1) & ~((size_t)(a) - 1))

typedef struct VirtqLayout {
        size_t avail, used, bufs, end;
} VirtqLayout;

static VirtqLayout virtq_layout(unsigned num, uint32_t buf_size)
{
        VirtqLayout l;

        /* Descriptors at 0 (16-byte aligned), then the available ring (2), the used ring (4), buffers. */
        l.avail = sizeof(struct vring_desc) * num;
        l.used = ALIGN_TO(l.avail + sizeof(uint16_t) * (3 + num), 64);
        l.bufs = ALIGN_TO(l.used + sizeof(uint16_t) * 3 + sizeof(struct vring_used_elem) * num, 64);
        l.end = l.bufs + (size_t)buf_size * num;
        return l;
}

size_t virtq_area_size(unsigned num, uint32_t buf_size)
{
        return virtq_layout(num, buf_size).end;
}

int virtq_init(Virtq *vr, void *host, uint64_t gpa, size_t len, unsigned num, uint32_t buf_size,
               bool device_writes)
{
        VirtqLayout l;
        uint8_t *base = host;

        if (num == 0 || num > VIRTQ_NUM_MAX || (num & (num - 1)) != 0 || buf_size == 0 || gpa % 64 != 0 ||
            (uintptr_t)host % 64 != 0)
                return -EINVAL;
        l = virtq_layout(num, buf_size);
        if (len < l.end)
                return -ENOSPC;
        memset(vr, 0, sizeof *vr);
        memset(host, 0, l.end);
        vr->num = num;
        vr->device_writes = device_writes;
        vr->desc = (struct vring_desc *)base;
        vr->avail = (struct vring_avail *)(base + l.avail);
        vr->used = (struct vring_used *)(base + l.used);
        vr->bufs = base + l.bufs;
        vr->bufs_gpa = gpa + l.bufs;
        vr->buf_size = buf_size;
        for (unsigned i = 0; i < num; i++)
                vr->free[vr->n_free++] = (uint16_t)(num - 1 - i);
        return 0;
}

unsigned virtq_refill(Virtq *vr, size_t (*fill)(uint8_t *buf, uint32_t size, void *userdata), void *userdata)
{
        unsigned added = 0;

        while (vr->n_free > 0) {
                uint16_t id = vr->free[vr->n_free - 1];
                uint8_t *buf = vr->bufs + (size_t)id * vr->buf_size;
                uint32_t len = vr->buf_size;

                if (!vr->device_writes) {
                        size_t l = fill ? fill(buf, vr->buf_size, userdata) : 0;
                        if (l == 0 || l > vr->buf_size)
                                break;
                        len = (uint32_t)l;
                }
                vr->n_free--;
                vr->given[id] = true;
                vr->desc[id] = (struct vring_desc){
                        .addr = vr->bufs_gpa + (uint64_t)id * vr->buf_size,
                        .len = len,
                        .flags = vr->device_writes ? VRING_DESC_F_WRITE : 0,
                };
                vr->avail->ring[vr->avail_idx % vr->num] = id;
                vr->avail_idx++;
                added++;
        }
        /* The device may read the entries as soon as it sees the index: publish it last. */
        if (added)
                __atomic_store_n(&vr->avail->idx, vr->avail_idx, __ATOMIC_RELEASE);
        return added;
}

unsigned virtq_reap(Virtq *vr, void (*seen)(const uint8_t *buf, uint32_t len, void *userdata), void *userdata)
{
        uint16_t to = __atomic_load_n(&vr->used->idx, __ATOMIC_ACQUIRE);
        unsigned n = 0;

        for (; vr->used_idx != to; vr->used_idx++) {
                struct vring_used_elem e = vr->used->ring[vr->used_idx % vr->num];

                if (e.id >= vr->num || !vr->given[e.id]) {
                        vr->bad++;
                        continue;
                }
                vr->given[e.id] = false;
                vr->free[vr->n_free++] = (uint16_t)e.id;
                if (seen)
                        seen(vr->bufs + (size_t)e.id * vr->buf_size, MIN(e.len, vr->buf_size), userdata);
                vr->completed++;
                n++;
        }
        return n;
}

/* ---- vhost-net ---- */

void vhost_net_close(VhostNet *v)
{
        v->fd = safe_close(v->fd);
        for (unsigned q = 0; q < VHOST_NET_QUEUES; q++) {
                v->kick[q] = safe_close(v->kick[q]);
                v->call[q] = safe_close(v->call[q]);
        }
}

int vhost_net_open(VhostNet *v, VnetFail *fail)
{
        uint64_t none = 0;
        int r;

        *v = (VhostNet){ .fd = -1, .kick = { -1, -1 }, .call = { -1, -1 } };
        v->fd = open(VHOST_NET_DEVICE_PATH, O_RDWR | O_CLOEXEC);
        if (v->fd < 0) {
                r = fail_set(fail, VNET_OP_OPEN_VHOST, negative_errno(), 0);
                goto out;
        }
        if (ioctl(v->fd, VHOST_SET_OWNER) < 0) {
                r = fail_set(fail, VNET_OP_SET_OWNER, negative_errno(), 0);
                goto out;
        }
        if (ioctl(v->fd, VHOST_GET_FEATURES, &v->features) < 0) {
                r = fail_set(fail, VNET_OP_GET_FEATURES, negative_errno(), 0);
                goto out;
        }
        /*
         * No optional feature: legacy little-endian rings, no event index, no mergeable buffers,
         * and without VHOST_NET_F_VIRTIO_NET_HDR the 10-byte virtio-net header goes to the tap.
         */
        if (ioctl(v->fd, VHOST_SET_FEATURES, &none) < 0) {
                r = fail_set(fail, VNET_OP_SET_FEATURES, negative_errno(), 0);
                goto out;
        }
        for (unsigned q = 0; q < VHOST_NET_QUEUES; q++) {
                v->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                v->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (v->kick[q] < 0 || v->call[q] < 0) {
                        r = fail_set(fail, VNET_OP_EVENTFD, negative_errno(), q);
                        goto out;
                }
        }
        return 0;
out:
        vhost_net_close(v);
        return r;
}

int vhost_net_set_memory(VhostNet *v, uint64_t gpa, uint64_t size, void *hva, VnetFail *fail)
{
        union {
                struct vhost_memory m;
                uint8_t b[sizeof(struct vhost_memory) + sizeof(struct vhost_memory_region)];
        } u = {};

        u.m.nregions = 1;
        u.m.regions[0] = (struct vhost_memory_region){
                .guest_phys_addr = gpa,
                .memory_size = size,
                .userspace_addr = (uint64_t)(uintptr_t)hva,
        };
        if (ioctl(v->fd, VHOST_SET_MEM_TABLE, &u.m) < 0)
                return fail_set(fail, VNET_OP_SET_MEM_TABLE, negative_errno(), 0);
        return 0;
}

int vhost_net_set_queue(VhostNet *v, unsigned q, const Virtq *vr, VnetFail *fail)
{
        struct vhost_vring_state num = { .index = q, .num = vr->num };
        struct vhost_vring_state base = { .index = q, .num = vr->avail_idx };
        struct vhost_vring_addr addr = {
                .index = q,
                .desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
                .avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
                .used_user_addr = (uint64_t)(uintptr_t)vr->used,
        };
        struct vhost_vring_file kick = { .index = q, .fd = v->kick[q] };
        struct vhost_vring_file call = { .index = q, .fd = v->call[q] };

        if (q >= VHOST_NET_QUEUES)
                return fail_set(fail, VNET_OP_SET_VRING_NUM, -EINVAL, q);
        if (ioctl(v->fd, VHOST_SET_VRING_NUM, &num) < 0)
                return fail_set(fail, VNET_OP_SET_VRING_NUM, negative_errno(), q);
        if (ioctl(v->fd, VHOST_SET_VRING_BASE, &base) < 0)
                return fail_set(fail, VNET_OP_SET_VRING_BASE, negative_errno(), q);
        if (ioctl(v->fd, VHOST_SET_VRING_ADDR, &addr) < 0)
                return fail_set(fail, VNET_OP_SET_VRING_ADDR, negative_errno(), q);
        if (ioctl(v->fd, VHOST_SET_VRING_KICK, &kick) < 0)
                return fail_set(fail, VNET_OP_SET_VRING_KICK, negative_errno(), q);
        if (ioctl(v->fd, VHOST_SET_VRING_CALL, &call) < 0)
                return fail_set(fail, VNET_OP_SET_VRING_CALL, negative_errno(), q);
        return 0;
}

int vhost_net_set_backend(VhostNet *v, unsigned q, int tap_fd, VnetFail *fail)
{
        struct vhost_vring_file b = { .index = q, .fd = tap_fd };

        if (ioctl(v->fd, VHOST_NET_SET_BACKEND, &b) < 0)
                return fail_set(fail, VNET_OP_SET_BACKEND, negative_errno(), q);
        return 0;
}

int vhost_net_kick(VhostNet *v, unsigned q)
{
        uint64_t one = 1;

        if (q >= VHOST_NET_QUEUES)
                return -EINVAL;
        if (write(v->kick[q], &one, sizeof one) != sizeof one)
                return negative_errno();
        return 0;
}
