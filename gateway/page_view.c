/* A payment as the checkout and return pages show it: the database's checkout_view answer
 * read leniently (anything missing shows as empty, never trusted to be there), its status
 * as the citizen should see it, and the pieces both pages draw (summary card with the fee
 * lines, "paid" with the receipt link, back to the portal). */
#include "page_view.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_time.h"
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

/* The deadline in Vietnam time; a value that does not parse is shown as given. */
static void pg_dl_deadline(struct gw_page *p, const char *expires_at)
{
    char when[GW_FMT_TIME_BYTES];
    if (!gw_fmt_time_vn(expires_at, when)) {
        gw_pg_dl_row(p, GW_MSG_DEADLINE, expires_at);
        return;
    }
    char s[GW_FMT_TIME_BYTES + 16];
    (void)snprintf(s, sizeof(s), "%s (GMT+7)", when);
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

/* The summary card of a payment: agency, reference, payer, deadline, status, fee lines. */
void gw_pg_payment_card(struct gw_page *p, const struct gw_pay_view *vw)
{
    const char *status = gw_view_status(vw);
    gw_pg_s(p, "<section class=\"card\"><dl>");
    gw_pg_dl_row(p, GW_MSG_AGENCY, view_agency_name(vw));
    gw_pg_dl_row(p, GW_MSG_ORDER_REF, gw_view_str(vw, "order_ref"));
    gw_pg_dl_row(p, GW_MSG_PAYMENT_ID, gw_view_str(vw, "payment_id"));
    gw_pg_dl_row(p, GW_MSG_PAYER, gw_json_str(gw_view_get(vw, "payer"), "name"));
    pg_dl_deadline(p, gw_view_str(vw, "expires_at"));
    gw_pg_dl_row(p, GW_MSG_STATUS, gw_i18n_status(p->lang, status));
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
