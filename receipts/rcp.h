/* Receipt documents (docs/receipts.md): the amount in Vietnamese words, the receipt's data
 * read from the database's JSON or from its own XML, the XML document signed with an
 * enveloped XML-DSig under an X.509 certificate, its offline verification against a CA, the
 * PDF rendering with a QR code, and a demo CA. Everything here but the JSON readers is
 * blocking CPU or file work: call it from a worker thread or the command line, never from an
 * event loop. */
#ifndef GW_RECEIPTS_RCP_H
#define GW_RECEIPTS_RCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_err.h"

struct gw_arena;
struct gw_buf;

/* Once per process, before any other rcp_ call (libxml2, xmlsec, OpenSSL); thread-safe. */
enum gw_err rcp_init(struct gw_errbuf *eb) GW_MUST_CHECK;
/* Releases what rcp_init and the PDF renderer keep (font caches, xmlsec), at process end,
 * once no other thread uses rcp_ any more; rcp_init cannot be called again after it. */
void rcp_shutdown(void);
/* Releases the calling thread's font map; a thread that rendered PDFs calls it before it
 * ends. */
void rcp_pdf_thread_release(void);

/* ---- the amount in words (docs/receipts.md#amount-in-words) ---- */

#define RCP_WORDS_BYTES 1024 /* INT64_MAX needs ~420 bytes */

enum rcp_words_flag {
    RCP_WORDS_BON = 1, /* "hai mươi bốn" instead of "hai mươi tư" */
};

/* n in lower-case words, without a currency ("một trăm linh năm"); 0 is "không". */
enum gw_err rcp_words(uint64_t n, unsigned flags, char *out, size_t cap,
                      struct gw_errbuf *eb) GW_MUST_CHECK;
/* The receipt form: capitalised, with " đồng" ("Một trăm linh năm đồng", "Không đồng").
 * A negative amount is refused. */
enum gw_err rcp_words_vnd(int64_t amount_vnd, unsigned flags, char *out, size_t cap,
                          struct gw_errbuf *eb) GW_MUST_CHECK;

/* ---- the receipt's data ---- */

#define RCP_ITEMS_MAX     32
#define RCP_XML_BYTES_MAX ((size_t)256 * 1024)

struct rcp_item {
    const char *fee_code;
    const char *name;
    int64_t amount_vnd;
};

struct rcp_party {
    const char *name;
    const char *tax_code;  /* collector */
    const char *id_number; /* payer */
    const char *address;
};

/* Strings are never NULL ("" when absent) and live in the arena they were read into. */
struct rcp_receipt {
    const char *id;        /* rcp_ + 32 hex */
    const char *kind;      /* original, adjustment or replacement */
    const char *tmpl;      /* template symbol, 01BLP0-001 */
    const char *series;    /* AA-26E */
    const char *number;    /* 7 digits */
    const char *issued_at; /* RFC 3339, +07:00 */
    struct rcp_party collector;
    struct rcp_party payer;
    const char *payment_id;
    const char *order_ref;
    const char *channel;      /* its code, "sandbox" */
    const char *channel_name; /* as people read it, "Ví MoMo"; "" when unknown */
    const char *provider_txn_id;
    int64_t total_vnd;
    size_t n_items;
    struct rcp_item items[RCP_ITEMS_MAX];

    struct {
        const char *tmpl, *series, *number, *issued_at, *reason; /* "" when not a correction */
    } original;

    const char *lookup_code; /* 12 characters of base32 (receipts.sql); "" when unknown */
    const char *verify_url;  /* the public page the QR code opens: .../verify?code=LOOKUP */
};

#define RCP_LOOKUP_SHOWN_BYTES 24
/* A lookup code as people read it, in groups of four ("7KQ2-M9XD-4HBT"); other strings are
 * copied as they are (cut to fit). */
void rcp_lookup_code_show(const char *code, char out[RCP_LOOKUP_SHOWN_BYTES]);

/* From receipt_view's JSON; verify_base is the public URL prefix (".../verify?code="), which
 * the lookup code follows (the receipt id when the view has no lookup code). */
enum gw_err rcp_receipt_from_json(const char *json, const char *verify_base, struct gw_arena *a,
                                  struct rcp_receipt *r, struct gw_errbuf *eb) GW_MUST_CHECK;

/* A mark set on a receipt after it was issued (receipt_marks). */
struct rcp_mark {
    const char *mark; /* cancelled, replaced or adjusted */
    const char *reason;
    const char *by_receipt_id; /* the receipt that replaces or adjusts it; "" if none */
};

/* A receipt as its pages show it: the receipt, the marks set on it since, and the state of
 * its signed document. Strings as in struct rcp_receipt. */
struct rcp_receipt_view {
    struct rcp_receipt r;         /* without its items (n_items 0): see lines */
    size_t n_lines;               /* every line, RCP_ITEMS_MAX or not */
    const struct rcp_item *lines; /* in the arena; NULL when n_lines is 0 */
    size_t n_marks;
    const struct rcp_mark *marks; /* in the arena; NULL when n_marks is 0 */
    bool issued;                  /* its XML document is stored */
    bool is_signed;               /* and carries a signature */
    const char *document_sha256;  /* of the stored XML; "" when not issued */
};

/* From receipt_view's JSON, read for display: what is absent or mistyped reads as empty
 * ("", 0), the total is amount_vnd or else the sum of the lines. Fails only on what is not
 * a JSON object, or out of memory. Cheap: unlike the rest of this module, fit for an event
 * loop. */
enum gw_err rcp_receipt_view_from_json(const char *json, struct gw_arena *a,
                                       struct rcp_receipt_view *out,
                                       struct gw_errbuf *eb) GW_MUST_CHECK;
/* From a receipt XML (signed or not; the signature is not checked here). */
enum gw_err rcp_receipt_from_xml(const char *xml, size_t len, struct gw_arena *a,
                                 struct rcp_receipt *r, struct gw_errbuf *eb) GW_MUST_CHECK;

/* ---- the signed XML ---- */

struct rcp_signer;

/* Loads the signing certificate and its private key (PEM files). The key's type chooses the
 * signature method (docs/receipts.md#signing): an RSA key signs RSA-SHA256, an EC key on
 * P-256 ECDSA-SHA256; any other key or curve is refused. */
enum gw_err rcp_signer_load(const char *cert_path, const char *key_path, struct rcp_signer **out,
                            struct gw_errbuf *eb) GW_MUST_CHECK;
void rcp_signer_free(struct rcp_signer *s);
/* Lower-case hex SHA-256 of the certificate's DER: 64 characters. */
const char *rcp_signer_fingerprint(const struct rcp_signer *s);
/* "rsa-sha256" or "ecdsa-sha256": the signature method its key calls for. */
const char *rcp_signer_algorithm(const struct rcp_signer *s);

/* The XML of r (docs/receipt.xsd) into out, signed when signer is not NULL. */
enum gw_err rcp_xml_build(const struct rcp_receipt *r, const struct rcp_signer *signer,
                          struct gw_buf *out, struct gw_errbuf *eb) GW_MUST_CHECK;

/* Why a document is not valid, for a reader's words (reason has the details). */
enum rcp_verdict {
    RCP_VERDICT_VALID,
    RCP_VERDICT_NOT_RECEIPT,  /* not XML, or not the receipt structure */
    RCP_VERDICT_NOT_SIGNED,   /* no signature, or no signing certificate in it */
    RCP_VERDICT_UNTRUSTED,    /* the certificate does not chain to the CA */
    RCP_VERDICT_ALTERED,      /* the content or the signature changed after signing */
    RCP_VERDICT_INCONSISTENT, /* signed, but its total or words do not add up */
};

struct rcp_verify_result {
    bool valid;
    enum rcp_verdict verdict; /* RCP_VERDICT_VALID when valid */
    char reason[512];         /* what does not match (empty when valid) */
    char signer[256];         /* subject of the signing certificate, when one was found */
    char fingerprint[65];     /* its SHA-256, hex */
    char id[40];
    char tmpl[16];
    char series[16];
    char number[16];
    int64_t total_vnd;
};

/* Verifies xml: well-formed, the receipt structure, an enveloped signature whose digest and
 * value match, a signing certificate that chains to the CA in ca_path (PEM), and the total
 * and its words against the lines. GW_OK whenever the check could be made; then out->valid
 * says the verdict and out->reason why not. */
enum gw_err rcp_xml_verify(const char *xml, size_t len, const char *ca_path,
                           struct rcp_verify_result *out, struct gw_errbuf *eb) GW_MUST_CHECK;

/* Validates xml against an XSD file (the tests use docs/receipt.xsd). */
enum gw_err rcp_xml_validate_xsd(const char *xml, size_t len, const char *xsd_path,
                                 struct gw_errbuf *eb) GW_MUST_CHECK;

/* ---- the PDF ---- */

/* An A4 receipt page (cairo, pango, DejaVu Sans, a QR code of r->verify_url) into out.
 * signed_note: the line under "Chữ ký số" (e.g. the signer), or NULL for "not signed". */
enum gw_err rcp_pdf_render(const struct rcp_receipt *r, const char *signed_note, struct gw_buf *out,
                           struct gw_errbuf *eb) GW_MUST_CHECK;

/* ---- the demo CA ---- */

/* Creates DIR (if needed) with ca.pem, ca.key, signer.pem and signer.key: a self-signed CA
 * and a signing certificate it issued. Refuses to overwrite an existing ca.pem. */
enum gw_err rcp_ca_init(const char *dir, struct gw_errbuf *eb) GW_MUST_CHECK;
/* The same for `feegate demo`'s HTTPS: DIR with ca.pem and ca.key (another CA, "feegate demo
 * TLS CA") and server.pem and server.key, a TLS server certificate for 127.0.0.1 and
 * localhost. Refuses to overwrite an existing ca.pem. */
enum gw_err rcp_ca_init_tls(const char *dir, struct gw_errbuf *eb) GW_MUST_CHECK;
/* Issues another signing certificate and an RSA 2048 key under DIR's CA (key rotation) into
 * cert_path and key_path; cn is its common name. */
enum gw_err rcp_ca_issue(const char *dir, const char *cn, const char *cert_path,
                         const char *key_path, struct gw_errbuf *eb) GW_MUST_CHECK;

enum rcp_key_type {
    RCP_KEY_RSA2048, /* signs RSA-SHA256 */
    RCP_KEY_EC_P256, /* signs ECDSA-SHA256 */
};

/* One signing certificate to issue; strings borrowed for the call. */
struct rcp_ca_cert {
    const char *cn; /* its common name */
    const char *cert_path;
    const char *key_path;
    enum rcp_key_type key_type;
};

/* rcp_ca_issue with a choice of key type. */
enum gw_err rcp_ca_issue_cert(const char *dir, const struct rcp_ca_cert *c,
                              struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
