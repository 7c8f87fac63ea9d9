#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The graceful trigger under real systemd. Boot 1 enables the daemon and
# starts a run whose [Trigger] Action=graceful asks systemd for
# reboot.target 8 s in; systemd stops hvtorture.service on its way down,
# and the run must come out of that suspended (journal "suspend", still
# marked active, no report), not ended. Boot 2: the daemon started at boot
# resumes it as a planned reboot, and Reboots=1 closes it with its report.
#
# lab-flavour: systemd
# lab-boots: 2
# lab-files: tests/lab/profiles/graceful.ini
# lab-deadline: 360

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

case "$LAB_BOOT" in
1)
        mkdir -p /etc/hvtorture
        printf '[Host]\nAllowDestructive=yes\n' >/etc/hvtorture/hvtorture.conf
        lab_log "enabling and starting hvtorture.service"
        timeout 60 systemctl enable hvtorture.service >"$LAB_OUT/enable.txt" 2>&1 ||
                lab_fail "systemctl enable hvtorture failed: $(cat "$LAB_OUT/enable.txt")"
        timeout 90 systemctl start hvtorture.service >"$LAB_OUT/daemon-start.err" 2>&1 ||
                lab_fail "systemctl start hvtorture failed: $(cat "$LAB_OUT/daemon-start.err")"
        timeout 60 hvtorture start --json "$LAB_IN/graceful.ini" >"$LAB_OUT/start.json" 2>"$LAB_OUT/start.err" ||
                lab_fail "hvtorture start failed: $(tail -n 5 "$LAB_OUT/start.err")"
        id=$(jq -r .run_id "$LAB_OUT/start.json")
        lab_result run_id "$id"
        sync
        lab_log "boot 1: run $id started; its trigger asks systemd for a reboot at 8 s"
        # systemd reboots the guest under us; this only bounds the wait.
        sleep 120
        lab_fail "no reboot 120 s after the start: $(timeout 10 hvtorture status 2>&1 | head -n 5)"
        ;;
2)
        id=$(sed -n 's/^run_id=//p' "$LAB_OUT/results.txt")
        [ -n "$id" ] || lab_fail "boot 1 recorded no run id"
        lab_wait_run_finished "$id"
        timeout 30 hvtorture show "$id" >"$LAB_OUT/show.txt" 2>&1
        cp "/var/lib/hvtorture/runs/$id/journal.jsonl" "$LAB_OUT/journal.jsonl"
        lab_result active_after "$(ls /var/lib/hvtorture/active)"
        timeout 60 journalctl -u hvtorture.service --no-pager -o short-monotonic >"$LAB_OUT/journal-daemon.txt" 2>&1
        timeout 60 journalctl -b -1 --no-pager -o short-monotonic >"$LAB_OUT/journal-boot-1.txt" 2>&1
        lab_log "run $id resumed after the graceful reboot and finished"
        ;;
esac
