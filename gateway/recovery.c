/* Recovery of unknown outcomes (a timeout is never a failure: docs/architecture.md#principles, 7).
 * Loop 0 claims the checkout attempts whose next status query is due, asks each provider through
 * its adapter, and records the verified answer: a success or failure is applied exactly like a
 * callback; anything else (pending, not found, no answer, a bad signature) leaves the outcome
 * unknown and schedules the next query: 1 min after the attempt, then 5 min, 15 min, 1 h, then
 * every 6 h until the query window (48 h, ZaloPay's) is over, when the attempt is listed in
 * feegate.recovery_exceptions for people to resolve. */
#include "recovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "db.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_log.h"
#include "gw_time.h"
#include "provider.h"
#include "request.h"
#include "routing.h"

#include "banned.h"

#define RECOVERY_POLL_MS      1000
#define RECOVERY_BATCH_MAX    32
#define RECOVERY_INFLIGHT_MAX 128
#define RECOVERY_LEASE_S      60
#define RECOVERY_WINDOW_S     ((int64_t)48 * 3600)

struct gw_recovery {
    struct gw_loop *loop;
    struct event *timer;
    bool claiming;
    bool stopped;
    size_t inflight;
};

struct rq {
    struct gw_recovery *rc;
    struct gw_arena arena;
    const struct gw_channel_config *ch;
    char merchant_ref[48];
    char payment_id[48];
    int queries;
    int64_t created_unix;
    struct gw_provider_call call;
    const char *params[7];
};

/* Seconds until the next query after `queries` answers, or -1 when the window is over. */
static int next_delay_s(int queries, int64_t created_unix)
{
    static const int schedule_s[] = { 300, 900, 3600, 21600 };
    int n = (int)(sizeof(schedule_s) / sizeof(schedule_s[0]));
    int delay = schedule_s[queries < n ? queries : n - 1];
    int64_t now = gw_now_ms() / 1000;
    if (now + delay > created_unix + RECOVERY_WINDOW_S) {
        return now < created_unix + RECOVERY_WINDOW_S
                   ? (int)(created_unix + RECOVERY_WINDOW_S - now)
                   : -1;
    }
    return delay;
}

static void rq_free(struct rq *q)
{
    struct gw_recovery *rc = q->rc;
    struct gw_arena a = q->arena;
    gw_arena_release(&a);
    GW_ASSERT(rc->inflight > 0);
    rc->inflight--;
}

static void result_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct rq *q = arg;
    if (err != GW_OK) {
        gw_log_warn("recovery_result_not_saved", "\"merchant_ref\":\"%s\"", q->merchant_ref);
    } else {
        gw_log_info("recovery_query", "\"merchant_ref\":\"%s\",\"result\":\"%s\"", q->merchant_ref,
                    PQgetvalue(res, 0, 0));
    }
    rq_free(q);
}

static void record(struct rq *q, const char *outcome, const struct gw_adapter_result *r,
                   const char *raw)
{
    char paid_at[26] = "";
    if (r != NULL && r->paid_at > 0) {
        gw_time_rfc3339_vn(r->paid_at, paid_at);
    }
    int delay = next_delay_s(q->queries + 1, q->created_unix);
    struct gw_arena *a = &q->arena;
    q->params[0] = q->merchant_ref;
    q->params[1] = outcome;
    q->params[2] = r != NULL ? gw_arena_printf(a, "%lld", (long long)r->amount_vnd) : NULL;
    q->params[3] =
        r != NULL && r->provider_txn_id[0] != '\0' ? gw_arena_strdup(a, r->provider_txn_id) : NULL;
    q->params[4] = paid_at[0] != '\0' ? gw_arena_strdup(a, paid_at) : NULL;
    q->params[5] = raw;
    q->params[6] = delay >= 0 ? gw_arena_printf(a, "%d", delay) : NULL;
    gw_db_query(q->rc->loop->db,
                "SELECT feegate.recovery_result($1, $2, $3::bigint, $4, $5::timestamptz, $6, "
                "$7::int)",
                7, q->params, result_done, q);
}

static void answer_done(void *arg, const struct gw_provider_answer *ans)
{
    struct rq *q = arg;
    if (!ans->answered && q->rc->stopped) {
        /* Cut by this gateway's own drain, not by the provider's silence: recorded as an error
         * it would push the next query a step of the schedule away (15 min after the second).
         * Nothing is recorded; the claim's lease (RECOVERY_LEASE_S) brings the query back, to
         * the next gateway. docs/reliability.md#findings */
        gw_log_info("recovery_query_dropped", "\"merchant_ref\":\"%s\"", q->merchant_ref);
        rq_free(q);
        return;
    }
    if (!ans->answered) {
        record(q, "error", NULL, "no answer");
        return;
    }
    const struct gw_adapter_result *r = &ans->pay;
    /* ZaloPay's query answer does not echo the reference: empty means "the one asked". */
    if (ans->err != GW_OK ||
        (r->merchant_ref[0] != '\0' && strcmp(r->merchant_ref, q->merchant_ref) != 0)) {
        char why[300];
        gw_log_warn(
            "recovery_answer_rejected", "\"merchant_ref\":\"%s\",\"reason\":\"%s\"",
            q->merchant_ref,
            gw_log_esc(why, sizeof(why), ans->err != GW_OK ? ans->why : "another reference"));
        record(q, "error", NULL, ans->raw);
        return;
    }
    record(q, gw_pay_outcome_name(r->outcome), r, ans->raw);
}

static void query_row(struct gw_recovery *rc, const PGresult *res, int row)
{
    struct gw_arena a;
    gw_arena_init(&a, 8192, (size_t)256 * 1024);
    struct rq *q = gw_arena_alloc(&a, sizeof(*q));
    GW_ASSERT(q != NULL);
    q->arena = a;
    q->rc = rc;
    rc->inflight++;
    (void)snprintf(q->merchant_ref, sizeof(q->merchant_ref), "%s", PQgetvalue(res, row, 0));
    (void)snprintf(q->payment_id, sizeof(q->payment_id), "%s", PQgetvalue(res, row, 2));
    q->created_unix = strtoll(PQgetvalue(res, row, 4), NULL, 10);
    q->queries = (int)strtol(PQgetvalue(res, row, 7), NULL, 10);
    q->ch = gw_channel_pin(rc->loop->srv, &q->arena, PQgetvalue(res, row, 1));
    if (q->ch == NULL || !(q->ch->ops->caps & GW_ADAPTER_CAP_QUERY)) {
        record(q, "error", NULL, "channel not configured or without a query API");
        return;
    }
    char request_id[33];
    unsigned char rnd[16];
    if (gw_random_bytes(rnd, sizeof(rnd)) != GW_OK) {
        record(q, "error", NULL, "no randomness");
        return;
    }
    gw_hex_encode(rnd, sizeof(rnd), request_id);
    struct gw_charge charge = {
        .payment_id = q->payment_id,
        .merchant_ref = q->merchant_ref,
        .amount_vnd = strtoll(PQgetvalue(res, row, 3), NULL, 10),
        .order_info = "",
        .locale = "vi",
        .client_ip = "127.0.0.1",
        .created_at = (time_t)q->created_unix,
        .expires_at = (time_t)strtoll(PQgetvalue(res, row, 5), NULL, 10),
        .request_id = gw_arena_strdup(&q->arena, request_id),
        .requested_at = (time_t)(gw_now_ms() / 1000),
        .provider_txn_id =
            PQgetisnull(res, row, 6) ? NULL : gw_arena_strdup(&q->arena, PQgetvalue(res, row, 6)),
    };
    q->call = (struct gw_provider_call){ .kind = GW_CALL_QUERY,
                                         .loop = rc->loop,
                                         .ch = q->ch,
                                         .arena = &q->arena,
                                         .charge = &charge,
                                         .abandoned = &rc->stopped,
                                         .done = answer_done,
                                         .arg = q };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = gw_provider_call(&q->call, &eb);
    if (err != GW_OK) {
        record(q, "error", NULL,
               err == GW_ERR_INVALID ? "could not build the query" : "could not send the query");
    }
}

static void recovery_poll_soon(struct gw_recovery *rc, int ms);

static void claim_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_recovery *rc = arg;
    rc->claiming = false;
    if (err != GW_OK) {
        gw_log_warn("recovery_claim_failed", "\"error\":\"%s\"", gw_err_name(err));
        recovery_poll_soon(rc, RECOVERY_POLL_MS);
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        query_row(rc, res, i);
    }
    recovery_poll_soon(rc, n == RECOVERY_BATCH_MAX ? 0 : RECOVERY_POLL_MS);
}

static const char *const claim_params[2] = { GW_STR(RECOVERY_BATCH_MAX), GW_STR(RECOVERY_LEASE_S) };

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_recovery *rc = arg;
    if (rc->stopped || rc->claiming) {
        return;
    }
    if (rc->inflight + RECOVERY_BATCH_MAX > RECOVERY_INFLIGHT_MAX) {
        recovery_poll_soon(rc, RECOVERY_POLL_MS);
        return;
    }
    rc->claiming = true;
    gw_db_query(rc->loop->db,
                "SELECT merchant_ref, channel, payment_id, amount_vnd, created_at_unix, "
                "expires_at_unix, provider_txn_id, queries "
                "FROM feegate.recovery_due($1::int, $2::int)",
                2, claim_params, claim_done, rc);
}

static void recovery_poll_soon(struct gw_recovery *rc, int ms)
{
    if (rc->stopped) {
        return;
    }
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    GW_ASSERT(evtimer_add(rc->timer, &tv) == 0);
}

void gw_recovery_start(struct gw_loop *loop)
{
    struct gw_recovery *rc = gw_xcalloc(1, sizeof(*rc));
    rc->loop = loop;
    rc->timer = evtimer_new(loop->base, poll_cb, rc);
    GW_ASSERT(rc->timer != NULL);
    loop->recovery = rc;
    recovery_poll_soon(rc, RECOVERY_POLL_MS);
}

void gw_recovery_stop(struct gw_loop *loop)
{
    struct gw_recovery *rc = loop->recovery;
    if (rc == NULL || rc->stopped) {
        return;
    }
    rc->stopped = true;
    GW_ASSERT(event_del(rc->timer) == 0);
}

void gw_recovery_free(struct gw_loop *loop)
{
    struct gw_recovery *rc = loop->recovery;
    if (rc == NULL) {
        return;
    }
    event_free(rc->timer);
    gw_xfree(rc);
    loop->recovery = NULL;
}
