/* The daemon's periodic ledger check (gateway/check_job.c): with [jobs]
 * ledger_check_interval_s = 1, /metrics shows a passing run; an orphan planted by a superuser
 * with the keys' triggers off (session_replication_role = replica) makes the next run fail,
 * in /metrics (ok 0, one failed check) and in the log as an error naming the check; once
 * removed, the check passes again. A second gateway on the same database does not check
 * (one at a time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "th.h"

static struct th_db db;
static struct th_gateway gw;
static struct th_gateway gw2;

static const char jobs_ini[] = "[jobs]\nledger_check_interval_s = 1\n";

static int setup(void **state)
{
    (void)state;
    if (th_db_start(&db) != GW_OK) {
        return -1;
    }
    gw.ini_extra = jobs_ini;
    if (th_gateway_start(&gw, &db, NULL) != GW_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    enum gw_err e1 = th_gateway_stop(&gw);
    enum gw_err e2 = th_db_stop(&db);
    return e1 == GW_OK && e2 == GW_OK ? 0 : -1;
}

/* Waits (up to 30 s) until /metrics of g has every line of want (NUL-separated list). */
static void wait_metrics(const struct th_gateway *g, const char *const *want, size_t n)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/metrics", g->url);
    for (int tries = 0; tries < 300; tries++) {
        struct th_resp r;
        assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
        assert_int_equal(r.status, 200);
        size_t found = 0;
        for (size_t i = 0; i < n; i++) {
            found += strstr(r.body, want[i]) != NULL;
        }
        th_resp_release(&r);
        if (found == n) {
            return;
        }
        struct timespec ts = { 0, 100L * 1000 * 1000 };
        (void)nanosleep(&ts, NULL);
    }
    fail_msg("/metrics never showed %s", want[0]);
}

/* Lines of g's log that report a failed check and contain needle. */
static size_t log_failures(const struct th_gateway *g, const char *needle)
{
    FILE *f = fopen(g->proc.log_path, "r");
    assert_non_null(f);
    char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, "\"event\":\"ledger_check_failed\"") != NULL &&
             strstr(line, needle) != NULL;
    }
    (void)fclose(f);
    return n;
}

static void test_check_passes_then_fails(void **state)
{
    (void)state;
    static const char *const ok[] = { "feegate_ledger_check_holder 1\n",
                                      "feegate_ledger_check_ok 1\n",
                                      "feegate_ledger_check_failed_checks 0\n" };
    wait_metrics(&gw, ok, 3);
    assert_int_equal(log_failures(&gw, "\"level\":\"error\""), 0);

    assert_int_equal(th_sql_exec(&db, "SET session_replication_role = replica; "
                                      "INSERT INTO feegate.payment_events (payment_id, seq, "
                                      "event, to_status) VALUES ('pay_missing', 1, 'create', "
                                      "'created'); SET session_replication_role = origin"),
                     GW_OK);
    static const char *const failed[] = { "feegate_ledger_check_ok 0\n",
                                          "feegate_ledger_check_failed_checks 1\n" };
    wait_metrics(&gw, failed, 2);
    assert_true(log_failures(&gw, "\"level\":\"error\"") >= 1);
    assert_true(log_failures(&gw, "rows_reference_payments") >= 1);

    assert_int_equal(th_sql_exec(&db, "SET session_replication_role = replica; "
                                      "DELETE FROM feegate.payment_events "
                                      "WHERE payment_id = 'pay_missing'; "
                                      "SET session_replication_role = origin"),
                     GW_OK);
    wait_metrics(&gw, ok, 3);
}

/* A second gateway on the same database: the first holds the lock, the second never runs. */
static void test_one_checker(void **state)
{
    (void)state;
    gw2.ini_extra = jobs_ini;
    assert_int_equal(th_gateway_start(&gw2, &db, NULL), GW_OK);
    struct timespec ts = { 3, 0 };
    (void)nanosleep(&ts, NULL);
    static const char *const standby[] = { "feegate_ledger_check_holder 0\n",
                                           "feegate_ledger_check_runs_total 0\n" };
    wait_metrics(&gw2, standby, 2);
    static const char *const holder[] = { "feegate_ledger_check_holder 1\n" };
    wait_metrics(&gw, holder, 1);
    assert_int_equal(th_gateway_stop(&gw2), GW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_passes_then_fails),
        cmocka_unit_test(test_one_checker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
