-- 022_recovery_by_key: recovery_due reads the due attempts through its index only, whatever
-- the statistics say.
--
-- recovery_due of 012 first marks final the due attempts whose payment is settled, with a
-- join between payment_attempts and payments, then leases the others with a second join.
-- Planned on young statistics (a new database, or tables that grew since their last
-- ANALYZE), the joins became hash joins that read every payment, on every call, even when no
-- attempt was due: 11 ms a call in the benchmark's first minute, once a second. Here the
-- due attempts are picked from the partial index payment_attempts_due alone, the payment's
-- status is looked up by key for each of them, and both updates address the picked rows by
-- key ("= ANY (ARRAY(...))"). Same rows, same order, same results.

SET LOCAL search_path = feegate, pg_temp;
CREATE OR REPLACE FUNCTION recovery_due(max int, lease_s int)
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
          AND (SELECT p.status FROM payments p WHERE p.id = d.payment_id)
              IN ('succeeded', 'partially_refunded', 'refunded', 'failed')
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
