/* Two gateways behind HAProxy on one database (docs/operations.md#two-gateways-behind-haproxy):
 * HAProxy on 127.0.0.1 balances two `feegate serve` processes (health check /readyz), the
 * simulator plays all four providers and calls back through HAProxy, and the portal's webhooks
 * go to feegate-sink. Portal-and-browser workers pay through every provider; meanwhile one
 * gateway (the one holding the scheduled ledger check) is killed with SIGKILL. The workers
 * retry only what failed in flight, with the same Idempotency-Key. Then, within a bound: every
 * acknowledged payment exists once and succeeded, each success is booked once, every receipt
 * is signed once, every webhook was delivered (and reached the sink), the surviving gateway
 * took over the receipt jobs (and outbox rows, when the kill caught one mid-delivery) the dead
 * one had leased, once their leases ran out, and the ledger check, and `feegate ledger check`
 * passes. */
/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_time.h"
#include "it.h"

#ifndef TWO_GW_PAYMENTS_EACH
#define TWO_GW_PAYMENTS_EACH 24 /* per worker */
#endif
#define WORKERS          8
#define KILL_AFTER       40     /* payments completed before the kill */
#define TRIES_MAX        60     /* per step; a step is retried only when it failed in flight */
#define TRY_PAUSE_MS     250    /* between tries: HAProxy marks a dead server down in ~1 s */
#define DRAIN_MS         150000 /* leases (60 s) run out, then the survivor's jobs finish */
#define PAYMENTS_MAX     ((int)(WORKERS * TWO_GW_PAYMENTS_EACH))
#define CHECK_INTERVAL_S 2

#define VN_TMN     "FGTEST01"
#define VN_SECRET  "vnp-test-secret-6b1d9a"
#define MM_PARTNER "MOMOFG01"
#define MM_ACCESS  "mm-access-3c7a"
#define MM_SECRET  "mm-secret-key-0e4f51"
#define ZP_APP     "2553"
#define ZP_KEY1    "zp-key1-9d2c7b"
#define ZP_KEY2    "zp-key2-41e8a0"

static const char *const channels[4] = { "sandbox", "vnpay", "momo", "zalopay" };

static struct {
    struct th_gateway gw[2];
    struct th_proc haproxy;
    struct th_proc sink;
    int hp_port;
    char hp_url[64];
    char dir[64]; /* haproxy.cfg and the sink's file */
    char ini[2][4096];
    char sink_out[128];
    atomic_int completed;
    atomic_int retried; /* steps tried again after failing in flight */
    atomic_int failed;  /* payments a worker gave up on */
    pthread_mutex_t lock;
    int n_acked;
    char acked[PAYMENTS_MAX][40]; /* payment ids the portal got a 201 for */
} two;

/* ---- the workers: a portal and a browser ---- */

/* No answer, or HAProxy's (or a draining gateway's) 502, 503 or 504: worth trying again. */
static bool in_flight_failure(enum gw_err err, const struct th_resp *r)
{
    return err != GW_OK || r->status == 502 || r->status == 503 || r->status == 504;
}

/* POST /v1/payments with the payment's own key until answered 201; the id into id. */
static bool create(int k, char id[40])
{
    char ref[64];
    char key[64];
    char body[1024];
    (void)snprintf(ref, sizeof(ref), "TG-%d-%d", getpid(), k);
    (void)snprintf(key, sizeof(key), "tg-%d-%d", getpid(), k);
    (void)it_create_body(body, sizeof(body), ref);
    for (int t = 0; t < TRIES_MAX; t++) {
        struct th_resp r;
        enum gw_err err = th_portal("POST", "/v1/payments", body, key, &r);
        if (!in_flight_failure(err, &r)) {
            json_t *j = r.status == 201 ? json_loads(r.body, 0, NULL) : NULL;
            const char *pid = json_string_value(json_object_get(j, "payment_id"));
            bool ok = pid != NULL && strlen(pid) < 40;
            if (ok) {
                (void)snprintf(id, 40, "%s", pid);
            } else {
                fprintf(stderr, "create %d answered %d: %.300s\n", k, r.status, r.body);
            }
            json_decref(j);
            th_resp_release(&r);
            return ok;
        }
        th_resp_release(&r);
        atomic_fetch_add(&two.retried, 1);
        (void)usleep(TRY_PAUSE_MS * 1000);
    }
    return false;
}

/* One browser request through HAProxy and the status it must get; Location into next
 * (next_cap bytes) when next is not NULL. */
struct step {
    const char *method;
    const char *url;
    const char *form; /* or NULL */
    int want;
    char *next;
    size_t next_cap;
};

/* Whether r is the answer step wants; says why not. */
static bool step_answered(const struct step *st, const struct th_resp *r)
{
    bool ok = r->status == st->want && (st->next == NULL || r->location != NULL);
    if (ok && st->next != NULL) {
        (void)snprintf(st->next, st->next_cap, "%s", r->location);
    }
    if (!ok) {
        fprintf(stderr, "%s %s answered %d: %.300s\n", st->method, st->url, r->status, r->body);
    }
    return ok;
}

/* The step, tried again only when it failed in flight. */
static bool browse(const struct step *st)
{
    static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    for (int t = 0; t < TRIES_MAX; t++) {
        struct th_resp r;
        enum gw_err err = th_http(st->method, st->url, st->form != NULL ? hdrs : NULL, st->form,
                                  st->form != NULL ? strlen(st->form) : 0, &r);
        if (!in_flight_failure(err, &r)) {
            bool ok = step_answered(st, &r);
            th_resp_release(&r);
            return ok;
        }
        th_resp_release(&r);
        atomic_fetch_add(&two.retried, 1);
        (void)usleep(TRY_PAUSE_MS * 1000);
    }
    fprintf(stderr, "%s %s: no answer after %d tries\n", st->method, st->url, TRIES_MAX);
    return false;
}

/* A whole payment: created by the portal, paid by the citizen through channel k % 4. */
static bool pay(int k)
{
    char id[40];
    if (!create(k, id)) {
        return false;
    }
    pthread_mutex_lock(&two.lock);
    (void)snprintf(two.acked[two.n_acked++], 40, "%s", id);
    pthread_mutex_unlock(&two.lock);
    char url[2048];
    char page[2048];
    char back[2048];
    char form[32];
    (void)snprintf(url, sizeof(url), "%s/pay/%s", two.hp_url, id);
    (void)snprintf(form, sizeof(form), "channel=%s", channels[k % 4]);
    /* The provider's page (the simulator does not fail), the approval, then back. */
    const struct step checkout = { "POST", url, form, 303, page, sizeof(page) };
    const struct step bank_page = { "GET", page, NULL, 200, NULL, 0 };
    const struct step approve = { "POST", page, "action=approve", 303, back, sizeof(back) };
    const struct step ret = { "GET", back, NULL, 200, NULL, 0 };
    return browse(&checkout) && browse(&bank_page) && browse(&approve) &&
           strncmp(back, two.hp_url, strlen(two.hp_url)) == 0 && browse(&ret);
}

static void *worker_main(void *arg)
{
    int w = *(const int *)arg;
    for (int i = 0; i < TWO_GW_PAYMENTS_EACH; i++) {
        if (pay(w * 1000 + i)) {
            atomic_fetch_add(&two.completed, 1);
        } else {
            atomic_fetch_add(&two.failed, 1);
        }
    }
    return NULL;
}

/* ---- the system ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
        port = ntohs(sa.sin_port);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    return port;
}

static long long metric(const struct th_gateway *gw, const char *name)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/metrics", gw->url);
    struct th_resp r;
    long long v = -1;
    if (th_http("GET", url, NULL, NULL, 0, &r) == GW_OK && r.status == 200) {
        char pat[96];
        (void)snprintf(pat, sizeof(pat), "\n%s ", name);
        const char *p = strstr(r.body, pat);
        if (p != NULL) {
            v = strtoll(p + strlen(pat), NULL, 10);
        }
    }
    th_resp_release(&r);
    return v;
}

static int write_haproxy_cfg(void)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/haproxy.cfg", two.dir);
    FILE *f = fopen(path, "we");
    if (f == NULL) {
        return -1;
    }
    /* The file docs/operations.md shows, with the test's ports and quicker checks. */
    (void)fprintf(
        f,
        "global\n    maxconn 2048\n"
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n"
        "    timeout server 30s\n    retries 3\n    option redispatch\n"
        "    default-server inter 500ms fall 2 rise 2\n"
        "frontend feegate\n    bind 127.0.0.1:%d\n"
        "    use_backend feegate_api if { path_beg /v1/ }\n"
        "    default_backend feegate_pages\n"
        "backend feegate_api\n    balance roundrobin\n    option httpchk GET /readyz\n"
        "    http-error status 502 content-type application/json string "
        "'{\"error\":{\"code\":\"unavailable\",\"message\":\"the gateway did not answer: "
        "retry with the same Idempotency-Key\"}}'\n"
        "    http-error status 503 content-type application/json string "
        "'{\"error\":{\"code\":\"unavailable\",\"message\":\"no gateway is available: "
        "retry with the same Idempotency-Key\"}}'\n"
        "    http-error status 504 content-type application/json string "
        "'{\"error\":{\"code\":\"unavailable\",\"message\":\"the gateway did not answer in "
        "time: retry with the same Idempotency-Key\"}}'\n"
        "    http-after-response set-status 503 if { status 502 } || { status 504 }\n"
        "    server gw1 127.0.0.1:%d check\n    server gw2 127.0.0.1:%d check\n"
        "backend feegate_pages\n    balance roundrobin\n    option httpchk GET /readyz\n"
        "    server gw1 127.0.0.1:%d check\n    server gw2 127.0.0.1:%d check\n",
        two.hp_port, two.gw[0].port, two.gw[1].port, two.gw[0].port, two.gw[1].port);
    return fclose(f) == 0 ? 0 : -1;
}

static int start_banksim(void)
{
    char ipn[96];
    (void)snprintf(ipn, sizeof(ipn), "%s/ipn/vnpay", two.hp_url);
    const char *const args[] = {
        "--vnpay-tmn",
        VN_TMN,
        "--vnpay-secret",
        VN_SECRET,
        "--vnpay-ipn-url",
        ipn,
        "--momo-partner",
        MM_PARTNER,
        "--momo-access-key",
        MM_ACCESS,
        "--momo-secret-key",
        MM_SECRET,
        "--zalopay-app-id",
        ZP_APP,
        "--zalopay-key1",
        ZP_KEY1,
        "--zalopay-key2",
        ZP_KEY2,
        "--callback-interval-ms",
        "200",
        NULL,
    };
    return th_banksim_start_args(&it.bs, args) == GW_OK ? 0 : -1;
}

static int start_gateway(int i)
{
    const char *u = it.bs.url;
    (void)snprintf(two.ini[i], sizeof(two.ini[i]),
                   "[server]\npublic_url = %s\n[jobs]\nledger_check_interval_s = %d\n"
                   "[receipts]\ncert = %s/ca/signer.pem\nkey = %s/ca/signer.key\n"
                   "ca = %s/ca/ca.pem\n"
                   "[channel.vnpay]\nmerchant_id = %s\nsecret = %s\n"
                   "endpoint_url = %s/vnpay/paymentv2/vpcpay.html\n"
                   "api_url = %s/vnpay/merchant_webapi/api/transaction\n"
                   "[channel.momo]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/momo/v2/gateway/api\n"
                   "[channel.zalopay]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/zalopay\n",
                   two.hp_url, CHECK_INTERVAL_S, two.dir, two.dir, two.dir, VN_TMN, VN_SECRET, u, u,
                   MM_PARTNER, MM_SECRET, MM_ACCESS, u, ZP_APP, ZP_KEY1, ZP_KEY2, u);
    size_t used = strlen(two.ini[i]);
    (void)snprintf(two.ini[i] + used, sizeof(two.ini[i]) - used,
                   "[database]\ndsn = %s application_name=feegate-gw%d\n", it.db.pg.app_dsn, i + 1);
    two.gw[i].ini_extra = two.ini[i];
    two.gw[i].port = free_port();
    return th_gateway_start(&two.gw[i], &it.db, &it.bs) == GW_OK ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    memset(&it, 0, sizeof(it));
    memset(&two, 0, sizeof(two));
    pthread_mutex_init(&two.lock, NULL);
    (void)snprintf(two.dir, sizeof(two.dir), "/tmp/fg-two-gw-%d", getpid());
    char cmd[512];
    (void)snprintf(cmd, sizeof(cmd),
                   "rm -rf %s && mkdir -p %s && %s receipt-ca init %s/ca >/dev/null", two.dir,
                   two.dir, FEEGATE_BIN, two.dir);
    if (system(cmd) != 0) {
        return -1;
    }
    two.hp_port = free_port();
    (void)snprintf(two.hp_url, sizeof(two.hp_url), "http://127.0.0.1:%d", two.hp_port);
    int sink_port = free_port();
    char hook[96];
    (void)snprintf(hook, sizeof(hook), "http://127.0.0.1:%d/webhook", sink_port);
    it.db.webhook_url = hook;
    if (th_db_start(&it.db) != GW_OK || start_banksim() != 0) {
        return -1;
    }
    char port_s[16];
    (void)snprintf(port_s, sizeof(port_s), "%d", sink_port);
    (void)snprintf(two.sink_out, sizeof(two.sink_out), "%s/webhooks.txt", two.dir);
    const char *const sink_argv[] = {
        FEEGATE_SINK_BIN,   "--port",        port_s,         "--secret",
        TH_CLIENT_A_SECRET, "--client",      TH_CLIENT_A_ID, "--out",
        two.sink_out,       "--max-seconds", "900",          NULL
    };
    char sink_stats[96];
    (void)snprintf(sink_stats, sizeof(sink_stats), "http://127.0.0.1:%d/stats", sink_port);
    if (th_child_start(&two.sink, "sink", sink_argv, sink_stats) != GW_OK ||
        start_gateway(0) != 0 || start_gateway(1) != 0 || write_haproxy_cfg() != 0) {
        return -1;
    }
    char cfg[128];
    (void)snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", two.dir);
    const char *const hp_argv[] = { HAPROXY_BIN, "-db", "-f", cfg, NULL };
    char ready[96];
    (void)snprintf(ready, sizeof(ready), "%s/readyz", two.hp_url);
    if (th_child_start(&two.haproxy, "haproxy", hp_argv, ready) != GW_OK) {
        return -1;
    }
    th_portal_use(two.hp_url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    if (th_proc_stop_signal(&two.haproxy, SIGUSR1) != GW_OK) {
        rc = -1;
    }
    for (int i = 0; i < 2; i++) {
        if (th_gateway_stop(&two.gw[i]) != GW_OK) {
            rc = -1;
        }
    }
    if (th_proc_stop(&two.sink) != GW_OK || th_banksim_stop(&it.bs) != GW_OK ||
        th_db_stop(&it.db) != GW_OK) {
        rc = -1;
    }
    char cmd[160];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", two.dir);
    if (rc == 0 && system(cmd) != 0) {
        rc = -1;
    }
    return rc;
}

/* ---- the test ---- */

static long long sql(const char *fmt, ...) GW_PRINTF(1, 2);

static long long sql(const char *fmt, ...)
{
    char q[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    return th_sql_int(&it.db, q);
}

/* Is the gateway's session in the middle of a call of fn (pg_stat_activity, by the
 * application_name each gateway's DSN carries)? */
static bool in_call(int g, const char *fn)
{
    return sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'feegate-gw%d' "
               "AND state = 'active' AND query LIKE '%%%s%%'",
               g + 1, fn) > 0;
}

/* Kills the gateway that holds the ledger check's lock, once KILL_AFTER payments are done and
 * it is storing signed receipts, recording a webhook's delivery and creating a payment: it
 * then holds leased receipt jobs and outbox rows, whose transactions die with it, and a
 * portal's request is in flight. Returns its index. */
static int kill_one(void)
{
    int victim = 0;
    do {
        (void)usleep(10 * 1000);
        victim = metric(&two.gw[1], "feegate_ledger_check_holder") == 1 ? 1 : 0;
    } while ((atomic_load(&two.completed) < KILL_AFTER ||
              !in_call(victim, "receipt_document_store") || !in_call(victim, "outbox_result") ||
              !in_call(victim, "api_create_payment")) &&
             atomic_load(&two.completed) + atomic_load(&two.failed) < PAYMENTS_MAX - WORKERS);
    assert_int_equal(th_proc_kill(&two.gw[victim].proc), GW_OK);
    assert_int_equal(th_sql_exec(&it.db, "CREATE TABLE public.leased_at_kill AS SELECT receipt_id "
                                         "FROM feegate.receipt_jobs WHERE lease_until > now(); "
                                         "CREATE TABLE public.outbox_leased_at_kill AS SELECT "
                                         "event_id FROM feegate.outbox WHERE lease_until > now() "
                                         "AND delivered_at IS NULL"),
                     GW_OK);
    fprintf(stderr, "killed gateway %d (the ledger check's) after %d payments\n", victim + 1,
            atomic_load(&two.completed));
    return victim;
}

/* The receipt jobs and outbox rows leased at the kill and still undone 5 s later: the dead
 * gateway's (the survivor finishes a batch well within that). */
struct orphans {
    long long jobs;
    long long webhooks;
};

static struct orphans count_orphans(void)
{
    struct orphans o;
    for (int i = 0; i < 50; i++) {
        (void)usleep(100 * 1000);
    }
    o.jobs = sql("SELECT count(*) FROM public.leased_at_kill k JOIN feegate.receipt_jobs j "
                 "ON j.receipt_id = k.receipt_id");
    o.webhooks = sql("SELECT count(*) FROM public.outbox_leased_at_kill k JOIN feegate.outbox o "
                     "ON o.event_id = k.event_id WHERE o.delivered_at IS NULL");
    fprintf(stderr,
            "5 s after the kill, %lld receipt jobs and %lld webhooks wait for the dead "
            "gateway's leases to run out\n",
            o.jobs, o.webhooks);
    return o;
}

/* Waits until every acknowledged payment succeeded, every receipt is signed and every
 * webhook delivered. */
static void wait_drained(int n)
{
    int64_t until = gw_monotonic_us() / 1000 + DRAIN_MS;
    long long left = 0;
    int polls = 0;
    do {
        left = sql("SELECT (SELECT count(*) FROM feegate.payments WHERE status <> 'succeeded') "
                   "+ (SELECT count(*) FROM feegate.receipt_jobs) "
                   "+ (SELECT count(*) FROM feegate.outbox WHERE delivered_at IS NULL) "
                   "+ %d - (SELECT count(*) FROM feegate.receipt_documents "
                   "WHERE signed_at IS NOT NULL)",
                   n);
        if (left == 0) {
            return;
        }
        if (++polls % 40 == 0) {
            fprintf(stderr,
                    "waiting: %lld payments not succeeded, %lld receipt jobs, %lld "
                    "webhooks not delivered\n",
                    sql("SELECT count(*) FROM feegate.payments WHERE status <> 'succeeded'"),
                    sql("SELECT count(*) FROM feegate.receipt_jobs"),
                    sql("SELECT count(*) FROM feegate.outbox WHERE delivered_at IS NULL"));
        }
        (void)usleep(250 * 1000);
    } while (gw_monotonic_us() / 1000 < until);
    fprintf(stderr, "still not done after %d s: %lld\n", DRAIN_MS / 1000, left);
    assert_int_equal(left, 0);
}

/* Every outbox event reached the sink (at least once). */
static void assert_sink_has_every_event(void)
{
    FILE *f = fopen(two.sink_out, "r");
    assert_non_null(f);
    assert_int_equal(th_sql_exec(&it.db, "CREATE TEMP TABLE got (event_id text)"), GW_OK);
    char line[256];
    long lines = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char ev[64];
        if (sscanf(line, "%63s", ev) == 1 && strncmp(ev, "evt_", 4) == 0 &&
            strspn(ev + 4, "0123456789abcdef") == strlen(ev + 4)) {
            char q[160];
            (void)snprintf(q, sizeof(q), "INSERT INTO got VALUES ('%s')", ev);
            assert_int_equal(th_sql_exec(&it.db, q), GW_OK);
            lines++;
        }
    }
    (void)fclose(f);
    long long missing = sql("SELECT count(*) FROM feegate.outbox o WHERE NOT EXISTS "
                            "(SELECT 1 FROM got g WHERE g.event_id = o.event_id)");
    fprintf(stderr, "%ld webhooks received for %lld events\n", lines,
            sql("SELECT count(*) FROM feegate.outbox"));
    assert_int_equal(missing, 0);
}

/* Each signed receipt, each webhook's result and each new payment take 50 ms longer to store:
 * the issuers and the outbox deliverers hold their leases, and the portal's creates are in
 * flight, long enough for the kill to find some. */
static void slow_down_stores(void)
{
    assert_int_equal(
        th_sql_exec(&it.db, "CREATE FUNCTION public.slow_store() RETURNS trigger LANGUAGE plpgsql "
                            "AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$; "
                            "CREATE TRIGGER slow_store AFTER INSERT ON feegate.receipt_documents "
                            "FOR EACH STATEMENT EXECUTE FUNCTION public.slow_store(); "
                            "CREATE TRIGGER slow_result AFTER INSERT ON feegate.webhook_deliveries "
                            "FOR EACH STATEMENT EXECUTE FUNCTION public.slow_store(); "
                            "CREATE TRIGGER slow_create AFTER INSERT ON feegate.payments "
                            "FOR EACH STATEMENT EXECUTE FUNCTION public.slow_store()"),
        GW_OK);
}

/* Each acknowledged payment exactly once and succeeded, nothing else, each key stored once;
 * every success booked once, numbered once, signed once, through every provider. */
static void assert_each_once(void)
{
    assert_int_equal(sql("SELECT count(*) FROM feegate.payments"), PAYMENTS_MAX);
    for (int i = 0; i < two.n_acked; i++) {
        assert_int_equal(sql("SELECT count(*) FROM feegate.payments WHERE id = '%s' AND status "
                             "= 'succeeded'",
                             two.acked[i]),
                         1);
    }
    assert_int_equal(sql("SELECT count(*) FROM feegate.idempotency WHERE idem_key LIKE 'tg-%%'"),
                     PAYMENTS_MAX);
    assert_int_equal(sql("SELECT count(*) FROM feegate.journals WHERE kind = 'payment_success'"),
                     PAYMENTS_MAX);
    assert_int_equal(sql("SELECT count(DISTINCT payment_id) FROM feegate.journals "
                         "WHERE kind = 'payment_success'"),
                     PAYMENTS_MAX);
    assert_int_equal(sql("SELECT count(*) FROM feegate.receipts"), PAYMENTS_MAX);
    assert_int_equal(sql("SELECT count(*) FROM feegate.receipt_documents"), PAYMENTS_MAX);
    for (int c = 0; c < 4; c++) {
        assert_true(sql("SELECT count(*) FROM feegate.payments WHERE channel = '%s'", channels[c]) >
                    0);
    }
    /* The jobs leased when the gateway died were taken over: each signed, once. */
    assert_int_equal(sql("SELECT count(*) FROM public.leased_at_kill k WHERE (SELECT count(*) "
                         "FROM feegate.receipt_documents d WHERE d.receipt_id = k.receipt_id "
                         "AND d.signed_at IS NOT NULL) <> 1"),
                     0);
    /* Every webhook delivered; those leased at the kill too. */
    assert_int_equal(sql("SELECT count(*) FROM public.outbox_leased_at_kill k JOIN "
                         "feegate.outbox o ON o.event_id = k.event_id "
                         "WHERE o.delivered_at IS NULL"),
                     0);
    assert_int_equal(sql("SELECT count(*) FROM feegate.outbox WHERE delivered_at IS NULL"), 0);
    assert_true(sql("SELECT count(*) FROM feegate.outbox") >= (long long)PAYMENTS_MAX * 2);
}

/* The survivor holds the ledger check now and has run it, passing, since the kill. */
static void assert_check_taken_over(const struct th_gateway *live, long long killed_at_s)
{
    int64_t until = gw_monotonic_us() / 1000 + (int64_t)CHECK_INTERVAL_S * 4000;
    while ((metric(live, "feegate_ledger_check_holder") != 1 ||
            metric(live, "feegate_ledger_check_last_run_timestamp_seconds") <= killed_at_s) &&
           gw_monotonic_us() / 1000 < until) {
        (void)usleep(200 * 1000);
    }
    assert_int_equal(metric(live, "feegate_ledger_check_holder"), 1);
    assert_true(metric(live, "feegate_ledger_check_last_run_timestamp_seconds") > killed_at_s);
    assert_int_equal(metric(live, "feegate_ledger_check_ok"), 1);
}

static void test_one_gateway_killed_under_load(void **state)
{
    (void)state;
    slow_down_stores();
    int64_t t0 = gw_monotonic_us();
    pthread_t t[WORKERS];
    static int index[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        index[w] = w;
        assert_int_equal(pthread_create(&t[w], NULL, worker_main, &index[w]), 0);
    }
    int victim = kill_one();
    long long killed_at_s = (long long)time(NULL);
    struct orphans orphans = count_orphans();
    /* Receipt jobs are always among them: the issuer claims a batch, then signs it. A webhook
     * is when the kill found a delivery sent but its result not yet committed; the
     * statement already on its way may still commit after the kill (in the sanitizer build,
     * typically), so their number is reported, not required. */
    assert_true(orphans.jobs > 0);
    for (int w = 0; w < WORKERS; w++) {
        assert_int_equal(pthread_join(t[w], NULL), 0);
    }
    fprintf(stderr, "%d payments completed, %d failed, %d steps retried\n",
            atomic_load(&two.completed), atomic_load(&two.failed), atomic_load(&two.retried));
    assert_int_equal(atomic_load(&two.failed), 0);
    assert_int_equal(two.n_acked, PAYMENTS_MAX);
    assert_true(atomic_load(&two.retried) > 0); /* the kill did cut requests in flight */
    int64_t t1 = gw_monotonic_us();
    wait_drained(PAYMENTS_MAX);
    fprintf(stderr, "load %.1f s, then drained in %.1f s\n", (double)(t1 - t0) / 1e6,
            (double)(gw_monotonic_us() - t1) / 1e6);
    assert_each_once();
    assert_check_taken_over(&two.gw[1 - victim], killed_at_s);
    assert_int_equal(th_proc_stop(&two.sink), GW_OK);
    assert_sink_has_every_event();
    it_assert_ledger_ok();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_gateway_killed_under_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
