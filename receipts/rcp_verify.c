/* Offline verification of a receipt XML, saying exactly what does not match: the XML, the
 * structure, the signing certificate's chain to the CA (OpenSSL, with its own error), the
 * digest of the signed content, the signature value, and the total and its words against
 * the lines. Also the XSD check the tests run. */
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "gw_arena.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_money.h"
#include "rcp.h"
#include "rcp_int.h"

#include "banned.h"

#define CERT_B64_BYTES_MAX 16384

static void set_reason(struct rcp_verify_result *out, enum rcp_verdict verdict, const char *fmt,
                       ...) GW_PRINTF(3, 4);

static void set_reason(struct rcp_verify_result *out, enum rcp_verdict verdict, const char *fmt,
                       ...)
{
    out->valid = false;
    out->verdict = verdict;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

/* The enveloped ds:Signature: a direct child of the root. */
static xmlNodePtr find_signature(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr c = root->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
            xmlStrEqual(c->ns->href, RCP_X(RCP_DSIG_NS)) &&
            xmlStrEqual(c->name, RCP_X("Signature"))) {
            return c;
        }
    }
    return NULL;
}

/* The first ds:X509Certificate under the signature's KeyInfo, decoded; NULL if none. */
static X509 *signing_cert(xmlNodePtr sig)
{
    xmlNodePtr n = xmlSecFindNode(sig, RCP_X("X509Certificate"), RCP_X(RCP_DSIG_NS));
    if (n == NULL) {
        return NULL;
    }
    xmlChar *b64 = xmlNodeGetContent(n);
    if (b64 == NULL) {
        return NULL;
    }
    static _Thread_local unsigned char clean[CERT_B64_BYTES_MAX];
    static _Thread_local unsigned char der[CERT_B64_BYTES_MAX];
    size_t len = 0;
    for (const xmlChar *p = b64; *p != '\0' && len < sizeof(clean) - 1; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            clean[len++] = *p;
        }
    }
    clean[len] = '\0';
    xmlFree(b64);
    int n_der = len % 4 == 0 ? EVP_DecodeBlock(der, clean, (int)len) : -1;
    if (n_der <= 0) {
        return NULL;
    }
    const unsigned char *p = der;
    return d2i_X509(NULL, &p, n_der);
}

static void cert_identity(X509 *x, struct rcp_verify_result *out)
{
    (void)X509_NAME_oneline(X509_get_subject_name(x), out->signer, (int)sizeof(out->signer));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32) {
        gw_hex_encode(md, n, out->fingerprint);
    }
}

/* Does x chain to a CA certificate of ca_path? On failure, why, into out. */
static enum gw_err check_chain(X509 *x, const char *ca_path, struct rcp_verify_result *out,
                               struct gw_errbuf *eb)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    enum gw_err err = GW_OK;
    if (store == NULL || ctx == NULL) {
        err = gw_fail(eb, GW_ERR_NOMEM, "out of memory checking the certificate");
    } else if (X509_STORE_load_file(store, ca_path) != 1) {
        err = gw_fail(eb, GW_ERR_IO, "could not load the CA certificate \"%s\"", ca_path);
    } else if (X509_STORE_CTX_init(ctx, store, x, NULL) != 1) {
        err = gw_fail(eb, GW_ERR_INTERNAL, "could not set up the certificate check");
    } else if (X509_verify_cert(ctx) != 1) {
        char msg[256];
        (void)snprintf(msg, sizeof(msg), "%s (%.180s)",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)), out->signer);
        set_reason(out, RCP_VERDICT_UNTRUSTED,
                   "the signing certificate does not chain to the CA: %s", msg);
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return err;
}

/* Which part of the signature failed: a reference's digest, or the signature value. */
static void signature_failure(xmlSecDSigCtxPtr ctx, struct rcp_verify_result *out)
{
    xmlSecSize n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
    for (xmlSecSize i = 0; i < n; i++) {
        xmlSecDSigReferenceCtxPtr ref = xmlSecPtrListGetItem(&ctx->signedInfoReferences, i);
        if (ref != NULL && ref->status == xmlSecDSigStatusInvalid) {
            set_reason(out, RCP_VERDICT_ALTERED,
                       "the digest of the signed content does not match: the receipt was "
                       "changed after it was signed");
            return;
        }
    }
    set_reason(out, RCP_VERDICT_ALTERED,
               "the signature value does not match the signed digest: the signature or "
               "its SignedInfo was changed, or another key made it");
}

static enum gw_err check_signature(xmlNodePtr sig, const char *ca_path,
                                   struct rcp_verify_result *out, struct gw_errbuf *eb)
{
    xmlSecKeysMngrPtr mngr = xmlSecKeysMngrCreate();
    if (mngr == NULL || xmlSecCryptoAppDefaultKeysMngrInit(mngr) < 0) {
        xmlSecKeysMngrDestroy(mngr);
        return gw_fail(eb, GW_ERR_NOMEM, "could not create a keys manager");
    }
    if (xmlSecCryptoAppKeysMngrCertLoad(mngr, ca_path, xmlSecKeyDataFormatPem,
                                        xmlSecKeyDataTypeTrusted) < 0) {
        xmlSecKeysMngrDestroy(mngr);
        return gw_fail(eb, GW_ERR_IO, "could not load the CA certificate \"%s\"", ca_path);
    }
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(mngr);
    enum gw_err err = GW_OK;
    if (ctx == NULL) {
        err = gw_fail(eb, GW_ERR_NOMEM, "could not create a signature context");
    } else if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
        /* No key could be taken from KeyInfo, or the signature's markup is broken. */
        set_reason(out, RCP_VERDICT_ALTERED,
                   "the signature could not be processed: its markup, algorithms or key "
                   "information were changed");
    } else if (ctx->status != xmlSecDSigStatusSucceeded) {
        signature_failure(ctx, out);
    }
    xmlSecDSigCtxDestroy(ctx);
    xmlSecKeysMngrDestroy(mngr);
    return err;
}

/* Reads the receipt's identity into out for the report; and when everything else held, what
 * was signed must also add up: the total is the sum of the lines, the words its words. */
static void check_content(xmlDocPtr doc, struct rcp_verify_result *out)
{
    bool judge = out->valid;
    struct gw_arena a;
    gw_arena_init(&a, 16384, GW_ARENA_BYTES_MAX);
    struct rcp_receipt r;
    struct gw_errbuf eb = { .msg = "" };
    if (rcp_receipt_from_doc(doc, &a, &r, &eb) != GW_OK) {
        if (judge) {
            set_reason(out, RCP_VERDICT_NOT_RECEIPT, "the receipt's content is incomplete: %s",
                       eb.msg);
        }
        gw_arena_release(&a);
        return;
    }
    (void)snprintf(out->id, sizeof(out->id), "%s", r.id);
    (void)snprintf(out->tmpl, sizeof(out->tmpl), "%s", r.tmpl);
    (void)snprintf(out->series, sizeof(out->series), "%s", r.series);
    (void)snprintf(out->number, sizeof(out->number), "%s", r.number);
    out->total_vnd = r.total_vnd;
    if (!judge) {
        gw_arena_release(&a);
        return;
    }
    int64_t sum = 0;
    bool ok = true;
    for (size_t i = 0; i < r.n_items && ok; i++) {
        ok = gw_vnd_add(sum, r.items[i].amount_vnd, &sum);
    }
    char words[RCP_WORDS_BYTES];
    const char *given = rcp_xml_text(xmlDocGetRootElement(doc), "TotalInWords", &a);
    if (!ok || sum != r.total_vnd) {
        set_reason(out, RCP_VERDICT_INCONSISTENT, "the total does not equal the sum of the lines");
    } else if (rcp_words_vnd(r.total_vnd, 0, words, sizeof(words), &eb) != GW_OK || given == NULL ||
               strcmp(words, given) != 0) {
        set_reason(out, RCP_VERDICT_INCONSISTENT,
                   "the amount in words does not match the total: expected \"%.400s\"", words);
    }
    gw_arena_release(&a);
}

enum gw_err rcp_xml_verify(const char *xml, size_t len, const char *ca_path,
                           struct rcp_verify_result *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    enum gw_err err = rcp_init(eb);
    if (err != GW_OK) {
        return err;
    }
    xmlDocPtr doc = NULL;
    struct gw_errbuf peb = { .msg = "" };
    if (rcp_xml_parse(xml, len, &doc, &peb) != GW_OK) {
        set_reason(out, RCP_VERDICT_NOT_RECEIPT, "%s", peb.msg);
        return GW_OK;
    }
    out->valid = true;
    xmlNodePtr sig = find_signature(doc);
    X509 *cert = sig != NULL ? signing_cert(sig) : NULL;
    if (sig == NULL) {
        set_reason(out, RCP_VERDICT_NOT_SIGNED,
                   "the receipt is not signed (no enveloped ds:Signature)");
    } else if (cert == NULL) {
        set_reason(out, RCP_VERDICT_NOT_SIGNED,
                   "the signature carries no readable X.509 signing certificate");
    } else {
        cert_identity(cert, out);
        err = check_chain(cert, ca_path, out, eb);
    }
    if (err == GW_OK && out->valid) {
        err = check_signature(sig, ca_path, out, eb);
    }
    if (err == GW_OK) {
        check_content(doc, out);
    }
    X509_free(cert);
    xmlFreeDoc(doc);
    return err;
}

enum gw_err rcp_xml_validate_xsd(const char *xml, size_t len, const char *xsd_path,
                                 struct gw_errbuf *eb)
{
    xmlDocPtr doc = NULL;
    enum gw_err err = rcp_xml_parse(xml, len, &doc, eb);
    if (err != GW_OK) {
        return err;
    }
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(xsd_path);
    xmlSchemaPtr schema = pctx != NULL ? xmlSchemaParse(pctx) : NULL;
    xmlSchemaValidCtxtPtr vctx = schema != NULL ? xmlSchemaNewValidCtxt(schema) : NULL;
    if (vctx == NULL) {
        err = gw_fail(eb, GW_ERR_INVALID, "could not load the schema \"%s\"", xsd_path);
    } else {
        xmlSetStructuredErrorFunc(NULL, NULL);
        int rc = xmlSchemaValidateDoc(vctx, doc);
        if (rc != 0) {
            const xmlError *e = xmlGetLastError();
            err = gw_fail(eb, GW_ERR_INVALID, "not valid against %s: line %d: %s", xsd_path,
                          e != NULL ? e->line : 0,
                          e != NULL && e->message != NULL ? e->message : "invalid");
        }
    }
    xmlSchemaFreeValidCtxt(vctx);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pctx);
    xmlFreeDoc(doc);
    return err;
}
