/* feegate-banksim's shared parts: the transaction store, HTTP helpers, and background
 * delivery of signed callbacks with retries. Each provider side (sim_<provider>.c) registers
 * its own routes on the one evhttp server and keeps its own store; this header is private
 * to adapters/banksim/. Everything runs on one event loop: no function here blocks. */
#ifndef GW_ADAPTERS_BANKSIM_BANKSIM_H
#define GW_ADAPTERS_BANKSIM_BANKSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_arena.h"
#include "gw_err.h"

struct event_base;
struct evhttp;
struct gw_buf;
struct evhttp_request;
struct bs_pool;

#define BS_TXNS_MAX                     1000000 /* per provider store; then 503 */
#define BS_PROVIDER_TXNS_MAX            500000  /* VNPAY, MoMo, ZaloPay: each store (with ext) */
#define BS_BODY_BYTES_MAX               ((size_t)8 * 1024)
#define BS_HTTP_TIMEOUT_S               30     /* idle browser connections */
#define BS_CALLBACK_TIMEOUT_S           5      /* one callback attempt */
#define BS_CALLBACK_ATTEMPTS_MAX        6      /* the first and five retries */
#define BS_CALLBACK_BACKOFF_MS          200    /* doubled after each retry */
#define BS_CALLBACK_INTERVAL_MS_DEFAULT 5000   /* VNPAY/MoMo/ZaloPay retries (real VNPAY: 5 min) */
#define BS_CALLBACK_INFLIGHT_MAX        100000 /* deliveries alive at once; then 503 */
#define BS_CONNS_PER_TARGET_MAX         128    /* keep-alive connections per ipn host:port */
#define BS_TARGETS_MAX                  16     /* distinct ipn host:port pairs */
#define BS_REF_BYTES_MAX                40     /* GW_MERCHANT_REF_BYTES_MAX */
#define BS_TXN_ID_BYTES_MAX             24

enum bs_auto {
    BS_AUTO_OFF = 0,
    BS_AUTO_APPROVE,
    BS_AUTO_DECLINE,
};

/* The provider sides, also the index of their stats and faults. */
enum bs_prov {
    BS_PROV_SANDBOX = 0,
    BS_PROV_VNPAY,
    BS_PROV_MOMO,
    BS_PROV_ZALOPAY,
    BS_PROV_N,
};

enum bs_status {
    BS_PENDING = 0, /* the page was shown, the payer has not decided */
    BS_SUCCEEDED,
    BS_FAILED,
};

/* One transaction as the bank knows it. Pointers into a store are valid only until the next
 * bs_store_add: never keep one across an event. */
struct bs_txn {
    char merchant_ref[BS_REF_BYTES_MAX + 1];
    char txn_id[BS_TXN_ID_BYTES_MAX];
    uint8_t status; /* enum bs_status */
    int64_t amount_vnd;
    int64_t paid_at;
    /* Used by the VNPAY, MoMo and ZaloPay sides (0/NULL for sandbox): */
    int64_t created_ms;
    int64_t decided_ms;   /* when the payer decided (or the refund was made) */
    int64_t expires_ms;   /* the payment's deadline */
    int64_t refunded_vnd; /* sum of the refunds made on this payment */
    char *ext;            /* provider fields, packed NUL-separated (bs_ext_*); owned */
};

/* merchant_ref -> transaction; open addressing over a dense array, no deletion. */
struct bs_store {
    uint32_t *slots; /* index + 1 into txns, 0 when empty */
    size_t slots_cap;
    struct bs_txn *txns;
    size_t txns_len;
    size_t txns_cap;
    size_t txns_max;
};

struct bs_stats {
    uint64_t pages_shown;
    uint64_t approved;
    uint64_t declined;
    uint64_t callbacks_sent;     /* attempts */
    uint64_t callbacks_acked;    /* answered 2xx */
    uint64_t callbacks_refused;  /* answered 4xx: the gateway will not take it */
    uint64_t callbacks_given_up; /* no 2xx/4xx after every attempt */
};

/* The command line. Provider sides read their own members. */
struct bs_options {
    const char *listen; /* HOST:PORT */
    const char *sandbox_merchant;
    const char *sandbox_secret;
    enum bs_auto auto_mode;
    uint64_t seed;
    /* A provider without its credentials is off. */
    const char *vnpay_tmn;
    const char *vnpay_secret;
    const char *vnpay_ipn_url;
    const char *momo_partner;
    const char *momo_access_key;
    const char *momo_secret_key;
    const char *zalopay_app_id;
    const char *zalopay_key1;
    const char *zalopay_key2;
    int64_t fee_bp[BS_PROV_N];    /* statement fee rate per provider, basis points */
    int64_t callback_interval_ms; /* between two calls of one VNPAY/MoMo/ZaloPay callback */
    const char *statement_dir;    /* POST /_statements/close writes files here, or NULL */
    const char *faults_json;      /* initial faults, as POST /_faults takes them, or NULL */
    const char *tls_cert;         /* PEM: serve only TLS with this certificate, or NULL */
    const char *tls_key;          /* its key */
};

/* Per provider callback counters (GET /_stats). */
#define BS_CODES_MAX 16

struct bs_pstats {
    uint64_t callbacks;     /* callbacks decided (before faults) */
    uint64_t sent;          /* attempts, every copy */
    uint64_t retried;       /* attempts after the first of a copy */
    uint64_t given_up;      /* copies that ran out of attempts */
    uint64_t dropped;       /* callbacks never sent (fault) */
    uint64_t duplicated;    /* extra copies sent (fault) */
    uint64_t delayed;       /* callbacks whose first attempt was delayed (fault) */
    uint64_t reordered;     /* callbacks held and released shuffled (fault) */
    uint64_t late;          /* successes held until after the payment's expiry (fault) */
    uint64_t forged;        /* forged or tampered copies sent (fault) */
    uint64_t no_answer;     /* attempts without an HTTP answer (refused, reset, timeout) */
    uint64_t api_failed;    /* query/refund calls answered 503 (fault) */
    uint64_t api_slow;      /* query/refund answers delayed (fault) */
    uint64_t api_timeout;   /* query/refund calls never answered (fault) */
    uint64_t create_failed; /* create calls failed (fault) */
    size_t n_codes;

    struct {
        char code[16];
        uint64_t n;
    } codes[BS_CODES_MAX]; /* answers by the merchant's code */
};

struct bs_faults_state;

/* The process: one loop, one server, one connection pool. */
struct bs_sim {
    const struct bs_options *opts;
    struct event_base *base;
    struct evhttp *http;
    struct bs_pool *pool;
    uint64_t rng_state;
    size_t deliveries_alive;
    struct bs_stats stats;
    struct bs_pstats pstats[BS_PROV_N];
    struct bs_faults_state *faults;
    struct ssl_ctx_st *tls; /* SSL_CTX of --tls-cert, or NULL */
};

/* A provider side: its routes and its line on GET /. */
struct bs_provider {
    const char *name;
    const char *summary;
    /* Called once at startup; registers the provider's routes on sim->http. *on is set false
     * when the provider has no credentials (then nothing is registered). */
    enum gw_err (*start)(struct bs_sim *sim, bool *on, struct gw_errbuf *eb);
    void (*stop)(void);
    /* The daily statement of the business day starting at day_start_s (Unix time of
     * 00:00 Asia/Ho_Chi_Minh) into out; NULL when the provider has none. */
    enum gw_err (*statement)(int64_t day_start_s, struct gw_buf *out);
    const char *statement_ext; /* file name extension: "csv", "jsonl" */
};

void bs_store_init(struct bs_store *s, size_t txns_max);
void bs_store_release(struct bs_store *s);
struct bs_txn *bs_store_find(struct bs_store *s, const char *ref);
/* Adds a pending transaction for ref (which must not be present); GW_ERR_LIMIT when full. */
enum gw_err bs_store_add(struct bs_store *s, const char *ref, struct bs_txn **out) GW_MUST_CHECK;

/* A new unique transaction id "<prefix><16 hex>" from the seeded generator. */
void bs_txn_id_new(struct bs_sim *sim, const char *prefix, char out[BS_TXN_ID_BYTES_MAX]);

/* Parses a plain decimal integer (no sign, no spaces) within min..max. */
bool bs_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
/* True when url is absolute http:// (or https:// when https_ok) with a host. */
bool bs_url_ok(const char *url, bool https_ok);

/* Replies with body (len bytes) and content_type. */
void bs_reply(struct evhttp_request *req, int status, const char *content_type, const char *body,
              size_t len);
/* Replies with a small bilingual HTML page; body_html is already escaped. */
void bs_reply_page(struct evhttp_request *req, int status, const char *title,
                   const char *body_html);

/* A page as bs_reply_page makes it; return_url (NULL: none) is the merchant's return URL of
 * the payment the page is about, whose origin its forms may also lead to: the simulator
 * redirects there after the payer's choice. */
struct bs_page {
    int status;
    const char *title;
    const char *body_html; /* already escaped */
    const char *return_url;
};

#define BS_CONFIRM_TITLE "Xác nhận thanh toán · Confirm payment"
void bs_send_page(struct evhttp_request *req, const struct bs_page *pg);
void bs_reply_redirect(struct evhttp_request *req, const char *location);
/* The raw query string of req ("" if none), not decoded. */
const char *bs_request_query(struct evhttp_request *req, size_t *len);
/* The request body as an arena string; GW_ERR_LIMIT past BS_BODY_BYTES_MAX. */
enum gw_err bs_request_body(struct evhttp_request *req, struct gw_arena *a, char **body,
                            size_t *len) GW_MUST_CHECK;

/* How a callback attempt was answered, as the provider reads it. */
enum bs_answer {
    BS_ANSWER_DONE = 0, /* the merchant has it: stop */
    BS_ANSWER_RETRY,    /* call again later, while attempts remain */
};

/* Judges one answer: status is 0 when there was none (connection failure or timeout), body
 * the response body. Writes the code counted in the stats ("00", "204", "1") into code. */
typedef enum bs_answer bs_judge_fn(int status, const char *body, size_t len, char code[16]);

/* A signed callback to deliver; the strings are copied. */
struct bs_callback {
    const char *url;  /* http://host[:port]/path[?query] */
    const char *body; /* NULL with get */
    size_t body_len;
    const char *sig_header; /* header name carrying sig, or NULL */
    const char *sig;
    const char *merchant_ref; /* for the logs */
    /* The provider sides (sandbox leaves these 0): */
    enum bs_prov prov;
    bool get;              /* a GET of url (VNPAY IPN) instead of a POST of body */
    bs_judge_fn *judge;    /* NULL: 2xx and 4xx stop, as the sandbox protocol says */
    unsigned attempts_max; /* 0: BS_CALLBACK_ATTEMPTS_MAX */
    int64_t interval_ms;   /* 0: backoff doubling from BS_CALLBACK_BACKOFF_MS */
};

/* Starts delivering cb in the background: POST, retried on 5xx and failures with backoff.
 * When browser is not NULL, it is answered with 303 to location once the first attempt has
 * its answer (or failed). GW_ERR_LIMIT/GW_ERR_INVALID: nothing started, browser untouched. */
enum gw_err bs_deliver(struct bs_sim *sim, const struct bs_callback *cb,
                       struct evhttp_request *browser, const char *location,
                       struct gw_errbuf *eb) GW_MUST_CHECK;

/* A delivery with its start deferred: after delay_ms, or, when held, at
 * bs_delivery_release. *out (may be NULL) stays valid until the first attempt is made. */
struct bs_delivery;

struct bs_deliver_how {
    const struct bs_callback *cb;
    struct evhttp_request *browser; /* or NULL */
    const char *location;
    int64_t delay_ms;
    bool held;
};
enum gw_err bs_deliver_ex(struct bs_sim *sim, const struct bs_deliver_how *how,
                          struct bs_delivery **out, struct gw_errbuf *eb) GW_MUST_CHECK;
/* Makes the first attempt of a held delivery now. */
void bs_delivery_release(struct bs_delivery *d);

/* ---- faults (bs_fault.c) ---- */

enum bs_forge {
    BS_FORGE_NONE = 0,
    BS_FORGE_SIGNATURE, /* a bad signature over the genuine fields */
    BS_FORGE_AMOUNT,    /* the amount changed after signing */
};

/* What the faults decided for one callback, drawn from the seeded generator. */
struct bs_plan {
    bool drop;
    unsigned copies; /* 1 + duplicates */
    int64_t delay_ms;
    bool reorder;
    int64_t not_before_ms; /* late success: not sent before this wall-clock time, or 0 */
    enum bs_forge forge;
};

void bs_faults_new(struct bs_sim *sim);
void bs_faults_free(struct bs_sim *sim);
/* Applies a faults document (the body of POST /_faults, README.md). */
enum gw_err bs_faults_set(struct bs_sim *sim, const char *json, size_t len,
                          struct gw_errbuf *eb) GW_MUST_CHECK;
/* Registers POST /_faults, GET /_faults, GET /_stats. */
void bs_faults_routes(struct bs_sim *sim);
/* The plan of the next callback of prov; success and expires_ms feed the late fault. */
void bs_fault_plan(struct bs_sim *sim, enum bs_prov prov, bool success, int64_t expires_ms,
                   struct bs_plan *plan);
/* Sends cb as plan says: drops, duplicates, delays, holds for reordering or until after the
 * expiry. browser (or NULL) gets 303 to location after the first attempt when cb goes out
 * at once, else right away. On error nothing was started and browser is untouched. */
enum gw_err bs_send(struct bs_sim *sim, const struct bs_callback *cb, const struct bs_plan *plan,
                    struct evhttp_request *browser, const char *location,
                    struct gw_errbuf *eb) GW_MUST_CHECK;
/* Sends one forged copy (one attempt, never retried) and counts it. */
void bs_send_forged(struct bs_sim *sim, const struct bs_callback *cb);
/* True when a create call of prov is to fail; *as_5xx says how (503, or the provider's own
 * error code). */
bool bs_fault_create(struct bs_sim *sim, enum bs_prov prov, bool *as_5xx);
/* The query/refund faults: returns false when req was answered 503 (do nothing then). */
bool bs_fault_api_begin(struct bs_sim *sim, enum bs_prov prov, struct evhttp_request *req);
/* Answers a query/refund call, possibly late or never (slow and timeout faults). */
void bs_api_reply(struct bs_sim *sim, enum bs_prov prov, struct evhttp_request *req,
                  const char *body, size_t len);
/* Counts an answer of the merchant by code. */
void bs_stats_code(struct bs_sim *sim, enum bs_prov prov, const char *code);

/* ---- provider records and statements (bs_statement.c) ---- */

/* ext: n NUL-terminated strings packed one after the other into one owned block. */
char *bs_ext_new(const char *const *fields, size_t n);
/* The i-th string of ext ("" past the end or when ext is NULL). */
const char *bs_ext_get(const char *ext, size_t n, size_t i);

/* The Unix time of 00:00 Asia/Ho_Chi_Minh of a YYYY-MM-DD date. */
enum gw_err bs_day_parse(const char *date, int64_t *day_start_s) GW_MUST_CHECK;
/* The fee of amount_vnd at fee_bp basis points, rounded half up to whole VND. */
int64_t bs_fee_vnd(int64_t amount_vnd, int64_t fee_bp);

/* The rows of a statement: succeeded payments of pay and refunds of refunds whose
 * decided_ms falls in the day, sorted by decided_ms then insertion. */
struct bs_stmt_row {
    const struct bs_txn *t;
    bool refund;
    size_t seq; /* payments first in store order, then refunds: the tie-break */
};

/* Rows into *rows (an owned array to gw_xfree), their number into *n. */
void bs_statement_rows(const struct bs_store *pay, const struct bs_store *refunds,
                       int64_t day_start_s, struct bs_stmt_row **rows, size_t *n);
/* Registers GET /<name>/statement per provider and POST /_statements/close. */
void bs_statement_routes(struct bs_sim *sim, const struct bs_provider *const *providers,
                         const bool *on);

/* ---- small helpers shared by the provider sides ---- */

/* The amount in words-free Vietnamese grouping "1.234.567". */
void bs_format_vnd(int64_t v, char out[32]);
/* A number from the seeded generator. */
uint64_t bs_rand(struct bs_sim *sim);
/* The approve/decline page; action_url is where the form posts (already a URL), return_url the
 * merchant's return URL of this payment (NULL: none), whose origin the page's policy allows. */
void bs_show_page(struct evhttp_request *req, const char *provider, const char *const rows[][2],
                  size_t n_rows, int64_t amount_vnd, const char *action_url,
                  const char *return_url);
/* The payer's choice: 1 approve, 0 decline, -1 none yet (show the page), -2 malformed. */
int bs_page_action(struct bs_sim *sim, struct evhttp_request *req, struct gw_arena *a);
/* Lowercase hex of [0-9a-f] only (MoMo and ZaloPay compare exactly). */
bool bs_hex_lower(const char *s);
/* True for 1..max bytes of [0-9A-Za-z_.-]. */
bool bs_ref_ok(const char *s, size_t max);

void bs_pool_new(struct bs_sim *sim);
/* Frees the pool and every delivery still in progress. */
void bs_pool_free(struct bs_sim *sim);

/* The provider sides compiled in (sim_*.c). */
extern const struct bs_provider bs_provider_sandbox;
extern const struct bs_provider bs_provider_vnpay;
extern const struct bs_provider bs_provider_momo;
extern const struct bs_provider bs_provider_zalopay;

#endif
