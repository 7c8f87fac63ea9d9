#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A [Load] of Action=stress with the real stress-ng: its --yaml metrics in
# the report (per stressor, JSON and text) and the journal; a run stopped
# with SIGTERM still reports them; a run whose CLI is SIGKILLed leaves no
# live stress-ng of ours (its group empties, the next start sweeps it);
# stress-ng missing or lacking a stressor stops the run at start with a
# message that says what to do.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

command -v stress-ng >/dev/null || skip "stress-ng is not installed (apt-get install stress-ng)"

load_profile() { # DURATION → $T/load.ini
    cat >"$T/load.ini" <<INI
[Profile]
Duration=$1

[Actor a]
Action=idle
Busy=5ms

[Load pressure]
Action=stress
Stressors=cpu:1 vm:1
Arguments=--vm-bytes 32M
INI
}

# Processes of a stress-ng started by worker WPID: its memory cgroup's members (root), else its process group.
stress_procs() { # WPID PGID
    local g pids=""
    for g in /sys/fs/cgroup/memory/hvtorture-"$1"-*-stress-* /sys/fs/cgroup/hvtorture-"$1"-*-stress-*; do
        [ -f "$g/cgroup.procs" ] && pids+=" $(cat "$g/cgroup.procs")"
    done
    [ -n "$2" ] && pids+=" $(ps -eo pid=,pgid=,stat= | awk -v g="$2" '$2 == g && $3 !~ /^Z/ { print $1 }')"
    echo $pids
}

our_groups() { # WPID: memory cgroups still named for that worker
    ls -d /sys/fs/cgroup/memory/hvtorture-"$1"-* /sys/fs/cgroup/hvtorture-"$1"-* 2>/dev/null || true
}

# Waits until the run's stress-ng runs; sets WPID (its worker) and SPID (stress-ng itself).
wait_for_stress() { # STATE-DIR
    local i
    WPID="" SPID=""
    for i in $(seq 1 100); do
        WPID=$(cat "$1"/runs/*/journal.jsonl 2>/dev/null |
               jq -r 'select(.type == "worker-start" and .actor == "pressure") | .pid' 2>/dev/null | tail -1 || true)
        [ -n "$WPID" ] && SPID=$(pgrep -P "$WPID" -x stress-ng || true)
        # Its stressors forked too: a YAML at the end needs them running.
        [ -n "$SPID" ] && pgrep -P "$SPID" >/dev/null && return 0
        sleep 0.1
    done
    fail "stress-ng never started (worker ${WPID:-none})"
}

# 1. A run with a stress-ng load: metrics per stressor in report.json, the text report and the journal.
load_profile 4s
expect_exit 0 "$HVT" run --json --quiet --state-dir "$T/s1" "$T/load.ini"
cp "$T/out" "$T/r1.json"
expect_json '.verdict == "pass"' "$T/r1.json"
expect_json '.actors[] | select(.name == "pressure") | .outcomes.ran == 1 and .metrics.runs == 1 and
             .metrics.bogo_ops > 0 and .metrics.stressors == 2 and .metrics.instances == 2' "$T/r1.json"
expect_json '[.actors[] | select(.name == "pressure") | .reports[0].stressors[] | select(.bogo_ops > 0) |
              .stressor] | sort == ["cpu", "vm"]' "$T/r1.json"
expect_json '.actors[] | select(.name == "pressure") | .reports[0] | (.tool == "stress-ng") and
             (.version | test("^[0-9]")) and (.command | test("--cpu 1 --vm 1 --timeout 0"))' "$T/r1.json"
run=$(jq -r .run_id "$T/r1.json")
expect_exit 0 "$HVT" show --state-dir "$T/s1" "$run"
expect_grep "^Reports:" "$T/out"
expect_grep "pressure +stress-ng [0-9.]+, 1 run: --cpu 1 --vm 1" "$T/out"
expect_grep "^ +vm +x1 +[0-9]+ bogo ops" "$T/out"
jq -se 'map(select(.type == "report" and .actor == "pressure")) | length == 1 and (.[0].report.stressors | length == 2)' \
    "$T/s1/runs/$run/journal.jsonl" >/dev/null || fail "no report record in the journal"
seed=$(jq -r '.actors[] | select(.name == "pressure") | .reports[0].command' "$T/r1.json" | sed 's/.*--seed \([0-9]*\).*/\1/')
pgrep -f -- "--seed $seed" >/dev/null && fail "a stress-ng of run 1 (--seed $seed) is still running"
wpid=$(jq -r 'select(.type == "worker-start" and .actor == "pressure") | .pid' "$T/s1/runs/$run/journal.jsonl")
[ -z "$(our_groups "$wpid")" ] || fail "memory cgroup left behind: $(our_groups "$wpid")"

# 2. SIGTERM stops the run: stress-ng is stopped, its metrics still reach the report, nothing is left.
load_profile 1min
"$HVT" run --json --quiet --state-dir "$T/s2" "$T/load.ini" >"$T/r2.json" 2>"$T/r2.err" &
cli=$!
cleanup_hooks+=("kill -KILL $cli 2>/dev/null")
wait_for_stress "$T/s2"
pgid=$SPID
sleep 1
kill -TERM "$cli"
rc=0; wait "$cli" || rc=$?
[ "$rc" = 3 ] || { cat "$T/r2.err" >&2; fail "SIGTERMed run exited $rc, expected 3 (incomplete)"; }
expect_json '.actors[] | select(.name == "pressure") | .outcomes.ran == 1 and .metrics.bogo_ops > 0 and
             (.reports[0].stressors | length == 2)' "$T/r2.json"
left=$(stress_procs "$WPID" "$pgid")
[ -z "$left" ] || { ps -o pid,stat,args -p ${left// /,} >&2; fail "stress-ng processes left after SIGTERM: $left"; }
[ -z "$(our_groups "$WPID")" ] || fail "memory cgroup left behind: $(our_groups "$WPID")"

# 3. SIGKILL of the CLI: no report, but no live stress-ng either; the next start sweeps its group.
"$HVT" run --quiet --state-dir "$T/s3" "$T/load.ini" >/dev/null 2>&1 &
cli=$!
cleanup_hooks+=("kill -KILL $cli 2>/dev/null")
wait_for_stress "$T/s3"
pgid=$SPID
kill -KILL "$cli"
wait "$cli" 2>/dev/null || true
for i in $(seq 1 50); do
    [ -z "$(stress_procs "$WPID" "$pgid")" ] && break
    sleep 0.1
done
left=$(stress_procs "$WPID" "$pgid")
[ -z "$left" ] || { ps -o pid,stat,args -p ${left// /,} >&2; fail "live stress-ng processes 5s after SIGKILL of the run: $left"; }
live_procs hvt-pressure && pgrep -x hvt-pressure | grep -qx "$WPID" && fail "the load's worker outlived the run"
if [ "$(id -u)" = 0 ] && [ -n "$(our_groups "$WPID")" ]; then
    load_profile 1s
    expect_exit 0 "$HVT" run --quiet --state-dir "$T/s4" "$T/load.ini"
    expect_grep "removed [0-9]+ memory cgroups? left by a run or worker that is gone" "$T/err"
    [ -z "$(our_groups "$WPID")" ] || fail "the next start did not sweep $(our_groups "$WPID")"
fi

# 4. No stress-ng: the run does not start, and the message says how to get it.
load_profile 1s
expect_exit 2 env PATH=/nonexistent "$HVT" run --quiet --state-dir "$T/s5" "$T/load.ini"
expect_grep "\[Load pressure\] \(Action=stress\) cannot run on this host: stress-ng is not installed.*apt-get install stress-ng" "$T/err"
# A stressor this stress-ng does not have.
sed -i 's/^Stressors=.*/Stressors=cpu:1 no-such-stressor:1/' "$T/load.ini"
expect_exit 2 "$HVT" run --quiet --state-dir "$T/s5" "$T/load.ini"
expect_grep "has no stressor 'no-such-stressor'" "$T/err"
echo "ok"
