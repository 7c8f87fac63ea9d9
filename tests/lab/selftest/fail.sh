#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Harness self-test: a scenario that fails must fail the run, with its reason.
#
# lab-deadline: 40

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh
echo "some output before the failure"
lab_fail "deliberate failure for the self-test"
