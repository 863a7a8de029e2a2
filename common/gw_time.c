/* Clocks and Vietnam-time formats. Vietnam has been UTC+7 without DST since 1975, so local
 * time is UTC shifted by GW_VN_UTC_OFFSET_S: gmtime_r on t + 7 h to format, timegm - 7 h to
 * parse. Both are thread-safe and need no tz database. */
#include "gw_time.h"

#include <stdbool.h>
#include <string.h>

#include "gw_assert.h"

#include "banned.h"

int64_t gw_now_ms(void)
{
    struct timespec ts;
    GW_ASSERT(clock_gettime(CLOCK_REALTIME, &ts) == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gw_monotonic_us(void)
{
    struct timespec ts;
    GW_ASSERT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Broken-down Vietnam time of t. Years outside 0..9999 do not fit the fixed-width formats
 * and are clamped to the nearest end (no real timestamp reaches them). */
static void time_vn_tm(time_t t, struct tm *tm)
{
    static const time_t t_min = -62167219200; /* 0000-01-01T00:00:00Z */
    static const time_t t_max = 253402300799; /* 9999-12-31T23:59:59Z */
    time_t vn = t;
    if (vn < t_min + GW_VN_UTC_OFFSET_S) {
        vn = t_min;
    } else if (vn > t_max - GW_VN_UTC_OFFSET_S) {
        vn = t_max;
    } else {
        vn += GW_VN_UTC_OFFSET_S;
    }
    GW_ASSERT(gmtime_r(&vn, tm) != NULL);
}

/* Two decimal digits of v (0..99) into p. */
static void time_put2(char *p, int v)
{
    GW_DEBUG_ASSERT(v >= 0 && v <= 99);
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* yyyyMMddHHmmss of tm into out[14] (not terminated). */
static void time_put_compact(const struct tm *tm, char *out)
{
    int year = tm->tm_year + 1900;
    GW_ASSERT(year >= 0 && year <= 9999);
    time_put2(out, year / 100);
    time_put2(out + 2, year % 100);
    time_put2(out + 4, tm->tm_mon + 1);
    time_put2(out + 6, tm->tm_mday);
    time_put2(out + 8, tm->tm_hour);
    time_put2(out + 10, tm->tm_min);
    time_put2(out + 12, tm->tm_sec);
}

void gw_time_rfc3339_vn(time_t t, char out[26])
{
    struct tm tm;
    time_vn_tm(t, &tm);
    char c[14];
    time_put_compact(&tm, c);
    /* 2026-11-25T16:33:00+07:00 */
    memcpy(out, c, 4);
    out[4] = '-';
    memcpy(out + 5, c + 4, 2);
    out[7] = '-';
    memcpy(out + 8, c + 6, 2);
    out[10] = 'T';
    memcpy(out + 11, c + 8, 2);
    out[13] = ':';
    memcpy(out + 14, c + 10, 2);
    out[16] = ':';
    memcpy(out + 17, c + 12, 2);
    memcpy(out + 19, "+07:00", 7);
}

void gw_time_compact_vn(time_t t, char out[15])
{
    struct tm tm;
    time_vn_tm(t, &tm);
    time_put_compact(&tm, out);
    out[14] = '\0';
}

/* The n-digit decimal number at s, or -1 if any of the n bytes is not a digit. */
static int time_digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int time_days_in_month(int year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

enum gw_err gw_time_parse_compact_vn(const char *s, time_t *out)
{
    GW_ASSERT(out != NULL);
    if (s == NULL || strlen(s) != 14) {
        return GW_ERR_INVALID;
    }
    int year = time_digits(s, 4);
    int month = time_digits(s + 4, 2);
    int day = time_digits(s + 6, 2);
    int hour = time_digits(s + 8, 2);
    int min = time_digits(s + 10, 2);
    int sec = time_digits(s + 12, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 ||
        min > 59 || sec < 0 || sec > 59) {
        return GW_ERR_INVALID;
    }
    if (day > time_days_in_month(year, month)) {
        return GW_ERR_INVALID;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) {
        return GW_ERR_INVALID;
    }
    *out = t - GW_VN_UTC_OFFSET_S;
    return GW_OK;
}
