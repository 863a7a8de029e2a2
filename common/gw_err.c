/* Error messages and the always-on assertion handler. */
#include "gw_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw_assert.h"

#include "banned.h"

enum gw_err gw_fail(struct gw_errbuf *eb, enum gw_err err, const char *fmt, ...)
{
    if (eb != NULL) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
        va_end(ap);
    }
    return err;
}

const char *gw_err_name(enum gw_err err)
{
    static const char *const names[] = {
        [GW_OK] = "ok",
        [GW_ERR_NOMEM] = "nomem",
        [GW_ERR_INVALID] = "invalid",
        [GW_ERR_NOT_FOUND] = "not_found",
        [GW_ERR_CONFLICT] = "conflict",
        [GW_ERR_AUTH] = "auth",
        [GW_ERR_LIMIT] = "limit",
        [GW_ERR_IO] = "io",
        [GW_ERR_DB] = "db",
        [GW_ERR_UNAVAILABLE] = "unavailable",
        [GW_ERR_TIMEOUT] = "timeout",
        [GW_ERR_PROTOCOL] = "protocol",
        [GW_ERR_INTERNAL] = "internal",
    };
    if ((unsigned)err >= sizeof(names) / sizeof(names[0]) || names[err] == NULL) {
        return "unknown";
    }
    return names[err];
}

_Noreturn void gw_assert_fail(const char *file, int line, const char *expr)
{
    (void)fprintf(stderr,
                  "{\"level\":\"fatal\",\"event\":\"assertion_failed\",\"file\":\"%s\","
                  "\"line\":%d,\"expr\":\"%s\"}\n",
                  file, line, expr);
    (void)fflush(stderr);
    abort();
}
