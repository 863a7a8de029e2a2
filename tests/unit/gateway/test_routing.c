/* gateway/config.c and routing.c: maintenance windows parsed strictly and matched in Vietnam
 * time (across midnight and across the week's end), and the circuit breaker: open after N
 * consecutive failures or a p90 over its bound, half-open after the cool-down, closed by a
 * good probe, open again by a bad one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "request.h"
#include "routing.h"

#include "banned.h"

/* 2026-11-22 is a Sunday; t(day offset, hh, mm) in Vietnam time as a Unix time. */
static time_t vn(int day, int hh, int mm)
{
    const time_t sunday_0000_vn = 1795280400; /* 2026-11-22T00:00+07:00 */
    return sunday_0000_vn + (time_t)day * 86400 + (time_t)hh * 3600 + (time_t)mm * 60;
}

static struct gw_channel_config ch;

static void parse_ok(const char *text)
{
    struct gw_errbuf eb = { .msg = "" };
    memset(&ch, 0, sizeof(ch));
    if (gw_config_parse_maintenance(text, &ch, &eb) != GW_OK) {
        fail_msg("\"%s\": %s", text, eb.msg);
    }
}

static void test_parse_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Sunday 01:00-03:00",
        "Sun 1:00-03:00",
        "Sun 01:00-03:00,",
        "daily 24:00-01:00",
        "daily 01:60-02:00",
        "Sun 01:00",
        "Sun 01:00-01:00",
        "sun 01:00-03:00",
        "Sun  01:00-03:00",
        "daily 01:00-02:00 x",
        "Sun 01:00-03:00, , daily 23:55-00:05",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_errbuf eb = { .msg = "" };
        memset(&ch, 0, sizeof(ch));
        if (gw_config_parse_maintenance(bad[i], &ch, &eb) == GW_OK) {
            fail_msg("\"%s\" accepted", bad[i]);
        }
    }
    parse_ok("");
    assert_int_equal(ch.n_maint, 0);
    parse_ok("none");
    assert_int_equal(ch.n_maint, 0);
    parse_ok("Sun 01:00-03:00, daily 23:55-00:05");
    assert_int_equal(ch.n_maint, 2);
}

static void test_windows(void **state)
{
    (void)state;
    parse_ok("Sun 01:00-03:00, daily 23:55-00:05, Sat 23:00-01:00");
    assert_true(gw_channel_in_maintenance(&ch, vn(0, 0, 59))); /* Saturday's, past midnight */
    assert_true(gw_channel_in_maintenance(&ch, vn(0, 1, 0)));
    assert_false(gw_channel_in_maintenance(&ch, vn(1, 0, 59))); /* Monday */
    assert_true(gw_channel_in_maintenance(&ch, vn(0, 2, 59)));
    assert_false(gw_channel_in_maintenance(&ch, vn(0, 3, 0)));
    assert_false(gw_channel_in_maintenance(&ch, vn(1, 1, 30))); /* Monday */
    assert_true(gw_channel_in_maintenance(&ch, vn(2, 23, 57)));
    assert_true(gw_channel_in_maintenance(&ch, vn(3, 0, 4)));
    assert_false(gw_channel_in_maintenance(&ch, vn(3, 0, 5)));
    assert_true(gw_channel_in_maintenance(&ch, vn(6, 23, 30))); /* Saturday night */
    assert_true(gw_channel_in_maintenance(&ch, vn(7, 0, 30)));  /* into Sunday */
    assert_false(gw_channel_in_maintenance(&ch, vn(6, 22, 59)));
}

static void test_breaker(void **state)
{
    (void)state;
    static struct gw_server srv;
    struct gw_loop *loop = &srv.loops[0];
    loop->srv = &srv;
    memset(&ch, 0, sizeof(ch));
    ch.ops = &gw_adapter_momo;
    ch.breaker_failures = 3;
    ch.breaker_p90_ms = 500;
    ch.breaker_cooldown_s = 1;
    time_t now = time(NULL);
    assert_true(gw_channel_up(loop, &ch, now));
    gw_health_record(loop, &ch, false, 10);
    gw_health_record(loop, &ch, false, 10);
    gw_health_record(loop, &ch, true, 10); /* a success resets the count */
    gw_health_record(loop, &ch, false, 10);
    gw_health_record(loop, &ch, false, 10);
    assert_true(gw_channel_up(loop, &ch, now));
    gw_health_record(loop, &ch, false, 10);
    assert_false(gw_channel_up(loop, &ch, now));
    usleep(1100 * 1000);
    assert_true(gw_channel_up(loop, &ch, now)); /* half-open: one probe */
    gw_health_record(loop, &ch, false, 10);
    assert_false(gw_channel_up(loop, &ch, now));
    usleep(1100 * 1000);
    assert_true(gw_channel_up(loop, &ch, now));
    gw_health_record(loop, &ch, true, 10);
    assert_true(gw_channel_up(loop, &ch, now));
    /* slow but answering: the p90 opens it once there are enough samples */
    for (int i = 0; i < 8; i++) { /* with the probe: 9 samples, too few to judge */
        gw_health_record(loop, &ch, true, 900);
    }
    assert_true(gw_channel_up(loop, &ch, now));
    gw_health_record(loop, &ch, true, 900);
    assert_false(gw_channel_up(loop, &ch, now));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_breaker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
