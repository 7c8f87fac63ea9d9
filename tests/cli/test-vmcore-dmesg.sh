#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# hvtorture vmcore-dmesg on the unit test's synthetic crash dumps: the text
# as dmesg prints it, --json, and errors that say what is wrong.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
mk=${1:?mkvmcore}

"$mk" prb "$T/vmcore"
"$mk" log-buf "$T/vmcore-old"
"$mk" no-note "$T/vmcore-nonote"

expect_exit 0 "$HVT" vmcore-dmesg --help
expect_grep "hvtorture vmcore-dmesg" "$T/out"

expect_exit 0 "$HVT" vmcore-dmesg "$T/vmcore"
expect_grep '^\[   77\.101050\] Kernel panic - not syncing: sysrq triggered crash$' "$T/out"
expect_grep '^               line two$' "$T/out"
[ "$(wc -l <"$T/out")" = 6 ] || fail "expected 6 lines, got $(wc -l <"$T/out")"

expect_exit 0 "$HVT" vmcore-dmesg --json "$T/vmcore"
expect_json '.lines == 6 and .records == 5 and .skipped == 3 and .format == "printk_ringbuffer"' "$T/out"
expect_json '.osrelease == "6.1.0-test-amd64" and .truncated == false' "$T/out"
expect_json '.text | contains("Kernel panic - not syncing: sysrq triggered crash\n")' "$T/out"

expect_exit 0 "$HVT" vmcore-dmesg --json "$T/vmcore-old"
expect_json '.format == "log_buf" and .records == 3' "$T/out"

expect_exit 2 "$HVT" vmcore-dmesg "$T/vmcore-nonote"
expect_grep "vmcore-nonote: no VMCOREINFO note" "$T/err"
head -c 100 "$T/vmcore" >"$T/short"
expect_exit 2 "$HVT" vmcore-dmesg "$T/short"
expect_grep "short: core truncated" "$T/err"
expect_exit 2 "$HVT" vmcore-dmesg "$T/missing"
expect_grep "cannot open .*missing" "$T/err"
expect_exit 2 "$HVT" vmcore-dmesg a b
expect_exit 2 "$HVT" vmcore-dmesg --frobnicate
if [ ! -e /proc/vmcore ]; then
    expect_exit 2 "$HVT" vmcore-dmesg
    expect_grep "no /proc/vmcore: this is not a kdump crash kernel" "$T/err"
fi
echo "vmcore-dmesg: ok"
