/* The checkout page, GET /pay/{id}: the payment and the channels the agency offers that are
 * up on this loop; and its form, POST /pay/{id}: checkout_begin in the database, then the
 * provider, by a signed browser redirect (checkout) or a server-side create (the provider
 * call, provider.c), then 303 to the provider's page. A channel that fails shows the page
 * again without it. */
#include "page_checkout.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "gw_crypto.h"
#include "gw_log.h"
#include "gw_url.h"
#include "page_common.h"
#include "page_view.h"
#include "provider.h"
#include "request.h"
#include "routing.h"

#include "banned.h"

/* ---- GET /pay/{id} ---- */

static void checkout_render(struct gw_ctx *ctx, const json_t *root)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    struct gw_pay_view vw;
    gw_view_init(&vw, root);
    gw_page_lang_from(st, gw_view_str(&vw, "locale"));
    struct gw_page p;
    gw_page_init(&p, st->lang);
    enum gw_msg heading = gw_view_heading(&vw, false);
    bool payable = gw_view_payable(&vw);
    bool form_error = st->missing_choice && payable;
    gw_page_begin(&p, gw_page_title(ctx, p.lang, heading, form_error),
                  gw_page_lang_href(ctx, "/pay/", st->id, gw_page_other_lang(p.lang)));
    if (form_error) {
        gw_pg_error_summary(&p, GW_MSG_ERR_CHOOSE_CHANNEL, "channel-0");
    }
    gw_pg_heading(&p, heading);
    gw_pg_status_line(&p, &vw);
    if (st->skip_channel != NULL) {
        gw_pg_s(&p, "<section class=\"card bad\"><p>");
        gw_pg_m(&p, GW_MSG_PROVIDER_ERROR);
        gw_pg_s(&p, "</p></section>");
    }
    if (payable) {
        gw_pg_attempts(&p, &vw, false);
        const struct gw_pay_offer offer = { .loop = ctx->loop,
                                            .skip = st->skip_channel,
                                            .missing_choice = form_error };
        gw_pg_pay_form(&p, &vw, &offer);
    } else if (gw_status_paid(gw_view_status(&vw))) {
        gw_pg_paid(&p, &vw);
    } else {
        gw_pg_closed(&p, &vw);
    }
    gw_pg_payment_card(&p, &vw);
    gw_pg_back_to_portal(&p, &vw);
    gw_page_end(&p);
    gw_page_send(ctx, &p, form_error ? 422 : st->conflict ? 409 : 200);
}

static void checkout_view_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    json_t *v = gw_page_db_json(ctx, err, res, NULL);
    if (v == NULL) {
        return;
    }
    checkout_render(ctx, v);
    json_decref(v);
}

void gw_page_checkout_view(struct gw_ctx *ctx, const char *id)
{
    gw_page_state_of(ctx)->id = id;
    ctx->params[0] = id;
    gw_ctx_query_batchable(ctx, "SELECT feegate.checkout_view($1)", 1, checkout_view_done);
}

/* ---- POST /pay/{id} ---- */

static const char *client_ip(struct gw_ctx *ctx)
{
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (ctx->cancelled || ctx->evcon == NULL) {
        return "";
    }
    evhttp_connection_get_peer(ctx->evcon, &addr, &port);
    return addr != NULL ? addr : "";
}

static void log_checkout_failure(const char *channel, const char *payment_id, enum gw_err err,
                                 const char *msg)
{
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    if (gw_buf_add_json_escaped(&b, msg) != GW_OK) {
        gw_buf_reset(&b);
    }
    gw_log_warn("checkout_redirect_failed",
                "\"channel\":\"%s\",\"payment_id\":\"%s\",\"err\":\"%s\",\"msg\":\"%s\"", channel,
                payment_id, gw_err_name(err), gw_buf_str(&b));
    gw_buf_release(&b);
}

/* A create that failed: the checkout page again, with the message and the other channels. */
static void checkout_create_failed(struct gw_ctx *ctx, enum gw_err err, const char *why)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    log_checkout_failure(st->ch->ops->name, st->id, err, why);
    st->skip_channel = st->ch->ops->name;
    gw_page_checkout_view(ctx, st->id);
}

/* The provider's answer to a server-side create (MoMo, ZaloPay): 303 to its pay URL. */
static void checkout_create_done(void *arg, const struct gw_provider_answer *a)
{
    struct gw_ctx *ctx = arg;
    const struct gw_adapter_created *created = &a->created;
    if (!a->answered) {
        checkout_create_failed(ctx, a->err, a->why);
        return;
    }
    if (a->err != GW_OK || !created->created || created->pay_url == NULL) {
        checkout_create_failed(ctx, a->err != GW_OK ? a->err : GW_ERR_INVALID,
                               a->err != GW_OK ? a->why
                                               : gw_arena_printf(&ctx->arena, "refused, code %s",
                                                                 created->provider_code));
        return;
    }
    if (ctx->cancelled) {
        gw_reply(ctx, 499, "text/plain", "", 0);
        return;
    }
    gw_reply_redirect(ctx, 303, created->pay_url);
}

/* Server-side create: build, send through this loop's HTTP client, answer when it answers. */
static void checkout_create(struct gw_ctx *ctx, const struct gw_charge *charge)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    st->call = (struct gw_provider_call){ .kind = GW_CALL_CREATE,
                                          .loop = ctx->loop,
                                          .ch = st->ch,
                                          .arena = &ctx->arena,
                                          .charge = charge,
                                          .done = checkout_create_done,
                                          .arg = ctx };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = gw_provider_call(&st->call, &eb);
    if (err != GW_OK) {
        checkout_create_failed(ctx, err, eb.msg);
    }
}

static const char *new_request_id(struct gw_ctx *ctx)
{
    unsigned char rnd[16];
    char hex[33];
    if (gw_random_bytes(rnd, sizeof(rnd)) != GW_OK) {
        return NULL;
    }
    gw_hex_encode(rnd, sizeof(rnd), hex);
    return gw_arena_strdup(&ctx->arena, hex);
}

static void checkout_begin_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct gw_page_state *st = gw_page_state_of(ctx);
    const char *back = gw_page_lang_href(ctx, "/pay/", st->id, st->lang);
    const char *state =
        err != GW_OK && res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL && strcmp(state, "FG409") == 0) {
        /* No longer payable (it expired, was cancelled or paid meanwhile): the payment's page
         * says what happened and what to do, answered 409. */
        st->conflict = true;
        gw_page_checkout_view(ctx, st->id);
        return;
    }
    json_t *v = gw_page_db_json(ctx, err, res, back);
    if (v == NULL) {
        return;
    }
    struct gw_charge charge = {
        .payment_id = st->id,
        .merchant_ref = gw_json_str(v, "merchant_ref"),
        .amount_vnd = gw_json_int(v, "amount_vnd"),
        .order_info = gw_json_str(v, "order_info"),
        /* the provider's page in the language the citizen chose, else the payment's */
        .locale = st->lang_forced || !gw_json_has(v, "locale") ? gw_i18n_code(st->lang)
                                                               : gw_json_str(v, "locale"),
        .client_ip = client_ip(ctx),
        .created_at = (time_t)gw_json_int(v, "created_at_unix"),
        .expires_at = (time_t)gw_json_int(v, "expires_at_unix"),
        .request_id = new_request_id(ctx),
        .requested_at = time(NULL),
        .provider_txn_id = NULL,
    };
    if (charge.request_id == NULL) {
        json_decref(v);
        gw_page_error(ctx, 503, GW_MSG_INTERNAL, back);
        return;
    }
    if (st->ch->ops->caps & GW_ADAPTER_CAP_CREATE) {
        checkout_create(ctx, &charge); /* copies what it needs before returning */
        json_decref(v);
        return;
    }
    char *url = NULL;
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err cerr = st->ch->ops->checkout(&st->ch->adapter, &charge, &ctx->arena, &url, &eb);
    json_decref(v); /* charge borrowed from v: not used below */
    if (cerr != GW_OK || url == NULL) {
        log_checkout_failure(st->ch->ops->name, st->id, cerr, eb.msg);
        gw_page_error(ctx, 502, GW_MSG_PROVIDER_ERROR, back);
        return;
    }
    gw_reply_redirect(ctx, 303, url);
}

void gw_page_checkout_begin(struct gw_ctx *ctx, const char *id)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    st->id = id;
    const char *back = gw_page_lang_href(ctx, "/pay/", id, st->lang);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (gw_form_parse(&ctx->arena, ctx->body, ctx->body_len, GW_PAGE_FORM_PAIRS_MAX, &kv, &n) !=
        GW_OK) {
        gw_page_error(ctx, 400, GW_MSG_BAD_REQUEST, back);
        return;
    }
    const char *channel = gw_kv_get(kv, n, "channel");
    if (channel == NULL || channel[0] == '\0') {
        /* The form sent without a choice: the page again, with its error summary (422). */
        st->missing_choice = true;
        gw_page_checkout_view(ctx, id);
        return;
    }
    /* A copy: the configuration may be reloaded while the provider is called. */
    st->ch = gw_channel_pin(ctx->loop->srv, &ctx->arena, channel);
    if (st->ch == NULL) {
        gw_page_error(ctx, 422, GW_MSG_CHANNEL_NOT_ALLOWED, back);
        return;
    }
    if (!gw_channel_up(ctx->loop, st->ch, time(NULL))) {
        gw_log_info("checkout_channel_down", "\"channel\":\"%s\",\"payment_id\":\"%s\"",
                    st->ch->ops->name, id);
        st->skip_channel = st->ch->ops->name;
        gw_page_checkout_view(ctx, id);
        return;
    }
    ctx->params[0] = id;
    ctx->params[1] = st->ch->ops->name;
    ctx->params[2] = ctx->loop->srv->cfg.public_url;
    gw_ctx_query_batchable(ctx, "SELECT feegate.checkout_begin($1, $2, $3)", 3,
                           checkout_begin_done);
}
