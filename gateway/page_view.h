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

/* The summary card of a payment: agency, reference, payer, deadline, fee lines. */
void gw_pg_payment_card(struct gw_page *p, const struct gw_pay_view *vw);
/* "Paid", with the receipt link once the receipt exists. */
void gw_pg_paid(struct gw_page *p, const struct gw_pay_view *vw);
/* A link back to the portal's return_url, when it is an http(s) URL. */
void gw_pg_back_to_portal(struct gw_page *p, const struct gw_pay_view *vw);

/* The latest attempt was declined (checkout_view's "attempts"). */
bool gw_view_declined(const struct gw_pay_view *vw);
/* Some attempt is still in progress (not declined). */
bool gw_view_in_progress(const struct gw_pay_view *vw);
/* The heading of a payment's page: what happened and what to do (expired, cancelled, paid,
 * declined: the latest attempt was, or the provider's return said so, and in progress),
 * else "Pay a public fee". */
enum gw_msg gw_view_heading(const struct gw_pay_view *vw, bool declined);
void gw_pg_heading(struct gw_page *p, enum gw_msg heading);
/* "Status: <strong>Paid</strong>", at the top of the page. */
void gw_pg_status_line(struct gw_page *p, const struct gw_pay_view *vw);
/* While the payment is payable: the latest attempt's decline (at which bank, try again or
 * choose another) when it was declined or declined_by_return; an attempt in progress (at
 * which bank; paying again starts a new attempt, and if both succeed the second is refunded
 * automatically). */
void gw_pg_attempts(struct gw_page *p, const struct gw_pay_view *vw, bool declined_by_return);
/* Why a payment that is no longer open cannot be paid, and what to do. */
void gw_pg_closed(struct gw_page *p, const struct gw_pay_view *vw);

struct gw_loop;

/* Which channels the pay form offers: those up on this loop, but skip (the one that just
 * failed, or NULL); missing_choice: the form came back without a choice (its error). */
struct gw_pay_offer {
    struct gw_loop *loop;
    const char *skip;
    bool missing_choice;
};

/* The pay form: one radio button per channel (none chosen in advance), the pay button. */
void gw_pg_pay_form(struct gw_page *p, const struct gw_pay_view *vw,
                    const struct gw_pay_offer *offer);
/* The GOV.UK error summary at the top of a page: its title and msg linked to #field_id. */
void gw_pg_error_summary(struct gw_page *p, enum gw_msg msg, const char *field_id);
/* The message beside the field, "Error: msg", with the given id (for aria-describedby). */
void gw_pg_field_error(struct gw_page *p, enum gw_msg msg, const char *id);

#endif
