/* The daemon's core: one event loop per core, each a thread with its own event_base, its own
 * SO_REUSEPORT listener, its own evhttp and its own database pool. A request is a struct
 * gw_ctx (request.h). The server knows its routes and jobs only through the tables it is
 * given (app.c builds them). */
#ifndef GW_GATEWAY_SERVER_H
#define GW_GATEWAY_SERVER_H

#include <stddef.h>

#include "config.h"
#include "gw_err.h"
#include "request.h"

/* A handler: from here the request is its own, ended by exactly one gw_reply*. */
typedef void gw_handler_fn(struct gw_ctx *ctx);

/* Requests whose first path segment is seg ("" for the root) go to handle, counted under
 * route in /metrics. Any other request goes to the fallback (struct gw_app), else 404. */
struct gw_route_def {
    const char *seg;
    enum gw_route route;
    gw_handler_fn *handle;
};

/* A background job of loop 0: start runs on the loop before it serves, stop on the loop
 * when the drain begins, release after every loop has stopped and its HTTP client and
 * database pool are gone (in-flight work's callbacks have run by then). reload (or NULL)
 * runs on SIGHUP in the signal thread, after the configuration's reload: it may only wake
 * the loop (event_active), never touch the loop's state. */
struct gw_job_def {
    void (*start)(struct gw_loop *loop);
    void (*stop)(struct gw_loop *loop);
    void (*release)(struct gw_loop *loop);
    void (*reload)(struct gw_loop *loop);
};

/* What the server runs: jobs start and stop in table order. */
struct gw_app {
    const struct gw_route_def *routes;
    size_t n_routes;
    /* The console listener's routes ([console] listen), looked up the same way. */
    const struct gw_route_def *console_routes;
    size_t n_console_routes;
    const struct gw_job_def *jobs;
    size_t n_jobs;
    /* The handler of a path no route names (the people's 404 page), counted under
     * GW_ROUTE_OTHER; NULL: the API's JSON 404. */
    gw_handler_fn *fallback;
};

/* Starts the loops and blocks until SIGTERM/SIGINT has drained them. */
enum gw_err gw_server_serve(const struct gw_config *cfg, const struct gw_app *app,
                            struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
