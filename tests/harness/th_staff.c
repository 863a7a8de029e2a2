/* Finance staff for the integration tests: members added and signed in through the real
 * command line (`feegate staff add`, `feegate staff sign-in`), the TOTP codes computed with
 * liboath from the secret the command printed, so that the database's own TOTP check
 * (ledger/sql/base/recon.sql, totp_code) is checked against a second implementation. */
#include <liboath/oath.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_arena.h"
#include "th.h"

#include "banned.h"

#ifndef FEEGATE_BIN
#error "FEEGATE_BIN must be defined by CMake"
#endif

/* The line wanted from a command's output. */
struct th_line {
    const char *prefix;
    char *out; /* the first line that starts with prefix, without it */
    size_t cap;
};

static enum gw_err th_run_line(const char *cmd, const struct th_line *want)
{
    const char *prefix = want->prefix;
    char *out = want->out;
    size_t cap = want->cap;
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return GW_ERR_IO;
    }
    char line[512];
    bool found = false;
    while (fgets(line, sizeof(line), p) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!found && strncmp(line, prefix, strlen(prefix)) == 0 &&
            strlen(line + strlen(prefix)) < cap) {
            memcpy(out, line + strlen(prefix), strlen(line + strlen(prefix)) + 1);
            found = true;
        } else {
            (void)fprintf(stderr, "th_staff: %s\n", line);
        }
    }
    int rc = pclose(p);
    return found && rc == 0 ? GW_OK : GW_ERR_INVALID;
}

enum gw_err th_staff_add(const struct th_db *db, struct th_staff *s)
{
    char cmd[4096];
    char uri[256];
    const char *id = s->id;
    const char *role = s->role;
    (void)snprintf(cmd, sizeof(cmd),
                   "FEEGATE_ADMIN_DSN='%s' FEEGATE_STAFF_PASSWORD='" TH_STAFF_PASSWORD
                   "' %s staff add %s %s 2>&1",
                   db->pg.admin_dsn, FEEGATE_BIN, id, role);
    const struct th_line want = { "totp: ", uri, sizeof(uri) };
    enum gw_err err = th_run_line(cmd, &want);
    const char *sec = strstr(uri, "?secret=");
    if (err != GW_OK || sec == NULL) {
        return GW_ERR_INVALID;
    }
    sec += strlen("?secret=");
    size_t n = strcspn(sec, "&");
    if (n == 0 || n >= sizeof(s->secret_b32)) {
        return GW_ERR_INVALID;
    }
    memcpy(s->secret_b32, sec, n);
    s->secret_b32[n] = '\0';
    return GW_OK;
}

enum gw_err th_staff_code(const struct th_staff *s, int steps, char code[7])
{
    char *raw = NULL;
    size_t raw_len = 0;
    if (oath_init() != OATH_OK ||
        oath_base32_decode(s->secret_b32, strlen(s->secret_b32), &raw, &raw_len) != OATH_OK) {
        return GW_ERR_INVALID;
    }
    time_t now = time(NULL) + (time_t)steps * 30;
    int rc = oath_totp_generate(raw, raw_len, now, 30, 0, 6, code);
    gw_libc_free(raw);
    oath_done();
    return rc == OATH_OK ? GW_OK : GW_ERR_INVALID;
}

enum gw_err th_staff_sign_in(const struct th_db *db, struct th_staff *s, int steps)
{
    char code[7];
    char cmd[4096];
    char line[128];
    if (th_staff_code(s, steps, code) != GW_OK) {
        return GW_ERR_INVALID;
    }
    (void)snprintf(cmd, sizeof(cmd),
                   "FEEGATE_DSN='%s' FEEGATE_STAFF_PASSWORD='" TH_STAFF_PASSWORD
                   "' FEEGATE_STAFF_TOTP=%s %s staff sign-in %s 2>&1",
                   db->pg.app_dsn, code, FEEGATE_BIN, s->id);
    const struct th_line want = { "export FEEGATE_SESSION='", line, sizeof(line) };
    enum gw_err err = th_run_line(cmd, &want);
    if (err != GW_OK || strlen(line) != 65 || line[64] != '\'') {
        return GW_ERR_INVALID;
    }
    memcpy(s->token, line, 64);
    s->token[64] = '\0';
    return GW_OK;
}
