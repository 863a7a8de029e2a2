/* Harness-private helpers shared by th_db.c, th_proc.c and th_http.c. */
#ifndef FG_TESTS_HARNESS_TH_INT_H
#define FG_TESTS_HARNESS_TH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "th.h"

#define TH_ARGV_MAX    64
#define TH_ENV_MAX     512
/* strerror_r (GNU: returns the message) into a buffer living until the end of the block. */
#define TH_STRERROR(e) strerror_r((e), (char[128]){ 0 }, 128)

/* An argument vector whose strings live in the struct (no casts away from const). */
struct th_argv {
    char buf[8192];
    size_t used;
    char *v[TH_ARGV_MAX + 1];
    int n;
};

/* The inherited environment without FEEGATE_* variables, plus one of ours. */
struct th_env {
    char extra[1200];
    char *v[TH_ENV_MAX + 1];
    int n;
};

void th_argv_init(struct th_argv *a);
void th_argv_add(struct th_argv *a, const char *s);
void th_argv_addf(struct th_argv *a, const char *fmt, ...) GW_PRINTF(2, 3);

/* extra: "NAME=value" or NULL. */
void th_env_init(struct th_env *env, const char *extra);

/* Forks and execs argv[0] with stdout and stderr into p->log_path; the child gets SIGTERM
 * if the test program dies. Sets p->pid. */
enum gw_err th_spawn(struct th_proc *p, const struct th_argv *argv, const struct th_env *env);
/* Waits at most timeout_ms for pid; kills it (SIGKILL) after that and returns
 * GW_ERR_TIMEOUT. */
enum gw_err th_wait_pid(pid_t pid, int timeout_ms, int *status);

/* A fresh directory /tmp/PREFIX-XXXXXX into out. */
enum gw_err th_mkdtemp(char *out, size_t out_len, const char *prefix);
void th_rmtree(const char *dir);
/* Copies the last 64 KiB of a file to stderr, framed with its title. */
void th_print_file(const char *title, const char *path);
/* A free loopback TCP port (bound and released: another process may take it, rarely). */
int th_free_port(void);
int64_t th_now_ms(void); /* monotonic */

/* What the atexit handler stops if a test leaves it running. */
void th_track_db(struct th_db *db, bool live);
void th_track_proc(struct th_proc *p, bool live);

/* th_http with its own timeout; quiet: no message on connection errors (for polling). */
struct th_http_req {
    const char *method;
    const char *url;
    const char *const *headers;
    const char *body;
    size_t body_len;
    int timeout_ms;
    bool quiet;
};

enum gw_err th_http_send(const struct th_http_req *req, struct th_resp *resp);

#endif
