/* The page a provider sends the browser back to, GET /return/{channel}: the adapter
 * verifies the provider's signed query, then the payment is shown as the database knows it.
 * It only displays: the payment's state changes only on a verified callback, so success is
 * never announced from the browser's word. */
#include "page_return.h"

#include <string.h>

#include "gw_log.h"
#include "page_common.h"
#include "page_view.h"
#include "request.h"
#include "routing.h"

#include "banned.h"

/* ---- GET /return/{channel} ---- */

/* The return page's own address with a language: "lang=xx&" before the provider's query. */
static const char *return_href(struct gw_ctx *ctx, enum gw_lang lang)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    return gw_arena_printf(&ctx->arena, "/return/%s?lang=%s&%s", st->ch->ops->name,
                           gw_i18n_code(lang), st->ret_query);
}

/* Still open and confirmed by nobody yet: wait, and refresh (never pay again blindly). */
static void pg_return_waiting(struct gw_ctx *ctx, struct gw_page *p)
{
    gw_pg_s(p, "<section class=\"card warn\"><p>");
    gw_pg_m(p, GW_MSG_CONFIRMING);
    gw_pg_s(p, "</p>");
    const char *self = return_href(ctx, p->lang);
    if (self != NULL) {
        gw_pg_s(p, "<p><a class=\"btn\" href=\"");
        gw_pg_e(p, self);
        gw_pg_s(p, "\">");
        gw_pg_m(p, GW_MSG_REFRESH);
        gw_pg_s(p, "</a></p>");
    }
    gw_pg_s(p, "</section>");
}

/* Declined (the provider's signed return says so, or the database already knows): the fee
 * can still be paid, so the checkout's choice of channels is right here. */
static void pg_return_declined(struct gw_ctx *ctx, struct gw_page *p, const struct gw_pay_view *vw,
                               bool declined)
{
    gw_pg_attempts(p, vw, declined);
    const struct gw_pay_offer offer = { .loop = ctx->loop, .skip = NULL, .missing_choice = false };
    gw_pg_pay_form(p, vw, &offer);
}

static void return_render(struct gw_ctx *ctx, const json_t *root)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    struct gw_pay_view vw;
    gw_view_init(&vw, root);
    gw_page_lang_from(st, gw_view_str(&vw, "locale"));
    bool declined = st->ret.outcome == GW_PAY_FAILED;
    const char *status = gw_view_status(&vw);
    enum gw_msg heading = gw_view_heading(&vw, declined);
    if (heading == GW_MSG_CHECKOUT_TITLE) {
        heading = gw_status_open(status) ? GW_MSG_H_IN_PROGRESS : GW_MSG_RETURN_TITLE;
    }
    struct gw_page p;
    gw_page_init(&p, st->lang);
    gw_page_begin(&p, gw_i18n(p.lang, heading), return_href(ctx, gw_page_other_lang(p.lang)));
    gw_pg_heading(&p, heading);
    gw_pg_status_line(&p, &vw);
    if (gw_status_paid(status)) {
        gw_pg_paid(&p, &vw);
    } else if (heading == GW_MSG_H_DECLINED) {
        pg_return_declined(ctx, &p, &vw, declined);
    } else if (gw_status_open(status)) {
        pg_return_waiting(ctx, &p);
    } else {
        gw_pg_closed(&p, &vw);
    }
    gw_pg_payment_card(&p, &vw);
    gw_pg_back_to_portal(&p, &vw);
    gw_page_end(&p);
    gw_page_send(ctx, &p, 200);
}

static void return_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    json_t *v = gw_page_db_json(ctx, err, res, NULL);
    if (v == NULL) {
        return;
    }
    return_render(ctx, v);
    json_decref(v);
}

void gw_page_return_view(struct gw_ctx *ctx, const char *channel)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    st->ch = gw_channel_pin(ctx->loop->srv, &ctx->arena, channel);
    if (st->ch == NULL) {
        gw_page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
        return;
    }
    st->ret_query = gw_page_strip_lang(ctx->query);
    struct gw_adapter_input in = {
        .method = "GET",
        .query = st->ret_query,
        .query_len = strlen(st->ret_query),
        .body = "",
        .body_len = 0,
    };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = st->ch->ops->return_parse(&st->ch->adapter, &in, &ctx->arena, &st->ret, &eb);
    if (err != GW_OK || st->ret.merchant_ref[0] == '\0') {
        gw_log_info("return_unverified", "\"channel\":\"%s\",\"err\":\"%s\"", st->ch->ops->name,
                    gw_err_name(err));
        gw_page_error(ctx, 400, GW_MSG_RETURN_UNVERIFIED, NULL);
        return;
    }
    ctx->params[0] = st->ret.merchant_ref;
    gw_ctx_query(ctx,
                 "SELECT feegate.checkout_view(a.payment_id) FROM feegate.payment_attempts a "
                 "WHERE a.merchant_ref = $1",
                 1, return_done);
}
