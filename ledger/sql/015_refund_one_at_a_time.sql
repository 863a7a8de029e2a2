-- 015_refund_one_at_a_time: refunds through a provider that can only be asked about the
-- latest refund of a charge (VNPAY: a refund's status comes from querydr of the paid charge,
-- docs/adapters.md). The gateway passes those channels in one_at_a_time (adapters with
-- GW_ADAPTER_CAP_REFUND_ONE_AT_A_TIME). For them:
--   * a payment has at most one refund whose outcome is unknown and still being worked on
--     (sending or pending, not exhausted): a second one meanwhile is refused with 409
--     refund_in_progress, and can be sent again once the first is final (or given up on and
--     listed in refund_exceptions);
--   * only a payment's first refund may be settled by that query: for a later one the
--     provider's "latest refund" could still be an earlier refund of the same payment, so
--     query_ambiguous is set and an unknown outcome goes to refund_exceptions at once, as it
--     did for every VNPAY refund before.
-- api_refund_begin and refund_due are otherwise those of 013; both now also hand the gateway
-- query_ambiguous in their send object.

SET LOCAL search_path = feegate, pg_temp;

ALTER TABLE refunds ADD COLUMN query_ambiguous bool NOT NULL DEFAULT false;

DROP FUNCTION api_refund_begin(text, text, text, text, bigint, text, text[], text);

CREATE FUNCTION api_refund_begin(client text, payment_id text, idem_key text,
                                 req_sha256 text, amount_vnd bigint, reason text,
                                 refundable text[], request_id text,
                                 one_at_a_time text[] DEFAULT '{}')
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
                           AND NOT f.exhausted) THEN
        PERFORM fail('FG409', 'refund_in_progress',
                     format('payment "%s" has a refund through %s whose outcome is not known '
                            'yet; %s can only be asked about the latest refund of a payment, so '
                            'the next one waits until it is final', p.id, p.channel, p.channel));
    END IF;
    SELECT coalesce(sum(f.amount_vnd), 0) INTO v_reserved FROM refunds f
        WHERE f.payment_id = p.id AND f.status <> 'failed';
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
                v_one AND EXISTS (SELECT 1 FROM refunds f WHERE f.payment_id = p.id))
        RETURNING * INTO r;
    RETURN QUERY SELECT 202, refund_json(r)::text, false, jsonb_build_object(
        'refund_id', r.id, 'ref', r.ref, 'channel', r.channel, 'amount_vnd', r.amount_vnd,
        'full', r.full_refund, 'reason', r.reason, 'payment_id', p.id,
        'merchant_ref', p.merchant_ref, 'provider_txn_id', p.provider_txn_id,
        'original_created_at_unix', (SELECT floor(extract(epoch FROM a.created_at))::bigint
                                     FROM payment_attempts a WHERE a.merchant_ref = p.merchant_ref),
        'created_at_unix', floor(extract(epoch FROM r.created_at))::bigint,
        'request_id', r.request_id, 'query_ambiguous', r.query_ambiguous);
END
$$;

CREATE OR REPLACE FUNCTION refund_due(max int, lease_s int)
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
        FROM due, payments p
        WHERE f.id = due.id AND p.id = f.payment_id
        RETURNING f.id, jsonb_build_object(
            'refund_id', f.id, 'ref', f.ref, 'channel', f.channel, 'amount_vnd', f.amount_vnd,
            'full', f.full_refund, 'reason', f.reason, 'payment_id', p.id,
            'merchant_ref', p.merchant_ref, 'provider_txn_id', p.provider_txn_id,
            'original_created_at_unix', (SELECT floor(extract(epoch FROM a.created_at))::bigint
                                         FROM payment_attempts a
                                         WHERE a.merchant_ref = p.merchant_ref),
            'created_at_unix', floor(extract(epoch FROM f.created_at))::bigint,
            'request_id', f.request_id, 'query_ambiguous', f.query_ambiguous), f.queries,
            floor(extract(epoch FROM f.created_at))::bigint;
END
$$;

REVOKE ALL ON FUNCTION api_refund_begin(text, text, text, text, bigint, text, text[], text, text[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    api_refund_begin(text, text, text, text, bigint, text, text[], text, text[]) TO feegate_app;
