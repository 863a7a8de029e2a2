/* Refunds: POST/GET /v1/payments/{id}/refunds, and loop 0's refund recovery.
 *
 * POST reserves the amount in the database (api_refund_begin locks the payment row, so two
 * refunds can never together exceed what was paid), sends the provider's refund request
 * through this loop's HTTP client, and records the verified answer (refund_result), which
 * books the journals, moves the payment to partially_refunded or refunded and queues the
 * webhooks. While the provider call is in flight the Idempotency-Key answers 409
 * idempotency_key_in_progress. An answer that is pending, unreadable or missing leaves the
 * refund pending (a timeout is never a failure): recovery asks the provider's refund status
 * API on a schedule; a channel without one lists the refund in refund_exceptions. The same
 * job sends the refunds the switch makes on its own: an overpayment (a payment paid twice)
 * goes back through the provider that took it. */
#include "refund.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "db.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_log.h"
#include "gw_time.h"
#include "provider.h"
#include "request.h"
#include "routing.h"

#include "banned.h"

#define REFUND_REASON_BYTES_MAX 200
#define REFUND_POLL_MS          1000
#define REFUND_BATCH_MAX        16
#define REFUND_LEASE_S          60
#define REFUND_WINDOW_S         ((int64_t)48 * 3600)

/* One provider exchange about one refund: the refund itself or a status query. */
struct rf_call {
    struct gw_loop *loop;
    struct gw_arena *arena;
    const struct gw_channel_config *ch;
    bool query;
    /* The provider's refund query could answer about another refund of the payment
     * (api_refund_begin's query_ambiguous): an unknown outcome is never asked, it goes to
     * refund_exceptions. */
    bool no_query;
    int queries; /* answers so far (recovery), for the next delay */
    int64_t created_unix;
    char refund_id[48];
    struct gw_provider_call call;
    const char *params[7];
    void (*finish)(struct rf_call *c, const char *sql, int n); /* runs refund_result */
    void *owner;
};

static const char *rf_random_id(struct gw_arena *a)
{
    unsigned char rnd[16];
    char hex[33];
    if (gw_random_bytes(rnd, sizeof(rnd)) != GW_OK) {
        return NULL;
    }
    gw_hex_encode(rnd, sizeof(rnd), hex);
    return gw_arena_strdup(a, hex);
}

static const char *js_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static int64_t js_int(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* Seconds to the next status query after `queries` answers; -1 when the window is over or
 * the channel has no refund status API. */
static int rf_next_delay(const struct rf_call *c, int queries)
{
    static const int schedule_s[] = { 60, 300, 900, 3600, 21600 };
    if (!(c->ch->ops->caps & GW_ADAPTER_CAP_REFUND_QUERY) || c->no_query) {
        return -1;
    }
    int n = (int)(sizeof(schedule_s) / sizeof(schedule_s[0]));
    int delay = schedule_s[queries < n ? queries : n - 1];
    int64_t now = gw_now_ms() / 1000;
    if (now + delay > c->created_unix + REFUND_WINDOW_S) {
        return now < c->created_unix + REFUND_WINDOW_S
                   ? (int)(c->created_unix + REFUND_WINDOW_S - now)
                   : -1;
    }
    return delay;
}

/* Records what the provider said (or that it said nothing). */
static void rf_record(struct rf_call *c, const char *outcome, const struct gw_refund_result *r,
                      const char *raw)
{
    int delay = rf_next_delay(c, c->queries + (c->query ? 1 : 0));
    c->params[0] = c->refund_id;
    c->params[1] = outcome;
    c->params[2] = r != NULL && r->provider_refund_id[0] != '\0'
                       ? gw_arena_strdup(c->arena, r->provider_refund_id)
                       : NULL;
    c->params[3] = r != NULL && r->provider_code[0] != '\0'
                       ? gw_arena_strdup(c->arena, r->provider_code)
                       : NULL;
    c->params[4] = c->query ? "refund_query" : "refund";
    c->params[5] = raw;
    c->params[6] = delay >= 0 ? gw_arena_printf(c->arena, "%d", delay) : NULL;
    if (strcmp(outcome, "accepted") != 0 && strcmp(outcome, "rejected") != 0) {
        gw_log_warn("refund_unknown",
                    "\"refund_id\":\"%s\",\"channel\":\"%s\",\"outcome\":\"%s\","
                    "\"next_query_s\":%d",
                    c->refund_id, c->ch->ops->name, outcome, delay);
    } else {
        gw_log_info("refund_answer", "\"refund_id\":\"%s\",\"channel\":\"%s\",\"outcome\":\"%s\"",
                    c->refund_id, c->ch->ops->name, outcome);
    }
    c->finish(c,
              "SELECT status, http_status, body FROM feegate.refund_result($1, $2, $3, $4, $5, $6, "
              "$7::int)",
              7);
}

static void rf_answer(void *arg, const struct gw_provider_answer *a)
{
    struct rf_call *c = arg;
    if (!a->answered) {
        rf_record(c, "error", NULL, "no answer");
        return;
    }
    if (a->err != GW_OK) {
        char why[300];
        gw_log_warn("refund_answer_rejected", "\"refund_id\":\"%s\",\"reason\":\"%s\"",
                    c->refund_id, gw_log_esc(why, sizeof(why), a->why));
        rf_record(c, "error", NULL, a->raw);
        return;
    }
    rf_record(c, gw_refund_outcome_name(a->refund.outcome), &a->refund, a->raw);
}

/* Builds the refund (or its status query) from the send document and sends it. */
static void rf_send(struct rf_call *c, const json_t *send)
{
    const char *request_id = c->query ? rf_random_id(c->arena) : js_str(send, "request_id");
    struct gw_refund refund = {
        .payment_id = js_str(send, "payment_id"),
        .merchant_ref = js_str(send, "merchant_ref"),
        .provider_txn_id = js_str(send, "provider_txn_id"),
        .refund_id = js_str(send, "ref"),
        .amount_vnd = js_int(send, "amount_vnd"),
        .full = json_is_true(json_object_get(send, "full")),
        .reason = js_str(send, "reason")[0] != '\0' ? js_str(send, "reason") : "refund",
        .requested_by = "feegate",
        .original_created_at = (time_t)js_int(send, "original_created_at_unix"),
        .created_at = (time_t)js_int(send, "created_at_unix"),
        .request_id = request_id != NULL ? request_id : "",
        .requested_at = time(NULL),
    };
    (void)snprintf(c->refund_id, sizeof(c->refund_id), "%s", js_str(send, "refund_id"));
    c->created_unix = js_int(send, "created_at_unix");
    c->call = (struct gw_provider_call){ .kind = c->query ? GW_CALL_REFUND_QUERY : GW_CALL_REFUND,
                                         .loop = c->loop,
                                         .ch = c->ch,
                                         .arena = c->arena,
                                         .refund = &refund,
                                         .done = rf_answer,
                                         .arg = c };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = gw_provider_call(&c->call, &eb);
    if (err == GW_ERR_INVALID) {
        char why[300];
        gw_log_error("refund_not_built", "\"refund_id\":\"%s\",\"reason\":\"%s\"", c->refund_id,
                     gw_log_esc(why, sizeof(why), eb.msg));
        /* Nothing was sent: a refund that cannot be built is refused, a query stays unknown. */
        rf_record(c, c->query ? "error" : "rejected", NULL, "could not build the request");
    } else if (err != GW_OK) {
        rf_record(c, "error", NULL, "could not send the request");
    }
}

/* ---- the API ---- */

static void api_result_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        gw_reply_db_error(ctx, err, res);
        return;
    }
    if (PQntuples(res) != 1) {
        gw_reply_error(ctx, 500, "internal_error", "unexpected answer from the database");
        return;
    }
    int status = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    gw_reply_json(ctx, status >= 200 && status < 600 ? status : 500, PQgetvalue(res, 0, 2));
}

static void api_finish(struct rf_call *c, const char *sql, int n)
{
    struct gw_ctx *ctx = c->owner;
    for (int i = 0; i < n; i++) {
        ctx->params[i] = c->params[i];
    }
    gw_ctx_query(ctx, sql, n, api_result_done);
}

static void begin_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        gw_reply_db_error(ctx, err, res);
        return;
    }
    if (PQntuples(res) != 1) {
        gw_reply_error(ctx, 500, "internal_error", "unexpected answer from the database");
        return;
    }
    int status = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    if (PQgetisnull(res, 0, 3)) { /* a finished request with this key: its stored answer */
        if (!ctx->cancelled) {
            evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Idempotent-Replayed",
                              "true");
        }
        gw_reply_json(ctx, status >= 200 && status < 600 ? status : 500, PQgetvalue(res, 0, 1));
        return;
    }
    json_t *send = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    struct rf_call *c = gw_arena_alloc(&ctx->arena, sizeof(*c));
    if (send == NULL || c == NULL) {
        json_decref(send);
        gw_reply_error(ctx, 500, "internal_error", "unexpected answer from the database");
        return;
    }
    memset(c, 0, sizeof(*c));
    c->loop = ctx->loop;
    c->arena = &ctx->arena;
    c->owner = ctx;
    c->finish = api_finish;
    (void)snprintf(c->refund_id, sizeof(c->refund_id), "%s", js_str(send, "refund_id"));
    c->no_query = json_is_true(json_object_get(send, "query_ambiguous"));
    c->ch = gw_channel_pin(ctx->loop->srv, &ctx->arena, js_str(send, "channel"));
    if (c->ch == NULL) { /* reloaded away meanwhile: nothing was sent */
        ctx->params[0] = c->refund_id;
        ctx->params[1] = "rejected";
        ctx->params[2] = NULL;
        ctx->params[3] = NULL;
        ctx->params[4] = "refund";
        ctx->params[5] = "channel no longer configured";
        ctx->params[6] = NULL;
        json_decref(send);
        gw_ctx_query(ctx,
                     "SELECT status, http_status, body FROM feegate.refund_result($1, $2, $3, $4, "
                     "$5, $6, $7::int)",
                     7, api_result_done);
        return;
    }
    rf_send(c, send);
    json_decref(send);
}

/* "{a,b}": the configured channels whose adapter has every bit of caps, as a PostgreSQL
 * array literal. A channel configured with refunds = off has no refund bit. */
static const char *channels_with(struct gw_loop *loop, struct gw_arena *arena, uint32_t caps)
{
    const struct gw_config *cfg = gw_live_config(loop->srv);
    const char *out = "{";
    for (int i = 0; i < cfg->n_channels && out != NULL; i++) {
        const struct gw_channel_config *ch = &cfg->channels[i];
        uint32_t have = ch->ops->caps;
        if (ch->refunds_off) {
            have &= ~(uint32_t)GW_ADAPTER_CAP_REFUND;
        }
        if ((have & caps) == caps) {
            out = gw_arena_printf(arena, "%s%s%s", out, out[1] != '\0' ? "," : "", ch->ops->name);
        }
    }
    return out != NULL ? gw_arena_printf(arena, "%s}", out) : NULL;
}

static bool reason_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > REFUND_REASON_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static void refund_post(struct gw_ctx *ctx, const char *payment_id)
{
    json_error_t jerr;
    json_t *j = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        gw_reply_error(ctx, 400, "invalid_json", "the body must be a JSON object");
        return;
    }
    const json_t *amount = json_object_get(j, "amount_vnd");
    const json_t *reason = json_object_get(j, "reason");
    const char *why = NULL;
    if (!json_is_integer(amount) || json_integer_value(amount) <= 0 ||
        json_integer_value(amount) > 1000000000000LL) {
        why = "amount_vnd must be a positive integer";
    } else if (reason != NULL &&
               (!json_is_string(reason) || !reason_ok(json_string_value(reason)))) {
        why = "reason must be printable ASCII of at most 200 bytes";
    } else if (json_object_size(j) > (reason != NULL ? 2u : 1u)) {
        why = "only amount_vnd and reason are allowed";
    }
    if (why != NULL) {
        json_decref(j);
        gw_reply_error(ctx, 422, "invalid_refund", "%s", why);
        return;
    }
    char *sha = gw_arena_alloc(&ctx->arena, GW_SHA256_HEX_BYTES);
    const char *request_id = rf_random_id(&ctx->arena);
    if (sha == NULL || request_id == NULL) {
        json_decref(j);
        gw_reply_error(ctx, 503, "busy", "try again");
        return;
    }
    gw_sha256_hex(ctx->body, ctx->body_len, sha);
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = payment_id;
    ctx->params[2] = ctx->idem_key;
    ctx->params[3] = sha;
    ctx->params[4] = gw_arena_printf(&ctx->arena, "%lld", (long long)json_integer_value(amount));
    ctx->params[5] = reason != NULL ? gw_arena_strdup(&ctx->arena, json_string_value(reason)) : "";
    ctx->params[6] = channels_with(ctx->loop, &ctx->arena, GW_ADAPTER_CAP_REFUND);
    ctx->params[7] = request_id;
    ctx->params[8] = channels_with(ctx->loop, &ctx->arena,
                                   GW_ADAPTER_CAP_REFUND | GW_ADAPTER_CAP_REFUND_ONE_AT_A_TIME);
    ctx->params[9] = ctx->signature; /* the signed request, accepted once */
    ctx->params[10] = ctx->sig_expires_unix;
    json_decref(j);
    if (ctx->params[6] == NULL || ctx->params[8] == NULL) {
        gw_reply_error(ctx, 503, "busy", "try again");
        return;
    }
    gw_ctx_query(ctx,
                 "SELECT http_status, body, replayed, send FROM feegate.api_refund_begin($1, $2, "
                 "$3, $4, $5::bigint, $6, $7::text[], $8, $9::text[], $10, $11::bigint)",
                 11, begin_done);
}

static void list_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        gw_reply_db_error(ctx, err, res);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        gw_reply_error(ctx, 404, "not_found", "no such payment");
        return;
    }
    gw_reply_json(ctx, 200, PQgetvalue(res, 0, 0));
}

void gw_handle_refunds(struct gw_ctx *ctx, const char *payment_id, bool post)
{
    if (!post) {
        ctx->params[0] = ctx->client_id;
        ctx->params[1] = payment_id;
        gw_ctx_query(ctx, "SELECT feegate.api_refunds($1, $2)", 2, list_done);
        return;
    }
    refund_post(ctx, payment_id);
}

/* ---- recovery (loop 0) ---- */

struct gw_refunds {
    struct gw_loop *loop;
    struct event *timer;
    bool claiming;
    bool stopped;
    size_t inflight;
    /* The overpayment claim's parameters, borrowed by the pool until it answers. */
    struct gw_arena claim_arena;
    const char *op_params[2];
};

struct rf_job {
    struct rf_call call;
    struct gw_arena arena;
    struct gw_refunds *rr;
};

static void job_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct rf_job *j = arg;
    if (err != GW_OK) {
        gw_log_warn("refund_result_not_saved", "\"refund_id\":\"%s\"", j->call.refund_id);
    } else if (PQntuples(res) == 1) {
        gw_log_info("refund_recovery", "\"refund_id\":\"%s\",\"status\":\"%s\"", j->call.refund_id,
                    PQgetvalue(res, 0, 0));
    }
    struct gw_refunds *rr = j->rr;
    struct gw_arena a = j->arena;
    gw_arena_release(&a);
    GW_ASSERT(rr->inflight > 0);
    rr->inflight--;
}

static void job_finish(struct rf_call *c, const char *sql, int n)
{
    struct rf_job *j = c->owner;
    gw_db_query(j->rr->loop->db, sql, n, c->params, job_done, j);
}

/* One row of refund_due (send false: ask about it) or of overpayment_refunds_begin (send
 * true: a refund reserved by the switch itself, sent now). */
static void job_row(struct gw_refunds *rr, const PGresult *res, int row, bool send_it)
{
    struct gw_arena a;
    gw_arena_init(&a, 8192, (size_t)256 * 1024);
    struct rf_job *j = gw_arena_alloc(&a, sizeof(*j));
    GW_ASSERT(j != NULL);
    memset(j, 0, sizeof(*j));
    j->arena = a;
    j->rr = rr;
    rr->inflight++;
    struct rf_call *c = &j->call;
    c->loop = rr->loop;
    c->arena = &j->arena;
    c->owner = j;
    c->finish = job_finish;
    c->query = true;
    c->queries = (int)strtol(PQgetvalue(res, row, 2), NULL, 10);
    (void)snprintf(c->refund_id, sizeof(c->refund_id), "%s", PQgetvalue(res, row, 0));
    c->created_unix = strtoll(PQgetvalue(res, row, 3), NULL, 10);
    json_t *send = json_loads(PQgetvalue(res, row, 1), 0, NULL);
    c->ch = gw_channel_pin(rr->loop->srv, c->arena, js_str(send, "channel"));
    c->no_query = json_is_true(json_object_get(send, "query_ambiguous"));
    if (send_it) {
        c->query = false;
        if (c->ch == NULL) { /* reloaded away meanwhile: nothing is sent */
            static const struct gw_channel_config gone = { .ops = &gw_adapter_sandbox };
            c->ch = &gone;
            json_decref(send);
            rf_record(c, "rejected", NULL, "channel no longer configured");
            return;
        }
        gw_log_info("overpayment_refund", "\"refund_id\":\"%s\",\"channel\":\"%s\"", c->refund_id,
                    c->ch->ops->name);
        rf_send(c, send);
        json_decref(send);
        return;
    }
    if (c->ch == NULL || !(c->ch->ops->caps & GW_ADAPTER_CAP_REFUND_QUERY) || c->no_query) {
        /* No way to ask: the refund goes to refund_exceptions (rf_next_delay is -1). */
        static const struct gw_channel_config none = { .ops = &gw_adapter_sandbox };
        if (c->ch == NULL) {
            c->ch = &none;
        }
        json_decref(send);
        c->query = false;
        rf_record(c, "error", NULL,
                  c->no_query ? "the refund status query cannot tell this refund from the "
                                "payment's earlier ones"
                              : "channel without a refund status API");
        return;
    }
    rf_send(c, send);
    json_decref(send);
}

static void rr_poll_soon(struct gw_refunds *rr, int ms);

/* The overpayments owed were reserved as refunds (or listed for transfer): send them. */
static void overpaid_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_refunds *rr = arg;
    rr->claiming = false;
    gw_arena_release(&rr->claim_arena);
    int n = err == GW_OK ? PQntuples(res) : 0;
    if (err != GW_OK) {
        gw_log_warn("overpayment_claim_failed", "\"error\":\"%s\"", gw_err_name(err));
    }
    for (int i = 0; i < n; i++) {
        job_row(rr, res, i, true);
    }
    rr_poll_soon(rr, n == REFUND_BATCH_MAX ? 0 : REFUND_POLL_MS);
}

/* Refunds due for a status query, then the overpayments owed back to citizens
 * (ledger/sql/base/overpayments.sql): each through the provider that took it, or, for a
 * channel that cannot refund here, listed for the finance staff to pay back by transfer. */
static void claim_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_refunds *rr = arg;
    int n = err == GW_OK ? PQntuples(res) : 0;
    if (err != GW_OK) {
        gw_log_warn("refund_claim_failed", "\"error\":\"%s\"", gw_err_name(err));
    }
    for (int i = 0; i < n; i++) {
        job_row(rr, res, i, false);
    }
    if (rr->stopped) {
        rr->claiming = false;
        return;
    }
    gw_arena_init(&rr->claim_arena, 1024, (size_t)64 * 1024);
    rr->op_params[0] = GW_STR(REFUND_BATCH_MAX);
    rr->op_params[1] = channels_with(rr->loop, &rr->claim_arena, GW_ADAPTER_CAP_REFUND);
    GW_ASSERT(rr->op_params[1] != NULL);
    gw_db_query(rr->loop->db,
                "SELECT refund_id, send, queries, created_at_unix "
                "FROM feegate.overpayment_refunds_begin($1::int, $2::text[])",
                2, rr->op_params, overpaid_done, rr);
}

static const char *const claim_params[2] = { GW_STR(REFUND_BATCH_MAX), GW_STR(REFUND_LEASE_S) };

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_refunds *rr = arg;
    if (rr->stopped || rr->claiming) {
        return;
    }
    if (rr->inflight > (size_t)4 * REFUND_BATCH_MAX) {
        rr_poll_soon(rr, REFUND_POLL_MS);
        return;
    }
    rr->claiming = true;
    gw_db_query(rr->loop->db,
                "SELECT refund_id, send, queries, created_at_unix "
                "FROM feegate.refund_due($1::int, $2::int)",
                2, claim_params, claim_done, rr);
}

static void rr_poll_soon(struct gw_refunds *rr, int ms)
{
    if (rr->stopped) {
        return;
    }
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    GW_ASSERT(evtimer_add(rr->timer, &tv) == 0);
}

void gw_refunds_start(struct gw_loop *loop)
{
    struct gw_refunds *rr = gw_xcalloc(1, sizeof(*rr));
    rr->loop = loop;
    rr->timer = evtimer_new(loop->base, poll_cb, rr);
    GW_ASSERT(rr->timer != NULL);
    loop->refunds = rr;
    rr_poll_soon(rr, REFUND_POLL_MS);
}

void gw_refunds_stop(struct gw_loop *loop)
{
    struct gw_refunds *rr = loop->refunds;
    if (rr == NULL || rr->stopped) {
        return;
    }
    rr->stopped = true;
    GW_ASSERT(event_del(rr->timer) == 0);
}

void gw_refunds_free(struct gw_loop *loop)
{
    struct gw_refunds *rr = loop->refunds;
    if (rr == NULL) {
        return;
    }
    event_free(rr->timer);
    gw_xfree(rr);
    loop->refunds = NULL;
}
