/* feegate-sink: the portal's webhook receiver for the benchmark. Listens on 127.0.0.1 only,
 * verifies each webhook's v1 signature (docs/api.md, "Signing every request": HMAC-SHA256
 * with the client's secret over METHOD, the request target as sent, the timestamp and the
 * SHA-256 of the body) and its timestamp, and appends one line per verified webhook
 * ("event_id payment_id type") to --out, so that run.sh can count the payments whose
 * webhook arrived. Answers 204 to a verified webhook and 401 to any other, so a bad
 * signature shows up in the gateway's retries and in the counts on exit. Stops on SIGTERM
 * or SIGINT, or by itself after --max-seconds, and prints its counts as one JSON line. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_sign.h"

#include "banned.h"

#define SINK_SKEW_S_MAX     300 /* the gateway's own window for a request's timestamp */
#define SINK_MAX_SECONDS    3600
#define SINK_BODY_BYTES_MAX 1048576

struct sink {
    const char *secret;
    const char *client; /* NULL: any X-Feegate-Client */
    FILE *out;
    struct event_base *base;
    long port;
    long max_s; /* stops by itself after this long */
    uint64_t received;
    uint64_t verified;
    uint64_t bad_signature;
    uint64_t bad_body;
};

static void sink_reply(struct evhttp_request *req, int status, const char *why)
{
    evhttp_send_reply(req, status, why, NULL);
}

/* True when the signature headers match the request, by the v1 scheme. */
static bool sink_signature_ok(const struct sink *s, struct evhttp_request *req,
                              const unsigned char *body, size_t len)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *client = evhttp_find_header(h, "X-Feegate-Client");
    const char *ts = evhttp_find_header(h, "X-Feegate-Timestamp");
    const char *sig = evhttp_find_header(h, "X-Feegate-Signature");
    if (client == NULL || ts == NULL || sig == NULL || strncmp(sig, "v1=", 3) != 0 ||
        (s->client != NULL && strcmp(client, s->client) != 0)) {
        return false;
    }
    char *end = NULL;
    long long t = strtoll(ts, &end, 10);
    long long now = (long long)time(NULL);
    if (end == ts || *end != '\0' || t < now - SINK_SKEW_S_MAX || t > now + SINK_SKEW_S_MAX) {
        return false;
    }
    char want[GW_SIGN_V1_BYTES];
    gw_sign_v1(s->secret, strlen(s->secret),
               &(struct gw_sign_req){ "POST", evhttp_request_get_uri(req), ts, body, len }, want);
    return gw_hex_equal_ct(sig + GW_SIGN_V1_PREFIX_LEN, strlen(sig + GW_SIGN_V1_PREFIX_LEN),
                           want + GW_SIGN_V1_PREFIX_LEN, strlen(want + GW_SIGN_V1_PREFIX_LEN));
}

/* Appends "event_id payment_id type" for a verified webhook; false when the body is not a
 * webhook. */
static bool sink_record(struct sink *s, const unsigned char *body, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)body, len, 0, &je);
    const char *event = json_string_value(json_object_get(root, "event_id"));
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *pay =
        json_string_value(json_object_get(json_object_get(root, "payment"), "payment_id"));
    bool ok = event != NULL && type != NULL && pay != NULL && strpbrk(event, " \n") == NULL &&
              strpbrk(pay, " \n") == NULL && strpbrk(type, " \n") == NULL;
    if (ok) {
        (void)fprintf(s->out, "%s %s %s\n", event, pay, type);
        (void)fflush(s->out); /* run.sh reads the file while the sink runs */
    }
    json_decref(root);
    return ok;
}

static void sink_stats(const struct sink *s, struct evbuffer *b)
{
    (void)evbuffer_add_printf(b,
                              "{\"mode\":\"sink\",\"received\":%" PRIu64 ",\"verified\":%" PRIu64
                              ",\"bad_signature\":%" PRIu64 ",\"bad_body\":%" PRIu64 "}\n",
                              s->received, s->verified, s->bad_signature, s->bad_body);
}

static void sink_on_request(struct evhttp_request *req, void *arg)
{
    struct sink *s = arg;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
        strcmp(evhttp_request_get_uri(req), "/stats") == 0) {
        struct evbuffer *b = evbuffer_new();
        if (b == NULL) {
            sink_reply(req, 500, "Internal Server Error");
            return;
        }
        sink_stats(s, b);
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        sink_reply(req, 405, "Method Not Allowed");
        return;
    }
    s->received++;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const unsigned char *body = evbuffer_pullup(in, -1);
    if (body == NULL) {
        body = (const unsigned char *)"";
    }
    if (!sink_signature_ok(s, req, body, len)) {
        s->bad_signature++;
        sink_reply(req, 401, "Unauthorized");
        return;
    }
    if (!sink_record(s, body, len)) {
        s->bad_body++;
        sink_reply(req, 400, "Bad Request");
        return;
    }
    s->verified++;
    sink_reply(req, 204, "No Content");
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback type */
static void sink_on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)event_base_loopexit(arg, NULL);
}

static void sink_usage(void)
{
    (void)fputs("usage: feegate-sink --port PORT --secret CLIENT_SECRET --out FILE\n"
                "                    [--client ID] [--max-seconds N]\n"
                "  listens on 127.0.0.1:PORT; GET /stats prints the counts\n",
                stderr);
}

static int sink_serve(struct sink *s)
{
    struct evhttp *http = evhttp_new(s->base);
    if (http == NULL || evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)s->port) != 0) {
        (void)fprintf(stderr, "feegate-sink: could not listen on 127.0.0.1:%ld\n", s->port);
        return 1;
    }
    evhttp_set_max_body_size(http, SINK_BODY_BYTES_MAX);
    evhttp_set_gencb(http, sink_on_request, s);
    struct event *term = evsignal_new(s->base, SIGTERM, sink_on_stop, s->base);
    struct event *intr = evsignal_new(s->base, SIGINT, sink_on_stop, s->base);
    struct event *limit = evtimer_new(s->base, sink_on_stop, s->base);
    struct timeval tv = { (time_t)s->max_s, 0 };
    if (term == NULL || intr == NULL || limit == NULL || event_add(term, NULL) != 0 ||
        event_add(intr, NULL) != 0 || evtimer_add(limit, &tv) != 0) {
        (void)fputs("feegate-sink: could not set up its events\n", stderr);
        return 1;
    }
    (void)event_base_dispatch(s->base);
    event_free(term);
    event_free(intr);
    event_free(limit);
    evhttp_free(http);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'p' },        { "secret", required_argument, NULL, 's' },
        { "client", required_argument, NULL, 'c' },      { "out", required_argument, NULL, 'o' },
        { "max-seconds", required_argument, NULL, 'm' }, { NULL, 0, NULL, 0 },
    };
    struct sink s = { .max_s = SINK_MAX_SECONDS };
    const char *out = NULL;
    int c;
    /* getopt_long keeps global state: fine, this runs once, before anything else. */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) { /* NOLINT */
        if (c == 'p') {
            s.port = strtol(optarg, NULL, 10);
        } else if (c == 's') {
            s.secret = optarg;
        } else if (c == 'c') {
            s.client = optarg;
        } else if (c == 'o') {
            out = optarg;
        } else if (c == 'm') {
            s.max_s = strtol(optarg, NULL, 10);
        } else {
            sink_usage();
            return 2;
        }
    }
    if (s.port <= 0 || s.port > 65535 || s.secret == NULL || out == NULL || s.max_s <= 0 ||
        s.max_s > SINK_MAX_SECONDS) {
        sink_usage();
        return 2;
    }
    s.out = fopen(out, "a");
    s.base = event_base_new();
    if (s.out == NULL || s.base == NULL) {
        (void)fprintf(stderr, "feegate-sink: could not open %s\n", out);
        return 1;
    }
    int rc = sink_serve(&s);
    struct evbuffer *b = evbuffer_new();
    if (b != NULL) {
        sink_stats(&s, b);
        (void)evbuffer_write(b, 1);
        evbuffer_free(b);
    }
    event_base_free(s.base);
    return fclose(s.out) == 0 ? rc : 1;
}
