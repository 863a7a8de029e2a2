/* Portal API v1 handlers: authenticate, validate, make one database call, answer. */
#include "api.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "finance.h"
#include "gw_crypto.h"
#include "gw_log.h"
#include "pbconv.h"
#include "refund.h"
#include "request.h"
#include "validate.h"

#include "banned.h"

/* Answers a body the database built (JSON text), in protobuf when the client asked. */
static void reply_payload(struct gw_ctx *ctx, int status, const char *json, enum gw_pb_kind kind)
{
    if (!ctx->proto_out) {
        gw_reply_json(ctx, status, json);
        return;
    }
    void *bytes = NULL;
    size_t len = 0;
    if (gw_pb_from_json(&ctx->arena, kind, json, &bytes, &len) != GW_OK) {
        gw_reply_error(ctx, 500, "internal_error", "could not encode the answer");
        return;
    }
    gw_reply(ctx, status, GW_PB_CONTENT_TYPE, bytes, len);
}

static void text_done(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                      enum gw_pb_kind kind, const char *what)
{
    if (err != GW_OK) {
        gw_reply_db_error(ctx, err, res);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        gw_reply_error(ctx, 404, "not_found", "no such %s", what);
        return;
    }
    reply_payload(ctx, 200, PQgetvalue(res, 0, 0), kind);
}

static void payment_done(void *arg, enum gw_err err, const PGresult *res)
{
    text_done(arg, err, res, GW_PB_PAYMENT, "payment");
}

static void list_done(void *arg, enum gw_err err, const PGresult *res)
{
    text_done(arg, err, res, GW_PB_PAYMENT_LIST, "payment");
}

static void json_only_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    ctx->proto_out = false; /* catalogue and events are JSON only */
    text_done(ctx, err, res, GW_PB_PAYMENT, "payment");
}

/* (http_status, body, replayed) from an idempotent operation. */
static void idem_done(void *arg, enum gw_err err, const PGresult *res)
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
    char *end = NULL;
    errno = 0;
    long status_l = strtol(PQgetvalue(res, 0, 0), &end, 10);
    int status =
        errno == 0 && *end == '\0' && status_l >= 100 && status_l <= 599 ? (int)status_l : 500;
    if (!ctx->cancelled && strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Idempotent-Replayed",
                          "true");
    }
    reply_payload(ctx, status, PQgetvalue(res, 0, 1), GW_PB_PAYMENT);
}

static const char *body_sha256(struct gw_ctx *ctx)
{
    char *hex = gw_arena_alloc(&ctx->arena, GW_SHA256_HEX_BYTES);
    if (hex != NULL) {
        gw_sha256_hex(ctx->body, ctx->body_len, hex);
    }
    return hex;
}

static json_t *parse_body(struct gw_ctx *ctx)
{
    if (ctx->proto_in) {
        json_t *j = NULL;
        if (gw_pb_create_to_json(ctx->body, ctx->body_len, &j) != GW_OK) {
            gw_reply_error(ctx, 400, "invalid_protobuf",
                           "the body is not a feegate.v1.CreatePaymentRequest");
            return NULL;
        }
        return j;
    }
    json_error_t jerr;
    json_t *j = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        gw_reply_error(ctx, 400, "invalid_json", "malformed JSON at line %d column %d: %s",
                       jerr.line, jerr.column, jerr.text);
    }
    return j;
}

static void create_payment(struct gw_ctx *ctx)
{
    json_t *req = parse_body(ctx);
    if (req == NULL) {
        return;
    }
    json_t *norm = NULL;
    struct gw_verdict v;
    bool ok = gw_validate_create(req, &norm, &v);
    json_decref(req);
    if (!ok) {
        gw_reply_error(ctx, v.status, v.code, "%s", v.message);
        return;
    }
    char *dump = json_dumps(norm, JSON_COMPACT);
    json_decref(norm);
    if (dump == NULL) {
        gw_reply_error(ctx, 500, "internal_error", "could not encode the request");
        return;
    }
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = ctx->idem_key;
    ctx->params[2] = body_sha256(ctx);
    ctx->params[3] = gw_arena_strdup(&ctx->arena, dump);
    ctx->params[4] = ctx->loop->srv->cfg.public_url;
    ctx->params[5] = ctx->signature;
    ctx->params[6] = ctx->sig_expires_unix;
    gw_libc_free(dump);
    gw_ctx_query_batchable(ctx,
                           "SELECT http_status, body, replayed FROM "
                           "feegate.api_create_payment($1, $2, $3, $4::jsonb, $5, $6, $7::bigint)",
                           7, idem_done);
}

static void get_payment(struct gw_ctx *ctx, const char *id)
{
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = id;
    gw_ctx_query_batchable(ctx, "SELECT feegate.api_get_payment($1, $2)", 2, payment_done);
}

static void find_payments(struct gw_ctx *ctx)
{
    struct evkeyvalq q;
    if (ctx->query == NULL || evhttp_parse_query_str(ctx->query, &q) != 0) {
        gw_reply_error(ctx, 400, "invalid_request", "order_ref is required");
        return;
    }
    const char *ref = evhttp_find_header(&q, "order_ref");
    const char *copy = ref != NULL ? gw_arena_strdup(&ctx->arena, ref) : NULL;
    evhttp_clear_headers(&q);
    if (copy == NULL || !gw_valid_order_ref(copy)) {
        gw_reply_error(ctx, 400, "invalid_request", "order_ref must be 1-64 of [A-Za-z0-9._:/-]");
        return;
    }
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = copy;
    gw_ctx_query_batchable(ctx, "SELECT feegate.api_find_payments($1, $2)", 2, list_done);
}

static void cancel_payment(struct gw_ctx *ctx, const char *id)
{
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = id;
    ctx->params[2] = ctx->idem_key;
    ctx->params[3] = body_sha256(ctx);
    ctx->params[4] = ctx->signature;
    ctx->params[5] = ctx->sig_expires_unix;
    gw_ctx_query(ctx,
                 "SELECT http_status, body, replayed FROM "
                 "feegate.api_cancel_payment($1, $2, $3, $4, $5, $6::bigint)",
                 6, idem_done);
}

static void simple_call(struct gw_ctx *ctx, const char *sql, const char *id)
{
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = id;
    gw_ctx_query(ctx, sql, id != NULL ? 2 : 1, json_only_done);
}

static bool negotiate(struct gw_ctx *ctx)
{
    const char *ct = gw_ctx_header(ctx, "Content-Type");
    const char *accept = gw_ctx_header(ctx, "Accept");
    ctx->proto_in = ct != NULL && strncmp(ct, GW_PB_CONTENT_TYPE, strlen(GW_PB_CONTENT_TYPE)) == 0;
    ctx->proto_out = ctx->proto_in || (accept != NULL && strstr(accept, GW_PB_CONTENT_TYPE));
    if (ctx->method == EVHTTP_REQ_POST && ctx->body_len > 0 && !ctx->proto_in &&
        (ct == NULL || strncmp(ct, "application/json", 16) != 0)) {
        gw_reply_error(ctx, 415, "unsupported_media_type",
                       "send application/json or application/x-protobuf");
        return false;
    }
    ctx->idem_key = gw_ctx_header(ctx, "Idempotency-Key");
    if (ctx->idem_key != NULL && !gw_valid_idem_key(ctx->idem_key)) {
        gw_reply_error(ctx, 400, "invalid_idempotency_key",
                       "Idempotency-Key must be 1-255 of [A-Za-z0-9_-]");
        return false;
    }
    return true;
}

/* Create, cancel and refund move money or may: each must carry its Idempotency-Key, so that
 * a retry after a lost answer can never do it twice (docs/api.md, "Idempotency"). Checked
 * before the body, so the answer names what is missing; nothing is written. */
static bool idem_key_given(struct gw_ctx *ctx)
{
    if (ctx->idem_key != NULL) {
        return true;
    }
    gw_reply_error(ctx, 400, "idempotency_key_required",
                   "Idempotency-Key is required: send a new random key (1-255 of "
                   "[A-Za-z0-9_-]) with each operation, and the same key when you retry it");
    return false;
}

static bool payment_id_ok(struct gw_ctx *ctx, const char *id)
{
    if (gw_valid_payment_id(id)) {
        return true;
    }
    gw_reply_error(ctx, 404, "not_found", "no such payment");
    return false;
}

static void route_payments(struct gw_ctx *ctx)
{
    bool get = ctx->method == EVHTTP_REQ_GET;
    bool post = ctx->method == EVHTTP_REQ_POST;
    if (ctx->n_seg == 2 && post) {
        if (idem_key_given(ctx)) {
            create_payment(ctx);
        }
    } else if (ctx->n_seg == 2 && get) {
        find_payments(ctx);
    } else if (ctx->n_seg == 3 && get) {
        if (payment_id_ok(ctx, ctx->seg[2])) {
            get_payment(ctx, ctx->seg[2]);
        }
    } else if (ctx->n_seg == 4 && post && strcmp(ctx->seg[3], "cancel") == 0) {
        if (payment_id_ok(ctx, ctx->seg[2]) && idem_key_given(ctx)) {
            cancel_payment(ctx, ctx->seg[2]);
        }
    } else if (ctx->n_seg == 4 && (get || post) && strcmp(ctx->seg[3], "refunds") == 0) {
        if (payment_id_ok(ctx, ctx->seg[2]) && (!post || idem_key_given(ctx))) {
            gw_handle_refunds(ctx, ctx->seg[2], post);
        }
    } else if (ctx->n_seg == 4 && get && strcmp(ctx->seg[3], "events") == 0) {
        if (payment_id_ok(ctx, ctx->seg[2])) {
            simple_call(ctx, "SELECT feegate.api_payment_events($1, $2)", ctx->seg[2]);
        }
    } else {
        gw_reply_error(ctx, ctx->n_seg <= 4 ? 405 : 404, "not_found",
                       "no such method and path in API v1");
    }
}

static void count_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    ctx->proto_out = false;
    if (err != GW_OK) {
        gw_reply_db_error(ctx, err, res);
        return;
    }
    char *body = gw_arena_printf(&ctx->arena, "{\"replayed\":%s}", PQgetvalue(res, 0, 0));
    gw_reply_json(ctx, 200, body != NULL ? body : "{}");
}

/* The query parameter of ctx's query string, copied into the arena, or NULL. */
static const char *query_param(struct gw_ctx *ctx, const char *name)
{
    struct evkeyvalq q;
    if (ctx->query == NULL || evhttp_parse_query_str(ctx->query, &q) != 0) {
        return NULL;
    }
    const char *v = evhttp_find_header(&q, name);
    const char *copy = v != NULL ? gw_arena_strdup(&ctx->arena, v) : NULL;
    evhttp_clear_headers(&q);
    return copy;
}

static void list_webhooks(struct gw_ctx *ctx)
{
    const char *since = query_param(ctx, "since");
    const char *limit = query_param(ctx, "limit");
    if ((since != NULL && !gw_valid_rfc3339(since)) ||
        (limit != NULL && (strlen(limit) == 0 || strlen(limit) > 4 ||
                           strspn(limit, "0123456789") != strlen(limit)))) {
        gw_reply_error(ctx, 400, "invalid_request",
                       "since must be an RFC 3339 time and limit a number up to 1000");
        return;
    }
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = since;
    ctx->params[2] = limit;
    gw_ctx_query(ctx, "SELECT feegate.webhook_list($1, $2::timestamptz, $3::int)", 3,
                 json_only_done);
}

/* A replay of webhooks, with the signed request it answers (accepted once). */
static const char webhook_replay_sql[] =
    "SELECT feegate.webhook_replay($1, $2, $3::timestamptz, $4::timestamptz, $5, $6::bigint)";

/* POST /v1/webhooks/replay {"from": RFC 3339, "to": RFC 3339}. */
static void replay_range(struct gw_ctx *ctx)
{
    json_error_t jerr;
    json_t *j = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *from = json_string_value(json_object_get(j, "from"));
    const char *to = json_string_value(json_object_get(j, "to"));
    bool ok = json_is_object(j) && json_object_size(j) == 2 && from != NULL && to != NULL &&
              gw_valid_rfc3339(from) && gw_valid_rfc3339(to);
    if (ok) {
        ctx->params[2] = gw_arena_strdup(&ctx->arena, from);
        ctx->params[3] = gw_arena_strdup(&ctx->arena, to);
    }
    json_decref(j);
    if (!ok) {
        gw_reply_error(ctx, 400, "invalid_request",
                       "send {\"from\": RFC 3339 time, \"to\": RFC 3339 time}");
        return;
    }
    ctx->params[0] = ctx->client_id;
    ctx->params[1] = NULL;
    ctx->params[4] = ctx->signature;
    ctx->params[5] = ctx->sig_expires_unix;
    gw_ctx_query(ctx, webhook_replay_sql, 6, count_done);
}

static void route_webhooks(struct gw_ctx *ctx)
{
    bool get = ctx->method == EVHTTP_REQ_GET;
    bool post = ctx->method == EVHTTP_REQ_POST;
    if (ctx->n_seg == 2 && get) {
        list_webhooks(ctx);
    } else if (ctx->n_seg == 3 && post && strcmp(ctx->seg[2], "replay") == 0) {
        replay_range(ctx);
    } else if (ctx->n_seg >= 3 && !gw_valid_event_id(ctx->seg[2])) {
        gw_reply_error(ctx, 404, "not_found", "no such webhook event");
    } else if (ctx->n_seg == 3 && get) {
        simple_call(ctx, "SELECT feegate.webhook_get($1, $2)", ctx->seg[2]);
    } else if (ctx->n_seg == 4 && post && strcmp(ctx->seg[3], "replay") == 0) {
        ctx->params[0] = ctx->client_id;
        ctx->params[1] = ctx->seg[2];
        ctx->params[2] = NULL;
        ctx->params[3] = NULL;
        ctx->params[4] = ctx->signature;
        ctx->params[5] = ctx->sig_expires_unix;
        gw_ctx_query(ctx, webhook_replay_sql, 6, count_done);
    } else {
        gw_reply_error(ctx, 404, "not_found", "no such method and path in API v1");
    }
}

void gw_handle_api(struct gw_ctx *ctx)
{
    if (!negotiate(ctx)) {
        return;
    }
    if (ctx->n_seg >= 2 && strcmp(ctx->seg[1], "finance") == 0) {
        gw_handle_finance(ctx); /* staff, not portal clients */
        return;
    }
    if (!gw_auth_check(ctx)) {
        return;
    }
    if (ctx->n_seg >= 2 && strcmp(ctx->seg[1], "payments") == 0) {
        route_payments(ctx);
        return;
    }
    if (ctx->n_seg >= 2 && strcmp(ctx->seg[1], "webhooks") == 0) {
        route_webhooks(ctx);
        return;
    }
    if (ctx->n_seg == 2 && strcmp(ctx->seg[1], "catalog") == 0 && ctx->method == EVHTTP_REQ_GET) {
        simple_call(ctx, "SELECT feegate.api_catalog($1)", NULL);
        return;
    }
    gw_reply_error(ctx, 404, "not_found", "no such resource in API v1");
}
