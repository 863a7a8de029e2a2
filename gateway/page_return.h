/* The return page (page_return.c). */
#ifndef GW_GATEWAY_PAGE_RETURN_H
#define GW_GATEWAY_PAGE_RETURN_H

struct gw_ctx;

/* GET /return/{channel}?{the provider's signed query}. */
void gw_page_return_view(struct gw_ctx *ctx, const char *channel);

#endif
