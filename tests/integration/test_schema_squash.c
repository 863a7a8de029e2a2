/* The schema, proven unchanged by its squash: migration 1 as it was at commit BASE_COMMIT
 * (ledger/sql/base, concatenated in the order of ledger/embed_sql.cmake, as `feegate migrate`
 * embeds it), where the squash was completed, builds the same database as the migration
 * chain it replaced:
 *   - ledger/sql/001..026 as they were at commit SQUASH_COMMIT,
 *   - then ledger/sql/migrations/002_limits.sql and 003_references.sql as they were at
 *     commit FOLD_COMMIT, the last commit that had them (their content is now in the base),
 * read from the source tree's git history. The base is read from git too: this is the
 * proof of the squash, and the base has been edited in place since (docs/ledger.md,
 * "Migrations"), each change tested by the other tests. Both sides get the limits functions first,
 * as `feegate migrate` applies them (before every migration, in its transaction). Two databases of
 * one temporary cluster, one built each way, are compared:
 *   - pg_dump --schema-only, split into pg_dump's objects, sorted (the two builds create the
 *     objects in another order, and pg_dump's order follows creation where dependencies
 *     allow). Dropped: pg_dump's own comment lines (the "-- Name: ...; Type: ..." headers
 *     of its objects and its banner) and its \restrict / \unrestrict lines, whose key is
 *     random on every run. Nothing else is normalised: every statement, column, constraint,
 *     trigger, privilege and function text must be the same;
 *   - every function of schema feegate, byte for byte: signature, body (prosrc), settings,
 *     volatility, security, owner's privileges;
 *   - pg_dump --data-only, lines sorted: the reference rows (statuses, transitions, the
 *     accounts the schema opens).
 * No git, or no such commit, is a failure with the reason, never a skip: the proof would be
 * missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "gw_arena.h"
#include "ldg_int.h"
#include "th.h"

#include "banned.h"

#define SQUASH_COMMIT "2529e78"
#define FOLD_COMMIT   "15b24c2"
#define BASE_COMMIT   "a74814f"
#define OLD_DB        "squash_old"
#define NEW_DB        "squash_new"
#define OLD_FILES_MIN 20 /* 001..026 with gaps: 23 files */
#define FUNCS_MIN     100

static struct th_db db;
static char work_dir[] = "/tmp/fg-squash-XXXXXX";
static bool keep_work_dir; /* a difference was written there: keep it for the reader */

/* A growable NUL-terminated buffer; aborts the test on out of memory. */
struct sbuf {
    char *p;
    size_t len;
    size_t cap;
};

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        char *p = gw_xrealloc(b->p, cap);
        assert_non_null(p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* The standard output of a shell command; fails the test if it does not exit 0. */
static char *cmd_output(const char *cmd)
{
    struct sbuf out = { 0 };
    char chunk[8192];
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        sbuf_add(&out, chunk, n);
    }
    int rc = pclose(f);
    if (rc != 0) {
        fail_msg("`%s` exited %d", cmd, rc);
    }
    sbuf_add(&out, "", 0);
    return out.p;
}

static void dsn_of(const char *dbname, char *out, size_t cap)
{
    /* A keyword given twice in a conninfo string takes its last value. */
    (void)snprintf(out, cap, "%s dbname=%s", db.pg.admin_dsn, dbname);
}

/* The old chain's file names at SQUASH_COMMIT, in order; fails clearly without git. */
static char *old_chain_names(void)
{
    char cmd[1200];
    (void)snprintf(
        cmd, sizeof(cmd),
        "git -C '%s' rev-parse --verify --quiet '" SQUASH_COMMIT "^{commit}' "
        ">/dev/null 2>&1 && git -C '%s' rev-parse --verify --quiet '" FOLD_COMMIT
        "^{commit}' >/dev/null 2>&1 && git -C '%s' rev-parse --verify --quiet '" BASE_COMMIT
        "^{commit}' >/dev/null 2>&1",
        FEEGATE_SOURCE_DIR, FEEGATE_SOURCE_DIR, FEEGATE_SOURCE_DIR);
    if (system(cmd) != 0) {
        fail_msg("the two schemas are read from git commits " SQUASH_COMMIT ", " FOLD_COMMIT
                 " and " BASE_COMMIT " of %s, and git or those commits are not available "
                 "here: the squash cannot be proven without them (run the test from a clone "
                 "with its history)",
                 FEEGATE_SOURCE_DIR);
    }
    (void)snprintf(cmd, sizeof(cmd),
                   "git -C '%s' ls-tree --name-only " SQUASH_COMMIT " ledger/sql/ | "
                   "grep -E '^ledger/sql/[0-9]{3}_[a-z0-9_]+[.]sql$'",
                   FEEGATE_SOURCE_DIR);
    return cmd_output(cmd);
}

/* Applies each file of the old chain, each in one transaction as the migrator did. */
static void build_old(void)
{
    char *names = old_chain_names();
    char dsn[1200];
    char cmd[4000];
    int n = 0;
    dsn_of(OLD_DB, dsn, sizeof(dsn));
    for (char *line = names, *nl; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        /* Through a file, not a pipe: a failing `git show` must not look like empty SQL. */
        (void)snprintf(cmd, sizeof(cmd),
                       "git -C '%s' show '" SQUASH_COMMIT ":%s' > '%s/old.sql' && "
                       "psql -X -q -v ON_ERROR_STOP=1 -1 -d '%s' -f '%s/old.sql' >/dev/null",
                       FEEGATE_SOURCE_DIR, line, work_dir, dsn, work_dir);
        if (system(cmd) != 0) {
            fail_msg("could not apply %s of commit " SQUASH_COMMIT, line);
        }
        if (n == 0) {
            assert_string_equal(line, "ledger/sql/001_schema.sql");
        }
        n++;
    }
    gw_xfree(names);
    assert_true(n >= OLD_FILES_MIN);
    static const char *const later[] = { "ledger/sql/migrations/002_limits.sql",
                                         "ledger/sql/migrations/003_references.sql" };
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        (void)snprintf(cmd, sizeof(cmd),
                       "git -C '%s' show '" FOLD_COMMIT ":%s' > '%s/old.sql' && "
                       "psql -X -q -v ON_ERROR_STOP=1 -1 -d '%s' -f '%s/limits.sql' "
                       "-f '%s/old.sql' >/dev/null",
                       FEEGATE_SOURCE_DIR, later[i], work_dir, dsn, work_dir, work_dir);
        if (system(cmd) != 0) {
            fail_msg("could not apply %s of commit " FOLD_COMMIT, later[i]);
        }
    }
}

/* Migration 1 at BASE_COMMIT: its files in the order of that commit's LDG_BASE_ORDER, after
 * the limits functions, in one transaction as the migrator applies it (the migrator creates
 * schema feegate first, for its own table). */
static void build_new(void)
{
    static const char *const order[] = { "schema",   "integrity",   "core",         "state_machine",
                                         "ledger",   "idempotency", "payments_api", "receipts",
                                         "webhooks", "recovery",    "refunds",      "recon",
                                         "checks",   "grants" };
    char dsn[1200];
    char cmd[4000];
    dsn_of(NEW_DB, dsn, sizeof(dsn));
    (void)snprintf(cmd, sizeof(cmd), ": > '%s/base.sql'", work_dir);
    assert_int_equal(system(cmd), 0);
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        (void)snprintf(cmd, sizeof(cmd),
                       "git -C '%s' show '" BASE_COMMIT ":ledger/sql/base/%s.sql' >> '%s/base.sql'",
                       FEEGATE_SOURCE_DIR, order[i], work_dir);
        if (system(cmd) != 0) {
            fail_msg("could not read ledger/sql/base/%s.sql of commit " BASE_COMMIT, order[i]);
        }
    }
    (void)snprintf(cmd, sizeof(cmd),
                   "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -c 'CREATE SCHEMA feegate' >/dev/null && "
                   "psql -X -q -v ON_ERROR_STOP=1 -1 -d '%s' -f '%s/limits.sql' -f '%s/base.sql' "
                   ">/dev/null",
                   dsn, dsn, work_dir, work_dir);
    if (system(cmd) != 0) {
        fail_msg("migration 1 of commit " BASE_COMMIT " failed");
    }
}

/* qsort's comparator: its two parameters are qsort's to give. */
static int cmp_str(const void *a, const void *b) /* NOLINT(bugprone-easily-swappable-parameters) */
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool pg_dump_noise(const char *line)
{
    return line[0] == '\0' || strncmp(line, "--", 2) == 0 || strncmp(line, "\\restrict", 9) == 0 ||
           strncmp(line, "\\unrestrict", 11) == 0;
}

/* by_object: split at pg_dump's "-- Name:" headers and sort the objects; otherwise sort
 * the lines (data). Noise lines are dropped (see the top of this file). Frees text. */
static char *normalise(char *text, bool by_object)
{
    size_t n = 0;
    size_t cap = 1024;
    struct sbuf *items = gw_xcalloc(cap, sizeof(*items));
    assert_non_null(items);
    for (char *line = text, *nl = NULL; line != NULL; line = nl != NULL ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        bool header = strncmp(line, "-- Name: ", 9) == 0;
        if ((by_object && header) || (!by_object && !pg_dump_noise(line)) || n == 0) {
            if (n == cap) {
                cap *= 2;
                struct sbuf *more = gw_xrealloc(items, cap * sizeof(*items));
                assert_non_null(more);
                items = more;
            }
            items[n++] = (struct sbuf){ 0 };
            sbuf_add(&items[n - 1], "", 0);
        }
        if (!pg_dump_noise(line)) {
            sbuf_add(&items[n - 1], line, strlen(line));
            sbuf_add(&items[n - 1], "\n", 1);
        }
    }
    gw_xfree(text);
    char **ptrs = gw_xcalloc(n, sizeof(*ptrs));
    assert_non_null(ptrs);
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = items[i].p;
    }
    qsort(ptrs, n, sizeof(*ptrs), cmp_str);
    struct sbuf out = { 0 };
    sbuf_add(&out, "", 0); /* "" rather than NULL when there is nothing */
    for (size_t i = 0; i < n; i++) {
        sbuf_add(&out, ptrs[i], strlen(ptrs[i]));
        sbuf_add(&out, by_object ? "\n" : "", by_object ? 1 : 0);
        gw_xfree(ptrs[i]);
    }
    gw_xfree(ptrs);
    gw_xfree(items);
    return out.p;
}

/* pg_dump of one database: its schema (objects sorted) or its data (lines sorted). */
static char *dump(const char *dbname, bool schema)
{
    char dsn[1200];
    char cmd[1400];
    dsn_of(dbname, dsn, sizeof(dsn));
    (void)snprintf(cmd, sizeof(cmd), "pg_dump %s -d '%s'", schema ? "--schema-only" : "--data-only",
                   dsn);
    return normalise(cmd_output(cmd), schema);
}

/* texts: the old chain's, migration 1's. Equal, or both written to work_dir, their diff
 * printed and the test failed. */
static void assert_same(const char *what, char *const texts[2])
{
    if (strcmp(texts[0], texts[1]) == 0) {
        return;
    }
    char cmd[1200];
    const char *names[2] = { "old", "new" };
    for (int i = 0; i < 2; i++) {
        (void)snprintf(cmd, sizeof(cmd), "%s/%s.%s", work_dir, what, names[i]);
        FILE *f = fopen(cmd, "w");
        assert_non_null(f);
        (void)fputs(texts[i], f);
        assert_int_equal(fclose(f), 0);
    }
    (void)fprintf(stderr, "%s differs (old chain <, migration 1 >); kept in %s\n", what, work_dir);
    (void)snprintf(cmd, sizeof(cmd), "diff '%s/%s.old' '%s/%s.new' | head -60 >&2", work_dir, what,
                   work_dir, what);
    int rc = system(cmd);
    (void)rc;
    keep_work_dir = true;
    fail_msg("%s: migration 1 does not build what the old chain built", what);
}

/* Every function of schema feegate, with its body byte for byte, as one text. */
static char *functions_of(const char *dbname, long long *count)
{
    static const char sql[] =
        "SELECT count(*) || E'\\n' || string_agg(sig || E'\\n' || body, E'\\n' ORDER BY sig)"
        " FROM (SELECT p.oid::regprocedure::text AS sig,"
        "   concat_ws(E'\\n', p.prosrc, p.provolatile, p.prosecdef, p.proparallel,"
        "     p.prorettype::regtype::text, array_to_string(p.proconfig, ','),"
        "     array_to_string(p.proacl, ','), md5(p.prosrc)) AS body"
        "  FROM pg_proc p WHERE p.pronamespace = 'feegate'::regnamespace) f";
    char dsn[1200];
    dsn_of(dbname, dsn, sizeof(dsn));
    PGconn *conn = PQconnectdb(dsn);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    PGresult *r = PQexec(conn, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char *text = gw_xstrdup(PQgetvalue(r, 0, 0));
    assert_non_null(text);
    *count = strtoll(text, NULL, 10);
    PQclear(r);
    PQfinish(conn);
    return text;
}

static void test_squash_builds_the_same_database(void **state)
{
    (void)state;
    assert_int_equal(th_sql_exec(&db, "CREATE DATABASE " OLD_DB), GW_OK);
    assert_int_equal(th_sql_exec(&db, "CREATE DATABASE " NEW_DB), GW_OK);
    build_old();
    build_new();

    char *schema[2] = { dump(OLD_DB, true), dump(NEW_DB, true) };
    assert_true(strstr(schema[1], "CREATE TABLE feegate.payments") != NULL);
    assert_same("schema", schema);

    long long n_old = 0;
    long long n_new = 0;
    char *funcs[2] = { functions_of(OLD_DB, &n_old), functions_of(NEW_DB, &n_new) };
    assert_true(n_new >= FUNCS_MIN);
    assert_same("functions", funcs);

    char *data[2] = { dump(OLD_DB, false), dump(NEW_DB, false) };
    assert_true(strstr(data[1], "payment_transitions") != NULL);
    assert_same("data", data);

    for (int i = 0; i < 2; i++) {
        gw_xfree(schema[i]);
        gw_xfree(funcs[i]);
        gw_xfree(data[i]);
    }
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(work_dir) == NULL) {
        return -1;
    }
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/limits.sql", work_dir);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs((const char *)ldg_limits_sql.sql, f) < 0 || fclose(f) != 0) {
        return -1;
    }
    return th_db_start_empty(&db) == GW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    if (!keep_work_dir) {
        (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work_dir);
        int rc = system(cmd);
        (void)rc;
    }
    return th_db_stop(&db) == GW_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_squash_builds_the_same_database),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
