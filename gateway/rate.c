/* The public pages' rate limit: a token bucket per client address, in a fixed table per
 * event loop (nothing allocated, no lock: each loop's thread touches only its own table).
 * Tokens are counted in thousandths so that slow refill rates lose nothing to rounding. */
#include "rate.h"

#include <string.h>

#include "gw_assert.h"

#include "banned.h"

_Static_assert((GW_PAGE_RATE_ADDRS_MAX & (GW_PAGE_RATE_ADDRS_MAX - 1)) == 0,
               "the table's size is a power of two");
_Static_assert((int64_t)GW_PAGE_RATE_BURST_MAX * 1000 < INT32_MAX, "a full bucket fits");

/* Fibonacci hashing of the address to its first slot. */
static uint32_t rate_home(uint32_t addr)
{
    return (uint32_t)((addr * 2654435769U) >> 20) & (GW_PAGE_RATE_ADDRS_MAX - 1);
}

/* addr's slot: the one it has, else a free one, else the least recently seen of its probes
 * (emptied). */
static struct gw_rate_slot *rate_slot(struct gw_rate_table *t, const struct gw_rate_cfg *cfg,
                                      uint32_t addr)
{
    uint32_t h = rate_home(addr);
    struct gw_rate_slot *oldest = NULL;
    for (uint32_t i = 0; i < GW_RATE_PROBES; i++) {
        struct gw_rate_slot *s = &t->slot[(h + i) & (GW_PAGE_RATE_ADDRS_MAX - 1)];
        if (s->addr == addr) {
            return s;
        }
        if (s->addr == 0) {
            oldest = s;
            break;
        }
        if (oldest == NULL || s->last_ms < oldest->last_ms) {
            oldest = s;
        }
    }
    GW_ASSERT(oldest != NULL);
    oldest->addr = addr;
    oldest->tokens_milli = (int32_t)cfg->burst * 1000;
    oldest->last_ms = -1; /* brought up to date by the caller */
    return oldest;
}

bool gw_rate_take(struct gw_rate_table *t, const struct gw_rate_cfg *cfg,
                  const struct gw_rate_hit *hit, int *retry_after_s)
{
    uint32_t addr = hit->addr;
    int64_t now_ms = hit->now_ms;
    GW_ASSERT(cfg->burst >= 1 && cfg->burst <= GW_PAGE_RATE_BURST_MAX);
    GW_ASSERT(cfg->per_min >= 1 && cfg->per_min <= GW_PAGE_RATE_PER_MIN_MAX);
    /* 0.0.0.0 marks a free slot; no client connects from it, but count it as 0.0.0.1. */
    uint32_t key = addr != 0 ? addr : 1;
    struct gw_rate_slot *s = rate_slot(t, cfg, key);
    int64_t full = (int64_t)cfg->burst * 1000;
    if (s->last_ms >= 0 && now_ms > s->last_ms) {
        /* per_min tokens a minute: per_min thousandths of a token every 60 ms */
        int64_t gained = (now_ms - s->last_ms) * cfg->per_min / 60;
        int64_t v = (int64_t)s->tokens_milli + gained;
        s->tokens_milli = (int32_t)(v < full ? v : full);
    }
    if (s->last_ms < now_ms) {
        s->last_ms = now_ms;
    }
    if (s->tokens_milli >= 1000) {
        s->tokens_milli -= 1000;
        return true;
    }
    /* the milliseconds until one whole token, rounded up to seconds */
    int64_t wait_ms = ((1000 - (int64_t)s->tokens_milli) * 60 + cfg->per_min - 1) / cfg->per_min;
    int64_t wait_s = (wait_ms + 999) / 1000;
    *retry_after_s = (int)(wait_s < 1 ? 1 : wait_s);
    return false;
}
