/* ledger/: one statement line as every format reader hands it on, what a reader is, and the
 * helpers the readers share (dates in Vietnam time, amounts, references, lines of text).
 * Below the readers (ldg_csv.c, ldg_camt.c, ldg_jsonl.c) and their dispatch (ldg_stmt.c). */
#ifndef GW_LEDGER_LDG_STMT_LINE_H
#define GW_LEDGER_LDG_STMT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_err.h"

#define LDG_REF_BYTES_MAX  64   /* merchant_ref and provider_txn_id */
#define LDG_LINE_BYTES_MAX 4096 /* one CSV line */

enum ldg_stmt_format {
    LDG_STMT_CANONICAL,
    LDG_STMT_VNPAY,
    LDG_STMT_MOMO,
    LDG_STMT_ZALOPAY,
    LDG_STMT_CAMT053,
};

/* One statement line as the parser read it. Strings are NUL-terminated and truncated to
 * their arrays (too_long says so); ldg_stmt_line_check validates them for import. */
struct ldg_stmt_line {
    long line_no;   /* 1-based line of the file (camt.053: the line of the <Ntry>) */
    bool payment;   /* false: a refund (camt.053: a debit entry) */
    bool succeeded; /* false: the provider reports it failed */
    bool too_long;  /* a reference did not fit */
    char merchant_ref[LDG_REF_BYTES_MAX + 1];
    char provider_txn_id[LDG_REF_BYTES_MAX + 1];
    int64_t amount_vnd;
    int64_t fee_vnd;
    char booked_on[11]; /* YYYY-MM-DD in Asia/Ho_Chi_Minh */
    char booked_at[26]; /* RFC 3339 with offset, "" when the statement gives a date only */
    char currency[4];
};

/* What a parse saw, updated as it goes (bytes for the progress display). */
struct ldg_stmt_info {
    long lines;      /* lines handed to the callback */
    long skipped;    /* camt.053 entries not booked (pending, information) */
    long statements; /* camt.053 <Stmt> elements */
    long long bytes_read;
    long long bytes_total;
    char version[16]; /* camt.053: "001.02" ... */
};

struct ldg_stmt_opts {
    enum ldg_stmt_format format;
    /* "VND": any other currency is an error; NULL accepts any (for reading foreign
     * samples; amounts then keep their integer part). */
    const char *currency;
};

typedef enum gw_err ldg_stmt_line_fn(void *arg, const struct ldg_stmt_line *line,
                                     const struct ldg_stmt_info *info, struct gw_errbuf *eb);

/* A format reader: reads the statement at path and calls fn for each line, in file order,
 * streaming; info->bytes_total is set by the caller. */
typedef enum gw_err ldg_stmt_reader_fn(const char *path, const struct ldg_stmt_opts *opts,
                                       ldg_stmt_line_fn *fn, void *arg, struct ldg_stmt_info *info,
                                       struct gw_errbuf *eb);

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

/* The rules an imported line must meet (references' alphabet, amounts, currency VND). */
enum gw_err ldg_stmt_line_check(const struct ldg_stmt_line *line,
                                struct gw_errbuf *eb) GW_MUST_CHECK;

/* True if s is a real date YYYY-MM-DD. */
bool ldg_day_valid(const char *s);

#endif
