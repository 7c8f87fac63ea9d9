/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Profile parsing: values, defaults, and every kind of bad input naming its line. */
#include "conf.h"
#include "profile.h"
#include "test-util.h"

static void test_durations(void)
{
        uint64_t v;
        Range r;
        char buf[32];

        ASSERT_OK(parse_duration("30s", &v));
        ASSERT_EQ(v, 30 * NSEC_PER_SEC);
        ASSERT_OK(parse_duration("10min", &v));
        ASSERT_EQ(v, 600 * NSEC_PER_SEC);
        ASSERT_OK(parse_duration("2h", &v));
        ASSERT_EQ(v, 7200 * NSEC_PER_SEC);
        ASSERT_OK(parse_duration("20ms", &v));
        ASSERT_EQ(v, 20 * NSEC_PER_MSEC);
        ASSERT_OK(parse_duration("1h 30min", &v));
        ASSERT_EQ(v, 5400 * NSEC_PER_SEC);
        ASSERT_OK(parse_duration("5", &v));
        ASSERT_EQ(v, 5 * NSEC_PER_SEC);
        ASSERT_OK(parse_duration("infinity", &v));
        ASSERT_EQ(v, UINT64_MAX);
        ASSERT_EQ(parse_duration("", &v), -EINVAL);
        ASSERT_EQ(parse_duration("10 parsecs", &v), -EINVAL);
        ASSERT_EQ(parse_duration("-5s", &v), -EINVAL);
        ASSERT_EQ(parse_duration("99999999999999999999s", &v), -ERANGE);
        ASSERT_EQ(parse_duration("999999999999d", &v), -ERANGE);

        ASSERT_OK(parse_range("20ms..200ms", &r));
        ASSERT_EQ(r.lo, 20 * NSEC_PER_MSEC);
        ASSERT_EQ(r.hi, 200 * NSEC_PER_MSEC);
        ASSERT_OK(parse_range("1s", &r));
        ASSERT_EQ(r.lo, r.hi);
        ASSERT_EQ(parse_range("2s..1s", &r), -EDOM);
        ASSERT_EQ(parse_range("..1s", &r), -EINVAL);

        ASSERT_STREQ(format_duration(buf, sizeof buf, 90 * NSEC_PER_SEC), "1min 30s");
        ASSERT_STREQ(format_duration(buf, sizeof buf, 20 * NSEC_PER_MSEC), "20ms");
        ASSERT_STREQ(format_duration(buf, sizeof buf, UINT64_MAX), "infinity");
}

static void test_scalars(void)
{
        bool b;
        uint64_t v;

        ASSERT_OK(parse_bool("yes", &b));
        ASSERT_TRUE(b);
        ASSERT_OK(parse_bool("off", &b));
        ASSERT_TRUE(!b);
        ASSERT_EQ(parse_bool("maybe", &b), -EINVAL);
        ASSERT_OK(parse_size("2M", &v));
        ASSERT_EQ(v, 2 << 20);
        ASSERT_OK(parse_size("4096", &v));
        ASSERT_EQ(v, 4096);
        ASSERT_EQ(parse_size("2X", &v), -EINVAL);
        ASSERT_EQ(parse_uint64("12abc", &v), -EINVAL);
        ASSERT_EQ(string_distance("MemorySlot", "MemorySlots"), 1);
        ASSERT_EQ(string_distance("vcpus", "VCPUs"), 0);
}

/* Parses text as a profile; returns the formatted errors, one a line, or NULL if it parsed. */
static char *errors_of(const char *text)
{
        ConfErrors errs = {};
        Profile *p = NULL;
        char *out = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        r = profile_parse_text("test.ini", text, strlen(text), &p, &errs);
        if (r >= 0) {
                ASSERT_EQ(errs.n, 0);
                profile_free(p);
                return NULL;
        }
        ASSERT_TRUE(errs.n > 0);
        f = open_memstream(&out, &len);
        conf_errors_print(&errs, f);
        fclose(f);
        conf_errors_clear(&errs);
        return out;
}

#define EXPECT_ERROR(text, needle)                                                                                \
        do {                                                                                                      \
                char *_e = errors_of(text);                                                                       \
                if (!_e)                                                                                          \
                        TEST_FAIL("profile unexpectedly parsed:\n%s", text);                                      \
                ASSERT_CONTAINS(_e, needle);                                                                      \
                free(_e);                                                                                         \
        } while (0)

#define HEAD "[Profile]\nDuration=10s\n"

static void test_good_profile(void)
{
        static const char text[] = "# a comment\n"
                                   "[Profile]\n"
                                   "Description=two actors\n"
                                   "Duration=1min\n"
                                   "Seed=1234\n"
                                   "\n"
                                   "[Actor a]\n"
                                   "Action=idle\n"
                                   "Instances=3\n"
                                   "Interval=1ms..5ms\n"
                                   "Outcomes=ok:9 failure:1\n"
                                   "\n"
                                   "[Actor b]\n"
                                   "Action=idle\n"
                                   "Iterations=7\n"
                                   "\n"
                                   "[Trigger t]\n"
                                   "Action=idle\n"
                                   "AlignWith=a:idle:busy\n"
                                   "\n"
                                   "[Evidence]\n"
                                   "StopOn=panic kasan\n";
        ConfErrors errs = {};
        Profile *p = NULL;

        ASSERT_OK(profile_parse_text("good.ini", text, strlen(text), &p, &errs));
        ASSERT_STREQ(p->description, "two actors");
        ASSERT_EQ(p->duration_ns, 60 * NSEC_PER_SEC);
        ASSERT_TRUE(p->seed_set);
        ASSERT_EQ(p->seed, 1234);
        ASSERT_EQ(p->n_actors, 3);
        ASSERT_STREQ(p->actors[0].name, "a");
        ASSERT_EQ(p->actors[0].instances, 3);
        ASSERT_EQ(p->actors[0].interval.lo, NSEC_PER_MSEC);
        ASSERT_EQ(p->actors[0].interval.hi, 5 * NSEC_PER_MSEC);
        ASSERT_EQ(p->actors[1].instances, 1); /* default */
        ASSERT_EQ(p->actors[1].iterations, 7);
        ASSERT_EQ(p->actors[2].role, ROLE_TRIGGER);
        ASSERT_STREQ(p->actors[2].align_actor, "a");
        ASSERT_STREQ(p->actors[2].align_phase, "idle:busy");
        ASSERT_TRUE(p->evidence.stop_on & (1ULL << EVIDENCE_PANIC));
        ASSERT_TRUE(p->evidence.stop_on & (1ULL << EVIDENCE_KASAN));
        ASSERT_TRUE(!(p->evidence.stop_on & (1ULL << EVIDENCE_WARNING)));
        ASSERT_TRUE(!profile_is_destructive(p, NULL));
        ASSERT_EQ(p->text_len, strlen(text));
        profile_free(p);
}

static void test_bad_profiles(void)
{
        /* Typo in a key: file:line, section, key=value and a suggestion. */
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\nIntervall=5ms\n",
                     "test.ini:5: [Actor a] Intervall=5ms: unknown key 'Intervall' (did you mean 'Interval'?)");
        EXPECT_ERROR("[Profile]\nDuraton=10s\n[Actor a]\nAction=idle\n", "test.ini:2: [Profile] Duraton=10s");
        EXPECT_ERROR("[Profile]\nDuraton=10s\n[Actor a]\nAction=idle\n", "did you mean 'Duration'");
        /* Bad values say what is allowed. */
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\nInterval=fast\n", "test.ini:5: [Actor a] Interval=fast: not a duration range");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\nInstances=0\n", "Instances=0: out of range; allowed: 1..256");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\nInstances=many\n", "Instances=many: not a number");
        EXPECT_ERROR("[Profile]\nDuration=soon\n[Actor a]\nAction=idle\n", "Duration=soon: not a duration");
        EXPECT_ERROR("[Profile]\nDuration=10s\nDestructive=perhaps\n[Actor a]\nAction=idle\n",
                     "Destructive=perhaps: not a boolean");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\nOutcomes=ok:0\n", "bad weight");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\nOutcomes=okay\n", "unknown value 'okay' (did you mean 'ok'?)");
        EXPECT_ERROR(HEAD "[Evidence]\nStopOn=panik\n[Actor a]\nAction=idle\n", "did you mean 'panic'");
        /* Sections. */
        EXPECT_ERROR(HEAD "[Actr a]\nAction=idle\n", "test.ini:3: unknown section [Actr a] (did you mean [Actor NAME]?)");
        EXPECT_ERROR(HEAD "[Actor]\nAction=idle\n", "needs a name");
        EXPECT_ERROR(HEAD "[Actor a/b]\nAction=idle\n", "bad Actor name 'a/b'");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\n[Load a]\nAction=idle\n", "already used by [Actor a] at line 3");
        EXPECT_ERROR(HEAD "[Actor a]\nInstances=2\n", "test.ini:3: [Actor a] missing Action=; one of: vm, idle");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=fly\n", "test.ini:4: [Actor a] Action=fly: 'fly' is not an action");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\n[Trigger t]\nAction=idle\n", "a trigger needs At=");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\n[Trigger t]\nAction=idle\nAlignWith=nobody:x\n",
                     "aligns with 'nobody', which is not an [Actor]");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\n[Trigger t]\nAction=idle\nAlignWith=a\n", "write ACTOR:PHASE");
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\n[Trigger t]\nAction=idle\nAlignWith=a:unload\n",
                     "[Actor a] (Action=idle) has no phase 'unload'; its phases: idle:busy");
        /* Whole-profile checks. */
        EXPECT_ERROR("[Profile]\nDescription=x\n[Actor a]\nAction=idle\n", "the run has no end");
        EXPECT_ERROR("[Profile]\nDuration=1s\n[Actor a]\nAction=idle\nEndsRun=yes\n", "EndsRun=yes needs Iterations=");
        {
                char *e = errors_of("[Profile]\n[Actor a]\nAction=idle\nIterations=3\nEndsRun=yes\n[Actor b]\nAction=idle\n");
                ASSERT_TRUE(e == NULL); /* EndsRun= bounds the run though b has no end of its own */
        }
        EXPECT_ERROR(HEAD, "nothing to do");
        EXPECT_ERROR("[Actor a]\nAction=idle\nIterations=3\n", "no [Profile] section");
        /* Syntax. */
        EXPECT_ERROR(HEAD "[Actor a]\nAction=idle\nthis is not a key\n", "test.ini:5: cannot parse 'this is not a key'");
        EXPECT_ERROR(HEAD "[Actor a\nAction=idle\n", "test.ini:3: section header '[Actor a' has no closing ']'");
        EXPECT_ERROR("Duration=10s\n[Profile]\n", "test.ini:1: Duration=10s: assignment outside of any section");
        {
                char big[600];
                snprintf(big, sizeof big, HEAD "[Actor a]\nAction=idle\nInterval=%0400d\n", 1);
                EXPECT_ERROR(big, "test.ini:5: line is");
        }
        {
                static const char nul[] = HEAD "[Actor a]\nAction=idle\nInterval=1\0ms\n";
                ConfErrors errs = {};
                Profile *p = NULL;
                ASSERT_EQ(profile_parse_text("nul.ini", nul, sizeof nul - 1, &p, &errs), -EINVAL);
                ASSERT_TRUE(errs.n > 0);
                ASSERT_EQ(errs.items[0].line, 5);
                conf_errors_clear(&errs);
        }
        /* All errors are reported, not only the first. */
        {
                char *e = errors_of(HEAD "[Actor a]\nAction=idle\nInstances=0\nInterval=x\nFoo=1\n");
                ASSERT_CONTAINS(e, ":5:");
                ASSERT_CONTAINS(e, ":6:");
                ASSERT_CONTAINS(e, ":7:");
                free(e);
        }
}

static void test_list_semantics(void)
{
        static const char text[] = HEAD "[Evidence]\nStopOn=panic\nStopOn=kasan\n[Actor a]\nAction=idle\n";
        static const char reset[] = HEAD "[Evidence]\nStopOn=panic\nStopOn=\nStopOn=oops\n[Actor a]\nAction=idle\n";
        ConfErrors errs = {};
        Profile *p = NULL;

        ASSERT_OK(profile_parse_text("l.ini", text, strlen(text), &p, &errs));
        ASSERT_EQ(p->evidence.stop_on, (1ULL << EVIDENCE_PANIC) | (1ULL << EVIDENCE_KASAN));
        profile_free(p);
        ASSERT_OK(profile_parse_text("l.ini", reset, strlen(reset), &p, &errs));
        ASSERT_EQ(p->evidence.stop_on, 1ULL << EVIDENCE_OOPS);
        profile_free(p);
}

int main(void)
{
        test_durations();
        test_scalars();
        test_good_profile();
        test_bad_profiles();
        test_list_semantics();
        return 0;
}
