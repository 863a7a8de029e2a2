/* ledger/ private: the pieces the statement parsers share. */
#ifndef GW_LEDGER_LDG_STMT_INT_H
#define GW_LEDGER_LDG_STMT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_err.h"
#include "ldg_recon.h"

/* A date "YYYY-MM-DD" or a date-time "YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH:MM|-HH:MM]" (also
 * with a space for T; no offset means Vietnam time) -> the Vietnam date, and the instant
 * as RFC 3339 in Vietnam time ("" for a date). false if it is not one. */
bool ldg_time_vn(const char *s, char booked_on[11], char booked_at[26]);

/* A decimal amount "123", "123.00" -> whole units. With whole_only, a non-zero fraction
 * is refused (VND has no minor unit); otherwise the fraction is dropped. */
bool ldg_amount_parse(const char *s, bool whole_only, int64_t *out);

/* Reads one line into buf (CR LF stripped); false at end of file. A line longer than the
 * buffer sets *too_long. Adds the bytes read to *bytes. */
bool ldg_read_line(FILE *f, char *buf, size_t cap, bool *too_long, long long *bytes);

/* Copies src into a reference field, setting line->too_long if it does not fit. */
void ldg_ref_set(struct ldg_stmt_line *line, char *dst, const char *src, size_t len);

/* The parsers behind ldg_stmt_parse. */
enum gw_err ldg_camt_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                           void *arg, struct ldg_stmt_info *info,
                           struct gw_errbuf *eb) GW_MUST_CHECK;
enum gw_err ldg_jsonl_parse(const char *path, const struct ldg_stmt_opts *opts,
                            ldg_stmt_line_fn *fn, void *arg, struct ldg_stmt_info *info,
                            struct gw_errbuf *eb) GW_MUST_CHECK;
enum gw_err ldg_csv_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                          void *arg, struct ldg_stmt_info *info,
                          struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
