/* The VNPAY 2.1.0 side (docs/providers.md#vnpay-210): the payment page at
 * /vnpay/paymentv2/vpcpay.html checking vnp_SecureHash as VNPAY does
 * (docs/providers.md#vnpay-signing), the IPN by GET to the merchant's registered URL with VNPAY's
 * retry rule (docs/providers.md#vnpay-ipn-and-return), the browser's return, and querydr and refund
 * at /vnpay/merchant_webapi/api/transaction (docs/providers.md#vnpay-querydr, #vnpay-refund).
 * Written from docs/providers.md alone, independently of adapters/vnpay.c, so that each checks the
 * other. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "banksim.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_time.h"
#include "gw_url.h"

#include "banned.h"

#define VNPAY_PAIRS_MAX     64
/* VNPAY calls the IPN at most 10 times in all (docs/providers.md#vnpay-ipn-and-return). */
#define VNPAY_IPN_CALLS_MAX 10
#define VNPAY_TXN_NO_FIRST  14000001
#define VNPAY_PAY_PATH      "/vnpay/paymentv2/vpcpay.html"

/* The pay request fields that must be present (docs/providers.md#vnpay-pay-request); every other
 * vnp_ field is hashed too. */
static const char *const vnpay_pay_required[] = {
    "vnp_Version",   "vnp_Command",    "vnp_TmnCode", "vnp_Amount",    "vnp_CreateDate",
    "vnp_CurrCode",  "vnp_IpAddr",     "vnp_Locale",  "vnp_OrderInfo", "vnp_OrderType",
    "vnp_ReturnUrl", "vnp_ExpireDate", "vnp_TxnRef",
};

/* docs/providers.md#vnpay-querydr and #vnpay-refund: the pipe-joined checksum fields, as data. */
static const char *const vnpay_querydr_req[] = {
    "vnp_RequestId",       "vnp_Version",    "vnp_Command", "vnp_TmnCode",   "vnp_TxnRef",
    "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr",  "vnp_OrderInfo",
};
static const char *const vnpay_querydr_resp[] = {
    "vnp_ResponseId", "vnp_Command",       "vnp_ResponseCode",    "vnp_Message",
    "vnp_TmnCode",    "vnp_TxnRef",        "vnp_Amount",          "vnp_BankCode",
    "vnp_PayDate",    "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
    "vnp_OrderInfo",  "vnp_PromotionCode", "vnp_PromotionAmount",
};
static const char *const vnpay_refund_req[] = {
    "vnp_RequestId",       "vnp_Version",  "vnp_Command",    "vnp_TmnCode",
    "vnp_TransactionType", "vnp_TxnRef",   "vnp_Amount",     "vnp_TransactionNo",
    "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr",
    "vnp_OrderInfo",
};
/* A refund answer is hashed over the first 13 of the querydr answer's fields
 * (docs/providers.md#vnpay-refund). */
#define VNPAY_REFUND_RESP_N 13

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The packed fields of a payment (bs_txn.ext). */
enum {
    VX_ORDER_INFO,
    VX_RETURN_URL,
    VX_CREATE_DATE,
    VX_PAY_DATE,
    VX_BANK_CODE,
    VX_N
};

/* ... and of a refund. */
enum {
    VR_TXN_REF,
    VR_TYPE,
    VR_PAY_DATE,
    VR_BANK_CODE,
    VR_N
};

static struct {
    struct bs_sim *sim;
    struct bs_store store;   /* payments by vnp_TxnRef */
    struct bs_store refunds; /* refunds by vnp_RequestId */
    const char *tmn;
    const char *secret;
    const char *ipn_url;
    uint64_t txn_no; /* the next vnp_TransactionNo */
} vnpay;

static enum gw_err vnpay_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb);
static void vnpay_stop(void);
static enum gw_err vnpay_statement(int64_t day_start_s, struct gw_buf *out);

const struct bs_provider bs_provider_vnpay = {
    .name = "vnpay",
    .summary = "VNPAY 2.1.0: GET " VNPAY_PAY_PATH " (page), IPN by GET to --vnpay-ipn-url, "
               "POST /vnpay/merchant_webapi/api/transaction (querydr, refund)",
    .start = vnpay_start,
    .stop = vnpay_stop,
    .statement = vnpay_statement,
    .statement_ext = "csv",
};

/* ---- docs/providers.md#vnpay-signing: the hash ---- */

static int vnpay_kv_cmp(const void *a, const void *b)
{
    const struct gw_kv *const *x = a;
    const struct gw_kv *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

/* The hashed data of pairs: every non-empty vnp_ field but the hash itself, sorted by name,
 * PHP-urlencoded, joined with '&'; and its HMAC-SHA512 into mac. */
static enum gw_err vnpay_hash(const struct gw_kv *kv, size_t n, struct gw_buf *data,
                              char mac[GW_SHA512_HEX_BYTES])
{
    const struct gw_kv *sorted[VNPAY_PAIRS_MAX];
    size_t m = 0;
    for (size_t i = 0; i < n && m < VNPAY_PAIRS_MAX; i++) {
        if (strncmp(kv[i].key, "vnp_", 4) != 0 || strcmp(kv[i].key, "vnp_SecureHash") == 0 ||
            strcmp(kv[i].key, "vnp_SecureHashType") == 0 || kv[i].value[0] == '\0') {
            continue;
        }
        sorted[m++] = &kv[i];
    }
    qsort(sorted, m, sizeof(sorted[0]), vnpay_kv_cmp); /* NOLINT(bugprone-sizeof-expression) */
    enum gw_err err = GW_OK;
    for (size_t i = 0; i < m && err == GW_OK; i++) {
        if (i > 0) {
            err = gw_buf_addc(data, '&');
        }
        if (err == GW_OK) {
            err = gw_form_encode(data, sorted[i]->key, strlen(sorted[i]->key));
        }
        if (err == GW_OK) {
            err = gw_buf_addc(data, '=');
        }
        if (err == GW_OK) {
            err = gw_form_encode(data, sorted[i]->value, strlen(sorted[i]->value));
        }
    }
    if (err == GW_OK) {
        gw_hmac_sha512_hex(vnpay.secret, strlen(vnpay.secret), data->data, data->len, mac);
    }
    return err;
}

/* The HMAC-SHA512 of fields joined by '|' (docs/providers.md#vnpay-querydr, #vnpay-refund): absent
 * values are empty. */
static void vnpay_pipe_mac(json_t *o, const char *const *names, size_t n,
                           char mac[GW_SHA512_HEX_BYTES])
{
    struct gw_buf b;
    gw_buf_init(&b, (size_t)64 * 1024);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(o, names[i]));
        GW_ASSERT((i == 0 || gw_buf_addc(&b, '|') == GW_OK) &&
                  gw_buf_adds(&b, v != NULL ? v : "") == GW_OK);
    }
    gw_hmac_sha512_hex(vnpay.secret, strlen(vnpay.secret), b.data, b.len, mac);
    gw_buf_release(&b);
}

/* ---- the result: IPN and return (docs/providers.md#vnpay-ipn-and-return) ---- */

/* The result parameters of t as a signed query string; forge spoils it (bs_plan). */
static enum gw_err vnpay_result_query(const struct bs_txn *t, enum bs_forge forge,
                                      struct gw_buf *out)
{
    bool ok = t->status == BS_SUCCEEDED;
    char amount[24];
    char tampered[24];
    (void)snprintf(amount, sizeof(amount), "%" PRId64, t->amount_vnd * 100);
    (void)snprintf(tampered, sizeof(tampered), "%" PRId64, (t->amount_vnd + 1000) * 100);
    char bank_tran[40];
    (void)snprintf(bank_tran, sizeof(bank_tran), "VNP%s", t->txn_id);
    const struct gw_kv kv[] = {
        { "vnp_Amount", amount },
        { "vnp_BankCode", bs_ext_get(t->ext, VX_N, VX_BANK_CODE) },
        { "vnp_BankTranNo", ok ? bank_tran : "" },
        { "vnp_CardType", "ATM" },
        { "vnp_OrderInfo", bs_ext_get(t->ext, VX_N, VX_ORDER_INFO) },
        { "vnp_PayDate", bs_ext_get(t->ext, VX_N, VX_PAY_DATE) },
        { "vnp_ResponseCode", ok ? "00" : "24" },
        { "vnp_TmnCode", vnpay.tmn },
        { "vnp_TransactionNo", t->txn_id },
        { "vnp_TransactionStatus", ok ? "00" : "02" },
        { "vnp_TxnRef", t->merchant_ref },
    };
    char mac[GW_SHA512_HEX_BYTES];
    enum gw_err err = vnpay_hash(kv, N_OF(kv), out, mac);
    if (err != GW_OK) {
        return err;
    }
    if (forge == BS_FORGE_SIGNATURE) {
        mac[0] = mac[0] == '0' ? '1' : '0';
    }
    if (forge == BS_FORGE_AMOUNT) {
        /* Signed over the true amount, then the amount changed on the way. */
        struct gw_buf again;
        gw_buf_init(&again, out->len_max);
        err = gw_buf_printf(&again, "vnp_Amount=%s%s", tampered,
                            out->data + strlen("vnp_Amount=") + strlen(amount));
        if (err == GW_OK) {
            gw_buf_reset(out);
            err = gw_buf_add(out, again.data, again.len);
        }
        gw_buf_release(&again);
    }
    if (err == GW_OK) {
        err = gw_buf_printf(out, "&vnp_SecureHash=%s", mac);
    }
    return err;
}

/* url + '?' or '&' + the signed result. */
static char *vnpay_result_url(struct gw_arena *a, const char *url, const struct bs_txn *t,
                              enum bs_forge forge)
{
    struct gw_buf q;
    gw_buf_init(&q, (size_t)16 * 1024);
    char *s = NULL;
    if (vnpay_result_query(t, forge, &q) == GW_OK) {
        s = gw_arena_printf(a, "%s%c%s", url, strchr(url, '?') != NULL ? '&' : '?', q.data);
    }
    gw_buf_release(&q);
    return s;
}

/* docs/providers.md#vnpay-ipn-and-return: 00 and 02 stop; 01, 04, 97, 99, anything else and no
 * answer: call again. */
static enum bs_answer vnpay_judge(int status, const char *body, size_t len, char code[16])
{
    json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *rsp = json_string_value(json_object_get(j, "RspCode"));
    if (rsp != NULL) {
        (void)snprintf(code, 16, "%s", rsp);
    } else {
        (void)snprintf(code, 16, "http_%d", status);
    }
    bool stop = rsp != NULL && (strcmp(rsp, "00") == 0 || strcmp(rsp, "02") == 0);
    json_decref(j);
    return stop ? BS_ANSWER_DONE : BS_ANSWER_RETRY;
}

/* Records the decision, calls the IPN (with the faults) and sends the browser back. */
static void vnpay_decide(struct evhttp_request *req, struct gw_arena *a, struct bs_txn *t,
                         bool approve)
{
    t->status = approve ? BS_SUCCEEDED : BS_FAILED;
    t->decided_ms = gw_now_ms();
    t->paid_at = t->decided_ms / 1000;
    (void)snprintf(t->txn_id, sizeof(t->txn_id), "%" PRIu64, vnpay.txn_no++);
    char pay_date[15];
    gw_time_compact_vn((time_t)t->paid_at, pay_date);
    const char *f[VX_N];
    for (size_t i = 0; i < VX_N; i++) {
        f[i] = bs_ext_get(t->ext, VX_N, i);
    }
    f[VX_PAY_DATE] = pay_date;
    if (f[VX_BANK_CODE][0] == '\0' || strcmp(f[VX_BANK_CODE], "VNBANK") == 0) {
        f[VX_BANK_CODE] = "NCB";
    }
    char *ext = bs_ext_new(f, VX_N);
    gw_xfree(t->ext);
    t->ext = ext;
    struct bs_plan plan;
    bs_fault_plan(vnpay.sim, BS_PROV_VNPAY, approve, t->expires_ms, &plan);
    const char *location =
        vnpay_result_url(a, bs_ext_get(t->ext, VX_N, VX_RETURN_URL), t, BS_FORGE_NONE);
    struct bs_callback cb = {
        .url = vnpay_result_url(a, vnpay.ipn_url, t, BS_FORGE_NONE),
        .merchant_ref = t->merchant_ref,
        .prov = BS_PROV_VNPAY,
        .get = true,
        .judge = vnpay_judge,
        .attempts_max = VNPAY_IPN_CALLS_MAX,
        .interval_ms = vnpay.sim->opts->callback_interval_ms,
    };
    gw_log_info("payment_decided",
                "\"provider\":\"vnpay\",\"merchant_ref\":\"%s\",\"txn_no\":\"%s\","
                "\"status\":\"%s\",\"amount_vnd\":%" PRId64,
                t->merchant_ref, t->txn_id, approve ? "succeeded" : "failed", t->amount_vnd);
    if (plan.forge != BS_FORGE_NONE && cb.url != NULL) {
        struct bs_callback forged = cb;
        forged.url = vnpay_result_url(a, vnpay.ipn_url, t, plan.forge);
        if (forged.url != NULL) {
            bs_send_forged(vnpay.sim, &forged);
        }
    }
    struct gw_errbuf eb = { .msg = "out of memory" };
    if (location == NULL || cb.url == NULL ||
        bs_send(vnpay.sim, &cb, &plan, req, location, &eb) != GW_OK) {
        gw_log_warn("callback_not_started", "\"merchant_ref\":\"%s\",\"reason\":\"%s\"",
                    t->merchant_ref, eb.msg);
        bs_reply_page(req, 503, "Bận · Busy",
                      "<p>Thử lại sau. <span class=\"en\">Try again "
                      "later.</span></p>");
        return;
    }
    vnpay.sim->stats.approved += approve;
    vnpay.sim->stats.declined += !approve;
}

/* ---- the payment page ---- */

/* A page with VNPAY's code for an error (the codes of docs/providers.md#vnpay-codes). */
static void vnpay_error_page(struct evhttp_request *req, int status, const char *code,
                             const char *why)
{
    struct gw_buf b;
    gw_buf_init(&b, 2048);
    if (gw_buf_printf(&b, "<p>Mã lỗi <span class=\"en\">Error code</span>: %s</p><p>", code) !=
            GW_OK ||
        gw_buf_add_html_escaped(&b, why) != GW_OK || gw_buf_adds(&b, "</p>") != GW_OK) {
        gw_buf_reset(&b);
    }
    bs_reply_page(req, status, "Giao dịch lỗi · Transaction error", gw_buf_str(&b));
    gw_buf_release(&b);
}

/* Sets the refusal reason (and code) for the callers below; false. */
static bool vnpay_no(const char **code, const char *code_value, const char **why,
                     const char *why_value)
{
    if (code != NULL) {
        *code = code_value;
    }
    *why = why_value;
    return false;
}

static const char *bs_why_str(const char **msg, const char *msg_value, const char *code)
{
    *msg = msg_value;
    return code;
}

/* Checks the pay request's hash and fields (docs/providers.md#vnpay-pay-request, #vnpay-signing);
 * the reason goes to why. */
static bool vnpay_pay_valid(const struct gw_kv *kv, size_t n, int64_t *amount_vnd,
                            int64_t *expires_ms, const char **why, const char **code)
{
    struct gw_buf data;
    gw_buf_init(&data, (size_t)64 * 1024);
    char mac[GW_SHA512_HEX_BYTES];
    const char *got = gw_kv_get(kv, n, "vnp_SecureHash");
    bool hash_ok = vnpay_hash(kv, n, &data, mac) == GW_OK && got != NULL &&
                   gw_hex_equal_ct(got, strlen(got), mac, GW_SHA512_HEX_BYTES - 1);
    gw_buf_release(&data);
    *code = "97";
    if (!hash_ok) {
        return vnpay_no(NULL, NULL, why, "invalid signature");
    }
    *code = "03";
    for (size_t i = 0; i < N_OF(vnpay_pay_required); i++) {
        const char *v = gw_kv_get(kv, n, vnpay_pay_required[i]);
        if (v == NULL || v[0] == '\0') {
            return vnpay_no(NULL, NULL, why, vnpay_pay_required[i]);
        }
    }
    int64_t amount = 0;
    time_t expire = 0;
    if (strcmp(gw_kv_get(kv, n, "vnp_Version"), "2.1.0") != 0 ||
        strcmp(gw_kv_get(kv, n, "vnp_Command"), "pay") != 0 ||
        strcmp(gw_kv_get(kv, n, "vnp_CurrCode"), "VND") != 0) {
        return vnpay_no(NULL, NULL, why, "vnp_Version, vnp_Command or vnp_CurrCode");
    }
    if (strcmp(gw_kv_get(kv, n, "vnp_TmnCode"), vnpay.tmn) != 0) {
        return vnpay_no(code, "02", why, "invalid merchant");
    }
    if (!bs_parse_int64(gw_kv_get(kv, n, "vnp_Amount"), 100, GW_AMOUNT_VND_MAX * 100, &amount) ||
        amount % 100 != 0) {
        return vnpay_no(NULL, NULL, why, "vnp_Amount");
    }
    if (!bs_ref_ok(gw_kv_get(kv, n, "vnp_TxnRef"), BS_REF_BYTES_MAX)) {
        return vnpay_no(NULL, NULL, why, "vnp_TxnRef");
    }
    if (gw_time_parse_compact_vn(gw_kv_get(kv, n, "vnp_ExpireDate"), &expire) != GW_OK ||
        gw_time_parse_compact_vn(gw_kv_get(kv, n, "vnp_CreateDate"), &(time_t){ 0 }) != GW_OK) {
        return vnpay_no(NULL, NULL, why, "vnp_CreateDate or vnp_ExpireDate");
    }
    if (!bs_url_ok(gw_kv_get(kv, n, "vnp_ReturnUrl"), true)) {
        return vnpay_no(NULL, NULL, why, "vnp_ReturnUrl");
    }
    *amount_vnd = amount / 100;
    *expires_ms = (int64_t)expire * 1000;
    return true;
}

/* A new pending payment from a verified request; NULL when the store is full. */
static struct bs_txn *vnpay_add(const struct gw_kv *kv, size_t n, int64_t amount_vnd,
                                int64_t expires_ms)
{
    struct bs_txn *t = NULL;
    if (bs_store_add(&vnpay.store, gw_kv_get(kv, n, "vnp_TxnRef"), &t) != GW_OK) {
        return NULL;
    }
    const char *bank = gw_kv_get(kv, n, "vnp_BankCode");
    const char *f[VX_N] = {
        [VX_ORDER_INFO] = gw_kv_get(kv, n, "vnp_OrderInfo"),
        [VX_RETURN_URL] = gw_kv_get(kv, n, "vnp_ReturnUrl"),
        [VX_CREATE_DATE] = gw_kv_get(kv, n, "vnp_CreateDate"),
        [VX_PAY_DATE] = "",
        [VX_BANK_CODE] = bank != NULL ? bank : "",
    };
    t->ext = bs_ext_new(f, VX_N);
    t->amount_vnd = amount_vnd;
    t->expires_ms = expires_ms;
    t->created_ms = gw_now_ms();
    return t;
}

/* A verified request: refuse, send back, show the page or decide. */
/* Shows the page for a pending (or new) payment, or records the payer's decision. */
static void vnpay_pay_act(struct evhttp_request *req, struct gw_arena *a, struct bs_txn *t,
                          const struct gw_kv *kv, size_t n, int64_t amount_vnd, int64_t expires_ms,
                          const char *query)
{
    int action = bs_page_action(vnpay.sim, req, a);
    if (action == -2) {
        vnpay_error_page(req, 400, "03", "action must be approve or decline");
        return;
    }
    if (t == NULL && (t = vnpay_add(kv, n, amount_vnd, expires_ms)) == NULL) {
        vnpay_error_page(req, 503, "99", "transaction store is full");
        return;
    }
    if (action >= 0) {
        vnpay_decide(req, a, t, action == 1);
        return;
    }
    vnpay.sim->stats.pages_shown++;
    const char *const rows[][2] = {
        { "Đơn vị <span class=\"en\">Merchant</span>", vnpay.tmn },
        { "Mã tham chiếu <span class=\"en\">Reference</span>", t->merchant_ref },
        { "Nội dung <span class=\"en\">Description</span>",
          bs_ext_get(t->ext, VX_N, VX_ORDER_INFO) },
    };
    const char *action_url = gw_arena_printf(a, VNPAY_PAY_PATH "?%s", query);
    bs_show_page(req, "VNPAY", rows, N_OF(rows), amount_vnd, action_url != NULL ? action_url : "",
                 bs_ext_get(t->ext, VX_N, VX_RETURN_URL));
}

static void vnpay_pay_verified(struct evhttp_request *req, struct gw_arena *a,
                               const struct gw_kv *kv, size_t n, int64_t amount_vnd,
                               int64_t expires_ms, const char *query)
{
    struct bs_txn *t = bs_store_find(&vnpay.store, gw_kv_get(kv, n, "vnp_TxnRef"));
    bool as_5xx = false;
    if (t != NULL && t->amount_vnd != amount_vnd) {
        vnpay_error_page(req, 409, "01", "transaction already exists");
    } else if (t != NULL && t->status != BS_PENDING) {
        /* Decided before (a reload or a second click): send the browser back again. */
        const char *loc =
            vnpay_result_url(a, bs_ext_get(t->ext, VX_N, VX_RETURN_URL), t, BS_FORGE_NONE);
        if (loc != NULL) {
            bs_reply_redirect(req, loc);
        } else {
            bs_reply_page(req, 500, "Lỗi · Error", "<p>out of memory</p>");
        }
    } else if (gw_now_ms() > expires_ms) {
        vnpay_error_page(req, 410, "11", "payment window expired");
    } else if (t == NULL && bs_fault_create(vnpay.sim, BS_PROV_VNPAY, &as_5xx)) {
        if (as_5xx) {
            bs_reply_page(req, 503, "Bận · Busy", "<p>simulated failure</p>");
        } else {
            vnpay_error_page(req, 200, "99", "simulated error");
        }
    } else {
        vnpay_pay_act(req, a, t, kv, n, amount_vnd, expires_ms, query);
    }
}

static void vnpay_pay_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)1024 * 1024);
    size_t len = 0;
    const char *q = bs_request_query(req, &len);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    int64_t amount_vnd = 0;
    int64_t expires_ms = 0;
    const char *why = "malformed query string";
    const char *code = "03";
    if (gw_form_parse(&a, q, len, VNPAY_PAIRS_MAX, &kv, &n) == GW_OK &&
        vnpay_pay_valid(kv, n, &amount_vnd, &expires_ms, &why, &code)) {
        vnpay_pay_verified(req, &a, kv, n, amount_vnd, expires_ms, q);
    } else {
        gw_log_warn("pay_refused", "\"provider\":\"vnpay\",\"code\":\"%s\",\"reason\":\"%s\"", code,
                    why);
        vnpay_error_page(req, strcmp(code, "97") == 0 ? 403 : 400, code, why);
    }
    gw_arena_release(&a);
}

/* ---- docs/providers.md#vnpay-querydr, #vnpay-refund: the transaction API ---- */

/* The answer: fields (in the checksum order of names) and their signature. */
static void vnpay_api_answer(struct evhttp_request *req, json_t *resp, const char *const *names,
                             size_t n)
{
    char response_id[24];
    (void)snprintf(response_id, sizeof(response_id), "%016" PRIx64, bs_rand(vnpay.sim));
    json_object_set_new(resp, "vnp_ResponseId", json_string(response_id));
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(resp, names[i]) == NULL) {
            json_object_set_new(resp, names[i], json_string(""));
        }
    }
    char mac[GW_SHA512_HEX_BYTES];
    vnpay_pipe_mac(resp, names, n, mac);
    json_object_set_new(resp, "vnp_SecureHash", json_string(mac));
    char *body = json_dumps(resp, JSON_COMPACT | JSON_PRESERVE_ORDER);
    GW_ASSERT(body != NULL);
    bs_api_reply(vnpay.sim, BS_PROV_VNPAY, req, body, strlen(body));
    gw_libc_free(body);
}

static void vnpay_set(json_t *o, const char *key, const char *value)
{
    json_object_set_new(o, key, json_string(value));
}

static void vnpay_set_amount(json_t *o, int64_t amount_vnd)
{
    char s[24];
    (void)snprintf(s, sizeof(s), "%" PRId64, amount_vnd * 100);
    vnpay_set(o, "vnp_Amount", s);
}

/* The latest refund of the payment merchant_ref, or NULL. */
static const struct bs_txn *vnpay_last_refund(const char *merchant_ref)
{
    const struct bs_txn *last = NULL;
    for (size_t i = 0; i < vnpay.refunds.txns_len; i++) {
        const struct bs_txn *r = &vnpay.refunds.txns[i];
        const char *ref = bs_ext_get(r->ext, VR_N, VR_TXN_REF);
        if (ref != NULL && strcmp(ref, merchant_ref) == 0) {
            last = r;
        }
    }
    return last;
}

/* querydr of a verified request into resp. After a refund, the answer is about the latest
 * refund: its type (02 full, 03 partial) and status, as VNPAY's querydr reports it. */
static void vnpay_querydr(json_t *in, json_t *resp)
{
    const char *ref = json_string_value(json_object_get(in, "vnp_TxnRef"));
    const struct bs_txn *t = ref != NULL ? bs_store_find(&vnpay.store, ref) : NULL;
    if (t == NULL) {
        vnpay_set(resp, "vnp_ResponseCode", "91");
        vnpay_set(resp, "vnp_Message", "Transaction not found");
        return;
    }
    static const char *const status[] = {
        [BS_PENDING] = "01", [BS_SUCCEEDED] = "00", [BS_FAILED] = "02"
    };
    vnpay_set(resp, "vnp_ResponseCode", "00");
    vnpay_set(resp, "vnp_Message", "QueryDR Success");
    vnpay_set_amount(resp, t->amount_vnd);
    vnpay_set(resp, "vnp_BankCode", bs_ext_get(t->ext, VX_N, VX_BANK_CODE));
    vnpay_set(resp, "vnp_PayDate", bs_ext_get(t->ext, VX_N, VX_PAY_DATE));
    vnpay_set(resp, "vnp_TransactionNo", t->txn_id);
    const struct bs_txn *refund = t->refunded_vnd > 0 ? vnpay_last_refund(t->merchant_ref) : NULL;
    const char *type = refund != NULL ? bs_ext_get(refund->ext, VR_N, VR_TYPE) : NULL;
    vnpay_set(resp, "vnp_TransactionType", type != NULL ? type : "01");
    vnpay_set(resp, "vnp_TransactionStatus", type != NULL ? "00" : status[t->status]);
    vnpay_set(resp, "vnp_OrderInfo", bs_ext_get(t->ext, VX_N, VX_ORDER_INFO));
}

/* Checks a refund request against its payment; the response code or NULL when it may go. */
static const char *vnpay_refund_check(json_t *in, const struct bs_txn *t, int64_t *amount_vnd,
                                      const char **msg)
{
    const char *type = json_string_value(json_object_get(in, "vnp_TransactionType"));
    const char *amount = json_string_value(json_object_get(in, "vnp_Amount"));
    const char *no = json_string_value(json_object_get(in, "vnp_TransactionNo"));
    const char *request_id = json_string_value(json_object_get(in, "vnp_RequestId"));
    int64_t a = 0;
    if (type == NULL || (strcmp(type, "02") != 0 && strcmp(type, "03") != 0) || amount == NULL ||
        !bs_parse_int64(amount, 100, GW_AMOUNT_VND_MAX * 100, &a) || a % 100 != 0 ||
        request_id == NULL || !bs_ref_ok(request_id, 32)) {
        return bs_why_str(msg, "Invalid format", "03");
    }
    if (t == NULL ||
        (no != NULL && no[0] != '\0' && strcmp(no, "0") != 0 && strcmp(no, t->txn_id) != 0)) {
        return bs_why_str(msg, "Transaction not found", "91");
    }
    if (bs_store_find(&vnpay.refunds, request_id) != NULL) {
        return bs_why_str(msg, "Refund already requested", "94");
    }
    if (t->status != BS_SUCCEEDED) {
        return bs_why_str(msg, "Original transaction not successful", "95");
    }
    *amount_vnd = a / 100;
    bool full = strcmp(type, "02") == 0;
    if (*amount_vnd > t->amount_vnd - t->refunded_vnd ||
        (full && (*amount_vnd != t->amount_vnd || t->refunded_vnd != 0))) {
        return bs_why_str(msg, "Invalid amount", "03");
    }
    return NULL;
}

/* refund of a verified request into resp: booked at once (status 00). */
static void vnpay_refund(json_t *in, json_t *resp)
{
    const char *ref = json_string_value(json_object_get(in, "vnp_TxnRef"));
    struct bs_txn *t = ref != NULL ? bs_store_find(&vnpay.store, ref) : NULL;
    int64_t amount_vnd = 0;
    const char *msg = NULL;
    const char *code = vnpay_refund_check(in, t, &amount_vnd, &msg);
    struct bs_txn *r = NULL;
    if (code == NULL &&
        bs_store_add(&vnpay.refunds, json_string_value(json_object_get(in, "vnp_RequestId")), &r) !=
            GW_OK) {
        code = bs_why_str(&msg, "refund store is full", "99");
    }
    if (code != NULL) {
        vnpay_set(resp, "vnp_ResponseCode", code);
        vnpay_set(resp, "vnp_Message", msg);
        return;
    }
    const char *type = json_string_value(json_object_get(in, "vnp_TransactionType"));
    r->amount_vnd = amount_vnd;
    r->status = BS_SUCCEEDED;
    r->decided_ms = gw_now_ms();
    r->paid_at = r->decided_ms / 1000;
    (void)snprintf(r->txn_id, sizeof(r->txn_id), "%" PRIu64, vnpay.txn_no++);
    char date[15];
    gw_time_compact_vn((time_t)r->paid_at, date);
    const char *f[VR_N] = { t->merchant_ref, type, date, bs_ext_get(t->ext, VX_N, VX_BANK_CODE) };
    r->ext = bs_ext_new(f, VR_N);
    t->refunded_vnd += amount_vnd;
    vnpay_set(resp, "vnp_ResponseCode", "00");
    vnpay_set(resp, "vnp_Message", "Refund success");
    vnpay_set_amount(resp, amount_vnd);
    vnpay_set(resp, "vnp_BankCode", f[VR_BANK_CODE]);
    vnpay_set(resp, "vnp_PayDate", date);
    vnpay_set(resp, "vnp_TransactionNo", r->txn_id);
    vnpay_set(resp, "vnp_TransactionType", type);
    vnpay_set(resp, "vnp_TransactionStatus", "00");
    vnpay_set(resp, "vnp_OrderInfo", json_string_value(json_object_get(in, "vnp_OrderInfo")));
}

/* Every field a string: the checksum is over raw strings. */
static bool vnpay_all_strings(json_t *in)
{
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
    {
        if (!json_is_string(v)) {
            return false;
        }
    }
    return true;
}

static void vnpay_api_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        bs_reply(req, 405, "application/json", "{}", 2);
        return;
    }
    if (!bs_fault_api_begin(vnpay.sim, BS_PROV_VNPAY, req)) {
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)64 * 1024);
    char *body = NULL;
    size_t len = 0;
    json_t *in = bs_request_body(req, &a, &body, &len) == GW_OK
                     ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)
                     : NULL;
    const char *cmd = json_string_value(json_object_get(in, "vnp_Command"));
    bool refund = cmd != NULL && strcmp(cmd, "refund") == 0;
    bool querydr = cmd != NULL && strcmp(cmd, "querydr") == 0;
    json_t *resp = json_object();
    vnpay_set(resp, "vnp_Command", cmd != NULL ? cmd : "");
    vnpay_set(resp, "vnp_TmnCode", vnpay.tmn);
    const char *ref = json_string_value(json_object_get(in, "vnp_TxnRef"));
    vnpay_set(resp, "vnp_TxnRef", ref != NULL ? ref : "");
    const char *got = json_string_value(json_object_get(in, "vnp_SecureHash"));
    char mac[GW_SHA512_HEX_BYTES] = "";
    if (refund || querydr) {
        vnpay_pipe_mac(in, refund ? vnpay_refund_req : vnpay_querydr_req,
                       refund ? N_OF(vnpay_refund_req) : N_OF(vnpay_querydr_req), mac);
    }
    const char *tmn = json_string_value(json_object_get(in, "vnp_TmnCode"));
    if (!json_is_object(in) || !vnpay_all_strings(in) || !(refund || querydr)) {
        vnpay_set(resp, "vnp_ResponseCode", "03");
        vnpay_set(resp, "vnp_Message", "Invalid format");
    } else if (got == NULL || !gw_hex_equal_ct(got, strlen(got), mac, GW_SHA512_HEX_BYTES - 1)) {
        vnpay_set(resp, "vnp_ResponseCode", "97");
        vnpay_set(resp, "vnp_Message", "Invalid checksum");
    } else if (tmn == NULL || strcmp(tmn, vnpay.tmn) != 0) {
        vnpay_set(resp, "vnp_ResponseCode", "02");
        vnpay_set(resp, "vnp_Message", "Invalid TmnCode");
    } else if (refund) {
        vnpay_refund(in, resp);
    } else {
        vnpay_querydr(in, resp);
    }
    vnpay_api_answer(req, resp, vnpay_querydr_resp,
                     refund ? VNPAY_REFUND_RESP_N : N_OF(vnpay_querydr_resp));
    json_decref(resp);
    json_decref(in);
    gw_arena_release(&a);
}

/* ---- the statement (README.md: VNPAY CSV) ---- */

static enum gw_err vnpay_statement(int64_t day_start_s, struct gw_buf *out)
{
    struct bs_stmt_row *rows = NULL;
    size_t n = 0;
    bs_statement_rows(&vnpay.store, &vnpay.refunds, day_start_s, &rows, &n);
    enum gw_err err = gw_buf_adds(out, "vnp_TmnCode,vnp_TxnRef,vnp_TransactionNo,"
                                       "vnp_TransactionType,vnp_Amount,vnp_FeeAmount,"
                                       "vnp_PayDate,vnp_BankCode,vnp_TransactionStatus\r\n");
    int64_t fee_bp = vnpay.sim->opts->fee_bp[BS_PROV_VNPAY];
    for (size_t i = 0; i < n && err == GW_OK; i++) {
        const struct bs_txn *t = rows[i].t;
        if (rows[i].refund) {
            err = gw_buf_printf(out, "%s,%s,%s,%s,%" PRId64 ",0,%s,%s,00\r\n", vnpay.tmn,
                                bs_ext_get(t->ext, VR_N, VR_TXN_REF), t->txn_id,
                                bs_ext_get(t->ext, VR_N, VR_TYPE), t->amount_vnd * 100,
                                bs_ext_get(t->ext, VR_N, VR_PAY_DATE),
                                bs_ext_get(t->ext, VR_N, VR_BANK_CODE));
        } else {
            err = gw_buf_printf(
                out, "%s,%s,%s,01,%" PRId64 ",%" PRId64 ",%s,%s,00\r\n", vnpay.tmn, t->merchant_ref,
                t->txn_id, t->amount_vnd * 100, bs_fee_vnd(t->amount_vnd, fee_bp) * 100,
                bs_ext_get(t->ext, VX_N, VX_PAY_DATE), bs_ext_get(t->ext, VX_N, VX_BANK_CODE));
        }
    }
    gw_xfree(rows);
    return err;
}

/* ---- start and stop ---- */

static enum gw_err vnpay_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb)
{
    const struct bs_options *o = sim->opts;
    *on = o->vnpay_tmn != NULL && o->vnpay_tmn[0] != '\0' && o->vnpay_secret != NULL &&
          o->vnpay_secret[0] != '\0';
    if (!*on) {
        return GW_OK;
    }
    if (o->vnpay_ipn_url == NULL || !bs_url_ok(o->vnpay_ipn_url, false)) {
        return gw_fail(eb, GW_ERR_INVALID, "--vnpay-ipn-url must be an absolute http url");
    }
    vnpay.sim = sim;
    vnpay.tmn = o->vnpay_tmn;
    vnpay.secret = o->vnpay_secret;
    vnpay.ipn_url = o->vnpay_ipn_url;
    vnpay.txn_no = VNPAY_TXN_NO_FIRST;
    bs_store_init(&vnpay.store, BS_PROVIDER_TXNS_MAX);
    bs_store_init(&vnpay.refunds, BS_PROVIDER_TXNS_MAX);
    if (evhttp_set_cb(sim->http, VNPAY_PAY_PATH, vnpay_pay_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/vnpay/merchant_webapi/api/transaction", vnpay_api_cb, NULL) !=
            0) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not register the vnpay routes");
    }
    return GW_OK;
}

static void vnpay_stop(void)
{
    bs_store_release(&vnpay.store);
    bs_store_release(&vnpay.refunds);
}
