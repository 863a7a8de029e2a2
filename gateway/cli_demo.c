/* `feegate demo`, `feegate dev-db` and `feegate seed-demo`: the whole system on one machine
 * for people trying it, and the embedded database for development. Blocking. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "app.h"
#include "cli.h"
#include "config.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_log.h"
#include "gw_pgembed.h"
#include "ledger.h"
#include "rcp.h"

#include "banned.h"

extern char **environ;

#define DEMO_DIR          "var"
#define DEMO_CLIENT       "demo-portal"
#define DEMO_MERCHANT     "FEEGATEDEMO"
#define DEMO_PG_PORT      54329
#define DEMO_GW_PORT      8080
#define DEMO_SIM_PORT     8081
#define DEMO_HTTPS_PORT   8443
#define DEMO_CONSOLE_PORT 8081
#define STOP_WAIT_MS      5000
#define DEMO_VNPAY_TMN    "FGDEMO01"
#define DEMO_MOMO_PARTNER "MOMOFGDEMO"
#define DEMO_ZALOPAY_APP  "2553"

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    char *end = NULL;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    return v != NULL && end != v && *end == '\0' && n > 0 && n < 65536 ? (int)n : dflt;
}

/* A secret from the environment (kept between demo runs through var/demo.env) or new. */
static void secret_from(const char *env, char out[65])
{
    const char *v = getenv(env);
    if (v != NULL && strlen(v) >= 16 && strlen(v) <= 64) {
        (void)snprintf(out, 65, "%s", v);
        return;
    }
    unsigned char raw[32];
    if (gw_random_bytes(raw, sizeof(raw)) != GW_OK) {
        gw_assert_fail(__FILE__, __LINE__, "no randomness");
    }
    gw_hex_encode(raw, sizeof(raw), out);
}

static void print_env_line(FILE *f, const char *k, const char *v)
{
    (void)fprintf(f, "%s='%s'\n", k, v);
}

/* demo.env is sourced by people (`. var/demo.env`): export, so that commands see it. */
static void print_export_line(FILE *f, const char *k, const char *v)
{
    (void)fprintf(f, "export %s='%s'\n", k, v);
}

int gw_cli_dev_db(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "start") != 0 && strcmp(argv[2], "stop") != 0)) {
        (void)fputs("usage: feegate dev-db start|stop DIR [PORT]\n", stderr);
        return 2;
    }
    struct gw_pgembed pg;
    memset(&pg, 0, sizeof(pg));
    struct gw_errbuf eb = { .msg = "" };
    char abs[PATH_MAX];
    if (mkdir(argv[3], 0755) != 0 && errno != EEXIST) {
        (void)fprintf(stderr, "feegate: could not create \"%s\": %s\n", argv[3],
                      GW_STRERROR(errno));
        return 1;
    }
    if (realpath(argv[3], abs) == NULL || strlen(abs) >= sizeof(pg.dir)) {
        (void)fprintf(stderr, "feegate: bad directory \"%s\"\n", argv[3]);
        return 1;
    }
    if (strcmp(argv[2], "stop") == 0) {
        memcpy(pg.dir, abs, strlen(abs) + 1); /* length checked above */
        if (gw_pgembed_stop(&pg, &eb) != GW_OK) {
            (void)fprintf(stderr, "feegate: %s\n", eb.msg);
            return 1;
        }
        return 0;
    }
    int port = 0;
    if (argc >= 5) {
        char *end = NULL;
        long n = strtol(argv[4], &end, 10);
        port = end != argv[4] && *end == '\0' && n > 0 && n < 65536 ? (int)n : -1;
    }
    if (port < 0) {
        (void)fprintf(stderr, "feegate: bad port \"%s\"\n", argv[4]);
        return 2;
    }
    if (gw_pgembed_start(&pg, abs, port, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
        return 1;
    }
    print_env_line(stdout, "FEEGATE_ADMIN_DSN", pg.admin_dsn);
    print_env_line(stdout, "FEEGATE_DSN", pg.app_dsn);
    return 0;
}

int gw_cli_seed_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const char *dsn = getenv("FEEGATE_ADMIN_DSN");
    if (dsn == NULL) {
        (void)fputs("feegate: seed-demo needs FEEGATE_ADMIN_DSN\n", stderr);
        return 2;
    }
    char secret[65];
    secret_from("FEEGATE_CLIENT_SECRET", secret);
    const struct ldg_demo_client client = { .id = DEMO_CLIENT,
                                            .secret = secret,
                                            .webhook_url = getenv("FEEGATE_WEBHOOK_URL") };
    struct gw_errbuf eb = { .msg = "" };
    if (ldg_seed_demo_blocking(dsn, &client, 1, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: seed-demo: %s\n", eb.msg);
        return 1;
    }
    print_env_line(stdout, "FEEGATE_CLIENT_ID", DEMO_CLIENT);
    print_env_line(stdout, "FEEGATE_CLIENT_SECRET", secret);
    return 0;
}

struct demo {
    struct gw_pgembed pg;
    char client_secret[65];
    char sandbox_secret[65];
    /* The simulated providers' credentials (docs/adapters.md): the codes are fixed, the
     * secrets kept between runs through var/demo.env like the others. */
    char vnp_secret[65];
    char momo_access[65];
    char momo_secret[65];
    char zp_key1[65];
    char zp_key2[65];
    int gw_port;
    int https_port;   /* [server] tls_listen, with the demo TLS CA's certificate (var/tls/) */
    int console_port; /* [console] listen: the finance staff's web console */
    int sim_port;
    pid_t sim_pid;
    char root[PATH_MAX];
    struct gw_cli_member clerk, approver; /* the demo's finance staff (docs/console.md) */
};

static enum gw_err demo_files(const struct demo *d, struct gw_errbuf *eb)
{
    FILE *ini = fopen(DEMO_DIR "/feegate.ini", "w");
    FILE *env = fopen(DEMO_DIR "/demo.env", "w");
    FILE *ex = fopen(DEMO_DIR "/example-payment.json", "w");
    if (ini == NULL || env == NULL || ex == NULL) {
        if (ini != NULL) {
            (void)fclose(ini);
        }
        if (env != NULL) {
            (void)fclose(env);
        }
        if (ex != NULL) {
            (void)fclose(ex);
        }
        return gw_fail(eb, GW_ERR_IO, "could not write under %s/: %s", DEMO_DIR,
                       GW_STRERROR(errno));
    }
    (void)fprintf(ini,
                  "; written by feegate demo\n[server]\nlisten = 127.0.0.1:%d\n"
                  "public_url = http://127.0.0.1:%d\nloops = 0\n"
                  "; a demo on one machine: start-up safety checks only warn\n"
                  "development = true\n[database]\ndsn = %s\n"
                  "conns_per_loop = 2\n[log]\nlevel = info\n[channel.sandbox]\n"
                  "merchant_id = %s\nsecret = %s\nendpoint_url = http://127.0.0.1:%d\n",
                  d->gw_port, d->gw_port, d->pg.app_dsn, DEMO_MERCHANT, d->sandbox_secret,
                  d->sim_port);
    (void)fprintf(ini,
                  "[channel.vnpay]\nmerchant_id = %s\nsecret = %s\n"
                  "endpoint_url = http://127.0.0.1:%d/vnpay/paymentv2/vpcpay.html\n"
                  "api_url = http://127.0.0.1:%d/vnpay/merchant_webapi/api/transaction\n"
                  "[channel.momo]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                  "endpoint_url = http://127.0.0.1:%d/momo/v2/gateway/api\n"
                  "[channel.zalopay]\nmerchant_id = %s\nsecret = %s\nsecret2 = %s\n"
                  "endpoint_url = http://127.0.0.1:%d/zalopay\n",
                  DEMO_VNPAY_TMN, d->vnp_secret, d->sim_port, d->sim_port, DEMO_MOMO_PARTNER,
                  d->momo_secret, d->momo_access, d->sim_port, DEMO_ZALOPAY_APP, d->zp_key1,
                  d->zp_key2, d->sim_port);
    char url[64];
    (void)fprintf(env, "# feegate demo: source this file (sh syntax)\n");
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", d->gw_port);
    print_export_line(env, "FEEGATE_URL", url);
    print_export_line(env, "FEEGATE_CLIENT_ID", DEMO_CLIENT);
    print_export_line(env, "FEEGATE_CLIENT_SECRET", d->client_secret);
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", d->sim_port);
    print_export_line(env, "BANKSIM_URL", url);
    print_export_line(env, "FEEGATE_DSN", d->pg.app_dsn);
    print_export_line(env, "FEEGATE_ADMIN_DSN", d->pg.admin_dsn);
    print_export_line(env, "SANDBOX_MERCHANT_ID", DEMO_MERCHANT);
    print_export_line(env, "SANDBOX_SECRET", d->sandbox_secret);
    print_export_line(env, "VNPAY_TMN_CODE", DEMO_VNPAY_TMN);
    print_export_line(env, "VNPAY_HASH_SECRET", d->vnp_secret);
    print_export_line(env, "MOMO_PARTNER_CODE", DEMO_MOMO_PARTNER);
    print_export_line(env, "MOMO_ACCESS_KEY", d->momo_access);
    print_export_line(env, "MOMO_SECRET_KEY", d->momo_secret);
    print_export_line(env, "ZALOPAY_APP_ID", DEMO_ZALOPAY_APP);
    print_export_line(env, "ZALOPAY_KEY1", d->zp_key1);
    print_export_line(env, "ZALOPAY_KEY2", d->zp_key2);
    print_export_line(env, "FEEGATE_CLERK_USER", d->clerk.id);
    print_export_line(env, "FEEGATE_CLERK_PASSWORD", d->clerk.password);
    print_export_line(env, "FEEGATE_CLERK_TOTP", d->clerk.totp_b32);
    print_export_line(env, "FEEGATE_APPROVER_USER", d->approver.id);
    print_export_line(env, "FEEGATE_APPROVER_PASSWORD", d->approver.password);
    print_export_line(env, "FEEGATE_APPROVER_TOTP", d->approver.totp_b32);
    char ca[PATH_MAX + 32];
    (void)snprintf(ca, sizeof(ca), "%s/receipts/ca.pem", d->root);
    print_export_line(env, "RECEIPT_CA_CERT", ca);
    (void)fprintf(ini,
                  "[receipts]\ncert = %s/receipts/signer.pem\nkey = %s/receipts/signer.key\n"
                  "ca = %s\n",
                  d->root, d->root, ca);
    /* HTTPS beside the plain listener (the simulator's callbacks stay plain HTTP). */
    (void)fprintf(ini,
                  "[server]\ntls_listen = 127.0.0.1:%d\ntls_cert_file = %s/tls/server.pem\n"
                  "tls_key_file = %s/tls/server.key\n",
                  d->https_port, d->root, d->root);
    (void)snprintf(url, sizeof(url), "https://127.0.0.1:%d", d->https_port);
    print_export_line(env, "FEEGATE_HTTPS_URL", url);
    (void)fprintf(ini, "[console]\nlisten = 127.0.0.1:%d\n", d->console_port);
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", d->console_port);
    print_export_line(env, "FEEGATE_CONSOLE_URL", url);
    (void)snprintf(ca, sizeof(ca), "%s/tls/ca.pem", d->root);
    print_export_line(env, "FEEGATE_TLS_CA", ca);
    (void)fprintf(ex,
                  "{\n  \"order_ref\": \"HS-2026-%06ld\",\n  \"agency_code\": \"STP-HN\",\n"
                  "  \"payer\": {\"name\": \"Nguyễn Văn An\", \"id_number\": \"001099012345\", "
                  "\"email\": \"an@example.vn\"},\n"
                  "  \"items\": [{\"fee_code\": \"LLTP\", \"amount_vnd\": 200000}],\n"
                  "  \"amount_vnd\": 200000,\n"
                  "  \"return_url\": \"https://portal.example.vn/hs/HS-2026\",\n"
                  "  \"expires_in_s\": 900,\n  \"locale\": \"vi\"\n}\n",
                  (long)(getpid() % 1000000));
    int rc = fclose(ini) | fclose(env) | fclose(ex);
    return rc == 0 ? GW_OK : gw_fail(eb, GW_ERR_IO, "could not write the demo files");
}

static enum gw_err demo_spawn_sim(struct demo *d, struct gw_errbuf *eb)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return gw_fail(eb, GW_ERR_IO, "could not find my own path");
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    char sim[PATH_MAX + 64];
    const char *env_sim = getenv("FEEGATE_BANKSIM");
    (void)snprintf(sim, sizeof(sim), "%s", env_sim != NULL ? env_sim : "");
    if (env_sim == NULL) {
        (void)snprintf(sim, sizeof(sim), "%s/../adapters/banksim/feegate-banksim", exe);
    }
    char listen[32];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", d->sim_port);
    char a_listen[] = "--listen";
    char a_merchant[] = "--sandbox-merchant";
    char a_secret[] = "--sandbox-secret";
    char merchant[] = DEMO_MERCHANT;
    /* The providers' credentials reach the simulator through its environment; demo's only
     * thread is this one (the gateway and the simulator are child processes). */
    /* NOLINTBEGIN(concurrency-mt-unsafe) */
    int rc = setenv("VNPAY_TMN_CODE", DEMO_VNPAY_TMN, 1) |
             setenv("VNPAY_HASH_SECRET", d->vnp_secret, 1) |
             setenv("MOMO_PARTNER_CODE", DEMO_MOMO_PARTNER, 1) |
             setenv("MOMO_ACCESS_KEY", d->momo_access, 1) |
             setenv("MOMO_SECRET_KEY", d->momo_secret, 1) |
             setenv("ZALOPAY_APP_ID", DEMO_ZALOPAY_APP, 1) | setenv("ZALOPAY_KEY1", d->zp_key1, 1) |
             setenv("ZALOPAY_KEY2", d->zp_key2, 1);
    /* NOLINTEND(concurrency-mt-unsafe) */
    if (rc != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not set the simulator's environment");
    }
    char a_ipn[] = "--vnpay-ipn-url";
    char ipn[64];
    (void)snprintf(ipn, sizeof(ipn), "http://127.0.0.1:%d/ipn/vnpay", d->gw_port);
    char *const args[] = { sim,      a_listen,          listen, a_merchant, merchant,
                           a_secret, d->sandbox_secret, a_ipn,  ipn,        NULL };
    posix_spawnattr_t attr;
    (void)posix_spawnattr_init(&attr);
    (void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    (void)posix_spawnattr_setpgroup(&attr, 0);
    rc = posix_spawn(&d->sim_pid, sim, NULL, &attr, args, environ);
    (void)posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not start %s: %s", sim, GW_STRERROR(rc));
    }
    return GW_OK;
}

static void demo_stop_sim(struct demo *d)
{
    if (d->sim_pid <= 0) {
        return;
    }
    (void)kill(d->sim_pid, SIGTERM);
    for (int waited = 0; waited < STOP_WAIT_MS; waited += 50) {
        if (waitpid(d->sim_pid, NULL, WNOHANG) == d->sim_pid) {
            return;
        }
        (void)usleep(50 * 1000);
    }
    (void)kill(d->sim_pid, SIGKILL);
    (void)waitpid(d->sim_pid, NULL, 0);
}

static void demo_banner(const struct demo *d)
{
    (void)printf("\nfeegate demo is running (Ctrl-C stops everything)\n\n"
                 "  gateway        http://127.0.0.1:%d   (/healthz /readyz /metrics)\n"
                 "                 https://127.0.0.1:%d  (CA: %s/tls/ca.pem)\n"
                 "  bank simulator http://127.0.0.1:%d\n"
                 "  database       %s\n"
                 "  settings       %s/demo.env (portal client id and secret, DSNs)\n"
                 "  mode           development: start-up safety checks only warn "
                 "(docs/operations.md)\n\n"
                 "A first payment, from another shell in this directory:\n\n"
                 "  ./build/gateway/feegate request POST /v1/payments "
                 "var/example-payment.json\n\n"
                 "then open the checkout_url it prints in a browser, choose the sandbox bank,\n"
                 "VNPAY, MoMo or ZaloPay (all simulated),\n"
                 "approve, and see the receipt. Check the books with:\n\n"
                 "  . var/demo.env && ./build/gateway/feegate ledger check\n\n"
                 "Finance staff clerk1 and approver1 (passwords and TOTP secrets in demo.env)\n"
                 "find yesterday's business day matched, exceptions waiting (docs/console.md).\n\n",
                 d->gw_port, d->https_port, d->root, d->sim_port, d->pg.app_dsn, d->root);
    (void)fflush(stdout);
}

/* Drops the database of the cluster in var/ and creates it empty (over the maintenance
 * database: one cannot drop the database one is connected to). */
static enum gw_err demo_db_recreate(const struct demo *d, struct gw_errbuf *eb)
{
    char dsn[sizeof(d->pg.admin_dsn) + 32];
    /* A keyword given twice in a conninfo string takes its last value. */
    (void)snprintf(dsn, sizeof(dsn), "%s dbname=postgres", d->pg.admin_dsn);
    PGconn *conn = PQconnectdb(dsn);
    enum gw_err err = GW_OK;
    const char *steps[] = { "DROP DATABASE " GW_PGEMBED_DB " WITH (FORCE)",
                            "CREATE DATABASE " GW_PGEMBED_DB };
    if (PQstatus(conn) != CONNECTION_OK) {
        err = gw_fail(eb, GW_ERR_DB, "could not connect to recreate the database: %s",
                      PQerrorMessage(conn));
    }
    for (size_t i = 0; err == GW_OK && i < sizeof(steps) / sizeof(steps[0]); i++) {
        PGresult *r = PQexec(conn, steps[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            err = gw_fail(eb, GW_ERR_DB, "%s: %s", steps[i], PQerrorMessage(conn));
        }
        PQclear(r);
    }
    PQfinish(conn);
    return err;
}

/* var/ holds a development database. When its schema version is unknown to this binary
 * (its applied migrations are not the first of the embedded ones, e.g. a database built by
 * an older history of the migrations, or by a newer binary), migrate refuses it
 * (GW_ERR_CONFLICT); a demo database is then dropped and made again, and says so. */
static enum gw_err demo_migrate(const struct demo *d, struct gw_errbuf *eb)
{
    enum gw_err err = ldg_migrate_blocking(d->pg.admin_dsn, eb);
    if (err != GW_ERR_CONFLICT) {
        return err;
    }
    (void)fprintf(stderr,
                  "feegate: demo: %s\n"
                  "feegate: demo: the demo database in %s/pg has a schema version this binary "
                  "does not know; dropping it and creating it again (its payments, receipts "
                  "and catalogue are gone; settings and certificates in %s are kept)\n",
                  eb->msg, d->root, d->root);
    err = demo_db_recreate(d, eb);
    if (err == GW_OK) {
        err = ldg_migrate_blocking(d->pg.admin_dsn, eb);
    }
    if (err == GW_OK) {
        (void)fputs("feegate: demo: database recreated at the current schema version\n", stderr);
    }
    return err;
}

static enum gw_err demo_prepare(struct demo *d, struct gw_errbuf *eb)
{
    if (mkdir(DEMO_DIR, 0755) != 0 && errno != EEXIST) {
        return gw_fail(eb, GW_ERR_IO, "could not create %s/: %s", DEMO_DIR, GW_STRERROR(errno));
    }
    gw_cli_load_env_file(DEMO_DIR "/demo.env");
    if (realpath(DEMO_DIR, d->root) == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not resolve %s/", DEMO_DIR);
    }
    char pgdir[PATH_MAX + 8];
    (void)snprintf(pgdir, sizeof(pgdir), "%s/pg", d->root);
    enum gw_err err =
        gw_pgembed_start(&d->pg, pgdir, env_int("FEEGATE_DEMO_PG_PORT", DEMO_PG_PORT), eb);
    if (err != GW_OK) {
        return err;
    }
    /* The demo CA and receipt signing certificate, made once and kept under var/receipts/. */
    struct stat st;
    if (err == GW_OK && stat(DEMO_DIR "/receipts/ca.pem", &st) != 0) {
        err = rcp_ca_init(DEMO_DIR "/receipts", eb);
    }
    /* The demo TLS CA and the HTTPS listener's certificate, likewise under var/tls/. */
    if (err == GW_OK && stat(DEMO_DIR "/tls/ca.pem", &st) != 0) {
        err = rcp_ca_init_tls(DEMO_DIR "/tls", eb);
    }
    if (err == GW_OK) {
        err = demo_migrate(d, eb);
    }
    secret_from("FEEGATE_CLIENT_SECRET", d->client_secret);
    secret_from("SANDBOX_SECRET", d->sandbox_secret);
    secret_from("VNPAY_HASH_SECRET", d->vnp_secret);
    secret_from("MOMO_ACCESS_KEY", d->momo_access);
    secret_from("MOMO_SECRET_KEY", d->momo_secret);
    secret_from("ZALOPAY_KEY1", d->zp_key1);
    secret_from("ZALOPAY_KEY2", d->zp_key2);
    const struct ldg_demo_client client = { .id = DEMO_CLIENT,
                                            .secret = d->client_secret,
                                            .webhook_url = getenv("FEEGATE_WEBHOOK_URL") };
    if (err == GW_OK) {
        err = ldg_seed_demo_blocking(d->pg.admin_dsn, &client, 1, eb);
    }
    static const struct gw_cli_demo_staff clerk_env = { "FEEGATE_CLERK_PASSWORD",
                                                        "FEEGATE_CLERK_TOTP" };
    static const struct gw_cli_demo_staff approver_env = { "FEEGATE_APPROVER_PASSWORD",
                                                           "FEEGATE_APPROVER_TOTP" };
    d->clerk = (struct gw_cli_member){ .id = "clerk1", .role = "clerk", .name = "Nguyễn Thị Lan" };
    d->approver =
        (struct gw_cli_member){ .id = "approver1", .role = "approver", .name = "Trần Văn Minh" };
    if (err == GW_OK) {
        err = gw_cli_demo_member(d->pg.admin_dsn, &clerk_env, &d->clerk, eb);
    }
    if (err == GW_OK) {
        err = gw_cli_demo_member(d->pg.admin_dsn, &approver_env, &d->approver, eb);
    }
    if (err == GW_OK) {
        const struct gw_cli_demo_day_req day = { d->pg.admin_dsn, DEMO_CLIENT };
        err = gw_cli_demo_day(&day, eb);
    }
    if (err == GW_OK) {
        err = demo_files(d, eb);
    }
    if (err == GW_OK) {
        err = demo_spawn_sim(d, eb);
    }
    return err;
}

int gw_cli_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    gw_log_set_component("demo");
    struct demo *d = gw_xcalloc(1, sizeof(*d));
    d->gw_port = env_int("FEEGATE_PORT", DEMO_GW_PORT);
    d->sim_port = env_int("BANKSIM_PORT", DEMO_SIM_PORT);
    d->https_port = env_int("FEEGATE_HTTPS_PORT", DEMO_HTTPS_PORT);
    d->console_port = env_int("FEEGATE_CONSOLE_PORT", DEMO_CONSOLE_PORT);
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = demo_prepare(d, &eb);
    struct gw_config *cfg = gw_xcalloc(1, sizeof(*cfg));
    if (err == GW_OK) {
        err = gw_config_load(DEMO_DIR "/feegate.ini", cfg, &eb);
    }
    if (err == GW_OK) {
        demo_banner(d);
        gw_log_set_component("gateway");
        err = gw_server_run(cfg, &eb);
    }
    if (err != GW_OK) {
        (void)fprintf(stderr, "feegate: demo: %s\n", eb.msg);
    }
    demo_stop_sim(d);
    struct gw_errbuf seb = { .msg = "" };
    if (d->pg.dir[0] != '\0' && gw_pgembed_stop(&d->pg, &seb) != GW_OK) {
        (void)fprintf(stderr, "feegate: demo: %s\n", seb.msg);
    }
    (void)puts("feegate demo stopped");
    gw_xfree(cfg);
    gw_xfree(d);
    return err == GW_OK ? 0 : 1;
}
