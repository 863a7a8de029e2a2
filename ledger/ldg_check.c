/* `feegate ledger check`: runs feegate.ledger_check(), which recomputes every invariant from
 * the rows, and prints one line per check. */
#include <errno.h>
#include <stdlib.h>

#include "gw_assert.h"
#include "ldg_int.h"
#include "ledger.h"

#include "banned.h"

/* Prints the rows of ledger_check() and sums their violations into *total. */
static enum gw_err ldg_check_print(const PGresult *r, FILE *out, long *total, struct gw_errbuf *eb)
{
    int n = PQntuples(r);
    int i;

    if (PQnfields(r) != 3) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "ledger_check() returned %d columns, not 3",
                       PQnfields(r));
    }
    for (i = 0; i < n; i++) {
        const char *name = PQgetvalue(r, i, 0);
        const char *detail = PQgetvalue(r, i, 2);
        long v;

        errno = 0;
        v = strtol(PQgetvalue(r, i, 1), NULL, 10);
        if (errno != 0 || v < 0) {
            return gw_fail(eb, GW_ERR_PROTOCOL, "check %s returned a bad count", name);
        }
        if (v == 0) {
            (void)fprintf(out, "ok   %s\n", name);
        } else {
            (void)fprintf(out, "FAIL %s: %ld violations: %s\n", name, v, detail);
        }
        if (__builtin_add_overflow(*total, v, total)) {
            return gw_fail(eb, GW_ERR_LIMIT, "violation count overflows");
        }
    }
    return GW_OK;
}

enum gw_err ldg_check_blocking(const char *dsn, FILE *out, long *violations, struct gw_errbuf *eb)
{
    PGconn *conn;
    PGresult *r;
    enum gw_err err;

    GW_ASSERT(out != NULL);
    GW_ASSERT(violations != NULL);
    *violations = 0;
    err = ldg_connect(dsn, LDG_CHECK_TIMEOUT, &conn, eb);
    if (err != GW_OK) {
        return err;
    }
    r = PQexec(conn, "SELECT check_name, violations, detail FROM feegate.ledger_check()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = ldg_fail_result(conn, r, "run feegate.ledger_check()", eb);
    } else {
        err = ldg_check_print(r, out, violations, eb);
    }
    PQclear(r);
    PQfinish(conn);
    if (err == GW_OK && fflush(out) != 0) {
        err = gw_fail(eb, GW_ERR_IO, "could not write the check report");
    }
    return err;
}
