/* feegate.ini: the daemon's configuration, read once at start and on SIGHUP. A small INI
 * reader ("[section]", "key = value", ';' or '#' comments); every value is bounded. */
#ifndef GW_GATEWAY_CONFIG_H
#define GW_GATEWAY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "adapter.h"
#include "gw_err.h"

#define GW_CONFIG_CHANNELS_MAX 16
#define GW_CONFIG_VALUE_BYTES  1024
#define GW_MAINT_WINDOWS_MAX   8

/* A maintenance window in Vietnam time (UTC+7): every day, or one day of the week, from
 * start to end minute; a window whose end is not after its start runs past midnight. */
struct gw_maint_window {
    int wday;      /* -1: daily; 0 Sunday .. 6 Saturday */
    int start_min; /* minute of the day, 0..1439 */
    int len_min;   /* 1..1440 */
};

/* The circuit breaker of a channel (docs/adapters.md, "Routing and health"). */
#define GW_BREAKER_FAILURES_DEFAULT   5
#define GW_BREAKER_P90_MS_DEFAULT     5000
#define GW_BREAKER_COOLDOWN_S_DEFAULT 30

struct gw_channel_config {
    const struct gw_adapter_ops *ops;
    struct gw_adapter_config adapter; /* strings point into the storage below */
    char merchant_id[128];
    char secret[256];
    char secret2[256];
    char endpoint_url[GW_CONFIG_VALUE_BYTES];
    char ipn_url[GW_CONFIG_VALUE_BYTES];
    char return_url[GW_CONFIG_VALUE_BYTES];
    /* Optional adapter keys (docs/adapters.md, "Configuration"). */
    char api_url[GW_CONFIG_VALUE_BYTES];
    char method[64];
    char app_user[64];
    char server_ip[64];
    /* ca_file: the PEM CAs that verify this bank's certificate on https calls (empty: the
     * system store); the host name is checked against the URL's either way. */
    char ca_file[GW_CONFIG_VALUE_BYTES];
    /* Routing: maintenance windows and the breaker's bounds. */
    char maintenance[GW_CONFIG_VALUE_BYTES]; /* as written, for logs */
    int n_maint;
    struct gw_maint_window maint[GW_MAINT_WINDOWS_MAX];
    int breaker_failures;   /* consecutive failed calls that open it */
    int breaker_p90_ms;     /* p90 of the recent calls above this opens it */
    int breaker_cooldown_s; /* open this long, then one probe (half-open) */
    /* refunds = off: the merchant contract has no refund API, whatever the adapter can do;
     * refunds through it are refused and its overpayments are paid back by transfer. */
    bool refunds_off;
};

struct gw_config {
    char path[GW_CONFIG_VALUE_BYTES]; /* the file it was read from, for reloads */
    char listen_host[256];
    int listen_port;
    char public_url[GW_CONFIG_VALUE_BYTES];
    int loops;
    char dsn[GW_CONFIG_VALUE_BYTES];
    int db_conns_per_loop;
    int db_query_timeout_ms; /* [database] query_timeout_ms */
    /* [server] connections_per_address_max: behind a load balancer or a carrier NAT, many
     * clients share one address (default GW_HTTP_CONNECTIONS_PER_ADDR_MAX) */
    int connections_per_addr_max;
    /* [server] tls_cert_file, tls_key_file: PEM paths; set, the listener speaks only TLS
     * (gateway/tls.c), and both files are read again on SIGHUP. With tls_listen as well,
     * `listen` stays plain HTTP and tls_listen is a second listener, for TLS. */
    char tls_cert_file[GW_CONFIG_VALUE_BYTES];
    char tls_key_file[GW_CONFIG_VALUE_BYTES];
    char tls_listen_host[256]; /* "": none */
    int tls_listen_port;
    /* [server] development = true: the start-up safety checks only warn (docs/operations.md,
     * "Start-up checks"); `feegate demo` writes it. Default false. */
    bool development;
    /* [server] page_rate_burst, page_rate_per_min: the public pages' token bucket per client
     * address (defaults GW_PAGE_RATE_BURST, GW_PAGE_RATE_PER_MIN) */
    int page_rate_burst;
    int page_rate_per_min;
    /* [console] listen: the finance staff's web console (gateway/console.c), a listener of
     * its own; "": none. */
    char console_host[256];
    int console_port;
    char log_level[16];
    int n_channels;
    struct gw_channel_config channels[GW_CONFIG_CHANNELS_MAX];
    /* [receipts]: the agency's signing certificate and key and the CA that verifies them
     * (PEM paths). Empty cert: receipts are issued unsigned and the pages say so. */
    char receipt_cert[GW_CONFIG_VALUE_BYTES];
    char receipt_key[GW_CONFIG_VALUE_BYTES];
    char receipt_ca[GW_CONFIG_VALUE_BYTES];
    /* [jobs] ledger_check_interval_s: how often the daemon runs the ledger check. */
    int ledger_check_interval_s;
};

/* Reads path into cfg (defaults first, then the file, then FEEGATE_DSN from the
 * environment). Blocking; for start-up and reload only. */
enum gw_err gw_config_load(const char *path, struct gw_config *cfg,
                           struct gw_errbuf *eb) GW_MUST_CHECK;

/* Parses "Sun 01:00-03:00, daily 23:55-00:05" (days Mon..Sun, 24-hour HH:MM, Vietnam
 * time) into ch->maint; "" or "none" is no window. Strict: anything else is an error. */
enum gw_err gw_config_parse_maintenance(const char *text, struct gw_channel_config *ch,
                                        struct gw_errbuf *eb) GW_MUST_CHECK;
/* True when now falls in one of ch's maintenance windows. */
bool gw_channel_in_maintenance(const struct gw_channel_config *ch, time_t now);
/* Points ch->adapter's strings at ch's own storage (after copying a channel). */
void gw_channel_fixup(struct gw_channel_config *ch);
/* True when a and b differ in anything but their addresses. */
bool gw_channel_changed(const struct gw_channel_config *a, const struct gw_channel_config *b);

/* The configured channel of that name, or NULL. */
const struct gw_channel_config *gw_config_channel(const struct gw_config *cfg, const char *name);

#endif
