/* The pages' HTML kit: a page buffer whose error is sticky (builders append freely and the
 * page is checked once before it is sent), escaping, the frame every page shares (head,
 * style, header with the language switch, footer), the security headers, and the language
 * of a request. Plain HTML with a little inline CSS, no JavaScript. */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/http.h>

#include "gw_limits.h"
#include "gw_log.h"
#include "gw_money.h"
#include "request.h"

#include "banned.h"

void gw_pg_s(struct gw_page *p, const char *s)
{
    if (p->err == GW_OK) {
        p->err = gw_buf_adds(&p->b, s != NULL ? s : "");
    }
}

/* Dynamic text, HTML-escaped (also safe inside a quoted attribute). */
void gw_pg_e(struct gw_page *p, const char *s)
{
    if (p->err == GW_OK) {
        p->err = gw_buf_add_html_escaped(&p->b, s != NULL ? s : "");
    }
}

/* Markup and numbers only: never a string that came from outside. */
void gw_pg_f(struct gw_page *p, const char *fmt, ...)
{
    if (p->err != GW_OK) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    p->err = gw_buf_vprintf(&p->b, fmt, ap);
    va_end(ap);
}

void gw_pg_m(struct gw_page *p, enum gw_msg m)
{
    gw_pg_e(p, gw_i18n(p->lang, m));
}

void gw_pg_vnd(struct gw_page *p, int64_t amount_vnd)
{
    char s[GW_FMT_VND_BYTES];
    gw_fmt_vnd(amount_vnd, s);
    gw_pg_e(p, s);
}

/* An http(s) URL, or NULL: anything else (javascript:, data:) is never put in an href. */
const char *gw_page_safe_url(const char *u)
{
    if (u != NULL && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0)) {
        return u;
    }
    return NULL;
}

/* ?lang=vi or ?lang=en anywhere in the query; the raw pair, so no decoding is needed. */
bool gw_page_query_lang(const char *q, enum gw_lang *out)
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

/* A "lang=" pair whose value is neither vi nor en. */
bool gw_page_query_lang_unknown(const char *q)
{
    for (const char *p = q; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t n = amp != NULL ? (size_t)(amp - p) : strlen(p);
        if (n >= 5 && strncmp(p, "lang=", 5) == 0 &&
            !(n == 7 && (strncmp(p, "lang=vi", 7) == 0 || strncmp(p, "lang=en", 7) == 0))) {
            return true;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return false;
}

/* The first language of Accept-Language we offer ("en-GB,en;q=0.8" is English); Vietnamese
 * when none is, or no header. Quality values are not weighed: browsers list by preference. */
enum gw_lang gw_page_accept_lang(const char *h)
{
    for (const char *p = h; p != NULL && *p != '\0';) {
        p += strspn(p, " \t,");
        if ((p[0] == 'v' || p[0] == 'V') && (p[1] == 'i' || p[1] == 'I') &&
            (p[2] == '\0' || p[2] == '-' || p[2] == ';' || p[2] == ',' || p[2] == ' ')) {
            return GW_LANG_VI;
        }
        if ((p[0] == 'e' || p[0] == 'E') && (p[1] == 'n' || p[1] == 'N') &&
            (p[2] == '\0' || p[2] == '-' || p[2] == ';' || p[2] == ',' || p[2] == ' ')) {
            return GW_LANG_EN;
        }
        p = strchr(p, ',');
    }
    return GW_LANG_VI;
}

/* The return page's query is the provider's, signed byte for byte; our language switch is
 * a "lang=xx&" prefix that is taken off before the adapter sees the rest. */
const char *gw_page_strip_lang(const char *q)
{
    if (q != NULL && (strncmp(q, "lang=vi&", 8) == 0 || strncmp(q, "lang=en&", 8) == 0)) {
        return q + 8;
    }
    return q != NULL ? q : "";
}

enum gw_lang gw_page_other_lang(enum gw_lang l)
{
    return l == GW_LANG_EN ? GW_LANG_VI : GW_LANG_EN;
}

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
    ".status{font-size:1.1rem;margin:0 0 1rem;padding:0.5rem 0.75rem;background:#fff;"
    "border-left:6px solid #0b3a6e}.st-ok{border-color:#0a7d32}.st-bad{border-color:#b42318}"
    ".error-summary{border:4px solid #b42318;background:#fff;padding:1rem;margin:1rem 0}"
    ".error-summary h2{font-size:1.2rem;margin:0 0 0.5rem}.error-summary a{color:#b42318;"
    "font-weight:700}.field-error{color:#b42318;font-weight:700;margin:0.25rem 0}"
    ".has-error fieldset,.has-error .field{border-left:4px solid #b42318;padding-left:0.75rem}"
    ".vh{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0)}"
    "input[type=text],input[type=file]{font:inherit;max-width:100%;width:100%;padding:0.5rem;"
    "border:2px solid #1b1b1b;border-radius:0}.hint{color:#4a4a4a;margin:0.25rem 0}"
    "details{margin:0.75rem 0}summary{cursor:pointer;color:#0b3a6e;text-decoration:underline}"
    ".hash{font-family:monospace;word-break:break-all}"
    "@media (max-width:34rem){dl{grid-template-columns:1fr;gap:0}dd{margin-bottom:0.5rem}"
    "header .in{flex-wrap:wrap}}"
    ".scroll{overflow-x:auto;max-width:100%}"
    ".form label{display:block;font-weight:700;margin:0.75rem 0 0.25rem}"
    ".form input,.form select,.form textarea{font:inherit;width:100%;max-width:24rem;"
    "padding:0.5rem;border:2px solid #1b1b1b;border-radius:0}"
    ".form input[type=checkbox]{width:auto;margin:0 0.5rem}.form button{margin-top:1rem}"
    "nav ul{list-style:none;padding:0;margin:0.5rem 0;display:flex;flex-wrap:wrap;gap:0.5rem 1rem}"
    ".inline{display:inline;margin:0}.linkbtn{background:none;color:#0b3a6e;padding:0;"
    "font-weight:400;text-decoration:underline}"
    "@media print{header,footer,.noprint{display:none}body{background:#fff}"
    ".receipt{border:0}}";

/* Opens the document; switch_href is where the other language is (already a safe path). */
void gw_page_begin(struct gw_page *p, const char *title, const char *switch_href)
{
    gw_pg_f(p, "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\">",
            gw_i18n_code(p->lang));
    gw_pg_s(p, "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
               "<meta name=\"robots\" content=\"noindex\"><title>");
    gw_pg_e(p, title);
    gw_pg_s(p, " – ");
    gw_pg_m(p, GW_MSG_SITE_NAME);
    gw_pg_s(p, "</title><style>");
    gw_pg_s(p, page_css);
    gw_pg_s(p, "</style></head><body><header><div class=\"in\"><span class=\"site\">");
    gw_pg_m(p, GW_MSG_SITE_NAME);
    gw_pg_s(p, "</span>");
    if (switch_href != NULL) {
        gw_pg_f(p, "<a href=\"");
        gw_pg_e(p, switch_href);
        gw_pg_f(p, "\" lang=\"%s\" hreflang=\"%s\">", gw_i18n_code(gw_page_other_lang(p->lang)),
                gw_i18n_code(gw_page_other_lang(p->lang)));
        gw_pg_m(p, GW_MSG_SWITCH_LANG);
        gw_pg_s(p, "</a>");
    }
    gw_pg_s(p, "</div></header><main>");
}

void gw_page_end(struct gw_page *p)
{
    gw_pg_s(p, "</main><footer><p>feegate · ");
    gw_pg_m(p, GW_MSG_SITE_TAGLINE);
    gw_pg_s(p, "</p></footer></body></html>\n");
}

void gw_page_init(struct gw_page *p, enum gw_lang lang)
{
    gw_buf_init(&p->b, GW_HTTP_RESPONSE_BYTES_MAX);
    p->err = GW_OK;
    p->lang = lang;
}

/* Sends the page and releases it. A page that did not fit is a bug or absurd data: 500. */
void gw_page_send(struct gw_ctx *ctx, struct gw_page *p, int status)
{
    /* Its security headers are every answer's (request.c). */
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

void gw_pg_dl_row(struct gw_page *p, enum gw_msg label, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return;
    }
    gw_pg_s(p, "<dt>");
    gw_pg_m(p, label);
    gw_pg_s(p, "</dt><dd>");
    gw_pg_e(p, value);
    gw_pg_s(p, "</dd>");
}

void gw_pg_link_p(struct gw_page *p, const char *href, enum gw_msg label)
{
    if (href == NULL) {
        return;
    }
    gw_pg_s(p, "<p><a href=\"");
    gw_pg_e(p, href);
    gw_pg_s(p, "\">");
    gw_pg_m(p, label);
    gw_pg_s(p, "</a></p>");
}

/* Vietnamese label, with its English gloss on English pages ("Số / No."). */
void gw_pg_gloss(struct gw_page *p, const char *vi, const char *en)
{
    gw_pg_e(p, vi);
    if (p->lang == GW_LANG_EN) {
        gw_pg_s(p, " <span class=\"muted\" lang=\"en\">/ ");
        gw_pg_e(p, en);
        gw_pg_s(p, "</span>");
    }
}

void gw_pg_gloss_row(struct gw_page *p, const char *vi, const char *en, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return;
    }
    gw_pg_s(p, "<dt>");
    gw_pg_gloss(p, vi, en);
    gw_pg_s(p, "</dt><dd>");
    gw_pg_e(p, value);
    gw_pg_s(p, "</dd>");
}
