/* The load generator's latency histogram: fixed log-linear buckets, no allocation per sample
 * (HdrHistogram's layout with 64 sub-buckets per power of two). */
#include "lg_hist.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_arena.h"
#include "gw_assert.h"

/* Last, after every header: makes unsafe functions compile errors in the code below. */
#include "banned.h"

static size_t lg_hist_index(uint64_t v)
{
    if (v < 2u * LG_HIST_SUB) {
        return (size_t)v;
    }
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - LG_HIST_SUB_BITS;
    uint64_t top = v >> shift; /* in [SUB, 2*SUB) */
    return (size_t)LG_HIST_SUB * (shift + 1u) + (size_t)(top - LG_HIST_SUB);
}

/* The highest value that falls into bucket i. */
static uint64_t lg_hist_bucket_high(size_t i)
{
    if (i < 2u * LG_HIST_SUB) {
        return (uint64_t)i;
    }
    size_t shift = i / LG_HIST_SUB - 1u;
    uint64_t top = (uint64_t)(i % LG_HIST_SUB) + LG_HIST_SUB;
    return ((top + 1u) << shift) - 1u;
}

void lg_hist_record(struct lg_hist *h, int64_t value_us)
{
    uint64_t v = value_us < 0 ? 0 : (uint64_t)value_us;
    if (v > LG_HIST_VALUE_MAX_US) {
        v = LG_HIST_VALUE_MAX_US;
    }
    size_t i = lg_hist_index(v);
    GW_ASSERT(i < LG_HIST_BUCKETS);
    h->buckets[i]++;
    h->count++;
    h->sum_us += v;
    if (v > h->max_us) {
        h->max_us = v;
    }
}

/* The value at percentile p (0 < p <= 100): the bucket's upper bound, never above the max. */
uint64_t lg_hist_percentile(const struct lg_hist *h, double p)
{
    if (h->count == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t high = lg_hist_bucket_high(i);
            return high < h->max_us ? high : h->max_us;
        }
    }
    return h->max_us;
}

int lg_hist_self_test(int *failed)
{
    int passed = 0;
    bool exact = true;
    bool within = true;
    bool monotonic = true;
    for (uint64_t v = 0; v < LG_HIST_VALUE_MAX_US; v = v < 1000 ? v + 1 : v + v / 7 + 1) {
        size_t i = lg_hist_index(v);
        uint64_t high = lg_hist_bucket_high(i);
        exact = exact && (v >= 2u * LG_HIST_SUB || high == v);
        within = within && high >= v && (double)(high - v) <= (double)v / LG_HIST_SUB + 1.0;
        monotonic = monotonic && (v == 0 || lg_hist_index(v - 1) <= i) && i < LG_HIST_BUCKETS;
    }
    passed += lg_check(exact, "small values are exact", failed);
    passed += lg_check(within, "bucket error below 1/64", failed);
    passed += lg_check(monotonic, "bucket index is monotonic and bounded", failed);
    struct lg_hist *h = gw_xcalloc(1, sizeof(*h));
    for (int64_t v = 1; v <= 100000; v++) {
        lg_hist_record(h, v);
    }
    uint64_t p50 = lg_hist_percentile(h, 50.0);
    uint64_t p99 = lg_hist_percentile(h, 99.0);
    passed += lg_check(p50 >= 50000 && p50 <= 50000 + 50000 / 64 + 1, "p50 of 1..1e5", failed);
    passed += lg_check(p99 >= 99000 && p99 <= 99000 + 99000 / 64 + 1, "p99 of 1..1e5", failed);
    passed += lg_check(lg_hist_percentile(h, 100.0) == 100000, "p100 is the max", failed);
    lg_hist_record(h, INT64_MAX);
    passed += lg_check(h->max_us == LG_HIST_VALUE_MAX_US, "huge values are clamped", failed);
    gw_xfree(h);
    return passed;
}

int lg_check(bool ok, const char *what, int *failed)
{
    if (!ok) {
        fprintf(stderr, "self-test: FAILED: %s\n", what);
        (*failed)++;
    }
    return ok ? 1 : 0;
}
