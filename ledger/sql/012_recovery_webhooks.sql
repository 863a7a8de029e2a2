-- Recovery of unknown outcomes, and webhook listing and replay.
--
-- A timeout is never a failure (rule 7): every checkout attempt is queried at the provider
-- on a schedule until its payment is final, and what stays unknown past the provider's
-- query window shows up in recovery_exceptions instead of staying pending silently.

SET LOCAL search_path = feegate, pg_temp;

ALTER TABLE payment_attempts
    ADD COLUMN next_query_at timestamptz NOT NULL DEFAULT now() + interval '1 minute',
    ADD COLUMN queries int NOT NULL DEFAULT 0,
    ADD COLUMN last_query_at timestamptz,
    ADD COLUMN last_query_result text,
    ADD COLUMN final bool NOT NULL DEFAULT false,   -- nothing more to learn from the provider
    ADD COLUMN exhausted bool NOT NULL DEFAULT false; -- query window over, outcome unknown
CREATE INDEX payment_attempts_due ON payment_attempts (next_query_at) WHERE NOT final;

-- Claims up to max attempts whose next query is due, for the gateway to query. Attempts of
-- payments that are settled, refunded or failed are marked final on the way instead (the
-- callback already told us). A claimed attempt is leased for lease_s seconds so that another
-- gateway does not query it at the same time.
CREATE FUNCTION recovery_due(max int, lease_s int)
RETURNS TABLE (merchant_ref text, channel text, payment_id text, amount_vnd bigint,
               created_at_unix bigint, expires_at_unix bigint, provider_txn_id text,
               queries int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    WITH done AS (
        SELECT a.merchant_ref FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
        WHERE NOT a.final AND a.next_query_at <= now()
          AND p.status IN ('succeeded', 'partially_refunded', 'refunded', 'failed')
        ORDER BY a.next_query_at LIMIT 1000
        FOR UPDATE OF a SKIP LOCKED
    )
    UPDATE payment_attempts a SET final = true FROM done WHERE a.merchant_ref = done.merchant_ref;
    RETURN QUERY
        WITH due AS (
            SELECT a.merchant_ref FROM payment_attempts a
            WHERE NOT a.final AND NOT a.exhausted AND a.next_query_at <= now()
            ORDER BY a.next_query_at LIMIT greatest(recovery_due.max, 0)
            FOR UPDATE SKIP LOCKED
        )
        UPDATE payment_attempts a
            SET next_query_at = now() + greatest(lease_s, 1) * interval '1 second'
        FROM due, payments p
        WHERE a.merchant_ref = due.merchant_ref AND p.id = a.payment_id
        RETURNING a.merchant_ref, a.channel, a.payment_id, p.amount_vnd,
                  extract(epoch FROM a.created_at)::bigint,
                  extract(epoch FROM p.expires_at)::bigint, p.provider_txn_id, a.queries;
END
$$;

-- Records one query's answer. outcome: succeeded or failed (applied like a callback, with
-- source 'query'; the attempt is then final), pending, not_found or error (no answer,
-- timeout, refused: the outcome stays unknown). The next query is in next_in_s seconds, or
-- never when next_in_s is NULL (the provider's query window is over: the attempt is
-- exhausted and listed in recovery_exceptions). Returns the verdict of the application, or
-- the outcome when nothing was applied.
CREATE FUNCTION recovery_result(merchant_ref text, outcome text, amount_vnd bigint,
                                provider_txn_id text, paid_at timestamptz, raw text,
                                next_in_s int)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    a payment_attempts;
    v_verdict text := outcome;
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
    UPDATE payment_attempts x SET
        queries = x.queries + 1,
        last_query_at = now(),
        last_query_result = left(v_verdict, 40),
        final = x.final OR (outcome IN ('succeeded', 'failed')
                            AND v_verdict IN ('applied', 'duplicate')),
        exhausted = next_in_s IS NULL AND outcome NOT IN ('succeeded', 'failed'),
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

-- The client's webhook events, newest first, with their delivery state.
CREATE FUNCTION webhook_list(client text, since timestamptz, max int) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT json_build_object('events', coalesce(json_agg(e ORDER BY e.created_at DESC), '[]'))::text
    FROM (
        SELECT o.event_id, o.type, o.payment_id, ts_text(o.created_at) AS created_at,
               CASE WHEN o.delivered_at IS NOT NULL THEN 'delivered'
                    WHEN o.dead_at IS NOT NULL THEN 'dead'
                    WHEN o.next_attempt_at IS NULL THEN 'no_webhook_url'
                    ELSE 'pending' END AS state,
               o.attempts, ts_text(o.delivered_at) AS delivered_at, o.last_error
        FROM outbox o
        WHERE o.client_id = webhook_list.client
          AND o.created_at >= coalesce(webhook_list.since, '-infinity')
        ORDER BY o.created_at DESC
        LIMIT least(greatest(coalesce(webhook_list.max, 100), 1), 1000)
    ) e
$$;

-- One event with its body and every delivery attempt; NULL if not the client's.
CREATE FUNCTION webhook_get(client text, event_id text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
    SELECT json_build_object(
        'event_id', o.event_id, 'type', o.type, 'payment_id', o.payment_id,
        'created_at', ts_text(o.created_at), 'attempts', o.attempts,
        'delivered_at', ts_text(o.delivered_at), 'dead_at', ts_text(o.dead_at),
        'body', o.body::json,
        'deliveries', coalesce((
            SELECT json_agg(json_build_object('attempt', d.attempt, 'http_status', d.http_status,
                                              'error', d.error, 'at', ts_text(d.at))
                            ORDER BY d.id)
            FROM webhook_deliveries d WHERE d.outbox_id = o.id), '[]'))::text
    FROM outbox o
    WHERE o.client_id = webhook_get.client AND o.event_id = webhook_get.event_id
$$;

-- Sends events again (same event_id, so portals deduplicate): one event, or every event of
-- the client created in [from_ts, to_ts). Returns how many were scheduled. Events of a
-- client without a webhook URL stay unscheduled.
CREATE FUNCTION webhook_replay(client text, event_id text, from_ts timestamptz,
                               to_ts timestamptz)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    n int;
BEGIN
    IF event_id IS NULL AND (from_ts IS NULL OR to_ts IS NULL OR to_ts <= from_ts) THEN
        PERFORM fail('FG422', 'invalid_range', 'give an event_id, or from and to with from < to');
    END IF;
    UPDATE outbox o SET delivered_at = NULL, dead_at = NULL, lease_until = NULL, attempts = 0,
                        next_attempt_at = now()
    FROM clients c
    WHERE o.client_id = webhook_replay.client AND c.id = o.client_id
      AND c.webhook_url IS NOT NULL
      AND (webhook_replay.event_id IS NULL OR o.event_id = webhook_replay.event_id)
      AND (webhook_replay.event_id IS NOT NULL
           OR (o.created_at >= from_ts AND o.created_at < to_ts));
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 AND event_id IS NOT NULL THEN
        PERFORM fail('FG404', 'not_found', format('no webhook event "%s"', event_id));
    END IF;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION recovery_due(int, int), recovery_result(text, text, bigint, text,
    timestamptz, text, int), webhook_list(text, timestamptz, int), webhook_get(text, text),
    webhook_replay(text, text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recovery_due(int, int), recovery_result(text, text, bigint, text,
    timestamptz, text, int), webhook_list(text, timestamptz, int), webhook_get(text, text),
    webhook_replay(text, text, timestamptz, timestamptz) TO feegate_app;
GRANT SELECT ON recovery_exceptions TO feegate_app;
