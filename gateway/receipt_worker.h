/* The receipt worker (docs/receipts.md): two threads beside the event loops, never on them.
 * The issuer claims receipt jobs over its own blocking libpq connection, builds and signs
 * each receipt's XML and stores it (a receipt can be late, never missing). The renderer
 * takes tasks from the loops (PDF renders, XML verifications), does the CPU work and hands
 * the result back with event_active on the loop's own event. */
#ifndef GW_GATEWAY_RECEIPT_WORKER_H
#define GW_GATEWAY_RECEIPT_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_buf.h"
#include "gw_err.h"
#include "rcp.h"

struct event;
struct gw_config;
struct gw_receipt_worker;

enum gw_receipt_task_kind {
    GW_RECEIPT_TASK_PDF,    /* input: the stored XML; out: the PDF */
    GW_RECEIPT_TASK_VERIFY, /* input: an uploaded XML; verify: the verdict */
};

/* A task lives in the requesting loop's memory (its request arena) until done_ev fires on
 * that loop; the worker writes the results, then activates done_ev and forgets the task. */
struct gw_receipt_task {
    enum gw_receipt_task_kind kind;
    const char *input; /* borrowed */
    size_t input_len;
    struct event *done_ev; /* the loop's; made active once the results are written */
    enum gw_err err;
    struct gw_errbuf eb;
    struct gw_buf out; /* PDF bytes: the loop releases it */
    struct rcp_verify_result verify;
    struct gw_receipt_task *next; /* the worker's queue */
};

/* Loads the signer (if configured), connects, starts both threads. Blocking: start-up. */
enum gw_err gw_receipt_worker_start(const struct gw_config *cfg, struct gw_receipt_worker **out,
                                    struct gw_errbuf *eb) GW_MUST_CHECK;
/* Stops and joins both threads; queued tasks are dropped (call after the loops have exited).
 * Then releases the process's receipt libraries (rcp_shutdown): the daemon is ending. NULL is
 * a no-op. */
void gw_receipt_worker_stop(struct gw_receipt_worker *w);

/* Queues a task (thread-safe). false when the queue is full or the worker stopping: the
 * caller answers 503 itself. */
bool gw_receipt_task_submit(struct gw_receipt_worker *w, struct gw_receipt_task *t);

/* Whether a CA is configured for verification. */
bool gw_receipt_worker_can_verify(const struct gw_receipt_worker *w);

#endif
