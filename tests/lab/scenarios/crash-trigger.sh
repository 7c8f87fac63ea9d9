#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The crash trigger, for real. Boot 1 runs a profile whose [Trigger]
# Action=crash loads a crash kernel (kexec_file_load, on-crash) and, while
# a vCPU of a nested VM is in KVM_RUN, panics the kernel with sysrq c: the
# crashing CPU runs KVM's emergency virt-disable path. Boot 2 is the crash
# kernel: `hvtorture resume` (what hvtortured does at start) finds the
# run, saves the panic's log from /proc/vmcore into its evidence and
# reboots back. Boot 3, the normal kernel again, resumes the run, which
# ends there (Reboots=1) with the panic in its evidence.
#
# lab-flavour: busybox
# lab-boots: 3
# lab-append: crashkernel=256M
# lab-modules: kvm_amd
# lab-deadline: 300

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

mkdir -p /etc/hvtorture /tmp/p
cat >/etc/hvtorture/hvtorture.conf <<'EOF'
[Host]
AllowDestructive=yes
EOF

case "$LAB_BOOT" in
1)
        [ -e /proc/vmcore ] && lab_fail "boot 1 is already a crash kernel"
        lab_modprobe kvm_amd
        lab_wait_for /dev/kvm 5 || lab_fail "no /dev/kvm after modprobe kvm_amd"
        cat >/tmp/p/crash.ini <<'EOF'
[Profile]
Description=the crash trigger with nested VMs in KVM_RUN
Duration=infinity
Reboots=1
Destructive=yes

[Actor vms]
Action=vm
Instances=1
VCPUs=1
MemorySlots=1
SlotSize=2M
Run=5ms..50ms
End=close sigkill
Interval=1ms..10ms

[Trigger crash-in-run]
Action=crash
At=10s
AlignWith=vms:vm:run
EOF
        hvtorture run --dry-run /tmp/p/crash.ini >"$LAB_OUT/dry-run.txt" 2>&1 || lab_fail "dry run failed"
        lab_log "boot 1: the run starts; the crash trigger fires at 10 s with a vCPU in KVM_RUN"
        hvtorture run --quiet --json /tmp/p/crash.ini >"$LAB_OUT/run-boot-1.json" 2>"$LAB_OUT/run-boot-1.err"
        lab_fail "boot 1: the run returned ($?) instead of crashing: $(tail -n 5 "$LAB_OUT/run-boot-1.err")"
        ;;
2)
        [ -e /proc/vmcore ] || lab_fail "boot 2 is not the crash kernel: $(cat /proc/cmdline)"
        lab_log "boot 2: crash kernel; hvtorture resume saves the log and reboots back"
        hvtorture resume --json >"$LAB_OUT/resume-boot-2.json" 2>"$LAB_OUT/resume-boot-2.err"
        lab_fail "boot 2: hvtorture resume returned ($?) instead of rebooting: $(tail -n 5 "$LAB_OUT/resume-boot-2.err")"
        ;;
3)
        [ -e /proc/vmcore ] && lab_fail "boot 3 is a crash kernel again"
        lab_log "boot 3: the normal kernel again; the run ends"
        hvtorture resume --json >"$LAB_OUT/resume-boot-3.json" 2>"$LAB_OUT/resume-boot-3.err"
        lab_result resume_rc $?
        id=$(ls /var/lib/hvtorture/runs | head -n 1)
        lab_result run_id "$id"
        hvtorture evidence "$id" >"$LAB_OUT/evidence.txt" 2>&1
        ;;
esac
