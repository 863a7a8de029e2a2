/* The JSON Schema subset of the contract check (th_openapi.h lists the keywords). Messages
 * name the instance's JSON pointer, the rule and the schema component it came from. */
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "th_openapi.h"

#include "banned.h"

#define SV_DEPTH_MAX 64

struct sv {
    json_t *doc;
    char ptr[512];         /* the instance's JSON pointer */
    const char *component; /* the last $ref followed, for messages */
    char *why;
    size_t why_len;
    int depth;
};

/* Keywords that only annotate: they never make an instance invalid. */
static const char *const sv_annotations[] = { "description", "example", "examples",   "format",
                                              "title",       "default", "deprecated", NULL };

static bool sv_fail(struct sv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool sv_fail(struct sv *v, const char *fmt, ...)
{
    char rule[600];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(rule, sizeof(rule), fmt, ap);
    va_end(ap);
    bool named = v->component != NULL;
    (void)snprintf(v->why, v->why_len, "%s: %s%s%s%s", v->ptr[0] != '\0' ? v->ptr : "(root)", rule,
                   named ? " [" : "", named ? v->component : "", named ? "]" : "");
    return false;
}

/* The node at a local reference "#/a/b" of the document (~0 and ~1 unescaped), or NULL. */
static json_t *sv_pointer(json_t *doc, const char *ref)
{
    if (ref == NULL || strncmp(ref, "#/", 2) != 0) {
        return NULL;
    }
    json_t *node = doc;
    const char *p = ref + 1;
    while (node != NULL && *p == '/') {
        char key[256];
        size_t n = 0;
        for (p++; *p != '\0' && *p != '/' && n + 1 < sizeof(key); p++) {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                key[n++] = p[1] == '0' ? '~' : '/';
                p++;
            } else {
                key[n++] = *p;
            }
        }
        key[n] = '\0';
        node = json_object_get(node, key);
    }
    return node;
}

/* The validator recurses over the schema's tree (bounded by SV_DEPTH_MAX), and its functions
 * take a schema and an instance, both json_t: the names s and x say which. */
/* NOLINTBEGIN(misc-no-recursion,bugprone-easily-swappable-parameters) */
static bool sv_is_type(const char *t, json_t *x)
{
    if (strcmp(t, "integer") == 0) {
        return json_is_integer(x) ||
               (json_is_real(x) && floor(json_real_value(x)) == json_real_value(x));
    }
    return (strcmp(t, "null") == 0 && json_is_null(x)) ||
           (strcmp(t, "boolean") == 0 && json_is_boolean(x)) ||
           (strcmp(t, "object") == 0 && json_is_object(x)) ||
           (strcmp(t, "array") == 0 && json_is_array(x)) ||
           (strcmp(t, "string") == 0 && json_is_string(x)) ||
           (strcmp(t, "number") == 0 && json_is_number(x));
}

static const char *sv_type_name(json_t *x)
{
    static const char *const names[] = { "object", "array", "string", "integer",
                                         "number", "true",  "false",  "null" };
    return names[json_typeof(x)];
}

static bool sv_type(struct sv *v, json_t *t, json_t *x)
{
    if (json_is_string(t)) {
        return sv_is_type(json_string_value(t), x) ||
               sv_fail(v, "type: %s where the schema wants %s", sv_type_name(x),
                       json_string_value(t));
    }
    size_t i;
    json_t *e;
    json_array_foreach(t, i, e)
    {
        if (json_is_string(e) && sv_is_type(json_string_value(e), x)) {
            return true;
        }
    }
    return sv_fail(v, "type: %s is none of the types the schema allows", sv_type_name(x));
}

static size_t sv_code_points(json_t *s)
{
    const char *p = json_string_value(s);
    size_t n = 0;
    for (size_t i = 0; i < json_string_length(s); i++) {
        n += ((unsigned char)p[i] & 0xc0) != 0x80;
    }
    return n;
}

static bool sv_pattern(struct sv *v, json_t *pat, json_t *x)
{
    if (!json_is_string(x)) {
        return true;
    }
    regex_t re;
    if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB) != 0) {
        return sv_fail(v, "pattern: \"%s\" is not a POSIX extended regex", json_string_value(pat));
    }
    bool ok = strlen(json_string_value(x)) == json_string_length(x) &&
              regexec(&re, json_string_value(x), 0, NULL, 0) == 0;
    regfree(&re);
    return ok || sv_fail(v, "pattern: \"%.80s\" does not match %s", json_string_value(x),
                         json_string_value(pat));
}

static bool sv_bounds(struct sv *v, const char *kw, json_t *lim, json_t *x)
{
    if (!json_is_number(lim)) {
        return sv_fail(v, "%s: the schema's limit is not a number", kw);
    }
    bool min =
        strcmp(kw, "minimum") == 0 || strcmp(kw, "minLength") == 0 || strcmp(kw, "minItems") == 0;
    double have = 0;
    if (strcmp(kw, "minimum") == 0 || strcmp(kw, "maximum") == 0) {
        if (!json_is_number(x)) {
            return true;
        }
        if (json_is_integer(x) && json_is_integer(lim)) {
            json_int_t a = json_integer_value(x);
            json_int_t b = json_integer_value(lim);
            return (min ? a >= b : a <= b) || sv_fail(v, "%s: %lld is %s %lld", kw, (long long)a,
                                                      min ? "below" : "above", (long long)b);
        }
        have = json_number_value(x);
    } else if (strcmp(kw, "minLength") == 0 || strcmp(kw, "maxLength") == 0) {
        if (!json_is_string(x)) {
            return true;
        }
        have = (double)sv_code_points(x);
    } else {
        if (!json_is_array(x)) {
            return true;
        }
        have = (double)json_array_size(x);
    }
    double want = json_number_value(lim);
    return (min ? have >= want : have <= want) ||
           sv_fail(v, "%s: %g is %s %g", kw, have, min ? "below" : "above", want);
}

static bool sv_check(struct sv *v, json_t *s, json_t *x);

/* Validates x (a member or an element, named by seg) with the pointer extended. */
static bool sv_child(struct sv *v, json_t *s, json_t *x, const char *seg)
{
    size_t len = strlen(v->ptr);
    size_t n = len;
    if (n + 1 < sizeof(v->ptr)) {
        v->ptr[n++] = '/';
    }
    for (const char *p = seg; *p != '\0' && n + 2 < sizeof(v->ptr); p++) {
        if (*p == '~' || *p == '/') {
            v->ptr[n++] = '~';
            v->ptr[n++] = *p == '~' ? '0' : '1';
        } else {
            v->ptr[n++] = *p;
        }
    }
    v->ptr[n] = '\0';
    bool ok = sv_check(v, s, x);
    if (ok) {
        v->ptr[len] = '\0'; /* on failure the message already holds the pointer */
    }
    return ok;
}

static bool sv_object(struct sv *v, json_t *s, json_t *x)
{
    if (!json_is_object(x)) {
        return true;
    }
    json_t *props = json_object_get(s, "properties");
    json_t *req = json_object_get(s, "required");
    json_t *addl = json_object_get(s, "additionalProperties");
    size_t i;
    json_t *name;
    json_array_foreach(req, i, name)
    {
        if (json_object_get(x, json_string_value(name)) == NULL) {
            return sv_fail(v, "required: member \"%s\" is missing", json_string_value(name));
        }
    }
    const char *key;
    json_t *val;
    json_object_foreach(x, key, val)
    {
        json_t *sub = json_object_get(props, key);
        if (sub == NULL && json_is_false(addl)) {
            return sv_fail(v, "additionalProperties: member \"%s\" is not in the schema", key);
        }
        if (sub == NULL) {
            sub = json_is_object(addl) ? addl : NULL;
        }
        if (sub != NULL && !sv_child(v, sub, val, key)) {
            return false;
        }
    }
    return true;
}

static bool sv_items(struct sv *v, json_t *items, json_t *x)
{
    if (!json_is_array(x)) {
        return true;
    }
    size_t i;
    json_t *e;
    json_array_foreach(x, i, e)
    {
        char seg[24];
        (void)snprintf(seg, sizeof(seg), "%zu", i);
        if (!sv_child(v, items, e, seg)) {
            return false;
        }
    }
    return true;
}

static bool sv_enum(struct sv *v, json_t *values, json_t *x)
{
    size_t i;
    json_t *e;
    json_array_foreach(values, i, e)
    {
        if (json_equal(e, x)) {
            return true;
        }
    }
    if (json_is_string(x)) {
        return sv_fail(v, "enum: \"%.80s\" is not one of the allowed values", json_string_value(x));
    }
    return sv_fail(v, "enum: a %s that is not one of the allowed values", sv_type_name(x));
}

/* oneOf (exactly one branch), anyOf (at least one), allOf (every one). */
static bool sv_combine(struct sv *v, const char *kw, json_t *branches, json_t *x)
{
    if (!json_is_array(branches) || json_array_size(branches) == 0) {
        return sv_fail(v, "%s: the schema's value is not a non-empty array", kw);
    }
    char reasons[TH_OPENAPI_WHY_BYTES] = "";
    size_t matched = 0;
    size_t i;
    json_t *b;
    json_array_foreach(branches, i, b)
    {
        char one[TH_OPENAPI_WHY_BYTES];
        struct sv sub = *v;
        sub.why = one;
        sub.why_len = sizeof(one);
        if (sv_check(&sub, b, x)) {
            matched++;
        } else if (strcmp(kw, "allOf") == 0) {
            (void)snprintf(v->why, v->why_len, "%s", one);
            return false;
        } else {
            size_t n = strlen(reasons);
            (void)snprintf(reasons + n, sizeof(reasons) - n, "%s(%zu) %.300s", n > 0 ? "; " : "", i,
                           one);
        }
    }
    if (strcmp(kw, "oneOf") == 0 && matched != 1) {
        return matched == 0 ? sv_fail(v, "oneOf: no branch matches: %.500s", reasons)
                            : sv_fail(v, "oneOf: %zu branches match, exactly one must", matched);
    }
    return matched > 0 || strcmp(kw, "allOf") == 0 ||
           sv_fail(v, "anyOf: no branch matches: %.500s", reasons);
}

static bool sv_ref(struct sv *v, json_t *ref, json_t *x)
{
    const char *r = json_string_value(ref);
    json_t *target = sv_pointer(v->doc, r);
    if (target == NULL) {
        return sv_fail(v, "$ref: \"%s\" does not resolve in the document", r != NULL ? r : "");
    }
    const char *outer = v->component;
    v->component = r;
    bool ok = sv_check(v, target, x);
    if (ok) {
        v->component = outer;
    }
    return ok;
}

static bool sv_is_annotation(const char *kw)
{
    for (const char *const *a = sv_annotations; *a != NULL; a++) {
        if (strcmp(*a, kw) == 0) {
            return true;
        }
    }
    return false;
}

/* One keyword of a schema applied to x. */
static bool sv_keyword(struct sv *v, json_t *s, const char *kw, json_t *val, json_t *x)
{
    if (strcmp(kw, "$ref") == 0) {
        return sv_ref(v, val, x);
    }
    if (strcmp(kw, "type") == 0) {
        return sv_type(v, val, x);
    }
    if (strcmp(kw, "properties") == 0 || strcmp(kw, "required") == 0 ||
        strcmp(kw, "additionalProperties") == 0) {
        /* The three act together; applied once, for "properties" or the first present. */
        bool first = strcmp(kw, "properties") == 0 ||
                     (json_object_get(s, "properties") == NULL &&
                      (strcmp(kw, "required") == 0 || json_object_get(s, "required") == NULL));
        return !first || sv_object(v, s, x);
    }
    if (strcmp(kw, "items") == 0) {
        return sv_items(v, val, x);
    }
    if (strcmp(kw, "enum") == 0) {
        return sv_enum(v, val, x);
    }
    if (strcmp(kw, "const") == 0) {
        return json_equal(val, x) || sv_fail(v, "const: not the constant the schema wants");
    }
    if (strcmp(kw, "pattern") == 0) {
        return sv_pattern(v, val, x);
    }
    if (strcmp(kw, "minimum") == 0 || strcmp(kw, "maximum") == 0 || strcmp(kw, "minLength") == 0 ||
        strcmp(kw, "maxLength") == 0 || strcmp(kw, "minItems") == 0 ||
        strcmp(kw, "maxItems") == 0) {
        return sv_bounds(v, kw, val, x);
    }
    if (strcmp(kw, "oneOf") == 0 || strcmp(kw, "anyOf") == 0 || strcmp(kw, "allOf") == 0) {
        return sv_combine(v, kw, val, x);
    }
    return sv_is_annotation(kw) || sv_fail(v, "unsupported keyword \"%s\" in the schema", kw);
}

static bool sv_check(struct sv *v, json_t *s, json_t *x)
{
    if (json_is_true(s)) {
        return true;
    }
    if (!json_is_object(s)) {
        return sv_fail(v, "the schema is not an object or true");
    }
    if (++v->depth > SV_DEPTH_MAX) {
        return sv_fail(v, "schema nesting deeper than %d ($ref loop?)", SV_DEPTH_MAX);
    }
    const char *kw;
    json_t *val;
    bool ok = true;
    json_object_foreach(s, kw, val)
    {
        if (!sv_keyword(v, s, kw, val, x)) {
            ok = false;
            break;
        }
    }
    v->depth--;
    return ok;
}

bool th_openapi_validate(json_t *doc, json_t *schema, json_t *instance, char *why, size_t why_len)
{
    struct sv v = { .doc = doc, .why = why, .why_len = why_len };
    why[0] = '\0';
    return sv_check(&v, schema, instance);
}

json_t *th_openapi_ref(json_t *doc, json_t *node)
{
    json_t *ref = json_object_get(node, "$ref");
    return json_is_string(ref) ? sv_pointer(doc, json_string_value(ref)) : node;
}

/* NOLINTEND(misc-no-recursion,bugprone-easily-swappable-parameters) */
