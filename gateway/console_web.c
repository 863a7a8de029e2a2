/* The finance staff's web console ([console] listen, docs/console.md#the-web-console):
 * server-rendered pages in Vietnamese and English over the recon SQL functions, each called
 * with the member's session token, which lives in an HttpOnly cookie. The password's argon2id
 * check runs on a thread of its own (never on the loop), the TOTP code in the database
 * (staff_sign_in). Every form carries the session's CSRF token, checked before anything
 * else on every POST. The database decides who may do what (maker and checker included); the
 * console shows its refusals in words. */
#include "console_web.h"

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

#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "html.h"
#include "ldg_recon.h"
#include "request.h"

#include "banned.h"

#define CON_COOKIE    "fgc_session"
#define CON_LANG      "fgc_lang"
#define CON_USER_MAX  64
#define CON_FIELD_MAX 1000

/* What a console request keeps between its handler and its callbacks (ctx->state). */
struct con_state {
    enum gw_lang lang;
    const char *token; /* the session cookie, 64 hex, or NULL */
    char csrf[GW_SHA256_HEX_BYTES];
    const char *id;  /* exception id, digits */
    const char *day; /* business day, YYYY-MM-DD */
    const char *filter_cat, *filter_prov;
    /* sign-in */
    const char *user, *password, *code, *hash;
    bool password_ok;
    struct event *verified_ev;
};

/* Words for codes, never the codes themselves on screen. */
struct con_word {
    const char *code, *vi, *en;
};

static const struct con_word con_words[] = {
    { "missing_at_provider", "Thiếu ở nhà cung cấp", "Missing at the provider" },
    { "missing_at_switch", "Thiếu ở cổng thanh toán", "Missing at the switch" },
    { "amount_mismatch", "Lệch số tiền", "Amounts differ" },
    { "status_mismatch", "Lệch trạng thái", "Statuses differ" },
    { "duplicate_line", "Dòng sao kê trùng", "Duplicate statement line" },
    { "out_of_day", "Ngoài ngày đối soát", "Outside the business day" },
    { "overpayment", "Thanh toán thừa", "Paid twice" },
    { "open", "Chưa xử lý", "Open" },
    { "resolved", "Đã xử lý", "Resolved" },
    { "carried_forward", "Chuyển sang ngày sau", "Carried forward" },
    { "requested", "Đã yêu cầu", "Requested" },
    { "pending_approval", "Chờ phê duyệt", "Waiting for approval" },
    { "done", "Đã thực hiện", "Done" },
    { "answered", "Đã có trả lời", "Answered" },
    { "query", "Hỏi nhà cung cấp", "Provider queried" },
    { "apply_answer", "Áp dụng trả lời", "Answer applied" },
    { "correct", "Điều chỉnh", "Correction" },
    { "suspense", "Chuyển vào tài khoản treo", "Moved to suspense" },
    { "write_off", "Xóa sổ", "Write-off" },
    { "carry_forward", "Chuyển ngày", "Carried forward" },
    { "rematched", "Đối soát lại", "Matched again" },
};

static const char *con_tr(enum gw_lang l, const char *vi, const char *en)
{
    return l == GW_LANG_EN ? en : vi;
}

static const char *con_word(enum gw_lang l, const char *code)
{
    for (size_t i = 0; i < sizeof(con_words) / sizeof(con_words[0]); i++) {
        if (strcmp(code, con_words[i].code) == 0) {
            return con_tr(l, con_words[i].vi, con_words[i].en);
        }
    }
    return con_tr(l, "Khác", "Other");
}

/* ---- request helpers ---- */

/* The value of cookie name, copied into the arena, or NULL. */
static const char *cookie_value(struct gw_ctx *ctx, const char *name)
{
    const char *c = gw_ctx_header(ctx, "Cookie");
    size_t n = strlen(name);
    while (c != NULL && *c != '\0') {
        while (*c == ' ' || *c == ';') {
            c++;
        }
        const char *end = strchr(c, ';');
        size_t len = end != NULL ? (size_t)(end - c) : strlen(c);
        if (len > n && strncmp(c, name, n) == 0 && c[n] == '=') {
            return gw_arena_strndup(&ctx->arena, c + n + 1, len - n - 1);
        }
        c = end;
    }
    return NULL;
}

static bool is_hex64(const char *s)
{
    return s != NULL && strlen(s) == GW_STAFF_TOKEN_HEX_BYTES &&
           strspn(s, "0123456789abcdef") == GW_STAFF_TOKEN_HEX_BYTES;
}

static bool is_id(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 18 && strspn(s, "0123456789") == n;
}

/* A field of the url-encoded form body (or of the query when from_query), in the arena;
 * NULL when absent or longer than CON_FIELD_MAX. */
static const char *form_field(struct gw_ctx *ctx, const char *key, bool from_query)
{
    const char *src = from_query ? ctx->query : ctx->body;
    struct evkeyvalq q;
    if (src == NULL || evhttp_parse_query_str(src, &q) != 0) {
        return NULL;
    }
    const char *v = evhttp_find_header(&q, key);
    const char *out =
        v != NULL && strlen(v) <= CON_FIELD_MAX ? gw_arena_strdup(&ctx->arena, v) : NULL;
    evhttp_clear_headers(&q);
    return out;
}

static void set_cookie(struct gw_ctx *ctx, const char *name, const char *value, int max_age_s)
{
    if (ctx->cancelled) {
        return;
    }
    char *c = gw_arena_printf(&ctx->arena, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%d",
                              name, value, ctx->tls ? "; Secure" : "", max_age_s);
    if (c != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Set-Cookie", c);
    }
}

static void no_store(struct gw_ctx *ctx)
{
    if (!ctx->cancelled) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Cache-Control", "no-store");
    }
}

/* ---- the frame ---- */

static void page_open(struct gw_ctx *ctx, struct gw_page *p, const char *title,
                      const char *switch_path, bool nav)
{
    struct con_state *st = ctx->state;
    gw_page_init(p, st->lang);
    const char *sw = switch_path != NULL
                         ? gw_arena_printf(&ctx->arena, "%s?lang=%s", switch_path,
                                           gw_i18n_code(gw_page_other_lang(st->lang)))
                         : NULL;
    gw_page_begin(p, title, sw);
    if (nav) {
        gw_pg_s(p, "<nav aria-label=\"");
        gw_pg_e(p, con_tr(st->lang, "Bảng điều khiển", "Console"));
        gw_pg_s(p, "\"><ul><li><a href=\"/days\">");
        gw_pg_e(p, con_tr(st->lang, "Ngày đối soát", "Business days"));
        gw_pg_s(p, "</a></li><li><a href=\"/approvals\">");
        gw_pg_e(p, con_tr(st->lang, "Hàng chờ duyệt", "Approvals"));
        gw_pg_s(p, "</a></li><li><a href=\"/audit\">");
        gw_pg_e(p, con_tr(st->lang, "Nhật ký kiểm toán", "Audit log"));
        gw_pg_s(p, "</a></li><li><form class=\"inline\" method=\"post\" action=\"/signout\">"
                   "<input type=\"hidden\" name=\"csrf\" value=\"");
        gw_pg_e(p, st->csrf);
        gw_pg_s(p, "\"><button class=\"linkbtn\" type=\"submit\">");
        gw_pg_e(p, con_tr(st->lang, "Đăng xuất", "Sign out"));
        gw_pg_s(p, "</button></form></li></ul></nav>");
    }
    gw_pg_s(p, "<h1>");
    gw_pg_e(p, title);
    gw_pg_s(p, "</h1>");
}

static void error_summary(struct gw_page *p, const char *msg, const char *field)
{
    gw_pg_s(p,
            "<div class=\"error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\" "
            "tabindex=\"-1\"><h2 id=\"error-summary-title\">");
    gw_pg_e(p, con_tr(p->lang, "Có lỗi", "There is a problem"));
    gw_pg_s(p, "</h2><ul><li>");
    if (field != NULL) {
        gw_pg_s(p, "<a href=\"#");
        gw_pg_e(p, field);
        gw_pg_s(p, "\">");
    }
    gw_pg_e(p, msg);
    gw_pg_s(p, field != NULL ? "</a></li></ul></div>" : "</li></ul></div>");
}

static void csrf_field(struct gw_page *p, const struct con_state *st)
{
    gw_pg_s(p, "<input type=\"hidden\" name=\"csrf\" value=\"");
    gw_pg_e(p, st->csrf);
    gw_pg_s(p, "\">");
}

/* An error page: status, the problem in a summary, a link to the days. */
static void error_page(struct gw_ctx *ctx, int status, const char *msg)
{
    struct con_state *st = ctx->state;
    struct gw_page p;
    page_open(ctx, &p, con_tr(st->lang, "Không thực hiện được", "This could not be done"), NULL,
              st->token != NULL && status != 401);
    error_summary(&p, msg, NULL);
    gw_pg_s(&p, "<p><a href=\"/days\">");
    gw_pg_e(&p, con_tr(st->lang, "Về danh sách ngày", "Back to the business days"));
    gw_pg_s(&p, "</a></p>");
    gw_page_end(&p);
    no_store(ctx);
    gw_page_send(ctx, &p, status);
}

/* A database refusal in words; FG401 (no live session) sends the member to sign in. */
static void db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res)
{
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *code = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (err == GW_ERR_UNAVAILABLE || res == NULL) {
        error_page(ctx, 503,
                   con_tr(l, "Cơ sở dữ liệu không trả lời; hãy thử lại sau.",
                          "The database is not answering; try again later."));
        return;
    }
    if (state == NULL || strncmp(state, "FG", 2) != 0 || code == NULL) {
        gw_log_error("console_db_error", "\"sqlstate\":\"%s\"", state != NULL ? state : "");
        error_page(ctx, 500, con_tr(l, "Đã có lỗi xảy ra.", "Something went wrong."));
        return;
    }
    int status = (state[2] - '0') * 100 + (state[3] - '0') * 10 + (state[4] - '0');
    if (status == 401) {
        set_cookie(ctx, CON_COOKIE, "", 0);
        gw_reply_redirect(ctx, 303, "/signin");
        return;
    }
    const char *msg = NULL;
    if (strcmp(code, "same_person") == 0) {
        msg = con_tr(l,
                     "Bạn không thể phê duyệt yêu cầu do chính mình tạo: cần một người "
                     "phê duyệt khác.",
                     "You cannot approve what you asked for yourself: another approver must.");
    } else if (strcmp(code, "forbidden") == 0) {
        msg = con_tr(l, "Vai trò của bạn không được phép làm việc này.",
                     "Your role may not do this.");
    } else {
        msg = gw_arena_printf(&ctx->arena, "%s%s",
                              con_tr(l, "Cơ sở dữ liệu từ chối: ", "The database refused: "),
                              detail != NULL ? detail : code);
    }
    error_page(ctx, status >= 400 && status < 600 ? status : 500, msg);
}

/* The JSON object of a console query's one text value, or NULL once an answer is sent. */
static json_t *db_json(struct gw_ctx *ctx, enum gw_err err, const PGresult *res)
{
    if (err != GW_OK) {
        db_error(ctx, err, res);
        return NULL;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        error_page(ctx, 404,
                   con_tr(((struct con_state *)ctx->state)->lang, "Không tìm thấy.", "Not found."));
        return NULL;
    }
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        error_page(ctx, 500, "invalid answer");
        return NULL;
    }
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static long long jint(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* ---- sign-in ---- */

static void signin_page(struct gw_ctx *ctx, int status, const char *problem)
{
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    struct gw_page p;
    page_open(ctx, &p, con_tr(l, "Đăng nhập", "Sign in"), "/signin", false);
    if (problem != NULL) {
        error_summary(&p, problem, "user");
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
    no_store(ctx);
    gw_page_send(ctx, &p, status);
}

static void signin_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    json_t *j = db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    const char *status = jstr(j, "status");
    const char *token = jstr(j, "token");
    if (strcmp(status, "ok") == 0 && is_hex64(token)) {
        set_cookie(ctx, CON_COOKIE, token, GW_STAFF_SESSION_S_MAX);
        json_decref(j);
        gw_reply_redirect(ctx, 303, "/days");
        return;
    }
    bool locked = strcmp(status, "locked") == 0;
    json_decref(j);
    signin_page(ctx, 401,
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
        db_error(ctx, err != GW_OK ? err : GW_ERR_INVALID, res);
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
        error_page(ctx, 503,
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
        error_page(ctx, 503, con_tr(st->lang, "Hãy thử lại.", "Try again."));
    }
}

static void signin_post(struct gw_ctx *ctx)
{
    struct con_state *st = ctx->state;
    st->user = form_field(ctx, "user", false);
    st->password = form_field(ctx, "password", false);
    st->code = form_field(ctx, "code", false);
    if (st->user == NULL || st->password == NULL || st->code == NULL || st->user[0] == '\0' ||
        strlen(st->user) > CON_USER_MAX || strlen(st->password) > GW_STAFF_PASSWORD_BYTES_MAX) {
        signin_page(ctx, 400,
                    con_tr(st->lang, "Hãy nhập tên, mật khẩu và mã xác thực.",
                           "Enter your name, password and code."));
        return;
    }
    ctx->params[0] = st->user;
    gw_ctx_query(ctx, "SELECT feegate.staff_login_hash($1)", 1, hash_done);
}

static void signout_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        db_error(ctx, err, res);
        return;
    }
    set_cookie(ctx, CON_COOKIE, "", 0);
    gw_reply_redirect(ctx, 303, "/signin");
}

/* ---- the pages ---- */

static void days_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    json_t *j = db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    page_open(ctx, &p, con_tr(l, "Ngày đối soát", "Business days"), "/days", true);
    gw_pg_s(&p, "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Ngày", "Day"));
    gw_pg_s(&p, "</th><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Trạng thái", "State"));
    gw_pg_s(&p, "</th><th scope=\"col\" class=\"num\">");
    gw_pg_e(&p, con_tr(l, "Sao kê", "Statements"));
    gw_pg_s(&p, "</th><th scope=\"col\" class=\"num\">");
    gw_pg_e(&p, con_tr(l, "Ngoại lệ chưa xử lý", "Open exceptions"));
    gw_pg_s(&p, "</th></tr></thead><tbody>");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(j, "days"), i, d)
    {
        const char *day = jstr(d, "business_day");
        if (!ldg_day_valid(day)) {
            continue;
        }
        gw_pg_f(&p, "<tr><td><a href=\"/days/%s\">%s</a></td><td>", day, day);
        gw_pg_e(&p, json_is_true(json_object_get(d, "closed")) ? con_tr(l, "Đã khóa sổ", "Closed")
                                                               : con_tr(l, "Đang mở", "Open"));
        gw_pg_f(&p, "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td></tr>",
                jint(d, "statement_files"), jint(d, "open_exceptions"));
    }
    gw_pg_s(&p, "</tbody></table></div>");
    json_decref(j);
    gw_page_end(&p);
    no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void exception_row(struct gw_page *p, const json_t *e)
{
    enum gw_lang l = p->lang;
    gw_pg_f(p, "<tr><td><a href=\"/exceptions/%lld\">%lld</a></td><td>", jint(e, "id"),
            jint(e, "id"));
    gw_pg_e(p, con_word(l, jstr(e, "category")));
    gw_pg_s(p, "</td><td>");
    gw_pg_e(p, jstr(e, "provider"));
    gw_pg_s(p, "</td><td>");
    gw_pg_e(p, jstr(e, "merchant_ref"));
    gw_pg_s(p, "</td><td class=\"num\">");
    gw_pg_vnd(p, jint(e, "diff_vnd"));
    gw_pg_s(p, "</td><td>");
    gw_pg_e(p, con_word(l, jstr(e, "state")));
    gw_pg_s(p, "</td></tr>");
}

static void exceptions_table_head(struct gw_page *p)
{
    enum gw_lang l = p->lang;
    gw_pg_s(p, "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">");
    gw_pg_e(p, con_tr(l, "Số", "No."));
    gw_pg_s(p, "</th><th scope=\"col\">");
    gw_pg_e(p, con_tr(l, "Loại", "Category"));
    gw_pg_s(p, "</th><th scope=\"col\">");
    gw_pg_e(p, con_tr(l, "Nhà cung cấp", "Provider"));
    gw_pg_s(p, "</th><th scope=\"col\">");
    gw_pg_e(p, con_tr(l, "Mã giao dịch", "Reference"));
    gw_pg_s(p, "</th><th scope=\"col\" class=\"num\">");
    gw_pg_e(p, con_tr(l, "Chênh lệch", "Difference"));
    gw_pg_s(p, "</th><th scope=\"col\">");
    gw_pg_e(p, con_tr(l, "Trạng thái", "State"));
    gw_pg_s(p, "</th></tr></thead><tbody>");
}

static void queue_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    json_t *j = db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    const char *title =
        gw_arena_printf(&ctx->arena, "%s %s", con_tr(l, "Ngoại lệ ngày", "Exceptions of"), st->day);
    page_open(ctx, &p, title != NULL ? title : st->day,
              gw_arena_printf(&ctx->arena, "/days/%s", st->day), true);
    /* The filter: a GET form, no script needed. */
    gw_pg_f(&p,
            "<form class=\"form card\" method=\"get\" action=\"/days/%s\"><label for=\"category\">",
            st->day);
    gw_pg_e(&p, con_tr(l, "Loại", "Category"));
    gw_pg_s(&p, "</label><select id=\"category\" name=\"category\"><option value=\"\">");
    gw_pg_e(&p, con_tr(l, "Tất cả", "All"));
    gw_pg_s(&p, "</option>");
    for (size_t i = 0; i < 7; i++) {
        gw_pg_f(&p, "<option value=\"%s\"%s>", con_words[i].code,
                st->filter_cat != NULL && strcmp(st->filter_cat, con_words[i].code) == 0
                    ? " selected"
                    : "");
        gw_pg_e(&p, con_tr(l, con_words[i].vi, con_words[i].en));
        gw_pg_s(&p, "</option>");
    }
    gw_pg_s(&p, "</select><label for=\"provider\">");
    gw_pg_e(&p, con_tr(l, "Nhà cung cấp", "Provider"));
    gw_pg_s(&p, "</label><input id=\"provider\" name=\"provider\" value=\"");
    gw_pg_e(&p, st->filter_prov != NULL ? st->filter_prov : "");
    gw_pg_s(&p, "\"><button type=\"submit\">");
    gw_pg_e(&p, con_tr(l, "Lọc", "Filter"));
    gw_pg_s(&p, "</button></form>");
    exceptions_table_head(&p);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "exceptions"), i, e)
    {
        if ((st->filter_cat != NULL && st->filter_cat[0] != '\0' &&
             strcmp(st->filter_cat, jstr(e, "category")) != 0) ||
            (st->filter_prov != NULL && st->filter_prov[0] != '\0' &&
             strcmp(st->filter_prov, jstr(e, "provider")) != 0)) {
            continue;
        }
        exception_row(&p, e);
    }
    gw_pg_s(&p, "</tbody></table></div>");
    json_decref(j);
    gw_pg_f(&p, "<p><a href=\"/days/%s/report\">", st->day);
    gw_pg_e(&p, con_tr(l, "Báo cáo của ngày", "The day's report"));
    gw_pg_f(&p, "</a></p><form class=\"form card\" method=\"post\" action=\"/days/%s/close\">",
            st->day);
    csrf_field(&p, st);
    gw_pg_s(&p, "<h2>");
    gw_pg_e(&p, con_tr(l, "Khóa sổ ngày (người phê duyệt)", "Close the day (approvers)"));
    gw_pg_s(&p, "</h2><p><input type=\"checkbox\" id=\"carry_forward\" name=\"carry_forward\" "
                "value=\"yes\"> <label for=\"carry_forward\">");
    gw_pg_e(&p, con_tr(l, "Chuyển các ngoại lệ chưa xử lý sang ngày sau",
                       "Carry the open exceptions forward"));
    gw_pg_s(&p, "</label></p><button type=\"submit\">");
    gw_pg_e(&p, con_tr(l, "Khóa sổ", "Close the day"));
    gw_pg_s(&p, "</button></form>");
    gw_page_end(&p);
    no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void approvals_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    json_t *j = db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    page_open(ctx, &p, con_tr(st->lang, "Chờ phê duyệt", "Waiting for approval"), "/approvals",
              true);
    exceptions_table_head(&p);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "exceptions"), i, e)
    {
        exception_row(&p, e);
    }
    gw_pg_s(&p, "</tbody></table></div>");
    json_decref(j);
    gw_page_end(&p);
    no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void row(struct gw_page *p, const char *vi, const char *en, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return;
    }
    gw_pg_s(p, "<dt>");
    gw_pg_e(p, con_tr(p->lang, vi, en));
    gw_pg_s(p, "</dt><dd>");
    gw_pg_e(p, value);
    gw_pg_s(p, "</dd>");
}

static void vnd_row(struct gw_page *p, const char *vi, const char *en, const json_t *v)
{
    if (!json_is_integer(v)) {
        return;
    }
    gw_pg_s(p, "<dt>");
    gw_pg_e(p, con_tr(p->lang, vi, en));
    gw_pg_s(p, "</dt><dd>");
    gw_pg_vnd(p, (int64_t)json_integer_value(v));
    gw_pg_s(p, "</dd>");
}

static void exception_forms(struct gw_page *p, const struct con_state *st, bool open, bool pending)
{
    enum gw_lang l = p->lang;
    if (open) {
        gw_pg_f(p, "<form class=\"form card\" method=\"post\" action=\"/exceptions/%s/resolve\">",
                st->id);
        csrf_field(p, st);
        gw_pg_s(p, "<h2>");
        gw_pg_e(p, con_tr(l, "Xử lý", "Resolve"));
        gw_pg_s(p, "</h2><label for=\"action\">");
        gw_pg_e(p, con_tr(l, "Cách xử lý", "Action"));
        gw_pg_s(p, "</label><select id=\"action\" name=\"action\">");
        static const char *const acts[] = { "correct", "suspense", "write_off" };
        for (size_t i = 0; i < 3; i++) {
            gw_pg_f(p, "<option value=\"%s\">", acts[i]);
            gw_pg_e(p, con_word(l, acts[i]));
            gw_pg_s(p, "</option>");
        }
        gw_pg_s(p, "</select><label for=\"account\">");
        gw_pg_e(p, con_tr(l, "Tài khoản (chỉ khi điều chỉnh có tiền)",
                          "Account (only for a correction with money)"));
        gw_pg_s(p, "</label><input id=\"account\" name=\"account\" spellcheck=\"false\">"
                   "<label for=\"note\">");
        gw_pg_e(p, con_tr(l, "Lý do", "Reason"));
        gw_pg_s(p, "</label><textarea id=\"note\" name=\"note\" rows=\"3\" required></textarea>"
                   "<button type=\"submit\">");
        gw_pg_e(p, con_tr(l, "Gửi", "Submit"));
        gw_pg_s(p, "</button></form>");
    }
    if (pending) {
        gw_pg_f(p, "<form class=\"form card\" method=\"post\" action=\"/exceptions/%s/approve\">",
                st->id);
        csrf_field(p, st);
        gw_pg_s(p, "<button type=\"submit\">");
        gw_pg_e(p, con_tr(l, "Phê duyệt", "Approve"));
        gw_pg_s(p, "</button></form>");
    }
}

static void exception_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    json_t *j = db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    const char *title =
        gw_arena_printf(&ctx->arena, "%s %s", con_tr(l, "Ngoại lệ số", "Exception"), st->id);
    page_open(ctx, &p, title != NULL ? title : st->id,
              gw_arena_printf(&ctx->arena, "/exceptions/%s", st->id), true);
    gw_pg_s(&p, "<div class=\"card\"><dl>");
    row(&p, "Loại", "Category", con_word(l, jstr(j, "category")));
    row(&p, "Trạng thái", "State", con_word(l, jstr(j, "state")));
    row(&p, "Ngày", "Day", jstr(j, "business_day"));
    row(&p, "Nhà cung cấp", "Provider", jstr(j, "provider"));
    row(&p, "Mã giao dịch", "Reference", jstr(j, "merchant_ref"));
    row(&p, "Khoản thanh toán", "Payment", jstr(j, "payment_id"));
    vnd_row(&p, "Số tiền trên sao kê", "Statement amount",
            json_object_get(j, "statement_amount_vnd"));
    vnd_row(&p, "Số tiền ở cổng", "Switch amount", json_object_get(j, "switch_amount_vnd"));
    vnd_row(&p, "Chênh lệch", "Difference", json_object_get(j, "diff_vnd"));
    row(&p, "Chi tiết", "Detail", jstr(j, "detail"));
    gw_pg_s(&p, "</dl></div><h2>");
    gw_pg_e(&p, con_tr(l, "Các bước đã làm", "Trail"));
    gw_pg_s(&p, "</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Bước", "Action"));
    gw_pg_s(&p, "</th><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Trạng thái", "Status"));
    gw_pg_s(&p, "</th><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Người làm / duyệt", "By / approved by"));
    gw_pg_s(&p, "</th><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Lý do", "Reason"));
    gw_pg_s(&p, "</th></tr></thead><tbody>");
    bool pending = false;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(j, "actions"), i, a)
    {
        pending = pending || strcmp(jstr(a, "status"), "pending_approval") == 0;
        gw_pg_s(&p, "<tr><td>");
        gw_pg_e(&p, con_word(l, jstr(a, "action")));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, con_word(l, jstr(a, "status")));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, jstr(a, "staff"));
        if (jstr(a, "approved_by")[0] != '\0') {
            gw_pg_s(&p, " / ");
            gw_pg_e(&p, jstr(a, "approved_by"));
        }
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, jstr(a, "note"));
        gw_pg_s(&p, "</td></tr>");
    }
    gw_pg_s(&p, "</tbody></table></div>");
    exception_forms(&p, st, strcmp(jstr(j, "state"), "open") == 0 && !pending, pending);
    json_decref(j);
    gw_page_end(&p);
    no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void audit_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    json_t *j = db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    page_open(ctx, &p, con_tr(l, "Nhật ký kiểm toán", "Audit log"), "/audit", true);
    gw_pg_s(&p, "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Thời điểm", "When"));
    gw_pg_s(&p, "</th><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Người", "Who"));
    gw_pg_s(&p, "</th><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Việc", "Action"));
    gw_pg_s(&p, "</th><th scope=\"col\">");
    gw_pg_e(&p, con_tr(l, "Đối tượng", "Object"));
    gw_pg_s(&p, "</th></tr></thead><tbody>");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "rows"), i, r)
    {
        gw_pg_s(&p, "<tr><td>");
        gw_pg_e(&p, jstr(r, "at"));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, jstr(r, "staff"));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, jstr(r, "action"));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, jstr(r, "object"));
        gw_pg_s(&p, "</td></tr>");
    }
    gw_pg_s(&p, "</tbody></table></div>");
    json_decref(j);
    gw_page_end(&p);
    no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

/* After a POST that changed something: back to the exception's page. */
static void acted_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    if (err != GW_OK) {
        db_error(ctx, err, res);
        return;
    }
    const char *to = gw_arena_printf(&ctx->arena, "/exceptions/%s", st->id);
    gw_reply_redirect(ctx, 303, to != NULL ? to : "/days");
}

/* The day's report (ledger/ldg_report.c's HTML page, self-contained), as the finance API
 * gives it with ?format=html. */
static void report_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        db_error(ctx, err, res);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        error_page(ctx, 404,
                   con_tr(((struct con_state *)ctx->state)->lang, "Không tìm thấy.", "Not found."));
        return;
    }
    struct gw_buf b;
    gw_buf_init(&b, GW_HTTP_REPORT_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    if (ldg_report_render(PQgetvalue(res, 0, 0), LDG_REPORT_HTML, &b, &eb) != GW_OK) {
        gw_buf_release(&b);
        gw_log_error("console_report", "\"why\":\"%s\"", eb.msg);
        error_page(ctx, 500, "report");
        return;
    }
    no_store(ctx);
    gw_reply_report(ctx, 200, "text/html; charset=utf-8", b.data, b.len);
    gw_buf_release(&b);
}

static void closed_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        db_error(ctx, err, res);
        return;
    }
    gw_reply_redirect(ctx, 303, "/days");
}

/* ---- routing ---- */

/* A POST's Origin, when the browser sends one, must be this console (Host): a form of
 * another site, the sign-in's included, is refused before anything else. */
static bool same_origin(struct gw_ctx *ctx)
{
    const char *origin = gw_ctx_header(ctx, "Origin");
    const char *host = gw_ctx_header(ctx, "Host");
    if (origin == NULL) {
        return true;
    }
    const char *scheme = ctx->tls ? "https://" : "http://";
    size_t n = strlen(scheme);
    return host != NULL && strncmp(origin, scheme, n) == 0 && strcmp(origin + n, host) == 0;
}

static void route_post(struct gw_ctx *ctx)
{
    struct con_state *st = ctx->state;
    const char *csrf = form_field(ctx, "csrf", false);
    if (csrf == NULL || strlen(csrf) != GW_SHA256_HEX_BYTES - 1 ||
        sodium_memcmp(csrf, st->csrf, GW_SHA256_HEX_BYTES - 1) != 0) {
        error_page(ctx, 403,
                   con_tr(st->lang,
                          "Biểu mẫu đã hết hạn hoặc không hợp lệ; hãy tải "
                          "lại trang và thử lại.",
                          "The form has expired or is not valid; reload the page and "
                          "try again."));
        return;
    }
    ctx->params[0] = st->token;
    if (ctx->n_seg == 1 && strcmp(ctx->seg[0], "signout") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.staff_sign_out($1)", 1, signout_done);
        return;
    }
    if (ctx->n_seg == 3 && strcmp(ctx->seg[0], "days") == 0 && ldg_day_valid(ctx->seg[1]) &&
        strcmp(ctx->seg[2], "close") == 0) {
        const char *cf = form_field(ctx, "carry_forward", false);
        ctx->params[1] = ctx->seg[1];
        ctx->params[2] = cf != NULL && strcmp(cf, "yes") == 0 ? "true" : "false";
        gw_ctx_query(ctx, "SELECT feegate.day_close($2::date, $1, $3::bool)::text", 3, closed_done);
        return;
    }
    if (ctx->n_seg == 3 && strcmp(ctx->seg[0], "exceptions") == 0 && is_id(ctx->seg[1])) {
        st->id = ctx->seg[1];
        ctx->params[1] = st->id;
        if (strcmp(ctx->seg[2], "approve") == 0) {
            gw_ctx_query(ctx, "SELECT feegate.recon_approve($2::bigint, $1)::text", 2, acted_done);
            return;
        }
        if (strcmp(ctx->seg[2], "resolve") == 0) {
            const char *action = form_field(ctx, "action", false);
            const char *note = form_field(ctx, "note", false);
            const char *account = form_field(ctx, "account", false);
            if (action == NULL || note == NULL || note[0] == '\0') {
                error_page(ctx, 400,
                           con_tr(st->lang, "Hãy chọn cách xử lý và ghi lý do.",
                                  "Choose an action and give a reason."));
                return;
            }
            ctx->params[2] = action;
            ctx->params[3] = note;
            ctx->params[4] = account != NULL && account[0] != '\0' ? account : NULL;
            gw_ctx_query(ctx, "SELECT feegate.recon_resolve($2::bigint, $3, $1, $4, $5)::text", 5,
                         acted_done);
            return;
        }
    }
    error_page(ctx, 404, con_tr(st->lang, "Không có trang này.", "There is no such page."));
}

static void route_get(struct gw_ctx *ctx)
{
    struct con_state *st = ctx->state;
    ctx->params[0] = st->token;
    const char *s0 = ctx->n_seg > 0 ? ctx->seg[0] : "";
    if (ctx->n_seg <= 1 && s0[0] == '\0') {
        gw_reply_redirect(ctx, 303, "/days");
    } else if (ctx->n_seg == 1 && strcmp(s0, "days") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.fin_days($1)", 1, days_done);
    } else if (ctx->n_seg == 2 && strcmp(s0, "days") == 0 && ldg_day_valid(ctx->seg[1])) {
        st->day = ctx->seg[1];
        st->filter_cat = form_field(ctx, "category", true);
        st->filter_prov = form_field(ctx, "provider", true);
        ctx->params[1] = st->day;
        gw_ctx_query(ctx, "SELECT feegate.fin_exceptions($1, $2::date)", 2, queue_done);
    } else if (ctx->n_seg == 3 && strcmp(s0, "days") == 0 && ldg_day_valid(ctx->seg[1]) &&
               strcmp(ctx->seg[2], "report") == 0) {
        ctx->params[1] = ctx->seg[1];
        gw_ctx_query(ctx, "SELECT feegate.fin_report($1, $2::date)", 2, report_done);
    } else if (ctx->n_seg == 2 && strcmp(s0, "exceptions") == 0 && is_id(ctx->seg[1])) {
        st->id = ctx->seg[1];
        ctx->params[1] = st->id;
        gw_ctx_query(ctx, "SELECT feegate.fin_exception($1, $2::bigint)", 2, exception_done);
    } else if (ctx->n_seg == 1 && strcmp(s0, "approvals") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.fin_pending($1)", 1, approvals_done);
    } else if (ctx->n_seg == 1 && strcmp(s0, "audit") == 0) {
        ctx->params[1] = GW_STR(GW_CONSOLE_AUDIT_ROWS);
        gw_ctx_query(ctx, "SELECT feegate.fin_audit($1, $2::int)", 2, audit_done);
    } else {
        error_page(ctx, 404, con_tr(st->lang, "Không có trang này.", "There is no such page."));
    }
}

void gw_handle_console(struct gw_ctx *ctx)
{
    struct con_state *st = gw_arena_alloc(&ctx->arena, sizeof(*st));
    if (st == NULL) {
        gw_reply_error(ctx, 503, "overloaded", "no memory for the request");
        return;
    }
    memset(st, 0, sizeof(*st));
    ctx->state = st;
    /* The language: ?lang= (kept in a cookie), else the cookie, else Vietnamese. */
    st->lang = GW_LANG_VI;
    enum gw_lang forced;
    const char *lc = cookie_value(ctx, CON_LANG);
    if (gw_page_query_lang(ctx->query, &forced)) {
        st->lang = forced;
        set_cookie(ctx, CON_LANG, gw_i18n_code(forced), GW_STAFF_SESSION_S_MAX);
    } else if (lc != NULL) {
        (void)gw_i18n_lang_of(lc, &st->lang);
    }
    const char *token = cookie_value(ctx, CON_COOKIE);
    st->token = is_hex64(token) ? token : NULL;
    if (st->token != NULL) {
        gw_hmac_sha256_hex(st->token, GW_STAFF_TOKEN_HEX_BYTES, "csrf", 4, st->csrf);
    }
    bool post = ctx->method == EVHTTP_REQ_POST;
    if (post && !same_origin(ctx)) {
        error_page(ctx, 403,
                   con_tr(st->lang, "Biểu mẫu không gửi từ bảng điều khiển này.",
                          "The form was not sent from this console."));
        return;
    }
    if (ctx->n_seg == 1 && strcmp(ctx->seg[0], "signin") == 0) {
        if (post) {
            signin_post(ctx);
        } else {
            signin_page(ctx, 200, NULL);
        }
        return;
    }
    if (st->token == NULL) {
        if (post) {
            error_page(ctx, 403, con_tr(st->lang, "Bạn chưa đăng nhập.", "You are not signed in."));
        } else {
            gw_reply_redirect(ctx, 303, "/signin");
        }
        return;
    }
    if (post) {
        route_post(ctx);
    } else {
        route_get(ctx);
    }
}

void gw_console_start(struct gw_loop *loop)
{
    (void)loop;
}

void gw_console_stop(struct gw_loop *loop)
{
    (void)loop;
}

/* A verifying thread activates its loop's event when done: the event base must outlive it.
 * The drain has waited for the requests (a check takes well under a second); this waits for
 * any thread still running, bounded. */
void gw_console_release(struct gw_loop *loop)
{
    (void)loop;
    for (int i = 0; i < GW_CONSOLE_VERIFY_WAIT_MS && atomic_load(&con_verifying) > 0; i++) {
        struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000L };
        (void)nanosleep(&ms, NULL);
    }
}
