/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmod-util against the real libkmod and a fake kernel (tests/fake-kmod):
 * lookups (a name, not an alias; missing; built in), probe-insert loading
 * dependencies first with the options given, EEXIST for a loaded module,
 * removal with the kernel's errno, modinfo's parameter types and the value
 * checks, parameter values read back, the vendor module from cpuinfo.
 */
#include "fake-kmod-test.h"
#include "kmod-util.h"

static void test_vendor(void)
{
        static const struct {
                const char *text;
                int r;
                const char *want;
        } cases[] = {
                { "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm lm\n", 0, "kvm_amd" },
                { "vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx lm\n", 0, "kvm_intel" },
                /* A word, not a substring: "svm_lock" is no svm. */
                { "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm_lock lm\n", -ENODEV, NULL },
                { "vendor_id\t: GenuineIntel\nflags\t\t: fpu lm\n", -ENODEV, NULL },
                /* Both (an emulator's CPU model): the vendor decides. */
                { "vendor_id\t: GenuineIntel\nflags\t\t: vmx svm\n", 0, "kvm_intel" },
                { "vendor_id\t: AuthenticAMD\nflags\t\t: vmx svm\n", 0, "kvm_amd" },
                { "flags\t\t: vmx svm\n", -ENODEV, NULL },
                { "flags\t\t: svm\n", 0, "kvm_amd" },
        };
        char path[600];

        snprintf(path, sizeof path, "%s/cpuinfo-test", fake_root);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                FILE *f = fopen(path, "we");
                const char *got = NULL;
                fputs(cases[i].text, f);
                fclose(f);
                ASSERT_EQ(cpu_kvm_vendor_module(path, &got), cases[i].r);
                if (cases[i].want)
                        ASSERT_STREQ(got, cases[i].want);
        }
        ASSERT_EQ(cpu_kvm_vendor_module("/nonexistent/cpuinfo", &(const char *){ NULL }), -ENOENT);
        /* /proc/cpuinfo is the fake one (svm, AuthenticAMD). */
        {
                const char *got = NULL;
                ASSERT_OK(cpu_kvm_vendor_module("/proc/cpuinfo", &got));
                ASSERT_STREQ(got, "kvm_amd");
        }
}

static void test_names(void)
{
        char n[] = "kvm-amd";

        module_name_normalize(n);
        ASSERT_STREQ(n, "kvm_amd");
        ASSERT_TRUE(module_name_valid("kvm_amd"));
        ASSERT_TRUE(module_name_valid("kvm-intel"));
        ASSERT_TRUE(!module_name_valid(""));
        ASSERT_TRUE(!module_name_valid("../kvm"));
        ASSERT_TRUE(!module_name_valid("kvm amd"));
        ASSERT_TRUE(!module_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
}

static void test_values(void)
{
        ASSERT_OK(module_param_value_check("bool", "Y"));
        ASSERT_OK(module_param_value_check("bool", "0"));
        ASSERT_OK(module_param_value_check("bool", "off"));
        ASSERT_EQ(module_param_value_check("bool", "2"), -EINVAL);
        ASSERT_EQ(module_param_value_check("bool", ""), -EINVAL);
        ASSERT_OK(module_param_value_check("int", "-3"));
        ASSERT_OK(module_param_value_check("int", "0x10"));
        ASSERT_EQ(module_param_value_check("int", "1x"), -EINVAL);
        ASSERT_EQ(module_param_value_check("int", "4294967296"), -EINVAL);
        ASSERT_OK(module_param_value_check("uint", "4294967295"));
        ASSERT_EQ(module_param_value_check("uint", "-1"), -EINVAL);
        ASSERT_EQ(module_param_value_check("ushort", "65536"), -EINVAL);
        ASSERT_EQ(module_param_value_check("byte", "256"), -EINVAL);
        ASSERT_OK(module_param_value_check("charp", "anything"));
}

static void test_lookup_and_info(void)
{
        _cleanup_(modctx_freep) ModCtx *ctx = NULL;
        _cleanup_(kmod_module_unrefp) struct kmod_module *amd = NULL, *kvm = NULL;
        _cleanup_strv_free_ char **types = NULL, **deps = NULL;
        struct kmod_module *m = NULL;
        ModuleState st;

        ASSERT_OK(modctx_new(&ctx));
        ASSERT_STREQ(modctx_dirname(ctx), "/lib/modules/6.1.0-hvt-fake");
        ASSERT_OK(modctx_lookup(ctx, "kvm_amd", &amd));
        ASSERT_OK(modctx_lookup(ctx, "kvm", &kvm));
        ASSERT_EQ(modctx_lookup(ctx, "kvm_arm", &m), -ENOENT);
        ASSERT_TRUE(!m);

        ASSERT_OK(module_dependencies(amd, &deps));
        ASSERT_EQ(strv_length(deps), 3); /* ccp, kvm, irqbypass: modules.dep lists the whole closure */
        ASSERT_OK(module_param_types(amd, &types));
        ASSERT_STREQ(module_param_type_find(types, "nested"), "int");
        ASSERT_STREQ(module_param_type_find(types, "npt"), "bool");
        ASSERT_TRUE(!module_param_type_find(types, "nest"));
        ASSERT_TRUE(!module_param_type_find(types, "tdp_mmu"));

        ASSERT_OK(module_state(amd, &st));
        ASSERT_EQ(st, MODULE_ABSENT);
}

static void test_insert_remove(void)
{
        _cleanup_(modctx_freep) ModCtx *ctx = NULL;
        _cleanup_(kmod_module_unrefp) struct kmod_module *amd = NULL, *kvm = NULL;
        _cleanup_strv_free_ char **holders = NULL;
        _cleanup_free_ char *log = NULL, *v = NULL;
        ModuleState st;

        fake_log_clear();
        ASSERT_OK(modctx_new(&ctx));
        ASSERT_OK(modctx_lookup(ctx, "kvm_amd", &amd));
        ASSERT_OK(modctx_lookup(ctx, "kvm", &kvm));

        /* Dependencies first, their own options from modprobe.d only; ours go to kvm_amd. */
        ASSERT_OK(module_insert(amd, "nested=0"));
        log = fake_log();
        ASSERT_CONTAINS(log, "init irqbypass \"\" = 0\n");
        ASSERT_TRUE(strstr(log, "init irqbypass") < strstr(log, "init kvm \"\" = 0"));
        ASSERT_TRUE(strstr(log, "init kvm \"\"") < strstr(log, "init kvm_amd \"nested=0\" = 0"));
        ASSERT_CONTAINS(log, "init ccp \"\" = 0\n");
        ASSERT_OK(module_state(amd, &st));
        ASSERT_EQ(st, MODULE_LIVE);
        ASSERT_OK(module_param_read("kvm_amd", "nested", &v));
        ASSERT_STREQ(v, "0");
        free(v);
        v = NULL;
        ASSERT_OK(module_param_read("kvm_amd", "npt", &v));
        ASSERT_STREQ(v, "N"); /* a bool reads back as Y/N */
        ASSERT_EQ(module_param_read("kvm_amd", "nope", &(char *){ NULL }), -ENOENT);

        /* Loaded already: EEXIST, not a silent success. */
        ASSERT_EQ(module_insert(amd, NULL), -EEXIST);
        ASSERT_OK(module_holders(kvm, &holders));
        ASSERT_STREQ(holders[0], "kvm_amd");
        ASSERT_EQ(module_refcnt(kvm), 1);

        /* kvm is held by kvm_amd: the kernel's EWOULDBLOCK, unchanged. */
        ASSERT_EQ(module_remove(kvm, false), -EAGAIN);
        fake_set_refcnt("kvm_amd", 2);
        ASSERT_EQ(module_remove(amd, false), -EAGAIN);
        ASSERT_OK(module_remove(amd, true)); /* forced: O_TRUNC */
        ASSERT_EQ(fake_log_count("delete kvm_amd flags=0xa00 = 0 (forced)"), 1);
        ASSERT_OK(module_remove(kvm, false));
        ASSERT_EQ(module_remove(kvm, false), -ENOENT);
        ASSERT_OK(module_state(kvm, &st));
        ASSERT_EQ(st, MODULE_ABSENT);
        ASSERT_TRUE(fake_loaded("irqbypass")); /* dependencies stay: only what is named goes */

        /* What a blacklist in modprobe.d does to a probe: libkmod's positive answer, handled. */
        fake_write("/etc/modprobe.d/blacklist.conf", "blacklist kvm_intel\n");
        {
                _cleanup_(modctx_freep) ModCtx *ctx2 = NULL;
                _cleanup_(kmod_module_unrefp) struct kmod_module *intel = NULL;
                ASSERT_OK(modctx_new(&ctx2));
                ASSERT_OK(modctx_lookup(ctx2, "kvm_intel", &intel));
                ASSERT_EQ(module_insert(intel, NULL), MODULE_INSERT_BLACKLISTED);
                ASSERT_TRUE(!fake_loaded("kvm_intel"));
        }
        unlink(fake_path("/etc/modprobe.d/blacklist.conf"));

        /* modprobe.d options come first, ours after them (the kernel lets the last one win). */
        fake_write("/etc/modprobe.d/kvm.conf", "options kvm_amd nested=1 avic=1\n");
        {
                _cleanup_(modctx_freep) ModCtx *ctx2 = NULL;
                _cleanup_(kmod_module_unrefp) struct kmod_module *amd2 = NULL;
                ASSERT_OK(modctx_new(&ctx2));
                ASSERT_OK(modctx_lookup(ctx2, "kvm_amd", &amd2));
                ASSERT_OK(module_insert(amd2, "nested=0"));
                ASSERT_EQ(fake_log_count("init kvm_amd \"nested=1 avic=1 nested=0\" = 0"), 1);
                free(v);
                ASSERT_OK(module_param_read("kvm_amd", "nested", &v));
                ASSERT_STREQ(v, "0");
                ASSERT_OK(module_remove(amd2, false));
        }
        unlink(fake_path("/etc/modprobe.d/kvm.conf"));
}

static void test_builtin(void)
{
        _cleanup_(modctx_freep) ModCtx *ctx = NULL;
        struct kmod_module *m = NULL;

        /* A kernel with kvm built in: modules.builtin names it, depmod indexes that. */
        fake_write("/lib/modules/6.1.0-hvt-fake/modules.builtin", "kernel/arch/x86/kvm/kvm.ko\n");
        unlink(fake_path("/lib/modules/6.1.0-hvt-fake/kernel/arch/x86/kvm/kvm.ko"));
        {
                char *const argv[] = { (char *)"/usr/sbin/depmod", (char *)"-b", fake_root, (char *)"6.1.0-hvt-fake", NULL };
                fake_run(argv);
        }
        ASSERT_OK(modctx_new(&ctx));
        ASSERT_EQ(modctx_lookup(ctx, "kvm", &m), -EOPNOTSUPP);
        ASSERT_TRUE(!m);
}

int main(int argc, char **argv)
{
        fake_kmod_setup(argc, argv);
        test_vendor();
        test_names();
        test_values();
        test_lookup_and_info();
        test_insert_remove();
        test_builtin();
        return 0;
}
