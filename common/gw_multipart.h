/* multipart/form-data bodies (RFC 7578), as far as the pages need them: the one file a form
 * uploads. Beside the application/x-www-form-urlencoded decoder of gw_url.h. */
#ifndef GW_COMMON_GW_MULTIPART_H
#define GW_COMMON_GW_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define GW_MULTIPART_BOUNDARY_BYTES_MAX 70 /* RFC 2046 */
#define GW_MULTIPART_PARTS_MAX          8  /* parts looked at before giving up */

/* A part's content: bytes within the body, not NUL-terminated. */
struct gw_multipart_part {
    const char *data;
    size_t len;
};

/* The content of the first part of body (len bytes) whose headers carry a filename= or whose
 * field name is name, among its first GW_MULTIPART_PARTS_MAX parts. content_type is the
 * request's Content-Type, which gives the boundary. false when there is no such part or the
 * body does not follow the boundary it announces. */
bool gw_multipart_file(const char *content_type, const char *body, size_t len, const char *name,
                       struct gw_multipart_part *out);

#endif
