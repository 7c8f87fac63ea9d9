/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host capability probes. Each reads what the kernel exposes (sysfs, procfs,
 * a harmless ioctl or syscall) and never changes anything.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "host-check.h"
#include "kmod-util.h"
#include "store.h"

static int read_line(const char *path, char *buf, size_t len)
{
        _cleanup_free_ char *s = NULL;
        int r = read_file_at(AT_FDCWD, path, 4096, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = '\0';
        snprintf(buf, len, "%s", s);
        return 0;
}

int probe_kvm(char *buf, size_t len, int *ret_api, int *ret_max_vcpus, int *ret_memslots)
{
        _cleanup_close_ int fd = -1;
        int api, vcpus, slots;

        fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                int r = negative_errno();
                if (r == -ENOENT)
                        snprintf(buf, len, "/dev/kvm does not exist: KVM is not loaded (modprobe kvm_intel or "
                                           "kvm_amd) or the CPU has no virtualization enabled");
                else
                        snprintf(buf, len, "cannot open /dev/kvm: %s", strerror(-r));
                return r;
        }
        api = ioctl(fd, KVM_GET_API_VERSION, 0);
        if (api != KVM_API_VERSION) {
                snprintf(buf, len, "/dev/kvm reports API version %d, expected %d", api, KVM_API_VERSION);
                return -EPROTO;
        }
        vcpus = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        slots = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
        snprintf(buf, len, "/dev/kvm API %d, up to %d vCPUs and %d memslots per VM", api, vcpus, slots);
        if (ret_api)
                *ret_api = api;
        if (ret_max_vcpus)
                *ret_max_vcpus = vcpus;
        if (ret_memslots)
                *ret_memslots = slots;
        return 0;
}

int probe_module_loading(char *buf, size_t len)
{
        struct utsname u;
        char path[300], v[32];
        struct stat st;

        if (access("/proc/modules", F_OK) < 0) {
                snprintf(buf, len, "the kernel was built without module support (no /proc/modules)");
                return -EOPNOTSUPP;
        }
        if (read_line("/proc/sys/kernel/modules_disabled", v, sizeof v) >= 0 && streq(v, "1")) {
                snprintf(buf, len, "module loading is disabled (kernel.modules_disabled=1)");
                return -EPERM;
        }
        uname(&u);
        snprintf(path, sizeof path, "/lib/modules/%s", u.release);
        if (stat(path, &st) < 0) {
                snprintf(buf, len, "%s does not exist: no modules for the running kernel", path);
                return -ENOENT;
        }
        snprintf(buf, len, "modules load from %s", path);
        return 0;
}

int probe_kvm_modules(const HostConfig *config, char *buf, size_t len)
{
        _cleanup_(modctx_freep) ModCtx *ctx = NULL;
        const char *vendor = NULL, *names[2];
        char state[128] = "";
        int r;

        r = cpu_kvm_vendor_module("/proc/cpuinfo", &vendor);
        if (r < 0) {
                snprintf(buf, len, "this CPU shows neither vmx nor svm: there is no vendor module to cycle");
                return r;
        }
        r = modctx_new(&ctx);
        if (r < 0) {
                snprintf(buf, len, "cannot read the module indexes (libkmod): %s", strerror(-r));
                return r;
        }
        names[0] = "kvm";
        names[1] = vendor;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *m = NULL;
                ModuleState st;

                r = modctx_lookup(ctx, names[i], &m);
                if (r == -EOPNOTSUPP) {
                        snprintf(buf, len, "%s is built into this kernel: it cannot be unloaded", names[i]);
                        return r;
                }
                if (r < 0) {
                        snprintf(buf, len, "no %s module for this kernel in %s", names[i], modctx_dirname(ctx));
                        return r;
                }
                if (module_state(m, &st) >= 0)
                        snprintf(state + strlen(state), sizeof state - strlen(state), "%s%s %s",
                                 i ? ", " : "", names[i], module_state_to_string(st));
        }
        if (config && (!host_config_module_allowed(config, "kvm") || !host_config_module_allowed(config, vendor))) {
                snprintf(buf, len, "kvm and %s are modules here, but AllowModules= of %s does not list both: module "
                                   "actions will refuse them", vendor, config->path ? config->path : "the host config");
                return 1;
        }
        snprintf(buf, len, "kvm and %s (this CPU's vendor module) can be cycled; now: %s", vendor, state);
        return 0;
}

int probe_kexec(char *buf, size_t len)
{
        char v[32] = "0";
        long r;

        if (access("/sys/kernel/kexec_loaded", F_OK) < 0) {
                snprintf(buf, len, "the kernel was built without kexec (no /sys/kernel/kexec_loaded)");
                return -EOPNOTSUPP;
        }
        if (read_line("/proc/sys/kernel/kexec_load_disabled", v, sizeof v) >= 0 && streq(v, "1")) {
                snprintf(buf, len, "kexec is disabled (kernel.kexec_load_disabled=1)");
                return -EPERM;
        }
        /* kexec_file_load with bad fds: EBADF means the syscall exists, ENOSYS that it does not. */
        r = syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL);
        if (r < 0 && errno == ENOSYS) {
                snprintf(buf, len, "kexec_load works but kexec_file_load is not built in");
                return 1;
        }
        read_line("/sys/kernel/kexec_crash_size", v, sizeof v);
        snprintf(buf, len, "kexec_file_load available; crash kernel reservation %s bytes", v);
        return 0;
}

int probe_pstore(char *buf, size_t len)
{
        char backend[64] = "";
        struct statfs sfs;

        if (read_line("/sys/module/pstore/parameters/backend", backend, sizeof backend) < 0 ||
            !backend[0] || streq(backend, "(null)")) {
                snprintf(buf, len, "no pstore backend registered (ramoops, efi_pstore or erst): a panic will "
                                   "leave no record unless a crash kernel is loaded");
                return -ENOENT;
        }
        if (statfs("/sys/fs/pstore", &sfs) < 0 || sfs.f_type != PSTOREFS_MAGIC) {
                snprintf(buf, len, "pstore backend %s, but /sys/fs/pstore is not mounted", backend);
                return 1;
        }
        snprintf(buf, len, "pstore backend %s, mounted at /sys/fs/pstore", backend);
        return 0;
}

int probe_cgroup(char *buf, size_t len)
{
        struct statfs sfs;

        if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
                char ctrl[256] = "";
                read_line("/sys/fs/cgroup/cgroup.controllers", ctrl, sizeof ctrl);
                if (!strstr(ctrl, "memory")) {
                        snprintf(buf, len, "cgroup v2, but the memory controller is not enabled at the root");
                        return -ENOENT;
                }
                snprintf(buf, len, "cgroup v2 (unified) with the memory controller");
                return 2;
        }
        if (statfs("/sys/fs/cgroup/memory", &sfs) == 0 && sfs.f_type == CGROUP_SUPER_MAGIC) {
                snprintf(buf, len, "cgroup v1 with the memory controller at /sys/fs/cgroup/memory");
                return 1;
        }
        snprintf(buf, len, "no cgroup memory controller found (neither v2 nor v1)");
        return -ENOENT;
}

/* True if a file under /lib/modules/RELEASE/ names the module's .ko (modules.builtin, modules.dep). */
static bool modules_list_has(const char *list, const char *ko)
{
        _cleanup_free_ char *text = NULL;
        struct utsname u;
        char path[300];

        uname(&u);
        snprintf(path, sizeof path, "/lib/modules/%s/%s", u.release, list);
        if (read_file_at(AT_FDCWD, path, 64 << 20, &text, NULL) < 0)
                return false;
        return strstr(text, ko) != NULL;
}

int probe_netem(char *buf, size_t len)
{
        if (access("/sys/module/sch_netem", F_OK) == 0) {
                snprintf(buf, len, "sch_netem is loaded: Netem= can delay and drop frames");
                return 0;
        }
        if (modules_list_has("modules.builtin", "/sch_netem.ko")) {
                snprintf(buf, len, "sch_netem is built in: Netem= can delay and drop frames");
                return 0;
        }
        if (modules_list_has("modules.dep", "/sch_netem.ko")) {
                snprintf(buf, len, "sch_netem is a module the kernel loads on first use");
                return 0;
        }
        snprintf(buf, len, "no sch_netem in this kernel: Netem=yes cannot run (Netem=if-available runs without it)");
        return -ENOENT;
}

static void add(HostCheck *ret, size_t max, size_t *n, const char *name, CheckStatus st, const char *detail)
{
        if (*n >= max)
                return;
        ret[*n].name = name;
        ret[*n].status = st;
        snprintf(ret[*n].detail, sizeof ret[*n].detail, "%s", detail);
        (*n)++;
}

static bool in_path(const char *prog)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
        char *save = NULL;

        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                char p[512];
                snprintf(p, sizeof p, "%s/%s", d, prog);
                if (access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

size_t host_check_all(const HostConfig *config, HostCheck *ret, size_t max)
{
        char b[256], v[64];
        size_t n = 0;
        int r;

        add(ret, max, &n, "root", geteuid() == 0 ? CHECK_OK : CHECK_WARN,
            geteuid() == 0 ? "running as root" : "not root: /dev/kvm, /dev/kmsg, modules and reboots need root");

        r = probe_kvm(b, sizeof b, NULL, NULL, NULL);
        add(ret, max, &n, "kvm", r < 0 ? CHECK_MISSING : CHECK_OK, b);

        r = probe_module_loading(b, sizeof b);
        add(ret, max, &n, "modules", r < 0 ? CHECK_MISSING : CHECK_OK, b);
        if (r >= 0) {
                r = probe_kvm_modules(config, b, sizeof b);
                add(ret, max, &n, "kvm-modules", r < 0 ? CHECK_MISSING : r > 0 ? CHECK_WARN : CHECK_OK, b);
        }

        r = probe_kexec(b, sizeof b);
        add(ret, max, &n, "kexec", r < 0 ? CHECK_MISSING : r > 0 ? CHECK_WARN : CHECK_OK, b);

        r = probe_pstore(b, sizeof b);
        add(ret, max, &n, "pstore", r < 0 ? CHECK_MISSING : r > 0 ? CHECK_WARN : CHECK_OK, b);

        if (access("/sys/kernel/kexec_crash_loaded", F_OK) == 0 &&
            read_line("/sys/kernel/kexec_crash_loaded", v, sizeof v) >= 0 && streq(v, "1"))
                add(ret, max, &n, "crash-kernel", CHECK_OK, "a crash kernel is loaded: a panic boots it (kdump)");
        else
                add(ret, max, &n, "crash-kernel", CHECK_MISSING, "no crash kernel loaded (kexec -p): panics need pstore to leave evidence");

        r = probe_cgroup(b, sizeof b);
        add(ret, max, &n, "cgroup", r < 0 ? CHECK_MISSING : CHECK_OK, b);

        if (read_line("/proc/sys/kernel/sysrq", v, sizeof v) >= 0) {
                snprintf(b, sizeof b, "kernel.sysrq=%s; /proc/sysrq-trigger works for root whatever the value", v);
                add(ret, max, &n, "sysrq", access("/proc/sysrq-trigger", W_OK) == 0 ? CHECK_OK : CHECK_MISSING, b);
        } else
                add(ret, max, &n, "sysrq", CHECK_MISSING, "no /proc/sys/kernel/sysrq: built without MAGIC_SYSRQ");

        if (access("/dev/kmsg", R_OK) == 0)
                add(ret, max, &n, "kmsg", CHECK_OK, "/dev/kmsg is readable: splats are caught live");
        else
                add(ret, max, &n, "kmsg", CHECK_MISSING, "cannot read /dev/kmsg: splats will not be seen");

        if (access("/proc/self/fail-nth", F_OK) == 0)
                add(ret, max, &n, "fault-injection", CHECK_OK, "fault injection (fail-nth) available");
        else
                add(ret, max, &n, "fault-injection", CHECK_MISSING,
                    "no /proc/self/fail-nth: kernel built without FAULT_INJECTION (a debug kernel has it)");

        if (read_line("/sys/kernel/security/lockdown", b, sizeof b) >= 0 && !strstr(b, "[none]"))
                add(ret, max, &n, "lockdown", CHECK_WARN, "kernel lockdown is active: unsigned modules and kexec are refused");

        add(ret, max, &n, "tun", access("/dev/net/tun", R_OK | W_OK) == 0 ? CHECK_OK : CHECK_MISSING,
            access("/dev/net/tun", F_OK) == 0 ? "/dev/net/tun present" : "no /dev/net/tun: net actions cannot make taps");
        add(ret, max, &n, "vhost-net", access("/dev/vhost-net", F_OK) == 0 ? CHECK_OK : CHECK_MISSING,
            access("/dev/vhost-net", F_OK) == 0 ? "/dev/vhost-net present" : "no /dev/vhost-net (modprobe vhost_net)");

        /* CAP_SYS_RESOURCE (bit 24): needed to lower oom_score_adj, so the run is never the OOM killer's pick. */
        {
                _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
                unsigned long long eff = 0;
                char line[256];
                while (f && fgets(line, sizeof line, f))
                        if (sscanf(line, "CapEff: %llx", &eff) == 1)
                                break;
                if (eff & (1ULL << 24))
                        add(ret, max, &n, "oom-protect", CHECK_OK,
                            "CAP_SYS_RESOURCE: runs set their oom_score_adj to -1000, the OOM killer never picks them");
                else
                        add(ret, max, &n, "oom-protect", CHECK_WARN,
                            "no CAP_SYS_RESOURCE: runs cannot lower their oom_score_adj; an OOM may take the run itself");
        }

        r = probe_netem(b, sizeof b);
        add(ret, max, &n, "netem", r < 0 ? CHECK_MISSING : CHECK_OK, b);

        add(ret, max, &n, "stress-ng", in_path("stress-ng") ? CHECK_OK : CHECK_MISSING,
            in_path("stress-ng") ? "stress-ng found" : "stress-ng not installed (apt-get install stress-ng): Load= sections cannot run");

        if (config) {
                snprintf(b, sizeof b, "%s (%s)",
                         config->allow_destructive ? "this host allows destructive actions"
                                                   : "destructive actions need --allow-destructive",
                         config->path ? config->path : "no host config file");
                add(ret, max, &n, "opt-in", config->allow_destructive ? CHECK_OK : CHECK_WARN, b);
        }
        return n;
}

const char *check_status_to_string(CheckStatus s)
{
        switch (s) {
        case CHECK_OK:
                return "ok";
        case CHECK_WARN:
                return "warn";
        default:
                return "missing";
        }
}

json_object *host_checks_to_json(const HostCheck *c, size_t n)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(c[i].name));
                json_object_object_add(o, "status", json_object_new_string(check_status_to_string(c[i].status)));
                json_object_object_add(o, "detail", json_object_new_string(c[i].detail));
                json_object_array_add(a, o);
        }
        return a;
}
