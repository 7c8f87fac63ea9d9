#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kexec across boots in the busybox guest: boot 1 kexecs (kexec_file_load,
# `kexec -s`) into the same kernel and initramfs with a marker added to the
# command line; boot 2 finds the marker, the boot counter says 2, and the
# state written in boot 1 under /var/lib/hvtorture is still there (it lives
# on the results disk). This is the path the project's kexec trigger and
# its resume-after-boot take.
#
# lab-flavour: busybox
# lab-boots: 2
# lab-binaries: kexec
# lab-deadline: 120

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

case "$LAB_BOOT" in
1)
        lab_cmdline_has hvtlab.stage=kexec && lab_fail "boot 1 already has the kexec marker"
        cat /proc/sys/kernel/random/boot_id >/var/lib/hvtorture/boot-1.id
        lab_kexec hvtlab.stage=kexec
        ;;
2)
        lab_cmdline_has hvtlab.stage=kexec || lab_fail "boot 2 lacks the kexec marker: $(cat /proc/cmdline)"
        lab_result marker present
        [ -s /var/lib/hvtorture/boot-1.id ] || lab_fail "/var/lib/hvtorture lost boot 1's file across the kexec"
        if [ "$(cat /var/lib/hvtorture/boot-1.id)" = "$(cat /proc/sys/kernel/random/boot_id)" ]; then
                lab_fail "the boot id did not change across the kexec"
        fi
        lab_result state kept
        ;;
esac
