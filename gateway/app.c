/* The routes and background jobs of the gateway, as const tables handed to the server:
 * the one place that names every handler and job. */
#include "app.h"

#include <stddef.h>

#include "adapter.h"
#include "api.h"
#include "auth.h"
#include "check_job.h"
#include "console_web.h"
#include "fault.h"
#include "ipn.h"
#include "jobs.h"
#include "ops.h"
#include "outbox.h"
#include "pages.h"
#include "recovery.h"
#include "refund.h"
#include "server.h"
#include "startup.h"

#include "banned.h"

#define APP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct gw_route_def app_routes[] = {
    { "", GW_ROUTE_PAGE, gw_handle_page },         { "v1", GW_ROUTE_API, gw_handle_api },
    { "ipn", GW_ROUTE_IPN, gw_handle_ipn },        { "healthz", GW_ROUTE_HEALTH, gw_handle_ops },
    { "readyz", GW_ROUTE_HEALTH, gw_handle_ops },  { "metrics", GW_ROUTE_HEALTH, gw_handle_ops },
    { "pay", GW_ROUTE_PAGE, gw_handle_page },      { "return", GW_ROUTE_PAGE, gw_handle_page },
    { "receipts", GW_ROUTE_PAGE, gw_handle_page }, { "verify", GW_ROUTE_PAGE, gw_handle_page },
};

/* The console listener's ([console] listen): one handler for the staff's pages. */
static const struct gw_route_def app_console_routes[] = {
    { "", GW_ROUTE_PAGE, gw_handle_console },
    { "signin", GW_ROUTE_PAGE, gw_handle_console },
    { "signout", GW_ROUTE_PAGE, gw_handle_console },
    { "days", GW_ROUTE_PAGE, gw_handle_console },
    { "exceptions", GW_ROUTE_PAGE, gw_handle_console },
    { "approvals", GW_ROUTE_PAGE, gw_handle_console },
    { "audit", GW_ROUTE_PAGE, gw_handle_console },
};

/* Started, and stopped at the drain, in this order. SIGHUP refreshes the client list. */
static const struct gw_job_def app_jobs[] = {
    { gw_jobs_start, gw_jobs_stop, gw_jobs_free, gw_auth_refresh },
    { gw_outbox_start, gw_outbox_stop, gw_outbox_free, NULL },
    { gw_recovery_start, gw_recovery_stop, gw_recovery_free, NULL },
    { gw_refunds_start, gw_refunds_stop, gw_refunds_free, NULL },
    { gw_check_job_start, gw_check_job_stop, gw_check_job_free, NULL },
    { gw_console_start, gw_console_stop, gw_console_release, NULL },
};

static const struct gw_app app = {
    .routes = app_routes,
    .n_routes = APP_COUNT(app_routes),
    .console_routes = app_console_routes,
    .n_console_routes = APP_COUNT(app_console_routes),
    .jobs = app_jobs,
    .n_jobs = APP_COUNT(app_jobs),
    .fallback = gw_handle_page, /* people mistype addresses: an HTML 404 in their language */
};

enum gw_err gw_server_run(const struct gw_config *cfg, struct gw_errbuf *eb)
{
    /* The adapters' tables are checked before anything listens, for `serve` and `demo` alike. */
    enum gw_err err = gw_adapter_registry_check(eb);
    if (err == GW_OK) {
        err = gw_fault_init(eb); /* FEEGATE_FAULT, docs/reliability.md#fault-points */
    }
    if (err != GW_OK) {
        return err;
    }
    /* Then what would make it unsafe for money (docs/operations.md, "Start-up checks"). */
    err = gw_startup_check_blocking(cfg, eb);
    if (err != GW_OK) {
        return err;
    }
    return gw_server_serve(cfg, &app, eb);
}
