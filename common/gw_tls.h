/* TLS contexts of feegate's servers (the gateway's listener, the simulator's): OpenSSL 3,
 * TLS 1.2 and 1.3 only, the "intermediate" cipher list of Mozilla's server-side TLS
 * guidelines, ALPN http/1.1, session tickets with a lifetime (GW_TLS_SESSION_LIFETIME_S). No
 * I/O but reading the two PEM files. */
#ifndef GW_COMMON_GW_TLS_H
#define GW_COMMON_GW_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "gw_err.h"

/* TLS 1.2 suites (ECDHE and DHE with AES-GCM or ChaCha20-Poly1305) and TLS 1.3 suites. */
#define GW_TLS_CIPHERS_12                                                                      \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"   \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define GW_TLS_CIPHERS_13 \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GW_TLS_GROUPS "X25519:P-256:P-384"

/* A server's certificate chain (leaf first) and key, PEM paths. */
struct gw_tls_files {
    const char *cert_file;
    const char *key_file;
};

/* A server context with the certificate chain and the key of files, checked to match.
 * Blocking (reads the files); the caller frees it with SSL_CTX_free. */
enum gw_err gw_tls_server_ctx_new(const struct gw_tls_files *files, SSL_CTX **out,
                                  struct gw_errbuf *eb) GW_MUST_CHECK;

/* A client context that verifies the peer against ca_file (PEM), or the system store when
 * ca_file is NULL or "", TLS 1.2 and up. The caller sets the host name to check on each SSL. */
enum gw_err gw_tls_client_ctx_new(const char *ca_file, SSL_CTX **out,
                                  struct gw_errbuf *eb) GW_MUST_CHECK;

/* Sets on ssl the name the peer's certificate must hold: an IP address literal is matched
 * against the certificate's IP addresses, anything else against its DNS names (and sent as
 * SNI). False when OpenSSL refuses the name. */
bool gw_tls_client_expect_host(SSL *ssl, const char *host);

/* The reason of the last OpenSSL error of this thread (and the queue emptied), for messages. */
const char *gw_tls_error(char *buf, size_t len);

#endif
