/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PRNG: reproducible from a seed, independent per stream, unbiased ranges. */
#include "prng.h"
#include "test-util.h"
#include "util.h"

static void test_reproducible(void)
{
        Prng a, b;

        prng_split(&a, 42, "vms", 3);
        prng_split(&b, 42, "vms", 3);
        for (int i = 0; i < 1000; i++)
                ASSERT_EQ(prng_next(&a), prng_next(&b));
}

static void test_streams_differ(void)
{
        Prng a, b, c;
        int same_ab = 0, same_ac = 0;

        prng_split(&a, 42, "vms", 0);
        prng_split(&b, 42, "vms", 1);
        prng_split(&c, 42, "kvm-cycle", 0);
        for (int i = 0; i < 100; i++) {
                uint64_t x = prng_next(&a);
                same_ab += x == prng_next(&b);
                same_ac += x == prng_next(&c);
        }
        ASSERT_EQ(same_ab, 0);
        ASSERT_EQ(same_ac, 0);
}

static void test_known_values(void)
{
        /* Pinned: a change here breaks replay of recorded runs, so it must be deliberate. */
        Prng p;
        prng_seed(&p, 0);
        ASSERT_EQ(prng_next(&p), 0x99ec5f36cb75f2b4ULL);
}

static void test_range(void)
{
        Prng p;
        unsigned hist[6] = {};

        prng_seed(&p, 7);
        for (int i = 0; i < 60000; i++) {
                uint64_t v = prng_range(&p, 10, 15);
                ASSERT_TRUE(v >= 10 && v <= 15);
                hist[v - 10]++;
        }
        for (int i = 0; i < 6; i++)
                ASSERT_TRUE(hist[i] > 9000 && hist[i] < 11000);
        ASSERT_EQ(prng_range(&p, 5, 5), 5);
        ASSERT_EQ(prng_range(&p, 9, 3), 9);
        (void)prng_range(&p, 0, UINT64_MAX);
}

static void test_weighted(void)
{
        Prng p;
        uint32_t w[3] = { 1, 0, 3 };
        unsigned hist[3] = {};

        prng_seed(&p, 1);
        for (int i = 0; i < 40000; i++)
                hist[prng_weighted(&p, w, 3)]++;
        ASSERT_EQ(hist[1], 0);
        ASSERT_TRUE(hist[2] > 2 * hist[0] && hist[2] < 4 * hist[0]);
}

int main(void)
{
        test_reproducible();
        test_streams_differ();
        test_known_values();
        test_range();
        test_weighted();
        return 0;
}
