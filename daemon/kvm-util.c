/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KVM ioctl wrappers: each returns negative errno so the caller can say
 * which call failed and why. EINTR is passed up, not retried, except where
 * a retry cannot change what the caller observes (reads of stats fds):
 * KVM_RUN's EINTR is an event the VMM must see.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "kvm-util.h"
#include "util.h"

static const char *const kvm_op_names[_KVM_OP_MAX] = {
        [KVM_OP_NONE] = "(none)",
        [KVM_OP_OPEN] = ("open " KVM_DEVICE_PATH),
        [KVM_OP_GET_API_VERSION] = "KVM_GET_API_VERSION",
        [KVM_OP_CHECK_EXTENSION] = "KVM_CHECK_EXTENSION",
        [KVM_OP_GET_VCPU_MMAP_SIZE] = "KVM_GET_VCPU_MMAP_SIZE",
        [KVM_OP_CREATE_VM] = "KVM_CREATE_VM",
        [KVM_OP_SET_USER_MEMORY_REGION] = "KVM_SET_USER_MEMORY_REGION",
        [KVM_OP_CREATE_VCPU] = "KVM_CREATE_VCPU",
        [KVM_OP_MMAP_RUN] = "mmap kvm_run",
        [KVM_OP_GET_REGS] = "KVM_GET_REGS",
        [KVM_OP_SET_REGS] = "KVM_SET_REGS",
        [KVM_OP_GET_SREGS] = "KVM_GET_SREGS",
        [KVM_OP_SET_SREGS] = "KVM_SET_SREGS",
        [KVM_OP_RUN] = "KVM_RUN",
        [KVM_OP_GET_DIRTY_LOG] = "KVM_GET_DIRTY_LOG",
        [KVM_OP_GET_STATS_FD] = "KVM_GET_STATS_FD",
        [KVM_OP_READ_STATS] = "read stats fd",
        [KVM_OP_MMAP_MEMORY] = "mmap guest memory",
        [KVM_OP_THREAD] = "pthread_create vCPU thread",
        [KVM_OP_FORK] = "fork VMM process",
        [KVM_OP_SETRLIMIT] = "setrlimit RLIMIT_NOFILE",
};

const char *kvm_op_to_string(KvmOp op)
{
        return op < _KVM_OP_MAX && kvm_op_names[op] ? kvm_op_names[op] : "(unknown KVM call)";
}

char *kvm_error_describe(KvmOp op, int error, char *buf, size_t len)
{
        snprintf(buf, len, "%s: %s", kvm_op_to_string(op), strerror(error < 0 ? -error : error));
        return buf;
}

const char *kvm_exit_reason_to_string(uint32_t reason)
{
        static const char *const names[] = {
                [KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
                [KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
                [KVM_EXIT_IO] = "KVM_EXIT_IO",
                [KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
                [KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
                [KVM_EXIT_HLT] = "KVM_EXIT_HLT",
                [KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
                [KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
                [KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
                [KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
                [KVM_EXIT_INTR] = "KVM_EXIT_INTR",
                [KVM_EXIT_NMI] = "KVM_EXIT_NMI",
                [KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
                [KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
                [KVM_EXIT_X86_RDMSR] = "KVM_EXIT_X86_RDMSR",
                [KVM_EXIT_X86_WRMSR] = "KVM_EXIT_X86_WRMSR",
                [KVM_EXIT_X86_BUS_LOCK] = "KVM_EXIT_X86_BUS_LOCK",
                [KVM_EXIT_NOTIFY] = "KVM_EXIT_NOTIFY",
        };
        static __thread char buf[32];

        if (reason < ELEMENTSOF(names) && names[reason])
                return names[reason];
        snprintf(buf, sizeof buf, "KVM_EXIT_%u", reason);
        return buf;
}

/* ioctl() with the result turned into our convention. */
static int xioctl(int fd, unsigned long req, void *arg)
{
        int r = ioctl(fd, req, arg);
        return r < 0 ? negative_errno() : r;
}

int kvm_open(int *ret_fd)
{
        int fd = open(KVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        return 0;
}

int kvm_get_api_version(int kvm_fd)
{
        return xioctl(kvm_fd, KVM_GET_API_VERSION, NULL);
}

int kvm_check_extension(int fd, long cap)
{
        return xioctl(fd, KVM_CHECK_EXTENSION, (void *)cap);
}

int kvm_get_vcpu_mmap_size(int kvm_fd)
{
        return xioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
}

int kvm_create_vm(int kvm_fd, int *ret_fd)
{
        /* KVM hands out fds without O_CLOEXEC only if asked: it always sets it for VM and vCPU fds. */
        int r = xioctl(kvm_fd, KVM_CREATE_VM, (void *)0UL);
        if (r < 0)
                return r;
        *ret_fd = r;
        return 0;
}

int kvm_set_user_memory_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *hva)
{
        struct kvm_userspace_memory_region region = {
                .slot = slot,
                .flags = flags,
                .guest_phys_addr = gpa,
                .memory_size = size,
                .userspace_addr = (uintptr_t)hva,
        };
        int r = xioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
        return r < 0 ? r : 0;
}

int kvm_create_vcpu(int vm_fd, unsigned long id, int *ret_fd)
{
        int r = xioctl(vm_fd, KVM_CREATE_VCPU, (void *)id);
        if (r < 0)
                return r;
        *ret_fd = r;
        return 0;
}

int kvm_map_run(int vcpu_fd, size_t size, struct kvm_run **ret)
{
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
        if (p == MAP_FAILED)
                return negative_errno();
        *ret = p;
        return 0;
}

int kvm_get_regs(int vcpu_fd, struct kvm_regs *ret)
{
        int r = xioctl(vcpu_fd, KVM_GET_REGS, ret);
        return r < 0 ? r : 0;
}

int kvm_set_regs(int vcpu_fd, const struct kvm_regs *regs)
{
        int r = xioctl(vcpu_fd, KVM_SET_REGS, (void *)regs);
        return r < 0 ? r : 0;
}

int kvm_get_sregs(int vcpu_fd, struct kvm_sregs *ret)
{
        int r = xioctl(vcpu_fd, KVM_GET_SREGS, ret);
        return r < 0 ? r : 0;
}

int kvm_set_sregs(int vcpu_fd, const struct kvm_sregs *sregs)
{
        int r = xioctl(vcpu_fd, KVM_SET_SREGS, (void *)sregs);
        return r < 0 ? r : 0;
}

int kvm_run(int vcpu_fd)
{
        int r = xioctl(vcpu_fd, KVM_RUN, NULL);
        return r < 0 ? r : 0;
}

int kvm_get_dirty_log(int vm_fd, uint32_t slot, void *bitmap)
{
        struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };
        int r = xioctl(vm_fd, KVM_GET_DIRTY_LOG, &log);
        return r < 0 ? r : 0;
}

int kvm_get_stats_fd(int fd, int *ret_fd)
{
        int r = xioctl(fd, KVM_GET_STATS_FD, NULL);
        if (r < 0)
                return r;
        *ret_fd = r;
        return 0;
}

/* ---- binary statistics ---- */

/* pread that insists on the whole range: stats fds are small and never block. */
static int pread_full(int fd, void *buf, size_t len, off_t off)
{
        uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = pread(fd, p, len, off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return -EIO; /* the kernel promised more than it gave */
                p += n;
                off += n;
                len -= (size_t)n;
        }
        return 0;
}

KvmStatsSchema *kvm_stats_schema_free(KvmStatsSchema *s)
{
        if (!s)
                return NULL;
        free(s->descs);
        free(s);
        return NULL;
}

int kvm_stats_schema_read(int stats_fd, KvmStatsSchema **ret)
{
        KvmStatsSchema *s;
        _cleanup_free_ uint8_t *raw = NULL;
        size_t desc_len;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        r = pread_full(stats_fd, &s->header, sizeof s->header, 0);
        if (r < 0)
                goto fail;
        /* Bounds that no real kernel comes near, so a corrupt header cannot make us allocate wildly. */
        if (s->header.num_desc == 0 || s->header.num_desc > 4096 || s->header.name_size == 0 ||
            s->header.name_size > 4096) {
                r = -EBADMSG;
                goto fail;
        }
        desc_len = sizeof(struct kvm_stats_desc) + s->header.name_size;
        raw = malloc(desc_len * s->header.num_desc);
        s->descs = calloc(s->header.num_desc, sizeof *s->descs);
        if (!raw || !s->descs) {
                r = -ENOMEM;
                goto fail;
        }
        r = pread_full(stats_fd, raw, desc_len * s->header.num_desc, s->header.desc_offset);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < s->header.num_desc; i++) {
                const struct kvm_stats_desc *d = (const void *)(raw + i * desc_len);
                KvmStatsDesc *o = &s->descs[i];
                size_t end;

                snprintf(o->name, sizeof o->name, "%.*s", (int)s->header.name_size, d->name);
                o->flags = d->flags;
                o->exponent = d->exponent;
                o->size = d->size;
                o->offset = d->offset;
                end = (size_t)d->offset + (size_t)d->size * sizeof(uint64_t);
                if (end > 1024 * 1024) {
                        r = -EBADMSG;
                        goto fail;
                }
                s->data_size = MAX(s->data_size, end);
        }
        s->n_descs = s->header.num_desc;
        *ret = s;
        return 0;
fail:
        kvm_stats_schema_free(s);
        return r;
}

int kvm_stats_schema_matches(const KvmStatsSchema *s, int stats_fd)
{
        struct kvm_stats_header h;
        int r = pread_full(stats_fd, &h, sizeof h, 0);
        if (r < 0)
                return r;
        return memcmp(&h, &s->header, sizeof h) == 0;
}

int kvm_stats_find(const KvmStatsSchema *s, const char *name)
{
        for (size_t i = 0; i < s->n_descs; i++)
                if (streq(s->descs[i].name, name))
                        return (int)i;
        return -ENOENT;
}

int kvm_stats_read_data(const KvmStatsSchema *s, int stats_fd, uint64_t *buf)
{
        return pread_full(stats_fd, buf, s->data_size, s->header.data_offset);
}

uint64_t kvm_stats_value(const KvmStatsSchema *s, const uint64_t *data, unsigned idx)
{
        if (idx >= s->n_descs)
                return 0;
        return data[s->descs[idx].offset / sizeof(uint64_t)];
}

/* ---- small helpers ---- */

int kvm_ensure_nofile(uint64_t n)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= n)
                return 0;
        if (rl.rlim_cur == RLIM_INFINITY)
                return 0;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
                rl.rlim_max = n; /* needs CAP_SYS_RESOURCE; fails with EPERM otherwise */
        rl.rlim_cur = n;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return negative_errno();
        return 0;
}

bool kvm_error_is_gone(int error)
{
        return error == -ENOENT || error == -ENODEV || error == -ENXIO;
}

bool kvm_error_is_env(int error)
{
        return error == -EBUSY || error == -ENOMEM || error == -EMFILE || error == -ENFILE || error == -ENOSPC ||
               error == -EAGAIN;
}
