/* The statement parsers on files, without a database: real camt.053 samples from a public
 * camt parser's test data (tests/fixtures/camt053/README.md), synthetic VND ones, the
 * canonical CSV and the simulators' VNPAY, MoMo and ZaloPay files; malformed ones refused
 * with the line and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ldg_recon.h"

#define FIX       FEEGATE_SOURCE_DIR "/tests/fixtures/camt053/"
#define LINES_MAX 16

struct got {
    int n;
    struct ldg_stmt_line l[LINES_MAX];
};

static enum gw_err collect(void *arg, const struct ldg_stmt_line *line,
                           const struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    struct got *g = arg;
    (void)info;
    if (g->n == LINES_MAX) {
        return gw_fail(eb, GW_ERR_LIMIT, "too many lines");
    }
    g->l[g->n++] = *line;
    return GW_OK;
}

static enum gw_err parse(const char *path, enum ldg_stmt_format f, const char *ccy, struct got *g,
                         struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    struct ldg_stmt_opts o = { .format = f, .currency = ccy };
    memset(g, 0, sizeof(*g));
    eb->msg[0] = '\0';
    return ldg_stmt_parse(path, &o, collect, g, info, eb);
}

static void test_real_samples(void **state)
{
    (void)state;
    struct got g;
    struct ldg_stmt_info info;
    struct gw_errbuf eb;
    /* 001.02, two statements, booking dates without a time, a credit and a debit. */
    assert_int_equal(
        parse(FIX "genkgo-camt053.v2.multi.statement.xml", LDG_STMT_CAMT053, NULL, &g, &info, &eb),
        GW_OK);
    assert_string_equal(info.version, "001.02");
    assert_int_equal(info.statements, 2);
    assert_int_equal(g.n, 2);
    assert_true(g.l[0].payment);
    assert_false(g.l[1].payment);
    assert_string_equal(g.l[0].merchant_ref, "000000001");
    assert_string_equal(g.l[0].booked_on, "2014-12-31");
    assert_string_equal(g.l[0].booked_at, "");
    assert_int_equal(g.l[0].amount_vnd, 8);
    assert_string_equal(g.l[0].currency, "EUR");
    /* 001.08: Sts/Cd, a booking time with an offset, four balance types in four
     * currencies, a zero-amount detail that lends its references. */
    assert_int_equal(parse(FIX "genkgo-camt053.v8.xml", LDG_STMT_CAMT053, NULL, &g, &info, &eb),
                     GW_OK);
    assert_string_equal(info.version, "001.08");
    assert_int_equal(g.n, 1);
    assert_string_equal(g.l[0].merchant_ref, "MUELL/FINP/RA12345");
    assert_string_equal(g.l[0].provider_txn_id, "AAAASESS-FP-CN_98765/01");
    assert_string_equal(g.l[0].booked_at, "2014-12-31T19:15:00+07:00");
    /* A statement with balances only, date-times with nanoseconds. */
    assert_int_equal(
        parse(FIX "genkgo-camt53.only-Dt-with-DtTm.xml", LDG_STMT_CAMT053, NULL, &g, &info, &eb),
        GW_OK);
    assert_int_equal(info.statements, 1);
    assert_int_equal(g.n, 0);
    /* feegate books VND: each of them is refused, naming the currency. */
    static const char *const foreign[] = { "genkgo-camt053.v2.multi.statement.xml",
                                           "genkgo-camt053.v8.xml",
                                           "genkgo-camt53.only-Dt-with-DtTm.xml" };
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        (void)snprintf(path, sizeof(path), FIX "%s", foreign[i]);
        assert_int_equal(parse(path, LDG_STMT_CAMT053, "VND", &g, &info, &eb), GW_ERR_INVALID);
        assert_non_null(strstr(eb.msg, "refused"));
        assert_int_equal(g.n, 0);
    }
}

static void test_synthetic_vnd(void **state)
{
    (void)state;
    struct got g;
    struct ldg_stmt_info info;
    struct gw_errbuf eb;
    assert_int_equal(parse(FIX "synthetic-vnd.v04.xml", LDG_STMT_CAMT053, "VND", &g, &info, &eb),
                     GW_OK);
    assert_int_equal(info.statements, 2);
    assert_int_equal(info.skipped, 1); /* the pending entry */
    assert_int_equal(g.n, 4);
    assert_string_equal(g.l[0].merchant_ref, "FGREF0001");
    assert_int_equal(g.l[0].amount_vnd, 200000);
    assert_int_equal(g.l[0].fee_vnd, 2000);
    assert_string_equal(g.l[0].provider_txn_id, "BANK-0001");
    assert_string_equal(g.l[1].merchant_ref, "FGREF0002"); /* batch booking, detail 1 */
    assert_int_equal(g.l[1].amount_vnd, 100000);
    assert_string_equal(g.l[1].booked_at, "2026-03-01T10:15:00+07:00"); /* no offset: VN */
    assert_string_equal(g.l[2].merchant_ref, "FGREF0003");              /* EndToEndId NOTPROVIDED */
    assert_int_equal(g.l[2].amount_vnd, 200000);
    assert_false(g.l[3].payment);
    assert_string_equal(g.l[3].merchant_ref, "FGREF0004");
    for (int i = 0; i < g.n; i++) {
        assert_int_equal(ldg_stmt_line_check(&g.l[i], &eb), GW_OK);
    }
    /* 17:30 UTC is 00:30 the next day in Vietnam. */
    assert_int_equal(parse(FIX "synthetic-vnd.v08.xml", LDG_STMT_CAMT053, "VND", &g, &info, &eb),
                     GW_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.l[0].booked_on, "2026-03-02");
    assert_string_equal(g.l[0].booked_at, "2026-03-02T00:30:00+07:00");
    assert_int_equal(parse(FIX "synthetic-eur.v06.xml", LDG_STMT_CAMT053, "VND", &g, &info, &eb),
                     GW_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "currency EUR refused"));
    assert_int_equal(
        parse(FIX "synthetic-malformed.v02.xml", LDG_STMT_CAMT053, "VND", &g, &info, &eb),
        GW_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "malformed XML"));
    assert_int_equal(strncmp(eb.msg, "line ", 5), 0);
}

static void write_tmp(char path[64], const char *text)
{
    (void)snprintf(path, 64, "/tmp/fg-stmt-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static void test_csv_family(void **state)
{
    (void)state;
    struct got g;
    struct ldg_stmt_info info;
    struct gw_errbuf eb;
    char p[64];
    write_tmp(p, "# feegate statement\n"
                 "provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency\n"
                 "T1,FGA,payment,200000,2000,succeeded,2026-03-01T23:59:59+07:00,VND\n"
                 "T2,FGB,refund,50000,0,succeeded,2026-03-01,VND\n"
                 "T3,FGC,payment,8000,0,failed,2026-03-01T16:59:59Z,VND\n");
    assert_int_equal(parse(p, LDG_STMT_CANONICAL, "VND", &g, &info, &eb), GW_OK);
    assert_int_equal(g.n, 3);
    assert_false(g.l[1].payment);
    assert_false(g.l[2].succeeded);
    assert_string_equal(g.l[2].booked_at, "2026-03-01T23:59:59+07:00");
    (void)unlink(p);
    static const char *const bad[] = {
        ("provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency\n"
         "T1,FGA,payment,200000,0,succeeded,2026-03-01,VND\nT2,FGB,payment,12.5,0,succeeded,"
         "2026-03-01,VND\n"),
        ("provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency\n"
         "T1,FGA,payment,200000,0,succeeded,2026-03-01,VND\nT2,FGB,payment,1,0,succeeded,"
         "2026-02-30,VND\n"),
        ("provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency\n"
         "T1,FGA,payment,200000,0,succeeded,2026-03-01,VND\nT2,FGB,payment,1,0,maybe,"
         "2026-03-01,VND\n"),
        ("provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency\n"
         "T1,FGA,payment,200000,0,succeeded,2026-03-01,VND\nT2,FGB,payment,1,0,succeeded,"
         "2026-03-01,USD\n"),
        ("provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,booked_at,currency\n"
         "T1,FGA,payment,200000,0,succeeded,2026-03-01,VND\nT2,FGB,payment\n"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_tmp(p, bad[i]);
        assert_int_equal(parse(p, LDG_STMT_CANONICAL, "VND", &g, &info, &eb), GW_ERR_INVALID);
        assert_non_null(strstr(eb.msg, "line 3: "));
        (void)unlink(p);
    }
    write_tmp(p, "amount,merchant_ref\n1,FGA\n");
    assert_int_equal(parse(p, LDG_STMT_CANONICAL, "VND", &g, &info, &eb), GW_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "line 1: header has no column"));
    (void)unlink(p);
}

static void test_provider_files(void **state)
{
    (void)state;
    struct got g;
    struct ldg_stmt_info info;
    struct gw_errbuf eb;
    char p[64];
    write_tmp(p, "vnp_TmnCode,vnp_TxnRef,vnp_TransactionNo,vnp_TransactionType,vnp_Amount,"
                 "vnp_FeeAmount,vnp_PayDate,vnp_BankCode,vnp_TransactionStatus\r\n"
                 "FEEGATE1,FG01,14000001,01,20000000,220000,20260301235959,NCB,00\r\n"
                 "FEEGATE1,FG01,14000002,02,5000000,0,20260302081500,NCB,00\r\n");
    assert_int_equal(parse(p, LDG_STMT_VNPAY, "VND", &g, &info, &eb), GW_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.l[0].amount_vnd, 200000);
    assert_int_equal(g.l[0].fee_vnd, 2200);
    assert_string_equal(g.l[0].booked_at, "2026-03-01T23:59:59+07:00");
    assert_false(g.l[1].payment);
    assert_string_equal(g.l[1].merchant_ref, "FG01");
    (void)unlink(p);
    write_tmp(p, "partnerCode,orderId,transId,type,originalOrderId,originalTransId,amount,fee,"
                 "time,resultCode\r\n"
                 "MOMO1,FG02,3100001,payment,,,50000,1000,2026-03-01T10:00:00+07:00,0\r\n"
                 "MOMO1,RF02,3100002,refund,FG02,3100001,50000,0,2026-03-01T11:00:00+07:00,0\r\n");
    assert_int_equal(parse(p, LDG_STMT_MOMO, "VND", &g, &info, &eb), GW_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.l[1].merchant_ref, "FG02"); /* the refunded order */
    assert_false(g.l[1].payment);
    (void)unlink(p);
    write_tmp(p, "{\"type\":\"payment\",\"app_id\":2553,\"app_trans_id\":\"260301_FG03\","
                 "\"zp_trans_id\":260301000001,\"amount\":200000,\"fee_amount\":2000,"
                 "\"server_time\":1772384399000,\"status\":1}\n"
                 "{\"type\":\"refund\",\"app_id\":2553,\"m_refund_id\":\"260301_2553_R1\","
                 "\"refund_id\":99,\"app_trans_id\":\"260301_FG03\",\"zp_trans_id\":260301000001,"
                 "\"amount\":200000,\"fee_amount\":0,\"server_time\":1772384400000,\"status\":1}\n"
                 "{\"type\":\"payment\"\n");
    assert_int_equal(parse(p, LDG_STMT_ZALOPAY, "VND", &g, &info, &eb), GW_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "line 3: not a JSON object"));
    assert_int_equal(g.n, 2);
    /* ZaloPay's app_trans_id is "yymmdd_" + the switch's reference: the line keeps the
     * reference, for the payment and for the refund of it. */
    assert_string_equal(g.l[0].merchant_ref, "FG03");
    assert_string_equal(g.l[1].merchant_ref, "FG03");
    assert_string_equal(g.l[0].booked_at, "2026-03-01T23:59:59+07:00");
    assert_string_equal(g.l[1].provider_txn_id, "99");
    (void)unlink(p);
    /* A reference shaped as ZaloPay's documentation shows it (210608_1234567), one whose
     * prefix is not a date shape (kept whole), and one with nothing after the prefix. */
    write_tmp(p, "{\"type\":\"payment\",\"app_trans_id\":\"210608_1234567\",\"zp_trans_id\":"
                 "210608000000107,\"amount\":50000,\"server_time\":1623146400000,\"status\":1}\n"
                 "{\"type\":\"payment\",\"app_trans_id\":\"2106X8_FG04\",\"zp_trans_id\":2,"
                 "\"amount\":50000,\"server_time\":1623146400000,\"status\":1}\n"
                 "{\"type\":\"payment\",\"app_trans_id\":\"210608_\",\"zp_trans_id\":3,"
                 "\"amount\":50000,\"server_time\":1623146400000,\"status\":1}\n");
    assert_int_equal(parse(p, LDG_STMT_ZALOPAY, "VND", &g, &info, &eb), GW_OK);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.l[0].merchant_ref, "1234567");
    assert_string_equal(g.l[1].merchant_ref, "2106X8_FG04");
    assert_string_equal(g.l[2].merchant_ref, "210608_");
    (void)unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_samples),
        cmocka_unit_test(test_synthetic_vnd),
        cmocka_unit_test(test_csv_family),
        cmocka_unit_test(test_provider_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
