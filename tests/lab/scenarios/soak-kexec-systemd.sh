#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# soak-kexec under real systemd, the way a lab host runs a soak: the daemon
# owns the run and systemd brings it back after every boot. Boot 1 writes
# the host config (/etc persists on the root disk), enables and starts
# hvtorture.service and starts profiles/soak-kexec.ini over the system bus:
# VM churn on the nested KVM while kvm_amd/kvm cycle, and a forced kexec
# (kexec_file_load of /boot/vmlinuz-$(uname -r) and its initrd with
# /proc/cmdline, then reboot(LINUX_REBOOT_CMD_KEXEC)) every 30 s of run
# time, fired as kvm starts to unload. The scenario itself only waits: the
# kexec cuts it off. Boots 2 and 3: hvtorture.service, started at boot,
# resumes the run (a planned reboot); the scenario waits for the resumed run
# and keeps what status and the unit's journal say, until the next kexec.
# Boot 4: the daemon finds Reboots=3 reached and closes the run with its
# report; the scenario keeps the report, the evidence and the run's files.
#
# lab-flavour: systemd
# lab-boots: 4
# lab-files: tests/lab/profiles/soak-kexec.ini
# lab-deadline: 600

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

# Waits (bounded) for a daemon that resumed the run at boot: status names
# the run, running, in boot $LAB_BOOT. Keeps status and the unit's journal.
wait_resumed() {
        n=0
        while :; do
                timeout 30 hvtorture status --json >"$LAB_OUT/status-boot-$LAB_BOOT.json" 2>"$LAB_OUT/status-boot-$LAB_BOOT.err"
                jq -e --arg id "$1" --argjson b "$LAB_BOOT" \
                        '.run_id == $id and .state == "running" and .boot_count == $b and .planned_reboots == $b - 1' \
                        "$LAB_OUT/status-boot-$LAB_BOOT.json" >/dev/null 2>&1 && break
                n=$((n + 1))
                [ "$n" -lt 120 ] || lab_fail "boot $LAB_BOOT: the daemon did not resume run $1 within 120 s: $(head -c 400 "$LAB_OUT/status-boot-$LAB_BOOT.json") $(tail -n 3 "$LAB_OUT/status-boot-$LAB_BOOT.err")"
                sleep 1
        done
        lab_result "resumed_after_s_boot_$LAB_BOOT" "$n"
        timeout 60 journalctl -u hvtorture.service -b --no-pager -o short-monotonic \
                >"$LAB_OUT/journal-daemon-boot-$LAB_BOOT.txt" 2>&1
        sync
}

# Waits (bounded) for the daemon's kexec; returning is a failure.
wait_for_kexec() {
        lab_log "boot $LAB_BOOT: waiting for the run's kexec"
        n=0
        while [ "$n" -lt 300 ]; do
                sleep 2
                n=$((n + 2))
        done
        timeout 30 hvtorture status --json >"$LAB_OUT/status-no-kexec-boot-$LAB_BOOT.json" 2>&1
        timeout 60 journalctl -u hvtorture.service -b --no-pager >"$LAB_OUT/journal-no-kexec-boot-$LAB_BOOT.txt" 2>&1
        lab_fail "boot $LAB_BOOT: no kexec 300 s after the run went on: $(tail -n 5 "$LAB_OUT/journal-no-kexec-boot-$LAB_BOOT.txt")"
}

case "$LAB_BOOT" in
1)
        grep -qw svm /proc/cpuinfo || lab_fail "the guest CPU has no svm flag (QEMU -cpu max should give it)"
        ls -l /boot >"$LAB_OUT/boot-dir.txt" 2>&1
        [ -e "/boot/vmlinuz-$LAB_KVER" ] || lab_fail "no /boot/vmlinuz-$LAB_KVER on the root disk to kexec"
        lab_result kexec_initrd "$([ -e "/boot/initrd.img-$LAB_KVER" ] && echo yes || echo no)"
        # udev may have loaded kvm_amd at boot already; either way the module actor starts from "loaded".
        lab_modprobe kvm_amd
        lab_wait_for /dev/kvm 10 || lab_fail "/dev/kvm did not appear after modprobe kvm_amd"
        lsmod >"$LAB_OUT/lsmod-boot-1.txt" 2>&1

        mkdir -p /etc/hvtorture
        cat >/etc/hvtorture/hvtorture.conf <<'CONF'
[Host]
AllowDestructive=yes
AllowModules=kvm kvm_amd
CONF
        timeout 60 hvtorture run --dry-run "$LAB_IN/soak-kexec.ini" >"$LAB_OUT/dry-run.txt" 2>&1 ||
                lab_fail "dry run failed: $(tail -n 5 "$LAB_OUT/dry-run.txt")"

        lab_log "boot 1: systemctl enable --now hvtorture"
        timeout 90 systemctl enable --now hvtorture.service >"$LAB_OUT/enable.txt" 2>&1 ||
                lab_fail "systemctl enable --now hvtorture failed: $(cat "$LAB_OUT/enable.txt")"
        lab_result daemon_enabled "$(timeout 60 systemctl is-enabled hvtorture.service)"

        lab_log "boot 1: hvtorture start soak-kexec.ini over the bus; a forced kexec every 30 s of run time"
        timeout 60 hvtorture start --json "$LAB_IN/soak-kexec.ini" >"$LAB_OUT/start.json" 2>"$LAB_OUT/start.err" ||
                lab_fail "hvtorture start failed: $(tail -n 5 "$LAB_OUT/start.err")"
        id=$(jq -r .run_id "$LAB_OUT/start.json")
        [ -n "$id" ] && [ "$id" != null ] || lab_fail "hvtorture start printed no run id: $(cat "$LAB_OUT/start.json")"
        lab_result run_id "$id"
        wait_resumed "$id"
        wait_for_kexec
        ;;
2 | 3)
        id=$(sed -n 's/^run_id=//p' "$LAB_OUT/results.txt")
        [ -n "$id" ] || lab_fail "boot 1 recorded no run id"
        lab_log "boot $LAB_BOOT: waiting for the daemon to resume run $id"
        wait_resumed "$id"
        lab_log "boot $LAB_BOOT: the daemon resumed run $id"
        wait_for_kexec
        ;;
4)
        id=$(sed -n 's/^run_id=//p' "$LAB_OUT/results.txt")
        [ -n "$id" ] || lab_fail "boot 1 recorded no run id"
        lab_log "boot 4: waiting for the daemon to close run $id (Reboots=3)"
        lab_wait_run_finished "$id"
        timeout 30 hvtorture show "$id" >"$LAB_OUT/show.txt" 2>&1
        timeout 30 hvtorture evidence --json "$id" >"$LAB_OUT/evidence.json" 2>"$LAB_OUT/evidence.err"
        timeout 30 hvtorture status --json >"$LAB_OUT/status-boot-4.json" 2>&1
        run=/var/lib/hvtorture/runs/$id
        for f in journal.jsonl state.json report.json; do
                lab_save "$run/$f" "run-$f"
        done
        lab_result active_after "$(ls /var/lib/hvtorture/active)"
        lab_result daemon_enabled "$(timeout 60 systemctl is-enabled hvtorture.service)"
        lab_result daemon_active "$(timeout 60 systemctl show -P ActiveState hvtorture.service)"
        lab_result workers_left "$(ps -eo comm= | grep -c '^hvt-')"
        ps -eo pid,ppid,comm,args >"$LAB_OUT/ps-end.txt"
        lsmod >"$LAB_OUT/lsmod-end.txt" 2>&1
        timeout 60 journalctl --list-boots --no-pager >"$LAB_OUT/list-boots.txt" 2>&1
        # The unit's journal over all four boots (persistent on the root disk), and each boot's own.
        timeout 60 journalctl -u hvtorture.service --no-pager -o short-monotonic >"$LAB_OUT/journal-daemon-all.txt" 2>&1
        timeout 60 journalctl -u hvtorture.service -b --no-pager -o short-monotonic >"$LAB_OUT/journal-daemon-boot-4.txt" 2>&1
        # Boots 1-3 as boot 4 reads them back (what boots 2 and 3 kept live is journal-daemon-boot-N.txt).
        for b in 1 2 3; do
                timeout 60 journalctl -u hvtorture.service -b "$((b - 4))" --no-pager -o short-monotonic \
                        >"$LAB_OUT/journal-daemon-boot-$b-read-in-boot-4.txt" 2>&1
        done
        lab_log "boot 4: run $id finished"
        ;;
esac
