/* Outgoing HTTP(S) on libevent's evhttp client.
 *
 * Time limit: evhttp's own timeout is per read or write, so a peer that trickles its answer
 * a byte at a time would hold a call open for ever. Each call therefore has a deadline on
 * the loop as well; when it fires first, the request is cancelled (its connection reset)
 * and the call fails with status 0. */
#include "httpc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_log.h"
#include "gw_tls.h"

#include "banned.h"

#define HTTPC_HOSTS_MAX      32
#define HTTPC_CONNS_PER_HOST 8
#define HTTPC_CAS_MAX        17   /* a CA file per channel (16 at most), and the system's */
#define HTTPC_CA_PATH_BYTES  1024 /* as a configuration value */

/* A client context per CA file ("" for the system store), made at its first call. */
struct httpc_ca {
    char path[HTTPC_CA_PATH_BYTES];
    SSL_CTX *ctx;
};

struct httpc_host {
    char key[300 + HTTPC_CA_PATH_BYTES]; /* scheme://host:port and, for https, the CA file */
    struct evhttp_connection *conns[HTTPC_CONNS_PER_HOST];
    unsigned next;
};

struct gw_httpc {
    struct event_base *base;
    struct evdns_base *dns;
    struct httpc_ca cas[HTTPC_CAS_MAX];
    int n_cas;
    size_t inflight;
    struct httpc_call *calls;
    struct httpc_host hosts[HTTPC_HOSTS_MAX];
    int n_hosts;
};

struct httpc_call {
    struct gw_httpc *h;
    gw_httpc_done_fn *done;
    void *arg;
    struct evhttp_request *req; /* NULL once libevent has finished or freed it */
    struct event *deadline;
    struct httpc_call *prev, *next; /* the client's calls in flight */
    bool sending;                   /* inside evhttp_make_request */
    size_t url_len;
};

struct gw_httpc *gw_httpc_new(struct event_base *base)
{
    struct gw_httpc *h = gw_xcalloc(1, sizeof(*h));
    h->base = base;
    h->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    return h;
}

void gw_httpc_free(struct gw_httpc *h)
{
    if (h == NULL) {
        return;
    }
    for (int i = 0; i < h->n_hosts; i++) {
        for (int k = 0; k < HTTPC_CONNS_PER_HOST; k++) {
            if (h->hosts[i].conns[k] != NULL) {
                evhttp_connection_free(h->hosts[i].conns[k]);
            }
        }
    }
    /* The connections freed their requests without a callback: the calls go the same way,
     * since what their callbacks would touch (the server, the pool) is going too. */
    while (h->calls != NULL) {
        struct httpc_call *call = h->calls;
        h->calls = call->next;
        event_free(call->deadline);
        gw_xfree(call);
    }
    if (h->dns != NULL) {
        evdns_base_free(h->dns, 0);
    }
    for (int i = 0; i < h->n_cas; i++) {
        SSL_CTX_free(h->cas[i].ctx);
    }
    gw_xfree(h);
}

size_t gw_httpc_inflight(const struct gw_httpc *h)
{
    return h != NULL ? h->inflight : 0;
}

/* The client context that verifies peers against ca_file ("" the system store); made and
 * kept at its first use. NULL (eb says why) when the file cannot be read or the table is
 * full. Reading a CA file blocks the loop once per file and loop, at its first call. */
static SSL_CTX *ca_ctx(struct gw_httpc *h, const char *ca_file, struct gw_errbuf *eb)
{
    for (int i = 0; i < h->n_cas; i++) {
        if (strcmp(h->cas[i].path, ca_file) == 0) {
            return h->cas[i].ctx;
        }
    }
    if (h->n_cas == HTTPC_CAS_MAX || strlen(ca_file) >= sizeof(h->cas[0].path)) {
        (void)gw_fail(eb, GW_ERR_LIMIT, "too many CA files");
        return NULL;
    }
    SSL_CTX *ctx = NULL;
    if (gw_tls_client_ctx_new(ca_file, &ctx, eb) != GW_OK) {
        return NULL;
    }
    struct httpc_ca *ca = &h->cas[h->n_cas++];
    (void)snprintf(ca->path, sizeof(ca->path), "%s", ca_file);
    ca->ctx = ctx;
    return ctx;
}

static struct bufferevent *tls_bev(struct gw_httpc *h, SSL_CTX *ctx, const char *host)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) {
        return NULL;
    }
    if (!gw_tls_client_expect_host(ssl, host)) {
        SSL_free(ssl);
        return NULL;
    }
    struct bufferevent *bev =
        bufferevent_openssl_socket_new(h->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        SSL_free(ssl);
    }
    return bev;
}

static struct evhttp_connection *host_conn(struct gw_httpc *h, const struct evhttp_uri *uri,
                                           const struct gw_httpc_req *r, struct gw_errbuf *eb)
{
    int timeout_ms = r->timeout_ms;
    const char *ca_file = r->ca_file != NULL ? r->ca_file : "";
    const char *scheme = evhttp_uri_get_scheme(uri);
    const char *host = evhttp_uri_get_host(uri);
    bool https = strcmp(scheme, "https") == 0;
    int port = evhttp_uri_get_port(uri);
    port = port > 0 ? port : (https ? 443 : 80);
    SSL_CTX *ctx = https ? ca_ctx(h, ca_file, eb) : NULL;
    if (https && ctx == NULL) {
        return NULL;
    }
    char key[sizeof(h->hosts[0].key)];
    int kn = snprintf(key, sizeof(key), "%s://%s:%d %s", scheme, host, port, https ? ca_file : "");
    if (kn < 0 || (size_t)kn >= sizeof(key)) {
        return NULL;
    }
    struct httpc_host *hh = NULL;
    for (int i = 0; i < h->n_hosts && hh == NULL; i++) {
        if (strcmp(h->hosts[i].key, key) == 0) {
            hh = &h->hosts[i];
        }
    }
    if (hh == NULL) {
        if (h->n_hosts == HTTPC_HOSTS_MAX) {
            return NULL;
        }
        hh = &h->hosts[h->n_hosts++];
        (void)snprintf(hh->key, sizeof(hh->key), "%s", key);
    }
    unsigned slot = hh->next++ % HTTPC_CONNS_PER_HOST;
    if (hh->conns[slot] == NULL) {
        struct bufferevent *bev = https ? tls_bev(h, ctx, host) : NULL;
        if (https && bev == NULL) {
            return NULL;
        }
        hh->conns[slot] =
            evhttp_connection_base_bufferevent_new(h->base, h->dns, bev, host, (uint16_t)port);
        if (hh->conns[slot] == NULL) {
            return NULL;
        }
        evhttp_connection_set_retries(hh->conns[slot], 0);
        evhttp_connection_set_max_body_size(hh->conns[slot], GW_HTTPC_RESPONSE_BYTES_MAX);
    }
    const struct timeval idle = { .tv_sec = timeout_ms / 1000,
                                  .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000 };
    evhttp_connection_set_timeout_tv(hh->conns[slot], &idle);
    return hh->conns[slot];
}

const char *gw_httpc_header(const struct gw_httpc_answer *a, const char *name)
{
    if (a->headers_ == NULL) {
        return NULL;
    }
    return evhttp_find_header(a->headers_, name);
}

/* Ends a call: its timer and list entry go, then done runs (which may send again). */
static void call_finish(struct httpc_call *call, const struct gw_httpc_answer *a)
{
    struct gw_httpc *h = call->h;
    GW_ASSERT(call->req == NULL);
    event_free(call->deadline);
    if (call->prev != NULL) {
        call->prev->next = call->next;
    } else {
        h->calls = call->next;
    }
    if (call->next != NULL) {
        call->next->prev = call->prev;
    }
    GW_ASSERT(h->inflight > 0);
    h->inflight--;
    gw_httpc_done_fn *done = call->done;
    void *done_arg = call->arg;
    gw_xfree(call);
    done(done_arg, a);
}

/* The deadline, or the deferred end of a call that failed within gw_httpc_send. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback */
static void call_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct httpc_call *call = arg;
    if (call->req != NULL) {
        struct evhttp_request *req = call->req;
        call->req = NULL;
        /* Frees req without running call_done; resets its connection if it was on it. */
        evhttp_cancel_request(req);
        gw_log_warn("httpc_deadline", "\"url_len\":%zu", call->url_len);
    }
    call_finish(call, &(struct gw_httpc_answer){ .status = 0, .body = "" });
}

static void call_done(struct evhttp_request *req, void *arg)
{
    struct httpc_call *call = arg;
    call->req = NULL;
    if (call->sending) {
        /* A synchronous failure: done must not run before gw_httpc_send returns. */
        struct timeval now = { 0, 0 };
        GW_ASSERT(evtimer_add(call->deadline, &now) == 0);
        return;
    }
    struct gw_httpc_answer a = { .status = 0, .body = "", .body_len = 0, .headers_ = NULL };
    if (req != NULL && evhttp_request_get_response_code(req) > 0) {
        a.status = evhttp_request_get_response_code(req);
        a.headers_ = evhttp_request_get_input_headers(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        a.body_len = evbuffer_get_length(in);
        /* NUL-terminated for the parsers: the buffer gets one more byte, not counted. */
        if (evbuffer_add(in, "", 1) == 0) {
            a.body = (const char *)evbuffer_pullup(in, -1);
        } else {
            a.status = 0;
        }
    }
    call_finish(call, &a);
}

static bool add_headers(struct evhttp_request *req, const struct gw_httpc_req *r, const char *host)
{
    struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
    bool ok = evhttp_add_header(hd, "Host", host) == 0;
    if (r->content_type != NULL) {
        ok = ok && evhttp_add_header(hd, "Content-Type", r->content_type) == 0;
    }
    for (size_t i = 0; i < r->n_headers && ok; i++) {
        ok = evhttp_add_header(hd, r->headers[i].name, r->headers[i].value) == 0;
    }
    if (r->body_len > 0) {
        ok = ok && evbuffer_add(evhttp_request_get_output_buffer(req), r->body, r->body_len) == 0;
    }
    return ok;
}

/* Sends req on conn, with the call's deadline. Whatever happens, done runs later. */
static void call_start(struct httpc_call *call, struct evhttp_connection *conn,
                       struct evhttp_request *req, const struct gw_httpc_req *r, const char *target)
{
    struct gw_httpc *h = call->h;
    enum evhttp_cmd_type cmd = strcmp(r->method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
    int timeout_ms = r->timeout_ms;
    call->url_len = strlen(r->url);
    h->inflight++;
    call->next = h->calls;
    if (h->calls != NULL) {
        h->calls->prev = call;
    }
    h->calls = call;
    call->deadline = evtimer_new(h->base, call_deadline_cb, call);
    GW_ASSERT(call->deadline != NULL);
    call->req = req;
    call->sending = true;
    int rc = evhttp_make_request(conn, req, cmd, target);
    call->sending = false;
    struct timeval tv = { .tv_sec = timeout_ms / 1000,
                          .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000 };
    if (rc != 0) {
        /* libevent has freed req, and may or may not have run call_done already: either
         * way, the call ends on its timer, now, with status 0. */
        gw_log_warn("httpc_send_failed", "\"url_len\":%zu", call->url_len);
        call->req = NULL;
        tv = (struct timeval){ 0, 0 };
    } else if (call->req == NULL) {
        return; /* call_done ran within evhttp_make_request and armed the timer */
    }
    GW_ASSERT(evtimer_add(call->deadline, &tv) == 0);
}

enum gw_err gw_httpc_send(struct gw_httpc *h, const struct gw_httpc_req *r, gw_httpc_done_fn *done,
                          void *arg, struct gw_errbuf *eb)
{
    GW_ASSERT(r->n_headers <= GW_HTTPC_HEADERS_MAX);
    struct evhttp_uri *uri = evhttp_uri_parse(r->url);
    const char *scheme = uri != NULL ? evhttp_uri_get_scheme(uri) : NULL;
    if (uri == NULL || scheme == NULL || evhttp_uri_get_host(uri) == NULL ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        evhttp_uri_free(uri);
        return gw_fail(eb, GW_ERR_INVALID, "\"%s\" is not an absolute http(s) URL", r->url);
    }
    const char *path = evhttp_uri_get_path(uri);
    const char *query = evhttp_uri_get_query(uri);
    char target[2048];
    int n = snprintf(target, sizeof(target), "%s%s%s", path != NULL && *path ? path : "/",
                     query != NULL ? "?" : "", query != NULL ? query : "");
    eb->msg[0] = '\0';
    struct evhttp_connection *conn =
        n > 0 && (size_t)n < sizeof(target) ? host_conn(h, uri, r, eb) : NULL;
    if (conn == NULL && eb->msg[0] != '\0') {
        evhttp_uri_free(uri);
        return GW_ERR_INVALID; /* the CA file: eb says why */
    }
    struct httpc_call *call = gw_xcalloc(1, sizeof(*call));
    *call = (struct httpc_call){ .h = h, .done = done, .arg = arg };
    struct evhttp_request *req = conn != NULL ? evhttp_request_new(call_done, call) : NULL;
    /* Host carries the port unless it is the scheme's default (RFC 9110 7.2). */
    char host[300];
    int port = evhttp_uri_get_port(uri);
    int hn = port > 0 && port != (strcmp(scheme, "https") == 0 ? 443 : 80)
                 ? snprintf(host, sizeof(host), "%s:%d", evhttp_uri_get_host(uri), port)
                 : snprintf(host, sizeof(host), "%s", evhttp_uri_get_host(uri));
    if (req == NULL || hn <= 0 || (size_t)hn >= sizeof(host) || !add_headers(req, r, host)) {
        if (req != NULL) {
            evhttp_request_free(req);
        }
        evhttp_uri_free(uri);
        gw_xfree(call);
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "could not prepare a request to %s", r->url);
    }
    evhttp_uri_free(uri);
    call_start(call, conn, req, r, target);
    return GW_OK;
}
