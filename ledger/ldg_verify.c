/* `feegate ledger verify`: recomputes the hash chain of feegate.journal_seals from the rows
 * of journals and postings, in C, over a streaming cursor in one repeatable-read snapshot.
 * The canonical text is the one journal_canon() builds in ledger/sql/base/ledger.sql: "J"
 * and the journal's fields, then "P" and each posting's fields in posting id order, each
 * field NULL "~" or "<bytes>:<value>"; hash = SHA-256(previous hash || text), the first
 * previous hash 32 zero bytes. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gw_assert.h"
#include "gw_crypto.h"
#include "ldg_int.h"
#include "ledger.h"

#include "banned.h"

#define LDG_VERIFY_FETCH "FETCH 2000 FROM ldg_chain"
#define LDG_HASH_HEX     65

/* Columns of the chain cursor, in order. */
enum {
    C_SEQ,
    C_JID,
    C_PREV,
    C_HASH,
    C_J_ID,
    C_KIND,
    C_PAYMENT,
    C_DAY,
    C_MEMO,
    C_CREATED,
    C_LATE,
    C_REF,
    C_MAKER,
    C_CHECKER,
    C_P_ID,
    C_ACCOUNT,
    C_AMOUNT,
    C_NCOLS
};

static const char ldg_chain_sql[] =
    "DECLARE ldg_chain NO SCROLL CURSOR FOR "
    "SELECT s.seq::text, s.journal_id::text, encode(s.prev_hash, 'hex'), encode(s.hash, 'hex'),"
    " j.id::text, j.kind, j.payment_id, to_char(j.business_day, 'YYYY-MM-DD'), j.memo,"
    " (extract(epoch FROM j.created_at) * 1000000)::bigint::text, j.late::text,"
    " j.ref_journal_id::text, j.maker, j.checker,"
    " p.id::text, p.account_code, p.amount_vnd::text "
    "FROM feegate.journal_seals s "
    "LEFT JOIN feegate.journals j ON j.id = s.journal_id "
    "LEFT JOIN feegate.postings p ON p.journal_id = s.journal_id "
    "ORDER BY s.seq, p.id";

/* The state of the walk along the chain. */
struct ldg_walk {
    EVP_MD_CTX *md;
    bool open;     /* a seal's hash is being computed */
    long long seq; /* the seal being hashed */
    long long journal_id;
    char want[LDG_HASH_HEX]; /* its stored hash */
    char last[LDG_HASH_HEX]; /* the previous seal's stored hash */
    struct ldg_verify_result *res;
};

static void ldg_bad(struct ldg_verify_result *res, long long journal_id, const char *fmt, ...)
    GW_PRINTF(3, 4);

static void ldg_bad(struct ldg_verify_result *res, long long journal_id, const char *fmt, ...)
{
    va_list ap;
    if (res->bad) {
        return;
    }
    res->bad = true;
    res->first_bad_journal = journal_id;
    va_start(ap, fmt);
    (void)vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

static long long ldg_ll(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno != 0 || end == s || *end != '\0' ? -1 : v;
}

/* Hashes one field of the canonical text. */
static void ldg_field(EVP_MD_CTX *md, const PGresult *r, int row, int col)
{
    char len[24];
    if (PQgetisnull(r, row, col)) {
        GW_ASSERT(EVP_DigestUpdate(md, "~", 1) == 1);
        return;
    }
    int n = PQgetlength(r, row, col);
    int k = snprintf(len, sizeof(len), "%d:", n);
    GW_ASSERT(k > 0 && (size_t)k < sizeof(len));
    GW_ASSERT(EVP_DigestUpdate(md, len, (size_t)k) == 1);
    GW_ASSERT(EVP_DigestUpdate(md, PQgetvalue(r, row, col), (size_t)n) == 1);
}

/* Finishes the open seal: its recomputed hash must be the stored one. */
static void ldg_seal_end(struct ldg_walk *w)
{
    unsigned char d[32];
    unsigned int dn = 0;
    char got[LDG_HASH_HEX];

    if (!w->open) {
        return;
    }
    w->open = false;
    GW_ASSERT(EVP_DigestFinal_ex(w->md, d, &dn) == 1 && dn == 32);
    gw_hex_encode(d, 32, got);
    if (strcmp(got, w->want) != 0) {
        ldg_bad(w->res, w->journal_id,
                "journal %lld does not hash to its seal %lld: its header or postings were "
                "changed, removed or inserted",
                w->journal_id, w->seq);
    }
    memcpy(w->last, w->want, sizeof(w->last));
    w->res->sealed++;
    w->res->head_seq = w->seq;
    memcpy(w->res->head_hash, w->want, sizeof(w->res->head_hash));
}

/* Starts the seal of row `row`: sequence, link to the previous seal, journal present. */
static void ldg_seal_begin(struct ldg_walk *w, const PGresult *r, int row)
{
    unsigned char prev[32];
    long long seq = ldg_ll(PQgetvalue(r, row, C_SEQ));

    w->journal_id = ldg_ll(PQgetvalue(r, row, C_JID));
    if (seq != w->seq + 1) {
        ldg_bad(w->res, w->journal_id,
                "seal %lld follows seal %lld: a seal was removed or inserted before journal %lld",
                seq, w->seq, w->journal_id);
    }
    w->seq = seq;
    if (strcmp(PQgetvalue(r, row, C_PREV), w->last) != 0) {
        ldg_bad(w->res, w->journal_id,
                "seal %lld of journal %lld does not link to the seal before it: seals were "
                "reordered, removed or inserted",
                seq, w->journal_id);
    }
    if (PQgetisnull(r, row, C_J_ID)) {
        ldg_bad(w->res, w->journal_id, "journal %lld is missing (sealed as %lld): removed",
                w->journal_id, seq);
    }
    (void)snprintf(w->want, sizeof(w->want), "%s", PQgetvalue(r, row, C_HASH));
    GW_ASSERT(EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) == 1);
    for (size_t i = 0; i < sizeof(prev); i++) {
        char pair[3] = { w->last[2 * i], w->last[2 * i + 1], '\0' };
        char *end = NULL;
        unsigned long b = strtoul(pair, &end, 16);
        GW_ASSERT(*end == '\0' && b <= 0xff);
        prev[i] = (unsigned char)b;
    }
    GW_ASSERT(EVP_DigestUpdate(w->md, prev, sizeof(prev)) == 1);
    GW_ASSERT(EVP_DigestUpdate(w->md, "J", 1) == 1);
    for (int c = C_J_ID; c <= C_CHECKER; c++) {
        ldg_field(w->md, r, row, c);
    }
    w->open = true;
}

/* Walks one fetched batch; rows of one seal are adjacent (ORDER BY seq, posting id). */
static void ldg_walk_rows(struct ldg_walk *w, const PGresult *r)
{
    int n = PQntuples(r);
    for (int i = 0; i < n && !w->res->bad; i++) {
        long long seq = ldg_ll(PQgetvalue(r, i, C_SEQ));
        if (!w->open || seq != w->seq) {
            ldg_seal_end(w);
            if (w->res->bad) {
                break;
            }
            ldg_seal_begin(w, r, i);
        }
        if (!PQgetisnull(r, i, C_P_ID)) {
            GW_ASSERT(EVP_DigestUpdate(w->md, "P", 1) == 1);
            ldg_field(w->md, r, i, C_P_ID);
            ldg_field(w->md, r, i, C_ACCOUNT);
            ldg_field(w->md, r, i, C_AMOUNT);
        }
    }
}

/* The chain, batch by batch. */
static enum gw_err ldg_verify_chain(PGconn *conn, struct ldg_verify_result *res,
                                    struct gw_errbuf *eb)
{
    struct ldg_walk w = { .res = res };
    enum gw_err err = ldg_exec(conn, ldg_chain_sql, "open the chain cursor", eb);
    if (err != GW_OK) {
        return err;
    }
    w.md = EVP_MD_CTX_new();
    if (w.md == NULL) {
        return gw_fail(eb, GW_ERR_NOMEM, "could not allocate a digest context");
    }
    (void)snprintf(w.last, sizeof(w.last), "%064d", 0);
    for (;;) {
        PGresult *r = PQexec(conn, LDG_VERIFY_FETCH);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != C_NCOLS) {
            err = ldg_fail_result(conn, r, "fetch the chain", eb);
            PQclear(r);
            break;
        }
        int n = PQntuples(r);
        ldg_walk_rows(&w, r);
        PQclear(r);
        if (n == 0 || res->bad) {
            ldg_seal_end(&w);
            break;
        }
    }
    EVP_MD_CTX_free(w.md);
    return err;
}

/* One value of a one-row query, or -1 when there is no row. */
static enum gw_err ldg_query_ll(PGconn *conn, const char *sql, const char *what, long long *out,
                                struct gw_errbuf *eb)
{
    PGresult *r = PQexec(conn, sql);
    enum gw_err err = GW_OK;
    *out = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        err = ldg_fail_result(conn, r, what, eb);
    } else if (PQntuples(r) == 1 && PQnfields(r) >= 1 && !PQgetisnull(r, 0, 0)) {
        *out = ldg_ll(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return err;
}

/* Journals the chain does not hold: counted, and an error once older than the limit;
 * postings whose journal does not exist. */
static enum gw_err ldg_verify_rest(PGconn *conn, struct ldg_verify_result *res,
                                   struct gw_errbuf *eb)
{
    char sql[512];
    long long v;
    enum gw_err err = ldg_query_ll(conn, "SELECT count(*) FROM feegate.journals", "count journals",
                                   &res->journals, eb);
    if (err == GW_OK) {
        err = ldg_query_ll(conn,
                           "SELECT count(*) FROM feegate.journals j WHERE NOT EXISTS (SELECT 1 "
                           "FROM feegate.journal_seals s WHERE s.journal_id = j.id)",
                           "count unsealed journals", &res->unsealed, eb);
    }
    (void)snprintf(sql, sizeof(sql),
                   "SELECT min(j.id) FROM feegate.journals j WHERE j.created_at < now() - "
                   "make_interval(secs => %d) AND NOT EXISTS (SELECT 1 FROM "
                   "feegate.journal_seals s WHERE s.journal_id = j.id)",
                   res->max_unsealed_age_s);
    if (err == GW_OK) {
        err = ldg_query_ll(conn, sql, "find old unsealed journals", &v, eb);
    }
    if (err == GW_OK && v >= 0) {
        ldg_bad(res, v,
                "journal %lld is not sealed after %d s: inserted, or the sealer is not "
                "running",
                v, res->max_unsealed_age_s);
    }
    if (err == GW_OK) {
        err = ldg_query_ll(conn,
                           "SELECT min(p.journal_id) FROM feegate.postings p WHERE NOT EXISTS "
                           "(SELECT 1 FROM feegate.journals j WHERE j.id = p.journal_id)",
                           "find orphan postings", &v, eb);
    }
    if (err == GW_OK && v >= 0) {
        ldg_bad(res, v, "journal %lld is missing but has postings: removed", v);
    }
    return err;
}

static void ldg_verify_print(FILE *out, const struct ldg_verify_result *res)
{
    if (res->bad) {
        (void)fprintf(out, "FAIL journal %lld: %s\n", res->first_bad_journal, res->reason);
    } else {
        (void)fprintf(out,
                      "ok   chain of %lld sealed journals (%lld journals, %lld not sealed "
                      "yet)\n",
                      res->sealed, res->journals, res->unsealed);
    }
    (void)fprintf(out, "head seal %lld hash %s\n", res->head_seq,
                  res->head_hash[0] != '\0' ? res->head_hash : "-");
}

enum gw_err ldg_verify_blocking(const char *dsn, FILE *out, struct ldg_verify_result *res,
                                struct gw_errbuf *eb)
{
    PGconn *conn;
    GW_ASSERT(out != NULL);
    GW_ASSERT(res != NULL);
    int age = res->max_unsealed_age_s;
    memset(res, 0, sizeof(*res));
    res->max_unsealed_age_s = age < 0 ? 0 : age;
    enum gw_err err = ldg_connect(dsn, LDG_CHECK_TIMEOUT, &conn, eb);
    if (err != GW_OK) {
        return err;
    }
    err = ldg_exec(conn,
                   "SET client_encoding = 'UTF8'; "
                   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                   "start the snapshot", eb);
    if (err == GW_OK) {
        err = ldg_verify_chain(conn, res, eb);
    }
    if (err == GW_OK) {
        err = ldg_verify_rest(conn, res, eb);
    }
    if (err == GW_OK) {
        err = ldg_exec(conn, "COMMIT", "end the snapshot", eb);
    }
    PQfinish(conn);
    if (err != GW_OK) {
        return err;
    }
    ldg_verify_print(out, res);
    if (fflush(out) != 0) {
        return gw_fail(eb, GW_ERR_IO, "could not write the verify report");
    }
    return GW_OK;
}
