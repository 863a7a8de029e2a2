-- recovery: unknown outcomes of checkout attempts.
--
-- A timeout is never a failure: every checkout attempt is queried at the provider on a
-- schedule until its payment is final (the recovery columns of payment_attempts), and what
-- stays unknown past the provider's query window shows up in recovery_exceptions instead of
-- staying pending silently.

SET LOCAL search_path = feegate, pg_temp;

-- Keeps a verified "pending" callback; the attempt's next status query comes within a minute.
-- Returns pending, or not_found when the reference is not ours.
CREATE FUNCTION provider_message_pending(channel text, merchant_ref text, raw text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_verdict text := 'pending';
BEGIN
    UPDATE payment_attempts a SET next_query_at = least(a.next_query_at,
                                                        now() + interval '1 minute')
        WHERE a.merchant_ref = provider_message_pending.merchant_ref
          AND a.channel = provider_message_pending.channel AND NOT a.final;
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM payment_attempts a
                                 WHERE a.merchant_ref = provider_message_pending.merchant_ref
                                   AND a.channel = provider_message_pending.channel) THEN
        v_verdict := 'not_found';
    END IF;
    INSERT INTO provider_messages (channel, merchant_ref, source, raw, verdict)
        VALUES (provider_message_pending.channel, provider_message_pending.merchant_ref,
                'callback', coalesce(raw, ''), v_verdict);
    RETURN v_verdict;
END
$$;

-- Claims up to max attempts whose next query is due, for the gateway to query. The attempt
-- that settled its payment (the payment's merchant_ref, when it is succeeded, refunded or
-- failed) and an attempt booked as an overpayment are marked final on the way instead (the
-- callback already told us). The other attempts of a paid payment are not: the citizen may
-- have paid at two banks, and a success whose callback was lost is only found by asking, and
-- is then booked as an overpayment (overpayments.sql). A claimed attempt is leased for
-- lease_s seconds so that another gateway does not query it at the same time.
--
-- The due attempts are picked from the partial index payment_attempts_due alone, the
-- payment's status is looked up by key for each of them, and both updates address the
-- picked rows by key ("= ANY (ARRAY(...))"), whatever the statistics say. Written as joins
-- between payment_attempts and payments and planned on young statistics (a new database,
-- or tables that grew since their last ANALYZE), they became hash joins that read every
-- payment, on every call, even when no attempt was due: 11 ms a call in the benchmark's
-- first minute, once a second.
CREATE FUNCTION recovery_due(max int, lease_s int)
RETURNS TABLE (merchant_ref text, channel text, payment_id text, amount_vnd bigint,
               created_at_unix bigint, expires_at_unix bigint, provider_txn_id text,
               queries int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    UPDATE payment_attempts a SET final = true
    WHERE a.merchant_ref = ANY (ARRAY(
        SELECT d.merchant_ref FROM payment_attempts d
        WHERE NOT d.final AND d.next_query_at <= now()
          AND ((SELECT p.status IN ('succeeded', 'partially_refunded', 'refunded')
                       AND p.merchant_ref = d.merchant_ref
                FROM payments p WHERE p.id = d.payment_id)
               OR EXISTS (SELECT 1 FROM overpayments o WHERE o.merchant_ref = d.merchant_ref))
        ORDER BY d.next_query_at LIMIT 1000
        FOR UPDATE SKIP LOCKED));
    RETURN QUERY
        UPDATE payment_attempts a
            SET next_query_at = now() + greatest(lease_s, 1) * interval '1 second'
        FROM payments p
        WHERE a.merchant_ref = ANY (ARRAY(
                  SELECT d.merchant_ref FROM payment_attempts d
                  WHERE NOT d.final AND NOT d.exhausted AND d.next_query_at <= now()
                  ORDER BY d.next_query_at LIMIT greatest(recovery_due.max, 0)
                  FOR UPDATE SKIP LOCKED))
          AND p.id = a.payment_id
        RETURNING a.merchant_ref, a.channel, a.payment_id, p.amount_vnd,
                  extract(epoch FROM a.created_at)::bigint,
                  extract(epoch FROM p.expires_at)::bigint, p.provider_txn_id, a.queries;
END
$$;

-- Records one query's answer. outcome: succeeded or failed (applied like a callback, with
-- source 'query'; the attempt is then final), pending, not_found or error (no answer,
-- timeout, refused: the outcome stays unknown). The next query is in next_in_s seconds, or
-- never when next_in_s is NULL (the provider's query window is over: the attempt is
-- exhausted and listed in recovery_exceptions), except an attempt superseded in a payment
-- paid through another one that its provider still does not know (not_found): nobody paid
-- there, and it is final. Returns the verdict of the application, or the outcome when nothing
-- was applied.
CREATE FUNCTION recovery_result(merchant_ref text, outcome text, amount_vnd bigint,
                                provider_txn_id text, paid_at timestamptz, raw text,
                                next_in_s int)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    a payment_attempts;
    v_verdict text := outcome;
    v_unpaid bool;
BEGIN
    IF outcome NOT IN ('succeeded', 'failed', 'pending', 'not_found', 'error') THEN
        PERFORM fail('FG422', 'invalid_outcome', format('outcome "%s" is not known', outcome));
    END IF;
    SELECT * INTO a FROM payment_attempts x WHERE x.merchant_ref = recovery_result.merchant_ref;
    IF NOT FOUND THEN
        PERFORM fail('FG404', 'attempt_not_found',
                     format('no checkout attempt "%s"', recovery_result.merchant_ref));
    END IF;
    IF outcome IN ('succeeded', 'failed') THEN
        v_verdict := apply_provider_result(a.channel, a.merchant_ref, outcome,
                                           recovery_result.amount_vnd,
                                           recovery_result.provider_txn_id,
                                           recovery_result.paid_at, 'query', raw);
    END IF;
    v_unpaid := next_in_s IS NULL AND outcome = 'not_found'
                AND EXISTS (SELECT 1 FROM payments p WHERE p.id = a.payment_id
                              AND p.status IN ('succeeded', 'partially_refunded', 'refunded')
                              AND p.merchant_ref IS DISTINCT FROM a.merchant_ref);
    UPDATE payment_attempts x SET
        queries = x.queries + 1,
        last_query_at = now(),
        last_query_result = left(v_verdict, 40),
        final = x.final OR v_unpaid OR (outcome IN ('succeeded', 'failed')
                                        AND v_verdict IN ('applied', 'duplicate')),
        exhausted = next_in_s IS NULL AND outcome NOT IN ('succeeded', 'failed')
                    AND NOT v_unpaid,
        next_query_at = now() + coalesce(next_in_s, 0) * interval '1 second'
    WHERE x.merchant_ref = a.merchant_ref;
    RETURN v_verdict;
END
$$;

-- What recovery could not settle: attempts whose query window is over while the outcome is
-- unknown, and attempts whose provider keeps answering something we could not apply
-- (amount_mismatch, not_found after the window). For operators and finance staff.
CREATE VIEW recovery_exceptions AS
    SELECT a.merchant_ref, a.channel, a.payment_id, p.status, p.amount_vnd, a.created_at,
           a.queries, a.last_query_at, a.last_query_result
    FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
    WHERE NOT a.final AND (a.exhausted OR a.last_query_result = 'amount_mismatch');
