/* Helpers of the ledger integration tests. */
#include "ledger_it.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FEEGATE_BIN
#error "FEEGATE_BIN must be defined by CMake"
#endif

extern char **environ;

PGconn *lit_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        (void)fprintf(stderr, "lit: cannot connect: %s", PQerrorMessage(c));
        abort();
    }
    lit_exec(c, "SET search_path = feegate, pg_temp; SET statement_timeout = '30s'; "
                "SET client_min_messages = warning");
    return c;
}

void lit_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        (void)fprintf(stderr, "lit: %s\n  failed: %s", sql, PQerrorMessage(c));
        abort();
    }
    PQclear(r);
}

long long lit_int(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        (void)fprintf(stderr, "lit: %s\n  gave no integer: %s", sql, PQerrorMessage(c));
        abort();
    }
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

int lit_fails(PGconn *c, const char *sql, const char *state, const char *msg)
{
    PGresult *r = PQexec(c, sql);
    int ok = 0;
    if (PQresultStatus(r) != PGRES_FATAL_ERROR) {
        (void)fprintf(stderr, "lit: %s\n  succeeded, expected %s\n", sql, state);
    } else {
        const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        ok = s != NULL && strcmp(s, state) == 0 &&
             (msg == NULL || (m != NULL && strcmp(m, msg) == 0));
        if (!ok) {
            (void)fprintf(stderr, "lit: %s\n  failed with %s %s, expected %s %s\n", sql,
                          s != NULL ? s : "?", m != NULL ? m : "?", state, msg != NULL ? msg : "");
        }
    }
    PQclear(r);
    return ok;
}

/* Waits up to 60 s for pid; its exit code or -1. */
static int lit_wait(pid_t pid)
{
    for (int i = 0; i < 6000; i++) {
        int status = 0;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (w < 0 && errno != EINTR) {
            return -1;
        }
        struct timespec ts = { 0, 10L * 1000 * 1000 };
        (void)nanosleep(&ts, NULL);
    }
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    return -1;
}

int lit_verify(const char *dsn, int max_age_s, char *out, size_t cap)
{
    char path[] = "/tmp/fg-lit-verify-XXXXXX";
    char age[16];
    char dsn_copy[1200];
    if (snprintf(dsn_copy, sizeof(dsn_copy), "%s", dsn) >= (int)sizeof(dsn_copy)) {
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0 || cap == 0) {
        return -1;
    }
    (void)snprintf(age, sizeof(age), "%d", max_age_s);
    char bin[] = FEEGATE_BIN;
    char a1[] = "ledger";
    char a2[] = "verify";
    char a3[] = "--dsn";
    char a5[] = "--max-unsealed-age";
    char *const argv[] = { bin, a1, a2, a3, dsn_copy, a5, age, NULL };
    posix_spawn_file_actions_t fa;
    (void)posix_spawn_file_actions_init(&fa);
    (void)posix_spawn_file_actions_adddup2(&fa, fd, 1);
    (void)posix_spawn_file_actions_adddup2(&fa, fd, 2);
    pid_t pid;
    int code = -1;
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) == 0) {
        code = lit_wait(pid);
    }
    (void)posix_spawn_file_actions_destroy(&fa);
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? (size_t)n : 0] = '\0';
    (void)close(fd);
    (void)unlink(path);
    return code;
}
