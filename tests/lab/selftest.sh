#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The lab harness's own test: a harness that cannot fail proves nothing.
# Runs the scenarios in tests/lab/selftest/, each broken on purpose, and
# checks that `lab run` fails each of them (exit 1) for the right reason,
# naming it, and that a hung guest is killed at its deadline with the tail
# of its serial log printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lab=$here/lab
failures=0

indent() {
    sed 's/^/    | /'
}

# expect_failure SCENARIO PATTERN...: lab run exits 1 and its output matches every PATTERN.
expect_failure() {
    local scenario=$1 out rc=0
    shift
    out=$("$lab" run --quiet --scenario "$here/selftest/$scenario.sh" \
        --results "${HVT_BUILD_ROOT:?}/lab-results/selftest-$scenario" 2>&1) || rc=$?
    if [ "$rc" = 77 ]; then
        echo "$out"
        exit 77
    fi
    if [ "$rc" != 1 ]; then
        echo "FAIL: $scenario: lab run exited $rc, expected 1; its output:"
        indent <<<"$out"
        failures=$((failures + 1))
        return
    fi
    local pattern
    for pattern in "$@"; do
        if ! grep -Eq -- "$pattern" <<<"$out"; then
            echo "FAIL: $scenario: no line of lab's output matches /$pattern/; its output:"
            indent <<<"$out"
            failures=$((failures + 1))
            return
        fi
    done
    echo "ok: $scenario failed as it should"
}

expect_failure hang \
    'FAIL: the guest did not power off within the deadline of 25s' \
    'hvtlab: hanging on purpose' \
    'last [0-9]+ lines of the serial console' \
    'full serial log: .*/selftest-hang/serial.log'
expect_failure fail \
    "boot 1: scenario exit status '1'" \
    'deliberate failure for the self-test' \
    'some output before the failure'
expect_failure unexpected-reboot \
    'unexpected boot 2 \(the scenario asked for 1\)' \
    'the guest booted 2 time\(s\); the scenario declares lab-boots: 1'
expect_failure check-fails \
    "result answer='41' in out/results.txt, wanted '42'" \
    'out/never-written.txt does not exist' \
    'host checks .*check-fails.check failed'

if [ "$failures" -gt 0 ]; then
    echo "$failures harness self-test(s) failed"
    exit 1
fi
echo "the harness failed every broken scenario for the right reason"
