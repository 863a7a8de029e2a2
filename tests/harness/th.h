/* The test harness (prefix th_): a real PostgreSQL cluster with the migrations and the demo
 * catalogue, the simulator and the gateway as child processes on loopback ports, a blocking
 * HTTP client, signed portal requests, SQL helpers and database snapshots. For integration
 * tests and benchmarks; everything here blocks and is single-threaded.
 *
 * Failures print their reason on stderr and return an error (or abort, where noted), so a
 * test can simply assert `== GW_OK`. Clusters and child processes still running when the
 * test program exits are stopped by an atexit handler; children also get SIGTERM if the
 * test program dies. */
#ifndef FG_TESTS_HARNESS_TH_H
#define FG_TESTS_HARNESS_TH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_err.h"
#include "gw_pgembed.h"

/* The portal clients th_db_start seeds; th_gateway_start makes client A current. Their
 * secrets are long enough for a gateway outside development mode (GW_CLIENT_SECRET_BYTES_MIN). */
#define TH_CLIENT_A_ID      "portal-a"
#define TH_CLIENT_A_SECRET  "th-secret-a-5b1f0c9e7d2a4c88e41d07b3"
#define TH_CLIENT_B_ID      "portal-b"
#define TH_CLIENT_B_SECRET  "th-secret-b-93e4d1a07f6b2c51a9c3e6f0"
#define TH_WEBHOOK_URL      "http://127.0.0.1:9/webhook" /* discard port: nothing answers */
/* The sandbox channel as configured in the gateway and the simulator. */
#define TH_SANDBOX_MERCHANT "FEEGATE01"
#define TH_SANDBOX_SECRET   "th-sandbox-secret-2f8e61c4"

#define TH_HTTP_TIMEOUT_MS  10000
#define TH_HTTP_HEADERS_MAX 64
#define TH_SNAP_TABLES_MAX  128

/* ---- the database ---- */

struct th_db {
    struct gw_pgembed pg; /* pg.admin_dsn, pg.app_dsn */
    PGconn *admin;        /* superuser connection of the SQL helpers, opened lazily */
    /* Set before th_db_start to give the seeded clients another webhook URL (default
     * TH_WEBHOOK_URL). Borrowed. */
    const char *webhook_url;
};

/* A temporary cluster, migrated, with the demo catalogue and clients A and B. */
enum gw_err th_db_start(struct th_db *db) GW_MUST_CHECK;
/* A temporary cluster with only the database and roles (no migrations). */
enum gw_err th_db_start_empty(struct th_db *db) GW_MUST_CHECK;
/* Stops the cluster and removes its directory. */
enum gw_err th_db_stop(struct th_db *db);

/* The single integer of a one-row, one-column query as superuser. Aborts the test program
 * (with the reason) on an SQL error, no row or NULL: use it where failure is a bug. */
long long th_sql_int(struct th_db *db, const char *sql);
/* The text of a one-row, one-column query into out (truncated to out_len - 1).
 * GW_ERR_NOT_FOUND for no row or NULL, GW_ERR_DB on an SQL error (printed). */
enum gw_err th_sql_text(struct th_db *db, const char *sql, char *out, size_t out_len);
/* Runs a statement as superuser. */
enum gw_err th_sql_exec(struct th_db *db, const char *sql);
/* th_sql_int over a new connection to dsn (to act as another role); no abort. */
enum gw_err th_sql_int_dsn(const char *dsn, const char *sql, long long *out);

/* Row count and content hash of every table in schema feegate. */
struct th_snap {
    int n;

    struct {
        char name[64];
        long long rows;
        char md5[33]; /* md5 of the sorted rows as text */
    } t[TH_SNAP_TABLES_MAX];
};

enum gw_err th_db_snapshot(struct th_db *db, struct th_snap *snap) GW_MUST_CHECK;
/* Same tables with the same row counts; prints each difference on stderr. */
bool th_db_snapshot_equal(const struct th_snap *a, const struct th_snap *b);
/* Same tables with the same rows (counts and contents); prints each difference. Mind the
 * background jobs (outbox retries, expiry) when using it around a running gateway. */
bool th_db_snapshot_same_rows(const struct th_snap *a, const struct th_snap *b);

/* Runs `feegate ledger check` with FEEGATE_DSN = the app DSN; returns its exit code (0: no
 * violation), or -1 if it could not run or timed out. Prints its output when not 0. */
int th_ledger_check(const struct th_db *db);

/* ---- child processes ---- */

struct th_proc {
    pid_t pid;          /* 0 when not running */
    char name[32];      /* "gateway", "banksim", for messages */
    char dir[64];       /* its temporary directory (log, config) */
    char log_path[128]; /* its stdout and stderr */
};

struct th_banksim {
    struct th_proc proc;
    int port;
    char url[64]; /* http://127.0.0.1:PORT (https:// with --tls-cert) */
};

struct th_gateway {
    struct th_proc proc;
    int port;     /* may be set before th_gateway_start to choose it (0: any free one) */
    char url[64]; /* http://127.0.0.1:PORT */
    char ini_path[160];
    /* Set before th_gateway_start: lines appended to feegate.ini (NULL: none). Borrowed. */
    const char *ini_extra;
    /* Set before th_gateway_start: [server] tls_cert_file and tls_key_file (PEM); then url
     * is https:// and th_tls_use_ca must name their CA. Borrowed. */
    const char *tls_cert;
    const char *tls_key;
    /* Set before th_gateway_start: leave out the [receipts] section the harness writes (its
     * signer, made once per test program with `feegate receipt-ca init`). An ini_extra with a
     * [receipts] section of its own replaces it too. */
    bool no_receipt_signer;
};

/* Starts feegate-banksim on a free loopback port; auto_mode "approve", "decline" or NULL
 * (the simulator's interactive page). Returns when /healthz answers 200. */
enum gw_err th_banksim_start(struct th_banksim *bs, const char *auto_mode) GW_MUST_CHECK;
/* The same with more arguments (a NULL-terminated array, or NULL), e.g. the VNPAY, MoMo and
 * ZaloPay credentials and faults of feegate-banksim. With --tls-cert among them, url is
 * https:// (th_tls_use_ca must name its CA). */
enum gw_err th_banksim_start_args(struct th_banksim *bs,
                                  const char *const *extra_args) GW_MUST_CHECK;
/* Writes feegate.ini (app DSN of db, sandbox channel at bs unless bs is NULL) and starts
 * `feegate serve -c`; returns when /healthz answers 200. Makes client A current for
 * th_portal. */
enum gw_err th_gateway_start(struct th_gateway *gw, const struct th_db *db,
                             const struct th_banksim *bs) GW_MUST_CHECK;
/* How a gateway that had to refuse to start ended (th_gateway_refused). */
#define TH_REFUSAL_TIMEOUT_MS 30000

struct th_refusal {
    int code;           /* its exit code; -1 if it was killed (or had to be, after the timeout) */
    char output[16384]; /* the start of its stdout and stderr */
};

/* Writes feegate.ini as th_gateway_start does (no channel) and runs `feegate serve -c`
 * expecting it to refuse to start: waits up to TH_REFUSAL_TIMEOUT_MS for it to exit. GW_OK
 * when it exited by itself in time. */
enum gw_err th_gateway_refused(struct th_gateway *gw, const struct th_db *db,
                               struct th_refusal *out) GW_MUST_CHECK;
/* SIGTERM, then SIGKILL after 10 s. GW_OK only if the child exited 0 and its log has no
 * sanitizer report; otherwise prints the log and keeps its directory. */
enum gw_err th_proc_stop(struct th_proc *p);
/* The same with another signal than SIGTERM (HAProxy stops cleanly on SIGUSR1). */
enum gw_err th_proc_stop_signal(struct th_proc *p, int sig);
enum gw_err th_banksim_stop(struct th_banksim *bs);
enum gw_err th_gateway_stop(struct th_gateway *gw);
/* false (and prints the log) if the child has exited. */
bool th_proc_alive(struct th_proc *p);
/* Starts any program as a child (argv[0] an absolute path, argv NULL-terminated) with its
 * own temporary directory and log, like the gateway; returns when ready_url answers 200
 * (HAProxy, the webhook sink). Stop it with th_proc_stop. */
enum gw_err th_child_start(struct th_proc *p, const char *name, const char *const *argv,
                           const char *ready_url) GW_MUST_CHECK;
/* kill -9: the child dies at once, without draining; reaped, its directory removed.
 * GW_ERR_INTERNAL if it had already exited. */
enum gw_err th_proc_kill(struct th_proc *p) GW_MUST_CHECK;

/* ---- HTTP ---- */

struct th_header {
    const char *name;
    const char *value;
};

struct th_resp {
    int status;
    const char *body; /* NUL-terminated, "" when empty; points into raw */
    size_t body_len;
    const char *location;     /* or NULL */
    const char *content_type; /* or NULL */
    size_t n_headers;
    struct th_header headers[TH_HTTP_HEADERS_MAX];
    struct gw_buf raw; /* owns every string above */
};

/* One request over a new loopback connection (HTTP/1.1, Connection: close), bounded by
 * TH_HTTP_TIMEOUT_MS. url is http://HOST:PORT/PATH with an IPv4 host or localhost; headers
 * is a NULL-terminated array of "Name: value" or NULL; body may be NULL. GW_OK when a whole
 * response arrived, whatever its status. resp is always initialised: release it. */
enum gw_err th_http(const char *method, const char *url, const char *const headers[],
                    const char *body, size_t body_len, struct th_resp *resp);
/* https:// URLs (th_http, th_portal, the start of a gateway or simulator serving TLS) are
 * verified against the CAs of this PEM file and the URL's host (an IP address against the
 * certificate's IP addresses). Copied. NULL: https is refused. */
void th_tls_use_ca(const char *ca_file);
/* The name https peers must hold instead of the URL's host (as curl's --connect-to), for a
 * server whose certificate names another host; NULL: the URL's host again. Copied. */
void th_tls_expect_name(const char *name);
/* The value of the first header of that name (case-insensitive), or NULL. */
const char *th_resp_header(const struct th_resp *resp, const char *name);
void th_resp_release(struct th_resp *resp);

/* ---- portal requests ---- */

/* Where th_portal sends and as whom. Strings are copied. */
void th_portal_use(const char *base_url, const char *client_id, const char *secret);

/* "v1=" + hex HMAC-SHA256(secret, METHOD \n PATH_AND_QUERY \n TIMESTAMP \n hex SHA-256(body))
 * with the current client's secret; body may be NULL (empty). */
#define TH_SIGNATURE_BYTES (3 + GW_SHA256_HEX_BYTES)
void th_portal_signature(const char *method, const char *path_and_query, const char *timestamp,
                         const char *body, char out[TH_SIGNATURE_BYTES]);

/* A signed request with everything overridable, for the authentication tests. */
struct th_portal_req {
    const char *method;
    const char *path; /* path and query, as signed */
    const char *body; /* JSON or NULL */
    /* Idempotency-Key; NULL: a new one for a POST under /v1/payments (create, cancel,
     * refund), which need one, none otherwise; "": header left out. */
    const char *idem_key;
    /* 0: now, or a second earlier for each time this program already sent the same signed
     * request (the gateway accepts a signed request once); anything else is used as it is. */
    long long timestamp;
    const char *signature;            /* NULL: computed; "": header left out */
    const char *client_id;            /* NULL: the current client; "": header left out */
    const char *const *extra_headers; /* NULL-terminated "Name: value", or NULL */
};

enum gw_err th_portal_send(const struct th_portal_req *req, struct th_resp *resp);
/* The usual signed request as the current client (Content-Type: application/json); idem_key
 * as in struct th_portal_req. */
enum gw_err th_portal(const char *method, const char *path, const char *body, const char *idem_key,
                      struct th_resp *resp);

/* ---- finance staff (th_staff.c) ---- */

/* Every member th_staff_add makes has this password. */
#define TH_STAFF_PASSWORD "th staff password 1"

struct th_staff {
    char id[65];         /* set by the caller */
    char role[16];       /* set by the caller: clerk, approver, auditor, admin */
    char secret_b32[64]; /* the TOTP secret from the otpauth:// URI staff add printed */
    char token[65];      /* the session of the last th_staff_sign_in */
};

/* `feegate staff add s->id s->role` as the owner, with TH_STAFF_PASSWORD. */
enum gw_err th_staff_add(const struct th_db *db, struct th_staff *s) GW_MUST_CHECK;
/* The TOTP code of the step now + steps (30 s steps), computed with liboath. */
enum gw_err th_staff_code(const struct th_staff *s, int steps, char code[7]) GW_MUST_CHECK;
/* `feegate staff sign-in` as the application role with TH_STAFF_PASSWORD and the code of the
 * step now + steps (a code is accepted once: a second sign-in in the same step uses 1): the
 * session token into s->token. */
enum gw_err th_staff_sign_in(const struct th_db *db, struct th_staff *s, int steps) GW_MUST_CHECK;

#endif
