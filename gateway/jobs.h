/* Loop 0's expiry sweep, journal sealing and client list refresh (jobs.c). */
#ifndef GW_GATEWAY_JOBS_H
#define GW_GATEWAY_JOBS_H

struct gw_loop;

void gw_jobs_start(struct gw_loop *loop);
void gw_jobs_stop(struct gw_loop *loop);
/* After the loop has stopped: frees the timers. */
void gw_jobs_free(struct gw_loop *loop);

#endif
