/* MoMo payment gateway, AIO v2 (docs/providers.md#momo-v2): server-side create,
 * the IPN (JSON POST, answered 204), the browser redirect, query and refund. Every signature
 * is lowercase hex HMAC-SHA256 under secretKey over a "raw signature string": a fixed,
 * alphabetical list of key=value pairs joined with '&', values not encoded, accessKey (from
 * the configuration, secret2) first. The lists below are the protocol; the code only walks
 * them. */
#include <string.h>

#include "adapter.h"
#include "adapter_int.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_url.h"

#include "banned.h"

#define MOMO_REQUEST_TYPE "captureWallet" /* docs/providers.md#momo-create: MoMo wallet / QR */
#define MOMO_CONTENT_TYPE "application/json; charset=UTF-8"
#define MOMO_ORDER_ID_MAX 50 /* orderId may be 200, requestId 50; we keep both short */

/* docs/providers.md#momo-create: create signature fields, alphabetical. */
static const char *const momo_create_sig[] = {
    "accessKey", "amount",      "extraData",   "ipnUrl",    "orderId",
    "orderInfo", "partnerCode", "redirectUrl", "requestId", "requestType",
};
/* docs/providers.md#momo-create: create body (accessKey is signed but not sent), in this order. */
static const char *const momo_create_body[] = {
    "partnerCode", "requestId",   "amount",    "orderId", "orderInfo", "redirectUrl",
    "ipnUrl",      "requestType", "extraData", "lang",    "signature",
};
/* docs/providers.md#momo-ipn-and-redirect: IPN and redirect signature fields, alphabetical. */
static const char *const momo_ipn_sig[] = {
    "accessKey",   "amount",  "extraData", "message",      "orderId",    "orderInfo", "orderType",
    "partnerCode", "payType", "requestId", "responseTime", "resultCode", "transId",
};
/* docs/providers.md#momo-query-and-refund: query signature and body. */
static const char *const momo_query_sig[] = { "accessKey", "orderId", "partnerCode", "requestId" };
static const char *const momo_query_body[] = { "partnerCode", "requestId", "orderId", "lang",
                                               "signature" };
/* docs/providers.md#momo-query-and-refund: refund signature and body. */
static const char *const momo_refund_sig[] = {
    "accessKey", "amount", "description", "orderId", "partnerCode", "requestId", "transId",
};
static const char *const momo_refund_body[] = {
    "partnerCode", "orderId", "requestId", "amount", "transId", "lang", "description", "signature",
};
/* JSON members sent as numbers (docs/providers.md#momo-create amount is a long,
 * docs/providers.md#momo-query-and-refund transId an int64). */
static const char *const momo_numeric[] = { "amount", "transId", NULL };

/* docs/providers.md#momo-result-codes resultCode classes. PAID: 0, and 9000 since we never send
 * autoCapture=false. RETRY and REQUEST say nothing about the payment: its outcome stays unknown.
 * Codes not listed: 1000 and above are the payer's or issuer's declines (failed); below, REQUEST.
 */
enum momo_class {
    MOMO_PAID,
    MOMO_PENDING,
    MOMO_FAILED,
    MOMO_NOT_FOUND,
    MOMO_RETRY,
    MOMO_REQUEST
};

static const struct {
    int64_t code;
    enum momo_class cls;
} momo_codes[] = {
    { 0, MOMO_PAID },       { 9000, MOMO_PAID },    { 1000, MOMO_PENDING }, { 7000, MOMO_PENDING },
    { 7002, MOMO_PENDING }, { 8000, MOMO_PENDING }, { 42, MOMO_NOT_FOUND }, { 10, MOMO_RETRY },
    { 40, MOMO_RETRY },     { 43, MOMO_RETRY },     { 99, MOMO_RETRY },     { 11, MOMO_REQUEST },
    { 12, MOMO_REQUEST },   { 13, MOMO_REQUEST },   { 20, MOMO_REQUEST },   { 21, MOMO_REQUEST },
    { 22, MOMO_REQUEST },   { 41, MOMO_REQUEST },
};

/* docs/providers.md#momo-ipn-and-redirect: the IPN answers. 204 is the only acknowledgement;
 * anything else makes MoMo retry. */
static const struct gw_adapter_reply momo_replies[GW_CB_VERDICTS] = {
    [GW_CB_APPLIED] = { 204, "text/plain", "" },
    [GW_CB_DUPLICATE] = { 204, "text/plain", "" },
    [GW_CB_NOT_FOUND] = { 404, "application/json",
                          "{\"resultCode\":42,\"message\":\"order not found\"}" },
    [GW_CB_AMOUNT_MISMATCH] = { 400, "application/json",
                                "{\"resultCode\":21,\"message\":\"invalid amount\"}" },
    [GW_CB_BAD_SIGNATURE] = { 401, "application/json",
                              "{\"resultCode\":13,\"message\":\"invalid signature\"}" },
    [GW_CB_INVALID] = { 400, "application/json", "{\"resultCode\":20,\"message\":\"bad format\"}" },
    [GW_CB_RETRY_LATER] = { 503, "application/json",
                            "{\"resultCode\":99,\"message\":\"retry later\"}" },
};

static gw_adapter_parse_fn momo_callback_parse;
static gw_adapter_parse_fn momo_return_parse;
static gw_adapter_query_fn momo_query_build;
static gw_adapter_parse_fn momo_query_parse;
static gw_adapter_query_fn momo_create_build;
static gw_adapter_create_parse_fn momo_create_parse;
static gw_adapter_refund_fn momo_refund_build;
static gw_adapter_refund_parse_fn momo_refund_parse;
static gw_adapter_refund_fn momo_refund_query_build;
static gw_adapter_refund_parse_fn momo_refund_query_parse;

const struct gw_adapter_ops gw_adapter_momo = {
    .name = "momo",
    .abi_version = GW_ADAPTER_ABI,
    .caps = GW_ADAPTER_CAP_CREATE | GW_ADAPTER_CAP_QUERY | GW_ADAPTER_CAP_REFUND |
            GW_ADAPTER_CAP_REFUND_QUERY,
    .callback_parse = momo_callback_parse,
    .signature_header = NULL,
    .callback_replies = momo_replies,
    .return_parse = momo_return_parse,
    .query_build = momo_query_build,
    .query_parse = momo_query_parse,
    .create_build = momo_create_build,
    .create_parse = momo_create_parse,
    .refund_build = momo_refund_build,
    .refund_parse = momo_refund_parse,
    .refund_query_build = momo_refund_query_build,
    .refund_query_parse = momo_refund_query_parse,
};

static enum gw_err momo_config_check(const struct gw_adapter_config *cfg, struct gw_errbuf *eb)
{
    if (!gw_adp_nonempty(cfg->merchant_id) || !gw_adp_nonempty(cfg->secret) ||
        !gw_adp_nonempty(cfg->secret2)) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "momo: partnerCode, secretKey and accessKey are required");
    }
    if (!gw_adp_nonempty(cfg->endpoint_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: endpoint_url is required");
    }
    return GW_OK;
}

/* docs/providers.md#momo-create orderId regex ^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$ on top of our id
 * grammar: starts and ends with a letter or digit. */
static bool momo_order_id_ok(const char *s)
{
    if (!gw_adp_id_ok(s, MOMO_ORDER_ID_MAX)) {
        return false;
    }
    size_t n = strlen(s);
    return s[0] != '-' && s[0] != '_' && s[n - 1] != '-' && s[n - 1] != '_';
}

/* The value of name among names/values, or NULL. */
static const char *momo_lookup(const char *const *names, const char *const *values, size_t n,
                               const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return values[i];
        }
    }
    return NULL;
}

/* docs/providers.md#momo-signing: HMAC-SHA256(secretKey, raw signature string of sig_names) into
 * mac; values are looked up by name (accessKey from the configuration), absent ones are "". */
static enum gw_err momo_sign(const struct gw_adapter_config *cfg, const char *const *sig_names,
                             size_t n_sig, const char *const *names, const char *const *values,
                             size_t n, struct gw_arena *arena, char mac[GW_SHA256_HEX_BYTES])
{
    const char *sv[GW_ADP_COUNT(momo_ipn_sig)];
    GW_ASSERT(n_sig <= GW_ADP_COUNT(sv));
    for (size_t i = 0; i < n_sig; i++) {
        sv[i] = strcmp(sig_names[i], "accessKey") == 0
                    ? cfg->secret2
                    : momo_lookup(names, values, n, sig_names[i]);
    }
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    gw_adp_str_kv_raw(&s, sig_names, sv, n_sig);
    char *data = NULL;
    size_t len = 0;
    enum gw_err err = gw_adp_str_finish(&s, &data, &len);
    if (err == GW_OK) {
        gw_hmac_sha256_hex(cfg->secret, strlen(cfg->secret), data, len, mac);
    }
    return err;
}

/* A signed JSON request: values for body_names[0..n-1) (the last body name is "signature",
 * filled here), POSTed to {endpoint_url}{path}. */
static enum gw_err momo_request(const struct gw_adapter_config *cfg, const char *path,
                                const char *const *sig, size_t n_sig, const char *const *body,
                                const char **values, size_t n, struct gw_arena *arena,
                                struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    GW_ASSERT(n > 0 && strcmp(body[n - 1], "signature") == 0);
    char mac[GW_SHA256_HEX_BYTES];
    enum gw_err err = momo_sign(cfg, sig, n_sig, body, values, n - 1, arena, mac);
    if (err != GW_OK) {
        return gw_fail(eb, err, "momo: request too long");
    }
    values[n - 1] = mac;
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    gw_adp_str_json_object(&s, body, values, n, momo_numeric);
    char *json = NULL;
    size_t len = 0;
    err = gw_adp_str_finish(&s, &json, &len);
    const char *url = gw_adp_url(arena, cfg->endpoint_url, path);
    if (err != GW_OK || url == NULL) {
        return gw_fail(eb, err != GW_OK ? err : GW_ERR_NOMEM, "momo: request too long");
    }
    gw_adp_http_post(req, url, MOMO_CONTENT_TYPE, json, len);
    return GW_OK;
}

static const char *momo_lang(const char *locale)
{
    return locale != NULL && strcmp(locale, "en") == 0 ? "en" : "vi";
}

/* docs/providers.md#momo-create: POST {endpoint_url}/create; requestId is charge->request_id
 * (merchant_ref when the gateway gives none: one create per attempt). */
static enum gw_err momo_create_build(const struct gw_adapter_config *cfg,
                                     const struct gw_charge *charge, struct gw_arena *arena,
                                     struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = momo_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!gw_adp_nonempty(cfg->return_url) || !gw_adp_nonempty(cfg->ipn_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: return_url and ipn_url are required");
    }
    if (!momo_order_id_ok(charge->merchant_ref)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: merchant_ref is not a valid orderId");
    }
    const char *request_id = charge->request_id != NULL ? charge->request_id : charge->merchant_ref;
    if (!gw_adp_id_ok(request_id, MOMO_ORDER_ID_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: request_id is malformed");
    }
    if (charge->amount_vnd <= 0 || charge->amount_vnd > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: amount_vnd out of range");
    }
    const char *amount =
        gw_adp_i64(arena, charge->amount_vnd); /* docs/providers.md#momo-create: not x100 */
    if (amount == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "momo: out of request memory");
    }
    const char *values[] = {
        cfg->merchant_id,
        request_id,
        amount,
        charge->merchant_ref,
        gw_adp_nonempty(charge->order_info) ? charge->order_info : charge->merchant_ref,
        cfg->return_url,
        cfg->ipn_url,
        gw_adp_nonempty(cfg->method) ? cfg->method : MOMO_REQUEST_TYPE,
        "",
        momo_lang(charge->locale),
        NULL,
    };
    _Static_assert(GW_ADP_COUNT(values) == GW_ADP_COUNT(momo_create_body), "create body");
    return momo_request(cfg, "/create", momo_create_sig, GW_ADP_COUNT(momo_create_sig),
                        momo_create_body, values, GW_ADP_COUNT(values), arena, req, eb);
}

static enum momo_class momo_class_of(int64_t code)
{
    for (size_t i = 0; i < GW_ADP_COUNT(momo_codes); i++) {
        if (momo_codes[i].code == code) {
            return momo_codes[i].cls;
        }
    }
    return code >= 1000 ? MOMO_FAILED : MOMO_REQUEST;
}

/* A member of a JSON answer as text (string or integer), NULL when absent or mistyped. */
static const char *momo_get(struct gw_arena *arena, const json_t *root, const char *key)
{
    const char *v = NULL;
    return gw_adp_json_text(arena, root, key, &v) ? v : NULL;
}

/* Loads an API answer (create, query, refund): HTTP status, JSON, partnerCode when echoed,
 * and resultCode. These answers are not signed (docs/providers.md#momo-create,
 * docs/providers.md#momo-query-and-refund [UNVERIFIED]); they are trusted as far as the TLS
 * connection to endpoint_url is. */
static enum gw_err momo_answer(const struct gw_adapter_config *cfg,
                               const struct gw_adapter_input *in, struct gw_arena *arena,
                               json_t **root, int64_t *code, struct gw_errbuf *eb)
{
    *root = NULL;
    enum gw_err err = momo_config_check(cfg, eb);
    if (err == GW_OK) {
        err = gw_adp_http_status("momo", in, eb);
    }
    if (err == GW_OK) {
        err = gw_adp_json_load("momo", in->body, in->body_len, root, eb);
    }
    if (err != GW_OK) {
        return err == GW_ERR_INVALID ? GW_ERR_PROTOCOL : err;
    }
    const char *partner = momo_get(arena, *root, "partnerCode");
    const json_t *rc = json_object_get(*root, "resultCode");
    if (partner != NULL && strcmp(partner, cfg->merchant_id) != 0) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "momo: partnerCode is not ours");
    } else if (!json_is_integer(rc)) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "momo: resultCode missing");
    }
    if (err != GW_OK) {
        json_decref(*root);
        *root = NULL;
        return err;
    }
    *code = (int64_t)json_integer_value(rc);
    return GW_OK;
}

/* docs/providers.md#momo-create: resultCode 0 with a payUrl is created; any other code is the
 * provider's refusal. */
static enum gw_err momo_create_parse(const struct gw_adapter_config *cfg,
                                     const struct gw_adapter_input *in, struct gw_arena *arena,
                                     struct gw_adapter_created *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    int64_t code = 0;
    enum gw_err err = momo_answer(cfg, in, arena, &root, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *code_s = gw_adp_i64(arena, code);
    const char *pay_url = momo_get(arena, root, "payUrl");
    const char *request_id = momo_get(arena, root, "requestId");
    if (code_s != NULL) {
        (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), code_s);
    }
    if (request_id != NULL) {
        (void)gw_adp_copy(out->provider_ref, sizeof(out->provider_ref), request_id);
    }
    if (code == 0) {
        if (pay_url == NULL ||
            (strncmp(pay_url, "https://", 8) != 0 && strncmp(pay_url, "http://", 7) != 0)) {
            err = gw_fail(eb, GW_ERR_PROTOCOL, "momo: created without a payUrl");
        }
        out->created = err == GW_OK;
        out->pay_url = out->created ? pay_url : NULL;
    }
    json_decref(root);
    return err;
}

/* The business fields of a verified IPN or redirect (docs/providers.md#momo-ipn-and-redirect),
 * values indexed like momo_ipn_sig. */
static enum gw_err momo_result_fields(const struct gw_adapter_config *cfg, const char *const *v,
                                      struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    const char *partner = momo_lookup(momo_ipn_sig, v, GW_ADP_COUNT(momo_ipn_sig), "partnerCode");
    const char *order = momo_lookup(momo_ipn_sig, v, GW_ADP_COUNT(momo_ipn_sig), "orderId");
    const char *amount = momo_lookup(momo_ipn_sig, v, GW_ADP_COUNT(momo_ipn_sig), "amount");
    const char *rc = momo_lookup(momo_ipn_sig, v, GW_ADP_COUNT(momo_ipn_sig), "resultCode");
    const char *trans = momo_lookup(momo_ipn_sig, v, GW_ADP_COUNT(momo_ipn_sig), "transId");
    const char *rt = momo_lookup(momo_ipn_sig, v, GW_ADP_COUNT(momo_ipn_sig), "responseTime");
    int64_t code = 0;
    int64_t trans_id = 0;
    int64_t ms = 0;
    if (partner == NULL || strcmp(partner, cfg->merchant_id) != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: partnerCode is not ours");
    }
    if (!gw_adp_id_ok(order, GW_MERCHANT_REF_BYTES_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: orderId is malformed");
    }
    if (!gw_adp_parse_i64(amount, 1, GW_AMOUNT_VND_MAX, &out->amount_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: amount is malformed");
    }
    if (!gw_adp_parse_i64(rc, -999999, 999999, &code)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: resultCode is malformed");
    }
    if (gw_adp_nonempty(trans) && !gw_adp_parse_i64(trans, 0, INT64_MAX, &trans_id)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: transId is malformed");
    }
    if (gw_adp_nonempty(rt) && !gw_adp_parse_i64(rt, 0, INT64_MAX, &ms)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: responseTime is malformed");
    }
    GW_ASSERT(gw_adp_copy(out->merchant_id, sizeof(out->merchant_id), partner));
    GW_ASSERT(gw_adp_copy(out->merchant_ref, sizeof(out->merchant_ref), order));
    if (trans_id > 0) {
        GW_ASSERT(gw_adp_copy(out->provider_txn_id, sizeof(out->provider_txn_id), trans));
    }
    (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), rc);
    switch (momo_class_of(code)) {
    case MOMO_PAID:
        out->outcome = GW_PAY_SUCCEEDED;
        out->paid_at = (time_t)(ms / 1000);
        break;
    case MOMO_FAILED:
        out->outcome = GW_PAY_FAILED;
        break;
    default: /* pending, or a code that says nothing about the payment */
        out->outcome = GW_PAY_PENDING;
        break;
    }
    return GW_OK;
}

/* Verifies the docs/providers.md#momo-ipn-and-redirect signature over values v (indexed like
 * momo_ipn_sig). */
static enum gw_err momo_verify(const struct gw_adapter_config *cfg, const char *const *v,
                               const char *sig, struct gw_arena *arena, struct gw_errbuf *eb)
{
    if (!gw_adp_nonempty(sig)) {
        return gw_fail(eb, GW_ERR_AUTH, "momo: signature missing");
    }
    /* Every signed field must be there: MoMo sends them all, even empty ones, and a message
     * that drops one cannot be the one MoMo signed. */
    for (size_t i = 1; i < GW_ADP_COUNT(momo_ipn_sig); i++) {
        if (v[i] == NULL) {
            return gw_fail(eb, GW_ERR_AUTH, "momo: signed field %s missing", momo_ipn_sig[i]);
        }
    }
    char mac[GW_SHA256_HEX_BYTES];
    enum gw_err err = momo_sign(cfg, momo_ipn_sig, GW_ADP_COUNT(momo_ipn_sig), momo_ipn_sig, v,
                                GW_ADP_COUNT(momo_ipn_sig), arena, mac);
    if (err != GW_OK) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: message too long");
    }
    if (!gw_hex_equal_ct(sig, strlen(sig), mac, GW_SHA256_HEX_BYTES - 1)) {
        return gw_fail(eb, GW_ERR_AUTH, "momo: bad signature");
    }
    return GW_OK;
}

/* docs/providers.md#momo-ipn-and-redirect: the IPN is a JSON POST; the signed values are its
 * members as text (strings verbatim, numbers in plain decimal). Nothing but their types is looked
 * at before the signature checks out. */
static enum gw_err momo_callback_parse(const struct gw_adapter_config *cfg,
                                       const struct gw_adapter_input *in, struct gw_arena *arena,
                                       struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = momo_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (in->method != NULL && strcmp(in->method, "POST") != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: ipn must be a post");
    }
    if (in->body_len > GW_CALLBACK_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: body too large");
    }
    json_t *root = NULL;
    err = gw_adp_json_load("momo", in->body, in->body_len, &root, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *v[GW_ADP_COUNT(momo_ipn_sig)] = { NULL };
    const char *sig = NULL;
    bool ok = gw_adp_json_text(arena, root, "signature", &sig);
    for (size_t i = 1; i < GW_ADP_COUNT(momo_ipn_sig) && ok; i++) { /* 0 is accessKey */
        ok = gw_adp_json_text(arena, root, momo_ipn_sig[i], &v[i]);
    }
    json_decref(root);
    if (!ok) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: ipn member of the wrong type");
    }
    err = momo_verify(cfg, v, sig, arena, eb);
    if (err != GW_OK) {
        return err;
    }
    return momo_result_fields(cfg, v, out, eb);
}

/* docs/providers.md#momo-ipn-and-redirect: the redirect carries the IPN's fields in its query
 * string; display only. */
static enum gw_err momo_return_parse(const struct gw_adapter_config *cfg,
                                     const struct gw_adapter_input *in, struct gw_arena *arena,
                                     struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = momo_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (in->query_len > GW_CALLBACK_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: query string too long");
    }
    struct gw_kv *kv = NULL;
    size_t n = 0;
    err = gw_form_parse(arena, in->query != NULL ? in->query : "", in->query_len, GW_ADP_PAIRS_MAX,
                        &kv, &n);
    if (err != GW_OK) {
        return gw_fail(eb, err == GW_ERR_NOMEM ? err : GW_ERR_INVALID,
                       "momo: malformed query string");
    }
    const char *v[GW_ADP_COUNT(momo_ipn_sig)] = { NULL };
    for (size_t i = 1; i < GW_ADP_COUNT(momo_ipn_sig); i++) {
        v[i] = gw_kv_get(kv, n, momo_ipn_sig[i]);
    }
    err = momo_verify(cfg, v, gw_kv_get(kv, n, "signature"), arena, eb);
    if (err != GW_OK) {
        return err;
    }
    return momo_result_fields(cfg, v, out, eb);
}

/* docs/providers.md#momo-query-and-refund: POST {endpoint_url}/query with a fresh requestId. */
static enum gw_err momo_query_build(const struct gw_adapter_config *cfg,
                                    const struct gw_charge *charge, struct gw_arena *arena,
                                    struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = momo_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!momo_order_id_ok(charge->merchant_ref)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: merchant_ref is not a valid orderId");
    }
    if (!gw_adp_id_ok(charge->request_id, MOMO_ORDER_ID_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: request_id is malformed");
    }
    const char *values[] = { cfg->merchant_id, charge->request_id, charge->merchant_ref,
                             momo_lang(charge->locale), NULL };
    _Static_assert(GW_ADP_COUNT(values) == GW_ADP_COUNT(momo_query_body), "query body");
    return momo_request(cfg, "/query", momo_query_sig, GW_ADP_COUNT(momo_query_sig),
                        momo_query_body, values, GW_ADP_COUNT(values), arena, req, eb);
}

/* docs/providers.md#momo-query-and-refund, docs/providers.md#momo-result-codes: the payment's
 * state; codes about our request are errors (outcome unknown), 42 is not found. */
static enum gw_err momo_query_parse(const struct gw_adapter_config *cfg,
                                    const struct gw_adapter_input *in, struct gw_arena *arena,
                                    struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    int64_t code = 0;
    enum gw_err err = momo_answer(cfg, in, arena, &root, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    enum momo_class cls = momo_class_of(code);
    const char *v[GW_ADP_COUNT(momo_ipn_sig)] = { NULL };
    bool ok = true;
    for (size_t i = 1; i < GW_ADP_COUNT(momo_ipn_sig) && ok; i++) {
        ok = gw_adp_json_text(arena, root, momo_ipn_sig[i], &v[i]);
    }
    json_decref(root);
    if (cls == MOMO_RETRY) {
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "momo: query answered %lld", (long long)code);
    }
    if (cls == MOMO_REQUEST) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "momo: query refused with %lld", (long long)code);
    }
    if (cls == MOMO_NOT_FOUND) {
        out->outcome = GW_PAY_NOT_FOUND;
        (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), "42");
        return GW_OK;
    }
    if (!ok) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "momo: query member of the wrong type");
    }
    err = momo_result_fields(cfg, v, out, eb);
    return err == GW_OK ? GW_OK : GW_ERR_PROTOCOL; /* the message names the field */
}

/* docs/providers.md#momo-query-and-refund: POST {endpoint_url}/refund; orderId is our refund_id,
 * transId the payment's. */
static enum gw_err momo_refund_build(const struct gw_adapter_config *cfg, const struct gw_refund *r,
                                     struct gw_arena *arena, struct gw_adapter_http *req,
                                     struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = momo_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    int64_t trans = 0;
    if (!momo_order_id_ok(r->refund_id)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: refund_id is not a valid orderId");
    }
    if (!gw_adp_id_ok(r->request_id, MOMO_ORDER_ID_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: request_id is malformed");
    }
    if (!gw_adp_parse_i64(r->provider_txn_id, 1, INT64_MAX, &trans)) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: provider_txn_id is not a transId");
    }
    if (r->amount_vnd <= 0 || r->amount_vnd > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "momo: amount_vnd out of range");
    }
    const char *amount = gw_adp_i64(arena, r->amount_vnd);
    const char *desc = gw_adp_nonempty(r->reason)
                           ? r->reason
                           : gw_arena_printf(arena, "Hoan phi %s", r->merchant_ref);
    if (amount == NULL || desc == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "momo: out of request memory");
    }
    const char *values[] = { cfg->merchant_id,   r->refund_id, r->request_id, amount,
                             r->provider_txn_id, "vi",         desc,          NULL };
    _Static_assert(GW_ADP_COUNT(values) == GW_ADP_COUNT(momo_refund_body), "refund body");
    return momo_request(cfg, "/refund", momo_refund_sig, GW_ADP_COUNT(momo_refund_sig),
                        momo_refund_body, values, GW_ADP_COUNT(values), arena, req, eb);
}

/* docs/providers.md#momo-query-and-refund, docs/providers.md#momo-result-codes: 0 refunded; pending
 * and retry codes leave it pending; the rest refuse. */
static enum gw_err momo_refund_parse(const struct gw_adapter_config *cfg,
                                     const struct gw_adapter_input *in, struct gw_arena *arena,
                                     struct gw_refund_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    int64_t code = 0;
    enum gw_err err = momo_answer(cfg, in, arena, &root, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *trans = momo_get(arena, root, "transId");
    const char *amount = momo_get(arena, root, "amount");
    json_decref(root);
    enum momo_class cls = momo_class_of(code);
    out->outcome = cls == MOMO_PAID                           ? GW_REFUND_ACCEPTED
                   : cls == MOMO_PENDING || cls == MOMO_RETRY ? GW_REFUND_PENDING
                                                              : GW_REFUND_REJECTED;
    const char *code_s = gw_adp_i64(arena, code);
    if (code_s != NULL) {
        (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), code_s);
    }
    if (gw_adp_nonempty(trans) && strcmp(trans, "0") != 0) {
        (void)gw_adp_copy(out->provider_refund_id, sizeof(out->provider_refund_id), trans);
    }
    if (!gw_adp_parse_i64(amount, 1, GW_AMOUNT_VND_MAX, &out->amount_vnd)) {
        out->amount_vnd = 0;
    }
    return GW_OK;
}

/* docs/providers.md#momo-query-and-refund: the refund's status is a query of its own orderId (our
 * refund_id), with a fresh requestId: MoMo answers it like a payment, resultCode, amount and
 * transId of the refund. */
static enum gw_err momo_refund_query_build(const struct gw_adapter_config *cfg,
                                           const struct gw_refund *r, struct gw_arena *arena,
                                           struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    if (!momo_order_id_ok(r->refund_id)) {
        memset(req, 0, sizeof(*req));
        return gw_fail(eb, GW_ERR_INVALID, "momo: refund_id is not a valid orderId");
    }
    const struct gw_charge q = { .merchant_ref = r->refund_id,
                                 .amount_vnd = r->amount_vnd,
                                 .locale = "vi",
                                 .request_id = r->request_id,
                                 .requested_at = r->requested_at };
    return momo_query_build(cfg, &q, arena, req, eb);
}

/* docs/providers.md#momo-query-and-refund, docs/providers.md#momo-result-codes: 0 refunded, pending
 * codes pending, failure codes refused. Codes about our request or MoMo's availability are errors,
 * and 42 (MoMo does not know the orderId, the refund may not have reached it) leaves the refund
 * pending: only MoMo's own word refuses. */
static enum gw_err momo_refund_query_parse(const struct gw_adapter_config *cfg,
                                           const struct gw_adapter_input *in,
                                           struct gw_arena *arena, struct gw_refund_result *out,
                                           struct gw_errbuf *eb)
{
    enum gw_err err = momo_refund_parse(cfg, in, arena, out, eb);
    if (err != GW_OK) {
        return err;
    }
    int64_t code = 0;
    (void)gw_adp_parse_i64(out->provider_code, INT64_MIN, INT64_MAX, &code);
    enum momo_class cls = momo_class_of(code);
    if (cls == MOMO_RETRY) {
        out->outcome = GW_REFUND_PENDING;
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "momo: refund query answered %lld", (long long)code);
    }
    if (cls == MOMO_REQUEST) {
        out->outcome = GW_REFUND_PENDING;
        return gw_fail(eb, GW_ERR_PROTOCOL, "momo: refund query refused with %lld",
                       (long long)code);
    }
    if (cls == MOMO_NOT_FOUND) {
        out->outcome = GW_REFUND_NOT_FOUND;
    }
    return GW_OK;
}
