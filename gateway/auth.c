/* Portal request authentication: X-Feegate-Client, X-Feegate-Timestamp and
 * X-Feegate-Signature = "v1=" hex HMAC-SHA256(secret, METHOD \n PATH_AND_QUERY \n TIMESTAMP \n
 * hex SHA-256(body)), over the exact bytes received, compared in constant time. A signed
 * request that changes something is accepted once: its signature is remembered in the
 * database (request_once, ledger/sql/base/idempotency.sql) until no gateway would accept a copy,
 * and the client-list refresh purges what has expired. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "db.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_log.h"
#include "gw_sign.h"
#include "gw_time.h"
#include "request.h"

#include "banned.h"

#define CLIENTS_REFRESH_S 30

static const char *method_name(int method)
{
    switch (method) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

static const struct gw_client *client_find(const struct gw_clients *cs, const char *id)
{
    if (cs == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < cs->n; i++) {
        if (strcmp(cs->items[i].id, id) == 0) {
            return &cs->items[i];
        }
    }
    return NULL;
}

static bool parse_timestamp(const char *s, int64_t *out)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 12) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno != 0) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

bool gw_auth_headers(struct gw_ctx *ctx, struct gw_auth_req *ar)
{
    ar->id = gw_ctx_header(ctx, "X-Feegate-Client");
    ar->ts = gw_ctx_header(ctx, "X-Feegate-Timestamp");
    ar->sig = gw_ctx_header(ctx, "X-Feegate-Signature");
    if (ar->id == NULL || ar->ts == NULL || ar->sig == NULL) {
        gw_reply_error(ctx, 401, "unauthenticated",
                       "X-Feegate-Client, X-Feegate-Timestamp and X-Feegate-Signature are "
                       "required");
        return false;
    }
    int64_t t = 0;
    int64_t now = gw_now_ms() / 1000;
    if (!parse_timestamp(ar->ts, &t) || t < now - GW_AUTH_CLOCK_SKEW_S ||
        t > now + GW_AUTH_CLOCK_SKEW_S) {
        gw_reply_error(ctx, 401, "stale_timestamp",
                       "X-Feegate-Timestamp must be Unix seconds within %d s of the server "
                       "clock",
                       GW_AUTH_CLOCK_SKEW_S);
        return false;
    }
    return true;
}

bool gw_auth_signature(struct gw_ctx *ctx, const struct gw_auth_req *ar, const char *secret)
{
    const struct gw_sign_req r = { method_name(ctx->method), ctx->uri, ar->ts, ctx->body,
                                   ctx->body_len };
    char want[GW_SIGN_V1_BYTES];
    /* An unknown id is checked against a dummy key so timing does not reveal ids. */
    const char *key = secret != NULL ? secret : "feegate-no-such-client";
    gw_sign_v1(key, strlen(key), &r, want);
    const char *hex = want + GW_SIGN_V1_PREFIX_LEN;
    bool ok = strncmp(ar->sig, GW_SIGN_V1_PREFIX, GW_SIGN_V1_PREFIX_LEN) == 0 &&
              gw_hex_equal_ct(ar->sig + GW_SIGN_V1_PREFIX_LEN,
                              strlen(ar->sig + GW_SIGN_V1_PREFIX_LEN), hex, strlen(hex)) &&
              secret != NULL;
    if (!ok) {
        gw_reply_error(ctx, 401, "bad_signature",
                       "the request signature does not match (see docs/api.md, signing)");
        return false;
    }
    /* What request_once remembers: the signature as computed, in lower case (the comparison
     * above ignores the case of the hex, so a copy in upper case is the same request), and
     * when its window ends (the timestamp is digits within the window: checked). */
    ctx->signature = gw_arena_strdup(&ctx->arena, want);
    ctx->sig_expires_unix =
        gw_arena_printf(&ctx->arena, "%lld", strtoll(ar->ts, NULL, 10) + GW_AUTH_REPLAY_KEEP_S);
    if (ctx->signature == NULL || ctx->sig_expires_unix == NULL) {
        gw_reply_error(ctx, 503, "overloaded", "no memory for the request");
        return false;
    }
    return true;
}

bool gw_auth_check(struct gw_ctx *ctx)
{
    struct gw_auth_req ar;
    if (!gw_auth_headers(ctx, &ar)) {
        return false;
    }
    const struct gw_clients *cs =
        atomic_load_explicit(&ctx->loop->srv->clients, memory_order_acquire);
    const struct gw_client *c = client_find(cs, ar.id);
    if (!gw_auth_signature(ctx, &ar, c != NULL ? c->secret : NULL)) {
        return false;
    }
    ctx->client_id = c->id;
    return true;
}

/* A client the gateway cannot hold is left out of the snapshot; each load says so once per
 * client, so that a portal refused with "bad_signature" can be traced to its cause. */
static void client_dropped(const PGresult *res, int row, const char *why)
{
    const char *id = PQgetvalue(res, row, 0);
    char esc[2 * GW_CLIENT_ID_BYTES_MAX + 8];
    char cut[GW_CLIENT_ID_BYTES_MAX + 1];
    size_t n = strnlen(id, GW_CLIENT_ID_BYTES_MAX); /* a too-long id is logged cut */
    memcpy(cut, id, n);
    cut[n] = '\0';
    gw_log_error("client_dropped", "\"client\":\"%s\",\"reason\":\"%s\"",
                 gw_log_esc(esc, sizeof(esc), cut), why);
}

/* Builds a snapshot from "SELECT id, secret FROM feegate.clients_list()". Outside development
 * mode a secret shorter than GW_CLIENT_SECRET_BYTES_MIN is left out: `feegate serve` refused
 * to start with one, and one added since is refused the same way. */
static struct gw_clients *clients_from_result(const struct gw_server *srv, const PGresult *res)
{
    size_t secret_min = srv->cfg.development ? 0 : GW_CLIENT_SECRET_BYTES_MIN;
    int rows = PQntuples(res);
    int n = rows > GW_CLIENTS_MAX ? GW_CLIENTS_MAX : rows;
    struct gw_clients *cs = gw_xcalloc(1, sizeof(*cs) + (size_t)n * sizeof(struct gw_client));
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(res, i, 0);
        const char *secret = PQgetvalue(res, i, 1);
        if (i >= n) {
            client_dropped(res, i, "more than " GW_STR(GW_CLIENTS_MAX) " clients");
        } else if (strlen(id) > GW_CLIENT_ID_BYTES_MAX) {
            client_dropped(res, i, "id longer than " GW_STR(GW_CLIENT_ID_BYTES_MAX) " bytes");
        } else if (strlen(secret) > GW_CLIENT_SECRET_BYTES_MAX) {
            client_dropped(res, i,
                           "secret longer than " GW_STR(GW_CLIENT_SECRET_BYTES_MAX) " bytes");
        } else if (strlen(secret) < secret_min) {
            client_dropped(res, i,
                           "secret shorter than " GW_STR(GW_CLIENT_SECRET_BYTES_MIN) " bytes");
        } else {
            struct gw_client *c = &cs->items[cs->n++];
            (void)snprintf(c->id, sizeof(c->id), "%s", id);
            (void)snprintf(c->secret, sizeof(c->secret), "%s", secret);
        }
    }
    return cs;
}

static void clients_swap(struct gw_server *srv, struct gw_clients *cs)
{
    GW_ASSERT(pthread_mutex_lock(&srv->clients_lock) == 0);
    /* Readers use a snapshot only within one synchronous call, so the one before the
     * previous is surely unused by now (refreshes are CLIENTS_REFRESH_S apart). */
    gw_xfree(srv->clients_old);
    srv->clients_old = atomic_exchange_explicit(&srv->clients, cs, memory_order_acq_rel);
    GW_ASSERT(pthread_mutex_unlock(&srv->clients_lock) == 0);
}

static const char clients_sql[] = "SELECT id, secret FROM feegate.clients_list()";

enum gw_err gw_auth_load_blocking(struct gw_server *srv, struct gw_errbuf *eb)
{
    /* The server waits on this at startup: both limits bound a database that hangs. */
    static const char *const keys[] = { "dbname", "connect_timeout", "options", NULL };
    PGconn *conn = PQconnectdbParams(
        keys,
        (const char *const[]){ srv->cfg.dsn, GW_STR(GW_DB_CONNECT_TIMEOUT_S),
                               "-c statement_timeout=" GW_STR(GW_DB_STATEMENT_TIMEOUT_MS), NULL },
        1);
    if (PQstatus(conn) != CONNECTION_OK) {
        enum gw_err err = gw_fail(eb, GW_ERR_UNAVAILABLE, "could not connect to the database: %s",
                                  PQerrorMessage(conn));
        PQfinish(conn);
        return err;
    }
    PGresult *res = PQexec(conn, clients_sql);
    enum gw_err err = GW_OK;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err = gw_fail(eb, GW_ERR_DB, "could not load portal clients: %s", PQerrorMessage(conn));
    } else {
        clients_swap(srv, clients_from_result(srv, res));
    }
    PQclear(res);
    PQfinish(conn);
    return err;
}

static void refresh_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_loop *loop = arg;
    if (err != GW_OK) {
        gw_log_warn("clients_refresh_failed", "\"error\":\"%s\"", gw_err_name(err));
        return;
    }
    clients_swap(loop->srv, clients_from_result(loop->srv, res));
}

static void purge_done(void *arg, enum gw_err err, const PGresult *res)
{
    (void)arg;
    (void)res;
    if (err != GW_OK) {
        gw_log_warn("request_signatures_purge_failed", "\"error\":\"%s\"", gw_err_name(err));
    }
}

static const char *const purge_params[1] = { GW_STR(GW_AUTH_REPLAY_PURGE_MAX) };

/* Every CLIENTS_REFRESH_S (and on SIGHUP): the client list, and the signatures of signed
 * requests whose window is over (request_signatures, docs/api.md "Replayed requests"). */
static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_loop *loop = arg;
    if (!atomic_load(&loop->srv->draining)) {
        gw_db_query(loop->db, clients_sql, 0, NULL, refresh_done, loop);
        gw_db_query(loop->db, "SELECT feegate.request_signatures_purge($1::int)", 1, purge_params,
                    purge_done, loop);
    }
}

void gw_auth_refresh(struct gw_loop *loop)
{
    /* Called from the signal thread: event_active is thread-safe with evthread. */
    if (loop->clients_timer != NULL) {
        event_active(loop->clients_timer, EV_TIMEOUT, 0);
    }
}

void gw_jobs_start_clients(struct gw_loop *loop)
{
    loop->clients_timer = event_new(loop->base, -1, EV_PERSIST, refresh_cb, loop);
    GW_ASSERT(loop->clients_timer != NULL);
    struct timeval tv = { .tv_sec = CLIENTS_REFRESH_S, .tv_usec = 0 };
    GW_ASSERT(event_add(loop->clients_timer, &tv) == 0);
}
