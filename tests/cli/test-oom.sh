#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `hvtorture run` with the oom action end to end: N OOM kills in the report,
# each counted by its group and seen in kmsg as expected evidence (so the
# verdict stays pass), every step journaled with its victim, no group of
# the run left; the run process shielded from the OOM killer (-1000) while
# its workers are not and the VMMs offer themselves (+1000); Mode=global
# refused without the destructive opt-in.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

require_root
[ -w /dev/kvm ] || skip "/dev/kvm not usable here"
[ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] || grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
    skip "no memory cgroup controller"

N=4
cat >"$T/oom.ini" <<INI
[Profile]
Duration=2min

[Actor oom]
Action=oom
Touch=guest host
VCPUs=2
MemorySlots=4
SlotSize=16M
Limit=32M
Iterations=$N

# Other workloads' OOM kills count here: ours must still be expected, not findings.
[Evidence]
Count=oom
INI

our_groups() { # WPID: memory cgroups still named for that worker
    ls -d /sys/fs/cgroup/memory/hvtorture-"$1"-* /sys/fs/cgroup/hvtorture-"$1"-* 2>/dev/null || true
}

# 1. N kills: counted by the groups, journaled one by one, seen in kmsg as expected, verdict pass.
expect_exit 0 "$HVT" run --json --quiet --state-dir "$T/s1" "$T/oom.ini"
cp "$T/out" "$T/r1.json"
expect_json ".verdict == \"pass\" and .evidence_counted == 0" "$T/r1.json"
expect_json ".actors[0].outcomes[\"oom-killed\"] == $N and .actors[0].metrics.oom_kills == $N and
             .actors[0].metrics.oom_events >= $N and .actors[0].metrics.vcpus == 2 * $N" "$T/r1.json"
run=$(jq -r .run_id "$T/r1.json")
journal="$T/s1/runs/$run/journal.jsonl"
jq -se "[.[] | select(.type == \"step\" and .actor == \"oom\" and .outcome == \"oom-killed\") | .detail |
         select(test(\"^VMM [0-9]+ OOM-killed after [0-9]+ms touching from the (guest|host): .* oom_kill 1, 2 vCPUs, 4 slots\$\"))]
         | length == $N" "$journal" >/dev/null || fail "the journal does not have $N oom-killed steps with their details"
if jq -e '.kmsg_problem' "$T/r1.json" >/dev/null; then
    echo "kmsg not read here ($(jq -r .kmsg_problem "$T/r1.json")): the kernel's side not checked"
else
    expect_json "[.evidence[] | select(.kind == \"oom\")] | length == 1 and .[0].count == $N and
                 .[0].counted == false and .[0].expected == \"[Actor oom]\" and
                 (.[0].title | test(\"killed hvt-oom-vmm\"))" "$T/r1.json"
fi
expect_exit 0 "$HVT" show --state-dir "$T/s1" "$run"
expect_grep "oom +oom +1 +$N .*oom-killed $N" "$T/out"
expect_grep "$N× oom +memory cgroup out of memory: killed hvt-oom-vmm \(expected: provoked by \[Actor oom\]\)" "$T/out"
wpid=$(jq -r 'select(.type == "worker-start" and .actor == "oom") | .pid' "$journal")
[ -z "$(our_groups "$wpid")" ] || fail "memory cgroups left behind: $(our_groups "$wpid")"

# 2. Who the OOM killer may take: not the run (-1000, where the kernel lets us lower it), its worker
#    (back to 0), the VMM first (+1000).
cat >"$T/slow.ini" <<INI
[Profile]
Duration=1min

[Actor oom]
Action=oom
Touch=host
VCPUs=1
MemorySlots=2
SlotSize=16M
Limit=24M
Interval=1s
Timeout=1min
INI
"$HVT" run --quiet --state-dir "$T/s2" "$T/slow.ini" >"$T/r2.out" 2>"$T/r2.err" &
cli=$!
cleanup_hooks+=("kill -KILL $cli 2>/dev/null")
vmm=""
for i in $(seq 1 100); do
    vmm=$(pgrep -x hvt-oom-vmm -P "$(pgrep -x hvt-oom -P "$cli" || echo 0)" || true)
    [ -n "$vmm" ] && break
    sleep 0.05
done
worker=$(pgrep -x hvt-oom -P "$cli")
[ -n "$worker" ] || fail "no worker of the run"
expect_exit 0 "$HVT" check --json
if sh -c 'echo -1 >/proc/self/oom_score_adj' 2>/dev/null; then
    expect_json '.[] | select(.name == "oom-protect") | .status == "ok"' "$T/out"
    [ "$(cat /proc/$cli/oom_score_adj)" = -1000 ] || fail "the run's oom_score_adj is $(cat /proc/$cli/oom_score_adj), not -1000"
    [ "$(cat /proc/$worker/oom_score_adj)" = 0 ] || fail "the worker inherited oom_score_adj $(cat /proc/$worker/oom_score_adj)"
else
    echo "no CAP_SYS_RESOURCE here: -1000 cannot be set; the run and hvtorture check must say so"
    expect_json '.[] | select(.name == "oom-protect") | .status == "warn" and (.detail | test("CAP_SYS_RESOURCE"))' "$T/out"
    grep -q "cannot set its oom_score_adj to -1000" "$T/r2.err" || fail "the run did not warn that it is not protected"
    [ "$(cat /proc/$worker/oom_score_adj)" -ge 0 ] || fail "the worker runs below 0"
fi
if [ -n "$vmm" ] && [ -r /proc/$vmm/oom_score_adj ]; then
    adj=$(cat /proc/$vmm/oom_score_adj 2>/dev/null || echo gone)
    [ "$adj" = 1000 ] || [ "$adj" = gone ] || fail "the VMM's oom_score_adj is $adj, not 1000"
fi
kill -TERM "$cli"
rc=0; wait "$cli" || rc=$?
[ "$rc" = 3 ] || { cat "$T/r2.err" >&2; fail "the stopped run exited $rc, expected 3"; }
live_procs hvt-oom-vmm && pgrep -x hvt-oom-vmm | while read -r p; do
    [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$worker" ] && fail "VMM $p of the stopped run is still alive"
done
[ -z "$(our_groups "$worker")" ] || fail "memory cgroups left behind: $(our_groups "$worker")"

# 3. A kill that never comes (v1 only: the group's OOM killer switched off from outside, as an administrator
#    could): the step gives up at Timeout=, says where the VMM waits, counts a failure, and still leaves nothing.
if [ -f /sys/fs/cgroup/memory/memory.oom_control ]; then
    # 256M to touch before the limit: time enough to switch the killer off first.
    sed -e 's/^Iterations=.*/Iterations=1/' -e 's/^Touch=.*/Touch=host\nTimeout=3s/' -e 's/^SlotSize=.*/SlotSize=128M/' \
        -e 's/^Limit=.*/Limit=256M/' "$T/oom.ini" >"$T/stuck.ini"
    "$HVT" run --json --quiet --state-dir "$T/s4" "$T/stuck.ini" >"$T/r4.json" 2>"$T/r4.err" &
    cli=$!
    cleanup_hooks+=("kill -KILL $cli 2>/dev/null")
    grp=""
    for i in $(seq 1 200); do
        w=$(pgrep -x hvt-oom -P "$cli" || true)
        [ -n "$w" ] && grp=$(ls -d /sys/fs/cgroup/memory/hvtorture-"$w"-*-oom-* 2>/dev/null | head -1)
        [ -n "$grp" ] && break
        sleep 0.01
    done
    [ -n "$grp" ] || fail "the oom step's group never appeared"
    echo 1 >"$grp/memory.oom_control"
    rc=0; wait "$cli" || rc=$?
    if jq -e '.actors[0].outcomes["oom-killed"] == 1' "$T/r4.json" >/dev/null; then
        echo "the VMM was killed before the OOM killer could be switched off: timeout path not reached this time"
    else
        [ "$rc" = 1 ] || { cat "$T/r4.err" >&2; fail "a step that timed out: exit $rc, expected 1 (a failure)"; }
        expect_json '.verdict == "evidence" and .actors[0].outcomes.timeout == 1' "$T/r4.json"
        expect_json '.actors[0].problems[0].detail | test("^VMM [0-9]+ not OOM-killed within 3s while touching memory: .*, under_oom, waiting in ")' "$T/r4.json"
    fi
    [ ! -d "$grp" ] || fail "$grp left behind after the timeout"
fi

# 4. Mode=global presses on the whole host: the profile must confirm it, and the host must opt in.
sed 's/^Action=oom$/Action=oom\nMode=global/' "$T/oom.ini" >"$T/global.ini"
expect_exit 2 "$HVT" validate "$T/global.ini"
expect_grep "\[Actor oom\] \(Action=oom\) is destructive; say Destructive=yes" "$T/err"
sed -i 's/^\[Profile\]$/[Profile]\nDestructive=yes/' "$T/global.ini"
expect_exit 0 "$HVT" validate "$T/global.ini"
expect_exit 2 "$HVT" run --quiet --config /dev/null --state-dir "$T/s3" "$T/global.ini"
expect_grep "is destructive, and this host has not opted in" "$T/err"
expect_exit 0 "$HVT" run --dry-run "$T/global.ini"
expect_grep "no limit: the HOST's OOM killer \(destructive\)" "$T/out"
echo ok
