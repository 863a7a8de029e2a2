/* Private to tests/sim: the state of the seed being run (the model, the PRNG, the swarm's
 * weights and fault probabilities, the provider's side, the step log) shared by the steps
 * (sim_steps.c) and the comparison with the database (sim_check.c). */
#ifndef FG_TESTS_SIM_SIM_INT_H
#define FG_TESTS_SIM_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "sim_model.h"
#include "sim_pg.h"

#define SS_CLIENT     "sim-portal"
#define SS_STAFF      "sim-approver"
/* The approver's session token (its sha256 is in staff_sessions, as staff_sign_in writes it). */
#define SS_SESSION    "5151515151515151515151515151515151515151515151515151515151515151"
#define SS_BASE_URL   "http://127.0.0.1:1"
#define SS_LEASE_S    30
#define SS_FLIGHT_MAX 1024
#define SS_STEPS_MAX  100000
#define SS_LOG_LINE   192
#define SS_TOUCH_MAX  16
#define SS_LINES_MAX  2048
#define SS_LINE_BYTES 160
#define SS_SQL_BYTES  4096
/* A business day d days before today (Vietnam time), as SQL. */
#define SS_DAY_SQL    "((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - %d)"

/* The step kinds. Adding one: its name in ss_kind_name, a weight in the swarm, its function
 * in sim_steps.c. */
enum ss_kind {
    SS_CREATE,        /* api_create_payment with a new key (or none), some requests invalid */
    SS_CREATE_RETRY,  /* the same key again: same body (replayed) or another (refused) */
    SS_CHECKOUT,      /* checkout_begin on one of the four channels */
    SS_PROVIDER,      /* the citizen at the provider: opens, pays or declines; callbacks */
    SS_DELIVER,       /* one callback in flight delivered, in any order, maybe twice */
    SS_FORGE,         /* a verified callback with a wrong amount, reference or channel */
    SS_RECOVERY,      /* recovery_due, then each attempt's status query answered */
    SS_EXPIRE,        /* expire_due */
    SS_TICK,          /* the simulated clock moves on */
    SS_CANCEL,        /* api_cancel_payment, some with a retried key */
    SS_REFUND,        /* api_refund_begin, then the provider's answer (or none) */
    SS_REFUND_RETRY,  /* a refund's key again */
    SS_REFUND_QUERY,  /* refund_due, then each refund's status query answered */
    SS_REFUND_DECIDE, /* the provider decides a refund it had left pending */
    SS_SETTLE,        /* ledger_settle (owner), some refused */
    SS_REFUND_PAID,   /* ledger_refund_paid (owner) of a refund booked after settlement */
    SS_TOPUP,         /* ledger_fee_topup (owner) */
    SS_DAY_CLOSE,     /* recon_run and day_close of a past day */
    SS_READ,          /* api_get_payment */
    SS_OVERPAY,       /* overpayments refunded through the provider, or paid back by transfer */
    SS_KINDS
};

extern const char *const ss_kind_name[SS_KINDS];

/* Swarm testing: each seed draws which step kinds it runs, how often, and how likely each
 * fault is, from a stream of its own. */
struct ss_swarm {
    int weight[SS_KINDS];
    int p_lost;        /* a callback is lost */
    int p_dup;         /* a callback is sent twice */
    int p_query_error; /* a status query gets no answer */
    int p_window_over; /* the provider's query window closes after an answer */
    int p_rf_lost;     /* a refund's answer is lost (outcome unknown) */
    int p_rf_crash;    /* the sender dies before recording anything */
    int p_bad;         /* a request the switch must refuse */
    int p_double_pay;  /* another attempt of a payment paid already is paid too */
};

/* A provider message on its way to the switch. */
struct ss_msg {
    int attempt;
    int what; /* 0 failed, 1 succeeded, 2 pending */
};

struct ss_ctx {
    PGconn *c;
    bool verbose;
    struct sm_world w;
    struct sm_rng rng;
    struct ss_swarm swarm;
    int n_flight;
    struct ss_msg flight[SS_FLIGHT_MAX];
    int step; /* 1-based number of the step running */
    int n_log;
    char (*log)[SS_LOG_LINE]; /* one line per step */
    /* what the running step touched, for the comparison after it */
    int n_touch;
    int touch[SS_TOUCH_MAX];
    bool touch_all;                  /* more than SS_TOUCH_MAX: compare every payment */
    int64_t bal_before[SM_ACCOUNTS]; /* the model's balances before the step */
    /* the failure, when there is one */
    bool failed;
    char why[4096];
};

/* Records the running step's line (printf-style) in the log. */
void ss_log(struct ss_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Marks the seed failed with the reason (printf-style); the first reason is kept. */
void ss_fail(struct ss_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Notes that payment p may have changed in this step. */
void ss_touch(struct ss_ctx *x, int p);

/* The comparison of the database with the model (sim_check.c): the accounts whose balance
 * the model says the step changed and the touched payments, or with full every account,
 * payment, attempt, refund, key, settlement item and closed day. false (and the seed failed with
 * the diff) when they differ. */
bool ss_compare(struct ss_ctx *x, bool full);
/* ledger_check() as the gateway's role: false (and the seed failed) on any violation. */
bool ss_ledger_check(struct ss_ctx *x);

/* ---- what every step uses (sim_check.c) ---- */

int64_t ss_r(struct ss_ctx *x, int64_t lo, int64_t hi); /* uniform in [lo, hi] */
bool ss_pct(struct ss_ctx *x, int pct);                 /* true pct times in 100 */
/* A random index in [0, n) that satisfies ok (drawn among those), or -1. */
int ss_pick(struct ss_ctx *x, int n, bool (*ok)(const struct sm_world *, int));
bool ss_any(const struct sm_world *w, int i);
bool ss_payable(const struct sm_world *w, int i);    /* created or pending */
bool ss_refundable(const struct sm_world *w, int i); /* succeeded or partially refunded */
/* A payment: one that satisfies prefer pct times in 100 (if any), else any. */
int ss_pick_payment(struct ss_ctx *x, bool (*prefer)(const struct sm_world *, int), int pct);
/* Runs sql as role; false when the connection failed (the seed has failed). */
bool ss_sql(struct ss_ctx *x, enum sp_role role, const char *sql, struct sp_res *r);
/* The answer must be the error code expect, or a success when expect is NULL. */
bool ss_expect(struct ss_ctx *x, const char *sql, const struct sp_res *r, const char *expect);
/* Column col of the first row, "" when there is none. */
const char *ss_val(const struct sp_res *r, int col);
/* Fills the next key slot of that kind and returns it; the caller sets its target, and counts
 * it (n_keys++) once the call succeeded. */
int ss_new_key(struct ss_ctx *x, enum sm_key_kind kind);
/* The rows a due-list function claimed (first column: merchant references, or with refunds
 * refund ids) against the model's due[]: the same set, or the seed fails. */
bool ss_same_set(struct ss_ctx *x, const struct sp_res *r, const bool *due, bool refunds);

/* ---- the steps: 1 to compare after, 0 nothing to compare, -1 the seed failed ---- */

/* sim_steps.c: payments, the provider's side, callbacks, recovery, the clock */
int ss_create(struct ss_ctx *x);
int ss_create_retry(struct ss_ctx *x);
int ss_checkout(struct ss_ctx *x);
int ss_provider(struct ss_ctx *x);
int ss_deliver(struct ss_ctx *x);
int ss_forge(struct ss_ctx *x);
int ss_recovery(struct ss_ctx *x);
int ss_expire(struct ss_ctx *x);
int ss_tick(struct ss_ctx *x);
int ss_cancel(struct ss_ctx *x);
/* sim_money.c: refunds, settlement, top-ups, day close, reads */
int ss_refund(struct ss_ctx *x);
int ss_refund_retry(struct ss_ctx *x);
int ss_refund_query(struct ss_ctx *x);
int ss_refund_decide(struct ss_ctx *x);
int ss_settle(struct ss_ctx *x);
int ss_refund_paid(struct ss_ctx *x);
int ss_topup(struct ss_ctx *x);
int ss_day_close(struct ss_ctx *x);
int ss_overpay(struct ss_ctx *x);
int ss_read(struct ss_ctx *x);

#endif
