/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A log-linear histogram of nanosecond values (8 sub-buckets per power of
 * two, so percentiles are within 12.5%): constant memory however long the
 * soak, mergeable, enough for p50/p99 of step times and race spreads.
 */
#pragma once

#include <stdint.h>

#define HISTOGRAM_SUB 8
#define HISTOGRAM_BUCKETS (64 * HISTOGRAM_SUB)

typedef struct Histogram {
        uint64_t count;
        uint64_t sum;
        uint64_t min, max;
        uint64_t buckets[HISTOGRAM_BUCKETS];
} Histogram;

void histogram_add(Histogram *h, uint64_t v);
/* The value at quantile q (0..1): the upper edge of its bucket, capped at max. 0 if empty. */
uint64_t histogram_quantile(const Histogram *h, double q);
