#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The systemd guest: a debootstrapped Debian whose PID 1 is systemd, with
# the project installed by `meson install`. The scenario runs as the
# oneshot unit hvtlab.service; it checks PID 1 and the system bus, keeps
# what systemd says about the installed hvtorture.service, and the runner
# brings back dmesg and this boot's journal before powering off.
#
# lab-flavour: systemd
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
