# SPDX-License-Identifier: LGPL-2.1-or-later
"""Disk images made and read on the host without mounting anything.

The results disk is the channel that survives guest reboots, kexec and
panics: the host writes the scenario, its inputs and a boot counter into a
fresh ext4 image (mkfs.ext4 -d), the guest mounts it at /lab, and after QEMU
has ended the host reads it back with e2fsck (which replays the journal a
panicking guest may have left) and debugfs rdump. The same disk carries the
persistent state (/var/lib/hvtorture in the busybox guest) across boots.
"""

import os

from .util import LabError, need_tool, run

RESULTS_SERIAL = "hvtlab-results"
ROOT_SERIAL = "hvtlab-root"


def make_ext4(image, source_dir, size, label):
    """A sparse ext4 image of SIZE holding SOURCE_DIR's tree (owners and modes kept)."""
    need_tool("mkfs.ext4", "e2fsprogs")
    if os.path.exists(image):
        os.unlink(image)
    # Inode tables and journal are zeroed here, not lazily by the guest's ext4lazyinit
    # thread: that would compete with the scenario and issues WRITE_ZEROES that
    # QEMU's virtio-blk has been seen to fail ("I/O error ... op 0x9").
    run(["mkfs.ext4", "-q", "-F", "-L", label,
         "-E", "root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0",
         "-d", source_dir, image, size])


def read_ext4_path(image, path, dest):
    """Copies PATH (a directory) out of IMAGE into DEST, after a journal replay; LabError if it cannot."""
    need_tool("debugfs", "e2fsprogs")
    proc = run(["e2fsck", "-f", "-y", image], capture=True, check=False)
    if proc.returncode >= 4:
        raise LabError(f"e2fsck {image} exit {proc.returncode}: the disk is damaged")
    os.makedirs(dest, exist_ok=True)
    run(["debugfs", "-R", f"rdump {path} {dest}", image])


def read_ext4(image, dest):
    """Copies the whole tree of IMAGE into DEST after a journal replay; returns e2fsck's report."""
    need_tool("debugfs", "e2fsprogs")
    # e2fsck -y replays the journal (debugfs would not) and repairs what a hard
    # power-off left; exit 1 and 2 mean "fixed", 4 and up mean it could not.
    proc = run(["e2fsck", "-f", "-y", image], capture=True, check=False)
    report = proc.stdout.decode(errors="replace")
    if proc.returncode >= 4:
        raise LabError(f"e2fsck {image} exit {proc.returncode}: the results disk is damaged\n{report}")
    os.makedirs(dest, exist_ok=True)
    run(["debugfs", "-R", f"rdump / {dest}", image])
    return report if proc.returncode else ""
