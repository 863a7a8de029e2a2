/* The routes and background jobs of the gateway, as const tables handed to the server:
 * the one place that names every handler and job. */
#include "app.h"

#include "api.h"
#include "ipn.h"
#include "ops.h"
#include "pages.h"
#include "server.h"

#include "banned.h"

#define APP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct gw_route_def app_routes[] = {
    { "", GW_ROUTE_PAGE, gw_handle_page },         { "v1", GW_ROUTE_API, gw_handle_api },
    { "ipn", GW_ROUTE_IPN, gw_handle_ipn },        { "healthz", GW_ROUTE_HEALTH, gw_handle_ops },
    { "readyz", GW_ROUTE_HEALTH, gw_handle_ops },  { "metrics", GW_ROUTE_HEALTH, gw_handle_ops },
    { "pay", GW_ROUTE_PAGE, gw_handle_page },      { "return", GW_ROUTE_PAGE, gw_handle_page },
    { "receipts", GW_ROUTE_PAGE, gw_handle_page }, { "verify", GW_ROUTE_PAGE, gw_handle_page },
};

static const struct gw_app app = {
    .routes = app_routes,
    .n_routes = APP_COUNT(app_routes),
};

enum gw_err gw_server_run(const struct gw_config *cfg, struct gw_errbuf *eb)
{
    return gw_server_serve(cfg, &app, eb);
}
