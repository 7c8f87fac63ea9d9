#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A soak across its own forced kexec reboots. Boot 1 starts a run whose
# kexec trigger fires every 20 s of run time, at the moment the module
# actor starts unloading kvm_amd/kvm while a VM actor churns nested VMs
# (AlignWith=). Each kexec is a forced one: reboot(LINUX_REBOOT_CMD_KEXEC)
# with nothing asked of init. Boots 2 and 3 resume the run (`hvtorture
# resume`, what hvtortured does at start) until the next kexec; boot 4
# finds Reboots=3 reached and closes the run with its report. The host
# checks the run's report, state and journal: three planned boots, every
# record written before each kexec still there.
#
# lab-flavour: busybox
# lab-boots: 4
# lab-modules: kvm_amd
# lab-deadline: 420

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

# /etc is new at every boot; the run store (/var/lib/hvtorture) is on the results disk.
mkdir -p /etc/hvtorture /tmp/p
cat >/etc/hvtorture/hvtorture.conf <<'EOF'
[Host]
AllowDestructive=yes
AllowModules=kvm kvm_amd
EOF

case "$LAB_BOOT" in
1)
        grep -qw svm /proc/cpuinfo || lab_fail "the guest CPU has no svm flag"
        cat >/tmp/p/soak.ini <<'EOF'
[Profile]
Description=forced kexec aligned with kvm unloads, three times
Duration=infinity
Reboots=3
Destructive=yes

[Actor vms]
Action=vm
Instances=1
VCPUs=1
MemorySlots=1
SlotSize=2M
Run=0
End=close sigkill
Interval=10ms..40ms

[Actor kvm-cycle]
Action=module
Modules=vendor kvm
Unload=wait
WaitTimeout=2s
HoldTime=1ms..20ms
Interval=1ms..10ms

[Trigger kexec-at-unload]
Action=kexec
Every=20s
AlignWith=kvm-cycle:module:unload

[Evidence]
# Under software emulation a vCPU starved of host time (a systemd boot, a
# kvm_amd load, another guest on the same core) trips the soft-lockup and
# RCU-stall detectors with no kernel bug behind it: recorded, not counted.
# Every other kind still fails the run.
StopOn=panic
Ignore=rcu-stall lockup
EOF
        hvtorture run --dry-run /tmp/p/soak.ini >"$LAB_OUT/dry-run.txt" 2>&1 || lab_fail "dry run failed"
        lab_log "boot 1: soak starts; a forced kexec every 20 s of run time"
        hvtorture run --quiet --json --seed 7 /tmp/p/soak.ini >"$LAB_OUT/run-boot-1.json" 2>"$LAB_OUT/run-boot-1.err"
        lab_fail "boot 1: the run returned ($?) instead of kexecing: $(tail -n 5 "$LAB_OUT/run-boot-1.err")"
        ;;
2 | 3)
        lab_log "boot $LAB_BOOT: resuming the soak"
        hvtorture resume --quiet --json >"$LAB_OUT/resume-boot-$LAB_BOOT.json" 2>"$LAB_OUT/resume-boot-$LAB_BOOT.err"
        lab_fail "boot $LAB_BOOT: the resumed run returned ($?) instead of kexecing: $(tail -n 5 "$LAB_OUT/resume-boot-$LAB_BOOT.err")"
        ;;
4)
        lab_log "boot 4: the run should end now (Reboots=3)"
        hvtorture resume --json >"$LAB_OUT/resume-boot-4.json" 2>"$LAB_OUT/resume-boot-4.err"
        lab_result resume_rc $?
        id=$(ls /var/lib/hvtorture/runs | head -n 1)
        lab_result run_id "$id"
        hvtorture show "$id" >"$LAB_OUT/show.txt" 2>&1
        hvtorture status >/dev/null 2>&1 || true
        ls /var/lib/hvtorture/active >"$LAB_OUT/active-after.txt" 2>&1 || true
        ;;
esac
