/* Event loops, listeners, the request life cycle up to its handler (found in the route
 * table), loop 0's jobs (from the job table), and draining. Connections are counted, capped
 * and given their read deadline by conn_guard.c; requests HTTP/1.1 says to refuse are
 * refused here. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "auth.h"
#include "conn_guard.h"
#include "db.h"
#include "gw_assert.h"
#include "gw_log.h"
#include "gw_time.h"
#include "gw_tls.h"
#include "httpc.h"
#include "receipt_worker.h"
#include "request.h"
#include "routing.h"
#include "tls.h"

#include "banned.h"

#define DRAIN_POLL_MS  50
#define DRAIN_WAIT_MAX 200 /* polls: 10 s */

static void ctx_closed(struct evhttp_connection *evcon, void *arg)
{
    struct gw_ctx *ctx = arg;
    ctx->cancelled = true;
    gw_conn_guard_closed(evcon);
}

/* A token character of a header name (RFC 9110, 5.6.2). */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Why the request's headers must be refused, or NULL. evhttp 2.1 keeps a name with
 * whitespace before its colon ("Host :") as a different header, which is then ignored, and
 * reads the body by the first of several Content-Length values; RFC 9112 asks for 400 in
 * both cases (the second is how requests are smuggled past a proxy). evhttp has no hook
 * between the headers and the body that a server can reach in 2.1 (the request's header
 * callback needs the request before it is read), so the check runs here, once the request
 * is read, and the connection closes after the answer: what follows the body the first
 * length named is not read as another request. */
static const char *headers_refusal(struct evhttp_request *req)
{
    const char *length = NULL;
    const struct evkeyval *h;
    for (h = evhttp_request_get_input_headers(req)->tqh_first; h != NULL; h = h->next.tqe_next) {
        for (const char *k = h->key; *k != '\0'; k++) {
            if (!is_tchar((unsigned char)*k)) {
                return "a header name holds whitespace or a separator";
            }
        }
        if (h->key[0] == '\0') {
            return "a header has no name";
        }
        if (strcasecmp(h->key, "Content-Length") == 0) {
            if (length != NULL && strcmp(length, h->value) != 0) {
                return "two different Content-Length values";
            }
            length = h->value;
        }
    }
    return NULL;
}

static bool split_path(struct gw_ctx *ctx)
{
    char *p = ctx->path;
    ctx->n_seg = 0;
    while (*p == '/') {
        p++;
    }
    while (*p != '\0') {
        if (ctx->n_seg == (int)(sizeof(ctx->seg) / sizeof(ctx->seg[0]))) {
            return false;
        }
        ctx->seg[ctx->n_seg++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL) {
            break;
        }
        *slash = '\0';
        p = slash + 1;
    }
    return true;
}

static bool ctx_read_request(struct gw_ctx *ctx)
{
    const char *q = strchr(ctx->uri, '?');
    size_t path_len = q != NULL ? (size_t)(q - ctx->uri) : strlen(ctx->uri);
    ctx->path = gw_arena_strndup(&ctx->arena, ctx->uri, path_len);
    ctx->query = q != NULL ? gw_arena_strdup(&ctx->arena, q + 1) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
    ctx->body_len = evbuffer_get_length(in);
    ctx->body = gw_arena_alloc(&ctx->arena, ctx->body_len + 1);
    if (ctx->path == NULL || ctx->body == NULL) {
        return false;
    }
    if (ctx->body_len > 0) {
        GW_ASSERT(evbuffer_remove(in, ctx->body, ctx->body_len) == (int)ctx->body_len);
    }
    ctx->body[ctx->body_len] = '\0';
    return split_path(ctx);
}

/* The route of the request's first path segment ("" for the root), or NULL. */
static const struct gw_route_def *route_find(const struct gw_ctx *ctx, bool console)
{
    const struct gw_app *app = ctx->loop->srv->app;
    const struct gw_route_def *routes = console ? app->console_routes : app->routes;
    size_t n = console ? app->n_console_routes : app->n_routes;
    const char *s = ctx->n_seg == 0 ? "" : ctx->seg[0];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, routes[i].seg) == 0) {
            return &routes[i];
        }
    }
    return NULL;
}

static void dispatch_on(struct evhttp_request *req, struct gw_loop *loop, bool console)
{
    struct gw_arena a;
    gw_arena_init(&a, GW_ARENA_BYTES_DEFAULT, GW_ARENA_BYTES_MAX);
    struct gw_ctx *ctx = gw_arena_alloc(&a, sizeof(*ctx));
    GW_ASSERT(ctx != NULL);
    ctx->arena = a;
    ctx->loop = loop;
    ctx->req = req;
    ctx->evcon = evhttp_request_get_connection(req);
    ctx->start_us = gw_monotonic_us();
    ctx->method = (int)evhttp_request_get_command(req);
    ctx->uri = evhttp_request_get_uri(req);
    ctx->route = GW_ROUTE_OTHER;
    ctx->tls = gw_conn_is_tls(ctx->evcon);
    loop->inflight++;
    evhttp_connection_set_closecb(ctx->evcon, ctx_closed, ctx);
    gw_conn_guard_request_read(loop, req);
    const char *refusal = headers_refusal(req);
    if (refusal != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        gw_reply_error(ctx, 400, "bad_request", "%s", refusal);
        return;
    }
    if (!ctx_read_request(ctx)) {
        gw_reply_error(ctx, 414, "uri_too_long", "the request path has too many segments");
        return;
    }
    const struct gw_route_def *r = route_find(ctx, console);
    if (r != NULL) {
        ctx->route = r->route;
        r->handle(ctx);
        return;
    }
    if (ctx->loop->srv->app->fallback != NULL) {
        ctx->loop->srv->app->fallback(ctx);
        return;
    }
    gw_reply_error(ctx, 404, "not_found", "no such resource");
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    dispatch_on(req, arg, false);
}

static void dispatch_console(struct evhttp_request *req, void *arg)
{
    dispatch_on(req, arg, true);
}

static struct evconnlistener *listen_reuseport(struct gw_loop *loop, const char *host, int port,
                                               struct gw_errbuf *eb)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        (void)gw_fail(eb, GW_ERR_INVALID, "listen host must be an IPv4 address, not \"%s\"", host);
        return NULL;
    }
    unsigned flags =
        LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *l = evconnlistener_new_bind(
        loop->base, NULL, NULL, flags, GW_HTTP_BACKLOG, (struct sockaddr *)&sa, sizeof(sa));
    if (l == NULL) {
        (void)gw_fail(eb, GW_ERR_IO, "could not listen on %s:%d: %s", host, port,
                      GW_STRERROR(errno));
    }
    return l;
}

/* Where a listener listens, and which route table it serves. */
struct listen_at {
    const char *host;
    int port;
    bool console; /* the console's routes, not the portal's and the citizens' */
};

/* An evhttp of the loop, with the server's limits, dispatching to the route table, on a new
 * listener of at->host:at->port. */
static struct evhttp *http_new(struct gw_loop *loop, const struct listen_at *at,
                               struct evconnlistener **listener, struct gw_errbuf *eb)
{
    const char *host = at->host;
    int port = at->port;
    bool console = at->console;
    struct evhttp *http = evhttp_new(loop->base);
    GW_ASSERT(http != NULL);
    /* No libevent default is trusted: its header and body sizes are unlimited
     * (docs/architecture.md#principles, 9). */
    evhttp_set_max_headers_size(http, GW_HTTP_HEADERS_BYTES_MAX);
    evhttp_set_max_body_size(http, GW_HTTP_BODY_BYTES_MAX);
    evhttp_set_timeout(http, GW_HTTP_TIMEOUT_S);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
    evhttp_set_default_content_type(http, "application/json");
    evhttp_set_gencb(http, console ? dispatch_console : dispatch, loop);
    *listener = listen_reuseport(loop, host, port, eb);
    if (*listener == NULL) {
        return http; /* freed with the loop */
    }
    if (evhttp_bind_listener(http, *listener) == NULL) {
        evconnlistener_free(*listener);
        *listener = NULL;
        (void)gw_fail(eb, GW_ERR_IO, "could not attach the listener");
    }
    return http;
}

static void drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_loop *loop = arg;
    static _Thread_local int polls;
    bool idle = loop->inflight == 0 && gw_db_pool_pending(loop->db) == 0 &&
                gw_httpc_inflight(loop->httpc) == 0;
    if (idle || ++polls > DRAIN_WAIT_MAX) {
        if (loop->inflight > 0) {
            gw_log_warn("drain_timeout", "\"loop\":%d,\"inflight\":%zu", loop->index,
                        loop->inflight);
        }
        event_base_loopexit(loop->base, NULL);
        return;
    }
    struct timeval tv = { .tv_sec = 0, .tv_usec = (suseconds_t)DRAIN_POLL_MS * 1000 };
    GW_ASSERT(evtimer_add(loop->drain_timer, &tv) == 0);
}

/* Runs on the loop: stop accepting, finish what is in flight, then exit. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_loop *loop = arg;
    if (loop->listener != NULL) {
        evconnlistener_disable(loop->listener);
    }
    if (loop->listener_tls != NULL) {
        evconnlistener_disable(loop->listener_tls);
    }
    if (loop->listener_console != NULL) {
        evconnlistener_disable(loop->listener_console);
    }
    if (loop->index == 0) {
        const struct gw_app *app = loop->srv->app;
        for (size_t i = 0; i < app->n_jobs; i++) {
            app->jobs[i].stop(loop);
        }
    }
    drain_timer_cb(-1, 0, loop);
}

static enum gw_err loop_init(struct gw_loop *loop, struct gw_errbuf *eb)
{
    const struct gw_config *cfg = &loop->srv->cfg;
    loop->base = event_base_new();
    if (loop->base == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "could not create an event loop");
    }
    const struct gw_db_opts db_opts = { cfg->dsn, cfg->db_conns_per_loop,
                                        cfg->db_query_timeout_ms };
    enum gw_err err = gw_db_pool_new(loop->base, &db_opts, &loop->db, eb);
    if (err != GW_OK) {
        return err;
    }
    loop->httpc = gw_httpc_new(loop->base);
    const struct listen_at main_at = { cfg->listen_host, cfg->listen_port, false };
    loop->http = http_new(loop, &main_at, &loop->listener, eb);
    if (loop->listener == NULL) {
        return GW_ERR_IO;
    }
    if (cfg->tls_listen_host[0] != '\0') {
        const struct listen_at tls_at = { cfg->tls_listen_host, cfg->tls_listen_port, false };
        loop->http_tls = http_new(loop, &tls_at, &loop->listener_tls, eb);
        if (loop->listener_tls == NULL) {
            return GW_ERR_IO;
        }
    }
    if (cfg->console_host[0] != '\0') {
        const struct listen_at console_at = { cfg->console_host, cfg->console_port, true };
        loop->http_console = http_new(loop, &console_at, &loop->listener_console, eb);
        if (loop->listener_console == NULL) {
            return GW_ERR_IO;
        }
    }
    gw_conn_guard_attach(loop);
    loop->drain_ev = event_new(loop->base, -1, 0, drain_cb, loop);
    loop->drain_timer = evtimer_new(loop->base, drain_timer_cb, loop);
    GW_ASSERT(loop->drain_ev != NULL && loop->drain_timer != NULL);
    return GW_OK;
}

static void loop_release(struct gw_loop *loop)
{
    gw_conn_guard_detach(loop);
    if (loop->http != NULL) {
        evhttp_free(loop->http); /* also frees the bound listener */
    }
    if (loop->http_tls != NULL) {
        evhttp_free(loop->http_tls);
    }
    if (loop->http_console != NULL) {
        evhttp_free(loop->http_console);
    }
    /* In this order: outgoing calls still pending fail and record it through the pool,
     * whose callbacks still find the outbox and recovery state alive. */
    gw_httpc_free(loop->httpc);
    gw_db_pool_free(loop->db);
    const struct gw_app *app = loop->srv != NULL ? loop->srv->app : NULL;
    for (size_t i = 0; app != NULL && i < app->n_jobs; i++) {
        app->jobs[i].release(loop);
    }
    if (loop->drain_ev != NULL) {
        event_free(loop->drain_ev);
    }
    if (loop->drain_timer != NULL) {
        event_free(loop->drain_timer);
    }
    if (loop->base != NULL) {
        event_base_free(loop->base);
    }
    memset(loop, 0, sizeof(*loop));
}

static void *loop_main(void *arg)
{
    struct gw_loop *loop = arg;
    if (loop->index == 0) {
        const struct gw_app *app = loop->srv->app;
        for (size_t i = 0; i < app->n_jobs; i++) {
            app->jobs[i].start(loop);
        }
    }
    int r = event_base_dispatch(loop->base);
    GW_ASSERT(r >= 0);
    return NULL;
}

static void raise_fd_limit(void)
{
    /* Room for the connection cap and the descriptors kept out of it (conn_guard.c sizes
     * the cap from what this leaves). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = GW_HTTP_CONNECTIONS_MAX + GW_FDS_RESERVED;
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* SIGHUP, in the signal thread: each job that has a reload wakes on loop 0. */
static void jobs_reload(struct gw_server *srv)
{
    for (size_t i = 0; i < srv->app->n_jobs; i++) {
        if (srv->app->jobs[i].reload != NULL) {
            srv->app->jobs[i].reload(&srv->loops[0]);
        }
    }
}

/* SIGHUP, in the signal thread: the listener's certificate and key, from the files the
 * configuration names now; a bad pair keeps the previous one (tls.c logs why). */
static void tls_reload(struct gw_server *srv)
{
    if (srv->tls != NULL) {
        const struct gw_config *cfg = gw_live_config(srv);
        struct gw_errbuf eb = { .msg = "" };
        const struct gw_tls_files files = { cfg->tls_cert_file, cfg->tls_key_file };
        enum gw_err err = gw_listener_tls_reload(srv->tls, &files, &eb);
        (void)err; /* logged by tls.c; the previous certificate stays */
    }
}

static void wait_for_signal(struct gw_server *srv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            gw_log_info("reload_requested", NULL);
            gw_routing_reload(srv);
            tls_reload(srv);
            jobs_reload(srv);
            continue;
        }
        gw_log_info("draining", "\"signal\":%d", sig);
        atomic_store(&srv->draining, true);
        for (int i = 0; i < srv->n_loops; i++) {
            event_active(srv->loops[i].drain_ev, EV_TIMEOUT, 0);
        }
        return;
    }
}

static enum gw_err server_start(struct gw_server *srv, struct gw_errbuf *eb)
{
    for (int i = 0; i < srv->n_loops; i++) {
        srv->loops[i].index = i;
        srv->loops[i].srv = srv;
        enum gw_err err = loop_init(&srv->loops[i], eb);
        if (err != GW_OK) {
            return err;
        }
    }
    enum gw_err err = gw_auth_load_blocking(srv, eb);
    if (err != GW_OK) {
        return err;
    }
    for (int i = 0; i < srv->n_loops; i++) {
        if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0) {
            return gw_fail(eb, GW_ERR_INTERNAL, "could not start loop thread %d", i);
        }
    }
    return GW_OK;
}

/* The listeners the server runs, once they accept. */
static void log_listening(const struct gw_server *srv)
{
    const struct gw_config *cfg = &srv->cfg;
    bool both = cfg->tls_listen_host[0] != '\0';
    gw_log_info("listening",
                "\"listen\":\"%s:%d\",\"tls\":%s,\"tls_listen\":\"%s:%d\",\"loops\":%d,"
                "\"public_url\":\"%s\"",
                cfg->listen_host, cfg->listen_port, srv->tls != NULL && !both ? "true" : "false",
                both ? cfg->tls_listen_host : "", both ? cfg->tls_listen_port : 0, srv->n_loops,
                cfg->public_url);
}

/* What the listeners need before the loops: the TLS context (its files are read here, so a
 * bad certificate stops the start with the reason) and the connection guard. */
static enum gw_err listeners_prepare(struct gw_server *srv, struct gw_errbuf *eb)
{
    const struct gw_config *cfg = &srv->cfg;
    if (cfg->tls_cert_file[0] != '\0') {
        const struct gw_tls_files files = { cfg->tls_cert_file, cfg->tls_key_file };
        enum gw_err err = gw_listener_tls_new(&files, &srv->tls, eb);
        if (err != GW_OK) {
            return err;
        }
    }
    if (gw_conn_guard_init(cfg->connections_per_addr_max, eb) != GW_OK) {
        gw_listener_tls_free(srv->tls);
        srv->tls = NULL;
        return GW_ERR_IO;
    }
    return GW_OK;
}

enum gw_err gw_server_serve(const struct gw_config *cfg, const struct gw_app *app,
                            struct gw_errbuf *eb)
{
    GW_ASSERT(cfg->loops >= 1 && cfg->loops <= GW_HTTP_LOOPS_MAX);
    GW_ASSERT(evthread_use_pthreads() == 0);
    struct gw_server *srv = gw_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    srv->app = app;
    gw_routing_init(srv, cfg);
    srv->n_loops = cfg->loops;
    srv->started_ms = gw_now_ms();
    GW_ASSERT(pthread_mutex_init(&srv->clients_lock, NULL) == 0);
    raise_fd_limit();
    enum gw_err err = listeners_prepare(srv, eb);
    if (err != GW_OK) {
        gw_routing_free(srv);
        gw_xfree(srv);
        return err;
    }
    /* Signals are taken by sigwait in this thread only; loop threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    GW_ASSERT(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
    GW_ASSERT(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    err = server_start(srv, eb);
    int started = 0;
    for (int i = 0; i < srv->n_loops; i++) {
        started += srv->loops[i].thread != 0;
    }
    if (err != GW_OK) {
        for (int i = 0; i < started; i++) {
            event_active(srv->loops[i].drain_ev, EV_TIMEOUT, 0);
        }
    } else {
        /* Receipt documents: threads beside the loops, started once the loops run. */
        err = gw_receipt_worker_start(cfg, &srv->receipts, eb);
        if (err != GW_OK) {
            for (int i = 0; i < started; i++) {
                event_active(srv->loops[i].drain_ev, EV_TIMEOUT, 0);
            }
        }
    }
    if (err == GW_OK) {
        log_listening(srv);
        wait_for_signal(srv);
    }
    for (int i = 0; i < started; i++) {
        GW_ASSERT(pthread_join(srv->loops[i].thread, NULL) == 0);
    }
    /* After the drain: the renderer may still be finishing a loop's task until then. */
    gw_receipt_worker_stop(srv->receipts);
    srv->receipts = NULL;
    for (int i = 0; i < srv->n_loops; i++) {
        loop_release(&srv->loops[i]);
    }
    gw_xfree(atomic_load(&srv->clients));
    gw_xfree(srv->clients_old);
    gw_routing_free(srv);
    gw_conn_guard_free();
    gw_listener_tls_free(srv->tls);
    gw_xfree(srv);
    if (err == GW_OK) {
        gw_log_info("stopped", NULL);
    }
    return err;
}
