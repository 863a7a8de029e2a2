/* Shared steps of the integration tests: the whole system started once per test program,
 * and the moves of a portal, a browser and a bank, spoken over real HTTP. */
#ifndef FG_TESTS_INTEGRATION_IT_H
#define FG_TESTS_INTEGRATION_IT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "th.h"

struct it_env {
    struct th_db db;
    struct th_banksim bs;
    struct th_gateway gw;
};

extern struct it_env it;

/* cmocka group setup/teardown: cluster, simulator (auto_mode as th_banksim_start), gateway. */
int it_start(const char *auto_mode, const char *webhook_url);
int it_stop(void);

/* A body for POST /v1/payments with a unique order_ref (LLTP 200,000 VND at STP-HN). */
const char *it_create_body(char *out, size_t cap, const char *order_ref);
/* Creates a payment; returns its id in id_out[40]; asserts 201. */
void it_create(char id_out[40]);
/* POST /pay/{id} channel=sandbox; returns the simulator URL (Location) and the merchant_ref. */
void it_checkout(const char *id, char *location, size_t cap, char merchant_ref[48]);
/* Sends a sandbox callback signed with secret (the real one unless forging). */
int it_callback(const char *merchant_ref, int64_t amount_vnd, const char *status,
                const char *txn_id, const char *secret, char *answer, size_t cap);
/* GET /v1/payments/{id} as the current client; returns the parsed object (decref it). */
json_t *it_get(const char *id);
/* The payment's status into out. */
void it_status(const char *id, char out[32]);
/* Asserts feegate ledger check passes. */
void it_assert_ledger_ok(void);

#endif
