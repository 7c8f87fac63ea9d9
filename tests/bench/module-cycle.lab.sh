#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The guest side of tests/bench/module-cycle: module-cycle-bench with kmod's
# modprobe as the peer, kvm_amd and kvm unloaded at the start.
#
# lab-flavour: busybox
# lab-modules: kvm_amd
# lab-binaries: module-cycle-bench modprobe
# lab-deadline: 300

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

seconds=5
rounds=3
for w in $(cat /proc/cmdline); do
        case $w in
        hvtbench.seconds=*) seconds=${w#*=} ;;
        hvtbench.rounds=*) rounds=${w#*=} ;;
        esac
done
/usr/bin/modprobe --version | grep -q '^kmod' || lab_fail "/usr/bin/modprobe is not kmod's"
MODPROBE=/usr/bin/modprobe module-cycle-bench "$seconds" "$rounds" >"$LAB_OUT/bench.txt" ||
        lab_fail "module-cycle-bench failed"
cat "$LAB_OUT/bench.txt"
