-- Reconciliation: the provider's status query as a resolving action, sent by the gateway.
--
-- POST /v1/finance/exceptions/{id}/query runs in three steps, because the provider call
-- happens between two transactions:
--   recon_query_target   checks the staff member and the exception and returns the checkout
--                        attempt to ask about (reference, channel, amounts and times the
--                        adapter needs to build the channel's status query);
--   (the gateway builds, sends and verifies the query with the channel's adapter)
--   recon_query_result   applies the verified answer through recovery_result, exactly like
--                        the recovery poller does (a success or failure is applied like a
--                        callback, with source 'query'), writes the query in the
--                        exception's trail and resolves the exception when the switch then
--                        agrees with the statement. An answer that settles nothing (pending,
--                        not found, no answer, a bad signature) leaves it open, with the
--                        reason in the trail.

SET LOCAL search_path = feegate, pg_temp;

CREATE FUNCTION recon_query_attempt(e recon_exceptions) RETURNS payment_attempts
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a payment_attempts;
BEGIN
    IF e.kind <> 'payment' THEN
        PERFORM fail('FG422', 'not_queryable',
                     format('exception %s is about a %s: only payments are queried', e.id,
                            e.kind));
    END IF;
    SELECT * INTO a FROM payment_attempts x
        WHERE x.merchant_ref = e.merchant_ref AND x.channel = e.provider;
    IF NOT FOUND THEN
        PERFORM fail('FG422', 'not_queryable',
                     format('"%s" is no checkout attempt of %s: nothing to ask the provider',
                            e.merchant_ref, e.provider));
    END IF;
    RETURN a;
END
$$;

CREATE FUNCTION recon_query_target(p_id bigint, p_staff text)
RETURNS TABLE (merchant_ref text, channel text, payment_id text, amount_vnd bigint,
               created_at_unix bigint, expires_at_unix bigint, provider_txn_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    e recon_exceptions;
    a payment_attempts;
BEGIN
    PERFORM staff_require(p_staff, ARRAY['clerk', 'approver']);
    SELECT * INTO e FROM recon_exceptions x WHERE x.id = p_id;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'exception_not_found', format('no exception %s', p_id));
    END IF;
    IF e.state = 'resolved' THEN
        PERFORM fail('FG409', 'exception_resolved',
                     format('exception %s is resolved already', p_id));
    END IF;
    a := recon_query_attempt(e);
    RETURN QUERY
        SELECT a.merchant_ref, a.channel, a.payment_id, p.amount_vnd,
               extract(epoch FROM a.created_at)::bigint, extract(epoch FROM p.expires_at)::bigint,
               p.provider_txn_id
        FROM payments p WHERE p.id = a.payment_id;
END
$$;

-- p_outcome: succeeded, failed, pending, not_found (a verified answer) or error (no answer,
-- a timeout, an answer that did not verify: p_reason says which). The attempt's recovery
-- schedule is kept (an exhausted attempt stays exhausted unless the answer settles it).
CREATE FUNCTION recon_query_result(p_id bigint, p_staff text, p_outcome text,
                                   p_amount_vnd bigint, p_provider_txn_id text,
                                   p_paid_at timestamptz, p_raw text, p_reason text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    e recon_exceptions;
    a payment_attempts;
    v_next int;
    v_verdict text;
    v_resolved bool;
    v_note text;
BEGIN
    PERFORM staff_require(p_staff, ARRAY['clerk', 'approver']);
    IF p_outcome IS NULL OR p_outcome NOT IN ('succeeded', 'failed', 'pending', 'not_found',
                                              'error') THEN
        PERFORM fail('FG422', 'invalid_outcome',
                     format('outcome "%s" is not known', coalesce(p_outcome, '')));
    END IF;
    e := recon_exception_lock(p_id);
    a := recon_query_attempt(e);
    v_next := CASE WHEN a.exhausted THEN NULL
                   ELSE greatest(ceil(extract(epoch FROM a.next_query_at - now())), 0)::int END;
    v_verdict := recovery_result(a.merchant_ref, p_outcome, p_amount_vnd, p_provider_txn_id,
                                 p_paid_at, coalesce(p_raw, ''), v_next);
    v_resolved := p_outcome = 'succeeded' AND v_verdict IN ('applied', 'duplicate')
                  AND e.category IN ('status_mismatch', 'missing_at_switch')
                  AND EXISTS (SELECT 1 FROM payments p WHERE p.id = a.payment_id
                                AND p.status IN ('succeeded', 'partially_refunded',
                                                 'refunded'));
    v_note := CASE
        WHEN p_outcome = 'error' THEN
            format('no usable answer from %s: %s', e.provider, coalesce(p_reason, 'unknown'))
        WHEN p_outcome = 'not_found' THEN
            format('%s answered not_found: it has no payment "%s"', e.provider, a.merchant_ref)
        WHEN v_resolved THEN
            format('%s answered %s: %s, the switch now agrees', e.provider, p_outcome, v_verdict)
        ELSE format('%s answered %s: %s, the exception stays open', e.provider, p_outcome,
                    v_verdict) END;
    UPDATE recon_actions SET status = 'answered', decided_at = now()
        WHERE exception_id = p_id AND action = 'query' AND status = 'requested';
    INSERT INTO recon_actions (exception_id, action, status, staff_id, note, data, decided_at)
        VALUES (p_id, 'query', CASE WHEN v_resolved THEN 'done' ELSE 'answered' END, p_staff,
                v_note, jsonb_build_object(
                    'channel', a.channel, 'merchant_ref', a.merchant_ref,
                    'outcome', p_outcome, 'verdict', v_verdict, 'amount_vnd', p_amount_vnd,
                    'provider_txn_id', p_provider_txn_id, 'paid_at', ts_text(p_paid_at),
                    'reason', p_reason, 'answer', left(coalesce(p_raw, ''), 4000)),
                now());
    IF v_resolved THEN
        UPDATE recon_exceptions SET state = 'resolved', updated_at = now() WHERE id = p_id;
    ELSE
        UPDATE recon_exceptions SET updated_at = now() WHERE id = p_id;
    END IF;
    RETURN recon_exception_json(p_id);
END
$$;

REVOKE ALL ON FUNCTION recon_query_attempt(recon_exceptions),
    recon_query_target(bigint, text),
    recon_query_result(bigint, text, text, bigint, text, timestamptz, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recon_query_target(bigint, text),
    recon_query_result(bigint, text, text, bigint, text, timestamptz, text, text)
TO feegate_app;
