/* The request context's replies and database calls: each reply ends the request (status
 * class and latency counted on its loop, the arena freed). */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "db.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_time.h"

#include "banned.h"

int gw_latency_bucket(int64_t us)
{
    int64_t bound = 250;
    for (int i = 0; i < GW_LATENCY_BUCKETS; i++, bound *= 2) {
        if (us <= bound) {
            return i;
        }
    }
    return GW_LATENCY_BUCKETS;
}

static void ctx_finish(struct gw_ctx *ctx, int status)
{
    struct gw_loop *loop = ctx->loop;
    int cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
    int64_t us = gw_monotonic_us() - ctx->start_us;
    atomic_fetch_add_explicit(&loop->m.requests[ctx->route][cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&loop->m.latency[ctx->route][gw_latency_bucket(us)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&loop->m.latency_sum_us[ctx->route], (uint64_t)us,
                              memory_order_relaxed);
    GW_ASSERT(loop->inflight > 0);
    loop->inflight--;
    struct gw_arena a = ctx->arena;
    gw_arena_release(&a);
}

struct reply {
    int status;
    const char *content_type;
    const char *body;
    size_t len;
};

/* The security headers of every answer, pages, API, callbacks and errors alike: the one
 * place they are set (docs/operations.md#security-headers). A page runs no script, loads
 * nothing from elsewhere and is never framed; other answers load nothing at all (a PDF is
 * drawn by the browser's own viewer, which default-src 'none' can stop, so it gets only
 * frame-ancestors). The payment id in a page's address is a capability: no other site gets
 * it as a referrer. Over TLS, browsers are told to use nothing else for a year. */
static void security_headers(const struct gw_ctx *ctx, struct evkeyvalq *h,
                             const char *content_type)
{
    const char *csp = "default-src 'none'; frame-ancestors 'none'";
    if (strncmp(content_type, "text/html", 9) == 0) {
        csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
              "frame-ancestors 'none'";
    } else if (strcmp(content_type, "application/pdf") == 0) {
        csp = "frame-ancestors 'none'";
    }
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "same-origin");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (ctx->tls) {
        evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
    }
}

static void reply_send(struct gw_ctx *ctx, const struct reply *r)
{
    if (!ctx->cancelled) {
        evhttp_connection_set_closecb(ctx->evcon, NULL, NULL);
        struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);
        evhttp_add_header(h, "Content-Type", r->content_type);
        evhttp_add_header(h, "Cache-Control", "no-store");
        security_headers(ctx, h, r->content_type);
        struct evbuffer *out = evbuffer_new();
        GW_ASSERT(out != NULL);
        GW_ASSERT(evbuffer_add(out, r->body, r->len) == 0);
        evhttp_send_reply(ctx->req, r->status, NULL, out);
        evbuffer_free(out);
    }
    ctx_finish(ctx, r->status);
}

/* A body over max is a bug or a table grown past its LIMIT, never the client's doing: the
 * client gets the API's 500 and the log says how large it was. */
static void reply_bounded(struct gw_ctx *ctx, const struct reply *r, size_t max)
{
    if (r->len > max) {
        gw_log_error("response_too_large",
                     "\"status\":%d,\"bytes\":%zu,\"max\":%zu,\"path\":\"%s\"", r->status, r->len,
                     max, ctx->route == GW_ROUTE_IPN ? "(ipn)" : ctx->path);
        gw_reply_error(ctx, 500, "internal_error", "the answer is too large");
        return;
    }
    reply_send(ctx, r);
}

void gw_reply(struct gw_ctx *ctx, int status, const char *content_type, const char *body,
              size_t len)
{
    reply_bounded(ctx, &(struct reply){ status, content_type, body, len },
                  GW_HTTP_RESPONSE_BYTES_MAX);
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the parameters of gw_reply */
void gw_reply_report(struct gw_ctx *ctx, int status, const char *content_type, const char *body,
                     size_t len)
{
    reply_bounded(ctx, &(struct reply){ status, content_type, body, len },
                  GW_HTTP_REPORT_BYTES_MAX);
}

void gw_reply_json(struct gw_ctx *ctx, int status, const char *json)
{
    gw_reply(ctx, status, "application/json", json, strlen(json));
}

void gw_reply_redirect(struct gw_ctx *ctx, int status, const char *location)
{
    if (!ctx->cancelled) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Location", location);
    }
    gw_reply(ctx, status, "text/plain; charset=utf-8", "", 0);
}

void gw_reply_error(struct gw_ctx *ctx, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    enum gw_err err = gw_buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
    if (err == GW_OK) {
        err = gw_buf_add_json_escaped(&b, msg);
    }
    if (err == GW_OK) {
        err = gw_buf_adds(&b, "\"}}");
    }
    GW_ASSERT(err == GW_OK);
    if (status >= 500) {
        gw_log_warn("request_failed", "\"status\":%d,\"code\":\"%s\",\"uri\":\"%s\"", status, code,
                    ctx->route == GW_ROUTE_IPN ? "(ipn)" : ctx->path);
    }
    reply_send(ctx, &(struct reply){ status, "application/json", gw_buf_str(&b), b.len });
    gw_buf_release(&b);
}

void gw_reply_db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res)
{
    if (res == NULL || err == GW_ERR_UNAVAILABLE) {
        atomic_fetch_add_explicit(&ctx->loop->m.db_unavailable, 1, memory_order_relaxed);
        gw_reply_error(ctx, 503, "unavailable", "the database is not reachable; retry later");
        return;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    if (state != NULL && state[0] == 'F' && state[1] == 'G' && primary != NULL) {
        int status = (state[2] - '0') * 100 + (state[3] - '0') * 10 + (state[4] - '0');
        if (status >= 400 && status < 600) {
            gw_reply_error(ctx, status, primary, "%s", detail != NULL ? detail : primary);
            return;
        }
    }
    /* Serialization failures, deadlocks, timeouts, shutdown: the client may retry. */
    bool retry = state != NULL && (strncmp(state, "40", 2) == 0 || strncmp(state, "57", 2) == 0 ||
                                   strncmp(state, "08", 2) == 0);
    gw_log_error("db_error", "\"sqlstate\":\"%s\",\"path\":\"%s\"", state ? state : "", ctx->path);
    if (retry) {
        gw_reply_error(ctx, 503, "unavailable", "the database is busy; retry later");
    } else {
        gw_reply_error(ctx, 500, "internal_error", "internal error");
    }
}

const char *gw_ctx_header(const struct gw_ctx *ctx, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(ctx->req), name);
}

void gw_ctx_query(struct gw_ctx *ctx, const char *sql, int n,
                  void (*done)(void *, enum gw_err, const PGresult *))
{
    gw_db_query(ctx->loop->db, sql, n, ctx->params, done, ctx);
}

void gw_ctx_query_batchable(struct gw_ctx *ctx, const char *sql, int n,
                            void (*done)(void *, enum gw_err, const PGresult *))
{
    gw_db_query_batchable(
        ctx->loop->db,
        &(struct gw_db_req){ .sql = sql, .n = n, .params = ctx->params, .done = done, .arg = ctx });
}
