/* The API contract check itself (th_openapi.h): it accepts what docs/openapi.json describes
 * and refuses the rest with a message naming the operation, the JSON pointer and the rule.
 * No database or gateway: exchanges are built here. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "th_openapi.h"

#include "banned.h"

#define PAY_ID "pay_0191a2b3c4d5e6f708192a3b4c5d6e7f"

/* A payment as the database builds it (payment_json), paid, with a receipt. */
static const char good_payment[] =
    "{\"payment_id\":\"" PAY_ID "\",\"order_ref\":\"HS-1\",\"agency_code\":\"STP-HN\","
    "\"status\":\"succeeded\",\"late\":false,\"amount_vnd\":200000,"
    "\"items\":[{\"fee_code\":\"LLTP\",\"amount_vnd\":200000}],\"payer\":{\"name\":\"An\"},"
    "\"channel\":\"sandbox\",\"merchant_ref\":\"FG1\",\"provider_txn_id\":\"SBX1\","
    "\"created_at\":\"2026-11-25T16:33:00+07:00\",\"expires_at\":\"2026-11-25T16:48:00+07:00\","
    "\"paid_at\":\"2026-11-25T16:35:12+07:00\",\"refunded_vnd\":0,"
    "\"checkout_url\":\"http://127.0.0.1:8080/pay/" PAY_ID "\",\"return_url\":null,"
    "\"locale\":\"vi\",\"receipt\":{\"id\":\"rcp_0191a2b3c4d5e6f708192a3b4c5d6e7f\","
    "\"template\":\"01BLP0-001\",\"series\":\"AA-26E\",\"number\":\"0000042\","
    "\"url\":\"http://127.0.0.1:8080/receipts/rcp_0191a2b3c4d5e6f708192a3b4c5d6e7f\"},"
    "\"overpayments\":[]}";

static char why[TH_OPENAPI_WHY_BYTES];

/* The check of GET /v1/payments/{id} answered status with body. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a media type and a body */
static bool get_payment(int status, const char *ct, const char *body)
{
    const struct th_api_exchange ex = {
        .method = "GET",
        .target = "/v1/payments/" PAY_ID,
        .status = status,
        .resp_content_type = ct,
        .resp_body = body,
        .resp_body_len = strlen(body),
    };
    return th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why));
}

/* good_payment with the first occurrence of from replaced by to. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): named from and to */
static const char *edited(const char *from, const char *to)
{
    static char out[sizeof(good_payment) + 256];
    const char *at = strstr(good_payment, from);
    assert_non_null(at);
    (void)snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - good_payment), good_payment, to,
                   at + strlen(from));
    return out;
}

static void expect_refused(bool ok, const char *const parts[])
{
    assert_false(ok);
    for (const char *const *p = parts; *p != NULL; p++) {
        if (strstr(why, *p) == NULL) {
            fail_msg("message \"%s\" lacks \"%s\"", why, *p);
        }
    }
}

static void test_good_answers_pass(void **state)
{
    (void)state;
    assert_true(get_payment(200, "application/json", good_payment));
    assert_true(get_payment(200, "application/x-protobuf", "\x0a\x03pay"));
    assert_true(
        get_payment(404, "application/json",
                    "{\"error\":{\"code\":\"not_found\",\"message\":\"no such payment\"}}"));
    /* Nullable members: a payment not paid yet. */
    assert_true(
        get_payment(200, "application/json",
                    edited("\"paid_at\":\"2026-11-25T16:35:12+07:00\"", "\"paid_at\":null")));
}

static void test_wrong_answers_refused(void **state)
{
    (void)state;
    expect_refused(get_payment(200, "application/json", edited("\"late\":false,", "")),
                   (const char *const[]){ "GET /v1/payments/{payment_id} (getPayment)",
                                          "response 200 body", "required", "\"late\"", NULL });
    expect_refused(get_payment(200, "application/json",
                               edited("\"amount_vnd\":200000,\"items\"",
                                      "\"amount_vnd\":\"200000\",\"items\"")),
                   (const char *const[]){ "/amount_vnd", "type", "string", NULL });
    expect_refused(
        get_payment(200, "application/json", edited("\"succeeded\"", "\"paid\"")),
        (const char *const[]){ "/status", "enum", "#/components/schemas/PaymentStatus", NULL });
    expect_refused(
        get_payment(200, "application/json", edited("\"0000042\"", "\"42\"")),
        (const char *const[]){ "/receipt", "oneOf", "/receipt/number", "pattern", NULL });
    expect_refused(
        get_payment(200, "application/json", edited("\"late\":false", "\"late\":false,\"x\":1")),
        (const char *const[]){ "additionalProperties", "\"x\"", NULL });
    expect_refused(get_payment(200, "application/json",
                               edited("\"fee_code\":\"LLTP\",\"amount_vnd\":200000",
                                      "\"fee_code\":\"LLTP\",\"amount_vnd\":0")),
                   (const char *const[]){ "/items/0/amount_vnd", "minimum", NULL });
    expect_refused(get_payment(418, "application/json", good_payment),
                   (const char *const[]){ "getPayment", "status 418 is not documented", NULL });
    expect_refused(get_payment(200, "text/plain", "ok"),
                   (const char *const[]){ "Content-Type \"text/plain\" is not documented", NULL });
    expect_refused(get_payment(200, "application/json", "{\"payment_id\":"),
                   (const char *const[]){ "not JSON", NULL });
}

static void test_operations(void **state)
{
    (void)state;
    const char *err = "{\"error\":{\"code\":\"not_found\",\"message\":\"x\"}}";
    struct th_api_exchange ex = { .method = "DELETE",
                                  .target = "/v1/payments/" PAY_ID,
                                  .status = 404,
                                  .resp_content_type = "application/json",
                                  .resp_body = err,
                                  .resp_body_len = strlen(err) };
    expect_refused(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)),
                   (const char *const[]){ "undocumented", "no such operation", NULL });
    ex.method = "GET";
    ex.target = "/v1/payments/" PAY_ID "/nothing";
    expect_refused(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)),
                   (const char *const[]){ "no such operation", NULL });
    /* The literal /v1/webhooks/replay wins over /v1/webhooks/{event_id}. */
    const char *replayed = "{\"replayed\":2}";
    const char *range =
        "{\"from\":\"2026-11-25T00:00:00+07:00\",\"to\":\"2026-11-26T00:00:00+07:00\"}";
    ex = (struct th_api_exchange){ .method = "POST",
                                   .target = "/v1/webhooks/replay",
                                   .req_content_type = "application/json",
                                   .req_body = range,
                                   .req_body_len = strlen(range),
                                   .status = 200,
                                   .resp_content_type = "application/json",
                                   .resp_body = replayed,
                                   .resp_body_len = strlen(replayed) };
    assert_true(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)));
    /* A request the document refuses: fine answered 4xx, a violation answered 2xx. */
    const char *bad = "{\"from\":\"yesterday\",\"to\":\"2026-11-26T00:00:00+07:00\"}";
    ex.req_body = bad;
    ex.req_body_len = strlen(bad);
    expect_refused(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)),
                   (const char *const[]){ "replayWebhookRange", "answered 200",
                                          "request body /from", "pattern", NULL });
    ex.status = 400;
    ex.resp_body = err;
    ex.resp_body_len = strlen(err);
    assert_true(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)));
    /* A required query parameter. */
    ex = (struct th_api_exchange){ .method = "GET",
                                   .target = "/v1/payments",
                                   .status = 200,
                                   .resp_content_type = "application/json",
                                   .resp_body = "{\"payments\":[]}",
                                   .resp_body_len = 15 };
    expect_refused(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)),
                   (const char *const[]){ "findPayments", "query parameter \"order_ref\"", NULL });
    ex.target = "/v1/payments?order_ref=HS%2D1";
    assert_true(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)));
}

/* A required header: a cancel without its Idempotency-Key must not be answered 200. */
static void test_header_parameters(void **state)
{
    (void)state;
    const char *err = "{\"error\":{\"code\":\"idempotency_key_required\",\"message\":\"x\"}}";
    const char *const no_key[] = { "X-Feegate-Client: portal-a", NULL };
    const char *const key[] = { "X-Feegate-Client: portal-a", "idempotency-key: k-1", NULL };
    const char *const bad_key[] = { "Idempotency-Key: not a key", NULL };
    struct th_api_exchange ex = { .method = "POST",
                                  .target = "/v1/payments/" PAY_ID "/cancel",
                                  .req_headers = no_key,
                                  .status = 200,
                                  .resp_content_type = "application/json",
                                  .resp_body = good_payment,
                                  .resp_body_len = strlen(good_payment) };
    expect_refused(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)),
                   (const char *const[]){ "cancelPayment", "answered 200",
                                          "header parameter \"Idempotency-Key\" is required",
                                          NULL });
    ex.req_headers = bad_key;
    expect_refused(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)),
                   (const char *const[]){ "header parameter Idempotency-Key", "pattern", NULL });
    ex.req_headers = key;
    assert_true(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)));
    ex.req_headers = no_key;
    ex.status = 400;
    ex.resp_body = err;
    ex.resp_body_len = strlen(err);
    assert_true(th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why)));
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a schema and an instance */
static bool valid(const char *schema, const char *instance)
{
    json_t *s = json_loads(schema, 0, NULL);
    json_t *x = json_loads(instance, JSON_DECODE_ANY, NULL);
    assert_non_null(s);
    assert_non_null(x);
    bool ok = th_openapi_validate(th_openapi_doc(), s, x, why, sizeof(why));
    json_decref(s);
    json_decref(x);
    return ok;
}

static void test_keywords(void **state)
{
    (void)state;
    assert_true(valid("{\"type\":[\"string\",\"null\"]}", "null"));
    assert_false(valid("{\"type\":[\"string\",\"null\"]}", "1"));
    assert_true(valid("{\"type\":\"integer\"}", "3"));
    assert_false(valid("{\"type\":\"integer\"}", "3.5"));
    assert_false(valid("{\"const\":\"a\"}", "\"b\""));
    assert_true(valid("{\"minLength\":2,\"maxLength\":2}", "\"\xc3\xa1\xc3\xa1\""));
    assert_false(valid("{\"maxLength\":1}", "\"ab\""));
    assert_false(valid("{\"maximum\":10}", "11"));
    assert_false(valid("{\"minItems\":1}", "[]"));
    assert_false(valid("{\"items\":{\"type\":\"string\"}}", "[\"a\",2]"));
    assert_non_null(strstr(why, "/1"));
    assert_true(valid("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"a\":1}"));
    assert_false(valid("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"a\":\"x\"}"));
    assert_false(valid("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "true"));
    assert_false(valid("{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":5}]}", "4"));
    assert_false(valid("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":5}]}", "6"));
    assert_non_null(strstr(why, "2 branches match"));
    assert_false(valid("{\"$ref\":\"#/components/schemas/Nope\"}", "1"));
    assert_false(valid("{\"$ref\":\"#/components/schemas/Error\"}",
                       "{\"error\":{\"code\":\"X\",\"message\":\"m\"}}"));
    assert_non_null(strstr(why, "/error/code"));
    /* A keyword the check does not implement is refused, never skipped. */
    assert_false(valid("{\"multipleOf\":2}", "4"));
    assert_non_null(strstr(why, "unsupported keyword \"multipleOf\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_answers_pass), cmocka_unit_test(test_wrong_answers_refused),
        cmocka_unit_test(test_operations),        cmocka_unit_test(test_header_parameters),
        cmocka_unit_test(test_keywords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
