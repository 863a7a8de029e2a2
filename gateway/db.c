/* Asynchronous libpq pool in pipeline mode, driven by a libevent loop. */
#include "db.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_limits.h"
#include "gw_log.h"

#include "banned.h"

struct db_call {
    gw_db_done_fn *done;
    void *arg;
    PGresult *res;    /* the query's result, kept until its sync point arrives */
    int prepare_stmt; /* statement prepared ahead of this call in the pipeline, or -1 */
};

/* Every SQL text the gateway sends is a string literal at its call site: the first
 * DB_STMTS_MAX distinct texts are prepared once per connection (parse and plan once), the
 * rest are sent as they are. */
#define DB_STMTS_MAX 64

struct db_conn {
    struct gw_db_pool *pool;
    PGconn *conn;
    struct event *ev;
    bool connecting; /* PQconnectPoll in progress */
    bool write_wanted;
    uint64_t prepared; /* bit i: statement i of the pool is prepared on this connection */
    /* Ring of calls sent on this connection, oldest first. */
    struct db_call fifo[GW_DB_PIPELINE_DEPTH_MAX];
    int head;
    int count;
};

struct gw_db_pool {
    struct event_base *base;
    char *dsn;
    char options[64];
    int n_conns;
    struct db_conn *conns;
    struct event *retry_ev;
    const char *stmts[DB_STMTS_MAX];
    int n_stmts;

    /* Calls waiting for room on a connection. */
    struct db_wait {
        const char *sql;
        int n;
        const char *const *params;
        gw_db_done_fn *done;
        void *arg;
    } * waitq;

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
    while (c->count > 0) {
        struct db_call call = c->fifo[c->head];
        c->head = (c->head + 1) % GW_DB_PIPELINE_DEPTH_MAX;
        c->count--;
        PQclear(call.res);
        call.done(call.arg, GW_ERR_UNAVAILABLE, NULL);
    }
}

static void conn_broken(struct db_conn *c, const char *why)
{
    gw_log_error("db_connection_lost", "\"reason\":\"%s\"", why);
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

/* Reads every complete answer; each call ends at its PGRES_PIPELINE_SYNC. */
static void conn_read(struct db_conn *c)
{
    if (PQconsumeInput(c->conn) == 0) {
        conn_broken(c, "read failed");
        return;
    }
    int nulls = 0;
    while (c->count > 0 && !PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        struct db_call *head = &c->fifo[c->head];
        if (r == NULL) {
            /* End of this query's results; its sync point follows. Two NULLs in a row
             * would mean libpq has nothing more buffered: wait for the socket. */
            if (++nulls > 1) {
                break;
            }
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC && head->prepare_stmt >= 0) {
            /* The answer to our own PQsendPrepare: consumed here, unless it failed. */
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                c->prepared &= ~(UINT64_C(1) << head->prepare_stmt);
                head->res = r;
            } else {
                PQclear(r);
            }
            head->prepare_stmt = -1;
            continue;
        }
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
            if (head->res == NULL) {
                head->res = r;
            } else {
                PQclear(r);
            }
            continue;
        }
        PQclear(r);
        struct db_call call = *head;
        c->head = (c->head + 1) % GW_DB_PIPELINE_DEPTH_MAX;
        c->count--;
        enum gw_err err = GW_OK;
        ExecStatusType st = call.res == NULL ? PGRES_FATAL_ERROR : PQresultStatus(call.res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            err = call.res == NULL ? GW_ERR_UNAVAILABLE : GW_ERR_DB;
        }
        call.done(call.arg, err, call.res);
        PQclear(call.res);
        if (c->conn == NULL) {
            return; /* the callback's new query broke the connection */
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

/* The DSN may be key=value pairs or a URI: expand_dbname takes both, and statement_timeout
 * is added on top so it bounds every query on the server side (rule 9). */
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
    }
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

/* Sends one call and its sync point; *prepared_now is the statement it had to prepare
 * first on this connection, or -1. */
static bool conn_send(struct db_conn *c, const char *sql, int n, const char *const *params,
                      int *prepared_now)
{
    *prepared_now = -1;
    int idx = pool_stmt_index(c->pool, sql);
    if (idx < 0) {
        return PQsendQueryParams(c->conn, sql, n, NULL, params, NULL, NULL, 0) == 1 &&
               PQpipelineSync(c->conn) == 1;
    }
    char name[16];
    (void)snprintf(name, sizeof(name), "fg%d", idx);
    uint64_t bit = UINT64_C(1) << idx;
    if ((c->prepared & bit) == 0) {
        if (PQsendPrepare(c->conn, name, sql, n, NULL) != 1) {
            return false;
        }
        c->prepared |= bit;
        *prepared_now = idx;
    }
    return PQsendQueryPrepared(c->conn, name, n, params, NULL, NULL, 0) == 1 &&
           PQpipelineSync(c->conn) == 1;
}

static struct db_conn *pool_pick(struct gw_db_pool *pool)
{
    struct db_conn *best = NULL;
    for (int i = 0; i < pool->n_conns; i++) {
        struct db_conn *c = &pool->conns[i];
        if (c->conn == NULL || c->connecting || c->count >= GW_DB_PIPELINE_DEPTH_MAX) {
            continue;
        }
        if (best == NULL || c->count < best->count) {
            best = c;
        }
    }
    return best;
}

static void pool_send(struct db_conn *c, const char *sql, int n, const char *const *params,
                      gw_db_done_fn *done, void *arg)
{
    int prepared_now = -1;
    if (!conn_send(c, sql, n, params, &prepared_now)) {
        gw_log_error("db_send_failed", "\"error\":\"%s\"", "PQsendQueryParams");
        done(arg, GW_ERR_UNAVAILABLE, NULL);
        conn_broken(c, "send failed");
        return;
    }
    int tail = (c->head + c->count) % GW_DB_PIPELINE_DEPTH_MAX;
    c->fifo[tail] =
        (struct db_call){ .done = done, .arg = arg, .res = NULL, .prepare_stmt = prepared_now };
    c->count++;
    conn_flush(c);
}

static void pool_drain_waitq(struct gw_db_pool *pool)
{
    while (pool->wait_count > 0) {
        struct db_conn *c = pool_pick(pool);
        if (c == NULL) {
            return;
        }
        struct db_wait w = pool->waitq[pool->wait_head];
        pool->wait_head = (pool->wait_head + 1) % GW_DB_QUEUE_MAX;
        pool->wait_count--;
        pool_send(c, w.sql, w.n, w.params, w.done, w.arg);
    }
}

void gw_db_query(struct gw_db_pool *pool, const char *sql, int n, const char *const *params,
                 gw_db_done_fn *done, void *arg)
{
    GW_ASSERT(n >= 0 && n <= GW_DB_PARAMS_MAX);
    GW_ASSERT(done != NULL);
    struct db_conn *c = pool->wait_count == 0 ? pool_pick(pool) : NULL;
    if (c != NULL) {
        pool_send(c, sql, n, params, done, arg);
        return;
    }
    if (pool->wait_count >= GW_DB_QUEUE_MAX) {
        done(arg, GW_ERR_UNAVAILABLE, NULL);
        return;
    }
    size_t tail = (pool->wait_head + pool->wait_count) % GW_DB_QUEUE_MAX;
    pool->waitq[tail] =
        (struct db_wait){ .sql = sql, .n = n, .params = params, .done = done, .arg = arg };
    pool->wait_count++;
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

enum gw_err gw_db_pool_new(struct event_base *base, const char *dsn, int n, struct gw_db_pool **out,
                           struct gw_errbuf *eb)
{
    GW_ASSERT(n >= 1 && n <= GW_DB_CONNS_PER_LOOP_MAX);
    struct gw_db_pool *pool = gw_xcalloc(1, sizeof(*pool));
    pool->base = base;
    pool->dsn = gw_xstrdup(dsn);
    (void)snprintf(pool->options, sizeof(pool->options), "-c statement_timeout=%d",
                   GW_DB_STATEMENT_TIMEOUT_MS);
    pool->n_conns = n;
    pool->conns = gw_xcalloc((size_t)n, sizeof(*pool->conns));
    pool->waitq = gw_xcalloc(GW_DB_QUEUE_MAX, sizeof(*pool->waitq));
    pool->retry_ev = evtimer_new(base, pool_retry_cb, pool);
    GW_ASSERT(pool->retry_ev != NULL);
    for (int i = 0; i < n; i++) {
        pool->conns[i].pool = pool;
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
        struct db_wait w = pool->waitq[pool->wait_head];
        pool->wait_head = (pool->wait_head + 1) % GW_DB_QUEUE_MAX;
        pool->wait_count--;
        w.done(w.arg, GW_ERR_UNAVAILABLE, NULL);
    }
    for (int i = 0; i < pool->n_conns; i++) {
        struct db_conn *c = &pool->conns[i];
        conn_fail_all(c);
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
        n += (size_t)pool->conns[i].count;
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
