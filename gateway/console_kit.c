/* The finance console's kit (console_kit.h): the words for codes, the request helpers, the
 * page frame, the error pages and the database answers read as JSON, for the console's pages
 * (console_web.c) and its sign-in (console_signin.c). */
#include "console_kit.h"

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

const struct con_word con_words[] = {
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
const size_t con_words_n = sizeof(con_words) / sizeof(con_words[0]);
_Static_assert(sizeof(con_words) / sizeof(con_words[0]) >= CON_CATEGORIES_N,
               "the categories come first in con_words");

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a text's two languages, vi then en */
const char *con_tr(enum gw_lang l, const char *vi, const char *en)
{
    return l == GW_LANG_EN ? en : vi;
}

const char *con_word(enum gw_lang l, const char *code)
{
    for (size_t i = 0; i < con_words_n; i++) {
        if (strcmp(code, con_words[i].code) == 0) {
            return con_tr(l, con_words[i].vi, con_words[i].en);
        }
    }
    return con_tr(l, "Khác", "Other");
}

/* ---- request helpers ---- */

/* The value of cookie name, copied into the arena, or NULL. */
const char *con_cookie_value(struct gw_ctx *ctx, const char *name)
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

bool con_is_hex64(const char *s)
{
    return s != NULL && strlen(s) == GW_STAFF_TOKEN_HEX_BYTES &&
           strspn(s, "0123456789abcdef") == GW_STAFF_TOKEN_HEX_BYTES;
}

bool con_is_id(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 18 && strspn(s, "0123456789") == n;
}

/* A field of the url-encoded form body (or of the query when from_query), in the arena;
 * NULL when absent or longer than CON_FIELD_MAX. */
const char *con_form_field(struct gw_ctx *ctx, const char *key, bool from_query)
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

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): name then value */
void con_set_cookie(struct gw_ctx *ctx, const char *name, const char *value, int max_age_s)
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

void con_no_store(struct gw_ctx *ctx)
{
    if (!ctx->cancelled) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Cache-Control", "no-store");
    }
}

/* ---- the frame ---- */

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): title then switch path */
void con_page_open(struct gw_ctx *ctx, struct gw_page *p, const char *title,
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

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): message then field id */
void con_error_summary(struct gw_page *p, const char *msg, const char *field)
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

void con_csrf_field(struct gw_page *p, const struct con_state *st)
{
    gw_pg_s(p, "<input type=\"hidden\" name=\"csrf\" value=\"");
    gw_pg_e(p, st->csrf);
    gw_pg_s(p, "\">");
}

/* An error page: status, the problem in a summary, a link to the days. */
void con_error_page(struct gw_ctx *ctx, int status, const char *msg)
{
    struct con_state *st = ctx->state;
    struct gw_page p;
    con_page_open(ctx, &p, con_tr(st->lang, "Không thực hiện được", "This could not be done"), NULL,
                  st->token != NULL && status != 401);
    con_error_summary(&p, msg, NULL);
    gw_pg_s(&p, "<p><a href=\"/days\">");
    gw_pg_e(&p, con_tr(st->lang, "Về danh sách ngày", "Back to the business days"));
    gw_pg_s(&p, "</a></p>");
    gw_page_end(&p);
    con_no_store(ctx);
    gw_page_send(ctx, &p, status);
}

/* A database refusal in words; FG401 (no live session) sends the member to sign in. */
void con_db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res)
{
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *code = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (err == GW_ERR_UNAVAILABLE || res == NULL) {
        con_error_page(ctx, 503,
                       con_tr(l, "Cơ sở dữ liệu không trả lời; hãy thử lại sau.",
                              "The database is not answering; try again later."));
        return;
    }
    if (state == NULL || strncmp(state, "FG", 2) != 0 || code == NULL) {
        gw_log_error("console_db_error", "\"sqlstate\":\"%s\"", state != NULL ? state : "");
        con_error_page(ctx, 500, con_tr(l, "Đã có lỗi xảy ra.", "Something went wrong."));
        return;
    }
    int status = (state[2] - '0') * 100 + (state[3] - '0') * 10 + (state[4] - '0');
    if (status == 401) {
        con_set_cookie(ctx, CON_COOKIE, "", 0);
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
    con_error_page(ctx, status >= 400 && status < 600 ? status : 500, msg);
}

/* The JSON object of a console query's one text value, or NULL once an answer is sent. */
json_t *con_db_json(struct gw_ctx *ctx, enum gw_err err, const PGresult *res)
{
    if (err != GW_OK) {
        con_db_error(ctx, err, res);
        return NULL;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        con_error_page(
            ctx, 404,
            con_tr(((struct con_state *)ctx->state)->lang, "Không tìm thấy.", "Not found."));
        return NULL;
    }
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        con_error_page(ctx, 500, "invalid answer");
        return NULL;
    }
    return j;
}

const char *con_jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

long long con_jint(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): vi then en */
void con_row(struct gw_page *p, const char *vi, const char *en, const char *value)
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

/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a label's two languages, vi then en */
void con_vnd_row(struct gw_page *p, const char *vi, const char *en, const json_t *v)
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
