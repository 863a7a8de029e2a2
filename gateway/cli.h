/* The feegate command line: serve, migrate, ledger check, seed-demo, request, dev-db, demo. */
#ifndef GW_GATEWAY_CLI_H
#define GW_GATEWAY_CLI_H

/* Each returns the process exit code. */
int gw_cli_request(int argc, char **argv);
int gw_cli_demo(int argc, char **argv);
int gw_cli_dev_db(int argc, char **argv);
int gw_cli_seed_demo(int argc, char **argv);

/* Reads KEY=VALUE lines of a demo.env file into the environment (existing variables win). */
void gw_cli_load_env_file(const char *path);

#endif
