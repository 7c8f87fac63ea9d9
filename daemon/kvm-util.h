/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Thin, named wrappers over the KVM ioctls hvtorture uses, in the manner of
 * the kernel's KVM selftests (lib/kvm_util.c): one function per ioctl, each
 * returning 0 (or a non-negative value) or a negative errno, never logging.
 * Callers remember which KvmOp failed and turn (op, error) into one line
 * with kvm_error_describe() — "KVM_CREATE_VCPU: Too many open files" — so a
 * journal entry says which ioctl the kernel refused and why.
 *
 * Also here: the binary statistics interface (KVM_GET_STATS_FD), parsed
 * into descriptors once and read as plain u64 arrays afterwards.
 */
#pragma once

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_DEVICE_PATH "/dev/kvm"

/* The calls a caller can name when it reports a failure. */
typedef enum KvmOp {
        KVM_OP_NONE,
        KVM_OP_OPEN,
        KVM_OP_GET_API_VERSION,
        KVM_OP_CHECK_EXTENSION,
        KVM_OP_GET_VCPU_MMAP_SIZE,
        KVM_OP_CREATE_VM,
        KVM_OP_SET_USER_MEMORY_REGION,
        KVM_OP_CREATE_VCPU,
        KVM_OP_MMAP_RUN,
        KVM_OP_GET_REGS,
        KVM_OP_SET_REGS,
        KVM_OP_GET_SREGS,
        KVM_OP_SET_SREGS,
        KVM_OP_RUN,
        KVM_OP_GET_DIRTY_LOG,
        KVM_OP_GET_STATS_FD,
        KVM_OP_READ_STATS,
        KVM_OP_MMAP_MEMORY, /* host memory for memslots */
        KVM_OP_THREAD,      /* a vCPU thread could not be started */
        KVM_OP_FORK,        /* the VMM child process */
        KVM_OP_SETRLIMIT,
        _KVM_OP_MAX,
} KvmOp;

const char *kvm_op_to_string(KvmOp op);
/* "KVM_CREATE_VCPU: Too many open files" into buf; returns buf. error is a negative errno. */
char *kvm_error_describe(KvmOp op, int error, char *buf, size_t len);
/* "KVM_EXIT_IO", "KVM_EXIT_HLT", …, or "KVM_EXIT_<n>" into a static buffer for unknown ones. */
const char *kvm_exit_reason_to_string(uint32_t reason);

/* /dev/kvm, O_RDWR|O_CLOEXEC. -ENOENT/-ENODEV/-ENXIO mean KVM is not there (module unloaded). */
int kvm_open(int *ret_fd);
/* KVM_GET_API_VERSION: the version (12 on every kernel since 2.6.22) or negative errno. */
int kvm_get_api_version(int kvm_fd);
/* KVM_CHECK_EXTENSION on /dev/kvm or a VM fd: the capability's value (0 = absent) or negative errno. */
int kvm_check_extension(int fd, long cap);
/* KVM_GET_VCPU_MMAP_SIZE: bytes to map of a vCPU fd for struct kvm_run, or negative errno. */
int kvm_get_vcpu_mmap_size(int kvm_fd);
/* KVM_CREATE_VM with the default machine type. */
int kvm_create_vm(int kvm_fd, int *ret_fd);
/* KVM_SET_USER_MEMORY_REGION; size 0 deletes the slot, flags may carry KVM_MEM_LOG_DIRTY_PAGES. */
int kvm_set_user_memory_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *hva);
/* KVM_CREATE_VCPU with that vCPU id. */
int kvm_create_vcpu(int vm_fd, unsigned long id, int *ret_fd);
/* Maps a vCPU's struct kvm_run (size from kvm_get_vcpu_mmap_size()). */
int kvm_map_run(int vcpu_fd, size_t size, struct kvm_run **ret);
int kvm_get_regs(int vcpu_fd, struct kvm_regs *ret);
int kvm_set_regs(int vcpu_fd, const struct kvm_regs *regs);
int kvm_get_sregs(int vcpu_fd, struct kvm_sregs *ret);
int kvm_set_sregs(int vcpu_fd, const struct kvm_sregs *sregs);
/* KVM_RUN once; -EINTR when a signal (or immediate_exit) ended it before or during guest entry. */
int kvm_run(int vcpu_fd);
/* KVM_GET_DIRTY_LOG for a slot; bitmap holds one bit per page of the slot, rounded up to 64 bits. */
int kvm_get_dirty_log(int vm_fd, uint32_t slot, void *bitmap);
/* KVM_GET_STATS_FD on a VM or vCPU fd: a read-only fd for the binary stats. */
int kvm_get_stats_fd(int fd, int *ret_fd);

/* ---- binary statistics ---- */

#define KVM_STATS_NAME_MAX 64

typedef struct KvmStatsDesc {
        char name[KVM_STATS_NAME_MAX];
        uint32_t flags;
        int16_t exponent;
        uint16_t size;   /* number of u64 items */
        uint32_t offset; /* into the data block, bytes */
} KvmStatsDesc;

/* What a stats fd describes: read once, reused for every VM (or vCPU) of the same kernel. */
typedef struct KvmStatsSchema {
        struct kvm_stats_header header;
        KvmStatsDesc *descs;
        size_t n_descs;
        size_t data_size; /* bytes of the data block */
} KvmStatsSchema;

/* Reads the header and descriptors of a stats fd. */
int kvm_stats_schema_read(int stats_fd, KvmStatsSchema **ret);
KvmStatsSchema *kvm_stats_schema_free(KvmStatsSchema *s);
/* True if a fresh stats fd has the same layout (the header is re-read: a new module may differ). */
int kvm_stats_schema_matches(const KvmStatsSchema *s, int stats_fd);
/* Index of a stat by name, or -ENOENT. */
int kvm_stats_find(const KvmStatsSchema *s, const char *name);
/* Reads the whole data block (s->data_size bytes) into buf. -EIO on a short read. */
int kvm_stats_read_data(const KvmStatsSchema *s, int stats_fd, uint64_t *buf);
/* The first item of a stat from a data block read with kvm_stats_read_data(). */
uint64_t kvm_stats_value(const KvmStatsSchema *s, const uint64_t *data, unsigned idx);

/* ---- small helpers ---- */

/* Raises RLIMIT_NOFILE's soft limit (and the hard one if needed and allowed) to at least n. */
int kvm_ensure_nofile(uint64_t n);
/* True for errors that mean "KVM is not there" (device gone, module unloaded). */
bool kvm_error_is_gone(int error);
/* True for errors that mean "the host ran out of something" (not a kernel bug). */
bool kvm_error_is_env(int error);
