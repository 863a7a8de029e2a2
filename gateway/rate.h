/* A token bucket per client address (rate.c): the public pages' rate limit. One table per
 * event loop, touched only by its loop's thread, so no lock; pure (the caller gives the
 * time). */
#ifndef GW_GATEWAY_RATE_H
#define GW_GATEWAY_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "gw_limits.h"

/* The bucket's shape: burst tokens at most, refilled at per_min tokens a minute. */
struct gw_rate_cfg {
    int burst;
    int per_min;
};

struct gw_rate_slot {
    uint32_t addr;        /* IPv4, host order; 0: free */
    int32_t tokens_milli; /* thousandths of a token */
    int64_t last_ms;      /* when tokens_milli was last brought up to date */
};

/* The addresses seen lately: open addressing, GW_RATE_PROBES slots per address; when all
 * are taken by others, the least recently seen of them is forgotten. A forgotten address
 * starts again with a full bucket (nothing else is lost: a full bucket is all it had). */
#define GW_RATE_PROBES 8

struct gw_rate_table {
    struct gw_rate_slot slot[GW_PAGE_RATE_ADDRS_MAX];
};

/* One request: from whom, and when (a monotonic clock's milliseconds). */
struct gw_rate_hit {
    uint32_t addr;
    int64_t now_ms;
};

/* Takes one token of the hit's address's bucket. False when it has none: then
 * *retry_after_s is how long until it has one (at least 1). */
bool gw_rate_take(struct gw_rate_table *t, const struct gw_rate_cfg *cfg,
                  const struct gw_rate_hit *hit, int *retry_after_s);

#endif
