/* Command-line tools around the daemon: signed requests for a shell user, the embedded
 * development database, the demo seed, and `feegate demo`, which runs the whole system on
 * 127.0.0.1 in the foreground. All blocking: none of this runs on an event loop. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <libpq-fe.h>
#include <openssl/ssl.h>

#include "config.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_pgembed.h"
#include "gw_sign.h"
#include "gw_time.h"
#include "gw_tls.h"
#include "ledger.h"

#include "banned.h"

extern char **environ;

#define CLI_BODY_BYTES_MAX ((size_t)1024 * 1024)
#define DEMO_ENV           "var/demo.env"

void gw_cli_load_env_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    char line[2048];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL) {
            continue;
        }
        *eq = '\0';
        char *v = eq + 1;
        v[strcspn(v, "\r\n")] = '\0';
        size_t n = strlen(v);
        if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
            v[n - 1] = '\0';
            v++;
        }
        const char *k = strncmp(line, "export ", 7) == 0 ? line + 7 : line;
        (void)setenv(k, v, 0); /* NOLINT(concurrency-mt-unsafe): before any thread */
    }
    (void)fclose(f);
}

static enum gw_err read_file(const char *path, struct gw_buf *b, struct gw_errbuf *eb)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\": %s", path, GW_STRERROR(errno));
    }
    char chunk[8192];
    size_t n;
    enum gw_err err = GW_OK;
    while (err == GW_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        err = gw_buf_add(b, chunk, n);
    }
    if (f != stdin) {
        (void)fclose(f);
    }
    if (err != GW_OK) {
        return gw_fail(eb, err, "\"%s\" is larger than %zu bytes", path, CLI_BODY_BYTES_MAX);
    }
    return GW_OK;
}

struct cli_answer {
    int status;
    struct gw_buf body;
};

static void cli_request_done(struct evhttp_request *req, void *arg)
{
    struct cli_answer *a = arg;
    if (req != NULL) {
        a->status = evhttp_request_get_response_code(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (gw_buf_add(&a->body, evbuffer_pullup(in, (ev_ssize_t)n), n) != GW_OK) {
            a->status = -1;
        }
    }
}

static void sign_headers(struct evkeyvalq *h, const char *method, const char *path,
                         const struct gw_buf *body)
{
    const char *client = getenv("FEEGATE_CLIENT_ID");
    const char *secret = getenv("FEEGATE_CLIENT_SECRET");
    GW_ASSERT(client != NULL && secret != NULL); /* cli_request checked both */
    char ts[24];
    (void)snprintf(ts, sizeof(ts), "%lld", (long long)(gw_now_ms() / 1000));
    char sig_header[GW_SIGN_V1_BYTES];
    gw_sign_v1(secret, strlen(secret),
               &(struct gw_sign_req){ method, path, ts, gw_buf_str(body), body->len }, sig_header);
    (void)evhttp_add_header(h, "X-Feegate-Client", client);
    (void)evhttp_add_header(h, "X-Feegate-Timestamp", ts);
    (void)evhttp_add_header(h, "X-Feegate-Signature", sig_header);
}

/* For an https:// FEEGATE_URL: a bufferevent that verifies the gateway against
 * FEEGATE_TLS_CA (the demo's CA) or the system store, and its host name; NULL (and why on
 * stderr) when the CA file cannot be read. *ctx is the caller's to free. */
static struct bufferevent *tls_bev(struct event_base *base, const char *host, SSL_CTX **ctx)
{
    struct gw_errbuf eb = { .msg = "" };
    if (gw_tls_client_ctx_new(getenv("FEEGATE_TLS_CA"), ctx, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
        return NULL;
    }
    SSL *ssl = SSL_new(*ctx);
    if (ssl == NULL || !gw_tls_client_expect_host(ssl, host)) {
        SSL_free(ssl);
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        SSL_free(ssl);
    }
    return bev;
}

static int send_request(const char *method, const char *path, const struct gw_buf *body)
{
    const char *url = getenv("FEEGATE_URL");
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    if (uri == NULL || evhttp_uri_get_host(uri) == NULL) {
        (void)fprintf(stderr, "feegate: FEEGATE_URL \"%s\" is not a URL\n", url);
        evhttp_uri_free(uri);
        return 2;
    }
    struct event_base *base = event_base_new();
    int port = evhttp_uri_get_port(uri);
    const char *scheme = evhttp_uri_get_scheme(uri);
    bool https = scheme != NULL && strcmp(scheme, "https") == 0;
    SSL_CTX *ctx = NULL;
    struct bufferevent *bev = https ? tls_bev(base, evhttp_uri_get_host(uri), &ctx) : NULL;
    if (https && bev == NULL) {
        SSL_CTX_free(ctx);
        event_base_free(base);
        evhttp_uri_free(uri);
        return 1;
    }
    struct evhttp_connection *conn =
        evhttp_connection_base_bufferevent_new(base, NULL, bev, evhttp_uri_get_host(uri),
                                               (uint16_t)(port > 0 ? port : (https ? 443 : 80)));
    evhttp_connection_set_timeout(conn, 30);
    struct cli_answer a = { .status = 0 };
    gw_buf_init(&a.body, CLI_BODY_BYTES_MAX);
    struct evhttp_request *req = evhttp_request_new(cli_request_done, &a);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Host", evhttp_uri_get_host(uri));
    (void)evhttp_add_header(h, "Content-Type", "application/json");
    const char *idem = getenv("IDEMPOTENCY_KEY");
    char made[40];
    if ((idem == NULL || idem[0] == '\0') && strcmp(method, "POST") == 0) {
        /* Create, cancel and refund need a key: a new one, said, so the request can be retried
         * with it (IDEMPOTENCY_KEY=... feegate request ...). */
        unsigned char rnd[16];
        GW_ASSERT(gw_random_bytes(rnd, sizeof(rnd)) == GW_OK);
        char hex[2 * sizeof(rnd) + 1];
        gw_hex_encode(rnd, sizeof(rnd), hex);
        (void)snprintf(made, sizeof(made), "cli-%s", hex);
        idem = made;
        (void)fprintf(stderr,
                      "feegate: Idempotency-Key: %s (to retry this request, run it again "
                      "with IDEMPOTENCY_KEY=%s)\n",
                      made, made);
    }
    if (idem != NULL && idem[0] != '\0') {
        (void)evhttp_add_header(h, "Idempotency-Key", idem);
    }
    sign_headers(h, method, path, body);
    (void)evbuffer_add(evhttp_request_get_output_buffer(req), gw_buf_str(body), body->len);
    enum evhttp_cmd_type cmd = strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
    if (evhttp_make_request(conn, req, cmd, path) == 0) {
        (void)event_base_dispatch(base);
    }
    if (a.status > 0) {
        (void)printf("HTTP %d\n%s\n", a.status, gw_buf_str(&a.body));
    } else {
        (void)fprintf(stderr, "feegate: no answer from %s\n", url);
    }
    gw_buf_release(&a.body);
    evhttp_connection_free(conn);
    SSL_CTX_free(ctx);
    event_base_free(base);
    evhttp_uri_free(uri);
    return a.status >= 200 && a.status < 300 ? 0 : 1;
}

int gw_cli_request(int argc, char **argv)
{
    if (argc < 4) {
        (void)fputs("usage: feegate request GET|POST /v1/... [BODY_FILE|-]\n"
                    "  signs with FEEGATE_URL, FEEGATE_CLIENT_ID, FEEGATE_CLIENT_SECRET (or "
                    "var/demo.env);\n"
                    "  a POST sends Idempotency-Key: $IDEMPOTENCY_KEY, or a new random key when "
                    "it is unset\n"
                    "  (printed on stderr: set IDEMPOTENCY_KEY to it to retry the request)\n",
                    stderr);
        return 2;
    }
    gw_cli_load_env_file(DEMO_ENV);
    if (getenv("FEEGATE_URL") == NULL || getenv("FEEGATE_CLIENT_ID") == NULL ||
        getenv("FEEGATE_CLIENT_SECRET") == NULL) {
        (void)fputs("feegate: set FEEGATE_URL, FEEGATE_CLIENT_ID and FEEGATE_CLIENT_SECRET (or "
                    "run make demo, which writes var/demo.env)\n",
                    stderr);
        return 2;
    }
    const char *method = argv[2];
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        (void)fputs("feegate: METHOD must be GET or POST\n", stderr);
        return 2;
    }
    struct gw_buf body;
    gw_buf_init(&body, CLI_BODY_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    if (argc >= 5 && read_file(argv[4], &body, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
        gw_buf_release(&body);
        return 2;
    }
    int rc = send_request(method, argv[3], &body);
    gw_buf_release(&body);
    return rc;
}

/* feegate webhooks replay --client C (--event EVT | --from T --to T): for operators, over
 * FEEGATE_DSN (the same database function as POST /v1/webhooks/.../replay). */
int gw_cli_webhooks(int argc, char **argv)
{
    const char *client = NULL;
    const char *event = NULL;
    const char *from = NULL;
    const char *to = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--client") == 0) {
            client = argv[i + 1];
        } else if (strcmp(argv[i], "--event") == 0) {
            event = argv[i + 1];
        } else if (strcmp(argv[i], "--from") == 0) {
            from = argv[i + 1];
        } else if (strcmp(argv[i], "--to") == 0) {
            to = argv[i + 1];
        }
    }
    const char *dsn = getenv("FEEGATE_DSN");
    if (argc < 3 || strcmp(argv[2], "replay") != 0 || client == NULL || dsn == NULL ||
        (event == NULL) == (from == NULL || to == NULL)) {
        (void)fputs("usage: feegate webhooks replay --client ID (--event EVT | --from TIME --to "
                    "TIME)   (FEEGATE_DSN)\n",
                    stderr);
        return 2;
    }
    PGconn *conn = PQconnectdb(dsn);
    const char *params[4] = { client, event, from, to };
    PGresult *res = PQstatus(conn) == CONNECTION_OK
                        ? PQexecParams(conn,
                                       "SELECT feegate.webhook_replay($1, $2, $3::timestamptz, "
                                       "$4::timestamptz)",
                                       4, NULL, params, NULL, NULL, 0)
                        : NULL;
    int rc = 0;
    if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
        (void)printf("%s events scheduled for delivery\n", PQgetvalue(res, 0, 0));
    } else {
        const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
        (void)fprintf(stderr, "feegate: webhooks replay: %s\n",
                      detail != NULL ? detail : PQerrorMessage(conn));
        rc = 1;
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}
