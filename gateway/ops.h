/* Operations endpoints (ops.c). */
#ifndef GW_GATEWAY_OPS_H
#define GW_GATEWAY_OPS_H

struct gw_ctx;

/* GET /healthz, /readyz, /metrics. */
void gw_handle_ops(struct gw_ctx *ctx);

#endif
