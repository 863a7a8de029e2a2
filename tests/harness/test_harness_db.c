/* Self-test of the harness's database: a temporary cluster answers as superuser and as
 * feegate_app, runs with data checksums, fsync and no TCP, and vanishes when stopped; the
 * migrated cluster has schema feegate and snapshots see its tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "th.h"

#include "banned.h"

static void assert_setting(struct th_db *db, const char *name, const char *want)
{
    char sql[128];
    char got[64];
    (void)snprintf(sql, sizeof(sql), "select current_setting('%s')", name);
    assert_int_equal(th_sql_text(db, sql, got, sizeof(got)), GW_OK);
    if (strcmp(got, want) != 0) {
        fail_msg("setting %s is '%s', want '%s'", name, got, want);
    }
}

static void assert_dir_gone(const char *dir)
{
    struct stat st;
    assert_int_equal(stat(dir, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_empty_cluster(void **state)
{
    (void)state;
    struct th_db db = { 0 };
    assert_int_equal(th_db_start_empty(&db), GW_OK);
    assert_true(db.pg.temporary);
    assert_int_equal(th_sql_int(&db, "select 1"), 1);
    long long one = 0;
    assert_int_equal(th_sql_int_dsn(db.pg.app_dsn, "select 1", &one), GW_OK);
    assert_int_equal(one, 1);
    char user[64];
    assert_int_equal(th_sql_text(&db, "select current_user", user, sizeof(user)), GW_OK);
    assert_string_equal(user, "postgres");
    assert_setting(&db, "data_checksums", "on");
    assert_setting(&db, "fsync", "on");
    assert_setting(&db, "synchronous_commit", "on");
    assert_setting(&db, "full_page_writes", "on");
    assert_setting(&db, "listen_addresses", "");
    assert_setting(&db, "max_connections", "200");
    assert_setting(&db, "shared_buffers", "256MB");
    assert_setting(&db, "server_encoding", "UTF8");
    char dir[sizeof(db.pg.dir)];
    (void)snprintf(dir, sizeof(dir), "%s", db.pg.dir);
    assert_int_equal(th_db_stop(&db), GW_OK);
    assert_dir_gone(dir);
}

static void test_migrated_cluster(void **state)
{
    (void)state;
    struct th_db db = { 0 };
    assert_int_equal(th_db_start(&db), GW_OK);
    assert_int_equal(th_sql_int(&db, "select count(*) from pg_namespace where nspname = 'feegate'"),
                     1);
    long long can = 0;
    assert_int_equal(th_sql_int_dsn(db.pg.app_dsn,
                                    "select count(*) from pg_namespace where nspname = 'feegate'",
                                    &can),
                     GW_OK);
    assert_int_equal(can, 1);
    static struct th_snap a;
    static struct th_snap b;
    assert_int_equal(th_db_snapshot(&db, &a), GW_OK);
    assert_true(a.n > 0);
    assert_int_equal(th_db_snapshot(&db, &b), GW_OK);
    assert_true(th_db_snapshot_equal(&a, &b));
    assert_true(th_db_snapshot_same_rows(&a, &b));
    /* A snapshot sees a new row, and a changed one. */
    assert_int_equal(th_sql_exec(&db, "create table feegate.th_selftest (x int)"), GW_OK);
    assert_int_equal(th_db_snapshot(&db, &a), GW_OK);
    assert_int_equal(th_sql_exec(&db, "insert into feegate.th_selftest values (1)"), GW_OK);
    assert_int_equal(th_db_snapshot(&db, &b), GW_OK);
    assert_false(th_db_snapshot_equal(&a, &b));
    assert_int_equal(th_db_snapshot(&db, &a), GW_OK);
    assert_int_equal(th_sql_exec(&db, "update feegate.th_selftest set x = 2"), GW_OK);
    assert_int_equal(th_db_snapshot(&db, &b), GW_OK);
    assert_true(th_db_snapshot_equal(&a, &b));
    assert_false(th_db_snapshot_same_rows(&a, &b));
    char dir[sizeof(db.pg.dir)];
    (void)snprintf(dir, sizeof(dir), "%s", db.pg.dir);
    assert_int_equal(th_db_stop(&db), GW_OK);
    assert_dir_gone(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_cluster),
        cmocka_unit_test(test_migrated_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
