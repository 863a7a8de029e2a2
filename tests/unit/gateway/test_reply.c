/* The reply limits: a body over GW_HTTP_RESPONSE_BYTES_MAX (GW_HTTP_REPORT_BYTES_MAX for
 * finance answers) is answered 500 instead, counted as a server error. The request's client
 * has gone (cancelled) so that nothing is written to a connection: the decision and the
 * count are what is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_limits.h"
#include "request.h"

#include "banned.h"

static struct gw_loop loop;

static struct gw_ctx *ctx_new(void)
{
    static struct gw_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    gw_arena_init(&ctx.arena, 4096, (size_t)64 * 1024);
    ctx.loop = &loop;
    ctx.cancelled = true;
    ctx.route = GW_ROUTE_API;
    static char path[] = "/v1/test";
    ctx.path = path;
    loop.inflight++;
    return &ctx;
}

/* The count of answers with status class cls (2 for 2xx) on the API route. */
static uint64_t answered(int cls)
{
    return atomic_load(&loop.m.requests[GW_ROUTE_API][cls - 1]);
}

static void test_reply_at_and_over_the_limit(void **state)
{
    (void)state;
    char *body = gw_xmalloc(GW_HTTP_RESPONSE_BYTES_MAX + 1);

    memset(body, 'x', GW_HTTP_RESPONSE_BYTES_MAX + 1);
    uint64_t ok0 = answered(2);
    uint64_t bad0 = answered(5);
    gw_reply(ctx_new(), 200, "application/json", body, GW_HTTP_RESPONSE_BYTES_MAX);
    assert_int_equal(answered(2), ok0 + 1);
    gw_reply(ctx_new(), 200, "application/json", body, GW_HTTP_RESPONSE_BYTES_MAX + 1);
    assert_int_equal(answered(2), ok0 + 1);
    assert_int_equal(answered(5), bad0 + 1);
    assert_int_equal(loop.inflight, 0);
    gw_xfree(body);
}

static void test_report_has_its_own_limit(void **state)
{
    (void)state;
    char *body = gw_xmalloc(GW_HTTP_REPORT_BYTES_MAX + 1);

    memset(body, 'x', GW_HTTP_REPORT_BYTES_MAX + 1);
    uint64_t ok0 = answered(2);
    uint64_t bad0 = answered(5);
    gw_reply_report(ctx_new(), 200, "text/csv", body, GW_HTTP_RESPONSE_BYTES_MAX + 1);
    gw_reply_report(ctx_new(), 200, "text/csv", body, GW_HTTP_REPORT_BYTES_MAX);
    assert_int_equal(answered(2), ok0 + 2);
    gw_reply_report(ctx_new(), 200, "text/csv", body, GW_HTTP_REPORT_BYTES_MAX + 1);
    assert_int_equal(answered(2), ok0 + 2);
    assert_int_equal(answered(5), bad0 + 1);
    assert_int_equal(loop.inflight, 0);
    gw_xfree(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_at_and_over_the_limit),
        cmocka_unit_test(test_report_has_its_own_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
