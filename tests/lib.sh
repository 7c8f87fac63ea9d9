# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the shell test suites: where the binaries are, a scratch
# directory that is removed on exit, and checks that say what failed.

HVT=${HVT_BUILD_ROOT:?}/cli/hvtorture
HVTD=${HVT_BUILD_ROOT:?}/daemon/hvtortured
SRC=${HVT_SOURCE_ROOT:?}
T=$(mktemp -d /tmp/hvt-test.XXXXXX)
cleanup_hooks=()
cleanup() {
    [ -n "${KEEP_LOGS:-}" ] && cp -r "$T" /tmp/hvt-kept.$$
    local h
    for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

skip() {
    echo "SKIP: $*"
    exit 77
}

# expect_exit CODE CMD...: runs CMD, stdout to $T/out, stderr to $T/err.
expect_exit() {
    local want=$1 got
    shift
    "$@" >"$T/out" 2>"$T/err" && got=0 || got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stdout" >&2; tail -20 "$T/out" >&2
        echo "--- stderr" >&2; tail -20 "$T/err" >&2
        fail "'$*' exited $got, expected $want"
    fi
}

expect_grep() { # PATTERN FILE
    grep -qE -- "$1" "$2" || { echo "--- $2" >&2; head -40 "$2" >&2; fail "'$1' not found in $2"; }
}

expect_json() { # JQ-FILTER FILE: the filter must yield true
    jq -e "$1" "$2" >/dev/null || { echo "--- $2" >&2; head -60 "$2" >&2; fail "jq '$1' is not true for $2"; }
}

require_root() {
    [ "$(id -u)" = 0 ] || skip "needs root"
}

# live_procs COMM: true if a process named COMM exists that is not a zombie
# (a zombie reparented to a PID 1 that does not reap is not ours to judge).
live_procs() {
    ps -eo stat=,comm= | awk -v c="$1" '$2 == c && $1 !~ /^Z/ { found = 1 } END { exit !found }'
}
