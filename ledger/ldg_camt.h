/* ledger/: a statement reader. ISO 20022 camt.053 bank-to-customer statements (ldg_camt.c). */
#ifndef GW_LEDGER_LDG_CAMT_H
#define GW_LEDGER_LDG_CAMT_H

#include "ldg_stmt_line.h"

/* An ldg_stmt_reader_fn. */
enum gw_err ldg_camt_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                           void *arg, struct ldg_stmt_info *info,
                           struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
