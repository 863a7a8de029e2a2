/* A signed request is accepted once (docs/api.md, "Replayed requests"): a captured create,
 * cancel, refund, webhook replay or finance action sent again within its timestamp window is
 * refused 409 request_replayed and changes nothing, also when the copies reach two gateway
 * processes on one database, also when they race; a portal's retry, signed anew with the same
 * Idempotency-Key, gets the original answer; GETs are not remembered; expired signatures are
 * purged by the client-list refresh. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "it.h"

static struct th_gateway gw2; /* a second `feegate serve` on the same database */

#define STAFF_SECRET "clerk-rp-secret-3f9a1c7e5b2d"

static long long count(const char *table)
{
    char sql[128];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM feegate.%s", table);
    return th_sql_int(&it.db, sql);
}

static void expect_replayed(struct th_resp *r, const char *what)
{
    if (r->status != 409 || strstr(r->body, "\"request_replayed\"") == NULL) {
        fprintf(stderr, "%s: expected 409 request_replayed, got %d %s\n", what, r->status, r->body);
    }
    assert_int_equal(r->status, 409);
    assert_non_null(strstr(r->body, "\"request_replayed\""));
}

/* The same signed request (fixed timestamp) sent to gateway url. */
static void send_at(const char *url, const struct th_portal_req *req, struct th_resp *r)
{
    th_portal_use(url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    assert_int_equal(th_portal_send(req, r), GW_OK);
    th_portal_use(it.gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
}

/* req (sent already, with a fixed timestamp) again with its signature's hex in upper case:
 * the check ignores the case, so this is no new request either. */
static void replay_upper_case(const struct th_portal_req *req)
{
    char sig[TH_SIGNATURE_BYTES];
    char ts_text[32];
    (void)snprintf(ts_text, sizeof(ts_text), "%lld", req->timestamp);
    th_portal_signature(req->method, req->path, ts_text, req->body, sig);
    static const char hex_lower[] = "0123456789abcdef";
    static const char hex_upper[] = "0123456789ABCDEF";
    for (char *p = sig + 3; *p != '\0'; p++) {
        const char *at = strchr(hex_lower, *p);
        if (at != NULL) {
            *p = hex_upper[at - hex_lower];
        }
    }
    struct th_portal_req upper = *req;
    upper.signature = sig;
    struct th_resp r;
    assert_int_equal(th_portal_send(&upper, &r), GW_OK);
    expect_replayed(&r, "create sent twice, its signature in upper case");
    th_resp_release(&r);
}

static void test_create_replayed_refused_retry_replayed(void **state)
{
    (void)state;
    char body[1024];
    char ref[48];
    (void)snprintf(ref, sizeof(ref), "RP-1-%ld", (long)time(NULL));
    it_create_body(body, sizeof(body), ref);
    long long ts = (long long)time(NULL);
    struct th_portal_req req = { .method = "POST",
                                 .path = "/v1/payments",
                                 .body = body,
                                 .idem_key = "replay-key-1",
                                 .timestamp = ts };
    struct th_resp first;
    assert_int_equal(th_portal_send(&req, &first), GW_OK);
    assert_int_equal(first.status, 201);
    long long payments = count("payments");
    long long keys = count("idempotency");
    long long sigs = count("request_signatures");
    /* The captured bytes again: refused, even with the unsigned Idempotency-Key changed. */
    struct th_resp r;
    assert_int_equal(th_portal_send(&req, &r), GW_OK);
    expect_replayed(&r, "create sent twice");
    th_resp_release(&r);
    req.idem_key = "replay-key-other";
    assert_int_equal(th_portal_send(&req, &r), GW_OK);
    expect_replayed(&r, "create sent twice with another key");
    th_resp_release(&r);
    replay_upper_case(&req);
    assert_int_equal(count("payments"), payments);
    assert_int_equal(count("idempotency"), keys);
    assert_int_equal(count("request_signatures"), sigs);
    /* The portal's retry after a lost answer: signed anew, the same key: the first answer. */
    req.idem_key = "replay-key-1";
    req.timestamp = ts - 1;
    assert_int_equal(th_portal_send(&req, &r), GW_OK);
    assert_int_equal(r.status, 201);
    assert_non_null(th_resp_header(&r, "Idempotent-Replayed"));
    assert_string_equal(r.body, first.body);
    th_resp_release(&r);
    th_resp_release(&first);
    assert_int_equal(count("payments"), payments);
    /* The retry was a signed request too: its own copy is refused. */
    assert_int_equal(th_portal_send(&req, &r), GW_OK);
    expect_replayed(&r, "the retry sent twice");
    th_resp_release(&r);
}

static void test_replay_at_another_gateway(void **state)
{
    (void)state;
    char body[1024];
    char ref[48];
    (void)snprintf(ref, sizeof(ref), "RP-2-%ld", (long)time(NULL));
    it_create_body(body, sizeof(body), ref);
    struct th_portal_req req = { .method = "POST",
                                 .path = "/v1/payments",
                                 .body = body,
                                 .idem_key = "replay-key-2",
                                 .timestamp = (long long)time(NULL) };
    struct th_resp r;
    send_at(it.gw.url, &req, &r);
    assert_int_equal(r.status, 201);
    th_resp_release(&r);
    long long payments = count("payments");
    send_at(gw2.url, &req, &r);
    expect_replayed(&r, "create replayed at the second gateway");
    th_resp_release(&r);
    assert_int_equal(count("payments"), payments);
}

/* Copies of one signed request raced at both gateways at once. */
struct racer {
    pthread_t thread;
    char url[160];
    const char *const *headers;
    const char *body;
    int status;
};

static void *race(void *arg)
{
    struct racer *rc = arg;
    struct th_resp r;
    rc->status = th_http("POST", rc->url, rc->headers, rc->body, strlen(rc->body), &r) == GW_OK
                     ? r.status
                     : -1;
    th_resp_release(&r);
    return NULL;
}

#define RACERS 8

static void test_replays_raced_at_two_gateways(void **state)
{
    (void)state;
    char body[1024];
    char ref[48];
    (void)snprintf(ref, sizeof(ref), "RP-3-%ld", (long)time(NULL));
    it_create_body(body, sizeof(body), ref);
    char ts[32];
    (void)snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
    char sig[TH_SIGNATURE_BYTES];
    th_portal_signature("POST", "/v1/payments", ts, body, sig);
    char h_client[96];
    char h_ts[64];
    char h_sig[128];
    char h_key[96];
    (void)snprintf(h_client, sizeof(h_client), "X-Feegate-Client: %s", TH_CLIENT_A_ID);
    (void)snprintf(h_ts, sizeof(h_ts), "X-Feegate-Timestamp: %s", ts);
    (void)snprintf(h_sig, sizeof(h_sig), "X-Feegate-Signature: %s", sig);
    (void)snprintf(h_key, sizeof(h_key), "Idempotency-Key: race-%s", ref);
    const char *const headers[] = {
        "Content-Type: application/json", h_client, h_ts, h_sig, h_key, NULL
    };
    long long payments = count("payments");
    struct racer racers[RACERS];
    for (int i = 0; i < RACERS; i++) {
        (void)snprintf(racers[i].url, sizeof(racers[i].url), "%s/v1/payments",
                       i % 2 == 0 ? it.gw.url : gw2.url);
        racers[i].headers = headers;
        racers[i].body = body;
        racers[i].status = 0;
        assert_int_equal(pthread_create(&racers[i].thread, NULL, race, &racers[i]), 0);
    }
    int created = 0;
    int replayed = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(racers[i].thread, NULL), 0);
        created += racers[i].status == 201;
        replayed += racers[i].status == 409;
    }
    assert_int_equal(created, 1);
    assert_int_equal(replayed, RACERS - 1);
    assert_int_equal(count("payments"), payments + 1);
}

static void test_cancel_refund_and_webhook_replay_replayed(void **state)
{
    (void)state;
    char open_id[40];
    char paid_id[40];
    it_create(open_id);
    it_create(paid_id);
    char location[1024];
    char merchant_ref[48];
    it_checkout(paid_id, location, sizeof(location), merchant_ref);
    char answer[256];
    (void)it_callback(merchant_ref, 200000, "succeeded", "SBX-RP", TH_SANDBOX_SECRET, answer,
                      sizeof(answer));
    long long ts = (long long)time(NULL);
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", open_id);
    struct th_portal_req cancel = {
        .method = "POST", .path = path, .idem_key = "rp-cancel", .timestamp = ts
    };
    struct th_resp r;
    assert_int_equal(th_portal_send(&cancel, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    long long events = count("payment_events");
    send_at(gw2.url, &cancel, &r);
    expect_replayed(&r, "cancel replayed");
    th_resp_release(&r);
    assert_int_equal(count("payment_events"), events);
    char rpath[128];
    (void)snprintf(rpath, sizeof(rpath), "/v1/payments/%s/refunds", paid_id);
    struct th_portal_req refund = { .method = "POST",
                                    .path = rpath,
                                    .body = "{\"amount_vnd\":20000}",
                                    .idem_key = "rp-refund",
                                    .timestamp = ts };
    assert_int_equal(th_portal_send(&refund, &r), GW_OK);
    assert_int_equal(r.status, 201);
    th_resp_release(&r);
    long long refunds = count("refunds");
    refund.idem_key = "rp-refund-2"; /* a second refund of the same amount, by a replay */
    send_at(gw2.url, &refund, &r);
    expect_replayed(&r, "refund replayed");
    th_resp_release(&r);
    assert_int_equal(count("refunds"), refunds);
    /* A webhook replay request is remembered as well (it re-sends, it moves no money). */
    struct th_portal_req hooks = { .method = "POST",
                                   .path = "/v1/webhooks/replay",
                                   .body = "{\"from\":\"2026-01-01T00:00:00+07:00\","
                                           "\"to\":\"2026-01-02T00:00:00+07:00\"}",
                                   .timestamp = ts };
    assert_int_equal(th_portal_send(&hooks, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    assert_int_equal(th_portal_send(&hooks, &r), GW_OK);
    expect_replayed(&r, "webhook replay replayed");
    th_resp_release(&r);
    it_assert_ledger_ok();
}

/* Reads are not remembered: the same signed GET twice answers twice, writes no row. */
static void test_get_not_remembered(void **state)
{
    (void)state;
    char id[40];
    it_create(id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s", id);
    long long sigs = count("request_signatures");
    struct th_portal_req get = { .method = "GET",
                                 .path = path,
                                 .timestamp = (long long)time(NULL) };
    for (int i = 0; i < 2; i++) {
        struct th_resp r;
        send_at(i == 0 ? it.gw.url : gw2.url, &get, &r);
        assert_int_equal(r.status, 200);
        th_resp_release(&r);
    }
    assert_int_equal(count("request_signatures"), sigs);
}

/* A signature whose window is over is deleted by the client-list refresh (SIGHUP runs it at
 * once); one still in its window stays. */
static void test_expired_signatures_purged(void **state)
{
    (void)state;
    assert_int_equal(th_sql_exec(&it.db, "INSERT INTO feegate.request_signatures VALUES "
                                         "('portal-a', 'v1=expired-test', now() - interval '1 s')"),
                     GW_OK);
    long long live = th_sql_int(&it.db, "SELECT count(*) FROM feegate.request_signatures "
                                        "WHERE expires_at > now() + interval '60 s'");
    assert_true(live > 0);
    assert_int_equal(kill(it.gw.proc.pid, SIGHUP), 0);
    long long left = 1;
    for (int i = 0; i < 500 && left != 0; i++) { /* bounded: 10 s */
        usleep(20000);
        left = th_sql_int(&it.db, "SELECT count(*) FROM feegate.request_signatures "
                                  "WHERE signature = 'v1=expired-test'");
    }
    assert_int_equal(left, 0);
    assert_true(th_sql_int(&it.db, "SELECT count(*) FROM feegate.request_signatures "
                                   "WHERE expires_at > now() + interval '60 s'") >= live);
}

static int setup(void **state)
{
    (void)state;
    if (it_start(NULL, NULL) != 0) {
        return -1;
    }
    if (th_gateway_start(&gw2, &it.db, &it.bs) != GW_OK) {
        return -1;
    }
    th_portal_use(it.gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = th_gateway_stop(&gw2) == GW_OK ? 0 : -1;
    return it_stop() == 0 ? rc : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_replayed_refused_retry_replayed),
        cmocka_unit_test(test_replay_at_another_gateway),
        cmocka_unit_test(test_replays_raced_at_two_gateways),
        cmocka_unit_test(test_cancel_refund_and_webhook_replay_replayed),
        cmocka_unit_test(test_get_not_remembered),
        cmocka_unit_test(test_expired_signatures_purged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
