/* Protobuf bodies of the portal API (proto/feegate.proto), converted to and from the JSON
 * the database speaks, so both encodings share one validation and one stored answer. */
#ifndef GW_GATEWAY_PBCONV_H
#define GW_GATEWAY_PBCONV_H

#include <jansson.h>
#include <stddef.h>

#include "gw_arena.h"
#include "gw_err.h"

#define GW_PB_CONTENT_TYPE "application/x-protobuf"

enum gw_pb_kind {
    GW_PB_PAYMENT,      /* feegate.v1.Payment from a payment object */
    GW_PB_PAYMENT_LIST, /* feegate.v1.PaymentList from {"payments":[...]} */
    GW_PB_WEBHOOK,      /* feegate.v1.WebhookEvent from a webhook body */
};

/* Encodes the JSON text as the protobuf message of that kind; bytes live in the arena. */
enum gw_err gw_pb_from_json(struct gw_arena *a, enum gw_pb_kind kind, const char *json,
                            void **bytes, size_t *len) GW_MUST_CHECK;
/* Encodes an ErrorResponse. */
enum gw_err gw_pb_error(struct gw_arena *a, const char *code, const char *message, void **bytes,
                        size_t *len) GW_MUST_CHECK;
/* Decodes a CreatePaymentRequest into the equivalent JSON request (unset optional fields
 * are left out, so validation treats both encodings alike). *out is a new reference. */
enum gw_err gw_pb_create_to_json(const void *bytes, size_t len, json_t **out) GW_MUST_CHECK;

#endif
