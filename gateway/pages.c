/* Citizen pages: the index, and the routing of GET /, GET|POST /pay/{id},
 * GET /return/{channel}, GET /receipts/{id}[.pdf|.xml] and GET|POST /verify to the page
 * families: page_checkout.c, page_return.c, page_receipt.c, page_verify.c. They write HTML
 * with the kit of html.c, in Vietnamese or English, without JavaScript; every page is one
 * database call whose answer is read leniently (page_view.c). */
#include "pages.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>

#include "gw_time.h"
#include "page_checkout.h"
#include "page_common.h"
#include "page_receipt.h"
#include "page_return.h"
#include "page_verify.h"
#include "rate.h"
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
    gw_pg_s(&p, "</p>");
    gw_pg_link_p(&p, p.lang == GW_LANG_EN ? "/verify?lang=en" : "/verify?lang=vi",
                 GW_MSG_INDEX_VERIFY);
    gw_pg_s(&p, "</section>");
    gw_page_end(&p);
    gw_page_send(ctx, &p, 200);
}

/* ---- the rate limit of the public pages ---- */

/* One token of the client address's bucket on this loop (rate.c); none left: the 429 page
 * with Retry-After, and false. An address that cannot be read (IPv4 only) is not limited. */
static bool page_rate_ok(struct gw_ctx *ctx)
{
    char *addr = NULL;
    ev_uint16_t port = 0;
    struct in_addr ia;
    if (ctx->cancelled || ctx->evcon == NULL) {
        return true;
    }
    evhttp_connection_get_peer(ctx->evcon, &addr, &port);
    if (addr == NULL || inet_pton(AF_INET, addr, &ia) != 1) {
        return true;
    }
    const struct gw_config *cfg = &ctx->loop->srv->cfg;
    const struct gw_rate_cfg rc = { .burst = cfg->page_rate_burst,
                                    .per_min = cfg->page_rate_per_min };
    int retry_after_s = 1;
    const struct gw_rate_hit hit = { .addr = ntohl(ia.s_addr), .now_ms = gw_monotonic_us() / 1000 };
    if (gw_rate_take(&ctx->loop->page_rate, &rc, &hit, &retry_after_s)) {
        return true;
    }
    char v[16];
    (void)snprintf(v, sizeof(v), "%d", retry_after_s);
    evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", v);
    gw_page_error(ctx, 429, GW_MSG_TOO_MANY, NULL);
    return false;
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
    memset(st, 0, sizeof(*st));
    ctx->state = st;
    st->lang = gw_page_accept_lang(gw_ctx_header(ctx, "Accept-Language"));
    st->lang_forced = gw_page_query_lang(ctx->query, &st->lang);
    if (!page_rate_ok(ctx)) {
        return;
    }
    if (gw_page_query_lang_unknown(ctx->query)) {
        gw_page_error(ctx, 400, GW_MSG_LANG_NOT_OFFERED, NULL);
        return;
    }
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
        gw_page_error(ctx, 404, GW_MSG_NOT_FOUND_HINT, NULL);
    }
}
