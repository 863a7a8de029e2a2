/* The citizen's pages over real HTTP: a declined attempt leaves the payment payable (the
 * checkout page says which bank declined, and paying again works), the Back button's page
 * says which bank an attempt is in progress at, expiry and cancellation say so in the
 * heading with the status at the top, a form sent without a choice gets its error summary
 * (422), people get an HTML 404 in their language while /v1 keeps the API's JSON, an
 * unoffered language is refused with a page (400); and the public pages' rate limit: an
 * address gets 429 with Retry-After after its burst while another address is served (the
 * source addresses 127.0.0.2 and 127.0.0.3, on a gateway restarted with a small burst). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_limits.h"
#include "it.h"

#include "banned.h"

#define PG_BURST   5 /* the restarted gateway's page_rate_burst */
#define PG_READ_MS 5000

/* A page to fetch and a text to look for in it. */
struct probe {
    const char *path;
    const char *needle;
};

/* GET probe->path; its status, and whether the body contains probe->needle. */
static int page(const struct probe *pr, bool *contains)
{
    char url[300];
    (void)snprintf(url, sizeof(url), "%s%s", it.gw.url, pr->path);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    int status = r.status;
    *contains = strstr(r.body, pr->needle) != NULL;
    th_resp_release(&r);
    return status;
}

static bool page_has(const struct probe *pr, int *status)
{
    bool found = false;
    *status = page(pr, &found);
    return found;
}

static void expect_page(const char *path, int status, const char *needle)
{
    int got = 0;
    const struct probe pr = { .path = path, .needle = needle };
    bool found = page_has(&pr, &got);
    if (got != status || !found) {
        fail_msg("%s answered %d, %s \"%s\"", path, got, found ? "with" : "without", needle);
    }
}

/* ---- decline, the Back button, expiry, cancellation ---- */

static void test_decline_leaves_payment_payable(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    char path[120];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    (void)snprintf(path, sizeof(path), "/pay/%s", id);
    /* The Back button from the bank's page: the attempt in progress, at which bank. */
    expect_page(path, 200, "Một lần thanh toán đang được xử lý tại");
    expect_page(path, 200, "khoản tiền thứ hai sẽ được tự động hoàn lại");
    expect_page(path, 200, "Sandbox (ngân hàng thử nghiệm)");
    assert_int_equal(it_callback(ref, 200000, "failed", "SBXD", TH_SANDBOX_SECRET, NULL, 0), 200);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "pending");
    /* The page says who declined and what to do, and offers the channels again. */
    expect_page(path, 200, "Thanh toán chưa thành công: hãy thử lại hoặc chọn ngân hàng khác");
    expect_page(path, 200, "Thanh toán không thành công tại");
    expect_page(path, 200, "name=\"channel\"");
    (void)snprintf(path, sizeof(path), "/pay/%s?lang=en", id);
    expect_page(path, 200, "The payment did not go through: try again or choose another bank");
    char ref2[48];
    it_checkout(id, location, sizeof(location), ref2);
    assert_int_equal(it_callback(ref2, 200000, "succeeded", "SBXE", TH_SANDBOX_SECRET, NULL, 0),
                     200);
    it_status(id, status);
    assert_string_equal(status, "succeeded");
    (void)snprintf(path, sizeof(path), "/pay/%s", id);
    expect_page(path, 200, "<h1>Đã thanh toán</h1>");
    it_assert_ledger_ok();
}

static void test_expired_and_cancelled_pages(void **state)
{
    (void)state;
    char id[40];
    char location[1024];
    char ref[48];
    char path[120];
    it_create(id);
    it_checkout(id, location, sizeof(location), ref);
    char sql[200];
    (void)snprintf(sql, sizeof(sql),
                   "UPDATE feegate.payments SET expires_at = now() - interval '1 second' "
                   "WHERE id = '%s'",
                   id);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    (void)snprintf(path, sizeof(path), "/pay/%s", id);
    expect_page(path, 200,
                "<h1>Đã hết hạn thanh toán: hãy tạo yêu cầu mới từ cổng dịch vụ công</h1>"
                "<p class=\"status st-bad\" role=\"status\">");
    int st = 0;
    const struct probe radios = { .path = path, .needle = "name=\"channel\"" };
    assert_false(page_has(&radios, &st)); /* nothing to pay with */
    assert_int_equal(st, 200);
    /* A form sent from a page opened before the deadline: 409, and the page says why. */
    char url[200];
    (void)snprintf(url, sizeof(url), "%s/pay/%s", it.gw.url, id);
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp late;
    assert_int_equal(th_http("POST", url, form, "channel=sandbox", 15, &late), GW_OK);
    assert_int_equal(late.status, 409);
    assert_non_null(strstr(late.body, "<h1>Đã hết hạn thanh toán"));
    th_resp_release(&late);
    char cid[40];
    it_create(cid);
    char api[120];
    (void)snprintf(api, sizeof(api), "/v1/payments/%s/cancel", cid);
    struct th_resp r;
    assert_int_equal(th_portal("POST", api, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/pay/%s?lang=en", cid);
    expect_page(path, 200,
                "<h1>This payment was cancelled: go back to the public service portal</h1>");
    it_assert_ledger_ok();
}

/* ---- forms and bad input ---- */

static void test_choice_required(void **state)
{
    (void)state;
    char id[40];
    it_create(id);
    char url[200];
    (void)snprintf(url, sizeof(url), "%s/pay/%s", it.gw.url, id);
    int st = 0;
    const struct probe checked = { .path = url + strlen(it.gw.url), .needle = "checked" };
    assert_false(page_has(&checked, &st)); /* none chosen in advance */
    assert_int_equal(st, 200);
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", url, form, "", 0, &r), GW_OK);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "Có lỗi cần sửa"));
    assert_non_null(strstr(r.body, "href=\"#channel-0\""));
    assert_non_null(strstr(r.body, "id=\"channel-0\""));
    assert_non_null(strstr(r.body, "<title>Lỗi:"));
    th_resp_release(&r);
    char status[32];
    it_status(id, status);
    assert_string_equal(status, "created");
}

static void test_people_get_html(void **state)
{
    (void)state;
    struct th_resp r;
    char url[200];
    (void)snprintf(url, sizeof(url), "%s/thanh-toan", it.gw.url);
    static const char *const en[] = { "Accept-Language: en-GB,en;q=0.8", NULL };
    assert_int_equal(th_http("GET", url, en, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 404);
    assert_non_null(r.content_type);
    assert_true(strncmp(r.content_type, "text/html", 9) == 0);
    assert_non_null(strstr(r.body, "<h1>Page not found</h1>"));
    th_resp_release(&r);
    expect_page("/thanh-toan", 404, "<h1>Không tìm thấy trang</h1>");
    expect_page("/pay/pay_00000000000000000000000000000000", 404, "Không tìm thấy");
    expect_page("/pay/nonsense?lang=en", 404, "Page not found");
    expect_page("/verify?lang=fr", 400, "lang=en");
    /* The API keeps its JSON. */
    assert_int_equal(
        th_portal("GET", "/v1/payments/pay_00000000000000000000000000000000", NULL, NULL, &r),
        GW_OK);
    assert_int_equal(r.status, 404);
    assert_non_null(r.content_type);
    assert_true(strncmp(r.content_type, "application/json", 16) == 0);
    th_resp_release(&r);
    /* The home page cites no file. */
    int st = 0;
    const struct probe home = { .path = "/", .needle = "docs/" };
    assert_false(page_has(&home, &st));
    assert_int_equal(st, 200);
}

/* ---- the rate limit ---- */

/* A request from an address of 127.0.0.0/8, and the Retry-After of its answer (or ""). */
struct from {
    const char *src;
    char retry[32];
};

/* GET path from f->src over a connection of its own: the status, and the Retry-After
 * header's value in f->retry. -1 when no answer came. */
static int get_from(struct from *f, const char *path)
{
    const char *src = f->src;
    char *retry = f->retry;
    size_t cap = sizeof(f->retry);
    retry[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    assert_int_equal(inet_pton(AF_INET, src, &sa.sin_addr), 1);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)it.gw.port) };
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
    char req[300];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    char buf[65536];
    size_t got = 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (got < sizeof(buf) - 1 && poll(&p, 1, PG_READ_MS) == 1) {
        ssize_t k = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    (void)close(fd);
    buf[got] = '\0';
    int status = -1;
    if (strncmp(buf, "HTTP/1.1 ", 9) == 0) {
        status = (int)strtol(buf + 9, NULL, 10);
    }
    const char *ra = strstr(buf, "Retry-After: ");
    if (ra != NULL) {
        ra += strlen("Retry-After: ");
        (void)snprintf(retry, cap, "%.*s", (int)strcspn(ra, "\r\n"), ra);
    }
    if (status == 429 && strstr(buf, "Quá nhiều yêu cầu") == NULL) {
        fprintf(stderr, "a 429 without its page:\n%.2000s\n", buf);
        status = -2;
    }
    return status;
}

static void test_rate_limit(void **state)
{
    (void)state;
    assert_int_equal(th_gateway_stop(&it.gw), GW_OK);
    it.gw.ini_extra =
        "[server]\nloops = 1\npage_rate_burst = " GW_STR(PG_BURST) "\npage_rate_per_min = 6\n";
    assert_int_equal(th_gateway_start(&it.gw, &it.db, &it.bs), GW_OK);
    struct from a = { .src = "127.0.0.2", .retry = "" };
    struct from b = { .src = "127.0.0.3", .retry = "" };
    for (int i = 0; i < PG_BURST; i++) {
        assert_int_equal(get_from(&a, "/verify"), 200);
    }
    assert_int_equal(get_from(&a, "/verify?code=AA-26E/1"), 429);
    long wait_s = strtol(a.retry, NULL, 10);
    assert_true(wait_s >= 1 && wait_s <= 10); /* one token in 10 s at 6 a minute */
    assert_int_equal(get_from(&a, "/pay/pay_00000000000000000000000000000000"), 429);
    /* Another address is served, and the health endpoints are not limited for the first. */
    for (int i = 0; i < PG_BURST; i++) {
        assert_int_equal(get_from(&b, "/"), 200);
    }
    assert_int_equal(get_from(&a, "/healthz"), 200);
}

static int setup(void **state)
{
    (void)state;
    return it_start("approve", NULL);
}

static int teardown(void **state)
{
    (void)state;
    return it_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decline_leaves_payment_payable),
        cmocka_unit_test(test_expired_and_cancelled_pages),
        cmocka_unit_test(test_choice_required),
        cmocka_unit_test(test_people_get_html),
        cmocka_unit_test(test_rate_limit), /* last: it restarts the gateway with a small burst */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
