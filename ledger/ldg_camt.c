/* ISO 20022 camt.053 (BankToCustomerStatement), versions 001.02 to 001.08, read with
 * libxml2's streaming reader: one entry in memory at a time, whatever the file size. Each
 * booked entry (Ntry/Sts BOOK, or Sts/Cd BOOK from 001.08) becomes one line, or one line per
 * transaction detail that carries its own amount (batch bookings). The merchant reference
 * is TxDtls/Refs/EndToEndId, else InstrId, TxId, the unstructured remittance text, the
 * entry's AcctSvcrRef; the provider's id is AcctSvcrRef. Booking dates come as BookgDt/Dt
 * or BookgDt/DtTm. Element names are matched by local name under the document's
 * namespace. External entities and network access are off. */
#include "ldg_camt.h"

#include <libxml/xmlreader.h>
#include <stdio.h>
#include <string.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "ldg_stmt_line.h"

#include "banned.h"

#define CAMT_DEPTH_MAX  32
#define CAMT_NAME_BYTES 40
#define CAMT_TEXT_BYTES 160
#define CAMT_NS_PREFIX  "urn:iso:std:iso:20022:tech:xsd:camt.053.001."

/* Fields of an entry or of one of its transaction details. */
struct camt_fields {
    char amt[32];
    char ccy[4];
    char crdt[5];
    char e2e[CAMT_TEXT_BYTES];
    char instr[CAMT_TEXT_BYTES];
    char txid[CAMT_TEXT_BYTES];
    char ustrd[CAMT_TEXT_BYTES];
    char svcr[CAMT_TEXT_BYTES];
    int64_t fee;
    bool has_amt;
};

struct camt_state {
    const struct ldg_stmt_opts *opts;
    ldg_stmt_line_fn *fn;
    void *arg;
    struct ldg_stmt_info *info;
    struct gw_errbuf *eb;
    xmlTextReaderPtr r;
    int depth;
    char names[CAMT_DEPTH_MAX][CAMT_NAME_BYTES];
    long entry_line;
    char sts[8];
    char booked[40];
    bool reversal;
    bool emitted;
    struct camt_fields e;     /* the entry */
    struct camt_fields t;     /* the current TxDtls */
    struct camt_fields first; /* the first TxDtls, for its references */
    bool have_first;
    char xml_error[160];
    int xml_error_line;
};

/* True if the innermost names are exactly path's components ("Ntry/BookgDt/Dt"). */
static bool tail_is(const struct camt_state *st, const char *path)
{
    int k = 1;
    for (const char *p = path; *p != '\0'; p++) {
        k += *p == '/';
    }
    if (k > st->depth) {
        return false;
    }
    const char *p = path;
    for (int i = st->depth - k; i < st->depth; i++) {
        size_t n = strcspn(p, "/");
        if (strlen(st->names[i]) != n || strncmp(st->names[i], p, n) != 0) {
            return false;
        }
        p += n + (p[n] == '/');
    }
    return true;
}

static bool under(const struct camt_state *st, const char *name)
{
    for (int i = 0; i < st->depth; i++) {
        if (strcmp(st->names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

static void put(char *dst, size_t cap, const char *v)
{
    (void)snprintf(dst, cap, "%s", v);
}

static enum gw_err currency_check(struct camt_state *st, const char *ccy)
{
    if (st->opts->currency == NULL || strcmp(ccy, st->opts->currency) == 0) {
        return GW_OK;
    }
    return gw_fail(st->eb, GW_ERR_INVALID,
                   "line %d: statement in currency %s refused: feegate books %s only",
                   xmlTextReaderGetParserLineNumber(st->r), ccy, st->opts->currency);
}

static enum gw_err fee_add(struct camt_state *st, struct camt_fields *f, const char *v)
{
    int64_t x = 0;
    if (!ldg_amount_parse(v, st->opts->currency != NULL, &x)) {
        return gw_fail(st->eb, GW_ERR_INVALID, "line %d: charge amount \"%s\" is not valid",
                       xmlTextReaderGetParserLineNumber(st->r), v);
    }
    f->fee += x;
    return GW_OK;
}

/* A text node: store it in the field its path names. */
static enum gw_err on_text(struct camt_state *st, const char *v)
{
    bool in_tx = under(st, "TxDtls");
    struct camt_fields *f = in_tx ? &st->t : &st->e;
    if (!under(st, "Ntry")) {
        if (tail_is(st, "Acct/Ccy")) {
            return currency_check(st, v);
        }
        return GW_OK;
    }
    if (tail_is(st, "Chrgs/Amt") || tail_is(st, "Chrgs/Rcrd/Amt")) {
        return fee_add(st, f, v);
    }
    if ((!in_tx && tail_is(st, "Ntry/Amt")) ||
        (in_tx && (tail_is(st, "TxDtls/Amt") || tail_is(st, "AmtDtls/TxAmt/Amt")))) {
        put(f->amt, sizeof(f->amt), v);
        f->has_amt = true;
    } else if (tail_is(st, "Ntry/CdtDbtInd") || tail_is(st, "TxDtls/CdtDbtInd")) {
        put(f->crdt, sizeof(f->crdt), v);
    } else if (tail_is(st, "Ntry/Sts") || tail_is(st, "Ntry/Sts/Cd")) {
        put(st->sts, sizeof(st->sts), v);
    } else if (tail_is(st, "BookgDt/Dt") || tail_is(st, "BookgDt/DtTm")) {
        put(st->booked, sizeof(st->booked), v);
    } else if (tail_is(st, "Ntry/RvslInd")) {
        st->reversal = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
    } else if (tail_is(st, "Ntry/AcctSvcrRef") || tail_is(st, "Refs/AcctSvcrRef")) {
        put(f->svcr, sizeof(f->svcr), v);
    } else if (tail_is(st, "Refs/EndToEndId")) {
        put(f->e2e, sizeof(f->e2e), v);
    } else if (tail_is(st, "Refs/InstrId")) {
        put(f->instr, sizeof(f->instr), v);
    } else if (tail_is(st, "Refs/TxId")) {
        put(f->txid, sizeof(f->txid), v);
    } else if (tail_is(st, "RmtInf/Ustrd") && f->ustrd[0] == '\0') {
        put(f->ustrd, sizeof(f->ustrd), v);
    }
    return GW_OK;
}

static const char *first_ref(const struct camt_fields *f)
{
    if (f->e2e[0] != '\0' && strcmp(f->e2e, "NOTPROVIDED") != 0) {
        return f->e2e;
    }
    if (f->instr[0] != '\0') {
        return f->instr;
    }
    if (f->txid[0] != '\0') {
        return f->txid;
    }
    return f->ustrd;
}

/* Emits one line from the entry and, when given, one of its transaction details. */
static enum gw_err emit(struct camt_state *st, const struct camt_fields *tx)
{
    struct ldg_stmt_line l;
    memset(&l, 0, sizeof(l));
    l.line_no = st->entry_line;
    const char *amt = tx != NULL && tx->has_amt ? tx->amt : st->e.amt;
    const char *ccy = tx != NULL && tx->has_amt ? tx->ccy : st->e.ccy;
    const char *crdt = tx != NULL && tx->crdt[0] != '\0' ? tx->crdt : st->e.crdt;
    if (!ldg_amount_parse(amt, st->opts->currency != NULL, &l.amount_vnd)) {
        return gw_fail(st->eb, GW_ERR_INVALID, "line %ld: amount \"%s\" is not valid", l.line_no,
                       amt);
    }
    if (strcmp(crdt, "CRDT") != 0 && strcmp(crdt, "DBIT") != 0) {
        return gw_fail(st->eb, GW_ERR_INVALID, "line %ld: CdtDbtInd \"%s\" is not CRDT or DBIT",
                       l.line_no, crdt);
    }
    l.payment = strcmp(crdt, "CRDT") == 0 && !st->reversal;
    l.succeeded = true;
    put(l.currency, sizeof(l.currency), ccy[0] != '\0' ? ccy : "VND");
    if (!ldg_time_vn(st->booked, l.booked_on, l.booked_at)) {
        return gw_fail(st->eb, GW_ERR_INVALID, "line %ld: booking date \"%s\" is not valid",
                       l.line_no, st->booked);
    }
    const struct camt_fields *refs = tx != NULL ? tx : (st->have_first ? &st->first : NULL);
    const char *ref = refs != NULL ? first_ref(refs) : "";
    if (ref[0] == '\0') {
        ref = st->e.svcr;
    }
    ldg_ref_set(&l, l.merchant_ref, ref, strlen(ref));
    const char *svcr = refs != NULL && refs->svcr[0] != '\0' ? refs->svcr : st->e.svcr;
    ldg_ref_set(&l, l.provider_txn_id, svcr, strlen(svcr));
    l.fee_vnd = tx != NULL && tx->has_amt ? tx->fee : st->e.fee;
    enum gw_err err = st->fn(st->arg, &l, st->info, st->eb);
    if (err == GW_OK) {
        st->info->lines++;
    }
    st->emitted = true;
    return err;
}

static bool booked(const struct camt_state *st)
{
    return strcmp(st->sts, "BOOK") == 0;
}

static enum gw_err on_end(struct camt_state *st, const char *name)
{
    if (strcmp(name, "TxDtls") == 0 && under(st, "Ntry")) {
        if (!st->have_first) {
            st->first = st->t;
            st->have_first = true;
        }
        /* A detail with its own non-zero amount is one line (batch booking); others only
         * lend their references to the entry's line. */
        int64_t v = 0;
        if (st->t.has_amt && !ldg_amount_parse(st->t.amt, false, &v)) {
            return gw_fail(st->eb, GW_ERR_INVALID, "line %ld: amount \"%s\" is not valid",
                           st->entry_line, st->t.amt);
        }
        st->t.has_amt = st->t.has_amt && v > 0;
        if (st->t.has_amt && booked(st)) {
            return emit(st, &st->t);
        }
        return GW_OK;
    }
    if (strcmp(name, "Ntry") != 0) {
        return GW_OK;
    }
    if (st->sts[0] == '\0') {
        return gw_fail(st->eb, GW_ERR_INVALID, "line %ld: entry without a status (Sts)",
                       st->entry_line);
    }
    if (st->booked[0] == '\0') {
        return gw_fail(st->eb, GW_ERR_INVALID, "line %ld: entry without a booking date",
                       st->entry_line);
    }
    if (!booked(st)) {
        st->info->skipped++;
        return GW_OK;
    }
    if (!st->e.has_amt) {
        return gw_fail(st->eb, GW_ERR_INVALID, "line %ld: entry without an amount (Amt)",
                       st->entry_line);
    }
    return st->emitted ? GW_OK : emit(st, NULL);
}

static enum gw_err on_start(struct camt_state *st, const char *name)
{
    if (strcmp(name, "Stmt") == 0) {
        st->info->statements++;
    } else if (strcmp(name, "Ntry") == 0) {
        memset(&st->e, 0, sizeof(st->e));
        st->have_first = false;
        st->emitted = false;
        st->reversal = false;
        st->sts[0] = '\0';
        st->booked[0] = '\0';
        st->entry_line = xmlTextReaderGetParserLineNumber(st->r);
    } else if (strcmp(name, "TxDtls") == 0) {
        memset(&st->t, 0, sizeof(st->t));
    } else if (strcmp(name, "Amt") == 0) {
        xmlChar *ccy = xmlTextReaderGetAttribute(st->r, (const xmlChar *)"Ccy");
        const char *c = ccy != NULL ? (const char *)ccy : "";
        enum gw_err err = currency_check(st, c);
        struct camt_fields *f = under(st, "TxDtls") ? &st->t : &st->e;
        if (tail_is(st, "Ntry/Amt") || tail_is(st, "TxDtls/Amt") ||
            tail_is(st, "AmtDtls/TxAmt/Amt")) {
            put(f->ccy, sizeof(f->ccy), c);
        }
        xmlFree(ccy);
        return err;
    }
    return GW_OK;
}

static enum gw_err check_root(struct camt_state *st)
{
    const char *ns = (const char *)xmlTextReaderConstNamespaceUri(st->r);
    const char *name = (const char *)xmlTextReaderConstLocalName(st->r);
    size_t pl = strlen(CAMT_NS_PREFIX);
    if (name == NULL || strcmp(name, "Document") != 0 || ns == NULL ||
        strncmp(ns, CAMT_NS_PREFIX, pl) != 0 || strlen(ns + pl) != 2 || ns[pl] != '0' ||
        ns[pl + 1] < '2' || ns[pl + 1] > '8') {
        return gw_fail(st->eb, GW_ERR_INVALID,
                       "line %d: not a camt.053.001.02 to .08 document (root %s, namespace %s)",
                       xmlTextReaderGetParserLineNumber(st->r), name != NULL ? name : "?",
                       ns != NULL ? ns : "none");
    }
    put(st->info->version, sizeof(st->info->version), ns + pl - 4);
    return GW_OK;
}

static enum gw_err on_node(struct camt_state *st)
{
    int type = xmlTextReaderNodeType(st->r);
    const char *name = (const char *)xmlTextReaderConstLocalName(st->r);
    enum gw_err err = GW_OK;
    if (type == XML_READER_TYPE_ELEMENT) {
        if (st->depth == 0 && (err = check_root(st)) != GW_OK) {
            return err;
        }
        if (st->depth == CAMT_DEPTH_MAX) {
            return gw_fail(st->eb, GW_ERR_INVALID, "line %d: elements nested deeper than %d",
                           xmlTextReaderGetParserLineNumber(st->r), CAMT_DEPTH_MAX);
        }
        put(st->names[st->depth++], CAMT_NAME_BYTES, name);
        err = on_start(st, name);
        if (err == GW_OK && xmlTextReaderIsEmptyElement(st->r)) {
            st->depth--;
            err = on_end(st, name);
        }
    } else if (type == XML_READER_TYPE_END_ELEMENT) {
        GW_ASSERT(st->depth > 0);
        st->depth--;
        err = on_end(st, name);
    } else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA) {
        const char *v = (const char *)xmlTextReaderConstValue(st->r);
        err = on_text(st, v != NULL ? v : "");
    }
    return err;
}

static void camt_xml_error(void *arg, xmlErrorPtr e)
{
    struct camt_state *st = arg;
    if (st->xml_error[0] != '\0' || e == NULL) {
        return;
    }
    st->xml_error_line = e->line;
    put(st->xml_error, sizeof(st->xml_error), e->message != NULL ? e->message : "error");
    st->xml_error[strcspn(st->xml_error, "\n")] = '\0';
}

enum gw_err ldg_camt_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                           void *arg, struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    struct camt_state *st = gw_xcalloc(1, sizeof(*st));
    *st = (struct camt_state){ .opts = opts, .fn = fn, .arg = arg, .info = info, .eb = eb };
    st->r = xmlReaderForFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    if (st->r == NULL) {
        gw_xfree(st);
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\"", path);
    }
    xmlTextReaderSetStructuredErrorHandler(st->r, camt_xml_error, st);
    enum gw_err err = GW_OK;
    int rc;
    while (err == GW_OK && (rc = xmlTextReaderRead(st->r)) == 1) {
        err = on_node(st);
        long c = xmlTextReaderByteConsumed(st->r);
        info->bytes_read = c > 0 ? c : info->bytes_read;
    }
    if (err == GW_OK && rc < 0) {
        err = gw_fail(eb, GW_ERR_INVALID, "line %d: malformed XML: %s", st->xml_error_line,
                      st->xml_error[0] != '\0' ? st->xml_error : "parse error");
    }
    if (err == GW_OK && info->statements == 0) {
        err = gw_fail(eb, GW_ERR_INVALID, "no BkToCstmrStmt/Stmt in \"%s\"", path);
    }
    xmlFreeTextReader(st->r);
    gw_xfree(st);
    return err;
}
