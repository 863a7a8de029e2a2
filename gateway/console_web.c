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

#include "console_kit.h"
#include "console_signin.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "html.h"
#include "ldg_recon.h"
#include "request.h"

#include "banned.h"

/* ---- the pages ---- */

static void days_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    json_t *j = con_db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    con_page_open(ctx, &p, con_tr(l, "Ngày đối soát", "Business days"), "/days", true);
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
        const char *day = con_jstr(d, "business_day");
        if (!ldg_day_valid(day)) {
            continue;
        }
        gw_pg_f(&p, "<tr><td><a href=\"/days/%s\">%s</a></td><td>", day, day);
        gw_pg_e(&p, json_is_true(json_object_get(d, "closed")) ? con_tr(l, "Đã khóa sổ", "Closed")
                                                               : con_tr(l, "Đang mở", "Open"));
        gw_pg_f(&p, "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td></tr>",
                con_jint(d, "statement_files"), con_jint(d, "open_exceptions"));
    }
    gw_pg_s(&p, "</tbody></table></div>");
    json_decref(j);
    gw_page_end(&p);
    con_no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void exception_row(struct gw_page *p, const json_t *e)
{
    enum gw_lang l = p->lang;
    gw_pg_f(p, "<tr><td><a href=\"/exceptions/%lld\">%lld</a></td><td>", con_jint(e, "id"),
            con_jint(e, "id"));
    gw_pg_e(p, con_word(l, con_jstr(e, "category")));
    gw_pg_s(p, "</td><td>");
    gw_pg_e(p, con_jstr(e, "provider"));
    gw_pg_s(p, "</td><td>");
    gw_pg_e(p, con_jstr(e, "merchant_ref"));
    gw_pg_s(p, "</td><td class=\"num\">");
    gw_pg_vnd(p, con_jint(e, "diff_vnd"));
    gw_pg_s(p, "</td><td>");
    gw_pg_e(p, con_word(l, con_jstr(e, "state")));
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
    json_t *j = con_db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    const char *title =
        gw_arena_printf(&ctx->arena, "%s %s", con_tr(l, "Ngoại lệ ngày", "Exceptions of"), st->day);
    con_page_open(ctx, &p, title != NULL ? title : st->day,
                  gw_arena_printf(&ctx->arena, "/days/%s", st->day), true);
    /* The filter: a GET form, no script needed. */
    gw_pg_f(&p,
            "<form class=\"form card\" method=\"get\" action=\"/days/%s\"><label for=\"category\">",
            st->day);
    gw_pg_e(&p, con_tr(l, "Loại", "Category"));
    gw_pg_s(&p, "</label><select id=\"category\" name=\"category\"><option value=\"\">");
    gw_pg_e(&p, con_tr(l, "Tất cả", "All"));
    gw_pg_s(&p, "</option>");
    for (size_t i = 0; i < CON_CATEGORIES_N; i++) {
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
             strcmp(st->filter_cat, con_jstr(e, "category")) != 0) ||
            (st->filter_prov != NULL && st->filter_prov[0] != '\0' &&
             strcmp(st->filter_prov, con_jstr(e, "provider")) != 0)) {
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
    con_csrf_field(&p, st);
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
    con_no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void approvals_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    json_t *j = con_db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    con_page_open(ctx, &p, con_tr(st->lang, "Chờ phê duyệt", "Waiting for approval"), "/approvals",
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
    con_no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void exception_forms(struct gw_page *p, const struct con_state *st, bool open, bool pending)
{
    enum gw_lang l = p->lang;
    if (open) {
        gw_pg_f(p, "<form class=\"form card\" method=\"post\" action=\"/exceptions/%s/resolve\">",
                st->id);
        con_csrf_field(p, st);
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
        con_csrf_field(p, st);
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
    json_t *j = con_db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    const char *title =
        gw_arena_printf(&ctx->arena, "%s %s", con_tr(l, "Ngoại lệ số", "Exception"), st->id);
    con_page_open(ctx, &p, title != NULL ? title : st->id,
                  gw_arena_printf(&ctx->arena, "/exceptions/%s", st->id), true);
    gw_pg_s(&p, "<div class=\"card\"><dl>");
    con_row(&p, "Loại", "Category", con_word(l, con_jstr(j, "category")));
    con_row(&p, "Trạng thái", "State", con_word(l, con_jstr(j, "state")));
    con_row(&p, "Ngày", "Day", con_jstr(j, "business_day"));
    con_row(&p, "Nhà cung cấp", "Provider", con_jstr(j, "provider"));
    con_row(&p, "Mã giao dịch", "Reference", con_jstr(j, "merchant_ref"));
    con_row(&p, "Khoản thanh toán", "Payment", con_jstr(j, "payment_id"));
    con_vnd_row(&p, "Số tiền trên sao kê", "Statement amount",
                json_object_get(j, "statement_amount_vnd"));
    con_vnd_row(&p, "Số tiền ở cổng", "Switch amount", json_object_get(j, "switch_amount_vnd"));
    con_vnd_row(&p, "Chênh lệch", "Difference", json_object_get(j, "diff_vnd"));
    con_row(&p, "Chi tiết", "Detail", con_jstr(j, "detail"));
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
        pending = pending || strcmp(con_jstr(a, "status"), "pending_approval") == 0;
        gw_pg_s(&p, "<tr><td>");
        gw_pg_e(&p, con_word(l, con_jstr(a, "action")));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, con_word(l, con_jstr(a, "status")));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, con_jstr(a, "staff"));
        if (con_jstr(a, "approved_by")[0] != '\0') {
            gw_pg_s(&p, " / ");
            gw_pg_e(&p, con_jstr(a, "approved_by"));
        }
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, con_jstr(a, "note"));
        gw_pg_s(&p, "</td></tr>");
    }
    gw_pg_s(&p, "</tbody></table></div>");
    exception_forms(&p, st, strcmp(con_jstr(j, "state"), "open") == 0 && !pending, pending);
    json_decref(j);
    gw_page_end(&p);
    con_no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

static void audit_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    enum gw_lang l = st->lang;
    json_t *j = con_db_json(ctx, err, res);
    if (j == NULL) {
        return;
    }
    struct gw_page p;
    con_page_open(ctx, &p, con_tr(l, "Nhật ký kiểm toán", "Audit log"), "/audit", true);
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
        gw_pg_e(&p, con_jstr(r, "at"));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, con_jstr(r, "staff"));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, con_jstr(r, "action"));
        gw_pg_s(&p, "</td><td>");
        gw_pg_e(&p, con_jstr(r, "object"));
        gw_pg_s(&p, "</td></tr>");
    }
    gw_pg_s(&p, "</tbody></table></div>");
    json_decref(j);
    gw_page_end(&p);
    con_no_store(ctx);
    gw_page_send(ctx, &p, 200);
}

/* After a POST that changed something: back to the exception's page. */
static void acted_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct con_state *st = ctx->state;
    if (err != GW_OK) {
        con_db_error(ctx, err, res);
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
        con_db_error(ctx, err, res);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        con_error_page(
            ctx, 404,
            con_tr(((struct con_state *)ctx->state)->lang, "Không tìm thấy.", "Not found."));
        return;
    }
    struct gw_buf b;
    gw_buf_init(&b, GW_HTTP_REPORT_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    if (ldg_report_render(PQgetvalue(res, 0, 0), LDG_REPORT_HTML, &b, &eb) != GW_OK) {
        gw_buf_release(&b);
        gw_log_error("console_report", "\"why\":\"%s\"", eb.msg);
        con_error_page(ctx, 500, "report");
        return;
    }
    con_no_store(ctx);
    gw_reply_report(ctx, 200, "text/html; charset=utf-8", b.data, b.len);
    gw_buf_release(&b);
}

static void closed_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        con_db_error(ctx, err, res);
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
    const char *csrf = con_form_field(ctx, "csrf", false);
    if (csrf == NULL || strlen(csrf) != GW_SHA256_HEX_BYTES - 1 ||
        sodium_memcmp(csrf, st->csrf, GW_SHA256_HEX_BYTES - 1) != 0) {
        con_error_page(ctx, 403,
                       con_tr(st->lang,
                              "Biểu mẫu đã hết hạn hoặc không hợp lệ; hãy tải "
                              "lại trang và thử lại.",
                              "The form has expired or is not valid; reload the page and "
                              "try again."));
        return;
    }
    ctx->params[0] = st->token;
    if (ctx->n_seg == 1 && strcmp(ctx->seg[0], "signout") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.staff_sign_out($1)", 1, con_signout_done);
        return;
    }
    if (ctx->n_seg == 3 && strcmp(ctx->seg[0], "days") == 0 && ldg_day_valid(ctx->seg[1]) &&
        strcmp(ctx->seg[2], "close") == 0) {
        const char *cf = con_form_field(ctx, "carry_forward", false);
        ctx->params[1] = ctx->seg[1];
        ctx->params[2] = cf != NULL && strcmp(cf, "yes") == 0 ? "true" : "false";
        gw_ctx_query(ctx, "SELECT feegate.day_close($2::date, $1, $3::bool)::text", 3, closed_done);
        return;
    }
    if (ctx->n_seg == 3 && strcmp(ctx->seg[0], "exceptions") == 0 && con_is_id(ctx->seg[1])) {
        st->id = ctx->seg[1];
        ctx->params[1] = st->id;
        if (strcmp(ctx->seg[2], "approve") == 0) {
            gw_ctx_query(ctx, "SELECT feegate.recon_approve($2::bigint, $1)::text", 2, acted_done);
            return;
        }
        if (strcmp(ctx->seg[2], "resolve") == 0) {
            const char *action = con_form_field(ctx, "action", false);
            const char *note = con_form_field(ctx, "note", false);
            const char *account = con_form_field(ctx, "account", false);
            if (action == NULL || note == NULL || note[0] == '\0') {
                con_error_page(ctx, 400,
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
    con_error_page(ctx, 404, con_tr(st->lang, "Không có trang này.", "There is no such page."));
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
        st->filter_cat = con_form_field(ctx, "category", true);
        st->filter_prov = con_form_field(ctx, "provider", true);
        ctx->params[1] = st->day;
        gw_ctx_query(ctx, "SELECT feegate.fin_exceptions($1, $2::date)", 2, queue_done);
    } else if (ctx->n_seg == 3 && strcmp(s0, "days") == 0 && ldg_day_valid(ctx->seg[1]) &&
               strcmp(ctx->seg[2], "report") == 0) {
        ctx->params[1] = ctx->seg[1];
        gw_ctx_query(ctx, "SELECT feegate.fin_report($1, $2::date)", 2, report_done);
    } else if (ctx->n_seg == 2 && strcmp(s0, "exceptions") == 0 && con_is_id(ctx->seg[1])) {
        st->id = ctx->seg[1];
        ctx->params[1] = st->id;
        gw_ctx_query(ctx, "SELECT feegate.fin_exception($1, $2::bigint)", 2, exception_done);
    } else if (ctx->n_seg == 1 && strcmp(s0, "approvals") == 0) {
        gw_ctx_query(ctx, "SELECT feegate.fin_pending($1)", 1, approvals_done);
    } else if (ctx->n_seg == 1 && strcmp(s0, "audit") == 0) {
        ctx->params[1] = GW_STR(GW_CONSOLE_AUDIT_ROWS);
        gw_ctx_query(ctx, "SELECT feegate.fin_audit($1, $2::int)", 2, audit_done);
    } else {
        con_error_page(ctx, 404, con_tr(st->lang, "Không có trang này.", "There is no such page."));
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
    const char *lc = con_cookie_value(ctx, CON_LANG);
    if (gw_page_query_lang(ctx->query, &forced)) {
        st->lang = forced;
        con_set_cookie(ctx, CON_LANG, gw_i18n_code(forced), GW_STAFF_SESSION_S_MAX);
    } else if (lc != NULL) {
        (void)gw_i18n_lang_of(lc, &st->lang);
    }
    const char *token = con_cookie_value(ctx, CON_COOKIE);
    st->token = con_is_hex64(token) ? token : NULL;
    if (st->token != NULL) {
        gw_hmac_sha256_hex(st->token, GW_STAFF_TOKEN_HEX_BYTES, "csrf", 4, st->csrf);
    }
    bool post = ctx->method == EVHTTP_REQ_POST;
    if (post && !same_origin(ctx)) {
        con_error_page(ctx, 403,
                       con_tr(st->lang, "Biểu mẫu không gửi từ bảng điều khiển này.",
                              "The form was not sent from this console."));
        return;
    }
    if (ctx->n_seg == 1 && strcmp(ctx->seg[0], "signin") == 0) {
        if (post) {
            con_signin_post(ctx);
        } else {
            con_signin_page(ctx, 200, NULL);
        }
        return;
    }
    if (st->token == NULL) {
        if (post) {
            con_error_page(ctx, 403,
                           con_tr(st->lang, "Bạn chưa đăng nhập.", "You are not signed in."));
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
    for (int i = 0; i < GW_CONSOLE_VERIFY_WAIT_MS && con_signins_running() > 0; i++) {
        struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000L };
        (void)nanosleep(&ms, NULL);
    }
}
