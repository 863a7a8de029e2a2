/* The daemon's core: one event loop per core, each a thread with its own event_base, its own
 * SO_REUSEPORT listener, its own evhttp and its own database pool. A request is a struct
 * gw_ctx (request.h). */
#ifndef GW_GATEWAY_SERVER_H
#define GW_GATEWAY_SERVER_H

#include "request.h"

/* Starts the loops and blocks until SIGTERM/SIGINT has drained them. */
enum gw_err gw_server_run(const struct gw_config *cfg, struct gw_errbuf *eb) GW_MUST_CHECK;

/* The running server, for /metrics (NULL when none). */
const struct gw_server *gw_server_current(void);

/* Handlers (api.c, pages.c, ipn.c, ops.c). */
void gw_handle_api(struct gw_ctx *ctx);
void gw_handle_page(struct gw_ctx *ctx);
void gw_handle_ipn(struct gw_ctx *ctx);
void gw_handle_ops(struct gw_ctx *ctx);

/* Portal authentication (auth.c): checks the three X-Feegate-* headers over the exact
 * request; on failure it has replied 401 and returns false. */
bool gw_auth_check(struct gw_ctx *ctx);

/* The same scheme in two steps, for identities looked up asynchronously (finance staff):
 * gw_auth_headers checks the three headers are present and the timestamp is fresh;
 * gw_auth_signature checks the signature with secret (NULL: unknown id, always refused
 * after the same work). Each replies 401 and returns false on failure. ar points into the
 * request. */
struct gw_auth_req {
    const char *id;
    const char *ts;
    const char *sig;
};

bool gw_auth_headers(struct gw_ctx *ctx, struct gw_auth_req *ar);
bool gw_auth_signature(struct gw_ctx *ctx, const struct gw_auth_req *ar, const char *secret);
/* /v1/finance/... for finance staff (finance.c); called by gw_handle_api. */
void gw_handle_finance(struct gw_ctx *ctx);
/* Loads the client list (blocking, start-up) and schedules its refresh on loop 0. */
enum gw_err gw_auth_load_blocking(struct gw_server *srv, struct gw_errbuf *eb) GW_MUST_CHECK;
void gw_auth_refresh(struct gw_loop *loop);
/* Creates loop 0's periodic client-list refresh (called by gw_jobs_start). */
void gw_jobs_start_clients(struct gw_loop *loop);

/* Background jobs on loop 0 (jobs.c, outbox.c). */
void gw_jobs_start(struct gw_loop *loop);
void gw_jobs_stop(struct gw_loop *loop);
void gw_outbox_start(struct gw_loop *loop);
void gw_outbox_stop(struct gw_loop *loop);
void gw_outbox_free(struct gw_loop *loop);
void gw_recovery_start(struct gw_loop *loop);
void gw_recovery_stop(struct gw_loop *loop);
void gw_recovery_free(struct gw_loop *loop);
size_t gw_outbox_inflight(const struct gw_loop *loop);

#endif
