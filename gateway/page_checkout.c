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

/* The channel code and display name of one entry of "channels": "sandbox" or
 * {"code":"sandbox","name":"...","enabled":true}. False for entries to skip. */
static bool channel_entry(const json_t *e, const char **code, const char **name)
{
    if (json_is_string(e)) {
        *code = json_string_value(e);
        *name = *code;
        return true;
    }
    if (!json_is_object(e) || json_is_false(json_object_get(e, "enabled"))) {
        return false;
    }
    *code = gw_json_has(e, "code") ? gw_json_str(e, "code") : gw_json_str(e, "channel");
    *name = gw_json_has(e, "name") ? gw_json_str(e, "name") : *code;
    return (*code)[0] != '\0';
}

/* Which channels the pay form may offer: those up on this loop, but the one that failed. */
struct pg_offer {
    struct gw_loop *loop;
    const char *skip;
};

/* One radio button per channel the agency offers and this gateway has configured and up
 * (not in maintenance, breaker not open: routing.c). */
static int pg_channel_options(struct gw_page *p, const struct gw_pay_view *vw,
                              const struct pg_offer *cfg)
{
    const json_t *channels = gw_view_get(vw, "channels");
    int shown = 0;
    time_t now = time(NULL);
    for (size_t i = 0; i < json_array_size(channels); i++) {
        const char *code = NULL;
        const char *name = NULL;
        const struct gw_channel_config *ch = NULL;
        if (!channel_entry(json_array_get(channels, i), &code, &name) ||
            (cfg->skip != NULL && strcmp(code, cfg->skip) == 0) ||
            (ch = gw_live_channel(cfg->loop->srv, code)) == NULL ||
            !gw_channel_up(cfg->loop, ch, now)) {
            continue;
        }
        gw_pg_s(p, "<label class=\"opt\"><input type=\"radio\" name=\"channel\" required value=\"");
        gw_pg_e(p, code);
        gw_pg_s(p, shown == 0 ? "\" checked> " : "\"> ");
        gw_pg_e(p, name);
        gw_pg_s(p, "</label>");
        shown++;
    }
    return shown;
}

static void pg_pay_form(struct gw_page *p, const struct gw_pay_view *vw, const struct pg_offer *cfg,
                        const char *id)
{
    gw_pg_f(p, "<form class=\"card\" method=\"post\" action=\"/pay/%s?lang=%s\"><fieldset><legend>",
            id, gw_i18n_code(p->lang));
    gw_pg_m(p, GW_MSG_CHOOSE_CHANNEL);
    gw_pg_s(p, "</legend>");
    if (pg_channel_options(p, vw, cfg) > 0) {
        gw_pg_s(p, "</fieldset><p><button type=\"submit\">");
        gw_pg_m(p, GW_MSG_PAY_BUTTON);
        gw_pg_s(p, " ");
        gw_pg_vnd(p, gw_json_int(vw->pay, "amount_vnd"));
        gw_pg_s(p, "</button></p></form>");
        return;
    }
    gw_pg_s(p, "</fieldset><p>");
    gw_pg_m(p, GW_MSG_NO_CHANNEL);
    gw_pg_s(p, "</p></form>");
}

/* What can be done now: pay, see the receipt, or read why not. */
static void pg_checkout_action(struct gw_page *p, const struct gw_pay_view *vw,
                               const struct pg_offer *cfg, const char *id)
{
    const char *status = gw_view_status(vw);
    if (gw_view_payable(vw)) {
        pg_pay_form(p, vw, cfg, id);
        return;
    }
    if (gw_status_paid(status)) {
        gw_pg_paid(p, vw);
        return;
    }
    gw_pg_s(p, "<section class=\"card bad\"><p><strong>");
    gw_pg_m(p, GW_MSG_NOT_PAYABLE);
    gw_pg_s(p, "</strong> ");
    gw_pg_e(p, gw_i18n_status(p->lang, status));
    gw_pg_s(p, ".</p>");
    if (strcmp(status, "expired") == 0) {
        gw_pg_s(p, "<p>");
        gw_pg_m(p, GW_MSG_EXPIRED_NOTE);
        gw_pg_s(p, "</p>");
    }
    gw_pg_s(p, "</section>");
}

static void checkout_render(struct gw_ctx *ctx, const json_t *root)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    struct gw_pay_view vw;
    gw_view_init(&vw, root);
    gw_page_lang_from(st, gw_view_str(&vw, "locale"));
    struct gw_page p;
    gw_page_init(&p, st->lang);
    gw_page_begin(&p, gw_i18n(p.lang, GW_MSG_CHECKOUT_TITLE),
                  gw_page_lang_href(ctx, "/pay/", st->id, gw_page_other_lang(p.lang)));
    gw_pg_s(&p, "<h1>");
    gw_pg_m(&p, GW_MSG_CHECKOUT_TITLE);
    gw_pg_s(&p, "</h1>");
    gw_pg_payment_card(&p, &vw);
    if (st->skip_channel != NULL) {
        gw_pg_s(&p, "<section class=\"card bad\"><p>");
        gw_pg_m(&p, GW_MSG_PROVIDER_ERROR);
        gw_pg_s(&p, "</p></section>");
    }
    const struct pg_offer offer = { .loop = ctx->loop, .skip = st->skip_channel };
    pg_checkout_action(&p, &vw, &offer, st->id);
    gw_pg_back_to_portal(&p, &vw);
    gw_page_end(&p);
    gw_page_send(ctx, &p, 200);
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
    /* A copy: the configuration may be reloaded while the provider is called. */
    st->ch = channel != NULL ? gw_channel_pin(ctx->loop->srv, &ctx->arena, channel) : NULL;
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
