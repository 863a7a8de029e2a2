/* Connections held per client address and in total, the request read deadline, accept
 * errors. libevent 2.1 has no connection cap and no hook between accept and evhttp (no
 * evhttp_set_newreqcb, no public evhttp_get_request), so the hook is evhttp_set_bevcb: it
 * makes each new connection's bufferevent, which evhttp then gives the accepted socket. The
 * connection is registered here by its descriptor (a table indexed by descriptor, shared by
 * the loops under one lock) once evhttp has set it: the previous one when the next arrives,
 * the last of a burst from an event made active. A connection over a cap is shut down at
 * once: evhttp reads end-of-file and frees it. Each loop's sweep cuts requests past their
 * read deadline the same way, and forgets connections whose descriptor no longer leads to
 * the same peer (the close callback is not set on every path evhttp closes by). */
#include "conn_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "gw_assert.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_time.h"
#include "request.h"
#include "tls.h"

#include "banned.h"

#define ADDR_BUCKETS 4096 /* power of two */

/* A connection, at the index of its descriptor. */
struct guard_slot {
    int loop; /* owner loop index; -1: free */
    uint32_t addr;
    uint16_t port;
    bool reading;     /* a request is being read: the deadline runs */
    int64_t start_ms; /* when it began */
};

/* Connections of one client address; chained from a bucket. */
struct guard_addr {
    uint32_t addr;
    uint32_t n;
    int32_t next; /* index, -1: end */
};

struct guard_loop {
    struct gw_loop *loop;
    struct bufferevent *pending; /* made by the hook, not yet registered (one reference) */
    struct event *register_ev;
    struct event *sweep_timer;
    struct event *resume_timer;
    int64_t logged_ms;
    uint64_t unlogged;
};

static struct {
    pthread_mutex_t lock;
    struct guard_slot *slots;
    int n_slots; /* the descriptor limit */
    int32_t buckets[ADDR_BUCKETS];
    struct guard_addr *addrs; /* n_slots entries */
    int32_t addrs_free;
    int open;
    int open_max;
    int per_addr_max; /* [server] connections_per_address_max */
    _Atomic uint64_t refused_addr;
    _Atomic uint64_t refused_total;
    _Atomic uint64_t deadline_cut;
    _Atomic uint64_t accept_errors;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static struct guard_loop g_loops[GW_HTTP_LOOPS_MAX];

enum gw_err gw_conn_guard_init(int per_addr_max, struct gw_errbuf *eb)
{
    GW_ASSERT(per_addr_max >= 1);
    g.per_addr_max = per_addr_max;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not read the descriptor limit: %s",
                       GW_STRERROR(errno));
    }
    int lim = rl.rlim_cur > (rlim_t)1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
    g.n_slots = lim;
    g.open_max = lim > 2 * GW_FDS_RESERVED ? lim - GW_FDS_RESERVED : lim / 2;
    g.open_max = g.open_max > GW_HTTP_CONNECTIONS_MAX ? GW_HTTP_CONNECTIONS_MAX : g.open_max;
    g.slots = gw_xcalloc((size_t)lim, sizeof(*g.slots));
    g.addrs = gw_xcalloc((size_t)lim, sizeof(*g.addrs));
    for (int i = 0; i < lim; i++) {
        g.slots[i].loop = -1;
        g.addrs[i].next = i + 1 < lim ? i + 1 : -1;
    }
    g.addrs_free = 0;
    for (int i = 0; i < ADDR_BUCKETS; i++) {
        g.buckets[i] = -1;
    }
    g.open = 0;
    gw_log_info("connection_limits", "\"descriptors\":%d,\"connections_max\":%d,\"per_address\":%d",
                lim, g.open_max, g.per_addr_max);
    return GW_OK;
}

void gw_conn_guard_free(void)
{
    gw_xfree(g.slots);
    gw_xfree(g.addrs);
    g.slots = NULL;
    g.addrs = NULL;
}

static int32_t *addr_link(uint32_t addr)
{
    int32_t *link = &g.buckets[(addr * 2654435761u) >> 20 & (ADDR_BUCKETS - 1)];
    while (*link >= 0 && g.addrs[*link].addr != addr) {
        link = &g.addrs[*link].next;
    }
    return link;
}

/* The address's count, 0 if it has none (under the lock). */
static uint32_t addr_count(uint32_t addr)
{
    int32_t i = *addr_link(addr);
    return i >= 0 ? g.addrs[i].n : 0;
}

static void addr_add(uint32_t addr)
{
    int32_t *link = addr_link(addr);
    if (*link < 0) {
        GW_ASSERT(g.addrs_free >= 0); /* at most one entry per held connection */
        int32_t i = g.addrs_free;
        g.addrs_free = g.addrs[i].next;
        g.addrs[i] = (struct guard_addr){ .addr = addr, .n = 0, .next = -1 };
        *link = i;
    }
    g.addrs[*link].n++;
}

static void addr_remove(uint32_t addr)
{
    int32_t *link = addr_link(addr);
    GW_ASSERT(*link >= 0 && g.addrs[*link].n > 0);
    int32_t i = *link;
    if (--g.addrs[i].n == 0) {
        *link = g.addrs[i].next;
        g.addrs[i].next = g.addrs_free;
        g.addrs_free = i;
    }
}

static void slot_release(int fd)
{
    struct guard_slot *s = &g.slots[fd];
    if (s->loop >= 0) {
        addr_remove(s->addr);
        g.open--;
        s->loop = -1;
    }
}

/* The socket's IPv4 peer, false if it has none (closed, or not IPv4). */
static bool peer_of(int fd, uint32_t *addr, uint16_t *port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    socklen_t len = sizeof(sa);
    if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0 || sa.sin_family != AF_INET) {
        return false;
    }
    *addr = sa.sin_addr.s_addr;
    *port = sa.sin_port;
    return true;
}

/* Counts the connection of bev (whose socket evhttp has set) or refuses it, then drops the
 * hook's reference (which may close a connection evhttp has already freed). */
static void register_bev(struct guard_loop *gl, struct bufferevent *bev)
{
    int fd = (int)bufferevent_getfd(bev);
    uint32_t addr = 0;
    uint16_t port = 0;
    if (fd >= 0 && fd < g.n_slots && peer_of(fd, &addr, &port)) {
        GW_ASSERT(pthread_mutex_lock(&g.lock) == 0);
        slot_release(fd); /* a connection gone unseen, whose descriptor was reused */
        bool over_total = g.open >= g.open_max;
        bool over_addr = !over_total && addr_count(addr) >= (uint32_t)g.per_addr_max;
        if (!over_total && !over_addr) {
            g.slots[fd] = (struct guard_slot){ .loop = gl->loop->index,
                                               .addr = addr,
                                               .port = port,
                                               .reading = true,
                                               .start_ms = (gw_monotonic_us() / 1000) };
            addr_add(addr);
            g.open++;
        }
        GW_ASSERT(pthread_mutex_unlock(&g.lock) == 0);
        if (over_total || over_addr) {
            atomic_fetch_add_explicit(over_total ? &g.refused_total : &g.refused_addr, 1,
                                      memory_order_relaxed);
            (void)shutdown(fd, SHUT_RDWR);
        }
    }
    bufferevent_decref(bev);
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback */
static void register_pending(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct guard_loop *gl = arg;
    if (gl->pending != NULL) {
        struct bufferevent *bev = gl->pending;
        gl->pending = NULL;
        register_bev(gl, bev);
    }
}

/* evhttp's bufferevent hook, called for each accepted connection before evhttp sets its
 * socket: the previous connection (set by now) is registered, this one when the next comes
 * or when the loop runs the register event, before any of its bytes are read. Both listeners
 * of a loop share it: pending is the loop's last connection, whichever accepted it. */
static struct bufferevent *new_bev_of(struct guard_loop *gl, struct event_base *base, bool tls)
{
    register_pending(-1, 0, gl);
    struct bufferevent *bev = tls ? gw_listener_tls_bev_new(gl->loop->srv->tls, base)
                                  : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev != NULL) {
        bufferevent_incref(bev);
        gl->pending = bev;
        event_active(gl->register_ev, EV_TIMEOUT, 0);
    }
    return bev;
}

static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
    return new_bev_of(arg, base, false);
}

/* The same for a listener that speaks TLS (tls.c makes the bufferevent). */
static struct bufferevent *new_bev_tls(struct event_base *base, void *arg)
{
    return new_bev_of(arg, base, true);
}

static int evcon_fd(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    int fd = bev != NULL ? (int)bufferevent_getfd(bev) : -1;
    return fd < g.n_slots ? fd : -1;
}

void gw_conn_guard_closed(struct evhttp_connection *evcon)
{
    int fd = evcon_fd(evcon);
    if (fd >= 0) {
        GW_ASSERT(pthread_mutex_lock(&g.lock) == 0);
        slot_release(fd);
        GW_ASSERT(pthread_mutex_unlock(&g.lock) == 0);
    }
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)arg;
    gw_conn_guard_closed(evcon);
}

static void set_reading(struct evhttp_connection *evcon, bool reading)
{
    int fd = evcon_fd(evcon);
    if (fd >= 0) {
        GW_ASSERT(pthread_mutex_lock(&g.lock) == 0);
        g.slots[fd].reading = reading;
        g.slots[fd].start_ms = (gw_monotonic_us() / 1000);
        GW_ASSERT(pthread_mutex_unlock(&g.lock) == 0);
    }
}

/* The answer is out and the connection stays: the next request's deadline starts. The
 * request's close callback was cleared with its answer: the guard's own takes its place. */
static void request_done(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon != NULL) {
        set_reading(evcon, true);
        evhttp_connection_set_closecb(evcon, conn_closed, NULL);
    }
}

void gw_conn_guard_request_read(struct gw_loop *loop, struct evhttp_request *req)
{
    (void)loop;
    set_reading(evhttp_request_get_connection(req), false);
    evhttp_request_set_on_complete_cb(req, request_done, NULL);
}

/* The loop's connections: those whose descriptor no longer leads to their peer are
 * forgotten, those reading a request past its deadline are shut down. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback */
static void sweep(evutil_socket_t fd_unused, short what, void *arg)
{
    (void)fd_unused;
    (void)what;
    struct guard_loop *gl = arg;
    int me = gl->loop->index;
    int64_t now = (gw_monotonic_us() / 1000);
    uint64_t cut = 0;
    GW_ASSERT(pthread_mutex_lock(&g.lock) == 0);
    for (int fd = 0; fd < g.n_slots; fd++) {
        struct guard_slot *s = &g.slots[fd];
        if (s->loop != me) {
            continue;
        }
        uint32_t addr = 0;
        uint16_t port = 0;
        if (!peer_of(fd, &addr, &port) || addr != s->addr || port != s->port) {
            slot_release(fd);
        } else if (s->reading && now - s->start_ms >= (int64_t)GW_HTTP_REQUEST_READ_S * 1000) {
            s->reading = false;
            (void)shutdown(fd, SHUT_RDWR);
            cut++;
        }
    }
    GW_ASSERT(pthread_mutex_unlock(&g.lock) == 0);
    atomic_fetch_add_explicit(&g.deadline_cut, cut, memory_order_relaxed);
    struct timeval tv = { .tv_sec = 0, .tv_usec = (suseconds_t)GW_HTTP_SWEEP_MS * 1000 };
    GW_ASSERT(evtimer_add(gl->sweep_timer, &tv) == 0);
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback */
static void resume_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct guard_loop *gl = arg;
    if (!atomic_load(&gl->loop->srv->draining)) {
        (void)evconnlistener_enable(gl->loop->listener);
        if (gl->loop->listener_tls != NULL) {
            (void)evconnlistener_enable(gl->loop->listener_tls);
        }
    }
}

/* accept() failed with an error other than "try again": counted, logged at most once per
 * GW_HTTP_ACCEPT_LOG_S with the count since the last line, and on a lack of descriptors or
 * memory the listener pauses (its socket stays readable, so libevent would retry at once,
 * forever). */
static void accept_error(struct evconnlistener *listener, void *arg)
{
    /* The listener's argument is the evhttp it was bound to (evhttp_bind_listener). */
    struct guard_loop *gl = NULL;
    for (int i = 0; i < GW_HTTP_LOOPS_MAX && gl == NULL; i++) {
        const struct gw_loop *l = g_loops[i].loop;
        gl = l != NULL && (l->http == arg || l->http_tls == arg) ? &g_loops[i] : NULL;
    }
    GW_ASSERT(gl != NULL);
    int err = EVUTIL_SOCKET_ERROR();
    atomic_fetch_add_explicit(&g.accept_errors, 1, memory_order_relaxed);
    gl->unlogged++;
    int64_t now = (gw_monotonic_us() / 1000);
    if (gl->logged_ms == 0 || now - gl->logged_ms >= (int64_t)GW_HTTP_ACCEPT_LOG_S * 1000) {
        gw_log_warn("accept_failed", "\"loop\":%d,\"errors\":%llu,\"error\":\"%s\"",
                    gl->loop->index, (unsigned long long)gl->unlogged, GW_STRERROR(err));
        gl->logged_ms = now;
        gl->unlogged = 0;
    }
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        (void)evconnlistener_disable(listener);
        struct timeval tv = { .tv_sec = 0, .tv_usec = (suseconds_t)GW_HTTP_ACCEPT_PAUSE_MS * 1000 };
        GW_ASSERT(evtimer_add(gl->resume_timer, &tv) == 0);
    }
}

void gw_conn_guard_attach(struct gw_loop *loop)
{
    struct guard_loop *gl = &g_loops[loop->index];
    memset(gl, 0, sizeof(*gl));
    gl->loop = loop;
    gl->register_ev = event_new(loop->base, -1, 0, register_pending, gl);
    gl->sweep_timer = evtimer_new(loop->base, sweep, gl);
    gl->resume_timer = evtimer_new(loop->base, resume_accept, gl);
    GW_ASSERT(gl->register_ev != NULL && gl->sweep_timer != NULL && gl->resume_timer != NULL);
    /* `listen` speaks TLS when the server has it and no tls_listen of its own. */
    bool listen_tls = loop->srv->tls != NULL && loop->http_tls == NULL;
    evhttp_set_bevcb(loop->http, listen_tls ? new_bev_tls : new_bev, gl);
    evconnlistener_set_error_cb(loop->listener, accept_error);
    if (loop->http_tls != NULL) {
        evhttp_set_bevcb(loop->http_tls, new_bev_tls, gl);
        evconnlistener_set_error_cb(loop->listener_tls, accept_error);
    }
    if (loop->http_console != NULL) { /* plain HTTP: the console listens on loopback */
        evhttp_set_bevcb(loop->http_console, new_bev, gl);
        evconnlistener_set_error_cb(loop->listener_console, accept_error);
    }
    sweep(-1, 0, gl);
}

void gw_conn_guard_detach(struct gw_loop *loop)
{
    struct guard_loop *gl = &g_loops[loop->index];
    if (gl->loop != loop) {
        return;
    }
    if (gl->pending != NULL) {
        bufferevent_decref(gl->pending);
        gl->pending = NULL;
    }
    event_free(gl->register_ev);
    event_free(gl->sweep_timer);
    event_free(gl->resume_timer);
    memset(gl, 0, sizeof(*gl));
}

struct gw_conn_stats gw_conn_guard_stats(void)
{
    struct gw_conn_stats s = { 0 };
    GW_ASSERT(pthread_mutex_lock(&g.lock) == 0);
    s.open = (uint64_t)g.open;
    s.open_max = (uint64_t)g.open_max;
    GW_ASSERT(pthread_mutex_unlock(&g.lock) == 0);
    s.refused_addr = atomic_load_explicit(&g.refused_addr, memory_order_relaxed);
    s.refused_total = atomic_load_explicit(&g.refused_total, memory_order_relaxed);
    s.deadline_cut = atomic_load_explicit(&g.deadline_cut, memory_order_relaxed);
    s.accept_errors = atomic_load_explicit(&g.accept_errors, memory_order_relaxed);
    return s;
}
