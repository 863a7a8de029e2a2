/* Bad input from portals and strangers: every case gets its 4xx with an error code, writes
 * nothing, and the gateway keeps serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "it.h"

static long long fingerprint(void)
{
    return th_sql_int(&it.db, "SELECT (SELECT count(*) FROM feegate.payments) * 100000000 + "
                              "(SELECT count(*) FROM feegate.idempotency) * 1000000 + "
                              "(SELECT count(*) FROM feegate.payment_events) * 10000 + "
                              "(SELECT count(*) FROM feegate.outbox) * 100 + "
                              "(SELECT count(*) FROM feegate.journals)");
}

struct bad_case {
    const char *name;
    const char *body;
    int status;
    const char *code;
};

#define PAYER          "\"payer\":{\"name\":\"An\"}"
#define ITEM(fee, amt) "{\"fee_code\":\"" fee "\",\"amount_vnd\":" amt "}"

static const struct bad_case bad_cases[] = {
    { "malformed json", "{\"order_ref\":", 400, "invalid_json" },
    { "not an object", "[1,2]", 400, "invalid_request" },
    { "empty object", "{}", 400, "missing_field" },
    { "amount as string",
      "{\"order_ref\":\"B1\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "200000") "],"
                                            "\"amount_vnd\":\"200000\"}",
      400, "invalid_type" },
    { "unknown field",
      "{\"order_ref\":\"B2\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "200000") "],"
                                            "\"amount_vnd\":200000,\"discount\":1}",
      400, "unknown_field" },
    { "unknown payer field",
      "{\"order_ref\":\"B3\",\"agency_code\":\"STP-HN\",\"payer\":{\"name\":\"An\",\"x\":1},"
      "\"items\":[" ITEM("LLTP", "200000") "],\"amount_vnd\":200000}",
      400, "unknown_field" },
    { "zero amount",
      "{\"order_ref\":\"B4\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "0") "],"
                                       "\"amount_vnd\":0}",
      422, "invalid_amount" },
    { "negative amount",
      "{\"order_ref\":\"B5\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "-200000") "],"
                                             "\"amount_vnd\":-200000}",
      422, "invalid_amount" },
    { "overflowing amount",
      "{\"order_ref\":\"B6\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "9223372036854775807") "," ITEM(
          "LLTP", "9223372036854775807") "],"
                                         "\"amount_vnd\":1}",
      422, "invalid_amount" },
    { "integer beyond int64", "{\"amount_vnd\":99999999999999999999999}", 400, "invalid_json" },
    { "fractional amount",
      "{\"order_ref\":\"B7\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "200000.5") "],"
                                              "\"amount_vnd\":200000.5}",
      400, "invalid_type" },
    { "total is not the sum",
      "{\"order_ref\":\"B8\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "200000") "],"
                                            "\"amount_vnd\":200001}",
      422, "amount_mismatch" },
    { "unknown agency",
      "{\"order_ref\":\"B9\",\"agency_code\":\"NOPE\"," PAYER
      ",\"items\":[" ITEM("LLTP", "200000") "],"
                                            "\"amount_vnd\":200000}",
      422, "unknown_agency" },
    { "unknown fee",
      "{\"order_ref\":\"B10\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("NOPE", "200000") "],"
                                            "\"amount_vnd\":200000}",
      422, "unknown_fee" },
    { "amount the fee does not allow",
      "{\"order_ref\":\"B11\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "150000") "],"
                                            "\"amount_vnd\":150000}",
      422, "amount_not_allowed" },
    { "no items",
      "{\"order_ref\":\"B12\",\"agency_code\":\"STP-HN\"," PAYER ",\"items\":[],\"amount_vnd\":1}",
      422, "invalid_items" },
    { "bad locale",
      "{\"order_ref\":\"B13\",\"agency_code\":\"STP-HN\"," PAYER
      ",\"items\":[" ITEM("LLTP", "200000") "],"
                                            "\"amount_vnd\":200000,\"locale\":\"fr\"}",
      422, "invalid_value" },
};

static void expect_error(const struct th_resp *r, int status, const char *code, const char *name)
{
    if (r->status != status || (code != NULL && strstr(r->body, code) == NULL)) {
        fprintf(stderr, "case \"%s\": got %d %s\n", name, r->status, r->body);
    }
    assert_int_equal(r->status, status);
    if (code != NULL) {
        char want[80];
        (void)snprintf(want, sizeof(want), "\"code\":\"%s\"", code);
        assert_non_null(strstr(r->body, want));
    }
}

static void test_bad_bodies(void **state)
{
    (void)state;
    long long before = fingerprint();
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct th_resp r;
        assert_int_equal(th_portal("POST", "/v1/payments", bad_cases[i].body, NULL, &r), GW_OK);
        expect_error(&r, bad_cases[i].status, bad_cases[i].code, bad_cases[i].name);
        th_resp_release(&r);
    }
    assert_int_equal(fingerprint(), before);
}

static void test_duplicate_live_order_ref(void **state)
{
    (void)state;
    char body[1024];
    char ref[48];
    (void)snprintf(ref, sizeof(ref), "DUP-%ld", (long)time(NULL));
    struct th_resp r;
    assert_int_equal(
        th_portal("POST", "/v1/payments", it_create_body(body, sizeof(body), ref), NULL, &r),
        GW_OK);
    assert_int_equal(r.status, 201);
    th_resp_release(&r);
    /* A key used once with a good body. */
    char first[1024];
    char ref2[48];
    (void)snprintf(ref2, sizeof(ref2), "KEY-%ld", (long)time(NULL));
    assert_int_equal(th_portal("POST", "/v1/payments", it_create_body(first, sizeof(first), ref2),
                               "key-reuse-1", &r),
                     GW_OK);
    assert_int_equal(r.status, 201);
    th_resp_release(&r);
    long long before = fingerprint();
    assert_int_equal(th_portal("POST", "/v1/payments", body, NULL, &r), GW_OK);
    expect_error(&r, 409, "order_ref_in_use", "duplicate order_ref");
    th_resp_release(&r);
    /* The same key with another body is refused, and writes nothing. */
    char other[1024];
    assert_int_equal(th_portal("POST", "/v1/payments",
                               it_create_body(other, sizeof(other), "OTHER-REF-1"), "key-reuse-1",
                               &r),
                     GW_OK);
    expect_error(&r, 409, "idempotency_key_reused", "key reuse");
    th_resp_release(&r);
    /* A failed request stores nothing under its key: the key stays free. */
    assert_int_equal(th_portal("POST", "/v1/payments", body, "key-after-error", &r), GW_OK);
    expect_error(&r, 409, "order_ref_in_use", "duplicate order_ref with a key");
    th_resp_release(&r);
    assert_int_equal(fingerprint(), before);
}

static void test_transport_limits(void **state)
{
    (void)state;
    long long before = fingerprint();
    static char big[80 * 1024];
    memset(big, 'a', sizeof(big) - 1);
    struct th_resp r;
    assert_int_equal(th_portal("POST", "/v1/payments", big, NULL, &r), GW_OK);
    assert_int_equal(r.status, 413);
    th_resp_release(&r);
    static char hdr[24 * 1024];
    int n = snprintf(hdr, sizeof(hdr), "X-Padding: ");
    memset(hdr + n, 'b', sizeof(hdr) - (size_t)n - 1);
    const char *const extra[] = { hdr, NULL };
    struct th_portal_req req = { .method = "GET", .path = "/v1/catalog", .extra_headers = extra };
    enum gw_err err = th_portal_send(&req, &r);
    /* libevent answers oversized headers with an error status or by closing: never 2xx. */
    if (err == GW_OK) {
        assert_true(r.status >= 400 && r.status < 500);
    }
    th_resp_release(&r);
    const char *const text[] = { "Content-Type: text/plain", NULL };
    struct th_portal_req plain = {
        .method = "POST", .path = "/v1/payments", .body = "{}", .extra_headers = text
    };
    assert_int_equal(th_portal_send(&plain, &r), GW_OK);
    /* th_portal_send adds application/json first; a second Content-Type is ambiguous. */
    assert_true(r.status >= 400 && r.status < 500);
    th_resp_release(&r);
    struct th_portal_req badkey = {
        .method = "POST", .path = "/v1/payments", .body = "{}", .idem_key = "bad key!"
    };
    assert_int_equal(th_portal_send(&badkey, &r), GW_OK);
    expect_error(&r, 400, "invalid_idempotency_key", "bad idempotency key");
    th_resp_release(&r);
    assert_int_equal(fingerprint(), before);
}

static void test_authentication(void **state)
{
    (void)state;
    long long before = fingerprint();
    char body[1024];
    it_create_body(body, sizeof(body), "AUTH-1");
    struct th_portal_req cases[] = {
        { .method = "POST", .path = "/v1/payments", .body = body, .signature = "" },
        { .method = "POST", .path = "/v1/payments", .body = body, .signature = "v1=00" },
        { .method = "POST",
          .path = "/v1/payments",
          .body = body,
          .timestamp = (long long)time(NULL) - 301 },
        { .method = "POST",
          .path = "/v1/payments",
          .body = body,
          .timestamp = (long long)time(NULL) + 301 },
        { .method = "POST", .path = "/v1/payments", .body = body, .client_id = "nobody" },
        { .method = "POST", .path = "/v1/payments", .body = body, .client_id = "" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct th_resp r;
        assert_int_equal(th_portal_send(&cases[i], &r), GW_OK);
        if (r.status != 401) {
            fprintf(stderr, "auth case %zu: %d %s\n", i, r.status, r.body);
        }
        assert_int_equal(r.status, 401);
        th_resp_release(&r);
    }
    assert_int_equal(fingerprint(), before);
    /* Another client's payment does not exist for this one. */
    char id[40];
    it_create(id);
    th_portal_use(it.gw.url, TH_CLIENT_B_ID, TH_CLIENT_B_SECRET);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s", id);
    struct th_resp r;
    assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 404);
    th_resp_release(&r);
    th_portal_use(it.gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    assert_int_equal(th_portal("GET", "/v1/payments/pay_nonsense", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 404);
    th_resp_release(&r);
}

/* Rows a refused money operation must leave as they were: payments and their events,
 * refunds, stored keys, outbox, journals, remembered signatures. */
static long long money_rows(void)
{
    return th_sql_int(&it.db, "SELECT (SELECT count(*) FROM feegate.payments) + "
                              "(SELECT count(*) FROM feegate.payment_events) + "
                              "(SELECT count(*) FROM feegate.refunds) + "
                              "(SELECT count(*) FROM feegate.idempotency) + "
                              "(SELECT count(*) FROM feegate.outbox) + "
                              "(SELECT count(*) FROM feegate.journals) + "
                              "(SELECT count(*) FROM feegate.request_signatures)");
}

/* req (a POST sent without an Idempotency-Key: idem_key ""): 400 idempotency_key_required,
 * nothing written. */
static void expect_key_required(const struct th_portal_req *req)
{
    assert_true(req->idem_key != NULL && req->idem_key[0] == '\0');
    long long before = money_rows();
    struct th_resp r;
    assert_int_equal(th_portal_send(req, &r), GW_OK);
    expect_error(&r, 400, "idempotency_key_required", req->path);
    th_resp_release(&r);
    assert_int_equal(money_rows(), before);
}

/* Create, cancel and refund move money or may: each without its key is refused and changes
 * nothing, while the same request with a key goes through. */
static void test_idempotency_key_required(void **state)
{
    (void)state;
    char body[1024];
    char ref[48];
    (void)snprintf(ref, sizeof(ref), "NOKEY-%ld", (long)time(NULL));
    it_create_body(body, sizeof(body), ref);
    expect_key_required(&(struct th_portal_req){
        .method = "POST", .path = "/v1/payments", .body = body, .idem_key = "" });
    /* A payment to cancel, and a paid one to refund. */
    char open_id[40];
    char paid_id[40];
    it_create(open_id);
    it_create(paid_id);
    char location[1024];
    char merchant_ref[48];
    it_checkout(paid_id, location, sizeof(location), merchant_ref);
    char answer[256];
    (void)it_callback(merchant_ref, 200000, "succeeded", "SBX-NOKEY", TH_SANDBOX_SECRET, answer,
                      sizeof(answer));
    char status[32];
    it_status(paid_id, status);
    assert_string_equal(status, "succeeded");
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", open_id);
    expect_key_required(&(struct th_portal_req){ .method = "POST", .path = path, .idem_key = "" });
    it_status(open_id, status);
    assert_string_equal(status, "created");
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/refunds", paid_id);
    expect_key_required(&(struct th_portal_req){
        .method = "POST", .path = path, .body = "{\"amount_vnd\":50000}", .idem_key = "" });
    it_status(paid_id, status);
    assert_string_equal(status, "succeeded");
    /* The same operations with a key (th_portal makes one) do what they say. */
    struct th_resp r;
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", open_id);
    assert_int_equal(th_portal("POST", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/refunds", paid_id);
    assert_int_equal(th_portal("POST", path, "{\"amount_vnd\":50000}", NULL, &r), GW_OK);
    assert_int_equal(r.status, 201);
    th_resp_release(&r);
    it_assert_ledger_ok();
}

static void test_still_serving(void **state)
{
    (void)state;
    assert_true(th_proc_alive(&it.gw.proc));
    char id[40];
    it_create(id);
    it_assert_ledger_ok();
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
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_duplicate_live_order_ref),
        cmocka_unit_test(test_transport_limits),
        cmocka_unit_test(test_authentication),
        cmocka_unit_test(test_idempotency_key_required),
        cmocka_unit_test(test_still_serving),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
