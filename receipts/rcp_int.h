/* Private to receipts/: the XML vocabulary shared by the builder, the reader and the
 * verifier (docs/receipt.xsd). */
#ifndef GW_RECEIPTS_RCP_INT_H
#define GW_RECEIPTS_RCP_INT_H

#include <libxml/tree.h>

#include "rcp.h"

#define RCP_NS      "urn:feegate:receipt:1"
#define RCP_TITLE   "BIÊN LAI THU PHÍ, LỆ PHÍ"
#define RCP_DSIG_NS "http://www.w3.org/2000/09/xmldsig#"
/* A C string as libxml2's const xmlChar * (BAD_CAST drops const). */
#define RCP_X(s)    ((const xmlChar *)(s))

/* The first child element of parent with that local name in RCP_NS, or NULL. */
xmlNodePtr rcp_xml_child(xmlNodePtr parent, const char *name);
/* Its text into the arena ("" when absent or empty); NULL only when out of memory. */
const char *rcp_xml_text(xmlNodePtr parent, const char *name, struct gw_arena *a);
/* Parses a receipt XML safely: no network, no entity expansion, no DTD, bounded size. */
enum gw_err rcp_xml_parse(const char *xml, size_t len, xmlDocPtr *out,
                          struct gw_errbuf *eb) GW_MUST_CHECK;
/* Reads the parsed document's receipt (rcp_receipt_from_xml after parsing). */
enum gw_err rcp_receipt_from_doc(xmlDocPtr doc, struct gw_arena *a, struct rcp_receipt *r,
                                 struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
