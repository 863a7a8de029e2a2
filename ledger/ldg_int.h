/* ledger/ private: the embedded SQL files and the small libpq helpers the blocking
 * commands share. */
#ifndef GW_LEDGER_LDG_INT_H
#define GW_LEDGER_LDG_INT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "gw_err.h"

/* One embedded SQL file: name relative to ledger/sql, bytes (NUL-terminated) and length. */
struct ldg_sql_file {
    const char *name;
    const unsigned char *sql;
    size_t len;
};

/* Generated at build time by embed_sql.cmake (ldg_sql_gen.c). */
extern const struct ldg_sql_file ldg_migrations[]; /* 001_base, then migrations/NNN_*.sql */
extern const size_t ldg_migrations_n;
extern const struct ldg_sql_file ldg_seed_demo_sql;
/* limits.sql: the limits_*() functions, made from gw_limits.h by tools/ldg_limits_gen.c. */
extern const struct ldg_sql_file ldg_limits_sql;

/* The advisory lock key of the migrator: "feegatem" in ASCII. */
#define LDG_MIGRATE_LOCK_KEY "7378415059207480685"

/* Statement timeouts of the blocking commands (never libpq's unlimited default). */
#define LDG_MIGRATE_TIMEOUT "10min"
#define LDG_CHECK_TIMEOUT   "30min"

/* Connects to dsn and sets statement_timeout and client_min_messages = warning.
 * On failure *out is NULL and the error is GW_ERR_UNAVAILABLE or GW_ERR_DB. */
enum gw_err ldg_connect(const char *dsn, const char *timeout, PGconn **out,
                        struct gw_errbuf *eb) GW_MUST_CHECK;

/* Runs sql (one or more statements, no parameters) and checks it succeeded. what names the
 * step in the error message. */
enum gw_err ldg_exec(PGconn *conn, const char *sql, const char *what,
                     struct gw_errbuf *eb) GW_MUST_CHECK;

/* Fills eb from a failed result (PostgreSQL's message and detail) and returns GW_ERR_DB,
 * or GW_ERR_UNAVAILABLE if the connection is gone. r may be NULL. */
enum gw_err ldg_fail_result(PGconn *conn, const PGresult *r, const char *what,
                            struct gw_errbuf *eb);

#endif
