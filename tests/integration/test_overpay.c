/* A payment paid twice: the citizen starts a checkout, goes back, starts another at another
 * bank, and both banks take the money. The gateway and feegate-banksim with VNPAY, MoMo and
 * ZaloPay (ZaloPay configured with refunds = off). The second success is booked as an
 * overpayment and refunded through the provider that took it (the simulator's refund), and
 * shows in GET /v1/payments/{id}, in the payment's events and webhooks, in the reconciliation
 * of the simulators' statements (category overpayment, not an open exception) and in the day
 * report; through a channel that cannot refund it is listed for the finance staff and paid
 * back by transfer; a second success whose callback is lost is found by recovery's query; a
 * callback sent again books nothing twice. `feegate ledger check` after each. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "it.h"
#include "ldg_recon.h"

#define VN_TMN     "FGTEST01"
#define VN_SECRET  "vnp-test-secret-6b1d9a"
#define MM_PARTNER "MOMOFG01"
#define MM_ACCESS  "mm-access-3c7a"
#define MM_SECRET  "mm-secret-key-0e4f51"
#define ZP_APP     "2553"
#define ZP_KEY1    "zp-key1-9d2c7b"
#define ZP_KEY2    "zp-key2-41e8a0"

static char ini[2048];
static char today[16];
static struct th_staff clerk = { .id = "clerk1", .role = "clerk" };

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
        port = ntohs(sa.sin_port);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    return port;
}

static int setup(void **state)
{
    (void)state;
    memset(&it, 0, sizeof(it));
    if (th_db_start(&it.db) != GW_OK) {
        return -1;
    }
    it.gw.port = free_port();
    char ipn[96];
    (void)snprintf(ipn, sizeof(ipn), "http://127.0.0.1:%d/ipn/vnpay", it.gw.port);
    const char *const args[] = {
        "--vnpay-tmn",
        VN_TMN,
        "--vnpay-secret",
        VN_SECRET,
        "--vnpay-ipn-url",
        ipn,
        "--momo-partner",
        MM_PARTNER,
        "--momo-access-key",
        MM_ACCESS,
        "--momo-secret-key",
        MM_SECRET,
        "--zalopay-app-id",
        ZP_APP,
        "--zalopay-key1",
        ZP_KEY1,
        "--zalopay-key2",
        ZP_KEY2,
        "--seed",
        "20261207",
        "--callback-interval-ms",
        "100",
        NULL,
    };
    if (th_banksim_start_args(&it.bs, args) != GW_OK) {
        return -1;
    }
    const char *u = it.bs.url;
    (void)snprintf(ini, sizeof(ini),
                   "[channel.vnpay]\nmerchant_id = %s\nsecret = %s\n"
                   "endpoint_url = %s/vnpay/paymentv2/vpcpay.html\n"
                   "api_url = %s/vnpay/merchant_webapi/api/transaction\n"
                   "[channel.momo]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/momo/v2/gateway/api\n"
                   "[channel.zalopay]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/zalopay\nrefunds = off\n",
                   VN_TMN, VN_SECRET, u, u, MM_PARTNER, MM_SECRET, MM_ACCESS, u, ZP_APP, ZP_KEY1,
                   ZP_KEY2, u);
    it.gw.ini_extra = ini;
    if (th_gateway_start(&it.gw, &it.db, &it.bs) != GW_OK) {
        return -1;
    }
    if (th_sql_text(&it.db, "SELECT feegate.recon_today()::text", today, sizeof(today)) != GW_OK ||
        th_staff_add(&it.db, &clerk) != GW_OK || th_staff_sign_in(&it.db, &clerk, 0) != GW_OK) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return it_stop();
}

/* A request of the finance API in the clerk's session (Authorization: Bearer). */
static enum gw_err finance(const char *method, const char *path, const char *body,
                           struct th_resp *r)
{
    char url[256];
    char auth[128];
    (void)snprintf(url, sizeof(url), "%s%s", it.gw.url, path);
    (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", clerk.token);
    const char *const h[] = { auth, "Content-Type: application/json", NULL };
    return th_http(method, url, h, body, body != NULL ? strlen(body) : 0, r);
}

static void faults(const char *json)
{
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/_faults", it.bs.url);
    static const char *const hdrs[] = { "Content-Type: application/json", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, json, strlen(json), &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
}

static long long sql_int(const char *fmt, ...) GW_PRINTF(1, 2);

static long long sql_int(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return th_sql_int(&it.db, sql);
}

/* One checkout attempt: the channel chosen, then the provider's page and the merchant_ref. */
struct attempt {
    const char *ch;
    char location[2048];
    char ref[48];
};

/* POST /pay/{id} channel=a->ch: fills a's page and merchant_ref. */
static void checkout(struct attempt *a, const char *id)
{
    char url[160];
    char body[64];
    (void)snprintf(url, sizeof(url), "%s/pay/%s", it.gw.url, id);
    int n = snprintf(body, sizeof(body), "channel=%s", a->ch);
    static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, body, (size_t)n, &r), GW_OK);
    assert_int_equal(r.status, 303);
    assert_non_null(r.location);
    (void)snprintf(a->location, sizeof(a->location), "%s", r.location);
    th_resp_release(&r);
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT merchant_ref FROM feegate.payment_attempts WHERE payment_id = '%s' "
                   "AND channel = '%s' ORDER BY created_at DESC LIMIT 1",
                   id, a->ch);
    assert_int_equal(th_sql_text(&it.db, sql, a->ref, sizeof(a->ref)), GW_OK);
}

/* The payer approves on the provider's page. */
static void approve(const char *location)
{
    struct th_resp r;
    assert_int_equal(th_http("GET", location, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    assert_int_equal(th_http("POST", location, form, "action=approve", 14, &r), GW_OK);
    assert_int_equal(r.status, 303);
    th_resp_release(&r);
}

static void wait_succeeded(const char *id)
{
    char status[32] = "";
    for (int i = 0; i < 100; i++) {
        it_status(id, status);
        if (strcmp(status, "succeeded") == 0) {
            return;
        }
        usleep(100 * 1000);
    }
    assert_string_equal(status, "succeeded");
}

enum ovp_state {
    OVP_REFUNDED,
    OVP_TO_TRANSFER,
    OVP_TRANSFERRED
};

static const char *const ovp_states[] = { "refunded", "to_transfer", "transferred" };

/* Waits (at most 10 s) until the attempt's overpayment is in state want. */
static void wait_overpayment(const char *ref, enum ovp_state want)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.overpayments WHERE merchant_ref = '%s' "
                   "AND state = '%s'",
                   ref, ovp_states[want]);
    for (int i = 0; i < 100 && th_sql_int(&it.db, sql) == 0; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(th_sql_int(&it.db, sql), 1);
}

enum jkind {
    J_SUCCESS,
    J_OVERPAYMENT,
    J_OVERPAYMENT_REFUND,
    J_OVERPAYMENT_TRANSFER
};

static const char *const jkinds[] = { "payment_success", "overpayment", "overpayment_refund",
                                      "overpayment_transfer" };

static long long journals(const char *id, enum jkind kind)
{
    return sql_int("SELECT count(*) FROM feegate.journals WHERE payment_id = '%s' AND kind = '%s'",
                   id, jkinds[kind]);
}

/* A payment paid through a[0], then (a second attempt started before the first was paid)
 * through a[1]. */
static void pay_twice(struct attempt a[2], char id[40])
{
    it_create(id);
    checkout(&a[0], id);
    checkout(&a[1], id);
    assert_string_not_equal(a[0].ref, a[1].ref);
    approve(a[0].location);
    wait_succeeded(id);
    approve(a[1].location);
}

/* The simulator's statement of today for provider (vnpay or momo: CSV), imported. */
static void import_statement(const char *provider)
{
    char url[256];
    char path[128];
    (void)snprintf(url, sizeof(url), "%s/%s/statement?date=%s", it.bs.url, provider, today);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    (void)snprintf(path, sizeof(path), "/tmp/fg-overpay-%d-%s.csv", (int)getpid(), provider);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(r.body, 1, r.body_len, f), r.body_len);
    assert_int_equal(fclose(f), 0);
    th_resp_release(&r);
    struct ldg_import_req req = {
        .path = path, .provider = provider, .day = today, .staff = clerk.token
    };
    req.opts.currency = "VND";
    assert_true(ldg_stmt_format_parse(provider, &req.opts.format));
    struct ldg_import_result res;
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = ldg_stmt_import_blocking(it.db.pg.app_dsn, &req, &res, &eb);
    if (err != GW_OK) {
        fail_msg("import %s: %s", path, eb.msg);
    }
    assert_int_equal(unlink(path), 0);
}

/* The attempt's payment line (or refund line) of today is explained by its overpayment. */
static void recon_explained(const char *ref, bool refund)
{
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_exceptions WHERE "
                             "business_day = '%s' AND merchant_ref = '%s' AND kind = '%s' AND "
                             "category = 'overpayment' AND state = 'resolved'",
                             today, ref, refund ? "refund" : "payment"),
                     1);
}

/* Both successes in the ledger, the second refunded through MoMo; the payment shows it. */
static void check_booked_and_refunded(const char *id, const struct attempt a[2])
{
    assert_int_equal(journals(id, J_SUCCESS), 1);
    assert_int_equal(journals(id, J_OVERPAYMENT), 1);
    assert_int_equal(journals(id, J_OVERPAYMENT_REFUND), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s' AND "
                             "channel = 'momo' AND status = 'succeeded' AND amount_vnd = 200000 "
                             "AND overpayment_id IS NOT NULL",
                             id),
                     1);
    assert_int_equal(
        sql_int("SELECT count(*) FROM feegate.refund_messages m JOIN feegate.refunds r "
                "ON r.id = m.refund_id WHERE r.payment_id = '%s' AND "
                "m.outcome = 'accepted'",
                id),
        1);
    /* GET payment: still succeeded, paid through VNPAY, its overpayment refunded. */
    json_t *p = it_get(id);
    assert_string_equal(json_string_value(json_object_get(p, "status")), "succeeded");
    assert_string_equal(json_string_value(json_object_get(p, "channel")), "vnpay");
    assert_int_equal(json_integer_value(json_object_get(p, "refunded_vnd")), 0);
    json_t *ops = json_object_get(p, "overpayments");
    assert_int_equal(json_array_size(ops), 1);
    json_t *o = json_array_get(ops, 0);
    assert_string_equal(json_string_value(json_object_get(o, "merchant_ref")), a[1].ref);
    assert_string_equal(json_string_value(json_object_get(o, "channel")), "momo");
    assert_string_equal(json_string_value(json_object_get(o, "state")), "refunded");
    assert_int_equal(json_integer_value(json_object_get(o, "amount_vnd")), 200000);
    assert_non_null(json_string_value(json_object_get(o, "refund_id")));
    json_decref(p);
}

/* The payment's events and its webhooks. */
static void check_events_and_webhooks(const char *id, const struct attempt a[2])
{
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.payment_events WHERE payment_id = '%s' "
                             "AND event IN ('overpaid', 'overpayment_refunding', "
                             "'overpayment_refunded')",
                             id),
                     3);
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s/events", id);
    struct th_resp r;
    assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"overpaid\""));
    assert_non_null(strstr(r.body, "\"overpayment_refunded\""));
    th_resp_release(&r);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.outbox WHERE payment_id = '%s' AND "
                             "type = 'payment.overpaid' AND body::jsonb #>> "
                             "'{overpayment,merchant_ref}' = '%s'",
                             id, a[1].ref),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.outbox WHERE payment_id = '%s' AND "
                             "type = 'payment.overpayment_refunded' AND body::jsonb #>> "
                             "'{overpayment,state}' = 'refunded'",
                             id),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.outbox WHERE payment_id = '%s' AND "
                             "type LIKE 'refund.%%'",
                             id),
                     0);
}

/* The simulators' statements of the day imported and matched: the second success and its
 * refund land in the category overpayment, explained; nothing about either attempt is left
 * open. The day report counts it. */
static void check_recon_and_report(const struct attempt a[2])
{
    import_statement("vnpay");
    import_statement("momo");
    char path[96];
    struct th_resp r;
    (void)snprintf(path, sizeof(path), "/v1/finance/days/%s/reconcile", today);
    assert_int_equal(finance("POST", path, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"overpayment\": 2"));
    th_resp_release(&r);
    (void)snprintf(path, sizeof(path), "/v1/finance/days/%s/exceptions", today);
    assert_int_equal(finance("GET", path, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, a[1].ref));
    th_resp_release(&r);
    recon_explained(a[1].ref, false);
    recon_explained(a[1].ref, true);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_exceptions WHERE "
                             "merchant_ref IN ('%s', '%s') AND category <> 'overpayment'",
                             a[0].ref, a[1].ref),
                     0);
    assert_int_equal(sql_int("SELECT (feegate.day_report(feegate.recon_today()) #>> "
                             "'{overpayments,count}')::int"),
                     1);
    assert_int_equal(sql_int("SELECT (feegate.day_report(feegate.recon_today()) #>> "
                             "'{overpayments,by_state,refunded}')::int"),
                     1);
    /* The overpayment's refund is not a refund of the agency's money. */
    assert_int_equal(sql_int("SELECT (feegate.day_report(feegate.recon_today()) #>> "
                             "'{totals,refunds_vnd}')::bigint"),
                     0);
    /* The CSV report of the finance API has the overpayments' row. */
    (void)snprintf(path, sizeof(path), "/v1/finance/days/%s/report?format=csv", today);
    assert_int_equal(finance("GET", path, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    char row[96];
    (void)snprintf(row, sizeof(row),
                   "%s,Asia/Ho_Chi_Minh,overpayments,\"\",\"\",1,200000,0,200000,0,0", today);
    assert_non_null(strstr(r.body, row));
    th_resp_release(&r);
}

/* The acceptance: VNPAY then MoMo, both succeed. */
static void test_double_payment_vnpay_then_momo(void **state)
{
    (void)state;
    char id[40];
    struct attempt a[2] = { { .ch = "vnpay" }, { .ch = "momo" } };
    pay_twice(a, id);
    wait_overpayment(a[1].ref, OVP_REFUNDED);
    check_booked_and_refunded(id, a);
    check_events_and_webhooks(id, a);
    it_assert_ledger_ok();
    check_recon_and_report(a);
    it_assert_ledger_ok();
}

/* The finance staff pay the overpayment at path back by transfer; a bad reference is refused
 * and changes nothing, and it is paid back once. */
static void transfer_through_finance_api(const char *path)
{
    struct th_resp r;
    static struct th_snap before;
    static struct th_snap after;
    assert_int_equal(th_db_snapshot(&it.db, &before), GW_OK);
    assert_int_equal(finance("POST", path, "{\"transfer_ref\":\"no spaces\"}", &r), GW_OK);
    assert_int_equal(r.status, 422);
    th_resp_release(&r);
    assert_int_equal(th_db_snapshot(&it.db, &after), GW_OK);
    assert_true(th_db_snapshot_equal(&before, &after));
    assert_int_equal(finance("POST", path, "{\"transfer_ref\":\"VCB-20261208-0001\"}", &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"transferred\""));
    th_resp_release(&r);
    assert_int_equal(finance("POST", path, "{\"transfer_ref\":\"VCB-20261208-0002\"}", &r), GW_OK);
    assert_int_equal(r.status, 409);
    th_resp_release(&r);
}

/* ZaloPay is configured with refunds = off: its overpayment is listed for the finance staff,
 * who pay it back by transfer and say so through the finance API. */
static void test_cannot_refund_listed_for_transfer(void **state)
{
    (void)state;
    char id[40];
    struct attempt a[2] = { { .ch = "vnpay" }, { .ch = "zalopay" } };
    pay_twice(a, id);
    wait_overpayment(a[1].ref, OVP_TO_TRANSFER);
    assert_int_equal(journals(id, J_OVERPAYMENT), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s'", id),
                     0);
    assert_int_equal(sql_int("SELECT -sum(amount_vnd) FROM feegate.postings "
                             "WHERE account_code = 'overpaid:zalopay'"),
                     200000);
    it_assert_ledger_ok();
    struct th_resp r;
    assert_int_equal(finance("GET", "/v1/finance/overpayments?state=to_transfer", NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    json_t *list = json_loads(r.body, 0, NULL);
    th_resp_release(&r);
    assert_non_null(list);
    assert_int_equal(json_integer_value(json_object_get(list, "owed_vnd")), 200000);
    json_t *o = json_array_get(json_object_get(list, "overpayments"), 0);
    assert_string_equal(json_string_value(json_object_get(o, "payment_id")), id);
    assert_string_equal(json_string_value(json_object_get(o, "merchant_ref")), a[1].ref);
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/finance/overpayments/%s/transferred",
                   json_string_value(json_object_get(o, "overpayment_id")));
    json_decref(list);
    transfer_through_finance_api(path);
    th_portal_use(it.gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    wait_overpayment(a[1].ref, OVP_TRANSFERRED);
    assert_int_equal(journals(id, J_OVERPAYMENT_TRANSFER), 1);
    assert_int_equal(sql_int("SELECT coalesce(sum(amount_vnd), 0) FROM feegate.postings "
                             "WHERE account_code = 'overpaid:zalopay'"),
                     0);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.outbox WHERE payment_id = '%s' AND "
                             "type = 'payment.overpayment_refunded'",
                             id),
                     1);
    it_assert_ledger_ok();
}

/* The superseded attempt's success callback is lost: recovery queries the attempt, finds the
 * success and books it as an overpayment. */
static void test_lost_second_callback_found_by_recovery(void **state)
{
    (void)state;
    faults("{\"reset\":true,\"momo\":{\"drop\":1}}");
    char id[40];
    struct attempt a[2] = { { .ch = "vnpay" }, { .ch = "momo" } };
    pay_twice(a, id);
    usleep(500 * 1000);
    assert_int_equal(
        sql_int("SELECT count(*) FROM feegate.overpayments WHERE payment_id = '%s'", id), 0);
    /* The attempt is not closed blindly: it is queried. */
    assert_int_equal(sql_int("SELECT final::int FROM feegate.payment_attempts "
                             "WHERE merchant_ref = '%s'",
                             a[1].ref),
                     0);
    /* Meanwhile reconciliation sees MoMo's line of a success the switch has not booked: a
     * double payment, an open exception. */
    import_statement("momo");
    assert_int_equal(th_sql_exec(&it.db, "SELECT feegate.recon_run(feegate.recon_today(), NULL)"),
                     GW_OK);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_exceptions WHERE "
                             "merchant_ref = '%s' AND category = 'status_mismatch' AND "
                             "state = 'open' AND detail LIKE '%%double payment%%'",
                             a[1].ref),
                     1);
    assert_int_equal(th_sql_exec(&it.db, "UPDATE feegate.payment_attempts SET next_query_at = "
                                         "now() WHERE NOT final"),
                     GW_OK);
    wait_overpayment(a[1].ref, OVP_REFUNDED);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.provider_messages WHERE "
                             "merchant_ref = '%s' AND source = 'query' AND verdict = 'applied'",
                             a[1].ref),
                     1);
    assert_int_equal(sql_int("SELECT final::int FROM feegate.payment_attempts "
                             "WHERE merchant_ref = '%s'",
                             a[1].ref),
                     1);
    assert_int_equal(journals(id, J_OVERPAYMENT), 1);
    /* Matched again, the line is explained by the overpayment and the exception is gone. */
    import_statement("momo");
    assert_int_equal(th_sql_exec(&it.db, "SELECT feegate.recon_run(feegate.recon_today(), NULL)"),
                     GW_OK);
    recon_explained(a[1].ref, false);
    recon_explained(a[1].ref, true);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.recon_exceptions WHERE "
                             "merchant_ref = '%s' AND state = 'open'",
                             a[1].ref),
                     0);
    faults("{\"reset\":true}");
    it_assert_ledger_ok();
}

/* The overpaying attempt's callback comes four times: one overpayment, one journal, one
 * refund, one webhook. */
static void test_duplicated_callback_books_once(void **state)
{
    (void)state;
    faults("{\"reset\":true,\"momo\":{\"duplicate\":{\"p\":1,\"min\":3,\"max\":3}}}");
    char id[40];
    struct attempt a[2] = { { .ch = "vnpay" }, { .ch = "momo" } };
    pay_twice(a, id);
    wait_overpayment(a[1].ref, OVP_REFUNDED);
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.provider_messages WHERE merchant_ref = '%s' "
                   "AND source = 'callback'",
                   a[1].ref);
    for (int i = 0; i < 50 && th_sql_int(&it.db, sql) < 4; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(th_sql_int(&it.db, sql), 4);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.provider_messages WHERE "
                             "merchant_ref = '%s' AND verdict = 'applied'",
                             a[1].ref),
                     1);
    assert_int_equal(journals(id, J_OVERPAYMENT), 1);
    assert_int_equal(journals(id, J_OVERPAYMENT_REFUND), 1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.refunds WHERE payment_id = '%s'", id),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM feegate.outbox WHERE payment_id = '%s' AND "
                             "type = 'payment.overpaid'",
                             id),
                     1);
    assert_int_equal(
        sql_int("SELECT count(*) FROM feegate.overpayments WHERE payment_id = '%s'", id), 1);
    faults("{\"reset\":true}");
    it_assert_ledger_ok();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_payment_vnpay_then_momo),
        cmocka_unit_test(test_cannot_refund_listed_for_transfer),
        cmocka_unit_test(test_lost_second_callback_found_by_recovery),
        cmocka_unit_test(test_duplicated_callback_books_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
