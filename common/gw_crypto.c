/* HMAC, SHA-256, hex and constant-time comparison over OpenSSL 3 EVP. The HMAC algorithm
 * object is fetched once per process (fetching is a provider lookup under a lock); each call
 * makes its own short-lived context, so the functions are thread-safe. OpenSSL failures here
 * mean memory exhaustion or a broken library, which the switch cannot handle correctly:
 * they abort through GW_ASSERT. */
#include "gw_crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "gw_assert.h"

#include "banned.h"

static EVP_MAC *crypto_hmac;
static pthread_once_t crypto_hmac_once = PTHREAD_ONCE_INIT;

static void crypto_hmac_fetch(void)
{
    crypto_hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
}

/* Raw HMAC of the spans under key with the named digest into out (at least EVP_MAX_MD_SIZE). */
static size_t crypto_hmac_raw(const char *digest, const char *key, size_t key_len,
                              const struct gw_span *spans, size_t n_spans, unsigned char *out)
{
    GW_ASSERT(pthread_once(&crypto_hmac_once, crypto_hmac_fetch) == 0);
    GW_ASSERT(crypto_hmac != NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(crypto_hmac);
    GW_ASSERT(ctx != NULL);
    OSSL_PARAM params[] = {
        /* NOLINTNEXTLINE(performance-no-int-to-ptr): OpenSSL only reads it; no -Wcast-qual */
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)digest, 0),
        OSSL_PARAM_construct_end(),
    };
    /* An empty secret is legal HMAC (the key is zero-padded); OpenSSL wants a non-NULL
     * pointer to take it as a key at all. */
    static const unsigned char empty_key[1];
    const unsigned char *k = key_len == 0 ? empty_key : (const unsigned char *)key;
    GW_ASSERT(EVP_MAC_init(ctx, k, key_len, params) == 1);
    for (size_t i = 0; i < n_spans; i++) {
        GW_ASSERT(EVP_MAC_update(ctx, spans[i].p, spans[i].n) == 1);
    }
    size_t out_len = 0;
    GW_ASSERT(EVP_MAC_final(ctx, out, &out_len, EVP_MAX_MD_SIZE) == 1);
    EVP_MAC_CTX_free(ctx);
    return out_len;
}

void gw_hmac_sha256_spans_hex(const char *key, size_t key_len, const struct gw_span *spans,
                              size_t n_spans, char out[GW_SHA256_HEX_BYTES])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t n = crypto_hmac_raw("SHA256", key, key_len, spans, n_spans, mac);
    GW_ASSERT(n * 2 + 1 == GW_SHA256_HEX_BYTES);
    gw_hex_encode(mac, n, out);
}

void gw_hmac_sha256_hex(const char *key, size_t key_len, const void *data, size_t data_len,
                        char out[GW_SHA256_HEX_BYTES])
{
    gw_hmac_sha256_spans_hex(key, key_len, &(struct gw_span){ data, data_len }, 1, out);
}

void gw_hmac_sha512_hex(const char *key, size_t key_len, const void *data, size_t data_len,
                        char out[GW_SHA512_HEX_BYTES])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t n = crypto_hmac_raw("SHA512", key, key_len, &(struct gw_span){ data, data_len }, 1, mac);
    GW_ASSERT(n * 2 + 1 == GW_SHA512_HEX_BYTES);
    gw_hex_encode(mac, n, out);
}

void gw_sha256_hex(const void *data, size_t data_len, char out[GW_SHA256_HEX_BYTES])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    GW_ASSERT(EVP_Digest(data, data_len, md, &n, EVP_sha256(), NULL) == 1);
    GW_ASSERT((size_t)n * 2 + 1 == GW_SHA256_HEX_BYTES);
    gw_hex_encode(md, n, out);
}

/* ASCII lower case without a data-dependent branch. */
static unsigned char crypto_lower(unsigned char c)
{
    unsigned int is_upper = (unsigned int)((unsigned int)(c - 'A') < 26u);
    return (unsigned char)(c | (is_upper << 5));
}

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
bool gw_fuzz_signatures_pass;
#endif

bool gw_hex_equal_ct(const char *a, size_t a_len, const char *b, size_t b_len)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (gw_fuzz_signatures_pass) {
        return true;
    }
#endif
    if (a_len != b_len) {
        return false;
    }
    /* Normalise case in chunks and compare each with CRYPTO_memcmp: the time depends on the
     * length only, never on where the strings differ. */
    unsigned char ca[64];
    unsigned char cb[64];
    int diff = 0;
    for (size_t off = 0; off < a_len; off += sizeof(ca)) {
        size_t n = a_len - off < sizeof(ca) ? a_len - off : sizeof(ca);
        for (size_t i = 0; i < n; i++) {
            ca[i] = crypto_lower((unsigned char)a[off + i]);
            cb[i] = crypto_lower((unsigned char)b[off + i]);
        }
        diff |= CRYPTO_memcmp(ca, cb, n);
    }
    return diff == 0;
}

void gw_hex_encode(const void *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *in = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15u];
    }
    out[2 * n] = '\0';
}

enum gw_err gw_random_bytes(void *p, size_t n)
{
    if (n > INT_MAX) {
        return GW_ERR_LIMIT;
    }
    if (n == 0) {
        return GW_OK;
    }
    return RAND_bytes(p, (int)n) == 1 ? GW_OK : GW_ERR_IO;
}
