/* gw_sign: the portal signature v1 against vectors computed independently with openssl
 * (printf 'METHOD\nPATH\nTS\n%s' "$(printf BODY | openssl dgst -sha256 -r | cut -d' ' -f1)"
 *  | openssl dgst -sha256 -hmac SECRET), and the string to sign laid out byte for byte. */
#include "gw_sign.h"

/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <string.h>

#include "banned.h"

static void test_sign_v1_post_vector(void **state)
{
    (void)state;
    char sig[GW_SIGN_V1_BYTES];
    const struct gw_sign_req r = { "POST", "/v1/payments", "1700000000", "{}", 2 };
    gw_sign_v1("bench-secret", strlen("bench-secret"), &r, sig);
    assert_string_equal(sig, "v1=70dfda46adb9a52c2e0b0f8d5a06212a5e70cd0ce1dd63b20f13b0893292f6c6");
}

static void test_sign_v1_query_and_empty_body(void **state)
{
    (void)state;
    char sig[GW_SIGN_V1_BYTES];
    const struct gw_sign_req r = { "GET", "/v1/payments/pay_1?expand=receipt", "1700000123", NULL,
                                   0 };
    gw_sign_v1("s3cret", 6, &r, sig);
    assert_string_equal(sig, "v1=208375fbea18eb9bc1394badfe9a48de1df0641911544b95985440096f6031bc");
    /* A different secret, method, path, timestamp or body gives a different signature. */
    char other[GW_SIGN_V1_BYTES];
    gw_sign_v1("s3cres", 6, &r, other);
    assert_string_not_equal(sig, other);
    const struct gw_sign_req r2 = { "GET", "/v1/payments/pay_1?expand=receipt", "1700000124", NULL,
                                    0 };
    gw_sign_v1("s3cret", 6, &r2, other);
    assert_string_not_equal(sig, other);
}

static void test_sign_string_layout(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 4096);
    const struct gw_sign_req r = { "GET", "/v1/x?a=1", "17", "", 0 };
    assert_int_equal(gw_sign_string(&r, &b), GW_OK);
    assert_string_equal(gw_buf_str(&b), "GET\n/v1/x?a=1\n17\n"
                                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
                                        "7852b855");
    /* The MAC of the built string is the signature: one layout for both. */
    char mac[GW_SHA256_HEX_BYTES];
    char sig[GW_SIGN_V1_BYTES];
    gw_hmac_sha256_hex("k", 1, b.data, b.len, mac);
    gw_sign_v1("k", 1, &r, sig);
    assert_memory_equal(sig, "v1=", 3);
    assert_string_equal(sig + 3, mac);
    gw_buf_release(&b);
}

static void test_sign_string_limit(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, 16);
    const struct gw_sign_req r = { "POST", "/v1/payments", "1700000000", "{}", 2 };
    assert_int_equal(gw_sign_string(&r, &b), GW_ERR_LIMIT);
    gw_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_v1_post_vector),
        cmocka_unit_test(test_sign_v1_query_and_empty_body),
        cmocka_unit_test(test_sign_string_layout),
        cmocka_unit_test(test_sign_string_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
