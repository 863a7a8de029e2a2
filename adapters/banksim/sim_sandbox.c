/* The bank side of the sandbox protocol (docs/architecture.md, "The sandbox protocol"):
 * the payment page at /sandbox/pay, the signed callback to ipn_url, the browser's return,
 * and /sandbox/query. Written from the protocol text, independently of adapters/sandbox.c,
 * so that each checks the other. */
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

#define SANDBOX_SIG_HEADER "X-Sandbox-Signature"
#define SANDBOX_SIG_PARAM  "&sig="

/* Field orders of the signed query strings (docs/providers.md#sandbox-checkout, #sandbox-query). */
static const char *const sandbox_pay_fields[] = {
    "merchant_id", "merchant_ref", "amount_vnd", "order_info",
    "return_url",  "ipn_url",      "expires_at",
};
static const char *const sandbox_query_fields[] = { "merchant_id", "merchant_ref" };
static const char *const sandbox_refund_query_fields[] = { "merchant_id", "refund_id" };

/* A refund's provider fields (bs_ext): the payment it refunds and why it was refused. */
enum {
    SR_MERCHANT_REF,
    SR_REASON,
    SR_N
};

#define SANDBOX_REFUND_REASON_MAX 200

enum sandbox_pay_field {
    PAY_MERCHANT_ID,
    PAY_MERCHANT_REF,
    PAY_AMOUNT_VND,
    PAY_ORDER_INFO,
    PAY_RETURN_URL,
    PAY_IPN_URL,
    PAY_EXPIRES_AT,
    PAY_FIELDS,
};

_Static_assert(sizeof(sandbox_pay_fields) / sizeof(sandbox_pay_fields[0]) == PAY_FIELDS,
               "one name per field");

static const char *const sandbox_status_names[] = {
    [BS_PENDING] = "pending",
    [BS_SUCCEEDED] = "succeeded",
    [BS_FAILED] = "failed",
};

/* A verified checkout redirect. */
struct sandbox_pay {
    const char *v[PAY_FIELDS]; /* decoded values, in field order */
    int64_t amount_vnd;
    int64_t expires_at;
};

static struct {
    struct bs_sim *sim;
    struct bs_store store;
    struct bs_store refunds; /* by refund_id */
    const char *merchant_id;
    const char *secret;
} sandbox;

static enum gw_err sandbox_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb);
static void sandbox_stop(void);

const struct bs_provider bs_provider_sandbox = {
    .name = "sandbox",
    .summary = "feegate's own signed protocol: GET /sandbox/pay (payment page), POST "
               "/sandbox/pay (approve or decline), callback to ipn_url, GET /sandbox/query, POST "
               "/sandbox/refund, GET /sandbox/refund_query",
    .start = sandbox_start,
    .stop = sandbox_stop,
};

static bool sandbox_ref_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BS_REF_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* Splits q at its last "&sig=", checks the signature over the exact bytes before it, and
 * parses those bytes, whose keys must be names in order. GW_ERR_AUTH or GW_ERR_INVALID. */
static enum gw_err sandbox_verify_query(struct gw_arena *a, const char *q, size_t len,
                                        const char *const *names, size_t n, struct gw_kv **kv,
                                        struct gw_errbuf *eb)
{
    const size_t tag = sizeof(SANDBOX_SIG_PARAM) - 1;
    size_t i = len;
    while (i >= tag && memcmp(q + i - tag, SANDBOX_SIG_PARAM, tag) != 0) {
        i--;
    }
    if (i < tag) {
        return gw_fail(eb, GW_ERR_AUTH, "no signature");
    }
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(sandbox.secret, strlen(sandbox.secret), q, i - tag, mac);
    if (!gw_hex_equal_ct(q + i, len - i, mac, GW_SHA256_HEX_BYTES - 1)) {
        return gw_fail(eb, GW_ERR_AUTH, "bad signature");
    }
    size_t got = 0;
    if (gw_form_parse(a, q, i - tag, n, kv, &got) != GW_OK || got != n) {
        return gw_fail(eb, GW_ERR_INVALID, "expected exactly %zu fields", n);
    }
    for (size_t k = 0; k < n; k++) {
        if (strcmp((*kv)[k].key, names[k]) != 0) {
            return gw_fail(eb, GW_ERR_INVALID, "expected field %s", names[k]);
        }
    }
    if (strcmp((*kv)[0].value, sandbox.merchant_id) != 0) {
        return gw_fail(eb, GW_ERR_AUTH, "unknown merchant");
    }
    return GW_OK;
}

/* docs/providers.md#sandbox-checkout: verifies and validates a checkout redirect. */
static enum gw_err sandbox_pay_verify(struct gw_arena *a, const char *q, size_t len,
                                      struct sandbox_pay *pay, struct gw_errbuf *eb)
{
    struct gw_kv *kv = NULL;
    enum gw_err err = sandbox_verify_query(a, q, len, sandbox_pay_fields, PAY_FIELDS, &kv, eb);
    if (err != GW_OK) {
        return err;
    }
    for (size_t i = 0; i < PAY_FIELDS; i++) {
        pay->v[i] = kv[i].value;
    }
    if (!sandbox_ref_ok(pay->v[PAY_MERCHANT_REF])) {
        return gw_fail(eb, GW_ERR_INVALID, "merchant_ref is malformed");
    }
    if (!bs_parse_int64(pay->v[PAY_AMOUNT_VND], 1, GW_AMOUNT_VND_MAX, &pay->amount_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "amount_vnd is not a positive integer");
    }
    if (!bs_parse_int64(pay->v[PAY_EXPIRES_AT], 1, INT64_MAX, &pay->expires_at)) {
        return gw_fail(eb, GW_ERR_INVALID, "expires_at is not a unix time");
    }
    if (!bs_url_ok(pay->v[PAY_RETURN_URL], true)) {
        return gw_fail(eb, GW_ERR_INVALID, "return_url is not an absolute http(s) url");
    }
    if (!bs_url_ok(pay->v[PAY_IPN_URL], false)) {
        return gw_fail(eb, GW_ERR_INVALID, "ipn_url is not an absolute http url");
    }
    return GW_OK;
}

/* docs/providers.md#sandbox-callback/#sandbox-query: the status object of t, keys in protocol
 * order. */
static enum gw_err sandbox_status_json(const struct bs_txn *t, struct gw_buf *b)
{
    enum gw_err err = gw_buf_adds(b, "{\"merchant_id\":\"");
    if (err == GW_OK) {
        err = gw_buf_add_json_escaped(b, sandbox.merchant_id);
    }
    if (err == GW_OK) {
        err = gw_buf_printf(b,
                            "\",\"merchant_ref\":\"%s\",\"txn_id\":\"%s\",\"amount_vnd\":%" PRId64
                            ",\"status\":\"%s\",\"paid_at\":%" PRId64 "}",
                            t->merchant_ref, t->txn_id, t->amount_vnd,
                            sandbox_status_names[t->status], t->paid_at);
    }
    return err;
}

/* Replies with a JSON body signed in X-Sandbox-Signature (the 404 too: see adapters/). */
static void sandbox_reply_signed(struct evhttp_request *req, int status, const char *body,
                                 size_t len)
{
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(sandbox.secret, strlen(sandbox.secret), body, len, mac);
    (void)evhttp_add_header(evhttp_request_get_output_headers(req), SANDBOX_SIG_HEADER, mac);
    bs_reply(req, status, "application/json", body, len);
}

/* docs/providers.md#sandbox-return:
 * return_url?merchant_ref=R&status=S&sig=hmac("merchant_ref=R&status=S"). */
static char *sandbox_return_location(struct gw_arena *a, const char *return_url,
                                     const struct bs_txn *t)
{
    char *signed_part = gw_arena_printf(a, "merchant_ref=%s&status=%s", t->merchant_ref,
                                        sandbox_status_names[t->status]);
    if (signed_part == NULL) {
        return NULL;
    }
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(sandbox.secret, strlen(sandbox.secret), signed_part, strlen(signed_part),
                       mac);
    return gw_arena_printf(a, "%s%c%s" SANDBOX_SIG_PARAM "%s", return_url,
                           strchr(return_url, '?') != NULL ? '&' : '?', signed_part, mac);
}

/* 1234567 -> "1.234.567" (Vietnamese digit grouping). */
static void sandbox_format_vnd(int64_t v, char out[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRId64, v);
    GW_ASSERT(n > 0 && n < 20);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[o++] = '.';
        }
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

/* Appends one escaped table row "label / label_en : value". */
static enum gw_err sandbox_page_row(struct gw_buf *b, const char *label, const char *value)
{
    enum gw_err err = gw_buf_printf(b, "<tr><th>%s</th><td>", label);
    if (err == GW_OK) {
        err = gw_buf_add_html_escaped(b, value);
    }
    if (err == GW_OK) {
        err = gw_buf_adds(b, "</td></tr>\n");
    }
    return err;
}

/* The payment page: what is paid, to whom, and the two buttons posting to the same URL. */
static void sandbox_show_page(struct evhttp_request *req, const struct sandbox_pay *pay,
                              const char *query)
{
    char amount[32];
    sandbox_format_vnd(pay->amount_vnd, amount);
    struct gw_buf b;
    gw_buf_init(&b, (size_t)48 * 1024);
    enum gw_err err = gw_buf_adds(&b, "<p>Giao dịch thử nghiệm, không có tiền thật. "
                                      "<span class=\"en\">Test transaction, no real money."
                                      "</span></p>\n<table>\n");
    if (err == GW_OK) {
        err = sandbox_page_row(&b, "Đơn vị <span class=\"en\">Merchant</span>",
                               pay->v[PAY_MERCHANT_ID]);
    }
    if (err == GW_OK) {
        err = sandbox_page_row(&b, "Mã tham chiếu <span class=\"en\">Reference</span>",
                               pay->v[PAY_MERCHANT_REF]);
    }
    if (err == GW_OK) {
        err = sandbox_page_row(&b, "Nội dung <span class=\"en\">Description</span>",
                               pay->v[PAY_ORDER_INFO]);
    }
    if (err == GW_OK) {
        err = gw_buf_printf(&b,
                            "<tr><th>Số tiền <span class=\"en\">Amount</span></th>"
                            "<td><b>%s ₫</b> (VND)</td></tr>\n</table>\n"
                            "<form method=\"post\" action=\"/sandbox/pay?",
                            amount);
    }
    if (err == GW_OK) {
        err = gw_buf_add_html_escaped(&b, query);
    }
    if (err == GW_OK) {
        err = gw_buf_adds(&b, "\">\n<button type=\"submit\" name=\"action\" value=\"approve\">"
                              "Thanh toán · Pay</button>\n<button type=\"submit\" "
                              "name=\"action\" value=\"decline\">Từ chối · Decline</button>\n"
                              "</form>\n");
    }
    if (err != GW_OK) {
        bs_reply_page(req, 500, "Lỗi · Error", "<p>page too large</p>");
    } else {
        bs_send_page(req, &(struct bs_page){ .status = 200,
                                             .title = BS_CONFIRM_TITLE,
                                             .body_html = b.data,
                                             .return_url = pay->v[PAY_RETURN_URL] });
    }
    gw_buf_release(&b);
}

/* Records the payer's decision for pay and starts the callback; the browser gets the return
 * redirect once the callback's first attempt has its answer (bs_deliver). */
static void sandbox_decide(struct evhttp_request *req, struct gw_arena *a,
                           const struct sandbox_pay *pay, bool approve)
{
    struct bs_txn *t = bs_store_find(&sandbox.store, pay->v[PAY_MERCHANT_REF]);
    GW_ASSERT(t != NULL);
    GW_ASSERT(t->status == BS_PENDING);
    t->status = approve ? BS_SUCCEEDED : BS_FAILED;
    t->paid_at = gw_now_ms() / 1000;
    struct gw_buf body;
    gw_buf_init(&body, 4096);
    GW_ASSERT(sandbox_status_json(t, &body) == GW_OK);
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(sandbox.secret, strlen(sandbox.secret), body.data, body.len, mac);
    const char *location = sandbox_return_location(a, pay->v[PAY_RETURN_URL], t);
    const struct bs_callback cb = {
        .url = pay->v[PAY_IPN_URL],
        .body = body.data,
        .body_len = body.len,
        .sig_header = SANDBOX_SIG_HEADER,
        .sig = mac,
        .merchant_ref = t->merchant_ref,
    };
    gw_log_info(
        "payment_decided",
        "\"merchant_ref\":\"%s\",\"txn_id\":\"%s\",\"status\":\"%s\",\"amount_vnd\":%" PRId64,
        t->merchant_ref, t->txn_id, sandbox_status_names[t->status], t->amount_vnd);
    struct gw_errbuf eb = { .msg = "out of memory" };
    if (location == NULL || bs_deliver(sandbox.sim, &cb, req, location, &eb) != GW_OK) {
        /* Nothing was sent: the transaction stays undecided and may be tried again. */
        gw_log_warn("callback_not_started", "\"merchant_ref\":\"%s\",\"reason\":\"%s\"",
                    t->merchant_ref, eb.msg);
        t->status = BS_PENDING;
        t->paid_at = 0;
        bs_reply_page(req, 503, "Bận · Busy",
                      "<p>Thử lại sau. <span class=\"en\">Try again "
                      "later.</span></p>");
    } else if (approve) {
        sandbox.sim->stats.approved++;
    } else {
        sandbox.sim->stats.declined++;
    }
    gw_buf_release(&body);
}

/* The payer's choice: the posted action, --auto on a GET, or none yet (-1). */
static int sandbox_action(struct evhttp_request *req, struct gw_arena *a, bool is_post)
{
    if (!is_post) {
        if (sandbox.sim->opts->auto_mode == BS_AUTO_OFF) {
            return -1;
        }
        return sandbox.sim->opts->auto_mode == BS_AUTO_APPROVE;
    }
    char *body = NULL;
    size_t len = 0;
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (bs_request_body(req, a, &body, &len) != GW_OK ||
        gw_form_parse(a, body, len, 8, &kv, &n) != GW_OK) {
        return -2;
    }
    const char *action = gw_kv_get(kv, n, "action");
    if (action != NULL && strcmp(action, "approve") == 0) {
        return 1;
    }
    if (action != NULL && strcmp(action, "decline") == 0) {
        return 0;
    }
    return -2;
}

/* A verified redirect: show the page, or record the decision and call back. */
static void sandbox_pay_verified(struct evhttp_request *req, struct gw_arena *a,
                                 const struct sandbox_pay *pay, const char *query, bool is_post)
{
    struct bs_txn *t = bs_store_find(&sandbox.store, pay->v[PAY_MERCHANT_REF]);
    if (t != NULL && t->amount_vnd != pay->amount_vnd) {
        bs_reply_page(req, 409, "Mã trùng · Reference reused",
                      "<p>Mã tham chiếu đã dùng với số tiền khác. <span class=\"en\">This "
                      "reference was used with another amount.</span></p>");
        return;
    }
    if (t != NULL && t->status != BS_PENDING) {
        /* Decided before (a reload or a second click): send the browser back again. */
        const char *location = sandbox_return_location(a, pay->v[PAY_RETURN_URL], t);
        if (location != NULL) {
            bs_reply_redirect(req, location);
        } else {
            bs_reply_page(req, 500, "Lỗi · Error", "<p>out of memory</p>");
        }
        return;
    }
    if (gw_now_ms() / 1000 > pay->expires_at) {
        bs_reply_page(req, 410, "Hết hạn · Expired",
                      "<p>Yêu cầu thanh toán đã hết hạn. <span class=\"en\">This payment "
                      "request has expired.</span></p>");
        return;
    }
    int action = sandbox_action(req, a, is_post);
    if (action == -2) {
        bs_reply_page(req, 400, "Yêu cầu sai · Bad request",
                      "<p>action must be approve or decline</p>");
        return;
    }
    if (t == NULL) {
        if (bs_store_add(&sandbox.store, pay->v[PAY_MERCHANT_REF], &t) != GW_OK) {
            bs_reply_page(req, 503, "Đầy · Full", "<p>transaction store is full</p>");
            return;
        }
        bs_txn_id_new(sandbox.sim, "SB", t->txn_id);
        t->amount_vnd = pay->amount_vnd;
    }
    if (action < 0) {
        sandbox.sim->stats.pages_shown++;
        sandbox_show_page(req, pay, query);
        return;
    }
    sandbox_decide(req, a, pay, action == 1);
}

/* GET shows the page (or decides with --auto); POST carries the payer's decision. */
static void sandbox_pay_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST) {
        bs_reply_page(req, 405, "Không hỗ trợ · Method not allowed", "<p>GET or POST</p>");
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)1024 * 1024);
    size_t len = 0;
    const char *q = bs_request_query(req, &len);
    struct sandbox_pay pay;
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = sandbox_pay_verify(&a, q, len, &pay, &eb);
    if (err == GW_OK) {
        sandbox_pay_verified(req, &a, &pay, q, method == EVHTTP_REQ_POST);
    } else {
        gw_log_warn("pay_refused", "\"error\":\"%s\",\"reason\":\"%s\"", gw_err_name(err), eb.msg);
        struct gw_buf b;
        gw_buf_init(&b, 1024);
        if (gw_buf_adds(&b, "<p>") != GW_OK || gw_buf_add_html_escaped(&b, eb.msg) != GW_OK ||
            gw_buf_adds(&b, "</p>") != GW_OK) {
            gw_buf_reset(&b);
        }
        if (err == GW_ERR_AUTH) {
            bs_reply_page(req, 403, "Từ chối · Forbidden", gw_buf_str(&b));
        } else {
            bs_reply_page(req, 400, "Yêu cầu sai · Bad request", gw_buf_str(&b));
        }
        gw_buf_release(&b);
    }
    gw_arena_release(&a);
}

/* docs/providers.md#sandbox-query: the signed status object, pending included, or a signed 404
 * not_found. */
static void sandbox_query_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        static const char body[] = "{\"status\":\"method_not_allowed\"}";
        bs_reply(req, 405, "application/json", body, sizeof(body) - 1);
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)2 * 1024, (size_t)64 * 1024);
    size_t len = 0;
    const char *q = bs_request_query(req, &len);
    struct gw_kv *kv = NULL;
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = sandbox_verify_query(&a, q, len, sandbox_query_fields, 2, &kv, &eb);
    if (err != GW_OK) {
        gw_log_warn("query_refused", "\"error\":\"%s\",\"reason\":\"%s\"", gw_err_name(err),
                    eb.msg);
        static const char forbidden[] = "{\"status\":\"bad_signature\"}";
        static const char invalid[] = "{\"status\":\"invalid\"}";
        if (err == GW_ERR_AUTH) {
            bs_reply(req, 403, "application/json", forbidden, sizeof(forbidden) - 1);
        } else {
            bs_reply(req, 400, "application/json", invalid, sizeof(invalid) - 1);
        }
        gw_arena_release(&a);
        return;
    }
    const struct bs_txn *t = bs_store_find(&sandbox.store, kv[1].value);
    if (t == NULL) {
        static const char not_found[] = "{\"status\":\"not_found\"}";
        sandbox_reply_signed(req, 404, not_found, sizeof(not_found) - 1);
    } else {
        struct gw_buf b;
        gw_buf_init(&b, 4096);
        GW_ASSERT(sandbox_status_json(t, &b) == GW_OK);
        sandbox_reply_signed(req, 200, b.data, b.len);
        gw_buf_release(&b);
    }
    gw_arena_release(&a);
}

/* ---- refunds (docs/providers.md#sandbox-refund, #sandbox-refund-query) ---- */

/* docs/providers.md#sandbox-refund: the signed refund object of r, keys in protocol order. */
/* Whether the stored refund r was for another payment than merchant_ref. */
static bool sr_ref_differs(const struct bs_txn *r, const char *merchant_ref)
{
    const char *have = bs_ext_get(r->ext, SR_N, SR_MERCHANT_REF);
    return have == NULL || merchant_ref == NULL || strcmp(have, merchant_ref) != 0;
}

static void sandbox_refund_reply(struct evhttp_request *req, const struct bs_txn *r, bool api)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "merchant_id", sandbox.merchant_id,
                          "merchant_ref", bs_ext_get(r->ext, SR_N, SR_MERCHANT_REF), "refund_id",
                          r->merchant_ref, "refund_txn_id", r->txn_id, "amount_vnd",
                          (json_int_t)r->amount_vnd, "status", sandbox_status_names[r->status],
                          "reason", bs_ext_get(r->ext, SR_N, SR_REASON));
    GW_ASSERT(o != NULL);
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    GW_ASSERT(body != NULL);
    json_decref(o);
    size_t len = strlen(body);
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(sandbox.secret, strlen(sandbox.secret), body, len, mac);
    (void)evhttp_add_header(evhttp_request_get_output_headers(req), SANDBOX_SIG_HEADER, mac);
    if (api) {
        bs_api_reply(sandbox.sim, BS_PROV_SANDBOX, req, body, len);
    } else {
        bs_reply(req, 200, "application/json", body, len);
    }
    gw_libc_free(body);
}

/* A verified refund request, its members checked. */
struct sandbox_refund_req {
    const char *merchant_ref;
    const char *refund_id;
    int64_t amount_vnd;
};

/* Verifies X-Sandbox-Signature over the body bytes, then reads the request's members. */
static enum gw_err sandbox_refund_verify(struct evhttp_request *req, struct gw_arena *a,
                                         json_t **root, struct sandbox_refund_req *rr,
                                         struct gw_errbuf *eb)
{
    char *body = NULL;
    size_t len = 0;
    if (bs_request_body(req, a, &body, &len) != GW_OK) {
        return gw_fail(eb, GW_ERR_INVALID, "body unreadable or too large");
    }
    const char *sig = evhttp_find_header(evhttp_request_get_input_headers(req), SANDBOX_SIG_HEADER);
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(sandbox.secret, strlen(sandbox.secret), body, len, mac);
    if (sig == NULL || !gw_hex_equal_ct(sig, strlen(sig), mac, GW_SHA256_HEX_BYTES - 1)) {
        return gw_fail(eb, GW_ERR_AUTH, "bad signature");
    }
    json_error_t jerr;
    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *merchant = json_string_value(json_object_get(*root, "merchant_id"));
    const json_t *amount = json_object_get(*root, "amount_vnd");
    const json_t *reason = json_object_get(*root, "reason");
    rr->merchant_ref = json_string_value(json_object_get(*root, "merchant_ref"));
    rr->refund_id = json_string_value(json_object_get(*root, "refund_id"));
    if (merchant == NULL || strcmp(merchant, sandbox.merchant_id) != 0) {
        return gw_fail(eb, GW_ERR_AUTH, "unknown merchant");
    }
    if (rr->merchant_ref == NULL || !sandbox_ref_ok(rr->merchant_ref) || rr->refund_id == NULL ||
        !sandbox_ref_ok(rr->refund_id)) {
        return gw_fail(eb, GW_ERR_INVALID, "merchant_ref or refund_id is malformed");
    }
    if (!json_is_integer(amount) || json_integer_value(amount) < 1 ||
        json_integer_value(amount) > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "amount_vnd is not a positive integer");
    }
    if (!json_is_string(reason) || json_string_length(reason) > SANDBOX_REFUND_REASON_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "reason must be a string of at most 200 bytes");
    }
    rr->amount_vnd = (int64_t)json_integer_value(amount);
    return GW_OK;
}

/* Decides a new refund: never more than what is left of a paid payment. */
static enum gw_err sandbox_refund_make(const struct sandbox_refund_req *rr, struct bs_txn **out)
{
    struct bs_txn *t = bs_store_find(&sandbox.store, rr->merchant_ref);
    const char *reason = t == NULL                                          ? "payment_not_found"
                         : t->status != BS_SUCCEEDED                        ? "not_paid"
                         : rr->amount_vnd > t->amount_vnd - t->refunded_vnd ? "exceeds_paid"
                                                                            : "";
    struct bs_txn *r = NULL;
    enum gw_err err = bs_store_add(&sandbox.refunds, rr->refund_id, &r);
    if (err != GW_OK) {
        return err;
    }
    r->amount_vnd = rr->amount_vnd;
    r->status = reason[0] == '\0' ? BS_SUCCEEDED : BS_FAILED;
    r->decided_ms = gw_now_ms();
    r->paid_at = r->decided_ms / 1000;
    if (r->status == BS_SUCCEEDED) {
        bs_txn_id_new(sandbox.sim, "SR", r->txn_id);
        t->refunded_vnd += rr->amount_vnd;
    }
    const char *f[SR_N] = { rr->merchant_ref, reason };
    r->ext = bs_ext_new(f, SR_N);
    *out = r;
    return GW_OK;
}

/* docs/providers.md#sandbox-refund: POST /sandbox/refund. Idempotent by refund_id: a refund_id seen
 * before gets its first answer again (or failed refund_id_reused when the request differs). */
static void sandbox_refund_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        static const char body[] = "{\"status\":\"method_not_allowed\"}";
        bs_reply(req, 405, "application/json", body, sizeof(body) - 1);
        return;
    }
    if (!bs_fault_api_begin(sandbox.sim, BS_PROV_SANDBOX, req)) {
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)4 * 1024, (size_t)256 * 1024);
    json_t *root = NULL;
    struct sandbox_refund_req rr = { NULL, NULL, 0 };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = sandbox_refund_verify(req, &a, &root, &rr, &eb);
    struct bs_txn *r = err == GW_OK ? bs_store_find(&sandbox.refunds, rr.refund_id) : NULL;
    if (err != GW_OK) {
        gw_log_warn("refund_refused", "\"error\":\"%s\",\"reason\":\"%s\"", gw_err_name(err),
                    eb.msg);
        static const char forbidden[] = "{\"status\":\"bad_signature\"}";
        static const char invalid[] = "{\"status\":\"invalid\"}";
        if (err == GW_ERR_AUTH) {
            bs_reply(req, 403, "application/json", forbidden, sizeof(forbidden) - 1);
        } else {
            bs_reply(req, 400, "application/json", invalid, sizeof(invalid) - 1);
        }
    } else if (r != NULL &&
               (r->amount_vnd != rr.amount_vnd || sr_ref_differs(r, rr.merchant_ref))) {
        struct bs_txn reused = { .status = BS_FAILED, .amount_vnd = rr.amount_vnd };
        const char *f[SR_N] = { rr.merchant_ref, "refund_id_reused" };
        (void)snprintf(reused.merchant_ref, sizeof(reused.merchant_ref), "%s", rr.refund_id);
        reused.ext = bs_ext_new(f, SR_N);
        sandbox_refund_reply(req, &reused, true);
        gw_xfree(reused.ext);
    } else if (r == NULL && sandbox_refund_make(&rr, &r) != GW_OK) {
        static const char full[] = "{\"status\":\"busy\"}";
        bs_reply(req, 503, "application/json", full, sizeof(full) - 1);
    } else {
        gw_log_info("refund_decided",
                    "\"refund_id\":\"%s\",\"status\":\"%s\",\"amount_vnd\":%" PRId64,
                    r->merchant_ref, sandbox_status_names[r->status], r->amount_vnd);
        sandbox_refund_reply(req, r, true);
    }
    json_decref(root);
    gw_arena_release(&a);
}

/* docs/providers.md#sandbox-refund-query: GET /sandbox/refund_query: the signed refund object, or a
 * signed 404 not_found. */
static void sandbox_refund_query_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        static const char body[] = "{\"status\":\"method_not_allowed\"}";
        bs_reply(req, 405, "application/json", body, sizeof(body) - 1);
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)2 * 1024, (size_t)64 * 1024);
    size_t len = 0;
    const char *q = bs_request_query(req, &len);
    struct gw_kv *kv = NULL;
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = sandbox_verify_query(&a, q, len, sandbox_refund_query_fields, 2, &kv, &eb);
    const struct bs_txn *r =
        err == GW_OK && kv != NULL ? bs_store_find(&sandbox.refunds, kv[1].value) : NULL;
    if (err != GW_OK) {
        static const char forbidden[] = "{\"status\":\"bad_signature\"}";
        static const char invalid[] = "{\"status\":\"invalid\"}";
        if (err == GW_ERR_AUTH) {
            bs_reply(req, 403, "application/json", forbidden, sizeof(forbidden) - 1);
        } else {
            bs_reply(req, 400, "application/json", invalid, sizeof(invalid) - 1);
        }
    } else if (r == NULL) {
        static const char not_found[] = "{\"status\":\"not_found\"}";
        sandbox_reply_signed(req, 404, not_found, sizeof(not_found) - 1);
    } else {
        sandbox_refund_reply(req, r, false);
    }
    gw_arena_release(&a);
}

static enum gw_err sandbox_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb)
{
    *on = true; /* always: the gateway's own protocol */
    const struct bs_options *o = sim->opts;
    if (o->sandbox_merchant == NULL || o->sandbox_merchant[0] == '\0' ||
        o->sandbox_secret == NULL || o->sandbox_secret[0] == '\0') {
        return gw_fail(eb, GW_ERR_INVALID, "--sandbox-merchant and --sandbox-secret are required");
    }
    sandbox.sim = sim;
    sandbox.merchant_id = o->sandbox_merchant;
    sandbox.secret = o->sandbox_secret;
    bs_store_init(&sandbox.store, BS_TXNS_MAX);
    bs_store_init(&sandbox.refunds, BS_TXNS_MAX);
    if (evhttp_set_cb(sim->http, "/sandbox/pay", sandbox_pay_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/sandbox/query", sandbox_query_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/sandbox/refund", sandbox_refund_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/sandbox/refund_query", sandbox_refund_query_cb, NULL) != 0) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not register the sandbox routes");
    }
    return GW_OK;
}

static void sandbox_stop(void)
{
    bs_store_release(&sandbox.store);
    bs_store_release(&sandbox.refunds);
}
