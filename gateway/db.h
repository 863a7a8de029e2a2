/* The database from an event loop: each loop owns a pool of non-blocking libpq connections
 * in pipeline mode whose sockets are events of that loop. A query is queued and sent by the
 * next idle connection; its callback runs on the loop when the answer arrives, after its
 * transaction has committed. Never blocks. Not thread-safe: a pool belongs to one loop.
 *
 * Transactions: a call made with gw_db_query is its own transaction. Calls made with
 * gw_db_query_batchable that wait in the queue together run as one transaction (one sync
 * point, one commit); if any of them fails, the batch is rolled back and each call runs
 * again alone, so a caller sees exactly the outcome its call has by itself. A batchable call
 * must therefore be one self-contained function call whose effects are all or nothing and
 * that does not depend on running in a transaction of its own (it shares now() with the
 * batch, and may wait on row locks the batch's earlier calls hold).
 *
 * Time: the query timeout (gw_db_opts) bounds each call. The server cancels a statement
 * after its statement_timeout, a share of the query timeout, and rolls its transaction
 * back: the call fails with GW_ERR_DB and SQLSTATE 57014, and so does every call of a batch
 * one of whose statements was cancelled (they are not run again). A unit with no answer at
 * all by the query timeout is abandoned with its connection: its calls fail with
 * GW_ERR_UNAVAILABLE (whether it committed is then unknown, as with any lost connection). A
 * call that waited in the queue longer than the query timeout fails unsent with
 * GW_ERR_UNAVAILABLE. */
#ifndef GW_GATEWAY_DB_H
#define GW_GATEWAY_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "gw_err.h"

struct event_base;
struct gw_db_pool;

/* The outcome of one query. res is NULL when err is not GW_OK because no answer came
 * (connection lost, pool full: GW_ERR_UNAVAILABLE). When PostgreSQL answered with an error,
 * err is GW_ERR_DB and res holds it (PQresultErrorField works). res is owned by the pool and
 * cleared after the callback returns. */
typedef void gw_db_done_fn(void *arg, enum gw_err err, const PGresult *res);

/* What a pool connects to and its bounds. */
struct gw_db_opts {
    const char *dsn;
    int n_conns;          /* 1..GW_DB_CONNS_PER_LOOP_MAX */
    int query_timeout_ms; /* GW_DB_QUERY_TIMEOUT_MS_MIN..GW_DB_QUERY_TIMEOUT_MS_MAX */
};

/* Connects opts->n_conns connections (blocking, at start-up, before the loop runs). */
enum gw_err gw_db_pool_new(struct event_base *base, const struct gw_db_opts *opts,
                           struct gw_db_pool **out, struct gw_errbuf *eb) GW_MUST_CHECK;
/* Fails every queued and in-flight query with GW_ERR_UNAVAILABLE, closes, frees.
 * gw_db_pool_free(NULL) is a no-op. */
void gw_db_pool_free(struct gw_db_pool *pool);

/* Queues sql with n text parameters (NULL is SQL NULL). params are borrowed until done runs.
 * done always runs exactly once, possibly before gw_db_query returns when the pool is at
 * its limit (then with GW_ERR_UNAVAILABLE). */
void gw_db_query(struct gw_db_pool *pool, const char *sql, int n, const char *const *params,
                 gw_db_done_fn *done, void *arg);

/* A call that may share its transaction with other batchable calls (see above); the
 * fields are gw_db_query's arguments. */
struct gw_db_req {
    const char *sql;
    int n;
    const char *const *params;
    gw_db_done_fn *done;
    void *arg;
};

void gw_db_query_batchable(struct gw_db_pool *pool, const struct gw_db_req *req);

/* Counters since the pool started: for /metrics. */
struct gw_db_stats {
    uint64_t transactions;    /* units committed or rolled back: calls alone and batches */
    uint64_t batches;         /* committed batches of two calls or more */
    uint64_t batched_calls;   /* the calls in those batches */
    uint64_t batches_retried; /* batches rolled back and run again call by call */
};
struct gw_db_stats gw_db_pool_stats(const struct gw_db_pool *pool);

/* Number of queries queued or in flight, for drain and metrics. */
size_t gw_db_pool_pending(const struct gw_db_pool *pool);
/* Connections currently usable. */
int gw_db_pool_healthy(const struct gw_db_pool *pool);

#endif
