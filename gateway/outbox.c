/* The outbox deliverer (docs/architecture.md#principles, 8): portal webhooks written in the same
 * transaction as each state change are claimed in batches with a lease, POSTed to the client's URL
 * signed like portal requests, and the outcome recorded; the database schedules retries with
 * backoff for more than 24 hours. Delivery is at least once: portals deduplicate by event_id. */
#include "outbox.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "db.h"
#include "fault.h"
#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "gw_sign.h"
#include "gw_time.h"
#include "httpc.h"
#include "request.h"

#include "banned.h"

struct gw_outbox {
    struct gw_loop *loop;
    struct event *timer;
    bool claiming;
    bool stopped;
    size_t inflight;
};

struct delivery {
    struct gw_outbox *ob;
    char id[24];
    char status_text[8];
    char error[128];
    const char *params[4];
};

static void outbox_poll_soon(struct gw_outbox *ob, int ms);

static void result_done(void *arg, enum gw_err err, const PGresult *res)
{
    (void)res;
    struct delivery *d = arg;
    struct gw_outbox *ob = d->ob;
    if (err != GW_OK) {
        gw_log_warn("webhook_result_not_saved", "\"outbox_id\":%s", d->id);
    }
    gw_xfree(d);
    GW_ASSERT(ob->inflight > 0);
    ob->inflight--;
}

static void delivery_finish(struct delivery *d, int status, const char *error)
{
    struct gw_loop *loop = d->ob->loop;
    bool ok = status >= 200 && status < 300;
    atomic_fetch_add_explicit(ok ? &loop->m.webhooks_ok : &loop->m.webhooks_failed, 1,
                              memory_order_relaxed);
    (void)snprintf(d->status_text, sizeof(d->status_text), "%d", status);
    (void)snprintf(d->error, sizeof(d->error), "%s", error);
    d->params[0] = d->id;
    d->params[1] = ok ? "true" : "false";
    d->params[2] = d->status_text;
    d->params[3] = ok ? NULL : d->error;
    gw_db_query(loop->db, "SELECT feegate.outbox_result($1::bigint, $2::bool, $3::int, $4)", 4,
                d->params, result_done, d);
}

static void delivery_done(void *arg, const struct gw_httpc_answer *a)
{
    gw_fault(GW_FAULT_OUTBOX_POSTED);
    delivery_finish(arg, a->status,
                    a->status == 0 ? "no answer (connection failed or timed out)" : "");
}

/* The webhook is signed like a portal request: over the URL's path and query, a fresh
 * timestamp and the SHA-256 of the body, with the client's secret. */
static enum gw_err sign_webhook(struct gw_arena *a, const PGresult *res, int row,
                                struct gw_httpc_req *r)
{
    const char *secret = PQgetvalue(res, row, 4);
    const char *body = PQgetvalue(res, row, 5);
    struct evhttp_uri *uri = evhttp_uri_parse(r->url);
    if (uri == NULL) {
        return GW_ERR_INVALID;
    }
    const char *path = evhttp_uri_get_path(uri);
    const char *query = evhttp_uri_get_query(uri);
    char *ts = gw_arena_printf(a, "%lld", (long long)(gw_now_ms() / 1000));
    char *path_and_query = gw_arena_printf(a, "%s%s%s", path != NULL && *path ? path : "/",
                                           query != NULL ? "?" : "", query != NULL ? query : "");
    evhttp_uri_free(uri);
    char *sig = gw_arena_alloc(a, GW_SIGN_V1_BYTES);
    if (ts == NULL || path_and_query == NULL || sig == NULL) {
        return GW_ERR_NOMEM;
    }
    gw_sign_v1(secret, strlen(secret),
               &(struct gw_sign_req){ "POST", path_and_query, ts, body, strlen(body) }, sig);
    r->headers[0] = (struct gw_http_header){ "X-Feegate-Client", PQgetvalue(res, row, 2) };
    r->headers[1] = (struct gw_http_header){ "X-Feegate-Timestamp", ts };
    r->headers[2] = (struct gw_http_header){ "X-Feegate-Signature", sig };
    r->headers[3] = (struct gw_http_header){ "X-Feegate-Event-Id", PQgetvalue(res, row, 1) };
    r->n_headers = 4;
    return GW_OK;
}

static void deliver_row(struct gw_outbox *ob, const PGresult *res, int row)
{
    struct delivery *d = gw_xcalloc(1, sizeof(*d));
    d->ob = ob;
    (void)snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(res, row, 0));
    ob->inflight++;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)64 * 1024);
    struct gw_httpc_req r = {
        .method = "POST",
        .url = PQgetvalue(res, row, 3),
        .content_type = "application/json",
        .body = PQgetvalue(res, row, 5),
        .body_len = strlen(PQgetvalue(res, row, 5)),
        .timeout_ms = GW_WEBHOOK_TIMEOUT_S * 1000,
    };
    struct gw_errbuf eb = { .msg = "" };
    if (sign_webhook(&a, res, row, &r) != GW_OK) {
        delivery_finish(d, 0, "webhook URL is not an absolute http(s) URL");
    } else if (gw_httpc_send(ob->loop->httpc, &r, delivery_done, d, &eb) != GW_OK) {
        delivery_finish(d, 0, eb.msg);
    }
    gw_arena_release(&a);
}

static const char *const claim_params[2] = { GW_STR(GW_OUTBOX_BATCH_MAX),
                                             GW_STR(GW_OUTBOX_LEASE_S) };

static void claim_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_outbox *ob = arg;
    ob->claiming = false;
    if (err != GW_OK) {
        gw_log_warn("outbox_claim_failed", "\"error\":\"%s\"", gw_err_name(err));
        outbox_poll_soon(ob, GW_OUTBOX_POLL_MS);
        return;
    }
    int n = PQntuples(res);
    if (n > 0) {
        gw_fault(GW_FAULT_OUTBOX_CLAIMED);
    }
    for (int i = 0; i < n; i++) {
        deliver_row(ob, res, i);
    }
    /* A full batch means more are waiting: claim again at once if there is room. */
    outbox_poll_soon(ob, n == GW_OUTBOX_BATCH_MAX ? 0 : GW_OUTBOX_POLL_MS);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_outbox *ob = arg;
    if (ob->stopped || ob->claiming) {
        return;
    }
    if (ob->inflight + GW_OUTBOX_BATCH_MAX > GW_OUTBOX_INFLIGHT_MAX) {
        outbox_poll_soon(ob, GW_OUTBOX_POLL_MS / 4);
        return;
    }
    ob->claiming = true;
    gw_db_query(ob->loop->db,
                "SELECT id, event_id, client_id, url, secret, body, attempts "
                "FROM feegate.outbox_claim($1::int, $2::int)",
                2, claim_params, claim_done, ob);
}

static void outbox_poll_soon(struct gw_outbox *ob, int ms)
{
    if (ob->stopped) {
        return;
    }
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    GW_ASSERT(evtimer_add(ob->timer, &tv) == 0);
}

void gw_outbox_start(struct gw_loop *loop)
{
    struct gw_outbox *ob = gw_xcalloc(1, sizeof(*ob));
    ob->loop = loop;
    ob->timer = evtimer_new(loop->base, poll_cb, ob);
    GW_ASSERT(ob->timer != NULL);
    loop->outbox = ob;
    outbox_poll_soon(ob, GW_OUTBOX_POLL_MS);
}

void gw_outbox_stop(struct gw_loop *loop)
{
    struct gw_outbox *ob = loop->outbox;
    if (ob == NULL || ob->stopped) {
        return;
    }
    ob->stopped = true;
    GW_ASSERT(event_del(ob->timer) == 0);
}

size_t gw_outbox_inflight(const struct gw_loop *loop)
{
    return loop->outbox != NULL ? loop->outbox->inflight : 0;
}

/* Frees the deliverer after its loop, its HTTP client and its pool are gone. */
void gw_outbox_free(struct gw_loop *loop)
{
    struct gw_outbox *ob = loop->outbox;
    if (ob == NULL) {
        return;
    }
    event_free(ob->timer);
    gw_xfree(ob);
    loop->outbox = NULL;
}
