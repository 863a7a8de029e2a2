/* The steps that move money after a payment (sim_int.h): refunds through the provider and
 * their recovery, settlements, fee top-ups and refunds paid out (the owner's posting rules of
 * ledger.sql, run as the owner), the close of a business day, and the API's read of a
 * payment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#include "banned.h"

static const char ss_refund_args[] =
    "'sim', ARRAY['sandbox', 'vnpay', 'momo', 'zalopay'], 'req-sim', ARRAY['vnpay']";

static int64_t ss_reserved(const struct sm_world *w, int p)
{
    int64_t sum = 0;
    for (int i = 0; i < w->n_refunds; i++) {
        if (w->rf[i].payment == p && w->rf[i].status != SM_RF_FAILED) {
            sum += w->rf[i].amount_vnd;
        }
    }
    return sum;
}

static bool ss_refund_active(const struct sm_world *w, int p)
{
    for (int i = 0; i < w->n_refunds; i++) {
        if (w->rf[i].payment == p && !w->rf[i].exhausted &&
            (w->rf[i].status == SM_RF_SENDING || w->rf[i].status == SM_RF_PENDING)) {
            return true;
        }
    }
    return false;
}

/* A provider's answer about a refund: outcome accepted, rejected, pending or error; source
 * refund (the answer to the refund) or refund_query; next_in_s < 0 for "never ask again". */
struct ss_rf_answer {
    const char *outcome;
    const char *source;
    int next_in_s;
};

/* refund_result: the answer a about refund i. */
static int ss_refund_result(struct ss_ctx *x, int i, const struct ss_rf_answer *a)
{
    const char *outcome = a->outcome;
    const char *source = a->source;
    int next_in = a->next_in_s;
    struct sm_world *w = &x->w;
    struct sm_refund *rf = &w->rf[i];
    struct sm_payment *pay = &w->pay[rf->payment];
    if (rf->status == SM_RF_SENDING || rf->status == SM_RF_PENDING) {
        bool unknown = strcmp(outcome, "pending") == 0 || strcmp(outcome, "error") == 0;
        rf->status = strcmp(outcome, "accepted") == 0   ? SM_RF_SUCCEEDED
                     : strcmp(outcome, "rejected") == 0 ? SM_RF_FAILED
                                                        : SM_RF_PENDING;
        rf->exhausted = unknown && next_in < 0;
        rf->next_query_s = w->now_s + (next_in < 0 ? 0 : next_in);
        rf->updated_s = w->now_s;
        if (rf->status == SM_RF_SUCCEEDED) {
            rf->after_settlement_vnd = sm_book_refund(w, rf);
            pay->refunded_vnd += rf->amount_vnd;
            pay->status =
                pay->refunded_vnd >= pay->amount_vnd ? SM_REFUNDED : SM_PARTIALLY_REFUNDED;
        }
    }
    int http = rf->status == SM_RF_PENDING ? 202 : 201;
    w->keys[rf->key].http_status = http;
    ss_touch(x, rf->payment);
    char sql[SS_SQL_BYTES];
    char next[16] = "NULL";
    if (next_in >= 0) {
        (void)snprintf(next, sizeof(next), "%d", next_in);
    }
    (void)snprintf(sql, sizeof(sql),
                   "SELECT status, http_status FROM feegate.refund_result('%s', '%s', %s, NULL, "
                   "'%s', 'sim', %s)",
                   rf->id, outcome, strcmp(outcome, "accepted") == 0 ? "'PR'" : "NULL", source,
                   next);
    ss_log(x, "  refund f%d (p%d, %lld VND) %s answered %s, next in %s -> %s", i, rf->payment,
           (long long)rf->amount_vnd, source, outcome, next, sm_refund_status_name[rf->status]);
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    if (ok && (strcmp(ss_val(&r, 0), sm_refund_status_name[rf->status]) != 0 ||
               strtol(ss_val(&r, 1), NULL, 10) != http)) {
        ss_fail(x, "refund_result answered %s %s, expected %s %d", ss_val(&r, 0), ss_val(&r, 1),
                sm_refund_status_name[rf->status], http);
        ok = false;
    }
    sp_res_clear(&r);
    return ok ? 1 : -1;
}

/* What the provider answers about refund i when asked now. */
static const char *ss_refund_answer(struct ss_ctx *x, int i)
{
    if (ss_pct(x, x->swarm.p_query_error)) {
        return "error";
    }
    static const char *const answer[] = { "pending", "accepted", "rejected" };
    return answer[x->w.rf[i].prov];
}

/* The amount of a new refund of p and the error it must get (NULL: none). */
static const char *ss_refund_amount(struct ss_ctx *x, int p, int64_t *amount)
{
    const struct sm_world *w = &x->w;
    const struct sm_payment *pay = &w->pay[p];
    int64_t left = pay->amount_vnd - ss_reserved(w, p);
    bool bad = ss_pct(x, x->swarm.p_bad);
    if (bad && ss_pct(x, 30)) {
        *amount = 0;
    } else if (bad || left <= 0) {
        *amount = (left > 0 ? left : 0) + ss_r(x, 1, 1000);
    } else {
        *amount = ss_pct(x, 40) ? left : ss_r(x, 1, left);
    }
    if (!ss_refundable(w, p)) {
        return "payment_not_refundable";
    }
    if (*amount <= 0) {
        return "invalid_amount";
    }
    if (pay->channel == SM_CHANNEL_VNPAY && ss_refund_active(w, p)) {
        return "refund_in_progress";
    }
    if (left < *amount) {
        return "refund_exceeds_payment";
    }
    return NULL;
}

int ss_refund(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    if (w->n_payments == 0 || w->n_refunds >= SM_REFUNDS_MAX || w->n_keys >= SM_KEYS_MAX) {
        return 0;
    }
    int p = ss_pick_payment(x, ss_refundable, 85);
    struct sm_payment *pay = &w->pay[p];
    int64_t amount;
    const char *expect = ss_refund_amount(x, p, &amount);
    int k = ss_new_key(x, SM_KEY_REFUND);
    w->keys[k].target = w->n_refunds;
    w->keys[k].req[0] = '\0';
    (void)snprintf(w->keys[k].req, sizeof(w->keys[k].req), "%lld", (long long)amount);
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT http_status, send ->> 'refund_id', send ->> 'query_ambiguous', "
                   "replayed FROM feegate.api_refund_begin('" SS_CLIENT "', '%s', '%s', '%s', "
                   "%lld, %s)",
                   pay->id, w->keys[k].key, w->keys[k].sha, (long long)amount, ss_refund_args);
    ss_log(x, "refund p%d (%s, %lld of %lld VND refunded) %lld VND -> %s", p,
           sm_status_name[pay->status], (long long)pay->refunded_vnd, (long long)pay->amount_vnd,
           (long long)amount, expect ? expect : "sending");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    if (!ok || expect) {
        sp_res_clear(&r);
        return ok ? 0 : -1;
    }
    int i = w->n_refunds++;
    w->n_keys++;
    struct sm_refund *rf = &w->rf[i];
    memset(rf, 0, sizeof(*rf));
    (void)snprintf(rf->id, sizeof(rf->id), "%s", ss_val(&r, 1));
    rf->payment = p;
    rf->key = k;
    rf->amount_vnd = amount;
    rf->status = SM_RF_SENDING;
    rf->next_query_s = w->now_s + 60;
    rf->updated_s = w->now_s;
    rf->ambiguous = false;
    for (int j = 0; j < i; j++) {
        rf->ambiguous |= pay->channel == SM_CHANNEL_VNPAY && w->rf[j].payment == p;
    }
    rf->prov = ss_pct(x, 70) ? SM_RFP_ACCEPT : ss_pct(x, 50) ? SM_RFP_REJECT : SM_RFP_UNDECIDED;
    if (strcmp(ss_val(&r, 0), "202") != 0 ||
        strcmp(ss_val(&r, 2), rf->ambiguous ? "true" : "false") != 0) {
        ss_fail(x, "api_refund_begin answered %s query_ambiguous=%s", ss_val(&r, 0), ss_val(&r, 2));
        sp_res_clear(&r);
        return -1;
    }
    sp_res_clear(&r);
    ss_touch(x, p);
    if (ss_pct(x, x->swarm.p_rf_crash)) {
        ss_log(x, "  the sender stops before the provider's answer is recorded");
        return 1;
    }
    const char *outcome = ss_pct(x, x->swarm.p_rf_lost) ? "error" : ss_refund_answer(x, i);
    bool unknown = strcmp(outcome, "pending") == 0 || strcmp(outcome, "error") == 0;
    int next_in = unknown && !ss_pct(x, x->swarm.p_window_over) ? (int)ss_r(x, 30, 600) : -1;
    struct ss_rf_answer ans = { outcome, "refund", next_in };
    return ss_refund_result(x, i, &ans);
}

int ss_refund_retry(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    int k = -1;
    for (int i = 0; i < w->n_keys; i++) {
        if (w->keys[i].kind == SM_KEY_REFUND && (k < 0 || ss_pct(x, 30))) {
            k = i;
        }
    }
    if (k < 0) {
        return 0;
    }
    struct sm_key *key = &w->keys[k];
    const struct sm_refund *rf = &w->rf[key->target];
    bool same = ss_pct(x, 60);
    const char *expect = key->http_status == 0 ? "idempotency_key_in_progress"
                         : same                ? NULL
                                               : "idempotency_key_reused";
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT http_status, replayed FROM feegate.api_refund_begin('" SS_CLIENT
                   "', '%s', '%s', '%s%s', %s, %s)",
                   w->pay[rf->payment].id, key->key, key->sha, same ? "" : "-other", key->req,
                   ss_refund_args);
    ss_log(x, "refund_retry key %s (f%d %s) %s -> %s", key->key, key->target,
           sm_refund_status_name[rf->status], same ? "same body" : "another body",
           expect ? expect : "replayed");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    if (ok && !expect &&
        (strtol(ss_val(&r, 0), NULL, 10) != key->http_status || strcmp(ss_val(&r, 1), "t") != 0)) {
        ss_fail(x, "refund replay answered %s replayed=%s, expected %d", ss_val(&r, 0),
                ss_val(&r, 1), key->http_status);
        ok = false;
    }
    sp_res_clear(&r);
    return ok ? 0 : -1;
}

int ss_refund_query(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    static bool due[SM_REFUNDS_MAX];
    int n_due = 0;
    for (int i = 0; i < w->n_refunds; i++) {
        struct sm_refund *rf = &w->rf[i];
        due[i] = (rf->status == SM_RF_SENDING || rf->status == SM_RF_PENDING) && !rf->exhausted &&
                 rf->next_query_s <= w->now_s &&
                 (rf->status == SM_RF_PENDING || rf->updated_s + SS_LEASE_S < w->now_s);
        if (due[i]) {
            rf->next_query_s = w->now_s + SS_LEASE_S;
            n_due++;
        }
    }
    ss_log(x, "refund_query: %d refunds due", n_due);
    const char *sql = "SELECT refund_id FROM feegate.refund_due(1000, 30)";
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL) && ss_same_set(x, &r, due, true);
    sp_res_clear(&r);
    for (int i = 0; ok && i < w->n_refunds; i++) {
        if (!due[i]) {
            continue;
        }
        /* A refund the provider cannot tell from the payment's earlier ones is not asked:
         * it goes to refund_exceptions (gateway/refund.c). */
        const char *outcome = w->rf[i].ambiguous ? "error" : ss_refund_answer(x, i);
        bool unknown = strcmp(outcome, "pending") == 0 || strcmp(outcome, "error") == 0;
        int next_in = unknown && !w->rf[i].ambiguous && !ss_pct(x, x->swarm.p_window_over)
                          ? (int)ss_r(x, 60, 900)
                          : -1;
        struct ss_rf_answer ans = { outcome, "refund_query", next_in };
        ok = ss_refund_result(x, i, &ans) > 0;
    }
    return ok ? 1 : -1;
}

static bool ss_rf_undecided(const struct sm_world *w, int i)
{
    return w->rf[i].prov == SM_RFP_UNDECIDED;
}

int ss_refund_decide(struct ss_ctx *x)
{
    int i = ss_pick(x, x->w.n_refunds, ss_rf_undecided);
    if (i < 0) {
        return 0;
    }
    x->w.rf[i].prov = ss_pct(x, 70) ? SM_RFP_ACCEPT : SM_RFP_REJECT;
    ss_log(x, "refund_decide f%d: the provider %s it", i,
           x->w.rf[i].prov == SM_RFP_ACCEPT ? "accepts" : "rejects");
    return 0;
}

/* A settlement: one channel, one treasury account, the payments it lists. */
struct ss_batch {
    int channel, treasury;
    int n;
    int p[8];
    int64_t gross_vnd;
};

/* Whether the settlement b may list payment p. */
static bool ss_settleable(const struct sm_payment *p, const struct ss_batch *b)
{
    int t = b->treasury;
    return p->booked && p->channel == b->channel && !p->settled[t] && p->owed[t] > 0;
}

/* One payment ledger_settle must refuse, of the kind drawn, added to b: returns its error
 * code, or NULL when the seed has no such payment. */
static const char *ss_settle_bad(struct ss_ctx *x, struct ss_batch *b)
{
    const struct sm_world *w = &x->w;
    int kind = (int)sm_rng_below(&x->rng, 3);
    int ch = b->channel;
    int t = b->treasury;
    for (int p = 0; p < w->n_payments; p++) {
        const struct sm_payment *pay = &w->pay[p];
        bool mine = pay->booked && pay->channel == ch;
        bool fits = kind == 0   ? !mine
                    : kind == 1 ? mine && pay->settled[t]
                                : mine && !pay->settled[t] && pay->owed[t] <= 0;
        if (fits) {
            b->p[b->n++] = p;
            return kind == 1 ? "payment_already_settled" : "payment_not_settleable";
        }
    }
    return NULL;
}

/* The channel and treasury account of a settlement: those of one settleable (payment,
 * account) pair drawn among all (a random pair would mostly find nothing to settle), or
 * random ones when there is none. */
static void ss_settle_draw(struct ss_ctx *x, struct ss_batch *b)
{
    const struct sm_world *w = &x->w;
    struct ss_batch any = { 0 };
    int pairs = 0;
    b->channel = (int)sm_rng_below(&x->rng, SM_CHANNELS);
    b->treasury = (int)sm_rng_below(&x->rng, SM_TREASURIES);
    for (int p = 0; p < w->n_payments; p++) {
        any.channel = w->pay[p].channel;
        for (any.treasury = 0; any.treasury < SM_TREASURIES; any.treasury++) {
            pairs += ss_settleable(&w->pay[p], &any);
        }
    }
    int k = pairs > 0 ? (int)sm_rng_below(&x->rng, (uint64_t)pairs) : -1;
    for (int p = 0; p < w->n_payments && k >= 0; p++) {
        any.channel = w->pay[p].channel;
        for (any.treasury = 0; any.treasury < SM_TREASURIES; any.treasury++) {
            if (ss_settleable(&w->pay[p], &any) && k-- == 0) {
                b->channel = any.channel;
                b->treasury = any.treasury;
            }
        }
    }
    int want = (int)ss_r(x, 1, 5);
    for (int p = 0; p < w->n_payments && b->n < want; p++) {
        if (ss_settleable(&w->pay[p], b) && (b->n == 0 || ss_pct(x, 60))) {
            b->p[b->n++] = p;
            b->gross_vnd += w->pay[p].owed[b->treasury];
        }
    }
}

int ss_settle(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    struct ss_batch b = { 0 };
    ss_settle_draw(x, &b);
    const char *expect = ss_pct(x, x->swarm.p_bad) ? ss_settle_bad(x, &b) : NULL;
    if (b.n == 0) {
        return 0;
    }
    int ch = b.channel;
    int t = b.treasury;
    int64_t gross = b.gross_vnd;
    int64_t fee = ss_pct(x, 30) ? 0 : ss_r(x, 0, gross / 20);
    if (!expect && ss_pct(x, x->swarm.p_bad)) {
        fee = gross + 1;
        expect = "invalid_amount";
    }
    int day = ss_pct(x, 70) ? 0 : (int)ss_r(x, 1, SM_DAYS_BACK);
    if (!expect && w->closed[day]) {
        expect = "business_day_closed";
    }
    char sql[SS_SQL_BYTES];
    char ids[1024] = "";
    char day_sql[96];
    size_t o = 0;
    for (int i = 0; i < b.n; i++) {
        o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s'%s'", i ? ", " : "", w->pay[b.p[i]].id);
    }
    (void)snprintf(day_sql, sizeof(day_sql), SS_DAY_SQL, day);
    (void)snprintf(
        sql, sizeof(sql), "SELECT feegate.ledger_settle('%s', '%s', ARRAY[%s], %lld, 'st-%d', %s)",
        sm_channel_code[ch], sm_treasury_code[t], ids, (long long)fee, ++w->n_serial, day_sql);
    ss_log(x, "settle %d payments via %s to %s, gross %lld fee %lld, day today-%d -> %s", b.n,
           sm_channel_code[ch], sm_treasury_code[t], (long long)gross, (long long)fee, day,
           expect ? expect : "settled");
    struct sp_res r;
    if (!ss_sql(x, SP_OWNER, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    sp_res_clear(&r);
    if (!ok || expect) {
        return ok ? 0 : -1;
    }
    w->bal[SM_ACC_PAYABLE + t] += gross - fee;
    w->bal[SM_ACC_FEES + ch] += fee;
    w->bal[SM_ACC_CLEARING + ch] -= gross;
    for (int i = 0; i < b.n; i++) {
        w->pay[b.p[i]].settled[t] = true;
    }
    return 1;
}

static bool ss_to_pay_out(const struct sm_world *w, int i)
{
    return w->rf[i].status == SM_RF_SUCCEEDED && w->rf[i].after_settlement_vnd > 0 &&
           !w->rf[i].paid_out;
}

int ss_refund_paid(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    int i = ss_pick(x, w->n_refunds, ss_to_pay_out);
    if (i < 0) {
        return 0;
    }
    struct sm_refund *rf = &w->rf[i];
    int ch = w->pay[rf->payment].channel;
    bool bad = ss_pct(x, x->swarm.p_bad);
    int64_t amt = bad ? 0 : rf->after_settlement_vnd;
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.ledger_refund_paid('%s', %lld, 'rp-%d', '%s')",
                   sm_channel_code[ch], (long long)amt, ++w->n_serial, w->pay[rf->payment].id);
    ss_log(x, "refund_paid f%d: %lld VND paid out by %s -> %s", i, (long long)amt,
           sm_channel_code[ch], bad ? "invalid_amount" : "booked");
    struct sp_res r;
    if (!ss_sql(x, SP_OWNER, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, bad ? "invalid_amount" : NULL);
    sp_res_clear(&r);
    if (!ok) {
        return -1;
    }
    if (bad) {
        return 0;
    }
    w->bal[SM_ACC_REFUNDS + ch] += amt;
    w->bal[SM_ACC_CLEARING + ch] -= amt;
    rf->paid_out = true;
    return 1;
}

int ss_topup(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    int t = (int)sm_rng_below(&x->rng, SM_TREASURIES);
    bool bad = ss_pct(x, x->swarm.p_bad);
    int64_t amt = bad ? -ss_r(x, 0, 100) : ss_r(x, 1, 50000);
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.ledger_fee_topup('%s', %lld, 'tu-%d')",
                   sm_treasury_code[t], (long long)amt, ++w->n_serial);
    ss_log(x, "topup %s %lld VND -> %s", sm_treasury_code[t], (long long)amt,
           bad ? "invalid_amount" : "booked");
    struct sp_res r;
    if (!ss_sql(x, SP_OWNER, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, bad ? "invalid_amount" : NULL);
    sp_res_clear(&r);
    if (!ok) {
        return -1;
    }
    if (bad) {
        return 0;
    }
    w->bal[SM_ACC_PAYABLE + t] += amt;
    w->bal[SM_ACC_BANK] -= amt;
    return 1;
}

/* recon_run and day_close of a past day, by the approver, open exceptions carried forward. */
int ss_day_close(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    int d = (int)ss_r(x, 1, SM_DAYS_BACK);
    const char *expect = w->closed[d] ? "day_closed" : NULL;
    char sql[SS_SQL_BYTES];
    char day_sql[96];
    (void)snprintf(day_sql, sizeof(day_sql), SS_DAY_SQL, d);
    ss_log(x, "day_close today-%d -> %s", d, expect ? expect : "closed");
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.recon_run(%s, '" SS_SESSION "')", day_sql);
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    sp_res_clear(&r);
    if (!ok || expect) {
        return ok ? 0 : -1;
    }
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.day_close(%s, '" SS_SESSION "', true)",
                   day_sql);
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    ok = ss_expect(x, sql, &r, NULL);
    sp_res_clear(&r);
    w->closed[d] = true;
    return ok ? 1 : -1;
}

int ss_read(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    if (w->n_payments == 0) {
        return 0;
    }
    int p = (int)sm_rng_below(&x->rng, (uint64_t)w->n_payments);
    const struct sm_payment *pay = &w->pay[p];
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT j ->> 'status', j ->> 'refunded_vnd', j ->> 'amount_vnd' FROM "
                   "(SELECT feegate.api_get_payment('" SS_CLIENT "', '%s')::json AS j) x",
                   pay->id);
    ss_log(x, "read p%d -> %s", p, sm_status_name[pay->status]);
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    if (ok && (strcmp(ss_val(&r, 0), sm_status_name[pay->status]) != 0 ||
               strtoll(ss_val(&r, 1), NULL, 10) != pay->refunded_vnd ||
               strtoll(ss_val(&r, 2), NULL, 10) != pay->amount_vnd)) {
        ss_fail(x, "api_get_payment shows %s, refunded %s of %s VND", ss_val(&r, 0), ss_val(&r, 1),
                ss_val(&r, 2));
        ok = false;
    }
    sp_res_clear(&r);
    return ok ? 0 : -1;
}

/* The attempt whose merchant_ref is ref, -1: none. */
static int ss_attempt_by_ref(const struct sm_world *w, const char *ref)
{
    for (int a = 0; a < w->n_attempts; a++) {
        if (strcmp(w->att[a].ref, ref) == 0) {
            return a;
        }
    }
    return -1;
}

/* One overpayment's attempt by its id (the owner reads it: the gateway's role reads no table). */
static bool ss_overpayment_of(struct ss_ctx *x, const char *where, int *a, char *id, size_t id_len)
{
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql), "SELECT merchant_ref, id FROM feegate.overpayments WHERE %s",
                   where);
    struct sp_res r;
    if (!ss_sql(x, SP_OWNER, sql, &r)) {
        return false;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    *a = ok ? ss_attempt_by_ref(&x->w, ss_val(&r, 0)) : -1;
    (void)snprintf(id, id_len, "%s", ss_val(&r, 1));
    sp_res_clear(&r);
    if (ok && *a < 0) {
        ss_fail(x, "no overpayment where %s", where);
        ok = false;
    }
    return ok;
}

/* The provider's answer to the refund rid of an overpayment sent by overpayment_refunds_begin:
 * accepted (refunded: out of overpaid:<channel>) or refused (to transfer). */
static bool ss_overpay_answer(struct ss_ctx *x, const char *rid, const bool *refundable)
{
    struct sm_world *w = &x->w;
    int a = -1;
    char where[96];
    char oid[SM_ID_BYTES];
    (void)snprintf(where, sizeof(where), "refund_id = '%s'", rid);
    if (!ss_overpayment_of(x, where, &a, oid, sizeof(oid))) {
        return false;
    }
    struct sm_attempt *at = &w->att[a];
    if (at->ovp != SM_OVP_OWED || !refundable[at->channel]) {
        ss_fail(x, "overpayment of a%d sent for refund, the model has it %s", a,
                sm_ovp_name[at->ovp]);
        return false;
    }
    bool accept = ss_pct(x, 70);
    int64_t amt = w->pay[at->payment].amount_vnd;
    if (accept) {
        at->ovp = SM_OVP_REFUNDED;
        w->bal[SM_ACC_OVERPAID + at->channel] += amt;
        w->bal[SM_ACC_CLEARING + at->channel] -= amt;
    } else {
        at->ovp = SM_OVP_TO_TRANSFER;
    }
    ss_log(x, "  overpayment of a%d (p%d, %lld VND) refund %s -> %s", a, at->payment,
           (long long)amt, accept ? "accepted" : "rejected", sm_ovp_name[at->ovp]);
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT status FROM feegate.refund_result('%s', '%s', %s, NULL, "
                   "'refund', 'sim', NULL)",
                   rid, accept ? "accepted" : "rejected", accept ? "'PO'" : "NULL");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return false;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    const char *want = accept ? "succeeded" : "failed";
    if (ok && strcmp(ss_val(&r, 0), want) != 0) {
        ss_fail(x, "refund_result of an overpayment's refund: %s, expected %s", ss_val(&r, 0),
                want);
        ok = false;
    }
    sp_res_clear(&r);
    return ok;
}

/* The approver pays some overpayments to transfer back by hand (overpayment_transfer). */
static bool ss_overpay_transfers(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    bool ok = true;
    for (int a = 0; ok && a < w->n_attempts; a++) {
        struct sm_attempt *at = &w->att[a];
        if (at->ovp != SM_OVP_TO_TRANSFER || !ss_pct(x, 50)) {
            continue;
        }
        int got = -1;
        char where[96];
        char oid[SM_ID_BYTES];
        (void)snprintf(where, sizeof(where), "merchant_ref = '%s'", at->ref);
        if (!ss_overpayment_of(x, where, &got, oid, sizeof(oid))) {
            return false;
        }
        int64_t amt = w->pay[at->payment].amount_vnd;
        at->ovp = SM_OVP_TRANSFERRED;
        w->bal[SM_ACC_OVERPAID + at->channel] += amt;
        w->bal[SM_ACC_BANK] -= amt;
        ss_touch(x, at->payment);
        ss_log(x, "  overpayment of a%d (p%d, %lld VND) paid back by transfer", a, at->payment,
               (long long)amt);
        char sql[SS_SQL_BYTES];
        (void)snprintf(sql, sizeof(sql),
                       "SELECT feegate.overpayment_transfer('%s', '" SS_SESSION "', 'TR-%d')", oid,
                       a);
        struct sp_res r;
        if (!ss_sql(x, SP_APP, sql, &r)) {
            return false;
        }
        ok = ss_expect(x, sql, &r, NULL);
        sp_res_clear(&r);
    }
    return ok;
}

/* The gateway's overpayment job (overpayment_refunds_begin) with the channels it may refund
 * through, the provider's answer to each refund (accepted, or refused: to transfer), then
 * the finance clerk pays some of those to transfer back by hand (overpayment_transfer). */
int ss_overpay(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    bool refundable[SM_CHANNELS];
    char list[96] = "{";
    size_t l = 1;
    for (int ch = 0; ch < SM_CHANNELS; ch++) {
        refundable[ch] = ss_pct(x, 60);
        if (refundable[ch]) {
            l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s", l > 1 ? "," : "",
                                  sm_channel_code[ch]);
        }
    }
    (void)snprintf(list + l, sizeof(list) - l, "}");
    int n_send = 0;
    for (int a = 0; a < w->n_attempts; a++) {
        struct sm_attempt *at = &w->att[a];
        if (at->ovp == SM_OVP_OWED) {
            ss_touch(x, at->payment);
            if (refundable[at->channel]) {
                n_send++;
            } else {
                at->ovp = SM_OVP_TO_TRANSFER;
            }
        }
    }
    ss_log(x, "overpayment refunds through %s -> %d to send", list, n_send);
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT string_agg(refund_id, ' ') FROM "
                   "feegate.overpayment_refunds_begin(1000, '%s')",
                   list);
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    char ids[SS_SQL_BYTES] = "";
    (void)snprintf(ids, sizeof(ids), "%s", ss_val(&r, 0));
    sp_res_clear(&r);
    int n_sent = 0;
    char *save = NULL;
    for (char *rid = strtok_r(ids, " ", &save); ok && rid; rid = strtok_r(NULL, " ", &save)) {
        n_sent++;
        ok = ss_overpay_answer(x, rid, refundable);
    }
    if (ok && n_sent != n_send) {
        ss_fail(x, "overpayment_refunds_begin sent %d refunds, expected %d", n_sent, n_send);
        ok = false;
    }
    ok = ok && ss_overpay_transfers(x);
    return ok ? 1 : -1;
}
