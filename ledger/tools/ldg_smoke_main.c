/* fg_ledger_smoke ADMIN_DSN: an end-to-end check of ledger.h against a scratch database.
 * Two processes migrate at once (the advisory lock serialises them), migrate again (a
 * no-op), seed twice (idempotent), run the ledger check, then tamper with a recorded
 * sha256 and expect GW_ERR_CONFLICT. Exits 0 when every step behaves. Blocking. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ledger.h"

#include "banned.h"

static const struct ldg_demo_client smoke_clients[] = {
    { .id = "demo", .secret = "demo-secret-0123456789", .webhook_url = "http://127.0.0.1:9/hook" },
    { .id = "demo-other", .secret = "other-secret-0123456789", .webhook_url = NULL },
};

static int smoke_fail(const char *step, enum gw_err err, const struct gw_errbuf *eb)
{
    (void)fprintf(stderr, "FAIL %s: %s: %s\n", step, gw_err_name(err), eb->msg);
    return 1;
}

/* Two migrators at once; both must succeed. */
static int smoke_migrate_concurrently(const char *dsn)
{
    pid_t pids[2];
    int i;
    int bad = 0;

    for (i = 0; i < 2; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct gw_errbuf eb = { { 0 } };
            enum gw_err err = ldg_migrate_blocking(dsn, &eb);
            _exit(err == GW_OK ? 0 : smoke_fail("concurrent migrate", err, &eb));
        }
        if (pids[i] < 0) {
            return 1;
        }
    }
    for (i = 0; i < 2; i++) {
        int status = 0;
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            bad = 1;
        }
    }
    return bad;
}

/* Changes the recorded sha256 of migration 1: migrate must refuse; then restores it. */
static int smoke_tamper(const char *dsn)
{
    struct gw_errbuf eb = { { 0 } };
    PGconn *conn = PQconnectdb(dsn);
    enum gw_err err;
    int bad = 0;

    PQclear(PQexec(conn, "UPDATE feegate.schema_migrations SET sha256 = 'x' || sha256"
                         " WHERE version = 1"));
    err = ldg_migrate_blocking(dsn, &eb);
    if (err != GW_ERR_CONFLICT) {
        (void)fprintf(stderr, "FAIL tamper: got %s\n", gw_err_name(err));
        bad = 1;
    } else {
        (void)printf("ok   tampered migration refused: %s\n", eb.msg);
    }
    PQclear(PQexec(conn, "UPDATE feegate.schema_migrations SET sha256 = substr(sha256, 2)"
                         " WHERE version = 1"));
    PQfinish(conn);
    return bad;
}

int main(int argc, char **argv)
{
    struct gw_errbuf eb = { { 0 } };
    enum gw_err err;
    long violations = -1;

    if (argc != 2) {
        (void)fprintf(stderr, "usage: fg_ledger_smoke ADMIN_DSN\n");
        return 2;
    }
    if (smoke_migrate_concurrently(argv[1]) != 0) {
        return 1;
    }
    if ((err = ldg_migrate_blocking(argv[1], &eb)) != GW_OK) {
        return smoke_fail("migrate again", err, &eb);
    }
    if ((err = ldg_seed_demo_blocking(argv[1], smoke_clients, 2, &eb)) != GW_OK) {
        return smoke_fail("seed", err, &eb);
    }
    if ((err = ldg_seed_demo_blocking(argv[1], smoke_clients, 2, &eb)) != GW_OK) {
        return smoke_fail("seed again", err, &eb);
    }
    if ((err = ldg_check_blocking(argv[1], stdout, &violations, &eb)) != GW_OK) {
        return smoke_fail("check", err, &eb);
    }
    if (violations != 0) {
        (void)fprintf(stderr, "FAIL check: %ld violations\n", violations);
        return 1;
    }
    if (smoke_tamper(argv[1]) != 0) {
        return 1;
    }
    (void)printf("ok   ledger smoke\n");
    return 0;
}
