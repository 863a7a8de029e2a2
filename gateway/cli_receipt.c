/* `feegate words N`, `feegate receipt verify FILE [--ca CA]` and `feegate receipt-ca init DIR`
 * / `feegate receipt-ca issue DIR CN CERT KEY [--ecdsa-p256]` (docs/receipts.md). Blocking,
 * offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gw_arena.h"
#include "gw_buf.h"
#include "rcp.h"

#include "banned.h"

int gw_cli_words(int argc, char **argv)
{
    const char *s = argc == 3 ? argv[2] : "";
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || errno != 0 || end == s || *end != '\0') {
        (void)fprintf(stderr, "usage: feegate words N   (N a whole number of VND, 0 to %lld)\n",
                      (long long)INT64_MAX);
        return 2;
    }
    char out[RCP_WORDS_BYTES];
    struct gw_errbuf eb = { .msg = "" };
    if (rcp_words_vnd((int64_t)n, 0, out, sizeof(out), &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: words: %s\n", eb.msg);
        return 1;
    }
    (void)puts(out);
    return 0;
}

static enum gw_err read_file(const char *path, struct gw_buf *b, struct gw_errbuf *eb)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\": %s", path, GW_STRERROR(errno));
    }
    char chunk[8192];
    size_t n;
    enum gw_err err = GW_OK;
    while (err == GW_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        err = gw_buf_add(b, chunk, n);
    }
    (void)fclose(f);
    if (err != GW_OK) {
        return gw_fail(eb, GW_ERR_LIMIT, "\"%s\" is larger than %zu bytes", path,
                       RCP_XML_BYTES_MAX);
    }
    return GW_OK;
}

static int receipt_verify(int argc, char **argv)
{
    const char *file = NULL;
    const char *ca = getenv("RECEIPT_CA_CERT");
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) {
            ca = argv[++i];
        } else if (file == NULL) {
            file = argv[i];
        }
    }
    if (file == NULL || ca == NULL || ca[0] == '\0') {
        (void)fputs("usage: feegate receipt verify FILE [--ca CA_PEM]   (default "
                    "$RECEIPT_CA_CERT)\n",
                    stderr);
        return 2;
    }
    struct gw_buf xml;
    gw_buf_init(&xml, RCP_XML_BYTES_MAX);
    struct gw_errbuf eb = { .msg = "" };
    struct rcp_verify_result r;
    enum gw_err err = read_file(file, &xml, &eb);
    if (err == GW_OK) {
        err = rcp_xml_verify(gw_buf_str(&xml), xml.len, ca, &r, &eb);
    }
    gw_buf_release(&xml);
    if (err != GW_OK) {
        (void)fprintf(stderr, "feegate: receipt verify: %s\n", eb.msg);
        return 2;
    }
    if (!r.valid) {
        (void)printf("NOT VALID: %s\n", r.reason);
        return 1;
    }
    (void)printf("valid: receipt %s, template %s, series %s, number %s, total %lld VND\n"
                 "signed by %s\ncertificate SHA-256 %s\n",
                 r.id, r.tmpl, r.series, r.number, (long long)r.total_vnd, r.signer, r.fingerprint);
    return 0;
}

int gw_cli_receipt(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[2], "verify") == 0) {
        return receipt_verify(argc, argv);
    }
    (void)fputs("usage: feegate receipt verify FILE [--ca CA_PEM]\n", stderr);
    return 2;
}

int gw_cli_receipt_ca(int argc, char **argv)
{
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err;
    if (argc == 4 && strcmp(argv[2], "init") == 0) {
        err = rcp_ca_init(argv[3], &eb);
        if (err == GW_OK) {
            (void)printf("%s/ca.pem, ca.key, signer.pem, signer.key written\n", argv[3]);
        }
    } else if (argc == 7 && strcmp(argv[2], "issue") == 0) {
        err = rcp_ca_issue(argv[3], argv[4], argv[5], argv[6], &eb);
        if (err == GW_OK) {
            (void)printf("%s and %s written\n", argv[5], argv[6]);
        }
    } else if (argc == 8 && strcmp(argv[2], "issue") == 0 && strcmp(argv[7], "--ecdsa-p256") == 0) {
        const struct rcp_ca_cert c = {
            .cn = argv[4], .cert_path = argv[5], .key_path = argv[6], .key_type = RCP_KEY_EC_P256
        };
        err = rcp_ca_issue_cert(argv[3], &c, &eb);
        if (err == GW_OK) {
            (void)printf("%s and %s written\n", argv[5], argv[6]);
        }
    } else {
        (void)fputs("usage: feegate receipt-ca init DIR\n"
                    "       feegate receipt-ca issue DIR COMMON_NAME CERT_PEM KEY_PEM "
                    "[--ecdsa-p256]\n",
                    stderr);
        return 2;
    }
    if (err != GW_OK) {
        (void)fprintf(stderr, "feegate: receipt-ca: %s\n", eb.msg);
        return 1;
    }
    return 0;
}
