/* feegate-banksim: plays the provider side of the payment protocols on one event loop, for
 * the demo, the integration tests and the load benchmark. Usage in README.md. */
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "banksim.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_time.h"
#include "gw_tls.h"

#include "banned.h"

/* Every provider side compiled in, in the order GET / lists them. */
static const struct bs_provider *const bs_providers[] = {
    &bs_provider_sandbox, &bs_provider_vnpay, &bs_provider_momo, &bs_provider_zalopay, NULL,
};
#define BS_PROVIDERS_N (sizeof(bs_providers) / sizeof(bs_providers[0]) - 1)

/* Which provider sides have their credentials (the others are off). */
static bool bs_on[BS_PROVIDERS_N];

static void bs_usage(FILE *f)
{
    (void)fputs("usage: feegate-banksim --listen HOST:PORT --sandbox-merchant M "
                "--sandbox-secret S\n"
                "                      [--auto approve|decline] [--seed N] "
                "[--log-level debug|info|warn|error]\n"
                "    [--vnpay-tmn CODE --vnpay-secret S --vnpay-ipn-url URL]\n"
                "    [--momo-partner P --momo-access-key A --momo-secret-key S]\n"
                "    [--zalopay-app-id N --zalopay-key1 K1 --zalopay-key2 K2]\n"
                "    [--vnpay-fee-bp N] [--momo-fee-bp N] [--zalopay-fee-bp N]\n"
                "    [--callback-interval-ms N] [--statement-dir DIR] [--faults JSON]\n"
                "    [--tls-cert PEM --tls-key PEM]\n"
                "Secrets may also come from FEEGATE_BANKSIM_SANDBOX_SECRET, VNPAY_TMN_CODE,\n"
                "VNPAY_HASH_SECRET, MOMO_PARTNER_CODE, MOMO_ACCESS_KEY, MOMO_SECRET_KEY,\n"
                "ZALOPAY_APP_ID, ZALOPAY_KEY1, ZALOPAY_KEY2. See README.md.\n",
                f);
}

static bool bs_parse_log_level(const char *s, enum gw_log_level *out)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum gw_log_level)i;
            return true;
        }
    }
    return false;
}

/* The provider sides' options; false on a bad value. */
static bool bs_provider_option(int c, const char *arg, struct bs_options *o)
{
    const char **slot = NULL;
    switch (c) {
    case 1:
        slot = &o->vnpay_tmn;
        break;
    case 2:
        slot = &o->vnpay_secret;
        break;
    case 3:
        slot = &o->vnpay_ipn_url;
        break;
    case 4:
        slot = &o->momo_partner;
        break;
    case 5:
        slot = &o->momo_access_key;
        break;
    case 6:
        slot = &o->momo_secret_key;
        break;
    case 7:
        slot = &o->zalopay_app_id;
        break;
    case 8:
        slot = &o->zalopay_key1;
        break;
    case 9:
        slot = &o->zalopay_key2;
        break;
    case 10:
        slot = &o->statement_dir;
        break;
    case 11:
        slot = &o->faults_json;
        break;
    case 12:
        return bs_parse_int64(arg, 1, 3600000, &o->callback_interval_ms);
    case 13:
        return bs_parse_int64(arg, 0, 10000, &o->fee_bp[BS_PROV_VNPAY]);
    case 14:
        return bs_parse_int64(arg, 0, 10000, &o->fee_bp[BS_PROV_MOMO]);
    case 15:
        return bs_parse_int64(arg, 0, 10000, &o->fee_bp[BS_PROV_ZALOPAY]);
    case 16:
        slot = &o->tls_cert;
        break;
    case 17:
        slot = &o->tls_key;
        break;
    default:
        return false;
    }
    *slot = arg;
    return true;
}

/* Credentials not on the command line come from the environment (var/demo.env names). */
static void bs_options_env(struct bs_options *o)
{
    static const struct {
        size_t offset;
        const char *name;
    } env[] = {
        { offsetof(struct bs_options, sandbox_secret), "FEEGATE_BANKSIM_SANDBOX_SECRET" },
        { offsetof(struct bs_options, vnpay_tmn), "VNPAY_TMN_CODE" },
        { offsetof(struct bs_options, vnpay_secret), "VNPAY_HASH_SECRET" },
        { offsetof(struct bs_options, momo_partner), "MOMO_PARTNER_CODE" },
        { offsetof(struct bs_options, momo_access_key), "MOMO_ACCESS_KEY" },
        { offsetof(struct bs_options, momo_secret_key), "MOMO_SECRET_KEY" },
        { offsetof(struct bs_options, zalopay_app_id), "ZALOPAY_APP_ID" },
        { offsetof(struct bs_options, zalopay_key1), "ZALOPAY_KEY1" },
        { offsetof(struct bs_options, zalopay_key2), "ZALOPAY_KEY2" },
    };

    for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
        const char **slot = (const char **)(void *)((char *)o + env[i].offset);
        if (*slot == NULL) {
            *slot = getenv(env[i].name); /* NOLINT(concurrency-mt-unsafe): before the loop */
        }
    }
}

/* Applies one option; false on a bad value. */
static bool bs_option(int c, const char *arg, struct bs_options *o)
{
    int64_t v = 0;
    enum gw_log_level level = GW_LOG_INFO;
    switch (c) {
    case 'l':
        o->listen = arg;
        return true;
    case 'm':
        o->sandbox_merchant = arg;
        return true;
    case 's':
        o->sandbox_secret = arg;
        return true;
    case 'a':
        if (strcmp(arg, "approve") != 0 && strcmp(arg, "decline") != 0) {
            return false;
        }
        o->auto_mode = strcmp(arg, "approve") == 0 ? BS_AUTO_APPROVE : BS_AUTO_DECLINE;
        return true;
    case 'S':
        if (!bs_parse_int64(arg, 0, INT64_MAX, &v)) {
            return false;
        }
        o->seed = (uint64_t)v;
        return true;
    case 'L':
        if (!bs_parse_log_level(arg, &level)) {
            return false;
        }
        gw_log_set_level(level);
        return true;
    default:
        return bs_provider_option(c, arg, o);
    }
}

static int bs_parse_args(int argc, char **argv, struct bs_options *o)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "sandbox-merchant", required_argument, NULL, 'm' },
        { "sandbox-secret", required_argument, NULL, 's' },
        { "auto", required_argument, NULL, 'a' },
        { "seed", required_argument, NULL, 'S' },
        { "log-level", required_argument, NULL, 'L' },
        { "vnpay-tmn", required_argument, NULL, 1 },
        { "vnpay-secret", required_argument, NULL, 2 },
        { "vnpay-ipn-url", required_argument, NULL, 3 },
        { "momo-partner", required_argument, NULL, 4 },
        { "momo-access-key", required_argument, NULL, 5 },
        { "momo-secret-key", required_argument, NULL, 6 },
        { "zalopay-app-id", required_argument, NULL, 7 },
        { "zalopay-key1", required_argument, NULL, 8 },
        { "zalopay-key2", required_argument, NULL, 9 },
        { "statement-dir", required_argument, NULL, 10 },
        { "faults", required_argument, NULL, 11 },
        { "callback-interval-ms", required_argument, NULL, 12 },
        { "vnpay-fee-bp", required_argument, NULL, 13 },
        { "momo-fee-bp", required_argument, NULL, 14 },
        { "zalopay-fee-bp", required_argument, NULL, 15 },
        { "tls-cert", required_argument, NULL, 16 },
        { "tls-key", required_argument, NULL, 17 },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    o->seed = (uint64_t)gw_now_ms();
    o->callback_interval_ms = BS_CALLBACK_INTERVAL_MS_DEFAULT;
    int c;
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): start-up, before the event loop */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'h') {
            bs_usage(stdout);
            return 1;
        }
        if (c == '?' || !bs_option(c, optarg, o)) {
            bs_usage(stderr);
            return -1;
        }
    }
    bs_options_env(o);
    if (optind != argc || o->listen == NULL || (o->tls_cert == NULL) != (o->tls_key == NULL)) {
        bs_usage(stderr);
        return -1;
    }
    return 0;
}

static void bs_healthz_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    bs_reply(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
}

/* GET /: what is simulated, and the counters. */
static void bs_index_cb(struct evhttp_request *req, void *arg)
{
    const struct bs_sim *sim = arg;
    const struct bs_stats *st = &sim->stats;
    struct gw_buf b;
    gw_buf_init(&b, (size_t)16 * 1024);
    enum gw_err err = gw_buf_adds(&b, "feegate-banksim: simulated payment providers\n\n");
    for (size_t i = 0; bs_providers[i] != NULL && err == GW_OK; i++) {
        err = gw_buf_printf(&b, "%s (%s): %s\n", bs_providers[i]->name, bs_on[i] ? "on" : "off",
                            bs_providers[i]->summary);
    }
    if (err == GW_OK) {
        err = gw_buf_printf(&b,
                            "\nauto: %s\npages_shown: %" PRIu64 "\napproved: %" PRIu64
                            "\ndeclined: %" PRIu64 "\ncallbacks_sent: %" PRIu64
                            "\ncallbacks_acked: %" PRIu64 "\ncallbacks_refused: %" PRIu64
                            "\ncallbacks_given_up: %" PRIu64 "\ncallbacks_in_progress: %zu\n",
                            sim->opts->auto_mode == BS_AUTO_OFF       ? "off"
                            : sim->opts->auto_mode == BS_AUTO_APPROVE ? "approve"
                                                                      : "decline",
                            st->pages_shown, st->approved, st->declined, st->callbacks_sent,
                            st->callbacks_acked, st->callbacks_refused, st->callbacks_given_up,
                            sim->deliveries_alive);
    }
    GW_ASSERT(err == GW_OK);
    bs_reply(req, 200, "text/plain; charset=utf-8", b.data, b.len);
    gw_buf_release(&b);
}

static void bs_not_found_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    bs_reply(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
}

static void bs_signal_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct event_base *base = arg;
    (void)event_base_loopexit(base, NULL);
}

/* Binds HOST:PORT (port 0: any) and logs the port actually bound. */
static enum gw_err bs_listen(struct bs_sim *sim, const char *listen, struct gw_errbuf *eb)
{
    const char *colon = strrchr(listen, ':');
    int64_t port = 0;
    if (colon == NULL || colon == listen || !bs_parse_int64(colon + 1, 0, 65535, &port)) {
        return gw_fail(eb, GW_ERR_INVALID, "--listen must be HOST:PORT");
    }
    char host[256];
    int n = snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    if (n < 0 || (size_t)n >= sizeof(host)) {
        return gw_fail(eb, GW_ERR_INVALID, "--listen host too long");
    }
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(sim->http, host, (uint16_t)port);
    if (bound == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not listen on %s", listen);
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t ss_len = sizeof(ss);
    int bound_port = (int)port;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &ss_len) == 0) {
        if (ss.ss_family == AF_INET) {
            bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    gw_log_info("listening", "\"host\":\"%s\",\"port\":%d", host, bound_port);
    return GW_OK;
}

/* evhttp's bufferevent hook with --tls-cert: each connection accepts TLS (the context of
 * common/gw_tls.c, as the gateway's listener). */
static struct bufferevent *bs_tls_bev(struct event_base *base, void *arg)
{
    SSL *ssl = SSL_new(arg);
    if (ssl == NULL) {
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* Sets the server's limits (no library default is trusted) and the shared routes. */
static void bs_http_setup(struct bs_sim *sim)
{
    evhttp_set_max_headers_size(sim->http, GW_HTTP_HEADERS_BYTES_MAX);
    evhttp_set_max_body_size(sim->http, BS_BODY_BYTES_MAX);
    evhttp_set_timeout(sim->http, BS_HTTP_TIMEOUT_S);
    evhttp_set_allowed_methods(sim->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    GW_ASSERT(evhttp_set_cb(sim->http, "/", bs_index_cb, sim) == 0);
    GW_ASSERT(evhttp_set_cb(sim->http, "/healthz", bs_healthz_cb, sim) == 0);
    evhttp_set_gencb(sim->http, bs_not_found_cb, sim);
}

/* Starts every provider side and the listener, then runs the loop until SIGINT/SIGTERM. */
static enum gw_err bs_run(struct bs_sim *sim, size_t *started, struct gw_errbuf *eb)
{
    for (*started = 0; bs_providers[*started] != NULL; (*started)++) {
        enum gw_err err = bs_providers[*started]->start(sim, &bs_on[*started], eb);
        if (err != GW_OK) {
            return err;
        }
    }
    bs_statement_routes(sim, bs_providers, bs_on);
    bs_faults_routes(sim);
    enum gw_err err = GW_OK;
    if (sim->opts->faults_json != NULL) {
        err = bs_faults_set(sim, sim->opts->faults_json, strlen(sim->opts->faults_json), eb);
    }
    if (err == GW_OK && sim->opts->tls_cert != NULL) {
        const struct gw_tls_files files = { sim->opts->tls_cert, sim->opts->tls_key };
        err = gw_tls_server_ctx_new(&files, &sim->tls, eb);
        if (err == GW_OK) {
            evhttp_set_bevcb(sim->http, bs_tls_bev, sim->tls);
        }
    }
    if (err == GW_OK) {
        err = bs_listen(sim, sim->opts->listen, eb);
    }
    if (err != GW_OK) {
        return err;
    }
    struct event *sigint = evsignal_new(sim->base, SIGINT, bs_signal_cb, sim->base);
    struct event *sigterm = evsignal_new(sim->base, SIGTERM, bs_signal_cb, sim->base);
    GW_ASSERT(sigint != NULL && sigterm != NULL);
    GW_ASSERT(event_add(sigint, NULL) == 0 && event_add(sigterm, NULL) == 0);
    gw_log_info("started",
                "\"auto\":\"%s\",\"seed\":%" PRIu64 ",\"vnpay\":%s,\"momo\":%s,\"zalopay\":%s",
                sim->opts->auto_mode == BS_AUTO_OFF       ? "off"
                : sim->opts->auto_mode == BS_AUTO_APPROVE ? "approve"
                                                          : "decline",
                sim->opts->seed, bs_on[1] ? "true" : "false", bs_on[2] ? "true" : "false",
                bs_on[3] ? "true" : "false");
    if (event_base_dispatch(sim->base) != 0) {
        err = gw_fail(eb, GW_ERR_INTERNAL, "event loop failed");
    }
    gw_log_info("stopping", "\"callbacks_in_progress\":%zu", sim->deliveries_alive);
    event_free(sigint);
    event_free(sigterm);
    return err;
}

int main(int argc, char **argv)
{
    gw_log_set_component("banksim");
    struct bs_options opts;
    memset(&opts, 0, sizeof(opts));
    int rc = bs_parse_args(argc, argv, &opts);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    /* A peer closing mid-write must not kill the process. */
    (void)signal(SIGPIPE, SIG_IGN);
    struct bs_sim sim;
    memset(&sim, 0, sizeof(sim));
    sim.opts = &opts;
    sim.rng_state = opts.seed;
    /* A seeded delay is a promise ("not before 400 ms"): the precise clock keeps timers
     * from firing a coarse-clock tick early. */
    struct event_config *cfg = event_config_new();
    GW_ASSERT(cfg != NULL);
    GW_ASSERT(event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0);
    sim.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    GW_ASSERT(sim.base != NULL);
    sim.http = evhttp_new(sim.base);
    GW_ASSERT(sim.http != NULL);
    bs_http_setup(&sim);
    bs_pool_new(&sim);
    bs_faults_new(&sim);
    struct gw_errbuf eb = { .msg = "" };
    size_t started = 0;
    enum gw_err err = bs_run(&sim, &started, &eb);
    if (err != GW_OK) {
        gw_log_error("fatal", "\"error\":\"%s\",\"reason\":\"%s\"", gw_err_name(err), eb.msg);
    }
    bs_faults_free(&sim);
    bs_pool_free(&sim);
    evhttp_free(sim.http);
    SSL_CTX_free(sim.tls);
    for (size_t i = 0; i < started; i++) {
        bs_providers[i]->stop();
    }
    event_base_free(sim.base);
    return err == GW_OK ? 0 : 1;
}
