/* feegate-idle-conns: what idle keep-alive connections cost the gateway in memory. Reads the
 * gateway's VmRSS (/proc/PID/status), opens --connections connections to 127.0.0.1:PORT from
 * --sources loopback source addresses (127.0.0.2, 127.0.0.3, ...: the gateway caps the
 * connections of one address, [server] connections_per_address_max), sends one keep-alive
 * GET /healthz on each and reads its answer, then, a second later with every connection idle,
 * counts the connections still open and reads VmRSS again; and counts them once a second for
 * the rest of --hold-s seconds (less than the gateway's 10 s idle timeout, which closes
 * them). Prints the counts, VmRSS before and with
 * them and the cost per held connection, and one JSON line. Bounded: the opening phase by
 * IDLE_SETUP_S_MAX, the whole run by --hold-s. For bench/idle.sh (docs/benchmarks.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_time.h"

#include "banned.h"

#define IDLE_CONNECTIONS_MAX 20000 /* what this client can open */
#define IDLE_SOURCES_MAX     250   /* 127.0.0.2 .. 127.0.0.251 */
#define IDLE_SETUP_S_MAX     30    /* opening and the first answers */
#define IDLE_HOLD_S_MAX      9     /* under the gateway's 10 s idle timeout */
#define IDLE_READ_BYTES      2048

enum idle_state {
    IDLE_CONNECTING,
    IDLE_WAITING,
    IDLE_ANSWERED,
    IDLE_CLOSED
};

struct idle_conn {
    int fd;
    enum idle_state state;
    size_t got; /* bytes of the answer so far */
};

static struct idle_conn conns[IDLE_CONNECTIONS_MAX];

struct idle_opts {
    int port;
    long pid;
    int n;
    int sources;
    int hold_s;
};

static struct idle_opts opts;
static int ep = -1; /* the epoll instance */

struct idle_mem {
    long rss_kib; /* -1 when unreadable */
    long hwm_kib;
};

struct idle_counts {
    int open;
    int answered;
};

/* VmRSS and VmHWM of the gateway, KiB. */
static struct idle_mem read_rss(void)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%ld/status", opts.pid);
    struct idle_mem m = { -1, -1 };
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return m;
    }
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            m.rss_kib = strtol(line + 6, NULL, 10);
        } else if (strncmp(line, "VmHWM:", 6) == 0) {
            m.hwm_kib = strtol(line + 6, NULL, 10);
        }
    }
    (void)fclose(f);
    return m;
}

static int open_one(int i)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0 };
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1U + (uint32_t)(i % opts.sources));
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opts.port) };
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i };
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS) ||
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        (void)close(fd);
        return -1;
    }
    conns[i] = (struct idle_conn){ .fd = fd, .state = IDLE_CONNECTING };
    return 0;
}

static void close_one(struct idle_conn *c)
{
    (void)close(c->fd);
    c->fd = -1;
    c->state = IDLE_CLOSED;
}

/* One readiness event: send the request once connected, read the answer's head. */
static void on_event(struct idle_conn *c, uint32_t events)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (c->state == IDLE_CONNECTING && (events & EPOLLOUT) != 0) {
        if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1)) {
            close_one(c);
            return;
        }
        c->state = IDLE_WAITING;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
                                  .data.u32 = (uint32_t)(c - conns) };
        (void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) {
        return;
    }
    char buf[IDLE_READ_BYTES];
    ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            close_one(c);
        }
        return;
    }
    c->got += (size_t)r;
    if (c->state == IDLE_WAITING && r >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0) {
        c->state = IDLE_ANSWERED;
    }
}

static struct idle_counts counts(void)
{
    struct idle_counts c = { 0, 0 };
    for (int i = 0; i < opts.n; i++) {
        c.open += conns[i].state != IDLE_CLOSED;
        c.answered += conns[i].state == IDLE_ANSWERED;
    }
    return c;
}

static bool any_pending(void)
{
    for (int i = 0; i < opts.n; i++) {
        if (conns[i].state == IDLE_CONNECTING || conns[i].state == IDLE_WAITING) {
            return true;
        }
    }
    return false;
}

/* Handles the events of up to 100 ms; returns how many there were. */
static int pump_once(void)
{
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, 100);
    for (int k = 0; k < n; k++) {
        struct idle_conn *c = &conns[evs[k].data.u32];
        if (c->state != IDLE_CLOSED) {
            on_event(c, evs[k].events);
        }
    }
    return n;
}

/* Runs the event loop until deadline_us. */
static void pump_until(int64_t deadline_us)
{
    while (gw_monotonic_us() < deadline_us) {
        (void)pump_once();
    }
}

/* Runs the event loop until every connection is answered or closed, or deadline_us. */
static void pump_settle(int64_t deadline_us)
{
    while (gw_monotonic_us() < deadline_us) {
        if (pump_once() == 0 && !any_pending()) {
            return;
        }
    }
}

static bool parse(int argc, char **argv)
{
    struct idle_opts *o = &opts;
    *o = (struct idle_opts){ .n = 10000, .sources = 80, .hold_s = 5 };
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--port") == 0) {
            o->port = (int)v;
        } else if (strcmp(argv[i], "--pid") == 0) {
            o->pid = v;
        } else if (strcmp(argv[i], "--connections") == 0) {
            o->n = (int)v;
        } else if (strcmp(argv[i], "--sources") == 0) {
            o->sources = (int)v;
        } else if (strcmp(argv[i], "--hold-s") == 0) {
            o->hold_s = (int)v;
        } else {
            return false;
        }
    }
    return argc % 2 == 1 && o->port > 0 && o->port < 65536 && o->pid > 0 && o->n > 0 &&
           o->n <= IDLE_CONNECTIONS_MAX && o->sources > 0 && o->sources <= IDLE_SOURCES_MAX &&
           o->hold_s > 0 && o->hold_s <= IDLE_HOLD_S_MAX;
}

int main(int argc, char **argv)
{
    if (!parse(argc, argv)) {
        (void)fputs("usage: feegate-idle-conns --port PORT --pid GATEWAY_PID [--connections N "
                    "(10000)] [--sources K (80)] [--hold-s S (5, at most 9)]\n",
                    stderr);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct idle_mem m0 = read_rss();
    ep = epoll_create1(EPOLL_CLOEXEC);
    int64_t deadline = gw_monotonic_us() + (int64_t)IDLE_SETUP_S_MAX * 1000000;
    int failed = 0;
    for (int i = 0; i < opts.n; i++) {
        if (open_one(i) != 0) {
            conns[i] = (struct idle_conn){ .fd = -1, .state = IDLE_CLOSED };
            failed++;
        }
        if (i % 256 == 255) {
            pump_until(gw_monotonic_us() + 1000); /* keep the accept queue moving */
        }
    }
    pump_settle(deadline);
    struct idle_counts c0 = counts();
    (void)fprintf(stderr,
                  "idle-conns: %d opened, %d could not be opened here, %d answered, %d "
                  "open; holding %d s\n",
                  opts.n, failed, c0.answered, c0.open, opts.hold_s);
    /* One second for the last answers to be read, then the measurement; then the hold. */
    pump_until(gw_monotonic_us() + 1000000);
    int held = counts().open;
    struct idle_mem m1 = read_rss();
    int held_end = held;
    for (int s = 1; s < opts.hold_s; s++) {
        pump_until(gw_monotonic_us() + 1000000);
        held_end = counts().open;
    }
    double per_kib = held > 0 ? (double)(m1.rss_kib - m0.rss_kib) / held : 0;
    (void)printf("gateway VmRSS %.1f MiB idle, %.1f MiB with %d idle keep-alive connections held "
                 "(%d tried, %d answered): %.1f KiB per connection; VmHWM %.1f MiB; %d still "
                 "open %d s later\n",
                 (double)m0.rss_kib / 1024, (double)m1.rss_kib / 1024, held, opts.n, c0.answered,
                 per_kib, (double)m1.hwm_kib / 1024, held_end, opts.hold_s - 1);
    (void)printf("{\"mode\":\"idle_connections\",\"tried\":%d,\"answered\":%d,\"held\":%d,"
                 "\"sources\":%d,\"vmrss_idle_kib\":%ld,\"vmrss_held_kib\":%ld,"
                 "\"vmhwm_kib\":%ld,\"kib_per_connection\":%.2f,\"held_at_end\":%d}\n",
                 opts.n, c0.answered, held, opts.sources, m0.rss_kib, m1.rss_kib, m1.hwm_kib,
                 per_kib, held_end);
    for (int i = 0; i < opts.n; i++) {
        if (conns[i].state != IDLE_CLOSED) {
            (void)close(conns[i].fd);
        }
    }
    (void)close(ep);
    return 0;
}
