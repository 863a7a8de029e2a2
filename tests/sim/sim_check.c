/* The comparison of the ledger with the reference model (sim_int.h). Both sides are written
 * as lines of text ("a clearing:vnpay 200000", "p pay_... succeeded 0 false momo"), sorted
 * bytewise (the database's side with COLLATE "C"), and merged: a line only the database has
 * is printed "+", one only the model has "-". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#include "banned.h"

void ss_log(struct ss_ctx *x, const char *fmt, ...)
{
    if (x->n_log >= SS_STEPS_MAX) {
        return;
    }
    char *line = x->log[x->n_log++];
    int n = snprintf(line, SS_LOG_LINE, "%4d ", x->step);
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line + n, (size_t)(SS_LOG_LINE - n), fmt, ap);
    va_end(ap);
    if (x->verbose) {
        fprintf(stderr, "seed %llu %s\n", (unsigned long long)x->w.seed, line);
    }
}

void ss_fail(struct ss_ctx *x, const char *fmt, ...)
{
    if (x->failed) {
        return;
    }
    x->failed = true;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(x->why, sizeof(x->why), fmt, ap);
    va_end(ap);
}

void ss_touch(struct ss_ctx *x, int p)
{
    for (int i = 0; i < x->n_touch; i++) {
        if (x->touch[i] == p) {
            return;
        }
    }
    if (x->n_touch < SS_TOUCH_MAX) {
        x->touch[x->n_touch++] = p;
    } else {
        x->touch_all = true;
    }
}

struct ss_lines {
    int n;
    char (*l)[SS_LINE_BYTES];
};

static char ss_model_buf[SS_LINES_MAX][SS_LINE_BYTES];
static char ss_db_buf[SS_LINES_MAX][SS_LINE_BYTES];

__attribute__((format(printf, 2, 3))) static void ss_add(struct ss_lines *ls, const char *fmt, ...)
{
    if (ls->n >= SS_LINES_MAX) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(ls->l[ls->n++], SS_LINE_BYTES, fmt, ap);
    va_end(ap);
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): qsort's comparator */
static int ss_cmp_line(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void ss_model_payment(const struct sm_world *w, int p, struct ss_lines *ls)
{
    const struct sm_payment *pay = &w->pay[p];
    ss_add(ls, "p %s %s %lld %s %s", pay->id, sm_status_name[pay->status],
           (long long)pay->refunded_vnd, pay->late ? "true" : "false",
           pay->channel < 0 ? "-" : sm_channel_code[pay->channel]);
}

static void ss_model_full(const struct sm_world *w, struct ss_lines *ls)
{
    int settled = 0;
    int closed = 0;
    for (int p = 0; p < w->n_payments; p++) {
        ss_model_payment(w, p, ls);
        for (int t = 0; t < SM_TREASURIES; t++) {
            settled += w->pay[p].settled[t];
        }
    }
    for (int a = 0; a < w->n_attempts; a++) {
        ss_add(ls, "t %s %s %s", w->att[a].ref, w->att[a].final ? "true" : "false",
               w->att[a].exhausted ? "true" : "false");
    }
    for (int a = 0; a < w->n_attempts; a++) {
        if (w->att[a].ovp != SM_OVP_NONE) {
            ss_add(ls, "o %s %s", w->att[a].ref, sm_ovp_name[w->att[a].ovp]);
        }
    }
    for (int r = 0; r < w->n_refunds; r++) {
        ss_add(ls, "r %s %s %s", w->rf[r].id, sm_refund_status_name[w->rf[r].status],
               w->rf[r].exhausted ? "true" : "false");
    }
    for (int k = 0; k < w->n_keys; k++) {
        ss_add(ls, "k %s %d", w->keys[k].key, w->keys[k].http_status);
    }
    for (int d = 1; d <= SM_DAYS_BACK; d++) {
        closed += w->closed[d];
    }
    ss_add(ls, "s %d", settled);
    ss_add(ls, "z %d", closed);
}

/* The database's lines: the same shapes, one query. */
static const char ss_accounts_sql[] =
    "SELECT 'a ' || account_code || ' ' || sum(amount_vnd) AS x FROM feegate.postings";
static const char ss_accounts_group[] = "GROUP BY account_code HAVING sum(amount_vnd) <> 0";
static const char ss_payments_sql[] =
    "SELECT 'p ' || id || ' ' || status || ' ' || refunded_vnd || ' ' || late || ' ' || "
    "coalesce(channel, '-') FROM feegate.payments";

/* Prepares the per-step comparison once per connection (one per process): it is planned
 * once, not at every step. */
static bool ss_prepare_compare(struct ss_ctx *x)
{
    static bool prepared;
    if (prepared) {
        return true;
    }
    char sql[4096];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT x FROM (%s WHERE account_code = ANY ($1::text[]) %s UNION "
                   "ALL %s WHERE id = ANY ($2::text[]) OR $3) q ORDER BY x COLLATE \"C\"",
                   ss_accounts_sql, ss_accounts_group, ss_payments_sql);
    PGresult *p = PQprepare(x->c, "sim_compare", sql, 3, NULL);
    bool ok = PQresultStatus(p) == PGRES_COMMAND_OK;
    if (!ok) {
        ss_fail(x, "could not prepare the comparison: %s", PQresultErrorMessage(p));
    }
    PQclear(p);
    prepared = ok;
    return ok;
}

static bool ss_db_lines(struct ss_ctx *x, bool full, struct ss_lines *ls)
{
    static const char full_extra[] =
        " UNION ALL SELECT 't ' || merchant_ref || ' ' || final || ' ' || exhausted "
        "FROM feegate.payment_attempts "
        "UNION ALL SELECT 'o ' || merchant_ref || ' ' || state FROM feegate.overpayments "
        "UNION ALL SELECT 'r ' || id || ' ' || status || ' ' || exhausted FROM feegate.refunds "
        "WHERE overpayment_id IS NULL "
        "UNION ALL SELECT 'k ' || idem_key || ' ' || http_status FROM feegate.idempotency "
        "WHERE client_id = '" SS_CLIENT "' "
        "UNION ALL SELECT 's ' || count(*) FROM feegate.settlement_items "
        "UNION ALL SELECT 'z ' || count(*) FROM feegate.business_days WHERE status = 'closed'";
    char err[512];
    PGresult *res;
    if (full) {
        char sql[4096];
        (void)snprintf(sql, sizeof(sql),
                       "SELECT x FROM (%s %s UNION ALL %s%s) q ORDER BY x "
                       "COLLATE \"C\"",
                       ss_accounts_sql, ss_accounts_group, ss_payments_sql, full_extra);
        res = sp_query(x->c, sql, err, sizeof(err));
    } else {
        if (!ss_prepare_compare(x)) {
            return false;
        }
        char accs[1024];
        char ids[4096];
        size_t o = (size_t)snprintf(accs, sizeof(accs), "{");
        for (int acc = 0; acc < SM_ACCOUNTS; acc++) {
            if (x->w.bal[acc] == x->bal_before[acc]) {
                continue;
            }
            char code[64];
            sm_account_code(acc, code, sizeof(code));
            o += (size_t)snprintf(accs + o, sizeof(accs) - o, "%s%s", o > 1 ? "," : "", code);
        }
        (void)snprintf(accs + o, sizeof(accs) - o, "}");
        o = (size_t)snprintf(ids, sizeof(ids), "{");
        for (int i = 0; i < x->n_touch; i++) {
            o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%s", i ? "," : "",
                                  x->w.pay[x->touch[i]].id);
        }
        (void)snprintf(ids + o, sizeof(ids) - o, "}");
        const char *params[3] = { accs, ids, x->touch_all ? "true" : "false" };
        res = PQexecPrepared(x->c, "sim_compare", 3, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            (void)snprintf(err, sizeof(err), "%s", PQresultErrorMessage(res));
            PQclear(res);
            res = NULL;
        }
    }
    if (!res) {
        ss_fail(x, "comparison query failed: %s", err);
        return false;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        ss_add(ls, "%s", PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return true;
}

bool ss_compare(struct ss_ctx *x, bool full)
{
    struct ss_lines m = { 0, ss_model_buf };
    struct ss_lines d = { 0, ss_db_buf };
    bool dirty = full || x->touch_all || x->n_touch > 0;
    for (int acc = 0; acc < SM_ACCOUNTS && !dirty; acc++) {
        dirty = x->w.bal[acc] != x->bal_before[acc];
    }
    if (!dirty) {
        return true; /* nothing the step could have changed is compared */
    }
    for (int acc = 0; acc < SM_ACCOUNTS; acc++) {
        if (x->w.bal[acc] == 0 || (!full && x->w.bal[acc] == x->bal_before[acc])) {
            continue;
        }
        char code[64];
        sm_account_code(acc, code, sizeof(code));
        ss_add(&m, "a %s %lld", code, (long long)x->w.bal[acc]);
    }
    if (full) {
        ss_model_full(&x->w, &m);
    } else if (x->touch_all) {
        for (int p = 0; p < x->w.n_payments; p++) {
            ss_model_payment(&x->w, p, &m);
        }
    } else {
        for (int i = 0; i < x->n_touch; i++) {
            ss_model_payment(&x->w, x->touch[i], &m);
        }
    }
    if (!ss_db_lines(x, full, &d)) {
        return false;
    }
    qsort(m.l, (size_t)m.n, SS_LINE_BYTES, ss_cmp_line);
    char diff[3072];
    size_t o = 0;
    int i = 0;
    int j = 0;
    int bad = 0;
    while (i < m.n || j < d.n) {
        int c = i >= m.n ? 1 : j >= d.n ? -1 : strcmp(m.l[i], d.l[j]);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        bad++;
        const char *line = c < 0 ? m.l[i++] : d.l[j++];
        if (o < sizeof(diff) - 200) {
            o += (size_t)snprintf(diff + o, sizeof(diff) - o, "  %s %s\n",
                                  c < 0 ? "model   " : "database", line);
        }
    }
    if (bad) {
        ss_fail(x,
                "the ledger differs from the model after the step (%s comparison, %d "
                "lines):\n%s",
                full ? "full" : "step", bad, diff);
        return false;
    }
    return true;
}

bool ss_ledger_check(struct ss_ctx *x)
{
    struct sp_res r;
    if (!sp_step(x->c, SP_APP,
                 "SELECT check_name || ': ' || violations || ' ' || detail "
                 "FROM feegate.ledger_check() WHERE violations <> 0",
                 &r)) {
        ss_fail(x, "ledger_check: %s", r.detail);
        return false;
    }
    if (!r.ok) {
        ss_fail(x, "ledger_check failed: %s %s %s", r.sqlstate, r.code, r.detail);
        sp_res_clear(&r);
        return false;
    }
    if (PQntuples(r.rows) > 0) {
        char msg[2048];
        size_t o = 0;
        for (int i = 0; i < PQntuples(r.rows) && o < sizeof(msg) - 300; i++) {
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, "  %s\n", PQgetvalue(r.rows, i, 0));
        }
        ss_fail(x, "ledger_check() found violations:\n%s", msg);
        sp_res_clear(&r);
        return false;
    }
    sp_res_clear(&r);
    return true;
}

/* ---- what every step uses ---- */

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a range's two ends, in order */
int64_t ss_r(struct ss_ctx *x, int64_t lo, int64_t hi)
{
    return sm_rng_range(&x->rng, lo, hi);
}

bool ss_pct(struct ss_ctx *x, int pct)
{
    return sm_rng_pct(&x->rng, pct);
}

/* A random index in [0, n) satisfying ok, or -1: drawn among those that do. */
int ss_pick(struct ss_ctx *x, int n, bool (*ok)(const struct sm_world *, int))
{
    int cand = 0;
    for (int i = 0; i < n; i++) {
        cand += ok(&x->w, i);
    }
    if (cand == 0) {
        return -1;
    }
    int k = (int)sm_rng_below(&x->rng, (uint64_t)cand);
    for (int i = 0; i < n; i++) {
        if (ok(&x->w, i) && k-- == 0) {
            return i;
        }
    }
    return -1;
}

bool ss_any(const struct sm_world *w, int i)
{
    (void)w;
    (void)i;
    return true;
}

bool ss_payable(const struct sm_world *w, int i)
{
    return w->pay[i].status == SM_CREATED || w->pay[i].status == SM_PENDING;
}

bool ss_refundable(const struct sm_world *w, int i)
{
    return w->pay[i].status == SM_SUCCEEDED || w->pay[i].status == SM_PARTIALLY_REFUNDED;
}

int ss_pick_payment(struct ss_ctx *x, bool (*prefer)(const struct sm_world *, int), int pct)
{
    int p = ss_pct(x, pct) ? ss_pick(x, x->w.n_payments, prefer) : -1;
    return p >= 0 ? p : ss_pick(x, x->w.n_payments, ss_any);
}

/* Runs sql; false when the connection failed (the seed fails). */
bool ss_sql(struct ss_ctx *x, enum sp_role role, const char *sql, struct sp_res *r)
{
    if (!sp_step(x->c, role, sql, r)) {
        ss_fail(x, "database: %s\n  sql: %s", r->detail, sql);
        return false;
    }
    return true;
}

/* The answer must be the error code (expect != NULL) or a success (expect NULL). */
bool ss_expect(struct ss_ctx *x, const char *sql, const struct sp_res *r, const char *expect)
{
    if (expect == NULL && !r->ok) {
        ss_fail(x, "expected success, got %s %s (%s)\n  sql: %s", r->sqlstate, r->code, r->detail,
                sql);
        return false;
    }
    if (expect != NULL && r->ok) {
        ss_fail(x, "expected error %s, got success\n  sql: %s", expect, sql);
        return false;
    }
    if (expect != NULL && strcmp(r->code, expect) != 0) {
        ss_fail(x, "expected error %s, got %s %s (%s)\n  sql: %s", expect, r->sqlstate, r->code,
                r->detail, sql);
        return false;
    }
    return true;
}

const char *ss_val(const struct sp_res *r, int col)
{
    if (!r->rows || PQntuples(r->rows) < 1 || PQnfields(r->rows) <= col) {
        return "";
    }
    return PQgetvalue(r->rows, 0, col);
}

int ss_new_key(struct ss_ctx *x, enum sm_key_kind kind)
{
    static const int http[] = { 201, 200, 0 }; /* a refund's key is claimed, in progress */
    struct sm_world *w = &x->w;
    struct sm_key *k = &w->keys[w->n_keys];
    memset(k, 0, sizeof(*k));
    (void)snprintf(k->key, sizeof(k->key), "k%c-%d", "cxr"[kind], ++w->n_serial);
    (void)snprintf(k->sha, sizeof(k->sha), "sha-%d", w->n_serial);
    k->kind = kind;
    k->http_status = http[kind];
    return w->n_keys; /* the caller commits it with n_keys++ when the call succeeded */
}

/* The attempt of a merchant_ref, or -1. */
static int ss_attempt_of(const struct sm_world *w, const char *ref)
{
    for (int a = 0; a < w->n_attempts; a++) {
        if (strcmp(w->att[a].ref, ref) == 0) {
            return a;
        }
    }
    return -1;
}

/* The refund of an id, or -1. */
static int ss_refund_of(const struct sm_world *w, const char *id)
{
    for (int i = 0; i < w->n_refunds; i++) {
        if (strcmp(w->rf[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}

bool ss_same_set(struct ss_ctx *x, const struct sp_res *r, const bool *due, bool refunds)
{
    const char *what = refunds ? "refund_due" : "recovery_due";
    int n = refunds ? x->w.n_refunds : x->w.n_attempts;
    int (*find)(const struct sm_world *, const char *) = refunds ? ss_refund_of : ss_attempt_of;
    static bool got[SM_ATTEMPTS_MAX];
    memset(got, 0, sizeof(got));
    for (int i = 0; i < PQntuples(r->rows); i++) {
        int k = find(&x->w, PQgetvalue(r->rows, i, 0));
        if (k < 0) {
            ss_fail(x, "%s claimed %s, which the model does not know", what,
                    PQgetvalue(r->rows, i, 0));
            return false;
        }
        got[k] = true;
    }
    for (int i = 0; i < n; i++) {
        if (got[i] != due[i]) {
            ss_fail(x, "%s: #%d is %s by the database but %s by the model", what, i,
                    got[i] ? "claimed" : "not claimed", due[i] ? "due" : "not due");
            return false;
        }
    }
    return true;
}
