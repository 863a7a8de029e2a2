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

/* 2: server-side create, refunds, refund query, request headers, request ids and times.
 * 3: the callback answers and the signature header are data; ops a provider lacks are NULL. */
#define GW_ADAPTER_ABI 3

/* What a provider offers. Each bit but the last stands for ops that are set exactly when it
 * is (gw_adapter_registry_check): the gateway tests the bit, never the pointer. */
enum gw_adapter_cap {
    GW_ADAPTER_CAP_REDIRECT = 1u << 0, /* checkout is a signed browser redirect: checkout */
    GW_ADAPTER_CAP_QUERY = 1u << 1,    /* status query API: query_build, query_parse */
    GW_ADAPTER_CAP_REFUND = 1u << 2,   /* refund API: refund_build, refund_parse */
    /* server-side create returns the pay URL (MoMo, ZaloPay): create_build, create_parse */
    GW_ADAPTER_CAP_CREATE = 1u << 3,
    /* refund status API (ZaloPay query_refund): refund_query_build, refund_query_parse */
    GW_ADAPTER_CAP_REFUND_QUERY = 1u << 4,
    /* The refund status query answers about the charge's latest refund, not a given one
     * (VNPAY's querydr): the gateway keeps one refund of a payment unsettled at a time. */
    GW_ADAPTER_CAP_REFUND_ONE_AT_A_TIME = 1u << 5,
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
    /* Optional (NULL or "" = the adapter's default), keys api_url, method, app_user,
     * server_ip of the channel section: */
    const char *api_url;   /* VNPAY querydr/refund URL; default {scheme://host of endpoint_url}
                            * /merchant_webapi/api/transaction */
    const char *method;    /* preselected method: vnp_BankCode (default none: payer chooses),
                            * MoMo requestType (default captureWallet), ZaloPay bank_code
                            * (default "": all methods) */
    const char *app_user;  /* ZaloPay app_user (default "feegate") */
    const char *server_ip; /* our address as VNPAY's API sees it, vnp_IpAddr of querydr and
                            * refund (default 127.0.0.1) */
};

/* One attempt to collect a payment through a provider. */
struct gw_charge {
    const char *payment_id;
    const char *merchant_ref; /* ours, unique, <= GW_MERCHANT_REF_BYTES_MAX of [0-9A-Za-z_-] */
    int64_t amount_vnd;
    const char *order_info; /* ASCII description */
    const char *locale;     /* "vi" or "en" */
    const char *client_ip;
    time_t created_at; /* also vnp_CreateDate, ZaloPay app_time and app_trans_id date */
    time_t expires_at;
    /* For server-side create and queries (ABI 2): */
    const char *request_id;      /* unique id of this provider request, [0-9A-Za-z_-], <= 32
                                  * bytes: MoMo requestId, vnp_RequestId; the gateway makes it */
    time_t requested_at;         /* when this request is built: vnp_CreateDate of querydr */
    const char *provider_txn_id; /* the provider's id when known (vnp_TransactionNo), or NULL */
};

/* One refund of (part of) a paid charge. Amounts are whole VND. */
struct gw_refund {
    const char *payment_id;
    const char *merchant_ref;    /* of the paid charge: vnp_TxnRef */
    const char *provider_txn_id; /* of the paid charge: vnp_TransactionNo, MoMo transId,
                                  * ZaloPay zp_trans_id */
    const char *refund_id;       /* ours, unique, [0-9A-Za-z_-]: MoMo refund orderId, the
                                  * tail of ZaloPay m_refund_id (digits only there) */
    int64_t amount_vnd;          /* this refund, 1..what is left */
    bool full;                   /* refunds the whole payment (vnp_TransactionType 02) */
    const char *reason;          /* ASCII: vnp_OrderInfo, MoMo/ZaloPay description */
    const char *requested_by;    /* user who asked for it: vnp_CreateBy */
    time_t original_created_at;  /* created_at of the paid charge: vnp_TransactionDate */
    time_t created_at;           /* when the refund was first sent: ZaloPay m_refund_id date */
    const char *request_id;      /* unique id of this HTTP request (vnp_RequestId, requestId) */
    time_t requested_at;         /* when this request is built (vnp_CreateDate, timestamps) */
};

#define GW_ADAPTER_HEADERS_MAX 4

struct gw_adapter_header {
    const char *name;
    const char *value;
};

/* An HTTP exchange an adapter asks the gateway to perform (query, refund, server create).
 * The gateway sends content_type as Content-Type and then headers[0..n_headers) as they
 * are, and hands the answer back as a struct gw_adapter_input (body, http_status). */
struct gw_adapter_http {
    const char *method; /* "GET" or "POST" */
    const char *url;
    const char *content_type; /* NULL for GET */
    const char *body;
    size_t body_len;
    struct gw_adapter_header headers[GW_ADAPTER_HEADERS_MAX]; /* static or arena strings */
    size_t n_headers;
};

/* What arrived from a provider: callback (IPN), browser return, or query answer. */
struct gw_adapter_input {
    const char *method;
    const char *query; /* raw query string after '?', not decoded; "" if none */
    size_t query_len;
    const char *body; /* raw body bytes; "" if none */
    size_t body_len;
    const char *signature_header; /* provider signature header where it uses one, or NULL */
    int http_status;              /* for query answers */
};

enum gw_pay_outcome {
    GW_PAY_PENDING = 0, /* provider does not know a final outcome yet */
    GW_PAY_SUCCEEDED,
    GW_PAY_FAILED,
    GW_PAY_NOT_FOUND, /* provider has no such transaction (query answers) */
};

/* A verified statement from a provider about one merchant_ref. */
struct gw_adapter_result {
    char merchant_id[64];
    char merchant_ref[48];
    char provider_txn_id[64];
    char provider_code[16]; /* provider's own result code, for the history */
    int64_t amount_vnd;
    time_t paid_at; /* 0 if unknown */
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

#define GW_CB_VERDICTS ((size_t)GW_CB_RETRY_LATER + 1)

/* A verified answer to a server-side create. */
struct gw_adapter_created {
    bool created;           /* false: the provider refused; offer the citizen another channel */
    const char *pay_url;    /* arena: MoMo payUrl, ZaloPay order_url; NULL unless created */
    char provider_ref[128]; /* MoMo requestId echo, ZaloPay zp_trans_token; may be empty */
    char provider_code[16]; /* MoMo resultCode, ZaloPay return_code/sub_return_code */
};

enum gw_refund_outcome {
    GW_REFUND_PENDING = 0, /* accepted for processing or unknown: query again, never final */
    GW_REFUND_ACCEPTED,    /* the provider has refunded (or committed to refund) the amount */
    GW_REFUND_REJECTED,    /* final no: nothing was refunded */
    /* A refund query's answer: the provider has no refund with this reference (it never
     * arrived, or is not visible yet). Never final; the gateway sends a refund that it never
     * heard about again (refund.c), otherwise it is pending. */
    GW_REFUND_NOT_FOUND,
};

/* A verified answer to a refund or refund query. */
struct gw_refund_result {
    enum gw_refund_outcome outcome;
    char provider_refund_id[64]; /* MoMo transId, ZaloPay refund_id, VNPAY vnp_TransactionNo */
    char provider_code[16];
    int64_t amount_vnd; /* as echoed by the provider, 0 when it does not echo it */
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
typedef enum gw_err gw_adapter_query_fn(const struct gw_adapter_config *cfg,
                                        const struct gw_charge *charge, struct gw_arena *arena,
                                        struct gw_adapter_http *req, struct gw_errbuf *eb);

typedef enum gw_err gw_adapter_create_parse_fn(const struct gw_adapter_config *cfg,
                                               const struct gw_adapter_input *in,
                                               struct gw_arena *arena,
                                               struct gw_adapter_created *out,
                                               struct gw_errbuf *eb);
typedef enum gw_err gw_adapter_refund_fn(const struct gw_adapter_config *cfg,
                                         const struct gw_refund *refund, struct gw_arena *arena,
                                         struct gw_adapter_http *req, struct gw_errbuf *eb);
typedef enum gw_err gw_adapter_refund_parse_fn(const struct gw_adapter_config *cfg,
                                               const struct gw_adapter_input *in,
                                               struct gw_arena *arena, struct gw_refund_result *out,
                                               struct gw_errbuf *eb);

struct gw_adapter_ops {
    const char *name;     /* "sandbox": also the channel and config section name */
    uint32_t abi_version; /* GW_ADAPTER_ABI; the registry refuses others */
    uint32_t caps;        /* enum gw_adapter_cap bits */
    /* The HTTP header in which the provider signs its callbacks and its answers to our
     * requests ("X-Sandbox-Signature"), handed to the parse ops as signature_header; NULL
     * where the signature is inside the message (VNPAY, MoMo, ZaloPay). */
    const char *signature_header;
    /* The answer to a callback, in the provider's own format, for each of the GW_CB_VERDICTS
     * verdicts (index: enum gw_callback_verdict); read it with gw_adapter_callback_reply. */
    const struct gw_adapter_reply *callback_replies;
    /* Verifies a callback over its exact bytes (constant-time), then parses it.
     * GW_ERR_AUTH: signature wrong; GW_ERR_INVALID: malformed. Nothing is trusted before. */
    gw_adapter_parse_fn *callback_parse;
    /* Verifies and parses the browser's return (display only, never changes state). */
    gw_adapter_parse_fn *return_parse;
    /* GW_ADAPTER_CAP_REDIRECT: builds the signed URL that sends the citizen's browser to the
     * provider. NULL without the bit. */
    gw_adapter_checkout_fn *checkout;
    /* GW_ADAPTER_CAP_QUERY: builds a status query for charge, and verifies and parses its
     * answer. NULL without the bit. */
    gw_adapter_query_fn *query_build;
    gw_adapter_parse_fn *query_parse;
    /* GW_ADAPTER_CAP_CREATE: server-side create, the request that asks the provider for a
     * pay URL, and its verified answer. NULL without the bit (VNPAY, sandbox). */
    gw_adapter_query_fn *create_build;
    gw_adapter_create_parse_fn *create_parse;
    /* GW_ADAPTER_CAP_REFUND: refund; GW_ADAPTER_CAP_REFUND_QUERY: its status query; NULL
     * without the bit. An answer that cannot be read leaves the refund pending, never
     * rejected. */
    gw_adapter_refund_fn *refund_build;
    gw_adapter_refund_parse_fn *refund_parse;
    gw_adapter_refund_fn *refund_query_build;
    gw_adapter_refund_parse_fn *refund_query_parse;
};

/* The registry: NULL-terminated, checked at startup (adapters/registry.c). */
extern const struct gw_adapter_ops *const gw_adapters[];

/* The adapter for a channel name, or NULL. */
const struct gw_adapter_ops *gw_adapter_find(const char *name);
/* Checks every registered table (ABI, unique names, every op its caps promise and none
 * other, REDIRECT or CREATE, a full callback answer table); GW_ERR_INTERNAL if not. */
enum gw_err gw_adapter_registry_check(struct gw_errbuf *eb) GW_MUST_CHECK;

/* The provider's answer to a callback judged verdict; a verdict the table does not know
 * answers as GW_CB_RETRY_LATER, so that the provider tries again. */
void gw_adapter_callback_reply(const struct gw_adapter_ops *ops, enum gw_callback_verdict verdict,
                               struct gw_adapter_reply *out);

/* The words the ledger records for an outcome: "pending", "succeeded", "failed",
 * "not_found"; "pending", "accepted", "rejected". */
const char *gw_pay_outcome_name(enum gw_pay_outcome o);
const char *gw_refund_outcome_name(enum gw_refund_outcome o);

extern const struct gw_adapter_ops gw_adapter_sandbox;
extern const struct gw_adapter_ops
    gw_adapter_vnpay; /* docs/providers.md#vnpay-210, adapters/vnpay.c */
extern const struct gw_adapter_ops gw_adapter_momo; /* docs/providers.md#momo-v2, adapters/momo.c */
extern const struct gw_adapter_ops
    gw_adapter_zalopay; /* docs/providers.md#zalopay-v2, adapters/zalopay.c */

#endif
