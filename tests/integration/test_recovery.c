/* Recovery of unknown outcomes: callbacks that never arrive are resolved by querying the
 * provider; what cannot be resolved inside the query window is listed as an exception. The
 * gateway here gives the simulator an unreachable callback address (its public_url points
 * at the discard port), so no callback ever arrives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "it.h"

static void force_query_now(const char *id)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.payment_attempts SET next_query_at = now() "
                   "WHERE payment_id = '%s'",
                   id);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
}

static long long attempt_int(const char *id, const char *col)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT %s FROM feegate.payment_attempts WHERE payment_id = '%s'", col, id);
    return th_sql_int(&it.db, sql);
}

static void approve_at_bank(const char *location)
{
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", location, form, "action=approve", 14, &r), GW_OK);
    assert_int_equal(r.status, 303);
    th_resp_release(&r);
}

static void test_lost_callback_resolved_by_query(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    approve_at_bank(location); /* the bank has the money; its callback cannot reach us */
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "pending");
    force_query_now(id);
    for (int i = 0; i < 50 && strcmp(status, "succeeded") != 0; i++) {
        usleep(100 * 1000);
        it_status(id, status);
    }
    assert_string_equal(status, "succeeded");
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.provider_messages WHERE merchant_ref = '%s' "
                   "AND source = 'query' AND verdict = 'applied'",
                   ref);
    assert_int_equal(th_sql_int(&it.db, sql), 1);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.journals WHERE payment_id = '%s'", id);
    assert_int_equal(th_sql_int(&it.db, sql), 1);
    assert_int_equal(attempt_int(id, "final::int"), 1);
    it_assert_ledger_ok();
}

static void test_undecided_stays_pending_and_is_rescheduled(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    /* The citizen opened the bank's page but decided nothing: the bank says pending. */
    struct th_resp r;
    assert_int_equal(th_http("GET", location, NULL, NULL, 0, &r), GW_OK);
    th_resp_release(&r);
    force_query_now(id);
    for (int i = 0; i < 50 && attempt_int(id, "queries") == 0; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(attempt_int(id, "queries"), 1);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "pending"); /* unknown is never failed */
    /* The next query is about 5 minutes later. */
    assert_true(attempt_int(id, "extract(epoch FROM next_query_at - now())::int") > 250);
    assert_int_equal(attempt_int(id, "final::int"), 0);
}

static void test_unknown_past_the_window_is_an_exception(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    /* Never shown at the bank (it answers not found), and created 49 hours ago. */
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.payment_attempts SET created_at = now() - interval '49 hours', "
                   "next_query_at = now() WHERE payment_id = '%s'",
                   id);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    for (int i = 0; i < 50 && attempt_int(id, "queries") == 0; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(attempt_int(id, "exhausted::int"), 1);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.recovery_exceptions WHERE payment_id = '%s'", id);
    assert_int_equal(th_sql_int(&it.db, sql), 1);
    it_assert_ledger_ok();
}

static int setup(void **state)
{
    (void)state;
    /* Callbacks go to the discard port: nothing answers there. */
    it.gw.ini_extra = "[server]\npublic_url = http://127.0.0.1:9\n";
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
        cmocka_unit_test(test_lost_callback_resolved_by_query),
        cmocka_unit_test(test_undecided_stays_pending_and_is_rescheduled),
        cmocka_unit_test(test_unknown_past_the_window_is_an_exception),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
