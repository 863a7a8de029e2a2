/* HTTPS: the gateway's own TLS listener and its TLS calls to banks, with a throwaway CA made
 * by the openssl command line in a temporary directory. Two gateways on one database: GT
 * serves TLS (certificate serial 0x1001, then 0x1002 after SIGHUP), GP plain HTTP. Two
 * simulators serve TLS: SA with a certificate for 127.0.0.1 from the test CA (MoMo), SB one
 * for another name only (ZaloPay). Shows: TLS 1.3 negotiated with ALPN http/1.1; a client
 * limited to TLS 1.1 refused, one limited to 1.2 served; a second listener (tls_listen) beside
 * a plain one; the per-address cap and the read deadline holding for handshakes; HSTS over
 * TLS only; the security
 * headers on every kind of answer; a new certificate served after SIGHUP without a restart,
 * a broken one refused with the old one kept; a payment through a bank over TLS verified
 * with the channel's CA file; a bank whose certificate names another host, and one whose CA
 * is unknown (the system store), refused: the checkout fails cleanly, the log says why,
 * nothing is booked. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "it.h"

#include "banned.h"

#define MM_PARTNER  "MOMOFG01"
#define MM_ACCESS   "mm-access-3c7a"
#define MM_SECRET   "mm-secret-key-0e4f51"
#define ZP_APP      "2553"
#define ZP_KEY1     "zp-key1-9d2c7b"
#define ZP_KEY2     "zp-key2-41e8a0"
#define WAIT_MS     10000 /* bound of every wait for the gateway or a payment */
#define GT_PER_ADDR 4     /* GT's connections_per_address_max */
#define CUT_WAIT_MS 15000 /* the read deadline (GW_HTTP_REQUEST_READ_S) and some */

static char dir[128];        /* the CA, certificates and keys */
static struct th_gateway gt; /* TLS listener */
static struct th_banksim sb; /* certificate for another host */
static char ini_gt[2048];
static char ini_gp[2048];
static char gt_cert[192];
static char gt_key[192];

static int gp_tls_port; /* GP's second listener, [server] tls_listen */
static char gp_tls_url[64];

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

static void path_of(char *out, size_t cap, const char *name)
{
    (void)snprintf(out, cap, "%s/%s", dir, name);
}

/* A CA, then leaf certificates (EC P-256) signed by it, each with its own serial and names. */
static int make_pki(void)
{
    char cmd[4096];
    const char *ca = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                     "-days 2 -addext basicConstraints=critical,CA:TRUE "
                     "-addext keyUsage=critical,keyCertSign,cRLSign";
    const char *leaf = "leaf() { printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\n"
                       "extendedKeyUsage=serverAuth\\n' \"$2\" > $1.ext && "
                       "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                       "-keyout $1.key -out $1.csr -subj /CN=$1 && "
                       "openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -set_serial $3 "
                       "-days 2 -extfile $1.ext -out $1.pem; }";
    int n = snprintf(cmd, sizeof(cmd),
                     "cd %s && %s && "
                     "%s -keyout ca.key -out ca.pem -subj /CN=feegate-test-ca && "
                     "%s -keyout rogue.key -out rogue.pem -subj /CN=feegate-rogue-ca && "
                     "leaf one 'IP:127.0.0.1,DNS:localhost' 0x1001 ca && "
                     "leaf two 'IP:127.0.0.1,DNS:localhost' 0x1002 ca && "
                     "leaf bank 'IP:127.0.0.1' 0x2001 ca && "
                     "leaf other 'DNS:other.example' 0x2002 ca && "
                     "cp one.pem gw.pem && cp one.key gw.key) >%s/pki.log 2>&1",
                     dir, leaf, ca, ca, dir);
    if (n <= 0 || (size_t)n >= sizeof(cmd)) {
        return -1;
    }
    /* A script, run in a subshell so that every step's output goes to the log. */
    char script[160];
    path_of(script, sizeof(script), "pki.sh");
    FILE *f = fopen(script, "we");
    if (f == NULL) {
        return -1;
    }
    (void)fprintf(f, "set -e\n(%s\n", cmd);
    (void)fclose(f);
    char run[200];
    (void)snprintf(run, sizeof(run), "bash %s", script);
    if (system(run) != 0) {
        fprintf(stderr, "could not make the test PKI: see %s/pki.log\n", dir);
        return -1;
    }
    return 0;
}

/* A simulator serving TLS with NAME.pem and NAME.key: MoMo, or ZaloPay. */
static int start_sim(struct th_banksim *bs, const char *name, bool momo)
{
    char c[192];
    char k[192];
    (void)snprintf(c, sizeof(c), "%s/%s.pem", dir, name);
    (void)snprintf(k, sizeof(k), "%s/%s.key", dir, name);
    const char *const with_momo[] = {
        "--momo-partner",
        MM_PARTNER,
        "--momo-access-key",
        MM_ACCESS,
        "--momo-secret-key",
        MM_SECRET,
        "--tls-cert",
        c,
        "--tls-key",
        k,
        "--callback-interval-ms",
        "100",
        NULL,
    };
    const char *const with_zp[] = {
        "--zalopay-app-id",
        ZP_APP,
        "--zalopay-key1",
        ZP_KEY1,
        "--zalopay-key2",
        ZP_KEY2,
        "--tls-cert",
        c,
        "--tls-key",
        k,
        NULL,
    };
    return th_banksim_start_args(bs, momo ? with_momo : with_zp) == GW_OK ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    memset(&it, 0, sizeof(it));
    (void)snprintf(dir, sizeof(dir), "/tmp/fg-tls-XXXXXX");
    if (mkdtemp(dir) == NULL || make_pki() != 0) {
        return -1;
    }
    char ca[192];
    path_of(ca, sizeof(ca), "ca.pem");
    th_tls_use_ca(ca);
    /* The simulators check their own start over https with the test CA. */
    if (th_db_start(&it.db) != GW_OK || start_sim(&it.bs, "bank", true) != 0) {
        return -1;
    }
    th_tls_expect_name("other.example");
    int rc = start_sim(&sb, "other", false);
    th_tls_expect_name(NULL);
    if (rc != 0) {
        return -1;
    }
    /* GT: TLS listener; MoMo at SA trusted through the system store only (unknown CA). */
    path_of(gt_cert, sizeof(gt_cert), "gw.pem");
    path_of(gt_key, sizeof(gt_key), "gw.key");
    (void)snprintf(ini_gt, sizeof(ini_gt),
                   "[server]\nconnections_per_address_max = %d\n"
                   "[channel.momo]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/momo/v2/gateway/api\n",
                   GT_PER_ADDR, MM_PARTNER, MM_SECRET, MM_ACCESS, it.bs.url);
    gt.ini_extra = ini_gt;
    gt.tls_cert = gt_cert;
    gt.tls_key = gt_key;
    if (th_gateway_start(&gt, &it.db, NULL) != GW_OK) {
        return -1;
    }
    /* GP: plain HTTP on `listen`, and TLS on a second listener (tls_listen, as the demo);
     * MoMo at SA with the test CA, ZaloPay at SB (a certificate for other.example) with the
     * test CA too. Started last: th_portal speaks to it. */
    gp_tls_port = free_port();
    (void)snprintf(gp_tls_url, sizeof(gp_tls_url), "https://127.0.0.1:%d", gp_tls_port);
    char one_pem[192];
    char one_key[192];
    path_of(one_pem, sizeof(one_pem), "one.pem");
    path_of(one_key, sizeof(one_key), "one.key");
    (void)snprintf(ini_gp, sizeof(ini_gp),
                   "[server]\ntls_listen = 127.0.0.1:%d\ntls_cert_file = %s\ntls_key_file = %s\n"
                   "[channel.momo]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/momo/v2/gateway/api\nca_file = %s\n"
                   "[channel.zalopay]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                   "endpoint_url = %s/zalopay\nca_file = %s\n",
                   gp_tls_port, one_pem, one_key, MM_PARTNER, MM_SECRET, MM_ACCESS, it.bs.url, ca,
                   ZP_APP, ZP_KEY1, ZP_KEY2, sb.url, ca);
    it.gw.ini_extra = ini_gp;
    return th_gateway_start(&it.gw, &it.db, NULL) == GW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = th_gateway_stop(&gt) == GW_OK ? 0 : -1;
    rc |= th_banksim_stop(&sb) == GW_OK ? 0 : -1;
    rc |= it_stop();
    char cmd[200];
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (rc == 0 && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}

/* ---- a TLS client of our own, to choose versions and read the certificate ---- */

struct probe {
    int version;      /* SSL_version, 0 when the handshake failed */
    long serial;      /* of the server's certificate */
    char alpn[16];    /* the protocol the server chose */
    int status;       /* of GET /healthz, 0 when none */
    char reason[200]; /* why the handshake failed */
};

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 5, .tv_usec = 0 };
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* The protocol versions a client offers, from min to max. */
struct versions {
    int min;
    int max;
};

static const struct versions any_modern = { TLS1_2_VERSION, TLS1_3_VERSION };
static const struct versions only_11 = { TLS1_1_VERSION, TLS1_1_VERSION };
static const struct versions only_12 = { TLS1_2_VERSION, TLS1_2_VERSION };

/* One handshake offering v, then GET /healthz. */
static void tls_probe(int port, struct versions v, struct probe *p)
{
    int min_v = v.min;
    int max_v = v.max;
    memset(p, 0, sizeof(*p));
    char ca[192];
    path_of(ca, sizeof(ca), "ca.pem");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    assert_int_equal(SSL_CTX_load_verify_file(ctx, ca), 1);
    if (min_v < TLS1_2_VERSION) {
        /* OpenSSL 3 refuses TLS 1.1 at its default security level: offer it for real, so
         * that the refusal is the server's. */
        SSL_CTX_set_security_level(ctx, 0);
        assert_int_equal(SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0"), 1);
    }
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, min_v), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(ctx, max_v), 1);
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    assert_int_equal(SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1), 0);
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1"), 1);
    int fd = connect_port(port);
    assert_int_equal(SSL_set_fd(ssl, fd), 1);
    if (SSL_connect(ssl) != 1) {
        ERR_error_string_n(ERR_get_error(), p->reason, sizeof(p->reason));
        goto out;
    }
    p->version = SSL_version(ssl);
    p->serial = ASN1_INTEGER_get(X509_get0_serialNumber(SSL_get0_peer_certificate(ssl)));
    const unsigned char *sel = NULL;
    unsigned sel_len = 0;
    SSL_get0_alpn_selected(ssl, &sel, &sel_len);
    (void)snprintf(p->alpn, sizeof(p->alpn), "%.*s", (int)sel_len, (const char *)sel);
    static const char req[] =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    size_t n = 0;
    char buf[512] = "";
    if (SSL_write_ex(ssl, req, sizeof(req) - 1, &n) == 1 &&
        SSL_read_ex(ssl, buf, sizeof(buf) - 1, &n) == 1) {
        buf[n] = '\0';
        p->status = strncmp(buf, "HTTP/1.1 ", 9) == 0 ? (int)strtol(buf + 9, NULL, 10) : 0;
    }
out:
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    (void)close(fd);
}

static void test_tls13_negotiated(void **state)
{
    (void)state;
    struct probe p;
    tls_probe(gt.port, any_modern, &p);
    assert_int_equal(p.version, TLS1_3_VERSION);
    assert_string_equal(p.alpn, "http/1.1");
    assert_int_equal(p.status, 200);
    assert_int_equal(p.serial, 0x1001);
}

/* GP's plain listener stays plain; its second listener speaks TLS 1.3. */
static void test_second_listener(void **state)
{
    (void)state;
    struct probe p;
    tls_probe(gp_tls_port, any_modern, &p);
    assert_int_equal(p.version, TLS1_3_VERSION);
    assert_int_equal(p.status, 200);
    struct th_resp r;
    char url[96];
    (void)snprintf(url, sizeof(url), "%s/healthz", it.gw.url);
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
}

static void test_tls11_refused_tls12_served(void **state)
{
    (void)state;
    struct probe p;
    tls_probe(gt.port, only_11, &p);
    assert_int_equal(p.version, 0);
    fprintf(stderr, "TLS 1.1 refused: %s\n", p.reason);
    tls_probe(gt.port, only_12, &p);
    assert_int_equal(p.version, TLS1_2_VERSION);
    assert_string_equal(p.alpn, "http/1.1");
    assert_int_equal(p.status, 200);
    assert_true(th_proc_alive(&gt.proc));
}

/* The caps and the read deadline hold for TLS: GT_PER_ADDR connections that never say hello
 * fill the address's share, the next handshake is cut, and each idle one is cut at the
 * deadline, after which handshakes succeed again. */
static void test_caps_and_deadline_hold_for_tls(void **state)
{
    (void)state;
    int fds[GT_PER_ADDR];
    for (int i = 0; i < GT_PER_ADDR; i++) {
        fds[i] = connect_port(gt.port);
    }
    usleep(300 * 1000); /* the guard registers a connection when the next comes, or at once */
    struct probe p;
    tls_probe(gt.port, any_modern, &p);
    assert_int_equal(p.version, 0);
    fprintf(stderr, "over the per-address cap: %s\n", p.reason);
    /* Not one byte of a handshake: each is closed by the gateway at the read deadline. */
    struct timeval tv = { .tv_sec = CUT_WAIT_MS / 1000, .tv_usec = 0 };
    for (int i = 0; i < GT_PER_ADDR; i++) {
        assert_int_equal(setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        char c;
        assert_int_equal(recv(fds[i], &c, 1, 0), 0);
        (void)close(fds[i]);
    }
    for (int waited = 0; waited <= WAIT_MS; waited += 100) {
        tls_probe(gt.port, any_modern, &p);
        if (p.version != 0) {
            break;
        }
        usleep(100 * 1000);
    }
    assert_int_equal(p.version, TLS1_3_VERSION);
    assert_int_equal(p.status, 200);
}

/* ---- headers ---- */

static void expect_headers(const char *what, const struct th_resp *r, bool tls)
{
    const char *csp = th_resp_header(r, "Content-Security-Policy");
    const char *ref = th_resp_header(r, "Referrer-Policy");
    const char *nosniff = th_resp_header(r, "X-Content-Type-Options");
    const char *hsts = th_resp_header(r, "Strict-Transport-Security");
    fprintf(stderr, "%s: %d %s | CSP %s | %s | HSTS %s\n", what, r->status,
            r->content_type != NULL ? r->content_type : "-", csp != NULL ? csp : "-",
            ref != NULL ? ref : "-", hsts != NULL ? hsts : "-");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    assert_non_null(ref);
    assert_true(strcmp(ref, "no-referrer") == 0 || strcmp(ref, "same-origin") == 0);
    assert_non_null(nosniff);
    assert_string_equal(nosniff, "nosniff");
    if (tls) {
        assert_non_null(hsts);
        assert_string_equal(hsts, "max-age=31536000");
    } else {
        assert_null(hsts);
    }
    if (r->content_type != NULL && strncmp(r->content_type, "text/html", 9) == 0) {
        assert_non_null(strstr(csp, "default-src 'none'"));
    }
}

/* A listener and whether it speaks TLS. */
struct endpoint {
    const char *base;
    bool tls;
};

static void get_expect(const struct endpoint *e, const char *path, int status)
{
    char url[512];
    (void)snprintf(url, sizeof(url), "%s%s", e->base, path);
    struct th_resp r;
    assert_int_equal(th_http("GET", url, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, status);
    expect_headers(path, &r, e->tls);
    th_resp_release(&r);
}

/* Every kind of answer of both gateways and of GP's two listeners: HSTS only over TLS. */
static void test_headers_every_answer(void **state)
{
    (void)state;
    char id[40];
    it_create(id); /* through GP, the current portal gateway */
    char pay[64];
    (void)snprintf(pay, sizeof(pay), "/pay/%s", id);
    const struct endpoint eps[3] = { { gt.url, true }, { it.gw.url, false }, { gp_tls_url, true } };
    for (int i = 0; i < 3; i++) {
        const struct endpoint *e = &eps[i];
        get_expect(e, "/", 200);                          /* home */
        get_expect(e, pay, 200);                          /* checkout */
        get_expect(e, "/pay/pay_doesnotexist", 404);      /* error page */
        get_expect(e, "/verify", 200);                    /* verify */
        get_expect(e, "/receipts/rcp_nothing", 404);      /* receipt, none */
        get_expect(e, "/return/momo?partnerCode=x", 400); /* return, forged */
        get_expect(e, "/nothing/here", 404);              /* JSON error */
        get_expect(e, "/healthz", 200);                   /* operations */
        /* the JSON API, signed */
        th_portal_use(e->base, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
        char path[96];
        (void)snprintf(path, sizeof(path), "/v1/payments/%s", id);
        struct th_resp r;
        assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
        assert_int_equal(r.status, 200);
        expect_headers("/v1/payments/{id}", &r, e->tls);
        th_resp_release(&r);
    }
    th_portal_use(it.gw.url, TH_CLIENT_A_ID, TH_CLIENT_A_SECRET);
    it_assert_ledger_ok();
}

/* ---- reload ---- */

static bool log_has(const struct th_proc *p, const char *needle)
{
    FILE *f = fopen(p->log_path, "re");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        found = strstr(line, needle) != NULL;
    }
    (void)fclose(f);
    return found;
}

/* two.EXT in place of gw.EXT (the listener's files), through a rename. */
static void install_two(const char *ext)
{
    char cmd[1024];
    (void)snprintf(cmd, sizeof(cmd), "cp %s/two.%s %s/gw.%s.new && mv %s/gw.%s.new %s/gw.%s", dir,
                   ext, dir, ext, dir, ext, dir, ext);
    assert_int_equal(system(cmd), 0);
}

/* Polls until the listener serves the certificate of that serial (bounded by WAIT_MS). */
static void wait_serial(long want)
{
    struct probe p = { 0 };
    for (int waited = 0; waited <= WAIT_MS; waited += 100) {
        tls_probe(gt.port, any_modern, &p);
        if (p.serial == want) {
            return;
        }
        usleep(100 * 1000);
    }
    assert_int_equal(p.serial, want);
}

static void test_sighup_new_certificate(void **state)
{
    (void)state;
    wait_serial(0x1001);
    /* A key that does not match the certificate: refused, the old pair kept. */
    install_two("pem");
    assert_int_equal(kill(gt.proc.pid, SIGHUP), 0);
    for (int waited = 0; waited <= WAIT_MS && !log_has(&gt.proc, "tls_reload_failed");
         waited += 100) {
        usleep(100 * 1000);
    }
    assert_true(log_has(&gt.proc, "tls_reload_failed"));
    struct probe p;
    tls_probe(gt.port, any_modern, &p);
    assert_int_equal(p.serial, 0x1001);
    assert_int_equal(p.status, 200);
    /* The whole new pair: served to new connections, by the same process. */
    install_two("key");
    assert_int_equal(kill(gt.proc.pid, SIGHUP), 0);
    wait_serial(0x1002);
    assert_true(th_proc_alive(&gt.proc));
    const struct endpoint e = { gt.url, true };
    get_expect(&e, "/healthz", 200);
}

/* ---- banks over TLS ---- */

/* A checkout: on which gateway, of which payment, through which channel. */
struct checkout {
    const char *base;
    const char *id;
    const char *channel;
};

/* POST /pay/{id} channel=CHANNEL. */
static void checkout_post(const struct checkout *c, struct th_resp *r)
{
    char url[160];
    char body[64];
    (void)snprintf(url, sizeof(url), "%s/pay/%s?lang=en", c->base, c->id);
    int n = snprintf(body, sizeof(body), "channel=%s", c->channel);
    static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    assert_int_equal(th_http("POST", url, hdrs, body, (size_t)n, r), GW_OK);
}

static long long journals_of(const char *id)
{
    char sql[160];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT count(*) FROM feegate.journals WHERE payment_id = '%s'", id);
    return th_sql_int(&it.db, sql);
}

/* MoMo at SA, verified with the channel's CA file: created over TLS, approved, booked. */
static void test_bank_over_tls(void **state)
{
    (void)state;
    char id[40];
    it_create(id);
    struct th_resp r;
    const struct checkout c = { it.gw.url, id, "momo" };
    checkout_post(&c, &r);
    assert_int_equal(r.status, 303);
    assert_non_null(r.location);
    /* The simulator writes its pay URL as http://: its page is the same path over https. */
    const char *path = strstr(r.location, "/momo/");
    assert_non_null(path);
    char location[2048];
    (void)snprintf(location, sizeof(location), "%s%s", it.bs.url, path);
    th_resp_release(&r);
    assert_int_equal(th_http("GET", location, NULL, NULL, 0, &r), GW_OK);
    assert_int_equal(r.status, 200);
    th_resp_release(&r);
    static const char *const form[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    assert_int_equal(th_http("POST", location, form, "action=approve", 14, &r), GW_OK);
    assert_int_equal(r.status, 303);
    th_resp_release(&r);
    char status[32] = "";
    for (int waited = 0; waited <= WAIT_MS; waited += 100) {
        it_status(id, status);
        if (strcmp(status, "succeeded") == 0) {
            break;
        }
        usleep(100 * 1000);
    }
    assert_string_equal(status, "succeeded");
    assert_int_equal(journals_of(id), 1);
    it_assert_ledger_ok();
}

/* A bank whose certificate must be refused: through which gateway and channel, the
 * gateway's process (its log) and the reason the log must give. */
struct refusal {
    const char *base;
    const char *channel;
    const struct th_proc *proc;
    const char *why;
};

/* A checkout through that bank: the page comes back with the error and without that channel,
 * the log names the reason, nothing is booked. */
static void refused_checkout(const struct refusal *rf)
{
    char id[40];
    it_create(id);
    struct th_resp r;
    const char *ch = rf->channel;
    const struct checkout c = { rf->base, id, ch };
    checkout_post(&c, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Could not start the payment"));
    char offered[64];
    (void)snprintf(offered, sizeof(offered), "value=\"%s\"", ch);
    assert_null(strstr(r.body, offered));
    th_resp_release(&r);
    assert_true(log_has(rf->proc, "tls_peer_refused"));
    assert_true(log_has(rf->proc, rf->why));
    assert_int_equal(journals_of(id), 0);
    char status[32];
    it_status(id, status);
    assert_string_not_equal(status, "succeeded");
    it_assert_ledger_ok();
}

static void test_bank_wrong_host_refused(void **state)
{
    (void)state;
    const struct refusal rf = { it.gw.url, "zalopay", &it.gw.proc, "IP address mismatch" };
    refused_checkout(&rf);
}

static void test_bank_unknown_ca_refused(void **state)
{
    (void)state;
    /* GT's MoMo channel has no ca_file: the system store does not know the test CA. The
     * payment is created through GP (same database) and checked out on GT. */
    const struct refusal rf = { gt.url, "momo", &gt.proc,
                                "unable to get local issuer certificate" };
    refused_checkout(&rf);
}

int main(void)
{
    /* The probes write with OpenSSL (write()) to sockets the gateway may have closed. */
    (void)signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13_negotiated),
        cmocka_unit_test(test_tls11_refused_tls12_served),
        cmocka_unit_test(test_second_listener),
        cmocka_unit_test(test_caps_and_deadline_hold_for_tls),
        cmocka_unit_test(test_headers_every_answer),
        cmocka_unit_test(test_bank_over_tls),
        cmocka_unit_test(test_bank_wrong_host_refused),
        cmocka_unit_test(test_bank_unknown_ca_refused),
        cmocka_unit_test(test_sighup_new_certificate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
