/* The page families' common ground (page_common.c): the state a page request keeps between
 * its handler and its callbacks, error pages, page query answers, receipt worker tasks. */
#ifndef GW_GATEWAY_PAGE_COMMON_H
#define GW_GATEWAY_PAGE_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "adapter.h"
#include "html.h"
#include "provider.h"
#include "receipt_worker.h"

struct gw_ctx;
struct gw_channel_config;

#define GW_PAGE_FORM_PAIRS_MAX 8

/* What a page request remembers between its handler and its callbacks (ctx->state). */
struct gw_page_state {
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
    bool missing_choice; /* checkout: the form came without a channel (its error summary) */
    bool conflict;       /* checkout: the payment was no longer payable (FG409): page is 409 */
};

struct gw_page_state *gw_page_state_of(struct gw_ctx *ctx);

/* The payment's locale unless the citizen chose with ?lang=. */
void gw_page_lang_from(struct gw_page_state *st, const char *locale);
/* An arena path "prefix id?lang=xx", or NULL when out of memory (then no link is drawn). */
const char *gw_page_lang_href(struct gw_ctx *ctx, const char *prefix, const char *id,
                              enum gw_lang lang);

/* A page's <title>: the heading's words, "Error: " before them when the page shows an error
 * summary (arena; the heading alone when out of memory). */
const char *gw_page_title(struct gw_ctx *ctx, enum gw_lang lang, enum gw_msg heading, bool error);

/* An error page: status, a sentence, and optionally a link (href NULL: none). */
void gw_page_error_link(struct gw_ctx *ctx, int status, enum gw_msg msg, const char *href,
                        enum gw_msg label);
/* An error page, with a link back to the payment page when back_href is not NULL. */
void gw_page_error(struct gw_ctx *ctx, int status, enum gw_msg msg, const char *back_href);
/* The browser's version of gw_reply_db_error: FG4xx is that status with a human sentence,
 * connection loss, full pool, serialization failure or shutdown 503, the rest 500. */
void gw_page_db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                      const char *back_href);
/* The one value a page's query returned, as text valid as long as res; or NULL once the
 * error page has been sent (no row or NULL: 404). */
const char *gw_page_db_text(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                            const char *back_href);
/* The same, parsed as a JSON object (a new reference); not an object: 500. */
json_t *gw_page_db_json(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                        const char *back_href);

/* Hands a task to the receipt worker (input copied into the request's arena); done runs
 * on this loop when the worker is finished. A full queue or no worker: 503 page. */
void gw_page_submit_task(struct gw_ctx *ctx, enum gw_receipt_task_kind kind, const char *input,
                         size_t len, event_callback_fn done);

#endif
