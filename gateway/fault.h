/* Named fault points: places where the gateway kills itself with SIGKILL, on purpose, when
 * FEEGATE_FAULT names one (docs/reliability.md#fault-points). Compiled into every build, as
 * FoundationDB compiles in BUGGIFY: the crash suite (tests/crash/) runs the very binary that
 * is shipped. Inactive unless the variable is set; each point costs one load and one
 * predictable branch. */
#ifndef GW_GATEWAY_FAULT_H
#define GW_GATEWAY_FAULT_H

#include "gw_err.h"

#define GW_FAULT_NTH_MAX 1000000 /* FEEGATE_FAULT's largest count, in hits */

/* Each point sits right after a commit (or an effect) and before what follows it, so that a
 * crash there leaves the state the recovery paths must handle. */
enum gw_fault_point {
    GW_FAULT_NONE = 0,
    GW_FAULT_CREATE_COMMITTED,   /* api.c: a create committed, its 201 not sent */
    GW_FAULT_CHECKOUT_COMMITTED, /* page_checkout.c: the attempt committed, no redirect yet */
    GW_FAULT_CALLBACK_COMMITTED, /* ipn.c: a callback applied, its answer not sent */
    GW_FAULT_OUTBOX_CLAIMED,     /* outbox.c: webhooks claimed after the commit, none sent */
    GW_FAULT_OUTBOX_POSTED,      /* outbox.c: a webhook answered, its result not recorded */
    GW_FAULT_RECEIPT_NUMBERED,   /* receipt_worker.c: a numbered receipt claimed, not signed */
    GW_FAULT_RECEIPT_SIGNED,     /* receipt_worker.c: its document signed, not stored */
    GW_FAULT_REFUND_BEGUN,       /* refund.c: a refund reserved, the provider not called */
    GW_FAULT_REFUND_ANSWERED,    /* refund.c: the provider answered, the answer not recorded */
    GW_FAULT_COUNT,
};

/* The armed point, or GW_FAULT_NONE: written once by gw_fault_init before any thread
 * starts, only read afterwards. */
extern enum gw_fault_point gw_fault_armed;

/* Reads FEEGATE_FAULT=<point>[:<nth>] once (nth: 1 by default, at most
 * GW_FAULT_NTH_MAX). Unset or empty: nothing armed. An unknown point or a bad count is an
 * error (the gateway does not start). Logs a warning when a point is armed. Not thread-safe:
 * call before the loops and threads start. */
GW_MUST_CHECK enum gw_err gw_fault_init(struct gw_errbuf *eb);

/* The point's name as FEEGATE_FAULT spells it ("create_committed"), or NULL. */
const char *gw_fault_name(enum gw_fault_point p);

/* Counts a hit of the armed point; on the nth, SIGKILL to the whole process, at once (no
 * drain, no flush, no atexit). Thread-safe. */
void gw_fault_hit(enum gw_fault_point p);

/* The fault point p: nothing unless p is the armed point. */
static inline void gw_fault(enum gw_fault_point p)
{
    if (__builtin_expect(gw_fault_armed == p, 0)) {
        gw_fault_hit(p);
    }
}

#endif
