/* A refund reserved but never sent: the gateway runs with the fault point refund_begun armed
 * (FEEGATE_FAULT, gateway/fault.h), so it kills itself right after api_refund_begin's commit,
 * before the provider call. Started again, its refund recovery queries the refund; the bank has
 * never heard of it (404 not_found), so the gateway sends it then, once, with its reference,
 * and the refund is booked. Before that fix it stayed pending for the 48 h query window
 * (docs/reliability.md#findings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "it.h"

#define POLLS_MAX 300 /* of 100 ms each: a bound, not a timing */

static void approve_at_bank(const char *location)
{
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", location, form, "action=approve", 14, &r), GW_OK);
    assert_int_equal(r.status, 303);
    th_resp_release(&r);
}

static void paid_payment(char id[40])
{
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    approve_at_bank(location);
    char status[32] = "";
    for (int i = 0; i < POLLS_MAX && strcmp(status, "succeeded") != 0; i++) {
        it_status(id, status);
        if (strcmp(status, "succeeded") != 0) {
            usleep(100 * 1000);
        }
    }
    assert_string_equal(status, "succeeded");
}

static char payment_id[40]; /* the test's payment */

/* what, of the payment's refund f. */
static long long refund_int(const char *what)
{
    char sql[300];
    (void)snprintf(sql, sizeof(sql), "SELECT %s FROM feegate.refunds f WHERE f.payment_id = '%s'",
                   what, payment_id);
    return th_sql_int(&it.db, sql);
}

static void test_refund_never_sent_is_sent_by_recovery(void **state)
{
    (void)state;
    char *id = payment_id;
    paid_payment(id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/refunds", id);
    static const char body[] = "{\"amount_vnd\": 50000, \"reason\": \"fault test\"}";
    struct th_resp r;
    /* The gateway dies at the fault point: no answer, or no complete one. */
    if (th_portal("POST", path, body, "fault-refund-1", &r) == GW_OK) {
        assert_true(r.status < 200 || r.status >= 300);
        th_resp_release(&r);
    }
    for (int i = 0; i < POLLS_MAX && th_proc_alive(&it.gw.proc); i++) {
        usleep(100 * 1000);
    }
    assert_false(th_proc_alive(&it.gw.proc));
    (void)th_gateway_stop(&it.gw); /* reaps it: killed by SIGKILL, on purpose */
    assert_int_equal(refund_int("count(*)"), 1);
    assert_int_equal(refund_int("(f.status = 'sending')::int"), 1);
    assert_int_equal(refund_int("(SELECT count(*) FROM feegate.refund_messages m "
                                "WHERE m.refund_id = f.id)"),
                     0);

    /* Its lease over and its query due (refund_due waits 60 s for a sender that stopped). */
    char sql[300];
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.refunds SET updated_at = now() - interval '10 minutes', "
                   "next_query_at = now() WHERE payment_id = '%s'",
                   id);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    it.gw.env_extra = NULL;
    assert_int_equal(th_gateway_start(&it.gw, &it.db, &it.bs), GW_OK);

    for (int i = 0; i < POLLS_MAX && refund_int("(f.status = 'succeeded')::int") == 0; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(refund_int("(f.status = 'succeeded')::int"), 1);
    /* Sent once: the one answer kept is the refund's (the query's "not found" is in the
     * gateway's log, refund_never_sent). */
    assert_int_equal(refund_int("(SELECT count(*) FROM feegate.refund_messages m "
                                "WHERE m.refund_id = f.id)"),
                     1);
    assert_int_equal(refund_int("(SELECT count(*) FROM feegate.refund_messages m "
                                "WHERE m.refund_id = f.id AND m.source = 'refund')"),
                     1);
    (void)snprintf(sql, sizeof(sql), "SELECT refunded_vnd FROM feegate.payments WHERE id = '%s'",
                   id);
    assert_int_equal(th_sql_int(&it.db, sql), 50000);

    /* The portal's retry with the same key gets the refund, not a second one. */
    assert_int_equal(th_portal("POST", path, body, "fault-refund-1", &r), GW_OK);
    assert_int_equal(r.status, 201);
    th_resp_release(&r);
    assert_int_equal(refund_int("count(*)"), 1);
    it_assert_ledger_ok();
}

static int setup(void **state)
{
    (void)state;
    /* Read once by `feegate serve` at start (gateway/fault.c): the first refund kills it. */
    it.gw.env_extra = "FEEGATE_FAULT=refund_begun:1";
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
        cmocka_unit_test(test_refund_never_sent_is_sent_by_recovery),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
