/* rcp_receipt_view_from_json: receipt_view as the receipt pages read it (the receipt, its
 * marks, its document), and as the XML reads it (rcp_receipt_from_json, strict). */
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

#include "gw_arena.h"

#include "banned.h"

/* The shape of feegate.receipt_view (ledger/sql/base/receipts.sql), trimmed. */
static const char view_json[] =
    "{\"id\":\"rcp_0123456789abcdef0123456789abcdef\",\"payment_id\":\"pay_1\","
    "\"template\":\"01BLP0-001\",\"series\":\"AA-26E\",\"number\":\"0000007\","
    "\"issued_at\":\"2026-01-02T10:00:00+07:00\",\"amount_vnd\":200000,"
    "\"payer\":{\"name\":\"Nguyễn Văn An\",\"id_number\":\"001\",\"address\":\"Hà Nội\"},"
    "\"items\":[{\"fee_code\":\"F1\",\"name\":\"Lệ phí\",\"amount_vnd\":150000},"
    "{\"fee_code\":\"F2\",\"amount_vnd\":50000}],"
    "\"agency\":{\"code\":\"STP\",\"name\":\"Sở Tư pháp\",\"tax_code\":\"0101\","
    "\"address\":\"1 Tràng Thi\"},\"channel\":\"sandbox\",\"order_ref\":\"HS-1\","
    "\"kind\":\"adjustment\",\"original\":{\"template\":\"01BLP0-001\",\"series\":\"AA-26E\","
    "\"number\":\"0000001\",\"reason\":\"sai số tiền\"},"
    "\"marks\":[{\"mark\":\"cancelled\",\"by_receipt_id\":null,\"reason\":\"hoàn tiền\"}],"
    "\"document\":{\"sha256\":\"ab\",\"signed\":true}}";

static void test_view(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    struct rcp_receipt_view v;
    struct gw_errbuf eb = { .msg = "" };
    assert_int_equal(rcp_receipt_view_from_json(view_json, &a, &v, &eb), GW_OK);
    assert_string_equal(v.r.number, "0000007");
    assert_string_equal(v.r.collector.name, "Sở Tư pháp");
    assert_string_equal(v.r.payer.name, "Nguyễn Văn An");
    assert_string_equal(v.r.kind, "adjustment");
    assert_string_equal(v.r.original.reason, "sai số tiền");
    assert_int_equal(v.r.total_vnd, 200000);
    assert_int_equal(v.r.n_items, 0);
    assert_int_equal(v.n_lines, 2);
    assert_string_equal(v.lines[0].name, "Lệ phí");
    assert_string_equal(v.lines[1].name, "");
    assert_string_equal(v.lines[1].fee_code, "F2");
    assert_int_equal(v.n_marks, 1);
    assert_string_equal(v.marks[0].mark, "cancelled");
    assert_string_equal(v.marks[0].by_receipt_id, "");
    assert_true(v.issued);
    assert_true(v.is_signed);
    assert_string_equal(v.document_sha256, "ab");
    /* The same JSON reads strictly for the XML, lines included. */
    struct rcp_receipt r;
    assert_int_equal(rcp_receipt_from_json(view_json, "https://x/verify?code=", &a, &r, &eb),
                     GW_OK);
    assert_int_equal(r.n_items, 2);
    assert_string_equal(r.verify_url, "https://x/verify?code=rcp_0123456789abcdef0123456789abcdef");
    gw_arena_release(&a);
}

/* For display, nothing is required: absent values read as empty, the total is the sum of the
 * lines, and more lines than RCP_ITEMS_MAX are all kept. */
static void test_view_lenient(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    char json[8192];
    size_t used = (size_t)snprintf(json, sizeof(json), "{\"items\":[");
    for (int i = 0; i < RCP_ITEMS_MAX + 3; i++) {
        used += (size_t)snprintf(json + used, sizeof(json) - used, "%s{\"amount_vnd\":10}",
                                 i > 0 ? "," : "");
    }
    (void)snprintf(json + used, sizeof(json) - used, ",7],\"document\":null}");
    struct rcp_receipt_view v;
    struct gw_errbuf eb = { .msg = "" };
    assert_int_equal(rcp_receipt_view_from_json(json, &a, &v, &eb), GW_OK);
    assert_int_equal(v.n_lines, RCP_ITEMS_MAX + 3);
    assert_int_equal(v.r.total_vnd, 10 * (RCP_ITEMS_MAX + 3));
    assert_string_equal(v.r.id, "");
    assert_string_equal(v.r.kind, "original");
    assert_false(v.issued);
    assert_string_equal(v.document_sha256, "");
    assert_int_equal(v.n_marks, 0);
    struct rcp_receipt r;
    assert_int_equal(rcp_receipt_from_json(json, "", &a, &r, &eb), GW_ERR_INVALID);
    /* Only what is not an object is refused. */
    assert_int_equal(rcp_receipt_view_from_json("[1]", &a, &v, &eb), GW_ERR_INVALID);
    assert_int_equal(rcp_receipt_view_from_json("{", &a, &v, &eb), GW_ERR_INVALID);
    gw_arena_release(&a);
}

/* With a lookup code, the QR code's URL carries it instead of the receipt id; it is shown in
 * groups of four. */
static void test_lookup_code(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    char json[sizeof(view_json) + 64];
    (void)snprintf(json, sizeof(json), "{\"lookup_code\":\"7KQ2M9XD4HBT\",%s", view_json + 1);
    struct rcp_receipt r;
    struct gw_errbuf eb = { .msg = "" };
    assert_int_equal(rcp_receipt_from_json(json, "https://x/verify?code=", &a, &r, &eb), GW_OK);
    assert_string_equal(r.lookup_code, "7KQ2M9XD4HBT");
    assert_string_equal(r.verify_url, "https://x/verify?code=7KQ2M9XD4HBT");
    char shown[RCP_LOOKUP_SHOWN_BYTES];
    rcp_lookup_code_show(r.lookup_code, shown);
    assert_string_equal(shown, "7KQ2-M9XD-4HBT");
    rcp_lookup_code_show("", shown);
    assert_string_equal(shown, "");
    gw_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_lookup_code),
        cmocka_unit_test(test_view_lenient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
