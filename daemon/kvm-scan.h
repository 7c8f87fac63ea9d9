/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who holds KVM on this host: a scan of /proc for processes with VM, vCPU
 * or other KVM objects (anon inodes named kvm-…, as fds or as mappings of
 * a vCPU's run page) or /dev/kvm open, each judged ours or foreign. Ours
 * means the run's own process tree: the engine process and everything that
 * descends from it (workers, their VMMs and peers). The module action
 * refuses to unload kvm while foreign VMs exist: the tool touches only what
 * it created.
 *
 * The scan reads what it needs and keeps only counts and the first few
 * foreign holders, whatever the number of processes.
 */
#pragma once

#include <sys/types.h>

#include "util.h"

#define KVM_SCAN_NAMED 4

typedef struct KvmHolder {
        pid_t pid;
        char comm[16];
        unsigned vm_fds;   /* anon_inode:kvm-vm */
        unsigned kvm_objs; /* any other anon_inode:kvm-… fd or vCPU mapping (vCPUs, stats, devices) */
        unsigned dev_fds;  /* /dev/kvm */
} KvmHolder;

typedef struct KvmScan {
        unsigned procs;          /* processes looked at */
        unsigned foreign_procs;  /* processes not ours that keep a VM alive */
        unsigned foreign_vms;    /* their VMs: VM fds, or one for a process with only vCPU or stats objects */
        unsigned foreign_dev;    /* processes not ours with /dev/kvm open but no VM (they keep the module busy) */
        unsigned own_vms;        /* VMs of the run's own processes */
        KvmHolder named[KVM_SCAN_NAMED]; /* the first foreign holders, VMs first, for messages */
        size_t n_named;
} KvmScan;

/*
 * Scans the proc directory (an O_DIRECTORY fd of /proc); processes whose
 * parent chain reaches root are ours. Processes that exit while being
 * looked at are skipped.
 */
int kvm_scan(int proc_fd, pid_t root, KvmScan *ret);
/* Same, opening proc (normally "/proc"). */
int kvm_scan_path(const char *proc, pid_t root, KvmScan *ret);
/* "2 VMs of other processes: pid 812 (qemu-system-x86) 1 VM, pid 901 (firecracker) 1 VM" */
char *kvm_scan_describe_foreign(const KvmScan *s, char *buf, size_t len);
