/* The listener's TLS (tls.c): the server context, swapped whole on SIGHUP for the
 * connections accepted after it, and the TLS bufferevent of each accepted connection. */
#ifndef GW_GATEWAY_TLS_H
#define GW_GATEWAY_TLS_H

#include <stdbool.h>

#include "gw_err.h"

struct bufferevent;
struct event_base;
struct evhttp_connection;
struct gw_listener_tls;
struct gw_tls_files;

/* Reads the certificate and key files (PEM) into a new server context. Blocking: at start. */
enum gw_err gw_listener_tls_new(const struct gw_tls_files *files, struct gw_listener_tls **out,
                                struct gw_errbuf *eb) GW_MUST_CHECK;
/* Reads the files again into a new context and, only if it is whole (certificate, key and
 * their match), makes it the one new connections get; connections already open keep
 * theirs. On an error the old context stays, and the error is logged. Blocking: in the
 * signal thread, never on a loop. */
enum gw_err gw_listener_tls_reload(struct gw_listener_tls *t, const struct gw_tls_files *files,
                                   struct gw_errbuf *eb) GW_MUST_CHECK;
/* NULL is a no-op. After every loop has stopped. */
void gw_listener_tls_free(struct gw_listener_tls *t);
/* A bufferevent that will accept TLS on the socket evhttp gives it (evhttp_set_bevcb's
 * contract), from the current context; NULL when out of memory. On a loop. */
struct bufferevent *gw_listener_tls_bev_new(struct gw_listener_tls *t, struct event_base *base);
/* True when the connection speaks TLS. */
bool gw_conn_is_tls(struct evhttp_connection *evcon);

#endif
