/* The API contract check of the harness (prefix th_openapi_): every exchange a test has with
 * the portal and finance API (paths under /v1/) is checked against docs/openapi.json.
 *
 * The operation is found by method and path template; the path, query and header parameters
 * (a required header such as Idempotency-Key must be there), the request's content type and
 * its JSON body are checked against the operation, the status
 * must be one the operation documents, the response's content type one of that status, and
 * a JSON response body is validated against its schema. A request the document refuses may
 * only be answered with a 4xx (the tests send bad requests on purpose); a 2xx to it means
 * the document and the gateway disagree.
 *
 * The schema validator implements the part of JSON Schema 2020-12 the document uses: type
 * (a name or an array of names, so "null" in the array is nullable), properties, required,
 * additionalProperties (boolean or schema), items, minItems, maxItems, enum, const, pattern
 * (POSIX extended regex: the document keeps its patterns in the common subset of ECMA-262 and
 * POSIX ERE), minimum, maximum, minLength, maxLength (in code points), $ref to
 * #/components/schemas/, oneOf, anyOf, allOf. Annotations (description, example, format,
 * title, default) are ignored; any other keyword is refused, so the document cannot use a rule
 * the check would skip. */
#ifndef FG_TESTS_HARNESS_TH_OPENAPI_H
#define FG_TESTS_HARNESS_TH_OPENAPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Room for a violation's message. */
#define TH_OPENAPI_WHY_BYTES 1024

/* One request and its response, as the contract check sees them. */
struct th_api_exchange {
    const char *method;           /* "GET", "POST" */
    const char *target;           /* path and query, as sent */
    const char *req_content_type; /* or NULL */
    const char *req_body;         /* or NULL */
    size_t req_body_len;
    /* The request's headers, "Name: value", NULL-terminated; NULL: header parameters are not
     * checked (exchanges built by hand). */
    const char *const *req_headers;
    int status;
    const char *resp_content_type; /* or NULL */
    const char *resp_body;
    size_t resp_body_len;
};

/* docs/openapi.json, loaded on first use (thread-safe; the document is only read after
 * that); aborts the test program if it cannot be read. */
json_t *th_openapi_doc(void);

/* true when target is one the check covers: the portal and finance API under /v1/. The
 * citizen pages (/pay/, /return/, /receipts/, /verify/), the provider callbacks (/ipn/), the
 * operations endpoints (/healthz, /readyz, /metrics) and every path of the simulator are not
 * part of the API the document describes and are skipped. */
bool th_openapi_applies(const char *target);

/* Checks one exchange against doc. false with the operation, the JSON pointer and the rule
 * in why (TH_OPENAPI_WHY_BYTES) on a violation. */
bool th_openapi_check(json_t *doc, const struct th_api_exchange *ex, char *why, size_t why_len);

/* Validates instance against schema, resolving $ref in doc. false with the instance's JSON
 * pointer and the rule in why on a violation. */
bool th_openapi_validate(json_t *doc, json_t *schema, json_t *instance, char *why, size_t why_len);

/* node itself, or the node its "$ref" (a local reference "#/...") points to (NULL if none). */
json_t *th_openapi_ref(json_t *doc, json_t *node);

#endif
