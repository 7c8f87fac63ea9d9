#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The systemd guest: a debootstrapped Debian whose PID 1 is systemd, with
# the project installed by `meson install`. The scenario runs as the
# oneshot unit hvtlab.service; it checks PID 1 and the system bus, keeps
# what systemd says about the installed hvtorture.service, and the runner
# brings back dmesg and this boot's journal before powering off.
#
# Then the daemon for real, as a lab host runs it: `systemctl start
# hvtorture` (Type=notify: systemd says "Started" only once the daemon sent
# READY=1), `hvtorture start` of a lab profile over the system bus (idle
# workers and VM lifecycles on the guest's nested KVM), `hvtorture status`
# while it runs, the unit's StatusText= (the daemon's STATUS=), and
# `systemctl stop hvtorture`: the run is stopped with its report, no
# worker is left, the unit is inactive and not failed.
#
# lab-flavour: systemd
# lab-files: tests/lab/profiles/daemon.ini
# lab-deadline: 180

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

lab_result pid1 "$(cat /proc/1/comm)"
[ -d /run/systemd/system ] || lab_fail "/run/systemd/system is missing: systemd is not the init system"

# Each step says where it is, and none may wait forever: a hang shows which one.
lab_log "asking the system bus"
timeout 60 busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId \
        >"$LAB_OUT/bus-id.txt" 2>&1 || lab_fail "the system bus does not answer: $(cat "$LAB_OUT/bus-id.txt")"
lab_result bus answers
timeout 60 busctl --no-pager list >"$LAB_OUT/bus-names.txt" 2>&1

lab_log "asking systemd about the units"
lab_result unit "$(timeout 60 systemctl show -P ActiveState hvtlab.service)"
timeout 60 systemctl --failed --no-legend --plain >"$LAB_OUT/failed-units.txt" 2>&1
timeout 60 hvtorture --version >"$LAB_OUT/hvtorture-version.txt" 2>&1 || lab_fail "hvtorture --version failed"
timeout 60 systemctl show -P LoadState hvtorture.service >"$LAB_OUT/hvtorture-unit-loadstate.txt" 2>&1
timeout 60 systemctl cat hvtorture.service >"$LAB_OUT/hvtorture-unit.txt" 2>&1
lab_result hvtorture_unit "$(cat "$LAB_OUT/hvtorture-unit-loadstate.txt")"
lab_log "systemd $(systemctl --version | head -n 1 | cut -d' ' -f2) is PID 1 and the bus answers"

# --- the daemon under systemd -------------------------------------------------

lab_log "loading kvm_amd for the daemon's VM actor"
grep -qw svm /proc/cpuinfo || lab_fail "the guest CPU has no svm flag (QEMU -cpu max should give it)"
lab_modprobe kvm_amd
lab_wait_for /dev/kvm 10 || lab_fail "/dev/kvm did not appear after modprobe kvm_amd"

lab_result daemon_before "$(timeout 60 systemctl show -P ActiveState hvtorture.service)"
lab_log "systemctl start hvtorture"
timeout 90 systemctl start hvtorture.service >"$LAB_OUT/daemon-start.err" 2>&1 ||
        lab_fail "systemctl start hvtorture failed: $(cat "$LAB_OUT/daemon-start.err"); $(timeout 30 journalctl -u hvtorture --no-pager | tail -n 20)"
timeout 60 systemctl show hvtorture.service -p ActiveState -p SubState -p Type -p WatchdogUSec -p NotifyAccess \
        -p MainPID -p StatusText >"$LAB_OUT/daemon-unit-started.txt" 2>&1
lab_result daemon_started "$(timeout 60 systemctl show -P ActiveState hvtorture.service)"
daemon_pid=$(timeout 60 systemctl show -P MainPID hvtorture.service)
lab_result daemon_comm "$(cat "/proc/$daemon_pid/comm" 2>/dev/null)"

lab_log "hvtorture start daemon.ini over the system bus"
timeout 60 hvtorture start --json "$LAB_IN/daemon.ini" >"$LAB_OUT/daemon-run-start.json" 2>"$LAB_OUT/daemon-run-start.err" ||
        lab_fail "hvtorture start failed: $(tail -n 5 "$LAB_OUT/daemon-run-start.err")"
run_id=$(jq -r .run_id "$LAB_OUT/daemon-run-start.json")
[ -n "$run_id" ] && [ "$run_id" != null ] || lab_fail "hvtorture start printed no run id: $(cat "$LAB_OUT/daemon-run-start.json")"
lab_result daemon_run_id "$run_id"

# Wait (bounded) for steps from both actors, then keep what status says.
n=0
while :; do
        timeout 30 hvtorture status --json >"$LAB_OUT/daemon-status.json" 2>"$LAB_OUT/daemon-status.err" || true
        jq -e '.state == "running" and .actors.idle.steps > 0 and .actors.vms.steps > 0' \
                "$LAB_OUT/daemon-status.json" >/dev/null 2>&1 && break
        n=$((n + 1))
        [ "$n" -lt 40 ] || lab_fail "the daemon's run has no steps after 20 s: $(cat "$LAB_OUT/daemon-status.json" "$LAB_OUT/daemon-status.err")"
        sleep 0.5
done
timeout 30 hvtorture status >"$LAB_OUT/daemon-status.txt" 2>&1 || lab_fail "hvtorture status failed: $(cat "$LAB_OUT/daemon-status.txt")"
# STATUS= is sent with each progress record (every second): wait for one that names the run.
n=0
while :; do
        timeout 30 systemctl show -P StatusText hvtorture.service >"$LAB_OUT/daemon-statustext.txt" 2>&1
        grep -q "$run_id" "$LAB_OUT/daemon-statustext.txt" && break
        n=$((n + 1))
        [ "$n" -lt 20 ] || lab_fail "StatusText= never named the run: $(cat "$LAB_OUT/daemon-statustext.txt")"
        sleep 0.5
done
ps -eo pid,ppid,comm,args >"$LAB_OUT/daemon-ps-running.txt"
lab_result workers_running "$(ps -eo comm= | grep -c '^hvt-')"

lab_log "systemctl stop hvtorture (mid-run)"
timeout 90 systemctl stop hvtorture.service >"$LAB_OUT/daemon-stop.err" 2>&1 ||
        lab_fail "systemctl stop hvtorture failed: $(cat "$LAB_OUT/daemon-stop.err")"
timeout 60 systemctl show hvtorture.service -p ActiveState -p SubState -p Result -p ExecMainStatus \
        >"$LAB_OUT/daemon-unit-stopped.txt" 2>&1
lab_result daemon_stopped "$(timeout 60 systemctl show -P ActiveState hvtorture.service)"
lab_result daemon_result "$(timeout 60 systemctl show -P Result hvtorture.service)"
if timeout 30 systemctl is-failed --quiet hvtorture.service; then lab_result daemon_failed yes; else lab_result daemon_failed no; fi
ps -eo pid,ppid,comm,args >"$LAB_OUT/daemon-ps-stopped.txt"
lab_result workers_left "$(ps -eo comm= | grep -c '^hvt-')"

# With no daemon on the bus, show reads the run from the state directory.
timeout 60 hvtorture show --json "$run_id" >"$LAB_OUT/daemon-report.json" 2>"$LAB_OUT/daemon-report.err"
lab_result daemon_show_exit $?
timeout 60 hvtorture show "$run_id" >"$LAB_OUT/daemon-report.txt" 2>&1
lab_result daemon_run_active "$([ -e "/var/lib/hvtorture/active/$run_id" ] && echo yes || echo no)"
timeout 60 journalctl -u hvtorture.service -b --no-pager -o short-monotonic >"$LAB_OUT/daemon-journal.txt" 2>&1
lab_log "the daemon started, ran $run_id over the bus and stopped cleanly"
