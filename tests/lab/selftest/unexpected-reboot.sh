#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Harness self-test: a reboot the scenario did not declare (lab-boots: 1)
# must end the run at the second boot and fail it.
#
# lab-deadline: 40

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh
lab_reboot
