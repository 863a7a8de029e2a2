/* Portal request authentication (auth.c) and the portal client list it checks against. */
#ifndef GW_GATEWAY_AUTH_H
#define GW_GATEWAY_AUTH_H

#include <stdbool.h>

#include "gw_err.h"

struct gw_ctx;
struct gw_loop;
struct gw_server;

/* Checks the three X-Feegate-* headers over the exact request; on failure it has replied
 * 401 and returns false. */
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
/* On success also keeps the signature in ctx (ctx->signature, ctx->sig_expires_unix) for
 * request_once (docs/api.md, "Replayed requests"). */
bool gw_auth_signature(struct gw_ctx *ctx, const struct gw_auth_req *ar, const char *secret);
/* Loads the client list (blocking, start-up) and schedules its refresh on loop 0. */
enum gw_err gw_auth_load_blocking(struct gw_server *srv, struct gw_errbuf *eb) GW_MUST_CHECK;
void gw_auth_refresh(struct gw_loop *loop);
/* Creates loop 0's periodic client-list refresh (called by gw_jobs_start). */
void gw_jobs_start_clients(struct gw_loop *loop);

#endif
