/* The provider interface: one const ops table per bank or wallet protocol (curl's vtls
 * backends, git's ref storage backends). Adapters are pure: they build the bytes a provider
 * expects and parse and verify the bytes it sends, but never do I/O themselves. The gateway
 * owns sockets, timeouts and retries; that keeps every adapter testable against published
 * vectors byte for byte. Adapters never include gateway/ or ledger/ headers. */
#ifndef GW_ADAPTERS_ADAPTER_H
#define GW_ADAPTERS_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gw_arena.h"
#include "gw_err.h"

#define GW_ADAPTER_ABI 1

enum gw_adapter_cap {
    GW_ADAPTER_CAP_REDIRECT = 1u << 0, /* checkout is a signed browser redirect */
    GW_ADAPTER_CAP_QUERY = 1u << 1,    /* status query API */
    GW_ADAPTER_CAP_REFUND = 1u << 2,   /* refund API */
};

/* A provider's credentials and endpoints, from the [channel.NAME] section of feegate.ini.
 * All strings are borrowed from the configuration and live as long as it does. */
struct gw_adapter_config {
    const char *channel;      /* "sandbox", "vnpay", ... */
    const char *merchant_id;  /* vnp_TmnCode, partnerCode, app_id, sandbox merchant */
    const char *secret;       /* vnp_HashSecret, secretKey, key1, sandbox secret */
    const char *secret2;      /* ZaloPay key2, MoMo accessKey; NULL where unused */
    const char *endpoint_url; /* provider base URL (payment page / API host) */
    const char *ipn_url;      /* where the provider must call us back */
    const char *return_url;   /* where the provider must send the browser back */
};

/* One attempt to collect a payment through a provider. */
struct gw_charge {
    const char *payment_id;
    const char *merchant_ref; /* ours, unique, <= GW_MERCHANT_REF_BYTES_MAX of [0-9A-Za-z_-] */
    int64_t amount_vnd;
    const char *order_info;   /* ASCII description */
    const char *locale;       /* "vi" or "en" */
    const char *client_ip;
    time_t created_at;
    time_t expires_at;
};

/* An HTTP exchange an adapter asks the gateway to perform (query, refund, server create). */
struct gw_adapter_http {
    const char *method;       /* "GET" or "POST" */
    const char *url;
    const char *content_type; /* NULL for GET */
    const char *body;
    size_t body_len;
};

/* What arrived from a provider: callback (IPN), browser return, or query answer. */
struct gw_adapter_input {
    const char *method;
    const char *query; /* raw query string after '?', not decoded; "" if none */
    size_t query_len;
    const char *body;  /* raw body bytes; "" if none */
    size_t body_len;
    const char *signature_header; /* provider signature header where it uses one, or NULL */
    int http_status;              /* for query answers */
};

enum gw_pay_outcome {
    GW_PAY_PENDING = 0, /* provider does not know a final outcome yet */
    GW_PAY_SUCCEEDED,
    GW_PAY_FAILED,
    GW_PAY_NOT_FOUND,   /* provider has no such transaction (query answers) */
};

/* A verified statement from a provider about one merchant_ref. */
struct gw_adapter_result {
    char merchant_id[64];
    char merchant_ref[48];
    char provider_txn_id[64];
    char provider_code[16]; /* provider's own result code, for the history */
    int64_t amount_vnd;
    time_t paid_at;         /* 0 if unknown */
    enum gw_pay_outcome outcome;
};

/* How the gateway judged a verified callback; the adapter turns it into the provider's own
 * words so that the provider stops or retries correctly. */
enum gw_callback_verdict {
    GW_CB_APPLIED,
    GW_CB_DUPLICATE,
    GW_CB_NOT_FOUND,
    GW_CB_AMOUNT_MISMATCH,
    GW_CB_BAD_SIGNATURE,
    GW_CB_INVALID,
    GW_CB_RETRY_LATER, /* our side failed (database down): the provider must retry */
};

struct gw_adapter_reply {
    int http_status;
    const char *content_type;
    const char *body; /* static or arena */
};

typedef enum gw_err gw_adapter_checkout_fn(const struct gw_adapter_config *cfg,
                                           const struct gw_charge *charge, struct gw_arena *arena,
                                           char **redirect_url, struct gw_errbuf *eb);
typedef enum gw_err gw_adapter_parse_fn(const struct gw_adapter_config *cfg,
                                        const struct gw_adapter_input *in, struct gw_arena *arena,
                                        struct gw_adapter_result *out, struct gw_errbuf *eb);
typedef void gw_adapter_reply_fn(enum gw_callback_verdict verdict, struct gw_adapter_reply *out);
typedef enum gw_err gw_adapter_query_fn(const struct gw_adapter_config *cfg,
                                        const struct gw_charge *charge, struct gw_arena *arena,
                                        struct gw_adapter_http *req, struct gw_errbuf *eb);

struct gw_adapter_ops {
    const char *name;     /* "sandbox": also the channel and config section name */
    uint32_t abi_version; /* GW_ADAPTER_ABI; the registry refuses others */
    uint32_t caps;        /* enum gw_adapter_cap bits */
    /* Builds the signed URL that sends the citizen's browser to the provider. */
    gw_adapter_checkout_fn *checkout;
    /* Verifies a callback over its exact bytes (constant-time), then parses it.
     * GW_ERR_AUTH: signature wrong; GW_ERR_INVALID: malformed. Nothing is trusted before. */
    gw_adapter_parse_fn *callback_parse;
    /* Answer to the provider for a callback, in the provider's own format. */
    gw_adapter_reply_fn *callback_reply;
    /* Verifies and parses the browser's return (display only, never changes state). */
    gw_adapter_parse_fn *return_parse;
    /* Builds a status query for charge, and verifies and parses its answer. */
    gw_adapter_query_fn *query_build;
    gw_adapter_parse_fn *query_parse;
};

/* The registry: NULL-terminated, checked at startup (adapters/registry.c). */
extern const struct gw_adapter_ops *const gw_adapters[];

/* The adapter for a channel name, or NULL. */
const struct gw_adapter_ops *gw_adapter_find(const char *name);
/* Checks every registered table (ABI, no NULL ops, unique names); GW_ERR_INTERNAL if not. */
enum gw_err gw_adapter_registry_check(struct gw_errbuf *eb) GW_MUST_CHECK;

/* For ops a provider does not have: fails with GW_ERR_INVALID "not supported". */
gw_adapter_query_fn gw_adapter_unsupported_query;
gw_adapter_parse_fn gw_adapter_unsupported_parse;

extern const struct gw_adapter_ops gw_adapter_sandbox;

#endif
