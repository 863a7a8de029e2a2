/* The simulation's database plumbing (sim_pg.h). A seed runs in one transaction that is
 * rolled back at its end, so every seed starts from the same committed catalogue; each step
 * is a savepoint in it, and its deferred triggers are fired by SET CONSTRAINTS ALL IMMEDIATE,
 * which runs them where a commit would. */
#include "sim_pg.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

void sp_res_clear(struct sp_res *r)
{
    if (r->rows) {
        PQclear(r->rows);
    }
    memset(r, 0, sizeof(*r));
}

static void sp_copy(char *out, size_t out_len, const char *s)
{
    (void)snprintf(out, out_len, "%s", s ? s : "");
}

static void sp_take_error(struct sp_res *r, const PGresult *res)
{
    r->ok = false;
    sp_copy(r->sqlstate, sizeof(r->sqlstate), PQresultErrorField(res, PG_DIAG_SQLSTATE));
    sp_copy(r->code, sizeof(r->code), PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    sp_copy(r->detail, sizeof(r->detail), PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
}

/* Sends text (several statements) and keeps the rows of statement number call_no (from 0)
 * or the first error. */
static bool sp_send(PGconn *c, const char *text, int call_no, struct sp_res *r)
{
    if (!PQsendQuery(c, text)) {
        sp_copy(r->detail, sizeof(r->detail), PQerrorMessage(c));
        return false;
    }
    int n = 0;
    bool failed = false;
    PGresult *res;
    while ((res = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_FATAL_ERROR && !failed) {
            failed = true;
            sp_take_error(r, res);
        } else if (st == PGRES_TUPLES_OK && n == call_no && !failed) {
            r->rows = res;
            res = NULL;
        }
        if (res) {
            PQclear(res);
        }
        n++;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        sp_copy(r->detail, sizeof(r->detail), PQerrorMessage(c));
        return false;
    }
    r->ok = !failed;
    return true;
}

bool sp_step(PGconn *c, enum sp_role role, const char *sql, struct sp_res *r)
{
    char text[16384];
    memset(r, 0, sizeof(*r));
    int n = snprintf(text, sizeof(text),
                     "SAVEPOINT sim_step; %s%s; SET CONSTRAINTS ALL IMMEDIATE; "
                     "SET CONSTRAINTS ALL DEFERRED; RESET ROLE; RELEASE SAVEPOINT sim_step",
                     role == SP_APP ? "SET LOCAL ROLE feegate_app; "
                                    : "SET LOCAL search_path = feegate, pg_temp; ",
                     sql);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        sp_copy(r->detail, sizeof(r->detail), "step text too long");
        return false;
    }
    if (!sp_send(c, text, 2, r)) { /* SAVEPOINT, SET, then the call */
        return false;
    }
    if (r->ok) {
        return true;
    }
    struct sp_res undo = { 0 };
    if (!sp_send(c, "ROLLBACK TO SAVEPOINT sim_step; RELEASE SAVEPOINT sim_step", -1, &undo) ||
        !undo.ok) {
        (void)snprintf(r->detail, sizeof(r->detail), "could not roll back a step: %.60s %.400s",
                       undo.code, undo.detail);
        sp_res_clear(&undo);
        return false;
    }
    sp_res_clear(&undo);
    return true;
}

bool sp_exec(PGconn *c, const char *sql, char *err, size_t err_len)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        (void)snprintf(err, err_len, "%s", PQresultErrorMessage(res));
    }
    PQclear(res);
    return ok;
}

PGresult *sp_query(PGconn *c, const char *sql, char *err, size_t err_len)
{
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        (void)snprintf(err, err_len, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}
