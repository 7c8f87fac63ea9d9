# SPDX-License-Identifier: LGPL-2.1-or-later
"""Small shared pieces of the lab harness: errors, logging, timing, commands.

LabError carries a message that names what failed (the command, the file, the
value); Skip means "this machine cannot run the lab" and becomes exit 77 so
meson reports the test as skipped with its reason. Timings are collected in
one Timings object per invocation and written next to the results, because
the preparation and boot times are part of what the lab reports.
"""

import os
import shutil
import subprocess
import sys
import time

EXIT_SKIP = 77

_T0 = time.monotonic()


class LabError(Exception):
    """A failure of the harness or the scenario, with a message for a person."""


class Skip(Exception):
    """This machine lacks something the lab needs; exit 77 with the reason."""


def log(msg):
    """Progress on stderr, prefixed with the seconds since the harness started."""
    sys.stderr.write(f"lab [{time.monotonic() - _T0:6.1f}s] {msg}\n")
    sys.stderr.flush()


class Timings:
    """Named wall-clock durations, in the order they were measured."""

    def __init__(self):
        self.items = []

    def measure(self, name):
        return _Measure(self, name)

    def add(self, name, seconds):
        self.items.append((name, round(seconds, 2)))

    def as_dict(self):
        return dict(self.items)


class _Measure:
    def __init__(self, timings, name):
        self.timings = timings
        self.name = name
        self.start = 0.0

    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        seconds = time.monotonic() - self.start
        self.timings.add(self.name, seconds)
        if exc[0] is None:
            log(f"{self.name}: {seconds:.1f}s")
        return False


def run(cmd, *, cwd=None, env=None, capture=False, check=True, input_bytes=None):
    """Runs a command; on failure raises LabError naming it, its exit code and stderr's tail."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        input=input_bytes,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()[-15:]
        raise LabError(
            f"command failed with exit code {proc.returncode}: {' '.join(map(str, cmd))}\n"
            + "\n".join("    " + line for line in err)
        )
    return proc


def need_tool(name, package):
    """Returns the tool's path, or raises Skip naming the Debian package that has it."""
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not path:
        raise Skip(f"'{name}' not found (Debian package {package}; tools/install-deps installs it)")
    return path


def tail_lines(path, count):
    """The last COUNT lines of a text file (decoded leniently), or [] if it does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read()
    except FileNotFoundError:
        return []
    return data.decode(errors="replace").splitlines()[-count:]


def write_atomic(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def remove_tree(path):
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
