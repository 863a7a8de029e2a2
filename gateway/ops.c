/* Operator endpoints: /healthz (the process answers), /readyz (a database round trip within
 * GW_READYZ_DEADLINE_MS), /metrics (Prometheus text, summed over the loops). */
#include "ops.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "check_job.h"
#include "conn_guard.h"
#include "db.h"
#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_time.h"
#include "request.h"

#include "banned.h"

static const char *const route_names[GW_ROUTE_COUNT] = {
    [GW_ROUTE_OTHER] = "other", [GW_ROUTE_HEALTH] = "health", [GW_ROUTE_API] = "api",
    [GW_ROUTE_PAGE] = "page",   [GW_ROUTE_IPN] = "ipn",
};

static const char *const verdict_names[8] = {
    "applied",       "duplicate", "not_found",   "amount_mismatch",
    "bad_signature", "invalid",   "retry_later", "other",
};

static uint64_t sum_loops(const struct gw_server *srv, size_t offset)
{
    uint64_t n = 0;
    for (int i = 0; i < srv->n_loops; i++) {
        const _Atomic uint64_t *p =
            (const _Atomic uint64_t *)(const void *)((const char *)&srv->loops[i].m + offset);
        n += atomic_load_explicit(p, memory_order_relaxed);
    }
    return n;
}

#define M_OFF(field) offsetof(struct gw_loop_metrics, field)

static enum gw_err metrics_requests(struct gw_buf *b, const struct gw_server *srv)
{
    enum gw_err err = gw_buf_adds(b, "# TYPE feegate_http_requests_total counter\n");
    static const char *const cls[6] = { "1xx", "2xx", "3xx", "4xx", "5xx", "other" };
    for (int r = 0; r < GW_ROUTE_COUNT && err == GW_OK; r++) {
        for (int c = 0; c < 6 && err == GW_OK; c++) {
            err = gw_buf_printf(b, "feegate_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                                route_names[r], cls[c],
                                (unsigned long long)sum_loops(srv, M_OFF(requests[r][c])));
        }
    }
    if (err == GW_OK) {
        err = gw_buf_adds(b, "# TYPE feegate_http_request_duration_seconds histogram\n");
    }
    for (int r = 0; r < GW_ROUTE_COUNT && err == GW_OK; r++) {
        uint64_t cum = 0;
        double bound_s = 0.00025;
        for (int k = 0; k <= GW_LATENCY_BUCKETS && err == GW_OK; k++, bound_s *= 2) {
            cum += sum_loops(srv, M_OFF(latency[r][k]));
            if (k < GW_LATENCY_BUCKETS) {
                err = gw_buf_printf(b,
                                    "feegate_http_request_duration_seconds_bucket{route=\"%s\","
                                    "le=\"%g\"} %llu\n",
                                    route_names[r], bound_s, (unsigned long long)cum);
            } else {
                err = gw_buf_printf(b,
                                    "feegate_http_request_duration_seconds_bucket{route=\"%s\","
                                    "le=\"+Inf\"} %llu\n"
                                    "feegate_http_request_duration_seconds_count{route=\"%s\"} "
                                    "%llu\n"
                                    "feegate_http_request_duration_seconds_sum{route=\"%s\"} "
                                    "%.6f\n",
                                    route_names[r], (unsigned long long)cum, route_names[r],
                                    (unsigned long long)cum, route_names[r],
                                    (double)sum_loops(srv, M_OFF(latency_sum_us[r])) / 1e6);
            }
        }
    }
    return err;
}

static enum gw_err metrics_business(struct gw_buf *b, const struct gw_server *srv)
{
    enum gw_err err = gw_buf_adds(b, "# TYPE feegate_callbacks_total counter\n");
    for (int v = 0; v < 8 && err == GW_OK; v++) {
        err = gw_buf_printf(b, "feegate_callbacks_total{verdict=\"%s\"} %llu\n", verdict_names[v],
                            (unsigned long long)sum_loops(srv, M_OFF(callbacks[v])));
    }
    size_t pending = 0;
    int healthy = 0;
    struct gw_db_stats db = { 0 };
    for (int i = 0; i < srv->n_loops; i++) {
        /* Read without the owner's lock: a slightly stale gauge is fine for a scrape. */
        pending += gw_db_pool_pending(srv->loops[i].db);
        healthy += gw_db_pool_healthy(srv->loops[i].db);
        struct gw_db_stats s = gw_db_pool_stats(srv->loops[i].db);
        db.transactions += s.transactions;
        db.batches += s.batches;
        db.batched_calls += s.batched_calls;
        db.batches_retried += s.batches_retried;
    }
    if (err == GW_OK) {
        err = gw_buf_printf(
            b,
            "# TYPE feegate_db_transactions_total counter\nfeegate_db_transactions_total %llu\n"
            "# TYPE feegate_db_batches_total counter\nfeegate_db_batches_total %llu\n"
            "# TYPE feegate_db_batched_calls_total counter\nfeegate_db_batched_calls_total %llu\n"
            "# TYPE feegate_db_batches_retried_total counter\n"
            "feegate_db_batches_retried_total %llu\n",
            (unsigned long long)db.transactions, (unsigned long long)db.batches,
            (unsigned long long)db.batched_calls, (unsigned long long)db.batches_retried);
    }
    if (err == GW_OK) {
        err = gw_buf_printf(
            b,
            "# TYPE feegate_webhooks_total counter\n"
            "feegate_webhooks_total{result=\"delivered\"} %llu\n"
            "feegate_webhooks_total{result=\"failed\"} %llu\n"
            "# TYPE feegate_payments_expired_total counter\nfeegate_payments_expired_total %llu\n"
            "# TYPE feegate_db_unavailable_total counter\nfeegate_db_unavailable_total %llu\n"
            "# TYPE feegate_db_pending gauge\nfeegate_db_pending %zu\n"
            "# TYPE feegate_db_connections_healthy gauge\nfeegate_db_connections_healthy %d\n"
            "# TYPE feegate_loops gauge\nfeegate_loops %d\n"
            "# TYPE feegate_uptime_seconds gauge\nfeegate_uptime_seconds %lld\n",
            (unsigned long long)sum_loops(srv, M_OFF(webhooks_ok)),
            (unsigned long long)sum_loops(srv, M_OFF(webhooks_failed)),
            (unsigned long long)sum_loops(srv, M_OFF(expired)),
            (unsigned long long)sum_loops(srv, M_OFF(db_unavailable)), pending, healthy,
            srv->n_loops, (long long)((gw_now_ms() - srv->started_ms) / 1000));
    }
    return err;
}

/* Each configured channel: up on each loop (maintenance and breaker), the breaker's state,
 * and its provider calls (create, query, refund) with their latency, summed over loops. */
static enum gw_err metrics_channels(struct gw_buf *b, const struct gw_server *srv)
{
    const struct gw_config *cfg = gw_live_config(srv);
    enum gw_err err = gw_buf_adds(b, "# TYPE feegate_channel_up gauge\n"
                                     "# TYPE feegate_channel_breaker_state gauge\n"
                                     "# TYPE feegate_channel_in_maintenance gauge\n"
                                     "# TYPE feegate_provider_calls_total counter\n"
                                     "# TYPE feegate_provider_call_seconds_sum counter\n"
                                     "# TYPE feegate_provider_call_p90_seconds gauge\n"
                                     "# TYPE feegate_channel_breaker_opened_total counter\n");
    time_t now = time(NULL);
    for (int c = 0; c < cfg->n_channels && err == GW_OK; c++) {
        const struct gw_channel_config *ch = &cfg->channels[c];
        int slot = gw_health_slot(ch->ops);
        const char *name = ch->ops->name;
        bool maint = gw_channel_in_maintenance(ch, now);
        uint64_t ok = 0;
        uint64_t failed = 0;
        uint64_t sum_ms = 0;
        uint64_t opened = 0;
        uint32_t p90 = 0;
        for (int i = 0; i < srv->n_loops && slot >= 0 && err == GW_OK; i++) {
            const struct gw_chan_health *h = &srv->loops[i].health[slot];
            int st = atomic_load_explicit(&h->state, memory_order_relaxed);
            ok += atomic_load_explicit(&h->calls_ok, memory_order_relaxed);
            failed += atomic_load_explicit(&h->calls_failed, memory_order_relaxed);
            sum_ms += atomic_load_explicit(&h->latency_sum_ms, memory_order_relaxed);
            opened += atomic_load_explicit(&h->opened_total, memory_order_relaxed);
            uint32_t lp = atomic_load_explicit(&h->p90_ms, memory_order_relaxed);
            p90 = lp > p90 ? lp : p90;
            err = gw_buf_printf(b,
                                "feegate_channel_up{channel=\"%s\",loop=\"%d\"} %d\n"
                                "feegate_channel_breaker_state{channel=\"%s\",loop=\"%d\"} %d\n",
                                name, i, !maint && st != GW_BREAKER_OPEN, name, i, st);
        }
        if (err == GW_OK) {
            err = gw_buf_printf(
                b,
                "feegate_channel_in_maintenance{channel=\"%s\"} %d\n"
                "feegate_provider_calls_total{channel=\"%s\",result=\"ok\"} %llu\n"
                "feegate_provider_calls_total{channel=\"%s\",result=\"failed\"} %llu\n"
                "feegate_provider_call_seconds_sum{channel=\"%s\"} %.3f\n"
                "feegate_provider_call_p90_seconds{channel=\"%s\"} %.3f\n"
                "feegate_channel_breaker_opened_total{channel=\"%s\"} %llu\n",
                name, maint, name, (unsigned long long)ok, name, (unsigned long long)failed, name,
                (double)sum_ms / 1000.0, name, (double)p90 / 1000.0, name,
                (unsigned long long)opened);
        }
    }
    return err;
}

static enum gw_err metrics_connections(struct gw_buf *b)
{
    struct gw_conn_stats s = gw_conn_guard_stats();
    return gw_buf_printf(
        b,
        "# TYPE feegate_http_connections gauge\nfeegate_http_connections %llu\n"
        "# TYPE feegate_http_connections_max gauge\nfeegate_http_connections_max %llu\n"
        "# TYPE feegate_http_connections_refused_total counter\n"
        "feegate_http_connections_refused_total{reason=\"per_address\"} %llu\n"
        "feegate_http_connections_refused_total{reason=\"total\"} %llu\n"
        "# TYPE feegate_http_read_deadline_cut_total counter\n"
        "feegate_http_read_deadline_cut_total %llu\n"
        "# TYPE feegate_http_accept_errors_total counter\nfeegate_http_accept_errors_total %llu\n",
        (unsigned long long)s.open, (unsigned long long)s.open_max,
        (unsigned long long)s.refused_addr, (unsigned long long)s.refused_total,
        (unsigned long long)s.deadline_cut, (unsigned long long)s.accept_errors);
}

static void metrics(struct gw_ctx *ctx)
{
    const struct gw_server *srv = ctx->loop->srv;
    struct gw_buf b;
    gw_buf_init(&b, GW_HTTP_RESPONSE_BYTES_MAX);
    enum gw_err err = metrics_requests(&b, srv);
    if (err == GW_OK) {
        err = metrics_business(&b, srv);
    }
    if (err == GW_OK) {
        err = metrics_channels(&b, srv);
    }
    if (err == GW_OK) {
        err = metrics_connections(&b);
    }
    if (err == GW_OK) {
        err = gw_check_job_metrics(&b);
    }
    if (err != GW_OK) {
        gw_reply_error(ctx, 500, "internal_error", "metrics too large");
    } else {
        gw_reply(ctx, 200, "text/plain; version=0.0.4", gw_buf_str(&b), b.len);
    }
    gw_buf_release(&b);
}

/* A /readyz probe: answered by the database or by its deadline, whichever comes first; freed
 * when both have come (the database's answer always comes, at worst when the pool gives the
 * query up or is freed). On the heap, not in the request's arena: it outlives the request
 * when the deadline answers first. */
struct ready_probe {
    struct gw_ctx *ctx; /* NULL once answered */
    struct event *timer;
};

static void ready_unavailable(struct ready_probe *p)
{
    gw_reply_json(p->ctx, 503, "{\"status\":\"unavailable\"}");
    p->ctx = NULL;
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback */
static void ready_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ready_unavailable(arg);
}

static void ready_done(void *arg, enum gw_err err, const PGresult *res)
{
    (void)res;
    struct ready_probe *p = arg;
    if (p->ctx == NULL) {
        /* Answered 503 at the deadline already. */
    } else if (err != GW_OK || atomic_load(&p->ctx->loop->srv->draining)) {
        ready_unavailable(p);
    } else {
        gw_reply_json(p->ctx, 200, "{\"status\":\"ready\"}");
    }
    event_free(p->timer);
    gw_xfree(p);
}

static void ready(struct gw_ctx *ctx)
{
    struct ready_probe *p = gw_xcalloc(1, sizeof(*p));
    p->ctx = ctx;
    p->timer = evtimer_new(ctx->loop->base, ready_deadline, p);
    GW_ASSERT(p->timer != NULL);
    struct timeval tv = { .tv_sec = GW_READYZ_DEADLINE_MS / 1000,
                          .tv_usec = (suseconds_t)(GW_READYZ_DEADLINE_MS % 1000) * 1000 };
    GW_ASSERT(evtimer_add(p->timer, &tv) == 0);
    const struct gw_db_req q = { "SELECT 1", 0, NULL, ready_done, p };
    gw_db_query_batchable(ctx->loop->db, &q);
}

void gw_handle_ops(struct gw_ctx *ctx)
{
    const char *s = ctx->seg[0];
    if (ctx->n_seg != 1 || ctx->method != EVHTTP_REQ_GET) {
        gw_reply_error(ctx, 404, "not_found", "no such resource");
    } else if (strcmp(s, "healthz") == 0) {
        gw_reply_json(ctx, 200, "{\"status\":\"ok\"}");
    } else if (strcmp(s, "readyz") == 0) {
        ready(ctx);
    } else {
        metrics(ctx);
    }
}
