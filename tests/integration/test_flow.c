/* The sandbox path end to end: a browser pays, the bank calls back, the ledger books it,
 * the receipt is numbered. And everything a bank's callbacks can do wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "it.h"

static long long count_for(const char *table, const char *id)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM feegate.%s WHERE payment_id = '%s'",
                   table, id);
    return th_sql_int(&it.db, sql);
}

static long long journal_sum(const char *id)
{
    char sql[320];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT coalesce(sum(p.amount_vnd), -1) FROM feegate.postings p "
                   "JOIN feegate.journals j ON j.id = p.journal_id WHERE j.payment_id = '%s'",
                   id);
    return th_sql_int(&it.db, sql);
}

static void test_browser_pays(void **state)
{
    (void)state;
    char id[40];
    it_create(id);
    char url[160];
    (void)snprintf(url, sizeof(url), "%s/pay/%s?lang=en", it.gw.url, id);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "sandbox"));
    th_resp_release(&r);

    char location[1024];
    char ref[48];
    it_checkout(id, location, sizeof(location), ref);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "pending");

    /* The citizen sees the bank's page and approves. */
    assert_int_equal(th_http("GET", location, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "approve"));
    th_resp_release(&r);
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    assert_int_equal(th_http("POST", location, form, "action=approve", 14, &r), GW_OK);
    assert_int_equal(r.status, 303);
    assert_non_null(r.location);
    char back[1024];
    (void)snprintf(back, sizeof(back), "%s", r.location);
    th_resp_release(&r);
    assert_int_equal(th_http("GET", back, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);

    json_t *p = it_get(id);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "succeeded");
    assert_false(json_is_true(json_object_get(p, "late")));
    assert_non_null(json_string_value(json_object_get(p, "provider_txn_id")));
    json_t *rc = json_object_get(p, "receipt");
    assert_true(json_is_object(rc));
    assert_int_equal(strlen(json_string_value(json_object_get(rc, "number"))), 7);
    char rurl[160];
    (void)snprintf(rurl, sizeof(rurl), "%s/receipts/%s", it.gw.url,
                   json_string_value(json_object_get(rc, "id")));
    json_decref(p);
    assert_int_equal(count_for("journals", id), 1);
    assert_int_equal(journal_sum(id), 0);
    assert_int_equal(count_for("receipts", id), 1);
    assert_int_equal(th_http("GET", rurl, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "200.000"));
    th_resp_release(&r);
    it_assert_ledger_ok();
}

static void test_same_callback_five_times(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    char answer[256];
    assert_int_equal(
        it_callback(ref, 200000, "succeeded", "SBX5X", TH_SANDBOX_SECRET, answer, sizeof(answer)),
        200);
    assert_non_null(strstr(answer, "ok"));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(it_callback(ref, 200000, "succeeded", "SBX5X", TH_SANDBOX_SECRET, answer,
                                     sizeof(answer)),
                         200);
        assert_non_null(strstr(answer, "duplicate"));
    }
    assert_int_equal(count_for("journals", id), 1);
    assert_int_equal(count_for("receipts", id), 1);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "succeeded");
    it_assert_ledger_ok();
}

/* Counts of the tables a callback could change (the outbox deliverer changes others). */
static long long state_fingerprint(void)
{
    return th_sql_int(&it.db, "SELECT (SELECT count(*) FROM feegate.journals) * 1000000 + "
                              "(SELECT count(*) FROM feegate.postings) * 10000 + "
                              "(SELECT count(*) FROM feegate.receipts) * 100 + "
                              "(SELECT count(*) FROM feegate.payment_events)");
}

static void test_forged_callbacks_change_nothing(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    long long before = state_fingerprint();
    long long messages = th_sql_int(&it.db, "SELECT count(*) FROM feegate.provider_messages");
    char answer[256];
    assert_int_equal(
        it_callback(ref, 200000, "succeeded", "SBXF", "not-the-secret", answer, sizeof(answer)),
        401);
    /* A valid signature over other bytes: amount changed after signing. */
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "{\"merchant_id\":\"%s\",\"merchant_ref\":\"%s\",\"txn_id\":\"T\","
                     "\"amount_vnd\":200000,\"status\":\"succeeded\",\"paid_at\":1}",
                     TH_SANDBOX_MERCHANT, ref);
    char sig[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(TH_SANDBOX_SECRET, strlen(TH_SANDBOX_SECRET), body, (size_t)n, sig);
    char *amount = strstr(body, "200000");
    amount[0] = '1';
    char sig_header[128];
    (void)snprintf(sig_header, sizeof(sig_header), "X-Sandbox-Signature: %s", sig);
    const char *const hdrs[] = { "Content-Type: application/json", sig_header, NULL };
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/ipn/sandbox", it.gw.url);
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, body, (size_t)n, &r), GW_OK);
    assert_int_equal(r.status, 401);
    th_resp_release(&r);
    const char *const nosig[] = { "Content-Type: application/json", NULL };
    assert_int_equal(th_http("POST", url, nosig, body, (size_t)n, &r), GW_OK);
    assert_int_equal(r.status, 401);
    th_resp_release(&r);
    assert_int_equal(state_fingerprint(), before);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.provider_messages"),
                     messages);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "pending");
    it_assert_ledger_ok();
}

static void test_wrong_amount_and_unknown_ref(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    char answer[256];
    assert_int_equal(
        it_callback(ref, 199999, "succeeded", "SBXA", TH_SANDBOX_SECRET, answer, sizeof(answer)),
        409);
    assert_int_equal(it_callback("FGNOSUCHREF0000000000", 200000, "succeeded", "SBXB",
                                 TH_SANDBOX_SECRET, answer, sizeof(answer)),
                     404);
    assert_int_equal(count_for("journals", id), 0);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "pending");
    it_assert_ledger_ok();
}

/* A decline closes the attempt, not the payment: it stays pending and payable, the citizen
 * starts another attempt, and a success is booked (not late: the payment was never given
 * up). */
static void test_declined_then_success(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    assert_int_equal(it_callback(ref, 200000, "failed", "SBXD", TH_SANDBOX_SECRET, NULL, 0), 200);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "pending");
    assert_int_equal(count_for("journals", id), 0);
    char ref2[48];
    it_checkout(id, location, sizeof(location), ref2); /* paying again is allowed */
    assert_string_not_equal(ref, ref2);
    /* The bank took the money of the declined attempt after all: booked, never dropped. */
    assert_int_equal(it_callback(ref, 200000, "succeeded", "SBXD", TH_SANDBOX_SECRET, NULL, 0),
                     200);
    json_t *p = it_get(id);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "succeeded");
    assert_false(json_is_true(json_object_get(p, "late")));
    json_decref(p);
    assert_int_equal(count_for("journals", id), 1);
    it_assert_ledger_ok();
}

static void test_expired_then_late_success(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    char sql[200];
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.payments SET expires_at = now() - interval '1 second' "
                   "WHERE id = '%s'",
                   id);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    char status[32] = "";
    for (int i = 0; i < 50 && strcmp(status, "expired") != 0; i++) {
        usleep(100 * 1000);
        it_status(id, status);
    }
    assert_string_equal(status, "expired"); /* the sweep runs every second */
    assert_int_equal(it_callback(ref, 200000, "succeeded", "SBXE", TH_SANDBOX_SECRET, NULL, 0),
                     200);
    json_t *p = it_get(id);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "succeeded");
    assert_true(json_is_true(json_object_get(p, "late")));
    assert_true(json_is_object(json_object_get(p, "receipt")));
    json_decref(p);
    it_assert_ledger_ok();
}

static void test_cancel_events_find(void **state)
{
    (void)state;
    char id[40];
    it_create(id);
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", id);
    struct th_resp r;
    assert_int_equal(th_portal("POST", path, NULL, "cancel-1", &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"cancelled\""));
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/events", id);
    assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "cancelled"));
    th_resp_release(&r);
    /* A paid payment cannot be cancelled. */
    char id2[40];
    char location[1024];
    char ref[48];
    it_create(id2);
    it_checkout(id2, location, sizeof(location), ref);
    assert_int_equal(it_callback(ref, 200000, "succeeded", "SBXC", TH_SANDBOX_SECRET, NULL, 0),
                     200);
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", id2);
    assert_int_equal(th_portal("POST", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 409);
    th_resp_release(&r);
    json_t *p = it_get(id2);
    char find[160];
    (void)snprintf(find, sizeof(find), "/v1/payments?order_ref=%s",
                   json_string_value(json_object_get(p, "order_ref")));
    json_decref(p);
    assert_int_equal(th_portal("GET", find, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, id2));
    th_resp_release(&r);
    assert_int_equal(th_portal("GET", "/v1/catalog", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "LLTP"));
    th_resp_release(&r);
    it_assert_ledger_ok();
}

static void test_operator_endpoints(void **state)
{
    (void)state;
    const char *paths[] = { "/healthz", "/readyz", "/metrics" };
    for (size_t i = 0; i < 3; i++) {
        char url[128];
        (void)snprintf(url, sizeof(url), "%s%s", it.gw.url, paths[i]);
        struct th_resp r;
        assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
        assert_int_equal(r.status, 200);
        if (i == 2) {
            assert_non_null(strstr(r.body, "feegate_callbacks_total{verdict=\"applied\"}"));
        }
        th_resp_release(&r);
    }
}

static int setup(void **state)
{
    (void)state;
    return it_start(NULL, NULL);
}

static int teardown(void **state)
{
    (void)state;
    return it_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_pays),
        cmocka_unit_test(test_same_callback_five_times),
        cmocka_unit_test(test_forged_callbacks_change_nothing),
        cmocka_unit_test(test_wrong_amount_and_unknown_ref),
        cmocka_unit_test(test_declined_then_success),
        cmocka_unit_test(test_expired_then_late_success),
        cmocka_unit_test(test_cancel_events_find),
        cmocka_unit_test(test_operator_endpoints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
