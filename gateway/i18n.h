/* The citizen pages' words in Vietnamese and English, and the Vietnamese ways of writing
 * money and time ("200.000 ₫", "25/11/2026 16:33"). Pure functions over constant tables;
 * thread-safe. */
#ifndef GW_GATEWAY_I18N_H
#define GW_GATEWAY_I18N_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_lang {
    GW_LANG_VI,
    GW_LANG_EN,
};

enum gw_msg {
    GW_MSG_SITE_NAME,
    GW_MSG_SITE_TAGLINE,
    GW_MSG_SWITCH_LANG, /* the name of the other language, in that language */
    GW_MSG_INDEX_INTRO,
    GW_MSG_INDEX_CITIZEN,
    GW_MSG_INDEX_PORTAL,
    GW_MSG_CHECKOUT_TITLE,
    GW_MSG_AGENCY,
    GW_MSG_PAYMENT_ID,
    GW_MSG_ORDER_REF,
    GW_MSG_FEE,
    GW_MSG_AMOUNT,
    GW_MSG_TOTAL,
    GW_MSG_PAYER,
    GW_MSG_DEADLINE,
    GW_MSG_STATUS,
    GW_MSG_CHOOSE_CHANNEL,
    GW_MSG_PAY_BUTTON,
    GW_MSG_NO_CHANNEL,
    GW_MSG_PAID,
    GW_MSG_VIEW_RECEIPT,
    GW_MSG_RECEIPT_PENDING,
    GW_MSG_NOT_PAYABLE,
    GW_MSG_EXPIRED_NOTE,
    GW_MSG_RETURN_TITLE,
    GW_MSG_CONFIRMING,
    GW_MSG_PROVIDER_DECLINED,
    GW_MSG_TRY_AGAIN,
    GW_MSG_REFRESH,
    GW_MSG_BACK_TO_PORTAL,
    GW_MSG_ERROR_TITLE,
    GW_MSG_NOT_FOUND,
    GW_MSG_NOT_PAYABLE_ERR,
    GW_MSG_CHANNEL_NOT_ALLOWED,
    GW_MSG_BAD_REQUEST,
    GW_MSG_UNAVAILABLE,
    GW_MSG_INTERNAL,
    GW_MSG_PROVIDER_ERROR,
    GW_MSG_RETURN_UNVERIFIED,
    GW_MSG_METHOD,
    GW_MSG_RECEIPT_FORMAT_LATER,
    GW_MSG_BACK_TO_PAYMENT,
    GW_MSG_COUNT,
};

/* The text of m in lang; never NULL. */
const char *gw_i18n(enum gw_lang lang, enum gw_msg m);
/* "vi" or "en". */
const char *gw_i18n_code(enum gw_lang lang);
/* The language of a code ("vi", "en"); false for anything else. */
bool gw_i18n_lang_of(const char *code, enum gw_lang *out);
/* A payment status in words ("Đã thanh toán" / "Paid"); unknown statuses come back as
 * given (never NULL: NULL gives ""). */
const char *gw_i18n_status(enum gw_lang lang, const char *status);

#define GW_FMT_VND_BYTES 40
/* Whole VND with dot thousands separators and the dong sign: "200.000 ₫", "-5 ₫". */
void gw_fmt_vnd(int64_t amount_vnd, char out[GW_FMT_VND_BYTES]);

#define GW_FMT_TIME_BYTES 24
/* Parses "YYYY-MM-DDTHH:MM:SS+07:00" (also 'Z', other ±HH:MM offsets, fractional seconds)
 * into Unix seconds; false if malformed. */
bool gw_parse_rfc3339(const char *s, int64_t *unix_s);
/* The same instant written for Vietnam, "25/11/2026 16:33" (Asia/Ho_Chi_Minh, UTC+7);
 * false if s is malformed (out is then ""). */
bool gw_fmt_time_vn(const char *s, char out[GW_FMT_TIME_BYTES]);
/* The date only, "25/11/2026"; false if malformed. */
bool gw_fmt_date_vn(const char *s, char out[GW_FMT_TIME_BYTES]);

#endif
