/* application/x-www-form-urlencoded, as PHP urlencode does it (docs/providers.md#form-encoding):
 * bytes A-Z a-z 0-9 - _ . are copied, space becomes '+', every other byte %XX upper-case hex. And
 * the reverse, for query strings and form bodies. */
#ifndef GW_COMMON_GW_URL_H
#define GW_COMMON_GW_URL_H

#include <stddef.h>

#include "gw_arena.h"
#include "gw_buf.h"
#include "gw_err.h"

/* Appends the form-encoding of s (len bytes) to b. */
enum gw_err gw_form_encode(struct gw_buf *b, const char *s, size_t len) GW_MUST_CHECK;

/* Decodes a form-encoded s ('+' is space, %XX a byte) into a NUL-terminated arena string;
 * GW_ERR_INVALID on a malformed %-escape or an embedded NUL byte. */
enum gw_err gw_form_decode(struct gw_arena *a, const char *s, size_t len, char **out) GW_MUST_CHECK;

struct gw_kv {
    const char *key;
    const char *value;
};

/* Splits "a=1&b=2" into decoded pairs, in received order, allocated in the arena. At most
 * pairs_max pairs (GW_ERR_LIMIT beyond); a pair without '=' has value "". */
enum gw_err gw_form_parse(struct gw_arena *a, const char *s, size_t len, size_t pairs_max,
                          struct gw_kv **pairs, size_t *n_pairs) GW_MUST_CHECK;

/* The value of key in pairs, or NULL. */
const char *gw_kv_get(const struct gw_kv *pairs, size_t n, const char *key);

#endif
