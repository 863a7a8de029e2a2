/* feegate: the command line entry point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "config.h"
#include "gw_log.h"
#include "ledger.h"

#include "banned.h"

static int usage(void)
{
    (void)fputs("usage: feegate COMMAND\n"
                "  serve -c feegate.ini          run the gateway (SIGTERM drains, SIGHUP reloads)\n"
                "  migrate [--dsn DSN]           apply SQL migrations (default FEEGATE_ADMIN_DSN)\n"
                "  ledger check [--dsn DSN]      recompute every ledger invariant (FEEGATE_DSN)\n"
                "  ledger verify [--dsn DSN] [--max-unsealed-age S]  recompute the hash chain\n"
                "  seed-demo                     the demo catalogue and portal clients\n"
                "  request METHOD PATH [FILE]    a signed portal request (reads var/demo.env)\n"
                "  dev-db start|stop DIR [PORT]  an embedded PostgreSQL cluster for development\n"
                "  demo                          database, simulator and gateway on 127.0.0.1\n"
                "  words N                       an amount in Vietnamese words\n"
                "  receipt verify FILE [--ca CA] check a receipt XML offline (exit 1: not valid)\n"
                "  receipt-ca init DIR           a demo CA and receipt signing certificate\n"
                "  receipt-ca issue DIR CN CERT KEY [--ecdsa-p256]  another signing certificate\n"
                "  webhooks replay --client C (--event E | --from T --to T)\n"
                "  statement import | recon run|exceptions|resolve|approve|answer |\n"
                "  day close|report | staff add|sign-in|sign-out   reconciliation "
                "(docs/reconciliation.md)\n",
                stderr);
    return 2;
}

static const char *dsn_arg(int argc, char **argv, int first, const char *env)
{
    for (int i = first; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--dsn") == 0) {
            return argv[i + 1];
        }
    }
    const char *v = getenv(env);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int cmd_serve(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-c") == 0) {
            path = argv[i + 1];
        }
    }
    if (path == NULL) {
        return usage();
    }
    gw_log_set_component("gateway");
    struct gw_config *cfg = gw_xcalloc(1, sizeof(*cfg));
    struct gw_errbuf eb = { .msg = "" };
    enum gw_err err = gw_config_load(path, cfg, &eb);
    if (err == GW_OK) {
        if (strcmp(cfg->log_level, "debug") == 0) {
            gw_log_set_level(GW_LOG_DEBUG);
        } else if (strcmp(cfg->log_level, "warn") == 0) {
            gw_log_set_level(GW_LOG_WARN);
        }
    }
    if (err == GW_OK) {
        err = gw_server_run(cfg, &eb);
    }
    gw_xfree(cfg);
    if (err != GW_OK) {
        (void)fprintf(stderr, "feegate: %s\n", eb.msg);
        return 1;
    }
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    const char *dsn = dsn_arg(argc, argv, 2, "FEEGATE_ADMIN_DSN");
    if (dsn == NULL) {
        (void)fputs("feegate: migrate needs --dsn or FEEGATE_ADMIN_DSN\n", stderr);
        return 2;
    }
    struct gw_errbuf eb = { .msg = "" };
    if (ldg_migrate_blocking(dsn, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: migrate: %s\n", eb.msg);
        return 1;
    }
    (void)puts("migrations applied");
    return 0;
}

static int cmd_ledger_verify(int argc, char **argv)
{
    const char *dsn = dsn_arg(argc, argv, 3, "FEEGATE_DSN");
    struct ldg_verify_result res = { .max_unsealed_age_s = 60 };
    for (int i = 3; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--max-unsealed-age") == 0) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (end == argv[i + 1] || *end != '\0' || v < 0 || v > 86400L * 366) {
                return usage();
            }
            res.max_unsealed_age_s = (int)v;
        }
    }
    if (dsn == NULL) {
        (void)fputs("feegate: ledger verify needs --dsn or FEEGATE_DSN\n", stderr);
        return 2;
    }
    struct gw_errbuf eb = { .msg = "" };
    if (ldg_verify_blocking(dsn, stdout, &res, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: ledger verify: %s\n", eb.msg);
        return 1;
    }
    if (res.bad) {
        (void)fprintf(stderr, "feegate: ledger verify: journal %lld: %s\n", res.first_bad_journal,
                      res.reason);
        return 1;
    }
    return 0;
}

static int cmd_ledger(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[2], "verify") == 0) {
        return cmd_ledger_verify(argc, argv);
    }
    if (argc < 3 || strcmp(argv[2], "check") != 0) {
        return usage();
    }
    const char *dsn = dsn_arg(argc, argv, 3, "FEEGATE_DSN");
    if (dsn == NULL) {
        (void)fputs("feegate: ledger check needs --dsn or FEEGATE_DSN\n", stderr);
        return 2;
    }
    struct gw_errbuf eb = { .msg = "" };
    long violations = 0;
    if (ldg_check_blocking(dsn, stdout, &violations, &eb) != GW_OK) {
        (void)fprintf(stderr, "feegate: ledger check: %s\n", eb.msg);
        return 1;
    }
    if (violations != 0) {
        (void)fprintf(stderr, "feegate: ledger check: %ld violations\n", violations);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        return usage();
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) {
        return cmd_serve(argc, argv);
    }
    if (strcmp(cmd, "migrate") == 0) {
        return cmd_migrate(argc, argv);
    }
    if (strcmp(cmd, "ledger") == 0) {
        return cmd_ledger(argc, argv);
    }
    if (strcmp(cmd, "seed-demo") == 0) {
        return gw_cli_seed_demo(argc, argv);
    }
    if (strcmp(cmd, "request") == 0) {
        return gw_cli_request(argc, argv);
    }
    if (strcmp(cmd, "dev-db") == 0) {
        return gw_cli_dev_db(argc, argv);
    }
    if (strcmp(cmd, "demo") == 0) {
        return gw_cli_demo(argc, argv);
    }
    if (strcmp(cmd, "words") == 0) {
        return gw_cli_words(argc, argv);
    }
    if (strcmp(cmd, "receipt") == 0) {
        return gw_cli_receipt(argc, argv);
    }
    if (strcmp(cmd, "receipt-ca") == 0) {
        return gw_cli_receipt_ca(argc, argv);
    }
    if (strcmp(cmd, "webhooks") == 0) {
        return gw_cli_webhooks(argc, argv);
    }
    if (strcmp(cmd, "staff") == 0) {
        return gw_cli_staff(argc, argv);
    }
    if (strcmp(cmd, "statement") == 0 || strcmp(cmd, "recon") == 0 || strcmp(cmd, "day") == 0) {
        return gw_cli_finance(argc, argv);
    }
    return usage();
}
