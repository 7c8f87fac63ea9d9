#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Nested KVM in the busybox guest. The kvm_amd stack loads in the order
# LAB.md found working (irqbypass, kvm, ccp, kvm_amd), /dev/kvm appears, a
# tiny real-mode guest runs in it 100 times (kvm-tiny), kvm_amd survives a few
# unload/reload cycles, and the project's binary runs against the guest's
# kernel: `hvtorture check`, and `hvtorture run` of 40 VM lifecycles (closed,
# or their VMM SIGKILLed inside KVM_RUN) on the nested KVM.
#
# lab-flavour: busybox
# lab-modules: kvm_amd
# lab-files: tests/lab/profiles/vm-lifecycles.ini
# lab-deadline: 120

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

grep -qw svm /proc/cpuinfo || lab_fail "the guest CPU has no svm flag (QEMU -cpu max should give it)"
lab_result svm present

for m in irqbypass kvm ccp kvm_amd; do
        lab_insmod "$m"
done
lab_wait_for /dev/kvm 5 || lab_fail "/dev/kvm did not appear after loading kvm_amd"
lab_result kvm_dev present

# 100 VMs, one after another: each creation and destruction makes KVM enable
# and disable SVM on every CPU by IPI, the loop that hung multi-threaded TCG
# (see tests/lab/hvtlab/qemu.py).
kvm-tiny 100 >"$LAB_OUT/kvm-tiny.txt" 2>&1 || {
        cat "$LAB_OUT/kvm-tiny.txt"
        lab_fail "kvm-tiny could not run its real-mode guests on the nested /dev/kvm"
}

# Unload and reload the vendor module: what the module action will do in loops.
for i in 1 2 3; do
        rmmod kvm_amd || lab_fail "rmmod kvm_amd failed in cycle $i"
        lab_insmod kvm_amd
done
lab_wait_for /dev/kvm 5 || lab_fail "/dev/kvm is gone after reloading kvm_amd"
lab_result reload_cycles 3
kvm-tiny 1 >>"$LAB_OUT/kvm-tiny.txt" 2>&1 || lab_fail "kvm-tiny failed after the reload cycles"

hvtorture --version >"$LAB_OUT/hvtorture-version.txt" 2>&1 ||
        lab_fail "hvtorture --version failed: $(cat "$LAB_OUT/hvtorture-version.txt")"
hvtorture check --json >"$LAB_OUT/check.json" 2>"$LAB_OUT/check.err"
lab_result check_exit $?
# The project's own vm action against the nested /dev/kvm: the smoke profile's
# VMs, counted in lifecycles rather than seconds (see the profile).
hvtorture run "$LAB_IN/vm-lifecycles.ini" --json >"$LAB_OUT/run.json" 2>"$LAB_OUT/run.err"
lab_result run_exit $?
lab_log "nested KVM works; hvtorture ran"
