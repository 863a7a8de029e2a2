/* Bounded growable buffer. */
#include "gw_buf.h"

#include <stdio.h>
#include <string.h>

#include "gw_arena.h"
#include "gw_assert.h"

#include "banned.h"

void gw_buf_init(struct gw_buf *b, size_t len_max)
{
    GW_ASSERT(len_max > 0);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->len_max = len_max;
}

void gw_buf_release(struct gw_buf *b)
{
    gw_xfree(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

static enum gw_err buf_reserve(struct gw_buf *b, size_t n)
{
    if (n > b->len_max || b->len > b->len_max - n) {
        return GW_ERR_LIMIT;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return GW_OK;
    }
    size_t cap = b->cap == 0 ? 256 : b->cap;
    while (cap < need) {
        cap *= 2;
    }
    b->data = gw_xrealloc(b->data, cap);
    b->cap = cap;
    return GW_OK;
}

enum gw_err gw_buf_add(struct gw_buf *b, const void *p, size_t n)
{
    enum gw_err err = buf_reserve(b, n);
    if (err != GW_OK) {
        return err;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return GW_OK;
}

enum gw_err gw_buf_adds(struct gw_buf *b, const char *s)
{
    return gw_buf_add(b, s, strlen(s));
}

enum gw_err gw_buf_addc(struct gw_buf *b, char c)
{
    return gw_buf_add(b, &c, 1);
}

enum gw_err gw_buf_vprintf(struct gw_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return GW_ERR_INVALID;
    }
    enum gw_err err = buf_reserve(b, (size_t)n);
    if (err != GW_OK) {
        return err;
    }
    int m = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    GW_ASSERT(m == n);
    b->len += (size_t)n;
    return GW_OK;
}

enum gw_err gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum gw_err err = gw_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return err;
}

enum gw_err gw_buf_add_json_escaped(struct gw_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    enum gw_err err = GW_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && err == GW_OK; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = { '\\', (char)*p };
            err = gw_buf_add(b, esc, 2);
        } else if (*p == '\n') {
            err = gw_buf_add(b, "\\n", 2);
        } else if (*p < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
            err = gw_buf_add(b, esc, 6);
        } else {
            err = gw_buf_addc(b, (char)*p);
        }
    }
    return err;
}

enum gw_err gw_buf_add_html_escaped(struct gw_buf *b, const char *s)
{
    enum gw_err err = GW_OK;
    for (const char *p = s; *p != '\0' && err == GW_OK; p++) {
        switch (*p) {
        case '&':
            err = gw_buf_adds(b, "&amp;");
            break;
        case '<':
            err = gw_buf_adds(b, "&lt;");
            break;
        case '>':
            err = gw_buf_adds(b, "&gt;");
            break;
        case '"':
            err = gw_buf_adds(b, "&quot;");
            break;
        case '\'':
            err = gw_buf_adds(b, "&#39;");
            break;
        default:
            err = gw_buf_addc(b, *p);
        }
    }
    return err;
}

const char *gw_buf_str(const struct gw_buf *b)
{
    return b->data == NULL ? "" : b->data;
}
