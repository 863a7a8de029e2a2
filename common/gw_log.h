/* Structured logs: one JSON object per line on stderr, with time, level and event name.
 * Thread-safe (one write(2) per line). */
#ifndef GW_COMMON_GW_LOG_H
#define GW_COMMON_GW_LOG_H

#include <stddef.h>

#include "gw_err.h"

enum gw_log_level {
    GW_LOG_DEBUG,
    GW_LOG_INFO,
    GW_LOG_WARN,
    GW_LOG_ERROR,
};

void gw_log_set_level(enum gw_log_level level);
void gw_log_set_component(const char *component); /* "gateway", "banksim", ... (borrowed) */

/* Logs {"ts":..,"level":..,"component":..,"event":event, <fields>}. fields_fmt formats the
 * rest of the object as JSON members, e.g. "\"payment_id\":\"%s\",\"status\":%d"; callers
 * pass strings through gw_log_str() when they may contain quotes. fields_fmt may be NULL. */
void gw_log(enum gw_log_level level, const char *event, const char *fields_fmt, ...)
    GW_PRINTF(3, 4);

/* Escapes s for use inside a JSON string in a log line; returns out (truncated to cap). */
const char *gw_log_esc(char *out, size_t cap, const char *s);

/* Lower case on purpose: they read as the functions they stand for. */
/* NOLINTBEGIN(readability-identifier-naming) */
#define gw_log_info(ev, ...)  gw_log(GW_LOG_INFO, ev, __VA_ARGS__)
#define gw_log_warn(ev, ...)  gw_log(GW_LOG_WARN, ev, __VA_ARGS__)
#define gw_log_error(ev, ...) gw_log(GW_LOG_ERROR, ev, __VA_ARGS__)
/* NOLINTEND(readability-identifier-naming) */

#endif
