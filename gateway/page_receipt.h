/* The receipt pages (page_receipt.c). */
#ifndef GW_GATEWAY_PAGE_RECEIPT_H
#define GW_GATEWAY_PAGE_RECEIPT_H

struct gw_ctx;

/* GET /receipts/{id} (the receipt as a page), /receipts/{id}.xml (the stored signed XML)
 * and /receipts/{id}.pdf (rendered from that XML on the receipt worker); seg is the path's
 * last segment, not yet validated. */
void gw_page_receipt_view(struct gw_ctx *ctx, const char *seg);

#endif
