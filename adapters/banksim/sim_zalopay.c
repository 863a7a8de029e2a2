/* The ZaloPay v2 side (docs/providers.md#zalopay-v2): /zalopay/v2/create checking the key1 mac
 * (#zalopay-create) and answering an order_url on this simulator, the payment page, the callback
 * POSTed to callback_url as {"data","mac","type"} with mac = HMAC(key2, data) and ZaloPay's retry
 * rule (docs/providers.md#zalopay-callback), the browser's return with its checksum
 * (#zalopay-redirect), and /zalopay/v2/query, /refund and /query_refund
 * (docs/providers.md#zalopay-query-and-refund). Requests are form-encoded or JSON. Written from
 * docs/providers.md alone, independently of adapters/zalopay.c, so that each checks the other. */
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

/* The first call and at most 3 more (docs/providers.md#zalopay-callback). */
#define ZALOPAY_CALLS_MAX     4
#define ZALOPAY_PAIRS_MAX     32
#define ZALOPAY_ID_SPAN       ((int64_t)1000000000) /* zp_trans_id = yymmdd * span + index + 1 */
#define ZALOPAY_EXPIRE_S_DFLT 900
#define ZALOPAY_EXPIRE_S_MIN  300
#define ZALOPAY_EXPIRE_S_MAX  2592000
#define ZALOPAY_CHANNEL       "38"
#define ZALOPAY_PAGE_PATH     "/zalopay/v2/pay"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* docs/providers.md#zalopay-create, #zalopay-query-and-refund: the mac fields, joined by '|', as
 * data ("key1" is the key itself, #zalopay-query-and-refund). */
static const char *const zalopay_create_mac[] = { "app_id",   "app_trans_id", "app_user", "amount",
                                                  "app_time", "embed_data",   "item" };
static const char *const zalopay_query_mac[] = { "app_id", "app_trans_id", "key1" };
static const char *const zalopay_refund_mac[] = { "app_id", "zp_trans_id", "amount", "description",
                                                  "timestamp" };
static const char *const zalopay_qrefund_mac[] = { "app_id", "m_refund_id", "timestamp" };

/* The packed fields of a payment. */
enum {
    ZX_APP_USER,
    ZX_APP_TIME,
    ZX_EMBED_DATA,
    ZX_ITEM,
    ZX_CALLBACK_URL,
    ZX_TOKEN,
    ZX_SERVER_TIME,
    ZX_N
};

/* ... and of a refund. */
enum {
    ZR_APP_TRANS_ID,
    ZR_ZP_TRANS_ID,
    ZR_N
};

static struct {
    struct bs_sim *sim;
    struct bs_store store;   /* payments by app_trans_id */
    struct bs_store refunds; /* refunds by m_refund_id */
    const char *app_id;
    const char *key1;
    const char *key2;
} zalopay;

static enum gw_err zalopay_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb);
static void zalopay_stop(void);
static enum gw_err zalopay_statement(int64_t day_start_s, struct gw_buf *out);

const struct bs_provider bs_provider_zalopay = {
    .name = "zalopay",
    .summary = "ZaloPay v2: POST /zalopay/v2/create, page at " ZALOPAY_PAGE_PATH
               ", callback POST to callback_url, POST /zalopay/v2/query, /refund, /query_refund",
    .start = zalopay_start,
    .stop = zalopay_stop,
    .statement = zalopay_statement,
    .statement_ext = "jsonl",
};

/* ---- requests ---- */

/* The request's fields as a JSON object of strings (form-encoded or JSON body; JSON integers
 * become plain decimal text), or NULL when malformed. */
static json_t *zalopay_fields(struct evhttp_request *req, struct gw_arena *a)
{
    char *body = NULL;
    size_t len = 0;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST ||
        bs_request_body(req, a, &body, &len) != GW_OK) {
        return NULL;
    }
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    json_t *out = json_object();
    if (ct != NULL && strncmp(ct, "application/json", 16) == 0) {
        json_t *in = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        const char *key;
        json_t *v;
        bool ok = json_is_object(in);
        json_object_foreach(in, key, v)
        {
            char tmp[24];
            (void)snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            ok = ok && (json_is_string(v) || json_is_integer(v));
            json_object_set_new(out, key,
                                json_string(json_is_string(v) ? json_string_value(v) : tmp));
        }
        json_decref(in);
        if (!ok) {
            json_decref(out);
            out = NULL;
        }
        return out;
    }
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (gw_form_parse(a, body, len, ZALOPAY_PAIRS_MAX, &kv, &n) != GW_OK) {
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(out, kv[i].key, json_string(kv[i].value));
    }
    return out;
}

static const char *zalopay_get(json_t *in, const char *key)
{
    return json_string_value(json_object_get(in, key));
}

/* HMAC-SHA256(key, fields joined by '|'), the field "key1" being key1 itself. */
static void zalopay_mac(json_t *in, const char *key, const char *const *names, size_t n,
                        char mac[GW_SHA256_HEX_BYTES])
{
    struct gw_buf b;
    gw_buf_init(&b, (size_t)64 * 1024);
    for (size_t i = 0; i < n; i++) {
        const char *v = strcmp(names[i], "key1") == 0 ? zalopay.key1 : zalopay_get(in, names[i]);
        GW_ASSERT((i == 0 || gw_buf_addc(&b, '|') == GW_OK) &&
                  gw_buf_adds(&b, v != NULL ? v : "") == GW_OK);
    }
    gw_hmac_sha256_hex(key, strlen(key), b.data, b.len, mac);
    gw_buf_release(&b);
}

/* Every named field present, app_id ours, and the received mac (lowercase) ours. */
static bool zalopay_verify(json_t *in, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "key1") != 0 && zalopay_get(in, names[i]) == NULL) {
            return false;
        }
    }
    const char *got = zalopay_get(in, "mac");
    const char *app_id = zalopay_get(in, "app_id");
    char mac[GW_SHA256_HEX_BYTES];
    zalopay_mac(in, zalopay.key1, names, n, mac);
    return got != NULL && app_id != NULL && strcmp(app_id, zalopay.app_id) == 0 &&
           bs_hex_lower(got) && gw_hex_equal_ct(got, strlen(got), mac, GW_SHA256_HEX_BYTES - 1);
}

/* An answer {return_code, return_message, sub_return_code, sub_return_message}. */
static json_t *zalopay_answer(int code, int sub, const char *msg)
{
    return json_pack("{s:i,s:s,s:i,s:s}", "return_code", code, "return_message", msg,
                     "sub_return_code", sub, "sub_return_message", msg);
}

static void zalopay_reply(struct evhttp_request *req, json_t *o, bool api)
{
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    GW_ASSERT(body != NULL);
    if (api) {
        bs_api_reply(zalopay.sim, BS_PROV_ZALOPAY, req, body, strlen(body));
    } else {
        bs_reply(req, 200, "application/json", body, strlen(body));
    }
    gw_libc_free(body);
}

/* yymmdd of a Unix time in Vietnam (the app_trans_id prefix, docs/providers.md#zalopay-create). */
static void zalopay_yymmdd(int64_t unix_s, char out[7])
{
    char compact[15];
    gw_time_compact_vn((time_t)unix_s, compact);
    memcpy(out, compact + 2, 6);
    out[6] = '\0';
}

/* ---- create (docs/providers.md#zalopay-create) ---- */

static int bs_why_int(const char **msg, const char *msg_value, int code)
{
    *msg = msg_value;
    return code;
}

/* Checks a create request: 0 when it may go, else the sub_return_code, message in *msg. */
static int zalopay_create_check(json_t *in, int64_t *amount, int64_t *app_time, int64_t *expire_s,
                                const char **msg)
{
    if (in == NULL) {
        return bs_why_int(msg, "invalid argument", -401);
    }
    if (!zalopay_verify(in, zalopay_create_mac, N_OF(zalopay_create_mac))) {
        return bs_why_int(msg, "unauthenticated: bad mac or app_id", -402);
    }
    const char *ref = zalopay_get(in, "app_trans_id");
    const char *dur = zalopay_get(in, "expire_duration_seconds");
    const char *cb = zalopay_get(in, "callback_url");
    json_t *embed = json_loads(zalopay_get(in, "embed_data"), 0, NULL);
    json_t *item = json_loads(zalopay_get(in, "item"), 0, NULL);
    bool shapes = json_is_object(embed) && json_is_array(item);
    json_decref(embed);
    json_decref(item);
    char day[7];
    *expire_s = ZALOPAY_EXPIRE_S_DFLT;
    if (!bs_parse_int64(zalopay_get(in, "amount"), 1, GW_AMOUNT_VND_MAX, amount) ||
        !bs_parse_int64(zalopay_get(in, "app_time"), 1, INT64_MAX / 2, app_time) || !shapes ||
        (dur != NULL &&
         !bs_parse_int64(dur, ZALOPAY_EXPIRE_S_MIN, ZALOPAY_EXPIRE_S_MAX, expire_s))) {
        return bs_why_int(msg, "invalid argument", -401);
    }
    zalopay_yymmdd(*app_time / 1000, day);
    if (!bs_ref_ok(ref, BS_REF_BYTES_MAX) || strlen(ref) < 8 || memcmp(ref, day, 6) != 0 ||
        ref[6] != '_') {
        return bs_why_int(msg, "invalid argument: app_trans_id must start with yymmdd_", -401);
    }
    if (cb == NULL || !bs_url_ok(cb, false)) {
        return bs_why_int(msg, "invalid argument: callback_url (the simulator needs one)", -401);
    }
    if (bs_store_find(&zalopay.store, ref) != NULL) {
        return bs_why_int(msg, "order already exists", -68);
    }
    return 0;
}

static struct bs_txn *zalopay_add(json_t *in, int64_t amount, int64_t app_time, int64_t expire_s)
{
    struct bs_txn *t = NULL;
    if (bs_store_add(&zalopay.store, zalopay_get(in, "app_trans_id"), &t) != GW_OK) {
        return NULL;
    }
    char token[24];
    (void)snprintf(token, sizeof(token), "%016" PRIx64, bs_rand(zalopay.sim));
    const char *user = zalopay_get(in, "app_user");
    const char *f[ZX_N] = {
        [ZX_APP_USER] = user != NULL ? user : "",
        [ZX_APP_TIME] = zalopay_get(in, "app_time"),
        [ZX_EMBED_DATA] = zalopay_get(in, "embed_data"),
        [ZX_ITEM] = zalopay_get(in, "item"),
        [ZX_CALLBACK_URL] = zalopay_get(in, "callback_url"),
        [ZX_TOKEN] = token,
        [ZX_SERVER_TIME] = "0",
    };
    t->ext = bs_ext_new(f, ZX_N);
    t->amount_vnd = amount;
    t->created_ms = gw_now_ms();
    t->expires_ms = app_time + expire_s * 1000;
    return t;
}

static void zalopay_create_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)64 * 1024);
    json_t *in = zalopay_fields(req, &a);
    int64_t amount = 0;
    int64_t app_time = 0;
    int64_t expire_s = 0;
    const char *msg = "Giao dịch thành công";
    int sub = zalopay_create_check(in, &amount, &app_time, &expire_s, &msg);
    bool as_5xx = false;
    struct bs_txn *t = NULL;
    if (sub == 0 && bs_fault_create(zalopay.sim, BS_PROV_ZALOPAY, &as_5xx)) {
        sub = -500;
        msg = "system error (simulated)";
    } else if (sub == 0 && (t = zalopay_add(in, amount, app_time, expire_s)) == NULL) {
        sub = -500;
        msg = "system error: store full";
    }
    json_t *o = zalopay_answer(sub == 0 ? 1 : 2, sub == 0 ? 1 : sub, msg);
    if (t != NULL) {
        const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
        const char *token = bs_ext_get(t->ext, ZX_N, ZX_TOKEN);
        char *url = gw_arena_printf(&a, "http://%s" ZALOPAY_PAGE_PATH "?app_trans_id=%s&token=%s",
                                    host != NULL ? host : zalopay.sim->opts->listen,
                                    t->merchant_ref, token);
        json_object_set_new(o, "order_url", json_string(url != NULL ? url : ""));
        json_object_set_new(o, "zp_trans_token", json_string(token));
        json_object_set_new(o, "order_token", json_string(token));
        json_object_set_new(o, "qr_code", json_string(""));
    } else {
        gw_log_warn("create_refused", "\"provider\":\"zalopay\",\"sub_return_code\":%d", sub);
    }
    if (sub == -500 && as_5xx) {
        static const char body[] = "{\"error\":\"simulated failure\"}";
        bs_reply(req, 503, "application/json", body, sizeof(body) - 1);
    } else {
        zalopay_reply(req, o, false);
    }
    json_decref(o);
    json_decref(in);
    gw_arena_release(&a);
}

/* ---- the callback and the return (docs/providers.md#zalopay-callback, #zalopay-redirect) ---- */

/* The callback's data string of t (fixed key order); amount_vnd may be tampered. */
static enum gw_err zalopay_data(const struct bs_txn *t, int64_t amount_vnd, struct gw_buf *b)
{
    enum gw_err err =
        gw_buf_printf(b,
                      "{\"app_id\":%s,\"app_trans_id\":\"%s\",\"app_time\":%s,"
                      "\"app_user\":\"",
                      zalopay.app_id, t->merchant_ref, bs_ext_get(t->ext, ZX_N, ZX_APP_TIME));
    if (err == GW_OK) {
        err = gw_buf_add_json_escaped(b, bs_ext_get(t->ext, ZX_N, ZX_APP_USER));
    }
    if (err == GW_OK) {
        err = gw_buf_printf(b, "\",\"amount\":%" PRId64 ",\"embed_data\":\"", amount_vnd);
    }
    if (err == GW_OK) {
        err = gw_buf_add_json_escaped(b, bs_ext_get(t->ext, ZX_N, ZX_EMBED_DATA));
    }
    if (err == GW_OK) {
        err = gw_buf_adds(b, "\",\"item\":\"");
    }
    if (err == GW_OK) {
        err = gw_buf_add_json_escaped(b, bs_ext_get(t->ext, ZX_N, ZX_ITEM));
    }
    if (err == GW_OK) {
        err = gw_buf_printf(b,
                            "\",\"zp_trans_id\":%s,\"server_time\":%s,\"channel\":" ZALOPAY_CHANNEL
                            ",\"merchant_user_id\":\"sim-%s\",\"user_fee_amount\":0,"
                            "\"discount_amount\":0}",
                            t->txn_id, bs_ext_get(t->ext, ZX_N, ZX_SERVER_TIME),
                            bs_ext_get(t->ext, ZX_N, ZX_TOKEN));
    }
    return err;
}

/* {"data": "<data>", "mac": HMAC(key2, data), "type": 1}; forge spoils it. */
static char *zalopay_callback_body(struct gw_arena *a, const struct bs_txn *t, enum bs_forge forge)
{
    struct gw_buf data;
    struct gw_buf body;
    gw_buf_init(&data, (size_t)32 * 1024);
    gw_buf_init(&body, (size_t)64 * 1024);
    char *out = NULL;
    char mac[GW_SHA256_HEX_BYTES];
    if (zalopay_data(t, t->amount_vnd, &data) != GW_OK) {
        goto out_bufs;
    }
    gw_hmac_sha256_hex(zalopay.key2, strlen(zalopay.key2), data.data, data.len, mac);
    if (forge == BS_FORGE_SIGNATURE) {
        mac[0] = mac[0] == '0' ? '1' : '0';
    }
    if (forge == BS_FORGE_AMOUNT) {
        gw_buf_reset(&data);
        if (zalopay_data(t, t->amount_vnd + 1000, &data) != GW_OK) {
            goto out_bufs;
        }
    }
    if (gw_buf_adds(&body, "{\"data\":\"") == GW_OK &&
        gw_buf_add_json_escaped(&body, data.data) == GW_OK &&
        gw_buf_printf(&body, "\",\"mac\":\"%s\",\"type\":1}", mac) == GW_OK) {
        out = gw_arena_strndup(a, body.data, body.len);
    }
out_bufs:
    gw_buf_release(&data);
    gw_buf_release(&body);
    return out;
}

/* embed_data's redirecturl (an arena copy), or NULL when it names none: where the payer goes
 * back to, whose origin the page's policy allows. */
static const char *zalopay_redirect_base(struct gw_arena *a, const struct bs_txn *t)
{
    json_t *embed = json_loads(bs_ext_get(t->ext, ZX_N, ZX_EMBED_DATA), 0, NULL);
    const char *url = json_string_value(json_object_get(embed, "redirecturl"));
    const char *out = url != NULL ? gw_arena_strdup(a, url) : NULL;
    json_decref(embed);
    return out;
}

/* docs/providers.md#zalopay-redirect:
 * redirecturl?appid&apptransid&pmcid&bankcode&amount&discountamount&status&checksum, or NULL when
 * embed_data names no redirecturl. */
static char *zalopay_return_url(struct gw_arena *a, const struct bs_txn *t)
{
    json_t *embed = json_loads(bs_ext_get(t->ext, ZX_N, ZX_EMBED_DATA), 0, NULL);
    const char *url = json_string_value(json_object_get(embed, "redirecturl"));
    char *out = NULL;
    if (url != NULL && bs_url_ok(url, true)) {
        const char *status = t->status == BS_SUCCEEDED ? "1" : "2";
        char *signed_part =
            gw_arena_printf(a, "%s|%s|" ZALOPAY_CHANNEL "|zalopayapp|%" PRId64 "|0|%s",
                            zalopay.app_id, t->merchant_ref, t->amount_vnd, status);
        char mac[GW_SHA256_HEX_BYTES];
        if (signed_part != NULL) {
            gw_hmac_sha256_hex(zalopay.key2, strlen(zalopay.key2), signed_part, strlen(signed_part),
                               mac);
            out = gw_arena_printf(a,
                                  "%s%cappid=%s&apptransid=%s&pmcid=" ZALOPAY_CHANNEL
                                  "&bankcode=zalopayapp&amount=%" PRId64
                                  "&discountamount=0&status=%s&checksum=%s",
                                  url, strchr(url, '?') != NULL ? '&' : '?', zalopay.app_id,
                                  t->merchant_ref, t->amount_vnd, status, mac);
        }
    }
    json_decref(embed);
    return out;
}

/* docs/providers.md#zalopay-callback: return_code 1 (done) and 2 (duplicate) stop; anything else:
 * call again. */
static enum bs_answer zalopay_judge(int status, const char *body, size_t len, char code[16])
{
    json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *rc = json_object_get(j, "return_code");
    if (json_is_integer(rc)) {
        (void)snprintf(code, 16, "%" JSON_INTEGER_FORMAT, json_integer_value(rc));
    } else {
        (void)snprintf(code, 16, "http_%d", status);
    }
    bool stop = json_is_integer(rc) && (json_integer_value(rc) == 1 || json_integer_value(rc) == 2);
    json_decref(j);
    return stop ? BS_ANSWER_DONE : BS_ANSWER_RETRY;
}

/* Marks t decided; ids and times for the callback. */
static void zalopay_record(struct bs_txn *t, bool approve)
{
    t->status = approve ? BS_SUCCEEDED : BS_FAILED;
    t->decided_ms = gw_now_ms();
    t->paid_at = t->decided_ms / 1000;
    char day[7];
    zalopay_yymmdd(t->paid_at, day);
    int64_t yymmdd = 0;
    (void)bs_parse_int64(day, 0, 999999, &yymmdd);
    (void)snprintf(t->txn_id, sizeof(t->txn_id), "%" PRId64,
                   yymmdd * ZALOPAY_ID_SPAN + (int64_t)(t - zalopay.store.txns) + 1);
    const char *f[ZX_N];
    for (size_t i = 0; i < ZX_N; i++) {
        f[i] = bs_ext_get(t->ext, ZX_N, i);
    }
    char server_time[24];
    (void)snprintf(server_time, sizeof(server_time), "%" PRId64, t->decided_ms);
    f[ZX_SERVER_TIME] = server_time;
    char *ext = bs_ext_new(f, ZX_N);
    gw_xfree(t->ext);
    t->ext = ext;
}

static void zalopay_decide(struct evhttp_request *req, struct gw_arena *a, struct bs_txn *t,
                           bool approve)
{
    zalopay_record(t, approve);
    zalopay.sim->stats.approved += approve;
    zalopay.sim->stats.declined += !approve;
    const char *location = zalopay_return_url(a, t);
    if (!approve) {
        /* Only successful payments are called back (docs/providers.md#zalopay-callback). */
        if (location != NULL) {
            bs_reply_redirect(req, location);
        } else {
            bs_reply_page(req, 200, "Đã từ chối · Declined", "<p>status 2</p>");
        }
        return;
    }
    struct bs_plan plan;
    bs_fault_plan(zalopay.sim, BS_PROV_ZALOPAY, true, t->expires_ms, &plan);
    const char *body = zalopay_callback_body(a, t, BS_FORGE_NONE);
    const char *url = bs_ext_get(t->ext, ZX_N, ZX_CALLBACK_URL);
    struct bs_callback cb = {
        .url = url,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .merchant_ref = t->merchant_ref,
        .prov = BS_PROV_ZALOPAY,
        .judge = zalopay_judge,
        .attempts_max = ZALOPAY_CALLS_MAX,
        .interval_ms = zalopay.sim->opts->callback_interval_ms,
    };
    if (plan.forge != BS_FORGE_NONE && body != NULL) {
        struct bs_callback forged = cb;
        forged.body = zalopay_callback_body(a, t, plan.forge);
        forged.body_len = forged.body != NULL ? strlen(forged.body) : 0;
        if (forged.body != NULL) {
            bs_send_forged(zalopay.sim, &forged);
        }
    }
    /* Without a redirecturl the browser is shown the result on the simulator. */
    const char *loc = location != NULL ? location : gw_arena_printf(a, "/zalopay/v2/result");
    struct gw_errbuf eb = { .msg = "out of memory" };
    if (body == NULL || loc == NULL || bs_send(zalopay.sim, &cb, &plan, req, loc, &eb) != GW_OK) {
        gw_log_warn("callback_not_started", "\"merchant_ref\":\"%s\",\"reason\":\"%s\"",
                    t->merchant_ref, eb.msg);
        bs_reply_page(req, 503, "Bận · Busy",
                      "<p>Thử lại sau. <span class=\"en\">Try again "
                      "later.</span></p>");
    }
}

static void zalopay_result_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    bs_reply_page(req, 200, "Đã xử lý · Done",
                  "<p>Giao dịch đã được xử lý. <span "
                  "class=\"en\">The payment was processed."
                  "</span></p>");
}

static void zalopay_page_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)1024 * 1024);
    size_t len = 0;
    const char *q = bs_request_query(req, &len);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    struct bs_txn *t = NULL;
    if (gw_form_parse(&a, q, len, 4, &kv, &n) == GW_OK &&
        gw_kv_get(kv, n, "app_trans_id") != NULL) {
        t = bs_store_find(&zalopay.store, gw_kv_get(kv, n, "app_trans_id"));
    }
    const char *token = gw_kv_get(kv, n, "token");
    int action = -2;
    char *loc = NULL;
    if (t == NULL || token == NULL || strcmp(token, bs_ext_get(t->ext, ZX_N, ZX_TOKEN)) != 0) {
        bs_reply_page(req, 404, "Không tìm thấy · Not found", "<p>unknown order</p>");
    } else if (t->status != BS_PENDING) {
        loc = zalopay_return_url(&a, t);
        bs_reply_redirect(req, loc != NULL ? loc : "/zalopay/v2/result");
    } else if (gw_now_ms() > t->expires_ms) {
        bs_reply_page(req, 410, "Hết hạn · Expired", "<p>sub_return_code -322</p>");
    } else if ((action = bs_page_action(zalopay.sim, req, &a)) == -2) {
        bs_reply_page(req, 400, "Yêu cầu sai · Bad request", "<p>action</p>");
    } else if (action >= 0) {
        zalopay_decide(req, &a, t, action == 1);
    } else {
        zalopay.sim->stats.pages_shown++;
        const char *const rows[][2] = {
            { "Ứng dụng <span class=\"en\">App</span>", zalopay.app_id },
            { "Mã đơn <span class=\"en\">Order</span>", t->merchant_ref },
        };
        const char *url = gw_arena_printf(&a, ZALOPAY_PAGE_PATH "?%s", q);
        bs_show_page(req, "ZaloPay", rows, N_OF(rows), t->amount_vnd, url != NULL ? url : "",
                     zalopay_redirect_base(&a, t));
    }
    gw_arena_release(&a);
}

/* ---- query, refund, query_refund (docs/providers.md#zalopay-query-and-refund) ---- */

static json_t *zalopay_query(json_t *in)
{
    const struct bs_txn *t = bs_store_find(&zalopay.store, zalopay_get(in, "app_trans_id"));
    if (t == NULL) {
        return zalopay_answer(2, -401, "order not found");
    }
    static const int codes[] = { [BS_PENDING] = 3, [BS_SUCCEEDED] = 1, [BS_FAILED] = 2 };
    static const int subs[] = { [BS_PENDING] = 3, [BS_SUCCEEDED] = 1, [BS_FAILED] = -329 };
    static const char *const msgs[] = { [BS_PENDING] = "Giao dịch chưa thanh toán",
                                        [BS_SUCCEEDED] = "Giao dịch thành công",
                                        [BS_FAILED] = "Giao dịch thất bại" };
    json_t *o = zalopay_answer(codes[t->status], subs[t->status], msgs[t->status]);
    int64_t zp = 0;
    (void)bs_parse_int64(t->txn_id, 0, INT64_MAX, &zp);
    json_object_set_new(o, "is_processing", json_boolean(t->status == BS_PENDING));
    json_object_set_new(o, "amount", json_integer(t->amount_vnd));
    json_object_set_new(o, "zp_trans_id", json_integer(zp));
    json_object_set_new(o, "discount_amount", json_integer(0));
    json_object_set_new(o, "server_time", json_integer(gw_now_ms()));
    return o;
}

/* The payment a zp_trans_id names (its store index is in the number). */
static struct bs_txn *zalopay_by_zp(const char *zp)
{
    int64_t v = 0;
    if (zp == NULL || !bs_parse_int64(zp, 1, INT64_MAX, &v)) {
        return NULL;
    }
    int64_t idx = v % ZALOPAY_ID_SPAN - 1;
    if (idx < 0 || (size_t)idx >= zalopay.store.txns_len) {
        return NULL;
    }
    struct bs_txn *t = &zalopay.store.txns[idx];
    return strcmp(t->txn_id, zp) == 0 ? t : NULL;
}

/* A refund's answer: return_code 1 and its refund_id. */
static json_t *zalopay_refund_answer(const struct bs_txn *r)
{
    json_t *o = zalopay_answer(1, 1, "Giao dịch thành công");
    int64_t id = 0;
    (void)bs_parse_int64(r->txn_id, 0, INT64_MAX, &id);
    json_object_set_new(o, "refund_id", json_integer(id));
    return o;
}

static json_t *zalopay_refund(json_t *in)
{
    const char *m_refund_id = zalopay_get(in, "m_refund_id");
    int64_t amount = 0;
    struct bs_txn *t = zalopay_by_zp(zalopay_get(in, "zp_trans_id"));
    char prefix[64];
    (void)snprintf(prefix, sizeof(prefix), "_%s_", zalopay.app_id);
    if (m_refund_id == NULL || !bs_ref_ok(m_refund_id, BS_REF_BYTES_MAX) ||
        strlen(m_refund_id) < 8 || strncmp(m_refund_id + 6, prefix, strlen(prefix)) != 0 ||
        !bs_parse_int64(zalopay_get(in, "amount"), 1, GW_AMOUNT_VND_MAX, &amount)) {
        return zalopay_answer(2, -401, "invalid argument");
    }
    const struct bs_txn *seen = bs_store_find(&zalopay.refunds, m_refund_id);
    if (seen != NULL) { /* the same m_refund_id again: the same answer, nothing new */
        return seen->amount_vnd == amount ? zalopay_refund_answer(seen)
                                          : zalopay_answer(2, -401, "m_refund_id reused");
    }
    if (t == NULL) {
        return zalopay_answer(2, -401, "zp_trans_id not found");
    }
    if (t->status != BS_SUCCEEDED || amount > t->amount_vnd - t->refunded_vnd) {
        return zalopay_answer(2, -401, "refund amount exceeds or order not paid");
    }
    struct bs_txn *r = NULL;
    if (bs_store_add(&zalopay.refunds, m_refund_id, &r) != GW_OK) {
        return zalopay_answer(2, -500, "system error: store full");
    }
    r->amount_vnd = amount;
    r->status = BS_SUCCEEDED;
    r->decided_ms = gw_now_ms();
    r->paid_at = r->decided_ms / 1000;
    char day[7];
    zalopay_yymmdd(r->paid_at, day);
    int64_t yymmdd = 0;
    (void)bs_parse_int64(day, 0, 999999, &yymmdd);
    (void)snprintf(r->txn_id, sizeof(r->txn_id), "%" PRId64,
                   yymmdd * ZALOPAY_ID_SPAN + (int64_t)(r - zalopay.refunds.txns) + 1);
    const char *f[ZR_N] = { t->merchant_ref, t->txn_id };
    r->ext = bs_ext_new(f, ZR_N);
    t->refunded_vnd += amount;
    return zalopay_refund_answer(r);
}

static json_t *zalopay_query_refund(json_t *in)
{
    const struct bs_txn *r = bs_store_find(&zalopay.refunds, zalopay_get(in, "m_refund_id"));
    if (r == NULL) {
        return zalopay_answer(2, -401, "refund not found");
    }
    return zalopay_refund_answer(r);
}

enum zalopay_op {
    ZALOPAY_QUERY,
    ZALOPAY_REFUND,
    ZALOPAY_QUERY_REFUND
};

static void zalopay_api(struct evhttp_request *req, enum zalopay_op op)
{
    if (!bs_fault_api_begin(zalopay.sim, BS_PROV_ZALOPAY, req)) {
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)64 * 1024);
    json_t *in = zalopay_fields(req, &a);
    const char *const *names = op == ZALOPAY_QUERY    ? zalopay_query_mac
                               : op == ZALOPAY_REFUND ? zalopay_refund_mac
                                                      : zalopay_qrefund_mac;
    size_t n = op == ZALOPAY_QUERY    ? N_OF(zalopay_query_mac)
               : op == ZALOPAY_REFUND ? N_OF(zalopay_refund_mac)
                                      : N_OF(zalopay_qrefund_mac);
    json_t *o = NULL;
    if (in == NULL) {
        o = zalopay_answer(2, -401, "invalid argument");
    } else if (!zalopay_verify(in, names, n)) {
        o = zalopay_answer(2, -402, "unauthenticated: bad mac or app_id");
    } else if (op == ZALOPAY_QUERY) {
        o = zalopay_query(in);
    } else if (op == ZALOPAY_REFUND) {
        o = zalopay_refund(in);
    } else {
        o = zalopay_query_refund(in);
    }
    zalopay_reply(req, o, true);
    json_decref(o);
    json_decref(in);
    gw_arena_release(&a);
}

static void zalopay_query_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    zalopay_api(req, ZALOPAY_QUERY);
}

static void zalopay_refund_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    zalopay_api(req, ZALOPAY_REFUND);
}

static void zalopay_query_refund_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    zalopay_api(req, ZALOPAY_QUERY_REFUND);
}

/* ---- the statement (README.md: ZaloPay JSON lines) ---- */

static enum gw_err zalopay_statement(int64_t day_start_s, struct gw_buf *out)
{
    struct bs_stmt_row *rows = NULL;
    size_t n = 0;
    bs_statement_rows(&zalopay.store, &zalopay.refunds, day_start_s, &rows, &n);
    int64_t fee_bp = zalopay.sim->opts->fee_bp[BS_PROV_ZALOPAY];
    enum gw_err err = GW_OK;
    for (size_t i = 0; i < n && err == GW_OK; i++) {
        const struct bs_txn *t = rows[i].t;
        if (rows[i].refund) {
            err = gw_buf_printf(out,
                                "{\"type\":\"refund\",\"app_id\":%s,\"m_refund_id\":\"%s\","
                                "\"refund_id\":%s,\"app_trans_id\":\"%s\",\"zp_trans_id\":%s,"
                                "\"amount\":%" PRId64 ",\"fee_amount\":0,\"server_time\":%" PRId64
                                ",\"status\":1}\n",
                                zalopay.app_id, t->merchant_ref, t->txn_id,
                                bs_ext_get(t->ext, ZR_N, ZR_APP_TRANS_ID),
                                bs_ext_get(t->ext, ZR_N, ZR_ZP_TRANS_ID), t->amount_vnd,
                                t->decided_ms);
        } else {
            err = gw_buf_printf(out,
                                "{\"type\":\"payment\",\"app_id\":%s,\"app_trans_id\":\"%s\","
                                "\"zp_trans_id\":%s,\"amount\":%" PRId64 ",\"fee_amount\":%" PRId64
                                ",\"server_time\":%" PRId64 ",\"status\":1}\n",
                                zalopay.app_id, t->merchant_ref, t->txn_id, t->amount_vnd,
                                bs_fee_vnd(t->amount_vnd, fee_bp), t->decided_ms);
        }
    }
    gw_xfree(rows);
    return err;
}

/* ---- start and stop ---- */

static enum gw_err zalopay_start(struct bs_sim *sim, bool *on, struct gw_errbuf *eb)
{
    const struct bs_options *o = sim->opts;
    *on = o->zalopay_app_id != NULL && o->zalopay_app_id[0] != '\0' && o->zalopay_key1 != NULL &&
          o->zalopay_key1[0] != '\0' && o->zalopay_key2 != NULL && o->zalopay_key2[0] != '\0';
    if (!*on) {
        return GW_OK;
    }
    int64_t app_id = 0;
    if (!bs_parse_int64(o->zalopay_app_id, 1, INT32_MAX, &app_id)) {
        return gw_fail(eb, GW_ERR_INVALID, "--zalopay-app-id must be a positive integer");
    }
    zalopay.sim = sim;
    zalopay.app_id = o->zalopay_app_id;
    zalopay.key1 = o->zalopay_key1;
    zalopay.key2 = o->zalopay_key2;
    bs_store_init(&zalopay.store, BS_PROVIDER_TXNS_MAX);
    bs_store_init(&zalopay.refunds, BS_PROVIDER_TXNS_MAX);
    if (evhttp_set_cb(sim->http, "/zalopay/v2/create", zalopay_create_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, ZALOPAY_PAGE_PATH, zalopay_page_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/zalopay/v2/result", zalopay_result_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/zalopay/v2/query", zalopay_query_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/zalopay/v2/refund", zalopay_refund_cb, NULL) != 0 ||
        evhttp_set_cb(sim->http, "/zalopay/v2/query_refund", zalopay_query_refund_cb, NULL) != 0) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not register the zalopay routes");
    }
    return GW_OK;
}

static void zalopay_stop(void)
{
    bs_store_release(&zalopay.store);
    bs_store_release(&zalopay.refunds);
}
