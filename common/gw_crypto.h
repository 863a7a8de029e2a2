/* MACs, digests, hex and constant-time comparison (OpenSSL 3 EVP underneath). Keys are
 * the literal bytes of the secret string, as every provider requires
 * (docs/providers.md#hmac-basics). */
#ifndef GW_COMMON_GW_CRYPTO_H
#define GW_COMMON_GW_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_err.h"

#define GW_SHA256_HEX_BYTES 65  /* 64 hex + NUL */
#define GW_SHA512_HEX_BYTES 129 /* 128 hex + NUL */

/* Lowercase hex of HMAC-SHA256(key, data) into out[GW_SHA256_HEX_BYTES]. */
void gw_hmac_sha256_hex(const char *key, size_t key_len, const void *data, size_t data_len,
                        char out[GW_SHA256_HEX_BYTES]);

/* A run of bytes of a message that is MACed in pieces. */
struct gw_span {
    const void *p;
    size_t n;
};

/* Lowercase hex of HMAC-SHA256(key, the spans one after another): no copy of the message. */
void gw_hmac_sha256_spans_hex(const char *key, size_t key_len, const struct gw_span *spans,
                              size_t n_spans, char out[GW_SHA256_HEX_BYTES]);
/* Lowercase hex of HMAC-SHA512(key, data) into out[GW_SHA512_HEX_BYTES]. */
void gw_hmac_sha512_hex(const char *key, size_t key_len, const void *data, size_t data_len,
                        char out[GW_SHA512_HEX_BYTES]);
/* Lowercase hex of SHA-256(data). */
void gw_sha256_hex(const void *data, size_t data_len, char out[GW_SHA256_HEX_BYTES]);

/* Constant-time equality of two hex strings, ignoring ASCII case; false when the lengths
 * differ (the length is not secret). */
bool gw_hex_equal_ct(const char *a, size_t a_len, const char *b, size_t b_len);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void gw_hex_encode(const void *p, size_t n, char *out);
/* Fills p with n bytes from the OS CSPRNG. */
enum gw_err gw_random_bytes(void *p, size_t n) GW_MUST_CHECK;

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Fuzz builds only (-DFEEGATE_FUZZ=ON, tests/fuzz): while true, gw_hex_equal_ct says equal,
 * so the parsing behind a signature check is fuzzed too. Never compiled into feegate. */
extern bool gw_fuzz_signatures_pass;
#endif

#endif
