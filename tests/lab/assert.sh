# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Assertions for a scenario's host-side .check script. The harness runs the
# script with bash in the results disk's tree (out/, log/, state/, in/,
# boot-count) and these variables set:
#   LAB_RESULTS  the results directory     LAB_DISK    the disk's tree (the cwd)
#   LAB_SERIAL   the full serial log
# Each expect_* prints "ok" or "FAIL" with the file and the value it saw,
# and keeps going so one run reports every problem; assert_done exits 1 if
# any failed (call it last).

_lab_failed=0
_lab_checked=0

_lab_ok() {
    _lab_checked=$((_lab_checked + 1))
    echo "  ok    $*"
}

_lab_fail() {
    _lab_checked=$((_lab_checked + 1))
    _lab_failed=$((_lab_failed + 1))
    echo "  FAIL  $*" >&2
}

# expect_file PATH: PATH exists and is not empty.
expect_file() {
    if [ -s "$1" ]; then
        _lab_ok "$1 exists"
    elif [ -e "$1" ]; then
        _lab_fail "$1 is empty"
    else
        _lab_fail "$1 does not exist; $(dirname "$1")/ holds: $(find "$(dirname "$1")" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null | head -c 300)"
    fi
}

# expect_grep REGEX PATH: an extended regex matches a line of PATH.
expect_grep() {
    if [ ! -e "$2" ]; then
        _lab_fail "$2 does not exist (wanted /$1/)"
    elif grep -Eq -- "$1" "$2"; then
        _lab_ok "$2 matches /$1/"
    else
        _lab_fail "$2 has no line matching /$1/; its last lines:"
        tail -n 5 "$2" | sed 's/^/          | /' >&2
    fi
}

# expect_no_grep REGEX PATH: no line of PATH matches.
expect_no_grep() {
    if [ ! -e "$2" ]; then
        _lab_fail "$2 does not exist"
    elif grep -Eq -- "$1" "$2"; then
        _lab_fail "$2 matches /$1/ at: $(grep -En -- "$1" "$2" | head -n 3 | tr '\n' ' ')"
    else
        _lab_ok "$2 has no /$1/"
    fi
}

# expect_serial REGEX: the serial console log matches.
expect_serial() {
    expect_grep "$1" "${LAB_SERIAL:?}"
}

# expect_result KEY VALUE: the guest's lab_result KEY VALUE (last one wins).
expect_result() {
    local got
    got=$(sed -n "s/^$1=//p" out/results.txt 2>/dev/null | tail -n 1)
    if [ "$got" = "$2" ]; then
        _lab_ok "result $1=$2"
    elif [ -z "$got" ] && ! grep -q "^$1=" out/results.txt 2>/dev/null; then
        _lab_fail "result $1: not recorded in out/results.txt (wanted '$2')"
    else
        _lab_fail "result $1='$got' in out/results.txt, wanted '$2'"
    fi
}

# expect_json PATH JQ-FILTER: the filter's output on PATH is true (jq -e).
expect_json() {
    local got
    if [ ! -e "$1" ]; then
        _lab_fail "$1 does not exist (wanted $2)"
    elif got=$(jq -e "$2" "$1" 2>&1); then
        _lab_ok "$1: $2"
    else
        _lab_fail "$1: $2 is '${got:-no output}'"
    fi
}

# expect_boots N: the guest counted exactly N boots.
expect_boots() {
    local got
    got=$(cat boot-count 2>/dev/null || echo missing)
    if [ "$got" = "$1" ]; then
        _lab_ok "$1 boot(s)"
    else
        _lab_fail "boot-count is '$got', wanted $1"
    fi
}

# expect_rc BOOT CODE: the scenario's exit status in boot BOOT.
expect_rc() {
    local got
    got=$(cat "log/boot-$1.rc" 2>/dev/null || echo "none (the boot ended before the scenario did)")
    if [ "$got" = "$2" ]; then
        _lab_ok "boot $1 exit status $2"
    else
        _lab_fail "boot $1 exit status '$got', wanted $2"
    fi
}

assert_done() {
    if [ "$_lab_failed" -gt 0 ]; then
        echo "$_lab_failed of $_lab_checked host checks failed" >&2
        exit 1
    fi
    echo "all $_lab_checked host checks passed"
}
