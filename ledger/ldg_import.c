/* The statement importer and the generic blocking call of a recon SQL function. One import
 * is one transaction: the file's sha256 first (a file imported before adds nothing), then
 * the parser streams lines into COPY ... FROM STDIN of a temporary table in 64 KiB chunks,
 * then feegate.stmt_import keeps the lines whose identity is new. Memory stays bounded by
 * the chunk and one line, whatever the file size. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_time.h"
#include "ldg_int.h"
#include "ldg_recon.h"

#include "banned.h"

#define IMPORT_CHUNK_BYTES   ((size_t)64 * 1024)
#define IMPORT_TIMEOUT       "30min"
#define PROGRESS_EVERY_LINES 50000

static enum gw_err file_sha256(const char *path, char out[GW_SHA256_HEX_BYTES],
                               struct gw_errbuf *eb)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return gw_fail(eb, GW_ERR_IO, "could not open \"%s\": %s", path, GW_STRERROR(errno));
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    GW_ASSERT(md != NULL);
    GW_ASSERT(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        GW_ASSERT(EVP_DigestUpdate(md, chunk, n) == 1);
    }
    bool bad = ferror(f) != 0;
    (void)fclose(f);
    unsigned char d[32];
    unsigned int dl = 0;
    GW_ASSERT(EVP_DigestFinal_ex(md, d, &dl) == 1);
    EVP_MD_CTX_free(md);
    if (bad) {
        return gw_fail(eb, GW_ERR_IO, "could not read \"%s\"", path);
    }
    gw_hex_encode(d, dl, out);
    return GW_OK;
}

struct import_ctx {
    PGconn *conn;
    const struct ldg_import_req *req;
    struct gw_buf chunk;
    int64_t started_us;
    bool tty;
};

static enum gw_err flush_chunk(struct import_ctx *ic, struct gw_errbuf *eb)
{
    if (ic->chunk.len == 0) {
        return GW_OK;
    }
    if (PQputCopyData(ic->conn, ic->chunk.data, (int)ic->chunk.len) != 1) {
        return gw_fail(eb, GW_ERR_DB, "could not send statement lines: %s",
                       PQerrorMessage(ic->conn));
    }
    gw_buf_reset(&ic->chunk);
    return GW_OK;
}

static void progress(struct import_ctx *ic, const struct ldg_stmt_info *info, bool last)
{
    if (ic->req->progress == NULL) {
        return;
    }
    double s = (double)(gw_monotonic_us() - ic->started_us) / 1e6;
    double pct =
        info->bytes_total > 0 ? 100.0 * (double)info->bytes_read / (double)info->bytes_total : 0.0;
    (void)fprintf(ic->req->progress, "\rimporting %s: %ld lines, %.0f%%, %.1f s%s", ic->req->path,
                  info->lines, last ? 100.0 : pct, s, last ? "\n" : "");
    (void)fflush(ic->req->progress);
}

/* One line as a COPY text row; the fields were checked (no tab, newline or backslash). */
static enum gw_err on_line(void *arg, const struct ldg_stmt_line *l,
                           const struct ldg_stmt_info *info, struct gw_errbuf *eb)
{
    struct import_ctx *ic = arg;
    enum gw_err err = ldg_stmt_line_check(l, eb);
    if (err != GW_OK) {
        return err;
    }
    char content[512];
    int n = snprintf(content, sizeof(content), "%s\x1f%s\x1f%s\x1f%s\x1f%lld\x1f%lld\x1f%s\x1f%s",
                     ic->req->provider, l->payment ? "payment" : "refund", l->merchant_ref,
                     l->provider_txn_id, (long long)l->amount_vnd, (long long)l->fee_vnd,
                     l->succeeded ? "succeeded" : "failed",
                     l->booked_at[0] != '\0' ? l->booked_at : l->booked_on);
    GW_ASSERT(n > 0 && (size_t)n < sizeof(content));
    char sha[GW_SHA256_HEX_BYTES];
    gw_sha256_hex(content, (size_t)n, sha);
    err = gw_buf_printf(&ic->chunk, "%ld\t%s\t%s\t%s\t%lld\t%lld\t%s\t%s\t%s\t%s\n", l->line_no,
                        l->payment ? "payment" : "refund", l->merchant_ref, l->provider_txn_id,
                        (long long)l->amount_vnd, (long long)l->fee_vnd,
                        l->succeeded ? "succeeded" : "failed", l->booked_on,
                        l->booked_at[0] != '\0' ? l->booked_at : "\\N", sha);
    GW_ASSERT(err == GW_OK);
    if (ic->chunk.len >= IMPORT_CHUNK_BYTES - 1024 && (err = flush_chunk(ic, eb)) != GW_OK) {
        return err;
    }
    if (ic->tty && (info->lines + 1) % PROGRESS_EVERY_LINES == 0) {
        progress(ic, info, false);
    }
    return GW_OK;
}

static const char stage_sql[] =
    "CREATE TEMP TABLE stmt_stage (line_no int, kind text, merchant_ref text, "
    "provider_txn_id text, amount_vnd bigint, fee_vnd bigint, status text, booked_on date, "
    "booked_at timestamptz, content_sha256 text) ON COMMIT DROP";

/* The definer function reads the importer's temporary table: let its owner. */
static const char grant_sql[] =
    "DO $$ BEGIN EXECUTE format('GRANT SELECT ON pg_temp.stmt_stage TO %I', "
    "(SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'stmt_import' AND "
    "pronamespace = 'feegate'::regnamespace)); END $$";

/* Ends the COPY (with an error message to abort it) and reads its result. */
static enum gw_err copy_end(PGconn *conn, const char *abort_msg, struct gw_errbuf *eb)
{
    if (PQputCopyEnd(conn, abort_msg) != 1) {
        return gw_fail(eb, GW_ERR_DB, "could not end COPY: %s", PQerrorMessage(conn));
    }
    enum gw_err err = GW_OK;
    PGresult *r;
    while ((r = PQgetResult(conn)) != NULL) {
        if (abort_msg == NULL && err == GW_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
            err = ldg_fail_result(conn, r, "copy the statement lines", eb);
        }
        PQclear(r);
    }
    return err;
}

static enum gw_err stream_lines(struct import_ctx *ic, struct ldg_stmt_info *info,
                                struct gw_errbuf *eb)
{
    PGresult *r = PQexec(ic->conn, "COPY stmt_stage FROM STDIN");
    bool ok = PQresultStatus(r) == PGRES_COPY_IN;
    enum gw_err err = ok ? GW_OK : ldg_fail_result(ic->conn, r, "start COPY", eb);
    PQclear(r);
    if (err != GW_OK) {
        return err;
    }
    err = ldg_stmt_parse(ic->req->path, &ic->req->opts, on_line, ic, info, eb);
    if (err == GW_OK) {
        err = flush_chunk(ic, eb);
    }
    if (err != GW_OK) {
        struct gw_errbuf ignored;
        (void)copy_end(ic->conn, "statement refused", &ignored);
        return err;
    }
    return copy_end(ic->conn, NULL, eb);
}

static enum gw_err import_finish(struct import_ctx *ic, const char *sha,
                                 struct ldg_import_result *res, struct gw_errbuf *eb)
{
    const char *params[6] = {
        ic->req->provider, ic->req->day,  ldg_stmt_format_name(ic->req->opts.format), sha,
        ic->req->path,     ic->req->staff
    };
    PGresult *r = PQexecParams(ic->conn,
                               "SELECT file_id, lines_read, lines_added, replayed FROM "
                               "feegate.stmt_import($1, $2::date, $3, $4, $5, $6)",
                               6, NULL, params, NULL, NULL, 0);
    enum gw_err err = GW_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        err = ldg_fail_result(ic->conn, r, "import the statement", eb);
    } else {
        res->file_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        res->lines_read = strtol(PQgetvalue(r, 0, 1), NULL, 10);
        res->lines_added = strtol(PQgetvalue(r, 0, 2), NULL, 10);
        res->replayed = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    }
    PQclear(r);
    return err;
}

/* Asks first whether the file is known, so a replay does not even parse it. */
static enum gw_err import_check(PGconn *conn, const struct ldg_import_req *req, const char *sha,
                                bool *known, struct gw_errbuf *eb)
{
    const char *params[3] = { req->provider, req->day, sha };
    PGresult *r = PQexecParams(conn, "SELECT feegate.stmt_import_check($1, $2::date, $3)", 3, NULL,
                               params, NULL, NULL, 0);
    enum gw_err err = GW_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        err = ldg_fail_result(conn, r, "check the statement", eb);
    } else {
        *known = !PQgetisnull(r, 0, 0);
    }
    PQclear(r);
    return err;
}

static enum gw_err import_tx(struct import_ctx *ic, const char *sha, struct ldg_import_result *res,
                             struct gw_errbuf *eb)
{
    bool known = false;
    enum gw_err err = ldg_exec(ic->conn, "BEGIN", "begin", eb);
    if (err == GW_OK) {
        err = import_check(ic->conn, ic->req, sha, &known, eb);
    }
    if (err == GW_OK && !known) {
        struct ldg_stmt_info info;
        err = ldg_exec(ic->conn, stage_sql, "create the staging table", eb);
        if (err == GW_OK) {
            err = ldg_exec(ic->conn, grant_sql, "grant the staging table", eb);
        }
        if (err == GW_OK) {
            err = stream_lines(ic, &info, eb);
        }
        if (err == GW_OK && ic->tty) {
            progress(ic, &info, true);
        }
    }
    if (err == GW_OK) {
        err = import_finish(ic, sha, res, eb);
    }
    if (err == GW_OK) {
        return ldg_exec(ic->conn, "COMMIT", "commit the import", eb);
    }
    PQclear(PQexec(ic->conn, "ROLLBACK"));
    return err;
}

enum gw_err ldg_stmt_import_blocking(const char *dsn, const struct ldg_import_req *req,
                                     struct ldg_import_result *res, struct gw_errbuf *eb)
{
    GW_ASSERT(req != NULL && req->path != NULL);
    GW_ASSERT(req->provider != NULL && req->day != NULL);
    memset(res, 0, sizeof(*res));
    char sha[GW_SHA256_HEX_BYTES];
    enum gw_err err = file_sha256(req->path, sha, eb);
    if (err != GW_OK) {
        return err;
    }
    struct import_ctx ic = { .req = req,
                             .started_us = gw_monotonic_us(),
                             .tty = req->progress != NULL && isatty(fileno(req->progress)) };
    err = ldg_connect(dsn, IMPORT_TIMEOUT, &ic.conn, eb);
    if (err != GW_OK) {
        return err;
    }
    gw_buf_init(&ic.chunk, IMPORT_CHUNK_BYTES);
    err = import_tx(&ic, sha, res, eb);
    gw_buf_release(&ic.chunk);
    PQfinish(ic.conn);
    return err;
}

enum gw_err ldg_call_text_blocking(const char *dsn, const char *sql, int n,
                                   const char *const *params, struct gw_buf *out,
                                   struct gw_errbuf *eb)
{
    PGconn *conn = NULL;
    enum gw_err err = ldg_connect(dsn, IMPORT_TIMEOUT, &conn, eb);
    if (err != GW_OK) {
        return err;
    }
    char *q = gw_xmalloc(strlen(sql) + 8);
    (void)snprintf(q, strlen(sql) + 8, "SELECT %s", sql);
    PGresult *r = PQexecParams(conn, q, n, NULL, params, NULL, NULL, 0);
    gw_xfree(q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1) {
        err = ldg_fail_result(conn, r, "run the request", eb);
    } else if (!PQgetisnull(r, 0, 0) && gw_buf_adds(out, PQgetvalue(r, 0, 0)) != GW_OK) {
        err = gw_fail(eb, GW_ERR_LIMIT, "the answer is larger than the buffer");
    }
    PQclear(r);
    PQfinish(conn);
    return err;
}
