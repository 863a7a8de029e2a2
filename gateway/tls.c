/* The listener's TLS on libevent's bufferevent_openssl. evhttp makes each accepted
 * connection's bufferevent through the hook of conn_guard.c, which asks here for one that
 * accepts TLS; the handshake runs on the loop, within the connection's read deadline and
 * under the caps of conn_guard.c like any request's bytes. The context (common/gw_tls.c: TLS
 * 1.2 and 1.3, Mozilla's intermediate suites, ALPN http/1.1) is shared by the loops; a
 * reload builds a new one and swaps the pointer under a lock that is only held to take a
 * reference, so a new connection gets either the old context or the new one, whole. Each SSL
 * holds a reference to its context, so the old one lives until its last connection ends. */
#include "tls.h"

#include <pthread.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_log.h"
#include "gw_tls.h"

#include "banned.h"

struct gw_listener_tls {
    pthread_mutex_t lock;
    SSL_CTX *ctx;
};

enum gw_err gw_listener_tls_new(const struct gw_tls_files *files, struct gw_listener_tls **out,
                                struct gw_errbuf *eb)
{
    *out = NULL;
    SSL_CTX *ctx = NULL;
    enum gw_err err = gw_tls_server_ctx_new(files, &ctx, eb);
    if (err != GW_OK) {
        return err;
    }
    struct gw_listener_tls *t = gw_xcalloc(1, sizeof(*t));
    GW_ASSERT(pthread_mutex_init(&t->lock, NULL) == 0);
    t->ctx = ctx;
    *out = t;
    return GW_OK;
}

enum gw_err gw_listener_tls_reload(struct gw_listener_tls *t, const struct gw_tls_files *files,
                                   struct gw_errbuf *eb)
{
    SSL_CTX *ctx = NULL;
    enum gw_err err = files->cert_file[0] == '\0' || files->key_file[0] == '\0'
                          ? gw_fail(eb, GW_ERR_INVALID,
                                    "tls_cert_file and tls_key_file are gone from [server]: "
                                    "TLS is turned off only by a restart")
                          : gw_tls_server_ctx_new(files, &ctx, eb);
    if (err != GW_OK) {
        char why[400];
        gw_log_error("tls_reload_failed", "\"reason\":\"%s\",\"kept\":\"the previous certificate\"",
                     gw_log_esc(why, sizeof(why), eb->msg));
        return err;
    }
    GW_ASSERT(pthread_mutex_lock(&t->lock) == 0);
    SSL_CTX *old = t->ctx;
    t->ctx = ctx;
    GW_ASSERT(pthread_mutex_unlock(&t->lock) == 0);
    SSL_CTX_free(old); /* the connections that use it hold their own references */
    char cert[400];
    gw_log_info("tls_reloaded", "\"cert\":\"%s\"",
                gw_log_esc(cert, sizeof(cert), files->cert_file));
    return GW_OK;
}

void gw_listener_tls_free(struct gw_listener_tls *t)
{
    if (t == NULL) {
        return;
    }
    SSL_CTX_free(t->ctx);
    GW_ASSERT(pthread_mutex_destroy(&t->lock) == 0);
    gw_xfree(t);
}

struct bufferevent *gw_listener_tls_bev_new(struct gw_listener_tls *t, struct event_base *base)
{
    GW_ASSERT(pthread_mutex_lock(&t->lock) == 0);
    SSL *ssl = SSL_new(t->ctx);
    GW_ASSERT(pthread_mutex_unlock(&t->lock) == 0);
    if (ssl == NULL) {
        return NULL;
    }
    /* The socket comes later (evhttp sets it); the bufferevent frees ssl with itself. */
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* A client that closes without close_notify (most browsers, after their last answer)
     * ends its connection; it is not an error worth a log line. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

bool gw_conn_is_tls(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    return bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL;
}
