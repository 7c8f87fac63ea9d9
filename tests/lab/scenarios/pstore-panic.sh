#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A panic's record survives the reboot in ramoops. Boot 1 sets up ramoops
# exactly as LAB.md describes (1 MiB reserved at 0x10000000 with memmap=,
# reed_solomon, ramoops with ECC) and crashes the kernel with sysrq c; with
# panic=1 the guest boots again, and boot 2 finds dmesg-ramoops-0 in
# /sys/fs/pstore and keeps it on the results disk for the host to check.
#
# lab-flavour: busybox
# lab-boots: 2
# lab-append: memmap=1M$0x10000000
# lab-modules: ramoops
# lab-deadline: 90

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

case "$LAB_BOOT" in
1)
        lab_ramoops
        ls /sys/fs/pstore >"$LAB_OUT/pstore-boot-1.txt"
        lab_result records_before_panic "$(wc -l <"$LAB_OUT/pstore-boot-1.txt")"
        lab_panic
        ;;
2)
        lab_ramoops
        lab_wait_for /sys/fs/pstore/dmesg-ramoops-0 5 ||
                lab_fail "no dmesg-ramoops-0 after the panic; /sys/fs/pstore holds: $(ls /sys/fs/pstore)"
        ls /sys/fs/pstore >"$LAB_OUT/pstore-boot-2.txt"
        lab_save /sys/fs/pstore/dmesg-ramoops-0
        lab_result first_line "$(head -n 1 /sys/fs/pstore/dmesg-ramoops-0)"
        hvtorture check --json >"$LAB_OUT/check.json" 2>"$LAB_OUT/check.err"
        lab_log "the panic's ramoops record survived the reboot"
        ;;
esac
