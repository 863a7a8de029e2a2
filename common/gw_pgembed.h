/* An embedded PostgreSQL 15 cluster for the demo, the CLI and the tests: initdb once, start
 * with pg_ctl, reach it over a Unix socket only (no TCP), stop it. Every call here blocks
 * (it runs the PostgreSQL tools as child processes): never call it from an event loop.
 *
 * Layout of the cluster directory DIR (owned by the user the server runs as):
 *   DIR/data/         PGDATA (initdb'd with data checksums, trust auth, UTF8, locale C)
 *   DIR/data/feegate.conf  our settings, rewritten on every start, included by
 *                     postgresql.conf
 *   DIR/server.log    the server's log (pg_ctl -l)
 *   DIR/setup.log     output of initdb and pg_ctl
 *   DIR/.s.PGSQL.PORT the socket (unix_socket_directories = DIR)
 * PostgreSQL refuses to run as root; when the caller is root, the tools run as the system
 * user `postgres` (else `nobody`) and DIR is chowned to it. */
#ifndef GW_COMMON_GW_PGEMBED_H
#define GW_COMMON_GW_PGEMBED_H

#include <stdbool.h>

#include "gw_err.h"

#define GW_PGEMBED_DB       "feegate"
#define GW_PGEMBED_ADMIN    "postgres"
#define GW_PGEMBED_APP_ROLE "feegate_app"

struct gw_pgembed {
    char dir[512];        /* the cluster directory */
    char sockdir[512];    /* where the socket is: host= of the DSNs */
    int port;             /* names the socket; no TCP listener */
    bool temporary;       /* dir was made by start and is removed by stop */
    char admin_dsn[1024]; /* superuser postgres, database feegate */
    char app_dsn[1024];   /* role feegate_app, database feegate */
};

/* Starts a cluster in dir (created and initdb'd when it has no cluster yet) or, when dir is
 * NULL, in a new temporary directory that gw_pgembed_stop removes. port 0 picks a free
 * one. On success the database `feegate` and the LOGIN role `feegate_app` exist (created
 * idempotently) and pg's DSNs are filled. Blocking (initdb takes seconds). */
enum gw_err gw_pgembed_start(struct gw_pgembed *pg, const char *dir, int port,
                             struct gw_errbuf *eb) GW_MUST_CHECK;

/* Stops the server (pg_ctl stop -m fast) and removes the directory if it was temporary.
 * Blocking. */
enum gw_err gw_pgembed_stop(struct gw_pgembed *pg, struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
