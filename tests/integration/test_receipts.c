/* E-receipts end to end (docs/receipts.md): 1,000 payments succeeding concurrently through
 * the real gateway and signed sandbox callbacks get numbers 1..1,000 of their series; every
 * receipt gets its signed XML, which matches docs/receipt.xsd, passes the stock
 * `xmlsec1 --verify` and `feegate receipt verify`, and fails both when a byte of the signed
 * content changes; the PDF's text has the number, series, total and words; the verification
 * page; cancel and adjust; old receipts still verify after the signing key is rotated; and
 * an EC P-256 signer (`feegate receipt-ca issue ... --ecdsa-p256`) signs ECDSA-SHA256 that
 * both verifiers accept, and both refuse once a byte changes. */
/* clang-format off: cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
/* clang-format on */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw_buf.h"
#include "gw_crypto.h"
#include "gw_limits.h"
#include "gw_time.h"
#include "it.h"
#include "rcp.h"

#define PAYMENTS     1000
#define THREADS      8
#define DOCS_WAIT_MS 120000
#define SAMPLES_CLI  24 /* tampered copies checked by the stock xmlsec1 and feegate */

static char dir[256];     /* the test's CA and files */
static char ini[1024];    /* [receipts] lines for the gateway */
static char first_id[40]; /* a receipt signed with the first key */

static int run(const char *cmd)
{
    char line[2048];
    (void)snprintf(line, sizeof(line), "timeout 60 %s >%s/cmd.out 2>&1", cmd, dir);
    return system(line);
}

/* ---- the concurrent payments ---- */

struct payer {
    int index;
    int n;
    int failures;
};

static bool pay_one(int k)
{
    char ref[64];
    char body[1024];
    char url[160];
    char id[40];
    (void)snprintf(ref, sizeof(ref), "RC-%d-%d", getpid(), k);
    struct th_resp r;
    if (th_portal("POST", "/v1/payments", it_create_body(body, sizeof(body), ref), NULL, &r) !=
            GW_OK ||
        r.status != 201) {
        fprintf(stderr, "create answered %d: %.300s\n", r.status, r.body);
        th_resp_release(&r);
        return false;
    }
    json_t *j = json_loads(r.body, 0, NULL);
    const char *pid = json_string_value(json_object_get(j, "payment_id"));
    bool ok = pid != NULL && strlen(pid) < sizeof(id);
    if (ok) {
        (void)snprintf(id, sizeof(id), "%s", pid);
    }
    json_decref(j);
    th_resp_release(&r);
    (void)snprintf(url, sizeof(url), "%s/pay/%s", it.gw.url, id);
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    if (!ok || th_http("POST", url, form, "channel=sandbox", 15, &r) != GW_OK || r.status != 303 ||
        r.location == NULL || strstr(r.location, "merchant_ref=") == NULL) {
        fprintf(stderr, "checkout answered %d: %.300s\n", r.status, r.body);
        th_resp_release(&r);
        return false;
    }
    char mref[48];
    const char *m = strstr(r.location, "merchant_ref=") + strlen("merchant_ref=");
    (void)snprintf(mref, sizeof(mref), "%.*s", (int)strcspn(m, "&"), m);
    th_resp_release(&r);
    char txn[32];
    (void)snprintf(txn, sizeof(txn), "T%d", k);
    char answer[256];
    int status =
        it_callback(mref, 200000, "succeeded", txn, TH_SANDBOX_SECRET, answer, sizeof(answer));
    if (status != 200) {
        fprintf(stderr, "callback answered %d: %s\n", status, answer);
    }
    return status == 200;
}

static void *payer_main(void *arg)
{
    struct payer *p = arg;
    for (int i = 0; i < p->n; i++) {
        if (!pay_one(p->index * 100000 + i)) {
            p->failures++;
        }
    }
    return NULL;
}

static void wait_documents(long long want)
{
    int64_t until = gw_monotonic_us() / 1000 + DOCS_WAIT_MS;
    long long n = 0;
    while ((n = th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_documents")) < want &&
           gw_monotonic_us() / 1000 < until) {
        (void)usleep(100 * 1000);
    }
    assert_int_equal(n, want);
}

static void test_concurrent_numbering(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    struct payer p[THREADS];
    for (int i = 0; i < THREADS; i++) {
        p[i] = (struct payer){ .index = i, .n = PAYMENTS / THREADS, .failures = 0 };
        assert_int_equal(pthread_create(&t[i], NULL, payer_main, &p[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        failures += p[i].failures;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipts WHERE template = "
                                        "'01BLP0-001' AND series = 'AA-26E'"),
                     PAYMENTS);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(DISTINCT number) FROM feegate.receipts "
                                        "WHERE series = 'AA-26E'"),
                     PAYMENTS);
    assert_int_equal(th_sql_int(&it.db, "SELECT min(number) FROM feegate.receipts "
                                        "WHERE series = 'AA-26E'"),
                     1);
    assert_int_equal(th_sql_int(&it.db, "SELECT max(number) FROM feegate.receipts "
                                        "WHERE series = 'AA-26E'"),
                     PAYMENTS);
    wait_documents(PAYMENTS);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_documents "
                                        "WHERE signed_at IS NOT NULL"),
                     PAYMENTS);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_jobs"), 0);
    assert_int_equal(th_sql_text(&it.db,
                                 "SELECT id FROM feegate.receipts WHERE number = 1 AND "
                                 "series = 'AA-26E'",
                                 first_id, sizeof(first_id)),
                     GW_OK);
    it_assert_ledger_ok();
}

/* ---- the signed XML ---- */

/* GET /receipts/{id}.xml into b (asserts 200). */
static void fetch_xml(const char *id, struct gw_buf *b)
{
    char url[160];
    (void)snprintf(url, sizeof(url), "%s/receipts/%s.xml", it.gw.url, id);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "application/xml"));
    assert_int_equal(gw_buf_add(b, r.body, r.body_len), GW_OK);
    th_resp_release(&r);
}

static void write_file(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Both stock and feegate verifiers on one file: 0 when both accept, 1 when both refuse. */
static int cli_verdict(const char *path)
{
    char cmd[1024];
    (void)snprintf(cmd, sizeof(cmd), "xmlsec1 --verify --trusted-pem %s/ca.pem %s", dir, path);
    int stock = run(cmd);
    (void)snprintf(cmd, sizeof(cmd), "%s receipt verify %s --ca %s/ca.pem", FEEGATE_BIN, path, dir);
    int ours = run(cmd);
    if ((stock == 0) != (ours == 0)) {
        fprintf(stderr, "xmlsec1 says %d, feegate says %d on %s\n", stock, ours, path);
    }
    return stock == 0 && ours == 0 ? 0 : (stock != 0 && ours != 0 ? 1 : -1);
}

static void test_xml_signed_and_tamper_evident(void **state)
{
    (void)state;
    struct gw_buf b;
    gw_buf_init(&b, RCP_XML_BYTES_MAX);
    fetch_xml(first_id, &b);
    struct gw_errbuf eb = { .msg = "" };
    assert_int_equal(
        rcp_xml_validate_xsd(b.data, b.len, FEEGATE_SOURCE_DIR "/docs/receipt.xsd", &eb), GW_OK);
    char path[320];
    (void)snprintf(path, sizeof(path), "%s/receipt.xml", dir);
    write_file(path, b.data, b.len);
    assert_int_equal(cli_verdict(path), 0);
    char ca[300];
    (void)snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    struct rcp_verify_result v;
    assert_int_equal(rcp_xml_verify(b.data, b.len, ca, &v, &eb), GW_OK);
    assert_true(v.valid);
    assert_string_equal(v.number, "0000001");
    /* The signed content: from the root element to the signature (enveloped). */
    const char *start = strstr(b.data, "<Receipt");
    const char *sig = strstr(b.data, "<Signature");
    assert_non_null(start);
    assert_non_null(sig);
    size_t from = (size_t)(start - b.data);
    size_t to = (size_t)(sig - b.data);
    int digest_reported = 0;
    for (size_t i = from; i < to; i++) {
        b.data[i] ^= 0x01;
        assert_int_equal(rcp_xml_verify(b.data, b.len, ca, &v, &eb), GW_OK);
        if (v.valid) {
            fprintf(stderr, "byte %zu changed and still valid\n", i);
        }
        assert_false(v.valid);
        digest_reported += strstr(v.reason, "digest of the signed content") != NULL;
        if ((i - from) % ((to - from) / SAMPLES_CLI) == 0) {
            write_file(path, b.data, b.len);
            assert_int_equal(cli_verdict(path), 1);
        }
        b.data[i] ^= 0x01;
    }
    assert_true(digest_reported > 0);
    /* The exact reason for a changed amount, and for another CA. */
    char *total = strstr(b.data, "<TotalVnd>2");
    assert_non_null(total);
    total[10] = '3';
    assert_int_equal(rcp_xml_verify(b.data, b.len, ca, &v, &eb), GW_OK);
    assert_false(v.valid);
    assert_non_null(strstr(v.reason, "digest of the signed content does not match"));
    total[10] = '2';
    char other[320];
    (void)snprintf(other, sizeof(other), "%s/other", dir);
    assert_int_equal(rcp_ca_init(other, &eb), GW_OK);
    (void)snprintf(other, sizeof(other), "%s/other/ca.pem", dir);
    assert_int_equal(rcp_xml_verify(b.data, b.len, other, &v, &eb), GW_OK);
    assert_false(v.valid);
    assert_non_null(strstr(v.reason, "does not chain to the CA"));
    gw_buf_release(&b);
}

/* ---- the PDF ---- */

static void test_pdf_text(void **state)
{
    (void)state;
    char url[160];
    (void)snprintf(url, sizeof(url), "%s/receipts/%s.pdf", it.gw.url, first_id);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.body_len > 1000 && memcmp(r.body, "%PDF-", 5) == 0);
    char pdf[320];
    char cmd[1024];
    (void)snprintf(pdf, sizeof(pdf), "%s/receipt.pdf", dir);
    write_file(pdf, r.body, r.body_len);
    th_resp_release(&r);
    (void)snprintf(cmd, sizeof(cmd), "pdftotext -layout %s %s/receipt.txt", pdf, dir);
    assert_int_equal(run(cmd), 0);
    (void)snprintf(cmd, sizeof(cmd), "pdftoppm -png -r 70 -singlefile %s %s/receipt", pdf, dir);
    assert_int_equal(run(cmd), 0);
    char txt_path[320];
    (void)snprintf(txt_path, sizeof(txt_path), "%s/receipt.txt", dir);
    FILE *f = fopen(txt_path, "r");
    assert_non_null(f);
    char txt[16384];
    size_t n = fread(txt, 1, sizeof(txt) - 1, f);
    txt[n] = '\0';
    (void)fclose(f);
    assert_non_null(strstr(txt, "BIÊN LAI THU PHÍ, LỆ PHÍ"));
    assert_non_null(strstr(txt, "0000001"));
    assert_non_null(strstr(txt, "AA-26E"));
    assert_non_null(strstr(txt, "01BLP0-001"));
    assert_non_null(strstr(txt, "200.000"));
    assert_non_null(strstr(txt, "Hai trăm nghìn đồng"));
    assert_non_null(strstr(txt, "Nguyễn Văn An"));
    fprintf(stderr, "PDF page rendered to %s/receipt.png\n", dir);
}

/* ---- the verification page ---- */

/* A page to fetch and a text to look for in it. */
struct probe {
    const char *url;
    const char *needle;
};

/* GET pr->url; its status and whether its body contains pr->needle. */
static int get_contains(const struct probe *pr, bool *contains)
{
    struct th_resp r;
    assert_int_equal(th_http("GET", pr->url, NULL, NULL, 0, &r), GW_OK);
    int status = r.status;
    *contains = strstr(r.body, pr->needle) != NULL;
    th_resp_release(&r);
    return status;
}

/* Expects status and needle at url. */
static void expect_at(const char *url, int status, const char *needle)
{
    const struct probe pr = { .url = url, .needle = needle };
    bool found = false;
    assert_int_equal(get_contains(&pr, &found), status);
    assert_true(found);
}

/* The verification page of one series and number: existence, and nothing personal. */
static void expect_number_only(const char *code)
{
    static const char *const personal[] = { "Nguyễn Văn An", "001099012345", "2345",
                                            "rcp_",          "pay_",         "200.000" };
    char url[200];
    (void)snprintf(url, sizeof(url), "%s/verify?code=%s", it.gw.url, code);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Có biên lai mang ký hiệu và số này"));
    for (size_t k = 0; k < sizeof(personal) / sizeof(personal[0]); k++) {
        if (strstr(r.body, personal[k]) != NULL) {
            fail_msg("%s shows \"%s\"", url, personal[k]);
        }
    }
    th_resp_release(&r);
}

/* Walking the receipt numbers 1 to 50 on the public pages: a number proves that its receipt
 * exists and no more; no name, no ID number, nothing that opens the receipt. */
static void test_walk_numbers(void **state)
{
    (void)state;
    for (int n = 1; n <= 50; n++) {
        char code[64];
        (void)snprintf(code, sizeof(code), "AA-26E/%d", n);
        expect_number_only(code);
        (void)snprintf(code, sizeof(code), "AA-26E/%07d", n);
        expect_number_only(code);
        (void)snprintf(code, sizeof(code), "01BLP0-001/AA-26E/%d", n);
        expect_number_only(code);
        char url[200];
        (void)snprintf(url, sizeof(url), "%s/receipts/%d", it.gw.url, n);
        const struct probe pr = { .url = url, .needle = "Nguyễn Văn An" };
        bool found = false;
        assert_int_equal(get_contains(&pr, &found), 404);
        assert_false(found);
    }
}

/* The lookup code printed on the receipt (and in its QR code) finds it, however it is typed;
 * the page shows the payer's name and the last four digits of the ID number only. */
static void test_lookup_code(void **state)
{
    (void)state;
    char code[32];
    char sql[160];
    (void)snprintf(sql, sizeof(sql), "SELECT lookup_code FROM feegate.receipts WHERE id = '%s'",
                   first_id);
    assert_int_equal(th_sql_text(&it.db, sql, code, sizeof(code)), GW_OK);
    assert_int_equal(strlen(code), GW_LOOKUP_CODE_CHARS);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(DISTINCT lookup_code) - count(*) FROM "
                                        "feegate.receipts"),
                     0);
    /* as printed, in groups of four, in lower case */
    char typed[40];
    (void)snprintf(typed, sizeof(typed), "%.4s-%.4s-%.4s", code, code + 4, code + 8);
    for (char *c = typed; *c != '\0'; c++) {
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    }
    char url[200];
    (void)snprintf(url, sizeof(url), "%s/verify?code=%s", it.gw.url, typed);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Biên lai có trong hệ thống"));
    assert_non_null(strstr(r.body, "Nguyễn Văn An"));
    assert_non_null(strstr(r.body, "••••••••2345"));
    assert_null(strstr(r.body, "001099012345"));
    assert_null(strstr(r.body, "rcp_"));
    assert_null(strstr(r.body, "pay_"));
    assert_non_null(strstr(r.body, "Ký số bởi"));
    assert_non_null(strstr(r.body, "<details>"));
    th_resp_release(&r);
    /* in English, the same receipt in English words */
    (void)snprintf(url, sizeof(url), "%s/verify?code=%s&lang=en", it.gw.url, code);
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "This receipt is in our records"));
    assert_non_null(strstr(r.body, "Signed by"));
    th_resp_release(&r);
    /* the receipt's own page carries the code */
    (void)snprintf(url, sizeof(url), "%s/receipts/%s", it.gw.url, first_id);
    char shown[RCP_LOOKUP_SHOWN_BYTES];
    rcp_lookup_code_show(code, shown);
    expect_at(url, 200, shown);
    /* a code of the right shape that is no receipt's: 404, said in words */
    (void)snprintf(url, sizeof(url), "%s/verify?code=%s", it.gw.url,
                   strcmp(code, "ZZZZZZZZZZZZ") == 0 ? "YYYYYYYYYYYY" : "ZZZZZZZZZZZZ");
    expect_at(url, 404, "Không tìm thấy biên lai có mã này");
    /* of the wrong shape: 400 with the error summary, in the page's language */
    (void)snprintf(url, sizeof(url), "%s/verify?code=abc", it.gw.url);
    expect_at(url, 400, "Có lỗi cần sửa");
    (void)snprintf(url, sizeof(url), "%s/verify?code=abc&lang=en", it.gw.url);
    expect_at(url, 400, "There is a problem");
    (void)snprintf(url, sizeof(url), "%s/verify?code=", it.gw.url);
    expect_at(url, 400, "Hãy nhập mã tra cứu");
}

static void test_verify_page(void **state)
{
    (void)state;
    char url[200];
    struct th_resp r;
    (void)snprintf(url, sizeof(url), "%s/verify?code=AA-26E/9999999", it.gw.url);
    expect_at(url, 404, "Không tìm thấy biên lai");

    struct gw_buf xml;
    struct gw_buf body;
    gw_buf_init(&xml, RCP_XML_BYTES_MAX);
    gw_buf_init(&body, RCP_XML_BYTES_MAX + 1024);
    fetch_xml(first_id, &xml);
    (void)snprintf(url, sizeof(url), "%s/verify", it.gw.url);
    static const char *const raw[] = { "Content-Type: application/xml", NULL };
    assert_int_equal(th_http("POST", url, raw, xml.data, xml.len, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Biên lai hợp lệ: chữ ký số và nội dung khớp"));
    assert_non_null(strstr(r.body, "••••••••2345"));
    assert_null(strstr(r.body, "001099012345"));
    th_resp_release(&r);
    /* The same document changed by one digit, uploaded as a browser form does. */
    char *total = strstr(xml.data, "<TotalVnd>2");
    assert_non_null(total);
    total[10] = '9';
    assert_int_equal(gw_buf_printf(&body, "--XyZ\r\nContent-Disposition: form-data; name=\"xml\"; "
                                          "filename=\"r.xml\"\r\nContent-Type: text/xml\r\n\r\n"),
                     GW_OK);
    assert_int_equal(gw_buf_add(&body, xml.data, xml.len), GW_OK);
    assert_int_equal(gw_buf_adds(&body, "\r\n--XyZ--\r\n"), GW_OK);
    static const char *const mp[] = { "Content-Type: multipart/form-data; boundary=XyZ", NULL };
    assert_int_equal(th_http("POST", url, mp, body.data, body.len, &r), GW_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Biên lai không hợp lệ"));
    assert_non_null(strstr(r.body, "Nội dung tệp đã bị thay đổi sau khi được ký số."));
    assert_non_null(strstr(r.body, "digest of the signed content does not match"));
    th_resp_release(&r);
    /* not a receipt at all: 422, said in words, linked to the file field */
    assert_int_equal(th_http("POST", url, raw, "hello", 5, &r), GW_OK);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "Tệp đã chọn không phải là tệp XML của biên lai"));
    assert_non_null(strstr(r.body, "href=\"#xml\""));
    th_resp_release(&r);
    /* an empty upload: 400 */
    static const char empty[] = "--XyZ\r\nContent-Disposition: form-data; name=\"xml\"; "
                                "filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                                "\r\n--XyZ--\r\n";
    assert_int_equal(th_http("POST", url, mp, empty, sizeof(empty) - 1, &r), GW_OK);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "Hãy chọn tệp XML của biên lai"));
    th_resp_release(&r);
    gw_buf_release(&xml);
    gw_buf_release(&body);
}

/* ---- cancel, adjust, and the page while a document is being issued ---- */

static void test_cancel_and_adjust(void **state)
{
    (void)state;
    char id2[40];
    char id3[40];
    char sql[512];
    char url[160];
    assert_int_equal(th_sql_text(&it.db,
                                 "SELECT id FROM feegate.receipts WHERE number = 2 AND "
                                 "series = 'AA-26E'",
                                 id2, sizeof(id2)),
                     GW_OK);
    assert_int_equal(th_sql_text(&it.db,
                                 "SELECT id FROM feegate.receipts WHERE number = 3 AND "
                                 "series = 'AA-26E'",
                                 id3, sizeof(id3)),
                     GW_OK);
    (void)snprintf(sql, sizeof(sql), "SELECT feegate.receipt_cancel('%s', 'full refund')", id2);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    assert_int_not_equal(th_sql_exec(&it.db, sql), GW_OK); /* FG409 receipt_final */
    /* An adjustment whose document job is held back: the .xml page says "being issued". */
    (void)snprintf(sql, sizeof(sql),
                   "BEGIN; SELECT feegate.receipt_adjust('%s', 'adjustment', 150000, "
                   "'[{\"fee_code\":\"LLTP\",\"name\":\"Lệ phí cấp Phiếu lý lịch tư pháp\","
                   "\"amount_vnd\":150000}]', 'partial refund 50000'); "
                   "UPDATE feegate.receipt_jobs SET lease_until = now() + interval '1 hour'; "
                   "COMMIT",
                   id3);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    char adj[40];
    assert_int_equal(
        th_sql_text(&it.db, "SELECT receipt_id FROM feegate.receipt_links", adj, sizeof(adj)),
        GW_OK);
    assert_int_equal(th_sql_int(&it.db, "SELECT r.number FROM feegate.receipts r JOIN "
                                        "feegate.receipt_links l ON l.receipt_id = r.id"),
                     PAYMENTS + 1);
    (void)snprintf(url, sizeof(url), "%s/receipts/%s.xml", it.gw.url, adj);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "đang được phát hành"));
    th_resp_release(&r);
    assert_int_equal(th_sql_exec(&it.db, "UPDATE feegate.receipt_jobs SET lease_until = NULL"),
                     GW_OK);
    wait_documents(PAYMENTS + 1);
    struct gw_buf b;
    gw_buf_init(&b, RCP_XML_BYTES_MAX);
    fetch_xml(adj, &b);
    assert_non_null(strstr(b.data, "<Kind>adjustment</Kind>"));
    assert_non_null(strstr(b.data, "<Original><Template>01BLP0-001</Template><Series>AA-26E"
                                   "</Series><Number>0000003</Number>"));
    assert_non_null(strstr(b.data, "Một trăm năm mươi nghìn đồng"));
    char path[320];
    (void)snprintf(path, sizeof(path), "%s/adjustment.xml", dir);
    write_file(path, b.data, b.len);
    assert_int_equal(cli_verdict(path), 0);
    gw_buf_release(&b);
    /* The receipt page shows the marks. */
    (void)snprintf(url, sizeof(url), "%s/receipts/%s", it.gw.url, id2);
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_non_null(strstr(r.body, "Biên lai đã bị hủy"));
    assert_non_null(strstr(r.body, "Hai trăm nghìn đồng"));
    th_resp_release(&r);
    /* A cancelled receipt cannot be corrected. */
    (void)snprintf(sql, sizeof(sql),
                   "SELECT feegate.receipt_adjust('%s', 'replacement', 200000, "
                   "NULL, 'typo')",
                   id2);
    assert_int_not_equal(th_sql_exec(&it.db, sql), GW_OK);
    /* Lines left out: the original's, less the difference (a partial refund), still adding up
     * to the amount, so the correction verifies; lines that do not add up are refused. */
    char id4[40];
    assert_int_equal(th_sql_text(&it.db,
                                 "SELECT id FROM feegate.receipts WHERE number = 4 AND "
                                 "series = 'AA-26E'",
                                 id4, sizeof(id4)),
                     GW_OK);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT feegate.receipt_adjust('%s', 'adjustment', 120000, "
                   "'[{\"fee_code\":\"LLTP\",\"name\":\"x\",\"amount_vnd\":1}]', "
                   "'bad lines')",
                   id4);
    assert_int_not_equal(th_sql_exec(&it.db, sql), GW_OK);
    (void)snprintf(sql, sizeof(sql),
                   "SELECT feegate.receipt_adjust('%s', 'adjustment', 120000, "
                   "NULL, 'partial refund 80000')",
                   id4);
    assert_int_equal(th_sql_exec(&it.db, sql), GW_OK);
    wait_documents(PAYMENTS + 2);
    char adj2[40];
    assert_int_equal(th_sql_text(&it.db,
                                 "SELECT receipt_id FROM feegate.receipt_links "
                                 "WHERE reason = 'partial refund 80000'",
                                 adj2, sizeof(adj2)),
                     GW_OK);
    gw_buf_init(&b, RCP_XML_BYTES_MAX);
    fetch_xml(adj2, &b);
    assert_non_null(strstr(b.data, "<AmountVnd>120000</AmountVnd>"));
    assert_non_null(strstr(b.data, "Một trăm hai mươi nghìn đồng"));
    write_file(path, b.data, b.len);
    assert_int_equal(cli_verdict(path), 0);
    gw_buf_release(&b);
    it_assert_ledger_ok();
}

/* ---- key rotation ---- */

static int start_gateway(const char *cert, const char *key)
{
    (void)snprintf(ini, sizeof(ini), "[receipts]\ncert = %s/%s\nkey = %s/%s\nca = %s/ca.pem\n", dir,
                   cert, dir, key, dir);
    it.gw.ini_extra = ini;
    return th_gateway_start(&it.gw, &it.db, &it.bs) == GW_OK ? 0 : -1;
}

static void test_key_rotation(void **state)
{
    (void)state;
    struct gw_errbuf eb = { .msg = "" };
    char cert2[300];
    char key2[300];
    (void)snprintf(cert2, sizeof(cert2), "%s/signer2.pem", dir);
    (void)snprintf(key2, sizeof(key2), "%s/signer2.key", dir);
    assert_int_equal(rcp_ca_issue(dir, "feegate test signer 2", cert2, key2, &eb), GW_OK);
    assert_int_equal(th_gateway_stop(&it.gw), GW_OK);
    assert_int_equal(start_gateway("signer2.pem", "signer2.key"), 0);
    assert_true(pay_one(999999));
    wait_documents(PAYMENTS + 3);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(DISTINCT cert_fingerprint) FROM "
                                        "feegate.receipt_documents"),
                     2);
    char newest[40];
    assert_int_equal(th_sql_text(&it.db,
                                 "SELECT receipt_id FROM feegate.receipt_documents "
                                 "ORDER BY id DESC LIMIT 1",
                                 newest, sizeof(newest)),
                     GW_OK);
    const char *ids[2] = { first_id, newest };
    for (int i = 0; i < 2; i++) {
        struct gw_buf b;
        gw_buf_init(&b, RCP_XML_BYTES_MAX);
        fetch_xml(ids[i], &b);
        char path[320];
        (void)snprintf(path, sizeof(path), "%s/rotated-%d.xml", dir, i);
        write_file(path, b.data, b.len);
        assert_int_equal(cli_verdict(path), 0);
        gw_buf_release(&b);
    }
}

/* ---- the ECDSA P-256 signer ---- */

static void test_ecdsa_signer(void **state)
{
    (void)state;
    char cmd[1024];
    (void)snprintf(cmd, sizeof(cmd),
                   "%s receipt-ca issue %s 'feegate test signer EC' %s/signer-ec.pem "
                   "%s/signer-ec.key --ecdsa-p256",
                   FEEGATE_BIN, dir, dir, dir);
    assert_int_equal(run(cmd), 0);
    assert_int_equal(th_gateway_stop(&it.gw), GW_OK);
    assert_int_equal(start_gateway("signer-ec.pem", "signer-ec.key"), 0);
    long long d0 = th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_documents");
    assert_true(pay_one(999998));
    wait_documents(d0 + 1);
    char newest[40];
    assert_int_equal(th_sql_text(&it.db,
                                 "SELECT receipt_id FROM feegate.receipt_documents "
                                 "ORDER BY id DESC LIMIT 1",
                                 newest, sizeof(newest)),
                     GW_OK);
    struct gw_buf b;
    gw_buf_init(&b, RCP_XML_BYTES_MAX);
    fetch_xml(newest, &b);
    assert_non_null(strstr(b.data, "Algorithm=\"http://www.w3.org/2001/04/"
                                   "xmldsig-more#ecdsa-sha256\""));
    char path[320];
    (void)snprintf(path, sizeof(path), "%s/ecdsa.xml", dir);
    write_file(path, b.data, b.len);
    assert_int_equal(cli_verdict(path), 0);
    char *total = strstr(b.data, "<TotalVnd>2");
    assert_non_null(total);
    total[10] = '3';
    write_file(path, b.data, b.len);
    assert_int_equal(cli_verdict(path), 1);
    gw_buf_release(&b);
    /* An EC key on another curve is refused at load, with the reason. */
    (void)snprintf(cmd, sizeof(cmd),
                   "openssl ecparam -name secp384r1 -genkey -noout -out %s/p384.key", dir);
    assert_int_equal(run(cmd), 0);
    char cert[300];
    char key[300];
    (void)snprintf(cert, sizeof(cert), "%s/signer-ec.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/p384.key", dir);
    struct rcp_signer *s = NULL;
    struct gw_errbuf eb = { .msg = "" };
    assert_int_equal(rcp_signer_load(cert, key, &s, &eb), GW_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(eb.msg, "not P-256"));
    it_assert_ledger_ok();
}

static int setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/fg-receipts-%d", getpid());
    struct gw_errbuf eb = { .msg = "" };
    if (rcp_ca_init(dir, &eb) != GW_OK) {
        fprintf(stderr, "%s\n", eb.msg);
        return -1;
    }
    memset(&it, 0, sizeof(it));
    if (th_db_start(&it.db) != GW_OK || th_banksim_start(&it.bs, "approve") != GW_OK) {
        return -1;
    }
    return start_gateway("signer.pem", "signer.key");
}

static int teardown(void **state)
{
    (void)state;
    int rc = it_stop();
    rcp_shutdown();
    char cmd[300];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (rc == 0 && getenv("FEEGATE_KEEP_RECEIPTS") == NULL && system(cmd) != 0) {
        rc = -1;
    }
    return rc;
}

/* ---- one bad document in a batch ---- */

/* Five receipts reach the issuer in one claim, and the database refuses the document of one
 * of them: the batch's transaction rolls back, each job is issued again alone, the four good
 * documents are stored and the bad one waits, claimed once, for its retry. */
static void test_bad_document_holds_back_only_itself(void **state)
{
    (void)state;
    long long d0 = th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_documents");
    assert_int_equal(
        th_sql_exec(&it.db,
                    "CREATE FUNCTION public.hold_job() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN NEW.lease_until := now() + interval '1 hour'; RETURN NEW; END $$; "
                    "CREATE TRIGGER hold BEFORE INSERT ON feegate.receipt_jobs FOR EACH ROW "
                    "EXECUTE FUNCTION public.hold_job(); "
                    "CREATE FUNCTION public.refuse_doc() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF EXISTS (SELECT 1 FROM feegate.receipts r JOIN feegate.payments p "
                    "ON p.id = r.payment_id WHERE r.id = NEW.receipt_id AND p.provider_txn_id = "
                    "'T900001') THEN RAISE EXCEPTION 'refused by the test'; END IF; "
                    "RETURN NEW; END $$; "
                    "CREATE TRIGGER refuse BEFORE INSERT ON feegate.receipt_documents FOR EACH "
                    "ROW EXECUTE FUNCTION public.refuse_doc()"),
        GW_OK);
    for (int k = 900000; k < 900005; k++) {
        assert_true(pay_one(k));
    }
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_jobs WHERE "
                                        "lease_until > now() + interval '50 minutes'"),
                     5);
    assert_int_equal(th_sql_exec(&it.db, "DROP TRIGGER hold ON feegate.receipt_jobs; "
                                         "UPDATE feegate.receipt_jobs SET lease_until = NULL"),
                     GW_OK);
    wait_documents(d0 + 4);
    (void)usleep(500 * 1000);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_documents"), d0 + 4);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_jobs j JOIN "
                                        "feegate.receipts r ON r.id = j.receipt_id JOIN "
                                        "feegate.payments p ON p.id = r.payment_id WHERE "
                                        "p.provider_txn_id = 'T900001' AND j.attempts = 1 "
                                        "AND j.lease_until > now()"),
                     1);
    assert_int_equal(th_sql_int(&it.db, "SELECT count(*) FROM feegate.receipt_jobs"), 1);
    /* Once the database accepts it again, its retry stores it. */
    assert_int_equal(th_sql_exec(&it.db, "DROP TRIGGER refuse ON feegate.receipt_documents; "
                                         "UPDATE feegate.receipt_jobs SET lease_until = NULL"),
                     GW_OK);
    wait_documents(d0 + 5);
    it_assert_ledger_ok();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_numbering),
        cmocka_unit_test(test_xml_signed_and_tamper_evident),
        cmocka_unit_test(test_pdf_text),
        cmocka_unit_test(test_verify_page),
        cmocka_unit_test(test_walk_numbers),
        cmocka_unit_test(test_lookup_code),
        cmocka_unit_test(test_cancel_and_adjust),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_ecdsa_signer),
        cmocka_unit_test(test_bad_document_holds_back_only_itself),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
