/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Log-linear histogram: bucket = (exponent, top 3 mantissa bits). */
#include "histogram.h"

static unsigned bucket_of(uint64_t v)
{
        unsigned e;

        if (v < HISTOGRAM_SUB)
                return (unsigned)v;
        e = 63u - (unsigned)__builtin_clzll(v); /* >= 3 */
        return (e - 2) * HISTOGRAM_SUB + (unsigned)((v >> (e - 3)) & (HISTOGRAM_SUB - 1));
}

/* Largest value that falls in bucket b. */
static uint64_t bucket_top(unsigned b)
{
        unsigned e, m;

        if (b < HISTOGRAM_SUB)
                return b;
        e = b / HISTOGRAM_SUB + 2;
        m = b % HISTOGRAM_SUB;
        if (e >= 64)
                return UINT64_MAX;
        return ((uint64_t)(HISTOGRAM_SUB + m + 1) << (e - 3)) - 1;
}

void histogram_add(Histogram *h, uint64_t v)
{
        if (h->count == 0 || v < h->min)
                h->min = v;
        if (v > h->max)
                h->max = v;
        h->count++;
        h->sum += v;
        h->buckets[bucket_of(v)]++;
}

uint64_t histogram_quantile(const Histogram *h, double q)
{
        uint64_t rank, seen = 0;

        if (h->count == 0)
                return 0;
        rank = (uint64_t)(q * (double)(h->count - 1)) + 1;
        for (unsigned b = 0; b < HISTOGRAM_BUCKETS; b++) {
                seen += h->buckets[b];
                if (seen >= rank) {
                        uint64_t top = bucket_top(b);
                        return top > h->max ? h->max : top < h->min ? h->min : top;
                }
        }
        return h->max;
}
