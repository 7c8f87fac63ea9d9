#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# hvtortured on a real (private) dbus-daemon that uses the shipped policy:
# introspection, start/status/stop through the CLI, root-only mutations,
# clear errors for bad calls, signals, and SIGTERM writing the report.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-bus.sh"
require_root
command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed"
command -v busctl >/dev/null || skip "busctl not installed"

start_bus "$T/bus" "$SRC/units/org.hvtorture1.conf"
busd=$bus_pid

cat >"$T/p.ini" <<'INI'
[Profile]
Description=bus test
Duration=1min

[Actor busact]
Action=idle
Instances=2
Interval=1ms..2ms
INI

start_daemon --state-dir "$T/state" --config "$T/none.conf"

# The API is introspectable.
busctl --system introspect org.hvtorture1 /org/hvtorture1 >"$T/intro"
for m in StartRun StartRunWithProfile StopRun GetStatus GetReport ListRuns Check Progress EvidenceFound RunFinished; do
    expect_grep "^\.$m " "$T/intro"
done
expect_exit 0 "$HVT" status
expect_grep "^State: idle" "$T/out"
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)

# Signals: watch the bus while a run starts.
dbus-monitor --system "type='signal',sender='org.hvtorture1'" >"$T/monitor" 2>/dev/null &
mon=$!
cleanup_hooks+=("kill $mon 2>/dev/null")
sleep 0.3

expect_exit 0 "$HVT" start --json "$T/p.ini"
run_id=$(jq -r .run_id "$T/out")
sleep 2
expect_exit 0 "$HVT" status --json
expect_json ".state == \"running\" and .run_id == \"$run_id\" and .steps > 0 and .actors.busact.steps > 0" "$T/out"
expect_json ".boot_count == 1 and .planned_reboots == 0" "$T/out"
expect_exit 0 "$HVT" status
expect_grep "^Boots: +1 \(0 planned reboots\)" "$T/out"
[ "$(busctl --system get-property org.hvtorture1 /org/hvtorture1 org.hvtorture1.Manager State)" = 's "running"' ] ||
    fail "State property is not running"
rss_run=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)

# One run at a time.
expect_exit 2 "$HVT" start "$T/p.ini"
expect_grep "is in progress; stop it first" "$T/err"

# Non-root may read but not stop (the policy and the daemon both say no).
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
expect_exit 0 nobody "$HVT" status --json
expect_json '.state == "running"' "$T/out"
expect_exit 2 nobody "$HVT" stop
expect_grep "[Aa]ccess denied|AccessDenied|not allowed" "$T/err"

# Bad calls get clear errors.
if busctl --system call org.hvtorture1 /org/hvtorture1 org.hvtorture1.Manager StartRun 'sa{sv}' rel.ini 0 \
    >"$T/out" 2>"$T/err"; then fail "a relative profile path was accepted"; fi
expect_grep "in progress|not absolute" "$T/err"
if busctl --system call org.hvtorture1 /org/hvtorture1 org.hvtorture1.Manager GetReport s '../../etc' \
    >"$T/out" 2>"$T/err"; then fail "a path as run id was accepted"; fi
expect_grep "not a run id" "$T/err"

# Stop and wait: the report comes back; stopped early means incomplete (exit 3).
expect_exit 3 "$HVT" stop --wait --json
expect_json ".run_id == \"$run_id\" and .verdict == \"incomplete\" and .stop_reason == \"stopped over the bus\"" "$T/out"
expect_grep "member=Progress" "$T/monitor"
expect_grep "member=RunFinished" "$T/monitor"
expect_exit 0 "$HVT" runs --json
expect_json "map(select(.run_id == \"$run_id\")) | length == 1" "$T/out"
expect_exit 3 "$HVT" show "$run_id"
expect_grep "stopped over the bus" "$T/out"

# A bad profile sent over the bus names its line.
if busctl --system call org.hvtorture1 /org/hvtorture1 org.hvtorture1.Manager StartRunWithProfile 'ssa{sv}' \
    bad.ini $'[Profile]\nDuration=1s\n[Actor busact]\nAction=idle\nInstances=zero\n' 0 >"$T/out" 2>"$T/err"; then
    fail "a bad profile was accepted"
fi
expect_grep "bad.ini:5: \[Actor busact\] Instances=zero: not a number" "$T/err"
if busctl --system call org.hvtorture1 /org/hvtorture1 org.hvtorture1.Manager StartRun 'sa{sv}' "$T/p.ini" 1 \
    Color s red >"$T/out" 2>"$T/err"; then fail "an unknown option was accepted"; fi
expect_grep "Unknown option 'Color'" "$T/err"

# SIGTERM during a run: the daemon stops it, writes its report, and exits cleanly.
expect_exit 0 "$HVT" start --json "$T/p.ini"
run2=$(jq -r .run_id "$T/out")
sleep 1
kill -TERM $daemon
rc=0; wait $daemon || rc=$?
[ $rc = 0 ] || fail "hvtortured exited $rc on SIGTERM"
expect_json '.stop_reason == "daemon shutting down" and .steps > 0' "$T/state/runs/$run2/report.json"
# Nothing of the run survives the daemon.
if live_procs hvt-busact; then fail "workers survived the daemon"; fi

# The daemon checks the caller itself, not only the policy: on a bus that lets anyone call anything,
# an unprivileged StopRun is still refused.
cat >"$T/open-policy.conf" <<'XML'
<busconfig><policy context="default"><allow own="*"/><allow send_destination="*"/></policy></busconfig>
XML
start_bus "$T/openbus" "$T/open-policy.conf"
start_daemon --state-dir "$T/state" --config "$T/none.conf"
expect_exit 2 nobody "$HVT" start "$T/p.ini"
expect_grep "Only root may start or stop runs" "$T/err"
expect_exit 2 nobody "$HVT" stop
expect_grep "Only root may start or stop runs" "$T/err"

echo "daemon RSS: idle ${rss_idle} KiB, running ${rss_run} KiB"
echo ok
