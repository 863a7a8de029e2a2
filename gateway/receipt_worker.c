/* The receipt worker: the issuer thread (jobs from the database, blocking libpq) and the
 * renderer thread (PDF and verification tasks from the loops). Both are plain threads with
 * their own state; the only shared things are the task queue (mutex + condition) and the
 * loops' events, which libevent lets any thread activate (evthread_use_pthreads). */
#include "receipt_worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "config.h"
#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_limits.h"
#include "gw_log.h"

#include "banned.h"

#define ISSUE_BATCH_MAX  50   /* jobs claimed per round trip */
#define ISSUE_LEASE_S    60   /* a claimed job is another gateway's again after this */
#define ISSUE_IDLE_MS    200  /* poll interval when there is nothing to do */
#define ISSUE_RETRY_MS   1000 /* after a database failure */
#define TASKS_QUEUED_MAX 256
#define WORKER_DOC_BYTES ((size_t)512 * 1024)

struct gw_receipt_worker {
    char dsn[GW_CONFIG_VALUE_BYTES];
    char ca[GW_CONFIG_VALUE_BYTES];
    char verify_base[GW_CONFIG_VALUE_BYTES + 32]; /* public_url + "/verify?code=" */
    struct rcp_signer *signer;                    /* NULL: unsigned documents */
    pthread_t issuer;
    pthread_t renderer;
    bool issuer_started, renderer_started;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* tasks queued, or stopping */
    bool stopping;
    struct gw_receipt_task *head, *tail;
    int queued;
};

static void deadline_in(struct timespec *ts, int ms)
{
    GW_ASSERT(clock_gettime(CLOCK_MONOTONIC, ts) == 0);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Sleeps up to ms unless stopping; returns whether the worker is stopping. */
static bool nap(struct gw_receipt_worker *w, int ms)
{
    struct timespec ts;
    deadline_in(&ts, ms);
    GW_ASSERT(pthread_mutex_lock(&w->lock) == 0);
    if (!w->stopping) {
        (void)pthread_cond_timedwait(&w->wake, &w->lock, &ts);
    }
    bool stop = w->stopping;
    GW_ASSERT(pthread_mutex_unlock(&w->lock) == 0);
    return stop;
}

/* ---- the issuer ---- */

/* The issuer's statements, prepared once per connection: a document costs its execution
 * only, not a parse and a plan as well. */
static const struct {
    const char *name;
    const char *sql;
} issue_stmts[] = {
    { "rcp_store", "SELECT feegate.receipt_document_store($1, 'xml', $2, $3)" },
    { "rcp_fail", "SELECT feegate.receipt_job_fail($1, $2)" },
};

/* The DSN's own settings, the connect limit over them (see gw_limits.h). */
static const char *const issuer_keys[] = { "dbname", "connect_timeout", NULL };
#define ISSUER_TIMEOUT_MS GW_STR(GW_RECEIPT_STATEMENT_TIMEOUT_MS)
static const char issuer_settings_sql[] =
    "SET statement_timeout = " ISSUER_TIMEOUT_MS "; SET client_min_messages = warning";

static PGconn *issuer_connect(const struct gw_receipt_worker *w)
{
    PGconn *c = PQconnectdbParams(
        issuer_keys, (const char *const[]){ w->dsn, GW_STR(GW_DB_CONNECT_TIMEOUT_S), NULL }, 1);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, issuer_settings_sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        for (size_t i = 0; ok && i < sizeof(issue_stmts) / sizeof(issue_stmts[0]); i++) {
            r = PQprepare(c, issue_stmts[i].name, issue_stmts[i].sql, 0, NULL);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        if (ok) {
            return c;
        }
    }
    char esc[256];
    gw_log_warn("receipt_worker_connect_failed", "\"error\":\"%s\"",
                gw_log_esc(esc, sizeof(esc), PQerrorMessage(c)));
    PQfinish(c);
    return NULL;
}

/* The signed (or unsigned) XML of one receipt_view, into xml. */
static enum gw_err build_xml(const struct gw_receipt_worker *w, const char *view,
                             struct gw_buf *xml, struct gw_errbuf *eb)
{
    struct gw_arena a;
    gw_arena_init(&a, 16384, GW_ARENA_BYTES_MAX);
    struct rcp_receipt r;
    enum gw_err err = rcp_receipt_from_json(view, w->verify_base, &a, &r, eb);
    if (err == GW_OK) {
        err = rcp_xml_build(&r, w->signer, xml, eb);
    }
    gw_arena_release(&a);
    return err;
}

/* Reads one statement's results; true when it succeeded. */
static bool collect_ok(PGconn *c)
{
    bool ok = false;
    bool seen = false;
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (!seen) {
            ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
            seen = true;
        }
        if (st == PGRES_FATAL_ERROR) {
            char esc[256];
            gw_log_warn("receipt_store_failed", "\"error\":\"%s\"",
                        gw_log_esc(esc, sizeof(esc), PQresultErrorMessage(r)));
        }
        PQclear(r);
    }
    return ok;
}

/* Claimed job `row` of jobs: build and sign its document, and send the statement that
 * stores it (or that records its failure for a later retry), without waiting for the answer. */
static bool issue_send(struct gw_receipt_worker *w, PGconn *c, const PGresult *jobs, int row)
{
    const char *id = PQgetvalue(jobs, row, 0);
    const char *view = PQgetvalue(jobs, row, 1);
    struct gw_buf xml;
    gw_buf_init(&xml, WORKER_DOC_BYTES);
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = view[0] != '\0' ? build_xml(w, view, &xml, &eb)
                                      : gw_fail(&eb, GW_ERR_NOT_FOUND, "no receipt_view");
    int sent;
    if (err == GW_OK) {
        const char *p[3] = { id, gw_buf_str(&xml),
                             w->signer != NULL ? rcp_signer_fingerprint(w->signer) : NULL };
        sent = PQsendQueryPrepared(c, "rcp_store", 3, p, NULL, NULL, 0);
    } else {
        char esc[300];
        gw_log_error("receipt_issue_failed", "\"receipt_id\":\"%s\",\"error\":\"%s\"", id,
                     gw_log_esc(esc, sizeof(esc), eb.msg));
        const char *p[2] = { id, eb.msg };
        sent = PQsendQueryPrepared(c, "rcp_fail", 2, p, NULL, NULL, 0);
    }
    gw_buf_release(&xml); /* libpq copied the parameters into its output buffer */
    return sent == 1;
}

enum issue_result {
    ISSUE_DONE,   /* stored, or its failure recorded for a later retry */
    ISSUE_FAILED, /* the statement failed; the connection is still usable */
    ISSUE_DEAD,   /* the connection is unusable */
};

/* Claimed job `row` of jobs, alone: sent, then answered. */
static enum issue_result issue_one(struct gw_receipt_worker *w, PGconn *c, const PGresult *jobs,
                                   int row)
{
    if (issue_send(w, c, jobs, row) && collect_ok(c)) {
        return ISSUE_DONE;
    }
    return PQstatus(c) == CONNECTION_OK ? ISSUE_FAILED : ISSUE_DEAD;
}

static bool exec_command(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* Sends every claimed job's statement back to back in pipeline mode, closed by one sync
 * point, then reads the answers: one round trip for the batch. True when all succeeded. */
static bool issue_pipelined(struct gw_receipt_worker *w, PGconn *c, const PGresult *jobs)
{
    if (PQenterPipelineMode(c) != 1) {
        return false;
    }
    int sent = 0;
    bool ok = true;
    for (int i = 0; i < PQntuples(jobs) && ok; i++) {
        ok = issue_send(w, c, jobs, i);
        sent += ok ? 1 : 0;
    }
    if (PQpipelineSync(c) != 1) {
        return false; /* the connection is broken; the caller finds it so */
    }
    for (int i = 0; i < sent; i++) {
        ok = collect_ok(c) && ok;
    }
    PGresult *r = PQgetResult(c); /* the sync point */
    bool synced = r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    return PQexitPipelineMode(c) == 1 && synced && ok;
}

/* Issues the claimed jobs in one transaction: one commit for the whole batch instead of one
 * per receipt. Returns false when any of them failed; the transaction is then rolled back
 * and nothing of the batch is stored. */
static bool issue_together(struct gw_receipt_worker *w, PGconn *c, const PGresult *jobs)
{
    if (!exec_command(c, "BEGIN")) {
        return false;
    }
    if (issue_pipelined(w, c, jobs)) {
        PGresult *r = PQexec(c, "COMMIT");
        /* COMMIT of a transaction that failed answers ROLLBACK: check the tag too. */
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
        PQclear(r);
        return ok;
    }
    if (PQstatus(c) == CONNECTION_OK && PQpipelineStatus(c) == PQ_PIPELINE_OFF) {
        (void)exec_command(c, "ROLLBACK");
    }
    return false;
}

/* Claims a batch and issues it; returns the number claimed, or -1 when the connection
 * failed. The batch is stored in one transaction; if that fails, each job is issued again
 * alone, so that one bad job holds back only itself. */
static int issue_batch(struct gw_receipt_worker *w, PGconn *c)
{
    static const char *const params[2] = { GW_STR(ISSUE_BATCH_MAX), GW_STR(ISSUE_LEASE_S) };
    PGresult *r = PQexecParams(c,
                               "SELECT receipt_id, view FROM "
                               "feegate.receipt_jobs_claim($1::int, $2::int)",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char esc[256];
        gw_log_warn("receipt_claim_failed", "\"error\":\"%s\"",
                    gw_log_esc(esc, sizeof(esc), PQresultErrorMessage(r)));
        PQclear(r);
        return PQstatus(c) == CONNECTION_OK ? 0 : -1;
    }
    int n = PQntuples(r);
    bool alive = true;
    if (n > 1 && !issue_together(w, c, r)) {
        /* Still in pipeline mode after a failure: its state is unknown, start afresh. */
        alive = PQstatus(c) == CONNECTION_OK && PQpipelineStatus(c) == PQ_PIPELINE_OFF;
        for (int i = 0; i < n && alive; i++) {
            alive = issue_one(w, c, r, i) != ISSUE_DEAD;
        }
    } else if (n == 1) {
        alive = issue_one(w, c, r, 0) != ISSUE_DEAD;
    }
    PQclear(r);
    return alive ? n : -1;
}

static void *issuer_main(void *arg)
{
    struct gw_receipt_worker *w = arg;
    PGconn *c = NULL;
    bool stop = false;
    while (!stop) {
        if (c == NULL) {
            c = issuer_connect(w);
        }
        int n = c != NULL ? issue_batch(w, c) : -1;
        if (n < 0) {
            PQfinish(c);
            c = NULL;
            stop = nap(w, ISSUE_RETRY_MS);
        } else if (n < ISSUE_BATCH_MAX) {
            stop = nap(w, ISSUE_IDLE_MS);
        } else {
            GW_ASSERT(pthread_mutex_lock(&w->lock) == 0);
            stop = w->stopping;
            GW_ASSERT(pthread_mutex_unlock(&w->lock) == 0);
        }
    }
    PQfinish(c);
    return NULL;
}

/* ---- the renderer ---- */

static void task_pdf(const struct gw_receipt_worker *w, struct gw_receipt_task *t)
{
    struct gw_arena a;
    gw_arena_init(&a, 16384, GW_ARENA_BYTES_MAX);
    struct rcp_receipt r;
    t->err = rcp_receipt_from_xml(t->input, t->input_len, &a, &r, &t->eb);
    const char *note = NULL;
    char buf[400];
    if (t->err == GW_OK && w->ca[0] != '\0' &&
        rcp_xml_verify(t->input, t->input_len, w->ca, &t->verify, &t->eb) == GW_OK &&
        t->verify.valid) {
        (void)snprintf(buf, sizeof(buf), "%.250s\nSHA-256 %.16s…", t->verify.signer,
                       t->verify.fingerprint);
        note = buf;
    } else if (t->err == GW_OK &&
               strstr(t->input, "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"") !=
                   NULL) {
        note = "(chữ ký số trong tệp XML của biên lai)";
    }
    if (t->err == GW_OK) {
        t->err = rcp_pdf_render(&r, note, &t->out, &t->eb);
    }
    gw_arena_release(&a);
}

static void task_run(const struct gw_receipt_worker *w, struct gw_receipt_task *t)
{
    gw_buf_init(&t->out, WORKER_DOC_BYTES);
    t->err = GW_OK;
    t->eb.msg[0] = '\0';
    memset(&t->verify, 0, sizeof(t->verify));
    if (t->kind == GW_RECEIPT_TASK_PDF) {
        task_pdf(w, t);
    } else if (w->ca[0] == '\0') {
        t->err = gw_fail(&t->eb, GW_ERR_UNAVAILABLE, "no CA is configured for verification");
    } else {
        t->err = rcp_xml_verify(t->input, t->input_len, w->ca, &t->verify, &t->eb);
    }
}

static void *renderer_main(void *arg)
{
    struct gw_receipt_worker *w = arg;
    for (;;) {
        GW_ASSERT(pthread_mutex_lock(&w->lock) == 0);
        while (!w->stopping && w->head == NULL) {
            GW_ASSERT(pthread_cond_wait(&w->wake, &w->lock) == 0);
        }
        struct gw_receipt_task *t = w->stopping ? NULL : w->head;
        if (t != NULL) {
            w->head = t->next;
            if (w->head == NULL) {
                w->tail = NULL;
            }
            w->queued--;
        }
        GW_ASSERT(pthread_mutex_unlock(&w->lock) == 0);
        if (t == NULL) {
            rcp_pdf_thread_release();
            return NULL;
        }
        task_run(w, t);
        event_active(t->done_ev, EV_TIMEOUT, 0); /* t belongs to the loop from here on */
    }
}

bool gw_receipt_task_submit(struct gw_receipt_worker *w, struct gw_receipt_task *t)
{
    GW_ASSERT(t->done_ev != NULL);
    t->next = NULL;
    GW_ASSERT(pthread_mutex_lock(&w->lock) == 0);
    bool ok = !w->stopping && w->queued < TASKS_QUEUED_MAX;
    if (ok) {
        if (w->tail != NULL) {
            w->tail->next = t;
        } else {
            w->head = t;
        }
        w->tail = t;
        w->queued++;
        GW_ASSERT(pthread_cond_broadcast(&w->wake) == 0);
    }
    GW_ASSERT(pthread_mutex_unlock(&w->lock) == 0);
    return ok;
}

bool gw_receipt_worker_can_verify(const struct gw_receipt_worker *w)
{
    return w != NULL && w->ca[0] != '\0';
}

/* ---- life cycle ---- */

static enum gw_err worker_config(struct gw_receipt_worker *w, const struct gw_config *cfg,
                                 struct gw_errbuf *eb)
{
    (void)snprintf(w->dsn, sizeof(w->dsn), "%s", cfg->dsn);
    (void)snprintf(w->ca, sizeof(w->ca), "%s", cfg->receipt_ca);
    (void)snprintf(w->verify_base, sizeof(w->verify_base), "%s/verify?code=", cfg->public_url);
    enum gw_err err = rcp_init(eb);
    if (err == GW_OK && cfg->receipt_cert[0] != '\0') {
        err = rcp_signer_load(cfg->receipt_cert, cfg->receipt_key, &w->signer, eb);
    }
    if (err == GW_OK && w->signer != NULL) {
        gw_log_info("receipt_signer", "\"cert_sha256\":\"%s\",\"algorithm\":\"%s\"",
                    rcp_signer_fingerprint(w->signer), rcp_signer_algorithm(w->signer));
    } else if (err == GW_OK) {
        gw_log_warn("receipt_signer_missing", "\"note\":\"[receipts] has no cert: receipts are "
                                              "issued unsigned\"");
    }
    return err;
}

enum gw_err gw_receipt_worker_start(const struct gw_config *cfg, struct gw_receipt_worker **out,
                                    struct gw_errbuf *eb)
{
    struct gw_receipt_worker *w = gw_xcalloc(1, sizeof(*w));
    *out = NULL;
    pthread_condattr_t ca;
    GW_ASSERT(pthread_condattr_init(&ca) == 0);
    GW_ASSERT(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0);
    GW_ASSERT(pthread_cond_init(&w->wake, &ca) == 0);
    GW_ASSERT(pthread_condattr_destroy(&ca) == 0);
    GW_ASSERT(pthread_mutex_init(&w->lock, NULL) == 0);
    enum gw_err err = worker_config(w, cfg, eb);
    if (err == GW_OK) {
        w->issuer_started = pthread_create(&w->issuer, NULL, issuer_main, w) == 0;
        w->renderer_started = pthread_create(&w->renderer, NULL, renderer_main, w) == 0;
        if (!w->issuer_started || !w->renderer_started) {
            err = gw_fail(eb, GW_ERR_INTERNAL, "could not start the receipt worker threads");
        }
    }
    if (err != GW_OK) {
        gw_receipt_worker_stop(w);
        return err;
    }
    *out = w;
    return GW_OK;
}

void gw_receipt_worker_stop(struct gw_receipt_worker *w)
{
    if (w == NULL) {
        return;
    }
    GW_ASSERT(pthread_mutex_lock(&w->lock) == 0);
    w->stopping = true;
    GW_ASSERT(pthread_cond_broadcast(&w->wake) == 0);
    GW_ASSERT(pthread_mutex_unlock(&w->lock) == 0);
    if (w->issuer_started) {
        GW_ASSERT(pthread_join(w->issuer, NULL) == 0);
    }
    if (w->renderer_started) {
        GW_ASSERT(pthread_join(w->renderer, NULL) == 0);
    }
    rcp_signer_free(w->signer);
    if (w->issuer_started && w->renderer_started) {
        rcp_shutdown(); /* the daemon is ending: font caches and xmlsec, for leak checkers */
    }
    GW_ASSERT(pthread_cond_destroy(&w->wake) == 0);
    GW_ASSERT(pthread_mutex_destroy(&w->lock) == 0);
    gw_xfree(w);
}
