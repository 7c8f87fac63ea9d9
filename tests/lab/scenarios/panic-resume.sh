#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A daemon-owned run survives a crash it did not plan. Boot 1 sets up
# ramoops for this boot and every later one, enables hvtorture.service (how
# a lab host resumes its soaks after a boot), starts a 40 s run of idle
# workers through the daemon, waits until the run saved counters
# (state.json, every 10 s) and is marked active, keeps that state.json,
# and panics the kernel from outside the run (sysrq c). Boot 2: the daemon,
# started at boot, finds the active run, records an unplanned reboot,
# collects the panic's ramoops record (from /sys/fs/pstore, or from
# /var/lib/systemd/pstore if systemd-pstore moved it first) and runs on
# until Duration=; the scenario waits for the report and keeps what the
# CLI and the journal say.
#
# lab-flavour: systemd
# lab-boots: 2
# lab-append: memmap=1M$0x10000000
# lab-files: tests/lab/profiles/resume.ini
# lab-deadline: 360

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

case "$LAB_BOOT" in
1)
        lab_ramoops_at_boot
        lab_ramoops
        ls /sys/fs/pstore >"$LAB_OUT/pstore-boot-1.txt"
        lab_result records_before_panic "$(wc -l <"$LAB_OUT/pstore-boot-1.txt")"

        lab_log "enabling and starting hvtorture.service"
        timeout 60 systemctl enable hvtorture.service >"$LAB_OUT/enable.txt" 2>&1 ||
                lab_fail "systemctl enable hvtorture failed: $(cat "$LAB_OUT/enable.txt")"
        timeout 90 systemctl start hvtorture.service >"$LAB_OUT/daemon-start.err" 2>&1 ||
                lab_fail "systemctl start hvtorture failed: $(cat "$LAB_OUT/daemon-start.err")"
        timeout 60 hvtorture start --json "$LAB_IN/resume.ini" >"$LAB_OUT/start.json" 2>"$LAB_OUT/start.err" ||
                lab_fail "hvtorture start failed: $(tail -n 5 "$LAB_OUT/start.err")"
        id=$(jq -r .run_id "$LAB_OUT/start.json")
        [ -n "$id" ] && [ "$id" != null ] || lab_fail "hvtorture start printed no run id: $(cat "$LAB_OUT/start.json")"
        lab_result run_id "$id"

        # The first periodic save (10 s after the start) carries steps; bounded.
        state=/var/lib/hvtorture/runs/$id/state.json
        n=0
        until [ -e "/var/lib/hvtorture/active/$id" ] && jq -e '.steps > 0' "$state" >/dev/null 2>&1; do
                n=$((n + 1))
                [ "$n" -lt 60 ] || lab_fail "no state.json with steps 30 s after the start: $(cat "$state" 2>&1 | head -c 300)"
                sleep 0.5
        done
        lab_save "$state" state-before-panic.json
        lab_result active_before_panic "$(ls /var/lib/hvtorture/active)"
        timeout 30 hvtorture status --json >"$LAB_OUT/status-before-panic.json" 2>&1
        lab_panic
        ;;
2)
        id=$(sed -n 's/^run_id=//p' "$LAB_OUT/results.txt")
        [ -n "$id" ] || lab_fail "boot 1 recorded no run id"
        lab_result backend_boot_2 "$(cat /sys/module/pstore/parameters/backend 2>/dev/null)"
        lab_result daemon_enabled "$(timeout 60 systemctl is-enabled hvtorture.service)"
        { ls -l /sys/fs/pstore; ls -lR /var/lib/systemd/pstore; } >"$LAB_OUT/pstore-boot-2.txt" 2>&1

        # The daemon started at boot and resumed the run; wait (bounded) for its report.
        lab_log "waiting for the resumed run $id to finish"
        # (show answers for a run in progress too, with its live state: wait for "finished".)
        timeout 30 hvtorture status --json >"$LAB_OUT/status-after-boot.json" 2>&1
        lab_wait_run_finished "$id"
        timeout 30 hvtorture show "$id" >"$LAB_OUT/show.txt" 2>&1
        timeout 30 hvtorture evidence --json "$id" >"$LAB_OUT/evidence.json" 2>"$LAB_OUT/evidence.err"
        timeout 30 hvtorture evidence "$id" >"$LAB_OUT/evidence.txt" 2>&1
        timeout 30 hvtorture status --json >"$LAB_OUT/status-after-run.json" 2>&1
        lab_result active_after "$(ls /var/lib/hvtorture/active)"
        { ls -l /sys/fs/pstore; ls -lR /var/lib/systemd/pstore /var/lib/hvtorture/pstore; } >"$LAB_OUT/pstore-after-run.txt" 2>&1
        timeout 60 journalctl -b -u hvtorture.service -u systemd-pstore.service --no-pager -o short-monotonic \
                >"$LAB_OUT/journal-daemon.txt" 2>&1
        lab_log "run $id resumed after the panic and finished"
        ;;
esac
