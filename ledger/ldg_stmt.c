/* Statement parsing shared by every format: the CSV family (the canonical file and the
 * providers' own exports, each described by a table of header names and values), dates in
 * Vietnam time, amounts, and the rules a line must meet before import. Streaming: one line
 * in memory at a time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gw_assert.h"
#include "ldg_recon.h"
#include "ldg_stmt_int.h"

#include "banned.h"

#define VN_OFFSET_S    ((int64_t)7 * 3600)
#define CSV_FIELDS_MAX 64

enum csv_field {
    F_TXN,
    F_REF,
    F_KIND,
    F_AMOUNT,
    F_FEE,
    F_STATUS,
    F_BOOKED,
    F_CCY,
    F_N
};

/* A CSV dialect: the header names of each field (NULL: the file has no such column), the
 * values meaning succeeded (the first five, case-insensitive; with strict_status any other
 * value than those and fail is an error, otherwise it means failed), the kind values of a
 * refund, the column a refund names its payment in (if not the reference column), and the
 * factor amounts are written in (VNPAY writes VND x 100). */
struct csv_format {
    char sep;
    bool strict_status;
    const char *col[F_N];
    const char *ok[5];
    const char *fail[5];
    const char *refund[3];
    const char *refund_ref_col;
    int64_t amount_factor;
};

/* docs/reconciliation.md, "Canonical CSV". */
static const struct csv_format csv_canonical = {
    .sep = ',',
    .strict_status = true,
    .col = { "provider_txn_id", "merchant_ref", "kind", "amount_vnd", "fee_vnd", "status",
             "booked_at", "currency" },
    .ok = { "succeeded" },
    .fail = { "failed" },
    .refund = { "refund" },
    .amount_factor = 1,
};

/* The simulators' daily files (adapters/banksim/bs_statement.c, sim_vnpay.c, sim_momo.c):
 * VNPAY's amounts are x 100, its refund rows carry the paid vnp_TxnRef; MoMo's refund rows
 * name the paid order in originalOrderId. */
static const struct csv_format csv_vnpay = {
    .sep = ',',
    .col = { "vnp_TransactionNo", "vnp_TxnRef", "vnp_TransactionType", "vnp_Amount",
             "vnp_FeeAmount", "vnp_TransactionStatus", "vnp_PayDate", NULL },
    .ok = { "00" },
    .refund = { "02", "03" },
    .amount_factor = 100,
};

static const struct csv_format csv_momo = {
    .sep = ',',
    .col = { "transId", "orderId", "type", "amount", "fee", "resultCode", "time", NULL },
    .ok = { "0" },
    .refund = { "refund" },
    .refund_ref_col = "originalOrderId",
    .amount_factor = 1,
};

bool ldg_stmt_format_parse(const char *name, enum ldg_stmt_format *out)
{
    static const char *const names[] = { "canonical", "vnpay", "momo", "zalopay", "camt053" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum ldg_stmt_format)i;
            return true;
        }
    }
    return false;
}

const char *ldg_stmt_format_name(enum ldg_stmt_format f)
{
    static const char *const names[] = { "canonical", "vnpay", "momo", "zalopay", "camt053" };
    GW_ASSERT((size_t)f < sizeof(names) / sizeof(names[0]));
    return names[f];
}

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

/* ---- the CSV family ---- */

struct csv_state {
    const struct csv_format *fmt;
    int col_of[F_N]; /* column index of each field, -1 if absent */
    int refund_ref;  /* column of the refunded payment's reference, -1 if none */
    int n_cols;
    char *field[CSV_FIELDS_MAX];
};

/* Splits line (modified in place) at sep with RFC 4180 double quotes. Returns the number
 * of fields, or -1 on a bad quote or too many fields. */
static int csv_split(char *line, char sep, char **field)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == CSV_FIELDS_MAX) {
            return -1;
        }
        if (*p == '"') {
            char *w = ++p;
            field[n++] = w;
            for (;;) {
                if (*p == '\0') {
                    return -1;
                }
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            *w = '\0';
            if (*p != sep && *p != '\0') {
                return -1;
            }
        } else {
            field[n++] = p;
            p += strcspn(p, (char[]){ sep, '\0' });
        }
        if (*p == '\0') {
            return n;
        }
        *p++ = '\0';
    }
}

static bool one_of(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n && list[i] != NULL; i++) {
        if (strcasecmp(v, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static enum gw_err csv_header(struct csv_state *st, char *line, struct gw_errbuf *eb)
{
    st->n_cols = csv_split(line, st->fmt->sep, st->field);
    if (st->n_cols < 0) {
        return gw_fail(eb, GW_ERR_INVALID, "line 1: malformed header");
    }
    for (int f = 0; f < F_N; f++) {
        st->col_of[f] = -1;
        if (st->fmt->col[f] == NULL) {
            continue;
        }
        for (int c = 0; c < st->n_cols; c++) {
            if (strcmp(st->field[c], st->fmt->col[f]) == 0) {
                st->col_of[f] = c;
            }
        }
        bool optional = f == F_KIND || f == F_FEE || f == F_CCY;
        if (st->col_of[f] < 0 && !optional) {
            return gw_fail(eb, GW_ERR_INVALID, "line 1: header has no column \"%s\"",
                           st->fmt->col[f]);
        }
    }
    st->refund_ref = -1;
    for (int c = 0; c < st->n_cols && st->fmt->refund_ref_col != NULL; c++) {
        if (strcmp(st->field[c], st->fmt->refund_ref_col) == 0) {
            st->refund_ref = c;
        }
    }
    return GW_OK;
}

static const char *csv_get(const struct csv_state *st, enum csv_field f)
{
    return st->col_of[f] >= 0 ? st->field[st->col_of[f]] : NULL;
}

static enum gw_err csv_row(struct csv_state *st, char *text, long line_no, struct ldg_stmt_line *l,
                           struct gw_errbuf *eb)
{
    int n = csv_split(text, st->fmt->sep, st->field);
    if (n != st->n_cols) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: %d fields, the header has %d", line_no,
                       n < 0 ? 0 : n, st->n_cols);
    }
    memset(l, 0, sizeof(*l));
    l->line_no = line_no;
    const char *txn = csv_get(st, F_TXN);
    const char *ref = csv_get(st, F_REF);
    const char *kind = csv_get(st, F_KIND);
    l->payment = kind == NULL || !one_of(kind, st->fmt->refund, 3);
    if (!l->payment && st->refund_ref >= 0 && st->field[st->refund_ref][0] != '\0') {
        ref = st->field[st->refund_ref];
    }
    ldg_ref_set(l, l->provider_txn_id, txn, strlen(txn));
    ldg_ref_set(l, l->merchant_ref, ref, strlen(ref));
    if (kind != NULL && st->fmt == &csv_canonical && strcmp(kind, "payment") != 0 &&
        strcmp(kind, "refund") != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: kind \"%s\" is not payment or refund",
                       line_no, kind);
    }
    const char *status = csv_get(st, F_STATUS);
    l->succeeded = one_of(status, st->fmt->ok, 5);
    if (!l->succeeded && st->fmt->strict_status && !one_of(status, st->fmt->fail, 5)) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: unknown status \"%s\"", line_no, status);
    }
    const char *amt = csv_get(st, F_AMOUNT);
    const char *fee = csv_get(st, F_FEE);
    if (!ldg_amount_parse(amt, true, &l->amount_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: amount \"%s\" is not a whole number of VND",
                       line_no, amt);
    }
    if (fee != NULL && fee[0] != '\0' && !ldg_amount_parse(fee, true, &l->fee_vnd)) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: fee \"%s\" is not a whole number of VND",
                       line_no, fee);
    }
    int64_t k = st->fmt->amount_factor;
    if (l->amount_vnd % k != 0 || l->fee_vnd % k != 0) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: amount or fee is not a multiple of %lld",
                       line_no, (long long)k);
    }
    l->amount_vnd /= k;
    l->fee_vnd /= k;
    const char *booked = csv_get(st, F_BOOKED);
    if (!ldg_time_vn(booked, l->booked_on, l->booked_at)) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: \"%s\" is not a date or date-time", line_no,
                       booked);
    }
    const char *ccy = csv_get(st, F_CCY);
    (void)snprintf(l->currency, sizeof(l->currency), "%s", ccy != NULL ? ccy : "VND");
    return GW_OK;
}

static const struct csv_format *csv_format_of(enum ldg_stmt_format f)
{
    switch (f) {
    case LDG_STMT_VNPAY:
        return &csv_vnpay;
    case LDG_STMT_MOMO:
        return &csv_momo;
    default:
        return &csv_canonical;
    }
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

static enum gw_err csv_lines(FILE *f, struct csv_state *st, char *buf, size_t buf_size,
                             ldg_stmt_line_fn *fn, void *arg, struct ldg_stmt_info *info,
                             struct gw_errbuf *eb)
{
    long line_no = 1;
    bool too_long = false;
    struct ldg_stmt_line l;
    while (ldg_read_line(f, buf, buf_size, &too_long, &info->bytes_read)) {
        line_no++;
        if (too_long) {
            return gw_fail(eb, GW_ERR_INVALID, "line %ld: longer than %d bytes", line_no,
                           LDG_LINE_BYTES_MAX);
        }
        if (buf[0] == '\0' || buf[0] == '#') {
            continue;
        }
        enum gw_err err = csv_row(st, buf, line_no, &l, eb);
        if (err == GW_OK && st->fmt == &csv_canonical && strcmp(l.currency, "VND") != 0) {
            err = gw_fail(eb, GW_ERR_INVALID, "line %ld: currency %s: feegate books VND only",
                          line_no, l.currency);
        }
        if (err == GW_OK) {
            err = fn(arg, &l, info, eb);
        }
        if (err != GW_OK) {
            return err;
        }
        info->lines++;
    }
    if (ferror(f)) {
        return gw_fail(eb, GW_ERR_IO, "could not read line %ld: %s", line_no + 1,
                       GW_STRERROR(errno));
    }
    return GW_OK;
}

/* The lines after the header. st's fields point into the line buffer, which is ours: they
 * are cleared before returning, so nothing outlives it. */
static enum gw_err csv_body(FILE *f, struct csv_state *st, ldg_stmt_line_fn *fn, void *arg,
                            struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    char buf[LDG_LINE_BYTES_MAX + 2];
    enum gw_err err = csv_lines(f, st, buf, sizeof(buf), fn, arg, info, eb);
    memset(st->field, 0, sizeof(st->field));
    return err;
}

enum gw_err ldg_csv_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                          void *arg, struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\": %s", path, GW_STRERROR(errno));
    }
    struct csv_state st = { .fmt = csv_format_of(opts->format) };
    char buf[LDG_LINE_BYTES_MAX + 2];
    bool too_long = false;
    enum gw_err err = GW_OK;
    /* Comment lines before the header are allowed (a title, the day). */
    for (;;) {
        if (!ldg_read_line(f, buf, sizeof(buf), &too_long, &info->bytes_read)) {
            err = gw_fail(eb, GW_ERR_INVALID, "line 1: empty file, a header is required");
            break;
        }
        if (too_long) {
            err = gw_fail(eb, GW_ERR_INVALID, "line 1: header longer than %d bytes",
                          LDG_LINE_BYTES_MAX);
            break;
        }
        if (buf[0] != '#') {
            /* A UTF-8 byte order mark from spreadsheet exports. */
            char *h = strncmp(buf, "\xEF\xBB\xBF", 3) == 0 ? buf + 3 : buf;
            err = csv_header(&st, h, eb);
            break;
        }
    }
    if (err == GW_OK) {
        err = csv_body(f, &st, fn, arg, info, eb);
    }
    (void)fclose(f);
    return err;
}

enum gw_err ldg_stmt_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                           void *arg, struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    GW_ASSERT(path != NULL);
    GW_ASSERT(fn != NULL);
    memset(info, 0, sizeof(*info));
    struct stat sb;
    if (stat(path, &sb) == 0) {
        info->bytes_total = (long long)sb.st_size;
    }
    if (opts->format == LDG_STMT_CAMT053) {
        return ldg_camt_parse(path, opts, fn, arg, info, eb);
    }
    if (opts->format == LDG_STMT_ZALOPAY) {
        return ldg_jsonl_parse(path, opts, fn, arg, info, eb);
    }
    return ldg_csv_parse(path, opts, fn, arg, info, eb);
}
