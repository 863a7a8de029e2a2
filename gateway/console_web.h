/* The finance staff's web console (console_web.c), served on [console] listen. */
#ifndef GW_GATEWAY_CONSOLE_WEB_H
#define GW_GATEWAY_CONSOLE_WEB_H

struct gw_ctx;

/* Every path of the console listener: sign-in and sign-out, the days, a day's exceptions,
 * an exception (resolve, approve), the approvals queue, the audit log. */
void gw_handle_console(struct gw_ctx *ctx);

#endif
