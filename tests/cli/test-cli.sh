#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The hvtorture CLI end to end: exit codes, --json, validate errors naming
# the line, --dry-run touching nothing, reports and the local run store.
# Uses Action=idle, so it needs no kernel features.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

cat >"$T/ok.ini" <<'INI'
[Profile]
Description=cli test
Duration=1s

[Actor a]
Action=idle
Instances=2
Interval=1ms..3ms
INI

# Help and unknown verbs.
expect_exit 0 "$HVT" --help
expect_grep "run .*run a profile now" "$T/out"
expect_exit 2 "$HVT" frobnicate
expect_grep "unknown verb 'frobnicate'" "$T/err"
for v in run validate check start stop status runs show evidence classify vmcore-dmesg; do
    expect_exit 0 "$HVT" $v --help
    expect_grep "hvtorture $v" "$T/out"
done
expect_exit 0 "$HVT" --version

# validate: good, then a typo with file:line and a suggestion.
expect_exit 0 "$HVT" validate "$T/ok.ini"
sed 's/^Interval=/Intervall=/' "$T/ok.ini" >"$T/typo.ini"
expect_exit 2 "$HVT" validate "$T/typo.ini"
expect_grep "typo.ini:8: \[Actor a\] Intervall=1ms..3ms: unknown key 'Intervall' \(did you mean 'Interval'\?\)" "$T/err"
expect_exit 2 "$HVT" validate --json "$T/typo.ini"
expect_json '.[0].valid == false and .[0].errors[0].line == 8 and .[0].errors[0].key == "Intervall"' "$T/out"
expect_exit 0 "$HVT" validate --keys
expect_grep "Action=vm" "$T/out"
expect_exit 2 "$HVT" validate "$T/missing.ini"
expect_grep "missing.ini.*No such file" "$T/err"

# Every shipped profile is valid.
expect_exit 0 "$HVT" validate "$SRC"/profiles/*.ini

# --dry-run prints the plan and creates nothing.
expect_exit 0 "$HVT" run --dry-run --seed 7 --state-dir "$T/state" "$T/ok.ini"
expect_grep "^Seed: +7" "$T/out"
expect_grep "\[Actor a\] action idle" "$T/out"
expect_grep "2 instances" "$T/out"
[ ! -e "$T/state" ] || fail "--dry-run created the state directory"

# A passing run: exit 0, JSON with the seed, per-actor counts and the verdict.
expect_exit 0 "$HVT" run --json --quiet --seed 1234 --state-dir "$T/state" "$T/ok.ini"
expect_json '.seed == 1234 and .verdict == "pass" and .exit_code == 0' "$T/out"
expect_json '.actors[0].name == "a" and .actors[0].steps > 10 and .actors[0].outcomes.ok == .actors[0].steps' "$T/out"
run_id=$(jq -r .run_id "$T/out")
[ -f "$T/state/runs/$run_id/report.json" ] || fail "no report.json for $run_id"
[ -s "$T/state/runs/$run_id/journal.jsonl" ] || fail "no journal for $run_id"
jq -e . "$T/state/runs/$run_id/journal.jsonl" >/dev/null || fail "journal is not JSON lines"

# The text report.
expect_exit 0 "$HVT" run --quiet --duration 1s --state-dir "$T/state" "$T/ok.ini"
expect_grep "^Verdict: PASS" "$T/out"
expect_grep "^a +idle +2 " "$T/out"

# Evidence-like failures: exit 1. Nothing but environment errors: exit 3.
sed 's/^Interval=.*/Outcomes=ok:3 failure:1/' "$T/ok.ini" >"$T/fail.ini"
expect_exit 1 "$HVT" run --quiet --state-dir "$T/state" "$T/fail.ini"
expect_grep "^Verdict: EVIDENCE" "$T/out"
sed 's/^Interval=.*/Outcomes=env-error/' "$T/ok.ini" >"$T/env.ini"
expect_exit 3 "$HVT" run --quiet --state-dir "$T/state" "$T/env.ini"
expect_grep "simulated env-error" "$T/out"

# JUnit XML for CI gates: well-formed, a testcase per actor, failures where steps failed.
expect_exit 1 "$HVT" run --quiet --junit - --state-dir "$T/state" "$T/fail.ini"
xmllint --noout "$T/out" || fail "--junit wrote malformed XML"
[ "$(xmllint --xpath 'count(//testcase[@classname="hvtorture.Actor"])' "$T/out")" = 1 ] || fail "no Actor testcase"
[ "$(xmllint --xpath 'count(//testcase[@name="a"]/failure)' "$T/out")" = 1 ] || fail "the failing actor has no <failure>"
expect_exit 0 "$HVT" show --state-dir "$T/state" --junit "$T/show.xml" "$run_id"
xmllint --noout "$T/show.xml" || fail "show --junit wrote malformed XML"
[ "$(xmllint --xpath 'string(//property[@name="verdict"]/@value)' "$T/show.xml")" = pass ] || fail "verdict missing"

# Bad input: exit 2 naming what was wrong.
expect_exit 2 "$HVT" run --state-dir "$T/state" "$T/typo.ini"
expect_grep "typo.ini:8:" "$T/err"
expect_exit 2 "$HVT" run --duration soon "$T/ok.ini"
expect_grep "duration=soon: not a duration" "$T/err"
expect_exit 2 "$HVT" run "$T/nope.ini"
expect_grep "nope.ini" "$T/err"
expect_exit 2 "$HVT" run --state-dir /proc/nope "$T/ok.ini"
expect_grep "state directory /proc/nope" "$T/err"

# SIGINT: the run stops, the report is still written, exit 3 (incomplete).
"$HVT" run --json --duration 1min --state-dir "$T/state" "$T/ok.ini" >"$T/int.json" 2>"$T/int.err" &
pid=$!
sleep 1
kill -INT $pid
rc=0; wait $pid || rc=$?
[ $rc = 3 ] || fail "interrupted run exited $rc, expected 3"
expect_json '.verdict == "incomplete" and .stop_reason == "interrupted by SIGINT" and .steps > 0' "$T/int.json"

# The same seed replays the same choices: with a fixed step count, weighted outcomes come out the same.
printf '[Profile]\n[Actor a]\nAction=idle\nIterations=40\nOutcomes=ok:1 env-error:1\n' >"$T/seeded.ini"
"$HVT" run --json --quiet --seed 42 --state-dir "$T/state" "$T/seeded.ini" >"$T/s1.json" || true
"$HVT" run --json --quiet --seed 42 --state-dir "$T/state" "$T/seeded.ini" >"$T/s2.json" || true
[ "$(jq -c '.actors[0].outcomes' "$T/s1.json")" = "$(jq -c '.actors[0].outcomes' "$T/s2.json")" ] ||
    fail "the same seed gave different outcomes: $(jq -c '.actors[0].outcomes' "$T/s1.json") vs $(jq -c '.actors[0].outcomes' "$T/s2.json")"

# check: valid JSON with a kvm line.
"$HVT" check --json >"$T/check.json" || true
expect_json 'map(select(.name == "kvm")) | length == 1' "$T/check.json"

# runs and show read the store without a daemon; show's exit code is the run's verdict.
expect_exit 0 "$HVT" runs --state-dir "$T/state" --json
expect_json "map(select(.run_id == \"$run_id\" and .verdict == \"pass\")) | length == 1" "$T/out"
expect_exit 0 "$HVT" show --state-dir "$T/state" "$run_id"
expect_grep "^Run $run_id" "$T/out"
expect_exit 2 "$HVT" show --state-dir "$T/state" ../etc
expect_grep "not a run id" "$T/err"
# --dry-run says exactly when each trigger fires, and where Reboots= stops the reboot-class ones.
cat >"$T/reboots.ini" <<'INI'
[Profile]
Duration=10min
Reboots=3
Destructive=yes

[Actor a]
Action=idle

[Trigger kx]
Action=kexec
Kernel=/boot/vmlinuz-test
Append=hvt.marker=1
At=1min
Every=2min
INI
expect_exit 0 "$HVT" run --dry-run "$T/reboots.ini"
expect_grep 'fire times \(run time\): \+1min, \+3min, \+5min; each takes the host down' "$T/out"
expect_grep "loads /boot/vmlinuz-test .* hvt.marker=1', then reboot\(LINUX_REBOOT_CMD_KEXEC\)" "$T/out"
expect_grep "a real run needs --allow-destructive" "$T/out"
# ... and a real run of it without the opt-in touches nothing.
expect_exit 2 "$HVT" run --state-dir "$T/reboot-state" "$T/reboots.ini"
expect_grep "destructive, and this host has not opted in" "$T/err"
echo "ok"
