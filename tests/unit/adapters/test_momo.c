/* The MoMo adapter against every vector of docs/providers.md#momo-test-vectors, byte for
 * byte, plus
 * tampering, malformed input, the API answers and each verdict's reply. */
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

#define M_SECRET "K951B6PE1waDMi640xX08PD3vg6EkVlz"
#define M_INFO   "Thanh to\xc3\xa1n l\xe1\xbb\x87 ph\xc3\xad h\xe1\xbb\x93 s\xc6\xa1 HS2024000123"

static const struct gw_adapter_config cfg = {
    .channel = "momo",
    .merchant_id = "MOMO",
    .secret = M_SECRET,
    .secret2 = "F8BBA842ECF85",
    .endpoint_url = "https://test-payment.momo.vn/v2/gateway/api/",
    .ipn_url = "https://dvc.example.gov.vn/momo/ipn",
    .return_url = "https://dvc.example.gov.vn/momo/return",
};

/* docs/providers.md#momo-test-vectors, M1-M4: raw signature strings and MACs. */
static const char m1_data[] =
    "accessKey=F8BBA842ECF85&amount=1250000&extraData=&ipnUrl=https://dvc.example.gov.vn/momo/ipn"
    "&orderId=HS2024000123&orderInfo=" M_INFO "&partnerCode=MOMO"
    "&redirectUrl=https://dvc.example.gov.vn/momo/return&requestId=REQ1705289400000"
    "&requestType=captureWallet";
static const char m1_sig[] = "1f4a1120b6bc4d435b03434ecd9e4360bf07611e2dc8f732cb490b181f90e6bd";
static const char m2_data[] =
    "accessKey=F8BBA842ECF85&amount=1250000&extraData=&message=Successful.&orderId=HS2024000123"
    "&orderInfo=" M_INFO "&orderType=momo_wallet&partnerCode=MOMO&payType=qr"
    "&requestId=REQ1705289400000&responseTime=1705289495123&resultCode=0&transId=4088878653";
static const char m2_sig[] = "8cba20ca716e5b491373f7a84dc94ca0379ed6728e10888081f6877fce4aa594";
static const char m3_data[] =
    "accessKey=F8BBA842ECF85&orderId=HS2024000123&partnerCode=MOMO&requestId=REQ1705289600000";
static const char m3_sig[] = "c576025a394aa70e7c1f275c40a761633acafe1ebedc17be7bab89d0e7d1bbe3";
static const char m4_data[] =
    "accessKey=F8BBA842ECF85&amount=1250000&description=Hoan phi HS2024000123&orderId=RF2024000123"
    "&partnerCode=MOMO&requestId=REQ1705376400000&transId=4088878653";
static const char m4_sig[] = "c44f2ceebded4b971dbea7d47e8193015c01d7fecf8fbfc3d12f74d1d6dc4f46";

/* The M2 IPN as MoMo posts it. */
static const char m2_body[] =
    "{\"partnerCode\":\"MOMO\",\"orderId\":\"HS2024000123\",\"requestId\":\"REQ1705289400000\","
    "\"amount\":1250000,\"orderInfo\":\"" M_INFO "\",\"orderType\":\"momo_wallet\","
    "\"transId\":4088878653,\"resultCode\":0,\"message\":\"Successful.\",\"payType\":\"qr\","
    "\"responseTime\":1705289495123,\"extraData\":\"\","
    "\"signature\":\"8cba20ca716e5b491373f7a84dc94ca0379ed6728e10888081f6877fce4aa594\"}";

struct mt {
    struct gw_arena arena;
    struct gw_errbuf eb;
    struct gw_adapter_result res;
    char buf[8192];
};

static int mt_setup(void **state)
{
    static struct mt t;
    memset(&t, 0, sizeof(t));
    gw_arena_init(&t.arena, 4096, (size_t)4 * 1024 * 1024);
    *state = &t;
    return 0;
}

static int mt_teardown(void **state)
{
    struct mt *t = *state;
    gw_arena_release(&t->arena);
    return 0;
}

static void test_mac_vectors(void **state)
{
    (void)state;
    const char *const data[] = { m1_data, m2_data, m3_data, m4_data };
    const char *const sig[] = { m1_sig, m2_sig, m3_sig, m4_sig };
    for (size_t i = 0; i < 4; i++) {
        char h[GW_SHA256_HEX_BYTES];
        gw_hmac_sha256_hex(M_SECRET, strlen(M_SECRET), data[i], strlen(data[i]), h);
        assert_string_equal(h, sig[i]);
    }
}

static const struct gw_charge m_charge = {
    .payment_id = "pay_1",
    .merchant_ref = "HS2024000123",
    .amount_vnd = 1250000,
    .order_info = M_INFO,
    .locale = "vi",
    .created_at = 1705289400,
    .expires_at = 1705290300,
    .request_id = "REQ1705289400000",
};

static void test_create_m1(void **state)
{
    struct mt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_momo.create_build(&cfg, &m_charge, &t->arena, &req, &t->eb), GW_OK);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "https://test-payment.momo.vn/v2/gateway/api/create");
    assert_string_equal(req.content_type, "application/json; charset=UTF-8");
    assert_int_equal(req.n_headers, 1);
    assert_string_equal(req.headers[0].name, "Accept");
    (void)snprintf(
        t->buf, sizeof(t->buf),
        "{\"partnerCode\":\"MOMO\",\"requestId\":\"REQ1705289400000\",\"amount\":1250000,"
        "\"orderId\":\"HS2024000123\",\"orderInfo\":\"" M_INFO "\","
        "\"redirectUrl\":\"https://dvc.example.gov.vn/momo/return\","
        "\"ipnUrl\":\"https://dvc.example.gov.vn/momo/ipn\",\"requestType\":\"captureWallet\","
        "\"extraData\":\"\",\"lang\":\"vi\",\"signature\":\"%s\"}",
        m1_sig);
    assert_string_equal(req.body, t->buf);
    assert_int_equal(req.body_len, strlen(t->buf));
    struct gw_charge c = m_charge;
    c.merchant_ref = "-HS1"; /* docs/providers.md#momo-create: orderId grammar */
    assert_int_equal(gw_adapter_momo.create_build(&cfg, &c, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    c.merchant_ref = "HS1_";
    assert_int_equal(gw_adapter_momo.create_build(&cfg, &c, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    struct gw_adapter_config no_key = cfg;
    no_key.secret2 = NULL;
    assert_int_equal(gw_adapter_momo.create_build(&no_key, &m_charge, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    /* JSON escaping of the description; the signature signs the raw text. */
    c = m_charge;
    c.order_info = "a\"b\\c";
    assert_int_equal(gw_adapter_momo.create_build(&cfg, &c, &t->arena, &req, &t->eb), GW_OK);
    assert_non_null(strstr(req.body, "\"orderInfo\":\"a\\\"b\\\\c\""));
}

static enum gw_err mt_answer(struct mt *t, int status, const char *body, int which, void *out)
{
    const struct gw_adapter_input in = { .body = body,
                                         .body_len = strlen(body),
                                         .http_status = status };
    if (which == 0) {
        return gw_adapter_momo.create_parse(&cfg, &in, &t->arena, out, &t->eb);
    }
    if (which == 1) {
        return gw_adapter_momo.query_parse(&cfg, &in, &t->arena, out, &t->eb);
    }
    return gw_adapter_momo.refund_parse(&cfg, &in, &t->arena, out, &t->eb);
}

static void test_create_answer(void **state)
{
    struct mt *t = *state;
    struct gw_adapter_created c;
    assert_int_equal(
        mt_answer(t, 200,
                  "{\"partnerCode\":\"MOMO\",\"requestId\":\"REQ1\",\"orderId\":\"HS1\","
                  "\"amount\":1000,\"responseTime\":1705289400123,\"message\":\"ok\","
                  "\"resultCode\":0,\"payUrl\":\"https://test-payment.momo.vn/pay/x\"}",
                  0, &c),
        GW_OK);
    assert_true(c.created);
    assert_string_equal(c.pay_url, "https://test-payment.momo.vn/pay/x");
    assert_string_equal(c.provider_ref, "REQ1");
    assert_string_equal(c.provider_code, "0");
    assert_int_equal(mt_answer(t, 400,
                               "{\"partnerCode\":\"MOMO\",\"resultCode\":41,\"message\":\"dup\"}",
                               0, &c),
                     GW_OK);
    assert_false(c.created);
    assert_null(c.pay_url);
    assert_string_equal(c.provider_code, "41");
    assert_int_equal(mt_answer(t, 200, "{\"resultCode\":0}", 0, &c), GW_ERR_PROTOCOL);
    assert_int_equal(mt_answer(t, 200,
                               "{\"partnerCode\":\"EVIL\",\"resultCode\":0,"
                               "\"payUrl\":\"https://x\"}",
                               0, &c),
                     GW_ERR_PROTOCOL);
    assert_int_equal(mt_answer(t, 502, "", 0, &c), GW_ERR_UNAVAILABLE);
    assert_int_equal(mt_answer(t, 200, "not json", 0, &c), GW_ERR_PROTOCOL);
}

static enum gw_err mt_ipn(struct mt *t, const char *method, const char *body)
{
    const struct gw_adapter_input in = {
        .method = method, .query = "", .body = body, .body_len = strlen(body)
    };
    memset(&t->res, 0xAB, sizeof(t->res));
    return gw_adapter_momo.callback_parse(&cfg, &in, &t->arena, &t->res, &t->eb);
}

static void test_ipn_m2(void **state)
{
    struct mt *t = *state;
    assert_int_equal(mt_ipn(t, "POST", m2_body), GW_OK);
    assert_string_equal(t->res.merchant_id, "MOMO");
    assert_string_equal(t->res.merchant_ref, "HS2024000123");
    assert_string_equal(t->res.provider_txn_id, "4088878653");
    assert_string_equal(t->res.provider_code, "0");
    assert_int_equal(t->res.amount_vnd, 1250000);
    assert_int_equal(t->res.paid_at, 1705289495);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    assert_int_equal(mt_ipn(t, "GET", m2_body), GW_ERR_INVALID);
}

static void test_ipn_tampered(void **state)
{
    struct mt *t = *state;
    char body[sizeof(m2_body)];
    memcpy(body, m2_body, sizeof(body));
    size_t n = strlen(body);
    for (size_t i = 0; i < n; i++) {
        char saved = body[i];
        bool digit = saved >= '0' && saved <= '9';
        bool letter = (saved >= 'a' && saved <= 'z') || (saved >= 'A' && saved <= 'Z');
        body[i] = (char)(digit ? (saved == '9' ? '8' : saved + 1) : (saved == 'x' ? 'y' : 'x'));
        enum gw_err err = mt_ipn(t, "POST", body);
        if (digit || letter) {
            assert_int_equal(err, GW_ERR_AUTH); /* any signed value, name or the signature */
        } else {
            assert_true(err == GW_ERR_AUTH || err == GW_ERR_INVALID); /* or no longer json */
        }
        body[i] = saved;
    }
    /* A member removed after signing. */
    assert_int_equal(
        mt_ipn(
            t, "POST",
            "{\"partnerCode\":\"MOMO\",\"orderId\":\"HS2024000123\",\"amount\":1250000,"
            "\"signature\":\"8cba20ca716e5b491373f7a84dc94ca0379ed6728e10888081f6877fce4aa594\"}"),
        GW_ERR_AUTH);
    assert_int_equal(mt_ipn(t, "POST", "{\"partnerCode\":\"MOMO\"}"), GW_ERR_AUTH);
}

/* Signs an IPN with these values (the rest as in M2) and returns its body. */
static const char *mt_signed_ipn(struct mt *t, const char *partner, const char *amount,
                                 const char *result_code)
{
    char data[2048];
    (void)snprintf(data, sizeof(data),
                   "accessKey=F8BBA842ECF85&amount=%s&extraData=&message=m&orderId=HS2024000123"
                   "&orderInfo=x&orderType=momo_wallet&partnerCode=%s&payType=qr"
                   "&requestId=R1&responseTime=1705289495123&resultCode=%s&transId=4088878653",
                   amount, partner, result_code);
    char h[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(M_SECRET, strlen(M_SECRET), data, strlen(data), h);
    (void)snprintf(t->buf, sizeof(t->buf),
                   "{\"partnerCode\":\"%s\",\"orderId\":\"HS2024000123\",\"requestId\":\"R1\","
                   "\"amount\":%s,\"orderInfo\":\"x\",\"orderType\":\"momo_wallet\","
                   "\"transId\":4088878653,\"resultCode\":%s,\"message\":\"m\",\"payType\":\"qr\","
                   "\"responseTime\":1705289495123,\"extraData\":\"\",\"signature\":\"%s\"}",
                   partner, amount, result_code, h);
    return t->buf;
}

static void test_ipn_outcomes(void **state)
{
    struct mt *t = *state;

    static const struct {
        const char *code;
        enum gw_pay_outcome outcome;
    } cases[] = {
        { "0", GW_PAY_SUCCEEDED },  { "9000", GW_PAY_SUCCEEDED }, { "1006", GW_PAY_FAILED },
        { "1001", GW_PAY_FAILED },  { "4100", GW_PAY_FAILED },    { "1000", GW_PAY_PENDING },
        { "7000", GW_PAY_PENDING }, { "99", GW_PAY_PENDING },     { "13", GW_PAY_PENDING },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(mt_ipn(t, "POST", mt_signed_ipn(t, "MOMO", "1250000", cases[i].code)),
                         GW_OK);
        assert_int_equal(t->res.outcome, cases[i].outcome);
        assert_string_equal(t->res.provider_code, cases[i].code);
    }
    /* Authentic but not acceptable. */
    assert_int_equal(mt_ipn(t, "POST", mt_signed_ipn(t, "OTHER", "1250000", "0")), GW_ERR_INVALID);
    assert_int_equal(mt_ipn(t, "POST", mt_signed_ipn(t, "MOMO", "0", "0")), GW_ERR_INVALID);
    assert_int_equal(mt_ipn(t, "POST", mt_signed_ipn(t, "MOMO", "\"12a\"", "0")), GW_ERR_AUTH);
    assert_int_equal(mt_ipn(t, "POST", mt_signed_ipn(t, "MOMO", "1.5", "0")), GW_ERR_INVALID);
    assert_int_equal(mt_ipn(t, "POST", "[1]"), GW_ERR_INVALID);
    assert_int_equal(mt_ipn(t, "POST", ""), GW_ERR_INVALID);
}

static void test_replies(void **state)
{
    (void)state;

    static const struct {
        enum gw_callback_verdict v;
        int status;
    } cases[] = {
        { GW_CB_APPLIED, 204 },       { GW_CB_DUPLICATE, 204 },
        { GW_CB_NOT_FOUND, 404 },     { GW_CB_AMOUNT_MISMATCH, 400 },
        { GW_CB_BAD_SIGNATURE, 401 }, { GW_CB_INVALID, 400 },
        { GW_CB_RETRY_LATER, 503 },   { (enum gw_callback_verdict)42, 503 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_adapter_reply r;
        gw_adapter_callback_reply(&gw_adapter_momo, cases[i].v, &r);
        assert_int_equal(r.http_status, cases[i].status);
        assert_non_null(r.content_type);
        if (cases[i].status == 204) {
            assert_string_equal(r.body, "");
        } else {
            assert_non_null(strstr(r.body, "\"resultCode\":"));
        }
    }
}

/* Form-encodes s (upper-case hex) into out. */
static void mt_form(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0' && o + 4 < size; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '.' || *c == '-' || *c == '_') {
            out[o++] = (char)*c;
        } else {
            out[o++] = '%';
            out[o++] = hex[*c >> 4];
            out[o++] = hex[*c & 15u];
        }
    }
    out[o] = '\0';
}

static void test_redirect(void **state)
{
    struct mt *t = *state;
    char info[256];
    mt_form(M_INFO, info, sizeof(info));
    (void)snprintf(t->buf, sizeof(t->buf),
                   "partnerCode=MOMO&orderId=HS2024000123&requestId=REQ1705289400000&amount=1250000"
                   "&orderInfo=%s&orderType=momo_wallet&transId=4088878653&resultCode=0"
                   "&message=Successful.&payType=qr&responseTime=1705289495123&extraData="
                   "&signature=%s",
                   info, m2_sig);
    struct gw_adapter_input in = { .method = "GET", .query = t->buf, .query_len = strlen(t->buf) };
    assert_int_equal(gw_adapter_momo.return_parse(&cfg, &in, &t->arena, &t->res, &t->eb), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    assert_string_equal(t->res.merchant_ref, "HS2024000123");
    char *amount = strstr(t->buf, "amount=125");
    amount[8] = '6';
    assert_int_equal(gw_adapter_momo.return_parse(&cfg, &in, &t->arena, &t->res, &t->eb),
                     GW_ERR_AUTH);
}

static void test_query_m3(void **state)
{
    struct mt *t = *state;
    struct gw_charge c = m_charge;
    c.request_id = "REQ1705289600000";
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_momo.query_build(&cfg, &c, &t->arena, &req, &t->eb), GW_OK);
    assert_string_equal(req.url, "https://test-payment.momo.vn/v2/gateway/api/query");
    (void)snprintf(t->buf, sizeof(t->buf),
                   "{\"partnerCode\":\"MOMO\",\"requestId\":\"REQ1705289600000\","
                   "\"orderId\":\"HS2024000123\",\"lang\":\"vi\",\"signature\":\"%s\"}",
                   m3_sig);
    assert_string_equal(req.body, t->buf);
    c.request_id = NULL;
    assert_int_equal(gw_adapter_momo.query_build(&cfg, &c, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
}

static void test_query_answer(void **state)
{
    struct mt *t = *state;
    static const char paid[] =
        "{\"partnerCode\":\"MOMO\",\"requestId\":\"REQ2\",\"orderId\":\"HS2024000123\","
        "\"extraData\":\"\",\"amount\":1250000,\"transId\":4088878653,\"payType\":\"qr\","
        "\"resultCode\":%d,\"refundTrans\":[],\"message\":\"m\",\"responseTime\":1705289600000,"
        "\"lastUpdated\":1705289495123}";

    static const struct {
        int code;
        enum gw_err err;
        enum gw_pay_outcome outcome;
    } cases[] = {
        { 0, GW_OK, GW_PAY_SUCCEEDED },
        { 1006, GW_OK, GW_PAY_FAILED },
        { 1000, GW_OK, GW_PAY_PENDING },
        { 42, GW_OK, GW_PAY_NOT_FOUND },
        { 99, GW_ERR_UNAVAILABLE, GW_PAY_PENDING },
        { 13, GW_ERR_PROTOCOL, GW_PAY_PENDING },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[1024];
        (void)snprintf(body, sizeof(body), paid, cases[i].code);
        assert_int_equal(mt_answer(t, 200, body, 1, &t->res), cases[i].err);
        assert_int_equal(t->res.outcome, cases[i].outcome);
    }
    assert_int_equal(mt_answer(t, 200,
                               "{\"partnerCode\":\"MOMO\",\"resultCode\":0,\"orderId\":\"HS1\"}", 1,
                               &t->res),
                     GW_ERR_PROTOCOL); /* no amount */
    assert_int_equal(mt_answer(t, 503, "", 1, &t->res), GW_ERR_UNAVAILABLE);
}

static const struct gw_refund m_refund = {
    .payment_id = "pay_1",
    .merchant_ref = "HS2024000123",
    .provider_txn_id = "4088878653",
    .refund_id = "RF2024000123",
    .amount_vnd = 1250000,
    .full = true,
    .reason = "Hoan phi HS2024000123",
    .requested_by = "admin01",
    .original_created_at = 1705289400,
    .created_at = 1705376400,
    .request_id = "REQ1705376400000",
    .requested_at = 1705376400,
};

static void test_refund_m4(void **state)
{
    struct mt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_momo.refund_build(&cfg, &m_refund, &t->arena, &req, &t->eb), GW_OK);
    assert_string_equal(req.url, "https://test-payment.momo.vn/v2/gateway/api/refund");
    (void)snprintf(
        t->buf, sizeof(t->buf),
        "{\"partnerCode\":\"MOMO\",\"orderId\":\"RF2024000123\","
        "\"requestId\":\"REQ1705376400000\",\"amount\":1250000,\"transId\":4088878653,"
        "\"lang\":\"vi\",\"description\":\"Hoan phi HS2024000123\",\"signature\":\"%s\"}",
        m4_sig);
    assert_string_equal(req.body, t->buf);
    struct gw_refund r = m_refund;
    r.provider_txn_id = "40888x";
    assert_int_equal(gw_adapter_momo.refund_build(&cfg, &r, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
}

/* The refund's status: a query of its own orderId (signature computed with Python hmac). */
static void test_refund_query(void **state)
{
    struct mt *t = *state;
    struct gw_adapter_http req;
    struct gw_refund q = m_refund;
    q.request_id = "REQ1705376460000";
    assert_true(gw_adapter_momo.caps & GW_ADAPTER_CAP_REFUND_QUERY);
    assert_int_equal(gw_adapter_momo.refund_query_build(&cfg, &q, &t->arena, &req, &t->eb), GW_OK);
    assert_string_equal(req.url, "https://test-payment.momo.vn/v2/gateway/api/query");
    assert_string_equal(req.body,
                        "{\"partnerCode\":\"MOMO\",\"requestId\":\"REQ1705376460000\","
                        "\"orderId\":\"RF2024000123\",\"lang\":\"vi\",\"signature\":"
                        "\"41a8335dacffe7745efbf22cac9887cb67e3634c1d08e0b788adec8978eb989d\"}");
    q.refund_id = "RF 1";
    assert_int_equal(gw_adapter_momo.refund_query_build(&cfg, &q, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    static const char fmt[] =
        "{\"partnerCode\":\"MOMO\",\"requestId\":\"R\",\"orderId\":\"RF2024000123\","
        "\"extraData\":\"\",\"amount\":1250000,\"transId\":4088878999,\"payType\":\"\","
        "\"resultCode\":%d,\"refundTrans\":[],\"message\":\"m\",\"responseTime\":1}";

    static const struct {
        int code;
        enum gw_err err;
        enum gw_refund_outcome outcome;
    } cases[] = {
        { 0, GW_OK, GW_REFUND_ACCEPTED },           { 1000, GW_OK, GW_REFUND_PENDING },
        { 42, GW_OK, GW_REFUND_NOT_FOUND }, /* unknown to MoMo: never a refusal */
        { 1080, GW_OK, GW_REFUND_REJECTED },        { 99, GW_ERR_UNAVAILABLE, GW_REFUND_PENDING },
        { 13, GW_ERR_PROTOCOL, GW_REFUND_PENDING },
    };
    struct gw_refund_result r;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        (void)snprintf(body, sizeof(body), fmt, cases[i].code);
        const struct gw_adapter_input in = { .body = body,
                                             .body_len = strlen(body),
                                             .http_status = 200 };
        assert_int_equal(gw_adapter_momo.refund_query_parse(&cfg, &in, &t->arena, &r, &t->eb),
                         cases[i].err);
        assert_int_equal(r.outcome, cases[i].outcome);
        if (cases[i].code == 0) {
            assert_string_equal(r.provider_refund_id, "4088878999");
            assert_int_equal(r.amount_vnd, 1250000);
        }
    }
    const struct gw_adapter_input lost = { .body = "", .body_len = 0, .http_status = 504 };
    assert_int_equal(gw_adapter_momo.refund_query_parse(&cfg, &lost, &t->arena, &r, &t->eb),
                     GW_ERR_UNAVAILABLE);
}

static void test_refund_answer(void **state)
{
    struct mt *t = *state;
    struct gw_refund_result r;
    static const char fmt[] =
        "{\"partnerCode\":\"MOMO\",\"orderId\":\"RF2024000123\",\"requestId\":\"R\","
        "\"amount\":1250000,\"transId\":4088878999,\"resultCode\":%d,"
        "\"message\":\"m\",\"responseTime\":1705376400123}";

    static const struct {
        int code;
        enum gw_refund_outcome outcome;
    } cases[] = {
        { 0, GW_REFUND_ACCEPTED },    { 7000, GW_REFUND_PENDING }, { 99, GW_REFUND_PENDING },
        { 1080, GW_REFUND_REJECTED }, { 13, GW_REFUND_REJECTED },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        (void)snprintf(body, sizeof(body), fmt, cases[i].code);
        assert_int_equal(mt_answer(t, 200, body, 2, &r), GW_OK);
        assert_int_equal(r.outcome, cases[i].outcome);
    }
    assert_string_equal(r.provider_refund_id, "4088878999");
    assert_int_equal(r.amount_vnd, 1250000);
    assert_int_equal(mt_answer(t, 504, "", 2, &r), GW_ERR_UNAVAILABLE);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mac_vectors, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_create_m1, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_create_answer, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_ipn_m2, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_ipn_tampered, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_ipn_outcomes, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_replies, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_redirect, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_query_m3, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_query_answer, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_m4, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_answer, mt_setup, mt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_query, mt_setup, mt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
