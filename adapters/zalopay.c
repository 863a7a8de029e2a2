/* ZaloPay OpenAPI v2 (docs/providers.md#zalopay-v2): create (form POST, mac under
 * key1), the callback ({"data","mac","type"}, mac under key2 over the data string exactly as
 * received), the redirect checksum (key2), query, refund and query_refund (key1). MACs are
 * lowercase hex HMAC-SHA256 over '|'-joined raw values; the field lists below are the
 * protocol. app_id is merchant_id, key1 secret, key2 secret2. */
#include <string.h>

#include "adapter.h"
#include "adapter_int.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_url.h"

#include "banned.h"

#define ZALOPAY_FORM     "application/x-www-form-urlencoded"
#define ZALOPAY_APP_USER "feegate"
#define ZALOPAY_KEY1                                                        \
    "key1"                      /* in a mac list: the key itself as a value \
                                   (docs/providers.md#zalopay-query-and-refund) */
#define ZALOPAY_TRANS_ID_MAX 40 /* docs/providers.md#zalopay-create app_trans_id string(40) */
#define ZALOPAY_PREFIX_BYTES 7  /* "yymmdd_" */
#define ZALOPAY_EXPIRE_S_MIN 300
#define ZALOPAY_EXPIRE_S_MAX 2592000
#define ZALOPAY_DESC_MAX     256

/* docs/providers.md#zalopay-create: create mac and body. */
static const char *const zalopay_create_mac[] = {
    "app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item",
};
static const char *const zalopay_create_body[] = {
    "app_id",
    "app_user",
    "app_trans_id",
    "app_time",
    "amount",
    "item",
    "embed_data",
    "description",
    "bank_code",
    "callback_url",
    "expire_duration_seconds",
    "mac",
};
/* docs/providers.md#zalopay-redirect: redirect checksum (key2); the parameters arrive under these
 * names. */
static const char *const zalopay_redirect_mac[] = {
    "appid", "apptransid", "pmcid", "bankcode", "amount", "discountamount", "status",
};
/* docs/providers.md#zalopay-query-and-refund: query, refund, query_refund. */
static const char *const zalopay_query_mac[] = { "app_id", "app_trans_id", ZALOPAY_KEY1 };
static const char *const zalopay_query_body[] = { "app_id", "app_trans_id", "mac" };
static const char *const zalopay_refund_mac[] = {
    "app_id", "zp_trans_id", "amount", "description", "timestamp",
};
static const char *const zalopay_refund_body[] = {
    "app_id", "m_refund_id", "zp_trans_id", "amount", "timestamp", "description", "mac",
};
static const char *const zalopay_qrefund_mac[] = { "app_id", "m_refund_id", "timestamp" };
static const char *const zalopay_qrefund_body[] = { "app_id", "m_refund_id", "timestamp", "mac" };

/* docs/providers.md#zalopay-callback: callback answers. 1 processed, 2 duplicate: ZaloPay stops;
 * anything else (0) makes it call again (at most 3 times); -1 is the official sample's "mac is not
 * equal". */
static const struct gw_adapter_reply zalopay_replies[GW_CB_VERDICTS] = {
    [GW_CB_APPLIED] = { 200, "application/json",
                        "{\"return_code\":1,\"return_message\":\"success\"}" },
    [GW_CB_DUPLICATE] = { 200, "application/json",
                          "{\"return_code\":2,\"return_message\":\"duplicate\"}" },
    [GW_CB_NOT_FOUND] = { 200, "application/json",
                          "{\"return_code\":0,\"return_message\":\"order not found\"}" },
    [GW_CB_AMOUNT_MISMATCH] = { 200, "application/json",
                                "{\"return_code\":0,\"return_message\":\"invalid amount\"}" },
    [GW_CB_BAD_SIGNATURE] = { 200, "application/json",
                              "{\"return_code\":-1,\"return_message\":\"mac not equal\"}" },
    [GW_CB_INVALID] = { 200, "application/json",
                        "{\"return_code\":0,\"return_message\":\"invalid callback\"}" },
    [GW_CB_RETRY_LATER] = { 200, "application/json",
                            "{\"return_code\":0,\"return_message\":\"retry later\"}" },
};

static gw_adapter_parse_fn zalopay_callback_parse;
static gw_adapter_parse_fn zalopay_return_parse;
static gw_adapter_query_fn zalopay_query_build;
static gw_adapter_parse_fn zalopay_query_parse;
static gw_adapter_query_fn zalopay_create_build;
static gw_adapter_create_parse_fn zalopay_create_parse;
static gw_adapter_refund_fn zalopay_refund_build;
static gw_adapter_refund_parse_fn zalopay_refund_parse;
static gw_adapter_refund_fn zalopay_refund_query_build;

const struct gw_adapter_ops gw_adapter_zalopay = {
    .name = "zalopay",
    .abi_version = GW_ADAPTER_ABI,
    .caps = GW_ADAPTER_CAP_CREATE | GW_ADAPTER_CAP_QUERY | GW_ADAPTER_CAP_REFUND |
            GW_ADAPTER_CAP_REFUND_QUERY,
    .callback_parse = zalopay_callback_parse,
    .signature_header = NULL,
    .callback_replies = zalopay_replies,
    .return_parse = zalopay_return_parse,
    .query_build = zalopay_query_build,
    .query_parse = zalopay_query_parse,
    .create_build = zalopay_create_build,
    .create_parse = zalopay_create_parse,
    .refund_build = zalopay_refund_build,
    .refund_parse = zalopay_refund_parse,
    .refund_query_build = zalopay_refund_query_build,
    .refund_query_parse =
        zalopay_refund_parse, /* docs/providers.md#zalopay-query-and-refund: same return codes */
};

static bool zalopay_digits(const char *s, size_t n_max)
{
    int64_t v = 0;
    return s != NULL && strlen(s) <= n_max && gw_adp_parse_i64(s, 1, INT64_MAX, &v);
}

static enum gw_err zalopay_config_check(const struct gw_adapter_config *cfg, struct gw_errbuf *eb)
{
    if (!zalopay_digits(cfg->merchant_id, 18)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: merchant_id must be the numeric app_id");
    }
    if (!gw_adp_nonempty(cfg->secret) || !gw_adp_nonempty(cfg->secret2)) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "zalopay: key1 (secret) and key2 (secret2) are required");
    }
    if (!gw_adp_nonempty(cfg->endpoint_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: endpoint_url is required");
    }
    return GW_OK;
}

/* HMAC-SHA256(key, values joined with '|') into mac. */
static enum gw_err zalopay_mac(const char *key, const char *const *values, size_t n,
                               struct gw_arena *arena, char mac[GW_SHA256_HEX_BYTES])
{
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    gw_adp_str_join(&s, values, n, '|');
    char *data = NULL;
    size_t len = 0;
    enum gw_err err = gw_adp_str_finish(&s, &data, &len);
    if (err == GW_OK) {
        gw_hmac_sha256_hex(key, strlen(key), data, len, mac);
    }
    return err;
}

/* A form POST to {endpoint_url}{path}: body names/values (the last name is "mac", filled
 * here; NULL values are not sent), mac under key1 over the values named in mac_names. */
static enum gw_err zalopay_request(const struct gw_adapter_config *cfg, const char *path,
                                   const char *const *mac_names, size_t n_mac,
                                   const char *const *names, const char **values, size_t n,
                                   struct gw_arena *arena, struct gw_adapter_http *req,
                                   struct gw_errbuf *eb)
{
    GW_ASSERT(n > 0 && strcmp(names[n - 1], "mac") == 0);
    const char *mv[GW_ADP_COUNT(zalopay_create_mac)];
    GW_ASSERT(n_mac <= GW_ADP_COUNT(mv));
    for (size_t i = 0; i < n_mac; i++) {
        mv[i] = strcmp(mac_names[i], ZALOPAY_KEY1) == 0 ? cfg->secret : NULL;
        for (size_t j = 0; j + 1 < n && mv[i] == NULL; j++) {
            if (strcmp(names[j], mac_names[i]) == 0) {
                mv[i] = values[j];
            }
        }
    }
    char mac[GW_SHA256_HEX_BYTES];
    enum gw_err err = zalopay_mac(cfg->secret, mv, n_mac, arena, mac);
    values[n - 1] = mac;
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    bool first = true;
    for (size_t i = 0; i < n && err == GW_OK; i++) {
        if (values[i] == NULL) {
            continue;
        }
        if (!first) {
            gw_adp_str_addc(&s, '&');
        }
        first = false;
        gw_adp_str_kv_form(&s, &names[i], &values[i], 1);
    }
    char *body = NULL;
    size_t len = 0;
    if (err == GW_OK) {
        err = gw_adp_str_finish(&s, &body, &len);
    }
    const char *url = gw_adp_url(arena, cfg->endpoint_url, path);
    if (err != GW_OK || url == NULL) {
        return gw_fail(eb, err != GW_OK ? err : GW_ERR_NOMEM, "zalopay: request too long");
    }
    gw_adp_http_post(req, url, ZALOPAY_FORM, body, len);
    return GW_OK;
}

/* docs/providers.md#zalopay-create: app_trans_id = yymmdd (Vietnam date of t) + "_" + ref, at most
 * 40 bytes. */
static char *zalopay_trans_id(struct gw_arena *arena, time_t t, const char *ref)
{
    if (t <= 0 || !gw_adp_id_ok(ref, ZALOPAY_TRANS_ID_MAX - ZALOPAY_PREFIX_BYTES)) {
        return NULL;
    }
    char d[7];
    gw_adp_yymmdd_vn(t, d);
    return gw_arena_printf(arena, "%s_%s", d, ref);
}

/* The ref of an app_trans_id "yymmdd_ref", or NULL. */
static const char *zalopay_ref_of(const char *trans_id)
{
    if (trans_id == NULL || strlen(trans_id) <= ZALOPAY_PREFIX_BYTES ||
        strlen(trans_id) > ZALOPAY_TRANS_ID_MAX) {
        return NULL;
    }
    for (size_t i = 0; i < 6; i++) {
        if (trans_id[i] < '0' || trans_id[i] > '9') {
            return NULL;
        }
    }
    const char *ref = trans_id + ZALOPAY_PREFIX_BYTES;
    return trans_id[6] == '_' && gw_adp_id_ok(ref, GW_MERCHANT_REF_BYTES_MAX) ? ref : NULL;
}

/* docs/providers.md#zalopay-create: embed_data carries the return page; one serialisation, hashed
 * as sent. */
static char *zalopay_embed_data(const struct gw_adapter_config *cfg, struct gw_arena *arena)
{
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    gw_adp_str_adds(&s, "{\"redirecturl\":");
    gw_adp_str_add_json(&s, cfg->return_url);
    gw_adp_str_addc(&s, '}');
    char *out = NULL;
    return gw_adp_str_finish(&s, &out, NULL) == GW_OK ? out : NULL;
}

/* docs/providers.md#zalopay-create: POST {endpoint_url}/v2/create. app_time is created_at in ms;
 * the order lives until expires_at when ZaloPay accepts that duration (300 s..30 days). */
static enum gw_err zalopay_create_build(const struct gw_adapter_config *cfg,
                                        const struct gw_charge *charge, struct gw_arena *arena,
                                        struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = zalopay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!gw_adp_nonempty(cfg->return_url) || !gw_adp_nonempty(cfg->ipn_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: return_url and ipn_url are required");
    }
    if (charge->amount_vnd <= 0 || charge->amount_vnd > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: amount_vnd out of range");
    }
    const char *trans_id = zalopay_trans_id(arena, charge->created_at, charge->merchant_ref);
    if (trans_id == NULL) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "zalopay: merchant_ref (<= 33 bytes) or created_at invalid");
    }
    const char *desc =
        gw_adp_nonempty(charge->order_info) ? charge->order_info : charge->merchant_ref;
    if (strlen(desc) > ZALOPAY_DESC_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: order_info longer than 256 bytes");
    }
    int64_t life_s = (int64_t)(charge->expires_at - charge->created_at);
    const char *app_time = gw_adp_i64(arena, (int64_t)charge->created_at * 1000);
    const char *amount = gw_adp_i64(arena, charge->amount_vnd);
    const char *embed = zalopay_embed_data(cfg, arena);
    const char *expire = life_s >= ZALOPAY_EXPIRE_S_MIN && life_s <= ZALOPAY_EXPIRE_S_MAX
                             ? gw_adp_i64(arena, life_s)
                             : NULL;
    if (app_time == NULL || amount == NULL || embed == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "zalopay: out of request memory");
    }
    const char *values[] = {
        cfg->merchant_id,
        gw_adp_nonempty(cfg->app_user) ? cfg->app_user : ZALOPAY_APP_USER,
        trans_id,
        app_time,
        amount,
        "[]",
        embed,
        desc,
        cfg->method != NULL ? cfg->method : "",
        cfg->ipn_url,
        expire,
        NULL,
    };
    _Static_assert(GW_ADP_COUNT(values) == GW_ADP_COUNT(zalopay_create_body), "create body");
    return zalopay_request(cfg, "/v2/create", zalopay_create_mac, GW_ADP_COUNT(zalopay_create_mac),
                           zalopay_create_body, values, GW_ADP_COUNT(values), arena, req, eb);
}

/* A member of a JSON answer as text, NULL when absent or mistyped. */
static const char *zalopay_get(struct gw_arena *arena, const json_t *root, const char *key)
{
    const char *v = NULL;
    return gw_adp_json_text(arena, root, key, &v) ? v : NULL;
}

/* Loads an API answer and its return_code. The answers of
 * docs/providers.md#zalopay-create/docs/providers.md#zalopay-query-and-refund are not signed: they
 * are trusted as far as the TLS connection to endpoint_url is. */
static enum gw_err zalopay_answer(const struct gw_adapter_config *cfg,
                                  const struct gw_adapter_input *in, json_t **root, int64_t *code,
                                  struct gw_errbuf *eb)
{
    *root = NULL;
    enum gw_err err = zalopay_config_check(cfg, eb);
    if (err == GW_OK) {
        err = gw_adp_http_status("zalopay", in, eb);
    }
    if (err == GW_OK) {
        err = gw_adp_json_load("zalopay", in->body, in->body_len, root, eb);
    }
    if (err != GW_OK) {
        return err == GW_ERR_INVALID ? GW_ERR_PROTOCOL : err;
    }
    const json_t *rc = json_object_get(*root, "return_code");
    if (!json_is_integer(rc)) {
        json_decref(*root);
        *root = NULL;
        return gw_fail(eb, GW_ERR_PROTOCOL, "zalopay: return_code missing");
    }
    *code = (int64_t)json_integer_value(rc);
    return GW_OK;
}

/* "return_code/sub_return_code" for the history. */
static void zalopay_code(struct gw_arena *arena, const json_t *root, int64_t code, char *out,
                         size_t out_size)
{
    const char *sub = zalopay_get(arena, root, "sub_return_code");
    const char *s = sub != NULL ? gw_arena_printf(arena, "%lld/%s", (long long)code, sub)
                                : gw_adp_i64(arena, code);
    if (s != NULL) {
        (void)gw_adp_copy(out, out_size, s);
    }
}

/* docs/providers.md#zalopay-create: return_code 1 with an order_url is created; 2 is ZaloPay's
 * refusal. */
static enum gw_err zalopay_create_parse(const struct gw_adapter_config *cfg,
                                        const struct gw_adapter_input *in, struct gw_arena *arena,
                                        struct gw_adapter_created *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    int64_t code = 0;
    enum gw_err err = zalopay_answer(cfg, in, &root, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    zalopay_code(arena, root, code, out->provider_code, sizeof(out->provider_code));
    const char *url = zalopay_get(arena, root, "order_url");
    const char *token = zalopay_get(arena, root, "zp_trans_token");
    if (token != NULL) {
        (void)gw_adp_copy(out->provider_ref, sizeof(out->provider_ref), token);
    }
    if (code == 1) {
        if (url == NULL || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
            err = gw_fail(eb, GW_ERR_PROTOCOL, "zalopay: created without an order_url");
        }
        out->created = err == GW_OK;
        out->pay_url = out->created ? url : NULL;
    }
    json_decref(root);
    return err;
}

/* The business fields of a verified callback's data (docs/providers.md#zalopay-callback): only
 * successful payments are called back. */
static enum gw_err zalopay_data_fields(const struct gw_adapter_config *cfg, struct gw_arena *arena,
                                       const json_t *data, struct gw_adapter_result *out,
                                       struct gw_errbuf *eb)
{
    const char *app_id = zalopay_get(arena, data, "app_id");
    const char *ref = zalopay_ref_of(zalopay_get(arena, data, "app_trans_id"));
    const char *zp = zalopay_get(arena, data, "zp_trans_id");
    const char *server_time = zalopay_get(arena, data, "server_time");
    int64_t zp_id = 0;
    int64_t ms = 0;
    if (app_id == NULL || strcmp(app_id, cfg->merchant_id) != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: app_id is not ours");
    }
    if (ref == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: app_trans_id is malformed");
    }
    if (!json_is_integer(json_object_get(data, "amount")) ||
        !gw_adp_parse_i64(zalopay_get(arena, data, "amount"), 1, GW_AMOUNT_VND_MAX,
                          &out->amount_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: amount is malformed");
    }
    if (!gw_adp_parse_i64(zp, 1, INT64_MAX, &zp_id)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: zp_trans_id is malformed");
    }
    if (server_time != NULL && !gw_adp_parse_i64(server_time, 0, INT64_MAX, &ms)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: server_time is malformed");
    }
    GW_ASSERT(gw_adp_copy(out->merchant_id, sizeof(out->merchant_id), app_id));
    GW_ASSERT(gw_adp_copy(out->merchant_ref, sizeof(out->merchant_ref), ref));
    GW_ASSERT(gw_adp_copy(out->provider_txn_id, sizeof(out->provider_txn_id), zp));
    (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), "1");
    out->paid_at = (time_t)(ms / 1000);
    out->outcome = GW_PAY_SUCCEEDED;
    return GW_OK;
}

/* docs/providers.md#zalopay-callback: POST {"data":"<json>","mac":"<hex>","type":1}. The envelope
 * is read for data and mac only; mac = HMAC-SHA256(key2, data) over the data string as received
 * (decoded from its JSON string, never re-serialised); then data is parsed. type 2 (agreement) is
 * not ours. */
static enum gw_err zalopay_callback_parse(const struct gw_adapter_config *cfg,
                                          const struct gw_adapter_input *in, struct gw_arena *arena,
                                          struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = zalopay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (in->method != NULL && strcmp(in->method, "POST") != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: callback must be a post");
    }
    if (in->body_len > GW_CALLBACK_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: body too large");
    }
    json_t *env = NULL;
    err = gw_adp_json_load("zalopay", in->body, in->body_len, &env, eb);
    if (err != GW_OK) {
        return err;
    }
    const json_t *data = json_object_get(env, "data");
    const json_t *mac = json_object_get(env, "mac");
    const json_t *type = json_object_get(env, "type");
    char want[GW_SHA256_HEX_BYTES];
    if (!json_is_string(data) || !json_is_string(mac)) { /* nothing signed to check */
        err = gw_fail(eb, GW_ERR_AUTH, "zalopay: data or mac missing");
    }
    if (err == GW_OK) {
        gw_hmac_sha256_hex(cfg->secret2, strlen(cfg->secret2), json_string_value(data),
                           json_string_length(data), want);
        if (!gw_hex_equal_ct(json_string_value(mac), json_string_length(mac), want,
                             GW_SHA256_HEX_BYTES - 1)) {
            err = gw_fail(eb, GW_ERR_AUTH, "zalopay: bad mac");
        }
    }
    if (err == GW_OK && type != NULL && !(json_is_integer(type) && json_integer_value(type) == 1)) {
        err = gw_fail(eb, GW_ERR_INVALID, "zalopay: callback type is not 1 (order)");
    }
    json_t *d = NULL;
    if (err == GW_OK) {
        err =
            gw_adp_json_load("zalopay", json_string_value(data), json_string_length(data), &d, eb);
    }
    if (err == GW_OK) {
        err = zalopay_data_fields(cfg, arena, d, out, eb);
    }
    json_decref(d);
    json_decref(env);
    return err;
}

/* docs/providers.md#zalopay-redirect: the browser returns with appid, apptransid, pmcid, bankcode,
 * amount, discountamount, status and checksum = HMAC(key2, those joined with '|'). Display only. */
static enum gw_err zalopay_return_parse(const struct gw_adapter_config *cfg,
                                        const struct gw_adapter_input *in, struct gw_arena *arena,
                                        struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = zalopay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (in->query_len > GW_CALLBACK_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: query string too long");
    }
    struct gw_kv *kv = NULL;
    size_t n = 0;
    err = gw_form_parse(arena, in->query != NULL ? in->query : "", in->query_len, GW_ADP_PAIRS_MAX,
                        &kv, &n);
    if (err != GW_OK) {
        return gw_fail(eb, err == GW_ERR_NOMEM ? err : GW_ERR_INVALID,
                       "zalopay: malformed query string");
    }
    const char *v[GW_ADP_COUNT(zalopay_redirect_mac)];
    for (size_t i = 0; i < GW_ADP_COUNT(v); i++) {
        v[i] = gw_kv_get(kv, n, zalopay_redirect_mac[i]);
    }
    const char *sum = gw_kv_get(kv, n, "checksum");
    if (!gw_adp_nonempty(sum)) {
        return gw_fail(eb, GW_ERR_AUTH, "zalopay: checksum missing");
    }
    char want[GW_SHA256_HEX_BYTES];
    if (zalopay_mac(cfg->secret2, v, GW_ADP_COUNT(v), arena, want) != GW_OK) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: query string too long");
    }
    if (!gw_hex_equal_ct(sum, strlen(sum), want, GW_SHA256_HEX_BYTES - 1)) {
        return gw_fail(eb, GW_ERR_AUTH, "zalopay: bad checksum");
    }
    const char *ref = zalopay_ref_of(v[1]);
    if (v[0] == NULL || strcmp(v[0], cfg->merchant_id) != 0 || ref == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: appid or apptransid is not ours");
    }
    if (!gw_adp_parse_i64(v[4], 1, GW_AMOUNT_VND_MAX, &out->amount_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: amount is malformed");
    }
    GW_ASSERT(gw_adp_copy(out->merchant_id, sizeof(out->merchant_id), v[0]));
    GW_ASSERT(gw_adp_copy(out->merchant_ref, sizeof(out->merchant_ref), ref));
    (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), v[6] != NULL ? v[6] : "");
    out->outcome = v[6] != NULL && strcmp(v[6], "1") == 0 ? GW_PAY_SUCCEEDED : GW_PAY_FAILED;
    return GW_OK;
}

/* docs/providers.md#zalopay-query-and-refund: POST {endpoint_url}/v2/query, mac = HMAC(key1,
 * app_id|app_trans_id|key1); the app_trans_id is rebuilt from created_at as create made it. */
static enum gw_err zalopay_query_build(const struct gw_adapter_config *cfg,
                                       const struct gw_charge *charge, struct gw_arena *arena,
                                       struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = zalopay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *trans_id = zalopay_trans_id(arena, charge->created_at, charge->merchant_ref);
    if (trans_id == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: merchant_ref or created_at invalid");
    }
    const char *values[] = { cfg->merchant_id, trans_id, NULL };
    _Static_assert(GW_ADP_COUNT(values) == GW_ADP_COUNT(zalopay_query_body), "query body");
    return zalopay_request(cfg, "/v2/query", zalopay_query_mac, GW_ADP_COUNT(zalopay_query_mac),
                           zalopay_query_body, values, GW_ADP_COUNT(values), arena, req, eb);
}

/* docs/providers.md#zalopay-query-and-refund: return_code 1 paid, 2 failed, 3 (or is_processing)
 * pending; -500 and -429 ask again; other codes refuse our request (outcome unknown). The answer
 * does not echo app_trans_id: merchant_ref stays empty and the gateway matches by its request. */
static enum gw_err zalopay_query_parse(const struct gw_adapter_config *cfg,
                                       const struct gw_adapter_input *in, struct gw_arena *arena,
                                       struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    int64_t code = 0;
    enum gw_err err = zalopay_answer(cfg, in, &root, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    zalopay_code(arena, root, code, out->provider_code, sizeof(out->provider_code));
    const char *zp = zalopay_get(arena, root, "zp_trans_id");
    const char *amount = zalopay_get(arena, root, "amount");
    bool processing = json_is_true(json_object_get(root, "is_processing"));
    int64_t zp_id = 0;
    if (code == -500 || code == -429) {
        err = gw_fail(eb, GW_ERR_UNAVAILABLE, "zalopay: query answered %lld", (long long)code);
    } else if (code < 1 || code > 3) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "zalopay: query refused with %lld", (long long)code);
    } else if (code == 1 && !gw_adp_parse_i64(amount, 1, GW_AMOUNT_VND_MAX, &out->amount_vnd)) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "zalopay: amount is malformed");
    } else if (zp != NULL && strcmp(zp, "0") != 0 && !gw_adp_parse_i64(zp, 1, INT64_MAX, &zp_id)) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "zalopay: zp_trans_id is malformed");
    }
    json_decref(root);
    if (err != GW_OK) {
        return err;
    }
    GW_ASSERT(gw_adp_copy(out->merchant_id, sizeof(out->merchant_id), cfg->merchant_id));
    if (zp_id > 0) {
        GW_ASSERT(gw_adp_copy(out->provider_txn_id, sizeof(out->provider_txn_id), zp));
    }
    out->outcome = processing || code == 3 ? GW_PAY_PENDING
                   : code == 1             ? GW_PAY_SUCCEEDED
                                           : GW_PAY_FAILED;
    return GW_OK;
}

/* docs/providers.md#zalopay-query-and-refund: m_refund_id = yymmdd (Vietnam date of the refund's
 * creation) _ app_id _ refund_id. */
static char *zalopay_refund_id(const struct gw_adapter_config *cfg, const struct gw_refund *r,
                               struct gw_arena *arena)
{
    if (r->created_at <= 0 || !gw_adp_id_ok(r->refund_id, 32)) {
        return NULL;
    }
    char d[7];
    gw_adp_yymmdd_vn(r->created_at, d);
    return gw_arena_printf(arena, "%s_%s_%s", d, cfg->merchant_id, r->refund_id);
}

/* docs/providers.md#zalopay-query-and-refund: POST {endpoint_url}/v2/refund. */
static enum gw_err zalopay_refund_build(const struct gw_adapter_config *cfg,
                                        const struct gw_refund *r, struct gw_arena *arena,
                                        struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = zalopay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *m_refund_id = zalopay_refund_id(cfg, r, arena);
    if (m_refund_id == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: refund_id or created_at invalid");
    }
    if (!zalopay_digits(r->provider_txn_id, 18)) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: provider_txn_id is not a zp_trans_id");
    }
    if (r->amount_vnd <= 0 || r->amount_vnd > GW_AMOUNT_VND_MAX || r->requested_at <= 0) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: amount_vnd or requested_at invalid");
    }
    const char *desc = gw_adp_nonempty(r->reason)
                           ? r->reason
                           : gw_arena_printf(arena, "Hoan phi %s", r->merchant_ref);
    const char *amount = gw_adp_i64(arena, r->amount_vnd);
    const char *ts = gw_adp_i64(arena, (int64_t)r->requested_at * 1000);
    if (desc == NULL || amount == NULL || ts == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "zalopay: out of request memory");
    }
    const char *values[] = {
        cfg->merchant_id, m_refund_id, r->provider_txn_id, amount, ts, desc, NULL
    };
    _Static_assert(GW_ADP_COUNT(values) == GW_ADP_COUNT(zalopay_refund_body), "refund body");
    return zalopay_request(cfg, "/v2/refund", zalopay_refund_mac, GW_ADP_COUNT(zalopay_refund_mac),
                           zalopay_refund_body, values, GW_ADP_COUNT(values), arena, req, eb);
}

/* docs/providers.md#zalopay-query-and-refund: POST {endpoint_url}/v2/query_refund for the refund r
 * (same m_refund_id). */
static enum gw_err zalopay_refund_query_build(const struct gw_adapter_config *cfg,
                                              const struct gw_refund *r, struct gw_arena *arena,
                                              struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = zalopay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *m_refund_id = zalopay_refund_id(cfg, r, arena);
    if (m_refund_id == NULL || r->requested_at <= 0) {
        return gw_fail(eb, GW_ERR_INVALID, "zalopay: refund_id or times invalid");
    }
    const char *ts = gw_adp_i64(arena, (int64_t)r->requested_at * 1000);
    if (ts == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "zalopay: out of request memory");
    }
    const char *values[] = { cfg->merchant_id, m_refund_id, ts, NULL };
    _Static_assert(GW_ADP_COUNT(values) == GW_ADP_COUNT(zalopay_qrefund_body), "body");
    return zalopay_request(cfg, "/v2/query_refund", zalopay_qrefund_mac,
                           GW_ADP_COUNT(zalopay_qrefund_mac), zalopay_qrefund_body, values,
                           GW_ADP_COUNT(values), arena, req, eb);
}

/* docs/providers.md#zalopay-query-and-refund: refund and query_refund answers: 1 refunded, 2
 * refused, 3 processing; -500 and -429 leave it pending; other negative codes refuse the request
 * (nothing refunded). */
static enum gw_err zalopay_refund_parse(const struct gw_adapter_config *cfg,
                                        const struct gw_adapter_input *in, struct gw_arena *arena,
                                        struct gw_refund_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    int64_t code = 0;
    enum gw_err err = zalopay_answer(cfg, in, &root, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    zalopay_code(arena, root, code, out->provider_code, sizeof(out->provider_code));
    const char *id = zalopay_get(arena, root, "refund_id");
    const char *amount = zalopay_get(arena, root, "amount");
    json_decref(root);
    out->outcome = code == 1                                   ? GW_REFUND_ACCEPTED
                   : code == 3 || code == -500 || code == -429 ? GW_REFUND_PENDING
                   : code == 2 || code < 0                     ? GW_REFUND_REJECTED
                                                               : GW_REFUND_PENDING;
    if (gw_adp_nonempty(id) && strcmp(id, "0") != 0) {
        (void)gw_adp_copy(out->provider_refund_id, sizeof(out->provider_refund_id), id);
    }
    if (!gw_adp_parse_i64(amount, 1, GW_AMOUNT_VND_MAX, &out->amount_vnd)) {
        out->amount_vnd = 0;
    }
    return GW_OK;
}
