/* The reference model of the simulation (sim_model.h): the PRNG, the catalogue, and the
 * posting rules of ledger.sql restated in C over the model's balances. Written from
 * docs/ledger.md's rules, not by calling the SQL: where both agree the simulation passes. */
#include "sim_model.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

/* ---- PRNG ---- */

static uint64_t sm_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sm_rng_seed(struct sm_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = sm_splitmix64(&x);
    }
}

#define SM_ROTL(x, k) (((x) << (k)) | ((x) >> (64 - (k))))

uint64_t sm_rng_next(struct sm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = SM_ROTL(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = SM_ROTL(s[3], 45);
    return result;
}

uint64_t sm_rng_below(struct sm_rng *r, uint64_t n)
{
    /* Rejection of the top partial range, so that every remainder is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t v = sm_rng_next(r);
        if (v < limit) {
            return v % n;
        }
    }
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a range's two ends, in order */
int64_t sm_rng_range(struct sm_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)sm_rng_below(r, (uint64_t)(hi - lo) + 1);
}

bool sm_rng_pct(struct sm_rng *r, int pct)
{
    return (int)sm_rng_below(r, 100) < pct;
}

/* ---- catalogue ---- */

const char *const sm_channel_code[SM_CHANNELS] = { "sandbox", "vnpay", "momo", "zalopay" };
const char *const sm_treasury_code[SM_TREASURIES] = { "SIM-A-1", "SIM-A-2", "SIM-A-3", "SIM-B-1",
                                                      "SIM-B-2" };
const char *const sm_agency_code[SM_AGENCIES] = { "SIM-A", "SIM-B" };

static const int64_t sm_fix_amounts[] = { 200000, 0 };
static const int64_t sm_list_amounts[] = { 50000, 200000, 0 };

/* The splits are uneven on purpose: 3333/3333/3334 and 70/30 leave remainders that go to the
 * last ordinal, and G-ANY's last ordinal is not the last account by code. */
const struct sm_fee sm_fees[SM_FEES] = {
    { 0, "F-FIX", 200000, 200000, 0, sm_fix_amounts, 2, { 0, 1, 0 }, { 7000, 3000, 0 } },
    { 0, "F-STEP", 1000, 500000, 1000, NULL, 3, { 0, 1, 2 }, { 3333, 3333, 3334 } },
    { 0, "F-ANY", 8000, 400000, 8000, NULL, 1, { 2, 0, 0 }, { 10000, 0, 0 } },
    { 1, "G-LIST", 50000, 200000, 0, sm_list_amounts, 2, { 3, 4, 0 }, { 2500, 7500, 0 } },
    { 1, "G-ANY", 10000, 1000000, 0, NULL, 2, { 4, 3, 0 }, { 5000, 5000, 0 } },
};

/* Two catalogue indexes: swapped, the catalogue and the model would disagree at once. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters) */
bool sm_agency_channel(int agency, int channel)
{
    return agency == 0 || channel == 0 || channel == 2; /* SIM-B: sandbox and momo */
}

const char *const sm_status_name[] = { "created", "pending",   "succeeded",
                                       "expired", "cancelled", "partially_refunded",
                                       "refunded" };
const char *const sm_ovp_name[] = { "-", "owed", "refunded", "to_transfer", "transferred" };
const char *const sm_refund_status_name[] = { "sending", "pending", "succeeded", "failed" };

void sm_account_code(int acc, char *out, size_t out_len)
{
    if (acc < SM_ACC_FEES) {
        (void)snprintf(out, out_len, "clearing:%s", sm_channel_code[acc]);
    } else if (acc < SM_ACC_REFUNDS) {
        (void)snprintf(out, out_len, "fees:%s", sm_channel_code[acc - SM_ACC_FEES]);
    } else if (acc < SM_ACC_PAYABLE) {
        (void)snprintf(out, out_len, "refunds:%s", sm_channel_code[acc - SM_ACC_REFUNDS]);
    } else if (acc < SM_ACC_BANK) {
        (void)snprintf(out, out_len, "payable:%s", sm_treasury_code[acc - SM_ACC_PAYABLE]);
    } else if (acc == SM_ACC_BANK) {
        (void)snprintf(out, out_len, "bank:operating");
    } else {
        (void)snprintf(out, out_len, "overpaid:%s", sm_channel_code[acc - SM_ACC_OVERPAID]);
    }
}

void sm_world_init(struct sm_world *w, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->seed = seed;
}

/* ---- posting rules ---- */

void sm_split(const struct sm_item *items, int n_items, int64_t credit[SM_TREASURIES])
{
    memset(credit, 0, sizeof(int64_t) * SM_TREASURIES);
    for (int i = 0; i < n_items; i++) {
        const struct sm_fee *f = &sm_fees[items[i].fee];
        int64_t amt = items[i].amount_vnd;
        int64_t all = 0;
        for (int s = 0; s < f->n_splits; s++) {
            all += amt * f->share_bp[s] / 10000;
        }
        for (int s = 0; s < f->n_splits; s++) {
            int64_t part = amt * f->share_bp[s] / 10000;
            if (s == f->n_splits - 1) {
                part += amt - all;
            }
            credit[f->treasury[s]] += part;
        }
    }
}

void sm_book_success(struct sm_world *w, int p)
{
    struct sm_payment *pay = &w->pay[p];
    sm_split(pay->items, pay->n_items, pay->credit);
    w->bal[SM_ACC_CLEARING + pay->channel] += pay->amount_vnd;
    for (int t = 0; t < SM_TREASURIES; t++) {
        w->bal[SM_ACC_PAYABLE + t] -= pay->credit[t];
        pay->owed[t] = pay->credit[t];
    }
    pay->booked = true;
}

int64_t sm_book_refund(struct sm_world *w, const struct sm_refund *rf)
{
    struct sm_payment *pay = &w->pay[rf->payment];
    int64_t amount_vnd = rf->amount_vnd;
    int64_t part[SM_TREASURIES] = { 0 };
    int64_t others = 0;
    int64_t after = 0;
    int last = -1; /* the credited account with the greatest code takes the remainder */
    for (int t = 0; t < SM_TREASURIES; t++) {
        if (pay->credit[t] > 0 &&
            (last < 0 || strcmp(sm_treasury_code[t], sm_treasury_code[last]) > 0)) {
            last = t;
        }
    }
    for (int t = 0; t < SM_TREASURIES; t++) {
        if (pay->credit[t] <= 0 || t == last) {
            continue;
        }
        part[t] = amount_vnd * pay->credit[t] / pay->amount_vnd;
        others += part[t];
    }
    part[last] = amount_vnd - others;
    for (int t = 0; t < SM_TREASURIES; t++) {
        if (part[t] <= 0) {
            continue;
        }
        w->bal[SM_ACC_PAYABLE + t] += part[t];
        pay->owed[t] -= part[t];
        if (pay->settled[t]) {
            w->bal[SM_ACC_REFUNDS + pay->channel] -= part[t];
            after += part[t];
        } else {
            w->bal[SM_ACC_CLEARING + pay->channel] -= part[t];
        }
    }
    return after;
}

bool sm_payment_live(const struct sm_payment *p)
{
    return !p->late && (p->status == SM_CREATED || p->status == SM_PENDING ||
                        p->status == SM_SUCCEEDED || p->status == SM_PARTIALLY_REFUNDED);
}

/* The provider_succeeded rows of payment_transitions (state_machine.sql): 0 ignore, 1 apply,
 * 2 apply_late, 3 overpay. */
static int sm_transition(enum sm_status from)
{
    switch (from) {
    case SM_CREATED:
    case SM_PENDING:
        return 1;
    case SM_EXPIRED:
    case SM_CANCELLED:
        return 2;
    case SM_SUCCEEDED:
    case SM_PARTIALLY_REFUNDED:
    case SM_REFUNDED:
        return 3;
    default:
        return 0;
    }
}

const char *sm_apply_result(struct sm_world *w, int a, bool succeeded, int64_t amount_vnd)
{
    if (a < 0) {
        return "not_found";
    }
    struct sm_attempt *at = &w->att[a];
    struct sm_payment *p = &w->pay[at->payment];
    if (amount_vnd != p->amount_vnd) {
        return "amount_mismatch";
    }
    if (!succeeded) {
        /* decline_attempt: the attempt is closed, the payment stays pending (payable). */
        if (p->status != SM_CREATED && p->status != SM_PENDING) {
            return "duplicate";
        }
        if (at->declined) {
            return "duplicate";
        }
        at->declined = true;
        at->final = true;
        return p->cur_attempt == a ? "applied" : "duplicate";
    }
    int how = sm_transition(p->status);
    if (how == 0) {
        return "duplicate";
    }
    if (how == 3) {
        /* A double payment: another attempt of a paid payment succeeded. Booked once as an
         * overpayment (docs/ledger.md, "Overpayments"): debit clearing, credit overpaid. */
        if (p->cur_attempt == a || at->ovp != SM_OVP_NONE) {
            return "duplicate";
        }
        at->ovp = SM_OVP_OWED;
        at->final = true;
        w->bal[SM_ACC_CLEARING + at->channel] += p->amount_vnd;
        w->bal[SM_ACC_OVERPAID + at->channel] -= p->amount_vnd;
        return "applied";
    }
    p->status = SM_SUCCEEDED;
    if (how == 2) {
        p->late = true;
    }
    p->channel = at->channel;
    p->cur_attempt = a;
    sm_book_success(w, at->payment);
    return "applied";
}
