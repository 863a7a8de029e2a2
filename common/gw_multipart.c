/* The file part of a multipart/form-data body (gw_multipart.h). Everything is bounded by
 * the body: no byte before it or after it is read. */
#include "gw_multipart.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

/* The boundary parameter of a Content-Type, quoted or not; 0 when absent or too long. */
static size_t multipart_boundary(const char *content_type, const char **out)
{
    const char *b = strstr(content_type, "boundary=");
    if (b == NULL) {
        return 0;
    }
    b += strlen("boundary=");
    size_t blen = strcspn(b, "\"; ");
    if (*b == '"') {
        blen = strcspn(++b, "\"");
    }
    if (blen == 0 || blen > GW_MULTIPART_BOUNDARY_BYTES_MAX) {
        return 0;
    }
    *out = b;
    return blen;
}

bool gw_multipart_file(const char *content_type, const char *body, size_t len, const char *name,
                       struct gw_multipart_part *out)
{
    const char *b = NULL;
    size_t blen = content_type != NULL ? multipart_boundary(content_type, &b) : 0;
    char field[80];
    int flen = snprintf(field, sizeof(field), "name=\"%s\"", name);
    if (blen == 0 || flen < 0 || (size_t)flen >= sizeof(field)) {
        return false;
    }
    char delim[GW_MULTIPART_BOUNDARY_BYTES_MAX + 8];
    int dlen = snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)blen, b);
    const char *end = body + len;
    const char *part = memmem(body, len, delim + 2, (size_t)dlen - 2);
    for (size_t guard = 0; part != NULL && guard < GW_MULTIPART_PARTS_MAX; guard++) {
        const char *hdr = part + dlen - 2;
        const char *hend = memmem(hdr, (size_t)(end - hdr), "\r\n\r\n", 4);
        if (hend == NULL) {
            return false;
        }
        const char *content = hend + 4;
        const char *next = memmem(content, (size_t)(end - content), delim, (size_t)dlen);
        if (next == NULL) {
            return false;
        }
        size_t hlen = (size_t)(hend - hdr);
        if (memmem(hdr, hlen, "filename=", 9) != NULL ||
            memmem(hdr, hlen, field, (size_t)flen) != NULL) {
            out->data = content;
            out->len = (size_t)(next - content);
            return true;
        }
        part = next + 2;
    }
    return false;
}
