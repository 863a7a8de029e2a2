/* The ledger under concurrency, in the spirit of Jepsen's bank test. Eight accounts get an
 * opening balance; for a bounded time, writer threads move random amounts between them
 * through the single write path (post_journal), some in transactions that roll back or stay
 * open a while, a sealer thread runs ledger_seal like the gateway does, and reader threads
 * read every balance in one snapshot, either in one statement or account by account in a
 * repeatable-read transaction. Every read must sum to the opening total and see only whole
 * journals; at the end `feegate ledger check` and `feegate ledger verify` pass with nothing
 * left unsealed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ledger_it.h"
#include "th.h"

#define BANK_ACCOUNTS 8
#define BANK_OPENING  1000000LL
#define BANK_WRITERS  4
#define BANK_READERS  2
#define BANK_SECONDS  6

static struct th_db db;
static atomic_bool stop;
static atomic_long transfers, rollbacks, reads, bad_reads, seals;

static double now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    (void)nanosleep(&ts, NULL);
}

static void *writer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1u;
    PGconn *c = lit_connect(db.pg.admin_dsn);
    char sql[512];
    while (!atomic_load(&stop)) {
        int from = rand_r(&seed) % BANK_ACCOUNTS;
        int to = (from + 1 + rand_r(&seed) % (BANK_ACCOUNTS - 1)) % BANK_ACCOUNTS;
        long amount = 1 + rand_r(&seed) % 5000;
        int mode = rand_r(&seed) % 20; /* 0: roll back; 1: commit after a pause; else commit */
        (void)snprintf(sql, sizeof(sql),
                       "SELECT post_journal('transfer', NULL, 'bank test', "
                       "'[{\"account\":\"bank:BT%d\",\"amount_vnd\":%ld},"
                       "{\"account\":\"bank:BT%d\",\"amount_vnd\":%ld}]')",
                       to, amount, from, -amount);
        lit_exec(c, "BEGIN");
        (void)lit_int(c, sql);
        if (mode == 1) {
            nap_ms(20);
        }
        lit_exec(c, mode == 0 ? "ROLLBACK" : "COMMIT");
        atomic_fetch_add(mode == 0 ? &rollbacks : &transfers, 1);
    }
    PQfinish(c);
    return NULL;
}

/* One statement: the sum, the postings and the transfer journals, in one snapshot. */
static bool read_one_statement(PGconn *c)
{
    PGresult *r = PQexec(
        c, "SELECT (SELECT sum(amount_vnd) FROM postings WHERE account_code LIKE 'bank:BT%'),"
           " (SELECT count(*) FROM postings WHERE account_code LIKE 'bank:BT%'),"
           " (SELECT count(*) FROM journals WHERE kind IN ('transfer', 'opening'))");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (ok) {
        long long sum = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        long long np = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        long long nj = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        /* The opening journal has BANK_ACCOUNTS bank postings, each transfer two. */
        ok = sum == BANK_ACCOUNTS * BANK_OPENING && np == BANK_ACCOUNTS + 2 * (nj - 1);
        if (!ok) {
            (void)fprintf(stderr, "bad read: sum %lld, %lld postings, %lld journals\n", sum, np,
                          nj);
        }
    }
    PQclear(r);
    return ok;
}

/* Account by account in one repeatable-read snapshot. */
static bool read_by_account(PGconn *c)
{
    char sql[160];
    long long total = 0;
    lit_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    for (int i = 0; i < BANK_ACCOUNTS; i++) {
        (void)snprintf(sql, sizeof(sql),
                       "SELECT coalesce(sum(amount_vnd), 0) FROM postings "
                       "WHERE account_code = 'bank:BT%d'",
                       i);
        total += lit_int(c, sql);
    }
    lit_exec(c, "COMMIT");
    if (total != BANK_ACCOUNTS * BANK_OPENING) {
        (void)fprintf(stderr, "bad read: accounts sum to %lld\n", total);
    }
    return total == BANK_ACCOUNTS * BANK_OPENING;
}

static void *reader(void *arg)
{
    (void)arg;
    PGconn *c = lit_connect(db.pg.app_dsn);
    for (long i = 0; !atomic_load(&stop); i++) {
        bool ok = i % 2 == 0 ? read_one_statement(c) : read_by_account(c);
        atomic_fetch_add(&reads, 1);
        if (!ok) {
            atomic_fetch_add(&bad_reads, 1);
        }
    }
    PQfinish(c);
    return NULL;
}

static void *sealer(void *arg)
{
    (void)arg;
    PGconn *c = lit_connect(db.pg.app_dsn);
    while (!atomic_load(&stop)) {
        atomic_fetch_add(&seals, lit_int(c, "SELECT ledger_seal(2000)"));
        nap_ms(50);
    }
    PQfinish(c);
    return NULL;
}

static void test_bank(void **state)
{
    (void)state;
    assert_int_equal(th_db_start(&db), GW_OK);
    PGconn *su = lit_connect(db.pg.admin_dsn);
    (void)lit_int(
        su,
        "SELECT post_journal('opening', NULL, 'opening balances', "
        "(SELECT jsonb_agg(jsonb_build_object('account', 'bank:BT' || i, 'amount_vnd', 1000000))"
        " FROM generate_series(0, 7) i) || jsonb_build_array(jsonb_build_object("
        "'account', 'equity:opening', 'amount_vnd', -8000000)))");
    pthread_t t[BANK_WRITERS + BANK_READERS + 1];
    int n = 0;
    for (int i = 0; i < BANK_WRITERS; i++) {
        /* NOLINTNEXTLINE(performance-no-int-to-ptr): the writer's number, not a pointer */
        assert_int_equal(pthread_create(&t[n++], NULL, writer, (void *)(uintptr_t)i), 0);
    }
    for (int i = 0; i < BANK_READERS; i++) {
        assert_int_equal(pthread_create(&t[n++], NULL, reader, NULL), 0);
    }
    assert_int_equal(pthread_create(&t[n++], NULL, sealer, NULL), 0);
    double t0 = now_s();
    while (now_s() - t0 < BANK_SECONDS) {
        nap_ms(100);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < n; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    (void)fprintf(stderr,
                  "bank: %ld transfers, %ld rolled back, %ld reads, %ld sealed "
                  "while running\n",
                  atomic_load(&transfers), atomic_load(&rollbacks), atomic_load(&reads),
                  atomic_load(&seals));
    assert_true(atomic_load(&transfers) > 100);
    assert_true(atomic_load(&reads) > 20);
    assert_int_equal(atomic_load(&bad_reads), 0);
    assert_true(read_one_statement(su));

    while (lit_int(su, "SELECT ledger_seal(5000)") > 0) {
    }
    assert_int_equal(lit_int(su, "SELECT count(*) FROM journals j WHERE NOT EXISTS "
                                 "(SELECT 1 FROM journal_seals s WHERE s.journal_id = j.id)"),
                     0);
    assert_int_equal(th_ledger_check(&db), 0);
    char out[2048];
    int code = lit_verify(db.pg.app_dsn, 0, out, sizeof(out));
    if (code != 0) {
        (void)fprintf(stderr, "verify exited %d:\n%s", code, out);
    }
    assert_int_equal(code, 0);
    PQfinish(su);
    assert_int_equal(th_db_stop(&db), GW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
