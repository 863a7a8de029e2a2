/* The receipt's data, read from the database's receipt_view JSON (to build the XML) or from
 * the receipt XML itself (to render the PDF of exactly what was signed, and to verify); and
 * receipt_view with its marks and document state, for the receipt pages. */
#include <errno.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_arena.h"
#include "gw_limits.h"
#include "gw_money.h"
#include "rcp.h"
#include "rcp_int.h"

#include "banned.h"

static const char *jdup(struct gw_arena *a, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return gw_arena_strdup(a, json_is_string(v) ? json_string_value(v) : "");
}

static bool valid_amount(int64_t v)
{
    return v >= 0 && v <= INT64_MAX / 2;
}

static enum gw_err items_from_json(const json_t *items, struct gw_arena *a, struct rcp_receipt *r,
                                   struct gw_errbuf *eb)
{
    if (!json_is_array(items) || json_array_size(items) == 0) {
        return gw_fail(eb, GW_ERR_INVALID, "the receipt has no lines");
    }
    if (json_array_size(items) > RCP_ITEMS_MAX) {
        return gw_fail(eb, GW_ERR_LIMIT, "the receipt has more than %d lines", RCP_ITEMS_MAX);
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        const json_t *amt = json_object_get(it, "amount_vnd");
        if (!json_is_integer(amt) || !valid_amount((int64_t)json_integer_value(amt))) {
            return gw_fail(eb, GW_ERR_INVALID, "line %zu has no valid amount_vnd", i + 1);
        }
        r->items[i] = (struct rcp_item){ .fee_code = jdup(a, it, "fee_code"),
                                         .name = jdup(a, it, "name"),
                                         .amount_vnd = (int64_t)json_integer_value(amt) };
    }
    r->n_items = json_array_size(items);
    return GW_OK;
}

static void parties_from_json(const json_t *v, struct gw_arena *a, struct rcp_receipt *r)
{
    const json_t *ag = json_object_get(v, "agency");
    r->collector = (struct rcp_party){ .name = jdup(a, ag, "name"),
                                       .tax_code = jdup(a, ag, "tax_code"),
                                       .id_number = "",
                                       .address = jdup(a, ag, "address") };
    const json_t *py = json_object_get(v, "payer");
    r->payer = (struct rcp_party){ .name = jdup(a, py, "name"),
                                   .tax_code = "",
                                   .id_number = jdup(a, py, "id_number"),
                                   .address = jdup(a, py, "address") };
    const json_t *o = json_object_get(v, "original");
    r->original.tmpl = jdup(a, o, "template");
    r->original.series = jdup(a, o, "series");
    r->original.number = jdup(a, o, "number");
    r->original.issued_at = jdup(a, o, "issued_at");
    r->original.reason = jdup(a, o, "reason");
}

/* Everything of a parsed receipt_view object but its total and lines; "" for what is absent
 * (NULL strings only when out of memory). */
static void head_from_json(const json_t *v, struct gw_arena *a, struct rcp_receipt *r)
{
    memset(r, 0, sizeof(*r));
    r->id = jdup(a, v, "id");
    r->kind = jdup(a, v, "kind");
    if (r->kind != NULL && r->kind[0] == '\0') {
        r->kind = "original";
    }
    r->tmpl = jdup(a, v, "template");
    r->series = jdup(a, v, "series");
    r->number = jdup(a, v, "number");
    r->issued_at = jdup(a, v, "issued_at");
    r->payment_id = jdup(a, v, "payment_id");
    r->order_ref = jdup(a, v, "order_ref");
    r->channel = jdup(a, v, "channel");
    r->channel_name = jdup(a, v, "channel_name");
    r->provider_txn_id = jdup(a, v, "provider_txn_id");
    r->lookup_code = jdup(a, v, "lookup_code");
    parties_from_json(v, a, r);
}

/* The receipt of a parsed receipt_view object, as the XML needs it. */
static enum gw_err receipt_from_obj(const json_t *v, const char *verify_base, struct gw_arena *a,
                                    struct rcp_receipt *r, struct gw_errbuf *eb)
{
    head_from_json(v, a, r);
    const json_t *total = json_object_get(v, "amount_vnd");
    if (!json_is_integer(total) || !valid_amount((int64_t)json_integer_value(total))) {
        return gw_fail(eb, GW_ERR_INVALID, "the receipt has no valid amount_vnd");
    }
    r->total_vnd = (int64_t)json_integer_value(total);
    enum gw_err err = items_from_json(json_object_get(v, "items"), a, r, eb);
    if (err != GW_OK) {
        return err;
    }
    r->verify_url = gw_arena_printf(
        a, "%s%s", verify_base != NULL ? verify_base : "",
        r->lookup_code != NULL && r->lookup_code[0] != '\0' ? r->lookup_code : r->id);
    if (r->verify_url == NULL || r->collector.address == NULL || r->original.reason == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "out of memory reading the receipt");
    }
    if (r->id[0] == '\0' || r->tmpl[0] == '\0' || r->series[0] == '\0' || r->number[0] == '\0') {
        return gw_fail(eb, GW_ERR_INVALID, "the receipt lacks its id, template, series or number");
    }
    return GW_OK;
}

enum gw_err rcp_receipt_from_json(const char *json, const char *verify_base, struct gw_arena *a,
                                  struct rcp_receipt *r, struct gw_errbuf *eb)
{
    memset(r, 0, sizeof(*r));
    json_error_t jerr;
    json_t *v = json_loads(json, 0, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return gw_fail(eb, GW_ERR_INVALID, "receipt JSON: %s", jerr.text);
    }
    enum gw_err err = receipt_from_obj(v, verify_base, a, r, eb);
    json_decref(v);
    return err;
}

/* The marks of a receipt_view object, in their order. */
static enum gw_err marks_from_json(const json_t *marks, struct gw_arena *a,
                                   struct rcp_receipt_view *out, struct gw_errbuf *eb)
{
    size_t n = json_array_size(marks);
    if (n == 0) {
        return GW_OK;
    }
    struct rcp_mark *m = gw_arena_alloc(a, n * sizeof(*m));
    if (m == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "out of memory reading the receipt");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(marks, i);
        m[i] = (struct rcp_mark){ .mark = jdup(a, e, "mark"),
                                  .reason = jdup(a, e, "reason"),
                                  .by_receipt_id = jdup(a, e, "by_receipt_id") };
        if (m[i].by_receipt_id == NULL) {
            return gw_fail(eb, GW_ERR_NOMEM, "out of memory reading the receipt");
        }
    }
    out->marks = m;
    out->n_marks = n;
    return GW_OK;
}

/* Every line, as a page shows it: not an object skipped, a missing amount 0, the name or
 * else the fee code's own "fee_name". */
static enum gw_err lines_from_json(const json_t *items, struct gw_arena *a,
                                   struct rcp_receipt_view *out, struct gw_errbuf *eb)
{
    size_t n = json_array_size(items);
    struct rcp_item *lines = n > 0 ? gw_arena_alloc(a, n * sizeof(*lines)) : NULL;
    if (n > 0 && lines == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "out of memory reading the receipt");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(items, i);
        if (!json_is_object(it)) {
            continue;
        }
        const json_t *amt = json_object_get(it, "amount_vnd");
        const json_t *name = json_object_get(it, "name");
        bool named = json_is_string(name) && json_string_length(name) > 0;
        struct rcp_item *l = &lines[out->n_lines++];
        *l = (struct rcp_item){ .fee_code = jdup(a, it, "fee_code"),
                                .name = jdup(a, it, named ? "name" : "fee_name"),
                                .amount_vnd = json_is_integer(amt) ? json_integer_value(amt) : 0 };
        if (l->name == NULL) {
            return gw_fail(eb, GW_ERR_NOMEM, "out of memory reading the receipt");
        }
    }
    out->lines = lines;
    return GW_OK;
}

/* The total: amount_vnd, else the sum of the lines (0 if it overflows). */
static int64_t view_total(const json_t *v, const struct rcp_receipt_view *out)
{
    const json_t *total = json_object_get(v, "amount_vnd");
    if (json_is_integer(total)) {
        return (int64_t)json_integer_value(total);
    }
    int64_t sum = 0;
    for (size_t i = 0; out->lines != NULL && i < out->n_lines; i++) {
        if (!gw_vnd_add(sum, out->lines[i].amount_vnd, &sum)) {
            return 0;
        }
    }
    return sum;
}

enum gw_err rcp_receipt_view_from_json(const char *json, struct gw_arena *a,
                                       struct rcp_receipt_view *out, struct gw_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *v = json_loads(json, 0, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return gw_fail(eb, GW_ERR_INVALID, "receipt JSON: %s", jerr.text);
    }
    head_from_json(v, a, &out->r);
    enum gw_err err = lines_from_json(json_object_get(v, "items"), a, out, eb);
    if (err == GW_OK) {
        out->r.total_vnd = view_total(v, out);
        err = marks_from_json(json_object_get(v, "marks"), a, out, eb);
    }
    const json_t *doc = json_object_get(v, "document");
    out->issued = json_is_object(doc);
    out->is_signed = json_is_true(json_object_get(doc, "signed"));
    out->document_sha256 = jdup(a, doc, "sha256");
    json_decref(v);
    if (err == GW_OK && (out->document_sha256 == NULL || out->r.original.reason == NULL)) {
        err = gw_fail(eb, GW_ERR_NOMEM, "out of memory reading the receipt");
    }
    return err;
}

/* ---- from the XML ---- */

xmlNodePtr rcp_xml_child(xmlNodePtr parent, const char *name)
{
    if (parent == NULL) {
        return NULL;
    }
    for (xmlNodePtr c = parent->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
            xmlStrEqual(c->ns->href, RCP_X(RCP_NS)) && xmlStrEqual(c->name, RCP_X(name))) {
            return c;
        }
    }
    return NULL;
}

const char *rcp_xml_text(xmlNodePtr parent, const char *name, struct gw_arena *a)
{
    xmlNodePtr n = rcp_xml_child(parent, name);
    if (n == NULL) {
        return gw_arena_strdup(a, "");
    }
    xmlChar *t = xmlNodeGetContent(n);
    const char *s = gw_arena_strdup(a, t != NULL ? (const char *)t : "");
    xmlFree(t);
    return s;
}

enum gw_err rcp_xml_parse(const char *xml, size_t len, xmlDocPtr *out, struct gw_errbuf *eb)
{
    *out = NULL;
    if (len == 0 || len > RCP_XML_BYTES_MAX) {
        return gw_fail(eb, GW_ERR_LIMIT, "the document must be 1 to %zu bytes, not %zu",
                       RCP_XML_BYTES_MAX, len);
    }
    /* No XML_PARSE_NOENT (no entity expansion), no DTD loading, no network. */
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "receipt.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        const xmlError *e = xmlGetLastError();
        return gw_fail(eb, GW_ERR_INVALID, "not well-formed XML: line %d: %s",
                       e != NULL ? e->line : 0,
                       e != NULL && e->message != NULL ? e->message : "parse error");
    }
    if (doc->intSubset != NULL) {
        xmlFreeDoc(doc);
        return gw_fail(eb, GW_ERR_INVALID, "a receipt has no document type declaration");
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root == NULL || root->ns == NULL || !xmlStrEqual(root->ns->href, RCP_X(RCP_NS)) ||
        !xmlStrEqual(root->name, RCP_X("Receipt"))) {
        xmlFreeDoc(doc);
        return gw_fail(eb, GW_ERR_INVALID, "the root element is not {%s}Receipt", RCP_NS);
    }
    *out = doc;
    return GW_OK;
}

static bool parse_amount(const char *s, int64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 18) {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || !valid_amount((int64_t)v)) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

static void party_from_xml(xmlNodePtr n, struct gw_arena *a, struct rcp_party *p)
{
    *p = (struct rcp_party){ .name = rcp_xml_text(n, "Name", a),
                             .tax_code = rcp_xml_text(n, "TaxCode", a),
                             .id_number = rcp_xml_text(n, "IdNumber", a),
                             .address = rcp_xml_text(n, "Address", a) };
}

static enum gw_err items_from_xml(xmlNodePtr items, struct gw_arena *a, struct rcp_receipt *r,
                                  struct gw_errbuf *eb)
{
    r->n_items = 0;
    for (xmlNodePtr c = items != NULL ? items->children : NULL; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, RCP_X("Item"))) {
            continue;
        }
        if (r->n_items == RCP_ITEMS_MAX) {
            return gw_fail(eb, GW_ERR_LIMIT, "the receipt has more than %d lines", RCP_ITEMS_MAX);
        }
        struct rcp_item *it = &r->items[r->n_items++];
        it->fee_code = rcp_xml_text(c, "FeeCode", a);
        it->name = rcp_xml_text(c, "Name", a);
        if (!parse_amount(rcp_xml_text(c, "AmountVnd", a), &it->amount_vnd)) {
            return gw_fail(eb, GW_ERR_INVALID, "line %zu has no valid AmountVnd", r->n_items);
        }
    }
    if (r->n_items == 0) {
        return gw_fail(eb, GW_ERR_INVALID, "the receipt has no lines");
    }
    return GW_OK;
}

/* The lookup code a receipt XML carries: the end of its VerifyUrl after "code=", when it
 * is 12 characters of base32 (an older document's receipt id is not one); else "". */
static const char *lookup_code_of_url(const char *url)
{
    const char *c = url != NULL ? strstr(url, "code=") : NULL;
    if (c == NULL) {
        return "";
    }
    c += 5;
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    size_t n = strlen(c);
    if (n != GW_LOOKUP_CODE_CHARS || strspn(c, alphabet) != n) {
        return "";
    }
    return c;
}

void rcp_lookup_code_show(const char *code, char out[RCP_LOOKUP_SHOWN_BYTES])
{
    size_t n = code != NULL ? strlen(code) : 0;
    size_t k = 0;
    if (n != GW_LOOKUP_CODE_CHARS) {
        (void)snprintf(out, RCP_LOOKUP_SHOWN_BYTES, "%s", code != NULL ? code : "");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i % 4 == 0) {
            out[k++] = '-';
        }
        out[k++] = code[i];
    }
    out[k] = '\0';
}

enum gw_err rcp_receipt_from_doc(xmlDocPtr doc, struct gw_arena *a, struct rcp_receipt *r,
                                 struct gw_errbuf *eb)
{
    memset(r, 0, sizeof(*r));
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlChar *id = xmlGetProp(root, RCP_X("id"));
    r->id = gw_arena_strdup(a, id != NULL ? (const char *)id : "");
    xmlFree(id);
    r->kind = rcp_xml_text(root, "Kind", a);
    r->tmpl = rcp_xml_text(root, "Template", a);
    r->series = rcp_xml_text(root, "Series", a);
    r->number = rcp_xml_text(root, "Number", a);
    r->issued_at = rcp_xml_text(root, "IssuedAt", a);
    party_from_xml(rcp_xml_child(root, "Collector"), a, &r->collector);
    party_from_xml(rcp_xml_child(root, "Payer"), a, &r->payer);
    xmlNodePtr pay = rcp_xml_child(root, "Payment");
    r->payment_id = rcp_xml_text(pay, "Id", a);
    r->order_ref = rcp_xml_text(pay, "OrderRef", a);
    r->channel = rcp_xml_text(pay, "Channel", a);
    r->channel_name = rcp_xml_text(pay, "ChannelName", a);
    r->provider_txn_id = rcp_xml_text(pay, "ProviderTxnId", a);
    xmlNodePtr o = rcp_xml_child(root, "Original");
    r->original.tmpl = rcp_xml_text(o, "Template", a);
    r->original.series = rcp_xml_text(o, "Series", a);
    r->original.number = rcp_xml_text(o, "Number", a);
    r->original.issued_at = rcp_xml_text(o, "IssuedAt", a);
    r->original.reason = rcp_xml_text(o, "Reason", a);
    r->verify_url = rcp_xml_text(root, "VerifyUrl", a);
    r->lookup_code = lookup_code_of_url(r->verify_url);
    if (r->verify_url == NULL || r->id == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "out of memory reading the receipt");
    }
    if (!parse_amount(rcp_xml_text(root, "TotalVnd", a), &r->total_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "the receipt has no valid TotalVnd");
    }
    return items_from_xml(rcp_xml_child(root, "Items"), a, r, eb);
}

enum gw_err rcp_receipt_from_xml(const char *xml, size_t len, struct gw_arena *a,
                                 struct rcp_receipt *r, struct gw_errbuf *eb)
{
    xmlDocPtr doc = NULL;
    enum gw_err err = rcp_xml_parse(xml, len, &doc, eb);
    if (err != GW_OK) {
        return err;
    }
    err = rcp_receipt_from_doc(doc, a, r, eb);
    xmlFreeDoc(doc);
    return err;
}
