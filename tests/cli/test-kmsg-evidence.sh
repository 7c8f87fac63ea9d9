#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A kernel-style WARNING splat written into /dev/kmsg during a run lands in
# the run's evidence with its syzbot-style title, a count, the actions in
# flight and a file under evidence/; the verdict and exit code follow.
# Userspace lines only count with the test opt-in ([Evidence] KmsgUser=yes).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
require_root
[ -w /dev/kmsg ] || skip "/dev/kmsg is not writable"

splat() { # one record per line, as the kernel would print it (priority 4, warning)
    local l
    while IFS= read -r l; do printf '<4>%s\n' "$l" >/dev/kmsg; done <<'SPLAT'
------------[ cut here ]------------
WARNING: CPU: 1 PID: 4242 at arch/x86/kvm/x86.c:11023 kvm_arch_vcpu_ioctl_run+0x1a2/0x1b0 [kvm]
Modules linked in: kvm_amd kvm irqbypass
CPU: 1 PID: 4242 Comm: hvt-vms Not tainted 6.1.0-test #1
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)
RIP: 0010:kvm_arch_vcpu_ioctl_run+0x1a2/0x1b0 [kvm]
Call Trace:
 <TASK>
 kvm_vcpu_ioctl+0x2b0/0x6e0 [kvm]
 __x64_sys_ioctl+0x8d/0xd0
 do_syscall_64+0x3b/0x90
 entry_SYSCALL_64_after_hwframe+0x63/0xcd
 </TASK>
---[ end trace 0000000000000000 ]---
SPLAT
}

profile() { # KMSGUSER
    cat <<INI
[Profile]
Duration=4s

[Actor a]
Action=idle
Instances=2
Interval=1ms..2ms

[Evidence]
KmsgUser=$1
INI
}

profile yes >"$T/opt-in.ini"
profile no >"$T/no.ini"

# With the opt-in: the splat, twice, is one evidence item with count 2.
"$HVT" run --json --quiet --state-dir "$T/state" "$T/opt-in.ini" >"$T/out.json" 2>"$T/err" &
pid=$!
sleep 1.5
splat
sleep 0.3
splat
rc=0; wait $pid || rc=$?
[ $rc = 1 ] || { cat "$T/err" >&2; fail "a run with a splat exited $rc, expected 1"; }
expect_json '.verdict == "evidence"' "$T/out.json"
expect_json '.evidence | length == 1' "$T/out.json"
expect_json '.evidence[0].title == "WARNING in kvm_arch_vcpu_ioctl_run" and .evidence[0].kind == "warning"' "$T/out.json"
expect_json '.evidence[0].count == 2 and .evidence[0].counted == true' "$T/out.json"
expect_json '.evidence[0].in_flight | length == 2 and all(.[]; .actor == "a")' "$T/out.json"
expect_json '.evidence[0].text | contains("kvm_vcpu_ioctl")' "$T/out.json"
run_id=$(jq -r .run_id "$T/out.json")
ls "$T/state/runs/$run_id/evidence/"*-warning.json >/dev/null || fail "no evidence file under evidence/"
grep -q '"type":"evidence"' "$T/state/runs/$run_id/journal.jsonl" || fail "the journal has no evidence record"
expect_exit 1 "$HVT" evidence --state-dir "$T/state" "$run_id"
expect_grep "^ +2  warning +yes +WARNING in kvm_arch_vcpu_ioctl_run" "$T/out"
expect_exit 1 "$HVT" show --state-dir "$T/state" "$run_id"
expect_grep "2× warning +WARNING in kvm_arch_vcpu_ioctl_run" "$T/out"

# Without the opt-in the same lines from userspace are not kernel splats.
"$HVT" run --json --quiet --state-dir "$T/state" "$T/no.ini" >"$T/out.json" 2>"$T/err" &
pid=$!
sleep 1.5
splat
rc=0; wait $pid || rc=$?
[ $rc = 0 ] || { cat "$T/err" >&2; jq .evidence "$T/out.json" >&2; fail "userspace lines made a run fail ($rc)"; }
expect_json '.kmsg.records > 0' "$T/out.json"
echo ok
