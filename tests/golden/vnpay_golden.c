/* The C side of the VNPAY cross-check against the vnpay npm package (tests/golden/vnpay/):
 * "emit" prints payment URLs our adapter builds, one per line, for check.js to verify and
 * rebuild with the library; "verify FILE" reads "ok|auth <query>" lines of IPN query
 * strings the library signed and checks that our adapter accepts (or refuses) each. */
#include <stdio.h>
#include <string.h>

#include "adapter.h"
#include "gw_arena.h"

#include "banned.h"

static const struct gw_adapter_config cfg = {
    .channel = "vnpay",
    .merchant_id = "DEMOTMN1",
    .secret = "VNPAYTESTSECRETKEY0123456789ABCD",
    .endpoint_url = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
    .ipn_url = "https://dvc.example.gov.vn/ipn/vnpay",
    .return_url = "https://dvc.example.gov.vn/payment/return?src=vnpay",
};

static const struct {
    const char *ref;
    int64_t amount_vnd;
    const char *info;
    const char *locale;
    const char *bank;
} charges[] = {
    { "HS2024000123", 1250000, "Thanh toan le phi ho so: HS-2024-000123", "vi", "VNBANK" },
    { "HS2024000124", 50000, "Le phi cap ban sao #12 & phi dich vu 100%", "en", NULL },
    { "pay_7f3a-x", 999999999,
      "L\xe1\xbb\x87 ph\xc3\xad h\xe1\xbb\x99 t\xe1\xbb\x8b"
      "ch",
      "vi", "NCB" },
    { "A", 1, "a/b?c=d:e;f,g@h[i]j{k}l|m^n`o$p", "vi", "VNPAYQR" },
};

static int emit(struct gw_arena *arena)
{
    for (size_t i = 0; i < sizeof(charges) / sizeof(charges[0]); i++) {
        struct gw_adapter_config c = cfg;
        c.method = charges[i].bank;
        const struct gw_charge charge = {
            .payment_id = "pay",
            .merchant_ref = charges[i].ref,
            .amount_vnd = charges[i].amount_vnd,
            .order_info = charges[i].info,
            .locale = charges[i].locale,
            .client_ip = "203.0.113.10",
            .created_at = 1705289400 + (time_t)i * 3600,
            .expires_at = 1705290300 + (time_t)i * 3600,
        };
        struct gw_errbuf eb = { .msg = "" };
        char *url = NULL;
        if (gw_adapter_vnpay.checkout(&c, &charge, arena, &url, &eb) != GW_OK) {
            fprintf(stderr, "checkout %zu: %s\n", i, eb.msg);
            return 1;
        }
        printf("%s\n", url);
    }
    return 0;
}

static int verify(struct gw_arena *arena, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    char line[8192];
    int n = 0;
    int bad = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *q = strchr(line, ' ');
        if (q == NULL) {
            continue;
        }
        *q++ = '\0';
        const struct gw_adapter_input in = { .method = "GET", .query = q, .query_len = strlen(q) };
        struct gw_adapter_result res;
        struct gw_errbuf eb = { .msg = "" };
        enum gw_err err = gw_adapter_vnpay.callback_parse(&cfg, &in, arena, &res, &eb);
        bool want_ok = strcmp(line, "ok") == 0;
        bool pass = want_ok ? err == GW_OK : err == GW_ERR_AUTH;
        printf("%s %s %s%s%s\n", pass ? "PASS" : "FAIL", line, err == GW_OK ? res.merchant_ref : "",
               err == GW_OK ? "" : eb.msg, "");
        bad += !pass;
        n++;
    }
    (void)fclose(f);
    if (n == 0) {
        fprintf(stderr, "%s: no cases\n", path);
        return 1;
    }
    return bad == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct gw_arena arena;
    gw_arena_init(&arena, 4096, (size_t)4 * 1024 * 1024);
    int rc = 2;
    if (argc == 2 && strcmp(argv[1], "emit") == 0) {
        rc = emit(&arena);
    } else if (argc == 3 && strcmp(argv[1], "verify") == 0) {
        rc = verify(&arena, argv[2]);
    } else {
        fprintf(stderr, "usage: %s emit | verify FILE\n", argv[0]);
    }
    gw_arena_release(&arena);
    return rc;
}
