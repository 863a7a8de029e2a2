/* `feegate migrate`: applies the embedded migrations in order, each in one transaction,
 * under a session advisory lock, and records them (with their SHA-256) in
 * feegate.schema_migrations. Migration 1 is the schema (ledger/sql/base), later ones are
 * ledger/sql/migrations/NNN_*.sql. The migrations a database has must be the first ones
 * this binary embeds, unchanged (same version, name and SHA-256): anything else (a changed
 * migration, a newer database, or a schema built by another history) is refused with
 * GW_ERR_CONFLICT before anything is applied. The SQL limits functions (limits_*(),
 * from common/gw_limits.h at build time) are applied by every run, not versioned: they
 * follow the binary. */
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

/* The version is the leading number of the name ("001_base" -> 1, "002_name.sql" -> 2). */
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

/* Runs one migration and records it, in one transaction; rolls back on any error. The
 * limits functions (ldg_limits_sql, generated from gw_limits.h) are applied first in the
 * same transaction, so that a migration may use them. */
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
    err = ldg_exec(conn, (const char *)ldg_limits_sql.sql, "apply the limits", eb);
    if (err == GW_OK) {
        err = ldg_exec(conn, (const char *)f->sql, what, eb);
    }
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

/* The limits functions on their own, in one transaction (CREATE OR REPLACE: the same
 * values change nothing but the functions' row versions). */
static enum gw_err ldg_limits_apply(PGconn *conn, struct gw_errbuf *eb)
{
    enum gw_err err = ldg_exec(conn, "BEGIN", "apply the limits", eb);
    if (err != GW_OK) {
        return err;
    }
    err = ldg_exec(conn, (const char *)ldg_limits_sql.sql, "apply the limits", eb);
    if (err != GW_OK) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return err;
    }
    return ldg_exec(conn, "COMMIT", "apply the limits", eb);
}

/* Row i of the applied migrations (version order) against embedded migration i: the same
 * version, name and sha256, or GW_ERR_CONFLICT saying how the database differs. */
static enum gw_err ldg_applied_matches(const PGresult *r, int i, struct gw_errbuf *eb)
{
    const char *v_db = PQgetvalue(r, i, 0);
    const char *name_db = PQgetvalue(r, i, 1);
    const char *sha_db = PQgetvalue(r, i, 2);
    const struct ldg_sql_file *f;
    char sha[GW_SHA256_HEX_BYTES];

    if ((size_t)i >= ldg_migrations_n) {
        f = &ldg_migrations[ldg_migrations_n - 1];
        return gw_fail(eb, GW_ERR_CONFLICT,
                       "database has migration %s %s, newer than this binary's last (%s)", v_db,
                       name_db, f->name);
    }
    f = &ldg_migrations[i];
    gw_sha256_hex(f->sql, f->len, sha);
    if (strtol(v_db, NULL, 10) != ldg_migration_version(f) || strcmp(name_db, f->name) != 0) {
        return gw_fail(eb, GW_ERR_CONFLICT,
                       "database schema version unknown to this binary: its migration %s is "
                       "%s (sha256 %.12s...) where this binary has %s (%.12s...); the applied "
                       "migrations must be the first of this binary's",
                       v_db, name_db, sha_db, f->name, sha);
    }
    if (strcmp(sha, sha_db) != 0) {
        return gw_fail(eb, GW_ERR_CONFLICT,
                       "migration %s was changed after it was applied (sha256 %.12s..., "
                       "database has %.12s...)",
                       f->name, sha, sha_db);
    }
    return GW_OK;
}

/* Checks that the applied migrations are the first embedded ones, unchanged, then applies
 * the rest in order; the caller holds the advisory lock. */
static enum gw_err ldg_migrate_locked(PGconn *conn, struct gw_errbuf *eb)
{
    PGresult *r;
    enum gw_err err = GW_OK;
    int version_max = 0;
    int applied;
    size_t i;

    for (i = 0; i < ldg_migrations_n; i++) {
        int v = ldg_migration_version(&ldg_migrations[i]);
        GW_ASSERT(v == version_max + 1); /* 1, 2, 3...: embed_sql.cmake sorts the names */
        version_max = v;
    }
    r = PQexec(conn, "SELECT version, name, sha256 FROM feegate.schema_migrations"
                     " ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = ldg_fail_result(conn, r, "read feegate.schema_migrations", eb);
        PQclear(r);
        return err;
    }
    applied = PQntuples(r);
    for (int k = 0; err == GW_OK && k < applied; k++) {
        err = ldg_applied_matches(r, k, eb);
    }
    PQclear(r);
    for (i = (size_t)applied; err == GW_OK && i < ldg_migrations_n; i++) {
        const struct ldg_sql_file *f = &ldg_migrations[i];
        char sha[GW_SHA256_HEX_BYTES];

        gw_sha256_hex(f->sql, f->len, sha);
        err = ldg_migration_apply(conn, f, ldg_migration_version(f), sha, eb);
    }
    /* Nothing to apply: the limits still follow this binary's gw_limits.h. */
    if (err == GW_OK && (size_t)applied == ldg_migrations_n) {
        err = ldg_limits_apply(conn, eb);
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
