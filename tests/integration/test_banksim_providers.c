/* feegate-banksim's VNPAY, MoMo and ZaloPay sides, driven directly over HTTP as a merchant
 * would, with a small loopback server in this program playing the merchant's IPN endpoints.
 * Every signature the simulator sends is checked here with gw_crypto, by the rules of
 * docs/providers.md rebuilt in this file (not with the simulator's code); every request the test
 * sends is signed the same way. Also: retries on bad answers, every fault kind with a fixed
 * seed (the same seed gives the same faults), and the statement files. No database. */
#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_arena.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_time.h"
#include "gw_url.h"
#include "th.h"

#define VN_TMN      "FGTEST01"
#define VN_SECRET   "VNPAYTESTSECRETKEY0123456789ABCD"
#define MM_PARTNER  "MOMO"
#define MM_ACCESS   "F8BBA842ECF85"
#define MM_SECRET   "K951B6PE1waDMi640xX08PD3vg6EkVlz"
#define ZP_APP      "2553"
#define ZP_KEY1     "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL"
#define ZP_KEY2     "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz"
#define SEED        "4242"
#define RECORDS_MAX 4096
#define WAIT_MS     8000

/* ---- the merchant: a loopback HTTP server recording every callback ---- */

struct record {
    int64_t at_ms; /* wall clock */
    char prov;     /* 'v', 'm', 'z' */
    char ref[48];
    bool sig_ok;
    int64_t amount;
    char result[8]; /* vnp_ResponseCode, resultCode, "1" */
};

static struct {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    int n;
    struct record r[RECORDS_MAX];
} mer;

static int64_t now_ms(void)
{
    return gw_now_ms();
}

static int count_ref(char prov, const char *ref, bool only_ok)
{
    int n = 0;
    pthread_mutex_lock(&mer.lock);
    for (int i = 0; i < mer.n; i++) {
        n += mer.r[i].prov == prov && strcmp(mer.r[i].ref, ref) == 0 &&
             (!only_ok || mer.r[i].sig_ok);
    }
    pthread_mutex_unlock(&mer.lock);
    return n;
}

static bool wait_count(char prov, const char *ref, int want, int timeout_ms)
{
    for (int64_t end = now_ms() + timeout_ms; now_ms() < end; usleep(20 * 1000)) {
        if (count_ref(prov, ref, false) >= want) {
            return true;
        }
    }
    return count_ref(prov, ref, false) >= want;
}

/* The record of the first callback for ref (copied), false if none. */
static bool first_record(char prov, const char *ref, bool sig_ok, struct record *out)
{
    bool found = false;
    pthread_mutex_lock(&mer.lock);
    for (int i = 0; i < mer.n && !found; i++) {
        if (mer.r[i].prov == prov && strcmp(mer.r[i].ref, ref) == 0 && mer.r[i].sig_ok == sig_ok) {
            *out = mer.r[i];
            found = true;
        }
    }
    pthread_mutex_unlock(&mer.lock);
    return found;
}

/* ---- the providers' rules, rebuilt here ---- */

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct gw_kv *)a)->key, ((const struct gw_kv *)b)->key);
}

/* docs/providers.md#vnpay-signing: non-empty vnp_ fields but the hash, sorted, PHP-urlencoded. */
static void vn_data(struct gw_kv *kv, size_t n, struct gw_buf *out)
{
    struct gw_kv keep[64];
    size_t m = 0;
    for (size_t i = 0; i < n && m < 64; i++) {
        if (strncmp(kv[i].key, "vnp_", 4) == 0 && strcmp(kv[i].key, "vnp_SecureHash") != 0 &&
            strcmp(kv[i].key, "vnp_SecureHashType") != 0 && kv[i].value[0] != '\0') {
            keep[m++] = kv[i];
        }
    }
    qsort(keep, m, sizeof(keep[0]), kv_cmp);
    for (size_t i = 0; i < m; i++) {
        assert_int_equal(gw_buf_printf(out, "%s%s=", i > 0 ? "&" : "", keep[i].key), GW_OK);
        assert_int_equal(gw_form_encode(out, keep[i].value, strlen(keep[i].value)), GW_OK);
    }
}

/* Checks vnp_SecureHash of a received query string; fills kv (arena). */
static bool vn_verify(struct gw_arena *a, const char *q, struct gw_kv **kv, size_t *n)
{
    if (gw_form_parse(a, q, strlen(q), 64, kv, n) != GW_OK) {
        return false;
    }
    struct gw_buf data;
    gw_buf_init(&data, 65536);
    vn_data(*kv, *n, &data);
    char mac[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(VN_SECRET, strlen(VN_SECRET), data.data, data.len, mac);
    gw_buf_release(&data);
    const char *got = gw_kv_get(*kv, *n, "vnp_SecureHash");
    return got != NULL && strcasecmp(got, mac) == 0;
}

/* A JSON value as signature text (strings verbatim, integers decimal). */
static const char *jtext(json_t *o, const char *key, char tmp[32])
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        (void)snprintf(tmp, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return tmp;
    }
    return json_is_string(v) ? json_string_value(v) : "";
}

/* docs/providers.md#momo-signing: "accessKey=..&k=v.." over names, HMAC-SHA256(secretKey). */
static void mm_sig(json_t *o, const char *const *names, size_t n, char mac[GW_SHA256_HEX_BYTES])
{
    struct gw_buf b;
    gw_buf_init(&b, 65536);
    for (size_t i = 0; i < n; i++) {
        char tmp[32];
        const char *v = strcmp(names[i], "accessKey") == 0 ? MM_ACCESS : jtext(o, names[i], tmp);
        assert_int_equal(gw_buf_printf(&b, "%s%s=%s", i > 0 ? "&" : "", names[i], v), GW_OK);
    }
    gw_hmac_sha256_hex(MM_SECRET, strlen(MM_SECRET), b.data, b.len, mac);
    gw_buf_release(&b);
}

static const char *const mm_ipn_fields[] = {
    "accessKey",   "amount",  "extraData", "message",      "orderId",    "orderInfo", "orderType",
    "partnerCode", "payType", "requestId", "responseTime", "resultCode", "transId",
};

/* docs/providers.md#zalopay-signing: HMAC-SHA256(key, a|b|c). */
static void zp_mac(const char *key, const char *data, char mac[GW_SHA256_HEX_BYTES])
{
    gw_hmac_sha256_hex(key, strlen(key), data, strlen(data), mac);
}

/* ---- the merchant's handlers ---- */

static const char *header_end(const char *req)
{
    const char *p = strstr(req, "\r\n\r\n");
    return p != NULL ? p + 4 : NULL;
}

/* VNPAY IPN (GET): verify, record; "NEVER" refs are answered 99 forever, "RETRY" refs 99
 * twice, forged ones 97, the rest 00. */
static void on_vnpay(const char *target, struct record *rec, char *resp, size_t cap)
{
    struct gw_arena a;
    gw_arena_init(&a, 8192, 1 << 20);
    const char *q = strchr(target, '?');
    struct gw_kv *kv = NULL;
    size_t n = 0;
    rec->prov = 'v';
    rec->sig_ok = q != NULL && vn_verify(&a, q + 1, &kv, &n);
    const char *ref = kv != NULL ? gw_kv_get(kv, n, "vnp_TxnRef") : NULL;
    const char *amount = kv != NULL ? gw_kv_get(kv, n, "vnp_Amount") : NULL;
    const char *code = kv != NULL ? gw_kv_get(kv, n, "vnp_ResponseCode") : NULL;
    const char *status = kv != NULL ? gw_kv_get(kv, n, "vnp_TransactionStatus") : NULL;
    (void)snprintf(rec->ref, sizeof(rec->ref), "%s", ref != NULL ? ref : "");
    rec->amount = amount != NULL ? strtoll(amount, NULL, 10) / 100 : -1;
    (void)snprintf(rec->result, sizeof(rec->result), "%s%s", code != NULL ? code : "",
                   status != NULL && code != NULL && strcmp(code, status) != 0 ? "!" : "");
    int seen = count_ref('v', rec->ref, true);
    const char *rsp = "00";
    if (!rec->sig_ok) {
        rsp = "97";
    } else if (strncmp(rec->ref, "NEVER", 5) == 0 ||
               (strncmp(rec->ref, "RETRY", 5) == 0 && seen < 2)) {
        rsp = "99";
    }
    (void)snprintf(resp, cap, "{\"RspCode\":\"%s\",\"Message\":\"x\"}", rsp);
    gw_arena_release(&a);
}

static int on_momo(const char *body, struct record *rec)
{
    json_t *o = json_loads(body, 0, NULL);
    char mac[GW_SHA256_HEX_BYTES];
    mm_sig(o, mm_ipn_fields, sizeof(mm_ipn_fields) / sizeof(mm_ipn_fields[0]), mac);
    const char *got = json_string_value(json_object_get(o, "signature"));
    rec->prov = 'm';
    rec->sig_ok = got != NULL && strcmp(got, mac) == 0;
    char tmp[32];
    (void)snprintf(rec->ref, sizeof(rec->ref), "%s", jtext(o, "orderId", tmp));
    rec->amount = json_integer_value(json_object_get(o, "amount"));
    (void)snprintf(rec->result, sizeof(rec->result), "%s", jtext(o, "resultCode", tmp));
    json_decref(o);
    int seen = count_ref('m', rec->ref, true);
    if (!rec->sig_ok) {
        return 400;
    }
    return strncmp(rec->ref, "RETRY", 5) == 0 && seen < 2 ? 500 : 204;
}

static void on_zalopay(const char *body, struct record *rec, char *resp, size_t cap)
{
    json_t *o = json_loads(body, 0, NULL);
    const char *data = json_string_value(json_object_get(o, "data"));
    const char *got = json_string_value(json_object_get(o, "mac"));
    char mac[GW_SHA256_HEX_BYTES];
    zp_mac(ZP_KEY2, data != NULL ? data : "", mac);
    rec->prov = 'z';
    rec->sig_ok =
        got != NULL && strcmp(got, mac) == 0 && json_integer_value(json_object_get(o, "type")) == 1;
    json_t *d = json_loads(data != NULL ? data : "", 0, NULL);
    char tmp[32];
    (void)snprintf(rec->ref, sizeof(rec->ref), "%s", jtext(d, "app_trans_id", tmp));
    rec->amount = json_integer_value(json_object_get(d, "amount"));
    (void)snprintf(rec->result, sizeof(rec->result), "1");
    json_decref(d);
    json_decref(o);
    int rc = strstr(rec->ref, "NEVER") != NULL ? 0 : 1;
    (void)snprintf(resp, cap, "{\"return_code\":%d,\"return_message\":\"x\"}",
                   rec->sig_ok ? rc : -1);
}

/* One request per connection (the answer says Connection: close). */
static void serve_one(int c)
{
    static char buf[65536];
    size_t len = 0;
    struct pollfd pfd = { .fd = c, .events = POLLIN };
    while (len < sizeof(buf) - 1 && poll(&pfd, 1, 2000) > 0) {
        ssize_t r = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
        buf[len] = '\0';
        const char *body = header_end(buf);
        const char *cl = strcasestr(buf, "Content-Length:");
        size_t want = body == NULL
                          ? SIZE_MAX
                          : (size_t)(body - buf) + (cl != NULL ? strtoul(cl + 15, NULL, 10) : 0);
        if (len >= want) {
            break;
        }
    }
    const char *body = header_end(buf);
    if (body == NULL) {
        close(c);
        return;
    }
    char target[8192] = "";
    (void)sscanf(buf, "%*s %8191s", target);
    struct record rec = { .at_ms = now_ms() };
    char answer[256] = "";
    int status = 200;
    if (strncmp(target, "/ipn/vnpay", 10) == 0) {
        on_vnpay(target, &rec, answer, sizeof(answer));
    } else if (strncmp(target, "/ipn/momo", 9) == 0) {
        status = on_momo(body, &rec);
    } else if (strncmp(target, "/ipn/zalopay", 12) == 0) {
        on_zalopay(body, &rec, answer, sizeof(answer));
    } else {
        status = 404;
    }
    pthread_mutex_lock(&mer.lock);
    if (mer.n < RECORDS_MAX && rec.prov != 0) {
        mer.r[mer.n++] = rec;
    }
    pthread_mutex_unlock(&mer.lock);
    char out[512];
    int n =
        snprintf(out, sizeof(out),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 status, status == 204 ? (size_t)0 : strlen(answer), status == 204 ? "" : answer);
    (void)send(c, out, (size_t)n, MSG_NOSIGNAL);
    close(c);
}

static void *mer_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&mer.stop)) {
        struct pollfd pfd = { .fd = mer.fd, .events = POLLIN };
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        int c = accept(mer.fd, NULL, NULL);
        if (c >= 0) {
            serve_one(c);
        }
    }
    return NULL;
}

/* ---- the simulator ---- */

static struct th_banksim bs;
static char stmt_dir[64];

static enum gw_err sim_start(struct th_banksim *b, const char *dir)
{
    static char ipn[96];
    (void)snprintf(ipn, sizeof(ipn), "http://127.0.0.1:%d/ipn/vnpay?src=vnpay", mer.port);
    const char *const args[] = {
        "--vnpay-tmn",
        VN_TMN,
        "--vnpay-secret",
        VN_SECRET,
        "--vnpay-ipn-url",
        ipn,
        "--momo-partner",
        MM_PARTNER,
        "--momo-access-key",
        MM_ACCESS,
        "--momo-secret-key",
        MM_SECRET,
        "--zalopay-app-id",
        ZP_APP,
        "--zalopay-key1",
        ZP_KEY1,
        "--zalopay-key2",
        ZP_KEY2,
        "--seed",
        SEED,
        "--callback-interval-ms",
        "50",
        "--vnpay-fee-bp",
        "110",
        "--momo-fee-bp",
        "150",
        "--zalopay-fee-bp",
        "125",
        "--statement-dir",
        dir,
        NULL,
    };
    return th_banksim_start_args(b, args);
}

static int setup(void **state)
{
    (void)state;
    mer.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (mer.fd < 0 || bind(mer.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(mer.fd, 256) != 0 || getsockname(mer.fd, (struct sockaddr *)&sa, &sl) != 0) {
        return -1;
    }
    mer.port = ntohs(sa.sin_port);
    pthread_mutex_init(&mer.lock, NULL);
    if (pthread_create(&mer.thread, NULL, mer_main, NULL) != 0) {
        return -1;
    }
    (void)snprintf(stmt_dir, sizeof(stmt_dir), "/tmp/fg-stmt-XXXXXX");
    if (mkdtemp(stmt_dir) == NULL) {
        return -1;
    }
    return sim_start(&bs, stmt_dir) == GW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    enum gw_err err = th_banksim_stop(&bs);
    atomic_store(&mer.stop, true);
    pthread_join(mer.thread, NULL);
    close(mer.fd);
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", stmt_dir);
    int rm_rc = system(cmd); /* a leftover temp dir is not a test failure */
    (void)rm_rc;
    return err == GW_OK ? 0 : -1;
}

/* ---- HTTP steps ---- */

static int http(const char *method, const char *path, const char *ctype, const char *body,
                struct th_resp *r)
{
    char url[8192];
    (void)snprintf(url, sizeof(url), "%s%s", bs.url, path);
    char h[128];
    (void)snprintf(h, sizeof(h), "Content-Type: %s", ctype != NULL ? ctype : "application/json");
    const char *const headers[] = { h, NULL };
    assert_int_equal(th_http(method, url, headers, body, body != NULL ? strlen(body) : 0, r),
                     GW_OK);
    return r->status;
}

static void set_faults(const char *doc)
{
    struct th_resp r;
    assert_int_equal(http("POST", "/_faults", NULL, doc, &r), 200);
    th_resp_release(&r);
}

/* GET /_stats -> provider object member (an integer). */
static long long stat_of(const char *prov, const char *key)
{
    struct th_resp r;
    assert_int_equal(http("GET", "/_stats", NULL, NULL, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    long long v = json_integer_value(json_object_get(json_object_get(j, prov), key));
    json_decref(j);
    th_resp_release(&r);
    return v;
}

static long long stat_answer(const char *prov, const char *code)
{
    struct th_resp r;
    assert_int_equal(http("GET", "/_stats", NULL, NULL, &r), 200);
    json_t *j = json_loads(r.body, 0, NULL);
    long long v = json_integer_value(
        json_object_get(json_object_get(json_object_get(j, prov), "answers"), code));
    json_decref(j);
    th_resp_release(&r);
    return v;
}

/* ---- VNPAY steps ---- */

/* The pay URL path for ref, signed here (docs/providers.md#vnpay-pay-request and
 * docs/providers.md#vnpay-signing); expire_s from now. */
static void vn_pay_path(const char *ref, long long amount_vnd, int expire_s, char *out, size_t cap,
                        const char *secret)
{
    char create[15];
    char expire[15];
    char amount[32];
    gw_time_compact_vn(time(NULL), create);
    gw_time_compact_vn(time(NULL) + expire_s, expire);
    (void)snprintf(amount, sizeof(amount), "%lld", amount_vnd * 100);
    struct gw_kv kv[] = {
        { "vnp_Version", "2.1.0" },
        { "vnp_Command", "pay" },
        { "vnp_TmnCode", VN_TMN },
        { "vnp_Amount", amount },
        { "vnp_CreateDate", create },
        { "vnp_CurrCode", "VND" },
        { "vnp_IpAddr", "203.0.113.10" },
        { "vnp_Locale", "vn" },
        { "vnp_OrderInfo", "Thanh toan le phi ho so: HS-2024-000123 (x*y~z)" },
        { "vnp_OrderType", "other" },
        { "vnp_ReturnUrl", "https://dvc.example.gov.vn/payment/return?src=vnpay" },
        { "vnp_ExpireDate", expire },
        { "vnp_TxnRef", ref },
        { "vnp_BankCode", "VNBANK" },
    };
    struct gw_buf data;
    gw_buf_init(&data, 65536);
    vn_data(kv, sizeof(kv) / sizeof(kv[0]), &data);
    char mac[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(secret, strlen(secret), data.data, data.len, mac);
    (void)snprintf(out, cap, "/vnpay/paymentv2/vpcpay.html?%s&vnp_SecureHash=%s", data.data, mac);
    gw_buf_release(&data);
}

/* Shows the page, then approves or declines; returns the browser's Location (or ""). */
static void vn_pay(const char *ref, long long amount, bool approve, int expire_s, char *loc,
                   size_t cap)
{
    char path[4096];
    vn_pay_path(ref, amount, expire_s, path, sizeof(path), VN_SECRET);
    struct th_resp r;
    assert_int_equal(http("GET", path, NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "name=\"action\" value=\"approve\""));
    th_resp_release(&r);
    assert_int_equal(http("POST", path, "application/x-www-form-urlencoded",
                          approve ? "action=approve" : "action=decline", &r),
                     303);
    (void)snprintf(loc, cap, "%s", r.location != NULL ? r.location : "");
    th_resp_release(&r);
}

/* A transaction API call signed per docs/providers.md#vnpay-querydr and
 * docs/providers.md#vnpay-refund (pipe fields in order). */
static json_t *vn_api(const char *const fields[][2], size_t n, int *status)
{
    struct gw_buf data;
    gw_buf_init(&data, 65536);
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(gw_buf_printf(&data, "%s%s", i > 0 ? "|" : "", fields[i][1]), GW_OK);
        json_object_set_new(o, fields[i][0], json_string(fields[i][1]));
    }
    char mac[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(VN_SECRET, strlen(VN_SECRET), data.data, data.len, mac);
    json_object_set_new(o, "vnp_SecureHash", json_string(mac));
    char *body = json_dumps(o, JSON_COMPACT);
    struct th_resp r;
    *status = http("POST", "/vnpay/merchant_webapi/api/transaction", NULL, body, &r);
    json_t *resp = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    free(body);
    json_decref(o);
    gw_buf_release(&data);
    return resp;
}

/* Verifies an API answer's hash over names (docs/providers.md#vnpay-querydr and
 * docs/providers.md#vnpay-refund). */
static bool vn_api_ok(json_t *resp, const char *const *names, size_t n)
{
    struct gw_buf data;
    gw_buf_init(&data, 65536);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(resp, names[i]));
        assert_int_equal(gw_buf_printf(&data, "%s%s", i > 0 ? "|" : "", v != NULL ? v : ""), GW_OK);
    }
    char mac[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex(VN_SECRET, strlen(VN_SECRET), data.data, data.len, mac);
    gw_buf_release(&data);
    const char *got = json_string_value(json_object_get(resp, "vnp_SecureHash"));
    return got != NULL && strcasecmp(got, mac) == 0;
}

static const char *const vn_qresp[] = {
    "vnp_ResponseId", "vnp_Command",       "vnp_ResponseCode",    "vnp_Message",
    "vnp_TmnCode",    "vnp_TxnRef",        "vnp_Amount",          "vnp_BankCode",
    "vnp_PayDate",    "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
    "vnp_OrderInfo",  "vnp_PromotionCode", "vnp_PromotionAmount",
};

static json_t *vn_querydr(const char *ref, int *status)
{
    char now[15];
    gw_time_compact_vn(time(NULL), now);
    const char *const f[][2] = {
        { "vnp_RequestId", "Q1" }, { "vnp_Version", "2.1.0" },    { "vnp_Command", "querydr" },
        { "vnp_TmnCode", VN_TMN }, { "vnp_TxnRef", ref },         { "vnp_TransactionDate", now },
        { "vnp_CreateDate", now }, { "vnp_IpAddr", "127.0.0.1" }, { "vnp_OrderInfo", "Truy van" },
    };
    return vn_api(f, sizeof(f) / sizeof(f[0]), status);
}

/* ---- tests: VNPAY ---- */

/* docs/providers.md#vnpay-test-vectors, V2: the published-rule vector verifies (the payment is long
 * expired: 410, not the 403 of a bad hash); a hash from another secret is refused. */
static void test_vnpay_vector_and_bad_hash(void **state)
{
    (void)state;
    /* V2 exactly (same secret, terminal DEMOTMN1): the hash checks out, in either case, and
     * only then is the terminal refused (02), where a bad hash gives 403 (97). */
    static const char v2[] =
        "/vnpay/paymentv2/vpcpay.html?vnp_Amount=125000000&vnp_BankCode=VNBANK&vnp_Command=pay"
        "&vnp_CreateDate=20240115103000&vnp_CurrCode=VND&vnp_ExpireDate=20240115104500"
        "&vnp_IpAddr=203.0.113.10&vnp_Locale=vn&vnp_OrderInfo=Thanh+toan+le+phi+ho+so%3A+HS-2024-"
        "000123&vnp_OrderType=other&vnp_ReturnUrl=https%3A%2F%2Fdvc.example.gov.vn%2Fpayment%2F"
        "return%3Fsrc%3Dvnpay&vnp_TmnCode=DEMOTMN1&vnp_TxnRef=HS2024000123&vnp_Version=2.1.0"
        "&vnp_SecureHash=";
    static const char v2_hash[] = "9e17e3f701339d71f45061ab2764bc10b4c2864d68ebe82a18b0cca011985c"
                                  "30f9fdd9784dab045ae9ae2989b1322cc153234c5e0829de6a2a88cc0a2e47"
                                  "1e66";
    char url[2048];
    struct th_resp v;
    (void)snprintf(url, sizeof(url), "%s%s", v2, v2_hash);
    assert_int_equal(http("GET", url, NULL, NULL, &v), 400);
    assert_non_null(strstr(v.body, ": 02<"));
    th_resp_release(&v);
    for (char *c = url + strlen(v2); *c != '\0'; c++) {
        *c = (char)toupper((unsigned char)*c);
    }
    assert_int_equal(http("GET", url, NULL, NULL, &v), 400);
    th_resp_release(&v);
    url[strlen(v2)] = url[strlen(v2)] == '0' ? '1' : '0';
    assert_int_equal(http("GET", url, NULL, NULL, &v), 403);
    th_resp_release(&v);
    /* V2 is signed for DEMOTMN1, not our terminal: so sign V2's data with our secret and
     * check the hash rule (upper-case hash accepted) through the expiry answer. */
    char path[4096];
    vn_pay_path("VECTOR1", 1250000, -60, path, sizeof(path), VN_SECRET);
    struct th_resp r;
    assert_int_equal(http("GET", path, NULL, NULL, &r), 410);
    th_resp_release(&r);
    vn_pay_path("VECTOR2", 1250000, 900, path, sizeof(path), "another-secret");
    assert_int_equal(http("GET", path, NULL, NULL, &r), 403);
    th_resp_release(&r);
    /* Tampered after signing: amount changed in the URL. */
    vn_pay_path("VECTOR3", 1250000, 900, path, sizeof(path), VN_SECRET);
    char *p = strstr(path, "vnp_Amount=125");
    p[11] = '9';
    assert_int_equal(http("GET", path, NULL, NULL, &r), 403);
    th_resp_release(&r);
}

/* docs/providers.md#vnpay-refund: a partial refund, the same request again, then more than
 * what is left. */
static void vn_refunds(const char *txn_no)
{
    int status = 0;
    json_t *q = NULL;
    char now[15];
    gw_time_compact_vn(time(NULL), now);
    const char *const f[][2] = {
        { "vnp_RequestId", "RF1" },       { "vnp_Version", "2.1.0" },
        { "vnp_Command", "refund" },      { "vnp_TmnCode", VN_TMN },
        { "vnp_TransactionType", "03" },  { "vnp_TxnRef", "VNOK1" },
        { "vnp_Amount", "5000000" },      { "vnp_TransactionNo", txn_no },
        { "vnp_TransactionDate", now },   { "vnp_CreateBy", "admin01" },
        { "vnp_CreateDate", now },        { "vnp_IpAddr", "127.0.0.1" },
        { "vnp_OrderInfo", "Hoan tien" },
    };
    q = vn_api(f, 13, &status);
    assert_true(vn_api_ok(q, vn_qresp, 13));
    assert_string_equal(json_string_value(json_object_get(q, "vnp_ResponseCode")), "00");
    json_decref(q);
    q = vn_api(f, 13, &status); /* the same vnp_RequestId again */
    assert_string_equal(json_string_value(json_object_get(q, "vnp_ResponseCode")), "94");
    json_decref(q);
    const char *const g[][2] = {
        { "vnp_RequestId", "RF2" },       { "vnp_Version", "2.1.0" },
        { "vnp_Command", "refund" },      { "vnp_TmnCode", VN_TMN },
        { "vnp_TransactionType", "03" },  { "vnp_TxnRef", "VNOK1" },
        { "vnp_Amount", "15000100" },     { "vnp_TransactionNo", txn_no },
        { "vnp_TransactionDate", now },   { "vnp_CreateBy", "admin01" },
        { "vnp_CreateDate", now },        { "vnp_IpAddr", "127.0.0.1" },
        { "vnp_OrderInfo", "Hoan tien" },
    };
    q = vn_api(g, 13, &status);
    assert_string_equal(json_string_value(json_object_get(q, "vnp_ResponseCode")), "03");
    json_decref(q);
}

static void test_vnpay_flow(void **state)
{
    (void)state;
    char loc[4096];
    vn_pay("VNOK1", 200000, true, 900, loc, sizeof(loc));
    assert_true(strncmp(loc, "https://dvc.example.gov.vn/payment/return?src=vnpay&", 52) == 0);
    struct gw_arena a;
    gw_arena_init(&a, 8192, 1 << 20);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    assert_true(vn_verify(&a, strchr(loc, '?') + 1, &kv, &n));
    assert_string_equal(gw_kv_get(kv, n, "vnp_ResponseCode"), "00");
    assert_string_equal(gw_kv_get(kv, n, "vnp_Amount"), "20000000");
    gw_arena_release(&a);
    /* The IPN was answered before the browser came back. */
    struct record rec;
    assert_true(first_record('v', "VNOK1", true, &rec));
    assert_string_equal(rec.result, "00");
    assert_int_equal(rec.amount, 200000);
    assert_int_equal(count_ref('v', "VNOK1", false), 1);
    /* Declined: 24, with status 02 (the '!' marks ResponseCode != TransactionStatus). */
    vn_pay("VNNO1", 50000, false, 900, loc, sizeof(loc));
    assert_true(wait_count('v', "VNNO1", 1, WAIT_MS));
    assert_true(first_record('v', "VNNO1", true, &rec));
    assert_string_equal(rec.result, "24!");
    /* querydr: signed answers for a payment and an unknown one. */
    int status = 0;
    json_t *q = vn_querydr("VNOK1", &status);
    assert_int_equal(status, 200);
    assert_true(vn_api_ok(q, vn_qresp, 15));
    assert_string_equal(json_string_value(json_object_get(q, "vnp_ResponseCode")), "00");
    assert_string_equal(json_string_value(json_object_get(q, "vnp_TransactionStatus")), "00");
    assert_string_equal(json_string_value(json_object_get(q, "vnp_Amount")), "20000000");
    char txn_no[32];
    (void)snprintf(txn_no, sizeof(txn_no), "%s",
                   json_string_value(json_object_get(q, "vnp_TransactionNo")));
    json_decref(q);
    q = vn_querydr("NOSUCHREF", &status);
    assert_true(vn_api_ok(q, vn_qresp, 15));
    assert_string_equal(json_string_value(json_object_get(q, "vnp_ResponseCode")), "91");
    json_decref(q);
    vn_refunds(txn_no);
    /* A bad request checksum: 97. */
    json_t *bad = json_pack("{s:s,s:s,s:s,s:s}", "vnp_Command", "querydr", "vnp_TmnCode", VN_TMN,
                            "vnp_TxnRef", "VNOK1", "vnp_SecureHash", "00");
    char *body = json_dumps(bad, 0);
    struct th_resp r;
    assert_int_equal(http("POST", "/vnpay/merchant_webapi/api/transaction", NULL, body, &r), 200);
    assert_non_null(strstr(r.body, "\"vnp_ResponseCode\":\"97\""));
    th_resp_release(&r);
    free(body);
    json_decref(bad);
}

/* docs/providers.md#vnpay-ipn-and-return: 99 makes VNPAY call again (at most 10 calls); 00
 * stops it. */
static void test_vnpay_retries(void **state)
{
    (void)state;
    long long retried = stat_of("vnpay", "retried");
    char loc[4096];
    vn_pay("RETRY1", 10000, true, 900, loc, sizeof(loc));
    assert_true(wait_count('v', "RETRY1", 3, WAIT_MS));
    vn_pay("NEVER1", 10000, true, 900, loc, sizeof(loc));
    assert_true(wait_count('v', "NEVER1", 10, WAIT_MS));
    usleep(400 * 1000);
    assert_int_equal(count_ref('v', "RETRY1", false), 3);
    assert_int_equal(count_ref('v', "NEVER1", false), 10);
    assert_int_equal(stat_of("vnpay", "retried") - retried, 2 + 9);
    assert_true(stat_of("vnpay", "given_up") >= 1);
    assert_true(stat_answer("vnpay", "99") >= 11);
}

/* ---- tests: MoMo ---- */

static json_t *mm_post(const char *path, json_t *o, const char *const *names, size_t n, int *status)
{
    char mac[GW_SHA256_HEX_BYTES];
    mm_sig(o, names, n, mac);
    json_object_set_new(o, "signature", json_string(mac));
    char *body = json_dumps(o, JSON_COMPACT);
    struct th_resp r;
    *status = http("POST", path, NULL, body, &r);
    json_t *resp = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    free(body);
    return resp;
}

static const char *const mm_create_fields[] = { "accessKey",   "amount",      "extraData",
                                                "ipnUrl",      "orderId",     "orderInfo",
                                                "partnerCode", "redirectUrl", "requestId",
                                                "requestType" };

/* Creates order ref; returns resultCode and the payUrl's path into pay. */
static int mm_create(const char *ref, long long amount, char *pay, size_t cap)
{
    char ipn[96];
    (void)snprintf(ipn, sizeof(ipn), "http://127.0.0.1:%d/ipn/momo", mer.port);
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "partnerCode", MM_PARTNER,
                          "requestId", ref, "amount", (json_int_t)amount, "orderId", ref,
                          "orderInfo", "Thanh toán lệ phí hồ sơ", "redirectUrl",
                          "https://dvc.example.gov.vn/momo/return", "ipnUrl", ipn, "requestType",
                          "captureWallet", "extraData", "", "lang", "vi");
    int status = 0;
    json_t *resp = mm_post("/momo/v2/gateway/api/create", o, mm_create_fields, 10, &status);
    int rc = status == 200 ? (int)json_integer_value(json_object_get(resp, "resultCode")) : -status;
    const char *url = json_string_value(json_object_get(resp, "payUrl"));
    const char *path = url != NULL ? strstr(url + 7, "/") : NULL;
    (void)snprintf(pay, cap, "%s", path != NULL ? path : "");
    json_decref(resp);
    json_decref(o);
    return rc;
}

static void test_momo_flow(void **state)
{
    (void)state;
    char pay[512];
    assert_int_equal(mm_create("MMOK1", 150000, pay, sizeof(pay)), 0);
    assert_int_equal(mm_create("MMOK1", 150000, pay + 256, 256), 41); /* duplicate orderId */
    struct th_resp r;
    assert_int_equal(http("GET", pay, NULL, NULL, &r), 200);
    th_resp_release(&r);
    assert_int_equal(http("POST", pay, "application/x-www-form-urlencoded", "action=approve", &r),
                     303);
    assert_non_null(strstr(r.location, "https://dvc.example.gov.vn/momo/return?"));
    assert_non_null(strstr(r.location, "&signature="));
    th_resp_release(&r);
    struct record rec;
    assert_true(first_record('m', "MMOK1", true, &rec));
    assert_string_equal(rec.result, "0");
    assert_int_equal(rec.amount, 150000);
    /* A bad create signature: 13; a body that is not JSON: 400 with 20. */
    json_t *o =
        json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "partnerCode", MM_PARTNER,
                  "requestId", "X", "amount", (json_int_t)10000, "orderId", "X", "orderInfo", "x",
                  "redirectUrl", "https://a.example/r", "ipnUrl", "http://127.0.0.1:9/i",
                  "requestType", "captureWallet", "extraData", "", "signature", "deadbeef");
    char *body = json_dumps(o, 0);
    assert_int_equal(http("POST", "/momo/v2/gateway/api/create", NULL, body, &r), 200);
    assert_non_null(strstr(r.body, "\"resultCode\":13"));
    th_resp_release(&r);
    free(body);
    json_decref(o);
    assert_int_equal(http("POST", "/momo/v2/gateway/api/create", NULL, "nope", &r), 400);
    assert_non_null(strstr(r.body, "\"resultCode\":20"));
    th_resp_release(&r);
}

static void test_momo_query_refund_retry(void **state)
{
    (void)state;
    static const char *const qf[] = { "accessKey", "orderId", "partnerCode", "requestId" };
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "partnerCode", MM_PARTNER, "requestId", "Q1",
                          "orderId", "MMOK1", "lang", "vi");
    int status = 0;
    json_t *q = mm_post("/momo/v2/gateway/api/query", o, qf, 4, &status);
    assert_int_equal(json_integer_value(json_object_get(q, "resultCode")), 0);
    json_int_t trans_id = json_integer_value(json_object_get(q, "transId"));
    assert_true(trans_id > 0);
    json_decref(q);
    json_decref(o);
    static const char *const rf[] = { "accessKey",   "amount",    "description", "orderId",
                                      "partnerCode", "requestId", "transId" };
    o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "partnerCode", MM_PARTNER, "orderId", "MMRF1",
                  "requestId", "R1", "amount", (json_int_t)40000, "transId", trans_id, "lang", "vi",
                  "description", "Hoan phi");
    q = mm_post("/momo/v2/gateway/api/refund", o, rf, 7, &status);
    assert_int_equal(json_integer_value(json_object_get(q, "resultCode")), 0);
    json_decref(q);
    json_decref(o);
    o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "partnerCode", MM_PARTNER, "orderId", "MMRF2",
                  "requestId", "R2", "amount", (json_int_t)110001, "transId", trans_id, "lang",
                  "vi", "description", "Hoan phi");
    q = mm_post("/momo/v2/gateway/api/refund", o, rf, 7, &status);
    assert_int_equal(json_integer_value(json_object_get(q, "resultCode")), 1080);
    json_decref(q);
    json_decref(o);
    /* The merchant answers 500 twice: MoMo calls again until 204. */
    char pay[512];
    struct th_resp r;
    assert_int_equal(mm_create("RETRYM1", 20000, pay, sizeof(pay)), 0);
    assert_int_equal(http("POST", pay, "application/x-www-form-urlencoded", "action=approve", &r),
                     303);
    th_resp_release(&r);
    assert_true(wait_count('m', "RETRYM1", 3, WAIT_MS));
    usleep(300 * 1000);
    assert_int_equal(count_ref('m', "RETRYM1", false), 3);
    assert_true(stat_answer("momo", "500") >= 2);
    assert_true(stat_answer("momo", "204") >= 2);
}

/* ---- tests: ZaloPay ---- */

static json_t *zp_post_status(const char *path, const char *form, int *status)
{
    struct th_resp r;
    *status = http("POST", path, "application/x-www-form-urlencoded", form, &r);
    json_t *resp = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    return resp;
}

static json_t *zp_post(const char *path, const char *form)
{
    int status = 0;
    json_t *resp = zp_post_status(path, form, &status);
    assert_int_equal(status, 200);
    return resp;
}

/* Creates yymmdd_<suffix>; returns return_code and the order_url path. */
static int zp_create(const char *suffix, long long amount, char ref[48], char *pay, size_t cap)
{
    char compact[15];
    gw_time_compact_vn(time(NULL), compact);
    (void)snprintf(ref, 48, "%.6s_%s", compact + 2, suffix);
    long long app_time = (long long)now_ms();
    const char *embed = "{\"redirecturl\":\"https://dvc.example.gov.vn/zlp/return\"}";
    char data[512];
    char mac[GW_SHA256_HEX_BYTES];
    (void)snprintf(data, sizeof(data), ZP_APP "|%s|dvc_user|%lld|%lld|%s|[]", ref, amount, app_time,
                   embed);
    zp_mac(ZP_KEY1, data, mac);
    struct gw_buf form;
    gw_buf_init(&form, 8192);
    assert_int_equal(gw_buf_printf(&form,
                                   "app_id=" ZP_APP "&app_user=dvc_user&app_trans_id=%s"
                                   "&app_time=%lld&amount=%lld&item=%%5B%%5D&description=Le+phi"
                                   "&bank_code=zalopayapp&callback_url=http%%3A%%2F%%2F127.0.0.1"
                                   "%%3A%d%%2Fipn%%2Fzalopay&mac=%s&embed_data=",
                                   ref, app_time, amount, mer.port, mac),
                     GW_OK);
    assert_int_equal(gw_form_encode(&form, embed, strlen(embed)), GW_OK);
    int status = 0;
    json_t *resp = zp_post_status("/zalopay/v2/create", form.data, &status);
    gw_buf_release(&form);
    int rc =
        status == 200 ? (int)json_integer_value(json_object_get(resp, "return_code")) : -status;
    const char *url = json_string_value(json_object_get(resp, "order_url"));
    const char *path = url != NULL ? strstr(url + 7, "/") : NULL;
    (void)snprintf(pay, cap, "%s", path != NULL ? path : "");
    json_decref(resp);
    return rc;
}

static void test_zalopay_flow(void **state)
{
    (void)state;
    char ref[48];
    char pay[512];
    assert_int_equal(zp_create("ZPOK1", 300000, ref, pay, sizeof(pay)), 1);
    struct th_resp r;
    assert_int_equal(http("POST", pay, "application/x-www-form-urlencoded", "action=approve", &r),
                     303);
    /* docs/providers.md#zalopay-redirect: the checksum with key2. */
    char want[256];
    char mac[GW_SHA256_HEX_BYTES];
    (void)snprintf(want, sizeof(want), ZP_APP "|%s|38|zalopayapp|300000|0|1", ref);
    zp_mac(ZP_KEY2, want, mac);
    assert_non_null(strstr(r.location, mac));
    th_resp_release(&r);
    struct record rec;
    assert_true(first_record('z', ref, true, &rec));
    assert_int_equal(rec.amount, 300000);
    /* query */
    char data[256];
    char form[512];
    (void)snprintf(data, sizeof(data), ZP_APP "|%s|" ZP_KEY1, ref);
    zp_mac(ZP_KEY1, data, mac);
    (void)snprintf(form, sizeof(form), "app_id=" ZP_APP "&app_trans_id=%s&mac=%s", ref, mac);
    json_t *q = zp_post("/zalopay/v2/query", form);
    assert_int_equal(json_integer_value(json_object_get(q, "return_code")), 1);
    json_int_t zp = json_integer_value(json_object_get(q, "zp_trans_id"));
    json_decref(q);
    /* refund, and the same m_refund_id again: the same refund_id */
    char m_refund_id[48];
    (void)snprintf(m_refund_id, sizeof(m_refund_id), "%.6s_" ZP_APP "_0000000001", ref);
    (void)snprintf(data, sizeof(data),
                   ZP_APP "|%" JSON_INTEGER_FORMAT "|100000|Hoan phi|1705376400000", zp);
    zp_mac(ZP_KEY1, data, mac);
    (void)snprintf(form, sizeof(form),
                   "app_id=" ZP_APP "&m_refund_id=%s&zp_trans_id=%" JSON_INTEGER_FORMAT
                   "&amount=100000&timestamp=1705376400000&description=Hoan+phi&mac=%s",
                   m_refund_id, zp, mac);
    q = zp_post("/zalopay/v2/refund", form);
    assert_int_equal(json_integer_value(json_object_get(q, "return_code")), 1);
    json_int_t refund_id = json_integer_value(json_object_get(q, "refund_id"));
    json_decref(q);
    q = zp_post("/zalopay/v2/refund", form);
    assert_int_equal(json_integer_value(json_object_get(q, "refund_id")), refund_id);
    json_decref(q);
    (void)snprintf(data, sizeof(data), ZP_APP "|%s|1705376460000", m_refund_id);
    zp_mac(ZP_KEY1, data, mac);
    (void)snprintf(form, sizeof(form),
                   "app_id=" ZP_APP "&m_refund_id=%s&timestamp=1705376460000&mac=%s", m_refund_id,
                   mac);
    q = zp_post("/zalopay/v2/query_refund", form);
    assert_int_equal(json_integer_value(json_object_get(q, "return_code")), 1);
    json_decref(q);
    /* A bad mac on query: refused. */
    q = zp_post("/zalopay/v2/query", "app_id=" ZP_APP "&app_trans_id=x&mac=00");
    assert_int_equal(json_integer_value(json_object_get(q, "sub_return_code")), -402);
    json_decref(q);
    /* return_code 0 forever: the first call and 3 more. */
    char ref2[48];
    assert_int_equal(zp_create("NEVER2", 20000, ref2, pay, sizeof(pay)), 1);
    assert_int_equal(http("POST", pay, "application/x-www-form-urlencoded", "action=approve", &r),
                     303);
    th_resp_release(&r);
    assert_true(wait_count('z', ref2, 4, WAIT_MS));
    usleep(300 * 1000);
    assert_int_equal(count_ref('z', ref2, false), 4);
}

/* ---- tests: faults ---- */

/* Runs n VNPAY payments FAULTnn (approved) and waits until the simulator is idle. */
static void run_batch(const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char ref[32];
        char loc[4096];
        (void)snprintf(ref, sizeof(ref), "%s%02d", prefix, i);
        vn_pay(ref, 10000 + i, true, 900, loc, sizeof(loc));
    }
    for (int i = 0; i < 200; i++) {
        struct th_resp r;
        assert_int_equal(http("GET", "/_stats", NULL, NULL, &r), 200);
        json_t *j = json_loads(r.body, 0, NULL);
        long long busy = json_integer_value(json_object_get(j, "in_progress"));
        json_decref(j);
        th_resp_release(&r);
        if (busy == 0) {
            break;
        }
        usleep(50 * 1000);
    }
}

/* The callbacks received per ref of a batch, as a string "n,n,n...". */
static void batch_counts(const char *prefix, int n, char *out, size_t cap)
{
    size_t o = 0;
    for (int i = 0; i < n && o < cap; i++) {
        char ref[32];
        (void)snprintf(ref, sizeof(ref), "%s%02d", prefix, i);
        o += (size_t)snprintf(out + o, cap - o, "%d,", count_ref('v', ref, false));
    }
}

/* Drop and duplicate with seed 99, twice from the same seed: the same outcome per payment. */
static void test_faults_same_seed_same_faults(void **state)
{
    (void)state;
    const char *doc = "{\"seed\":99,\"vnpay\":{\"drop\":0.3,"
                      "\"duplicate\":{\"p\":0.5,\"min\":1,\"max\":10}}}";
    long long dropped0 = stat_of("vnpay", "dropped");
    long long dup0 = stat_of("vnpay", "duplicated");
    set_faults(doc);
    run_batch("FA", 30);
    char first[256];
    char second[256];
    batch_counts("FA", 30, first, sizeof(first));
    long long dropped = stat_of("vnpay", "dropped") - dropped0;
    long long dup = stat_of("vnpay", "duplicated") - dup0;
    int total = 0;
    int zeros = 0;
    for (int i = 0; i < 30; i++) {
        char ref[32];
        (void)snprintf(ref, sizeof(ref), "FA%02d", i);
        int c = count_ref('v', ref, false);
        total += c;
        zeros += c == 0;
        assert_true(c <= 11);
    }
    assert_int_equal(zeros, dropped);
    assert_int_equal(total, 30 - dropped + dup);
    assert_true(dropped > 0 && dup > 0);
    /* The same seed again, the same payments (other refs, same order): the same faults. */
    set_faults(doc);
    run_batch("FB", 30);
    batch_counts("FB", 30, second, sizeof(second));
    assert_string_equal(first, second);
    set_faults("{\"reset\":true}");
}

static void test_faults_reorder_delay_late(void **state)
{
    (void)state;
    /* Reorder: ten callbacks held, then released shuffled. */
    set_faults("{\"seed\":7,\"vnpay\":{\"reorder\":{\"window\":10,\"hold_ms\":5000}}}");
    run_batch("RO", 10);
    int order[10] = { 0 };
    int k = 0;
    pthread_mutex_lock(&mer.lock);
    for (int i = 0; i < mer.n && k < 10; i++) {
        if (strncmp(mer.r[i].ref, "RO", 2) == 0) {
            order[k++] = (int)strtol(mer.r[i].ref + 2, NULL, 10);
        }
    }
    pthread_mutex_unlock(&mer.lock);
    assert_int_equal(k, 10);
    bool identity = true;
    int seen_mask = 0;
    for (int i = 0; i < 10; i++) {
        assert_true(order[i] >= 0 && order[i] < 10);
        identity = identity && order[i] == i;
        seen_mask |= 1 << order[i];
    }
    assert_int_equal(seen_mask, 0x3ff);
    assert_false(identity);
    /* Delay: the browser is back at once, the IPN 400 ms later. */
    set_faults("{\"reset\":true,\"vnpay\":{\"delay_ms\":[400,400]}}");
    char loc[4096];
    int64_t t0 = now_ms();
    vn_pay("DELAY1", 10000, true, 900, loc, sizeof(loc));
    assert_int_equal(count_ref('v', "DELAY1", false), 0);
    assert_true(wait_count('v', "DELAY1", 1, WAIT_MS));
    struct record rec;
    assert_true(first_record('v', "DELAY1", true, &rec));
    assert_true(rec.at_ms - t0 >= 400);
    /* Late: the success is held until 500 ms after vnp_ExpireDate (2 s from now). */
    set_faults("{\"reset\":true,\"vnpay\":{\"late\":{\"p\":1,\"after_ms\":500}}}");
    time_t expire_s = time(NULL) + 2;
    vn_pay("LATE1", 10000, true, 2, loc, sizeof(loc));
    assert_true(wait_count('v', "LATE1", 1, WAIT_MS));
    assert_true(first_record('v', "LATE1", true, &rec));
    assert_true(rec.at_ms >= (int64_t)expire_s * 1000 + 500);
    assert_true(stat_of("vnpay", "late") >= 1);
    set_faults("{\"reset\":true}");
}

/* Forged and tampered callbacks are sent (and refused by the merchant), once each. */
static void test_faults_forged(void **state)
{
    (void)state;
    long long forged0 = stat_of("vnpay", "forged");
    set_faults("{\"reset\":true,\"vnpay\":{\"forge\":{\"p\":1,\"kind\":\"signature\"}},"
               "\"momo\":{\"forge\":{\"p\":1,\"kind\":\"amount\"}},"
               "\"zalopay\":{\"forge\":{\"p\":1,\"kind\":\"amount\"}}}");
    char loc[4096];
    vn_pay("FORGE1", 10000, true, 900, loc, sizeof(loc));
    assert_true(wait_count('v', "FORGE1", 2, WAIT_MS));
    char pay[512];
    struct th_resp r;
    assert_int_equal(mm_create("FORGEM1", 30000, pay, sizeof(pay)), 0);
    assert_int_equal(http("POST", pay, "application/x-www-form-urlencoded", "action=approve", &r),
                     303);
    th_resp_release(&r);
    char zref[48];
    assert_int_equal(zp_create("FORGEZ1", 40000, zref, pay, sizeof(pay)), 1);
    assert_int_equal(http("POST", pay, "application/x-www-form-urlencoded", "action=approve", &r),
                     303);
    th_resp_release(&r);
    assert_true(wait_count('m', "FORGEM1", 2, WAIT_MS));
    assert_true(wait_count('z', zref, 2, WAIT_MS));
    usleep(300 * 1000);
    struct record bad;
    assert_true(first_record('v', "FORGE1", false, &bad));
    assert_int_equal(bad.amount, 10000); /* a bad signature over the true fields */
    assert_true(first_record('m', "FORGEM1", false, &bad));
    assert_int_equal(bad.amount, 31000); /* tampered after signing */
    assert_true(first_record('z', zref, false, &bad));
    assert_int_equal(bad.amount, 41000);
    /* Refused, never retried; the genuine copy went through once. */
    assert_int_equal(count_ref('v', "FORGE1", false), 2);
    assert_int_equal(count_ref('m', "FORGEM1", false), 2);
    assert_int_equal(count_ref('z', zref, false), 2);
    assert_int_equal(stat_of("vnpay", "forged") - forged0, 1);
    assert_true(stat_of("momo", "forged") >= 1 && stat_of("zalopay", "forged") >= 1);
    set_faults("{\"reset\":true}");
}

static void test_faults_queries_and_create(void **state)
{
    (void)state;
    int status = 0;
    set_faults("{\"reset\":true,\"vnpay\":{\"query\":{\"fail\":1}}}");
    json_t *q = vn_querydr("VNOK1", &status);
    assert_int_equal(status, 503);
    json_decref(q);
    set_faults("{\"reset\":true,\"vnpay\":{\"query\":{\"slow_ms\":[400,400]}}}");
    int64_t t0 = now_ms();
    q = vn_querydr("VNOK1", &status);
    assert_int_equal(status, 200);
    assert_true(now_ms() - t0 >= 400);
    assert_true(vn_api_ok(q, vn_qresp, 15));
    json_decref(q);
    set_faults("{\"reset\":true,\"vnpay\":{\"query\":{\"timeout\":1,\"timeout_ms\":1200}}}");
    t0 = now_ms();
    q = vn_querydr("VNOK1", &status);
    assert_int_equal(status, 504); /* no answer within the client's patience */
    assert_true(now_ms() - t0 >= 1200);
    json_decref(q);
    assert_true(stat_of("vnpay", "api_timeout") >= 1);
    set_faults("{\"reset\":true,\"momo\":{\"create\":{\"fail\":1,\"mode\":\"error\"}},"
               "\"zalopay\":{\"create\":{\"fail\":1,\"mode\":\"5xx\"}}}");
    char pay[512];
    char ref[48];
    assert_int_equal(mm_create("CFAIL1", 30000, pay, sizeof(pay)), 99);
    assert_int_equal(zp_create("CFAIL2", 30000, ref, pay, sizeof(pay)), -503);
    assert_int_equal(stat_of("zalopay", "create_failed"), 1);
    set_faults("{\"reset\":true}");
    struct th_resp r;
    assert_int_equal(http("POST", "/_faults", NULL, "{\"vnpay\":{\"drop\":2}}", &r), 400);
    th_resp_release(&r);
}

/* ---- tests: statements ---- */

static void read_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    (void)fclose(f);
}

static void test_statements(void **state)
{
    (void)state;
    char today[26];
    gw_time_rfc3339_vn(time(NULL), today);
    today[10] = '\0';
    char path[128];
    (void)snprintf(path, sizeof(path), "/vnpay/statement?date=%s", today);
    struct th_resp r;
    assert_int_equal(http("GET", path, NULL, NULL, &r), 200);
    /* VNOK1: 200,000 VND at 110 bp = 2,200 VND fee; then the refund of 50,000. */
    static const char header[] = "vnp_TmnCode,vnp_TxnRef,vnp_TransactionNo,vnp_TransactionType,"
                                 "vnp_Amount,vnp_FeeAmount,vnp_PayDate,vnp_BankCode,"
                                 "vnp_TransactionStatus\r\n";
    assert_true(strncmp(r.body, header, sizeof(header) - 1) == 0);
    assert_non_null(strstr(r.body, VN_TMN ",VNOK1,"));
    assert_non_null(strstr(r.body, ",01,20000000,220000,"));
    assert_non_null(strstr(r.body, ",03,5000000,0,"));
    assert_null(strstr(r.body, "VNNO1")); /* declined: not in the statement */
    char vn[65536];
    (void)snprintf(vn, sizeof(vn), "%s", r.body);
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/momo/statement?date=%s", today);
    assert_int_equal(http("GET", path, NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "MOMO,MMOK1,4088"));
    assert_non_null(strstr(r.body, ",payment,,,150000,2250,"));
    assert_non_null(strstr(r.body, "MOMO,MMRF1,5088"));
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/zalopay/statement?date=%s", today);
    assert_int_equal(http("GET", path, NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"amount\":300000,\"fee_amount\":3750,"));
    assert_non_null(strstr(r.body, "{\"type\":\"refund\",\"app_id\":2553,"));
    th_resp_release(&r);
    assert_int_equal(http("GET", "/vnpay/statement?date=2024-02-30", NULL, NULL, &r), 400);
    th_resp_release(&r);
    /* Another day: only the header. */
    assert_int_equal(http("GET", "/vnpay/statement?date=2024-01-15", NULL, NULL, &r), 200);
    assert_null(strstr(r.body, "\r\n" VN_TMN));
    th_resp_release(&r);
    /* Closing the day writes the same bytes. */
    (void)snprintf(path, sizeof(path), "/_statements/close?date=%s", today);
    assert_int_equal(http("POST", path, NULL, "", &r), 200);
    th_resp_release(&r);
    char file[256];
    char got[65536];
    (void)snprintf(file, sizeof(file), "%s/vnpay-%s.csv", stmt_dir, today);
    read_file(file, got, sizeof(got));
    assert_string_equal(got, vn);
    (void)snprintf(file, sizeof(file), "%s/zalopay-%s.jsonl", stmt_dir, today);
    read_file(file, got, sizeof(got));
    assert_non_null(strstr(got, "\"type\":\"payment\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vnpay_vector_and_bad_hash),
        cmocka_unit_test(test_vnpay_flow),
        cmocka_unit_test(test_vnpay_retries),
        cmocka_unit_test(test_momo_flow),
        cmocka_unit_test(test_momo_query_refund_retry),
        cmocka_unit_test(test_zalopay_flow),
        cmocka_unit_test(test_faults_same_seed_same_faults),
        cmocka_unit_test(test_faults_reorder_delay_late),
        cmocka_unit_test(test_faults_forged),
        cmocka_unit_test(test_faults_queries_and_create),
        cmocka_unit_test(test_statements),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
