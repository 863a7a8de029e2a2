/* Faults on demand for the VNPAY, MoMo and ZaloPay sides: callbacks dropped, delayed,
 * duplicated, reordered, held until after the payment's expiry, forged or tampered; query
 * and refund calls slow, failing or never answered; create calls failing. Every decision
 * is drawn from one generator seeded by --seed (or "seed" in POST /_faults), a fixed number
 * of draws per decision, so the same seed and the same calls give the same faults. Also
 * the counters of GET /_stats. The document format is in README.md. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "banksim.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "gw_time.h"

#include "banned.h"

#define BS_FAULT_MS_MAX         3600000 /* any delay or hold: one hour */
#define BS_REORDER_WINDOW_MAX   1000
#define BS_DUPLICATES_MAX       10
#define BS_API_TIMEOUT_MS_DFLT  60000
#define BS_FAULTS_DOC_BYTES_MAX ((size_t)8 * 1024)
#define BS_DEFERRED_MAX         10000 /* answers held at once; beyond, answered at once */

enum bs_forge_kind {
    BS_FORGE_KIND_SIGNATURE = 1,
    BS_FORGE_KIND_AMOUNT,
    BS_FORGE_KIND_BOTH, /* either, drawn */
};

/* One section of the document: the faults of a provider, or the global ones. */
struct bs_fault_cfg {
    double drop;
    int64_t delay_min_ms, delay_max_ms;
    double dup_p;
    int64_t dup_min, dup_max;
    int64_t reorder_window, reorder_hold_ms;
    double late_p;
    int64_t late_after_ms;
    double forge_p;
    int64_t api_slow_min_ms, api_slow_max_ms;
    double api_fail, api_timeout;
    int64_t api_timeout_ms;
    double create_fail;
    int forge_kind;
    bool set;
    bool create_5xx;
};

/* Callbacks held for reordering, per provider. */
struct bs_reorder {
    struct bs_faults_state *st;
    struct bs_delivery *held[BS_REORDER_WINDOW_MAX];
    size_t n;
    struct event *timer;
};

/* A query/refund answer sent late, or never. */
struct bs_deferred {
    struct bs_deferred *prev, *next;
    struct bs_faults_state *st;
    struct evhttp_request *req; /* NULL once the client closed */
    struct event *timer;
    int status;
    char *body;
    size_t len;
};

struct bs_faults_state {
    struct bs_sim *sim;
    uint64_t rng;
    struct bs_fault_cfg global;
    struct bs_fault_cfg prov[BS_PROV_N];
    struct bs_reorder reorder[BS_PROV_N];
    struct bs_deferred *deferred;
    size_t n_deferred;
    /* The decision of bs_fault_api_begin for the request being handled. */
    struct evhttp_request *api_req;
    int64_t api_slow_ms;
    bool api_never;
    int64_t api_timeout_ms;
    char doc[BS_FAULTS_DOC_BYTES_MAX + 1]; /* the last document applied */
};

static const char *const bs_prov_names[BS_PROV_N] = {
    [BS_PROV_SANDBOX] = "sandbox",
    [BS_PROV_VNPAY] = "vnpay",
    [BS_PROV_MOMO] = "momo",
    [BS_PROV_ZALOPAY] = "zalopay",
};

/* ---- the generator ---- */

static uint64_t bs_fault_next(struct bs_faults_state *st)
{
    uint64_t z = (st->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double bs_fault_u01(struct bs_faults_state *st)
{
    return (double)(bs_fault_next(st) >> 11) * 0x1.0p-53;
}

/* Uniform in [lo, hi] from u in [0, 1). */
static int64_t bs_fault_pick(double u, int64_t lo, int64_t hi)
{
    if (hi <= lo) {
        return lo;
    }
    int64_t v = lo + (int64_t)(u * (double)(hi - lo + 1));
    return v > hi ? hi : v;
}

static void bs_fault_seed(struct bs_faults_state *st, uint64_t seed)
{
    st->rng = seed ^ 0x6a09e667f3bcc909u; /* a stream apart from the transaction ids */
}

/* The section in force for prov: its own when set, else the global one. */
static const struct bs_fault_cfg *bs_fault_cfg(const struct bs_faults_state *st, enum bs_prov prov)
{
    return st->prov[prov].set ? &st->prov[prov] : &st->global;
}

/* ---- parsing the document ---- */

static enum gw_err bs_fault_prob(json_t *o, const char *key, double *out, struct gw_errbuf *eb)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return GW_OK;
    }
    double p = json_number_value(v);
    if (!json_is_number(v) || !(p >= 0.0 && p <= 1.0)) {
        return gw_fail(eb, GW_ERR_INVALID, "%s must be a probability between 0 and 1", key);
    }
    *out = p;
    return GW_OK;
}

static enum gw_err bs_fault_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *out,
                                struct gw_errbuf *eb)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return GW_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return gw_fail(eb, GW_ERR_INVALID, "%s must be an integer from %" PRId64 " to %" PRId64,
                       key, min, max);
    }
    *out = (int64_t)json_integer_value(v);
    return GW_OK;
}

/* [min, max] in milliseconds, or a single number for both. */
static enum gw_err bs_fault_range(json_t *o, const char *key, int64_t *lo, int64_t *hi,
                                  struct gw_errbuf *eb)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return GW_OK;
    }
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0 || json_integer_value(v) > BS_FAULT_MS_MAX) {
            return gw_fail(eb, GW_ERR_INVALID, "%s must be within one hour", key);
        }
        *lo = *hi = (int64_t)json_integer_value(v);
        return GW_OK;
    }
    json_t *a = json_array_get(v, 0);
    json_t *b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(a) ||
        !json_is_integer(b) || json_integer_value(a) < 0 ||
        json_integer_value(a) > json_integer_value(b) || json_integer_value(b) > BS_FAULT_MS_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "%s must be [min_ms, max_ms] within one hour", key);
    }
    *lo = (int64_t)json_integer_value(a);
    *hi = (int64_t)json_integer_value(b);
    return GW_OK;
}

static enum gw_err bs_fault_parse_callbacks(json_t *o, struct bs_fault_cfg *c, struct gw_errbuf *eb)
{
    enum gw_err err = bs_fault_prob(o, "drop", &c->drop, eb);
    if (err == GW_OK) {
        err = bs_fault_range(o, "delay_ms", &c->delay_min_ms, &c->delay_max_ms, eb);
    }
    json_t *dup = json_object_get(o, "duplicate");
    if (err == GW_OK && dup != NULL) {
        c->dup_p = 1.0;
        c->dup_min = 1;
        c->dup_max = 1;
        err = bs_fault_prob(dup, "p", &c->dup_p, eb);
        if (err == GW_OK) {
            err = bs_fault_int(dup, "min", 1, BS_DUPLICATES_MAX, &c->dup_min, eb);
        }
        if (err == GW_OK) {
            err = bs_fault_int(dup, "max", 1, BS_DUPLICATES_MAX, &c->dup_max, eb);
        }
        if (err == GW_OK && c->dup_min > c->dup_max) {
            err = gw_fail(eb, GW_ERR_INVALID, "duplicate.min must not exceed duplicate.max");
        }
    }
    json_t *re = json_object_get(o, "reorder");
    if (err == GW_OK && re != NULL) {
        c->reorder_window = 10;
        c->reorder_hold_ms = 500;
        err = bs_fault_int(re, "window", 1, BS_REORDER_WINDOW_MAX, &c->reorder_window, eb);
        if (err == GW_OK) {
            err = bs_fault_int(re, "hold_ms", 1, BS_FAULT_MS_MAX, &c->reorder_hold_ms, eb);
        }
    }
    json_t *late = json_object_get(o, "late");
    if (err == GW_OK && late != NULL) {
        c->late_p = 1.0;
        err = bs_fault_prob(late, "p", &c->late_p, eb);
        if (err == GW_OK) {
            err = bs_fault_int(late, "after_ms", 0, BS_FAULT_MS_MAX, &c->late_after_ms, eb);
        }
    }
    return err;
}

static enum gw_err bs_fault_parse_forge(json_t *o, struct bs_fault_cfg *c, struct gw_errbuf *eb)
{
    json_t *f = json_object_get(o, "forge");
    if (f == NULL) {
        return GW_OK;
    }
    c->forge_p = 1.0;
    c->forge_kind = BS_FORGE_KIND_BOTH;
    enum gw_err err = bs_fault_prob(f, "p", &c->forge_p, eb);
    json_t *kind = json_object_get(f, "kind");
    if (err != GW_OK || kind == NULL) {
        return err;
    }
    const char *k = json_string_value(kind);
    if (k != NULL && strcmp(k, "signature") == 0) {
        c->forge_kind = BS_FORGE_KIND_SIGNATURE;
    } else if (k != NULL && strcmp(k, "amount") == 0) {
        c->forge_kind = BS_FORGE_KIND_AMOUNT;
    } else if (k != NULL && strcmp(k, "both") == 0) {
        c->forge_kind = BS_FORGE_KIND_BOTH;
    } else {
        return gw_fail(eb, GW_ERR_INVALID, "forge.kind must be signature, amount or both");
    }
    return GW_OK;
}

static enum gw_err bs_fault_parse_api(json_t *o, struct bs_fault_cfg *c, struct gw_errbuf *eb)
{
    json_t *q = json_object_get(o, "query");
    enum gw_err err = GW_OK;
    c->api_timeout_ms = BS_API_TIMEOUT_MS_DFLT;
    if (q != NULL) {
        err = bs_fault_range(q, "slow_ms", &c->api_slow_min_ms, &c->api_slow_max_ms, eb);
        if (err == GW_OK) {
            err = bs_fault_prob(q, "fail", &c->api_fail, eb);
        }
        if (err == GW_OK) {
            err = bs_fault_prob(q, "timeout", &c->api_timeout, eb);
        }
        if (err == GW_OK) {
            err = bs_fault_int(q, "timeout_ms", 1, BS_FAULT_MS_MAX, &c->api_timeout_ms, eb);
        }
    }
    json_t *cr = json_object_get(o, "create");
    if (err == GW_OK && cr != NULL) {
        err = bs_fault_prob(cr, "fail", &c->create_fail, eb);
        const char *mode = json_string_value(json_object_get(cr, "mode"));
        c->create_5xx = mode == NULL || strcmp(mode, "5xx") == 0;
        if (err == GW_OK && mode != NULL && strcmp(mode, "5xx") != 0 &&
            strcmp(mode, "error") != 0) {
            err = gw_fail(eb, GW_ERR_INVALID, "create.mode must be 5xx or error");
        }
    }
    return err;
}

static enum gw_err bs_fault_parse_section(json_t *o, const char *name, struct bs_fault_cfg *c,
                                          struct gw_errbuf *eb)
{
    memset(c, 0, sizeof(*c));
    if (!json_is_object(o)) {
        return gw_fail(eb, GW_ERR_INVALID, "%s must be an object", name);
    }
    static const char *const known[] = { "drop", "delay_ms", "duplicate", "reorder",
                                         "late", "forge",    "query",     "create" };
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            ok = ok || strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            return gw_fail(eb, GW_ERR_INVALID, "%s: unknown fault %s", name, key);
        }
    }
    c->set = true;
    enum gw_err err = bs_fault_parse_callbacks(o, c, eb);
    if (err == GW_OK) {
        err = bs_fault_parse_forge(o, c, eb);
    }
    if (err == GW_OK) {
        err = bs_fault_parse_api(o, c, eb);
    }
    return err;
}

/* Parses every section into next (a copy of the state's configuration). */
static enum gw_err bs_faults_parse(struct bs_faults_state *st, json_t *doc,
                                   struct bs_fault_cfg next[BS_PROV_N + 1], bool *reseed,
                                   uint64_t *seed, struct gw_errbuf *eb)
{
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        enum gw_err err = GW_OK;
        if (strcmp(key, "seed") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                return gw_fail(eb, GW_ERR_INVALID, "seed must be a non-negative integer");
            }
            *reseed = true;
            *seed = (uint64_t)json_integer_value(v);
        } else if (strcmp(key, "reset") == 0) {
            if (json_is_true(v)) {
                memset(next, 0, sizeof(*next) * (BS_PROV_N + 1));
            }
        } else if (strcmp(key, "global") == 0) {
            err = bs_fault_parse_section(v, key, &next[BS_PROV_N], eb);
        } else {
            size_t p = 0;
            while (p < BS_PROV_N && strcmp(key, bs_prov_names[p]) != 0) {
                p++;
            }
            if (p == BS_PROV_N || p == BS_PROV_SANDBOX) {
                return gw_fail(eb, GW_ERR_INVALID, "unknown section %s", key);
            }
            if (json_is_null(v)) {
                memset(&next[p], 0, sizeof(next[p]));
            } else {
                err = bs_fault_parse_section(v, key, &next[p], eb);
            }
        }
        if (err != GW_OK) {
            return err;
        }
    }
    (void)st;
    return GW_OK;
}

enum gw_err bs_faults_set(struct bs_sim *sim, const char *json, size_t len, struct gw_errbuf *eb)
{
    struct bs_faults_state *st = sim->faults;
    if (len > BS_FAULTS_DOC_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_LIMIT, "faults document too large");
    }
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return gw_fail(eb, GW_ERR_INVALID, "faults must be a JSON object");
    }
    struct bs_fault_cfg next[BS_PROV_N + 1];
    memcpy(next, st->prov, sizeof(st->prov));
    next[BS_PROV_N] = st->global;
    bool reseed = false;
    uint64_t seed = 0;
    enum gw_err err = bs_faults_parse(st, doc, next, &reseed, &seed, eb);
    json_decref(doc);
    if (err != GW_OK) {
        return err;
    }
    memcpy(st->prov, next, sizeof(st->prov));
    st->global = next[BS_PROV_N];
    if (reseed) {
        bs_fault_seed(st, seed);
    }
    memcpy(st->doc, json, len);
    st->doc[len] = '\0';
    gw_log_info("faults_set", "\"reseeded\":%s", reseed ? "true" : "false");
    return GW_OK;
}

/* ---- callbacks ---- */

void bs_fault_plan(struct bs_sim *sim, enum bs_prov prov, bool success, int64_t expires_ms,
                   struct bs_plan *plan)
{
    struct bs_faults_state *st = sim->faults;
    const struct bs_fault_cfg *c = bs_fault_cfg(st, prov);
    /* Always the same draws, in the same order, whatever is configured. */
    double u_drop = bs_fault_u01(st);
    double u_dup = bs_fault_u01(st);
    double u_dupn = bs_fault_u01(st);
    double u_delay = bs_fault_u01(st);
    double u_late = bs_fault_u01(st);
    double u_forge = bs_fault_u01(st);
    double u_kind = bs_fault_u01(st);
    memset(plan, 0, sizeof(*plan));
    sim->pstats[prov].callbacks++;
    plan->drop = u_drop < c->drop;
    plan->copies = 1;
    if (u_dup < c->dup_p && c->dup_max > 0) {
        plan->copies += (unsigned)bs_fault_pick(u_dupn, c->dup_min, c->dup_max);
    }
    if (c->delay_max_ms > 0) {
        plan->delay_ms = bs_fault_pick(u_delay, c->delay_min_ms, c->delay_max_ms);
    }
    plan->reorder = c->reorder_window > 0;
    if (success && expires_ms > 0 && u_late < c->late_p) {
        plan->not_before_ms = expires_ms + c->late_after_ms;
    }
    if (u_forge < c->forge_p) {
        if (c->forge_kind == BS_FORGE_KIND_SIGNATURE) {
            plan->forge = BS_FORGE_SIGNATURE;
        } else if (c->forge_kind == BS_FORGE_KIND_AMOUNT) {
            plan->forge = BS_FORGE_AMOUNT;
        } else {
            plan->forge = u_kind < 0.5 ? BS_FORGE_SIGNATURE : BS_FORGE_AMOUNT;
        }
    }
}

/* Starts every held callback of r, in an order shuffled by the generator. */
static void bs_reorder_flush(struct bs_faults_state *st, struct bs_reorder *r)
{
    for (size_t i = r->n; i > 1; i--) {
        size_t j = (size_t)(bs_fault_next(st) % i);
        struct bs_delivery *tmp = r->held[i - 1];
        r->held[i - 1] = r->held[j];
        r->held[j] = tmp;
    }
    size_t n = r->n;
    r->n = 0;
    (void)evtimer_del(r->timer);
    for (size_t i = 0; i < n; i++) {
        bs_delivery_release(r->held[i]);
    }
}

static void bs_reorder_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct bs_reorder *r = arg;
    bs_reorder_flush(r->st, r);
}

static void bs_ms_to_tv(int64_t ms, struct timeval *tv)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* Holds d for reordering; flushes when the window is full. */
static void bs_reorder_hold(struct bs_faults_state *st, enum bs_prov prov, struct bs_delivery *d)
{
    const struct bs_fault_cfg *c = bs_fault_cfg(st, prov);
    struct bs_reorder *r = &st->reorder[prov];
    GW_ASSERT(r->n < BS_REORDER_WINDOW_MAX);
    r->held[r->n++] = d;
    if (r->n == 1) {
        struct timeval tv;
        bs_ms_to_tv(c->reorder_hold_ms, &tv);
        GW_ASSERT(evtimer_add(r->timer, &tv) == 0);
    }
    if (r->n >= (size_t)c->reorder_window || r->n == BS_REORDER_WINDOW_MAX) {
        bs_reorder_flush(st, r);
    }
}

enum gw_err bs_send(struct bs_sim *sim, const struct bs_callback *cb, const struct bs_plan *plan,
                    struct evhttp_request *browser, const char *location, struct gw_errbuf *eb)
{
    struct bs_faults_state *st = sim->faults;
    struct bs_pstats *ps = &sim->pstats[cb->prov];
    if (plan->drop) {
        ps->dropped++;
        gw_log_info("callback_dropped", "\"merchant_ref\":\"%s\"", cb->merchant_ref);
        if (browser != NULL) {
            bs_reply_redirect(browser, location);
        }
        return GW_OK;
    }
    int64_t delay_ms = plan->delay_ms;
    if (plan->not_before_ms > 0) {
        /* A timer runs from the loop's cached time, taken when this iteration woke up; the
         * wait is measured from the clock now. Refresh the cache so both agree, or a slow
         * iteration would deliver a "late" callback that many ms before its promised time. */
        (void)event_base_update_cache_time(sim->base);
        int64_t wait_ms = plan->not_before_ms - gw_now_ms();
        delay_ms = wait_ms > delay_ms ? wait_ms : delay_ms;
        ps->late++;
    } else if (delay_ms > 0) {
        ps->delayed++;
    }
    bool at_once = delay_ms <= 0 && !plan->reorder;
    if (plan->reorder) {
        ps->reordered++;
    }
    ps->duplicated += plan->copies - 1;
    for (unsigned i = 0; i < plan->copies; i++) {
        struct bs_deliver_how how = {
            .cb = cb,
            .browser = i == 0 && at_once ? browser : NULL,
            .location = location,
            .delay_ms = delay_ms,
            .held = plan->reorder && delay_ms <= 0,
        };
        struct bs_delivery *d = NULL;
        enum gw_err err = bs_deliver_ex(sim, &how, &d, eb);
        if (err != GW_OK) {
            if (i == 0) {
                return err;
            }
            break; /* the genuine copy is on its way; the extra ones are best effort */
        }
        if (how.held) {
            bs_reorder_hold(st, cb->prov, d);
        }
    }
    if (!at_once && browser != NULL) {
        bs_reply_redirect(browser, location);
    }
    return GW_OK;
}

void bs_send_forged(struct bs_sim *sim, const struct bs_callback *cb)
{
    struct bs_callback forged = *cb;
    forged.attempts_max = 1;
    struct gw_errbuf eb;
    const struct bs_deliver_how how = { .cb = &forged };
    if (bs_deliver_ex(sim, &how, NULL, &eb) == GW_OK) {
        sim->pstats[cb->prov].forged++;
    } else {
        gw_log_warn("forged_not_sent", "\"reason\":\"%s\"", eb.msg);
    }
}

bool bs_fault_create(struct bs_sim *sim, enum bs_prov prov, bool *as_5xx)
{
    struct bs_faults_state *st = sim->faults;
    const struct bs_fault_cfg *c = bs_fault_cfg(st, prov);
    double u = bs_fault_u01(st);
    *as_5xx = c->create_5xx;
    if (u < c->create_fail) {
        sim->pstats[prov].create_failed++;
        return true;
    }
    return false;
}

/* ---- query and refund calls ---- */

static void bs_deferred_free(struct bs_deferred *d)
{
    struct bs_faults_state *st = d->st;
    if (d->prev != NULL) {
        d->prev->next = d->next;
    } else {
        st->deferred = d->next;
    }
    if (d->next != NULL) {
        d->next->prev = d->prev;
    }
    st->n_deferred--;
    if (d->req != NULL) {
        evhttp_connection_set_closecb(evhttp_request_get_connection(d->req), NULL, NULL);
    }
    event_free(d->timer);
    gw_xfree(d->body);
    gw_xfree(d);
}

/* The client went away: its request is gone with the connection. */
static void bs_deferred_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    struct bs_deferred *d = arg;
    d->req = NULL;
}

static void bs_deferred_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct bs_deferred *d = arg;
    if (d->req != NULL) {
        struct evhttp_request *req = d->req;
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
        d->req = NULL;
        bs_reply(req, d->status, "application/json", d->body, d->len);
    }
    bs_deferred_free(d);
}

/* Answers req after delay_ms with status and body (copied). */
static void bs_defer(struct bs_faults_state *st, struct evhttp_request *req, int64_t delay_ms,
                     int status, const char *body, size_t len)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (st->n_deferred >= BS_DEFERRED_MAX || evcon == NULL) {
        bs_reply(req, status, "application/json", body, len);
        return;
    }
    struct bs_deferred *d = gw_xcalloc(1, sizeof(*d));
    d->st = st;
    d->req = req;
    d->status = status;
    d->body = gw_xmalloc(len + 1);
    memcpy(d->body, body, len);
    d->body[len] = '\0';
    d->len = len;
    d->timer = evtimer_new(st->sim->base, bs_deferred_timer_cb, d);
    GW_ASSERT(d->timer != NULL);
    d->next = st->deferred;
    if (d->next != NULL) {
        d->next->prev = d;
    }
    st->deferred = d;
    st->n_deferred++;
    evhttp_connection_set_closecb(evcon, bs_deferred_closed, d);
    struct timeval tv;
    bs_ms_to_tv(delay_ms, &tv);
    GW_ASSERT(evtimer_add(d->timer, &tv) == 0);
}

bool bs_fault_api_begin(struct bs_sim *sim, enum bs_prov prov, struct evhttp_request *req)
{
    struct bs_faults_state *st = sim->faults;
    const struct bs_fault_cfg *c = bs_fault_cfg(st, prov);
    double u_fail = bs_fault_u01(st);
    double u_timeout = bs_fault_u01(st);
    double u_slow = bs_fault_u01(st);
    st->api_req = req;
    st->api_never = false;
    st->api_slow_ms = 0;
    st->api_timeout_ms = c->api_timeout_ms > 0 ? c->api_timeout_ms : BS_API_TIMEOUT_MS_DFLT;
    if (u_fail < c->api_fail) {
        sim->pstats[prov].api_failed++;
        st->api_req = NULL;
        static const char body[] = "{\"error\":\"simulated failure\"}";
        bs_reply(req, 503, "application/json", body, sizeof(body) - 1);
        return false;
    }
    if (u_timeout < c->api_timeout) {
        st->api_never = true;
        sim->pstats[prov].api_timeout++;
    } else if (c->api_slow_max_ms > 0) {
        st->api_slow_ms = bs_fault_pick(u_slow, c->api_slow_min_ms, c->api_slow_max_ms);
        sim->pstats[prov].api_slow++;
    }
    return true;
}

void bs_api_reply(struct bs_sim *sim, enum bs_prov prov, struct evhttp_request *req,
                  const char *body, size_t len)
{
    (void)prov;
    struct bs_faults_state *st = sim->faults;
    bool mine = st->api_req == req;
    st->api_req = NULL;
    if (mine && st->api_never) {
        /* Processed, but the answer never comes: the caller's timeout fires first. */
        static const char gone[] = "{\"error\":\"simulated timeout\"}";
        bs_defer(st, req, st->api_timeout_ms, 504, gone, sizeof(gone) - 1);
    } else if (mine && st->api_slow_ms > 0) {
        bs_defer(st, req, st->api_slow_ms, 200, body, len);
    } else {
        bs_reply(req, 200, "application/json", body, len);
    }
}

/* ---- routes ---- */

static enum gw_err bs_stats_one(struct gw_buf *b, const char *name, const struct bs_pstats *p)
{
    enum gw_err err =
        gw_buf_printf(b,
                      "\"%s\":{\"callbacks\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"retried\":%" PRIu64
                      ",\"given_up\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"duplicated\":%" PRIu64
                      ",\"delayed\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"late\":%" PRIu64
                      ",\"forged\":%" PRIu64 ",\"no_answer\":%" PRIu64 ",\"api_failed\":%" PRIu64
                      ",\"api_slow\":%" PRIu64 ",\"api_timeout\":%" PRIu64
                      ",\"create_failed\":%" PRIu64 ",\"answers\":{",
                      name, p->callbacks, p->sent, p->retried, p->given_up, p->dropped,
                      p->duplicated, p->delayed, p->reordered, p->late, p->forged, p->no_answer,
                      p->api_failed, p->api_slow, p->api_timeout, p->create_failed);
    for (size_t i = 0; i < p->n_codes && err == GW_OK; i++) {
        err = gw_buf_printf(b, "%s\"", i > 0 ? "," : "");
        if (err == GW_OK) {
            err = gw_buf_add_json_escaped(b, p->codes[i].code);
        }
        if (err == GW_OK) {
            err = gw_buf_printf(b, "\":%" PRIu64, p->codes[i].n);
        }
    }
    if (err == GW_OK) {
        err = gw_buf_adds(b, "}}");
    }
    return err;
}

/* GET /_stats: the counters per provider, and the sandbox's. */
static void bs_stats_cb(struct evhttp_request *req, void *arg)
{
    struct bs_sim *sim = arg;
    struct gw_buf b;
    gw_buf_init(&b, (size_t)64 * 1024);
    enum gw_err err = gw_buf_adds(&b, "{");
    for (size_t p = 0; p < BS_PROV_N && err == GW_OK; p++) {
        if (p > 0) {
            err = gw_buf_adds(&b, ",");
        }
        if (err == GW_OK) {
            err = bs_stats_one(&b, bs_prov_names[p], &sim->pstats[p]);
        }
    }
    if (err == GW_OK) {
        err = gw_buf_printf(
            &b,
            ",\"in_progress\":%zu,\"sandbox_callbacks\":{\"sent\":%" PRIu64 ",\"acked\":%" PRIu64
            ",\"refused\":%" PRIu64 ",\"given_up\":%" PRIu64 "}}\n",
            sim->deliveries_alive, sim->stats.callbacks_sent, sim->stats.callbacks_acked,
            sim->stats.callbacks_refused, sim->stats.callbacks_given_up);
    }
    GW_ASSERT(err == GW_OK);
    bs_reply(req, 200, "application/json", b.data, b.len);
    gw_buf_release(&b);
}

/* POST /_faults sets (JSON document, README.md); GET /_faults shows the last one. */
static void bs_faults_cb(struct evhttp_request *req, void *arg)
{
    struct bs_sim *sim = arg;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        const char *doc = sim->faults->doc[0] != '\0' ? sim->faults->doc : "{}";
        bs_reply(req, 200, "application/json", doc, strlen(doc));
        return;
    }
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)64 * 1024);
    char *body = NULL;
    size_t len = 0;
    struct gw_errbuf eb = { .msg = "body too large" };
    enum gw_err err = bs_request_body(req, &a, &body, &len);
    if (err == GW_OK) {
        err = bs_faults_set(sim, body, len, &eb);
    }
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    if (err == GW_OK) {
        GW_ASSERT(gw_buf_adds(&b, "{\"ok\":true}") == GW_OK);
    } else if (gw_buf_adds(&b, "{\"error\":\"") != GW_OK ||
               gw_buf_add_json_escaped(&b, eb.msg) != GW_OK || gw_buf_adds(&b, "\"}") != GW_OK) {
        gw_buf_reset(&b);
    }
    bs_reply(req, err == GW_OK ? 200 : 400, "application/json", b.data, b.len);
    gw_buf_release(&b);
    gw_arena_release(&a);
}

void bs_faults_routes(struct bs_sim *sim)
{
    GW_ASSERT(evhttp_set_cb(sim->http, "/_faults", bs_faults_cb, sim) == 0);
    GW_ASSERT(evhttp_set_cb(sim->http, "/_stats", bs_stats_cb, sim) == 0);
}

void bs_faults_new(struct bs_sim *sim)
{
    GW_ASSERT(sim->faults == NULL);
    struct bs_faults_state *st = gw_xcalloc(1, sizeof(*st));
    st->sim = sim;
    bs_fault_seed(st, sim->opts->seed);
    for (size_t p = 0; p < BS_PROV_N; p++) {
        st->reorder[p].st = st;
        st->reorder[p].timer = evtimer_new(sim->base, bs_reorder_timer_cb, &st->reorder[p]);
        GW_ASSERT(st->reorder[p].timer != NULL);
    }
    sim->faults = st;
}

/* Held callbacks belong to the pool (bs_pool_free frees them): only forget them here. */
void bs_faults_free(struct bs_sim *sim)
{
    struct bs_faults_state *st = sim->faults;
    if (st == NULL) {
        return;
    }
    while (st->deferred != NULL) {
        bs_deferred_free(st->deferred);
    }
    for (size_t p = 0; p < BS_PROV_N; p++) {
        event_free(st->reorder[p].timer);
    }
    gw_xfree(st);
    sim->faults = NULL;
}
