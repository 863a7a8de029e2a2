/* The gateway's outgoing HTTP(S) client, one per event loop: portal webhooks, provider
 * queries, refunds and server-side creates. Asynchronous (the callback runs on the loop),
 * keeps a few persistent connections per host, verifies TLS peers, bounds every answer and
 * every call's total time. Not thread-safe: a client belongs to one loop. */
#ifndef GW_GATEWAY_HTTPC_H
#define GW_GATEWAY_HTTPC_H

#include <stddef.h>

#include "gw_err.h"

struct event_base;
struct gw_httpc;

#define GW_HTTPC_HEADERS_MAX        8
#define GW_HTTPC_RESPONSE_BYTES_MAX ((size_t)256 * 1024)

struct gw_http_header {
    const char *name;
    const char *value;
};

struct gw_httpc_req {
    const char *method;       /* "GET" or "POST" */
    const char *url;          /* absolute http:// or https:// URL */
    const char *content_type; /* NULL: none */
    const char *body;
    size_t body_len;
    struct gw_http_header headers[GW_HTTPC_HEADERS_MAX];
    size_t n_headers;
    int timeout_ms; /* the whole call, connect to last byte: then it fails with status 0 */
    /* https: the PEM CAs that verify the peer (a channel's ca_file), NULL or "": the system
     * store. The peer's certificate must name the URL's host either way. */
    const char *ca_file;
};

/* An answer, valid only during the done callback. status 0 means no answer (connection
 * failed, timed out, answer too large): the outcome is unknown. */
struct gw_httpc_answer {
    int status;
    const char *body; /* "" when none */
    size_t body_len;
    const void *headers_; /* use gw_httpc_header */
};

/* A response header, or NULL. */
const char *gw_httpc_header(const struct gw_httpc_answer *a, const char *name);

typedef void gw_httpc_done_fn(void *arg, const struct gw_httpc_answer *a);

struct gw_httpc *gw_httpc_new(struct event_base *base);
/* Drops pending requests (their callbacks never run: the loop is going) and frees. NULL is a
 * no-op. */
void gw_httpc_free(struct gw_httpc *h);

/* Sends r (everything is copied before return). A CA file that cannot be read fails the
 * call with GW_ERR_INVALID (and is tried again at the next call). done runs exactly once, on the
 * loop, never before gw_httpc_send returns; on GW_ERR_* nothing was sent and done never runs. */
enum gw_err gw_httpc_send(struct gw_httpc *h, const struct gw_httpc_req *r, gw_httpc_done_fn *done,
                          void *arg, struct gw_errbuf *eb) GW_MUST_CHECK;

size_t gw_httpc_inflight(const struct gw_httpc *h);

#endif
