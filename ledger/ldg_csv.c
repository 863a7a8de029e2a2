/* The CSV family of statements: the canonical file and the providers' own exports, each
 * described by a table of header names and values. Streaming: one line in memory at a
 * time. */
#include "ldg_csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ldg_stmt_line.h"

#include "banned.h"

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
