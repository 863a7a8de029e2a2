/* Background work on loop 0: the expiry sweep (created or pending payments past their
 * deadline become expired; a success that comes later is still booked, as late) and the
 * refresh of the portal client list, and the sealing of new ledger journals into the hash
 * chain (feegate.ledger_seal, docs/ledger.md). Several gateways may run these side by side: the
 * database functions lock what they change and skip what another holds. */
#include "jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "auth.h"
#include "db.h"
#include "gw_assert.h"
#include "gw_log.h"
#include "request.h"

#include "banned.h"

static void expiry_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_loop *loop = arg;
    if (err != GW_OK) {
        gw_log_warn("expiry_sweep_failed", "\"error\":\"%s\"", gw_err_name(err));
        return;
    }
    long n = 0;
    if (PQntuples(res) == 1) {
        char *end = NULL;
        errno = 0;
        n = strtol(PQgetvalue(res, 0, 0), &end, 10);
        n = errno == 0 && *end == '\0' ? n : 0;
    }
    if (n > 0) {
        atomic_fetch_add_explicit(&loop->m.expired, (uint64_t)n, memory_order_relaxed);
        gw_log_info("payments_expired", "\"count\":%ld", n);
    }
}

static const char *const expiry_params[1] = { GW_STR(GW_EXPIRY_BATCH_MAX) };

static void seal_done(void *arg, enum gw_err err, const PGresult *res)
{
    (void)arg;
    (void)res;
    if (err != GW_OK) {
        gw_log_warn("ledger_seal_failed", "\"error\":\"%s\"", gw_err_name(err));
    }
}

static const char *const seal_params[1] = { GW_STR(GW_SEAL_BATCH_MAX) };

/* Every second: the expiry sweep, then the sealing of new journals. */
static void expiry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_loop *loop = arg;
    gw_db_query(loop->db, "SELECT feegate.expire_due($1::int)", 1, expiry_params, expiry_done,
                loop);
    gw_db_query(loop->db, "SELECT feegate.ledger_seal($1::int)", 1, seal_params, seal_done, loop);
}

void gw_jobs_start(struct gw_loop *loop)
{
    GW_ASSERT(loop->index == 0);
    loop->expiry_timer = event_new(loop->base, -1, EV_PERSIST, expiry_cb, loop);
    GW_ASSERT(loop->expiry_timer != NULL);
    struct timeval tv = { .tv_sec = GW_EXPIRY_SWEEP_MS / 1000,
                          .tv_usec = (suseconds_t)(GW_EXPIRY_SWEEP_MS % 1000) * 1000 };
    GW_ASSERT(event_add(loop->expiry_timer, &tv) == 0);
    gw_jobs_start_clients(loop);
}

void gw_jobs_stop(struct gw_loop *loop)
{
    if (loop->expiry_timer != NULL) {
        GW_ASSERT(event_del(loop->expiry_timer) == 0);
    }
    if (loop->clients_timer != NULL) {
        GW_ASSERT(event_del(loop->clients_timer) == 0);
    }
}

void gw_jobs_free(struct gw_loop *loop)
{
    if (loop->clients_timer != NULL) {
        event_free(loop->clients_timer);
        loop->clients_timer = NULL;
    }
    if (loop->expiry_timer != NULL) {
        event_free(loop->expiry_timer);
        loop->expiry_timer = NULL;
    }
}
