/* A business day reconciled end to end against a real PostgreSQL: N payments (RECON_PAYMENTS,
 * default 50,000; FEEGATE_RECON_PAYMENTS overrides) made through the real SQL functions
 * (api_create_payment, checkout_begin, apply_provider_result) as superuser, paid during
 * yesterday in Asia/Ho_Chi_Minh; a provider statement with injected faults (1% missing at
 * the provider, 1% missing at the switch, 0.5% amount mismatch, 0.5% duplicated lines, 0.5%
 * booked after midnight); every fault reported in its category and nothing else, the same
 * for 10 shuffled orderings of the file; re-imports add nothing. Then resolution (query,
 * correction, suspense, write-off with maker and checker), bad input refused with nothing
 * changed, the day closed from the command line with its reports, and the /v1/finance/ API
 * with staff signatures. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_time.h"
#include "ldg_recon.h"
#include "th.h"

#ifndef RECON_PAYMENTS
#define RECON_PAYMENTS 50000
#endif
#define ORDERINGS 10
#define OUT_BYTES ((size_t)1024 * 1024)
#define N_STAFF   4

static struct th_db db;
static char day[16], next_day[16], dir[64];
static int n_pay;
static char *out; /* the last command's stdout and stderr */
static char **lines;
static int n_lines;
static char **expected;
static int n_expected;
static long long want[6]; /* per category, in the order of cats[] */
/* clerk1, appr1, appr2, aud1: added with `feegate staff add`, each signed in once. */
static struct th_staff staff[N_STAFF];
static const char *const staff_ids[N_STAFF] = { "clerk1", "appr1", "appr2", "aud1" };
static const char *const staff_roles[N_STAFF] = { "clerk", "approver", "approver", "auditor" };

static const char *const cats[] = { "amount_mismatch",   "duplicate_line", "missing_at_provider",
                                    "missing_at_switch", "out_of_day",     "status_mismatch" };

/* One session's share of the day's payments, committed every 500 (as the gateway commits in
 * small batches: one huge transaction per session would make the sessions' successes wait
 * on each other's receipt series for minutes). */
static const char gen_fn[] =
    "CREATE PROCEDURE pg_temp.gen(p_day date, p_n int, p_from int, p_step int)\n"
    "LANGUAGE plpgsql AS $$\n"
    "DECLARE i int; v_pay text; v_ref text; v_amt bigint; v_ag text; v_fee text; v_n int := 0;\n"
    "BEGIN\n"
    "  i := p_from;\n"
    "  WHILE i < p_n LOOP\n"
    "    IF i % 3 = 0 THEN v_ag := 'STP-HN'; v_fee := 'LLTP'; v_amt := 200000;\n"
    "    ELSIF i % 3 = 1 THEN v_ag := 'STP-HN'; v_fee := 'TLHT'; v_amt := 8000 * (1 + i % 50);\n"
    "    ELSE v_ag := 'CA-HCM'; v_fee := 'GXN-XNC';\n"
    "      v_amt := CASE WHEN i % 2 = 0 THEN 50000 ELSE 200000 END; END IF;\n"
    "    SELECT (body::jsonb) ->> 'payment_id' INTO v_pay FROM "
    "feegate.api_create_payment('" TH_CLIENT_A_ID
    "', NULL, NULL, jsonb_build_object('order_ref', 'RECON-' || i, 'agency_code',\n"
    "        v_ag, 'amount_vnd', v_amt, 'items', jsonb_build_array(jsonb_build_object(\n"
    "        'fee_code', v_fee, 'amount_vnd', v_amt))), 'http://127.0.0.1:9');\n"
    "    v_ref := feegate.checkout_begin(v_pay, 'sandbox', 'http://127.0.0.1:9') ->> "
    "'merchant_ref';\n"
    "    PERFORM feegate.apply_provider_result('sandbox', v_ref, 'succeeded', v_amt, 'T' || "
    "v_ref,\n"
    "        feegate.recon_day_start(p_day) + (i * 86000.0 / p_n) * interval '1 second', 'gen', "
    "'');\n"
    "    i := i + p_step; v_n := v_n + 1;\n"
    "    IF v_n % 500 = 0 THEN COMMIT; END IF;\n"
    "  END LOOP;\n"
    "END $$";

/* ---- helpers ---- */

static const char *token_of(const char *id)
{
    for (int i = 0; i < N_STAFF; i++) {
        if (strcmp(staff[i].id, id) == 0) {
            return staff[i].token;
        }
    }
    fail_msg("no staff member %s", id);
    return NULL;
}

/* Runs "ENV feegate ARGS" (line: the environment assignments, then the arguments after
 * FEEGATE_BIN's place, marked by "--") as the application role; stdout and stderr into out. */
static int run_cli_env(const char *line)
{
    const char *sep = strstr(line, "-- ");
    assert_non_null(sep);
    const char *args = sep + 3;
    int env_len = (int)(sep - line);
    char *cmd = malloc(4096);
    assert_non_null(cmd);
    (void)snprintf(cmd, 4096,
                   "cd %s && FEEGATE_DSN='%s' FEEGATE_ADMIN_DSN= FEEGATE_STAFF_PASSWORD= "
                   "FEEGATE_STAFF_TOTP= %.*s %s %s </dev/null >%s/out 2>&1",
                   dir, db.pg.app_dsn, env_len, line, FEEGATE_BIN, args, dir);
    int rc = system(cmd);
    free(cmd);
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/out", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(out, 1, OUT_BYTES - 1, f);
    out[n] = '\0';
    (void)fclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Runs `feegate ARGS` in a staff member's session: "--staff NAME" in args is taken out and
 * becomes FEEGATE_SESSION (the member signed in once, in setup); without it, no session. */
static int run_cli(const char *args)
{
    char a[1024];
    char env[160] = "FEEGATE_SESSION=";
    (void)snprintf(a, sizeof(a), "%s", args);
    char *st = strstr(a, "--staff ");
    if (st != NULL) {
        char name[65];
        size_t n = strcspn(st + 8, " ");
        assert_true(n < sizeof(name));
        memcpy(name, st + 8, n);
        name[n] = '\0';
        (void)snprintf(env, sizeof(env), "FEEGATE_SESSION=%s", token_of(name));
        memmove(st, st + 8 + n, strlen(st + 8 + n) + 1);
    }
    char line[1280];
    (void)snprintf(line, sizeof(line), "%s -- %s", env, a);
    return run_cli_env(line);
}

static long long sql_int(const char *fmt, ...) GW_PRINTF(1, 2);

static long long sql_int(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return th_sql_int(&db, sql);
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void shuffle(void)
{
    for (int i = n_lines - 1; i > 0; i--) {
        int j = (int)(xorshift() % (uint64_t)(i + 1));
        char *t = lines[i];
        lines[i] = lines[j];
        lines[j] = t;
    }
}

static void write_statement(const char *path)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    (void)fputs("provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency\n",
                f);
    for (int i = 0; i < n_lines; i++) {
        (void)fputs(lines[i], f);
    }
    assert_int_equal(fclose(f), 0);
}

static void add_line(const char *fmt, ...) GW_PRINTF(1, 2);

static void add_line(const char *fmt, ...)
{
    lines[n_lines] = malloc(192);
    assert_non_null(lines[n_lines]);
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(lines[n_lines++], 192, fmt, ap);
    va_end(ap);
}

static void expect(int cat, const char *ref)
{
    expected[n_expected] = malloc(96);
    assert_non_null(expected[n_expected]);
    (void)snprintf(expected[n_expected++], 96, "%s %s", cats[cat], ref);
    want[cat]++;
}

/* The switch's successes of the day -> the provider's statement, with the faults. */
static void build_statement(void)
{
    char sql[512];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT merchant_ref, amount_vnd, provider_txn_id, feegate.ts_text(paid_at) "
                   "FROM feegate.payments WHERE status = 'succeeded' ORDER BY paid_at, id");
    if (db.admin == NULL) {
        assert_int_equal(th_sql_exec(&db, "SELECT 1"), GW_OK);
    }
    PGresult *r = PQexec(db.admin, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), n_pay);
    lines = calloc((size_t)n_pay * 2, sizeof(char *));
    expected = calloc((size_t)n_pay, sizeof(char *));
    assert_non_null(lines);
    assert_non_null(expected);
    for (int i = 0; i < n_pay; i++) {
        const char *ref = PQgetvalue(r, i, 0);
        const char *txn = PQgetvalue(r, i, 2);
        const char *paid = PQgetvalue(r, i, 3);
        long long amt = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        if (i % 100 == 0) {
            expect(2, ref); /* missing at provider */
            continue;
        }
        char booked[40];
        (void)snprintf(booked, sizeof(booked), "%s", paid);
        if (i % 200 == 1) {
            amt += 1000;
            expect(0, ref);
        } else if (i % 200 == 3) {
            (void)snprintf(booked, sizeof(booked), "%sT00:00:%02d+07:00", next_day, i % 50);
            expect(4, ref);
        }
        add_line("%s,%s,payment,%lld,%lld,succeeded,%s,VND\n", txn, ref, amt, amt / 100, booked);
        if (i % 200 == 2) {
            add_line("%s", lines[n_lines - 1]);
            expect(1, ref);
        }
    }
    PQclear(r);
    for (int k = 0; k < n_pay / 100; k++) {
        char ref[40];
        (void)snprintf(ref, sizeof(ref), "FGX%020d", k);
        add_line("X%d,%s,payment,100000,1000,succeeded,%sT12:00:00+07:00,VND\n", k, ref, day);
        expect(3, ref);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void import_file(const char *path, struct ldg_import_result *res)
{
    struct ldg_import_req req = {
        .path = path, .provider = "sandbox", .day = day, .staff = token_of("clerk1")
    };
    req.opts.currency = "VND";
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = ldg_stmt_import_blocking(db.pg.app_dsn, &req, res, &eb);
    if (err != GW_OK) {
        fail_msg("import: %s", eb.msg);
    }
}

static void generate(void)
{
    PGconn *c[2];
    char sql[128];
    for (int k = 0; k < 2; k++) {
        c[k] = PQconnectdb(db.pg.admin_dsn);
        assert_int_equal(PQstatus(c[k]), CONNECTION_OK);
        PGresult *r = PQexec(c[k], gen_fn);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        (void)snprintf(sql, sizeof(sql), "CALL pg_temp.gen('%s', %d, %d, 2)", day, n_pay, k);
        assert_int_equal(PQsendQuery(c[k], sql), 1);
    }
    for (int k = 0; k < 2; k++) {
        PGresult *r;
        while ((r = PQgetResult(c[k])) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fail_msg("generate: %s", PQresultErrorMessage(r));
            }
            PQclear(r);
        }
        PQfinish(c[k]);
    }
    /* The day is complete before it is reconciled: fresh statistics, as the operations guide
     * asks of the daily run (docs/reconciliation.md). Without them the plan of the first
     * match can rest on a histogram taken mid-generation that ends early in the day. */
    assert_int_equal(th_sql_exec(&db, "ANALYZE"), GW_OK);
}

/* ---- the tests ---- */

static void check_stored_run(void);

static void test_generated_day(void **state)
{
    (void)state;
    int64_t t0 = gw_monotonic_us();
    generate();
    print_message("generated %d payments in %.1f s\n", n_pay,
                  (double)(gw_monotonic_us() - t0) / 1e6);
    build_statement();
    qsort(expected, (size_t)n_expected, sizeof(char *), cmp_str);
    size_t cap = (size_t)n_expected * 64 + 1;
    char *want_list = calloc(cap, 1);
    char *got_list = calloc(cap, 1);
    assert_non_null(want_list);
    assert_non_null(got_list);
    size_t used = 0;
    for (int i = 0; i < n_expected; i++) {
        int w = snprintf(want_list + used, cap - used, "%s%s", i > 0 ? "," : "", expected[i]);
        assert_true(w > 0 && (size_t)w < cap - used);
        used += (size_t)w;
    }
    char first[64] = "";
    char digest[64];
    char path[128];
    struct ldg_import_result res;
    for (int k = 0; k < ORDERINGS; k++) {
        t0 = gw_monotonic_us();
        if (k > 0) {
            shuffle();
        }
        (void)snprintf(path, sizeof(path), "%s/statement-%d.csv", dir, k);
        write_statement(path);
        assert_int_equal(th_sql_exec(&db, "DELETE FROM feegate.statement_lines; "
                                          "DELETE FROM feegate.statement_files"),
                         GW_OK);
        import_file(path, &res);
        assert_false(res.replayed);
        assert_int_equal(res.lines_added, n_lines);
        char sql[600];
        (void)snprintf(
            sql, sizeof(sql),
            "SELECT md5(string_agg(concat_ws(' ', category, provider, kind, merchant_ref, "
            "payment_id, statement_amount_vnd, switch_amount_vnd, diff_vnd, line_count, detail), "
            "E'\\n' ORDER BY category, merchant_ref COLLATE \"C\", kind)) "
            "FROM feegate.recon_differences('%s')",
            day);
        assert_int_equal(th_sql_text(&db, sql, digest, sizeof(digest)), GW_OK);
        if (k == 0) {
            (void)snprintf(first, sizeof(first), "%s", digest);
            (void)snprintf(sql, sizeof(sql),
                           "SELECT string_agg(category || ' ' || merchant_ref, ',' ORDER BY "
                           "category || ' ' || merchant_ref COLLATE \"C\") "
                           "FROM feegate.recon_differences('%s')",
                           day);
            assert_int_equal(th_sql_text(&db, sql, got_list, cap), GW_OK);
            assert_string_equal(got_list, want_list);
        }
        assert_string_equal(digest, first);
        print_message("ordering %d: %d lines, same result (%s) in %.1f s\n", k, n_lines, digest,
                      (double)(gw_monotonic_us() - t0) / 1e6);
    }
    /* The same file again, and the first ordering again: nothing added. */
    long long before = sql_int("SELECT count(*) FROM feegate.statement_lines");
    import_file(path, &res);
    assert_true(res.replayed);
    assert_int_equal(res.lines_added, 0);
    (void)snprintf(path, sizeof(path), "%s/statement-0.csv", dir);
    import_file(path, &res);
    assert_false(res.replayed);
    assert_int_equal(res.lines_added, 0);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.statement_lines"), before);
    free(want_list);
    free(got_list);
    check_stored_run();
}

/* The stored run, from the command line: the same counts, open. */
static void check_stored_run(void)
{
    char args[256];
    (void)snprintf(args, sizeof(args), "recon run %s --staff clerk1", day);
    assert_int_equal(run_cli(args), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "timezone")), "Asia/Ho_Chi_Minh");
    const json_t *by = json_object_get(j, "by_category");
    for (int c = 0; c < 6; c++) {
        assert_int_equal(json_integer_value(json_object_get(by, cats[c])), want[c]);
    }
    assert_int_equal(json_integer_value(json_object_get(j, "open_exceptions")), n_expected);
    json_decref(j);
}

static long long exception_of(const char *cat, int nth)
{
    return sql_int("SELECT id FROM feegate.recon_exceptions WHERE category = '%s' "
                   "AND state = 'open' ORDER BY merchant_ref OFFSET %d LIMIT 1",
                   cat, nth);
}

/* Everything a finance command may change, as one string: the ledger's journals and
 * postings, payments' histories, and every reconciliation table. */
static void fingerprint(char *fp, size_t cap)
{
    static const char sql[] =
        "SELECT concat_ws(',', (SELECT count(*) FROM feegate.journals), "
        "(SELECT max(id) FROM feegate.postings), (SELECT count(*) FROM feegate.payment_events), "
        "(SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM feegate.recon_exceptions x), "
        "(SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM feegate.recon_actions x), "
        "(SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM feegate.statement_files x), "
        "(SELECT count(*) FROM feegate.statement_lines), "
        "(SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM feegate.recon_runs x), "
        "(SELECT md5(string_agg(x::text, '' ORDER BY x.day)) FROM feegate.business_days x), "
        "(SELECT count(*) FROM feegate.day_reports), "
        "(SELECT md5(string_agg(x::text, '' ORDER BY x.id)) FROM feegate.staff x))";
    assert_int_equal(th_sql_text(&db, sql, fp, cap), GW_OK);
}

/* A refused command: exit 1, its reason printed, nothing changed. */
static void refused(const char *args, const char *reason)
{
    char a[512];
    char b[512];
    fingerprint(a, sizeof(a));
    int rc = run_cli(args);
    if (rc == 0 || strstr(out, reason) == NULL) {
        fail_msg("`feegate %s` exit %d, wanted \"%s\" in: %s", args, rc, reason, out);
    }
    fingerprint(b, sizeof(b));
    assert_string_equal(a, b);
}

static void test_resolution(void **state)
{
    (void)state;
    char args[512];
    long long wo = exception_of("missing_at_provider", 0);
    (void)snprintf(args, sizeof(args), "recon resolve %lld write_off --staff appr1 --note lost",
                   wo);
    assert_int_equal(run_cli(args), 0);
    assert_non_null(strstr(out, "pending_approval"));
    (void)snprintf(args, sizeof(args), "recon approve %lld --staff appr1", wo);
    refused(args, "same_person");
    (void)snprintf(args, sizeof(args), "recon approve %lld --staff clerk1", wo);
    refused(args, "needs approver");
    (void)snprintf(args, sizeof(args), "recon approve %lld --staff appr2", wo);
    assert_int_equal(run_cli(args), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.journals WHERE kind = 'write_off' "
                             "AND maker = 'appr1' AND checker = 'appr2'"),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_exceptions WHERE id = %lld "
                             "AND state = 'resolved'",
                             wo),
                     1);
    refused(args, "exception_resolved");

    long long am = exception_of("amount_mismatch", 0);
    (void)snprintf(args, sizeof(args), "recon resolve %lld suspense --staff clerk1", am);
    assert_int_equal(run_cli(args), 0);
    assert_int_equal(sql_int("SELECT -sum(p.amount_vnd) FROM feegate.postings p JOIN "
                             "feegate.recon_actions a ON a.journal_id = p.journal_id "
                             "WHERE a.exception_id = %lld AND p.account_code = "
                             "'suspense:sandbox'",
                             am),
                     1000);
    am = exception_of("amount_mismatch", 0);
    (void)snprintf(args, sizeof(args),
                   "recon resolve %lld correct --staff clerk1 --account nosuch:account", am);
    refused(args, "unknown_account");
    /* A correction with money is asked by one and posted by another (maker and checker). */
    (void)snprintf(args, sizeof(args),
                   "recon resolve %lld correct --staff clerk1 --account fees:sandbox", am);
    assert_int_equal(run_cli(args), 0);
    assert_non_null(strstr(out, "pending_approval"));
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.journals WHERE kind = "
                             "'recon_correction'"),
                     0);
    (void)snprintf(args, sizeof(args), "recon approve %lld --staff clerk1", am);
    refused(args, "needs approver");
    (void)snprintf(args, sizeof(args), "recon approve %lld --staff appr1", am);
    assert_int_equal(run_cli(args), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.journals WHERE kind = "
                             "'recon_correction' AND maker = 'clerk1' AND checker = 'appr1'"),
                     1);

    long long ms = exception_of("missing_at_switch", 0);
    (void)snprintf(args, sizeof(args), "recon resolve %lld query --staff aud1", ms);
    refused(args, "needs clerk or approver");
    (void)snprintf(args, sizeof(args), "recon resolve %lld query --staff clerk1", ms);
    assert_int_equal(run_cli(args), 0);
    (void)snprintf(args, sizeof(args),
                   "recon answer %lld '{\"status\":\"not_found\"}' --staff clerk1", ms);
    assert_int_equal(run_cli(args), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_actions WHERE exception_id = "
                             "%lld AND action IN ('query', 'apply_answer')",
                             ms),
                     2);
    long long od = exception_of("out_of_day", 0);
    (void)snprintf(args, sizeof(args), "recon resolve %lld correct --staff clerk1 --note ok", od);
    assert_int_equal(run_cli(args), 0);
    assert_non_null(strstr(out, "\"state\": \"resolved\""));
    (void)snprintf(args, sizeof(args), "recon resolve %lld bribe --staff clerk1", od + 1);
    refused(args, "invalid_action");
}

/* A statement as the application role (the gateway's login): the SQLSTATE it failed with,
 * "" when it succeeded (a static buffer). */
static const char *app_state(const char *sql)
{
    static char state[6];
    PGconn *c = PQconnectdb(db.pg.app_dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    (void)snprintf(state, sizeof(state), "%s", got != NULL ? got : "");
    if (got == NULL) {
        print_error("%s: succeeded\n", sql);
    }
    PQclear(r);
    PQfinish(c);
    return state;
}

/* The controls of docs/console.md#controls, each tried around: nothing changes. */
static void test_controls(void **state)
{
    (void)state;
    char sql[512];
    char args[512];
    char a[512];
    char b[512];
    char line[600];
    long long id = exception_of("amount_mismatch", 0);
    fingerprint(a, sizeof(a));
    /* 1. A clerk alone cannot post a correction: to a write-off or suspense account it is
     * refused outright, to any other account it waits for a checker (test_resolution). */
    (void)snprintf(sql, sizeof(sql),
                   "SELECT feegate.recon_resolve(%lld, 'correct', '%s', 'x', 'writeoff:sandbox')",
                   id, token_of("clerk1"));
    assert_string_equal(app_state(sql), "FG422");
    (void)snprintf(args, sizeof(args),
                   "recon resolve %lld correct --staff clerk1 --account writeoff:sandbox", id);
    refused(args, "account_not_allowed");
    (void)snprintf(args, sizeof(args),
                   "recon resolve %lld correct --staff appr1 --account suspense:sandbox", id);
    refused(args, "account_not_allowed");
    /* An auditor reads in its session. */
    (void)snprintf(args, sizeof(args), "recon exceptions %s --staff aud1", day);
    assert_int_equal(run_cli(args), 0);
    assert_non_null(strstr(out, "\"exceptions\""));
    /* Without any session the application role acts as no one. */
    (void)snprintf(line, sizeof(line), "-- recon resolve %lld write_off", id);
    assert_int_not_equal(run_cli_env(line), 0);
    assert_non_null(strstr(out, "not_signed_in"));
    /* 3. The application role naming an approver: a staff id is no session. */
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.recon_approve(%lld, 'appr2')", id);
    assert_string_equal(app_state(sql), "FG401");
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.day_close('%s', 'appr2', true)", day);
    assert_string_equal(app_state(sql), "FG401");
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.recon_approve(%lld, '%s')", id,
                   token_of("clerk1"));
    assert_string_equal(app_state(sql), "FG403");
    /* Nor can it read the staff, the sessions, or write the audit log. */
    assert_string_equal(app_state("SELECT password_hash FROM feegate.staff"), "42501");
    assert_string_equal(app_state("SELECT token_sha256 FROM feegate.staff_sessions"), "42501");
    fingerprint(b, sizeof(b));
    assert_string_equal(a, b);
}

/* The controls of the command line, and the audit log. */
static void test_controls_cli(void **state)
{
    (void)state;
    char args[512];
    long long id = exception_of("amount_mismatch", 0);
    /* 2. --staff on the command line without a password and a code, or with a wrong one. */
    (void)snprintf(args, sizeof(args), "recon resolve %lld write_off --staff clerk1", id);
    char line[768];
    (void)snprintf(line, sizeof(line), "-- %s", args);
    assert_int_not_equal(run_cli_env(line), 0);
    assert_non_null(strstr(out, "needs a password and a one-time code"));
    char code[7];
    assert_int_equal(th_staff_code(&staff[0], 1, code), GW_OK);
    (void)snprintf(line, sizeof(line),
                   "FEEGATE_STAFF_PASSWORD='not the password 1' FEEGATE_STAFF_TOTP=%s -- %s", code,
                   args);
    assert_int_not_equal(run_cli_env(line), 0);
    assert_non_null(strstr(out, "sign-in of clerk1 refused"));
    /* 4. The audit log: written by the functions, with who, from where, before and after;
     * the application role cannot change it, and the owner's change is refused by its
     * trigger. */
    assert_true(sql_int("SELECT count(*) FROM feegate.audit_log WHERE staff_id = 'appr1' AND "
                        "action = 'recon_approve:correct' AND before ->> 'state' = 'open' AND "
                        "after ->> 'state' = 'resolved' AND from_addr LIKE 'cli:%%' AND "
                        "session_id IS NOT NULL") == 1);
    assert_true(sql_int("SELECT count(*) FROM feegate.audit_log WHERE action = 'sign_in'") >=
                N_STAFF);
    long long n = sql_int("SELECT count(*) FROM feegate.audit_log");
    assert_string_equal(app_state("UPDATE feegate.audit_log SET staff_id = 'appr2'"), "42501");
    assert_string_equal(app_state("DELETE FROM feegate.audit_log"), "42501");
    assert_string_equal(app_state("TRUNCATE feegate.audit_log"), "42501");
    assert_string_equal(app_state("INSERT INTO feegate.audit_log (action) VALUES ('forged')"),
                        "42501");
    assert_int_not_equal(th_sql_exec(&db, "UPDATE feegate.audit_log SET staff_id = 'appr2'"),
                         GW_OK);
    assert_int_not_equal(th_sql_exec(&db, "DELETE FROM feegate.audit_log"), GW_OK);
    assert_int_not_equal(th_sql_exec(&db, "TRUNCATE feegate.audit_log"), GW_OK);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.audit_log"), n);
}

static void test_bad_input(void **state)
{
    (void)state;
    char args[512];
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/bad.csv", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    (void)fprintf(f,
                  "provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,"
                  "currency\nT1,FGNEW1,payment,1000,0,succeeded,%s,VND\n"
                  "T2,FGNEW2,payment,-5,0,succeeded,%s,VND\n",
                  day, day);
    assert_int_equal(fclose(f), 0);
    (void)snprintf(args, sizeof(args), "statement import %s --provider sandbox --date %s", path,
                   day);
    refused(args, "line 3: amount \"-5\"");
    (void)snprintf(args, sizeof(args), "statement import %s --provider sandbox --date 2026-02-30",
                   path);
    refused(args, "not a date");
    (void)snprintf(args, sizeof(args),
                   "statement import %s/statement-0.csv --provider nosuch --date %s", dir, day);
    refused(args, "unknown_provider");
    (void)snprintf(args, sizeof(args),
                   "statement import %s/tests/fixtures/camt053/synthetic-eur.v06.xml "
                   "--provider sandbox --date %s --format camt053",
                   FEEGATE_SOURCE_DIR, day);
    refused(args, "currency EUR refused");
    refused("recon run 2099-01-01 --staff clerk1", "invalid_day");
    refused("recon run yesterday", "not a date");
    refused("recon exceptions 2026-13-01", "not a date");
}

static void test_close_day(void **state)
{
    (void)state;
    char args[512];
    char path[160];
    (void)snprintf(args, sizeof(args), "day close %s --staff appr1 --out-dir %s", day, dir);
    refused(args, "open_exceptions");
    (void)snprintf(args, sizeof(args), "day close %s --staff clerk1 --carry-forward", day);
    refused(args, "needs approver");
    (void)snprintf(args, sizeof(args), "day close %s --staff appr1 --carry-forward --out-dir %s",
                   day, dir);
    assert_int_equal(run_cli(args), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.business_days WHERE day = '%s' "
                             "AND status = 'closed'",
                             day),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_exceptions WHERE "
                             "business_day = '%s' AND state = 'open'",
                             day),
                     0);
    static const char *const ext[] = { "json", "csv", "html" };
    for (int i = 0; i < 3; i++) {
        struct stat sb;
        (void)snprintf(path, sizeof(path), "%s/report-%s.%s", dir, day, ext[i]);
        assert_int_equal(stat(path, &sb), 0);
        assert_true(sb.st_size > 200);
    }
    char cmd[320];
    (void)snprintf(cmd, sizeof(cmd), "grep -c '<svg' %s/report-%s.html >%s/out", dir, day, dir);
    assert_int_equal(system(cmd), 0);
    (void)snprintf(cmd, sizeof(cmd), "grep -q 'Asia/Ho_Chi_Minh' %s/report-%s.html", dir, day);
    assert_int_equal(system(cmd), 0);
    (void)snprintf(cmd, sizeof(cmd),
                   "grep -q '^%s,Asia/Ho_Chi_Minh,totals,\"\",\"\",%d,' "
                   "%s/report-%s.csv",
                   day, n_pay, dir, day);
    assert_int_equal(system(cmd), 0);

    (void)snprintf(args, sizeof(args), "day close %s --staff appr2 --carry-forward", day);
    refused(args, "day_closed");
    (void)snprintf(args, sizeof(args), "recon run %s --staff clerk1", day);
    refused(args, "day_closed");
    (void)snprintf(args, sizeof(args),
                   "statement import %s/statement-3.csv --provider sandbox "
                   "--date %s",
                   dir, day);
    refused(args, "day_closed");
    char sql[400];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT feegate.post_journal('test', NULL, 'back-dated', '[{\"account\":"
                   "\"bank:operating\",\"amount_vnd\":5},{\"account\":\"equity:opening\","
                   "\"amount_vnd\":-5}]', '%s')",
                   day);
    assert_int_not_equal(th_sql_exec(&db, sql), GW_OK);
    (void)snprintf(args, sizeof(args), "day report %s --format html --out %s/again.html", day, dir);
    assert_int_equal(run_cli(args), 0);
    assert_int_equal(th_ledger_check(&db), 0);
}

/* ZaloPay's statement names each payment by its app_trans_id, "yymmdd_" + the switch's
 * reference (docs/providers.md#zalopay-create). Four ZaloPay payments paid two days ago, the
 * statement in ZaloPay's JSON lines with one amount changed: the matching finds that one
 * difference and nothing else (not a false pair of missing at the switch and at the provider
 * for every payment). */
static void test_zalopay_day(void **state)
{
    (void)state;
    char day2[16];
    char sql[1600];
    char path[128];
    char args[320];
    assert_int_equal(th_sql_text(&db,
                                 "SELECT ((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 2)::text",
                                 day2, sizeof(day2)),
                     GW_OK);
    (void)snprintf(
        sql, sizeof(sql),
        "DO $$ DECLARE v_pay text; v_ref text; BEGIN FOR i IN 1..4 LOOP "
        "SELECT (body::jsonb) ->> 'payment_id' INTO v_pay FROM "
        "feegate.api_create_payment('" TH_CLIENT_A_ID
        "', NULL, NULL, jsonb_build_object('order_ref', 'ZLP-' || i, 'agency_code', 'STP-HN', "
        "'amount_vnd', 200000, 'items', jsonb_build_array(jsonb_build_object('fee_code', "
        "'LLTP', 'amount_vnd', 200000))), 'http://127.0.0.1:9'); "
        "v_ref := feegate.checkout_begin(v_pay, 'zalopay', 'http://127.0.0.1:9') ->> "
        "'merchant_ref'; "
        "PERFORM feegate.apply_provider_result('zalopay', v_ref, 'succeeded', 200000, "
        "'2106' || i, feegate.recon_day_start('%s') + i * interval '1 hour', 'gen', ''); "
        "END LOOP; END $$",
        day2);
    assert_int_equal(th_sql_exec(&db, sql), GW_OK);
    /* The statement as ZaloPay writes it; the fourth payment's amount differs. */
    (void)snprintf(
        sql, sizeof(sql),
        "SELECT string_agg(json_build_object('type', 'payment', 'app_id', 2553, "
        "'app_trans_id', to_char(a.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYMMDD') || '_' "
        "|| a.merchant_ref, 'zp_trans_id', p.provider_txn_id::bigint, 'amount', p.amount_vnd + "
        "CASE WHEN p.order_ref = 'ZLP-4' THEN 1000 ELSE 0 END, 'fee_amount', 2000, "
        "'server_time', (extract(epoch FROM p.paid_at) * 1000)::bigint, 'status', 1)::text, "
        "E'\\n' ORDER BY p.order_ref) || E'\\n' FROM feegate.payments p "
        "JOIN feegate.payment_attempts a ON a.payment_id = p.id WHERE p.channel = 'zalopay'");
    char *jsonl = calloc(1, 8192);
    assert_non_null(jsonl);
    assert_int_equal(th_sql_text(&db, sql, jsonl, 8192), GW_OK);
    assert_non_null(strstr(jsonl, "_FG"));
    (void)snprintf(path, sizeof(path), "%s/zalopay-%s.jsonl", dir, day2);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    (void)fputs(jsonl, f);
    assert_int_equal(fclose(f), 0);
    free(jsonl);
    (void)snprintf(args, sizeof(args),
                   "statement import %s --provider zalopay --format zalopay --date %s "
                   "--staff clerk1",
                   path, day2);
    assert_int_equal(run_cli(args), 0);
    (void)snprintf(args, sizeof(args), "recon run %s --staff clerk1", day2);
    assert_int_equal(run_cli(args), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "switch_payments")), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "differences")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "by_category"), "amount_mismatch")),
        1);
    json_decref(j);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_exceptions e JOIN "
                             "feegate.payments p ON p.id = e.payment_id WHERE e.business_day = "
                             "'%s' AND e.category = 'amount_mismatch' AND p.order_ref = 'ZLP-4' "
                             "AND e.diff_vnd = 1000",
                             day2),
                     1);
}

static char fin_url[128];
static char fin_token[80];

static void fin_use(const char *id)
{
    (void)snprintf(fin_token, sizeof(fin_token), "%s", token_of(id));
}

struct fin_req {
    const char *method;
    const char *path;
    const char *body; /* or NULL */
};

/* A finance API request to fin_url with the session token (none when fin_token is empty). */
static enum gw_err fin_send(const struct fin_req *q, struct th_resp *r)
{
    const char *method = q->method;
    const char *body = q->body;
    char url[320];
    char auth[128];
    (void)snprintf(url, sizeof(url), "%s%s", fin_url, q->path);
    (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", fin_token);
    const char *h[] = { auth, "Content-Type: application/json", NULL };
    return th_http(method, url, fin_token[0] != '\0' ? h : h + 1, body,
                   body != NULL ? strlen(body) : 0, r);
}

static void test_finance_api(void **state)
{
    (void)state;
    struct th_gateway gw = { 0 };
    assert_int_equal(th_gateway_start(&gw, &db, NULL), GW_OK);
    (void)snprintf(fin_url, sizeof(fin_url), "%s", gw.url);
    struct th_resp r;
    char path[160];
    fin_use("aud1");
    assert_int_equal(fin_send(&(struct fin_req){ "GET", "/v1/finance/days", NULL }, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, day));
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/v1/finance/days/%s/exceptions", day);
    assert_int_equal(fin_send(&(struct fin_req){ "GET", path, NULL }, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "carried_forward"));
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/v1/finance/days/%s/report?format=html", day);
    assert_int_equal(fin_send(&(struct fin_req){ "GET", path, NULL }, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/html"));
    assert_non_null(strstr(r.body, "<svg"));
    th_resp_release(&r);
    long long id = sql_int("SELECT min(id) FROM feegate.recon_exceptions WHERE state = "
                           "'carried_forward'");
    (void)snprintf(path, sizeof(path), "/v1/finance/exceptions/%lld/resolve", id);
    assert_int_equal(fin_send(&(struct fin_req){ "POST", path, "{\"action\":\"query\"}" }, &r),
                     GW_OK);
    assert_int_equal(r.status, 403);
    th_resp_release(&r);
    fin_use("clerk1");
    assert_int_equal(fin_send(&(struct fin_req){ "POST", path, "{\"action\":\"query\"}" }, &r),
                     GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "requested"));
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/v1/finance/days/%s/close", day);
    assert_int_equal(fin_send(&(struct fin_req){ "POST", path, "{}" }, &r), GW_OK);
    assert_int_equal(r.status, 403); /* a clerk does not close days */
    th_resp_release(&r);
    /* A token that is no session, no token, and a portal client's signature: 401. */
    (void)snprintf(fin_token, sizeof(fin_token), "%064d", 7);
    assert_int_equal(fin_send(&(struct fin_req){ "GET", "/v1/finance/days", NULL }, &r), GW_OK);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "not_signed_in"));
    th_resp_release(&r);
    fin_token[0] = '\0';
    assert_int_equal(fin_send(&(struct fin_req){ "GET", "/v1/finance/days", NULL }, &r), GW_OK);
    assert_int_equal(r.status, 401);
    th_resp_release(&r);
    th_portal_use(gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    assert_int_equal(th_portal("GET", "/v1/finance/days", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 401);
    th_resp_release(&r);
    assert_int_equal(th_gateway_stop(&gw), GW_OK);
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("FEEGATE_RECON_PAYMENTS");
    n_pay = env != NULL ? (int)strtol(env, NULL, 10) : RECON_PAYMENTS;
    n_pay = n_pay < 1000 ? 1000 : n_pay - n_pay % 200;
    out = calloc(OUT_BYTES, 1);
    (void)snprintf(dir, sizeof(dir), "/tmp/fg-recon-XXXXXX");
    if (out == NULL || mkdtemp(dir) == NULL || th_db_start(&db) != GW_OK) {
        return -1;
    }
    /* recon_differences is internal: it runs with its caller's search_path. */
    if (th_sql_exec(&db, "SET search_path = feegate, public") != GW_OK) {
        return -1;
    }
    for (int i = 0; i < N_STAFF; i++) {
        (void)snprintf(staff[i].id, sizeof(staff[i].id), "%s", staff_ids[i]);
        (void)snprintf(staff[i].role, sizeof(staff[i].role), "%s", staff_roles[i]);
        if (th_staff_add(&db, &staff[i]) != GW_OK || th_staff_sign_in(&db, &staff[i], 0) != GW_OK) {
            return -1;
        }
    }
    if (th_sql_text(&db, "SELECT ((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 1)::text", day,
                    sizeof(day)) != GW_OK ||
        th_sql_text(&db, "SELECT ((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)::text", next_day,
                    sizeof(next_day)) != GW_OK) {
        return -1;
    }
    print_message("business day %s (Asia/Ho_Chi_Minh), %d payments, files in %s\n", day, n_pay,
                  dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        return -1;
    }
    return th_db_stop(&db) == GW_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_day), cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_controls),      cmocka_unit_test(test_controls_cli),
        cmocka_unit_test(test_bad_input),     cmocka_unit_test(test_close_day),
        cmocka_unit_test(test_zalopay_day),   cmocka_unit_test(test_finance_api),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
