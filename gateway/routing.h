/* Routing: the live channel configuration (swapped whole on SIGHUP), maintenance windows and
 * each channel's health, a circuit breaker per event loop over the errors and latency of the
 * provider calls that loop makes (create, query, refund). Nothing here takes a lock on the
 * request path: a loop reads and writes only its own breakers, and the configuration is an
 * immutable snapshot behind an atomic pointer. docs/adapters.md, "Routing and health". */
#ifndef GW_GATEWAY_ROUTING_H
#define GW_GATEWAY_ROUTING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "gw_arena.h"
#include "httpc.h"

struct gw_loop;
struct gw_server;

#define GW_HEALTH_SLOTS           8  /* one per registered adapter */
#define GW_HEALTH_SAMPLES         32 /* latencies kept for the p90 */
#define GW_HEALTH_P90_MIN_SAMPLES 10

enum gw_breaker_state {
    GW_BREAKER_CLOSED = 0, /* calls go through */
    GW_BREAKER_OPEN,       /* refused until the cool-down has passed */
    GW_BREAKER_HALF_OPEN,  /* one probe call in flight decides */
};

/* One channel's health on one loop. Written by its loop only; /metrics reads the atomics. */
struct gw_chan_health {
    _Atomic int state; /* enum gw_breaker_state */
    int consecutive_failures;
    int64_t opened_ms;
    uint32_t lat_ms[GW_HEALTH_SAMPLES];
    int lat_n;
    int lat_pos;
    _Atomic uint32_t p90_ms;
    _Atomic uint64_t calls_ok;
    _Atomic uint64_t calls_failed;
    _Atomic uint64_t latency_sum_ms;
    _Atomic uint64_t opened_total;
};

/* The live configuration: valid within one synchronous call on a loop (never keep it across
 * a database or HTTP callback: use gw_channel_pin). */
const struct gw_config *gw_live_config(const struct gw_server *srv);
/* The live channel of that name, or NULL; same lifetime as gw_live_config. */
const struct gw_channel_config *gw_live_channel(const struct gw_server *srv, const char *name);
/* A copy of the live channel in arena, for work that outlives one call; NULL if none. */
const struct gw_channel_config *gw_channel_pin(const struct gw_server *srv, struct gw_arena *a,
                                               const char *name);

/* Start-up: the first snapshot (a copy of cfg). */
void gw_routing_init(struct gw_server *srv, const struct gw_config *cfg);
void gw_routing_free(struct gw_server *srv);
/* SIGHUP: re-reads the configuration file, swaps the channels and keys for all loops at once
 * (listen, database and loops need a restart and are kept), logs what changed. A file that
 * does not parse changes nothing. Called from the signal thread. */
void gw_routing_reload(struct gw_server *srv);

/* Whether the channel takes new payments on this loop now: not in a maintenance window and
 * its breaker is not open (a breaker past its cool-down lets one probe through). */
bool gw_channel_up(struct gw_loop *loop, const struct gw_channel_config *ch, time_t now);
/* The outcome of one provider call of this loop: ok false for no answer, a timeout, a 5xx
 * or an answer that could not be read. */
void gw_health_record(struct gw_loop *loop, const struct gw_channel_config *ch, bool ok,
                      int64_t elapsed_ms);
/* The health slot of an adapter (its registry index), or -1. */
int gw_health_slot(const struct gw_adapter_ops *ops);

#endif
