/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xoshiro256** (Blackman and Vigna, public domain reference algorithm),
 * seeded with splitmix64 so that any 64-bit seed gives a well-mixed state.
 */
#include <sys/random.h>

#include "prng.h"
#include "util.h"

static uint64_t splitmix64(uint64_t *x)
{
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
        return (x << k) | (x >> (64 - k));
}

void prng_seed(Prng *p, uint64_t seed)
{
        uint64_t x = seed;
        for (unsigned i = 0; i < 4; i++)
                p->s[i] = splitmix64(&x);
}

/* FNV-1a: stable across builds and hosts, which is all the split needs. */
static uint64_t hash_name(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; s && *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

void prng_split(Prng *p, uint64_t run_seed, const char *stream, uint64_t index)
{
        uint64_t x = run_seed;
        uint64_t a = splitmix64(&x) ^ hash_name(stream);
        uint64_t b = splitmix64(&a) ^ (index * 0xd1342543de82ef95ULL);
        prng_seed(p, splitmix64(&b));
}

uint64_t prng_next(Prng *p)
{
        uint64_t *s = p->s;
        uint64_t result = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

uint64_t prng_range(Prng *p, uint64_t lo, uint64_t hi)
{
        uint64_t span, limit, r;

        if (hi <= lo)
                return lo;
        span = hi - lo + 1;
        if (span == 0) /* the whole 64-bit range */
                return prng_next(p);
        /* Reject the top sliver that would bias the modulo. */
        limit = UINT64_MAX - (UINT64_MAX % span);
        do
                r = prng_next(p);
        while (r >= limit);
        return lo + r % span;
}

unsigned prng_weighted(Prng *p, const uint32_t *weights, unsigned n)
{
        uint64_t total = 0, r;

        for (unsigned i = 0; i < n; i++)
                total += weights[i];
        if (total == 0)
                return 0;
        r = prng_range(p, 0, total - 1);
        for (unsigned i = 0; i < n; i++) {
                if (r < weights[i])
                        return i;
                r -= weights[i];
        }
        return n - 1;
}

uint64_t prng_random_seed(void)
{
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
                seed = now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
        /* Keep seeds printable as positive decimal in every JSON reader. */
        return seed & ((1ULL << 53) - 1);
}
