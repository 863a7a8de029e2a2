/* The finance console's sign-in (console_signin.h): the form; the password's argon2id check on
 * a thread of its own, never on the loop; the TOTP code and the session in the database
 * (staff_sign_in); sign-out. */
#include "console_signin.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "console_kit.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "html.h"
#include "ldg_recon.h"
#include "request.h"

#include "banned.h"

/* ---- sign-in ---- */

void con_signin_page(struct gw_ctx *ctx, int status, const char *problem)
{
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    struct gw_page p;
    con_page_open(ctx, &p, con_tr(l, "Đăng nhập", "Sign in"), "/signin", false);
    if (problem != NULL) {
        con_error_summary(&p, problem, "user");
    }
    gw_pg_s(&p,
            "<form class=\"form card\" method=\"post\" action=\"/signin\"><label for=\"user\">");
    gw_pg_e(&p, con_tr(l, "Tên đăng nhập", "User name"));
    gw_pg_s(&p, "</label><input id=\"user\" name=\"user\" autocomplete=\"username\" required "
                "spellcheck=\"false\" autocapitalize=\"none\"><label for=\"password\">");
    gw_pg_e(&p, con_tr(l, "Mật khẩu", "Password"));
    gw_pg_s(&p, "</label><input id=\"password\" name=\"password\" type=\"password\" "
                "autocomplete=\"current-password\" required><label for=\"code\">");
    gw_pg_e(&p, con_tr(l, "Mã xác thực (6 chữ số)", "Authentication code (6 digits)"));
    gw_pg_s(&p, "</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" "
                "autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\" maxlength=\"6\" required>"
                "<button type=\"submit\">");
    gw_pg_e(&p, con_tr(l, "Đăng nhập", "Sign in"));
    gw_pg_s(&p, "</button></form>");
    gw_page_end(&p);
    con_no_store(ctx);
    gw_page_send(ctx, &p, status);
}

static void signin_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    json_t *j = con_db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    const char *status = con_jstr(j, "status");
    const char *token = con_jstr(j, "token");
    if (strcmp(status, "ok") == 0 && con_is_hex64(token)) {
        con_set_cookie(ctx, CON_COOKIE, token, GW_STAFF_SESSION_S_MAX);
        json_decref(j);
        gw_reply_redirect(ctx, 303, "/days");
        return;
    }
    bool locked = strcmp(status, "locked") == 0;
    json_decref(j);
    con_signin_page(ctx, 401,
                    locked ? con_tr(st->lang, "Tài khoản đang bị khóa do đăng nhập sai nhiều lần.",
                                    "The account is locked after too many failed sign-ins.")
                           : con_tr(st->lang, "Sai tên, mật khẩu hoặc mã xác thực.",
                                    "Wrong name, password or code."));
}

static void signin_record(struct gw_ctx *ctx)
{
    struct con_state *st = ctx->state;
    char addr[64] = "";
    char *host = NULL; /* libevent's own string (char ** in 2.1) */
    uint16_t port = 0;
    if (!ctx->cancelled) {
        evhttp_connection_get_peer(ctx->evcon, &host, &port);
    }
    (void)snprintf(addr, sizeof(addr), "console:%s", host != NULL ? host : "");
    ctx->params[0] = st->user;
    ctx->params[1] = st->password_ok ? "true" : "false";
    ctx->params[2] = st->code;
    ctx->params[3] = gw_arena_strdup(&ctx->arena, addr);
    gw_ctx_query(ctx, "SELECT feegate.staff_sign_in($1, $2::bool, $3, $4)::text", 4, signin_done);
}

static atomic_int con_verifying;

/* The verifying thread: argon2id off the loop, then the loop's event. */
static void *verify_main(void *arg)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    st->password_ok = crypto_pwhash_str_verify(st->hash, st->password, strlen(st->password)) == 0;
    event_active(st->verified_ev, EV_TIMEOUT, 0); /* st belongs to the loop from here on */
    return NULL;
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): libevent's callback type */
static void verified_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    event_free(st->verified_ev);
    st->verified_ev = NULL;
    atomic_fetch_sub(&con_verifying, 1);
    signin_record(ctx);
}

static void hash_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    if (err != GW_OK || PQntuples(res) != 1) {
        con_db_error(ctx, err != GW_OK ? err : GW_ERR_INVALID, res);
        return;
    }
    st->hash = gw_arena_strdup(&ctx->arena, PQgetvalue(res, 0, 0));
    if (st->hash == NULL || st->hash[0] == '\0') {
        st->password_ok = false; /* unknown or inactive: staff_sign_in refuses and audits */
        signin_record(ctx);
        return;
    }
    if (atomic_fetch_add(&con_verifying, 1) >= GW_CONSOLE_SIGNINS_MAX || sodium_init() < 0) {
        atomic_fetch_sub(&con_verifying, 1);
        con_error_page(ctx, 503,
                       con_tr(st->lang, "Quá nhiều lượt đăng nhập cùng lúc; hãy thử lại.",
                              "Too many sign-ins at once; try again."));
        return;
    }
    st->verified_ev = event_new(ctx->loop->base, -1, 0, verified_cb, ctx);
    pthread_t t;
    pthread_attr_t attr;
    bool started = st->verified_ev != NULL && pthread_attr_init(&attr) == 0;
    if (started) {
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&t, &attr, verify_main, ctx) == 0;
        (void)pthread_attr_destroy(&attr);
    }
    if (!started) {
        if (st->verified_ev != NULL) {
            event_free(st->verified_ev);
        }
        atomic_fetch_sub(&con_verifying, 1);
        con_error_page(ctx, 503, con_tr(st->lang, "Hãy thử lại.", "Try again."));
    }
}

void con_signin_post(struct gw_ctx *ctx)
{
    struct con_state *st = ctx->state;
    st->user = con_form_field(ctx, "user", false);
    st->password = con_form_field(ctx, "password", false);
    st->code = con_form_field(ctx, "code", false);
    if (st->user == NULL || st->password == NULL || st->code == NULL || st->user[0] == '\0' ||
        strlen(st->user) > CON_USER_MAX || strlen(st->password) > GW_STAFF_PASSWORD_BYTES_MAX) {
        con_signin_page(ctx, 400,
                        con_tr(st->lang, "Hãy nhập tên, mật khẩu và mã xác thực.",
                               "Enter your name, password and code."));
        return;
    }
    ctx->params[0] = st->user;
    gw_ctx_query(ctx, "SELECT feegate.staff_login_hash($1)", 1, hash_done);
}

void con_signout_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        con_db_error(ctx, err, res);
        return;
    }
    con_set_cookie(ctx, CON_COOKIE, "", 0);
    gw_reply_redirect(ctx, 303, "/signin");
}

int con_signins_running(void)
{
    return atomic_load(&con_verifying);
}
