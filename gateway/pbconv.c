/* Protobuf bodies of the portal API: the database speaks JSON, so outgoing messages are
 * built from the JSON it returned and incoming CreatePaymentRequests are turned into the
 * JSON request that gateway/validate.c checks. protobuf-c checks the wire format only;
 * everything else is validated once, on the JSON, for both encodings. */
#include "pbconv.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "feegate.pb-c.h"
#include "gw_assert.h"

#include "banned.h"

/* protobuf-c declares string fields char * but pack and get_packed_size only read them, so
 * the strings of the JSON tree are lent to the message for the time of the packing instead
 * of being copied. The integer round trip keeps -Wcast-qual quiet about exactly this. */
static char *pb_lend(const char *s)
{
    return (char *)(uintptr_t)s; /* NOLINT(performance-no-int-to-ptr): see above */
}

/* Sets *dst to the string at obj[key]; absent, null or not a string leaves the default (""),
 * which proto3 does not put on the wire. */
static void pb_set_str(char **dst, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        *dst = pb_lend(json_string_value(v));
    }
}

static int64_t pb_int(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static Feegate__V1__Payer *pb_payer(struct gw_arena *a, const json_t *j)
{
    if (!json_is_object(j)) {
        return NULL;
    }
    Feegate__V1__Payer *m = gw_arena_alloc(a, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    feegate__v1__payer__init(m);
    pb_set_str(&m->name, j, "name");
    pb_set_str(&m->id_number, j, "id_number");
    pb_set_str(&m->email, j, "email");
    pb_set_str(&m->phone, j, "phone");
    return m;
}

/* The items array; entries that are not objects are skipped. */
static enum gw_err pb_items(struct gw_arena *a, const json_t *j, Feegate__V1__Item ***out,
                            size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    size_t n = json_array_size(j); /* 0 when j is not an array */
    if (n == 0) {
        return GW_OK;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    Feegate__V1__Item **items = gw_arena_alloc(a, n * sizeof(*items));
    if (items == NULL) {
        return GW_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(j, i);
        if (!json_is_object(it)) {
            continue;
        }
        Feegate__V1__Item *m = gw_arena_alloc(a, sizeof(*m));
        if (m == NULL) {
            return GW_ERR_NOMEM;
        }
        feegate__v1__item__init(m);
        pb_set_str(&m->fee_code, it, "fee_code");
        m->amount_vnd = pb_int(it, "amount_vnd");
        items[k++] = m;
    }
    *out = items;
    *n_out = k;
    return GW_OK;
}

/* The receipt; its number is a zero-padded string, but an integer is accepted too. */
static enum gw_err pb_receipt(struct gw_arena *a, const json_t *j, Feegate__V1__Receipt **out)
{
    *out = NULL;
    if (!json_is_object(j)) {
        return GW_OK;
    }
    Feegate__V1__Receipt *m = gw_arena_alloc(a, sizeof(*m));
    if (m == NULL) {
        return GW_ERR_NOMEM;
    }
    feegate__v1__receipt__init(m);
    pb_set_str(&m->id, j, "id");
    pb_set_str(&m->template_, j, "template");
    pb_set_str(&m->series, j, "series");
    pb_set_str(&m->number, j, "number");
    pb_set_str(&m->url, j, "url");
    const json_t *num = json_object_get(j, "number");
    if (json_is_integer(num)) {
        m->number = gw_arena_printf(a, "%07" PRId64, (int64_t)json_integer_value(num));
        if (m->number == NULL) {
            return GW_ERR_NOMEM;
        }
    }
    *out = m;
    return GW_OK;
}

/* The payment's overpayments (payments paid twice), in order; non-objects are skipped. */
static enum gw_err pb_overpayments(struct gw_arena *a, const json_t *j, Feegate__V1__Payment *p)
{
    size_t n = json_array_size(j); /* 0 when j is not an array */
    if (n == 0) {
        return GW_OK;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    Feegate__V1__Overpayment **out = gw_arena_alloc(a, n * sizeof(*out));
    if (out == NULL) {
        return GW_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(j, i);
        if (!json_is_object(o)) {
            continue;
        }
        Feegate__V1__Overpayment *m = gw_arena_alloc(a, sizeof(*m));
        if (m == NULL) {
            return GW_ERR_NOMEM;
        }
        feegate__v1__overpayment__init(m);
        pb_set_str(&m->overpayment_id, o, "overpayment_id");
        pb_set_str(&m->merchant_ref, o, "merchant_ref");
        pb_set_str(&m->channel, o, "channel");
        m->amount_vnd = pb_int(o, "amount_vnd");
        pb_set_str(&m->provider_txn_id, o, "provider_txn_id");
        pb_set_str(&m->paid_at, o, "paid_at");
        pb_set_str(&m->state, o, "state");
        pb_set_str(&m->refund_id, o, "refund_id");
        pb_set_str(&m->transfer_ref, o, "transfer_ref");
        pb_set_str(&m->created_at, o, "created_at");
        pb_set_str(&m->updated_at, o, "updated_at");
        out[k++] = m;
    }
    p->overpayments = out;
    p->n_overpayments = k;
    return GW_OK;
}

static enum gw_err pb_payment_fill(struct gw_arena *a, const json_t *j, Feegate__V1__Payment *m)
{
    feegate__v1__payment__init(m);
    pb_set_str(&m->payment_id, j, "payment_id");
    pb_set_str(&m->order_ref, j, "order_ref");
    pb_set_str(&m->agency_code, j, "agency_code");
    pb_set_str(&m->status, j, "status");
    m->late = json_is_true(json_object_get(j, "late"));
    m->amount_vnd = pb_int(j, "amount_vnd");
    pb_set_str(&m->channel, j, "channel");
    pb_set_str(&m->merchant_ref, j, "merchant_ref");
    pb_set_str(&m->provider_txn_id, j, "provider_txn_id");
    pb_set_str(&m->created_at, j, "created_at");
    pb_set_str(&m->expires_at, j, "expires_at");
    pb_set_str(&m->paid_at, j, "paid_at");
    m->refunded_vnd = pb_int(j, "refunded_vnd");
    pb_set_str(&m->checkout_url, j, "checkout_url");
    pb_set_str(&m->return_url, j, "return_url");
    pb_set_str(&m->locale, j, "locale");
    const json_t *payer = json_object_get(j, "payer");
    m->payer = pb_payer(a, payer);
    if (json_is_object(payer) && m->payer == NULL) {
        return GW_ERR_NOMEM;
    }
    enum gw_err err = pb_items(a, json_object_get(j, "items"), &m->items, &m->n_items);
    if (err == GW_OK) {
        err = pb_overpayments(a, json_object_get(j, "overpayments"), m);
    }
    if (err != GW_OK) {
        return err;
    }
    return pb_receipt(a, json_object_get(j, "receipt"), &m->receipt);
}

static enum gw_err pb_payment_new(struct gw_arena *a, const json_t *j, Feegate__V1__Payment **out)
{
    *out = NULL;
    if (!json_is_object(j)) {
        return GW_OK;
    }
    Feegate__V1__Payment *m = gw_arena_alloc(a, sizeof(*m));
    if (m == NULL) {
        return GW_ERR_NOMEM;
    }
    *out = m;
    return pb_payment_fill(a, j, m);
}

/* Packs msg into arena memory. */
static enum gw_err pb_pack(struct gw_arena *a, const ProtobufCMessage *msg, void **bytes,
                           size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = gw_arena_alloc(a, n > 0 ? n : 1);
    if (buf == NULL) {
        return GW_ERR_NOMEM;
    }
    size_t packed = protobuf_c_message_pack(msg, buf);
    GW_ASSERT(packed == n);
    *bytes = buf;
    *len = packed;
    return GW_OK;
}

static enum gw_err pb_pack_list(struct gw_arena *a, const json_t *root, void **bytes, size_t *len)
{
    Feegate__V1__PaymentList m;
    feegate__v1__payment_list__init(&m);
    const json_t *arr = json_object_get(root, "payments");
    size_t n = json_array_size(arr);
    if (n > 0) {
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        m.payments = gw_arena_alloc(a, n * sizeof(*m.payments));
        if (m.payments == NULL) {
            return GW_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        Feegate__V1__Payment *p = NULL;
        enum gw_err err = pb_payment_new(a, json_array_get(arr, i), &p);
        if (err != GW_OK) {
            return err;
        }
        if (p != NULL) {
            m.payments[m.n_payments++] = p;
        }
    }
    return pb_pack(a, &m.base, bytes, len);
}

static enum gw_err pb_pack_webhook(struct gw_arena *a, const json_t *root, void **bytes,
                                   size_t *len)
{
    Feegate__V1__WebhookEvent m;
    feegate__v1__webhook_event__init(&m);
    pb_set_str(&m.event_id, root, "event_id");
    pb_set_str(&m.type, root, "type");
    pb_set_str(&m.created_at, root, "created_at");
    enum gw_err err = pb_payment_new(a, json_object_get(root, "payment"), &m.payment);
    if (err != GW_OK) {
        return err;
    }
    return pb_pack(a, &m.base, bytes, len);
}

static enum gw_err pb_pack_error(struct gw_arena *a, const char *code, const char *message,
                                 void **bytes, size_t *len)
{
    Feegate__V1__Error e;
    feegate__v1__error__init(&e);
    e.code = pb_lend(code != NULL ? code : "");
    e.message = pb_lend(message != NULL ? message : "");
    Feegate__V1__ErrorResponse m;
    feegate__v1__error_response__init(&m);
    m.error = &e;
    return pb_pack(a, &m.base, bytes, len);
}

/* The message of that kind for a parsed JSON object. A body of the form {"error":{...}}
 * (an idempotent replay of a refusal, for instance) is an ErrorResponse whatever the kind:
 * a client that asked for protobuf must still be able to read why. */
static enum gw_err pb_pack_kind(struct gw_arena *a, enum gw_pb_kind kind, const json_t *root,
                                void **bytes, size_t *len)
{
    const json_t *error = json_object_get(root, "error");
    if (json_is_object(error)) {
        return pb_pack_error(a, json_string_value(json_object_get(error, "code")),
                             json_string_value(json_object_get(error, "message")), bytes, len);
    }
    switch (kind) {
    case GW_PB_PAYMENT: {
        Feegate__V1__Payment m;
        enum gw_err err = pb_payment_fill(a, root, &m);
        return err != GW_OK ? err : pb_pack(a, &m.base, bytes, len);
    }
    case GW_PB_PAYMENT_LIST:
        return pb_pack_list(a, root, bytes, len);
    case GW_PB_WEBHOOK:
        return pb_pack_webhook(a, root, bytes, len);
    }
    return GW_ERR_INVALID;
}

enum gw_err gw_pb_from_json(struct gw_arena *a, enum gw_pb_kind kind, const char *json,
                            void **bytes, size_t *len)
{
    GW_ASSERT(a != NULL);
    GW_ASSERT(bytes != NULL && len != NULL);
    *bytes = NULL;
    *len = 0;
    if (json == NULL) {
        return GW_ERR_INVALID;
    }
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    if (root == NULL) {
        return GW_ERR_INVALID;
    }
    enum gw_err err = GW_ERR_INVALID;
    if (json_is_object(root)) {
        err = pb_pack_kind(a, kind, root, bytes, len); /* borrows from root: decref after */
    }
    json_decref(root);
    return err;
}

enum gw_err gw_pb_error(struct gw_arena *a, const char *code, const char *message, void **bytes,
                        size_t *len)
{
    GW_ASSERT(a != NULL);
    GW_ASSERT(bytes != NULL && len != NULL);
    *bytes = NULL;
    *len = 0;
    return pb_pack_error(a, code, message, bytes, len);
}

/* ---- CreatePaymentRequest -> JSON ---- */

/* Sets obj[key] = s unless s is empty (proto3 cannot tell empty from unset). False when
 * jansson refuses the string (it is not valid UTF-8) or memory runs out. */
static bool js_set_str(json_t *obj, const char *key, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return true;
    }
    json_t *v = json_string(s);
    return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static bool js_set_int(json_t *obj, const char *key, int64_t n)
{
    json_t *v = json_integer((json_int_t)n);
    return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static bool js_payer(json_t *req, const Feegate__V1__Payer *p)
{
    if (p == NULL) {
        return true; /* left out: validation answers "payer is required" */
    }
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(req, "payer", o) != 0) {
        return false;
    }
    return js_set_str(o, "name", p->name) && js_set_str(o, "id_number", p->id_number) &&
           js_set_str(o, "email", p->email) && js_set_str(o, "phone", p->phone);
}

/* Items are always an array (an empty one is then refused by validation as 0 fee lines);
 * amounts are always present, so a zero is refused as an amount, not as a missing field. */
static bool js_items(json_t *req, const Feegate__V1__CreatePaymentRequest *m)
{
    json_t *arr = json_array();
    if (arr == NULL || json_object_set_new(req, "items", arr) != 0) {
        return false;
    }
    for (size_t i = 0; i < m->n_items; i++) {
        const Feegate__V1__Item *it = m->items[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            return false;
        }
        if (!js_set_str(o, "fee_code", it->fee_code) ||
            !js_set_int(o, "amount_vnd", it->amount_vnd)) {
            return false;
        }
    }
    return true;
}

static bool js_create(json_t *req, const Feegate__V1__CreatePaymentRequest *m)
{
    if (!js_set_str(req, "order_ref", m->order_ref) ||
        !js_set_str(req, "agency_code", m->agency_code) || !js_payer(req, m->payer) ||
        !js_items(req, m) || !js_set_int(req, "amount_vnd", m->amount_vnd) ||
        !js_set_str(req, "return_url", m->return_url) || !js_set_str(req, "locale", m->locale)) {
        return false;
    }
    if (m->expires_in_s != 0 && !js_set_int(req, "expires_in_s", m->expires_in_s)) {
        return false;
    }
    return true;
}

enum gw_err gw_pb_create_to_json(const void *bytes, size_t len, json_t **out)
{
    GW_ASSERT(out != NULL);
    *out = NULL;
    if (bytes == NULL && len > 0) {
        return GW_ERR_INVALID;
    }
    Feegate__V1__CreatePaymentRequest *m =
        feegate__v1__create_payment_request__unpack(NULL, len, bytes);
    if (m == NULL) {
        return GW_ERR_INVALID;
    }
    json_t *req = json_object();
    bool ok = req != NULL && js_create(req, m);
    feegate__v1__create_payment_request__free_unpacked(m, NULL);
    if (!ok) {
        json_decref(req);
        return GW_ERR_INVALID;
    }
    *out = req;
    return GW_OK;
}
