/* Validation of portal request bodies: the shape and every field of a create-payment
 * request, checked before anything reaches the database. Pure functions over jansson
 * values; unit-tested in tests/unit/gateway. */
#ifndef GW_GATEWAY_VALIDATE_H
#define GW_GATEWAY_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

/* What a validation failure answers: HTTP status (400 for shape, 422 for values), a
 * snake_case code and a message naming the field. */
struct gw_verdict {
    int status;
    char code[48];
    char message[256];
};

/* Checks a create-payment request. On success returns true and *normalized is a new
 * reference to the canonical request (defaults filled in) for the database. */
bool gw_validate_create(json_t *req, json_t **normalized, struct gw_verdict *v);

/* Idempotency-Key: 1-255 of [A-Za-z0-9_-]. */
bool gw_valid_idem_key(const char *key);
/* Payment ids as the database makes them: "pay_" and 32 lowercase hex. */
bool gw_valid_payment_id(const char *id);
/* Receipt ids: "rcp_" and 32 lowercase hex. */
bool gw_valid_receipt_id(const char *id);
/* Webhook event ids: "evt_" and 32 lowercase hex. */
bool gw_valid_event_id(const char *id);
/* RFC 3339 date-time with seconds and a zone: 2026-11-25T16:33:00+07:00 or ...Z (fraction
 * of seconds allowed). */
bool gw_valid_rfc3339(const char *s);
/* Portal order references: 1-64 of [A-Za-z0-9._:/-]. */
bool gw_valid_order_ref(const char *s);

#endif
