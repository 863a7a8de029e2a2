/* Statement formats: each name and the reader behind it, in one const table, and
 * ldg_stmt_parse, which hands a file to its format's reader. The readers (ldg_csv.c,
 * ldg_camt.c, ldg_jsonl.c) know nothing of each other nor of this table. */
#include <string.h>
#include <sys/stat.h>

#include "gw_assert.h"
#include "ldg_camt.h"
#include "ldg_csv.h"
#include "ldg_jsonl.h"
#include "ldg_recon.h"

#include "banned.h"

struct stmt_format {
    const char *name;
    ldg_stmt_reader_fn *reader;
};

/* Indexed by enum ldg_stmt_format. */
static const struct stmt_format stmt_formats[] = {
    [LDG_STMT_CANONICAL] = { "canonical", ldg_csv_parse },
    [LDG_STMT_VNPAY] = { "vnpay", ldg_csv_parse },
    [LDG_STMT_MOMO] = { "momo", ldg_csv_parse },
    [LDG_STMT_ZALOPAY] = { "zalopay", ldg_jsonl_parse },
    [LDG_STMT_CAMT053] = { "camt053", ldg_camt_parse },
};

#define STMT_FORMATS_N (sizeof(stmt_formats) / sizeof(stmt_formats[0]))

bool ldg_stmt_format_parse(const char *name, enum ldg_stmt_format *out)
{
    for (size_t i = 0; i < STMT_FORMATS_N; i++) {
        if (strcmp(name, stmt_formats[i].name) == 0) {
            *out = (enum ldg_stmt_format)i;
            return true;
        }
    }
    return false;
}

const char *ldg_stmt_format_name(enum ldg_stmt_format f)
{
    GW_ASSERT((size_t)f < STMT_FORMATS_N);
    return stmt_formats[f].name;
}

enum gw_err ldg_stmt_parse(const char *path, const struct ldg_stmt_opts *opts, ldg_stmt_line_fn *fn,
                           void *arg, struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    GW_ASSERT(path != NULL);
    GW_ASSERT(fn != NULL);
    memset(info, 0, sizeof(*info));
    struct stat sb;
    if (stat(path, &sb) == 0) {
        info->bytes_total = (long long)sb.st_size;
    }
    /* A format outside the table reads as the canonical CSV (as the CSV reader's default). */
    ldg_stmt_reader_fn *reader =
        (size_t)opts->format < STMT_FORMATS_N ? stmt_formats[opts->format].reader : ldg_csv_parse;
    return reader(path, opts, fn, arg, info, eb);
}
