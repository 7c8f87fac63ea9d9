#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The oom and stress actions on cgroup v2, on the guest's nested KVM (this
# project's development hosts are cgroup v1). hvtorture runs the oom action
# N times: N OOM kills, each counted by its own group's memory.events
# (oom_kill 1 in every step's journal line) and seen in kmsg as expected
# evidence, no hvtorture-… group left in /sys/fs/cgroup. Then what the
# development hosts cannot show: the run at oom_score_adj -1000 with its
# worker back at 0 and the VMM at +1000 (root here has CAP_SYS_RESOURCE),
# Mode=global with the destructive opt-in (the host's own OOM killer takes
# the VMM and nothing else), a stress-ng load's metrics in the report, and
# no stress-ng left after the run is SIGKILLed (its group swept at the next
# start).
#
# lab-flavour: busybox
# lab-modules: kvm_amd
# lab-binaries: stress-ng
# lab-memory: 512
# lab-deadline: 420

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

N=4

for m in irqbypass kvm ccp kvm_amd; do
        lab_insmod "$m"
done
lab_wait_for /dev/kvm 5 || lab_fail "/dev/kvm did not appear after loading kvm_amd"
# cgroup v2 with the memory controller handed to the root's children, as systemd does.
grep -qw memory /sys/fs/cgroup/cgroup.controllers || lab_fail "no memory controller in cgroup v2"
echo +memory >/sys/fs/cgroup/cgroup.subtree_control || lab_fail "cannot enable the memory controller"
hvtorture check --json >"$LAB_OUT/check.json" 2>"$LAB_OUT/check.err"

groups() {
        ls -d /sys/fs/cgroup/hvtorture-* 2>/dev/null
}

# The first child of PPID named COMM, from /proc (the busybox guest has no pgrep).
child_named() {
        for d in /proc/[0-9]*; do
                [ "$(cat "$d/comm" 2>/dev/null)" = "$2" ] || continue
                [ "$(sed 's/.*) . \([0-9]*\) .*/\1/' "$d/stat" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}" && return 0
        done
        return 1
}

# Live (not zombie) processes named stress-ng…, from /proc (busybox ps has no stat column).
live_stress() {
        for d in /proc/[0-9]*; do
                c=$(cat "$d/comm" 2>/dev/null) || continue
                case "$c" in stress-ng*) ;; *) continue ;; esac
                st=$(sed 's/.*) \(.\).*/\1/' "$d/stat" 2>/dev/null)
                [ "$st" = Z ] || echo "${d#/proc/} $st $c"
        done
}

# 1. N kills in groups of their own.
cat >/tmp/oom.ini <<EOF
[Profile]
Duration=5min

[Actor oom]
Action=oom
Touch=guest host
VCPUs=2
MemorySlots=4
SlotSize=16M
Limit=32M
Iterations=$N

[Evidence]
Count=oom
EOF
lab_log "oom: $N kills in cgroup v2"
hvtorture run --json --quiet --state-dir /tmp/s1 /tmp/oom.ini >"$LAB_OUT/oom.json" 2>"$LAB_OUT/oom.err"
lab_result oom_exit $?
cp /tmp/s1/runs/*/journal.jsonl "$LAB_OUT/oom-journal.jsonl"
# Each step's line names its victim and its group's count of exactly one kill.
lab_result oom_steps_counted "$(grep -cE '"outcome":"oom-killed".*"detail":"VMM [0-9]+ OOM-killed after [0-9]+ms touching from the (guest|host): [^"]*, oom_kill 1, 2 vCPUs, 4 slots"' "$LAB_OUT/oom-journal.jsonl")"
lab_result oom_groups_left "$(groups | wc -l)"

# 2. Who the OOM killer may take, while a slow oom step runs.
cat >/tmp/slow.ini <<EOF
[Profile]
Duration=2min

[Actor oom]
Action=oom
Touch=host
VCPUs=1
MemorySlots=2
SlotSize=64M
Limit=96M
Chunk=64K
Interval=1s
EOF
hvtorture run --quiet --state-dir /tmp/s2 /tmp/slow.ini >/dev/null 2>"$LAB_OUT/slow.err" &
cli=$!
vmm=""
i=0
while [ $i -lt 400 ] && [ -z "$vmm" ]; do
        worker=$(child_named $cli hvt-oom)
        [ -n "$worker" ] && vmm=$(child_named "$worker" hvt-oom-vmm)
        i=$((i + 1))
        sleep 0.05
done
lab_result run_adj "$(cat /proc/$cli/oom_score_adj)"
lab_result worker_adj "$(cat /proc/"$worker"/oom_score_adj 2>/dev/null || echo none)"
lab_result vmm_adj "$(cat /proc/"$vmm"/oom_score_adj 2>/dev/null || echo none)"
kill -TERM $cli
wait $cli
lab_result slow_exit $?

# 3. Mode=global: no limit, the host's OOM killer. Refused without the opt-in, then run with it.
cat >/tmp/global.ini <<EOF
[Profile]
Duration=5min
Destructive=yes

[Actor oom]
Action=oom
Mode=global
Touch=guest host
VCPUs=2
MemorySlots=4
SlotSize=64M
Iterations=1
Timeout=2min
EOF
hvtorture run --quiet --state-dir /tmp/s3 /tmp/global.ini >/dev/null 2>"$LAB_OUT/global-refused.err"
lab_result global_refused_exit $?
lab_log "oom: Mode=global, the guest's own OOM killer"
hvtorture run --json --quiet --allow-destructive --state-dir /tmp/s3 /tmp/global.ini >"$LAB_OUT/global.json" \
        2>"$LAB_OUT/global.err"
lab_result global_exit $?
cp /tmp/s3/runs/*/journal.jsonl "$LAB_OUT/global-journal.jsonl"

# With vm.panic_on_oom=2 a memory cgroup OOM panics the host: the action must refuse to start.
echo 2 >/proc/sys/vm/panic_on_oom
hvtorture run --quiet --state-dir /tmp/s7 /tmp/oom.ini >/dev/null 2>"$LAB_OUT/panic-on-oom.err"
lab_result panic_on_oom_exit $?
echo 0 >/proc/sys/vm/panic_on_oom
lab_result global_groups_left "$(groups | wc -l)"

# 4. A stress-ng load: its metrics in the report; then SIGKILL of the run leaves no live stress-ng.
cat >/tmp/load.ini <<EOF
[Profile]
Duration=8s

[Actor a]
Action=idle
Busy=20ms

[Load pressure]
Action=stress
Stressors=cpu:1 vm:1
Arguments=--vm-bytes 32M
EOF
lab_log "stress: a load for 8s"
hvtorture run --json --quiet --state-dir /tmp/s4 /tmp/load.ini >"$LAB_OUT/load.json" 2>"$LAB_OUT/load.err"
lab_result load_exit $?
sed -i 's/^Duration=8s$/Duration=5min/' /tmp/load.ini
hvtorture run --quiet --state-dir /tmp/s5 /tmp/load.ini >/dev/null 2>&1 &
cli=$!
i=0
while [ $i -lt 300 ] && ! live_stress | grep -q stress-ng-cpu; do
        i=$((i + 1))
        sleep 0.1
done
live_stress | grep -q stress-ng-cpu || lab_fail "stress-ng never started"
sleep 2
kill -KILL $cli
wait $cli
i=0
while [ $i -lt 50 ] && [ -n "$(live_stress)" ]; do
        i=$((i + 1))
        sleep 0.1
done
live_stress >"$LAB_OUT/stress-left.txt"
lab_result stress_left "$(wc -l <"$LAB_OUT/stress-left.txt")"
lab_result stress_groups_after_kill "$(groups | wc -l)"
sed -i 's/^Duration=5min$/Duration=1s/' /tmp/load.ini
hvtorture run --quiet --state-dir /tmp/s6 /tmp/load.ini >/dev/null 2>"$LAB_OUT/sweep.err"
lab_result stress_groups_after_sweep "$(groups | wc -l)"
lab_log "oom and stress done"
