/* The simulation's database plumbing (prefix sp_): one step as one savepoint of the seed's
 * transaction, run as the gateway's role (feegate_app) or as the owner, with the deferred
 * constraint triggers fired at its end as a commit would fire them. Blocking libpq. */
#ifndef FG_TESTS_SIM_SIM_PG_H
#define FG_TESTS_SIM_SIM_PG_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

enum sp_role {
    SP_APP,
    SP_OWNER
};

struct sp_res {
    bool ok;
    char sqlstate[8];
    char code[64];    /* the error's message: snake_case for the API's FGnnn errors */
    char detail[512]; /* the error's detail, or the text of an infrastructure failure */
    PGresult *rows;   /* the call's rows when ok; release with sp_res_clear */
};

void sp_res_clear(struct sp_res *r);

/* Runs sql (one statement) in a savepoint as role (the owner with the search_path the
 * SECURITY DEFINER functions that call the owner's posting rules set), then SET CONSTRAINTS ALL
 * IMMEDIATE so that the deferred triggers (journal balance, receipt numbering) run as at a commit;
 * an error rolls back to the savepoint. One round trip when it succeeds. false only when the
 * connection itself failed (r->detail says why); an SQL error is r->ok false. */
bool sp_step(PGconn *c, enum sp_role role, const char *sql, struct sp_res *r);

/* A statement of the test itself, as the connection's superuser, outside any savepoint:
 * false on any error (printed into err). */
bool sp_exec(PGconn *c, const char *sql, char *err, size_t err_len);

/* A query of the test itself: its rows (release with PQclear), or NULL with err filled. */
PGresult *sp_query(PGconn *c, const char *sql, char *err, size_t err_len);

#endif
