/* Create-payment request validation. */
#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gw_limits.h"
#include "gw_money.h"

#include "banned.h"

static bool fail(struct gw_verdict *v, int status, const char *code, const char *fmt, ...)
    GW_PRINTF(4, 5);

static bool fail(struct gw_verdict *v, int status, const char *code, const char *fmt, ...)
{
    v->status = status;
    (void)snprintf(v->code, sizeof(v->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
    return false;
}

static bool all_of(const char *s, size_t lo, size_t hi, const char *extra)
{
    size_t n = strlen(s);
    if (n < lo || n > hi) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr(extra, c) != NULL);
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool gw_valid_idem_key(const char *key)
{
    return all_of(key, 1, GW_IDEM_KEY_BYTES_MAX, "_-");
}

static bool valid_prefixed_hex(const char *id, const char *prefix)
{
    if (strlen(id) != 36 || strncmp(id, prefix, 4) != 0) {
        return false;
    }
    for (const char *p = id + 4; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return false;
        }
    }
    return true;
}

bool gw_valid_payment_id(const char *id)
{
    return valid_prefixed_hex(id, "pay_");
}

bool gw_valid_receipt_id(const char *id)
{
    return valid_prefixed_hex(id, "rcp_");
}

bool gw_valid_event_id(const char *id)
{
    return valid_prefixed_hex(id, "evt_");
}

/* Checks s against a pattern where 'd' is a digit and every other byte must match. */
static bool shape(const char *s, const char *pattern)
{
    for (; *pattern != '\0'; s++, pattern++) {
        if (*pattern == 'd' ? !(*s >= '0' && *s <= '9') : *s != *pattern) {
            return false;
        }
    }
    return true;
}

bool gw_valid_rfc3339(const char *s)
{
    if (strlen(s) < 20 || strlen(s) > 35 || !shape(s, "dddd-dd-ddTdd:dd:dd")) {
        return false;
    }
    const char *z = s + 19;
    if (*z == '.') {
        z++;
        size_t n = strspn(z, "0123456789");
        if (n == 0 || n > 9) {
            return false;
        }
        z += n;
    }
    if (z[0] == 'Z' && z[1] == '\0') {
        return true;
    }
    return (z[0] == '+' || z[0] == '-') && shape(z + 1, "dd:dd") && z[6] == '\0';
}

bool gw_valid_order_ref(const char *s)
{
    return all_of(s, 1, GW_ORDER_REF_BYTES_MAX, "._:/-");
}

/* Rejects any key of obj that is not in allowed (NULL-terminated). */
static bool only_keys(json_t *obj, const char *const *allowed, const char *where,
                      struct gw_verdict *v)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        (void)val;
        bool known = false;
        for (const char *const *a = allowed; *a != NULL && !known; a++) {
            known = strcmp(*a, key) == 0;
        }
        if (!known) {
            char field[128];
            (void)snprintf(field, sizeof(field), "%s%s", where, key);
            return fail(v, 400, "unknown_field", "unknown field \"%s\"", field);
        }
    }
    return true;
}

/* A string field: required or optional, with a byte length range and no control bytes. */
static bool string_field(json_t *obj, const char *key, bool required, size_t max,
                         struct gw_verdict *v)
{
    json_t *s = json_object_get(obj, key);
    if (s == NULL || json_is_null(s)) {
        if (required) {
            return fail(v, 400, "missing_field", "field \"%s\" is required", key);
        }
        return true;
    }
    if (!json_is_string(s)) {
        return fail(v, 400, "invalid_type", "field \"%s\" must be a string", key);
    }
    size_t n = json_string_length(s);
    const char *p = json_string_value(s);
    if (n == 0 || n > max) {
        return fail(v, 422, "invalid_length", "field \"%s\" has a bad length", key);
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] < 0x20) {
            return fail(v, 422, "invalid_value", "field \"%s\" contains control characters", key);
        }
    }
    return true;
}

static bool amount_field(json_t *obj, const char *key, int64_t *out, struct gw_verdict *v)
{
    json_t *a = json_object_get(obj, key);
    if (a == NULL) {
        return fail(v, 400, "missing_field", "field \"%s\" is required", key);
    }
    if (!json_is_integer(a)) {
        return fail(v, 400, "invalid_type", "field \"%s\" must be an integer number of VND", key);
    }
    json_int_t n = json_integer_value(a);
    if (n <= 0) {
        return fail(v, 422, "invalid_amount", "field \"%s\" must be positive", key);
    }
    if (n > GW_AMOUNT_VND_MAX) {
        return fail(v, 422, "invalid_amount", "field \"%s\" exceeds the per-payment maximum", key);
    }
    *out = (int64_t)n;
    return true;
}

static bool check_payer(json_t *payer, struct gw_verdict *v)
{
    static const char *const keys[] = { "name", "id_number", "email", "phone", NULL };
    if (!json_is_object(payer)) {
        return fail(v, 400, "invalid_type", "field \"%s\" must be an object", "payer");
    }
    return only_keys(payer, keys, "payer.", v) &&
           string_field(payer, "name", true, GW_NAME_BYTES_MAX, v) &&
           string_field(payer, "id_number", false, 32, v) &&
           string_field(payer, "email", false, GW_NAME_BYTES_MAX, v) &&
           string_field(payer, "phone", false, 32, v);
}

static bool check_items(json_t *items, int64_t *sum, struct gw_verdict *v)
{
    static const char *const keys[] = { "fee_code", "amount_vnd", NULL };
    if (!json_is_array(items)) {
        return fail(v, 400, "invalid_type", "field \"%s\" must be an array", "items");
    }
    size_t n = json_array_size(items);
    if (n == 0 || n > GW_ITEMS_MAX) {
        return fail(v, 422, "invalid_items", "field \"%s\" must have 1 to 50 fee lines", "items");
    }
    *sum = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        int64_t amount = 0;
        if (!json_is_object(it)) {
            return fail(v, 400, "invalid_type", "every element of \"%s\" must be an object",
                        "items");
        }
        if (!only_keys(it, keys, "items[].", v) ||
            !string_field(it, "fee_code", true, GW_CODE_BYTES_MAX, v) ||
            !amount_field(it, "amount_vnd", &amount, v)) {
            return false;
        }
        if (!gw_vnd_add(*sum, amount, sum)) {
            return fail(v, 422, "invalid_amount", "the sum of \"%s\" overflows", "items");
        }
    }
    return true;
}

static bool check_url(json_t *req, struct gw_verdict *v)
{
    if (!string_field(req, "return_url", false, GW_URL_BYTES_MAX, v)) {
        return false;
    }
    json_t *u = json_object_get(req, "return_url");
    if (u == NULL || json_is_null(u)) {
        return true;
    }
    const char *s = json_string_value(u);
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) {
        return fail(v, 422, "invalid_value", "field \"%s\" must be an http(s) URL", "return_url");
    }
    return true;
}

static bool check_options(json_t *req, struct gw_verdict *v)
{
    json_t *e = json_object_get(req, "expires_in_s");
    if (e != NULL && !json_is_null(e)) {
        if (!json_is_integer(e)) {
            return fail(v, 400, "invalid_type", "field \"%s\" must be an integer", "expires_in_s");
        }
        json_int_t s = json_integer_value(e);
        if (s < GW_EXPIRES_IN_S_MIN || s > GW_EXPIRES_IN_S_MAX) {
            return fail(v, 422, "invalid_value", "field \"%s\" must be from 60 to 604800",
                        "expires_in_s");
        }
    }
    json_t *l = json_object_get(req, "locale");
    if (l != NULL && !json_is_null(l)) {
        if (!json_is_string(l)) {
            return fail(v, 400, "invalid_type", "field \"%s\" must be a string", "locale");
        }
        const char *s = json_string_value(l);
        if (strcmp(s, "vi") != 0 && strcmp(s, "en") != 0) {
            return fail(v, 422, "invalid_value", "field \"%s\" must be \"vi\" or \"en\"", "locale");
        }
    }
    return check_url(req, v);
}

bool gw_validate_create(json_t *req, json_t **normalized, struct gw_verdict *v)
{
    static const char *const keys[] = { "order_ref", "agency_code",  "payer",
                                        "items",     "amount_vnd",   "return_url",
                                        "locale",    "expires_in_s", NULL };
    if (!json_is_object(req)) {
        return fail(v, 400, "invalid_request", "the body must be a JSON %s", "object");
    }
    if (!only_keys(req, keys, "", v) ||
        !string_field(req, "order_ref", true, GW_ORDER_REF_BYTES_MAX, v) ||
        !string_field(req, "agency_code", true, GW_CODE_BYTES_MAX, v)) {
        return false;
    }
    if (!gw_valid_order_ref(json_string_value(json_object_get(req, "order_ref")))) {
        return fail(v, 422, "invalid_value", "field \"%s\" must be 1-64 of [A-Za-z0-9._:/-]",
                    "order_ref");
    }
    json_t *payer = json_object_get(req, "payer");
    if (payer == NULL) {
        return fail(v, 400, "missing_field", "field \"%s\" is required", "payer");
    }
    int64_t sum = 0;
    int64_t total = 0;
    json_t *items = json_object_get(req, "items");
    if (items == NULL) {
        return fail(v, 400, "missing_field", "field \"%s\" is required", "items");
    }
    if (!check_payer(payer, v) || !check_items(items, &sum, v) ||
        !amount_field(req, "amount_vnd", &total, v) || !check_options(req, v)) {
        return false;
    }
    if (sum != total) {
        return fail(v, 422, "amount_mismatch", "\"%s\" must equal the sum of the items",
                    "amount_vnd");
    }
    json_t *n = json_deep_copy(req);
    if (n == NULL) {
        return fail(v, 503, "unavailable", "out of memory while reading \"%s\"", "the request");
    }
    /* An absent or null option takes its default. */
    if (json_object_get(n, "locale") == NULL || json_is_null(json_object_get(n, "locale"))) {
        (void)json_object_set_new(n, "locale", json_string("vi"));
    }
    if (json_object_get(n, "expires_in_s") == NULL ||
        json_is_null(json_object_get(n, "expires_in_s"))) {
        (void)json_object_set_new(n, "expires_in_s", json_integer(GW_EXPIRES_IN_S_DEFAULT));
    }
    *normalized = n;
    return true;
}
