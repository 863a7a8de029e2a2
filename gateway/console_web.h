/* The finance staff's web console (console_web.c), served on [console] listen. */
#ifndef GW_GATEWAY_CONSOLE_WEB_H
#define GW_GATEWAY_CONSOLE_WEB_H

struct gw_ctx;
struct gw_loop;

/* Every path of the console listener: sign-in and sign-out, the days, a day's exceptions,
 * an exception (resolve, approve), the approvals queue, the audit log. */
void gw_handle_console(struct gw_ctx *ctx);

/* The console's entry in the job table: nothing to start or stop; release waits (at most
 * GW_CONSOLE_VERIFY_WAIT_MS) for the password checks still running on their threads. */
void gw_console_start(struct gw_loop *loop);
void gw_console_stop(struct gw_loop *loop);
void gw_console_release(struct gw_loop *loop);

#endif
