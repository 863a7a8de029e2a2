/* The VNPAY adapter against every vector of docs/providers.md#hmac-basics and
 * docs/providers.md#vnpay-test-vectors, byte for byte, plus
 * tampering, malformed input, the querydr/refund answers and each verdict's reply. */
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

#define V_SECRET "VNPAYTESTSECRETKEY0123456789ABCD"

static const struct gw_adapter_config cfg = {
    .channel = "vnpay",
    .merchant_id = "DEMOTMN1",
    .secret = V_SECRET,
    .endpoint_url = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
    .ipn_url = "https://dvc.example.gov.vn/ipn/vnpay",
    .return_url = "https://dvc.example.gov.vn/payment/return?src=vnpay",
    .method = "VNBANK",
    .server_ip = "203.0.113.10",
};

/* docs/providers.md#vnpay-test-vectors, V1 (published, the vnpay npm package's fixtures). */
static const char v1_data[] =
    "vnp_Amount=1000000&vnp_BankCode=NCB&vnp_BankTranNo=VNP14422574&vnp_CardType=ATM"
    "&vnp_OrderInfo=Thanh+toan+don+hang+2024-05-21T02%3A17%3A31.249Z&vnp_PayDate=20240521091806"
    "&vnp_ResponseCode=00&vnp_TmnCode=TEST_TMN_CODE&vnp_TransactionNo=14422574"
    "&vnp_TransactionStatus=00&vnp_TxnRef=1716257871703";
static const char v1_hash[] = "649982421beb422556a1374713c74e58e716ecbd05007c0c0e1f7effdfaf361d"
                              "bf146889ca446139afe11b9954c4d5c486e99e3b86fcfab6957f29eb0be72895";
/* V2. */
static const char v2_data[] =
    "vnp_Amount=125000000&vnp_BankCode=VNBANK&vnp_Command=pay&vnp_CreateDate=20240115103000"
    "&vnp_CurrCode=VND&vnp_ExpireDate=20240115104500&vnp_IpAddr=203.0.113.10&vnp_Locale=vn"
    "&vnp_OrderInfo=Thanh+toan+le+phi+ho+so%3A+HS-2024-000123&vnp_OrderType=other"
    "&vnp_ReturnUrl=https%3A%2F%2Fdvc.example.gov.vn%2Fpayment%2Freturn%3Fsrc%3Dvnpay"
    "&vnp_TmnCode=DEMOTMN1&vnp_TxnRef=HS2024000123&vnp_Version=2.1.0";
static const char v2_hash[] = "9e17e3f701339d71f45061ab2764bc10b4c2864d68ebe82a18b0cca011985c30"
                              "f9fdd9784dab045ae9ae2989b1322cc153234c5e0829de6a2a88cc0a2e471e66";
/* V3. */
static const char v3_data[] =
    "vnp_Amount=125000000&vnp_BankCode=NCB&vnp_BankTranNo=VNP14226112&vnp_CardType=ATM"
    "&vnp_OrderInfo=Thanh+toan+le+phi+ho+so%3A+HS-2024-000123&vnp_PayDate=20240115103812"
    "&vnp_ResponseCode=00&vnp_TmnCode=DEMOTMN1&vnp_TransactionNo=14226112"
    "&vnp_TransactionStatus=00&vnp_TxnRef=HS2024000123";
static const char v3_hash[] = "0b32af9d4670ae2398ff7c7bbddb8a1ba0462e1136fb5e956f4656d6933b49bc"
                              "f1c61511a34fc4283deba5b73cf440ed1a1b52971ccda355eba8c1381780eced";
/* V4, V5. */
static const char v4_data[] = "REQ20240115110000001|2.1.0|querydr|DEMOTMN1|HS2024000123|"
                              "20240115103000|20240115110000|203.0.113.10|Truy van GD HS2024000123";
static const char v4_hash[] = "548cb2ac31718595c705e5b2f9de24692c09c3f1ad0e6a0cebf9d3337cf70c09"
                              "fd982ea69b97e52500ab113ac7661259f0583caf0f1fea4f5b0eb0fc8ed7c015";
static const char v5_data[] = "REF20240116090000001|2.1.0|refund|DEMOTMN1|02|HS2024000123|"
                              "125000000|14226112|20240115103000|admin01|20240116090000|"
                              "203.0.113.10|Hoan tien HS2024000123";
static const char v5_hash[] = "fd0d56e196ce62f6acc02959cf76c76a693120b08771524073824fd716cd2bb3"
                              "8863d781816a914328098c176ac7e7db203c53d357dd2775bc7440f3c6ac5654";

/* 2024-01-15 10:30:00 GMT+7 and the times of V2, V4, V5. */
#define T_CREATE 1705289400
#define T_EXPIRE 1705290300
#define T_QUERY  1705291200
#define T_REFUND 1705370400

struct vt {
    struct gw_arena arena;
    struct gw_errbuf eb;
    struct gw_adapter_result res;
    char buf[8192];
};

static int vt_setup(void **state)
{
    static struct vt t;
    memset(&t, 0, sizeof(t));
    gw_arena_init(&t.arena, 4096, (size_t)4 * 1024 * 1024);
    *state = &t;
    return 0;
}

static int vt_teardown(void **state)
{
    struct vt *t = *state;
    gw_arena_release(&t->arena);
    return 0;
}

static void test_hmac_vectors(void **state)
{
    (void)state;
    /* docs/providers.md#hmac-basics: RFC 4231 test case 2. */
    char h256[GW_SHA256_HEX_BYTES];
    char h512[GW_SHA512_HEX_BYTES];
    gw_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, h256);
    gw_hmac_sha512_hex("Jefe", 4, "what do ya want for nothing?", 28, h512);
    assert_string_equal(h256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_string_equal(h512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                              "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    /* docs/providers.md#vnpay-test-vectors: every VNPAY vector at the MAC layer. */
    gw_hmac_sha512_hex("test_secret", 11, v1_data, strlen(v1_data), h512);
    assert_string_equal(h512, v1_hash);
    const char *const data[] = { v2_data, v3_data, v4_data, v5_data };
    const char *const hash[] = { v2_hash, v3_hash, v4_hash, v5_hash };
    for (size_t i = 0; i < 4; i++) {
        gw_hmac_sha512_hex(V_SECRET, strlen(V_SECRET), data[i], strlen(data[i]), h512);
        assert_string_equal(h512, hash[i]);
    }
}

static const struct gw_charge v2_charge = {
    .payment_id = "pay_1",
    .merchant_ref = "HS2024000123",
    .amount_vnd = 1250000,
    .order_info = "Thanh toan le phi ho so: HS-2024-000123",
    .locale = "vi",
    .client_ip = "203.0.113.10",
    .created_at = T_CREATE,
    .expires_at = T_EXPIRE,
    .request_id = "REQ20240115110000001",
    .requested_at = T_QUERY,
};

static void test_checkout_v2(void **state)
{
    struct vt *t = *state;
    char *url = NULL;
    assert_int_equal(gw_adapter_vnpay.checkout(&cfg, &v2_charge, &t->arena, &url, &t->eb), GW_OK);
    (void)snprintf(t->buf, sizeof(t->buf), "%s?%s&vnp_SecureHash=%s", cfg.endpoint_url, v2_data,
                   v2_hash);
    assert_string_equal(url, t->buf);
}

static void test_checkout_text(void **state)
{
    struct vt *t = *state;
    struct gw_charge c = v2_charge;
    c.order_info = "L\xe1\xbb\x87 ph\xc3\xad h\xe1\xbb\x93 s\xc6\xa1 (x*y)! \xc4\x90\xe1\xbb\xa9ng";
    c.locale = "en";
    struct gw_adapter_config no_bank = cfg;
    no_bank.method = NULL;
    char *url = NULL;
    assert_int_equal(gw_adapter_vnpay.checkout(&no_bank, &c, &t->arena, &url, &t->eb), GW_OK);
    assert_non_null(strstr(url, "&vnp_OrderInfo=Le+phi+ho+so++x+y+++Dung&"));
    assert_non_null(strstr(url, "&vnp_Locale=en&"));
    assert_null(strstr(url, "vnp_BankCode"));
    c.merchant_ref = "bad ref";
    assert_int_equal(gw_adapter_vnpay.checkout(&cfg, &c, &t->arena, &url, &t->eb), GW_ERR_INVALID);
    assert_null(url);
    c.merchant_ref = "R1";
    c.amount_vnd = 0;
    assert_int_equal(gw_adapter_vnpay.checkout(&cfg, &c, &t->arena, &url, &t->eb), GW_ERR_INVALID);
    c.amount_vnd = 1;
    c.expires_at = c.created_at;
    assert_int_equal(gw_adapter_vnpay.checkout(&cfg, &c, &t->arena, &url, &t->eb), GW_ERR_INVALID);
}

static enum gw_err vt_ipn(struct vt *t, const struct gw_adapter_config *c, const char *method,
                          const char *query)
{
    const struct gw_adapter_input in = {
        .method = method,
        .query = query,
        .query_len = strlen(query),
        .body = "",
        .body_len = 0,
    };
    memset(&t->res, 0xAB, sizeof(t->res));
    return gw_adapter_vnpay.callback_parse(c, &in, &t->arena, &t->res, &t->eb);
}

/* Signs data (already sorted and encoded) and appends the hash, with extra unsigned text. */
static const char *vt_signed(struct vt *t, const char *data)
{
    char h[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(V_SECRET, strlen(V_SECRET), data, strlen(data), h);
    (void)snprintf(t->buf, sizeof(t->buf), "%s&vnp_SecureHash=%s", data, h);
    return t->buf;
}

static void test_return_v1(void **state)
{
    struct vt *t = *state;
    struct gw_adapter_config c1 = cfg;
    c1.merchant_id = "TEST_TMN_CODE";
    c1.secret = "test_secret";
    /* Parameters in any order, the hash anywhere, a non-vnp_ parameter ignored. */
    (void)snprintf(t->buf, sizeof(t->buf), "lang=vi&vnp_SecureHash=%s&%s", v1_hash, v1_data);
    const struct gw_adapter_input in = { .method = "GET",
                                         .query = t->buf,
                                         .query_len = strlen(t->buf) };
    assert_int_equal(gw_adapter_vnpay.return_parse(&c1, &in, &t->arena, &t->res, &t->eb), GW_OK);
    assert_string_equal(t->res.merchant_ref, "1716257871703");
    assert_string_equal(t->res.provider_txn_id, "14422574");
    assert_int_equal(t->res.amount_vnd, 10000);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    assert_int_equal(t->res.paid_at, 1716257886); /* 2024-05-21 09:18:06 GMT+7 */
    assert_int_equal(vt_ipn(t, &c1, "GET", t->buf), GW_OK);
}

static void test_ipn_v3(void **state)
{
    struct vt *t = *state;
    char q[2048];
    (void)snprintf(q, sizeof(q), "%s&vnp_SecureHash=%s", v3_data, v3_hash);
    assert_int_equal(vt_ipn(t, &cfg, "GET", q), GW_OK);
    assert_string_equal(t->res.merchant_id, "DEMOTMN1");
    assert_string_equal(t->res.merchant_ref, "HS2024000123");
    assert_string_equal(t->res.provider_txn_id, "14226112");
    assert_string_equal(t->res.provider_code, "00");
    assert_int_equal(t->res.amount_vnd, 1250000);
    assert_int_equal(t->res.paid_at, 1705289892); /* 2024-01-15 10:38:12 GMT+7 */
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    struct gw_adapter_reply r;
    gw_adapter_callback_reply(&gw_adapter_vnpay, GW_CB_APPLIED, &r);
    assert_string_equal(r.body, "{\"RspCode\":\"00\",\"Message\":\"Confirm Success\"}");
    /* Upper-case hash, vnp_SecureHashType and an unknown empty vnp_ field are accepted. */
    char upper[GW_SHA512_HEX_BYTES];
    for (size_t i = 0; i < sizeof(upper); i++) {
        upper[i] = (char)(v3_hash[i] >= 'a' && v3_hash[i] <= 'f' ? v3_hash[i] - 32 : v3_hash[i]);
    }
    (void)snprintf(q, sizeof(q), "vnp_Future=&%s&vnp_SecureHashType=HmacSHA512&vnp_SecureHash=%s",
                   v3_data, upper);
    assert_int_equal(vt_ipn(t, &cfg, "GET", q), GW_OK);
}

static void test_ipn_tampered(void **state)
{
    struct vt *t = *state;
    char q[2048];
    int n = snprintf(q, sizeof(q), "%s&vnp_SecureHash=%s", v3_data, v3_hash);
    /* Every single byte, name, value, separator or hash, changed: refused as unauthentic;
     * a broken %-escape is refused as malformed before that. */
    for (int i = 0; i < n; i++) {
        char saved = q[i];
        bool in_escape = (i >= 1 && q[i - 1] == '%') || (i >= 2 && q[i - 2] == '%');
        q[i] = saved == 'x' ? 'y' : 'x';
        assert_int_equal(vt_ipn(t, &cfg, "GET", q), in_escape ? GW_ERR_INVALID : GW_ERR_AUTH);
        q[i] = saved;
    }
    /* A field added or removed after signing. */
    (void)snprintf(q, sizeof(q), "%s&vnp_Extra=1&vnp_SecureHash=%s", v3_data, v3_hash);
    assert_int_equal(vt_ipn(t, &cfg, "GET", q), GW_ERR_AUTH);
    assert_int_equal(vt_ipn(t, &cfg, "GET", v3_data), GW_ERR_AUTH);
    struct gw_adapter_config other = cfg;
    other.secret = "another secret";
    (void)snprintf(q, sizeof(q), "%s&vnp_SecureHash=%s", v3_data, v3_hash);
    assert_int_equal(vt_ipn(t, &other, "GET", q), GW_ERR_AUTH);
}

static void test_ipn_invalid(void **state)
{
    struct vt *t = *state;
    char q[2048];
    (void)snprintf(q, sizeof(q), "%s&vnp_SecureHash=%s", v3_data, v3_hash);
    assert_int_equal(vt_ipn(t, &cfg, "POST", q), GW_ERR_INVALID);
    /* Signed, but not for us / not well formed. */
    assert_int_equal(
        vt_ipn(t, &cfg, "GET",
               vt_signed(t, "vnp_Amount=125000000&vnp_ResponseCode=00&vnp_TmnCode=OTHER"
                            "&vnp_TransactionStatus=00&vnp_TxnRef=HS1")),
        GW_ERR_INVALID);
    assert_int_equal(
        vt_ipn(t, &cfg, "GET",
               vt_signed(t, "vnp_Amount=12500001&vnp_ResponseCode=00&vnp_TmnCode=DEMOTMN1"
                            "&vnp_TransactionStatus=00&vnp_TxnRef=HS1")),
        GW_ERR_INVALID);
    assert_int_equal(
        vt_ipn(t, &cfg, "GET",
               vt_signed(t, "vnp_Amount=100&vnp_CurrCode=USD&vnp_ResponseCode=00"
                            "&vnp_TmnCode=DEMOTMN1&vnp_TransactionStatus=00&vnp_TxnRef=HS1")),
        GW_ERR_INVALID);
    assert_int_equal(vt_ipn(t, &cfg, "GET",
                            vt_signed(t, "vnp_Amount=100&vnp_ResponseCode=00&vnp_TmnCode=DEMOTMN1"
                                         "&vnp_TxnRef=HS1")),
                     GW_ERR_INVALID); /* no vnp_TransactionStatus */
    assert_int_equal(vt_ipn(t, &cfg, "GET",
                            vt_signed(t, "vnp_Amount=100&vnp_ResponseCode=0&vnp_TmnCode=DEMOTMN1"
                                         "&vnp_TransactionStatus=00&vnp_TxnRef=HS1")),
                     GW_ERR_INVALID);
    assert_int_equal(vt_ipn(t, &cfg, "GET",
                            vt_signed(t, "vnp_Amount=100&vnp_ResponseCode=00&vnp_TmnCode=DEMOTMN1"
                                         "&vnp_TransactionStatus=00&vnp_TxnRef=HS+1")),
                     GW_ERR_INVALID);
    assert_int_equal(vt_ipn(t, &cfg, "GET", "vnp_Amount=%zz&vnp_SecureHash=00"), GW_ERR_INVALID);
    assert_int_equal(vt_ipn(t, &cfg, "GET", "vnp_TxnRef=A&vnp_TxnRef=B&vnp_SecureHash=00"),
                     GW_ERR_INVALID);
    assert_int_equal(vt_ipn(t, &cfg, "GET", ""), GW_ERR_AUTH);
}

static void test_ipn_outcomes(void **state)
{
    struct vt *t = *state;

    static const struct {
        const char *rc, *ts;
        enum gw_pay_outcome outcome;
    } cases[] = {
        { "00", "00", GW_PAY_SUCCEEDED }, { "24", "02", GW_PAY_FAILED },
        { "00", "02", GW_PAY_FAILED },    { "24", "00", GW_PAY_FAILED },
        { "07", "07", GW_PAY_PENDING },   { "00", "01", GW_PAY_PENDING },
        { "51", "02", GW_PAY_FAILED },    { "11", "99", GW_PAY_FAILED },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char data[512];
        (void)snprintf(data, sizeof(data),
                       "vnp_Amount=100&vnp_PayDate=20240115103812&vnp_ResponseCode=%s"
                       "&vnp_TmnCode=DEMOTMN1&vnp_TransactionNo=0&vnp_TransactionStatus=%s"
                       "&vnp_TxnRef=HS1",
                       cases[i].rc, cases[i].ts);
        assert_int_equal(vt_ipn(t, &cfg, "GET", vt_signed(t, data)), GW_OK);
        assert_int_equal(t->res.outcome, cases[i].outcome);
        assert_string_equal(t->res.provider_txn_id, ""); /* 0: never completed */
        assert_int_equal(t->res.paid_at, cases[i].outcome == GW_PAY_SUCCEEDED ? 1705289892 : 0);
    }
}

static void test_replies(void **state)
{
    (void)state;

    static const struct {
        enum gw_callback_verdict v;
        const char *body;
    } cases[] = {
        { GW_CB_APPLIED, "{\"RspCode\":\"00\",\"Message\":\"Confirm Success\"}" },
        { GW_CB_DUPLICATE, "{\"RspCode\":\"02\",\"Message\":\"Order already confirmed\"}" },
        { GW_CB_NOT_FOUND, "{\"RspCode\":\"01\",\"Message\":\"Order not found\"}" },
        { GW_CB_AMOUNT_MISMATCH, "{\"RspCode\":\"04\",\"Message\":\"invalid amount\"}" },
        { GW_CB_BAD_SIGNATURE, "{\"RspCode\":\"97\",\"Message\":\"Invalid signature\"}" },
        { GW_CB_INVALID, "{\"RspCode\":\"99\",\"Message\":\"Unknow error\"}" },
        { GW_CB_RETRY_LATER, "{\"RspCode\":\"99\",\"Message\":\"Unknow error\"}" },
        { (enum gw_callback_verdict)42, "{\"RspCode\":\"99\",\"Message\":\"Unknow error\"}" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_adapter_reply r;
        gw_adapter_callback_reply(&gw_adapter_vnpay, cases[i].v, &r);
        assert_int_equal(r.http_status, 200);
        assert_string_equal(r.content_type, "application/json");
        assert_string_equal(r.body, cases[i].body);
    }
}

static void test_querydr_v4(void **state)
{
    struct vt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_vnpay.query_build(&cfg, &v2_charge, &t->arena, &req, &t->eb),
                     GW_OK);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction");
    assert_string_equal(req.content_type, "application/json");
    (void)snprintf(
        t->buf, sizeof(t->buf),
        "{\"vnp_RequestId\":\"REQ20240115110000001\",\"vnp_Version\":\"2.1.0\","
        "\"vnp_Command\":\"querydr\",\"vnp_TmnCode\":\"DEMOTMN1\","
        "\"vnp_TxnRef\":\"HS2024000123\",\"vnp_OrderInfo\":\"Truy van GD HS2024000123\","
        "\"vnp_TransactionDate\":\"20240115103000\",\"vnp_CreateDate\":\"20240115110000\","
        "\"vnp_IpAddr\":\"203.0.113.10\",\"vnp_SecureHash\":\"%s\"}",
        v4_hash);
    assert_string_equal(req.body, t->buf);
    assert_int_equal(req.body_len, strlen(t->buf));
    struct gw_charge c = v2_charge;
    c.request_id = NULL;
    assert_int_equal(gw_adapter_vnpay.query_build(&cfg, &c, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    struct gw_adapter_config api = cfg;
    api.api_url = "http://127.0.0.1:9/api";
    c = v2_charge;
    c.provider_txn_id = "14226112";
    assert_int_equal(gw_adapter_vnpay.query_build(&api, &c, &t->arena, &req, &t->eb), GW_OK);
    assert_string_equal(req.url, "http://127.0.0.1:9/api");
    assert_non_null(strstr(req.body, "\"vnp_TransactionNo\":\"14226112\""));
    assert_non_null(strstr(req.body, v4_hash)); /* not part of the checksum */
}

/* What a querydr answer says: response code, transaction type and status, and whether
 * its checksum is right. */
struct vt_answer {
    const char *rc;
    const char *type;
    const char *ts;
    bool sign;
};

/* A querydr answer with the fields of docs/providers.md#vnpay-querydr, signed over the pipe-joined
 * values; the body, as the input of a parser. */
static struct gw_adapter_input vt_querydr_body(struct vt_answer a)
{
    char data[1024];
    (void)snprintf(
        data, sizeof(data),
        "RID1|querydr|%s|OK|DEMOTMN1|HS2024000123|125000000|NCB|20240115103812|14226112|%s|%s"
        "|Truy van GD HS2024000123||",
        a.rc, a.type, a.ts);
    char h[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(V_SECRET, strlen(V_SECRET), data, strlen(data), h);
    if (!a.sign) {
        h[0] = h[0] == '0' ? '1' : '0';
    }
    static char body[2048];
    (void)snprintf(
        body, sizeof(body),
        "{\"vnp_ResponseId\":\"RID1\",\"vnp_Command\":\"querydr\",\"vnp_ResponseCode\":\"%s\","
        "\"vnp_Message\":\"OK\",\"vnp_TmnCode\":\"DEMOTMN1\",\"vnp_TxnRef\":\"HS2024000123\","
        "\"vnp_Amount\":\"125000000\",\"vnp_BankCode\":\"NCB\",\"vnp_PayDate\":\"20240115103812\","
        "\"vnp_TransactionNo\":\"14226112\",\"vnp_TransactionType\":\"%s\","
        "\"vnp_TransactionStatus\":\"%s\",\"vnp_OrderInfo\":\"Truy van GD HS2024000123\","
        "\"vnp_SecureHash\":\"%s\"}",
        a.rc, a.type, a.ts, h);
    const struct gw_adapter_input in = { .body = body,
                                         .body_len = strlen(body),
                                         .http_status = 200 };
    return in;
}

static enum gw_err vt_query_answer(struct vt *t, const char *rc, const char *ts, bool sign)
{
    const struct gw_adapter_input in = vt_querydr_body((struct vt_answer){ rc, "01", ts, sign });
    return gw_adapter_vnpay.query_parse(&cfg, &in, &t->arena, &t->res, &t->eb);
}

static void test_querydr_answer(void **state)
{
    struct vt *t = *state;
    assert_int_equal(vt_query_answer(t, "00", "00", true), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    assert_int_equal(t->res.amount_vnd, 1250000);
    assert_string_equal(t->res.provider_txn_id, "14226112");
    assert_string_equal(t->res.merchant_ref, "HS2024000123");
    assert_int_equal(t->res.paid_at, 1705289892);
    assert_int_equal(vt_query_answer(t, "00", "01", true), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_PENDING);
    assert_int_equal(vt_query_answer(t, "00", "02", true), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_FAILED);
    assert_int_equal(vt_query_answer(t, "91", "", true), GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_NOT_FOUND);
    assert_int_equal(vt_query_answer(t, "91", "", false), GW_ERR_AUTH); /* a forged not-found */
    assert_int_equal(vt_query_answer(t, "00", "00", false), GW_ERR_AUTH);
    assert_int_equal(vt_query_answer(t, "94", "", true), GW_ERR_UNAVAILABLE);
    assert_int_equal(vt_query_answer(t, "97", "", true), GW_ERR_PROTOCOL);
    const struct gw_adapter_input down = { .body = "", .http_status = 503 };
    assert_int_equal(gw_adapter_vnpay.query_parse(&cfg, &down, &t->arena, &t->res, &t->eb),
                     GW_ERR_UNAVAILABLE);
    const struct gw_adapter_input junk = { .body = "<html>", .body_len = 6, .http_status = 200 };
    assert_int_equal(gw_adapter_vnpay.query_parse(&cfg, &junk, &t->arena, &t->res, &t->eb),
                     GW_ERR_INVALID);
}

static const struct gw_refund v5_refund = {
    .payment_id = "pay_1",
    .merchant_ref = "HS2024000123",
    .provider_txn_id = "14226112",
    .refund_id = "RF2024000123",
    .amount_vnd = 1250000,
    .full = true,
    .reason = "Hoan tien HS2024000123",
    .requested_by = "admin01",
    .original_created_at = T_CREATE,
    .created_at = T_REFUND,
    .request_id = "REF20240116090000001",
    .requested_at = T_REFUND,
};

static void test_refund_v5(void **state)
{
    struct vt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_vnpay.refund_build(&cfg, &v5_refund, &t->arena, &req, &t->eb),
                     GW_OK);
    (void)snprintf(t->buf, sizeof(t->buf),
                   "{\"vnp_RequestId\":\"REF20240116090000001\",\"vnp_Version\":\"2.1.0\","
                   "\"vnp_Command\":\"refund\",\"vnp_TmnCode\":\"DEMOTMN1\","
                   "\"vnp_TransactionType\":\"02\",\"vnp_TxnRef\":\"HS2024000123\","
                   "\"vnp_Amount\":\"125000000\",\"vnp_OrderInfo\":\"Hoan tien HS2024000123\","
                   "\"vnp_TransactionNo\":\"14226112\",\"vnp_TransactionDate\":\"20240115103000\","
                   "\"vnp_CreateBy\":\"admin01\",\"vnp_CreateDate\":\"20240116090000\","
                   "\"vnp_IpAddr\":\"203.0.113.10\",\"vnp_SecureHash\":\"%s\"}",
                   v5_hash);
    assert_string_equal(req.body, t->buf);
    struct gw_refund r = v5_refund;
    r.full = false;
    r.amount_vnd = 1000;
    assert_int_equal(gw_adapter_vnpay.refund_build(&cfg, &r, &t->arena, &req, &t->eb), GW_OK);
    assert_non_null(strstr(req.body,
                           "\"vnp_TransactionType\":\"03\",\"vnp_TxnRef\":\"HS2024000123\","
                           "\"vnp_Amount\":\"100000\""));
    r.provider_txn_id = NULL;
    assert_int_equal(gw_adapter_vnpay.refund_build(&cfg, &r, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    r = v5_refund;
    r.requested_by = "";
    assert_int_equal(gw_adapter_vnpay.refund_build(&cfg, &r, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
}

static enum gw_err vt_refund_answer(struct vt *t, const char *rc, const char *ts, bool sign,
                                    struct gw_refund_result *out)
{
    char data[1024];
    (void)snprintf(
        data, sizeof(data),
        "RID2|refund|%s|OK|DEMOTMN1|HS2024000123|125000000|NCB|20240116090500|14226999|02|%s"
        "|Hoan tien HS2024000123",
        rc, ts);
    char h[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(V_SECRET, strlen(V_SECRET), data, strlen(data), h);
    if (!sign) {
        h[5] = h[5] == '0' ? '1' : '0';
    }
    static char body[2048];
    (void)snprintf(
        body, sizeof(body),
        "{\"vnp_ResponseId\":\"RID2\",\"vnp_Command\":\"refund\",\"vnp_ResponseCode\":\"%s\","
        "\"vnp_Message\":\"OK\",\"vnp_TmnCode\":\"DEMOTMN1\",\"vnp_TxnRef\":\"HS2024000123\","
        "\"vnp_Amount\":\"125000000\",\"vnp_BankCode\":\"NCB\",\"vnp_PayDate\":\"20240116090500\","
        "\"vnp_TransactionNo\":\"14226999\",\"vnp_TransactionType\":\"02\","
        "\"vnp_TransactionStatus\":\"%s\",\"vnp_OrderInfo\":\"Hoan tien HS2024000123\","
        "\"vnp_SecureHash\":\"%s\"}",
        rc, ts, h);
    const struct gw_adapter_input in = { .body = body,
                                         .body_len = strlen(body),
                                         .http_status = 200 };
    return gw_adapter_vnpay.refund_parse(&cfg, &in, &t->arena, out, &t->eb);
}

static void test_refund_answer(void **state)
{
    struct vt *t = *state;
    struct gw_refund_result r;
    assert_int_equal(vt_refund_answer(t, "00", "00", true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_ACCEPTED);
    assert_string_equal(r.provider_refund_id, "14226999");
    assert_int_equal(r.amount_vnd, 1250000);
    assert_int_equal(vt_refund_answer(t, "00", "05", true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
    assert_int_equal(vt_refund_answer(t, "00", "09", true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_REJECTED);
    assert_int_equal(vt_refund_answer(t, "94", "", true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
    assert_int_equal(vt_refund_answer(t, "95", "", true, &r), GW_OK);
    assert_int_equal(r.outcome, GW_REFUND_REJECTED);
    assert_int_equal(vt_refund_answer(t, "00", "00", false, &r), GW_ERR_AUTH);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
}

static void test_registry(void **state)
{
    struct vt *t = *state;
    assert_int_equal(gw_adapter_registry_check(&t->eb), GW_OK);
    assert_ptr_equal(gw_adapter_find("vnpay"), &gw_adapter_vnpay);
    assert_ptr_equal(gw_adapter_find("momo"), &gw_adapter_momo);
    assert_ptr_equal(gw_adapter_find("zalopay"), &gw_adapter_zalopay);
    /* No server-side create: NULL behind the capability bit, never a stub. */
    assert_false(gw_adapter_vnpay.caps & GW_ADAPTER_CAP_CREATE);
    assert_null(gw_adapter_vnpay.create_build);
}

/* VNPAY has no refund query of its own: querydr of the paid charge, with the refund's own
 * request id and time, signed like V4. */
static void test_refund_query_build(void **state)
{
    struct vt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_vnpay.refund_query_build(&cfg, &v5_refund, &t->arena, &req, &t->eb),
                     GW_OK);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction");
    static const char data[] = "REF20240116090000001|2.1.0|querydr|DEMOTMN1|HS2024000123|"
                               "20240115103000|20240116090000|203.0.113.10|"
                               "Truy van GD HS2024000123";
    char h[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(V_SECRET, strlen(V_SECRET), data, strlen(data), h);
    (void)snprintf(t->buf, sizeof(t->buf),
                   "{\"vnp_RequestId\":\"REF20240116090000001\",\"vnp_Version\":\"2.1.0\","
                   "\"vnp_Command\":\"querydr\",\"vnp_TmnCode\":\"DEMOTMN1\","
                   "\"vnp_TxnRef\":\"HS2024000123\",\"vnp_OrderInfo\":\"Truy van GD HS2024000123\","
                   "\"vnp_TransactionNo\":\"14226112\",\"vnp_TransactionDate\":\"20240115103000\","
                   "\"vnp_CreateDate\":\"20240116090000\",\"vnp_IpAddr\":\"203.0.113.10\","
                   "\"vnp_SecureHash\":\"%s\"}",
                   h);
    assert_string_equal(req.body, t->buf);
    struct gw_refund r = v5_refund;
    r.provider_txn_id = "not-a-number";
    assert_int_equal(gw_adapter_vnpay.refund_query_build(&cfg, &r, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
}

static enum gw_refund_outcome vt_refund_query(struct vt *t, struct vt_answer a, enum gw_err want)
{
    const struct gw_adapter_input in = vt_querydr_body(a);
    struct gw_refund_result r;
    assert_int_equal(gw_adapter_vnpay.refund_query_parse(&cfg, &in, &t->arena, &r, &t->eb), want);
    assert_string_equal(r.provider_refund_id, ""); /* querydr's number is the charge's */
    return r.outcome;
}

/* Only a refund type with 00 is done and with 09 refused; everything else waits. */
static void test_refund_query_answer(void **state)
{
    struct vt *t = *state;
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "00", "02", "00", true }, GW_OK),
                     GW_REFUND_ACCEPTED);
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "00", "03", "00", true }, GW_OK),
                     GW_REFUND_ACCEPTED);
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "00", "03", "09", true }, GW_OK),
                     GW_REFUND_REJECTED);
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "00", "02", "05", true }, GW_OK),
                     GW_REFUND_PENDING);
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "00", "03", "06", true }, GW_OK),
                     GW_REFUND_PENDING);
    /* Still the payment itself: VNPAY has no refund of this charge (never a refusal). */
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "00", "01", "00", true }, GW_OK),
                     GW_REFUND_NOT_FOUND);
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "91", "", "", true }, GW_OK),
                     GW_REFUND_PENDING);
    assert_int_equal(
        vt_refund_query(t, (struct vt_answer){ "94", "", "", true }, GW_ERR_UNAVAILABLE),
        GW_REFUND_PENDING);
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "97", "", "", true }, GW_ERR_PROTOCOL),
                     GW_REFUND_PENDING);
    /* A forged "refunded" changes nothing. */
    assert_int_equal(vt_refund_query(t, (struct vt_answer){ "00", "02", "00", false }, GW_ERR_AUTH),
                     GW_REFUND_PENDING);
    assert_int_equal(
        vt_refund_query(t, (struct vt_answer){ "00", "0x", "00", true }, GW_ERR_PROTOCOL),
        GW_REFUND_PENDING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hmac_vectors, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_checkout_v2, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_checkout_text, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_return_v1, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_ipn_v3, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_ipn_tampered, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_ipn_invalid, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_ipn_outcomes, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_replies, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_querydr_v4, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_querydr_answer, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_v5, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_answer, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_query_build, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_query_answer, vt_setup, vt_teardown),
        cmocka_unit_test_setup_teardown(test_registry, vt_setup, vt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
