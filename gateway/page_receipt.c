/* The receipt pages: GET /receipts/{id}, the receipt as a page, drawn from the receipts
 * module's own reading of receipt_view (struct rcp_receipt_view, receipts/rcp.h) with the
 * Vietnamese wording of a fee receipt and English glosses; and the stored signed XML
 * (/receipts/{id}.xml) and its PDF (/receipts/{id}.pdf, rendered on the receipt worker). */
#include "page_receipt.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "gw_log.h"
#include "page_common.h"
#include "rcp.h"
#include "receipt_worker.h"
#include "request.h"
#include "validate.h"

#include "banned.h"

/* ---- GET /receipts/{id} ---- */

static void pg_rc_head(struct gw_page *p, const struct rcp_receipt *r)
{
    gw_pg_s(p, "<div class=\"rc-head\"><dl>");
    gw_pg_gloss_row(p, "Đơn vị thu", "Collected by", r->collector.name);
    gw_pg_gloss_row(p, "Mã số thuế", "Tax code", r->collector.tax_code);
    gw_pg_gloss_row(p, "Địa chỉ", "Address", r->collector.address);
    gw_pg_s(p, "</dl><dl>");
    gw_pg_gloss_row(p, "Mẫu số", "Template", r->tmpl);
    gw_pg_gloss_row(p, "Ký hiệu", "Series", r->series);
    gw_pg_gloss_row(p, "Số", "No.", r->number);
    char code[RCP_LOOKUP_SHOWN_BYTES];
    rcp_lookup_code_show(r->lookup_code, code);
    gw_pg_gloss_row(p, "Mã tra cứu", "Lookup code", code);
    gw_pg_s(p, "</dl></div><h1 class=\"rc-title\">BIÊN LAI THU PHÍ, LỆ PHÍ</h1>");
    if (p->lang == GW_LANG_EN) {
        gw_pg_s(p, "<p class=\"center muted\" lang=\"en\">Receipt for fees and charges</p>");
    }
    char date[GW_FMT_TIME_BYTES];
    if (gw_fmt_date_vn(r->issued_at, date)) {
        /* "dd/mm/yyyy" read as "Ngày dd tháng mm năm yyyy", as receipts are dated */
        gw_pg_s(p, "<p class=\"center\">");
        gw_pg_f(p, "Ngày %.2s tháng %.2s năm %.4s", date, date + 3, date + 6);
        gw_pg_s(p, "</p>");
    }
}

static void pg_rc_payer(struct gw_page *p, const struct rcp_receipt *r)
{
    gw_pg_s(p, "<dl>");
    gw_pg_gloss_row(p, "Người nộp", "Payer", r->payer.name);
    gw_pg_gloss_row(p, "Số giấy tờ tùy thân", "ID number", r->payer.id_number);
    gw_pg_gloss_row(p, "Địa chỉ", "Address", r->payer.address);
    gw_pg_gloss_row(p, "Mã hồ sơ", "Application reference", r->order_ref);
    gw_pg_gloss_row(p, "Mã thanh toán", "Payment reference", r->payment_id);
    gw_pg_gloss_row(p, "Hình thức thanh toán", "Paid through",
                    r->channel_name[0] != '\0' ? r->channel_name : r->channel);
    gw_pg_s(p, "</dl>");
}

static void pg_rc_items(struct gw_page *p, const struct rcp_receipt_view *v)
{
    gw_pg_s(p, "<table><thead><tr><th scope=\"col\">");
    gw_pg_gloss(p, "STT", "No.");
    gw_pg_s(p, "</th><th scope=\"col\">");
    gw_pg_gloss(p, "Tên phí, lệ phí", "Fee or charge");
    gw_pg_s(p, "</th><th scope=\"col\" class=\"num\">");
    gw_pg_gloss(p, "Số tiền", "Amount");
    gw_pg_s(p, "</th></tr></thead><tbody>");
    for (size_t i = 0; i < v->n_lines; i++) {
        const struct rcp_item *it = &v->lines[i];
        gw_pg_f(p, "<tr><td>%zu</td><td>", i + 1);
        gw_pg_e(p, it->name[0] != '\0' ? it->name : it->fee_code);
        gw_pg_s(p, "</td><td class=\"num\">");
        gw_pg_vnd(p, it->amount_vnd);
        gw_pg_s(p, "</td></tr>");
    }
    gw_pg_s(p, "</tbody><tfoot><tr><th scope=\"row\" colspan=\"2\">");
    gw_pg_gloss(p, "Tổng cộng", "Total");
    gw_pg_s(p, "</th><td class=\"num\">");
    gw_pg_vnd(p, v->r.total_vnd);
    gw_pg_s(p, "</td></tr></tfoot></table>");
}

/* The correction's original, and the marks (cancelled, adjusted, replaced) with a link to
 * the receipt that replaces or adjusts this one. */
static void pg_rc_corrections(struct gw_page *p, const struct rcp_receipt_view *v)
{
    const struct rcp_receipt *r = &v->r;
    if (r->original.tmpl[0] != '\0') {
        gw_pg_s(p, "<p>");
        gw_pg_gloss(
            p, strcmp(r->kind, "adjustment") == 0 ? "Điều chỉnh cho biên lai" : "Thay thế biên lai",
            "Corrects receipt");
        gw_pg_s(p, ": ");
        gw_pg_e(p, r->original.tmpl);
        gw_pg_s(p, " · ");
        gw_pg_e(p, r->original.series);
        gw_pg_s(p, " · ");
        gw_pg_e(p, r->original.number);
        gw_pg_s(p, " — ");
        gw_pg_e(p, r->original.reason);
        gw_pg_s(p, "</p>");
    }
    for (size_t i = 0; i < v->n_marks; i++) {
        const struct rcp_mark *m = &v->marks[i];
        gw_pg_s(p, "<div class=\"card bad\"><p><strong>");
        gw_pg_gloss(p,
                    strcmp(m->mark, "cancelled") == 0  ? "Biên lai đã bị hủy"
                    : strcmp(m->mark, "replaced") == 0 ? "Biên lai đã được thay thế"
                                                       : "Biên lai đã được điều chỉnh",
                    m->mark);
        gw_pg_s(p, "</strong> — ");
        gw_pg_e(p, m->reason);
        if (gw_valid_receipt_id(m->by_receipt_id)) {
            gw_pg_f(p, " <a href=\"/receipts/%s\">", m->by_receipt_id);
            gw_pg_gloss(p, "Xem biên lai mới", "See the new receipt");
            gw_pg_s(p, "</a>");
        }
        gw_pg_s(p, "</p></div>");
    }
}

/* The foot of the receipt: the amount in words, the corrections, the digital signature's
 * state, and the links to the PDF, the signed XML and the public verification page. */
static void pg_rc_foot(struct gw_page *p, const struct rcp_receipt_view *v)
{
    char words[RCP_WORDS_BYTES];
    struct gw_errbuf eb;
    if (rcp_words_vnd(v->r.total_vnd, 0, words, sizeof(words), &eb) == GW_OK) {
        gw_pg_s(p, "<p><strong>");
        gw_pg_gloss(p, "Số tiền bằng chữ", "Amount in words");
        gw_pg_s(p, ":</strong> <em>");
        gw_pg_e(p, words);
        gw_pg_s(p, ".</em></p>");
    }
    pg_rc_corrections(p, v);
    gw_pg_s(p, "<p class=\"center\"><em>");
    if (!v->issued) {
        gw_pg_gloss(p, "Biên lai điện tử đang được phát hành (ký số)", "Being issued and signed");
    } else if (v->is_signed) {
        gw_pg_gloss(p, "Biên lai điện tử đã được ký số", "Digitally signed electronic receipt");
    } else {
        gw_pg_gloss(p, "Biên lai điện tử chưa được ký số (chưa cấu hình chứng thư số)",
                    "Electronic receipt, not signed: no signing certificate is configured");
    }
    gw_pg_s(p, "</em></p>");
    const char *id = v->r.id;
    if (gw_valid_receipt_id(id)) {
        gw_pg_s(p, "<p class=\"center\">");
        if (v->issued) {
            gw_pg_f(p,
                    "<a class=\"btn\" href=\"/receipts/%s.pdf\">PDF</a> "
                    "<a class=\"btn\" href=\"/receipts/%s.xml\">XML</a> ",
                    id, id);
        }
        gw_pg_s(p, "<a href=\"/verify?code=");
        gw_pg_e(p, v->r.lookup_code[0] != '\0' ? v->r.lookup_code : id);
        gw_pg_f(p, "&amp;lang=%s\">", gw_i18n_code(p->lang));
        gw_pg_gloss(p, "Xác minh biên lai", "Verify this receipt");
        gw_pg_s(p, "</a></p>");
    }
}

static void receipt_render(struct gw_ctx *ctx, const struct rcp_receipt_view *v)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    struct gw_page p;
    gw_page_init(&p, st->lang);
    gw_page_begin(&p, "Biên lai thu phí, lệ phí",
                  gw_page_lang_href(ctx, "/receipts/", st->id, gw_page_other_lang(p.lang)));
    gw_pg_s(&p, "<article class=\"receipt\">");
    pg_rc_head(&p, &v->r);
    pg_rc_payer(&p, &v->r);
    pg_rc_items(&p, v);
    pg_rc_foot(&p, v);
    gw_pg_s(&p, "</article>");
    gw_page_end(&p);
    gw_page_send(ctx, &p, 200);
}

static void receipt_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    const char *json = gw_page_db_text(ctx, err, res, NULL);
    if (json == NULL) {
        return;
    }
    struct rcp_receipt_view v;
    struct gw_errbuf eb = { .msg = "" };
    if (rcp_receipt_view_from_json(json, &ctx->arena, &v, &eb) != GW_OK) {
        char why[300];
        gw_log_error("page_bad_receipt", "\"reason\":\"%s\"", gw_log_esc(why, sizeof(why), eb.msg));
        gw_page_error(ctx, 500, GW_MSG_INTERNAL, NULL);
        return;
    }
    receipt_render(ctx, &v);
}

/* ---- GET /receipts/{id}.xml and .pdf ---- */

/* 404 while the signed document is being made (it follows the payment within seconds). */
static void receipt_being_issued(struct gw_ctx *ctx)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    struct gw_page p;
    gw_page_init(&p, st->lang);
    gw_page_begin(&p, "Biên lai đang được phát hành", NULL);
    gw_pg_s(&p, "<h1>");
    gw_pg_gloss(&p, "Biên lai đang được phát hành", "The receipt is being issued");
    gw_pg_s(&p, "</h1><div class=\"card\"><p>");
    gw_pg_gloss(&p, "Biên lai đã có số và đang được ký số. Vui lòng thử lại sau ít giây.",
                "The receipt is numbered and is being signed. Please retry in a few seconds.");
    gw_pg_f(&p, "</p><p><a href=\"/receipts/%s\">", st->id);
    gw_pg_m(&p, GW_MSG_VIEW_RECEIPT);
    gw_pg_s(&p, "</a></p></div>");
    gw_page_end(&p);
    if (!ctx->cancelled) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", "2");
    }
    gw_page_send(ctx, &p, 404);
}

static void reply_document(struct gw_ctx *ctx, const char *type, const char *ext, const void *body,
                           size_t len)
{
    if (!ctx->cancelled) {
        char disp[96];
        (void)snprintf(disp, sizeof(disp), "inline; filename=\"%s.%s\"", gw_page_state_of(ctx)->id,
                       ext);
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Content-Disposition", disp);
    }
    gw_reply(ctx, 200, type, body, len);
}

static void receipt_pdf_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_ctx *ctx = arg;
    struct gw_receipt_task *t = gw_page_state_of(ctx)->task;
    event_free(t->done_ev);
    struct gw_buf pdf = t->out; /* t is in the request's arena, which the reply frees */
    if (t->err != GW_OK) {
        gw_log_error("receipt_pdf_failed", "\"err\":\"%s\"", gw_err_name(t->err));
        gw_page_error(ctx, 500, GW_MSG_INTERNAL, NULL);
    } else {
        reply_document(ctx, "application/pdf", "pdf", pdf.data, pdf.len);
    }
    gw_buf_release(&pdf);
}

static void receipt_doc_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct gw_page_state *st = gw_page_state_of(ctx);
    if (err != GW_OK) {
        gw_page_db_error(ctx, err, res, NULL);
    } else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
        gw_page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
    } else if (PQgetisnull(res, 0, 0)) {
        receipt_being_issued(ctx);
    } else if (!st->want_pdf) {
        reply_document(ctx, "application/xml; charset=utf-8", "xml", PQgetvalue(res, 0, 0),
                       (size_t)PQgetlength(res, 0, 0));
    } else {
        gw_page_submit_task(ctx, GW_RECEIPT_TASK_PDF, PQgetvalue(res, 0, 0),
                            (size_t)PQgetlength(res, 0, 0), receipt_pdf_done);
    }
}

/* "/receipts/{id}", "/receipts/{id}.xml" (the stored signed XML) and "/receipts/{id}.pdf"
 * (rendered from that XML on the receipt worker). */
void gw_page_receipt_view(struct gw_ctx *ctx, const char *seg)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    size_t len = strlen(seg);
    bool pdf = len > 4 && strcmp(seg + len - 4, ".pdf") == 0;
    bool xml = len > 4 && strcmp(seg + len - 4, ".xml") == 0;
    const char *id = pdf || xml ? gw_arena_strndup(&ctx->arena, seg, len - 4) : seg;
    if (id == NULL || !gw_valid_receipt_id(id)) {
        gw_page_error(ctx, 404, GW_MSG_NOT_FOUND, NULL);
        return;
    }
    st->id = id;
    st->want_pdf = pdf;
    ctx->params[0] = id;
    if (pdf || xml) {
        gw_ctx_query(ctx,
                     "SELECT feegate.receipt_xml($1), "
                     "(SELECT 1 FROM feegate.receipts WHERE id = $1)",
                     1, receipt_doc_done);
    } else {
        gw_ctx_query(ctx, "SELECT feegate.receipt_view($1)", 1, receipt_done);
    }
}
