/* Citizen pages: the index, the checkout page and its form, the page a provider sends the
 * browser back to, and the receipt. Plain HTML with a little inline CSS, no JavaScript,
 * Vietnamese or English. Every page is one database call; what the database returns is
 * parsed with jansson and anything missing is shown as empty, never trusted to be there.
 * The return page only displays: the payment's state changes only on a verified callback. */
#include "pages.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_log.h"
#include "gw_money.h"
#include "gw_time.h"
#include "gw_url.h"
#include "i18n.h"
#include "provider.h"
#include "rcp.h"
#include "receipt_worker.h"
#include "routing.h"
#include "server.h"
#include "validate.h"

#include "banned.h"

#define PAGE_FORM_PAIRS_MAX 8

/* What a request remembers between its handler and its database callback. */
struct page_state {
    enum gw_lang lang;
    bool lang_forced; /* ?lang= was given: it wins over the payment's locale */
    const char *id;   /* payment or receipt id, validated */
    const struct gw_channel_config *ch;
    const char *ret_query; /* return page: the provider's query, without our lang= prefix */
    struct gw_adapter_result ret;
    struct gw_receipt_task *task; /* receipt PDF or verification handed to the worker */
    const char *skip_channel;     /* checkout: the channel that just failed, not offered again */
    struct gw_provider_call call; /* checkout: the server-side create */
    bool want_pdf;
};

/* A page being written. The error is sticky, so builders append freely and the page is
 * checked once before it is sent (git's strbuf habit, curl's dynbuf bound). */
struct page {
    struct gw_buf b;
    enum gw_err err;
    enum gw_lang lang;
};

static void pg_s(struct page *p, const char *s)
{
    if (p->err == GW_OK) {
        p->err = gw_buf_adds(&p->b, s != NULL ? s : "");
    }
}

/* Dynamic text, HTML-escaped (also safe inside a quoted attribute). */
static void pg_e(struct page *p, const char *s)
{
    if (p->err == GW_OK) {
        p->err = gw_buf_add_html_escaped(&p->b, s != NULL ? s : "");
    }
}

/* Markup and numbers only: never a string that came from outside. */
static void pg_f(struct page *p, const char *fmt, ...) GW_PRINTF(2, 3);

static void pg_f(struct page *p, const char *fmt, ...)
{
    if (p->err != GW_OK) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    p->err = gw_buf_vprintf(&p->b, fmt, ap);
    va_end(ap);
}

static void pg_m(struct page *p, enum gw_msg m)
{
    pg_e(p, gw_i18n(p->lang, m));
}

static void pg_vnd(struct page *p, int64_t amount_vnd)
{
    char s[GW_FMT_VND_BYTES];
    gw_fmt_vnd(amount_vnd, s);
    pg_e(p, s);
}

/* ---- JSON from the database: absent, null or mistyped values read as empty ---- */

static const char *js(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

static bool jhas(const json_t *o, const char *key)
{
    return js(o, key)[0] != '\0';
}

static int64_t jint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* A view is a checkout_view answer: the payment's keys either at the top level or under
 * "payment", with the page's extras (agency name, fee names, channels) beside them. */
struct view {
    const json_t *root;
    const json_t *pay;
};

static void view_init(struct view *vw, const json_t *root)
{
    vw->root = root;
    const json_t *pay = json_object_get(root, "payment");
    vw->pay = json_is_object(pay) ? pay : root;
}

static const json_t *vget(const struct view *vw, const char *key)
{
    const json_t *v = json_object_get(vw->pay, key);
    return v != NULL && !json_is_null(v) ? v : json_object_get(vw->root, key);
}

static const char *vstr(const struct view *vw, const char *key)
{
    const json_t *v = vget(vw, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The fee lines: checkout_view puts them, with their names, beside the payment (whose own
 * items carry only codes); a bare payment object is read too. */
static const json_t *view_items(const struct view *vw)
{
    const json_t *items = json_object_get(vw->root, "items");
    return json_is_array(items) ? items : json_object_get(vw->pay, "items");
}

static const char *view_agency_name(const struct view *vw)
{
    const json_t *agency = vget(vw, "agency");
    if (jhas(agency, "name")) {
        return js(agency, "name");
    }
    if (vstr(vw, "agency_name")[0] != '\0') {
        return vstr(vw, "agency_name");
    }
    return vstr(vw, "agency_code");
}

/* A fee line's name: on the item, or in a "fees" map or list beside it, else its code. */
static const char *fee_name(const json_t *fees, const json_t *item)
{
    const char *code = js(item, "fee_code");
    if (jhas(item, "name")) {
        return js(item, "name");
    }
    if (jhas(item, "fee_name")) {
        return js(item, "fee_name");
    }
    const json_t *f = json_is_object(fees) ? json_object_get(fees, code) : NULL;
    if (json_is_string(f)) {
        return json_string_value(f);
    }
    if (jhas(f, "name")) {
        return js(f, "name");
    }
    for (size_t i = 0; i < json_array_size(fees); i++) {
        const json_t *e = json_array_get(fees, i);
        if (code[0] != '\0' && strcmp(js(e, "fee_code"), code) == 0 && jhas(e, "name")) {
            return js(e, "name");
        }
    }
    return code;
}

/* An http(s) URL, or NULL: anything else (javascript:, data:) is never put in an href. */
static const char *safe_url(const char *u)
{
    if (u != NULL && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0)) {
        return u;
    }
    return NULL;
}

/* ---- language ---- */

/* ?lang=vi or ?lang=en anywhere in the query; the raw pair, so no decoding is needed. */
static bool query_lang(const char *q, enum gw_lang *out)
{
    for (const char *p = q; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t n = amp != NULL ? (size_t)(amp - p) : strlen(p);
        if (n == 7 && strncmp(p, "lang=vi", 7) == 0) {
            return gw_i18n_lang_of("vi", out);
        }
        if (n == 7 && strncmp(p, "lang=en", 7) == 0) {
            return gw_i18n_lang_of("en", out);
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return false;
}

/* The return page's query is the provider's, signed byte for byte; our language switch is
 * a "lang=xx&" prefix that is taken off before the adapter sees the rest. */
static const char *strip_lang_prefix(const char *q)
{
    if (q != NULL && (strncmp(q, "lang=vi&", 8) == 0 || strncmp(q, "lang=en&", 8) == 0)) {
        return q + 8;
    }
    return q != NULL ? q : "";
}

static enum gw_lang other_lang(enum gw_lang l)
{
    return l == GW_LANG_EN ? GW_LANG_VI : GW_LANG_EN;
}

/* The payment's locale unless the citizen chose with ?lang=. */
static void state_lang_from(struct page_state *st, const char *locale)
{
    if (!st->lang_forced && !gw_i18n_lang_of(locale, &st->lang)) {
        st->lang = GW_LANG_VI;
    }
}

/* ---- page frame and sending ---- */

static const char page_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif;"
    "color:#1b1b1b;background:#f3f4f6}"
    "header{background:#0b3a6e;color:#fff;border-bottom:4px solid #c8102e}"
    "header .in,main,footer{max-width:44rem;margin:0 auto;padding:0.75rem 1rem}"
    "header .in{display:flex;justify-content:space-between;align-items:center;gap:1rem}"
    "header a{color:#fff}.site{font-weight:700;font-size:1.05rem}"
    "h1{font-size:1.5rem;margin:1rem 0}"
    ".card{background:#fff;border:1px solid #d0d5dd;border-radius:4px;padding:1rem 1.25rem;"
    "margin:0 0 1rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:0.25rem 1rem;margin:0}"
    "dt{color:#4a4a4a}dd{margin:0;font-weight:600;overflow-wrap:anywhere}"
    "table{width:100%;border-collapse:collapse;margin:0.75rem 0}"
    "th,td{text-align:left;padding:0.5rem;border-bottom:1px solid #d0d5dd;vertical-align:top}"
    ".num{text-align:right;white-space:nowrap}tfoot th,tfoot td{font-weight:700;border:0}"
    "fieldset{border:0;margin:0;padding:0}legend{font-weight:700;margin-bottom:0.5rem}"
    ".opt{display:block;border:1px solid #d0d5dd;border-radius:4px;padding:0.75rem;"
    "margin:0 0 0.5rem;cursor:pointer}"
    "button,.btn{display:inline-block;background:#0b3a6e;color:#fff;border:0;border-radius:4px;"
    "padding:0.75rem 1.5rem;font:inherit;font-weight:700;text-decoration:none;cursor:pointer}"
    "a:focus,button:focus,input:focus{outline:3px solid #ffbf47;outline-offset:2px}"
    ".ok{border-left:6px solid #0a7d32}.warn{border-left:6px solid #b45309}"
    ".bad{border-left:6px solid #b42318}.muted{color:#4a4a4a;font-size:0.9rem}"
    "footer{color:#4a4a4a;font-size:0.875rem}"
    ".receipt{background:#fff;border:1px solid #1b1b1b;padding:1.5rem}"
    ".rc-head{display:flex;justify-content:space-between;gap:1rem;flex-wrap:wrap}"
    ".rc-title{text-align:center;font-size:1.35rem;margin:1.25rem 0 0.25rem}"
    ".center{text-align:center}"
    "@media print{header,footer,.noprint{display:none}body{background:#fff}"
    ".receipt{border:0}}";

/* Opens the document; switch_href is where the other language is (already a safe path). */
static void page_begin(struct page *p, const char *title, const char *switch_href)
{
    pg_f(p, "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\">",
         gw_i18n_code(p->lang));
    pg_s(p, "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex\"><title>");
    pg_e(p, title);
    pg_s(p, " – ");
    pg_m(p, GW_MSG_SITE_NAME);
    pg_s(p, "</title><style>");
    pg_s(p, page_css);
    pg_s(p, "</style></head><body><header><div class=\"in\"><span class=\"site\">");
    pg_m(p, GW_MSG_SITE_NAME);
    pg_s(p, "</span>");
    if (switch_href != NULL) {
        pg_f(p, "<a href=\"");
        pg_e(p, switch_href);
        pg_f(p, "\" lang=\"%s\" hreflang=\"%s\">", gw_i18n_code(other_lang(p->lang)),
             gw_i18n_code(other_lang(p->lang)));
        pg_m(p, GW_MSG_SWITCH_LANG);
        pg_s(p, "</a>");
    }
    pg_s(p, "</div></header><main>");
}

static void page_end(struct page *p)
{
    pg_s(p, "</main><footer><p>feegate · ");
    pg_m(p, GW_MSG_SITE_TAGLINE);
    pg_s(p, "</p></footer></body></html>\n");
}

static void page_init(struct page *p, enum gw_lang lang)
{
    gw_buf_init(&p->b, GW_HTTP_RESPONSE_BYTES_MAX);
    p->err = GW_OK;
    p->lang = lang;
}

static void page_headers(struct gw_ctx *ctx)
{
    if (ctx->cancelled) {
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);
    /* No scripts, no frames, nothing from elsewhere; the payment id in the address is a
     * capability, so other sites get only our origin as referrer. */
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                      "frame-ancestors 'none'");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "strict-origin");
}

/* Sends the page and releases it. A page that did not fit is a bug or absurd data: 500. */
static void page_send(struct gw_ctx *ctx, struct page *p, int status)
{
    page_headers(ctx);
    if (p->err != GW_OK) {
        static const char oops[] = "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
                                   "<title>500</title></head><body><p>Đã có lỗi xảy ra. "
                                   "Something went wrong.</p></body></html>\n";
        gw_log_error("page_failed", "\"status\":%d,\"err\":\"%s\"", status, gw_err_name(p->err));
        gw_reply(ctx, 500, "text/html; charset=utf-8", oops, sizeof(oops) - 1);
    } else {
        gw_reply(ctx, status, "text/html; charset=utf-8", gw_buf_str(&p->b), p->b.len);
    }
    gw_buf_release(&p->b);
}

static struct page_state *state_of(struct gw_ctx *ctx)
{
    return ctx->state;
}

/* An arena path with ?lang=, or NULL when out of memory (then no link is drawn). */
static const char *lang_href(struct gw_ctx *ctx, const char *prefix, const char *id,
                             enum gw_lang lang)
{
    return gw_arena_printf(&ctx->arena, "%s%s?lang=%s", prefix, id, gw_i18n_code(lang));
}

/* An error page: status, a sentence, and optionally a link (href NULL: none). */
static void page_error_link(struct gw_ctx *ctx, int status, enum gw_msg msg, const char *href,
                            enum gw_msg label)
{
    struct page p;
    page_init(&p, state_of(ctx)->lang);
    page_begin(&p, gw_i18n(p.lang, GW_MSG_ERROR_TITLE), NULL);
    pg_s(&p, "<h1>");
    pg_m(&p, GW_MSG_ERROR_TITLE);
    pg_s(&p, "</h1><div class=\"card bad\"><p>");
    pg_m(&p, msg);
    pg_f(&p, "</p><p class=\"muted\">HTTP %d</p>", status);
    if (href != NULL) {
        pg_s(&p, "<p><a href=\"");
        pg_e(&p, href);
        pg_s(&p, "\">");
        pg_m(&p, label);
        pg_s(&p, "</a></p>");
    }
    pg_s(&p, "</div>");
    page_end(&p);
    page_send(ctx, &p, status);
}

/* An error page, with a link back to the payment page when back_href is not NULL. */
static void page_error(struct gw_ctx *ctx, int status, enum gw_msg msg, const char *back_href)
{
    page_error_link(ctx, status, msg, back_href, GW_MSG_BACK_TO_PAYMENT);
}

/* Which sentence a refusal of a database function deserves. */
static enum gw_msg db_code_msg(const char *code, int status)
{
    if (strcmp(code, "payment_not_found") == 0 || status == 404) {
        return GW_MSG_NOT_FOUND;
    }
    if (strcmp(code, "payment_not_payable") == 0 || status == 409) {
        return GW_MSG_NOT_PAYABLE_ERR;
    }
    if (strcmp(code, "channel_not_allowed") == 0) {
        return GW_MSG_CHANNEL_NOT_ALLOWED;
    }
    return GW_MSG_BAD_REQUEST;
}

/* The browser's version of gw_reply_db_error: FG4xx is that status with a human sentence,
 * connection loss, full pool, serialization failure or shutdown 503, the rest 500. */
static void page_db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                          const char *back_href)
{
    if (res == NULL || err == GW_ERR_UNAVAILABLE) {
        atomic_fetch_add_explicit(&ctx->loop->m.db_unavailable, 1, memory_order_relaxed);
        page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
        return;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (state != NULL && strlen(state) == 5 && state[0] == 'F' && state[1] == 'G' &&
        state[2] == '4' && state[3] >= '0' && state[3] <= '9' && state[4] >= '0' &&
        state[4] <= '9') {
        int status = 400 + (state[3] - '0') * 10 + (state[4] - '0');
        page_error(ctx, status, db_code_msg(primary != NULL ? primary : "", status), back_href);
        return;
    }
    gw_log_error("page_db_error", "\"sqlstate\":\"%s\"", state != NULL ? state : "");
    if (state != NULL && (strncmp(state, "40", 2) == 0 || strncmp(state, "57", 2) == 0 ||
                          strncmp(state, "08", 2) == 0)) {
        page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
    } else {
        page_error(ctx, 500, GW_MSG_INTERNAL, NULL);
    }
}

/* The one JSON value a page's query returned, as a new reference; or NULL once the error
 * page has been sent (no row or NULL: 404). */
static json_t *db_json(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                       const char *back_href)
{
    if (err != GW_OK) {
        page_db_error(ctx, err, res, back_href);
        return NULL;
    }
    if (res == NULL || PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
        page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
        return NULL;
    }
    json_error_t jerr = { .line = 0 };
    json_t *v = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        gw_log_error("page_bad_json", "\"line\":%d,\"column\":%d", jerr.line, jerr.column);
        page_error(ctx, 500, GW_MSG_INTERNAL, NULL);
        return NULL;
    }
    return v;
}

/* ---- shared pieces of the payment pages ---- */

static void pg_dl_row(struct page *p, enum gw_msg label, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return;
    }
    pg_s(p, "<dt>");
    pg_m(p, label);
    pg_s(p, "</dt><dd>");
    pg_e(p, value);
    pg_s(p, "</dd>");
}

/* The deadline in Vietnam time; a value that does not parse is shown as given. */
static void pg_dl_deadline(struct page *p, const char *expires_at)
{
    char when[GW_FMT_TIME_BYTES];
    if (!gw_fmt_time_vn(expires_at, when)) {
        pg_dl_row(p, GW_MSG_DEADLINE, expires_at);
        return;
    }
    char s[GW_FMT_TIME_BYTES + 16];
    (void)snprintf(s, sizeof(s), "%s (GMT+7)", when);
    pg_dl_row(p, GW_MSG_DEADLINE, s);
}

/* The fee lines and their total. */
static void pg_items(struct page *p, const json_t *items, const json_t *fees, int64_t total)
{
    pg_s(p, "<table><thead><tr><th scope=\"col\">");
    pg_m(p, GW_MSG_FEE);
    pg_s(p, "</th><th scope=\"col\" class=\"num\">");
    pg_m(p, GW_MSG_AMOUNT);
    pg_s(p, "</th></tr></thead><tbody>");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        if (!json_is_object(it)) {
            continue;
        }
        pg_s(p, "<tr><td>");
        pg_e(p, fee_name(fees, it));
        pg_s(p, "</td><td class=\"num\">");
        pg_vnd(p, jint(it, "amount_vnd"));
        pg_s(p, "</td></tr>");
    }
    pg_s(p, "</tbody><tfoot><tr><th scope=\"row\">");
    pg_m(p, GW_MSG_TOTAL);
    pg_s(p, "</th><td class=\"num\">");
    pg_vnd(p, total);
    pg_s(p, "</td></tr></tfoot></table>");
}

static bool status_is(const char *status, const char *a, const char *b, const char *c)
{
    return strcmp(status, a) == 0 || (b != NULL && strcmp(status, b) == 0) ||
           (c != NULL && strcmp(status, c) == 0);
}

static bool status_paid(const char *status)
{
    return status_is(status, "succeeded", "partially_refunded", "refunded");
}

static bool status_open(const char *status)
{
    return status_is(status, "created", "pending", NULL);
}

/* Past its deadline? From expires_at_unix if the view has it, else from expires_at. A value
 * that cannot be read counts as not expired: the database refuses a late checkout anyway. */
static bool view_expired(const struct view *vw, time_t now)
{
    const json_t *u = vget(vw, "expires_at_unix");
    if (json_is_integer(u)) {
        return (int64_t)json_integer_value(u) <= (int64_t)now;
    }
    int64_t t = 0;
    return gw_parse_rfc3339(vstr(vw, "expires_at"), &t) && t <= (int64_t)now;
}

/* The status to show: a payment still open in the database but past its deadline is shown
 * as expired (the sweep that records it may not have run yet). */
static const char *view_status(const struct view *vw)
{
    const char *status = vstr(vw, "status");
    if (status_open(status) && view_expired(vw, time(NULL))) {
        return "expired";
    }
    return status;
}

static bool view_payable(const struct view *vw)
{
    if (!status_open(vstr(vw, "status"))) {
        return false;
    }
    const json_t *flag = vget(vw, "payable");
    if (json_is_boolean(flag) && !json_is_true(flag)) {
        return false;
    }
    return !view_expired(vw, time(NULL));
}

/* The summary card of a payment: agency, reference, payer, deadline, status, fee lines. */
static void pg_payment_card(struct page *p, const struct view *vw)
{
    const char *status = view_status(vw);
    pg_s(p, "<section class=\"card\"><dl>");
    pg_dl_row(p, GW_MSG_AGENCY, view_agency_name(vw));
    pg_dl_row(p, GW_MSG_ORDER_REF, vstr(vw, "order_ref"));
    pg_dl_row(p, GW_MSG_PAYMENT_ID, vstr(vw, "payment_id"));
    pg_dl_row(p, GW_MSG_PAYER, js(vget(vw, "payer"), "name"));
    pg_dl_deadline(p, vstr(vw, "expires_at"));
    pg_dl_row(p, GW_MSG_STATUS, gw_i18n_status(p->lang, status));
    pg_s(p, "</dl>");
    const json_t *fees = json_object_get(vw->root, "fees");
    pg_items(p, view_items(vw), fees != NULL ? fees : json_object_get(vw->root, "items"),
             jint(vw->pay, "amount_vnd"));
    pg_s(p, "</section>");
}

/* "Paid", with the receipt link once the receipt exists. */
static void pg_paid(struct page *p, const struct view *vw)
{
    pg_s(p, "<section class=\"card ok\"><p><strong>");
    pg_m(p, GW_MSG_PAID);
    pg_s(p, "</strong></p><p>");
    const char *rid = js(vget(vw, "receipt"), "id");
    if (gw_valid_receipt_id(rid)) {
        pg_f(p, "<a class=\"btn\" href=\"/receipts/%s?lang=%s\">", rid, gw_i18n_code(p->lang));
        pg_m(p, GW_MSG_VIEW_RECEIPT);
        pg_s(p, "</a>");
    } else {
        pg_m(p, GW_MSG_RECEIPT_PENDING);
    }
    pg_s(p, "</p></section>");
}

static void pg_back_to_portal(struct page *p, const struct view *vw)
{
    const char *u = safe_url(vstr(vw, "return_url"));
    if (u == NULL) {
        return;
    }
    pg_s(p, "<p><a href=\"");
    pg_e(p, u);
    pg_s(p, "\">");
    pg_m(p, GW_MSG_BACK_TO_PORTAL);
    pg_s(p, "</a></p>");
}

/* ---- GET /pay/{id} ---- */

/* The channel code and display name of one entry of "channels": "sandbox" or
 * {"code":"sandbox","name":"...","enabled":true}. False for entries to skip. */
static bool channel_entry(const json_t *e, const char **code, const char **name)
{
    if (json_is_string(e)) {
        *code = json_string_value(e);
        *name = *code;
        return true;
    }
    if (!json_is_object(e) || json_is_false(json_object_get(e, "enabled"))) {
        return false;
    }
    *code = jhas(e, "code") ? js(e, "code") : js(e, "channel");
    *name = jhas(e, "name") ? js(e, "name") : *code;
    return (*code)[0] != '\0';
}

/* Which channels the pay form may offer: those up on this loop, but the one that failed. */
struct pg_offer {
    struct gw_loop *loop;
    const char *skip;
};

/* One radio button per channel the agency offers and this gateway has configured and up
 * (not in maintenance, breaker not open: routing.c). */
static int pg_channel_options(struct page *p, const struct view *vw, const struct pg_offer *cfg)
{
    const json_t *channels = vget(vw, "channels");
    int shown = 0;
    time_t now = time(NULL);
    for (size_t i = 0; i < json_array_size(channels); i++) {
        const char *code = NULL;
        const char *name = NULL;
        const struct gw_channel_config *ch = NULL;
        if (!channel_entry(json_array_get(channels, i), &code, &name) ||
            (cfg->skip != NULL && strcmp(code, cfg->skip) == 0) ||
            (ch = gw_live_channel(cfg->loop->srv, code)) == NULL ||
            !gw_channel_up(cfg->loop, ch, now)) {
            continue;
        }
        pg_s(p, "<label class=\"opt\"><input type=\"radio\" name=\"channel\" required value=\"");
        pg_e(p, code);
        pg_s(p, shown == 0 ? "\" checked> " : "\"> ");
        pg_e(p, name);
        pg_s(p, "</label>");
        shown++;
    }
    return shown;
}

static void pg_pay_form(struct page *p, const struct view *vw, const struct pg_offer *cfg,
                        const char *id)
{
    pg_f(p, "<form class=\"card\" method=\"post\" action=\"/pay/%s?lang=%s\"><fieldset><legend>",
         id, gw_i18n_code(p->lang));
    pg_m(p, GW_MSG_CHOOSE_CHANNEL);
    pg_s(p, "</legend>");
    if (pg_channel_options(p, vw, cfg) > 0) {
        pg_s(p, "</fieldset><p><button type=\"submit\">");
        pg_m(p, GW_MSG_PAY_BUTTON);
        pg_s(p, " ");
        pg_vnd(p, jint(vw->pay, "amount_vnd"));
        pg_s(p, "</button></p></form>");
        return;
    }
    pg_s(p, "</fieldset><p>");
    pg_m(p, GW_MSG_NO_CHANNEL);
    pg_s(p, "</p></form>");
}

/* What can be done now: pay, see the receipt, or read why not. */
static void pg_checkout_action(struct page *p, const struct view *vw, const struct pg_offer *cfg,
                               const char *id)
{
    const char *status = view_status(vw);
    if (view_payable(vw)) {
        pg_pay_form(p, vw, cfg, id);
        return;
    }
    if (status_paid(status)) {
        pg_paid(p, vw);
        return;
    }
    pg_s(p, "<section class=\"card bad\"><p><strong>");
    pg_m(p, GW_MSG_NOT_PAYABLE);
    pg_s(p, "</strong> ");
    pg_e(p, gw_i18n_status(p->lang, status));
    pg_s(p, ".</p>");
    if (strcmp(status, "expired") == 0) {
        pg_s(p, "<p>");
        pg_m(p, GW_MSG_EXPIRED_NOTE);
        pg_s(p, "</p>");
    }
    pg_s(p, "</section>");
}

static void checkout_render(struct gw_ctx *ctx, const json_t *root)
{
    struct page_state *st = state_of(ctx);
    struct view vw;
    view_init(&vw, root);
    state_lang_from(st, vstr(&vw, "locale"));
    struct page p;
    page_init(&p, st->lang);
    page_begin(&p, gw_i18n(p.lang, GW_MSG_CHECKOUT_TITLE),
               lang_href(ctx, "/pay/", st->id, other_lang(p.lang)));
    pg_s(&p, "<h1>");
    pg_m(&p, GW_MSG_CHECKOUT_TITLE);
    pg_s(&p, "</h1>");
    pg_payment_card(&p, &vw);
    if (st->skip_channel != NULL) {
        pg_s(&p, "<section class=\"card bad\"><p>");
        pg_m(&p, GW_MSG_PROVIDER_ERROR);
        pg_s(&p, "</p></section>");
    }
    const struct pg_offer offer = { .loop = ctx->loop, .skip = st->skip_channel };
    pg_checkout_action(&p, &vw, &offer, st->id);
    pg_back_to_portal(&p, &vw);
    page_end(&p);
    page_send(ctx, &p, 200);
}

static void checkout_view_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    json_t *v = db_json(ctx, err, res, NULL);
    if (v == NULL) {
        return;
    }
    checkout_render(ctx, v);
    json_decref(v);
}

static void checkout_view(struct gw_ctx *ctx, const char *id)
{
    state_of(ctx)->id = id;
    ctx->params[0] = id;
    gw_ctx_query_batchable(ctx, "SELECT feegate.checkout_view($1)", 1, checkout_view_done);
}

/* ---- POST /pay/{id} ---- */

static const char *client_ip(struct gw_ctx *ctx)
{
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (ctx->cancelled || ctx->evcon == NULL) {
        return "";
    }
    evhttp_connection_get_peer(ctx->evcon, &addr, &port);
    return addr != NULL ? addr : "";
}

static void log_checkout_failure(const char *channel, const char *payment_id, enum gw_err err,
                                 const char *msg)
{
    struct gw_buf b;
    gw_buf_init(&b, 1024);
    if (gw_buf_add_json_escaped(&b, msg) != GW_OK) {
        gw_buf_reset(&b);
    }
    gw_log_warn("checkout_redirect_failed",
                "\"channel\":\"%s\",\"payment_id\":\"%s\",\"err\":\"%s\",\"msg\":\"%s\"", channel,
                payment_id, gw_err_name(err), gw_buf_str(&b));
    gw_buf_release(&b);
}

/* A create that failed: the checkout page again, with the message and the other channels. */
static void checkout_create_failed(struct gw_ctx *ctx, enum gw_err err, const char *why)
{
    struct page_state *st = state_of(ctx);
    log_checkout_failure(st->ch->ops->name, st->id, err, why);
    st->skip_channel = st->ch->ops->name;
    checkout_view(ctx, st->id);
}

/* The provider's answer to a server-side create (MoMo, ZaloPay): 303 to its pay URL. */
static void checkout_create_done(void *arg, const struct gw_provider_answer *a)
{
    struct gw_ctx *ctx = arg;
    const struct gw_adapter_created *created = &a->created;
    if (!a->answered) {
        checkout_create_failed(ctx, a->err, a->why);
        return;
    }
    if (a->err != GW_OK || !created->created || created->pay_url == NULL) {
        checkout_create_failed(ctx, a->err != GW_OK ? a->err : GW_ERR_INVALID,
                               a->err != GW_OK ? a->why
                                               : gw_arena_printf(&ctx->arena, "refused, code %s",
                                                                 created->provider_code));
        return;
    }
    if (ctx->cancelled) {
        gw_reply(ctx, 499, "text/plain", "", 0);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Referrer-Policy",
                      "strict-origin");
    gw_reply_redirect(ctx, 303, created->pay_url);
}

/* Server-side create: build, send through this loop's HTTP client, answer when it answers. */
static void checkout_create(struct gw_ctx *ctx, const struct gw_charge *charge)
{
    struct page_state *st = state_of(ctx);
    st->call = (struct gw_provider_call){ .kind = GW_CALL_CREATE,
                                          .loop = ctx->loop,
                                          .ch = st->ch,
                                          .arena = &ctx->arena,
                                          .charge = charge,
                                          .done = checkout_create_done,
                                          .arg = ctx };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = gw_provider_call(&st->call, &eb);
    if (err != GW_OK) {
        checkout_create_failed(ctx, err, eb.msg);
    }
}

static const char *new_request_id(struct gw_ctx *ctx)
{
    unsigned char rnd[16];
    char hex[33];
    if (gw_random_bytes(rnd, sizeof(rnd)) != GW_OK) {
        return NULL;
    }
    gw_hex_encode(rnd, sizeof(rnd), hex);
    return gw_arena_strdup(&ctx->arena, hex);
}

static void checkout_begin_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct page_state *st = state_of(ctx);
    const char *back = lang_href(ctx, "/pay/", st->id, st->lang);
    json_t *v = db_json(ctx, err, res, back);
    if (v == NULL) {
        return;
    }
    struct gw_charge charge = {
        .payment_id = st->id,
        .merchant_ref = js(v, "merchant_ref"),
        .amount_vnd = jint(v, "amount_vnd"),
        .order_info = js(v, "order_info"),
        /* the provider's page in the language the citizen chose, else the payment's */
        .locale = st->lang_forced || !jhas(v, "locale") ? gw_i18n_code(st->lang) : js(v, "locale"),
        .client_ip = client_ip(ctx),
        .created_at = (time_t)jint(v, "created_at_unix"),
        .expires_at = (time_t)jint(v, "expires_at_unix"),
        .request_id = new_request_id(ctx),
        .requested_at = time(NULL),
        .provider_txn_id = NULL,
    };
    if (charge.request_id == NULL) {
        json_decref(v);
        page_error(ctx, 503, GW_MSG_INTERNAL, back);
        return;
    }
    if (st->ch->ops->caps & GW_ADAPTER_CAP_CREATE) {
        checkout_create(ctx, &charge); /* copies what it needs before returning */
        json_decref(v);
        return;
    }
    char *url = NULL;
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err cerr = st->ch->ops->checkout(&st->ch->adapter, &charge, &ctx->arena, &url, &eb);
    json_decref(v); /* charge borrowed from v: not used below */
    if (cerr != GW_OK || url == NULL) {
        log_checkout_failure(st->ch->ops->name, st->id, cerr, eb.msg);
        page_error(ctx, 502, GW_MSG_PROVIDER_ERROR, back);
        return;
    }
    if (!ctx->cancelled) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Referrer-Policy",
                          "strict-origin");
    }
    gw_reply_redirect(ctx, 303, url);
}

static void checkout_begin(struct gw_ctx *ctx, const char *id)
{
    struct page_state *st = state_of(ctx);
    st->id = id;
    const char *back = lang_href(ctx, "/pay/", id, st->lang);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (gw_form_parse(&ctx->arena, ctx->body, ctx->body_len, PAGE_FORM_PAIRS_MAX, &kv, &n) !=
        GW_OK) {
        page_error(ctx, 400, GW_MSG_BAD_REQUEST, back);
        return;
    }
    const char *channel = gw_kv_get(kv, n, "channel");
    /* A copy: the configuration may be reloaded while the provider is called. */
    st->ch = channel != NULL ? gw_channel_pin(ctx->loop->srv, &ctx->arena, channel) : NULL;
    if (st->ch == NULL) {
        page_error(ctx, 422, GW_MSG_CHANNEL_NOT_ALLOWED, back);
        return;
    }
    if (!gw_channel_up(ctx->loop, st->ch, time(NULL))) {
        gw_log_info("checkout_channel_down", "\"channel\":\"%s\",\"payment_id\":\"%s\"",
                    st->ch->ops->name, id);
        st->skip_channel = st->ch->ops->name;
        checkout_view(ctx, id);
        return;
    }
    ctx->params[0] = id;
    ctx->params[1] = st->ch->ops->name;
    ctx->params[2] = ctx->loop->srv->cfg.public_url;
    gw_ctx_query_batchable(ctx, "SELECT feegate.checkout_begin($1, $2, $3)", 3,
                           checkout_begin_done);
}

/* ---- GET /return/{channel} ---- */

/* The return page's own address with a language: "lang=xx&" before the provider's query. */
static const char *return_href(struct gw_ctx *ctx, enum gw_lang lang)
{
    struct page_state *st = state_of(ctx);
    return gw_arena_printf(&ctx->arena, "/return/%s?lang=%s&%s", st->ch->ops->name,
                           gw_i18n_code(lang), st->ret_query);
}

static void pg_link_p(struct page *p, const char *href, enum gw_msg label)
{
    if (href == NULL) {
        return;
    }
    pg_s(p, "<p><a href=\"");
    pg_e(p, href);
    pg_s(p, "\">");
    pg_m(p, label);
    pg_s(p, "</a></p>");
}

/* Not final yet. The provider may say it failed (then the citizen may try again while the
 * payment is payable), but success is never announced from the browser's word. */
static void pg_return_open(struct gw_ctx *ctx, struct page *p, const struct view *vw)
{
    struct page_state *st = state_of(ctx);
    if (st->ret.outcome == GW_PAY_FAILED) {
        pg_s(p, "<section class=\"card bad\"><p>");
        pg_m(p, GW_MSG_PROVIDER_DECLINED);
        pg_s(p, "</p>");
        if (view_payable(vw)) {
            pg_link_p(p, lang_href(ctx, "/pay/", vstr(vw, "payment_id"), p->lang),
                      GW_MSG_TRY_AGAIN);
        }
        pg_s(p, "</section>");
        return;
    }
    pg_s(p, "<section class=\"card warn\" role=\"status\"><p>");
    pg_m(p, GW_MSG_CONFIRMING);
    pg_s(p, "</p>");
    const char *self = return_href(ctx, p->lang);
    if (self != NULL) {
        pg_s(p, "<p><a class=\"btn\" href=\"");
        pg_e(p, self);
        pg_s(p, "\">");
        pg_m(p, GW_MSG_REFRESH);
        pg_s(p, "</a></p>");
    }
    pg_s(p, "</section>");
}

static void pg_return_state(struct gw_ctx *ctx, struct page *p, const struct view *vw)
{
    const char *status = view_status(vw);
    if (status_paid(status)) {
        pg_paid(p, vw);
    } else if (status_open(status)) {
        pg_return_open(ctx, p, vw);
    } else {
        pg_s(p, "<section class=\"card bad\"><p><strong>");
        pg_e(p, gw_i18n_status(p->lang, status));
        pg_s(p, "</strong></p><p>");
        pg_m(p, GW_MSG_NOT_PAYABLE);
        pg_s(p, "</p></section>");
    }
}

static void return_render(struct gw_ctx *ctx, const json_t *root)
{
    struct page_state *st = state_of(ctx);
    struct view vw;
    view_init(&vw, root);
    state_lang_from(st, vstr(&vw, "locale"));
    struct page p;
    page_init(&p, st->lang);
    page_begin(&p, gw_i18n(p.lang, GW_MSG_RETURN_TITLE), return_href(ctx, other_lang(p.lang)));
    pg_s(&p, "<h1>");
    pg_m(&p, GW_MSG_RETURN_TITLE);
    pg_s(&p, "</h1>");
    pg_return_state(ctx, &p, &vw);
    pg_payment_card(&p, &vw);
    pg_back_to_portal(&p, &vw);
    page_end(&p);
    page_send(ctx, &p, 200);
}

static void return_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    json_t *v = db_json(ctx, err, res, NULL);
    if (v == NULL) {
        return;
    }
    return_render(ctx, v);
    json_decref(v);
}

static void return_view(struct gw_ctx *ctx, const char *channel)
{
    struct page_state *st = state_of(ctx);
    st->ch = gw_channel_pin(ctx->loop->srv, &ctx->arena, channel);
    if (st->ch == NULL) {
        page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
        return;
    }
    st->ret_query = strip_lang_prefix(ctx->query);
    struct gw_adapter_input in = {
        .method = "GET",
        .query = st->ret_query,
        .query_len = strlen(st->ret_query),
        .body = "",
        .body_len = 0,
    };
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = st->ch->ops->return_parse(&st->ch->adapter, &in, &ctx->arena, &st->ret, &eb);
    if (err != GW_OK || st->ret.merchant_ref[0] == '\0') {
        gw_log_info("return_unverified", "\"channel\":\"%s\",\"err\":\"%s\"", st->ch->ops->name,
                    gw_err_name(err));
        page_error(ctx, 400, GW_MSG_RETURN_UNVERIFIED, NULL);
        return;
    }
    ctx->params[0] = st->ret.merchant_ref;
    gw_ctx_query(ctx,
                 "SELECT feegate.checkout_view(a.payment_id) FROM feegate.payment_attempts a "
                 "WHERE a.merchant_ref = $1",
                 1, return_done);
}

/* ---- GET /receipts/{id} ---- */

/* Vietnamese label, with its English gloss on English pages ("Số / No."). */
static void pg_rc_label(struct page *p, const char *vi, const char *en)
{
    pg_e(p, vi);
    if (p->lang == GW_LANG_EN) {
        pg_s(p, " <span class=\"muted\" lang=\"en\">/ ");
        pg_e(p, en);
        pg_s(p, "</span>");
    }
}

static void pg_rc_row(struct page *p, const char *vi, const char *en, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return;
    }
    pg_s(p, "<dt>");
    pg_rc_label(p, vi, en);
    pg_s(p, "</dt><dd>");
    pg_e(p, value);
    pg_s(p, "</dd>");
}

/* The receipt number, 7 digits zero-padded, from a string or an integer. */
static void receipt_number(const json_t *n, char out[24])
{
    out[0] = '\0';
    if (json_is_integer(n) && json_integer_value(n) >= 0) {
        (void)snprintf(out, 24, "%07" PRId64, (int64_t)json_integer_value(n));
    } else if (json_is_string(n)) {
        const char *s = json_string_value(n);
        size_t len = strlen(s);
        int pad = len < 7 ? (int)(7 - len) : 0;
        (void)snprintf(out, 24, "%.*s%.16s", pad, "0000000", s);
    }
}

/* The agency's name, tax code or address: under "agency" or as "agency_<key>". */
static const char *receipt_agency(const json_t *v, const char *key)
{
    const json_t *agency = json_object_get(v, "agency");
    if (jhas(agency, key)) {
        return js(agency, key);
    }
    char flat[32];
    (void)snprintf(flat, sizeof(flat), "agency_%s", key);
    return js(v, flat);
}

static void pg_rc_head(struct page *p, const json_t *v)
{
    char number[24];
    receipt_number(json_object_get(v, "number"), number);
    pg_s(p, "<div class=\"rc-head\"><dl>");
    const char *name = receipt_agency(v, "name");
    pg_rc_row(p, "Đơn vị thu", "Collected by", name[0] != '\0' ? name : js(v, "agency_code"));
    pg_rc_row(p, "Mã số thuế", "Tax code", receipt_agency(v, "tax_code"));
    pg_rc_row(p, "Địa chỉ", "Address", receipt_agency(v, "address"));
    pg_s(p, "</dl><dl>");
    pg_rc_row(p, "Mẫu số", "Template", js(v, "template"));
    pg_rc_row(p, "Ký hiệu", "Series", js(v, "series"));
    pg_rc_row(p, "Số", "No.", number);
    pg_s(p, "</dl></div><h1 class=\"rc-title\">BIÊN LAI THU PHÍ, LỆ PHÍ</h1>");
    if (p->lang == GW_LANG_EN) {
        pg_s(p, "<p class=\"center muted\" lang=\"en\">Receipt for fees and charges</p>");
    }
    char date[GW_FMT_TIME_BYTES];
    if (gw_fmt_date_vn(js(v, "issued_at"), date)) {
        /* "dd/mm/yyyy" read as "Ngày dd tháng mm năm yyyy", as receipts are dated */
        pg_s(p, "<p class=\"center\">");
        pg_f(p, "Ngày %.2s tháng %.2s năm %.4s", date, date + 3, date + 6);
        pg_s(p, "</p>");
    }
}

static void pg_rc_payer(struct page *p, const json_t *v)
{
    const json_t *payer = json_object_get(v, "payer");
    pg_s(p, "<dl>");
    pg_rc_row(p, "Người nộp", "Payer", js(payer, "name"));
    pg_rc_row(p, "Số giấy tờ tùy thân", "ID number", js(payer, "id_number"));
    pg_rc_row(p, "Địa chỉ", "Address", js(payer, "address"));
    pg_rc_row(p, "Mã hồ sơ", "Application reference", js(v, "order_ref"));
    pg_rc_row(p, "Mã thanh toán", "Payment reference", js(v, "payment_id"));
    pg_rc_row(p, "Hình thức thanh toán", "Paid through", js(v, "channel"));
    pg_s(p, "</dl>");
}

/* The total: the receipt's amount_vnd, else the sum of its lines (overflow-checked). */
static int64_t receipt_total(const json_t *v, const json_t *items)
{
    if (json_is_integer(json_object_get(v, "amount_vnd"))) {
        return jint(v, "amount_vnd");
    }
    int64_t sum = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        if (!gw_vnd_add(sum, jint(json_array_get(items, i), "amount_vnd"), &sum)) {
            return 0;
        }
    }
    return sum;
}

static void pg_rc_items(struct page *p, const json_t *v)
{
    const json_t *items = json_object_get(v, "items");
    pg_s(p, "<table><thead><tr><th scope=\"col\">");
    pg_rc_label(p, "STT", "No.");
    pg_s(p, "</th><th scope=\"col\">");
    pg_rc_label(p, "Tên phí, lệ phí", "Fee or charge");
    pg_s(p, "</th><th scope=\"col\" class=\"num\">");
    pg_rc_label(p, "Số tiền", "Amount");
    pg_s(p, "</th></tr></thead><tbody>");
    size_t row = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        if (!json_is_object(it)) {
            continue;
        }
        pg_f(p, "<tr><td>%zu</td><td>", ++row);
        pg_e(p, fee_name(NULL, it));
        pg_s(p, "</td><td class=\"num\">");
        pg_vnd(p, jint(it, "amount_vnd"));
        pg_s(p, "</td></tr>");
    }
    pg_s(p, "</tbody><tfoot><tr><th scope=\"row\" colspan=\"2\">");
    pg_rc_label(p, "Tổng cộng", "Total");
    pg_s(p, "</th><td class=\"num\">");
    pg_vnd(p, receipt_total(v, items));
    pg_s(p, "</td></tr></tfoot></table>");
}

/* The foot of the receipt: the amount in words (e-receipts.md §5.4), the digital signature's
 * state, the marks (cancelled, adjusted, replaced), the correction's original, and the links
 * to the PDF, the signed XML and the public verification page. */
static void pg_rc_foot(struct page *p, const json_t *v)
{
    char words[RCP_WORDS_BYTES];
    struct gw_errbuf eb;
    int64_t total = receipt_total(v, json_object_get(v, "items"));
    if (rcp_words_vnd(total, 0, words, sizeof(words), &eb) == GW_OK) {
        pg_s(p, "<p><strong>");
        pg_rc_label(p, "Số tiền bằng chữ", "Amount in words");
        pg_s(p, ":</strong> <em>");
        pg_e(p, words);
        pg_s(p, ".</em></p>");
    }
    const json_t *orig = json_object_get(v, "original");
    if (json_is_object(orig)) {
        pg_s(p, "<p>");
        pg_rc_label(p,
                    strcmp(js(v, "kind"), "adjustment") == 0 ? "Điều chỉnh cho biên lai"
                                                             : "Thay thế biên lai",
                    "Corrects receipt");
        pg_s(p, ": ");
        pg_e(p, js(orig, "template"));
        pg_s(p, " · ");
        pg_e(p, js(orig, "series"));
        pg_s(p, " · ");
        pg_e(p, js(orig, "number"));
        pg_s(p, " — ");
        pg_e(p, js(orig, "reason"));
        pg_s(p, "</p>");
    }
    const json_t *marks = json_object_get(v, "marks");
    for (size_t i = 0; i < json_array_size(marks); i++) {
        const json_t *m = json_array_get(marks, i);
        const char *mark = js(m, "mark");
        pg_s(p, "<div class=\"card bad\"><p><strong>");
        pg_rc_label(p,
                    strcmp(mark, "cancelled") == 0  ? "Biên lai đã bị hủy"
                    : strcmp(mark, "replaced") == 0 ? "Biên lai đã được thay thế"
                                                    : "Biên lai đã được điều chỉnh",
                    mark);
        pg_s(p, "</strong> — ");
        pg_e(p, js(m, "reason"));
        if (gw_valid_receipt_id(js(m, "by_receipt_id"))) {
            pg_f(p, " <a href=\"/receipts/%s\">", js(m, "by_receipt_id"));
            pg_rc_label(p, "Xem biên lai mới", "See the new receipt");
            pg_s(p, "</a>");
        }
        pg_s(p, "</p></div>");
    }
    const json_t *doc = json_object_get(v, "document");
    pg_s(p, "<p class=\"center\"><em>");
    if (!json_is_object(doc)) {
        pg_rc_label(p, "Biên lai điện tử đang được phát hành (ký số)", "Being issued and signed");
    } else if (json_is_true(json_object_get(doc, "signed"))) {
        pg_rc_label(p, "Biên lai điện tử đã được ký số", "Digitally signed electronic receipt");
    } else {
        pg_rc_label(p, "Biên lai điện tử chưa được ký số (chưa cấu hình chứng thư số)",
                    "Electronic receipt, not signed: no signing certificate is configured");
    }
    pg_s(p, "</em></p>");
    const char *id = js(v, "id");
    if (gw_valid_receipt_id(id)) {
        pg_s(p, "<p class=\"center\">");
        if (json_is_object(doc)) {
            pg_f(p,
                 "<a class=\"btn\" href=\"/receipts/%s.pdf\">PDF</a> "
                 "<a class=\"btn\" href=\"/receipts/%s.xml\">XML</a> ",
                 id, id);
        }
        pg_f(p, "<a href=\"/verify?code=%s\">", id);
        pg_rc_label(p, "Xác minh biên lai", "Verify this receipt");
        pg_s(p, "</a></p>");
    }
}

static void receipt_render(struct gw_ctx *ctx, const json_t *v)
{
    struct page_state *st = state_of(ctx);
    struct page p;
    page_init(&p, st->lang);
    page_begin(&p, "Biên lai thu phí, lệ phí",
               lang_href(ctx, "/receipts/", st->id, other_lang(p.lang)));
    pg_s(&p, "<article class=\"receipt\">");
    pg_rc_head(&p, v);
    pg_rc_payer(&p, v);
    pg_rc_items(&p, v);
    pg_rc_foot(&p, v);
    pg_s(&p, "</article>");
    page_end(&p);
    page_send(ctx, &p, 200);
}

static void receipt_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    json_t *v = db_json(ctx, err, res, NULL);
    if (v == NULL) {
        return;
    }
    const json_t *inner = json_object_get(v, "receipt"); /* {"receipt":{...}} also accepted */
    receipt_render(ctx, json_is_object(inner) && !json_object_get(v, "number") ? inner : v);
    json_decref(v);
}

/* ---- GET /receipts/{id}.xml and .pdf ---- */

/* 404 while the signed document is being made (it follows the payment within seconds). */
static void receipt_being_issued(struct gw_ctx *ctx)
{
    struct page_state *st = state_of(ctx);
    struct page p;
    page_init(&p, st->lang);
    page_begin(&p, "Biên lai đang được phát hành", NULL);
    pg_s(&p, "<h1>");
    pg_rc_label(&p, "Biên lai đang được phát hành", "The receipt is being issued");
    pg_s(&p, "</h1><div class=\"card\"><p>");
    pg_rc_label(&p, "Biên lai đã có số và đang được ký số. Vui lòng thử lại sau ít giây.",
                "The receipt is numbered and is being signed. Please retry in a few seconds.");
    pg_f(&p, "</p><p><a href=\"/receipts/%s\">", st->id);
    pg_m(&p, GW_MSG_VIEW_RECEIPT);
    pg_s(&p, "</a></p></div>");
    page_end(&p);
    if (!ctx->cancelled) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", "2");
    }
    page_send(ctx, &p, 404);
}

static void reply_document(struct gw_ctx *ctx, const char *type, const char *ext, const void *body,
                           size_t len)
{
    if (!ctx->cancelled) {
        char disp[96];
        (void)snprintf(disp, sizeof(disp), "inline; filename=\"%s.%s\"", state_of(ctx)->id, ext);
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Content-Disposition", disp);
    }
    gw_reply(ctx, 200, type, body, len);
}

static void receipt_pdf_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_ctx *ctx = arg;
    struct gw_receipt_task *t = state_of(ctx)->task;
    event_free(t->done_ev);
    struct gw_buf pdf = t->out; /* t is in the request's arena, which the reply frees */
    if (t->err != GW_OK) {
        gw_log_error("receipt_pdf_failed", "\"err\":\"%s\"", gw_err_name(t->err));
        page_error(ctx, 500, GW_MSG_INTERNAL, NULL);
    } else {
        reply_document(ctx, "application/pdf", "pdf", pdf.data, pdf.len);
    }
    gw_buf_release(&pdf);
}

/* Hands a task to the receipt worker; the reply comes from done on this loop. */
static void submit_task(struct gw_ctx *ctx, enum gw_receipt_task_kind kind, const char *input,
                        size_t len, event_callback_fn done)
{
    struct page_state *st = state_of(ctx);
    struct gw_receipt_worker *w = ctx->loop->srv->receipts;
    struct gw_receipt_task *t = gw_arena_alloc(&ctx->arena, sizeof(*t));
    char *copy = gw_arena_strndup(&ctx->arena, input, len);
    if (t == NULL || copy == NULL || w == NULL) {
        page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
        return;
    }
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->input = copy;
    t->input_len = len;
    t->done_ev = event_new(ctx->loop->base, -1, 0, done, ctx);
    st->task = t;
    if (t->done_ev == NULL || !gw_receipt_task_submit(w, t)) {
        if (t->done_ev != NULL) {
            event_free(t->done_ev);
        }
        page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
    }
}

static void receipt_doc_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct page_state *st = state_of(ctx);
    if (err != GW_OK) {
        page_db_error(ctx, err, res, NULL);
    } else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
        page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
    } else if (PQgetisnull(res, 0, 0)) {
        receipt_being_issued(ctx);
    } else if (!st->want_pdf) {
        reply_document(ctx, "application/xml; charset=utf-8", "xml", PQgetvalue(res, 0, 0),
                       (size_t)PQgetlength(res, 0, 0));
    } else {
        submit_task(ctx, GW_RECEIPT_TASK_PDF, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
                    receipt_pdf_done);
    }
}

/* "/receipts/{id}", "/receipts/{id}.xml" (the stored signed XML) and "/receipts/{id}.pdf"
 * (rendered from that XML on the receipt worker). */
static void receipt_view(struct gw_ctx *ctx, const char *seg)
{
    struct page_state *st = state_of(ctx);
    size_t len = strlen(seg);
    bool pdf = len > 4 && strcmp(seg + len - 4, ".pdf") == 0;
    bool xml = len > 4 && strcmp(seg + len - 4, ".xml") == 0;
    const char *id = pdf || xml ? gw_arena_strndup(&ctx->arena, seg, len - 4) : seg;
    if (id == NULL || !gw_valid_receipt_id(id)) {
        page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
        return;
    }
    st->id = id;
    st->want_pdf = pdf;
    ctx->params[0] = id;
    if (pdf || xml) {
        gw_ctx_query(ctx,
                     "SELECT feegate.receipt_xml($1), "
                     "(SELECT 1 FROM feegate.receipts WHERE id = $1)",
                     1, receipt_doc_done);
    } else {
        gw_ctx_query(ctx, "SELECT feegate.receipt_view($1)", 1, receipt_done);
    }
}

/* ---- /verify: by code (GET ?code=) or by uploading the XML (POST) ---- */

static void pg_verify_forms(struct page *p)
{
    pg_s(p, "<section class=\"card\"><form method=\"get\" action=\"/verify\"><p><label>");
    pg_rc_label(p, "Mã biên lai (mã rcp_… hoặc Ký hiệu/Số, ví dụ AA-26E/0000001)",
                "Receipt code (rcp_… id, or series/number such as AA-26E/0000001)");
    pg_s(p, "<br><input name=\"code\" size=\"44\" maxlength=\"64\"></label></p><p>"
            "<button class=\"btn\" type=\"submit\">");
    pg_rc_label(p, "Tra cứu", "Look up");
    pg_s(p, "</button></p></form><form method=\"post\" action=\"/verify\" "
            "enctype=\"multipart/form-data\"><p><label>");
    pg_rc_label(p, "Hoặc tải lên tệp XML của biên lai", "Or upload the receipt's XML file");
    pg_s(p, "<br><input type=\"file\" name=\"xml\" accept=\".xml,application/xml\"></label></p>"
            "<p><button class=\"btn\" type=\"submit\">");
    pg_rc_label(p, "Kiểm tra chữ ký số", "Check the signature");
    pg_s(p, "</button></p></form></section>");
}

/* What the database knows of the receipt: its symbols, amount, signature and marks. */
static void pg_verify_known(struct page *p, const json_t *v)
{
    const json_t *doc = json_object_get(v, "document");
    pg_s(p, "<dl>");
    pg_rc_row(p, "Đơn vị thu", "Collected by", receipt_agency(v, "name"));
    pg_rc_row(p, "Mẫu số", "Template", js(v, "template"));
    pg_rc_row(p, "Ký hiệu", "Series", js(v, "series"));
    pg_rc_row(p, "Số", "No.", js(v, "number"));
    pg_rc_row(p, "Ngày lập", "Issued", js(v, "issued_at"));
    pg_s(p, "<dt>");
    pg_rc_label(p, "Tổng cộng", "Total");
    pg_s(p, "</dt><dd>");
    pg_vnd(p, jint(v, "amount_vnd"));
    pg_s(p, "</dd>");
    pg_rc_row(p, "SHA-256 của tệp XML đã phát hành", "SHA-256 of the issued XML",
              js(doc, "sha256"));
    pg_s(p, "</dl>");
    const json_t *marks = json_object_get(v, "marks");
    for (size_t i = 0; i < json_array_size(marks); i++) {
        pg_s(p, "<p class=\"bad\"><strong>");
        pg_e(p, js(json_array_get(marks, i), "mark"));
        pg_s(p, "</strong>: ");
        pg_e(p, js(json_array_get(marks, i), "reason"));
        pg_s(p, "</p>");
    }
    if (gw_valid_receipt_id(js(v, "id"))) {
        pg_f(p, "<p><a href=\"/receipts/%s\">", js(v, "id"));
        pg_m(p, GW_MSG_VIEW_RECEIPT);
        pg_s(p, "</a></p>");
    }
}

/* The verdict page. r: an uploaded document's check (or NULL for a code lookup); v: the
 * database's receipt (or NULL: none). */
static void verify_render(struct gw_ctx *ctx, const struct rcp_verify_result *r, const json_t *v,
                          const char *problem)
{
    struct page p;
    page_init(&p, state_of(ctx)->lang);
    page_begin(&p, "Xác minh biên lai", NULL);
    pg_s(&p, "<h1>");
    pg_rc_label(&p, "Xác minh biên lai", "Verify a receipt");
    pg_s(&p, "</h1>");
    bool ok = problem == NULL && (r != NULL ? r->valid : v != NULL);
    if (problem != NULL || r != NULL || state_of(ctx)->id != NULL) {
        pg_f(&p, "<section class=\"card %s\"><h2>", ok ? "good" : "bad");
        if (r != NULL) {
            pg_rc_label(&p, ok ? "HỢP LỆ: chữ ký số và nội dung khớp" : "KHÔNG HỢP LỆ",
                        ok ? "VALID: signature and content match" : "NOT VALID");
        } else {
            pg_rc_label(&p, ok ? "Biên lai có trong hệ thống" : "Không tìm thấy biên lai",
                        ok ? "The receipt exists" : "No receipt has this code");
        }
        pg_s(&p, "</h2>");
        if (problem != NULL || (r != NULL && !r->valid)) {
            pg_s(&p, "<p>");
            pg_e(&p, problem != NULL ? problem : r->reason);
            pg_s(&p, "</p>");
        }
        if (r != NULL && r->signer[0] != '\0') {
            pg_s(&p, "<p>");
            pg_rc_label(&p, "Người ký", "Signed by");
            pg_s(&p, ": ");
            pg_e(&p, r->signer);
            pg_s(&p, " (SHA-256 ");
            pg_e(&p, r->fingerprint);
            pg_s(&p, ")</p>");
        }
        if (v != NULL) {
            pg_verify_known(&p, v);
        } else if (r != NULL && r->valid) {
            pg_s(&p, "<p class=\"bad\">Biên lai này không có trong hệ thống. "
                     "This receipt is not in our records.</p>");
        }
        pg_s(&p, "</section>");
    }
    pg_verify_forms(&p);
    page_end(&p);
    page_send(ctx, &p, 200);
}

static void verify_code_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        page_db_error(ctx, err, res, NULL);
        return;
    }
    json_t *v = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)
                    ? json_loads(PQgetvalue(res, 0, 0), 0, NULL)
                    : NULL;
    struct gw_receipt_task *t = state_of(ctx)->task;
    verify_render(ctx, t != NULL ? &t->verify : NULL, json_is_object(v) ? v : NULL, NULL);
    json_decref(v);
}

static void verify_upload_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_ctx *ctx = arg;
    struct page_state *st = state_of(ctx);
    struct gw_receipt_task *t = st->task;
    event_free(t->done_ev);
    gw_buf_release(&t->out);
    if (t->err != GW_OK) {
        verify_render(ctx, NULL, NULL, t->eb.msg);
        return;
    }
    if (!t->verify.valid || !gw_valid_receipt_id(t->verify.id)) {
        verify_render(ctx, &t->verify, NULL, NULL);
        return;
    }
    ctx->params[0] = t->verify.id;
    gw_ctx_query(ctx, "SELECT feegate.receipt_view($1)", 1, verify_code_done);
}

/* The file part of a multipart/form-data body (the first part with a filename or named
 * "xml"), bounded by the body; false if there is none. */
static bool multipart_file(const char *ctype, const char *body, size_t len, const char **out,
                           size_t *out_len)
{
    const char *b = strstr(ctype, "boundary=");
    if (b == NULL) {
        return false;
    }
    b += strlen("boundary=");
    size_t blen = strcspn(b, "\"; ");
    if (*b == '"') {
        blen = strcspn(++b, "\"");
    }
    if (blen == 0 || blen > 70) {
        return false;
    }
    char delim[80];
    int dlen = snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)blen, b);
    const char *end = body + len;
    const char *part = memmem(body, len, delim + 2, (size_t)dlen - 2);
    for (int guard = 0; part != NULL && guard < PAGE_FORM_PAIRS_MAX; guard++) {
        const char *hdr = part + dlen - 2;
        const char *hend = memmem(hdr, (size_t)(end - hdr), "\r\n\r\n", 4);
        if (hend == NULL) {
            return false;
        }
        const char *content = hend + 4;
        const char *next = memmem(content, (size_t)(end - content), delim, (size_t)dlen);
        if (next == NULL) {
            return false;
        }
        size_t hlen = (size_t)(hend - hdr);
        if (memmem(hdr, hlen, "filename=", 9) != NULL || memmem(hdr, hlen, "name=\"xml\"", 10)) {
            *out = content;
            *out_len = (size_t)(next - content);
            return true;
        }
        part = next + 2;
    }
    return false;
}

static void verify_page(struct gw_ctx *ctx, bool get)
{
    struct page_state *st = state_of(ctx);
    if (get) {
        const char *code = NULL;
        struct gw_kv *kv = NULL;
        size_t n = 0;
        if (ctx->query != NULL && gw_form_parse(&ctx->arena, ctx->query, strlen(ctx->query),
                                                PAGE_FORM_PAIRS_MAX, &kv, &n) == GW_OK) {
            code = gw_kv_get(kv, n, "code");
        }
        if (code == NULL || code[0] == '\0' || strlen(code) > 64) {
            verify_render(ctx, NULL, NULL, NULL);
            return;
        }
        st->id = code;
        ctx->params[0] = code;
        gw_ctx_query(ctx, "SELECT feegate.receipt_verify($1)", 1, verify_code_done);
        return;
    }
    const char *ctype = gw_ctx_header(ctx, "Content-Type");
    const char *xml = ctx->body;
    size_t len = ctx->body_len;
    if (ctype != NULL && strncmp(ctype, "multipart/form-data", 19) == 0 &&
        !multipart_file(ctype, ctx->body, ctx->body_len, &xml, &len)) {
        verify_render(ctx, NULL, NULL, "no XML file in the upload / không có tệp XML");
        return;
    }
    if (len == 0) {
        verify_render(ctx, NULL, NULL, "empty upload / tệp rỗng");
        return;
    }
    submit_task(ctx, GW_RECEIPT_TASK_VERIFY, xml, len, verify_upload_done);
}

/* ---- GET / ---- */

static void index_page(struct gw_ctx *ctx)
{
    struct page p;
    page_init(&p, state_of(ctx)->lang);
    page_begin(&p, gw_i18n(p.lang, GW_MSG_SITE_TAGLINE),
               other_lang(p.lang) == GW_LANG_EN ? "/?lang=en" : "/?lang=vi");
    pg_s(&p, "<h1>");
    pg_m(&p, GW_MSG_SITE_TAGLINE);
    pg_s(&p, "</h1><section class=\"card\"><p>");
    pg_m(&p, GW_MSG_INDEX_INTRO);
    pg_s(&p, "</p><p>");
    pg_m(&p, GW_MSG_INDEX_CITIZEN);
    pg_s(&p, "</p><p>");
    pg_m(&p, GW_MSG_INDEX_PORTAL);
    pg_s(&p, " <code>docs/api.md</code>, <code>docs/architecture.md</code>.</p></section>");
    page_end(&p);
    page_send(ctx, &p, 200);
}

/* ---- routing ---- */

static void route_payment(struct gw_ctx *ctx, bool get, bool post)
{
    const char *id = ctx->seg[1];
    if (!get && !post) {
        page_error(ctx, 405, GW_MSG_METHOD, NULL);
    } else if (!gw_valid_payment_id(id)) {
        page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
    } else if (get) {
        checkout_view(ctx, id);
    } else {
        checkout_begin(ctx, id);
    }
}

void gw_handle_page(struct gw_ctx *ctx)
{
    struct page_state *st = gw_arena_alloc(&ctx->arena, sizeof(*st));
    if (st == NULL) {
        gw_reply(ctx, 503, "text/plain; charset=utf-8", "busy\n", 5);
        return;
    }
    ctx->state = st;
    st->lang_forced = query_lang(ctx->query, &st->lang);
    bool get = ctx->method == EVHTTP_REQ_GET;
    bool post = ctx->method == EVHTTP_REQ_POST;
    const char *first = ctx->n_seg > 0 ? ctx->seg[0] : "";
    if (ctx->n_seg == 0) {
        if (get) {
            index_page(ctx);
        } else {
            page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else if (ctx->n_seg == 2 && strcmp(first, "pay") == 0) {
        route_payment(ctx, get, post);
    } else if (ctx->n_seg == 2 && strcmp(first, "return") == 0) {
        if (get) {
            return_view(ctx, ctx->seg[1]);
        } else {
            page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else if (ctx->n_seg == 1 && strcmp(first, "verify") == 0) {
        if (get || post) {
            verify_page(ctx, get);
        } else {
            page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else if (ctx->n_seg == 2 && strcmp(first, "receipts") == 0) {
        if (get) {
            receipt_view(ctx, ctx->seg[1]);
        } else {
            page_error(ctx, 405, GW_MSG_METHOD, NULL);
        }
    } else {
        page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
    }
}
