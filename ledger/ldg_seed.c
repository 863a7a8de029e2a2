/* `feegate seed-demo`: the demo catalogue (embedded ledger/sql/seed/demo.sql) and the demo
 * portal clients, in one transaction; every insert is conditional, so it is idempotent. */
#include <string.h>

#include "gw_assert.h"
#include "gw_limits.h"
#include "ldg_int.h"
#include "ledger.h"

#include "banned.h"

/* Adds or updates the client (only if its secret or URL changed) and opens the demo
 * agencies to it. */
static const char ldg_client_sql[] =
    "WITH c AS ("
    " INSERT INTO feegate.clients AS c (id, secret, webhook_url, name) VALUES ($1, $2, $3, $1)"
    " ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret,"
    " webhook_url = EXCLUDED.webhook_url"
    " WHERE (c.secret, c.webhook_url) IS DISTINCT FROM (EXCLUDED.secret, EXCLUDED.webhook_url))"
    " INSERT INTO feegate.client_agencies (client_id, agency_code)"
    " SELECT $1, a.code FROM feegate.agencies a WHERE a.code IN ('STP-HN', 'CA-HCM')"
    " ON CONFLICT DO NOTHING";

static enum gw_err ldg_seed_client(PGconn *conn, const struct ldg_demo_client *c,
                                   struct gw_errbuf *eb)
{
    const char *params[3];
    PGresult *r;
    enum gw_err err = GW_OK;

    if (c->id == NULL || c->secret == NULL || strlen(c->id) == 0 ||
        strlen(c->id) > GW_CLIENT_ID_BYTES_MAX || strlen(c->secret) > GW_CLIENT_SECRET_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "demo client needs an id and a secret within limits");
    }
    params[0] = c->id;
    params[1] = c->secret;
    params[2] = c->webhook_url;
    r = PQexecParams(conn, ldg_client_sql, 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        err = ldg_fail_result(conn, r, "seed the demo client", eb);
    }
    PQclear(r);
    return err;
}

enum gw_err ldg_seed_demo_blocking(const char *admin_dsn, const struct ldg_demo_client *clients,
                                   size_t n, struct gw_errbuf *eb)
{
    PGconn *conn;
    enum gw_err err;
    size_t i;

    GW_ASSERT(clients != NULL || n == 0);
    err = ldg_connect(admin_dsn, LDG_MIGRATE_TIMEOUT, &conn, eb);
    if (err != GW_OK) {
        return err;
    }
    err = ldg_exec(conn, "BEGIN", "seed the demo catalogue", eb);
    if (err != GW_OK) {
        goto out_finish;
    }
    err = ldg_exec(conn, (const char *)ldg_seed_demo_sql.sql, "seed the demo catalogue", eb);
    for (i = 0; err == GW_OK && i < n; i++) {
        err = ldg_seed_client(conn, &clients[i], eb);
    }
    if (err == GW_OK) {
        err = ldg_exec(conn, "COMMIT", "commit the demo seed", eb);
    } else {
        PQclear(PQexec(conn, "ROLLBACK"));
    }
out_finish:
    PQfinish(conn);
    return err;
}
