/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The stress action without stress-ng: its reading of stress-ng's --yaml
 * output (a file stress-ng 0.15.06 wrote on this kind of machine, and
 * what can go wrong with one), and what a [Load] with Action=stress may
 * say. The real stress-ng runs in tests/cli/test-stress.sh.
 */
#include "action-stress.h"
#include "profile.h"
#include "test-util.h"

/* As stress-ng 0.15.06 writes it with --metrics --yaml FILE (system-info trimmed). */
static const char yaml_0_15[] =
        "---\n"
        "system-info:\n"
        "      stress-ng-version: 0.15.06\n"
        "      run-by: root\n"
        "      version: '#1 SMP PREEMPT_DYNAMIC @0'\n"
        "      machine: x86_64\n"
        "      cpus: 2\n"
        "\n"
        "metrics:\n"
        "    - stressor: vm\n"
        "      bogo-ops: 2048\n"
        "      bogo-ops-per-second-usr-sys-time: 2136.128101\n"
        "      bogo-ops-per-second-real-time: 671.713596\n"
        "      wall-clock-time: 3.048918\n"
        "      user-time: 0.499164\n"
        "      system-time: 0.459580\n"
        "      cpu-usage-per-instance: 31.445380\n"
        "      max-rss: 264080\n"
        "\n"
        "    - stressor: cpu\n"
        "      bogo-ops: 1046\n"
        "      bogo-ops-per-second-usr-sys-time: 1138.375779\n"
        "      bogo-ops-per-second-real-time: 347.853547\n"
        "      wall-clock-time: 3.007013\n"
        "      user-time: 0.915150\n"
        "      system-time: 0.003703\n"
        "      cpu-usage-per-instance: 30.557005\n"
        "      max-rss: 6492\n"
        "\n"
        "...\n";

static StressYaml y;

static void test_yaml(void)
{
        ASSERT_OK(stress_yaml_parse(yaml_0_15, &y));
        ASSERT_STREQ(y.version, "0.15.06");
        ASSERT_EQ(y.n_entries, 2);
        ASSERT_TRUE(!y.truncated);
        ASSERT_STREQ(y.entries[0].stressor, "vm");
        ASSERT_STREQ(y.entries[1].stressor, "cpu");
        ASSERT_EQ(stress_yaml_number(&y.entries[0], "bogo-ops"), 2048);
        ASSERT_EQ(stress_yaml_number(&y.entries[1], "max-rss"), 6492);
        ASSERT_TRUE(stress_yaml_number(&y.entries[0], "bogo-ops-per-second-real-time") > 671.7 &&
                    stress_yaml_number(&y.entries[0], "bogo-ops-per-second-real-time") < 671.8);
        ASSERT_EQ(stress_yaml_number(&y.entries[0], "no-such-key"), 0);
        /* The version: field of system-info is not a metric. */
        for (unsigned i = 0; i < y.entries[0].n_fields; i++)
                ASSERT_TRUE(strcmp(y.entries[0].fields[i].key, "version") != 0);

        /* Killed before it wrote metrics: no list at all. */
        ASSERT_EQ(stress_yaml_parse("---\nsystem-info:\n      stress-ng-version: 0.15.06\n", &y), -ENODATA);
        ASSERT_EQ(stress_yaml_parse("", &y), -ENODATA);
        /* A list with an entry that names no stressor keeps only the named ones. */
        ASSERT_OK(stress_yaml_parse("metrics:\n    - bogo-ops: 3\n    - stressor: 'io'\n      bogo-ops: 7\n", &y));
        ASSERT_EQ(y.n_entries, 1);
        ASSERT_STREQ(y.entries[0].stressor, "io");
        ASSERT_EQ(stress_yaml_number(&y.entries[0], "bogo-ops"), 7);
        /* A truncated file (the last line cut) still gives what is complete; CRLF is tolerated. */
        ASSERT_OK(stress_yaml_parse("metrics:\r\n    - stressor: vm\r\n      bogo-ops: 12\r\n      wall-clo", &y));
        ASSERT_EQ(y.n_entries, 1);
        ASSERT_EQ(stress_yaml_number(&y.entries[0], "bogo-ops"), 12);
}

static void test_yaml_limits(void)
{
        /* More entries than kept: the first ones survive and the result says it was cut. */
        char *big = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&big, &len);

        ASSERT_TRUE(f);
        fputs("metrics:\n", f);
        for (int i = 0; i < STRESS_YAML_ENTRIES_MAX + 10; i++)
                fprintf(f, "    - stressor: s%d\n      bogo-ops: %d\n", i, i);
        fprintf(f, "    - stressor: wide\n");
        for (int i = 0; i < STRESS_YAML_FIELDS_MAX + 5; i++)
                fprintf(f, "      k%d: %d\n", i, i);
        /* A value longer than a word is cut, not overflowed. */
        fprintf(f, "    - stressor: %0200d\n", 1);
        fclose(f);
        ASSERT_OK(stress_yaml_parse(big, &y));
        ASSERT_EQ(y.n_entries, STRESS_YAML_ENTRIES_MAX);
        ASSERT_TRUE(y.truncated);
        ASSERT_STREQ(y.entries[0].stressor, "s0");
        free(big);
}

static Profile *load(const char *keys, ConfErrors *errs)
{
        char text[1024];
        Profile *p = NULL;

        snprintf(text, sizeof text, "[Profile]\nDuration=1min\n[Actor a]\nAction=idle\n[Load pressure]\nAction=stress\n%s\n",
                 keys);
        return profile_parse_text("load.ini", text, strlen(text), &p, errs) < 0 ? NULL : p;
}

static void expect_error(const char *keys, const char *needle)
{
        ConfErrors errs = {};
        _cleanup_free_ char *msg = NULL;

        ASSERT_TRUE(!load(keys, &errs));
        ASSERT_TRUE(errs.n >= 1);
        msg = conf_error_format(&errs.items[0]);
        printf("%s\n", msg);
        ASSERT_CONTAINS(msg, "load.ini:");
        ASSERT_CONTAINS(msg, "[Load pressure]");
        ASSERT_CONTAINS(msg, needle);
        conf_errors_clear(&errs);
}

static void test_profile(void)
{
        ConfErrors errs = {};
        Profile *p;
        char *plan = NULL;
        size_t len = 0;
        FILE *f;

        p = load("Stressors=vm:2 cpu:1\nArguments=--vm-bytes 25%", &errs);
        ASSERT_TRUE(p);
        ASSERT_TRUE(!profile_is_destructive(p, NULL));
        f = open_memstream(&plan, &len);
        profile_print_plan(p, 1, 0, f);
        fclose(f);
        printf("%s", plan);
        ASSERT_CONTAINS(plan, "stress-ng --vm 2 --cpu 1 --vm-bytes 25% for the whole run");
        free(plan);
        profile_free(p);

        expect_error("", "needs Stressors=");
        expect_error("Stressors=VM:2", "lower-case");
        expect_error("Stressors=vm:x", "INSTANCES");
        expect_error("Stressors=vm:5000", "INSTANCES");
        expect_error("Stressors=vm\nArguments=--yaml /tmp/x", "--yaml is set by the stress action");
        expect_error("Stressors=vm\nArguments=--timeout=5", "--timeout is set by the stress action");
        expect_error("Stressors=vm\nTimeout=0", "Timeout");

        /* A stress load is background pressure: not an actor. */
        {
                const char *t = "[Profile]\nDuration=1s\n[Actor s]\nAction=stress\nStressors=cpu\n";
                ASSERT_TRUE(profile_parse_text("x.ini", t, strlen(t), &p, &errs) < 0);
                ASSERT_CONTAINS(errs.items[0].message, "cannot be used in a [Actor]");
        }
        conf_errors_clear(&errs);
}

int main(void)
{
        test_yaml();
        test_yaml_limits();
        test_profile();
        return 0;
}
