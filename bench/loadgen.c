/* feegate-loadgen: a load generator for feegate. C virtual users each loop over the full
 * payment path (signed create, the checkout page, the checkout POST, the provider's page on
 * the simulator that auto-approves and calls the gateway back, the gateway's return page,
 * optionally a signed verify) through one channel or a mix, for a bounded time or number of
 * payments: closed loop (each user starts its next payment when the last one ends) or open
 * loop (--rate: payments start at a fixed rate, each on a free user, and count their
 * latency from when they were due). One libevent event_base, one persistent evhttp
 * connection per user and per host. Latencies go into fixed log-linear histograms (no
 * allocation per sample); every unexpected status is counted by step and printed
 * (lg_report.c). The probe modes (healthz, readyz) use the same code and are printed side by
 * side as baselines. See docs/benchmarks.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_err.h"
#include "gw_limits.h"
#include "gw_sign.h"
#include "lg.h"
#include "lg_hist.h"

/* Last, after every header: makes unsafe functions compile errors in the code below. */
#include "banned.h"

struct lg_run;

struct lg_vu {
    struct lg_run *run;
    unsigned index;
    struct evhttp_connection *gw_conn;
    struct evhttp_connection *bank_conn;
    evutil_socket_t gw_fd; /* the sockets TCP_NODELAY was last set on */
    evutil_socket_t bank_fd;
    char bank_host[LG_HOST_BYTES_MAX];
    uint16_t bank_port;
    char bank_host_header[LG_HOST_BYTES_MAX + 8];
    enum lg_step step;
    bool active;
    bool inflight;
    bool pooled; /* open loop: waiting in run->pool for an arrival */
    enum evhttp_request_error last_error;
    bool has_error;
    int64_t step_start_us;
    int64_t payment_start_us;
    uint64_t seq;
    char order_ref[GW_ORDER_REF_BYTES_MAX + 1];
    char payment_id[LG_PAYMENT_ID_BYTES_MAX];
    char path[GW_URL_BYTES_MAX + 1];
    struct gw_buf body;
    struct event *backoff_ev;
};

struct lg_run {
    const struct lg_opts *opts;
    struct event_base *base;
    struct lg_stats *stats;
    struct lg_vu *vus;
    unsigned active_vus;
    uint64_t started;
    uint64_t transport_fails_in_row;
    uint64_t storm_in_row_max;
    bool stopping;
    unsigned *pool; /* open loop: indexes of the idle users, a stack */
    unsigned n_pool;
    struct event *rate_ev;
    char tag[48]; /* makes order refs unique across runs: pid and start time */
    struct event *deadline_ev;
    struct event *hard_ev;
    struct event *rss_ev;
    struct event *sigint_ev;
};

static void vu_start_iteration(struct lg_vu *vu);

/* ---- clock ---------------------------------------------------------------------- */

static int64_t lg_now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- signing ------------------------------------------------------------------------- */

/* Adds the three X-Feegate- headers for r (its ts is set here, to now). */
static void lg_sign_headers(const struct lg_opts *o, struct gw_sign_req r,
                            struct evkeyvalq *headers)
{
    char ts[24];
    char sig[GW_SIGN_V1_BYTES];
    (void)snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    r.ts = ts;
    gw_sign_v1(o->secret, strlen(o->secret), &r, sig);
    evhttp_add_header(headers, "X-Feegate-Client", o->client);
    evhttp_add_header(headers, "X-Feegate-Timestamp", ts);
    evhttp_add_header(headers, "X-Feegate-Signature", sig);
}

/* ---- errors and samples -------------------------------------------------------------- */

static void lg_sample_add(struct lg_stats *st, enum lg_step step, unsigned slot,
                          struct evhttp_request *req)
{
    for (size_t i = 0; i < st->n_samples; i++) {
        if (st->samples[i].step == step && st->samples[i].slot == slot) {
            return;
        }
    }
    if (st->n_samples == LG_SAMPLES_MAX || req == NULL) {
        return;
    }
    struct lg_sample *s = &st->samples[st->n_samples++];
    s->step = step;
    s->slot = slot;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = in == NULL ? 0 : evbuffer_get_length(in);
    if (len > sizeof(s->text) - 1) {
        len = sizeof(s->text) - 1;
    }
    if (len > 0) {
        (void)evbuffer_copyout(in, s->text, len);
    }
    s->text[len] = '\0';
    for (size_t i = 0; i < len; i++) { /* one line in the report */
        if (s->text[i] == '\n' || s->text[i] == '\r' || s->text[i] == '\0') {
            s->text[i] = ' ';
        }
    }
}

static unsigned lg_slot_of_status(int status)
{
    if (status < LG_SLOT_HTTP_MIN || status >= LG_SLOTS) {
        return LG_SLOT_BAD_STATUS;
    }
    return (unsigned)status;
}

static unsigned lg_slot_of_transport(const struct lg_vu *vu)
{
    if (!vu->has_error) {
        return LG_SLOT_CONNECTION;
    }
    switch (vu->last_error) {
    case EVREQ_HTTP_TIMEOUT:
        return LG_SLOT_TIMEOUT;
    case EVREQ_HTTP_EOF:
        return LG_SLOT_EOF;
    case EVREQ_HTTP_INVALID_HEADER:
    case EVREQ_HTTP_DATA_TOO_LONG:
    case EVREQ_HTTP_BUFFER_ERROR:
        return LG_SLOT_MALFORMED;
    case EVREQ_HTTP_REQUEST_CANCEL:
        break;
    }
    return LG_SLOT_CONNECTION;
}

static bool lg_slot_is_transport(unsigned slot)
{
    return slot == LG_SLOT_CONNECTION || slot == LG_SLOT_TIMEOUT || slot == LG_SLOT_EOF;
}

/* ---- virtual users ------------------------------------------------------------------- */

static void vu_idle(struct lg_vu *vu)
{
    struct lg_run *run = vu->run;
    if (!vu->active) {
        return;
    }
    vu->active = false;
    GW_ASSERT(run->active_vus > 0);
    run->active_vus--;
    if (run->active_vus == 0) {
        run->stats->end_us = lg_now_us();
        (void)event_base_loopexit(run->base, NULL);
    }
}

static void lg_abort_storm(struct lg_run *run, unsigned slot)
{
    if (run->stats->storm) {
        return;
    }
    run->stats->storm = true;
    run->stats->end_us = lg_now_us();
    fprintf(stderr,
            "feegate-loadgen: aborting %s: %" PRIu64 " requests in a row failed at the "
            "connection level (last: %s) without a single answer; is %s up, and is the "
            "simulator reachable?\n",
            lg_mode_names[run->stats->mode], run->transport_fails_in_row, lg_slot_names[slot],
            run->opts->url);
    (void)event_base_loopexit(run->base, NULL);
}

/* Counts the failure of the current step, then starts a new iteration (after a short pause
 * when the connection itself failed, so a dead peer does not become a busy loop). */
static void vu_fail(struct lg_vu *vu, unsigned slot, struct evhttp_request *req)
{
    struct lg_run *run = vu->run;
    GW_ASSERT(slot < LG_SLOTS);
    run->stats->errors[vu->step][slot]++;
    run->stats->errors_total++;
    lg_sample_add(run->stats, vu->step, slot, req);
    if (!lg_slot_is_transport(slot)) {
        event_active(vu->backoff_ev, EV_TIMEOUT, 1); /* next turn of the loop: no recursion */
        return;
    }
    run->transport_fails_in_row++;
    if (run->transport_fails_in_row >= run->storm_in_row_max) {
        lg_abort_storm(run, slot);
        return;
    }
    struct timeval tv = { 0, (suseconds_t)LG_BACKOFF_MS * 1000 };
    (void)evtimer_add(vu->backoff_ev, &tv);
}

static void vu_on_error(enum evhttp_request_error err, void *arg)
{
    struct lg_vu *vu = arg;
    vu->last_error = err;
    vu->has_error = true;
}

static void vu_on_response(struct evhttp_request *req, void *arg);

static struct evhttp_request *vu_request_new(struct lg_vu *vu, const char *host_header)
{
    struct evhttp_request *req = evhttp_request_new(vu_on_response, vu);
    GW_ASSERT(req != NULL);
    evhttp_request_set_error_cb(req, vu_on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", host_header);
    evhttp_add_header(h, "User-Agent", "feegate-loadgen/0.1");
    vu->has_error = false;
    return req;
}

/* evhttp's client leaves Nagle on; a request or answer split over two writes would then
 * wait for the peer's delayed ACK (40 ms). Set once per socket: *last_fd remembers it. */
static void lg_nodelay(struct evhttp_connection *conn, evutil_socket_t *last_fd)
{
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
    if (fd < 0 || fd == *last_fd) {
        return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *last_fd = fd;
}

/* Sends req for vu->path. A synchronous failure may or may not have run the callback
 * already: vu->inflight tells which, so the failure is counted once. */
static void vu_send(struct lg_vu *vu, struct evhttp_connection *conn, enum evhttp_cmd_type type,
                    struct evhttp_request *req)
{
    vu->step_start_us = lg_now_us();
    vu->inflight = true;
    if (evhttp_make_request(conn, req, type, vu->path) != 0) {
        if (vu->inflight) {
            vu->inflight = false;
            vu_fail(vu, LG_SLOT_CONNECTION, NULL);
        }
        return;
    }
    lg_nodelay(conn, conn == vu->gw_conn ? &vu->gw_fd : &vu->bank_fd);
}

static void vu_send_probe(struct lg_vu *vu)
{
    struct lg_run *run = vu->run;
    vu->step = LG_STEP_PROBE;
    const char *path = run->stats->mode == LG_MODE_HEALTHZ ? "/healthz" : "/readyz";
    (void)snprintf(vu->path, sizeof(vu->path), "%s", path);
    vu_send(vu, vu->gw_conn, EVHTTP_REQ_GET, vu_request_new(vu, run->opts->host_header));
}

static enum gw_err lg_create_body(const struct lg_opts *o, unsigned vu_index, const char *order_ref,
                                  struct gw_buf *b)
{
    const char *agency = o->agency;
    const char *fee = o->fee;
    int64_t amount_vnd = o->amount_vnd;
    if (o->n_mix > 0) {
        const struct lg_mix *m = &o->mix[vu_index % o->n_mix];
        agency = m->agency;
        fee = m->fee;
        amount_vnd = m->amount_vnd;
    }
    gw_buf_reset(b);
    return gw_buf_printf(
        b,
        "{\"order_ref\":\"%s\",\"agency_code\":\"%s\","
        "\"payer\":{\"name\":\"Nguy\xe1\xbb\x85n V\xc4\x83n An\",\"id_number\":\"001099012345\","
        "\"email\":\"an@example.vn\"},"
        "\"items\":[{\"fee_code\":\"%s\",\"amount_vnd\":%" PRId64 "}],"
        "\"amount_vnd\":%" PRId64 ",\"return_url\":\"https://portal.example.vn/hs/%s\","
        "\"expires_in_s\":900,\"locale\":\"vi\"}",
        order_ref, agency, fee, amount_vnd, amount_vnd, order_ref);
}

static void vu_send_create(struct lg_vu *vu)
{
    struct lg_run *run = vu->run;
    vu->step = LG_STEP_CREATE;
    vu->seq++;
    int n = snprintf(vu->order_ref, sizeof(vu->order_ref), "LG-%s-%u-%" PRIu64, run->tag, vu->index,
                     vu->seq);
    GW_ASSERT(n > 0 && (size_t)n < sizeof(vu->order_ref));
    enum gw_err err = lg_create_body(run->opts, vu->index, vu->order_ref, &vu->body);
    GW_ASSERT(err == GW_OK); /* codes are validated at startup: the body is small */
    (void)snprintf(vu->path, sizeof(vu->path), "/v1/payments");
    struct evhttp_request *req = vu_request_new(vu, run->opts->host_header);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Idempotency-Key", vu->order_ref); /* [A-Za-z0-9-] only */
    lg_sign_headers(
        run->opts,
        (struct gw_sign_req){ "POST", vu->path, NULL, gw_buf_str(&vu->body), vu->body.len }, h);
    (void)evbuffer_add(evhttp_request_get_output_buffer(req), vu->body.data, vu->body.len);
    vu_send(vu, vu->gw_conn, EVHTTP_REQ_POST, req);
}

static void vu_send_checkout(struct lg_vu *vu)
{
    char form[48];
    const struct lg_opts *o = vu->run->opts;
    int n = snprintf(form, sizeof(form), "channel=%s", o->channels[vu->index % o->n_channels]);
    GW_ASSERT(n > 0 && (size_t)n < sizeof(form));
    vu->step = LG_STEP_CHECKOUT;
    struct evhttp_request *req = vu_request_new(vu, vu->run->opts->host_header);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/x-www-form-urlencoded");
    (void)evbuffer_add(evhttp_request_get_output_buffer(req), form, (size_t)n);
    vu_send(vu, vu->gw_conn, EVHTTP_REQ_POST, req);
}

static void vu_send_verify(struct lg_vu *vu)
{
    struct lg_run *run = vu->run;
    vu->step = LG_STEP_VERIFY;
    (void)snprintf(vu->path, sizeof(vu->path), "/v1/payments/%s", vu->payment_id);
    gw_buf_reset(&vu->body);
    struct evhttp_request *req = vu_request_new(vu, run->opts->host_header);
    lg_sign_headers(
        run->opts,
        (struct gw_sign_req){ "GET", vu->path, NULL, gw_buf_str(&vu->body), vu->body.len },
        evhttp_request_get_output_headers(req));
    vu_send(vu, vu->gw_conn, EVHTTP_REQ_GET, req);
}

static void vu_send_page(struct lg_vu *vu)
{
    vu->step = LG_STEP_PAGE;
    vu_send(vu, vu->gw_conn, EVHTTP_REQ_GET, vu_request_new(vu, vu->run->opts->host_header));
}

/* Open loop: the arrivals due by now_us, the first one at the start of the mode. */
static uint64_t lg_arrivals_due(const struct lg_run *run, int64_t now_us)
{
    double s = (double)(now_us - run->stats->start_us) / 1e6;
    uint64_t due = (uint64_t)(s * run->opts->rate_per_s) + 1u;
    uint64_t max = run->opts->payments_max;
    return max != 0 && due > max ? max : due;
}

/* Open loop: takes the next arrival if it is due; *start_us is when it was due, so that a
 * payment that waited for a free user counts its wait (no coordinated omission). */
static bool lg_arrival_take(struct lg_run *run, int64_t *start_us)
{
    if (run->started >= lg_arrivals_due(run, *start_us)) {
        return false;
    }
    *start_us =
        run->stats->start_us + (int64_t)((double)run->started * 1e6 / run->opts->rate_per_s);
    return true;
}

static void vu_start_iteration(struct lg_vu *vu)
{
    struct lg_run *run = vu->run;
    if (run->stopping || run->stats->storm ||
        (run->opts->payments_max != 0 && run->started >= run->opts->payments_max)) {
        vu_idle(vu);
        return;
    }
    int64_t start_us = lg_now_us();
    if (run->opts->rate_per_s > 0 && !lg_arrival_take(run, &start_us)) {
        vu->pooled = true;
        run->pool[run->n_pool++] = vu->index;
        return;
    }
    run->started++;
    vu->payment_start_us = start_us;
    if (run->stats->mode == LG_MODE_FULL) {
        vu_send_create(vu);
    } else {
        vu_send_probe(vu);
    }
}

static void vu_complete(struct lg_vu *vu)
{
    struct lg_stats *st = vu->run->stats;
    if (st->mode == LG_MODE_FULL) {
        lg_hist_record(&st->hist[LG_STEP_PAYMENT], lg_now_us() - vu->payment_start_us);
    }
    st->completed++;
    vu_start_iteration(vu);
}

static void vu_after_return(struct lg_vu *vu)
{
    if (vu->run->opts->verify) {
        vu_send_verify(vu);
    } else {
        vu_complete(vu);
    }
}

static void vu_on_backoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    vu_start_iteration(arg);
}

/* ---- response handlers --------------------------------------------------------------- */

static json_t *lg_response_json(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len == 0) {
        return NULL;
    }
    const unsigned char *p = evbuffer_pullup(in, -1);
    if (p == NULL) {
        return NULL;
    }
    json_error_t je;
    return json_loadb((const char *)p, len, 0, &je);
}

static bool lg_id_is_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= LG_PAYMENT_ID_BYTES_MAX) {
        return false;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Copies the path and query of an absolute or relative URL into out. */
static bool lg_url_path(const char *url, char *out, size_t out_bytes, struct evhttp_uri **keep)
{
    struct evhttp_uri *u = evhttp_uri_parse(url);
    if (u == NULL) {
        return false;
    }
    const char *path = evhttp_uri_get_path(u);
    const char *query = evhttp_uri_get_query(u);
    int n = snprintf(out, out_bytes, "%s%s%s", (path == NULL || path[0] == '\0') ? "/" : path,
                     query != NULL ? "?" : "", query != NULL ? query : "");
    if (n < 0 || (size_t)n >= out_bytes) {
        evhttp_uri_free(u);
        return false;
    }
    if (keep != NULL) {
        *keep = u;
    } else {
        evhttp_uri_free(u);
    }
    return true;
}

/* One line of the --ack-log, written and flushed before the user moves on. */
static void lg_ack(const struct lg_opts *o, const char *fmt, ...) GW_PRINTF(2, 3);

static void lg_ack(const struct lg_opts *o, const char *fmt, ...)
{
    if (o->ack_log == NULL) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vfprintf(o->ack_log, fmt, ap);
    va_end(ap);
    (void)fflush(o->ack_log);
}

static void vu_on_create(struct lg_vu *vu, struct evhttp_request *req, int status)
{
    if (status != 201) {
        vu_fail(vu, lg_slot_of_status(status), req);
        return;
    }
    json_t *root = lg_response_json(req);
    const char *id = json_string_value(json_object_get(root, "payment_id"));
    const char *checkout = json_string_value(json_object_get(root, "checkout_url"));
    bool ok = id != NULL && lg_id_is_safe(id);
    if (ok) {
        (void)snprintf(vu->payment_id, sizeof(vu->payment_id), "%s", id);
        if (checkout != NULL) {
            ok = lg_url_path(checkout, vu->path, sizeof(vu->path), NULL);
        } else {
            (void)snprintf(vu->path, sizeof(vu->path), "/pay/%s", id);
        }
    }
    json_decref(root);
    if (!ok) {
        vu_fail(vu, LG_SLOT_BAD_BODY, req);
        return;
    }
    lg_ack(vu->run->opts, "created %s %s\n", vu->payment_id, vu->order_ref);
    if (vu->run->opts->lean) {
        vu_send_checkout(vu);
    } else {
        vu_send_page(vu);
    }
}

static struct evhttp_connection *lg_conn_new(struct lg_run *run, const char *host, uint16_t port)
{
    struct evhttp_connection *c = evhttp_connection_base_new(run->base, NULL, host, port);
    if (c == NULL) {
        return NULL;
    }
    evhttp_connection_set_timeout(c, (int)run->opts->timeout_s);
    evhttp_connection_set_max_headers_size(c, (ev_ssize_t)GW_HTTP_HEADERS_BYTES_MAX);
    evhttp_connection_set_max_body_size(c, (ev_ssize_t)GW_HTTP_RESPONSE_BYTES_MAX);
    evhttp_connection_set_retries(c, 0);
    return c;
}

/* Points vu->bank_conn at the host and port of the Location (kept across payments: the
 * simulator is the same for every payment, so the connection stays persistent). */
static bool vu_bank_conn_for(struct lg_vu *vu, const struct evhttp_uri *u)
{
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    int port = evhttp_uri_get_port(u);
    if (scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL || host[0] == '\0' ||
        strlen(host) >= sizeof(vu->bank_host)) {
        return false;
    }
    uint16_t p = port < 0 ? 80 : (uint16_t)port;
    if (vu->bank_conn != NULL && vu->bank_port == p && strcmp(vu->bank_host, host) == 0) {
        return true;
    }
    if (vu->bank_conn != NULL) {
        evhttp_connection_free(vu->bank_conn); /* idle: this user's request is done */
    }
    (void)snprintf(vu->bank_host, sizeof(vu->bank_host), "%s", host);
    vu->bank_port = p;
    (void)snprintf(vu->bank_host_header, sizeof(vu->bank_host_header), "%s:%u", host, (unsigned)p);
    vu->bank_conn = lg_conn_new(vu->run, host, p);
    vu->bank_fd = -1;
    return vu->bank_conn != NULL;
}

static void vu_on_checkout(struct lg_vu *vu, struct evhttp_request *req, int status)
{
    if (status != 303) {
        vu_fail(vu, lg_slot_of_status(status), req);
        return;
    }
    const char *location = evhttp_find_header(evhttp_request_get_input_headers(req), "Location");
    struct evhttp_uri *u = NULL;
    bool ok = location != NULL && lg_url_path(location, vu->path, sizeof(vu->path), &u);
    ok = ok && vu_bank_conn_for(vu, u);
    if (u != NULL) {
        evhttp_uri_free(u);
    }
    if (!ok) {
        vu_fail(vu, LG_SLOT_BAD_BODY, req);
        return;
    }
    vu->step = LG_STEP_BANK;
    vu_send(vu, vu->bank_conn, EVHTTP_REQ_GET, vu_request_new(vu, vu->bank_host_header));
}

/* The provider sent the citizen back: the Location must be the gateway's own page. */
static void vu_on_bank(struct lg_vu *vu, struct evhttp_request *req, int status)
{
    const struct lg_opts *o = vu->run->opts;
    if (status != 303) {
        vu_fail(vu, lg_slot_of_status(status), req);
        return;
    }
    lg_ack(o, "bank %s %s\n", vu->payment_id, o->channels[vu->index % o->n_channels]);
    if (o->lean) {
        vu_after_return(vu);
        return;
    }
    const char *location = evhttp_find_header(evhttp_request_get_input_headers(req), "Location");
    struct evhttp_uri *u = NULL;
    bool ok = location != NULL && lg_url_path(location, vu->path, sizeof(vu->path), &u);
    if (ok) {
        const char *host = evhttp_uri_get_host(u);
        int port = evhttp_uri_get_port(u);
        ok = host != NULL && strcmp(host, o->host) == 0 && (port < 0 ? 80 : port) == o->port;
    }
    if (u != NULL) {
        evhttp_uri_free(u);
    }
    if (!ok) {
        vu_fail(vu, LG_SLOT_BAD_BODY, req);
        return;
    }
    vu->step = LG_STEP_RETURN;
    vu_send(vu, vu->gw_conn, EVHTTP_REQ_GET, vu_request_new(vu, o->host_header));
}

static void vu_on_verify(struct lg_vu *vu, struct evhttp_request *req, int status)
{
    if (status != 200) {
        vu_fail(vu, lg_slot_of_status(status), req);
        return;
    }
    json_t *root = lg_response_json(req);
    const char *st = json_string_value(json_object_get(root, "status"));
    unsigned slot =
        st == NULL ? LG_SLOT_BAD_BODY : (strcmp(st, "succeeded") == 0 ? 0u : LG_SLOT_NOT_SUCCEEDED);
    json_decref(root);
    if (slot != 0) {
        vu_fail(vu, slot, req);
        return;
    }
    vu_complete(vu);
}

/* One step answered: records its latency when it is the expected answer, then moves on. */
static void vu_on_response(struct evhttp_request *req, void *arg)
{
    struct lg_vu *vu = arg;
    if (!vu->inflight) {
        return;
    }
    vu->inflight = false;
    int64_t latency_us = lg_now_us() - vu->step_start_us;
    int status = req == NULL ? 0 : evhttp_request_get_response_code(req);
    if (status == 0) {
        vu_fail(vu, lg_slot_of_transport(vu), req);
        return;
    }
    struct lg_run *run = vu->run;
    run->transport_fails_in_row = 0;
    static const int expected[LG_STEPS] = { 201, 200, 303, 303, 200, 200, 200, 0 };
    if (status == expected[vu->step]) {
        lg_hist_record(&run->stats->hist[vu->step], latency_us);
    }
    switch (vu->step) {
    case LG_STEP_CREATE:
        vu_on_create(vu, req, status);
        return;
    case LG_STEP_CHECKOUT:
        vu_on_checkout(vu, req, status);
        return;
    case LG_STEP_PAGE:
        if (status != 200) {
            vu_fail(vu, lg_slot_of_status(status), req);
        } else {
            vu_send_checkout(vu);
        }
        return;
    case LG_STEP_BANK:
        vu_on_bank(vu, req, status);
        return;
    case LG_STEP_RETURN:
        if (status != 200) {
            vu_fail(vu, lg_slot_of_status(status), req);
        } else {
            vu_after_return(vu);
        }
        return;
    case LG_STEP_VERIFY:
        vu_on_verify(vu, req, status);
        return;
    case LG_STEP_PROBE:
        if (status != 200) {
            vu_fail(vu, lg_slot_of_status(status), req);
        } else {
            vu_complete(vu);
        }
        return;
    case LG_STEP_PAYMENT:
    case LG_STEPS:
        break;
    }
    GW_ASSERT(vu->step < LG_STEP_PAYMENT); /* no request is ever sent for these */
}

/* ---- gateway memory ------------------------------------------------------------------ */

static bool lg_read_rss(long pid, long *rss_kib, long *hwm_kib)
{
    char path[64];
    char line[256];
    (void)snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            *rss_kib = strtol(line + 6, NULL, 10);
        } else if (strncmp(line, "VmHWM:", 6) == 0) {
            *hwm_kib = strtol(line + 6, NULL, 10);
        }
    }
    (void)fclose(f);
    return true;
}

static void lg_rss_sample(struct lg_run *run)
{
    char err_text[128];
    long rss = -1;
    long hwm = -1;
    if (run->opts->gateway_pid == 0) {
        return;
    }
    if (!lg_read_rss(run->opts->gateway_pid, &rss, &hwm)) {
        if (run->stats->hwm_kib != -2) {
            fprintf(stderr, "feegate-loadgen: gateway pid %ld is gone (%s)\n",
                    run->opts->gateway_pid, strerror_r(errno, err_text, sizeof(err_text)));
        }
        run->stats->hwm_kib = -2;
        return;
    }
    if (rss > run->stats->rss_peak_kib) {
        run->stats->rss_peak_kib = rss;
    }
    run->stats->hwm_kib = hwm;
}

static void lg_on_rss_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lg_rss_sample(arg);
}

/* ---- one mode ------------------------------------------------------------------------ */

/* Open loop, every millisecond: hands the arrivals due to the users in the pool. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback type */
static void lg_on_rate_tick(evutil_socket_t fd, short what, void *arg)
{
    struct lg_run *run = arg;
    (void)fd;
    (void)what;
    while (run->n_pool > 0 && !run->stopping) {
        uint64_t before = run->started;
        struct lg_vu *vu = &run->vus[run->pool[--run->n_pool]];
        vu->pooled = false;
        vu_start_iteration(vu); /* back into the pool when no arrival is due */
        if (run->started == before) {
            break;
        }
    }
    uint64_t due = lg_arrivals_due(run, lg_now_us());
    if (!run->stopping && due > run->started && due - run->started > run->stats->behind_max) {
        run->stats->behind_max = due - run->started;
    }
}

static void lg_on_hard_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct lg_run *run = arg;
    (void)fd;
    (void)what;
    for (unsigned i = 0; i < run->opts->concurrency; i++) {
        if (run->vus[i].inflight) {
            run->stats->abandoned++;
        }
    }
    run->stats->end_us = lg_now_us();
    (void)event_base_loopexit(run->base, NULL);
}

/* The deadline (or Ctrl-C): no new iteration starts; in-flight ones get timeout + grace. */
static void lg_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct lg_run *run = arg;
    (void)fd;
    (void)what;
    if (run->stopping) {
        return;
    }
    if (run->opts->rate_per_s > 0) {
        run->stats->offered = lg_arrivals_due(run, lg_now_us());
    }
    run->stopping = true;
    while (run->n_pool > 0) {
        struct lg_vu *vu = &run->vus[run->pool[--run->n_pool]];
        vu->pooled = false;
        vu_idle(vu);
    }
    for (unsigned i = 0; i < run->opts->concurrency; i++) {
        struct lg_vu *vu = &run->vus[i];
        if (vu->active && !vu->inflight && evtimer_pending(vu->backoff_ev, NULL)) {
            (void)evtimer_del(vu->backoff_ev);
            vu_idle(vu);
        }
    }
    struct timeval tv = { (time_t)run->opts->timeout_s + LG_DRAIN_GRACE_S, 0 };
    (void)evtimer_add(run->hard_ev, &tv);
}

static void lg_vus_init(struct lg_run *run)
{
    const struct lg_opts *o = run->opts;
    run->vus = gw_xcalloc(o->concurrency, sizeof(*run->vus));
    run->pool = gw_xcalloc(o->concurrency, sizeof(*run->pool));
    for (unsigned i = 0; i < o->concurrency; i++) {
        struct lg_vu *vu = &run->vus[i];
        vu->run = run;
        vu->index = i;
        vu->gw_fd = -1;
        vu->bank_fd = -1;
        gw_buf_init(&vu->body, (size_t)GW_HTTP_BODY_BYTES_MAX);
        vu->backoff_ev = evtimer_new(run->base, vu_on_backoff, vu);
        vu->gw_conn = lg_conn_new(run, o->host, o->port);
        GW_ASSERT(vu->backoff_ev != NULL);
        GW_ASSERT(vu->gw_conn != NULL);
    }
}

static void lg_vus_release(struct lg_run *run)
{
    for (unsigned i = 0; i < run->opts->concurrency; i++) {
        struct lg_vu *vu = &run->vus[i];
        vu->inflight = false; /* freeing a connection drops its requests without callbacks */
        if (vu->gw_conn != NULL) {
            evhttp_connection_free(vu->gw_conn);
        }
        if (vu->bank_conn != NULL) {
            evhttp_connection_free(vu->bank_conn);
        }
        event_free(vu->backoff_ev);
        gw_buf_release(&vu->body);
    }
    gw_xfree(run->vus);
    run->vus = NULL;
    gw_xfree(run->pool);
    run->pool = NULL;
}

static void lg_timers_start(struct lg_run *run)
{
    struct timeval deadline = { (time_t)run->opts->duration_s, 0 };
    struct timeval second = { 1, 0 };
    run->deadline_ev = evtimer_new(run->base, lg_on_deadline, run);
    run->hard_ev = evtimer_new(run->base, lg_on_hard_deadline, run);
    run->rss_ev = event_new(run->base, -1, EV_PERSIST, lg_on_rss_timer, run);
    run->sigint_ev = evsignal_new(run->base, SIGINT, lg_on_deadline, run);
    GW_ASSERT(run->deadline_ev != NULL && run->hard_ev != NULL);
    GW_ASSERT(run->rss_ev != NULL && run->sigint_ev != NULL);
    (void)evtimer_add(run->deadline_ev, &deadline);
    (void)event_add(run->rss_ev, &second);
    if (run->opts->rate_per_s > 0) {
        struct timeval ms = { 0, 1000 };
        run->rate_ev = event_new(run->base, -1, EV_PERSIST, lg_on_rate_tick, run);
        GW_ASSERT(run->rate_ev != NULL);
        (void)event_add(run->rate_ev, &ms);
    }
    (void)event_add(run->sigint_ev, NULL);
}

static void lg_timers_stop(struct lg_run *run)
{
    event_free(run->deadline_ev);
    event_free(run->hard_ev);
    event_free(run->rss_ev);
    event_free(run->sigint_ev);
    if (run->rate_ev != NULL) {
        event_free(run->rate_ev);
    }
}

/* Runs one mode to its end (deadline, --payments, Ctrl-C or a storm) into st. */
static void lg_run_mode(struct event_base *base, const struct lg_opts *o, struct lg_stats *st)
{
    struct lg_run run;
    memset(&run, 0, sizeof(run));
    run.opts = o;
    run.base = base;
    run.stats = st;
    run.storm_in_row_max = (uint64_t)o->concurrency * 2u;
    if (run.storm_in_row_max < LG_STORM_IN_ROW_MIN) {
        run.storm_in_row_max = LG_STORM_IN_ROW_MIN;
    }
    (void)snprintf(run.tag, sizeof(run.tag), "%lx-%lx-%d", (unsigned long)time(NULL),
                   (unsigned long)getpid(), (int)st->mode);
    st->rss_peak_kib = -1;
    st->hwm_kib = -1;
    lg_vus_init(&run);
    lg_timers_start(&run);
    lg_rss_sample(&run);
    st->start_us = lg_now_us();
    for (unsigned i = 0; i < o->concurrency; i++) {
        run.vus[i].active = true;
        run.active_vus++;
    }
    for (unsigned i = 0; i < o->concurrency && !st->storm; i++) {
        vu_start_iteration(&run.vus[i]);
    }
    (void)event_base_dispatch(base);
    if (st->end_us == 0) {
        st->end_us = lg_now_us();
    }
    lg_rss_sample(&run);
    lg_timers_stop(&run);
    lg_vus_release(&run);
}

/* ---- self-test and --sign ------------------------------------------------------------ */

/* Vector computed with: printf 'POST\n/v1/payments\n1700000000\n%s' "$(printf '{}' |
 * openssl dgst -sha256 -r | cut -d' ' -f1)" | openssl dgst -sha256 -hmac bench-secret */
static int lg_self_test_sign(int *failed)
{
    struct gw_buf body;
    char sig[GW_SIGN_V1_BYTES];
    gw_buf_init(&body, 64);
    enum gw_err err = gw_buf_adds(&body, "{}");
    GW_ASSERT(err == GW_OK);
    gw_sign_v1(
        "bench-secret", strlen("bench-secret"),
        &(struct gw_sign_req){ "POST", "/v1/payments", "1700000000", gw_buf_str(&body), body.len },
        sig);
    gw_buf_release(&body);
    return lg_check(strcmp(sig, "v1=70dfda46adb9a52c2e0b0f8d5a06212a5e70cd0ce1dd63b20f13b0893"
                                "292f6c6") == 0,
                    "signature matches the openssl vector", failed);
}

static int lg_self_test(void)
{
    int failed = 0;
    int passed = lg_hist_self_test(&failed) + lg_self_test_sign(&failed);
    printf("self-test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

/* --sign METHOD PATH TIMESTAMP: reads the body from stdin and prints the signature, to
 * check the gateway's verifier by hand (curl -H ...). */
static int lg_sign_stdin(const char *secret, char **args)
{
    struct gw_buf body;
    char chunk[4096];
    char sig[GW_SIGN_V1_BYTES];
    size_t n;
    gw_buf_init(&body, (size_t)LG_SIGN_BODY_BYTES_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if (gw_buf_add(&body, chunk, n) != GW_OK) {
            fprintf(stderr, "feegate-loadgen: body longer than %zu bytes\n",
                    LG_SIGN_BODY_BYTES_MAX);
            gw_buf_release(&body);
            return 2;
        }
    }
    gw_sign_v1(secret, strlen(secret),
               &(struct gw_sign_req){ args[0], args[1], args[2], gw_buf_str(&body), body.len },
               sig);
    printf("%s\n", sig);
    gw_buf_release(&body);
    return 0;
}

/* ---- options ------------------------------------------------------------------------- */

static void lg_usage(FILE *out)
{
    fprintf(
        out,
        "usage: feegate-loadgen [options]\n"
        "  --url http://HOST:PORT   gateway (default http://127.0.0.1:8080)\n"
        "  --client ID              portal client (default $FEEGATE_CLIENT_ID or "
        "demo-portal)\n"
        "  --secret S               its secret (default $FEEGATE_CLIENT_SECRET)\n"
        "  --agency A --fee F       catalogue codes for the create request\n"
        "  --amount N               amount_vnd of the single fee line (default 200000)\n"
        "  --mix A:F:N[,A:F:N...]   several catalogue lines, virtual user i takes line i mod n\n"
        "  --channel NAME[+NAME..]  the channel the checkout form posts (default sandbox); the\n"
        "                           bank step follows the provider's page the same way; with\n"
        "                           several, user i posts the (i mod n)th\n"
        "  --concurrency C          virtual users (default 64, max %d)\n"
        "  --duration S             seconds per mode (default 10)\n"
        "  --payments N             stop each mode after N iterations started\n"
        "  --mode M[,M...]          full, healthz, readyz or all (default full)\n"
        "  --verify                 full: also GET /v1/payments/{id}, expect succeeded\n"
        "  --lean                   full: without GET /pay/{id} and the /return page\n"
        "  --rate R                 open loop: start R payments per second (at most C at a\n"
        "                           time); latency counts from when each was due\n"
        "  --gateway-pid P          poll /proc/P/status once a second (VmRSS, VmHWM)\n"
        "  --timeout S              per request (default %d)\n"
        "  --json                   one JSON line per mode on stdout; table on stderr\n"
        "  --ack-log FILE           full: append what the gateway acknowledged, one line\n"
        "                           each, flushed: `created PAYMENT_ID IDEMPOTENCY_KEY` on\n"
        "                           a 201, `bank PAYMENT_ID CHANNEL` when the provider's page\n"
        "                           sent the citizen back (its callback answered first)\n"
        "  --self-test              check histogram and signing, print N passed, N failed\n"
        "  --sign METHOD PATH TS    print the signature of stdin with --secret\n",
        LG_CONCURRENCY_MAX, LG_TIMEOUT_S_DEFAULT);
}

static bool lg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* --channel A[+B...]: channel names, lower case, one form value each. */
static bool lg_parse_channels(struct lg_opts *o, const char *arg)
{
    const char *p = arg;
    size_t n = 0;
    if (strlen(arg) == 0 || strlen(arg) >= sizeof(o->channel)) {
        return false;
    }
    while (n < LG_CHANNELS_MAX) {
        size_t len = strcspn(p, "+");
        if (len == 0 || len >= sizeof(o->channels[0]) ||
            strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_") != len) {
            return false;
        }
        (void)snprintf(o->channels[n], sizeof(o->channels[n]), "%.*s", (int)len, p);
        n++;
        if (p[len] == '\0') {
            o->n_channels = n;
            (void)snprintf(o->channel, sizeof(o->channel), "%s", arg);
            return true;
        }
        p += len + 1;
    }
    return false;
}

static bool lg_parse_rate(const char *s, double *out)
{
    char *end = NULL;
    double v = s != NULL ? strtod(s, &end) : 0;
    if (end == s || end == NULL || *end != '\0' || !(v > 0 && v <= 1e6)) {
        return false;
    }
    *out = v;
    return true;
}

static bool lg_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;
    if (!lg_parse_u64(s, min, max, &v)) {
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static bool lg_mode_add(struct lg_opts *o, const char *name, size_t len)
{
    for (size_t m = 0; m < LG_MODES_MAX; m++) {
        if (strlen(lg_mode_names[m]) != len || memcmp(lg_mode_names[m], name, len) != 0) {
            continue;
        }
        if (o->n_modes == LG_MODES_MAX) {
            return false;
        }
        o->modes[o->n_modes++] = (enum lg_mode)m;
        return true;
    }
    if (len == 3 && memcmp(name, "all", 3) == 0 && o->n_modes == 0) {
        for (size_t m = 0; m < LG_MODES_MAX; m++) {
            o->modes[o->n_modes++] = (enum lg_mode)m;
        }
        return true;
    }
    return false;
}

static bool lg_parse_modes(struct lg_opts *o, const char *s)
{
    o->n_modes = 0;
    while (*s != '\0') {
        size_t len = strcspn(s, ",");
        if (!lg_mode_add(o, s, len)) {
            return false;
        }
        s += len;
        if (*s == ',') {
            s++;
        }
    }
    return o->n_modes > 0;
}

static bool lg_parse_url(struct lg_opts *o)
{
    struct evhttp_uri *u = evhttp_uri_parse(o->url);
    if (u == NULL) {
        return false;
    }
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    const char *path = evhttp_uri_get_path(u);
    int port = evhttp_uri_get_port(u);
    bool ok = scheme != NULL && strcmp(scheme, "http") == 0 && host != NULL && host[0] != '\0' &&
              strlen(host) < sizeof(o->host) &&
              (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0);
    if (ok) {
        (void)snprintf(o->host, sizeof(o->host), "%s", host);
        o->port = port < 0 ? 80 : (uint16_t)port;
        (void)snprintf(o->host_header, sizeof(o->host_header), "%s:%u", host, (unsigned)o->port);
    }
    evhttp_uri_free(u);
    return ok;
}

static bool lg_code_is_valid(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= GW_CODE_BYTES_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* "A:F:N,A:F:N": agency, fee, amount per line. */
static bool lg_parse_mix(struct lg_opts *o, const char *arg)
{
    o->n_mix = 0;
    const char *p = arg;
    while (*p != '\0') {
        if (o->n_mix == LG_MIX_MAX) {
            return false;
        }
        struct lg_mix *m = &o->mix[o->n_mix];
        size_t a = strcspn(p, ":");
        if (p[a] != ':' || a == 0 || a >= sizeof(m->agency)) {
            return false;
        }
        memcpy(m->agency, p, a);
        m->agency[a] = '\0';
        p += a + 1;
        size_t f = strcspn(p, ":");
        if (p[f] != ':' || f == 0 || f >= sizeof(m->fee)) {
            return false;
        }
        memcpy(m->fee, p, f);
        m->fee[f] = '\0';
        p += f + 1;
        char num[24];
        size_t n = strcspn(p, ",");
        uint64_t v = 0;
        if (n == 0 || n >= sizeof(num)) {
            return false;
        }
        memcpy(num, p, n);
        num[n] = '\0';
        if (!lg_code_is_valid(m->agency) || !lg_code_is_valid(m->fee) ||
            !lg_parse_u64(num, 1, (uint64_t)GW_AMOUNT_VND_MAX, &v)) {
            return false;
        }
        m->amount_vnd = (int64_t)v;
        o->n_mix++;
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return o->n_mix > 0;
}

enum {
    OPT_URL = 256,
    OPT_CLIENT,
    OPT_SECRET,
    OPT_AGENCY,
    OPT_FEE,
    OPT_AMOUNT,
    OPT_MIX,
    OPT_CHANNEL,
    OPT_CONC,
    OPT_DUR,
    OPT_PAYMENTS,
    OPT_MODE,
    OPT_PID,
    OPT_TIMEOUT,
    OPT_VERIFY,
    OPT_LEAN,
    OPT_RATE,
    OPT_JSON,
    OPT_ACK_LOG,
    OPT_SELF,
    OPT_SIGN,
    OPT_HELP,
};

static bool lg_opt_apply(struct lg_opts *o, int c, const char *arg)
{
    uint64_t v;
    switch (c) {
    case OPT_URL:
        o->url = arg;
        return true;
    case OPT_CLIENT:
        o->client = arg;
        return true;
    case OPT_SECRET:
        o->secret = arg;
        return true;
    case OPT_AGENCY:
        o->agency = arg;
        return lg_code_is_valid(arg);
    case OPT_FEE:
        o->fee = arg;
        return lg_code_is_valid(arg);
    case OPT_MIX:
        return lg_parse_mix(o, arg);
    case OPT_CHANNEL:
        return lg_parse_channels(o, arg);
    case OPT_AMOUNT:
        if (!lg_parse_u64(arg, 1, (uint64_t)GW_AMOUNT_VND_MAX, &v)) {
            return false;
        }
        o->amount_vnd = (int64_t)v;
        return true;
    case OPT_CONC:
        return lg_parse_uint(arg, 1, LG_CONCURRENCY_MAX, &o->concurrency);
    case OPT_DUR:
        return lg_parse_uint(arg, 1, LG_DURATION_S_MAX, &o->duration_s);
    case OPT_TIMEOUT:
        return lg_parse_uint(arg, 1, 600, &o->timeout_s);
    case OPT_PAYMENTS:
        return lg_parse_u64(arg, 1, UINT64_MAX / 2, &o->payments_max);
    case OPT_MODE:
        return lg_parse_modes(o, arg);
    case OPT_PID:
        if (!lg_parse_u64(arg, 1, INT32_MAX, &v)) {
            return false;
        }
        o->gateway_pid = (long)v;
        return true;
    case OPT_VERIFY:
        o->verify = true;
        return true;
    case OPT_LEAN:
        o->lean = true;
        return true;
    case OPT_RATE:
        return lg_parse_rate(arg, &o->rate_per_s);
    case OPT_JSON:
        o->json = true;
        return true;
    case OPT_ACK_LOG:
        o->ack_log_path = arg;
        return arg[0] != '\0';
    default:
        return false;
    }
}

static void lg_opts_defaults(struct lg_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->url = "http://127.0.0.1:8080";
    /* Read once at startup, before any thread or event: getenv is safe here. */
    const char *client = getenv("FEEGATE_CLIENT_ID"); /* NOLINT(concurrency-mt-unsafe) */
    o->client = client != NULL && client[0] != '\0' ? client : "demo-portal";
    o->secret = getenv("FEEGATE_CLIENT_SECRET"); /* NOLINT(concurrency-mt-unsafe) */
    o->agency = "STP-HN";
    o->fee = "LLTP";
    o->amount_vnd = 200000;
    (void)snprintf(o->channel, sizeof(o->channel), "sandbox");
    (void)snprintf(o->channels[0], sizeof(o->channels[0]), "sandbox");
    o->n_channels = 1;
    o->concurrency = 64;
    o->duration_s = 10;
    o->timeout_s = LG_TIMEOUT_S_DEFAULT;
    o->modes[0] = LG_MODE_FULL;
    o->n_modes = 1;
}

static const struct option lg_long_opts[] = {
    /* same order as the OPT_ enum */
    { "url", required_argument, NULL, OPT_URL },
    { "client", required_argument, NULL, OPT_CLIENT },
    { "secret", required_argument, NULL, OPT_SECRET },
    { "agency", required_argument, NULL, OPT_AGENCY },
    { "fee", required_argument, NULL, OPT_FEE },
    { "amount", required_argument, NULL, OPT_AMOUNT },
    { "mix", required_argument, NULL, OPT_MIX },
    { "channel", required_argument, NULL, OPT_CHANNEL },
    { "concurrency", required_argument, NULL, OPT_CONC },
    { "duration", required_argument, NULL, OPT_DUR },
    { "payments", required_argument, NULL, OPT_PAYMENTS },
    { "mode", required_argument, NULL, OPT_MODE },
    { "gateway-pid", required_argument, NULL, OPT_PID },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "verify", no_argument, NULL, OPT_VERIFY },
    { "lean", no_argument, NULL, OPT_LEAN },
    { "rate", required_argument, NULL, OPT_RATE },
    { "json", no_argument, NULL, OPT_JSON },
    { "ack-log", required_argument, NULL, OPT_ACK_LOG },
    { "self-test", no_argument, NULL, OPT_SELF },
    { "sign", no_argument, NULL, OPT_SIGN },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};
_Static_assert(sizeof(lg_long_opts) / sizeof(lg_long_opts[0]) == OPT_HELP - OPT_URL + 2,
               "one long option per OPT_ value");

/* Returns -1 to go on, else the exit status (self-test, --sign, --help, usage errors). */
static int lg_parse_args(struct lg_opts *o, int argc, char **argv)
{
    int c;
    bool self_test = false;
    bool sign = false;
    /* getopt_long keeps global state: fine, this runs once, before anything else. */
    while ((c = getopt_long(argc, argv, "", lg_long_opts, NULL)) != -1) { /* NOLINT */
        if (c == OPT_HELP) {
            lg_usage(stdout);
            return 0;
        }
        if (c == OPT_SELF || c == OPT_SIGN) {
            self_test = self_test || c == OPT_SELF;
            sign = sign || c == OPT_SIGN;
            continue;
        }
        if (c == '?' || !lg_opt_apply(o, c, optarg)) {
            if (c != '?') {
                fprintf(stderr, "feegate-loadgen: invalid value for --%s: %s\n",
                        lg_long_opts[c - OPT_URL].name, optarg != NULL ? optarg : "");
            }
            lg_usage(stderr);
            return 2;
        }
    }
    if (self_test) {
        return lg_self_test();
    }
    if (sign && (argc - optind != 3 || o->secret == NULL)) {
        fprintf(stderr, "feegate-loadgen: --sign needs --secret and METHOD PATH TIMESTAMP\n");
        return 2;
    }
    if (sign) {
        return lg_sign_stdin(o->secret, argv + optind);
    }
    return -1;
}

static int lg_check_opts(struct lg_opts *o)
{
    if (!lg_parse_url(o)) {
        fprintf(stderr, "feegate-loadgen: --url must be http://HOST[:PORT][/]: %s\n", o->url);
        return 2;
    }
    bool full = false;
    for (size_t i = 0; i < o->n_modes; i++) {
        full = full || o->modes[i] == LG_MODE_FULL;
    }
    if (full && (o->secret == NULL || o->secret[0] == '\0')) {
        fprintf(stderr, "feegate-loadgen: mode full needs --secret or FEEGATE_CLIENT_SECRET\n");
        return 2;
    }
    if (strlen(o->client) > GW_CLIENT_ID_BYTES_MAX) {
        fprintf(stderr, "feegate-loadgen: --client is longer than %d bytes\n",
                GW_CLIENT_ID_BYTES_MAX);
        return 2;
    }
    return -1;
}

/* Two descriptors per user plus slack: raise the soft limit up to the hard one. */
static void lg_raise_nofile(unsigned concurrency)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)concurrency * 2u + 64u;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) {
        return;
    }
    rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
        fprintf(stderr, "feegate-loadgen: warning: open files limited to %lu, need %lu\n",
                (unsigned long)rl.rlim_cur, (unsigned long)need);
    }
}

int main(int argc, char **argv)
{
    struct lg_opts o;
    lg_opts_defaults(&o);
    int rc = lg_parse_args(&o, argc, argv);
    if (rc < 0) {
        rc = lg_check_opts(&o);
    }
    if (rc >= 0) {
        return rc;
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN; /* a peer closing mid-write is counted, not fatal */
    (void)sigaction(SIGPIPE, &ign, NULL);
    lg_raise_nofile(o.concurrency);
    if (o.ack_log_path != NULL) {
        o.ack_log = fopen(o.ack_log_path, "a");
        if (o.ack_log == NULL) {
            fprintf(stderr, "feegate-loadgen: could not open %s: %s\n", o.ack_log_path,
                    GW_STRERROR(errno));
            return 2;
        }
    }
    struct event_base *base = event_base_new();
    GW_ASSERT(base != NULL);
    struct lg_stats *all = gw_xcalloc(o.n_modes, sizeof(*all));
    size_t ran = 0;
    bool storm = false;
    bool errors = false;
    for (size_t i = 0; i < o.n_modes && !storm; i++) {
        all[i].mode = o.modes[i];
        lg_run_mode(base, &o, &all[i]);
        storm = all[i].storm;
        errors = errors || all[i].errors_total > 0 || all[i].abandoned > 0;
        ran++;
        if (o.json) {
            lg_print_json(stdout, &o, &all[i]);
        }
    }
    lg_print_human(o.json ? stderr : stdout, &o, all, ran);
    gw_xfree(all);
    event_base_free(base);
    if (o.ack_log != NULL && fclose(o.ack_log) != 0) {
        errors = true;
    }
    return storm ? 3 : (errors ? 1 : 0);
}
