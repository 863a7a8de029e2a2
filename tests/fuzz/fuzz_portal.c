/* What a portal client sends: a create-payment request as JSON (gw_validate_create) and as
 * protobuf (gw_pb_create_to_json, then the same validation). No crash, no sanitizer report,
 * and every verdict is either a normalised request or a 4xx with a code and a message. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw_assert.h"
#include "gw_err.h"
#include "pbconv.h"
#include "validate.h"

#include "banned.h"

/* NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_validate(json_t *req)
{
    json_t *normalized = NULL;
    struct gw_verdict v;
    memset(&v, 0, sizeof(v));
    if (gw_validate_create(req, &normalized, &v)) {
        GW_ASSERT(normalized != NULL);
        json_decref(normalized);
    } else {
        GW_ASSERT(normalized == NULL);
        GW_ASSERT(v.status >= 400 && v.status <= 499);
        GW_ASSERT(v.code[0] != '\0' && memchr(v.code, '\0', sizeof(v.code)) != NULL);
        GW_ASSERT(v.message[0] != '\0' && memchr(v.message, '\0', sizeof(v.message)) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (size_t)64 * 1024) {
        return 0;
    }
    json_error_t jerr;
    json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (req != NULL) {
        fz_validate(req);
        json_decref(req);
    }
    json_t *from_pb = NULL;
    if (gw_pb_create_to_json(data, size, &from_pb) == GW_OK) {
        GW_ASSERT(from_pb != NULL);
        fz_validate(from_pb);
        json_decref(from_pb);
    } else {
        GW_ASSERT(from_pb == NULL);
    }
    return 0;
}
