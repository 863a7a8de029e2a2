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
    /* the state of a payment, as the heading says it (what happened, what to do) */
    GW_MSG_H_EXPIRED,
    GW_MSG_H_CANCELLED,
    GW_MSG_H_DECLINED,
    GW_MSG_H_PAID,
    GW_MSG_H_IN_PROGRESS,
    GW_MSG_CANCELLED_NOTE,
    GW_MSG_ATTEMPT_AT,    /* "An attempt is in progress at" + bank */
    GW_MSG_ATTEMPT_AGAIN, /* paying again starts a new attempt; second refunded */
    GW_MSG_ATTEMPT_WAIT,  /* if you already paid, wait and refresh */
    GW_MSG_DECLINED_AT,   /* "The payment was declined at" + bank */
    GW_MSG_DECLINED_WHAT, /* try again or choose another bank */
    GW_MSG_STARTED,       /* "started" + time */
    /* the GOV.UK error summary */
    GW_MSG_ERROR_SUMMARY,
    GW_MSG_ERROR_PREFIX,
    GW_MSG_ERR_CHOOSE_CHANNEL,
    GW_MSG_VIETNAM_TIME,
    GW_MSG_NOT_FOUND_PAGE,
    GW_MSG_NOT_FOUND_HINT,
    GW_MSG_TOO_MANY,
    GW_MSG_TOO_MANY_TITLE,
    GW_MSG_GO_HOME,
    GW_MSG_INDEX_VERIFY,
    /* the verification page */
    GW_MSG_V_TITLE,
    GW_MSG_V_INTRO,
    GW_MSG_V_CODE_LABEL,
    GW_MSG_V_CODE_HINT,
    GW_MSG_V_LOOKUP,
    GW_MSG_V_FILE_LABEL,
    GW_MSG_V_FILE_HINT,
    GW_MSG_V_CHECK_FILE,
    GW_MSG_V_ERR_CODE_EMPTY,
    GW_MSG_V_ERR_CODE_SHAPE,
    GW_MSG_V_ERR_FILE_EMPTY,
    GW_MSG_V_ERR_NOT_RECEIPT,
    GW_MSG_V_NOT_FOUND,
    GW_MSG_V_NOT_FOUND_HINT,
    GW_MSG_V_FOUND,
    GW_MSG_V_NUMBER_EXISTS,
    GW_MSG_V_NUMBER_HINT,
    GW_MSG_V_VALID,
    GW_MSG_V_INVALID,
    GW_MSG_V_WHY_NOT_SIGNED,
    GW_MSG_V_WHY_UNTRUSTED,
    GW_MSG_V_WHY_ALTERED,
    GW_MSG_V_WHY_INCONSISTENT,
    GW_MSG_V_NOT_IN_RECORDS,
    GW_MSG_V_SIGNED_BY,
    GW_MSG_V_NOT_SIGNED_YET,
    GW_MSG_V_UNSIGNED,
    GW_MSG_V_TECHNICAL,
    GW_MSG_V_SUBJECT,
    GW_MSG_V_CERT_SHA256,
    GW_MSG_V_DOC_SHA256,
    GW_MSG_V_COLLECTOR,
    GW_MSG_V_SERIES_NUMBER,
    GW_MSG_V_ISSUED,
    GW_MSG_V_PAYER_ID,
    GW_MSG_V_PAID_THROUGH,
    GW_MSG_V_MARK_CANCELLED,
    GW_MSG_V_MARK_REPLACED,
    GW_MSG_V_MARK_ADJUSTED,
    GW_MSG_LANG_NOT_OFFERED,
    GW_MSG_SERVER_ERROR_TITLE,
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

#define GW_FMT_WHEN_BYTES 64
/* An instant as people write it, in Vietnam time: "16:33 ngày 25/11/2026" in Vietnamese,
 * "4:33pm on 25 November 2026" in English; with_time false: the date alone ("25/11/2026",
 * "25 November 2026"). False if s is malformed (out is then ""). */
bool gw_fmt_when(enum gw_lang lang, const char *s, bool with_time, char out[GW_FMT_WHEN_BYTES]);

#endif
