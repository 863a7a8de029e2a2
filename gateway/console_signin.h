/* The finance console's sign-in and sign-out (console_signin.c): the form, the argon2id check
 * on a thread of its own, the TOTP code and the session in the database. */
#ifndef GW_GATEWAY_CONSOLE_SIGNIN_H
#define GW_GATEWAY_CONSOLE_SIGNIN_H

#include <libpq-fe.h>

#include "gw_err.h"

struct gw_ctx;

void con_signin_page(struct gw_ctx *ctx, int status, const char *problem);
void con_signin_post(struct gw_ctx *ctx);
void con_signout_done(void *arg, enum gw_err err, const PGresult *res);
int con_signins_running(void);

#endif
