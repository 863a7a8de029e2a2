/* `feegate serve` refuses to start unsafe (docs/operations.md, "Start-up checks"): without
 * a receipt signer, on a database with fsync, synchronous_commit or full_page_writes off, or
 * with a portal client whose secret is shorter than 32 bytes, it exits non-zero with one
 * message per problem saying what to change; with everything safe it starts; in development
 * mode it starts anyway and says so in its log. A client whose secret becomes too short while
 * it runs is left out at the next refresh. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "th.h"

static struct th_db db;

/* Long enough for the database's own rule (16 bytes), too short for a gateway (32). */
#define SHORT_SECRET "short-secret-20bytes"

static const char short_24[] =
    "refusing to start: portal client \"" TH_CLIENT_B_ID "\" has a secret of 24 bytes";
static const char short_20[] = "portal client \"" TH_CLIENT_B_ID "\" has a secret of 20 bytes";

/* ALTER SYSTEM SET name = off (or RESET it, back to the cluster's on), reloaded, and waited
 * for until a new session sees it. */
static void db_setting(const char *name, bool off)
{
    char sql[256];
    if (off) {
        (void)snprintf(sql, sizeof(sql), "ALTER SYSTEM SET %s = off", name);
    } else {
        (void)snprintf(sql, sizeof(sql), "ALTER SYSTEM RESET %s", name);
    }
    assert_int_equal(th_sql_exec(&db, sql), GW_OK);
    assert_int_equal(th_sql_exec(&db, "SELECT pg_reload_conf()"), GW_OK);
    const char *want = off ? "off" : "on";
    (void)snprintf(sql, sizeof(sql), "SELECT (current_setting('%s') = '%s')::int", name, want);
    long long seen = 0;
    for (int i = 0; i < 500 && seen == 0; i++) { /* bounded: 10 s */
        assert_int_equal(th_sql_int_dsn(db.pg.admin_dsn, sql, &seen), GW_OK);
        if (seen == 0) {
            usleep(20000);
        }
    }
    assert_int_equal(seen, 1);
}

/* Starts a gateway that must refuse; its output must contain every string of want. */
static void expect_refused(struct th_gateway *gw, const char *const *want)
{
    static struct th_refusal out;
    assert_int_equal(th_gateway_refused(gw, &db, &out), GW_OK);
    bool all = out.code > 0;
    for (size_t i = 0; want[i] != NULL; i++) {
        all = all && strstr(out.output, want[i]) != NULL;
    }
    if (!all) {
        fprintf(stderr, "exit code %d, output:\n%s\n", out.code, out.output);
    }
    assert_true(out.code > 0);
    assert_true(all);
}

static void test_all_safe_starts(void **state)
{
    (void)state;
    struct th_gateway gw = { .port = 0 };
    assert_int_equal(th_gateway_start(&gw, &db, NULL), GW_OK);
    assert_int_equal(th_gateway_stop(&gw), GW_OK);
}

static void test_no_receipt_signer(void **state)
{
    (void)state;
    struct th_gateway gw = { .no_receipt_signer = true };
    const char *const want[] = { "refusing to start: no receipt signer",
                                 "set cert and key in [receipts]", "1 unsafe setting", NULL };
    expect_refused(&gw, want);
}

static void test_database_settings(void **state)
{
    (void)state;
    static const char *const names[] = { "fsync", "synchronous_commit", "full_page_writes" };
    for (size_t i = 0; i < 3; i++) {
        db_setting(names[i], true);
        char what[128];
        char fix[128];
        (void)snprintf(what, sizeof(what), "refusing to start: the database runs with %s = off",
                       names[i]);
        (void)snprintf(fix, sizeof(fix), "set %s = on in its postgresql.conf", names[i]);
        const char *const want[] = { what, fix, NULL };
        struct th_gateway gw = { .port = 0 };
        expect_refused(&gw, want);
        db_setting(names[i], false);
    }
}

static void test_short_client_secret(void **state)
{
    (void)state;
    assert_int_equal(th_sql_exec(&db,
                                 "UPDATE feegate.clients SET secret = 'only-24-bytes-long-here!' "
                                 "WHERE id = '" TH_CLIENT_B_ID "'"),
                     GW_OK);
    const char *const want[] = { short_24, "at least 32 bytes", NULL };
    struct th_gateway gw = { .port = 0 };
    expect_refused(&gw, want);
    assert_int_equal(th_sql_exec(&db, "UPDATE feegate.clients SET secret = '" TH_CLIENT_B_SECRET
                                      "' WHERE id = '" TH_CLIENT_B_ID "'"),
                     GW_OK);
}

/* A secret made too short while the gateway runs: the next refresh of the client list
 * (SIGHUP runs it at once) leaves the client out and says why. */
static void test_short_secret_dropped_at_refresh(void **state)
{
    (void)state;
    struct th_gateway gw = { .port = 0 };
    assert_int_equal(th_gateway_start(&gw, &db, NULL), GW_OK);
    assert_int_equal(th_sql_exec(&db, "UPDATE feegate.clients SET secret = '" SHORT_SECRET "' "
                                      "WHERE id = '" TH_CLIENT_B_ID "'"),
                     GW_OK);
    assert_int_equal(kill(gw.proc.pid, SIGHUP), 0);
    static char log[65536];
    bool dropped = false;
    for (int i = 0; i < 500 && !dropped; i++) { /* bounded: 10 s */
        usleep(20000);
        FILE *f = fopen(gw.proc.log_path, "re");
        assert_non_null(f);
        size_t n = fread(log, 1, sizeof(log) - 1, f);
        log[n] = '\0';
        (void)fclose(f);
        dropped = strstr(log, "secret shorter than 32 bytes") != NULL;
    }
    assert_true(dropped);
    th_portal_use(gw.url, TH_CLIENT_B_ID, SHORT_SECRET);
    struct th_resp r;
    assert_int_equal(th_portal("GET", "/v1/catalog", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 401);
    th_resp_release(&r);
    assert_int_equal(th_gateway_stop(&gw), GW_OK);
    assert_int_equal(th_sql_exec(&db, "UPDATE feegate.clients SET secret = '" TH_CLIENT_B_SECRET
                                      "' WHERE id = '" TH_CLIENT_B_ID "'"),
                     GW_OK);
}

/* Everything unsafe at once: one line for each problem. Then the same in development mode:
 * it starts, and its log says development mode and each problem. */
static void test_all_unsafe_and_development_mode(void **state)
{
    (void)state;
    db_setting("fsync", true);
    db_setting("synchronous_commit", true);
    db_setting("full_page_writes", true);
    assert_int_equal(th_sql_exec(&db, "UPDATE feegate.clients SET secret = '" SHORT_SECRET "' "
                                      "WHERE id = '" TH_CLIENT_B_ID "'"),
                     GW_OK);
    const char *const want[] = { "no receipt signer",
                                 "fsync = off",
                                 "synchronous_commit = off",
                                 "full_page_writes = off",
                                 short_20,
                                 "5 unsafe settings",
                                 NULL };
    struct th_gateway gw = { .no_receipt_signer = true };
    expect_refused(&gw, want);
    struct th_gateway dev = { .no_receipt_signer = true,
                              .ini_extra = "[server]\ndevelopment = true" };
    assert_int_equal(th_gateway_start(&dev, &db, NULL), GW_OK);
    /* The short secret is usable in development mode: the client is in the list. */
    th_portal_use(dev.url, TH_CLIENT_B_ID, SHORT_SECRET);
    struct th_resp r;
    assert_int_equal(th_portal("GET", "/v1/catalog", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    char log_path[160];
    (void)snprintf(log_path, sizeof(log_path), "%s", dev.proc.log_path);
    FILE *f = fopen(log_path, "re");
    assert_non_null(f);
    static char log[65536];
    size_t n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    (void)fclose(f);
    assert_non_null(strstr(log, "\"development_mode\""));
    assert_non_null(strstr(log, "fsync = off"));
    assert_non_null(strstr(log, "no receipt signer"));
    assert_int_equal(th_gateway_stop(&dev), GW_OK);
    db_setting("fsync", false);
    db_setting("synchronous_commit", false);
    db_setting("full_page_writes", false);
    assert_int_equal(th_sql_exec(&db, "UPDATE feegate.clients SET secret = '" TH_CLIENT_B_SECRET
                                      "' WHERE id = '" TH_CLIENT_B_ID "'"),
                     GW_OK);
    /* Safe again: it starts without development mode. */
    struct th_gateway again = { .port = 0 };
    assert_int_equal(th_gateway_start(&again, &db, NULL), GW_OK);
    assert_int_equal(th_gateway_stop(&again), GW_OK);
}

static int setup(void **state)
{
    (void)state;
    return th_db_start(&db) == GW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return th_db_stop(&db) == GW_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_safe_starts),
        cmocka_unit_test(test_no_receipt_signer),
        cmocka_unit_test(test_database_settings),
        cmocka_unit_test(test_short_client_secret),
        cmocka_unit_test(test_short_secret_dropped_at_refresh),
        cmocka_unit_test(test_all_unsafe_and_development_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
