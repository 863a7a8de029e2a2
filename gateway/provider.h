/* One way to call a provider: the adapter builds the request, this loop's HTTP client sends
 * it with the provider timeout, the channel's health records how it went, and the adapter
 * verifies and parses the answer. Server-side create (checkout), status query (recovery and
 * the finance API) and refund and refund status query all go through gw_provider_call; what
 * differs between providers is data in their ops table (adapters/adapter.h). */
#ifndef GW_GATEWAY_PROVIDER_H
#define GW_GATEWAY_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter.h"
#include "gw_arena.h"
#include "gw_err.h"

struct gw_loop;
struct gw_channel_config;

enum gw_provider_call_kind {
    GW_CALL_CREATE,       /* charge: create_build, create_parse (GW_ADAPTER_CAP_CREATE) */
    GW_CALL_QUERY,        /* charge: query_build, query_parse (GW_ADAPTER_CAP_QUERY) */
    GW_CALL_REFUND,       /* refund: refund_build, refund_parse (GW_ADAPTER_CAP_REFUND) */
    GW_CALL_REFUND_QUERY, /* refund: refund_query_build, refund_query_parse */
};

/* What came back, valid only during the done callback (why may point into its frame). */
struct gw_provider_answer {
    /* false: no answer (connection failed, timed out, the owner stopped waiting, or a create
     * answered 5xx): the outcome is unknown, nothing was parsed. */
    bool answered;
    int http_status;
    enum gw_err err; /* GW_OK: verified and parsed; else why says what failed */
    const char *why; /* "" when err is GW_OK */
    const char *raw; /* the answer's body, copied into the call's arena; NULL when none */
    struct gw_adapter_result pay;      /* GW_CALL_QUERY */
    struct gw_adapter_created created; /* GW_CALL_CREATE */
    struct gw_refund_result refund;    /* GW_CALL_REFUND, GW_CALL_REFUND_QUERY */
};

typedef void gw_provider_done_fn(void *arg, const struct gw_provider_answer *a);

/* One call; the caller fills the first fields and keeps the struct alive (in its arena)
 * until done has run. */
struct gw_provider_call {
    enum gw_provider_call_kind kind;
    struct gw_loop *loop;               /* whose client sends and whose breaker counts */
    const struct gw_channel_config *ch; /* pinned (gw_channel_pin): outlives a reload */
    struct gw_arena *arena;             /* the request and the answer's copies */
    const struct gw_charge *charge;     /* create and query; read only while building */
    const struct gw_refund *refund;     /* refund and refund query; read only while building */
    /* Optional: when it reads true as the answer arrives (an owner shutting down), the answer
     * is neither read nor counted in the channel's health. */
    const bool *abandoned;
    gw_provider_done_fn *done;
    void *arg;
    int64_t sent_ms; /* private */
};

/* Builds the request and sends it. GW_OK: done runs exactly once, later, on the loop.
 * Otherwise nothing was sent and done never runs: GW_ERR_INVALID when the adapter could not
 * build the request, GW_ERR_IO when it could not be sent; eb says why. */
enum gw_err gw_provider_call(struct gw_provider_call *c, struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
