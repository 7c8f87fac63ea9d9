#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The module action through the hvtorture binary, on the fake module kernel
# (tests/fake-kmod preloaded, a fake root made by its mkroot): a run's
# loads and unloads agree between the report, the journal (a line per
# step) and what the kernel saw; the modules are left as found; a module
# outside AllowModules=, a run without the destructive opt-in, and a forced
# unload without the host config's own opt-in are refused before the
# kernel sees a single call; `check` says what the action needs.
#
#   test-module.sh FAKE_KMOD_SO MKROOT        (meson passes both)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

so=$(realpath "${1:?usage: test-module.sh FAKE_KMOD_SO MKROOT}")
mkroot=${2:?}
require_root # the /proc scan reads every process's fds

root=$T/fake
"$mkroot" "$root" 6.1.0-hvt-fake amd || { [ $? = 77 ] && skip "mkroot needs as and depmod"; fail "mkroot failed"; }
log=$root/fake-kmod.log

fake() {
    LD_PRELOAD=$so HVT_FAKE_ROOT=$root ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0 "$@"
}
calls() { # the fake kernel's calls so far matching an extended regex
    [ -f "$log" ] || { echo 0; return; }
    grep -cE -- "$1" "$log" || true
}
loaded() { [ -f "$root/sys/module/$1/initstate" ]; }

cat >"$T/host.conf" <<'INI'
[Host]
AllowDestructive=yes
INI
cat >"$T/no-opt-in.conf" <<'INI'
[Host]
AllowDestructive=no
INI
cat >"$T/kvm-only.conf" <<'INI'
[Host]
AllowDestructive=yes
AllowModules=kvm
INI

profile() { # NAME KEYS…: a profile cycling modules, with a few idle steps beside it
    local name=$1
    shift
    {
        printf '[Profile]\nDescription=module test\nIterations=40\nDestructive=yes\n\n'
        printf '[Actor cycle]\nAction=module\nInterval=1ms\nHoldTime=1ms..3ms\n'
        printf '%s\n' "$@"
    } >"$T/$name.ini"
}

profile cycle "Modules=vendor kvm" "Options=vendor:nested=0|1 kvm:tdp_mmu=Y|N kvm_intel:nested=N|Y"
profile ramoops "Modules=kvm ramoops"
profile force "Modules=vendor kvm" "Unload=force"

# A profile that unloads modules must say it is destructive.
sed '/^Destructive=yes/d' "$T/cycle.ini" >"$T/undeclared.ini"
expect_exit 2 "$HVT" validate "$T/undeclared.ini"
expect_grep "\[Actor cycle\] \(Action=module\) is destructive; say Destructive=yes" "$T/err"
expect_exit 0 "$HVT" validate "$T/cycle.ini"

# --dry-run: the plan, and the kernel sees nothing.
expect_exit 0 fake "$HVT" run --dry-run --config "$T/host.conf" --state-dir "$T/state" "$T/cycle.ini"
expect_grep "loads vendor kvm with vendor:nested=0\|1" "$T/out"
[ "$(calls .)" = 0 ] || fail "--dry-run made module calls: $(cat "$log")"

# Refusals: not allowed, no opt-in, forced without the host config's own opt-in. Nothing reaches the kernel.
expect_exit 2 fake "$HVT" run --quiet --config "$T/host.conf" --state-dir "$T/state" "$T/ramoops.ini"
expect_grep "\[Actor cycle\] \(Action=module\) is not allowed on this host: Modules=ramoops: ramoops is not in AllowModules= of $T/host.conf \(it allows: kvm kvm_intel kvm_amd\)" "$T/err"
expect_exit 2 fake "$HVT" run --quiet --config "$T/no-opt-in.conf" --state-dir "$T/state" "$T/cycle.ini"
expect_grep "is destructive, and this host has not opted in: set AllowDestructive=yes in \[Host\] of $T/no-opt-in.conf, or pass --allow-destructive" "$T/err"
expect_exit 2 fake "$HVT" run --quiet --allow-destructive --config "$T/no-opt-in.conf" --state-dir "$T/state" "$T/force.ini"
expect_grep "Unload=force removes modules still in use and can crash the host: it needs AllowDestructive=yes in \[Host\] of $T/no-opt-in.conf itself" "$T/err"
expect_exit 2 fake "$HVT" run --quiet --config "$T/kvm-only.conf" --state-dir "$T/state" "$T/cycle.ini"
expect_grep "Modules=vendor \(kvm_amd\): kvm_amd is not in AllowModules=" "$T/err"
[ "$(calls .)" = 0 ] || fail "a refused run made module calls: $(cat "$log")"
[ ! -e "$T/state/runs" ] || [ -z "$(ls "$T/state/runs")" ] || fail "a refused run created a run directory"
loaded kvm && fail "a refused run loaded kvm"

# check: what the action needs, from the same probes.
expect_exit 0 fake "$HVT" check --json --config "$T/host.conf"
expect_json '.[] | select(.name == "modules") | .status == "ok"' "$T/out"
expect_json '.[] | select(.name == "kvm-modules") | .status == "ok" and (.detail | test("kvm and kvm_amd .* can be cycled; now: kvm not loaded, kvm_amd not loaded"))' "$T/out"
expect_exit 0 fake "$HVT" check --json --config "$T/kvm-only.conf"
expect_json '.[] | select(.name == "kvm-modules") | .status == "warn" and (.detail | test("AllowModules= of .*kvm-only.conf does not list both"))' "$T/out"

# A run: the opt-in from --allow-destructive this time.
expect_exit 0 fake "$HVT" run --json --quiet --allow-destructive --config "$T/no-opt-in.conf" --seed 3 \
    --state-dir "$T/state" "$T/cycle.ini"
cp "$T/out" "$T/report.json"
expect_json '.verdict == "pass"' "$T/report.json"
expect_json '.actors[0].name == "cycle" and .actors[0].steps >= 40' "$T/report.json"
expect_json '.actors[0].outcomes.loaded > 15 and .actors[0].outcomes.unloaded > 15' "$T/report.json"
expect_json '.actors[0].steps == .actors[0].outcomes.loaded + .actors[0].outcomes.unloaded' "$T/report.json"
run_id=$(jq -r .run_id "$T/report.json")
journal=$T/state/runs/$run_id/journal.jsonl
n_loaded=$(jq -r '.actors[0].outcomes.loaded' "$T/report.json")
n_unloaded=$(jq -r '.actors[0].outcomes.unloaded' "$T/report.json")
# Every step has its journal line, with its outcome and duration.
[ "$(jq -c 'select(.type == "step" and .actor == "cycle" and .outcome == "loaded" and .duration_ns > 0)' "$journal" | wc -l)" = "$n_loaded" ] ||
    fail "journal loads differ from the report's $n_loaded"
[ "$(jq -c 'select(.type == "step" and .actor == "cycle" and .outcome == "unloaded" and .duration_ns > 0)' "$journal" | wc -l)" = "$n_unloaded" ] ||
    fail "journal unloads differ from the report's $n_unloaded"
# And what the kernel saw: a load of kvm_amd per "loaded", its unload per "unloaded" (plus the restore's, if any).
[ "$(calls '^init kvm_amd "nested=[01]" = 0$')" = "$n_loaded" ] || fail "kernel saw $(calls '^init kvm_amd .* = 0$') loads, report $n_loaded"
restores=$(jq -c 'select(.type == "note" and (.note | test("left the modules as found: unloaded kvm_amd")))' "$journal" | wc -l)
[ "$(calls '^delete kvm_amd .* = 0$')" = "$((n_unloaded + restores))" ] || fail "kernel saw $(calls '^delete kvm_amd .* = 0$') unloads, report $n_unloaded (+$restores restore)"
[ "$(calls '^init kvm_intel')" = 0 ] || fail "kvm_intel was loaded on an AMD CPU"
expect_grep '"note":"found kvm not loaded, kvm_amd not loaded; they are left so at the end"' "$journal"
# Left as found: nothing loaded.
loaded kvm_amd && fail "kvm_amd is left loaded"
loaded kvm && fail "kvm is left loaded"
echo "module cycle run: $n_loaded loads, $n_unloaded unloads, $restores restores"
