/* Every adapter's parsers of provider bytes (callback, return, query answer, create answer,
 * refund answer, refund query answer) on arbitrary input: no crash, no sanitizer report,
 * and an accepted input gives a bounded, well-formed result. The bytes are what anyone on
 * the internet can send before a signature is checked, so the signature check itself is
 * fuzzed too (a random input never passes it). Input: byte 0 picks the adapter, byte 1 the
 * parser (its low 7 bits, modulo 6) and the method (its high bit: POST), byte 2 the HTTP
 * status (low 7 bits) and, in the libFuzzer build, whether every signature passes (high
 * bit: then the parsing behind the check is fuzzed too); the rest is the query, a 0x00 byte,
 * the body, a 0x00 byte and the signature header. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adapter.h"
#include "gw_arena.h"
#include "gw_assert.h"
#include "gw_crypto.h"
#include "gw_err.h"

#include "banned.h"

/* NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CONFIGS 4

static const struct gw_adapter_config fz_cfg[FZ_CONFIGS] = {
    { .channel = "sandbox",
      .merchant_id = "FEEGATE01",
      .secret = "fuzz-sandbox-secret-0123456789",
      .endpoint_url = "http://127.0.0.1:1/sandbox",
      .ipn_url = "http://127.0.0.1:2/ipn/sandbox",
      .return_url = "http://127.0.0.1:2/return/sandbox" },
    { .channel = "vnpay",
      .merchant_id = "DEMOTMN1",
      .secret = "VNPAYTESTSECRETKEY0123456789ABCD",
      .endpoint_url = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
      .ipn_url = "http://127.0.0.1:2/ipn/vnpay",
      .return_url = "http://127.0.0.1:2/return/vnpay" },
    { .channel = "momo",
      .merchant_id = "MOMOBKUN20180529",
      .secret = "at67qH6mk8w5Y1nAyMoYKMWACiEi2bsa",
      .secret2 = "klm05TvNBzhg7h7j",
      .endpoint_url = "https://test-payment.momo.vn/v2/gateway/api",
      .ipn_url = "http://127.0.0.1:2/ipn/momo",
      .return_url = "http://127.0.0.1:2/return/momo" },
    { .channel = "zalopay",
      .merchant_id = "2553",
      .secret = "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL",
      .secret2 = "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz",
      .endpoint_url = "https://sb-openapi.zalopay.vn/v2",
      .ipn_url = "http://127.0.0.1:2/ipn/zalopay",
      .return_url = "http://127.0.0.1:2/return/zalopay" },
};

static bool fz_terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void fz_check_result(const struct gw_adapter_result *r)
{
    GW_ASSERT(fz_terminated(r->merchant_id, sizeof(r->merchant_id)));
    GW_ASSERT(fz_terminated(r->merchant_ref, sizeof(r->merchant_ref)));
    GW_ASSERT(fz_terminated(r->provider_txn_id, sizeof(r->provider_txn_id)));
    GW_ASSERT(fz_terminated(r->provider_code, sizeof(r->provider_code)));
    GW_ASSERT(r->amount_vnd >= 0);
}

static void fz_check_refund(const struct gw_refund_result *r)
{
    GW_ASSERT(fz_terminated(r->provider_refund_id, sizeof(r->provider_refund_id)));
    GW_ASSERT(fz_terminated(r->provider_code, sizeof(r->provider_code)));
    GW_ASSERT(r->amount_vnd >= 0);
}

/* The next part of the input, up to a 0x00 byte (or the end), copied NUL-terminated. */
static const char *fz_part(struct gw_arena *a, const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    size_t n = (size_t)((nul != NULL ? nul : end) - *p);
    char *s = gw_arena_alloc(a, n + 1);
    GW_ASSERT(s != NULL);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n + (nul != NULL ? 1 : 0);
    *len = n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > (size_t)64 * 1024) {
        return 0;
    }
    const struct gw_adapter_config *cfg = &fz_cfg[data[0] % FZ_CONFIGS];
    const struct gw_adapter_ops *ops = gw_adapter_find(cfg->channel);
    GW_ASSERT(ops != NULL);
    unsigned op = (data[1] & 0x7fU) % 6U;
    static const int statuses[] = { 200, 200, 200, 400, 404, 500, 502, 0 };
    struct gw_arena a;
    gw_arena_init(&a, (size_t)8 * 1024, (size_t)1024 * 1024);
    const uint8_t *p = data + 3;
    const uint8_t *end = data + size;
    struct gw_adapter_input in = { .method = (data[1] & 0x80U) != 0 ? "POST" : "GET",
                                   .http_status = statuses[(data[2] & 0x7fU) % 8U] };
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    gw_fuzz_signatures_pass = (data[2] & 0x80U) != 0;
#endif
    size_t sig_len = 0;
    in.query = fz_part(&a, &p, end, &in.query_len);
    in.body = fz_part(&a, &p, end, &in.body_len);
    in.signature_header = fz_part(&a, &p, end, &sig_len);
    if (sig_len == 0) {
        in.signature_header = NULL;
    }
    struct gw_errbuf eb = { .msg = "" };
    struct gw_adapter_result res;
    struct gw_refund_result refund;
    struct gw_adapter_created created;
    memset(&res, 0, sizeof(res));
    memset(&refund, 0, sizeof(refund));
    memset(&created, 0, sizeof(created));
    enum gw_err err = GW_OK;
    switch (op) {
    case 0:
        err = ops->callback_parse(cfg, &in, &a, &res, &eb);
        break;
    case 1:
        err = ops->return_parse(cfg, &in, &a, &res, &eb);
        break;
    case 2: /* the ops a provider lacks are NULL behind their capability bit */
        err = ops->query_parse != NULL ? ops->query_parse(cfg, &in, &a, &res, &eb) : GW_OK;
        break;
    case 3:
        err = ops->create_parse != NULL ? ops->create_parse(cfg, &in, &a, &created, &eb) : GW_OK;
        break;
    case 4:
        err = ops->refund_parse != NULL ? ops->refund_parse(cfg, &in, &a, &refund, &eb) : GW_OK;
        break;
    default:
        err = ops->refund_query_parse != NULL ? ops->refund_query_parse(cfg, &in, &a, &refund, &eb)
                                              : GW_OK;
        break;
    }
    /* Every refusal says why. */
    GW_ASSERT(err == GW_OK || eb.msg[0] != '\0');
    GW_ASSERT(fz_terminated(eb.msg, sizeof(eb.msg)));
    if (err == GW_OK) {
        fz_check_result(&res);
        fz_check_refund(&refund);
        GW_ASSERT(fz_terminated(created.provider_ref, sizeof(created.provider_ref)));
        GW_ASSERT(fz_terminated(created.provider_code, sizeof(created.provider_code)));
        GW_ASSERT(!created.created || created.pay_url != NULL);
    }
    gw_arena_release(&a);
    return 0;
}
