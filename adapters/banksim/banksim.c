/* The simulator's shared machinery: the bounded transaction store, small HTTP helpers, and
 * callback delivery over a pool of keep-alive client connections. A provider side calls
 * bs_deliver and returns; the delivery lives on its own (heap object with its own arena)
 * until the gateway acknowledges the callback or the attempts run out. */

#include "banksim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "gw_url.h"

#include "banned.h"

/* ---- store ---------------------------------------------------------------------------- */

void bs_store_init(struct bs_store *s, size_t txns_max)
{
    GW_ASSERT(txns_max > 0 && txns_max < UINT32_MAX / 2);
    memset(s, 0, sizeof(*s));
    s->txns_max = txns_max;
}

void bs_store_release(struct bs_store *s)
{
    for (size_t i = 0; i < s->txns_len; i++) {
        gw_xfree(s->txns[i].ext);
    }
    gw_xfree(s->slots);
    gw_xfree(s->txns);
    memset(s, 0, sizeof(*s));
}

/* FNV-1a: refs come from the gateway over loopback, not from an adversary. */
static uint64_t bs_hash(const char *s)
{
    uint64_t h = 14695981039346656037u;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

/* The slot holding ref, or the empty slot where it would go. */
static size_t bs_store_slot(const struct bs_store *s, const char *ref)
{
    size_t mask = s->slots_cap - 1;
    size_t i = (size_t)bs_hash(ref) & mask;
    for (size_t probes = 0; probes < s->slots_cap; probes++) {
        uint32_t v = s->slots[i];
        if (v == 0 || strcmp(s->txns[v - 1].merchant_ref, ref) == 0) {
            return i;
        }
        i = (i + 1) & mask;
    }
    /* The load factor stays at or below 1/2, so an empty slot always exists. */
    gw_assert_fail(__FILE__, __LINE__, "store table full");
}

struct bs_txn *bs_store_find(struct bs_store *s, const char *ref)
{
    if (s->slots_cap == 0) {
        return NULL;
    }
    uint32_t v = s->slots[bs_store_slot(s, ref)];
    return v == 0 ? NULL : &s->txns[v - 1];
}

/* Doubles the slot table (load <= 1/2) and the dense array as needed. */
static void bs_store_grow(struct bs_store *s)
{
    if (s->txns_len == s->txns_cap) {
        size_t cap = s->txns_cap == 0 ? 1024 : s->txns_cap * 2;
        if (cap > s->txns_max) {
            cap = s->txns_max;
        }
        s->txns = gw_xrealloc(s->txns, cap * sizeof(*s->txns));
        s->txns_cap = cap;
    }
    if ((s->txns_len + 1) * 2 <= s->slots_cap) {
        return;
    }
    size_t cap = s->slots_cap == 0 ? 2048 : s->slots_cap * 2;
    gw_xfree(s->slots);
    s->slots = gw_xcalloc(cap, sizeof(*s->slots));
    s->slots_cap = cap;
    for (size_t i = 0; i < s->txns_len; i++) {
        s->slots[bs_store_slot(s, s->txns[i].merchant_ref)] = (uint32_t)(i + 1);
    }
}

enum gw_err bs_store_add(struct bs_store *s, const char *ref, struct bs_txn **out)
{
    size_t len = strlen(ref);
    GW_ASSERT(len > 0 && len <= BS_REF_BYTES_MAX);
    if (s->txns_len >= s->txns_max) {
        return GW_ERR_LIMIT;
    }
    bs_store_grow(s);
    size_t slot = bs_store_slot(s, ref);
    GW_ASSERT(s->slots[slot] == 0);
    struct bs_txn *t = &s->txns[s->txns_len];
    memset(t, 0, sizeof(*t));
    memcpy(t->merchant_ref, ref, len + 1);
    t->status = BS_PENDING;
    s->txns_len++;
    s->slots[slot] = (uint32_t)s->txns_len;
    *out = t;
    return GW_OK;
}

/* ---- small parsers -------------------------------------------------------------------- */

void bs_txn_id_new(struct bs_sim *sim, const char *prefix, char out[BS_TXN_ID_BYTES_MAX])
{
    /* splitmix64: a bijection of the counter, so ids never repeat within a run, and a given
     * --seed replays the same ids. */
    uint64_t z = (sim->rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    int n = snprintf(out, BS_TXN_ID_BYTES_MAX, "%.6s%016llx", prefix, (unsigned long long)z);
    GW_ASSERT(n > 0 && n < BS_TXN_ID_BYTES_MAX);
}

bool bs_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end != s + n || v < min || v > max) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

bool bs_url_ok(const char *url, bool https_ok)
{
    struct evhttp_uri *u = evhttp_uri_parse(url);
    if (u == NULL) {
        return false;
    }
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    bool ok = scheme != NULL && host != NULL && host[0] != '\0' &&
              (strcmp(scheme, "http") == 0 || (https_ok && strcmp(scheme, "https") == 0));
    evhttp_uri_free(u);
    return ok;
}

/* ---- HTTP helpers --------------------------------------------------------------------- */

void bs_reply(struct evhttp_request *req, int status, const char *content_type, const char *body,
              size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Content-Type", content_type);
    (void)evhttp_add_header(h, "Cache-Control", "no-store");
    struct evbuffer *out = evbuffer_new();
    GW_ASSERT(out != NULL);
    GW_ASSERT(evbuffer_add(out, body, len) == 0);
    evhttp_send_reply(req, status, NULL, out);
    evbuffer_free(out);
}

/* The origin "scheme://host[:port]" of an absolute http(s) url into out, or false when it has
 * none or its host holds a character a CSP source expression cannot carry (the header must not
 * be extended by a crafted return URL). */
static bool bs_url_origin(const char *url, char *out, size_t cap)
{
    struct evhttp_uri *u = url != NULL ? evhttp_uri_parse(url) : NULL;
    if (u == NULL) {
        return false;
    }
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    int port = evhttp_uri_get_port(u);
    bool ok = scheme != NULL && host != NULL && host[0] != '\0' &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    for (const char *c = host; ok && *c != '\0'; c++) {
        ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
             *c == '.' || *c == '-' || *c == ':' || *c == '[' || *c == ']';
    }
    int n = 0;
    if (ok) {
        n = port >= 0 ? snprintf(out, cap, "%s://%s:%d", scheme, host, port)
                      : snprintf(out, cap, "%s://%s", scheme, host);
    }
    evhttp_uri_free(u);
    return ok && n > 0 && (size_t)n < cap;
}

/* The page with its policy: nothing loads but the inline style, and forms post only to the
 * simulator itself, plus the origin of return_url when given. form-action also governs the
 * redirects that follow a submission (Chromium enforces it), and the simulator answers the
 * payer's choice with a 303 to the merchant's return URL: without that origin the browser
 * stays on the simulator's page. Only that one origin, the one the merchant named in this
 * payment's create request, is added. */
void bs_send_page(struct evhttp_request *req, const struct bs_page *pg)
{
    struct gw_buf b;
    gw_buf_init(&b, (size_t)64 * 1024);
    enum gw_err err = gw_buf_printf(
        &b,
        "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<title>%s</title><style>body{font-family:sans-serif;max-width:36em;margin:2em auto;"
        "padding:0 1em}th{text-align:left;padding-right:1em}td{overflow-wrap:anywhere}"
        "button{font-size:1.1em;"
        "margin:1em 1em 0 0;padding:.4em 1.2em}.en{color:#555}</style></head><body>\n"
        "<p><b>Ngân hàng giả lập feegate</b> <span class=\"en\">· feegate bank "
        "simulator</span></p>\n<h1>%s</h1>\n%s\n</body></html>\n",
        pg->title, pg->title, pg->body_html);
    GW_ASSERT(err == GW_OK);
    char origin[300];
    char csp[400];
    if (bs_url_origin(pg->return_url, origin, sizeof(origin))) {
        (void)snprintf(csp, sizeof(csp),
                       "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' %s",
                       origin);
    } else {
        (void)snprintf(csp, sizeof(csp),
                       "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Content-Security-Policy", csp);
    bs_reply(req, pg->status, "text/html; charset=utf-8", b.data, b.len);
    gw_buf_release(&b);
}

void bs_reply_page(struct evhttp_request *req, int status, const char *title, const char *body_html)
{
    bs_send_page(req,
                 &(struct bs_page){ .status = status, .title = title, .body_html = body_html });
}

void bs_reply_redirect(struct evhttp_request *req, const char *location)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Location", location);
    static const char body[] = "<!doctype html><title>303</title><p>See other / Xem tiếp</p>\n";
    bs_reply(req, 303, "text/html; charset=utf-8", body, sizeof(body) - 1);
}

const char *bs_request_query(struct evhttp_request *req, size_t *len)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
    if (q == NULL) {
        q = "";
    }
    *len = strlen(q);
    return q;
}

enum gw_err bs_request_body(struct evhttp_request *req, struct gw_arena *a, char **body,
                            size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n > BS_BODY_BYTES_MAX) {
        return GW_ERR_LIMIT;
    }
    char *p = gw_arena_alloc(a, n + 1);
    if (p == NULL) {
        return GW_ERR_NOMEM;
    }
    if (n > 0 && evbuffer_copyout(in, p, n) != (ev_ssize_t)n) {
        return GW_ERR_IO;
    }
    p[n] = '\0';
    *body = p;
    *len = n;
    return GW_OK;
}

/* ---- callback delivery ---------------------------------------------------------------- */

/* One keep-alive client connection. evhttp sends one request at a time per connection, so
 * the pool opens more connections while every open one is busy. */
struct bs_conn {
    struct evhttp_connection *evcon;
    unsigned inflight;
};

/* An ipn host:port and its connections. */
struct bs_target {
    char host[256];
    uint16_t port;
    size_t n_conns;
    struct bs_conn conns[BS_CONNS_PER_TARGET_MAX];
};

struct bs_delivery {
    struct bs_delivery *prev;
    struct bs_delivery *next;
    struct bs_sim *sim;
    struct bs_target *target;
    struct bs_conn *conn;           /* of the attempt in flight */
    struct event *timer;            /* retry backoff */
    struct evhttp_request *browser; /* waiting for the first answer, or NULL */
    const char *location;
    const char *path;
    const char *host_header;
    const char *body;
    size_t body_len;
    const char *sig_header; /* or NULL */
    const char *sig;
    const char *ref;
    unsigned attempts;
    bool in_flight;
    bool held; /* waiting for bs_delivery_release */
    enum bs_prov prov;
    bool get;
    bs_judge_fn *judge;
    unsigned attempts_max;
    int64_t interval_ms;
    struct gw_arena arena;
};

struct bs_pool {
    struct bs_target targets[BS_TARGETS_MAX];
    size_t n_targets;
    struct bs_delivery *alive; /* every delivery not yet finished */
};

void bs_pool_new(struct bs_sim *sim)
{
    GW_ASSERT(sim->pool == NULL);
    sim->pool = gw_xcalloc(1, sizeof(*sim->pool));
}

static void bs_delivery_free(struct bs_delivery *d)
{
    struct bs_pool *pool = d->sim->pool;
    if (d->prev != NULL) {
        d->prev->next = d->next;
    } else {
        pool->alive = d->next;
    }
    if (d->next != NULL) {
        d->next->prev = d->prev;
    }
    if (d->timer != NULL) {
        event_free(d->timer);
    }
    GW_ASSERT(d->sim->deliveries_alive > 0);
    d->sim->deliveries_alive--;
    gw_arena_release(&d->arena);
    gw_xfree(d);
}

void bs_pool_free(struct bs_sim *sim)
{
    struct bs_pool *pool = sim->pool;
    if (pool == NULL) {
        return;
    }
    /* Freeing a connection frees its queued requests without calling their callbacks. */
    for (size_t i = 0; i < pool->n_targets; i++) {
        for (size_t j = 0; j < pool->targets[i].n_conns; j++) {
            evhttp_connection_free(pool->targets[i].conns[j].evcon);
        }
    }
    while (pool->alive != NULL) {
        bs_delivery_free(pool->alive);
    }
    gw_xfree(pool);
    sim->pool = NULL;
}

/* The target for host:port, created on first use; NULL past BS_TARGETS_MAX. */
static struct bs_target *bs_pool_target(struct bs_pool *pool, const char *host, uint16_t port)
{
    for (size_t i = 0; i < pool->n_targets; i++) {
        struct bs_target *t = &pool->targets[i];
        if (t->port == port && strcmp(t->host, host) == 0) {
            return t;
        }
    }
    size_t len = strlen(host);
    if (pool->n_targets == BS_TARGETS_MAX || len >= sizeof(pool->targets[0].host)) {
        return NULL;
    }
    struct bs_target *t = &pool->targets[pool->n_targets++];
    memcpy(t->host, host, len + 1);
    t->port = port;
    return t;
}

/* The least busy connection of t, opening a new one while all are busy. The host is a
 * numeric address on loopback in practice; a name would be resolved blocking (no dnsbase). */
static struct bs_conn *bs_target_pick(struct bs_sim *sim, struct bs_target *t)
{
    struct bs_conn *best = NULL;
    for (size_t i = 0; i < t->n_conns; i++) {
        if (best == NULL || t->conns[i].inflight < best->inflight) {
            best = &t->conns[i];
        }
    }
    if ((best == NULL || best->inflight > 0) && t->n_conns < BS_CONNS_PER_TARGET_MAX) {
        struct evhttp_connection *evcon =
            evhttp_connection_base_new(sim->base, NULL, t->host, t->port);
        GW_ASSERT(evcon != NULL);
        evhttp_connection_set_timeout(evcon, BS_CALLBACK_TIMEOUT_S);
        evhttp_connection_set_retries(evcon, 0);
        evhttp_connection_set_max_headers_size(evcon, (ev_ssize_t)16 * 1024);
        evhttp_connection_set_max_body_size(evcon, (ev_ssize_t)64 * 1024);
        best = &t->conns[t->n_conns++];
        best->evcon = evcon;
        best->inflight = 0;
    }
    return best;
}

static void bs_delivery_attempt(struct bs_delivery *d);

static void bs_delivery_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bs_delivery_attempt(arg);
}

/* Answers the waiting browser, if any: the first attempt has its outcome. */
static void bs_delivery_release_browser(struct bs_delivery *d)
{
    if (d->browser == NULL) {
        return;
    }
    bs_reply_redirect(d->browser, d->location);
    d->browser = NULL;
}

/* Counts one answer of the merchant by its code (a callback answer, or a query or refund
 * answer in bs_fault.c). */
void bs_stats_code(struct bs_sim *sim, enum bs_prov prov, const char *code)
{
    struct bs_pstats *ps = &sim->pstats[prov];
    for (size_t i = 0; i < ps->n_codes; i++) {
        if (strcmp(ps->codes[i].code, code) == 0) {
            ps->codes[i].n++;
            return;
        }
    }
    /* The last slot counts every code past the table. */
    if (ps->n_codes < BS_CODES_MAX - 1) {
        size_t i = ps->n_codes++;
        (void)snprintf(ps->codes[i].code, sizeof(ps->codes[i].code), "%s", code);
        ps->codes[i].n = 1;
        return;
    }
    if (ps->n_codes == BS_CODES_MAX - 1) {
        (void)snprintf(ps->codes[ps->n_codes].code, sizeof(ps->codes[0].code), "other");
        ps->n_codes++;
    }
    ps->codes[BS_CODES_MAX - 1].n++;
}

/* The provider protocols: the judge reads the answer; retry at a fixed interval. */
static void bs_delivery_after_judged(struct bs_delivery *d, int code, const char *body, size_t len)
{
    struct bs_pstats *ps = &d->sim->pstats[d->prov];
    bs_delivery_release_browser(d);
    char answer[16] = "none";
    enum bs_answer verdict = d->judge(code, body, len, answer);
    if (code == 0) {
        ps->no_answer++;
    } else {
        bs_stats_code(d->sim, d->prov, answer);
    }
    if (verdict == BS_ANSWER_DONE || d->attempts >= d->attempts_max) {
        if (verdict != BS_ANSWER_DONE) {
            ps->given_up++;
        }
        gw_log(verdict == BS_ANSWER_DONE ? GW_LOG_DEBUG : GW_LOG_WARN, "callback_done",
               "\"merchant_ref\":\"%s\",\"http_status\":%d,\"answer\":\"%s\","
               "\"attempts\":%u,\"given_up\":%s",
               d->ref, code, answer, d->attempts, verdict == BS_ANSWER_DONE ? "false" : "true");
        bs_delivery_free(d);
        return;
    }
    int64_t delay_ms = d->interval_ms;
    struct timeval tv = { .tv_sec = (time_t)(delay_ms / 1000),
                          .tv_usec = (suseconds_t)((delay_ms % 1000) * 1000) };
    gw_log_info("callback_retry",
                "\"merchant_ref\":\"%s\",\"http_status\":%d,\"answer\":\"%s\","
                "\"attempts\":%u,\"delay_ms\":%lld",
                d->ref, code, answer, d->attempts, (long long)delay_ms);
    GW_ASSERT(evtimer_add(d->timer, &tv) == 0);
}

/* After an attempt: stop on 2xx and 4xx (the gateway's final word), else retry later. */
static void bs_delivery_after(struct bs_delivery *d, int code)
{
    struct bs_stats *st = &d->sim->stats;
    if (d->judge != NULL) {
        bs_delivery_after_judged(d, code, "", 0);
        return;
    }
    bs_delivery_release_browser(d);
    if (code >= 200 && code < 500) {
        if (code < 300) {
            st->callbacks_acked++;
        } else {
            st->callbacks_refused++;
        }
        gw_log(code < 300 ? GW_LOG_DEBUG : GW_LOG_WARN, "callback_done",
               "\"merchant_ref\":\"%s\",\"http_status\":%d,\"attempts\":%u", d->ref, code,
               d->attempts);
        bs_delivery_free(d);
        return;
    }
    if (d->attempts >= BS_CALLBACK_ATTEMPTS_MAX) {
        st->callbacks_given_up++;
        gw_log_error("callback_given_up",
                     "\"merchant_ref\":\"%s\",\"http_status\":%d,"
                     "\"attempts\":%u",
                     d->ref, code, d->attempts);
        bs_delivery_free(d);
        return;
    }
    long delay_ms = (long)BS_CALLBACK_BACKOFF_MS << (d->attempts - 1);
    struct timeval tv = { .tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000 };
    gw_log_warn("callback_retry",
                "\"merchant_ref\":\"%s\",\"http_status\":%d,"
                "\"attempts\":%u,\"delay_ms\":%ld",
                d->ref, code, d->attempts, delay_ms);
    GW_ASSERT(evtimer_add(d->timer, &tv) == 0);
}

/* evhttp's completion: req is NULL when the connection failed or timed out. */
static void bs_delivery_done(struct evhttp_request *req, void *arg)
{
    struct bs_delivery *d = arg;
    if (!d->in_flight) {
        return;
    }
    d->in_flight = false;
    GW_ASSERT(d->conn != NULL && d->conn->inflight > 0);
    d->conn->inflight--;
    d->conn = NULL;
    int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
    if (d->judge != NULL) {
        /* The answer's body, bounded by the connection's max body size. */
        char body[1024];
        size_t len = 0;
        if (req != NULL) {
            struct evbuffer *in = evhttp_request_get_input_buffer(req);
            ev_ssize_t n = evbuffer_copyout(in, body, sizeof(body) - 1);
            len = n > 0 ? (size_t)n : 0;
        }
        body[len] = '\0';
        bs_delivery_after_judged(d, code, body, len);
        return;
    }
    bs_delivery_after(d, code);
}

static void bs_delivery_attempt(struct bs_delivery *d)
{
    struct bs_conn *c = bs_target_pick(d->sim, d->target);
    struct evhttp_request *req = evhttp_request_new(bs_delivery_done, d);
    GW_ASSERT(req != NULL);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Host", d->host_header);
    if (!d->get) {
        (void)evhttp_add_header(h, "Content-Type", "application/json");
        GW_ASSERT(evbuffer_add(evhttp_request_get_output_buffer(req), d->body, d->body_len) == 0);
    }
    if (d->sig_header != NULL) {
        (void)evhttp_add_header(h, d->sig_header, d->sig);
    }
    (void)evhttp_add_header(h, "User-Agent", "feegate-banksim");
    d->attempts++;
    d->conn = c;
    d->in_flight = true;
    c->inflight++;
    d->sim->stats.callbacks_sent++;
    d->sim->pstats[d->prov].sent++;
    if (d->attempts > 1) {
        d->sim->pstats[d->prov].retried++;
    }
    if (evhttp_make_request(c->evcon, req, d->get ? EVHTTP_REQ_GET : EVHTTP_REQ_POST, d->path) !=
            0 &&
        d->in_flight) {
        /* Failed before it was queued (and our callback did not run): count it as a failed
         * attempt. The request object is left to libevent, which may already own it. */
        d->in_flight = false;
        c->inflight--;
        d->conn = NULL;
        bs_delivery_after(d, 0);
    }
}

/* Fills host_header, path and target of d from an http:// url. */
static enum gw_err bs_delivery_route(struct bs_delivery *d, const char *url, struct gw_errbuf *eb)
{
    struct evhttp_uri *u = evhttp_uri_parse(url);
    if (u == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "callback url does not parse");
    }
    enum gw_err err = GW_OK;
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    int port = evhttp_uri_get_port(u);
    const char *path = evhttp_uri_get_path(u);
    const char *query = evhttp_uri_get_query(u);
    if (scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL || host[0] == '\0') {
        err = gw_fail(eb, GW_ERR_INVALID, "callback url must be http://host/...");
        goto out_uri;
    }
    if (port < 0) {
        port = 80;
    }
    d->target = bs_pool_target(d->sim->pool, host, (uint16_t)port);
    if (d->target == NULL) {
        err = gw_fail(eb, GW_ERR_LIMIT, "too many callback hosts");
        goto out_uri;
    }
    d->host_header = gw_arena_printf(&d->arena, "%s:%d", host, port);
    d->path = gw_arena_printf(&d->arena, "%s%s%s", path != NULL && path[0] != '\0' ? path : "/",
                              query != NULL ? "?" : "", query != NULL ? query : "");
    if (d->host_header == NULL || d->path == NULL) {
        err = gw_fail(eb, GW_ERR_NOMEM, "callback too large");
    }
out_uri:
    evhttp_uri_free(u);
    return err;
}

/* Copies cb into d; false when it does not fit the delivery's arena. */
static bool bs_delivery_copy(struct bs_delivery *d, const struct bs_callback *cb,
                             const char *location)
{
    d->body = cb->body != NULL ? gw_arena_strndup(&d->arena, cb->body, cb->body_len) : "";
    d->body_len = cb->body != NULL ? cb->body_len : 0;
    d->sig_header = cb->sig_header != NULL ? gw_arena_strdup(&d->arena, cb->sig_header) : NULL;
    d->sig = gw_arena_strdup(&d->arena, cb->sig != NULL ? cb->sig : "");
    d->ref = gw_arena_strdup(&d->arena, cb->merchant_ref);
    d->location = location != NULL ? gw_arena_strdup(&d->arena, location) : "";
    d->prov = cb->prov;
    d->get = cb->get;
    d->judge = cb->judge;
    d->attempts_max = cb->attempts_max != 0 ? cb->attempts_max : BS_CALLBACK_ATTEMPTS_MAX;
    d->interval_ms = cb->interval_ms;
    if (d->judge != NULL && d->interval_ms <= 0) {
        d->interval_ms = BS_CALLBACK_BACKOFF_MS;
    }
    return d->body != NULL && (cb->sig_header == NULL || d->sig_header != NULL) && d->sig != NULL &&
           d->ref != NULL && d->location != NULL;
}

enum gw_err bs_deliver_ex(struct bs_sim *sim, const struct bs_deliver_how *how,
                          struct bs_delivery **out, struct gw_errbuf *eb)
{
    if (sim->deliveries_alive >= BS_CALLBACK_INFLIGHT_MAX) {
        return gw_fail(eb, GW_ERR_LIMIT, "too many callbacks in progress");
    }
    struct bs_delivery *d = gw_xcalloc(1, sizeof(*d));
    gw_arena_init(&d->arena, 1024, (size_t)256 * 1024);
    d->sim = sim;
    sim->deliveries_alive++;
    d->next = sim->pool->alive;
    if (d->next != NULL) {
        d->next->prev = d;
    }
    sim->pool->alive = d;
    enum gw_err err = bs_delivery_route(d, how->cb->url, eb);
    if (err != GW_OK) {
        bs_delivery_free(d);
        return err;
    }
    if (!bs_delivery_copy(d, how->cb, how->location)) {
        bs_delivery_free(d);
        return gw_fail(eb, GW_ERR_NOMEM, "callback too large");
    }
    d->timer = evtimer_new(sim->base, bs_delivery_timer_cb, d);
    GW_ASSERT(d->timer != NULL);
    d->browser = how->browser;
    if (out != NULL) {
        *out = d;
    }
    if (how->held) {
        d->held = true;
    } else if (how->delay_ms > 0) {
        struct timeval tv = { .tv_sec = (time_t)(how->delay_ms / 1000),
                              .tv_usec = (suseconds_t)((how->delay_ms % 1000) * 1000) };
        GW_ASSERT(evtimer_add(d->timer, &tv) == 0);
    } else {
        bs_delivery_attempt(d);
    }
    return GW_OK;
}

void bs_delivery_release(struct bs_delivery *d)
{
    GW_ASSERT(d->held);
    d->held = false;
    bs_delivery_attempt(d);
}

enum gw_err bs_deliver(struct bs_sim *sim, const struct bs_callback *cb,
                       struct evhttp_request *browser, const char *location, struct gw_errbuf *eb)
{
    const struct bs_deliver_how how = { .cb = cb, .browser = browser, .location = location };
    return bs_deliver_ex(sim, &how, NULL, eb);
}

/* ---- helpers shared by the provider sides ---- */

uint64_t bs_rand(struct bs_sim *sim)
{
    uint64_t z = (sim->rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void bs_format_vnd(int64_t v, char out[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%lld", (long long)v);
    GW_ASSERT(n > 0 && n < 20);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0) {
            out[o++] = '.';
        }
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

bool bs_hex_lower(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) {
            return false;
        }
    }
    return true;
}

bool bs_ref_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

void bs_show_page(struct evhttp_request *req, const char *provider, const char *const rows[][2],
                  size_t n_rows, int64_t amount_vnd, const char *action_url, const char *return_url)
{
    char amount[32];
    bs_format_vnd(amount_vnd, amount);
    struct gw_buf b;
    gw_buf_init(&b, (size_t)48 * 1024);
    enum gw_err err = gw_buf_printf(&b,
                                    "<p>Cổng %s giả lập, không có tiền thật. <span class=\"en\">"
                                    "Simulated %s, no real money.</span></p>\n<table>\n",
                                    provider, provider);
    for (size_t i = 0; i < n_rows && err == GW_OK; i++) {
        err = gw_buf_printf(&b, "<tr><th>%s</th><td>", rows[i][0]);
        if (err == GW_OK) {
            err = gw_buf_add_html_escaped(&b, rows[i][1]);
        }
        if (err == GW_OK) {
            err = gw_buf_adds(&b, "</td></tr>\n");
        }
    }
    if (err == GW_OK) {
        err = gw_buf_printf(&b,
                            "<tr><th>Số tiền <span class=\"en\">Amount</span></th>"
                            "<td><b>%s ₫</b> (VND)</td></tr>\n</table>\n"
                            "<form method=\"post\" action=\"",
                            amount);
    }
    if (err == GW_OK) {
        err = gw_buf_add_html_escaped(&b, action_url);
    }
    if (err == GW_OK) {
        err = gw_buf_adds(&b, "\">\n<button type=\"submit\" name=\"action\" value=\"approve\">"
                              "Thanh toán · Pay</button>\n<button type=\"submit\" "
                              "name=\"action\" value=\"decline\">Từ chối · Decline</button>\n"
                              "</form>\n");
    }
    if (err != GW_OK) {
        bs_reply_page(req, 500, "Lỗi · Error", "<p>page too large</p>");
    } else {
        bs_send_page(req, &(struct bs_page){ .status = 200,
                                             .title = BS_CONFIRM_TITLE,
                                             .body_html = b.data,
                                             .return_url = return_url });
    }
    gw_buf_release(&b);
}

int bs_page_action(struct bs_sim *sim, struct evhttp_request *req, struct gw_arena *a)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        if (sim->opts->auto_mode == BS_AUTO_OFF) {
            return -1;
        }
        return sim->opts->auto_mode == BS_AUTO_APPROVE;
    }
    char *body = NULL;
    size_t len = 0;
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (bs_request_body(req, a, &body, &len) != GW_OK ||
        gw_form_parse(a, body, len, 8, &kv, &n) != GW_OK) {
        return -2;
    }
    const char *action = gw_kv_get(kv, n, "action");
    if (action != NULL && strcmp(action, "approve") == 0) {
        return 1;
    }
    if (action != NULL && strcmp(action, "decline") == 0) {
        return 0;
    }
    return -2;
}
