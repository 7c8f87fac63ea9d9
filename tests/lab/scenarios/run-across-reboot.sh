#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The project's state survives a reboot of the guest. Boot 1 runs
# `hvtorture run` on a lab profile (its run store lands in
# /var/lib/hvtorture, which the busybox guest keeps on the results disk) and
# reboots without unmounting anything, as a forced reboot would; boot 2 asks
# `hvtorture runs` and `hvtorture show` for that run. The template for the
# reboot/resume scenarios: one script, a case per boot.
#
# lab-flavour: busybox
# lab-boots: 2
# lab-files: tests/lab/profiles/idle.ini
# lab-deadline: 120

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh

case "$LAB_BOOT" in
1)
        hvtorture run "$LAB_IN/idle.ini" --json >"$LAB_OUT/run-boot-1.json" 2>"$LAB_OUT/run-boot-1.err" ||
                lab_fail "hvtorture run failed: $(tail -n 5 "$LAB_OUT/run-boot-1.err")"
        lab_result run_id "$(sed -n 's/^ *"run_id": *"\([^"]*\)".*/\1/p' "$LAB_OUT/run-boot-1.json")"
        lab_reboot
        ;;
2)
        id=$(sed -n 's/^run_id=//p' "$LAB_OUT/results.txt")
        [ -n "$id" ] || lab_fail "boot 1 recorded no run id"
        hvtorture runs --json >"$LAB_OUT/runs-boot-2.json" 2>"$LAB_OUT/runs-boot-2.err" ||
                lab_fail "hvtorture runs failed after the reboot: $(tail -n 5 "$LAB_OUT/runs-boot-2.err")"
        hvtorture show "$id" --json >"$LAB_OUT/show-boot-2.json" 2>"$LAB_OUT/show-boot-2.err" ||
                lab_fail "hvtorture show $id failed after the reboot: $(tail -n 5 "$LAB_OUT/show-boot-2.err")"
        ;;
esac
