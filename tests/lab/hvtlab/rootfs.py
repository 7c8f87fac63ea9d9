# SPDX-License-Identifier: LGPL-2.1-or-later
"""The systemd guest's root filesystem: a minimal Debian made with debootstrap, cached.

The cached tree is debootstrap's output, untouched. Each run hard-links it
into a staging directory, adjusts it for a serial-console lab machine
(hostname, machine id, persistent journal, multi-user default, no apt or
kexec-tools services; root autologin on ttyS0 only when interactive), adds
the kernel's modules, the project (meson install into a DESTDIR, merged in)
and the lab runner, and turns it into a disk image with mkfs.ext4 -d:
nothing is ever mounted on the host, and the cached tree is never written
through (files that change are unlinked and replaced). Keeping the
adjustments out of the cache means changing them costs no new debootstrap.
"""

import os
import re
import uuid

from .cache import Cache, copy_tree_hardlinked, write_new_file
from .util import LabError, Skip, log, need_tool, run

PACKAGES = [
    # the system itself
    "systemd-sysv", "dbus", "udev", "kmod",
    # what hvtorture links and runs
    "libsystemd0", "libkmod2", "libnl-3-200", "libnl-route-3-200", "libinih1", "libjson-c5",
    "stress-ng", "kexec-tools",
    # for scenarios and people at the console
    "procps", "util-linux", "iproute2", "jq",
]

# Units a headless lab machine does not need and that only cost boot time, and
# kexec-tools' services: a reboot in the lab is a reboot unless a scenario or
# the project itself kexecs.
MASKED = ["apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "systemd-timesyncd.service",
          "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "getty@tty1.service",
          "kexec-load.service", "kexec.service"]


def _codename():
    with open("/etc/os-release", encoding="utf-8") as f:
        m = re.search(r"^VERSION_CODENAME=\"?([a-z]+)", f.read(), re.M)
    if not m:
        raise Skip("/etc/os-release has no VERSION_CODENAME: cannot tell which Debian to debootstrap")
    return m.group(1)


def _mirror(codename):
    """The host's Debian mirror for CODENAME (the only registry this machine reaches)."""
    if os.environ.get("HVT_LAB_MIRROR"):
        return os.environ["HVT_LAB_MIRROR"]
    texts = []
    for path in ["/etc/apt/sources.list"] + [
        os.path.join("/etc/apt/sources.list.d", n) for n in sorted(os.listdir("/etc/apt/sources.list.d"))
        if n.endswith((".list", ".sources"))
    ]:
        try:
            with open(path, encoding="utf-8") as f:
                texts.append(f.read())
        except OSError:
            continue
    for text in texts:
        # deb822 stanzas
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and codename in suites.group(1).split():
                return uris.group(1)
        # one-line format
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s", text, re.M):
            if m.group(2) == codename:
                return m.group(1)
    raise Skip(f"no apt source for '{codename}' in /etc/apt: set HVT_LAB_MIRROR to a Debian mirror URL")


def prepare_rootfs(cache: Cache):
    """The cached debootstrap tree (rebuilt when the package list or the mirror changes)."""
    need_tool("debootstrap", "debootstrap")
    if os.geteuid() != 0:
        raise Skip("debootstrap of the systemd guest needs root")
    codename = _codename()
    mirror = _mirror(codename)
    key = f"{codename} {mirror}\n{' '.join(PACKAGES)}\n"

    def build(tmp):
        root = os.path.join(tmp, "root")
        log(f"debootstrap {codename} from {mirror} (minbase + {len(PACKAGES)} packages)")
        proc = run(
            ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), codename, root, mirror],
            capture=True,
            check=False,
        )
        if proc.returncode != 0:
            out = (proc.stdout + proc.stderr).decode(errors="replace").strip().splitlines()[-20:]
            log_path = os.path.join(root, "debootstrap", "debootstrap.log")
            raise LabError(f"debootstrap failed (exit {proc.returncode}); see {log_path}\n" + "\n".join(out))

    return os.path.join(cache.component("rootfs-systemd", key, build), "root")


def customise(root, interactive):
    """Adjusts a staged (hard-linked) tree for the lab; only ever replaces files."""
    def put(rel, text, mode=0o644):
        write_new_file(os.path.join(root, rel.lstrip("/")), text, mode)

    put("/etc/hostname", "hvtlab\n")
    put("/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 hvtlab\n")
    # A machine id of its own: an empty one makes systemd treat every boot as the first.
    put("/etc/machine-id", uuid.uuid4().hex + "\n", 0o444)
    put("/etc/fstab", "# the lab's initramfs mounts / read-write; nothing else to mount\n")
    os.makedirs(os.path.join(root, "var/log/journal"), exist_ok=True)  # keep every boot's journal
    # On disk within seconds, so a guest killed at the deadline leaves its journal for the host.
    put("/etc/systemd/journald.conf.d/hvtlab.conf", "[Journal]\nStorage=persistent\nSyncIntervalSec=2s\n")
    os.makedirs(os.path.join(root, "lab"), exist_ok=True)
    os.makedirs(os.path.join(root, "var/lib/hvtorture"), exist_ok=True)
    systemd = os.path.join(root, "etc/systemd/system")
    _symlink("/lib/systemd/system/multi-user.target", os.path.join(systemd, "default.target"))
    for unit in MASKED:
        _symlink("/dev/null", os.path.join(systemd, unit))
    if not interactive:
        # No login prompt in the middle of the serial log of an unattended run.
        _symlink("/dev/null", os.path.join(systemd, "serial-getty@ttyS0.service"))
        return
    put("/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf",
        "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear --keep-baud "
        "115200,57600,38400,9600 - $TERM\n")
    # Root logs in without a password at the serial console (a lab machine only a QEMU pipe reaches).
    shadow = os.path.join(root, "etc/shadow")
    with open(shadow, encoding="utf-8") as f:
        text = f.read()
    put("/etc/shadow", re.sub(r"^root:[^:]*:", "root::", text, flags=re.M), 0o640)


def _symlink(target, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def stage_root(cache_root, staging):
    """Hard-links the cached tree into STAGING (cheap; see write_new_file for the rule)."""
    if os.path.exists(staging):
        raise LabError(f"staging directory {staging} already exists")
    copy_tree_hardlinked(cache_root, staging)


def enable_unit(staging, unit_src, unit_name, wanted_by="multi-user.target"):
    """Installs a unit file into /etc/systemd/system and enables it (the symlink systemctl would make)."""
    with open(unit_src, encoding="utf-8") as f:
        write_new_file(os.path.join(staging, "etc/systemd/system", unit_name), f.read())
    _symlink(f"/etc/systemd/system/{unit_name}",
             os.path.join(staging, "etc/systemd/system", f"{wanted_by}.wants", unit_name))

