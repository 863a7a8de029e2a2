-- bench/floor.sql: the floor of our data model, for pgbench (bench/run.sh: -M prepared,
-- 8 clients). One run of this script writes the rows and index entries that one payment
-- writes in the ledger (create, checkout, success with its journal, receipt and webhooks,
-- the receipt document, the two webhook deliveries, the journal's seal), as plain INSERT,
-- UPDATE and DELETE statements on the copies that bench/floor_setup.sql makes, in five
-- transactions, one per step of the payment's life (the gateway batches the calls of
-- several payments into one transaction under load: run.sh prints its commits per
-- payment). No logic: no state machine, no checks, no JSON built, no triggers. pgbench's
-- tps is then payments per second.

-- 1. create (api_create_payment): the payment, its first event, its idempotency key.
BEGIN;
WITH i AS (SELECT floor.new_id('pay_') AS id)
INSERT INTO floor.payments (id, client_id, order_ref, agency_code, amount_vnd, payer, items,
                            return_url, locale, base_url, expires_at)
SELECT i.id, 'demo-portal', 'FL-' || i.id, 'STP-HN', 200000,
       '{"name": "Nguyễn Văn An", "email": "an@example.vn", "id_number": "001099012345"}',
       '[{"fee_code": "LLTP", "amount_vnd": 200000}]',
       'https://portal.example.vn/hs/FL-' || i.id, 'vi', 'http://127.0.0.1:18080',
       now() + interval '15 minutes'
  FROM i RETURNING id AS pid \gset
INSERT INTO floor.payment_events (payment_id, seq, event, to_status) VALUES (:pid, 1, 'create', 'created');
INSERT INTO floor.idempotency (client_id, idem_key, request_sha256, http_status, body)
SELECT 'demo-portal', 'FL-' || :pid, md5(:pid) || md5(:pid), 201, substr(b, 1, 712) FROM floor.blob;
END;

-- 2. checkout (checkout_begin): the attempt, the payment pending, its event and webhook.
BEGIN;
INSERT INTO floor.payment_attempts (merchant_ref, payment_id, channel)
VALUES ('FG' || upper(substr(md5(random()::text), 1, 20)), :pid, 'sandbox') RETURNING merchant_ref AS mref \gset
UPDATE floor.payments SET status = 'pending', channel = 'sandbox', merchant_ref = :mref,
       updated_at = now(), event_seq = 2 WHERE id = :pid;
INSERT INTO floor.payment_events (payment_id, seq, event, from_status, to_status)
VALUES (:pid, 2, 'checkout', 'created', 'pending');
INSERT INTO floor.outbox (event_id, client_id, payment_id, type, body, next_attempt_at)
SELECT floor.new_id('evt_'), 'demo-portal', :pid, 'payment.pending', substr(b, 1, 990), now() FROM floor.blob;
END;

-- 3. success (apply_provider_result): the provider's message, the payment succeeded, its
-- event, the journal and its three postings, the receipt with the next number of its
-- series, the receipt job, the payment.succeeded webhook.
BEGIN;
INSERT INTO floor.provider_messages (channel, merchant_ref, source, raw, verdict)
SELECT 'sandbox', :mref, 'callback', substr(b, 1, 390), 'applied' FROM floor.blob;
UPDATE floor.payments SET status = 'succeeded', provider_txn_id = 'SB' || substr(:mref, 3, 16),
       paid_at = now(), updated_at = now(), event_seq = 3 WHERE id = :pid;
INSERT INTO floor.payment_events (payment_id, seq, event, from_status, to_status, data)
VALUES (:pid, 3, 'succeeded', 'pending', 'succeeded', '{"provider_txn_id": "SB0123456789abcdef", "late": false}');
INSERT INTO floor.journals (kind, payment_id, business_day, memo)
VALUES ('payment_success', :pid, current_date, 'payment ' || CAST(:pid AS text) || ' order FL-' || CAST(:pid AS text) || ' via sandbox')
RETURNING id AS jid \gset
INSERT INTO floor.postings (journal_id, account_code, amount_vnd)
SELECT CAST(:jid AS bigint), a, v
  FROM (VALUES ('clearing:' || 'sandbox', 200000), ('payable:' || 'NSNN-HN-7111', -150000),
               ('payable:' || 'STP-HN-3511', -50000)) AS x (a, v);
UPDATE floor.receipt_series SET next_number = next_number + 1
RETURNING template AS tpl, series AS ser, next_number - 1 AS rno \gset
INSERT INTO floor.receipts (id, payment_id, agency_code, template, series, number, amount_vnd, payer, items)
VALUES (floor.new_id('rcp_'), :pid, 'STP-HN', :tpl, :ser, CAST(:rno AS int), 200000,
        '{"name": "Nguyễn Văn An", "email": "an@example.vn", "id_number": "001099012345"}',
        '[{"fee_code": "LLTP", "amount_vnd": 200000}]') RETURNING id AS rid \gset
INSERT INTO floor.receipt_jobs (receipt_id) VALUES (:rid);
INSERT INTO floor.outbox (event_id, client_id, payment_id, type, body, next_attempt_at)
SELECT floor.new_id('evt_'), 'demo-portal', :pid, 'payment.succeeded', substr(b, 1, 990), now() FROM floor.blob;
END;

-- 4. the receipt issued: the job leased, the signed document stored, the job deleted.
BEGIN;
UPDATE floor.receipt_jobs SET lease_until = now() + interval '1 minute', attempts = attempts + 1
 WHERE receipt_id = :rid;
INSERT INTO floor.receipt_documents (receipt_id, kind, body, sha256, signed_at, cert_fingerprint)
SELECT :rid, 'xml', substr(b, 1, 3333), md5(:rid) || md5(:pid), now(), md5(:pid) || md5(:rid) FROM floor.blob;
DELETE FROM floor.receipt_jobs WHERE receipt_id = :rid;
END;

-- 5. the two webhooks delivered (each leased, then marked delivered, with its delivery
-- recorded), and the journal sealed into the hash chain.
BEGIN;
UPDATE floor.outbox SET lease_until = now() + interval '30 seconds'
 WHERE payment_id = :pid AND next_attempt_at IS NOT NULL;
UPDATE floor.outbox SET attempts = attempts + 1, delivered_at = now(), next_attempt_at = NULL,
       lease_until = NULL WHERE payment_id = :pid;
INSERT INTO floor.webhook_deliveries (outbox_id, attempt, http_status)
SELECT id, 1, 204 FROM floor.outbox WHERE payment_id = :pid;
INSERT INTO floor.journal_seals (seq, journal_id, prev_hash, hash)
VALUES (nextval('floor.seal_seq'), CAST(:jid AS bigint), decode(md5(:pid) || md5(:rid), 'hex'),
        decode(md5(:rid) || md5(:pid), 'hex'));
END;
