/* A statement line's fields as every reader writes them: dates in Vietnam time, amounts,
 * bounded references, one line of text at a time, and the rules a line must meet before
 * import. Below every format reader. */
#include "ldg_stmt_line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_assert.h"

#include "banned.h"

#define VN_OFFSET_S ((int64_t)7 * 3600)

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Broken-down fields (month 1-12) -> Unix time, checking the date exists. */
static bool make_time(int y, int mo, int d, int h, int mi, int se, time_t *out)
{
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60) {
        return false;
    }
    struct tm tm = { .tm_year = y - 1900,
                     .tm_mon = mo - 1,
                     .tm_mday = d,
                     .tm_hour = h,
                     .tm_min = mi,
                     .tm_sec = se > 59 ? 59 : se };
    time_t t = timegm(&tm);
    struct tm back;
    if (gmtime_r(&t, &back) == NULL || back.tm_mday != d || back.tm_mon != mo - 1) {
        return false;
    }
    *out = t;
    return true;
}

static void vn_strings(time_t utc, bool with_time, char on[11], char at[26])
{
    time_t vn = utc + VN_OFFSET_S;
    struct tm tm;
    GW_ASSERT(gmtime_r(&vn, &tm) != NULL);
    /* Years are 1970..9999 (make_time), so the fields fit. */
    unsigned y = (unsigned)(tm.tm_year + 1900) % 10000u;
    unsigned mo = (unsigned)(tm.tm_mon + 1) % 100u;
    unsigned d = (unsigned)tm.tm_mday % 100u;
    (void)snprintf(on, 11, "%04u-%02u-%02u", y, mo, d);
    at[0] = '\0';
    if (with_time) {
        (void)snprintf(at, 26, "%04u-%02u-%02uT%02u:%02u:%02u+07:00", y, mo, d,
                       (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
                       (unsigned)tm.tm_sec % 100u);
    }
}

/* The offset part after the seconds (and an optional fraction): Z, +HH:MM, -HH:MM, or
 * nothing (Vietnam time). */
static bool parse_offset(const char *p, long *off_s)
{
    if (*p == '.') {
        p++;
        size_t n = strspn(p, "0123456789");
        if (n == 0 || n > 9) {
            return false;
        }
        p += n;
    }
    if (*p == '\0') {
        *off_s = VN_OFFSET_S;
        return true;
    }
    if (strcmp(p, "Z") == 0) {
        *off_s = 0;
        return true;
    }
    if ((p[0] != '+' && p[0] != '-') || strlen(p) != 6 || !digits(p + 1, 2) || p[3] != ':' ||
        !digits(p + 4, 2) || num(p + 1, 2) > 14 || num(p + 4, 2) > 59) {
        return false;
    }
    long v = num(p + 1, 2) * 3600L + num(p + 4, 2) * 60L;
    *off_s = p[0] == '-' ? -v : v;
    return true;
}

/* Other spellings the providers use, all in Vietnam time unless said: yyyyMMddHHmmss,
 * Unix milliseconds (13 digits, UTC), dd/MM/yyyy HH:mm:ss. */
static bool time_other(const char *s, char on[11], char at[26])
{
    size_t n = strlen(s);
    time_t t;
    if (n == 14 && digits(s, 14)) {
        if (!make_time(num(s, 4), num(s + 4, 2), num(s + 6, 2), num(s + 8, 2), num(s + 10, 2),
                       num(s + 12, 2), &t)) {
            return false;
        }
        vn_strings(t - VN_OFFSET_S, true, on, at);
        return true;
    }
    if (n == 13 && digits(s, 13)) {
        long long ms = strtoll(s, NULL, 10);
        vn_strings((time_t)(ms / 1000), true, on, at);
        return true;
    }
    if (n == 19 && s[2] == '/' && s[5] == '/' && s[10] == ' ' && s[13] == ':' && s[16] == ':' &&
        digits(s, 2) && digits(s + 3, 2) && digits(s + 6, 4) && digits(s + 11, 2) &&
        digits(s + 14, 2) && digits(s + 17, 2)) {
        if (!make_time(num(s + 6, 4), num(s + 3, 2), num(s, 2), num(s + 11, 2), num(s + 14, 2),
                       num(s + 17, 2), &t)) {
            return false;
        }
        vn_strings(t - VN_OFFSET_S, true, on, at);
        return true;
    }
    return false;
}

bool ldg_time_vn(const char *s, char booked_on[11], char booked_at[26])
{
    size_t n = strlen(s);
    if (n < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2)) {
        return time_other(s, booked_on, booked_at);
    }
    time_t t;
    if (n == 10) {
        if (!make_time(num(s, 4), num(s + 5, 2), num(s + 8, 2), 0, 0, 0, &t)) {
            return false;
        }
        (void)snprintf(booked_on, 11, "%.10s", s);
        booked_at[0] = '\0';
        return true;
    }
    long off = 0;
    if (n < 19 || (s[10] != 'T' && s[10] != ' ') || !digits(s + 11, 2) || s[13] != ':' ||
        !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2) || !parse_offset(s + 19, &off)) {
        return false;
    }
    if (!make_time(num(s, 4), num(s + 5, 2), num(s + 8, 2), num(s + 11, 2), num(s + 14, 2),
                   num(s + 17, 2), &t)) {
        return false;
    }
    vn_strings(t - off, true, booked_on, booked_at);
    return true;
}

bool ldg_day_valid(const char *s)
{
    char on[11];
    char at[26];
    return strlen(s) == 10 && s[4] == '-' && ldg_time_vn(s, on, at);
}

bool ldg_amount_parse(const char *s, bool whole_only, int64_t *out)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 13) {
        return false;
    }
    if (s[n] == '.') {
        size_t f = strspn(s + n + 1, "0123456789");
        if (f == 0 || f > 5 || s[n + 1 + f] != '\0') {
            return false;
        }
        if (whole_only && strspn(s + n + 1, "0") != f) {
            return false;
        }
    } else if (s[n] != '\0') {
        return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

void ldg_ref_set(struct ldg_stmt_line *line, char *dst, const char *src, size_t len)
{
    if (len > LDG_REF_BYTES_MAX) {
        line->too_long = true;
        len = LDG_REF_BYTES_MAX;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool ref_ok(const char *s, bool allow_empty)
{
    size_t n = strlen(s);
    if (n == 0) {
        return allow_empty;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/-") == n;
}

enum gw_err ldg_stmt_line_check(const struct ldg_stmt_line *l, struct gw_errbuf *eb)
{
    if (l->too_long) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: a reference is longer than %d bytes",
                       l->line_no, LDG_REF_BYTES_MAX);
    }
    if (!ref_ok(l->merchant_ref, false)) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "line %ld: merchant reference \"%s\" is empty or not of "
                       "[A-Za-z0-9_.:/-]",
                       l->line_no, l->merchant_ref);
    }
    if (!ref_ok(l->provider_txn_id, true)) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "line %ld: provider transaction id \"%s\" is not of [A-Za-z0-9_.:/-]",
                       l->line_no, l->provider_txn_id);
    }
    if (l->amount_vnd <= 0 || l->amount_vnd > 1000000000000LL) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: amount %lld VND is not in 1..10^12",
                       l->line_no, (long long)l->amount_vnd);
    }
    if (l->fee_vnd < 0 || l->fee_vnd > l->amount_vnd) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: fee %lld VND is not in 0..amount", l->line_no,
                       (long long)l->fee_vnd);
    }
    if (strcmp(l->currency, "VND") != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: currency %s is not VND", l->line_no,
                       l->currency);
    }
    if (l->booked_on[0] == '\0') {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: no booking date", l->line_no);
    }
    return GW_OK;
}

bool ldg_read_line(FILE *f, char *buf, size_t cap, bool *too_long, long long *bytes)
{
    if (fgets(buf, (int)cap, f) == NULL) {
        return false;
    }
    size_t n = strlen(buf);
    *bytes += (long long)n;
    if (n > 0 && buf[n - 1] != '\n' && !feof(f)) {
        *too_long = true;
        return true;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}
