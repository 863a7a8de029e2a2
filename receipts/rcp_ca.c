/* The demo CA (OpenSSL C API): a self-signed CA certificate (RSA 2048) and signing
 * certificates it issues (RSA 2048, or EC P-256 when asked; SHA-256), written as PEM files;
 * private keys are created mode 0600.
 * Production uses the agency's own certificate and key instead ([receipts] in feegate.ini).
 * The same code makes `feegate demo`'s TLS CA and its server certificate for 127.0.0.1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rcp.h"

#include "banned.h"

#define CA_DAYS     3650
#define SIGNER_DAYS 1095
#define PATH_BYTES  4096

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return false;
    }
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

static bool set_serial(X509 *cert)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return false;
    }
    raw[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    bool ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

static bool set_names(X509 *cert, X509 *issuer, const char *cn)
{
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"VN", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"feegate demo",
                                   -1, -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1) {
        return false;
    }
    return X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1;
}

/* A certificate for key, issued by (issuer, issuer_key), or self-signed when issuer is NULL
 * (then it is a CA). san (or NULL) makes it a TLS server's, for those names. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *san)
{
    X509 *cert = X509_new();
    bool ca = issuer == NULL;
    bool ok = cert != NULL && X509_set_version(cert, 2) == 1 && set_serial(cert) &&
              X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != NULL &&
              X509_gmtime_adj(X509_getm_notAfter(cert),
                              (long)(ca ? CA_DAYS : SIGNER_DAYS) * 86400) != NULL &&
              X509_set_pubkey(cert, key) == 1 && set_names(cert, issuer, cn);
    X509 *iss = ca ? cert : issuer;
    if (ok && ca) {
        ok = add_ext(cert, iss, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else if (ok && san != NULL) {
        ok = add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(cert, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             add_ext(cert, iss, NID_ext_key_usage, "serverAuth") &&
             add_ext(cert, iss, NID_subject_alt_name, san);
    } else if (ok) {
        ok = add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(cert, iss, NID_key_usage, "critical,digitalSignature,nonRepudiation");
    }
    ok = ok && add_ext(cert, iss, NID_subject_key_identifier, "hash") &&
         add_ext(cert, iss, NID_authority_key_identifier, "keyid:always") &&
         X509_sign(cert, ca ? key : issuer_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static enum gw_err write_cert(const char *path, X509 *cert, struct gw_errbuf *eb)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not write \"%s\": %s", path, GW_STRERROR(errno));
    }
    int ok = PEM_write_X509(f, cert);
    if (fclose(f) != 0 || ok != 1) {
        return gw_fail(eb, GW_ERR_IO, "could not write \"%s\"", path);
    }
    return GW_OK;
}

static enum gw_err write_key(const char *path, EVP_PKEY *key, struct gw_errbuf *eb)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0) {
            (void)close(fd);
        }
        return gw_fail(eb, GW_ERR_IO, "could not write \"%s\": %s", path, GW_STRERROR(errno));
    }
    int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || ok != 1) {
        return gw_fail(eb, GW_ERR_IO, "could not write \"%s\"", path);
    }
    return GW_OK;
}

/* What a certificate issued by the CA is for: its common name, files and (TLS) names. */
struct leaf {
    const char *cn;
    const char *cert_path;
    const char *key_path;
    const char *san; /* NULL: a signer */
    enum rcp_key_type key_type;
};

static enum gw_err issue(X509 *ca, EVP_PKEY *ca_key, const struct leaf *l, struct gw_errbuf *eb)
{
    bool ec = l->key_type == RCP_KEY_EC_P256;
    EVP_PKEY *key = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    if (key == NULL) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not generate an %s key",
                       ec ? "EC P-256" : "RSA");
    }
    const char *cert_path = l->cert_path;
    const char *key_path = l->key_path;
    X509 *cert = make_cert(l->cn, key, ca, ca_key, l->san);
    enum gw_err err = cert == NULL ? gw_fail(eb, GW_ERR_INTERNAL, "could not make the certificate")
                                   : write_key(key_path, key, eb);
    if (err == GW_OK) {
        err = write_cert(cert_path, cert, eb);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return err;
}

static enum gw_err dir_path(char *out, const char *dir, const char *file, struct gw_errbuf *eb)
{
    int n = snprintf(out, PATH_BYTES, "%s/%s", dir, file);
    if (n < 0 || n >= PATH_BYTES) {
        return gw_fail(eb, GW_ERR_LIMIT, "the directory path is too long");
    }
    return GW_OK;
}

/* A new CA: its common name, and the first certificate it issues (the files named
 * leaf_name.pem and leaf_name.key; first's paths are not used). */
struct ca_spec {
    const char *ca_cn;
    const char *leaf_name;
    struct leaf first;
};

/* DIR with ca.pem and ca.key and the spec's first certificate. */
static enum gw_err ca_init(const char *dir, const struct ca_spec *spec, struct gw_errbuf *eb)
{
    const char *ca_cn = spec->ca_cn;
    const char *leaf_name = spec->leaf_name;
    const struct leaf *first = &spec->first;
    char ca_pem[PATH_BYTES];
    char ca_key[PATH_BYTES];
    char s_pem[PATH_BYTES];
    char s_key[PATH_BYTES];
    char pem_name[64];
    char key_name[64];
    (void)snprintf(pem_name, sizeof(pem_name), "%s.pem", leaf_name);
    (void)snprintf(key_name, sizeof(key_name), "%s.key", leaf_name);
    enum gw_err err = dir_path(ca_pem, dir, "ca.pem", eb);
    if (err == GW_OK) {
        err = dir_path(ca_key, dir, "ca.key", eb);
    }
    if (err == GW_OK) {
        err = dir_path(s_pem, dir, pem_name, eb);
    }
    if (err == GW_OK) {
        err = dir_path(s_key, dir, key_name, eb);
    }
    if (err != GW_OK) {
        return err;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return gw_fail(eb, GW_ERR_IO, "could not create \"%s\": %s", dir, GW_STRERROR(errno));
    }
    struct stat st;
    if (stat(ca_pem, &st) == 0) {
        return gw_fail(eb, GW_ERR_CONFLICT, "\"%s\" exists: not overwriting a CA", ca_pem);
    }
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *ca = key != NULL ? make_cert(ca_cn, key, NULL, NULL, NULL) : NULL;
    if (ca == NULL) {
        err = gw_fail(eb, GW_ERR_INTERNAL, "could not make the CA certificate");
    }
    if (err == GW_OK) {
        err = write_key(ca_key, key, eb);
    }
    if (err == GW_OK) {
        err = write_cert(ca_pem, ca, eb);
    }
    if (err == GW_OK) {
        const struct leaf l = { first->cn, s_pem, s_key, first->san, first->key_type };
        err = issue(ca, key, &l, eb);
    }
    X509_free(ca);
    EVP_PKEY_free(key);
    return err;
}

enum gw_err rcp_ca_init(const char *dir, struct gw_errbuf *eb)
{
    const struct ca_spec spec = { .ca_cn = "feegate demo receipt CA",
                                  .leaf_name = "signer",
                                  .first = { .cn = "feegate demo agency receipt signer" } };
    return ca_init(dir, &spec, eb);
}

enum gw_err rcp_ca_init_tls(const char *dir, struct gw_errbuf *eb)
{
    const struct ca_spec spec = {
        .ca_cn = "feegate demo TLS CA",
        .leaf_name = "server",
        .first = { .cn = "127.0.0.1", .san = "IP:127.0.0.1,DNS:localhost" },
    };
    return ca_init(dir, &spec, eb);
}

static enum gw_err issue_under(const char *dir, const struct leaf *l, struct gw_errbuf *eb)
{
    char ca_pem[PATH_BYTES];
    char ca_key[PATH_BYTES];
    enum gw_err err = dir_path(ca_pem, dir, "ca.pem", eb);
    if (err == GW_OK) {
        err = dir_path(ca_key, dir, "ca.key", eb);
    }
    if (err != GW_OK) {
        return err;
    }
    FILE *fc = fopen(ca_pem, "r");
    X509 *ca = fc != NULL ? PEM_read_X509(fc, NULL, NULL, NULL) : NULL;
    if (fc != NULL) {
        (void)fclose(fc);
    }
    FILE *fk = fopen(ca_key, "r");
    EVP_PKEY *key = fk != NULL ? PEM_read_PrivateKey(fk, NULL, NULL, NULL) : NULL;
    if (fk != NULL) {
        (void)fclose(fk);
    }
    if (ca == NULL || key == NULL) {
        err = gw_fail(eb, GW_ERR_IO, "could not read the CA from \"%s\" (ca.pem, ca.key)", dir);
    } else {
        err = issue(ca, key, l, eb);
    }
    X509_free(ca);
    EVP_PKEY_free(key);
    return err;
}

enum gw_err rcp_ca_issue(const char *dir, const char *cn, const char *cert_path,
                         const char *key_path, struct gw_errbuf *eb)
{
    const struct leaf l = { .cn = cn, .cert_path = cert_path, .key_path = key_path };
    return issue_under(dir, &l, eb);
}

enum gw_err rcp_ca_issue_cert(const char *dir, const struct rcp_ca_cert *c, struct gw_errbuf *eb)
{
    const struct leaf l = {
        .cn = c->cn, .cert_path = c->cert_path, .key_path = c->key_path, .key_type = c->key_type
    };
    return issue_under(dir, &l, eb);
}
