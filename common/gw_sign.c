/* The portal signature v1. The string to sign is laid out once, as spans, by sign_spans:
 * the MAC is computed over those spans and gw_sign_string concatenates the same spans, so
 * the two can never disagree. */
#include "gw_sign.h"

#include <stdio.h>
#include <string.h>

#include "gw_assert.h"
#include "gw_crypto.h"

#include "banned.h"

#define SIGN_SPANS 7 /* four fields and the three newlines between them */

static void sign_spans(const struct gw_sign_req *r, const char body_hex[GW_SHA256_HEX_BYTES],
                       struct gw_span spans[SIGN_SPANS])
{
    GW_ASSERT(r->method != NULL && r->path_and_query != NULL && r->ts != NULL);
    GW_ASSERT(r->body != NULL || r->body_len == 0);
    spans[0] = (struct gw_span){ r->method, strlen(r->method) };
    spans[1] = (struct gw_span){ "\n", 1 };
    spans[2] = (struct gw_span){ r->path_and_query, strlen(r->path_and_query) };
    spans[3] = (struct gw_span){ "\n", 1 };
    spans[4] = (struct gw_span){ r->ts, strlen(r->ts) };
    spans[5] = (struct gw_span){ "\n", 1 };
    spans[6] = (struct gw_span){ body_hex, GW_SHA256_HEX_BYTES - 1 };
}

static void sign_body_hex(const struct gw_sign_req *r, char out[GW_SHA256_HEX_BYTES])
{
    gw_sha256_hex(r->body != NULL ? r->body : "", r->body_len, out);
}

enum gw_err gw_sign_string(const struct gw_sign_req *r, struct gw_buf *out)
{
    char body_hex[GW_SHA256_HEX_BYTES];
    struct gw_span spans[SIGN_SPANS];
    sign_body_hex(r, body_hex);
    sign_spans(r, body_hex, spans);
    for (size_t i = 0; i < SIGN_SPANS; i++) {
        enum gw_err err = gw_buf_add(out, spans[i].p, spans[i].n);
        if (err != GW_OK) {
            return err;
        }
    }
    return GW_OK;
}

void gw_sign_v1(const char *secret, size_t secret_len, const struct gw_sign_req *r,
                char out[GW_SIGN_V1_BYTES])
{
    char body_hex[GW_SHA256_HEX_BYTES];
    struct gw_span spans[SIGN_SPANS];
    sign_body_hex(r, body_hex);
    sign_spans(r, body_hex, spans);
    char mac[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_spans_hex(secret, secret_len, spans, SIGN_SPANS, mac);
    int w = snprintf(out, GW_SIGN_V1_BYTES, "%s%s", GW_SIGN_V1_PREFIX, mac);
    GW_ASSERT(w == GW_SIGN_V1_BYTES - 1);
}
