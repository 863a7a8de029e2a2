/* Asynchronous libpq pool in pipeline mode, driven by a libevent loop.
 *
 * Time limits: connections are opened with statement_timeout (the server cancels a statement
 * that runs too long, lock waits included, and rolls its transaction back) and
 * client_connection_check_interval (a backend whose client has gone stops). A unit in flight
 * has a deadline on the loop: without its sync point by then, the connection is dropped (never
 * PQcancel: it blocks), the unit's calls fail with GW_ERR_UNAVAILABLE, and the connection is
 * opened again. A call that waited in the queue past the query timeout fails unsent. A
 * reconnection has a deadline too, GW_DB_CONNECT_TIMEOUT_S: libpq's connect_timeout does not
 * apply to PQconnectPoll (docs/reliability.md). */
#include "db.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_time.h"

#include "banned.h"

struct db_call {
    const char *sql;
    const char *const *params;
    gw_db_done_fn *done;
    void *arg;
    PGresult *res;     /* the query's result, kept until the unit's sync point arrives */
    int64_t queued_us; /* when the call was made (monotonic), to fail it unsent when late */
    int n;
    int prepare_stmt; /* statement prepared ahead of this call in the pipeline, or -1 */
    bool batchable;   /* may share a transaction with other batchable calls */
};

/* Every SQL text the gateway sends is a literal at its call site: the first DB_STMTS_MAX
 * distinct texts are prepared once per connection (parsed and planned once), the rest sent as is.
 */
#define DB_STMTS_MAX 64

/* A connection runs one unit at a time: one call alone, or up to GW_DB_BATCH_MAX batchable
 * calls sent back to back and closed by a single sync point, which makes them one implicit
 * transaction with one commit. Results arrive in order: per command (the call's
 * PQsendPrepare if any, then its query) one or more results and a NULL; then the unit's
 * PGRES_PIPELINE_SYNC. */
struct db_conn {
    struct gw_db_pool *pool;
    PGconn *conn;
    struct event *ev;
    struct event *deadline_ev; /* armed while a unit is in flight */
    bool connecting;           /* PQconnectPoll in progress */
    bool write_wanted;
    uint64_t prepared; /* bit i: statement i of the pool is prepared on this connection */
    struct db_call unit[GW_DB_BATCH_MAX];
    int unit_n;           /* calls in flight; 0: the connection is idle */
    PGresult *commit_err; /* an error after the unit's last command: its commit failed */
    int cmd_call;         /* the call whose command answers next */
    bool cmd_prepare;     /* that command is the call's PQsendPrepare */
    bool cmd_got;         /* that command has produced a result already */
};

struct gw_db_pool {
    struct event_base *base;
    char *dsn;
    char options[128];
    int query_timeout_ms;
    int n_conns;
    struct db_conn *conns;
    struct event *retry_ev;
    const char *stmts[DB_STMTS_MAX];
    int n_stmts;
    /* Written by the owner loop, read by /metrics on another: relaxed atomics. */
    _Atomic uint64_t n_transactions;
    _Atomic uint64_t n_batches;
    _Atomic uint64_t n_batched_calls;
    _Atomic uint64_t n_batches_retried;

    /* Calls waiting for an idle connection: a ring of wait_cap, of which new calls may fill
     * GW_DB_QUEUE_MAX; the rest is room for the calls of failed batches, put back in front
     * to run again one by one. */
    struct db_call *waitq;
    size_t wait_cap;
    size_t wait_head;
    size_t wait_count;
};

static void conn_event_cb(evutil_socket_t fd, short what, void *arg);

static void conn_set_events(struct db_conn *c, bool want_write)
{
    if (c->ev != NULL && c->write_wanted == want_write && event_pending(c->ev, EV_READ, NULL)) {
        return;
    }
    if (c->ev != NULL) {
        event_free(c->ev);
    }
    short what = (short)(EV_READ | EV_PERSIST | (want_write ? EV_WRITE : 0));
    c->ev = event_new(c->pool->base, PQsocket(c->conn), what, conn_event_cb, c);
    GW_ASSERT(c->ev != NULL);
    GW_ASSERT(event_add(c->ev, NULL) == 0);
    c->write_wanted = want_write;
}

static void conn_fail_all(struct db_conn *c)
{
    PQclear(c->commit_err);
    c->commit_err = NULL;
    int n = c->unit_n;
    struct db_call calls[GW_DB_BATCH_MAX];
    memcpy(calls, c->unit, (size_t)n * sizeof(calls[0]));
    c->unit_n = 0;
    for (int i = 0; i < n; i++) {
        PQclear(calls[i].res);
        calls[i].done(calls[i].arg, GW_ERR_UNAVAILABLE, NULL);
    }
}

static void conn_broken(struct db_conn *c, const char *why)
{
    gw_log_error("db_connection_lost", "\"reason\":\"%s\"", why);
    (void)evtimer_del(c->deadline_ev);
    if (c->ev != NULL) {
        event_free(c->ev);
        c->ev = NULL;
    }
    PQfinish(c->conn);
    c->conn = NULL;
    c->connecting = false;
    c->prepared = 0;
    conn_fail_all(c);
    struct timeval tv = { .tv_sec = 0, .tv_usec = (suseconds_t)GW_DB_RECONNECT_MS * 1000 };
    GW_ASSERT(event_add(c->pool->retry_ev, &tv) == 0);
}

static void conn_flush(struct db_conn *c)
{
    int r = PQflush(c->conn);
    if (r < 0) {
        conn_broken(c, "flush failed");
        return;
    }
    conn_set_events(c, r == 1);
}

static void pool_drain_waitq(struct gw_db_pool *pool);

static void waitq_push_front(struct gw_db_pool *pool, const struct db_call *call)
{
    GW_ASSERT(pool->wait_count < pool->wait_cap);
    pool->wait_head = (pool->wait_head + pool->wait_cap - 1) % pool->wait_cap;
    pool->waitq[pool->wait_head] = *call;
    pool->wait_count++;
}

static struct db_call waitq_pop(struct gw_db_pool *pool)
{
    GW_ASSERT(pool->wait_count > 0);
    struct db_call call = pool->waitq[pool->wait_head];
    pool->wait_head = (pool->wait_head + 1) % pool->wait_cap;
    pool->wait_count--;
    return call;
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = res == NULL ? PGRES_FATAL_ERROR : PQresultStatus(res);
    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* res was cancelled by the server: statement_timeout (lock waits too) or pg_cancel_backend. */
static bool result_cancelled(const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL && strcmp(state, "57014") == 0;
}

/* A batch rolled back because one of its statements was cancelled is not run again call by
 * call (the same wait would begin for each, and the callers' time is up): every call of it gets
 * the cancellation and answers 503. Returns false when the batch failed for another reason. */
static bool unit_fail_if_cancelled(struct db_call *calls, int n)
{
    const PGresult *cancelled = NULL;
    for (int i = 0; i < n && cancelled == NULL; i++) {
        cancelled = result_cancelled(calls[i].res) ? calls[i].res : NULL;
    }
    if (cancelled == NULL) {
        return false;
    }
    gw_log_warn("db_batch_cancelled", "\"calls\":%d", n);
    for (int i = 0; i < n; i++) {
        calls[i].done(calls[i].arg, GW_ERR_DB, cancelled);
    }
    for (int i = 0; i < n; i++) {
        PQclear(calls[i].res);
    }
    return true;
}

/* The unit's sync point arrived: its transaction is committed (every call succeeded) or
 * rolled back (one failed; in a batch the others were rolled back or skipped with it). A
 * failed batch is put back in front of the queue, each call alone, in the same order: the
 * call that failed fails again by itself with its own error, the others commit. */
static void conn_unit_done(struct db_conn *c)
{
    struct gw_db_pool *pool = c->pool;
    (void)evtimer_del(c->deadline_ev);
    int n = c->unit_n;
    struct db_call calls[GW_DB_BATCH_MAX];
    memcpy(calls, c->unit, (size_t)n * sizeof(calls[0]));
    c->unit_n = 0;
    PGresult *commit_err = c->commit_err;
    c->commit_err = NULL;
    if (commit_err != NULL) {
        /* The calls' own results say OK, but their transaction did not commit: a call alone
         * reports the commit's error, a batch runs again call by call (below). */
        PQclear(calls[n - 1].res);
        calls[n - 1].res = commit_err;
        for (int i = 0; i < n - 1; i++) {
            PQclear(calls[i].res);
            calls[i].res = NULL;
        }
    }
    bool all_ok = commit_err == NULL;
    for (int i = 0; i < n; i++) {
        all_ok = all_ok && result_ok(calls[i].res);
    }
    atomic_fetch_add_explicit(&pool->n_transactions, 1, memory_order_relaxed);
    if (n > 1 && !all_ok && unit_fail_if_cancelled(calls, n)) {
        return;
    }
    if (n > 1 && !all_ok) {
        atomic_fetch_add_explicit(&pool->n_batches_retried, 1, memory_order_relaxed);
        for (int i = n - 1; i >= 0; i--) {
            PQclear(calls[i].res);
            calls[i].res = NULL;
            calls[i].batchable = false;
            waitq_push_front(pool, &calls[i]);
        }
        return;
    }
    if (n > 1) {
        atomic_fetch_add_explicit(&pool->n_batches, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&pool->n_batched_calls, (uint64_t)n, memory_order_relaxed);
    }
    for (int i = 0; i < n; i++) {
        enum gw_err err = GW_OK;
        if (!result_ok(calls[i].res)) {
            err = calls[i].res == NULL ? GW_ERR_UNAVAILABLE : GW_ERR_DB;
        }
        calls[i].done(calls[i].arg, err, calls[i].res);
        PQclear(calls[i].res);
    }
}

/* The command after the current one: the call's query after its prepare, else the next
 * call (its prepare first when it has one). */
static void conn_next_command(struct db_conn *c)
{
    c->cmd_got = false;
    if (c->cmd_prepare) {
        c->cmd_prepare = false;
        return;
    }
    c->cmd_call++;
    c->cmd_prepare = c->cmd_call < c->unit_n && c->unit[c->cmd_call].prepare_stmt >= 0;
}

/* One result of the current command goes to its call: a failed prepare is the call's error
 * (and the statement is no longer taken as prepared); of a query, the first result is kept. */
static void conn_take_result(struct db_conn *c, PGresult *r)
{
    c->cmd_got = true;
    if (c->cmd_call >= c->unit_n) {
        /* After every command, before the sync: the commit failed (a deferred constraint
         * trigger raised, the journal did not balance...). Nothing of the unit is durable. */
        if (c->commit_err == NULL && PQresultStatus(r) != PGRES_COMMAND_OK &&
            PQresultStatus(r) != PGRES_TUPLES_OK) {
            c->commit_err = r;
        } else {
            PQclear(r);
        }
        return;
    }
    struct db_call *call = &c->unit[c->cmd_call];
    if (c->cmd_prepare && PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        return;
    }
    if (c->cmd_prepare) {
        c->prepared &= ~(UINT64_C(1) << call->prepare_stmt);
    }
    if (call->res == NULL) {
        call->res = r;
    } else {
        PQclear(r);
    }
}

/* Reads every complete answer; the unit ends at its PGRES_PIPELINE_SYNC. */
static void conn_read(struct db_conn *c)
{
    if (PQconsumeInput(c->conn) == 0) {
        conn_broken(c, "read failed");
        return;
    }
    while (c->unit_n > 0 && !PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        if (r == NULL) {
            /* The end of the current command's results; a NULL before any result means
             * libpq has nothing more buffered: wait for the socket. */
            if (!c->cmd_got) {
                break;
            }
            conn_next_command(c);
            continue;
        }
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
            conn_take_result(c, r);
            continue;
        }
        PQclear(r);
        conn_unit_done(c);
        if (c->conn == NULL) {
            return; /* a callback's new query broke the connection */
        }
    }
    pool_drain_waitq(c->pool);
}

static void conn_poll_connect(struct db_conn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->conn);
    if (st == PGRES_POLLING_FAILED) {
        conn_broken(c, "reconnect failed");
        return;
    }
    if (st == PGRES_POLLING_OK) {
        c->connecting = false;
        (void)evtimer_del(c->deadline_ev);
        if (PQsetnonblocking(c->conn, 1) != 0 || PQenterPipelineMode(c->conn) != 1) {
            conn_broken(c, "could not enter pipeline mode");
            return;
        }
        gw_log_info("db_reconnected", NULL);
        conn_set_events(c, false);
        pool_drain_waitq(c->pool);
        return;
    }
    conn_set_events(c, st == PGRES_POLLING_WRITING);
}

/* No sync point within the query timeout: the server or the network has stopped answering
 * (the server's own statement_timeout is shorter). Dropping the connection fails exactly
 * this unit's calls; the backend notices its client is gone and rolls back. A reconnection
 * that has not finished within GW_DB_CONNECT_TIMEOUT_S is dropped and started again. */
static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct db_conn *c = arg;
    if (c->connecting) {
        conn_broken(c, "no connection within the connect timeout");
    } else if (c->unit_n > 0) {
        conn_broken(c, "no answer within the query timeout");
    }
}

static void conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct db_conn *c = arg;
    if (c->connecting) {
        conn_poll_connect(c);
        return;
    }
    if (what & EV_WRITE) {
        conn_flush(c);
    }
    if (c->conn != NULL && (what & EV_READ)) {
        conn_read(c);
    }
}

/* The DSN may be key=value pairs or a URI: expand_dbname takes both, and the options are
 * added on top so they bound every query on the server side. */
static const char *const pool_keys[] = { "dbname", "options", NULL };

static void pool_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_db_pool *pool = arg;
    for (int i = 0; i < pool->n_conns; i++) {
        struct db_conn *c = &pool->conns[i];
        if (c->conn != NULL) {
            continue;
        }
        c->conn = PQconnectStartParams(pool_keys,
                                       (const char *const[]){ pool->dsn, pool->options, NULL }, 1);
        if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD ||
            PQsetnonblocking(c->conn, 1) != 0) {
            conn_broken(c, "could not start connection");
            continue;
        }
        c->connecting = true;
        c->write_wanted = true;
        conn_set_events(c, true);
        struct timeval tv = { .tv_sec = GW_DB_CONNECT_TIMEOUT_S, .tv_usec = 0 };
        GW_ASSERT(evtimer_add(c->deadline_ev, &tv) == 0);
    }
    /* While no connection is up nothing else wakes the queue: its late calls fail here. */
    pool_drain_waitq(pool);
}

static int pool_stmt_index(struct gw_db_pool *pool, const char *sql)
{
    for (int i = 0; i < pool->n_stmts; i++) {
        if (pool->stmts[i] == sql) {
            return i;
        }
    }
    if (pool->n_stmts == DB_STMTS_MAX) {
        return -1;
    }
    pool->stmts[pool->n_stmts] = sql;
    return pool->n_stmts++;
}

/* Sends one call's commands (a PQsendPrepare first when its statement is new on this
 * connection), without a sync point. */
static bool conn_send_call(struct db_conn *c, struct db_call *call)
{
    call->prepare_stmt = -1;
    call->res = NULL;
    int idx = pool_stmt_index(c->pool, call->sql);
    if (idx < 0) {
        return PQsendQueryParams(c->conn, call->sql, call->n, NULL, call->params, NULL, NULL, 0) ==
               1;
    }
    char name[16];
    (void)snprintf(name, sizeof(name), "fg%d", idx);
    uint64_t bit = UINT64_C(1) << idx;
    if ((c->prepared & bit) == 0) {
        if (PQsendPrepare(c->conn, name, call->sql, call->n, NULL) != 1) {
            return false;
        }
        c->prepared |= bit;
        call->prepare_stmt = idx;
    }
    return PQsendQueryPrepared(c->conn, name, call->n, call->params, NULL, NULL, 0) == 1;
}

/* Sends the unit already in c->unit and its one sync point. */
static void conn_send_unit(struct db_conn *c)
{
    for (int i = 0; i < c->unit_n; i++) {
        if (!conn_send_call(c, &c->unit[i])) {
            gw_log_error("db_send_failed", "\"error\":\"%s\"", PQerrorMessage(c->conn));
            conn_broken(c, "send failed");
            return;
        }
    }
    if (PQpipelineSync(c->conn) != 1) {
        conn_broken(c, "sync failed");
        return;
    }
    int q = c->pool->query_timeout_ms;
    struct timeval tv = { .tv_sec = q / 1000, .tv_usec = (suseconds_t)(q % 1000) * 1000 };
    GW_ASSERT(evtimer_add(c->deadline_ev, &tv) == 0);
    c->cmd_call = 0;
    c->cmd_prepare = c->unit[0].prepare_stmt >= 0;
    c->cmd_got = false;
    conn_flush(c);
}

static bool conn_usable(const struct db_conn *c)
{
    return c->conn != NULL && !c->connecting;
}

/* An idle connection for the call at the head of the queue, or NULL. Batchable calls use
 * only the pool's first half (at least one connection) while one of those is usable: the
 * fewer connections carry the payment path, the larger its batches and the less CPU the
 * database spends per payment (docs/benchmarks.md); the other half stays free for calls
 * that run alone (jobs, finance, refunds), so that a long one never holds up payments. */
static struct db_conn *pool_pick(struct gw_db_pool *pool, bool batchable)
{
    int limit = pool->n_conns;
    if (batchable) {
        int half = pool->n_conns / 2 > 0 ? pool->n_conns / 2 : 1;
        for (int i = 0; i < half; i++) {
            if (conn_usable(&pool->conns[i])) {
                limit = half;
                break;
            }
        }
    }
    for (int i = 0; i < limit; i++) {
        struct db_conn *c = &pool->conns[i];
        if (conn_usable(c) && c->unit_n == 0) {
            return c;
        }
    }
    return NULL;
}

/* True when the call at the head of the queue has waited longer than the query timeout:
 * its caller's time is up, so it fails unsent rather than adding load to a database that
 * is already behind. */
static bool waitq_head_late(const struct gw_db_pool *pool)
{
    int64_t waited_us = gw_monotonic_us() - pool->waitq[pool->wait_head].queued_us;
    return waited_us > (int64_t)pool->query_timeout_ms * 1000;
}

/* Each idle connection takes the head of the queue: a call alone, or the run of batchable
 * calls there (up to GW_DB_BATCH_MAX) as one transaction. Calls that arrive while every
 * connection is busy thereby share the next commit: under load the batches grow by
 * themselves, with no timer and no added wait when the pool is idle. */
static void pool_drain_waitq(struct gw_db_pool *pool)
{
    while (pool->wait_count > 0) {
        if (waitq_head_late(pool)) {
            struct db_call late = waitq_pop(pool);
            late.done(late.arg, GW_ERR_UNAVAILABLE, NULL);
            continue;
        }
        struct db_conn *c = pool_pick(pool, pool->waitq[pool->wait_head].batchable);
        if (c == NULL) {
            return;
        }
        int n = 0;
        c->unit[n++] = waitq_pop(pool);
        while (c->unit[0].batchable && n < GW_DB_BATCH_MAX && pool->wait_count > 0 &&
               pool->waitq[pool->wait_head].batchable && !waitq_head_late(pool)) {
            c->unit[n++] = waitq_pop(pool);
        }
        c->unit_n = n;
        conn_send_unit(c);
    }
}

static void pool_submit(struct gw_db_pool *pool, const struct db_call *call)
{
    GW_ASSERT(call->n >= 0 && call->n <= GW_DB_PARAMS_MAX);
    GW_ASSERT(call->done != NULL);
    if (pool->wait_count >= GW_DB_QUEUE_MAX) {
        call->done(call->arg, GW_ERR_UNAVAILABLE, NULL);
        return;
    }
    size_t tail = (pool->wait_head + pool->wait_count) % pool->wait_cap;
    pool->waitq[tail] = *call;
    pool->waitq[tail].queued_us = gw_monotonic_us();
    pool->wait_count++;
    pool_drain_waitq(pool);
}

void gw_db_query(struct gw_db_pool *pool, const char *sql, int n, const char *const *params,
                 gw_db_done_fn *done, void *arg)
{
    pool_submit(pool, &(struct db_call){ .sql = sql,
                                         .n = n,
                                         .params = params,
                                         .batchable = false,
                                         .done = done,
                                         .arg = arg,
                                         .prepare_stmt = -1 });
}

void gw_db_query_batchable(struct gw_db_pool *pool, const struct gw_db_req *req)
{
    pool_submit(pool, &(struct db_call){ .sql = req->sql,
                                         .n = req->n,
                                         .params = req->params,
                                         .batchable = true,
                                         .done = req->done,
                                         .arg = req->arg,
                                         .prepare_stmt = -1 });
}

static enum gw_err conn_open_blocking(struct db_conn *c, struct gw_errbuf *eb)
{
    const struct gw_db_pool *pool = c->pool;
    c->conn =
        PQconnectdbParams(pool_keys, (const char *const[]){ pool->dsn, pool->options, NULL }, 1);
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "could not connect to the database: %s",
                       c->conn != NULL ? PQerrorMessage(c->conn) : "out of memory");
    }
    if (PQsetnonblocking(c->conn, 1) != 0 || PQenterPipelineMode(c->conn) != 1) {
        return gw_fail(eb, GW_ERR_DB, "could not enter pipeline mode: %s", PQerrorMessage(c->conn));
    }
    conn_set_events(c, false);
    return GW_OK;
}

/* The server's statement_timeout: the defaults' share of the query timeout, so that the
 * server gives up first and the caller sees its error (57014), not a dropped connection. */
static int pool_statement_timeout_ms(int query_timeout_ms)
{
    return (int)((int64_t)query_timeout_ms * GW_DB_STATEMENT_TIMEOUT_MS / GW_DB_QUERY_TIMEOUT_MS);
}

enum gw_err gw_db_pool_new(struct event_base *base, const struct gw_db_opts *opts,
                           struct gw_db_pool **out, struct gw_errbuf *eb)
{
    int n = opts->n_conns;
    GW_ASSERT(n >= 1 && n <= GW_DB_CONNS_PER_LOOP_MAX);
    GW_ASSERT(opts->query_timeout_ms >= GW_DB_QUERY_TIMEOUT_MS_MIN &&
              opts->query_timeout_ms <= GW_DB_QUERY_TIMEOUT_MS_MAX);
    struct gw_db_pool *pool = gw_xcalloc(1, sizeof(*pool));
    pool->base = base;
    pool->dsn = gw_xstrdup(opts->dsn);
    pool->query_timeout_ms = opts->query_timeout_ms;
    int w = snprintf(pool->options, sizeof(pool->options),
                     "-c statement_timeout=%d -c client_connection_check_interval=%d",
                     pool_statement_timeout_ms(opts->query_timeout_ms), GW_DB_CLIENT_CHECK_MS);
    GW_ASSERT(w > 0 && (size_t)w < sizeof(pool->options));
    pool->n_conns = n;
    pool->conns = gw_xcalloc((size_t)n, sizeof(*pool->conns));
    pool->wait_cap = GW_DB_QUEUE_MAX + (size_t)n * GW_DB_BATCH_MAX;
    pool->waitq = gw_xcalloc(pool->wait_cap, sizeof(*pool->waitq));
    pool->retry_ev = evtimer_new(base, pool_retry_cb, pool);
    GW_ASSERT(pool->retry_ev != NULL);
    for (int i = 0; i < n; i++) {
        pool->conns[i].pool = pool;
        pool->conns[i].deadline_ev = evtimer_new(base, conn_deadline_cb, &pool->conns[i]);
        GW_ASSERT(pool->conns[i].deadline_ev != NULL);
    }
    for (int i = 0; i < n; i++) {
        enum gw_err err = conn_open_blocking(&pool->conns[i], eb);
        if (err != GW_OK) {
            gw_db_pool_free(pool);
            return err;
        }
    }
    *out = pool;
    return GW_OK;
}

void gw_db_pool_free(struct gw_db_pool *pool)
{
    if (pool == NULL) {
        return;
    }
    while (pool->wait_count > 0) {
        struct db_call w = waitq_pop(pool);
        w.done(w.arg, GW_ERR_UNAVAILABLE, NULL);
    }
    for (int i = 0; i < pool->n_conns; i++) {
        struct db_conn *c = &pool->conns[i];
        conn_fail_all(c);
        if (c->deadline_ev != NULL) {
            event_free(c->deadline_ev);
        }
        if (c->ev != NULL) {
            event_free(c->ev);
        }
        PQfinish(c->conn);
    }
    if (pool->retry_ev != NULL) {
        event_free(pool->retry_ev);
    }
    gw_xfree(pool->waitq);
    gw_xfree(pool->conns);
    gw_xfree(pool->dsn);
    gw_xfree(pool);
}

size_t gw_db_pool_pending(const struct gw_db_pool *pool)
{
    size_t n = pool->wait_count;
    for (int i = 0; i < pool->n_conns; i++) {
        n += (size_t)pool->conns[i].unit_n;
    }
    return n;
}

int gw_db_pool_healthy(const struct gw_db_pool *pool)
{
    int n = 0;
    for (int i = 0; i < pool->n_conns; i++) {
        n += pool->conns[i].conn != NULL && !pool->conns[i].connecting;
    }
    return n;
}

struct gw_db_stats gw_db_pool_stats(const struct gw_db_pool *pool)
{
    return (struct gw_db_stats){
        .transactions = atomic_load_explicit(&pool->n_transactions, memory_order_relaxed),
        .batches = atomic_load_explicit(&pool->n_batches, memory_order_relaxed),
        .batched_calls = atomic_load_explicit(&pool->n_batched_calls, memory_order_relaxed),
        .batches_retried = atomic_load_explicit(&pool->n_batches_retried, memory_order_relaxed),
    };
}
