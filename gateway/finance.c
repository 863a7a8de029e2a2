/* /v1/finance/: the finance staff's endpoints (docs/reconciliation.md, "Finance API").
 * Every request carries a staff session token (`Authorization: Bearer <token>`, from
 * `feegate staff sign-in`); each route is one call of a recon SQL
 * function that takes the token, finds the signed-in member and checks the role, so the
 * gateway never names a staff member itself (docs/console.md#controls). Nothing here blocks
 * the loop (the report is rendered in memory). */
#include "finance.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_time.h"
#include "ldg_recon.h"
#include "provider.h"
#include "request.h"
#include "routing.h"

#include "banned.h"

#define FIN_REPORT_BYTES_MAX GW_HTTP_REPORT_BYTES_MAX

struct fin_state {
    enum ldg_report_format report_format;
    const struct gw_channel_config *ch; /* the provider queried (pinned in the arena) */
    const char *merchant_ref;
    struct gw_provider_call call;
};

static void text_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        gw_reply_db_error(ctx, err, res);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        gw_reply_error(ctx, 404, "not_found", "nothing found");
        return;
    }
    /* A day's imports or exceptions are unpaged, like its report. */
    gw_reply_report(ctx, 200, "application/json", PQgetvalue(res, 0, 0),
                    (size_t)PQgetlength(res, 0, 0));
}

static void report_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct fin_state *st = ctx->state;
    if (err != GW_OK || PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        text_done(arg, err, res);
        return;
    }
    struct gw_buf b;
    gw_buf_init(&b, FIN_REPORT_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    if (ldg_report_render(PQgetvalue(res, 0, 0), st->report_format, &b, &eb) != GW_OK) {
        gw_buf_release(&b);
        gw_reply_error(ctx, 500, "internal_error", "%s", eb.msg);
        return;
    }
    static const char *const types[] = { "application/json", "text/csv; charset=utf-8",
                                         "text/html; charset=utf-8" };
    gw_reply_report(ctx, 200, types[st->report_format], b.data, b.len);
    gw_buf_release(&b);
}

/* A string member of the JSON body, copied into the arena; NULL if absent or not a string.
 * *bad is set when the body is not a JSON object. */
static const char *body_str(struct gw_ctx *ctx, const char *key, bool *bad)
{
    if (ctx->body_len == 0) {
        return NULL;
    }
    json_t *j = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        *bad = true;
        json_decref(j);
        return NULL;
    }
    const json_t *v = json_object_get(j, key);
    const char *out = NULL;
    if (json_is_string(v)) {
        out = gw_arena_strdup(&ctx->arena, json_string_value(v));
    } else if (json_is_boolean(v)) {
        out = json_is_true(v) ? "true" : "false";
    }
    json_decref(j);
    return out;
}

static bool day_ok(struct gw_ctx *ctx, const char *d)
{
    if (ldg_day_valid(d)) {
        return true;
    }
    gw_reply_error(ctx, 400, "invalid_day", "the business day must be YYYY-MM-DD");
    return false;
}

static void day_report(struct gw_ctx *ctx, const char *day)
{
    struct fin_state *st = ctx->state;
    struct evkeyvalq q;
    const char *fmt = NULL;
    st->report_format = LDG_REPORT_JSON;
    if (ctx->query != NULL && evhttp_parse_query_str(ctx->query, &q) == 0) {
        fmt = evhttp_find_header(&q, "format");
        bool ok = fmt == NULL || ldg_report_format_parse(fmt, &st->report_format);
        evhttp_clear_headers(&q);
        if (!ok) {
            gw_reply_error(ctx, 400, "invalid_format", "format must be json, csv or html");
            return;
        }
    }
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = day;
    gw_ctx_query(ctx, "SELECT feegate.fin_report($1, $2::date)", 2, report_done);
}

static void route_day(struct gw_ctx *ctx)
{
    const char *day = ctx->seg[3];
    const char *what = ctx->n_seg == 5 ? ctx->seg[4] : "";
    bool get = ctx->method == EVHTTP_REQ_GET, post = ctx->method == EVHTTP_REQ_POST;
    bool bad = false;
    if (!day_ok(ctx, day)) {
        return;
    }
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = day;
    if (get && strcmp(what, "imports") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.fin_imports($1, $2::date)", 2, text_done);
    } else if (get && strcmp(what, "exceptions") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.fin_exceptions($1, $2::date)", 2, text_done);
    } else if (get && strcmp(what, "report") == 0) {
        day_report(ctx, day);
    } else if (post && strcmp(what, "reconcile") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.recon_run($2::date, $1)", 2, text_done);
    } else if (post && strcmp(what, "close") == 0) {
        const char *cf = body_str(ctx, "carry_forward", &bad);
        ctx->params[2] = cf != NULL ? cf : "false";
        if (bad || (strcmp(ctx->params[2], "true") != 0 && strcmp(ctx->params[2], "false") != 0)) {
            gw_reply_error(ctx, 400, "invalid_request",
                           "the body is {\"carry_forward\": true|false} or empty");
        } else {
            gw_ctx_query(ctx, "SELECT feegate.day_close($2::date, $1, $3::bool)::text", 3,
                         text_done);
        }
    } else {
        gw_reply_error(ctx, 404, "not_found", "no such method and path in the finance API");
    }
}

/* ---- POST /v1/finance/exceptions/{id}/query: ask the provider, apply its answer ----
 * recon_query_target (the attempt to ask about), the channel's status query built, sent
 * through this loop's HTTP client and verified by the adapter, then recon_query_result
 * (ledger/sql/base/recon.sql), which applies it like the recovery poller and writes the trail.
 * params[0] and params[1] stay the exception id and the staff id throughout. */

static void query_record(struct gw_ctx *ctx, const char *outcome, const struct gw_adapter_result *r,
                         const char *raw, const char *reason)
{
    char paid_at[26] = "";
    if (r != NULL && r->paid_at > 0) {
        gw_time_rfc3339_vn(r->paid_at, paid_at);
    }
    struct gw_arena *a = &ctx->arena;
    ctx->params[2] = outcome;
    ctx->params[3] = r != NULL ? gw_arena_printf(a, "%lld", (long long)r->amount_vnd) : NULL;
    ctx->params[4] =
        r != NULL && r->provider_txn_id[0] != '\0' ? gw_arena_strdup(a, r->provider_txn_id) : NULL;
    ctx->params[5] = paid_at[0] != '\0' ? gw_arena_strdup(a, paid_at) : NULL;
    ctx->params[6] = raw;
    ctx->params[7] = reason;
    gw_ctx_query(ctx,
                 "SELECT feegate.recon_query_result($1::bigint, $2, $3, $4::bigint, $5, "
                 "$6::timestamptz, $7, $8)::text",
                 8, text_done);
}

/* The provider's answer (or none). Recorded even if the client went away. */
static void query_answer(void *arg, const struct gw_provider_answer *ans)
{
    struct gw_ctx *ctx = arg;
    struct fin_state *st = ctx->state;
    if (!ans->answered) {
        query_record(ctx, "error", NULL, NULL, "no answer (connection failed or timed out)");
        return;
    }
    if (ans->err != GW_OK) {
        query_record(ctx, "error", NULL, ans->raw,
                     gw_arena_printf(&ctx->arena, "answer refused: %s", ans->why));
        return;
    }
    const struct gw_adapter_result *r = &ans->pay;
    /* ZaloPay's query answer does not echo the reference: empty means "the one asked". */
    if (r->merchant_ref[0] != '\0' && strcmp(r->merchant_ref, st->merchant_ref) != 0) {
        query_record(
            ctx, "error", NULL, ans->raw,
            gw_arena_printf(&ctx->arena, "answer about another reference \"%s\"", r->merchant_ref));
        return;
    }
    query_record(ctx, gw_pay_outcome_name(r->outcome), r, ans->raw, NULL);
}

static bool query_charge(struct gw_ctx *ctx, const PGresult *res, struct gw_charge *c)
{
    unsigned char rnd[16];
    char request_id[33];
    if (gw_random_bytes(rnd, sizeof(rnd)) != GW_OK) {
        return false;
    }
    gw_hex_encode(rnd, sizeof(rnd), request_id);
    *c = (struct gw_charge){
        .payment_id = gw_arena_strdup(&ctx->arena, PQgetvalue(res, 0, 2)),
        .merchant_ref = ((struct fin_state *)ctx->state)->merchant_ref,
        .amount_vnd = strtoll(PQgetvalue(res, 0, 3), NULL, 10),
        .order_info = "",
        .locale = "vi",
        .client_ip = "127.0.0.1",
        .created_at = (time_t)strtoll(PQgetvalue(res, 0, 4), NULL, 10),
        .expires_at = (time_t)strtoll(PQgetvalue(res, 0, 5), NULL, 10),
        .request_id = gw_arena_strdup(&ctx->arena, request_id),
        .requested_at = (time_t)(gw_now_ms() / 1000),
        .provider_txn_id =
            PQgetisnull(res, 0, 6) ? NULL : gw_arena_strdup(&ctx->arena, PQgetvalue(res, 0, 6)),
    };
    return c->payment_id != NULL && c->request_id != NULL;
}

static void query_target_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct fin_state *st = ctx->state;
    if (err != GW_OK || PQntuples(res) != 1) {
        text_done(arg, err, res);
        return;
    }
    st->merchant_ref = gw_arena_strdup(&ctx->arena, PQgetvalue(res, 0, 0));
    st->ch = gw_channel_pin(ctx->loop->srv, &ctx->arena, PQgetvalue(res, 0, 1));
    if (st->ch == NULL || !(st->ch->ops->caps & GW_ADAPTER_CAP_QUERY)) {
        query_record(ctx, "error", NULL, NULL,
                     "channel not configured on this gateway or without a query API");
        return;
    }
    struct gw_charge charge;
    struct gw_errbuf eb = { .msg = "" };
    if (st->merchant_ref == NULL || !query_charge(ctx, res, &charge)) {
        gw_reply_error(ctx, 503, "overloaded", "no memory or randomness for the query");
        return;
    }
    st->call = (struct gw_provider_call){ .kind = GW_CALL_QUERY,
                                          .loop = ctx->loop,
                                          .ch = st->ch,
                                          .arena = &ctx->arena,
                                          .charge = &charge,
                                          .done = query_answer,
                                          .arg = ctx };
    enum gw_err perr = gw_provider_call(&st->call, &eb);
    if (perr != GW_OK) {
        query_record(ctx, "error", NULL, NULL,
                     gw_arena_printf(&ctx->arena, "could not %s the query: %s",
                                     perr == GW_ERR_INVALID ? "build" : "send", eb.msg));
    }
}

static void route_exception(struct gw_ctx *ctx)
{
    const char *id = ctx->seg[3];
    const char *what = ctx->seg[4];
    bool bad = false;
    size_t n = strlen(id);
    if (n == 0 || n > 18 || strspn(id, "0123456789") != n || ctx->method != EVHTTP_REQ_POST) {
        gw_reply_error(ctx, 404, "not_found", "no such exception");
        return;
    }
    ctx->params[0] = id;
    ctx->params[1] = ctx->client_id;
    if (strcmp(what, "resolve") == 0) {
        ctx->params[2] = body_str(ctx, "action", &bad);
        ctx->params[3] = body_str(ctx, "note", &bad);
        ctx->params[4] = body_str(ctx, "account", &bad);
        if (bad || ctx->params[2] == NULL) {
            gw_reply_error(ctx, 400, "invalid_request",
                           "the body is {\"action\": ..., \"note\": ..., \"account\": ...}");
        } else {
            gw_ctx_query(ctx, "SELECT feegate.recon_resolve($1::bigint, $3, $2, $4, $5)::text", 5,
                         text_done);
        }
    } else if (strcmp(what, "query") == 0) {
        gw_ctx_query(ctx,
                     "SELECT merchant_ref, channel, payment_id, amount_vnd, created_at_unix, "
                     "expires_at_unix, provider_txn_id "
                     "FROM feegate.recon_query_target($1::bigint, $2)",
                     2, query_target_done);
    } else if (strcmp(what, "approve") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.recon_approve($1::bigint, $2)::text", 2, text_done);
    } else if (strcmp(what, "answer") == 0) {
        json_t *j = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES, NULL);
        bool obj = json_is_object(j);
        json_decref(j);
        if (!obj) {
            gw_reply_error(ctx, 400, "invalid_request", "the body is the provider's answer");
            return;
        }
        ctx->params[2] = ctx->body;
        gw_ctx_query(ctx, "SELECT feegate.recon_apply_answer($1::bigint, $2, $3::jsonb)::text", 3,
                     text_done);
    } else {
        gw_reply_error(ctx, 404, "not_found", "no such method and path in the finance API");
    }
}

/* GET /v1/finance/overpayments[?state=S]: payments paid twice and what is owed back;
 * POST /v1/finance/overpayments/{id}/transferred {"transfer_ref": R}: one paid back by hand
 * (ledger/sql/base/overpayments.sql). */
static void route_overpayments(struct gw_ctx *ctx)
{
    bool bad = false;
    ctx->params[0] = ctx->client_id;
    if (ctx->n_seg == 3 && ctx->method == EVHTTP_REQ_GET) {
        struct evkeyvalq q;
        ctx->params[1] = NULL;
        if (ctx->query != NULL && evhttp_parse_query_str(ctx->query, &q) == 0) {
            const char *state = evhttp_find_header(&q, "state");
            ctx->params[1] = state != NULL ? gw_arena_strdup(&ctx->arena, state) : NULL;
            evhttp_clear_headers(&q);
        }
        gw_ctx_query(ctx, "SELECT feegate.fin_overpayments($1, $2)", 2, text_done);
    } else if (ctx->n_seg == 5 && strcmp(ctx->seg[4], "transferred") == 0 &&
               ctx->method == EVHTTP_REQ_POST) {
        ctx->params[1] = ctx->seg[3];
        ctx->params[2] = body_str(ctx, "transfer_ref", &bad);
        if (bad) {
            gw_reply_error(ctx, 400, "invalid_request", "the body is {\"transfer_ref\": \"...\"}");
            return;
        }
        gw_ctx_query(ctx, "SELECT feegate.overpayment_transfer($2, $1, $3)", 3, text_done);
    } else {
        gw_reply_error(ctx, 404, "not_found", "no such method and path in the finance API");
    }
}

static void route(struct gw_ctx *ctx)
{
    if (ctx->n_seg == 3 && strcmp(ctx->seg[2], "days") == 0 && ctx->method == EVHTTP_REQ_GET) {
        ctx->params[0] = ctx->client_id;
        gw_ctx_query(ctx, "SELECT feegate.fin_days($1)", 1, text_done);
    } else if (ctx->n_seg == 5 && strcmp(ctx->seg[2], "days") == 0) {
        route_day(ctx);
    } else if (ctx->n_seg == 5 && strcmp(ctx->seg[2], "exceptions") == 0) {
        route_exception(ctx);
    } else if ((ctx->n_seg == 3 || ctx->n_seg == 5) && strcmp(ctx->seg[2], "overpayments") == 0) {
        route_overpayments(ctx);
    } else {
        gw_reply_error(ctx, 404, "not_found", "no such resource in the finance API");
    }
}

void gw_handle_finance(struct gw_ctx *ctx)
{
    struct fin_state *st = gw_arena_alloc(&ctx->arena, sizeof(*st));
    if (st == NULL) {
        gw_reply_error(ctx, 503, "overloaded", "no memory for the request");
        return;
    }
    memset(st, 0, sizeof(*st));
    ctx->state = st;
    const char *auth = gw_ctx_header(ctx, "Authorization");
    static const char bearer[] = "Bearer ";
    const char *token = auth != NULL && strncmp(auth, bearer, sizeof(bearer) - 1) == 0
                            ? auth + sizeof(bearer) - 1
                            : "";
    if (strlen(token) != GW_STAFF_TOKEN_HEX_BYTES ||
        strspn(token, "0123456789abcdef") != GW_STAFF_TOKEN_HEX_BYTES) {
        gw_reply_error(ctx, 401, "not_signed_in",
                       "the finance API needs Authorization: Bearer <staff session token>");
        return;
    }
    ctx->client_id = gw_arena_strdup(&ctx->arena, token);
    if (ctx->client_id == NULL) {
        gw_reply_error(ctx, 503, "overloaded", "no memory for the request");
        return;
    }
    route(ctx);
}
