/* The start-up safety checks of `feegate serve` and `feegate demo` (startup.c,
 * docs/operations.md "Start-up checks"). */
#ifndef GW_GATEWAY_STARTUP_H
#define GW_GATEWAY_STARTUP_H

#include "config.h"
#include "gw_err.h"

/* Checks what would make the gateway unsafe for money: no receipt signer; a database with
 * fsync, synchronous_commit or full_page_writes off; a portal client whose secret is shorter
 * than GW_CLIENT_SECRET_BYTES_MIN. Each problem is printed on stderr on a line of its own,
 * saying what to change. Outside development mode any problem is an error (the gateway must
 * not start); in development mode each is logged as a warning and the check passes.
 * Blocking: one connection to cfg->dsn, for start-up only. */
enum gw_err gw_startup_check_blocking(const struct gw_config *cfg,
                                      struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
