/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=net: the network plumbing a real VMM has, torn down the way a
 * VMM dies. Each step starts VMs= VMM processes, each with a live VM
 * (kvm-vm.h) and a NIC the way QEMU builds one (vnet.h):
 *
 *   - a tap from /dev/net/tun, opened by the VMM, so it exists exactly as
 *     long as the VMM holds it, enslaved by the worker (libnl) to the
 *     step's bridge and brought up;
 *   - the guest rings a doorbell: its OUT to the guest port is a
 *     KVM_IOEVENTFD, so the vCPU stays inside KVM_RUN while it signals;
 *   - where /dev/vhost-net exists (VhostNet=), the doorbell is the TX kick
 *     of a vhost-net backend on the tap, with its virtqueues and frames in
 *     the VM's guest memory: frames go guest memory → vhost worker → tap →
 *     bridge; elsewhere the VMM's own thread reads the doorbell and writes
 *     frames into the tap, as QEMU's userspace virtio-net does;
 *   - with Veth=, a veth pair: one end a port of the bridge, the other in
 *     a network namespace of the VMM's own, which dies with the VMM;
 *   - with Netem=, a netem qdisc (delay, jitter, loss) on each tap and veth.
 *
 * Broadcast frames of ours then cross the bridge between the VMMs. Once
 * every guest runs and frames flow, End= picks how it ends:
 *
 *   sigkill       every VMM is SIGKILLed at once, guests inside KVM_RUN and
 *                 frames in flight: taps, vhost workers and the VMMs'
 *                 namespaces (with their veths) go in the kernel's exit path
 *   close         every VMM closes its NIC (vhost-net, then the tap) while its
 *                 guest still rings the doorbell; each tap must be gone before
 *                 the VMMs exit
 *   bridge-first  the bridge is deleted under the traffic, then the VMMs are
 *                 SIGKILLed
 *
 * After the end every link the step created must disappear; the worker
 * watches through netlink, counts each one destroyed and reports a link
 * that outlives its holder as link-survived.
 *
 * Where: by default the worker unshares a network namespace of its own at
 * start, so host networking is never touched and everything left in it
 * goes with the worker. Namespace=host puts the bridge and taps in the
 * host's namespace instead; that is destructive (the profile and the host
 * must opt in), and there a worker first sweeps links of ours whose owner
 * died (a crashed run): our links carry an ownership tag (pid and start
 * time of the worker) in their alias, and nothing without it is touched.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "action-net.h"
#include "kvm-proc.h"
#include "kvm-vm.h"
#include "vnet.h"

typedef enum NetEnd {
        END_SIGKILL,
        END_CLOSE,
        END_BRIDGE_FIRST,
        _END_MAX,
} NetEnd;

static const char *const end_names[_END_MAX + 1] = {
        [END_SIGKILL] = "sigkill",
        [END_CLOSE] = "close",
        [END_BRIDGE_FIRST] = "bridge-first",
        NULL,
};

enum { USE_NO, USE_YES, USE_IF_AVAILABLE };
static const char *const use_names[] = { "no", "yes", "if-available", NULL };
enum { NS_PRIVATE, NS_HOST };
static const char *const ns_names[] = { "private", "host", NULL };

typedef struct NetParams {
        uint64_t vms;
        uint64_t vcpus;
        Range run;
        Weighted end;
        bool veth;
        unsigned netem;
        uint64_t netem_delay;
        uint64_t netem_jitter;
        uint64_t netem_loss;
        unsigned vhost;
        unsigned ns;
} NetParams;

static const Outcome net_outcomes[_NET_OUT_MAX] = {
        [NET_OUT_SIGKILL] = { "sigkill", OUTCOME_OK,
                              "the VMMs were SIGKILLed with guests in KVM_RUN and frames crossing the bridge; "
                              "every tap and veth went with them" },
        [NET_OUT_CLOSE] = { "close", OUTCOME_OK,
                            "the VMMs closed their NICs under traffic; each tap went at its close" },
        [NET_OUT_BRIDGE_FIRST] = { "bridge-first", OUTCOME_OK,
                                   "the bridge was deleted under traffic, then the VMMs SIGKILLed" },
        [NET_OUT_KVM_GONE] = { "kvm-gone", OUTCOME_EXPECTED, "/dev/kvm is gone (module unloaded)" },
        [NET_OUT_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR,
                                "the host refused a resource (EMFILE, ENOMEM, ENOBUFS, a KVM limit)" },
        [NET_OUT_LINK_SURVIVED] = { "link-survived", OUTCOME_FAILURE,
                                    "a link outlived the process or namespace that held it" },
        [NET_OUT_FAILURE] = { "failure", OUTCOME_FAILURE, "the plumbing did what it should not" },
};

static const char *const net_metrics[_NET_M_MAX + 1] = {
        [NET_M_VMS] = "vms",
        [NET_M_LINKS_CREATED] = "links_created",
        [NET_M_LINKS_DESTROYED] = "links_destroyed",
        [NET_M_FRAMES_TX] = "frames_tx",
        [NET_M_FRAMES_RX] = "frames_rx",
        [NET_M_NETEM] = "netem_qdiscs",
        [NET_M_VHOST] = "vhost_nics",
        [NET_M_TEARDOWN_US] = "teardown_us",
        NULL,
};

_Static_assert(_NET_M_MAX <= ACTION_METRICS_MAX, "too many metrics");

static const char *const net_phases[] = {
        "net:bridge",        /* the step's bridge being created */
        "net:setup",         /* VMMs building VMs and taps; links enslaved, netem set, veths made */
        "net:run",           /* guests run, frames cross the bridge */
        "net:sigkill",       /* the VMMs are about to be SIGKILLed */
        "net:close",         /* the VMMs close their NICs */
        "net:bridge-delete", /* the bridge is deleted under traffic */
        "net:teardown",      /* waiting for every link to disappear */
        NULL,
};

#define NET_VCPUS_MAX 64

static const KeySpec net_keys[] = {
        { "VMs", KEY_UINT, offsetof(NetParams, vms), "2", 1, NET_VMS_MAX, NULL,
          "VMM processes per step, each with a VM and a tap on the step's bridge" },
        { "VCPUs", KEY_UINT, offsetof(NetParams, vcpus), "1", 1, NET_VCPUS_MAX, NULL,
          "vCPUs per VM, each ringing the NIC's doorbell from inside KVM_RUN" },
        { "Run", KEY_RANGE, offsetof(NetParams, run), "1ms..10ms", 0, 10 * NSEC_PER_SEC, NULL,
          "how long frames flow before the end (at least until every NIC sent and, with 2+ VMs, one received)" },
        { "End", KEY_WEIGHTED, offsetof(NetParams, end), "sigkill", 1, 0, end_names,
          "how the plumbing ends, WORD[:WEIGHT]" },
        { "Veth", KEY_BOOL, offsetof(NetParams, veth), "no", 0, 0, NULL,
          "also give each VMM a veth pair: one end on the bridge, the peer in a network namespace of the VMM's own" },
        { "Netem", KEY_CHOICE, offsetof(NetParams, netem), "no", 0, 0, use_names,
          "a netem qdisc on every tap and veth: yes (the host must have sch_netem), if-available, no" },
        { "NetemDelay", KEY_DURATION, offsetof(NetParams, netem_delay), "1ms", 0, NSEC_PER_SEC, NULL,
          "netem delay, up to 1s" },
        { "NetemJitter", KEY_DURATION, offsetof(NetParams, netem_jitter), "0", 0, NSEC_PER_SEC, NULL,
          "netem jitter around the delay, up to 1s" },
        { "NetemLoss", KEY_UINT, offsetof(NetParams, netem_loss), "1", 0, 90, NULL,
          "netem loss in percent, 0..90 (frames must still cross the bridge)" },
        { "VhostNet", KEY_CHOICE, offsetof(NetParams, vhost), "no", 0, 0, use_names,
          "NICs on a vhost-net backend: yes (the host must have /dev/vhost-net), if-available, no" },
        { "Namespace", KEY_CHOICE, offsetof(NetParams, ns), "private", 0, 0, ns_names,
          "private: a network namespace the worker creates; host: the host's own (destructive)" },
        {}
};

/* How long a VMM may take to reach its next state, frames may take to flow, links may take to go. */
#define VMM_TIMEOUT_NS (30 * NSEC_PER_SEC)
#define TRAFFIC_TIMEOUT_NS (30 * NSEC_PER_SEC)
#define LINK_GONE_TIMEOUT_NS (30 * NSEC_PER_SEC)

/* A VMM's guest memory: one memslot with the guest at 0 and the NIC's virtqueues from NIC_GPA. */
#define VM_MEM_SIZE (512 * 1024)
#define NIC_GPA 0x10000
#define NIC_QUEUE_NUM 64
#define NIC_TX_BUF 128
#define NIC_RX_BUF 2048
/* The VMM's NIC thread: a burst of frames every poll. */
#define NIC_POLL_NS (200 * NSEC_PER_USEC)
#define NIC_TX_BURST 8
/* The VMM's end of its veth, in its own namespace. */
#define VETH_PEER_NAME "eth0"

_Static_assert(NIC_GPA >= GUEST_SLOT0_MIN, "the NIC must not overlap the guest");

enum { VMM_SETUP, VMM_READY, VMM_RUNNING, VMM_CLOSED, VMM_FAILED };
static const char *const vmm_states[] = { "setting up", "ready", "running", "closed", "failed" };
enum { GO_WAIT, GO_RUN, GO_EXIT };
enum { FAIL_FAILURE, FAIL_ENV, FAIL_KVM_GONE };

/* One VMM's page shared with the worker. */
typedef struct NetVmm {
        _Atomic uint32_t state; /* VMM_*: set by the VMM */
        _Atomic uint32_t go;    /* GO_*: set by the worker */
        _Atomic uint32_t close; /* End=close: the worker asks the VMM to close its NIC */
        int32_t tap_ifindex;
        uint32_t vhost; /* the NIC runs on vhost-net */
        _Atomic uint64_t exits; /* the VMM's exits to userspace */
        _Atomic uint64_t tx, rx, doorbells;
        uint64_t exits_at_running;
        uint64_t bad_used; /* used entries vhost returned that it never had */
        uint32_t fail_kind;
        int32_t error;
        char why[STEP_DETAIL_MAX];
} NetVmm;

typedef struct NetState {
        Netlink *nl;
        char token[8];     /* base 36 of the worker's pid: names are unique per live worker */
        char alias[160];   /* the ownership tag */
        char bridge[IFNAMSIZ];
        int bridge_ifindex;
        bool netem, vhost; /* what the NICs get, resolved against the host */
        bool netem_checked;
        uint8_t *mem; /* VMs × VM_MEM_SIZE, MAP_SHARED: the VMMs' guest memory, read here */
        NetVmm *vmm;  /* VMs pages */
        size_t n_vmm;

        /* The step in flight. */
        pid_t pid[NET_VMS_MAX];
        char tap[NET_VMS_MAX][IFNAMSIZ];
        char veth[NET_VMS_MAX][IFNAMSIZ];
        int tap_ifindex[NET_VMS_MAX];
        int veth_ifindex[NET_VMS_MAX];
} NetState;

static const NetObserver *observer;

void action_net_set_observer(const NetObserver *o)
{
        observer = o;
}

/* ---- ownership ---- */

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
static int proc_start_time(pid_t pid, uint64_t *ret)
{
        char path[64], buf[1024], *p;
        unsigned long long start;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        /* The command name may hold anything, spaces and parentheses included: fields follow the last ')'. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &start) != 1)
                return -EIO;
        *ret = start;
        return 0;
}

int net_owner_tag(char *buf, size_t len, pid_t owner, const char *run_id, const char *actor, unsigned instance)
{
        uint64_t start;
        int r = proc_start_time(owner, &start), k;

        if (r < 0)
                return r;
        k = snprintf(buf, len, "hvtorture owner=%d:%" PRIu64 " run=%s actor=%s/%u", (int)owner, start,
                     run_id ? run_id : "-", actor, instance);
        return k < 0 || (size_t)k >= len ? -ENOBUFS : 0;
}

int net_owner_parse(const char *alias, pid_t *ret_pid, uint64_t *ret_start)
{
        unsigned long long start;
        int pid, n = 0;

        if (sscanf(alias, "hvtorture owner=%d:%llu%n", &pid, &start, &n) != 2 || n == 0 || pid <= 0 ||
            (alias[n] != ' ' && alias[n] != '\0'))
                return -EINVAL;
        *ret_pid = pid;
        *ret_start = start;
        return 0;
}

bool net_owner_alive(pid_t pid, uint64_t start)
{
        uint64_t now;
        return proc_start_time(pid, &now) >= 0 && now == start;
}

int net_sweep(Netlink *nl, NetSweep *ret)
{
        _cleanup_free_ NetlinkLink *links = NULL;
        size_t n = 0;
        int r, first = 0;

        *ret = (NetSweep){};
        r = netlink_link_list(nl, &links, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                NetlinkLink *l = &links[i];
                uint64_t start;
                pid_t pid;

                if (!startswith(l->name, NET_LINK_PREFIX))
                        continue;
                if (net_owner_parse(l->alias, &pid, &start) < 0) {
                        if (ret->foreign++ == 0)
                                snprintf(ret->first_foreign, sizeof ret->first_foreign, "%s", l->name);
                        continue;
                }
                if (net_owner_alive(pid, start)) {
                        ret->live++;
                        continue;
                }
                r = netlink_link_delete(nl, l->ifindex);
                /* Gone already: the other end of a veth pair deleted a moment ago. */
                if (r == -ENODEV)
                        continue;
                if (r < 0) {
                        if (first == 0)
                                first = r;
                        continue;
                }
                if (ret->swept++ == 0)
                        snprintf(ret->first_swept, sizeof ret->first_swept, "%s", l->name);
        }
        return first;
}

/* ---- results ---- */

_printf_(4, 5) static int result(StepResult *ret, unsigned outcome, int error, const char *format, ...)
{
        va_list ap;

        ret->outcome = outcome;
        ret->error = error;
        va_start(ap, format);
        vsnprintf(ret->detail, sizeof ret->detail, format, ap);
        va_end(ap);
        return 0;
}

static bool error_is_env(int error)
{
        return kvm_error_is_env(error) || error == -ENOBUFS || error == -EAGAIN;
}

/* A failed netlink request: an environment error or a failure, with the request in words. */
static int result_netlink(StepResult *ret, const NetlinkFail *f, const char *context)
{
        char d[STEP_DETAIL_MAX];

        netlink_fail_describe(f, d, sizeof d);
        return result(ret, error_is_env(f->error) ? NET_OUT_ENV_ERROR : NET_OUT_FAILURE, f->error, "%s: %s",
                      context, d);
}

/* ---- the VMM ---- */

_noreturn_ _printf_(4, 5) static void vmm_fail(NetVmm *sh, int error, unsigned kind, const char *format, ...)
{
        va_list ap;

        sh->error = error;
        sh->fail_kind = kind != FAIL_FAILURE ? kind : error_is_env(error) ? FAIL_ENV : FAIL_FAILURE;
        va_start(ap, format);
        vsnprintf(sh->why, sizeof sh->why, format, ap);
        va_end(ap);
        futex_set(&sh->state, VMM_FAILED);
        proc_exit(1);
}

_noreturn_ static void vmm_fail_kvm(NetVmm *sh, const KvmFail *f)
{
        char d[STEP_DETAIL_MAX];

        kvm_fail_describe(f, d, sizeof d);
        if (f->op == KVM_OP_OPEN && kvm_error_is_gone(f->error))
                vmm_fail(sh, f->error, FAIL_KVM_GONE, "%s", d);
        vmm_fail(sh, f->error, FAIL_FAILURE, "%s", d);
}

_noreturn_ static void vmm_fail_vnet(NetVmm *sh, const VnetFail *f, const char *what)
{
        char d[STEP_DETAIL_MAX];

        vmm_fail(sh, f->error, FAIL_FAILURE, "%s%s", what, vnet_fail_describe(f, d, sizeof d));
}

/* The VMM's end of its veth, up, in its own namespace. */
static int veth_peer_up(void)
{
        _cleanup_close_ int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {};

        if (sock < 0)
                return negative_errno();
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", VETH_PEER_NAME);
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
                return negative_errno();
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
                return negative_errno();
        return 0;
}

typedef struct TxFill {
        uint16_t sender;
        uint64_t seq;
} TxFill;

static size_t tx_fill(uint8_t *buf, uint32_t size, void *userdata)
{
        TxFill *t = userdata;
        return vnet_frame_build(buf, size, t->sender, t->seq++, true);
}

static void rx_seen(const uint8_t *buf, uint32_t len, void *userdata)
{
        NetVmm *sh = userdata;
        if (vnet_frame_is_ours(buf, len, true))
                atomic_fetch_add_explicit(&sh->rx, 1, memory_order_relaxed);
}

/*
 * The VMM process: tap, VM, doorbell, NIC backend; reports READY, waits
 * for its links to be configured, runs its guest, and moves frames until
 * it is killed — or, with close, closes its NIC and waits to be let go.
 */
_noreturn_ static void vmm_main(const NetParams *p, NetState *s, unsigned i, uint16_t sender)
{
        NetVmm *sh = &s->vmm[i];
        uint8_t *mem = s->mem + (size_t)i * VM_MEM_SIZE;
        VhostNet v = { .fd = -1, .kick = { -1, -1 }, .call = { -1, -1 } };
        Virtq tx, rx;
        TxFill fill = { .sender = sender };
        KvmVm *vm = NULL;
        VnetFail vf = {};
        int tap, ifindex, doorbell, r;

        guest_load(mem, (unsigned)p->vcpus);
        /* The tap first, in the namespace of the bridge; it lives as long as this process holds it. */
        r = tap_open(s->tap[i], s->vhost, &tap, &ifindex, &vf);
        if (r < 0)
                vmm_fail_vnet(sh, &vf, "");
        if (p->veth && unshare(CLONE_NEWNET) < 0)
                vmm_fail(sh, negative_errno(), FAIL_FAILURE, "unshare(CLONE_NEWNET) for the VMM's veth peer: %m");

        r = kvm_vm_new(&vm);
        if (r < 0)
                vm ? vmm_fail_kvm(sh, &vm->fail) : vmm_fail(sh, r, FAIL_ENV, "out of memory");
        if (kvm_vm_set_memslot(vm, 0, 0, 0, VM_MEM_SIZE, mem) < 0)
                vmm_fail_kvm(sh, &vm->fail);
        while (vm->n_vcpus < p->vcpus)
                if (kvm_vm_add_vcpu(vm) < 0)
                        vmm_fail_kvm(sh, &vm->fail);
        /* Each vCPU runs guest code once before the doorbell exists: its OUT exits to us. */
        for (unsigned c = 0; c < vm->n_vcpus; c++)
                if (kvm_vm_run_vcpu(vm, c, 1) < 0)
                        vmm_fail_kvm(sh, &vm->vcpus[c].fail);

        if (s->vhost) {
                uint8_t *nic = mem + NIC_GPA;
                size_t rx_len = virtq_area_size(NIC_QUEUE_NUM, NIC_RX_BUF);

                if (vhost_net_open(&v, &vf) < 0)
                        vmm_fail_vnet(sh, &vf, "");
                if (vhost_net_set_memory(&v, 0, VM_MEM_SIZE, mem, &vf) < 0)
                        vmm_fail_vnet(sh, &vf, "");
                r = virtq_init(&rx, nic, NIC_GPA, rx_len, NIC_QUEUE_NUM, NIC_RX_BUF, true);
                if (r >= 0)
                        r = virtq_init(&tx, nic + rx_len, NIC_GPA + rx_len, VM_MEM_SIZE - NIC_GPA - rx_len,
                                       NIC_QUEUE_NUM, NIC_TX_BUF, false);
                if (r < 0)
                        vmm_fail(sh, r, FAIL_FAILURE, "virtqueues do not fit the VM's %uK", VM_MEM_SIZE / 1024);
                if (vhost_net_set_queue(&v, VHOST_NET_RX, &rx, &vf) < 0 ||
                    vhost_net_set_queue(&v, VHOST_NET_TX, &tx, &vf) < 0)
                        vmm_fail_vnet(sh, &vf, "");
                virtq_refill(&rx, NULL, NULL);
                virtq_refill(&tx, tx_fill, &fill);
                if (vhost_net_set_backend(&v, VHOST_NET_RX, tap, &vf) < 0 ||
                    vhost_net_set_backend(&v, VHOST_NET_TX, tap, &vf) < 0)
                        vmm_fail_vnet(sh, &vf, "");
                /* The guest's doorbell is the TX kick: vhost sends what the ring holds each time it rings. */
                doorbell = v.kick[VHOST_NET_TX];
                sh->vhost = 1;
        } else {
                doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (doorbell < 0)
                        vmm_fail(sh, negative_errno(), FAIL_FAILURE, "eventfd for the doorbell: %m");
        }
        if (vnet_doorbell(vm->vm_fd, GUEST_PORT, doorbell, true, &vf) < 0)
                vmm_fail_vnet(sh, &vf, "");

        vm->shared_exits = &sh->exits;
        sh->tap_ifindex = ifindex;
        futex_set(&sh->state, VMM_READY);
        while (atomic_load(&sh->go) == GO_WAIT)
                (void)futex_wait_change(&sh->go, GO_WAIT, VMM_TIMEOUT_NS);
        if (atomic_load(&sh->go) == GO_EXIT)
                proc_exit(0);

        if (p->veth && (r = veth_peer_up()) < 0)
                vmm_fail(sh, r, FAIL_FAILURE, "bringing up the VMM's veth end %s: %s", VETH_PEER_NAME, strerror(-r));
        r = kvm_vm_start_threads(vm, 0);
        if (r < 0)
                vmm_fail_kvm(sh, &vm->fail);
        sh->exits_at_running = atomic_load(&sh->exits);
        futex_set(&sh->state, VMM_RUNNING);

        /* The NIC's own thread: this one. Frames in and out until killed or asked to close. */
        while (!atomic_load_explicit(&sh->close, memory_order_acquire)) {
                if (s->vhost) {
                        atomic_fetch_add_explicit(&sh->tx, virtq_reap(&tx, NULL, NULL), memory_order_relaxed);
                        virtq_refill(&tx, tx_fill, &fill);
                        virtq_reap(&rx, rx_seen, sh);
                        if (virtq_refill(&rx, NULL, NULL) > 0)
                                (void)vhost_net_kick(&v, VHOST_NET_RX);
                        sh->bad_used = tx.bad + rx.bad;
                } else {
                        uint8_t buf[NIC_RX_BUF];
                        uint64_t rung;

                        if (read(doorbell, &rung, sizeof rung) == sizeof rung)
                                atomic_fetch_add_explicit(&sh->doorbells, rung, memory_order_relaxed);
                        for (unsigned k = 0; k < NIC_TX_BURST; k++) {
                                size_t n = vnet_frame_build(buf, sizeof buf, sender, fill.seq++, false);
                                if (write(tap, buf, n) == (ssize_t)n)
                                        atomic_fetch_add_explicit(&sh->tx, 1, memory_order_relaxed);
                        }
                        for (;;) {
                                ssize_t n = read(tap, buf, sizeof buf);
                                if (n <= 0)
                                        break;
                                if (vnet_frame_is_ours(buf, (size_t)n, false))
                                        atomic_fetch_add_explicit(&sh->rx, 1, memory_order_relaxed);
                        }
                }
                sleep_ns(NIC_POLL_NS);
        }

        /* End=close: the NIC goes while the guest still rings its doorbell; the VM stays until we are let go. */
        vhost_net_close(&v);
        close(tap);
        futex_set(&sh->state, VMM_CLOSED);
        while (atomic_load(&sh->go) != GO_EXIT)
                (void)futex_wait_change(&sh->go, GO_RUN, VMM_TIMEOUT_NS);
        proc_exit(0);
}

/* ---- the worker's side ---- */

static void base36(char *buf, size_t len, uint64_t v)
{
        char tmp[16];
        size_t n = 0;

        do {
                tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
                v /= 36;
        } while (v && n < sizeof tmp);
        for (size_t i = 0; i < n && i + 1 < len; i++)
                buf[i] = tmp[n - 1 - i];
        buf[MIN(n, len - 1)] = '\0';
}

/* The step's bridge: each step makes its own, and its teardown deletes it. */
static int ensure_bridge(Worker *w, NetState *s, StepResult *ret)
{
        int r;

        if (s->bridge_ifindex > 0)
                return 0;
        worker_set_phase(w, "net:bridge");
        r = netlink_bridge_add(s->nl, s->bridge, s->alias, &s->bridge_ifindex);
        if (r < 0)
                return result_netlink(ret, &s->nl->fail, "creating the bridge"), r;
        ret->metrics[NET_M_LINKS_CREATED]++;
        return 0;
}

/* netem on one link; with Netem=if-available the first "no such qdisc" turns it off for the run. */
static int add_netem(Worker *w, const NetParams *p, NetState *s, int ifindex, StepResult *ret)
{
        char d[STEP_DETAIL_MAX];
        int r;

        if (!s->netem)
                return 0;
        r = netlink_netem_add(s->nl, ifindex, (uint32_t)(p->netem_delay / NSEC_PER_USEC),
                              (uint32_t)(p->netem_jitter / NSEC_PER_USEC), (uint32_t)(p->netem_loss * 10000));
        if (r >= 0) {
                s->netem_checked = true;
                ret->metrics[NET_M_NETEM]++;
                return 0;
        }
        if (p->netem == USE_IF_AVAILABLE && !s->netem_checked && (r == -ENOENT || r == -EOPNOTSUPP)) {
                s->netem = false;
                worker_note(w, "no netem: %s", netlink_fail_describe(&s->nl->fail, d, sizeof d));
                return 0;
        }
        return result_netlink(ret, &s->nl->fail, "setting netem"), r;
}

/* Waits until a link is gone; true if it went within the bound. */
static bool link_gone(NetState *s, int ifindex, uint64_t deadline)
{
        for (;;) {
                int r = netlink_link_get(s->nl, ifindex, NULL, NULL);
                if (r == -ENODEV)
                        return true;
                if (now_ns(CLOCK_MONOTONIC) >= deadline)
                        return false;
                sleep_ns(200 * NSEC_PER_USEC);
        }
}

typedef struct Step {
        unsigned n; /* VMMs forked */
        bool failed;
} Step;

/*
 * Kills and reaps every VMM still alive, waits for every tap and veth of
 * the step to disappear, then deletes the bridge; counts each link gone.
 * The first link that did not go is named in survived ("" when all
 * went). Every path of a step ends here: no link outlives its step.
 */
static void teardown(NetState *s, Step *st, StepResult *ret, char *survived, size_t len)
{
        uint64_t deadline;

        for (unsigned i = 0; i < st->n; i++)
                if (s->pid[i] > 0)
                        s->pid[i] = proc_kill_reap(s->pid[i]);
        survived[0] = '\0';
        deadline = now_ns(CLOCK_MONOTONIC) + LINK_GONE_TIMEOUT_NS;
        for (unsigned i = 0; i < st->n; i++) {
                if (s->tap_ifindex[i] > 0) {
                        if (link_gone(s, s->tap_ifindex[i], deadline))
                                ret->metrics[NET_M_LINKS_DESTROYED]++;
                        else if (!survived[0])
                                snprintf(survived, len, "tap %s (ifindex %d)", s->tap[i], s->tap_ifindex[i]);
                        s->tap_ifindex[i] = 0;
                }
                if (s->veth_ifindex[i] > 0) {
                        if (link_gone(s, s->veth_ifindex[i], deadline))
                                ret->metrics[NET_M_LINKS_DESTROYED]++;
                        else if (!survived[0])
                                snprintf(survived, len, "veth %s (ifindex %d)", s->veth[i], s->veth_ifindex[i]);
                        s->veth_ifindex[i] = 0;
                }
        }
        /* The bridge last, its ports gone: the next step makes a new one. */
        if (s->bridge_ifindex > 0) {
                int r = netlink_link_delete(s->nl, s->bridge_ifindex);
                if ((r >= 0 || r == -ENODEV) && link_gone(s, s->bridge_ifindex, deadline))
                        ret->metrics[NET_M_LINKS_DESTROYED]++;
                else if (!survived[0])
                        snprintf(survived, len, "bridge %s (ifindex %d)", s->bridge, s->bridge_ifindex);
                s->bridge_ifindex = 0;
        }
}

/* A failed step: the VMMs go and the links are counted away; a link that stays outranks the failure. */
static int abort_step(NetState *s, Step *st, StepResult *ret)
{
        char survived[64], why[STEP_DETAIL_MAX];

        teardown(s, st, ret, survived, sizeof survived);
        if (!survived[0])
                return 0;
        snprintf(why, sizeof why, "%s", ret->detail);
        return result(ret, NET_OUT_LINK_SURVIVED, -EBUSY, "%s still exists %llus after its holder went (the step "
                      "had failed: %s)", survived, LINK_GONE_TIMEOUT_NS / NSEC_PER_SEC, why);
}

/* The result for a VMM that reported a failure (or died without one). */
static int vmm_failed(NetState *s, unsigned i, int status, StepResult *ret)
{
        NetVmm *sh = &s->vmm[i];
        char b[64];

        if (atomic_load(&sh->state) == VMM_FAILED)
                return result(ret,
                              sh->fail_kind == FAIL_KVM_GONE ? NET_OUT_KVM_GONE
                              : sh->fail_kind == FAIL_ENV    ? NET_OUT_ENV_ERROR
                                                             : NET_OUT_FAILURE,
                              sh->error, "VMM %u: %s", i, sh->why);
        return result(ret, NET_OUT_FAILURE, -ECHILD, "VMM %u %s during setup", i,
                      proc_status_describe(status, b, sizeof b));
}

/* Waits for VMM i to leave state from; on failure fills ret (the caller aborts the step). */
static int wait_vmm(NetState *s, unsigned i, uint32_t from, StepResult *ret)
{
        NetVmm *sh = &s->vmm[i];
        int status = 0, r;

        r = proc_wait_word(&sh->state, from, s->pid[i], VMM_TIMEOUT_NS);
        if (r >= 0 && atomic_load(&sh->state) != VMM_FAILED)
                return 0;
        if (r == -ETIMEDOUT)
                return result(ret, NET_OUT_FAILURE, r, "VMM %u was still %s after %llus", i, vmm_states[from],
                              VMM_TIMEOUT_NS / NSEC_PER_SEC), -1;
        (void)proc_wait(s->pid[i], VMM_TIMEOUT_NS, &status);
        s->pid[i] = 0;
        return vmm_failed(s, i, status, ret), -1;
}

/* The sum of VMM i's guest loop counters, read from its guest memory. */
static uint64_t guest_loops(const NetParams *p, NetState *s, unsigned i)
{
        uint64_t n = 0;

        for (unsigned c = 0; c < p->vcpus; c++)
                n += *guest_counter(s->mem + (size_t)i * VM_MEM_SIZE, c);
        return n;
}

/* Frames must flow and every guest must run before the end: the plumbing is live, not just present. */
static int wait_traffic(const NetParams *p, NetState *s, Step *st, const uint64_t *loops0, StepResult *ret)
{
        uint64_t deadline = now_ns(CLOCK_MONOTONIC) + TRAFFIC_TIMEOUT_NS;
        bool need_rx = st->n >= 2;

        for (;;) {
                uint64_t tx = 0, rx = 0;
                bool all = true;

                for (unsigned i = 0; i < st->n; i++) {
                        NetVmm *sh = &s->vmm[i];

                        if (atomic_load(&sh->state) != VMM_RUNNING || !proc_alive(s->pid[i])) {
                                int status = 0;
                                (void)proc_wait(s->pid[i], VMM_TIMEOUT_NS, &status);
                                s->pid[i] = 0;
                                return vmm_failed(s, i, status, ret), -1;
                        }
                        if (guest_loops(p, s, i) == loops0[i] || atomic_load(&sh->tx) == 0)
                                all = false;
                        tx += atomic_load(&sh->tx);
                        rx += atomic_load(&sh->rx);
                }
                if (all && (!need_rx || rx > 0))
                        return 0;
                if (now_ns(CLOCK_MONOTONIC) >= deadline)
                        return result(ret, NET_OUT_FAILURE, -ETIMEDOUT,
                                      "within %llus not every guest ran and sent, or no frame crossed the bridge "
                                      "(%" PRIu64 " sent, %" PRIu64 " received)",
                                      TRAFFIC_TIMEOUT_NS / NSEC_PER_SEC, tx, rx), -1;
                sleep_ns(NSEC_PER_MSEC);
        }
}

static int net_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const NetParams *p = params;
        NetState *s = state;
        Prng *prng = worker_prng(w);
        NetEnd end = (NetEnd)p->end.choice[prng_weighted(prng, p->end.weight, p->end.n)];
        uint64_t run_ns = prng_range(prng, p->run.lo, p->run.hi);
        uint64_t loops0[NET_VMS_MAX] = {}, t_end, tx = 0, rx = 0, bad = 0;
        Step st = {};
        char survived[64];
        int r;

        if (ensure_bridge(w, s, ret) < 0)
                return 0;

        /* The VMMs: each builds its VM and opens its tap. */
        worker_set_phase(w, "net:setup");
        memset(s->vmm, 0, sizeof(NetVmm) * s->n_vmm);
        for (unsigned i = 0; i < p->vms; i++) {
                pid_t pid;

                s->tap_ifindex[i] = s->veth_ifindex[i] = 0;
                pid = proc_fork_child();
                if (pid < 0) {
                        result(ret, error_is_env(pid) ? NET_OUT_ENV_ERROR : NET_OUT_FAILURE, pid,
                               "fork VMM %u: %s", i, strerror(-pid));
                        return abort_step(s, &st, ret);
                }
                if (pid == 0)
                        vmm_main(p, s, i, (uint16_t)(worker_instance(w) * NET_VMS_MAX + i));
                s->pid[i] = pid;
                st.n++;
        }

        /* Each tap onto the bridge, up and tagged; netem; a veth into the VMM's own namespace. */
        for (unsigned i = 0; i < st.n; i++) {
                if (wait_vmm(s, i, VMM_SETUP, ret) < 0)
                        return abort_step(s, &st, ret);
                s->tap_ifindex[i] = s->vmm[i].tap_ifindex;
                ret->metrics[NET_M_LINKS_CREATED]++;
                r = netlink_link_set(s->nl, s->tap_ifindex[i], s->bridge_ifindex, true, s->alias);
                if (r < 0) {
                        result_netlink(ret, &s->nl->fail, "enslaving a tap");
                        return abort_step(s, &st, ret);
                }
                if (add_netem(w, p, s, s->tap_ifindex[i], ret) < 0)
                        return abort_step(s, &st, ret);
                if (!p->veth)
                        continue;
                r = netlink_veth_add(s->nl, s->veth[i], s->alias, VETH_PEER_NAME, s->pid[i], &s->veth_ifindex[i]);
                if (r < 0) {
                        result_netlink(ret, &s->nl->fail, "creating a veth pair");
                        return abort_step(s, &st, ret);
                }
                ret->metrics[NET_M_LINKS_CREATED]++;
                r = netlink_link_set(s->nl, s->veth_ifindex[i], s->bridge_ifindex, true, NULL);
                if (r < 0) {
                        result_netlink(ret, &s->nl->fail, "enslaving a veth");
                        return abort_step(s, &st, ret);
                }
                if (add_netem(w, p, s, s->veth_ifindex[i], ret) < 0)
                        return abort_step(s, &st, ret);
        }

        /* Go: guests run and ring their doorbells, frames cross the bridge. */
        for (unsigned i = 0; i < st.n; i++)
                futex_set(&s->vmm[i].go, GO_RUN);
        for (unsigned i = 0; i < st.n; i++) {
                if (wait_vmm(s, i, VMM_READY, ret) < 0)
                        return abort_step(s, &st, ret);
                loops0[i] = guest_loops(p, s, i);
        }
        worker_set_phase(w, "net:run");
        if (run_ns)
                sleep_ns(run_ns);
        if (wait_traffic(p, s, &st, loops0, ret) < 0)
                return abort_step(s, &st, ret);

        if (observer && observer->live) {
                NetLive live = {
                        .bridge = s->bridge,
                        .bridge_ifindex = s->bridge_ifindex,
                        .n_vms = st.n,
                        .vmm = s->pid,
                        .tap = s->tap,
                        .tap_ifindex = s->tap_ifindex,
                        .veth = s->veth,
                        .veth_ifindex = s->veth_ifindex,
                        .netem = s->netem,
                        .vhost = s->vhost,
                        .end = end_names[end],
                };
                observer->live(&live, observer->userdata);
        }

        /* The end. */
        t_end = now_ns(CLOCK_MONOTONIC);
        if (end == END_BRIDGE_FIRST) {
                worker_set_phase(w, "net:bridge-delete");
                r = netlink_link_delete(s->nl, s->bridge_ifindex);
                if (r < 0) {
                        result_netlink(ret, &s->nl->fail, "deleting the bridge under traffic");
                        return abort_step(s, &st, ret);
                }
                if (!link_gone(s, s->bridge_ifindex, now_ns(CLOCK_MONOTONIC) + LINK_GONE_TIMEOUT_NS)) {
                        result(ret, NET_OUT_LINK_SURVIVED, -EBUSY, "bridge %s (ifindex %d) still exists %llus after "
                               "RTM_DELLINK", s->bridge, s->bridge_ifindex, LINK_GONE_TIMEOUT_NS / NSEC_PER_SEC);
                        return abort_step(s, &st, ret);
                }
                ret->metrics[NET_M_LINKS_DESTROYED]++;
                s->bridge_ifindex = 0;
        }
        if (end == END_CLOSE) {
                worker_set_phase(w, "net:close");
                for (unsigned i = 0; i < st.n; i++)
                        futex_set(&s->vmm[i].close, 1);
                for (unsigned i = 0; i < st.n; i++)
                        if (wait_vmm(s, i, VMM_RUNNING, ret) < 0)
                                return abort_step(s, &st, ret);
                /* Each tap must be gone now, its VMM still alive with its guest running: the close did it. */
                for (unsigned i = 0; i < st.n; i++) {
                        if (!link_gone(s, s->tap_ifindex[i], now_ns(CLOCK_MONOTONIC) + LINK_GONE_TIMEOUT_NS)) {
                                result(ret, NET_OUT_LINK_SURVIVED, -EBUSY,
                                       "tap %s (ifindex %d) still exists %llus after its VMM closed it", s->tap[i],
                                       s->tap_ifindex[i], LINK_GONE_TIMEOUT_NS / NSEC_PER_SEC);
                                return abort_step(s, &st, ret);
                        }
                        ret->metrics[NET_M_LINKS_DESTROYED]++;
                        s->tap_ifindex[i] = 0;
                }
                for (unsigned i = 0; i < st.n; i++)
                        futex_set(&s->vmm[i].go, GO_EXIT);
        } else {
                worker_set_phase(w, end == END_SIGKILL ? "net:sigkill" : "net:bridge-delete");
                for (unsigned i = 0; i < st.n; i++)
                        (void)kill(s->pid[i], SIGKILL);
        }

        /* Reap, and check each VMM died the way it was meant to, its guest never having left KVM_RUN. */
        for (unsigned i = 0; i < st.n; i++) {
                NetVmm *sh = &s->vmm[i];
                int status = 0;
                char b[64];

                r = proc_wait(s->pid[i], VMM_TIMEOUT_NS, &status);
                s->pid[i] = 0;
                if (r < 0 && r != -ETIMEDOUT && !st.failed) {
                        result(ret, NET_OUT_FAILURE, r, "waiting for VMM %u: %s", i, strerror(-r));
                        st.failed = true;
                }
                if (st.failed)
                        continue;
                if (end == END_CLOSE ? !(WIFEXITED(status) && WEXITSTATUS(status) == 0)
                                     : !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
                        result(ret, NET_OUT_FAILURE, -EPROTO, "VMM %u %s, not by %s", i,
                               proc_status_describe(status, b, sizeof b),
                               end == END_CLOSE ? "exiting after its close" : "our SIGKILL");
                        st.failed = true;
                } else if (atomic_load(&sh->exits) != sh->exits_at_running) {
                        result(ret, NET_OUT_FAILURE, -EPROTO,
                               "VMM %u's guest exited to userspace %" PRIu64 " times while ringing its doorbell", i,
                               atomic_load(&sh->exits) - sh->exits_at_running);
                        st.failed = true;
                }
                tx += atomic_load(&sh->tx);
                rx += atomic_load(&sh->rx);
                bad += sh->bad_used;
                ret->metrics[NET_M_VMS]++;
                ret->metrics[NET_M_VHOST] += sh->vhost;
        }
        ret->metrics[NET_M_FRAMES_TX] += tx;
        ret->metrics[NET_M_FRAMES_RX] += rx;

        worker_set_phase(w, "net:teardown");
        teardown(s, &st, ret, survived, sizeof survived);
        ret->metrics[NET_M_TEARDOWN_US] += (now_ns(CLOCK_MONOTONIC) - t_end) / NSEC_PER_USEC;
        if (survived[0])
                return result(ret, NET_OUT_LINK_SURVIVED, -EBUSY, "%s still exists %llus after its %s", survived,
                              LINK_GONE_TIMEOUT_NS / NSEC_PER_SEC,
                              end == END_CLOSE ? "VMM closed it and exited" : "VMM was SIGKILLed");
        if (st.failed)
                return 0;
        if (bad)
                return result(ret, NET_OUT_FAILURE, -EPROTO, "vhost-net returned %" PRIu64 " descriptors it never had",
                              bad);
        return result(ret, end == END_SIGKILL ? NET_OUT_SIGKILL : end == END_CLOSE ? NET_OUT_CLOSE : NET_OUT_BRIDGE_FIRST,
                      0, "%u VMMs%s%s%s, %" PRIu64 " frames sent, %" PRIu64 " received; %" PRIu64 " links gone in %" PRIu64 "us",
                      st.n, s->vhost ? " on vhost-net" : "", p->veth ? " with veths" : "", s->netem ? " and netem" : "",
                      tx, rx, ret->metrics[NET_M_LINKS_DESTROYED], ret->metrics[NET_M_TEARDOWN_US]);
}

/* ---- worker lifetime ---- */

static void net_worker_done(Worker *w, const void *params, void *state)
{
        NetState *s = state;

        if (!s)
                return;
        if (s->nl && s->bridge_ifindex > 0)
                (void)netlink_link_delete(s->nl, s->bridge_ifindex);
        netlink_free(s->nl);
        if (s->mem && s->mem != MAP_FAILED)
                munmap(s->mem, s->n_vmm * VM_MEM_SIZE);
        if (s->vmm && (void *)s->vmm != MAP_FAILED)
                munmap(s->vmm, s->n_vmm * sizeof(NetVmm));
        free(s);
}

static int net_worker_init(Worker *w, const void *params, void **ret)
{
        const NetParams *p = params;
        NetState *s;
        NetlinkFail f = {};
        char d[STEP_DETAIL_MAX];
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->n_vmm = p->vms;

        /* Everything of ours in a namespace of our own: host networking is never touched. */
        if (p->ns == NS_PRIVATE && unshare(CLONE_NEWNET) < 0) {
                r = negative_errno();
                worker_note(w, "unshare(CLONE_NEWNET) for the worker's private network namespace: %s", strerror(-r));
                goto fail;
        }
        r = netlink_new(&s->nl, &f);
        if (r < 0) {
                worker_note(w, "%s", netlink_fail_describe(&f, d, sizeof d));
                goto fail;
        }
        base36(s->token, sizeof s->token, (uint64_t)getpid());
        snprintf(s->bridge, sizeof s->bridge, NET_LINK_PREFIX "%s-br", s->token);
        for (unsigned i = 0; i < p->vms; i++) {
                snprintf(s->tap[i], sizeof s->tap[i], NET_LINK_PREFIX "%s-t%u", s->token, i);
                snprintf(s->veth[i], sizeof s->veth[i], NET_LINK_PREFIX "%s-v%u", s->token, i);
        }
        r = net_owner_tag(s->alias, sizeof s->alias, getpid(), worker_run_id(w), worker_actor_name(w),
                          worker_instance(w));
        if (r < 0) {
                worker_note(w, "reading our own start time from /proc: %s", strerror(-r));
                goto fail;
        }

        /* In the host's namespace, links a crashed run of ours left behind go first. */
        if (p->ns == NS_HOST) {
                NetSweep sw;
                r = net_sweep(s->nl, &sw);
                if (r < 0)
                        worker_note(w, "sweeping links of dead runs: %s, ignoring",
                                    netlink_fail_describe(&s->nl->fail, d, sizeof d));
                if (sw.swept)
                        worker_note(w, "swept %u link%s of a dead run of ours (%s%s)", sw.swept, sw.swept == 1 ? "" : "s",
                                    sw.first_swept, sw.swept > 1 ? ", …" : "");
                if (sw.foreign)
                        worker_note(w, "left alone %u link%s named " NET_LINK_PREFIX "* without our tag (%s%s)",
                                    sw.foreign, sw.foreign == 1 ? "" : "s", sw.first_foreign, sw.foreign > 1 ? ", …" : "");
        }

        s->netem = p->netem != USE_NO;
        s->vhost = p->vhost == USE_YES || (p->vhost == USE_IF_AVAILABLE && access(VHOST_NET_DEVICE_PATH, F_OK) == 0);
        if (p->vhost == USE_IF_AVAILABLE && !s->vhost)
                worker_note(w, "no %s on this host: the NICs run in the VMMs' own threads", VHOST_NET_DEVICE_PATH);

        s->mem = mmap(NULL, s->n_vmm * VM_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
        s->vmm = mmap(NULL, s->n_vmm * sizeof(NetVmm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s->mem == MAP_FAILED || (void *)s->vmm == MAP_FAILED) {
                r = negative_errno();
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        net_worker_done(w, params, s);
        return r;
}

/* ---- checks before the run ---- */

static int net_validate(void *params, const char *file, const char *section, unsigned line, ConfErrors *errs)
{
        NetParams *p = params;
        char b[32];

        if (p->netem_jitter > p->netem_delay)
                return conf_error(errs, file, line, section, "NetemJitter",
                                  format_duration(b, sizeof b, p->netem_jitter),
                                  "must not exceed NetemDelay= (netem draws the delay within delay ± jitter)");
        return 0;
}

static bool net_is_destructive(const void *params)
{
        const NetParams *p = params;
        return p->ns == NS_HOST;
}

static void net_describe(const void *params, FILE *f)
{
        const NetParams *p = params;
        char a[32], b[32];

        fprintf(f, "%" PRIu64 " VMM%s with %" PRIu64 " vCPU%s, each a tap on a bridge%s%s in %s, frames for %s..%s, "
                   "ends by",
                p->vms, p->vms == 1 ? "" : "s", p->vcpus, p->vcpus == 1 ? "" : "s", p->veth ? " and a veth" : "",
                p->vhost == USE_YES ? " on vhost-net" : p->vhost == USE_IF_AVAILABLE ? " (vhost-net if available)" : "",
                p->ns == NS_HOST ? "the HOST's network namespace" : "a private network namespace",
                format_duration(a, sizeof a, p->run.lo), format_duration(b, sizeof b, p->run.hi));
        for (unsigned i = 0; i < p->end.n; i++)
                fprintf(f, " %s:%u", end_names[p->end.choice[i]], p->end.weight[i]);
        if (p->netem != USE_NO)
                fprintf(f, "; netem%s delay %s loss %" PRIu64 "%%", p->netem == USE_IF_AVAILABLE ? " (if available)" : "",
                        format_duration(a, sizeof a, p->netem_delay), p->netem_loss);
}

typedef struct Probe {
        int error;
        char why[512];
} Probe;

/*
 * In a throw-away process and network namespace: can we make a namespace,
 * and (netem) does the kernel take a netem qdisc? The kernel may load
 * sch_netem for it; the namespace and its qdisc go with the process.
 */
static int probe_namespace(bool netem, char *why, size_t len)
{
        Probe *pr;
        pid_t pid;
        int status = 0, r;

        pr = mmap(NULL, sizeof *pr, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (pr == MAP_FAILED)
                return negative_errno();
        pr->error = -ECHILD;
        pid = proc_fork_child();
        if (pid < 0) {
                munmap(pr, sizeof *pr);
                return pid;
        }
        if (pid == 0) {
                Netlink *nl = NULL;
                NetlinkFail f = {};

                if (unshare(CLONE_NEWNET) < 0) {
                        pr->error = negative_errno();
                        snprintf(pr->why, sizeof pr->why,
                                 "cannot create a network namespace (unshare(CLONE_NEWNET): %s): run as root", strerror(-pr->error));
                        proc_exit(1);
                }
                if (netem) {
                        r = netlink_new(&nl, &f);
                        if (r >= 0)
                                r = netlink_netem_add(nl, 1 /* lo */, 1000, 0, 0);
                        if (r < 0) {
                                char d[384];
                                pr->error = r;
                                snprintf(pr->why, sizeof pr->why,
                                         "Netem=yes, but this kernel takes no netem qdisc (%s): load sch_netem, or "
                                         "say Netem=if-available",
                                         netlink_fail_describe(nl ? &nl->fail : &f, d, sizeof d));
                                proc_exit(1);
                        }
                }
                pr->error = 0;
                proc_exit(0);
        }
        (void)proc_wait(pid, VMM_TIMEOUT_NS, &status);
        r = pr->error;
        if (r < 0)
                snprintf(why, len, "%s", pr->why[0] ? pr->why : "the namespace probe process died");
        munmap(pr, sizeof *pr);
        return r;
}

static int net_check_host(const void *params, char **reason)
{
        const NetParams *p = params;
        KvmCaps caps;
        KvmFail kf = {};
        char why[512];
        int r;

        r = kvm_caps_probe(&caps, &kf);
        if (r < 0)
                return asprintf(reason, "%s", kvm_fail_describe(&kf, why, sizeof why)) < 0 ? -ENOMEM : r;
        if (p->vcpus > (uint64_t)caps.max_vcpus)
                return asprintf(reason, "VCPUs=%" PRIu64 " exceeds this host's KVM_CAP_MAX_VCPUS=%d", p->vcpus,
                                caps.max_vcpus) < 0 ? -ENOMEM : -E2BIG;
        if (access(TUN_DEVICE_PATH, R_OK | W_OK) < 0) {
                r = negative_errno();
                return asprintf(reason, "cannot use %s (%s): taps need the tun driver and root", TUN_DEVICE_PATH,
                                strerror(-r)) < 0 ? -ENOMEM : r;
        }
        if (p->vhost == USE_YES && access(VHOST_NET_DEVICE_PATH, R_OK | W_OK) < 0) {
                r = negative_errno();
                return asprintf(reason, "VhostNet=yes, but %s is not usable (%s): modprobe vhost_net, or say "
                                "VhostNet=if-available", VHOST_NET_DEVICE_PATH, strerror(-r)) < 0 ? -ENOMEM : r;
        }
        if (p->ns == NS_PRIVATE || p->netem == USE_YES) {
                r = probe_namespace(p->netem == USE_YES, why, sizeof why);
                if (r < 0)
                        return asprintf(reason, "%s", why) < 0 ? -ENOMEM : r;
        }
        return 0;
}

const ActionType action_net = {
        .name = "net",
        .summary = "VMMs with taps on a bridge (veth, netem, vhost-net), frames flowing, torn down with the VMMs",
        .flags = ACTION_ACTOR | ACTION_NEEDS_KVM,
        .keys = net_keys,
        .params_size = sizeof(NetParams),
        .outcomes = net_outcomes,
        .n_outcomes = _NET_OUT_MAX,
        .metrics = net_metrics,
        .phases = net_phases,
        .validate = net_validate,
        .is_destructive = net_is_destructive,
        .describe = net_describe,
        .check_host = net_check_host,
        .worker_init = net_worker_init,
        .step = net_step,
        .worker_done = net_worker_done,
};
