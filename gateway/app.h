/* The gateway as this program runs it: the server with its routes and background jobs. */
#ifndef GW_GATEWAY_APP_H
#define GW_GATEWAY_APP_H

#include "config.h"
#include "gw_err.h"

/* Starts the loops and blocks until SIGTERM/SIGINT has drained them. */
enum gw_err gw_server_run(const struct gw_config *cfg, struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
