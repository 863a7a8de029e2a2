/* A payment as the checkout and return pages show it (page_view.c). */
#ifndef GW_GATEWAY_PAGE_VIEW_H
#define GW_GATEWAY_PAGE_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "html.h"

/* JSON from the database: absent, null or mistyped values read as empty ("", false, 0). */
const char *gw_json_str(const json_t *o, const char *key);
bool gw_json_has(const json_t *o, const char *key); /* a non-empty string */
int64_t gw_json_int(const json_t *o, const char *key);

/* A view is a checkout_view answer: the payment's keys either at the top level or under
 * "payment", with the page's extras (agency name, fee names, channels) beside them. */
struct gw_pay_view {
    const json_t *root;
    const json_t *pay;
};

void gw_view_init(struct gw_pay_view *vw, const json_t *root);
/* A key of the payment, else of the page's extras; NULL when neither has it. */
const json_t *gw_view_get(const struct gw_pay_view *vw, const char *key);
const char *gw_view_str(const struct gw_pay_view *vw, const char *key);
/* The status to show: an open payment past its deadline shows as "expired". */
const char *gw_view_status(const struct gw_pay_view *vw);
/* Open, not refused by the database and not past its deadline. */
bool gw_view_payable(const struct gw_pay_view *vw);
bool gw_status_paid(const char *status); /* succeeded, partially_refunded, refunded */
bool gw_status_open(const char *status); /* created, pending */

/* The summary card of a payment: agency, reference, payer, deadline, status, fee lines. */
void gw_pg_payment_card(struct gw_page *p, const struct gw_pay_view *vw);
/* "Paid", with the receipt link once the receipt exists. */
void gw_pg_paid(struct gw_page *p, const struct gw_pay_view *vw);
/* A link back to the portal's return_url, when it is an http(s) URL. */
void gw_pg_back_to_portal(struct gw_page *p, const struct gw_pay_view *vw);

#endif
