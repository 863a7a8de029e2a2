/* feegate-receipt-bench: receipts issued per second (the XML built from the database's JSON
 * and signed, what the issuer thread does per receipt), once with an RSA-2048 signer
 * (RSA-SHA256) and once with an EC P-256 signer (ECDSA-SHA256) in the same run, each with its
 * CPU time per receipt; and PDF renders per second (what /receipts/{id}.pdf costs the
 * renderer thread), single-threaded, for docs/benchmarks.md. Usage: feegate-receipt-bench
 * [SECONDS_EACH] (default 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw_arena.h"
#include "gw_buf.h"
#include "gw_limits.h"
#include "gw_time.h"
#include "rcp.h"

#include "banned.h"

static const char view[] =
    "{\"id\":\"rcp_0123456789abcdef0123456789abcdef\",\"payment_id\":\"pay_0123456789abcdef01"
    "23456789abcdef\",\"template\":\"01BLP0-001\",\"series\":\"AA-26E\",\"number\":\"0001234\","
    "\"issued_at\":\"2026-03-01T09:30:00+07:00\",\"amount_vnd\":1250000,\"payer\":{\"name\":"
    "\"Nguyễn Văn An\",\"id_number\":\"001099012345\"},\"items\":[{\"fee_code\":\"LLTP\","
    "\"name\":\"Lệ phí cấp Phiếu lý lịch tư pháp\",\"amount_vnd\":200000},{\"fee_code\":\"HT\","
    "\"name\":\"Phí khai thác, sử dụng thông tin hộ tịch\",\"amount_vnd\":1050000}],\"agency\":"
    "{\"code\":\"STP-HN\",\"name\":\"Sở Tư pháp Thành phố Hà Nội\",\"tax_code\":\"0101348576\","
    "\"address\":\"1B Trần Phú, phường Hà Đông, Thành phố Hà Nội\"},\"channel\":\"sandbox\","
    "\"order_ref\":\"HS-2026-000123\",\"kind\":\"original\"}";

static void die(const char *what, const struct gw_errbuf *eb)
{
    (void)fprintf(stderr, "feegate-receipt-bench: %s: %s\n", what, eb->msg);
    exit(1); /* NOLINT(concurrency-mt-unsafe): one thread */
}

static int64_t cpu_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Builds and signs the receipt for secs seconds with signer; prints one line. */
static void bench_xml(const struct rcp_signer *signer, const char *label, double secs,
                      struct gw_buf *out)
{
    struct gw_errbuf eb = { .msg = "" };
    int64_t t0 = gw_monotonic_us();
    int64_t c0 = cpu_us();
    int64_t until = t0 + (int64_t)(secs * 1e6);
    long n = 0;
    size_t bytes = 0;
    while (gw_monotonic_us() < until) {
        struct gw_arena a;
        gw_arena_init(&a, 16384, GW_ARENA_BYTES_MAX);
        struct rcp_receipt r;
        gw_buf_reset(out);
        if (rcp_receipt_from_json(view, "https://fee.example.vn/verify?code=", &a, &r, &eb) !=
                GW_OK ||
            rcp_xml_build(&r, signer, out, &eb) != GW_OK) {
            die("xml", &eb);
        }
        bytes = out->len;
        gw_arena_release(&a);
        n++;
    }
    double wall_s = (double)(gw_monotonic_us() - t0) / 1e6;
    double cpu_each_us = (double)(cpu_us() - c0) / (double)n;
    (void)printf("xml+sign %-13s %ld receipts in %.2f s = %.0f/s, %.0f us CPU each (%zu bytes)\n",
                 label, n, wall_s, (double)n / wall_s, cpu_each_us, bytes);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 5.0;
    if (secs <= 0 || secs > 600) {
        secs = 5.0;
    }
    struct gw_errbuf eb = { .msg = "" };
    char dir[64];
    (void)snprintf(dir, sizeof(dir), "/tmp/fg-rcp-bench-%d", getpid());
    char cert[128];
    char key[128];
    char ec_cert[128];
    char ec_key[128];
    (void)snprintf(cert, sizeof(cert), "%s/signer.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/signer.key", dir);
    (void)snprintf(ec_cert, sizeof(ec_cert), "%s/signer-ec.pem", dir);
    (void)snprintf(ec_key, sizeof(ec_key), "%s/signer-ec.key", dir);
    struct rcp_signer *signer = NULL;
    struct rcp_signer *ec_signer = NULL;
    const struct rcp_ca_cert ec = { .cn = "feegate bench EC signer",
                                    .cert_path = ec_cert,
                                    .key_path = ec_key,
                                    .key_type = RCP_KEY_EC_P256 };
    if (rcp_init(&eb) != GW_OK || rcp_ca_init(dir, &eb) != GW_OK ||
        rcp_signer_load(cert, key, &signer, &eb) != GW_OK ||
        rcp_ca_issue_cert(dir, &ec, &eb) != GW_OK ||
        rcp_signer_load(ec_cert, ec_key, &ec_signer, &eb) != GW_OK) {
        die("setup", &eb);
    }
    struct gw_buf out;
    gw_buf_init(&out, (size_t)1024 * 1024);
    bench_xml(signer, "rsa-2048", secs, &out);
    bench_xml(ec_signer, "ecdsa-p256", secs, &out);
    struct gw_arena a;
    gw_arena_init(&a, 16384, GW_ARENA_BYTES_MAX);
    struct rcp_receipt r;
    if (rcp_receipt_from_json(view, "https://fee.example.vn/verify?code=", &a, &r, &eb) != GW_OK) {
        die("json", &eb);
    }
    int64_t t0 = gw_monotonic_us();
    int64_t until = t0 + (int64_t)(secs * 1e6);
    long n_pdf = 0;
    size_t pdf_bytes = 0;
    while (gw_monotonic_us() < until) {
        gw_buf_reset(&out);
        if (rcp_pdf_render(&r, "CN=feegate demo agency receipt signer", &out, &eb) != GW_OK) {
            die("pdf", &eb);
        }
        pdf_bytes = out.len;
        n_pdf++;
    }
    double pdf_s = (double)(gw_monotonic_us() - t0) / 1e6;
    (void)printf("pdf:      %ld renders in %.2f s = %.0f/s (%zu bytes each)\n", n_pdf, pdf_s,
                 (double)n_pdf / pdf_s, pdf_bytes);
    gw_arena_release(&a);
    gw_buf_release(&out);
    rcp_signer_free(signer);
    rcp_signer_free(ec_signer);
    rcp_shutdown();
    char rm[128];
    (void)snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    return system(rm) == 0 ? 0 : 1;
}
