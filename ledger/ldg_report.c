/* The day report rendered from the JSON of feegate.day_report: pretty JSON, CSV (one row
 * per agency, treasury account and provider, with the business day and its time zone in
 * every row), and a self-contained HTML page with inline SVG bar charts (no script, no
 * external resource). Pure functions: no I/O. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "ldg_recon.h"

#include "banned.h"

#define CHART_BAR_H   22
#define CHART_LABEL_W 170
#define CHART_BAR_W   420

bool ldg_report_format_parse(const char *name, enum ldg_report_format *out)
{
    if (strcmp(name, "json") == 0) {
        *out = LDG_REPORT_JSON;
    } else if (strcmp(name, "csv") == 0) {
        *out = LDG_REPORT_CSV;
    } else if (strcmp(name, "html") == 0) {
        *out = LDG_REPORT_HTML;
    } else {
        return false;
    }
    return true;
}

static long long num(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static const char *const sections[] = { "agencies", "treasury_accounts", "providers" };
static const char *const section_titles[] = { "Agencies / Cơ quan",
                                              "Treasury accounts / Tài khoản kho bạc",
                                              "Providers / Kênh thanh toán" };

/* CSV fields are codes and names from the catalogue: quoted, with quotes doubled. */
static enum gw_err csv_quoted(struct gw_buf *b, const char *s)
{
    enum gw_err err = gw_buf_addc(b, '"');
    for (const char *p = s; err == GW_OK && *p != '\0'; p++) {
        err = *p == '"' ? gw_buf_adds(b, "\"\"") : gw_buf_addc(b, *p);
    }
    return err == GW_OK ? gw_buf_addc(b, '"') : err;
}

static enum gw_err render_csv(const json_t *rep, struct gw_buf *b)
{
    const char *day = str(rep, "business_day");
    const char *tz = str(rep, "timezone");
    enum gw_err err = gw_buf_adds(b, "business_day,timezone,section,code,name,count,gross_vnd,"
                                     "fees_vnd,refunds_vnd,net_vnd,open_exceptions\n");
    for (size_t s = 0; s < 3 && err == GW_OK; s++) {
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(rep, sections[s]), i, row)
        {
            err = gw_buf_printf(b, "%s,%s,%s,", day, tz, sections[s]);
            if (err == GW_OK) {
                err = csv_quoted(b, str(row, "code"));
            }
            if (err == GW_OK) {
                err = gw_buf_addc(b, ',');
            }
            if (err == GW_OK) {
                err = csv_quoted(b, str(row, "name"));
            }
            if (err == GW_OK) {
                err = gw_buf_printf(b, ",%lld,%lld,%lld,%lld,%lld,%lld\n", num(row, "count"),
                                    num(row, "gross_vnd"), num(row, "fees_vnd"),
                                    num(row, "refunds_vnd"), num(row, "net_vnd"),
                                    num(row, "open_exceptions"));
            }
            if (err != GW_OK) {
                break;
            }
        }
    }
    const json_t *t = json_object_get(rep, "totals");
    if (err == GW_OK) {
        err = gw_buf_printf(b, "%s,%s,totals,\"\",\"\",%lld,%lld,%lld,%lld,%lld,%lld\n", day, tz,
                            num(t, "count"), num(t, "gross_vnd"), num(t, "fees_vnd"),
                            num(t, "refunds_vnd"), num(t, "net_vnd"), num(t, "open_exceptions"));
    }
    /* Payments paid twice are not the agencies' money: a row apart, after the totals (gross:
     * paid a second time; refunds: the refund lines that returned them; net: the rest). */
    const json_t *o = json_object_get(rep, "overpayments");
    if (err == GW_OK && o != NULL) {
        err = gw_buf_printf(b, "%s,%s,overpayments,\"\",\"\",%lld,%lld,0,%lld,%lld,0\n", day, tz,
                            num(o, "count"), num(o, "amount_vnd"), num(o, "refund_lines_vnd"),
                            num(o, "amount_vnd") - num(o, "refund_lines_vnd"));
    }
    return err;
}

/* 1234567 -> "1.234.567" (Vietnamese grouping). */
static void vnd(long long v, char out[32])
{
    char raw[24];
    int n = snprintf(raw, sizeof(raw), "%lld", v < 0 ? -v : v);
    size_t o = 0;
    if (v < 0) {
        out[o++] = '-';
    }
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[o++] = '.';
        }
        out[o++] = raw[i];
    }
    out[o] = '\0';
}

/* A horizontal bar chart of one number of each row. */
static enum gw_err svg_bars(struct gw_buf *b, const json_t *rows, const char *key,
                            const char *title)
{
    long long max = 1;
    size_t i;
    size_t n = json_array_size(rows);
    json_t *row;
    json_array_foreach(rows, i, row) if (num(row, key) > max)
    {
        max = num(row, key);
    }
    int h = (int)n * CHART_BAR_H + 30;
    enum gw_err err = gw_buf_printf(
        b,
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "role=\"img\" aria-label=\"",
        CHART_LABEL_W + CHART_BAR_W + 130, h);
    err = err == GW_OK ? gw_buf_add_html_escaped(b, title) : err;
    err = err == GW_OK ? gw_buf_printf(b, "\"><text x=\"0\" y=\"16\" class=\"t\">") : err;
    err = err == GW_OK ? gw_buf_add_html_escaped(b, title) : err;
    err = err == GW_OK ? gw_buf_adds(b, "</text>") : err;
    json_array_foreach(rows, i, row)
    {
        if (err != GW_OK) {
            break;
        }
        int y = 26 + (int)i * CHART_BAR_H;
        long long v = num(row, key);
        int w = (int)((double)CHART_BAR_W * (double)v / (double)max);
        char label[32];
        vnd(v, label);
        err = gw_buf_printf(b, "<text x=\"0\" y=\"%d\">", y + 14);
        err = err == GW_OK ? gw_buf_add_html_escaped(b, str(row, "code")) : err;
        err = err == GW_OK
                  ? gw_buf_printf(
                        b,
                        "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%s\"/>"
                        "<text x=\"%d\" y=\"%d\">%s</text>",
                        CHART_LABEL_W, y, w > 0 ? w : 1, CHART_BAR_H - 6,
                        strcmp(key, "open_exceptions") == 0 ? "c0392b" : "2e86c1",
                        CHART_LABEL_W + (w > 0 ? w : 1) + 6, y + 14, label)
                  : err;
    }
    return err == GW_OK ? gw_buf_adds(b, "</svg></figure>\n") : err;
}

static enum gw_err html_table(struct gw_buf *b, const json_t *rows, const char *title)
{
    enum gw_err err = gw_buf_adds(b, "<h2>");
    err = err == GW_OK ? gw_buf_add_html_escaped(b, title) : err;
    err = err == GW_OK ? gw_buf_adds(b, "</h2><table><tr><th>code</th><th>name</th>"
                                        "<th>count</th><th>gross VND</th><th>fees VND</th>"
                                        "<th>refunds VND</th><th>net VND</th>"
                                        "<th>open exceptions</th></tr>\n")
                       : err;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (err != GW_OK) {
            break;
        }
        char g[32];
        char f[32];
        char r[32];
        char nt[32];
        vnd(num(row, "gross_vnd"), g);
        vnd(num(row, "fees_vnd"), f);
        vnd(num(row, "refunds_vnd"), r);
        vnd(num(row, "net_vnd"), nt);
        err = gw_buf_adds(b, "<tr><td>");
        err = err == GW_OK ? gw_buf_add_html_escaped(b, str(row, "code")) : err;
        err = err == GW_OK ? gw_buf_adds(b, "</td><td>") : err;
        err = err == GW_OK ? gw_buf_add_html_escaped(b, str(row, "name")) : err;
        err = err == GW_OK
                  ? gw_buf_printf(b,
                                  "</td><td>%lld</td><td>%s</td><td>%s</td>"
                                  "<td>%s</td><td>%s</td><td>%lld</td></tr>\n",
                                  num(row, "count"), g, f, r, nt, num(row, "open_exceptions"))
                  : err;
    }
    return err == GW_OK ? gw_buf_adds(b, "</table>\n") : err;
}

static enum gw_err html_head(const json_t *rep, struct gw_buf *b)
{
    const json_t *t = json_object_get(rep, "totals");
    char g[32];
    char f[32];
    char r[32];
    char n[32];
    vnd(num(t, "gross_vnd"), g);
    vnd(num(t, "fees_vnd"), f);
    vnd(num(t, "refunds_vnd"), r);
    vnd(num(t, "net_vnd"), n);
    bool closed = json_is_true(json_object_get(rep, "closed"));
    return gw_buf_printf(
        b,
        "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
        "<title>feegate: báo cáo ngày %s</title><style>"
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
        "margin-bottom:1em}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}"
        "td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}svg text{font-size:13px}"
        "svg .t{font-weight:bold}figure{margin:0 0 1.5em 0}.k{font-size:1.1em}</style>"
        "</head><body>\n<h1>Báo cáo ngày / Day report %s</h1>\n"
        "<p class=\"k\">Business day %s, %s to %s (Asia/Ho_Chi_Minh, UTC+07:00). "
        "Status: <b>%s</b>. Generated %s.</p>\n"
        "<p class=\"k\">Payments %lld &middot; gross %s VND &middot; fees %s VND &middot; "
        "refunds %s VND &middot; net %s VND &middot; open exceptions %lld</p>\n",
        str(rep, "business_day"), str(rep, "business_day"), str(rep, "business_day"),
        str(rep, "day_start"), str(rep, "day_end"), closed ? "closed" : "open",
        str(rep, "generated_at"), num(t, "count"), g, f, r, n, num(t, "open_exceptions"));
}

static enum gw_err html_exceptions(const json_t *rep, struct gw_buf *b)
{
    json_t *by = json_object_get(json_object_get(rep, "exceptions"), "by_category");
    json_t *rows = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(by, k, v) json_array_append_new(
        rows, json_pack("{s:s,s:I}", "code", k, "open_exceptions", json_integer_value(v)));
    enum gw_err err = svg_bars(b, rows, "open_exceptions",
                               "Exceptions found, by category / Chênh lệch theo loại");
    json_decref(rows);
    return err;
}

static enum gw_err render_html(const json_t *rep, struct gw_buf *b)
{
    enum gw_err err = html_head(rep, b);
    for (size_t s = 0; s < 3 && err == GW_OK; s++) {
        const json_t *rows = json_object_get(rep, sections[s]);
        char title[96];
        (void)snprintf(title, sizeof(title), "%s: gross VND", section_titles[s]);
        err = html_table(b, rows, section_titles[s]);
        if (err == GW_OK) {
            err = svg_bars(b, rows, "gross_vnd", title);
        }
    }
    if (err == GW_OK) {
        err = html_exceptions(rep, b);
    }
    const json_t *o = json_object_get(rep, "overpayments");
    if (err == GW_OK && o != NULL) {
        char amt[32];
        char back[32];
        char owed[32];
        vnd(num(o, "amount_vnd"), amt);
        vnd(num(o, "refund_lines_vnd"), back);
        vnd(num(o, "owed_vnd"), owed);
        err = gw_buf_printf(b,
                            "<p class=\"k\">Overpayments / Thanh toán trùng: %lld, %s VND paid "
                            "twice &middot; refund lines %s VND &middot; still owed %s VND</p>\n",
                            num(o, "count"), amt, back, owed);
    }
    return err == GW_OK ? gw_buf_adds(b, "<p>feegate reconciliation report. Amounts in whole "
                                         "Vietnamese đồng.</p></body></html>\n")
                        : err;
}

enum gw_err ldg_report_render(const char *json, enum ldg_report_format format, struct gw_buf *out,
                              struct gw_errbuf *eb)
{
    GW_ASSERT(json != NULL);
    json_error_t jerr;
    json_t *rep = json_loads(json, 0, &jerr);
    if (rep == NULL || !json_is_object(rep)) {
        json_decref(rep);
        return gw_fail(eb, GW_ERR_INVALID, "the report is not a JSON object: %s", jerr.text);
    }
    enum gw_err err = GW_OK;
    if (format == LDG_REPORT_JSON) {
        char *s = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        err = s != NULL ? gw_buf_adds(out, s) : GW_ERR_NOMEM;
        if (err == GW_OK) {
            err = gw_buf_addc(out, '\n');
        }
        gw_libc_free(s);
    } else if (format == LDG_REPORT_CSV) {
        err = render_csv(rep, out);
    } else {
        err = render_html(rep, out);
    }
    json_decref(rep);
    if (err != GW_OK) {
        return gw_fail(eb, err, "could not render the report: it is too large");
    }
    return GW_OK;
}
