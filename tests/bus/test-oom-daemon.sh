#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# hvtortured and the OOM scenarios: at start it sweeps the memory cgroup a
# crashed run left (and nothing else of the hvtorture- prefix), it keeps
# itself out of the OOM killer's reach (-1000, or says why it cannot), and
# a run it carries out through the bus gets its OOM kills (counted, expected)
# and a stress-ng load's report section, with no group left behind.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-bus.sh"
require_root
command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed"
command -v busctl >/dev/null || skip "busctl not installed"
command -v stress-ng >/dev/null || skip "stress-ng not installed"
[ -w /dev/kvm ] || skip "/dev/kvm not usable here"
if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    root=/sys/fs/cgroup/memory
elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    root=/sys/fs/cgroup
else
    skip "no memory cgroup controller"
fi

# A group as a crashed run leaves it: named for an owner that is gone. And one of our prefix that is not ours.
sleep 100 &
gone=$!
start=$(sed 's/.*) //' /proc/$gone/stat | awk '{ print $20 }')
ns=$(stat -L -c %i /proc/self/ns/pid)
kill $gone
wait $gone 2>/dev/null || true
stale="$root/hvtorture-$gone-$start-$ns-test-crashed"
other="$root/hvtorture-test-not-ours-$$"
mkdir "$stale" "$other"
cleanup_hooks+=("rmdir $stale $other 2>/dev/null")

start_bus "$T/bus" "$SRC/units/org.hvtorture1.conf"
start_daemon --state-dir "$T/state" --config "$T/none.conf"
[ ! -d "$stale" ] || { cat "$T/daemon.log" >&2; fail "the daemon did not sweep $stale"; }
[ -d "$other" ] || fail "the daemon removed $other, which is not of its form"
expect_grep "hvtortured: removed [0-9]+ memory cgroups? left by a run or worker that is gone" "$T/daemon.log"

# Out of the OOM killer's reach where the kernel lets it; a warning where it does not.
if sh -c 'echo -1 >/proc/self/oom_score_adj' 2>/dev/null; then
    [ "$(cat /proc/$daemon/oom_score_adj)" = -1000 ] || fail "hvtortured runs at oom_score_adj $(cat /proc/$daemon/oom_score_adj)"
else
    expect_grep "hvtortured: cannot set its oom_score_adj to -1000" "$T/daemon.log"
fi

cat >"$T/oom.ini" <<'INI'
[Profile]
Duration=20s

[Actor oom]
Action=oom
VCPUs=2
MemorySlots=4
SlotSize=16M
Limit=32M
Iterations=3

[Load pressure]
Action=stress
Stressors=cpu:1

[Evidence]
Count=oom
INI
expect_exit 0 "$HVT" start --wait "$T/oom.ini"
expect_exit 0 "$HVT" show --json
cp "$T/out" "$T/report.json"
expect_json '.verdict == "pass" and .evidence_counted == 0' "$T/report.json"
expect_json '.actors[] | select(.name == "oom") | .outcomes["oom-killed"] == 3 and .metrics.oom_kills == 3' "$T/report.json"
expect_json '.actors[] | select(.name == "pressure") | .outcomes.ran == 1 and .reports[0].stressors[0].bogo_ops > 0' "$T/report.json"
run=$(jq -r .run_id "$T/report.json")
for wpid in $(jq -r 'select(.type == "worker-start") | .pid' "$T/state/runs/$run/journal.jsonl"); do
    ls -d "$root"/hvtorture-"$wpid"-* 2>/dev/null && fail "memory cgroups of worker $wpid left behind"
done
echo ok
