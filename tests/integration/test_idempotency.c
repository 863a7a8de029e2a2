/* Idempotency under concurrency, and the protobuf form of the API. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "feegate.pb-c.h"
#include "it.h"

#define RACERS 20

struct racer {
    pthread_t thread;
    const char *body;
    const char *key;
    int status;
    char answer[4096];
    bool replayed;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct th_resp resp;
    if (th_portal("POST", "/v1/payments", r->body, r->key, &resp) == GW_OK) {
        r->status = resp.status;
        (void)snprintf(r->answer, sizeof(r->answer), "%s", resp.body);
        r->replayed = th_resp_header(&resp, "Idempotent-Replayed") != NULL;
    }
    th_resp_release(&resp);
    return NULL;
}

static void test_twenty_concurrent_creates_one_key(void **state)
{
    (void)state;
    char ref[48];
    char key[64];
    char body[1024];
    (void)snprintf(ref, sizeof(ref), "IDEM-%ld", (long)time(NULL));
    (void)snprintf(key, sizeof(key), "idem-%ld", (long)time(NULL));
    it_create_body(body, sizeof(body), ref);
    static struct racer racers[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (struct racer){ .body = body, .key = key };
        assert_int_equal(pthread_create(&racers[i].thread, NULL, race, &racers[i]), 0);
    }
    int replayed = 0;
    for (int i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(racers[i].thread, NULL), 0);
        assert_int_equal(racers[i].status, 201);
        assert_string_equal(racers[i].answer, racers[0].answer);
        replayed += racers[i].replayed;
    }
    assert_int_equal(replayed, RACERS - 1);
    char sql[200];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM feegate.payments WHERE order_ref = '%s'",
                   ref);
    assert_int_equal(th_sql_int(&it.db, sql), 1);
    /* A later retry gets the same bytes too. */
    struct racer again = { .body = body, .key = key };
    race(&again);
    assert_int_equal(again.status, 201);
    assert_string_equal(again.answer, racers[0].answer);
    it_assert_ledger_ok();
}

static void test_protobuf_create_and_get(void **state)
{
    (void)state;
    char name[] = "Tr\xe1\xba\xa7n Th\xe1\xbb\x8b B\xc3\xacnh";
    char fee[] = "LLTP";
    char agency[] = "STP-HN";
    Feegate__V1__Payer payer = FEEGATE__V1__PAYER__INIT;
    payer.name = name;
    Feegate__V1__Item item = FEEGATE__V1__ITEM__INIT;
    item.fee_code = fee;
    item.amount_vnd = 200000;
    Feegate__V1__Item *items[1] = { &item };
    Feegate__V1__CreatePaymentRequest req = FEEGATE__V1__CREATE_PAYMENT_REQUEST__INIT;
    char ref[48];
    (void)snprintf(ref, sizeof(ref), "PB-%ld", (long)time(NULL));
    req.order_ref = ref;
    req.agency_code = agency;
    req.payer = &payer;
    req.n_items = 1;
    req.items = items;
    req.amount_vnd = 200000;
    uint8_t buf[1024];
    size_t len = feegate__v1__create_payment_request__pack(&req, buf);
    /* th_portal_send signs a NUL-terminated body; the binary body is signed by hand. */
    char ts[24];
    (void)snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
    char body_hash[GW_SHA256_HEX_BYTES];
    gw_sha256_hex(buf, len, body_hash);
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "POST\n/v1/payments\n%s\n%s", ts, body_hash);
    char sig[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(TH_CLIENT_A_SECRET, strlen(TH_CLIENT_A_SECRET), msg, (size_t)n, sig);
    char h1[96];
    char h2[64];
    char h3[128];
    (void)snprintf(h1, sizeof(h1), "X-Feegate-Client: %s", TH_CLIENT_A_ID);
    (void)snprintf(h2, sizeof(h2), "X-Feegate-Timestamp: %s", ts);
    (void)snprintf(h3, sizeof(h3), "X-Feegate-Signature: v1=%s", sig);
    const char *const all[] = { "Content-Type: application/x-protobuf", h1, h2, h3, NULL };
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/v1/payments", it.gw.url);
    struct th_resp r;
    assert_int_equal(th_http("POST", url, all, (const char *)buf, len, &r), GW_OK);
    if (r.status != 201) {
        fprintf(stderr, "protobuf create: %d %s\n", r.status, r.body);
    }
    assert_int_equal(r.status, 201);
    assert_non_null(r.content_type);
    assert_non_null(strstr(r.content_type, "application/x-protobuf"));
    Feegate__V1__Payment *p =
        feegate__v1__payment__unpack(NULL, r.body_len, (const uint8_t *)r.body);
    assert_non_null(p);
    assert_string_equal(p->order_ref, ref);
    assert_string_equal(p->status, "created");
    assert_int_equal(p->amount_vnd, 200000);
    assert_int_equal(p->n_items, 1);
    assert_string_equal(p->payer->name, payer.name);
    feegate__v1__payment__free_unpacked(p, NULL);
    th_resp_release(&r);
    /* Garbage protobuf is a 400 and writes nothing. */
    long long before = th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments");
    const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
    gw_sha256_hex(junk, sizeof(junk), body_hash);
    n = snprintf(msg, sizeof(msg), "POST\n/v1/payments\n%s\n%s", ts, body_hash);
    gw_hmac_sha256_hex(TH_CLIENT_A_SECRET, strlen(TH_CLIENT_A_SECRET), msg, (size_t)n, sig);
    (void)snprintf(h3, sizeof(h3), "X-Feegate-Signature: v1=%s", sig);
    assert_int_equal(th_http("POST", url, all, (const char *)junk, sizeof(junk), &r), GW_OK);
    assert_int_equal(r.status, 400);
    th_resp_release(&r);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments"), before);
}

static int setup(void **state)
{
    (void)state;
    return it_start(NULL, NULL);
}

static int teardown(void **state)
{
    (void)state;
    return it_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twenty_concurrent_creates_one_key),
        cmocka_unit_test(test_protobuf_create_and_get),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
