/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reboot-class triggers (kexec, reboot, panic, crash, graceful) reach
 * the kernel only through this ops table, so unit tests can stand in a
 * kernel that does not go down. The real table makes the syscalls.
 */
#pragma once

#include <stdbool.h>

typedef struct RebootOps {
        /* kexec_file_load(2); flags as the syscall's (KEXEC_FILE_ON_CRASH, _UNLOAD, _NO_INITRAMFS). */
        int (*kexec_file_load)(int kernel_fd, int initrd_fd, const char *cmdline, unsigned long flags);
        /* reboot(2) with LINUX_REBOOT_CMD_*: returns only on failure (negative errno). */
        int (*reboot)(int cmd);
        /* One character to /proc/sysrq-trigger ('c' crashes the kernel). */
        int (*sysrq)(char c);
        /* Ask systemd for TARGET (reboot.target, kexec.target) over the system bus. */
        int (*start_unit)(const char *target);
        void (*sync)(void);
        /* Prefix for the /sys and /proc files the host checks read ("" for the real ones; tests: a fake tree). */
        const char *root;
} RebootOps;

/* What the reboot actions call; tests point it at their own table (workers inherit it over fork). */
extern const RebootOps *reboot_ops;
extern const RebootOps reboot_ops_real;

#ifndef KEXEC_FILE_UNLOAD
#define KEXEC_FILE_UNLOAD 0x00000001
#define KEXEC_FILE_ON_CRASH 0x00000002
#define KEXEC_FILE_NO_INITRAMFS 0x00000004
#endif

/*
 * The command line a kexec or crash kernel boots with: BASE (or
 * /proc/cmdline when NULL), for a crash kernel without crashkernel= and
 * with the kdump words (irqpoll nr_cpus=1 reset_devices), then APPEND.
 * Allocated; NULL on allocation failure.
 */
char *reboot_build_cmdline(const char *base, char *const *append, bool crash);
