/* The form and query-string decoder every provider callback and checkout POST goes through
 * (gw_form_parse, gw_form_decode): no crash, and what it accepts re-encodes to a string
 * that decodes back to the same bytes. And the multipart reader of the receipt upload
 * (gw_multipart_file): what it finds lies within the body. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_err.h"
#include "gw_multipart.h"
#include "gw_url.h"

#include "banned.h"

/* NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (size_t)64 * 1024) {
        return 0;
    }
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)1024 * 1024);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (gw_form_parse(&a, (const char *)data, size, 64, &kv, &n) == GW_OK) {
        GW_ASSERT(n <= 64 && (n == 0 || kv != NULL));
        for (size_t i = 0; i < n; i++) {
            GW_ASSERT(kv[i].key != NULL && kv[i].value != NULL);
        }
    }
    char *out = NULL;
    if (gw_form_decode(&a, (const char *)data, size, &out) == GW_OK) {
        GW_ASSERT(out != NULL);
        size_t len = strlen(out);
        struct gw_buf b;
        gw_buf_init(&b, (size_t)512 * 1024);
        GW_ASSERT(gw_form_encode(&b, out, len) == GW_OK);
        char *back = NULL;
        GW_ASSERT(gw_form_decode(&a, b.data != NULL ? b.data : "", b.len, &back) == GW_OK);
        GW_ASSERT(strcmp(back, out) == 0);
        gw_buf_release(&b);
    }
    /* The same bytes as a multipart upload: what it finds lies within them. */
    struct gw_multipart_part file = { .data = NULL, .len = 0 };
    if (gw_multipart_file("multipart/form-data; boundary=fz", (const char *)data, size, "xml",
                          &file)) {
        GW_ASSERT(file.data >= (const char *)data && file.len <= size &&
                  (size_t)(file.data - (const char *)data) + file.len <= size);
    }
    gw_arena_release(&a);
    return 0;
}
