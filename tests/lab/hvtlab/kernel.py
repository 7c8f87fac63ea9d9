# SPDX-License-Identifier: LGPL-2.1-or-later
"""The guest kernel: Debian's linux-image package, unpacked into the cache, and its modules.

The package ships vmlinuz and /lib/modules/VERSION without modules.dep
(Debian's postinst runs depmod on installation, which we never do on the
host), so the cached copy is indexed with `depmod -b` once. Modules a guest
needs are then resolved from that index: modules.dep for hard dependencies,
modules.softdep for the ones loaded beside them (ext4 wants crc32c), and
modules.alias to turn an alias such as crc32c into module names. Nothing
about which .ko file depends on which is written down here.
"""

import fnmatch
import glob
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
        self.moddir = os.path.join(root, "lib", "modules", self.release)
        if not os.path.isfile(os.path.join(self.moddir, "modules.dep")):
            raise LabError(f"{self.moddir}/modules.dep is missing: the cached kernel was not indexed")
        self.modules = ModuleIndex(self.moddir)


def prepare_kernel(cache):
    """Downloads, unpacks and indexes the kernel package that linux-image-amd64 points at."""
    package = cache.kernel_package()
    version = cache.package_version(package)
    need_tool("depmod", "kmod")

    def build(tmp):
        cache.download_and_unpack(package, version, tmp)
        releases = os.listdir(os.path.join(tmp, "lib", "modules"))
        if len(releases) != 1:
            raise LabError(f"{package} unpacked {len(releases)} module trees ({releases}), expected one")
        log(f"indexing modules of {releases[0]} with depmod")
        run(["depmod", "-b", tmp, releases[0]])

    root = cache.component("kernel", f"{package}={version}\n", build)
    return Kernel(root, package, version)


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
        self.aliases = []  # (pattern, name)
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
                    self.aliases.append((words[1], words[2].replace("-", "_")))

    def resolve(self, wanted):
        """Module names for a name or alias; [] if built in; LabError if the kernel has no such thing."""
        name = wanted.replace("-", "_")
        if name in self.deps:
            return [name]
        if name in self.builtin:
            return []
        hits = [mod for pattern, mod in self.aliases if fnmatch.fnmatchcase(wanted, pattern)]
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
