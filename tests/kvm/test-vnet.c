/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vnet: the virtqueue driver code against a device played by this test
 * (the virtio split-ring device side, written here from the spec, beside
 * the real vhost-net), then the real things: taps on a bridge in a
 * network namespace of the test's own, frames between them, a tap that
 * vanishes with its fd; the doorbell on a real VM (the guest's OUT
 * signals an eventfd without leaving KVM_RUN); and vhost-net moving
 * frames from guest memory to a tap where /dev/vhost-net exists (the
 * lab; skipped here with the reason).
 */
#include <fcntl.h>
#include <linux/virtio_net.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kvm-test.h"
#include "kvm-vm.h"
#include "netlink-util.h"
#include "vnet.h"

/* ---- the device side of a split ring, as the spec says a device behaves ---- */

typedef struct FakeDevice {
        Virtq *vr;          /* only for its memory: the device reads what the driver published */
        uint16_t last_avail;
        uint16_t pending[VIRTQ_NUM_MAX]; /* descriptors taken, not yet returned */
        unsigned n_pending;
        uint8_t *gpa_base; /* host address of GPA 0 */
} FakeDevice;

/* Takes up to n available descriptors; checks each points into guest memory. */
static unsigned fake_take(FakeDevice *d, unsigned n)
{
        uint16_t avail = __atomic_load_n(&d->vr->avail->idx, __ATOMIC_ACQUIRE);
        unsigned k = 0;

        while (d->last_avail != avail && k < n) {
                uint16_t id = d->vr->avail->ring[d->last_avail % d->vr->num];
                ASSERT_TRUE(id < d->vr->num);
                ASSERT_TRUE(d->vr->desc[id].addr >= d->vr->bufs_gpa);
                ASSERT_TRUE(d->vr->desc[id].len <= d->vr->buf_size);
                ASSERT_EQ(!!(d->vr->desc[id].flags & VRING_DESC_F_WRITE), d->vr->device_writes);
                d->pending[d->n_pending++] = id;
                d->last_avail++;
                k++;
        }
        return k;
}

/* Returns pending descriptor i (out of order on purpose), writing len bytes of 0xab if it is writable. */
static void fake_return(FakeDevice *d, unsigned i, uint32_t len)
{
        uint16_t id = d->pending[i];
        struct vring_used *u = d->vr->used;
        uint16_t idx = u->idx;

        if (d->vr->device_writes)
                memset(d->gpa_base + d->vr->desc[id].addr, 0xab, len);
        u->ring[idx % d->vr->num] = (struct vring_used_elem){ .id = id, .len = len };
        __atomic_store_n(&u->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
        d->pending[i] = d->pending[--d->n_pending];
}

static size_t fill_frame(uint8_t *buf, uint32_t size, void *userdata)
{
        uint64_t *seq = userdata;
        return vnet_frame_build(buf, size, 7, (*seq)++, true);
}

static void count_seen(const uint8_t *buf, uint32_t len, void *userdata)
{
        unsigned *n = userdata;
        (*n)++;
}

static void test_vring_fake_device(void)
{
        static uint8_t mem[1 << 20] __attribute__((aligned(4096)));
        size_t need = virtq_area_size(64, 128);
        Virtq tx, rx;
        FakeDevice d;
        uint64_t seq = 0;
        unsigned seen = 0;

        /* Layout: what vhost requires of the ring addresses, and refusals. */
        ASSERT_EQ(virtq_init(&tx, mem, 0x10000, need - 1, 64, 128, false), -ENOSPC);
        ASSERT_EQ(virtq_init(&tx, mem, 0x10000, need, 48, 128, false), -EINVAL);
        ASSERT_EQ(virtq_init(&tx, mem, 0x10000, need, 512, 128, false), -EINVAL);
        ASSERT_OK(virtq_init(&tx, mem + 0x10000, 0x10000, need, 64, 128, false));
        ASSERT_EQ((uintptr_t)tx.desc % 16, 0);
        ASSERT_EQ((uintptr_t)tx.avail % 2, 0);
        ASSERT_EQ((uintptr_t)tx.used % 4, 0);
        ASSERT_TRUE((uint8_t *)tx.bufs + 64 * 128 <= mem + 0x10000 + need);
        ASSERT_TRUE((uint8_t *)&tx.avail->ring[64] <= (uint8_t *)tx.used);

        /* TX: every descriptor handed over with a frame, taken back out of order. */
        d = (FakeDevice){ .vr = &tx, .gpa_base = mem };
        ASSERT_EQ(virtq_refill(&tx, fill_frame, &seq), 64);
        ASSERT_EQ(virtq_refill(&tx, fill_frame, &seq), 0);
        ASSERT_EQ(tx.avail->idx, 64);
        ASSERT_EQ(fake_take(&d, 64), 64);
        for (unsigned i = 0; i < 64; i++)
                ASSERT_TRUE(vnet_frame_is_ours(mem + tx.desc[i].addr, tx.desc[i].len, true));
        fake_return(&d, 10, 0);
        fake_return(&d, 0, 0);
        fake_return(&d, 30, 0);
        ASSERT_EQ(virtq_reap(&tx, count_seen, &seen), 3);
        ASSERT_EQ(seen, 3);
        ASSERT_EQ(virtq_refill(&tx, fill_frame, &seq), 3);

        /* 70000 more round trips: the 16-bit indexes wrap, nothing is lost or duplicated. */
        for (unsigned round = 0; round < 70000; round++) {
                fake_take(&d, 64);
                while (d.n_pending > 0)
                        fake_return(&d, d.n_pending / 2, 0);
                virtq_reap(&tx, NULL, NULL);
                ASSERT_EQ(tx.n_free, 64);
                ASSERT_EQ(virtq_refill(&tx, fill_frame, &seq), 64);
        }
        ASSERT_EQ(tx.bad, 0);
        ASSERT_EQ(tx.completed, 3 + 70000ULL * 64);

        /* A device that returns what it never had is caught, and the ring stays consistent. */
        {
                struct vring_used *u = tx.used;
                uint16_t idx = u->idx;
                fake_take(&d, 1);
                u->ring[idx % 64] = (struct vring_used_elem){ .id = 200, .len = 0 };
                __atomic_store_n(&u->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
                ASSERT_EQ(virtq_reap(&tx, NULL, NULL), 0);
                ASSERT_EQ(tx.bad, 1);
                fake_return(&d, 0, 0);
                ASSERT_EQ(virtq_reap(&tx, NULL, NULL), 1);
                ASSERT_EQ(tx.bad, 1);
        }

        /* RX: whole buffers offered writable, the device's length comes back. */
        ASSERT_OK(virtq_init(&rx, mem + 0x40000, 0x40000, virtq_area_size(16, 2048), 16, 2048, true));
        d = (FakeDevice){ .vr = &rx, .gpa_base = mem };
        ASSERT_EQ(virtq_refill(&rx, NULL, NULL), 16);
        ASSERT_EQ(fake_take(&d, 16), 16);
        ASSERT_EQ(rx.desc[d.pending[0]].len, 2048);
        fake_return(&d, 0, 70);
        seen = 0;
        ASSERT_EQ(virtq_reap(&rx, count_seen, &seen), 1);
        ASSERT_EQ(seen, 1);
        printf("virtq: %" PRIu64 " descriptors round-tripped through the fake device, indexes wrapped\n",
               tx.completed);
}

static void test_frames(void)
{
        uint8_t b[128];

        ASSERT_EQ(vnet_frame_build(b, 10, 1, 1, false), 0);
        ASSERT_EQ(vnet_frame_build(b, sizeof b, 1, 1, false), VNET_FRAME_LEN);
        ASSERT_TRUE(vnet_frame_is_ours(b, VNET_FRAME_LEN, false));
        ASSERT_TRUE(!vnet_frame_is_ours(b, VNET_FRAME_LEN, true));
        ASSERT_EQ(vnet_frame_build(b, sizeof b, 1, 1, true), VNET_FRAME_LEN + sizeof(struct virtio_net_hdr));
        ASSERT_TRUE(vnet_frame_is_ours(b, sizeof b, true));
}

/* ---- real taps, in a namespace of our own ---- */

static void test_taps(void)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        NetlinkLink l;
        VnetFail f = {};
        int a, b, ia, ib, br, wrote = 0, got = 0;
        uint8_t buf[2048];
        char d[128];

        ASSERT_OK(netlink_new(&nl, NULL));
        ASSERT_OK(netlink_bridge_add(nl, "hvt-vt-br", NULL, &br));
        ASSERT_OK(tap_open("hvt-vt-a", false, &a, &ia, &f));
        ASSERT_OK(tap_open("hvt-vt-b", true, &b, &ib, &f));
        ASSERT_TRUE(fcntl(a, F_GETFD) & FD_CLOEXEC);
        ASSERT_TRUE(fcntl(a, F_GETFL) & O_NONBLOCK);
        ASSERT_OK(netlink_link_get(nl, ia, NULL, &l));
        ASSERT_STREQ(l.name, "hvt-vt-a");
        ASSERT_STREQ(l.kind, "tun");
        ASSERT_OK(netlink_link_set(nl, ia, br, true, NULL));
        ASSERT_OK(netlink_link_set(nl, ib, br, true, NULL));

        /* A broadcast frame written into tap a crosses the bridge and comes out of tap b, with a header. */
        for (unsigned i = 0; i < 2000 && got == 0; i++) {
                size_t n = vnet_frame_build(buf, sizeof buf, 1, i, false);
                if (write(a, buf, n) == (ssize_t)n)
                        wrote++;
                for (;;) {
                        ssize_t k = read(b, buf, sizeof buf);
                        if (k <= 0)
                                break;
                        if (vnet_frame_is_ours(buf, (size_t)k, true))
                                got++;
                }
                if (got == 0)
                        sleep_ns(NSEC_PER_MSEC);
        }
        printf("taps: %d frames written into one tap, %d came out of the other\n", wrote, got);
        ASSERT_TRUE(got > 0);

        /* A name too long; a second attach to a tap that is attached already (not multiqueue): EBUSY. */
        ASSERT_EQ(tap_open("hvt-much-too-long-name", false, &ia, NULL, &f), -ENAMETOOLONG);
        {
                int c, r = tap_open("hvt-vt-a", true, &c, NULL, &f);
                ASSERT_EQ(r, -EBUSY);
                ASSERT_EQ(f.op, VNET_OP_TUNSETIFF);
                printf("second attach: %s\n", vnet_fail_describe(&f, d, sizeof d));
        }

        /* Not persistent: the tap goes with its last fd. */
        close(a);
        ASSERT_EQ(netlink_link_get(nl, ia, NULL, NULL), -ENODEV);
        close(b);
        ASSERT_EQ(netlink_link_get(nl, ib, NULL, NULL), -ENODEV);
        ASSERT_OK(netlink_link_delete(nl, br));
}

/* ---- the doorbell on a real VM ---- */

static void test_doorbell(void)
{
        _cleanup_(kvm_vm_freep) KvmVm *vm = NULL;
        _cleanup_close_ int efd = -1;
        size_t size = 64 * 1024;
        uint8_t *mem;
        uint64_t rings = 0, v, exits_before, loops_before, deadline;
        VnetFail f = {};

        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(mem != MAP_FAILED);
        guest_load(mem, 1);
        ASSERT_OK(kvm_vm_new(&vm));
        ASSERT_OK(kvm_vm_set_memslot(vm, 0, 0, 0, size, mem));
        ASSERT_OK(kvm_vm_add_vcpu(vm));
        /* Once without the doorbell: the guest's OUT exits to us. */
        ASSERT_OK(kvm_vm_run_vcpu(vm, 0, 1));
        ASSERT_EQ(vm->vcpus[0].io_exits, 1);

        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_TRUE(efd >= 0);
        ASSERT_OK(vnet_doorbell(vm->vm_fd, GUEST_PORT, efd, true, &f));
        exits_before = vm->vcpus[0].exits;
        loops_before = *guest_counter(mem, 0);
        ASSERT_OK(kvm_vm_start_threads(vm, 0));
        deadline = now_ns(CLOCK_MONOTONIC) + 20 * NSEC_PER_SEC;
        while (rings < 1000 && now_ns(CLOCK_MONOTONIC) < deadline) {
                if (read(efd, &v, sizeof v) == sizeof v)
                        rings += v;
                else
                        sleep_ns(NSEC_PER_MSEC);
        }
        /* The guest rang it, from inside KVM_RUN: not one exit to userspace meanwhile. */
        ASSERT_TRUE(rings >= 1000);
        ASSERT_TRUE(*guest_counter(mem, 0) > loops_before);
        ASSERT_EQ(vm->vcpus[0].exits, exits_before);
        /* Without the doorbell the OUT exits again, which is how the vCPU thread can be stopped. */
        ASSERT_OK(vnet_doorbell(vm->vm_fd, GUEST_PORT, efd, false, &f));
        ASSERT_OK(kvm_vm_stop_threads(vm));
        ASSERT_TRUE(vm->vcpus[0].io_exits > 1);
        /* Removing it twice: KVM says there is none. */
        ASSERT_EQ(vnet_doorbell(vm->vm_fd, GUEST_PORT, efd, false, &f), -ENOENT);
        printf("doorbell: the guest rang %" PRIu64 " times without an exit\n", rings);
        vm = kvm_vm_free(vm);
        munmap(mem, size);
}

/* ---- vhost-net, where it exists ---- */

static void test_vhost_net(void)
{
        _cleanup_(netlink_freep) Netlink *nl = NULL;
        size_t size = 1 << 20;
        uint8_t *mem, rbuf[2048];
        VhostNet v;
        Virtq tx, rx;
        VnetFail f = {};
        uint64_t seq = 0, deadline;
        int tap, peer, it, ip, br, got = 0;
        char d[128];

        if (access(VHOST_NET_DEVICE_PATH, F_OK) < 0) {
                printf("vhost-net: skipped: no %s on this kernel (the lab guest has the module)\n",
                       VHOST_NET_DEVICE_PATH);
                return;
        }
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(mem != MAP_FAILED);
        ASSERT_OK(netlink_new(&nl, NULL));
        ASSERT_OK(netlink_bridge_add(nl, "hvt-vh-br", NULL, &br));
        ASSERT_OK(tap_open("hvt-vh-t", true, &tap, &it, &f));
        ASSERT_OK(tap_open("hvt-vh-p", false, &peer, &ip, &f));
        ASSERT_OK(netlink_link_set(nl, it, br, true, NULL));
        ASSERT_OK(netlink_link_set(nl, ip, br, true, NULL));

        if (vhost_net_open(&v, &f) < 0)
                TEST_FAIL("vhost-net: %s", vnet_fail_describe(&f, d, sizeof d));
        ASSERT_OK(vhost_net_set_memory(&v, 0, size, mem, &f));
        ASSERT_OK(virtq_init(&rx, mem + 0x10000, 0x10000, virtq_area_size(64, 2048), 64, 2048, true));
        ASSERT_OK(virtq_init(&tx, mem + 0x80000, 0x80000, virtq_area_size(64, 128), 64, 128, false));
        ASSERT_OK(vhost_net_set_queue(&v, VHOST_NET_RX, &rx, &f));
        ASSERT_OK(vhost_net_set_queue(&v, VHOST_NET_TX, &tx, &f));
        virtq_refill(&rx, NULL, NULL);
        ASSERT_OK(vhost_net_set_backend(&v, VHOST_NET_RX, tap, &f));
        ASSERT_OK(vhost_net_set_backend(&v, VHOST_NET_TX, tap, &f));

        /* TX: frames from guest memory come out of the other tap on the bridge. */
        deadline = now_ns(CLOCK_MONOTONIC) + 20 * NSEC_PER_SEC;
        while (got < 10 && now_ns(CLOCK_MONOTONIC) < deadline) {
                virtq_reap(&tx, NULL, NULL);
                if (virtq_refill(&tx, fill_frame, &seq) > 0)
                        ASSERT_OK(vhost_net_kick(&v, VHOST_NET_TX));
                for (;;) {
                        ssize_t k = read(peer, rbuf, sizeof rbuf);
                        if (k <= 0)
                                break;
                        got += vnet_frame_is_ours(rbuf, (size_t)k, false);
                }
                sleep_ns(NSEC_PER_MSEC);
        }
        ASSERT_TRUE(got >= 10);
        ASSERT_EQ(tx.bad, 0);
        /* RX: frames written into the peer tap land in guest memory, behind a virtio-net header. */
        {
                unsigned rx_got = 0;
                deadline = now_ns(CLOCK_MONOTONIC) + 20 * NSEC_PER_SEC;
                while (rx_got == 0 && now_ns(CLOCK_MONOTONIC) < deadline) {
                        size_t n = vnet_frame_build(rbuf, sizeof rbuf, 2, seq++, false);
                        ASSERT_EQ(write(peer, rbuf, n), (ssize_t)n);
                        sleep_ns(NSEC_PER_MSEC);
                        rx_got += virtq_reap(&rx, NULL, NULL);
                }
                ASSERT_TRUE(rx_got > 0);
                ASSERT_EQ(rx.bad, 0);
                printf("vhost-net: %" PRIu64 " TX descriptors used, %d frames out of the peer; %u RX\n",
                       tx.completed, got, rx_got);
        }
        vhost_net_close(&v);
        close(tap);
        close(peer);
        ASSERT_EQ(netlink_link_get(nl, it, NULL, NULL), -ENODEV);
        ASSERT_OK(netlink_link_delete(nl, br));
        munmap(mem, size);
}

int main(void)
{
        test_frames();
        test_vring_fake_device();
        if (geteuid() != 0)
                TEST_SKIP("needs root for taps in a network namespace of its own (the ring checks passed)");
        if (access(TUN_DEVICE_PATH, R_OK | W_OK) < 0)
                TEST_SKIP("no usable %s (the ring checks passed)", TUN_DEVICE_PATH);
        if (unshare(CLONE_NEWNET) < 0)
                TEST_SKIP("unshare(CLONE_NEWNET): %s", strerror(errno));
        test_taps();
        test_vhost_net();
        kvm_test_require();
        test_doorbell();
        kvm_test_assert_clean();
        printf("ok\n");
        return 0;
}
