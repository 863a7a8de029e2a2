/* JSON log lines on stderr. */
#include "gw_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static enum gw_log_level log_level = GW_LOG_INFO;
static const char *log_component = "feegate";

void gw_log_set_level(enum gw_log_level level)
{
    log_level = level;
}

void gw_log_set_component(const char *component)
{
    log_component = component;
}

static const char *level_name(enum gw_log_level level)
{
    switch (level) {
    case GW_LOG_DEBUG:
        return "debug";
    case GW_LOG_INFO:
        return "info";
    case GW_LOG_WARN:
        return "warn";
    case GW_LOG_ERROR:
        return "error";
    }
    return "info";
}

void gw_log(enum gw_log_level level, const char *event, const char *fields_fmt, ...)
{
    if (level < log_level) {
        return;
    }
    char line[2048];
    struct timeval tv;
    (void)gettimeofday(&tv, NULL);
    struct tm tm;
    time_t secs = tv.tv_sec;
    (void)gmtime_r(&secs, &tm);
    int n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                     "\"component\":\"%s\",\"event\":\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), level_name(level), log_component, event);
    if (n < 0 || (size_t)n >= sizeof(line) - 4) {
        return;
    }
    size_t len = (size_t)n;
    if (fields_fmt != NULL && fields_fmt[0] != '\0') {
        line[len++] = ',';
        va_list ap;
        va_start(ap, fields_fmt);
        int m = vsnprintf(line + len, sizeof(line) - len - 3, fields_fmt, ap);
        va_end(ap);
        if (m > 0) {
            len += (size_t)m < sizeof(line) - len - 3 ? (size_t)m : sizeof(line) - len - 4;
        }
    }
    line[len++] = '}';
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

const char *gw_log_esc(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && n + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    return out;
}
