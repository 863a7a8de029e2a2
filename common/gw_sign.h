/* The portal request signature, version 1: the one definition of what it covers, used by
 * the gateway's verifier, `feegate request`, the signed webhooks to portals and the load
 * generator. The string to sign is
 *     METHOD \n PATH_AND_QUERY \n TIMESTAMP \n hex SHA-256(body)
 * and the X-Feegate-Signature value is "v1=" + hex HMAC-SHA256(client secret, that string). */
#ifndef GW_COMMON_GW_SIGN_H
#define GW_COMMON_GW_SIGN_H

#include <stddef.h>

#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_err.h"

#define GW_SIGN_V1_PREFIX     "v1="
#define GW_SIGN_V1_PREFIX_LEN 3
#define GW_SIGN_V1_BYTES      (GW_SIGN_V1_PREFIX_LEN + GW_SHA256_HEX_BYTES) /* with the NUL */

/* What the signature covers (a struct: four strings in a row are easily swapped). */
struct gw_sign_req {
    const char *method;         /* "GET", "POST" */
    const char *path_and_query; /* as on the request line: "/v1/payments?x=1" */
    const char *ts;             /* Unix seconds, exactly as sent in X-Feegate-Timestamp */
    const void *body;           /* NULL only with body_len 0 */
    size_t body_len;
};

/* Appends the string to sign for r to out (for diagnostics and tests; gw_sign_v1 MACs the
 * same pieces without building it). */
enum gw_err gw_sign_string(const struct gw_sign_req *r, struct gw_buf *out) GW_MUST_CHECK;

/* The X-Feegate-Signature value for r under secret into out: "v1=" + 64 lowercase hex. */
void gw_sign_v1(const char *secret, size_t secret_len, const struct gw_sign_req *r,
                char out[GW_SIGN_V1_BYTES]);

#endif
