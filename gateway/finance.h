/* Finance staff's API (finance.c). */
#ifndef GW_GATEWAY_FINANCE_H
#define GW_GATEWAY_FINANCE_H

struct gw_ctx;

/* /v1/finance/... for finance staff; called by gw_handle_api. */
void gw_handle_finance(struct gw_ctx *ctx);

#endif
