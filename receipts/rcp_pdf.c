/* The receipt as an A4 PDF page: cairo draws, pango lays out the Vietnamese text in DejaVu
 * Sans (fonts-dejavu-core: every Vietnamese diacritic), libqrencode makes the QR code of the
 * public verification URL. Laid out like a paper fee receipt: the collector and the symbols
 * on top, the title, the date, the payer, the lines, the total in figures and in words, the
 * QR code and the signature box. */
#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <qrencode.h>
#include <stdio.h>
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmlsec.h>

#include "gw_buf.h"
#include "rcp.h"
#include "rcp_int.h"

#include "banned.h"

#define PAGE_W  595.0 /* A4 in points */
#define PAGE_H  842.0
#define MARGIN  48.0
#define TEXT_W  (PAGE_W - 2 * MARGIN)
#define FONT    "DejaVu Sans"
#define QR_SIZE 96.0

struct pdf {
    cairo_t *cr;
    double y; /* where the next block starts */
};

static cairo_status_t pdf_write(void *closure, const unsigned char *data, unsigned int length)
{
    struct gw_buf *out = closure;
    return gw_buf_add(out, data, length) == GW_OK ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Draws text at (x, y) in a box of width w; returns its height. */
static double text_at(struct pdf *p, double x, double y, double w, const char *text,
                      const char *font, PangoAlignment align)
{
    PangoLayout *l = pango_cairo_create_layout(p->cr);
    PangoFontDescription *fd = pango_font_description_from_string(font);
    pango_layout_set_font_description(l, fd);
    pango_layout_set_width(l, (int)(w * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(l, align);
    pango_layout_set_text(l, text, -1);
    cairo_move_to(p->cr, x, y);
    pango_cairo_show_layout(p->cr, l);
    int lw = 0;
    int lh = 0;
    pango_layout_get_size(l, &lw, &lh);
    pango_font_description_free(fd);
    g_object_unref(l);
    return (double)lh / PANGO_SCALE;
}

/* A "Label: value" line across the text width; skipped when value is empty. */
static void row(struct pdf *p, const char *label, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return;
    }
    char line[1024];
    (void)snprintf(line, sizeof(line), "%s: %s", label, value);
    p->y += text_at(p, MARGIN, p->y, TEXT_W, line, FONT " 10", PANGO_ALIGN_LEFT) + 3;
}

/* 1234567 -> "1.234.567" (Vietnamese grouping). */
static void fmt_vnd(int64_t v, char out[40])
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0) {
        out[o++] = '-';
    }
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[o++] = '.';
        }
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void draw_head(struct pdf *p, const struct rcp_receipt *r)
{
    double left = TEXT_W * 0.62;
    double h = text_at(p, MARGIN, p->y, left, r->collector.name, FONT " Bold 10", PANGO_ALIGN_LEFT);
    char line[512];
    (void)snprintf(line, sizeof(line), "Mã số thuế: %s\nĐịa chỉ: %s", r->collector.tax_code,
                   r->collector.address);
    h += text_at(p, MARGIN, p->y + h + 2, left, line, FONT " 9", PANGO_ALIGN_LEFT);
    (void)snprintf(line, sizeof(line), "Mẫu số: %s\nKý hiệu: %s\nSố: %s", r->tmpl, r->series,
                   r->number);
    double rh = text_at(p, MARGIN + left + 10, p->y, TEXT_W - left - 10, line, FONT " 10",
                        PANGO_ALIGN_LEFT);
    p->y += (h > rh ? h : rh) + 24;
    p->y += text_at(p, MARGIN, p->y, TEXT_W, RCP_TITLE, FONT " Bold 17", PANGO_ALIGN_CENTER);
    const char *sub = strcmp(r->kind, "adjustment") == 0    ? "(Biên lai điều chỉnh)"
                      : strcmp(r->kind, "replacement") == 0 ? "(Biên lai thay thế)"
                                                            : "(Biên lai điện tử)";
    p->y += text_at(p, MARGIN, p->y + 2, TEXT_W, sub, FONT " Oblique 10", PANGO_ALIGN_CENTER) + 4;
    if (strlen(r->issued_at) >= 10) {
        (void)snprintf(line, sizeof(line), "Ngày %.2s tháng %.2s năm %.4s", r->issued_at + 8,
                       r->issued_at + 5, r->issued_at);
        p->y += text_at(p, MARGIN, p->y, TEXT_W, line, FONT " Oblique 10", PANGO_ALIGN_CENTER);
    }
    if (r->original.number[0] != '\0') {
        (void)snprintf(line, sizeof(line),
                       "Thay cho/điều chỉnh biên lai Mẫu số %s, Ký hiệu %s, Số %s, ngày %.10s. "
                       "Lý do: %s",
                       r->original.tmpl, r->original.series, r->original.number,
                       r->original.issued_at, r->original.reason);
        p->y += text_at(p, MARGIN, p->y + 4, TEXT_W, line, FONT " 9", PANGO_ALIGN_CENTER) + 4;
    }
    p->y += 18;
}

static void hline(struct pdf *p, double y)
{
    cairo_move_to(p->cr, MARGIN, y);
    cairo_line_to(p->cr, MARGIN + TEXT_W, y);
    cairo_stroke(p->cr);
}

static void draw_items(struct pdf *p, const struct rcp_receipt *r)
{
    const double c1 = 40;
    const double c3 = 130;
    const double c2 = TEXT_W - c1 - c3;
    cairo_set_line_width(p->cr, 0.8);
    hline(p, p->y);
    double h = text_at(p, MARGIN + 4, p->y + 4, c1 - 8, "STT", FONT " Bold 10", PANGO_ALIGN_CENTER);
    (void)text_at(p, MARGIN + c1 + 4, p->y + 4, c2 - 8, "Tên phí, lệ phí", FONT " Bold 10",
                  PANGO_ALIGN_LEFT);
    (void)text_at(p, MARGIN + c1 + c2 + 4, p->y + 4, c3 - 8, "Số tiền (đồng)", FONT " Bold 10",
                  PANGO_ALIGN_RIGHT);
    p->y += h + 8;
    hline(p, p->y);
    char n[24];
    char amt[40];
    for (size_t i = 0; i < r->n_items; i++) {
        (void)snprintf(n, sizeof(n), "%zu", i + 1);
        fmt_vnd(r->items[i].amount_vnd, amt);
        (void)text_at(p, MARGIN + 4, p->y + 4, c1 - 8, n, FONT " 10", PANGO_ALIGN_CENTER);
        double rh = text_at(p, MARGIN + c1 + 4, p->y + 4, c2 - 8, r->items[i].name, FONT " 10",
                            PANGO_ALIGN_LEFT);
        (void)text_at(p, MARGIN + c1 + c2 + 4, p->y + 4, c3 - 8, amt, FONT " 10",
                      PANGO_ALIGN_RIGHT);
        p->y += rh + 8;
    }
    hline(p, p->y);
    fmt_vnd(r->total_vnd, amt);
    h = text_at(p, MARGIN + c1 + 4, p->y + 4, c2 - 8, "Tổng cộng", FONT " Bold 10",
                PANGO_ALIGN_LEFT);
    (void)text_at(p, MARGIN + c1 + c2 + 4, p->y + 4, c3 - 8, amt, FONT " Bold 10",
                  PANGO_ALIGN_RIGHT);
    p->y += h + 8;
    hline(p, p->y);
    p->y += 10;
}

static void draw_qr(struct pdf *p, const char *url, double x, double y)
{
    QRcode *qr = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL || qr->width <= 0) {
        return;
    }
    double cell = QR_SIZE / (qr->width + 8); /* a quiet zone of four cells each side */
    cairo_set_source_rgb(p->cr, 0, 0, 0);
    for (int j = 0; j < qr->width; j++) {
        for (int i = 0; i < qr->width; i++) {
            if ((qr->data[j * qr->width + i] & 1) != 0) {
                cairo_rectangle(p->cr, x + (i + 4) * cell, y + (j + 4) * cell, cell, cell);
            }
        }
    }
    cairo_fill(p->cr);
    QRcode_free(qr);
}

static void draw_foot(struct pdf *p, const struct rcp_receipt *r, const char *signed_note)
{
    p->y += 36;
    draw_qr(p, r->verify_url, MARGIN, p->y);
    char line[1024];
    char code[RCP_LOOKUP_SHOWN_BYTES];
    rcp_lookup_code_show(r->lookup_code, code);
    if (code[0] != '\0') {
        (void)snprintf(line, sizeof(line),
                       "Mã tra cứu (lookup code): %s\nTra cứu, xác minh biên lai:\n%s", code,
                       r->verify_url);
    } else {
        (void)snprintf(line, sizeof(line), "Tra cứu, xác minh biên lai:\n%s", r->verify_url);
    }
    (void)text_at(p, MARGIN, p->y + QR_SIZE + 2, TEXT_W * 0.5, line, FONT " 7", PANGO_ALIGN_LEFT);
    double x = MARGIN + TEXT_W * 0.5;
    double w = TEXT_W * 0.5;
    double h = text_at(p, x, p->y, w, "ĐƠN VỊ THU TIỀN", FONT " Bold 10", PANGO_ALIGN_CENTER);
    h += text_at(p, x, p->y + h, w, "(Ký điện tử)", FONT " Oblique 9", PANGO_ALIGN_CENTER) + 8;
    (void)snprintf(line, sizeof(line), "%s\n%s",
                   signed_note != NULL ? "Đã ký số bởi:" : "Chưa ký số",
                   signed_note != NULL ? signed_note : "(chưa cấu hình chứng thư số)");
    cairo_set_source_rgb(p->cr, 0.05, 0.35, 0.15);
    cairo_rectangle(p->cr, x + 20, p->y + h, w - 40, 78);
    cairo_stroke(p->cr);
    (void)text_at(p, x + 26, p->y + h + 6, w - 52, line, FONT " 8", PANGO_ALIGN_CENTER);
    cairo_set_source_rgb(p->cr, 0, 0, 0);
}

static void draw_receipt(struct pdf *p, const struct rcp_receipt *r, const char *signed_note)
{
    cairo_set_source_rgb(p->cr, 0, 0, 0);
    draw_head(p, r);
    row(p, "Họ tên người nộp", r->payer.name);
    row(p, "Số giấy tờ tùy thân", r->payer.id_number);
    row(p, "Địa chỉ", r->payer.address);
    row(p, "Mã hồ sơ", r->order_ref);
    row(p, "Mã thanh toán", r->payment_id);
    row(p, "Hình thức thanh toán",
        r->channel_name != NULL && r->channel_name[0] != '\0' ? r->channel_name : r->channel);
    row(p, "Mã giao dịch", r->provider_txn_id);
    p->y += 10;
    draw_items(p, r);
    char words[RCP_WORDS_BYTES];
    char line[RCP_WORDS_BYTES + 64];
    struct gw_errbuf eb;
    if (rcp_words_vnd(r->total_vnd, 0, words, sizeof(words), &eb) != GW_OK) {
        words[0] = '\0';
    }
    (void)snprintf(line, sizeof(line), "Số tiền bằng chữ: %s.", words);
    p->y += text_at(p, MARGIN, p->y, TEXT_W, line, FONT " Oblique 10", PANGO_ALIGN_LEFT);
    draw_foot(p, r, signed_note);
}

enum gw_err rcp_pdf_render(const struct rcp_receipt *r, const char *signed_note, struct gw_buf *out,
                           struct gw_errbuf *eb)
{
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(pdf_write, out, PAGE_W, PAGE_H);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return gw_fail(eb, GW_ERR_NOMEM, "could not create the PDF surface");
    }
    char title[256];
    (void)snprintf(title, sizeof(title), "Biên lai %s %s số %s", r->tmpl, r->series, r->number);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "feegate");
    struct pdf p = { .cr = cairo_create(s), .y = MARGIN };
    draw_receipt(&p, r, signed_note);
    cairo_show_page(p.cr);
    cairo_status_t st = cairo_status(p.cr);
    cairo_destroy(p.cr);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS) {
        st = cairo_surface_status(s);
    }
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        return gw_fail(eb, GW_ERR_INTERNAL, "could not render the PDF: %s",
                       cairo_status_to_string(st));
    }
    return GW_OK;
}

void rcp_pdf_thread_release(void)
{
    /* pango's default font map is per thread: release this thread's. */
    pango_cairo_font_map_set_default(NULL);
}

void rcp_shutdown(void)
{
    /* Font and library caches, so that leak checkers see a clean exit. */
    pango_cairo_font_map_set_default(NULL);
    cairo_debug_reset_static_data();
    FcFini();
    (void)xmlSecCryptoShutdown();
    (void)xmlSecCryptoAppShutdown();
    (void)xmlSecShutdown();
    xmlCleanupParser();
}
