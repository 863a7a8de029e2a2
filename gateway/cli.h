/* The feegate command line: serve, migrate, ledger check, seed-demo, request, dev-db, demo. */
#ifndef GW_GATEWAY_CLI_H
#define GW_GATEWAY_CLI_H

/* Each returns the process exit code. */
int gw_cli_request(int argc, char **argv);
int gw_cli_demo(int argc, char **argv);
int gw_cli_dev_db(int argc, char **argv);
int gw_cli_seed_demo(int argc, char **argv);
/* cli_receipt.c: words, receipt verify, receipt-ca. */
int gw_cli_words(int argc, char **argv);
int gw_cli_receipt(int argc, char **argv);
int gw_cli_receipt_ca(int argc, char **argv);
int gw_cli_webhooks(int argc, char **argv);
/* statement, recon, day, staff (cli_finance.c). */
int gw_cli_finance(int argc, char **argv);

/* Reads KEY=VALUE lines of a demo.env file into the environment (existing variables win). */
void gw_cli_load_env_file(const char *path);

#endif
