/* TLS contexts for feegate's servers and clients, on OpenSSL 3's non-deprecated API. The
 * server side follows the "intermediate" profile of Mozilla's server-side TLS guidelines:
 * TLS 1.2 and 1.3, AEAD suites with forward secrecy, the client's choice among them (all are
 * strong), no renegotiation, no compression. */
#include "gw_tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "gw_limits.h"
#include "gw_log.h"

#include "banned.h"

const char *gw_tls_error(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        (void)snprintf(buf, len, "unknown TLS error");
    } else {
        ERR_error_string_n(e, buf, len);
    }
    ERR_clear_error();
    return buf;
}

/* ALPN (RFC 7301): http/1.1 is the one protocol served; a client that offers only others
 * gets the no_application_protocol alert. A client that offers none is served anyway. */
/* NOLINTNEXTLINE(readability-function-size): OpenSSL's callback */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    unsigned char sel_len = 0;
    if (SSL_select_next_proto(&sel, &sel_len, ours, sizeof(ours) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = sel;
    *outlen = sel_len;
    return SSL_TLSEXT_ERR_OK;
}

/* Frees ctx and fails with what could not be done to file, and OpenSSL's reason. */
static enum gw_err ctx_fail(const char *what, SSL_CTX *ctx, const char *file, struct gw_errbuf *eb)
{
    char reason[256];
    SSL_CTX_free(ctx);
    return gw_fail(eb, GW_ERR_INVALID, "could not %s \"%s\": %s", what, file,
                   gw_tls_error(reason, sizeof(reason)));
}

static bool ctx_profile(SSL_CTX *ctx)
{
    /* SSL_CTX_set1_groups_list casts its argument to char *: hand it a mutable copy rather
     * than a string literal, so that no const is cast away. */
    char groups[] = GW_TLS_GROUPS;
    bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
              SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
              SSL_CTX_set_cipher_list(ctx, GW_TLS_CIPHERS_12) == 1 &&
              SSL_CTX_set_ciphersuites(ctx, GW_TLS_CIPHERS_13) == 1 &&
              SSL_CTX_set1_groups_list(ctx, groups) == 1;
    (void)SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    return ok;
}

enum gw_err gw_tls_server_ctx_new(const struct gw_tls_files *files, SSL_CTX **out,
                                  struct gw_errbuf *eb)
{
    *out = NULL;
    const char *cert_file = files->cert_file;
    const char *key_file = files->key_file;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "could not make a TLS context");
    }
    if (!ctx_profile(ctx) || SSL_CTX_set_dh_auto(ctx, 1) != 1) {
        return ctx_fail("set the TLS profile for", ctx, cert_file, eb);
    }
    (void)SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Sessions: resumption by ticket (TLS 1.3, and 1.2 with the ticket extension) or by the
     * server's cache, each good for GW_TLS_SESSION_LIFETIME_S; the ticket key is the
     * context's own, random, replaced with it on reload. */
    (void)SSL_CTX_set_timeout(ctx, GW_TLS_SESSION_LIFETIME_S);
    (void)SSL_CTX_set_num_tickets(ctx, GW_TLS_TICKETS_PER_HANDSHAKE);
    (void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        return ctx_fail("read the TLS certificate", ctx, cert_file, eb);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        return ctx_fail("read the TLS key", ctx, key_file, eb);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return ctx_fail("match the TLS key with the certificate", ctx, cert_file, eb);
    }
    *out = ctx;
    return GW_OK;
}

/* A peer refused: the reason goes to the log (the caller sees only a call without answer). */
static int client_verify(int ok, X509_STORE_CTX *store)
{
    if (ok == 0) {
        char subject[256] = "";
        X509 *cert = X509_STORE_CTX_get_current_cert(store);
        if (cert != NULL) {
            (void)X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
        }
        char esc[300];
        int e = X509_STORE_CTX_get_error(store);
        gw_log_error("tls_peer_refused", "\"reason\":\"%s\",\"depth\":%d,\"subject\":\"%s\"",
                     X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(store),
                     gw_log_esc(esc, sizeof(esc), subject));
    }
    return ok;
}

enum gw_err gw_tls_client_ctx_new(const char *ca_file, SSL_CTX **out, struct gw_errbuf *eb)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "could not make a TLS context");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, client_verify);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        return ctx_fail("set the TLS profile for", ctx, "client", eb);
    }
    bool has_ca = ca_file != NULL && ca_file[0] != '\0';
    int rc =
        has_ca ? SSL_CTX_load_verify_file(ctx, ca_file) : SSL_CTX_set_default_verify_paths(ctx);
    if (rc != 1) {
        return ctx_fail("read the CA file", ctx, has_ca ? ca_file : "(system store)", eb);
    }
    *out = ctx;
    return GW_OK;
}

bool gw_tls_client_expect_host(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    unsigned char addr[16];
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
        return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1;
    }
    char sni[256]; /* the macro casts away const: give it a copy */
    int n = snprintf(sni, sizeof(sni), "%s", host);
    if (n <= 0 || (size_t)n >= sizeof(sni)) {
        return false;
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set_tlsext_host_name(ssl, sni) == 1 &&
           X509_VERIFY_PARAM_set1_host(param, host, 0) == 1;
}
