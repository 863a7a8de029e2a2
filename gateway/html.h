/* The pages' HTML kit (html.c): a page being written, escaping, the shared frame, the
 * security headers, definition-list rows, links and the language of a request. The page
 * families (page_*.c) write with it; it knows nothing of payments or receipts. */
#ifndef GW_GATEWAY_HTML_H
#define GW_GATEWAY_HTML_H

#include <stdbool.h>
#include <stdint.h>

#include "gw_buf.h"
#include "gw_err.h"
#include "i18n.h"

struct gw_ctx;

/* A page being written. The error is sticky, so builders append freely and the page is
 * checked once before it is sent (git's strbuf habit, curl's dynbuf bound). */
struct gw_page {
    struct gw_buf b;
    enum gw_err err;
    enum gw_lang lang;
};

/* Starts an empty page in lang, bounded by the largest response. */
void gw_page_init(struct gw_page *p, enum gw_lang lang);
/* Opens the document: head, style, the site header with a link to switch_href (the same
 * page in the other language, already a safe path; NULL: no link). */
void gw_page_begin(struct gw_page *p, const char *title, const char *switch_href);
/* Closes the document with the footer. */
void gw_page_end(struct gw_page *p);
/* Sends the page with the security headers and releases it; a page that did not fit (a bug
 * or absurd data) is answered 500 instead. */
void gw_page_send(struct gw_ctx *ctx, struct gw_page *p, int status);

/* Markup (never a string from outside). */
void gw_pg_s(struct gw_page *p, const char *s);
/* Dynamic text, HTML-escaped (also safe inside a quoted attribute). */
void gw_pg_e(struct gw_page *p, const char *s);
/* Markup and numbers only: never a string that came from outside. */
void gw_pg_f(struct gw_page *p, const char *fmt, ...) GW_PRINTF(2, 3);
/* A message in the page's language, escaped. */
void gw_pg_m(struct gw_page *p, enum gw_msg m);
/* An amount, as gw_fmt_vnd writes it. */
void gw_pg_vnd(struct gw_page *p, int64_t amount_vnd);
/* <dt>label</dt><dd>value</dd>, nothing when value is NULL or empty. */
void gw_pg_dl_row(struct gw_page *p, enum gw_msg label, const char *value);
/* <p><a href>label</a></p>, nothing when href is NULL. */
void gw_pg_link_p(struct gw_page *p, const char *href, enum gw_msg label);
/* A Vietnamese label, with its English gloss on English pages ("Số / No."): the receipt
 * pages, whose legal wording is Vietnamese. */
void gw_pg_gloss(struct gw_page *p, const char *vi, const char *en);
/* gw_pg_dl_row with a glossed label. */
void gw_pg_gloss_row(struct gw_page *p, const char *vi, const char *en, const char *value);

/* An http(s) URL, or NULL: anything else (javascript:, data:) is never put in an href. */
const char *gw_page_safe_url(const char *u);

/* ?lang=vi or ?lang=en anywhere in the query q (NULL: none); false when absent. */
bool gw_page_query_lang(const char *q, enum gw_lang *out);
/* A lang= pair in q whose value we do not offer (lang=fr): the page answers 400. */
bool gw_page_query_lang_unknown(const char *q);
/* The first offered language of an Accept-Language header (NULL: none); else Vietnamese. */
enum gw_lang gw_page_accept_lang(const char *h);
/* The query without a leading "lang=xx&" (the return page's switch), never NULL. */
const char *gw_page_strip_lang(const char *q);
enum gw_lang gw_page_other_lang(enum gw_lang l);

#endif
