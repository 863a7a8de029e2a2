-- Smoke test of the ledger functions, run as an admin role on a migrated database (seeded or
-- not; re-runnable): psql -X -v ON_ERROR_STOP=1 -f ledger/sql/tests/smoke.sql
-- Every check raises on failure. It creates its own fixtures (agency SMOKE, clients smoke and
-- smoke-other) and leaves its rows behind (the ledger is append-only); ledger_check() must
-- still find nothing at the end.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT set_config('smoke.run', substr(md5(random()::text), 1, 10), false) AS run \gset

-- expect_error(sql, sqlstate, message): sql must raise exactly that error.
CREATE FUNCTION pg_temp.expect_error(p_sql text, p_state text, p_msg text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_raised bool := false;
BEGIN
    BEGIN
        EXECUTE p_sql;
    EXCEPTION WHEN OTHERS THEN
        v_raised := true;
        IF SQLSTATE <> p_state OR (p_msg IS NOT NULL AND SQLERRM <> p_msg) THEN
            RAISE EXCEPTION 'expected % %, got % % from: %', p_state, p_msg, SQLSTATE, SQLERRM,
                p_sql;
        END IF;
    END;
    IF NOT v_raised THEN
        RAISE EXCEPTION 'expected % % from: %', p_state, p_msg, p_sql;
    END IF;
END
$$;

-- new_payment(key, order_ref, items, amount, client): the payment id (201 or replay).
CREATE FUNCTION pg_temp.new_payment(p_key text, p_ref text, p_items jsonb, p_amount bigint,
                               p_client text DEFAULT 'smoke') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO STRICT r FROM feegate.api_create_payment(p_client, p_key, 'sha-' || p_ref,
        jsonb_build_object('order_ref', p_ref, 'agency_code', 'SMOKE',
                           'payer', jsonb_build_object('name', 'Nguyễn Văn An'),
                           'items', p_items, 'amount_vnd', p_amount, 'locale', 'vi'),
        'http://127.0.0.1:8080');
    ASSERT r.http_status = 201, 'create: status ' || r.http_status;
    RETURN r.body::json ->> 'payment_id';
END
$$;

CREATE FUNCTION pg_temp.ref(p text) RETURNS text LANGUAGE sql AS $$
    SELECT p || '-' || current_setting('smoke.run')
$$;

CREATE FUNCTION pg_temp.checkout(p_id text) RETURNS text LANGUAGE sql AS $$
    SELECT feegate.checkout_begin(p_id, 'sandbox', 'http://127.0.0.1:8080') ->> 'merchant_ref'
$$;

CREATE FUNCTION pg_temp.callback(p_ref text, p_outcome text, p_amount bigint, p_txn text)
RETURNS text LANGUAGE sql AS $$
    SELECT feegate.apply_provider_result('sandbox', p_ref, p_outcome, p_amount, p_txn, now(),
                                         'ipn', '{"smoke":true}')
$$;

CREATE FUNCTION pg_temp.status_of(p_id text) RETURNS text LANGUAGE sql AS $$
    SELECT status FROM feegate.payments WHERE id = p_id
$$;

-- Fixtures ------------------------------------------------------------------------------

BEGIN;
INSERT INTO feegate.channels (code, name, enabled) VALUES ('sandbox', 'Sandbox', true),
    ('smokeoff', 'Disabled channel', false) ON CONFLICT DO NOTHING;
INSERT INTO feegate.receipt_series (template, series) VALUES ('01BLP0-001', 'ZZ-26E')
    ON CONFLICT DO NOTHING;
INSERT INTO feegate.agencies (code, name, tax_code, receipt_template, receipt_series)
    VALUES ('SMOKE', 'Cơ quan thử nghiệm', '0100000001', '01BLP0-001', 'ZZ-26E')
    ON CONFLICT DO NOTHING;
INSERT INTO feegate.treasury_accounts (code, agency_code, name, bank_name, account_no) VALUES
    ('SMOKE-A', 'SMOKE', 'A', 'KBNN', '3511.0.1.1'),
    ('SMOKE-B', 'SMOKE', 'B', 'KBNN', '7111.0.1.1'),
    ('SMOKE-C', 'SMOKE', 'C', 'KBNN', '7111.0.1.2') ON CONFLICT DO NOTHING;
INSERT INTO feegate.fees (agency_code, fee_code, name, amount_vnd_min, amount_vnd_max,
                          amounts_vnd, amount_step_vnd) VALUES
    ('SMOKE', 'FIX', 'Phí cố định', 200000, 200000, '{200000}', NULL),
    ('SMOKE', 'ODD', 'Phí chia ba', 1, 1000000000000, NULL, NULL),
    ('SMOKE', 'COPY', 'Lệ phí bản sao', 8000, 400000, NULL, 8000) ON CONFLICT DO NOTHING;
INSERT INTO feegate.fee_splits (agency_code, fee_code, ordinal, treasury_account, share_bp)
VALUES ('SMOKE', 'FIX', 1, 'SMOKE-A', 7000), ('SMOKE', 'FIX', 2, 'SMOKE-B', 3000),
       ('SMOKE', 'ODD', 1, 'SMOKE-A', 3333), ('SMOKE', 'ODD', 2, 'SMOKE-B', 3333),
       ('SMOKE', 'ODD', 3, 'SMOKE-C', 3334), ('SMOKE', 'COPY', 1, 'SMOKE-B', 10000)
    ON CONFLICT DO NOTHING;
INSERT INTO feegate.agency_channels VALUES ('SMOKE', 'sandbox'), ('SMOKE', 'smokeoff')
    ON CONFLICT DO NOTHING;
INSERT INTO feegate.clients (id, secret, webhook_url) VALUES
    ('smoke', 'smoke-secret-0123456789', 'http://127.0.0.1:9/hook'),
    ('smoke-other', 'smoke-secret-9876543210', NULL),
    ('smoke-none', 'smoke-secret-5555555555', NULL) ON CONFLICT DO NOTHING;
INSERT INTO feegate.client_agencies VALUES ('smoke', 'SMOKE') ON CONFLICT DO NOTHING;
COMMIT;

-- The state machine table is complete and a fee's splits must sum to 10000 ----------------

DO $$
BEGIN
    ASSERT (SELECT count(*) FROM feegate.payment_transitions) = 7 * 7, 'transitions: 49 rows';
    PERFORM pg_temp.expect_error($q$
        INSERT INTO feegate.fee_splits VALUES ('SMOKE', 'FIX', 3, 'SMOKE-C', 1);
        SET CONSTRAINTS ALL IMMEDIATE $q$, 'FG500', 'fee_splits_incomplete');
END
$$;

-- Create, idempotent replay, validation errors ------------------------------------------

DO $$
DECLARE
    r1 record;
    r2 record;
    v_key text := pg_temp.ref('k-create');
    v_req jsonb := jsonb_build_object('order_ref', pg_temp.ref('HS-1'), 'agency_code', 'SMOKE',
        'payer', '{"name":"Trần Thị Bình"}'::jsonb,
        'items', '[{"fee_code":"FIX","amount_vnd":200000},{"fee_code":"COPY","amount_vnd":16000}]'::jsonb,
        'amount_vnd', 216000, 'return_url', 'https://portal.example.vn/hs/1');
BEGIN
    SELECT * INTO STRICT r1 FROM feegate.api_create_payment('smoke', v_key, 'sha-a', v_req,
                                                            'http://gw');
    SELECT * INTO STRICT r2 FROM feegate.api_create_payment('smoke', v_key, 'sha-a', v_req,
                                                            'http://gw');
    ASSERT r1.http_status = 201 AND NOT r1.replayed, 'first create is 201, not replayed';
    ASSERT r2.http_status = 201 AND r2.replayed, 'replay is 201, replayed';
    ASSERT r1.body = r2.body, 'replay returns identical bytes';
    ASSERT r1.body LIKE '{"payment_id" : "pay_%', 'payment_id is the first key';
    ASSERT r1.body::json ->> 'status' = 'created', 'status created';
    ASSERT r1.body::json ->> 'expires_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$', 'RFC 3339';
    ASSERT r1.body::json ->> 'checkout_url' = 'http://gw/pay/' || (r1.body::json ->> 'payment_id'),
        'checkout_url';
    ASSERT r1.body::json -> 'receipt' IS NOT NULL AND json_typeof(r1.body::json -> 'receipt') = 'null',
        'receipt null';
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.api_create_payment(%L, %L, %L, %L, %L)', 'smoke', v_key, 'sha-b',
        v_req, 'http://gw'), 'FG409', 'idempotency_key_reused');
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.api_create_payment(%L, NULL, %L, %L, %L)', 'smoke', 'sha-c', v_req,
        'http://gw'), 'FG409', 'order_ref_in_use');
END
$$;

DO $$
DECLARE
    v_tpl text := 'SELECT feegate.api_create_payment(%L, %L, ''s'', %L, ''http://gw'')';
    v_key text := pg_temp.ref('k-bad');
BEGIN
    PERFORM pg_temp.expect_error(format(v_tpl, 'smoke-none', v_key, jsonb_build_object(
        'order_ref', 'x', 'agency_code', 'SMOKE', 'items', '[{"fee_code":"FIX","amount_vnd":200000}]'::jsonb,
        'amount_vnd', 200000)), 'FG422', 'unknown_agency');
    PERFORM pg_temp.expect_error(format(v_tpl, 'smoke', v_key, jsonb_build_object(
        'order_ref', 'x', 'agency_code', 'NOPE', 'items', '[{"fee_code":"FIX","amount_vnd":200000}]'::jsonb,
        'amount_vnd', 200000)), 'FG422', 'unknown_agency');
    PERFORM pg_temp.expect_error(format(v_tpl, 'smoke', v_key, jsonb_build_object(
        'order_ref', 'x', 'agency_code', 'SMOKE', 'items', '[{"fee_code":"NOPE","amount_vnd":1}]'::jsonb,
        'amount_vnd', 1)), 'FG422', 'unknown_fee');
    PERFORM pg_temp.expect_error(format(v_tpl, 'smoke', v_key, jsonb_build_object(
        'order_ref', 'x', 'agency_code', 'SMOKE', 'items', '[{"fee_code":"FIX","amount_vnd":100000}]'::jsonb,
        'amount_vnd', 100000)), 'FG422', 'amount_not_allowed');
    PERFORM pg_temp.expect_error(format(v_tpl, 'smoke', v_key, jsonb_build_object(
        'order_ref', 'x', 'agency_code', 'SMOKE', 'items', '[{"fee_code":"COPY","amount_vnd":9000}]'::jsonb,
        'amount_vnd', 9000)), 'FG422', 'amount_not_allowed');
    PERFORM pg_temp.expect_error(format(v_tpl, 'smoke', v_key, jsonb_build_object(
        'order_ref', 'x', 'agency_code', 'SMOKE', 'items', '[{"fee_code":"ODD","amount_vnd":-5}]'::jsonb,
        'amount_vnd', -5)), 'FG422', 'amount_not_allowed');
    PERFORM pg_temp.expect_error(format(v_tpl, 'smoke', v_key, jsonb_build_object(
        'order_ref', 'x', 'agency_code', 'SMOKE', 'items', '[{"fee_code":"FIX","amount_vnd":200000}]'::jsonb,
        'amount_vnd', 200001)), 'FG422', 'amount_mismatch');
    -- An error stores nothing: the key is free.
    ASSERT NOT EXISTS (SELECT 1 FROM feegate.idempotency WHERE idem_key = v_key),
        'failed request left an idempotency row';
END
$$;

-- Checkout, success with splits, duplicate, mismatch, receipt numbering ---------------------

DO $$
DECLARE
    v_id text := pg_temp.new_payment(NULL, pg_temp.ref('HS-2'),
                                '[{"fee_code":"ODD","amount_vnd":100},{"fee_code":"FIX","amount_vnd":200000}]', 200100);
    v_id2 text := pg_temp.new_payment(NULL, pg_temp.ref('HS-3'), '[{"fee_code":"ODD","amount_vnd":7}]', 7);
    v_ref text;
    v_ref2 text;
    v_num int;
    v_j json;
BEGIN
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.checkout_begin(%L, ''smokeoff'', ''http://gw'')', v_id), 'FG422',
        'channel_not_allowed');
    PERFORM pg_temp.expect_error(
        'SELECT feegate.checkout_begin(''pay_00000000000000000000000000000000'', ''sandbox'', '''')',
        'FG404', 'payment_not_found');
    v_ref := pg_temp.checkout(v_id);
    ASSERT v_ref ~ '^FG[0-9A-F]{20}$', 'merchant_ref format: ' || v_ref;
    ASSERT pg_temp.status_of(v_id) = 'pending', 'pending after checkout';
    ASSERT pg_temp.callback(v_ref, 'succeeded', 200099, 'T-1') = 'amount_mismatch', 'mismatch';
    ASSERT pg_temp.status_of(v_id) = 'pending', 'mismatch applies nothing';
    ASSERT pg_temp.callback('FGNOSUCHREF', 'succeeded', 200100, 'T-1') = 'not_found', 'not_found';
    ASSERT pg_temp.callback(v_ref, 'succeeded', 200100, 'T-1') = 'applied', 'applied';
    ASSERT pg_temp.callback(v_ref, 'succeeded', 200100, 'T-1') = 'duplicate', 'duplicate';
    ASSERT pg_temp.callback(v_ref, 'failed', 200100, 'T-1') = 'duplicate', 'failure after success';
    ASSERT (SELECT count(*) FROM feegate.provider_messages WHERE merchant_ref = v_ref) = 4,
        'every verified message is stored';
    COMMIT; -- the receipt and its webhook are made at commit
    v_j := feegate.api_get_payment('smoke', v_id)::json;
    ASSERT v_j ->> 'status' = 'succeeded' AND v_j ->> 'provider_txn_id' = 'T-1', 'succeeded';
    ASSERT v_j -> 'receipt' ->> 'number' ~ '^\d{7}$', 'receipt number is 7 digits';
    -- ODD 100 -> 33/33/34 (remainder last); FIX 200000 -> 140000/60000.
    ASSERT (SELECT array_agg(p.account_code || '=' || p.amount_vnd ORDER BY p.account_code)
            FROM feegate.journals j JOIN feegate.postings p ON p.journal_id = j.id
            WHERE j.payment_id = v_id)
        = ARRAY['clearing:sandbox=200100', 'payable:SMOKE-A=-140033', 'payable:SMOKE-B=-60033',
                'payable:SMOKE-C=-34'], 'split postings';
    v_num := (v_j -> 'receipt' ->> 'number')::int;
    v_ref2 := pg_temp.checkout(v_id2);
    ASSERT pg_temp.callback(v_ref2, 'succeeded', 7, 'T-2') = 'applied', 'second applied';
    COMMIT;
    ASSERT (SELECT number FROM feegate.receipts WHERE payment_id = v_id2) = v_num + 1,
        'receipt numbers are consecutive';
    ASSERT (SELECT array_agg(type ORDER BY id) FROM feegate.outbox WHERE payment_id = v_id)
        = ARRAY['payment.pending', 'payment.succeeded'], 'one webhook per status change';
    ASSERT (SELECT body::json -> 'payment' -> 'receipt' ->> 'id' FROM feegate.outbox
            WHERE payment_id = v_id AND type = 'payment.succeeded') = v_j -> 'receipt' ->> 'id',
        'the webhook carries the receipt';
    ASSERT feegate.receipt_view(v_j -> 'receipt' ->> 'id')::json ->> 'payment_id' = v_id,
        'receipt_view';
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.checkout_begin(%L, ''sandbox'', ''http://gw'')', v_id), 'FG409',
        'payment_not_payable');
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.api_cancel_payment(''smoke'', %L, NULL, NULL)', v_id), 'FG409',
        'payment_not_cancellable');
END
$$;

-- Overpayment: a second attempt paid too (overpayments.sql) ------------------------------

DO $$
DECLARE
    v_id text := pg_temp.new_payment(NULL, pg_temp.ref('HS-OVP'),
                                     '[{"fee_code":"ODD","amount_vnd":3000}]', 3000);
    v_a text;
    v_b text;
    v_c text;
    s record;
    o feegate.overpayments;
    v_j json;
    v_tok text := repeat('5a', 32);
BEGIN
    v_a := pg_temp.checkout(v_id);
    v_b := pg_temp.checkout(v_id);
    v_c := pg_temp.checkout(v_id);
    ASSERT pg_temp.callback(v_a, 'succeeded', 3000, 'T-OA') = 'applied', 'first success pays';
    ASSERT pg_temp.callback(v_b, 'succeeded', 3000, 'T-OB') = 'applied', 'second is booked';
    ASSERT pg_temp.callback(v_b, 'succeeded', 3000, 'T-OB') = 'duplicate', 'booked once';
    ASSERT pg_temp.callback(v_a, 'succeeded', 3000, 'T-OA') = 'duplicate', 'payer''s own repeat';
    ASSERT pg_temp.status_of(v_id) = 'succeeded', 'the status is kept';
    SELECT * INTO STRICT o FROM feegate.overpayments WHERE merchant_ref = v_b;
    ASSERT o.state = 'owed' AND o.amount_vnd = 3000 AND o.provider_txn_id = 'T-OB'
           AND o.channel = 'sandbox', 'owed';
    ASSERT (SELECT p.amount_vnd FROM feegate.postings p WHERE p.journal_id = o.journal_id
              AND p.account_code = 'overpaid:sandbox') = -3000, 'overpaid:sandbox credited';
    -- Recovery closes the attempt that paid and the overpaid one, and asks about the third.
    UPDATE feegate.payment_attempts SET next_query_at = now() WHERE payment_id = v_id;
    ASSERT (SELECT array_agg(d.merchant_ref) FROM feegate.recovery_due(1000, 60) d
            WHERE d.payment_id = v_id) = ARRAY[v_c], 'the superseded attempt is queried';
    ASSERT (SELECT bool_and(final) FROM feegate.payment_attempts
            WHERE merchant_ref IN (v_a, v_b)), 'paying and overpaid attempts are final';
    -- Refunded through the channel that took it, as a refund of that attempt.
    SELECT * INTO STRICT s FROM feegate.overpayment_refunds_begin(1000, '{sandbox}') x
        WHERE x.send ->> 'merchant_ref' = v_b;
    ASSERT s.send ->> 'provider_txn_id' = 'T-OB' AND (s.send ->> 'amount_vnd')::bigint = 3000
           AND (s.send ->> 'full')::bool, 'the refund of the overpaid attempt';
    ASSERT (SELECT state FROM feegate.overpayments WHERE id = o.id) = 'refunding', 'refunding';
    ASSERT (SELECT status FROM feegate.refund_result(s.refund_id, 'accepted', 'RF-OB', NULL,
                                                     'refund', '{}', NULL)) = 'succeeded',
        'accepted';
    ASSERT (SELECT state FROM feegate.overpayments WHERE id = o.id) = 'refunded', 'refunded';
    ASSERT (SELECT refunded_vnd FROM feegate.payments WHERE id = v_id) = 0,
        'not a refund of the payment';
    ASSERT feegate.api_refunds('smoke', v_id)::json -> 'refunds' ->> 0 IS NULL,
        'not the portal''s refund';
    -- The third attempt paid too (found by a query); its channel cannot refund here.
    ASSERT feegate.recovery_result(v_c, 'succeeded', 3000, 'T-OC', now(), '{}', 300) = 'applied',
        'found by the query';
    PERFORM feegate.overpayment_refunds_begin(1000, '{}');
    SELECT * INTO STRICT o FROM feegate.overpayments WHERE merchant_ref = v_c;
    ASSERT o.state = 'to_transfer', 'to_transfer';
    -- A clerk's live session (what staff_sign_in would write), its token v_tok.
    INSERT INTO feegate.staff (id, role, name, password_hash, totp_secret)
        VALUES ('smoke-clerk', 'clerk', 'Smoke', '$argon2id$v=19$m=65536,t=2,p=1$smoke',
                '\x00112233445566778899aabbccddeeff')
        ON CONFLICT (id) DO NOTHING;
    INSERT INTO feegate.staff_sessions (token_sha256, staff_id, from_addr, expires_at)
        VALUES (sha256(convert_to(v_tok, 'UTF8')), 'smoke-clerk', 'smoke',
                now() + interval '1 hour')
        ON CONFLICT (token_sha256) DO UPDATE SET ended_at = NULL, last_seen_at = now(),
                                                 expires_at = now() + interval '1 hour';
    PERFORM pg_temp.expect_error(format('SELECT feegate.overpayment_transfer(%L, %L, %L)', o.id,
                                        v_tok, 'bad ref'), 'FG422', 'invalid_transfer_ref');
    PERFORM pg_temp.expect_error(format('SELECT feegate.overpayment_transfer(%L, %L, %L)',
                                        'ovp_none', v_tok, 'TR-1'), 'FG404',
                                 'overpayment_not_found');
    ASSERT feegate.overpayment_transfer(o.id, v_tok, 'TR-1')::json ->> 'state'
           = 'transferred', 'transferred';
    PERFORM pg_temp.expect_error(format('SELECT feegate.overpayment_transfer(%L, %L, %L)', o.id,
                                        v_tok, 'TR-2'), 'FG409',
                                 'overpayment_not_transferable');
    v_j := feegate.api_get_payment('smoke', v_id)::json;
    ASSERT json_array_length(v_j -> 'overpayments') = 2, 'the payment lists its overpayments';
    ASSERT (SELECT array_agg(event ORDER BY seq) FROM feegate.payment_events
            WHERE payment_id = v_id AND event LIKE 'overpa%')
        = ARRAY['overpaid', 'overpayment_refunding', 'overpayment_refunded', 'overpaid',
                'overpayment_to_transfer', 'overpayment_transferred'], 'the payment''s events';
    ASSERT (SELECT array_agg(type ORDER BY id) FROM feegate.outbox
            WHERE payment_id = v_id AND type LIKE 'payment.overpa%')
        = ARRAY['payment.overpaid', 'payment.overpayment_refunded', 'payment.overpaid',
                'payment.overpayment_refunded'], 'the webhooks';
    ASSERT feegate.fin_overpayments(NULL, 'transferred')::json -> 'overpayments' IS NOT NULL,
        'fin_overpayments';
    PERFORM pg_temp.expect_error('SELECT feegate.fin_overpayments(NULL, ''bogus'')', 'FG422',
                                 'invalid_state');
END
$$;

-- A refund of an overpayment the provider refuses: paid back by transfer instead.
DO $$
DECLARE
    v_id text := pg_temp.new_payment(NULL, pg_temp.ref('HS-OVP2'),
                                     '[{"fee_code":"ODD","amount_vnd":4000}]', 4000);
    v_a text := pg_temp.checkout(v_id);
    v_b text := pg_temp.checkout(v_id);
    s record;
BEGIN
    ASSERT pg_temp.callback(v_b, 'succeeded', 4000, 'T-O2B') = 'applied', 'paid through b';
    ASSERT pg_temp.callback(v_a, 'succeeded', 4000, 'T-O2A') = 'applied', 'and through a';
    SELECT * INTO STRICT s FROM feegate.overpayment_refunds_begin(1000, '{sandbox}') x
        WHERE x.send ->> 'merchant_ref' = v_a;
    ASSERT (SELECT status FROM feegate.refund_result(s.refund_id, 'rejected', NULL, '94', 'refund',
                                                     '{}', NULL)) = 'failed', 'refused';
    ASSERT (SELECT state FROM feegate.overpayments WHERE merchant_ref = v_a) = 'to_transfer',
        'to_transfer after a refused refund';
    ASSERT NOT EXISTS (SELECT 1 FROM feegate.outbox WHERE payment_id = v_id
                         AND type LIKE 'refund.%'), 'no refund webhook for the switch''s refund';
END
$$;

-- Failure, re-attempt, stale failure, late success after cancel ---------------------------

DO $$
DECLARE
    v_id text := pg_temp.new_payment(NULL, pg_temp.ref('HS-4'), '[{"fee_code":"ODD","amount_vnd":5000}]', 5000);
    v_id2 text := pg_temp.new_payment(NULL, pg_temp.ref('HS-5'), '[{"fee_code":"ODD","amount_vnd":5000}]', 5000);
    v_old_ref text;
    v_ref text;
    c record;
BEGIN
    v_ref := pg_temp.checkout(v_id);
    ASSERT pg_temp.callback(v_ref, 'failed', 5000, NULL) = 'applied', 'decline applied';
    -- A decline closes the attempt, not the payment: still payable, its order_ref still taken.
    ASSERT pg_temp.status_of(v_id) = 'pending', 'pending after a decline';
    ASSERT (SELECT declined_at IS NOT NULL AND final FROM feegate.payment_attempts
            WHERE merchant_ref = v_ref), 'the declined attempt is closed';
    ASSERT pg_temp.callback(v_ref, 'failed', 5000, NULL) = 'duplicate', 'decline repeated';
    ASSERT feegate.checkout_view(v_id)::json -> 'attempts' -> 0 ->> 'state' = 'declined',
        'checkout_view shows the declined attempt';
    v_ref := pg_temp.checkout(v_id);
    ASSERT feegate.checkout_view(v_id)::json -> 'attempts' -> 0 ->> 'state' = 'in_progress',
        'checkout_view shows the new attempt in progress';
    ASSERT pg_temp.callback(v_ref, 'succeeded', 5000, 'T-AGAIN') = 'applied', 'paid after a decline';
    ASSERT pg_temp.status_of(v_id) = 'succeeded' AND NOT (SELECT late FROM feegate.payments
                                                          WHERE id = v_id), 'paid, not late';
    -- Two attempts: the failure of the superseded one is ignored.
    v_old_ref := pg_temp.checkout(v_id2);
    v_ref := pg_temp.checkout(v_id2);
    ASSERT pg_temp.callback(v_old_ref, 'failed', 5000, NULL) = 'duplicate', 'stale failure';
    ASSERT pg_temp.status_of(v_id2) = 'pending', 'still pending';
    -- Cancel while pending, portal creates a new payment for the same order_ref, then the
    -- bank confirms the old one: late success, booked and receipted.
    SELECT * INTO STRICT c FROM feegate.api_cancel_payment('smoke', v_id2, pg_temp.ref('k-c'), 'h');
    ASSERT c.http_status = 200 AND c.body::json ->> 'status' = 'cancelled', 'cancelled';
    SELECT * INTO STRICT c FROM feegate.api_cancel_payment('smoke', v_id2, pg_temp.ref('k-c'), 'h');
    ASSERT c.replayed, 'cancel replay';
    SELECT * INTO STRICT c FROM feegate.api_cancel_payment('smoke', v_id2, NULL, NULL);
    ASSERT c.http_status = 200 AND NOT c.replayed, 'cancel of cancelled is a no-op';
    PERFORM pg_temp.new_payment(NULL, pg_temp.ref('HS-5'), '[{"fee_code":"ODD","amount_vnd":5000}]', 5000);
    ASSERT pg_temp.callback(v_ref, 'succeeded', 5000, 'T-LATE') = 'applied', 'late applied';
    ASSERT (SELECT late AND status = 'succeeded' FROM feegate.payments WHERE id = v_id2), 'late';
    COMMIT;
    ASSERT EXISTS (SELECT 1 FROM feegate.receipts WHERE payment_id = v_id2), 'late receipted';
    ASSERT json_array_length(feegate.api_find_payments('smoke', pg_temp.ref('HS-5'))::json
                             -> 'payments') = 2, 'find_payments lists both';
    ASSERT feegate.api_get_payment('smoke-other', v_id2) IS NULL, 'other client sees nothing';
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.api_cancel_payment(''smoke-other'', %L, NULL, NULL)', v_id2), 'FG404',
        'payment_not_found');
    -- create, checkout, checkout, cancel, late success (the ignored cancel is not an event).
    ASSERT json_array_length(feegate.api_payment_events('smoke', v_id2)::json -> 'events') = 5,
        'events: '
        || feegate.api_payment_events('smoke', v_id2);
END
$$;

-- Expiry -------------------------------------------------------------------------------------

DO $$
DECLARE
    v_id text := pg_temp.new_payment(NULL, pg_temp.ref('HS-6'), '[{"fee_code":"ODD","amount_vnd":10}]', 10);
    v_ref text := pg_temp.checkout(v_id);
BEGIN
    UPDATE feegate.payments SET expires_at = now() - interval '1 second' WHERE id = v_id;
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.checkout_begin(%L, ''sandbox'', ''x'')', v_id), 'FG409', 'payment_not_payable');
    ASSERT feegate.expire_due(100000) >= 1, 'expire_due expired something';
    ASSERT pg_temp.status_of(v_id) = 'expired', 'expired';
    ASSERT EXISTS (SELECT 1 FROM feegate.outbox WHERE payment_id = v_id AND type = 'payment.expired'),
        'expired webhook';
    ASSERT pg_temp.callback(v_ref, 'succeeded', 10, 'T-6') = 'applied', 'late after expiry';
    ASSERT (SELECT late FROM feegate.payments WHERE id = v_id), 'late after expiry';
END
$$;

-- Outbox -------------------------------------------------------------------------------------

DO $$
DECLARE
    v_id text := pg_temp.new_payment(NULL, pg_temp.ref('HS-7'), '[{"fee_code":"ODD","amount_vnd":10}]', 10);
    v_other text;
    v_ob bigint;
    o record;
    i int;
BEGIN
    INSERT INTO feegate.client_agencies VALUES ('smoke-other', 'SMOKE') ON CONFLICT DO NOTHING;
    v_other := pg_temp.new_payment(NULL, pg_temp.ref('HS-8'), '[{"fee_code":"ODD","amount_vnd":10}]', 10,
                              'smoke-other');
    PERFORM pg_temp.checkout(v_id);
    PERFORM pg_temp.checkout(v_other);
    SELECT id INTO STRICT v_ob FROM feegate.outbox WHERE payment_id = v_id;
    ASSERT EXISTS (SELECT 1 FROM feegate.outbox_claim(100000, 60) c WHERE c.id = v_ob
                   AND c.url = 'http://127.0.0.1:9/hook'), 'claimed with url';
    ASSERT NOT EXISTS (SELECT 1 FROM feegate.outbox_claim(100000, 60) c WHERE c.id = v_ob),
        'leased row not claimed twice';
    ASSERT (SELECT next_attempt_at IS NULL FROM feegate.outbox WHERE payment_id = v_other),
        'client without url: not scheduled';
    PERFORM feegate.outbox_result(v_ob, false, 500, 'boom');
    SELECT * INTO o FROM feegate.outbox WHERE id = v_ob;
    ASSERT o.attempts = 1 AND o.lease_until IS NULL AND o.last_error = 'boom', 'failure recorded';
    ASSERT o.next_attempt_at BETWEEN now() + interval '4 s' AND now() + interval '6 s', 'backoff 5 s';
    FOR i IN 2..39 LOOP
        PERFORM feegate.outbox_result(v_ob, false, NULL, 'timeout');
    END LOOP;
    SELECT * INTO o FROM feegate.outbox WHERE id = v_ob;
    ASSERT o.attempts = 39 AND o.dead_at IS NULL, 'alive after 39';
    ASSERT o.next_attempt_at BETWEEN now() + interval '3599 s' AND now() + interval '3601 s',
        'backoff capped at 1 h';
    PERFORM feegate.outbox_result(v_ob, false, 503, 'still down');
    SELECT * INTO o FROM feegate.outbox WHERE id = v_ob;
    ASSERT o.attempts = 40 AND o.dead_at IS NOT NULL AND o.next_attempt_at IS NULL, 'dead letter';
    ASSERT (SELECT count(*) FROM feegate.webhook_deliveries WHERE outbox_id = v_ob) = 40,
        'every attempt logged';
END
$$;

DO $$
DECLARE
    v_id text := pg_temp.new_payment(NULL, pg_temp.ref('HS-9'), '[{"fee_code":"ODD","amount_vnd":10}]', 10);
    v_ob bigint;
BEGIN
    PERFORM pg_temp.checkout(v_id);
    SELECT id INTO STRICT v_ob FROM feegate.outbox WHERE payment_id = v_id;
    PERFORM feegate.outbox_result(v_ob, true, 200, NULL);
    ASSERT (SELECT delivered_at IS NOT NULL AND next_attempt_at IS NULL AND attempts = 1
            FROM feegate.outbox WHERE id = v_ob), 'delivered';
    ASSERT NOT EXISTS (SELECT 1 FROM feegate.outbox_claim(100000, 60) c WHERE c.id = v_ob),
        'delivered row never claimed';
END
$$;

-- Append-only and balance triggers ----------------------------------------------------------
-- (post_journal is internal: it runs with its caller's search_path, the API's feegate.)

SET search_path = feegate, pg_temp;
DO $$
DECLARE
    v_j bigint := (SELECT max(id) FROM feegate.journals);
BEGIN
    PERFORM pg_temp.expect_error('UPDATE feegate.journals SET memo = ''x''', 'FG500', 'append_only');
    PERFORM pg_temp.expect_error('DELETE FROM feegate.postings', 'FG500', 'append_only');
    PERFORM pg_temp.expect_error('TRUNCATE feegate.receipts CASCADE', 'FG500', 'append_only');
    PERFORM pg_temp.expect_error('UPDATE feegate.payment_events SET data = ''{}''', 'FG500', 'append_only');
    PERFORM pg_temp.expect_error('DELETE FROM feegate.provider_messages', 'FG500', 'append_only');
    PERFORM pg_temp.expect_error(
        'SELECT feegate.post_journal(''test'', NULL, '''', ''[{"account":"clearing:x","amount_vnd":5},{"account":"payable:y","amount_vnd":-4}]'')',
        'FG500', 'journal_unbalanced');
    -- A posting appended to an old journal (only an admin can try) is found by ledger_check.
    PERFORM pg_temp.expect_error(format($q$DO $d$ BEGIN
        INSERT INTO feegate.postings (journal_id, account_code, amount_vnd)
            VALUES (%s, 'clearing:sandbox', 1);
        IF (SELECT violations FROM feegate.ledger_check()
            WHERE check_name = 'journals_balanced') = 1 THEN
            RAISE EXCEPTION USING ERRCODE = 'FGT01', MESSAGE = 'detected';
        END IF; END $d$ $q$, v_j), 'FGT01', 'detected');
    PERFORM pg_temp.expect_error($q$
        INSERT INTO feegate.journals (kind, business_day) VALUES ('test', current_date);
        SET CONSTRAINTS ALL IMMEDIATE $q$, 'FG500', 'journal_unbalanced');
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.post_journal(''payment_success'', %L, '''', ''[{"account":"clearing:sandbox","amount_vnd":5},{"account":"payable:SMOKE-A","amount_vnd":-5}]'')',
        (SELECT payment_id FROM feegate.journals WHERE id = v_j)), '23505', NULL);
END
$$;
RESET search_path;

-- A signed request accepted once (request_once) --------------------------------------------

DO $$
DECLARE
    v_sig text := pg_temp.ref('v1=smoke-sig');
    v_old text := pg_temp.ref('v1=smoke-old');
    v_until bigint := floor(extract(epoch FROM now()))::bigint + 600;
    v_req jsonb := jsonb_build_object('order_ref', pg_temp.ref('HS-SIG'), 'agency_code', 'SMOKE',
        'payer', '{"name":"An"}'::jsonb,
        'items', '[{"fee_code":"FIX","amount_vnd":200000}]'::jsonb, 'amount_vnd', 200000);
    r record;
    v_n bigint;
BEGIN
    SELECT * INTO STRICT r FROM feegate.api_create_payment('smoke', pg_temp.ref('k-sig'),
                                                           'sha-sig', v_req, 'http://gw', v_sig,
                                                           v_until);
    ASSERT r.http_status = 201 AND NOT r.replayed, 'a signed create is 201';
    v_n := (SELECT count(*) FROM feegate.payments);
    -- The same signature again, whatever the key: request_replayed, nothing made.
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.api_create_payment(%L, %L, %L, %L, %L, %L, %s)', 'smoke',
        pg_temp.ref('k-sig-2'), 'sha-sig', v_req, 'http://gw', v_sig, v_until),
        'FG409', 'request_replayed');
    PERFORM pg_temp.expect_error(format(
        'SELECT feegate.api_cancel_payment(%L, %L, %L, %L, %L, %s)', 'smoke',
        r.body::json ->> 'payment_id', pg_temp.ref('k-sig-3'), 'h', v_sig, v_until),
        'FG409', 'request_replayed');
    ASSERT (SELECT count(*) FROM feegate.payments) = v_n, 'a replay makes nothing';
    ASSERT pg_temp.status_of(r.body::json ->> 'payment_id') = 'created', 'a replay cancels nothing';
    -- Per client: another client's equal signature is its own. (request_once is the
    -- operations' own step and runs with their search_path.)
    PERFORM set_config('search_path', 'feegate, pg_temp', true);
    PERFORM feegate.request_once('smoke-other', v_sig, v_until);
    PERFORM pg_temp.expect_error(format('SELECT feegate.request_once(%L, %L, %s)',
                                        'smoke-other', v_sig, v_until),
                                 'FG409', 'request_replayed');
    -- No signature (the owner's tools): nothing remembered.
    PERFORM feegate.request_once('smoke', NULL, NULL);
    -- The purge takes what has expired and leaves the rest.
    PERFORM feegate.request_once('smoke', v_old, 0);
    PERFORM set_config('search_path', '"$user", public', true);
    ASSERT feegate.request_signatures_purge(1000000) >= 1, 'purge deletes the expired';
    ASSERT NOT EXISTS (SELECT 1 FROM feegate.request_signatures WHERE signature = v_old),
        'expired signature purged';
    ASSERT EXISTS (SELECT 1 FROM feegate.request_signatures WHERE signature = v_sig),
        'live signature kept';
END
$$;

-- The application role: execute and read, nothing else ---------------------------------------

SET ROLE feegate_app;
DO $$
BEGIN
    PERFORM count(*) FROM feegate.payments;
    ASSERT feegate.api_catalog('smoke')::json -> 'agencies' -> 0 ->> 'code' IS NOT NULL, 'catalog';
    ASSERT (SELECT count(*) FROM feegate.clients_list()) >= 2, 'clients_list';
    PERFORM pg_temp.expect_error('INSERT INTO feegate.channels VALUES (''x'', ''x'', true)',
                                 '42501', NULL);
    PERFORM pg_temp.expect_error('UPDATE feegate.payments SET late = true', '42501', NULL);
    PERFORM pg_temp.expect_error('DELETE FROM feegate.idempotency', '42501', NULL);
    PERFORM pg_temp.expect_error('DELETE FROM feegate.request_signatures', '42501', NULL);
    PERFORM pg_temp.expect_error('SELECT feegate.request_once(''a'', ''b'', 0)', '42501', NULL);
    PERFORM pg_temp.expect_error('SELECT feegate.post_journal(''x'', NULL, '''', ''[]'')',
                                 '42501', NULL);
    PERFORM pg_temp.expect_error('SELECT feegate.apply_event(''x'', ''cancel'', ''{}'')',
                                 '42501', NULL);
END
$$;
RESET ROLE;

-- Everything still holds -------------------------------------------------------------------

DO $$
DECLARE
    r record;
    bad text := '';
BEGIN
    FOR r IN SELECT * FROM feegate.ledger_check() WHERE violations <> 0 LOOP
        bad := bad || format('%s: %s (%s); ', r.check_name, r.violations, r.detail);
    END LOOP;
    IF bad <> '' THEN
        RAISE EXCEPTION 'ledger_check: %', bad;
    END IF;
    ASSERT (SELECT count(*) FROM feegate.ledger_check()) = 33, 'ledger_check has its checks';
END
$$;

\echo 'ok   ledger smoke.sql'
