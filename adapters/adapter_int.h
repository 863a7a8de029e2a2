/* Helpers shared by the provider adapters (vnpay.c, momo.c, zalopay.c); private to
 * adapters/. Everything allocates from the caller's arena: adapters never malloc (jansson's
 * parser is the one exception, and its trees are freed before an op returns). */
#ifndef GW_ADAPTERS_ADAPTER_INT_H
#define GW_ADAPTERS_ADAPTER_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "adapter.h"
#include "gw_arena.h"
#include "gw_err.h"

#define GW_ADP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Bound of any string an adapter builds (URLs, bodies, signed strings). */
#define GW_ADP_TEXT_BYTES_MAX       ((size_t)32 * 1024)
/* Bound of the pairs read from a query string or form body. */
#define GW_ADP_PAIRS_MAX            64
/* vnp_RequestId, MoMo requestId: at most 50 in MoMo, 32 in VNPAY. */
#define GW_ADP_REQUEST_ID_BYTES_MAX 32

/* An arena-backed string builder with a maximum and a sticky error (checked once, by
 * gw_adp_str_finish). */
struct gw_adp_str {
    struct gw_arena *arena;
    char *data;
    size_t len;
    size_t cap;
    size_t len_max;
    enum gw_err err;
};

void gw_adp_str_init(struct gw_adp_str *s, struct gw_arena *arena, size_t len_max);
void gw_adp_str_add(struct gw_adp_str *s, const char *p, size_t n);
void gw_adp_str_adds(struct gw_adp_str *s, const char *p);
void gw_adp_str_addc(struct gw_adp_str *s, char c);
/* PHP urlencode of p (docs/providers.md#form-encoding): A-Z a-z 0-9 - _ . copied, space '+', rest
 * %XX. */
void gw_adp_str_add_form(struct gw_adp_str *s, const char *p);
/* p as a JSON string literal with its quotes; UTF-8 passes through, '/' is not escaped. */
void gw_adp_str_add_json(struct gw_adp_str *s, const char *p);
/* The NUL-terminated result (in the arena), or GW_ERR_LIMIT / GW_ERR_NOMEM. */
enum gw_err gw_adp_str_finish(struct gw_adp_str *s, char **out, size_t *len) GW_MUST_CHECK;

/* values[0] sep values[1] sep ... (raw, no encoding); NULL values count as "". */
void gw_adp_str_join(struct gw_adp_str *s, const char *const *values, size_t n, char sep);
/* name0=value0&name1=value1... raw (MoMo's signature strings, docs/providers.md#momo-signing). */
void gw_adp_str_kv_raw(struct gw_adp_str *s, const char *const *names, const char *const *values,
                       size_t n);
/* The same, form-encoded (ZaloPay request bodies). */
void gw_adp_str_kv_form(struct gw_adp_str *s, const char *const *names, const char *const *values,
                        size_t n);
/* {"name0":"value0",...}: every value a JSON string except those whose name is listed in
 * numeric (rendered bare: the caller has checked they are decimal). */
void gw_adp_str_json_object(struct gw_adp_str *s, const char *const *names,
                            const char *const *values, size_t n, const char *const *numeric);

bool gw_adp_nonempty(const char *s);
/* 1..max bytes of [0-9A-Za-z_-]: merchant_ref, request and refund ids. */
bool gw_adp_id_ok(const char *s, size_t max);
/* Copies src into dst[dst_size]; false if it does not fit. */
bool gw_adp_copy(char *dst, size_t dst_size, const char *src);
/* Strict decimal: optional '-', 1..18 digits, no leading zero unless "0"; within min..max. */
bool gw_adp_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* "%lld" of v into the arena (NULL when the arena is full). */
char *gw_adp_i64(struct gw_arena *arena, int64_t v);
/* "yymmdd" of t in Vietnam time (GMT+7) into out[7]. */
void gw_adp_yymmdd_vn(time_t t, char out[7]);

/* base with trailing '/' removed, then path; NULL when the arena is full. */
char *gw_adp_url(struct gw_arena *arena, const char *base, const char *path);
/* Fills req as a POST of body with content_type, plus Accept: application/json. */
void gw_adp_http_post(struct gw_adapter_http *req, const char *url, const char *content_type,
                      const char *body, size_t body_len);

/* Parses a JSON object (no duplicate keys, nothing after it); who names the adapter. */
enum gw_err gw_adp_json_load(const char *who, const char *p, size_t n, json_t **root,
                             struct gw_errbuf *eb) GW_MUST_CHECK;
/* A member as the text a provider signs: strings verbatim, integers in plain decimal
 * (docs/providers.md#integers-and-times); absent gives NULL. false for any other JSON type. */
bool gw_adp_json_text(struct gw_arena *arena, const json_t *obj, const char *key, const char **out);
/* The HTTP status of an API answer: 5xx is GW_ERR_UNAVAILABLE, other non-2xx/4xx with
 * no body GW_ERR_PROTOCOL. */
enum gw_err gw_adp_http_status(const char *who, const struct gw_adapter_input *in,
                               struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
