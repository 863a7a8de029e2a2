/* gw_multipart: the file part of a multipart/form-data upload, bounded by the body. */
#include "gw_multipart.h"

/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <stdio.h>
#include <string.h>

#include "banned.h"

#define MP_CTYPE "multipart/form-data; boundary=XyZ"

/* A body and the Content-Type it came with. */
struct mp_case {
    const char *ctype;
    const char *body;
};

static bool mp_file(struct mp_case c, const char **out, size_t *out_len)
{
    struct gw_multipart_part part = { .data = NULL, .len = 0 };
    bool found = gw_multipart_file(c.ctype, c.body, strlen(c.body), "xml", &part);
    *out = part.data;
    *out_len = part.len;
    return found;
}

static void test_file_part(void **state)
{
    (void)state;
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\nAA\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"up\"; "
                       "filename=\"r.xml\"\r\nContent-Type: application/xml\r\n\r\n"
                       "<Receipt/>\r\n--XyZ--\r\n";
    const char *out = NULL;
    size_t len = 0;
    assert_true(mp_file((struct mp_case){ MP_CTYPE, body }, &out, &len));
    assert_int_equal(len, strlen("<Receipt/>"));
    assert_memory_equal(out, "<Receipt/>", len);
}

static void test_named_part_and_quoted_boundary(void **state)
{
    (void)state;
    const char *body = "--a b\r\nContent-Disposition: form-data; name=\"xml\"\r\n\r\n"
                       "line1\r\nline2\r\n--a b--\r\n";
    const char *out = NULL;
    size_t len = 0;
    assert_true(
        mp_file((struct mp_case){ "multipart/form-data; boundary=\"a b\"", body }, &out, &len));
    assert_int_equal(len, strlen("line1\r\nline2"));
    assert_memory_equal(out, "line1\r\nline2", len);
    /* An empty file is found, with length 0. */
    const char *empty = "--XyZ\r\nContent-Disposition: form-data; name=\"xml\"\r\n\r\n\r\n--XyZ--";
    assert_true(mp_file((struct mp_case){ MP_CTYPE, empty }, &out, &len));
    assert_int_equal(len, 0);
}

static void test_refused(void **state)
{
    (void)state;
    const char *out = NULL;
    size_t len = 0;
    const char *ok = "--XyZ\r\nContent-Disposition: form-data; name=\"xml\"\r\n\r\nx\r\n--XyZ--";
    /* no boundary, an empty one, one longer than 70 bytes */
    assert_false(mp_file((struct mp_case){ "multipart/form-data", ok }, &out, &len));
    assert_false(mp_file((struct mp_case){ "multipart/form-data; boundary=", ok }, &out, &len));
    char lng[128];
    (void)snprintf(lng, sizeof(lng), "multipart/form-data; boundary=%071d", 0);
    assert_false(mp_file((struct mp_case){ lng, ok }, &out, &len));
    /* another boundary than the body's */
    assert_false(
        mp_file((struct mp_case){ "multipart/form-data; boundary=Other", ok }, &out, &len));
    /* headers without their blank line, content without its closing delimiter */
    assert_false(mp_file((struct mp_case){ MP_CTYPE, "--XyZ\r\nContent-Disposition: form-data" },
                         &out, &len));
    assert_false(mp_file(
        (struct mp_case){ MP_CTYPE,
                          "--XyZ\r\nContent-Disposition: form-data; name=\"xml\"\r\n\r\nx" },
        &out, &len));
    /* no file and no part of that name */
    assert_false(mp_file(
        (struct mp_case){ MP_CTYPE,
                          "--XyZ\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\nAA\r\n"
                          "--XyZ--" },
        &out, &len));
}

/* Parts before the file: n - 1 parts named "a", then the file part. */
#define MP_BODY_BYTES 2048

static void mp_body(char out[MP_BODY_BYTES], size_t n)
{
    size_t cap = MP_BODY_BYTES;
    size_t used = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        used +=
            (size_t)snprintf(out + used, cap - used,
                             "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n");
    }
    (void)snprintf(out + used, cap - used,
                   "--XyZ\r\nContent-Disposition: form-data; name=\"xml\"\r\n\r\n3\r\n--XyZ--");
}

static void test_parts_max(void **state)
{
    (void)state;
    char body[MP_BODY_BYTES];
    const char *out = NULL;
    size_t len = 0;
    mp_body(body, GW_MULTIPART_PARTS_MAX);
    assert_true(mp_file((struct mp_case){ MP_CTYPE, body }, &out, &len));
    assert_int_equal(len, 1);
    assert_memory_equal(out, "3", 1);
    mp_body(body, GW_MULTIPART_PARTS_MAX + 1);
    assert_false(mp_file((struct mp_case){ MP_CTYPE, body }, &out, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_part),
        cmocka_unit_test(test_named_part_and_quoted_boundary),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_parts_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
