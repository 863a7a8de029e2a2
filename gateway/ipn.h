/* Provider callbacks (ipn.c). */
#ifndef GW_GATEWAY_IPN_H
#define GW_GATEWAY_IPN_H

struct gw_ctx;

/* /ipn/{channel}: verify, apply, answer in the provider's words. */
void gw_handle_ipn(struct gw_ctx *ctx);

#endif
