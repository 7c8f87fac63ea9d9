# SPDX-License-Identifier: LGPL-2.1-or-later
"""The lab cache: downloaded packages and built images, kept in the build directory.

Each component lives in its own directory with a .stamp file holding the key
it was built from (package version, package list, ...). A component whose
stamp matches is reused; otherwise it is rebuilt into NAME.tmp and renamed
into place, so an interrupted build never leaves a half-made component that
looks finished. Downloaded packages are pinned: once the kernel or busybox
is in the cache, the harness does not ask apt again (that costs seconds on
every run, and a build directory should keep testing against the same
kernel); `lab prepare --refresh` picks up newer versions. One lock file serialises preparation between concurrent
harness runs (meson may start two lab tests at once).

Packages come from Debian's registry through apt-get download: they are
unpacked with dpkg-deb -x into the cache and never installed on the host.
"""

import fcntl
import glob
import os
import re
import shutil

from .util import Skip, log, need_tool, remove_tree, run

STAMP = ".stamp"


class Cache:
    def __init__(self, root, refresh=False):
        self.root = os.path.abspath(root)
        self.refresh = refresh
        os.makedirs(self.root, exist_ok=True)
        self._lock_fd = None
        self._apt_updated = False

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def __enter__(self):
        self._lock_fd = os.open(self.path(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another lab run to finish preparing {self.root}")
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self._lock_fd)
        self._lock_fd = None
        return False

    def pinned(self, name):
        """The first line of component NAME's stamp ("package=version"), unless refreshing or absent."""
        if self.refresh:
            return None
        try:
            with open(os.path.join(self.path(name), STAMP), encoding="utf-8") as f:
                return f.readline().strip() or None
        except FileNotFoundError:
            return None

    def component(self, name, key, build):
        """Returns the directory of component NAME built from KEY, calling build(tmpdir) if needed."""
        final = self.path(name)
        try:
            with open(os.path.join(final, STAMP), encoding="utf-8") as f:
                if f.read() == key:
                    return final
        except FileNotFoundError:
            pass
        tmp = final + ".tmp"
        remove_tree(tmp)
        os.makedirs(tmp)
        build(tmp)
        with open(os.path.join(tmp, STAMP), "w", encoding="utf-8") as f:
            f.write(key)
        remove_tree(final)
        os.rename(tmp, final)
        return final

    # --- Debian packages -------------------------------------------------

    def _apt_cache(self, *args):
        need_tool("apt-cache", "apt")
        return run(["apt-cache", *args], capture=True, check=False).stdout.decode(errors="replace")

    def update_lists(self):
        """apt-get update, at most once per harness run; False if it cannot or already did."""
        if self._apt_updated or os.geteuid() != 0:
            return False
        log("apt lists are empty or stale: running apt-get update once")
        run(["apt-get", "update", "-q"], check=True)
        self._apt_updated = True
        return True

    def _ensure_apt_lists(self, probe):
        """apt-cache knows nothing on a machine whose lists were never fetched: fetch them once."""
        if self._apt_cache("show", "--no-all-versions", probe).strip():
            return
        if not self.update_lists():
            raise Skip(f"apt-cache does not know the package {probe} (run 'apt-get update' as root first)")
        if not self._apt_cache("show", "--no-all-versions", probe).strip():
            raise Skip(f"Debian's registry has no package {probe} for this machine")

    def fetch(self, resolve, build_component):
        """resolve() -> (package, version); build_component(package, version) downloads and builds.

        A download that fails may only mean stale lists (the mirror has moved
        on to a newer version): update them once, resolve again and retry.
        """
        try:
            return build_component(*resolve())
        except Skip:
            if not self.update_lists():
                raise
            return build_component(*resolve())

    def package_version(self, package):
        self._ensure_apt_lists(package)
        out = self._apt_cache("show", "--no-all-versions", package)
        m = re.search(r"^Version: (\S+)$", out, re.M)
        if not m:
            raise Skip(f"apt-cache show {package} gives no Version: (package not downloadable here)")
        return m.group(1)

    def kernel_package(self):
        """linux-image-6.1.0-NN-amd64, the package the metapackage linux-image-amd64 depends on now."""
        self._ensure_apt_lists("linux-image-amd64")
        out = self._apt_cache("depends", "linux-image-amd64")
        m = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)\b", out)
        if not m:
            raise Skip("apt-cache depends linux-image-amd64 names no linux-image-*-amd64 package:\n" + out)
        return m.group(1)

    def download_and_unpack(self, package, version, dest):
        """apt-get download PACKAGE=VERSION into the cache's debs/ and dpkg-deb -x it into DEST."""
        need_tool("apt-get", "apt")
        need_tool("dpkg-deb", "dpkg")
        debs = self.path("debs")
        os.makedirs(debs, exist_ok=True)
        # apt-get download writes the epoch's colon as %3a.
        pattern = os.path.join(debs, f"{package}_{glob.escape(version.replace(':', '%3a'))}_*.deb")
        found = glob.glob(pattern)
        if not found:
            log(f"downloading {package}={version}")
            # apt's sandbox user cannot write into a root-owned cache: download as root.
            proc = run(
                ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", f"{package}={version}"],
                cwd=debs,
                check=False,
                capture=True,
            )
            found = glob.glob(pattern)
            if proc.returncode != 0 or not found:
                err = proc.stderr.decode(errors="replace").strip()
                raise Skip(f"apt-get download {package}={version} failed (exit {proc.returncode}): {err}")
        run(["dpkg-deb", "-x", found[0], dest])
        return found[0]


def copy_tree_hardlinked(src, dst):
    """cp -al: a copy that costs no space; only safe when DST's files are replaced, never edited."""
    run(["cp", "-al", src, dst])


def replace_file(src, dst, mode=None):
    """Copies SRC to DST, unlinking DST first so a hard-linked cached file is never written through."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.lexists(dst):
        os.unlink(dst)
    shutil.copy2(src, dst, follow_symlinks=True)
    if mode is not None:
        os.chmod(dst, mode)


def write_new_file(dst, text, mode=0o644):
    """Writes a new file at DST, unlinking what was there (possibly a hard link into the cache)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.lexists(dst):
        os.unlink(dst)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(dst, mode)


def merge_tree(src, dst):
    """Copies the tree SRC over DST file by file, replacing (never writing through) existing files."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = os.path.normpath(os.path.join(dst, rel))
        # A symlinked directory in DST (Debian's merged /lib -> usr/lib) is followed.
        os.makedirs(target_dir, exist_ok=True)
        for name in list(dirnames):
            s = os.path.join(dirpath, name)
            if os.path.islink(s):
                dirnames.remove(name)
                t = os.path.join(target_dir, name)
                remove_tree(t)
                os.symlink(os.readlink(s), t)
        for name in filenames:
            s = os.path.join(dirpath, name)
            t = os.path.join(target_dir, name)
            if os.path.lexists(t):
                os.unlink(t)
            if os.path.islink(s):
                os.symlink(os.readlink(s), t)
            else:
                shutil.copy2(s, t)
