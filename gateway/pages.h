/* Citizen pages: checkout, return, receipt, in Vietnamese and English, without JavaScript. */
#ifndef GW_GATEWAY_PAGES_H
#define GW_GATEWAY_PAGES_H

struct gw_ctx;

/* GET /, GET|POST /pay/{id}, GET /return/{channel}, GET /receipts/{id}[.pdf|.xml],
 * GET|POST /verify. */
void gw_handle_page(struct gw_ctx *ctx);

#endif
