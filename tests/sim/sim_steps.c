/* The steps of the simulation (sim_int.h): each one draws what it does from the seed's PRNG,
 * works out from the model what the switch must answer, calls the real SQL function as the
 * gateway (or, for the owner's posting rules, as the owner) would, and compares the answer;
 * the ledger itself is compared after the step by ss_compare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#include "banned.h"

/* ---- payments ---- */

static int64_t ss_fee_amount(struct ss_ctx *x, const struct sm_fee *f)
{
    if (f->amounts_vnd) {
        int n = 0;
        while (f->amounts_vnd[n]) {
            n++;
        }
        return f->amounts_vnd[sm_rng_below(&x->rng, (uint64_t)n)];
    }
    if (f->step_vnd) {
        return f->step_vnd * ss_r(x, f->min_vnd / f->step_vnd, f->max_vnd / f->step_vnd);
    }
    return ss_r(x, f->min_vnd, f->max_vnd);
}

static int ss_agency_fee(struct ss_ctx *x, int agency)
{
    int fees[SM_FEES];
    int n = 0;
    for (int i = 0; i < SM_FEES; i++) {
        if (sm_fees[i].agency == agency) {
            fees[n++] = i;
        }
    }
    return fees[sm_rng_below(&x->rng, (uint64_t)n)];
}

/* The request of a new payment into p (not yet counted) and req; returns the expected error
 * code of the invalid variant it drew, or NULL. */
static const char *ss_draw_payment(struct ss_ctx *x, struct sm_payment *p, char *req,
                                   size_t req_len, int *expires_s)
{
    struct sm_world *w = &x->w;
    int bad = ss_pct(x, x->swarm.p_bad) ? (int)ss_r(x, 1, 4) : 0;
    memset(p, 0, sizeof(*p));
    p->agency = (int)sm_rng_below(&x->rng, SM_AGENCIES);
    p->n_items = (int)ss_r(x, 1, SM_ITEMS_MAX);
    for (int i = 0; i < p->n_items; i++) {
        p->items[i].fee = ss_agency_fee(x, p->agency);
        p->items[i].amount_vnd = ss_fee_amount(x, &sm_fees[p->items[i].fee]);
        p->amount_vnd += p->items[i].amount_vnd;
    }
    if (w->n_payments > 0 && ss_pct(x, 15)) {
        (void)snprintf(p->order_ref, sizeof(p->order_ref), "%s",
                       w->pay[sm_rng_below(&x->rng, (uint64_t)w->n_payments)].order_ref);
    } else {
        (void)snprintf(p->order_ref, sizeof(p->order_ref), "o-%d", ++w->n_serial);
    }
    *expires_s = bad == 4 ? 30 : (int)ss_r(x, 60, 3600);
    char items[400];
    size_t o = 0;
    for (int i = 0; i < p->n_items; i++) {
        const char *code = bad == 1 && i == 0 ? "NO-FEE" : sm_fees[p->items[i].fee].code;
        int64_t amt = p->items[i].amount_vnd;
        if (bad == 2 && i == 0) {
            amt = sm_fees[p->items[i].fee].min_vnd - 1;
        }
        o += (size_t)snprintf(items + o, sizeof(items) - o,
                              "%s{\"fee_code\": \"%s\", \"amount_vnd\": %lld}", i ? ", " : "", code,
                              (long long)amt);
    }
    (void)snprintf(req, req_len,
                   "{\"agency_code\": \"%s\", \"order_ref\": \"%s\", \"amount_vnd\": %lld, "
                   "\"items\": [%s], \"expires_in_s\": %d}",
                   sm_agency_code[p->agency], p->order_ref,
                   (long long)(p->amount_vnd + (bad == 3 ? 1 : 0)), items, *expires_s);
    static const char *const codes[] = { NULL, "unknown_fee", "amount_not_allowed",
                                         "amount_mismatch", "invalid_expires_in" };
    return codes[bad];
}

int ss_create(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    if (w->n_payments >= SM_PAYMENTS_MAX || w->n_keys >= SM_KEYS_MAX) {
        return 0;
    }
    struct sm_payment np;
    char req[640];
    char sql[SS_SQL_BYTES];
    char key_sql[64] = "NULL";
    int expires_s;
    const char *expect = ss_draw_payment(x, &np, req, sizeof(req), &expires_s);
    for (int i = 0; expect == NULL && i < w->n_payments; i++) {
        if (sm_payment_live(&w->pay[i]) && strcmp(w->pay[i].order_ref, np.order_ref) == 0) {
            expect = "order_ref_in_use";
        }
    }
    bool keyed = ss_pct(x, 85);
    int k = ss_new_key(x, SM_KEY_CREATE);
    w->keys[k].target = w->n_payments;
    if (keyed) {
        (void)snprintf(key_sql, sizeof(key_sql), "'%s'", w->keys[k].key);
    }
    (void)snprintf(w->keys[k].req, sizeof(w->keys[k].req), "%s", req);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT http_status, body::json ->> 'payment_id', replayed FROM "
                   "feegate.api_create_payment('" SS_CLIENT
                   "', %s, '%s', '%s'::jsonb, '" SS_BASE_URL "')",
                   key_sql, w->keys[k].sha, req);
    ss_log(x, "create p%d %s %s %lld VND in %d items, expires in %d s%s -> %s", w->n_payments,
           sm_agency_code[np.agency], np.order_ref, (long long)np.amount_vnd, np.n_items, expires_s,
           keyed ? "" : " (no key)", expect ? expect : "201");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    if (ok && !expect) {
        if (strcmp(ss_val(&r, 0), "201") != 0 || strcmp(ss_val(&r, 2), "f") != 0) {
            ss_fail(x, "create answered %s replayed=%s", ss_val(&r, 0), ss_val(&r, 2));
            ok = false;
        }
        np.status = SM_CREATED;
        np.channel = -1;
        np.cur_attempt = -1;
        np.deadline_s = w->now_s + expires_s;
        np.create_key = keyed ? k : -1;
        (void)snprintf(np.id, sizeof(np.id), "%s", ss_val(&r, 1));
        w->pay[w->n_payments] = np;
        ss_touch(x, w->n_payments++);
        if (keyed) {
            w->n_keys++;
        }
    }
    sp_res_clear(&r);
    return ok ? 1 : -1;
}

int ss_create_retry(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    if (w->n_keys == 0) {
        return 0;
    }
    struct sm_key *k = &w->keys[sm_rng_below(&x->rng, (uint64_t)w->n_keys)];
    bool same = k->kind == SM_KEY_CREATE && ss_pct(x, 60);
    const char *expect = k->http_status == 0 ? "idempotency_key_in_progress"
                         : same              ? NULL
                                             : "idempotency_key_reused";
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT http_status, body::json ->> 'payment_id', replayed FROM "
                   "feegate.api_create_payment('" SS_CLIENT
                   "', '%s', '%s%s', '%s'::jsonb, '" SS_BASE_URL "')",
                   k->key, k->sha, same ? "" : "-other",
                   k->kind == SM_KEY_CREATE ? k->req
                                            : "{\"agency_code\": \"SIM-A\", \"order_ref\": "
                                              "\"o-other\", \"amount_vnd\": 200000, \"items\": "
                                              "[{\"fee_code\": \"F-FIX\", \"amount_vnd\": "
                                              "200000}]}");
    ss_log(x, "create_retry key %s %s -> %s", k->key, same ? "same body" : "another body",
           expect ? expect : "replayed");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    if (ok && !expect &&
        (strcmp(ss_val(&r, 0), "201") != 0 || strcmp(ss_val(&r, 2), "t") != 0 ||
         strcmp(ss_val(&r, 1), w->pay[k->target].id) != 0)) {
        ss_fail(x, "replay answered %s %s replayed=%s, expected 201 %s replayed", ss_val(&r, 0),
                ss_val(&r, 1), ss_val(&r, 2), w->pay[k->target].id);
        ok = false;
    }
    sp_res_clear(&r);
    return ok ? 1 : -1;
}

int ss_checkout(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    if (w->n_payments == 0 || w->n_attempts >= SM_ATTEMPTS_MAX) {
        return 0;
    }
    int p = ss_pick_payment(x, ss_payable, 75);
    struct sm_payment *pay = &w->pay[p];
    int ch = (int)sm_rng_below(&x->rng, SM_CHANNELS);
    bool open = pay->status == SM_CREATED || pay->status == SM_PENDING;
    const char *expect = open && pay->deadline_s <= w->now_s   ? "payment_not_payable"
                         : !sm_agency_channel(pay->agency, ch) ? "channel_not_allowed"
                         : !open                               ? "payment_not_payable"
                                                               : NULL;
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT r ->> 'merchant_ref', r ->> 'amount_vnd' FROM "
                   "feegate.checkout_begin('%s', '%s', '" SS_BASE_URL "') r",
                   pay->id, sm_channel_code[ch]);
    ss_log(x, "checkout p%d (%s) %s -> %s", p, sm_status_name[pay->status], sm_channel_code[ch],
           expect ? expect : "new attempt");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    if (ok && !expect) {
        struct sm_attempt *a = &w->att[w->n_attempts];
        memset(a, 0, sizeof(*a));
        (void)snprintf(a->ref, sizeof(a->ref), "%s", ss_val(&r, 0));
        a->payment = p;
        a->channel = ch;
        a->prov = SM_PROV_NEW;
        a->next_query_s = w->now_s + 60;
        pay->status = SM_PENDING;
        pay->channel = ch;
        pay->cur_attempt = w->n_attempts++;
        if (strtoll(ss_val(&r, 1), NULL, 10) != pay->amount_vnd) {
            ss_fail(x, "checkout_begin gave amount %s for a payment of %lld", ss_val(&r, 1),
                    (long long)pay->amount_vnd);
            ok = false;
        }
        ss_touch(x, p);
    }
    sp_res_clear(&r);
    return ok ? 1 : -1;
}

/* ---- the provider's side and its messages ---- */

static bool ss_undecided(const struct sm_world *w, int i)
{
    return w->att[i].prov == SM_PROV_NEW || w->att[i].prov == SM_PROV_OPEN;
}

static void ss_send(struct ss_ctx *x, struct ss_msg m)
{
    if (ss_pct(x, x->swarm.p_lost)) {
        return;
    }
    for (int copies = ss_pct(x, x->swarm.p_dup) ? 2 : 1; copies > 0; copies--) {
        if (x->n_flight < SS_FLIGHT_MAX) {
            x->flight[x->n_flight++] = m;
        }
    }
}

int ss_provider(struct ss_ctx *x)
{
    int a = ss_pick(x, x->w.n_attempts, ss_undecided);
    if (a < 0) {
        return 0;
    }
    struct sm_attempt *at = &x->w.att[a];
    struct sm_payment *pay = &x->w.pay[at->payment];
    if (at->prov == SM_PROV_NEW) {
        at->prov = SM_PROV_OPEN;
        bool note = ss_pct(x, 30);
        if (note) {
            ss_send(x, (struct ss_msg){ a, 2 });
        }
        ss_log(x, "provider a%d (p%d): the citizen is on the %s page%s", a, at->payment,
               sm_channel_code[at->channel], note ? ", a pending notification sent" : "");
        if (ss_pct(x, 50)) { /* and does not decide at once */
            return 0;
        }
    }
    /* A second attempt of a payment is paid now and then: a double payment (an overpayment
     * once the payment has succeeded through another attempt). */
    bool pay_it = ss_pct(x, pay->prov_paid ? x->swarm.p_double_pay : 65);
    at->prov = pay_it ? SM_PROV_PAID : SM_PROV_DECLINED;
    pay->prov_paid |= pay_it;
    ss_send(x, (struct ss_msg){ a, pay_it ? 1 : 0 });
    ss_log(x, "provider a%d (p%d): %s at %s, callback sent", a, at->payment,
           pay_it ? "paid" : "declined", sm_channel_code[at->channel]);
    return 0;
}

/* A verified provider message: about attempt (-1: none of ours), through channel. */
struct ss_cb {
    int attempt;
    int channel;
    const char *ref;
    int what; /* 0 failed, 1 succeeded, 2 pending */
    int64_t amount_vnd;
};

/* One verified callback to the switch: apply_provider_result or provider_message_pending. */
static int ss_callback(struct ss_ctx *x, const struct ss_cb *cb)
{
    int a = cb->attempt;
    int channel = cb->channel;
    int what = cb->what;
    const char *ref = cb->ref;
    int64_t amount_vnd = cb->amount_vnd;
    struct sm_world *w = &x->w;
    char sql[SS_SQL_BYTES];
    char was[48] = "";
    const char *expect;
    if (what == 2) {
        expect = a >= 0 ? "pending" : "not_found";
        if (a >= 0 && !w->att[a].final && w->att[a].next_query_s > w->now_s + 60) {
            w->att[a].next_query_s = w->now_s + 60;
        }
        (void)snprintf(sql, sizeof(sql),
                       "SELECT feegate.provider_message_pending('%s', '%s', 'sim')",
                       sm_channel_code[channel], ref);
    } else {
        if (a >= 0) {
            (void)snprintf(was, sizeof(was), " (p%d %s)", w->att[a].payment,
                           sm_status_name[w->pay[w->att[a].payment].status]);
        }
        bool owed = a >= 0 && w->att[a].ovp != SM_OVP_NONE;
        expect = sm_apply_result(w, a, what == 1, amount_vnd);
        if (a >= 0 && !owed && w->att[a].ovp != SM_OVP_NONE) {
            (void)snprintf(was, sizeof(was), " (p%d paid already: an overpayment)",
                           w->att[a].payment);
        }
        (void)snprintf(sql, sizeof(sql),
                       "SELECT feegate.apply_provider_result('%s', '%s', '%s', %lld, 'T%d', "
                       "NULL, 'callback', 'sim')",
                       sm_channel_code[channel], ref, what == 1 ? "succeeded" : "failed",
                       (long long)amount_vnd, a);
    }
    if (a >= 0) {
        ss_touch(x, w->att[a].payment);
    }
    ss_log(x, "  callback %s %s %s %lld%s -> %s", sm_channel_code[channel], ref,
           what == 2   ? "pending"
           : what == 1 ? "succeeded"
                       : "failed",
           (long long)amount_vnd, was, expect);
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    if (ok && strcmp(ss_val(&r, 0), expect) != 0) {
        ss_fail(x, "callback verdict %s, expected %s", ss_val(&r, 0), expect);
        ok = false;
    }
    sp_res_clear(&r);
    return ok ? 1 : -1;
}

int ss_deliver(struct ss_ctx *x)
{
    if (x->n_flight == 0) {
        return 0;
    }
    int i = (int)sm_rng_below(&x->rng, (uint64_t)x->n_flight);
    struct ss_msg m = x->flight[i];
    x->flight[i] = x->flight[--x->n_flight];
    struct sm_attempt *at = &x->w.att[m.attempt];
    ss_log(x, "deliver a%d (p%d), %d more in flight", m.attempt, at->payment, x->n_flight);
    struct ss_cb cb = { m.attempt, at->channel, at->ref, m.what, x->w.pay[at->payment].amount_vnd };
    return ss_callback(x, &cb);
}

int ss_forge(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    int v = (int)sm_rng_below(&x->rng, 4);
    if (w->n_attempts == 0) {
        v = 1;
    }
    int a = w->n_attempts ? (int)sm_rng_below(&x->rng, (uint64_t)w->n_attempts) : 0;
    int what = (int)sm_rng_below(&x->rng, 2);
    if (v == 0) {
        struct sm_attempt *at = &w->att[a];
        int64_t amt = w->pay[at->payment].amount_vnd + (ss_pct(x, 50) ? -1 : 1000);
        ss_log(x, "forge a%d: amount %lld", a, (long long)amt);
        struct ss_cb cb = { a, at->channel, at->ref, what, amt };
        return ss_callback(x, &cb);
    }
    if (v == 2) {
        struct sm_attempt *at = &w->att[a];
        int ch = (at->channel + 1 + (int)sm_rng_below(&x->rng, SM_CHANNELS - 1)) % SM_CHANNELS;
        ss_log(x, "forge a%d: its reference on channel %s", a, sm_channel_code[ch]);
        struct ss_cb cb = { -1, ch, at->ref, what, w->pay[at->payment].amount_vnd };
        return ss_callback(x, &cb);
    }
    char ref[32];
    (void)snprintf(ref, sizeof(ref), "FG%020llX",
                   (unsigned long long)(sm_rng_next(&x->rng) & 0xffffffffffffULL));
    ss_log(x, "forge: unknown reference %s", ref);
    /* One draw per statement: the order of a call's arguments is unspecified in C. */
    int ch = (int)sm_rng_below(&x->rng, SM_CHANNELS);
    int64_t amt = ss_r(x, 1000, 500000);
    struct ss_cb cb = { -1, ch, ref, v == 3 ? 2 : what, amt };
    return ss_callback(x, &cb);
}

/* The provider's answer to the status query of attempt a, recorded by recovery_result. */
static bool ss_query_answer(struct ss_ctx *x, int a)
{
    struct sm_world *w = &x->w;
    struct sm_attempt *at = &w->att[a];
    struct sm_payment *pay = &w->pay[at->payment];
    static const char *const answer[] = { "not_found", "pending", "succeeded", "failed" };
    const char *outcome = ss_pct(x, x->swarm.p_query_error) ? "error" : answer[at->prov];
    bool settles = at->prov >= SM_PROV_PAID && strcmp(outcome, "error") != 0;
    int next_in = ss_pct(x, x->swarm.p_window_over) ? -1 : (int)ss_r(x, 60, 900);
    enum sm_status was = pay->status;
    bool owed = at->ovp != SM_OVP_NONE;
    const char *expect =
        settles ? sm_apply_result(w, a, at->prov == SM_PROV_PAID, pay->amount_vnd) : outcome;
    owed = !owed && at->ovp != SM_OVP_NONE;
    char sql[SS_SQL_BYTES];
    char next[16] = "NULL";
    char amt[24] = "NULL";
    if (next_in >= 0) {
        (void)snprintf(next, sizeof(next), "%d", next_in);
    }
    if (settles) {
        (void)snprintf(amt, sizeof(amt), "%lld", (long long)pay->amount_vnd);
    }
    (void)snprintf(sql, sizeof(sql),
                   "SELECT feegate.recovery_result('%s', '%s', %s, %s, NULL, 'sim', %s)", at->ref,
                   outcome, amt, settles ? "'Tq'" : "NULL", next);
    /* Not found at the provider after the window, in a payment paid through another attempt:
     * nobody paid there, the attempt is final (recovery_result's v_unpaid). */
    bool unpaid = next_in < 0 && strcmp(outcome, "not_found") == 0 &&
                  (pay->status == SM_SUCCEEDED || pay->status == SM_PARTIALLY_REFUNDED ||
                   pay->status == SM_REFUNDED) &&
                  pay->cur_attempt != a;
    at->final |=
        unpaid || (settles && (strcmp(expect, "applied") == 0 || strcmp(expect, "duplicate") == 0));
    at->exhausted = next_in < 0 && !settles && !unpaid;
    at->next_query_s = w->now_s + (next_in < 0 ? 0 : next_in);
    ss_touch(x, at->payment);
    ss_log(x, "  query a%d (p%d %s) answered %s, next in %s -> %s%s", a, at->payment,
           sm_status_name[was], outcome, next, expect,
           owed        ? " (an overpayment)"
           : pay->late ? " (late)"
                       : "");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return false;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    if (ok && strcmp(ss_val(&r, 0), expect) != 0) {
        ss_fail(x, "recovery_result said %s, expected %s", ss_val(&r, 0), expect);
        ok = false;
    }
    sp_res_clear(&r);
    return ok;
}

int ss_recovery(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    static bool due[SM_ATTEMPTS_MAX];
    int n_due = 0;
    for (int a = 0; a < w->n_attempts; a++) {
        struct sm_attempt *at = &w->att[a];
        enum sm_status st = w->pay[at->payment].status;
        due[a] = false;
        if (at->final || at->next_query_s > w->now_s) {
            continue;
        }
        if (((st == SM_SUCCEEDED || st == SM_PARTIALLY_REFUNDED || st == SM_REFUNDED) &&
             w->pay[at->payment].cur_attempt == a) ||
            at->ovp != SM_OVP_NONE) {
            at->final = true; /* the callback told us already: only the paying attempt */
            continue;
        }
        if (!at->exhausted) {
            due[a] = true;
            at->next_query_s = w->now_s + SS_LEASE_S;
            n_due++;
        }
    }
    ss_log(x, "recovery: %d attempts due", n_due);
    const char *sql = "SELECT merchant_ref FROM feegate.recovery_due(1000, 30)";
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL) && ss_same_set(x, &r, due, false);
    sp_res_clear(&r);
    for (int a = 0; ok && a < w->n_attempts; a++) {
        ok = !due[a] || ss_query_answer(x, a);
    }
    return ok ? 1 : -1;
}

int ss_expire(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    int n = 0;
    for (int p = 0; p < w->n_payments; p++) {
        if (ss_payable(w, p) && w->pay[p].deadline_s <= w->now_s) {
            w->pay[p].status = SM_EXPIRED;
            ss_touch(x, p);
            n++;
        }
    }
    ss_log(x, "expire -> %d", n);
    const char *sql = "SELECT feegate.expire_due(1000)";
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    if (ok && strtol(ss_val(&r, 0), NULL, 10) != n) {
        ss_fail(x, "expire_due expired %s payments, expected %d", ss_val(&r, 0), n);
        ok = false;
    }
    sp_res_clear(&r);
    return ok ? 1 : -1;
}

/* The clock moves on: PostgreSQL's now() is the seed transaction's start and cannot be set,
 * so every deadline of the seed's rows moves back by dt instead (what is due is decided by
 * deadline <= now(), so only the difference matters). */
int ss_tick(struct ss_ctx *x)
{
    int dt = ss_pct(x, 70)   ? (int)ss_r(x, 1, 90)
             : ss_pct(x, 80) ? (int)ss_r(x, 300, 1200)
                             : (int)ss_r(x, 3600, 7200);
    x->w.now_s += dt;
    char sql[SS_SQL_BYTES];
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.payments SET expires_at = expires_at - interval '%d s'; "
                   "UPDATE feegate.payment_attempts SET next_query_at = next_query_at - "
                   "interval '%d s', created_at = created_at - interval '%d s'; "
                   "UPDATE feegate.refunds SET next_query_at = next_query_at - interval '%d s', "
                   "updated_at = updated_at - interval '%d s', created_at = created_at - "
                   "interval '%d s'",
                   dt, dt, dt, dt, dt, dt);
    ss_log(x, "tick %d s -> t = %lld s", dt, (long long)x->w.now_s);
    struct sp_res r;
    if (!ss_sql(x, SP_OWNER, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, NULL);
    sp_res_clear(&r);
    return ok ? 0 : -1;
}

int ss_cancel(struct ss_ctx *x)
{
    struct sm_world *w = &x->w;
    if (w->n_payments == 0 || w->n_keys >= SM_KEYS_MAX) {
        return 0;
    }
    int retry = -1;
    for (int k = 0; k < w->n_keys && ss_pct(x, 20); k++) {
        if (w->keys[k].kind == SM_KEY_CANCEL) {
            retry = k;
        }
    }
    bool same = retry >= 0 && ss_pct(x, 70);
    int p = retry >= 0 ? w->keys[retry].target : ss_pick_payment(x, ss_payable, 60);
    struct sm_payment *pay = &w->pay[p];
    const char *expect;
    if (retry >= 0) {
        expect = same ? NULL : "idempotency_key_reused";
    } else {
        expect = ss_payable(w, p) || pay->status == SM_CANCELLED ? NULL : "payment_not_cancellable";
    }
    bool keyed = retry >= 0 || ss_pct(x, 80);
    int k = retry >= 0 ? retry : ss_new_key(x, SM_KEY_CANCEL);
    w->keys[k].target = p;
    char sql[SS_SQL_BYTES];
    char key_sql[64] = "NULL";
    if (keyed) {
        (void)snprintf(key_sql, sizeof(key_sql), "'%s'", w->keys[k].key);
    }
    (void)snprintf(sql, sizeof(sql),
                   "SELECT http_status, body::json ->> 'status', replayed FROM "
                   "feegate.api_cancel_payment('" SS_CLIENT "', '%s', %s, '%s%s')",
                   pay->id, key_sql, w->keys[k].sha, same || retry < 0 ? "" : "-other");
    ss_log(x, "cancel p%d (%s)%s -> %s", p, sm_status_name[pay->status],
           retry >= 0 ? (same ? " retried key" : " retried key, another body") : "",
           expect ? expect : "cancelled");
    struct sp_res r;
    if (!ss_sql(x, SP_APP, sql, &r)) {
        return -1;
    }
    bool ok = ss_expect(x, sql, &r, expect);
    if (ok && !expect) {
        if (strcmp(ss_val(&r, 0), "200") != 0 || strcmp(ss_val(&r, 1), "cancelled") != 0 ||
            strcmp(ss_val(&r, 2), retry >= 0 ? "t" : "f") != 0) {
            ss_fail(x, "cancel answered %s %s replayed=%s", ss_val(&r, 0), ss_val(&r, 1),
                    ss_val(&r, 2));
            ok = false;
        }
        if (retry < 0) {
            pay->status = SM_CANCELLED;
            if (keyed) {
                w->n_keys++;
            }
        }
        ss_touch(x, p);
    }
    sp_res_clear(&r);
    return ok ? 1 : -1;
}
