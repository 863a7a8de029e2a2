/* The harness's database: a temporary embedded cluster, migrated and seeded through the
 * ledger module, SQL helpers over blocking libpq, and table snapshots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_assert.h"
#include "ledger.h"
#include "th.h"
#include "th_int.h"

#include "banned.h"

/* Row count and a hash of the sorted rows of every table of schema feegate, in one round
 * trip (query_to_xml runs the per-table query that format() builds). */
static const char th_snapshot_sql[] =
    "select c.relname::text,"
    " (xpath('/row/c/text()', x))[1]::text,"
    " (xpath('/row/h/text()', x))[1]::text"
    " from pg_class c join pg_namespace n on n.oid = c.relnamespace,"
    " lateral query_to_xml(format('select count(*) as c,"
    " md5(coalesce(string_agg(r::text, chr(10) order by r::text), '''')) as h"
    " from %I.%I r', n.nspname, c.relname), false, true, '') x"
    " where n.nspname = 'feegate' and c.relkind in ('r', 'p')"
    " order by 1";

/* Prints what failed and the tail of the cluster's logs, if there are any yet. */
static void th_db_report(const struct th_db *db, const char *what, const char *why)
{
    (void)fprintf(stderr, "th: %s: %s\n", what, why);
    if (db->pg.dir[0] == '\0') {
        return;
    }
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/setup.log", db->pg.dir);
    th_print_file("setup.log", path);
    (void)snprintf(path, sizeof(path), "%s/server.log", db->pg.dir);
    th_print_file("server.log", path);
}

enum gw_err th_db_start_empty(struct th_db *db)
{
    struct gw_errbuf eb = { { 0 } };
    db->admin = NULL;
    enum gw_err err = gw_pgembed_start(&db->pg, NULL, 0, &eb);
    if (err != GW_OK) {
        th_db_report(db, "could not start the embedded cluster", eb.msg);
        enum gw_err stop_err = gw_pgembed_stop(&db->pg, &eb); /* removes the temporary dir */
        (void)stop_err;
        return err;
    }
    th_track_db(db, true);
    return GW_OK;
}

enum gw_err th_db_start(struct th_db *db)
{
    enum gw_err err = th_db_start_empty(db);
    if (err != GW_OK) {
        return err;
    }
    const char *hook = db->webhook_url != NULL ? db->webhook_url : TH_WEBHOOK_URL;
    const struct ldg_demo_client clients[] = {
        { .id = TH_CLIENT_A_ID, .secret = TH_CLIENT_A_SECRET, .webhook_url = hook },
        { .id = TH_CLIENT_B_ID, .secret = TH_CLIENT_B_SECRET, .webhook_url = hook },
    };
    struct gw_errbuf eb = { { 0 } };
    err = ldg_migrate_blocking(db->pg.admin_dsn, &eb);
    if (err != GW_OK) {
        th_db_report(db, "could not migrate", eb.msg);
        goto out_stop;
    }
    err = ldg_seed_demo_blocking(db->pg.admin_dsn, clients, sizeof(clients) / sizeof(clients[0]),
                                 &eb);
    if (err != GW_OK) {
        th_db_report(db, "could not seed the demo catalogue", eb.msg);
        goto out_stop;
    }
    /* A migration may create the role NOLOGIN; the tests log in with it. */
    err = th_sql_exec(db, "alter role " GW_PGEMBED_APP_ROLE " login");
    if (err == GW_OK) {
        return GW_OK;
    }
out_stop:
    (void)th_db_stop(db);
    return err;
}

enum gw_err th_db_stop(struct th_db *db)
{
    if (db->admin != NULL) {
        PQfinish(db->admin);
        db->admin = NULL;
    }
    th_track_db(db, false);
    struct gw_errbuf eb = { { 0 } };
    enum gw_err err = gw_pgembed_stop(&db->pg, &eb);
    if (err != GW_OK) {
        (void)fprintf(stderr, "th: could not stop the embedded cluster: %s\n", eb.msg);
    }
    return err;
}

static PGconn *th_db_conn(struct th_db *db)
{
    if (db->admin != NULL && PQstatus(db->admin) == CONNECTION_OK) {
        return db->admin;
    }
    if (db->admin != NULL) {
        PQfinish(db->admin);
    }
    db->admin = PQconnectdb(db->pg.admin_dsn);
    if (PQstatus(db->admin) != CONNECTION_OK) {
        (void)fprintf(stderr, "th: could not connect as admin: %s", PQerrorMessage(db->admin));
        PQfinish(db->admin);
        db->admin = NULL;
    }
    return db->admin;
}

/* Runs sql on conn; NULL (after printing why) unless it succeeded. */
static PGresult *th_query(PGconn *conn, const char *sql)
{
    if (conn == NULL) {
        return NULL;
    }
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        return r;
    }
    (void)fprintf(stderr, "th: query failed: %s  query: %s\n", PQresultErrorMessage(r), sql);
    PQclear(r);
    return NULL;
}

/* The single value of r as an integer. */
static enum gw_err th_result_int(PGresult *r, long long *out)
{
    if (PQntuples(r) != 1 || PQnfields(r) != 1 || PQgetisnull(r, 0, 0)) {
        return GW_ERR_NOT_FOUND;
    }
    char *end = NULL;
    const char *v = PQgetvalue(r, 0, 0);
    *out = strtoll(v, &end, 10);
    return end != v && *end == '\0' ? GW_OK : GW_ERR_INVALID;
}

long long th_sql_int(struct th_db *db, const char *sql)
{
    PGresult *r = th_query(th_db_conn(db), sql);
    long long v = 0;
    if (r == NULL || th_result_int(r, &v) != GW_OK) {
        (void)fprintf(stderr, "th: th_sql_int wants one integer from: %s\n", sql);
        abort();
    }
    PQclear(r);
    return v;
}

enum gw_err th_sql_int_dsn(const char *dsn, const char *sql, long long *out)
{
    PGconn *conn = PQconnectdb(dsn);
    enum gw_err err = GW_ERR_DB;
    if (PQstatus(conn) != CONNECTION_OK) {
        (void)fprintf(stderr, "th: could not connect to %s: %s", dsn, PQerrorMessage(conn));
        goto out_conn;
    }
    PGresult *r = th_query(conn, sql);
    if (r != NULL) {
        err = th_result_int(r, out);
        PQclear(r);
    }
out_conn:
    PQfinish(conn);
    return err;
}

enum gw_err th_sql_text(struct th_db *db, const char *sql, char *out, size_t out_len)
{
    GW_ASSERT(out_len > 0);
    out[0] = '\0';
    PGresult *r = th_query(th_db_conn(db), sql);
    if (r == NULL) {
        return GW_ERR_DB;
    }
    enum gw_err err = GW_ERR_NOT_FOUND;
    if (PQntuples(r) == 1 && PQnfields(r) == 1 && !PQgetisnull(r, 0, 0)) {
        (void)snprintf(out, out_len, "%s", PQgetvalue(r, 0, 0));
        err = GW_OK;
    }
    PQclear(r);
    return err;
}

enum gw_err th_sql_exec(struct th_db *db, const char *sql)
{
    PGresult *r = th_query(th_db_conn(db), sql);
    if (r == NULL) {
        return GW_ERR_DB;
    }
    PQclear(r);
    return GW_OK;
}

enum gw_err th_db_snapshot(struct th_db *db, struct th_snap *snap)
{
    memset(snap, 0, sizeof(*snap));
    PGresult *r = th_query(th_db_conn(db), th_snapshot_sql);
    if (r == NULL) {
        return GW_ERR_DB;
    }
    int rows = PQntuples(r);
    if (rows > TH_SNAP_TABLES_MAX) {
        (void)fprintf(stderr, "th: %d tables in schema feegate, TH_SNAP_TABLES_MAX is %d\n", rows,
                      TH_SNAP_TABLES_MAX);
        PQclear(r);
        return GW_ERR_LIMIT;
    }
    for (int i = 0; i < rows; i++) {
        (void)snprintf(snap->t[i].name, sizeof(snap->t[i].name), "%s", PQgetvalue(r, i, 0));
        snap->t[i].rows = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        (void)snprintf(snap->t[i].md5, sizeof(snap->t[i].md5), "%s", PQgetvalue(r, i, 2));
    }
    snap->n = rows;
    PQclear(r);
    return GW_OK;
}

/* Compares two snapshots table by table; with rows, also the contents. */
static bool th_snap_compare(const struct th_snap *a, const struct th_snap *b, bool rows)
{
    if (a->n != b->n) {
        (void)fprintf(stderr, "th: snapshot: %d tables, then %d\n", a->n, b->n);
        return false;
    }
    bool same = true;
    for (int i = 0; i < a->n; i++) {
        if (strcmp(a->t[i].name, b->t[i].name) != 0) {
            (void)fprintf(stderr, "th: snapshot: table %s, then %s\n", a->t[i].name, b->t[i].name);
            return false;
        }
        if (a->t[i].rows != b->t[i].rows) {
            (void)fprintf(stderr, "th: snapshot: feegate.%s had %lld rows, now %lld\n",
                          a->t[i].name, a->t[i].rows, b->t[i].rows);
            same = false;
        } else if (rows && strcmp(a->t[i].md5, b->t[i].md5) != 0) {
            (void)fprintf(stderr, "th: snapshot: rows of feegate.%s changed\n", a->t[i].name);
            same = false;
        }
    }
    return same;
}

bool th_db_snapshot_equal(const struct th_snap *a, const struct th_snap *b)
{
    return th_snap_compare(a, b, false);
}

bool th_db_snapshot_same_rows(const struct th_snap *a, const struct th_snap *b)
{
    return th_snap_compare(a, b, true);
}
