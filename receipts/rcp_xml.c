/* The receipt XML (docs/receipt.xsd): built with libxml2's tree API (it escapes), signed
 * with an enveloped XML-DSig (xmlsec, OpenSSL backend: RSA-SHA256 or ECDSA-SHA256 on P-256,
 * as the signing key is, over the whole document minus the signature, exclusive C14N, the
 * signing certificate in KeyInfo), so that the stock `xmlsec1 --verify --trusted-pem CA`
 * accepts it. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gw_arena.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "rcp.h"
#include "rcp_int.h"

#include "banned.h"

static pthread_once_t rcp_once = PTHREAD_ONCE_INIT;
static int rcp_init_rc = -1;

/* xmlsec and libxml2 print their errors on stderr by default; rcp_ reports its own. */
static void rcp_quiet_xmlsec(const char *file, int line, const char *func, const char *obj,
                             const char *subj, int reason, const char *msg)
{
    (void)file;
    (void)line;
    (void)func;
    (void)obj;
    (void)subj;
    (void)reason;
    (void)msg;
}

static void rcp_quiet_xml(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void rcp_init_once(void)
{
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, rcp_quiet_xml);
    if (xmlSecInit() < 0) {
        return;
    }
    if (xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0) {
        return;
    }
    if (xmlSecCryptoInit() < 0) {
        return;
    }
    xmlSecErrorsSetCallback(rcp_quiet_xmlsec);
    rcp_init_rc = 0;
}

enum gw_err rcp_init(struct gw_errbuf *eb)
{
    if (pthread_once(&rcp_once, rcp_init_once) != 0 || rcp_init_rc != 0) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not initialise xmlsec with OpenSSL");
    }
    return GW_OK;
}

/* ---- the signer ---- */

struct rcp_signer {
    xmlSecKeyPtr key;         /* private key with its certificate */
    xmlSecTransformId method; /* RSA-SHA256 or ECDSA-SHA256, from the key's type */
    const char *algorithm;    /* its name, for logs and docs/receipts.md#signing */
    char fingerprint[65];
};

/* An EC signing key must be on P-256 (prime256v1): the one curve docs/receipts.md promises
 * verifiers, and the one ECDSA-SHA256 is paired with. xmlsec does not say the curve, so the
 * PEM is read again with OpenSSL. */
static enum gw_err check_ec_curve(const char *key_path, struct gw_errbuf *eb)
{
    FILE *f = fopen(key_path, "r");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\"", key_path);
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    (void)fclose(f);
    char group[64] = "";
    size_t n = 0;
    bool ok = k != NULL && EVP_PKEY_get_group_name(k, group, sizeof(group), &n) == 1 &&
              strcmp(group, "prime256v1") == 0;
    EVP_PKEY_free(k);
    if (!ok) {
        return gw_fail(eb, GW_ERR_INVALID, "\"%s\" is an EC key on %s, not P-256 (prime256v1)",
                       key_path, group[0] != '\0' ? group : "an unknown curve");
    }
    return GW_OK;
}

/* The signature method the key's type calls for; NULL (and eb set) for any other key. */
static xmlSecTransformId key_method(xmlSecKeyPtr key, const char *key_path, struct gw_errbuf *eb)
{
    if (xmlSecKeyCheckId(key, xmlSecKeyDataRsaId)) {
        return xmlSecTransformRsaSha256Id;
    }
    if (xmlSecKeyCheckId(key, xmlSecKeyDataEcdsaId)) {
        return check_ec_curve(key_path, eb) == GW_OK ? xmlSecTransformEcdsaSha256Id : NULL;
    }
    (void)gw_fail(eb, GW_ERR_INVALID, "\"%s\" is neither an RSA key nor an EC P-256 key", key_path);
    return NULL;
}

static enum gw_err cert_fingerprint(const char *cert_path, char out[65], struct gw_errbuf *eb)
{
    FILE *f = fopen(cert_path, "r");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\"", cert_path);
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    (void)fclose(f);
    if (x == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "\"%s\" holds no PEM certificate", cert_path);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = X509_digest(x, EVP_sha256(), md, &n);
    X509_free(x);
    if (ok != 1 || n != 32) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not hash the certificate");
    }
    gw_hex_encode(md, n, out);
    return GW_OK;
}

enum gw_err rcp_signer_load(const char *cert_path, const char *key_path, struct rcp_signer **out,
                            struct gw_errbuf *eb)
{
    *out = NULL;
    enum gw_err err = rcp_init(eb);
    if (err != GW_OK) {
        return err;
    }
    xmlSecKeyPtr key = xmlSecCryptoAppKeyLoad(key_path, xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    if (key == NULL) {
        return gw_fail(eb, GW_ERR_INVALID, "could not load the private key \"%s\"", key_path);
    }
    xmlSecTransformId method = key_method(key, key_path, eb);
    if (method == NULL) {
        xmlSecKeyDestroy(key);
        return GW_ERR_INVALID;
    }
    if (xmlSecCryptoAppKeyCertLoad(key, cert_path, xmlSecKeyDataFormatPem) < 0) {
        xmlSecKeyDestroy(key);
        return gw_fail(eb, GW_ERR_INVALID, "could not load the certificate \"%s\"", cert_path);
    }
    struct rcp_signer *s = gw_xcalloc(1, sizeof(*s));
    s->key = key;
    s->method = method;
    s->algorithm = method == xmlSecTransformEcdsaSha256Id ? "ecdsa-sha256" : "rsa-sha256";
    err = cert_fingerprint(cert_path, s->fingerprint, eb);
    if (err != GW_OK) {
        rcp_signer_free(s);
        return err;
    }
    *out = s;
    return GW_OK;
}

void rcp_signer_free(struct rcp_signer *s)
{
    if (s == NULL) {
        return;
    }
    xmlSecKeyDestroy(s->key);
    gw_xfree(s);
}

const char *rcp_signer_fingerprint(const struct rcp_signer *s)
{
    return s->fingerprint;
}

const char *rcp_signer_algorithm(const struct rcp_signer *s)
{
    return s->algorithm;
}

/* ---- building ---- */

static void add_text(xmlNodePtr parent, const char *name, const char *value, bool optional)
{
    if (optional && (value == NULL || value[0] == '\0')) {
        return;
    }
    (void)xmlNewTextChild(parent, parent->ns, RCP_X(name), RCP_X(value != NULL ? value : ""));
}

static void add_amount(xmlNodePtr parent, const char *name, int64_t v)
{
    char s[24];
    (void)snprintf(s, sizeof(s), "%lld", (long long)v);
    add_text(parent, name, s, false);
}

static void add_party(xmlNodePtr root, const char *name, const struct rcp_party *p, bool collector)
{
    xmlNodePtr n = xmlNewChild(root, root->ns, RCP_X(name), NULL);
    add_text(n, "Name", p->name, false);
    if (collector) {
        add_text(n, "TaxCode", p->tax_code, false);
    } else {
        add_text(n, "IdNumber", p->id_number, true);
    }
    add_text(n, "Address", p->address, true);
}

static void add_items(xmlNodePtr root, const struct rcp_receipt *r)
{
    xmlNodePtr items = xmlNewChild(root, root->ns, RCP_X("Items"), NULL);
    for (size_t i = 0; i < r->n_items; i++) {
        xmlNodePtr it = xmlNewChild(items, root->ns, RCP_X("Item"), NULL);
        char line[24];
        (void)snprintf(line, sizeof(line), "%zu", i + 1);
        (void)xmlNewProp(it, RCP_X("line"), RCP_X(line));
        add_text(it, "FeeCode", r->items[i].fee_code, false);
        add_text(it, "Name", r->items[i].name, false);
        add_amount(it, "AmountVnd", r->items[i].amount_vnd);
    }
}

static enum gw_err build_doc(const struct rcp_receipt *r, xmlDocPtr *out, struct gw_errbuf *eb)
{
    char words[RCP_WORDS_BYTES];
    enum gw_err err = rcp_words_vnd(r->total_vnd, 0, words, sizeof(words), eb);
    if (err != GW_OK) {
        return err;
    }
    xmlDocPtr doc = xmlNewDoc(RCP_X("1.0"));
    xmlNodePtr root = xmlNewNode(NULL, RCP_X("Receipt"));
    xmlSetNs(root, xmlNewNs(root, RCP_X(RCP_NS), NULL));
    (void)xmlDocSetRootElement(doc, root);
    (void)xmlNewProp(root, RCP_X("id"), RCP_X(r->id));
    (void)xmlNewProp(root, RCP_X("version"), RCP_X("1"));
    add_text(root, "Title", RCP_TITLE, false);
    add_text(root, "Kind", r->kind, false);
    add_text(root, "Template", r->tmpl, false);
    add_text(root, "Series", r->series, false);
    add_text(root, "Number", r->number, false);
    add_text(root, "IssuedAt", r->issued_at, false);
    add_party(root, "Collector", &r->collector, true);
    add_party(root, "Payer", &r->payer, false);
    xmlNodePtr pay = xmlNewChild(root, root->ns, RCP_X("Payment"), NULL);
    add_text(pay, "Id", r->payment_id, false);
    add_text(pay, "OrderRef", r->order_ref, true);
    add_text(pay, "Channel", r->channel, true);
    add_text(pay, "ChannelName", r->channel_name, true);
    add_text(pay, "ProviderTxnId", r->provider_txn_id, true);
    add_items(root, r);
    add_amount(root, "TotalVnd", r->total_vnd);
    add_text(root, "TotalInWords", words, false);
    if (r->original.number != NULL && r->original.number[0] != '\0') {
        xmlNodePtr o = xmlNewChild(root, root->ns, RCP_X("Original"), NULL);
        add_text(o, "Template", r->original.tmpl, false);
        add_text(o, "Series", r->original.series, false);
        add_text(o, "Number", r->original.number, false);
        add_text(o, "IssuedAt", r->original.issued_at, false);
        add_text(o, "Reason", r->original.reason, false);
    }
    add_text(root, "VerifyUrl", r->verify_url, false);
    *out = doc;
    return GW_OK;
}

static enum gw_err sign_doc(xmlDocPtr doc, const struct rcp_signer *signer, struct gw_errbuf *eb)
{
    xmlNodePtr sig =
        xmlSecTmplSignatureCreate(doc, xmlSecTransformExclC14NId, signer->method, NULL);
    if (sig == NULL) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not create the signature template");
    }
    (void)xmlAddChild(xmlDocGetRootElement(doc), sig);
    xmlNodePtr ref =
        xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL, RCP_X(""), NULL);
    xmlNodePtr ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
    xmlNodePtr x509 = ki != NULL ? xmlSecTmplKeyInfoAddX509Data(ki) : NULL;
    if (ref == NULL || xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == NULL ||
        xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == NULL || x509 == NULL ||
        xmlSecTmplX509DataAddSubjectName(x509) == NULL ||
        xmlSecTmplX509DataAddCertificate(x509) == NULL) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not fill the signature template");
    }
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    if (ctx == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "could not create a signature context");
    }
    ctx->signKey = xmlSecKeyDuplicate(signer->key);
    int rc = ctx->signKey != NULL ? xmlSecDSigCtxSign(ctx, sig) : -1;
    xmlSecDSigCtxDestroy(ctx);
    if (rc < 0) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not sign the receipt");
    }
    return GW_OK;
}

enum gw_err rcp_xml_build(const struct rcp_receipt *r, const struct rcp_signer *signer,
                          struct gw_buf *out, struct gw_errbuf *eb)
{
    enum gw_err err = rcp_init(eb);
    if (err != GW_OK) {
        return err;
    }
    xmlDocPtr doc = NULL;
    err = build_doc(r, &doc, eb);
    if (err != GW_OK) {
        return err;
    }
    if (signer != NULL) {
        err = sign_doc(doc, signer, eb);
    }
    if (err == GW_OK) {
        xmlChar *mem = NULL;
        int size = 0;
        xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
        if (mem == NULL || size <= 0) {
            err = gw_fail(eb, GW_ERR_NOMEM, "could not write the XML");
        } else if (gw_buf_add(out, mem, (size_t)size) != GW_OK) {
            err = gw_fail(eb, GW_ERR_LIMIT, "the XML (%d bytes) does not fit", size);
        }
        xmlFree(mem);
    }
    xmlFreeDoc(doc);
    return err;
}
