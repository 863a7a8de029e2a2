/* The MoMo AIO v2 side (docs/providers.md#momo-v2): /momo/v2/gateway/api/create checking the raw
 * signature string (docs/providers.md#momo-create) and answering a payUrl on this simulator, the
 * payment page, the IPN POSTed as JSON to ipnUrl (docs/providers.md#momo-ipn-and-redirect, the
 * merchant answers 204), the browser's return, and /momo/v2/gateway/api/query and /refund
 * (docs/providers.md#momo-query-and-refund). Written from docs/providers.md alone, independently of
 * adapters/momo.c, so that each checks the other. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "banksim.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_time.h"
#include "gw_url.h"

#include "banned.h"

#define MOMO_IPN_CALLS_MAX 5            /* not documented by MoMo: the simulator's choice */
#define MOMO_TRANS_BASE    4088000001LL /* transId of the payment at store index 0 */
#define MOMO_REFUND_BASE   5088000001LL /* transId of the refund at store index 0 */
#define MOMO_AMOUNT_MIN    1000
#define MOMO_AMOUNT_MAX    50000000
#define MOMO_EXPIRE_MS     ((int64_t)100 * 60 * 1000) /* a payUrl lives 100 minutes (assumed) */
#define MOMO_PAGE_PATH     "/momo/v2/gateway/pay"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* docs/providers.md#momo-create, #momo-ipn-and-redirect, #momo-query-and-refund: the raw signature
 * fields, as data (accessKey comes from configuration). */
static const char *const momo_create_sig[] = {
    "accessKey", "amount",      "extraData",   "ipnUrl",    "orderId",
    "orderInfo", "partnerCode", "redirectUrl", "requestId", "requestType",
};
static const char *const momo_ipn_sig[] = {
    "accessKey",   "amount",  "extraData", "message",      "orderId",    "orderInfo", "orderType",
    "partnerCode", "payType", "requestId", "responseTime", "resultCode", "transId",
};
static const char *const momo_query_sig[] = { "accessKey", "orderId", "partnerCode", "requestId" };
static const char *const momo_refund_sig[] = {
    "accessKey", "amount", "description", "orderId", "partnerCode", "requestId", "transId",
};

/* The packed fields of a payment. */
enum {
    MX_REQUEST_ID,
    MX_ORDER_INFO,
    MX_REDIRECT_URL,
    MX_IPN_URL,
    MX_EXTRA_DATA,
    MX_TOKEN,
    MX_RESPONSE_TIME,
    MX_N
};

/* ... and of a refund. */
enum {
    MR_ORDER_ID,
    MR_TRANS_ID,
    MR_N
};

static struct {
    struct bs_sim *sim;
    struct bs_store store;   /* payments by orderId */
    struct bs_store refunds; /* refunds by their own orderId */
    const char *partner;
    const char *access_key;
    const char *secret_key;
} momo;

static enum gw_err momo_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb);
static void momo_stop(void);
static enum gw_err momo_statement(int64_t day_start_s, struct gw_buf *out);

const struct bs_provider bs_provider_momo = {
    .name = "momo",
    .summary = "MoMo v2: POST /momo/v2/gateway/api/create, page at " MOMO_PAGE_PATH
               ", IPN POST to ipnUrl, POST /momo/v2/gateway/api/query and /refund",
    .start = momo_start,
    .stop = momo_stop,
    .statement = momo_statement,
    .statement_ext = "csv",
};

/* ---- signatures ---- */

/* A JSON value as text for a signature: strings verbatim, integers in plain decimal. */
static const char *momo_text(json_t *v, char tmp[24])
{
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        (void)snprintf(tmp, 24, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return tmp;
    }
    return "";
}

/* HMAC-SHA256(secretKey, "k1=v1&k2=v2...") over names taken from o (accessKey from config). */
static void momo_sign(json_t *o, const char *const *names, size_t n, char mac[GW_SHA256_HEX_BYTES])
{
    struct gw_buf b;
    gw_buf_init(&b, (size_t)64 * 1024);
    for (size_t i = 0; i < n; i++) {
        char tmp[24];
        const char *v = strcmp(names[i], "accessKey") == 0
                            ? momo.access_key
                            : momo_text(json_object_get(o, names[i]), tmp);
        GW_ASSERT(gw_buf_printf(&b, "%s%s=", i > 0 ? "&" : "", names[i]) == GW_OK &&
                  gw_buf_adds(&b, v) == GW_OK);
    }
    gw_hmac_sha256_hex(momo.secret_key, strlen(momo.secret_key), b.data, b.len, mac);
    gw_buf_release(&b);
}

/* True when o carries a lowercase signature equal to ours over names. */
static bool momo_verify(json_t *o, const char *const *names, size_t n)
{
    const char *got = json_string_value(json_object_get(o, "signature"));
    char mac[GW_SHA256_HEX_BYTES];
    momo_sign(o, names, n, mac);
    return got != NULL && bs_hex_lower(got) &&
           gw_hex_equal_ct(got, strlen(got), mac, GW_SHA256_HEX_BYTES - 1);
}

/* Replies with o (JSON), through the query faults when api is set. */
static void momo_reply(struct evhttp_request *req, json_t *o, int status, bool api)
{
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    GW_ASSERT(body != NULL);
    if (api && status == 200) {
        bs_api_reply(momo.sim, BS_PROV_MOMO, req, body, strlen(body));
    } else {
        bs_reply(req, status, "application/json", body, strlen(body));
    }
    gw_libc_free(body);
}

/* The common answer fields. */
static json_t *momo_answer(json_t *in, int result, const char *message)
{
    json_t *o = json_object();
    json_object_set_new(o, "partnerCode", json_string(momo.partner));
    json_t *v = json_object_get(in, "requestId");
    json_object_set_new(o, "requestId", json_is_string(v) ? json_copy(v) : json_string(""));
    v = json_object_get(in, "orderId");
    json_object_set_new(o, "orderId", json_is_string(v) ? json_copy(v) : json_string(""));
    json_object_set_new(o, "resultCode", json_integer(result));
    json_object_set_new(o, "message", json_string(message));
    json_object_set_new(o, "responseTime", json_integer(gw_now_ms()));
    return o;
}

/* The request body as a JSON object, or NULL. */
static json_t *momo_body(struct evhttp_request *req, struct gw_arena *a)
{
    char *body = NULL;
    size_t len = 0;
    if (bs_request_body(req, a, &body, &len) != GW_OK) {
        return NULL;
    }
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- create (docs/providers.md#momo-create) ---- */

static bool momo_has_strings(json_t *in, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!json_is_string(json_object_get(in, names[i]))) {
            return false;
        }
    }
    return true;
}

static int bs_why_int(const char **msg, const char *msg_value, int code)
{
    *msg = msg_value;
    return code;
}

/* Checks a create request; its resultCode and message when refused, 0 when it may go. */
static int momo_create_check(json_t *in, const char **msg)
{
    static const char *const strings[] = { "partnerCode", "requestId",   "orderId",
                                           "orderInfo",   "redirectUrl", "ipnUrl",
                                           "requestType", "extraData",   "signature" };
    if (!momo_has_strings(in, strings, N_OF(strings)) ||
        !json_is_integer(json_object_get(in, "amount"))) {
        return bs_why_int(msg, "Bad format request.", 20);
    }
    if (!momo_verify(in, momo_create_sig, N_OF(momo_create_sig))) {
        return bs_why_int(msg, "Merchant authentication failed.", 13);
    }
    if (strcmp(json_string_value(json_object_get(in, "partnerCode")), momo.partner) != 0) {
        return bs_why_int(msg, "Access denied.", 11);
    }
    json_int_t amount = json_integer_value(json_object_get(in, "amount"));
    if (amount < MOMO_AMOUNT_MIN || amount > MOMO_AMOUNT_MAX) {
        return bs_why_int(msg, "Amount out of range.", 22);
    }
    const char *type = json_string_value(json_object_get(in, "requestType"));
    if (!bs_ref_ok(json_string_value(json_object_get(in, "orderId")), BS_REF_BYTES_MAX) ||
        !bs_url_ok(json_string_value(json_object_get(in, "ipnUrl")), false) ||
        !bs_url_ok(json_string_value(json_object_get(in, "redirectUrl")), true) ||
        (strcmp(type, "captureWallet") != 0 && strcmp(type, "payWithATM") != 0 &&
         strcmp(type, "payWithCC") != 0 && strcmp(type, "payWithMethod") != 0)) {
        return bs_why_int(msg, "Bad format request.", 20);
    }
    if (bs_store_find(&momo.store, json_string_value(json_object_get(in, "orderId"))) != NULL) {
        return bs_why_int(msg, "Duplicated orderId.", 41);
    }
    return 0;
}

/* Records a checked create request as a pending payment; NULL when the store is full. */
static struct bs_txn *momo_add(json_t *in)
{
    struct bs_txn *t = NULL;
    if (bs_store_add(&momo.store, json_string_value(json_object_get(in, "orderId")), &t) != GW_OK) {
        return NULL;
    }
    char token[24];
    (void)snprintf(token, sizeof(token), "%016" PRIx64, bs_rand(momo.sim));
    const char *f[MX_N] = {
        [MX_REQUEST_ID] = json_string_value(json_object_get(in, "requestId")),
        [MX_ORDER_INFO] = json_string_value(json_object_get(in, "orderInfo")),
        [MX_REDIRECT_URL] = json_string_value(json_object_get(in, "redirectUrl")),
        [MX_IPN_URL] = json_string_value(json_object_get(in, "ipnUrl")),
        [MX_EXTRA_DATA] = json_string_value(json_object_get(in, "extraData")),
        [MX_TOKEN] = token,
        [MX_RESPONSE_TIME] = "0",
    };
    t->ext = bs_ext_new(f, MX_N);
    t->amount_vnd = (int64_t)json_integer_value(json_object_get(in, "amount"));
    t->created_ms = gw_now_ms();
    t->expires_ms = t->created_ms + MOMO_EXPIRE_MS;
    return t;
}

static void momo_create_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)64 * 1024);
    json_t *in = evhttp_request_get_command(req) == EVHTTP_REQ_POST ? momo_body(req, &a) : NULL;
    const char *msg = "Successful.";
    int result = in != NULL ? momo_create_check(in, &msg) : 20;
    bool as_5xx = false;
    struct bs_txn *t = NULL;
    if (in == NULL) {
        msg = "Bad format request.";
    }
    if (result == 0 && bs_fault_create(momo.sim, BS_PROV_MOMO, &as_5xx)) {
        result = 99;
        msg = "Unknown error (simulated).";
    } else if (result == 0 && (t = momo_add(in)) == NULL) {
        result = 99;
        msg = "Transaction store is full.";
    }
    json_t *o = momo_answer(in, result, msg);
    if (t != NULL) {
        const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
        char *url = gw_arena_printf(&a, "http://%s" MOMO_PAGE_PATH "?orderId=%s&t=%s",
                                    host != NULL ? host : momo.sim->opts->listen, t->merchant_ref,
                                    bs_ext_get(t->ext, MX_N, MX_TOKEN));
        json_object_set_new(o, "amount", json_integer(t->amount_vnd));
        json_object_set_new(o, "payUrl", json_string(url != NULL ? url : ""));
        json_object_set_new(o, "deeplink", json_string(""));
        json_object_set_new(o, "qrCodeUrl", json_string(""));
    }
    if (result != 0) {
        gw_log_warn("create_refused", "\"provider\":\"momo\",\"result\":%d", result);
    }
    momo_reply(req, o, result == 99 && as_5xx ? 503 : in == NULL ? 400 : 200, false);
    json_decref(o);
    json_decref(in);
    gw_arena_release(&a);
}

/* ---- the result: IPN and return (docs/providers.md#momo-ipn-and-redirect) ---- */

/* The IPN fields of t, signed; forge spoils them (bs_plan). */
static json_t *momo_result(const struct bs_txn *t, enum bs_forge forge)
{
    bool ok = t->status == BS_SUCCEEDED;
    int64_t trans_id = 0;
    int64_t response_time = 0;
    (void)bs_parse_int64(t->txn_id, 0, INT64_MAX, &trans_id);
    (void)bs_parse_int64(bs_ext_get(t->ext, MX_N, MX_RESPONSE_TIME), 0, INT64_MAX, &response_time);
    json_t *o = json_object();
    json_object_set_new(o, "partnerCode", json_string(momo.partner));
    json_object_set_new(o, "orderId", json_string(t->merchant_ref));
    json_object_set_new(o, "requestId", json_string(bs_ext_get(t->ext, MX_N, MX_REQUEST_ID)));
    json_object_set_new(o, "amount", json_integer(t->amount_vnd));
    json_object_set_new(o, "orderInfo", json_string(bs_ext_get(t->ext, MX_N, MX_ORDER_INFO)));
    json_object_set_new(o, "orderType", json_string("momo_wallet"));
    json_object_set_new(o, "transId", json_integer(trans_id));
    json_object_set_new(o, "resultCode", json_integer(ok ? 0 : 1006));
    json_object_set_new(o, "message",
                        json_string(ok ? "Successful." : "Transaction denied by user."));
    json_object_set_new(o, "payType", json_string("qr"));
    json_object_set_new(o, "responseTime", json_integer(response_time));
    json_object_set_new(o, "extraData", json_string(bs_ext_get(t->ext, MX_N, MX_EXTRA_DATA)));
    char mac[GW_SHA256_HEX_BYTES];
    momo_sign(o, momo_ipn_sig, N_OF(momo_ipn_sig), mac);
    if (forge == BS_FORGE_SIGNATURE) {
        mac[0] = mac[0] == '0' ? '1' : '0';
    }
    if (forge == BS_FORGE_AMOUNT) {
        json_object_set_new(o, "amount", json_integer(t->amount_vnd + 1000));
    }
    json_object_set_new(o, "signature", json_string(mac));
    return o;
}

/* redirectUrl + '?' or '&' + every IPN field form-encoded. */
static char *momo_return_url(struct gw_arena *a, const struct bs_txn *t)
{
    json_t *o = momo_result(t, BS_FORGE_NONE);
    const char *url = bs_ext_get(t->ext, MX_N, MX_REDIRECT_URL);
    struct gw_buf b;
    gw_buf_init(&b, (size_t)32 * 1024);
    enum gw_err err = gw_buf_printf(&b, "%s%c", url, strchr(url, '?') != NULL ? '&' : '?');
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(o, key, v)
    {
        char tmp[24];
        const char *s = momo_text(v, tmp);
        if (err == GW_OK) {
            err = gw_buf_printf(&b, "%s%s=", i++ > 0 ? "&" : "", key);
        }
        if (err == GW_OK) {
            err = gw_form_encode(&b, s, strlen(s));
        }
    }
    char *out = err == GW_OK ? gw_arena_strndup(a, b.data, b.len) : NULL;
    gw_buf_release(&b);
    json_decref(o);
    return out;
}

/* MoMo wants 204 (any 2xx stops it); anything else, or no answer: call again. */
static enum bs_answer momo_judge(int status, const char *body, size_t len, char code[16])
{
    (void)body;
    (void)len;
    (void)snprintf(code, 16, "%d", status);
    return status >= 200 && status < 300 ? BS_ANSWER_DONE : BS_ANSWER_RETRY;
}

/* Sends one IPN built from t with forge applied. */
static char *momo_ipn_body(const struct bs_txn *t, enum bs_forge forge)
{
    json_t *o = momo_result(t, forge);
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    GW_ASSERT(body != NULL);
    json_decref(o);
    return body;
}

static void momo_decide(struct evhttp_request *req, struct gw_arena *a, struct bs_txn *t,
                        bool approve)
{
    t->status = approve ? BS_SUCCEEDED : BS_FAILED;
    t->decided_ms = gw_now_ms();
    t->paid_at = t->decided_ms / 1000;
    (void)snprintf(t->txn_id, sizeof(t->txn_id), "%lld",
                   MOMO_TRANS_BASE + (long long)(t - momo.store.txns));
    const char *f[MX_N];
    for (size_t i = 0; i < MX_N; i++) {
        f[i] = bs_ext_get(t->ext, MX_N, i);
    }
    char rt[24];
    (void)snprintf(rt, sizeof(rt), "%" PRId64, t->decided_ms);
    f[MX_RESPONSE_TIME] = rt;
    char *ext = bs_ext_new(f, MX_N);
    gw_xfree(t->ext);
    t->ext = ext;
    struct bs_plan plan;
    bs_fault_plan(momo.sim, BS_PROV_MOMO, approve, t->expires_ms, &plan);
    char *body = momo_ipn_body(t, BS_FORGE_NONE);
    struct bs_callback cb = {
        .url = bs_ext_get(t->ext, MX_N, MX_IPN_URL),
        .body = body,
        .body_len = strlen(body),
        .merchant_ref = t->merchant_ref,
        .prov = BS_PROV_MOMO,
        .judge = momo_judge,
        .attempts_max = MOMO_IPN_CALLS_MAX,
        .interval_ms = momo.sim->opts->callback_interval_ms,
    };
    if (plan.forge != BS_FORGE_NONE) {
        char *forged_body = momo_ipn_body(t, plan.forge);
        struct bs_callback forged = cb;
        forged.body = forged_body;
        forged.body_len = strlen(forged_body);
        bs_send_forged(momo.sim, &forged);
        gw_libc_free(forged_body);
    }
    const char *location = momo_return_url(a, t);
    struct gw_errbuf eb = { .msg = "out of memory" };
    if (location == NULL || bs_send(momo.sim, &cb, &plan, req, location, &eb) != GW_OK) {
        gw_log_warn("callback_not_started", "\"merchant_ref\":\"%s\",\"reason\":\"%s\"",
                    t->merchant_ref, eb.msg);
        bs_reply_page(req, 503, "Bận · Busy",
                      "<p>Thử lại sau. <span class=\"en\">Try again "
                      "later.</span></p>");
    } else {
        momo.sim->stats.approved += approve;
        momo.sim->stats.declined += !approve;
    }
    gw_libc_free(body);
}

/* ---- the page ---- */

static void momo_page_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)1024 * 1024);
    size_t len = 0;
    const char *q = bs_request_query(req, &len);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    struct bs_txn *t = NULL;
    if (gw_form_parse(&a, q, len, 4, &kv, &n) == GW_OK && gw_kv_get(kv, n, "orderId") != NULL) {
        t = bs_store_find(&momo.store, gw_kv_get(kv, n, "orderId"));
    }
    const char *token = gw_kv_get(kv, n, "t");
    int action = -2;
    if (t == NULL || token == NULL || strcmp(token, bs_ext_get(t->ext, MX_N, MX_TOKEN)) != 0) {
        bs_reply_page(req, 404, "Không tìm thấy · Not found", "<p>unknown payment</p>");
    } else if (t->status != BS_PENDING) {
        const char *loc = momo_return_url(&a, t);
        bs_reply_redirect(req, loc != NULL ? loc : "/");
    } else if (gw_now_ms() > t->expires_ms) {
        bs_reply_page(req, 410, "Hết hạn · Expired", "<p>resultCode 1005</p>");
    } else if ((action = bs_page_action(momo.sim, req, &a)) == -2) {
        bs_reply_page(req, 400, "Yêu cầu sai · Bad request", "<p>action</p>");
    } else if (action >= 0) {
        momo_decide(req, &a, t, action == 1);
    } else {
        momo.sim->stats.pages_shown++;
        const char *const rows[][2] = {
            { "Đối tác <span class=\"en\">Partner</span>", momo.partner },
            { "Mã đơn <span class=\"en\">Order</span>", t->merchant_ref },
            { "Nội dung <span class=\"en\">Description</span>",
              bs_ext_get(t->ext, MX_N, MX_ORDER_INFO) },
        };
        const char *url = gw_arena_printf(&a, MOMO_PAGE_PATH "?%s", q);
        bs_show_page(req, "MoMo", rows, N_OF(rows), t->amount_vnd, url != NULL ? url : "",
                     bs_ext_get(t->ext, MX_N, MX_REDIRECT_URL));
    }
    gw_arena_release(&a);
}

/* ---- query and refund (docs/providers.md#momo-query-and-refund) ---- */

/* The refunds of payment t, for the query answer (a scan: refunds are few). */
static json_t *momo_refund_list(const struct bs_txn *t)
{
    json_t *list = json_array();
    for (size_t i = 0; i < momo.refunds.txns_len; i++) {
        const struct bs_txn *r = &momo.refunds.txns[i];
        if (strcmp(bs_ext_get(r->ext, MR_N, MR_ORDER_ID), t->merchant_ref) != 0) {
            continue;
        }
        int64_t trans_id = 0;
        (void)bs_parse_int64(r->txn_id, 0, INT64_MAX, &trans_id);
        json_array_append_new(list, json_pack("{s:s,s:I,s:i,s:I,s:I}", "orderId", r->merchant_ref,
                                              "amount", (json_int_t)r->amount_vnd, "resultCode", 0,
                                              "transId", (json_int_t)trans_id, "createdTime",
                                              (json_int_t)r->decided_ms));
    }
    return list;
}

static json_t *momo_query(json_t *in)
{
    const char *order_id = json_string_value(json_object_get(in, "orderId"));
    const struct bs_txn *t = order_id != NULL ? bs_store_find(&momo.store, order_id) : NULL;
    const struct bs_txn *r =
        order_id != NULL && t == NULL ? bs_store_find(&momo.refunds, order_id) : NULL;
    if (r != NULL) { /* a refund's own orderId: its outcome, amount and transId */
        json_t *o = momo_answer(in, 0, "Successful.");
        int64_t trans_id = 0;
        (void)bs_parse_int64(r->txn_id, 0, INT64_MAX, &trans_id);
        json_object_set_new(o, "extraData", json_string(""));
        json_object_set_new(o, "amount", json_integer(r->amount_vnd));
        json_object_set_new(o, "transId", json_integer(trans_id));
        json_object_set_new(o, "payType", json_string(""));
        json_object_set_new(o, "refundTrans", json_array());
        json_object_set_new(o, "lastUpdated", json_integer(r->decided_ms));
        return o;
    }
    if (t == NULL) {
        return momo_answer(in, 42, "Invalid orderId or orderId is not found.");
    }
    static const int codes[] = { [BS_PENDING] = 1000, [BS_SUCCEEDED] = 0, [BS_FAILED] = 1006 };
    static const char *const msgs[] = { [BS_PENDING] = "Transaction initiated.",
                                        [BS_SUCCEEDED] = "Successful.",
                                        [BS_FAILED] = "Transaction denied by user." };
    json_t *o = momo_answer(in, codes[t->status], msgs[t->status]);
    int64_t trans_id = 0;
    (void)bs_parse_int64(t->txn_id, 0, INT64_MAX, &trans_id);
    json_object_set_new(o, "extraData", json_string(bs_ext_get(t->ext, MX_N, MX_EXTRA_DATA)));
    json_object_set_new(o, "amount", json_integer(t->amount_vnd));
    json_object_set_new(o, "transId", json_integer(trans_id));
    json_object_set_new(o, "payType", json_string(t->status == BS_PENDING ? "" : "qr"));
    json_object_set_new(o, "refundTrans", momo_refund_list(t));
    json_object_set_new(o, "lastUpdated",
                        json_integer(t->decided_ms > 0 ? t->decided_ms : t->created_ms));
    return o;
}

/* The payment a refund names by transId (its store index is in the number). */
static struct bs_txn *momo_by_trans_id(json_t *v)
{
    if (!json_is_integer(v)) {
        return NULL;
    }
    json_int_t idx = json_integer_value(v) - MOMO_TRANS_BASE;
    if (idx < 0 || (size_t)idx >= momo.store.txns_len) {
        return NULL;
    }
    struct bs_txn *t = &momo.store.txns[idx];
    char s[24];
    (void)snprintf(s, sizeof(s), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return strcmp(t->txn_id, s) == 0 ? t : NULL;
}

static json_t *momo_refund(json_t *in)
{
    const char *order_id = json_string_value(json_object_get(in, "orderId"));
    json_t *amount = json_object_get(in, "amount");
    struct bs_txn *t = momo_by_trans_id(json_object_get(in, "transId"));
    if (!bs_ref_ok(order_id, BS_REF_BYTES_MAX) || !json_is_integer(amount) ||
        json_integer_value(amount) < 1) {
        return momo_answer(in, 20, "Bad format request.");
    }
    if (t == NULL) {
        return momo_answer(in, 42, "Invalid transId.");
    }
    if (bs_store_find(&momo.refunds, order_id) != NULL) {
        return momo_answer(in, 41, "Duplicated orderId.");
    }
    if (t->status != BS_SUCCEEDED || json_integer_value(amount) > t->amount_vnd - t->refunded_vnd) {
        return momo_answer(in, 1080, "Refund refused: amount or original transaction.");
    }
    struct bs_txn *r = NULL;
    if (bs_store_add(&momo.refunds, order_id, &r) != GW_OK) {
        return momo_answer(in, 99, "Refund store is full.");
    }
    r->amount_vnd = (int64_t)json_integer_value(amount);
    r->status = BS_SUCCEEDED;
    r->decided_ms = gw_now_ms();
    r->paid_at = r->decided_ms / 1000;
    (void)snprintf(r->txn_id, sizeof(r->txn_id), "%lld",
                   MOMO_REFUND_BASE + (long long)(r - momo.refunds.txns));
    const char *f[MR_N] = { t->merchant_ref, t->txn_id };
    r->ext = bs_ext_new(f, MR_N);
    t->refunded_vnd += r->amount_vnd;
    json_t *o = momo_answer(in, 0, "Successful.");
    int64_t trans_id = 0;
    (void)bs_parse_int64(r->txn_id, 0, INT64_MAX, &trans_id);
    json_object_set_new(o, "amount", json_integer(r->amount_vnd));
    json_object_set_new(o, "transId", json_integer(trans_id));
    return o;
}

/* POST query or refund: faults, signature, partner, then the operation. */
static void momo_api(struct evhttp_request *req, bool refund)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        bs_reply(req, 405, "application/json", "{}", 2);
        return;
    }
    if (!bs_fault_api_begin(momo.sim, BS_PROV_MOMO, req)) {
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)64 * 1024);
    json_t *in = momo_body(req, &a);
    json_t *o = NULL;
    const char *partner = json_string_value(json_object_get(in, "partnerCode"));
    if (in == NULL) {
        o = momo_answer(NULL, 20, "Bad format request.");
    } else if (!momo_verify(in, refund ? momo_refund_sig : momo_query_sig,
                            refund ? N_OF(momo_refund_sig) : N_OF(momo_query_sig))) {
        o = momo_answer(in, 13, "Merchant authentication failed.");
    } else if (partner == NULL || strcmp(partner, momo.partner) != 0) {
        o = momo_answer(in, 11, "Access denied.");
    } else {
        o = refund ? momo_refund(in) : momo_query(in);
    }
    momo_reply(req, o, 200, true);
    json_decref(o);
    json_decref(in);
    gw_arena_release(&a);
}

static void momo_query_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    momo_api(req, false);
}

static void momo_refund_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    momo_api(req, true);
}

/* ---- the statement (README.md: MoMo CSV) ---- */

static enum gw_err momo_statement(int64_t day_start_s, struct gw_buf *out)
{
    struct bs_stmt_row *rows = NULL;
    size_t n = 0;
    bs_statement_rows(&momo.store, &momo.refunds, day_start_s, &rows, &n);
    enum gw_err err = gw_buf_adds(out, "partnerCode,orderId,transId,type,originalOrderId,"
                                       "originalTransId,amount,fee,time,resultCode\r\n");
    int64_t fee_bp = momo.sim->opts->fee_bp[BS_PROV_MOMO];
    for (size_t i = 0; i < n && err == GW_OK; i++) {
        const struct bs_txn *t = rows[i].t;
        char when[26];
        gw_time_rfc3339_vn((time_t)(t->decided_ms / 1000), when);
        if (rows[i].refund) {
            err = gw_buf_printf(out, "%s,%s,%s,refund,%s,%s,%" PRId64 ",0,%s,0\r\n", momo.partner,
                                t->merchant_ref, t->txn_id, bs_ext_get(t->ext, MR_N, MR_ORDER_ID),
                                bs_ext_get(t->ext, MR_N, MR_TRANS_ID), t->amount_vnd, when);
        } else {
            err = gw_buf_printf(out, "%s,%s,%s,payment,,,%" PRId64 ",%" PRId64 ",%s,0\r\n",
                                momo.partner, t->merchant_ref, t->txn_id, t->amount_vnd,
                                bs_fee_vnd(t->amount_vnd, fee_bp), when);
        }
    }
    gw_xfree(rows);
    return err;
}

/* ---- start and stop ---- */

static enum gw_err momo_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb)
{
    const struct bs_options *o = sim->opts;
    *on = o->momo_partner != NULL && o->momo_partner[0] != '\0' && o->momo_access_key != NULL &&
          o->momo_access_key[0] != '\0' && o->momo_secret_key != NULL &&
          o->momo_secret_key[0] != '\0';
    if (!*on) {
        return GW_OK;
    }
    momo.sim = sim;
    momo.partner = o->momo_partner;
    momo.access_key = o->momo_access_key;
    momo.secret_key = o->momo_secret_key;
    bs_store_init(&momo.store, BS_PROVIDER_TXNS_MAX);
    bs_store_init(&momo.refunds, BS_PROVIDER_TXNS_MAX);
    if (evhttp_set_cb(sim->http, "/momo/v2/gateway/api/create", momo_create_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, MOMO_PAGE_PATH, momo_page_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/momo/v2/gateway/api/query", momo_query_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/momo/v2/gateway/api/refund", momo_refund_cb, NULL) != 0) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not register the momo routes");
    }
    return GW_OK;
}

static void momo_stop(void)
{
    bs_store_release(&momo.store);
    bs_store_release(&momo.refunds);
}
