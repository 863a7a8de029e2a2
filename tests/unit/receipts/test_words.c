/* rcp_words: the amount in Vietnamese words, every rule of docs/receipts.md#amount-in-words
 * (its worked examples first), the int64 maximum, the flag for "bốn", and the refusals. */
#include "rcp.h"

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

static const struct {
    int64_t amount_vnd;
    const char *words;
} cases[] = {
    /* docs/receipts.md#amount-in-words, worked examples */
    { 0, "Không đồng" },
    { 5, "Năm đồng" },
    { 10, "Mười đồng" },
    { 11, "Mười một đồng" },
    { 14, "Mười bốn đồng" },
    { 15, "Mười lăm đồng" },
    { 20, "Hai mươi đồng" },
    { 21, "Hai mươi mốt đồng" },
    { 24, "Hai mươi tư đồng" },
    { 25, "Hai mươi lăm đồng" },
    { 55, "Năm mươi lăm đồng" },
    { 101, "Một trăm linh một đồng" },
    { 105, "Một trăm linh năm đồng" },
    { 110, "Một trăm mười đồng" },
    { 15000, "Mười lăm nghìn đồng" },
    { 100000, "Một trăm nghìn đồng" },
    { 1000500, "Một triệu năm trăm đồng" },
    { 1005000, "Một triệu không trăm linh năm nghìn đồng" },
    { 1250000, "Một triệu hai trăm năm mươi nghìn đồng" },
    { 1000000000, "Một tỷ đồng" },
    { 1000000000000, "Một nghìn tỷ đồng" },
    { 2500000000000, "Hai nghìn năm trăm tỷ đồng" },
    /* more of each rule */
    { 1, "Một đồng" },
    { 4, "Bốn đồng" },
    { 9, "Chín đồng" },
    { 45, "Bốn mươi lăm đồng" },
    { 91, "Chín mươi mốt đồng" },
    { 100, "Một trăm đồng" },
    { 104, "Một trăm linh bốn đồng" },
    { 115, "Một trăm mười lăm đồng" },
    { 121, "Một trăm hai mươi mốt đồng" },
    { 315, "Ba trăm mười lăm đồng" },
    { 1000, "Một nghìn đồng" },
    { 1001, "Một nghìn không trăm linh một đồng" },
    { 1010, "Một nghìn không trăm mười đồng" },
    { 1024, "Một nghìn không trăm hai mươi tư đồng" },
    { 200000, "Hai trăm nghìn đồng" },
    { 1000001, "Một triệu không trăm linh một đồng" },
    { 1050000, "Một triệu không trăm năm mươi nghìn đồng" },
    { 10000000, "Mười triệu đồng" },
    { 1000000005, "Một tỷ không trăm linh năm đồng" },
    { 1000001000, "Một tỷ không trăm linh một nghìn đồng" },
    { 1000000000000000000, "Một tỷ tỷ đồng" },
    { 1000000001000000000, "Một tỷ không trăm linh một tỷ đồng" },
    { INT64_MAX, "Chín tỷ hai trăm hai mươi ba triệu ba trăm bảy mươi hai nghìn không trăm "
                 "ba mươi sáu tỷ tám trăm năm mươi tư triệu bảy trăm bảy mươi lăm nghìn tám "
                 "trăm linh bảy đồng" },
};

static void test_table(void **state)
{
    (void)state;
    assert_true(sizeof(cases) / sizeof(cases[0]) >= 30);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[RCP_WORDS_BYTES];
        struct gw_errbuf eb = { .msg = "" };
        assert_int_equal(rcp_words_vnd(cases[i].amount_vnd, 0, out, sizeof(out), &eb), GW_OK);
        if (strcmp(out, cases[i].words) != 0) {
            (void)fprintf(stderr, "%lld: got \"%s\", want \"%s\"\n", (long long)cases[i].amount_vnd,
                          out, cases[i].words);
        }
        assert_string_equal(out, cases[i].words);
    }
}

static void test_bare_and_flags(void **state)
{
    (void)state;
    char out[RCP_WORDS_BYTES];
    struct gw_errbuf eb = { .msg = "" };
    assert_int_equal(rcp_words(0, 0, out, sizeof(out), &eb), GW_OK);
    assert_string_equal(out, "không");
    assert_int_equal(rcp_words(24, RCP_WORDS_BON, out, sizeof(out), &eb), GW_OK);
    assert_string_equal(out, "hai mươi bốn");
    assert_int_equal(rcp_words_vnd(1024, RCP_WORDS_BON, out, sizeof(out), &eb), GW_OK);
    assert_string_equal(out, "Một nghìn không trăm hai mươi bốn đồng");
    /* The whole uint64 range has words too. */
    assert_int_equal(rcp_words(UINT64_MAX, 0, out, sizeof(out), &eb), GW_OK);
    assert_true(strncmp(out, "mười tám tỷ", strlen("mười tám tỷ")) == 0);
}

static void test_refusals(void **state)
{
    (void)state;
    char out[RCP_WORDS_BYTES];
    struct gw_errbuf eb = { .msg = "" };
    assert_int_equal(rcp_words_vnd(-1, 0, out, sizeof(out), &eb), GW_ERR_INVALID);
    char small[12];
    assert_int_equal(rcp_words_vnd(1005000, 0, small, sizeof(small), &eb), GW_ERR_NOMEM);
    assert_int_equal(rcp_words_vnd(5, 0, small, 9, &eb), GW_ERR_NOMEM); /* "Năm" fits, "đồng" not */
    assert_int_equal(rcp_words(5, 0, out, 0, &eb), GW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_bare_and_flags),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
