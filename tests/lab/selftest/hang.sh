#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Harness self-test: a scenario that never ends must be killed at its deadline.
#
# lab-deadline: 25

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh
lab_log "hanging on purpose"
sleep 1000
