/* The simulation's reference model (prefix sm_): what the money and the statuses of one seed
 * should be, computed in C without the database. It knows the simulation's catalogue (two
 * agencies, five treasury accounts, fees with uneven splits, the four channels), the
 * payments, their checkout attempts, refunds and idempotency keys, each account's balance,
 * the simulated clock and the closed business days. It also holds the seeded PRNG every
 * random decision of a seed comes from. Pure: no I/O, no clock, no allocation. */
#ifndef FG_TESTS_SIM_SIM_MODEL_H
#define FG_TESTS_SIM_SIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the PRNG: splitmix64 seeds xoshiro256** ---- */

struct sm_rng {
    uint64_t s[4];
};

void sm_rng_seed(struct sm_rng *r, uint64_t seed);
uint64_t sm_rng_next(struct sm_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t sm_rng_below(struct sm_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
int64_t sm_rng_range(struct sm_rng *r, int64_t lo, int64_t hi);
/* true with probability pct / 100. */
bool sm_rng_pct(struct sm_rng *r, int pct);

/* ---- the catalogue the simulator installs (sim.c writes the same rows) ---- */

#define SM_CHANNELS   4 /* sandbox, vnpay, momo, zalopay */
#define SM_TREASURIES 5
#define SM_AGENCIES   2
#define SM_FEES       5
#define SM_SPLITS_MAX 3
#define SM_ITEMS_MAX  3

struct sm_fee {
    int agency;
    const char *code;
    int64_t min_vnd, max_vnd, step_vnd; /* step 0: any amount in [min, max] */
    const int64_t *amounts_vnd;         /* NULL or a list ending with 0 */
    int n_splits;
    int treasury[SM_SPLITS_MAX]; /* in ordinal order: the last takes the remainder */
    int share_bp[SM_SPLITS_MAX];
};

extern const char *const sm_channel_code[SM_CHANNELS];
extern const char *const sm_treasury_code[SM_TREASURIES];
extern const char *const sm_agency_code[SM_AGENCIES];
extern const struct sm_fee sm_fees[SM_FEES];
/* Whether agency a offers channel c (agency_channels). */
bool sm_agency_channel(int agency, int channel);
/* The channel one_at_a_time refunds apply to (VNPAY: refunds are asked about through the
 * charge, refunds.sql). */
#define SM_CHANNEL_VNPAY 1

/* ---- accounts ---- */

enum {
    SM_ACC_CLEARING = 0,                           /* + channel */
    SM_ACC_FEES = SM_CHANNELS,                     /* + channel */
    SM_ACC_REFUNDS = 2 * SM_CHANNELS,              /* + channel */
    SM_ACC_PAYABLE = 3 * SM_CHANNELS,              /* + treasury */
    SM_ACC_BANK = 3 * SM_CHANNELS + SM_TREASURIES, /* bank:operating */
    SM_ACC_OVERPAID,                               /* + channel */
    SM_ACCOUNTS = SM_ACC_OVERPAID + SM_CHANNELS
};

/* The account's code in the chart ("clearing:vnpay"), into out. */
void sm_account_code(int acc, char *out, size_t out_len);

/* ---- the state of one seed ---- */

#define SM_PAYMENTS_MAX 256
#define SM_ATTEMPTS_MAX 512
#define SM_REFUNDS_MAX  256
#define SM_KEYS_MAX     512
#define SM_DAYS_BACK    3 /* business days that may be closed: today - 1 .. today - 3 */
#define SM_ID_BYTES     48

enum sm_status {
    SM_CREATED,
    SM_PENDING,
    SM_SUCCEEDED,
    SM_EXPIRED,
    SM_CANCELLED,
    SM_PARTIALLY_REFUNDED,
    SM_REFUNDED
};

extern const char *const sm_status_name[];

/* What the provider knows of an attempt. */
enum sm_prov {
    SM_PROV_NEW,
    SM_PROV_OPEN,
    SM_PROV_PAID,
    SM_PROV_DECLINED
};

struct sm_item {
    int fee; /* index into sm_fees */
    int64_t amount_vnd;
};

struct sm_payment {
    char id[SM_ID_BYTES];
    char order_ref[32];
    int agency;
    int n_items;
    struct sm_item items[SM_ITEMS_MAX];
    int64_t amount_vnd;
    enum sm_status status;
    bool late;
    int channel;     /* -1: none yet */
    int cur_attempt; /* the attempt payments.merchant_ref names, -1: none */
    int64_t deadline_s;
    int64_t refunded_vnd;
    bool booked;                   /* its success journal exists */
    bool prov_paid;                /* one of its attempts is paid at the provider */
    int64_t credit[SM_TREASURIES]; /* what its success credited each payable account */
    int64_t owed[SM_TREASURIES];   /* payment_payables: credit minus refunded parts */
    bool settled[SM_TREASURIES];   /* settlement_items */
    int create_key;                /* the key that created it, -1: none */
};

/* overpayments.state of an attempt's overpayment (refunding lasts within one step). */
enum sm_ovp {
    SM_OVP_NONE,
    SM_OVP_OWED,
    SM_OVP_REFUNDED,
    SM_OVP_TO_TRANSFER,
    SM_OVP_TRANSFERRED
};

extern const char *const sm_ovp_name[];

struct sm_attempt {
    char ref[SM_ID_BYTES];
    int payment;
    int channel;
    enum sm_prov prov;
    int64_t next_query_s;
    bool final, exhausted;
    bool declined;   /* payment_attempts.declined_at: its decline was applied */
    enum sm_ovp ovp; /* a success of a paid payment booked as its overpayment */
};

enum sm_refund_status {
    SM_RF_SENDING,
    SM_RF_PENDING,
    SM_RF_SUCCEEDED,
    SM_RF_FAILED
};

extern const char *const sm_refund_status_name[];

/* What the provider will answer about a refund. */
enum sm_rf_prov {
    SM_RFP_UNDECIDED,
    SM_RFP_ACCEPT,
    SM_RFP_REJECT
};

struct sm_refund {
    char id[SM_ID_BYTES];
    int payment;
    int key;
    int64_t amount_vnd;
    enum sm_refund_status status;
    enum sm_rf_prov prov;
    bool ambiguous, exhausted;
    int64_t next_query_s, updated_s;
    int64_t after_settlement_vnd; /* booked to refunds:<channel>, to be paid out */
    bool paid_out;
};

enum sm_key_kind {
    SM_KEY_CREATE,
    SM_KEY_CANCEL,
    SM_KEY_REFUND
};

struct sm_key {
    char key[40];
    char sha[24];
    enum sm_key_kind kind;
    int target;      /* payment (create, cancel) or refund (refund) */
    int http_status; /* 0: claimed, in progress (refunds) */
    char req[640];   /* create: the request's JSON, sent again by a retry */
};

struct sm_world {
    uint64_t seed;
    int64_t now_s; /* the simulated clock, seconds since the seed began */
    int64_t bal[SM_ACCOUNTS];
    bool closed[SM_DAYS_BACK + 1]; /* [d]: today - d is closed */
    int n_payments, n_attempts, n_refunds, n_keys;
    struct sm_payment pay[SM_PAYMENTS_MAX];
    struct sm_attempt att[SM_ATTEMPTS_MAX];
    struct sm_refund rf[SM_REFUNDS_MAX];
    struct sm_key keys[SM_KEYS_MAX];
    int n_serial; /* order refs, request ids */
};

void sm_world_init(struct sm_world *w, uint64_t seed);

/* Credits of each treasury account for these items (split_items in ledger.sql: floor per
 * split, the remainder to the highest ordinal). */
void sm_split(const struct sm_item *items, int n_items, int64_t credit[SM_TREASURIES]);

/* Books a payment's success: clearing:<channel> debited, payable:<treasury> credited. */
void sm_book_success(struct sm_world *w, int p);

/* ledger_refund: the parts of an accepted refund for each treasury account (in proportion to
 * the success credits, floor, the remainder to the last account by code), booked before or
 * after settlement; returns the amount booked to refunds:<channel> (after settlement). */
int64_t sm_book_refund(struct sm_world *w, const struct sm_refund *rf);

/* What apply_provider_result answers for attempt a (or -1: no such attempt on that channel)
 * with this outcome and amount, and its effects on the model. */
const char *sm_apply_result(struct sm_world *w, int a, bool succeeded, int64_t amount_vnd);

/* Whether the payment is live for its order_ref (payments_live_order_ref). */
bool sm_payment_live(const struct sm_payment *p);

#endif
