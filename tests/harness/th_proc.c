/* Child processes of the harness: feegate-banksim, `feegate serve`, `feegate ledger check`,
 * started by fork + execve with argument vectors, watched, and stopped with SIGTERM; plus
 * the atexit handler that stops whatever a failed test left running. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gw_assert.h"
#include "th.h"
#include "th_int.h"

#include "banned.h"

#ifndef FEEGATE_BIN
#error "FEEGATE_BIN must be defined by CMake"
#endif
#ifndef BANKSIM_BIN
#error "BANKSIM_BIN must be defined by CMake"
#endif

extern char **environ;

#define TH_START_TIMEOUT_MS  15000 /* until /healthz answers 200 (ASan builds start slower) */
#define TH_STOP_TIMEOUT_MS   10000 /* after SIGTERM, before SIGKILL */
#define TH_LEDGER_TIMEOUT_MS 60000
#define TH_POLL_MS           50
#define TH_LIVE_MAX          16
#define TH_PRINT_BYTES_MAX   (64L * 1024)
#define TH_LOG_LINES_MAX     1000000

/* ---- small helpers ---- */

int64_t th_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void th_sleep_ms(int ms)
{
    const struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
    (void)nanosleep(&ts, NULL);
}

void th_argv_init(struct th_argv *a)
{
    a->used = 0;
    a->n = 0;
    a->v[0] = NULL;
}

void th_argv_add(struct th_argv *a, const char *s)
{
    size_t len = strlen(s) + 1;
    GW_ASSERT(a->n < TH_ARGV_MAX);
    GW_ASSERT(len <= sizeof(a->buf) - a->used);
    memcpy(a->buf + a->used, s, len);
    a->v[a->n++] = a->buf + a->used;
    a->v[a->n] = NULL;
    a->used += len;
}

void th_argv_addf(struct th_argv *a, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): a false positive, see va_start */
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    GW_ASSERT(n >= 0 && (size_t)n < sizeof(tmp));
    th_argv_add(a, tmp);
}

void th_env_init(struct th_env *env, const char *extra)
{
    env->n = 0;
    for (size_t i = 0; environ[i] != NULL && env->n < TH_ENV_MAX - 2; i++) {
        if (strncmp(environ[i], "FEEGATE_", 8) != 0) {
            env->v[env->n++] = environ[i];
        }
    }
    if (extra != NULL) {
        GW_ASSERT(strlen(extra) < sizeof(env->extra));
        (void)snprintf(env->extra, sizeof(env->extra), "%s", extra);
        env->v[env->n++] = env->extra;
    }
    env->v[env->n] = NULL;
}

enum gw_err th_mkdtemp(char *out, size_t out_len, const char *prefix)
{
    int n = snprintf(out, out_len, "/tmp/%s-XXXXXX", prefix);
    GW_ASSERT(n > 0 && (size_t)n < out_len);
    if (mkdtemp(out) == NULL) {
        (void)fprintf(stderr, "th: could not create %s: %s\n", out, TH_STRERROR(errno));
        return GW_ERR_IO;
    }
    return GW_OK;
}

static int th_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc == 0 || errno == ENOENT ? 0 : -1;
}

void th_rmtree(const char *dir)
{
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): nftw changes no process state with FTW_PHYS */
    if (dir[0] != '\0' && nftw(dir, th_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        (void)fprintf(stderr, "th: could not remove %s: %s\n", dir, TH_STRERROR(errno));
    }
}

void th_print_file(const char *title, const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        (void)fprintf(stderr, "th: (no %s at %s)\n", title, path);
        return;
    }
    (void)fprintf(stderr, "---- %s (%s) ----\n", title, path);
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > TH_PRINT_BYTES_MAX) {
        (void)fseek(f, -TH_PRINT_BYTES_MAX, SEEK_END);
    } else {
        rewind(f);
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        (void)fwrite(buf, 1, n, stderr);
    }
    (void)fclose(f);
    (void)fprintf(stderr, "---- end of %s ----\n", title);
}

int th_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    GW_ASSERT(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc == 0) {
        rc = getsockname(fd, (struct sockaddr *)&sa, &len);
    }
    (void)close(fd);
    GW_ASSERT(rc == 0);
    return ntohs(sa.sin_port);
}

/* ---- what is left running at exit ---- */

static void *th_live_dbs[TH_LIVE_MAX];   /* struct th_db * */
static void *th_live_procs[TH_LIVE_MAX]; /* struct th_proc * */
static bool th_atexit_set;

/* The receipt signer of the harness's gateways (th_signer): made once per test program. */
static char th_signer_dir[64];

static void th_cleanup(void)
{
    for (size_t i = 0; i < TH_LIVE_MAX; i++) {
        struct th_proc *p = th_live_procs[i];
        if (p != NULL) {
            (void)fprintf(stderr, "th: %s still running at exit: stopping it\n", p->name);
            (void)th_proc_stop(p);
        }
    }
    for (size_t i = 0; i < TH_LIVE_MAX; i++) {
        if (th_live_dbs[i] != NULL) {
            (void)th_db_stop(th_live_dbs[i]);
        }
    }
    if (th_signer_dir[0] != '\0') {
        th_rmtree(th_signer_dir);
    }
}

static void th_track(void *slots[TH_LIVE_MAX], void *item, bool live)
{
    if (!th_atexit_set) {
        th_atexit_set = atexit(th_cleanup) == 0;
    }
    for (size_t i = 0; i < TH_LIVE_MAX; i++) {
        if (live && slots[i] == NULL) {
            slots[i] = item;
            return;
        }
        if (!live && slots[i] == item) {
            slots[i] = NULL;
        }
    }
    GW_ASSERT(!live); /* more than TH_LIVE_MAX at once is a harness bug */
}

void th_track_db(struct th_db *db, bool live)
{
    th_track(th_live_dbs, db, live);
}

void th_track_proc(struct th_proc *p, bool live)
{
    th_track(th_live_procs, p, live);
}

/* ---- spawning and waiting ---- */

enum gw_err th_spawn(struct th_proc *p, const struct th_argv *argv, const struct th_env *env)
{
    int log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
        (void)fprintf(stderr, "th: could not open %s: %s\n", p->log_path, TH_STRERROR(errno));
        if (log_fd >= 0) {
            (void)close(log_fd);
        }
        return GW_ERR_IO;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
            dup2(log_fd, STDERR_FILENO) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
            getppid() != parent) {
            _exit(126);
        }
        execve(argv->v[0], argv->v, env->v);
        _exit(127);
    }
    (void)close(log_fd);
    (void)close(null_fd);
    if (pid < 0) {
        (void)fprintf(stderr, "th: could not fork: %s\n", TH_STRERROR(errno));
        return GW_ERR_IO;
    }
    p->pid = pid;
    return GW_OK;
}

enum gw_err th_wait_pid(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    while (th_now_ms() < deadline) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            return GW_OK;
        }
        if (r < 0 && errno != EINTR) {
            return GW_ERR_IO;
        }
        th_sleep_ms(10);
    }
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, status, 0);
    return GW_ERR_TIMEOUT;
}

static void th_describe_status(int status, char *out, size_t out_len)
{
    if (WIFEXITED(status)) {
        (void)snprintf(out, out_len, "exited with code %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        (void)snprintf(out, out_len, "was killed by signal %d (SIG%s)", WTERMSIG(status),
                       abbrev != NULL ? abbrev : "?");
    } else {
        (void)snprintf(out, out_len, "stopped with status 0x%x", (unsigned)status);
    }
}

/* True if the log holds an AddressSanitizer, LeakSanitizer or UBSan report. */
static bool th_log_has_sanitizer_report(const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return false;
    }
    char line[1024];
    bool found = false;
    for (long i = 0; i < TH_LOG_LINES_MAX && !found && fgets(line, sizeof(line), f) != NULL; i++) {
        found = strstr(line, "Sanitizer") != NULL || strstr(line, "runtime error:") != NULL;
    }
    (void)fclose(f);
    return found;
}

bool th_proc_alive(struct th_proc *p)
{
    if (p->pid <= 0) {
        return false;
    }
    int status = 0;
    if (waitpid(p->pid, &status, WNOHANG) != p->pid) {
        return true;
    }
    char how[96];
    th_describe_status(status, how, sizeof(how));
    (void)fprintf(stderr, "th: %s (pid %d) %s\n", p->name, (int)p->pid, how);
    th_print_file(p->name, p->log_path);
    p->pid = 0;
    th_track_proc(p, false);
    return false;
}

enum gw_err th_proc_stop(struct th_proc *p)
{
    return th_proc_stop_signal(p, SIGTERM);
}

enum gw_err th_proc_stop_signal(struct th_proc *p, int sig)
{
    if (p->pid <= 0) {
        return GW_OK;
    }
    int status = 0;
    (void)kill(p->pid, sig);
    bool timed_out = th_wait_pid(p->pid, TH_STOP_TIMEOUT_MS, &status) != GW_OK;
    char how[96];
    th_describe_status(status, how, sizeof(how));
    bool clean_exit = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    bool sanitizer = th_log_has_sanitizer_report(p->log_path);
    p->pid = 0;
    th_track_proc(p, false);
    if (clean_exit && !sanitizer) {
        th_rmtree(p->dir);
        return GW_OK;
    }
    (void)fprintf(stderr, "th: %s %s%s%s\n", p->name,
                  timed_out ? "did not stop within 10 s of its signal and " : "", how,
                  sanitizer ? ", with a sanitizer report" : "");
    th_print_file(p->name, p->log_path);
    (void)fprintf(stderr, "th: kept %s\n", p->dir);
    return GW_ERR_INTERNAL;
}

/* Kills a child that failed to start; its log was printed already. */
static void th_proc_abandon(struct th_proc *p)
{
    if (p->pid > 0) {
        int status;
        (void)kill(p->pid, SIGKILL);
        (void)waitpid(p->pid, &status, 0);
    }
    p->pid = 0;
    th_track_proc(p, false);
    (void)fprintf(stderr, "th: kept %s\n", p->dir);
}

/* Polls url until 200, the child's death or TH_START_TIMEOUT_MS. */
static enum gw_err th_wait_ready(struct th_proc *p, const char *url)
{
    struct th_http_req req = { .method = "GET", .url = url, .timeout_ms = 1000, .quiet = true };
    int64_t deadline = th_now_ms() + TH_START_TIMEOUT_MS;
    while (th_now_ms() < deadline) {
        if (!th_proc_alive(p)) {
            return GW_ERR_UNAVAILABLE;
        }
        struct th_resp resp;
        enum gw_err err = th_http_send(&req, &resp);
        int status = resp.status;
        th_resp_release(&resp);
        if (err == GW_OK && status == 200) {
            return GW_OK;
        }
        th_sleep_ms(TH_POLL_MS);
    }
    (void)fprintf(stderr, "th: %s did not answer 200 on %s within %d ms\n", p->name, url,
                  TH_START_TIMEOUT_MS);
    th_print_file(p->name, p->log_path);
    return GW_ERR_TIMEOUT;
}

/* Polls base_url/healthz. */
static enum gw_err th_wait_healthy(struct th_proc *p, const char *base_url)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/healthz", base_url);
    return th_wait_ready(p, url);
}

/* Prepares p's directory and log, spawns argv and waits for /healthz. */
static enum gw_err th_proc_start(struct th_proc *p, const char *name, const struct th_argv *argv,
                                 const char *base_url)
{
    (void)snprintf(p->name, sizeof(p->name), "%s", name);
    (void)snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", p->dir, name);
    struct th_env env;
    th_env_init(&env, NULL);
    enum gw_err err = th_spawn(p, argv, &env);
    if (err != GW_OK) {
        return err;
    }
    th_track_proc(p, true);
    err = th_wait_healthy(p, base_url);
    if (err != GW_OK) {
        th_proc_abandon(p);
    }
    return err;
}

enum gw_err th_child_start(struct th_proc *p, const char *name, const char *const *argv,
                           const char *ready_url)
{
    memset(p, 0, sizeof(*p));
    if (argv[0] == NULL) {
        (void)fprintf(stderr, "th: %s: no program to start\n", name);
        return GW_ERR_INVALID;
    }
    enum gw_err err = th_mkdtemp(p->dir, sizeof(p->dir), "fg-child");
    if (err != GW_OK) {
        return err;
    }
    (void)snprintf(p->name, sizeof(p->name), "%s", name);
    (void)snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", p->dir, name);
    struct th_argv a;
    th_argv_init(&a);
    for (int i = 0; argv[i] != NULL && i < TH_ARGV_MAX; i++) {
        th_argv_add(&a, argv[i]);
    }
    struct th_env env;
    th_env_init(&env, NULL);
    err = th_spawn(p, &a, &env);
    if (err != GW_OK) {
        return err;
    }
    th_track_proc(p, true);
    err = th_wait_ready(p, ready_url);
    if (err != GW_OK) {
        th_proc_abandon(p);
    }
    return err;
}

enum gw_err th_proc_kill(struct th_proc *p)
{
    if (p->pid <= 0 || !th_proc_alive(p)) {
        return GW_ERR_INTERNAL;
    }
    int status = 0;
    (void)kill(p->pid, SIGKILL);
    (void)waitpid(p->pid, &status, 0);
    p->pid = 0;
    th_track_proc(p, false);
    bool sanitizer = th_log_has_sanitizer_report(p->log_path);
    if (sanitizer) {
        th_print_file(p->name, p->log_path);
        (void)fprintf(stderr, "th: kept %s\n", p->dir);
        return GW_ERR_INTERNAL;
    }
    th_rmtree(p->dir);
    return GW_OK;
}

enum gw_err th_banksim_start(struct th_banksim *bs, const char *auto_mode)
{
    const char *const args[] = { "--auto", auto_mode, NULL };
    return th_banksim_start_args(bs, auto_mode != NULL ? args : NULL);
}

enum gw_err th_banksim_start_args(struct th_banksim *bs, const char *const *extra_args)
{
    memset(bs, 0, sizeof(*bs));
    enum gw_err err = th_mkdtemp(bs->proc.dir, sizeof(bs->proc.dir), "fg-banksim");
    if (err != GW_OK) {
        return err;
    }
    bs->port = th_free_port();
    bool tls = false;
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
        tls = tls || strcmp(extra_args[i], "--tls-cert") == 0;
    }
    (void)snprintf(bs->url, sizeof(bs->url), "%s://127.0.0.1:%d", tls ? "https" : "http", bs->port);
    struct th_argv a;
    th_argv_init(&a);
    th_argv_add(&a, BANKSIM_BIN);
    th_argv_add(&a, "--listen");
    th_argv_addf(&a, "127.0.0.1:%d", bs->port);
    th_argv_add(&a, "--sandbox-merchant");
    th_argv_add(&a, TH_SANDBOX_MERCHANT);
    th_argv_add(&a, "--sandbox-secret");
    th_argv_add(&a, TH_SANDBOX_SECRET);
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
        th_argv_add(&a, extra_args[i]);
    }
    return th_proc_start(&bs->proc, "banksim", &a, bs->url);
}

/* A receipt CA and signer under th_signer_dir, made by `feegate receipt-ca init` the first
 * time a gateway needs it (two RSA keys: once per test program, not per gateway). A gateway
 * outside development mode refuses to start without one (docs/operations.md). */
static enum gw_err th_signer(void)
{
    if (th_signer_dir[0] != '\0') {
        return GW_OK;
    }
    struct th_proc p;
    memset(&p, 0, sizeof(p));
    (void)snprintf(p.name, sizeof(p.name), "receipt-ca init");
    enum gw_err err = th_mkdtemp(p.dir, sizeof(p.dir), "fg-signer");
    if (err != GW_OK) {
        return err;
    }
    (void)snprintf(p.log_path, sizeof(p.log_path), "%s/ca-init.log", p.dir);
    struct th_argv a;
    th_argv_init(&a);
    th_argv_add(&a, FEEGATE_BIN);
    th_argv_add(&a, "receipt-ca");
    th_argv_add(&a, "init");
    th_argv_addf(&a, "%s/ca", p.dir);
    struct th_env env;
    th_env_init(&env, NULL);
    err = th_spawn(&p, &a, &env);
    int status = 0;
    if (err == GW_OK) {
        err = th_wait_pid(p.pid, 60000, &status);
    }
    if (err != GW_OK || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        (void)fprintf(stderr, "th: feegate receipt-ca init failed\n");
        th_print_file("receipt-ca init", p.log_path);
        th_rmtree(p.dir);
        return err != GW_OK ? err : GW_ERR_IO;
    }
    if (!th_atexit_set) { /* the atexit handler removes the directory */
        th_atexit_set = atexit(th_cleanup) == 0;
    }
    (void)snprintf(th_signer_dir, sizeof(th_signer_dir), "%s", p.dir);
    return GW_OK;
}

static enum gw_err th_write_ini(const struct th_gateway *gw, const struct th_db *db,
                                const struct th_banksim *bs)
{
    bool own_receipts = gw->ini_extra != NULL && strstr(gw->ini_extra, "[receipts]") != NULL;
    if (!gw->no_receipt_signer && !own_receipts) {
        enum gw_err err = th_signer();
        if (err != GW_OK) {
            return err;
        }
    }
    FILE *f = fopen(gw->ini_path, "we");
    if (f == NULL) {
        (void)fprintf(stderr, "th: could not write %s: %s\n", gw->ini_path, TH_STRERROR(errno));
        return GW_ERR_IO;
    }
    (void)fprintf(f,
                  "; written by the test harness (tests/harness/th_proc.c)\n"
                  "[server]\nlisten = 127.0.0.1:%d\npublic_url = %s\nloops = 2\n"
                  /* the tests' browsers and banks all come from 127.0.0.1, thousands of
                   * pages a minute: the pages' rate limit is opened wide unless a test
                   * sets its own (ini_extra comes after and wins) */
                  "page_rate_burst = 100000\npage_rate_per_min = 1000000\n"
                  "[database]\ndsn = %s\nconns_per_loop = 4\n"
                  "[log]\nlevel = info\n",
                  gw->port, gw->url, db->pg.app_dsn);
    if (bs != NULL) {
        (void)fprintf(f, "[channel.sandbox]\nmerchant_id = %s\nsecret = %s\nendpoint_url = %s\n",
                      TH_SANDBOX_MERCHANT, TH_SANDBOX_SECRET, bs->url);
    }
    if (gw->tls_cert != NULL) {
        (void)fprintf(f, "[server]\ntls_cert_file = %s\ntls_key_file = %s\n", gw->tls_cert,
                      gw->tls_key);
    }
    if (!gw->no_receipt_signer && !own_receipts) {
        (void)fprintf(f,
                      "[receipts]\ncert = %s/ca/signer.pem\nkey = %s/ca/signer.key\n"
                      "ca = %s/ca/ca.pem\n",
                      th_signer_dir, th_signer_dir, th_signer_dir);
    }
    if (gw->ini_extra != NULL) {
        (void)fprintf(f, "%s\n", gw->ini_extra);
    }
    if (fclose(f) != 0) {
        (void)fprintf(stderr, "th: could not write %s\n", gw->ini_path);
        return GW_ERR_IO;
    }
    return GW_OK;
}

/* The directory, port and feegate.ini of a gateway about to start. */
static enum gw_err th_gateway_prepare(struct th_gateway *gw, const struct th_db *db,
                                      const struct th_banksim *bs)
{
    const char *ini_extra = gw->ini_extra;
    const char *tls_cert = gw->tls_cert;
    const char *tls_key = gw->tls_key;
    bool no_signer = gw->no_receipt_signer;
    int port = gw->port; /* a test may choose it before (the simulator must know it) */
    memset(gw, 0, sizeof(*gw));
    gw->ini_extra = ini_extra;
    gw->tls_cert = tls_cert;
    gw->tls_key = tls_key;
    gw->no_receipt_signer = no_signer;
    enum gw_err err = th_mkdtemp(gw->proc.dir, sizeof(gw->proc.dir), "fg-gateway");
    if (err != GW_OK) {
        return err;
    }
    gw->port = port > 0 ? port : th_free_port();
    (void)snprintf(gw->url, sizeof(gw->url), "%s://127.0.0.1:%d",
                   tls_cert != NULL ? "https" : "http", gw->port);
    (void)snprintf(gw->ini_path, sizeof(gw->ini_path), "%s/feegate.ini", gw->proc.dir);
    return th_write_ini(gw, db, bs);
}

/* The start of the file at path into out (NUL-terminated; "" if it cannot be read). */
static void th_read_head(const char *path, char *out, size_t out_len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f != NULL) {
        size_t n = fread(out, 1, out_len - 1, f);
        out[n] = '\0';
        (void)fclose(f);
    }
}

enum gw_err th_gateway_refused(struct th_gateway *gw, const struct th_db *db,
                               struct th_refusal *out)
{
    out->code = -1;
    out->output[0] = '\0';
    enum gw_err err = th_gateway_prepare(gw, db, NULL);
    if (err != GW_OK) {
        return err;
    }
    (void)snprintf(gw->proc.name, sizeof(gw->proc.name), "gateway");
    (void)snprintf(gw->proc.log_path, sizeof(gw->proc.log_path), "%s/gateway.log", gw->proc.dir);
    struct th_argv a;
    th_argv_init(&a);
    th_argv_add(&a, FEEGATE_BIN);
    th_argv_add(&a, "serve");
    th_argv_add(&a, "-c");
    th_argv_add(&a, gw->ini_path);
    struct th_env env;
    th_env_init(&env, NULL);
    err = th_spawn(&gw->proc, &a, &env);
    int status = 0;
    if (err == GW_OK) {
        err = th_wait_pid(gw->proc.pid, TH_REFUSAL_TIMEOUT_MS, &status); /* kills on a timeout */
    }
    gw->proc.pid = 0;
    if (err == GW_OK && WIFEXITED(status)) {
        out->code = WEXITSTATUS(status);
    }
    th_read_head(gw->proc.log_path, out->output, sizeof(out->output));
    th_rmtree(gw->proc.dir);
    return err;
}

enum gw_err th_gateway_start(struct th_gateway *gw, const struct th_db *db,
                             const struct th_banksim *bs)
{
    enum gw_err err = th_gateway_prepare(gw, db, bs);
    if (err != GW_OK) {
        return err;
    }
    struct th_argv a;
    th_argv_init(&a);
    th_argv_add(&a, FEEGATE_BIN);
    th_argv_add(&a, "serve");
    th_argv_add(&a, "-c");
    th_argv_add(&a, gw->ini_path);
    err = th_proc_start(&gw->proc, "gateway", &a, gw->url);
    if (err == GW_OK) {
        th_portal_use(gw->url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    }
    return err;
}

enum gw_err th_banksim_stop(struct th_banksim *bs)
{
    return th_proc_stop(&bs->proc);
}

enum gw_err th_gateway_stop(struct th_gateway *gw)
{
    return th_proc_stop(&gw->proc);
}

int th_ledger_check(const struct th_db *db)
{
    struct th_proc p;
    memset(&p, 0, sizeof(p));
    (void)snprintf(p.name, sizeof(p.name), "ledger check");
    if (th_mkdtemp(p.dir, sizeof(p.dir), "fg-ledger-check") != GW_OK) {
        return -1;
    }
    (void)snprintf(p.log_path, sizeof(p.log_path), "%s/ledger-check.log", p.dir);
    struct th_argv a;
    th_argv_init(&a);
    th_argv_add(&a, FEEGATE_BIN);
    th_argv_add(&a, "ledger");
    th_argv_add(&a, "check");
    char dsn_var[1200];
    (void)snprintf(dsn_var, sizeof(dsn_var), "FEEGATE_DSN=%s", db->pg.app_dsn);
    struct th_env env;
    th_env_init(&env, dsn_var);
    int status = 0;
    if (th_spawn(&p, &a, &env) != GW_OK) {
        return -1;
    }
    bool timed_out = th_wait_pid(p.pid, TH_LEDGER_TIMEOUT_MS, &status) != GW_OK;
    int code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0 || th_log_has_sanitizer_report(p.log_path)) {
        char how[96];
        th_describe_status(status, how, sizeof(how));
        (void)fprintf(stderr, "th: feegate ledger check %s%s\n", how,
                      timed_out ? " (timed out)" : "");
        th_print_file("ledger check", p.log_path);
        code = code == 0 ? -1 : code;
    }
    th_rmtree(p.dir);
    return code;
}
