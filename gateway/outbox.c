/* The outbox deliverer (rule 8): portal webhooks written in the same transaction as each
 * state change are claimed in batches with a lease, POSTed to the client's URL signed like
 * portal requests, and the outcome recorded; the database schedules retries with backoff
 * for more than 24 hours. Delivery is at least once: portals deduplicate by event_id. */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "db.h"
#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_log.h"
#include "gw_time.h"
#include "server.h"
#include "banned.h"

#define OUTBOX_HOSTS_MAX      32
#define OUTBOX_CONNS_PER_HOST 8

struct outbox_host {
    char scheme_host_port[300];
    struct evhttp_connection *conns[OUTBOX_CONNS_PER_HOST];
    unsigned next;
};

struct gw_outbox {
    struct gw_loop *loop;
    struct event *timer;
    struct evdns_base *dns;
    SSL_CTX *tls;
    bool claiming;
    bool stopped;
    size_t inflight;
    struct outbox_host hosts[OUTBOX_HOSTS_MAX];
    int n_hosts;
};

struct delivery {
    struct gw_outbox *ob;
    char id[24];
    char status_text[8];
    char error[128];
    const char *params[4];
};

static void outbox_poll_soon(struct gw_outbox *ob, int ms);

static void result_done(void *arg, enum gw_err err, const PGresult *res)
{
    (void)res;
    struct delivery *d = arg;
    struct gw_outbox *ob = d->ob;
    if (err != GW_OK)
        gw_log_warn("webhook_result_not_saved", "\"outbox_id\":%s", d->id);
    gw_xfree(d);
    GW_ASSERT(ob->inflight > 0);
    ob->inflight--;
}

static void delivery_finish(struct delivery *d, int status, const char *error)
{
    struct gw_loop *loop = d->ob->loop;
    bool ok = status >= 200 && status < 300;
    atomic_fetch_add_explicit(ok ? &loop->m.webhooks_ok : &loop->m.webhooks_failed, 1,
                              memory_order_relaxed);
    (void)snprintf(d->status_text, sizeof(d->status_text), "%d", status);
    (void)snprintf(d->error, sizeof(d->error), "%s", error);
    d->params[0] = d->id;
    d->params[1] = ok ? "true" : "false";
    d->params[2] = d->status_text;
    d->params[3] = ok ? NULL : d->error;
    gw_db_query(loop->db, "SELECT feegate.outbox_result($1::bigint, $2::bool, $3::int, $4)", 4,
                d->params, result_done, d);
}

static void delivery_done(struct evhttp_request *req, void *arg)
{
    struct delivery *d = arg;
    int status = req != NULL ? evhttp_request_get_response_code(req) : 0;
    delivery_finish(d, status, status == 0 ? "no answer (connection failed or timed out)" : "");
}

static struct bufferevent *tls_bev(struct gw_outbox *ob, const char *host)
{
    SSL *ssl = SSL_new(ob->tls);
    if (ssl == NULL)
        return NULL;
    char sni[256]; /* the macro casts away const: give it a copy */
    (void)snprintf(sni, sizeof(sni), "%s", host);
    (void)SSL_set_tlsext_host_name(ssl, sni);
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    (void)X509_VERIFY_PARAM_set1_host(vp, host, 0);
    return bufferevent_openssl_socket_new(ob->loop->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                          BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

static struct evhttp_connection *host_conn(struct gw_outbox *ob, const struct evhttp_uri *uri)
{
    const char *scheme = evhttp_uri_get_scheme(uri);
    const char *host = evhttp_uri_get_host(uri);
    bool https = strcmp(scheme, "https") == 0;
    int port = evhttp_uri_get_port(uri);
    port = port > 0 ? port : (https ? 443 : 80);
    char key[300];
    (void)snprintf(key, sizeof(key), "%s://%s:%d", scheme, host, port);
    struct outbox_host *h = NULL;
    for (int i = 0; i < ob->n_hosts && h == NULL; i++)
        if (strcmp(ob->hosts[i].scheme_host_port, key) == 0)
            h = &ob->hosts[i];
    if (h == NULL) {
        if (ob->n_hosts == OUTBOX_HOSTS_MAX)
            return NULL;
        h = &ob->hosts[ob->n_hosts++];
        (void)snprintf(h->scheme_host_port, sizeof(h->scheme_host_port), "%s", key);
    }
    unsigned slot = h->next++ % OUTBOX_CONNS_PER_HOST;
    if (h->conns[slot] == NULL) {
        struct bufferevent *bev = https ? tls_bev(ob, host) : NULL;
        if (https && bev == NULL)
            return NULL;
        h->conns[slot] = evhttp_connection_base_bufferevent_new(ob->loop->base, ob->dns, bev,
                                                                host, (uint16_t)port);
        if (h->conns[slot] == NULL)
            return NULL;
        evhttp_connection_set_timeout(h->conns[slot], GW_WEBHOOK_TIMEOUT_S);
        evhttp_connection_set_retries(h->conns[slot], 0);
        evhttp_connection_set_max_body_size(h->conns[slot], 64 * 1024);
    }
    return h->conns[slot];
}

static bool add_signed_headers(struct evhttp_request *req, const PGresult *res, int row,
                               const char *path_and_query)
{
    const char *client = PQgetvalue(res, row, 2);
    const char *secret = PQgetvalue(res, row, 4);
    const char *body = PQgetvalue(res, row, 5);
    char ts[24];
    (void)snprintf(ts, sizeof(ts), "%lld", (long long)(gw_now_ms() / 1000));
    char body_hash[GW_SHA256_HEX_BYTES];
    gw_sha256_hex(body, strlen(body), body_hash);
    struct gw_buf msg;
    gw_buf_init(&msg, 4096);
    char sig[GW_SHA256_HEX_BYTES];
    bool ok = gw_buf_printf(&msg, "POST\n%s\n%s\n%s", path_and_query, ts, body_hash) == GW_OK;
    if (ok) {
        gw_hmac_sha256_hex(secret, strlen(secret), msg.data, msg.len, sig);
        char sig_header[80];
        (void)snprintf(sig_header, sizeof(sig_header), "v1=%s", sig);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        ok = evhttp_add_header(h, "Content-Type", "application/json") == 0 &&
             evhttp_add_header(h, "X-Feegate-Client", client) == 0 &&
             evhttp_add_header(h, "X-Feegate-Timestamp", ts) == 0 &&
             evhttp_add_header(h, "X-Feegate-Signature", sig_header) == 0 &&
             evhttp_add_header(h, "X-Feegate-Event-Id", PQgetvalue(res, row, 1)) == 0 &&
             evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body)) == 0;
    }
    gw_buf_release(&msg);
    return ok;
}

static void deliver_row(struct gw_outbox *ob, const PGresult *res, int row)
{
    struct delivery *d = gw_xcalloc(1, sizeof(*d));
    d->ob = ob;
    (void)snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(res, row, 0));
    ob->inflight++;
    struct evhttp_uri *uri = evhttp_uri_parse(PQgetvalue(res, row, 3));
    const char *scheme = uri != NULL ? evhttp_uri_get_scheme(uri) : NULL;
    if (uri == NULL || scheme == NULL || evhttp_uri_get_host(uri) == NULL ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        evhttp_uri_free(uri);
        delivery_finish(d, 0, "webhook URL is not an absolute http(s) URL");
        return;
    }
    const char *path = evhttp_uri_get_path(uri);
    const char *query = evhttp_uri_get_query(uri);
    char pq[1200];
    (void)snprintf(pq, sizeof(pq), "%s%s%s", path != NULL && path[0] != '\0' ? path : "/",
                   query != NULL ? "?" : "", query != NULL ? query : "");
    struct evhttp_connection *conn = host_conn(ob, uri);
    struct evhttp_request *req = conn != NULL ? evhttp_request_new(delivery_done, d) : NULL;
    if (req == NULL || !add_signed_headers(req, res, row, pq)) {
        if (req != NULL)
            evhttp_request_free(req);
        evhttp_uri_free(uri);
        delivery_finish(d, 0, "could not prepare the request");
        return;
    }
    (void)evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
                            evhttp_uri_get_host(uri));
    if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, pq) != 0)
        delivery_finish(d, 0, "could not send the request"); /* req freed by libevent */
    evhttp_uri_free(uri);
}

static const char *const claim_params[2] = { GW_STR(GW_OUTBOX_BATCH_MAX),
                                             GW_STR(GW_OUTBOX_LEASE_S) };

static void claim_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_outbox *ob = arg;
    ob->claiming = false;
    if (err != GW_OK) {
        gw_log_warn("outbox_claim_failed", "\"error\":\"%s\"", gw_err_name(err));
        outbox_poll_soon(ob, GW_OUTBOX_POLL_MS);
        return;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        deliver_row(ob, res, i);
    /* A full batch means more are waiting: claim again at once if there is room. */
    outbox_poll_soon(ob, n == GW_OUTBOX_BATCH_MAX ? 0 : GW_OUTBOX_POLL_MS);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_outbox *ob = arg;
    if (ob->stopped || ob->claiming)
        return;
    if (ob->inflight + GW_OUTBOX_BATCH_MAX > GW_OUTBOX_INFLIGHT_MAX) {
        outbox_poll_soon(ob, GW_OUTBOX_POLL_MS / 4);
        return;
    }
    ob->claiming = true;
    gw_db_query(ob->loop->db,
                "SELECT id, event_id, client_id, url, secret, body, attempts "
                "FROM feegate.outbox_claim($1::int, $2::int)",
                2, claim_params, claim_done, ob);
}

static void outbox_poll_soon(struct gw_outbox *ob, int ms)
{
    if (ob->stopped)
        return;
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    GW_ASSERT(evtimer_add(ob->timer, &tv) == 0);
}

void gw_outbox_start(struct gw_loop *loop)
{
    struct gw_outbox *ob = gw_xcalloc(1, sizeof(*ob));
    ob->loop = loop;
    ob->timer = evtimer_new(loop->base, poll_cb, ob);
    ob->dns = evdns_base_new(loop->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    ob->tls = SSL_CTX_new(TLS_client_method());
    GW_ASSERT(ob->timer != NULL && ob->tls != NULL);
    SSL_CTX_set_verify(ob->tls, SSL_VERIFY_PEER, NULL);
    (void)SSL_CTX_set_default_verify_paths(ob->tls);
    (void)SSL_CTX_set_min_proto_version(ob->tls, TLS1_2_VERSION);
    loop->outbox = ob;
    outbox_poll_soon(ob, GW_OUTBOX_POLL_MS);
}

void gw_outbox_stop(struct gw_loop *loop)
{
    struct gw_outbox *ob = loop->outbox;
    if (ob == NULL || ob->stopped)
        return;
    ob->stopped = true;
    GW_ASSERT(event_del(ob->timer) == 0);
}

size_t gw_outbox_inflight(const struct gw_loop *loop)
{
    return loop->outbox != NULL ? loop->outbox->inflight : 0;
}

/* Frees the deliverer after its loop has stopped (connections, DNS, TLS). Pending
 * deliveries fail here and record their failure through the still-open pool. */
void gw_outbox_free(struct gw_loop *loop)
{
    struct gw_outbox *ob = loop->outbox;
    if (ob == NULL)
        return;
    for (int i = 0; i < ob->n_hosts; i++)
        for (int k = 0; k < OUTBOX_CONNS_PER_HOST; k++)
            if (ob->hosts[i].conns[k] != NULL)
                evhttp_connection_free(ob->hosts[i].conns[k]);
    if (ob->dns != NULL)
        evdns_base_free(ob->dns, 0);
    event_free(ob->timer);
    SSL_CTX_free(ob->tls);
    gw_xfree(ob);
    loop->outbox = NULL;
}
