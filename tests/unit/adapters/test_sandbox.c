/* The sandbox adapter against docs/providers.md#the-sandbox-protocol, with golden signatures
 * computed independently (Python hmac), and the registry. */
#include "adapter.h"

/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <stdio.h>
#include <string.h>

#include "gw_crypto.h"
#include "gw_limits.h"

#include "banned.h"

static const struct gw_adapter_config cfg = {
    .channel = "sandbox",
    .merchant_id = "FEEGATE01",
    .secret = "s3cret",
    .endpoint_url = "http://127.0.0.1:8081/",
    .ipn_url = "http://127.0.0.1:8080/ipn/sandbox",
    .return_url = "http://127.0.0.1:8080/return/sandbox",
};

static const char golden_body[] =
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"SB0001\","
    "\"amount_vnd\":150000,\"status\":\"succeeded\",\"paid_at\":1795600100}";
static const char golden_body_sig[] =
    "ef044a7ea1302f071676ed0497d530d9993679db082eb6fc99f67dec4272ed49";

struct sb_test {
    struct gw_arena arena;
    struct gw_errbuf eb;
    struct gw_adapter_result res;
    char sig[GW_SHA256_HEX_BYTES];
};

static int sb_setup(void **state)
{
    static struct sb_test t;
    memset(&t, 0, sizeof(t));
    gw_arena_init(&t.arena, 4096, (size_t)1024 * 1024);
    *state = &t;
    return 0;
}

static int sb_teardown(void **state)
{
    struct sb_test *t = *state;
    gw_arena_release(&t->arena);
    return 0;
}

/* Runs callback_parse on body signed with the channel secret. */
static enum gw_err sb_callback(struct sb_test *t, const char *body)
{
    gw_hmac_sha256_hex(cfg.secret, strlen(cfg.secret), body, strlen(body), t->sig);
    const struct gw_adapter_input in = {
        .method = "POST",
        .query = "",
        .body = body,
        .body_len = strlen(body),
        .signature_header = t->sig,
    };
    return gw_adapter_sandbox.callback_parse(&cfg, &in, &t->arena, &t->res, &t->eb);
}

static void test_registry(void **state)
{
    struct sb_test *t = *state;
    assert_int_equal(gw_adapter_registry_check(&t->eb), GW_OK);
    assert_ptr_equal(gw_adapter_find("sandbox"), &gw_adapter_sandbox);
    assert_null(gw_adapter_find("nope"));
    assert_null(gw_adapter_find(NULL));
    /* What a provider lacks is NULL behind its capability bit, never a stub. */
    assert_false(gw_adapter_sandbox.caps & GW_ADAPTER_CAP_CREATE);
    assert_null(gw_adapter_sandbox.create_build);
    assert_null(gw_adapter_sandbox.create_parse);
    assert_false(gw_adapter_momo.caps & GW_ADAPTER_CAP_REDIRECT);
    assert_null(gw_adapter_momo.checkout);
    assert_string_equal(gw_adapter_sandbox.signature_header, "X-Sandbox-Signature");
    assert_null(gw_adapter_vnpay.signature_header);
    assert_string_equal(gw_pay_outcome_name(GW_PAY_SUCCEEDED), "succeeded");
    assert_string_equal(gw_pay_outcome_name(GW_PAY_NOT_FOUND), "not_found");
    assert_string_equal(gw_pay_outcome_name(GW_PAY_PENDING), "pending");
    assert_string_equal(gw_refund_outcome_name(GW_REFUND_REJECTED), "rejected");
}

static void test_checkout_golden(void **state)
{
    struct sb_test *t = *state;
    const struct gw_charge charge = {
        .payment_id = "pay_1",
        .merchant_ref = "R1",
        .amount_vnd = 150000,
        .order_info = "Le phi ho chieu",
        .locale = "vi",
        .expires_at = 1795600000,
    };
    char *url = NULL;
    assert_int_equal(gw_adapter_sandbox.checkout(&cfg, &charge, &t->arena, &url, &t->eb), GW_OK);
    assert_string_equal(
        url, "http://127.0.0.1:8081/sandbox/pay?merchant_id=FEEGATE01&merchant_ref=R1"
             "&amount_vnd=150000&order_info=Le+phi+ho+chieu"
             "&return_url=http%3A%2F%2F127.0.0.1%3A8080%2Freturn%2Fsandbox"
             "&ipn_url=http%3A%2F%2F127.0.0.1%3A8080%2Fipn%2Fsandbox&expires_at=1795600000"
             "&sig=6e328f2ad143931b6159473f270648d6f94d96d6cb2695e0599a8a669e0d4b1d");
}

static void test_checkout_invalid(void **state)
{
    struct sb_test *t = *state;
    struct gw_charge charge = {
        .merchant_ref = "R 1", .amount_vnd = 1, .order_info = "x", .expires_at = 1795600000
    };
    char *url = NULL;
    assert_int_equal(gw_adapter_sandbox.checkout(&cfg, &charge, &t->arena, &url, &t->eb),
                     GW_ERR_INVALID);
    assert_null(url);
    charge.merchant_ref = "R1";
    charge.amount_vnd = 0;
    assert_int_equal(gw_adapter_sandbox.checkout(&cfg, &charge, &t->arena, &url, &t->eb),
                     GW_ERR_INVALID);
    charge.amount_vnd = -5;
    assert_int_equal(gw_adapter_sandbox.checkout(&cfg, &charge, &t->arena, &url, &t->eb),
                     GW_ERR_INVALID);
    charge.amount_vnd = GW_AMOUNT_VND_MAX + 1;
    assert_int_equal(gw_adapter_sandbox.checkout(&cfg, &charge, &t->arena, &url, &t->eb),
                     GW_ERR_INVALID);
    charge.amount_vnd = 1;
    struct gw_adapter_config no_secret = cfg;
    no_secret.secret = "";
    assert_int_equal(gw_adapter_sandbox.checkout(&no_secret, &charge, &t->arena, &url, &t->eb),
                     GW_ERR_INVALID);
}

static void test_callback_golden(void **state)
{
    struct sb_test *t = *state;
    const struct gw_adapter_input in = {
        .method = "POST",
        .query = "",
        .body = golden_body,
        .body_len = strlen(golden_body),
        .signature_header = golden_body_sig,
    };
    assert_int_equal(gw_adapter_sandbox.callback_parse(&cfg, &in, &t->arena, &t->res, &t->eb),
                     GW_OK);
    assert_string_equal(t->res.merchant_id, "FEEGATE01");
    assert_string_equal(t->res.merchant_ref, "R1");
    assert_string_equal(t->res.provider_txn_id, "SB0001");
    assert_string_equal(t->res.provider_code, "succeeded");
    assert_int_equal(t->res.amount_vnd, 150000);
    assert_int_equal(t->res.paid_at, 1795600100);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    /* Upper-case hex is the same signature. */
    char upper[GW_SHA256_HEX_BYTES];
    for (size_t i = 0; i < sizeof(upper); i++) {
        upper[i] =
            (char)(golden_body_sig[i] >= 'a' && golden_body_sig[i] <= 'f' ? golden_body_sig[i] - 32
                                                                          : golden_body_sig[i]);
    }
    struct gw_adapter_input in_upper = in;
    in_upper.signature_header = upper;
    assert_int_equal(gw_adapter_sandbox.callback_parse(&cfg, &in_upper, &t->arena, &t->res, &t->eb),
                     GW_OK);
}

static void test_callback_round_trip_failed(void **state)
{
    struct sb_test *t = *state;
    assert_int_equal(sb_callback(t, "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"a-b_9\","
                                    "\"txn_id\":\"X\",\"amount_vnd\":1,\"status\":\"failed\","
                                    "\"paid_at\":0,\"extra\":[1]}"),
                     GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_FAILED);
    assert_string_equal(t->res.merchant_ref, "a-b_9");
}

static void test_callback_tampered(void **state)
{
    struct sb_test *t = *state;
    char body[sizeof(golden_body)];
    memcpy(body, golden_body, sizeof(body));
    const struct gw_adapter_input in = {
        .method = "POST",
        .query = "",
        .body = body,
        .body_len = strlen(body),
        .signature_header = golden_body_sig,
    };
    /* Every single-byte change of the body is caught before it is parsed. */
    for (size_t i = 0; i < strlen(golden_body); i++) {
        body[i] ^= 0x01;
        assert_int_equal(gw_adapter_sandbox.callback_parse(&cfg, &in, &t->arena, &t->res, &t->eb),
                         GW_ERR_AUTH);
        body[i] ^= 0x01;
    }
    struct gw_adapter_input no_sig = in;
    no_sig.signature_header = NULL;
    assert_int_equal(gw_adapter_sandbox.callback_parse(&cfg, &no_sig, &t->arena, &t->res, &t->eb),
                     GW_ERR_AUTH);
    struct gw_adapter_config other = cfg;
    other.secret = "s3cret2";
    assert_int_equal(gw_adapter_sandbox.callback_parse(&other, &in, &t->arena, &t->res, &t->eb),
                     GW_ERR_AUTH);
    struct gw_adapter_input get = in;
    get.method = "GET";
    assert_int_equal(gw_adapter_sandbox.callback_parse(&cfg, &get, &t->arena, &t->res, &t->eb),
                     GW_ERR_INVALID);
}

/* Signed bodies that must be refused as invalid. */
static const char *const invalid_bodies[] = {
    /* another merchant */
    "{\"merchant_id\":\"OTHER\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"status\":\"succeeded\",\"paid_at\":1}",
    /* malformed JSON, not an object, trailing bytes, duplicate key */
    "{\"merchant_id\":\"FEEGATE01\",",
    "[1,2]",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"status\":\"succeeded\",\"paid_at\":1} x",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"amount_vnd\":2,\"status\":\"succeeded\",\"paid_at\":1}",
    /* amounts: negative, zero, overflowing int64, above the limit, string, real */
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":-1,"
    "\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":0,"
    "\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\","
    "\"amount_vnd\":99999999999999999999,\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\","
    "\"amount_vnd\":1000000000001,\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\","
    "\"amount_vnd\":\"100\",\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\","
    "\"amount_vnd\":1.5,\"status\":\"succeeded\",\"paid_at\":1}",
    /* status: pending is for queries only; unknown word; missing */
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"status\":\"pending\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"status\":\"ok\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"paid_at\":1}",
    /* merchant_ref grammar and length, txn_id empty, paid_at negative, embedded NUL */
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R 1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R123456789012345678901234567890123456789"
    "0\",\"txn_id\":\"T\",\"amount_vnd\":1,\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"\",\"amount_vnd\":1,"
    "\"status\":\"succeeded\",\"paid_at\":1}",
    "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\",\"amount_vnd\":1,"
    "\"status\":\"succeeded\",\"paid_at\":-1}",
    "{\"merchant_id\":\"FEEGATE01\\u0000\",\"merchant_ref\":\"R1\",\"txn_id\":\"T\","
    "\"amount_vnd\":1,\"status\":\"succeeded\",\"paid_at\":1}",
    "",
};

static void test_callback_invalid(void **state)
{
    struct sb_test *t = *state;
    for (size_t i = 0; i < sizeof(invalid_bodies) / sizeof(invalid_bodies[0]); i++) {
        enum gw_err err = sb_callback(t, invalid_bodies[i]);
        if (err != GW_ERR_INVALID) {
            print_error("body %zu: %s\n", i, t->eb.msg);
        }
        assert_int_equal(err, GW_ERR_INVALID);
    }
}

static void test_callback_too_large(void **state)
{
    struct sb_test *t = *state;
    static char big[GW_CALLBACK_BYTES_MAX + 2];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    assert_int_equal(sb_callback(t, big), GW_ERR_INVALID);
}

static void test_callback_reply(void **state)
{
    (void)state;

    static const struct {
        enum gw_callback_verdict verdict;
        int http_status;
        const char *body;
    } cases[] = {
        { GW_CB_APPLIED, 200, "{\"result\":\"ok\"}" },
        { GW_CB_DUPLICATE, 200, "{\"result\":\"duplicate\"}" },
        { GW_CB_NOT_FOUND, 404, "{\"result\":\"not_found\"}" },
        { GW_CB_AMOUNT_MISMATCH, 409, "{\"result\":\"amount_mismatch\"}" },
        { GW_CB_BAD_SIGNATURE, 401, "{\"result\":\"bad_signature\"}" },
        { GW_CB_INVALID, 400, "{\"result\":\"invalid\"}" },
        { GW_CB_RETRY_LATER, 503, "{\"result\":\"retry\"}" },
        { (enum gw_callback_verdict)99, 503, "{\"result\":\"retry\"}" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_adapter_reply r;
        memset(&r, 0, sizeof(r));
        gw_adapter_callback_reply(&gw_adapter_sandbox, cases[i].verdict, &r);
        assert_int_equal(r.http_status, cases[i].http_status);
        assert_string_equal(r.content_type, "application/json");
        assert_string_equal(r.body, cases[i].body);
    }
}

static enum gw_err sb_return(struct sb_test *t, const char *query)
{
    const struct gw_adapter_input in = {
        .method = "GET", .query = query, .query_len = strlen(query), .body = ""
    };
    return gw_adapter_sandbox.return_parse(&cfg, &in, &t->arena, &t->res, &t->eb);
}

static void test_return(void **state)
{
    struct sb_test *t = *state;
    static const char sig[] = "c9f5834d7b2d6df297695fad836c4685abcadb68f379cd563866c6bc2698e2c1";
    char q[256];
    (void)snprintf(q, sizeof(q), "merchant_ref=R1&status=succeeded&sig=%s", sig);
    assert_int_equal(sb_return(t, q), GW_OK);
    assert_string_equal(t->res.merchant_ref, "R1");
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    (void)snprintf(q, sizeof(q), "merchant_ref=R1&status=failed&sig=%s", sig);
    assert_int_equal(sb_return(t, q), GW_ERR_AUTH);
    (void)snprintf(q, sizeof(q), "merchant_ref=R1&status=succeeded&sig=%s&x=1", sig);
    assert_int_equal(sb_return(t, q), GW_ERR_AUTH);
    assert_int_equal(sb_return(t, "merchant_ref=R1&status=succeeded"), GW_ERR_AUTH);
    assert_int_equal(sb_return(t, ""), GW_ERR_AUTH);
    /* Correctly signed, but not the protocol's fields. */
    const char *signed_part = "status=succeeded&merchant_ref=R1";
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(cfg.secret, strlen(cfg.secret), signed_part, strlen(signed_part), mac);
    (void)snprintf(q, sizeof(q), "%s&sig=%s", signed_part, mac);
    assert_int_equal(sb_return(t, q), GW_ERR_INVALID);
}

static void test_query_build(void **state)
{
    struct sb_test *t = *state;
    const struct gw_charge charge = { .merchant_ref = "R1", .amount_vnd = 1 };
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_sandbox.query_build(&cfg, &charge, &t->arena, &req, &t->eb), GW_OK);
    assert_string_equal(req.method, "GET");
    const char *q = "merchant_id=FEEGATE01&merchant_ref=R1";
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(cfg.secret, strlen(cfg.secret), q, strlen(q), mac);
    char want[256];
    (void)snprintf(want, sizeof(want), "http://127.0.0.1:8081/sandbox/query?%s&sig=%s", q, mac);
    assert_string_equal(req.url, want);
    assert_int_equal(req.body_len, 0);
}

static enum gw_err sb_query(struct sb_test *t, int status, const char *body, bool sign)
{
    gw_hmac_sha256_hex(cfg.secret, strlen(cfg.secret), body, strlen(body), t->sig);
    const struct gw_adapter_input in = { .method = "GET",
                                         .query = "",
                                         .body = body,
                                         .body_len = strlen(body),
                                         .signature_header = sign ? t->sig : NULL,
                                         .http_status = status };
    return gw_adapter_sandbox.query_parse(&cfg, &in, &t->arena, &t->res, &t->eb);
}

static void test_query_parse(void **state)
{
    struct sb_test *t = *state;
    assert_int_equal(sb_query(t, 200, golden_body, true), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    assert_int_equal(t->res.amount_vnd, 150000);
    const char *pending = "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"txn_id\":\"\","
                          "\"amount_vnd\":5,\"status\":\"pending\",\"paid_at\":0}";
    assert_int_equal(sb_query(t, 200, pending, true), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_PENDING);
    assert_int_equal(sb_query(t, 200, pending, false), GW_ERR_AUTH);
    assert_int_equal(sb_query(t, 404, "{\"status\":\"not_found\"}", true), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_NOT_FOUND);
    assert_int_equal(sb_query(t, 404, "{\"status\":\"not_found\"}", false), GW_ERR_AUTH);
    assert_int_equal(sb_query(t, 404, "{\"status\":\"gone\"}", true), GW_ERR_PROTOCOL);
    assert_int_equal(sb_query(t, 503, "", false), GW_ERR_UNAVAILABLE);
    assert_int_equal(sb_query(t, 302, "", false), GW_ERR_PROTOCOL);
    assert_int_equal(sb_query(t, 200, "{}", true), GW_ERR_INVALID);
}

static const struct gw_refund golden_refund = {
    .payment_id = "pay_1",
    .merchant_ref = "R1",
    .provider_txn_id = "SB0001",
    .refund_id = "000000000001",
    .amount_vnd = 50000,
    .reason = "duplicate payment",
};

/* docs/providers.md#sandbox-refund: the body's bytes and signature, golden from Python hmac. */
static void test_refund_build_golden(void **state)
{
    struct sb_test *t = *state;
    struct gw_adapter_http req;
    assert_true(gw_adapter_sandbox.caps & GW_ADAPTER_CAP_REFUND);
    assert_true(gw_adapter_sandbox.caps & GW_ADAPTER_CAP_REFUND_QUERY);
    assert_int_equal(gw_adapter_sandbox.refund_build(&cfg, &golden_refund, &t->arena, &req, &t->eb),
                     GW_OK);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "http://127.0.0.1:8081/sandbox/refund");
    assert_string_equal(req.content_type, "application/json");
    assert_string_equal(req.body, "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\","
                                  "\"refund_id\":\"000000000001\",\"amount_vnd\":50000,"
                                  "\"reason\":\"duplicate payment\"}");
    assert_int_equal(req.body_len, strlen(req.body));
    assert_int_equal(req.n_headers, 1);
    assert_string_equal(req.headers[0].name, "X-Sandbox-Signature");
    assert_string_equal(req.headers[0].value,
                        "b330bc91977c43d1ef32e3e8ea73550c0fc10961e0bcf56955ad7402ee4781d0");
    struct gw_refund bad = golden_refund;
    bad.amount_vnd = 0;
    assert_int_equal(gw_adapter_sandbox.refund_build(&cfg, &bad, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    bad = golden_refund;
    bad.refund_id = "a b";
    assert_int_equal(gw_adapter_sandbox.refund_build(&cfg, &bad, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
}

/* docs/providers.md#sandbox-refund-query: the signed status query URL. */
static void test_refund_query_build_golden(void **state)
{
    struct sb_test *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(
        gw_adapter_sandbox.refund_query_build(&cfg, &golden_refund, &t->arena, &req, &t->eb),
        GW_OK);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.url,
                        "http://127.0.0.1:8081/sandbox/refund_query?merchant_id=FEEGATE01"
                        "&refund_id=000000000001&sig="
                        "6d68274cb9e41b906cca866bf852a7e3af09765137f5f2b98b8196bf312fb25e");
    assert_int_equal(req.body_len, 0);
}

static enum gw_err sb_refund(struct sb_test *t, bool query, int status, const char *body, bool sign,
                             struct gw_refund_result *out)
{
    gw_hmac_sha256_hex(cfg.secret, strlen(cfg.secret), body, strlen(body), t->sig);
    const struct gw_adapter_input in = { .method = query ? "GET" : "POST",
                                         .query = "",
                                         .body = body,
                                         .body_len = strlen(body),
                                         .signature_header = sign ? t->sig : NULL,
                                         .http_status = status };
    gw_adapter_refund_parse_fn *parse =
        query ? gw_adapter_sandbox.refund_query_parse : gw_adapter_sandbox.refund_parse;
    return parse(&cfg, &in, &t->arena, out, &t->eb);
}

static void test_refund_parse(void **state)
{
    struct sb_test *t = *state;
    struct gw_refund_result r;
    const char *ok = "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"refund_id\":"
                     "\"000000000001\",\"refund_txn_id\":\"SR0001\",\"amount_vnd\":50000,"
                     "\"status\":\"succeeded\",\"reason\":\"\"}";
    for (int q = 0; q < 2; q++) {
        assert_int_equal(sb_refund(t, q, 200, ok, true, &r), GW_OK);
        assert_int_equal(r.outcome, GW_REFUND_ACCEPTED);
        assert_string_equal(r.provider_refund_id, "SR0001");
        assert_string_equal(r.provider_code, "succeeded");
        assert_int_equal(r.amount_vnd, 50000);
    }
    const char *refused = "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"refund_id\":"
                          "\"000000000001\",\"refund_txn_id\":\"\",\"amount_vnd\":50000,"
                          "\"status\":\"failed\",\"reason\":\"exceeds_paid\"}";
    assert_int_equal(sb_refund(t, false, 200, refused, true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_REJECTED);
    assert_string_equal(r.provider_code, "exceeds_paid");
    const char *pending = "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"refund_id\":"
                          "\"000000000001\",\"refund_txn_id\":\"\",\"amount_vnd\":50000,"
                          "\"status\":\"pending\",\"reason\":\"\"}";
    assert_int_equal(sb_refund(t, true, 200, pending, true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
    /* Unsigned, forged, foreign or unreadable answers never decide anything. */
    assert_int_equal(sb_refund(t, false, 200, ok, false, &r), GW_ERR_AUTH);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
    const char *foreign = "{\"merchant_id\":\"OTHER\",\"merchant_ref\":\"R1\",\"refund_id\":"
                          "\"000000000001\",\"refund_txn_id\":\"SR0001\",\"amount_vnd\":50000,"
                          "\"status\":\"succeeded\",\"reason\":\"\"}";
    assert_int_equal(sb_refund(t, false, 200, foreign, true, &r), GW_ERR_INVALID);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
    const char *no_txn = "{\"merchant_id\":\"FEEGATE01\",\"merchant_ref\":\"R1\",\"refund_id\":"
                         "\"000000000001\",\"refund_txn_id\":\"\",\"amount_vnd\":50000,"
                         "\"status\":\"succeeded\",\"reason\":\"\"}";
    assert_int_equal(sb_refund(t, false, 200, no_txn, true, &r), GW_ERR_INVALID);
    assert_int_equal(sb_refund(t, false, 200, "{\"status\":\"done\"}", true, &r), GW_ERR_INVALID);
    assert_int_equal(sb_refund(t, true, 404, "{\"status\":\"not_found\"}", true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_NOT_FOUND);
    assert_string_equal(r.provider_code, "not_found");
    assert_int_equal(sb_refund(t, true, 404, "{\"status\":\"not_found\"}", false, &r), GW_ERR_AUTH);
    assert_int_equal(sb_refund(t, false, 504, "", false, &r), GW_ERR_UNAVAILABLE);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
    assert_int_equal(sb_refund(t, false, 403, "{}", false, &r), GW_ERR_PROTOCOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_checkout_golden, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_checkout_invalid, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_callback_golden, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_callback_round_trip_failed, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_callback_tampered, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_callback_invalid, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_callback_too_large, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_callback_reply, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_return, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_query_build, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_query_parse, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_refund_build_golden, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_refund_query_build_golden, sb_setup, sb_teardown),
        cmocka_unit_test_setup_teardown(test_refund_parse, sb_setup, sb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
