-- overpayments: a payment paid twice (docs/ledger.md, "Overpayments").
--
-- A citizen starts a checkout, goes back and starts another (a second attempt, perhaps at
-- another bank), and both banks take the money. The first success pays the payment; a
-- success of any other attempt of a payment already paid (succeeded, partially_refunded or
-- refunded) is money owed back to the citizen. apply_event (state_machine.sql, outcome
-- 'overpay') books it here, in the transaction of the callback or query that reported it:
--   overpayment_book        the overpayment journal (debit clearing:<channel>, credit
--                           overpaid:<channel>), the overpayment row (owed), the payment's
--                           event 'overpaid' and the webhook payment.overpaid;
--   overpayment_refunds_begin  for the gateway's refund job: each owed overpayment becomes a
--                           refund of that attempt through the provider that took it (a row of
--                           refunds with overpayment_id, sent by the gateway like a portal's
--                           refund; state refunding), or, when the channel cannot refund (no
--                           refund API, or not configured here), to_transfer;
--   overpayment_refund_book the refund accepted (refund_book, refunds.sql): the journal
--                           overpayment_refund (debit overpaid, credit clearing), refunded,
--                           the event 'overpayment_refunded' and its webhook;
--   overpayment_refund_failed  the provider refused the refund: to_transfer;
--   fin_overpayments, overpayment_transfer  the finance staff's list, and the transfer paid
--                           back by hand (journal overpayment_transfer: debit overpaid,
--                           credit bank:operating; transferred, with its webhook).
-- ledger_check (checks.sql) proves that each channel's overpaid balance is what its
-- overpayments still owe.

SET LOCAL search_path = feegate, pg_temp;

CREATE FUNCTION overpayment_json(o overpayments) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'overpayment_id', o.id, 'merchant_ref', o.merchant_ref, 'channel', o.channel,
        'amount_vnd', o.amount_vnd, 'provider_txn_id', o.provider_txn_id,
        'paid_at', ts_text(o.paid_at), 'state', o.state, 'refund_id', o.refund_id,
        'transfer_ref', o.transfer_ref, 'created_at', ts_text(o.created_at),
        'updated_at', ts_text(o.updated_at))
$$;

-- The payment's overpayments, oldest first (payment_json's "overpayments").
CREATE FUNCTION payment_overpayments(p_payment_id text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(overpayment_json(o) ORDER BY o.created_at, o.id), '[]')
    FROM overpayments o WHERE o.payment_id = p_payment_id
$$;

-- A payment event that does not change the status (the payment is locked by the caller).
CREATE FUNCTION overpayment_event(p_payment_id text, p_event text, o overpayments)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_seq int;
    v_status text;
BEGIN
    UPDATE payments p SET event_seq = p.event_seq + 1, updated_at = now()
        WHERE p.id = p_payment_id RETURNING p.event_seq, p.status INTO v_seq, v_status;
    INSERT INTO payment_events (payment_id, seq, event, from_status, to_status, data)
        VALUES (p_payment_id, v_seq, p_event, v_status, v_status,
                jsonb_build_object('overpayment_id', o.id, 'merchant_ref', o.merchant_ref,
                                   'channel', o.channel, 'amount_vnd', o.amount_vnd,
                                   'state', o.state, 'refund_id', o.refund_id));
END
$$;

-- The portal's webhook about an overpayment: payment.overpaid when it is booked,
-- payment.overpayment_refunded when the money is back with the citizen (refunded through
-- the provider or transferred), with the overpayment and the payment.
CREATE FUNCTION queue_overpayment_webhook(o overpayments, p_type text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id text := hex_id('evt_');
BEGIN
    INSERT INTO outbox (event_id, client_id, payment_id, type, body, next_attempt_at)
        SELECT v_event_id, p.client_id, p.id, p_type,
               json_build_object('event_id', v_event_id, 'type', p_type,
                                 'created_at', ts_text(now()), 'overpayment', overpayment_json(o),
                                 'payment', payment_json(p.id))::text,
               CASE WHEN c.webhook_url IS NOT NULL THEN now() END
        FROM payments p JOIN clients c ON c.id = p.client_id
        WHERE p.id = o.payment_id;
END
$$;

-- Books a success of attempt p_data->>'merchant_ref' of payment p_payment_id, which is
-- already paid through another attempt (apply_event holds the payment's lock). p_data is
-- apply_event's: channel, merchant_ref, provider_txn_id, paid_at. Returns the overpayment.
CREATE FUNCTION overpayment_book(p_payment_id text, p_data jsonb) RETURNS overpayments
LANGUAGE plpgsql AS $$
DECLARE
    p payments;
    o overpayments;
    v_id text := hex_id('ovp_');
    v_channel text := p_data ->> 'channel';
    v_journal bigint;
BEGIN
    SELECT * INTO STRICT p FROM payments WHERE id = p_payment_id;
    v_journal := post_journal('overpayment', p.id,
        format('overpayment %s of payment %s: attempt %s via %s %s paid again', v_id, p.id,
               p_data ->> 'merchant_ref', v_channel, coalesce(p_data ->> 'provider_txn_id', '')),
        jsonb_build_array(
            jsonb_build_object('account', 'clearing:' || v_channel, 'amount_vnd', p.amount_vnd),
            jsonb_build_object('account', 'overpaid:' || v_channel,
                               'amount_vnd', -p.amount_vnd)));
    INSERT INTO overpayments (id, payment_id, merchant_ref, channel, amount_vnd, provider_txn_id,
                              paid_at, journal_id)
        VALUES (v_id, p.id, p_data ->> 'merchant_ref', v_channel, p.amount_vnd,
                p_data ->> 'provider_txn_id',
                coalesce((p_data ->> 'paid_at')::timestamptz, now()), v_journal)
        RETURNING * INTO o;
    UPDATE payment_attempts a SET final = true WHERE a.merchant_ref = o.merchant_ref;
    PERFORM overpayment_event(p.id, 'overpaid', o);
    PERFORM queue_overpayment_webhook(o, 'payment.overpaid');
    RETURN o;
END
$$;

-- Up to max owed overpayments, oldest first, for the gateway's refund job. refundable: the
-- channels this gateway can refund through (configured, with a refund API); an overpayment
-- of any other channel goes to to_transfer (fin_overpayments lists it). For the others a
-- refund of the overpaying attempt is reserved ('sending', its full amount, no
-- Idempotency-Key: the overpayment row is its key) and returned for the gateway to send, in
-- the columns of refund_due; the gateway records the answer with refund_result. A gateway
-- that dies before it sends leaves the refund 'sending', and refund_due has it queried,
-- never sent twice.
CREATE FUNCTION overpayment_refunds_begin(max int, refundable text[])
RETURNS TABLE (refund_id text, send jsonb, queries int, created_at_unix bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    o overpayments;
    r refunds;
BEGIN
    FOR o IN SELECT * FROM overpayments x WHERE x.state = 'owed'
             ORDER BY x.created_at LIMIT greatest(overpayment_refunds_begin.max, 0)
             FOR UPDATE SKIP LOCKED LOOP
        PERFORM 1 FROM payments p WHERE p.id = o.payment_id FOR UPDATE;
        IF NOT (o.channel = ANY (coalesce(refundable, '{}'))) THEN
            UPDATE overpayments x SET state = 'to_transfer', updated_at = now()
                WHERE x.id = o.id RETURNING * INTO o;
            PERFORM overpayment_event(o.payment_id, 'overpayment_to_transfer', o);
            CONTINUE;
        END IF;
        INSERT INTO refunds (id, ref, payment_id, client_id, idem_key, channel, amount_vnd,
                             full_refund, reason, request_id, overpayment_id)
            SELECT hex_id('rf_'), lpad(nextval('refund_ref_seq')::text, 12, '0'), p.id,
                   p.client_id, NULL, o.channel, o.amount_vnd, true,
                   'overpayment ' || o.id, replace(gen_random_uuid()::text, '-', ''), o.id
            FROM payments p WHERE p.id = o.payment_id
            RETURNING * INTO r;
        UPDATE overpayments x SET state = 'refunding', refund_id = r.id, updated_at = now()
            WHERE x.id = o.id RETURNING * INTO o;
        PERFORM overpayment_event(o.payment_id, 'overpayment_refunding', o);
        refund_id := r.id;
        send := refund_send(r);
        queries := 0;
        created_at_unix := floor(extract(epoch FROM r.created_at))::bigint;
        RETURN NEXT;
    END LOOP;
END
$$;

-- The provider accepted the refund of an overpayment (refund_book calls it, once).
CREATE FUNCTION overpayment_refund_book(r refunds) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o overpayments;
BEGIN
    PERFORM 1 FROM payments p WHERE p.id = r.payment_id FOR UPDATE;
    SELECT * INTO STRICT o FROM overpayments x WHERE x.id = r.overpayment_id FOR UPDATE;
    PERFORM post_journal('overpayment_refund', o.payment_id,
        format('refund %s of overpayment %s (attempt %s via %s)', r.id, o.id, o.merchant_ref,
               o.channel),
        jsonb_build_array(
            jsonb_build_object('account', 'overpaid:' || o.channel, 'amount_vnd', r.amount_vnd),
            jsonb_build_object('account', 'clearing:' || o.channel,
                               'amount_vnd', -r.amount_vnd)));
    UPDATE overpayments x SET state = 'refunded', updated_at = now()
        WHERE x.id = o.id RETURNING * INTO o;
    PERFORM overpayment_event(o.payment_id, 'overpayment_refunded', o);
    PERFORM queue_overpayment_webhook(o, 'payment.overpayment_refunded');
END
$$;

-- The provider refused the refund of an overpayment: the finance staff pay it back by
-- transfer.
CREATE FUNCTION overpayment_refund_failed(r refunds) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o overpayments;
BEGIN
    PERFORM 1 FROM payments p WHERE p.id = r.payment_id FOR UPDATE;
    UPDATE overpayments x SET state = 'to_transfer', updated_at = now()
        WHERE x.id = r.overpayment_id AND x.state = 'refunding' RETURNING * INTO o;
    IF FOUND THEN
        PERFORM overpayment_event(o.payment_id, 'overpayment_to_transfer', o);
    END IF;
END
$$;

-- The finance staff's list: every overpayment in p_state (NULL: every state), oldest first,
-- with the payment's agency, order and payer (whom to pay back).
CREATE FUNCTION fin_overpayments(p_session text, p_state text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
BEGIN
    -- A staff session (NULL: the database owner's own tools).
    PERFORM staff_or_owner(p_session, ARRAY['clerk', 'approver', 'auditor']);
    IF p_state IS NOT NULL AND p_state NOT IN ('owed', 'refunding', 'refunded', 'to_transfer',
                                               'transferred') THEN
        PERFORM fail('FG422', 'invalid_state',
                     format('state "%s" is not owed, refunding, refunded, to_transfer or '
                            'transferred', p_state));
    END IF;
    RETURN json_build_object(
        'owed_vnd', (SELECT coalesce(sum(o.amount_vnd), 0) FROM overpayments o
                     WHERE o.state IN ('owed', 'refunding', 'to_transfer')),
        'overpayments', coalesce((
            SELECT json_agg(x.j ORDER BY x.created_at, x.id) FROM (
                SELECT (overpayment_json(o)::jsonb || jsonb_build_object(
                           'payment_id', o.payment_id, 'agency_code', p.agency_code,
                           'order_ref', p.order_ref, 'payer', p.payer,
                           'payment_merchant_ref', p.merchant_ref,
                           'payment_channel', p.channel)) AS j, o.created_at, o.id
                FROM overpayments o JOIN payments p ON p.id = o.payment_id
                WHERE p_state IS NULL OR o.state = p_state
                ORDER BY o.created_at, o.id LIMIT 1000) x), '[]'))::text;
END
$$;

-- The finance staff paid an overpayment back by bank transfer (reference p_ref): the
-- journal overpayment_transfer (debit overpaid:<channel>, credit bank:operating), state
-- transferred, the payment's event and the webhook payment.overpayment_refunded. Only an
-- overpayment in to_transfer; once.
CREATE FUNCTION overpayment_transfer(p_id text, p_session text, p_ref text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    o overpayments;
    v_before jsonb;
    v_staff text;
BEGIN
    v_staff := staff_session(p_session, ARRAY['clerk', 'approver']);
    IF p_ref IS NULL OR length(p_ref) NOT BETWEEN 1 AND 64 OR p_ref !~ '^[A-Za-z0-9_.:/-]+$' THEN
        PERFORM fail('FG422', 'invalid_transfer_ref',
                     'transfer_ref must be 1 to 64 of A-Z a-z 0-9 _ . : / -');
    END IF;
    -- The overpayment, then its payment: the order of overpayment_refunds_begin.
    SELECT * INTO o FROM overpayments x WHERE x.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'overpayment_not_found', format('no overpayment "%s"', p_id));
    END IF;
    PERFORM 1 FROM payments p WHERE p.id = o.payment_id FOR UPDATE;
    IF o.state <> 'to_transfer' THEN
        PERFORM fail('FG409', 'overpayment_not_transferable',
                     format('overpayment "%s" is %s: only one in to_transfer is paid back by '
                            'transfer', p_id, o.state));
    END IF;
    v_before := overpayment_json(o)::jsonb;
    PERFORM post_journal('overpayment_transfer', o.payment_id,
        format('overpayment %s paid back by transfer %s', o.id, p_ref),
        jsonb_build_array(
            jsonb_build_object('account', 'overpaid:' || o.channel, 'amount_vnd', o.amount_vnd),
            jsonb_build_object('account', 'bank:operating', 'amount_vnd', -o.amount_vnd)),
        NULL, jsonb_build_object('maker', v_staff));
    UPDATE overpayments x SET state = 'transferred', transfer_ref = p_ref,
                              transferred_by = v_staff, updated_at = now()
        WHERE x.id = o.id RETURNING * INTO o;
    PERFORM overpayment_event(o.payment_id, 'overpayment_transferred', o);
    PERFORM queue_overpayment_webhook(o, 'payment.overpayment_refunded');
    PERFORM audit('overpayment_transfer', o.id, v_before, overpayment_json(o)::jsonb);
    RETURN (overpayment_json(o)::jsonb || jsonb_build_object('payment_id', o.payment_id))::text;
END
$$;
