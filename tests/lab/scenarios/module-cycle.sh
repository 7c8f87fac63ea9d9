#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The module action against the real kernel: kvm_amd and kvm unloaded and
# loaded again at least 100 times each while nested VMs are created, run
# and SIGKILLed in another actor. Before that, the refusals: a module
# outside AllowModules= and a run without the destructive opt-in must fail
# with a clear error and change nothing (lsmod before and after). After
# it, the guest must still run VMs. The host-side check compares the
# report, the journal (a line per module step) and dmesg with the run's
# evidence.
#
# lab-flavour: busybox
# lab-modules: kvm_amd
# lab-deadline: 600

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

grep -qw svm /proc/cpuinfo || lab_fail "the guest CPU has no svm flag (QEMU -cpu max should give it)"
lsmod | grep -q '^kvm' && lab_fail "kvm is loaded before the scenario starts: the test must find it unloaded"

seconds=480
for w in $(cat /proc/cmdline); do
        case $w in
        hvtlab.module_cycle_seconds=*) seconds=${w#*=} ;;
        esac
done
mkdir -p /etc/hvtorture /tmp/p
cat >/etc/hvtorture/hvtorture.conf <<'EOF'
[Host]
AllowDestructive=yes
AllowModules=kvm kvm_amd
EOF
cat >/tmp/p/no-opt-in.conf <<'EOF'
[Host]
AllowDestructive=no
AllowModules=kvm kvm_amd
EOF
cat >/tmp/p/ramoops.ini <<'EOF'
[Profile]
Description=a module outside AllowModules=
Duration=5s
Destructive=yes

[Actor cycle]
Action=module
Modules=kvm ramoops
EOF
# The run is measured in cycles: 220 steps of the module actor (a step is a load or an unload of the
# pair, so 110 of each, some of them possibly in-use) end it (EndsRun=). Duration= only caps it, should the
# guest be starved: a load takes about 0.8 s under emulation, about 1.8 s while VMs run. The kernel
# command line word hvtlab.module_cycle_seconds=N (tests/lab/lab run --append) changes the cap.
cat >/tmp/p/cycle.ini <<EOF
[Profile]
Description=kvm_amd and kvm cycled under nested VM churn
Duration=${seconds}s
Destructive=yes

[Actor vms]
Action=vm
Instances=1
VCPUs=1
MemorySlots=1
SlotSize=2M
Run=0
End=close:2 sigkill
Interval=10ms..40ms

[Actor kvm-cycle]
Action=module
Modules=vendor kvm
Options=vendor:nested=0|1 kvm:tdp_mmu=Y|N
Unload=wait
WaitTimeout=2s
HoldTime=1ms..20ms
Interval=1ms..10ms
Iterations=220
EndsRun=yes

[Evidence]
StopOn=panic
EOF

lsmod >"$LAB_OUT/lsmod-start.txt"

# A module the host config does not allow: refused before anything happens.
hvtorture run --quiet /tmp/p/ramoops.ini >"$LAB_OUT/refuse-allow.out" 2>"$LAB_OUT/refuse-allow.err"
lab_result refuse_allow_rc $?
lsmod >"$LAB_OUT/lsmod-after-refuse-allow.txt"

# No opt-in (host config says no, no --allow-destructive): refused.
hvtorture run --quiet --config /tmp/p/no-opt-in.conf /tmp/p/cycle.ini >"$LAB_OUT/refuse-opt-in.out" \
        2>"$LAB_OUT/refuse-opt-in.err"
lab_result refuse_opt_in_rc $?
lsmod >"$LAB_OUT/lsmod-after-refuse-opt-in.txt"

# The real thing.
lab_log "cycling kvm_amd and kvm under VM churn: 220 module steps, at most ${seconds}s"
dmesg >"$LAB_OUT/dmesg-before-run.txt"
hvtorture run --json --quiet --seed 42 /tmp/p/cycle.ini >"$LAB_OUT/run.json" 2>"$LAB_OUT/run.err"
lab_result run_rc $?
dmesg >"$LAB_OUT/dmesg-after-run.txt"
lsmod >"$LAB_OUT/lsmod-after-run.txt"
hvtorture check --json >"$LAB_OUT/check.json" 2>&1

# Still a working hypervisor afterwards.
lab_modprobe kvm_amd
lab_wait_for /dev/kvm 5 || lab_fail "/dev/kvm did not come back after the cycles"
cat >/tmp/p/health.ini <<'EOF'
[Profile]
Description=VMs after the cycles
Duration=1min

[Actor vm]
Action=vm
Iterations=20
VCPUs=2
End=close sigkill
EOF
hvtorture run --json --quiet /tmp/p/health.ini >"$LAB_OUT/health.json" 2>"$LAB_OUT/health.err"
lab_result health_rc $?
lab_log "module cycles done"
