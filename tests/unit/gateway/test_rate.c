/* gateway/rate.c: the public pages' token bucket per client address. The clock is given, so
 * the refill is exact: a burst, then one token per 60/per_min seconds; addresses are
 * independent; a full table forgets its least recently seen address first. Also the pages'
 * words: gateway/i18n.c's dates and times as people write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "i18n.h"
#include "rate.h"

#include "banned.h"

static struct gw_rate_table table; /* 64 KiB: static, zeroed */

#define HIT(a, ms) ((struct gw_rate_hit){ .addr = (a), .now_ms = (ms) })

static bool take(const struct gw_rate_cfg *cfg, struct gw_rate_hit hit, int *retry_s)
{
    return gw_rate_take(&table, cfg, &hit, retry_s);
}

static void test_burst_then_refill(void **state)
{
    (void)state;
    memset(&table, 0, sizeof(table));
    const struct gw_rate_cfg cfg = { .burst = 5, .per_min = 6 }; /* one token per 10 s */
    const uint32_t a = 0x7f000002;
    const uint32_t b = 0x7f000003;
    int retry_s = 0;
    for (int i = 0; i < 5; i++) {
        assert_true(take(&cfg, HIT(a, 1000), &retry_s));
    }
    assert_false(take(&cfg, HIT(a, 1000), &retry_s));
    assert_int_equal(retry_s, 10);
    assert_true(take(&cfg, HIT(b, 1000), &retry_s)); /* b has its own */
    assert_false(take(&cfg, HIT(a, 6000), &retry_s));
    assert_int_equal(retry_s, 5);
    assert_true(take(&cfg, HIT(a, 11000), &retry_s)); /* 10 s: one token */
    assert_false(take(&cfg, HIT(a, 11000), &retry_s));
    /* an hour later: a full bucket, not more */
    for (int i = 0; i < 5; i++) {
        assert_true(take(&cfg, HIT(a, 3600000), &retry_s));
    }
    assert_false(take(&cfg, HIT(a, 3600000), &retry_s));
    /* a clock that goes back refills nothing and breaks nothing */
    assert_false(take(&cfg, HIT(a, 1000), &retry_s));
}

/* More addresses than the table holds: every one is still answered, and an address
 * forgotten comes back with a full bucket. */
static void test_table_full(void **state)
{
    (void)state;
    memset(&table, 0, sizeof(table));
    const struct gw_rate_cfg cfg = { .burst = 1, .per_min = 1 };
    int retry_s = 0;
    for (uint32_t i = 1; i <= 4 * GW_PAGE_RATE_ADDRS_MAX; i++) {
        assert_true(take(&cfg, HIT(0x0a000000 + i, (int64_t)i), &retry_s));
    }
    /* the latest is remembered: its bucket is empty */
    assert_false(take(&cfg,
                      HIT(0x0a000000 + 4 * GW_PAGE_RATE_ADDRS_MAX, 4 * GW_PAGE_RATE_ADDRS_MAX + 1),
                      &retry_s));
    assert_int_equal(retry_s, 60);
}

static void test_when(void **state)
{
    (void)state;
    char out[GW_FMT_WHEN_BYTES];
    assert_true(gw_fmt_when(GW_LANG_VI, "2026-11-25T09:33:00Z", true, out));
    assert_string_equal(out, "16:33 ngày 25/11/2026");
    assert_true(gw_fmt_when(GW_LANG_EN, "2026-11-25T09:33:00Z", true, out));
    assert_string_equal(out, "4:33pm on 25 November 2026");
    assert_true(gw_fmt_when(GW_LANG_EN, "2026-11-25T17:05:00Z", true, out));
    assert_string_equal(out, "12:05am on 26 November 2026");
    assert_true(gw_fmt_when(GW_LANG_EN, "2026-01-01T05:00:00+07:00", false, out));
    assert_string_equal(out, "1 January 2026");
    assert_true(gw_fmt_when(GW_LANG_VI, "2026-01-01T05:00:00+07:00", false, out));
    assert_string_equal(out, "01/01/2026");
    assert_false(gw_fmt_when(GW_LANG_EN, "yesterday", true, out));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_when),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
