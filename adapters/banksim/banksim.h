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
struct evhttp_request;
struct bs_pool;

#define BS_TXNS_MAX              1000000 /* per provider store; then 503 */
#define BS_BODY_BYTES_MAX        (8 * 1024)
#define BS_HTTP_TIMEOUT_S        30     /* idle browser connections */
#define BS_CALLBACK_TIMEOUT_S    5      /* one callback attempt */
#define BS_CALLBACK_ATTEMPTS_MAX 6      /* the first and five retries */
#define BS_CALLBACK_BACKOFF_MS   200    /* doubled after each retry */
#define BS_CALLBACK_INFLIGHT_MAX 100000 /* deliveries alive at once; then 503 */
#define BS_CONNS_PER_TARGET_MAX  128    /* keep-alive connections per ipn host:port */
#define BS_TARGETS_MAX           16     /* distinct ipn host:port pairs */
#define BS_REF_BYTES_MAX         40     /* GW_MERCHANT_REF_BYTES_MAX */
#define BS_TXN_ID_BYTES_MAX      24

enum bs_auto {
    BS_AUTO_OFF = 0,
    BS_AUTO_APPROVE,
    BS_AUTO_DECLINE,
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
};

/* The process: one loop, one server, one connection pool. */
struct bs_sim {
    const struct bs_options *opts;
    struct event_base *base;
    struct evhttp *http;
    struct bs_pool *pool;
    uint64_t rng_state;
    size_t deliveries_alive;
    struct bs_stats stats;
};

/* A provider side: its routes and its line on GET /. */
struct bs_provider {
    const char *name;
    const char *summary;
    /* Called once at startup; registers the provider's routes on sim->http. */
    enum gw_err (*start)(struct bs_sim *sim, struct gw_errbuf *eb);
    void (*stop)(void);
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
void bs_reply_redirect(struct evhttp_request *req, const char *location);
/* The raw query string of req ("" if none), not decoded. */
const char *bs_request_query(struct evhttp_request *req, size_t *len);
/* The request body as an arena string; GW_ERR_LIMIT past BS_BODY_BYTES_MAX. */
enum gw_err bs_request_body(struct evhttp_request *req, struct gw_arena *a, char **body,
                            size_t *len) GW_MUST_CHECK;

/* A signed callback to deliver; the strings are copied. */
struct bs_callback {
    const char *url; /* http://host[:port]/path */
    const char *body;
    size_t body_len;
    const char *sig_header; /* header name carrying sig */
    const char *sig;
    const char *merchant_ref; /* for the logs */
};

/* Starts delivering cb in the background: POST, retried on 5xx and failures with backoff.
 * When browser is not NULL, it is answered with 303 to location once the first attempt has
 * its answer (or failed). GW_ERR_LIMIT/GW_ERR_INVALID: nothing started, browser untouched. */
enum gw_err bs_deliver(struct bs_sim *sim, const struct bs_callback *cb,
                       struct evhttp_request *browser, const char *location,
                       struct gw_errbuf *eb) GW_MUST_CHECK;

void bs_pool_new(struct bs_sim *sim);
/* Frees the pool and every delivery still in progress. */
void bs_pool_free(struct bs_sim *sim);

/* The provider sides compiled in (sim_*.c). */
extern const struct bs_provider bs_provider_sandbox;

#endif
