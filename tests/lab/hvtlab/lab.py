# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a lab run does, end to end: prepare, stage, boot, read back, judge.

  prepare   the cache: kernel package (+ depmod), busybox-static, the base
            initramfs for the flavour, and for systemd the debootstrap tree;
  stage     this run's files: the project installed into a DESTDIR (meson
            install, binaries' libraries via ldd), the results disk with the
            scenario, and for systemd the root disk image;
  boot      QEMU with a deadline, the serial console logged (and streamed);
  read      the results disk after the guest has powered off;
  judge     the harness's own expectations (boots, exit codes, markers),
            then the scenario's host-side .check script.

Everything lands in the results directory (default BUILD/lab-results/NAME):
serial.log, qemu.log, run.json, disk/ (the results disk's tree) and, with
--keep, work/ (the images).
"""

import json
import os
import shutil
import subprocess
import time

from . import disk, qemu, rootfs
from .cache import Cache, copy_tree_hardlinked, merge_tree, replace_file
from .initramfs import GUEST_LIB, Overlay, concatenate, is_elf, prepare_base, prepare_busybox, shared_libraries
from .kernel import prepare_kernel
from .util import LabError, Skip, Timings, log, need_tool, remove_tree, run, tail_lines, write_atomic

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/lab
GUEST = os.path.join(HERE, "guest")

# Loaded by /init to reach the results (and root) disk.
BOOT_MODULES = ["virtio_pci", "virtio_blk", "ext4"]
# Present in the busybox guest for scenarios, besides what a scenario names itself.
DEFAULT_MODULES = ["kvm_amd", "ramoops", "tun", "veth", "bridge", "sch_netem", "vhost_net"]

BASE_APPEND = "console=ttyS0 panic=1 loglevel=5"
SERIAL_TAIL = 60


class Paths:
    def __init__(self, build_root, cache_root=None, results_root=None):
        self.source = os.path.dirname(os.path.dirname(HERE))
        self.build = os.path.abspath(build_root)
        self.cache = os.path.abspath(cache_root or os.environ.get("HVT_LAB_CACHE")
                                     or os.path.join(self.build, "lab-cache"))
        self.results = os.path.abspath(results_root or os.path.join(self.build, "lab-results"))


class Prepared:
    kernel = None
    base_cpio = None
    rootfs = None


def prepare(paths, flavour, extra_modules, timings, refresh=False):
    """Fills the cache for FLAVOUR; cheap when everything is there already."""
    need_tool("qemu-system-x86_64", "qemu-system-x86")
    prep = Prepared()
    with Cache(paths.cache, refresh) as cache:
        with timings.measure("prepare: kernel package"):
            prep.kernel = prepare_kernel(cache)
        with timings.measure("prepare: busybox-static"):
            busybox, bb_version = prepare_busybox(cache)
        with timings.measure("prepare: base initramfs"):
            if flavour == "busybox":
                wanted = DEFAULT_MODULES + list(extra_modules)
                tag = "busybox"
            else:
                wanted = []
                tag = "switchroot"
            prep.base_cpio = prepare_base(cache, prep.kernel, busybox, bb_version, BOOT_MODULES, wanted, tag)
        if flavour == "systemd":
            with timings.measure("prepare: debootstrap root"):
                prep.rootfs = rootfs.prepare_rootfs(cache)
    return prep


# --- the project ------------------------------------------------------------------

def install_project(paths, destdir):
    """`meson install` of the build under test into DESTDIR; returns notes for the report.

    Where install rules are missing (early in the project), the binaries are
    copied by hand into DESTDIR/usr/local/bin and a note says so.
    """
    notes = []
    if not os.path.isdir(os.path.join(paths.build, "meson-private")):
        raise LabError(f"{paths.build} is not a meson build directory (set HVT_BUILD_ROOT or --build)")
    env = dict(os.environ, DESTDIR=destdir)
    # Without --no-rebuild: a person running the lab by hand tests what the sources say now
    # (inside `meson test` the build is already current and ninja has nothing to do).
    run(["meson", "install", "-C", paths.build, "--quiet"], env=env)
    for rel, name in (("cli/hvtorture", "hvtorture"), ("daemon/hvtortured", "hvtortured")):
        built = os.path.join(paths.build, rel)
        if not os.path.exists(built):
            notes.append(f"{rel} is not built yet: not in the guest")
            continue
        installed = [os.path.join(d, name) for d, _, files in os.walk(destdir) if name in files]
        if not installed:
            replace_file(built, os.path.join(destdir, "usr/local/bin", name))
            notes.append(f"meson install does not install {name}: copied {rel} to /usr/local/bin by hand")
    return notes


def helper_binaries(paths):
    """Test helpers built by tests/lab/meson.build, for /usr/lib/hvtlab/bin."""
    found = []
    for name in ("kvm-tiny",):
        path = os.path.join(paths.build, "tests", "lab", name)
        if os.path.exists(path):
            found.append(path)
    return found


def host_binary(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not path:
        raise LabError(f"lab-binaries: '{name}' is not installed on the host (add its package to tools/install-deps)")
    return os.path.realpath(path)


# --- staging ----------------------------------------------------------------------

def lab_env(scenario, flavour, interactive):
    return "".join(f"{k}={v}\n" for k, v in (
        ("LAB_FLAVOUR", flavour),
        ("LAB_BOOTS", scenario.boots),
        ("LAB_SCENARIO", scenario.name),
        ("LAB_INTERACTIVE", 1 if interactive else 0),
    ))


def stage_results_disk(paths, scenario, flavour, interactive, work, boot_files):
    src = os.path.join(work, "results-src")
    for d in ("in", "out", "log", "state", "boot"):
        os.makedirs(os.path.join(src, d))
    shutil.copy2(scenario.path, os.path.join(src, "scenario.sh"))
    with open(os.path.join(src, "lab.env"), "w", encoding="utf-8") as f:
        f.write(lab_env(scenario, flavour, interactive))
    with open(os.path.join(src, "boot-count"), "w", encoding="utf-8") as f:
        f.write("0\n")
    for rel in scenario.files:
        full = os.path.join(paths.source, rel)
        if not os.path.exists(full):
            raise LabError(f"{scenario.path}: lab-files: {rel} does not exist under {paths.source}")
        dest = os.path.join(src, "in", os.path.basename(rel.rstrip("/")))
        if os.path.isdir(full):
            shutil.copytree(full, dest)
        else:
            shutil.copy2(full, dest)
    for name, path in boot_files:
        shutil.copy2(path, os.path.join(src, "boot", name))
    image = os.path.join(work, "results.img")
    disk.make_ext4(image, src, "512M", "hvtlab-res")
    remove_tree(src)
    return image


def build_busybox_initrd(paths, prep, scenario, work, notes):
    overlay = Overlay()
    overlay.add_file("/init", os.path.join(GUEST, "init-busybox"), 0o755)
    overlay.add_file(f"{GUEST_LIB}/lab-guest.sh", os.path.join(GUEST, "lab-guest.sh"), 0o644)
    for helper in helper_binaries(paths):
        overlay.add_file(f"{GUEST_LIB}/bin/{os.path.basename(helper)}", helper, 0o755)
    for name in scenario.binaries:
        path = host_binary(name)
        overlay.add_file(f"/usr/sbin/{name}" if "/sbin/" in path else f"/usr/bin/{name}", path, 0o755)
    dest = os.path.join(work, "destdir")
    notes.extend(install_project(paths, dest))
    overlay.add_tree(dest)
    overlay_cpio = os.path.join(work, "overlay.cpio")
    overlay.write(overlay_cpio)
    initrd = os.path.join(work, "initrd.img")
    concatenate([prep.base_cpio, overlay_cpio], initrd)
    return initrd


def build_switchroot_initrd(prep, work):
    overlay = Overlay()
    overlay.add_file("/init", os.path.join(GUEST, "init-switchroot"), 0o755)
    overlay.add_file(f"{GUEST_LIB}/lab-guest.sh", os.path.join(GUEST, "lab-guest.sh"), 0o644)
    overlay_cpio = os.path.join(work, "overlay.cpio")
    overlay.write(overlay_cpio)
    initrd = os.path.join(work, "initrd.img")
    concatenate([prep.base_cpio, overlay_cpio], initrd)
    return initrd


def build_root_disk(paths, prep, work, initrd, interactive, timings, notes):
    """The systemd guest's root disk: cached tree + modules + project + runner, via mkfs.ext4 -d."""
    staging = os.path.join(work, "root-src")
    kernel = prep.kernel
    with timings.measure("stage: root tree"):
        rootfs.stage_root(prep.rootfs, staging)
        rootfs.customise(staging, interactive)
        os.makedirs(os.path.join(staging, "usr/lib/modules"), exist_ok=True)
        copy_tree_hardlinked(kernel.moddir, os.path.join(staging, "usr/lib/modules", kernel.release))
        replace_file(kernel.vmlinuz, os.path.join(staging, "boot", f"vmlinuz-{kernel.release}"))
        replace_file(initrd, os.path.join(staging, "boot", f"initrd.img-{kernel.release}"))
        dest = os.path.join(work, "destdir")
        notes.extend(install_project(paths, dest))
        merge_tree(dest, staging)
        _add_missing_libraries(dest, staging)
        for name, mode in (("lab-guest.sh", 0o644), ("lab-runner", 0o755)):
            replace_file(os.path.join(GUEST, name), os.path.join(staging, GUEST_LIB.lstrip("/"), name), mode)
        for helper in helper_binaries(paths):
            replace_file(helper, os.path.join(staging, GUEST_LIB.lstrip("/"), "bin", os.path.basename(helper)), 0o755)
        rootfs.enable_unit(staging, os.path.join(GUEST, "hvtlab.service"), "hvtlab.service")
    with timings.measure("stage: root image (mkfs.ext4 -d)"):
        image = os.path.join(work, "root.img")
        disk.make_ext4(image, staging, "3G", "hvtlab-root")
    # Unlinking ~20,000 hard links takes seconds: let it happen while the guest boots.
    cleanup = subprocess.Popen(["rm", "-rf", "--one-file-system", staging])
    return image, cleanup


def _add_missing_libraries(destdir, staging):
    """Libraries the installed binaries need that the Debian root lacks (e.g. libasan of a sanitizer build)."""
    for dirpath, _, files in os.walk(destdir):
        for name in files:
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not is_elf(full):
                continue
            for lib in shared_libraries(full):
                target = os.path.join(staging, lib.lstrip("/"))
                if not os.path.exists(target):
                    replace_file(lib, target)


# --- run and judge -------------------------------------------------------------------

class Outcome:
    def __init__(self, results):
        self.results = results
        self.problems = []
        self.notes = []
        self.boot = None


def run_scenario(paths, scenario, flavour=None, interactive=False, keep=False, stream=False,
                 results_dir=None, deadline=None, extra_append=(), timings=None):
    """Prepares, stages, boots and judges SCENARIO; returns its Outcome (problems empty = passed)."""
    timings = timings or Timings()
    flavour = flavour or scenario.flavour
    results = os.path.abspath(results_dir or os.path.join(paths.results, scenario.name))
    _clear_results(results)
    work = os.path.join(results, "work")
    os.makedirs(work)
    outcome = Outcome(results)
    started = time.monotonic()

    prep = prepare(paths, flavour, scenario.modules, timings)
    log(f"scenario {scenario.name} ({flavour}, kernel {prep.kernel.release}), results in {results}")
    initrd, drives, cleanup = _stage(paths, prep, scenario, flavour, interactive, work, timings, outcome)

    # systemd's "[  OK  ] Started ..." lines on the console show where a hung boot stopped.
    flavour_append = ["systemd.show_status=1"] if flavour == "systemd" else []
    append = " ".join([BASE_APPEND, *flavour_append, *scenario.append, *extra_append])
    deadline = deadline or scenario.deadline
    result = _boot(prep.kernel, initrd, append, drives, scenario, deadline, interactive, stream, results)
    timings.add("qemu: guest run", result.seconds)
    outcome.boot = result

    if result.timed_out:
        outcome.problems.append(
            f"the guest did not power off within the deadline of {deadline}s: killed after {result.seconds:.0f}s"
            f" of wall time, {result.starved:.0f}s of which QEMU spent waiting for a host CPU (not counted)")
    elif result.exit_code != 0:
        outcome.problems.append(f"QEMU exited with status {result.exit_code} (see {os.path.join(results, 'qemu.log')})")
    for at, text in result.markers:
        if text.startswith("FATAL") or text.startswith("FAIL"):
            outcome.problems.append(f"guest{f' at {at}s' if at is not None else ''}: {text}")

    disk_dir = os.path.join(results, "disk")
    with timings.measure("read: results disk"):
        try:
            if disk.read_ext4(drives[-1][0], disk_dir):
                outcome.notes.append("e2fsck repaired the results disk (a guest that did not unmount it)")
        except LabError as e:
            outcome.problems.append(str(e))
    if os.path.isdir(disk_dir):
        judge_boots(scenario, disk_dir, outcome)
    if outcome.problems and flavour == "systemd":
        _rescue_journal(drives[0][0], results, outcome)

    if cleanup:
        cleanup.wait()
    if not keep:
        remove_tree(work)
    timings.add("total", time.monotonic() - started)
    write_report(scenario, flavour, prep.kernel, append, result, outcome, timings)
    return outcome


def _stage(paths, prep, scenario, flavour, interactive, work, timings, outcome):
    """This run's initramfs and disks; returns (initrd, [(image, serial)], background cleanup or None)."""
    kernel = prep.kernel
    drives = []
    cleanup = None
    with timings.measure("stage: initramfs"):
        if flavour == "busybox":
            initrd = build_busybox_initrd(paths, prep, scenario, work, outcome.notes)
        else:
            initrd = build_switchroot_initrd(prep, work)
    if flavour == "systemd":
        root_img, cleanup = build_root_disk(paths, prep, work, initrd, interactive, timings, outcome.notes)
        drives.append((root_img, disk.ROOT_SERIAL))
        boot_files = []  # the root disk has /boot
    else:
        boot_files = [(f"vmlinuz-{kernel.release}", kernel.vmlinuz), (f"initrd.img-{kernel.release}", initrd)]
    with timings.measure("stage: results disk"):
        drives.append((stage_results_disk(paths, scenario, flavour, interactive, work, boot_files),
                       disk.RESULTS_SERIAL))
    for note in outcome.notes:
        log(f"note: {note}")
    return initrd, drives, cleanup


def _boot(kernel, initrd, append, drives, scenario, deadline, interactive, stream, results):
    cmd = qemu.command(kernel.boot_image, initrd, append, drives, scenario.memory, scenario.smp, scenario.tcg)
    serial_log = os.path.join(results, "serial.log")
    qemu_log = os.path.join(results, "qemu.log")
    if interactive:
        log(f"booting QEMU (TCG {scenario.tcg}-threaded, -cpu max, {scenario.smp} vCPUs, "
            f"{scenario.memory} MiB), interactive")
        result = qemu.boot_interactive(cmd, serial_log, qemu_log)
    else:
        log(f"booting QEMU (TCG {scenario.tcg}-threaded, -cpu max, {scenario.smp} vCPUs, "
            f"{scenario.memory} MiB), deadline {deadline}s")
        result = qemu.boot(cmd, serial_log, qemu_log, deadline, stream)
    log(f"QEMU ended after {result.seconds:.1f}s (exit {result.exit_code}"
        f"{', killed at the deadline' if result.timed_out else ''}"
        f"{f'; {result.starved:.1f}s of it waiting for a host CPU' if result.starved >= 1 else ''})")
    return result


def _rescue_journal(root_img, results, outcome):
    """After a failed systemd run, the guest's journal straight from its root disk (journalctl on the host)."""
    journal_dir = os.path.join(results, "root-journal")
    try:
        journalctl = need_tool("journalctl", "systemd")
        disk.read_ext4_path(root_img, "/var/log/journal", journal_dir)
        # rdump puts the directory itself under DEST: DEST/journal/MACHINE-ID/*.journal
        text = run([journalctl, "--directory", os.path.join(journal_dir, "journal"), "--no-pager",
                    "-o", "short-monotonic"],
                   capture=True).stdout
    except (LabError, Skip) as e:
        outcome.notes.append(f"could not read the journal from the root disk: {e}")
        return
    path = os.path.join(results, "journal-from-root-disk.txt")
    with open(path, "wb") as f:
        f.write(text)
    outcome.notes.append(f"the guest's journal, read from its root disk: {path}")


def _clear_results(results):
    """Empties a previous run's results; refuses a directory that is not one (a mistyped --results)."""
    if os.path.isdir(results) and os.listdir(results):
        if not any(os.path.exists(os.path.join(results, name)) for name in ("run.json", "serial.log", "work")):
            raise LabError(f"refusing to empty {results}: it is not a lab results directory "
                           "(no run.json, serial.log or work/); choose another --results")
    remove_tree(results)


def judge_boots(scenario, disk_dir, outcome):
    """The harness's own expectations, read from the disk the guest wrote."""
    try:
        with open(os.path.join(disk_dir, "boot-count"), encoding="utf-8") as f:
            boots = int(f.read().strip())
    except (OSError, ValueError) as e:
        outcome.problems.append(f"results disk: boot-count unreadable ({e})")
        return
    if boots == 0:
        outcome.problems.append("the guest never reached the scenario (boot-count is 0 on the results disk)")
        return
    for n in range(1, boots + 1):
        rc_path = os.path.join(disk_dir, "log", f"boot-{n}.rc")
        try:
            with open(rc_path, encoding="utf-8") as f:
                rc = f.read().strip()
        except FileNotFoundError:
            if n == boots:
                outcome.problems.append(f"boot {n}: the scenario did not finish (no log/boot-{n}.rc): "
                                        "the guest rebooted, crashed or was killed during it")
            continue
        if rc != "0":
            log_tail = tail_lines(os.path.join(disk_dir, "log", f"boot-{n}.log"), 15)
            outcome.problems.append(f"boot {n}: scenario exit status '{rc}' ({rc_path})"
                                    + "".join(f"\n      | {line}" for line in log_tail))
    if boots != scenario.boots:
        outcome.problems.append(f"the guest booted {boots} time(s); the scenario declares lab-boots: {scenario.boots}")


def write_report(scenario, flavour, kernel, append, result, outcome, timings):
    report = {
        "scenario": scenario.path,
        "flavour": flavour,
        "kernel": f"{kernel.package}={kernel.package_version}",
        "append": append,
        "tcg": scenario.tcg,
        "qemu_exit": result.exit_code,
        "timed_out": result.timed_out,
        "guest_seconds": round(result.seconds, 2),
        "starved_seconds": round(result.starved, 2),
        "markers": [{"at": at, "text": text} for at, text in result.markers],
        "problems": outcome.problems,
        "notes": outcome.notes,
        "timings": timings.as_dict(),
    }
    write_atomic(os.path.join(outcome.results, "run.json"), json.dumps(report, indent=2) + "\n")


def print_failure(outcome):
    serial = os.path.join(outcome.results, "serial.log")
    qemu_log = os.path.join(outcome.results, "qemu.log")
    if outcome.boot and outcome.boot.exit_code not in (0, None):
        print("----- QEMU's own messages -----")
        for line in tail_lines(qemu_log, 10):
            print(line)
    lines = tail_lines(serial, SERIAL_TAIL)
    print(f"----- last {len(lines)} lines of the serial console -----")
    for line in lines:
        print(line)
    print("-----")
    for problem in outcome.problems:
        print(f"lab: FAIL: {problem}")
    print(f"lab: full serial log: {serial}")
    print(f"lab: results: {outcome.results}")


def run_check(paths, scenario, outcome):
    """The scenario's host-side .check script, run in the results disk's tree; True if it passed."""
    if not scenario.check:
        return True
    env = dict(os.environ,
               LAB_ASSERT=os.path.join(HERE, "assert.sh"),
               LAB_RESULTS=outcome.results,
               LAB_DISK=os.path.join(outcome.results, "disk"),
               LAB_SERIAL=os.path.join(outcome.results, "serial.log"),
               HVT_SOURCE_ROOT=paths.source,
               HVT_BUILD_ROOT=paths.build)
    log(f"host checks: {scenario.check}")
    proc = subprocess.run(["bash", scenario.check], cwd=os.path.join(outcome.results, "disk"), env=env,
                          check=False)
    return proc.returncode == 0
