/* ledger/: a statement reader. The CSV family: the canonical file, VNPAY's and MoMo's daily exports
 * (ldg_csv.c). */
#ifndef GW_LEDGER_LDG_CSV_H
#define GW_LEDGER_LDG_CSV_H

#include "ldg_stmt_line.h"

/* An ldg_stmt_reader_fn. */
enum gw_err ldg_csv_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                          void *arg, struct ldg_stmt_info *info,
                          struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
