/* INI reader for feegate.ini. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_limits.h"
#include "gw_time.h"

#include "banned.h"

#define CONFIG_LINES_MAX 10000

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

static enum gw_err copy_value(char *dst, size_t cap, const char *v, const char *key,
                              struct gw_errbuf *eb)
{
    size_t n = strlen(v);
    if (n >= cap) {
        return gw_fail(eb, GW_ERR_LIMIT, "value of \"%s\" is too long (%zu bytes, max %zu)", key, n,
                       cap - 1);
    }
    memcpy(dst, v, n + 1);
    return GW_OK;
}

static enum gw_err parse_int(const char *v, int lo, int hi, int *out, const char *key,
                             struct gw_errbuf *eb)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        return gw_fail(eb, GW_ERR_INVALID, "\"%s\" must be an integer from %d to %d, not \"%s\"",
                       key, lo, hi, v);
    }
    *out = (int)n;
    return GW_OK;
}

/* host:port into host (256 bytes) and *port; key names the setting in the message. */
static enum gw_err parse_listen(const char *key, char host[256], int *port, const char *v,
                                struct gw_errbuf *eb)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || (size_t)(colon - v) >= 256) {
        return gw_fail(eb, GW_ERR_INVALID, "%s must be host:port, not \"%s\"", key, v);
    }
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = '\0';
    return parse_int(colon + 1, 0, 65535, port, key, eb);
}

static enum gw_err set_server(struct gw_config *cfg, const char *k, const char *v,
                              struct gw_errbuf *eb)
{
    if (strcmp(k, "listen") == 0) {
        return parse_listen(k, cfg->listen_host, &cfg->listen_port, v, eb);
    }
    if (strcmp(k, "tls_listen") == 0) {
        return parse_listen(k, cfg->tls_listen_host, &cfg->tls_listen_port, v, eb);
    }
    if (strcmp(k, "public_url") == 0) {
        return copy_value(cfg->public_url, sizeof(cfg->public_url), v, k, eb);
    }
    if (strcmp(k, "loops") == 0) {
        return parse_int(v, 0, GW_HTTP_LOOPS_MAX, &cfg->loops, k, eb);
    }
    if (strcmp(k, "connections_per_address_max") == 0) {
        return parse_int(v, 1, GW_HTTP_CONNECTIONS_MAX, &cfg->connections_per_addr_max, k, eb);
    }
    if (strcmp(k, "tls_cert_file") == 0) {
        return copy_value(cfg->tls_cert_file, sizeof(cfg->tls_cert_file), v, k, eb);
    }
    if (strcmp(k, "tls_key_file") == 0) {
        return copy_value(cfg->tls_key_file, sizeof(cfg->tls_key_file), v, k, eb);
    }
    if (strcmp(k, "development") == 0) {
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
            return gw_fail(eb, GW_ERR_INVALID, "development must be true or false, not \"%s\"", v);
        }
        cfg->development = strcmp(v, "true") == 0;
        return GW_OK;
    }
    if (strcmp(k, "page_rate_burst") == 0) {
        return parse_int(v, 1, GW_PAGE_RATE_BURST_MAX, &cfg->page_rate_burst, k, eb);
    }
    if (strcmp(k, "page_rate_per_min") == 0) {
        return parse_int(v, 1, GW_PAGE_RATE_PER_MIN_MAX, &cfg->page_rate_per_min, k, eb);
    }
    return gw_fail(eb, GW_ERR_INVALID, "unknown key \"%s\" in [server]", k);
}

static enum gw_err set_database(struct gw_config *cfg, const char *k, const char *v,
                                struct gw_errbuf *eb)
{
    if (strcmp(k, "dsn") == 0) {
        return copy_value(cfg->dsn, sizeof(cfg->dsn), v, k, eb);
    }
    if (strcmp(k, "conns_per_loop") == 0) {
        return parse_int(v, 1, GW_DB_CONNS_PER_LOOP_MAX, &cfg->db_conns_per_loop, k, eb);
    }
    if (strcmp(k, "query_timeout_ms") == 0) {
        return parse_int(v, GW_DB_QUERY_TIMEOUT_MS_MIN, GW_DB_QUERY_TIMEOUT_MS_MAX,
                         &cfg->db_query_timeout_ms, k, eb);
    }
    return gw_fail(eb, GW_ERR_INVALID, "unknown key \"%s\" in [database]", k);
}

static enum gw_err set_receipts(struct gw_config *cfg, const char *k, const char *v,
                                struct gw_errbuf *eb)
{
    if (strcmp(k, "cert") == 0) {
        return copy_value(cfg->receipt_cert, sizeof(cfg->receipt_cert), v, k, eb);
    }
    if (strcmp(k, "key") == 0) {
        return copy_value(cfg->receipt_key, sizeof(cfg->receipt_key), v, k, eb);
    }
    if (strcmp(k, "ca") == 0) {
        return copy_value(cfg->receipt_ca, sizeof(cfg->receipt_ca), v, k, eb);
    }
    return gw_fail(eb, GW_ERR_INVALID, "unknown key \"%s\" in [receipts]", k);
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the section setters' signature */
static enum gw_err set_jobs(struct gw_config *cfg, const char *k, const char *v,
                            struct gw_errbuf *eb)
{
    if (strcmp(k, "ledger_check_interval_s") == 0) {
        return parse_int(v, GW_LEDGER_CHECK_INTERVAL_S_MIN, GW_LEDGER_CHECK_INTERVAL_S_MAX,
                         &cfg->ledger_check_interval_s, k, eb);
    }
    return gw_fail(eb, GW_ERR_INVALID, "unknown key \"%s\" in [jobs]", k);
}

static enum gw_err set_channel(struct gw_channel_config *ch, const char *k, const char *v,
                               struct gw_errbuf *eb)
{
    if (strcmp(k, "merchant_id") == 0) {
        return copy_value(ch->merchant_id, sizeof(ch->merchant_id), v, k, eb);
    }
    if (strcmp(k, "secret") == 0) {
        return copy_value(ch->secret, sizeof(ch->secret), v, k, eb);
    }
    if (strcmp(k, "secret2") == 0) {
        return copy_value(ch->secret2, sizeof(ch->secret2), v, k, eb);
    }
    if (strcmp(k, "endpoint_url") == 0) {
        return copy_value(ch->endpoint_url, sizeof(ch->endpoint_url), v, k, eb);
    }
    if (strcmp(k, "api_url") == 0) {
        return copy_value(ch->api_url, sizeof(ch->api_url), v, k, eb);
    }
    if (strcmp(k, "method") == 0) {
        return copy_value(ch->method, sizeof(ch->method), v, k, eb);
    }
    if (strcmp(k, "app_user") == 0) {
        return copy_value(ch->app_user, sizeof(ch->app_user), v, k, eb);
    }
    if (strcmp(k, "server_ip") == 0) {
        return copy_value(ch->server_ip, sizeof(ch->server_ip), v, k, eb);
    }
    if (strcmp(k, "ca_file") == 0) {
        return copy_value(ch->ca_file, sizeof(ch->ca_file), v, k, eb);
    }
    if (strcmp(k, "maintenance") == 0) {
        enum gw_err err = copy_value(ch->maintenance, sizeof(ch->maintenance), v, k, eb);
        return err != GW_OK ? err : gw_config_parse_maintenance(v, ch, eb);
    }
    if (strcmp(k, "breaker_failures") == 0) {
        return parse_int(v, 1, 1000, &ch->breaker_failures, k, eb);
    }
    if (strcmp(k, "breaker_p90_ms") == 0) {
        return parse_int(v, 1, 600000, &ch->breaker_p90_ms, k, eb);
    }
    if (strcmp(k, "breaker_cooldown_s") == 0) {
        return parse_int(v, 1, 86400, &ch->breaker_cooldown_s, k, eb);
    }
    if (strcmp(k, "refunds") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
            return gw_fail(eb, GW_ERR_INVALID, "refunds must be on or off, not \"%s\"", v);
        }
        ch->refunds_off = strcmp(v, "off") == 0;
        return GW_OK;
    }
    return gw_fail(eb, GW_ERR_INVALID, "unknown key \"%s\" in a channel section", k);
}

static enum gw_err open_channel(struct gw_config *cfg, const char *name,
                                struct gw_channel_config **out, struct gw_errbuf *eb)
{
    const struct gw_adapter_ops *ops = gw_adapter_find(name);
    if (ops == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "no adapter for channel \"%s\"", name);
    }
    if (gw_config_channel(cfg, name) != NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "channel \"%s\" configured twice", name);
    }
    if (cfg->n_channels >= GW_CONFIG_CHANNELS_MAX) {
        return gw_fail(eb, GW_ERR_LIMIT, "too many channels (max %d)", GW_CONFIG_CHANNELS_MAX);
    }
    struct gw_channel_config *ch = &cfg->channels[cfg->n_channels++];
    memset(ch, 0, sizeof(*ch));
    ch->ops = ops;
    ch->breaker_failures = GW_BREAKER_FAILURES_DEFAULT;
    ch->breaker_p90_ms = GW_BREAKER_P90_MS_DEFAULT;
    ch->breaker_cooldown_s = GW_BREAKER_COOLDOWN_S_DEFAULT;
    *out = ch;
    return GW_OK;
}

void gw_channel_fixup(struct gw_channel_config *ch)
{
    ch->adapter = (struct gw_adapter_config){
        .channel = ch->ops->name,
        .merchant_id = ch->merchant_id,
        .secret = ch->secret,
        .secret2 = ch->secret2[0] != '\0' ? ch->secret2 : NULL,
        .endpoint_url = ch->endpoint_url,
        .ipn_url = ch->ipn_url,
        .return_url = ch->return_url,
        .api_url = ch->api_url[0] != '\0' ? ch->api_url : NULL,
        .method = ch->method[0] != '\0' ? ch->method : NULL,
        .app_user = ch->app_user[0] != '\0' ? ch->app_user : NULL,
        .server_ip = ch->server_ip[0] != '\0' ? ch->server_ip : NULL,
    };
}

bool gw_channel_changed(const struct gw_channel_config *a, const struct gw_channel_config *b)
{
    /* Everything after the adapter view is plain data, zeroed before it was filled. */
    size_t from = offsetof(struct gw_channel_config, merchant_id);
    return a->ops != b->ops ||
           memcmp((const char *)a + from, (const char *)b + from, sizeof(*a) - from) != 0;
}

/* One "HH:MM" into minutes of the day. */
static bool parse_hhmm(const char *s, int *out)
{
    if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4])) {
        return false;
    }
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59) {
        return false;
    }
    *out = h * 60 + m;
    return true;
}

/* One "Sun 01:00-03:00" or "daily 23:55-00:05". */
static enum gw_err parse_window(char *w, struct gw_maint_window *out, struct gw_errbuf *eb)
{
    static const char *const days[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    char *sp = strchr(w, ' ');
    char *dash = sp != NULL ? strchr(sp + 1, '-') : NULL;
    if (sp == NULL || dash == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "maintenance window \"%s\" is not DAY HH:MM-HH:MM", w);
    }
    *sp = '\0';
    *dash = '\0';
    out->wday = -2;
    if (strcmp(w, "daily") == 0) {
        out->wday = -1;
    }
    for (int d = 0; d < 7; d++) {
        if (strcmp(w, days[d]) == 0) {
            out->wday = d;
        }
    }
    int start = 0;
    int end = 0;
    if (out->wday == -2 || !parse_hhmm(sp + 1, &start) || !parse_hhmm(dash + 1, &end) ||
        start == end) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "maintenance window \"%s %s-%s\": day must be daily or Mon..Sun, times "
                       "HH:MM, start and end different",
                       w, sp + 1, dash + 1);
    }
    out->start_min = start;
    out->len_min = end > start ? end - start : 1440 - start + end;
    return GW_OK;
}

enum gw_err gw_config_parse_maintenance(const char *text, struct gw_channel_config *ch,
                                        struct gw_errbuf *eb)
{
    char buf[GW_CONFIG_VALUE_BYTES];
    ch->n_maint = 0;
    if (strlen(text) >= sizeof(buf)) {
        return gw_fail(eb, GW_ERR_LIMIT, "maintenance is too long");
    }
    memcpy(buf, text, strlen(text) + 1);
    char *t = trim(buf);
    if (*t == '\0' || strcmp(t, "none") == 0) {
        return GW_OK;
    }
    for (char *w = t, *next = NULL; w != NULL; w = next) {
        char *comma = strchr(w, ',');
        next = comma != NULL ? comma + 1 : NULL;
        if (comma != NULL) {
            *comma = '\0';
        }
        if (ch->n_maint >= GW_MAINT_WINDOWS_MAX) {
            return gw_fail(eb, GW_ERR_LIMIT, "too many maintenance windows (max %d)",
                           GW_MAINT_WINDOWS_MAX);
        }
        w = trim(w);
        enum gw_err err = parse_window(w, &ch->maint[ch->n_maint], eb);
        if (err != GW_OK) {
            return err;
        }
        ch->n_maint++;
    }
    return GW_OK;
}

bool gw_channel_in_maintenance(const struct gw_channel_config *ch, time_t now)
{
    /* Vietnam has no daylight saving: local time is UTC+7 all year. */
    int64_t local = (int64_t)now + GW_VN_UTC_OFFSET_S;
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int minute = (int)((local - days * 86400) / 60);
    int wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    for (int i = 0; i < ch->n_maint; i++) {
        const struct gw_maint_window *w = &ch->maint[i];
        int since;
        if (w->wday < 0) {
            since = (minute - w->start_min + 1440) % 1440;
        } else {
            since = ((wday - w->wday + 7) % 7 * 1440 + minute - w->start_min + 10080) % 10080;
        }
        if (since < w->len_min) {
            return true;
        }
    }
    return false;
}

static enum gw_err finish_channels(struct gw_config *cfg, struct gw_errbuf *eb)
{
    for (int i = 0; i < cfg->n_channels; i++) {
        struct gw_channel_config *ch = &cfg->channels[i];
        const char *name = ch->ops->name;
        if (ch->merchant_id[0] == '\0' || ch->secret[0] == '\0' || ch->endpoint_url[0] == '\0') {
            return gw_fail(eb, GW_ERR_INVALID,
                           "channel \"%s\" needs merchant_id, secret and endpoint_url", name);
        }
        int n1 = snprintf(ch->ipn_url, sizeof(ch->ipn_url), "%s/ipn/%s", cfg->public_url, name);
        int n2 =
            snprintf(ch->return_url, sizeof(ch->return_url), "%s/return/%s", cfg->public_url, name);
        if (n1 < 0 || (size_t)n1 >= sizeof(ch->ipn_url) || n2 < 0 ||
            (size_t)n2 >= sizeof(ch->return_url)) {
            return gw_fail(eb, GW_ERR_LIMIT, "public_url is too long");
        }
        gw_channel_fixup(ch);
    }
    return GW_OK;
}

static void config_defaults(struct gw_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->listen_host, "127.0.0.1", sizeof("127.0.0.1"));
    cfg->listen_port = 8080;
    cfg->loops = 0;
    cfg->db_conns_per_loop = GW_DB_CONNS_PER_LOOP_DEFAULT;
    cfg->db_query_timeout_ms = GW_DB_QUERY_TIMEOUT_MS;
    cfg->connections_per_addr_max = GW_HTTP_CONNECTIONS_PER_ADDR_MAX;
    cfg->page_rate_burst = GW_PAGE_RATE_BURST;
    cfg->page_rate_per_min = GW_PAGE_RATE_PER_MIN;
    cfg->ledger_check_interval_s = GW_LEDGER_CHECK_INTERVAL_S;
    memcpy(cfg->log_level, "info", sizeof("info"));
}

struct ini_state {
    char section[128];
    struct gw_channel_config *channel;
};

static enum gw_err config_line(struct gw_config *cfg, struct ini_state *st, char *line,
                               struct gw_errbuf *eb)
{
    char *s = trim(line);
    if (*s == '\0' || *s == ';' || *s == '#') {
        return GW_OK;
    }
    if (*s == '[') {
        char *end = strchr(s, ']');
        if (end == NULL || (size_t)(end - s) >= sizeof(st->section)) {
            return gw_fail(eb, GW_ERR_INVALID, "bad section header");
        }
        *end = '\0';
        memcpy(st->section, s + 1, strlen(s + 1) + 1);
        st->channel = NULL;
        if (strncmp(st->section, "channel.", 8) == 0) {
            return open_channel(cfg, st->section + 8, &st->channel, eb);
        }
        return GW_OK;
    }
    char *eq = strchr(s, '=');
    if (eq == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "expected key = value");
    }
    *eq = '\0';
    char *k = trim(s);
    char *v = trim(eq + 1);
    if (strcmp(st->section, "server") == 0) {
        return set_server(cfg, k, v, eb);
    }
    if (strcmp(st->section, "database") == 0) {
        return set_database(cfg, k, v, eb);
    }
    if (strcmp(st->section, "receipts") == 0) {
        return set_receipts(cfg, k, v, eb);
    }
    if (strcmp(st->section, "jobs") == 0) {
        return set_jobs(cfg, k, v, eb);
    }
    if (strcmp(st->section, "console") == 0 && strcmp(k, "listen") == 0) {
        return parse_listen("console listen", cfg->console_host, &cfg->console_port, v, eb);
    }
    if (strcmp(st->section, "log") == 0 && strcmp(k, "level") == 0) {
        return copy_value(cfg->log_level, sizeof(cfg->log_level), v, k, eb);
    }
    if (st->channel != NULL) {
        return set_channel(st->channel, k, v, eb);
    }
    return gw_fail(eb, GW_ERR_INVALID, "unknown key \"%s\" in [%s]", k, st->section);
}

enum gw_err gw_config_load(const char *path, struct gw_config *cfg, struct gw_errbuf *eb)
{
    config_defaults(cfg);
    enum gw_err perr = copy_value(cfg->path, sizeof(cfg->path), path, "path", eb);
    if (perr != GW_OK) {
        return perr;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\": %s", path, GW_STRERROR(errno));
    }
    struct ini_state st = { .section = "", .channel = NULL };
    char line[GW_CONFIG_VALUE_BYTES + 256];
    enum gw_err err = GW_OK;
    for (int n = 1; err == GW_OK && fgets(line, sizeof(line), f) != NULL; n++) {
        struct gw_errbuf leb;
        err = n > CONFIG_LINES_MAX ? gw_fail(&leb, GW_ERR_LIMIT, "too many lines")
                                   : config_line(cfg, &st, line, &leb);
        if (err != GW_OK) {
            (void)gw_fail(eb, err, "%s:%d: %s", path, n, leb.msg);
        }
    }
    (void)fclose(f);
    if (err != GW_OK) {
        return err;
    }
    const char *env_dsn = getenv("FEEGATE_DSN");
    if (env_dsn != NULL && env_dsn[0] != '\0') {
        err = copy_value(cfg->dsn, sizeof(cfg->dsn), env_dsn, "FEEGATE_DSN", eb);
        if (err != GW_OK) {
            return err;
        }
    }
    if (cfg->dsn[0] == '\0') {
        return gw_fail(eb, GW_ERR_INVALID, "no database: set [database] dsn or FEEGATE_DSN");
    }
    if ((cfg->receipt_cert[0] == '\0') != (cfg->receipt_key[0] == '\0')) {
        return gw_fail(eb, GW_ERR_INVALID, "[receipts] needs both cert and key, or neither");
    }
    if ((cfg->tls_cert_file[0] == '\0') != (cfg->tls_key_file[0] == '\0')) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "[server] needs both tls_cert_file and tls_key_file, or neither");
    }
    if (cfg->tls_listen_host[0] != '\0' && cfg->tls_cert_file[0] == '\0') {
        return gw_fail(eb, GW_ERR_INVALID,
                       "[server] tls_listen needs tls_cert_file and tls_key_file");
    }
    if (cfg->public_url[0] == '\0') {
        (void)snprintf(cfg->public_url, sizeof(cfg->public_url), "%s://%s:%d",
                       cfg->tls_cert_file[0] != '\0' && cfg->tls_listen_host[0] == '\0' ? "https"
                                                                                        : "http",
                       cfg->listen_host, cfg->listen_port);
    }
    if (cfg->loops == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->loops = n < 1 ? 1 : (n > GW_HTTP_LOOPS_MAX ? GW_HTTP_LOOPS_MAX : (int)n);
    }
    return finish_channels(cfg, eb);
}

const struct gw_channel_config *gw_config_channel(const struct gw_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_channels; i++) {
        if (strcmp(cfg->channels[i].ops->name, name) == 0) {
            return &cfg->channels[i];
        }
    }
    return NULL;
}
