/* References enforced when the row is written (ledger/sql/base/schema.sql, "References"), under
 * concurrency: a catalogue row deleted while payments are being created for it leaves no orphan,
 * whichever comes first. Real sessions on a real cluster:
 *   1. creates in flight (their transactions open), then the agency's delete: the delete
 *      waits for them (their key share locks) and is refused; the payments stand;
 *   2. the agency's delete in flight, then creates: they wait for it and are refused when it
 *      commits; no payment names the agency.
 * Each time `feegate ledger check` passes. Without the keys, the first delete went through
 * (its trigger saw no committed payment) and left every payment without its agency.
 * Last, day close refuses while the ledger check fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ledger_it.h"
#include "th.h"

#define CREATORS 8

static struct th_db db;
static PGconn *su;

static int setup(void **state)
{
    (void)state;
    if (th_db_start(&db) != GW_OK) {
        return -1;
    }
    su = lit_connect(db.pg.admin_dsn);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(su);
    return th_db_stop(&db) == GW_OK ? 0 : -1;
}

/* An agency of its own, with a series, a treasury account, one fee and client A. */
static void make_agency(const char *code)
{
    char sql[1400];
    (void)snprintf(
        sql, sizeof(sql),
        "INSERT INTO receipt_series (template, series) VALUES ('01BLP0-001', 'RC-26E') "
        "ON CONFLICT DO NOTHING; "
        "INSERT INTO agencies (code, name, tax_code, receipt_template, receipt_series) "
        "VALUES ('%s', 'Race', '0100000001', '01BLP0-001', 'RC-26E'); "
        "INSERT INTO treasury_accounts (code, agency_code, name, bank_name, account_no) "
        "VALUES ('%s-T', '%s', 'T', 'KBNN', '3511'); "
        "BEGIN; INSERT INTO fees (agency_code, fee_code, name, amount_vnd_min, amount_vnd_max) "
        "VALUES ('%s', 'F', 'Fee', 1, 1000000); "
        "INSERT INTO fee_splits VALUES ('%s', 'F', 1, '%s-T', 10000); COMMIT; "
        "INSERT INTO client_agencies VALUES ('" TH_CLIENT_A_ID "', '%s')",
        code, code, code, code, code, code, code);
    lit_exec(su, sql);
}

/* The agency and everything of the catalogue that names it, in one transaction. */
static void delete_agency_sql(const char *code, char *sql, size_t cap)
{
    (void)snprintf(sql, cap,
                   "BEGIN; DELETE FROM client_agencies WHERE agency_code = '%s'; "
                   "DELETE FROM fee_splits WHERE agency_code = '%s'; "
                   "DELETE FROM fees WHERE agency_code = '%s'; "
                   "DELETE FROM treasury_accounts WHERE agency_code = '%s'; "
                   "DELETE FROM agencies WHERE code = '%s'",
                   code, code, code, code, code);
}

static void create_sql(const char *code, int i, char *sql, size_t cap)
{
    (void)snprintf(sql, cap,
                   "SELECT http_status FROM api_create_payment('" TH_CLIENT_A_ID "', NULL, "
                   "NULL, jsonb_build_object('order_ref', '%s-%d', 'agency_code', '%s', "
                   "'payer', '{\"name\":\"A\"}'::jsonb, 'items', "
                   "'[{\"fee_code\":\"F\",\"amount_vnd\":1000}]'::jsonb, 'amount_vnd', 1000, "
                   "'expires_in_s', 900), 'http://x')",
                   code, i, code);
}

/* Waits (up to 20 s) until n of the given backends wait on a lock. */
static void wait_blocked(PGconn *const *c, int n)
{
    char sql[512];
    size_t off = (size_t)snprintf(sql, sizeof(sql),
                                  "SELECT count(*) FROM pg_stat_activity WHERE "
                                  "wait_event_type = 'Lock' AND pid IN (0");
    for (int i = 0; i < n; i++) {
        off += (size_t)snprintf(sql + off, sizeof(sql) - off, ", %d", PQbackendPID(c[i]));
    }
    (void)snprintf(sql + off, sizeof(sql) - off, ")");
    for (int tries = 0; tries < 400; tries++) {
        if (lit_int(su, sql) == n) {
            return;
        }
        struct timespec ts = { 0, 50L * 1000 * 1000 };
        (void)nanosleep(&ts, NULL);
    }
    fail_msg("%d sessions never waited on a lock", n);
}

/* The result of the query sent on c: the SQLSTATE of its error, or "" when it succeeded. */
static void finish(PGconn *c, char *state, size_t cap)
{
    PGresult *r;
    (void)snprintf(state, cap, "%s", "");
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
            const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            (void)snprintf(state, cap, "%s", s != NULL ? s : "?");
        }
        PQclear(r);
    }
}

static long long count_payments(const char *code)
{
    char sql[200];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM payments WHERE agency_code = '%s'",
                   code);
    return lit_int(su, sql);
}

/* Creates first: the delete waits for them, then is refused; the payments stand. */
static void test_delete_after_creates(void **state)
{
    (void)state;
    PGconn *c[CREATORS];
    char sql[1400];
    char st[8];
    make_agency("RACE1");
    for (int i = 0; i < CREATORS; i++) {
        c[i] = lit_connect(db.pg.admin_dsn);
        lit_exec(c[i], "BEGIN");
        create_sql("RACE1", i, sql, sizeof(sql));
        assert_int_equal(lit_int(c[i], sql), 201);
    }
    PGconn *d = lit_connect(db.pg.admin_dsn);
    delete_agency_sql("RACE1", sql, sizeof(sql));
    assert_int_equal(PQsendQuery(d, sql), 1);
    wait_blocked(&d, 1);
    for (int i = 0; i < CREATORS; i++) {
        lit_exec(c[i], "COMMIT");
        PQfinish(c[i]);
    }
    finish(d, st, sizeof(st));
    if (strcmp(st, "FG409") != 0 && strcmp(st, "23503") != 0) {
        fail_msg("the agency's delete ended with \"%s\", not a refusal", st);
    }
    lit_exec(d, "ROLLBACK");
    PQfinish(d);
    assert_int_equal(lit_int(su, "SELECT count(*) FROM agencies WHERE code = 'RACE1'"), 1);
    assert_int_equal(count_payments("RACE1"), CREATORS);
    assert_int_equal(th_ledger_check(&db), 0);
}

/* The delete first: the creates wait for it and are refused when it commits. */
static void test_creates_after_delete(void **state)
{
    (void)state;
    PGconn *c[CREATORS];
    char sql[1400];
    char st[8];
    make_agency("RACE2");
    PGconn *d = lit_connect(db.pg.admin_dsn);
    delete_agency_sql("RACE2", sql, sizeof(sql));
    lit_exec(d, sql);
    for (int i = 0; i < CREATORS; i++) {
        c[i] = lit_connect(db.pg.admin_dsn);
        create_sql("RACE2", i, sql, sizeof(sql));
        assert_int_equal(PQsendQuery(c[i], sql), 1);
    }
    wait_blocked(c, CREATORS);
    lit_exec(d, "COMMIT");
    PQfinish(d);
    for (int i = 0; i < CREATORS; i++) {
        finish(c[i], st, sizeof(st));
        if (strcmp(st, "23503") != 0) {
            fail_msg("create %d ended with \"%s\", not 23503", i, st);
        }
        PQfinish(c[i]);
    }
    assert_int_equal(lit_int(su, "SELECT count(*) FROM agencies WHERE code = 'RACE2'"), 0);
    assert_int_equal(count_payments("RACE2"), 0);
    assert_int_equal(th_ledger_check(&db), 0);
}

/* Day close runs the ledger check first: an orphan planted with the keys' triggers off
 * (replica) makes it refuse, with the failed check named; once it is gone the day closes. */
static void test_day_close_checks(void **state)
{
    (void)state;
    /* An approver with a session, made by hand: its token is 64 times 'a'. */
    lit_exec(su, "INSERT INTO staff (id, role, password_hash, totp_secret) VALUES ('appr9', "
                 "'approver', '$argon2id$unused', '\\x000102030405060708090a0b0c0d0e0f'); "
                 "INSERT INTO staff_sessions (token_sha256, staff_id, expires_at) VALUES "
                 "(sha256(convert_to(repeat('a', 64), 'UTF8')), 'appr9', now() + interval '1 h'); "
                 "INSERT INTO recon_runs (business_day, finished_at) "
                 "VALUES (recon_today() - 5, now())");
    lit_exec(su, "SET session_replication_role = replica; "
                 "INSERT INTO payment_events (payment_id, seq, event, to_status) "
                 "VALUES ('pay_missing', 1, 'create', 'created'); "
                 "SET session_replication_role = origin");
    PGresult *r = PQexec(su, "SELECT day_close(recon_today() - 5, repeat('a', 64), false)");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "FG409");
    assert_string_equal(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), "ledger_check_failed");
    assert_non_null(
        strstr(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL), "rows_reference_payments (1)"));
    PQclear(r);
    assert_int_equal(lit_int(su, "SELECT count(*) FROM business_days "
                                 "WHERE day = recon_today() - 5"),
                     0);
    lit_exec(su, "SET session_replication_role = replica; "
                 "DELETE FROM payment_events WHERE payment_id = 'pay_missing'; "
                 "SET session_replication_role = origin");
    lit_exec(su, "SELECT day_close(recon_today() - 5, repeat('a', 64), false)");
    assert_int_equal(lit_int(su, "SELECT count(*) FROM business_days "
                                 "WHERE day = recon_today() - 5 AND status = 'closed'"),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_after_creates),
        cmocka_unit_test(test_creates_after_delete),
        cmocka_unit_test(test_day_close_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
