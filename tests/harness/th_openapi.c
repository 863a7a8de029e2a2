/* The API contract check (th_openapi.h): an exchange's operation found in docs/openapi.json
 * by method and path template, its parameters, bodies and status checked against it. */
#include "th_openapi.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_arena.h"
#include "gw_assert.h"

#include "banned.h"

#define OA_SEGS_MAX 16

/* The operation of an exchange and what the check found so far. */
struct oa {
    json_t *doc;
    const struct th_api_exchange *ex;
    char path[512];    /* the target's path, split in place into seg */
    const char *query; /* after '?', or "" */
    const char *seg[OA_SEGS_MAX];
    int n_seg;
    const char *template;                /* the matched path template */
    json_t *item;                        /* its path item */
    json_t *op;                          /* the operation */
    char name[600];                      /* "GET /v1/x/{id} (operationId)" for messages */
    char req_why[TH_OPENAPI_WHY_BYTES];  /* the first way the request breaks the document */
    char body_why[TH_OPENAPI_WHY_BYTES]; /* why a body does not fit its schema */
    char *why;
    size_t why_len;
};

static bool oa_fail(struct oa *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool oa_fail(struct oa *o, const char *fmt, ...)
{
    char rule[TH_OPENAPI_WHY_BYTES];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    (void)snprintf(o->why, o->why_len, "%s: %s", o->name, rule);
    return false;
}

/* Remembers the first violation of the request (judged once the status is known). */
static void oa_request_bad(struct oa *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void oa_request_bad(struct oa *o, const char *fmt, ...)
{
    if (o->req_why[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(o->req_why, sizeof(o->req_why), fmt, ap);
    va_end(ap);
}

bool th_openapi_applies(const char *target)
{
    return strncmp(target, "/v1/", 4) == 0;
}

static json_t *oa_doc;

static void oa_load(void)
{
    json_error_t err;
    oa_doc = json_load_file(TH_OPENAPI_JSON, JSON_REJECT_DUPLICATES, &err);
    if (oa_doc == NULL) {
        (void)fprintf(stderr, "th: cannot read %s: line %d: %s\n", TH_OPENAPI_JSON, err.line,
                      err.text);
        abort();
    }
}

/* Loaded once (some tests send from several threads); only read after that. */
json_t *th_openapi_doc(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    GW_ASSERT(pthread_once(&once, oa_load) == 0);
    return oa_doc;
}

/* Splits the target into path segments and query. */
static bool oa_split(struct oa *o)
{
    const char *t = o->ex->target;
    size_t plen = strcspn(t, "?");
    if (plen == 0 || plen >= sizeof(o->path) || t[0] != '/') {
        return oa_fail(o, "the request target \"%.100s\" is not a path", t);
    }
    memcpy(o->path, t, plen);
    o->path[plen] = '\0';
    o->query = t[plen] == '?' ? t + plen + 1 : "";
    char *p = o->path + 1;
    while (o->n_seg < OA_SEGS_MAX) {
        o->seg[o->n_seg++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL) {
            return true;
        }
        *slash = '\0';
        p = slash + 1;
    }
    return oa_fail(o, "the path has more than %d segments", OA_SEGS_MAX);
}

/* How well a template fits the path: -1 no match, else the number of literal segments. */
static int oa_fit(const struct oa *o, const char *tmpl)
{
    int literal = 0;
    int i = 0;
    const char *p = tmpl;
    for (; *p == '/' && i < o->n_seg; i++) {
        p++;
        size_t n = strcspn(p, "/");
        bool param = n >= 2 && p[0] == '{' && p[n - 1] == '}';
        if (!param && (strlen(o->seg[i]) != n || strncmp(p, o->seg[i], n) != 0)) {
            return -1;
        }
        if (param && o->seg[i][0] == '\0') {
            return -1;
        }
        literal += !param;
        p += n;
    }
    return *p == '\0' && i == o->n_seg ? literal : -1;
}

/* The value of the template's {name} segment in the path, or NULL. */
static const char *oa_path_value(const struct oa *o, const char *name)
{
    const char *p = o->template;
    for (int i = 0; *p == '/' && i < o->n_seg; i++) {
        p++;
        size_t n = strcspn(p, "/");
        if (n == strlen(name) + 2 && p[0] == '{' && strncmp(p + 1, name, n - 2) == 0) {
            return o->seg[i];
        }
        p += n;
    }
    return NULL;
}

/* ASCII lower case (the <ctype.h> macros nest too deep for the complexity check). */
static char oa_lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c + ('a' - 'A'));
    }
    return c;
}

static int oa_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = oa_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The path template that fits best: the most literal segments (/v1/webhooks/replay before
 * /v1/webhooks/{event_id}). */
static void oa_best_template(struct oa *o)
{
    json_t *paths = json_object_get(o->doc, "paths");
    int best = -1;
    for (void *it = json_object_iter(paths); it != NULL; it = json_object_iter_next(paths, it)) {
        int fit = oa_fit(o, json_object_iter_key(it));
        if (fit > best) {
            best = fit;
            o->template = json_object_iter_key(it);
            o->item = json_object_iter_value(it);
        }
    }
}

static bool oa_find(struct oa *o)
{
    oa_best_template(o);
    char method[16];
    size_t n = 0;
    for (; o->ex->method[n] != '\0' && n + 1 < sizeof(method); n++) {
        method[n] = oa_lower(o->ex->method[n]);
    }
    method[n] = '\0';
    o->op = o->item != NULL ? json_object_get(o->item, method) : NULL;
    const char *id = json_string_value(json_object_get(o->op, "operationId"));
    (void)snprintf(o->name, sizeof(o->name), "%s %s (%s)", o->ex->method,
                   o->template != NULL ? o->template : o->path, id != NULL ? id : "undocumented");
    if (o->op == NULL) {
        return oa_fail(o, "no such operation in docs/openapi.json (request %s %.200s)",
                       o->ex->method, o->ex->target);
    }
    return true;
}

/* The value v[0..len) %XX- and +-decoded into out (cap bytes). */
static void oa_decode(const char *v, size_t len, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < cap; i++) {
        int hi = v[i] == '%' && i + 2 < len ? oa_hex_digit(v[i + 1]) : -1;
        int lo = hi >= 0 ? oa_hex_digit(v[i + 2]) : -1;
        if (lo >= 0) {
            out[k++] = (char)(unsigned char)(hi * 16 + lo);
            i += 2;
        } else {
            out[k++] = v[i];
            if (v[i] == '+') {
                out[k - 1] = ' ';
            }
        }
    }
    out[k] = '\0';
}

/* The decoded value of the query parameter name into out (cap bytes); false if absent. */
static bool oa_query_value(const struct oa *o, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *p = o->query; *p != '\0';) {
        size_t len = strcspn(p, "&");
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            oa_decode(p + nlen + 1, len - nlen - 1, out, cap);
            return true;
        }
        p += len + (p[len] == '&');
    }
    return false;
}

/* The value of the request header name (case-insensitive), or NULL. */
static const char *oa_header_value(const struct oa *o, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; o->ex->req_headers[i] != NULL; i++) {
        const char *h = o->ex->req_headers[i];
        if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
            return h + nlen + 1 + strspn(h + nlen + 1, " \t");
        }
    }
    return NULL;
}

/* One path, query or header parameter (headers only when the exchange has them). */
static void oa_param(struct oa *o, json_t *param)
{
    const char *in = json_string_value(json_object_get(param, "in"));
    const char *name = json_string_value(json_object_get(param, "name"));
    if (in == NULL || name == NULL || (strcmp(in, "header") == 0 && o->ex->req_headers == NULL)) {
        return;
    }
    char value[1024];
    const char *v = NULL;
    if (strcmp(in, "path") == 0) {
        v = oa_path_value(o, name);
    } else if (strcmp(in, "query") == 0 && oa_query_value(o, name, value, sizeof(value))) {
        v = value;
    } else if (strcmp(in, "header") == 0) {
        v = oa_header_value(o, name);
    }
    if (v == NULL) {
        if (json_is_true(json_object_get(param, "required"))) {
            oa_request_bad(o, "%s parameter \"%s\" is required and missing", in, name);
        }
        return;
    }
    json_t *s = json_string(v);
    char why[TH_OPENAPI_WHY_BYTES];
    char where[300];
    (void)snprintf(where, sizeof(where), "%s parameter %s", in, name);
    if (s == NULL ||
        !th_openapi_validate(o->doc, json_object_get(param, "schema"), s, why, sizeof(why))) {
        oa_request_bad(o, "%s: %s", where, s == NULL ? "not UTF-8" : why);
    }
    json_decref(s);
}

static void oa_params(struct oa *o)
{
    json_t *lists[2] = { json_object_get(o->item, "parameters"),
                         json_object_get(o->op, "parameters") };
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *p;
        json_array_foreach(lists[l], i, p)
        {
            oa_param(o, th_openapi_ref(o->doc, p));
        }
    }
}

/* The media type of a Content-Type value ("application/json; charset=utf-8"), lower case. */
static void oa_media(const char *ct, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *p = ct != NULL ? ct : ""; *p != '\0' && *p != ';' && k + 1 < cap; p++) {
        if (*p != ' ' && *p != '\t') {
            out[k++] = oa_lower(*p);
        }
    }
    out[k] = '\0';
}

/* A JSON body against the schema of its media type; false with the message in
 * o->body_why. */
static bool oa_body(struct oa *o, json_t *media, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (j == NULL) {
        (void)snprintf(o->body_why, sizeof(o->body_why), "not JSON (%s)", jerr.text);
        return false;
    }
    bool ok = th_openapi_validate(o->doc, json_object_get(media, "schema"), j, o->body_why,
                                  sizeof(o->body_why));
    json_decref(j);
    return ok;
}

static void oa_request_body(struct oa *o)
{
    json_t *rb = th_openapi_ref(o->doc, json_object_get(o->op, "requestBody"));
    const struct th_api_exchange *ex = o->ex;
    if (ex->req_body == NULL || ex->req_body_len == 0) {
        if (json_is_true(json_object_get(rb, "required"))) {
            oa_request_bad(o, "the request body is required and missing");
        }
        return;
    }
    if (rb == NULL) {
        oa_request_bad(o, "a request body where the operation takes none");
        return;
    }
    char media[128];
    oa_media(ex->req_content_type, media, sizeof(media));
    json_t *m = json_object_get(json_object_get(rb, "content"), media);
    if (m == NULL) {
        oa_request_bad(o, "request Content-Type \"%s\" is not documented", media);
        return;
    }
    if (strcmp(media, "application/json") == 0 && !oa_body(o, m, ex->req_body, ex->req_body_len)) {
        oa_request_bad(o, "request body %s", o->body_why);
    }
}

/* The response object documented for the status ("201", "2XX" or "default"), or NULL. */
static json_t *oa_response(const struct oa *o, int status)
{
    json_t *rs = json_object_get(o->op, "responses");
    char key[16];
    (void)snprintf(key, sizeof(key), "%d", status);
    json_t *r = json_object_get(rs, key);
    if (r == NULL) {
        (void)snprintf(key, sizeof(key), "%dXX", status / 100);
        r = json_object_get(rs, key);
    }
    if (r == NULL) {
        r = json_object_get(rs, "default");
    }
    return r != NULL ? th_openapi_ref(o->doc, r) : NULL;
}

static bool oa_check_response(struct oa *o)
{
    const struct th_api_exchange *ex = o->ex;
    json_t *r = oa_response(o, ex->status);
    if (r == NULL) {
        return oa_fail(o, "status %d is not documented for this operation", ex->status);
    }
    json_t *content = json_object_get(r, "content");
    if (content == NULL) {
        return ex->resp_body_len == 0 ||
               oa_fail(o, "response %d has a body where none is documented", ex->status);
    }
    char media[128];
    oa_media(ex->resp_content_type, media, sizeof(media));
    json_t *m = json_object_get(content, media);
    if (m == NULL) {
        return oa_fail(o, "response %d Content-Type \"%s\" is not documented", ex->status, media);
    }
    if (strcmp(media, "application/json") == 0 &&
        !oa_body(o, m, ex->resp_body, ex->resp_body_len)) {
        return oa_fail(o, "response %d body %s", ex->status, o->body_why);
    }
    return true;
}

bool th_openapi_check(json_t *doc, const struct th_api_exchange *ex, char *why, size_t why_len)
{
    struct oa *o = gw_xcalloc(1, sizeof(*o));
    o->doc = doc;
    o->ex = ex;
    o->why = why;
    o->why_len = why_len;
    why[0] = '\0';
    (void)snprintf(o->name, sizeof(o->name), "%s %s", ex->method, ex->target);
    bool ok = oa_split(o) && oa_find(o);
    if (ok) {
        oa_params(o);
        oa_request_body(o);
        ok = oa_check_response(o);
    }
    /* A request the document refuses must be refused by the gateway too. */
    if (ok && o->req_why[0] != '\0' && (ex->status < 400 || ex->status >= 500)) {
        ok =
            oa_fail(o, "answered %d to a request the document refuses: %s", ex->status, o->req_why);
    }
    gw_xfree(o);
    return ok;
}
