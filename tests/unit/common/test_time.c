/* gw_time: Vietnam-time formats (UTC+7, no DST) around midnight and year ends, the strict
 * compact parser, and the clocks. */
#include "gw_time.h"

/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <string.h>

#include "banned.h"

/* UTC instants and their Vietnam wall time. */
static const struct {
    time_t t;
    const char *compact;
    const char *rfc3339;
} time_cases[] = {
    { 0, "19700101070000", "1970-01-01T07:00:00+07:00" },
    { 1795625999, "20261125235959", "2026-11-25T23:59:59+07:00" }, /* 16:59:59Z */
    { 1795626000, "20261126000000", "2026-11-26T00:00:00+07:00" }, /* 17:00:00Z, VN midnight */
    { 1798736399, "20261231235959", "2026-12-31T23:59:59+07:00" },
    { 1798736400, "20270101000000", "2027-01-01T00:00:00+07:00" }, /* new year in VN only */
    { 1835370000, "20280229000000", "2028-02-29T00:00:00+07:00" }, /* leap day */
};

#define TIME_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < TIME_COUNT(time_cases); i++) {
        char compact[15];
        char rfc[26];
        gw_time_compact_vn(time_cases[i].t, compact);
        gw_time_rfc3339_vn(time_cases[i].t, rfc);
        assert_string_equal(compact, time_cases[i].compact);
        assert_string_equal(rfc, time_cases[i].rfc3339);
    }
}

static void test_round_trip_across_midnight(void **state)
{
    (void)state;
    for (size_t i = 0; i < TIME_COUNT(time_cases); i++) {
        time_t t = 0;
        assert_int_equal(gw_time_parse_compact_vn(time_cases[i].compact, &t), GW_OK);
        assert_int_equal(t, time_cases[i].t);
    }
    /* Every second of the hour around VN midnight survives format then parse. */
    for (time_t t = 1795626000 - 1800; t < 1795626000 + 1800; t++) {
        char s[15];
        gw_time_compact_vn(t, s);
        time_t back = 0;
        assert_int_equal(gw_time_parse_compact_vn(s, &back), GW_OK);
        assert_int_equal(back, t);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026112516330",
        "202611251633000",
        "2026112516330x",
        "-2026112516330",
        "20261325163300",
        "20260025163300",
        "20261100163300",
        "20261131163300",
        "20270229000000",
        "20261125240000",
        "20261125236000",
        "20261125235960",
        "19691231235959",
        " 2026112516330",
        "2026-11-25T16:3",
    };
    for (size_t i = 0; i < TIME_COUNT(bad); i++) {
        time_t t = 42;
        assert_int_equal(gw_time_parse_compact_vn(bad[i], &t), GW_ERR_INVALID);
        assert_int_equal(t, 42);
    }
    time_t t = 0;
    assert_int_equal(gw_time_parse_compact_vn(NULL, &t), GW_ERR_INVALID);
    assert_int_equal(gw_time_parse_compact_vn("20280229235959", &t), GW_OK);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = gw_now_ms();
    assert_true(now > INT64_C(1577836800000)); /* after 2020 */
    int64_t a = gw_monotonic_us();
    int64_t b = gw_monotonic_us();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip_across_midnight),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
