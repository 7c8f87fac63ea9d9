# SPDX-License-Identifier: LGPL-2.1-or-later
"""The guest kernel: Debian's linux-image package, unpacked into the cache, and its modules.

The package ships vmlinuz and /lib/modules/VERSION without modules.dep
(Debian's postinst runs depmod on installation, which we never do on the
host), so the cached copy is indexed with `depmod -b` once. Modules a guest
needs are then resolved from that index: modules.dep for hard dependencies,
modules.softdep for the ones loaded beside them (ext4 wants crc32c), and
modules.alias to turn an alias such as crc32c into module names. Nothing
about which .ko file depends on which is written down here.

The compressed bzImage is also unpacked once into an uncompressed vmlinux:
QEMU boots that ELF directly through its PVH entry point (the Debian kernel
has CONFIG_PVH), which skips the xz decompressor that takes about 4.5 s of
every boot under software emulation. The guest itself still gets vmlinuz
(for kexec), exactly as Debian ships it.
"""

import fnmatch
import glob
import lzma
import os

from .util import LabError, log, need_tool, run


class Kernel:
    """An unpacked kernel package: DIR/boot/vmlinuz-VERSION and DIR/lib/modules/VERSION."""

    def __init__(self, root, package, version):
        self.root = root
        self.package = package
        self.package_version = version
        vmlinuz = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))
        if len(vmlinuz) != 1:
            raise LabError(f"{root}/boot holds {len(vmlinuz)} vmlinuz files, expected exactly one")
        self.vmlinuz = vmlinuz[0]
        self.release = os.path.basename(self.vmlinuz)[len("vmlinuz-"):]
        vmlinux = os.path.join(root, "vmlinux")
        # What QEMU's -kernel gets: the PVH-bootable ELF if we could make it.
        self.boot_image = vmlinux if os.path.exists(vmlinux) else self.vmlinuz
        self.moddir = os.path.join(root, "lib", "modules", self.release)
        if not os.path.isfile(os.path.join(self.moddir, "modules.dep")):
            raise LabError(f"{self.moddir}/modules.dep is missing: the cached kernel was not indexed")
        self.modules = ModuleIndex(self.moddir)


def prepare_kernel(cache):
    """Downloads, unpacks and indexes the kernel package that linux-image-amd64 points at."""
    need_tool("depmod", "kmod")
    pinned = cache.pinned("kernel")
    if pinned:
        package, _, version = pinned.partition("=")
        return _build_kernel(cache, package, version)

    def resolve():
        package = cache.kernel_package()
        return package, cache.package_version(package)

    return cache.fetch(resolve, lambda package, version: _build_kernel(cache, package, version))


def _build_kernel(cache, package, version):
    def build(tmp):
        cache.download_and_unpack(package, version, tmp)
        releases = os.listdir(os.path.join(tmp, "lib", "modules"))
        if len(releases) != 1:
            raise LabError(f"{package} unpacked {len(releases)} module trees ({releases}), expected one")
        log(f"indexing modules of {releases[0]} with depmod")
        run(["depmod", "-b", tmp, releases[0]])
        _extract_vmlinux(os.path.join(tmp, "boot", f"vmlinuz-{releases[0]}"), os.path.join(tmp, "vmlinux"))

    root = cache.component("kernel", f"{package}={version}\nformat: 2 (vmlinux for PVH)\n", build)
    return Kernel(root, package, version)


def _extract_vmlinux(bzimage, dest):
    """The ELF vmlinux inside an xz-compressed bzImage, if it has one with a PVH entry note."""
    with open(bzimage, "rb") as f:
        data = f.read()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        log(f"{bzimage} has no xz payload: booting the bzImage (slower)")
        return
    try:
        elf = lzma.LZMADecompressor().decompress(data[start:])
    except lzma.LZMAError as e:
        log(f"cannot unpack the xz payload of {bzimage} ({e}): booting the bzImage (slower)")
        return
    # Xen's ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen") marks the PVH entry QEMU needs.
    if elf[:4] != b"\x7fELF" or b"\x12\x00\x00\x00Xen\x00" not in elf:
        log(f"{bzimage}'s vmlinux has no PVH entry note: booting the bzImage (slower)")
        return
    with open(dest, "wb") as f:
        f.write(elf)


def module_name(path):
    """kernel/arch/x86/kvm/kvm-amd.ko -> kvm_amd (the name the kernel and modules.dep use)."""
    base = os.path.basename(path)
    for suffix in (".ko", ".ko.xz", ".ko.zst", ".ko.gz"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


class ModuleIndex:
    """modules.dep, modules.softdep, modules.alias and modules.builtin of one module tree."""

    def __init__(self, moddir):
        self.moddir = moddir
        self.deps = {}  # name -> (path, [dep paths])
        self.by_path = {}
        with open(os.path.join(moddir, "modules.dep"), encoding="utf-8") as f:
            for line in f:
                path, _, rest = line.partition(":")
                if not path:
                    continue
                name = module_name(path)
                self.deps[name] = (path, rest.split())
                self.by_path[path] = name
        self.builtin = set()
        with open(os.path.join(moddir, "modules.builtin"), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    self.builtin.add(module_name(line.strip()))
        self.softdeps = {}
        self.aliases = {}  # alias without wildcards -> [names]
        self.alias_patterns = []  # (pattern, name)
        self._read_softdeps()
        self._read_aliases()

    def _read_softdeps(self):
        path = os.path.join(self.moddir, "modules.softdep")
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                words = line.split()
                if len(words) < 3 or words[0] != "softdep":
                    continue
                names = [w for w in words[2:] if not w.endswith(":")]
                self.softdeps.setdefault(words[1].replace("-", "_"), []).extend(names)

    def _read_aliases(self):
        with open(os.path.join(self.moddir, "modules.alias"), encoding="utf-8") as f:
            for line in f:
                words = line.split()
                if len(words) == 3 and words[0] == "alias":
                    name = words[2].replace("-", "_")
                    if any(c in words[1] for c in "*?["):
                        self.alias_patterns.append((words[1], name))
                    else:
                        self.aliases.setdefault(words[1], []).append(name)

    def resolve(self, wanted):
        """Module names for a name or alias; [] if built in; LabError if the kernel has no such thing."""
        name = wanted.replace("-", "_")
        if name in self.deps:
            return [name]
        if name in self.builtin:
            return []
        hits = self.aliases.get(wanted) or [
            mod for pattern, mod in self.alias_patterns if fnmatch.fnmatchcase(wanted, pattern)
        ]
        hits = sorted(set(hits))
        if hits:
            return [h for h in hits if h in self.deps]
        raise LabError(
            f"kernel module '{wanted}' is neither a module, a built-in nor an alias in {self.moddir}"
        )

    def closure(self, wanted):
        """Module paths (relative to the module dir) for WANTED and everything they need, in load order.

        Order: each module after its hard dependencies; soft dependencies come
        before the module that names them, as modprobe would load them.
        """
        order = []
        seen = set()

        def visit(name, stack):
            if name in seen:
                return
            if name in stack:
                raise LabError(f"module dependency cycle: {' -> '.join(stack + [name])}")
            path, deps = self.deps[name]
            for soft in self.softdeps.get(name, []):
                try:
                    for s in self.resolve(soft):
                        visit(s, stack + [name])
                except LabError:
                    pass  # a soft dependency the kernel lacks is not an error for modprobe either
            for dep in deps:
                visit(self.by_path[dep], stack + [name])
            seen.add(name)
            order.append(path)

        for w in wanted:
            for name in self.resolve(w):
                visit(name, [])
        return order
