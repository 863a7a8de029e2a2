/* Limits that hold: the database query timeout ([database] query_timeout_ms) on the payment
 * path. A superuser session holds a lock that creating a payment needs: the server's
 * statement_timeout cancels the create, which is answered 503 in about the timeout, nothing
 * of it stays, and a retry with the same Idempotency-Key creates the payment once. The same
 * for a batch of concurrent creates (failed together, not run again one by one). Then the
 * database stops answering altogether (the gateway's backends get SIGSTOP): the client-side
 * deadline drops the connection and the request is answered 503 all the same. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_limits.h"
#include "gw_time.h"
#include "it.h"

#define LIM_QUERY_TIMEOUT_MS     1600 /* as written in feegate.ini below */
#define LIM_STATEMENT_TIMEOUT_MS 1000 /* the server's share: 5/8 of it */
#define LIM_SLACK_MS             1500 /* loopback, scheduling on a busy machine */
#define LIM_CREATORS             16
#define LIM_BACKENDS_MAX         64

struct lim_create {
    pthread_t thread;
    long long elapsed_ms;
    int status;
    bool replayed;
    char ref[48];
    char key[64];
    char body[1024];
    char answer[1024];
};

static void lim_create_init(struct lim_create *c, const char *tag, int i)
{
    (void)snprintf(c->ref, sizeof(c->ref), "LIM-%s-%d-%d-%ld", tag, i, getpid(), (long)time(NULL));
    (void)snprintf(c->key, sizeof(c->key), "lim-%s-%d-%d-%ld", tag, i, getpid(), (long)time(NULL));
    it_create_body(c->body, sizeof(c->body), c->ref);
}

static void *lim_create_send(void *arg)
{
    struct lim_create *c = arg;
    int64_t t0 = gw_monotonic_us();
    struct th_resp r;
    c->status = -1;
    if (th_portal("POST", "/v1/payments", c->body, c->key, &r) == GW_OK) {
        c->status = r.status;
        (void)snprintf(c->answer, sizeof(c->answer), "%s", r.body);
        c->replayed = th_resp_header(&r, "Idempotent-Replayed") != NULL;
    }
    th_resp_release(&r);
    c->elapsed_ms = (gw_monotonic_us() - t0) / 1000;
    return NULL;
}

/* The answer is the API's 503 with its error JSON, in no more than max_ms. */
static void lim_assert_503(const struct lim_create *c, long long max_ms)
{
    if (c->status != 503 || c->elapsed_ms > max_ms) {
        fprintf(stderr, "create %s: %d after %lld ms: %s\n", c->ref, c->status, c->elapsed_ms,
                c->answer);
    }
    assert_int_equal(c->status, 503);
    assert_true(c->elapsed_ms <= max_ms);
    json_t *j = json_loads(c->answer, 0, NULL);
    assert_non_null(j);
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    assert_non_null(code);
    assert_string_equal(code, "unavailable");
    json_decref(j);
}

/* How many payments carry order_ref ref (our own test reference: no quote in it). */
static long long lim_payments_with_ref(const char *ref)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM feegate.payments WHERE order_ref = '%s'",
                   ref);
    return th_sql_int(&it.db, sql);
}

/* How many stored idempotency rows carry key (our own test key: no quote in it). */
static long long lim_idem_keys(const char *key)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.idempotency WHERE idem_key = '%s'", key);
    return th_sql_int(&it.db, sql);
}

/* Nothing of c stays: no payment, no stored idempotency key. */
static void lim_assert_absent(const struct lim_create *c)
{
    assert_int_equal(lim_payments_with_ref(c->ref), 0);
    assert_int_equal(lim_idem_keys(c->key), 0);
}

/* Retries c with its key until it is answered (the pool may still be reconnecting), then
 * once more: 201 both times, the second a replay, and exactly one payment. */
static void lim_assert_retry_creates_once(struct lim_create *c)
{
    for (int i = 0; i < 50; i++) {
        (void)lim_create_send(c);
        if (c->status != 503) {
            break;
        }
        usleep(100 * 1000);
    }
    if (c->status != 201) {
        fprintf(stderr, "retry of %s: %d: %s\n", c->ref, c->status, c->answer);
    }
    assert_int_equal(c->status, 201);
    char first[sizeof(c->answer)];
    memcpy(first, c->answer, sizeof(first));
    (void)lim_create_send(c);
    assert_int_equal(c->status, 201);
    assert_true(c->replayed);
    assert_string_equal(c->answer, first);
    assert_int_equal(lim_payments_with_ref(c->ref), 1);
}

/* A superuser session that holds EXCLUSIVE on feegate.payments: reads go on, the create's
 * INSERT waits. */
static PGconn *lim_lock_payments(void)
{
    PGconn *c = PQconnectdb(it.db.pg.admin_dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "BEGIN; LOCK TABLE feegate.payments IN EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

static void lim_unlock(PGconn *c)
{
    PGresult *r = PQexec(c, "ROLLBACK");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

static void test_create_waiting_on_a_lock_is_cancelled(void **state)
{
    (void)state;
    static struct lim_create c;
    lim_create_init(&c, "one", 0);
    PGconn *lock = lim_lock_payments();
    (void)lim_create_send(&c);
    lim_assert_503(&c, LIM_QUERY_TIMEOUT_MS + LIM_SLACK_MS);
    assert_true(c.elapsed_ms >= LIM_STATEMENT_TIMEOUT_MS - 100);
    lim_assert_absent(&c); /* a plain read goes past the lock */
    lim_unlock(lock);
    lim_assert_absent(&c);
    lim_assert_retry_creates_once(&c);
    it_assert_ledger_ok();
}

/* Concurrent creates share transactions (batches). A cancelled batch fails its calls at once
 * instead of running each again alone, and a call that waited in the queue past the timeout
 * is not sent: every answer comes within about two timeouts (a call may wait for a
 * connection through another unit's timeout, then through its own). */
static void test_concurrent_creates_fail_together(void **state)
{
    (void)state;
    static struct lim_create cs[LIM_CREATORS];
    for (int i = 0; i < LIM_CREATORS; i++) {
        lim_create_init(&cs[i], "batch", i);
    }
    PGconn *lock = lim_lock_payments();
    for (int i = 0; i < LIM_CREATORS; i++) {
        assert_int_equal(pthread_create(&cs[i].thread, NULL, lim_create_send, &cs[i]), 0);
    }
    for (int i = 0; i < LIM_CREATORS; i++) {
        assert_int_equal(pthread_join(cs[i].thread, NULL), 0);
    }
    lim_unlock(lock);
    for (int i = 0; i < LIM_CREATORS; i++) {
        lim_assert_503(&cs[i], 2 * LIM_QUERY_TIMEOUT_MS + LIM_SLACK_MS);
        lim_assert_absent(&cs[i]);
    }
    for (int i = 0; i < LIM_CREATORS; i++) {
        lim_assert_retry_creates_once(&cs[i]);
    }
    it_assert_ledger_ok();
}

static pid_t lim_stopped[LIM_BACKENDS_MAX];
static int lim_n_stopped;

static void lim_continue_backends(void)
{
    for (int i = 0; i < lim_n_stopped; i++) {
        (void)kill(lim_stopped[i], SIGCONT);
    }
    lim_n_stopped = 0;
}

/* SIGSTOP to every backend of the application role: the database takes the gateway's
 * queries and never answers (its own statement_timeout cannot fire either). */
static void lim_stop_backends(void)
{
    PGconn *c = PQconnectdb(it.db.pg.admin_dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE usename = '" GW_PGEMBED_APP_ROLE
                            "' AND backend_type = 'client backend'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_true(PQntuples(r) > 0 && PQntuples(r) <= LIM_BACKENDS_MAX);
    for (int i = 0; i < PQntuples(r); i++) {
        pid_t pid = (pid_t)strtol(PQgetvalue(r, i, 0), NULL, 10);
        if (kill(pid, SIGSTOP) == 0) {
            lim_stopped[lim_n_stopped++] = pid;
        }
    }
    PQclear(r);
    PQfinish(c);
    assert_true(lim_n_stopped > 0);
}

static void test_database_that_stops_answering(void **state)
{
    (void)state;
    static struct lim_create c;
    lim_create_init(&c, "stopped", 0);
    lim_stop_backends();
    (void)lim_create_send(&c);
    lim_continue_backends();
    lim_assert_503(&c, LIM_QUERY_TIMEOUT_MS + LIM_SLACK_MS);
    assert_true(c.elapsed_ms >= LIM_QUERY_TIMEOUT_MS - 100);
    /* Whether the resumed backend ran the create before it saw its client gone is unknown,
     * as after any lost connection: the retry with the key settles it, exactly once. */
    lim_assert_retry_creates_once(&c);
    it_assert_ledger_ok();
}

static int setup(void **state)
{
    (void)state;
    it.gw.ini_extra = "[database]\nquery_timeout_ms = " GW_STR(LIM_QUERY_TIMEOUT_MS) "\n";
    return it_start("approve", NULL);
}

static int teardown(void **state)
{
    (void)state;
    lim_continue_backends();
    return it_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_waiting_on_a_lock_is_cancelled),
        cmocka_unit_test(test_concurrent_creates_fail_together),
        cmocka_unit_test(test_database_that_stops_answering),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
