# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scenario: one guest shell script whose header comments configure the lab run.

    # lab-flavour: busybox            busybox (default) or systemd
    # lab-boots: 2                    boots the scenario expects (default 1)
    # lab-deadline: 90                seconds for the whole QEMU run (default 60 per boot)
    # lab-append: memmap=1M$0x10000000   extra kernel command line
    # lab-modules: ramoops kvm_amd    modules (names or aliases) the busybox initramfs must hold
    # lab-files: profiles/x.ini       files (relative to the source root) copied to /lab/in/
    # lab-binaries: kexec stress-ng   host programs (and their libraries) for the busybox guest
    # lab-memory: 1024                guest memory in MiB (default 1024)
    # lab-smp: 2                      guest vCPUs (default 2)
    # lab-tcg: single                 TCG threading: single (default) or multi (see qemu.py)

A host-side check with the same name and the suffix .check (a bash script
using assert.sh) runs after the guest has powered off, in the results dir.
"""

import os
import re

from .util import LabError

_DIRECTIVE = re.compile(r"^#\s*lab-([a-z-]+):\s*(.*?)\s*$")

KEYS = {
    "flavour": "busybox or systemd",
    "boots": "a number of boots from 1 to 20",
    "deadline": "seconds, 10 to 3600",
    "append": "kernel command-line words",
    "modules": "kernel module names or aliases",
    "files": "paths relative to the source root",
    "binaries": "program names found in the host's PATH",
    "memory": "MiB, 256 to 8192",
    "smp": "vCPUs, 1 to 8",
    "tcg": "single or multi",
}


class Scenario:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.flavour = "busybox"
        self.boots = 1
        self.deadline = None
        self.append = []
        self.modules = []
        self.files = []
        self.binaries = []
        self.memory = 1024
        self.smp = 2
        self.tcg = "single"
        check = os.path.splitext(self.path)[0] + ".check"
        self.check = check if os.path.exists(check) else None
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise LabError(f"cannot read scenario {path}: {e.strerror}") from e
        for number, line in enumerate(lines[:200], 1):
            m = _DIRECTIVE.match(line)
            if m:
                self._set(number, m.group(1), m.group(2))
        if self.deadline is None:
            self.deadline = 60 * self.boots

    def _set(self, number, key, value):
        where = f"{self.path}:{number}"
        if key not in KEYS:
            raise LabError(f"{where}: unknown directive 'lab-{key}'; known: "
                           + ", ".join(f"lab-{k}" for k in KEYS))
        if key == "flavour":
            if value not in ("busybox", "systemd"):
                raise LabError(f"{where}: lab-flavour '{value}' is not one of: busybox, systemd")
            self.flavour = value
        elif key == "tcg":
            if value not in ("single", "multi"):
                raise LabError(f"{where}: lab-tcg '{value}' is not one of: single, multi")
            self.tcg = value
        elif key in ("boots", "deadline", "memory", "smp"):
            low, high = {"boots": (1, 20), "deadline": (10, 3600), "memory": (256, 8192), "smp": (1, 8)}[key]
            try:
                number_value = int(value)
            except ValueError:
                number_value = None
            if number_value is None or not low <= number_value <= high:
                raise LabError(f"{where}: lab-{key} '{value}' must be {KEYS[key]}")
            setattr(self, key, number_value)
        else:
            getattr(self, key).extend(value.split())
