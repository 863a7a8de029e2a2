/* Portal webhook delivery from the outbox, on loop 0 (outbox.c). */
#ifndef GW_GATEWAY_OUTBOX_H
#define GW_GATEWAY_OUTBOX_H

#include <stddef.h>

struct gw_loop;

void gw_outbox_start(struct gw_loop *loop);
void gw_outbox_stop(struct gw_loop *loop);
void gw_outbox_free(struct gw_loop *loop);
/* Webhook deliveries under way. */
size_t gw_outbox_inflight(const struct gw_loop *loop);

#endif
