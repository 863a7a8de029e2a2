-- refunds: refunds through the provider's refund API.
--
-- A refund is reserved, sent, and booked in three steps, because the provider call happens
-- between two transactions:
--   api_refund_begin   locks the payment row, checks that what is reserved or refunded
--                      plus this amount does not exceed what was paid, and inserts the
--                      refund as 'sending' (the Idempotency-Key stays "in progress");
--   refund_result      records the provider's answer: accepted books the refund journals
--                      (ledger_refund), moves the payment to partially_refunded or
--                      refunded, adjusts or cancels the receipt and queues the webhooks;
--                      rejected releases the amount; pending or no answer schedules a
--                      status query (a timeout is never a failure);
--   refund_due         hands refunds whose query is due (or whose sender died) to the
--                      gateway's refund recovery.
-- The switch also refunds on its own: the refund of an overpayment (overpayment_id set,
-- overpayments.sql) refunds the attempt that overpaid; it is reserved by
-- overpayment_refunds_begin and then goes through refund_result and refund_due like the
-- others, but books through overpayment_refund_book, is not the portal's to list or count
-- against the payment, and its webhooks are the overpayment's.
--
-- Some providers can only be asked about the latest refund of a charge (VNPAY: a refund's status comes from querydr of the paid charge,
-- docs/adapters.md). The gateway passes those channels in one_at_a_time (adapters with
-- GW_ADAPTER_CAP_REFUND_ONE_AT_A_TIME). For them:
--   * a payment has at most one refund whose outcome is unknown and still being worked on
--     (sending or pending, not exhausted): a second one meanwhile is refused with 409
--     refund_in_progress, and can be sent again once the first is final (or given up on and
--     listed in refund_exceptions);
--   * only a payment's first refund may be settled by that query: for a later one the
--     provider's "latest refund" could still be an earlier refund of the same payment, so
--     query_ambiguous is set and an unknown outcome goes to refund_exceptions at once, as it
--     does for every refund of a channel without a refund status query.
-- api_refund_begin and refund_due hand the gateway query_ambiguous in their send object.

SET LOCAL search_path = feegate, pg_temp;

CREATE FUNCTION refund_json(r refunds) RETURNS json
LANGUAGE sql STABLE SET search_path = feegate, pg_temp AS $$
    SELECT json_build_object(
        'refund_id', r.id, 'payment_id', r.payment_id, 'amount_vnd', r.amount_vnd,
        'reason', r.reason, 'status', r.status, 'channel', r.channel,
        'provider_refund_id', r.provider_refund_id, 'created_at', ts_text(r.created_at),
        'updated_at', ts_text(r.updated_at))
$$;

-- What the gateway needs to send a refund or ask about it (api_refund_begin, refund_due,
-- overpayment_refunds_begin): the charge refunded is the payment's paying attempt, or for the
-- refund of an overpayment the attempt that overpaid (overpayments.sql).
CREATE FUNCTION refund_send(r refunds) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = feegate, pg_temp AS $$
    SELECT jsonb_build_object(
        'refund_id', r.id, 'ref', r.ref, 'channel', r.channel, 'amount_vnd', r.amount_vnd,
        'full', r.full_refund, 'reason', r.reason, 'payment_id', r.payment_id,
        'merchant_ref', c.merchant_ref, 'provider_txn_id', c.provider_txn_id,
        'original_created_at_unix', (SELECT floor(extract(epoch FROM a.created_at))::bigint
                                     FROM payment_attempts a WHERE a.merchant_ref = c.merchant_ref),
        'created_at_unix', floor(extract(epoch FROM r.created_at))::bigint,
        'request_id', r.request_id, 'query_ambiguous', r.query_ambiguous)
    FROM (SELECT coalesce(o.merchant_ref, p.merchant_ref) AS merchant_ref,
                 CASE WHEN o.id IS NULL THEN p.provider_txn_id ELSE o.provider_txn_id END
                     AS provider_txn_id
          FROM payments p LEFT JOIN overpayments o ON o.id = r.overpayment_id
          WHERE p.id = r.payment_id) c
$$;

-- Reserves a refund. refundable: the channels this gateway can refund through (configured,
-- with a refund API); one_at_a_time: those whose refunds are asked about through the
-- charge (above). Returns (http_status, body, replayed, send): send is the refund and what
-- the provider needs, NULL when the stored answer of a finished request is replayed.
-- signature, sig_expires_unix: the signed request, accepted once (request_once).
CREATE FUNCTION api_refund_begin(client text, payment_id text, idem_key text,
                                 req_sha256 text, amount_vnd bigint, reason text,
                                 refundable text[], request_id text,
                                 one_at_a_time text[] DEFAULT '{}',
                                 signature text DEFAULT NULL,
                                 sig_expires_unix bigint DEFAULT NULL)
RETURNS TABLE (http_status int, body text, replayed bool, send jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_status int;
    v_body text;
    p payments;
    v_reserved bigint;
    r refunds;
    v_one bool;
BEGIN
    PERFORM request_once(client, signature, sig_expires_unix);
    SELECT o_status, o_body INTO v_status, v_body
        FROM idem_claim(client, idem_key, req_sha256);
    IF v_status IS NOT NULL THEN
        RETURN QUERY SELECT v_status, v_body, true, NULL::jsonb;
        RETURN;
    END IF;
    SELECT * INTO p FROM payments x WHERE x.id = api_refund_begin.payment_id
                                      AND x.client_id = api_refund_begin.client FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'payment_not_found',
                     format('payment "%s" does not exist', api_refund_begin.payment_id));
    END IF;
    IF p.status NOT IN ('succeeded', 'partially_refunded') THEN
        PERFORM fail('FG409', 'payment_not_refundable',
                     format('payment "%s" is %s', p.id, p.status));
    END IF;
    IF amount_vnd IS NULL OR amount_vnd <= 0 THEN
        PERFORM fail('FG422', 'invalid_amount', 'amount_vnd must be a positive integer');
    END IF;
    IF NOT (p.channel = ANY (coalesce(refundable, '{}'))) THEN
        PERFORM fail('FG422', 'channel_cannot_refund',
                     format('channel "%s" has no refund API configured', p.channel));
    END IF;
    v_one := p.channel = ANY (coalesce(one_at_a_time, '{}'));
    IF v_one AND EXISTS (SELECT 1 FROM refunds f
                         WHERE f.payment_id = p.id AND f.status IN ('sending', 'pending')
                           AND NOT f.exhausted AND f.overpayment_id IS NULL) THEN
        PERFORM fail('FG409', 'refund_in_progress',
                     format('payment "%s" has a refund through %s whose outcome is not known '
                            'yet; %s can only be asked about the latest refund of a payment, so '
                            'the next one waits until it is final', p.id, p.channel, p.channel));
    END IF;
    SELECT coalesce(sum(f.amount_vnd), 0) INTO v_reserved FROM refunds f
        WHERE f.payment_id = p.id AND f.status <> 'failed' AND f.overpayment_id IS NULL;
    IF v_reserved + amount_vnd > p.amount_vnd THEN
        PERFORM fail('FG409', 'refund_exceeds_payment',
                     format('payment "%s" of %s VND has %s VND refunded or in progress; %s more '
                            'is too much', p.id, p.amount_vnd, v_reserved, amount_vnd));
    END IF;
    INSERT INTO refunds (id, ref, payment_id, client_id, idem_key, channel, amount_vnd,
                         full_refund, reason, request_id, query_ambiguous)
        VALUES (hex_id('rf_'), lpad(nextval('refund_ref_seq')::text, 12, '0'), p.id, client,
                idem_key, p.channel, amount_vnd, v_reserved = 0 AND amount_vnd = p.amount_vnd,
                left(coalesce(reason, ''), 200), request_id,
                v_one AND EXISTS (SELECT 1 FROM refunds f WHERE f.payment_id = p.id
                                                            AND f.overpayment_id IS NULL))
        RETURNING * INTO r;
    RETURN QUERY SELECT 202, refund_json(r)::text, false, refund_send(r);
END
$$;

-- The refund's webhook: refund.succeeded or refund.failed, with the refund and the payment.
CREATE FUNCTION queue_refund_webhook(r refunds) RETURNS void
LANGUAGE plpgsql SET search_path = feegate, pg_temp AS $$
DECLARE
    v_event_id text := hex_id('evt_');
    v_type text := 'refund.' || r.status;
BEGIN
    INSERT INTO outbox (event_id, client_id, payment_id, type, body, next_attempt_at)
        SELECT v_event_id, r.client_id, r.payment_id, v_type,
               json_build_object('event_id', v_event_id, 'type', v_type,
                                 'created_at', ts_text(now()), 'refund', refund_json(r),
                                 'payment', payment_json(r.payment_id))::text,
               CASE WHEN c.webhook_url IS NOT NULL THEN now() END
        FROM clients c WHERE c.id = r.client_id;
END
$$;

-- The receipt follows the refund: a full refund cancels the payment's current receipt, a
-- partial one issues an adjustment receipt for what stays paid. A receipt problem never
-- undoes the refund: it is logged (WARNING) and left to operators.
CREATE FUNCTION refund_receipt(r refunds, p payments) RETURNS void
LANGUAGE plpgsql SET search_path = feegate, pg_temp AS $$
DECLARE
    v_current text;
BEGIN
    SELECT x.id INTO v_current FROM (
        SELECT rc.id, rc.number FROM receipts rc WHERE rc.payment_id = p.id
        UNION ALL
        SELECT l.receipt_id, rc.number FROM receipt_links l JOIN receipts rc ON rc.id = l.receipt_id
        WHERE l.payment_id = p.id) x
    WHERE NOT EXISTS (SELECT 1 FROM receipt_marks m WHERE m.receipt_id = x.id)
    ORDER BY x.number DESC LIMIT 1;
    IF v_current IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        IF p.refunded_vnd >= p.amount_vnd THEN
            PERFORM receipt_cancel(v_current, format('refund %s', r.id));
        ELSE
            PERFORM receipt_adjust(v_current, 'adjustment', p.amount_vnd - p.refunded_vnd, NULL,
                                   format('refund %s of %s VND', r.id, r.amount_vnd));
        END IF;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'refund %: receipt % not adjusted: %', r.id, v_current, SQLERRM;
    END;
END
$$;

-- Books an accepted refund (once). The refund of an overpayment refunds the attempt that
-- overpaid, not the payment: overpayment_refund_book.
CREATE FUNCTION refund_book(r refunds) RETURNS void
LANGUAGE plpgsql SET search_path = feegate, pg_temp AS $$
DECLARE
    p payments;
BEGIN
    IF r.overpayment_id IS NOT NULL THEN
        PERFORM overpayment_refund_book(r);
        RETURN;
    END IF;
    SELECT * INTO p FROM payments WHERE id = r.payment_id FOR UPDATE;
    PERFORM ledger_refund(r.payment_id, r.amount_vnd, r.id);
    UPDATE payments x SET refunded_vnd = x.refunded_vnd + r.amount_vnd WHERE x.id = p.id
        RETURNING * INTO p;
    PERFORM apply_event(p.id, CASE WHEN p.refunded_vnd >= p.amount_vnd THEN 'refund_full'
                                   ELSE 'refund_partial' END,
                        jsonb_build_object('refund_id', r.id, 'amount_vnd', r.amount_vnd,
                                           'provider_refund_id', r.provider_refund_id));
    PERFORM refund_receipt(r, p);
END
$$;

-- Records a provider's answer about a refund. outcome: accepted, rejected, pending or error
-- (no answer, timeout, unreadable: the outcome stays unknown). next_in_s: when to ask again
-- (NULL: never; the refund is then listed in refund_exceptions). Returns the refund's status
-- after it; an answer about a refund already final changes nothing.
CREATE FUNCTION refund_result(refund_id text, outcome text, provider_refund_id text,
                              provider_code text, source text, raw text, next_in_s int)
RETURNS TABLE (status text, http_status int, body text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    r refunds;
    v_http int;
BEGIN
    IF outcome NOT IN ('accepted', 'rejected', 'pending', 'error') THEN
        PERFORM fail('FG422', 'invalid_outcome', format('outcome "%s" is not known', outcome));
    END IF;
    SELECT * INTO r FROM refunds f WHERE f.id = refund_result.refund_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'refund_not_found', format('no refund "%s"', refund_id));
    END IF;
    INSERT INTO refund_messages (refund_id, source, outcome, raw)
        VALUES (r.id, coalesce(source, ''), outcome, coalesce(raw, ''));
    IF r.status IN ('sending', 'pending') THEN
        UPDATE refunds f SET
            status = CASE outcome WHEN 'accepted' THEN 'succeeded' WHEN 'rejected' THEN 'failed'
                                  ELSE 'pending' END,
            provider_refund_id = coalesce(refund_result.provider_refund_id, f.provider_refund_id),
            provider_code = coalesce(refund_result.provider_code, f.provider_code),
            updated_at = now(),
            queries = f.queries + CASE WHEN refund_result.source = 'refund_query' THEN 1 ELSE 0 END,
            exhausted = outcome IN ('pending', 'error') AND next_in_s IS NULL,
            next_query_at = now() + coalesce(next_in_s, 0) * interval '1 second'
        WHERE f.id = r.id RETURNING * INTO r;
        IF r.status = 'succeeded' THEN
            PERFORM refund_book(r);
        END IF;
        IF r.status IN ('succeeded', 'failed') AND r.overpayment_id IS NULL THEN
            PERFORM queue_refund_webhook(r);
        ELSIF r.status = 'failed' THEN
            PERFORM overpayment_refund_failed(r);
        END IF;
    END IF;
    v_http := CASE r.status WHEN 'pending' THEN 202 ELSE 201 END;
    PERFORM idem_store(r.client_id, r.idem_key, v_http, refund_json(r)::text);
    RETURN QUERY SELECT r.status, v_http, refund_json(r)::text;
END
$$;

-- Refunds whose status query is due, or whose sender stopped before recording an answer
-- ('sending' for longer than lease_s: the gateway died mid-call; the refund is queried, never
-- sent twice). Leased for lease_s seconds.
CREATE FUNCTION refund_due(max int, lease_s int)
RETURNS TABLE (refund_id text, send jsonb, queries int, created_at_unix bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        WITH due AS (
            SELECT f.id FROM refunds f
            WHERE f.status IN ('sending', 'pending') AND NOT f.exhausted
              AND f.next_query_at <= now()
              AND (f.status = 'pending' OR f.updated_at < now() - greatest(lease_s, 1) * interval '1 second')
            ORDER BY f.next_query_at LIMIT greatest(refund_due.max, 0)
            FOR UPDATE SKIP LOCKED
        )
        UPDATE refunds f SET next_query_at = now() + greatest(lease_s, 1) * interval '1 second'
        FROM due
        WHERE f.id = due.id
        RETURNING f.id, refund_send(f), f.queries, floor(extract(epoch FROM f.created_at))::bigint;
END
$$;

-- Refunds whose outcome stays unknown after their query window, or whose channel cannot be
-- asked (no refund status API): for people to resolve with the provider.
CREATE VIEW refund_exceptions AS
    SELECT f.id AS refund_id, f.payment_id, f.channel, f.amount_vnd, f.status, f.created_at,
           f.queries, f.provider_code
    FROM refunds f WHERE f.status IN ('sending', 'pending') AND f.exhausted;

CREATE FUNCTION api_refunds(client text, payment_id text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT json_build_object(
        'payment_id', p.id, 'amount_vnd', p.amount_vnd, 'refunded_vnd', p.refunded_vnd,
        'status', p.status,
        'refunds', coalesce((SELECT json_agg(refund_json(f) ORDER BY f.created_at, f.id)
                             FROM refunds f WHERE f.payment_id = p.id
                               AND f.overpayment_id IS NULL), '[]'))::text
    FROM payments p WHERE p.id = api_refunds.payment_id AND p.client_id = api_refunds.client
$$;
