/* Helpers shared by the provider adapters: an arena string builder with the encodings the
 * providers sign (docs/providers.md#hmac-basics, #vnpay-signing, #momo-signing, #zalopay-signing),
 * strict decimal parsing for the int64 fields of docs/providers.md#integers-and-times, and small
 * JSON readers. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "adapter_int.h"
#include "gw_assert.h"
#include "gw_time.h"

#include "banned.h"

void gw_adp_str_init(struct gw_adp_str *s, struct gw_arena *arena, size_t len_max)
{
    memset(s, 0, sizeof(*s));
    s->arena = arena;
    s->len_max = len_max;
}

/* Makes room for n more bytes plus the NUL; old blocks stay in the arena (bounded: the
 * doubling wastes at most the final size). */
static bool adp_str_reserve(struct gw_adp_str *s, size_t n)
{
    if (s->err != GW_OK) {
        return false;
    }
    if (n > s->len_max - s->len) {
        s->err = GW_ERR_LIMIT;
        return false;
    }
    if (s->len + n + 1 <= s->cap) {
        return true;
    }
    size_t cap = s->cap == 0 ? 256 : s->cap;
    while (cap < s->len + n + 1) {
        cap *= 2;
    }
    char *p = gw_arena_alloc(s->arena, cap);
    if (p == NULL) {
        s->err = GW_ERR_NOMEM;
        return false;
    }
    if (s->len > 0) {
        memcpy(p, s->data, s->len);
    }
    s->data = p;
    s->cap = cap;
    return true;
}

void gw_adp_str_add(struct gw_adp_str *s, const char *p, size_t n)
{
    if (!adp_str_reserve(s, n)) {
        return;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
}

void gw_adp_str_adds(struct gw_adp_str *s, const char *p)
{
    gw_adp_str_add(s, p != NULL ? p : "", p != NULL ? strlen(p) : 0);
}

void gw_adp_str_addc(struct gw_adp_str *s, char c)
{
    gw_adp_str_add(s, &c, 1);
}

static bool adp_form_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

void gw_adp_str_add_form(struct gw_adp_str *s, const char *p)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)p; c != NULL && *c != '\0'; c++) {
        if (adp_form_unreserved(*c)) {
            gw_adp_str_addc(s, (char)*c);
        } else if (*c == ' ') {
            gw_adp_str_addc(s, '+');
        } else {
            char esc[3] = { '%', hex[*c >> 4], hex[*c & 15u] };
            gw_adp_str_add(s, esc, sizeof(esc));
        }
    }
}

void gw_adp_str_add_json(struct gw_adp_str *s, const char *p)
{
    static const char hex[] = "0123456789abcdef";
    gw_adp_str_addc(s, '"');
    for (const unsigned char *c = (const unsigned char *)p; c != NULL && *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = { '\\', (char)*c };
            gw_adp_str_add(s, esc, sizeof(esc));
        } else if (*c < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15u] };
            gw_adp_str_add(s, esc, sizeof(esc));
        } else {
            gw_adp_str_addc(s, (char)*c);
        }
    }
    gw_adp_str_addc(s, '"');
}

enum gw_err gw_adp_str_finish(struct gw_adp_str *s, char **out, size_t *len)
{
    *out = NULL;
    if (len != NULL) {
        *len = 0;
    }
    if (s->err == GW_OK && s->data == NULL) {
        adp_str_reserve(s, 0);
    }
    if (s->err != GW_OK) {
        return s->err;
    }
    *out = s->data;
    if (len != NULL) {
        *len = s->len;
    }
    return GW_OK;
}

void gw_adp_str_join(struct gw_adp_str *s, const char *const *values, size_t n, char sep)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            gw_adp_str_addc(s, sep);
        }
        gw_adp_str_adds(s, values[i]);
    }
}

void gw_adp_str_kv_raw(struct gw_adp_str *s, const char *const *names, const char *const *values,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            gw_adp_str_addc(s, '&');
        }
        gw_adp_str_adds(s, names[i]);
        gw_adp_str_addc(s, '=');
        gw_adp_str_adds(s, values[i]);
    }
}

void gw_adp_str_kv_form(struct gw_adp_str *s, const char *const *names, const char *const *values,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            gw_adp_str_addc(s, '&');
        }
        gw_adp_str_add_form(s, names[i]);
        gw_adp_str_addc(s, '=');
        gw_adp_str_add_form(s, values[i] != NULL ? values[i] : "");
    }
}

static bool adp_listed(const char *name, const char *const *list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        if (strcmp(list[i], name) == 0) {
            return true;
        }
    }
    return false;
}

void gw_adp_str_json_object(struct gw_adp_str *s, const char *const *names,
                            const char *const *values, size_t n, const char *const *numeric)
{
    gw_adp_str_addc(s, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            gw_adp_str_addc(s, ',');
        }
        gw_adp_str_add_json(s, names[i]);
        gw_adp_str_addc(s, ':');
        if (adp_listed(names[i], numeric)) {
            gw_adp_str_adds(s, values[i]);
        } else {
            gw_adp_str_add_json(s, values[i] != NULL ? values[i] : "");
        }
    }
    gw_adp_str_addc(s, '}');
}

bool gw_adp_nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

bool gw_adp_id_ok(const char *s, size_t max)
{
    if (s == NULL) {
        return false;
    }
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

bool gw_adp_copy(char *dst, size_t dst_size, const char *src)
{
    size_t n = strlen(src);
    if (n >= dst_size) {
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

bool gw_adp_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL) {
        return false;
    }
    bool neg = s[0] == '-';
    const char *d = s + (neg ? 1 : 0);
    size_t n = strlen(d);
    if (n == 0 || n > 18 || (n > 1 && d[0] == '0') || (neg && strcmp(d, "0") == 0)) {
        return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') {
            return false;
        }
        v = v * 10 + (d[i] - '0'); /* 18 digits cannot overflow int64 */
    }
    v = neg ? -v : v;
    if (v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

char *gw_adp_i64(struct gw_arena *arena, int64_t v)
{
    return gw_arena_printf(arena, "%" PRId64, v);
}

void gw_adp_yymmdd_vn(time_t t, char out[7])
{
    char full[15];
    gw_time_compact_vn(t, full); /* yyyyMMddHHmmss, GMT+7 */
    memcpy(out, full + 2, 6);
    out[6] = '\0';
}

char *gw_adp_url(struct gw_arena *arena, const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    return gw_arena_printf(arena, "%.*s%s", (int)n, base, path);
}

void gw_adp_http_post(struct gw_adapter_http *req, const char *url, const char *content_type,
                      const char *body, size_t body_len)
{
    memset(req, 0, sizeof(*req));
    req->method = "POST";
    req->url = url;
    req->content_type = content_type;
    req->body = body;
    req->body_len = body_len;
    req->headers[0] = (struct gw_adapter_header){ "Accept", "application/json" };
    req->n_headers = 1;
}

enum gw_err gw_adp_json_load(const char *who, const char *p, size_t n, json_t **root,
                             struct gw_errbuf *eb)
{
    *root = NULL;
    if (p == NULL || n == 0) {
        return gw_fail(eb, GW_ERR_INVALID, "%s: empty body", who);
    }
    if (n > GW_ADP_TEXT_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_INVALID, "%s: body too large", who);
    }
    json_error_t jerr;
    *root = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "%s: malformed json: %s", who, jerr.text);
    }
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return gw_fail(eb, GW_ERR_INVALID, "%s: body is not a json object", who);
    }
    return GW_OK;
}

bool gw_adp_json_text(struct gw_arena *arena, const json_t *obj, const char *key, const char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return true;
    }
    if (json_is_string(v)) {
        *out = gw_arena_strndup(arena, json_string_value(v), json_string_length(v));
        return *out != NULL && strlen(*out) == json_string_length(v);
    }
    if (json_is_integer(v)) {
        *out = gw_adp_i64(arena, (int64_t)json_integer_value(v));
        return *out != NULL;
    }
    return false;
}

enum gw_err gw_adp_http_status(const char *who, const struct gw_adapter_input *in,
                               struct gw_errbuf *eb)
{
    int st = in->http_status;
    if (st >= 500) {
        return gw_fail(eb, GW_ERR_UNAVAILABLE, "%s: provider answered %d", who, st);
    }
    if ((st >= 200 && st < 300) || (st >= 400 && st < 500)) {
        return GW_OK;
    }
    return gw_fail(eb, GW_ERR_PROTOCOL, "%s: provider answered %d", who, st);
}
