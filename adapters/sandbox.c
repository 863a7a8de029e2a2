/* The sandbox protocol (docs/architecture.md, "The sandbox protocol"): feegate's own signed
 * redirect, callback, return and query, played on the bank side by feegate-banksim. Every
 * message is authenticated with lowercase hex HMAC-SHA256 under the channel secret, over the
 * exact bytes that travel; nothing is parsed before its signature checks out. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "adapter.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_url.h"

#include "banned.h"

/* A signed URL carries two URLs of at most GW_URL_BYTES_MAX, each up to 3x when encoded. */
#define SANDBOX_URL_BYTES_MAX ((size_t)16 * 1024)
#define SANDBOX_SIG_PARAM     "&sig="

/* Field orders of the signed query strings, as the protocol lists them
 * (docs/providers.md#sandbox-checkout, docs/providers.md#sandbox-return,
 * docs/providers.md#sandbox-query). */
static const char *const sandbox_pay_fields[] = {
    "merchant_id", "merchant_ref", "amount_vnd", "order_info",
    "return_url",  "ipn_url",      "expires_at",
};
static const char *const sandbox_query_fields[] = { "merchant_id", "merchant_ref" };
static const char *const sandbox_return_fields[] = { "merchant_ref", "status" };
static const char *const sandbox_refund_query_fields[] = { "merchant_id", "refund_id" };

#define SANDBOX_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The words of the status field (docs/providers.md#sandbox-callback,
 * docs/providers.md#sandbox-query); pending only appears in query answers. */
static const struct {
    const char *name;
    enum gw_pay_outcome outcome;
} sandbox_statuses[] = {
    { "succeeded", GW_PAY_SUCCEEDED },
    { "failed", GW_PAY_FAILED },
    { "pending", GW_PAY_PENDING },
};

/* The header of every signed request and answer (docs/architecture.md). */
#define SANDBOX_SIGNATURE_HEADER "X-Sandbox-Signature"

/* The answers of docs/providers.md#sandbox-callback, indexed by verdict: 200 and 4xx stop the
 * simulator, 503 makes it retry. */
static const struct gw_adapter_reply sandbox_replies[GW_CB_VERDICTS] = {
    [GW_CB_APPLIED] = { 200, "application/json", "{\"result\":\"ok\"}" },
    [GW_CB_DUPLICATE] = { 200, "application/json", "{\"result\":\"duplicate\"}" },
    [GW_CB_NOT_FOUND] = { 404, "application/json", "{\"result\":\"not_found\"}" },
    [GW_CB_AMOUNT_MISMATCH] = { 409, "application/json", "{\"result\":\"amount_mismatch\"}" },
    [GW_CB_BAD_SIGNATURE] = { 401, "application/json", "{\"result\":\"bad_signature\"}" },
    [GW_CB_INVALID] = { 400, "application/json", "{\"result\":\"invalid\"}" },
    [GW_CB_RETRY_LATER] = { 503, "application/json", "{\"result\":\"retry\"}" },
};

static gw_adapter_checkout_fn sandbox_checkout;
static gw_adapter_parse_fn sandbox_callback_parse;
static gw_adapter_parse_fn sandbox_return_parse;
static gw_adapter_query_fn sandbox_query_build;
static gw_adapter_parse_fn sandbox_query_parse;
static gw_adapter_refund_fn sandbox_refund_build;
static gw_adapter_refund_parse_fn sandbox_refund_parse;
static gw_adapter_refund_fn sandbox_refund_query_build;
static gw_adapter_refund_parse_fn sandbox_refund_query_parse;

const struct gw_adapter_ops gw_adapter_sandbox = {
    .name = "sandbox",
    .abi_version = GW_ADAPTER_ABI,
    .caps = GW_ADAPTER_CAP_REDIRECT | GW_ADAPTER_CAP_QUERY | GW_ADAPTER_CAP_REFUND |
            GW_ADAPTER_CAP_REFUND_QUERY,
    .checkout = sandbox_checkout,
    .callback_parse = sandbox_callback_parse,
    .signature_header = SANDBOX_SIGNATURE_HEADER,
    .callback_replies = sandbox_replies,
    .return_parse = sandbox_return_parse,
    .query_build = sandbox_query_build,
    .query_parse = sandbox_query_parse,
    .refund_build = sandbox_refund_build,
    .refund_parse = sandbox_refund_parse,
    .refund_query_build = sandbox_refund_query_build,
    .refund_query_parse = sandbox_refund_query_parse,
};

/* merchant_ref grammar: 1..GW_MERCHANT_REF_BYTES_MAX bytes of [0-9A-Za-z_-]. */
static bool sandbox_ref_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > GW_MERCHANT_REF_BYTES_MAX) {
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

/* txn_id: 1..63 printable ASCII bytes, no space. */
static bool sandbox_txn_id_ok(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((struct gw_adapter_result *)NULL)->provider_txn_id)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~') {
            return false;
        }
    }
    return true;
}

static bool sandbox_nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static enum gw_err sandbox_config_check(const struct gw_adapter_config *cfg, struct gw_errbuf *eb)
{
    if (!sandbox_nonempty(cfg->merchant_id) || !sandbox_nonempty(cfg->secret)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_id and secret are required");
    }
    if (!sandbox_nonempty(cfg->endpoint_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: endpoint_url is required");
    }
    return GW_OK;
}

/* Verifies sig (hex, any case) over data under the channel secret in constant time. */
static enum gw_err sandbox_verify(const struct gw_adapter_config *cfg, const char *data, size_t len,
                                  const char *sig, size_t sig_len, struct gw_errbuf *eb)
{
    if (sig == NULL || sig_len == 0) {
        return gw_fail(eb, GW_ERR_AUTH, "sandbox: signature missing");
    }
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(cfg->secret, strlen(cfg->secret), data, len, mac);
    if (!gw_hex_equal_ct(sig, sig_len, mac, GW_SHA256_HEX_BYTES - 1)) {
        return gw_fail(eb, GW_ERR_AUTH, "sandbox: bad signature");
    }
    return GW_OK;
}

/* Appends "name=value&..." in the order of names to b, form-encoded. */
static enum gw_err sandbox_encode_pairs(struct gw_buf *b, const char *const *names,
                                        const char *const *values, size_t n)
{
    enum gw_err err = GW_OK;
    for (size_t i = 0; i < n && err == GW_OK; i++) {
        if (i > 0) {
            err = gw_buf_addc(b, '&');
        }
        if (err == GW_OK) {
            err = gw_form_encode(b, names[i], strlen(names[i]));
        }
        if (err == GW_OK) {
            err = gw_buf_addc(b, '=');
        }
        if (err == GW_OK) {
            GW_ASSERT(values[i] != NULL);
            err = gw_form_encode(b, values[i], strlen(values[i]));
        }
    }
    return err;
}

/* {endpoint_url}{path}?{q}&sig={hmac(q)} into the arena, q built from names and values. */
static enum gw_err sandbox_signed_url(const struct gw_adapter_config *cfg, const char *path,
                                      const char *const *names, const char *const *values, size_t n,
                                      struct gw_arena *arena, char **url, struct gw_errbuf *eb)
{
    struct gw_buf q;
    gw_buf_init(&q, SANDBOX_URL_BYTES_MAX);
    enum gw_err err = sandbox_encode_pairs(&q, names, values, n);
    if (err != GW_OK) {
        gw_buf_release(&q);
        return gw_fail(eb, GW_ERR_LIMIT, "sandbox: signed url too long");
    }
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(cfg->secret, strlen(cfg->secret), q.data, q.len, mac);
    size_t base_len = strlen(cfg->endpoint_url);
    while (base_len > 0 && cfg->endpoint_url[base_len - 1] == '/') {
        base_len--;
    }
    *url = gw_arena_printf(arena, "%.*s%s?%s" SANDBOX_SIG_PARAM "%s", (int)base_len,
                           cfg->endpoint_url, path, gw_buf_str(&q), mac);
    gw_buf_release(&q);
    if (*url == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "sandbox: out of request memory");
    }
    return GW_OK;
}

/* docs/providers.md#sandbox-checkout: 303 target {endpoint_url}/sandbox/pay?{q}&sig={hmac(q)}. */
static enum gw_err sandbox_checkout(const struct gw_adapter_config *cfg,
                                    const struct gw_charge *charge, struct gw_arena *arena,
                                    char **redirect_url, struct gw_errbuf *eb)
{
    GW_ASSERT(redirect_url != NULL);
    *redirect_url = NULL;
    enum gw_err err = sandbox_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!sandbox_nonempty(cfg->return_url) || !sandbox_nonempty(cfg->ipn_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: return_url and ipn_url are required");
    }
    if (charge->merchant_ref == NULL || !sandbox_ref_ok(charge->merchant_ref)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_ref is malformed");
    }
    if (charge->amount_vnd <= 0 || charge->amount_vnd > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: amount_vnd out of range");
    }
    if (charge->expires_at <= 0) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: expires_at is required");
    }
    char amount[24];
    char expires[24];
    (void)snprintf(amount, sizeof(amount), "%" PRId64, charge->amount_vnd);
    (void)snprintf(expires, sizeof(expires), "%lld", (long long)charge->expires_at);
    const char *values[] = {
        cfg->merchant_id, charge->merchant_ref,
        amount,           charge->order_info != NULL ? charge->order_info : "",
        cfg->return_url,  cfg->ipn_url,
        expires,
    };
    _Static_assert(SANDBOX_COUNT(values) == SANDBOX_COUNT(sandbox_pay_fields), "pay fields");
    return sandbox_signed_url(cfg, "/sandbox/pay", sandbox_pay_fields, values,
                              SANDBOX_COUNT(values), arena, redirect_url, eb);
}

/* Splits "q&sig=HEX" at the last "&sig=": the signed bytes are q, exactly as received. */
static enum gw_err sandbox_split_sig(const char *s, size_t len, size_t *signed_len,
                                     const char **sig, size_t *sig_len, struct gw_errbuf *eb)
{
    const size_t tag_len = sizeof(SANDBOX_SIG_PARAM) - 1;
    for (size_t i = len; i >= tag_len; i--) {
        if (memcmp(s + i - tag_len, SANDBOX_SIG_PARAM, tag_len) == 0) {
            *signed_len = i - tag_len;
            *sig = s + i;
            *sig_len = len - i;
            return GW_OK;
        }
    }
    return gw_fail(eb, GW_ERR_AUTH, "sandbox: signature missing");
}

/* Parses a verified query string whose keys must be exactly names, in that order. */
static enum gw_err sandbox_parse_exact(struct gw_arena *arena, const char *s, size_t len,
                                       const char *const *names, size_t n, struct gw_kv **kv,
                                       struct gw_errbuf *eb)
{
    size_t got = 0;
    enum gw_err err = gw_form_parse(arena, s, len, n, kv, &got);
    if (err == GW_ERR_NOMEM) {
        return gw_fail(eb, err, "sandbox: out of request memory");
    }
    if (err != GW_OK) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: malformed query string");
    }
    if (got != n) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: expected %zu fields, got %zu", n, got);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp((*kv)[i].key, names[i]) != 0) {
            return gw_fail(eb, GW_ERR_INVALID, "sandbox: expected field %s", names[i]);
        }
    }
    return GW_OK;
}

static bool sandbox_status_find(const char *name, bool allow_pending, enum gw_pay_outcome *out)
{
    if (name == NULL) {
        return false;
    }
    for (size_t i = 0; i < SANDBOX_COUNT(sandbox_statuses); i++) {
        if (strcmp(sandbox_statuses[i].name, name) != 0) {
            continue;
        }
        if (sandbox_statuses[i].outcome == GW_PAY_PENDING && !allow_pending) {
            return false;
        }
        *out = sandbox_statuses[i].outcome;
        return true;
    }
    return false;
}

/* Copies src into dst[dst_size]; false if it does not fit. */
static bool sandbox_copy(char *dst, size_t dst_size, const char *src, size_t len)
{
    if (len >= dst_size) {
        return false;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

/* The string member key of obj; jansson has already rejected embedded NULs (\u0000). */
static enum gw_err sandbox_json_str(const json_t *obj, const char *key, const char **s, size_t *len,
                                    struct gw_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (*s == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: %s must be a string", key);
    }
    *len = json_string_length(v);
    return GW_OK;
}

/* The integer member key of obj, within min..max. Reals and strings are refused; numbers
 * beyond int64 already failed in json_loadb. */
static enum gw_err sandbox_json_int(const json_t *obj, const char *key, int64_t min, int64_t max,
                                    int64_t *out, struct gw_errbuf *eb)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: %s must be an integer", key);
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: %s out of range", key);
    }
    *out = (int64_t)i;
    return GW_OK;
}

/* merchant_id, merchant_ref and txn_id of a verified status object. */
static enum gw_err sandbox_json_ids(const struct gw_adapter_config *cfg, const json_t *obj,
                                    struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    const char *s = NULL;
    size_t len = 0;
    enum gw_err err = sandbox_json_str(obj, "merchant_id", &s, &len, eb);
    if (err != GW_OK) {
        return err;
    }
    if (strcmp(s, cfg->merchant_id) != 0 ||
        !sandbox_copy(out->merchant_id, sizeof(out->merchant_id), s, len)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_id is not ours");
    }
    err = sandbox_json_str(obj, "merchant_ref", &s, &len, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!sandbox_ref_ok(s) || !sandbox_copy(out->merchant_ref, sizeof(out->merchant_ref), s, len)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_ref is malformed");
    }
    err = sandbox_json_str(obj, "txn_id", &s, &len, eb);
    if (err != GW_OK) {
        return err;
    }
    /* A transaction still pending at the bank may not have an id yet. */
    bool empty_ok = out->outcome == GW_PAY_PENDING && len == 0;
    if (!empty_ok && !sandbox_txn_id_ok(s, len)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: txn_id is malformed");
    }
    GW_ASSERT(sandbox_copy(out->provider_txn_id, sizeof(out->provider_txn_id), s, len));
    return GW_OK;
}

/* The members of a verified status object into out (docs/providers.md#sandbox-callback;
 * docs/providers.md#sandbox-query with allow_pending). */
static enum gw_err sandbox_json_fields(const struct gw_adapter_config *cfg, const json_t *obj,
                                       bool allow_pending, struct gw_adapter_result *out,
                                       struct gw_errbuf *eb)
{
    const char *status = NULL;
    size_t status_len = 0;
    enum gw_err err = sandbox_json_str(obj, "status", &status, &status_len, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!sandbox_status_find(status, allow_pending, &out->outcome)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: unknown status");
    }
    GW_ASSERT(sandbox_copy(out->provider_code, sizeof(out->provider_code), status, status_len));
    err = sandbox_json_ids(cfg, obj, out, eb);
    if (err != GW_OK) {
        return err;
    }
    err = sandbox_json_int(obj, "amount_vnd", 1, GW_AMOUNT_VND_MAX, &out->amount_vnd, eb);
    if (err != GW_OK) {
        return err;
    }
    int64_t paid_at = 0;
    err = sandbox_json_int(obj, "paid_at", 0, 253402300799 /* 9999-12-31 */, &paid_at, eb);
    if (err != GW_OK) {
        return err;
    }
    out->paid_at = (time_t)paid_at;
    return GW_OK;
}

/* Parses a verified JSON body: a single object, no duplicate keys, nothing after it. */
static enum gw_err sandbox_json_load(const char *body, size_t len, json_t **root,
                                     struct gw_errbuf *eb)
{
    json_error_t jerr;
    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: malformed json: %s", jerr.text);
    }
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: body is not a json object");
    }
    return GW_OK;
}

/* Verifies body against the signature header, then parses it. */
static enum gw_err sandbox_signed_body(const struct gw_adapter_config *cfg,
                                       const struct gw_adapter_input *in, json_t **root,
                                       struct gw_errbuf *eb)
{
    *root = NULL;
    enum gw_err err = sandbox_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *body = in->body != NULL ? in->body : "";
    if (in->body_len > GW_CALLBACK_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: body too large");
    }
    const char *sig = in->signature_header;
    err = sandbox_verify(cfg, body, in->body_len, sig, sig != NULL ? strlen(sig) : 0, eb);
    if (err != GW_OK) {
        return err;
    }
    return sandbox_json_load(body, in->body_len, root, eb);
}

/* docs/providers.md#sandbox-callback: POST {merchant_id, merchant_ref, txn_id, amount_vnd, status,
 * paid_at} signed in X-Sandbox-Signature over the body bytes. Unknown members are ignored. */
static enum gw_err sandbox_callback_parse(const struct gw_adapter_config *cfg,
                                          const struct gw_adapter_input *in, struct gw_arena *arena,
                                          struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    (void)arena;
    memset(out, 0, sizeof(*out));
    if (in->method != NULL && strcmp(in->method, "POST") != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: callback must be a post");
    }
    json_t *root = NULL;
    enum gw_err err = sandbox_signed_body(cfg, in, &root, eb);
    if (err != GW_OK) {
        return err;
    }
    err = sandbox_json_fields(cfg, root, false, out, eb);
    json_decref(root);
    return err;
}

/* docs/providers.md#sandbox-return:
 * return_url?merchant_ref=R&status=S&sig=hmac("merchant_ref=R&status=S"), verified over the exact
 * received bytes before the last "&sig=". Display only. */
static enum gw_err sandbox_return_parse(const struct gw_adapter_config *cfg,
                                        const struct gw_adapter_input *in, struct gw_arena *arena,
                                        struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = sandbox_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *q = in->query != NULL ? in->query : "";
    if (in->query_len > GW_URL_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: return query too long");
    }
    size_t signed_len = 0;
    const char *sig = NULL;
    size_t sig_len = 0;
    err = sandbox_split_sig(q, in->query_len, &signed_len, &sig, &sig_len, eb);
    if (err == GW_OK) {
        err = sandbox_verify(cfg, q, signed_len, sig, sig_len, eb);
    }
    if (err != GW_OK) {
        return err;
    }
    struct gw_kv *kv = NULL;
    err = sandbox_parse_exact(arena, q, signed_len, sandbox_return_fields,
                              SANDBOX_COUNT(sandbox_return_fields), &kv, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *ref = kv[0].value;
    const char *status = kv[1].value;
    if (!sandbox_ref_ok(ref)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_ref is malformed");
    }
    if (!sandbox_status_find(status, false, &out->outcome)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: unknown status");
    }
    GW_ASSERT(sandbox_copy(out->merchant_ref, sizeof(out->merchant_ref), ref, strlen(ref)));
    GW_ASSERT(sandbox_copy(out->provider_code, sizeof(out->provider_code), status, strlen(status)));
    return GW_OK;
}

/* docs/providers.md#sandbox-query: GET
 * {endpoint_url}/sandbox/query?merchant_id=M&merchant_ref=R&sig=hmac(q). */
static enum gw_err sandbox_query_build(const struct gw_adapter_config *cfg,
                                       const struct gw_charge *charge, struct gw_arena *arena,
                                       struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = sandbox_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (charge->merchant_ref == NULL || !sandbox_ref_ok(charge->merchant_ref)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_ref is malformed");
    }
    const char *values[] = { cfg->merchant_id, charge->merchant_ref };
    _Static_assert(SANDBOX_COUNT(values) == SANDBOX_COUNT(sandbox_query_fields), "fields");
    char *url = NULL;
    err = sandbox_signed_url(cfg, "/sandbox/query", sandbox_query_fields, values,
                             SANDBOX_COUNT(values), arena, &url, eb);
    if (err != GW_OK) {
        return err;
    }
    req->method = "GET";
    req->url = url;
    req->content_type = NULL;
    req->body = "";
    req->body_len = 0;
    return GW_OK;
}

/* docs/providers.md#sandbox-query: 200 with the status object (pending allowed), or 404
 * {"status":"not_found"}; both signed in X-Sandbox-Signature (feegate-banksim signs the 404 too,
 * and an unsigned not_found is refused: it could otherwise be forged to expire a paid attempt). */
static enum gw_err sandbox_query_parse(const struct gw_adapter_config *cfg,
                                       const struct gw_adapter_input *in, struct gw_arena *arena,
                                       struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    (void)arena;
    memset(out, 0, sizeof(*out));
    if (in->http_status >= 500) {
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "sandbox: query answered %d", in->http_status);
    }
    if (in->http_status != 200 && in->http_status != 404) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "sandbox: query answered %d", in->http_status);
    }
    json_t *root = NULL;
    enum gw_err err = sandbox_signed_body(cfg, in, &root, eb);
    if (err != GW_OK) {
        return err;
    }
    if (in->http_status == 200) {
        err = sandbox_json_fields(cfg, root, true, out, eb);
    } else {
        const json_t *status = json_object_get(root, "status");
        if (json_is_string(status) && strcmp(json_string_value(status), "not_found") == 0) {
            out->outcome = GW_PAY_NOT_FOUND;
        } else {
            err = gw_fail(eb, GW_ERR_PROTOCOL, "sandbox: 404 without not_found");
        }
    }
    json_decref(root);
    return err;
}

/* ---- refunds (docs/providers.md#sandbox-refund, docs/providers.md#sandbox-refund-query) ---- */

/* The words of a refund's status field. */
static const struct {
    const char *name;
    enum gw_refund_outcome outcome;
} sandbox_refund_statuses[] = {
    { "succeeded", GW_REFUND_ACCEPTED },
    { "failed", GW_REFUND_REJECTED },
    { "pending", GW_REFUND_PENDING },
};

/* What every refund request needs: configuration, references and amount. */
static enum gw_err sandbox_refund_check(const struct gw_adapter_config *cfg,
                                        const struct gw_refund *r, struct gw_errbuf *eb)
{
    enum gw_err err = sandbox_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (r->merchant_ref == NULL || !sandbox_ref_ok(r->merchant_ref)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_ref is malformed");
    }
    if (r->refund_id == NULL || !sandbox_ref_ok(r->refund_id)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: refund_id is malformed");
    }
    return GW_OK;
}

/* docs/providers.md#sandbox-refund: POST {endpoint_url}/sandbox/refund, JSON {merchant_id,
 * merchant_ref, refund_id, amount_vnd, reason} in that order, X-Sandbox-Signature: hmac(body
 * bytes). */
static enum gw_err sandbox_refund_build(const struct gw_adapter_config *cfg,
                                        const struct gw_refund *r, struct gw_arena *arena,
                                        struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = sandbox_refund_check(cfg, r, eb);
    if (err != GW_OK) {
        return err;
    }
    if (r->amount_vnd <= 0 || r->amount_vnd > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: amount_vnd out of range");
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s}", "merchant_id", cfg->merchant_id, "merchant_ref",
                          r->merchant_ref, "refund_id", r->refund_id, "amount_vnd",
                          (json_int_t)r->amount_vnd, "reason", r->reason != NULL ? r->reason : "");
    char *body = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (body == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: reason is not valid utf-8");
    }
    size_t len = strlen(body);
    char *copy = gw_arena_strndup(arena, body, len);
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(cfg->secret, strlen(cfg->secret), body, len, mac);
    gw_libc_free(body);
    size_t base_len = strlen(cfg->endpoint_url);
    while (base_len > 0 && cfg->endpoint_url[base_len - 1] == '/') {
        base_len--;
    }
    req->url = gw_arena_printf(arena, "%.*s/sandbox/refund", (int)base_len, cfg->endpoint_url);
    req->headers[0].value = gw_arena_strdup(arena, mac);
    if (copy == NULL || req->url == NULL || req->headers[0].value == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "sandbox: out of request memory");
    }
    req->method = "POST";
    req->content_type = "application/json";
    req->body = copy;
    req->body_len = len;
    req->headers[0].name = SANDBOX_SIGNATURE_HEADER;
    req->n_headers = 1;
    return GW_OK;
}

/* The members of a verified refund object (docs/providers.md#sandbox-refund) into out. */
static enum gw_err sandbox_refund_fields(const struct gw_adapter_config *cfg, const json_t *obj,
                                         struct gw_refund_result *out, struct gw_errbuf *eb)
{
    const char *s = NULL;
    size_t len = 0;
    enum gw_err err = sandbox_json_str(obj, "merchant_id", &s, &len, eb);
    if (err != GW_OK) {
        return err;
    }
    if (strcmp(s, cfg->merchant_id) != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: merchant_id is not ours");
    }
    err = sandbox_json_str(obj, "status", &s, &len, eb);
    if (err != GW_OK) {
        return err;
    }
    size_t i = 0;
    while (i < SANDBOX_COUNT(sandbox_refund_statuses) &&
           strcmp(sandbox_refund_statuses[i].name, s) != 0) {
        i++;
    }
    if (i == SANDBOX_COUNT(sandbox_refund_statuses)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: unknown refund status");
    }
    enum gw_refund_outcome outcome = sandbox_refund_statuses[i].outcome;
    GW_ASSERT(sandbox_copy(out->provider_code, sizeof(out->provider_code), s, len));
    err = sandbox_json_str(obj, "refund_txn_id", &s, &len, eb);
    if (err != GW_OK) {
        return err;
    }
    if (outcome == GW_REFUND_ACCEPTED && !sandbox_txn_id_ok(s, len)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: refund_txn_id is malformed");
    }
    if (len > 0 &&
        !sandbox_copy(out->provider_refund_id, sizeof(out->provider_refund_id), s, len)) {
        return gw_fail(eb, GW_ERR_INVALID, "sandbox: refund_txn_id is malformed");
    }
    err = sandbox_json_int(obj, "amount_vnd", 1, GW_AMOUNT_VND_MAX, &out->amount_vnd, eb);
    if (err != GW_OK) {
        return err;
    }
    /* A refusal names its reason (payment_not_found, not_paid, exceeds_paid, ...). */
    const json_t *reason = json_object_get(obj, "reason");
    if (outcome == GW_REFUND_REJECTED && json_is_string(reason) && json_string_length(reason) > 0) {
        (void)sandbox_copy(out->provider_code, sizeof(out->provider_code),
                           json_string_value(reason), json_string_length(reason));
    }
    out->outcome = outcome;
    return GW_OK;
}

/* docs/providers.md#sandbox-refund, docs/providers.md#sandbox-refund-query: a signed answer. 200
 * carries the refund object; 404 {"status":"not_found"} (the bank has no such refund) leaves it
 * pending, like anything unreadable: an unknown refund is never taken for a refused one. */
static enum gw_err sandbox_refund_answer(const struct gw_adapter_config *cfg,
                                         const struct gw_adapter_input *in,
                                         struct gw_refund_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    out->outcome = GW_REFUND_PENDING;
    if (in->http_status >= 500) {
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "sandbox: refund answered %d", in->http_status);
    }
    if (in->http_status != 200 && in->http_status != 404) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "sandbox: refund answered %d", in->http_status);
    }
    json_t *root = NULL;
    enum gw_err err = sandbox_signed_body(cfg, in, &root, eb);
    if (err != GW_OK) {
        return err;
    }
    if (in->http_status == 200) {
        err = sandbox_refund_fields(cfg, root, out, eb);
    } else {
        const json_t *status = json_object_get(root, "status");
        if (json_is_string(status) && strcmp(json_string_value(status), "not_found") == 0) {
            GW_ASSERT(sandbox_copy(out->provider_code, sizeof(out->provider_code), "not_found",
                                   strlen("not_found")));
            out->outcome = GW_REFUND_NOT_FOUND;
        } else {
            err = gw_fail(eb, GW_ERR_PROTOCOL, "sandbox: 404 without not_found");
        }
    }
    json_decref(root);
    if (err != GW_OK) {
        out->outcome = GW_REFUND_PENDING;
    }
    return err;
}

static enum gw_err sandbox_refund_parse(const struct gw_adapter_config *cfg,
                                        const struct gw_adapter_input *in, struct gw_arena *arena,
                                        struct gw_refund_result *out, struct gw_errbuf *eb)
{
    (void)arena;
    return sandbox_refund_answer(cfg, in, out, eb);
}

/* docs/providers.md#sandbox-refund-query: GET
 * {endpoint_url}/sandbox/refund_query?merchant_id=M&refund_id=X&sig=hmac(q). */
static enum gw_err sandbox_refund_query_build(const struct gw_adapter_config *cfg,
                                              const struct gw_refund *r, struct gw_arena *arena,
                                              struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = sandbox_refund_check(cfg, r, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *values[] = { cfg->merchant_id, r->refund_id };
    _Static_assert(SANDBOX_COUNT(values) == SANDBOX_COUNT(sandbox_refund_query_fields), "fields");
    char *url = NULL;
    err = sandbox_signed_url(cfg, "/sandbox/refund_query", sandbox_refund_query_fields, values,
                             SANDBOX_COUNT(values), arena, &url, eb);
    if (err != GW_OK) {
        return err;
    }
    req->method = "GET";
    req->url = url;
    req->body = "";
    return GW_OK;
}

static enum gw_err sandbox_refund_query_parse(const struct gw_adapter_config *cfg,
                                              const struct gw_adapter_input *in,
                                              struct gw_arena *arena, struct gw_refund_result *out,
                                              struct gw_errbuf *eb)
{
    (void)arena;
    return sandbox_refund_answer(cfg, in, out, eb);
}
