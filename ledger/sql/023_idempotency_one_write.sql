-- 023_idempotency_one_write: a create or a cancel writes its idempotency key once, with its
-- response, instead of claiming the key first and completing it at the end.
--
-- The key used to be claimed by an INSERT with status 0 at the start of the operation (a
-- concurrent request with the same key waited on the primary key) and completed by an
-- UPDATE at the end: two row versions, two index entries and two CHECKs per payment. Now
-- idem_lock takes a transaction-scoped advisory lock on (client, key) and looks the key up;
-- a concurrent request with the same key waits on that lock, then finds the committed
-- response (or nothing, if the first rolled back, and proceeds). idem_put stores the key
-- with its response in the operation's transaction. The outcomes are those of 004: the
-- same response replayed, idempotency_key_reused for another request,
-- idempotency_key_in_progress for a key whose operation has not answered yet.
--
-- Refunds keep the two-phase claim (their answer comes in a later transaction, from the
-- provider): idem_claim now takes the same advisory lock first, so a refund and a create
-- with the same key serialise too.

SET LOCAL search_path = feegate, pg_temp;

-- The advisory lock of (client, key): one 64-bit hash, in its own key space ("idem:").
CREATE FUNCTION idem_lock_key(p_client text, p_key text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('idem:' || p_client || '/' || p_key, 0)
$$;

-- Looks the key up under its lock: NULL when the caller owns the key now (or there is no
-- key); otherwise the stored response.
CREATE FUNCTION idem_lock(p_client text, p_key text, p_sha text,
                          OUT o_status int, OUT o_body text)
LANGUAGE plpgsql AS $$
DECLARE
    v_sha text;
BEGIN
    IF p_key IS NULL THEN
        RETURN;
    END IF;
    IF length(p_key) > 255 OR p_key !~ '^[A-Za-z0-9_-]+$' THEN
        PERFORM fail('FG400', 'invalid_idempotency_key',
                     'Idempotency-Key must be 1-255 of [A-Za-z0-9_-]');
    END IF;
    PERFORM pg_advisory_xact_lock(idem_lock_key(p_client, p_key));
    SELECT request_sha256, http_status, body INTO v_sha, o_status, o_body
        FROM idempotency WHERE client_id = p_client AND idem_key = p_key;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF o_status = 0 THEN
        PERFORM fail('FG409', 'idempotency_key_in_progress',
                     format('a request with key "%s" is still in progress', p_key));
    END IF;
    IF v_sha <> coalesce(p_sha, '') THEN
        PERFORM fail('FG409', 'idempotency_key_reused',
                     format('key "%s" was used with another request', p_key));
    END IF;
END
$$;

-- Stores the key with its response, in the operation's transaction (after idem_lock).
CREATE FUNCTION idem_put(p_client text, p_key text, p_sha text, p_status int, p_body text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency (client_id, idem_key, request_sha256, http_status, body)
            VALUES (p_client, p_key, coalesce(p_sha, ''), p_status, p_body);
    END IF;
END
$$;

-- idem_claim (004, 018) on top of idem_lock: the same checks and answers, and a key that is
-- free is claimed with status 0 under the lock, for a refund's later answer.
CREATE OR REPLACE FUNCTION idem_claim(p_client text, p_key text, p_sha text,
                                      OUT o_status int, OUT o_body text)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT l.o_status, l.o_body INTO o_status, o_body FROM idem_lock(p_client, p_key, p_sha) l;
    IF p_key IS NOT NULL AND o_status IS NULL THEN
        INSERT INTO idempotency (client_id, idem_key, request_sha256, http_status)
            VALUES (p_client, p_key, coalesce(p_sha, ''), 0);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION idem_lock_key(text, text), idem_lock(text, text, text),
    idem_put(text, text, text, int, text) FROM PUBLIC;

-- api_create_payment and api_cancel_payment of 004, with idem_lock and idem_put.

CREATE OR REPLACE FUNCTION api_create_payment(client text, idem_key text, req_sha256 text,
                                              req jsonb, base_url text)
RETURNS TABLE (http_status int, body text, replayed bool)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_prev record;
    v_id text := hex_id('pay_');
    v_agency text := req ->> 'agency_code';
    v_expires_s int := coalesce((req ->> 'expires_in_s')::int, 900);
    v_items jsonb;
    v_body text;
BEGIN
    v_prev := idem_lock(client, idem_key, req_sha256);
    IF v_prev.o_status IS NOT NULL THEN
        RETURN QUERY SELECT v_prev.o_status, v_prev.o_body, true;
        RETURN;
    END IF;
    PERFORM 1 FROM client_agencies ca
        WHERE ca.client_id = client AND ca.agency_code = v_agency;
    IF NOT FOUND THEN
        PERFORM fail('FG422', 'unknown_agency',
                     format('agency "%s" does not exist or is not open to this client',
                            v_agency));
    END IF;
    IF v_expires_s NOT BETWEEN 60 AND 604800 THEN
        PERFORM fail('FG422', 'invalid_expires_in', 'expires_in_s must be 60 to 604800');
    END IF;
    v_items := check_items(v_agency, req -> 'items', (req ->> 'amount_vnd')::bigint);
    INSERT INTO payments AS p (id, client_id, order_ref, agency_code, amount_vnd, payer, items,
                               return_url, locale, base_url, expires_at)
        VALUES (v_id, client, req ->> 'order_ref', v_agency, (req ->> 'amount_vnd')::bigint,
                coalesce(req -> 'payer', '{}'), v_items, req ->> 'return_url',
                coalesce(req ->> 'locale', 'vi'), base_url,
                now() + v_expires_s * interval '1 second')
        ON CONFLICT (client_id, order_ref)
            WHERE status IN ('created', 'pending', 'succeeded', 'partially_refunded')
              AND NOT late
        DO NOTHING;
    IF NOT FOUND THEN
        PERFORM fail('FG409', 'order_ref_in_use',
                     format('order_ref "%s" already has a live payment', req ->> 'order_ref'));
    END IF;
    INSERT INTO payment_events (payment_id, seq, event, from_status, to_status)
        VALUES (v_id, 1, 'create', NULL, 'created');
    v_body := payment_json(v_id)::text;
    PERFORM idem_put(client, idem_key, req_sha256, 201, v_body);
    RETURN QUERY SELECT 201, v_body, false;
END
$$;

CREATE OR REPLACE FUNCTION api_cancel_payment(client text, payment_id text, idem_key text,
                                              req_sha256 text)
RETURNS TABLE (http_status int, body text, replayed bool)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_prev record;
    v_body text;
BEGIN
    v_prev := idem_lock(client, idem_key, req_sha256);
    IF v_prev.o_status IS NOT NULL THEN
        RETURN QUERY SELECT v_prev.o_status, v_prev.o_body, true;
        RETURN;
    END IF;
    PERFORM 1 FROM payments p WHERE p.id = api_cancel_payment.payment_id
                                AND p.client_id = client;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'payment_not_found',
                     format('payment "%s" does not exist', api_cancel_payment.payment_id));
    END IF;
    PERFORM apply_event(api_cancel_payment.payment_id, 'cancel', '{}');
    v_body := payment_json(api_cancel_payment.payment_id)::text;
    PERFORM idem_put(client, idem_key, req_sha256, 200, v_body);
    RETURN QUERY SELECT 200, v_body, false;
END
$$;

