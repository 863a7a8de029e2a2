/* The ledger's rules, its refusals and its tamper evidence, against a real cluster. Journals
 * are made by the real SQL functions (payments through the API functions, then settlement,
 * refunds, correction, suspense, write-off), sealed by ledger_seal. A superuser then
 * changes, removes, inserts or reorders rows with the triggers off: `feegate ledger verify`
 * must fail naming the first bad journal, and pass again once the change is undone. The
 * application role may do none of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger_it.h"
#include "th.h"

static struct th_db db;
static PGconn *su;
static long long jn[4]; /* success journals of payments 1-3, and the settlement */
static char pay[3][40];

#define REPLICA(sql) \
    "SET session_replication_role = replica; " sql "; SET session_replication_role = origin"

static void make_payment(int i, const char *fee, long long amount)
{
    char sql[1400];
    (void)snprintf(
        sql, sizeof(sql),
        "SELECT (r.body::json ->> 'payment_id') FROM api_create_payment('%s', NULL, NULL, "
        "jsonb_build_object('order_ref', 'tamper-%d', 'agency_code', 'STP-HN', 'payer', "
        "'{\"name\":\"A\"}', 'items', jsonb_build_array(jsonb_build_object('fee_code', '%s', "
        "'amount_vnd', %lld)), 'amount_vnd', %lld, 'expires_in_s', 900), 'http://x') r",
        TH_CLIENT_A_ID, i, fee, amount, amount);
    PGresult *r = PQexec(su, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    (void)snprintf(pay[i], sizeof(pay[i]), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    (void)snprintf(
        sql, sizeof(sql),
        "SELECT count(*) FROM apply_provider_result('sandbox', checkout_begin('%s', 'sandbox', "
        "'http://x') ->> 'merchant_ref', 'succeeded', %lld, 'T%d', now(), 'ipn', '{}') v "
        "WHERE v = 'applied'",
        pay[i], amount, i);
    assert_int_equal(lit_int(su, sql), 1);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT id FROM journals WHERE payment_id = '%s' AND kind = 'payment_success'",
                   pay[i]);
    jn[i] = lit_int(su, sql);
}

static int setup(void **state)
{
    (void)state;
    if (th_db_start(&db) != GW_OK) {
        return -1;
    }
    su = lit_connect(db.pg.admin_dsn);
    make_payment(0, "LLTP", 200000);
    make_payment(1, "LLTP", 200000);
    make_payment(2, "TLHT", 16000);
    char sql[512];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT ledger_settle('sandbox', 'STP-HN-3511', "
                   "ARRAY['%s', '%s'], 1100, 'S1')",
                   pay[0], pay[1]);
    jn[3] = lit_int(su, sql);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT cardinality(ledger_refund('%s', 30000, 'R1', "
                   "'clerk1'))",
                   pay[0]);
    assert_int_equal(lit_int(su, sql), 2); /* one part settled, one not */
    (void)snprintf(sql, sizeof(sql),
                   "SELECT reversal_id FROM ledger_correct(%lld, NULL, "
                   "'wrong fee', 'clerk1')",
                   jn[2]);
    lit_exec(su, sql);
    lit_exec(su, "SELECT ledger_to_suspense('sandbox', -5000, 'missing at provider', 'clerk1')");
    lit_exec(su, "SELECT ledger_write_off('sandbox', 5000, 'written off', 'clerk1', 'boss1')");
    lit_exec(su, "SELECT ledger_seal(1000)");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(su);
    return th_db_stop(&db) == GW_OK ? 0 : -1;
}

/* verify must exit 1 and name journal j first. */
static void assert_verify_names(long long j)
{
    char out[2048];
    char want[64];
    int code = lit_verify(db.pg.app_dsn, 60, out, sizeof(out));
    (void)snprintf(want, sizeof(want), "FAIL journal %lld:", j);
    if (code != 1 || strstr(out, want) == NULL) {
        (void)fprintf(stderr, "verify exited %d, expected 1 and \"%s\":\n%s", code, want, out);
    }
    assert_int_equal(code, 1);
    assert_non_null(strstr(out, want));
}

static void assert_verify_ok(void)
{
    char out[2048];
    int code = lit_verify(db.pg.app_dsn, 60, out, sizeof(out));
    if (code != 0) {
        (void)fprintf(stderr, "verify exited %d:\n%s", code, out);
    }
    assert_int_equal(code, 0);
}

static void test_rules_and_clean_chain(void **state)
{
    (void)state;
    /* Ids (migration 026): prefix, 12 hex digits of creation time in ms, 20 random. */
    for (int i = 0; i < 3; i++) {
        char sql[400];
        (void)snprintf(sql, sizeof(sql),
                       "SELECT count(*) FROM payments WHERE id = '%s' AND id ~ '^pay_[0-9a-f]+$' "
                       "AND length(id) = 36 AND abs(('x' || substr(id, 5, 12))::bit(48)::bigint "
                       "- (extract(epoch FROM created_at) * 1000)::bigint) < 2000",
                       pay[i]);
        assert_int_equal(lit_int(su, sql), 1);
    }
    assert_true(strncmp(pay[0], pay[1], 16) <= 0 && strncmp(pay[1], pay[2], 16) <= 0);
    assert_int_equal(th_ledger_check(&db), 0);
    assert_verify_ok();
    /* Settlement: payable net, fees, clearing gross (the STP-HN-3511 parts: 2 x 140,000). */
    char sql[400];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT string_agg(account_code || ' ' || amount_vnd, ', ' "
                   "ORDER BY id) = 'payable:STP-HN-3511 278900, fees:sandbox 1100, "
                   "clearing:sandbox -280000' FROM postings WHERE journal_id = %lld",
                   jn[3]);
    PGresult *r = PQexec(su, sql);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    assert_int_equal(lit_int(su, "SELECT count(*) FROM settlement_items"), 2);
    /* Every account nets as the rules say: the write-off cleared suspense. */
    assert_int_equal(lit_int(su, "SELECT coalesce(sum(amount_vnd), 0) FROM postings "
                                 "WHERE account_code = 'suspense:sandbox'"),
                     0);
    assert_int_equal(lit_int(su, "SELECT sum(amount_vnd) FROM postings "
                                 "WHERE account_code = 'refunds:sandbox'"),
                     -21000);
}

static void test_posting_amount_changed(void **state)
{
    (void)state;
    char sql[300];
    (void)snprintf(sql, sizeof(sql),
                   REPLICA("UPDATE postings SET amount_vnd = amount_vnd + 1 "
                           "WHERE id = (SELECT min(id) FROM postings WHERE journal_id = %lld)"),
                   jn[1]);
    lit_exec(su, sql);
    assert_verify_names(jn[1]);
    (void)snprintf(sql, sizeof(sql),
                   REPLICA("UPDATE postings SET amount_vnd = amount_vnd - 1 "
                           "WHERE id = (SELECT min(id) FROM postings WHERE journal_id = %lld)"),
                   jn[1]);
    lit_exec(su, sql);
    assert_verify_ok();
}

static void test_posting_deleted_and_inserted(void **state)
{
    (void)state;
    char sql[400];
    lit_exec(su, "DROP TABLE IF EXISTS public.saved; CREATE TABLE public.saved AS "
                 "SELECT * FROM postings WHERE false");
    (void)snprintf(sql, sizeof(sql),
                   REPLICA("WITH d AS (DELETE FROM postings WHERE id = "
                           "(SELECT max(id) FROM postings WHERE journal_id = %lld) RETURNING *) "
                           "INSERT INTO public.saved SELECT * FROM d"),
                   jn[2]);
    lit_exec(su, sql);
    assert_verify_names(jn[2]);
    lit_exec(su, "INSERT INTO postings SELECT * FROM public.saved");
    assert_verify_ok();

    (void)snprintf(sql, sizeof(sql),
                   "INSERT INTO postings (journal_id, account_code, "
                   "amount_vnd) VALUES (%lld, 'clearing:sandbox', 1)",
                   jn[3]);
    lit_exec(su, sql);
    assert_verify_names(jn[3]);
    lit_exec(su, REPLICA("DELETE FROM postings WHERE id = (SELECT max(id) FROM postings)"));
    assert_verify_ok();
}

static void test_memo_changed(void **state)
{
    (void)state;
    char sql[300];
    (void)snprintf(sql, sizeof(sql),
                   REPLICA("UPDATE journals SET memo = memo || '.' WHERE id = %lld"), jn[0]);
    lit_exec(su, sql);
    assert_verify_names(jn[0]);
    (void)snprintf(sql, sizeof(sql),
                   REPLICA("UPDATE journals SET memo = left(memo, "
                           "length(memo) - 1) WHERE id = %lld"),
                   jn[0]);
    lit_exec(su, sql);
    assert_verify_ok();
}

/* Two journals trade places (ids and their postings), then two seals trade order. */
static void test_reordered(void **state)
{
    (void)state;
    char sql[900];
    static const char swap[] =
        "UPDATE journals SET id = -1 WHERE id = %lld; UPDATE postings SET journal_id = -1 "
        "WHERE journal_id = %lld; UPDATE journals SET id = %lld WHERE id = %lld; "
        "UPDATE postings SET journal_id = %lld WHERE journal_id = %lld; "
        "UPDATE journals SET id = %lld WHERE id = -1; UPDATE postings SET journal_id = %lld "
        "WHERE journal_id = -1";
    char body[600];
    (void)snprintf(body, sizeof(body), swap, jn[1], jn[1], jn[1], jn[2], jn[1], jn[2], jn[2],
                   jn[2]);
    (void)snprintf(sql, sizeof(sql), REPLICA("%s"), body);
    lit_exec(su, sql);
    assert_verify_names(jn[1]);
    lit_exec(su, sql);
    assert_verify_ok();

    lit_exec(su, REPLICA("UPDATE journal_seals SET seq = -seq WHERE seq IN (3, 4); "
                         "UPDATE journal_seals SET seq = 7 + seq WHERE seq IN (-3, -4)"));
    long long j = lit_int(su, "SELECT journal_id FROM journal_seals WHERE seq = 3");
    assert_verify_names(j);
    lit_exec(su, REPLICA("UPDATE journal_seals SET seq = -seq WHERE seq IN (3, 4); "
                         "UPDATE journal_seals SET seq = 7 + seq WHERE seq IN (-3, -4)"));
    assert_verify_ok();
}

static void test_journal_removed_and_inserted(void **state)
{
    (void)state;
    char sql[700];
    lit_exec(su, "DROP TABLE IF EXISTS public.sj; DROP TABLE IF EXISTS public.sp");
    (void)snprintf(sql, sizeof(sql),
                   "CREATE TABLE public.sj AS SELECT * FROM journals WHERE "
                   "id = %lld; CREATE TABLE public.sp AS SELECT * FROM postings WHERE "
                   "journal_id = %lld",
                   jn[3], jn[3]);
    lit_exec(su, sql);
    (void)snprintf(sql, sizeof(sql),
                   REPLICA("DELETE FROM postings WHERE journal_id = %lld; "
                           "DELETE FROM journals WHERE id = %lld"),
                   jn[3], jn[3]);
    lit_exec(su, sql);
    assert_verify_names(jn[3]);
    lit_exec(su, "INSERT INTO journals SELECT * FROM public.sj; "
                 "INSERT INTO postings SELECT * FROM public.sp");
    assert_verify_ok();

    /* A balanced journal slipped in behind the write path, dated an hour ago. */
    long long id = lit_int(
        su,
        "WITH j AS (INSERT INTO journals (kind, business_day, "
        "created_at) VALUES ('transfer', current_date, now() - interval '1 hour') RETURNING id), "
        "p AS (INSERT INTO postings (journal_id, account_code, amount_vnd) SELECT id, a, v "
        "FROM j, (VALUES ('clearing:sandbox', 5), ('payable:STP-HN-3511', -5)) x(a, v)) "
        "SELECT id FROM j");
    assert_verify_names(id);
    (void)snprintf(sql, sizeof(sql),
                   REPLICA("DELETE FROM postings WHERE journal_id = %lld; "
                           "DELETE FROM journals WHERE id = %lld"),
                   id, id);
    lit_exec(su, sql);
    assert_verify_ok();

    /* A seal removed. */
    lit_exec(su, "DROP TABLE IF EXISTS public.ss; CREATE TABLE public.ss AS "
                 "SELECT * FROM journal_seals WHERE seq = 2");
    lit_exec(su, REPLICA("DELETE FROM journal_seals WHERE seq = 2"));
    assert_verify_names(lit_int(su, "SELECT journal_id FROM journal_seals WHERE seq = 3"));
    lit_exec(su, "INSERT INTO journal_seals SELECT * FROM public.ss");
    assert_verify_ok();
}

/* Without replica mode the triggers refuse even a superuser. */
static void test_triggers_refuse_superuser(void **state)
{
    (void)state;
    assert_true(
        lit_fails(su, "UPDATE journal_seals SET sealed_at = now()", "FG500", "append_only"));
    assert_true(lit_fails(su, "DELETE FROM journal_seals", "FG500", "append_only"));
    assert_true(lit_fails(su, "TRUNCATE journal_seals", "FG500", "append_only"));
    assert_true(lit_fails(su, "DELETE FROM settlement_items", "FG500", "append_only"));
    assert_true(lit_fails(su, "UPDATE postings SET amount_vnd = 1", "FG500", "append_only"));
    lit_exec(su, "INSERT INTO business_days (day) VALUES (current_date - 10)");
    assert_true(lit_fails(su, "DELETE FROM business_day_events", "FG500", "append_only"));
    assert_true(lit_fails(su, "DELETE FROM business_days", "FG500", "append_only"));
    assert_true(lit_fails(su, "TRUNCATE business_days", "FG500", "append_only"));
}

static long long check_violations(const char *name)
{
    char sql[200];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT violations FROM ledger_check() WHERE check_name = '%s'", name);
    return lit_int(su, sql);
}

/* The payment's rows carry foreign keys (schema.sql, "References"): a referenced row cannot go
 * (FG409 row_referenced, as before), and a row that points at nothing is refused when it is
 * written, even to a superuser. Planted with the triggers off (replica), it is found by
 * ledger_check and fails `feegate ledger check`: the second line of defence. */
static void test_references(void **state)
{
    (void)state;
    char sql[300];
    (void)snprintf(sql, sizeof(sql), "DELETE FROM payments WHERE id = '%s'", pay[1]);
    assert_true(lit_fails(su, sql, "FG409", "row_referenced"));
    (void)snprintf(sql, sizeof(sql), "UPDATE payments SET id = 'pay_x' WHERE id = '%s'", pay[1]);
    assert_true(lit_fails(su, sql, "FG409", "row_referenced"));
    assert_true(
        lit_fails(su, "DELETE FROM agencies WHERE code = 'STP-HN'", "FG409", "row_referenced"));
    assert_true(
        lit_fails(su, "DELETE FROM channels WHERE code = 'sandbox'", "FG409", "row_referenced"));
    (void)snprintf(sql, sizeof(sql), "DELETE FROM clients WHERE id = '%s'", TH_CLIENT_A_ID);
    assert_true(lit_fails(su, sql, "FG409", "row_referenced"));
    assert_true(lit_fails(su, "TRUNCATE payments CASCADE", "FG409", "row_referenced"));
    /* A channel added from a fresh session (default search_path, as an operator's psql)
     * gets its accounts. */
    PGconn *plain = PQconnectdb(db.pg.admin_dsn);
    assert_int_equal(PQstatus(plain), CONNECTION_OK);
    PGresult *r = PQexec(plain, "INSERT INTO feegate.channels (code, name) VALUES ('opchan', "
                                "'Operator channel')");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        (void)fprintf(stderr, "insert channel: %s", PQresultErrorMessage(r));
    }
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(plain);
    assert_int_equal(lit_int(su, "SELECT count(*) FROM accounts WHERE code LIKE '%:opchan'"), 6);
    /* Updates that keep the key pass: the triggers look at the key only. */
    lit_exec(su, "UPDATE channels SET name = name WHERE code = 'sandbox'");
    assert_int_equal(check_violations("rows_reference_payments"), 0);
    assert_int_equal(check_violations("rows_reference_catalogue"), 0);
    assert_int_equal(check_violations("documents_reference_receipts"), 0);
}

/* Rows pointing at nothing, written around the functions: refused at once, even to a
 * superuser; planted with the keys' triggers off, found by ledger_check. */
static void test_orphans_refused(void **state)
{
    (void)state;
    char sql[300];
    static const char *const orphans[] = {
        "INSERT INTO payment_attempts (merchant_ref, payment_id, channel) "
        "VALUES ('FGorphan', 'pay_missing', 'sandbox')",
        "INSERT INTO payments (id, client_id, agency_code, base_url, expires_at, order_ref, "
        "amount_vnd, items) VALUES ('pay_orphan', 'no-such-client', 'STP-HN', 'u', now(), "
        "'o-orphan', 1000, '[]')",
        "INSERT INTO payments (id, client_id, agency_code, base_url, expires_at, order_ref, "
        "amount_vnd, items) VALUES ('pay_orphan', '" TH_CLIENT_A_ID "', 'NO-SUCH', 'u', "
        "now(), 'o-orphan', 1000, '[]')",
        "INSERT INTO payments (id, client_id, agency_code, base_url, expires_at, order_ref, "
        "amount_vnd, items, channel) VALUES ('pay_orphan', '" TH_CLIENT_A_ID "', 'STP-HN', "
        "'u', now(), 'o-orphan', 1000, '[]', 'nochan')",
        "INSERT INTO payment_events (payment_id, seq, event, to_status) "
        "VALUES ('pay_missing', 1, 'create', 'created')",
        "INSERT INTO idempotency (client_id, idem_key, request_sha256, http_status) "
        "VALUES ('no-such-client', 'k1', 'x', 0)",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256) "
        "VALUES ('rcp_missing', 'xml', '<x/>', repeat('0', 64))",
        "INSERT INTO receipt_jobs (receipt_id) VALUES ('rcp_missing')",
        "INSERT INTO journals (kind, payment_id, business_day) "
        "VALUES ('x', 'pay_missing', current_date)",
        "INSERT INTO postings (journal_id, account_code, amount_vnd) "
        "VALUES (999999999, 'clearing:sandbox', 1)",
        "INSERT INTO outbox (event_id, client_id, payment_id, type, body) "
        "VALUES ('evt_orphan', '" TH_CLIENT_A_ID "', 'pay_missing', 'payment.x', '{}')",
    };
    for (size_t i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++) {
        assert_true(lit_fails(su, orphans[i], "23503", NULL));
    }
    (void)snprintf(sql, sizeof(sql),
                   "INSERT INTO postings (journal_id, account_code, amount_vnd) "
                   "VALUES (%lld, 'clearing:nochan', 1)",
                   jn[3]);
    assert_true(lit_fails(su, sql, "23503", NULL));
    assert_int_equal(th_ledger_check(&db), 0);

    /* The same rows with the keys' triggers off: ledger_check finds each. */
    lit_exec(su, REPLICA("INSERT INTO payment_events (payment_id, seq, event, to_status) "
                         "VALUES ('pay_missing', 1, 'create', 'created'); "
                         "INSERT INTO idempotency (client_id, idem_key, request_sha256, "
                         "http_status) VALUES ('no-such-client', 'k1', 'x', 0); "
                         "INSERT INTO receipt_documents (receipt_id, kind, body, sha256) "
                         "VALUES ('rcp_missing', 'xml', '<x/>', repeat('0', 64))"));
    assert_int_equal(check_violations("rows_reference_payments"), 1);
    assert_int_equal(check_violations("rows_reference_catalogue"), 1);
    assert_int_equal(check_violations("documents_reference_receipts"), 1);
    assert_int_equal(th_ledger_check(&db), 1);
    lit_exec(su, REPLICA("DELETE FROM payment_events WHERE payment_id = 'pay_missing'"));
    lit_exec(su, "DELETE FROM idempotency WHERE client_id = 'no-such-client'");
    lit_exec(su, REPLICA("DELETE FROM receipt_documents WHERE receipt_id = 'rcp_missing'"));
    assert_int_equal(th_ledger_check(&db), 0);
}

/* Migration 018 rewrote the bounded patterns ({1,255}, {64}, ...) as a class and a length:
 * the edges must be where they were. */
static void test_pattern_edges(void **state)
{
    (void)state;
    char sql[800];
    /* An idempotency key: 1 to 255 of [A-Za-z0-9_-]. */
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM idem_claim('%s', repeat('k', 255), "
                   "'edge')",
                   TH_CLIENT_A_ID);
    assert_int_equal(lit_int(su, sql), 1);
    (void)snprintf(sql, sizeof(sql), "SELECT idem_claim('%s', repeat('k', 256), 'edge')",
                   TH_CLIENT_A_ID);
    assert_true(lit_fails(su, sql, "FG400", "invalid_idempotency_key"));
    (void)snprintf(sql, sizeof(sql), "SELECT idem_claim('%s', 'a b', 'edge')", TH_CLIENT_A_ID);
    assert_true(lit_fails(su, sql, "FG400", "invalid_idempotency_key"));
    (void)snprintf(sql, sizeof(sql), "SELECT idem_claim('%s', 'k\u00e9', 'edge')", TH_CLIENT_A_ID);
    assert_true(lit_fails(su, sql, "FG400", "invalid_idempotency_key"));
    static const char *const bad[] = {
        "INSERT INTO idempotency (client_id, idem_key, request_sha256, http_status) "
        "VALUES ('c', repeat('k', 256), 'x', 0)",
        "INSERT INTO idempotency (client_id, idem_key, request_sha256, http_status) "
        "VALUES ('c', '', 'x', 0)",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256) "
        "VALUES ('r', 'xml', 'b', repeat('0', 63))",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256) "
        "VALUES ('r', 'xml', 'b', repeat('0', 63) || 'A')",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256, signed_at, "
        "cert_fingerprint) VALUES ('r', 'xml', 'b', repeat('0', 64), now(), repeat('0', 65))",
        "INSERT INTO clients (id, name, secret) VALUES (repeat('c', 65), 'x', repeat('s', 20))",
        "INSERT INTO channels (code, name) VALUES (repeat('c', 33), 'x')",
        "INSERT INTO channels (code, name) VALUES ('Upper', 'x')",
        "INSERT INTO agencies (code, name, tax_code, receipt_template, receipt_series) "
        "VALUES (repeat('A', 33), 'x', '0100000001', '01BLP0-001', 'AA-26E')",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(lit_fails(su, bad[i], "23514", NULL));
    }
    assert_int_equal(lit_int(su, "SELECT count(*) FROM idempotency WHERE request_sha256 = "
                                 "'edge'"),
                     1);
    lit_exec(su, "DELETE FROM idempotency WHERE request_sha256 = 'edge'");

    /* A create meeting a key whose refund has not answered yet (claimed, status 0): 409. */
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM idem_claim('%s', 'k-open', 'edge')",
                   TH_CLIENT_A_ID);
    assert_int_equal(lit_int(su, sql), 1);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT * FROM api_create_payment('%s', 'k-open', 'other', '{}', 'http://x')",
                   TH_CLIENT_A_ID);
    assert_true(lit_fails(su, sql, "FG409", "idempotency_key_in_progress"));
    lit_exec(su, "DELETE FROM idempotency WHERE request_sha256 = 'edge'");
}

/* Migration 019 folded each payment-path table's CHECKs into one function: every rule still
 * refuses, and a row that keeps them all still passes. */
static void test_row_rules(void **state)
{
    (void)state;
    char sql[900];
    static const char *const pay_bad[] = {
        "'', 'created', 1000, '[]', 'vi', 0",
        "repeat('o', 65), 'created', 1000, '[]', 'vi', 0",
        "'o', 'bogus', 1000, '[]', 'vi', 0",
        "'o', 'created', 0, '[]', 'vi', 0",
        "'o', 'created', 1000000000001, '[]', 'vi', 0",
        "'o', 'created', 1000, '{}', 'vi', 0",
        "'o', 'created', 1000, '[]', 'fr', 0",
        "'o', 'created', 1000, '[]', 'vi', -1",
        "'o', 'created', 1000, '[]', 'vi', 1001",
    };
    static const char *const head =
        "INSERT INTO payments (id, client_id, agency_code, base_url, expires_at, order_ref, "
        "status, amount_vnd, items, locale, refunded_vnd) VALUES ('pay_rule', 'c', 'a', 'u', "
        "now(), ";
    for (size_t i = 0; i < sizeof(pay_bad) / sizeof(pay_bad[0]); i++) {
        (void)snprintf(sql, sizeof(sql), "%s%s)", head, pay_bad[i]);
        assert_true(lit_fails(su, sql, "23514", NULL));
    }
    /* The rows that pass the rules are written with the keys' triggers off (replica): they
     * name no real client, agency or receipt, and the rule is what is tested. */
    (void)snprintf(sql, sizeof(sql),
                   "BEGIN; SET LOCAL session_replication_role = replica; "
                   "%s'o', 'refunded', 1000, '[]', 'en', 1000); ROLLBACK",
                   head);
    lit_exec(su, sql);
    static const char *const other_bad[] = {
        "INSERT INTO journals (kind, business_day, maker, checker) VALUES ('write_off', "
        "current_date, 'a', 'a')",
        "INSERT INTO journals (kind, business_day, maker) VALUES ('write_off', current_date, "
        "'a')",
        "INSERT INTO journals (kind, business_day) VALUES ('reversal', current_date)",
        "INSERT INTO receipts (id, template, series, agency_code, number, amount_vnd, payer, "
        "items, lookup_code) VALUES ('r', 't', 's', 'a', 0, 1, '{}', '[]', '0000000000AB')",
        "INSERT INTO receipts (id, template, series, agency_code, number, amount_vnd, payer, "
        "items, lookup_code) VALUES ('r', 't', 's', 'a', 1, 0, '{}', '[]', '0000000000AB')",
        "INSERT INTO receipts (id, template, series, agency_code, number, amount_vnd, payer, "
        "items, lookup_code) VALUES ('r', 't', 's', 'a', 1, 1, '{}', '[]', '0000000000AI')",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256) "
        "VALUES ('r', 'pdf', 'b', repeat('0', 64))",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256) "
        "VALUES ('r', 'xml', '', repeat('0', 64))",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256, signed_at) "
        "VALUES ('r', 'xml', 'b', repeat('0', 64), now())",
        "INSERT INTO receipt_documents (receipt_id, kind, body, sha256, cert_fingerprint) "
        "VALUES ('r', 'xml', 'b', repeat('0', 64), repeat('0', 64))",
    };
    for (size_t i = 0; i < sizeof(other_bad) / sizeof(other_bad[0]); i++) {
        assert_true(lit_fails(su, other_bad[i], "23514", NULL));
    }
    lit_exec(su, "BEGIN; SET LOCAL session_replication_role = replica; "
                 "INSERT INTO receipt_documents (receipt_id, kind, body, sha256, "
                 "signed_at, cert_fingerprint) VALUES ('r', 'xml', 'b', repeat('0', 64), now(), "
                 "repeat('a', 64)); ROLLBACK");
}

static void test_app_role_refused(void **state)
{
    (void)state;
    PGconn *app = lit_connect(db.pg.app_dsn);
    static const char *const sql[] = {
        "UPDATE postings SET amount_vnd = amount_vnd + 1",
        "DELETE FROM postings",
        ("INSERT INTO postings (journal_id, account_code, amount_vnd) "
         "VALUES (1, 'clearing:sandbox', 1)"),
        "UPDATE journals SET memo = 'x'",
        "DELETE FROM journals",
        "INSERT INTO journals (kind, business_day) VALUES ('x', current_date)",
        "UPDATE journal_seals SET seq = seq + 100",
        "DELETE FROM journal_seals",
        ("INSERT INTO journal_seals SELECT seq + 100, journal_id, prev_hash, hash FROM "
         "journal_seals"),
        "INSERT INTO business_days (day) VALUES (current_date)",
        "UPDATE business_days SET status = 'open'",
        "DELETE FROM settlement_items",
        "TRUNCATE postings",
        "SET session_replication_role = replica",
        "ALTER TABLE journals DISABLE TRIGGER ALL",
        ("SELECT post_journal('x', NULL, '', '[{\"account\":\"clearing:sandbox\",\"amount_vnd\":1},"
         "{\"account\":\"payable:STP-HN-3511\",\"amount_vnd\":-1}]')"),
        "SELECT ledger_write_off('sandbox', 1, 'x', 'a', 'b')",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        assert_true(lit_fails(app, sql[i], "42501", NULL));
    }
    /* What the gateway may do. */
    assert_true(lit_int(app, "SELECT ledger_seal(10)") >= 0);
    assert_true(lit_int(app, "SELECT count(*) FROM ledger_check()") > 15);
    PQfinish(app);
    assert_verify_ok();
}

/* Each refused with its message; nothing written. */
static void test_bad_input(void **state)
{
    (void)state;
    long long j0 = lit_int(su, "SELECT count(*) FROM journals");
    long long p0 = lit_int(su, "SELECT count(*) FROM postings");
    long long a0 = lit_int(su, "SELECT count(*) FROM accounts");
    char sql[600];
    assert_true(
        lit_fails(su,
                  "SELECT post_journal('x', NULL, '', '[{\"account\":\"nosuch:x\","
                  "\"amount_vnd\":1},{\"account\":\"clearing:sandbox\",\"amount_vnd\":-1}]')",
                  "FG422", "unknown_account"));
    assert_true(
        lit_fails(su,
                  "SELECT post_journal('x', NULL, '', '[{\"account\":\"payable:NOPE\","
                  "\"amount_vnd\":1},{\"account\":\"clearing:sandbox\",\"amount_vnd\":-1}]')",
                  "FG422", "unknown_account"));
    assert_true(
        lit_fails(su,
                  "SELECT post_journal('x', NULL, '', '[{\"account\":\"clearing:nochan\","
                  "\"amount_vnd\":1},{\"account\":\"clearing:sandbox\",\"amount_vnd\":-1}]')",
                  "FG422", "unknown_account"));
    assert_true(
        lit_fails(su,
                  "SELECT post_journal('x', NULL, '', '[{\"account\":\"clearing:sandbox\","
                  "\"amount_vnd\":2},{\"account\":\"payable:STP-HN-3511\",\"amount_vnd\":-1}]')",
                  "FG500", "journal_unbalanced"));
    assert_true(lit_fails(su,
                          "SELECT post_journal('x', NULL, '', '[{\"account\":\"clearing:sandbox\","
                          "\"amount_vnd\":1}]')",
                          "FG500", "journal_unbalanced"));
    assert_true(
        lit_fails(su,
                  "SELECT post_journal('x', NULL, '', '[{\"account\":\"clearing:sandbox\","
                  "\"amount_vnd\":1},{\"account\":\"payable:STP-HN-3511\",\"amount_vnd\":-1}]', "
                  "((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date + 1))",
                  "FG422", "business_day_in_future"));
    lit_exec(su, "INSERT INTO business_days (day, status, closed_at, closed_by) VALUES "
                 "(((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 3), 'closed', now(), 'boss1')");
    assert_true(
        lit_fails(su,
                  "SELECT post_journal('x', NULL, '', '[{\"account\":\"clearing:sandbox\","
                  "\"amount_vnd\":1},{\"account\":\"payable:STP-HN-3511\",\"amount_vnd\":-1}]', "
                  "((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 3))",
                  "FG409", "business_day_closed"));
    assert_true(lit_fails(su,
                          "UPDATE business_days SET status = 'open', closed_at = NULL, "
                          "closed_by = NULL",
                          "FG409", "business_day_closed"));
    assert_true(lit_fails(su, "SELECT ledger_write_off('sandbox', 100, 'x', 'boss1', 'boss1')",
                          "FG409", "same_person"));
    assert_true(lit_fails(su, "SELECT ledger_write_off('sandbox', 100, 'x', 'boss1', NULL)",
                          "FG422", "invalid_staff"));
    (void)snprintf(sql, sizeof(sql), "SELECT ledger_refund('%s', 170001, 'R9', 'c')", pay[0]);
    assert_true(lit_fails(su, sql, "FG409", "refund_exceeds_payment"));
    (void)snprintf(sql, sizeof(sql),
                   "SELECT ledger_settle('sandbox', 'STP-HN-3511', "
                   "ARRAY['%s'], 0, 'S2')",
                   pay[1]);
    assert_true(lit_fails(su, sql, "FG409", "payment_already_settled"));
    (void)snprintf(sql, sizeof(sql), "SELECT ledger_correct(%lld, NULL, 'again', 'c')", jn[2]);
    assert_true(lit_fails(su, sql, "FG409", "journal_already_reversed"));
    assert_true(lit_fails(su,
                          "SELECT ledger_settle('sandbox', 'STP-HN-3511', ARRAY['pay_x'], "
                          "0, 'S3')",
                          "FG422", "payment_not_settleable"));
    assert_int_equal(lit_int(su, "SELECT count(*) FROM journals"), j0);
    assert_int_equal(lit_int(su, "SELECT count(*) FROM postings"), p0);
    assert_int_equal(lit_int(su, "SELECT count(*) FROM accounts"), a0);
    assert_int_equal(th_ledger_check(&db), 0);
}

/* ledger/sql/tests/smoke.sql, every SQL function's asserting test, through psql from a plain
 * session (default search_path), twice: it must pass and be re-runnable; then
 * concurrency.sh. Last, as they add their own agency, clients and journals. */
static void test_sql_smoke(void **state)
{
    (void)state;
    char cmd[1400];
    (void)snprintf(cmd, sizeof(cmd),
                   "timeout 120 psql -X -v ON_ERROR_STOP=1 -q -d '%s' -f '%s' >/dev/null",
                   db.pg.admin_dsn, LEDGER_SMOKE_SQL);
    for (int i = 0; i < 2; i++) {
        int rc = system(cmd);
        if (rc != 0) {
            (void)fprintf(stderr, "smoke.sql run %d exited %d\n", i + 1, rc);
        }
        assert_int_equal(rc, 0);
    }
    /* Then its two-session races (same key open, rolled back; same order_ref) and 8
     * pgbench sessions of successes, on the fixtures smoke.sql made. */
    (void)snprintf(cmd, sizeof(cmd),
                   "PGHOST='%s' PGPORT=%d PGUSER=postgres PGDATABASE=feegate N_PER_CLIENT=50 "
                   "timeout 180 bash '%s' >/dev/null",
                   db.pg.sockdir, db.pg.port, LEDGER_CONCURRENCY_SH);
    int rc = system(cmd);
    if (rc != 0) {
        (void)fprintf(stderr, "concurrency.sh exited %d\n", rc);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(th_ledger_check(&db), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_and_clean_chain),
        cmocka_unit_test(test_posting_amount_changed),
        cmocka_unit_test(test_posting_deleted_and_inserted),
        cmocka_unit_test(test_memo_changed),
        cmocka_unit_test(test_reordered),
        cmocka_unit_test(test_journal_removed_and_inserted),
        cmocka_unit_test(test_triggers_refuse_superuser),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_orphans_refused),
        cmocka_unit_test(test_pattern_edges),
        cmocka_unit_test(test_row_rules),
        cmocka_unit_test(test_app_role_refused),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_sql_smoke),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
