/* The embedded PostgreSQL cluster: initdb and pg_ctl run as child processes (fork + execve
 * with argument vectors, never a shell), dropping root to an unprivileged user, then the
 * database and role are made over libpq. Blocking throughout. */
#include "gw_pgembed.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "gw_assert.h"

#include "banned.h"

extern char **environ;

#define PGE_BINDIR_DEFAULT   "/usr/lib/postgresql/15/bin"
#define PGE_INITDB_TIMEOUT_S 180
#define PGE_CTL_TIMEOUT_S    60  /* pg_ctl -t; we wait a little longer for pg_ctl itself */
#define PGE_SOCKET_PATH_MAX  107 /* sizeof(sun_path) - 1 */
#define PGE_SOCKET_NAME_MAX  16  /* "/.s.PGSQL.65535" */
#define PGE_ARGS_MAX         24
#define PGE_EXIT_UNREACHABLE 125 /* child: could not chdir into the cluster directory */
#define PGE_EXIT_NO_USER     124 /* child: could not switch user */
#define PGE_EXIT_NO_EXEC     123 /* child: execve failed */
#define PGE_DIR_CHARS        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+"

/* The user the PostgreSQL tools run as. */
struct pge_user {
    bool drop; /* we are root: switch to uid/gid in the child */
    uid_t uid;
    gid_t gid;
    char name[64];
};

/* What one start or stop needs to run the tools. */
struct pge_ctx {
    char bindir[512];
    const char *dir;
    char datadir[600];
    char setup_log[600];
    struct pge_user user;
};

/* An argument vector whose strings live in the struct itself (no casts away from const). */
struct pge_argv {
    char buf[4096];
    size_t used;
    char *argv[PGE_ARGS_MAX + 1];
    int argc;
};

static void pge_arg(struct pge_argv *a, const char *s)
{
    size_t n = strlen(s) + 1;
    GW_ASSERT(a->argc < PGE_ARGS_MAX);
    GW_ASSERT(n <= sizeof(a->buf) - a->used);
    memcpy(a->buf + a->used, s, n);
    a->argv[a->argc++] = a->buf + a->used;
    a->argv[a->argc] = NULL;
    a->used += n;
}

static void pge_argf(struct pge_argv *a, const char *fmt, ...) GW_PRINTF(2, 3);

static void pge_argf(struct pge_argv *a, const char *fmt, ...)
{
    char tmp[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    GW_ASSERT(n >= 0);
    GW_ASSERT((size_t)n < sizeof(tmp)); /* paths were length-checked before */
    pge_arg(a, tmp);
}

static void pge_argv_init(struct pge_argv *a)
{
    a->used = 0;
    a->argc = 0;
    a->argv[0] = NULL;
}

/* Copies a libpq message into eb after `what: `, without libpq's final newline. */
static enum gw_err pge_pq_fail(struct gw_errbuf *eb, const char *what, const char *pq_msg)
{
    size_t n = strlen(pq_msg);
    while (n > 0 && (pq_msg[n - 1] == '\n' || pq_msg[n - 1] == ' ')) {
        n--;
    }
    return gw_fail(eb, GW_ERR_DB, "%s: %.*s", what, (int)n, pq_msg);
}

/* Waits for pid at most timeout_s seconds; kills it after that. */
static enum gw_err pge_wait(pid_t pid, int timeout_s, int *status)
{
    const struct timespec nap = { .tv_sec = 0, .tv_nsec = 20L * 1000 * 1000 };
    long rounds = (long)timeout_s * 50;
    for (long i = 0; i < rounds; i++) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            return GW_OK;
        }
        if (r < 0 && errno != EINTR) {
            return GW_ERR_IO;
        }
        (void)nanosleep(&nap, NULL);
    }
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, status, 0);
    return GW_ERR_TIMEOUT;
}

/* Runs pg_config (found on PATH) with one option and returns its first output line. */
static enum gw_err pge_pg_config(const char *option, char *out, size_t out_len)
{
    struct pge_argv a;
    pge_argv_init(&a);
    pge_arg(&a, "pg_config");
    pge_arg(&a, option);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return GW_ERR_IO;
    }
    posix_spawn_file_actions_t fa;
    (void)posix_spawn_file_actions_init(&fa);
    (void)posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    pid_t pid;
    int rc = posix_spawnp(&pid, "pg_config", &fa, NULL, a.argv, environ);
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)close(fds[1]);
    size_t len = 0;
    ssize_t n = 1;
    while (rc == 0 && len + 1 < out_len && n > 0) {
        n = read(fds[0], out + len, out_len - 1 - len);
        if (n > 0) {
            len += (size_t)n;
        }
    }
    (void)close(fds[0]);
    out[len] = '\0';
    out[strcspn(out, "\n")] = '\0';
    int status = 0;
    if (rc != 0 || pge_wait(pid, 10, &status) != GW_OK) {
        return GW_ERR_NOT_FOUND;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? GW_OK : GW_ERR_NOT_FOUND;
}

static bool pge_has_tools(const char *bindir)
{
    char path[600];
    int n = snprintf(path, sizeof(path), "%s/pg_ctl", bindir);
    if (n < 0 || (size_t)n >= sizeof(path) || access(path, X_OK) != 0) {
        return false;
    }
    n = snprintf(path, sizeof(path), "%s/initdb", bindir);
    return n > 0 && (size_t)n < sizeof(path) && access(path, X_OK) == 0;
}

/* FEEGATE_PG_BINDIR, then Debian's path for version 15, then `pg_config --bindir` if
 * pg_config is version 15. */
static enum gw_err pge_find_bindir(char *out, size_t out_len, struct gw_errbuf *eb)
{
    const char *env = getenv("FEEGATE_PG_BINDIR"); /* NOLINT(concurrency-mt-unsafe): start-up */
    const char *cands[2] = { env, PGE_BINDIR_DEFAULT };
    for (size_t i = 0; i < 2; i++) {
        if (cands[i] != NULL && strlen(cands[i]) < out_len && pge_has_tools(cands[i])) {
            (void)snprintf(out, out_len, "%s", cands[i]);
            return GW_OK;
        }
    }
    char version[128];
    if (pge_pg_config("--version", version, sizeof(version)) == GW_OK &&
        strncmp(version, "PostgreSQL 15", 13) == 0 &&
        pge_pg_config("--bindir", out, out_len) == GW_OK && pge_has_tools(out)) {
        return GW_OK;
    }
    return gw_fail(eb, GW_ERR_NOT_FOUND,
                   "could not find the PostgreSQL 15 programs: not in %s nor via pg_config "
                   "(install postgresql-15 or set FEEGATE_PG_BINDIR)",
                   PGE_BINDIR_DEFAULT);
}

/* Ourselves when not root; else `postgres`, else `nobody`. */
static enum gw_err pge_pick_user(struct pge_user *u, struct gw_errbuf *eb)
{
    memset(u, 0, sizeof(*u));
    if (geteuid() != 0) {
        (void)snprintf(u->name, sizeof(u->name), "uid %u", (unsigned)geteuid());
        return GW_OK;
    }
    static const char *const names[] = { "postgres", "nobody" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct passwd pw;
        struct passwd *res = NULL;
        char buf[2048];
        if (getpwnam_r(names[i], &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
            pw.pw_uid == 0) {
            continue;
        }
        u->drop = true;
        u->uid = pw.pw_uid;
        u->gid = pw.pw_gid;
        (void)snprintf(u->name, sizeof(u->name), "%s", names[i]);
        return GW_OK;
    }
    return gw_fail(eb, GW_ERR_UNAVAILABLE,
                   "running as root and no unprivileged user (postgres, nobody) to run "
                   "PostgreSQL as");
}

/* The child side of pge_run: only async-signal-safe calls between fork and execve. */
static _Noreturn void pge_child(const struct pge_ctx *cx, char *const argv[], char *const envp[],
                                int log_fd, int null_fd)
{
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
        dup2(log_fd, STDERR_FILENO) < 0) {
        _exit(PGE_EXIT_NO_EXEC);
    }
    if (cx->user.drop &&
        (setgroups(0, NULL) != 0 || setgid(cx->user.gid) != 0 || setuid(cx->user.uid) != 0)) {
        _exit(PGE_EXIT_NO_USER);
    }
    if (chdir(cx->dir) != 0) {
        _exit(PGE_EXIT_UNREACHABLE);
    }
    execve(argv[0], argv, envp);
    _exit(PGE_EXIT_NO_EXEC);
}

/* Runs a PostgreSQL tool as cx->user with output appended to setup.log; *exit_code is its
 * exit status. Fails for what the caller cannot word better (timeouts, exec, user). */
static enum gw_err pge_run(const struct pge_ctx *cx, struct pge_argv *a, int timeout_s,
                           int *exit_code, struct gw_errbuf *eb)
{
    struct pge_argv env;
    pge_argv_init(&env);
    pge_arg(&env, "LC_ALL=C");
    pge_arg(&env, "LANG=C");
    pge_arg(&env, "PATH=/usr/bin:/bin");
    int log_fd = open(cx->setup_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        return gw_fail(eb, GW_ERR_IO, "could not open %s: %s", cx->setup_log, GW_STRERROR(errno));
    }
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
        (void)close(log_fd);
        return gw_fail(eb, GW_ERR_IO, "could not open /dev/null: %s", GW_STRERROR(errno));
    }
    if (cx->user.drop && fchown(log_fd, cx->user.uid, cx->user.gid) != 0) {
        int e = errno;
        (void)close(log_fd);
        (void)close(null_fd);
        return gw_fail(eb, GW_ERR_IO, "could not give %s to user %s: %s", cx->setup_log,
                       cx->user.name, GW_STRERROR(e));
    }
    int status = 0;
    pid_t pid = fork();
    if (pid == 0) {
        pge_child(cx, a->argv, env.argv, log_fd, null_fd);
    }
    (void)close(log_fd);
    (void)close(null_fd);
    if (pid < 0) {
        return gw_fail(eb, GW_ERR_IO, "could not fork: %s", GW_STRERROR(errno));
    }
    if (pge_wait(pid, timeout_s, &status) != GW_OK) {
        return gw_fail(eb, GW_ERR_TIMEOUT, "%s did not finish within %d s: see %s", a->argv[0],
                       timeout_s, cx->setup_log);
    }
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (*exit_code == PGE_EXIT_UNREACHABLE) {
        return gw_fail(eb, GW_ERR_IO,
                       "directory %s is not reachable by user %s (check its parents' "
                       "permissions)",
                       cx->dir, cx->user.name);
    }
    if (*exit_code == PGE_EXIT_NO_USER) {
        return gw_fail(eb, GW_ERR_IO, "could not switch to user %s", cx->user.name);
    }
    if (*exit_code == PGE_EXIT_NO_EXEC) {
        return gw_fail(eb, GW_ERR_IO, "could not execute %s", a->argv[0]);
    }
    return GW_OK;
}

/* Makes dir absolute (relative to the working directory) and checks it can be put in a
 * conninfo string, a config file and a socket path without quoting. */
static enum gw_err pge_abs_dir(const char *dir, char *out, size_t out_len, struct gw_errbuf *eb)
{
    int n;
    if (dir[0] == '/') {
        n = snprintf(out, out_len, "%s", dir);
    } else {
        char cwd[512];
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            return gw_fail(eb, GW_ERR_IO, "could not get the working directory: %s",
                           GW_STRERROR(errno));
        }
        n = snprintf(out, out_len, "%s/%s", cwd, dir);
    }
    if (n < 0 || (size_t)n >= out_len || (size_t)n + PGE_SOCKET_NAME_MAX > PGE_SOCKET_PATH_MAX) {
        return gw_fail(eb, GW_ERR_LIMIT,
                       "cluster directory %s is too long for a socket path (at most %d bytes)", dir,
                       PGE_SOCKET_PATH_MAX - PGE_SOCKET_NAME_MAX);
    }
    while (n > 1 && out[n - 1] == '/') {
        out[--n] = '\0';
    }
    if (out[strspn(out, PGE_DIR_CHARS)] != '\0') {
        return gw_fail(eb, GW_ERR_INVALID,
                       "cluster directory %s may only contain letters, digits and / . _ - +", out);
    }
    return GW_OK;
}

/* mkdir -p; the last component is private (0700). */
static enum gw_err pge_mkdirs(char *path, struct gw_errbuf *eb)
{
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        int rc = mkdir(path, 0755);
        int e = errno;
        *p = '/';
        if (rc != 0 && e != EEXIST) {
            return gw_fail(eb, GW_ERR_IO, "could not create directory %s: %s", path,
                           GW_STRERROR(e));
        }
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return gw_fail(eb, GW_ERR_IO, "could not create directory %s: %s", path,
                       GW_STRERROR(errno));
    }
    return GW_OK;
}

/* Fills cx for the cluster in pg->dir. */
static enum gw_err pge_ctx_init(struct pge_ctx *cx, const struct gw_pgembed *pg,
                                struct gw_errbuf *eb)
{
    memset(cx, 0, sizeof(*cx));
    cx->dir = pg->dir;
    (void)snprintf(cx->datadir, sizeof(cx->datadir), "%s/data", pg->dir);
    (void)snprintf(cx->setup_log, sizeof(cx->setup_log), "%s/setup.log", pg->dir);
    enum gw_err err = pge_find_bindir(cx->bindir, sizeof(cx->bindir), eb);
    if (err != GW_OK) {
        return err;
    }
    return pge_pick_user(&cx->user, eb);
}

static bool pge_file_exists(const char *dir, const char *name)
{
    char path[700];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0;
}

/* initdb with data checksums, trust authentication (the socket directory is private),
 * UTF8 and locale C; superuser `postgres` whoever runs it. */
static enum gw_err pge_initdb(const struct pge_ctx *cx, struct gw_errbuf *eb)
{
    struct pge_argv a;
    pge_argv_init(&a);
    pge_argf(&a, "%s/initdb", cx->bindir);
    pge_arg(&a, "-D");
    pge_arg(&a, cx->datadir);
    pge_arg(&a, "--data-checksums");
    pge_arg(&a, "--auth=trust");
    pge_arg(&a, "--username=" GW_PGEMBED_ADMIN);
    pge_arg(&a, "--encoding=UTF8");
    pge_arg(&a, "--locale=C");
    pge_arg(&a, "--no-instructions");
    int code = 0;
    enum gw_err err = pge_run(cx, &a, PGE_INITDB_TIMEOUT_S, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    if (code != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not initialize the PostgreSQL cluster: see %s",
                       cx->setup_log);
    }
    return GW_OK;
}

/* Our settings for a small, busy OLTP database that must not lose a commit. */
static const char pge_settings[] =
    "# written by feegate on every start (common/gw_pgembed.c): edits here are lost\n"
    "listen_addresses = ''\n"
    "unix_socket_permissions = 0700\n"
    "fsync = on\n"
    "synchronous_commit = on\n"
    "full_page_writes = on\n"
    "max_connections = 200\n"
    "shared_buffers = 256MB\n"
    "wal_buffers = 16MB\n"
    "effective_cache_size = 1GB\n"
    "work_mem = 4MB\n"
    "maintenance_work_mem = 64MB\n"
    "checkpoint_timeout = 15min\n"
    "checkpoint_completion_target = 0.9\n"
    "max_wal_size = 2GB\n"
    "min_wal_size = 256MB\n"
    "wal_compression = on\n"
    "random_page_cost = 1.1\n"
    "log_min_messages = warning\n"
    "log_min_error_statement = error\n";

static enum gw_err pge_write_conf(const struct pge_ctx *cx, const struct gw_pgembed *pg,
                                  struct gw_errbuf *eb)
{
    char path[700];
    (void)snprintf(path, sizeof(path), "%s/feegate.conf", cx->datadir);
    FILE *f = fopen(path, "we");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not write %s: %s", path, GW_STRERROR(errno));
    }
    int n = fprintf(f, "%sport = %d\nunix_socket_directories = '%s'\n", pge_settings, pg->port,
                    pg->sockdir);
    bool ok = n > 0 && fclose(f) == 0;
    if (!ok) {
        return gw_fail(eb, GW_ERR_IO, "could not write %s", path);
    }
    if (cx->user.drop && chown(path, cx->user.uid, cx->user.gid) != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not give %s to user %s: %s", path, cx->user.name,
                       GW_STRERROR(errno));
    }
    return GW_OK;
}

/* Adds `include_if_exists = 'feegate.conf'` to postgresql.conf unless already there. */
static enum gw_err pge_ensure_include(const struct pge_ctx *cx, struct gw_errbuf *eb)
{
    static const char line[] = "include_if_exists = 'feegate.conf'\n";
    char path[700];
    (void)snprintf(path, sizeof(path), "%s/postgresql.conf", cx->datadir);
    FILE *f = fopen(path, "a+e");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open %s: %s", path, GW_STRERROR(errno));
    }
    char buf[1024];
    bool found = false;
    rewind(f);
    for (int i = 0; i < 100000 && !found && fgets(buf, sizeof(buf), f) != NULL; i++) {
        found = strcmp(buf, line) == 0;
    }
    bool ok = found || fputs(line, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        return gw_fail(eb, GW_ERR_IO, "could not append to %s", path);
    }
    return GW_OK;
}

/* A port number for the socket name: any free loopback TCP port, so that two clusters never
 * pick the same number by accident (the socket itself is in the cluster's directory). */
static enum gw_err pge_pick_port(int *port, struct gw_errbuf *eb)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return gw_fail(eb, GW_ERR_IO, "could not create a socket: %s", GW_STRERROR(errno));
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        int e = errno;
        (void)close(fd);
        return gw_fail(eb, GW_ERR_IO, "could not pick a port: %s", GW_STRERROR(e));
    }
    (void)close(fd);
    *port = ntohs(sa.sin_port);
    return GW_OK;
}

static enum gw_err pge_exec(PGconn *c, const char *sql, struct gw_errbuf *eb)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    enum gw_err err = GW_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        err = pge_pq_fail(eb, "could not prepare the embedded cluster", PQresultErrorMessage(r));
    }
    PQclear(r);
    return err;
}

/* Creates the database and the application role if missing; the role may exist NOLOGIN
 * (made by a migration) and is then given LOGIN. */
static enum gw_err pge_bootstrap(const struct gw_pgembed *pg, struct gw_errbuf *eb)
{
    char dsn[1200];
    (void)snprintf(dsn, sizeof(dsn),
                   "host=%s port=%d dbname=postgres user=" GW_PGEMBED_ADMIN " connect_timeout=10",
                   pg->sockdir, pg->port);
    PGconn *c = PQconnectdb(dsn);
    enum gw_err err = GW_OK;
    if (PQstatus(c) != CONNECTION_OK) {
        err = pge_pq_fail(eb, "could not connect to the embedded cluster", PQerrorMessage(c));
        goto out_conn;
    }
    PGresult *r = PQexec(c, "select 1 from pg_database where datname = '" GW_PGEMBED_DB "'");
    bool have_db = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!have_db) {
        err = pge_exec(c, "create database " GW_PGEMBED_DB, eb);
    }
    if (err == GW_OK) {
        err = pge_exec(c,
                       "do $$ begin "
                       "if exists (select 1 from pg_roles where rolname = '" GW_PGEMBED_APP_ROLE
                       "') then alter role " GW_PGEMBED_APP_ROLE " login; "
                       "else create role " GW_PGEMBED_APP_ROLE " login; end if; end $$",
                       eb);
    }
out_conn:
    PQfinish(c);
    return err;
}

/* Fills dir/sockdir/temporary: a new temporary directory, or dir made absolute and
 * created. */
static enum gw_err pge_prepare_dir(struct gw_pgembed *pg, const char *dir, struct gw_errbuf *eb)
{
    if (dir == NULL) {
        (void)snprintf(pg->dir, sizeof(pg->dir), "/tmp/feegate-pg-XXXXXX");
        if (mkdtemp(pg->dir) == NULL) {
            return gw_fail(eb, GW_ERR_IO, "could not create a temporary directory: %s",
                           GW_STRERROR(errno));
        }
        pg->temporary = true;
    } else {
        enum gw_err err = pge_abs_dir(dir, pg->dir, sizeof(pg->dir), eb);
        if (err == GW_OK) {
            err = pge_mkdirs(pg->dir, eb);
        }
        if (err != GW_OK) {
            return err;
        }
    }
    (void)snprintf(pg->sockdir, sizeof(pg->sockdir), "%s", pg->dir);
    return GW_OK;
}

static enum gw_err pge_ctl_start(const struct pge_ctx *cx, struct gw_errbuf *eb)
{
    struct pge_argv a;
    pge_argv_init(&a);
    pge_argf(&a, "%s/pg_ctl", cx->bindir);
    pge_arg(&a, "start");
    pge_arg(&a, "-w");
    pge_argf(&a, "-t%d", PGE_CTL_TIMEOUT_S);
    pge_arg(&a, "-s");
    pge_arg(&a, "-D");
    pge_arg(&a, cx->datadir);
    pge_arg(&a, "-l");
    pge_argf(&a, "%s/server.log", cx->dir);
    int code = 0;
    enum gw_err err = pge_run(cx, &a, PGE_CTL_TIMEOUT_S + 30, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    if (code != 0) {
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "could not start PostgreSQL: see %s/server.log",
                       cx->dir);
    }
    return GW_OK;
}

enum gw_err gw_pgembed_start(struct gw_pgembed *pg, const char *dir, int port, struct gw_errbuf *eb)
{
    GW_ASSERT(pg != NULL);
    GW_ASSERT(port >= 0 && port <= 65535);
    memset(pg, 0, sizeof(*pg));
    struct pge_ctx cx;
    enum gw_err err = pge_prepare_dir(pg, dir, eb);
    if (err == GW_OK) {
        err = pge_ctx_init(&cx, pg, eb);
    }
    if (err != GW_OK) {
        return err;
    }
    if (cx.user.drop && chown(pg->dir, cx.user.uid, cx.user.gid) != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not give %s to user %s: %s", pg->dir, cx.user.name,
                       GW_STRERROR(errno));
    }
    pg->port = port;
    if (port == 0) {
        err = pge_pick_port(&pg->port, eb);
    }
    if (err == GW_OK && !pge_file_exists(cx.datadir, "PG_VERSION")) {
        err = pge_initdb(&cx, eb);
    }
    if (err == GW_OK) {
        err = pge_ensure_include(&cx, eb);
    }
    if (err == GW_OK) {
        err = pge_write_conf(&cx, pg, eb);
    }
    if (err == GW_OK) {
        err = pge_ctl_start(&cx, eb);
    }
    if (err != GW_OK) {
        return err;
    }
    err = pge_bootstrap(pg, eb);
    if (err != GW_OK) {
        struct gw_errbuf ignored;
        enum gw_err stop_err = gw_pgembed_stop(pg, &ignored); /* the first error is the news */
        (void)stop_err;
        return err;
    }
    (void)snprintf(pg->admin_dsn, sizeof(pg->admin_dsn),
                   "host=%s port=%d dbname=" GW_PGEMBED_DB " user=" GW_PGEMBED_ADMIN, pg->sockdir,
                   pg->port);
    (void)snprintf(pg->app_dsn, sizeof(pg->app_dsn),
                   "host=%s port=%d dbname=" GW_PGEMBED_DB " user=" GW_PGEMBED_APP_ROLE,
                   pg->sockdir, pg->port);
    return GW_OK;
}

static int pge_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc == 0 || errno == ENOENT ? 0 : -1;
}

static enum gw_err pge_ctl_stop(const struct pge_ctx *cx, const char *mode, struct gw_errbuf *eb)
{
    struct pge_argv a;
    pge_argv_init(&a);
    pge_argf(&a, "%s/pg_ctl", cx->bindir);
    pge_arg(&a, "stop");
    pge_arg(&a, "-w");
    pge_argf(&a, "-t%d", PGE_CTL_TIMEOUT_S);
    pge_arg(&a, "-s");
    pge_arg(&a, "-m");
    pge_arg(&a, mode);
    pge_arg(&a, "-D");
    pge_arg(&a, cx->datadir);
    int code = 0;
    enum gw_err err = pge_run(cx, &a, PGE_CTL_TIMEOUT_S + 30, &code, eb);
    if (err != GW_OK) {
        return err;
    }
    if (code != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not stop PostgreSQL: see %s", cx->setup_log);
    }
    return GW_OK;
}

enum gw_err gw_pgembed_stop(struct gw_pgembed *pg, struct gw_errbuf *eb)
{
    GW_ASSERT(pg != NULL);
    if (pg->dir[0] == '\0') {
        return GW_OK; /* never started */
    }
    struct pge_ctx cx;
    enum gw_err err = pge_ctx_init(&cx, pg, eb);
    if (err == GW_OK && pge_file_exists(cx.datadir, "postmaster.pid")) {
        err = pge_ctl_stop(&cx, "fast", eb);
        if (err != GW_OK) {
            struct gw_errbuf ignored;
            (void)pge_ctl_stop(&cx, "immediate", &ignored);
        }
    }
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): nftw changes no process state with FTW_PHYS */
    if (pg->temporary && nftw(pg->dir, pge_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && err == GW_OK) {
        err = gw_fail(eb, GW_ERR_IO, "could not remove %s: %s", pg->dir, GW_STRERROR(errno));
    }
    pg->dir[0] = '\0';
    pg->port = 0;
    return err;
}
