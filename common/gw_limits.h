/* Every limit of feegate, named, with its reason (SQLite's sqliteLimit.h, TigerBeetle's
 * constants). No library default is trusted: each of these is set explicitly where the
 * library has a knob. Units are the last word of each name. */
#ifndef GW_COMMON_GW_LIMITS_H
#define GW_COMMON_GW_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#define GW_STR_INNER(x) #x
#define GW_STR(x)       GW_STR_INNER(x)

/* HTTP server. A create request with 50 fee lines and long names is about 8 KiB. */
#define GW_HTTP_BODY_BYTES_MAX     ((size_t)64 * 1024)
#define GW_HTTP_HEADERS_BYTES_MAX  ((size_t)16 * 1024) /* all request headers together */
#define GW_HTTP_TIMEOUT_S          10                  /* read/write idle timeout per connection */
#define GW_HTTP_CONNECTIONS_MAX    4096                /* per process: see GW_FDS_RESERVED */
#define GW_HTTP_BACKLOG            1024
#define GW_HTTP_RESPONSE_BYTES_MAX ((size_t)1024 * 1024) /* API lists are LIMITed below it */
#define GW_HTTP_LOOPS_MAX          64 /* event loops (threads) per gateway process */
/* Finance answers (a day's report, imports, exceptions) cover a whole day, unpaged: they may
 * outgrow the ordinary reply limit on a busy day, so they have their own. */
#define GW_HTTP_REPORT_BYTES_MAX   ((size_t)8 * 1024 * 1024)

/* The HTTP server under abuse. The descriptor limit is raised to GW_HTTP_CONNECTIONS_MAX plus
 * GW_FDS_RESERVED, the descriptors kept out of the connection cap: each loop's database
 * connections, outgoing HTTP (GW_OUTBOX_INFLIGHT_MAX webhooks plus provider calls), receipt
 * files, the log. Connections over a cap are refused at once, so the process never runs out
 * of descriptors (then accept() fails in a loop and /healthz stops answering). */
#define GW_FDS_RESERVED                  1024
/* Connections from one client address: a portal's or a provider's client pool opens tens, a
 * carrier NAT's browsers six each; one address alone cannot take the gateway's capacity. */
#define GW_HTTP_CONNECTIONS_PER_ADDR_MAX 128
/* From a connection's accept (and from the end of each answer on a kept-alive connection)
 * to the request's last body byte. Unlike the idle timeout it does not restart on each byte,
 * so a client trickling a header line now and then is cut. 64 KiB of body at 64 kbit/s is
 * 8 s. */
#define GW_HTTP_REQUEST_READ_S           10
#define GW_HTTP_SWEEP_MS                 250 /* how often each loop checks that deadline */
/* After EMFILE/ENFILE an accept would fail again at once: the listener pauses this long. */
#define GW_HTTP_ACCEPT_PAUSE_MS          100
#define GW_HTTP_ACCEPT_LOG_S             10 /* accept errors: one log line per interval, counted */
/* TLS (common/gw_tls.c): a session resumed by ticket or cache is good this long; the
 * ticket key lives in the SSL_CTX, new on each start and each SIGHUP reload, so a stolen key
 * opens at most this much of the past traffic of one process. TLS 1.3 tickets per handshake. */
#define GW_TLS_SESSION_LIFETIME_S        3600
#define GW_TLS_TICKETS_PER_HANDSHAKE     1
/* /readyz: answered 503 when the database has not answered by then, well below the 2 s a
 * load balancer's probe usually waits. */
#define GW_READYZ_DEADLINE_MS            1000

/* Per-request memory: everything a request allocates comes from its arena. */
#define GW_ARENA_BYTES_DEFAULT ((size_t)32 * 1024)
#define GW_ARENA_BYTES_MAX     ((size_t)4 * 1024 * 1024)

/* Database. */
#define GW_DB_CONNS_PER_LOOP_DEFAULT 2
#define GW_DB_CONNS_PER_LOOP_MAX     32
#define GW_DB_QUEUE_MAX              4096 /* queries waiting for a connection, per loop: 503 */
#define GW_DB_BATCH_MAX              32   /* batchable calls in one transaction */
/* The query timeout ([database] query_timeout_ms, default GW_DB_QUERY_TIMEOUT_MS) bounds a
 * call on the client side: a unit with no answer by then is dropped with its connection. The
 * server's statement_timeout is the same share of it as GW_DB_STATEMENT_TIMEOUT_MS is of the
 * default, so the server cancels (and rolls back) first. */
#define GW_DB_STATEMENT_TIMEOUT_MS   5000
#define GW_DB_QUERY_TIMEOUT_MS       8000
#define GW_DB_QUERY_TIMEOUT_MS_MIN   100   /* below it, ordinary commits would be cancelled */
#define GW_DB_QUERY_TIMEOUT_MS_MAX   30000 /* a portal's client gives up well before */
#define GW_DB_CLIENT_CHECK_MS        1000 /* a backend checks this often that its client is there */
#define GW_DB_PARAMS_MAX             16
#define GW_DB_RECONNECT_MS           500
/* A connect (startup client list, receipt issuer, a loop's pool reconnecting) gives up after
 * this: a database that accepts no connection must not hang what waits for it. */
#define GW_DB_CONNECT_TIMEOUT_S      10

/* Portal API. */
#define GW_AUTH_CLOCK_SKEW_S       300
/* A signed request that changes something is remembered this long after its timestamp
 * (request_signatures): a copy is refused while any gateway could still accept it, with the
 * window again for gateways whose clocks differ. */
#define GW_AUTH_REPLAY_KEEP_S      600
/* Expired signatures deleted per client-list refresh (every 30 s) of each gateway. */
#define GW_AUTH_REPLAY_PURGE_MAX   100000
#define GW_CLIENT_ID_BYTES_MAX     64
#define GW_CLIENT_SECRET_BYTES_MAX 128
/* Outside development mode `feegate serve` refuses a shorter client secret, and the client
 * list leaves one out (an HMAC-SHA256 key of fewer than 32 bytes is guessable offline). */
#define GW_CLIENT_SECRET_BYTES_MIN 32
#define GW_CLIENTS_MAX             1024
#define GW_IDEM_KEY_BYTES_MAX      255
#define GW_ORDER_REF_BYTES_MAX     64
#define GW_ITEMS_MAX               50
#define GW_NAME_BYTES_MAX          200
#define GW_CODE_BYTES_MAX          32
#define GW_URL_BYTES_MAX           1024
#define GW_EXPIRES_IN_S_MIN        60
#define GW_EXPIRES_IN_S_MAX        ((int64_t)7 * 24 * 3600)
#define GW_EXPIRES_IN_S_DEFAULT    900
#define GW_AMOUNT_VND_MAX          1000000000000LL /* one trillion VND per payment */

/* Citizen pages. The checkout and return pages name the latest attempts of a payment (which
 * bank is in progress, which declined): a citizen who went back a few times, not a history. */
#define GW_CHECKOUT_ATTEMPTS_SHOWN_MAX 5
/* A receipt's lookup code: 12 characters of Crockford base32 from the CSPRNG (60 bits),
 * written at numbering time (receipts.sql); what a citizen types on /verify, dashes and spaces
 * allowed for readability. */
#define GW_LOOKUP_CODE_CHARS           12
#define GW_LOOKUP_CODE_INPUT_BYTES_MAX 32
/* The public pages (/, /pay, /return, /receipts, /verify) per client address: a token bucket
 * of GW_PAGE_RATE_BURST requests refilled at GW_PAGE_RATE_PER_MIN a minute ([server]
 * page_rate_burst, page_rate_per_min); over it, 429 with Retry-After. A citizen reads a few
 * pages a minute; walking receipt codes takes thousands. A carrier NAT shares an address, so
 * the burst is generous. Each loop keeps GW_PAGE_RATE_ADDRS_MAX addresses (the least recently
 * seen is forgotten first). */
#define GW_PAGE_RATE_BURST             60
#define GW_PAGE_RATE_PER_MIN           120
#define GW_PAGE_RATE_BURST_MAX         100000
#define GW_PAGE_RATE_PER_MIN_MAX       1000000
#define GW_PAGE_RATE_ADDRS_MAX         4096

/* Providers and callbacks. */
#define GW_MERCHANT_REF_BYTES_MAX 40 /* fits vnp_TxnRef, MoMo orderId, ZaloPay app_trans_id */
#define GW_CALLBACK_BYTES_MAX     ((size_t)16 * 1024)
#define GW_PROVIDER_TIMEOUT_MS    10000 /* a whole call, connect to last byte */

/* Finance staff (docs/console.md#controls): sign-in, lock-out, sessions. */
#define GW_STAFF_FAILURES_MAX       5     /* failed sign-ins in a row before the lock-out */
#define GW_STAFF_LOCKOUT_S          900   /* the lock-out after GW_STAFF_FAILURES_MAX */
#define GW_STAFF_SESSION_IDLE_S     900   /* a session unused this long ends */
#define GW_STAFF_SESSION_S_MAX      28800 /* a session ends this long after sign-in, used or not */
#define GW_STAFF_PASSWORD_BYTES_MIN 12
#define GW_STAFF_PASSWORD_BYTES_MAX 128
#define GW_STAFF_TOKEN_HEX_BYTES    64   /* a session token: 32 random bytes in hex */
#define GW_CONSOLE_SIGNINS_MAX      4    /* argon2id checks running at once for the web console */
#define GW_CONSOLE_AUDIT_ROWS       200  /* rows on the console's audit log page */
#define GW_CONSOLE_VERIFY_WAIT_MS   5000 /* shutdown: longest wait for a password check */

/* Outbox delivery of portal webhooks. */
#define GW_OUTBOX_BATCH_MAX     64
#define GW_OUTBOX_INFLIGHT_MAX  256
#define GW_OUTBOX_POLL_MS       200
#define GW_OUTBOX_LEASE_S       60
#define GW_WEBHOOK_TIMEOUT_S    10 /* a whole delivery, connect to last byte */
#define GW_WEBHOOK_ATTEMPTS_MAX 40 /* backoff 5 s doubling, capped at 1 h: over 24 h */

/* Background maintenance. */
#define GW_EXPIRY_SWEEP_MS  1000
#define GW_EXPIRY_BATCH_MAX 500
/* Journals sealed into the hash chain per call of ledger_seal, one call per sweep: about
 * five times the ledger's sustained write rate, so the chain catches up with a burst within
 * a few seconds, while one call stays under a second of hashing (docs/benchmarks.md). */
#define GW_SEAL_BATCH_MAX   20000

/* The ledger check in the daemon (gateway/check_job.c): run every
 * GW_LEDGER_CHECK_INTERVAL_S by default ([jobs] ledger_check_interval_s, within the bounds),
 * by one gateway at a time, each run bounded by GW_LEDGER_CHECK_TIMEOUT_S. */
#define GW_LEDGER_CHECK_INTERVAL_S     600
#define GW_LEDGER_CHECK_INTERVAL_S_MIN 1
#define GW_LEDGER_CHECK_INTERVAL_S_MAX 86400
#define GW_LEDGER_CHECK_TIMEOUT_S      600

/* Receipts. The issuer's statement_timeout: longer than the query timeout, since no portal
 * client waits on it and one round trip stores a whole pipelined batch of signed documents
 * (the server may count the pipeline as one statement); still bounded, so that a lock wait
 * holds the issuer back for seconds, not for ever. */
#define GW_RECEIPT_STATEMENT_TIMEOUT_MS 10000

_Static_assert(GW_HTTP_HEADERS_BYTES_MAX < GW_HTTP_BODY_BYTES_MAX, "headers fit below body");
_Static_assert(GW_AUTH_REPLAY_KEEP_S == 2 * GW_AUTH_CLOCK_SKEW_S, "the window, twice");
_Static_assert(GW_HTTP_CONNECTIONS_PER_ADDR_MAX < GW_HTTP_CONNECTIONS_MAX, "one address < all");
_Static_assert(GW_HTTP_RESPONSE_BYTES_MAX <= GW_HTTP_REPORT_BYTES_MAX, "reports are the largest");
_Static_assert(GW_PAGE_RATE_BURST <= GW_PAGE_RATE_BURST_MAX, "default burst within its bound");
_Static_assert(GW_PAGE_RATE_PER_MIN <= GW_PAGE_RATE_PER_MIN_MAX, "default rate within its bound");
_Static_assert(GW_LOOKUP_CODE_CHARS < GW_LOOKUP_CODE_INPUT_BYTES_MAX, "a code fits its input");
_Static_assert(GW_ARENA_BYTES_DEFAULT <= GW_ARENA_BYTES_MAX, "arena default within max");
_Static_assert(GW_EXPIRES_IN_S_MIN < GW_EXPIRES_IN_S_DEFAULT, "default expiry above min");
_Static_assert(GW_EXPIRES_IN_S_DEFAULT < GW_EXPIRES_IN_S_MAX, "default expiry below max");
_Static_assert(GW_DB_STATEMENT_TIMEOUT_MS < GW_DB_QUERY_TIMEOUT_MS, "server gives up first");
/* A delivery still running when its lease ends would be claimed and sent a second time. */
_Static_assert(GW_WEBHOOK_TIMEOUT_S < GW_OUTBOX_LEASE_S, "a delivery ends within its lease");
_Static_assert(GW_RECEIPT_STATEMENT_TIMEOUT_MS > GW_DB_QUERY_TIMEOUT_MS,
               "the issuer's batches outlast one portal query");
_Static_assert(GW_DB_QUERY_TIMEOUT_MS_MIN <= GW_DB_QUERY_TIMEOUT_MS &&
                   GW_DB_QUERY_TIMEOUT_MS <= GW_DB_QUERY_TIMEOUT_MS_MAX,
               "default query timeout within its bounds");

#endif
