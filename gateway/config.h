/* feegate.ini: the daemon's configuration, read once at start and on SIGHUP. A small INI
 * reader ("[section]", "key = value", ';' or '#' comments); every value is bounded. */
#ifndef GW_GATEWAY_CONFIG_H
#define GW_GATEWAY_CONFIG_H

#include <stdbool.h>

#include "adapter.h"
#include "gw_err.h"

#define GW_CONFIG_CHANNELS_MAX 16
#define GW_CONFIG_VALUE_BYTES  1024

struct gw_channel_config {
    const struct gw_adapter_ops *ops;
    struct gw_adapter_config adapter; /* strings point into the storage below */
    char merchant_id[128];
    char secret[256];
    char secret2[256];
    char endpoint_url[GW_CONFIG_VALUE_BYTES];
    char ipn_url[GW_CONFIG_VALUE_BYTES];
    char return_url[GW_CONFIG_VALUE_BYTES];
};

struct gw_config {
    char listen_host[256];
    int listen_port;
    char public_url[GW_CONFIG_VALUE_BYTES];
    int loops;
    char dsn[GW_CONFIG_VALUE_BYTES];
    int db_conns_per_loop;
    char log_level[16];
    int n_channels;
    struct gw_channel_config channels[GW_CONFIG_CHANNELS_MAX];
};

/* Reads path into cfg (defaults first, then the file, then FEEGATE_DSN from the
 * environment). Blocking; for start-up and reload only. */
enum gw_err gw_config_load(const char *path, struct gw_config *cfg, struct gw_errbuf *eb)
    GW_MUST_CHECK;

/* The configured channel of that name, or NULL. */
const struct gw_channel_config *gw_config_channel(const struct gw_config *cfg, const char *name);

#endif
