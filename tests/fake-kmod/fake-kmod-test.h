/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a test needs to run on the fake module kernel (fake-kmod.c): make
 * sure the library is preloaded (the test re-executes itself with
 * LD_PRELOAD when it is not, so it also runs by hand), make a fresh fake
 * root with mkroot, and read or steer the fake kernel: its call log, its
 * rules, which modules are loaded, a module's refcnt and parameters.
 *
 * Tests call fake_kmod_setup(argv[1] = the library, argv[2] = mkroot)
 * first thing in main(); meson passes both.
 */
#pragma once

#include <dlfcn.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

static char fake_root[] = "/tmp/hvt-fake-kmod-XXXXXX";

static inline const char *fake_path(const char *rel)
{
        static char buf[4][512];
        static unsigned next;
        char *b = buf[next++ % 4];
        snprintf(b, sizeof buf[0], "%s%s", fake_root, rel);
        return b;
}

/* A whole small file of the fake tree, or NULL. Caller frees. */
static inline char *fake_read(const char *rel)
{
        FILE *f = fopen(fake_path(rel), "re");
        char *s = NULL;
        size_t n = 0;
        if (!f)
                return NULL;
        if (getdelim(&s, &n, '\0', f) < 0) {
                free(s);
                s = strdup("");
        }
        fclose(f);
        return s;
}

static inline void fake_write(const char *rel, const char *text)
{
        FILE *f = fopen(fake_path(rel), "we");
        if (!f)
                TEST_FAIL("cannot write %s: %m", fake_path(rel));
        fputs(text, f);
        fclose(f);
}

/* The fake kernel's call log since the last fake_log_clear(), "" if none. Caller frees. */
static inline char *fake_log(void)
{
        char *s = fake_read("/fake-kmod.log");
        return s ? s : strdup("");
}

static inline void fake_log_clear(void)
{
        unlink(fake_path("/fake-kmod.log"));
}

/* Lines of the log that start with prefix. */
static inline unsigned fake_log_count(const char *prefix)
{
        char *log = fake_log(), *save = NULL;
        unsigned n = 0;
        for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                n += strncmp(l, prefix, strlen(prefix)) == 0;
        free(log);
        return n;
}

static inline void fake_rules(const char *text)
{
        fake_write("/fake-kmod.rules", text);
}

static inline bool fake_loaded(const char *module)
{
        char rel[128];
        snprintf(rel, sizeof rel, "/sys/module/%s/initstate", module);
        return access(fake_path(rel), F_OK) == 0;
}

static inline void fake_set_refcnt(const char *module, int n)
{
        char rel[128], v[16];
        snprintf(rel, sizeof rel, "/sys/module/%s/refcnt", module);
        snprintf(v, sizeof v, "%d\n", n);
        fake_write(rel, v);
}

/* A loaded module's parameter as the fake kernel shows it, newline stripped. Caller frees. */
static inline char *fake_param(const char *module, const char *param)
{
        char rel[192], *s;
        snprintf(rel, sizeof rel, "/sys/module/%s/parameters/%s", module, param);
        s = fake_read(rel);
        if (s)
                s[strcspn(s, "\n")] = '\0';
        return s;
}

static inline void fake_run(char *const argv[])
{
        int status;
        pid_t pid = fork();
        if (pid == 0) {
                execv(argv[0], argv);
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                TEST_FAIL("cannot run %s", argv[0]);
        if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_TEST_SKIP)
                TEST_SKIP("%s: a tool it needs is missing", argv[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                TEST_FAIL("%s failed (status 0x%x)", argv[0], status);
}

/* Everything of the fake root goes, ready for the next case. */
static inline void fake_reset(const char *cpu)
{
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.[!.]*", fake_root, fake_root);
        if (system(cmd) != 0)
                TEST_FAIL("cannot clean %s", fake_root);
        {
                char *const args[] = { (char *)getenv("HVT_FAKE_MKROOT"), fake_root, (char *)"6.1.0-hvt-fake",
                                       (char *)cpu, NULL };
                fake_run(args);
        }
}

static inline void fake_cleanup(void)
{
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fake_root);
        (void)!system(cmd);
}

static inline void fake_kmod_setup(int argc, char **argv)
{
        if (!dlsym(RTLD_DEFAULT, "hvt_fake_kmod")) {
                /* Not preloaded yet: again, with the library in front (and ASan told that this is fine). */
                const char *asan = getenv("ASAN_OPTIONS");
                char opts[512], so[4096];
                if (argc < 3)
                        TEST_SKIP("usage: %s FAKE_KMOD_SO MKROOT (meson passes both)", argv[0]);
                if (!realpath(argv[1], so))
                        TEST_FAIL("%s: %m", argv[1]);
                if (getenv("HVT_FAKE_REEXEC"))
                        TEST_FAIL("LD_PRELOAD=%s did not take", argv[1]);
                snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan ? ":" : "");
                setenv("ASAN_OPTIONS", opts, 1);
                setenv("LD_PRELOAD", so, 1);
                setenv("HVT_FAKE_REEXEC", "1", 1);
                execv("/proc/self/exe", argv);
                TEST_FAIL("cannot re-execute %s: %m", argv[0]);
        }
        unsetenv("LD_PRELOAD"); /* our own children (depmod, rm) run on the real kernel's tools */
        setenv("HVT_FAKE_MKROOT", argv[2], 1);
        if (!mkdtemp(fake_root))
                TEST_FAIL("mkdtemp: %m");
        atexit(fake_cleanup);
        fake_reset("amd");
        setenv("HVT_FAKE_ROOT", fake_root, 1);
}
