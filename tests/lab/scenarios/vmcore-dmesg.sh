#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A real crash dump read by `hvtorture vmcore-dmesg`. Boot 1 (with memory
# reserved by crashkernel=) writes a marker with its boot id into the
# kernel log, loads the same kernel and initramfs as the crash kernel
# (kexec -p -s: kexec_file_load) and crashes with sysrq c. The panic starts
# the crash kernel, which comes back to this /init as boot 2: /proc/vmcore
# holds boot 1's memory, and vmcore-dmesg must find boot 1's log in it —
# the marker and the panic — through VMCOREINFO alone.
#
# lab-flavour: busybox
# lab-boots: 2
# lab-append: crashkernel=256M
# lab-binaries: kexec
# lab-deadline: 300

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

case "$LAB_BOOT" in
1)
        lab_cmdline_has hvtlab.stage=crash && lab_fail "boot 1 is already the crash kernel"
        size=$(cat /sys/kernel/kexec_crash_size)
        [ "$size" -gt 0 ] || lab_fail "crashkernel= reserved nothing (kexec_crash_size $size): $(dmesg | grep -i crashkernel)"
        lab_result crash_size "$size"
        boot_id=$(cat /proc/sys/kernel/random/boot_id)
        echo "$boot_id" >"$LAB_STATE/boot-1.id"
        echo "hvtlab-vmcore-marker boot_id=$boot_id" >/dev/kmsg
        # the crash kernel: one CPU, devices reset, no memory of its own to reserve
        cmdline=$(sed -e 's/crashkernel=[^ ]*//' /proc/cmdline)
        kexec -p -s "/boot/vmlinuz-$LAB_KVER" --initrd="/boot/initrd.img-$LAB_KVER" \
                --append="$cmdline irqpoll nr_cpus=1 reset_devices hvtlab.stage=crash" ||
                lab_fail "kexec -p -s /boot/vmlinuz-$LAB_KVER failed"
        [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || lab_fail "kexec -p succeeded but kexec_crash_loaded is not 1"
        lab_result crash_loaded 1
        lab_panic
        ;;
2)
        lab_cmdline_has hvtlab.stage=crash || lab_fail "boot 2 is not the crash kernel: $(cat /proc/cmdline)"
        [ -e /proc/vmcore ] || lab_fail "the crash kernel has no /proc/vmcore"
        lab_result vmcore present
        hvtorture vmcore-dmesg --json >"$LAB_OUT/vmcore-dmesg.json" 2>"$LAB_OUT/vmcore-dmesg.err" ||
                lab_fail "hvtorture vmcore-dmesg --json failed: $(cat "$LAB_OUT/vmcore-dmesg.err")"
        hvtorture vmcore-dmesg >"$LAB_OUT/vmcore-dmesg.txt" 2>>"$LAB_OUT/vmcore-dmesg.err" ||
                lab_fail "hvtorture vmcore-dmesg failed: $(cat "$LAB_OUT/vmcore-dmesg.err")"
        lab_result lines "$(wc -l <"$LAB_OUT/vmcore-dmesg.txt")"
        lab_log "boot 1's log read from /proc/vmcore: $(wc -l <"$LAB_OUT/vmcore-dmesg.txt") lines"
        ;;
esac
