/* The public verification page, /verify, answering from what its visitor holds
 * (docs/privacy.md): the receipt's lookup code (GET ?code=, as printed on the receipt and in
 * its QR code), or its XML file (POST, multipart or bare), checked on the receipt worker
 * (signature, chain to the CA, digest, totals) and then looked up by the id it carries. Both
 * show the receipt as feegate.receipt_verify gives it to someone who holds only its code: the
 * payer's ID number masked, no address, nothing that opens another page. A series and number
 * (which anyone can walk) only proves that the receipt exists. In the page's language, with
 * GOV.UK error summaries for an empty form, a code of the wrong shape, an empty upload or a
 * file that is not a receipt. */
#include "page_verify.h"

#include <jansson.h>
#include <string.h>

#include <event2/event.h>

#include "gw_limits.h"
#include "gw_multipart.h"
#include "gw_url.h"
#include "page_common.h"
#include "page_view.h"
#include "rcp.h"
#include "receipt_worker.h"
#include "request.h"

#include "banned.h"

/* What went wrong with the form, for its error summary (GW_MSG_COUNT: nothing). */
struct verify_form {
    enum gw_msg code_error;
    enum gw_msg file_error;
    const char *code; /* as the visitor typed it, shown again */
};

static void pg_code_field(struct gw_page *p, const struct verify_form *f)
{
    bool bad = f->code_error != GW_MSG_COUNT;
    gw_pg_f(p,
            "<form class=\"card%s\" method=\"get\" action=\"/verify\" novalidate>"
            "<div class=\"field\"><label for=\"code\"><strong>",
            bad ? " has-error" : "");
    gw_pg_m(p, GW_MSG_V_CODE_LABEL);
    gw_pg_s(p, "</strong></label><p class=\"hint\" id=\"code-hint\">");
    gw_pg_m(p, GW_MSG_V_CODE_HINT);
    gw_pg_s(p, "</p>");
    if (bad) {
        gw_pg_field_error(p, f->code_error, "code-error");
    }
    gw_pg_f(p,
            "<input type=\"text\" id=\"code\" name=\"code\" maxlength=\"%d\" "
            "autocomplete=\"off\" spellcheck=\"false\" autocapitalize=\"characters\" "
            "aria-describedby=\"code-hint%s\" value=\"",
            (int)GW_LOOKUP_CODE_INPUT_BYTES_MAX, bad ? " code-error" : "");
    gw_pg_e(p, f->code != NULL ? f->code : "");
    gw_pg_f(p,
            "\"></div><input type=\"hidden\" name=\"lang\" value=\"%s\"><p>"
            "<button type=\"submit\">",
            gw_i18n_code(p->lang));
    gw_pg_m(p, GW_MSG_V_LOOKUP);
    gw_pg_s(p, "</button></p></form>");
}

static void pg_file_field(struct gw_page *p, const struct verify_form *f)
{
    bool bad = f->file_error != GW_MSG_COUNT;
    gw_pg_f(p,
            "<form class=\"card%s\" method=\"post\" action=\"/verify?lang=%s\" "
            "enctype=\"multipart/form-data\" novalidate><div class=\"field\">"
            "<label for=\"xml\"><strong>",
            bad ? " has-error" : "", gw_i18n_code(p->lang));
    gw_pg_m(p, GW_MSG_V_FILE_LABEL);
    gw_pg_s(p, "</strong></label><p class=\"hint\" id=\"xml-hint\">");
    gw_pg_m(p, GW_MSG_V_FILE_HINT);
    gw_pg_s(p, "</p>");
    if (bad) {
        gw_pg_field_error(p, f->file_error, "xml-error");
    }
    gw_pg_f(p,
            "<input type=\"file\" id=\"xml\" name=\"xml\" "
            "accept=\".xml,application/xml,text/xml\" aria-describedby=\"xml-hint%s\"></div>"
            "<p><button type=\"submit\">",
            bad ? " xml-error" : "");
    gw_pg_m(p, GW_MSG_V_CHECK_FILE);
    gw_pg_s(p, "</button></p></form>");
}

/* A row whose value is dynamic text; nothing when empty. */
static void pg_row(struct gw_page *p, enum gw_msg label, const char *value)
{
    gw_pg_dl_row(p, label, value);
}

/* "Signed by <agency>": the collecting agency when the document is signed (the database's
 * word), else the subject's CN of the certificate that signed an uploaded file. */
static void pg_signed_by(struct gw_page *p, const char *who)
{
    if (who == NULL || who[0] == '\0') {
        return;
    }
    gw_pg_s(p, "<p>");
    gw_pg_m(p, GW_MSG_V_SIGNED_BY);
    gw_pg_s(p, " <strong>");
    gw_pg_e(p, who);
    gw_pg_s(p, "</strong></p>");
}

/* The CN of an X.509 subject as OpenSSL prints it ("C=VN, O=..., CN=Name"), or "". */
static const char *subject_cn(struct gw_ctx *ctx, const char *subject)
{
    const char *cn = subject != NULL ? strstr(subject, "CN=") : NULL;
    if (cn == NULL) {
        return "";
    }
    cn += 3;
    size_t n = strcspn(cn, ",/");
    const char *s = gw_arena_strndup(&ctx->arena, cn, n);
    return s != NULL ? s : "";
}

static void pg_marks(struct gw_page *p, const struct rcp_receipt_view *v)
{
    for (size_t i = 0; i < v->n_marks; i++) {
        const char *m = v->marks[i].mark;
        gw_pg_s(p, "<p class=\"card bad\"><strong>");
        gw_pg_m(p, strcmp(m, "cancelled") == 0  ? GW_MSG_V_MARK_CANCELLED
                   : strcmp(m, "replaced") == 0 ? GW_MSG_V_MARK_REPLACED
                                                : GW_MSG_V_MARK_ADJUSTED);
        gw_pg_s(p, "</strong>");
        if (v->marks[i].reason[0] != '\0') {
            gw_pg_s(p, ": ");
            gw_pg_e(p, v->marks[i].reason);
        }
        gw_pg_s(p, "</p>");
    }
}

/* The technical details, behind a disclosure: the certificate and the hashes. */
static void pg_technical(struct gw_page *p, const struct rcp_verify_result *r,
                         const struct rcp_receipt_view *v)
{
    bool any = (r != NULL && (r->signer[0] != '\0' || r->reason[0] != '\0')) ||
               (v != NULL && v->document_sha256[0] != '\0');
    if (!any) {
        return;
    }
    gw_pg_s(p, "<details><summary>");
    gw_pg_m(p, GW_MSG_V_TECHNICAL);
    gw_pg_s(p, "</summary><dl>");
    if (r != NULL && r->reason[0] != '\0') {
        /* the verifier's own words, in English */
        gw_pg_s(p, "<dt>");
        gw_pg_m(p, GW_MSG_V_INVALID);
        gw_pg_s(p, "</dt><dd lang=\"en\">");
        gw_pg_e(p, r->reason);
        gw_pg_s(p, "</dd>");
    }
    if (r != NULL && r->signer[0] != '\0') {
        pg_row(p, GW_MSG_V_SUBJECT, r->signer);
        gw_pg_s(p, "<dt>");
        gw_pg_m(p, GW_MSG_V_CERT_SHA256);
        gw_pg_s(p, "</dt><dd class=\"hash\">");
        gw_pg_e(p, r->fingerprint);
        gw_pg_s(p, "</dd>");
    }
    if (v != NULL && v->document_sha256[0] != '\0') {
        gw_pg_s(p, "<dt>");
        gw_pg_m(p, GW_MSG_V_DOC_SHA256);
        gw_pg_s(p, "</dt><dd class=\"hash\">");
        gw_pg_e(p, v->document_sha256);
        gw_pg_s(p, "</dd>");
    }
    gw_pg_s(p, "</dl></details>");
}

static void pg_series_number(struct gw_page *p, const struct rcp_receipt *r)
{
    gw_pg_s(p, "<dt>");
    gw_pg_m(p, GW_MSG_V_SERIES_NUMBER);
    gw_pg_s(p, "</dt><dd>");
    gw_pg_e(p, r->series);
    gw_pg_s(p, " / ");
    gw_pg_e(p, r->number);
    gw_pg_s(p, "</dd>");
}

/* The receipt as its code's holder sees it (receipt_verify's "match": "code"). */
static void pg_receipt(struct gw_page *p, const struct rcp_receipt_view *v)
{
    const struct rcp_receipt *r = &v->r;
    gw_pg_s(p, "<dl>");
    pg_row(p, GW_MSG_V_COLLECTOR, r->collector.name);
    pg_series_number(p, r);
    char when[GW_FMT_WHEN_BYTES];
    pg_row(p, GW_MSG_V_ISSUED, gw_fmt_when(p->lang, r->issued_at, false, when) ? when : "");
    pg_row(p, GW_MSG_PAYER, r->payer.name);
    pg_row(p, GW_MSG_V_PAYER_ID, r->payer.id_number);
    pg_row(p, GW_MSG_V_PAID_THROUGH, r->channel_name[0] != '\0' ? r->channel_name : r->channel);
    gw_pg_s(p, "<dt>");
    gw_pg_m(p, GW_MSG_TOTAL);
    gw_pg_s(p, "</dt><dd>");
    gw_pg_vnd(p, r->total_vnd);
    gw_pg_s(p, "</dd></dl>");
    pg_marks(p, v);
}

/* What the page found. */
struct verify_result {
    const struct rcp_verify_result *upload; /* an uploaded file's check, or NULL */
    const struct rcp_receipt_view *view;    /* the database's receipt, or NULL */
    bool by_number;                         /* view is a series and number's existence */
    bool looked_up;                         /* a code was looked up (found or not) */
};

static void pg_upload_verdict(struct gw_ctx *ctx, struct gw_page *p, const struct verify_result *vr)
{
    const struct rcp_verify_result *u = vr->upload;
    gw_pg_f(p, "<section class=\"card %s\" role=\"status\"><h2>", u->valid ? "ok" : "bad");
    gw_pg_m(p, u->valid ? GW_MSG_V_VALID : GW_MSG_V_INVALID);
    gw_pg_s(p, "</h2>");
    if (!u->valid) {
        gw_pg_s(p, "<p>");
        gw_pg_m(p, u->verdict == RCP_VERDICT_NOT_SIGNED  ? GW_MSG_V_WHY_NOT_SIGNED
                   : u->verdict == RCP_VERDICT_UNTRUSTED ? GW_MSG_V_WHY_UNTRUSTED
                   : u->verdict == RCP_VERDICT_ALTERED   ? GW_MSG_V_WHY_ALTERED
                                                         : GW_MSG_V_WHY_INCONSISTENT);
        gw_pg_s(p, "</p>");
    } else {
        pg_signed_by(p, vr->view != NULL && vr->view->r.collector.name[0] != '\0'
                            ? vr->view->r.collector.name
                            : subject_cn(ctx, u->signer));
        if (vr->view != NULL) {
            pg_receipt(p, vr->view);
        } else {
            gw_pg_s(p, "<p>");
            gw_pg_m(p, GW_MSG_V_NOT_IN_RECORDS);
            gw_pg_s(p, "</p>");
        }
    }
    pg_technical(p, u, u->valid ? vr->view : NULL);
    gw_pg_s(p, "</section>");
}

static void pg_lookup_verdict(struct gw_page *p, const struct verify_result *vr)
{
    const struct rcp_receipt_view *v = vr->view;
    gw_pg_f(p, "<section class=\"card %s\" role=\"status\"><h2>", v != NULL ? "ok" : "bad");
    if (v == NULL) {
        gw_pg_m(p, GW_MSG_V_NOT_FOUND);
        gw_pg_s(p, "</h2><p>");
        gw_pg_m(p, GW_MSG_V_NOT_FOUND_HINT);
        gw_pg_s(p, "</p>");
    } else if (vr->by_number) {
        gw_pg_m(p, GW_MSG_V_NUMBER_EXISTS);
        gw_pg_s(p, "</h2><dl>");
        pg_row(p, GW_MSG_V_COLLECTOR, v->r.collector.name);
        pg_series_number(p, &v->r);
        gw_pg_s(p, "</dl><p>");
        gw_pg_m(p, GW_MSG_V_NUMBER_HINT);
        gw_pg_s(p, "</p>");
    } else {
        gw_pg_m(p, GW_MSG_V_FOUND);
        gw_pg_s(p, "</h2>");
        if (v->is_signed) {
            pg_signed_by(p, v->r.collector.name);
        } else {
            gw_pg_s(p, "<p>");
            gw_pg_m(p, v->issued ? GW_MSG_V_UNSIGNED : GW_MSG_V_NOT_SIGNED_YET);
            gw_pg_s(p, "</p>");
        }
        pg_receipt(p, v);
        pg_technical(p, NULL, v);
    }
    gw_pg_s(p, "</section>");
}

/* The page: the error summary or the verdict, then both forms. */
static void verify_render(struct gw_ctx *ctx, const struct verify_result *vr,
                          const struct verify_form *f, int status)
{
    struct gw_page p;
    gw_page_init(&p, gw_page_state_of(ctx)->lang);
    bool error = f->code_error != GW_MSG_COUNT || f->file_error != GW_MSG_COUNT;
    gw_page_begin(&p, gw_page_title(ctx, p.lang, GW_MSG_V_TITLE, error),
                  p.lang == GW_LANG_EN ? "/verify?lang=vi" : "/verify?lang=en");
    if (f->code_error != GW_MSG_COUNT) {
        gw_pg_error_summary(&p, f->code_error, "code");
    } else if (f->file_error != GW_MSG_COUNT) {
        gw_pg_error_summary(&p, f->file_error, "xml");
    }
    gw_pg_heading(&p, GW_MSG_V_TITLE);
    if (vr != NULL && vr->upload != NULL) {
        pg_upload_verdict(ctx, &p, vr);
    } else if (vr != NULL && vr->looked_up) {
        pg_lookup_verdict(&p, vr);
    } else {
        gw_pg_s(&p, "<p>");
        gw_pg_m(&p, GW_MSG_V_INTRO);
        gw_pg_s(&p, "</p>");
    }
    pg_code_field(&p, f);
    pg_file_field(&p, f);
    gw_page_end(&p);
    gw_page_send(ctx, &p, status);
}

static const struct verify_form form_ok = { .code_error = GW_MSG_COUNT,
                                            .file_error = GW_MSG_COUNT,
                                            .code = NULL };

/* receipt_verify's "match": "number" (existence only) or "code". */
static bool match_is_number(const char *json)
{
    json_t *v = json_loads(json, 0, NULL);
    bool number = strcmp(gw_json_str(v, "match"), "number") == 0;
    json_decref(v);
    return number;
}

static void verify_db_done(void *arg, enum gw_err err, const PGresult *res)
{
    struct gw_ctx *ctx = arg;
    struct gw_page_state *st = gw_page_state_of(ctx);
    if (err != GW_OK) {
        gw_page_db_error(ctx, err, res, NULL);
        return;
    }
    /* No receipt (or none that reads) is a verdict, not an error. */
    const char *json =
        PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : NULL;
    struct rcp_receipt_view v;
    struct gw_errbuf eb = { .msg = "" };
    bool found = json != NULL && rcp_receipt_view_from_json(json, &ctx->arena, &v, &eb) == GW_OK;
    struct verify_result vr = {
        .upload = st->task != NULL ? &st->task->verify : NULL,
        .view = found ? &v : NULL,
        .by_number = found && match_is_number(json),
        .looked_up = true,
    };
    struct verify_form f = form_ok;
    f.code = st->id;
    verify_render(ctx, &vr, &f, found || vr.upload != NULL ? 200 : 404);
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
        gw_page_error(ctx, 503, GW_MSG_UNAVAILABLE, NULL);
        return;
    }
    if (t->verify.verdict == RCP_VERDICT_NOT_RECEIPT) {
        struct verify_form f = form_ok;
        f.file_error = GW_MSG_V_ERR_NOT_RECEIPT;
        verify_render(ctx, NULL, &f, 422);
        return;
    }
    if (!t->verify.valid || t->verify.id[0] == '\0') {
        const struct verify_result vr = { .upload = &t->verify, .looked_up = false };
        verify_render(ctx, &vr, &form_ok, 200);
        return;
    }
    ctx->params[0] = t->verify.id;
    gw_ctx_query(ctx, "SELECT feegate.receipt_verify($1)", 1, verify_db_done);
}

/* A code of a shape receipt_verify reads: a receipt id (rcp_ and 32 hex digits), a series
 * and number ("AA-26E/0000001", with the template before them or not), or a lookup code
 * (12 characters of Crockford's base32 once dashes and spaces are dropped; O, I and L read
 * as 0, 1 and 1, and case does not matter). */
static bool lookup_shape_ok(const char *code)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZOIL";
    size_t chars = 0;
    for (const char *c = code; *c != '\0'; c++) {
        if (*c == '-' || *c == ' ') {
            continue;
        }
        int up = *c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c;
        if (strchr(alphabet, up) == NULL) {
            return false;
        }
        chars++;
    }
    return chars == GW_LOOKUP_CODE_CHARS;
}

static bool code_shape_ok(const char *code)
{
    size_t len = strlen(code);
    if (len == 36 && strncmp(code, "rcp_", 4) == 0 && strspn(code + 4, "0123456789abcdef") == 32) {
        return true;
    }
    const char *slash = strrchr(code, '/');
    if (slash != NULL) {
        const char *num = slash + 1;
        size_t n = strlen(num);
        return slash != code && n >= 1 && n <= 7 && strspn(num, "0123456789") == n;
    }
    return lookup_shape_ok(code);
}

static void verify_get(struct gw_ctx *ctx)
{
    struct gw_page_state *st = gw_page_state_of(ctx);
    const char *code = NULL;
    struct gw_kv *kv = NULL;
    size_t n = 0;
    if (ctx->query != NULL && gw_form_parse(&ctx->arena, ctx->query, strlen(ctx->query),
                                            GW_PAGE_FORM_PAIRS_MAX, &kv, &n) == GW_OK) {
        code = gw_kv_get(kv, n, "code");
    }
    if (code == NULL) {
        verify_render(ctx, NULL, &form_ok, 200);
        return;
    }
    struct verify_form f = form_ok;
    size_t lead = strspn(code, " \t");
    size_t len = strlen(code + lead);
    while (len > 0 && (code[lead + len - 1] == ' ' || code[lead + len - 1] == '\t')) {
        len--;
    }
    const char *trimmed = gw_arena_strndup(&ctx->arena, code + lead, len);
    f.code = code;
    if (trimmed == NULL || len == 0) {
        f.code_error = GW_MSG_V_ERR_CODE_EMPTY;
        verify_render(ctx, NULL, &f, 400);
        return;
    }
    if (len > GW_LOOKUP_CODE_INPUT_BYTES_MAX + 32 || !code_shape_ok(trimmed)) {
        f.code_error = GW_MSG_V_ERR_CODE_SHAPE;
        verify_render(ctx, NULL, &f, 400);
        return;
    }
    st->id = trimmed;
    ctx->params[0] = trimmed;
    gw_ctx_query(ctx, "SELECT feegate.receipt_verify($1)", 1, verify_db_done);
}

void gw_page_verify(struct gw_ctx *ctx, bool get)
{
    if (get) {
        verify_get(ctx);
        return;
    }
    const char *ctype = gw_ctx_header(ctx, "Content-Type");
    struct gw_multipart_part xml = { .data = ctx->body, .len = ctx->body_len };
    if (ctype != NULL && strncmp(ctype, "multipart/form-data", 19) == 0 &&
        !gw_multipart_file(ctype, ctx->body, ctx->body_len, "xml", &xml)) {
        xml.len = 0;
    }
    if (xml.len == 0) {
        struct verify_form f = form_ok;
        f.file_error = GW_MSG_V_ERR_FILE_EMPTY;
        verify_render(ctx, NULL, &f, 400);
        return;
    }
    gw_page_submit_task(ctx, GW_RECEIPT_TASK_VERIFY, xml.data, xml.len, verify_upload_done);
}
