/* The start-up safety checks: a gateway that would issue unsigned receipts, lose committed
 * payments in a crash, or accept portal signatures made with a guessable key refuses to start,
 * outside an explicit development mode ([server] development = true, which `feegate demo`
 * writes). docs/operations.md, "Start-up checks". */
#include "startup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "gw_limits.h"
#include "gw_log.h"

#include "banned.h"

/* Portal clients named one by one before the rest are counted. */
#define STARTUP_CLIENTS_NAMED_MAX 8

struct startup {
    const struct gw_config *cfg;
    int problems;
};

/* One problem, on a line of its own (and in the JSON log). */
static void problem(struct startup *st, const char *msg)
{
    char esc[1024];
    st->problems++;
    if (st->cfg->development) {
        gw_log_warn("unsafe_setting", "\"problem\":\"%s\",\"development\":true",
                    gw_log_esc(esc, sizeof(esc), msg));
        return;
    }
    gw_log_error("unsafe_setting", "\"problem\":\"%s\"", gw_log_esc(esc, sizeof(esc), msg));
    (void)fprintf(stderr, "feegate: refusing to start: %s\n", msg);
}

static void check_receipts(struct startup *st)
{
    if (st->cfg->receipt_cert[0] == '\0') {
        problem(st, "no receipt signer: receipts would be issued unsigned; set cert and key in "
                    "[receipts] (docs/receipts.md)");
    }
}

/* fsync, synchronous_commit and full_page_writes, as the server runs them. */
static void check_settings(struct startup *st, PGconn *conn)
{
    static const char *const names[] = { "fsync", "synchronous_commit", "full_page_writes" };
    static const char *const why[] = {
        "a crash of the database's machine can lose or corrupt committed payments",
        "a crash of the database can lose payments already acknowledged",
        "a crash during a write can leave torn pages in the ledger",
    };
    PGresult *res = PQexec(conn, "SELECT current_setting('fsync'), "
                                 "current_setting('synchronous_commit'), "
                                 "current_setting('full_page_writes')");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        char msg[512];
        (void)snprintf(msg, sizeof(msg), "could not read the database's settings: %s",
                       PQerrorMessage(conn));
        problem(st, msg);
        PQclear(res);
        return;
    }
    for (int i = 0; i < 3; i++) {
        if (strcmp(PQgetvalue(res, 0, i), "off") == 0) {
            char msg[512];
            (void)snprintf(msg, sizeof(msg),
                           "the database runs with %s = off: %s; set %s = on in its "
                           "postgresql.conf and reload it",
                           names[i], why[i], names[i]);
            problem(st, msg);
        }
    }
    PQclear(res);
}

static void check_clients(struct startup *st, PGconn *conn)
{
    PGresult *res = PQexec(
        conn, "SELECT id, octet_length(secret) FROM feegate.clients_list() "
              "WHERE octet_length(secret) < " GW_STR(GW_CLIENT_SECRET_BYTES_MIN) " ORDER BY id");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        (void)snprintf(msg, sizeof(msg), "could not read the portal clients: %s",
                       PQerrorMessage(conn));
        problem(st, msg);
        PQclear(res);
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n && i < STARTUP_CLIENTS_NAMED_MAX; i++) {
        char msg[512];
        (void)snprintf(msg, sizeof(msg),
                       "portal client \"%.64s\" has a secret of %s bytes: give it a random secret "
                       "of at least " GW_STR(GW_CLIENT_SECRET_BYTES_MIN) " bytes (feegate.clients)",
                       PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        problem(st, msg);
    }
    if (n > STARTUP_CLIENTS_NAMED_MAX) {
        char msg[160];
        (void)snprintf(msg, sizeof(msg),
                       "%d more portal clients have secrets shorter than " GW_STR(
                           GW_CLIENT_SECRET_BYTES_MIN) " bytes",
                       n - STARTUP_CLIENTS_NAMED_MAX);
        problem(st, msg);
    }
    PQclear(res);
}

enum gw_err gw_startup_check_blocking(const struct gw_config *cfg, struct gw_errbuf *eb)
{
    struct startup st = { .cfg = cfg, .problems = 0 };
    if (cfg->development) {
        gw_log_warn("development_mode",
                    "\"note\":\"[server] development = true: the start-up safety checks only "
                    "warn; never run real payments like this (docs/operations.md)\"");
    }
    check_receipts(&st);
    /* Both limits bound a database that hangs, as for the client list. */
    static const char *const keys[] = { "dbname", "connect_timeout", "options", NULL };
    const char *const values[] = { cfg->dsn, GW_STR(GW_DB_CONNECT_TIMEOUT_S),
                                   "-c statement_timeout=" GW_STR(GW_DB_STATEMENT_TIMEOUT_MS),
                                   NULL };
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        enum gw_err err = gw_fail(eb, GW_ERR_UNAVAILABLE, "could not connect to the database: %s",
                                  PQerrorMessage(conn));
        PQfinish(conn);
        return err;
    }
    check_settings(&st, conn);
    check_clients(&st, conn);
    PQfinish(conn);
    if (st.problems > 0 && !cfg->development) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "%d unsafe setting%s (above); fix %s, or set [server] development = true "
                       "for a development machine (docs/operations.md, \"Start-up checks\")",
                       st.problems, st.problems == 1 ? "" : "s", st.problems == 1 ? "it" : "them");
    }
    return GW_OK;
}
