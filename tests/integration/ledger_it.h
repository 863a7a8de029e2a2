/* Helpers of the ledger integration tests (test_ledger_tamper, test_ledger_bank): libpq
 * sessions as a given role, statements expected to fail with a given SQLSTATE, and
 * `feegate ledger verify` run as a child process. Blocking; every call is bounded by the
 * session's statement_timeout or the child's deadline. */
#ifndef FG_TESTS_INTEGRATION_LEDGER_IT_H
#define FG_TESTS_INTEGRATION_LEDGER_IT_H

#include <stddef.h>

#include <libpq-fe.h>

/* A connection to dsn with search_path feegate, pg_temp and statement_timeout 30 s; aborts
 * the test program when it cannot connect. */
PGconn *lit_connect(const char *dsn);
/* Runs sql; aborts (with PostgreSQL's message) unless it succeeds. */
void lit_exec(PGconn *c, const char *sql);
/* The single integer the query returns; aborts on error, no row or NULL. */
long long lit_int(PGconn *c, const char *sql);
/* Runs sql expecting an error: returns 1 when it failed with SQLSTATE state (and, unless
 * NULL, primary message msg), else 0 after printing what happened. */
int lit_fails(PGconn *c, const char *sql, const char *state, const char *msg);

/* Runs `feegate ledger verify --dsn DSN --max-unsealed-age AGE`; its stdout and stderr go to
 * out (NUL-terminated, truncated). Returns the exit code, -1 if it could not run or took
 * more than 60 s. */
int lit_verify(const char *dsn, int max_age_s, char *out, size_t cap);

#endif
