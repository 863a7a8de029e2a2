/* The citizen pages' string table (Vietnamese first, English second) and the Vietnamese
 * formats of money and time. No locale functions: setlocale is process-global and the
 * loops are threads, so the separators are written by hand. */
#include "i18n.h"

#include <stdio.h>
#include <string.h>

#include "gw_time.h"

#include "banned.h"

static const char *const i18n_table[GW_MSG_COUNT][2] = {
    [GW_MSG_SITE_NAME] = { "Cổng thanh toán phí, lệ phí", "Public fee payments" },
    [GW_MSG_SITE_TAGLINE] = { "Thanh toán trực tuyến phí, lệ phí dịch vụ công",
                              "Online payment of public service fees and charges" },
    [GW_MSG_SWITCH_LANG] = { "English", "Tiếng Việt" },
    [GW_MSG_INDEX_INTRO] = { "Đây là cổng thanh toán trực tuyến phí, lệ phí của dịch vụ công.",
                             "This is the online payment switch for public service fees and "
                             "charges." },
    [GW_MSG_INDEX_CITIZEN] = { "Người nộp phí: hãy bắt đầu từ cổng dịch vụ công nơi bạn nộp hồ "
                               "sơ; cổng sẽ chuyển bạn đến trang thanh toán của khoản phí "
                               "(địa chỉ dạng /pay/…).",
                               "Citizens: start from the public service portal where you filed "
                               "your application; it sends you to the payment page of your fee "
                               "(an address like /pay/…)." },
    [GW_MSG_INDEX_PORTAL] = { "Cổng dịch vụ công kết nối qua API v1 (JSON hoặc protobuf, có chữ "
                              "ký HMAC). Tài liệu:",
                              "Portals connect through API v1 (JSON or protobuf, signed with "
                              "HMAC). Documentation:" },
    [GW_MSG_CHECKOUT_TITLE] = { "Thanh toán phí, lệ phí", "Pay a public fee" },
    [GW_MSG_AGENCY] = { "Cơ quan thu", "Collecting agency" },
    [GW_MSG_PAYMENT_ID] = { "Mã thanh toán", "Payment reference" },
    [GW_MSG_ORDER_REF] = { "Mã hồ sơ", "Application reference" },
    [GW_MSG_FEE] = { "Khoản phí, lệ phí", "Fee" },
    [GW_MSG_AMOUNT] = { "Số tiền", "Amount" },
    [GW_MSG_TOTAL] = { "Tổng cộng", "Total" },
    [GW_MSG_PAYER] = { "Người nộp", "Payer" },
    [GW_MSG_DEADLINE] = { "Hạn thanh toán", "Pay before" },
    [GW_MSG_STATUS] = { "Trạng thái", "Status" },
    [GW_MSG_CHOOSE_CHANNEL] = { "Chọn phương thức thanh toán", "Choose how to pay" },
    [GW_MSG_PAY_BUTTON] = { "Thanh toán", "Pay" },
    [GW_MSG_NO_CHANNEL] = { "Hiện chưa có phương thức thanh toán nào khả dụng. Vui lòng thử lại "
                            "sau.",
                            "No payment method is available at the moment. Please try again "
                            "later." },
    [GW_MSG_PAID] = { "Khoản phí này đã được thanh toán.", "This fee has been paid." },
    [GW_MSG_VIEW_RECEIPT] = { "Xem biên lai", "View the receipt" },
    [GW_MSG_RECEIPT_PENDING] = { "Biên lai đang được lập.", "The receipt is being issued." },
    [GW_MSG_NOT_PAYABLE] = { "Khoản phí này không thể thanh toán được nữa.",
                             "This fee can no longer be paid." },
    [GW_MSG_EXPIRED_NOTE] = { "Đã quá hạn thanh toán. Vui lòng quay lại cổng dịch vụ công để tạo "
                              "yêu cầu thanh toán mới.",
                              "The deadline has passed. Please go back to the public service "
                              "portal to start a new payment." },
    [GW_MSG_RETURN_TITLE] = { "Kết quả thanh toán", "Payment result" },
    [GW_MSG_CONFIRMING] = { "Chúng tôi đang chờ ngân hàng hoặc ví điện tử xác nhận kết quả. Vui "
                            "lòng đợi giây lát rồi tải lại trang này; không thanh toán lại.",
                            "We are waiting for the bank or wallet to confirm the result. "
                            "Please wait a moment and refresh this page; do not pay again." },
    [GW_MSG_PROVIDER_DECLINED] = { "Ngân hàng hoặc ví điện tử báo giao dịch chưa hoàn tất.",
                                   "The bank or wallet reports that the payment was not "
                                   "completed." },
    [GW_MSG_TRY_AGAIN] = { "Thử lại", "Try again" },
    [GW_MSG_REFRESH] = { "Tải lại trang", "Refresh" },
    [GW_MSG_BACK_TO_PORTAL] = { "Quay lại cổng dịch vụ công", "Back to the public service portal" },
    [GW_MSG_ERROR_TITLE] = { "Không thể thực hiện yêu cầu", "The request could not be completed" },
    [GW_MSG_NOT_FOUND] = { "Không tìm thấy trang hoặc khoản thanh toán này.",
                           "This page or payment does not exist." },
    [GW_MSG_NOT_PAYABLE_ERR] = { "Khoản phí này không còn ở trạng thái có thể thanh toán.",
                                 "This fee is no longer in a state that can be paid." },
    [GW_MSG_CHANNEL_NOT_ALLOWED] = { "Phương thức thanh toán đã chọn không dùng được cho khoản "
                                     "phí này.",
                                     "The chosen payment method cannot be used for this fee." },
    [GW_MSG_BAD_REQUEST] = { "Yêu cầu không hợp lệ.", "The request is not valid." },
    [GW_MSG_UNAVAILABLE] = { "Hệ thống đang bận hoặc tạm thời gián đoạn. Vui lòng thử lại sau ít "
                             "phút.",
                             "The service is busy or temporarily unavailable. Please try again "
                             "in a few minutes." },
    [GW_MSG_INTERNAL] = { "Đã có lỗi xảy ra. Vui lòng thử lại sau.",
                          "Something went wrong. Please try again later." },
    [GW_MSG_PROVIDER_ERROR] = { "Không thể bắt đầu thanh toán với phương thức đã chọn. Vui lòng "
                                "thử lại hoặc chọn phương thức khác.",
                                "Could not start the payment with the chosen method. Please try "
                                "again or choose another one." },
    [GW_MSG_RETURN_UNVERIFIED] = { "Không xác thực được thông tin do ngân hàng hoặc ví điện tử "
                                   "gửi về. Trạng thái khoản thanh toán không thay đổi.",
                                   "The information sent back by the bank or wallet could not "
                                   "be verified. The payment's status is unchanged." },
    [GW_MSG_METHOD] = { "Địa chỉ này không hỗ trợ phương thức HTTP đã dùng.",
                        "This address does not support the HTTP method used." },
    [GW_MSG_RECEIPT_FORMAT_LATER] = { "Biên lai dạng PDF và XML chưa được cung cấp. Vui lòng "
                                      "xem biên lai dạng trang web.",
                                      "PDF and XML receipts are not available yet. Please use "
                                      "the web page of the receipt." },
    [GW_MSG_BACK_TO_PAYMENT] = { "Quay lại trang thanh toán", "Back to the payment page" },
};

static const struct {
    const char *status;
    const char *words[2];
} i18n_statuses[] = {
    { "created", { "Chờ thanh toán", "Awaiting payment" } },
    { "pending", { "Đang xử lý thanh toán", "Payment in progress" } },
    { "succeeded", { "Đã thanh toán", "Paid" } },
    { "failed", { "Thanh toán không thành công", "Payment failed" } },
    { "expired", { "Đã hết hạn thanh toán", "Expired" } },
    { "cancelled", { "Đã huỷ", "Cancelled" } },
    { "partially_refunded", { "Đã thanh toán, hoàn tiền một phần", "Paid, partially refunded" } },
    { "refunded", { "Đã hoàn tiền", "Refunded" } },
};

const char *gw_i18n(enum gw_lang lang, enum gw_msg m)
{
    if ((unsigned)m >= GW_MSG_COUNT) {
        return "";
    }
    size_t i = lang == GW_LANG_EN ? 1 : 0;
    const char *s = i18n_table[m][i];
    if (s == NULL) {
        s = i18n_table[m][0]; /* a missing translation falls back to Vietnamese */
    }
    return s != NULL ? s : "";
}

const char *gw_i18n_code(enum gw_lang lang)
{
    return lang == GW_LANG_EN ? "en" : "vi";
}

bool gw_i18n_lang_of(const char *code, enum gw_lang *out)
{
    if (code == NULL) {
        return false;
    }
    if (strcmp(code, "vi") == 0) {
        *out = GW_LANG_VI;
        return true;
    }
    if (strcmp(code, "en") == 0) {
        *out = GW_LANG_EN;
        return true;
    }
    return false;
}

const char *gw_i18n_status(enum gw_lang lang, const char *status)
{
    if (status == NULL) {
        return "";
    }
    for (size_t i = 0; i < sizeof(i18n_statuses) / sizeof(i18n_statuses[0]); i++) {
        if (strcmp(i18n_statuses[i].status, status) == 0) {
            return i18n_statuses[i].words[lang == GW_LANG_EN ? 1 : 0];
        }
    }
    return status;
}

void gw_fmt_vnd(int64_t amount_vnd, char out[GW_FMT_VND_BYTES])
{
    /* The magnitude as unsigned, so INT64_MIN is written correctly too. */
    uint64_t mag = amount_vnd < 0 ? 0 - (uint64_t)amount_vnd : (uint64_t)amount_vnd;
    char rev[32];
    size_t n = 0;
    int digits = 0;
    do {
        if (digits > 0 && digits % 3 == 0) {
            rev[n++] = '.';
        }
        rev[n++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
        digits++;
    } while (mag > 0);
    size_t k = 0;
    if (amount_vnd < 0) {
        out[k++] = '-';
    }
    while (n > 0) {
        out[k++] = rev[--n];
    }
    const char *dong = " \xe2\x82\xab"; /* U+20AB DONG SIGN after a space, as in Vietnam */
    memcpy(out + k, dong, strlen(dong) + 1);
}

/* Reads exactly n decimal digits. */
static bool i18n_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t i18n_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void i18n_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

/* The offset after the seconds: "Z", "+07:00", "-05:30", after optional ".digits". */
static bool i18n_offset(const char *p, int64_t *offset_s)
{
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return false;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *offset_s = 0;
        return true;
    }
    int oh = 0;
    int om = 0;
    if ((*p != '+' && *p != '-') || !i18n_digits(p + 1, 2, &oh) || p[3] != ':' ||
        !i18n_digits(p + 4, 2, &om) || p[6] != '\0' || oh > 23 || om > 59) {
        return false;
    }
    *offset_s = (*p == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
    return true;
}

bool gw_parse_rfc3339(const char *s, int64_t *unix_s)
{
    int y = 0;
    int mo = 0;
    int d = 0;
    int h = 0;
    int mi = 0;
    int se = 0;
    if (s == NULL || strlen(s) < 20) {
        return false;
    }
    if (!i18n_digits(s, 4, &y) || s[4] != '-' || !i18n_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !i18n_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !i18n_digits(s + 11, 2, &h) || s[13] != ':' || !i18n_digits(s + 14, 2, &mi) ||
        s[16] != ':' || !i18n_digits(s + 17, 2, &se)) {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        return false;
    }
    int64_t offset_s = 0;
    if (!i18n_offset(s + 19, &offset_s)) {
        return false;
    }
    int64_t days = i18n_days_from_civil(y, mo, d);
    *unix_s = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se - offset_s;
    return true;
}

static bool i18n_fmt_vn(const char *s, char out[GW_FMT_TIME_BYTES], bool with_time)
{
    out[0] = '\0';
    int64_t t = 0;
    if (!gw_parse_rfc3339(s, &t)) {
        return false;
    }
    int64_t local = t + GW_VN_UTC_OFFSET_S;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400;
    int y = 0;
    int m = 0;
    int d = 0;
    i18n_civil_from_days(days, &y, &m, &d);
    if (with_time) {
        (void)snprintf(out, GW_FMT_TIME_BYTES, "%02d/%02d/%04d %02d:%02d", d, m, y,
                       (int)(secs / 3600), (int)(secs % 3600 / 60));
    } else {
        (void)snprintf(out, GW_FMT_TIME_BYTES, "%02d/%02d/%04d", d, m, y);
    }
    return true;
}

bool gw_fmt_time_vn(const char *s, char out[GW_FMT_TIME_BYTES])
{
    return i18n_fmt_vn(s, out, true);
}

bool gw_fmt_date_vn(const char *s, char out[GW_FMT_TIME_BYTES])
{
    return i18n_fmt_vn(s, out, false);
}
