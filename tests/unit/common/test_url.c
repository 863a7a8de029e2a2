/* gw_url: PHP-urlencode-compatible encoding (docs/providers.md#form-encoding, PHP column), the
 * strict decoder, and form parsing. */
#include "gw_url.h"

/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <string.h>

#include "banned.h"

/* docs/providers.md#form-encoding: the inputs other encoders differ on, and PHP's output. */
static const struct {
    const char *in;
    const char *php;
} url_pitfalls[] = {
    { "a b", "a+b" },
    { "L\xe1\xbb\x87 ph\xc3\xad", "L%E1%BB%87+ph%C3%AD" }, /* "Lệ phí" in UTF-8 */
    { "x*y~z", "x%2Ay%7Ez" },
    { "a&b=c/d:e?f", "a%26b%3Dc%2Fd%3Ae%3Ff" },
    { "(1)!'", "%281%29%21%27" },
    { "AZaz09-_.", "AZaz09-_." },
    { "", "" },
};

#define URL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_encode_pitfalls(void **state)
{
    (void)state;
    for (size_t i = 0; i < URL_COUNT(url_pitfalls); i++) {
        struct gw_buf b;
        gw_buf_init(&b, 1024);
        assert_int_equal(gw_form_encode(&b, url_pitfalls[i].in, strlen(url_pitfalls[i].in)), GW_OK);
        assert_string_equal(gw_buf_str(&b), url_pitfalls[i].php);
        gw_buf_release(&b);
    }
}

static void test_encode_binary_and_limit(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 10);
    assert_int_equal(gw_form_encode(&b, "\0\x01\xff", 3), GW_OK);
    assert_string_equal(gw_buf_str(&b), "%00%01%FF");
    assert_int_equal(gw_form_encode(&b, "~", 1), GW_ERR_LIMIT); /* 9 + 3 > 10 */
    gw_buf_release(&b);
}

static void test_decode_round_trip(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 1024, (size_t)64 * 1024);
    for (size_t i = 0; i < URL_COUNT(url_pitfalls); i++) {
        char *out = NULL;
        const char *php = url_pitfalls[i].php;
        assert_int_equal(gw_form_decode(&a, php, strlen(php), &out), GW_OK);
        assert_string_equal(out, url_pitfalls[i].in);
    }
    char *out = NULL;
    assert_int_equal(gw_form_decode(&a, "%e1%bb%87%7e", 12, &out), GW_OK); /* lower-case hex */
    assert_string_equal(out, "\xe1\xbb\x87~");
    gw_arena_release(&a);
}

static void test_decode_errors(void **state)
{
    (void)state;
    static const char *const bad[] = { "%",   "%4",   "abc%",  "%G1", "%4G",
                                       "a%0", "%%41", "x%00y", "%00" };
    struct gw_arena a;
    gw_arena_init(&a, 1024, (size_t)64 * 1024);
    for (size_t i = 0; i < URL_COUNT(bad); i++) {
        char *out = (char *)(uintptr_t)1; /* NOLINT(performance-no-int-to-ptr): must be reset */
        assert_int_equal(gw_form_decode(&a, bad[i], strlen(bad[i]), &out), GW_ERR_INVALID);
        assert_null(out);
    }
    /* A raw NUL byte inside the given length is refused too. */
    char *out = NULL;
    assert_int_equal(gw_form_decode(&a, "ab\0cd", 5, &out), GW_ERR_INVALID);
    /* Only len bytes are read: the escape beyond it is not seen. */
    assert_int_equal(gw_form_decode(&a, "ab%zz", 2, &out), GW_OK);
    assert_string_equal(out, "ab");
    gw_arena_release(&a);
}

static void test_parse(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 1024, (size_t)64 * 1024);
    const char *q = "a=1&b=x+y%26z&&c&d=&=e&";
    struct gw_kv *kv = NULL;
    size_t n = 0;
    assert_int_equal(gw_form_parse(&a, q, strlen(q), 8, &kv, &n), GW_OK);
    assert_int_equal(n, 5);
    assert_string_equal(kv[0].key, "a");
    assert_string_equal(kv[0].value, "1");
    assert_string_equal(kv[1].value, "x y&z");
    assert_string_equal(kv[2].key, "c");
    assert_string_equal(kv[2].value, "");
    assert_string_equal(kv[3].key, "d");
    assert_string_equal(kv[3].value, "");
    assert_string_equal(kv[4].key, "");
    assert_string_equal(kv[4].value, "e");
    assert_string_equal(gw_kv_get(kv, n, "b"), "x y&z");
    assert_null(gw_kv_get(kv, n, "zz"));
    assert_int_equal(gw_form_parse(&a, "", 0, 8, &kv, &n), GW_OK);
    assert_int_equal(n, 0);
    gw_arena_release(&a);
}

static void test_parse_errors(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 1024, (size_t)64 * 1024);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    assert_int_equal(gw_form_parse(&a, "a=1&b=2&c=3", 11, 2, &kv, &n), GW_ERR_LIMIT);
    assert_int_equal(gw_form_parse(&a, "a=1&b=%zz", 9, 8, &kv, &n), GW_ERR_INVALID);
    assert_int_equal(gw_form_parse(&a, "a%00=1", 6, 8, &kv, &n), GW_ERR_INVALID);
    assert_int_equal(n, 0);
    gw_arena_release(&a);
    /* An arena too small for the result. */
    gw_arena_init(&a, 16, 16);
    assert_int_equal(gw_form_parse(&a, "aaaaaaaa=bbbbbbbbbbbbbbbbbbbb", 29, 8, &kv, &n),
                     GW_ERR_NOMEM);
    gw_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_pitfalls),
        cmocka_unit_test(test_encode_binary_and_limit),
        cmocka_unit_test(test_decode_round_trip),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
