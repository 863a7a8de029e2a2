/* The receipt verification page (page_verify.c). */
#ifndef GW_GATEWAY_PAGE_VERIFY_H
#define GW_GATEWAY_PAGE_VERIFY_H

#include <stdbool.h>

struct gw_ctx;

/* GET /verify[?code=] (look a receipt up by id or series/number) when get, else
 * POST /verify with the receipt's XML (a multipart upload or the bare body). */
void gw_page_verify(struct gw_ctx *ctx, bool get);

#endif
