/* ledger/: a statement reader. JSON lines statements: ZaloPay's daily file (ldg_jsonl.c). */
#ifndef GW_LEDGER_LDG_JSONL_H
#define GW_LEDGER_LDG_JSONL_H

#include "ldg_stmt_line.h"

/* An ldg_stmt_reader_fn. */
enum gw_err ldg_jsonl_parse(const char *path, const struct ldg_stmt_opts *opts,
                            ldg_stmt_line_fn *fn, void *arg, struct ldg_stmt_info *info,
                            struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
