-- idempotency: the Idempotency-Key of the portal API (table idempotency, schema.sql).
--
-- A create or a cancel writes its key once, with its response: idem_lock takes a
-- transaction-scoped advisory lock on (client, key) and looks the key up; a concurrent
-- request with the same key waits on that lock, then finds the committed response (or
-- nothing, if the first rolled back, and proceeds). idem_put stores the key with its
-- response in the operation's transaction. Claiming the key first (an INSERT with status 0)
-- and completing it at the end cost two row versions, two index entries and two CHECKs per
-- payment. The outcomes: the same response replayed, idempotency_key_reused for another
-- request, idempotency_key_in_progress for a key whose operation has not answered yet.
--
-- Refunds keep the two-phase claim (their answer comes in a later transaction, from the
-- provider): idem_claim takes the same advisory lock first, so a refund and a create with
-- the same key serialise too, and idem_store completes the claim.

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
    IF NOT idem_key_ok(p_key) THEN
        PERFORM fail('FG400', 'invalid_idempotency_key',
                     format('Idempotency-Key must be 1-%s of [A-Za-z0-9_-]',
                            limits_idem_key_bytes_max()));
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

-- The refunds' claim, on top of idem_lock: the same checks and answers, and a key that is
-- free is claimed with status 0 under the lock, for the refund's later answer (idem_store).
-- Returns NULL when the caller owns the key now (or there is no key); otherwise the stored
-- response.
CREATE FUNCTION idem_claim(p_client text, p_key text, p_sha text,
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

-- Completes a key claimed by idem_claim with its response, in the transaction that has the
-- answer.
CREATE FUNCTION idem_store(p_client text, p_key text, p_status int, p_body text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_key IS NOT NULL THEN
        UPDATE idempotency SET http_status = p_status, body = p_body
        WHERE client_id = p_client AND idem_key = p_key;
    END IF;
END
$$;

-- Remembers a signed request once; FG409 request_replayed if (client, signature) is already
-- there. p_sig NULL: not a signed request (the owner's tools and the SQL tests): nothing to
-- remember. p_expires_unix: when no gateway would accept a copy any more.
CREATE FUNCTION request_once(p_client text, p_sig text, p_expires_unix bigint)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_sig IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO request_signatures (client_id, signature, expires_at)
        VALUES (p_client, p_sig, to_timestamp(p_expires_unix))
        ON CONFLICT (client_id, signature) DO NOTHING;
    IF NOT FOUND THEN
        PERFORM fail('FG409', 'request_replayed',
                     'this signed request was already received: sign a new request (a new '
                     'X-Feegate-Timestamp); to retry an operation, keep its Idempotency-Key');
    END IF;
END
$$;

-- Deletes up to max signatures whose time is over; rows another gateway is deleting are
-- skipped. Returns how many it deleted.
CREATE FUNCTION request_signatures_purge(max int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
DECLARE
    n int;
BEGIN
    DELETE FROM request_signatures s
    WHERE s.ctid = ANY (ARRAY(SELECT x.ctid FROM request_signatures x
                              WHERE x.expires_at < now() ORDER BY x.expires_at
                              LIMIT greatest(request_signatures_purge.max, 0)
                              FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
