/* A growable byte buffer with a mandatory maximum (curl's dynbuf): appending past the
 * maximum fails with GW_ERR_LIMIT instead of growing without bound. Heap backed; the owner
 * calls gw_buf_release. The content is always NUL-terminated. */
#ifndef GW_COMMON_GW_BUF_H
#define GW_COMMON_GW_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "gw_err.h"

struct gw_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t len_max;
};

void gw_buf_init(struct gw_buf *b, size_t len_max);
void gw_buf_release(struct gw_buf *b);
void gw_buf_reset(struct gw_buf *b); /* length 0, memory kept */
enum gw_err gw_buf_add(struct gw_buf *b, const void *p, size_t n) GW_MUST_CHECK;
enum gw_err gw_buf_adds(struct gw_buf *b, const char *s) GW_MUST_CHECK;
enum gw_err gw_buf_addc(struct gw_buf *b, char c) GW_MUST_CHECK;
enum gw_err gw_buf_printf(struct gw_buf *b, const char *fmt, ...) GW_PRINTF(2, 3) GW_MUST_CHECK;
enum gw_err gw_buf_vprintf(struct gw_buf *b, const char *fmt, va_list ap)
    GW_PRINTF(2, 0) GW_MUST_CHECK;
/* Appends s with JSON string escaping (no surrounding quotes). */
enum gw_err gw_buf_add_json_escaped(struct gw_buf *b, const char *s) GW_MUST_CHECK;
/* Appends s with HTML escaping of & < > " '. */
enum gw_err gw_buf_add_html_escaped(struct gw_buf *b, const char *s) GW_MUST_CHECK;
/* Returns the content ("" when empty, never NULL). */
const char *gw_buf_str(const struct gw_buf *b);

#endif
