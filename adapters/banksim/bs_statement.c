/* Daily statement files: the rows of one business day (Asia/Ho_Chi_Minh) picked from a
 * provider's stores, served at GET /<provider>/statement?date=YYYY-MM-DD and written to
 * --statement-dir at POST /_statements/close?date=YYYY-MM-DD. Each provider formats its own
 * lines (README.md documents the formats); this file also holds the packed provider fields
 * of a transaction (bs_ext_*). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "banksim.h"
#include "gw_assert.h"
#include "gw_buf.h"
#include "gw_log.h"
#include "gw_time.h"
#include "gw_url.h"

#include "banned.h"

#define BS_STATEMENT_BYTES_MAX ((size_t)256 * 1024 * 1024)
#define BS_STATEMENT_SLOTS_MAX 8

/* ---- packed provider fields ---- */

char *bs_ext_new(const char *const *fields, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += strlen(fields[i]) + 1;
    }
    char *ext = gw_xmalloc(total > 0 ? total : 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(fields[i]) + 1;
        memcpy(ext + o, fields[i], len);
        o += len;
    }
    return ext;
}

const char *bs_ext_get(const char *ext, size_t n, size_t i)
{
    if (ext == NULL || i >= n) {
        return "";
    }
    const char *p = ext;
    for (size_t k = 0; k < i; k++) {
        p += strlen(p) + 1;
    }
    return p;
}

/* ---- days and fees ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t bs_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

enum gw_err bs_day_parse(const char *date, int64_t *day_start_s)
{
    int64_t y = 0;
    int64_t m = 0;
    int64_t d = 0;
    char ys[5];
    char ms[3];
    char ds[3];
    if (strlen(date) != 10 || date[4] != '-' || date[7] != '-') {
        return GW_ERR_INVALID;
    }
    memcpy(ys, date, 4);
    ys[4] = '\0';
    memcpy(ms, date + 5, 2);
    ms[2] = '\0';
    memcpy(ds, date + 8, 2);
    ds[2] = '\0';
    if (!bs_parse_int64(ys, 2000, 2999, &y) || !bs_parse_int64(ms, 1, 12, &m) ||
        !bs_parse_int64(ds, 1, 31, &d)) {
        return GW_ERR_INVALID;
    }
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap)) {
        return GW_ERR_INVALID;
    }
    *day_start_s = bs_days_from_civil(y, m, d) * 86400 - GW_VN_UTC_OFFSET_S;
    return GW_OK;
}

int64_t bs_fee_vnd(int64_t amount_vnd, int64_t fee_bp)
{
    GW_ASSERT(amount_vnd >= 0 && amount_vnd <= 1000000000000000LL);
    GW_ASSERT(fee_bp >= 0 && fee_bp <= 10000);
    return (amount_vnd * fee_bp + 5000) / 10000;
}

/* ---- rows ---- */

static int bs_row_cmp(const void *pa, const void *pb)
{
    const struct bs_stmt_row *a = pa;
    const struct bs_stmt_row *b = pb;
    if (a->t->decided_ms != b->t->decided_ms) {
        return a->t->decided_ms < b->t->decided_ms ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool bs_in_day(const struct bs_txn *t, int64_t day_start_s)
{
    int64_t s = t->decided_ms / 1000;
    return t->status == BS_SUCCEEDED && s >= day_start_s && s < day_start_s + 86400;
}

void bs_statement_rows(const struct bs_store *pay, const struct bs_store *refunds,
                       int64_t day_start_s, struct bs_stmt_row **rows, size_t *n)
{
    size_t cap = 0;
    for (size_t i = 0; i < pay->txns_len; i++) {
        cap += bs_in_day(&pay->txns[i], day_start_s);
    }
    for (size_t i = 0; i < refunds->txns_len; i++) {
        cap += bs_in_day(&refunds->txns[i], day_start_s);
    }
    struct bs_stmt_row *r = gw_xcalloc(cap > 0 ? cap : 1, sizeof(*r));
    size_t k = 0;
    for (size_t i = 0; i < pay->txns_len; i++) {
        if (bs_in_day(&pay->txns[i], day_start_s)) {
            r[k++] = (struct bs_stmt_row){ .t = &pay->txns[i], .refund = false, .seq = i };
        }
    }
    for (size_t i = 0; i < refunds->txns_len; i++) {
        if (bs_in_day(&refunds->txns[i], day_start_s)) {
            r[k++] = (struct bs_stmt_row){ .t = &refunds->txns[i],
                                           .refund = true,
                                           .seq = pay->txns_len + i };
        }
    }
    GW_ASSERT(k == cap);
    qsort(r, k, sizeof(*r), bs_row_cmp);
    *rows = r;
    *n = k;
}

/* ---- routes ---- */

struct bs_stmt_slot {
    struct bs_sim *sim;
    const struct bs_provider *p;
};

static struct {
    struct bs_stmt_slot slots[BS_STATEMENT_SLOTS_MAX];
    size_t n;
} bs_stmt;

/* The date=YYYY-MM-DD of the query string, as the day's start and its text. */
static enum gw_err bs_stmt_date(struct evhttp_request *req, struct gw_arena *a,
                                int64_t *day_start_s, const char **date)
{
    size_t len = 0;
    const char *q = bs_request_query(req, &len);
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (gw_form_parse(a, q, len, 8, &kv, &n) != GW_OK) {
        return GW_ERR_INVALID;
    }
    *date = gw_kv_get(kv, n, "date");
    if (*date == NULL) {
        return GW_ERR_INVALID;
    }
    return bs_day_parse(*date, day_start_s);
}

static void bs_stmt_get_cb(struct evhttp_request *req, void *arg)
{
    const struct bs_stmt_slot *slot = arg;
    struct gw_arena a;
    gw_arena_init(&a, 1024, (size_t)16 * 1024);
    int64_t day = 0;
    const char *date = NULL;
    if (bs_stmt_date(req, &a, &day, &date) != GW_OK) {
        static const char bad[] = "date=YYYY-MM-DD is required\n";
        bs_reply(req, 400, "text/plain; charset=utf-8", bad, sizeof(bad) - 1);
        gw_arena_release(&a);
        return;
    }
    struct gw_buf b;
    gw_buf_init(&b, BS_STATEMENT_BYTES_MAX);
    enum gw_err err = slot->p->statement(day, &b);
    if (err != GW_OK) {
        static const char big[] = "statement too large\n";
        bs_reply(req, 500, "text/plain; charset=utf-8", big, sizeof(big) - 1);
    } else {
        bs_reply(req, 200,
                 strcmp(slot->p->statement_ext, "csv") == 0 ? "text/csv; charset=utf-8"
                                                            : "application/x-ndjson",
                 b.data, b.len);
    }
    gw_buf_release(&b);
    gw_arena_release(&a);
}

/* Writes dir/<name>-<date>.<ext> through a temporary file and a rename. This is the one
 * file write of the simulator: an explicit trigger from a test or an operator, a bounded
 * file on local disk. */
static enum gw_err bs_stmt_write(const char *dir, const struct bs_provider *p, const char *date,
                                 const struct gw_buf *b, char path[512])
{
    char tmp[520];
    int n = snprintf(path, 512, "%s/%s-%s.%s", dir, p->name, date, p->statement_ext);
    if (n < 0 || n >= 512) {
        return GW_ERR_INVALID;
    }
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (f == NULL) {
        return GW_ERR_IO;
    }
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        (void)remove(tmp);
        return GW_ERR_IO;
    }
    return GW_OK;
}

/* POST /_statements/close?date=: every provider's statement of that day into the dir. */
static void bs_stmt_close_cb(struct evhttp_request *req, void *arg)
{
    struct bs_sim *sim = arg;
    struct gw_arena a;
    gw_arena_init(&a, 1024, (size_t)16 * 1024);
    int64_t day = 0;
    const char *date = NULL;
    struct gw_buf out;
    gw_buf_init(&out, (size_t)64 * 1024);
    int status = 200;
    if (sim->opts->statement_dir == NULL) {
        status = 409;
        GW_ASSERT(gw_buf_adds(&out, "{\"error\":\"no --statement-dir\"}") == GW_OK);
    } else if (bs_stmt_date(req, &a, &day, &date) != GW_OK) {
        status = 400;
        GW_ASSERT(gw_buf_adds(&out, "{\"error\":\"date=YYYY-MM-DD is required\"}") == GW_OK);
    } else {
        GW_ASSERT(gw_buf_adds(&out, "{\"files\":[") == GW_OK);
        for (size_t i = 0; i < bs_stmt.n && status == 200; i++) {
            struct gw_buf b;
            gw_buf_init(&b, BS_STATEMENT_BYTES_MAX);
            char path[512];
            enum gw_err err = bs_stmt.slots[i].p->statement(day, &b);
            if (err == GW_OK) {
                err = bs_stmt_write(sim->opts->statement_dir, bs_stmt.slots[i].p, date, &b, path);
            }
            if (err == GW_OK) {
                err = gw_buf_printf(&out, "%s\"", i > 0 ? "," : "");
            }
            if (err == GW_OK) {
                err = gw_buf_add_json_escaped(&out, path);
            }
            if (err == GW_OK) {
                err = gw_buf_adds(&out, "\"");
            }
            if (err != GW_OK) {
                status = 500;
                gw_buf_reset(&out);
                GW_ASSERT(gw_buf_adds(&out, "{\"error\":\"could not write a statement\"}") ==
                          GW_OK);
            }
            gw_buf_release(&b);
        }
        if (status == 200) {
            GW_ASSERT(gw_buf_adds(&out, "]}") == GW_OK);
        }
        gw_log_info("statements_closed", "\"date\":\"%s\",\"status\":%d", date, status);
    }
    bs_reply(req, status, "application/json", out.data, out.len);
    gw_buf_release(&out);
    gw_arena_release(&a);
}

void bs_statement_routes(struct bs_sim *sim, const struct bs_provider *const *providers,
                         const bool *on)
{
    for (size_t i = 0; providers[i] != NULL; i++) {
        if (!on[i] || providers[i]->statement == NULL) {
            continue;
        }
        GW_ASSERT(bs_stmt.n < BS_STATEMENT_SLOTS_MAX);
        struct bs_stmt_slot *slot = &bs_stmt.slots[bs_stmt.n++];
        slot->sim = sim;
        slot->p = providers[i];
        char path[64];
        (void)snprintf(path, sizeof(path), "/%s/statement", providers[i]->name);
        GW_ASSERT(evhttp_set_cb(sim->http, path, bs_stmt_get_cb, slot) == 0);
    }
    GW_ASSERT(evhttp_set_cb(sim->http, "/_statements/close", bs_stmt_close_cb, sim) == 0);
}
