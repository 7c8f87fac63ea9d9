/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reproducible randomness. One run seed; each actor instance gets its own
 * stream derived from (seed, actor name, instance), so adding an actor does
 * not change the draws of the others and a run replays from profile + seed.
 * xoshiro256** seeded through splitmix64: fast, small state, good quality.
 */
#pragma once

#include <stdint.h>

typedef struct Prng {
        uint64_t s[4];
} Prng;

void prng_seed(Prng *p, uint64_t seed);
/* Seeds p from the run seed and a stream name (actor) and index (instance). */
void prng_split(Prng *p, uint64_t run_seed, const char *stream, uint64_t index);
uint64_t prng_next(Prng *p);
/* Uniform in [lo, hi] inclusive, without modulo bias. */
uint64_t prng_range(Prng *p, uint64_t lo, uint64_t hi);
/* Index in [0, n) drawn with the given weights (0 weights never drawn); n > 0, some weight > 0. */
unsigned prng_weighted(Prng *p, const uint32_t *weights, unsigned n);
/* A fresh seed from the kernel's entropy pool, for runs without Seed=. */
uint64_t prng_random_seed(void);
