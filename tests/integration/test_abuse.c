/* The HTTP server under abuse. 5,000 slow connections from one address (127.0.0.2) are held
 * up to the per-address cap and the rest refused at once, while /healthz keeps answering
 * other clients (127.0.0.1) quickly and the gateway's log stays small; once they close, the
 * count of held connections falls back. A client that sends a header byte every second is
 * cut at the request read deadline. Two different Content-Length values and a header name
 * with whitespace before its colon are refused with 400. When descriptors run out all the
 * same, accept errors pause the listener and are logged once per interval. A gateway with a
 * small descriptor limit holds connections up to its total cap and closes the rest at once.
 * With the database not
 * answering (its backends stopped), then stopped altogether, /readyz answers 503 within its
 * deadline. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_limits.h"
#include "gw_time.h"
#include "it.h"

#define AB_SLOW_CONNS     5000
#define AB_SLOW_ADDR      "127.0.0.2" /* the abuser; the samples come from 127.0.0.1 */
#define AB_TRICKLE_ADDR   "127.0.0.3"
#define AB_OPEN_BATCH     100 /* connections opened at once, then a pause: 5,000/s at most */
#define AB_OPEN_PAUSE_MS  20
#define AB_TRICKLE_GAP_MS 1000 /* a header byte each second */
#define AB_SAMPLE_MS      50
#define AB_HOLD_S         5   /* samples taken after the connections are open */
#define AB_HEALTH_MAX_MS  100 /* the slowest /healthz answer allowed meanwhile */
#define AB_LOG_GROWTH_MAX (1024LL * 1024)
#define AB_SLACK_MS       1500 /* loopback, scheduling on a busy machine */
#define AB_READY_SLACK_MS 500
#define AB_BACKENDS_MAX   64
#define AB_EMFILE_ROOM    16 /* descriptors the gateway has free for clients */
#define AB_EMFILE_CONNS   100
#define AB_EMFILE_HOLD_S  2
#define AB_SMALL_FDS      320 /* the second gateway's descriptor limit: a cap of 160 */
#define AB_SMALL_PER_ADDR 50  /* from 4 addresses: 200 connections, under 128 each */

static bool ab_db_stopped;

/* A TCP connection to port from src (an address of 127.0.0.0/8), or -1. */
static int ab_connect_to(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    struct sockaddr_in sa = { .sin_family = AF_INET };
    assert_int_equal(inet_pton(AF_INET, src, &sa.sin_addr), 1);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* A TCP connection to the gateway from src, or -1. */
static int ab_connect(const char *src)
{
    return ab_connect_to(src, it.gw.port);
}

static void ab_sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* True if the peer has closed the connection of p (end of file or reset), waiting up to
 * AB_TRICKLE_GAP_MS if p asks for POLLIN, not at all otherwise. */
static bool ab_closed_poll(struct pollfd p)
{
    int wait_ms = p.events != 0 ? AB_TRICKLE_GAP_MS : 0;
    int fd = p.fd;
    p.events = POLLIN;
    if (poll(&p, 1, wait_ms) <= 0) {
        return false;
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* True if the peer has closed fd by now. */
static bool ab_closed(int fd)
{
    return ab_closed_poll((struct pollfd){ .fd = fd, .events = 0 });
}

/* Sends raw over a new connection from 127.0.0.1 and returns the status of the answer (0:
 * none within 3 s). */
static int ab_raw_status(const char *raw)
{
    int fd = ab_connect("127.0.0.1");
    assert_true(fd >= 0);
    assert_int_equal(send(fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
    char buf[2048];
    size_t len = 0;
    int64_t end_us = gw_monotonic_us() + (int64_t)3000 * 1000;
    while (len < sizeof(buf) - 1 && gw_monotonic_us() < end_us) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    (void)close(fd);
    buf[len] = '\0';
    int status = 0;
    if (len > 12 && strncmp(buf, "HTTP/1.", 7) == 0) {
        status = (int)strtol(buf + 9, NULL, 10);
    }
    return status;
}

static long long ab_log_size(void)
{
    struct stat st;
    assert_int_equal(stat(it.gw.proc.log_path, &st), 0);
    return (long long)st.st_size;
}

/* A value of gw's /metrics (the first line starting with name), or -1. */
static long long ab_metric_of(const struct th_gateway *gw, const char *name)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/metrics", gw->url);
    struct th_resp r;
    long long v = -1;
    if (th_http("GET", url, NULL, NULL, 0, &r) == GW_OK && r.status == 200) {
        const char *p = r.body;
        size_t n = strlen(name);
        while (p != NULL && *p != '\0') {
            if (strncmp(p, name, n) == 0 && p[n] == ' ') {
                v = strtoll(p + n + 1, NULL, 10);
                break;
            }
            p = strchr(p, '\n');
            p = p != NULL ? p + 1 : NULL;
        }
    }
    th_resp_release(&r);
    return v;
}

static long long ab_metric(const char *name)
{
    return ab_metric_of(&it.gw, name);
}

/* /healthz from 127.0.0.1 every AB_SAMPLE_MS until stop: the slowest answer and failures. */
struct ab_sampler {
    pthread_t thread;
    atomic_bool stop;
    long long max_ms;
    int samples;
    int failures;
    int64_t t0_us;
    char slow[512]; /* the answers over half the allowance: "at_ms:took_ms" */
};

static void *ab_sample(void *arg)
{
    struct ab_sampler *s = arg;
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/healthz", it.gw.url);
    while (!atomic_load(&s->stop)) {
        int64_t t0 = gw_monotonic_us();
        struct th_resp r;
        bool ok = th_http("GET", url, NULL, NULL, 0, &r) == GW_OK && r.status == 200;
        th_resp_release(&r);
        long long ms = (gw_monotonic_us() - t0) / 1000;
        s->max_ms = ms > s->max_ms ? ms : s->max_ms;
        size_t len = strlen(s->slow);
        if (ms > AB_HEALTH_MAX_MS / 2 && len + 32 < sizeof(s->slow)) {
            (void)snprintf(s->slow + len, sizeof(s->slow) - len, " %lld:%lld",
                           (long long)(t0 - s->t0_us) / 1000, ms);
        }
        s->samples++;
        s->failures += !ok;
        if (ms < AB_SAMPLE_MS) {
            usleep((useconds_t)(AB_SAMPLE_MS - ms) * 1000);
        }
    }
    return NULL;
}

static void test_slow_connections_from_one_address(void **state)
{
    (void)state;
    static int fds[AB_SLOW_CONNS];
    long long log0 = ab_log_size();
    static struct ab_sampler s;
    s.t0_us = gw_monotonic_us();
    assert_int_equal(pthread_create(&s.thread, NULL, ab_sample, &s), 0);
    usleep(500 * 1000); /* a few samples before the abuse starts */
    int64_t t0 = gw_monotonic_us();
    int opened = 0;
    static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: feegate\r\n";
    for (int i = 0; i < AB_SLOW_CONNS; i++) {
        fds[i] = ab_connect(AB_SLOW_ADDR);
        if (fds[i] >= 0) {
            opened++;
            (void)send(fds[i], partial, sizeof(partial) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (i % AB_OPEN_BATCH == AB_OPEN_BATCH - 1) {
            usleep(AB_OPEN_PAUSE_MS * 1000);
        }
    }
    long long open_ms = (gw_monotonic_us() - t0) / 1000;
    /* Held a while, a header line now and then on each one still open. */
    for (int k = 0; k < AB_HOLD_S; k++) {
        ab_sleep_ms(1000);
        for (int i = 0; i < AB_SLOW_CONNS; i++) {
            if (fds[i] >= 0) {
                (void)send(fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
        }
    }
    long long held = ab_metric("feegate_http_connections");
    long long refused = ab_metric("feegate_http_connections_refused_total{reason=\"per_address\"}");
    atomic_store(&s.stop, true);
    assert_int_equal(pthread_join(s.thread, NULL), 0);
    long long growth = ab_log_size() - log0;
    int still_open = 0;
    for (int i = 0; i < AB_SLOW_CONNS; i++) {
        if (fds[i] >= 0) {
            still_open += !ab_closed(fds[i]);
            (void)close(fds[i]);
        }
    }
    fprintf(stderr,
            "abuse: %d connections opened from " AB_SLOW_ADDR " in %lld ms, %d still open at "
            "the end, gateway held %lld, refused %lld (per address); /healthz: %d samples, "
            "max %lld ms, %d failed, over %d ms (at ms:took ms):%s; log grew %lld bytes\n",
            opened, open_ms, still_open, held, refused, s.samples, s.max_ms, s.failures,
            AB_HEALTH_MAX_MS / 2, s.slow, growth);
    assert_int_equal(opened, AB_SLOW_CONNS);
    assert_true(held >= 0 && held <= GW_HTTP_CONNECTIONS_PER_ADDR_MAX + 2);
    assert_true(refused >= AB_SLOW_CONNS - GW_HTTP_CONNECTIONS_PER_ADDR_MAX);
    assert_true(still_open <= GW_HTTP_CONNECTIONS_PER_ADDR_MAX);
    assert_int_equal(s.failures, 0);
    assert_true(s.samples >= AB_HOLD_S * 1000 / (AB_SAMPLE_MS * 4));
    assert_true(s.max_ms <= AB_HEALTH_MAX_MS);
    assert_true(growth < AB_LOG_GROWTH_MAX);
    /* Closed by the client: the gateway forgets them (no leaked count). */
    long long after = -1;
    for (int i = 0; i < 40; i++) {
        after = ab_metric("feegate_http_connections");
        if (after >= 0 && after <= 2) {
            break;
        }
        usleep(100 * 1000);
    }
    assert_true(after >= 0 && after <= 2);
}

static void test_trickled_headers_cut_at_the_deadline(void **state)
{
    (void)state;
    int fd = ab_connect(AB_TRICKLE_ADDR);
    assert_true(fd >= 0);
    int64_t t0 = gw_monotonic_us();
    static const char head[] = "GET /healthz HTTP/1.1\r\nX-Slow: ";
    assert_true(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL) > 0);
    long long cut_ms = -1;
    while ((gw_monotonic_us() - t0) / 1000 < GW_HTTP_REQUEST_READ_S * 1000 + 3 * AB_SLACK_MS) {
        if (ab_closed_poll((struct pollfd){ .fd = fd, .events = POLLIN }) ||
            send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
            cut_ms = (gw_monotonic_us() - t0) / 1000;
            break;
        }
    }
    (void)close(fd);
    fprintf(stderr, "trickle: cut after %lld ms (deadline %d s)\n", cut_ms, GW_HTTP_REQUEST_READ_S);
    assert_true(cut_ms >= GW_HTTP_REQUEST_READ_S * 1000 - AB_SLACK_MS);
    assert_true(cut_ms <= GW_HTTP_REQUEST_READ_S * 1000 + AB_SLACK_MS);
    assert_true(ab_metric("feegate_http_read_deadline_cut_total") >= 1);
}

static void test_ambiguous_headers_refused(void **state)
{
    (void)state;
    /* The controls first: the same requests made well are not refused. */
    assert_int_equal(ab_raw_status("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                     200);
    int same = ab_raw_status("POST /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
    assert_true(same != 0 && same != 400);
    assert_int_equal(ab_raw_status("POST /healthz HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
                     400);
    assert_int_equal(ab_raw_status("GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
    assert_int_equal(ab_raw_status("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n"), 400);
}

/* Descriptors open in process pid, or -1. */
static int ab_fds_of(pid_t pid)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += e->d_name[0] != '.';
    }
    (void)closedir(d);
    return n;
}

/* CPU time (user and system) of process pid so far, in ms. */
static long long ab_cpu_ms(pid_t pid)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name: state is field 3 */
    assert_non_null(p);
    /* Fields 14 and 15 are utime and stime: p stops at the space before field 14. */
    for (int field = 3; field <= 14 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    assert_non_null(p);
    char *end = NULL;
    unsigned long long ut = strtoull(p + 1, &end, 10);
    unsigned long long st = strtoull(end, NULL, 10);
    return (long long)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Lines of gw's log that hold needle. */
static int ab_count_lines(const struct th_gateway *gw, const char *needle)
{
    FILE *f = fopen(gw->proc.log_path, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL;
    }
    (void)fclose(f);
    return n;
}

/* Descriptors run out for another reason than clients (here the gateway's limit is lowered
 * under it, below what its connection cap assumes): accept() fails with EMFILE. The gateway
 * pauses its listeners instead of retrying at once, logs the failures once per interval with
 * a count, and serves again when descriptors come back. */
static void test_accept_errors_paused_and_counted(void **state)
{
    (void)state;
    static struct th_gateway gw;
    assert_int_equal(th_gateway_start(&gw, &it.db, &it.bs), GW_OK);
    pid_t pid = gw.proc.pid;
    struct rlimit was;
    assert_int_equal(prlimit(pid, RLIMIT_NOFILE, NULL, &was), 0);
    int in_use = ab_fds_of(pid);
    assert_true(in_use > 0);
    struct rlimit low = { .rlim_cur = (rlim_t)in_use + AB_EMFILE_ROOM, .rlim_max = was.rlim_max };
    assert_int_equal(prlimit(pid, RLIMIT_NOFILE, &low, NULL), 0);
    static int fds[AB_EMFILE_CONNS];
    int opened = 0;
    for (int i = 0; i < AB_EMFILE_CONNS; i++) {
        fds[i] = ab_connect_to("127.0.0.8", gw.port);
        opened += fds[i] >= 0;
    }
    long long cpu0 = ab_cpu_ms(pid);
    int64_t t0 = gw_monotonic_us();
    ab_sleep_ms(AB_EMFILE_HOLD_S * 1000L);
    long long cpu_ms = ab_cpu_ms(pid) - cpu0;
    long long wall_ms = (gw_monotonic_us() - t0) / 1000;
    int lines = ab_count_lines(&gw, "\"accept_failed\"");
    for (int i = 0; i < AB_EMFILE_CONNS; i++) {
        if (fds[i] >= 0) {
            (void)close(fds[i]);
        }
    }
    assert_int_equal(prlimit(pid, RLIMIT_NOFILE, &was, NULL), 0);
    long long errors = -1;
    for (int i = 0; i < 40 && errors <= 0; i++) {
        usleep(100 * 1000);
        errors = ab_metric_of(&gw, "feegate_http_accept_errors_total");
    }
    fprintf(stderr,
            "accept errors: %d connections over %d free descriptors; gateway CPU %lld ms in "
            "%lld ms; %d accept_failed lines; %lld errors counted\n",
            opened, AB_EMFILE_ROOM, cpu_ms, wall_ms, lines, errors);
    assert_int_equal(opened, AB_EMFILE_CONNS);
    assert_true(cpu_ms * 4 < wall_ms);         /* without the pause, a core's worth */
    assert_true(lines >= 1 && lines <= 2 * 2); /* two loops, at most two intervals each */
    assert_true(errors > 0);
    assert_int_equal(th_gateway_stop(&gw), GW_OK);
}

/* A second gateway started with a descriptor limit of AB_SMALL_FDS (the limit it inherits
 * from this program, lowered for good): its total cap is half of it. Connections from four
 * addresses, fewer than the per-address cap each, fill it; the rest are closed at once; the
 * gateway keeps its log small and counts none of them once they have gone. */
/* [server] connections_per_address_max is the per-address cap: with 3, of 5 connections from
 * one address 3 are held and 2 refused at once. */
static void test_per_address_cap_configured(void **state)
{
    (void)state;
    static struct th_gateway gw;
    gw.ini_extra = "[server]\nconnections_per_address_max = 3\n";
    assert_int_equal(th_gateway_start(&gw, &it.db, &it.bs), GW_OK);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = ab_connect_to("127.0.0.8", gw.port);
        assert_true(fds[i] >= 0);
    }
    usleep(500 * 1000);
    int held = 0;
    for (int i = 0; i < 5; i++) {
        held += !ab_closed(fds[i]);
    }
    for (int i = 0; i < 5; i++) {
        (void)close(fds[i]);
    }
    long long refused =
        ab_metric_of(&gw, "feegate_http_connections_refused_total{reason=\"per_address\"}");
    fprintf(stderr, "per-address cap 3: %d held, %lld refused\n", held, refused);
    assert_int_equal(held, 3);
    assert_int_equal(refused, 2);
    assert_int_equal(th_gateway_stop(&gw), GW_OK);
}

static void test_total_cap(void **state)
{
    (void)state;
    struct rlimit rl = { .rlim_cur = AB_SMALL_FDS, .rlim_max = AB_SMALL_FDS };
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    static struct th_gateway gw;
    assert_int_equal(th_gateway_start(&gw, &it.db, &it.bs), GW_OK);
    long long cap = ab_metric_of(&gw, "feegate_http_connections_max");
    assert_int_equal(cap, AB_SMALL_FDS / 2);
    struct stat st;
    assert_int_equal(stat(gw.proc.log_path, &st), 0);
    long long log0 = (long long)st.st_size;
    static int fds[4 * AB_SMALL_PER_ADDR];
    static const char *const srcs[4] = { "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7" };
    int opened = 0;
    for (int i = 0; i < 4 * AB_SMALL_PER_ADDR; i++) {
        fds[i] = ab_connect_to(srcs[i % 4], gw.port);
        opened += fds[i] >= 0;
    }
    usleep(500 * 1000);
    int open_now = 0;
    for (int i = 0; i < 4 * AB_SMALL_PER_ADDR; i++) {
        open_now += fds[i] >= 0 && !ab_closed(fds[i]);
    }
    /* Closed first: while the cap is full, a request for /metrics is refused as well. */
    for (int i = 0; i < 4 * AB_SMALL_PER_ADDR; i++) {
        if (fds[i] >= 0) {
            (void)close(fds[i]);
        }
    }
    long long refused = -1;
    for (int i = 0; i < 40 && refused < 0; i++) {
        usleep(100 * 1000); /* the gateway sees them go within a sweep */
        refused = ab_metric_of(&gw, "feegate_http_connections_refused_total{reason=\"total\"}");
    }
    fprintf(stderr, "total cap %lld: %d opened, %d held, %lld refused (total)\n", cap, opened,
            open_now, refused);
    assert_int_equal(opened, 4 * AB_SMALL_PER_ADDR);
    assert_true(open_now <= cap && open_now >= cap - 4);
    assert_true(refused >= 4LL * AB_SMALL_PER_ADDR - cap);
    long long after = -1;
    for (int i = 0; i < 40 && (after < 0 || after > 2); i++) {
        usleep(100 * 1000);
        after = ab_metric_of(&gw, "feegate_http_connections");
    }
    assert_true(after >= 0 && after <= 2);
    assert_int_equal(stat(gw.proc.log_path, &st), 0);
    assert_true((long long)st.st_size - log0 < AB_LOG_GROWTH_MAX / 16);
    assert_int_equal(th_gateway_stop(&gw), GW_OK);
}

/* /readyz: its status, and how long it took in elapsed_ms. */
static int ab_readyz(long long *elapsed_ms)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/readyz", it.gw.url);
    int64_t t0 = gw_monotonic_us();
    struct th_resp r;
    int status = th_http("GET", url, NULL, NULL, 0, &r) == GW_OK ? r.status : -1;
    th_resp_release(&r);
    *elapsed_ms = (gw_monotonic_us() - t0) / 1000;
    return status;
}

/* SIGSTOP (or SIGCONT) to every backend of the application role. */
static int ab_signal_backends(int sig)
{
    PGconn *c = PQconnectdb(it.db.pg.admin_dsn);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE usename = '" GW_PGEMBED_APP_ROLE
                            "' AND backend_type = 'client backend'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = 0;
    for (int i = 0; i < PQntuples(r) && i < AB_BACKENDS_MAX; i++) {
        n += kill((pid_t)strtol(PQgetvalue(r, i, 0), NULL, 10), sig) == 0;
    }
    PQclear(r);
    PQfinish(c);
    return n;
}

static void test_readyz_without_database(void **state)
{
    (void)state;
    long long ms = 0;
    assert_int_equal(ab_readyz(&ms), 200);
    int stopped = ab_signal_backends(SIGSTOP);
    assert_true(stopped > 0);
    int status = ab_readyz(&ms);
    fprintf(stderr, "readyz, database not answering: %d in %lld ms\n", status, ms);
    (void)ab_signal_backends(SIGCONT);
    assert_int_equal(status, 503);
    assert_true(ms <= GW_READYZ_DEADLINE_MS + AB_READY_SLACK_MS);
    for (int i = 0; i < 100 && ab_readyz(&ms) != 200; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(ab_readyz(&ms), 200);
    assert_int_equal(th_db_stop(&it.db), GW_OK);
    ab_db_stopped = true;
    status = ab_readyz(&ms);
    fprintf(stderr, "readyz, database stopped: %d in %lld ms\n", status, ms);
    assert_int_equal(status, 503);
    assert_true(ms <= GW_READYZ_DEADLINE_MS + AB_READY_SLACK_MS);
}

static int setup(void **state)
{
    (void)state;
    /* The 5,000 client sockets of this program: the gateway's own limit is its own. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < AB_SLOW_CONNS + 256) {
        fprintf(stderr, "abuse: the descriptor limit is below %d\n", AB_SLOW_CONNS + 256);
        return -1;
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return -1;
    }
    /* A query given up in 3 s: /readyz's deadline comes first, and with the database
     * stopped the gateway's drain is not held by queries waiting for it. */
    it.gw.ini_extra = "[database]\nquery_timeout_ms = 3000\n";
    return it_start("approve", NULL);
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    if (th_gateway_stop(&it.gw) != GW_OK) {
        rc = -1;
    }
    if (th_banksim_stop(&it.bs) != GW_OK) {
        rc = -1;
    }
    if (!ab_db_stopped && th_db_stop(&it.db) != GW_OK) {
        rc = -1;
    }
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_connections_from_one_address),
        cmocka_unit_test(test_trickled_headers_cut_at_the_deadline),
        cmocka_unit_test(test_ambiguous_headers_refused),
        cmocka_unit_test(test_accept_errors_paused_and_counted),
        cmocka_unit_test(test_per_address_cap_configured),
        cmocka_unit_test(test_total_cap),
        cmocka_unit_test(test_readyz_without_database),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
