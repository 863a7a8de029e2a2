/* VNPAY, MoMo and ZaloPay end to end: the gateway and feegate-banksim with every provider's
 * credentials, a browser-style payment through each (create, /pay, the provider's page,
 * approve, callback, return page), refunds (20 concurrent partial refunds never exceed what
 * was paid; a full refund; idempotency), and the fault tests: duplicated and shuffled
 * callbacks (FAULT_PAYMENTS payments, 1,000 by default), dropped callbacks resolved by query,
 * forged and tampered callbacks rejected, a late success booked. `feegate ledger check` after
 * each. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "it.h"

#ifndef FAULT_PAYMENTS
#define FAULT_PAYMENTS 1000
#endif
#define DRIVERS 6

#define VN_TMN     "FGTEST01"
#define VN_SECRET  "vnp-test-secret-6b1d9a"
#define MM_PARTNER "MOMOFG01"
#define MM_ACCESS  "mm-access-3c7a"
#define MM_SECRET  "mm-secret-key-0e4f51"
#define ZP_APP     "2553"
#define ZP_KEY1    "zp-key1-9d2c7b"
#define ZP_KEY2    "zp-key2-41e8a0"

static const char *const channels[3] = { "vnpay", "momo", "zalopay" };

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
        port = ntohs(sa.sin_port);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    return port;
}

static char ini[2048];

static int setup(void **state)
{
    (void)state;
    memset(&it, 0, sizeof(it));
    if (th_db_start(&it.db) != GW_OK) {
        return -1;
    }
    it.gw.port = free_port();
    char ipn[96];
    (void)snprintf(ipn, sizeof(ipn), "http://127.0.0.1:%d/ipn/vnpay", it.gw.port);
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
        "20261125",
        "--callback-interval-ms",
        "100",
        NULL,
    };
    if (th_banksim_start_args(&it.bs, args) != GW_OK) {
        return -1;
    }
    const char *u = it.bs.url;
    (void)snprintf(ini, sizeof(ini),
                   "[channel.vnpay]\nmerchant_id = %s\nsecret = %s\n"
                   "endpoint_url = %s/vnpay/paymentv2/vpcpay.html\n"
                   "api_url = %s/vnpay/merchant_webapi/api/transaction\n"
                   "[channel.momo]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/momo/v2/gateway/api\n"
                   "[channel.zalopay]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/zalopay\n",
                   VN_TMN, VN_SECRET, u, u, MM_PARTNER, MM_SECRET, MM_ACCESS, u, ZP_APP, ZP_KEY1,
                   ZP_KEY2, u);
    it.gw.ini_extra = ini;
    if (th_gateway_start(&it.gw, &it.db, &it.bs) != GW_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return it_stop();
}

static void faults(const char *json)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/_faults", it.bs.url);
    static const char *const hdrs[] = { "Content-Type: application/json", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, json, strlen(json), &r), GW_OK);
    if (r.status != 200) {
        fprintf(stderr, "faults answered %d: %s\n", r.status, r.body);
    }
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
}

/* POST /pay/{id} channel=ch: the provider's page URL. */
static bool checkout(const char *id, const char *ch, char *location, size_t cap)
{
    char url[160];
    char body[64];
    (void)snprintf(url, sizeof(url), "%s/pay/%s", it.gw.url, id);
    int n = snprintf(body, sizeof(body), "channel=%s", ch);
    static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    if (th_http("POST", url, hdrs, body, (size_t)n, &r) != GW_OK || r.status != 303 ||
        r.location == NULL || strncmp(r.location, it.bs.url, strlen(it.bs.url)) != 0) {
        fprintf(stderr, "checkout %s answered %d: %.300s %s\n", ch, r.status, r.body,
                r.location != NULL ? r.location : "");
        th_resp_release(&r);
        return false;
    }
    (void)snprintf(location, cap, "%s", r.location);
    th_resp_release(&r);
    return true;
}

/* The provider's page, then the payer's decision; returns where the browser goes next. */
static bool bank_decide(const char *location, const char *action, char *next, size_t cap)
{
    struct th_resp r;
    if (th_http("GET", location, NULL, NULL, 0, &r) != GW_OK || r.status != 200) {
        fprintf(stderr, "provider page answered %d: %.300s\n", r.status, r.body);
        th_resp_release(&r);
        return false;
    }
    th_resp_release(&r);
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    char body[32];
    int n = snprintf(body, sizeof(body), "action=%s", action);
    if (th_http("POST", location, form, body, (size_t)n, &r) != GW_OK || r.status != 303 ||
        r.location == NULL) {
        fprintf(stderr, "decision answered %d: %.300s\n", r.status, r.body);
        th_resp_release(&r);
        return false;
    }
    (void)snprintf(next, cap, "%s", r.location);
    th_resp_release(&r);
    return true;
}

static long long sql_count(const char *fmt, ...) GW_PRINTF(1, 2);

static long long sql_count(const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return th_sql_int(&it.db, sql);
}

static void wait_status(const char *id, const char *want, int max_ms)
{
    char status[32] = "";
    for (int waited = 0; waited <= max_ms; waited += 100) {
        it_status(id, status);
        if (strcmp(status, want) == 0) {
            return;
        }
        usleep(100 * 1000);
    }
    assert_string_equal(status, want);
}

/* A whole payment as a citizen's browser makes it, through channel ch. */
static void pay_through(const char *ch, char id[40])
{
    char location[2048];
    char back[2048];
    it_create(id);
    assert_true(checkout(id, ch, location, sizeof(location)));
    assert_true(bank_decide(location, "approve", back, sizeof(back)));
    char prefix[128];
    (void)snprintf(prefix, sizeof(prefix), "%s/return/%s", it.gw.url, ch);
    assert_true(strncmp(back, prefix, strlen(prefix)) == 0);
    struct th_resp r;
    assert_int_equal(th_http("GET", back, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    wait_status(id, "succeeded", 5000);
}

static void test_full_payment_each_provider(void **state)
{
    (void)state;
    for (int c = 0; c < 3; c++) {
        char id[40];
        pay_through(channels[c], id);
        json_t *p = it_get(id);
        assert_string_equal(json_string_value(json_object_get(p, "channel")), channels[c]);
        assert_non_null(json_string_value(json_object_get(p, "provider_txn_id")));
        json_decref(p);
        assert_int_equal(sql_count("SELECT count(*) FROM feegate.journals WHERE payment_id = '%s' "
                                   "AND kind = 'payment_success'",
                                   id),
                         1);
        assert_int_equal(
            sql_count("SELECT count(*) FROM feegate.receipts WHERE payment_id = '%s'", id), 1);
    }
    it_assert_ledger_ok();
}

/* The checkout page offers every configured channel; a create that fails shows the page
 * again with the message and without that channel. */
static void test_create_failure_offers_others(void **state)
{
    (void)state;
    faults("{\"reset\":true,\"momo\":{\"create\":{\"fail\":1,\"mode\":\"error\"}}}");
    char id[40];
    it_create(id);
    char url[160];
    (void)snprintf(url, sizeof(url), "%s/pay/%s?lang=en", it.gw.url, id);
    static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, "channel=momo", 12, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Could not start the payment"));
    assert_null(strstr(r.body, "value=\"momo\""));
    assert_non_null(strstr(r.body, "value=\"zalopay\""));
    assert_non_null(strstr(r.body, "value=\"vnpay\""));
    th_resp_release(&r);
    faults("{\"reset\":true}");
    char location[2048];
    char back[2048];
    assert_true(checkout(id, "zalopay", location, sizeof(location)));
    assert_true(bank_decide(location, "approve", back, sizeof(back)));
    wait_status(id, "succeeded", 5000);
    it_assert_ledger_ok();
}

static void append_ini(const char *text)
{
    FILE *f = fopen(it.gw.ini_path, "a");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void reload(void)
{
    assert_int_equal(kill(it.gw.proc.pid, SIGHUP), 0);
    usleep(500 * 1000);
}

static void page(const char *path, struct th_resp *r)
{
    char url[200];
    (void)snprintf(url, sizeof(url), "%s%s", it.gw.url, path);
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, r), GW_OK);
    assert_int_equal(r->status, 200);
}

/* SIGHUP re-reads feegate.ini: a maintenance window hides a channel at once, and its removal
 * brings it back; /metrics shows it. */
static void test_sighup_maintenance(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(stat(it.gw.ini_path, &st), 0);
    off_t size = st.st_size;
    /* the last section of the file is [channel.zalopay] */
    append_ini("maintenance = daily 00:00-12:00, daily 12:00-00:00\n");
    reload();
    char id[40];
    it_create(id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/pay/%s", id);
    struct th_resp r;
    page(path, &r);
    assert_null(strstr(r.body, "value=\"zalopay\""));
    assert_non_null(strstr(r.body, "value=\"momo\""));
    th_resp_release(&r);
    page("/metrics", &r);
    assert_non_null(strstr(r.body, "feegate_channel_in_maintenance{channel=\"zalopay\"} 1"));
    assert_non_null(strstr(r.body, "feegate_channel_up{channel=\"zalopay\",loop=\"0\"} 0"));
    th_resp_release(&r);
    char url[160];
    (void)snprintf(url, sizeof(url), "%s/pay/%s?lang=en", it.gw.url, id);
    static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    assert_int_equal(th_http("POST", url, hdrs, "channel=zalopay", 15, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Could not start the payment"));
    th_resp_release(&r);
    assert_int_equal(truncate(it.gw.ini_path, size), 0);
    reload();
    page(path, &r);
    assert_non_null(strstr(r.body, "value=\"zalopay\""));
    th_resp_release(&r);
    /* a file that does not parse changes nothing */
    append_ini("maintenance = Sunday 01:00-02:00\n");
    reload();
    page(path, &r);
    assert_non_null(strstr(r.body, "value=\"zalopay\""));
    th_resp_release(&r);
    assert_int_equal(truncate(it.gw.ini_path, size), 0);
}

/* ---- refunds ---- */

struct refund_arg {
    const char *id;
    int n;
    int status;
};

static void *refund_thread(void *p)
{
    struct refund_arg *a = p;
    char path[96];
    char key[64];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/refunds", a->id);
    (void)snprintf(key, sizeof(key), "rf-%s-%d", a->id + 4, a->n);
    struct th_resp r;
    const char *body = "{\"amount_vnd\":15000,\"reason\":\"partial\"}";
    if (th_portal("POST", path, body, key, &r) == GW_OK) {
        a->status = r.status;
    }
    th_resp_release(&r);
    return NULL;
}

static void test_concurrent_partial_refunds(void **state)
{
    (void)state;
    char id[40];
    pay_through("zalopay", id);
    pthread_t t[20];
    struct refund_arg args[20];
    for (int i = 0; i < 20; i++) {
        args[i] = (struct refund_arg){ .id = id, .n = i, .status = 0 };
        assert_int_equal(pthread_create(&t[i], NULL, refund_thread, &args[i]), 0);
    }
    int ok = 0;
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        ok += args[i].status == 201;
        refused += args[i].status == 409;
    }
    assert_int_equal(ok + refused, 20);
    assert_int_equal(ok, 13); /* 13 x 15,000 <= 200,000 < 14 x 15,000 */
    long long refunded = sql_count("SELECT refunded_vnd FROM feegate.payments WHERE id = '%s'", id);
    assert_int_equal(refunded, 195000);
    assert_true(sql_count("SELECT coalesce(sum(-p.amount_vnd), 0) FROM feegate.journals j JOIN "
                          "feegate.postings p ON p.journal_id = j.id WHERE j.payment_id = '%s' "
                          "AND p.amount_vnd < 0 AND j.kind LIKE 'refund_%%settlement'",
                          id) == 195000);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "partially_refunded");
    it_assert_ledger_ok();
}

/* One member of a JSON object as text (strings unquoted, integers in decimal). */
static const char *json_field(const char *body, const char *key)
{
    static char out[128];
    json_t *j = json_loads(body, 0, NULL);
    const json_t *v = json_object_get(j, key);
    if (json_is_string(v)) {
        (void)snprintf(out, sizeof(out), "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        (void)snprintf(out, sizeof(out), "%lld", (long long)json_integer_value(v));
    } else {
        out[0] = '\0';
    }
    json_decref(j);
    return out;
}

static void test_full_refund_idempotent(void **state)
{
    (void)state;
    char id[40];
    pay_through("momo", id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/refunds", id);
    const char *body = "{\"amount_vnd\":200000,\"reason\":\"duplicate payment\"}";
    struct th_resp r;
    assert_int_equal(th_portal("POST", path, body, "full-1", &r), GW_OK);
    assert_int_equal(r.status, 201);
    assert_string_equal(json_field(r.body, "status"), "succeeded");
    char first[1024];
    (void)snprintf(first, sizeof(first), "%s", r.body);
    th_resp_release(&r);
    assert_int_equal(th_portal("POST", path, body, "full-1", &r), GW_OK);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, first);
    th_resp_release(&r);
    assert_int_equal(th_portal("POST", path, "{\"amount_vnd\":1000}", "full-2", &r), GW_OK);
    assert_int_equal(r.status, 409);
    th_resp_release(&r);
    assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_field(r.body, "refunded_vnd"), "200000");
    th_resp_release(&r);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "refunded");
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.outbox WHERE payment_id = '%s' AND "
                               "type = 'refund.succeeded'",
                               id),
                     1);
    it_assert_ledger_ok();
}

/* POST a refund of amount with key; returns the HTTP status, the refund's status in out. */
static int refund_post(const char *id, long long amount, const char *key, char out[32])
{
    char path[96];
    char body[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/refunds", id);
    (void)snprintf(body, sizeof(body), "{\"amount_vnd\":%lld,\"reason\":\"test\"}", amount);
    struct th_resp r;
    assert_int_equal(th_portal("POST", path, body, key, &r), GW_OK);
    int status = r.status;
    (void)snprintf(out, 32, "%s", json_field(r.body, "status"));
    th_resp_release(&r);
    return status;
}

/* The sandbox protocol's refund (docs/providers.md#sandbox-refund): a partial then a full refund,
 * booked and reported. */
static void test_sandbox_partial_then_full_refund(void **state)
{
    (void)state;
    char id[40];
    char st[32];
    pay_through("sandbox", id);
    assert_int_equal(refund_post(id, 50000, "sb-part", st), 201);
    assert_string_equal(st, "succeeded");
    it_status(id, st);
    assert_string_equal(st, "partially_refunded");
    assert_int_equal(refund_post(id, 150001, "sb-over", st), 409); /* more than is left */
    assert_int_equal(refund_post(id, 150000, "sb-rest", st), 201);
    assert_string_equal(st, "succeeded");
    it_status(id, st);
    assert_string_equal(st, "refunded");
    assert_int_equal(sql_count("SELECT refunded_vnd FROM feegate.payments WHERE id = '%s'", id),
                     200000);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s' AND "
                               "status = 'succeeded' AND provider_refund_id LIKE 'SR%%'",
                               id),
                     2);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.journals WHERE payment_id = '%s' AND "
                               "kind LIKE 'refund_%%settlement'",
                               id),
                     2);
    assert_int_equal(sql_count("SELECT coalesce(sum(-p.amount_vnd), 0) FROM feegate.journals j "
                               "JOIN feegate.postings p ON p.journal_id = j.id WHERE j.payment_id "
                               "= '%s' AND p.amount_vnd < 0 AND j.kind LIKE 'refund_%%settlement'",
                               id),
                     200000);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.outbox WHERE payment_id = '%s' AND "
                               "type = 'refund.succeeded'",
                               id),
                     2);
    it_assert_ledger_ok();
}

/* MoMo refunds, but its answer is lost (the call times out): the refund stays pending, never
 * failed, and the refund status query (a query of the refund's orderId) settles it. */
static void test_momo_lost_refund_answer_queried(void **state)
{
    (void)state;
    char id[40];
    char st[32];
    pay_through("momo", id);
    faults("{\"reset\":true,\"momo\":{\"query\":{\"timeout\":1,\"timeout_ms\":300}}}");
    assert_int_equal(refund_post(id, 80000, "mm-lost", st), 202);
    assert_string_equal(st, "pending");
    faults("{\"reset\":true}");
    it_status(id, st);
    assert_string_equal(st, "succeeded"); /* nothing booked while the outcome is unknown */
    assert_int_equal(sql_count("UPDATE feegate.refunds SET next_query_at = now() WHERE "
                               "payment_id = '%s' AND status = 'pending' RETURNING 1",
                               id),
                     1);
    wait_status(id, "partially_refunded", 10000);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s' AND "
                               "status = 'succeeded' AND queries = 1",
                               id),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refund_messages m JOIN "
                               "feegate.refunds f ON f.id = m.refund_id WHERE f.payment_id = '%s' "
                               "AND m.source = 'refund_query' AND m.outcome = 'accepted'",
                               id),
                     1);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refund_exceptions WHERE "
                               "payment_id = '%s'",
                               id),
                     0);
    it_assert_ledger_ok();
}

/* The same for VNPAY, which has no refund query of its own: querydr of the paid charge
 * reports the refund (type 03, status 00), and that settles it. */
static void test_vnpay_lost_refund_answer_queried(void **state)
{
    (void)state;
    char id[40];
    char st[32];
    pay_through("vnpay", id);
    faults("{\"reset\":true,\"vnpay\":{\"query\":{\"timeout\":1,\"timeout_ms\":300}}}");
    assert_int_equal(refund_post(id, 70000, "vn-lost", st), 202);
    assert_string_equal(st, "pending");
    faults("{\"reset\":true}");
    /* querydr could not tell two refunds apart: the next waits until this one is final. */
    assert_int_equal(refund_post(id, 10000, "vn-second", st), 409);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/refunds", id);
    struct th_resp r;
    assert_int_equal(th_portal("POST", path, "{\"amount_vnd\":10000}", "vn-second-b", &r), GW_OK);
    assert_int_equal(r.status, 409);
    assert_non_null(strstr(r.body, "\"refund_in_progress\""));
    th_resp_release(&r);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s'", id),
                     1);
    it_status(id, st);
    assert_string_equal(st, "succeeded"); /* nothing booked while the outcome is unknown */
    assert_int_equal(sql_count("UPDATE feegate.refunds SET next_query_at = now() WHERE "
                               "payment_id = '%s' AND status = 'pending' RETURNING 1",
                               id),
                     1);
    wait_status(id, "partially_refunded", 10000);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s' AND "
                               "status = 'succeeded' AND queries = 1 AND amount_vnd = 70000",
                               id),
                     1);
    assert_int_equal(refund_post(id, 10000, "vn-third", st), 201); /* now it may go */
    assert_int_equal(sql_count("SELECT refunded_vnd FROM feegate.payments WHERE id = '%s'", id),
                     80000);
    /* A later refund whose answer is lost: querydr might still be describing an earlier
     * refund of this payment, so it is not asked; it is listed for finance at once, and it
     * does not block the refunds after it. */
    faults("{\"reset\":true,\"vnpay\":{\"query\":{\"timeout\":1,\"timeout_ms\":300}}}");
    assert_int_equal(refund_post(id, 5000, "vn-fourth", st), 202);
    faults("{\"reset\":true}");
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s' AND "
                               "query_ambiguous",
                               id),
                     2);
    assert_int_equal(sql_count("UPDATE feegate.refunds SET next_query_at = now() WHERE "
                               "payment_id = '%s' AND status = 'pending' RETURNING 1",
                               id),
                     1);
    long long listed = 0;
    for (int i = 0; i < 200 && listed == 0; i++) {
        listed = sql_count("SELECT count(*) FROM feegate.refund_exceptions WHERE "
                           "payment_id = '%s'",
                           id);
        usleep(50 * 1000);
    }
    assert_int_equal(listed, 1);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s' AND "
                               "status = 'pending' AND exhausted AND queries = 0",
                               id),
                     1);
    assert_int_equal(sql_count("SELECT refunded_vnd FROM feegate.payments WHERE id = '%s'", id),
                     80000); /* nothing booked on a guess */
    assert_int_equal(refund_post(id, 5000, "vn-fifth", st), 201);
    assert_int_equal(sql_count("SELECT count(*) FROM feegate.refund_messages m JOIN "
                               "feegate.refunds f ON f.id = m.refund_id WHERE f.payment_id = '%s' "
                               "AND m.source = 'refund_query' AND m.outcome = 'accepted'",
                               id),
                     1);
    it_assert_ledger_ok();
}

/* ---- faults ---- */

struct driver {
    int first;
    int step;
    int total;
    int failures;
    char (*ids)[40];
};

/* POST /v1/payments from a driver thread (no cmocka asserts off the main thread). */
static bool create_quiet(char id[40], int n)
{
    static int seq;
    char ref[64];
    char body[1024];
    (void)snprintf(ref, sizeof(ref), "PV-%d-%d", getpid(),
                   __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    struct th_resp r;
    bool ok = th_portal("POST", "/v1/payments", it_create_body(body, sizeof(body), ref), NULL,
                        &r) == GW_OK &&
              r.status == 201;
    json_t *j = ok ? json_loads(r.body, 0, NULL) : NULL;
    const char *pid = json_string_value(json_object_get(j, "payment_id"));
    ok = pid != NULL && strlen(pid) == 36;
    if (ok) {
        memcpy(id, pid, 37);
    } else {
        fprintf(stderr, "create answered %d: %.300s\n", r.status, r.body);
    }
    json_decref(j);
    th_resp_release(&r);
    (void)n;
    return ok;
}

static void *drive(void *p)
{
    struct driver *d = p;
    for (int i = d->first; i < d->total; i += d->step) {
        char location[2048];
        if (!create_quiet(d->ids[i], i)) {
            d->failures++;
            continue;
        }
        if (!checkout(d->ids[i], channels[i % 3], location, sizeof(location))) {
            d->failures++;
            continue;
        }
        struct th_resp r; /* --auto is off: decide on the page */
        static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded",
                                            NULL };
        if (th_http("POST", location, form, "action=approve", 14, &r) != GW_OK || r.status != 303) {
            d->failures++;
        }
        th_resp_release(&r);
    }
    return NULL;
}

static void drive_payments(int n, char (*ids)[40])
{
    pthread_t t[DRIVERS];
    struct driver d[DRIVERS];
    for (int k = 0; k < DRIVERS; k++) {
        d[k] = (struct driver){ .first = k, .step = DRIVERS, .total = n, .ids = ids };
        assert_int_equal(pthread_create(&t[k], NULL, drive, &d[k]), 0);
    }
    int failures = 0;
    for (int k = 0; k < DRIVERS; k++) {
        assert_int_equal(pthread_join(t[k], NULL), 0);
        failures += d[k].failures;
    }
    assert_int_equal(failures, 0);
}

static long long count_success(void)
{
    return th_sql_int(&it.db,
                      "SELECT count(*) FROM feegate.journals WHERE kind = 'payment_success'");
}

/* The simulator's callbacks still running (held, delayed, retried). */
static long long sim_in_progress(void)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/_stats", it.bs.url);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    json_t *j = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    assert_non_null(j);
    long long n = json_integer_value(json_object_get(j, "in_progress"));
    json_decref(j);
    return n;
}

static void test_duplicated_shuffled_callbacks(void **state)
{
    (void)state;
    faults("{\"reset\":true,\"seed\":7,\"global\":{\"duplicate\":{\"p\":1,\"min\":1,\"max\":10},"
           "\"reorder\":{\"window\":20,\"hold_ms\":200}}}");
    long long before = count_success();
    char(*ids)[40] = calloc(FAULT_PAYMENTS, 40);
    assert_non_null(ids);
    drive_payments(FAULT_PAYMENTS, ids);
    for (int waited = 0;
         waited < 30000 && (sim_in_progress() > 0 || count_success() - before < FAULT_PAYMENTS);
         waited += 200) {
        usleep(200 * 1000);
    }
    assert_int_equal(sim_in_progress(), 0);
    assert_int_equal(count_success() - before, FAULT_PAYMENTS);
    /* exactly one success per payment, never two */
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM (SELECT payment_id FROM "
                                        "feegate.journals WHERE kind = 'payment_success' GROUP BY "
                                        "payment_id HAVING count(*) > 1) x"),
                     0);
    free(ids);
    faults("{\"reset\":true}");
    it_assert_ledger_ok();
}

static void test_dropped_callbacks_resolved_by_query(void **state)
{
    (void)state;
    faults("{\"reset\":true,\"global\":{\"drop\":1}}");

    enum {
        N = 30
    };

    char ids[N][40];
    drive_payments(N, ids);
    for (int i = 0; i < N; i++) {
        char status[32];
        it_status(ids[i], status);
        assert_string_equal(status, "pending");
    }
    assert_int_equal(th_sql_exec(&it.db, "UPDATE feegate.payment_attempts SET next_query_at = "
                                         "now() WHERE NOT final"),
                     GW_OK);
    for (int i = 0; i < N; i++) {
        wait_status(ids[i], "succeeded", 15000);
    }
    faults("{\"reset\":true}");
    it_assert_ledger_ok();
}

static void test_forged_callbacks_rejected(void **state)
{
    (void)state;
    faults("{\"reset\":true,\"global\":{\"forge\":{\"p\":1,\"kind\":\"both\"}}}");

    enum {
        N = 12
    };

    char ids[N][40];
    long long msgs = th_sql_int(&it.db, "SELECT count(*) FROM feegate.provider_messages");
    drive_payments(N, ids);
    for (int i = 0; i < N; i++) {
        wait_status(ids[i], "succeeded", 10000);
    }
    for (int waited = 0; waited < 10000 && sim_in_progress() > 0; waited += 100) {
        usleep(100 * 1000);
    }
    /* one genuine callback each; the forged copies changed nothing and left no evidence row */
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.provider_messages") - msgs,
                     N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(
            sql_count("SELECT count(*) FROM feegate.journals WHERE payment_id = '%s'", ids[i]), 1);
        assert_int_equal(
            sql_count("SELECT amount_vnd FROM feegate.payments WHERE id = '%s'", ids[i]), 200000);
    }
    faults("{\"reset\":true}");
    it_assert_ledger_ok();
}

/* The bank took the money, its callback was lost, the payment expired meanwhile: the query
 * finds the success, which is booked and marked late. */
static void test_late_success_booked(void **state)
{
    (void)state;
    faults("{\"reset\":true,\"global\":{\"drop\":1}}");
    char ids[3][40];
    drive_payments(3, ids);
    faults("{\"reset\":true}");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sql_count("UPDATE feegate.payments SET expires_at = now() - interval "
                                   "'1 second' WHERE id = '%s' RETURNING 1",
                                   ids[i]),
                         1);
        wait_status(ids[i], "expired", 10000);
    }
    assert_int_equal(th_sql_exec(&it.db, "UPDATE feegate.payment_attempts SET next_query_at = "
                                         "now() WHERE NOT final"),
                     GW_OK);
    for (int i = 0; i < 3; i++) {
        wait_status(ids[i], "succeeded", 15000);
        json_t *p = it_get(ids[i]);
        assert_true(json_is_true(json_object_get(p, "late")));
        json_decref(p);
        assert_int_equal(sql_count("SELECT count(*) FROM feegate.journals WHERE payment_id = '%s' "
                                   "AND kind = 'payment_success'",
                                   ids[i]),
                         1);
    }
    it_assert_ledger_ok();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_payment_each_provider),
        cmocka_unit_test(test_create_failure_offers_others),
        cmocka_unit_test(test_sighup_maintenance),
        cmocka_unit_test(test_concurrent_partial_refunds),
        cmocka_unit_test(test_full_refund_idempotent),
        cmocka_unit_test(test_sandbox_partial_then_full_refund),
        cmocka_unit_test(test_momo_lost_refund_answer_queried),
        cmocka_unit_test(test_vnpay_lost_refund_answer_queried),
        cmocka_unit_test(test_duplicated_shuffled_callbacks),
        cmocka_unit_test(test_dropped_callbacks_resolved_by_query),
        cmocka_unit_test(test_forged_callbacks_rejected),
        cmocka_unit_test(test_late_success_booked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
