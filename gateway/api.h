/* The portal API v1 (api.c). */
#ifndef GW_GATEWAY_API_H
#define GW_GATEWAY_API_H

struct gw_ctx;

/* /v1/...: payments, refunds, finance staff's /v1/finance/... */
void gw_handle_api(struct gw_ctx *ctx);

#endif
