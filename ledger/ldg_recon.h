/* Reconciliation for the command line and workers (docs/reconciliation.md): statement
 * parsers (canonical CSV, the simulated providers' files, ISO 20022 camt.053), the streaming
 * importer, blocking calls of the recon SQL functions, and the day report renderer. Every
 * *_blocking function opens its own libpq connection and is never called from an event
 * loop; the parsers and the renderer do no database work. */
#ifndef GW_LEDGER_LDG_RECON_H
#define GW_LEDGER_LDG_RECON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_buf.h"
#include "gw_err.h"
#include "ldg_stmt_line.h"

/* Reads the statement at path and calls fn for each line, in file order, streaming (bounded
 * memory whatever the file size). A malformed line or document stops the parse with
 * GW_ERR_INVALID and a message naming the line and the reason; an error from fn stops it
 * too and is returned. Blocking (file I/O). */
enum gw_err ldg_stmt_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                           void *arg, struct ldg_stmt_info *info,
                           struct gw_errbuf *eb) GW_MUST_CHECK;

/* "canonical", "vnpay", "momo", "zalopay", "camt053" -> format; false if unknown. */
bool ldg_stmt_format_parse(const char *name, enum ldg_stmt_format *out);
const char *ldg_stmt_format_name(enum ldg_stmt_format f);

struct ldg_import_req {
    const char *path;
    const char *provider; /* a channel code */
    const char *day;      /* YYYY-MM-DD, the statement's business day */
    const char *staff;    /* may be NULL (then nothing is recorded as the importer) */
    struct ldg_stmt_opts opts;
    FILE *progress; /* NULL: silent; else a line of progress now and then */
};

struct ldg_import_result {
    long long file_id;
    long lines_read;
    long lines_added;
    bool replayed; /* the same file was imported before: nothing added */
};

/* Imports one statement file in one transaction: sha256 of the file (a file imported
 * before adds nothing), parse, COPY into a temporary table, then feegate.stmt_import moves
 * the lines whose identity is new. Any malformed line imports nothing. Blocking. */
enum gw_err ldg_stmt_import_blocking(const char *dsn, const struct ldg_import_req *req,
                                     struct ldg_import_result *res,
                                     struct gw_errbuf *eb) GW_MUST_CHECK;

/* Calls one SQL function that returns one text or json value, as `SELECT sql` with n text
 * parameters, and appends the value to out. FGnnn errors come back as GW_ERR_DB with the
 * function's code and sentence in eb. Blocking. */
enum gw_err ldg_call_text_blocking(const char *dsn, const char *sql, int n,
                                   const char *const *params, struct gw_buf *out,
                                   struct gw_errbuf *eb) GW_MUST_CHECK;

enum ldg_report_format {
    LDG_REPORT_JSON,
    LDG_REPORT_CSV,
    LDG_REPORT_HTML,
};

bool ldg_report_format_parse(const char *name, enum ldg_report_format *out);

/* Renders the day report (the JSON of feegate.day_report) as JSON (pretty), CSV, or HTML
 * with inline SVG charts, appending to out. Pure: no I/O. */
enum gw_err ldg_report_render(const char *json, enum ldg_report_format format, struct gw_buf *out,
                              struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
