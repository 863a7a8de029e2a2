/* fg_sim: the seeded deterministic simulation of the payment core (docs/simulation.md).
 *
 * One PostgreSQL cluster (the harness's th_db_start: migrated, demo catalogue) gets the
 * simulation's catalogue, and one database per worker is copied from it. Each seed runs in
 * one transaction of its worker's database, rolled back at its end, so every seed starts
 * from the same state whichever worker runs it: a seed's steps and answers depend on the seed
 * alone. A step draws what to do from the seed's PRNG, calls the real SQL functions as the
 * gateway's role, and the ledger is compared with the reference model (sim_model.h) after
 * every step and in full at the end of the seed, where ledger_check() runs too.
 *
 *   fg_sim [--seeds N] [--first S] [--steps N] [--jobs N] [--mutate NAME] [--verbose]
 *   fg_sim --seed S [--steps N] [--mutate NAME] [--verbose]
 *
 * Exit 0 when every seed passed, 1 when one failed (the seed, its step, the steps so far,
 * the difference and the command that replays it are printed), 2 when the simulation could
 * not run. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sim_int.h"
#include "th.h"

#include "banned.h"

#define SIM_JOBS_MAX     16
#define SIM_VACUUM_EVERY 25 /* seeds between two VACUUMs of a worker's database */

const char *const ss_kind_name[SS_KINDS] = {
    "create",      "create_retry", "checkout",     "provider",      "deliver",
    "forge",       "recovery",     "expire",       "tick",          "cancel",
    "refund",      "refund_retry", "refund_query", "refund_decide", "settle",
    "refund_paid", "topup",        "day_close",    "read",          "overpay"
};

static int (*const sim_step_fn[SS_KINDS])(struct ss_ctx *) = {
    ss_create,      ss_create_retry, ss_checkout,     ss_provider,      ss_deliver,
    ss_forge,       ss_recovery,     ss_expire,       ss_tick,          ss_cancel,
    ss_refund,      ss_refund_retry, ss_refund_query, ss_refund_decide, ss_settle,
    ss_refund_paid, ss_topup,        ss_day_close,    ss_read,          ss_overpay
};

struct sim_opts {
    uint64_t first;
    long seeds;
    int steps;
    int jobs;
    bool single;
    bool verbose;
    const char *mutate;
};

/* A planted bug: one posting function of the throwaway database replaced by a mutated copy
 * (pg_get_functiondef with one textual replacement), for the test that shows the simulation
 * catches it (ctest sim_planted_bug). */
struct sim_mutation {
    const char *name;
    const char *function; /* regprocedure */
    const char *from, *to;
    const char *what;
};

static const struct sim_mutation sim_mutations[] = {
    { "refund-remainder", "feegate.ledger_refund(text,bigint,text,text)", "WHEN rn = 1",
      "WHEN rn = 0",
      "a partial refund loses the remainder of its split (no account takes it): balanced, "
      "the wrong amount" },
    { "refund-account", "feegate.ledger_refund(text,bigint,text,text)",
      "THEN 'refunds:' ELSE 'clearing:' END", "THEN 'clearing:' ELSE 'clearing:' END",
      "a refund after settlement is credited to clearing instead of refunds" },
    { "overpayment", "feegate.apply_event(text,text,jsonb)",
      "PERFORM overpayment_book(p_payment_id, p_data);",
      "NULL; -- PERFORM overpayment_book(p_payment_id, p_data);",
      "a second success of a paid payment is answered applied but not booked (no overpayment "
      "journal, nothing owed back)" },
};

static void ss_swarm_draw(struct ss_swarm *s, uint64_t seed)
{
    struct sm_rng r;
    sm_rng_seed(&r, seed ^ 0x5157a12d0c0ffeeULL); /* a stream of its own */
    static const int lost[] = { 0, 5, 20, 50 };
    static const int dup[] = { 0, 10, 30 };
    static const int err[] = { 0, 10, 40 };
    static const int over[] = { 0, 5, 25 };
    static const int rf_lost[] = { 0, 10, 30 };
    static const int crash[] = { 0, 5, 15 };
    static const int bad[] = { 0, 5, 15 };
    static const int double_pay[] = { 0, 30, 70 };
    /* The base weights keep a payment's own path (checkout, the provider, its callbacks)
     * busy enough that most payments reach an outcome within 200 steps. */
    static const int base[SS_KINDS] = {
        3, 1, 4, 6, 5, 1, 2, 2, 3, 1, 3, 1, 2, 1, 3, 2, 1, 1, 1, 2
    };
    for (int k = 0; k < SS_KINDS; k++) {
        s->weight[k] = sm_rng_pct(&r, 12) ? 0 : base[k] * (int)sm_rng_range(&r, 1, 10);
    }
    s->weight[SS_CREATE] = base[SS_CREATE] * (int)sm_rng_range(&r, 3, 10); /* always on */
    s->p_lost = lost[sm_rng_below(&r, 4)];
    s->p_dup = dup[sm_rng_below(&r, 3)];
    s->p_query_error = err[sm_rng_below(&r, 3)];
    s->p_window_over = over[sm_rng_below(&r, 3)];
    s->p_rf_lost = rf_lost[sm_rng_below(&r, 3)];
    s->p_rf_crash = crash[sm_rng_below(&r, 3)];
    s->p_bad = bad[sm_rng_below(&r, 3)];
    s->p_double_pay = double_pay[sm_rng_below(&r, 3)];
}

static bool ss_run_step(struct ss_ctx *x, enum ss_kind k)
{
    x->n_touch = 0;
    x->touch_all = false;
    memcpy(x->bal_before, x->w.bal, sizeof(x->bal_before));
    int rc = sim_step_fn[k](x);
    if (rc < 0 || x->failed) {
        return false;
    }
    return rc == 0 || ss_compare(x, false);
}

static enum ss_kind sim_draw_kind(struct ss_ctx *x)
{
    int total = 0;
    for (int k = 0; k < SS_KINDS; k++) {
        total += x->swarm.weight[k];
    }
    int v = (int)sm_rng_below(&x->rng, (uint64_t)total);
    for (int k = 0; k < SS_KINDS; k++) {
        if (v < x->swarm.weight[k]) {
            return (enum ss_kind)k;
        }
        v -= x->swarm.weight[k];
    }
    return SS_CREATE;
}

static void sim_report(const struct ss_ctx *x, const struct sim_opts *o, int steps)
{
    const struct ss_swarm *s = &x->swarm;
    fprintf(stderr, "\nFAIL seed %llu at step %d of %d: %s\n", (unsigned long long)x->w.seed,
            x->step, steps, x->why);
    fprintf(stderr,
            "swarm: lost %d%% dup %d%% query_error %d%% window_over %d%% rf_lost %d%% "
            "rf_crash %d%% bad %d%% double_pay %d%%; weights",
            s->p_lost, s->p_dup, s->p_query_error, s->p_window_over, s->p_rf_lost, s->p_rf_crash,
            s->p_bad, s->p_double_pay);
    for (int k = 0; k < SS_KINDS; k++) {
        fprintf(stderr, " %s=%d", ss_kind_name[k], s->weight[k]);
    }
    fprintf(stderr, "\nsteps so far:\n");
    for (int i = 0; i < x->n_log; i++) {
        fprintf(stderr, "  %s\n", x->log[i]);
    }
    fprintf(stderr, "replay: tests/sim/run.sh --seed %llu --steps %d%s%s\n\n",
            (unsigned long long)x->w.seed, steps, o->mutate ? " --mutate " : "",
            o->mutate ? o->mutate : "");
}

static char sim_log_lines[SS_STEPS_MAX][SS_LOG_LINE];
static struct ss_ctx sim_ctx;

/* One seed in one transaction, rolled back. 0 passed, 1 failed, 2 could not run. */
static int sim_run_seed(PGconn *c, uint64_t seed, const struct sim_opts *o)
{
    struct ss_ctx *x = &sim_ctx;
    memset(x, 0, sizeof(*x));
    x->c = c;
    x->verbose = o->verbose;
    x->log = sim_log_lines;
    sm_world_init(&x->w, seed);
    sm_rng_seed(&x->rng, seed);
    ss_swarm_draw(&x->swarm, seed);
    char err[512];
    if (!sp_exec(c, "BEGIN", err, sizeof(err))) {
        fprintf(stderr, "fg_sim: BEGIN: %s", err);
        return 2;
    }
    /* The approver's session is live at the seed's now(), whenever the seed runs. */
    if (!sp_exec(c,
                 "UPDATE feegate.staff_sessions SET last_seen_at = now(), "
                 "expires_at = now() + interval '1 day'",
                 err, sizeof(err))) {
        fprintf(stderr, "fg_sim: the approver's session: %s", err);
        return 2;
    }
    bool ok = true;
    for (x->step = 1; ok && x->step <= o->steps; x->step++) {
        ok = ss_run_step(x, sim_draw_kind(x));
    }
    if (ok) {
        x->step = o->steps;
        ss_log(x, "end of seed: full comparison and ledger_check()");
        ok = ss_compare(x, true) && ss_ledger_check(x);
    } else {
        x->step--;
    }
    if (!sp_exec(c, "ROLLBACK", err, sizeof(err))) {
        fprintf(stderr, "fg_sim: ROLLBACK: %s", err);
        return 2;
    }
    if (!ok) {
        sim_report(x, o, o->steps);
        return 1;
    }
    return 0;
}

/* The superuser's DSN of the cluster (the harness's), set once by main. */
static const char *sim_admin_dsn;

static PGconn *sim_connect(const char *dbname)
{
    const char *dsn = sim_admin_dsn;
    const char *const keys[] = { "dbname", "dbname", NULL };
    const char *const vals[] = { dsn, dbname, NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "fg_sim: could not connect to %s: %s", dbname, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* The CPU seconds the session's backend has used (/proc, Linux), or -1. */
static double sim_backend_cpu_s(PGconn *c)
{
    char path[64];
    char buf[1024];
    (void)snprintf(path, sizeof(path), "/proc/%d/stat", PQbackendPID(c));
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the fields after the command name */
    if (!p) {
        return -1;
    }
    /* utime and stime are the 12th and 13th fields after it (proc(5)) */
    unsigned long long ticks = 0;
    for (int field = 1; field <= 13 && *p; field++) {
        while (*p && *p != ' ') {
            p++;
        }
        while (*p == ' ') {
            p++;
        }
        if (field >= 12) {
            ticks += strtoull(p, NULL, 10);
        }
    }
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* The worker's seeds: first + k, first + k + jobs, ... */
static int sim_worker(int k, const struct sim_opts *o)
{
    char dbname[32];
    char err[512];
    (void)snprintf(dbname, sizeof(dbname), "sim_w%d", k);
    PGconn *c = sim_connect(dbname);
    if (!c) {
        return 2;
    }
    int rc = 0;
    long n = 0;
    for (long i = k; i < o->seeds && rc == 0; i += o->jobs) {
        rc = sim_run_seed(c, o->first + (uint64_t)i, o);
        if (rc == 0 && ++n % SIM_VACUUM_EVERY == 0 && !sp_exec(c, "VACUUM", err, sizeof(err))) {
            fprintf(stderr, "fg_sim: VACUUM: %s", err);
            rc = 2;
        }
    }
    if (rc == 0) {
        printf("fg_sim: worker %d: %ld seeds, its database session used %.1f s of CPU\n", k, n,
               sim_backend_cpu_s(c));
    }
    PQfinish(c);
    return rc;
}

/* The simulation's catalogue, written from the model's tables (sim_model.c) so that both
 * always describe the same fees, splits and channels. */
static bool sim_catalogue(PGconn *c)
{
    char sql[8192];
    char err[512];
    size_t o = (size_t)snprintf(
        sql, sizeof(sql),
        "SET search_path = feegate; BEGIN; "
        "INSERT INTO receipt_series (template, series) VALUES ('01BLP0-001', 'SM-26E'), "
        "('01BLP0-001', 'SN-26E'); "
        "INSERT INTO agencies (code, name, tax_code, receipt_template, receipt_series) VALUES "
        "('SIM-A', 'Simulated agency A', '0100000001', '01BLP0-001', 'SM-26E'), "
        "('SIM-B', 'Simulated agency B', '0100000002', '01BLP0-001', 'SN-26E'); ");
    for (int t = 0; t < SM_TREASURIES; t++) {
        o += (size_t)snprintf(sql + o, sizeof(sql) - o,
                              "INSERT INTO treasury_accounts VALUES ('%s', '%s', 'account %s', "
                              "'KBNN', '%d'); ",
                              sm_treasury_code[t], sm_agency_code[t < 3 ? 0 : 1],
                              sm_treasury_code[t], t);
    }
    for (int i = 0; i < SM_FEES; i++) {
        const struct sm_fee *f = &sm_fees[i];
        char list[64] = "NULL";
        char step[24] = "NULL";
        if (f->amounts_vnd) {
            size_t l = (size_t)snprintf(list, sizeof(list), "'{");
            for (int j = 0; f->amounts_vnd[j]; j++) {
                l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%lld", j ? "," : "",
                                      (long long)f->amounts_vnd[j]);
            }
            (void)snprintf(list + l, sizeof(list) - l, "}'");
        }
        if (f->step_vnd) {
            (void)snprintf(step, sizeof(step), "%lld", (long long)f->step_vnd);
        }
        o += (size_t)snprintf(sql + o, sizeof(sql) - o,
                              "INSERT INTO fees VALUES ('%s', '%s', 'fee %s', %lld, %lld, %s, "
                              "%s); ",
                              sm_agency_code[f->agency], f->code, f->code, (long long)f->min_vnd,
                              (long long)f->max_vnd, list, step);
        for (int s = 0; s < f->n_splits; s++) {
            o += (size_t)snprintf(sql + o, sizeof(sql) - o,
                                  "INSERT INTO fee_splits VALUES ('%s', '%s', %d, '%s', %d); ",
                                  sm_agency_code[f->agency], f->code, s + 1,
                                  sm_treasury_code[f->treasury[s]], f->share_bp[s]);
        }
    }
    for (int a = 0; a < SM_AGENCIES; a++) {
        for (int ch = 0; ch < SM_CHANNELS; ch++) {
            if (sm_agency_channel(a, ch)) {
                o += (size_t)snprintf(sql + o, sizeof(sql) - o,
                                      "INSERT INTO agency_channels VALUES ('%s', '%s'); ",
                                      sm_agency_code[a], sm_channel_code[ch]);
            }
        }
    }
    (void)snprintf(sql + o, sizeof(sql) - o,
                   "INSERT INTO clients (id, secret, name) VALUES ('" SS_CLIENT "', "
                   "'sim-secret-0123456789abcdef', 'simulation'); "
                   "INSERT INTO client_agencies VALUES ('" SS_CLIENT "', 'SIM-A'), "
                   "('" SS_CLIENT "', 'SIM-B'); COMMIT; RESET search_path");
    if (!sp_exec(c, sql, err, sizeof(err))) {
        fprintf(stderr, "fg_sim: the catalogue: %s", err);
        return false;
    }
    return true;
}

/* The approver and its live session, as staff_sign_in writes them (sim_run_seed moves its
 * last use to each seed's now()). */
static bool sim_staff(PGconn *c)
{
    char err[512];
    if (!sp_exec(c,
                 "SET search_path = feegate; BEGIN; "
                 "INSERT INTO staff (id, role, name, password_hash, totp_secret) VALUES ('" SS_STAFF
                 "', 'approver', 'simulation', '$argon2id$v=19$m=65536,t=2,p=1$sim', "
                 "'\\x00112233445566778899aabbccddeeff'); "
                 "INSERT INTO staff_sessions (token_sha256, staff_id, from_addr, expires_at) "
                 "VALUES (sha256(convert_to('" SS_SESSION "', 'UTF8')), '" SS_STAFF "', "
                 "'simulation', now() + interval '1 day'); COMMIT; RESET search_path",
                 err, sizeof(err))) {
        fprintf(stderr, "fg_sim: the approver: %s", err);
        return false;
    }
    return true;
}

static bool sim_mutate(PGconn *c, const char *name)
{
    const struct sim_mutation *m = NULL;
    for (size_t i = 0; i < sizeof(sim_mutations) / sizeof(sim_mutations[0]); i++) {
        if (strcmp(sim_mutations[i].name, name) == 0) {
            m = &sim_mutations[i];
        }
    }
    if (!m) {
        fprintf(stderr, "fg_sim: no mutation \"%s\"\n", name);
        return false;
    }
    char sql[1024];
    char err[512];
    (void)snprintf(sql, sizeof(sql),
                   "SET search_path = feegate, pg_temp; DO $mut$ DECLARE d text := "
                   "pg_get_functiondef('%s'::regprocedure); BEGIN "
                   "IF position($f$%s$f$ IN d) = 0 THEN RAISE EXCEPTION 'mutation site not "
                   "found: the function changed'; END IF; "
                   "EXECUTE replace(d, $f$%s$f$, $f$%s$f$); END $mut$; RESET search_path",
                   m->function, m->from, m->from, m->to);
    if (!sp_exec(c, sql, err, sizeof(err))) {
        fprintf(stderr, "fg_sim: mutation %s: %s", name, err);
        return false;
    }
    fprintf(stderr, "fg_sim: planted bug %s in %s: %s\n", name, m->function, m->what);
    return true;
}

/* One database per worker, copied from the migrated one (which must have no session). */
static bool sim_clone(int jobs)
{
    PGconn *c = sim_connect("postgres");
    if (!c) {
        return false;
    }
    bool ok = true;
    for (int k = 0; k < jobs && ok; k++) {
        char sql[128];
        char err[512] = "";
        (void)snprintf(sql, sizeof(sql),
                       "CREATE DATABASE sim_w%d TEMPLATE " GW_PGEMBED_DB " STRATEGY FILE_COPY", k);
        ok = false;
        for (int tries = 0; tries < 3 && !ok; tries++) { /* each waits 5 s for other sessions */
            ok = sp_exec(c, sql, err, sizeof(err));
        }
        if (!ok) {
            fprintf(stderr, "fg_sim: %s: %s", sql, err);
            PGresult *res =
                sp_query(c,
                         "SELECT string_agg(pid || ' ' || coalesce(usename, '') "
                         "|| ' ' || backend_type || ' ' || coalesce(query, ''), "
                         "'; ') FROM pg_stat_activity WHERE datname = '" GW_PGEMBED_DB "'",
                         err, sizeof(err));
            if (res) {
                fprintf(stderr, "fg_sim: sessions: %s\n", PQgetvalue(res, 0, 0));
                PQclear(res);
            }
        }
    }
    PQfinish(c);
    return ok;
}

static bool sim_args(int argc, char **argv, struct sim_opts *o)
{
    *o = (struct sim_opts){ .first = 1, .seeds = 100, .steps = 200, .jobs = 2 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--verbose") == 0) {
            o->verbose = true;
            continue;
        }
        if (!v) {
            goto usage;
        }
        i++;
        if (strcmp(a, "--mutate") == 0) {
            o->mutate = v;
            continue;
        }
        unsigned long long n = strtoull(v, &end, 10);
        if (*v == '\0' || *end != '\0' || *v == '-') {
            goto usage;
        }
        if (strcmp(a, "--seed") == 0) {
            o->first = n;
            o->seeds = 1;
            o->single = true;
        } else if (strcmp(a, "--seeds") == 0 && n >= 1 && n <= 100000000) {
            o->seeds = (long)n;
        } else if (strcmp(a, "--first") == 0) {
            o->first = n;
        } else if (strcmp(a, "--steps") == 0 && n >= 1 && n <= SS_STEPS_MAX - 1) {
            o->steps = (int)n;
        } else if (strcmp(a, "--jobs") == 0 && n >= 1 && n <= SIM_JOBS_MAX) {
            o->jobs = (int)n;
        } else {
            goto usage;
        }
    }
    if (o->single) {
        o->jobs = 1;
    }
    if (o->jobs > o->seeds) {
        o->jobs = (int)o->seeds;
    }
    return true;
usage:
    fprintf(stderr, "usage: fg_sim [--seeds N] [--first S] [--steps N] [--jobs N] "
                    "[--mutate NAME] [--verbose]\n"
                    "       fg_sim --seed S [--steps N] [--mutate NAME] [--verbose]\n");
    return false;
}

/* Forks the workers and waits for them; the first failure stops the others. */
/* SIGTERM or SIGINT to fg_sim itself (ctest's timeout, Ctrl-C): the workers are stopped and
 * the cluster removed on the normal way out, not left behind. */
static volatile sig_atomic_t sim_interrupted;

static void sim_on_signal(int sig)
{
    (void)sig;
    sim_interrupted = 1;
}

/* SIGTERM to the workers still running (pids[k] > 0): another one has failed. */
static void sim_stop_others(const pid_t *pids, int jobs)
{
    for (int k = 0; k < jobs; k++) {
        if (pids[k] > 0) {
            (void)kill(pids[k], SIGTERM);
        }
    }
}

static int sim_run_workers(const struct sim_opts *o)
{
    pid_t pids[SIM_JOBS_MAX];
    (void)fflush(NULL);
    for (int k = 0; k < o->jobs; k++) {
        pids[k] = fork();
        if (pids[k] < 0) {
            perror("fg_sim: fork");
            return 2;
        }
        if (pids[k] == 0) {
            (void)signal(SIGTERM, SIG_DFL);
            (void)signal(SIGINT, SIG_DFL);
            int rc = sim_worker(k, o);
            (void)fflush(NULL);
            _exit(rc); /* not exit: the harness's atexit handler would stop the cluster */
        }
    }
    int worst = 0;
    bool stopped = false; /* the others were stopped after a failure: their status is ours */
    for (int done = 0; done < o->jobs; done++) {
        int st;
        pid_t pid = sim_interrupted && !stopped ? -1 : wait(&st);
        if (pid < 0 && (errno == EINTR || sim_interrupted)) {
            if (!stopped) {
                stopped = true;
                worst = 2;
                sim_stop_others(pids, o->jobs);
            }
            done--;
            continue;
        }
        int rc = pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 2;
        if (stopped && pid > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) {
            rc = 0;
        }
        if (rc > worst) {
            worst = rc;
        }
        for (int k = 0; k < o->jobs; k++) {
            if (pids[k] == pid) {
                pids[k] = 0;
            }
        }
        if (rc != 0 && !stopped) {
            stopped = true;
            sim_stop_others(pids, o->jobs);
        }
    }
    return worst;
}

int main(int argc, char **argv)
{
    struct sim_opts o;
    if (!sim_args(argc, argv, &o)) {
        return 2;
    }
    struct timespec t0;
    struct timespec t1;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    struct sigaction sa = { .sa_handler = sim_on_signal }; /* no SA_RESTART: wait() returns */
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    struct th_db db = { 0 };
    if (th_db_start(&db) != GW_OK) {
        return 2;
    }
    int rc = 2;
    sim_admin_dsn = db.pg.admin_dsn;
    if (db.admin != NULL) { /* the harness's session: CREATE DATABASE needs the template idle */
        PQfinish(db.admin);
        db.admin = NULL;
    }
    PGconn *c = sim_connect(GW_PGEMBED_DB);
    bool ready = c && sim_catalogue(c) && sim_staff(c) && (!o.mutate || sim_mutate(c, o.mutate));
    if (c) {
        PQfinish(c);
    }
    if (ready && !sim_interrupted && sim_clone(o.jobs)) {
        (void)clock_gettime(CLOCK_MONOTONIC, &t1);
        double setup_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        rc = sim_run_workers(&o);
        (void)clock_gettime(CLOCK_MONOTONIC, &t0);
        double run_s = (double)(t0.tv_sec - t1.tv_sec) + (double)(t0.tv_nsec - t1.tv_nsec) / 1e9;
        printf("fg_sim: %ld seed%s (from %llu) of %d steps, %d worker%s: %s in %.1f s "
               "(set-up %.1f s)\n",
               o.seeds, o.seeds == 1 ? "" : "s", (unsigned long long)o.first, o.steps, o.jobs,
               o.jobs == 1 ? "" : "s",
               rc == 0   ? "all passed"
               : rc == 1 ? "FAILED"
                         : "ERROR",
               run_s, setup_s);
    }
    if (th_db_stop(&db) != GW_OK && rc == 0) {
        rc = 2;
    }
    return rc;
}
