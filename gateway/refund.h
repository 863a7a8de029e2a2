/* Refunds through the providers' refund APIs (refund.c, docs/api.md "Refunds"). */
#ifndef GW_GATEWAY_REFUND_H
#define GW_GATEWAY_REFUND_H

#include <stdbool.h>

struct gw_ctx;
struct gw_loop;

/* POST (post true) or GET /v1/payments/{payment_id}/refunds, for an authenticated client. */
void gw_handle_refunds(struct gw_ctx *ctx, const char *payment_id, bool post);

/* Loop 0: queries refunds whose outcome is unknown, on a schedule, until final. */
void gw_refunds_start(struct gw_loop *loop);
void gw_refunds_stop(struct gw_loop *loop);
void gw_refunds_free(struct gw_loop *loop);

#endif
