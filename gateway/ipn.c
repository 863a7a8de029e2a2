/* Provider callbacks (IPN): verify over the exact bytes, then check, deduplicate and apply
 * in one database call, then answer in the provider's own words (docs/architecture.md#principles,
 * 6). A callback that fails verification changes nothing and is only logged. */
#include "ipn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "fault.h"
#include "gw_log.h"
#include "gw_time.h"
#include "request.h"

#include "banned.h"

struct ipn_state {
    const struct gw_channel_config *ch;
    struct gw_adapter_result result;
};

static void ipn_reply(struct gw_ctx *ctx, const struct gw_channel_config *ch,
                      enum gw_callback_verdict verdict)
{
    struct gw_adapter_reply r = { .http_status = 500, .content_type = "text/plain", .body = "" };
    gw_adapter_callback_reply(ch->ops, verdict, &r);
    if ((unsigned)verdict < 8) {
        atomic_fetch_add_explicit(&ctx->loop->m.callbacks[verdict], 1, memory_order_relaxed);
    }
    gw_reply(ctx, r.http_status, r.content_type, r.body, strlen(r.body));
}

static enum gw_callback_verdict verdict_of(const char *v)
{
    if (strcmp(v, "applied") == 0) {
        return GW_CB_APPLIED;
    }
    if (strcmp(v, "duplicate") == 0) {
        return GW_CB_DUPLICATE;
    }
    if (strcmp(v, "not_found") == 0) {
        return GW_CB_NOT_FOUND;
    }
    if (strcmp(v, "amount_mismatch") == 0) {
        return GW_CB_AMOUNT_MISMATCH;
    }
    return GW_CB_RETRY_LATER;
}

static void apply_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct ipn_state *st = ctx->state;
    enum gw_callback_verdict v = GW_CB_RETRY_LATER;
    if (err == GW_OK && PQntuples(res) == 1) {
        gw_fault(GW_FAULT_CALLBACK_COMMITTED);
        v = verdict_of(PQgetvalue(res, 0, 0));
    } else {
        gw_log_error("callback_not_applied",
                     "\"channel\":\"%s\",\"merchant_ref\":\"%s\",\"db\":\"%s\"", st->ch->ops->name,
                     st->result.merchant_ref, err == GW_OK ? "bad answer" : gw_err_name(err));
    }
    if (v == GW_CB_NOT_FOUND || v == GW_CB_AMOUNT_MISMATCH) {
        gw_log_warn("callback_rejected",
                    "\"channel\":\"%s\",\"merchant_ref\":\"%s\",\"reason\":\"%s\"",
                    st->ch->ops->name, st->result.merchant_ref,
                    v == GW_CB_NOT_FOUND ? "no such reference" : "amount differs from the payment");
    } else {
        gw_log_info("callback", "\"channel\":\"%s\",\"merchant_ref\":\"%s\",\"verdict\":%d",
                    st->ch->ops->name, st->result.merchant_ref, (int)v);
    }
    ipn_reply(ctx, st->ch, v);
}

static const char *raw_of(const struct gw_ctx *ctx)
{
    return ctx->body_len > 0 ? ctx->body : (ctx->query != NULL ? ctx->query : "");
}

/* A verified callback that says "not decided yet" (VNPAY 07, fraud review): kept as evidence
 * and acknowledged as recorded, so that the provider stops; recovery queries it until final. */
static void pending_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct ipn_state *st = ctx->state;
    enum gw_callback_verdict v = GW_CB_RETRY_LATER;
    if (err == GW_OK && PQntuples(res) == 1) {
        v = verdict_of(PQgetvalue(res, 0, 0));
    }
    gw_log_info("callback_pending", "\"channel\":\"%s\",\"merchant_ref\":\"%s\",\"code\":\"%s\"",
                st->ch->ops->name, st->result.merchant_ref, st->result.provider_code);
    ipn_reply(ctx, st->ch,
              v == GW_CB_NOT_FOUND     ? GW_CB_NOT_FOUND
              : v == GW_CB_RETRY_LATER ? GW_CB_RETRY_LATER
                                       : GW_CB_APPLIED);
}

static void ipn_pending(struct gw_ctx *ctx, struct ipn_state *st)
{
    ctx->params[0] = st->ch->ops->name;
    ctx->params[1] = st->result.merchant_ref;
    ctx->params[2] = raw_of(ctx);
    gw_ctx_query(ctx, "SELECT feegate.provider_message_pending($1, $2, $3)", 3, pending_done);
}

static void log_rejected(const struct gw_channel_config *ch, const char *code, const char *why)
{
    char esc[300];
    gw_log_warn("callback_rejected", "\"channel\":\"%s\",\"error\":\"%s\",\"reason\":\"%s\"",
                ch->ops->name, code, gw_log_esc(esc, sizeof(esc), why));
}

/* After verification: is this statement about one of our payments, for our merchant? */
static bool ipn_checks(struct gw_ctx *ctx, const struct ipn_state *st)
{
    const struct gw_adapter_result *r = &st->result;
    const char *why = NULL;
    if (r->merchant_id[0] != '\0' && strcmp(r->merchant_id, st->ch->merchant_id) != 0) {
        why = "another merchant id";
    } else if (r->merchant_ref[0] == '\0') {
        why = "no reference";
    } else if (r->amount_vnd <= 0) {
        why = "no amount";
    }
    if (why == NULL) {
        return true;
    }
    log_rejected(st->ch, "invalid", why);
    ipn_reply(ctx, st->ch, GW_CB_INVALID);
    return false;
}

static void ipn_apply(struct gw_ctx *ctx, struct ipn_state *st)
{
    const struct gw_adapter_result *r = &st->result;
    char paid_at[26] = "";
    if (r->paid_at > 0) {
        gw_time_rfc3339_vn(r->paid_at, paid_at);
    }
    ctx->params[0] = st->ch->ops->name;
    ctx->params[1] = r->merchant_ref;
    ctx->params[2] = gw_pay_outcome_name(r->outcome);
    ctx->params[3] = gw_arena_printf(&ctx->arena, "%lld", (long long)r->amount_vnd);
    ctx->params[4] = r->provider_txn_id[0] != '\0' ? r->provider_txn_id : NULL;
    ctx->params[5] = paid_at[0] != '\0' ? gw_arena_strdup(&ctx->arena, paid_at) : NULL;
    ctx->params[6] = "callback";
    ctx->params[7] = raw_of(ctx);
    gw_ctx_query_batchable(ctx,
                           "SELECT feegate.apply_provider_result($1, $2, $3, $4::bigint, $5, "
                           "$6::timestamptz, $7, $8)",
                           8, apply_done);
}

void gw_handle_ipn(struct gw_ctx *ctx)
{
    const struct gw_channel_config *ch =
        ctx->n_seg == 2 ? gw_channel_pin(ctx->loop->srv, &ctx->arena, ctx->seg[1]) : NULL;
    if (ch == NULL) {
        gw_reply_error(ctx, 404, "not_found", "no such channel");
        return;
    }
    if (ctx->body_len > GW_CALLBACK_BYTES_MAX) {
        log_rejected(ch, "too_large", "callback too large");
        ipn_reply(ctx, ch, GW_CB_INVALID);
        return;
    }
    struct ipn_state *st = gw_arena_alloc(&ctx->arena, sizeof(*st));
    if (st == NULL) {
        ipn_reply(ctx, ch, GW_CB_RETRY_LATER);
        return;
    }
    st->ch = ch;
    ctx->state = st;
    const char *q = ctx->query != NULL ? ctx->query : "";
    struct gw_adapter_input in = {
        .method = ctx->method == EVHTTP_REQ_GET ? "GET" : "POST",
        .query = q,
        .query_len = strlen(q),
        .body = ctx->body,
        .body_len = ctx->body_len,
        .signature_header = ch->ops->signature_header != NULL
                                ? gw_ctx_header(ctx, ch->ops->signature_header)
                                : NULL,
        .http_status = 0,
    };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = ch->ops->callback_parse(&ch->adapter, &in, &ctx->arena, &st->result, &eb);
    if (err != GW_OK) {
        log_rejected(ch, gw_err_name(err), eb.msg);
        ipn_reply(ctx, ch, err == GW_ERR_AUTH ? GW_CB_BAD_SIGNATURE : GW_CB_INVALID);
        return;
    }
    if (!ipn_checks(ctx, st)) {
        return;
    }
    if (st->result.outcome == GW_PAY_PENDING) {
        ipn_pending(ctx, st);
        return;
    }
    if (st->result.outcome != GW_PAY_SUCCEEDED && st->result.outcome != GW_PAY_FAILED) {
        log_rejected(ch, "invalid", "outcome neither succeeded, failed nor pending");
        ipn_reply(ctx, ch, GW_CB_INVALID);
        return;
    }
    ipn_apply(ctx, st);
}
