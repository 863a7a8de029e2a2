/* A blocking HTTP/1.1 client for loopback (one connection per request, Connection: close)
 * and the portal's request signing. Every wait is bounded by the request's deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gw_assert.h"
#include "gw_limits.h"
#include "gw_tls.h"
#include "th.h"
#include "th_int.h"
#include "th_openapi.h"

#include "banned.h"

#define TH_RESP_BYTES_MAX  ((size_t)16 * 1024 * 1024)
#define TH_REQ_BYTES_MAX   ((size_t)16 * 1024 * 1024)
#define TH_CHUNKS_MAX      100000
#define TH_PORTAL_HDRS_MAX 16
/* Signatures th_portal_send made itself, remembered so as never to send one twice. */
#define TH_SENT_SIGS_MAX   4096

struct th_url {
    bool tls; /* https:// */
    char host[64];
    struct sockaddr_in sa;
    char host_port[80]; /* for the Host header */
    const char *target; /* path and query, into the url */
};

static enum gw_err th_url_parse(const char *url, struct th_url *u)
{
    memset(u, 0, sizeof(*u));
    u->tls = strncmp(url, "https://", 8) == 0;
    if (strncmp(url, "http://", 7) != 0 && !u->tls) {
        return GW_ERR_INVALID;
    }
    const char *host = url + (u->tls ? 8 : 7);
    const char *colon = strchr(host, ':');
    const char *slash = strchr(host, '/');
    if (colon == NULL || (slash != NULL && slash < colon) || (size_t)(colon - host) >= 64) {
        return GW_ERR_INVALID;
    }
    char name[64];
    (void)snprintf(name, sizeof(name), "%.*s", (int)(colon - host), host);
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (port <= 0 || port > 65535 || (*end != '/' && *end != '\0')) {
        return GW_ERR_INVALID;
    }
    u->sa.sin_family = AF_INET;
    u->sa.sin_port = htons((uint16_t)port);
    if (strcmp(name, "localhost") == 0) {
        u->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, name, &u->sa.sin_addr) != 1) {
        return GW_ERR_INVALID;
    }
    (void)snprintf(u->host_port, sizeof(u->host_port), "%s:%ld", name, port);
    (void)snprintf(u->host, sizeof(u->host), "%s", name);
    u->target = *end == '/' ? end : "/";
    return GW_OK;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int th_poll(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - th_now_ms();
        if (left <= 0) {
            return 0;
        }
        struct pollfd p = { .fd = fd, .events = events };
        int rc = poll(&p, 1, (int)left);
        if (rc >= 0 || errno != EINTR) {
            return rc > 0 ? 1 : rc;
        }
    }
}

static int th_connect(const struct th_url *u, int64_t deadline_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&u->sa, sizeof(u->sa)) == 0) {
        return fd;
    }
    int err = errno;
    socklen_t len = sizeof(err);
    if (err == EINPROGRESS) {
        err = ETIMEDOUT;
        if (th_poll(fd, POLLOUT, deadline_ms) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
    }
    if (err != 0) {
        (void)close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static enum gw_err th_send_all(int fd, const char *p, size_t n, int64_t deadline_ms)
{
    while (n > 0) {
        if (th_poll(fd, POLLOUT, deadline_ms) != 1) {
            return GW_ERR_TIMEOUT;
        }
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return GW_ERR_IO;
        }
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
    }
    return GW_OK;
}

static enum gw_err th_recv_all(int fd, struct gw_buf *b, int64_t deadline_ms)
{
    char chunk[16384];
    for (;;) {
        if (th_poll(fd, POLLIN, deadline_ms) != 1) {
            return GW_ERR_TIMEOUT;
        }
        ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
        if (r == 0) {
            return GW_OK;
        }
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
            return GW_ERR_IO;
        }
        if (r > 0 && gw_buf_add(b, chunk, (size_t)r) != GW_OK) {
            return GW_ERR_LIMIT;
        }
    }
}

/* Decodes a chunked body in place; *out_len is the decoded length. */
static enum gw_err th_dechunk(char *p, size_t n, size_t *out_len)
{
    size_t in = 0;
    size_t out = 0;
    for (int i = 0; i < TH_CHUNKS_MAX; i++) {
        const char *eol = memmem(p + in, n - in, "\r\n", 2);
        if (eol == NULL) {
            return GW_ERR_PROTOCOL;
        }
        char *end = NULL;
        unsigned long size = strtoul(p + in, &end, 16);
        if (end == p + in) {
            return GW_ERR_PROTOCOL;
        }
        in = (size_t)(eol - p) + 2;
        if (size == 0) {
            *out_len = out;
            return GW_OK;
        }
        if (size > n - in || n - in - size < 2 || memcmp(p + in + size, "\r\n", 2) != 0) {
            return GW_ERR_PROTOCOL;
        }
        memmove(p + out, p + in, size);
        out += size;
        in += size + 2;
    }
    return GW_ERR_PROTOCOL;
}

/* Splits the header lines (NUL-terminated in place) into resp->headers. */
static enum gw_err th_parse_headers(struct th_resp *resp, char *lines)
{
    char *line = lines;
    while (line != NULL && *line != '\0') {
        char *next = strstr(line, "\r\n");
        if (next != NULL) {
            *next = '\0';
            next += 2;
        }
        char *colon = strchr(line, ':');
        if (colon == NULL || resp->n_headers >= TH_HTTP_HEADERS_MAX) {
            return GW_ERR_PROTOCOL;
        }
        *colon = '\0';
        char *value = colon + 1 + strspn(colon + 1, " \t");
        size_t vlen = strlen(value);
        while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) {
            value[--vlen] = '\0';
        }
        resp->headers[resp->n_headers++] = (struct th_header){ .name = line, .value = value };
        line = next;
    }
    return GW_OK;
}

/* Parses the raw response in place: status, headers, body. */
static enum gw_err th_parse(struct th_resp *resp, bool head)
{
    char *data = resp->raw.data;
    size_t len = resp->raw.len;
    char *end = data != NULL ? memmem(data, len, "\r\n\r\n", 4) : NULL;
    if (end == NULL || len < 12 || strncmp(data, "HTTP/1.", 7) != 0) {
        return GW_ERR_PROTOCOL;
    }
    end[2] = '\0';
    char *body = end + 4;
    size_t avail = len - (size_t)(body - data);
    resp->status = (int)strtol(data + 9, NULL, 10);
    char *first = strstr(data, "\r\n");
    enum gw_err err = th_parse_headers(resp, first + 2);
    if (err != GW_OK) {
        return err;
    }
    const char *te = th_resp_header(resp, "Transfer-Encoding");
    const char *cl = th_resp_header(resp, "Content-Length");
    resp->body_len = avail;
    if (head) {
        resp->body_len = 0;
    } else if (te != NULL && strcasecmp(te, "chunked") == 0) {
        err = th_dechunk(body, avail, &resp->body_len);
    } else if (cl != NULL) {
        unsigned long long want = strtoull(cl, NULL, 10);
        if (want > avail) {
            return GW_ERR_PROTOCOL; /* truncated */
        }
        resp->body_len = (size_t)want;
    }
    body[resp->body_len] = '\0';
    resp->body = body;
    resp->location = th_resp_header(resp, "Location");
    resp->content_type = th_resp_header(resp, "Content-Type");
    return err;
}

static enum gw_err th_build_request(const struct th_http_req *req, const struct th_url *u,
                                    struct gw_buf *out)
{
    enum gw_err err = gw_buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n",
                                    req->method, u->target, u->host_port);
    bool has_body =
        req->body != NULL || (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0);
    if (err == GW_OK && has_body) {
        err = gw_buf_printf(out, "Content-Length: %zu\r\n", req->body_len);
    }
    for (size_t i = 0; err == GW_OK && req->headers != NULL && req->headers[i] != NULL; i++) {
        err = gw_buf_printf(out, "%s\r\n", req->headers[i]);
    }
    if (err == GW_OK) {
        err = gw_buf_adds(out, "\r\n");
    }
    if (err == GW_OK && req->body != NULL) {
        err = gw_buf_add(out, req->body, req->body_len);
    }
    return err;
}

static void th_resp_init(struct th_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->body = "";
    gw_buf_init(&resp->raw, TH_RESP_BYTES_MAX);
}

/* ---- https ---- */

static char th_tls_ca[512];   /* th_tls_use_ca */
static char th_tls_name[256]; /* th_tls_expect_name */

void th_tls_use_ca(const char *ca_file)
{
    (void)snprintf(th_tls_ca, sizeof(th_tls_ca), "%s", ca_file != NULL ? ca_file : "");
}

void th_tls_expect_name(const char *name)
{
    (void)snprintf(th_tls_name, sizeof(th_tls_name), "%s", name != NULL ? name : "");
}

/* Waits on ssl's socket for what its last call (which returned rc) asked for; false on
 * another error or at the deadline. */
static bool th_ssl_wait(int rc, SSL *ssl, int64_t deadline_ms)
{
    int e = SSL_get_error(ssl, rc);
    short ev = (short)(e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0);
    return ev != 0 && th_poll(SSL_get_fd(ssl), ev, deadline_ms) == 1;
}

static enum gw_err th_tls_io(SSL *ssl, const struct gw_buf *out, struct gw_buf *in,
                             int64_t deadline_ms)
{
    int rc;
    while ((rc = SSL_connect(ssl)) != 1) {
        if (!th_ssl_wait(rc, ssl, deadline_ms)) {
            return GW_ERR_UNAVAILABLE;
        }
    }
    for (size_t off = 0; off < out->len;) {
        size_t n = 0;
        rc = SSL_write_ex(ssl, out->data + off, out->len - off, &n);
        if (rc == 1) {
            off += n;
        } else if (!th_ssl_wait(rc, ssl, deadline_ms)) {
            return GW_ERR_IO;
        }
    }
    char chunk[16384];
    for (;;) {
        size_t n = 0;
        rc = SSL_read_ex(ssl, chunk, sizeof(chunk), &n);
        if (rc == 1) {
            if (gw_buf_add(in, chunk, n) != GW_OK) {
                return GW_ERR_LIMIT;
            }
        } else if (SSL_get_error(ssl, rc) == SSL_ERROR_ZERO_RETURN) {
            return GW_OK;
        } else if (!th_ssl_wait(rc, ssl, deadline_ms)) {
            return GW_ERR_IO;
        }
    }
}

/* The request over TLS on fd, the peer verified against th_tls_ca and the URL's host. */
static enum gw_err th_tls_exchange(int fd, const struct th_url *u, const struct gw_buf *out,
                                   struct gw_buf *in, int64_t deadline_ms)
{
    SSL_CTX *ctx = NULL;
    struct gw_errbuf eb = { .msg = "" };
    if (th_tls_ca[0] == '\0' || gw_tls_client_ctx_new(th_tls_ca, &ctx, &eb) != GW_OK) {
        (void)fprintf(stderr, "th: https needs th_tls_use_ca first (%s)\n", eb.msg);
        return GW_ERR_INVALID;
    }
    /* OpenSSL writes with write(): a peer gone must be an error, not the end of the test. */
    (void)signal(SIGPIPE, SIG_IGN);
    /* A server may close without close_notify after Connection: close. */
    (void)SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL *ssl = SSL_new(ctx);
    enum gw_err err = GW_ERR_NOMEM;
    if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 &&
        gw_tls_client_expect_host(ssl, th_tls_name[0] != '\0' ? th_tls_name : u->host)) {
        err = th_tls_io(ssl, out, in, deadline_ms);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

/* Connects, sends the request and reads the whole response into resp->raw. */
static enum gw_err th_exchange(const struct th_http_req *req, const struct th_url *u,
                               struct th_resp *resp, int64_t deadline_ms)
{
    struct gw_buf out;
    gw_buf_init(&out, TH_REQ_BYTES_MAX);
    enum gw_err err = th_build_request(req, u, &out);
    if (err != GW_OK) {
        goto out_buf;
    }
    int fd = th_connect(u, deadline_ms);
    if (fd < 0) {
        err = GW_ERR_UNAVAILABLE;
        goto out_buf;
    }
    if (u->tls) {
        err = th_tls_exchange(fd, u, &out, &resp->raw, deadline_ms);
    } else {
        err = th_send_all(fd, out.data, out.len, deadline_ms);
        if (err == GW_OK) {
            err = th_recv_all(fd, &resp->raw, deadline_ms);
        }
    }
    (void)close(fd);
out_buf:
    gw_buf_release(&out);
    return err;
}

/* The request's Content-Type header (the first one), or NULL. */
static const char *th_req_content_type(const struct th_http_req *req, char *out, size_t cap)
{
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        const char *h = req->headers[i];
        if (strncasecmp(h, "Content-Type:", 13) == 0) {
            (void)snprintf(out, cap, "%s", h + 13 + strspn(h + 13, " \t"));
            return out;
        }
    }
    return NULL;
}

static const char *const th_no_headers[] = { NULL };

/* Every exchange with the API under /v1/ is checked against docs/openapi.json
 * (th_openapi.h; the other paths are skipped there). A violation ends the test program:
 * the document and the gateway disagree, whatever the test itself asserts. */
static void th_contract_check(const struct th_http_req *req, const char *target,
                              const struct th_resp *resp)
{
    if (!th_openapi_applies(target)) {
        return;
    }
    char ct[256];
    const struct th_api_exchange ex = {
        .method = req->method,
        .target = target,
        .req_content_type = th_req_content_type(req, ct, sizeof(ct)),
        .req_body = req->body,
        .req_body_len = req->body_len,
        .req_headers = req->headers != NULL ? req->headers : th_no_headers,
        .status = resp->status,
        .resp_content_type = resp->content_type,
        .resp_body = resp->body,
        .resp_body_len = resp->body_len,
    };
    char why[TH_OPENAPI_WHY_BYTES];
    if (!th_openapi_check(th_openapi_doc(), &ex, why, sizeof(why))) {
        (void)fprintf(stderr, "th: API contract violated (docs/openapi.json): %s\n", why);
        exit(EXIT_FAILURE); /* NOLINT(concurrency-mt-unsafe): ending the program is the point */
    }
}

enum gw_err th_http_send(const struct th_http_req *req, struct th_resp *resp)
{
    th_resp_init(resp);
    struct th_url u;
    if (th_url_parse(req->url, &u) != GW_OK) {
        (void)fprintf(stderr, "th: bad url %s (want http[s]://IPV4:PORT/PATH)\n", req->url);
        return GW_ERR_INVALID;
    }
    int64_t deadline_ms = th_now_ms() + req->timeout_ms;
    enum gw_err err = th_exchange(req, &u, resp, deadline_ms);
    if (err == GW_ERR_UNAVAILABLE && !req->quiet) {
        (void)fprintf(stderr, "th: could not connect to %s: %s\n", req->url, TH_STRERROR(errno));
    } else if (err != GW_OK && !req->quiet) {
        (void)fprintf(stderr, "th: %s %s: %s\n", req->method, req->url, gw_err_name(err));
    }
    if (err == GW_OK) {
        err = th_parse(resp, strcmp(req->method, "HEAD") == 0);
        if (err != GW_OK && !req->quiet) {
            (void)fprintf(stderr, "th: %s %s: malformed response\n", req->method, req->url);
        }
    }
    if (err == GW_OK) {
        th_contract_check(req, u.target, resp);
    }
    return err;
}

/* Six parameters (one over the style's limit) because it mirrors an HTTP request line;
 * th_http_send takes a struct. */
/* NOLINTNEXTLINE(readability-function-size) */
enum gw_err th_http(const char *method, const char *url, const char *const headers[],
                    const char *body, size_t body_len, struct th_resp *resp)
{
    const struct th_http_req req = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .timeout_ms = TH_HTTP_TIMEOUT_MS,
    };
    return th_http_send(&req, resp);
}

const char *th_resp_header(const struct th_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) {
            return resp->headers[i].value;
        }
    }
    return NULL;
}

void th_resp_release(struct th_resp *resp)
{
    gw_buf_release(&resp->raw);
    resp->body = "";
    resp->body_len = 0;
    resp->n_headers = 0;
    resp->location = NULL;
    resp->content_type = NULL;
}

/* ---- portal ---- */

static struct {
    char base_url[256];
    char client_id[GW_CLIENT_ID_BYTES_MAX + 1];
    char secret[GW_CLIENT_SECRET_BYTES_MAX + 1];
} th_portal_current;

void th_portal_use(const char *base_url, const char *client_id, const char *secret)
{
    (void)snprintf(th_portal_current.base_url, sizeof(th_portal_current.base_url), "%s", base_url);
    (void)snprintf(th_portal_current.client_id, sizeof(th_portal_current.client_id), "%s",
                   client_id);
    (void)snprintf(th_portal_current.secret, sizeof(th_portal_current.secret), "%s", secret);
}

/* Deliberately its own copy of the v1 string to sign, not common/gw_sign.c: the tests check
 * the gateway's signing against this independent one, so a shared bug cannot pass both. */
void th_portal_signature(const char *method, const char *path_and_query, const char *timestamp,
                         const char *body, char out[TH_SIGNATURE_BYTES])
{
    const char *b = body != NULL ? body : "";
    char body_hex[GW_SHA256_HEX_BYTES];
    gw_sha256_hex(b, strlen(b), body_hex);
    struct gw_buf msg;
    gw_buf_init(&msg, TH_REQ_BYTES_MAX);
    enum gw_err err =
        gw_buf_printf(&msg, "%s\n%s\n%s\n%s", method, path_and_query, timestamp, body_hex);
    GW_ASSERT(err == GW_OK);
    char mac[GW_SHA256_HEX_BYTES];
    const char *secret = th_portal_current.secret;
    gw_hmac_sha256_hex(secret, strlen(secret), msg.data, msg.len, mac);
    gw_buf_release(&msg);
    (void)snprintf(out, TH_SIGNATURE_BYTES, "v1=%s", mac);
}

/* A portal signs every request anew, and the gateway accepts a signed request once
 * (docs/api.md, "Replayed requests"); two requests with the same method, path and body in the
 * same second would have the same signature. So when the test leaves the timestamp to the
 * harness, a signature this program already sent is made again one second earlier (as a
 * portal's retry a second later would be), and a test that means to replay a request sets
 * timestamp or signature itself. */
static struct {
    pthread_mutex_t lock;
    size_t next;
    char sig[TH_SENT_SIGS_MAX][TH_SIGNATURE_BYTES];
} th_sent = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool th_sent_before(const char *sig)
{
    for (size_t i = 0; i < TH_SENT_SIGS_MAX; i++) {
        if (strcmp(th_sent.sig[i], sig) == 0) {
            return true;
        }
    }
    return false;
}

struct th_signed {
    char ts[32];
    char sig[TH_SIGNATURE_BYTES];
};

/* The timestamp and signature of req. */
static void th_portal_sign(const struct th_portal_req *req, struct th_signed *out)
{
    long long t = req->timestamp != 0 ? req->timestamp : (long long)time(NULL);
    (void)snprintf(out->ts, sizeof(out->ts), "%lld", t);
    th_portal_signature(req->method, req->path, out->ts, req->body, out->sig);
    if (req->timestamp != 0 || req->signature != NULL) {
        return;
    }
    GW_ASSERT(pthread_mutex_lock(&th_sent.lock) == 0);
    for (int back = 1; th_sent_before(out->sig) && back < GW_AUTH_CLOCK_SKEW_S / 2; back++) {
        (void)snprintf(out->ts, sizeof(out->ts), "%lld", t - back);
        th_portal_signature(req->method, req->path, out->ts, req->body, out->sig);
    }
    (void)snprintf(th_sent.sig[th_sent.next], TH_SIGNATURE_BYTES, "%s", out->sig);
    th_sent.next = (th_sent.next + 1) % TH_SENT_SIGS_MAX;
    GW_ASSERT(pthread_mutex_unlock(&th_sent.lock) == 0);
}

/* A new Idempotency-Key for an operation that needs one (create, cancel, refund) when the
 * test gave none; NULL for every other request. */
static const char *th_auto_idem_key(const struct th_portal_req *req, char out[64])
{
    static atomic_uint seq;
    if (strcmp(req->method, "POST") != 0 || strncmp(req->path, "/v1/payments", 12) != 0) {
        return NULL;
    }
    (void)snprintf(out, 64, "th-%d-%lld-%u", (int)getpid(), (long long)time(NULL),
                   atomic_fetch_add(&seq, 1));
    return out;
}

/* The headers of a portal request into store (one line each) and hdrs (NULL-terminated). */
static void th_portal_headers(const struct th_portal_req *req, char store[][512],
                              const char *hdrs[])
{
    struct th_signed signed_as;
    th_portal_sign(req, &signed_as);
    char auto_key[64];
    const char *idem_key = req->idem_key != NULL ? req->idem_key : th_auto_idem_key(req, auto_key);
    const char *client = req->client_id != NULL ? req->client_id : th_portal_current.client_id;
    const char *signature = req->signature != NULL ? req->signature : signed_as.sig;
    size_t n = 0;
    if (client[0] != '\0') {
        (void)snprintf(store[n++], 512, "X-Feegate-Client: %s", client);
    }
    (void)snprintf(store[n++], 512, "X-Feegate-Timestamp: %s", signed_as.ts);
    if (signature[0] != '\0') {
        (void)snprintf(store[n++], 512, "X-Feegate-Signature: %s", signature);
    }
    if (req->body != NULL) {
        (void)snprintf(store[n++], 512, "Content-Type: application/json");
    }
    if (idem_key != NULL && idem_key[0] != '\0') {
        (void)snprintf(store[n++], 512, "Idempotency-Key: %s", idem_key);
    }
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        hdrs[h++] = store[i];
    }
    for (size_t i = 0; req->extra_headers != NULL && req->extra_headers[i] != NULL; i++) {
        GW_ASSERT(h < TH_PORTAL_HDRS_MAX);
        hdrs[h++] = req->extra_headers[i];
    }
    hdrs[h] = NULL;
}

enum gw_err th_portal_send(const struct th_portal_req *req, struct th_resp *resp)
{
    GW_ASSERT(th_portal_current.base_url[0] != '\0'); /* th_gateway_start or th_portal_use */
    char store[5][512];
    const char *hdrs[TH_PORTAL_HDRS_MAX + 1];
    th_portal_headers(req, store, hdrs);
    char url[1024];
    int n = snprintf(url, sizeof(url), "%s%s", th_portal_current.base_url, req->path);
    GW_ASSERT(n > 0 && (size_t)n < sizeof(url));
    const struct th_http_req hreq = {
        .method = req->method,
        .url = url,
        .headers = hdrs,
        .body = req->body,
        .body_len = req->body != NULL ? strlen(req->body) : 0,
        .timeout_ms = TH_HTTP_TIMEOUT_MS,
    };
    return th_http_send(&hreq, resp);
}

enum gw_err th_portal(const char *method, const char *path, const char *body, const char *idem_key,
                      struct th_resp *resp)
{
    const struct th_portal_req req = {
        .method = method,
        .path = path,
        .body = body,
        .idem_key = idem_key,
    };
    return th_portal_send(&req, resp);
}
