/* The database side of feegate, for the command line and the tests: apply the embedded SQL
 * migrations, recompute the ledger invariants, seed the demo catalogue. Every function here
 * opens its own blocking libpq connection and is never called from an event loop (the
 * gateway reaches the same SQL functions through its asynchronous pool). */
#ifndef GW_LEDGER_LEDGER_H
#define GW_LEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gw_err.h"

/* Applies the embedded migrations (1: ledger/sql/base, then ledger/sql/migrations/NNN_*.sql)
 * in order, each in its own transaction, recording it in feegate.schema_migrations (version,
 * name, sha256, applied_at). The applied ones must be the binary's first migrations,
 * unchanged, and are skipped; anything else (a changed one, a newer database, another
 * history) is GW_ERR_CONFLICT and nothing is applied. A session advisory lock serialises
 * concurrent migrators (the second waits, then finds everything applied). admin_dsn must
 * name a role that may create roles and schemas. Blocking. */
enum gw_err ldg_migrate_blocking(const char *admin_dsn, struct gw_errbuf *eb) GW_MUST_CHECK;

/* Runs feegate.ledger_check() and prints one line per check to out: "ok   name" or
 * "FAIL name: N violations: detail". *violations is the total over all checks (0: the
 * ledger is sound). GW_OK means the checks ran, whatever they found. Blocking. */
enum gw_err ldg_check_blocking(const char *dsn, FILE *out, long *violations,
                               struct gw_errbuf *eb) GW_MUST_CHECK;

/* The outcome of ldg_verify_blocking. max_unsealed_age_s is input: a journal older than
 * that without a seal is reported (the gateway seals every second). */
struct ldg_verify_result {
    int max_unsealed_age_s;
    bool bad;                    /* something was found; the first is below */
    long long first_bad_journal; /* the journal id it concerns */
    char reason[256];
    long long sealed;   /* seals walked (up to the first bad one) */
    long long journals; /* journals in the snapshot */
    long long unsealed; /* journals without a seal yet */
    long long head_seq; /* the last good seal: publish it to anchor the chain */
    char head_hash[65];
};

/* Recomputes the hash chain of journal_seals from the journals and postings over a streaming
 * cursor in one snapshot, and looks for journals not sealed after max_unsealed_age_s and
 * postings of missing journals. Finds any journal or posting changed, removed or inserted
 * and any seal removed, inserted or reordered; reports the first in res and prints "ok ..."
 * or "FAIL journal N: reason" and the head seal to out. GW_OK means the walk ran, whatever
 * it found. Blocking. */
enum gw_err ldg_verify_blocking(const char *dsn, FILE *out, struct ldg_verify_result *res,
                                struct gw_errbuf *eb) GW_MUST_CHECK;

/* A portal client for the demo. All strings are borrowed. */
struct ldg_demo_client {
    const char *id;          /* [A-Za-z0-9_.-]{1,64} */
    const char *secret;      /* 16 to 128 bytes */
    const char *webhook_url; /* may be NULL: the client gets no webhooks */
};

/* Seeds the demo catalogue (agencies STP-HN and CA-HCM, their treasury accounts, receipt
 * series, fees and the sandbox channel) and the n clients, each allowed both agencies, in
 * one transaction. Idempotent: re-running with the same clients changes nothing; a client
 * whose secret or webhook_url differs is updated. Needs the migrations. Blocking. */
enum gw_err ldg_seed_demo_blocking(const char *admin_dsn, const struct ldg_demo_client *clients,
                                   size_t n, struct gw_errbuf *eb) GW_MUST_CHECK;

#endif
