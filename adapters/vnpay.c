/* VNPAY payment gateway, API 2.1.0 (docs/providers.md#vnpay-210): the signed
 * redirect to the payment page, the IPN (GET) and the browser return verified over every
 * received vnp_* parameter, querydr and refund with their pipe-joined checksums. All MACs
 * are lowercase hex HMAC-SHA512 under vnp_HashSecret (docs/providers.md#hmac-basics), compared in
 * constant time, case-insensitively; nothing is read from a message before its hash checks out. */
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "adapter_int.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_time.h"
#include "gw_url.h"

#include "banned.h"

#define VNPAY_VERSION    "2.1.0"
#define VNPAY_HASH       "vnp_SecureHash"
#define VNPAY_HASH_TYPE  "vnp_SecureHashType"
#define VNPAY_PREFIX     "vnp_"
#define VNPAY_API_PATH   "/merchant_webapi/api/transaction" /* docs/providers.md#vnpay-endpoints */
#define VNPAY_ORDER_TYPE "other" /* docs/providers.md#vnpay-pay-request: generic goods code */
#define VNPAY_INFO_MAX   255     /* docs/providers.md#vnpay-pay-request vnp_OrderInfo */
#define VNPAY_TXN_NO_MAX 15      /* docs/providers.md#vnpay-ipn-and-return vnp_TransactionNo */
#define VNPAY_SERVER_IP  "127.0.0.1"

struct vnpay_pair {
    const char *name;
    const char *value; /* NULL: not sent */
};

/* docs/providers.md#vnpay-querydr: querydr request and response checksum orders. */
static const char *const vnpay_querydr_hash[] = {
    "vnp_RequestId",       "vnp_Version",    "vnp_Command", "vnp_TmnCode",   "vnp_TxnRef",
    "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr",  "vnp_OrderInfo",
};
static const char *const vnpay_querydr_answer_hash[] = {
    "vnp_ResponseId", "vnp_Command",       "vnp_ResponseCode",    "vnp_Message",
    "vnp_TmnCode",    "vnp_TxnRef",        "vnp_Amount",          "vnp_BankCode",
    "vnp_PayDate",    "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
    "vnp_OrderInfo",  "vnp_PromotionCode", "vnp_PromotionAmount",
};
/* docs/providers.md#vnpay-refund: refund request and response checksum orders. */
static const char *const vnpay_refund_hash[] = {
    "vnp_RequestId",       "vnp_Version",  "vnp_Command",    "vnp_TmnCode",
    "vnp_TransactionType", "vnp_TxnRef",   "vnp_Amount",     "vnp_TransactionNo",
    "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr",
    "vnp_OrderInfo",
};
static const char *const vnpay_refund_answer_hash[] = {
    "vnp_ResponseId", "vnp_Command",       "vnp_ResponseCode",    "vnp_Message",
    "vnp_TmnCode",    "vnp_TxnRef",        "vnp_Amount",          "vnp_BankCode",
    "vnp_PayDate",    "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
    "vnp_OrderInfo",
};

/* docs/providers.md#vnpay-ipn-and-return: the IPN answers, indexed by verdict. VNPAY stops on 00
 * and 02, retries on the rest. */
static const struct gw_adapter_reply vnpay_replies[GW_CB_VERDICTS] = {
    [GW_CB_APPLIED] = { 200, "application/json",
                        "{\"RspCode\":\"00\",\"Message\":\"Confirm Success\"}" },
    [GW_CB_DUPLICATE] = { 200, "application/json",
                          "{\"RspCode\":\"02\",\"Message\":\"Order already confirmed\"}" },
    [GW_CB_NOT_FOUND] = { 200, "application/json",
                          "{\"RspCode\":\"01\",\"Message\":\"Order not found\"}" },
    [GW_CB_AMOUNT_MISMATCH] = { 200, "application/json",
                                "{\"RspCode\":\"04\",\"Message\":\"invalid amount\"}" },
    [GW_CB_BAD_SIGNATURE] = { 200, "application/json",
                              "{\"RspCode\":\"97\",\"Message\":\"Invalid signature\"}" },
    [GW_CB_INVALID] = { 200, "application/json",
                        "{\"RspCode\":\"99\",\"Message\":\"Unknow error\"}" },
    [GW_CB_RETRY_LATER] = { 200, "application/json",
                            "{\"RspCode\":\"99\",\"Message\":\"Unknow error\"}" },
};

/* docs/providers.md#vnpay-codes: vnp_TransactionStatus of a payment (IPN, return, querydr) ->
 * outcome. 05/06/09 are refund states of a paid transaction; 07 (fraud review) waits for the
 * merchant's decision. */
static const struct {
    const char *code;
    enum gw_pay_outcome outcome;
} vnpay_txn_statuses[] = {
    { "00", GW_PAY_SUCCEEDED }, { "01", GW_PAY_PENDING },   { "02", GW_PAY_FAILED },
    { "04", GW_PAY_FAILED },    { "05", GW_PAY_SUCCEEDED }, { "06", GW_PAY_SUCCEEDED },
    { "07", GW_PAY_PENDING },   { "09", GW_PAY_SUCCEEDED },
};

/* docs/providers.md#vnpay-codes: querydr and refund vnp_ResponseCode classes. */
enum vnpay_api_class {
    VNPAY_API_OK,
    VNPAY_API_NOT_FOUND,
    VNPAY_API_RETRY,
    VNPAY_API_REFUSED
};

static const struct {
    const char *code;
    enum vnpay_api_class cls;
} vnpay_api_codes[] = {
    { "00", VNPAY_API_OK },        { "02", VNPAY_API_REFUSED }, { "03", VNPAY_API_REFUSED },
    { "91", VNPAY_API_NOT_FOUND }, { "94", VNPAY_API_RETRY },   { "95", VNPAY_API_REFUSED },
    { "97", VNPAY_API_REFUSED },   { "99", VNPAY_API_RETRY },
};

/* docs/providers.md#vnpay-pay-request vnp_OrderInfo must be ASCII without diacritics: Vietnamese
 * letters fold to their base letter. Latin-1 U+00C0..U+00FF, a space where there is no letter. */
static const char vnpay_fold_latin1[] = "AAAAAAACEEEEIIII"
                                        "DNOOOOO OUUUUY s"
                                        "aaaaaaaceeeeiiii"
                                        "dnooooo ouuuuy y";

static const struct {
    uint32_t cp;
    char ascii;
} vnpay_fold_single[] = {
    { 0x102, 'A' }, { 0x103, 'a' }, { 0x110, 'D' }, { 0x111, 'd' }, { 0x128, 'I' }, { 0x129, 'i' },
    { 0x168, 'U' }, { 0x169, 'u' }, { 0x1A0, 'O' }, { 0x1A1, 'o' }, { 0x1AF, 'U' }, { 0x1B0, 'u' },
};

/* U+1EA0..U+1EF9 alternate upper (even) and lower (odd) case. */
static const struct {
    uint32_t lo, hi;
    char upper;
} vnpay_fold_ranges[] = {
    { 0x1EA0, 0x1EB7, 'A' }, { 0x1EB8, 0x1EC7, 'E' }, { 0x1EC8, 0x1ECB, 'I' },
    { 0x1ECC, 0x1EE3, 'O' }, { 0x1EE4, 0x1EF1, 'U' }, { 0x1EF2, 0x1EF9, 'Y' },
};

static gw_adapter_checkout_fn vnpay_checkout;
static gw_adapter_parse_fn vnpay_callback_parse;
static gw_adapter_parse_fn vnpay_return_parse;
static gw_adapter_query_fn vnpay_query_build;
static gw_adapter_parse_fn vnpay_query_parse;
static gw_adapter_refund_fn vnpay_refund_build;
static gw_adapter_refund_parse_fn vnpay_refund_parse;
static gw_adapter_refund_fn vnpay_refund_query_build;
static gw_adapter_refund_parse_fn vnpay_refund_query_parse;

const struct gw_adapter_ops gw_adapter_vnpay = {
    .name = "vnpay",
    .abi_version = GW_ADAPTER_ABI,
    .caps = GW_ADAPTER_CAP_REDIRECT | GW_ADAPTER_CAP_QUERY | GW_ADAPTER_CAP_REFUND |
            GW_ADAPTER_CAP_REFUND_QUERY | GW_ADAPTER_CAP_REFUND_ONE_AT_A_TIME,
    .checkout = vnpay_checkout,
    .callback_parse = vnpay_callback_parse,
    .signature_header = NULL,
    .callback_replies = vnpay_replies,
    .return_parse = vnpay_return_parse,
    .query_build = vnpay_query_build,
    .query_parse = vnpay_query_parse,
    .refund_build = vnpay_refund_build,
    .refund_parse = vnpay_refund_parse,
    .refund_query_build = vnpay_refund_query_build,
    .refund_query_parse = vnpay_refund_query_parse,
};

static enum gw_err vnpay_config_check(const struct gw_adapter_config *cfg, struct gw_errbuf *eb)
{
    if (!gw_adp_nonempty(cfg->merchant_id) || !gw_adp_nonempty(cfg->secret)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: merchant_id and secret are required");
    }
    if (!gw_adp_nonempty(cfg->endpoint_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: endpoint_url is required");
    }
    return GW_OK;
}

static void vnpay_hmac(const struct gw_adapter_config *cfg, const char *data, size_t len,
                       char mac[GW_SHA512_HEX_BYTES])
{
    gw_hmac_sha512_hex(cfg->secret, strlen(cfg->secret), data, len, mac);
}

static int vnpay_pair_cmp(const void *a, const void *b)
{
    const struct vnpay_pair *pa = a;
    const struct vnpay_pair *pb = b;
    return strcmp(pa->name, pb->name); /* byte order, as PHP ksort on ASCII names */
}

/* docs/providers.md#vnpay-signing steps 2-5: drops empty values, sorts by name, form-encodes, joins
 * with '&' into *data and puts the HMAC-SHA512 of it into mac. Reorders pairs. */
static enum gw_err vnpay_sign_pairs(const struct gw_adapter_config *cfg, struct vnpay_pair *pairs,
                                    size_t n, struct gw_arena *arena, char **data,
                                    char mac[GW_SHA512_HEX_BYTES])
{
    qsort(pairs, n, sizeof(*pairs), vnpay_pair_cmp);
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!gw_adp_nonempty(pairs[i].value)) {
            continue;
        }
        if (!first) {
            gw_adp_str_addc(&s, '&');
        }
        first = false;
        gw_adp_str_add_form(&s, pairs[i].name);
        gw_adp_str_addc(&s, '=');
        gw_adp_str_add_form(&s, pairs[i].value);
    }
    size_t len = 0;
    enum gw_err err = gw_adp_str_finish(&s, data, &len);
    if (err == GW_OK) {
        vnpay_hmac(cfg, *data, len, mac);
    }
    return err;
}

/* The code point of the UTF-8 sequence at *p (2 or 3 bytes), advancing *p; 0 if not one. */
static uint32_t vnpay_utf8_next(const unsigned char **p)
{
    const unsigned char *c = *p;
    if ((c[0] & 0xE0u) == 0xC0u && (c[1] & 0xC0u) == 0x80u) {
        *p += 2;
        return ((uint32_t)(c[0] & 0x1Fu) << 6) | (c[1] & 0x3Fu);
    }
    if ((c[0] & 0xF0u) == 0xE0u && (c[1] & 0xC0u) == 0x80u && (c[2] & 0xC0u) == 0x80u) {
        *p += 3;
        return ((uint32_t)(c[0] & 0x0Fu) << 12) | ((uint32_t)(c[1] & 0x3Fu) << 6) | (c[2] & 0x3Fu);
    }
    *p += 1;
    return 0;
}

/* The ASCII letter for a Vietnamese code point, '\0' to drop it (combining marks), ' '
 * when there is none. */
static char vnpay_fold(uint32_t cp)
{
    if (cp >= 0x300 && cp <= 0x36F) {
        return '\0';
    }
    if (cp >= 0xC0 && cp <= 0xFF) {
        return vnpay_fold_latin1[cp - 0xC0];
    }
    for (size_t i = 0; i < GW_ADP_COUNT(vnpay_fold_single); i++) {
        if (vnpay_fold_single[i].cp == cp) {
            return vnpay_fold_single[i].ascii;
        }
    }
    for (size_t i = 0; i < GW_ADP_COUNT(vnpay_fold_ranges); i++) {
        if (cp >= vnpay_fold_ranges[i].lo && cp <= vnpay_fold_ranges[i].hi) {
            return (char)(vnpay_fold_ranges[i].upper + ((cp & 1u) ? 'a' - 'A' : 0));
        }
    }
    return ' ';
}

/* docs/providers.md#vnpay-pay-request/docs/providers.md#vnpay-signing: order info as VNPAY accepts
 * it: ASCII, no diacritics, none of * ~ ! ' ( ) (the demos encode them differently), no control
 * bytes; at most 255 bytes. */
static char *vnpay_ascii_text(struct gw_arena *arena, const char *in)
{
    size_t n = strlen(in);
    char *out = gw_arena_alloc(arena, n + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)in;
    while (*p != '\0' && o < VNPAY_INFO_MAX) {
        char c;
        if (*p >= 0x80) {
            c = vnpay_fold(vnpay_utf8_next(&p));
        } else {
            c = (char)*p++;
            if (c < ' ' || c == 0x7F || strchr("*~!'()", c) != NULL) {
                c = ' ';
            }
        }
        if (c != '\0') {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

static const char *vnpay_locale(const char *locale)
{
    return locale != NULL && strcmp(locale, "en") == 0 ? "en" : "vn";
}

/* docs/providers.md#vnpay-pay-request, docs/providers.md#vnpay-signing: {endpoint_url}?{sorted
 * encoded params}&vnp_SecureHash={hmac}. */
static enum gw_err vnpay_checkout(const struct gw_adapter_config *cfg,
                                  const struct gw_charge *charge, struct gw_arena *arena,
                                  char **redirect_url, struct gw_errbuf *eb)
{
    GW_ASSERT(redirect_url != NULL);
    *redirect_url = NULL;
    enum gw_err err = vnpay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!gw_adp_nonempty(cfg->return_url)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: return_url is required");
    }
    if (!gw_adp_id_ok(charge->merchant_ref, GW_MERCHANT_REF_BYTES_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: merchant_ref is malformed");
    }
    if (charge->amount_vnd <= 0 || charge->amount_vnd > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: amount_vnd out of range");
    }
    if (charge->created_at <= 0 || charge->expires_at <= charge->created_at) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: created_at and expires_at are required");
    }
    char created[15];
    char expires[15];
    gw_time_compact_vn(charge->created_at, created);
    gw_time_compact_vn(charge->expires_at, expires);
    const char *info =
        vnpay_ascii_text(arena, charge->order_info != NULL ? charge->order_info : "");
    const char *amount =
        gw_adp_i64(arena, charge->amount_vnd * 100); /* docs/providers.md#vnpay-pay-request: x100 */
    if (info == NULL || amount == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "vnpay: out of request memory");
    }
    struct vnpay_pair pairs[] = {
        { "vnp_Version", VNPAY_VERSION },
        { "vnp_Command", "pay" },
        { "vnp_TmnCode", cfg->merchant_id },
        { "vnp_Amount", amount },
        { "vnp_BankCode", cfg->method }, /* absent: the payer chooses at VNPAY */
        { "vnp_CreateDate", created },
        { "vnp_CurrCode", "VND" },
        { "vnp_IpAddr", gw_adp_nonempty(charge->client_ip) ? charge->client_ip : VNPAY_SERVER_IP },
        { "vnp_Locale", vnpay_locale(charge->locale) },
        { "vnp_OrderInfo", gw_adp_nonempty(info) ? info : charge->merchant_ref },
        { "vnp_OrderType", VNPAY_ORDER_TYPE },
        { "vnp_ReturnUrl", cfg->return_url },
        { "vnp_ExpireDate", expires },
        { "vnp_TxnRef", charge->merchant_ref },
    };
    char *data = NULL;
    char mac[GW_SHA512_HEX_BYTES];
    err = vnpay_sign_pairs(cfg, pairs, GW_ADP_COUNT(pairs), arena, &data, mac);
    if (err != GW_OK) {
        return gw_fail(eb, err, "vnpay: payment url too long");
    }
    char sep = strchr(cfg->endpoint_url, '?') != NULL ? '&' : '?';
    *redirect_url =
        gw_arena_printf(arena, "%s%c%s&" VNPAY_HASH "=%s", cfg->endpoint_url, sep, data, mac);
    if (*redirect_url == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "vnpay: out of request memory");
    }
    return GW_OK;
}

/* docs/providers.md#vnpay-signing verification: decodes the query string, takes every vnp_*
 * parameter (known or not) but the hash itself, drops empty ones, sorts, re-encodes and compares
 * the HMAC with vnp_SecureHash, case-insensitively and in constant time. A repeated vnp_ name is
 * refused: it would make the signed data ambiguous. */
static enum gw_err vnpay_verify_query(const struct gw_adapter_config *cfg,
                                      const struct gw_adapter_input *in, struct gw_arena *arena,
                                      struct gw_kv **kv, size_t *n, struct gw_errbuf *eb)
{
    const char *q = in->query != NULL ? in->query : "";
    if (in->query_len > GW_CALLBACK_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: query string too long");
    }
    enum gw_err err = gw_form_parse(arena, q, in->query_len, GW_ADP_PAIRS_MAX, kv, n);
    if (err == GW_ERR_NOMEM) {
        return gw_fail(eb, err, "vnpay: out of request memory");
    }
    if (err != GW_OK) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: malformed query string");
    }
    struct vnpay_pair *pairs = gw_arena_alloc(arena, (*n + 1) * sizeof(*pairs));
    if (pairs == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "vnpay: out of request memory");
    }
    size_t np = 0;
    const char *hash = NULL;
    for (size_t i = 0; i < *n; i++) {
        const char *k = (*kv)[i].key;
        if (strncmp(k, VNPAY_PREFIX, strlen(VNPAY_PREFIX)) != 0) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp((*kv)[j].key, k) == 0) {
                return gw_fail(eb, GW_ERR_INVALID, "vnpay: parameter %s repeated", k);
            }
        }
        if (strcmp(k, VNPAY_HASH) == 0) {
            hash = (*kv)[i].value;
        } else if (strcmp(k, VNPAY_HASH_TYPE) != 0) {
            pairs[np++] = (struct vnpay_pair){ k, (*kv)[i].value };
        }
    }
    if (hash == NULL || !gw_adp_nonempty(hash)) {
        return gw_fail(eb, GW_ERR_AUTH, "vnpay: vnp_SecureHash missing");
    }
    char *data = NULL;
    char mac[GW_SHA512_HEX_BYTES];
    err = vnpay_sign_pairs(cfg, pairs, np, arena, &data, mac);
    if (err != GW_OK) {
        return gw_fail(eb, err, "vnpay: signed data too long");
    }
    if (!gw_hex_equal_ct(hash, strlen(hash), mac, GW_SHA512_HEX_BYTES - 1)) {
        return gw_fail(eb, GW_ERR_AUTH, "vnpay: bad vnp_SecureHash");
    }
    return GW_OK;
}

/* Two ASCII digits (vnp_ResponseCode, vnp_TransactionStatus). */
static bool vnpay_code_ok(const char *s)
{
    return s != NULL && strlen(s) == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9';
}

/* docs/providers.md#vnpay-ipn-and-return: paid only when vnp_ResponseCode and vnp_TransactionStatus
 * are both 00 (the C# demo's AND); 07 (fraud review) stays pending; otherwise the status table
 * decides, and a non-00 response code over a "paid" status is a failure. */
static enum gw_pay_outcome vnpay_outcome(const char *rc, const char *ts)
{
    enum gw_pay_outcome o = GW_PAY_FAILED;
    for (size_t i = 0; ts != NULL && i < GW_ADP_COUNT(vnpay_txn_statuses); i++) {
        if (strcmp(vnpay_txn_statuses[i].code, ts) == 0) {
            o = vnpay_txn_statuses[i].outcome;
        }
    }
    if (strcmp(rc, "07") == 0) {
        return GW_PAY_PENDING;
    }
    if (o == GW_PAY_SUCCEEDED && strcmp(rc, "00") != 0) {
        return GW_PAY_FAILED;
    }
    return o;
}

/* vnp_Amount (x100, must be whole VND) into VND. */
static bool vnpay_amount(const char *s, int64_t *vnd)
{
    int64_t v = 0;
    if (!gw_adp_parse_i64(s, 100, GW_AMOUNT_VND_MAX * 100, &v) || v % 100 != 0) {
        return false;
    }
    *vnd = v / 100;
    return true;
}

/* Checks and copies the identity fields shared by IPN, return and querydr
 * (docs/providers.md#vnpay-ipn-and-return, docs/providers.md#vnpay-querydr). */
static enum gw_err vnpay_ids(const struct gw_adapter_config *cfg, const char *tmn, const char *ref,
                             const char *txn_no, struct gw_adapter_result *out,
                             struct gw_errbuf *eb)
{
    if (tmn == NULL || strcmp(tmn, cfg->merchant_id) != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: vnp_TmnCode is not ours");
    }
    GW_ASSERT(gw_adp_copy(out->merchant_id, sizeof(out->merchant_id), cfg->merchant_id));
    if (!gw_adp_id_ok(ref, GW_MERCHANT_REF_BYTES_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: vnp_TxnRef is malformed");
    }
    GW_ASSERT(gw_adp_copy(out->merchant_ref, sizeof(out->merchant_ref), ref));
    int64_t no = 0;
    if (gw_adp_nonempty(txn_no) &&
        (strlen(txn_no) > VNPAY_TXN_NO_MAX || !gw_adp_parse_i64(txn_no, 0, INT64_MAX, &no))) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: vnp_TransactionNo is malformed");
    }
    if (no > 0) { /* VNPAY sends 0 for payments it never completed */
        GW_ASSERT(gw_adp_copy(out->provider_txn_id, sizeof(out->provider_txn_id), txn_no));
    }
    return GW_OK;
}

/* The business fields of a verified IPN or return (docs/providers.md#vnpay-ipn-and-return). */
static enum gw_err vnpay_redirect_fields(const struct gw_adapter_config *cfg,
                                         const struct gw_kv *kv, size_t n,
                                         struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    const char *rc = gw_kv_get(kv, n, "vnp_ResponseCode");
    const char *ts = gw_kv_get(kv, n, "vnp_TransactionStatus");
    const char *cur = gw_kv_get(kv, n, "vnp_CurrCode");
    const char *pay_date = gw_kv_get(kv, n, "vnp_PayDate");
    if (!vnpay_code_ok(rc) || (ts != NULL && !vnpay_code_ok(ts))) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: malformed response or status code");
    }
    if (gw_adp_nonempty(cur) && strcmp(cur, "VND") != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: currency %s is not VND", cur);
    }
    enum gw_err err =
        vnpay_ids(cfg, gw_kv_get(kv, n, "vnp_TmnCode"), gw_kv_get(kv, n, "vnp_TxnRef"),
                  gw_kv_get(kv, n, "vnp_TransactionNo"), out, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!vnpay_amount(gw_kv_get(kv, n, "vnp_Amount"), &out->amount_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: vnp_Amount is malformed");
    }
    if (gw_adp_nonempty(pay_date) && gw_time_parse_compact_vn(pay_date, &out->paid_at) != GW_OK) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: vnp_PayDate is malformed");
    }
    out->outcome = vnpay_outcome(rc, ts);
    if (out->outcome != GW_PAY_SUCCEEDED) {
        out->paid_at = 0;
    }
    (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), rc);
    return GW_OK;
}

/* docs/providers.md#vnpay-ipn-and-return: the IPN arrives by GET with the result in the query
 * string. */
static enum gw_err vnpay_callback_parse(const struct gw_adapter_config *cfg,
                                        const struct gw_adapter_input *in, struct gw_arena *arena,
                                        struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = vnpay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (in->method != NULL && strcmp(in->method, "GET") != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: ipn must be a get");
    }
    struct gw_kv *kv = NULL;
    size_t n = 0;
    err = vnpay_verify_query(cfg, in, arena, &kv, &n, eb);
    if (err != GW_OK) {
        return err;
    }
    if (gw_kv_get(kv, n, "vnp_TransactionStatus") == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: vnp_TransactionStatus missing");
    }
    return vnpay_redirect_fields(cfg, kv, n, out, eb);
}

/* docs/providers.md#vnpay-ipn-and-return: the browser return carries the IPN's parameters; display
 * only. */
static enum gw_err vnpay_return_parse(const struct gw_adapter_config *cfg,
                                      const struct gw_adapter_input *in, struct gw_arena *arena,
                                      struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = vnpay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    struct gw_kv *kv = NULL;
    size_t n = 0;
    err = vnpay_verify_query(cfg, in, arena, &kv, &n, eb);
    if (err != GW_OK) {
        return err;
    }
    return vnpay_redirect_fields(cfg, kv, n, out, eb);
}

/* docs/providers.md#vnpay-endpoints: the querydr/refund URL: api_url, or the payment page's scheme
 * and host with the sandbox path. */
static const char *vnpay_api_url(const struct gw_adapter_config *cfg, struct gw_arena *arena)
{
    if (gw_adp_nonempty(cfg->api_url)) {
        return cfg->api_url;
    }
    const char *u = cfg->endpoint_url;
    const char *host = strstr(u, "://");
    host = host != NULL ? host + 3 : u;
    size_t n = (size_t)(host - u) + strcspn(host, "/?#");
    return gw_arena_printf(arena, "%.*s" VNPAY_API_PATH, (int)n, u);
}

static const char *vnpay_pair_get(const struct vnpay_pair *pairs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(pairs[i].name, name) == 0) {
            return pairs[i].value;
        }
    }
    return NULL;
}

/* docs/providers.md#vnpay-querydr/docs/providers.md#vnpay-refund: POST JSON of fields (in order,
 * NULL values left out) plus vnp_SecureHash = HMAC-SHA512 over the values named by hash, joined
 * with '|' (absent = ""). */
static enum gw_err vnpay_api_request(const struct gw_adapter_config *cfg,
                                     const struct vnpay_pair *fields, size_t n,
                                     const char *const *hash, size_t n_hash, struct gw_arena *arena,
                                     struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    const char *values[GW_ADP_COUNT(vnpay_querydr_answer_hash)];
    GW_ASSERT(n_hash <= GW_ADP_COUNT(values));
    for (size_t i = 0; i < n_hash; i++) {
        values[i] = vnpay_pair_get(fields, n, hash[i]);
    }
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    gw_adp_str_join(&s, values, n_hash, '|');
    char *data = NULL;
    size_t len = 0;
    enum gw_err err = gw_adp_str_finish(&s, &data, &len);
    if (err != GW_OK) {
        return gw_fail(eb, err, "vnpay: request too long");
    }
    char mac[GW_SHA512_HEX_BYTES];
    vnpay_hmac(cfg, data, len, mac);
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    gw_adp_str_addc(&s, '{');
    for (size_t i = 0; i < n; i++) {
        if (fields[i].value == NULL) {
            continue;
        }
        gw_adp_str_add_json(&s, fields[i].name);
        gw_adp_str_addc(&s, ':');
        gw_adp_str_add_json(&s, fields[i].value);
        gw_adp_str_addc(&s, ',');
    }
    gw_adp_str_adds(&s, "\"" VNPAY_HASH "\":");
    gw_adp_str_add_json(&s, mac);
    gw_adp_str_addc(&s, '}');
    char *body = NULL;
    err = gw_adp_str_finish(&s, &body, &len);
    const char *url = vnpay_api_url(cfg, arena);
    if (err != GW_OK || url == NULL) {
        return gw_fail(eb, err != GW_OK ? err : GW_ERR_NOMEM, "vnpay: request too long");
    }
    gw_adp_http_post(req, url, "application/json", body, len);
    return GW_OK;
}

/* docs/providers.md#vnpay-querydr: querydr for the charge; request_id and requested_at are this
 * request's. */
static enum gw_err vnpay_query_build(const struct gw_adapter_config *cfg,
                                     const struct gw_charge *charge, struct gw_arena *arena,
                                     struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = vnpay_config_check(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!gw_adp_id_ok(charge->merchant_ref, GW_MERCHANT_REF_BYTES_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: merchant_ref is malformed");
    }
    if (!gw_adp_id_ok(charge->request_id, GW_ADP_REQUEST_ID_BYTES_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: request_id is malformed");
    }
    if (charge->created_at <= 0 || charge->requested_at <= 0) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: created_at and requested_at are required");
    }
    char created[15];
    char now[15];
    gw_time_compact_vn(charge->created_at, created);
    gw_time_compact_vn(charge->requested_at, now);
    const char *info = gw_arena_printf(arena, "Truy van GD %s", charge->merchant_ref);
    if (info == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "vnpay: out of request memory");
    }
    const struct vnpay_pair fields[] = {
        { "vnp_RequestId", charge->request_id },
        { "vnp_Version", VNPAY_VERSION },
        { "vnp_Command", "querydr" },
        { "vnp_TmnCode", cfg->merchant_id },
        { "vnp_TxnRef", charge->merchant_ref },
        { "vnp_OrderInfo", info },
        { "vnp_TransactionNo",
          gw_adp_nonempty(charge->provider_txn_id) ? charge->provider_txn_id : NULL },
        { "vnp_TransactionDate", created },
        { "vnp_CreateDate", now },
        { "vnp_IpAddr", gw_adp_nonempty(cfg->server_ip) ? cfg->server_ip : VNPAY_SERVER_IP },
    };
    return vnpay_api_request(cfg, fields, GW_ADP_COUNT(fields), vnpay_querydr_hash,
                             GW_ADP_COUNT(vnpay_querydr_hash), arena, req, eb);
}

/* docs/providers.md#vnpay-querydr/docs/providers.md#vnpay-refund: parses a JSON answer and verifies
 * its vnp_SecureHash over the values named by hash, as received (absent = ""), before anything else
 * is read. */
static enum gw_err vnpay_api_answer(const struct gw_adapter_config *cfg,
                                    const struct gw_adapter_input *in, struct gw_arena *arena,
                                    const char *const *hash, size_t n_hash, json_t **root,
                                    struct gw_errbuf *eb)
{
    *root = NULL;
    enum gw_err err = vnpay_config_check(cfg, eb);
    if (err == GW_OK) {
        err = gw_adp_http_status("vnpay", in, eb);
    }
    if (err == GW_OK) {
        err = gw_adp_json_load("vnpay", in->body, in->body_len, root, eb);
    }
    if (err != GW_OK) {
        return err;
    }
    const char *values[GW_ADP_COUNT(vnpay_querydr_answer_hash)];
    GW_ASSERT(n_hash <= GW_ADP_COUNT(values));
    const char *sig = NULL;
    bool ok = gw_adp_json_text(arena, *root, VNPAY_HASH, &sig);
    for (size_t i = 0; i < n_hash && ok; i++) {
        ok = gw_adp_json_text(arena, *root, hash[i], &values[i]);
    }
    if (!ok) {
        json_decref(*root);
        *root = NULL;
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: answer field of the wrong type");
    }
    struct gw_adp_str s;
    gw_adp_str_init(&s, arena, GW_ADP_TEXT_BYTES_MAX);
    gw_adp_str_join(&s, values, n_hash, '|');
    char *data = NULL;
    size_t len = 0;
    err = gw_adp_str_finish(&s, &data, &len);
    char mac[GW_SHA512_HEX_BYTES];
    if (err == GW_OK) {
        vnpay_hmac(cfg, data, len, mac);
    }
    if (err != GW_OK) {
        err = gw_fail(eb, err, "vnpay: answer too long");
    } else if (!gw_adp_nonempty(sig)) {
        err = gw_fail(eb, GW_ERR_AUTH, "vnpay: vnp_SecureHash missing");
    } else if (!gw_hex_equal_ct(sig, strlen(sig), mac, GW_SHA512_HEX_BYTES - 1)) {
        err = gw_fail(eb, GW_ERR_AUTH, "vnpay: bad vnp_SecureHash");
    }
    if (err != GW_OK) {
        json_decref(*root);
        *root = NULL;
    }
    return err;
}

/* A verified answer's member as a string, or NULL. */
static const char *vnpay_get(struct gw_arena *arena, const json_t *root, const char *key)
{
    const char *v = NULL;
    return gw_adp_json_text(arena, root, key, &v) ? v : NULL;
}

static enum vnpay_api_class vnpay_api_class(const char *rc)
{
    for (size_t i = 0; rc != NULL && i < GW_ADP_COUNT(vnpay_api_codes); i++) {
        if (strcmp(vnpay_api_codes[i].code, rc) == 0) {
            return vnpay_api_codes[i].cls;
        }
    }
    return VNPAY_API_RETRY; /* unknown code: the outcome stays unknown */
}

/* The fields of a verified querydr answer with code 00 (docs/providers.md#vnpay-querydr). */
static enum gw_err vnpay_query_fields(const struct gw_adapter_config *cfg, struct gw_arena *arena,
                                      const json_t *root, struct gw_adapter_result *out,
                                      struct gw_errbuf *eb)
{
    const char *ts = vnpay_get(arena, root, "vnp_TransactionStatus");
    const char *pay_date = vnpay_get(arena, root, "vnp_PayDate");
    if (!vnpay_code_ok(ts)) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: vnp_TransactionStatus is malformed");
    }
    enum gw_err err =
        vnpay_ids(cfg, vnpay_get(arena, root, "vnp_TmnCode"), vnpay_get(arena, root, "vnp_TxnRef"),
                  vnpay_get(arena, root, "vnp_TransactionNo"), out, eb);
    if (err != GW_OK) {
        return err;
    }
    if (!vnpay_amount(vnpay_get(arena, root, "vnp_Amount"), &out->amount_vnd)) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: vnp_Amount is malformed");
    }
    out->outcome = GW_PAY_PENDING;
    for (size_t i = 0; i < GW_ADP_COUNT(vnpay_txn_statuses); i++) {
        if (strcmp(vnpay_txn_statuses[i].code, ts) == 0) {
            out->outcome = vnpay_txn_statuses[i].outcome;
        }
    }
    if (out->outcome == GW_PAY_SUCCEEDED && gw_adp_nonempty(pay_date) &&
        gw_time_parse_compact_vn(pay_date, &out->paid_at) != GW_OK) {
        return gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: vnp_PayDate is malformed");
    }
    (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), ts);
    return GW_OK;
}

/* docs/providers.md#vnpay-querydr, docs/providers.md#vnpay-codes: 00 gives the transaction's state,
 * 91 not found; 94 and 99 mean ask again; a refusal of our request (02, 03, 97) is a protocol
 * error, never a payment failure. */
static enum gw_err vnpay_query_parse(const struct gw_adapter_config *cfg,
                                     const struct gw_adapter_input *in, struct gw_arena *arena,
                                     struct gw_adapter_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    enum gw_err err = vnpay_api_answer(cfg, in, arena, vnpay_querydr_answer_hash,
                                       GW_ADP_COUNT(vnpay_querydr_answer_hash), &root, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *rc = vnpay_get(arena, root, "vnp_ResponseCode");
    switch (vnpay_api_class(rc)) {
    case VNPAY_API_OK:
        err = vnpay_query_fields(cfg, arena, root, out, eb);
        break;
    case VNPAY_API_NOT_FOUND:
        out->outcome = GW_PAY_NOT_FOUND;
        (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), rc);
        break;
    case VNPAY_API_RETRY:
        err = gw_fail(eb, GW_ERR_UNAVAILABLE, "vnpay: querydr answered %s", rc != NULL ? rc : "");
        break;
    case VNPAY_API_REFUSED:
        err = gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: querydr refused with %s", rc);
        break;
    }
    json_decref(root);
    return err;
}

static enum gw_err vnpay_refund_check(const struct gw_refund *r, struct gw_errbuf *eb)
{
    int64_t no = 0;
    if (!gw_adp_id_ok(r->merchant_ref, GW_MERCHANT_REF_BYTES_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: merchant_ref is malformed");
    }
    if (!gw_adp_id_ok(r->request_id, GW_ADP_REQUEST_ID_BYTES_MAX)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: request_id is malformed");
    }
    if (r->provider_txn_id == NULL || strlen(r->provider_txn_id) > VNPAY_TXN_NO_MAX ||
        !gw_adp_parse_i64(r->provider_txn_id, 1, INT64_MAX, &no)) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: provider_txn_id is malformed");
    }
    if (r->amount_vnd <= 0 || r->amount_vnd > GW_AMOUNT_VND_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: amount_vnd out of range");
    }
    if (!gw_adp_nonempty(r->requested_by) || r->original_created_at <= 0 || r->requested_at <= 0) {
        return gw_fail(eb, GW_ERR_INVALID, "vnpay: requested_by and times are required");
    }
    return GW_OK;
}

/* docs/providers.md#vnpay-refund: refund of r->amount_vnd (x100), 02 full or 03 partial. */
static enum gw_err vnpay_refund_build(const struct gw_adapter_config *cfg,
                                      const struct gw_refund *r, struct gw_arena *arena,
                                      struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = vnpay_config_check(cfg, eb);
    if (err == GW_OK) {
        err = vnpay_refund_check(r, eb);
    }
    if (err != GW_OK) {
        return err;
    }
    char original[15];
    char now[15];
    gw_time_compact_vn(r->original_created_at, original);
    gw_time_compact_vn(r->requested_at, now);
    const char *info = gw_adp_nonempty(r->reason)
                           ? vnpay_ascii_text(arena, r->reason)
                           : gw_arena_printf(arena, "Hoan tien %s", r->merchant_ref);
    const char *amount = gw_adp_i64(arena, r->amount_vnd * 100);
    if (info == NULL || amount == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "vnpay: out of request memory");
    }
    const struct vnpay_pair fields[] = {
        { "vnp_RequestId", r->request_id },
        { "vnp_Version", VNPAY_VERSION },
        { "vnp_Command", "refund" },
        { "vnp_TmnCode", cfg->merchant_id },
        { "vnp_TransactionType", r->full ? "02" : "03" },
        { "vnp_TxnRef", r->merchant_ref },
        { "vnp_Amount", amount },
        { "vnp_OrderInfo", info },
        { "vnp_TransactionNo", r->provider_txn_id },
        { "vnp_TransactionDate", original },
        { "vnp_CreateBy", r->requested_by },
        { "vnp_CreateDate", now },
        { "vnp_IpAddr", gw_adp_nonempty(cfg->server_ip) ? cfg->server_ip : VNPAY_SERVER_IP },
    };
    return vnpay_api_request(cfg, fields, GW_ADP_COUNT(fields), vnpay_refund_hash,
                             GW_ADP_COUNT(vnpay_refund_hash), arena, req, eb);
}

/* docs/providers.md#vnpay-refund, docs/providers.md#vnpay-codes: 00 with status 00 is done, 05/06
 * (or none) in progress, 09 refused at the bank; 94 (already being processed) and 99 stay pending;
 * 02, 03, 91, 95, 97 refuse. */
static enum gw_err vnpay_refund_parse(const struct gw_adapter_config *cfg,
                                      const struct gw_adapter_input *in, struct gw_arena *arena,
                                      struct gw_refund_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    enum gw_err err = vnpay_api_answer(cfg, in, arena, vnpay_refund_answer_hash,
                                       GW_ADP_COUNT(vnpay_refund_answer_hash), &root, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *rc = vnpay_get(arena, root, "vnp_ResponseCode");
    const char *ts = vnpay_get(arena, root, "vnp_TransactionStatus");
    const char *tmn = vnpay_get(arena, root, "vnp_TmnCode");
    const char *no = vnpay_get(arena, root, "vnp_TransactionNo");
    out->outcome = GW_REFUND_PENDING;
    enum vnpay_api_class cls = vnpay_api_class(rc);
    bool ok_with = cls == VNPAY_API_OK && ts != NULL;
    if (cls == VNPAY_API_REFUSED || cls == VNPAY_API_NOT_FOUND ||
        (ok_with && strcmp(ts, "09") == 0)) {
        out->outcome = GW_REFUND_REJECTED;
    } else if (ok_with && strcmp(ts, "00") == 0) {
        out->outcome = GW_REFUND_ACCEPTED;
    }
    if (cls == VNPAY_API_OK && (tmn == NULL || strcmp(tmn, cfg->merchant_id) != 0)) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: vnp_TmnCode is not ours");
    }
    if (err == GW_OK && gw_adp_nonempty(no) &&
        !gw_adp_copy(out->provider_refund_id, sizeof(out->provider_refund_id), no)) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: vnp_TransactionNo too long");
    }
    if (err == GW_OK && !vnpay_amount(vnpay_get(arena, root, "vnp_Amount"), &out->amount_vnd)) {
        out->amount_vnd = 0;
    }
    if (rc != NULL) {
        (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), rc);
    }
    json_decref(root);
    if (err != GW_OK) {
        memset(out, 0, sizeof(*out)); /* pending */
    }
    return err;
}

/* docs/providers.md#vnpay-querydr for a refund. VNPAY has no refund query of its own: querydr of
 * the paid charge answers with the charge's latest refund, its type (02 full, 03 partial) and
 * status. That it is the refund asked about is the gateway's part
 * (GW_ADAPTER_CAP_REFUND_ONE_AT_A_TIME, docs/adapters.md). vnpay_query_build checks the
 * configuration. */
static enum gw_err vnpay_refund_query_build(const struct gw_adapter_config *cfg,
                                            const struct gw_refund *r, struct gw_arena *arena,
                                            struct gw_adapter_http *req, struct gw_errbuf *eb)
{
    memset(req, 0, sizeof(*req));
    enum gw_err err = vnpay_refund_check(r, eb);
    if (err != GW_OK) {
        return err;
    }
    const struct gw_charge charge = {
        .payment_id = r->payment_id,
        .merchant_ref = r->merchant_ref,
        .amount_vnd = r->amount_vnd,
        .created_at = r->original_created_at,
        .request_id = r->request_id,
        .requested_at = r->requested_at,
        .provider_txn_id = r->provider_txn_id,
    };
    return vnpay_query_build(cfg, &charge, arena, req, eb);
}

/* The querydr answer about a refund (docs/providers.md#vnpay-querydr,
 * docs/providers.md#vnpay-codes): type 02 or 03 with status 00 is refunded, with 09 refused at the
 * bank; still the paid payment itself (type 01, status 00) is GW_REFUND_NOT_FOUND: VNPAY has no
 * refund of this charge, and the gateway asks only about a charge's only refund; anything else
 * (05 and 06 in progress) stays pending, and so do 91 and the codes that mean "ask again": never
 * rejected on a guess. vnp_TransactionNo
 * there is the charge's, not the refund's, so the refund keeps the number its own answer gave, if
 * any. */
static enum gw_err vnpay_refund_query_parse(const struct gw_adapter_config *cfg,
                                            const struct gw_adapter_input *in,
                                            struct gw_arena *arena, struct gw_refund_result *out,
                                            struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_t *root = NULL;
    enum gw_err err = vnpay_api_answer(cfg, in, arena, vnpay_querydr_answer_hash,
                                       GW_ADP_COUNT(vnpay_querydr_answer_hash), &root, eb);
    if (err != GW_OK) {
        return err;
    }
    const char *rc = vnpay_get(arena, root, "vnp_ResponseCode");
    const char *type = vnpay_get(arena, root, "vnp_TransactionType");
    const char *ts = vnpay_get(arena, root, "vnp_TransactionStatus");
    const char *tmn = vnpay_get(arena, root, "vnp_TmnCode");
    enum vnpay_api_class cls = vnpay_api_class(rc);
    out->outcome = GW_REFUND_PENDING;
    if (cls == VNPAY_API_REFUSED) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: querydr refused with %s", rc);
    } else if (cls == VNPAY_API_RETRY) {
        err = gw_fail(eb, GW_ERR_UNAVAILABLE, "vnpay: querydr answered %s", rc != NULL ? rc : "");
    } else if (cls == VNPAY_API_OK && (tmn == NULL || strcmp(tmn, cfg->merchant_id) != 0)) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: vnp_TmnCode is not ours");
    } else if (cls == VNPAY_API_OK && (!vnpay_code_ok(ts) || !vnpay_code_ok(type))) {
        err = gw_fail(eb, GW_ERR_PROTOCOL, "vnpay: vnp_TransactionType or Status is malformed");
    } else if (cls == VNPAY_API_OK && (strcmp(type, "02") == 0 || strcmp(type, "03") == 0)) {
        if (strcmp(ts, "00") == 0) {
            out->outcome = GW_REFUND_ACCEPTED;
        } else if (strcmp(ts, "09") == 0) {
            out->outcome = GW_REFUND_REJECTED;
        }
    } else if (cls == VNPAY_API_OK && strcmp(type, "01") == 0 && strcmp(ts, "00") == 0) {
        out->outcome = GW_REFUND_NOT_FOUND;
    }
    const char *code = cls == VNPAY_API_OK ? ts : rc;
    if (err == GW_OK && code != NULL) {
        (void)gw_adp_copy(out->provider_code, sizeof(out->provider_code), code);
    }
    json_decref(root);
    if (err != GW_OK) {
        memset(out, 0, sizeof(*out)); /* pending */
    }
    return err;
}
