/* A payment as the checkout and return pages show it: the database's checkout_view answer
 * read leniently (anything missing shows as empty, never trusted to be there), its status
 * as the citizen should see it, and the pieces both pages draw (summary card with the fee
 * lines, "paid" with the receipt link, back to the portal). */
#include "page_view.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_time.h"
#include "request.h"
#include "routing.h"
#include "validate.h"

#include "banned.h"

const char *gw_json_str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

bool gw_json_has(const json_t *o, const char *key)
{
    return gw_json_str(o, key)[0] != '\0';
}

int64_t gw_json_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

void gw_view_init(struct gw_pay_view *vw, const json_t *root)
{
    vw->root = root;
    const json_t *pay = json_object_get(root, "payment");
    vw->pay = json_is_object(pay) ? pay : root;
}

const json_t *gw_view_get(const struct gw_pay_view *vw, const char *key)
{
    const json_t *v = json_object_get(vw->pay, key);
    return v != NULL && !json_is_null(v) ? v : json_object_get(vw->root, key);
}

const char *gw_view_str(const struct gw_pay_view *vw, const char *key)
{
    const json_t *v = gw_view_get(vw, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The fee lines: checkout_view puts them, with their names, beside the payment (whose own
 * items carry only codes); a bare payment object is read too. */
static const json_t *view_items(const struct gw_pay_view *vw)
{
    const json_t *items = json_object_get(vw->root, "items");
    return json_is_array(items) ? items : json_object_get(vw->pay, "items");
}

static const char *view_agency_name(const struct gw_pay_view *vw)
{
    const json_t *agency = gw_view_get(vw, "agency");
    if (gw_json_has(agency, "name")) {
        return gw_json_str(agency, "name");
    }
    if (gw_view_str(vw, "agency_name")[0] != '\0') {
        return gw_view_str(vw, "agency_name");
    }
    return gw_view_str(vw, "agency_code");
}

/* A fee line's name: on the item, or in a "fees" map or list beside it, else its code. */
static const char *fee_name(const json_t *fees, const json_t *item)
{
    const char *code = gw_json_str(item, "fee_code");
    if (gw_json_has(item, "name")) {
        return gw_json_str(item, "name");
    }
    if (gw_json_has(item, "fee_name")) {
        return gw_json_str(item, "fee_name");
    }
    const json_t *f = json_is_object(fees) ? json_object_get(fees, code) : NULL;
    if (json_is_string(f)) {
        return json_string_value(f);
    }
    if (gw_json_has(f, "name")) {
        return gw_json_str(f, "name");
    }
    for (size_t i = 0; i < json_array_size(fees); i++) {
        const json_t *e = json_array_get(fees, i);
        if (code[0] != '\0' && strcmp(gw_json_str(e, "fee_code"), code) == 0 &&
            gw_json_has(e, "name")) {
            return gw_json_str(e, "name");
        }
    }
    return code;
}

/* The deadline as people write it, in Vietnam time; a value that does not parse is shown as
 * given. */
static void pg_dl_deadline(struct gw_page *p, const char *expires_at)
{
    char when[GW_FMT_WHEN_BYTES];
    if (!gw_fmt_when(p->lang, expires_at, true, when)) {
        gw_pg_dl_row(p, GW_MSG_DEADLINE, expires_at);
        return;
    }
    char s[GW_FMT_WHEN_BYTES + 32];
    (void)snprintf(s, sizeof(s), "%s (%s)", when, gw_i18n(p->lang, GW_MSG_VIETNAM_TIME));
    gw_pg_dl_row(p, GW_MSG_DEADLINE, s);
}

/* The fee lines and their total. */
static void pg_items(struct gw_page *p, const json_t *items, const json_t *fees, int64_t total)
{
    gw_pg_s(p, "<table><thead><tr><th scope=\"col\">");
    gw_pg_m(p, GW_MSG_FEE);
    gw_pg_s(p, "</th><th scope=\"col\" class=\"num\">");
    gw_pg_m(p, GW_MSG_AMOUNT);
    gw_pg_s(p, "</th></tr></thead><tbody>");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        if (!json_is_object(it)) {
            continue;
        }
        gw_pg_s(p, "<tr><td>");
        gw_pg_e(p, fee_name(fees, it));
        gw_pg_s(p, "</td><td class=\"num\">");
        gw_pg_vnd(p, gw_json_int(it, "amount_vnd"));
        gw_pg_s(p, "</td></tr>");
    }
    gw_pg_s(p, "</tbody><tfoot><tr><th scope=\"row\">");
    gw_pg_m(p, GW_MSG_TOTAL);
    gw_pg_s(p, "</th><td class=\"num\">");
    gw_pg_vnd(p, total);
    gw_pg_s(p, "</td></tr></tfoot></table>");
}

static bool status_is(const char *status, const char *a, const char *b, const char *c)
{
    return strcmp(status, a) == 0 || (b != NULL && strcmp(status, b) == 0) ||
           (c != NULL && strcmp(status, c) == 0);
}

bool gw_status_paid(const char *status)
{
    return status_is(status, "succeeded", "partially_refunded", "refunded");
}

bool gw_status_open(const char *status)
{
    return status_is(status, "created", "pending", NULL);
}

/* Past its deadline? From expires_at_unix if the view has it, else from expires_at. A value
 * that cannot be read counts as not expired: the database refuses a late checkout anyway. */
static bool view_expired(const struct gw_pay_view *vw, time_t now)
{
    const json_t *u = gw_view_get(vw, "expires_at_unix");
    if (json_is_integer(u)) {
        return (int64_t)json_integer_value(u) <= (int64_t)now;
    }
    int64_t t = 0;
    return gw_parse_rfc3339(gw_view_str(vw, "expires_at"), &t) && t <= (int64_t)now;
}

/* The status to show: a payment still open in the database but past its deadline is shown
 * as expired (the sweep that records it may not have run yet). */
const char *gw_view_status(const struct gw_pay_view *vw)
{
    const char *status = gw_view_str(vw, "status");
    if (gw_status_open(status) && view_expired(vw, time(NULL))) {
        return "expired";
    }
    return status;
}

bool gw_view_payable(const struct gw_pay_view *vw)
{
    if (!gw_status_open(gw_view_str(vw, "status"))) {
        return false;
    }
    const json_t *flag = gw_view_get(vw, "payable");
    if (json_is_boolean(flag) && !json_is_true(flag)) {
        return false;
    }
    return !view_expired(vw, time(NULL));
}

/* The summary card of a payment: agency, reference, payer, deadline, fee lines. */
void gw_pg_payment_card(struct gw_page *p, const struct gw_pay_view *vw)
{
    gw_pg_s(p, "<section class=\"card\"><dl>");
    gw_pg_dl_row(p, GW_MSG_AGENCY, view_agency_name(vw));
    gw_pg_dl_row(p, GW_MSG_ORDER_REF, gw_view_str(vw, "order_ref"));
    gw_pg_dl_row(p, GW_MSG_PAYMENT_ID, gw_view_str(vw, "payment_id"));
    gw_pg_dl_row(p, GW_MSG_PAYER, gw_json_str(gw_view_get(vw, "payer"), "name"));
    pg_dl_deadline(p, gw_view_str(vw, "expires_at"));
    gw_pg_s(p, "</dl>");
    const json_t *fees = json_object_get(vw->root, "fees");
    pg_items(p, view_items(vw), fees != NULL ? fees : json_object_get(vw->root, "items"),
             gw_json_int(vw->pay, "amount_vnd"));
    gw_pg_s(p, "</section>");
}

/* "Paid", with the receipt link once the receipt exists. */
void gw_pg_paid(struct gw_page *p, const struct gw_pay_view *vw)
{
    gw_pg_s(p, "<section class=\"card ok\"><p><strong>");
    gw_pg_m(p, GW_MSG_PAID);
    gw_pg_s(p, "</strong></p><p>");
    const char *rid = gw_json_str(gw_view_get(vw, "receipt"), "id");
    if (gw_valid_receipt_id(rid)) {
        gw_pg_f(p, "<a class=\"btn\" href=\"/receipts/%s?lang=%s\">", rid, gw_i18n_code(p->lang));
        gw_pg_m(p, GW_MSG_VIEW_RECEIPT);
        gw_pg_s(p, "</a>");
    } else {
        gw_pg_m(p, GW_MSG_RECEIPT_PENDING);
    }
    gw_pg_s(p, "</p></section>");
}

void gw_pg_back_to_portal(struct gw_page *p, const struct gw_pay_view *vw)
{
    const char *u = gw_page_safe_url(gw_view_str(vw, "return_url"));
    if (u == NULL) {
        return;
    }
    gw_pg_s(p, "<p><a href=\"");
    gw_pg_e(p, u);
    gw_pg_s(p, "\">");
    gw_pg_m(p, GW_MSG_BACK_TO_PORTAL);
    gw_pg_s(p, "</a></p>");
}

/* ---- the state of a payment: heading, status line, attempts ---- */

/* The latest attempt (checkout_view's "attempts", newest first), or NULL. */
static const json_t *view_attempt(const struct gw_pay_view *vw, size_t i)
{
    const json_t *a = json_array_get(gw_view_get(vw, "attempts"), i);
    return json_is_object(a) ? a : NULL;
}

static const char *attempt_bank(const json_t *a)
{
    return gw_json_has(a, "name") ? gw_json_str(a, "name") : gw_json_str(a, "channel");
}

bool gw_view_declined(const struct gw_pay_view *vw)
{
    const json_t *a = view_attempt(vw, 0);
    return a != NULL && strcmp(gw_json_str(a, "state"), "declined") == 0;
}

/* The newest attempt still in progress, or NULL. */
static const json_t *view_in_progress(const struct gw_pay_view *vw)
{
    for (size_t i = 0; i < json_array_size(gw_view_get(vw, "attempts")); i++) {
        const json_t *a = view_attempt(vw, i);
        if (a != NULL && strcmp(gw_json_str(a, "state"), "in_progress") == 0) {
            return a;
        }
    }
    return NULL;
}

bool gw_view_in_progress(const struct gw_pay_view *vw)
{
    return view_in_progress(vw) != NULL;
}

enum gw_msg gw_view_heading(const struct gw_pay_view *vw, bool declined)
{
    const char *status = gw_view_status(vw);
    if (gw_status_paid(status)) {
        return GW_MSG_H_PAID;
    }
    if (strcmp(status, "expired") == 0) {
        return GW_MSG_H_EXPIRED;
    }
    if (strcmp(status, "cancelled") == 0) {
        return GW_MSG_H_CANCELLED;
    }
    if (gw_view_payable(vw) && (declined || gw_view_declined(vw))) {
        return GW_MSG_H_DECLINED;
    }
    if (gw_view_payable(vw) && gw_view_in_progress(vw)) {
        return GW_MSG_H_IN_PROGRESS;
    }
    return GW_MSG_CHECKOUT_TITLE;
}

void gw_pg_heading(struct gw_page *p, enum gw_msg heading)
{
    gw_pg_s(p, "<h1>");
    gw_pg_m(p, heading);
    gw_pg_s(p, "</h1>");
}

void gw_pg_status_line(struct gw_page *p, const struct gw_pay_view *vw)
{
    const char *status = gw_view_status(vw);
    gw_pg_f(p, "<p class=\"status %s\" role=\"status\">",
            gw_status_paid(status)   ? "st-ok"
            : gw_status_open(status) ? "st-open"
                                     : "st-bad");
    gw_pg_m(p, GW_MSG_STATUS);
    gw_pg_s(p, ": <strong>");
    gw_pg_e(p, gw_i18n_status(p->lang, status));
    gw_pg_s(p, "</strong></p>");
}

/* "<sentence> <strong>bank</strong> (started 16:33 on ...)." */
static void pg_attempt_sentence(struct gw_page *p, enum gw_msg lead, const json_t *a)
{
    gw_pg_m(p, lead);
    gw_pg_s(p, " <strong>");
    gw_pg_e(p, attempt_bank(a));
    gw_pg_s(p, "</strong>");
    char when[GW_FMT_WHEN_BYTES];
    if (gw_fmt_when(p->lang, gw_json_str(a, "started_at"), true, when)) {
        gw_pg_s(p, " (");
        gw_pg_m(p, GW_MSG_STARTED);
        gw_pg_s(p, " ");
        gw_pg_e(p, when);
        gw_pg_s(p, ")");
    }
    gw_pg_s(p, ".");
}

void gw_pg_attempts(struct gw_page *p, const struct gw_pay_view *vw, bool declined_by_return)
{
    if (!gw_view_payable(vw)) {
        return;
    }
    const json_t *latest = view_attempt(vw, 0);
    if (latest != NULL && (declined_by_return || gw_view_declined(vw))) {
        gw_pg_s(p, "<section class=\"card bad\"><p>");
        pg_attempt_sentence(p, GW_MSG_DECLINED_AT, latest);
        gw_pg_s(p, "</p><p>");
        gw_pg_m(p, GW_MSG_DECLINED_WHAT);
        gw_pg_s(p, "</p></section>");
    }
    const json_t *open = view_in_progress(vw);
    if (open != NULL && !(declined_by_return && open == latest)) {
        gw_pg_s(p, "<section class=\"card warn\"><p><strong>");
        pg_attempt_sentence(p, GW_MSG_ATTEMPT_AT, open);
        gw_pg_s(p, "</strong></p><p>");
        gw_pg_m(p, GW_MSG_ATTEMPT_WAIT);
        gw_pg_s(p, "</p><p>");
        gw_pg_m(p, GW_MSG_ATTEMPT_AGAIN);
        gw_pg_s(p, "</p></section>");
    }
}

/* ---- the pay form ---- */

/* The channel code and display name of one entry of "channels": "sandbox" or
 * {"code":"sandbox","name":"...","enabled":true}. False for entries to skip. */
struct channel_entry {
    const char *code;
    const char *name;
};

static bool channel_entry(const json_t *e, struct channel_entry *out)
{
    if (json_is_string(e)) {
        out->code = json_string_value(e);
        out->name = out->code;
        return true;
    }
    if (!json_is_object(e) || json_is_false(json_object_get(e, "enabled"))) {
        return false;
    }
    out->code = gw_json_has(e, "code") ? gw_json_str(e, "code") : gw_json_str(e, "channel");
    out->name = gw_json_has(e, "name") ? gw_json_str(e, "name") : out->code;
    return out->code[0] != '\0';
}

/* One radio button per channel the agency offers and this gateway has configured and up
 * (not in maintenance, breaker not open: routing.c); none chosen in advance. */
static int pg_channel_options(struct gw_page *p, const struct gw_pay_view *vw,
                              const struct gw_pay_offer *offer)
{
    const json_t *channels = gw_view_get(vw, "channels");
    int shown = 0;
    time_t now = time(NULL);
    for (size_t i = 0; i < json_array_size(channels); i++) {
        struct channel_entry e = { .code = NULL, .name = NULL };
        const struct gw_channel_config *ch = NULL;
        if (!channel_entry(json_array_get(channels, i), &e) ||
            (offer->skip != NULL && strcmp(e.code, offer->skip) == 0) ||
            (ch = gw_live_channel(offer->loop->srv, e.code)) == NULL ||
            !gw_channel_up(offer->loop, ch, now)) {
            continue;
        }
        gw_pg_f(p,
                "<label class=\"opt\"><input type=\"radio\" name=\"channel\" id=\"channel-%d\" "
                "value=\"",
                shown);
        gw_pg_e(p, e.code);
        gw_pg_s(p, "\"> ");
        gw_pg_e(p, e.name);
        gw_pg_s(p, "</label>");
        shown++;
    }
    return shown;
}

void gw_pg_error_summary(struct gw_page *p, enum gw_msg msg, const char *field_id)
{
    gw_pg_s(p,
            "<div class=\"error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\" "
            "tabindex=\"-1\"><h2 id=\"error-summary-title\">");
    gw_pg_m(p, GW_MSG_ERROR_SUMMARY);
    gw_pg_s(p, "</h2><ul><li><a href=\"#");
    gw_pg_e(p, field_id);
    gw_pg_s(p, "\">");
    gw_pg_m(p, msg);
    gw_pg_s(p, "</a></li></ul></div>");
}

void gw_pg_field_error(struct gw_page *p, enum gw_msg msg, const char *id)
{
    gw_pg_s(p, "<p class=\"field-error\" id=\"");
    gw_pg_e(p, id);
    gw_pg_s(p, "\"><span class=\"vh\">");
    gw_pg_m(p, GW_MSG_ERROR_PREFIX);
    gw_pg_s(p, " </span>");
    gw_pg_m(p, msg);
    gw_pg_s(p, "</p>");
}

void gw_pg_pay_form(struct gw_page *p, const struct gw_pay_view *vw,
                    const struct gw_pay_offer *offer)
{
    /* autocomplete off: the Back button must not bring back a choice made before */
    gw_pg_f(p,
            "<form class=\"card%s\" method=\"post\" novalidate autocomplete=\"off\" action=\"/pay/",
            offer->missing_choice ? " has-error" : "");
    gw_pg_e(p, gw_view_str(vw, "payment_id"));
    gw_pg_f(p, "?lang=%s\"><fieldset%s><legend>", gw_i18n_code(p->lang),
            offer->missing_choice ? " aria-describedby=\"channel-error\"" : "");
    gw_pg_m(p, GW_MSG_CHOOSE_CHANNEL);
    gw_pg_s(p, "</legend>");
    if (offer->missing_choice) {
        gw_pg_field_error(p, GW_MSG_ERR_CHOOSE_CHANNEL, "channel-error");
    }
    if (pg_channel_options(p, vw, offer) > 0) {
        gw_pg_s(p, "</fieldset><p><button type=\"submit\">");
        gw_pg_m(p, GW_MSG_PAY_BUTTON);
        gw_pg_s(p, " ");
        gw_pg_vnd(p, gw_json_int(vw->pay, "amount_vnd"));
        gw_pg_s(p, "</button></p></form>");
        return;
    }
    gw_pg_s(p, "</fieldset><p>");
    gw_pg_m(p, GW_MSG_NO_CHANNEL);
    gw_pg_s(p, "</p></form>");
}

/* What a payment that cannot be paid any more says, under its heading. */
void gw_pg_closed(struct gw_page *p, const struct gw_pay_view *vw)
{
    const char *status = gw_view_status(vw);
    gw_pg_s(p, "<section class=\"card bad\"><p>");
    if (strcmp(status, "expired") == 0) {
        gw_pg_m(p, GW_MSG_EXPIRED_NOTE);
    } else if (strcmp(status, "cancelled") == 0) {
        gw_pg_m(p, GW_MSG_CANCELLED_NOTE);
    } else {
        gw_pg_m(p, GW_MSG_NOT_PAYABLE);
    }
    gw_pg_s(p, "</p></section>");
}
