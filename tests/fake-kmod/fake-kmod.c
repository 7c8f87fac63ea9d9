/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake module-capable kernel for unit tests, in the manner of kmod's own
 * testsuite (testsuite/init_module.c, delete_module.c, path.c): an
 * LD_PRELOAD library that answers init_module(2), finit_module(2) and
 * delete_module(2) itself, reports uname's release as $HVT_FAKE_KREL, and
 * redirects the paths libkmod and the module action read — /lib/modules,
 * /sys/module, /proc/modules, /proc/cmdline, /proc/cpuinfo, the modprobe.d
 * directories, and /proc itself (not /proc/self) — into $HVT_FAKE_ROOT.
 * The real libkmod then resolves names, dependencies, options and modinfo
 * from a fake tree made by tests/fake-kmod/mkroot (real ELF objects, a
 * real depmod), and the action under test never knows.
 *
 * The fake kernel keeps its state where libkmod looks for it,
 * ROOT/sys/module/NAME/{initstate,refcnt,holders/,parameters/}, and
 * behaves like Linux 6.1 where the action can tell: a module that is
 * loaded gives EEXIST, one whose dependencies are not loaded ENOENT (an
 * unknown symbol), unknown parameters are ignored, bool parameters read
 * back Y/N; delete_module of a module that is not loaded gives ENOENT, of
 * one held by another module or with refcnt > 0 EWOULDBLOCK (unless
 * O_TRUNC forces it). A test raises a module's refcnt by writing its
 * refcnt file (an open /dev/kvm), and makes calls fail with rules in
 * ROOT/fake-kmod.rules, one per line:
 *
 *     init|delete MODULE ERRNO [COUNT]     e.g. "init kvm_amd EKEYREJECTED", "delete kvm EAGAIN 3"
 *
 * (the first COUNT matching calls fail, all of them without COUNT). Every
 * call is logged, in order, to ROOT/fake-kmod.log:
 *
 *     init kvm_amd "nested=1" = 0
 *     delete kvm_amd flags=0x800 = -EAGAIN (rule)
 *
 * Without HVT_FAKE_ROOT the module calls fail with EPERM and nothing is
 * redirected: a test that forgot the variable never reaches a real kernel.
 */
/* Both open and open64 (stat and stat64, …) are ours to define: no header may rename one into the other. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Tests look for this to know they run on the fake kernel, not a real one. */
EXPORT extern const int hvt_fake_kmod;
EXPORT const int hvt_fake_kmod = 1;

static const char *const redirected[] = {
        "/lib/modules", "/usr/lib/modules", "/sys/module", "/proc/modules", "/proc/cmdline", "/proc/cpuinfo",
        "/etc/modprobe.d", "/run/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d", "/usr/local/lib/modprobe.d",
        NULL,
};

static const char *root(void)
{
        const char *r = getenv("HVT_FAKE_ROOT");
        return r && r[0] == '/' ? r : NULL;
}

static bool under(const char *path, const char *prefix)
{
        size_t l = strlen(prefix);
        return strncmp(path, prefix, l) == 0 && (path[l] == '\0' || path[l] == '/');
}

/* ROOT + path for the paths the fake kernel owns, else path itself. */
static const char *redirect(const char *path, char buf[PATH_MAX])
{
        const char *r = root();

        if (!r || !path || path[0] != '/' || under(path, r))
                return path;
        /* /proc itself (the VM scan lists it), never /proc/self or a pid's files by absolute path. */
        if (strcmp(path, "/proc") == 0 || strcmp(path, "/proc/") == 0)
                goto redirect;
        for (const char *const *p = redirected; *p; p++)
                if (under(path, *p))
                        goto redirect;
        return path;
redirect:
        if ((size_t)snprintf(buf, PATH_MAX, "%s%s", r, path) >= PATH_MAX)
                return path;
        return buf;
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

/* ---- paths ---- */

static mode_t open_mode(int flags, va_list ap)
{
        return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
        char buf[PATH_MAX];
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = open_mode(flags, ap);
        va_end(ap);
        return REAL(open)(redirect(path, buf), flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
        char buf[PATH_MAX];
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = open_mode(flags, ap);
        va_end(ap);
        return REAL(open64)(redirect(path, buf), flags, mode);
}

/* The fortified entry points (_FORTIFY_SOURCE) of open and openat. */
EXPORT int __open_2(const char *path, int flags);
EXPORT int __open64_2(const char *path, int flags);
EXPORT int __openat_2(int dirfd, const char *path, int flags);

EXPORT int __open_2(const char *path, int flags)
{
        char buf[PATH_MAX];
        return REAL(open)(redirect(path, buf), flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
        char buf[PATH_MAX];
        return REAL(open64)(redirect(path, buf), flags);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
        char buf[PATH_MAX];
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = open_mode(flags, ap);
        va_end(ap);
        return REAL(openat)(dirfd, redirect(path, buf), flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
        char buf[PATH_MAX];
        va_list ap;
        mode_t mode;

        va_start(ap, flags);
        mode = open_mode(flags, ap);
        va_end(ap);
        return REAL(openat64)(dirfd, redirect(path, buf), flags, mode);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
        char buf[PATH_MAX];
        return REAL(openat)(dirfd, redirect(path, buf), flags);
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
        char buf[PATH_MAX];
        return REAL(fopen)(redirect(path, buf), mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
        char buf[PATH_MAX];
        return REAL(fopen64)(redirect(path, buf), mode);
}

EXPORT DIR *opendir(const char *path)
{
        char buf[PATH_MAX];
        return REAL(opendir)(redirect(path, buf));
}

EXPORT int stat(const char *path, struct stat *st)
{
        char buf[PATH_MAX];
        return REAL(stat)(redirect(path, buf), st);
}

EXPORT int lstat(const char *path, struct stat *st)
{
        char buf[PATH_MAX];
        return REAL(lstat)(redirect(path, buf), st);
}

EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
        char buf[PATH_MAX];
        return REAL(fstatat)(dirfd, redirect(path, buf), st, flags);
}

EXPORT int stat64(const char *path, struct stat64 *st)
{
        char buf[PATH_MAX];
        return REAL(stat64)(redirect(path, buf), st);
}

EXPORT int lstat64(const char *path, struct stat64 *st)
{
        char buf[PATH_MAX];
        return REAL(lstat64)(redirect(path, buf), st);
}

EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
        char buf[PATH_MAX];
        return REAL(fstatat64)(dirfd, redirect(path, buf), st, flags);
}

EXPORT int access(const char *path, int mode)
{
        char buf[PATH_MAX];
        return REAL(access)(redirect(path, buf), mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
        char buf[PATH_MAX];
        return REAL(faccessat)(dirfd, redirect(path, buf), mode, flags);
}

EXPORT ssize_t readlink(const char *path, char *out, size_t len)
{
        char buf[PATH_MAX];
        return REAL(readlink)(redirect(path, buf), out, len);
}

EXPORT int uname(struct utsname *u)
{
        const char *rel = getenv("HVT_FAKE_KREL");
        int r = REAL(uname)(u);

        if (r == 0 && root())
                snprintf(u->release, sizeof u->release, "%s", rel && rel[0] ? rel : "6.1.0-hvt-fake");
        return r;
}

/* ---- the fake kernel ---- */

static const struct {
        const char *name;
        int value;
} errnos[] = {
        { "EPERM", EPERM },     { "ENOENT", ENOENT },       { "EEXIST", EEXIST },   { "EAGAIN", EAGAIN },
        { "EBUSY", EBUSY },     { "ENODEV", ENODEV },       { "ENOMEM", ENOMEM },   { "EINVAL", EINVAL },
        { "EIO", EIO },         { "EKEYREJECTED", EKEYREJECTED }, { "ENOKEY", ENOKEY }, { "EOPNOTSUPP", EOPNOTSUPP },
        { "ENOEXEC", ENOEXEC }, { "EACCES", EACCES },       { "EFAULT", EFAULT },
};

static const char *errno_name(int e)
{
        static char buf[16];
        for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
                if (errnos[i].value == e)
                        return errnos[i].name;
        snprintf(buf, sizeof buf, "%d", e);
        return buf;
}

static int errno_parse(const char *s)
{
        for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
                if (strcmp(errnos[i].name, s) == 0)
                        return errnos[i].value;
        return atoi(s);
}

static void pathf(char *buf, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *buf, const char *format, ...)
{
        va_list ap;
        int n = snprintf(buf, PATH_MAX, "%s", root());

        va_start(ap, format);
        vsnprintf(buf + n, PATH_MAX - (size_t)n, format, ap);
        va_end(ap);
}

static int write_text(const char *path, const char *text)
{
        FILE *f = REAL(fopen)(path, "we");
        if (!f)
                return -1;
        fputs(text, f);
        return fclose(f);
}

static long read_long(const char *path)
{
        FILE *f = REAL(fopen)(path, "re");
        long v = 0;
        if (f) {
                if (fscanf(f, "%ld", &v) != 1)
                        v = 0;
                fclose(f);
        }
        return v;
}

static void log_call(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void log_call(const char *format, ...)
{
        char path[PATH_MAX], line[1024];
        va_list ap;
        int fd, n;

        va_start(ap, format);
        n = vsnprintf(line, sizeof line - 1, format, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n > sizeof line - 2)
                n = sizeof line - 2;
        line[n++] = '\n';
        pathf(path, "/fake-kmod.log");
        fd = REAL(open)(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
                (void)!write(fd, line, (size_t)n);
                close(fd);
        }
}

/* How many times the log already shows "OP MODULE … = -ERRNO (rule)". */
static unsigned rule_hits(const char *op, const char *module, int e)
{
        char path[PATH_MAX], line[1024], head[128], tail[64];
        unsigned n = 0;
        FILE *f;

        pathf(path, "/fake-kmod.log");
        f = REAL(fopen)(path, "re");
        if (!f)
                return 0;
        snprintf(head, sizeof head, "%s %s ", op, module);
        snprintf(tail, sizeof tail, "= -%s (rule)\n", errno_name(e));
        while (fgets(line, sizeof line, f)) {
                size_t l = strlen(line), t = strlen(tail);
                if (strncmp(line, head, strlen(head)) == 0 && l >= t && strcmp(line + l - t, tail) == 0)
                        n++;
        }
        fclose(f);
        return n;
}

/* The errno a rule in ROOT/fake-kmod.rules gives this call, or 0. */
static int rule_errno(const char *op, const char *module)
{
        char path[PATH_MAX], line[256];
        int result = 0;
        FILE *f;

        pathf(path, "/fake-kmod.rules");
        f = REAL(fopen)(path, "re");
        if (!f)
                return 0;
        while (!result && fgets(line, sizeof line, f)) {
                char o[16], m[64], e[32];
                unsigned count = 0;
                int k = sscanf(line, "%15s %63s %31s %u", o, m, e, &count);
                if (k < 3 || line[0] == '#' || strcmp(o, op) != 0 || strcmp(m, module) != 0)
                        continue;
                if (k == 4 && rule_hits(op, module, errno_parse(e)) >= count)
                        continue;
                result = errno_parse(e);
        }
        fclose(f);
        return result;
}

static bool loaded(const char *name)
{
        char path[PATH_MAX];
        pathf(path, "/sys/module/%s/initstate", name);
        return REAL(access)(path, F_OK) == 0;
}

/* /proc/modules from the sysfs tree, as the kernel would list it. */
static void write_proc_modules(void)
{
        char path[PATH_MAX], text[8192] = "";
        struct dirent *de;
        DIR *d;

        pathf(path, "/sys/module");
        d = REAL(opendir)(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                char p[PATH_MAX], holders[512] = "";
                struct dirent *h;
                DIR *hd;

                if (de->d_name[0] == '.' || !loaded(de->d_name))
                        continue;
                pathf(p, "/sys/module/%s/holders", de->d_name);
                hd = REAL(opendir)(p);
                while (hd && (h = readdir(hd)))
                        if (h->d_name[0] != '.')
                                snprintf(holders + strlen(holders), sizeof holders - strlen(holders), "%s,", h->d_name);
                if (hd)
                        closedir(hd);
                pathf(p, "/sys/module/%s/refcnt", de->d_name);
                snprintf(text + strlen(text), sizeof text - strlen(text), "%s 16384 %ld %s Live 0x0000000000000000\n",
                         de->d_name, read_long(p), holders[0] ? holders : "-");
        }
        closedir(d);
        pathf(path, "/proc/modules");
        write_text(path, text);
}

static int lock_kernel(void)
{
        char path[PATH_MAX];
        int fd;

        pathf(path, "/fake-kmod.lock");
        fd = REAL(open)(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
                flock(fd, LOCK_EX);
        return fd;
}

static void unlock_kernel(int fd)
{
        if (fd >= 0)
                close(fd); /* releases the flock */
}

/* The strings of an ELF64 image's .modinfo section, "key=value\0…". */
static const char *modinfo(const void *mem, size_t len, size_t *ret_size)
{
        const Elf64_Ehdr *eh = mem;
        const Elf64_Shdr *sh;
        const char *names;

        if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
            eh->e_shoff + (uint64_t)eh->e_shnum * sizeof *sh > len || eh->e_shstrndx >= eh->e_shnum)
                return NULL;
        sh = (const Elf64_Shdr *)((const char *)mem + eh->e_shoff);
        if (sh[eh->e_shstrndx].sh_offset >= len)
                return NULL;
        names = (const char *)mem + sh[eh->e_shstrndx].sh_offset;
        for (unsigned i = 0; i < eh->e_shnum; i++)
                if (strcmp(names + sh[i].sh_name, ".modinfo") == 0 && sh[i].sh_offset + sh[i].sh_size <= len) {
                        *ret_size = sh[i].sh_size;
                        return (const char *)mem + sh[i].sh_offset;
                }
        return NULL;
}

static const char *modinfo_next(const char *info, size_t size, const char *key, const char *after)
{
        size_t kl = strlen(key);
        const char *p = after ? after + strlen(after) + 1 : info;

        for (; p < info + size; p += strlen(p) + 1)
                if (strncmp(p, key, kl) == 0 && p[kl] == '=')
                        return p + kl + 1;
        return NULL;
}

static const char *bool_value(const char *v)
{
        if (!strcmp(v, "y") || !strcmp(v, "Y") || !strcmp(v, "1") || !strcasecmp(v, "on"))
                return "Y";
        return "N";
}

static long fake_init(const void *mem, size_t len, const char *args)
{
        char path[PATH_MAX], name[64], depends[512] = "";
        const char *info, *v;
        size_t size = 0;
        int e, lock;

        if (!root()) {
                fprintf(stderr, "fake-kmod: HVT_FAKE_ROOT is not set: refusing init_module\n");
                errno = EPERM;
                return -1;
        }
        info = modinfo(mem, len, &size);
        v = info ? modinfo_next(info, size, "name", NULL) : NULL;
        if (!v) {
                log_call("init ? \"%s\" = -ENOEXEC (no .modinfo name)", args ? args : "");
                errno = ENOEXEC;
                return -1;
        }
        snprintf(name, sizeof name, "%s", v);
        if ((v = modinfo_next(info, size, "depends", NULL)))
                snprintf(depends, sizeof depends, "%s", v);

        lock = lock_kernel();
        e = rule_errno("init", name);
        if (e) {
                log_call("init %s \"%s\" = -%s (rule)", name, args ? args : "", errno_name(e));
                goto fail;
        }
        if (loaded(name)) {
                e = EEXIST;
                log_call("init %s \"%s\" = -EEXIST", name, args ? args : "");
                goto fail;
        }
        for (char *dep = depends, *save = NULL; (dep = strtok_r(dep, ",", &save)); dep = NULL)
                if (!loaded(dep)) {
                        e = ENOENT;
                        log_call("init %s \"%s\" = -ENOENT (unknown symbol: %s is not loaded)", name,
                                 args ? args : "", dep);
                        goto fail;
                }
        if ((v = modinfo_next(info, size, "depends", NULL)))
                snprintf(depends, sizeof depends, "%s", v); /* strtok_r cut it */

        pathf(path, "/sys/module/%s", name);
        mkdir(path, 0755);
        pathf(path, "/sys/module/%s/holders", name);
        mkdir(path, 0755);
        pathf(path, "/sys/module/%s/parameters", name);
        mkdir(path, 0755);
        pathf(path, "/sys/module/%s/refcnt", name);
        write_text(path, "0\n");
        pathf(path, "/sys/module/%s/depends", name);
        write_text(path, depends);
        /* Parameters: their defaults, then what args set; unknown ones are ignored, as Linux does. */
        for (const char *t = modinfo_next(info, size, "parmtype", NULL); t; t = modinfo_next(info, size, "parmtype", t)) {
                char param[64], type[32], value[128];
                const char *colon = strchr(t, ':');
                if (!colon || (size_t)(colon - t) >= sizeof param)
                        continue;
                snprintf(param, sizeof param, "%.*s", (int)(colon - t), t);
                snprintf(type, sizeof type, "%s", colon + 1);
                snprintf(value, sizeof value, "%s", strcmp(type, "bool") == 0 ? "N" : "0");
                for (const char *a = args; a && *a;) {
                        size_t wl = strcspn(a, " "), pl = strlen(param);
                        if (wl > pl && strncmp(a, param, pl) == 0 && a[pl] == '=')
                                snprintf(value, sizeof value, "%.*s", (int)(wl - pl - 1), a + pl + 1);
                        a += wl;
                        a += strspn(a, " ");
                }
                if (strcmp(type, "bool") == 0)
                        snprintf(value, sizeof value, "%s", bool_value(value));
                pathf(path, "/sys/module/%s/parameters/%s", name, param);
                strcat(value, "\n");
                write_text(path, value);
        }
        for (char *dep = depends, *save = NULL; (dep = strtok_r(dep, ",", &save)); dep = NULL) {
                char rc[32];
                pathf(path, "/sys/module/%s/holders/%s", dep, name);
                write_text(path, "");
                pathf(path, "/sys/module/%s/refcnt", dep);
                snprintf(rc, sizeof rc, "%ld\n", read_long(path) + 1);
                write_text(path, rc);
        }
        /* initstate last: until it exists the module is not loaded, as "coming" is not "live". */
        pathf(path, "/sys/module/%s/initstate", name);
        write_text(path, "live\n");
        write_proc_modules();
        log_call("init %s \"%s\" = 0", name, args ? args : "");
        unlock_kernel(lock);
        return 0;
fail:
        unlock_kernel(lock);
        errno = e;
        return -1;
}

static long fake_finit(int fd, const char *args)
{
        struct stat st;
        void *mem;
        long r;

        if (fstat(fd, &st) < 0)
                return -1;
        mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (mem == MAP_FAILED)
                return -1;
        r = fake_init(mem, (size_t)st.st_size, args);
        munmap(mem, (size_t)st.st_size);
        return r;
}

static void remove_tree(const char *path)
{
        struct dirent *de;
        DIR *d = REAL(opendir)(path);

        while (d && (de = readdir(d))) {
                char p[PATH_MAX];
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                snprintf(p, sizeof p, "%s/%s", path, de->d_name);
                if (de->d_type == DT_DIR)
                        remove_tree(p);
                else
                        unlink(p);
        }
        if (d)
                closedir(d);
        rmdir(path);
}

static long fake_delete(const char *name, unsigned flags)
{
        char path[PATH_MAX], depends[512] = "";
        bool held = false, forced = false;
        struct dirent *de;
        FILE *f;
        DIR *d;
        int e, lock;

        if (!root()) {
                fprintf(stderr, "fake-kmod: HVT_FAKE_ROOT is not set: refusing delete_module\n");
                errno = EPERM;
                return -1;
        }
        lock = lock_kernel();
        e = rule_errno("delete", name);
        if (e) {
                log_call("delete %s flags=0x%x = -%s (rule)", name, flags, errno_name(e));
                goto fail;
        }
        if (!loaded(name)) {
                e = ENOENT;
                log_call("delete %s flags=0x%x = -ENOENT", name, flags);
                goto fail;
        }
        pathf(path, "/sys/module/%s/holders", name);
        d = REAL(opendir)(path);
        while (d && (de = readdir(d)))
                held = held || de->d_name[0] != '.';
        if (d)
                closedir(d);
        if (held) {
                e = EWOULDBLOCK;
                log_call("delete %s flags=0x%x = -EAGAIN (held by another module)", name, flags);
                goto fail;
        }
        pathf(path, "/sys/module/%s/refcnt", name);
        if (read_long(path) > 0) {
                if (!(flags & O_TRUNC)) {
                        e = EWOULDBLOCK;
                        log_call("delete %s flags=0x%x = -EAGAIN (refcnt %ld)", name, flags, read_long(path));
                        goto fail;
                }
                forced = true;
        }
        pathf(path, "/sys/module/%s/depends", name);
        if ((f = REAL(fopen)(path, "re"))) {
                if (!fgets(depends, sizeof depends, f))
                        depends[0] = '\0';
                fclose(f);
        }
        for (char *dep = depends, *save = NULL; (dep = strtok_r(dep, ",\n", &save)); dep = NULL) {
                char rc[32];
                long v;
                pathf(path, "/sys/module/%s/holders/%s", dep, name);
                unlink(path);
                pathf(path, "/sys/module/%s/refcnt", dep);
                v = read_long(path);
                snprintf(rc, sizeof rc, "%ld\n", v > 0 ? v - 1 : 0);
                write_text(path, rc);
        }
        pathf(path, "/sys/module/%s", name);
        remove_tree(path);
        write_proc_modules();
        log_call("delete %s flags=0x%x = 0%s", name, flags, forced ? " (forced)" : "");
        unlock_kernel(lock);
        return 0;
fail:
        unlock_kernel(lock);
        errno = e;
        return -1;
}

EXPORT long init_module(void *mem, unsigned long len, const char *args);
EXPORT long init_module(void *mem, unsigned long len, const char *args)
{
        return fake_init(mem, len, args);
}

EXPORT long delete_module(const char *name, unsigned int flags);
EXPORT long delete_module(const char *name, unsigned int flags)
{
        return fake_delete(name, flags);
}

EXPORT long syscall(long number, ...)
{
        va_list ap;
        long a[6];

        va_start(ap, number);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        switch (number) {
        case SYS_finit_module:
                return fake_finit((int)a[0], (const char *)a[1]);
        case SYS_init_module:
                return fake_init((const void *)a[0], (size_t)a[1], (const char *)a[2]);
        case SYS_delete_module:
                return fake_delete((const char *)a[0], (unsigned)a[1]);
        default:
                return REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
        }
}
