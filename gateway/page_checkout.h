/* The checkout page and its form (page_checkout.c). */
#ifndef GW_GATEWAY_PAGE_CHECKOUT_H
#define GW_GATEWAY_PAGE_CHECKOUT_H

struct gw_ctx;

/* GET /pay/{id}; id is a valid payment id. */
void gw_page_checkout_view(struct gw_ctx *ctx, const char *id);
/* POST /pay/{id} with the chosen channel; id is a valid payment id. */
void gw_page_checkout_begin(struct gw_ctx *ctx, const char *id);

#endif
