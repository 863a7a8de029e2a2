/* Reconciliation's "query the provider" action through the real gateway and simulator:
 * POST /v1/finance/exceptions/{id}/query asks the sandbox for the status of the payment the
 * statement disagrees about and applies the verified answer like a callback. The gateway
 * gives the simulator an unreachable callback address (public_url at the discard port), so
 * the bank's callbacks never arrive: the switch keeps the payment pending (or expires it)
 * while the statement shows it paid. Recovery's own queries are pushed an hour away so that
 * only the finance action asks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "it.h"

/* `feegate staff add`, signed in once each */
static struct th_staff clerk = { .id = "clerk1", .role = "clerk" };
static struct th_staff aud = { .id = "aud1", .role = "auditor" };
static const char *token; /* the session the finance requests carry */

static char today[16];
static char dir[64];
static char paid_id[40], paid_ref[48];     /* approved at the bank, expired at the switch */
static char unseen_id[40], unseen_ref[48]; /* never shown at the bank: it answers not found */

static long long sql_int(const char *fmt, ...) GW_PRINTF(1, 2);

static long long sql_int(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return th_sql_int(&it.db, sql);
}

static void sql_exec(const char *fmt, ...) GW_PRINTF(1, 2);

static void sql_exec(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
}

static int run_cli(const char *args)
{
    char cmd[2048];
    (void)snprintf(cmd, sizeof(cmd),
                   "FEEGATE_DSN='%s' FEEGATE_ADMIN_DSN= FEEGATE_SESSION=%s %s %s >%s/out 2>&1",
                   it.db.pg.app_dsn, clerk.token, FEEGATE_BIN, args, dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The payment's status, asked as its portal client. */
static void status_of(const char *id, char out[32])
{
    th_portal_use(it.gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    it_status(id, out);
}

static void approve_at_bank(const char *location)
{
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", location, form, "action=approve", 14, &r), GW_OK);
    assert_int_equal(r.status, 303);
    th_resp_release(&r);
}

/* A checkout whose callback never comes; recovery's next query an hour away. */
static void lost_checkout(char id[40], char ref[48], bool approve)
{
    char location[1024];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    if (approve) {
        approve_at_bank(location);
    }
    sql_exec("UPDATE feegate.payment_attempts SET next_query_at = now() + interval '1 hour' "
             "WHERE payment_id = '%s'",
             id);
}

static long long exception_of(const char *ref)
{
    return sql_int("SELECT coalesce(max(id), 0) FROM feegate.recon_exceptions "
                   "WHERE merchant_ref = '%s' AND category = 'status_mismatch'",
                   ref);
}

static int query(long long exc_id, struct th_resp *r)
{
    char url[256];
    char auth[128];
    (void)snprintf(url, sizeof(url), "%s/v1/finance/exceptions/%lld/query", it.gw.url, exc_id);
    (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *const h[] = { auth, NULL };
    assert_int_equal(th_http("POST", url, h, "", 0, r), GW_OK);
    return r->status;
}

/* Two payments the statement of today shows paid; the switch has neither. */
static void test_statement_differs(void **state)
{
    (void)state;
    lost_checkout(paid_id, paid_ref, true);
    lost_checkout(unseen_id, unseen_ref, false);
    /* The citizen paid at the bank but the switch gave up on the payment meanwhile. */
    sql_exec("UPDATE feegate.payments SET expires_at = now() - interval '1 second' "
             "WHERE id = '%s'",
             paid_id);
    sql_exec("SELECT feegate.expire_due(100)");
    char status[32];
    it_status(paid_id, status);
    assert_string_equal(status, "expired");
    it_status(unseen_id, status);
    assert_string_equal(status, "pending");
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/sandbox.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    (void)fprintf(f,
                  "provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at\n"
                  "S1,%s,payment,200000,2200,succeeded,%s\n"
                  "S2,%s,payment,200000,2200,succeeded,%s\n",
                  paid_ref, today, unseen_ref, today);
    assert_int_equal(fclose(f), 0);
    char args[512];
    (void)snprintf(args, sizeof(args), "statement import %s --provider sandbox --date %s", path,
                   today);
    assert_int_equal(run_cli(args), 0);
    (void)snprintf(args, sizeof(args), "recon run %s", today);
    assert_int_equal(run_cli(args), 0);
    assert_true(exception_of(paid_ref) > 0);
    assert_true(exception_of(unseen_ref) > 0);
}

static void test_query_resolves(void **state)
{
    (void)state;
    long long exc = exception_of(paid_ref);
    struct th_resp r;
    token = aud.token;
    assert_int_equal(query(exc, &r), 403); /* auditors read only */
    th_resp_release(&r);
    token = clerk.token;
    assert_int_equal(query(exc, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "resolved");
    json_decref(j);
    char status[32];
    status_of(paid_id, status);
    assert_string_equal(status, "succeeded");
    assert_int_equal(sql_int("SELECT late::int FROM feegate.payments WHERE id = '%s'", paid_id), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.journals WHERE payment_id = '%s' "
                             "AND kind = 'payment_success'",
                             paid_id),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.provider_messages WHERE "
                             "merchant_ref = '%s' AND source = 'query' AND verdict = 'applied'",
                             paid_ref),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_actions WHERE exception_id = "
                             "%lld AND action = 'query' AND status = 'done' AND staff_id = "
                             "'clerk1' AND data ->> 'verdict' = 'applied'",
                             exc),
                     1);
    it_assert_ledger_ok();
    token = clerk.token;
    assert_int_equal(query(exc, &r), 409); /* resolved already: nothing more to ask */
    assert_non_null(strstr(r.body, "exception_resolved"));
    th_resp_release(&r);
}

static void test_not_found_stays_open(void **state)
{
    (void)state;
    long long exc = exception_of(unseen_ref);
    struct th_resp r;
    token = clerk.token;
    assert_int_equal(query(exc, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "open");
    json_decref(j);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_actions WHERE exception_id = "
                             "%lld AND action = 'query' AND status = 'answered' AND staff_id = "
                             "'clerk1' AND note LIKE '%%not_found%%'",
                             exc),
                     1);
    char status[32];
    status_of(unseen_id, status);
    assert_string_equal(status, "pending"); /* not found is no failure */
    assert_int_equal(
        sql_int("SELECT count(*) FROM feegate.journals WHERE payment_id = '%s'", unseen_id), 0);
    /* Recovery's own schedule is kept: its next query is still about an hour away. */
    assert_true(sql_int("SELECT extract(epoch FROM next_query_at - now())::int FROM "
                        "feegate.payment_attempts WHERE payment_id = '%s'",
                        unseen_id) > 3000);
    /* No usable answer (what the gateway records on a timeout or a refused signature):
     * open, with the reason in the trail. */
    assert_int_equal(sql_int("SELECT (feegate.recon_query_result(%lld, '%s', 'error', NULL, "
                             "NULL, NULL, '', 'no answer (connection failed or timed out)') "
                             "->> 'state' = 'open')::int",
                             exc, clerk.token),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_actions WHERE exception_id = "
                             "%lld AND action = 'query' AND status = 'answered' AND note LIKE "
                             "'%%timed out%%'",
                             exc),
                     1);
    /* An exception that does not exist. */
    token = clerk.token;
    assert_int_equal(query(exc + 1000, &r), 404);
    th_resp_release(&r);
    it_assert_ledger_ok();
}

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/fg-reconq-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    /* Callbacks go to the discard port: nothing answers there. */
    it.gw.ini_extra = "[server]\npublic_url = http://127.0.0.1:9\n";
    if (it_start(NULL, NULL) != 0) {
        return -1;
    }
    if (th_staff_add(&it.db, &clerk) != GW_OK || th_staff_add(&it.db, &aud) != GW_OK ||
        th_staff_sign_in(&it.db, &clerk, 0) != GW_OK ||
        th_staff_sign_in(&it.db, &aud, 0) != GW_OK) {
        return -1;
    }
    return th_sql_text(&it.db, "SELECT ((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)::text",
                       today, sizeof(today)) == GW_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    int rc = system(cmd) == 0 ? 0 : -1;
    return it_stop() == 0 ? rc : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statement_differs),
        cmocka_unit_test(test_query_resolves),
        cmocka_unit_test(test_not_found_stays_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
