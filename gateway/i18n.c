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
    [GW_MSG_H_EXPIRED] = { "Đã hết hạn thanh toán: hãy tạo yêu cầu mới từ cổng dịch vụ công",
                           "This payment has expired: start a new one from the public service "
                           "portal" },
    [GW_MSG_H_CANCELLED] = { "Yêu cầu thanh toán đã bị huỷ: hãy quay lại cổng dịch vụ công",
                             "This payment was cancelled: go back to the public service "
                             "portal" },
    [GW_MSG_H_DECLINED] = { "Thanh toán chưa thành công: hãy thử lại hoặc chọn ngân hàng khác",
                            "The payment did not go through: try again or choose another "
                            "bank" },
    [GW_MSG_H_PAID] = { "Đã thanh toán", "Paid" },
    [GW_MSG_H_IN_PROGRESS] = { "Đang chờ ngân hàng xác nhận", "Waiting for the bank to confirm" },
    [GW_MSG_CANCELLED_NOTE] = { "Cơ quan hoặc cổng dịch vụ công đã huỷ yêu cầu thanh toán này. "
                                "Nếu vẫn cần nộp phí, hãy quay lại cổng dịch vụ công để nhận yêu "
                                "cầu thanh toán mới.",
                                "The agency or the public service portal cancelled this payment "
                                "request. If you still need to pay, go back to the portal for a "
                                "new payment request." },
    [GW_MSG_ATTEMPT_AT] = { "Một lần thanh toán đang được xử lý tại", "A payment attempt is in "
                                                                      "progress at" },
    [GW_MSG_ATTEMPT_AGAIN] = { "Nếu bạn thanh toán lại, một lần thanh toán mới sẽ bắt đầu. Nếu "
                               "cả hai lần đều thành công, khoản tiền thứ hai sẽ được tự động "
                               "hoàn lại.",
                               "If you pay again, a new attempt starts. If both succeed, the "
                               "second payment is refunded automatically." },
    [GW_MSG_ATTEMPT_WAIT] = { "Nếu bạn đã thanh toán xong, hãy đợi giây lát rồi tải lại trang "
                              "này.",
                              "If you have already paid, wait a moment and refresh this page." },
    [GW_MSG_DECLINED_AT] = { "Thanh toán không thành công tại", "The payment was declined at" },
    [GW_MSG_DECLINED_WHAT] = { "Khoản phí vẫn có thể thanh toán: hãy thử lại hoặc chọn ngân hàng, "
                               "ví khác bên dưới.",
                               "The fee can still be paid: try again or choose another bank or "
                               "wallet below." },
    [GW_MSG_STARTED] = { "bắt đầu lúc", "started" },
    [GW_MSG_ERROR_SUMMARY] = { "Có lỗi cần sửa", "There is a problem" },
    [GW_MSG_ERROR_PREFIX] = { "Lỗi:", "Error:" },
    [GW_MSG_ERR_CHOOSE_CHANNEL] = { "Hãy chọn một phương thức thanh toán", "Choose how to pay" },
    [GW_MSG_VIETNAM_TIME] = { "giờ Việt Nam", "Vietnam time" },
    [GW_MSG_NOT_FOUND_PAGE] = { "Không tìm thấy trang", "Page not found" },
    [GW_MSG_NOT_FOUND_HINT] = { "Nếu bạn gõ địa chỉ, hãy kiểm tra lại. Nếu bạn đến từ cổng dịch "
                                "vụ công, hãy quay lại đó và bấm lại đường dẫn thanh toán.",
                                "If you typed the address, check it is correct. If you came from "
                                "a public service portal, go back there and follow its payment "
                                "link again." },
    [GW_MSG_TOO_MANY_TITLE] = { "Quá nhiều yêu cầu", "Too many requests" },
    [GW_MSG_TOO_MANY] = { "Có quá nhiều yêu cầu từ địa chỉ mạng của bạn. Vui lòng đợi một phút "
                          "rồi thử lại.",
                          "There have been too many requests from your network address. Please "
                          "wait a minute and try again." },
    [GW_MSG_GO_HOME] = { "Về trang chủ", "Go to the home page" },
    [GW_MSG_INDEX_VERIFY] = { "Xác minh một biên lai", "Verify a receipt" },
    [GW_MSG_V_TITLE] = { "Xác minh biên lai", "Verify a receipt" },
    [GW_MSG_V_INTRO] = { "Nhập mã tra cứu in trên biên lai, hoặc tải lên tệp XML của biên lai, "
                         "để kiểm tra biên lai do cổng này phát hành.",
                         "Enter the lookup code printed on the receipt, or upload the receipt's "
                         "XML file, to check a receipt issued by this service." },
    [GW_MSG_V_CODE_LABEL] = { "Mã tra cứu", "Lookup code" },
    [GW_MSG_V_CODE_HINT] = { "12 chữ và số, in trên biên lai và trong mã QR, ví dụ "
                             "7KQ2-M9XD-4HBT",
                             "12 letters and digits, printed on the receipt and in its QR code, "
                             "such as 7KQ2-M9XD-4HBT" },
    [GW_MSG_V_LOOKUP] = { "Tra cứu", "Look up" },
    [GW_MSG_V_FILE_LABEL] = { "Tệp XML của biên lai", "The receipt's XML file" },
    [GW_MSG_V_FILE_HINT] = { "Tệp .xml tải về từ trang biên lai", "The .xml file downloaded "
                                                                  "from the receipt's page" },
    [GW_MSG_V_CHECK_FILE] = { "Kiểm tra tệp", "Check the file" },
    [GW_MSG_V_ERR_CODE_EMPTY] = { "Hãy nhập mã tra cứu in trên biên lai",
                                  "Enter the lookup code printed on the receipt" },
    [GW_MSG_V_ERR_CODE_SHAPE] = { "Mã tra cứu gồm 12 chữ và số, như in trên biên lai, ví dụ "
                                  "7KQ2-M9XD-4HBT",
                                  "Enter the lookup code as printed on the receipt: 12 letters "
                                  "and digits, such as 7KQ2-M9XD-4HBT" },
    [GW_MSG_V_ERR_FILE_EMPTY] = { "Hãy chọn tệp XML của biên lai", "Choose the receipt's XML "
                                                                   "file" },
    [GW_MSG_V_ERR_NOT_RECEIPT] = { "Tệp đã chọn không phải là tệp XML của biên lai",
                                   "The file you chose is not a receipt's XML file" },
    [GW_MSG_V_NOT_FOUND] = { "Không tìm thấy biên lai có mã này", "No receipt has this code" },
    [GW_MSG_V_NOT_FOUND_HINT] = { "Hãy kiểm tra lại mã tra cứu in trên biên lai.",
                                  "Check the lookup code printed on the receipt." },
    [GW_MSG_V_FOUND] = { "Biên lai có trong hệ thống", "This receipt is in our records" },
    [GW_MSG_V_NUMBER_EXISTS] = { "Có biên lai mang ký hiệu và số này", "A receipt with this "
                                                                       "series and number "
                                                                       "exists" },
    [GW_MSG_V_NUMBER_HINT] = { "Số biên lai chỉ cho biết biên lai có tồn tại. Để xem nội dung, "
                               "hãy nhập mã tra cứu in trên biên lai hoặc tải lên tệp XML của "
                               "biên lai.",
                               "A receipt number only shows that the receipt exists. To see what "
                               "it says, enter the lookup code printed on it or upload its XML "
                               "file." },
    [GW_MSG_V_VALID] = { "Biên lai hợp lệ: chữ ký số và nội dung khớp",
                         "Valid receipt: the digital signature and the content match" },
    [GW_MSG_V_INVALID] = { "Biên lai không hợp lệ", "This receipt is not valid" },
    [GW_MSG_V_WHY_NOT_SIGNED] = { "Tệp không có chữ ký số của cơ quan thu.",
                                  "The file does not carry the collecting agency's digital "
                                  "signature." },
    [GW_MSG_V_WHY_UNTRUSTED] = { "Chữ ký số không do cơ quan được cổng này tin cậy tạo ra.",
                                 "The digital signature was not made by an agency this service "
                                 "trusts." },
    [GW_MSG_V_WHY_ALTERED] = { "Nội dung tệp đã bị thay đổi sau khi được ký số.",
                               "The file was changed after it was signed." },
    [GW_MSG_V_WHY_INCONSISTENT] = { "Số tiền trên biên lai không khớp với các khoản phí.",
                                    "The amounts on the receipt do not add up." },
    [GW_MSG_V_NOT_IN_RECORDS] = { "Chữ ký hợp lệ nhưng biên lai này không có trong hệ thống.",
                                  "The signature is valid, but this receipt is not in our "
                                  "records." },
    [GW_MSG_V_SIGNED_BY] = { "Ký số bởi", "Signed by" },
    [GW_MSG_V_NOT_SIGNED_YET] = { "Biên lai đang được ký số.", "The receipt is being signed." },
    [GW_MSG_V_UNSIGNED] = { "Biên lai này được phát hành không có chữ ký số (chưa cấu hình chứng "
                            "thư số).",
                            "This receipt was issued without a digital signature (no signing "
                            "certificate is configured)." },
    [GW_MSG_V_TECHNICAL] = { "Thông tin kỹ thuật", "Technical details" },
    [GW_MSG_V_SUBJECT] = { "Chứng thư số (X.509)", "Certificate subject (X.509)" },
    [GW_MSG_V_CERT_SHA256] = { "SHA-256 của chứng thư số", "Certificate SHA-256" },
    [GW_MSG_V_DOC_SHA256] = { "SHA-256 của tệp XML đã phát hành", "SHA-256 of the issued XML" },
    [GW_MSG_V_COLLECTOR] = { "Đơn vị thu", "Collected by" },
    [GW_MSG_V_SERIES_NUMBER] = { "Ký hiệu, số", "Series and number" },
    [GW_MSG_V_ISSUED] = { "Ngày lập", "Issued on" },
    [GW_MSG_V_PAYER_ID] = { "Số giấy tờ tùy thân", "ID number" },
    [GW_MSG_V_PAID_THROUGH] = { "Hình thức thanh toán", "Paid through" },
    [GW_MSG_V_MARK_CANCELLED] = { "Biên lai này đã bị huỷ", "This receipt was cancelled" },
    [GW_MSG_V_MARK_REPLACED] = { "Biên lai này đã được thay thế", "This receipt was replaced" },
    [GW_MSG_V_MARK_ADJUSTED] = { "Biên lai này đã được điều chỉnh", "This receipt was adjusted" },
    [GW_MSG_LANG_NOT_OFFERED] = { "Trang này chỉ có bằng tiếng Việt (lang=vi) và tiếng Anh "
                                  "(lang=en).",
                                  "This page is offered in Vietnamese (lang=vi) and English "
                                  "(lang=en) only." },
    [GW_MSG_SERVER_ERROR_TITLE] = { "Đã có lỗi xảy ra", "Something went wrong" },
};

static const struct {
    const char *status;
    const char *words[2];
} i18n_statuses[] = {
    { "created", { "Chờ thanh toán", "Awaiting payment" } },
    /* checkout begun: an attempt may be in progress, or declined (the fee can still be paid) */
    { "pending", { "Chưa hoàn tất thanh toán", "Not paid yet" } },
    { "succeeded", { "Đã thanh toán", "Paid" } },
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

static const char *const i18n_months_en[12] = { "January",   "February", "March",    "April",
                                                "May",       "June",     "July",     "August",
                                                "September", "October",  "November", "December" };

/* "16:33 ngày 25/11/2026" or "4:33pm on 25 November 2026" (the GOV.UK way: 12-hour clock,
 * "12pm" is midday, "12am" midnight); dates alone: "25/11/2026", "25 November 2026". */
bool gw_fmt_when(enum gw_lang lang, const char *s, bool with_time, char out[GW_FMT_WHEN_BYTES])
{
    char vn[GW_FMT_TIME_BYTES];
    out[0] = '\0';
    if (!gw_fmt_time_vn(s, vn)) {
        return false;
    }
    /* vn is "dd/mm/yyyy HH:MM" */
    int d = 0;
    int m = 0;
    int y = 0;
    int h = 0;
    int mi = 0;
    if (!i18n_digits(vn, 2, &d) || !i18n_digits(vn + 3, 2, &m) || !i18n_digits(vn + 6, 4, &y) ||
        !i18n_digits(vn + 11, 2, &h) || !i18n_digits(vn + 14, 2, &mi) || m < 1 || m > 12) {
        return false;
    }
    if (lang == GW_LANG_VI) {
        if (with_time) {
            (void)snprintf(out, GW_FMT_WHEN_BYTES, "%02d:%02d ngày %02d/%02d/%04d", h, mi, d, m, y);
        } else {
            (void)snprintf(out, GW_FMT_WHEN_BYTES, "%02d/%02d/%04d", d, m, y);
        }
        return true;
    }
    if (!with_time) {
        (void)snprintf(out, GW_FMT_WHEN_BYTES, "%d %s %04d", d, i18n_months_en[m - 1], y);
        return true;
    }
    int h12 = h % 12 == 0 ? 12 : h % 12;
    (void)snprintf(out, GW_FMT_WHEN_BYTES, "%d:%02d%s on %d %s %04d", h12, mi, h < 12 ? "am" : "pm",
                   d, i18n_months_en[m - 1], y);
    return true;
}
