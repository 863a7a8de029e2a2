/* The HTTP server's guard against abuse (conn_guard.c): connections capped per client address
 * and in total, a request read deadline that does not restart on each byte, accept errors
 * paused on and logged once per interval. */
#ifndef GW_GATEWAY_CONN_GUARD_H
#define GW_GATEWAY_CONN_GUARD_H

#include <stdint.h>

#include "gw_err.h"

struct gw_loop;
struct evhttp_connection;
struct evhttp_request;

/* Counters for /metrics, since the process started. */
struct gw_conn_stats {
    uint64_t open;          /* connections held now */
    uint64_t open_max;      /* the total cap */
    uint64_t refused_addr;  /* over GW_HTTP_CONNECTIONS_PER_ADDR_MAX */
    uint64_t refused_total; /* over the total cap */
    uint64_t deadline_cut;  /* closed at GW_HTTP_REQUEST_READ_S */
    uint64_t accept_errors; /* accept() failures (EMFILE and the like) */
};

/* Once per process, before the loops: sizes the caps from the descriptor limit. */
enum gw_err gw_conn_guard_init(int per_addr_max, struct gw_errbuf *eb) GW_MUST_CHECK;
void gw_conn_guard_free(void);
/* On a loop whose evhttp and listener exist: connection hook, accept error pause, sweep. */
void gw_conn_guard_attach(struct gw_loop *loop);
/* Frees what attach made (before the loop's event_base). */
void gw_conn_guard_detach(struct gw_loop *loop);
/* The request has been read whole: its connection's read deadline stops; the next request
 * on the connection starts it again when this one has been answered. */
void gw_conn_guard_request_read(struct gw_loop *loop, struct evhttp_request *req);
/* evcon is going away (its close callback). */
void gw_conn_guard_closed(struct evhttp_connection *evcon);
struct gw_conn_stats gw_conn_guard_stats(void);

#endif
