# SPDX-License-Identifier: LGPL-2.1-or-later
"""Initramfs images for the lab guests, written directly as newc cpio archives.

Writing the archive here (instead of `find | cpio`) makes every file owned by
root, lets us add /dev/console (the kernel opens it for init's stdio before
/init can mount devtmpfs) without mknod on the host, and keeps the image
reproducible. Images are left uncompressed: QEMU hands the bytes to the
guest, and decompressing under software emulation would cost boot time.

An image is two archives concatenated, which the kernel unpacks in turn:
  base    busybox-static with its applet links and a module subset indexed
          by depmod (cached, keyed by the package versions and module list);
  overlay this run's /init, the guest library, the project's installed files
          and helper binaries with the shared libraries ldd finds for them.
"""

import os
import re
import stat

from .cache import Cache
from .kernel import Kernel
from .util import LabError, log, need_tool, run

GUEST_LIB = "/usr/lib/hvtlab"


class CpioWriter:
    """A newc ('070701') archive writer that creates parent directories on demand."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.ino = 1
        self.dirs = {"", "."}

    def close(self):
        self._entry("TRAILER!!!", 0, 0, b"")
        # The kernel expects archives to end on a 512-byte boundary when concatenated.
        pad = (-self.f.tell()) % 512
        self.f.write(b"\0" * pad)
        self.f.close()

    def _entry(self, name, mode, nlink, data, rdev=(0, 0), mtime=0):
        namez = name.encode() + b"\0"
        hdr = "070701" + "".join(
            f"{v:08x}"
            for v in (self.ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, rdev[0], rdev[1], len(namez), 0)
        )
        self.ino += 1
        self.f.write(hdr.encode() + namez)
        self.f.write(b"\0" * ((-(110 + len(namez))) % 4))
        self.f.write(data)
        self.f.write(b"\0" * ((-len(data)) % 4))

    def _parents(self, name):
        parent = os.path.dirname(name)
        if parent not in self.dirs:
            self.mkdir(parent)

    def mkdir(self, name, mode=0o755):
        name = name.strip("/")
        if name in self.dirs:
            return
        self._parents(name)
        self._entry(name, stat.S_IFDIR | mode, 2, b"")
        self.dirs.add(name)

    def file(self, name, data, mode=0o644):
        name = name.strip("/")
        self._parents(name)
        self._entry(name, stat.S_IFREG | mode, 1, data)

    def file_from(self, name, src, mode=None):
        st = os.stat(src)
        with open(src, "rb") as f:
            data = f.read()
        self.file(name, data, stat.S_IMODE(st.st_mode) if mode is None else mode)

    def symlink(self, name, target):
        name = name.strip("/")
        self._parents(name)
        self._entry(name, stat.S_IFLNK | 0o777, 1, target.encode())

    def chardev(self, name, major, minor, mode=0o600):
        name = name.strip("/")
        self._parents(name)
        self._entry(name, stat.S_IFCHR | mode, 1, b"", rdev=(major, minor))

    def tree(self, src, prefix):
        """Adds the directory tree SRC under PREFIX (symlinks kept as symlinks)."""
        for dirpath, dirnames, filenames in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            base = os.path.normpath(os.path.join(prefix, rel)).strip("/")
            if base and base != ".":
                self.mkdir(base)
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                dest = os.path.join(base, name)
                if os.path.islink(full):
                    self.symlink(dest, os.readlink(full))
                    if name in dirnames:
                        dirnames.remove(name)
                elif os.path.isfile(full):
                    self.file_from(dest, full)


# --- busybox ----------------------------------------------------------------

def prepare_busybox(cache: Cache):
    """busybox-static's /bin/busybox, unpacked from the package (the host's is not needed)."""
    pinned = cache.pinned("busybox")
    if pinned:
        return _build_busybox(cache, pinned.partition("=")[2])
    return cache.fetch(lambda: ("busybox-static", cache.package_version("busybox-static")),
                       lambda _, version: _build_busybox(cache, version))


def _build_busybox(cache, version):
    def build(tmp):
        unpacked = os.path.join(tmp, "deb")
        os.makedirs(unpacked)
        cache.download_and_unpack("busybox-static", version, unpacked)
        os.rename(os.path.join(unpacked, "bin", "busybox"), os.path.join(tmp, "busybox"))
        run(["rm", "-rf", unpacked])

    root = cache.component("busybox", f"busybox-static={version}\n", build)
    return os.path.join(root, "busybox"), version


# --- base archive -------------------------------------------------------------

def prepare_base(cache: Cache, kernel: Kernel, busybox, busybox_version, boot_modules, extra_modules, tag):
    """The cached base archive: busybox, applets, and the closure of the wanted modules.

    BOOT_MODULES are loaded by /init in the listed order (file
    GUEST_LIB/boot-modules); EXTRA_MODULES are only present, for scenarios to
    load (lab_insmod / lab_modprobe / the project's libkmod code).
    """
    boot_paths = kernel.modules.closure(boot_modules)
    all_paths = kernel.modules.closure(list(boot_modules) + list(extra_modules))
    key = "\n".join(
        [
            f"{kernel.package}={kernel.package_version}",
            f"busybox-static={busybox_version}",
            "boot: " + " ".join(boot_paths),
            "all: " + " ".join(sorted(all_paths)),
            "format: 2",
        ]
    ) + "\n"

    def build(tmp):
        log(f"building base initramfs '{tag}' ({len(all_paths)} modules)")
        stage = os.path.join(tmp, "stage")
        moddir = os.path.join(stage, "lib", "modules", kernel.release)
        for rel in all_paths:
            dst = os.path.join(moddir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(os.path.join(kernel.moddir, rel), dst)
        for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
            src = os.path.join(kernel.moddir, name)
            if os.path.exists(src):
                os.link(src, os.path.join(moddir, name))
        # libkmod (the project's module action) needs the binary indexes only depmod writes.
        run(["depmod", "-b", stage, kernel.release])

        w = CpioWriter(os.path.join(tmp, "base.cpio"))
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "tmp", "etc",
                  "root", "mnt", "var/lib", "var/tmp", "lab", "boot"):
            w.mkdir(d)
        w.chardev("dev/console", 5, 1)
        w.chardev("dev/null", 1, 3, 0o666)
        w.chardev("dev/ttyS0", 4, 64)
        w.file_from("bin/busybox", busybox, 0o755)
        applets = run([busybox, "--list-full"], capture=True).stdout.decode().split()
        for applet in applets:
            if applet != "bin/busybox":
                w.symlink(applet, "/bin/busybox")
        w.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        w.file("etc/group", b"root:x:0:\n")
        w.file("etc/hostname", b"hvtlab\n")
        w.tree(os.path.join(stage, "lib"), "lib")
        w.file(f"{GUEST_LIB}/boot-modules", ("\n".join(boot_paths) + "\n").encode())
        w.close()
        run(["rm", "-rf", stage])

    need_tool("depmod", "kmod")
    root = cache.component(f"initramfs-{tag}", key, build)
    return os.path.join(root, "base.cpio")


# --- overlay ------------------------------------------------------------------

_LDD_LINE = re.compile(r"^\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


def shared_libraries(binary):
    """Absolute paths of the shared libraries (and the loader) BINARY needs, from ldd."""
    proc = run(["ldd", binary], capture=True, check=False)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        if "not a dynamic executable" in out + proc.stderr.decode(errors="replace"):
            return []
        raise LabError(f"ldd {binary} failed (exit {proc.returncode}): {proc.stderr.decode().strip()}")
    libs = []
    for line in out.splitlines():
        if "=> not found" in line:
            raise LabError(f"ldd {binary}: {line.strip()} (install the library on the host)")
        m = _LDD_LINE.match(line)
        if m:
            libs.append(m.group(1))
    return libs


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


class Overlay:
    """This run's files, collected by destination path, then written as one archive."""

    def __init__(self):
        self.files = {}  # dest -> (src or None, data or None, mode)
        self.links = {}
        self.libs = set()

    def add_file(self, dest, src, mode=None):
        self.files[dest] = (src, None, mode)
        if is_elf(src):
            self.libs.update(shared_libraries(src))

    def add_data(self, dest, data, mode=0o644):
        self.files[dest] = (None, data, mode)

    def add_tree(self, src, prefix="/"):
        for dirpath, dirnames, filenames in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                dest = os.path.normpath(os.path.join(prefix, rel, name))
                if os.path.islink(full):
                    self.links[dest] = os.readlink(full)
                elif os.path.isfile(full):
                    self.add_file(dest, full)

    def write(self, path):
        w = CpioWriter(path)
        for lib in sorted(self.libs):
            if lib not in self.files:
                w.file_from(lib, lib)  # follows the host's symlink: the guest gets the file itself
        for dest, (src, data, mode) in sorted(self.files.items()):
            if src is not None:
                w.file_from(dest, src, mode)
            else:
                w.file(dest, data, mode)
        for dest, target in sorted(self.links.items()):
            w.symlink(dest, target)
        w.close()


def concatenate(parts, dest):
    with open(dest, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
