/* gateway/validate.c: the create-payment request, table-driven (shape errors 400, value
 * errors 422, normalisation of the defaults), and the id and key predicates at their
 * edges. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw_buf.h"
#include "gw_limits.h"
#include "validate.h"

#include "banned.h"

#define VT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The parts of a request; each case swaps one part for its own. */
#define VT_REF    "\"order_ref\":\"HS-2026-000123\""
#define VT_AGENCY "\"agency_code\":\"HCM_TP\""
#define VT_PAYER                                               \
    "\"payer\":{\"name\":\"Nguy\xe1\xbb\x85n V\xc4\x83n An\"," \
    "\"id_number\":\"001099012345\",\"email\":\"an@example.vn\"}"
#define VT_ITEMS                                                 \
    "\"items\":[{\"fee_code\":\"LP_HT\",\"amount_vnd\":150000}," \
    "{\"fee_code\":\"PHI_BS\",\"amount_vnd\":50000}]"
#define VT_TOTAL "\"amount_vnd\":200000"
#define VT_URL   "\"return_url\":\"https://portal.example.vn/hs/HS-2026-000123\""
#define VT_BASE  VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS "," VT_TOTAL

struct vt_case {
    const char *name;
    const char *json;
    int status;       /* 0: valid */
    const char *code; /* NULL: any code */
};

static const struct vt_case vt_cases[] = {
    /* valid */
    { "full", "{" VT_BASE "," VT_URL ",\"expires_in_s\":900,\"locale\":\"vi\"}", 0, NULL },
    { "minimal", "{" VT_BASE "}", 0, NULL },
    { "english", "{" VT_BASE ",\"locale\":\"en\"}", 0, NULL },
    { "expires min", "{" VT_BASE ",\"expires_in_s\":60}", 0, NULL },
    { "expires max", "{" VT_BASE ",\"expires_in_s\":604800}", 0, NULL },
    { "http url", "{" VT_BASE ",\"return_url\":\"http://127.0.0.1/x\"}", 0, NULL },
    { "payer name only",
      "{" VT_REF "," VT_AGENCY ",\"payer\":{\"name\":\"An\"}," VT_ITEMS "," VT_TOTAL "}", 0, NULL },
    { "amount at maximum",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":1000000000000}],\"amount_vnd\":1000000000000}",
      0, NULL },
    /* shape: 400 */
    { "not an object", "[]", 400, NULL },
    { "a string", "\"x\"", 400, NULL },
    { "unknown top-level field", "{" VT_BASE ",\"amount\":1}", 400, "unknown_field" },
    { "unknown payer field",
      "{" VT_REF "," VT_AGENCY ",\"payer\":{\"name\":\"An\",\"age\":3}," VT_ITEMS "," VT_TOTAL "}",
      400, "unknown_field" },
    { "unknown item field",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":5,\"qty\":1}],\"amount_vnd\":5}",
      400, "unknown_field" },
    { "missing order_ref", "{" VT_AGENCY "," VT_PAYER "," VT_ITEMS "," VT_TOTAL "}", 400,
      "missing_field" },
    { "missing payer", "{" VT_REF "," VT_AGENCY "," VT_ITEMS "," VT_TOTAL "}", 400,
      "missing_field" },
    { "missing items", "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_TOTAL "}", 400,
      "missing_field" },
    { "missing amount", "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS "}", 400,
      "missing_field" },
    { "order_ref a number",
      "{\"order_ref\":5," VT_AGENCY "," VT_PAYER "," VT_ITEMS "," VT_TOTAL "}", 400,
      "invalid_type" },
    { "payer a string", "{" VT_REF "," VT_AGENCY ",\"payer\":\"An\"," VT_ITEMS "," VT_TOTAL "}",
      400, "invalid_type" },
    { "payer name a number",
      "{" VT_REF "," VT_AGENCY ",\"payer\":{\"name\":1}," VT_ITEMS "," VT_TOTAL "}", 400,
      "invalid_type" },
    { "items an object", "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":{}," VT_TOTAL "}", 400,
      "invalid_type" },
    { "item a string", "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[\"A\"]," VT_TOTAL "}",
      400, "invalid_type" },
    { "amount a string",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS ",\"amount_vnd\":\"200000\"}", 400,
      "invalid_type" },
    { "amount a real",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS ",\"amount_vnd\":200000.0}", 400,
      "invalid_type" },
    { "amount a boolean",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS ",\"amount_vnd\":true}", 400,
      "invalid_type" },
    { "item amount a string",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":\"5\"}],\"amount_vnd\":5}",
      400, "invalid_type" },
    { "expires a string", "{" VT_BASE ",\"expires_in_s\":\"900\"}", 400, "invalid_type" },
    { "return_url a number", "{" VT_BASE ",\"return_url\":7}", 400, "invalid_type" },
    /* values: 422 */
    { "amount zero", "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS ",\"amount_vnd\":0}", 422,
      "invalid_amount" },
    { "amount negative",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS ",\"amount_vnd\":-200000}", 422,
      "invalid_amount" },
    { "amount over 10^12",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":1000000000000}],\"amount_vnd\":1000000000001}",
      422, "invalid_amount" },
    { "item amount zero",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":0}],\"amount_vnd\":0}",
      422, "invalid_amount" },
    { "item amount negative",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":-5},{\"fee_code\":\"B\",\"amount_vnd\":10}],\"amount_vnd\":5}",
      422, "invalid_amount" },
    { "item amount over 10^12",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":1000000000001}],\"amount_vnd\":1000000000001}",
      422, "invalid_amount" },
    /* Two lines whose sum overflows int64: each line is already over the per-payment cap,
     * so the overflow check behind it is a second line of defence. */
    { "sum overflows int64",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[{\"fee_code\":"
      "\"A\",\"amount_vnd\":9223372036854775807},{\"fee_code\":\"B\",\"amount_vnd\":"
      "9223372036854775807}],\"amount_vnd\":2}",
      422, NULL },
    { "total not the sum",
      "{" VT_REF "," VT_AGENCY "," VT_PAYER "," VT_ITEMS ",\"amount_vnd\":200001}", 422,
      "amount_mismatch" },
    { "no items", "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[]," VT_TOTAL "}", 422,
      "invalid_items" },
    { "order_ref with a space",
      "{\"order_ref\":\"HS 1\"," VT_AGENCY "," VT_PAYER "," VT_ITEMS "," VT_TOTAL "}", 422,
      "invalid_value" },
    { "order_ref empty",
      "{\"order_ref\":\"\"," VT_AGENCY "," VT_PAYER "," VT_ITEMS "," VT_TOTAL "}", 422, NULL },
    { "order_ref non-ASCII",
      "{\"order_ref\":\"H\xc3\xa9\"," VT_AGENCY "," VT_PAYER "," VT_ITEMS "," VT_TOTAL "}", 422,
      "invalid_value" },
    { "payer name empty",
      "{" VT_REF "," VT_AGENCY ",\"payer\":{\"name\":\"\"}," VT_ITEMS "," VT_TOTAL "}", 422, NULL },
    { "payer name control byte",
      "{" VT_REF "," VT_AGENCY ",\"payer\":{\"name\":\"A\\u0007\"}," VT_ITEMS "," VT_TOTAL "}", 422,
      "invalid_value" },
    { "locale fr", "{" VT_BASE ",\"locale\":\"fr\"}", 422, "invalid_value" },
    { "locale upper case", "{" VT_BASE ",\"locale\":\"VI\"}", 422, "invalid_value" },
    { "return_url javascript", "{" VT_BASE ",\"return_url\":\"javascript:alert(1)\"}", 422,
      "invalid_value" },
    { "return_url ftp", "{" VT_BASE ",\"return_url\":\"ftp://portal.example.vn/\"}", 422,
      "invalid_value" },
    { "return_url relative", "{" VT_BASE ",\"return_url\":\"/hs/1\"}", 422, "invalid_value" },
    { "return_url newline", "{" VT_BASE ",\"return_url\":\"https://a.vn/\\nx\"}", 422, NULL },
    { "expires 59", "{" VT_BASE ",\"expires_in_s\":59}", 422, "invalid_value" },
    { "expires 604801", "{" VT_BASE ",\"expires_in_s\":604801}", 422, "invalid_value" },
    { "expires zero", "{" VT_BASE ",\"expires_in_s\":0}", 422, "invalid_value" },
    { "expires negative", "{" VT_BASE ",\"expires_in_s\":-900}", 422, "invalid_value" },
};

/* Runs one case; on a valid request returns the normalized request (new reference). */
static json_t *vt_run(const struct vt_case *c)
{
    json_error_t jerr;
    json_t *req = json_loads(c->json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (req == NULL) {
        fail_msg("case \"%s\": test JSON does not parse: %s", c->name, jerr.text);
    }
    json_t *norm = NULL;
    struct gw_verdict v;
    memset(&v, 0, sizeof(v));
    bool ok = gw_validate_create(req, &norm, &v);
    json_decref(req);
    if (c->status == 0 && !ok) {
        fail_msg("case \"%s\": refused with %d %s: %s", c->name, v.status, v.code, v.message);
    }
    if (c->status != 0 && ok) {
        fail_msg("case \"%s\": accepted, expected %d", c->name, c->status);
    }
    if (c->status != 0 && v.status != c->status) {
        fail_msg("case \"%s\": status %d (%s: %s), expected %d", c->name, v.status, v.code,
                 v.message, c->status);
    }
    if (c->status != 0 && c->code != NULL && strcmp(v.code, c->code) != 0) {
        fail_msg("case \"%s\": code %s, expected %s", c->name, v.code, c->code);
    }
    if (!ok) {
        assert_true(v.message[0] != '\0');
    }
    return norm;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < VT_COUNT(vt_cases); i++) {
        json_decref(vt_run(&vt_cases[i]));
    }
}

static void test_normalized_defaults(void **state)
{
    (void)state;
    const struct vt_case c = { "minimal", "{" VT_BASE "}", 0, NULL };
    json_t *n = vt_run(&c);
    assert_non_null(n);
    assert_string_equal(json_string_value(json_object_get(n, "locale")), "vi");
    assert_true(json_is_integer(json_object_get(n, "expires_in_s")));
    assert_int_equal(json_integer_value(json_object_get(n, "expires_in_s")),
                     GW_EXPIRES_IN_S_DEFAULT);
    assert_int_equal(json_integer_value(json_object_get(n, "amount_vnd")), 200000);
    assert_int_equal(json_array_size(json_object_get(n, "items")), 2);
    json_decref(n);
}

static void test_normalized_keeps_given(void **state)
{
    (void)state;
    const struct vt_case c = { "given",
                               "{" VT_BASE "," VT_URL ",\"locale\":\"en\",\"expires_in_s\":3600}",
                               0, NULL };
    json_t *n = vt_run(&c);
    assert_non_null(n);
    assert_string_equal(json_string_value(json_object_get(n, "locale")), "en");
    assert_int_equal(json_integer_value(json_object_get(n, "expires_in_s")), 3600);
    assert_string_equal(json_string_value(json_object_get(n, "return_url")),
                        "https://portal.example.vn/hs/HS-2026-000123");
    assert_string_equal(json_string_value(json_object_get(json_object_get(n, "payer"), "name")),
                        "Nguy\xe1\xbb\x85n V\xc4\x83n An");
    json_decref(n);
}

static void test_input_untouched(void **state)
{
    (void)state;
    json_t *req = json_loads("{" VT_BASE "}", 0, NULL);
    assert_non_null(req);
    json_t *n = NULL;
    struct gw_verdict v;
    assert_true(gw_validate_create(req, &n, &v));
    assert_null(json_object_get(req, "locale")); /* defaults go into the copy only */
    assert_null(json_object_get(req, "expires_in_s"));
    json_decref(n);
    json_decref(req);
}

/* A request with n fee lines of 1000 VND each. */
static json_t *vt_items_request(size_t n)
{
    struct gw_buf b;
    gw_buf_init(&b, (size_t)64 * 1024);
    enum gw_err err = gw_buf_adds(&b, "{" VT_REF "," VT_AGENCY "," VT_PAYER ",\"items\":[");
    for (size_t i = 0; i < n && err == GW_OK; i++) {
        err = gw_buf_printf(&b, "%s{\"fee_code\":\"F%zu\",\"amount_vnd\":1000}", i ? "," : "", i);
    }
    if (err == GW_OK) {
        err = gw_buf_printf(&b, "],\"amount_vnd\":%zu}", n * 1000);
    }
    assert_int_equal(err, GW_OK);
    json_t *req = json_loads(gw_buf_str(&b), 0, NULL);
    gw_buf_release(&b);
    assert_non_null(req);
    return req;
}

static void test_items_count(void **state)
{
    (void)state;

    static const struct {
        size_t n;
        int status;
    } counts[] = { { 1, 0 }, { GW_ITEMS_MAX, 0 }, { GW_ITEMS_MAX + 1, 422 } };

    for (size_t i = 0; i < VT_COUNT(counts); i++) {
        json_t *req = vt_items_request(counts[i].n);
        json_t *n = NULL;
        struct gw_verdict v;
        memset(&v, 0, sizeof(v));
        bool ok = gw_validate_create(req, &n, &v);
        assert_int_equal(ok, counts[i].status == 0);
        if (!ok) {
            assert_int_equal(v.status, counts[i].status);
        }
        json_decref(n);
        json_decref(req);
    }
}

/* s made of n copies of c. */
static const char *vt_repeat(char *buf, size_t size, char c, size_t n)
{
    assert_true(n < size);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void test_order_ref_length(void **state)
{
    (void)state;
    char ref[128];
    char json[1024];
    for (size_t n = GW_ORDER_REF_BYTES_MAX; n <= GW_ORDER_REF_BYTES_MAX + 1; n++) {
        (void)snprintf(json, sizeof(json),
                       "{\"order_ref\":\"%s\"," VT_AGENCY "," VT_PAYER "," VT_ITEMS "," VT_TOTAL
                       "}",
                       vt_repeat(ref, sizeof(ref), 'R', n));
        const struct vt_case c = { "order_ref length", json, n <= GW_ORDER_REF_BYTES_MAX ? 0 : 422,
                                   NULL };
        json_decref(vt_run(&c));
    }
}

static void test_idem_key(void **state)
{
    (void)state;
    char key[300];
    assert_true(gw_valid_idem_key("a"));
    assert_true(gw_valid_idem_key("Az09_-"));
    assert_true(gw_valid_idem_key(vt_repeat(key, sizeof(key), 'k', GW_IDEM_KEY_BYTES_MAX)));
    assert_false(gw_valid_idem_key(vt_repeat(key, sizeof(key), 'k', GW_IDEM_KEY_BYTES_MAX + 1)));
    assert_false(gw_valid_idem_key(""));
    assert_false(gw_valid_idem_key("a b"));
    assert_false(gw_valid_idem_key("a.b"));
    assert_false(gw_valid_idem_key("a/b"));
    assert_false(gw_valid_idem_key("a\nb"));
    assert_false(gw_valid_idem_key("caf\xc3\xa9"));
}

static void test_payment_and_receipt_ids(void **state)
{
    (void)state;
    static const char *const good = "pay_0123456789abcdef0123456789abcdef";
    assert_true(gw_valid_payment_id(good));
    assert_false(gw_valid_payment_id(""));
    assert_false(gw_valid_payment_id("pay_"));
    assert_false(gw_valid_payment_id("pay_0123456789abcdef0123456789abcde"));   /* 31 */
    assert_false(gw_valid_payment_id("pay_0123456789abcdef0123456789abcdef0")); /* 33 */
    assert_false(gw_valid_payment_id("pay_0123456789ABCDEF0123456789abcdef"));
    assert_false(gw_valid_payment_id("pay_0123456789abcdeg0123456789abcdef"));
    assert_false(gw_valid_payment_id("PAY_0123456789abcdef0123456789abcdef"));
    assert_false(gw_valid_payment_id("rcp_0123456789abcdef0123456789abcdef"));
    assert_false(gw_valid_payment_id("pay_0123456789abcdef0123456789abcde/"));
    assert_false(gw_valid_payment_id("pay-0123456789abcdef0123456789abcdef"));
    assert_true(gw_valid_receipt_id("rcp_0123456789abcdef0123456789abcdef"));
    assert_false(gw_valid_receipt_id(good));
    assert_false(gw_valid_receipt_id("rcp_0123456789abcdef0123456789abcdef.pdf"));
}

static void test_order_ref_predicate(void **state)
{
    (void)state;
    assert_true(gw_valid_order_ref("HS-2026-000123"));
    assert_true(gw_valid_order_ref("a.b_c:d/e-f"));
    assert_false(gw_valid_order_ref(""));
    assert_false(gw_valid_order_ref("a b"));
    assert_false(gw_valid_order_ref("a&b"));
    assert_false(gw_valid_order_ref("a?b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_normalized_defaults),
        cmocka_unit_test(test_normalized_keeps_given),
        cmocka_unit_test(test_input_untouched),
        cmocka_unit_test(test_items_count),
        cmocka_unit_test(test_order_ref_length),
        cmocka_unit_test(test_idem_key),
        cmocka_unit_test(test_payment_and_receipt_ids),
        cmocka_unit_test(test_order_ref_predicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
