-- 020_claim_by_key: the receipt issuer's claim updates the claimed jobs through their primary
-- key.
--
-- receipt_jobs_claim of 007 joined the claimed ids back to receipt_jobs, and the planner,
-- which sees a small table, chose a hash join over a sequential scan of it. The table is
-- small in rows but not in pages: every job is inserted, leased and deleted within seconds,
-- so between two vacuums each claim read every dead row of the last minutes again (5.8 ms
-- per claim of 50 jobs under the benchmark's load, most of the issuer's database time).
-- Written as "= ANY (ARRAY(...))", the update reads the claimed rows by key, whatever the
-- statistics say.

SET LOCAL search_path = feegate, pg_temp;

CREATE OR REPLACE FUNCTION receipt_jobs_claim(max int, lease_s int)
RETURNS TABLE (receipt_id text, attempts int, view text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = feegate, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        UPDATE receipt_jobs j SET lease_until = now() + greatest(lease_s, 1) * interval '1 second',
                                  attempts = j.attempts + 1
        WHERE j.receipt_id = ANY (ARRAY(
            SELECT d.receipt_id FROM receipt_jobs d
            WHERE d.lease_until IS NULL OR d.lease_until <= now()
            ORDER BY d.created_at
            LIMIT greatest(least(receipt_jobs_claim.max, 1000), 0)
            FOR UPDATE SKIP LOCKED))
        RETURNING j.receipt_id, j.attempts, receipt_view(j.receipt_id);
END
$$;
