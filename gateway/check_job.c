/* The ledger check on a schedule: feegate.ledger_check() (docs/ledger.md) every
 * [jobs] ledger_check_interval_s, so that a broken invariant is found within that time
 * rather than when someone thinks of running `feegate ledger check`.
 *
 * Off the hot path: the check reads every table and may take seconds on a large ledger, so
 * it runs on a thread of its own with a blocking connection of its own, never on a loop's
 * pool (whose connections carry the payments). Loop 0's timer only starts the thread, and
 * only when the previous run has ended.
 *
 * One gateway at a time: the connection takes a session advisory lock and keeps it (and the
 * connection) for as long as the process lives; the other gateways' tries fail and they do
 * not check. When the holder dies its session ends, the lock is free, and the next gateway
 * to try takes over. A gateway that does not hold the lock reports no run.
 *
 * The result is kept here for /metrics (gw_check_job_metrics): when the last run ended, ok
 * or failed, how many checks failed; a failed run is logged as an error naming the failed
 * checks, a run that could not complete as a warning. */
#include "check_job.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "gw_assert.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "request.h"

#include "banned.h"

/* The session advisory lock of the checking gateway (day close uses 7378415059000000000 +
 * the day's number). */
#define CHECK_LOCK_KEY    "7378415060000000001"
/* The failed checks' names as logged (the rest is cut). */
#define CHECK_NAMES_BYTES 512

struct check_job {
    pthread_mutex_t lock; /* guards everything below but conn, which only the thread uses */
    struct event *timer;
    char dsn[GW_CONFIG_VALUE_BYTES];
    pthread_t thread;
    bool thread_live; /* started and not joined */
    bool running;     /* the thread has not finished its run */
    bool stopping;
    PGcancel *cancel; /* of conn, while connected */
    PGconn *conn;
    /* Results. */
    bool holder;          /* this gateway holds the lock and checks */
    long long last_run_s; /* Unix time of the last completed run; 0: none */
    bool last_ok;         /* valid when last_run_s > 0 */
    long failed_checks;   /* of the last completed run */
    unsigned long long runs;
    unsigned long long errors; /* runs that could not complete */
};

static struct check_job cj = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void check_error(const char *what, PGconn *conn)
{
    const char *m = conn != NULL ? PQerrorMessage(conn) : "";
    size_t n = strcspn(m, "\n");
    gw_log_warn("ledger_check_not_run", "\"what\":\"%s\",\"error\":\"%.*s\"", what,
                (int)(n > 200 ? 200 : n), m);
    pthread_mutex_lock(&cj.lock);
    cj.errors++;
    pthread_mutex_unlock(&cj.lock);
}

/* Closes the thread's connection (releasing the lock with the session). */
static void check_disconnect(void)
{
    pthread_mutex_lock(&cj.lock);
    PGcancel *c = cj.cancel;
    cj.cancel = NULL;
    cj.holder = false;
    pthread_mutex_unlock(&cj.lock);
    if (c != NULL) {
        PQfreeCancel(c);
    }
    if (cj.conn != NULL) {
        PQfinish(cj.conn);
        cj.conn = NULL;
    }
}

/* The session's settings: a bounded check, named in pg_stat_activity. */
static bool check_session_setup(void)
{
    PGresult *r =
        PQexec(cj.conn,
               "SET statement_timeout = '" GW_STR(
                   GW_LEDGER_CHECK_TIMEOUT_S) "s'; SET application_name = 'feegate ledger check'");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        check_error("set up the session", cj.conn);
    }
    return ok;
}

/* A connection that holds the lock, or false: not connected, or another gateway checks. */
static bool check_connect(void)
{
    if (cj.conn != NULL && PQstatus(cj.conn) != CONNECTION_OK) {
        check_disconnect();
    }
    if (cj.conn == NULL) {
        cj.conn = PQconnectdb(cj.dsn);
        if (cj.conn == NULL || PQstatus(cj.conn) != CONNECTION_OK) {
            check_error("connect", cj.conn);
            check_disconnect();
            return false;
        }
        PGcancel *c = PQgetCancel(cj.conn);
        pthread_mutex_lock(&cj.lock);
        cj.cancel = c;
        pthread_mutex_unlock(&cj.lock);
        if (!check_session_setup()) {
            check_disconnect();
            return false;
        }
    }
    if (cj.holder) {
        return true;
    }
    PGresult *r = PQexec(cj.conn, "SELECT pg_try_advisory_lock(" CHECK_LOCK_KEY ")");
    bool got = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        check_error("take the lock", cj.conn);
        PQclear(r);
        check_disconnect();
        return false;
    }
    PQclear(r);
    pthread_mutex_lock(&cj.lock);
    cj.holder = got;
    pthread_mutex_unlock(&cj.lock);
    if (got) {
        gw_log_info("ledger_check_holder", "\"lock\":%s", CHECK_LOCK_KEY);
    }
    return got;
}

/* Reads the rows of ledger_check(): the number of failed checks and their names. */
static bool check_read(const PGresult *r, long *failed, char *names, size_t cap)
{
    size_t off = 0;
    *failed = 0;
    names[0] = '\0';
    if (PQnfields(r) != 3) {
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        char *end = NULL;
        errno = 0;
        long v = strtol(PQgetvalue(r, i, 1), &end, 10);
        if (errno != 0 || *end != '\0' || v < 0) {
            return false;
        }
        if (v > 0) {
            (*failed)++;
            int n = snprintf(names + off, cap - off, "%s%s (%ld)", off > 0 ? ", " : "",
                             PQgetvalue(r, i, 0), v);
            if (n > 0 && (size_t)n < cap - off) {
                off += (size_t)n;
            }
        }
    }
    return true;
}

static void check_run(void)
{
    if (!check_connect()) {
        return;
    }
    PGresult *r = PQexec(cj.conn, "SELECT check_name, violations, detail "
                                  "FROM feegate.ledger_check()");
    long failed = 0;
    char names[CHECK_NAMES_BYTES];
    bool read =
        PQresultStatus(r) == PGRES_TUPLES_OK && check_read(r, &failed, names, sizeof(names));
    PQclear(r);
    if (!read) {
        check_error("run feegate.ledger_check()", cj.conn);
        check_disconnect();
        return;
    }
    pthread_mutex_lock(&cj.lock);
    cj.last_run_s = (long long)time(NULL);
    cj.last_ok = failed == 0;
    cj.failed_checks = failed;
    cj.runs++;
    pthread_mutex_unlock(&cj.lock);
    if (failed > 0) {
        gw_log_error("ledger_check_failed", "\"failed_checks\":%ld,\"checks\":\"%s\"", failed,
                     names);
    } else {
        gw_log_info("ledger_check_ok", "\"failed_checks\":0");
    }
}

static void *check_main(void *arg)
{
    (void)arg;
    check_run();
    pthread_mutex_lock(&cj.lock);
    cj.running = false;
    pthread_mutex_unlock(&cj.lock);
    return NULL;
}

/* Every interval: a new run on a new thread, unless the last one is still running. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback type */
static void check_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    pthread_mutex_lock(&cj.lock);
    bool busy = cj.running || cj.stopping;
    bool join = !busy && cj.thread_live;
    pthread_mutex_unlock(&cj.lock);
    if (busy) {
        return;
    }
    if (join) {
        GW_ASSERT(pthread_join(cj.thread, NULL) == 0);
        cj.thread_live = false;
    }
    pthread_mutex_lock(&cj.lock);
    cj.running = true;
    pthread_mutex_unlock(&cj.lock);
    if (pthread_create(&cj.thread, NULL, check_main, NULL) != 0) {
        pthread_mutex_lock(&cj.lock);
        cj.running = false;
        cj.errors++;
        pthread_mutex_unlock(&cj.lock);
        gw_log_warn("ledger_check_not_run", "\"what\":\"start the thread\"");
        return;
    }
    cj.thread_live = true;
}

void gw_check_job_start(struct gw_loop *loop)
{
    GW_ASSERT(loop->index == 0);
    const struct gw_config *cfg = &loop->srv->cfg;
    (void)snprintf(cj.dsn, sizeof(cj.dsn), "%s", cfg->dsn);
    cj.stopping = false;
    cj.timer = event_new(loop->base, -1, EV_PERSIST, check_timer_cb, NULL);
    GW_ASSERT(cj.timer != NULL);
    struct timeval tv = { .tv_sec = cfg->ledger_check_interval_s, .tv_usec = 0 };
    GW_ASSERT(event_add(cj.timer, &tv) == 0);
}

void gw_check_job_stop(struct gw_loop *loop)
{
    (void)loop;
    if (cj.timer != NULL) {
        GW_ASSERT(event_del(cj.timer) == 0);
    }
    char err[256];
    pthread_mutex_lock(&cj.lock);
    cj.stopping = true;
    if (cj.running && cj.cancel != NULL) {
        (void)PQcancel(cj.cancel, err, (int)sizeof(err));
    }
    pthread_mutex_unlock(&cj.lock);
}

void gw_check_job_free(struct gw_loop *loop)
{
    (void)loop;
    if (cj.thread_live) {
        GW_ASSERT(pthread_join(cj.thread, NULL) == 0);
        cj.thread_live = false;
    }
    check_disconnect();
    if (cj.timer != NULL) {
        event_free(cj.timer);
        cj.timer = NULL;
    }
}

enum gw_err gw_check_job_metrics(struct gw_buf *b)
{
    pthread_mutex_lock(&cj.lock);
    bool holder = cj.holder;
    long long last_run_s = cj.last_run_s;
    bool last_ok = cj.last_ok;
    long failed = cj.failed_checks;
    unsigned long long runs = cj.runs;
    unsigned long long errors = cj.errors;
    pthread_mutex_unlock(&cj.lock);
    enum gw_err err = gw_buf_printf(
        b,
        "# TYPE feegate_ledger_check_holder gauge\nfeegate_ledger_check_holder %d\n"
        "# TYPE feegate_ledger_check_runs_total counter\nfeegate_ledger_check_runs_total %llu\n"
        "# TYPE feegate_ledger_check_errors_total counter\n"
        "feegate_ledger_check_errors_total %llu\n",
        holder, runs, errors);
    if (err == GW_OK && last_run_s > 0) {
        err = gw_buf_printf(b,
                            "# TYPE feegate_ledger_check_last_run_timestamp_seconds gauge\n"
                            "feegate_ledger_check_last_run_timestamp_seconds %lld\n"
                            "# TYPE feegate_ledger_check_ok gauge\nfeegate_ledger_check_ok %d\n"
                            "# TYPE feegate_ledger_check_failed_checks gauge\n"
                            "feegate_ledger_check_failed_checks %ld\n",
                            last_run_s, last_ok, failed);
    }
    return err;
}
