/* gateway/pbconv.c: a CreatePaymentRequest in protobuf becomes the same request as its JSON
 * twin (after validation), payment objects survive JSON -> protobuf -> unpack, and bytes that
 * are not a message are refused. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "feegate.pb-c.h"
#include "gw_limits.h"
#include "pbconv.h"
#include "validate.h"

#include "banned.h"

#define PT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* protobuf-c string fields are char *; the literals are only read while packing. */
static char *pt_str(const char *s)
{
    return (char *)(uintptr_t)s; /* NOLINT(performance-no-int-to-ptr): read-only use */
}

struct pt_msg {
    Feegate__V1__CreatePaymentRequest req;
    Feegate__V1__Payer payer;
    Feegate__V1__Item item[2];
    Feegate__V1__Item *items[2];
    uint8_t bytes[4096];
    size_t len;
};

/* A create request like the example of docs/api.md#create, in protobuf, with two fee lines. */
static void pt_full(struct pt_msg *m)
{
    feegate__v1__create_payment_request__init(&m->req);
    feegate__v1__payer__init(&m->payer);
    m->req.order_ref = pt_str("HS-2026-000123");
    m->req.agency_code = pt_str("HCM_TP");
    m->payer.name = pt_str("Nguy\xe1\xbb\x85n V\xc4\x83n An");
    m->payer.id_number = pt_str("001099012345");
    m->payer.email = pt_str("an@example.vn");
    m->req.payer = &m->payer;
    static const char *const codes[] = { "LP_HT", "PHI_BS" };
    static const int64_t amounts[] = { 150000, 50000 };
    for (size_t i = 0; i < 2; i++) {
        feegate__v1__item__init(&m->item[i]);
        m->item[i].fee_code = pt_str(codes[i]);
        m->item[i].amount_vnd = amounts[i];
        m->items[i] = &m->item[i];
    }
    m->req.n_items = 2;
    m->req.items = m->items;
    m->req.amount_vnd = 200000;
    m->req.return_url = pt_str("https://portal.example.vn/hs/HS-2026-000123");
    m->req.expires_in_s = 1800;
    m->req.locale = pt_str("en");
}

static void pt_pack(struct pt_msg *m)
{
    size_t n = feegate__v1__create_payment_request__get_packed_size(&m->req);
    assert_true(n <= sizeof(m->bytes));
    m->len = feegate__v1__create_payment_request__pack(&m->req, m->bytes);
    assert_int_equal(m->len, n);
}

/* The verdict and normalized request of either encoding. */
struct pt_outcome {
    bool ok;
    struct gw_verdict v;
    json_t *norm;
};

static void pt_validate(json_t *req, struct pt_outcome *o)
{
    memset(o, 0, sizeof(*o));
    assert_non_null(req);
    o->ok = gw_validate_create(req, &o->norm, &o->v);
    json_decref(req);
}

static void pt_from_proto(struct pt_msg *m, struct pt_outcome *o)
{
    pt_pack(m);
    json_t *req = NULL;
    assert_int_equal(gw_pb_create_to_json(m->bytes, m->len, &req), GW_OK);
    pt_validate(req, o);
}

static void pt_from_json(const char *text, struct pt_outcome *o)
{
    json_error_t jerr;
    json_t *req = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL) {
        fail_msg("test JSON does not parse: %s", jerr.text);
    }
    pt_validate(req, o);
}

/* Both encodings reach the same verdict and, when valid, the same normalized request. */
static void pt_assert_same(struct pt_outcome *a, struct pt_outcome *b)
{
    assert_int_equal(a->ok, b->ok);
    if (a->ok) {
        if (!json_equal(a->norm, b->norm)) {
            char *x = json_dumps(a->norm, JSON_SORT_KEYS);
            char *y = json_dumps(b->norm, JSON_SORT_KEYS);
            print_error("protobuf: %s\njson:     %s\n", x, y);
            gw_libc_free(x);
            gw_libc_free(y);
            fail();
        }
    } else {
        assert_int_equal(a->v.status, b->v.status);
        assert_string_equal(a->v.code, b->v.code);
    }
    json_decref(a->norm);
    json_decref(b->norm);
}

static void test_create_full_equals_json(void **state)
{
    (void)state;
    struct pt_msg m;
    pt_full(&m);
    struct pt_outcome pb;
    struct pt_outcome js;
    pt_from_proto(&m, &pb);
    pt_from_json("{\"order_ref\":\"HS-2026-000123\",\"agency_code\":\"HCM_TP\","
                 "\"payer\":{\"name\":\"Nguy\xe1\xbb\x85n V\xc4\x83n An\","
                 "\"id_number\":\"001099012345\",\"email\":\"an@example.vn\"},"
                 "\"items\":[{\"fee_code\":\"LP_HT\",\"amount_vnd\":150000},"
                 "{\"fee_code\":\"PHI_BS\",\"amount_vnd\":50000}],\"amount_vnd\":200000,"
                 "\"return_url\":\"https://portal.example.vn/hs/HS-2026-000123\","
                 "\"expires_in_s\":1800,\"locale\":\"en\"}",
                 &js);
    assert_true(pb.ok);
    pt_assert_same(&pb, &js);
}

/* Unset optional fields are left out, so the defaults are filled in as for JSON. */
static void test_create_minimal_defaults(void **state)
{
    (void)state;
    struct pt_msg m;
    pt_full(&m);
    m.req.return_url = pt_str("");
    m.req.expires_in_s = 0;
    m.req.locale = pt_str("");
    m.payer.id_number = pt_str("");
    m.payer.email = pt_str("");
    struct pt_outcome pb;
    struct pt_outcome js;
    pt_from_proto(&m, &pb);
    pt_from_json("{\"order_ref\":\"HS-2026-000123\",\"agency_code\":\"HCM_TP\","
                 "\"payer\":{\"name\":\"Nguy\xe1\xbb\x85n V\xc4\x83n An\"},"
                 "\"items\":[{\"fee_code\":\"LP_HT\",\"amount_vnd\":150000},"
                 "{\"fee_code\":\"PHI_BS\",\"amount_vnd\":50000}],\"amount_vnd\":200000}",
                 &js);
    assert_true(pb.ok);
    assert_string_equal(json_string_value(json_object_get(pb.norm, "locale")), "vi");
    assert_int_equal(json_integer_value(json_object_get(pb.norm, "expires_in_s")),
                     GW_EXPIRES_IN_S_DEFAULT);
    pt_assert_same(&pb, &js);
}

/* Refusals agree too: a zero amount is a bad amount (422), not a missing field. */
static void test_create_refusals_agree(void **state)
{
    (void)state;
    struct pt_msg m;
    struct pt_outcome pb;
    struct pt_outcome js;
    static const char base[] = "\"order_ref\":\"HS-2026-000123\",\"agency_code\":\"HCM_TP\","
                               "\"payer\":{\"name\":\"Nguy\xe1\xbb\x85n V\xc4\x83n An\","
                               "\"id_number\":\"001099012345\",\"email\":\"an@example.vn\"},"
                               "\"return_url\":\"https://portal.example.vn/hs/HS-2026-000123\","
                               "\"expires_in_s\":1800,\"locale\":\"en\",";
    char text[2048];

    pt_full(&m);
    m.req.amount_vnd = 0;
    pt_from_proto(&m, &pb);
    (void)snprintf(text, sizeof(text),
                   "{%s\"items\":[{\"fee_code\":\"LP_HT\",\"amount_vnd\":150000},"
                   "{\"fee_code\":\"PHI_BS\",\"amount_vnd\":50000}],\"amount_vnd\":0}",
                   base);
    pt_from_json(text, &js);
    assert_false(pb.ok);
    assert_int_equal(pb.v.status, 422);
    pt_assert_same(&pb, &js);

    pt_full(&m);
    m.req.n_items = 0;
    m.req.amount_vnd = 0;
    pt_from_proto(&m, &pb);
    (void)snprintf(text, sizeof(text), "{%s\"items\":[],\"amount_vnd\":0}", base);
    pt_from_json(text, &js);
    assert_false(pb.ok);
    pt_assert_same(&pb, &js);

    pt_full(&m);
    m.req.payer = NULL;
    pt_from_proto(&m, &pb);
    pt_from_json("{\"order_ref\":\"HS-1\",\"agency_code\":\"A\",\"items\":[],\"amount_vnd\":0}",
                 &js);
    assert_false(pb.ok);
    assert_int_equal(pb.v.status, 400);
    pt_assert_same(&pb, &js);
}

static void test_create_garbage(void **state)
{
    (void)state;

    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        { "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11 }, /* endless varint */
        { "\x0a\x10"
          "abc",
          5 }, /* string longer than body */
        { "\x22\x05\x0a\x03"
          "ab",
          6 },                             /* item cut short */
        { "\x0f", 1 },                     /* field 1, wire type 7 */
        { "\x0a\x02\xc3\x28", 4 },         /* order_ref not UTF-8 */
        { "\x1a\x04\x0a\x02\xff\xfe", 6 }, /* payer.name not UTF-8 */
    };

    for (size_t i = 0; i < PT_COUNT(bad); i++) {
        json_t *out = (json_t *)(uintptr_t)1; /* NOLINT(performance-no-int-to-ptr): must be reset */
        assert_int_equal(gw_pb_create_to_json(bad[i].bytes, bad[i].len, &out), GW_ERR_INVALID);
        assert_null(out);
    }
    /* An empty body is a valid empty message: validation refuses it, not the decoder. */
    json_t *out = NULL;
    assert_int_equal(gw_pb_create_to_json("", 0, &out), GW_OK);
    struct pt_outcome o;
    pt_validate(out, &o);
    assert_false(o.ok);
    assert_int_equal(o.v.status, 400);
}

/* A payment as payment_json() builds it, with nulls for what is not known yet. */
static const char pt_payment[] =
    "{\"payment_id\":\"pay_0123456789abcdef0123456789abcdef\",\"order_ref\":\"HS-2026-000123\","
    "\"agency_code\":\"HCM_TP\",\"status\":\"succeeded\",\"late\":true,\"amount_vnd\":200000,"
    "\"items\":[{\"fee_code\":\"LP_HT\",\"amount_vnd\":150000},"
    "{\"fee_code\":\"PHI_BS\",\"amount_vnd\":50000}],"
    "\"payer\":{\"name\":\"Nguy\xe1\xbb\x85n V\xc4\x83n An\",\"phone\":\"0900000000\"},"
    "\"channel\":\"sandbox\",\"merchant_ref\":\"FG0123456789ABCDEF0123\","
    "\"provider_txn_id\":null,\"created_at\":\"2026-03-01T09:30:00+07:00\","
    "\"expires_at\":\"2026-03-01T09:45:00+07:00\",\"paid_at\":\"2026-03-01T09:31:02+07:00\","
    "\"refunded_vnd\":50000,\"checkout_url\":\"http://127.0.0.1:8080/pay/"
    "pay_0123456789abcdef0123456789abcdef\",\"return_url\":null,\"locale\":\"vi\","
    "\"receipt\":{\"id\":\"rcp_0123456789abcdef0123456789abcdef\",\"template\":\"01BLP0-001\","
    "\"series\":\"AA-26E\",\"number\":\"0000042\",\"url\":\"http://127.0.0.1:8080/receipts/"
    "rcp_0123456789abcdef0123456789abcdef\"},"
    "\"overpayments\":[{\"overpayment_id\":\"ovp_0123456789abcdef0123456789abcdef\","
    "\"merchant_ref\":\"FG00000000000000000002\",\"channel\":\"momo\",\"amount_vnd\":200000,"
    "\"provider_txn_id\":\"4088000002\",\"paid_at\":\"2026-03-01T09:32:00+07:00\","
    "\"state\":\"refunded\",\"refund_id\":\"rf_0123456789abcdef0123456789abcdef\","
    "\"transfer_ref\":null,\"created_at\":\"2026-03-01T09:32:01+07:00\","
    "\"updated_at\":\"2026-03-01T09:32:05+07:00\"}]}";

static void pt_check_payment(const Feegate__V1__Payment *p)
{
    assert_string_equal(p->payment_id, "pay_0123456789abcdef0123456789abcdef");
    assert_string_equal(p->order_ref, "HS-2026-000123");
    assert_string_equal(p->agency_code, "HCM_TP");
    assert_string_equal(p->status, "succeeded");
    assert_true(p->late);
    assert_int_equal(p->amount_vnd, 200000);
    assert_int_equal(p->n_items, 2);
    assert_string_equal(p->items[0]->fee_code, "LP_HT");
    assert_int_equal(p->items[0]->amount_vnd, 150000);
    assert_string_equal(p->items[1]->fee_code, "PHI_BS");
    assert_int_equal(p->items[1]->amount_vnd, 50000);
    assert_non_null(p->payer);
    assert_string_equal(p->payer->name, "Nguy\xe1\xbb\x85n V\xc4\x83n An");
    assert_string_equal(p->payer->id_number, "");
    assert_string_equal(p->payer->phone, "0900000000");
    assert_string_equal(p->channel, "sandbox");
    assert_string_equal(p->merchant_ref, "FG0123456789ABCDEF0123");
    assert_string_equal(p->provider_txn_id, ""); /* JSON null: unset */
    assert_string_equal(p->created_at, "2026-03-01T09:30:00+07:00");
    assert_string_equal(p->expires_at, "2026-03-01T09:45:00+07:00");
    assert_string_equal(p->paid_at, "2026-03-01T09:31:02+07:00");
    assert_int_equal(p->refunded_vnd, 50000);
    assert_string_equal(p->return_url, "");
    assert_string_equal(p->locale, "vi");
    assert_non_null(p->receipt);
    assert_string_equal(p->receipt->id, "rcp_0123456789abcdef0123456789abcdef");
    assert_string_equal(p->receipt->template_, "01BLP0-001");
    assert_string_equal(p->receipt->series, "AA-26E");
    assert_string_equal(p->receipt->number, "0000042");
    assert_int_equal(p->n_overpayments, 1);
    assert_string_equal(p->overpayments[0]->overpayment_id, "ovp_0123456789abcdef0123456789abcdef");
    assert_string_equal(p->overpayments[0]->channel, "momo");
    assert_int_equal(p->overpayments[0]->amount_vnd, 200000);
    assert_string_equal(p->overpayments[0]->state, "refunded");
    assert_string_equal(p->overpayments[0]->transfer_ref, ""); /* JSON null: unset */
}

static void test_payment_round_trip(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(gw_pb_from_json(&a, GW_PB_PAYMENT, pt_payment, &bytes, &len), GW_OK);
    Feegate__V1__Payment *p = feegate__v1__payment__unpack(NULL, len, bytes);
    assert_non_null(p);
    pt_check_payment(p);
    feegate__v1__payment__free_unpacked(p, NULL);
    gw_arena_release(&a);
}

/* An unpaid payment: receipt null, no payer keys at all, odd types read as unset. */
static void test_payment_sparse(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(gw_pb_from_json(&a, GW_PB_PAYMENT,
                                     "{\"payment_id\":\"pay_x\",\"status\":\"created\","
                                     "\"amount_vnd\":\"12\",\"items\":{},\"late\":null,"
                                     "\"receipt\":null,\"payer\":null,\"channel\":5}",
                                     &bytes, &len),
                     GW_OK);
    Feegate__V1__Payment *p = feegate__v1__payment__unpack(NULL, len, bytes);
    assert_non_null(p);
    assert_string_equal(p->payment_id, "pay_x");
    assert_string_equal(p->status, "created");
    assert_int_equal(p->amount_vnd, 0);
    assert_int_equal(p->n_items, 0);
    assert_false(p->late);
    assert_null(p->receipt);
    assert_null(p->payer);
    assert_string_equal(p->channel, "");
    feegate__v1__payment__free_unpacked(p, NULL);
    gw_arena_release(&a);
}

static void test_receipt_number_integer(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(gw_pb_from_json(&a, GW_PB_PAYMENT,
                                     "{\"receipt\":{\"id\":\"rcp_1\",\"number\":42}}", &bytes,
                                     &len),
                     GW_OK);
    Feegate__V1__Payment *p = feegate__v1__payment__unpack(NULL, len, bytes);
    assert_non_null(p);
    assert_non_null(p->receipt);
    assert_string_equal(p->receipt->number, "0000042");
    feegate__v1__payment__free_unpacked(p, NULL);
    gw_arena_release(&a);
}

static void test_list_and_webhook(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    char text[8192];
    void *bytes = NULL;
    size_t len = 0;

    (void)snprintf(text, sizeof(text), "{\"payments\":[%s,{\"payment_id\":\"pay_2\"},7]}",
                   pt_payment);
    assert_int_equal(gw_pb_from_json(&a, GW_PB_PAYMENT_LIST, text, &bytes, &len), GW_OK);
    Feegate__V1__PaymentList *l = feegate__v1__payment_list__unpack(NULL, len, bytes);
    assert_non_null(l);
    assert_int_equal(l->n_payments, 2); /* the 7 is not a payment */
    pt_check_payment(l->payments[0]);
    assert_string_equal(l->payments[1]->payment_id, "pay_2");
    feegate__v1__payment_list__free_unpacked(l, NULL);

    (void)snprintf(text, sizeof(text),
                   "{\"event_id\":\"evt_0123456789abcdef0123456789abcdef\",\"type\":"
                   "\"payment.succeeded\",\"created_at\":\"2026-03-01T09:31:03+07:00\","
                   "\"payment\":%s}",
                   pt_payment);
    assert_int_equal(gw_pb_from_json(&a, GW_PB_WEBHOOK, text, &bytes, &len), GW_OK);
    Feegate__V1__WebhookEvent *w = feegate__v1__webhook_event__unpack(NULL, len, bytes);
    assert_non_null(w);
    assert_string_equal(w->event_id, "evt_0123456789abcdef0123456789abcdef");
    assert_string_equal(w->type, "payment.succeeded");
    assert_string_equal(w->created_at, "2026-03-01T09:31:03+07:00");
    assert_non_null(w->payment);
    pt_check_payment(w->payment);
    feegate__v1__webhook_event__free_unpacked(w, NULL);
    gw_arena_release(&a);
}

static void pt_check_error(const void *bytes, size_t len, const char *code, const char *msg)
{
    Feegate__V1__ErrorResponse *e = feegate__v1__error_response__unpack(NULL, len, bytes);
    assert_non_null(e);
    assert_non_null(e->error);
    assert_string_equal(e->error->code, code);
    assert_string_equal(e->error->message, msg);
    feegate__v1__error_response__free_unpacked(e, NULL);
}

static void test_errors(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(gw_pb_error(&a, "not_found", "no such payment", &bytes, &len), GW_OK);
    pt_check_error(bytes, len, "not_found", "no such payment");
    /* A stored refusal replayed to a protobuf client is an ErrorResponse, not a Payment. */
    assert_int_equal(gw_pb_from_json(&a, GW_PB_PAYMENT,
                                     "{\"error\":{\"code\":\"amount_mismatch\",\"message\":"
                                     "\"\\\"amount_vnd\\\" must equal the sum\"}}",
                                     &bytes, &len),
                     GW_OK);
    pt_check_error(bytes, len, "amount_mismatch", "\"amount_vnd\" must equal the sum");
    gw_arena_release(&a);
}

static void test_from_json_refuses(void **state)
{
    (void)state;
    struct gw_arena a;
    gw_arena_init(&a, 4096, (size_t)1024 * 1024);
    static const char *const bad[] = { "", "{", "[1,2]", "\"x\"", "null", "{\"a\":1}}" };
    for (size_t i = 0; i < PT_COUNT(bad); i++) {
        void *bytes = (void *)(uintptr_t)1; /* NOLINT(performance-no-int-to-ptr): must be reset */
        size_t len = 9;
        assert_int_equal(gw_pb_from_json(&a, GW_PB_PAYMENT, bad[i], &bytes, &len), GW_ERR_INVALID);
        assert_null(bytes);
        assert_int_equal(len, 0);
    }
    gw_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_full_equals_json),
        cmocka_unit_test(test_create_minimal_defaults),
        cmocka_unit_test(test_create_refusals_agree),
        cmocka_unit_test(test_create_garbage),
        cmocka_unit_test(test_payment_round_trip),
        cmocka_unit_test(test_payment_sparse),
        cmocka_unit_test(test_receipt_number_integer),
        cmocka_unit_test(test_list_and_webhook),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_from_json_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
