#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs outlive the processes that run them: a daemon SIGKILLed mid-run is
# restarted and resumes its run from the saved counters; a one-shot CLI run
# SIGKILLed is closed by the next daemon with a report. (Reboots are the
# lab's: there the boot id changes; here it stays and the restart is seen
# as a process restart.)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-bus.sh"
require_root
command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed"

start_bus "$T/bus" "$SRC/units/org.hvtorture1.conf"

cat >"$T/p.ini" <<'INI'
[Profile]
Duration=14s

[Actor resact]
Action=idle
Interval=1ms..2ms
INI

# A daemon run, the daemon SIGKILLed after its first state save (10 s).
start_daemon --state-dir "$T/state" --config "$T/none.conf"
expect_exit 0 "$HVT" start --json "$T/p.ini"
run_id=$(jq -r .run_id "$T/out")
sleep 11.5
kill -KILL $daemon
wait $daemon 2>/dev/null || true
[ -f "$T/state/active/$run_id" ] || fail "the killed daemon's run is not marked active"
steps_saved=$(jq .steps "$T/state/runs/$run_id/state.json")
[ "$steps_saved" -gt 0 ] || fail "no counters were saved"
sleep 0.5
if live_procs hvt-resact; then ps -eo pid,ppid,comm,args | grep hvt >&2; fail "workers outlived their daemon"; fi

# The next daemon resumes it where it was and finishes it.
start_daemon --state-dir "$T/state" --config "$T/none.conf"
expect_exit 0 "$HVT" status --json
expect_json ".state == \"running\" and .run_id == \"$run_id\" and .steps >= $steps_saved" "$T/out"
sleep 4
expect_exit 0 "$HVT" show --json "$run_id"
expect_json '.verdict == "pass" and .stop_reason == "duration reached"' "$T/out"
expect_json ".steps > $steps_saved and .elapsed_s >= 13" "$T/out"
grep -q '"type":"resume".*"how":"process-restart"' "$T/state/runs/$run_id/journal.jsonl" ||
    fail "no resume record in the journal"
[ ! -e "$T/state/active/$run_id" ] || fail "the finished run is still marked active"

# A one-shot CLI run SIGKILLed: the daemon closes it (report written, incomplete), it does not run it on.
kill -TERM $daemon
wait $daemon || true
"$HVT" run --quiet --state-dir "$T/state" "$T/p.ini" >/dev/null 2>&1 &
cli=$!
sleep 1.5
kill -KILL $cli
wait $cli 2>/dev/null || true
cli_run=$(ls "$T/state/active")
[ -n "$cli_run" ] || fail "the killed CLI run is not marked active"
start_daemon --state-dir "$T/state" --config "$T/none.conf"
sleep 0.5
expect_exit 0 "$HVT" status --json
expect_json '.state == "idle"' "$T/out"
expect_exit 3 "$HVT" show --json "$cli_run"
expect_json '.verdict == "incomplete" and .stop_reason == "closed: the process running the run died"' "$T/out"
[ -z "$(ls "$T/state/active")" ] || fail "the closed run is still marked active"
echo ok
