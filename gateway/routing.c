/* Live channel configuration, reload on SIGHUP, maintenance windows and circuit breakers. */
#include "routing.h"

#include <stdio.h>
#include <string.h>

#include "gw_assert.h"
#include "gw_log.h"
#include "gw_time.h"
#include "request.h"

#include "banned.h"

const struct gw_config *gw_live_config(const struct gw_server *srv)
{
    const struct gw_config *c = atomic_load_explicit(&srv->live, memory_order_acquire);
    return c != NULL ? c : &srv->cfg;
}

const struct gw_channel_config *gw_live_channel(const struct gw_server *srv, const char *name)
{
    return name != NULL ? gw_config_channel(gw_live_config(srv), name) : NULL;
}

const struct gw_channel_config *gw_channel_pin(const struct gw_server *srv, struct gw_arena *a,
                                               const char *name)
{
    const struct gw_channel_config *live = gw_live_channel(srv, name);
    if (live == NULL) {
        return NULL;
    }
    struct gw_channel_config *ch = gw_arena_alloc(a, sizeof(*ch));
    if (ch == NULL) {
        return NULL;
    }
    memcpy(ch, live, sizeof(*ch));
    gw_channel_fixup(ch);
    return ch;
}

void gw_routing_init(struct gw_server *srv, const struct gw_config *cfg)
{
    struct gw_config *c = gw_xmalloc(sizeof(*c));
    memcpy(c, cfg, sizeof(*c));
    for (int i = 0; i < c->n_channels; i++) {
        gw_channel_fixup(&c->channels[i]);
    }
    atomic_store_explicit(&srv->live, c, memory_order_release);
}

void gw_routing_free(struct gw_server *srv)
{
    gw_xfree(atomic_exchange(&srv->live, NULL));
    for (size_t i = 0; i < sizeof(srv->live_old) / sizeof(srv->live_old[0]); i++) {
        gw_xfree(srv->live_old[i]);
        srv->live_old[i] = NULL;
    }
}

/* Logs every channel added, removed or changed (never the secrets themselves). */
static int log_changes(const struct gw_config *old, const struct gw_config *now)
{
    int changes = 0;
    for (int i = 0; i < now->n_channels; i++) {
        const struct gw_channel_config *n = &now->channels[i];
        const struct gw_channel_config *o = gw_config_channel(old, n->ops->name);
        if (o == NULL) {
            gw_log_info("channel_added", "\"channel\":\"%s\"", n->ops->name);
            changes++;
        } else if (gw_channel_changed(o, n)) {
            gw_log_info(
                "channel_changed",
                "\"channel\":\"%s\",\"keys_changed\":%s,\"endpoint_changed\":%s,"
                "\"maintenance_windows\":%d",
                n->ops->name,
                strcmp(o->secret, n->secret) != 0 || strcmp(o->secret2, n->secret2) != 0 ? "true"
                                                                                         : "false",
                strcmp(o->endpoint_url, n->endpoint_url) != 0 ? "true" : "false", n->n_maint);
            changes++;
        }
    }
    for (int i = 0; i < old->n_channels; i++) {
        if (gw_config_channel(now, old->channels[i].ops->name) == NULL) {
            gw_log_info("channel_removed", "\"channel\":\"%s\"", old->channels[i].ops->name);
            changes++;
        }
    }
    return changes;
}

void gw_routing_reload(struct gw_server *srv)
{
    struct gw_config *next = gw_xmalloc(sizeof(*next));
    struct gw_errbuf eb = { .msg = "" };
    const struct gw_config *cur = gw_live_config(srv);
    if (gw_config_load(srv->cfg.path, next, &eb) != GW_OK) {
        char why[300];
        gw_log_error("reload_failed", "\"path\":\"%s\",\"reason\":\"%s\"", srv->cfg.path,
                     gw_log_esc(why, sizeof(why), eb.msg));
        gw_xfree(next);
        return;
    }
    /* These stay as the server started with them: compared with that, not with the last
     * reload, so that the warning stands for as long as the file differs. */
    const struct gw_config *run = &srv->cfg;
    if (strcmp(next->listen_host, run->listen_host) != 0 || next->listen_port != run->listen_port ||
        strcmp(next->dsn, run->dsn) != 0 || next->loops != run->loops ||
        strcmp(next->public_url, run->public_url) != 0 ||
        next->db_conns_per_loop != run->db_conns_per_loop ||
        next->db_query_timeout_ms != run->db_query_timeout_ms) {
        gw_log_warn("reload_partial", "\"reason\":\"listen, public_url, [database] (dsn, "
                                      "conns_per_loop, query_timeout_ms) and loops change only "
                                      "with a restart\"");
    }
    int changes = log_changes(cur, next);
    /* Readers hold a snapshot only within one synchronous call: the one before the previous
     * is long unused when it is freed here. */
    struct gw_config *prev = atomic_exchange_explicit(&srv->live, next, memory_order_acq_rel);
    gw_xfree(srv->live_old[1]);
    srv->live_old[1] = srv->live_old[0];
    srv->live_old[0] = prev;
    gw_log_info("reloaded", "\"path\":\"%s\",\"channels\":%d,\"changes\":%d", srv->cfg.path,
                next->n_channels, changes);
}

/* ---- health ---- */

int gw_health_slot(const struct gw_adapter_ops *ops)
{
    for (int i = 0; i < GW_HEALTH_SLOTS && gw_adapters[i] != NULL; i++) {
        if (gw_adapters[i] == ops) {
            return i;
        }
    }
    return -1;
}

static struct gw_chan_health *health_of(struct gw_loop *loop, const struct gw_channel_config *ch)
{
    int slot = gw_health_slot(ch->ops);
    return slot >= 0 ? &loop->health[slot] : NULL;
}

bool gw_channel_up(struct gw_loop *loop, const struct gw_channel_config *ch, time_t now)
{
    if (gw_channel_in_maintenance(ch, now)) {
        return false;
    }
    struct gw_chan_health *h = health_of(loop, ch);
    if (h == NULL) {
        return true;
    }
    int st = atomic_load_explicit(&h->state, memory_order_relaxed);
    if (st != GW_BREAKER_OPEN) {
        return true;
    }
    if (gw_now_ms() - h->opened_ms < (int64_t)ch->breaker_cooldown_s * 1000) {
        return false;
    }
    atomic_store_explicit(&h->state, GW_BREAKER_HALF_OPEN, memory_order_relaxed);
    gw_log_info("breaker_half_open", "\"channel\":\"%s\",\"loop\":%d", ch->ops->name, loop->index);
    return true;
}

static uint32_t p90_of(const struct gw_chan_health *h)
{
    uint32_t s[GW_HEALTH_SAMPLES];
    int n = h->lat_n;
    memcpy(s, h->lat_ms, sizeof(s));
    for (int i = 1; i < n; i++) { /* insertion sort of at most 32 */
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            uint32_t t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    }
    return n > 0 ? s[(n * 9 - 1) / 10] : 0;
}

static void breaker_open(struct gw_loop *loop, const struct gw_channel_config *ch,
                         struct gw_chan_health *h, const char *why)
{
    h->opened_ms = gw_now_ms();
    h->lat_n = 0;
    h->lat_pos = 0;
    atomic_store_explicit(&h->state, GW_BREAKER_OPEN, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->opened_total, 1, memory_order_relaxed);
    gw_log_warn("breaker_open",
                "\"channel\":\"%s\",\"loop\":%d,\"reason\":\"%s\",\"failures\":%d,\"p90_ms\":%u,"
                "\"cooldown_s\":%d",
                ch->ops->name, loop->index, why, h->consecutive_failures,
                (unsigned)atomic_load_explicit(&h->p90_ms, memory_order_relaxed),
                ch->breaker_cooldown_s);
}

void gw_health_record(struct gw_loop *loop, const struct gw_channel_config *ch, bool ok,
                      int64_t elapsed_ms)
{
    struct gw_chan_health *h = health_of(loop, ch);
    if (h == NULL) {
        return;
    }
    uint32_t ms = elapsed_ms < 0 ? 0 : elapsed_ms > 3600000 ? 3600000 : (uint32_t)elapsed_ms;
    atomic_fetch_add_explicit(ok ? &h->calls_ok : &h->calls_failed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->latency_sum_ms, ms, memory_order_relaxed);
    h->lat_ms[h->lat_pos] = ms;
    h->lat_pos = (h->lat_pos + 1) % GW_HEALTH_SAMPLES;
    if (h->lat_n < GW_HEALTH_SAMPLES) {
        h->lat_n++;
    }
    uint32_t p90 = p90_of(h);
    atomic_store_explicit(&h->p90_ms, p90, memory_order_relaxed);
    int st = atomic_load_explicit(&h->state, memory_order_relaxed);
    h->consecutive_failures = ok ? 0 : h->consecutive_failures + 1;
    if (st == GW_BREAKER_HALF_OPEN) {
        if (ok) {
            atomic_store_explicit(&h->state, GW_BREAKER_CLOSED, memory_order_relaxed);
            gw_log_info("breaker_closed", "\"channel\":\"%s\",\"loop\":%d", ch->ops->name,
                        loop->index);
        } else {
            breaker_open(loop, ch, h, "probe failed");
        }
        return;
    }
    if (st != GW_BREAKER_CLOSED) {
        return;
    }
    if (h->consecutive_failures >= ch->breaker_failures) {
        breaker_open(loop, ch, h, "consecutive failures");
    } else if (h->lat_n >= GW_HEALTH_P90_MIN_SAMPLES && p90 > (uint32_t)ch->breaker_p90_ms) {
        breaker_open(loop, ch, h, "p90 latency");
    }
}
