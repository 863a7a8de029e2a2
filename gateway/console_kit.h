/* The finance console's kit, private to gateway/console_*.c: what a console request keeps
 * (struct con_state), the words for codes, the request helpers, the page frame, the error
 * pages and the database answers read as JSON. */
#ifndef GW_GATEWAY_CONSOLE_KIT_H
#define GW_GATEWAY_CONSOLE_KIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "gw_crypto.h"
#include "gw_err.h"
#include "html.h"

struct gw_ctx;

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

/* Words for codes, never the codes themselves on screen. The first CON_CATEGORIES_N are the
 * reconciliation categories, in the order the queue's filter offers them. */
struct con_word {
    const char *code, *vi, *en;
};

#define CON_CATEGORIES_N 7
extern const struct con_word con_words[];
extern const size_t con_words_n;

/* The text in the page's language: vi and en are one text in its two languages, in the order
 * every bilingual text of the gateway takes. */
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a text's two languages, vi then en */
const char *con_tr(enum gw_lang l, const char *vi, const char *en);
const char *con_word(enum gw_lang l, const char *code);
/* The value of cookie name, copied into the arena, or NULL. */
const char *con_cookie_value(struct gw_ctx *ctx, const char *name);
bool con_is_hex64(const char *s);
bool con_is_id(const char *s);
/* A field of the url-encoded form body (or of the query when from_query), in the arena;
 * NULL when absent or longer than CON_FIELD_MAX. */
const char *con_form_field(struct gw_ctx *ctx, const char *key, bool from_query);
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): name then value */
void con_set_cookie(struct gw_ctx *ctx, const char *name, const char *value, int max_age_s);
void con_no_store(struct gw_ctx *ctx);
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): title then switch path */
void con_page_open(struct gw_ctx *ctx, struct gw_page *p, const char *title,
                   const char *switch_path, bool nav);
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): message then field id */
void con_error_summary(struct gw_page *p, const char *msg, const char *field);
void con_csrf_field(struct gw_page *p, const struct con_state *st);
/* An error page: status, the problem in a summary, a link to the days. */
void con_error_page(struct gw_ctx *ctx, int status, const char *msg);
/* A database refusal in words; FG401 (no live session) sends the member to sign in. */
void con_db_error(struct gw_ctx *ctx, enum gw_err err, const PGresult *res);
/* The JSON object of a console query's one text value, or NULL once an answer is sent. */
json_t *con_db_json(struct gw_ctx *ctx, enum gw_err err, const PGresult *res);
const char *con_jstr(const json_t *o, const char *k);
long long con_jint(const json_t *o, const char *k);
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): vi then en */
void con_row(struct gw_page *p, const char *vi, const char *en, const char *value);
/* NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a label's two languages, vi then en */
void con_vnd_row(struct gw_page *p, const char *vi, const char *en, const json_t *v);

#endif
