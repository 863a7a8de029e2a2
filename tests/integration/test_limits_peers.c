/* Limits that hold, against peers: a portal whose webhook endpoint trickles its answer one
 * byte a second is cut off at GW_WEBHOOK_TIMEOUT_S (a total deadline, not an idle one), the
 * attempt is recorded as failed and the outbox tries again on its schedule; and clients
 * beyond GW_CLIENTS_MAX are dropped from the gateway's snapshot with an error logged for
 * each, while the others still authenticate. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_limits.h"
#include "gw_time.h"
#include "it.h"

#define TRICKLE_CONNS_MAX 8
#define TRICKLE_SLACK_MS  2500 /* loopback, the outbox poll, a busy machine */

/* The answer the trickler sends, one byte a second: about 40 s, four times the deadline. */
static const char trickle_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

static struct {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int accepted;
    int64_t accepted_ms[TRICKLE_CONNS_MAX]; /* gw_now_ms of each accept */
} trickle;

struct trickle_conn {
    int fd;
    size_t sent;
};

/* Accepts connections and sends each one byte of the answer a second, whatever it asked,
 * until the answer is out or the gateway hangs up. */
static void *trickle_serve(void *arg)
{
    (void)arg;
    struct trickle_conn conns[TRICKLE_CONNS_MAX];
    int n = 0;
    int64_t next_byte_ms = gw_now_ms();
    while (!atomic_load(&trickle.stop)) {
        struct pollfd pfd = { .fd = trickle.fd, .events = POLLIN };
        if (poll(&pfd, 1, 100) > 0 && n < TRICKLE_CONNS_MAX) {
            int c = accept(trickle.fd, NULL, NULL);
            int k = atomic_load(&trickle.accepted);
            if (c >= 0 && k < TRICKLE_CONNS_MAX) {
                trickle.accepted_ms[k] = gw_now_ms();
                atomic_store(&trickle.accepted, k + 1);
                conns[n++] = (struct trickle_conn){ .fd = c, .sent = 0 };
            } else if (c >= 0) {
                close(c);
            }
        }
        if (gw_now_ms() < next_byte_ms) {
            continue;
        }
        next_byte_ms += 1000;
        for (int i = 0; i < n; i++) {
            char drain[4096];
            while (recv(conns[i].fd, drain, sizeof(drain), MSG_DONTWAIT) > 0) {
            }
            bool done = conns[i].sent == sizeof(trickle_answer) - 1 ||
                        send(conns[i].fd, trickle_answer + conns[i].sent, 1, MSG_NOSIGNAL) != 1;
            if (!done) {
                conns[i].sent++;
                continue;
            }
            close(conns[i].fd);
            conns[i--] = conns[--n];
        }
    }
    for (int i = 0; i < n; i++) {
        close(conns[i].fd);
    }
    return NULL;
}

static int trickle_start(void)
{
    trickle.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (trickle.fd < 0 || bind(trickle.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(trickle.fd, 16) != 0 || getsockname(trickle.fd, (struct sockaddr *)&a, &alen) != 0) {
        return -1;
    }
    trickle.port = ntohs(a.sin_port);
    return pthread_create(&trickle.thread, NULL, trickle_serve, NULL) == 0 ? 0 : -1;
}

/* Counts the lines of the gateway's log that contain needle. */
static int log_count(const char *needle)
{
    FILE *f = fopen(it.gw.proc.log_path, "r");
    assert_non_null(f);
    static char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL;
    }
    (void)fclose(f);
    return n;
}

static long long epoch_ms_sql(const char *sql)
{
    return th_sql_int(&it.db, sql);
}

static void test_trickling_webhook_fails_at_the_deadline(void **state)
{
    (void)state;
    char id[40];
    it_create(id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/cancel", id);
    struct th_resp r;
    assert_int_equal(th_portal("POST", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    char sql[512];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT id FROM feegate.outbox WHERE payment_id = '%s' "
                   "AND type = 'payment.cancelled'",
                   id);
    long long row = th_sql_int(&it.db, sql);
    /* The first attempt fails at the deadline, not when the trickle would end (~40 s). */
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.webhook_deliveries WHERE outbox_id = %lld", row);
    int64_t t0 = gw_now_ms();
    while (th_sql_int(&it.db, sql) == 0 && gw_now_ms() - t0 < 30000) {
        usleep(100 * 1000);
    }
    assert_int_equal(th_sql_int(&it.db, sql), 1);
    assert_true(atomic_load(&trickle.accepted) >= 1);
    char q[512];
    (void)snprintf(q, sizeof(q),
                   "SELECT (extract(epoch FROM at) * 1000)::bigint FROM "
                   "feegate.webhook_deliveries WHERE outbox_id = %lld AND attempt = 1 "
                   "AND coalesce(http_status, 0) = 0 AND error IS NOT NULL",
                   row);
    long long failed_ms = epoch_ms_sql(q);
    long long took_ms = failed_ms - trickle.accepted_ms[0];
    fprintf(stderr, "first attempt failed %lld ms after its connection\n", took_ms);
    assert_true(took_ms >= (long long)GW_WEBHOOK_TIMEOUT_S * 1000 - 1500);
    assert_true(took_ms <= (long long)GW_WEBHOOK_TIMEOUT_S * 1000 + TRICKLE_SLACK_MS);
    assert_true(took_ms < (long long)GW_OUTBOX_LEASE_S * 1000);
    /* The row waits for its retry (not delivered, lease given back), which comes per the
     * outbox schedule: a second connection after the backoff, failed the same way. */
    (void)snprintf(q, sizeof(q),
                   "SELECT count(*) FROM feegate.outbox WHERE id = %lld AND attempts >= 1 "
                   "AND delivered_at IS NULL AND dead_at IS NULL",
                   row);
    assert_int_equal(th_sql_int(&it.db, q), 1);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.webhook_deliveries WHERE outbox_id = %lld "
                   "AND coalesce(http_status, 0) = 0",
                   row);
    t0 = gw_now_ms();
    while (th_sql_int(&it.db, sql) < 2 && gw_now_ms() - t0 < 40000) {
        usleep(100 * 1000);
    }
    assert_int_equal(th_sql_int(&it.db, sql), 2);
    assert_true(atomic_load(&trickle.accepted) >= 2);
    assert_true(trickle.accepted_ms[1] > failed_ms);
    assert_true(log_count("httpc_deadline") >= 2);
    it_assert_ledger_ok();
}

static void test_clients_over_the_limit_are_logged(void **state)
{
    (void)state;
    const int extra = GW_CLIENTS_MAX + 10; /* ids after the seeded ones in clients_list order */
    char sql[512];
    (void)snprintf(sql, sizeof(sql),
                   "INSERT INTO feegate.clients (id, secret) SELECT 'zz-lim-' || "
                   "lpad(g::text, 5, '0'), 'th-secret-lim-0123456789' FROM "
                   "generate_series(1, %d) g",
                   extra);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    long long total = th_sql_int(&it.db, "SELECT count(*) FROM feegate.clients");
    long long dropped = total - GW_CLIENTS_MAX;
    assert_true(dropped > 0);
    int before = log_count("client_dropped");
    assert_int_equal(kill(it.gw.proc.pid, SIGHUP), 0); /* reload: clients are read again */
    int64_t t0 = gw_now_ms();
    while (log_count("client_dropped") - before < dropped && gw_now_ms() - t0 < 10000) {
        usleep(100 * 1000);
    }
    int logged = log_count("client_dropped") - before;
    assert_true(logged >= dropped);
    char last[32];
    (void)snprintf(last, sizeof(last), "zz-lim-%05d", extra);
    assert_true(log_count(last) >= 1);
    /* The clients within the limit still authenticate. */
    struct th_resp r;
    assert_int_equal(th_portal("GET", "/v1/webhooks?limit=1", NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    assert_int_equal(th_sql_exec(&it.db, "DELETE FROM feegate.clients WHERE id LIKE 'zz-lim-%'"),
                     GW_OK);
}

static int setup(void **state)
{
    (void)state;
    if (trickle_start() != 0) {
        return -1;
    }
    static char url[64];
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", trickle.port);
    return it_start(NULL, url);
}

static int teardown(void **state)
{
    (void)state;
    int rc = it_stop();
    atomic_store(&trickle.stop, true);
    (void)pthread_join(trickle.thread, NULL);
    close(trickle.fd);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trickling_webhook_fails_at_the_deadline),
        cmocka_unit_test(test_clients_over_the_limit_are_logged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
