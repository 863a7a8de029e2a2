/* `feegate migrate`: applies the embedded migrations in order, each in one transaction,
 * under a session advisory lock, and records them (with their SHA-256) in
 * feegate.schema_migrations so a changed migration is refused rather than half-applied. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_assert.h"
#include "gw_crypto.h"
#include "ldg_int.h"
#include "ledger.h"

#include "banned.h"

static const char ldg_bootstrap_sql[] = "CREATE SCHEMA IF NOT EXISTS feegate;"
                                        "CREATE TABLE IF NOT EXISTS feegate.schema_migrations ("
                                        " version int PRIMARY KEY,"
                                        " name text NOT NULL,"
                                        " sha256 text NOT NULL,"
                                        " applied_at timestamptz NOT NULL DEFAULT now())";

/* The version is the leading number of the file name ("001_schema.sql" -> 1). */
static int ldg_migration_version(const struct ldg_sql_file *f)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(f->name, &end, 10);
    GW_ASSERT(errno == 0);
    GW_ASSERT(end != f->name && *end == '_');
    GW_ASSERT(v > 0 && v < 1000);
    return (int)v;
}

/* Looks up version in schema_migrations: *applied and, if so, its sha256 into sha. */
static enum gw_err ldg_migration_state(PGconn *conn, int version, bool *applied,
                                       char sha[GW_SHA256_HEX_BYTES], struct gw_errbuf *eb)
{
    char vtext[16];
    const char *params[1] = { vtext };
    PGresult *r;
    enum gw_err err = GW_OK;

    (void)snprintf(vtext, sizeof(vtext), "%d", version);
    r = PQexecParams(conn, "SELECT sha256 FROM feegate.schema_migrations WHERE version = $1", 1,
                     NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = ldg_fail_result(conn, r, "read feegate.schema_migrations", eb);
    } else {
        *applied = PQntuples(r) == 1;
        if (*applied) {
            (void)snprintf(sha, GW_SHA256_HEX_BYTES, "%s", PQgetvalue(r, 0, 0));
        }
    }
    PQclear(r);
    return err;
}

/* Runs one migration and records it, in one transaction; rolls back on any error. */
static enum gw_err ldg_migration_apply(PGconn *conn, const struct ldg_sql_file *f, int version,
                                       const char *sha, struct gw_errbuf *eb)
{
    char vtext[16];
    char what[96];
    const char *params[3] = { vtext, f->name, sha };
    PGresult *r;
    enum gw_err err;

    (void)snprintf(vtext, sizeof(vtext), "%d", version);
    (void)snprintf(what, sizeof(what), "apply migration %s", f->name);
    err = ldg_exec(conn, "BEGIN", what, eb);
    if (err != GW_OK) {
        return err;
    }
    err = ldg_exec(conn, (const char *)f->sql, what, eb);
    if (err != GW_OK) {
        goto out_rollback;
    }
    r = PQexecParams(conn,
                     "INSERT INTO feegate.schema_migrations (version, name, sha256)"
                     " VALUES ($1, $2, $3)",
                     3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        err = ldg_fail_result(conn, r, what, eb);
    }
    PQclear(r);
    if (err != GW_OK) {
        goto out_rollback;
    }
    return ldg_exec(conn, "COMMIT", what, eb);

out_rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
    return err;
}

/* Refuses a database that has a migration newer than any this binary embeds. */
static enum gw_err ldg_check_no_unknown(PGconn *conn, int version_max, struct gw_errbuf *eb)
{
    PGresult *r;
    enum gw_err err = GW_OK;

    r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM feegate.schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = ldg_fail_result(conn, r, "read feegate.schema_migrations", eb);
    } else {
        long db_max = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (db_max > version_max) {
            err = gw_fail(eb, GW_ERR_CONFLICT,
                          "database has migration %ld, newer than this binary's %d", db_max,
                          version_max);
        }
    }
    PQclear(r);
    return err;
}

/* Applies what is missing, in order; the caller holds the advisory lock. */
static enum gw_err ldg_migrate_locked(PGconn *conn, struct gw_errbuf *eb)
{
    enum gw_err err;
    int version_max = 0;
    size_t i;

    for (i = 0; i < ldg_migrations_n; i++) {
        int v = ldg_migration_version(&ldg_migrations[i]);
        GW_ASSERT(v > version_max); /* strictly increasing: names are sorted, unique */
        version_max = v;
    }
    err = ldg_check_no_unknown(conn, version_max, eb);
    for (i = 0; err == GW_OK && i < ldg_migrations_n; i++) {
        const struct ldg_sql_file *f = &ldg_migrations[i];
        char sha[GW_SHA256_HEX_BYTES];
        char sha_db[GW_SHA256_HEX_BYTES] = "";
        bool applied = false;
        int v = ldg_migration_version(f);

        gw_sha256_hex(f->sql, f->len, sha);
        err = ldg_migration_state(conn, v, &applied, sha_db, eb);
        if (err != GW_OK) {
            break;
        }
        if (!applied) {
            err = ldg_migration_apply(conn, f, v, sha, eb);
        } else if (strcmp(sha, sha_db) != 0) {
            err = gw_fail(eb, GW_ERR_CONFLICT,
                          "migration %s was changed after it was applied (sha256 %.12s..., "
                          "database has %.12s...)",
                          f->name, sha, sha_db);
        }
    }
    return err;
}

enum gw_err ldg_migrate_blocking(const char *admin_dsn, struct gw_errbuf *eb)
{
    PGconn *conn;
    enum gw_err err;

    GW_ASSERT(ldg_migrations_n > 0);
    err = ldg_connect(admin_dsn, LDG_MIGRATE_TIMEOUT, &conn, eb);
    if (err != GW_OK) {
        return err;
    }
    err = ldg_exec(conn, "SELECT pg_advisory_lock(" LDG_MIGRATE_LOCK_KEY ")",
                   "take the migration lock", eb);
    if (err != GW_OK) {
        goto out_finish;
    }
    err = ldg_exec(conn, ldg_bootstrap_sql, "create feegate.schema_migrations", eb);
    if (err == GW_OK) {
        err = ldg_migrate_locked(conn, eb);
    }
    /* Closing the session releases the lock too; unlock explicitly for poolers. */
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" LDG_MIGRATE_LOCK_KEY ")"));
out_finish:
    PQfinish(conn);
    return err;
}
