#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Harness self-test: the guest passes, but its host-side check must not.
#
# lab-deadline: 40

# shellcheck source=tests/lab/guest/lab-guest.sh
. /usr/lib/hvtlab/lab-guest.sh
lab_result answer 41
