/* Latency histogram of feegate-loadgen: values below 2*SUB microseconds are exact; above,
 * each power of two is cut into SUB linear buckets, so any reported value is within 1/SUB
 * (1.6 %) above the true one. Fixed size: recording never allocates. */
#ifndef GW_BENCH_LG_HIST_H
#define GW_BENCH_LG_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_HIST_SUB_BITS     6
#define LG_HIST_SUB          ((size_t)1 << LG_HIST_SUB_BITS)
#define LG_HIST_VALUE_MAX_US ((UINT64_C(1) << 32) - 1) /* 71 minutes: longer is clamped */
#define LG_HIST_BUCKETS      (LG_HIST_SUB * (size_t)(33 - LG_HIST_SUB_BITS))

struct lg_hist {
    uint64_t count;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t buckets[LG_HIST_BUCKETS];
};

/* Adds one sample; negative values count as 0, values above LG_HIST_VALUE_MAX_US as it. */
void lg_hist_record(struct lg_hist *h, int64_t value_us);
/* The value at percentile p (0 < p <= 100): the bucket's upper bound, never above the max;
 * 0 when empty. */
uint64_t lg_hist_percentile(const struct lg_hist *h, double p);

/* Self-test of the bucket layout and percentiles: returns the checks passed, adds failures
 * to *failed (reported through lg_check). */
int lg_hist_self_test(int *failed);
/* Reports one self-test check: 1 when ok, else prints what failed and counts it. */
int lg_check(bool ok, const char *what, int *failed);

#endif
