# SPDX-License-Identifier: LGPL-2.1-or-later
"""Booting a lab guest in QEMU (TCG) with a deadline and a complete serial log.

QEMU runs with software emulation (-accel tcg -cpu max: this host's KVM
cannot run a long-mode guest kernel, and -cpu max gives the guest SVM for
nested KVM). The guest's reboots (panic=1, reboot -f, kexec) stay inside one
QEMU process; the guest ends QEMU by powering off. Every byte of the serial
console goes to serial.log as it arrives; lines starting with "hvtlab:" are
the guest harness's markers and are timestamped on the host.

Non-interactive runs read the console through a pipe, so the harness can
enforce the deadline, echo the console when asked and keep the log. An
interactive run gives QEMU the terminal (Ctrl-A x quits, Ctrl-A c is the
monitor) and QEMU itself writes the log.
"""

import os
import select
import signal
import subprocess
import sys
import time

from .util import log, need_tool

MARKER = b"hvtlab: "

# TCG runs the guest's vCPUs round-robin on one host thread by default
# ("single"), not one thread per vCPU ("multi", MTTCG). Measured with QEMU
# 7.2 on this machine: a nested-KVM loop in a 2-vCPU guest (kvm-tiny creating
# and destroying 200 VMs, so KVM enables and disables SVM on every CPU by IPI
# each time) hung in kvm_destroy_vm -> on_each_cpu (soft lockup, the other
# vCPU never ran the call) in 5 of 6 runs with MTTCG, with or without
# x2apic, and never with one vCPU or with thread=single (8 of 8 passed).
# Boot times were the same within noise. The guest still has 2 CPUs and
# SMP code paths; races are interleaved by TCG instead of running in
# parallel. A scenario can ask for MTTCG with '# lab-tcg: multi'.


# The deadline counts the guest's chances to run, not plain wall time: time
# QEMU's busiest thread spent waiting for a host CPU (run delay in
# /proc/PID/task/*/schedstat) does not count, so a host loaded by other work
# slows a run down instead of failing it. A guest that hangs (vCPUs halted or
# spinning) is not waiting for a CPU and meets its deadline as it should. As
# a backstop, no run outlives STARVATION_CAP times its deadline of wall time.
STARVATION_CAP = 4


def _run_delay(pid):
    """Seconds the most-delayed thread of PID has waited on a host run queue."""
    worst = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                worst = max(worst, int(f.read().split()[1]))
        except (OSError, IndexError, ValueError):
            continue
    return worst / 1e9


class BootResult:
    def __init__(self):
        self.exit_code = None
        self.timed_out = False
        self.seconds = 0.0
        self.starved = 0.0  # seconds QEMU waited for a host CPU (not counted against the deadline)
        self.markers = []  # (seconds since QEMU started, marker text)


def command(kernel, initrd, append, drives, memory, smp, tcg="single"):
    """The qemu-system-x86_64 command line; DRIVES is a list of (image, serial)."""
    cmd = [
        need_tool("qemu-system-x86_64", "qemu-system-x86"),
        # thread=single unless asked: see the note on TCG threading above.
        "-accel", "tcg,thread=single" if tcg == "single" else "tcg,thread=multi",
        "-cpu", "max",
        "-smp", str(smp),
        "-m", str(memory),
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-kernel", kernel,
        "-initrd", initrd,
        "-append", append,
    ]
    for image, serial in drives:
        cmd += [
            "-drive", f"file={image},if=none,id={serial},format=raw,cache=unsafe",
            "-device", f"virtio-blk-pci,drive={serial},serial={serial}",
        ]
    return cmd


def boot(cmd_base, serial_log, qemu_log, deadline, stream):
    """Runs QEMU with the console on a pipe until it exits or DEADLINE seconds pass."""
    cmd = cmd_base + ["-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con", "-monitor", "none"]
    result = BootResult()
    start = time.monotonic()
    with open(serial_log, "wb") as out, open(qemu_log, "wb") as err:
        err.write((" ".join(cmd) + "\n").encode())
        err.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        fd = proc.stdout.fileno()
        pending = b""
        while True:
            wall = time.monotonic() - start
            result.starved = _run_delay(proc.pid)
            left = deadline - (wall - result.starved)
            if left <= 0 or wall >= deadline * STARVATION_CAP:
                result.timed_out = True
                break
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunk = chunk.replace(b"\r", b"")
            out.write(chunk)
            out.flush()
            if stream:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                at = line.find(MARKER)
                if at >= 0:
                    text = line[at + len(MARKER):].decode(errors="replace").strip()
                    result.markers.append((round(time.monotonic() - start, 2), text))
                    if not stream:
                        log(f"guest: {text}")
        if result.timed_out:
            _stop(proc)
        result.exit_code = proc.wait()
    result.seconds = time.monotonic() - start
    return result


def boot_interactive(cmd_base, serial_log, qemu_log):
    """Hands the terminal to QEMU; QEMU writes the console to SERIAL_LOG as well."""
    cmd = cmd_base + [
        "-chardev", f"stdio,id=con,mux=on,signal=off,logfile={serial_log}",
        "-serial", "chardev:con",
        "-mon", "chardev=con,mode=readline",
    ]
    log("interactive: the console is yours; Ctrl-A x ends QEMU, Ctrl-A c toggles the monitor")
    result = BootResult()
    start = time.monotonic()
    with open(qemu_log, "wb") as err:
        err.write((" ".join(cmd) + "\n").encode())
        err.flush()
        proc = subprocess.Popen(cmd, stderr=err)
        try:
            result.exit_code = proc.wait()
        except KeyboardInterrupt:
            _stop(proc)
            result.exit_code = proc.wait()
    result.seconds = time.monotonic() - start
    result.markers = markers_in(serial_log)
    return result


def markers_in(serial_log):
    """The harness markers of a log QEMU wrote itself (no arrival times)."""
    markers = []
    try:
        with open(serial_log, "rb") as f:
            for line in f:
                at = line.find(MARKER)
                if at >= 0:
                    markers.append((None, line[at + len(MARKER):].decode(errors="replace").strip()))
    except FileNotFoundError:
        pass
    return markers


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
