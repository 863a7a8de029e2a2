/* `feegate demo`'s finance side: a clerk and an approver (password and TOTP secret kept in
 * var/demo.env between runs), and yesterday's business day ready for them: payments on the
 * four channels paid during the day, each provider's statement imported with a few faults,
 * the matching run, exceptions waiting. Made once per day (a day with statements, or closed,
 * is left as it is). Blocking, before the gateway starts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cli.h"
#include "gw_buf.h"
#include "gw_crypto.h"
#include "ldg_recon.h"

#include "banned.h"

#define DEMO_DAY_BYTES_MAX ((size_t)64 * 1024)

/* The day's payments (six per channel, paid from 09:00 Vietnam time), as the owner, through
 * the same functions a checkout goes through; and each channel's statement as canonical CSV:
 * the first payment missing (missing_at_provider), the second with 5,000 VND more
 * (amount_mismatch), and a line the switch does not know (missing_at_switch). Returns
 * one row per channel: (channel, day, csv), or no row when the day was made already. */
static const char demo_day_sql[] =
    "WITH d AS (SELECT (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - 1 AS day), "
    "todo AS (SELECT day FROM d WHERE NOT EXISTS (SELECT 1 FROM feegate.statement_files f "
    "  WHERE f.business_day = d.day) AND NOT EXISTS (SELECT 1 FROM feegate.business_days b "
    "  WHERE b.day = d.day)), "
    "gen AS (SELECT ch, i, todo.day, CASE WHEN i % 2 = 0 THEN 200000 ELSE 50000 END AS amt "
    "  FROM todo, unnest(ARRAY['sandbox', 'vnpay', 'momo', 'zalopay']) ch, "
    "  generate_series(1, 6) i), "
    "pay AS (SELECT g.*, (SELECT (body::jsonb) ->> 'payment_id' FROM "
    "  feegate.api_create_payment($1, NULL, NULL, jsonb_build_object('order_ref', "
    "  'DEMO-' || g.day || '-' || g.ch || '-' || g.i, 'agency_code', CASE WHEN g.i % 2 = 0 "
    "  THEN 'STP-HN' ELSE 'CA-HCM' END, 'amount_vnd', g.amt, 'items', jsonb_build_array("
    "  jsonb_build_object('fee_code', CASE WHEN g.i % 2 = 0 THEN 'LLTP' ELSE 'GXN-XNC' END, "
    "  'amount_vnd', g.amt))), 'http://127.0.0.1:9')) AS pid FROM gen g), "
    "att AS (SELECT p.*, feegate.checkout_begin(p.pid, p.ch, 'http://127.0.0.1:9') ->> "
    "  'merchant_ref' AS ref FROM pay p), "
    "paid AS (SELECT a.*, feegate.apply_provider_result(a.ch, a.ref, 'succeeded', a.amt, "
    "  upper(left(a.ch, 2)) || to_char(a.day, 'YYMMDD') || a.i, "
    "  feegate.recon_day_start(a.day) + (8 + a.i) * interval '1 hour', 'demo', '') AS verdict "
    "  FROM att a) "
    "SELECT ch, day::text, 'provider_txn_id,merchant_ref,kind,amount_vnd,fee_vnd,status,"
    "booked_at,currency' || E'\\n' || string_agg(format('%s,%s,payment,%s,%s,succeeded,%s,VND', "
    "  upper(left(ch, 2)) || to_char(day, 'YYMMDD') || i, ref, amt + CASE WHEN i = 2 THEN 5000 "
    "  ELSE 0 END, amt / 100, to_char(day + (8 + i) * interval '1 hour', "
    "  'YYYY-MM-DD\"T\"HH24:MI:SS')), E'\\n' ORDER BY i) "
    "  FILTER (WHERE i <> 1) || E'\\n' || format('X%s,FGX%s,payment,100000,1000,succeeded,%s,"
    "VND', ch, upper(ch), day) || E'\\n' "
    "FROM paid GROUP BY ch, day ORDER BY ch";

/* Row i of the day's statements (channel, day, csv) written under var/ and imported. */
static enum gw_err demo_day_import(const char *dsn, const PGresult *r, int i, struct gw_errbuf *eb)
{
    const char *ch = PQgetvalue(r, i, 0);
    const char *day = PQgetvalue(r, i, 1);
    const char *csv = PQgetvalue(r, i, 2);
    char path[128];
    (void)snprintf(path, sizeof(path), "var/statement-%s-%s.csv", ch, day);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputs(csv, f) < 0) {
        if (f != NULL) {
            (void)fclose(f);
        }
        return gw_fail(eb, GW_ERR_IO, "could not write %s", path);
    }
    if (fclose(f) != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not write %s", path);
    }
    struct ldg_import_req req = { .path = path, .provider = ch, .day = day };
    req.opts.currency = "VND";
    struct ldg_import_result res;
    return ldg_stmt_import_blocking(dsn, &req, &res, eb);
}

enum gw_err gw_cli_demo_day(const struct gw_cli_demo_day_req *req, struct gw_errbuf *eb)
{
    const char *admin_dsn = req->admin_dsn;
    const char *client_id = req->client_id;
    PGconn *c = PQconnectdb(admin_dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        enum gw_err err = gw_fail(eb, GW_ERR_DB, "demo day: %s", PQerrorMessage(c));
        PQfinish(c);
        return err;
    }
    const char *p[1] = { client_id };
    PGresult *r = PQexecParams(c, demo_day_sql, 1, NULL, p, NULL, NULL, 0);
    enum gw_err err = GW_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = gw_fail(eb, GW_ERR_DB, "demo day: %s", PQresultErrorMessage(r));
    }
    for (int i = 0; err == GW_OK && i < PQntuples(r); i++) {
        err = demo_day_import(admin_dsn, r, i, eb);
    }
    if (err == GW_OK && PQntuples(r) > 0) {
        const char *day[1] = { PQgetvalue(r, 0, 1) };
        struct gw_buf out;
        gw_buf_init(&out, DEMO_DAY_BYTES_MAX);
        err = ldg_call_text_blocking(admin_dsn, "feegate.recon_run($1::date, NULL)", 1, day, &out,
                                     eb);
        gw_buf_release(&out);
        if (err == GW_OK) {
            (void)fprintf(stderr,
                          "feegate: demo: business day %s made: 24 payments, 4 "
                          "statements imported, matched, exceptions waiting\n",
                          day[0]);
        }
    }
    PQclear(r);
    PQfinish(c);
    return err;
}

/* One member of the demo's staff: password and TOTP secret from the environment (kept in
 * var/demo.env), else new. */
enum gw_err gw_cli_demo_member(const char *admin_dsn, const struct gw_cli_demo_staff *who,
                               struct gw_cli_member *m, struct gw_errbuf *eb)
{
    const char *pw = getenv(who->password_env);
    const char *totp = getenv(who->totp_env);
    if (pw != NULL && strlen(pw) >= 16 && strlen(pw) <= 64) {
        (void)snprintf(m->password_buf, sizeof(m->password_buf), "%s", pw);
    } else {
        unsigned char raw[12];
        if (gw_random_bytes(raw, sizeof(raw)) != GW_OK) {
            return gw_fail(eb, GW_ERR_IO, "no random bytes");
        }
        gw_hex_encode(raw, sizeof(raw), m->password_buf);
    }
    m->password = m->password_buf;
    m->totp_b32[0] = '\0';
    if (totp != NULL && strlen(totp) > 0 && strlen(totp) < sizeof(m->totp_b32)) {
        (void)snprintf(m->totp_b32, sizeof(m->totp_b32), "%s", totp);
    }
    return gw_cli_staff_save(admin_dsn, m, eb);
}
