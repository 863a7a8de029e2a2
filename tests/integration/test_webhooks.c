/* Portal webhooks from the outbox: signed like portal requests, one per status change,
 * retried after a failure, deduplicable by event_id, dead after GW_WEBHOOK_ATTEMPTS_MAX
 * failed attempts. A small portal stands in for the real
 * one: a loopback HTTP server in this test program that verifies every signature. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_limits.h"
#include "it.h"

#define HOOK_EVENTS_MAX 64

static struct {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int fail_first; /* answer 503 to this many deliveries first */
    pthread_mutex_t lock;
    int n;
    char event_ids[HOOK_EVENTS_MAX][48];
    char types[HOOK_EVENTS_MAX][48];
    int bad_signatures;
    int attempts;
} hook;

static const char *header_value(const char *req, const char *name, char *out, size_t cap)
{
    const char *p = strcasestr(req, name);
    if (p == NULL) {
        return NULL;
    }
    p += strlen(name);
    while (*p == ':' || *p == ' ') {
        p++;
    }
    size_t n = strcspn(p, "\r\n");
    if (n >= cap) {
        return NULL;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* Checks the signature the way a portal would, and records the event. */
static int hook_handle(char *req, size_t len)
{
    char *body = strstr(req, "\r\n\r\n");
    if (body == NULL) {
        return 400;
    }
    body += 4;
    size_t body_len = len - (size_t)(body - req);
    char ts[32];
    char sig[128];
    char client[80];
    if (header_value(req, "X-Feegate-Timestamp", ts, sizeof(ts)) == NULL ||
        header_value(req, "X-Feegate-Signature", sig, sizeof(sig)) == NULL ||
        header_value(req, "X-Feegate-Client", client, sizeof(client)) == NULL) {
        return 401;
    }
    char body_hash[GW_SHA256_HEX_BYTES];
    gw_sha256_hex(body, body_len, body_hash);
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "POST\n/hook\n%s\n%s", ts, body_hash);
    char want[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(TH_CLIENT_A_SECRET, strlen(TH_CLIENT_A_SECRET), msg, (size_t)n, want);
    pthread_mutex_lock(&hook.lock);
    hook.attempts++;
    if (strncmp(sig, "v1=", 3) != 0 || strcmp(sig + 3, want) != 0 ||
        strcmp(client, TH_CLIENT_A_ID) != 0) {
        hook.bad_signatures++;
        pthread_mutex_unlock(&hook.lock);
        return 401;
    }
    if (atomic_fetch_sub(&hook.fail_first, 1) > 0) {
        pthread_mutex_unlock(&hook.lock);
        return 503;
    }
    json_t *j = json_loadb(body, body_len, 0, NULL);
    if (j != NULL && hook.n < HOOK_EVENTS_MAX) {
        (void)snprintf(hook.event_ids[hook.n], 48, "%s",
                       json_string_value(json_object_get(j, "event_id")));
        (void)snprintf(hook.types[hook.n], 48, "%s", json_string_value(json_object_get(j, "type")));
        hook.n++;
    }
    json_decref(j);
    pthread_mutex_unlock(&hook.lock);
    return 200;
}

static void hook_serve_one(int c)
{
    static char buf[65536];
    size_t len = 0;
    struct pollfd pfd = { .fd = c, .events = POLLIN };
    for (;;) {
        if (poll(&pfd, 1, 2000) <= 0) {
            break;
        }
        ssize_t r = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char cl[16];
        if (end == NULL || header_value(buf, "Content-Length", cl, sizeof(cl)) == NULL) {
            continue;
        }
        size_t want = (size_t)(end + 4 - buf) + (size_t)strtoul(cl, NULL, 10);
        if (len < want) {
            continue;
        }
        int status = hook_handle(buf, want);
        char resp[128];
        /* A refusal closes the connection: this one-connection-at-a-time server would
         * otherwise keep the next attempt, on a new connection, waiting for its idle timeout
         * (the many-attempts test makes dozens in a row). */
        bool close_now = status >= 500;
        int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n%s\r\n", status,
                         close_now ? "Connection: close\r\n" : "");
        if (send(c, resp, (size_t)n, MSG_NOSIGNAL) != n || close_now) {
            break;
        }
        memmove(buf, buf + want, len - want);
        len -= want;
    }
    close(c);
}

static void *hook_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&hook.stop)) {
        struct pollfd pfd = { .fd = hook.fd, .events = POLLIN };
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        int c = accept(hook.fd, NULL, NULL);
        if (c >= 0) {
            hook_serve_one(c);
        }
    }
    return NULL;
}

static int hook_start(void)
{
    hook.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (hook.fd < 0 || bind(hook.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(hook.fd, 16) != 0 || getsockname(hook.fd, (struct sockaddr *)&sa, &sl) != 0) {
        return -1;
    }
    hook.port = ntohs(sa.sin_port);
    pthread_mutex_init(&hook.lock, NULL);
    return pthread_create(&hook.thread, NULL, hook_main, NULL) == 0 ? 0 : -1;
}

static int count_type(const char *type)
{
    int n = 0;
    pthread_mutex_lock(&hook.lock);
    for (int i = 0; i < hook.n; i++) {
        n += strcmp(hook.types[i], type) == 0;
    }
    pthread_mutex_unlock(&hook.lock);
    return n;
}

static bool wait_for_type(const char *type, int count, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (count_type(type) >= count) {
            return true;
        }
        usleep(100 * 1000);
    }
    return false;
}

static void test_signed_webhook_per_status_change(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    assert_int_equal(it_callback(ref, 200000, "succeeded", "SBXW", TH_SANDBOX_SECRET, NULL, 0),
                     200);
    assert_true(wait_for_type("payment.succeeded", 1, 10));
    assert_true(wait_for_type("payment.pending", 1, 10));
    assert_int_equal(hook.bad_signatures, 0);
    /* Every event was recorded as delivered. */
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.outbox o WHERE o.delivered_at IS NOT NULL "
                   "AND o.body::json -> 'payment' ->> 'payment_id' = '%s'",
                   id);
    for (int i = 0; i < 20 && th_sql_int(&it.db, sql) < 2; i++) {
        usleep(100 * 1000);
    }
    assert_true(th_sql_int(&it.db, sql) >= 2);
}

static void test_failed_delivery_is_retried(void **state)
{
    (void)state;
    int before = count_type("payment.cancelled");
    atomic_store(&hook.fail_first, 1);
    char id[40];
    it_create(id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", id);
    struct th_resp r;
    assert_int_equal(th_portal("POST", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    /* The first attempt gets 503; the retry comes after the first backoff (5 s). */
    assert_true(wait_for_type("payment.cancelled", before + 1, 20));
    assert_true(th_sql_int(&it.db, "SELECT count(*) FROM feegate.webhook_deliveries "
                                   "WHERE http_status = 503") >= 1);
    it_assert_ledger_ok();
}

static int count_event(const char *event_id)
{
    int n = 0;
    pthread_mutex_lock(&hook.lock);
    for (int i = 0; i < hook.n; i++) {
        n += strcmp(hook.event_ids[i], event_id) == 0;
    }
    pthread_mutex_unlock(&hook.lock);
    return n;
}

static void test_list_get_and_replay(void **state)
{
    (void)state;
    struct th_resp r;
    assert_int_equal(th_portal("GET", "/v1/webhooks?limit=10", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    json_t *events = json_object_get(j, "events");
    assert_true(json_array_size(events) >= 2);
    char event_id[48];
    (void)snprintf(event_id, sizeof(event_id), "%s",
                   json_string_value(json_object_get(json_array_get(events, 0), "event_id")));
    json_decref(j);
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/webhooks/%s", event_id);
    assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"deliveries\""));
    th_resp_release(&r);
    for (int i = 0; i < 50 && count_event(event_id) == 0; i++) {
        usleep(100 * 1000);
    }
    int before = count_event(event_id);
    assert_true(before >= 1);
    (void)snprintf(path, sizeof(path), "/v1/webhooks/%s/replay", event_id);
    assert_int_equal(th_portal("POST", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"replayed\":1"));
    th_resp_release(&r);
    for (int i = 0; i < 50 && count_event(event_id) == before; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(count_event(event_id), before + 1); /* the same event_id again */
    /* A range replay, bad input, and another client's event. */
    assert_int_equal(th_portal("POST", "/v1/webhooks/replay",
                               "{\"from\":\"2000-01-01T00:00:00+07:00\","
                               "\"to\":\"2100-01-01T00:00:00+07:00\"}",
                               NULL, &r),
                     GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    assert_int_equal(th_portal("POST", "/v1/webhooks/replay", "{\"from\":\"yesterday\"}", NULL, &r),
                     GW_OK);
    assert_int_equal(r.status, 400);
    th_resp_release(&r);
    th_portal_use(it.gw.url, TH_CLIENT_B_ID, TH_CLIENT_B_SECRET);
    assert_int_equal(th_portal("POST", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 404);
    th_resp_release(&r);
    th_portal_use(it.gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
}

/* The outbox row of the payment's payment.cancelled event, and its event_id. */
static long long cancelled_row_of(const char *payment_id, char event_id[48])
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT event_id FROM feegate.outbox WHERE payment_id = '%s' "
                   "AND type = 'payment.cancelled'",
                   payment_id);
    assert_int_equal(th_sql_text(&it.db, sql, event_id, 48), GW_OK);
    (void)snprintf(sql, sizeof(sql), "SELECT id FROM feegate.outbox WHERE event_id = '%s'",
                   event_id);
    return th_sql_int(&it.db, sql);
}

/* The event's state as GET /v1/webhooks lists it. */
static void listed_state(const char *event_id, char out[32])
{
    struct th_resp r;
    assert_int_equal(th_portal("GET", "/v1/webhooks?limit=100", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    json_t *events = json_object_get(j, "events");
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        if (strcmp(json_string_value(json_object_get(e, "event_id")), event_id) == 0) {
            (void)snprintf(out, 32, "%s", json_string_value(json_object_get(e, "state")));
        }
    }
    json_decref(j);
}

/* A webhook whose delivery keeps failing is tried exactly GW_WEBHOOK_ATTEMPTS_MAX times (the
 * limit the SQL reads through limits_webhook_attempts_max()), then is dead: listed as dead,
 * never claimed again. The backoff (5 s doubling to 1 h, over a day in all) is skipped by
 * moving the row's next attempt to now from here, after each failure. */
static void test_dead_after_attempts_max(void **state)
{
    (void)state;
    assert_int_equal(th_sql_int(&it.db, "SELECT feegate.limits_webhook_attempts_max()"),
                     GW_WEBHOOK_ATTEMPTS_MAX);
    atomic_store(&hook.fail_first, 1000000); /* every delivery answered 503 from now on */
    char id[40];
    it_create(id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", id);
    struct th_resp r;
    assert_int_equal(th_portal("POST", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    char event_id[48];
    long long row = cancelled_row_of(id, event_id);
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.outbox SET next_attempt_at = now() "
                   "WHERE id = %lld AND next_attempt_at > now()",
                   row);
    char dead_sql[128];
    (void)snprintf(dead_sql, sizeof(dead_sql),
                   "SELECT count(*) FROM feegate.outbox WHERE id = %lld AND dead_at IS NOT NULL",
                   row);
    /* Each attempt takes a poll of the outbox (200 ms) and a local 503: about 10 s in all;
     * up to 3 min on a loaded machine. */
    for (int i = 0; i < 3600 && th_sql_int(&it.db, dead_sql) == 0; i++) {
        assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
        usleep(50 * 1000);
    }
    assert_int_equal(th_sql_int(&it.db, dead_sql), 1);
    char check[256];
    (void)snprintf(check, sizeof(check),
                   "SELECT attempts FROM feegate.outbox WHERE id = %lld AND next_attempt_at IS "
                   "NULL AND delivered_at IS NULL AND lease_until IS NULL",
                   row);
    assert_int_equal(th_sql_int(&it.db, check), GW_WEBHOOK_ATTEMPTS_MAX);
    (void)snprintf(check, sizeof(check),
                   "SELECT count(*) FILTER (WHERE http_status = 503) * 1000 + count(*) "
                   "FROM feegate.webhook_deliveries WHERE outbox_id = %lld",
                   row);
    assert_int_equal(th_sql_int(&it.db, check), GW_WEBHOOK_ATTEMPTS_MAX * 1001);
    char st[32];
    listed_state(event_id, st);
    assert_string_equal(st, "dead");
    /* Dead stays dead: no further attempt, even when asked to be due. */
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.outbox SET next_attempt_at = now() WHERE id = %lld", row);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    usleep(1000 * 1000);
    (void)snprintf(check, sizeof(check),
                   "SELECT count(*) FROM feegate.webhook_deliveries WHERE outbox_id = %lld", row);
    assert_int_equal(th_sql_int(&it.db, check), GW_WEBHOOK_ATTEMPTS_MAX);
    atomic_store(&hook.fail_first, 0);
    it_assert_ledger_ok();
}

static int setup(void **state)
{
    (void)state;
    if (hook_start() != 0) {
        return -1;
    }
    static char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", hook.port);
    return it_start(NULL, url);
}

static int teardown(void **state)
{
    (void)state;
    int rc = it_stop();
    atomic_store(&hook.stop, true);
    pthread_join(hook.thread, NULL);
    close(hook.fd);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_webhook_per_status_change),
        cmocka_unit_test(test_failed_delivery_is_retried),
        cmocka_unit_test(test_list_get_and_replay),
        cmocka_unit_test(test_dead_after_attempts_max),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
