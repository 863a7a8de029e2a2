/* The ZaloPay adapter against every vector of docs/providers.md#zalopay-test-vectors
 * (Z1 published, Z2-Z6 computed), byte for byte, plus tampering, malformed input, the API answers
 * and each verdict's reply. */
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

#define Z_KEY1 "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL"
#define Z_KEY2 "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz"

static const struct gw_adapter_config cfg = {
    .channel = "zalopay",
    .merchant_id = "2553",
    .secret = Z_KEY1,
    .secret2 = Z_KEY2,
    .endpoint_url = "https://sb-openapi.zalopay.vn",
    .ipn_url = "https://dvc.example.gov.vn/ipn/zalopay",
    .return_url = "https://dvc.example.gov.vn/zlp/return",
    .app_user = "dvc_user",
};

/* docs/providers.md#zalopay-test-vectors, Z1: the data string (its backslashes are literal) and its
 * mac under key2. */
static const char z1_data[] =
    "{\"app_id\":2553,\"app_trans_id\":\"200904_2553_1598435687208\",\"app_time\":1599189392817,"
    "\"app_user\":\"demo\",\"amount\":10000,\"embed_data\":\"{\\\"merchantinfo\\\":"
    "\\\"embeddata123\\\","
    "\\\"promotioninfo\\\":\\\"\\\"}\",\"item\":\"[{\\\"itemid\\\":\\\"knb\\\",\\\"itemname\\\":"
    "\\\"kim nguyen bao\\\",\\\"itemprice\\\":198400,\\\"itemquantity\\\":1}]\","
    "\"zp_trans_id\":200904000000389,\"server_time\":1599189413498,\"channel\":38,"
    "\"merchant_user_id\":\"7ZMSl3nEg5sOUJzOLSoUFT8xKNQVaLOLXHB--8Eytqc\",\"user_fee_amount\":0,"
    "\"discount_amount\":0}";
static const char z1_mac[] = "d8d33baf449b31d7f9b94fa50d7c942c08cd4d83f28fa185557da21acb104f67";

static const struct {
    const char *key;
    const char *data;
    const char *mac;
} z_vectors[] = {
    { Z_KEY2, z1_data, z1_mac },
    { Z_KEY1,
      "2553|240115_HS2024000123|dvc_user|1250000|1705289400000|"
      "{\"redirecturl\":\"https://dvc.example.gov.vn/zlp/return\"}|[]",
      "f484a67068cdf303722f000ed2f01bceb7233c4a236bc978462a4a1476a5421e" },
    { Z_KEY1, "2553|240115_HS2024000123|" Z_KEY1,
      "5b541df6a23b74a3d7a912ecefa7ed273fd3e58221ad5d7541eca5e7b799013b" },
    { Z_KEY1, "2553|240115000000389|1250000|Hoan phi HS2024000123|1705376400000",
      "4b5d0280bb011843d0b58e2be342feb96401caccf5175346acbf0e0ba236684c" },
    { Z_KEY1, "2553|240116_2553_0000000001|1705376460000",
      "851c85c030dbeee446df4bc13cd45095e5fe4547ea497e75d78c309f9c4fefeb" },
    { Z_KEY2, "2553|240115_HS2024000123|38|zalopayapp|1250000|0|1",
      "1e6f5f7ca858b977f8488e7f5bdd9c4cf2070d87a25a147f5008fe6ffa05d056" },
};

struct zt {
    struct gw_arena arena;
    struct gw_errbuf eb;
    struct gw_adapter_result res;
    char buf[8192];
};

static int zt_setup(void **state)
{
    static struct zt t;
    memset(&t, 0, sizeof(t));
    gw_arena_init(&t.arena, 4096, (size_t)4 * 1024 * 1024);
    *state = &t;
    return 0;
}

static int zt_teardown(void **state)
{
    struct zt *t = *state;
    gw_arena_release(&t->arena);
    return 0;
}

static void test_mac_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(z_vectors) / sizeof(z_vectors[0]); i++) {
        char h[GW_SHA256_HEX_BYTES];
        gw_hmac_sha256_hex(z_vectors[i].key, strlen(z_vectors[i].key), z_vectors[i].data,
                           strlen(z_vectors[i].data), h);
        assert_string_equal(h, z_vectors[i].mac);
    }
}

/* {"data":<data as a JSON string>,"mac":mac,"type":1} into out. */
static void zt_envelope(const char *data, const char *mac, char *out, size_t size)
{
    size_t o = 0;
    const char head[] = "{\"data\":\"";
    memcpy(out, head, sizeof(head) - 1);
    o = sizeof(head) - 1;
    for (const char *c = data; *c != '\0' && o + 2 < size; c++) {
        if (*c == '"' || *c == '\\') {
            out[o++] = '\\';
        }
        out[o++] = *c;
    }
    (void)snprintf(out + o, size - o, "\",\"mac\":\"%s\",\"type\":1}", mac);
}

static enum gw_err zt_callback(struct zt *t, const char *method, const char *body)
{
    const struct gw_adapter_input in = {
        .method = method, .query = "", .body = body, .body_len = strlen(body)
    };
    memset(&t->res, 0xAB, sizeof(t->res));
    return gw_adapter_zalopay.callback_parse(&cfg, &in, &t->arena, &t->res, &t->eb);
}

static void test_callback_z1(void **state)
{
    struct zt *t = *state;
    char body[4096];
    zt_envelope(z1_data, z1_mac, body, sizeof(body));
    assert_int_equal(zt_callback(t, "POST", body), GW_OK);
    assert_string_equal(t->res.merchant_id, "2553");
    assert_string_equal(t->res.merchant_ref, "2553_1598435687208");
    assert_string_equal(t->res.provider_txn_id, "200904000000389");
    assert_int_equal(t->res.amount_vnd, 10000);
    assert_int_equal(t->res.paid_at, 1599189413);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    assert_int_equal(zt_callback(t, "GET", body), GW_ERR_INVALID);
    struct gw_adapter_config other = cfg;
    other.merchant_id = "2554";
    const struct gw_adapter_input in = { .method = "POST", .body = body, .body_len = strlen(body) };
    assert_int_equal(gw_adapter_zalopay.callback_parse(&other, &in, &t->arena, &t->res, &t->eb),
                     GW_ERR_INVALID); /* authentic, but another app's */
}

static void test_callback_tampered(void **state)
{
    struct zt *t = *state;
    char body[4096];
    zt_envelope(z1_data, z1_mac, body, sizeof(body));
    size_t n = strlen(body);
    const char *type = strstr(body, ",\"type\":1}");
    for (size_t i = 0; i < n; i++) {
        char saved = body[i];
        bool digit = saved >= '0' && saved <= '9';
        bool letter = (saved >= 'a' && saved <= 'z') || (saved >= 'A' && saved <= 'Z');
        body[i] = (char)(digit ? (saved == '9' ? '8' : saved + 1) : (saved == 'x' ? 'y' : 'x'));
        enum gw_err err = zt_callback(t, "POST", body);
        if (body + i >= type) { /* "type" is outside the mac: only checked, 1 or absent */
            assert_true(err == GW_OK || err == GW_ERR_INVALID);
        } else if (digit || letter) {
            assert_int_equal(err, GW_ERR_AUTH); /* data, mac, or their names */
        } else {
            assert_true(err == GW_ERR_AUTH || err == GW_ERR_INVALID);
        }
        body[i] = saved;
    }
    /* The data re-serialised (spaces added) is not what ZaloPay signed. */
    char spaced[4096];
    zt_envelope("{\"app_id\": 2553}", z1_mac, spaced, sizeof(spaced));
    assert_int_equal(zt_callback(t, "POST", spaced), GW_ERR_AUTH);
    assert_int_equal(zt_callback(t, "POST", "{\"data\":\"{}\"}"), GW_ERR_AUTH);
}

/* A callback whose data is signed with key2. */
static const char *zt_signed(struct zt *t, const char *data)
{
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(Z_KEY2, strlen(Z_KEY2), data, strlen(data), mac);
    zt_envelope(data, mac, t->buf, sizeof(t->buf));
    return t->buf;
}

static void test_callback_invalid(void **state)
{
    struct zt *t = *state;
    assert_int_equal(zt_callback(t, "POST", zt_signed(t, "not json")), GW_ERR_INVALID);
    assert_int_equal(zt_callback(t, "POST",
                                 zt_signed(t, "{\"app_id\":2553,\"app_trans_id\":\"2401_X\","
                                              "\"amount\":1,\"zp_trans_id\":1}")),
                     GW_ERR_INVALID);
    assert_int_equal(zt_callback(t, "POST",
                                 zt_signed(t, "{\"app_id\":2553,\"app_trans_id\":\"240115_X\","
                                              "\"amount\":\"1\",\"zp_trans_id\":1}")),
                     GW_ERR_INVALID); /* amount must be a number */
    assert_int_equal(zt_callback(t, "POST",
                                 zt_signed(t, "{\"app_id\":2553,\"app_trans_id\":\"240115_X\","
                                              "\"amount\":1,\"zp_trans_id\":0}")),
                     GW_ERR_INVALID);
    assert_int_equal(zt_callback(t, "POST",
                                 zt_signed(t, "{\"app_id\":2553,\"app_trans_id\":\"240115_X\","
                                              "\"amount\":1,\"zp_trans_id\":7}")),
                     GW_OK);
    assert_string_equal(t->res.merchant_ref, "X");
    char *type = strstr(t->buf, "\"type\":1");
    type[7] = '2'; /* agreement callbacks are not ours */
    assert_int_equal(zt_callback(t, "POST", t->buf), GW_ERR_INVALID);
    assert_int_equal(zt_callback(t, "POST", "{\"data\":1,\"mac\":\"00\"}"), GW_ERR_AUTH);
    assert_int_equal(zt_callback(t, "POST", "{"), GW_ERR_INVALID);
}

static void test_replies(void **state)
{
    (void)state;

    static const struct {
        enum gw_callback_verdict v;
        const char *body;
    } cases[] = {
        { GW_CB_APPLIED, "{\"return_code\":1,\"return_message\":\"success\"}" },
        { GW_CB_DUPLICATE, "{\"return_code\":2,\"return_message\":\"duplicate\"}" },
        { GW_CB_NOT_FOUND, "{\"return_code\":0,\"return_message\":\"order not found\"}" },
        { GW_CB_AMOUNT_MISMATCH, "{\"return_code\":0,\"return_message\":\"invalid amount\"}" },
        { GW_CB_BAD_SIGNATURE, "{\"return_code\":-1,\"return_message\":\"mac not equal\"}" },
        { GW_CB_INVALID, "{\"return_code\":0,\"return_message\":\"invalid callback\"}" },
        { GW_CB_RETRY_LATER, "{\"return_code\":0,\"return_message\":\"retry later\"}" },
        { (enum gw_callback_verdict)42, "{\"return_code\":0,\"return_message\":\"retry later\"}" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_adapter_reply r;
        gw_adapter_callback_reply(&gw_adapter_zalopay, cases[i].v, &r);
        assert_int_equal(r.http_status, 200);
        assert_string_equal(r.body, cases[i].body);
    }
}

static const struct gw_charge z_charge = {
    .payment_id = "pay_1",
    .merchant_ref = "HS2024000123",
    .amount_vnd = 1250000,
    .order_info = "Thanh toan le phi HS2024000123",
    .locale = "vi",
    .created_at = 1705289400,
    .expires_at = 1705290300,
};

static void test_create_z2(void **state)
{
    struct zt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_zalopay.create_build(&cfg, &z_charge, &t->arena, &req, &t->eb),
                     GW_OK);
    assert_string_equal(req.url, "https://sb-openapi.zalopay.vn/v2/create");
    assert_string_equal(req.content_type, "application/x-www-form-urlencoded");
    assert_string_equal(
        req.body,
        "app_id=2553&app_user=dvc_user&app_trans_id=240115_HS2024000123&app_time=1705289400000"
        "&amount=1250000&item=%5B%5D"
        "&embed_data=%7B%22redirecturl%22%3A%22https%3A%2F%2Fdvc.example.gov.vn%2Fzlp%2Freturn%22%"
        "7D"
        "&description=Thanh+toan+le+phi+HS2024000123&bank_code="
        "&callback_url=https%3A%2F%2Fdvc.example.gov.vn%2Fipn%2Fzalopay&expire_duration_seconds=900"
        "&mac=f484a67068cdf303722f000ed2f01bceb7233c4a236bc978462a4a1476a5421e");
    struct gw_charge c = z_charge;
    c.merchant_ref = "A234567890123456789012345678901234"; /* 34: app_trans_id over 40 */
    assert_int_equal(gw_adapter_zalopay.create_build(&cfg, &c, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    c.merchant_ref = "A23456789012345678901234567890123"; /* 33 fits */
    assert_int_equal(gw_adapter_zalopay.create_build(&cfg, &c, &t->arena, &req, &t->eb), GW_OK);
    struct gw_adapter_config bad = cfg;
    bad.merchant_id = "app";
    assert_int_equal(gw_adapter_zalopay.create_build(&bad, &z_charge, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    /* 23:59 UTC is already the next day in Vietnam (docs/providers.md#integers-and-times). */
    c = z_charge;
    c.created_at = 1705363140;                 /* 2024-01-15 23:59 UTC */
    c.expires_at = c.created_at + 86400L * 40; /* beyond ZaloPay's 30 days: not sent */
    assert_int_equal(gw_adapter_zalopay.create_build(&cfg, &c, &t->arena, &req, &t->eb), GW_OK);
    assert_non_null(strstr(req.body, "app_trans_id=240116_HS2024000123&"));
    assert_null(strstr(req.body, "expire_duration_seconds"));
}

static enum gw_err zt_answer(struct zt *t, int status, const char *body, int which, void *out)
{
    const struct gw_adapter_input in = { .body = body,
                                         .body_len = strlen(body),
                                         .http_status = status };
    if (which == 0) {
        return gw_adapter_zalopay.create_parse(&cfg, &in, &t->arena, out, &t->eb);
    }
    if (which == 1) {
        return gw_adapter_zalopay.query_parse(&cfg, &in, &t->arena, out, &t->eb);
    }
    if (which == 2) {
        return gw_adapter_zalopay.refund_parse(&cfg, &in, &t->arena, out, &t->eb);
    }
    return gw_adapter_zalopay.refund_query_parse(&cfg, &in, &t->arena, out, &t->eb);
}

static void test_create_answer(void **state)
{
    struct zt *t = *state;
    struct gw_adapter_created c;
    assert_int_equal(zt_answer(t, 200,
                               "{\"return_code\":1,\"return_message\":\"ok\",\"sub_return_code\":1,"
                               "\"order_url\":\"https://qcgateway.zalopay.vn/openinapp?order=x\","
                               "\"zp_trans_token\":\"ACabc\"}",
                               0, &c),
                     GW_OK);
    assert_true(c.created);
    assert_string_equal(c.pay_url, "https://qcgateway.zalopay.vn/openinapp?order=x");
    assert_string_equal(c.provider_ref, "ACabc");
    assert_string_equal(c.provider_code, "1/1");
    assert_int_equal(zt_answer(t, 200, "{\"return_code\":2,\"sub_return_code\":-68}", 0, &c),
                     GW_OK);
    assert_false(c.created);
    assert_string_equal(c.provider_code, "2/-68");
    assert_int_equal(zt_answer(t, 200, "{\"return_code\":1}", 0, &c), GW_ERR_PROTOCOL);
    assert_int_equal(zt_answer(t, 500, "", 0, &c), GW_ERR_UNAVAILABLE);
}

static void test_query_z3(void **state)
{
    struct zt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_zalopay.query_build(&cfg, &z_charge, &t->arena, &req, &t->eb),
                     GW_OK);
    assert_string_equal(req.url, "https://sb-openapi.zalopay.vn/v2/query");
    assert_string_equal(req.body,
                        "app_id=2553&app_trans_id=240115_HS2024000123"
                        "&mac=5b541df6a23b74a3d7a912ecefa7ed273fd3e58221ad5d7541eca5e7b799013b");
}

static void test_query_answer(void **state)
{
    struct zt *t = *state;
    assert_int_equal(zt_answer(t, 200,
                               "{\"return_code\":1,\"return_message\":\"ok\",\"sub_return_code\":1,"
                               "\"is_processing\":false,\"amount\":1250000,"
                               "\"zp_trans_id\":240115000000389,\"discount_amount\":0}",
                               1, &t->res),
                     GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    assert_int_equal(t->res.amount_vnd, 1250000);
    assert_string_equal(t->res.provider_txn_id, "240115000000389");
    assert_int_equal(zt_answer(t, 200, "{\"return_code\":2,\"sub_return_code\":-329}", 1, &t->res),
                     GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_FAILED);
    assert_int_equal(zt_answer(t, 200, "{\"return_code\":3,\"is_processing\":true}", 1, &t->res),
                     GW_OK);
    assert_int_equal(t->res.outcome, GW_PAY_PENDING);
    assert_int_equal(zt_answer(t, 200, "{\"return_code\":-429}", 1, &t->res), GW_ERR_UNAVAILABLE);
    assert_int_equal(zt_answer(t, 200, "{\"return_code\":-403}", 1, &t->res), GW_ERR_PROTOCOL);
    assert_int_equal(zt_answer(t, 200, "{\"return_code\":1,\"amount\":\"x\"}", 1, &t->res),
                     GW_ERR_PROTOCOL);
    assert_int_equal(zt_answer(t, 200, "{\"return_message\":\"?\"}", 1, &t->res), GW_ERR_PROTOCOL);
}

static const struct gw_refund z_refund = {
    .payment_id = "pay_1",
    .merchant_ref = "HS2024000123",
    .provider_txn_id = "240115000000389",
    .refund_id = "0000000001",
    .amount_vnd = 1250000,
    .full = true,
    .reason = "Hoan phi HS2024000123",
    .requested_by = "admin01",
    .original_created_at = 1705289400,
    .created_at = 1705376400,
    .request_id = "R1",
    .requested_at = 1705376400,
};

static void test_refund_z4_z5(void **state)
{
    struct zt *t = *state;
    struct gw_adapter_http req;
    assert_int_equal(gw_adapter_zalopay.refund_build(&cfg, &z_refund, &t->arena, &req, &t->eb),
                     GW_OK);
    assert_string_equal(req.url, "https://sb-openapi.zalopay.vn/v2/refund");
    assert_string_equal(req.body,
                        "app_id=2553&m_refund_id=240116_2553_0000000001&zp_trans_id=240115000000389"
                        "&amount=1250000&timestamp=1705376400000&description=Hoan+phi+HS2024000123"
                        "&mac=4b5d0280bb011843d0b58e2be342feb96401caccf5175346acbf0e0ba236684c");
    struct gw_refund q = z_refund;
    q.requested_at = 1705376460;
    assert_int_equal(gw_adapter_zalopay.refund_query_build(&cfg, &q, &t->arena, &req, &t->eb),
                     GW_OK);
    assert_string_equal(req.url, "https://sb-openapi.zalopay.vn/v2/query_refund");
    assert_string_equal(req.body,
                        "app_id=2553&m_refund_id=240116_2553_0000000001&timestamp=1705376460000"
                        "&mac=851c85c030dbeee446df4bc13cd45095e5fe4547ea497e75d78c309f9c4fefeb");
    q = z_refund;
    q.provider_txn_id = "abc";
    assert_int_equal(gw_adapter_zalopay.refund_build(&cfg, &q, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
    q = z_refund;
    q.refund_id = "bad id";
    assert_int_equal(gw_adapter_zalopay.refund_build(&cfg, &q, &t->arena, &req, &t->eb),
                     GW_ERR_INVALID);
}

static void test_refund_answer(void **state)
{
    struct zt *t = *state;
    struct gw_refund_result r;

    static const struct {
        const char *body;
        enum gw_refund_outcome outcome;
    } cases[] = {
        { "{\"return_code\":1,\"sub_return_code\":1,\"refund_id\":21012300000123}",
          GW_REFUND_ACCEPTED },
        { "{\"return_code\":3,\"sub_return_code\":-101}", GW_REFUND_PENDING },
        { "{\"return_code\":2,\"sub_return_code\":-13}", GW_REFUND_REJECTED },
        { "{\"return_code\":-500}", GW_REFUND_PENDING },
        { "{\"return_code\":-401}", GW_REFUND_REJECTED },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(zt_answer(t, 200, cases[i].body, 2, &r), GW_OK);
        assert_int_equal(r.outcome, cases[i].outcome);
        assert_int_equal(zt_answer(t, 200, cases[i].body, 3, &r), GW_OK);
        assert_int_equal(r.outcome, cases[i].outcome);
    }
    assert_int_equal(zt_answer(t, 200, cases[0].body, 2, &r), GW_OK);
    assert_string_equal(r.provider_refund_id, "21012300000123");
    assert_int_equal(zt_answer(t, 502, "", 2, &r), GW_ERR_UNAVAILABLE);
    assert_int_equal(r.outcome, GW_REFUND_PENDING);
}

static void test_redirect_z6(void **state)
{
    struct zt *t = *state;
    (void)snprintf(t->buf, sizeof(t->buf),
                   "appid=2553&apptransid=240115_HS2024000123&pmcid=38&bankcode=zalopayapp"
                   "&amount=1250000&discountamount=0&status=1&checksum=%s",
                   "1e6f5f7ca858b977f8488e7f5bdd9c4cf2070d87a25a147f5008fe6ffa05d056");
    struct gw_adapter_input in = { .method = "GET", .query = t->buf, .query_len = strlen(t->buf) };
    assert_int_equal(gw_adapter_zalopay.return_parse(&cfg, &in, &t->arena, &t->res, &t->eb), GW_OK);
    assert_string_equal(t->res.merchant_ref, "HS2024000123");
    assert_int_equal(t->res.amount_vnd, 1250000);
    assert_int_equal(t->res.outcome, GW_PAY_SUCCEEDED);
    char *status = strstr(t->buf, "status=1");
    status[7] = '2';
    assert_int_equal(gw_adapter_zalopay.return_parse(&cfg, &in, &t->arena, &t->res, &t->eb),
                     GW_ERR_AUTH);
    in.query = "appid=2553";
    in.query_len = strlen(in.query);
    assert_int_equal(gw_adapter_zalopay.return_parse(&cfg, &in, &t->arena, &t->res, &t->eb),
                     GW_ERR_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mac_vectors, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_callback_z1, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_callback_tampered, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_callback_invalid, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_replies, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_create_z2, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_create_answer, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_query_z3, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_query_answer, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_z4_z5, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_refund_answer, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_redirect_z6, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
