-- payments_api: the functions the gateway calls for the portal API and the checkout pages
-- (docs/architecture.md, "The function contract"). Each is one transaction; errors are
-- raised with SQLSTATE FGnnn (nnn = HTTP status), MESSAGE the snake_case code and DETAIL the
-- human sentence (fail, core.sql), and leave nothing behind. A create and a cancel take
-- their Idempotency-Key with idem_lock and store it with their response with idem_put
-- (idempotency.sql).

SET LOCAL search_path = feegate, pg_temp;

-- Checks each line against the catalogue; returns the normalised items array.
CREATE FUNCTION check_items(p_agency text, p_items jsonb, p_total bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    v_sum numeric := 0;
    v_items jsonb := '[]';
BEGIN
    IF jsonb_typeof(p_items) IS DISTINCT FROM 'array' OR jsonb_array_length(p_items) = 0
       OR jsonb_array_length(p_items) > limits_items_max() THEN
        PERFORM fail('FG422', 'invalid_items',
                     format('items must be an array of 1 to %s fee lines', limits_items_max()));
    END IF;
    FOR r IN SELECT e ->> 'fee_code' AS fee_code, (e ->> 'amount_vnd')::bigint AS amt, f
             FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(e, ord)
             LEFT JOIN fees f ON f.agency_code = p_agency AND f.fee_code = e ->> 'fee_code'
             ORDER BY ord LOOP
        IF (r.f).fee_code IS NULL THEN
            PERFORM fail('FG422', 'unknown_fee', format('fee "%s" does not exist for agency "%s"',
                                                        r.fee_code, p_agency));
        END IF;
        IF r.amt IS NULL OR r.amt < (r.f).amount_vnd_min OR r.amt > (r.f).amount_vnd_max
           OR ((r.f).amounts_vnd IS NOT NULL AND r.amt <> ALL ((r.f).amounts_vnd))
           OR ((r.f).amount_step_vnd IS NOT NULL AND r.amt % (r.f).amount_step_vnd <> 0) THEN
            PERFORM fail('FG422', 'amount_not_allowed',
                         format('%s VND is not an allowed amount for fee "%s"', r.amt,
                                r.fee_code));
        END IF;
        v_sum := v_sum + r.amt;
        v_items := v_items || jsonb_build_object('fee_code', r.fee_code, 'amount_vnd', r.amt);
    END LOOP;
    IF p_total IS NULL OR v_sum <> p_total THEN
        PERFORM fail('FG422', 'amount_mismatch',
                     format('amount_vnd %s is not the sum of the items (%s)', p_total, v_sum));
    END IF;
    RETURN v_items;
END
$$;

-- Creates a payment: checks the client's agency, the items against the catalogue and the
-- order_ref (one live payment per order_ref); answers 201 with the payment. signature and
-- sig_expires_unix: the signed request, accepted once (request_once, idempotency.sql).
CREATE FUNCTION api_create_payment(client text, idem_key text, req_sha256 text,
                                              req jsonb, base_url text,
                                              signature text DEFAULT NULL,
                                              sig_expires_unix bigint DEFAULT NULL)
RETURNS TABLE (http_status int, body text, replayed bool)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_prev record;
    v_id text := hex_id('pay_');
    v_agency text := req ->> 'agency_code';
    v_expires_s int := coalesce((req ->> 'expires_in_s')::int, limits_expires_in_s_default());
    v_items jsonb;
    v_body text;
BEGIN
    PERFORM request_once(client, signature, sig_expires_unix);
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
    IF v_expires_s NOT BETWEEN limits_expires_in_s_min() AND limits_expires_in_s_max() THEN
        PERFORM fail('FG422', 'invalid_expires_in',
                     format('expires_in_s must be %s to %s', limits_expires_in_s_min(),
                            limits_expires_in_s_max()));
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

CREATE FUNCTION api_get_payment(client text, payment_id text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN (
        SELECT payment_json(p.id)::text FROM payments p
        WHERE p.id = api_get_payment.payment_id AND p.client_id = client);
END
$$;

CREATE FUNCTION api_find_payments(client text, order_ref text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN (
        SELECT json_build_object('payments', coalesce(json_agg(payment_json(p.id)
                                                      ORDER BY p.created_at DESC, p.id), '[]'))::text
        FROM payments p
        WHERE p.client_id = client AND p.order_ref = api_find_payments.order_ref);
END
$$;

-- Cancels a payment that is not paid yet (a cancelled one is answered as it is). signature,
-- sig_expires_unix: as api_create_payment's.
CREATE FUNCTION api_cancel_payment(client text, payment_id text, idem_key text,
                                              req_sha256 text, signature text DEFAULT NULL,
                                              sig_expires_unix bigint DEFAULT NULL)
RETURNS TABLE (http_status int, body text, replayed bool)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_prev record;
    v_body text;
BEGIN
    PERFORM request_once(client, signature, sig_expires_unix);
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

CREATE FUNCTION api_payment_events(client text, payment_id text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN (
        SELECT json_build_object(
            'payment_id', p.id,
            'events', (SELECT coalesce(json_agg(json_build_object(
                            'seq', e.seq, 'event', e.event, 'from_status', e.from_status,
                            'to_status', e.to_status, 'data', e.data,
                            'created_at', ts_text(e.created_at)) ORDER BY e.seq), '[]')
                       FROM payment_events e WHERE e.payment_id = p.id))::text
        FROM payments p
        WHERE p.id = api_payment_events.payment_id AND p.client_id = client);
END
$$;

CREATE FUNCTION api_catalog(client text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN (
        SELECT json_build_object('agencies', coalesce(json_agg(json_build_object(
            'code', a.code, 'name', a.name, 'tax_code', a.tax_code,
            'fees', (SELECT coalesce(json_agg(json_build_object(
                         'fee_code', f.fee_code, 'name', f.name,
                         'amount_vnd_min', f.amount_vnd_min, 'amount_vnd_max', f.amount_vnd_max,
                         'amounts_vnd', f.amounts_vnd, 'amount_step_vnd', f.amount_step_vnd)
                         ORDER BY f.fee_code), '[]')
                     FROM fees f WHERE f.agency_code = a.code),
            'channels', (SELECT coalesce(json_agg(json_build_object('code', c.code, 'name', c.name)
                                                  ORDER BY c.code), '[]')
                         FROM agency_channels ac JOIN channels c ON c.code = ac.channel
                         WHERE ac.agency_code = a.code AND c.enabled))
            ORDER BY a.code), '[]'))::text
        FROM client_agencies ca JOIN agencies a ON a.code = ca.agency_code
        WHERE ca.client_id = client);
END
$$;

CREATE FUNCTION checkout_view(payment_id text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN (
        SELECT json_build_object(
            'payment', payment_json(p.id),
            'agency', json_build_object('code', a.code, 'name', a.name, 'tax_code', a.tax_code,
                                        'address', a.address),
            'items', (SELECT json_agg(json_build_object(
                          'fee_code', f.fee_code, 'name', f.name,
                          'amount_vnd', (it.e ->> 'amount_vnd')::bigint) ORDER BY it.ord)
                      FROM jsonb_array_elements(p.items) WITH ORDINALITY AS it(e, ord)
                      JOIN fees f ON f.agency_code = p.agency_code
                                 AND f.fee_code = it.e ->> 'fee_code'),
            'channels', (SELECT coalesce(json_agg(json_build_object('code', c.code, 'name', c.name)
                                                  ORDER BY c.code), '[]')
                         FROM agency_channels ac JOIN channels c ON c.code = ac.channel
                         WHERE ac.agency_code = p.agency_code AND c.enabled),
            -- the latest attempts, newest first: the checkout and return pages say which
            -- one is in progress and which was declined, at which bank
            'attempts', (SELECT coalesce(json_agg(json_build_object(
                             'channel', x.channel, 'name', x.name,
                             'state', CASE WHEN x.declined_at IS NOT NULL THEN 'declined'
                                           ELSE 'in_progress' END,
                             'started_at', ts_text(x.created_at)) ORDER BY x.created_at DESC,
                                                                        x.merchant_ref), '[]')
                         FROM (SELECT t.channel, c.name, t.declined_at, t.created_at,
                                      t.merchant_ref
                               FROM payment_attempts t JOIN channels c ON c.code = t.channel
                               WHERE t.payment_id = p.id
                               ORDER BY t.created_at DESC, t.merchant_ref
                               LIMIT limits_checkout_attempts_shown_max()) x))::text
        FROM payments p JOIN agencies a ON a.code = p.agency_code
        WHERE p.id = checkout_view.payment_id);
END
$$;

-- A new attempt: merchant_ref "FG" + 20 upper-case hex digits (80 random bits), unique by
-- primary key. base_url is accepted for the contract and not used (the payment keeps the
-- one it was created with).
CREATE FUNCTION checkout_begin(payment_id text, channel text, base_url text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    p payments;
    v_ref text := 'FG' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 20));
BEGIN
    SELECT * INTO p FROM payments WHERE id = checkout_begin.payment_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'payment_not_found',
                     format('payment "%s" does not exist', checkout_begin.payment_id));
    END IF;
    IF p.status IN ('created', 'pending') AND p.expires_at <= now() THEN
        PERFORM fail('FG409', 'payment_not_payable',
                     format('payment "%s" expired at %s', p.id, ts_text(p.expires_at)));
    END IF;
    PERFORM 1 FROM agency_channels ac JOIN channels c ON c.code = ac.channel
        WHERE ac.agency_code = p.agency_code AND ac.channel = checkout_begin.channel
          AND c.enabled;
    IF NOT FOUND THEN
        PERFORM fail('FG422', 'channel_not_allowed',
                     format('channel "%s" is not open for agency "%s"',
                            checkout_begin.channel, p.agency_code));
    END IF;
    PERFORM apply_event(p.id, 'checkout', jsonb_build_object('channel', checkout_begin.channel,
                                                             'merchant_ref', v_ref));
    -- the attempt's own time, not its transaction's: the pages order attempts by it
    INSERT INTO payment_attempts (merchant_ref, payment_id, channel, created_at)
        VALUES (v_ref, p.id, checkout_begin.channel, clock_timestamp());
    RETURN jsonb_build_object(
        'merchant_ref', v_ref,
        'amount_vnd', p.amount_vnd,
        'order_info', 'Thanh toan le phi ' || p.agency_code || ' ' ||
                      regexp_replace(p.order_ref, '[^A-Za-z0-9_.-]', '', 'g'),
        'locale', p.locale,
        'created_at_unix', floor(extract(epoch FROM now()))::bigint,
        'expires_at_unix', floor(extract(epoch FROM p.expires_at))::bigint);
END
$$;

-- A verified decline of one attempt of the locked payment p: the attempt is closed
-- (declined_at, and final: recovery has nothing more to ask), the payment is not. While the
-- payment is open, the current attempt's decline is recorded as its provider_failed event
-- (pending stays pending, no webhook) and the citizen may pay again, with the same or another
-- channel, until the payment expires. Verdicts: applied (the current attempt of an open
-- payment closed), duplicate (the attempt was already closed, was superseded by a newer one,
-- or the payment is no longer open: nothing about the payment changed).
CREATE FUNCTION decline_attempt(p payments, p_merchant_ref text, p_source text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p.status NOT IN ('created', 'pending') THEN
        RETURN 'duplicate';
    END IF;
    UPDATE payment_attempts a SET declined_at = now(), final = true
        WHERE a.merchant_ref = p_merchant_ref AND a.declined_at IS NULL;
    IF NOT FOUND OR p.merchant_ref IS DISTINCT FROM p_merchant_ref THEN
        RETURN 'duplicate';
    END IF;
    PERFORM apply_event(p.id, 'provider_failed', jsonb_build_object(
        'channel', p.channel, 'merchant_ref', p_merchant_ref, 'source', p_source));
    RETURN 'applied';
END
$$;

-- Applies a verified provider result. Verdicts: applied (state changed), duplicate
-- (nothing to do: an earlier message already settled it, or a failure for a payment that is
-- final or whose attempt was superseded or already declined: decline_attempt),
-- not_found, amount_mismatch. The raw message is always stored, with its verdict.
CREATE FUNCTION apply_provider_result(channel text, merchant_ref text, outcome text,
                                      amount_vnd bigint, provider_txn_id text,
                                      paid_at timestamptz, source text, raw text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    p payments;
    v_verdict text;
    v_res record;
BEGIN
    IF outcome NOT IN ('succeeded', 'failed') THEN
        PERFORM fail('FG422', 'invalid_outcome', format('outcome "%s" is not succeeded or failed',
                                                       outcome));
    END IF;
    SELECT pay.* INTO p FROM payment_attempts a JOIN payments pay ON pay.id = a.payment_id
        WHERE a.merchant_ref = apply_provider_result.merchant_ref
          AND a.channel = apply_provider_result.channel
        FOR UPDATE OF pay;
    IF NOT FOUND THEN
        v_verdict := 'not_found';
    ELSE
        IF p.amount_vnd IS DISTINCT FROM apply_provider_result.amount_vnd THEN
            v_verdict := 'amount_mismatch';
        ELSIF outcome = 'failed' THEN
            v_verdict := decline_attempt(p, apply_provider_result.merchant_ref,
                                         apply_provider_result.source);
        ELSE
            v_res := apply_event(p.id, 'provider_' || outcome, jsonb_build_object(
                'channel', apply_provider_result.channel,
                'merchant_ref', apply_provider_result.merchant_ref,
                'provider_txn_id', apply_provider_result.provider_txn_id,
                'paid_at', coalesce(apply_provider_result.paid_at, now()),
                'source', apply_provider_result.source));
            v_verdict := CASE WHEN v_res.o_outcome = 'ignore' THEN 'duplicate' ELSE 'applied' END;
        END IF;
    END IF;
    INSERT INTO provider_messages (channel, merchant_ref, source, raw, verdict)
        VALUES (apply_provider_result.channel, apply_provider_result.merchant_ref,
                coalesce(apply_provider_result.source, ''), coalesce(raw, ''), v_verdict);
    RETURN v_verdict;
END
$$;

-- Expires up to max_n due payments, oldest deadline first; rows another sweeper holds are
-- skipped. Returns how many expired.
CREATE FUNCTION expire_due(max int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    r record;
    n int := 0;
BEGIN
    FOR r IN SELECT id FROM payments
             WHERE status IN ('created', 'pending') AND expires_at <= now()
             ORDER BY expires_at LIMIT greatest(expire_due.max, 0)
             FOR UPDATE SKIP LOCKED LOOP
        PERFORM apply_event(r.id, 'expire', '{}');
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

CREATE FUNCTION clients_list() RETURNS TABLE (id text, secret text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT c.id, c.secret FROM clients c ORDER BY c.id;
END
$$;
