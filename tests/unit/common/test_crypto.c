/* gw_crypto: HMAC vectors (RFC 4231, docs/providers.md#hmac-basics), SHA-256, hex, constant-time
 * equality and the random source. */
#include "gw_crypto.h"

/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <string.h>

#include "banned.h"

static const char jefe_data[] = "what do ya want for nothing?";

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    char out[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex("Jefe", 4, jefe_data, strlen(jefe_data), out);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 1: key 0x0b x 20, "Hi There". */
    char key[20];
    memset(key, 0x0b, sizeof(key));
    gw_hmac_sha256_hex(key, sizeof(key), "Hi There", 8, out);
    assert_string_equal(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

static void test_hmac_sha512_rfc4231(void **state)
{
    (void)state;
    char out[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex("Jefe", 4, jefe_data, strlen(jefe_data), out);
    assert_string_equal(out, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                             "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

static void test_hmac_empty_key_and_data(void **state)
{
    (void)state;
    char out[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex("", 0, "", 0, out);
    assert_string_equal(out, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_sha256(void **state)
{
    (void)state;
    char out[GW_SHA256_HEX_BYTES];
    gw_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gw_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hex_equal_ct(void **state)
{
    (void)state;
    assert_true(gw_hex_equal_ct("00ab", 4, "00ab", 4));
    assert_true(gw_hex_equal_ct("00AB", 4, "00ab", 4)); /* case is ignored */
    assert_false(gw_hex_equal_ct("00ab", 4, "00ac", 4));
    assert_false(gw_hex_equal_ct("00ab", 4, "00ab0", 5)); /* lengths differ */
    assert_true(gw_hex_equal_ct("", 0, "", 0));
    /* Past the 64-byte chunk: a difference in the second chunk is seen. */
    char a[GW_SHA512_HEX_BYTES];
    char b[GW_SHA512_HEX_BYTES];
    gw_hmac_sha512_hex("k", 1, "d", 1, a);
    memcpy(b, a, sizeof(a));
    assert_true(gw_hex_equal_ct(a, 128, b, 128));
    b[100] = b[100] == '0' ? '1' : '0';
    assert_false(gw_hex_equal_ct(a, 128, b, 128));
    /* Only ASCII letters fold: '@' (0x40) is not '`' (0x60). */
    assert_false(gw_hex_equal_ct("@", 1, "`", 1));
}

static void test_hex_encode(void **state)
{
    (void)state;
    const unsigned char in[] = { 0x00, 0x7f, 0x80, 0xff, 0x1a };
    char out[11];
    gw_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "007f80ff1a");
    gw_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void test_random_bytes(void **state)
{
    (void)state;
    unsigned char a[32];
    unsigned char b[32];
    assert_int_equal(gw_random_bytes(a, sizeof(a)), GW_OK);
    assert_int_equal(gw_random_bytes(b, sizeof(b)), GW_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(gw_random_bytes(a, 0), GW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_hmac_sha512_rfc4231),
        cmocka_unit_test(test_hmac_empty_key_and_data),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hex_equal_ct),
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
