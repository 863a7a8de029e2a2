/* What the page families share beyond HTML: the request's page state, its language, error
 * pages (the browser's version of the API's errors), a page query's answer, and handing a
 * task to the receipt worker. */
#include "page_common.h"

#include <stdio.h>
#include <string.h>

#include "gw_log.h"
#include "receipt_worker.h"
#include "request.h"

#include "banned.h"

/* The payment's locale unless the citizen chose with ?lang=. */
void gw_page_lang_from(struct gw_page_state *st, const char *locale)
{
    if (!st->lang_forced && !gw_i18n_lang_of(locale, &st->lang)) {
        st->lang = GW_LANG_VI;
    }
}

/* An arena path with ?lang=, or NULL when out of memory (then no link is drawn). */
const char *gw_page_lang_href(struct gw_ctx *ctx, const char *prefix, const char *id,
                              enum gw_lang lang)
{
    return gw_arena_printf(&ctx->arena, "%s%s?lang=%s", prefix, id, gw_i18n_code(lang));
}

const char *gw_page_title(struct gw_ctx *ctx, enum gw_lang lang, enum gw_msg heading, bool error)
{
    const char *h = gw_i18n(lang, heading);
    if (!error) {
        return h;
    }
    const char *t = gw_arena_printf(&ctx->arena, "%s %s", gw_i18n(lang, GW_MSG_ERROR_PREFIX), h);
    return t != NULL ? t : h;
}

/* The heading of an error page: what happened, by status. */
static enum gw_msg error_heading(int status)
{
    if (status == 404) {
        return GW_MSG_NOT_FOUND_PAGE;
    }
    if (status == 429) {
        return GW_MSG_TOO_MANY_TITLE;
    }
    if (status >= 500) {
        return GW_MSG_SERVER_ERROR_TITLE;
    }
    return GW_MSG_ERROR_TITLE;
}

/* An error page: status, a sentence, and optionally a link (href NULL: none); a link home. */
void gw_page_error_link(struct gw_ctx *ctx, int status, enum gw_msg msg, const char *href,
                        enum gw_msg label)
{
    struct gw_page p;
    gw_page_init(&p, gw_page_state_of(ctx)->lang);
    enum gw_msg heading = error_heading(status);
    gw_page_begin(&p, gw_i18n(p.lang, heading), NULL);
    gw_pg_s(&p, "<h1>");
    gw_pg_m(&p, heading);
    gw_pg_s(&p, "</h1><div class=\"card bad\"><p>");
    gw_pg_m(&p, msg);
    gw_pg_f(&p, "</p><p class=\"muted\">HTTP %d</p>", status);
    if (href != NULL) {
        gw_pg_s(&p, "<p><a href=\"");
        gw_pg_e(&p, href);
        gw_pg_s(&p, "\">");
        gw_pg_m(&p, label);
        gw_pg_s(&p, "</a></p>");
    }
    gw_pg_link_p(&p, p.lang == GW_LANG_EN ? "/?lang=en" : "/", GW_MSG_GO_HOME);
    gw_pg_s(&p, "</div>");
    gw_page_end(&p);
    gw_page_send(ctx, &p, status);
}

/* An error page, with a link back to the payment page when back_href is not NULL. */
void gw_page_error(struct gw_ctx *ctx, int status, enum gw_msg msg, const char *back_href)
{
    gw_page_error_link(ctx, status, msg, back_href, GW_MSG_BACK_TO_PAYMENT);
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
void gw_page_db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                      const char *back_href)
{
    if (res == NULL || err == GW_ERR_UNAVAILABLE) {
        atomic_fetch_add_explicit(&ctx->loop->m.db_unavailable, 1, memory_order_relaxed);
        gw_page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
        return;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (state != NULL && strlen(state) == 5 && state[0] == 'F' && state[1] == 'G' &&
        state[2] == '4' && state[3] >= '0' && state[3] <= '9' && state[4] >= '0' &&
        state[4] <= '9') {
        int status = 400 + (state[3] - '0') * 10 + (state[4] - '0');
        gw_page_error(ctx, status, db_code_msg(primary != NULL ? primary : "", status), back_href);
        return;
    }
    gw_log_error("page_db_error", "\"sqlstate\":\"%s\"", state != NULL ? state : "");
    if (state != NULL && (strncmp(state, "40", 2) == 0 || strncmp(state, "57", 2) == 0 ||
                          strncmp(state, "08", 2) == 0)) {
        gw_page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
    } else {
        gw_page_error(ctx, 500, GW_MSG_INTERNAL, NULL);
    }
}

/* The one value a page's query returned, as text; or NULL once the error page has been sent
 * (no row or NULL: 404). */
const char *gw_page_db_text(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                            const char *back_href)
{
    if (err != GW_OK) {
        gw_page_db_error(ctx, err, res, back_href);
        return NULL;
    }
    if (res == NULL || PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
        gw_page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
        return NULL;
    }
    return PQgetvalue(res, 0, 0);
}

json_t *gw_page_db_json(struct gw_ctx *ctx, enum gw_err err, const PGresult *res,
                        const char *back_href)
{
    const char *text = gw_page_db_text(ctx, err, res, back_href);
    if (text == NULL) {
        return NULL;
    }
    json_error_t jerr = { .line = 0 };
    json_t *v = json_loads(text, 0, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        gw_log_error("page_bad_json", "\"line\":%d,\"column\":%d", jerr.line, jerr.column);
        gw_page_error(ctx, 500, GW_MSG_INTERNAL, NULL);
        return NULL;
    }
    return v;
}

/* Hands a task to the receipt worker; the reply comes from done on this loop. */
void gw_page_submit_task(struct gw_ctx *ctx, enum gw_receipt_task_kind kind, const char *input,
                         size_t len, event_callback_fn done)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    struct gw_receipt_worker *w = ctx->loop->srv->receipts;
    struct gw_receipt_task *t = gw_arena_alloc(&ctx->arena, sizeof(*t));
    char *copy = gw_arena_strndup(&ctx->arena, input, len);
    if (t == NULL || copy == NULL || w == NULL) {
        gw_page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
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
        gw_page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
    }
}

struct gw_page_state *gw_page_state_of(struct gw_ctx *ctx)
{
    return ctx->state;
}
