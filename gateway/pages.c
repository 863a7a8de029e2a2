/* Citizen pages: the index, and the routing of GET /, GET|POST /pay/{id},
 * GET /return/{channel}, GET /receipts/{id}[.pdf|.xml] and GET|POST /verify to the page
 * families: page_checkout.c, page_return.c, page_receipt.c, page_verify.c. They write HTML
 * with the kit of html.c, in Vietnamese or English, without JavaScript; every page is one
 * database call whose answer is read leniently (page_view.c). */
#include "pages.h"

#include <stdbool.h>
#include <string.h>

#include <event2/http.h>

#include "page_checkout.h"
#include "page_common.h"
#include "page_receipt.h"
#include "page_return.h"
#include "page_verify.h"
#include "request.h"
#include "validate.h"

#include "banned.h"

/* ---- GET / ---- */

static void index_page(struct gw_ctx *ctx)
{
    struct gw_page p;
    gw_page_init(&p, gw_page_state_of(ctx)->lang);
    gw_page_begin(&p, gw_i18n(p.lang, GW_MSG_SITE_TAGLINE),
                  gw_page_other_lang(p.lang) == GW_LANG_EN ? "/?lang=en" : "/?lang=vi");
    gw_pg_s(&p, "<h1>");
    gw_pg_m(&p, GW_MSG_SITE_TAGLINE);
    gw_pg_s(&p, "</h1><section class=\"card\"><p>");
    gw_pg_m(&p, GW_MSG_INDEX_INTRO);
    gw_pg_s(&p, "</p><p>");
    gw_pg_m(&p, GW_MSG_INDEX_CITIZEN);
    gw_pg_s(&p, "</p><p>");
    gw_pg_m(&p, GW_MSG_INDEX_PORTAL);
    gw_pg_s(&p, " <code>docs/api.md</code>, <code>docs/architecture.md</code>.</p></section>");
    gw_page_end(&p);
    gw_page_send(ctx, &p, 200);
}

/* ---- routing ---- */

static void route_payment(struct gw_ctx *ctx, bool get, bool post)
{
    const char *id = ctx->seg[1];
    if (!get && !post) {
        gw_page_error(ctx, 405, GW_MSG_METHOD, NULL);
    } else if (!gw_valid_payment_id(id)) {
        gw_page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
    } else if (get) {
        gw_page_checkout_view(ctx, id);
    } else {
        gw_page_checkout_begin(ctx, id);
    }
}

void gw_handle_page(struct gw_ctx *ctx)
{
    struct gw_page_state *st = gw_arena_alloc(&ctx->arena, sizeof(*st));
    if (st == NULL) {
        gw_reply(ctx, 503, "text/plain; charset=utf-8", "busy\n", 5);
        return;
    }
    ctx->state = st;
    st->lang_forced = gw_page_query_lang(ctx->query, &st->lang);
    bool get = ctx->method == EVHTTP_REQ_GET;
    bool post = ctx->method == EVHTTP_REQ_POST;
    const char *first = ctx->n_seg > 0 ? ctx->seg[0] : "";
    if (ctx->n_seg == 0) {
        if (get) {
            index_page(ctx);
        } else {
            gw_page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else if (ctx->n_seg == 2 && strcmp(first, "pay") == 0) {
        route_payment(ctx, get, post);
    } else if (ctx->n_seg == 2 && strcmp(first, "return") == 0) {
        if (get) {
            gw_page_return_view(ctx, ctx->seg[1]);
        } else {
            gw_page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else if (ctx->n_seg == 1 && strcmp(first, "verify") == 0) {
        if (get || post) {
            gw_page_verify(ctx, get);
        } else {
            gw_page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else if (ctx->n_seg == 2 && strcmp(first, "receipts") == 0) {
        if (get) {
            gw_page_receipt_view(ctx, ctx->seg[1]);
        } else {
            gw_page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else {
        gw_page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
    }
}
