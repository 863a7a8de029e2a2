/* Time formats. Business time is Asia/Ho_Chi_Minh, UTC+7 with no DST, so it is computed by
 * adding 7 h to UTC: no tz database and no localtime() (banned: not thread-safe). */
#ifndef GW_COMMON_GW_TIME_H
#define GW_COMMON_GW_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gw_err.h"

#define GW_VN_UTC_OFFSET_S ((int64_t)7 * 3600)

int64_t gw_now_ms(void);       /* wall clock, Unix epoch milliseconds */
int64_t gw_monotonic_us(void); /* for durations */

/* "2026-11-25T16:33:00+07:00" into out[26]. */
void gw_time_rfc3339_vn(time_t t, char out[26]);
/* "20261125163300" (yyyyMMddHHmmss, GMT+7, as VNPAY wants) into out[15]. */
void gw_time_compact_vn(time_t t, char out[15]);
/* Parses yyyyMMddHHmmss in GMT+7; GW_ERR_INVALID if malformed or out of range. */
enum gw_err gw_time_parse_compact_vn(const char *s, time_t *out) GW_MUST_CHECK;

#endif
