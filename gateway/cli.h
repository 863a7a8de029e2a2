/* The feegate command line: serve, migrate, ledger check, seed-demo, request, dev-db, demo. */
#ifndef GW_GATEWAY_CLI_H
#define GW_GATEWAY_CLI_H

#include <stdbool.h>

#include "gw_err.h"

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
/* statement, recon, day (cli_finance.c). */
int gw_cli_finance(int argc, char **argv);
/* staff add, sign-in, sign-out (cli_staff.c). */
int gw_cli_staff(int argc, char **argv);

/* A staff session of the command line: dsn and staff set by the caller, token by the sign-in
 * (64 hex). */
struct gw_cli_session {
    const char *dsn;
    const char *staff;
    char token[65];
};

/* The sign-in `--staff` uses: the password from FEEGATE_STAFF_PASSWORD or the terminal, the
 * code from FEEGATE_STAFF_TOTP or the terminal; the reason on stderr when refused. Blocking. */
bool gw_cli_staff_sign_in(struct gw_cli_session *s);
/* A member saved as the database owner (feegate.staff_upsert): the password hashed with
 * argon2id; totp_b32 the TOTP secret in base32, kept when given, else made and written back.
 * Ends the member's sessions. Blocking. */
#define GW_CLI_TOTP_B32_BYTES 64

struct gw_cli_member {
    const char *id;
    const char *role;
    const char *name; /* NULL: unchanged (or empty for a new member) */
    const char *password;
    char totp_b32[GW_CLI_TOTP_B32_BYTES];
    char password_buf[65]; /* where gw_cli_demo_member keeps the password */
};
enum gw_err gw_cli_staff_save(const char *admin_dsn, struct gw_cli_member *m,
                              struct gw_errbuf *eb) GW_MUST_CHECK;
void gw_cli_staff_sign_out(const struct gw_cli_session *s);

/* cli_demo_day.c: the demo's staff and yesterday's business day (statements imported,
 * matched, exceptions waiting; made once). Blocking. */
struct gw_cli_demo_staff {
    const char *password_env; /* the variable of var/demo.env that keeps the password */
    const char *totp_env;     /* and the TOTP secret (base32) */
};
enum gw_err gw_cli_demo_member(const char *admin_dsn, const struct gw_cli_demo_staff *who,
                               struct gw_cli_member *m, struct gw_errbuf *eb) GW_MUST_CHECK;

struct gw_cli_demo_day_req {
    const char *admin_dsn;
    const char *client_id; /* the demo portal client the payments are made for */
};
enum gw_err gw_cli_demo_day(const struct gw_cli_demo_day_req *req,
                            struct gw_errbuf *eb) GW_MUST_CHECK;

/* Reads KEY=VALUE lines of a demo.env file into the environment (existing variables win). */
void gw_cli_load_env_file(const char *path);

#endif
