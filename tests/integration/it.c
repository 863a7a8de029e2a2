/* Shared steps of the integration tests. */
#include "it.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_crypto.h"

struct it_env it;

int it_start(const char *auto_mode, const char *webhook_url)
{
    const char *ini_extra = it.gw.ini_extra; /* the settings a test may make before */
    const char *env_extra = it.gw.env_extra;
    memset(&it, 0, sizeof(it));
    it.gw.ini_extra = ini_extra;
    it.gw.env_extra = env_extra;
    it.db.webhook_url = webhook_url;
    if (th_db_start(&it.db) != GW_OK) {
        return -1;
    }
    if (th_banksim_start(&it.bs, auto_mode) != GW_OK) {
        return -1;
    }
    if (th_gateway_start(&it.gw, &it.db, &it.bs) != GW_OK) {
        return -1;
    }
    return 0;
}

int it_stop(void)
{
    int rc = 0;
    if (th_gateway_stop(&it.gw) != GW_OK) {
        rc = -1;
    }
    if (th_banksim_stop(&it.bs) != GW_OK) {
        rc = -1;
    }
    if (th_db_stop(&it.db) != GW_OK) {
        rc = -1;
    }
    return rc;
}

const char *it_create_body(char *out, size_t cap, const char *order_ref)
{
    int n = snprintf(out, cap,
                     "{\"order_ref\":\"%s\",\"agency_code\":\"STP-HN\","
                     "\"payer\":{\"name\":\"Nguy\\u1ec5n V\\u0103n An\","
                     "\"id_number\":\"001099012345\",\"email\":\"an@example.vn\"},"
                     "\"items\":[{\"fee_code\":\"LLTP\",\"amount_vnd\":200000}],"
                     "\"amount_vnd\":200000,"
                     "\"return_url\":\"https://portal.example.vn/hs/%s\",\"expires_in_s\":900}",
                     order_ref, order_ref);
    assert_true(n > 0 && (size_t)n < cap);
    return out;
}

void it_create(char id_out[40])
{
    static unsigned seq;
    char ref[64];
    char body[1024];
    (void)snprintf(ref, sizeof(ref), "HS-%d-%u-%ld", getpid(), ++seq, (long)time(NULL));
    struct th_resp r;
    assert_int_equal(
        th_portal("POST", "/v1/payments", it_create_body(body, sizeof(body), ref), NULL, &r),
        GW_OK);
    if (r.status != 201) {
        fprintf(stderr, "create answered %d: %s\n", r.status, r.body);
    }
    assert_int_equal(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    const char *id = json_string_value(json_object_get(j, "payment_id"));
    assert_non_null(id);
    assert_int_equal(strlen(id), 36);
    memcpy(id_out, id, 37);
    json_decref(j);
    th_resp_release(&r);
}

void it_checkout(const char *id, char *location, size_t cap, char merchant_ref[48])
{
    char url[160];
    (void)snprintf(url, sizeof(url), "%s/pay/%s", it.gw.url, id);
    static const char *const hdrs[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, "channel=sandbox", 15, &r), GW_OK);
    if (r.status != 303) {
        fprintf(stderr, "checkout answered %d: %s\n", r.status, r.body);
    }
    assert_int_equal(r.status, 303);
    assert_non_null(r.location);
    assert_true(strncmp(r.location, it.bs.url, strlen(it.bs.url)) == 0);
    (void)snprintf(location, cap, "%s", r.location);
    const char *m = strstr(r.location, "merchant_ref=");
    assert_non_null(m);
    m += strlen("merchant_ref=");
    size_t n = strcspn(m, "&");
    assert_true(n > 0 && n < 48);
    memcpy(merchant_ref, m, n);
    merchant_ref[n] = '\0';
    th_resp_release(&r);
}

int it_callback(const char *merchant_ref, int64_t amount_vnd, const char *status,
                const char *txn_id, const char *secret, char *answer, size_t cap)
{
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"merchant_id\":\"%s\",\"merchant_ref\":\"%s\",\"txn_id\":\"%s\","
                     "\"amount_vnd\":%lld,\"status\":\"%s\",\"paid_at\":%ld}",
                     TH_SANDBOX_MERCHANT, merchant_ref, txn_id, (long long)amount_vnd, status,
                     (long)time(NULL));
    assert_true(n > 0 && (size_t)n < sizeof(body));
    char sig[GW_SHA256_HEX_BYTES];
    gw_hmac_sha256_hex(secret, strlen(secret), body, (size_t)n, sig);
    char sig_header[128];
    (void)snprintf(sig_header, sizeof(sig_header), "X-Sandbox-Signature: %s", sig);
    const char *const hdrs[] = { "Content-Type: application/json", sig_header, NULL };
    char url[128];
    (void)snprintf(url, sizeof(url), "%s/ipn/sandbox", it.gw.url);
    struct th_resp r;
    assert_int_equal(th_http("POST", url, hdrs, body, (size_t)n, &r), GW_OK);
    if (answer != NULL) {
        (void)snprintf(answer, cap, "%s", r.body);
    }
    int status_code = r.status;
    th_resp_release(&r);
    return status_code;
}

json_t *it_get(const char *id)
{
    char path[96];
    (void)snprintf(path, sizeof(path), "/v1/payments/%s", id);
    struct th_resp r;
    assert_int_equal(th_portal("GET", path, NULL, NULL, &r), GW_OK);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    th_resp_release(&r);
    return j;
}

void it_status(const char *id, char out[32])
{
    json_t *j = it_get(id);
    const char *s = json_string_value(json_object_get(j, "status"));
    assert_non_null(s);
    (void)snprintf(out, 32, "%s", s);
    json_decref(j);
}

void it_assert_ledger_ok(void)
{
    assert_int_equal(th_ledger_check(&it.db), 0);
}
