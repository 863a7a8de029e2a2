-- webhooks: the outbox of portal webhooks (tables outbox and webhook_deliveries, schema.sql).
-- A status change queues an event in the transaction that makes it; the gateway's outbox
-- worker claims due events with a lease, posts them, and records each attempt. Portals can
-- list their events and have them sent again.

SET LOCAL search_path = feegate, pg_temp;

-- An outbox row for the payment's new status. next_attempt_at stays NULL when the client has
-- no webhook URL: the event is kept (listed, replayable) but never claimed.
CREATE FUNCTION queue_webhook(p_payment_id text, p_status text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id text := hex_id('evt_');
    v_type text := 'payment.' || p_status;
BEGIN
    INSERT INTO outbox (event_id, client_id, payment_id, type, body, next_attempt_at)
        SELECT v_event_id, p.client_id, p.id, v_type,
               json_build_object('event_id', v_event_id, 'type', v_type,
                                 'created_at', ts_text(now()),
                                 'payment', payment_json(p.id))::text,
               CASE WHEN c.webhook_url IS NOT NULL THEN now() END
        FROM payments p JOIN clients c ON c.id = p.client_id
        WHERE p.id = p_payment_id;
END
$$;

CREATE FUNCTION outbox_claim(max int, lease_s int)
RETURNS TABLE (id bigint, event_id text, client_id text, url text, secret text, body text,
               attempts int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        WITH due AS (
            SELECT o.id FROM outbox o
            WHERE o.next_attempt_at <= now() AND o.delivered_at IS NULL AND o.dead_at IS NULL
              AND (o.lease_until IS NULL OR o.lease_until <= now())
            ORDER BY o.next_attempt_at
            LIMIT greatest(outbox_claim.max, 0)
            FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox o SET lease_until = now() + greatest(lease_s, 1) * interval '1 second'
        FROM due, clients c
        WHERE o.id = due.id AND c.id = o.client_id AND c.webhook_url IS NOT NULL
        RETURNING o.id, o.event_id, o.client_id, c.webhook_url, c.secret, o.body, o.attempts;
END
$$;

-- Records one delivery attempt. Failure: retry after min(5 s * 2^(attempts-1), 1 h); after
-- the 40th attempt (GW_WEBHOOK_ATTEMPTS_MAX, read as limits_webhook_attempts_max()) the row is
-- dead (dead_at set, no next attempt).
CREATE FUNCTION outbox_result(id bigint, ok bool, http_status int, error text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    v_attempt int;
BEGIN
    UPDATE outbox o SET
        attempts = o.attempts + 1,
        lease_until = NULL,
        delivered_at = CASE WHEN ok THEN now() END,
        dead_at = CASE WHEN NOT ok AND o.attempts + 1 >= limits_webhook_attempts_max() THEN now()
                  END,
        next_attempt_at = CASE WHEN ok OR o.attempts + 1 >= limits_webhook_attempts_max() THEN NULL
                               ELSE now() + least(3600, 5 * power(2, least(o.attempts, 20)))
                                            * interval '1 second' END,
        last_error = CASE WHEN ok THEN NULL ELSE left(error, 1000) END
    WHERE o.id = outbox_result.id AND o.delivered_at IS NULL AND o.dead_at IS NULL
    RETURNING o.attempts INTO v_attempt;
    IF NOT FOUND THEN
        SELECT o.attempts INTO v_attempt FROM outbox o WHERE o.id = outbox_result.id;
        IF NOT FOUND THEN
            PERFORM fail('FG404', 'outbox_not_found',
                         format('outbox row %s does not exist', outbox_result.id));
        END IF;
    END IF;
    INSERT INTO webhook_deliveries (outbox_id, attempt, http_status, error)
        VALUES (outbox_result.id, v_attempt, http_status, left(error, 1000));
END
$$;

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
                               to_ts timestamptz, signature text DEFAULT NULL,
                               sig_expires_unix bigint DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    n int;
BEGIN
    -- The signed request is accepted once (request_once, idempotency.sql).
    PERFORM request_once(client, signature, sig_expires_unix);
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
