/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Taint bits: letters and meanings as the kernel documents them, parsing, new-bit descriptions, JSON. */
#include <json-c/json.h>

#include "taint.h"
#include "test-util.h"

static void test_letters(void)
{
        static const char expected[] = "PFSRMBUDAWCIOELKXTNJ";
        char buf[TAINT_LETTERS_MAX];

        for (unsigned bit = 0; bit < TAINT_BITS_KNOWN; bit++) {
                ASSERT_EQ(taint_letter(bit), expected[bit]);
                ASSERT_TRUE(taint_description(bit));
        }
        ASSERT_EQ(taint_letter(TAINT_BITS_KNOWN), '?');
        ASSERT_TRUE(!taint_description(63));
        ASSERT_STREQ(taint_description(9), "kernel issued warning");

        taint_to_letters(0, buf);
        ASSERT_STREQ(buf, "");
        taint_to_letters((1U << 7) | (1U << 9) | (1U << 12), buf);
        ASSERT_STREQ(buf, "DWO");
        taint_to_letters(UINT64_MAX, buf);
        ASSERT_EQ(strlen(buf), 64);
}

static void test_parse(void)
{
        uint64_t v;

        ASSERT_OK(taint_parse("0\n", &v));
        ASSERT_EQ(v, 0);
        ASSERT_OK(taint_parse("512\n", &v));
        ASSERT_EQ(v, 512);
        ASSERT_OK(taint_parse("18446744073709551615", &v));
        ASSERT_EQ(v, UINT64_MAX);
        ASSERT_EQ(taint_parse("", &v), -EINVAL);
        ASSERT_EQ(taint_parse("\n", &v), -EINVAL);
        ASSERT_EQ(taint_parse("-1", &v), -EINVAL);
        ASSERT_EQ(taint_parse("12a", &v), -EINVAL);
        ASSERT_EQ(taint_parse("18446744073709551616", &v), -EINVAL);
        ASSERT_EQ(taint_parse("1\n2\n", &v), -EINVAL);
}

static void test_read(void)
{
        char path[] = "/tmp/test-taint-XXXXXX";
        int fd = mkstemp(path);
        uint64_t v;

        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "4608\n", 5), 5);
        close(fd);
        ASSERT_OK(taint_read_from(path, &v));
        ASSERT_EQ(v, 4608);
        unlink(path);
        ASSERT_EQ(taint_read_from("/nonexistent/tainted", &v), -ENOENT);
        /* the real one: whatever this kernel says, it parses */
        ASSERT_OK(taint_read(&v));
}

static void test_describe(void)
{
        char *s = NULL;

        ASSERT_OK(taint_describe_new(0, 0, &s));
        ASSERT_TRUE(!s);
        ASSERT_OK(taint_describe_new(1U << 9, 1U << 9, &s));
        ASSERT_TRUE(!s);
        ASSERT_OK(taint_describe_new(0, 1U << 9, &s));
        ASSERT_STREQ(s, "W (kernel issued warning)");
        free(s);
        ASSERT_OK(taint_describe_new(1U << 9, (1U << 9) | (1U << 7) | (1U << 14), &s));
        ASSERT_STREQ(s, "D (kernel died recently, i.e. there was an OOPS or BUG), L (soft lockup occurred)");
        free(s);
        /* bits cleared (only possible via a new boot) are not "new" */
        ASSERT_OK(taint_describe_new(1U << 9, 0, &s));
        ASSERT_TRUE(!s);
        ASSERT_OK(taint_describe_new(0, UINT64_C(1) << 40, &s));
        ASSERT_STREQ(s, "bit 40 (not known to this version of hvtorture)");
        free(s);
}

static void test_json(void)
{
        struct json_object *o = taint_change_to_json(1U << 9, (1U << 9) | (1U << 7)), *n;

        ASSERT_TRUE(o);
        ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "title")), "kernel tainted: D");
        ASSERT_EQ(json_object_get_int64(json_object_object_get(o, "before")), 512);
        ASSERT_EQ(json_object_get_int64(json_object_object_get(o, "after")), 640);
        ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "after_flags")), "DW");
        n = json_object_object_get(o, "new");
        ASSERT_EQ(json_object_array_length(n), 1);
        ASSERT_STREQ(json_object_get_string(json_object_object_get(json_object_array_get_idx(n, 0), "flag")), "D");
        ASSERT_EQ(json_object_get_int(json_object_object_get(json_object_array_get_idx(n, 0), "bit")), 7);
        ASSERT_EQ(json_object_array_length(json_object_object_get(o, "cleared")), 0);
        json_object_put(o);
}

int main(void)
{
        test_letters();
        test_parse();
        test_read();
        test_describe();
        test_json();
        return 0;
}
