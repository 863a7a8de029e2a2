/* Loop 0's recovery of payments whose outcome is unknown (recovery.c). */
#ifndef GW_GATEWAY_RECOVERY_H
#define GW_GATEWAY_RECOVERY_H

struct gw_loop;

void gw_recovery_start(struct gw_loop *loop);
void gw_recovery_stop(struct gw_loop *loop);
void gw_recovery_free(struct gw_loop *loop);

#endif
