/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reboot-class triggers: kexec, reboot, panic, crash and graceful. Each
 * takes the host down on purpose, mid-race; the run resumes in the next
 * boot (engine-resume.c). The engine has journaled and synced the trigger's
 * intent and the run's counters before the worker that runs one of these
 * starts (trigger_fire), so nothing recorded before it is lost.
 *
 * What can be prepared is prepared in worker_init — the kexec or crash
 * kernel loaded with kexec_file_load — so that the step itself, which runs
 * at the aligned moment when the trigger has AlignWith=, is one syscall:
 * reboot(LINUX_REBOOT_CMD_KEXEC), reboot(RB_AUTOBOOT) or 'c' to
 * /proc/sysrq-trigger. A forced reboot asks nobody: init is not told, and
 * userspace is not frozen while KVM disables virtualization by IPI, which
 * is the race these triggers exist to provoke. `graceful` asks systemd
 * instead, for comparison.
 *
 * A step that returns did not take the host down: its outcome says why.
 * Under a test's RebootOps the kernel stays up and the step reports
 * "fired".
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/reboot.h>
#include <stddef.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <systemd/sd-bus.h>

#include "action-reboot.h"
#include "action.h"
#include "log.h"
#include "store.h"

/* ---- the real kernel ---- */

static int real_kexec_file_load(int kernel_fd, int initrd_fd, const char *cmdline, unsigned long flags)
{
        unsigned long len = cmdline ? strlen(cmdline) + 1 : 0;
        return syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, len, cmdline, flags) < 0 ? negative_errno() : 0;
}

static int real_reboot(int cmd)
{
        (void)reboot(cmd);
        return negative_errno();
}

static int real_sysrq(char c)
{
        _cleanup_close_ int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* Root's writes here work whatever kernel.sysrq says: no host setting to change. */
        if (write(fd, &c, 1) != 1)
                return negative_errno();
        return 0;
}

static int real_start_unit(const char *target)
{
        sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        /* replace-irreversibly: what systemctl reboot/kexec ask for, so nothing cancels it midway. */
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "StartUnit", &error, NULL, "ss", target,
                               "replace-irreversibly");
        if (r < 0)
                log_error("StartUnit(%s) failed: %s", target, error.message ? error.message : strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        return r;
}

static void real_sync(void)
{
        sync();
}

const RebootOps reboot_ops_real = {
        .kexec_file_load = real_kexec_file_load,
        .reboot = real_reboot,
        .sysrq = real_sysrq,
        .start_unit = real_start_unit,
        .sync = real_sync,
        .root = "",
};

const RebootOps *reboot_ops = &reboot_ops_real;

/* ---- profile keys ---- */

typedef enum GracefulMode { GRACEFUL_REBOOT, GRACEFUL_KEXEC } GracefulMode;
static const char *const graceful_modes[] = { "reboot", "kexec", NULL };

typedef struct RebootParams {
        char *kernel;  /* Kernel=: the image to kexec; "loaded" (crash): the crash kernel already loaded */
        char *initrd;  /* Initrd=: "none" for none */
        char *cmdline; /* CommandLine=: instead of /proc/cmdline */
        char **append; /* Append=: words added to the command line */
        bool sync;
        bool require_evidence;
        unsigned mode; /* graceful */
} RebootParams;

#define KERNEL_KEYS                                                                                                  \
        { "Kernel", KEY_STRING, offsetof(RebootParams, kernel), NULL, 1, 0, NULL,                                    \
          "kernel image to boot [default: /boot/vmlinuz-RUNNING_RELEASE]" },                                        \
        { "Initrd", KEY_STRING, offsetof(RebootParams, initrd), NULL, 1, 0, NULL,                                    \
          "initrd for it, or 'none' [default: /boot/initrd.img-RUNNING_RELEASE if it exists]" },                     \
        { "CommandLine", KEY_STRING, offsetof(RebootParams, cmdline), NULL, 0, 0, NULL,                              \
          "its command line [default: the running kernel's, /proc/cmdline]" },                                       \
        { "Append", KEY_WORDS, offsetof(RebootParams, append), NULL, 0, 0, NULL,                                     \
          "words added to the command line (a marker, console=, ...)" }
#define SYNC_KEY                                                                                                     \
        { "Sync", KEY_BOOL, offsetof(RebootParams, sync), "yes", 0, 0, NULL,                                         \
          "sync(2) file systems first (the run's own records are synced either way)" }

static const KeySpec kexec_keys[] = { KERNEL_KEYS, SYNC_KEY, {} };
static const KeySpec plain_keys[] = { SYNC_KEY, {} };
static const KeySpec panic_keys[] = {
        SYNC_KEY,
        { "RequireEvidence", KEY_BOOL, offsetof(RebootParams, require_evidence), "yes", 0, 0, NULL,
          "refuse to start unless a pstore backend or a crash kernel will keep the panic's log, and "
          "kernel.panic or a crash kernel will bring the host back" },
        {}
};
static const KeySpec crash_keys[] = {
        { "Kernel", KEY_STRING, offsetof(RebootParams, kernel), NULL, 1, 0, NULL,
          "crash kernel image, or 'loaded' to use the one already loaded (kdump-tools') "
          "[default: /boot/vmlinuz-RUNNING_RELEASE]" },
        { "Initrd", KEY_STRING, offsetof(RebootParams, initrd), NULL, 1, 0, NULL,
          "initrd for it, or 'none' [default: /boot/initrd.img-RUNNING_RELEASE if it exists]" },
        { "CommandLine", KEY_STRING, offsetof(RebootParams, cmdline), NULL, 0, 0, NULL,
          "its command line [default: /proc/cmdline without crashkernel=, plus irqpoll nr_cpus=1 reset_devices]" },
        { "Append", KEY_WORDS, offsetof(RebootParams, append), NULL, 0, 0, NULL, "words added to the command line" },
        SYNC_KEY,
        {}
};
static const KeySpec graceful_keys[] = {
        { "Mode", KEY_CHOICE, offsetof(RebootParams, mode), "reboot", 0, 0, graceful_modes,
          "what to ask systemd for: reboot.target, or kexec.target after loading a kernel" },
        KERNEL_KEYS,
        {}
};

/* ---- outcomes ---- */

enum { OUT_FIRED, OUT_ENV_ERROR, OUT_FAILURE };

static const Outcome reboot_outcomes[] = {
        [OUT_FIRED] = { "fired", OUTCOME_OK, "the host was told to go down (seen only where it stayed up: tests)" },
        [OUT_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR,
                            "the host refused (no kernel image, kexec disabled, lockdown, no crash reservation)" },
        [OUT_FAILURE] = { "failure", OUTCOME_FAILURE, "the kernel accepted the request and did not go down" },
};

static const char *const reboot_phases[] = { "reboot:prepare", "reboot:fire", NULL };

/* ---- building what kexec_file_load gets ---- */

static int append_word(char **s, size_t *len, const char *w)
{
        size_t n = strlen(w);
        char *t = realloc(*s, *len + n + 2);
        if (!t)
                return -ENOMEM;
        if (*len)
                t[(*len)++] = ' ';
        memcpy(t + *len, w, n + 1);
        *len += n;
        *s = t;
        return 0;
}

char *reboot_build_cmdline(const char *base, char *const *append, bool crash)
{
        _cleanup_free_ char *proc = NULL, *copy = NULL;
        char *out = calloc(1, 1), *save = NULL;
        size_t len = 0;

        if (!out)
                return NULL;
        if (!base) {
                if (read_file_at(AT_FDCWD, "/proc/cmdline", 64 * 1024, &proc, NULL) < 0) {
                        free(out);
                        return NULL;
                }
                base = proc;
        }
        copy = strdup(base);
        if (!copy) {
                free(out);
                return NULL;
        }
        for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
                /* A crash kernel reserves nothing itself; kdump's kernels boot without it. */
                if (crash && (startswith(w, "crashkernel=") || streq(w, "irqpoll") || startswith(w, "nr_cpus=") ||
                              streq(w, "reset_devices")))
                        continue;
                if (append_word(&out, &len, w) < 0)
                        goto oom;
        }
        if (crash)
                for (const char *const *w = (const char *const[]){ "irqpoll", "nr_cpus=1", "reset_devices", NULL }; *w;
                     w++)
                        if (append_word(&out, &len, *w) < 0)
                                goto oom;
        for (char *const *w = append; w && *w; w++)
                if (append_word(&out, &len, *w) < 0)
                        goto oom;
        return out;
oom:
        free(out);
        return NULL;
}

static void default_image(char *buf, size_t size, const char *prefix)
{
        struct utsname u;
        (void)uname(&u);
        snprintf(buf, size, "/boot/%s-%s", prefix, u.release);
}

/* ---- the worker ---- */

typedef struct RebootState {
        bool loaded;         /* we loaded a kexec or crash kernel: unloaded again if the step never fires */
        unsigned long flags; /* the flags it was loaded with */
        int load_error;      /* why loading failed: the step reports it as its outcome */
        char why[STEP_DETAIL_MAX];
        char kernel[PATH_MAX];
        char initrd[PATH_MAX];
} RebootState;

static int load_kernel(const RebootParams *p, bool crash, RebootState *s)
{
        _cleanup_close_ int kfd = -1, ifd = -1;
        _cleanup_free_ char *cmdline = NULL;
        unsigned long flags = crash ? KEXEC_FILE_ON_CRASH : 0;
        int r;

        if (crash && p->kernel && streq(p->kernel, "loaded"))
                return 0;
        if (p->kernel)
                snprintf(s->kernel, sizeof s->kernel, "%s", p->kernel);
        else
                default_image(s->kernel, sizeof s->kernel, "vmlinuz");
        if (p->initrd)
                snprintf(s->initrd, sizeof s->initrd, "%s", streq(p->initrd, "none") ? "" : p->initrd);
        else {
                default_image(s->initrd, sizeof s->initrd, "initrd.img");
                if (access(s->initrd, R_OK) < 0)
                        s->initrd[0] = '\0';
        }

        kfd = open(s->kernel, O_RDONLY | O_CLOEXEC);
        if (kfd < 0) {
                r = negative_errno();
                snprintf(s->why, sizeof s->why, "%.100s: %s%s", s->kernel, strerror(-r),
                         p->kernel ? "" : " (name one with Kernel=)");
                return r;
        }
        if (s->initrd[0]) {
                ifd = open(s->initrd, O_RDONLY | O_CLOEXEC);
                if (ifd < 0) {
                        r = negative_errno();
                        snprintf(s->why, sizeof s->why, "%.100s: %s", s->initrd, strerror(-r));
                        return r;
                }
        } else
                flags |= KEXEC_FILE_NO_INITRAMFS;
        cmdline = reboot_build_cmdline(p->cmdline, p->append, crash);
        if (!cmdline)
                return -ENOMEM;
        r = reboot_ops->kexec_file_load(kfd, ifd, cmdline, flags);
        if (r < 0) {
                snprintf(s->why, sizeof s->why, "kexec_file_load(%.50s%s%.50s)%s: %s", s->kernel, s->initrd[0] ? ", " : "",
                         s->initrd, crash ? " on crash" : "", strerror(-r));
                return r;
        }
        s->loaded = true;
        s->flags = flags & KEXEC_FILE_ON_CRASH;
        log_info("Loaded %s%s for %s, command line: %s", s->kernel, crash ? " as the crash kernel" : "",
                 crash ? "the crash" : "the kexec", cmdline);
        return 0;
}

static int reboot_worker_init_common(Worker *w, const RebootParams *p, bool load, bool crash, void **ret)
{
        RebootState *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        worker_set_phase(w, "reboot:prepare");
        if (load)
                s->load_error = load_kernel(p, crash, s);
        *ret = s;
        return 0;
}

static int kexec_worker_init(Worker *w, const void *params, void **ret)
{
        return reboot_worker_init_common(w, params, true, false, ret);
}

static int crash_worker_init(Worker *w, const void *params, void **ret)
{
        return reboot_worker_init_common(w, params, true, true, ret);
}

static int graceful_worker_init(Worker *w, const void *params, void **ret)
{
        const RebootParams *p = params;
        return reboot_worker_init_common(w, params, p->mode == GRACEFUL_KEXEC, false, ret);
}

static int plain_worker_init(Worker *w, const void *params, void **ret)
{
        return reboot_worker_init_common(w, params, false, false, ret);
}

/* The step never fired (the run stopped while it waited to align): take back what we loaded. */
static void reboot_worker_done(Worker *w, const void *params, void *state)
{
        RebootState *s = state;
        if (s && s->loaded)
                (void)reboot_ops->kexec_file_load(-1, -1, NULL, KEXEC_FILE_UNLOAD | s->flags);
        free(s);
}

static int outcome(StepResult *ret, int error, const char *what)
{
        bool env = error == -EPERM || error == -ENOENT || error == -EACCES || error == -EKEYREJECTED ||
                   error == -ENOEXEC || error == -EBUSY || error == -ENOMEM || error == -EINVAL || error == -ENOSYS ||
                   error == -EBADMSG;
        ret->outcome = error == 0 ? OUT_FIRED : env ? OUT_ENV_ERROR : OUT_FAILURE;
        ret->error = error;
        if (error)
                snprintf(ret->detail, sizeof ret->detail, "%s: %s", what, strerror(-error));
        return 0;
}

/* After the step: a kernel that went down used what we loaded; one that refused gets it unloaded in worker_done. */
static int fired(RebootState *s, StepResult *ret, int error, const char *what)
{
        if (error == 0)
                s->loaded = false;
        return outcome(ret, error, what);
}

static bool prepared(RebootState *s, StepResult *ret)
{
        if (!s->load_error)
                return true;
        ret->outcome = OUT_ENV_ERROR;
        ret->error = s->load_error;
        snprintf(ret->detail, sizeof ret->detail, "%s", s->why[0] ? s->why : strerror(-s->load_error));
        return false;
}

static void fire_sync(const RebootParams *p)
{
        if (p->sync)
                reboot_ops->sync();
}

static int kexec_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        RebootState *s = state;
        if (!prepared(s, ret))
                return 0;
        fire_sync(params);
        worker_set_phase(w, "reboot:fire");
        return fired(s, ret, reboot_ops->reboot(LINUX_REBOOT_CMD_KEXEC), "reboot(LINUX_REBOOT_CMD_KEXEC)");
}

static int reboot_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        fire_sync(params);
        worker_set_phase(w, "reboot:fire");
        return outcome(ret, reboot_ops->reboot(RB_AUTOBOOT), "reboot(RB_AUTOBOOT)");
}

static int panic_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        RebootState *s = state;
        if (!prepared(s, ret))
                return 0;
        fire_sync(params);
        worker_set_phase(w, "reboot:fire");
        return fired(s, ret, reboot_ops->sysrq('c'), "sysrq c");
}

static int graceful_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const RebootParams *p = params;
        RebootState *s = state;
        const char *target = p->mode == GRACEFUL_KEXEC ? "kexec.target" : "reboot.target";
        int r;

        if (!prepared(s, ret))
                return 0;
        worker_set_phase(w, "reboot:fire");
        r = reboot_ops->start_unit(target);
        if (r >= 0) {
                /* systemd takes it from here, and stops us on the way: the kernel stays loaded for it. */
                s->loaded = false;
                worker_note(w, "asked systemd for %s", target);
        }
        return outcome(ret, r < 0 ? r : 0, target);
}

/* ---- host checks ---- */

/* A /sys or /proc file the checks read, under RebootOps.root. */
static const char *host_path(char *buf, size_t size, const char *path)
{
        snprintf(buf, size, "%s%s", reboot_ops->root ? reboot_ops->root : "", path);
        return buf;
}

static int read_host_file(const char *path, char **ret)
{
        char buf[PATH_MAX];
        return read_file_at(AT_FDCWD, host_path(buf, sizeof buf, path), 256, ret, NULL);
}

static bool file_says(const char *path, const char *value)
{
        _cleanup_free_ char *v = NULL;
        if (read_host_file(path, &v) < 0)
                return false;
        v[strcspn(v, "\n")] = '\0';
        return streq(v, value);
}

static int kexec_check_host(const void *params, char **reason)
{
        char buf[PATH_MAX];
        if (access(host_path(buf, sizeof buf, "/sys/kernel/kexec_loaded"), F_OK) < 0)
                return action_reason(reason, -EOPNOTSUPP, "this kernel has no kexec support (no /sys/kernel/kexec_loaded)");
        if (file_says("/proc/sys/kernel/kexec_load_disabled", "1"))
                return action_reason(reason, -EPERM, "kexec is disabled (kernel.kexec_load_disabled=1; it cannot be enabled again "
                                     "without a reboot)");
        return 0;
}

static bool crash_kernel_loaded(void)
{
        return file_says("/sys/kernel/kexec_crash_loaded", "1");
}

static bool pstore_backend(void)
{
        _cleanup_free_ char *v = NULL;
        if (read_host_file("/sys/module/pstore/parameters/backend", &v) < 0)
                return false;
        v[strcspn(v, "\n")] = '\0';
        return v[0] && !streq(v, "(null)");
}

static int crash_check_host(const void *params, char **reason)
{
        const RebootParams *p = params;
        int r = kexec_check_host(params, reason);

        if (r < 0)
                return r;
        if (p->kernel && streq(p->kernel, "loaded")) {
                if (!crash_kernel_loaded())
                        return action_reason(reason, -ENOENT, "Kernel=loaded, but no crash kernel is loaded (kexec -p, or kdump-tools)");
                return 0;
        }
        if (file_says("/sys/kernel/kexec_crash_size", "0"))
                return action_reason(reason, -ENOMEM, "no memory is reserved for a crash kernel: boot with crashkernel=SIZE "
                                     "(256M suits most kernels)");
        if (crash_kernel_loaded())
                return action_reason(reason, -EBUSY, "a crash kernel is already loaded (kdump-tools?) and is not ours to replace: "
                                     "set Kernel=loaded to use it, or unload it (kexec -p -u)");
        return 0;
}

static int panic_check_host(const void *params, char **reason)
{
        const RebootParams *p = params;
        _cleanup_free_ char *v = NULL;

        if (!p->require_evidence)
                return 0;
        if (!pstore_backend() && !crash_kernel_loaded())
                return action_reason(reason, -ENODEV, "a panic here would leave no evidence: no pstore backend (ramoops, efi_pstore) "
                                     "and no crash kernel loaded; set one up (see `hvtorture check`), or "
                                     "RequireEvidence=no");
        if (!crash_kernel_loaded() && read_host_file("/proc/sys/kernel/panic", &v) >= 0 &&
            strtol(v, NULL, 10) == 0)
                return action_reason(reason, -EINVAL, "kernel.panic=0: after the panic the host would stay halted and the run could "
                                     "not resume; set kernel.panic=SECONDS (or panic= on the command line), or "
                                     "RequireEvidence=no");
        return 0;
}

static int graceful_check_host(const void *params, char **reason)
{
        const RebootParams *p = params;
        char buf[PATH_MAX];
        if (access(host_path(buf, sizeof buf, "/run/systemd/system"), F_OK) < 0)
                return action_reason(reason, -EOPNOTSUPP, "systemd is not the init system here; graceful asks systemd for the reboot");
        return p->mode == GRACEFUL_KEXEC ? kexec_check_host(params, reason) : 0;
}

/* ---- plans ---- */

static void describe_kernel(const RebootParams *p, bool crash, FILE *f)
{
        char k[PATH_MAX], i[PATH_MAX];
        _cleanup_free_ char *cmdline = reboot_build_cmdline(p->cmdline, p->append, crash);

        if (crash && p->kernel && streq(p->kernel, "loaded")) {
                fputs("uses the crash kernel already loaded", f);
                return;
        }
        default_image(k, sizeof k, "vmlinuz");
        default_image(i, sizeof i, "initrd.img");
        fprintf(f, "loads %s%s (initrd %s) with command line '%s'", p->kernel ?: k, crash ? " as crash kernel" : "",
                p->initrd ?: i, strempty(cmdline));
}

static void kexec_describe(const void *params, FILE *f)
{
        describe_kernel(params, false, f);
        fputs(", then reboot(LINUX_REBOOT_CMD_KEXEC) without asking init", f);
}

static void reboot_describe(const void *params, FILE *f)
{
        fputs("reboot(RB_AUTOBOOT) at once, without asking init", f);
}

static void panic_describe(const void *params, FILE *f)
{
        fputs("crashes the kernel with sysrq c; the evidence comes back through pstore or a crash kernel", f);
}

static void crash_describe(const void *params, FILE *f)
{
        describe_kernel(params, true, f);
        fputs(", then sysrq c with VMs live; the crash kernel saves the log from /proc/vmcore and reboots back", f);
}

static void graceful_describe(const void *params, FILE *f)
{
        const RebootParams *p = params;
        if (p->mode == GRACEFUL_KEXEC) {
                describe_kernel(p, false, f);
                fputs(", then asks systemd for kexec.target", f);
        } else
                fputs("asks systemd for reboot.target", f);
}

#define REBOOT_ACTION(ident, action_name, what, keyset, init, stepfn, check, describefn)                             \
        const ActionType ident = {                                                                                  \
                .name = action_name,                                                                                \
                .summary = what,                                                                                    \
                .flags = ACTION_TRIGGER | ACTION_DESTRUCTIVE | ACTION_REBOOTS | ACTION_JOURNAL_STEPS,               \
                .keys = keyset,                                                                                     \
                .params_size = sizeof(RebootParams),                                                                \
                .outcomes = reboot_outcomes,                                                                        \
                .n_outcomes = ELEMENTSOF(reboot_outcomes),                                                          \
                .phases = reboot_phases,                                                                            \
                .describe = describefn,                                                                             \
                .check_host = check,                                                                                \
                .worker_init = init,                                                                                \
                .step = stepfn,                                                                                     \
                .worker_done = reboot_worker_done,                                                                  \
        }

REBOOT_ACTION(action_kexec, "kexec", "forced kexec reboot into a kernel loaded with kexec_file_load (init not asked)",
              kexec_keys, kexec_worker_init, kexec_step, kexec_check_host, kexec_describe);
REBOOT_ACTION(action_reboot, "reboot", "forced reboot, reboot(RB_AUTOBOOT) (init not asked)", plain_keys,
              plain_worker_init, reboot_step, NULL, reboot_describe);
REBOOT_ACTION(action_panic, "panic", "kernel panic by sysrq c; evidence through pstore or a crash kernel", panic_keys,
              plain_worker_init, panic_step, panic_check_host, panic_describe);
REBOOT_ACTION(action_crash, "crash",
              "load a crash kernel, then panic with VMs live; the crash kernel saves the log and reboots back",
              crash_keys, crash_worker_init, panic_step, crash_check_host, crash_describe);
REBOOT_ACTION(action_graceful, "graceful", "ask systemd for a reboot or kexec, for comparison with the forced ones",
              graceful_keys, graceful_worker_init, graceful_step, graceful_check_host, graceful_describe);
