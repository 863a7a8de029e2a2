/* The public verification page, /verify: a receipt looked up by its id or its
 * series/number (GET ?code=), or an uploaded receipt XML (POST, multipart or bare) checked
 * on the receipt worker (signature, chain to the CA, digest, totals) and then looked up.
 * The database's receipt is read by the receipts module (struct rcp_receipt_view). */
#include "page_verify.h"

#include <string.h>

#include <event2/event.h>

#include "gw_multipart.h"
#include "gw_url.h"
#include "page_common.h"
#include "rcp.h"
#include "receipt_worker.h"
#include "request.h"
#include "validate.h"

#include "banned.h"

static void pg_verify_forms(struct gw_page *p)
{
    gw_pg_s(p, "<section class=\"card\"><form method=\"get\" action=\"/verify\"><p><label>");
    gw_pg_gloss(p, "Mã biên lai (mã rcp_… hoặc Ký hiệu/Số, ví dụ AA-26E/0000001)",
                "Receipt code (rcp_… id, or series/number such as AA-26E/0000001)");
    gw_pg_s(p, "<br><input name=\"code\" size=\"44\" maxlength=\"64\"></label></p><p>"
               "<button class=\"btn\" type=\"submit\">");
    gw_pg_gloss(p, "Tra cứu", "Look up");
    gw_pg_s(p, "</button></p></form><form method=\"post\" action=\"/verify\" "
               "enctype=\"multipart/form-data\"><p><label>");
    gw_pg_gloss(p, "Hoặc tải lên tệp XML của biên lai", "Or upload the receipt's XML file");
    gw_pg_s(p, "<br><input type=\"file\" name=\"xml\" accept=\".xml,application/xml\"></label></p>"
               "<p><button class=\"btn\" type=\"submit\">");
    gw_pg_gloss(p, "Kiểm tra chữ ký số", "Check the signature");
    gw_pg_s(p, "</button></p></form></section>");
}

/* What the database knows of the receipt: its symbols, amount, signature and marks. */
static void pg_verify_known(struct gw_page *p, const struct rcp_receipt_view *v)
{
    const struct rcp_receipt *r = &v->r;
    gw_pg_s(p, "<dl>");
    gw_pg_gloss_row(p, "Đơn vị thu", "Collected by", r->collector.name);
    gw_pg_gloss_row(p, "Mẫu số", "Template", r->tmpl);
    gw_pg_gloss_row(p, "Ký hiệu", "Series", r->series);
    gw_pg_gloss_row(p, "Số", "No.", r->number);
    gw_pg_gloss_row(p, "Ngày lập", "Issued", r->issued_at);
    gw_pg_s(p, "<dt>");
    gw_pg_gloss(p, "Tổng cộng", "Total");
    gw_pg_s(p, "</dt><dd>");
    gw_pg_vnd(p, r->total_vnd);
    gw_pg_s(p, "</dd>");
    gw_pg_gloss_row(p, "SHA-256 của tệp XML đã phát hành", "SHA-256 of the issued XML",
                    v->document_sha256);
    gw_pg_s(p, "</dl>");
    for (size_t i = 0; i < v->n_marks; i++) {
        gw_pg_s(p, "<p class=\"bad\"><strong>");
        gw_pg_e(p, v->marks[i].mark);
        gw_pg_s(p, "</strong>: ");
        gw_pg_e(p, v->marks[i].reason);
        gw_pg_s(p, "</p>");
    }
    if (gw_valid_receipt_id(r->id)) {
        gw_pg_f(p, "<p><a href=\"/receipts/%s\">", r->id);
        gw_pg_m(p, GW_MSG_VIEW_RECEIPT);
        gw_pg_s(p, "</a></p>");
    }
}

/* The verdict page. r: an uploaded document's check (or NULL for a code lookup); v: the
 * database's receipt (or NULL: none). */
static void verify_render(struct gw_ctx *ctx, const struct rcp_verify_result *r,
                          const struct rcp_receipt_view *v, const char *problem)
{
    struct gw_page p;
    gw_page_init(&p, gw_page_state_of(ctx)->lang);
    gw_page_begin(&p, "Xác minh biên lai", NULL);
    gw_pg_s(&p, "<h1>");
    gw_pg_gloss(&p, "Xác minh biên lai", "Verify a receipt");
    gw_pg_s(&p, "</h1>");
    bool ok = problem == NULL && (r != NULL ? r->valid : v != NULL);
    if (problem != NULL || r != NULL || gw_page_state_of(ctx)->id != NULL) {
        gw_pg_f(&p, "<section class=\"card %s\"><h2>", ok ? "good" : "bad");
        if (r != NULL) {
            gw_pg_gloss(&p, ok ? "HỢP LỆ: chữ ký số và nội dung khớp" : "KHÔNG HỢP LỆ",
                        ok ? "VALID: signature and content match" : "NOT VALID");
        } else {
            gw_pg_gloss(&p, ok ? "Biên lai có trong hệ thống" : "Không tìm thấy biên lai",
                        ok ? "The receipt exists" : "No receipt has this code");
        }
        gw_pg_s(&p, "</h2>");
        if (problem != NULL || (r != NULL && !r->valid)) {
            gw_pg_s(&p, "<p>");
            gw_pg_e(&p, problem != NULL ? problem : r->reason);
            gw_pg_s(&p, "</p>");
        }
        if (r != NULL && r->signer[0] != '\0') {
            gw_pg_s(&p, "<p>");
            gw_pg_gloss(&p, "Người ký", "Signed by");
            gw_pg_s(&p, ": ");
            gw_pg_e(&p, r->signer);
            gw_pg_s(&p, " (SHA-256 ");
            gw_pg_e(&p, r->fingerprint);
            gw_pg_s(&p, ")</p>");
        }
        if (v != NULL) {
            pg_verify_known(&p, v);
        } else if (r != NULL && r->valid) {
            gw_pg_s(&p, "<p class=\"bad\">Biên lai này không có trong hệ thống. "
                        "This receipt is not in our records.</p>");
        }
        gw_pg_s(&p, "</section>");
    }
    pg_verify_forms(&p);
    gw_page_end(&p);
    gw_page_send(ctx, &p, 200);
}

static void verify_code_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    if (err != GW_OK) {
        gw_page_db_error(ctx, err, res, NULL);
        return;
    }
    /* No receipt (or none that reads) is a verdict, not an error. */
    struct rcp_receipt_view v;
    struct gw_errbuf eb = { .msg = "" };
    bool found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
                 rcp_receipt_view_from_json(PQgetvalue(res, 0, 0), &ctx->arena, &v, &eb) == GW_OK;
    struct gw_receipt_task *t = gw_page_state_of(ctx)->task;
    verify_render(ctx, t != NULL ? &t->verify : NULL, found ? &v : NULL, NULL);
}

static void verify_upload_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw_ctx *ctx = arg;
    struct gw_page_state *st = gw_page_state_of(ctx);
    struct gw_receipt_task *t = st->task;
    event_free(t->done_ev);
    gw_buf_release(&t->out);
    if (t->err != GW_OK) {
        verify_render(ctx, NULL, NULL, t->eb.msg);
        return;
    }
    if (!t->verify.valid || !gw_valid_receipt_id(t->verify.id)) {
        verify_render(ctx, &t->verify, NULL, NULL);
        return;
    }
    ctx->params[0] = t->verify.id;
    gw_ctx_query(ctx, "SELECT feegate.receipt_view($1)", 1, verify_code_done);
}

void gw_page_verify(struct gw_ctx *ctx, bool get)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    if (get) {
        const char *code = NULL;
        struct gw_kv *kv = NULL;
        size_t n = 0;
        if (ctx->query != NULL && gw_form_parse(&ctx->arena, ctx->query, strlen(ctx->query),
                                                GW_PAGE_FORM_PAIRS_MAX, &kv, &n) == GW_OK) {
            code = gw_kv_get(kv, n, "code");
        }
        if (code == NULL || code[0] == '\0' || strlen(code) > 64) {
            verify_render(ctx, NULL, NULL, NULL);
            return;
        }
        st->id = code;
        ctx->params[0] = code;
        gw_ctx_query(ctx, "SELECT feegate.receipt_verify($1)", 1, verify_code_done);
        return;
    }
    const char *ctype = gw_ctx_header(ctx, "Content-Type");
    struct gw_multipart_part xml = { .data = ctx->body, .len = ctx->body_len };
    if (ctype != NULL && strncmp(ctype, "multipart/form-data", 19) == 0 &&
        !gw_multipart_file(ctype, ctx->body, ctx->body_len, "xml", &xml)) {
        verify_render(ctx, NULL, NULL, "no XML file in the upload / không có tệp XML");
        return;
    }
    if (xml.len == 0) {
        verify_render(ctx, NULL, NULL, "empty upload / tệp rỗng");
        return;
    }
    gw_page_submit_task(ctx, GW_RECEIPT_TASK_VERIFY, xml.data, xml.len, verify_upload_done);
}
