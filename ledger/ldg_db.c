/* The libpq helpers shared by the blocking ledger commands: connect with explicit session
 * settings, run a statement, turn a failed result into a gw_errbuf message. */
#include <stdio.h>
#include <string.h>

#include "gw_assert.h"
#include "ldg_int.h"

#include "banned.h"

/* The first line of a libpq message, without its trailing newline. */
static int ldg_first_line_len(const char *s)
{
    size_t n = strcspn(s, "\n");
    return n > 200 ? 200 : (int)n;
}

enum gw_err ldg_fail_result(PGconn *conn, const PGresult *r, const char *what, struct gw_errbuf *eb)
{
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    GW_ASSERT(what != NULL);
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *cm = PQerrorMessage(conn);
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "could not %s: connection lost: %.*s", what,
                       ldg_first_line_len(cm), cm);
    }
    if (msg == NULL) {
        const char *cm = PQerrorMessage(conn);
        return gw_fail(eb, GW_ERR_DB, "could not %s: %.*s", what, ldg_first_line_len(cm), cm);
    }
    return gw_fail(eb, GW_ERR_DB, "could not %s: %s%s%s%s%s", what, state != NULL ? state : "",
                   state != NULL ? " " : "", msg, detail != NULL ? ": " : "",
                   detail != NULL ? detail : "");
}

enum gw_err ldg_exec(PGconn *conn, const char *sql, const char *what, struct gw_errbuf *eb)
{
    PGresult *r;
    ExecStatusType st;
    enum gw_err err = GW_OK;

    GW_ASSERT(conn != NULL);
    GW_ASSERT(sql != NULL);
    r = PQexec(conn, sql);
    st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        err = ldg_fail_result(conn, r, what, eb);
    }
    PQclear(r);
    return err;
}

enum gw_err ldg_connect(const char *dsn, const char *timeout, PGconn **out, struct gw_errbuf *eb)
{
    char sql[160];
    PGconn *conn;
    enum gw_err err;

    GW_ASSERT(out != NULL);
    GW_ASSERT(timeout != NULL);
    *out = NULL;
    if (dsn == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "no database DSN given");
    }
    conn = PQconnectdb(dsn);
    if (conn == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "could not connect to the database: out of memory");
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        const char *cm = PQerrorMessage(conn);
        err = gw_fail(eb, GW_ERR_UNAVAILABLE, "could not connect to the database: %.*s",
                      ldg_first_line_len(cm), cm);
        PQfinish(conn);
        return err;
    }
    (void)snprintf(sql, sizeof(sql),
                   "SET statement_timeout = '%s'; SET client_min_messages = warning; "
                   "SET TIME ZONE 'Asia/Ho_Chi_Minh'",
                   timeout);
    err = ldg_exec(conn, sql, "set the session up", eb);
    if (err != GW_OK) {
        PQfinish(conn);
        return err;
    }
    *out = conn;
    return GW_OK;
}
