/* Loop 0's periodic ledger check (check_job.c): feegate.ledger_check() every
 * [jobs] ledger_check_interval_s, on a thread with its own connection, by one gateway at a
 * time; its last result in /metrics, a failure logged as an error. */
#ifndef GW_GATEWAY_CHECK_JOB_H
#define GW_GATEWAY_CHECK_JOB_H

#include "gw_buf.h"
#include "gw_err.h"

struct gw_loop;

void gw_check_job_start(struct gw_loop *loop);
/* Stops the timer and cancels a check in flight. */
void gw_check_job_stop(struct gw_loop *loop);
/* After the loop has stopped: waits for the thread, closes its connection, frees the timer. */
void gw_check_job_free(struct gw_loop *loop);

/* Appends the check's gauges and counters to a /metrics body (Prometheus text). */
enum gw_err gw_check_job_metrics(struct gw_buf *b) GW_MUST_CHECK;

#endif
