/* Form encoding as PHP urlencode does it (docs/providers.md#form-encoding), and its strict reverse:
 * the decoder rejects what a lenient one would guess at (a truncated or non-hex %-escape, a NUL
 * byte), because these strings carry signed data and must mean exactly one thing. */
#include "gw_url.h"

#include <stdbool.h>
#include <string.h>

#include "gw_assert.h"

#include "banned.h"

static bool url_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

enum gw_err gw_form_encode(struct gw_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    enum gw_err err = GW_OK;
    for (size_t i = 0; i < len && err == GW_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (url_is_unreserved(c)) {
            err = gw_buf_addc(b, (char)c);
        } else if (c == ' ') {
            err = gw_buf_addc(b, '+');
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15u] };
            err = gw_buf_add(b, esc, sizeof(esc));
        }
    }
    return err;
}

/* Value of one hex digit, or -1. */
static int url_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

enum gw_err gw_form_decode(struct gw_arena *a, const char *s, size_t len, char **out)
{
    GW_ASSERT(out != NULL);
    *out = NULL;
    /* The decoded form is never longer than the encoded one. */
    char *d = gw_arena_alloc(a, len + 1);
    if (d == NULL) {
        return GW_ERR_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (len - i < 3) {
                return GW_ERR_INVALID;
            }
            int hi = url_hex_value(s[i + 1]);
            int lo = url_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return GW_ERR_INVALID;
            }
            c = (char)(unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            return GW_ERR_INVALID;
        }
        d[n++] = c;
    }
    d[n] = '\0';
    *out = d;
    return GW_OK;
}

/* Decodes one "key=value" (or "key") segment into kv. */
static enum gw_err url_parse_pair(struct gw_arena *a, const char *seg, size_t len, struct gw_kv *kv)
{
    const char *eq = memchr(seg, '=', len);
    size_t key_len = eq == NULL ? len : (size_t)(eq - seg);
    char *key = NULL;
    char *value = NULL;
    enum gw_err err = gw_form_decode(a, seg, key_len, &key);
    if (err != GW_OK) {
        return err;
    }
    if (eq == NULL) {
        err = gw_form_decode(a, "", 0, &value);
    } else {
        err = gw_form_decode(a, eq + 1, len - key_len - 1, &value);
    }
    if (err != GW_OK) {
        return err;
    }
    kv->key = key;
    kv->value = value;
    return GW_OK;
}

enum gw_err gw_form_parse(struct gw_arena *a, const char *s, size_t len, size_t pairs_max,
                          struct gw_kv **pairs, size_t *n_pairs)
{
    GW_ASSERT(pairs != NULL);
    GW_ASSERT(n_pairs != NULL);
    *pairs = NULL;
    *n_pairs = 0;
    /* Count the non-empty segments first, so the bound is checked before any work. */
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp == NULL ? len : (size_t)(amp - s);
        count += end > i;
        i = end + 1;
    }
    if (count > pairs_max) {
        return GW_ERR_LIMIT;
    }
    struct gw_kv *kv = gw_arena_alloc(a, (count == 0 ? 1 : count) * sizeof(*kv));
    if (kv == NULL) {
        return GW_ERR_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp == NULL ? len : (size_t)(amp - s);
        if (end > i) {
            enum gw_err err = url_parse_pair(a, s + i, end - i, &kv[n]);
            if (err != GW_OK) {
                return err;
            }
            n++;
        }
        i = end + 1;
    }
    GW_ASSERT(n == count);
    *pairs = kv;
    *n_pairs = n;
    return GW_OK;
}

const char *gw_kv_get(const struct gw_kv *pairs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(pairs[i].key, key) == 0) {
            return pairs[i].value;
        }
    }
    return NULL;
}
