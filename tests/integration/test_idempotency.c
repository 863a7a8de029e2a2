/* Idempotency under concurrency, and the protobuf form of the API. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The three signature headers of a protobuf create: th_portal_send signs a NUL-terminated
 * body, so the binary body is signed by hand. */
static void pb_sign(const uint8_t *buf, size_t len, char h[3][128])
{
    char ts[24];
    (void)snprintf(ts, sizeof(ts), "%ld", (long)time(NULL));
    char body_hash[GW_SHA256_HEX_BYTES];
    gw_sha256_hex(buf, len, body_hash);
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "POST\n/v1/payments\n%s\n%s", ts, body_hash);
    char sig[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(TH_CLIENT_A_SECRET, strlen(TH_CLIENT_A_SECRET), msg, (size_t)n, sig);
    (void)snprintf(h[0], 128, "X-Feegate-Client: %s", TH_CLIENT_A_ID);
    (void)snprintf(h[1], 128, "X-Feegate-Timestamp: %s", ts);
    (void)snprintf(h[2], 128, "X-Feegate-Signature: v1=%s", sig);
}

/* The protobuf form needs its Idempotency-Key too: without it, 400 and nothing made. */
static void pb_create_without_key(const char *url, const char *const *headers, const uint8_t *body,
                                  size_t len)
{
    long long payments = th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments");
    struct th_resp r;
    assert_int_equal(th_http("POST", url, headers, (const char *)body, len, &r), GW_OK);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"idempotency_key_required\""));
    th_resp_release(&r);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments"), payments);
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
    char h[3][128];
    pb_sign(buf, len, h);
    char h4[96];
    (void)snprintf(h4, sizeof(h4), "Idempotency-Key: pb-%s", ref);
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/v1/payments", it.gw.url);
    const char *const nokey[] = { "Content-Type: application/x-protobuf", h[0], h[1], h[2], NULL };
    pb_create_without_key(url, nokey, buf, len);
    struct th_resp r;
    const char *const all[] = {
        "Content-Type: application/x-protobuf", h[0], h[1], h[2], h4, NULL
    };
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
    pb_sign(junk, sizeof(junk), h); /* all[] points at h */
    assert_int_equal(th_http("POST", url, all, (const char *)junk, sizeof(junk), &r), GW_OK);
    assert_int_equal(r.status, 400);
    th_resp_release(&r);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments"), before);
}

/* ---- batches: concurrent calls share a transaction, and each keeps its own outcome ---- */

#define MIXERS     48
#define MIX_ROUNDS 20

struct mixer {
    pthread_t thread;
    char body[1024];
    char key[64];
    char answer[4096];
    int status;
    bool valid;
    bool replayed;
};

static void *mix(void *arg)
{
    struct mixer *m = arg;
    struct th_resp resp;
    if (th_portal("POST", "/v1/payments", m->body, m->key, &resp) == GW_OK) {
        m->status = resp.status;
        m->replayed = th_resp_header(&resp, "Idempotent-Replayed") != NULL;
        (void)snprintf(m->answer, sizeof(m->answer), "%s", resp.body);
    }
    th_resp_release(&resp);
    return NULL;
}

/* The value of one counter line of /metrics, or -1. */
static long long metric(const char *name)
{
    char url[160];
    (void)snprintf(url, sizeof(url), "%s/metrics", it.gw.url);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 15, &r), GW_OK);
    assert_int_equal(r.status, 200);
    long long v = -1;
    char needle[96];
    (void)snprintf(needle, sizeof(needle), "\n%s ", name);
    const char *at = strstr(r.body, needle);
    if (at != NULL) {
        v = strtoll(at + strlen(needle), NULL, 10);
    }
    th_resp_release(&r);
    return v;
}

/* The seq-th create of the test: every sixth names a fee the agency does not have. */
static void mix_prepare(struct mixer *m, int seq)
{
    *m = (struct mixer){ .valid = seq % 6 != 0 };
    char ref[48];
    (void)snprintf(ref, sizeof(ref), "MIX-%ld-%d", (long)time(NULL), seq);
    (void)snprintf(m->key, sizeof(m->key), "mix-%ld-%d", (long)time(NULL), seq);
    it_create_body(m->body, sizeof(m->body), ref);
    if (!m->valid) {
        char *fee = strstr(m->body, "\"LLTP\"");
        assert_non_null(fee);
        fee[1] = 'N'; /* "LLTP" -> "NOPE" */
        fee[2] = 'O';
        fee[3] = 'P';
        fee[4] = 'E';
    }
}

/* A valid create: 201, a new payment, and not a replay (had a rolled-back batch kept it,
 * its run alone would have found the key taken and answered with the stored response). A
 * refused one: its own 422. */
static void mix_check(const struct mixer *m)
{
    json_t *o = json_loads(m->answer, 0, NULL);
    assert_non_null(o);
    if (m->valid) {
        assert_int_equal(m->status, 201);
        assert_false(m->replayed);
        assert_string_equal(json_string_value(json_object_get(o, "status")), "created");
    } else {
        assert_int_equal(m->status, 422);
        assert_string_equal(json_string_value(json_object_get(json_object_get(o, "error"), "code")),
                            "unknown_fee");
    }
    json_decref(o);
}

/* Valid creates race with creates the database refuses (a fee the agency does not have: the
 * gateway cannot know, PostgreSQL raises 422). Calls that meet in the queue run as one
 * transaction; a refused one rolls its batch back and every call of it runs again alone.
 * Each valid create must end with 201 and exactly one payment, each refused one with its own
 * 422 and nothing written, whatever batch it shared. Rounds repeat until the gateway reports
 * both a committed batch and a retried one (bounded). */
static void test_batched_calls_keep_their_own_outcome(void **state)
{
    (void)state;
    long long retried0 = metric("feegate_db_batches_retried_total");
    long long batches0 = metric("feegate_db_batches_total");
    assert_true(retried0 >= 0 && batches0 >= 0);
    long long before = th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments");
    long long idem_before = th_sql_int(&it.db, "SELECT count(*) FROM feegate.idempotency");
    static struct mixer mixers[MIXERS];
    long long valid_total = 0;
    int round = 0;
    long long retried = retried0;
    long long batches = batches0;
    for (; round < MIX_ROUNDS && (retried == retried0 || batches == batches0); round++) {
        for (int i = 0; i < MIXERS; i++) {
            mix_prepare(&mixers[i], round * MIXERS + i);
        }
        for (int i = 0; i < MIXERS; i++) {
            assert_int_equal(pthread_create(&mixers[i].thread, NULL, mix, &mixers[i]), 0);
        }
        for (int i = 0; i < MIXERS; i++) {
            assert_int_equal(pthread_join(mixers[i].thread, NULL), 0);
            mix_check(&mixers[i]);
            valid_total += mixers[i].valid;
        }
        retried = metric("feegate_db_batches_retried_total");
        batches = metric("feegate_db_batches_total");
    }
    print_message("batches: %lld committed, %lld retried call by call, in %d rounds\n",
                  batches - batches0, retried - retried0, round);
    assert_true(batches > batches0);
    assert_true(retried > retried0);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments"),
                     before + valid_total);
    /* Refused creates leave no idempotency key behind: the key is free for a corrected
     * request. */
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.idempotency"),
                     idem_before + valid_total);
    assert_int_equal(
        th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments WHERE order_ref LIKE 'MIX-%' "
                           "AND items -> 0 ->> 'fee_code' <> 'LLTP'"),
        0);
    it_assert_ledger_ok();
}

/* A commit that fails is not acknowledged. A deferred trigger (a test's own, like the
 * ledger's balance check) refuses at commit the creates whose order_ref starts with
 * COMMITFAIL-: every statement of the call succeeded, only the commit did not. Those creates
 * must get the commit's error and leave nothing; the others, raced with them through the
 * same batches, must commit. */
static void test_failed_commit_is_not_acknowledged(void **state)
{
    (void)state;
    assert_int_equal(
        th_sql_exec(&it.db,
                    "CREATE FUNCTION public.fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
                    " BEGIN IF EXISTS (SELECT 1 FROM feegate.payments p WHERE p.id = "
                    "NEW.payment_id AND p.order_ref LIKE 'COMMITFAIL-%') THEN RAISE EXCEPTION "
                    "USING ERRCODE = 'FG500', MESSAGE = 'commit_refused', DETAIL = 'test'; "
                    "END IF; RETURN NULL; END $$; "
                    "CREATE CONSTRAINT TRIGGER zz_fail_at_commit AFTER INSERT ON "
                    "feegate.payment_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                    "EXECUTE FUNCTION public.fail_at_commit()"),
        GW_OK);
    static struct mixer racers[MIXERS];
    for (int i = 0; i < MIXERS; i++) {
        struct mixer *m = &racers[i];
        *m = (struct mixer){ .valid = i % 4 != 0 };
        char ref[48];
        (void)snprintf(ref, sizeof(ref), "%s-%ld-%d", m->valid ? "CF" : "COMMITFAIL",
                       (long)time(NULL), i);
        (void)snprintf(m->key, sizeof(m->key), "cf-%ld-%d", (long)time(NULL), i);
        it_create_body(m->body, sizeof(m->body), ref);
    }
    for (int i = 0; i < MIXERS; i++) {
        assert_int_equal(pthread_create(&racers[i].thread, NULL, mix, &racers[i]), 0);
    }
    for (int i = 0; i < MIXERS; i++) {
        assert_int_equal(pthread_join(racers[i].thread, NULL), 0);
        assert_int_equal(racers[i].status, racers[i].valid ? 201 : 500);
        if (!racers[i].valid) {
            assert_non_null(strstr(racers[i].answer, "commit_refused"));
        }
    }
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.payments "
                                        "WHERE order_ref LIKE 'COMMITFAIL-%'"),
                     0);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.idempotency "
                                        "WHERE idem_key LIKE 'cf-%' AND http_status = 0"),
                     0);
    assert_int_equal(th_sql_exec(&it.db,
                                 "DROP TRIGGER zz_fail_at_commit ON feegate.payment_events; "
                                 "DROP FUNCTION public.fail_at_commit()"),
                     GW_OK);
    /* The keys of the refused creates are free again: the same request now succeeds. */
    struct mixer again = racers[0];
    mix(&again);
    assert_int_equal(again.status, 201);
    it_assert_ledger_ok();
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
        cmocka_unit_test(test_batched_calls_keep_their_own_outcome),
        cmocka_unit_test(test_failed_commit_is_not_acknowledged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
