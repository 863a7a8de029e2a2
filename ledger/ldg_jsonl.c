/* ZaloPay's daily statement as the simulator writes it (adapters/banksim/sim_zalopay.c):
 * one JSON object per line, {"type":"payment"|"refund", "app_trans_id", "zp_trans_id",
 * "refund_id" (refunds), "amount", "fee_amount", "server_time" (Unix ms), "status" (1:
 * succeeded)}. A refund's app_trans_id is the paid order's, so it matches its payment. The
 * app_trans_id is ZaloPay's "yymmdd_" + the switch's reference (docs/providers.md#zalopay-create):
 * the line keeps the reference alone, the one the switch's attempt has. One line in memory at
 * a time. */
#include "ldg_jsonl.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ldg_stmt_line.h"

#include "banned.h"

#define LDG_ZALOPAY_PREFIX_BYTES 7 /* "yymmdd_" */

/* A member as text: strings as they are, integers in decimal. NULL if absent. */
static const char *member(const json_t *o, const char *k, char *tmp, size_t cap)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        (void)snprintf(tmp, cap, "%lld", (long long)json_integer_value(v));
        return tmp;
    }
    return NULL;
}

/* The switch's reference inside an app_trans_id: what follows "yymmdd_" (six digits, an
 * underscore, then at least one byte). Another shape is kept whole, so that it is reported
 * as missing at the switch with the provider's own text. */
static const char *jsonl_ref_of(const char *app_trans_id)
{
    if (strlen(app_trans_id) > LDG_ZALOPAY_PREFIX_BYTES &&
        strspn(app_trans_id, "0123456789") == LDG_ZALOPAY_PREFIX_BYTES - 1 &&
        app_trans_id[LDG_ZALOPAY_PREFIX_BYTES - 1] == '_') {
        return app_trans_id + LDG_ZALOPAY_PREFIX_BYTES;
    }
    return app_trans_id;
}

static enum gw_err jsonl_row(const json_t *o, long line_no, struct ldg_stmt_line *l,
                             struct gw_errbuf *eb)
{
    char t_ref[32];
    char t_txn[32];
    char t_amt[32];
    char t_fee[32];
    char t_time[32];
    char t_st[32];
    const char *type = member(o, "type", t_st, sizeof(t_st));
    memset(l, 0, sizeof(*l));
    l->line_no = line_no;
    if (type == NULL || (strcmp(type, "payment") != 0 && strcmp(type, "refund") != 0)) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: type is not payment or refund", line_no);
    }
    l->payment = strcmp(type, "payment") == 0;
    const char *ref = member(o, "app_trans_id", t_ref, sizeof(t_ref));
    const char *txn = member(o, l->payment ? "zp_trans_id" : "refund_id", t_txn, sizeof(t_txn));
    const char *amt = member(o, "amount", t_amt, sizeof(t_amt));
    const char *fee = member(o, "fee_amount", t_fee, sizeof(t_fee));
    const char *when = member(o, "server_time", t_time, sizeof(t_time));
    if (ref == NULL || txn == NULL || amt == NULL || when == NULL) {
        return gw_fail(eb, GW_ERR_INVALID,
                       "line %ld: app_trans_id, %s, amount and server_time are required", line_no,
                       l->payment ? "zp_trans_id" : "refund_id");
    }
    ref = jsonl_ref_of(ref);
    ldg_ref_set(l, l->merchant_ref, ref, strlen(ref));
    ldg_ref_set(l, l->provider_txn_id, txn, strlen(txn));
    if (!ldg_amount_parse(amt, true, &l->amount_vnd) ||
        (fee != NULL && !ldg_amount_parse(fee, true, &l->fee_vnd))) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: amount or fee_amount is not whole VND",
                       line_no);
    }
    if (!ldg_time_vn(when, l->booked_on, l->booked_at)) {
        return gw_fail(eb, GW_ERR_INVALID, "line %ld: server_time \"%s\" is not Unix ms", line_no,
                       when);
    }
    const json_t *st = json_object_get(o, "status");
    l->succeeded = json_is_integer(st) && json_integer_value(st) == 1;
    (void)snprintf(l->currency, sizeof(l->currency), "VND");
    return GW_OK;
}

enum gw_err ldg_jsonl_parse(const char *path, const struct ldg_stmt_opts *opts,
                            ldg_stmt_line_fn *fn, void *arg, struct ldg_stmt_info *info,
                            struct gw_errbuf *eb)
{
    (void)opts;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\": %s", path, GW_STRERROR(errno));
    }
    char buf[LDG_LINE_BYTES_MAX + 2];
    bool too_long = false;
    long line_no = 0;
    enum gw_err err = GW_OK;
    struct ldg_stmt_line l;
    while (err == GW_OK && ldg_read_line(f, buf, sizeof(buf), &too_long, &info->bytes_read)) {
        line_no++;
        if (too_long) {
            err = gw_fail(eb, GW_ERR_INVALID, "line %ld: longer than %d bytes", line_no,
                          LDG_LINE_BYTES_MAX);
            break;
        }
        if (buf[0] == '\0') {
            continue;
        }
        json_error_t jerr;
        json_t *o = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o)) {
            err = gw_fail(eb, GW_ERR_INVALID, "line %ld: not a JSON object: %s", line_no,
                          o == NULL ? jerr.text : "another JSON value");
        } else {
            err = jsonl_row(o, line_no, &l, eb);
        }
        json_decref(o);
        if (err == GW_OK) {
            err = fn(arg, &l, info, eb);
        }
        if (err == GW_OK) {
            info->lines++;
        }
    }
    if (err == GW_OK && ferror(f)) {
        err =
            gw_fail(eb, GW_ERR_IO, "could not read line %ld: %s", line_no + 1, GW_STRERROR(errno));
    }
    (void)fclose(f);
    return err;
}
