/* One request and what a handler may use of the server around it: the context (its arena,
 * its loop, the parsed path), the replies that end it, the database calls on its loop, and
 * the loop and server state the handlers and background jobs read. Below every handler and
 * job and the server; of the gateway it includes only config.h and routing.h (each loop
 * holds its breakers). A handler starts database work and finishes with one gw_reply*. */
#ifndef GW_GATEWAY_REQUEST_H
#define GW_GATEWAY_REQUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config.h"
#include "gw_arena.h"
#include "gw_err.h"
#include "gw_limits.h"
#include "rate.h"
#include "routing.h"

struct event;
struct event_base;
struct evhttp;
struct evhttp_request;
struct evhttp_connection;
struct evconnlistener;
struct gw_app;
struct gw_db_pool;
struct gw_outbox;
struct gw_receipt_worker;
struct gw_httpc;
struct gw_recovery;
struct gw_refunds;
struct gw_listener_tls;

enum gw_route {
    GW_ROUTE_OTHER,
    GW_ROUTE_HEALTH,
    GW_ROUTE_API,
    GW_ROUTE_PAGE,
    GW_ROUTE_IPN,
    GW_ROUTE_COUNT,
};

#define GW_LATENCY_BUCKETS 16 /* upper bounds 0.25 ms doubling up to ~8 s, then +Inf */

/* Per-loop counters, written by their loop only, read by /metrics with relaxed loads. */
struct gw_loop_metrics {
    _Atomic uint64_t requests[GW_ROUTE_COUNT][6]; /* by status class: 1xx..5xx, other */
    _Atomic uint64_t latency[GW_ROUTE_COUNT][GW_LATENCY_BUCKETS + 1];
    _Atomic uint64_t latency_sum_us[GW_ROUTE_COUNT];
    _Atomic uint64_t callbacks[8]; /* by enum gw_callback_verdict */
    _Atomic uint64_t webhooks_ok;
    _Atomic uint64_t webhooks_failed;
    _Atomic uint64_t expired;
    _Atomic uint64_t db_unavailable;
};

/* An immutable snapshot of the portal clients, swapped whole on reload. */
struct gw_client {
    char id[GW_CLIENT_ID_BYTES_MAX + 1];
    char secret[GW_CLIENT_SECRET_BYTES_MAX + 1];
};

struct gw_clients {
    size_t n;
    struct gw_client items[];
};

struct gw_server;

struct gw_loop {
    int index;
    struct gw_server *srv;
    struct event_base *base;
    struct evhttp *http; /* on [server] listen */
    struct evconnlistener *listener;
    struct evhttp *http_tls; /* on [server] tls_listen, or NULL */
    struct evconnlistener *listener_tls;
    struct evhttp *http_console; /* on [console] listen, or NULL */
    struct evconnlistener *listener_console;
    struct gw_db_pool *db;
    pthread_t thread;
    struct event *drain_ev;
    struct event *drain_timer;
    struct event *clients_timer;
    struct event *expiry_timer;
    struct gw_outbox *outbox;     /* loop 0 only */
    struct gw_httpc *httpc;       /* outgoing HTTP of this loop */
    struct gw_recovery *recovery; /* loop 0 only */
    size_t inflight;              /* requests accepted and not yet answered */
    struct gw_loop_metrics m;
    struct gw_chan_health health[GW_HEALTH_SLOTS]; /* routing.c: this loop's breakers */
    struct gw_refunds *refunds;                    /* refund.c: loop 0 only, refund recovery */
    struct gw_rate_table page_rate; /* rate.c: the public pages' buckets of this loop */
};

struct gw_server {
    struct gw_config cfg;
    const struct gw_app *app; /* routes and jobs (server.h) */
    int n_loops;
    struct gw_loop loops[GW_HTTP_LOOPS_MAX];
    _Atomic(struct gw_clients *) clients;
    struct gw_clients *clients_old; /* previous snapshot, freed at the next swap */
    pthread_mutex_t clients_lock;   /* serialises swaps (never taken on the request path) */
    atomic_bool draining;
    int64_t started_ms;
    struct gw_receipt_worker *receipts; /* receipt_worker.c: issuer and renderer threads */
    /* routing.c: channels and keys as last (re)loaded; the two before, freed later. */
    _Atomic(struct gw_config *) live;
    struct gw_config *live_old[2];
    struct gw_listener_tls *tls; /* tls.c: the listener's TLS, NULL when it speaks plain HTTP */
};

/* One request. Lives in its own arena; freed by gw_reply*. */
struct gw_ctx {
    struct gw_arena arena;
    struct gw_loop *loop;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    bool cancelled; /* the client went away: never touch req again */
    bool tls;       /* it came over TLS (the answer then carries HSTS) */
    enum gw_route route;
    int64_t start_us;
    int method;      /* enum evhttp_cmd_type */
    const char *uri; /* raw path and query as sent */
    char *path;      /* path only, not decoded */
    char *query;     /* raw query string or NULL */
    char *body;      /* NUL-terminated copy of the body */
    size_t body_len;
    const char *client_id; /* the authenticated portal client */
    /* The authenticated request's X-Feegate-Signature, and until when (Unix seconds, decimal)
     * a copy of it must be refused: what request_once remembers (auth.c). */
    const char *signature;
    const char *sig_expires_unix;
    const char *idem_key;
    bool proto_in;      /* body is application/x-protobuf */
    bool proto_out;     /* answer in protobuf */
    const char *seg[8]; /* path segments */
    int n_seg;
    const char *params[GW_DB_PARAMS_MAX];
    void *state; /* handler's own */
};

/* Replies. Each ends the request: metrics, closing hooks, arena freed. */
void gw_reply(struct gw_ctx *ctx, int status, const char *content_type, const char *body,
              size_t len);
/* gw_reply for finance answers, up to GW_HTTP_REPORT_BYTES_MAX rather than
 * GW_HTTP_RESPONSE_BYTES_MAX. Either answers 500 (and logs) when the body is over its limit. */
void gw_reply_report(struct gw_ctx *ctx, int status, const char *content_type, const char *body,
                     size_t len);
void gw_reply_json(struct gw_ctx *ctx, int status, const char *json);
void gw_reply_error(struct gw_ctx *ctx, int status, const char *code, const char *fmt, ...)
    GW_PRINTF(4, 5);
/* The error answer for a failed database call: FGnnn SQLSTATEs map to status nnn with
 * the function's code and message; connection loss or a full pool is 503. */
void gw_reply_db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res);
void gw_reply_redirect(struct gw_ctx *ctx, int status, const char *location);

/* A header of the request, or NULL. */
const char *gw_ctx_header(const struct gw_ctx *ctx, const char *name);
/* Runs a query on the request's loop, in a transaction of its own. */
void gw_ctx_query(struct gw_ctx *ctx, const char *sql, int n,
                  void (*done)(void *, enum gw_err, const PGresult *));
/* The same for one call of the payment path that may share its transaction with others
 * (db.h says what such a call must be). */
void gw_ctx_query_batchable(struct gw_ctx *ctx, const char *sql, int n,
                            void (*done)(void *, enum gw_err, const PGresult *));

/* Latency bucket index for a duration. */
int gw_latency_bucket(int64_t us);

#endif
